"""The web console's server side (SPEC §5.14): the refresh token in an
HttpOnly cookie (sign-in with refresh_cookie, refresh by the cookie in JSON
requests only, with rotation and reuse detection as for a parameter,
sign-out clearing it, Secure under an https public_url), no CORS headers,
and the console's static files with their CSP served by the shipped
lighttpd and Apache snippets at /console/, /device leading to its approval
page."""

import re
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urljoin

import pytest

from conftest import Client, need_private
from test_auth import (ME, PASSWORD, REFRESH, SIGNIN, SIGNOUT, TOKEN, TOKEN_KEYS,
                       assert_rejected_token, bearer, new_user)
from test_foundation import assert_oauth_error, assert_problem
from test_hardening import hard  # noqa: F401 (fixture: stacks with an edited config)

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

COOKIE = re.compile(r"^lanyard_refresh=(lyr_[0-9A-Za-z]{49}); Path=/api/auth/v1/; HttpOnly; "
                    r"SameSite=Strict; Max-Age=2592000$")
COOKIE_SECURE = re.compile(COOKIE.pattern[:-1] + "; Secure$")
CLEARED = "lanyard_refresh=; Path=/api/auth/v1/; HttpOnly; SameSite=Strict; Max-Age=0"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")
DEVICE = "/api/auth/v1/device"


def fresh(stack):
    """A client whose cookie jar keeps nothing: every cookie a test sends is explicit."""
    http = Client(stack.url)
    http.s.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return http


def cookie_signin(http, email, pattern=COOKIE):
    """Sign in with refresh_cookie: the body without refresh_token, the token in Set-Cookie."""
    r = http.post(SIGNIN, json={"email": email, "password": PASSWORD, "refresh_cookie": True})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert set(body) == TOKEN_KEYS - {"refresh_token"}, sorted(body)
    assert "no-store" in r.headers.get("Cache-Control", "")
    m = pattern.match(r.headers.get("Set-Cookie", ""))
    assert m, r.headers.get("Set-Cookie")
    return body, m.group(1)


def cookie_refresh(http, cookie_header, body=None):
    """A JSON refresh with no refresh_token parameter and this Cookie header."""
    return http.post(TOKEN, json=body or {"grant_type": "refresh_token"},
                     headers={"Cookie": cookie_header})


def assert_rotated(r, session_id, old, pattern=COOKIE):
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert set(body) == TOKEN_KEYS - {"refresh_token"}, sorted(body)
    assert body["session_id"] == session_id
    m = pattern.match(r.headers.get("Set-Cookie", ""))
    assert m, r.headers.get("Set-Cookie")
    assert m.group(1) != old
    return body, m.group(1)


def assert_no_cors(r):
    cors = sorted(k for k in r.headers if k.lower().startswith("access-control-"))
    assert cors == [], cors


# --- the cookie ---------------------------------------------------------------------

def test_signin_with_refresh_cookie(stack):
    http = fresh(stack)
    user = new_user(http, stack)
    body, rt = cookie_signin(http, user["email"])
    assert REFRESH.match(rt)
    assert http.get(ME, headers=bearer(body["access_token"])).status_code == 200
    # false, or no field: the ordinary answer, no cookie
    r = fresh(stack).post(SIGNIN, json={"email": user["email"], "password": PASSWORD,
                                        "refresh_cookie": False})
    assert r.status_code == 200 and set(r.json()) == TOKEN_KEYS
    assert "Set-Cookie" not in r.headers
    # the cookie's token is an ordinary refresh token too
    r = fresh(stack).post(TOKEN, json={"grant_type": "refresh_token", "refresh_token": rt})
    assert r.status_code == 200 and set(r.json()) == TOKEN_KEYS, r.text[:300]
    assert "Set-Cookie" not in r.headers


@pytest.mark.parametrize("value", ["true", 1, None, [True], {}])
def test_refresh_cookie_must_be_a_boolean(stack, value):
    http = fresh(stack)
    user = new_user(http, stack)
    r = http.post(SIGNIN, json={"email": user["email"], "password": PASSWORD,
                                "refresh_cookie": value})
    body = assert_problem(r, 400, "validation_failed", SIGNIN)
    assert [e["field"] for e in body["errors"]] == ["refresh_cookie"], body
    assert "Set-Cookie" not in r.headers


def test_refresh_by_cookie_rotates_and_reuse_revokes_the_session(stack):
    http = fresh(stack)
    user = new_user(http, stack)
    first, c1 = cookie_signin(http, user["email"])
    second, c2 = assert_rotated(cookie_refresh(http, "lanyard_refresh=" + c1),
                                first["session_id"], c1)
    assert second["access_token"] != first["access_token"]
    assert http.get(ME, headers=bearer(second["access_token"])).status_code == 200
    third, c3 = assert_rotated(cookie_refresh(http, "lanyard_refresh=" + c2),
                               first["session_id"], c2)
    # the first cookie again: theft, the whole session ends, and the cookie is cleared
    r = cookie_refresh(http, "lanyard_refresh=" + c1)
    assert_oauth_error(r, 400, "invalid_grant")
    assert r.headers.get("Set-Cookie") == CLEARED
    assert_oauth_error(cookie_refresh(http, "lanyard_refresh=" + c3), 400, "invalid_grant")
    me = http.get(ME, headers=bearer(third["access_token"]))
    if stack.mode == "opaque":
        assert_rejected_token(me)
    else:
        assert me.status_code == 200  # SPEC §4: a JWT lives until exp without check_revocation


def test_the_cookie_only_in_a_json_request(stack):
    http = fresh(stack)
    user = new_user(http, stack)
    first, c1 = cookie_signin(http, user["email"])
    r = http.post(TOKEN, data={"grant_type": "refresh_token"},
                  headers={"Cookie": "lanyard_refresh=" + c1})
    assert_oauth_error(r, 400, "invalid_request")
    assert "Set-Cookie" not in r.headers
    # not spent by the form: it still refreshes, once
    assert_rotated(cookie_refresh(http, "lanyard_refresh=" + c1), first["session_id"], c1)
    # a refresh_token parameter wins over the cookie (the ordinary answer)
    _, c2 = cookie_signin(http, user["email"])
    _, c3 = cookie_signin(http, user["email"])
    r = cookie_refresh(http, "lanyard_refresh=" + c3,
                       {"grant_type": "refresh_token", "refresh_token": c2})
    assert r.status_code == 200 and set(r.json()) == TOKEN_KEYS, r.text[:300]
    assert "Set-Cookie" not in r.headers
    # without a cookie either: still invalid_request
    assert_oauth_error(http.post(TOKEN, json={"grant_type": "refresh_token"}), 400,
                       "invalid_request")


def test_cookie_header_is_read_strictly(stack):
    http = fresh(stack)
    user = new_user(http, stack)
    first, c1 = cookie_signin(http, user["email"])
    for header in ("lanyard_refresh=%s; lanyard_refresh=%s" % (c1, c1),  # repeated: ambiguous
                   'lanyard_refresh="%s"' % c1,                         # quoted
                   "lanyard_refresh=%s\\x" % c1):                        # no cookie-octet
        r = cookie_refresh(http, header)
        assert_oauth_error(r, 400, "invalid_request")
        assert "Set-Cookie" not in r.headers, header
    for header in ("lanyard_refresh=", "lanyard_refresh=lyr_x", "lanyard_refresh=" + c1[:-1]
                   + ("A" if c1[-1] != "A" else "B")):
        r = cookie_refresh(http, header)
        assert_oauth_error(r, 400, "invalid_grant")
        assert r.headers.get("Set-Cookie") == CLEARED, header
    # other cookies of the host around it, and other names alike, are no trouble
    assert_oauth_error(cookie_refresh(http, "Lanyard_Refresh=%s; xlanyard_refresh=%s" % (c1, c1)),
                       400, "invalid_request")
    assert_rotated(cookie_refresh(http, 'theme=dark;  sid="a,b" ;lanyard_refresh=%s ; flag' % c1),
                   first["session_id"], c1)


def test_signout_with_the_cookie_ends_the_session_and_clears_it(stack):
    http = fresh(stack)
    user = new_user(http, stack)
    first, c1 = cookie_signin(http, user["email"])
    r = http.post(SIGNOUT, json={}, headers={"Cookie": "theme=dark; lanyard_refresh=" + c1})
    assert r.status_code == 204, r.text[:300]
    assert r.headers.get("Set-Cookie") == CLEARED
    assert_oauth_error(cookie_refresh(http, "lanyard_refresh=" + c1), 400, "invalid_grant")
    me = http.get(ME, headers=bearer(first["access_token"]))
    if stack.mode == "opaque":
        assert_rejected_token(me)
    # with the access token too, and an empty body (the console's fetch), the same
    second, c2 = cookie_signin(http, user["email"])
    r = http.post(SIGNOUT, headers=dict(bearer(second["access_token"]),
                                        Cookie="lanyard_refresh=" + c2))
    assert r.status_code == 204 and r.headers.get("Set-Cookie") == CLEARED, r.text[:300]
    assert_oauth_error(cookie_refresh(http, "lanyard_refresh=" + c2), 400, "invalid_grant")
    # an ended session's cookie: still 204, still cleared
    r = http.post(SIGNOUT, json={}, headers={"Cookie": "lanyard_refresh=" + c2})
    assert r.status_code == 204 and r.headers.get("Set-Cookie") == CLEARED
    # no cookie, no token: 401 as before, no Set-Cookie
    r = http.post(SIGNOUT, json={})
    assert_problem(r, 401, "unauthenticated", SIGNOUT)
    assert "Set-Cookie" not in r.headers
    r = http.post(SIGNOUT, json={}, headers={"Cookie": "lanyard_refresh=a; lanyard_refresh=b"})
    assert_problem(r, 400, "invalid_request", SIGNOUT)


def test_secure_when_public_url_is_https(stack, hard):  # noqa: F811
    need_private(stack)
    # the stack still serves http on loopback: the cookie's attribute is what is checked
    s = hard("https", stack.frontend, stack.mode,
             edits=[("  public_url: http://", "  public_url: https://")])
    http = fresh(s)
    user = new_user(http, s)
    first, c1 = cookie_signin(http, user["email"], COOKIE_SECURE)
    _, c2 = assert_rotated(cookie_refresh(http, "lanyard_refresh=" + c1), first["session_id"], c1,
                           COOKIE_SECURE)
    r = cookie_refresh(http, "lanyard_refresh=" + c1)
    assert_oauth_error(r, 400, "invalid_grant")
    assert r.headers.get("Set-Cookie") == CLEARED + "; Secure"
    r = http.post(SIGNOUT, json={}, headers={"Cookie": "lanyard_refresh=" + c2})
    assert r.status_code == 204 and r.headers.get("Set-Cookie") == CLEARED + "; Secure"


def test_no_cors_headers(stack):
    http = fresh(stack)
    http.s.headers["Origin"] = "https://evil.example"
    user = new_user(http, stack)
    first, c1 = cookie_signin(http, user["email"])
    answers = [
        http.request("OPTIONS", TOKEN, headers={"Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "content-type"}),
        http.request("OPTIONS", SIGNIN),
        cookie_refresh(http, "lanyard_refresh=" + c1),
        http.post(SIGNIN, json={"email": user["email"], "password": "wrong" + PASSWORD}),
        http.get(ME, headers=bearer(first["access_token"])),
        http.post(SIGNOUT, json={}, headers={"Cookie": "lanyard_refresh=" + c1}),
        http.get("/console/"),
        http.get("/device"),
    ]
    for r in answers:
        assert_no_cors(r)
    assert answers[2].status_code == 200  # the request went through, Origin and all


# --- the console's files (the shipped snippets) ----------------------------------------

def assert_console_headers(r):
    assert r.headers.get("Content-Security-Policy") == CSP
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert r.headers.get("Referrer-Policy") == "no-referrer"
    assert r.headers.get("Cache-Control") == "no-cache"


def test_console_is_served_with_its_headers(stack):
    need_private(stack)
    http = fresh(stack)
    with open("%s/console/index.html" % stack.build.srcdir, "rb") as f:
        index = f.read()
    for path in ("/console/", "/console/index.html"):
        r = http.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        assert r.headers.get("Content-Type", "").split(";")[0] == "text/html", r.headers
        assert r.content == index
        assert_console_headers(r)
    r = http.get("/console/no-such-file.js")
    assert r.status_code == 404
    # /console leads to /console/; what is not the console is still Lanyard's
    r = http.get("/console?x=1")
    assert r.status_code == 302 and urljoin(stack.url + "/", r.headers["Location"]) == \
        stack.url + "/console/?x=1", r.headers.get("Location")
    for path in ("/consolex", "/devices", "/device/x", "/api/console/"):
        assert_problem(http.get(path), 404, "not_found", path)


@pytest.mark.parametrize("query", ["", "?user_code=BCDF-GHJK"])
def test_device_leads_to_the_approval_page(stack, query):
    http = fresh(stack)
    r = http.get("/device" + query)
    assert r.status_code == 302, (r.status_code, r.text[:200])
    assert urljoin(stack.url + "/", r.headers["Location"]) == \
        stack.url + "/console/" + query, r.headers["Location"]
    # the page it leads to is there (the console's shell, which opens the approval)
    loc = urljoin(stack.url + "/", r.headers["Location"])
    page = http.get(loc[len(stack.url):])
    assert page.status_code == 200 and "<html" in page.text.lower(), page.status_code


def test_verification_uri_complete_reaches_the_console(stack):
    http = fresh(stack)
    r = http.post(DEVICE, data={})
    assert r.status_code == 200, r.text[:300]
    d = r.json()
    assert d["verification_uri"] == stack.url + "/device"
    uri = d["verification_uri_complete"]
    assert uri.startswith(stack.url + "/device?")
    r = http.get(uri[len(stack.url):])
    assert r.status_code == 302
    assert urljoin(stack.url + "/", r.headers["Location"]) == \
        stack.url + "/console/" + uri[len(stack.url + "/device"):]
