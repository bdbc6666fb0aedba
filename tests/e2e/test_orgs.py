"""Organizations and members (SPEC §5.9, §5.8 organizations, §3 names, lists
and page tokens), role by role, through the real stack.

Every test makes its own users and organizations with unique names, so the
tests share nothing and run in any order (the database is shared by all
stacks of a session)."""

import base64
import json
import os
import random
import string
import threading

import pytest
import requests

from conftest import Client, TIMEOUT
from harness import fcgi
from harness.lanyard import ListenWorker
from harness.stack import unique, unique_email

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

ORGS = "/api/org/v1/orgs"
USERS = "/api/org/v1/users"
ME = "/api/org/v1/me"
SIGNIN = "/api/auth/v1/signin"
PASSWORD = "correct horse battery staple"
ORG_KEYS = {"id", "name", "display_name", "created_at", "updated_at", "member_count"}
MEMBER_KEYS = {"user", "role", "added_at"}
MEMBER_USER_KEYS = {"id", "email", "display_name"}
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


# --- helpers ------------------------------------------------------------------

def assert_problem(r, status, code):
    assert r.status_code == status, "want %d %s, got %d: %s" % (status, code, r.status_code,
                                                                 r.text[:500])
    assert r.headers.get("Content-Type", "").startswith("application/problem+json")
    body = r.json()
    extra = {"errors"} if code == "validation_failed" else set()
    assert set(body) == PROBLEM_KEYS | extra, sorted(body)
    assert body["status"] == status and body["code"] == code
    assert body["detail"]
    return body


def assert_org(obj, name=None):
    assert set(obj) == ORG_KEYS, sorted(obj)
    assert obj["id"].startswith("org-") and len(obj["id"]) == 16
    if name is not None:
        assert obj["name"] == name
    assert obj["created_at"].endswith("Z") and obj["updated_at"].endswith("Z")
    assert isinstance(obj["member_count"], int)
    return obj


def assert_member(obj):
    assert set(obj) == MEMBER_KEYS, sorted(obj)
    assert set(obj["user"]) == MEMBER_USER_KEYS, sorted(obj["user"])
    assert obj["role"] in ("owner", "admin", "member")
    assert obj["added_at"].endswith("Z")
    return obj


class Caller:
    """A signed-in principal: its id, e-mail and a client sending its token."""

    def __init__(self, base, token, user_id=None, email=None):
        self.id = user_id
        self.email = email
        self.token = token
        self.base = base
        self.http = Client(base)
        self.http.s.headers["Authorization"] = "Bearer " + token

    def req(self, method, path, **kw):
        return self.http.request(method, path, **kw)

    def fresh(self):
        """The same principal on its own connection (one per thread)."""
        return Caller(self.base, self.token, self.id, self.email)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.req("POST", path, json=body, **kw)

    def patch(self, path, body, **kw):
        return self.req("PATCH", path, json=body, **kw)

    def put(self, path, body, **kw):
        return self.req("PUT", path, json=body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)


def signin(base, email, password):
    r = requests.post(base + SIGNIN, json={"email": email, "password": password}, timeout=TIMEOUT)
    assert r.status_code == 200, "sign-in of %s: %d %s" % (email, r.status_code, r.text[:300])
    return r.json()["access_token"]


def admin_of(stack):
    tok = signin(stack.url, stack.admin_email, stack.admin_password)
    me = Caller(stack.url, tok).get(ME)
    assert me.status_code == 200, me.text
    return Caller(stack.url, tok, me.json()["user"]["id"], stack.admin_email)


def new_user(stack, admin, prefix="user", display_name=None):
    email = unique_email(prefix)
    body = {"email": email, "password": PASSWORD}
    if display_name is not None:
        body["display_name"] = display_name
    r = admin.post(USERS, body)
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    return Caller(stack.url, signin(stack.url, email, PASSWORD), uid, email)


def new_org(caller, prefix="org", display_name=None):
    name = unique(prefix)
    body = {"name": name}
    if display_name is not None:
        body["display_name"] = display_name
    r = caller.post(ORGS, body)
    assert r.status_code == 201, r.text
    return name


def members_path(org, user=None):
    return "%s/%s/members%s" % (ORGS, org, "/" + user if user else "")


def add(caller, org, user, role):
    return caller.put(members_path(org, user.id), {"role": role})


def roles_of(caller, org):
    r = caller.get(members_path(org) + "?page_size=100")
    assert r.status_code == 200, r.text
    return {m["user"]["id"]: m["role"] for m in r.json()["items"]}


def walk(caller, path, page_size, between=None):
    """Every item of a paginated list, calling between(page_no) after each page."""
    items, token, pages = [], None, 0
    while True:
        sep = "&" if "?" in path else "?"
        q = "%s%spage_size=%d" % (path, sep, page_size)
        if token:
            q += "&page_token=" + token
        r = caller.get(q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_page_token"}
        assert len(body["items"]) <= page_size
        items.extend(body["items"])
        pages += 1
        token = body["next_page_token"]
        if token is None:
            return items, pages
        assert isinstance(token, str) and token
        if between:
            between(pages)


@pytest.fixture
def admin(stack):
    return admin_of(stack)


@pytest.fixture
def world(stack, admin):
    """An organization with an owner, an admin and a member; an outsider who owns
    another organization; the platform administrator (a member of neither)."""
    class W:
        pass
    w = W()
    w.admin = admin
    w.owner = new_user(stack, admin, "owner")
    w.org_admin = new_user(stack, admin, "orgadmin")
    w.member = new_user(stack, admin, "member")
    w.outsider = new_user(stack, admin, "outsider")
    w.org = new_org(w.owner, display_name="World Inc.")
    w.other = new_org(w.outsider)
    assert add(w.owner, w.org, w.org_admin, "admin").status_code == 201
    assert add(w.owner, w.org, w.member, "member").status_code == 201
    w.path = ORGS + "/" + w.org
    return w


# --- creation and names ---------------------------------------------------------

def test_create_org_201_location_and_caller_is_owner(stack, admin):
    alice = new_user(stack, admin, "alice")
    name = unique("acme")
    r = alice.post(ORGS, {"name": name, "display_name": "Acme Ltd"})
    assert r.status_code == 201, r.text
    org = assert_org(r.json(), name)
    assert org["display_name"] == "Acme Ltd"
    assert org["member_count"] == 1
    assert org["created_at"] == org["updated_at"]
    loc = r.headers.get("Location")
    assert loc == stack.url + ORGS + "/" + name, loc
    assert loc.startswith("http://") or loc.startswith("https://")
    got = alice.get(ORGS + "/" + name)
    assert got.status_code == 200 and got.json() == org
    assert roles_of(alice, name) == {alice.id: "owner"}


def test_create_without_display_name_is_null(stack, admin):
    alice = new_user(stack, admin)
    name = unique()
    r = alice.post(ORGS, {"name": name})
    assert r.status_code == 201, r.text
    assert r.json()["display_name"] is None
    r = alice.post(ORGS, {"name": unique(), "display_name": None})
    assert r.status_code == 201 and r.json()["display_name"] is None
    r = alice.post(ORGS, {"name": unique(), "display_name": ""})
    assert r.status_code == 201 and r.json()["display_name"] is None


def test_platform_admin_creates_and_owns(stack, admin):
    name = new_org(admin)
    assert roles_of(admin, name) == {admin.id: "owner"}
    assert admin.delete(ORGS + "/" + name).status_code == 204


def test_taken_name_is_409(stack, admin):
    alice = new_user(stack, admin)
    bob = new_user(stack, admin)
    name = new_org(alice)
    assert_problem(alice.post(ORGS, {"name": name}), 409, "conflict")
    # someone who cannot see the organization learns it exists only through 409
    assert_problem(bob.post(ORGS, {"name": name}), 409, "conflict")


def _rand_name(n):
    first = random.choice(string.ascii_lowercase)
    return first + "".join(random.choice(string.ascii_lowercase + string.digits)
                           for _ in range(n - 1))


@pytest.mark.parametrize("desc,name", [
    ("length 1", "a"),
    ("length 64", "a" * 64),
    ("empty", ""),
    ("leading hyphen", "-abc"),
    ("trailing hyphen", "abc-"),
    ("only hyphens", "--"),
    ("upper case", "Acme"),
    ("all upper case", "ACME"),
    ("unicode", "caf\u00e9"),
    ("unicode look-alike", "\u0430cme"),
    ("underscore", "ac_me"),
    ("space", "ac me"),
    ("dot", "ac.me"),
    ("slash", "ac/me"),
])
def test_invalid_names_are_400(stack, admin, desc, name):
    body = assert_problem(admin.post(ORGS, {"name": name}), 400, "validation_failed")
    assert any(e["field"] == "name" for e in body["errors"]), body


@pytest.mark.parametrize("desc,length", [("length 2", 2), ("length 3", 3), ("length 63", 63)])
def test_valid_name_lengths(stack, admin, desc, length):
    if length >= 20:
        name = unique("n")
        name = name + "x" * (length - len(name))
    else:
        name = _rand_name(length)
    r = admin.post(ORGS, {"name": name})
    if r.status_code == 409 and length <= 3:
        pytest.skip("random short name %r taken by a concurrent run" % name)
    assert r.status_code == 201, r.text
    assert len(r.json()["name"]) == length
    assert admin.delete(ORGS + "/" + name).status_code == 204


def test_digits_and_inner_hyphens_are_valid(stack, admin):
    name = "0-" + unique("9")
    assert admin.post(ORGS, {"name": name}).status_code == 201
    assert admin.delete(ORGS + "/" + name).status_code == 204


@pytest.mark.parametrize("desc,body,field", [
    ("name missing", {}, "name"),
    ("name not a string", {"name": 5}, "name"),
    ("name null", {"name": None}, "name"),
    ("unknown field", {"name": "x-ok", "owner": "me"}, None),
    ("display_name not a string", {"name": "x-ok", "display_name": 1}, "display_name"),
    ("display_name too long", {"name": "x-ok", "display_name": "d" * 201}, "display_name"),
    ("display_name with a control character", {"name": "x-ok", "display_name": "a\u0007b"},
     "display_name"),
])
def test_create_body_validation(stack, admin, desc, body, field):
    b = assert_problem(admin.post(ORGS, body), 400, "validation_failed")
    if field:
        assert any(e["field"] == field for e in b["errors"]), b


def test_display_name_200_characters_is_fine(stack, admin):
    r = admin.post(ORGS, {"name": unique(), "display_name": "\u00e9" * 200})
    assert r.status_code == 201, r.text
    assert r.json()["display_name"] == "\u00e9" * 200
    assert admin.delete(ORGS + "/" + r.json()["name"]).status_code == 204


def test_malformed_json_and_media_type(stack, admin):
    r = admin.req("POST", ORGS, data=b"{nope", headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "invalid_json")
    r = admin.req("POST", ORGS, data=b"name=x", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415, "unsupported_media_type")


def test_unauthenticated_is_401(stack):
    http = Client(stack.url)
    for method, path in (("GET", ORGS), ("POST", ORGS), ("GET", ORGS + "/x-y"),
                         ("GET", members_path("x-y"))):
        r = http.request(method, path, json={} if method == "POST" else None)
        assert_problem(r, 401, "unauthenticated")
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_users_create_orgs_false(e2e_env, tmp_path):
    """accounts.users_create_orgs: false: users get 403, platform administrators
    may still. A private worker with that config, spoken to over FastCGI."""
    cfg = os.path.join(str(tmp_path), "lanyard.yaml")
    e2e_env.config(cfg, public_url="http://127.0.0.1:8080", mode="opaque",
                   extra="accounts:\n  users_create_orgs: false\n")
    w = ListenWorker(e2e_env.build, cfg, str(tmp_path), workers=1, name=unique("noorgs")).start()
    try:
        def call(method, path, body=None, token=None):
            data = json.dumps(body).encode() if body is not None else b""
            headers = {"Authorization": "Bearer " + token} if token else {}
            ctype = "application/json" if body is not None else None
            st, hdrs, out, _ = fcgi.request(w.addr, method, path, body=data,
                                            content_type=ctype, headers=headers)
            return st, hdrs, (json.loads(out) if out else None)

        st, _, tok = call("POST", SIGNIN, {"email": e2e_env.admin_email,
                                           "password": e2e_env.admin_password})
        assert st == 200, tok
        admin_tok = tok["access_token"]
        email = unique_email("nocreate")
        st, _, _ = call("POST", USERS, {"email": email, "password": PASSWORD}, admin_tok)
        assert st == 201
        st, _, tok = call("POST", SIGNIN, {"email": email, "password": PASSWORD})
        assert st == 200
        user_tok = tok["access_token"]
        st, _, body = call("POST", ORGS, {"name": unique()}, user_tok)
        assert st == 403 and body["code"] == "forbidden", body
        name = unique()
        st, hdrs, body = call("POST", ORGS, {"name": name}, admin_tok)
        assert st == 201, body
        assert hdrs.get("location") == "http://127.0.0.1:8080" + ORGS + "/" + name
        st, _, _ = call("DELETE", ORGS + "/" + name, None, admin_tok)
        assert st == 204
    finally:
        w.stop()


# --- reading ------------------------------------------------------------------

def test_get_org_by_role(stack, world):
    w = world
    for who in (w.owner, w.org_admin, w.member, w.admin):
        r = who.get(w.path)
        assert r.status_code == 200, r.text
        org = assert_org(r.json(), w.org)
        assert org["display_name"] == "World Inc."
        assert org["member_count"] == 3
    assert_problem(w.outsider.get(w.path), 404, "not_found")


def test_404_not_403_across_organizations(stack, world):
    """An outsider's answers about an existing organization are those about a
    missing one, for every endpoint."""
    w = world
    missing = unique("missing")
    calls = [
        ("GET", "", None), ("PATCH", "", {"display_name": "x"}), ("DELETE", "", None),
        ("GET", "/members", None), ("PUT", "/members/" + w.outsider.id, {"role": "member"}),
        ("PUT", "/members/" + w.member.id, {"role": "admin"}),
        ("DELETE", "/members/" + w.member.id, None),
        ("DELETE", "/members/" + w.outsider.id, None),
    ]
    for method, suffix, body in calls:
        a = w.outsider.req(method, ORGS + "/" + w.org + suffix, json=body)
        b = w.outsider.req(method, ORGS + "/" + missing + suffix, json=body)
        ba = assert_problem(a, 404, "not_found")
        bb = assert_problem(b, 404, "not_found")
        assert ba["detail"] == bb["detail"], (method, suffix)
    # and the organization is untouched
    assert roles_of(w.owner, w.org) == {w.owner.id: "owner", w.org_admin.id: "admin",
                                        w.member.id: "member"}
    # the owner of one organization is an outsider of another
    assert_problem(w.owner.get(ORGS + "/" + w.other), 404, "not_found")
    assert_problem(w.owner.delete(ORGS + "/" + w.other), 404, "not_found")


def test_invalid_org_name_in_path_is_404(stack, admin):
    for seg in ("A", "UPPER", "x_y", "-x"):
        assert_problem(admin.get(ORGS + "/" + seg), 404, "not_found")


def test_list_orgs_caller_only(stack, world):
    w = world
    mine = [o["name"] for o in walk(w.member, ORGS, 100)[0]]
    assert mine == [w.org]
    mine = [o["name"] for o in walk(w.outsider, ORGS, 100)[0]]
    assert mine == [w.other]
    for item in walk(w.owner, ORGS, 100)[0]:
        assert_org(item)


def test_list_orgs_platform_admin_sees_all(stack, world):
    names = [o["name"] for o in walk(world.admin, ORGS, 100)[0]]
    assert world.org in names and world.other in names
    assert names == sorted(names)
    assert len(names) == len(set(names))


def test_list_members_by_role(stack, world):
    w = world
    for who in (w.owner, w.org_admin, w.member, w.admin):
        items, _ = walk(who, members_path(w.org), 100)
        for m in items:
            assert_member(m)
        got = {m["user"]["id"]: (m["role"], m["user"]["email"]) for m in items}
        assert got == {w.owner.id: ("owner", w.owner.email),
                       w.org_admin.id: ("admin", w.org_admin.email),
                       w.member.id: ("member", w.member.email)}
    assert_problem(w.outsider.get(members_path(w.org)), 404, "not_found")


def test_me_lists_organizations_with_roles(stack, world):
    w = world
    second = new_org(w.member)
    r = w.member.get(ME)
    assert r.status_code == 200, r.text
    orgs = r.json()["organizations"]
    assert orgs == sorted(orgs, key=lambda o: o["name"])
    got = {o["name"]: o["role"] for o in orgs}
    assert got == {w.org: "member", second: "owner"}
    for o in orgs:
        assert set(o) == {"name", "display_name", "role"}
    by_name = {o["name"]: o for o in orgs}
    assert by_name[w.org]["display_name"] == "World Inc."
    assert by_name[second]["display_name"] is None
    # a change of role shows at once
    assert add(w.owner, w.org, w.member, "admin").status_code == 200
    got = {o["name"]: o["role"] for o in w.member.get(ME).json()["organizations"]}
    assert got[w.org] == "admin"
    # a user without organizations
    r = new_user(stack, w.admin).get(ME)
    assert r.json()["organizations"] == []


# --- changing the organization --------------------------------------------------

def test_patch_by_role(stack, world):
    w = world
    for i, who in enumerate((w.owner, w.org_admin, w.admin)):
        r = who.patch(w.path, {"display_name": "Renamed %d" % i})
        assert r.status_code == 200, r.text
        org = assert_org(r.json(), w.org)
        assert org["display_name"] == "Renamed %d" % i
        assert org["member_count"] == 3
    assert_problem(w.member.patch(w.path, {"display_name": "no"}), 403, "forbidden")
    assert_problem(w.outsider.patch(w.path, {"display_name": "no"}), 404, "not_found")
    assert w.owner.get(w.path).json()["display_name"] == "Renamed 2"
    r = w.owner.patch(w.path, {"display_name": None})
    assert r.status_code == 200 and r.json()["display_name"] is None
    assert w.owner.patch(w.path, {"display_name": "back"}).json()["display_name"] == "back"
    r = w.owner.patch(w.path, {"display_name": ""})
    assert r.status_code == 200 and r.json()["display_name"] is None


@pytest.mark.parametrize("desc,body", [
    ("empty body", {}),
    ("name is not changeable", {"display_name": "x", "name": "other"}),
    ("wrong type", {"display_name": 7}),
    ("too long", {"display_name": "x" * 201}),
    ("control character", {"display_name": "a\nb"}),
])
def test_patch_validation(stack, world, desc, body):
    assert_problem(world.owner.patch(world.path, body), 400, "validation_failed")


def test_patch_validation_hidden_from_outsiders(stack, world):
    """A non-member gets 404 before any validation, so a 400 leaks nothing."""
    assert_problem(world.outsider.patch(world.path, {"bogus": 1}), 404, "not_found")


def test_delete_org_by_role(stack, world):
    w = world
    assert_problem(w.org_admin.delete(w.path), 403, "forbidden")
    assert_problem(w.member.delete(w.path), 403, "forbidden")
    assert_problem(w.outsider.delete(w.path), 404, "not_found")
    old_id = w.owner.get(w.path).json()["id"]
    r = w.owner.delete(w.path)
    assert r.status_code == 204 and r.content == b""
    for who in (w.owner, w.org_admin, w.member, w.admin):
        assert_problem(who.get(w.path), 404, "not_found")
        assert_problem(who.get(members_path(w.org)), 404, "not_found")
    assert_problem(w.owner.delete(w.path), 404, "not_found")
    names = [o["name"] for o in w.member.get(ME).json()["organizations"]]
    assert w.org not in names
    # the name is free again
    again = w.member.post(ORGS, {"name": w.org})
    assert again.status_code == 201
    assert again.json()["id"] != old_id, "a new organization, not the old one back"
    assert roles_of(w.member, w.org) == {w.member.id: "owner"}
    assert w.member.delete(w.path).status_code == 204


def test_platform_admin_deletes_any_org(stack, world):
    w = world
    r = w.admin.delete(ORGS + "/" + w.other)
    assert r.status_code == 204
    assert_problem(w.outsider.get(ORGS + "/" + w.other), 404, "not_found")


# --- members ------------------------------------------------------------------

def test_put_member_add_and_change(stack, world):
    w = world
    newbie = new_user(stack, w.admin, "newbie", display_name="New Bie")
    r = add(w.org_admin, w.org, newbie, "member")
    assert r.status_code == 201, r.text
    m = assert_member(r.json())
    assert m["user"] == {"id": newbie.id, "email": newbie.email, "display_name": "New Bie"}
    assert m["role"] == "member"
    assert r.headers.get("Location", "").startswith(stack.url + members_path(w.org) + "/")
    r = add(w.org_admin, w.org, newbie, "admin")
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "admin" and r.json()["added_at"] == m["added_at"]
    r = add(w.org_admin, w.org, newbie, "admin")
    assert r.status_code == 200, "the same role again is a 200, not a 201"
    assert w.owner.get(w.path).json()["member_count"] == 4
    # the new member sees the organization now
    assert newbie.get(w.path).status_code == 200


def test_put_member_by_email_case_insensitive(stack, world):
    w = world
    newbie = new_user(stack, w.admin, "mail")
    r = w.owner.put(members_path(w.org, newbie.email.upper()), {"role": "member"})
    assert r.status_code == 201, r.text
    assert r.json()["user"]["id"] == newbie.id
    r = w.owner.put(members_path(w.org, newbie.email), {"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin"


def test_put_member_unknown_user_is_404(stack, world):
    w = world
    for ref in ("u-aaaaaaaaaaaa", unique_email("ghost"), "not-an-id", "bad@@mail"):
        assert_problem(w.owner.put(members_path(w.org, ref), {"role": "member"}), 404,
                       "not_found")


@pytest.mark.parametrize("desc,body", [
    ("missing role", {}),
    ("unknown role", {"role": "superuser"}),
    ("role in capitals", {"role": "OWNER"}),
    ("role not a string", {"role": 1}),
    ("unknown field", {"role": "member", "x": 1}),
])
def test_put_member_validation(stack, world, desc, body):
    w = world
    b = assert_problem(w.owner.put(members_path(w.org, w.member.id), body), 400,
                       "validation_failed")
    assert b["errors"]


def test_put_member_by_role(stack, world):
    w = world
    target = new_user(stack, w.admin, "target")
    # a member cannot manage members; an outsider cannot see the organization
    assert_problem(add(w.member, w.org, target, "member"), 403, "forbidden")
    assert_problem(add(w.outsider, w.org, target, "member"), 404, "not_found")
    # a member cannot raise themself
    assert_problem(add(w.member, w.org, w.member, "admin"), 403, "forbidden")
    # admin adds and changes non-owner roles
    assert add(w.org_admin, w.org, target, "admin").status_code == 201
    assert add(w.org_admin, w.org, target, "member").status_code == 200
    # platform administrator, not a member, may too
    assert add(w.admin, w.org, target, "admin").status_code == 200
    assert roles_of(w.owner, w.org)[target.id] == "admin"


def test_only_owners_grant_or_take_owner(stack, world):
    w = world
    target = new_user(stack, w.admin, "target")
    # an admin may not grant owner, to a new or an existing member, nor to themself
    assert_problem(add(w.org_admin, w.org, target, "owner"), 403, "forbidden")
    assert_problem(add(w.org_admin, w.org, w.member, "owner"), 403, "forbidden")
    assert_problem(add(w.org_admin, w.org, w.org_admin, "owner"), 403, "forbidden")
    # an admin may not demote or remove an owner
    assert_problem(add(w.org_admin, w.org, w.owner, "admin"), 403, "forbidden")
    assert_problem(w.org_admin.delete(members_path(w.org, w.owner.id)), 403, "forbidden")
    assert target.id not in roles_of(w.owner, w.org)
    # an owner may
    assert add(w.owner, w.org, target, "owner").status_code == 201
    assert add(w.owner, w.org, target, "admin").status_code == 200
    assert add(w.owner, w.org, w.member, "owner").status_code == 200
    # and so may a platform administrator
    assert add(w.admin, w.org, w.member, "member").status_code == 200
    assert add(w.admin, w.org, target, "owner").status_code == 200
    assert w.admin.delete(members_path(w.org, target.id)).status_code == 204
    assert roles_of(w.owner, w.org) == {w.owner.id: "owner", w.org_admin.id: "admin",
                                        w.member.id: "member"}


def test_delete_member_by_role(stack, world):
    w = world
    a = new_user(stack, w.admin, "a")
    b = new_user(stack, w.admin, "b")
    assert add(w.owner, w.org, a, "member").status_code == 201
    assert add(w.owner, w.org, b, "admin").status_code == 201
    # a member may not remove another member; an outsider sees nothing
    assert_problem(w.member.delete(members_path(w.org, a.id)), 403, "forbidden")
    assert_problem(w.outsider.delete(members_path(w.org, a.id)), 404, "not_found")
    # org admin removes a member and another admin
    r = w.org_admin.delete(members_path(w.org, a.id))
    assert r.status_code == 204 and r.content == b""
    assert w.org_admin.delete(members_path(w.org, b.id)).status_code == 204
    # now they are not members
    assert_problem(w.org_admin.delete(members_path(w.org, a.id)), 404, "not_found")
    assert_problem(a.get(w.path), 404, "not_found")
    # a user who never was a member, and one who does not exist
    assert_problem(w.owner.delete(members_path(w.org, w.outsider.id)), 404, "not_found")
    assert_problem(w.owner.delete(members_path(w.org, "u-aaaaaaaaaaaa")), 404, "not_found")
    # by e-mail, and by a platform administrator
    assert add(w.owner, w.org, a, "member").status_code == 201
    assert w.admin.delete(members_path(w.org, a.email)).status_code == 204
    assert roles_of(w.owner, w.org) == {w.owner.id: "owner", w.org_admin.id: "admin",
                                        w.member.id: "member"}


def test_leave(stack, world):
    w = world
    # a member and an admin leave on their own
    r = w.member.delete(members_path(w.org, w.member.id))
    assert r.status_code == 204, r.text
    assert_problem(w.member.get(w.path), 404, "not_found")
    assert w.org_admin.delete(members_path(w.org, w.org_admin.email)).status_code == 204
    # and cannot leave twice: the organization is gone for them
    assert_problem(w.member.delete(members_path(w.org, w.member.id)), 404, "not_found")
    # an owner may leave while another owner stays
    second = new_user(stack, w.admin, "second")
    assert add(w.owner, w.org, second, "owner").status_code == 201
    assert w.owner.delete(members_path(w.org, w.owner.id)).status_code == 204
    assert roles_of(second, w.org) == {second.id: "owner"}


def test_last_owner_is_kept(stack, world):
    w = world
    only = members_path(w.org, w.owner.id)
    assert_problem(w.owner.delete(only), 409, "conflict")            # leaving
    assert_problem(w.owner.put(only, {"role": "admin"}), 409, "conflict")  # self-demotion
    assert_problem(w.admin.delete(only), 409, "conflict")            # a platform admin
    assert_problem(w.admin.put(only, {"role": "member"}), 409, "conflict")
    # re-granting owner to the only owner changes nothing and is fine
    assert w.owner.put(only, {"role": "owner"}).status_code == 200
    assert roles_of(w.owner, w.org)[w.owner.id] == "owner"
    # with a second owner, one of them may go
    second = new_user(stack, w.admin, "second")
    assert add(w.owner, w.org, second, "owner").status_code == 201
    assert w.owner.put(only, {"role": "admin"}).status_code == 200
    assert_problem(second.delete(members_path(w.org, second.id)), 409, "conflict")


def test_deleting_the_last_owner_user_is_409(stack, world):
    """SPEC §5.10: a user who is the last owner of an organization cannot be deleted."""
    w = world
    assert_problem(w.admin.delete(USERS + "/" + w.owner.id), 409, "conflict")
    second = new_user(stack, w.admin, "second")
    assert add(w.owner, w.org, second, "owner").status_code == 201
    assert w.admin.delete(USERS + "/" + w.owner.id).status_code == 204
    assert roles_of(second, w.org) == {second.id: "owner", w.org_admin.id: "admin",
                                       w.member.id: "member"}


# --- races on the last owner -------------------------------------------------------

def _race(calls):
    """Run the calls at the same moment (one thread each); their status codes."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, fn):
        barrier.wait()
        out[i] = fn().status_code
    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    return out


def _two_owner_org(stack, admin):
    a = new_user(stack, admin, "ownera")
    b = new_user(stack, admin, "ownerb")
    org = new_org(a)
    assert add(a, org, b, "owner").status_code == 201
    return a, b, org


@pytest.mark.parametrize("kind", ["demote-both", "admin-demotes-both", "remove-both",
                                  "leave-both", "demote-and-leave"])
def test_last_owner_races(stack, admin, kind):
    """Two owners, two simultaneous changes that would each leave one owner:
    the database lets exactly one through, the other is 409."""
    for _ in range(4):
        a, b, org = _two_owner_org(stack, admin)
        pa, pb = members_path(org, a.id), members_path(org, b.id)
        a1, b1, x1, x2 = a.fresh(), b.fresh(), admin.fresh(), admin.fresh()
        if kind == "demote-both":
            calls = [lambda: a1.put(pa, {"role": "admin"}), lambda: b1.put(pb, {"role": "admin"})]
            ok = [200]
        elif kind == "admin-demotes-both":
            calls = [lambda: x1.put(pa, {"role": "member"}),
                     lambda: x2.put(pb, {"role": "member"})]
            ok = [200]
        elif kind == "remove-both":
            calls = [lambda: x1.delete(pa), lambda: x2.delete(pb)]
            ok = [204]
        elif kind == "leave-both":
            calls = [lambda: a1.delete(pa), lambda: b1.delete(pb)]
            ok = [204]
        else:
            calls = [lambda: a1.put(pa, {"role": "admin"}), lambda: b1.delete(pb)]
            ok = [200, 204]
        got = _race(calls)
        assert got.count(409) == 1, "exactly one must lose: %s" % got
        assert [s for s in got if s != 409][0] in ok, got
        owners = [u for u, role in roles_of(admin, org).items() if role == "owner"]
        assert len(owners) == 1, "one owner must remain: %s" % owners


# --- pagination -----------------------------------------------------------------

def test_orgs_pagination_with_inserts_between_pages(stack, admin):
    u = new_user(stack, admin, "pager")
    prefix = unique("pg")
    # names whose order is known: prefix-b00, prefix-b02, ... (gaps for later inserts)
    initial = ["%s-b%02d" % (prefix, i) for i in range(0, 22, 2)]
    for name in initial:
        assert u.post(ORGS, {"name": name}).status_code == 201
    inserted = []

    def between(page):
        # one before the cursor (must not appear: already passed), one after it
        for name in ("%s-a%02d" % (prefix, page), "%s-b%02dx" % (prefix, 2 * page * 3 + 1)):
            if u.post(ORGS, {"name": name}).status_code == 201:
                inserted.append(name)

    items, pages = walk(u, ORGS, 3, between)
    names = [o["name"] for o in items]
    assert pages > 2
    assert len(names) == len(set(names)), "an item was repeated: %s" % names
    assert names == sorted(names), "pages must follow one order"
    for name in initial:
        assert name in names, "an item present from the start was skipped: %s" % name
    # every organization shown exists and is the caller's
    everything = {o["name"] for o in walk(u, ORGS, 100)[0]}
    assert set(names) <= everything
    assert set(initial) | set(inserted) == everything
    # keyset pages: what was inserted after the cursor shows, what went before does not
    for name in inserted:
        assert (name in names) == ("-b" in name[len(prefix):]), name


def test_members_pagination_with_inserts_between_pages(stack, admin):
    owner = new_user(stack, admin, "mpowner")
    org = new_org(owner)
    users = [new_user(stack, admin, "mp") for _ in range(7)]
    for u in users:
        assert add(owner, org, u, "member").status_code == 201
    added = []

    def between(page):
        extra = new_user(stack, admin, "mpx")
        assert add(owner, org, extra, "member").status_code == 201
        added.append(extra.id)

    items, pages = walk(owner, members_path(org), 3, between)
    ids = [m["user"]["id"] for m in items]
    emails = [m["user"]["email"] for m in items]
    assert pages >= 3
    assert len(ids) == len(set(ids)), "a member was repeated"
    assert emails == sorted(emails)
    for u in users + [owner]:
        assert u.id in ids, "a member present from the start was skipped"
    assert set(ids) <= set(roles_of(owner, org))


def test_page_size_bounds(stack, admin):
    u = new_user(stack, admin)
    org = new_org(u)
    for path in (ORGS, members_path(org)):
        for bad in ("0", "101", "-1", "abc", "1.5", ""):
            body = assert_problem(u.get(path + "?page_size=" + bad), 400, "validation_failed")
            assert any(e["field"] == "page_size" for e in body["errors"]), body
        for good in ("1", "100"):
            r = u.get(path + "?page_size=" + good)
            assert r.status_code == 200, r.text
            assert len(r.json()["items"]) <= int(good)
        r = u.get(path)
        assert r.status_code == 200 and r.json()["next_page_token"] is None


def _flip(token, i):
    c = token[i]
    return token[:i] + ("A" if c != "A" else "B") + token[i + 1:]


def test_forged_page_tokens_are_400(stack, admin):
    u = new_user(stack, admin)
    for _ in range(3):
        new_org(u)
    org = new_org(u)
    for v in (new_user(stack, admin) for _ in range(2)):
        assert add(u, org, v, "member").status_code == 201
    tok = u.get(ORGS + "?page_size=1").json()["next_page_token"]
    mtok = u.get(members_path(org) + "?page_size=1").json()["next_page_token"]
    assert tok and mtok
    # the genuine ones work
    assert u.get(ORGS + "?page_size=1&page_token=" + tok).status_code == 200
    assert u.get(members_path(org) + "?page_size=1&page_token=" + mtok).status_code == 200
    # a key the server never signed, carrying a real-looking organization name
    forged = base64.urlsafe_b64encode(b"zzzz" + b"\0" * 16).decode().rstrip("=")
    bad = [_flip(tok, 0), _flip(tok, len(tok) // 2), _flip(tok, len(tok) - 1), tok[:-2],
           tok + "AA", "x", "!!!!", forged, "A" * 2000]
    for t in bad:
        assert_problem(u.get(ORGS + "?page_token=" + t), 400, "invalid_request")
    # a token of one list is not valid on another
    assert_problem(u.get(members_path(org) + "?page_token=" + tok), 400, "invalid_request")
    assert_problem(u.get(ORGS + "?page_token=" + mtok), 400, "invalid_request")
    other = new_org(u)
    assert_problem(u.get(members_path(other) + "?page_token=" + mtok), 400, "invalid_request")
