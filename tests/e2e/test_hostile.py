"""Hostile requests (issue 18): each gets its documented 4xx (SPEC §3, §4),
never a 5xx, a hang or a dead worker. The `same_workers` fixture records the
worker PIDs before each test and asserts them unchanged after it.

Where the front end itself refuses a request before Lanyard sees it (a NUL
byte or a bad escape in the path or a header, duplicated Content-Length,
headers over its limit), the answer is the front end's own 4xx page: the
test asserts that status per front end and that no worker was involved.
Everything that reaches Lanyard is asserted as the exact problem (status and
`code`) SPEC §3 documents. Raw-socket requests are HTTP/1.0 so that Apache
answers without chunked encoding.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import socket
import threading
import time

import pytest

from conftest import Client, need_private
from harness import stack as hs
from harness.stack import unique, unique_email
from test_auth import (ME, SIGNIN, USERS, _key_edits, admin_token, assert_rejected_token, bearer,
                       custom, jwt_parts, new_user, signin)  # noqa: F401 (custom: a fixture)
from test_foundation import assert_oauth_error, assert_problem
from test_metrics import worker_log

ORGS = "/api/org/v1/orgs"
TOKEN = "/api/auth/v1/token"
PLATFORM_AUDIT = "/api/org/v1/audit-events"
JSON = {"Content-Type": "application/json"}
# P-256 group order (SEC 2 §2.4.2): a high-S signature is (r, n - s).
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# The statuses a front end answers itself for a request it refuses to pass on.
FRONTEND_REFUSALS = {"lighttpd": {400, 431}, "apache": {400, 404}, "fcgid": {400, 404}}


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


@pytest.fixture
def same_workers(stack):
    need_private(stack)
    before = sorted(stack.worker_pids())
    assert before, "no worker found for %s" % stack.id
    yield
    after = sorted(stack.worker_pids())
    if stack.frontend == "fcgid":
        # mod_fcgid's process manager starts more workers under load: none may go
        assert set(before) <= set(after), "a worker died or was replaced: %s -> %s" % (before, after)
    else:
        assert after == before, "a worker died or was replaced"


def raw(stack, request_bytes, timeout=15):
    return Client(stack.url).raw(request_bytes, timeout=timeout)


def raw_get(stack, path, headers=b""):
    if isinstance(path, str):
        path = path.encode("latin-1")
    return raw(stack, b"GET " + path + b" HTTP/1.0\r\nHost: x\r\n" + headers + b"\r\n")


def assert_raw_problem(answer, status, code):
    st, headers, body = answer
    assert st == status, (st, body[:300])
    assert headers.get("content-type", "").startswith("application/problem+json"), headers
    doc = json.loads(body)
    assert doc["status"] == status and doc["code"] == code, doc


def assert_frontend_refusal(stack, answer):
    st, headers, body = answer
    assert st in FRONTEND_REFUSALS[stack.frontend], (st, body[:300])
    assert not headers.get("content-type", "").startswith("application/problem+json"), body[:300]


# --- JWT attacks (RFC 8725; SPEC §4 verification rules) -------------------------------------

def _eddsa_key(stack):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    with open(stack.env.key_file, "rb") as f:
        return load_pem_private_key(f.read(), None)


def _signed(key, header, payload_bytes):
    """A token with a valid signature of the stack's own key over whatever
    header and payload the test chose: what a verifier must still refuse
    once the signature is right."""
    signing_input = b64(json.dumps(header).encode() if isinstance(header, dict) else header) \
        + "." + b64(payload_bytes)
    return signing_input + "." + b64(key.sign(signing_input.encode()))


def test_unsigned_and_tampered_tokens_are_401_invalid_token(stack, http, same_workers):
    if stack.mode != "jwt":
        pytest.skip("JWT attacks need JWT access tokens (opaque mode has no JWS)")
    tok = signin(http, stack.admin_email, stack.admin_password)["access_token"]
    h, p, s = tok.split(".")
    hdr = jwt_parts(tok)[0]
    forged = []
    for alg in ("none", "None", "NONE", "nOnE", ""):
        forged.append(b64(json.dumps({"alg": alg, "typ": "at+jwt", "kid": hdr["kid"]}).encode())
                      + "." + p + ".")
    for extra in ({"kid": "../../../../etc/passwd"}, {"kid": "' OR '1'='1"}, {"kid": ""},
                  {"kid": "x" * 4000}, {"kid": "unknown"}, {"kid": None}, {"kid": 1},
                  {"alg": "HS256"}, {"alg": "RS256"}, {"alg": "ES256"}):
        forged.append(b64(json.dumps(dict(hdr, **extra)).encode()) + "." + p + "." + s)
    forged += [h + "." + p + ".", h + "." + p, h + ".." + s, "." + p + "." + s,
               h + "." + p[:-3] + "." + s, h + "." + p + "." + s[:-4], tok + ".x",
               h + "." + p + "." + s + "="]
    if "-" in s or "_" in s:  # base64, not base64url
        forged.append(h + "." + p + "." + s.replace("-", "+").replace("_", "/"))
    for f in forged:
        assert_rejected_token(http.get(ME, headers=bearer(f)))


def test_validly_signed_hostile_headers_and_claims_are_401(stack, http, same_workers):
    """Signed with the stack's own key, so only the verifier's header and
    claim rules can refuse them."""
    if stack.mode != "jwt":
        pytest.skip("JWT attacks need JWT access tokens (opaque mode has no JWS)")
    key = _eddsa_key(stack)
    tok = signin(http, stack.admin_email, stack.admin_password)["access_token"]
    hdr, claims, _ = jwt_parts(tok)
    payload = json.dumps(claims).encode()
    # the unmodified re-signature is accepted: the forgeries below differ only by what they test
    assert http.get(ME, headers=bearer(_signed(key, hdr, payload))).status_code == 200
    forged = []
    for extra in ({"jku": "http://127.0.0.1:1/k"}, {"x5u": "http://127.0.0.1:1/c"},
                  {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(b"\0" * 32)}},
                  {"x5c": ["AAAA"]}, {"crit": ["exp"]}, {"crit": []}, {"typ": "JWT"},
                  {"typ": "at+JWT "}, {"typ": None}, {"cty": "JWT", "typ": "JWT"}):
        forged.append(_signed(key, dict(hdr, **extra), payload))
    no_typ = dict(hdr)
    del no_typ["typ"]
    forged.append(_signed(key, no_typ, payload))
    # duplicate members: the header's alg, the payload's sub and exp (RFC 7515 §5.2)
    dup_hdr = ('{"alg":"EdDSA","typ":"at+jwt","kid":"%s","alg":"EdDSA"}' % hdr["kid"]).encode()
    forged.append(_signed(key, dup_hdr, payload))
    body = payload[:-1]
    forged.append(_signed(key, hdr, body + b',"sub":"u-aaaaaaaaaaaa"}'))
    forged.append(_signed(key, hdr, body + b',"exp":%d}' % (claims["exp"] + 10 ** 6)))
    # nested JWT: the signed payload is itself the (valid) token
    forged.append(_signed(key, dict(hdr, cty="JWT"), tok.encode()))
    # claims of the wrong type or wrong value
    for change in ({"iss": "https://evil.example"}, {"aud": "someone-else"}, {"exp": "9999999999"},
                   {"exp": 1e400}, {"exp": 18446744073709551616}, {"nbf": claims["iat"] + 10 ** 6},
                   {"principal_type": "admin"}, {"sub": "u-\u0000"}):
        c = dict(claims, **change)
        forged.append(_signed(key, hdr, json.dumps(c, allow_nan=True).encode()
                              .replace(b"Infinity", b"1e400")))
    for f in forged:
        assert_rejected_token(http.get(ME, headers=bearer(f)))


def _alg_stack(stack, custom, alg):
    env = stack.env
    key = os.path.join(env.workdir, "key-hostile-%s-%s" % (alg, hs.unique()))
    env.build.ctl_ok(None, "keygen", "--alg", alg, "--out", key)
    return custom("jwt", "hostile-" + alg.lower(), edits=_key_edits(env, alg, key)), key


@pytest.mark.stacks("lighttpd-jwt")
def test_hs256_signed_with_the_public_key_is_401(stack, custom):
    """Algorithm confusion (RFC 8725 §2.1): an RS256/ES256 service must not
    take an HS256 token whose HMAC key is its own published public key."""
    need_private(stack)
    from cryptography.hazmat.primitives import serialization
    for alg in ("RS256", "ES256"):
        s, key_file = _alg_stack(stack, custom, alg)
        http = Client(s.url)
        tok = signin(http, s.admin_email, s.admin_password)["access_token"]
        hdr, claims, _ = jwt_parts(tok)
        with open(key_file, "rb") as f:
            pub = serialization.load_pem_private_key(f.read(), None).public_key()
        jwk = http.get("/.well-known/jwks.json").json()["keys"][0]
        secrets = [pub.public_bytes(serialization.Encoding.PEM,
                                    serialization.PublicFormat.SubjectPublicKeyInfo),
                   pub.public_bytes(serialization.Encoding.DER,
                                    serialization.PublicFormat.SubjectPublicKeyInfo),
                   json.dumps(jwk).encode(), json.dumps(jwk, separators=(",", ":")).encode()]
        for secret in secrets:
            for header_alg in ("HS256", alg):
                si = b64(json.dumps(dict(hdr, alg=header_alg)).encode()) + "." + \
                    b64(json.dumps(claims).encode())
                mac = hmac.new(secret, si.encode(), hashlib.sha256).digest()
                assert_rejected_token(http.get(ME, headers=bearer(si + "." + b64(mac))))
        assert http.get(ME, headers=bearer(tok)).status_code == 200


@pytest.mark.stacks("lighttpd-jwt")
def test_es256_high_s_signature_is_401(stack, custom):
    """ECDSA is malleable: (r, n - s) verifies as well as (r, s). Lanyard
    issues low-S signatures only and refuses high-S ones, so one token has
    exactly one valid encoding."""
    need_private(stack)
    s, _ = _alg_stack(stack, custom, "ES256")
    http = Client(s.url)
    lows = 0
    for _ in range(8):  # half of plain ECDSA signatures are high-S: 8 show low-S is a rule
        tok = signin(http, s.admin_email, s.admin_password)["access_token"]
        h, p, sig = tok.split(".")
        raw_sig = unb64(sig)
        assert len(raw_sig) == 64
        r_, s_ = raw_sig[:32], int.from_bytes(raw_sig[32:], "big")
        lows += s_ <= P256_N // 2
        flipped = r_ + (P256_N - s_).to_bytes(32, "big")
        assert http.get(ME, headers=bearer(tok)).status_code == 200
        assert_rejected_token(http.get(ME, headers=bearer(h + "." + p + "." + b64(flipped))))
    assert lows == 8, "Lanyard issued a high-S ES256 signature"


# --- hostile JSON, numbers, SQL metacharacters ------------------------------------------------

@pytest.mark.parametrize("body,code", [
    (b'{"email": "a\x00b@example.com", "password": "x"}', "invalid_json"),
    (b'{"email": "\xff\xfe@example.com", "password": "x"}', "invalid_json"),
    (b'{"email": "EMAIL", "password": "\xc0\xaf"}', "invalid_json"),
    (b'{"email": "EMAIL", "password": "\xed\xa0\x80"}', "invalid_json"),
    (b'{"email": "a\\u0000b@example.com", "password": "x"}', "validation_failed"),
    # a repeated member is not malformed in a body (RFC 8259 §4: SHOULD be unique; the
    # last one counts, doc/decisions.md): wrong password y, so 401
    (b'{"email": "EMAIL", "password": "x", "password": "y"}', "unauthenticated"),
    (b"[" * 10000 + b"]" * 10000, "invalid_json"),
    (b'{"email": ' + b"[" * 10000 + b"]" * 10000 + b"}", "invalid_json"),
    (b'{"a":' * 10000 + b"1" + b"}" * 10000, "invalid_json"),
    (b'{"email": 1e400, "password": "x"}', "validation_failed"),
    (b'{"email": "EMAIL", "password": -0}', "validation_failed"),
], ids=["nul", "bad-utf8", "overlong-utf8", "surrogate-utf8", "escaped-nul", "duplicate-key",
        "nested-10k", "nested-field-10k", "nested-objects-10k", "email-1e400", "password-minus-0"])
def test_hostile_json_on_signin(stack, http, same_workers, body, code):
    body = body.replace(b"EMAIL", unique_email().encode())  # no shared sign-in throttle
    status = 401 if code == "unauthenticated" else 400
    assert_problem(http.post(SIGNIN, data=body, headers=JSON), status, code, SIGNIN)


@pytest.mark.parametrize("body", [b"[" * 10000 + b"]" * 10000, b'{"grant_type": "\xff"}',
                                  b'{"grant_type": "refresh_token", "refresh_token": 1e400}'])
def test_hostile_json_on_token_endpoint_is_oauth_invalid_request(stack, http, same_workers, body):
    assert_oauth_error(http.post(TOKEN, data=body, headers=JSON), 400, "invalid_request")


@pytest.mark.parametrize("value", ["1e400", "18446744073709551616", "-0", "1e-400", "0x10",
                                   "%27%20OR%201=1", "-9223372036854775809"])
def test_huge_and_odd_numbers_in_page_size_are_validation_failed(stack, http, same_workers, value):
    hd = bearer(admin_token(http, stack))
    assert_problem(http.get(ORGS + "?page_size=" + value, headers=hd), 400, "validation_failed")


@pytest.mark.parametrize("number", [b"1e400", b"18446744073709551616", b"-0", b"1e-400"])
def test_huge_numbers_in_body_fields_are_validation_failed(stack, http, same_workers, number):
    hd = dict(bearer(admin_token(http, stack)), **JSON)
    user = new_user(http, stack)
    for path, method, body in [
            (ORGS, "POST", b'{"name": %s}' % number),
            (ORGS, "POST", b'{"name": "%s", "display_name": %s}' % (unique("hn").encode(), number)),
            (USERS + "/" + user["id"], "PATCH", b'{"disabled": %s}' % number),
            (USERS + "/" + user["id"], "PATCH", b'{"platform_admin": %s}' % number)]:
        r = http.request(method, path, data=body, headers=hd)
        assert_problem(r, 400, "validation_failed")
    assert http.get(USERS + "/" + user["id"], headers=hd).json() == user


SQL = ["x' OR '1'='1", "'; DROP TABLE users; --", "\" OR \"\"=\"", "a\\' OR 1=1 #",
       "1; SELECT SLEEP(5)", "%' AND 1=0 UNION SELECT 1 --"]


def _platform_state(http, hd):
    """What an injection would change: every user, every organization."""
    def all_items(path):
        items, token = [], None
        while True:
            r = http.get(path + "?page_size=100" + ("&page_token=" + token if token else ""),
                         headers=hd)
            assert r.status_code == 200, r.text[:300]
            items += r.json()["items"]
            token = r.json()["next_page_token"]
            if not token:
                return sorted(json.dumps(i, sort_keys=True) for i in items)
    return all_items(USERS), all_items(ORGS)


def test_sql_metacharacters_in_every_field_change_nothing(stack, http, same_workers):
    """Names and e-mails with SQL metacharacters are 400 validation_failed,
    lookups by them 404/401, and free text is stored verbatim; afterwards
    every user and organization is as before, except the ones created."""
    hd = dict(bearer(admin_token(http, stack)), **JSON)
    org = unique("sqlorg")
    assert http.post(ORGS, json={"name": org}, headers=hd).status_code == 201
    before_users, before_orgs = _platform_state(http, hd)
    victim = new_user(http, stack)
    created_users, created_orgs = {victim["id"]}, set()
    t0 = time.monotonic()
    for s in SQL:
        assert_problem(http.post(ORGS, json={"name": s}, headers=hd), 400, "validation_failed")
        assert_problem(http.post(USERS, json={"email": s, "password": "x" * 20}, headers=hd),
                       400, "validation_failed")
        assert_problem(http.post(SIGNIN, json={"email": s, "password": s}), 401, "unauthenticated")
        assert_problem(http.post(SIGNIN, json={"email": victim["email"] + s, "password": s}),
                       401, "unauthenticated")
        q = requests_quote(s)
        for path in (ORGS + "/" + q, USERS + "/" + q, ORGS + "/" + org + "/service-accounts/" + q,
                     ORGS + "/" + q + "/members"):
            assert_problem(http.get(path, headers=hd), 404, "not_found")
        assert_problem(http.request("PUT", ORGS + "/" + org + "/members/" + q,
                                    json={"role": "member"}, headers=hd), 404, "not_found")
        assert_problem(http.get(ORGS + "?page_token=" + q, headers=hd), 400, "invalid_request")
        assert_problem(http.get(PLATFORM_AUDIT + "?org=" + q, headers=hd), 400,
                       "validation_failed")
        assert_problem(http.post(ORGS + "/" + org + "/service-accounts",
                                 json={"name": s}, headers=hd), 400, "validation_failed")
        # free text: stored and answered byte for byte
        name = unique("sqlo")
        r = http.post(ORGS, json={"name": name, "display_name": s}, headers=hd)
        assert r.status_code == 201 and r.json()["display_name"] == s, r.text[:300]
        created_orgs.add(name)
        r = http.request("PATCH", ORGS + "/" + org, json={"display_name": s}, headers=hd)
        assert r.status_code == 200 and r.json()["display_name"] == s, r.text[:300]
        email = unique_email()
        r = http.post(USERS, json={"email": email, "password": s * 4, "display_name": s},
                      headers=hd)
        assert r.status_code == 201 and r.json()["display_name"] == s, r.text[:300]
        created_users.add(r.json()["id"])
        signin(http, email, s * 4)
        sa = http.post(ORGS + "/" + org + "/service-accounts",
                       json={"name": unique("sa"), "display_name": s, "description": s}, headers=hd)
        assert sa.status_code == 201 and sa.json()["description"] == s, sa.text[:300]
    assert time.monotonic() - t0 < 60  # no SLEEP(5) ran
    http.request("PATCH", ORGS + "/" + org, json={"display_name": None}, headers=hd)
    after_users, after_orgs = _platform_state(http, hd)
    keep_users = [u for u in after_users if json.loads(u)["id"] not in created_users]
    keep_orgs = [o for o in after_orgs if json.loads(o)["name"] not in created_orgs]
    assert keep_users == before_users
    assert [json.loads(o)["name"] for o in keep_orgs] == [json.loads(o)["name"]
                                                           for o in before_orgs]


def requests_quote(s):
    from urllib.parse import quote
    return quote(s, safe="")


# --- paths and headers --------------------------------------------------------------------

@pytest.mark.parametrize("path,status,code", [
    ("/api/org/v1/orgs/%2e%2e/users", 404, "not_found"),
    ("/api/org/v1/orgs%2F..%2Fme", 404, "not_found"),
    ("/api/org/v1/orgs/../me", 404, "not_found"),
    ("/api/org/v1/orgs/./x", 404, "not_found"),
    ("/api/org/v1/orgs/%2e%2e", 401, "unauthenticated"),
    ("/api/org/v1/orgs/a%2Fb", 401, "unauthenticated"),
], ids=["dotdot-encoded", "slash-encoded", "dotdot", "dot", "dotdot-as-org", "slash-in-org"])
def test_dot_segments_and_encoded_slashes_reach_no_other_route(stack, same_workers, path, status,
                                                              code):
    """Routing uses the raw request path: a dot segment or %2F never makes a
    request match another endpoint (unauthenticated, so 401 proves the route
    matched nothing that skips authentication)."""
    assert_raw_problem(raw_get(stack, path), status, code)


@pytest.mark.parametrize("path", [b"/api/org/v1/me%00", b"/api/org/v1/me\x00x",
                                  b"/api/org/v1/orgs/%ff%fe", b"/api/org/v1/orgs/\xff\xfe"],
                         ids=["pct-nul", "raw-nul", "pct-bad-utf8", "raw-bad-utf8"])
def test_nul_and_bad_utf8_in_paths(stack, same_workers, path):
    """Refused by the front end (lighttpd: 400) or, when passed on, by
    Lanyard: never a 5xx. With a credential, a bad org name is 404."""
    tok = admin_token(Client(stack.url), stack)
    ans = raw_get(stack, path, b"Authorization: Bearer " + tok.encode() + b"\r\n")
    if ans[1].get("content-type", "").startswith("application/problem+json"):
        assert_raw_problem(ans, 404, "not_found")
    else:
        assert_frontend_refusal(stack, ans)


@pytest.mark.parametrize("header", [b"X-Request-Id: a\x00b", b"Authorization: Bearer a\x00b"],
                         ids=["nul-request-id", "nul-authorization"])
def test_nul_in_headers_is_refused_by_the_front_end(stack, same_workers, header):
    assert_frontend_refusal(stack, raw_get(stack, ME, header + b"\r\n"))


def test_bad_utf8_in_headers(stack, http, same_workers):
    assert_raw_problem(raw_get(stack, ME, b"Authorization: Bearer \xff\xfe\r\n"), 401,
                       "invalid_token")
    assert_raw_problem(raw_get(stack, ME, b"Authorization: Basic \xff\xfe\r\n"), 401,
                       "unauthenticated")
    # a control byte in a header: the front end's refusal
    assert_frontend_refusal(stack, raw_get(stack, ME, b"User-Agent: a\x01b\r\n"))
    # bytes that are not UTF-8 reach Lanyard: a malformed header is 400 invalid_request
    # (SPEC §3), an unusual but harmless one changes nothing (401: no credential)
    for h in (b"User-Agent: \xff\xfe", b"X-Request-Id: \xff\xfe"):
        st, headers, body = raw_get(stack, ME, h + b"\r\n")
        assert (st, json.loads(body)["code"]) in ((400, "invalid_request"),
                                                  (401, "unauthenticated")), (st, body[:200])
        assert headers.get("x-request-id", "").isascii()


def test_duplicated_authorization_is_401_invalid_token(stack, http, same_workers):
    """Two Authorization fields arrive joined (RFC 9110 §5.3), which is no
    credential at all: never the first one's identity."""
    tok = signin(http, stack.admin_email, stack.admin_password)["access_token"].encode()
    for second in (b"Bearer junk", b"Bearer " + tok, b"Basic QUFBQTpCQkJC"):
        ans = raw_get(stack, ME, b"Authorization: Bearer " + tok + b"\r\nAuthorization: " +
                      second + b"\r\n")
        assert_raw_problem(ans, 401, "invalid_token")


@pytest.mark.parametrize("lengths", [b"Content-Length: 51\r\nContent-Length: 5\r\n",
                                     b"Content-Length: 51\r\nContent-Length: 51\r\n",
                                     b"Content-Length: -1\r\n", b"Content-Length: 1x\r\n",
                                     b"Content-Length: 51\r\nTransfer-Encoding: chunked\r\n"],
                         ids=["conflicting", "twice", "negative", "junk", "with-chunked"])
def test_duplicated_or_bad_content_length_is_refused(stack, same_workers, lengths):
    body = b'{"email":"a@example.com","password":"xxxxxxxxxxxx"}'
    assert len(body) == 51
    # mod_fcgid waits for the rest of a chunked body that is not valid chunked
    # encoding and answers nothing: a few seconds tell that as well as fifteen
    fcgid_chunked = stack.frontend == "fcgid" and b"chunked" in lengths
    ans = raw(stack, b"POST " + SIGNIN.encode() + b" HTTP/1.0\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n" + lengths + b"\r\n" + body,
              timeout=3 if fcgid_chunked else 15)
    if fcgid_chunked and ans[0] is None:
        return
    assert_frontend_refusal(stack, ans)


def test_huge_headers(stack, http, same_workers):
    """A Cookie or any header over the front end's limit (8 KiB) is its own
    4xx; under it, Lanyard answers as usual; an oversized Authorization is
    401 invalid_token (test_hardening)."""
    assert_frontend_refusal(stack, raw_get(stack, ME, b"Cookie: a=" + b"b" * 9000 + b"\r\n"))
    assert_frontend_refusal(stack, raw_get(stack, ME, b"X-Big: " + b"b" * 70000 + b"\r\n"))
    assert_frontend_refusal(stack, raw_get(stack, ME, b"".join(
        b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(200))))
    assert_raw_problem(raw_get(stack, ME, b"Cookie: a=" + b"b" * 4000 + b"\r\n"), 401,
                       "unauthenticated")


# --- short bodies and slow clients --------------------------------------------------------

def _served_meanwhile(stack, seconds):
    """Health answered promptly and repeatedly while something else goes on."""
    http = Client(stack.url)
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        t = time.monotonic()
        assert http.get("/api/health", timeout=10).status_code == 200
        assert time.monotonic() - t < 5, "a request waited behind a stalled client"
        n += 1
        time.sleep(0.2)
    return n


def test_short_body_does_not_hang_a_worker(stack, same_workers):
    """Content-Length 1000 and 9 bytes sent, by more clients than there are
    workers: others are served meanwhile, and a client that gives up leaves
    nothing behind. lighttpd and mod_fcgid wait for the body before they
    give a worker the request; Apache's mod_proxy_fcgi connects at once and
    passes the body on as it comes, and the `--listen` worker parks such a
    connection until its request has arrived (src/http/fcgi.c, serve_shared)."""
    head = ("POST %s HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n" % SIGNIN).encode()
    held = []
    for _ in range(4):  # more than one worker's worth
        c = socket.create_connection(("127.0.0.1", Client(stack.url).port), timeout=10)
        c.sendall(head + b'{"email":')
        held.append(c)
    try:
        assert _served_meanwhile(stack, 2.0) >= 3
        held[0].settimeout(0.5)
        try:
            got = held[0].recv(100)
        except socket.timeout:
            got = None
        # nothing yet, or a 4xx of the front end (a 408 or a 400): never a 5xx
        assert got is None or got == b"" or got[9:10] == b"4", got
    finally:
        for c in held:
            c.close()
    assert_problem(Client(stack.url).get(ME), 401, "unauthenticated")


def test_slow_clients_do_not_stall_the_others(stack, same_workers):
    """Four clients send a request a byte per 100 ms (3 s each) while another
    is served promptly throughout; each slow request is then answered
    normally."""
    body = json.dumps({"email": unique_email(), "password": "wrong password, slowly"}).encode()
    req = (b"POST " + SIGNIN.encode() + b" HTTP/1.0\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    head, rest = req[:-30], req[-30:]
    answers = [None] * 4

    def slow(i):
        with socket.create_connection(("127.0.0.1", Client(stack.url).port), timeout=20) as c:
            c.sendall(head)
            for b in rest:
                c.sendall(bytes([b]))
                time.sleep(0.1)
            buf = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                buf += chunk
            answers[i] = buf

    threads = [threading.Thread(target=slow, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        assert _served_meanwhile(stack, 2.5) >= 4
    finally:
        for t in threads:
            t.join(30)
    for a in answers:
        assert a is not None and a.split(b"\r\n", 1)[0].split()[1] == b"401", (a or b"")[:200]


def test_body_stalled_past_the_deadline_is_400_and_frees_the_worker(stack, same_workers):
    """Apache (`--listen`): a body that has not wholly arrived 5 s after
    Apache connected to the worker (PARK_MS, src/http/fcgi.c) is answered like
    one shorter than its Content-Length, 400, without waiting on: the
    worker's log line says so, not before 4.5 s, and the sign-in did not
    happen. (Apache itself is then still reading the client's body, and
    relays nothing until its own timeout: the client sees no 5xx meanwhile.)
    lighttpd and mod_fcgid never pass a request on before its body, so
    their own timeouts apply there."""
    if stack.frontend != "apache":
        pytest.skip("only mod_proxy_fcgi passes a request on before its body has arrived")
    rid = "stall-" + os.urandom(6).hex()
    line = re.compile(r"request_id=%s: method=POST path=%s status=(\d+)" % (rid, SIGNIN))
    head = ("POST %s HTTP/1.0\r\nHost: x\r\nX-Request-Id: %s\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            % (SIGNIN, rid)).encode()
    with socket.create_connection(("127.0.0.1", Client(stack.url).port), timeout=20) as c:
        t = time.monotonic()
        c.sendall(head + b'{"email":')
        assert _served_meanwhile(stack, 3.0) >= 3
        assert not line.search(worker_log(stack)), "answered before the deadline"
        got = None
        while time.monotonic() - t < 12 and got is None:
            got = line.search(worker_log(stack))
            time.sleep(0.2)
        waited = time.monotonic() - t
        c.settimeout(0.5)
        try:
            seen = c.recv(100)
        except socket.timeout:
            seen = None
    assert got is not None, "no answer 12 s after the request"
    assert got.group(1) == "400" and 4.5 < waited < 9, (got.group(0), waited)
    assert seen is None or seen == b"" or seen[9:10] == b"4", seen


# --- the session-wide secrets check finds what it should ---------------------------------

def test_secrets_check_reports_a_leak_by_place_not_by_value(tmp_path, monkeypatch):
    """secrets_check.report (run at the session's end by conftest) on a
    planted leak: found in a log line, an audit row and an error body, and
    reported as file:line without the secret; short values never register."""
    import types

    import secrets_check as sc
    leak = "lyr_" + "S3cr3t" * 8
    monkeypatch.setattr(sc, "SECRETS", {})
    monkeypatch.setattr(sc, "ERROR_BODIES", [("POST", "http://x/api/auth/v1/token", 400,
                                               '{"error_description": "%s"}' % leak)])
    sc.add(leak, "test")
    sc.add("validation_fail", "too short")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "error.log").write_text("fine\nrefresh %s refused\n" % leak)
    (tmp_path / "w" / "access.log").write_text("GET /api/health 200 validation_fail\n")
    env = types.SimpleNamespace(workdir=str(tmp_path), mariadb=types.SimpleNamespace(
        sql=lambda q: [["42", "signin.failed", "ua " + leak], ["43", "org.created", "-"]]))
    hits, searched = sc.report(env)
    assert hits == ["w/error.log:2", "audit event id 42",
                    "error body of POST http://x/api/auth/v1/token (400)"], hits
    assert leak not in " ".join(hits) + searched
