"""Sign-in and access tokens (SPEC §4, §5.1 JWKS, §5.2, §5.3 refresh_token,
§5.8 for users, §5.10), through both front ends in both token modes."""

import base64
import json
import os
import re
import statistics
import threading
import time

import pytest

from conftest import Client, need_private
from harness import fcgi
from harness import stack as hs
from harness.stack import unique_email
from test_foundation import assert_common_headers, assert_oauth_error, assert_problem, media_type

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

SIGNIN = "/api/auth/v1/signin"
SIGNUP = "/api/auth/v1/signup"
SIGNOUT = "/api/auth/v1/signout"
TOKEN = "/api/auth/v1/token"
ME = "/api/org/v1/me"
USERS = "/api/org/v1/users"
JWKS = "/.well-known/jwks.json"

PASSWORD = "correct horse battery"
TOKEN_KEYS = {"access_token", "token_type", "expires_in", "refresh_token",
              "refresh_expires_in", "session_id"}
OPAQUE_ACCESS = re.compile(r"^lya_[0-9A-Za-z]{49}$")
REFRESH = re.compile(r"^lyr_[0-9A-Za-z]{49}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
USER_KEYS = {"id", "email", "display_name", "platform_admin", "disabled", "created_at",
             "updated_at"}


# --- helpers ---------------------------------------------------------------------

def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt_parts(token):
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), s


def bearer(token):
    return {"Authorization": "Bearer " + token}


def signin(http, email, password=PASSWORD):
    r = http.post(SIGNIN, json={"email": email, "password": password})
    assert r.status_code == 200, r.text[:300]
    return r.json()


def admin_token(http, stack):
    return signin(http, stack.admin_email, stack.admin_password)["access_token"]


def new_user(http, stack, email=None, password=PASSWORD, **extra):
    email = email or unique_email()
    body = {"email": email, "password": password}
    body.update(extra)
    r = http.post(USERS, json=body, headers=bearer(admin_token(http, stack)))
    assert r.status_code == 201, r.text[:300]
    return r.json()


def refresh(http, refresh_token, form=True):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return http.post(TOKEN, data=data) if form else http.post(TOKEN, json=data)


def assert_token_response(r, stack):
    assert r.status_code == 200, r.text[:300]
    assert "no-store" in r.headers.get("Cache-Control", "")
    body = r.json()
    assert set(body) == TOKEN_KEYS, sorted(body)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900 and body["refresh_expires_in"] == 30 * 86400
    assert REFRESH.match(body["refresh_token"]), body["refresh_token"]
    if stack.mode == "jwt":
        header, claims, _ = jwt_parts(body["access_token"])
        assert header["typ"] == "at+jwt" and header["alg"] == "EdDSA" and header["kid"]
        assert claims["principal_type"] == "user" and claims["client_id"] == "lanyard"
        assert claims["sid"] == body["session_id"] and claims["sub"].startswith("u-")
        assert claims["aud"] == "lanyard" and claims["iss"] == stack.url
        assert claims["exp"] - claims["iat"] == 900 and claims["nbf"] <= claims["iat"] + 1
        assert claims["jti"]
    else:
        assert OPAQUE_ACCESS.match(body["access_token"]), body["access_token"]
    return body


def assert_rejected_token(r, path=ME):
    assert_problem(r, 401, "invalid_token", path)
    www = r.headers.get("WWW-Authenticate", "")
    assert www.startswith('Bearer realm="lanyard"') and 'error="invalid_token"' in www, www


# --- sign-in ------------------------------------------------------------------------

def test_signin_answers_a_token_response(stack, http):
    user = new_user(http, stack)
    r = http.post(SIGNIN, json={"email": user["email"].upper(), "password": PASSWORD})
    body = assert_token_response(r, stack)
    me = http.get(ME, headers=bearer(body["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["user"]["id"] == user["id"]


def test_wrong_password_and_unknown_email_get_the_same_401(stack, http):
    user = new_user(http, stack)
    wrong = http.post(SIGNIN, json={"email": user["email"], "password": "not the password!"})
    unknown = http.post(SIGNIN, json={"email": unique_email(), "password": "not the password!"})
    for r in (wrong, unknown):
        assert_problem(r, 401, "unauthenticated", SIGNIN)
    assert wrong.json() == unknown.json()
    assert wrong.headers["Content-Type"] == unknown.headers["Content-Type"]
    assert set(wrong.headers) - {"X-Request-Id"} == set(unknown.headers) - {"X-Request-Id"}


def test_signin_validation(stack, http):
    r = http.post(SIGNIN, json={"email": "a@example.com"})
    body = assert_problem(r, 400, "validation_failed", SIGNIN)
    assert {"field": "password", "message": "is required"} in body["errors"]
    r = http.post(SIGNIN, json={"email": "a@example.com", "password": 12})
    assert_problem(r, 400, "validation_failed", SIGNIN)
    r = http.post(SIGNIN, json={"email": "a@example.com", "password": "x", "extra": 1})
    assert_problem(r, 400, "validation_failed", SIGNIN)
    r = http.post(SIGNIN, data="email=a", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415, "unsupported_media_type", SIGNIN)


def test_throttling_after_max_failures_even_with_the_right_password(stack, http):
    user = new_user(http, stack)
    for _ in range(5):
        r = http.post(SIGNIN, json={"email": user["email"], "password": "wrong password!!"})
        assert_problem(r, 401, "unauthenticated", SIGNIN)
    r = http.post(SIGNIN, json={"email": user["email"], "password": PASSWORD})
    assert_problem(r, 429, "rate_limited", SIGNIN)
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 15 * 60


def test_throttling_treats_unknown_emails_alike(stack, http):
    email = unique_email()
    for _ in range(5):
        r = http.post(SIGNIN, json={"email": email, "password": "wrong password!!"})
        assert_problem(r, 401, "unauthenticated", SIGNIN)
    r = http.post(SIGNIN, json={"email": email, "password": "wrong password!!"})
    assert_problem(r, 429, "rate_limited", SIGNIN)


def test_success_resets_the_failure_count(stack, http):
    user = new_user(http, stack)
    for _ in range(4):
        http.post(SIGNIN, json={"email": user["email"], "password": "wrong password!!"})
    signin(http, user["email"])
    for _ in range(4):
        r = http.post(SIGNIN, json={"email": user["email"], "password": "wrong password!!"})
        assert r.status_code == 401
    signin(http, user["email"])


# --- /me --------------------------------------------------------------------------

def test_me_for_a_user(stack, http):
    user = new_user(http, stack, display_name="Ada")
    tok = signin(http, user["email"])
    r = http.get(ME, headers=bearer(tok["access_token"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"type", "user", "organizations", "credential"}
    assert body["type"] == "user"
    assert body["user"] == {"id": user["id"], "email": user["email"], "display_name": "Ada",
                            "platform_admin": False, "created_at": user["created_at"]}
    assert body["organizations"] == []
    cred = body["credential"]
    assert set(cred) == {"type", "format", "session_id", "expires_at"}
    assert cred["type"] == "access_token" and cred["format"] == stack.mode
    assert cred["session_id"] == tok["session_id"] and RFC3339.match(cred["expires_at"])


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer a b", "Bearer lya_short",
                                   "Bearer x.y.z", "Bearer " + "a" * 8000],
                         ids=["no token", "empty token", "two words", "cut opaque token",
                              "not a JWT", "long junk"])
def test_malformed_bearer_is_401_invalid_token(stack, http, value):
    """SPEC §3: an invalid credential on a protected endpoint is 401; a token
    was sent (an Authorization: Bearer header) and rejected, so the problem's
    code and the challenge say invalid_token (RFC 6750 §3)."""
    assert_rejected_token(http.get(ME, headers={"Authorization": value}))


# The front ends' own header limits, below which Lanyard's 8 KiB limit sits:
# lighttpd answers 431, Apache 400 (LimitRequestFieldSize 8190), each in its
# own words, before any worker sees the request.
FRONT_END_HEADER_LIMIT = {"lighttpd": 431, "apache": 400, "fcgid": 400}


def test_oversized_authorization_header(stack, http):
    value = "Bearer " + "a" * 9000
    r = http.get(ME, headers={"Authorization": value})
    if stack.external:  # whatever front end it is, it refuses the header itself
        assert r.status_code in (400, 431), r.status_code
    else:
        assert r.status_code == FRONT_END_HEADER_LIMIT[stack.frontend], r.status_code
    assert media_type(r) != "application/problem+json", "a worker saw a 9 KB header: %s" % r.text
    # Lanyard's own limit (doc/decisions.md): a credential over 8 KiB + 16 is an
    # invalid token. Only the mod_proxy_fcgi stacks let a test hand it one.
    if getattr(stack, "listen", None) is not None:
        status, headers, body, _ = fcgi.request(stack.listen.addr, "GET", ME,
                                                headers={"Authorization": value})
        assert status == 401, (status, body[:300])
        assert json.loads(body)["code"] == "invalid_token", body[:300]
        assert 'error="invalid_token"' in headers.get("www-authenticate", ""), headers


def test_missing_and_basic_credentials(stack, http):
    r = http.get(ME)
    assert_problem(r, 401, "unauthenticated")
    assert r.headers.get("WWW-Authenticate") == 'Bearer realm="lanyard"'
    r = http.get(ME, headers={"Authorization": "Basic " + b64url(b"QWJ3MXZT5RBN2AKE:nope")})
    assert_problem(r, 401, "unauthenticated")
    assert r.headers.get("WWW-Authenticate") == 'Basic realm="lanyard"'


def test_forged_tokens_are_refused(stack, http):
    user = new_user(http, stack)
    tok = signin(http, user["email"])["access_token"]
    if stack.mode == "jwt":
        h, p, s = tok.split(".")
        claims = json.loads(b64url_decode(p))
        claims["sub"] = hs.ADMIN_EMAIL
        tampered = h + "." + b64url(json.dumps(claims).encode()) + "." + s
        none = b64url(json.dumps({"alg": "none", "typ": "at+jwt"}).encode()) + "." + p + "."
        hs256 = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt",
                                   "kid": jwt_parts(tok)[0]["kid"]}).encode()) + "." + p + "." + s
        for forged in (tampered, none, hs256, tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB")):
            assert_rejected_token(http.get(ME, headers=bearer(forged)))
    else:
        body = tok[4:-6]
        # A different random part keeps the format but no such token exists.
        other = "lya_" + body[::-1]
        assert_rejected_token(http.get(ME, headers=bearer(other + tok[-6:])))
        assert_rejected_token(http.get(ME, headers=bearer(tok[:-1] + ("0" if tok[-1] != "0" else "1"))))


# --- refresh rotation, reuse, sign-out -----------------------------------------------

@pytest.mark.parametrize("form", [True, False], ids=["form", "json"])
def test_refresh_rotates_and_keeps_the_session(stack, http, form):
    user = new_user(http, stack)
    first = signin(http, user["email"])
    r = refresh(http, first["refresh_token"], form=form)
    second = assert_token_response(r, stack)
    assert second["session_id"] == first["session_id"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert http.get(ME, headers=bearer(second["access_token"])).status_code == 200
    third = assert_token_response(refresh(http, second["refresh_token"], form=form), stack)
    assert third["session_id"] == first["session_id"]


def test_refresh_reuse_revokes_the_whole_session(stack, http):
    user = new_user(http, stack)
    first = signin(http, user["email"])
    second = assert_token_response(refresh(http, first["refresh_token"]), stack)
    r = refresh(http, first["refresh_token"])  # replayed: theft
    assert_oauth_error(r, 400, "invalid_grant")
    # The thief's and the owner's newer refresh token are both dead now.
    assert_oauth_error(refresh(http, second["refresh_token"]), 400, "invalid_grant")
    me = http.get(ME, headers=bearer(second["access_token"]))
    if stack.mode == "opaque":
        assert_rejected_token(me)
    else:
        assert me.status_code == 200  # SPEC §4: a JWT lives until exp without check_revocation
    # Another session of the same user is untouched.
    other = signin(http, user["email"])
    assert_token_response(refresh(http, other["refresh_token"]), stack)


def test_parallel_refresh_with_one_token_succeeds_exactly_once(stack, http):
    """Four simultaneous refreshes with one refresh token (SPEC §5.3, single
    use, exact under concurrency as §6 says): exactly one gets a token
    response, every other one the refusal of a spent token, 400 invalid_grant.
    Those were a spent token presented again, so the session is revoked and
    the winner's new refresh token is dead too."""
    user = new_user(http, stack)
    tok = signin(http, user["email"])["refresh_token"]
    n = 4
    clients = [Client(http.base) for _ in range(n)]
    for c in clients:  # connect first, so that the requests leave together
        c.get("/api/health")
    barrier = threading.Barrier(n)
    results = [None] * n

    def go(i):
        barrier.wait()
        results[i] = clients[i].post(TOKEN, data={"grant_type": "refresh_token",
                                                  "refresh_token": tok})

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = [r.status_code for r in results]
    assert statuses.count(200) == 1, statuses
    winner = results[statuses.index(200)]
    fresh = assert_token_response(winner, stack)
    for r in results:
        if r is not winner:
            assert_oauth_error(r, 400, "invalid_grant")
    assert_oauth_error(refresh(http, fresh["refresh_token"]), 400, "invalid_grant")


def test_token_endpoint_errors(stack, http):
    assert_oauth_error(http.post(TOKEN, data={}), 400, "invalid_request")
    assert_oauth_error(http.post(TOKEN, data={"grant_type": "password"}), 400,
                       "unsupported_grant_type")
    assert_oauth_error(http.post(TOKEN, data={"grant_type": "refresh_token"}), 400,
                       "invalid_request")
    assert_oauth_error(refresh(http, "lyr_" + "A" * 49), 400, "invalid_grant")
    assert_oauth_error(http.post(TOKEN, json={"grant_type": 5}), 400, "invalid_request")
    r = http.post(TOKEN, data="grant_type=refresh_token&grant_type=refresh_token",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_oauth_error(r, 400, "invalid_request")
    r = http.post(TOKEN, data="x", headers={"Content-Type": "text/plain"})
    assert_oauth_error(r, 415, "invalid_request")


def test_signout_with_the_access_token(stack, http):
    user = new_user(http, stack)
    tok = signin(http, user["email"])
    r = http.post(SIGNOUT, headers=bearer(tok["access_token"]))
    assert r.status_code == 204, r.text
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert_oauth_error(refresh(http, tok["refresh_token"]), 400, "invalid_grant")
    me = http.get(ME, headers=bearer(tok["access_token"]))
    if stack.mode == "opaque":
        assert_rejected_token(me)
    else:
        assert me.status_code == 200  # SPEC §4: until exp, unless check_revocation


def test_signout_with_only_the_refresh_token(stack, http):
    user = new_user(http, stack)
    tok = signin(http, user["email"])
    r = http.post(SIGNOUT, json={"refresh_token": tok["refresh_token"]})
    assert r.status_code == 204, r.text
    assert_oauth_error(refresh(http, tok["refresh_token"]), 400, "invalid_grant")
    r = http.post(SIGNOUT, json={})
    assert_problem(r, 401, "unauthenticated", SIGNOUT)


def test_password_change_ends_the_other_sessions(stack, http):
    user = new_user(http, stack)
    mine = signin(http, user["email"])
    other = signin(http, user["email"])
    path = "%s/%s" % (USERS, user["id"])
    r = http.request("PATCH", path, headers=bearer(mine["access_token"]),
                     json={"password": "a brand new secret", "current_password": "wrong one!!!!"})
    assert_problem(r, 403, "forbidden")
    r = http.request("PATCH", path, headers=bearer(mine["access_token"]),
                     json={"password": "a brand new secret", "current_password": PASSWORD})
    assert r.status_code == 200, r.text
    assert set(r.json()) == USER_KEYS
    assert_oauth_error(refresh(http, other["refresh_token"]), 400, "invalid_grant")
    assert_token_response(refresh(http, mine["refresh_token"]), stack)
    signin(http, user["email"], "a brand new secret")
    r = http.post(SIGNIN, json={"email": user["email"], "password": PASSWORD})
    assert_problem(r, 401, "unauthenticated", SIGNIN)


def test_disabled_user_cannot_sign_in_or_refresh(stack, http):
    user = new_user(http, stack)
    tok = signin(http, user["email"])
    admin = bearer(admin_token(http, stack))
    path = "%s/%s" % (USERS, user["id"])
    r = http.request("PATCH", path, headers=admin, json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True, r.text
    wrong = http.post(SIGNIN, json={"email": unique_email(), "password": PASSWORD})
    refused = http.post(SIGNIN, json={"email": user["email"], "password": PASSWORD})
    assert_problem(refused, 401, "unauthenticated", SIGNIN)
    assert refused.json() == wrong.json()
    assert_oauth_error(refresh(http, tok["refresh_token"]), 400, "invalid_grant")
    if stack.mode == "opaque":
        assert_rejected_token(http.get(ME, headers=bearer(tok["access_token"])))
    r = http.request("PATCH", path, headers=admin, json={"disabled": False})
    assert r.status_code == 200, r.text
    signin(http, user["email"])


# --- JWKS -------------------------------------------------------------------------------

def test_jwks(stack, http):
    r = http.get(JWKS)
    if stack.mode == "opaque":
        assert_problem(r, 404, "not_found", JWKS)
        return
    assert r.status_code == 200, r.text
    keys = r.json()["keys"]
    assert len(keys) >= 1
    for k in keys:
        assert k["use"] == "sig" and k["alg"] == "EdDSA" and k["kty"] == "OKP"
        assert k["crv"] == "Ed25519" and k["x"] and k["kid"]
        assert "d" not in k
    user = new_user(http, stack)
    header, _, _ = jwt_parts(signin(http, user["email"])["access_token"])
    assert header["kid"] in {k["kid"] for k in keys}


# --- users API (§5.10) ------------------------------------------------------------------

def test_users_api_rights(stack, http):
    admin = bearer(admin_token(http, stack))
    email = unique_email()
    r = http.post(USERS, headers=admin, json={"email": email, "password": PASSWORD,
                                              "display_name": "Bo"})
    assert r.status_code == 201, r.text
    user = r.json()
    assert set(user) == USER_KEYS and user["email"] == email and user["display_name"] == "Bo"
    assert user["platform_admin"] is False and user["disabled"] is False
    assert r.headers["Location"] == "%s%s/%s" % (stack.url, USERS, user["id"])
    r = http.post(USERS, headers=admin, json={"email": email.upper(), "password": PASSWORD})
    assert_problem(r, 409, "conflict")
    r = http.post(USERS, headers=admin, json={"email": "not-an-email", "password": "short"})
    body = assert_problem(r, 400, "validation_failed")
    assert {e["field"] for e in body["errors"]} == {"email", "password"}

    mine = bearer(signin(http, email)["access_token"])
    assert http.get("%s/%s" % (USERS, user["id"]), headers=mine).json()["id"] == user["id"]
    other = new_user(http, stack)
    assert_problem(http.get("%s/%s" % (USERS, other["id"]), headers=mine), 404, "not_found")
    assert_problem(http.get(USERS, headers=mine), 403, "forbidden")
    assert_problem(http.post(USERS, headers=mine, json={"email": unique_email(),
                                                         "password": PASSWORD}), 403, "forbidden")
    r = http.request("PATCH", "%s/%s" % (USERS, user["id"]), headers=mine,
                     json={"platform_admin": True})
    assert_problem(r, 403, "forbidden")
    r = http.request("PATCH", "%s/%s" % (USERS, user["id"]), headers=mine,
                     json={"display_name": "Bob"})
    assert r.status_code == 200 and r.json()["display_name"] == "Bob", r.text

    assert http.delete("%s/%s" % (USERS, user["id"]), headers=mine).status_code == 403
    assert http.delete("%s/%s" % (USERS, user["id"]), headers=admin).status_code == 204
    assert_problem(http.get("%s/%s" % (USERS, user["id"]), headers=admin), 404, "not_found")
    r = http.post(SIGNIN, json={"email": email, "password": PASSWORD})
    assert_problem(r, 401, "unauthenticated", SIGNIN)


def test_users_list_is_paginated(stack, http):
    admin = bearer(admin_token(http, stack))
    for _ in range(3):
        new_user(http, stack)
    seen, token = [], None
    for _ in range(1000):
        q = "?page_size=2" + ("&page_token=" + token if token else "")
        r = http.get(USERS + q, headers=admin)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_page_token"} and len(body["items"]) <= 2
        seen += [u["email"] for u in body["items"]]
        token = body["next_page_token"]
        if token is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) and len(seen) >= 4
    assert_problem(http.get(USERS + "?page_size=0", headers=admin), 400, "validation_failed")
    assert_problem(http.get(USERS + "?page_size=101", headers=admin), 400, "validation_failed")
    assert_problem(http.get(USERS + "?page_token=Zm9vYmFyYmF6", headers=admin), 400,
                   "invalid_request")


def test_signup_is_off_by_default(stack, http):
    r = http.post(SIGNUP, json={"email": unique_email(), "password": PASSWORD})
    assert_problem(r, 404, "not_found", SIGNUP)


# --- stacks with other settings ------------------------------------------------------------

class CustomStack(hs.Stack):
    """A lighttpd front end whose config differs: extra sections, text edits of
    the generated config, or other generator arguments."""

    def __init__(self, env, mode, name, extra="", edits=(), issuer=None, **cfg_kw):
        super().__init__(env, "lighttpd", mode)
        self.id = "lighttpd-%s-%s" % (mode, name)
        self.dir = os.path.join(env.workdir, self.id)
        os.makedirs(self.dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, "lanyard.yaml")
        self.extra, self.edits, self.cfg_kw = extra, edits, cfg_kw
        self.issuer = issuer  # None: the stack's own URL, as generated

    def _write_config(self, port):
        self.env.config(self.config_path, public_url="http://127.0.0.1:%d" % port,
                        mode=self.mode, extra=self.extra, **self.cfg_kw)
        with open(self.config_path) as f:
            text = f.read()
        for old, new in self.edits:
            assert old in text, old
            text = text.replace(old, new)
        if self.issuer is not None:
            text = re.sub(r"(?m)^  issuer: .*$", "  issuer: " + self.issuer, text)
        with open(self.config_path, "w") as f:
            f.write(text)


@pytest.fixture(scope="module")
def custom(request):
    started = []

    def make(mode, name, **kw):
        s = CustomStack(request.getfixturevalue("e2e_env"), mode, name, **kw).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.mark.stacks("lighttpd-jwt")
def test_signup_when_enabled(stack, custom):
    need_private(stack)
    s = custom("jwt", "signup", extra="accounts:\n  self_signup: true\n")
    http = Client(s.url)
    email = unique_email()
    r = http.post(SIGNUP, json={"email": email, "password": PASSWORD, "display_name": "Cy"})
    assert r.status_code == 201, r.text
    assert set(r.json()) == USER_KEYS and r.json()["platform_admin"] is False
    assert r.headers["Location"].startswith(s.url + USERS + "/u-")
    assert_problem(http.post(SIGNUP, json={"email": email, "password": PASSWORD}), 409,
                   "conflict", SIGNUP)
    r = http.post(SIGNUP, json={"email": unique_email(), "password": PASSWORD,
                                "platform_admin": True})
    assert_problem(r, 400, "validation_failed", SIGNUP)
    signin(http, email)


@pytest.mark.stacks("lighttpd-jwt")
def test_check_revocation_stops_jwts_at_signout(stack, custom):
    need_private(stack)
    s = custom("jwt", "revocation",
               edits=[("    algorithm: EdDSA\n", "    algorithm: EdDSA\n    check_revocation: true\n")])
    http = Client(s.url)
    tok = signin(http, s.admin_email, s.admin_password)
    assert http.get(ME, headers=bearer(tok["access_token"])).status_code == 200
    assert http.post(SIGNOUT, headers=bearer(tok["access_token"])).status_code == 204
    assert_rejected_token(http.get(ME, headers=bearer(tok["access_token"])))


@pytest.mark.stacks("lighttpd-jwt")
def test_unknown_email_costs_what_a_wrong_password_costs(stack, custom):
    """Medians of alternating timings with a real scrypt cost (N=16384)."""
    need_private(stack)
    s = custom("jwt", "timing", scrypt_n=16384)
    http = Client(s.url)
    known = new_user(http, s)["email"]
    unknown_times, wrong_times = [], []
    for i in range(8):
        for email, bucket in ((unique_email(), unknown_times), (known, wrong_times)):
            t = time.monotonic()
            r = http.post(SIGNIN, json={"email": email, "password": "wrong password %d" % i})
            bucket.append(time.monotonic() - t)
            assert r.status_code in (401, 429)
        if i == 3:  # stay under signin_max_failures for the known account
            signin(http, known)
    ratio = statistics.median(unknown_times) / statistics.median(wrong_times)
    assert 0.5 < ratio < 2.0, (unknown_times, wrong_times)


def _key_edits(env, alg, key_file, previous=()):
    """Config edits that swap the generated EdDSA key for another one."""
    old = "    algorithm: EdDSA\n    key_file: %s\n" % env.key_file
    new = "    algorithm: %s\n    key_file: %s\n" % (alg, key_file)
    if previous:
        new += "    previous_key_files: [%s]\n" % ", ".join(previous)
    return [(old, new)]


@pytest.mark.stacks("lighttpd-jwt")
@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "EdDSA"])
def test_every_algorithm_end_to_end(stack, custom, alg):
    need_private(stack)
    env = stack.env
    key = os.path.join(env.workdir, "key-%s-%s" % (alg, hs.unique()))
    env.build.ctl_ok(None, "keygen", "--alg", alg, "--out", key)
    s = custom("jwt", "alg-" + alg.lower(), edits=_key_edits(env, alg, key))
    http = Client(s.url)
    tok = signin(http, s.admin_email, s.admin_password)
    header, claims, _ = jwt_parts(tok["access_token"])
    assert header["alg"] == alg and header["typ"] == "at+jwt"
    assert http.get(ME, headers=bearer(tok["access_token"])).status_code == 200
    r = http.get(JWKS)
    if alg == "HS256":
        assert_problem(r, 404, "not_found", JWKS)  # a shared secret is never published
    else:
        assert r.status_code == 200
        keys = r.json()["keys"]
        assert [k["alg"] for k in keys] == [alg] and keys[0]["kid"] == header["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(keys[0])
    # A token of another key (the session's EdDSA stack) is refused here.
    other = signin(Client(stack.url), stack.admin_email, stack.admin_password)["access_token"]
    if alg != "EdDSA":
        assert_rejected_token(http.get(ME, headers=bearer(other)))


@pytest.mark.stacks("lighttpd-jwt")
def test_key_rotation_keeps_old_tokens_valid(stack, custom):
    """Two workers with one issuer: one still on the old key, one rotated
    (new key_file, the old one in previous_key_files). The rotated worker
    signs with the new key, accepts tokens of the old one, and publishes both."""
    need_private(stack)
    env = stack.env
    issuer = "https://lanyard.rotation.test"
    new_key = os.path.join(env.workdir, "key-rotated-%s" % hs.unique())
    env.build.ctl_ok(None, "keygen", "--alg", "EdDSA", "--out", new_key)
    before = custom("jwt", "before-rotation", issuer=issuer)
    after = custom("jwt", "rotated", issuer=issuer,
                   edits=_key_edits(env, "EdDSA", new_key, [env.key_file]))
    old = signin(Client(before.url), before.admin_email, before.admin_password)["access_token"]
    http = Client(after.url)
    keys = http.get(JWKS).json()["keys"]
    assert len(keys) == 2 and keys[1]["kid"] == jwt_parts(old)[0]["kid"]
    new = signin(http, after.admin_email, after.admin_password)["access_token"]
    assert jwt_parts(new)[0]["kid"] == keys[0]["kid"] != keys[1]["kid"]
    assert http.get(ME, headers=bearer(new)).status_code == 200
    assert http.get(ME, headers=bearer(old)).status_code == 200
    # The worker still on the old key does not know the new one.
    assert_rejected_token(Client(before.url).get(ME, headers=bearer(new)))


@pytest.mark.stacks("lighttpd-jwt")
@pytest.mark.parametrize("mode", ["jwt", "opaque"])
def test_expired_tokens_are_refused(stack, custom, mode):
    """access_ttl 1s and refresh_ttl 2s with no leeway: after 3 s both are dead."""
    need_private(stack)
    s = custom(mode, "expiry-" + mode,
               edits=[("  mode: %s\n" % mode,
                       "  mode: %s\n  access_ttl: 1s\n  refresh_ttl: 2s\n  leeway: 0s\n" % mode)])
    http = Client(s.url)
    r = http.post(SIGNIN, json={"email": s.admin_email, "password": s.admin_password})
    assert r.status_code == 200, r.text
    tok = r.json()
    assert tok["expires_in"] == 1 and tok["refresh_expires_in"] == 2
    time.sleep(3.1)
    me = http.get(ME, headers=bearer(tok["access_token"]))
    assert_rejected_token(me)
    if mode == "jwt":
        assert "expired" in me.headers["WWW-Authenticate"]
    assert_oauth_error(refresh(http, tok["refresh_token"]), 400, "invalid_grant")
