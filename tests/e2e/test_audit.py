"""The audit trail (SPEC §5.12; the decisions of issue 14, doc/decisions.md
"Audit trail"): an event for every action that exists, with its actor,
target, address, user agent, request id and outcome, written in the unit of
work of the change (none for a change that failed); sign-in events once per
organization of the user; the organization's trail and the platform's, who
may read them, their filters and pages; an organization's events outliving
it; no secret in any event.

Every request whose event a test looks for is sent with a distinctive
User-Agent and its own X-Request-Id, and the event is found by that id. The
database is shared by every stack of a session, so the platform trail is
always searched with a filter (organization or action) and newest first."""

import json
import re
import uuid

import pytest
import requests

import test_orgs
from conftest import TIMEOUT, need_private
from harness.stack import unique, unique_email
from test_auth import CustomStack
from test_keys import (MY_KEYS, keys_path, new_key, new_personal_key, new_sa, org_keys_path,
                       sa_path)
from test_orgs import (ME, ORGS, PASSWORD, SIGNIN, USERS, Caller, add, assert_problem,
                       members_path, new_org, new_user, signin, walk)

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

PLATFORM = "/api/org/v1/audit-events"
TOKEN = "/api/auth/v1/token"
SIGNOUT = "/api/auth/v1/signout"
REVOKE = "/api/auth/v1/revoke"
UA = "LanyardAuditProbe/14.0 (e2e; audit trail)"
EVENT_KEYS = {"id", "time", "org", "actor", "action", "target", "ip", "user_agent", "request_id",
              "outcome"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
WRONG = "not the password, audit!"


# --- helpers ------------------------------------------------------------------

def tag():
    """Headers naming one request: the test's User-Agent and a fresh request id."""
    rid = "aud-" + uuid.uuid4().hex
    return rid, {"User-Agent": UA, "X-Request-Id": rid}


def send(caller, method, path, body=None, **kw):
    """caller's request, tagged; (response, request id). The answer echoes the id."""
    rid, h = tag()
    h.update(kw.pop("headers", {}))
    if body is not None:
        kw["json"] = body
    r = caller.req(method, path, headers=h, **kw)
    assert r.headers.get("X-Request-Id") == rid
    return r, rid


def anon(stack, method, path, **kw):
    """An unauthenticated tagged request; (response, request id)."""
    rid, h = tag()
    h.update(kw.pop("headers", {}))
    r = requests.request(method, stack.url + path, headers=h, timeout=TIMEOUT, **kw)
    assert r.headers.get("X-Request-Id") == rid
    return r, rid


def org_trail(org):
    return "%s/%s/audit-events" % (ORGS, org)


def assert_event(e):
    assert set(e) == EVENT_KEYS, sorted(e)
    assert isinstance(e["id"], str) and e["id"].isdigit(), e["id"]
    assert RFC3339.match(e["time"]), e["time"]
    assert set(e["actor"]) == {"type", "id"} and set(e["target"]) == {"type", "id"}
    assert e["outcome"] in ("success", "failure")
    return e


def trail(reader, path, pages=10, **params):
    """Up to `pages` pages (100 each) of a trail, newest first, every event checked."""
    q = "&".join("%s=%s" % kv for kv in params.items())
    items = []
    token = None
    for _ in range(pages):
        url = "%s?page_size=100%s%s" % (path, "&" + q if q else "",
                                         "&page_token=" + token if token else "")
        r = reader.get(url)
        assert r.status_code == 200, r.text[:300]
        body = r.json()
        assert set(body) == {"items", "next_page_token"}
        items.extend(assert_event(e) for e in body["items"])
        token = body["next_page_token"]
        if token is None:
            break
    return items


def of_request(reader, rid, path=PLATFORM, **params):
    """The events of the request rid, found in the (filtered) trail."""
    return [e for e in trail(reader, path, **params) if e["request_id"] == rid]


def one(reader, rid, action, org=None, path=PLATFORM):
    """The one event of request rid with this action (in org's trail when given)."""
    params = {"action": action}
    if org is not None and path == PLATFORM:
        params["org"] = org
    got = of_request(reader, rid, path, **params)
    assert len(got) == 1, "want one %s of %s, got %s" % (action, rid, got)
    return got[0]


def assert_tagged(e, rid, action, actor, target, org, outcome="success"):
    """The event as SPEC §5.12 lists it, from the tagged request rid."""
    assert e["action"] == action, e
    assert e["actor"] == actor, e
    assert e["target"] == target, e
    assert e["org"] == org, e
    assert e["outcome"] == outcome, e
    assert e["ip"] == "127.0.0.1", e
    assert e["user_agent"] == UA, e
    assert e["request_id"] == rid, e


def user_actor(c):
    return {"type": "user", "id": c.id}


def nothing_of(reader, rid, **params):
    assert of_request(reader, rid, **params) == []


# An organization with an owner, an admin and a member; an outsider; the platform admin.
admin = test_orgs.admin
world = test_orgs.world


# --- sign-in -----------------------------------------------------------------------

def test_signin_succeeded_once_per_organization(stack, admin):
    user = new_user(stack, admin, "twoorgs")
    a, b = new_org(user), new_org(user)
    r, rid = anon(stack, "POST", SIGNIN, json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    sid = r.json().get("session_id")
    got = sorted(of_request(admin, rid, action="signin.succeeded"), key=lambda e: e["org"])
    assert [e["org"] for e in got] == sorted([a, b])
    for e in got:
        assert_tagged(e, rid, "signin.succeeded", user_actor(user),
                      {"type": "session", "id": e["target"]["id"]}, e["org"])
        assert e["target"]["id"].startswith("ses-")
        if sid is not None:
            assert e["target"]["id"] == sid
    # The same events, each in its organization's own trail.
    for org in (a, b):
        e = one(user, rid, "signin.succeeded", path=org_trail(org))
        assert e["org"] == org


def test_signin_of_a_user_without_organization_has_org_null(stack, admin):
    user = new_user(stack, admin, "loner")
    r, rid = anon(stack, "POST", SIGNIN, json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 200
    e = one(admin, rid, "signin.succeeded")
    assert_tagged(e, rid, "signin.succeeded", user_actor(user), e["target"], None)
    assert e["target"]["type"] == "session"


def test_signin_failures_stand_and_name_no_password(stack, admin):
    user = new_user(stack, admin, "fails")
    org = new_org(user)
    # Wrong password: actor anonymous, the account tried as target, in its organization.
    r, rid = anon(stack, "POST", SIGNIN, json={"email": user.email, "password": WRONG})
    assert_problem(r, 401, "unauthenticated")
    e = one(admin, rid, "signin.failed", org=org)
    assert_tagged(e, rid, "signin.failed", {"type": "anonymous", "id": None},
                  {"type": "user", "id": user.id}, org, "failure")
    # Unknown e-mail: anonymous, no organization, no target id (the e-mail is not recorded).
    ghost = unique_email("ghost")
    r, rid = anon(stack, "POST", SIGNIN, json={"email": ghost, "password": WRONG})
    assert_problem(r, 401, "unauthenticated")
    e = one(admin, rid, "signin.failed")
    assert_tagged(e, rid, "signin.failed", {"type": "anonymous", "id": None},
                  {"type": "user", "id": None}, None, "failure")
    assert ghost not in json.dumps(e)
    # Validation failure: no event at all.
    r, rid = anon(stack, "POST", SIGNIN, json={"email": user.email})
    assert_problem(r, 400, "validation_failed")
    nothing_of(admin, rid, action="signin.failed")
    # Nothing written by a failed sign-in but its event: the account still signs in.
    signin(stack.url, user.email, PASSWORD)
    for e in trail(admin, PLATFORM, org=org):
        assert WRONG not in json.dumps(e) and PASSWORD not in json.dumps(e)


def test_signin_of_a_disabled_user_fails_in_the_trail(stack, admin):
    user = new_user(stack, admin, "disabled")
    org = new_org(user)
    assert admin.patch("%s/%s" % (USERS, user.id), {"disabled": True}).status_code == 200
    r, rid = anon(stack, "POST", SIGNIN, json={"email": user.email, "password": PASSWORD})
    assert_problem(r, 401, "unauthenticated")
    e = one(admin, rid, "signin.failed", org=org)
    assert_tagged(e, rid, "signin.failed", {"type": "anonymous", "id": None},
                  {"type": "user", "id": user.id}, org, "failure")
    nothing_of(admin, rid, action="signin.succeeded")


def test_throttled_signin_is_a_failure_event(stack, admin):
    user = new_user(stack, admin, "throttled")
    org = new_org(user)
    for _ in range(5):
        r, _ = anon(stack, "POST", SIGNIN, json={"email": user.email, "password": WRONG})
        assert_problem(r, 401, "unauthenticated")
    r, rid = anon(stack, "POST", SIGNIN, json={"email": user.email, "password": PASSWORD})
    assert_problem(r, 429, "rate_limited")
    e = one(admin, rid, "signin.failed", org=org)
    assert_tagged(e, rid, "signin.failed", {"type": "anonymous", "id": None},
                  {"type": "user", "id": user.id}, org, "failure")
    fails = [e for e in trail(admin, PLATFORM, org=org, action="signin.failed")]
    assert len(fails) == 6


# --- sessions ------------------------------------------------------------------------

def signed_in(stack, user):
    """A fresh session of user: its token response and the session id its event names."""
    r, rid = anon(stack, "POST", SIGNIN, json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json(), rid


def session_of(reader, rid):
    ev = of_request(reader, rid, action="signin.succeeded")
    assert ev
    return ev[0]["target"]["id"]


def test_refresh_reuse_is_recorded_and_stands(stack, admin):
    user = new_user(stack, admin, "reuse")
    org = new_org(user)
    tokens, srid = signed_in(stack, user)
    sid = session_of(admin, srid)
    r, _ = anon(stack, "POST", TOKEN, data={"grant_type": "refresh_token",
                                            "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    newer = r.json()["refresh_token"]
    r, rid = anon(stack, "POST", TOKEN, data={"grant_type": "refresh_token",
                                              "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    e = one(admin, rid, "session.refresh_reused", org=org)
    assert_tagged(e, rid, "session.refresh_reused", {"type": "anonymous", "id": None},
                  {"type": "session", "id": sid}, org, "failure")
    # The revocation that came with it stood too.
    r, _ = anon(stack, "POST", TOKEN, data={"grant_type": "refresh_token", "refresh_token": newer})
    assert r.status_code == 400
    for e in trail(admin, PLATFORM, org=org):
        for t in (tokens["refresh_token"], newer, tokens["access_token"]):
            assert t not in json.dumps(e)


def test_signout_and_revocation_end_sessions_in_the_trail(stack, admin):
    user = new_user(stack, admin, "signout")
    org = new_org(user)
    # Sign-out with the access token: the caller is the actor.
    tokens, srid = signed_in(stack, user)
    sid = session_of(admin, srid)
    c = Caller(stack.url, tokens["access_token"], user.id, user.email)
    r, rid = send(c, "POST", SIGNOUT, {})
    assert r.status_code == 204, r.text
    e = one(admin, rid, "session.revoked", org=org)
    assert_tagged(e, rid, "session.revoked", user_actor(user), {"type": "session", "id": sid}, org)
    # With the refresh token alone: the user whose token it is.
    tokens, srid = signed_in(stack, user)
    sid = session_of(admin, srid)
    r, rid = anon(stack, "POST", SIGNOUT, json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204
    e = one(admin, rid, "session.revoked", org=org)
    assert_tagged(e, rid, "session.revoked", user_actor(user), {"type": "session", "id": sid}, org)
    # Again: the session was ended already, nothing new to record.
    r, rid = anon(stack, "POST", SIGNOUT, json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204
    nothing_of(admin, rid, action="session.revoked")
    # RFC 7009 revocation of a refresh token.
    tokens, srid = signed_in(stack, user)
    sid = session_of(admin, srid)
    c = Caller(stack.url, tokens["access_token"], user.id, user.email)
    rid, h = tag()
    r = c.http.post(REVOKE, data={"token": tokens["refresh_token"]}, headers=h)
    assert r.status_code == 200, r.text
    e = one(admin, rid, "session.revoked", org=org)
    assert_tagged(e, rid, "session.revoked", user_actor(user), {"type": "session", "id": sid}, org)
    # A token already revoked: 200 and nothing recorded (asked from another session: in
    # opaque mode the first one's access token ended with it).
    again, _ = signed_in(stack, user)
    c = Caller(stack.url, again["access_token"], user.id, user.email)
    rid, h = tag()
    r = c.http.post(REVOKE, data={"token": tokens["refresh_token"]}, headers=h)
    assert r.status_code == 200
    nothing_of(admin, rid, action="session.revoked")


# --- organizations and members ----------------------------------------------------------

def test_org_events_and_none_for_failed_changes(stack, admin, world):
    owner = world.owner
    name = unique("audorg")
    r, rid = send(owner, "POST", ORGS, {"name": name})
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    e = one(admin, rid, "org.created", org=name)
    assert_tagged(e, rid, "org.created", user_actor(owner), {"type": "organization", "id": oid},
                  name)
    # 409: the name is taken; nothing recorded.
    r, rid = send(world.outsider, "POST", ORGS, {"name": name})
    assert_problem(r, 409, "conflict")
    nothing_of(admin, rid, action="org.created")
    # 400: nothing either.
    r, rid = send(owner, "POST", ORGS, {"name": "-bad-"})
    assert_problem(r, 400, "validation_failed")
    nothing_of(admin, rid, action="org.created")
    r, rid = send(owner, "PATCH", ORGS + "/" + name, {"display_name": "Audited"})
    assert r.status_code == 200
    e = one(admin, rid, "org.updated", org=name)
    assert_tagged(e, rid, "org.updated", user_actor(owner), {"type": "organization", "id": oid},
                  name)
    r, rid = send(owner, "PATCH", ORGS + "/" + name, {"display_name": 5})
    assert_problem(r, 400, "validation_failed")
    nothing_of(admin, rid, org=name)
    # A member of another organization may not: 404 and nothing recorded.
    r, rid = send(world.outsider, "PATCH", ORGS + "/" + name, {"display_name": "x"})
    assert r.status_code == 404
    nothing_of(admin, rid, org=name)
    r, rid = send(owner, "DELETE", ORGS + "/" + name)
    assert r.status_code == 204
    e = one(admin, rid, "org.deleted", org=name)
    assert_tagged(e, rid, "org.deleted", user_actor(owner), {"type": "organization", "id": oid},
                  name)
    # The platform trail keeps the organization's events after it is gone.
    actions = [e["action"] for e in trail(admin, PLATFORM, org=name)]
    assert actions[:3] == ["org.deleted", "org.updated", "org.created"], actions


def test_member_events_and_none_for_a_refused_demotion(stack, admin, world):
    owner, org = world.owner, world.org
    newbie = new_user(stack, admin, "newbie")
    r, rid = send(world.org_admin, "PUT", members_path(org, newbie.id), {"role": "member"})
    assert r.status_code == 201
    e = one(admin, rid, "member.added", org=org)
    assert_tagged(e, rid, "member.added", user_actor(world.org_admin),
                  {"type": "member", "id": newbie.id}, org)
    r, rid = send(owner, "PUT", members_path(org, newbie.email), {"role": "admin"})
    assert r.status_code == 200
    e = one(admin, rid, "member.updated", org=org)
    assert_tagged(e, rid, "member.updated", user_actor(owner),
                  {"type": "member", "id": newbie.id}, org)
    # 409: the last owner cannot step down; no event.
    r, rid = send(owner, "PUT", members_path(org, owner.id), {"role": "admin"})
    assert_problem(r, 409, "conflict")
    nothing_of(admin, rid, org=org)
    # 400: nothing.
    r, rid = send(owner, "PUT", members_path(org, newbie.id), {"role": "king"})
    assert_problem(r, 400, "validation_failed")
    nothing_of(admin, rid, org=org)
    r, rid = send(owner, "DELETE", members_path(org, newbie.id))
    assert r.status_code == 204
    e = one(admin, rid, "member.removed", org=org)
    assert_tagged(e, rid, "member.removed", user_actor(owner),
                  {"type": "member", "id": newbie.id}, org)
    # Leaving: the member removes themself.
    r, rid = send(world.member, "DELETE", members_path(org, world.member.id))
    assert r.status_code == 204
    e = one(admin, rid, "member.removed", org=org)
    assert_tagged(e, rid, "member.removed", user_actor(world.member),
                  {"type": "member", "id": world.member.id}, org)


# --- service accounts and keys ----------------------------------------------------------

def test_service_account_and_key_events(stack, admin, world):
    owner, org = world.owner, world.org
    secrets = [PASSWORD]
    name = unique("svc")
    r, rid = send(owner, "POST", sa_path(org), {"name": name, "role": "admin"})
    assert r.status_code == 201, r.text
    sa = r.json()
    sa_target = {"type": "service_account", "id": sa["id"]}
    assert_tagged(one(admin, rid, "service_account.created", org=org), rid,
                  "service_account.created", user_actor(owner), sa_target, org)
    r, rid = send(owner, "PATCH", sa_path(org, name), {"description": "audited"})
    assert r.status_code == 200
    assert_tagged(one(admin, rid, "service_account.updated", org=org), rid,
                  "service_account.updated", user_actor(owner), sa_target, org)
    r, rid = send(owner, "PATCH", sa_path(org, name), {"role": "owner"})
    assert_problem(r, 400, "validation_failed")
    nothing_of(admin, rid, org=org)

    r, rid = send(owner, "POST", keys_path(org, name), {"display_name": "ci"})
    assert r.status_code == 201, r.text
    key = r.json()
    secrets += [key["secret"], key["token"]]
    kt = {"type": "api_key", "id": key["id"]}
    assert_tagged(one(admin, rid, "api_key.created", org=org), rid, "api_key.created",
                  user_actor(owner), kt, org)
    r, rid = send(owner, "PATCH", keys_path(org, name, key["id"]), {"description": "x"})
    assert r.status_code == 200
    assert_tagged(one(admin, rid, "api_key.updated", org=org), rid, "api_key.updated",
                  user_actor(owner), kt, org)
    # Rotation: rotated names the old key, created the new one; one request id ties them.
    r, rid = send(owner, "POST", keys_path(org, name, key["id"]) + "/rotate", {"grace": "0s"})
    assert r.status_code == 201, r.text
    new = r.json()
    secrets += [new["secret"], new["token"]]
    assert_tagged(one(admin, rid, "api_key.rotated", org=org), rid, "api_key.rotated",
                  user_actor(owner), kt, org)
    assert_tagged(one(admin, rid, "api_key.created", org=org), rid, "api_key.created",
                  user_actor(owner), {"type": "api_key", "id": new["id"]}, org)
    # The new key (its service account is admin) acts: its actor is the service account.
    sa_caller = Caller(stack.url, new["token"])
    r, rid = send(sa_caller, "POST", keys_path(org, name), {})
    assert r.status_code == 201, r.text
    third = r.json()
    secrets += [third["secret"], third["token"]]
    assert_tagged(one(admin, rid, "api_key.created", org=org), rid, "api_key.created",
                  {"type": "service_account", "id": sa["id"]},
                  {"type": "api_key", "id": third["id"]}, org)
    # Revocation (RFC 7009) by the key itself, as client fields.
    rid, h = tag()
    r = requests.post(stack.url + REVOKE, data={"token": third["token"], "client_id": third["id"],
                                               "client_secret": third["secret"]},
                      headers=h, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert_tagged(one(admin, rid, "api_key.deleted", org=org), rid, "api_key.deleted",
                  {"type": "service_account", "id": sa["id"]},
                  {"type": "api_key", "id": third["id"]}, org)
    # An exchanged opaque token revoked: the account is named, the token is not.
    r = requests.post(stack.url + TOKEN, data={"grant_type": "client_credentials",
                                              "client_id": new["id"], "client_secret": new["secret"]},
                      timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    exch = r.json()["access_token"]
    secrets.append(exch)
    rid, h = tag()
    r = sa_caller.http.post(REVOKE, data={"token": exch}, headers=h)
    assert r.status_code == 200
    if stack.mode == "opaque":
        assert_tagged(one(admin, rid, "session.revoked", org=org), rid, "session.revoked",
                      {"type": "service_account", "id": sa["id"]}, sa_target, org)
    else:  # a service account's JWT cannot be recalled: nothing ended, nothing recorded
        nothing_of(admin, rid, org=org)
    # DELETE under the account, and DELETE /orgs/{org}/keys/{id}.
    r, rid = send(owner, "DELETE", keys_path(org, name, new["id"]))
    assert r.status_code == 204
    assert_tagged(one(admin, rid, "api_key.deleted", org=org), rid, "api_key.deleted",
                  user_actor(owner), {"type": "api_key", "id": new["id"]}, org)
    r, rid = send(world.org_admin, "DELETE", org_keys_path(org, key["id"]))
    assert r.status_code == 204
    assert_tagged(one(admin, rid, "api_key.deleted", org=org), rid, "api_key.deleted",
                  user_actor(world.org_admin), kt, org)
    r, rid = send(world.org_admin, "DELETE", org_keys_path(org, key["id"]))
    assert r.status_code == 404
    nothing_of(admin, rid, org=org)
    r, rid = send(owner, "DELETE", sa_path(org, name))
    assert r.status_code == 204
    assert_tagged(one(admin, rid, "service_account.deleted", org=org), rid,
                  "service_account.deleted", user_actor(owner), sa_target, org)
    # Personal keys: made and deleted by their user, in the key's organization.
    mine = new_personal_key(world.member, org)
    secrets += [mine["secret"], mine["token"]]
    r, rid = send(world.member, "DELETE", MY_KEYS + "/" + mine["id"])
    assert r.status_code == 204
    assert_tagged(one(admin, rid, "api_key.deleted", org=org), rid, "api_key.deleted",
                  user_actor(world.member), {"type": "api_key", "id": mine["id"]}, org)
    r, rid = send(world.member, "POST", MY_KEYS, {"org": org, "ttl": "1h"})
    assert r.status_code == 201
    mine = r.json()
    secrets += [mine["secret"], mine["token"]]
    assert_tagged(one(admin, rid, "api_key.created", org=org), rid, "api_key.created",
                  user_actor(world.member), {"type": "api_key", "id": mine["id"]}, org)
    # No secret anywhere in the organization's trail.
    text = json.dumps(trail(admin, PLATFORM, org=org))
    for s in secrets:
        assert s not in text


# --- users -------------------------------------------------------------------------------

def test_user_events(stack, admin):
    email = unique_email("made")
    pw = "a fresh password, audit"
    r, rid = send(admin, "POST", USERS, {"email": email, "password": pw})
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    e = one(admin, rid, "user.created")
    assert_tagged(e, rid, "user.created", user_actor(admin), {"type": "user", "id": uid}, None)
    r, rid = send(admin, "POST", USERS, {"email": email, "password": pw})
    assert_problem(r, 409, "conflict")
    nothing_of(admin, rid, action="user.created")
    r, rid = send(admin, "POST", USERS, {"email": "nope", "password": pw})
    assert_problem(r, 400, "validation_failed")
    nothing_of(admin, rid, action="user.created")
    user = Caller(stack.url, signin(stack.url, email, pw), uid, email)
    a, b = new_org(user), new_org(user)
    # The user changes their own password: once per organization, and no password in it.
    newpw = "another fresh password, audit"
    r, rid = send(user, "PATCH", "%s/%s" % (USERS, uid),
                  {"password": newpw, "current_password": pw})
    assert r.status_code == 200, r.text
    got = sorted(of_request(admin, rid, action="user.updated"), key=lambda e: e["org"])
    assert [e["org"] for e in got] == sorted([a, b])
    for e in got:
        assert_tagged(e, rid, "user.updated", user_actor(user), {"type": "user", "id": uid},
                      e["org"])
        assert pw not in json.dumps(e) and newpw not in json.dumps(e)
    # A wrong current password changes nothing: no event.
    r, rid = send(user, "PATCH", "%s/%s" % (USERS, uid),
                  {"password": "yet another password!", "current_password": "wrong one, sorry"})
    assert r.status_code == 403
    nothing_of(admin, rid, action="user.updated")
    # Deleting them: another owner is needed first (409, nothing), then it is once per org.
    r, rid = send(admin, "DELETE", "%s/%s" % (USERS, uid))
    assert_problem(r, 409, "conflict")
    nothing_of(admin, rid, action="user.deleted")
    helper = new_user(stack, admin, "coowner")
    for org in (a, b):
        assert add(user, org, helper, "owner").status_code == 201
    r, rid = send(admin, "DELETE", "%s/%s" % (USERS, uid))
    assert r.status_code == 204
    got = sorted(of_request(admin, rid, action="user.deleted"), key=lambda e: e["org"])
    assert [e["org"] for e in got] == sorted([a, b])
    for e in got:
        assert_tagged(e, rid, "user.deleted", user_actor(admin), {"type": "user", "id": uid},
                      e["org"])


@pytest.fixture(scope="module")
def signup_stack(request):
    """A lighttpd stack with self sign-up, on the session's database."""
    s = CustomStack(request.getfixturevalue("e2e_env"), "jwt", "audit-signup",
                    extra="accounts:\n  self_signup: true\n").start()
    yield s
    s.stop()


@pytest.mark.stacks("lighttpd-jwt")
def test_self_signup_is_the_new_users_own_act(stack, admin, request):
    need_private(stack)
    s = request.getfixturevalue("signup_stack")
    email = unique_email("self")
    r, rid = anon(s, "POST", "/api/auth/v1/signup", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    e = one(admin, rid, "user.created")  # the database, and so the platform trail, is shared
    assert_tagged(e, rid, "user.created", {"type": "user", "id": uid}, {"type": "user", "id": uid},
                  None)
    r, rid = anon(s, "POST", "/api/auth/v1/signup", json={"email": email, "password": PASSWORD})
    assert_problem(r, 409, "conflict")
    nothing_of(admin, rid, action="user.created")


# --- who reads which trail ---------------------------------------------------------------

def test_org_trail_is_for_org_admins(stack, admin, world):
    org = world.org
    for c in (world.owner, world.org_admin, admin):
        r = c.get(org_trail(org))
        assert r.status_code == 200, r.text
        assert all(e["org"] == org for e in map(assert_event, r.json()["items"]))
    assert_problem(world.member.get(org_trail(org)), 403, "forbidden")
    assert_problem(world.outsider.get(org_trail(org)), 404, "not_found")
    assert_problem(world.owner.get(org_trail("no-such-org-" + unique("x"))), 404, "not_found")
    # A service account's key follows the account's role; a personal key its (weaker) role.
    adm = new_sa(world.owner, org, role="admin")
    mem = new_sa(world.owner, org, role="member")
    k_adm = new_key(world.owner, org, adm["name"])
    k_mem = new_key(world.owner, org, mem["name"])
    assert Caller(stack.url, k_adm["token"]).get(org_trail(org)).status_code == 200
    assert_problem(Caller(stack.url, k_mem["token"]).get(org_trail(org)), 403, "forbidden")
    p_adm = new_personal_key(world.org_admin, org, role="admin")
    p_mem = new_personal_key(world.org_admin, org, role="member")
    assert Caller(stack.url, p_adm["token"]).get(org_trail(org)).status_code == 200
    assert_problem(Caller(stack.url, p_mem["token"]).get(org_trail(org)), 403, "forbidden")
    # Another organization's admin key sees nothing of this one.
    other = new_org(world.outsider)
    osa = new_sa(world.outsider, other, role="admin")
    ok = new_key(world.outsider, other, osa["name"])
    assert_problem(Caller(stack.url, ok["token"]).get(org_trail(org)), 404, "not_found")


def test_platform_trail_is_for_platform_admins(stack, admin, world):
    assert admin.get(PLATFORM).status_code == 200
    for c in (world.owner, world.member):
        assert_problem(c.get(PLATFORM), 403, "forbidden")
    sa = new_sa(world.owner, world.org, role="admin")
    k = new_key(world.owner, world.org, sa["name"])
    assert_problem(Caller(stack.url, k["token"]).get(PLATFORM), 403, "forbidden")
    r = requests.get(stack.url + PLATFORM, timeout=TIMEOUT)
    assert r.status_code == 401


def test_filters(stack, admin, world):
    org = world.org
    events = trail(admin, PLATFORM, org=org)
    assert events and all(e["org"] == org for e in events)
    assert {"org.created", "member.added"} <= {e["action"] for e in events}
    added = trail(admin, PLATFORM, org=org, action="member.added")
    assert len(added) == 2 and all(e["action"] == "member.added" for e in added)
    assert [e["target"]["id"] for e in added] == [world.member.id, world.org_admin.id]
    mine = trail(world.owner, org_trail(org), action="member.added")
    assert [e["id"] for e in mine] == [e["id"] for e in added]
    # Every action with org.created, across organizations.
    created = trail(admin, PLATFORM, pages=1, action="org.created")
    assert created and all(e["action"] == "org.created" for e in created)
    assert_problem(admin.get(PLATFORM + "?action=org.exploded"), 400, "validation_failed")
    assert_problem(world.owner.get(org_trail(org) + "?action=DROP"), 400, "validation_failed")
    assert_problem(admin.get(PLATFORM + "?org=Not_A_Name"), 400, "validation_failed")
    assert trail(admin, PLATFORM, org=unique("never")) == []


def test_pages_newest_first_with_events_added_between(stack, admin, world):
    org, owner = world.org, world.owner
    for i in range(5):
        assert owner.patch(ORGS + "/" + org, {"display_name": "v%d" % i}).status_code == 200
    before = trail(owner, org_trail(org))
    late = []

    def between(page):
        r = owner.patch(ORGS + "/" + org, {"display_name": "late %d" % page})
        assert r.status_code == 200
        late.append(page)

    items, pages = walk(owner, org_trail(org), 2, between)
    assert pages >= 4 and late
    ids = [int(e["id"]) for e in items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    # Exactly the events there when the walk began: those added meanwhile are newer.
    assert ids == [int(e["id"]) for e in before]
    after = trail(owner, org_trail(org))
    assert len(after) == len(before) + len(late)
    assert [e["action"] for e in after[:len(late)]] == ["org.updated"] * len(late)
    # A page token is bound to its list: not another organization's, nor another filter.
    r = owner.get(org_trail(org) + "?page_size=1")
    token = r.json()["next_page_token"]
    assert token
    other = new_org(owner)
    assert_problem(owner.get(org_trail(other) + "?page_token=" + token), 400, "invalid_request")
    assert_problem(owner.get(org_trail(org) + "?action=org.updated&page_token=" + token), 400,
                   "invalid_request")
    assert_problem(admin.get(PLATFORM + "?page_token=" + token), 400, "invalid_request")
    assert_problem(owner.get(org_trail(org) + "?page_size=0"), 400, "validation_failed")


def test_me_reads_are_not_recorded(stack, admin, world):
    r, rid = send(world.owner, "GET", ME)
    assert r.status_code == 200
    r, rid2 = send(world.owner, "GET", org_trail(world.org))
    assert r.status_code == 200
    events = trail(admin, PLATFORM, org=world.org)
    assert not [e for e in events if e["request_id"] in (rid, rid2)]
