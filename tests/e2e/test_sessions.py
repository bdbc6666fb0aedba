"""Sessions (SPEC §5.13): a user's live sessions, listed newest first with
the one of the calling token marked, and ended one by one from another
session as sign-out ends them."""

import datetime
import time

import pytest

from conftest import Client
from harness.stack import unique, unique_email
from test_auth import (PASSWORD, admin_token, assert_oauth_error, assert_rejected_token, bearer,
                       new_user, refresh, signin)
from test_foundation import assert_problem

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

SESSIONS = "/api/org/v1/me/sessions"
SIGNIN = "/api/auth/v1/signin"
SESSION_KEYS = {"id", "created_at", "last_used_at", "expires_at", "ip", "user_agent", "current"}


def signin_as(stack, email, agent):
    http = Client(stack.url)
    http.s.headers["User-Agent"] = agent
    tok = signin(http, email)
    http.s.headers["Authorization"] = "Bearer " + tok["access_token"]
    return http, tok


def parse(t):
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ")


def test_sessions_listed_with_the_current_one(stack, http):
    email = unique_email("sess")
    new_user(http, stack, email)
    a, ta = signin_as(stack, email, "agent-a/" + unique("x"))
    time.sleep(1.05)  # times are kept to the second: the second session is a second newer
    b, tb = signin_as(stack, email, "agent-b/" + unique("x"))
    r = a.get(SESSIONS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "next_page_token"} and body["next_page_token"] is None
    items = body["items"]
    assert [s["id"] for s in items] == [tb["session_id"], ta["session_id"]], "newest first"
    for s in items:
        assert set(s) == SESSION_KEYS, sorted(s)
        assert s["ip"] == "127.0.0.1"
        assert s["created_at"].endswith("Z") and s["last_used_at"].endswith("Z")
        # the newest refresh token's lifetime: refresh_ttl (30d) after the last use
        ttl = parse(s["expires_at"]) - parse(s["last_used_at"])
        assert ttl == datetime.timedelta(days=30), ttl
    assert [s["current"] for s in items] == [False, True]
    assert items[0]["user_agent"].startswith("agent-b/")
    assert items[1]["user_agent"].startswith("agent-a/")
    assert [s["current"] for s in b.get(SESSIONS).json()["items"]] == [True, False]
    # a refresh counts as a use and keeps the session
    t2 = refresh(b, tb["refresh_token"]).json()
    assert t2["session_id"] == tb["session_id"]


def test_a_session_ended_from_another(stack, http):
    email = unique_email("sess")
    new_user(http, stack, email)
    a, ta = signin_as(stack, email, "ender")
    b, tb = signin_as(stack, email, "ended")
    r = a.delete(SESSIONS + "/" + tb["session_id"])
    assert r.status_code == 204, r.text
    # as sign-out: the refresh token is dead; in opaque mode the access token too
    assert_oauth_error(refresh(Client(stack.url), tb["refresh_token"]), 400, "invalid_grant")
    if stack.mode == "opaque":
        assert_rejected_token(b.get("/api/org/v1/me"))
    ids = [s["id"] for s in a.get(SESSIONS).json()["items"]]
    assert ids == [ta["session_id"]]
    # the audit trail has it (SPEC §5.12): the user ended it, from the ending session's address
    admin = bearer(admin_token(http, stack))
    r = http.get("/api/org/v1/audit-events", params={"action": "session.revoked", "page_size": 100},
                 headers=admin)
    assert r.status_code == 200, r.text
    events = [e for e in r.json()["items"] if e["target"] == {"type": "session", "id": tb["session_id"]}]
    assert len(events) == 1, events
    assert events[0]["actor"]["type"] == "user" and events[0]["outcome"] == "success"
    assert events[0]["user_agent"] == "ender" and events[0]["org"] is None
    # ended already, unknown, or malformed: 404 alike
    for sid in (tb["session_id"], "ses-" + "a" * 20, "nope"):
        assert_problem(a.delete(SESSIONS + "/" + sid), 404, "not_found")
    # a session can end itself
    assert a.delete(SESSIONS + "/" + ta["session_id"]).status_code == 204
    assert_oauth_error(refresh(Client(stack.url), ta["refresh_token"]), 400, "invalid_grant")


def test_another_users_session_is_not_there(stack, http):
    mine, theirs = unique_email("mine"), unique_email("theirs")
    new_user(http, stack, mine)
    new_user(http, stack, theirs)
    a, _ = signin_as(stack, mine, "a")
    _, tb = signin_as(stack, theirs, "b")
    assert_problem(a.delete(SESSIONS + "/" + tb["session_id"]), 404, "not_found")
    assert refresh(Client(stack.url), tb["refresh_token"]).status_code == 200
    assert tb["session_id"] not in [s["id"] for s in a.get(SESSIONS).json()["items"]]


def test_sessions_paginated_newest_first(stack, http):
    email = unique_email("sess")
    new_user(http, stack, email)
    sessions = [signin_as(stack, email, "page-%d" % i)[1]["session_id"] for i in range(5)]
    me, mt = signin_as(stack, email, "reader")
    me_session = mt["session_id"]
    created = {s["id"]: s["created_at"] for s in me.get(SESSIONS, params={"page_size": 100}).json()["items"]}
    seen, token = [], None
    for _ in range(10):
        params = {"page_size": 2}
        if token:
            params["page_token"] = token
        r = me.get(SESSIONS, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [s["id"] for s in page["items"]]
        if len(seen) == 2:
            signin_as(stack, email, "between pages")  # a newer one never shifts later pages
        token = page["next_page_token"]
        if token is None:
            break
    # every session there before once; the one made between pages at most once (it is newer,
    # but times are kept to the second, so within the first page's second it may sort later)
    before = sessions + [me_session]
    assert sorted(i for i in seen if i in before) == sorted(before), seen
    assert len(seen) == len(set(seen)) and len(seen) - len(before) in (0, 1), seen
    keys = [(created[i], i) for i in seen if i in created]
    assert keys == sorted(keys, reverse=True), "newest first: %s" % keys
    r = me.get(SESSIONS, params={"page_token": "forged"})
    assert_problem(r, 400, "invalid_request")
    assert_problem(me.get(SESSIONS, params={"page_size": 0}), 400, "validation_failed")


def test_sessions_are_for_users_signed_in(stack, http):
    assert_problem(http.get(SESSIONS), 401, "unauthenticated")
    admin = bearer(admin_token(http, stack))
    org = unique("sessorg")
    assert http.post("/api/org/v1/orgs", json={"name": org}, headers=admin).status_code == 201
    r = http.post("/api/org/v1/orgs/%s/service-accounts" % org, json={"name": "bot"},
                  headers=admin)
    assert r.status_code == 201, r.text
    key = http.post("/api/org/v1/orgs/%s/service-accounts/bot/keys" % org, json={},
                    headers=admin).json()
    personal = http.post("/api/org/v1/me/keys", json={"org": org}, headers=admin).json()
    for token in (key["token"], personal["token"]):
        assert_problem(http.get(SESSIONS, headers=bearer(token)), 403, "forbidden")
        assert_problem(http.delete(SESSIONS + "/ses-x", headers=bearer(token)), 403, "forbidden")
