"""Hostile requests (issue 18): each must get a 4xx, never a 5xx, a hang or
a dead worker. Worker PIDs are recorded before and compared after each test.

Unfinished (deadline): the exact SPEC problem type is asserted only where
the existing helpers already pin it (JWT attacks: 401 invalid_token); the
other cases assert "4xx, no 5xx, same workers".
"""

import base64
import json

import pytest

from conftest import Client
from test_auth import ME, SIGNIN, admin_token, assert_rejected_token, bearer, jwt_parts, signin

ORGS = "/api/org/v1/orgs"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


@pytest.fixture
def same_workers(stack):
    before = sorted(stack.worker_pids()) if not stack.external else []
    yield
    if not stack.external:
        assert sorted(stack.worker_pids()) == before, "a worker died or was replaced"


def assert_4xx(status, what=""):
    assert status is not None and 400 <= status < 500, (status, what)


def test_jwt_attacks_are_401_invalid_token(stack, http, same_workers):
    if stack.mode != "jwt":
        pytest.skip("JWT attacks need JWT access tokens")
    tok = signin(http, stack.admin_email, stack.admin_password)["access_token"]
    h, p, s = tok.split(".")
    hdr = jwt_parts(tok)[0]
    forged = []
    for alg in ("none", "None", "NONE"):
        forged.append(b64(json.dumps({"alg": alg, "typ": "at+jwt"}).encode()) + "." + p + ".")
    for extra in ({"kid": "../../../../etc/passwd"}, {"kid": "' OR '1'='1"}, {"kid": ""},
                  {"kid": "x" * 4000}, {"kid": "unknown"}, {"jku": "http://127.0.0.1:1/k"},
                  {"x5u": "http://127.0.0.1:1/c"}, {"jwk": {"kty": "oct", "k": "AA"}},
                  {"crit": ["exp"]}, {"typ": "JWT"}, {"x5c": ["AAAA"]}):
        nh = dict(hdr)
        nh.update(extra)
        forged.append(b64(json.dumps(nh).encode()) + "." + p + "." + s)
    forged += [h + "." + p + ".", h + "." + p, h + ".." + s, "." + p + "." + s,
               h + "." + p[:-3] + "." + s]
    dup = b'{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"%s"}' % hdr["kid"].encode()
    forged.append(b64(dup) + "." + p + "." + s)
    forged.append(b64(json.dumps({"alg": "EdDSA", "typ": "at+jwt", "cty": "JWT"}).encode())
                  + "." + b64(tok.encode()) + "." + s)
    for f in forged:
        assert_rejected_token(http.get(ME, headers=bearer(f)))


@pytest.mark.parametrize("body", [
    b'{"email": "a\x00b@example.com", "password": "x"}',
    b'{"email": "\xff\xfe@example.com", "password": "x"}',
    b'{"email": "a\\u0000b@example.com", "password": "x"}',
    b"[" * 10000 + b"]" * 10000,
    b'{"email": ' + b"[" * 10000 + b"]" * 10000 + b"}",
], ids=["nul", "bad-utf8", "escaped-nul", "nested-10k", "nested-field-10k"])
def test_hostile_json_on_signin_is_4xx(stack, http, same_workers, body):
    r = http.post(SIGNIN, data=body, headers={"Content-Type": "application/json"})
    assert_4xx(r.status_code, r.text[:200])


@pytest.mark.parametrize("name", ["x' OR 1=1 --", "'; DROP TABLE users; --", '"\\%_*',
                                  "a\x00b", 1e400, -0.0, 18446744073709551616])
def test_hostile_org_names_are_4xx_or_created(stack, http, same_workers, name):
    hd = bearer(admin_token(http, stack))
    body = json.dumps({"name": name, "display_name": name}, allow_nan=True)
    r = http.post(ORGS, data=body, headers=dict(hd, **{"Content-Type": "application/json"}))
    assert r.status_code < 500, r.text[:300]


@pytest.mark.parametrize("path", ["/api/org/v1/orgs/%2e%2e/users", "/api/org/v1/orgs%2F..%2Fme",
                                  "/api/org/v1/me%00", "/api/org/v1/orgs/../me",
                                  "/api/org/v1/orgs/%ff%fe"])
def test_hostile_paths_are_4xx(stack, http, same_workers, path):
    req = ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode()
    status, _, body = http.raw(req)
    assert_4xx(status, body[:200])


def test_duplicated_and_conflicting_headers_are_4xx(stack, http, same_workers):
    tok = signin(http, stack.admin_email, stack.admin_password)["access_token"]
    req = ("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Authorization: Bearer junk\r\nConnection: close\r\n\r\n" % (ME, tok)).encode()
    status, _, _ = http.raw(req)
    assert status is not None and status < 500 and status != 200, status
    body = b'{"email":"a@example.com","password":"xxxxxxxxxx"}'
    req = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
           % (SIGNIN, len(body))).encode() + body
    status, _, _ = http.raw(req)
    assert_4xx(status)
    r = http.get(ME, headers={"Cookie": "a=" + "b" * 9000})
    assert_4xx(r.status_code)


def test_short_body_does_not_hang_a_worker(stack, http, same_workers):
    req = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: 1000\r\nConnection: close\r\n\r\n" % SIGNIN).encode() + b'{"email":'
    http.raw(req, timeout=5)
    # others are still served afterwards
    assert Client(stack.url).get(ME).status_code == 401
