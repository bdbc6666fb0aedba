"""GET /api/auth/v1/check (SPEC §5.7, §4 resource scopes), through every front
end in both token modes: every credential kind, with org=, role= and
resource=, the exact 200/400/401/403 answers, and the statement count of each
path from MariaDB's own counters (as bench/ reads them).

Decisions beyond SPEC (doc/decisions.md, "Check and introspection"): the 200
has an empty body; an unknown role=, role= without org=, a malformed org= or
resource= is 400 invalid_request; org= of an organization that does not exist
is 403 (a yes/no endpoint never 404s); refresh tokens are not credentials here
(401)."""

import itertools
import time

import pytest

from conftest import Client, need_private
from harness.stack import unique
from test_foundation import assert_common_headers
from test_hardening import PrivateDB, hard  # noqa: F401 - the fixture is used by name
from test_key_auth import (ORGS, RESOURCE, USERS, World, add_member, admin_headers, assert_problem,
                           basic_value, bearer, exchange, new_key, new_org, new_sa, new_user,
                           personal_key, signin)

CHECK = "/api/auth/v1/check"


def check(http, headers=None, **query):
    return http.get(CHECK, headers=headers or {}, params=query)


def assert_pass(r, subject, ptype, org=None):
    """200, an empty body (no Content-Type), the X-Lanyard-* headers exactly."""
    assert r.status_code == 200, "want 200, got %d: %s" % (r.status_code, r.text[:500])
    assert r.content == b"", r.text[:300]
    assert "Content-Type" not in r.headers, r.headers.get("Content-Type")
    assert r.headers.get("X-Lanyard-Subject") == subject, dict(r.headers)
    assert r.headers.get("X-Lanyard-Principal-Type") == ptype, dict(r.headers)
    assert r.headers.get("X-Lanyard-Org") == org, dict(r.headers)
    assert_common_headers(r, CHECK)


def assert_denied(r):
    body = assert_problem(r, 403, "forbidden", CHECK)
    assert "X-Lanyard-Subject" not in r.headers
    return body


def assert_bad(r):
    assert_problem(r, 400, "invalid_request", CHECK)


def assert_refused(r, www_start='Bearer realm="lanyard"', code="invalid_token"):
    assert_problem(r, 401, code, CHECK)
    www = r.headers.get("WWW-Authenticate", "")
    assert www.startswith(www_start), www
    if code == "invalid_token":
        assert 'error="invalid_token"' in www and "error_description=" in www, www
    assert "X-Lanyard-Subject" not in r.headers


class CheckWorld(World):
    """World (an org with its owner and a member service account with a key)
    plus: a member and an admin user, an admin service account, a scoped key,
    and another organization."""

    def __init__(self, stack, http):
        super().__init__(stack, http)
        self.member = new_user(http, self.admin_h, "member")
        add_member(http, self.owner.h, self.org, self.member, "member")
        self.org_admin = new_user(http, self.admin_h, "orgadmin")
        add_member(http, self.owner.h, self.org, self.org_admin, "admin")
        self.admin_sa, self.admin_key = self.sa_with_key(role="admin")
        self.scoped = new_key(http, self.owner.h, self.org, self.sa, resource=RESOURCE)
        self.other = new_org(http, self.member.h, "other")  # member owns another org


@pytest.fixture
def cw(stack, http):
    return CheckWorld(stack, http)


def sa_token(http, key):
    r = exchange(http, key, "basic")
    assert r.status_code == 200, r.text[:300]
    return r.json()["access_token"]


# --- users' access tokens ---------------------------------------------------------------


def test_user_token_without_org(http, cw):
    assert_pass(check(http, cw.member.h), cw.member.id, "user")


def test_user_token_org_and_role(http, cw):
    h = cw.member.h
    assert_pass(check(http, h, org=cw.org), cw.member.id, "user", cw.org)
    assert_pass(check(http, h, org=cw.org, role="member"), cw.member.id, "user", cw.org)
    assert_denied(check(http, h, org=cw.org, role="admin"))
    assert_denied(check(http, h, org=cw.org, role="owner"))
    assert_pass(check(http, h, org=cw.other, role="owner"), cw.member.id, "user", cw.other)
    a = cw.org_admin.h
    assert_pass(check(http, a, org=cw.org, role="admin"), cw.org_admin.id, "user", cw.org)
    assert_denied(check(http, a, org=cw.org, role="owner"))
    assert_denied(check(http, a, org=cw.other))  # not a member there
    assert_pass(check(http, cw.owner.h, org=cw.org, role="owner"), cw.owner.id, "user", cw.org)
    # a yes/no endpoint: an organization that does not exist is 403, not 404
    assert_denied(check(http, h, org=unique("nosuch")))


def test_platform_admin_passes_for_any_existing_org(http, stack, cw):
    admin = signin(http, stack.admin_email, stack.admin_password)
    sub = http.get("/api/org/v1/me", headers=bearer(admin["access_token"])).json()["user"]["id"]
    h = bearer(admin["access_token"])
    for role in ("member", "admin", "owner"):
        assert_pass(check(http, h, org=cw.org, role=role), sub, "user", cw.org)
    assert_pass(check(http, h, org=cw.other), sub, "user", cw.other)
    assert_denied(check(http, h, org=unique("nosuch")))
    assert_denied(check(http, h, org=unique("nosuch"), role="member"))


def test_query_errors(http, cw):
    h = cw.member.h
    assert_bad(check(http, h, role="member"))  # role needs org
    assert_bad(check(http, h, org=cw.org, role="superuser"))
    assert_bad(check(http, h, org=cw.org, role=""))
    assert_bad(check(http, h, org="Not_A_Name"))
    assert_bad(check(http, h, org=""))
    assert_bad(check(http, h, resource=""))
    assert_bad(check(http, h, resource="a b"))
    assert_bad(check(http, h, resource="x" * 256))
    assert_bad(http.get(CHECK + "?org=%s&org=%s" % (cw.org, cw.org), headers=h))
    assert_bad(http.get(CHECK + "?org=%zz", headers=h))
    # 400 comes before the credential is looked at
    assert_bad(check(http, None, role="member"))


def test_disabled_user(http, stack, cw):
    """JWT: a token is not recalled until exp (SPEC §4), but org= reads the
    user and refuses one disabled since. Opaque: refused at once."""
    r = http.request("PATCH", USERS + "/" + cw.member.id, json={"disabled": True},
                     headers=cw.admin_h)
    assert r.status_code == 200, r.text[:300]
    if stack.mode == "jwt":
        assert_pass(check(http, cw.member.h), cw.member.id, "user")
    else:
        assert_refused(check(http, cw.member.h))
    assert_refused(check(http, cw.member.h, org=cw.org))


# --- service accounts: exchanged tokens, API keys (Bearer and Basic) -----------------------

def sa_credentials(http, key):
    """The three ways a service account calls: its token (JWT or opaque), its key
    as Bearer and as Basic."""
    return [("token", bearer(sa_token(http, key))), ("bearer", key.bearer),
            ("basic", key.basic)]


def test_service_account_credentials(http, cw):
    sa = cw.sa["id"]
    for how, h in sa_credentials(http, cw.key):
        assert_pass(check(http, h), sa, "service_account", cw.org)
        assert_pass(check(http, h, org=cw.org), sa, "service_account", cw.org)
        assert_pass(check(http, h, org=cw.org, role="member"), sa, "service_account", cw.org)
        assert_denied(check(http, h, org=cw.org, role="admin"))
        assert_denied(check(http, h, org=cw.other))
        assert_denied(check(http, h, org=unique("nosuch")))
        assert_pass(check(http, h, resource="anything/at/all"), sa, "service_account", cw.org)
    asa = cw.admin_sa["id"]
    for how, h in sa_credentials(http, cw.admin_key):
        assert_pass(check(http, h, org=cw.org, role="admin"), asa, "service_account", cw.org)
        assert_denied(check(http, h, org=cw.org, role="owner"))


def test_service_account_deleted(http, stack, cw):
    """A deleted account: its keys and opaque tokens at once; its JWT passes
    until exp without org= (SPEC §4), and org= reads the account and refuses."""
    sa, key = cw.sa_with_key()
    creds = sa_credentials(http, key)
    r = http.delete("%s/%s/service-accounts/%s" % (ORGS, cw.org, sa["name"]), headers=cw.owner.h)
    assert r.status_code == 204, r.text[:300]
    for how, h in creds:
        if how == "token" and stack.mode == "jwt":
            assert_pass(check(http, h), sa["id"], "service_account", cw.org)
            assert_refused(check(http, h, org=cw.org))
        elif how == "basic":
            assert_refused(check(http, h), 'Basic realm="lanyard"', "unauthenticated")
        else:
            assert_refused(check(http, h))


# --- personal keys ----------------------------------------------------------------------

def test_personal_key(http, cw):
    """SPEC §4: a personal key acts in its organization only, with the weaker of
    its role and its user's: org= must be the key's org even when the user is a
    member (here: owner) of another."""
    u = cw.org_admin
    member_key = personal_key(http, u, cw.org, role="member")
    admin_key = personal_key(http, u, cw.org, role="admin")
    for h in (member_key.bearer, member_key.basic):
        assert_pass(check(http, h), u.id, "user", cw.org)
        assert_pass(check(http, h, org=cw.org), u.id, "user", cw.org)
        assert_denied(check(http, h, org=cw.org, role="admin"))
    for h in (admin_key.bearer, admin_key.basic):
        assert_pass(check(http, h, org=cw.org, role="admin"), u.id, "user", cw.org)
        assert_denied(check(http, h, org=cw.org, role="owner"))
    # the member's key in the org, and its other org where the user is owner
    mk = personal_key(http, cw.member, cw.org, role="member")
    assert_pass(check(http, mk.bearer, org=cw.org), cw.member.id, "user", cw.org)
    assert_denied(check(http, mk.bearer, org=cw.other))  # owner there, but not by this key
    assert_denied(check(http, mk.bearer, org=cw.other, role="member"))
    # the effective role is the weaker one: the admin key's user demoted to member
    add_member(http, cw.owner.h, cw.org, u, "member")
    assert_denied(check(http, admin_key.bearer, org=cw.org, role="admin"))
    assert_pass(check(http, admin_key.bearer, org=cw.org, role="member"), u.id, "user", cw.org)
    assert_pass(check(http, cw.member.h, org=cw.other, role="owner"), cw.member.id, "user",
                cw.other)


# --- resource scopes (SPEC §4) ------------------------------------------------------------

def test_resource_scoped_key_and_its_token(http, cw):
    sa = cw.sa["id"]
    for how, h in sa_credentials(http, cw.scoped):
        assert_denied(check(http, h))  # names no resource
        assert_pass(check(http, h, resource=RESOURCE), sa, "service_account", cw.org)
        assert_pass(check(http, h, resource=RESOURCE + "/sub/path"), sa, "service_account",
                    cw.org)
        assert_denied(check(http, h, resource=RESOURCE + "x"))
        assert_denied(check(http, h, resource=RESOURCE.split("/")[0]))
        assert_denied(check(http, h, resource="other/thing"))
        assert_pass(check(http, h, resource=RESOURCE, org=cw.org), sa, "service_account", cw.org)
        assert_denied(check(http, h, resource=RESOURCE, org=cw.other))
    # unscoped credentials pass any resource, and none
    assert_pass(check(http, cw.member.h, resource=RESOURCE), cw.member.id, "user")
    assert_pass(check(http, cw.member.h, resource="x"), cw.member.id, "user")


# --- refused credentials -----------------------------------------------------------------

def test_refused_credentials(http, cw):
    assert_refused(check(http), code="unauthenticated")
    assert_refused(check(http, {"Authorization": "Digest abc"}), code="unauthenticated")
    assert_refused(check(http, bearer(cw.member.tokens["refresh_token"])))  # not a credential here
    assert_refused(check(http, bearer("garbage")))
    assert_refused(check(http, bearer("a.b.c")))
    assert_refused(check(http, bearer(cw.key.token[:-1] + ("y" if cw.key.token.endswith("x") else "x"))))  # checksum
    assert_refused(check(http, bearer("lya_" + "A" * 49)))
    assert_refused(check(http, {"Authorization": basic_value(cw.key.id, "x" * 49)}),
                   'Basic realm="lanyard"', "unauthenticated")
    assert_refused(check(http, bearer(cw.member.tokens["refresh_token"]), org=cw.org))


# --- the statement count of each path ------------------------------------------------------

N = 20


_COUNT_STACKS = itertools.count()


@pytest.fixture
def count_stack(stack, hard):  # noqa: F811 - the fixture imported above
    """This front end and mode on a private database, one worker where the
    front end lets the test choose (lighttpd), so the server runs nothing
    but what the test asks."""
    need_private(stack)
    db = PrivateDB(stack.env).create()
    try:
        # A stack of its own for each test: the database is dropped at the test's end.
        yield hard("count%d" % next(_COUNT_STACKS), stack.frontend, stack.mode, procs=1,
                   db_name=db.name, admin=(db.admin_email, db.admin_password))
    finally:
        db.drop()


COUNTERS = ("Com_stmt_execute", "Com_insert", "Com_update", "Com_delete", "Com_replace")


def counters(stack):
    rows = stack.mariadb.sql("SHOW GLOBAL STATUS WHERE Variable_name IN (%s)"
                             % ", ".join("'%s'" % c for c in COUNTERS))
    return {k: int(v) for k, v in rows}


def per_request(stack, http, headers, query, want, expect_status=200, tries=5, call=check):
    """Com_stmt_execute's delta over N calls (checks unless call says), divided by N, and the writes
    (Com_insert/update/delete/replace, which MariaDB also counts for prepared
    statements) in the same span: the quietest of a few tries (other stacks'
    idle workers on the session's server only ever add statements, so a try
    that shows exactly `want` and no write is the quietest there can be)."""
    best = None
    for _ in range(tries):
        c0 = counters(stack)
        for _ in range(N):
            r = call(http, headers, **query)
            assert r.status_code == expect_status, r.text[:300]
        c1 = counters(stack)
        d = {k: c1[k] - c0[k] for k in COUNTERS}
        n, writes = d["Com_stmt_execute"] / N, sum(d[k] for k in COUNTERS[1:])
        if best is None or (n, writes) < best:
            best = (n, writes)
        if best == (want, 0):
            break
    return best


def owner_org_key(http, s):
    """On count stack s: the admin's headers, a user owning a new
    organization, the organization, a service account in it and its key."""
    admin_h = admin_headers(http, s)
    owner = new_user(http, admin_h, "owner")
    org = new_org(http, owner.h)
    sa = new_sa(http, owner.h, org)
    return admin_h, owner, org, sa, new_key(http, owner.h, org, sa)


def test_statement_count_of_each_path(stack, count_stack):
    s = count_stack
    http = Client(s.url)
    admin_h, owner, org, sa, key = owner_org_key(http, s)
    token = sa_token(http, key)
    lookup = 0 if s.mode == "jwt" else 1  # an opaque token's one lookup
    paths = [
        ("user token", owner.h, {}, lookup),
        ("user token org=", owner.h, {"org": org}, lookup + 1),
        ("user token org= role=", owner.h, {"org": org, "role": "owner"}, lookup + 1),
        ("user token org= of another", owner.h, {"org": unique("nosuch")}, lookup + 1, 403),
        ("sa token", bearer(token), {}, lookup),
        # JWT: the account's role (one statement); opaque: the lookup has it
        ("sa token org= role=", bearer(token), {"org": org, "role": "member"}, 1),
        ("api key bearer", key.bearer, {}, 1),
        ("api key basic", key.basic, {}, 1),
        # a key's lookup has its organization and role: org= costs nothing more
        ("api key org= role=", key.bearer, {"org": org, "role": "member"}, 1),
        ("api key resource=", key.bearer, {"resource": RESOURCE}, 1),
    ]
    # Each path once first, then one pause: an idle tick writes a key's noted use
    # (SPEC §5.11) before any count starts.
    for p in paths:
        assert check(http, p[1], **p[2]).status_code == (p[4] if len(p) > 4 else 200)
    time.sleep(1.2)
    got = {}
    for p in paths:
        name, h, q, want = p[:4]
        status = p[4] if len(p) > 4 else 200
        got[name] = (per_request(s, http, h, q, want, status), want)
    print("statements per check on %s: %s" % (s.id, {k: v[0][0] for k, v in got.items()}))
    assert all(v[0] == w for v, w in got.values()), got
    assert all(v[1] == 0 for v, _ in got.values()), "SPEC §5.7: no write on the check: %s" % got


def me(http, headers=None):
    return http.get("/api/org/v1/me", headers=headers or {})


def test_me_statement_count_of_each_credential(stack, count_stack):
    """SPEC §5.8: /me costs at most two indexed queries. An opaque token's or
    an API key's lookup brings the identity too, so those cost one (the
    credential's), and a JWT one (the identity's); the answer is the same
    as the two-statement path gives (the ttl-0 stack has no cache to answer
    from, so each call runs its statements)."""
    s = count_stack
    http = Client(s.url)
    admin_h, owner, org, sa, key = owner_org_key(http, s)
    others = [new_org(http, owner.h, "other") for _ in range(3)]
    token = sa_token(http, key)
    mine = personal_key(http, owner, org, role="member")
    paths = [
        ("user token", owner.h, 1),
        ("sa token", bearer(token), 1),
        ("api key bearer", key.bearer, 1),
        ("api key basic", key.basic, 1),
        ("personal key", mine.bearer, 1),
    ]
    answers = {}
    for name, h, _ in paths:
        r = me(http, h)
        assert r.status_code == 200, (name, r.text[:300])
        answers[name] = r.json()
    # What each shows, against what the store holds (the one-statement path must not differ).
    u = answers["user token"]
    assert u["type"] == "user" and u["user"]["id"] == owner.id, u
    # by name, which the worker sorts (the statement has no ORDER BY): four random names
    assert [o["name"] for o in u["organizations"]] == sorted([org] + others), u
    assert all(o["role"] == "owner" for o in u["organizations"]), u
    assert u["credential"]["format"] == s.mode, u
    for name in ("sa token", "api key bearer", "api key basic"):
        a = answers[name]
        assert a["type"] == "service_account" and a["service_account"]["id"] == sa["id"], (name, a)
        assert a["service_account"]["organization"] == org, (name, a)
        assert a["service_account"]["name"] == sa["name"], (name, a)
    p = answers["personal key"]
    assert p["type"] == "user" and p["user"]["id"] == owner.id, p
    # only the key's organization, with the key's role (weaker than the owner's own)
    assert p["organizations"] == [dict(o, role="member") for o in u["organizations"]
                                  if o["name"] == org], (p, u)
    assert p["user"]["platform_admin"] is False, p
    assert {k: p["user"][k] for k in ("email", "display_name", "created_at")} == \
        {k: u["user"][k] for k in ("email", "display_name", "created_at")}, (p, u)
    time.sleep(1.2)  # an idle tick writes the keys' noted uses before any count starts
    got = {}
    for name, h, want in paths:
        got[name] = (per_request(s, http, h, {}, want, call=me), want)
    print("statements per /me on %s: %s" % (s.id, {k: v[0][0] for k, v in got.items()}))
    assert all(v[0] == w for v, w in got.values()), got
    assert all(v[1] == 0 for v, _ in got.values()), "no write on /me: %s" % got


def me_account_role(http, headers, sa):
    """The role /me shows for service account sa, asked with its key."""
    r = me(http, headers)
    assert r.status_code == 200 and r.json()["type"] == "service_account", r.text[:300]
    assert r.json()["service_account"]["id"] == sa["id"], r.text[:300]
    return r.json()["service_account"]["role"]


def test_a_seen_credential_is_checked_as_it_stands_now(stack, count_stack):
    """A worker looks a key or a user's opaque token it has seen up with only
    the tables it needs (doc/decisions.md, "A credential seen before is
    looked up with only the tables it needs"). With one worker, every check
    after a credential's first takes that path: it costs one statement
    still, and still sees the owner as it is now (a role, a user's state, a
    deleted account, a sign-out), for both kinds of key, and so does /me with
    a key."""
    s = count_stack
    http = Client(s.url)
    admin_h, owner, org, sa, key = owner_org_key(http, s)
    user = new_user(http, admin_h, "member")
    add_member(http, owner.h, org, user, "admin")
    mine = personal_key(http, user, org, role="admin")
    for _ in range(3):  # the first of each credential is the full lookup, the rest the hinted
        for h in (key.bearer, key.basic):
            assert_pass(check(http, h, org=org, role="member"), sa["id"], "service_account", org)
            assert_denied(check(http, h, org=org, role="admin"))
            # without org= the organization's name comes from the key's (hinted) lookup
            assert_pass(check(http, h), sa["id"], "service_account", org)
        for h in (mine.bearer, mine.basic):
            assert_pass(check(http, h, org=org, role="admin"), user.id, "user", org)
            assert_denied(check(http, h, org=org, role="owner"))
            assert_pass(check(http, h), user.id, "user", org)
        assert_pass(check(http, user.h, org=org, role="admin"), user.id, "user", org)
        for h in (user.h, mine.bearer):
            r = me(http, h)
            assert r.status_code == 200 and r.json()["user"]["id"] == user.id, r.text[:300]
            assert [(o["name"], o["role"]) for o in r.json()["organizations"]] == [(org, "admin")]
        assert me_account_role(http, key.bearer, sa) == "member"
    creds = [(key.bearer, 1), (mine.bearer, 1), (user.h, 1 if s.mode == "opaque" else 0)]
    for h, want in creds:
        assert per_request(s, http, h, {}, want)[0] == want
    for h in (key.bearer, mine.bearer):  # /me with a key: its lookup brings the identity
        assert per_request(s, http, h, {}, 1, call=me)[0] == 1
    # the user demoted: the weaker role at once, for the key and (both modes read it) org=
    add_member(http, owner.h, org, user, "member")
    assert_denied(check(http, mine.bearer, org=org, role="admin"))
    assert_pass(check(http, mine.bearer, org=org, role="member"), user.id, "user", org)
    assert_denied(check(http, user.h, org=org, role="admin"))
    r = me(http, mine.bearer)
    assert [(o["name"], o["role"]) for o in r.json()["organizations"]] == [(org, "member")]
    # the account made admin: at once
    r = http.request("PATCH", "%s/%s/service-accounts/%s" % (ORGS, org, sa["name"]),
                     json={"role": "admin"}, headers=owner.h)
    assert r.status_code == 200, r.text[:300]
    assert_pass(check(http, key.bearer, org=org, role="admin"), sa["id"], "service_account", org)
    assert me_account_role(http, key.bearer, sa) == "admin"
    # the user disabled, the account deleted: refused at once
    r = http.request("PATCH", USERS + "/" + user.id, json={"disabled": True}, headers=admin_h)
    assert r.status_code == 200, r.text[:300]
    assert_refused(check(http, mine.bearer))
    if s.mode == "opaque":
        assert_refused(check(http, user.h))
    r = http.delete("%s/%s/service-accounts/%s" % (ORGS, org, sa["name"]), headers=owner.h)
    assert r.status_code == 204, r.text[:300]
    assert_refused(check(http, key.bearer))
    assert_refused(check(http, key.basic), 'Basic realm="lanyard"', "unauthenticated")
    for h in (key.bearer, mine.bearer):
        r = me(http, h)
        assert r.status_code == 401, r.text[:300]
    # a seen user token, signed out: refused at once (opaque; a JWT lives to its exp, SPEC §4)
    if s.mode == "opaque":
        assert_pass(check(http, owner.h), owner.id, "user")
        assert_pass(check(http, owner.h), owner.id, "user")
        r = http.post("/api/auth/v1/signout", headers=owner.h)
        assert r.status_code == 204, r.text[:300]
        assert_refused(check(http, owner.h))
