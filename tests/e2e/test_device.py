"""Device login for command-line tools (SPEC §5.4, §5.3; RFC 8628; the
decisions of issue 14): the device authorization request, approval and
denial by a user, and every answer of the device_code grant: pending,
slow_down (the interval grows by 5 s per too-fast poll, kept per code),
access_denied, expired_token, tokens exactly once even to racing polls,
invalid_grant after. Guessing user codes is throttled per user.

Expired codes and time already waited are made by moving the code's times
in the test database (stack.mariadb.sql), not by waiting; one test waits
one real interval to show that a client keeping to it is never slowed.

Every test makes its own users and codes (the database is shared by all
stacks of a session)."""

import re
import threading
import time
import zlib

import pytest

from conftest import TIMEOUT, Client
from test_foundation import assert_oauth_error
from test_key_auth import log_files
from test_keys import (as_key, assert_no_store, base62, new_key, new_personal_key, new_sa)
from test_orgs import ME, Caller, admin_of, assert_problem, new_org, new_user

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

DEVICE = "/api/auth/v1/device"
APPROVE = "/api/auth/v1/device/approve"
TOKEN = "/api/auth/v1/token"
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_KEYS = {"device_code", "user_code", "verification_uri", "verification_uri_complete",
               "expires_in", "interval"}
TOKEN_KEYS = {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in",
              "session_id"}
USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")
DEVICE_CODE = re.compile(r"^lyd_[0-9A-Za-z]{49}$")
SIGNIN_MAX_FAILURES = 5  # security.signin_max_failures when the config does not say

# Every secret answered in this module, for the log check at its end.
SECRETS = []


# --- helpers ------------------------------------------------------------------

class Code:
    """One device authorization: its answer, and its row in the database."""

    def __init__(self, stack, body):
        self.stack = stack
        self.body = body
        self.device_code = body["device_code"]
        self.user_code = body["user_code"]
        self.stored = self.user_code.replace("-", "")
        SECRETS.append(("device_code", self.device_code))

    def sql(self, assignments):
        self.stack.mariadb.sql("UPDATE lanyard.device_codes SET %s WHERE user_code = '%s'"
                               % (assignments, self.stored))

    def row(self):
        rows = self.stack.mariadb.sql(
            "SELECT status, poll_interval, IFNULL(user_id, '-') FROM lanyard.device_codes"
            " WHERE user_code = '%s'" % self.stored)
        assert len(rows) == 1, rows
        return rows[0][0], int(rows[0][1]), rows[0][2]

    def polled_ago(self, seconds):
        """As if the previous poll had come `seconds` ago."""
        self.sql("last_poll_at = UTC_TIMESTAMP() - INTERVAL %d SECOND" % seconds)

    def expire(self):
        self.sql("expires_at = UTC_TIMESTAMP() - INTERVAL 1 SECOND")


def start(stack, http=None, **params):
    http = http or Client(stack.url)
    r = http.post(DEVICE, data=params)
    assert r.status_code == 200, r.text[:500]
    return Code(stack, r.json())


def poll(http, code):
    return http.post(TOKEN, data={"grant_type": GRANT, "device_code": code.device_code})


def assert_poll(http, code, error):
    return assert_oauth_error(poll(http, code), 400, error)


def approve(caller, user_code, yes=True):
    return caller.post(APPROVE, {"user_code": user_code, "approve": yes})


def assert_tokens(r):
    assert r.status_code == 200, r.text[:500]
    assert_no_store(r)
    body = r.json()
    assert set(body) == TOKEN_KEYS, sorted(body)
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"].startswith("lyr_")
    SECRETS.append(("access_token", body["access_token"]))
    SECRETS.append(("refresh_token", body["refresh_token"]))
    return body


def sessions_of(stack, user_id, kind="device"):
    rows = stack.mariadb.sql("SELECT id FROM lanyard.sessions WHERE user_id = '%s' AND kind = '%s'"
                             % (user_id, kind))
    return [r[0] for r in rows]


@pytest.fixture
def http(stack):
    return Client(stack.url)


@pytest.fixture
def admin(stack):
    return admin_of(stack)


@pytest.fixture
def user(stack, admin):
    return new_user(stack, admin, "device")


# --- the device authorization request -------------------------------------------

def test_device_authorization_answer(stack, http):
    r = http.post(DEVICE)
    assert r.status_code == 200, r.text[:500]
    assert_no_store(r)
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == DEVICE_KEYS, sorted(body)
    code = Code(stack, body)
    assert DEVICE_CODE.match(body["device_code"]), body["device_code"]
    # SPEC §4: the last 6 characters are the CRC-32 of everything before them
    head = body["device_code"][:-6]
    assert body["device_code"][-6:] == base62(zlib.crc32(head.encode()), 6)
    assert USER_CODE.match(body["user_code"]), body["user_code"]
    assert body["verification_uri"] == stack.url + "/device"
    assert body["verification_uri_complete"] == (stack.url + "/device?user_code="
                                                 + body["user_code"])
    assert body["expires_in"] == 600 and body["interval"] == 5
    # stored as its SHA-256 only, with the user code without its hyphen
    assert code.row() == ("pending", 5, "-")
    assert stack.mariadb.sql("SELECT COUNT(*) FROM lanyard.device_codes WHERE user_code = '%s'"
                             " AND device_code_hash = UNHEX(SHA2('%s', 256))"
                             % (code.stored, code.device_code)) == [["1"]]


def test_device_authorization_takes_form_or_json(stack, http):
    a = http.post(DEVICE, data={"client_id": "my-cli", "org": "acme"})
    b = http.post(DEVICE, json={"client_id": "my-cli", "org": "acme"})
    c = http.post(DEVICE, json={})
    for r in (a, b, c):
        assert r.status_code == 200, r.text[:300]
        assert set(r.json()) == DEVICE_KEYS
        Code(stack, r.json())
    codes = {r.json()["device_code"] for r in (a, b, c)} | {r.json()["user_code"] for r in (a, b, c)}
    assert len(codes) == 6, "every request gets codes of its own"


def test_device_authorization_malformed(stack, http):
    for body in ({"client_id": 7}, {"org": ["a"]}, {"client_id": None}):
        assert_oauth_error(http.post(DEVICE, json=body), 400, "invalid_request")
    assert_oauth_error(http.post(DEVICE, data="client_id=a&client_id=b",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}),
                       400, "invalid_request")
    assert_oauth_error(http.post(DEVICE, data="[]", headers={"Content-Type": "application/json"}),
                       400, "invalid_request")
    assert_oauth_error(http.post(DEVICE, data="x", headers={"Content-Type": "text/plain"}),
                       415, "invalid_request")
    assert_oauth_error(http.get(DEVICE), 405, "invalid_request")


# --- polling ----------------------------------------------------------------------

def test_pending_and_slow_down(stack, http):
    code = start(stack, http)
    assert_poll(http, code, "authorization_pending")
    # a client keeping to the interval is never slowed down. (A new connection:
    # the front ends close a keep-alive connection idle for 5 s, and a POST sent
    # on it just then is lost, as "Remote end closed connection without response".)
    time.sleep(5.05)
    http = Client(stack.url)
    assert_poll(http, code, "authorization_pending")
    assert code.row()[:2] == ("pending", 5)
    # sooner than the interval: slow_down, and the interval grows by 5 for this code
    assert_poll(http, code, "slow_down")
    assert code.row()[:2] == ("pending", 10)
    # polling at the old interval is too fast now: slow_down again, +5 again
    code.polled_ago(5)
    assert_poll(http, code, "slow_down")
    assert code.row()[:2] == ("pending", 15)
    # (a margin of seconds below the interval: the poll may reach the worker a second or
    # more after the row was set on a loaded machine)
    code.polled_ago(11)
    assert_poll(http, code, "slow_down")
    assert code.row()[:2] == ("pending", 20)
    # at the grown interval: pending, and the interval stays
    code.polled_ago(20)
    assert_poll(http, code, "authorization_pending")
    assert code.row()[:2] == ("pending", 20)
    # kept per code: another code starts at 5
    other = start(stack, http)
    assert_poll(http, other, "authorization_pending")
    assert other.row()[:2] == ("pending", 5)


def test_approved_tokens_once(stack, http, user):
    code = start(stack, http)
    assert_poll(http, code, "authorization_pending")
    r = approve(user, code.user_code)
    assert r.status_code == 204, r.text[:300]
    assert code.row() == ("approved", 5, user.id)
    # delivered at once, though sooner than the interval after the last poll
    tokens = assert_tokens(poll(http, code))
    assert code.row()[0] == "consumed"
    assert sessions_of(stack, user.id) == [tokens["session_id"]]
    me = Caller(stack.url, tokens["access_token"]).get(ME)
    assert me.status_code == 200, me.text[:300]
    assert me.json()["user"]["id"] == user.id
    assert me.json()["credential"]["session_id"] == tokens["session_id"]
    # exactly once: every later poll is invalid_grant
    assert_poll(http, code, "invalid_grant")
    time.sleep(0.1)
    assert_poll(http, code, "invalid_grant")
    # the refresh token refreshes like a sign-in's, keeping the session
    r = http.post(TOKEN, data={"grant_type": "refresh_token",
                               "refresh_token": tokens["refresh_token"]})
    again = assert_tokens(r)
    assert again["session_id"] == tokens["session_id"]
    assert Caller(stack.url, again["access_token"]).get(ME).status_code == 200
    # the code is decided: approving it again is 404
    assert_problem(approve(user, code.user_code), 404, "not_found")
    # SPEC §5.12: the approval is an audit event of the approving user
    rows = stack.mariadb.sql("SELECT actor_type, actor_id, target_type, outcome"
                             " FROM lanyard.audit_events WHERE action = 'device.approved'"
                             " AND target_id = '%s'" % code.stored)
    assert rows and all(r[:3] == ["user", user.id, "device_code"] for r in rows), rows


def test_approved_twice_is_404(stack, http, user, admin):
    code = start(stack, http)
    assert approve(user, code.user_code).status_code == 204
    assert_problem(approve(user, code.user_code), 404, "not_found")
    # nor by another user (not the administrator: misses count on the user's throttle row,
    # and the administrator is shared by every stack of the session)
    other = new_user(stack, admin, "other")
    assert_problem(approve(other, code.user_code, yes=False), 404, "not_found")
    # the first decision stands
    assert code.row() == ("approved", 5, user.id)
    tokens = assert_tokens(poll(http, code))
    assert Caller(stack.url, tokens["access_token"]).get(ME).json()["user"]["id"] == user.id


def test_denied(stack, http, user):
    code = start(stack, http)
    assert_poll(http, code, "authorization_pending")
    assert approve(user, code.user_code, yes=False).status_code == 204
    assert code.row() == ("denied", 5, user.id)
    assert_poll(http, code, "access_denied")
    assert_poll(http, code, "access_denied")
    assert_problem(approve(user, code.user_code), 404, "not_found")
    assert code.row()[0] == "denied"
    assert sessions_of(stack, user.id) == []
    rows = stack.mariadb.sql("SELECT actor_id FROM lanyard.audit_events"
                             " WHERE action = 'device.denied' AND target_id = '%s'" % code.stored)
    assert rows and all(r[0] == user.id for r in rows), rows


def test_expired(stack, http, user):
    pending = start(stack, http)
    pending.expire()
    assert_poll(http, pending, "expired_token")
    assert_problem(approve(user, pending.user_code), 404, "not_found")
    assert pending.row()[0] == "pending"
    # approved, but its tokens not fetched in time
    late = start(stack, http)
    assert approve(user, late.user_code).status_code == 204
    late.expire()
    assert_poll(http, late, "expired_token")
    assert late.row()[0] == "approved"
    assert sessions_of(stack, user.id) == []


def test_user_disabled_after_approving_gets_no_tokens(stack, http, admin):
    """Disabling ends a user's sessions (SPEC §5.2): an approved code makes no new one."""
    user = new_user(stack, admin, "device")
    code = start(stack, http)
    assert approve(user, code.user_code).status_code == 204
    r = admin.patch("/api/org/v1/users/" + user.id, {"disabled": True})
    assert r.status_code == 200, r.text[:300]
    assert_poll(http, code, "invalid_grant")
    assert sessions_of(stack, user.id) == []


def test_parallel_polls_of_an_approved_code(stack, user):
    code = start(stack)
    assert approve(user, code.user_code).status_code == 204
    n = 10
    barrier = threading.Barrier(n)
    answers = [None] * n

    def run(i):
        c = Client(stack.url)
        barrier.wait()
        answers[i] = poll(c, code)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    assert all(a is not None for a in answers)
    ok = [a for a in answers if a.status_code == 200]
    assert len(ok) == 1, [(a.status_code, a.text[:100]) for a in answers]
    tokens = assert_tokens(ok[0])
    for a in answers:
        if a.status_code != 200:
            assert_oauth_error(a, 400, "invalid_grant")
    assert sessions_of(stack, user.id) == [tokens["session_id"]]
    assert Caller(stack.url, tokens["access_token"]).get(ME).status_code == 200


def test_user_code_without_regard_to_case_or_hyphen(stack, http, user):
    forms = [lambda c: c.lower(), lambda c: c.replace("-", ""),
             lambda c: c.replace("-", "").lower(), lambda c: "-".join(c.replace("-", "")),
             lambda c: c[:2] + "-" + c[2:].swapcase()]
    for form in forms:
        code = start(stack, http)
        r = approve(user, form(code.user_code))
        assert r.status_code == 204, (form(code.user_code), r.text[:300])
        assert code.row()[0] == "approved"
        assert_tokens(poll(http, code))


def test_only_users_approve(stack, http, admin):
    owner = new_user(stack, admin, "owner")
    org = new_org(owner)
    sa = new_sa(owner, org, role="admin")
    key = new_key(owner, org, sa["id"])
    personal = new_personal_key(owner, org, role="admin")
    SECRETS.extend([("key", key["token"]), ("key", personal["token"])])
    r = http.post(TOKEN, auth=(key["id"], key["secret"]), data={"grant_type": "client_credentials"})
    assert r.status_code == 200, r.text[:300]
    exchanged = Caller(stack.url, r.json()["access_token"])
    code = start(stack, http)
    for who, caller in (("service account key", as_key(stack, key)),
                        ("exchanged service-account token", exchanged),
                        ("personal key", as_key(stack, personal))):
        for yes in (True, False):
            assert_problem(approve(caller, code.user_code, yes), 403, "forbidden")
    basic = http.post(APPROVE, json={"user_code": code.user_code, "approve": True},
                      auth=(key["id"], key["secret"]))
    assert_problem(basic, 403, "forbidden")
    # no credential: 401 with the challenge
    r = http.post(APPROVE, json={"user_code": code.user_code, "approve": True})
    assert_problem(r, 401, "unauthenticated")
    assert r.headers["WWW-Authenticate"].startswith("Bearer realm=\"lanyard\"")
    # none of them decided the code: it is pending, and the owner can still approve it
    assert code.row()[0] == "pending"
    assert approve(owner, code.user_code).status_code == 204


def test_guessing_is_throttled(stack, http, admin):
    guesser = new_user(stack, admin, "guesser")
    code = start(stack, http)
    wrong = "BBBB-BBBB" if code.stored != "BBBBBBBB" else "CCCC-CCCC"
    for attempt in range(SIGNIN_MAX_FAILURES):
        assert_problem(approve(guesser, wrong), 404, "not_found")
    r = approve(guesser, wrong)
    assert_problem(r, 429, "rate_limited")
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 15 * 60, retry
    # past the limit, even a right code waits (nothing is learnt from the answer)
    assert_problem(approve(guesser, code.user_code), 429, "rate_limited")
    assert code.row()[0] == "pending"
    # per user: another user approves it
    other = new_user(stack, admin, "other")
    assert approve(other, code.user_code).status_code == 204
    # malformed, expired and decided codes are misses too
    g2 = new_user(stack, admin, "guesser")
    spent = start(stack, http)
    assert approve(other, spent.user_code).status_code == 204
    expired = start(stack, http)
    expired.expire()
    for typed in ("AAAA-AAAA", "BCD", spent.user_code, expired.user_code, wrong):
        assert_problem(approve(g2, typed), 404, "not_found")
    assert_problem(approve(g2, wrong), 429, "rate_limited")


def test_approvals_are_not_misses(stack, http, admin):
    """Only misses count: a user approving more codes than the limit is never throttled."""
    busy = new_user(stack, admin, "busy")
    for _ in range(SIGNIN_MAX_FAILURES + 2):
        code = start(stack, http)
        assert approve(busy, code.user_code).status_code == 204


def test_grant_malformed(stack, http):
    code = start(stack, http)
    assert_oauth_error(http.post(TOKEN, data={"grant_type": GRANT}), 400, "invalid_request")
    for body in ({"grant_type": GRANT, "device_code": 12},
                 {"grant_type": GRANT, "device_code": None},
                 {"grant_type": GRANT, "device_code": [code.device_code]}):
        assert_oauth_error(http.post(TOKEN, json=body), 400, "invalid_request")
    form = "grant_type=%s&device_code=%s&device_code=%s" % (GRANT, code.device_code,
                                                            code.device_code)
    r = http.post(TOKEN, data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_oauth_error(r, 400, "invalid_request")
    # JSON works like the form
    r = http.post(TOKEN, json={"grant_type": GRANT, "device_code": code.device_code})
    assert_oauth_error(r, 400, "authorization_pending")
    # a device code that is not one, one with a wrong checksum, an unknown one
    forged = code.device_code[:-1] + ("A" if code.device_code[-1] != "A" else "B")
    head = "lyd_" + "x" * 43
    unknown = head + base62(zlib.crc32(head.encode()), 6)
    for bad in ("", "nope", forged, unknown, code.user_code):
        r = http.post(TOKEN, data={"grant_type": GRANT, "device_code": bad})
        assert_oauth_error(r, 400, "invalid_grant")
    # none of those touched the real code's polling state beyond its one poll
    assert code.row()[:2] == ("pending", 5)


def test_approve_malformed(stack, http, user):
    code = start(stack, http)
    for body in ({"user_code": code.user_code}, {"approve": True},
                 {"user_code": code.user_code, "approve": "true"},
                 {"user_code": 12345678, "approve": True},
                 {"user_code": code.user_code, "approve": True, "extra": 1}):
        assert_problem(user.post(APPROVE, body), 400, "validation_failed")
    r = user.req("POST", APPROVE, data="user_code=" + code.user_code + "&approve=true",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415, "unsupported_media_type")
    assert code.row()[0] == "pending"


def test_no_secret_in_logs(stack, http, user):
    """Last in the module: no device code or token answered above is in any log of the stack."""
    code = start(stack, http)
    assert approve(user, code.user_code).status_code == 204
    r = poll(http, code)
    assert_tokens(r)
    last_rid = r.headers["X-Request-Id"]
    time.sleep(1.5)  # let the workers write their log lines
    files = log_files(stack) + [stack.mariadb.log_file]
    leaks, logged = [], False
    for p in files:
        with open(p, "rb") as f:
            data = f.read()
        logged = logged or last_rid.encode() in data
        for what, value in SECRETS:
            if value.encode() in data:
                leaks.append("%s in %s" % (what, p))
    assert logged, "the last request's log line is in none of %s" % files
    assert not leaks, "secrets in the logs:\n" + "\n".join(sorted(set(leaks)))
