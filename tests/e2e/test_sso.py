"""Single sign-on per organization (SPEC §5.15, doc/sso.md) against a real
OpenID Connect provider started by the harness: Glewlwyd (harness/glewlwyd.py),
driven without a browser (its sign-in API, then the authorization redirect
with its session cookie). Every refusal is checked to create nothing: no
user, no membership, no session, and one signin.failed event.

The provider is one per session; each test makes its own organization with
a domain of its own, and its own provider users."""

import queue
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import Client
from harness.stack import unique
from test_key_auth import log_files
from test_login import USER_CODE, Cli
from test_metrics import worker_log
from test_orgs import ME, ORGS, admin, assert_problem, world  # noqa: F401

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

SSO_KEYS = {"issuer", "client_id", "email_domains", "default_role", "redirect_uri", "created_at",
            "updated_at"}
DISCOVER = "/api/auth/v1/sso/discover"
CALLBACK = "/api/auth/v1/sso/callback"
TOKEN = "/api/auth/v1/token"
PASSWORD = "the provider's password"


def sso_path(org):
    return "%s/%s/sso" % (ORGS, org)


def start_path(org):
    return "/api/auth/v1/sso/%s/start" % org


def fragment_error(r):
    """The error code of a refused callback: 302 to /console/#sso_error=CODE."""
    assert r.status_code == 302, (r.status_code, r.text[:300])
    loc = r.headers["Location"]
    path, _, frag = loc.partition("#")
    assert path.endswith("/console/"), loc
    assert frag.startswith("sso_error="), loc
    return frag[len("sso_error="):]


def user_rows(stack, email):
    return stack.mariadb.sql("SELECT id FROM lanyard.users WHERE email = '%s'" % email)


def failed_events(stack, org):
    return stack.mariadb.sql(
        "SELECT COUNT(*) FROM lanyard.audit_events WHERE org_name = '%s'"
        " AND action = 'signin.failed' AND outcome = 'failure'" % org)[0][0]


# --- without a provider: who may configure, and what is refused before any call ------------

def test_only_owners_and_platform_admins_configure(stack, world):  # noqa: F811
    body = {"issuer": "http://127.0.0.1:9/x", "client_id": "c", "client_secret": "s",
            "email_domains": [unique("d") + ".example"]}
    assert_problem(world.member.put(sso_path(world.org), body), 403, "forbidden")
    assert_problem(world.org_admin.put(sso_path(world.org), body), 403, "forbidden")
    assert_problem(world.outsider.put(sso_path(world.org), body), 404, "not_found")
    assert_problem(world.org_admin.delete(sso_path(world.org)), 403, "forbidden")
    # an admin may look: there is nothing yet
    assert_problem(world.org_admin.get(sso_path(world.org)), 404, "not_found")
    assert_problem(world.member.get(sso_path(world.org)), 403, "forbidden")
    # the owner and the platform administrator reach the provider check (unreachable here)
    for who in (world.owner, world.admin):
        r = who.put(sso_path(world.org), body)
        assert_problem(r, 400, "validation_failed")
        assert "cannot be reached" in r.json()["detail"], r.text
    assert_problem(world.owner.delete(sso_path(world.org)), 404, "not_found")


@pytest.mark.parametrize("change, field", [
    ({"issuer": "ftp://127.0.0.1/x"}, "issuer"),
    ({"issuer": "http://idp.example.com/"}, "issuer"),      # http only on loopback
    ({"issuer": "https://idp.example.com/?a=b"}, "issuer"),
    ({"issuer": 7}, "issuer"),
    ({"client_id": ""}, "client_id"),
    ({"client_secret": ""}, "client_secret"),
    ({"email_domains": []}, "email_domains"),
    ({"email_domains": ["d%d.example" % i for i in range(21)]}, "email_domains"),
    ({"email_domains": ["not a domain"]}, "email_domains"),
    ({"email_domains": ["localhost"]}, "email_domains"),
    ({"email_domains": "a.example"}, "email_domains"),
    ({"email_domains": [7]}, "email_domains"),
    ({"default_role": "owner"}, "default_role"),
    ({"extra": 1}, ""),
])
def test_put_validation(stack, world, change, field):  # noqa: F811
    body = {"issuer": "https://idp.example.com", "client_id": "c", "client_secret": "s",
            "email_domains": ["a.example"]}
    body.update(change)
    r = world.owner.put(sso_path(world.org), body)
    assert_problem(r, 400, "validation_failed")
    assert field in [e["field"] for e in r.json()["errors"]], r.text


def test_discover_start_and_callback_without_configuration(stack):
    http = Client(stack.url)
    assert_problem(http.get(DISCOVER, params={"email": "a@" + unique("none") + ".example"}), 404,
                   "not_found")
    assert_problem(http.get(DISCOVER, params={"email": "not-an-email"}), 400, "invalid_request")
    assert_problem(http.get(DISCOVER), 400, "invalid_request")
    assert_problem(http.get(start_path(unique("none"))), 404, "not_found")
    assert_problem(http.get(start_path("Not_A_Name")), 404, "not_found")
    assert_problem(http.get(start_path(unique("none")), params={"return_to": "https://evil.example/"}),
                   400, "invalid_request")
    # a callback nobody started: refused in the browser's form
    assert fragment_error(http.get(CALLBACK)) == "invalid_state"
    assert fragment_error(http.get(CALLBACK, params={"state": "x" * 43, "code": "c"})) == \
        "invalid_state"


def test_device_org_without_sso_leads_to_the_plain_approval_page(stack):
    for org in (unique("none"), "Not_A_Name"):
        r = Client(stack.url).post("/api/auth/v1/device", data={"org": org})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["verification_uri_complete"] == "%s/device?user_code=%s" % (
            stack.url, body["user_code"])


# --- with the provider ------------------------------------------------------------------------

class Browser:
    """A browser's cookie jar against Lanyard, and the provider's sign-in for it."""

    def __init__(self, stack, idp):
        self.stack = stack
        self.idp = idp
        self.http = Client(stack.url)

    def start(self, org, return_to=None):
        params = {"return_to": return_to} if return_to else None
        r = self.http.get(start_path(org), params=params)
        assert r.status_code == 302, r.text
        return r

    def at_provider(self, auth_url, username):
        """The provider's answer: the Location back to Lanyard's callback."""
        return self.idp.authorize(auth_url, username, PASSWORD)

    def callback(self, location):
        u = urllib.parse.urlsplit(location)
        assert u.path == CALLBACK, location
        return self.http.get(CALLBACK + "?" + u.query)

    def signin(self, org, username, return_to=None):
        r = self.start(org, return_to)
        return self.callback(self.at_provider(r.headers["Location"], username))


def provider_trouble(stack, idp):
    """For a failed step's message, as text (pytest shortens a long repr):
    what reached the provider's proxy last (arrived: time, client port,
    method, path) and what it answered (method, path, status), and the
    workers' last `sso:` log lines, which hold libcurl's own words for a
    failed fetch (the client is told only "the provider cannot be reached")
    and the local port of a failed connection, to look up in arrived."""
    lines = [ln for ln in worker_log(stack).splitlines() if " sso: " in ln]
    return "\n".join(["now %.3f" % time.time()]
                     + ["arrived %r" % (a,) for a in idp.proxy.arrived[-8:]]
                     + ["answered %r" % (a,) for a in idp.proxy.requests[-4:]]
                     + ["odd %r" % (a,) for a in idp.proxy.odd[-4:]]
                     + ["worker " + ln for ln in lines[-4:]])


@pytest.fixture
def sso_org(stack, world, idp):  # noqa: F811
    """world's organization with the provider configured, a domain of its own."""
    client_id = unique("lanyard")
    secret = unique("secret")
    idp.add_client(client_id, secret, stack.url + CALLBACK)
    domain = unique("corp") + ".example"
    r = world.owner.put(sso_path(world.org), {
        "issuer": idp.issuer, "client_id": client_id, "client_secret": secret,
        "email_domains": [domain.upper(), domain], "default_role": "admin"})
    assert r.status_code == 200, "%s\n%s" % (r.text, provider_trouble(stack, idp))
    world.domain = domain
    world.client_id = client_id
    world.client_secret = secret
    world.sso = r.json()
    return world


def provider_user(idp, domain, verified=True, prefix="person"):
    username = unique(prefix)
    email = "%s@%s" % (username, domain)
    idp.add_user(username, PASSWORD, email, email_verified=verified)
    return username, email


def test_configuration_object_and_no_secret_anywhere(stack, sso_org, idp):
    s = sso_org.sso
    assert set(s) == SSO_KEYS, s
    assert s["issuer"] == idp.issuer and s["client_id"] == sso_org.client_id
    assert s["email_domains"] == [sso_org.domain]          # lower-cased, one claim
    assert s["default_role"] == "admin"
    assert s["redirect_uri"] == stack.url + CALLBACK
    got = sso_org.org_admin.get(sso_path(sso_org.org))
    assert got.status_code == 200 and got.json() == s, got.text
    assert sso_org.client_secret not in got.text
    rows = stack.mariadb.sql("SELECT client_secret_sealed FROM lanyard.org_sso s JOIN"
                             " lanyard.organizations o ON o.id = s.org_id WHERE o.name = '%s'"
                             % sso_org.org)
    assert rows and rows[0][0].startswith("v1.") and sso_org.client_secret not in rows[0][0]
    r = Client(stack.url).get(DISCOVER, params={"email": "Someone@" + sso_org.domain.upper()})
    assert r.status_code == 200, r.text
    assert r.json() == {"org": sso_org.org, "start_url": stack.url + start_path(sso_org.org)}


def test_domain_claimed_by_another_org_is_409(stack, sso_org, idp):
    r = sso_org.outsider.put(sso_path(sso_org.other), {
        "issuer": idp.issuer, "client_id": sso_org.client_id, "client_secret": "x",
        "email_domains": [sso_org.domain]})
    assert_problem(r, 409, "conflict")


def test_issuer_mismatch_refused(stack, world, idp):  # noqa: F811
    r = world.owner.put(sso_path(world.org), {
        "issuer": idp.issuer + "/", "client_id": "c", "client_secret": "s",
        "email_domains": [unique("d") + ".example"]})
    # the discovery document names the issuer without the slash: not the one given
    assert_problem(r, 400, "validation_failed")


@pytest.mark.parametrize("mode, detail", [
    ("issuer", "issuer"),              # discovery names another issuer
    ("redirect", "answered with an error"),  # a 302 elsewhere is not followed
    ("huge", "too large"),             # past the answer size cap
])
def test_provider_documents_refused(stack, world, idp, mode, detail):  # noqa: F811
    seen = len(idp.proxy.requests)
    try:
        idp.proxy.tamper = mode
        r = world.owner.put(sso_path(world.org), {
            "issuer": idp.issuer, "client_id": "c", "client_secret": "s",
            "email_domains": [unique("d") + ".example"]})
    finally:
        idp.proxy.tamper = None
    assert_problem(r, 400, "validation_failed")
    assert detail in r.json()["detail"], r.text
    assert_problem(world.owner.get(sso_path(world.org)), 404, "not_found")
    if mode == "redirect":
        # only the discovery document was asked for, through the proxy; the redirect's
        # target (Glewlwyd itself, another port) was never fetched: nothing else came
        asked = [p for (_m, p, _s) in idp.proxy.requests[seen:]]
        assert asked == ["/api/oidc/.well-known/openid-configuration"], asked


def test_first_signin_creates_user_and_membership_then_reuses_them(stack, sso_org, idp):
    username, email = provider_user(idp, sso_org.domain)
    b = Browser(stack, idp)
    r = b.start(sso_org.org)
    loc = urllib.parse.urlsplit(r.headers["Location"])
    q = urllib.parse.parse_qs(loc.query)
    assert q["response_type"] == ["code"] and q["client_id"] == [sso_org.client_id]
    assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    assert q["redirect_uri"] == [stack.url + CALLBACK]
    assert "openid" in q["scope"][0].split() and "email" in q["scope"][0].split()
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("lanyard_sso=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    done = b.callback(b.at_provider(r.headers["Location"], username))
    assert done.status_code == 302, done.text
    assert done.headers["Location"] == stack.url + "/console/"
    set_cookie = done.headers["Set-Cookie"]
    assert "lanyard_refresh=lyr_" in set_cookie and "HttpOnly" in set_cookie
    # the console's start: a token from the cookie, then who am I
    t = b.http.post(TOKEN, json={"grant_type": "refresh_token"})
    assert t.status_code == 200, t.text
    me = Client(stack.url).get(ME, headers={"Authorization": "Bearer " + t.json()["access_token"]})
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["user"]["email"] == email
    assert body["organizations"] == [{"name": sso_org.org, "display_name": "World Inc.",
                                      "role": "admin"}]
    uid = body["user"]["id"]
    # a user made by SSO has no password to sign in with
    r = Client(stack.url).post("/api/auth/v1/signin", json={"email": email, "password": ""})
    assert r.status_code == 401
    # second sign-in: the same user, still one membership
    again = Browser(stack, idp).signin(sso_org.org, username)
    assert again.status_code == 302 and "#" not in again.headers["Location"], again.headers
    assert user_rows(stack, email) == [[uid]]
    n = stack.mariadb.sql("SELECT COUNT(*) FROM lanyard.memberships WHERE user_id = '%s'" % uid)
    assert n == [["1"]]
    events = sso_org.owner.get("%s/%s/audit-events" % (ORGS, sso_org.org)).json()["items"]
    actions = [e["action"] for e in events]
    for a in ("sso.updated", "user.created", "member.added", "signin.succeeded"):
        assert a in actions, actions
    assert actions.count("signin.succeeded") == 2


def test_return_to_kept_and_other_origins_refused(stack, sso_org, idp):
    username, _ = provider_user(idp, sso_org.domain)
    r = Browser(stack, idp).signin(sso_org.org, username, "/console/?user_code=BCDF-GHJK")
    assert r.headers["Location"] == stack.url + "/console/?user_code=BCDF-GHJK"
    http = Client(stack.url)
    for bad in ("https://evil.example/", "//evil.example/", "/\\evil.example", "evil",
                "/a#b"):
        assert_problem(http.get(start_path(sso_org.org), params={"return_to": bad}), 400,
                       "invalid_request")
    # a CR LF that would split the Location header: lighttpd refuses it itself
    r = http.get(start_path(sso_org.org), params={"return_to": "/a\r\nX: y"})
    assert r.status_code == 400 and "Location" not in r.headers, r.headers


def refused(stack, org, email, r, code):
    assert fragment_error(r) == code
    assert user_rows(stack, email) == []


def test_wrong_state_and_missing_binding_cookie_and_replay(stack, sso_org, idp):
    username, email = provider_user(idp, sso_org.domain)
    before = failed_events(stack, sso_org.org)
    # another browser's callback (login CSRF): no binding cookie
    b = Browser(stack, idp)
    loc = b.at_provider(b.start(sso_org.org).headers["Location"], username)
    stranger = Browser(stack, idp)
    refused(stack, sso_org.org, email, stranger.callback(loc), "invalid_state")
    # the state is spent by that attempt: the right browser cannot use it after
    refused(stack, sso_org.org, email, b.callback(loc), "invalid_state")
    # a state changed on the way
    loc = b.at_provider(b.start(sso_org.org).headers["Location"], username)
    u = urllib.parse.urlsplit(loc)
    q = dict(urllib.parse.parse_qsl(u.query))
    q["state"] = q["state"][:-2] + ("AA" if q["state"][-2:] != "AA" else "BB")
    refused(stack, sso_org.org, email,
            b.http.get(CALLBACK + "?" + urllib.parse.urlencode(q)), "invalid_state")
    # replayed: the same callback twice; the first one succeeds
    loc = b.at_provider(b.start(sso_org.org).headers["Location"], username)
    assert "#" not in b.callback(loc).headers["Location"]
    uid = user_rows(stack, email)
    assert fragment_error(b.callback(loc)) == "invalid_state"
    # the code again with a new state of this browser: the provider refuses a used code
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))["code"]
    fresh = b.at_provider(b.start(sso_org.org).headers["Location"], username)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(fresh).query))
    q["code"] = code
    assert fragment_error(b.http.get(CALLBACK + "?" + urllib.parse.urlencode(q))) == \
        "provider_error"
    assert user_rows(stack, email) == uid
    # the refusals whose state was known are the organization's (the stranger's and the
    # replayed code's); a state nobody knows names no organization (the platform trail has it)
    assert int(failed_events(stack, sso_org.org)) == int(before) + 2


def test_wrong_nonce_refused(stack, sso_org, idp):
    username, email = provider_user(idp, sso_org.domain)
    b = Browser(stack, idp)
    auth = b.start(sso_org.org).headers["Location"]
    u = urllib.parse.urlsplit(auth)
    q = dict(urllib.parse.parse_qsl(u.query))
    q["nonce"] = "n" * 43
    forged = urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))
    refused(stack, sso_org.org, email, b.callback(b.at_provider(forged, username)),
            "invalid_id_token")


def test_unverified_email_and_foreign_domain_refused(stack, sso_org, idp):
    username, email = provider_user(idp, sso_org.domain, verified=False)
    refused(stack, sso_org.org, email, Browser(stack, idp).signin(sso_org.org, username),
            "email_not_verified")
    username, email = provider_user(idp, unique("elsewhere") + ".example")
    refused(stack, sso_org.org, email, Browser(stack, idp).signin(sso_org.org, username),
            "domain_not_allowed")


def test_account_made_with_a_password_is_not_taken_over(stack, sso_org, idp):
    username, email = provider_user(idp, sso_org.domain)
    r = sso_org.admin.post("/api/org/v1/users", {"email": email, "password": "a password of the user"})
    assert r.status_code == 201, r.text
    r = Browser(stack, idp).signin(sso_org.org, username)
    assert fragment_error(r) == "account_exists"
    assert stack.mariadb.sql("SELECT COUNT(*) FROM lanyard.memberships m JOIN lanyard.users u"
                             " ON u.id = m.user_id WHERE u.email = '%s'" % email) == [["0"]]


def test_tampered_id_token_and_unknown_kid_refused(stack, sso_org, idp):
    username, email = provider_user(idp, sso_org.domain)
    try:
        idp.proxy.tamper = "payload"
        refused(stack, sso_org.org, email, Browser(stack, idp).signin(sso_org.org, username),
                "invalid_id_token")
        idp.proxy.tamper = "kid"
        refused(stack, sso_org.org, email, Browser(stack, idp).signin(sso_org.org, username),
                "invalid_id_token")
    finally:
        idp.proxy.tamper = None
    # the same person through the untouched provider: signed in
    r = Browser(stack, idp).signin(sso_org.org, username)
    assert r.status_code == 302 and "#" not in r.headers["Location"], r.headers


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256"])
def test_provider_key_rotation_is_followed(stack, sso_org, idp, alg):
    username, email = provider_user(idp, sso_org.domain)
    assert "#" not in Browser(stack, idp).signin(sso_org.org, username).headers["Location"]
    idp.rotate_key(alg)
    # the worker's cached keys do not have the new kid: it fetches them once more;
    # the ID token is now signed with alg
    for _ in range(3):   # every worker of the stack
        r = Browser(stack, idp).signin(sso_org.org, username)
        assert r.status_code == 302 and "#" not in r.headers["Location"], r.headers


def test_device_login_through_sso(stack, sso_org, idp):
    username, email = provider_user(idp, sso_org.domain)
    d = Client(stack.url).post("/api/auth/v1/device", data={"org": sso_org.org})
    assert d.status_code == 200, d.text
    body = d.json()
    complete = body["verification_uri_complete"]
    want = "%s%s?return_to=%s" % (stack.url, start_path(sso_org.org),
                                  urllib.parse.quote("/device?user_code=" + body["user_code"], safe=""))
    assert complete == want, complete
    b = Browser(stack, idp)
    r = b.http.get(complete[len(stack.url):])
    assert r.status_code == 302
    done = b.callback(b.at_provider(r.headers["Location"], username))
    assert done.headers["Location"] == stack.url + "/device?user_code=" + body["user_code"]
    # the approval page's work: a token from the cookie, then the approval
    t = b.http.post(TOKEN, json={"grant_type": "refresh_token"}).json()["access_token"]
    a = Client(stack.url).post("/api/auth/v1/device/approve",
                               json={"user_code": body["user_code"], "approve": True},
                               headers={"Authorization": "Bearer " + t})
    assert a.status_code == 204, a.text
    tok = Client(stack.url).post(TOKEN, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": body["device_code"]})
    assert tok.status_code == 200, tok.text
    me = Client(stack.url).get(ME, headers={"Authorization": "Bearer " + tok.json()["access_token"]})
    assert me.json()["user"]["email"] == email


def test_sso_removed_stops_signins(stack, sso_org, idp):
    username, email = provider_user(idp, sso_org.domain)
    b = Browser(stack, idp)
    loc = b.at_provider(b.start(sso_org.org).headers["Location"], username)
    r = sso_org.owner.delete(sso_path(sso_org.org))
    assert r.status_code == 204
    refused(stack, sso_org.org, email, b.callback(loc), "invalid_state")
    assert_problem(Client(stack.url).get(start_path(sso_org.org)), 404, "not_found")
    events = sso_org.owner.get("%s/%s/audit-events" % (ORGS, sso_org.org)).json()["items"]
    assert "sso.deleted" in [e["action"] for e in events]


def test_no_secret_in_logs(stack, sso_org, idp):
    username, _ = provider_user(idp, sso_org.domain)
    Browser(stack, idp).signin(sso_org.org, username)
    for path in log_files(stack):
        with open(path, errors="replace") as f:
            text = f.read()
        assert sso_org.client_secret not in text, path



def test_lanyard_login_through_the_organizations_sso(stack, sso_org, idp, e2e_env, tmp_path):
    """`lanyard-login --org ORG login --no-browser`: the link it prints starts the
    organization's SSO; the person signs in at the provider, approves on the page
    it comes back to, and the command-line client has their tokens."""
    username, email = provider_user(idp, sso_org.domain)
    cli = Cli(e2e_env, stack.url, tmp_path)
    p = subprocess.Popen([cli.prog, "--url", stack.url, "--org", sso_org.org, "login",
                          "--no-browser"], env=cli.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in p.stderr] + [lines.put(None)],
                     daemon=True).start()
    try:
        seen, link, code = [], None, None
        while link is None or code is None:
            line = lines.get(timeout=20)
            assert line is not None, "".join(seen)
            seen.append(line)
            m = USER_CODE.search(line)
            code = code or (m.group(1) if m else None)
            if start_path(sso_org.org) in line:
                link = line[line.index(stack.url):].split()[0]
        # the person opens the link: the organization's SSO, then the approval page
        b = Browser(stack, idp)
        r = b.http.get(link[len(stack.url):])
        assert r.status_code == 302, r.text
        done = b.callback(b.at_provider(r.headers["Location"], username))
        assert done.headers["Location"] == stack.url + "/device?user_code=" + code
        t = b.http.post(TOKEN, json={"grant_type": "refresh_token"}).json()["access_token"]
        a = Client(stack.url).post("/api/auth/v1/device/approve",
                                   json={"user_code": code, "approve": True},
                                   headers={"Authorization": "Bearer " + t})
        assert a.status_code == 204, a.text
        assert p.wait(timeout=30) == 0, "".join(seen)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    tok = cli.run("token")
    assert tok.returncode == 0, tok.stderr
    me = Client(stack.url).get(ME, headers={"Authorization": "Bearer " + tok.stdout.strip()})
    assert me.json()["user"]["email"] == email
