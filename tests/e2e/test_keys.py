"""Service accounts and the life cycle of API keys (SPEC §3, §4, §5.8, §5.11;
the decisions of issue 13): creating, listing, reading, changing and deleting
service accounts; creating, reading, changing, rotating and deleting their
keys and users' personal keys; lifetimes, limits, resource scope, who may do
what, and when a key stops working.

Authentication details of keys (Basic, malformed keys, the token exchange,
revocation) are tests/e2e/test_key_auth.py's.

Every test makes its own users, organizations and service accounts with
unique names (the database is shared by all stacks of a session). Tests that
need other api_keys settings (a max_ttl of 100 years, keys without expiry)
run on one stack of their own (`long_stack`, lighttpd-jwt, started once for
this module)."""

import collections
import datetime
import re
import threading
import time
import zlib

import pytest

from conftest import Client, need_private
from harness.stack import unique
from test_hardening import HardStack
from test_orgs import (ME, ORGS, USERS, Caller, add, admin_of, assert_problem, members_path,
                       PASSWORD, new_org, new_user, signin, walk)
from test_orgs import admin, world  # noqa: F401 (fixtures: an organization with every role)

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

MY_KEYS = ME + "/keys"
SA_KEYS = {"id", "name", "identifier", "organization", "role", "display_name", "description",
           "created_at"}
KEY_KEYS = {"id", "kind", "display_name", "description", "owner", "org", "role", "resource",
            "created_at", "expires_at", "last_used_at"}
SECRET_KEYS = {"secret", "token"}
OWNER_KEYS = {"type", "id", "identifier"}
CRED_KEYS = {"type", "key_id", "expires_at", "resource"}
ME_USER_KEYS = {"id", "email", "display_name", "platform_admin", "created_at"}
DOMAIN = "service.lanyard.local"
KEY_ID = re.compile(r"^[A-Z2-7]{16}$")
SECRET = re.compile(r"^[0-9A-Za-z]{49}$")
SA_ID = re.compile(r"^sa-[a-z2-7]{12}$")
TIME = "%Y-%m-%dT%H:%M:%SZ"
DAY = 86400
RESOURCE = "env-z3q9rd.aws.us-east-1"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MAX_PER_ACCOUNT = 10     # api_keys.max_per_account when the config does not say
CHALLENGE = re.compile(r'^Bearer realm="lanyard", error="invalid_token", '
                       r'error_description="[^"\\]+"$')


# --- helpers ------------------------------------------------------------------

def now():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(s):
    assert isinstance(s, str) and s.endswith("Z"), s
    return datetime.datetime.strptime(s, TIME).replace(tzinfo=datetime.timezone.utc)


def fmt_time(t):
    return t.strftime(TIME)


def assert_near(got, want, slack=120, what=""):
    d = abs((parse_time(got) - want).total_seconds())
    assert d <= slack, "%s: %s is %ds away from %s" % (what, got, d, fmt_time(want))


def sa_path(org, sa=None):
    return "%s/%s/service-accounts%s" % (ORGS, org, "/" + sa if sa else "")


def keys_path(org, sa, key=None):
    return "%s/keys%s" % (sa_path(org, sa), "/" + key if key else "")


def org_keys_path(org, key=None):
    return "%s/%s/keys%s" % (ORGS, org, "/" + key if key else "")


def base62(n, width):
    out = ""
    while n:
        n, d = divmod(n, 62)
        out = BASE62[d] + out
    return out.rjust(width, "0")


def assert_sa(obj, org, name=None, role=None, domain=DOMAIN):
    assert set(obj) == SA_KEYS, sorted(obj)
    assert SA_ID.match(obj["id"]), obj["id"]
    if name is not None:
        assert obj["name"] == name
    assert obj["identifier"] == "%s@%s.%s" % (obj["name"], org, domain), obj["identifier"]
    assert obj["organization"] == org
    if role is not None:
        assert obj["role"] == role, obj
    parse_time(obj["created_at"])
    return obj


def assert_key(obj, secret=False):
    """The exact key object of SPEC §5.11: secret and token only in a 201."""
    want = KEY_KEYS | (SECRET_KEYS if secret else set())
    assert set(obj) == want, "fields %s, want %s" % (sorted(obj), sorted(want))
    assert KEY_ID.match(obj["id"]), obj["id"]
    assert obj["kind"] == "ApiKey"
    assert set(obj["owner"]) == OWNER_KEYS, obj["owner"]
    assert obj["owner"]["type"] in ("service_account", "user")
    parse_time(obj["created_at"])
    if obj["expires_at"] is not None:
        parse_time(obj["expires_at"])
    if obj["last_used_at"] is not None:
        parse_time(obj["last_used_at"])
    if secret:
        assert SECRET.match(obj["secret"]), obj["secret"]
        assert obj["token"] == "lyk_%s_%s" % (obj["id"], obj["secret"]), obj["token"]
        # SPEC §4: the last 6 characters are the CRC-32 of everything before them
        head = obj["token"][:-6]
        assert obj["token"][-6:] == base62(zlib.crc32(head.encode()), 6), obj["token"]
    return obj


def assert_refused(r, what=""):
    """A refused API key (Bearer): 401 invalid_token with the RFC 6750 challenge."""
    assert_problem(r, 401, "invalid_token")
    www = r.headers.get("WWW-Authenticate", "")
    assert CHALLENGE.match(www), "%s: WWW-Authenticate %r" % (what, www)


def assert_no_store(r):
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers.get("Cache-Control")


def as_key(stack, key):
    """A caller presenting an API key token as its Bearer credential."""
    return Caller(stack.url, key["token"])


def new_sa(caller, org, name=None, domain=DOMAIN, **body):
    body["name"] = name or unique("svc")  # not "sa-…": that looks like an id
    r = caller.post(sa_path(org), body)
    assert r.status_code == 201, r.text[:500]
    return assert_sa(r.json(), org, body["name"], domain=domain)


def new_key(caller, org, sa, **body):
    r = caller.post(keys_path(org, sa), body)
    assert r.status_code == 201, r.text[:500]
    return assert_key(r.json(), secret=True)


def new_personal_key(caller, org, **body):
    body["org"] = org
    r = caller.post(MY_KEYS, body)
    assert r.status_code == 201, r.text[:500]
    return assert_key(r.json(), secret=True)


def me_ok(stack, key):
    r = as_key(stack, key).get(ME)
    assert r.status_code == 200, "key %s on /me: %d %s" % (key["id"], r.status_code, r.text[:300])
    return r.json()


def lifetime(key):
    return (parse_time(key["expires_at"]) - parse_time(key["created_at"])).total_seconds()


# --- service accounts: creation ------------------------------------------------------

def test_sa_create_defaults_and_location(stack, world):
    w = world
    name = unique("etl")
    r = w.owner.post(sa_path(w.org), {"name": name})
    assert r.status_code == 201, r.text
    sa = assert_sa(r.json(), w.org, name, "member")
    assert sa["display_name"] is None and sa["description"] is None
    assert abs((parse_time(sa["created_at"]) - now()).total_seconds()) < 120
    assert r.headers.get("Location") == stack.url + sa_path(w.org, name), r.headers.get("Location")
    by_name = w.owner.get(sa_path(w.org, name))
    assert by_name.status_code == 200 and by_name.json() == sa, by_name.text
    by_id = w.owner.get(sa_path(w.org, sa["id"]))
    assert by_id.status_code == 200 and by_id.json() == sa, by_id.text


def test_sa_create_admin_with_names(stack, world):
    w = world
    body = {"name": unique("ops"), "role": "admin", "display_name": "Ops robot",
            "description": "runs the nightly jobs \u2713"}
    r = w.org_admin.post(sa_path(w.org), body)
    assert r.status_code == 201, r.text
    sa = assert_sa(r.json(), w.org, body["name"], "admin")
    assert sa["display_name"] == "Ops robot"
    assert sa["description"] == "runs the nightly jobs \u2713"
    # a platform administrator who is no member may create one too
    sa2 = new_sa(w.admin, w.org, role="member")
    assert sa2["role"] == "member" and sa2["id"] != sa["id"]


def test_sa_create_validation(stack, world):
    w = world
    for body, field in (
            ({"name": unique("a"), "role": "owner"}, "role"),
            ({"name": unique("a"), "role": "superuser"}, "role"),
            ({"name": unique("a"), "role": 1}, "role"),
            ({}, "name"),
            ({"name": None}, "name"),
            ({"name": "Bad_Name"}, "name"),
            ({"name": "a"}, "name"),
            ({"name": "x" * 64}, "name"),
            ({"name": unique("a"), "display_name": "d" * 201}, "display_name"),
            ({"name": unique("a"), "description": "d" * 1001}, "description"),
            ({"name": unique("a"), "description": "a\u0007b"}, "description"),
            ({"name": unique("a"), "organization": w.other}, None)):
        b = assert_problem(w.owner.post(sa_path(w.org), body), 400, "validation_failed")
        if field:
            assert any(e["field"] == field for e in b["errors"]), (body, b)
    r = w.owner.get(sa_path(w.org) + "?page_size=100")
    assert r.status_code == 200 and r.json()["items"] == [], r.text


def test_sa_taken_name_is_409_per_org(stack, world):
    w = world
    name = unique("dup")
    new_sa(w.owner, w.org, name)
    assert_problem(w.owner.post(sa_path(w.org), {"name": name}), 409, "conflict")
    assert_problem(w.owner.post(sa_path(w.org), {"name": name, "role": "admin"}), 409,
                   "conflict")
    # names are unique within their organization only
    other = new_sa(w.outsider, w.other, name)
    assert other["identifier"] == "%s@%s.%s" % (name, w.other, DOMAIN)


# --- service accounts: reading ---------------------------------------------------------

def test_sa_list_paginated(stack, world):
    w = world
    made = {new_sa(w.owner, w.org)["id"] for _ in range(5)}
    new_sa(w.outsider, w.other)  # another organization's: never listed here
    items, pages = walk(w.member, sa_path(w.org), 2)
    assert pages >= 3, pages
    assert {i["id"] for i in items} == made
    assert len(items) == 5
    for i in items:
        assert_sa(i, w.org)
    assert_problem(w.owner.get(sa_path(w.org) + "?page_size=0"), 400, "validation_failed")
    assert_problem(w.owner.get(sa_path(w.org) + "?page_size=101"), 400, "validation_failed")
    assert w.owner.get(sa_path(w.org) + "?page_token=forged").status_code == 400


def test_sa_unknown_is_404(stack, world):
    w = world
    for ref in ("nobody-here", "sa-aaaaaaaaaaaa", "NOT_A_NAME"):
        assert_problem(w.owner.get(sa_path(w.org, ref)), 404, "not_found")
        assert_problem(w.owner.patch(sa_path(w.org, ref), {"display_name": "x"}), 404,
                       "not_found")
        assert_problem(w.owner.delete(sa_path(w.org, ref)), 404, "not_found")
        assert_problem(w.owner.post(keys_path(w.org, ref), {}), 404, "not_found")
    # an account of another organization, by id, through this one
    theirs = new_sa(w.outsider, w.other)
    assert_problem(w.owner.get(sa_path(w.org, theirs["id"])), 404, "not_found")
    assert_problem(w.owner.get(sa_path(w.org, theirs["name"])), 404, "not_found")


# --- service accounts: who may -----------------------------------------------------------

def test_sa_by_role(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    # a member reads, but neither creates, changes nor deletes; nor sees keys
    assert w.member.get(sa_path(w.org)).status_code == 200
    assert w.member.get(sa_path(w.org, sa["name"])).json() == sa
    assert_problem(w.member.post(sa_path(w.org), {"name": unique("m")}), 403, "forbidden")
    assert_problem(w.member.patch(sa_path(w.org, sa["name"]), {"display_name": "x"}), 403,
                   "forbidden")
    assert_problem(w.member.delete(sa_path(w.org, sa["name"])), 403, "forbidden")
    assert_problem(w.member.post(keys_path(w.org, sa["name"]), {}), 403, "forbidden")
    assert_problem(w.member.get(keys_path(w.org, sa["name"])), 403, "forbidden")
    # a non-member sees nothing at all
    for r in (w.outsider.get(sa_path(w.org)), w.outsider.get(sa_path(w.org, sa["name"])),
              w.outsider.post(sa_path(w.org), {"name": unique("o")}),
              w.outsider.patch(sa_path(w.org, sa["name"]), {"display_name": "x"}),
              w.outsider.delete(sa_path(w.org, sa["name"])),
              w.outsider.post(keys_path(w.org, sa["name"]), {}),
              w.outsider.get(keys_path(w.org, sa["name"])),
              w.owner.get(sa_path("no-such-org-" + unique("x")))):
        assert_problem(r, 404, "not_found")
    # an org admin and a platform administrator manage
    assert w.org_admin.patch(sa_path(w.org, sa["name"]),
                             {"display_name": "by admin"}).status_code == 200
    assert w.admin.patch(sa_path(w.org, sa["id"]),
                         {"description": "by platform admin"}).status_code == 200
    assert w.owner.get(sa_path(w.org, sa["name"])).json()["description"] == "by platform admin"
    assert w.admin.delete(sa_path(w.org, sa["name"])).status_code == 204


def test_sa_patch(stack, world):
    w = world
    sa = new_sa(w.owner, w.org, display_name="Before", description="old")
    path = sa_path(w.org, sa["name"])
    r = w.owner.patch(path, {"display_name": "After", "description": "new words"})
    assert r.status_code == 200, r.text
    got = assert_sa(r.json(), w.org, sa["name"], "member")
    assert got["display_name"] == "After" and got["description"] == "new words"
    assert got["id"] == sa["id"] and got["created_at"] == sa["created_at"]
    r = w.owner.patch(sa_path(w.org, sa["id"]), {"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin", r.text
    assert r.json()["display_name"] == "After"
    r = w.owner.patch(path, {"role": "member", "description": None})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "member" and r.json()["description"] is None
    for body in ({"name": "renamed"}, {"role": "owner"}, {"role": "root"},
                 {"organization": w.other}, {"id": "sa-aaaaaaaaaaaa"},
                 {"display_name": "d" * 201}, {"display_name": 3}):
        assert_problem(w.owner.patch(path, body), 400, "validation_failed")
    final = w.owner.get(path)
    assert final.status_code == 200 and final.json() == r.json()
    # its key's /me shows the account as it is now
    key = new_key(w.owner, w.org, sa["name"])
    assert me_ok(stack, key)["service_account"] == final.json()
    assert w.owner.patch(path, {"role": "admin", "display_name": "Later"}).status_code == 200
    me = me_ok(stack, key)["service_account"]
    assert me["role"] == "admin" and me["display_name"] == "Later"


def test_sa_delete_refuses_its_keys_at_once(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    k1 = new_key(w.owner, w.org, sa["name"])
    k2 = new_key(w.owner, w.org, sa["id"])
    assert me_ok(stack, k1)["type"] == "service_account"
    me_ok(stack, k2)
    r = w.owner.delete(sa_path(w.org, sa["name"]))
    assert r.status_code == 204, r.text
    assert r.content == b""
    for k in (k1, k2):
        assert_refused(as_key(stack, k).get(ME), "key of a deleted service account")
    assert_problem(w.owner.get(sa_path(w.org, sa["name"])), 404, "not_found")
    assert_problem(w.owner.get(sa_path(w.org, sa["id"])), 404, "not_found")
    assert_problem(w.owner.delete(sa_path(w.org, sa["name"])), 404, "not_found")
    assert_problem(w.owner.get(keys_path(w.org, sa["name"], k1["id"])), 404, "not_found")
    listed = {k["id"] for k in walk(w.owner, org_keys_path(w.org), 100)[0]}
    assert not listed & {k1["id"], k2["id"]}
    # the name is free again; the new account's keys are not the old one's
    again = new_sa(w.owner, w.org, sa["name"])
    assert again["id"] != sa["id"]
    assert walk(w.owner, keys_path(w.org, sa["name"]), 100)[0] == []


def test_admin_service_account_manages_its_org(stack, world):
    w = world
    robot = new_sa(w.owner, w.org, role="admin")
    rk = as_key(stack, new_key(w.owner, w.org, robot["name"]))
    # accounts
    sa = new_sa(rk, w.org, description="made by a robot")
    assert rk.get(sa_path(w.org)).status_code == 200
    r = rk.patch(sa_path(w.org, sa["name"]), {"display_name": "robot-made", "role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin", r.text
    # keys
    key = new_key(rk, w.org, sa["name"], display_name="from robot")
    assert key["owner"] == {"type": "service_account", "id": sa["id"],
                            "identifier": sa["identifier"]}
    assert me_ok(stack, key)["service_account"]["id"] == sa["id"]
    r = rk.patch(keys_path(w.org, sa["name"], key["id"]), {"description": "patched"})
    assert r.status_code == 200 and r.json()["description"] == "patched", r.text
    r = rk.post(keys_path(w.org, sa["name"], key["id"]) + "/rotate", {"grace": "0s"})
    assert r.status_code == 201, r.text
    rotated = assert_key(r.json(), secret=True)
    assert rk.get(keys_path(w.org, sa["name"])).status_code == 200
    assert rk.get(org_keys_path(w.org)).status_code == 200
    assert rk.delete(keys_path(w.org, sa["name"], rotated["id"])).status_code == 204
    assert_refused(as_key(stack, rotated).get(ME))
    assert rk.delete(sa_path(w.org, sa["name"])).status_code == 204
    # demoted to member, the same key manages nothing from now on
    assert w.owner.patch(sa_path(w.org, robot["name"]), {"role": "member"}).status_code == 200
    assert_problem(rk.post(sa_path(w.org), {"name": unique("x")}), 403, "forbidden")
    assert_problem(rk.get(org_keys_path(w.org)), 403, "forbidden")
    assert rk.get(sa_path(w.org)).status_code == 200
    # another organization does not exist for it
    theirs = new_sa(w.outsider, w.other)
    for r in (rk.get(ORGS + "/" + w.other), rk.get(sa_path(w.other)),
              rk.post(sa_path(w.other), {"name": unique("x")}),
              rk.get(sa_path(w.other, theirs["name"])),
              rk.post(keys_path(w.other, theirs["name"]), {}),
              rk.get(org_keys_path(w.other))):
        assert_problem(r, 404, "not_found")


def test_member_service_account_reads_only(stack, world):
    w = world
    robot = new_sa(w.owner, w.org, role="member")
    rk = as_key(stack, new_key(w.owner, w.org, robot["name"]))
    sa = new_sa(w.owner, w.org)
    assert rk.get(sa_path(w.org)).status_code == 200
    assert rk.get(sa_path(w.org, sa["id"])).json() == sa
    assert_problem(rk.post(sa_path(w.org), {"name": unique("x")}), 403, "forbidden")
    assert_problem(rk.patch(sa_path(w.org, sa["name"]), {"display_name": "x"}), 403, "forbidden")
    assert_problem(rk.post(keys_path(w.org, sa["name"]), {}), 403, "forbidden")
    assert_problem(rk.post(keys_path(w.org, robot["name"]), {}), 403, "forbidden")
    assert_problem(rk.get(org_keys_path(w.org)), 403, "forbidden")
    assert_problem(rk.delete(sa_path(w.org, sa["name"])), 403, "forbidden")
    # promoted, the same key may (the account's current role applies)
    assert w.owner.patch(sa_path(w.org, robot["name"]), {"role": "admin"}).status_code == 200
    assert rk.post(sa_path(w.org), {"name": unique("x")}).status_code == 201


def test_sa_key_on_me_keys_is_403(stack, world):
    w = world
    robot = new_sa(w.owner, w.org, role="admin")
    rk = as_key(stack, new_key(w.owner, w.org, robot["name"]))
    assert_problem(rk.get(MY_KEYS), 403, "forbidden")
    assert_problem(rk.post(MY_KEYS, {"org": w.org}), 403, "forbidden")


# --- keys: creation ---------------------------------------------------------------------

def test_create_key_shape(stack, world):
    w = world
    sa = new_sa(w.owner, w.org, display_name="ETL")
    before = now()
    r = w.owner.post(keys_path(w.org, sa["name"]),
                     {"display_name": "flinkapikey", "description": "for flink"})
    assert r.status_code == 201, r.text
    assert_no_store(r)
    key = assert_key(r.json(), secret=True)
    assert r.headers.get("Location") == stack.url + keys_path(w.org, sa["name"], key["id"]), \
        r.headers.get("Location")
    assert key["owner"] == {"type": "service_account", "id": sa["id"],
                            "identifier": sa["identifier"]}
    assert key["org"] == w.org and key["role"] is None and key["resource"] is None
    assert key["display_name"] == "flinkapikey" and key["description"] == "for flink"
    assert key["last_used_at"] is None
    assert_near(key["created_at"], before, 60, "created_at")
    # neither ttl nor expires_at: api_keys.default_ttl (365d)
    assert_near(key["expires_at"], before + datetime.timedelta(days=365), 120, "expires_at")
    # the token is a Bearer credential of the account
    me = me_ok(stack, key)
    assert set(me) == {"type", "service_account", "credential"}, sorted(me)
    assert me["type"] == "service_account"
    assert me["service_account"] == w.owner.get(sa_path(w.org, sa["name"])).json()
    assert me["credential"] == {"type": "api_key", "key_id": key["id"],
                                "expires_at": key["expires_at"], "resource": None}
    # by the account's id as well; two keys never share an id or a secret
    r = w.owner.post(keys_path(w.org, sa["id"]), {})
    assert r.status_code == 201, r.text
    k2 = assert_key(r.json(), secret=True)
    # the Location names the account by its name, however the request named it
    assert r.headers.get("Location") == stack.url + keys_path(w.org, sa["name"], k2["id"]), \
        r.headers.get("Location")
    assert k2["id"] != key["id"] and k2["secret"] != key["secret"]
    assert k2["display_name"] is None and k2["description"] is None


def test_secret_is_never_shown_again(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    key = new_key(w.owner, w.org, sa["name"], display_name="shown once")
    pk = new_personal_key(w.member, w.org)
    seen = []

    def look(r):
        assert r.status_code == 200, r.text[:300]
        seen.append(r.text)
        return r.json()

    got = look(w.owner.get(keys_path(w.org, sa["name"], key["id"])))
    assert set(got) == KEY_KEYS, sorted(got)
    for obj in look(w.owner.get(keys_path(w.org, sa["name"])))["items"]:
        assert set(obj) == KEY_KEYS, sorted(obj)
    got = look(w.owner.patch(keys_path(w.org, sa["name"], key["id"]), {"display_name": "renamed"}))
    assert set(got) == KEY_KEYS, sorted(got)
    for obj in look(w.owner.get(org_keys_path(w.org)))["items"]:
        assert set(obj) == KEY_KEYS, sorted(obj)
    for obj in look(w.member.get(MY_KEYS))["items"]:
        assert set(obj) == KEY_KEYS, sorted(obj)
    got = look(w.member.get(MY_KEYS + "/" + pk["id"]))
    assert set(got) == KEY_KEYS, sorted(got)
    got = look(w.member.patch(MY_KEYS + "/" + pk["id"], {"description": "mine"}))
    assert set(got) == KEY_KEYS, sorted(got)
    look(as_key(stack, key).get(ME))
    look(as_key(stack, pk).get(ME))
    look(w.owner.get(sa_path(w.org, sa["name"])))
    for text in seen:
        for k in (key, pk):
            assert k["secret"] not in text
            assert k["token"] not in text


def test_key_lifetimes(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    path = keys_path(w.org, sa["name"])
    t = now()
    soon = fmt_time(t + datetime.timedelta(seconds=30))
    later = fmt_time(t + datetime.timedelta(days=10))
    for body in ({"ttl": "30d", "expires_at": later},
                 {"ttl": "59s"}, {"ttl": 59}, {"ttl": "0s"}, {"ttl": 0}, {"ttl": -3600},
                 {"expires_at": soon},
                 {"expires_at": fmt_time(t - datetime.timedelta(days=1))},
                 {"ttl": "731d"}, {"ttl": 731 * DAY},
                 {"expires_at": fmt_time(t + datetime.timedelta(days=740))},
                 {"expires_at": None},
                 {"ttl": "thirty days"}, {"ttl": "30x"}, {"ttl": True},
                 {"expires_at": "tomorrow"}, {"expires_at": "2030-13-01T00:00:00Z"},
                 {"expires_at": 1900000000}):
        b = assert_problem(w.owner.post(path, body), 400, "validation_failed")
        assert b["errors"], body
    assert walk(w.owner, path, 100)[0] == [], "a refused key was stored"
    cases = [({"ttl": "90d"}, 90 * DAY), ({"ttl": 3600}, 3600), ({"ttl": "12h"}, 12 * 3600),
             ({"ttl": "15m"}, 900), ({"ttl": "60s"}, 60), ({"ttl": "730d"}, 730 * DAY),
             ({}, 365 * DAY)]
    for body, seconds in cases:
        t0 = now()
        key = new_key(w.owner, w.org, sa["name"], **body)
        assert_near(key["expires_at"], t0 + datetime.timedelta(seconds=seconds), 60, str(body))
        assert abs(lifetime(key) - seconds) <= 2, (body, key)
    # RFC 3339 with an offset: the same instant, answered in UTC with Z
    t = (now() + datetime.timedelta(days=20)).replace(microsecond=0)
    key = new_key(w.owner, w.org, sa["name"],
                  expires_at=t.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
                  .strftime("%Y-%m-%dT%H:%M:%S+02:00"))
    assert key["expires_at"] == fmt_time(t), key["expires_at"]
    exact = fmt_time(now() + datetime.timedelta(days=10, hours=3, seconds=17))
    key = new_key(w.owner, w.org, sa["name"], expires_at=exact)
    assert key["expires_at"] == exact
    got = w.owner.get(keys_path(w.org, sa["name"], key["id"])).json()
    assert got["expires_at"] == exact
    assert me_ok(stack, key)["credential"]["expires_at"] == exact


def test_key_body_validation(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    path = keys_path(w.org, sa["name"])
    for body, field in (({"display_name": "d" * 201}, "display_name"),
                        ({"description": "d" * 1001}, "description"),
                        ({"display_name": "a\nb"}, "display_name"),
                        ({"display_name": 7}, "display_name"),
                        ({"resource": "env z3q9rd"}, "resource"),
                        ({"resource": "env*1"}, "resource"),
                        ({"resource": "caf\u00e9"}, "resource"),
                        ({"resource": ""}, "resource"),
                        ({"resource": "r" * 256}, "resource"),
                        ({"resource": 5}, "resource"),
                        ({"role": "admin"}, None),       # a service account's key has no role
                        ({"org": w.org}, None),
                        ({"secret": "chosen"}, None),
                        ({"id": "QWJ3MXZT5RBN2AKE"}, None)):
        b = assert_problem(w.owner.post(path, body), 400, "validation_failed")
        if field:
            assert any(e["field"] == field for e in b["errors"]), (body, b)
    r = w.owner.req("POST", path, data="{", headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "invalid_json")
    assert walk(w.owner, path, 100)[0] == [], "a refused key was stored"
    # the longest resource, every allowed character
    res = ("A-Za-z0-9._:/-" * 19)[:255]
    key = new_key(w.owner, w.org, sa["name"], resource=res)
    assert key["resource"] == res and len(res) == 255
    assert len(walk(w.owner, path, 100)[0]) == 1


# --- keys: reading, changing, deleting -------------------------------------------------------

def test_key_get_and_list(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    other = new_sa(w.owner, w.org)
    made = [new_key(w.owner, w.org, sa["name"], display_name="k%d" % i) for i in range(3)]
    new_key(w.owner, w.org, other["name"])
    for k in made:
        for ref in (sa["name"], sa["id"]):
            r = w.owner.get(keys_path(w.org, ref, k["id"]))
            assert r.status_code == 200, r.text
            got = assert_key(r.json())
            want = {f: v for f, v in k.items() if f not in SECRET_KEYS}
            assert got == want
    items, pages = walk(w.org_admin, keys_path(w.org, sa["name"]), 2)
    assert pages >= 2
    assert [i["id"] for i in items] == sorted(k["id"] for k in made), "ordered by id"
    for path in (keys_path(w.org, sa["name"]), org_keys_path(w.org), MY_KEYS):
        r = w.owner.get(path + "?page_token=forged-token")
        assert r.status_code == 400, "%s: %d %s" % (path, r.status_code, r.text[:200])
        assert_problem(w.owner.get(path + "?page_size=0"), 400, "validation_failed")
    # a key is found only under its own account and organization
    k = made[0]
    for path in (keys_path(w.org, other["name"], k["id"]),
                 keys_path(w.org, sa["name"], "AAAAAAAAAAAAAAAA"),
                 keys_path(w.org, sa["name"], "not-a-key-id"),
                 keys_path(w.other, sa["name"], k["id"])):
        assert_problem(w.owner.get(path), 404, "not_found")
        assert_problem(w.owner.patch(path, {"display_name": "x"}), 404, "not_found")
        assert_problem(w.owner.delete(path), 404, "not_found")
        assert_problem(w.owner.post(path + "/rotate", {}), 404, "not_found")
    # the personal-key path does not reach service-account keys
    assert_problem(w.owner.get(MY_KEYS + "/" + k["id"]), 404, "not_found")


def test_key_patch(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    key = new_key(w.owner, w.org, sa["name"], display_name="before", description="d0",
                  resource=RESOURCE, ttl="20d")
    path = keys_path(w.org, sa["name"], key["id"])
    r = w.org_admin.patch(path, {"display_name": "after", "description": "d1"})
    assert r.status_code == 200, r.text
    got = assert_key(r.json())
    assert got["display_name"] == "after" and got["description"] == "d1"
    for f in ("id", "owner", "org", "role", "resource", "created_at", "expires_at"):
        assert got[f] == key[f], f
    r = w.owner.patch(path, {"description": None})
    assert r.status_code == 200 and r.json()["description"] is None, r.text
    assert r.json()["display_name"] == "after"
    for body in ({"resource": "other"}, {"resource": None}, {"role": "admin"},
                 {"expires_at": fmt_time(now() + datetime.timedelta(days=2))}, {"ttl": "1d"},
                 {"secret": "x"}, {"display_name": "d" * 201}, {"description": 1}):
        assert_problem(w.owner.patch(path, body), 400, "validation_failed")
    final = w.owner.get(path).json()
    assert final == r.json()
    assert me_ok(stack, key)["credential"]["resource"] == RESOURCE


def test_key_delete_refuses_at_once(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    key = new_key(w.owner, w.org, sa["name"])
    keep = new_key(w.owner, w.org, sa["name"])
    me_ok(stack, key)
    r = w.org_admin.delete(keys_path(w.org, sa["name"], key["id"]))
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_refused(as_key(stack, key).get(ME), "deleted key")
    assert_problem(w.owner.get(keys_path(w.org, sa["name"], key["id"])), 404, "not_found")
    assert_problem(w.owner.delete(keys_path(w.org, sa["name"], key["id"])), 404, "not_found")
    assert [k["id"] for k in walk(w.owner, keys_path(w.org, sa["name"]), 100)[0]] == [keep["id"]]
    me_ok(stack, keep)


# --- resource scope ------------------------------------------------------------------------

def test_scoped_key(stack, world):
    w = world
    sa = new_sa(w.owner, w.org, role="admin")
    key = new_key(w.owner, w.org, sa["name"], resource=RESOURCE)
    assert key["resource"] == RESOURCE
    got = w.owner.get(keys_path(w.org, sa["name"], key["id"])).json()
    assert got["resource"] == RESOURCE
    me = me_ok(stack, key)
    assert me["credential"]["resource"] == RESOURCE
    assert me["credential"]["key_id"] == key["id"]
    k = as_key(stack, key)
    # an admin account's key, but scoped: nothing of Lanyard's own API but /me
    for r in (k.get(ORGS), k.get(ORGS + "/" + w.org), k.post(ORGS, {"name": unique("x")}),
              k.patch(ORGS + "/" + w.org, {"display_name": "x"}),
              k.get(sa_path(w.org)), k.post(sa_path(w.org), {"name": unique("x")}),
              k.get(keys_path(w.org, sa["name"])), k.post(keys_path(w.org, sa["name"]), {}),
              k.get(org_keys_path(w.org)), k.get(members_path(w.org)), k.get(MY_KEYS),
              k.get(USERS)):
        assert_problem(r, 403, "forbidden")
    assert w.owner.get(sa_path(w.org, sa["name"])).status_code == 200
    # a scoped personal key likewise
    pk = new_personal_key(w.owner, w.org, role="admin", resource="my-company/sentinel-repo")
    assert pk["resource"] == "my-company/sentinel-repo"
    me = me_ok(stack, pk)
    assert me["credential"]["resource"] == "my-company/sentinel-repo"
    p = as_key(stack, pk)
    for r in (p.get(ORGS), p.get(ORGS + "/" + w.org),
              p.patch(ORGS + "/" + w.org, {"display_name": "x"}), p.get(sa_path(w.org)),
              p.get(members_path(w.org))):
        assert_problem(r, 403, "forbidden")


# --- rotation ------------------------------------------------------------------------------

def test_rotate_default_grace_both_work(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    old = new_key(w.owner, w.org, sa["name"], display_name="rot", description="rotated",
                  resource=RESOURCE, ttl="30d")
    t0 = now()
    r = w.owner.post(keys_path(w.org, sa["name"], old["id"]) + "/rotate", {})
    assert r.status_code == 201, r.text
    assert_no_store(r)
    new = assert_key(r.json(), secret=True)
    assert r.headers.get("Location") == stack.url + keys_path(w.org, sa["name"], new["id"])
    assert new["id"] != old["id"] and new["secret"] != old["secret"]
    for f in ("owner", "org", "role", "display_name", "description", "resource"):
        assert new[f] == old[f], f
    assert new["last_used_at"] is None
    assert abs(lifetime(new) - 30 * DAY) <= 2, new
    assert_near(new["expires_at"], t0 + datetime.timedelta(days=30), 60, "new expires_at")
    # the old one ends after the default grace of 24h (earlier than its own 30d)
    got = w.owner.get(keys_path(w.org, sa["name"], old["id"])).json()
    assert_near(got["expires_at"], t0 + datetime.timedelta(hours=24), 60, "old expires_at")
    assert got["created_at"] == old["created_at"]
    assert me_ok(stack, old)["credential"]["expires_at"] == got["expires_at"]
    assert me_ok(stack, new)["credential"]["key_id"] == new["id"]
    listed = [k["id"] for k in walk(w.owner, keys_path(w.org, sa["name"]), 100)[0]]
    assert listed == sorted([old["id"], new["id"]])


def test_rotate_grace_zero_ends_old_at_once(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    old = new_key(w.owner, w.org, sa["name"], ttl="2d")
    exchanged = Client(stack.url)
    r = exchanged.post("/api/auth/v1/token", data={"grant_type": "client_credentials"},
                       auth=(old["id"], old["secret"]))
    assert r.status_code == 200, r.text
    exchanged.s.headers["Authorization"] = "Bearer " + r.json()["access_token"]
    assert exchanged.get(ME).status_code == 200
    t0 = now()
    r = w.owner.post(keys_path(w.org, sa["name"], old["id"]) + "/rotate", {"grace": "0s"})
    assert r.status_code == 201, r.text
    new = assert_key(r.json(), secret=True)
    assert_refused(as_key(stack, old).get(ME), "rotated with grace 0s")
    me_ok(stack, new)
    # an opaque token exchanged with the old key ends with it (a JWT cannot be recalled)
    if stack.mode == "opaque":
        assert_refused(exchanged.get(ME), "exchanged with a key rotated with grace 0s")
    got = w.owner.get(keys_path(w.org, sa["name"], old["id"]))
    assert got.status_code == 200, "an expired key stays listed until purged: " + got.text
    assert_near(got.json()["expires_at"], t0, 30, "old expires_at")
    # the account's list shows expired keys too; the organization's only live ones
    listed = [k["id"] for k in walk(w.owner, keys_path(w.org, sa["name"]), 100)[0]]
    assert listed == sorted([old["id"], new["id"]])
    org_listed = {k["id"] for k in walk(w.owner, org_keys_path(w.org), 100)[0]}
    assert new["id"] in org_listed and old["id"] not in org_listed
    # an expired key is not rotated again
    assert_problem(w.owner.post(keys_path(w.org, sa["name"], old["id"]) + "/rotate", {}), 409,
                   "conflict")
    # a grace given as integer seconds
    r = w.owner.post(keys_path(w.org, sa["name"], new["id"]) + "/rotate", {"grace": 3600})
    assert r.status_code == 201, r.text
    got = w.owner.get(keys_path(w.org, sa["name"], new["id"])).json()
    assert_near(got["expires_at"], now() + datetime.timedelta(hours=1), 60, "grace 3600")


def test_rotate_grace_rules(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    old = new_key(w.owner, w.org, sa["name"], ttl="1h")
    path = keys_path(w.org, sa["name"], old["id"]) + "/rotate"
    for body in ({"grace": "31d"}, {"grace": 31 * DAY}, {"grace": "-1s"}, {"grace": -5},
                 {"grace": "soon"}, {"grace": True}, {"grace": "1d", "ttl": "2d"},
                 {"display_name": "x"}):
        assert_problem(w.owner.post(path, body), 400, "validation_failed")
    assert len(walk(w.owner, keys_path(w.org, sa["name"]), 100)[0]) == 1
    # a grace longer than the key has left: the old key keeps its own expiry
    r = w.owner.post(path, {"grace": "30d"})
    assert r.status_code == 201, r.text
    new = assert_key(r.json(), secret=True)
    got = w.owner.get(keys_path(w.org, sa["name"], old["id"])).json()
    assert got["expires_at"] == old["expires_at"]
    assert abs(lifetime(new) - 3600) <= 2, new
    me_ok(stack, old)
    me_ok(stack, new)


def test_rotate_allowed_at_max_per_account(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    keys = [new_key(w.owner, w.org, sa["name"]) for _ in range(MAX_PER_ACCOUNT)]
    assert_problem(w.owner.post(keys_path(w.org, sa["name"]), {}), 409, "conflict")
    r = w.owner.post(keys_path(w.org, sa["name"], keys[0]["id"]) + "/rotate", {})
    assert r.status_code == 201, r.text
    new = assert_key(r.json(), secret=True)
    me_ok(stack, new)
    me_ok(stack, keys[0])   # in its grace
    assert_problem(w.owner.post(keys_path(w.org, sa["name"]), {}), 409, "conflict")
    # deleting one frees a place
    for k in (keys[0], keys[1]):
        assert w.owner.delete(keys_path(w.org, sa["name"], k["id"])).status_code == 204
    new_key(w.owner, w.org, sa["name"])
    assert_problem(w.owner.post(keys_path(w.org, sa["name"]), {}), 409, "conflict")


def test_max_per_account_under_concurrency(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    path = keys_path(w.org, sa["name"])
    n = 2 * MAX_PER_ACCOUNT
    barrier = threading.Barrier(n)
    results = [None] * n
    callers = [w.owner.fresh() for _ in range(n)]

    def run(i):
        try:
            barrier.wait(timeout=30)
            r = callers[i].post(path, {"display_name": "race %d" % i})
            results[i] = (r.status_code, r.text[:200])
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = (None, repr(e))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = collections.Counter(r[0] for r in results if r)
    stored = len(walk(w.owner, path, 100)[0])
    assert codes == {201: MAX_PER_ACCOUNT, 409: n - MAX_PER_ACCOUNT}, \
        "answers %s, %d keys stored; %s" % (dict(codes), stored,
                                           [r for r in results if r and r[0] != 201][:3])
    assert stored == MAX_PER_ACCOUNT


# --- personal keys ------------------------------------------------------------------------------

def test_personal_key_create_shape(stack, world):
    w = world
    before = now()
    r = w.member.post(MY_KEYS, {"org": w.org, "display_name": "laptop", "ttl": "7d"})
    assert r.status_code == 201, r.text
    assert_no_store(r)
    key = assert_key(r.json(), secret=True)
    assert r.headers.get("Location") == stack.url + MY_KEYS + "/" + key["id"]
    assert key["owner"] == {"type": "user", "id": w.member.id, "identifier": w.member.email}
    assert key["org"] == w.org and key["role"] == "member" and key["resource"] is None
    assert key["display_name"] == "laptop" and key["description"] is None
    assert key["last_used_at"] is None
    assert_near(key["expires_at"], before + datetime.timedelta(days=7), 60, "expires_at")
    me = me_ok(stack, key)
    assert set(me) == {"type", "user", "organizations", "credential"}, sorted(me)
    assert me["type"] == "user"
    assert set(me["user"]) == ME_USER_KEYS and me["user"]["id"] == w.member.id
    assert me["user"]["email"] == w.member.email and me["user"]["platform_admin"] is False
    assert me["organizations"] == [{"name": w.org, "display_name": "World Inc.",
                                    "role": "member"}], me["organizations"]
    assert me["credential"] == {"type": "api_key", "key_id": key["id"],
                                "expires_at": key["expires_at"], "resource": None}


def test_personal_key_only_its_org(stack, world):
    """The member of two organizations: the key's /me shows only its own, and
    the other organization is invisible to it."""
    w = world
    second = new_org(w.owner)
    assert add(w.owner, second, w.member, "admin").status_code == 201
    key = new_personal_key(w.member, w.org)
    me = me_ok(stack, key)
    assert [o["name"] for o in me["organizations"]] == [w.org]
    k = as_key(stack, key)
    assert k.get(ORGS + "/" + w.org).status_code == 200
    # SPEC is silent on 403 or 404 here (the user could see it; the key may not)
    for r in (k.get(ORGS + "/" + second), k.get(sa_path(second)),
              k.patch(ORGS + "/" + second, {"display_name": "x"})):
        assert r.status_code in (403, 404), r.text[:300]
        assert_problem(r, r.status_code, "forbidden" if r.status_code == 403 else "not_found")
    # the user's own token still sees both
    names = {o["name"] for o in w.member.get(ME).json()["organizations"]}
    assert {w.org, second} <= names


def test_personal_key_roles(stack, world):
    w = world
    for who in (w.owner, w.org_admin):
        k = new_personal_key(who, w.org, role="admin")
        assert k["role"] == "admin"
        assert me_ok(stack, k)["organizations"][0]["role"] == "admin"
        k = new_personal_key(who, w.org, role="member")
        assert k["role"] == "member"
        assert me_ok(stack, k)["organizations"][0]["role"] == "member"
    k = new_personal_key(w.owner, w.org)
    assert k["role"] == "member", "the default role is member, even for an owner"
    assert_problem(w.member.post(MY_KEYS, {"org": w.org, "role": "admin"}), 403, "forbidden")
    for body in ({"org": w.org, "role": "owner"}, {"org": w.org, "role": "root"},
                 {"org": w.org, "role": 1}, {}, {"org": None}, {"org": 5},
                 {"org": w.org, "ttl": "1s"}, {"org": w.org, "ttl": "731d"},
                 {"org": w.org, "expires_at": None}, {"org": w.org, "resource": "a b"},
                 {"org": w.org, "ttl": "1d", "expires_at": fmt_time(now() + datetime.timedelta(2))},
                 {"org": w.org, "owner": w.owner.id}):
        assert_problem(w.owner.post(MY_KEYS, body), 400, "validation_failed")
    for org in (w.other, "no-such-org-" + unique("x")):
        assert_problem(w.member.post(MY_KEYS, {"org": org}), 404, "not_found")
    # a platform administrator who is no member of the organization: 404 as well
    assert_problem(w.admin.post(MY_KEYS, {"org": w.org}), 404, "not_found")


def test_personal_key_life_cycle(stack, world):
    w = world
    a = new_personal_key(w.member, w.org, display_name="a", description="first",
                         resource=RESOURCE, ttl="10d")
    b = new_personal_key(w.member, w.org, display_name="b")
    theirs = new_personal_key(w.org_admin, w.org)
    items, pages = walk(w.member, MY_KEYS, 1)
    assert pages >= 2
    assert [i["id"] for i in items] == sorted([a["id"], b["id"]])
    for i in items:
        assert_key(i)
    got = w.member.get(MY_KEYS + "/" + a["id"])
    assert got.status_code == 200
    assert got.json() == {f: v for f, v in a.items() if f not in SECRET_KEYS}
    # another user's key does not exist for the caller
    path = MY_KEYS + "/" + theirs["id"]
    for r in (w.member.get(path), w.member.patch(path, {"display_name": "x"}),
              w.member.delete(path), w.member.post(path + "/rotate", {})):
        assert_problem(r, 404, "not_found")
    me_ok(stack, theirs)
    # change
    r = w.member.patch(MY_KEYS + "/" + a["id"], {"display_name": "a2", "description": None})
    assert r.status_code == 200, r.text
    patched = assert_key(r.json())
    assert patched["display_name"] == "a2" and patched["description"] is None
    assert {f: v for f, v in patched.items() if f not in ("display_name", "description")} == \
        {f: v for f, v in a.items() if f not in SECRET_KEYS | {"display_name", "description"}}
    for body in ({"role": "admin"}, {"org": w.other}, {"resource": None}, {"ttl": "1d"},
                 {"expires_at": None}):
        assert_problem(w.member.patch(MY_KEYS + "/" + a["id"], body), 400, "validation_failed")
    # rotate
    t0 = now()
    r = w.member.post(MY_KEYS + "/" + a["id"] + "/rotate", {"grace": "1h"})
    assert r.status_code == 201, r.text
    assert_no_store(r)
    a2 = assert_key(r.json(), secret=True)
    assert r.headers.get("Location") == stack.url + MY_KEYS + "/" + a2["id"]
    for f in ("owner", "org", "role", "display_name", "description", "resource"):
        assert a2[f] == patched[f], f
    assert abs(lifetime(a2) - 10 * DAY) <= 2
    old = w.member.get(MY_KEYS + "/" + a["id"]).json()
    assert_near(old["expires_at"], t0 + datetime.timedelta(hours=1), 60, "old expires_at")
    me_ok(stack, a)
    me_ok(stack, a2)
    # delete
    r = w.member.delete(MY_KEYS + "/" + b["id"])
    assert r.status_code == 204, r.text
    assert_refused(as_key(stack, b).get(ME), "deleted personal key")
    assert_problem(w.member.get(MY_KEYS + "/" + b["id"]), 404, "not_found")
    assert_problem(w.member.delete(MY_KEYS + "/" + b["id"]), 404, "not_found")
    ids = [i["id"] for i in walk(w.member, MY_KEYS, 100)[0]]
    assert ids == sorted([a["id"], a2["id"]])


def test_personal_keys_max_per_user(stack, world):
    """max_per_account counts a user's personal keys over all their organizations."""
    w = world
    assert add(w.outsider, w.other, w.member, "member").status_code == 201
    keys = [new_personal_key(w.member, w.org if i % 2 else w.other)
            for i in range(MAX_PER_ACCOUNT)]
    for org in (w.org, w.other):
        assert_problem(w.member.post(MY_KEYS, {"org": org}), 409, "conflict")
    # another user's count is their own
    new_personal_key(w.org_admin, w.org)
    # rotation is allowed at the limit; a deletion frees a place
    r = w.member.post(MY_KEYS + "/" + keys[0]["id"] + "/rotate", {"grace": "0s"})
    assert r.status_code == 201, r.text
    assert_problem(w.member.post(MY_KEYS, {"org": w.org}), 409, "conflict")
    assert w.member.delete(MY_KEYS + "/" + keys[1]["id"]).status_code == 204
    new_personal_key(w.member, w.org)
    assert_problem(w.member.post(MY_KEYS, {"org": w.org}), 409, "conflict")


def test_personal_key_effective_role_each_use(stack, world):
    w = world
    key = new_personal_key(w.org_admin, w.org, role="admin")
    k = as_key(stack, key)
    r = k.patch(ORGS + "/" + w.org, {"display_name": "renamed by key"})
    assert r.status_code == 200, r.text
    assert me_ok(stack, key)["organizations"][0]["role"] == "admin"
    # demoted to member: the admin-role key acts as a member from now on
    assert add(w.owner, w.org, w.org_admin, "member").status_code == 200
    assert_problem(k.patch(ORGS + "/" + w.org, {"display_name": "again"}), 403, "forbidden")
    assert me_ok(stack, key)["organizations"][0]["role"] == "member"
    assert k.get(ORGS + "/" + w.org).status_code == 200
    # key object keeps the role it was given
    assert w.org_admin.get(MY_KEYS + "/" + key["id"]).json()["role"] == "admin"
    # promoted again: admin again
    assert add(w.owner, w.org, w.org_admin, "owner").status_code == 200
    assert me_ok(stack, key)["organizations"][0]["role"] == "admin"
    assert k.patch(ORGS + "/" + w.org, {"display_name": "back"}).status_code == 200
    # an owner's member-role key acts as a member
    mk = as_key(stack, new_personal_key(w.owner, w.org, role="member"))
    assert_problem(mk.patch(ORGS + "/" + w.org, {"display_name": "no"}), 403, "forbidden")
    assert_problem(mk.patch(sa_path(w.org, new_sa(w.owner, w.org)["name"]),
                            {"display_name": "no"}), 403, "forbidden")


def test_personal_key_ends_with_membership_or_user(stack, world):
    w = world
    removed = new_user(stack, w.admin, "removed")
    disabled = new_user(stack, w.admin, "disabled")
    deleted = new_user(stack, w.admin, "deleted")
    keys = {}
    for u in (removed, disabled, deleted):
        assert add(w.owner, w.org, u, "admin").status_code == 201
        keys[u.id] = new_personal_key(u, w.org, role="admin")
        me_ok(stack, keys[u.id])
    assert w.owner.delete(members_path(w.org, removed.id)).status_code == 204
    assert_refused(as_key(stack, keys[removed.id]).get(ME), "member removed")
    assert_refused(as_key(stack, keys[removed.id]).get(ORGS + "/" + w.org), "member removed")
    r = w.admin.patch(USERS + "/" + disabled.id, {"disabled": True})
    assert r.status_code == 200, r.text
    assert_refused(as_key(stack, keys[disabled.id]).get(ME), "user disabled")
    # enabling the user again brings back the sessions' user, not the keys
    r = w.admin.patch(USERS + "/" + disabled.id, {"disabled": False})
    assert r.status_code == 200, r.text
    assert_refused(as_key(stack, keys[disabled.id]).get(ME), "user enabled again")
    assert w.admin.delete(USERS + "/" + deleted.id).status_code == 204
    assert_refused(as_key(stack, keys[deleted.id]).get(ME), "user deleted")
    # the org-wide list shows none of them
    listed = {k["id"] for k in walk(w.owner, org_keys_path(w.org), 100)[0]}
    assert not listed & {keys[removed.id]["id"], keys[deleted.id]["id"]}


def test_personal_key_mints_nothing(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    sak = new_key(w.owner, w.org, sa["name"])
    key = new_personal_key(w.owner, w.org, role="admin")
    k = as_key(stack, key)
    kp = keys_path(w.org, sa["name"], sak["id"])
    for what, r in (
            ("create SA", k.post(sa_path(w.org), {"name": unique("x")})),
            ("create SA key", k.post(keys_path(w.org, sa["name"]), {})),
            ("rotate SA key", k.post(kp + "/rotate", {})),
            ("delete SA key", k.delete(kp)),
            ("delete org key", k.delete(org_keys_path(w.org, sak["id"]))),
            ("delete SA", k.delete(sa_path(w.org, sa["name"]))),
            ("create org", k.post(ORGS, {"name": unique("x")})),
            ("list my keys", k.get(MY_KEYS)),
            ("create my key", k.post(MY_KEYS, {"org": w.org})),
            ("get my key", k.get(MY_KEYS + "/" + key["id"])),
            ("rotate my key", k.post(MY_KEYS + "/" + key["id"] + "/rotate", {})),
            ("delete my key", k.delete(MY_KEYS + "/" + key["id"])),
            # an owner's key acts as admin at most: no owner's rights
            ("delete org", k.delete(ORGS + "/" + w.org)),
            ("grant owner", k.put(members_path(w.org, w.member.id), {"role": "owner"})),
            # a password is a credential stronger than the key: its user's account is off limits
            ("change its user's password",
             k.patch("/api/org/v1/users/" + w.owner.id,
                     {"password": "another long password", "current_password": "x"})),
            ("rename its user", k.patch("/api/org/v1/users/" + w.owner.id,
                                        {"display_name": "by key"}))):
        assert r.status_code == 403, "%s: %d %s" % (what, r.status_code, r.text[:300])
        assert_problem(r, 403, "forbidden")
    # nor through RFC 7009: a revoked key is a deleted one (SPEC §5.5)
    other = new_personal_key(w.owner, w.org)
    for victim in (sak, other):
        r = k.http.post("/api/auth/v1/revoke", data={"token": victim["token"]})
        assert r.status_code == 403 and r.json()["error"] == "unauthorized_client", r.text
        me_ok(stack, victim)
    me_ok(stack, sak)
    me_ok(stack, key)
    assert w.owner.get(sa_path(w.org, sa["name"])).status_code == 200
    # what its effective role allows, it does: reads, and PATCH of an account or key
    assert k.get(sa_path(w.org)).status_code == 200
    assert k.get(keys_path(w.org, sa["name"])).status_code == 200
    assert k.get(org_keys_path(w.org)).status_code == 200
    r = k.patch(sa_path(w.org, sa["name"]), {"display_name": "by personal key"})
    assert r.status_code == 200, r.text
    r = k.patch(kp, {"display_name": "by personal key"})
    assert r.status_code == 200, r.text


def test_platform_admin_personal_key_has_no_platform_rights(stack, world):
    w = world
    email = unique("padmin") + "@example.com"
    r = w.admin.post(USERS, {"email": email, "password": "correct horse battery staple",
                             "platform_admin": True})
    assert r.status_code == 201, r.text
    pa = Caller(stack.url, signin(stack.url, email, "correct horse battery staple"),
                r.json()["id"], email)
    assert pa.get(USERS).status_code == 200
    own = new_org(pa)
    key = new_personal_key(pa, own, role="admin")
    me = me_ok(stack, key)
    assert [o["name"] for o in me["organizations"]] == [own]
    k = as_key(stack, key)
    assert_problem(k.get(USERS), 403, "forbidden")
    assert_problem(k.post(USERS, {"email": unique("x") + "@example.com",
                                  "password": "correct horse battery staple"}), 403, "forbidden")
    # an organization it is no member of: none of the administrator's reach
    # (SPEC §3 says 404 for a non-member; 403 would not grant anything either)
    for r in (k.get(ORGS + "/" + w.org), k.get(sa_path(w.org)),
              k.patch(ORGS + "/" + w.org, {"display_name": "x"})):
        assert r.status_code in (403, 404), r.text[:300]
        assert_problem(r, r.status_code, "forbidden" if r.status_code == 403 else "not_found")
    assert w.owner.get(ORGS + "/" + w.org).json()["display_name"] == "World Inc."
    assert pa.get(ORGS + "/" + w.org).status_code == 200


# --- the organization's keys -------------------------------------------------------------------

def test_org_keys_list(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    sak = new_key(w.owner, w.org, sa["name"])
    gone = new_key(w.owner, w.org, sa["name"])
    pk = new_personal_key(w.member, w.org)
    pk2 = new_personal_key(w.org_admin, w.org, role="admin")
    # not in this organization: another's SA key, a member's personal key for another org
    theirs = new_sa(w.outsider, w.other)
    other_sak = new_key(w.outsider, w.other, theirs["name"])
    assert add(w.outsider, w.other, w.member, "member").status_code == 201
    other_pk = new_personal_key(w.member, w.other)
    r = w.owner.post(keys_path(w.org, sa["name"], gone["id"]) + "/rotate", {"grace": "0s"})
    assert r.status_code == 201, r.text
    rotated = r.json()
    for who in (w.owner, w.org_admin, w.admin):
        items, pages = walk(who, org_keys_path(w.org), 2)
        ids = [i["id"] for i in items]
        assert ids == sorted([sak["id"], pk["id"], pk2["id"], rotated["id"]]), ids
        assert pages >= 2
        for i in items:
            assert_key(i)
            assert i["org"] == w.org
    by_id = {i["id"]: i for i in walk(w.owner, org_keys_path(w.org), 100)[0]}
    assert by_id[pk["id"]]["owner"] == {"type": "user", "id": w.member.id,
                                        "identifier": w.member.email}
    assert by_id[pk2["id"]]["role"] == "admin"
    assert by_id[sak["id"]]["owner"]["type"] == "service_account"
    assert by_id[sak["id"]]["role"] is None
    assert other_sak["id"] not in by_id and other_pk["id"] not in by_id
    # who may
    assert_problem(w.member.get(org_keys_path(w.org)), 403, "forbidden")
    assert_problem(w.member.delete(org_keys_path(w.org, pk["id"])), 403, "forbidden")
    assert_problem(w.outsider.get(org_keys_path(w.org)), 404, "not_found")
    assert_problem(w.outsider.delete(org_keys_path(w.org, sak["id"])), 404, "not_found")
    # DELETE reaches only keys acting in the organization
    for kid in (other_sak["id"], other_pk["id"], "AAAAAAAAAAAAAAAA"):
        assert_problem(w.owner.delete(org_keys_path(w.org, kid)), 404, "not_found")
    me_ok(stack, other_sak)
    me_ok(stack, other_pk)
    # a member's personal key, revoked by an org admin
    r = w.org_admin.delete(org_keys_path(w.org, pk["id"]))
    assert r.status_code == 204, r.text
    assert_refused(as_key(stack, pk).get(ME), "personal key revoked by the org")
    assert_problem(w.member.get(MY_KEYS + "/" + pk["id"]), 404, "not_found")
    # and a service account's key
    assert w.owner.delete(org_keys_path(w.org, sak["id"])).status_code == 204
    assert_refused(as_key(stack, sak).get(ME), "SA key revoked by the org")
    assert_problem(w.owner.delete(org_keys_path(w.org, sak["id"])), 404, "not_found")
    ids = [i["id"] for i in walk(w.owner, org_keys_path(w.org), 100)[0]]
    assert ids == sorted([pk2["id"], rotated["id"]])


def test_org_delete_ends_its_keys(stack, world):
    w = world
    org = new_org(w.owner)
    assert add(w.owner, org, w.member, "member").status_code == 201
    sa = new_sa(w.owner, org, role="admin")
    sak = new_key(w.owner, org, sa["name"])
    pk = new_personal_key(w.member, org)
    opk = new_personal_key(w.owner, org, role="admin")
    elsewhere = new_personal_key(w.member, w.org)
    for k in (sak, pk, opk, elsewhere):
        me_ok(stack, k)
    assert w.owner.delete(ORGS + "/" + org).status_code == 204
    for k in (sak, pk, opk):
        assert_refused(as_key(stack, k).get(ME), "key of a deleted organization")
    me_ok(stack, elsewhere)
    assert elsewhere["id"] in [i["id"] for i in walk(w.member, MY_KEYS, 100)[0]]
    # an organization of the same name, even with an account of the same name and
    # the same member, brings none of them back
    assert w.owner.post(ORGS, {"name": org}).status_code == 201
    assert add(w.owner, org, w.member, "member").status_code == 201
    new_sa(w.owner, org, sa["name"], role="admin")
    for k in (sak, pk, opk):
        assert_refused(as_key(stack, k).get(ME), "key of a deleted organization, name reused")
    assert walk(w.owner, org_keys_path(org), 100)[0] == []
    assert elsewhere["id"] in [i["id"] for i in walk(w.owner, org_keys_path(w.org), 100)[0]]


# --- last_used_at --------------------------------------------------------------------------

@pytest.mark.stacks("lighttpd-jwt", "lighttpd-opaque")
def test_last_used_at_set_and_truncated(stack, world):
    w = world
    sa = new_sa(w.owner, w.org)
    key = new_key(w.owner, w.org, sa["name"])
    unused = new_key(w.owner, w.org, sa["name"])
    pk = new_personal_key(w.member, w.org)
    path = keys_path(w.org, sa["name"], key["id"])
    ppath = MY_KEYS + "/" + pk["id"]
    assert w.owner.get(path).json()["last_used_at"] is None
    assert w.member.get(ppath).json()["last_used_at"] is None
    t0 = now()
    me_ok(stack, key)
    me_ok(stack, pk)
    t1 = now()
    deadline = time.monotonic() + 75
    got = pgot = None
    while time.monotonic() < deadline:
        got = got or w.owner.get(path).json()["last_used_at"]
        pgot = pgot or w.member.get(ppath).json()["last_used_at"]
        if got is not None and pgot is not None:
            break
        time.sleep(1)
    assert got is not None, "last_used_at of the SA key still null 75 s after a use"
    assert pgot is not None, "last_used_at of the personal key still null 75 s after a use"
    for g in (got, pgot):
        assert g.endswith(":00Z"), "not truncated to the minute: " + g
        used = parse_time(g)
        assert t0.replace(second=0, microsecond=0) <= used <= t1, (g, t0, t1)
    listed = {k["id"]: k for k in walk(w.owner, keys_path(w.org, sa["name"]), 100)[0]}
    assert listed[key["id"]]["last_used_at"] == got
    assert listed[unused["id"]]["last_used_at"] is None
    org_listed = {k["id"]: k for k in walk(w.owner, org_keys_path(w.org), 100)[0]}
    assert org_listed[pk["id"]]["last_used_at"] == pgot


# --- long lifetimes (a stack of its own) -----------------------------------------------------

LONG_DOMAIN = "robots.example.test"
LONG_CONFIG = ("api_keys:\n  max_ttl: 36500d\n  allow_no_expiry: true\n"
               "accounts:\n  service_account_domain: %s\n" % LONG_DOMAIN)


@pytest.fixture(scope="module")
def long_stack(request):
    """lighttpd-jwt with api_keys.max_ttl 36500d, allow_no_expiry true and
    accounts.service_account_domain robots.example.test, on the session's
    database, started once for this module."""
    env = request.getfixturevalue("e2e_env")
    s = HardStack(env, "lighttpd", "jwt", "keys-long", extra=LONG_CONFIG)
    try:
        s.precheck()
        s.start()
    except Exception as e:  # noqa: BLE001 - every test that needs it fails with the reason
        s.stop()
        pytest.fail("stack %s did not start: %s" % (s.id, str(e)[:1500]), pytrace=False)
    yield s
    s.stop()


@pytest.mark.stacks("lighttpd-jwt")
def test_key_until_2100(stack, long_stack):
    need_private(stack)
    s = long_stack
    admin = admin_of(s)
    owner = new_user(s, admin, "owner")
    org = new_org(owner)
    sa = new_sa(owner, org, domain=LONG_DOMAIN)
    far = "2100-01-01T00:00:00Z"
    key = new_key(owner, org, sa["name"], expires_at=far)
    assert key["expires_at"] == far
    assert owner.get(keys_path(org, sa["name"], key["id"])).json()["expires_at"] == far
    assert [k["expires_at"] for k in walk(owner, keys_path(org, sa["name"]), 100)[0]] == [far]
    me = me_ok(s, key)
    assert me["credential"]["expires_at"] == far
    assert me["service_account"]["identifier"] == "%s@%s.%s" % (sa["name"], org, LONG_DOMAIN)
    assert key["owner"]["identifier"] == me["service_account"]["identifier"]
    # rotated: the same lifetime length from now (still below max_ttl)
    r = owner.post(keys_path(org, sa["name"], key["id"]) + "/rotate", {"grace": "0s"})
    assert r.status_code == 201, r.text
    new = assert_key(r.json(), secret=True)
    assert abs(lifetime(new) - lifetime(key)) <= 2, (key, new)
    assert parse_time(new["expires_at"]).year == 2100
    me_ok(s, new)
    assert_refused(as_key(s, key).get(ME))
    # beyond even 36500d: 400
    assert_problem(owner.post(keys_path(org, sa["name"]), {"expires_at": "2200-01-01T00:00:00Z"}),
                   400, "validation_failed")
    assert_problem(owner.post(keys_path(org, sa["name"]), {"ttl": "36501d"}),
                   400, "validation_failed")


@pytest.mark.stacks("lighttpd-jwt")
def test_key_without_expiry(stack, long_stack):
    need_private(stack)
    s = long_stack
    admin = admin_of(s)
    owner = new_user(s, admin, "owner")
    org = new_org(owner)
    sa = new_sa(owner, org, domain=LONG_DOMAIN)
    r = owner.post(keys_path(org, sa["name"]), {"expires_at": None, "display_name": "forever"})
    assert r.status_code == 201, r.text
    key = assert_key(r.json(), secret=True)
    assert key["expires_at"] is None
    got = owner.get(keys_path(org, sa["name"], key["id"])).json()
    assert got["expires_at"] is None
    me = me_ok(s, key)
    assert me["credential"]["expires_at"] is None
    # it acts in the organization's list (unexpired)
    assert key["id"] in {k["id"] for k in walk(owner, org_keys_path(org), 100)[0]}
    # rotated: the new one has no expiry either; the old ends after the grace
    t0 = now()
    r = owner.post(keys_path(org, sa["name"], key["id"]) + "/rotate", {"grace": "2h"})
    assert r.status_code == 201, r.text
    new = assert_key(r.json(), secret=True)
    assert new["expires_at"] is None and new["display_name"] == "forever"
    old = owner.get(keys_path(org, sa["name"], key["id"])).json()
    assert_near(old["expires_at"], t0 + datetime.timedelta(hours=2), 60, "old expires_at")
    me_ok(s, new)
    me_ok(s, key)
    # a personal key without expiry
    pk = new_personal_key(owner, org, expires_at=None)
    assert pk["expires_at"] is None
    assert me_ok(s, pk)["credential"]["expires_at"] is None
    # neither ttl nor expires_at is still default_ttl (365d), not "no expiry"
    k = new_key(owner, org, sa["name"])
    assert_near(k["expires_at"], now() + datetime.timedelta(days=365), 120, "default_ttl")


@pytest.mark.stacks("lighttpd-jwt")
def test_rotation_capped_by_max_ttl(stack, long_stack):
    """SPEC §5.11: the rotated key lives as long as the old one did, capped by
    max_ttl. Keys made on the long stack (max_ttl 36500d) are rotated through
    the default one (max_ttl 730d), on the same database."""
    need_private(stack)
    admin = admin_of(long_stack)
    owner = new_user(long_stack, admin, "owner")
    org = new_org(owner)
    sa = new_sa(owner, org, domain=LONG_DOMAIN)
    long_key = new_key(owner, org, sa["name"], ttl="1000d")
    assert abs(lifetime(long_key) - 1000 * DAY) <= 2
    forever = new_key(owner, org, sa["name"], expires_at=None)
    short = Caller(stack.url, signin(stack.url, owner.email, PASSWORD))  # its own issuer
    t0 = now()
    r = short.post(keys_path(org, sa["name"], long_key["id"]) + "/rotate", {})
    assert r.status_code == 201, r.text
    new = assert_key(r.json(), secret=True)
    assert_near(new["expires_at"], t0 + datetime.timedelta(days=730), 60, "capped at max_ttl")
    # none if the old had none
    r = short.post(keys_path(org, sa["name"], forever["id"]) + "/rotate", {})
    assert r.status_code == 201, r.text
    assert assert_key(r.json(), secret=True)["expires_at"] is None
