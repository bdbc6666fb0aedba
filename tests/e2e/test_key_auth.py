"""API-key authentication (SPEC §4 credentials and checksums, §5.8 the
service-account /me), the client_credentials exchange (§5.3), revocation
(§5.5, RFC 7009), scoped keys (§4) and secrecy (§3, §4, §6: no secret in an
answer after it was shown, in a log or in the database), through every
front end in both token modes. The test-facing decisions beyond SPEC are
the ones of issue 13 (the key decisions brief).

The life cycle of service accounts and keys (create, list, patch, rotate
rules, limits) is test_keys.py's; this file creates what it needs through
the API with a few small helpers and tests what the credentials do."""

import base64
import concurrent.futures
import datetime
import json
import os
import random
import re
import time
import uuid
import zlib

import pytest
import requests

from conftest import TIMEOUT, Client, need_private, wait_for
from harness.stack import unique, unique_email
from test_foundation import assert_common_headers, health_ok, media_type, opaque_token
from test_hardening import HardStack

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

ORGS = "/api/org/v1/orgs"
USERS = "/api/org/v1/users"
ME = "/api/org/v1/me"
MY_KEYS = "/api/org/v1/me/keys"
SIGNIN = "/api/auth/v1/signin"
TOKEN = "/api/auth/v1/token"
REVOKE = "/api/auth/v1/revoke"
PASSWORD = "correct horse battery staple"
RESOURCE = "my-company/sentinel-repo"
SA_DOMAIN = "service.lanyard.local"

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
KEY_TOKEN = re.compile(r"^lyk_([A-Z2-7]{16})_([0-9A-Za-z]{49})$")
OPAQUE_ACCESS = re.compile(r"^lya_[0-9A-Za-z]{49}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}
OAUTH_KEYS = {"error", "error_description", "error_uri"}
SA_KEYS = {"id", "name", "identifier", "organization", "role", "display_name", "description",
           "created_at"}
ORG_KEYS = {"id", "name", "display_name", "created_at", "updated_at", "member_count"}
CC_KEYS = {"access_token", "token_type", "expires_in"}
ACCESS_TTL = 900  # the harness config keeps the default tokens.access_ttl (15m)
CHECK_REVOCATION = [("    algorithm: EdDSA\n",
                     "    algorithm: EdDSA\n    check_revocation: true\n")]
OPAQUE_STACKS = ("lighttpd-opaque", "apache-opaque", "fcgid-opaque")
JWT_STACKS = ("lighttpd-jwt", "apache-jwt", "fcgid-jwt")


# --- tokens and checksums (SPEC §4) ---------------------------------------------------

def checksum(body):
    """CRC-32 (zlib) of everything before it, base62 0-9A-Za-z, 6 characters, MSB first."""
    n, out = zlib.crc32(body.encode()), ""
    for _ in range(6):
        n, d = divmod(n, 62)
        out = B62[d] + out
    return out


def make_key_token(key_id, rand43, prefix="lyk"):
    """A key token with the right checksum for whatever id and random part it is given."""
    body = "%s_%s_%s" % (prefix, key_id, rand43)
    return body + checksum(body)


def secret_of(token):
    return token.rsplit("_", 1)[1]


def rand62(n=43):
    rnd = random.SystemRandom()
    return "".join(rnd.choice(B62) for _ in range(n))


def rand_key_id():
    rnd = random.SystemRandom()
    return "".join(rnd.choice(B32) for _ in range(16))


def other_char(c):
    return "A" if c != "A" else "B"


def basic_value(user, password):
    raw = user + b":" + password if isinstance(user, bytes) else ("%s:%s" % (user, password))
    if isinstance(raw, str):
        raw = raw.encode()
    return "Basic " + base64.b64encode(raw).decode()


def bearer(token):
    return {"Authorization": "Bearer " + token}


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def epoch(rfc3339):
    return datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


# --- assertions ---------------------------------------------------------------------

def assert_problem(r, status, code, path=""):
    assert r.status_code == status, "want %d %s, got %d: %s" % (status, code, r.status_code,
                                                                 r.text[:500])
    assert media_type(r) == "application/problem+json", r.headers.get("Content-Type")
    body = r.json()
    assert set(body) == PROBLEM_KEYS, "problem fields: %s" % r.text[:500]
    assert body["status"] == status and body["code"] == code, r.text[:500]
    assert isinstance(body["detail"], str) and body["detail"]
    assert_common_headers(r, path)
    return body


def assert_oauth_error(r, status, error, path=TOKEN):
    assert r.status_code == status, "want %d %s, got %d: %s" % (status, error, r.status_code,
                                                                 r.text[:500])
    assert media_type(r) == "application/json", r.headers.get("Content-Type")
    body = r.json()
    assert body.get("error") == error, body
    assert set(body) <= OAUTH_KEYS, "RFC 6749 §5.2 fields only: %s" % sorted(body)
    assert_common_headers(r, path)
    return body


def assert_bearer_refused(r, path=ME):
    """SPEC §3/RFC 6750: 401 invalid_token and the Bearer challenge with the error."""
    assert_problem(r, 401, "invalid_token", path)
    www = r.headers.get("WWW-Authenticate", "")
    assert www.startswith('Bearer realm="lanyard"'), www
    assert 'error="invalid_token"' in www and "error_description=" in www, www


def assert_basic_refused(r, path=ME):
    """Decisions: a refused Basic credential is 401 unauthenticated with the Basic challenge."""
    assert_problem(r, 401, "unauthenticated", path)
    www = r.headers.get("WWW-Authenticate", "")
    assert 'Basic realm="lanyard"' in www, www


def assert_invalid_client(r, path=TOKEN):
    assert_oauth_error(r, 401, "invalid_client", path)
    www = r.headers.get("WWW-Authenticate", "")
    assert 'Basic realm="lanyard"' in www, www


def assert_revoke_ok(r):
    """RFC 7009 §2.2: 200; decisions: an empty body. /api/auth/v1/*: no-store."""
    assert r.status_code == 200, r.text[:500]
    assert r.content == b"", r.text[:500]
    assert_common_headers(r, REVOKE)


def assert_forbidden(r, path=""):
    return assert_problem(r, 403, "forbidden", path)


# --- the world: users, organizations, service accounts and keys through the API ----------

_ADMIN_TOKENS = {}


def signin(http, email, password=PASSWORD):
    r = http.post(SIGNIN, json={"email": email, "password": password})
    assert r.status_code == 200, "sign-in of %s: %d %s" % (email, r.status_code, r.text[:300])
    return r.json()


def admin_headers(http, stack):
    """The bootstrapped platform administrator (its access token, one per stack URL)."""
    tok = _ADMIN_TOKENS.get(stack.url)
    if tok is None or http.get(ME, headers=bearer(tok)).status_code != 200:
        tok = signin(http, stack.admin_email, stack.admin_password)["access_token"]
        _ADMIN_TOKENS[stack.url] = tok
    return bearer(tok)


class User:
    def __init__(self, http, body, tokens):
        self.id = body["id"]
        self.email = body["email"]
        self.tokens = tokens
        self.h = bearer(tokens["access_token"])


def new_user(http, admin_h, prefix="user"):
    email = unique_email(prefix)
    r = http.post(USERS, json={"email": email, "password": PASSWORD}, headers=admin_h)
    assert r.status_code == 201, r.text[:300]
    return User(http, r.json(), signin(http, email))


def new_org(http, h, prefix="org"):
    name = unique(prefix)
    r = http.post(ORGS, json={"name": name}, headers=h)
    assert r.status_code == 201, r.text[:300]
    return name


def add_member(http, h, org, user, role):
    r = http.request("PUT", "%s/%s/members/%s" % (ORGS, org, user.id), json={"role": role},
                     headers=h)
    assert r.status_code in (200, 201), r.text[:300]


def sa_path(org, sa=None):
    return "%s/%s/service-accounts%s" % (ORGS, org, "/" + sa if sa else "")


def key_path(org, sa, key_id=None):
    return "%s/keys%s" % (sa_path(org, sa), "/" + key_id if key_id else "")


def new_sa(http, h, org, role="member", prefix="etl"):
    name = unique(prefix)
    r = http.post(sa_path(org), json={"name": name, "role": role,
                                      "display_name": "SA " + name,
                                      "description": "made by test_key_auth.py"}, headers=h)
    assert r.status_code == 201, r.text[:300]
    body = r.json()
    assert body["name"] == name and body["role"] == role, body
    return body


class Key:
    """A key as its 201 answer showed it: id, secret, token, and its owner."""

    def __init__(self, body, org, sa=None):
        self.body = body
        self.id = body["id"]
        self.secret = body["secret"]
        self.token = body["token"]
        self.org = org
        self.sa = sa  # the service account object (None: a personal key)
        self.expires_at = body["expires_at"]
        m = KEY_TOKEN.match(self.token)
        assert m, "SPEC §4 token form lyk_<KEYID>_<secret>: %r" % self.token
        assert m.group(1) == self.id and m.group(2) == self.secret, body
        assert self.secret[43:] == checksum(self.token[:-6]), \
            "SPEC §4: the last 6 characters are the CRC-32 of the rest, in base62"

    @property
    def bearer(self):
        return bearer(self.token)

    @property
    def basic(self):
        return {"Authorization": basic_value(self.id, self.secret)}

    def auth(self, how):
        return self.bearer if how == "bearer" else self.basic

    @property
    def path(self):
        return key_path(self.org, self.sa["name"], self.id)


def new_key(http, h, org, sa, **body):
    r = http.post(key_path(org, sa["name"]), json=body, headers=h)
    assert r.status_code == 201, r.text[:300]
    assert "no-store" in r.headers.get("Cache-Control", "")
    return Key(r.json(), org, sa)


def personal_key(http, user, org, **body):
    body = dict(body, org=org)
    r = http.post(MY_KEYS, json=body, headers=user.h)
    assert r.status_code == 201, r.text[:300]
    return Key(r.json(), org)


class World:
    """An organization with its owner, a member service account with a key,
    and another organization with a service account and a key of its own."""

    def __init__(self, stack, http):
        self.stack, self.http = stack, http
        self.admin_h = admin_headers(http, stack)
        self.owner = new_user(http, self.admin_h, "owner")
        self.org = new_org(http, self.owner.h)
        self.sa = new_sa(http, self.owner.h, self.org)
        self.key = new_key(http, self.owner.h, self.org, self.sa, display_name="ci")

    def sa_with_key(self, role="member", **key_body):
        sa = new_sa(self.http, self.owner.h, self.org, role=role)
        return sa, new_key(self.http, self.owner.h, self.org, sa, **key_body)

    def other_org(self):
        outsider = new_user(self.http, self.admin_h, "outsider")
        org = new_org(self.http, outsider.h)
        sa = new_sa(self.http, outsider.h, org)
        return outsider, org, new_key(self.http, outsider.h, org, sa)


@pytest.fixture
def w(stack, http):
    return World(stack, http)


def exchange(http, key=None, how="basic", key_id=None, secret=None, headers=None):
    """POST /api/auth/v1/token grant_type=client_credentials, the key sent `how`."""
    key_id = key_id if key_id is not None else key.id
    secret = secret if secret is not None else key.secret
    data = {"grant_type": "client_credentials"}
    h = dict(headers or {})
    if how == "basic":
        h["Authorization"] = basic_value(key_id, secret)
        return http.post(TOKEN, data=data, headers=h)
    data.update(client_id=key_id, client_secret=secret)
    if how == "json":
        return http.post(TOKEN, json=data, headers=h)
    return http.post(TOKEN, data=data, headers=h)


def exchanged(http, key, how="basic"):
    r = exchange(http, key, how)
    assert r.status_code == 200, r.text[:300]
    return r.json()


def revoke(http, token, headers=None, fmt="form", **extra):
    data = dict(extra, token=token)
    if fmt == "json":
        return http.post(REVOKE, json=data, headers=headers or {})
    return http.post(REVOKE, data=data, headers=headers or {})


def me_ok(http, headers):
    r = http.get(ME, headers=headers)
    assert r.status_code == 200, r.text[:300]
    return r.json()


# --- stacks of this module with other settings ----------------------------------------------

@pytest.fixture(scope="module")
def custom(request):
    """custom(name, frontend, mode, **HardStack kw): a private front end with its
    own config edits (and worker count), started once per module."""
    started = {}

    def make(name, frontend="lighttpd", mode="jwt", **kw):
        key = (name, frontend, mode)
        if key not in started:
            s = HardStack(request.getfixturevalue("e2e_env"), frontend, mode, "keyauth-" + name,
                          **kw)
            s.precheck()
            try:
                s.start()
            except Exception:
                s.stop()
                raise
            started[key] = s
        return started[key]

    yield make
    for s in started.values():
        s.stop()


LOG_LINE = re.compile(r"lanyard\[(\d+)\] \w+ request_id=([A-Za-z0-9._-]+):")


def log_files(stack):
    """Every file a server of this stack writes (front end, workers, --listen parent)."""
    out = []
    dirs = {stack.dir, os.path.dirname(stack.config_path)}
    for d in dirs:
        for root, _, names in os.walk(d):
            for n in names:
                p = os.path.join(root, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    out.append(p)
    return sorted(set(out))


def served_by(stack, rids):
    """{request id: worker pid} from the workers' request log lines."""
    want, got = set(rids), {}
    for p in log_files(stack):
        if not (p.endswith(".log") or p.endswith(".out")):
            continue
        with open(p, errors="replace") as f:
            for line in f:
                m = LOG_LINE.search(line)
                if m and m.group(2) in want:
                    got[m.group(2)] = int(m.group(1))
    return got


def burst(url, headers_list, rid_prefix, path=ME, threads=8):
    """GET path once per headers entry, concurrently, each on a new connection.
    Returns [(request id, response)] in the order given."""
    def one(i_h):
        i, h = i_h
        rid = "%s-%d" % (rid_prefix, i)
        r = requests.get(url + path, headers=dict(h, **{"X-Request-Id": rid}), timeout=TIMEOUT)
        return rid, r
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, enumerate(headers_list)))


# =============================================================================================
# 1. The key as a credential: /me (SPEC §5.8) and the service account's own endpoints (§5.9, §5.11)
# =============================================================================================

@pytest.mark.parametrize("how", ["bearer", "basic"])
def test_me_with_a_key_is_the_service_account_form(stack, http, w, how):
    r = http.get(ME, headers=w.key.auth(how))
    assert r.status_code == 200, r.text[:300]
    assert_common_headers(r)
    body = r.json()
    assert set(body) == {"type", "service_account", "credential"}, sorted(body)
    assert body["type"] == "service_account"
    sa = body["service_account"]
    assert set(sa) == SA_KEYS, sorted(sa)
    assert sa == w.sa, (sa, w.sa)  # the object POST service-accounts answered
    assert sa["id"].startswith("sa-") and re.match(r"^sa-[a-z2-7]{12}$", sa["id"]), sa["id"]
    assert sa["identifier"] == "%s@%s.%s" % (sa["name"], w.org, SA_DOMAIN)
    assert sa["organization"] == w.org and sa["role"] == "member"
    assert body["credential"] == {"type": "api_key", "key_id": w.key.id,
                                  "expires_at": w.key.expires_at, "resource": None}
    assert RFC3339.match(w.key.expires_at)


@pytest.mark.parametrize("how", ["bearer", "basic"])
def test_member_service_account_reads_its_org(stack, http, w, how):
    h = w.key.auth(how)
    r = http.get(ORGS, headers=h)
    assert r.status_code == 200, r.text[:300]
    assert [o["name"] for o in r.json()["items"]] == [w.org], r.text[:500]
    r = http.get(ORGS + "/" + w.org, headers=h)
    assert r.status_code == 200, r.text[:300]
    assert set(r.json()) == ORG_KEYS and r.json()["name"] == w.org
    r = http.get("%s/%s/members" % (ORGS, w.org), headers=h)
    assert r.status_code == 200, r.text[:300]
    assert w.owner.id in [m["user"]["id"] for m in r.json()["items"]]
    r = http.get(sa_path(w.org) + "?page_size=100", headers=h)
    assert r.status_code == 200, r.text[:300]
    assert w.sa["name"] in [s["name"] for s in r.json()["items"]]
    # a member service account is not org admin+ (SPEC §5.9)
    path = ORGS + "/" + w.org
    assert_forbidden(http.request("PATCH", path, json={"display_name": "no"}, headers=h), path)
    assert_forbidden(http.post(sa_path(w.org), json={"name": unique("sa")}, headers=h))
    assert_forbidden(http.post(key_path(w.org, w.sa["name"]), json={}, headers=h))
    assert http.get(path, headers=w.owner.h).json()["display_name"] is None


@pytest.mark.parametrize("how", ["bearer", "basic"])
def test_admin_service_account_administers_its_org(stack, http, w, how):
    sa, key = w.sa_with_key(role="admin")
    h = key.auth(how)
    path = ORGS + "/" + w.org
    r = http.request("PATCH", path, json={"display_name": "Patched by SA"}, headers=h)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["display_name"] == "Patched by SA"
    assert http.get(path, headers=w.owner.h).json()["display_name"] == "Patched by SA"
    made = new_sa(http, h, w.org)
    made_key = new_key(http, h, w.org, made)
    me = me_ok(http, made_key.auth(how))
    assert me["service_account"]["id"] == made["id"]
    assert me["credential"]["key_id"] == made_key.id


@pytest.mark.parametrize("how", ["bearer", "basic"])
def test_a_service_account_cannot_see_another_org(stack, http, w, how):
    """SPEC §3: another organization is 404, never 403 (also for an admin SA)."""
    _, other, _ = w.other_org()
    _, admin_key = w.sa_with_key(role="admin")
    for key in (w.key, admin_key):
        h = key.auth(how)
        for path in (ORGS + "/" + other, "%s/%s/members" % (ORGS, other), sa_path(other)):
            assert_problem(http.get(path, headers=h), 404, "not_found", path)
        r = http.request("PATCH", ORGS + "/" + other, json={"display_name": "x"}, headers=h)
        assert_problem(r, 404, "not_found")
        assert_problem(http.post(sa_path(other), json={"name": unique("sa")}, headers=h), 404,
                       "not_found")
        r = http.get(ORGS, headers=h)
        assert other not in [o["name"] for o in r.json()["items"]]


# =============================================================================================
# 2. Refused keys: 401 with the right challenge, never 500; malformed ones without the database
# =============================================================================================

def bearer_cases(key):
    """{description: (Authorization value, malformed?)}. Malformed ones (checksum,
    length, alphabet, prefix) are refused before any database work (decisions)."""
    kid, sec = key.id, key.secret
    rand, cs = sec[:43], sec[43:]
    corrupt = cs[:3] + other_char(cs[3]) + cs[4:]
    return {
        "checksum corrupted": ("Bearer lyk_%s_%s%s" % (kid, rand, corrupt), True),
        "checksum's first character changed": ("Bearer lyk_%s_%s%s" % (kid, rand,
                                                                        other_char(cs[0]) + cs[1:]),
                                               True),
        "truncated": ("Bearer " + key.token[:-1], True),
        "without its checksum": ("Bearer lyk_%s_%s" % (kid, rand), True),
        "one character more": ("Bearer " + key.token + "A", True),
        "random part changed, old checksum": ("Bearer lyk_%s_%s%s" % (kid, rand[:-1]
                                                                      + other_char(rand[-1]), cs),
                                              True),
        "wrong prefix": ("Bearer xyz" + key.token[3:], True),
        "wrong prefix with its own checksum": ("Bearer " + make_key_token(kid, rand, "xyz"), True),
        "key id lower-cased": ("Bearer lyk_%s_%s" % (kid.lower(), sec), True),
        "key id lower-cased with its own checksum": ("Bearer " + make_key_token(kid.lower(), rand),
                                                     True),
        "key id with a non-base32 digit, own checksum": (
            "Bearer " + make_key_token(kid[:-1] + "1", rand), True),
        "key id too short, own checksum": ("Bearer " + make_key_token(kid[:-1], rand), True),
        "the Basic pair as a Bearer token": ("Bearer %s:%s" % (kid, sec), True),
        "wrong secret, valid checksum": ("Bearer " + make_key_token(kid, rand62()), False),
        "unknown key id, valid checksum": ("Bearer " + make_key_token(rand_key_id(), rand), False),
    }


NOT_A_PAIR = {"colon missing", "bad base64", "base64 cut short", "not UTF-8"}


def basic_cases(key):
    kid, sec = key.id, key.secret
    rand, cs = sec[:43], sec[43:]
    unknown = rand_key_id()
    b64 = lambda raw: "Basic " + base64.b64encode(raw.encode() if isinstance(raw, str)  # noqa: E731
                                                  else raw).decode()
    return {
        "colon missing": (b64(kid + sec), True),
        "bad base64": ("Basic !!not*base64!!", True),
        "base64 cut short": ("Basic " + base64.b64encode(("%s:%s" % (kid, sec)).encode()
                                                         ).decode()[:-3], True),
        "space before the key id": (b64(" %s:%s" % (kid, sec)), True),
        "space after the secret": (b64("%s:%s " % (kid, sec)), True),
        "spaces around the colon": (b64("%s : %s" % (kid, sec)), True),
        "checksum corrupted": (b64("%s:%s%s" % (kid, rand, cs[:5] + other_char(cs[5]))), True),
        "truncated secret": (b64("%s:%s" % (kid, sec[:-1])), True),
        "key id lower-cased": (b64("%s:%s" % (kid.lower(), sec)), True),
        "the whole token as the secret": (b64("%s:%s" % (kid, key.token)), True),
        "empty secret": (b64(kid + ":"), True),
        "empty pair": (b64(":"), True),
        "not UTF-8": (b64(b"\xff\xfe:" + sec.encode()), True),
        "wrong secret, valid checksum": (
            b64("%s:%s" % (kid, secret_of(make_key_token(kid, rand62())))), False),
        "unknown key id, valid checksum": (
            b64("%s:%s" % (unknown, secret_of(make_key_token(unknown, rand)))), False),
    }


def test_auth_scheme_is_case_insensitive(stack, http, w):
    """RFC 7235 §2.1 (SPEC is silent): the scheme is case-insensitive."""
    for value in ("bearer " + w.key.token, "BEARER " + w.key.token,
                  "basic " + w.key.basic["Authorization"].split(" ", 1)[1]):
        r = http.get(ME, headers={"Authorization": value})
        assert r.status_code == 200, "%s: %d %s" % (value.split(" ")[0], r.status_code,
                                                    r.text[:300])


def test_refused_bearer_keys(stack, http, w):
    me_ok(http, w.key.bearer)  # the key itself works: each refusal is about the change
    bad = []
    for desc, (value, _) in bearer_cases(w.key).items():
        r = http.get(ME, headers={"Authorization": value})
        try:
            assert_bearer_refused(r)
        except AssertionError as e:
            bad.append("%s: %s" % (desc, str(e).splitlines()[0][:300]))
    assert not bad, "refused Bearer keys answered wrongly:\n" + "\n".join(bad)
    me_ok(http, w.key.bearer)


def test_refused_basic_keys(stack, http, w):
    me_ok(http, w.key.basic)
    bad = []
    for desc, (value, _) in basic_cases(w.key).items():
        r = http.get(ME, headers={"Authorization": value})
        try:
            assert_basic_refused(r)
        except AssertionError as e:
            bad.append("%s: %s" % (desc, str(e).splitlines()[0][:300]))
    assert not bad, "refused Basic keys answered wrongly:\n" + "\n".join(bad)
    me_ok(http, w.key.basic)


def test_refused_keys_at_the_token_endpoint(stack, http, w):
    """The same refusals when exchanging: 401 invalid_client, Basic challenge (a
    header that is not a Basic pair at all may instead be 400 invalid_request,
    SPEC §3 malformed headers; never anything else, never 500)."""
    bad = []
    for desc, (value, _) in basic_cases(w.key).items():
        r = http.post(TOKEN, data={"grant_type": "client_credentials"},
                      headers={"Authorization": value})
        try:
            if desc in NOT_A_PAIR and r.status_code == 400:
                assert_oauth_error(r, 400, "invalid_request")
            else:
                assert_invalid_client(r)
        except AssertionError as e:
            bad.append("Basic %s: %s" % (desc, str(e).splitlines()[0][:300]))
    assert not bad, "\n".join(bad)


def test_an_expired_key_is_refused(stack, http, w):
    """Decisions: an expired key is refused like a wrong one (the shortest lifetime
    the API takes is a minute, so the expiry is moved into the past in the database)."""
    need_private(stack)
    stack.mariadb.sql("UPDATE lanyard.api_keys SET expires_at = UTC_TIMESTAMP() - INTERVAL 10 "
                      "MINUTE WHERE id = '%s'" % w.key.id)
    assert_bearer_refused(http.get(ME, headers=w.key.bearer))
    assert_basic_refused(http.get(ME, headers=w.key.basic))
    assert_invalid_client(exchange(http, w.key, "form"))
    # (a token exchanged before keeps the expiry it was given then: never beyond the
    # key's expiry at that time, tested in test_exchange_never_outlives_the_key)


@pytest.mark.stacks("lighttpd-jwt")
def test_malformed_keys_are_refused_without_the_database(stack, custom):
    """Decisions (SPEC §4 "refused without touching the database"): with MariaDB
    stopped, a malformed key still gets 401 while a well-formed one gets 503 with
    Retry-After (only the database could tell)."""
    need_private(stack)
    s = custom("dbdown")
    http = Client(s.url)
    world = World(s, http)
    me_ok(http, world.key.bearer)
    cases = [("Bearer " + d, v, m) for d, (v, m) in bearer_cases(world.key).items()]
    cases += [("Basic " + d, v, m) for d, (v, m) in basic_cases(world.key).items()]
    cases += [("Bearer the real key", "Bearer " + world.key.token, False),
              ("Basic the real key", world.key.basic["Authorization"], False)]
    s.mariadb.stop()
    bad = []
    try:
        for desc, value, malformed in cases:
            for _ in range(2):  # both workers
                r = http.get(ME, headers={"Authorization": value})
                try:
                    if not malformed:
                        assert_problem(r, 503, "unavailable", ME)
                        assert int(r.headers.get("Retry-After", "0")) >= 1, r.headers
                    elif value.startswith("Bearer"):
                        assert_bearer_refused(r)
                    else:
                        assert_basic_refused(r)
                except AssertionError as e:
                    bad.append("%s: %s" % (desc, str(e).splitlines()[0][:300]))
        # the exchange: a malformed client secret is invalid_client, a well-formed one 503
        r = exchange(http, world.key, "form", secret=world.key.secret[:-1])
        try:
            assert_invalid_client(r)
        except AssertionError as e:
            bad.append("exchange, truncated secret: %s" % str(e).splitlines()[0][:300])
        r = exchange(http, world.key, "form")
        if not (r.status_code == 503 and int(r.headers.get("Retry-After", "0")) >= 1
                and "error" in r.json()):
            bad.append("exchange, the real key: want 503 + Retry-After, got %d %s"
                       % (r.status_code, r.text[:200]))
    finally:
        s.mariadb.start()
    assert wait_for(lambda: all(health_ok(http) for _ in range(4)), timeout=30), \
        "health did not come back after MariaDB restarted"
    assert not bad, "with MariaDB down:\n" + "\n".join(bad)
    assert wait_for(lambda: http.get(ME, headers=world.key.bearer).status_code == 200, 10)


# =============================================================================================
# 3. Revocation at once, through every worker
# =============================================================================================

def _delete(http, world, key, what):
    if what == "key":
        r = http.delete(key.path, headers=world.owner.h)
    elif what == "service account":
        r = http.delete(sa_path(world.org, key.sa["name"]), headers=world.owner.h)
    else:
        r = http.delete(ORGS + "/" + world.org, headers=world.owner.h)
    assert r.status_code == 204, r.text[:300]


def _assert_dead(http, key):
    assert_bearer_refused(http.get(ME, headers=key.bearer))
    assert_basic_refused(http.get(ME, headers=key.basic))
    assert_invalid_client(exchange(http, key, "basic"))


WHATS = ["key", "service account", "org"]


@pytest.mark.parametrize("what", WHATS)
def test_deleted_key_is_refused_at_once_on_every_worker(stack, http, w, what):
    """SPEC §5.11/§5.9: DELETE of the key, its service account or its org: the very
    next request and every one after, on whichever worker, is refused."""
    warm = burst(stack.url, [w.key.bearer, w.key.basic] * 8, "warm-" + uuid.uuid4().hex[:8])
    assert all(r.status_code == 200 for _, r in warm), [r.status_code for _, r in warm]
    _delete(http, w, w.key, what)
    assert_bearer_refused(http.get(ME, headers=w.key.bearer))
    after = burst(stack.url, [w.key.bearer, w.key.basic] * 10, "dead-" + uuid.uuid4().hex[:8])
    for i, (_, r) in enumerate(after):
        (assert_bearer_refused if i % 2 == 0 else assert_basic_refused)(r)
    assert_invalid_client(exchange(http, w.key, "basic"))


@pytest.mark.stacks("lighttpd-jwt")
@pytest.mark.parametrize("cache", ["0s", "60s"])
@pytest.mark.parametrize("what", WHATS)
def test_deletion_reaches_every_one_of_four_workers(stack, custom, what, cache):
    """Four lighttpd workers (with and without security.auth_cache_ttl): the key is
    proved (by the workers' request log) to have been verified by every worker
    before the deletion; after it, every worker (proved the same way) refuses it,
    starting with the very next request. SPEC §4: API keys always stop working at once."""
    need_private(stack)
    s = custom("procs4-cache" + cache, procs=4,
               edits=[("security:\n", "security:\n  auth_cache_ttl: %s\n" % cache)])
    http = Client(s.url)
    world = World(s, http)
    pids = set(s.worker_pids())
    assert len(pids) == 4, pids

    def until_every_worker(headers, status, tag):
        seen, rounds = set(), 0
        # lighttpd gives a request to the least busy worker, the first on a tie:
        # the last workers get a share only under enough concurrency
        while seen != pids and rounds < 40:
            res = burst(s.url, [headers] * 24, "%s-%d-%s" % (tag, rounds, uuid.uuid4().hex[:6]),
                        threads=24)
            assert all(r.status_code == status for _, r in res), \
                (tag, [(rid, r.status_code) for rid, r in res if r.status_code != status])
            assert wait_for(lambda: len(served_by(s, [rid for rid, _ in res])) == len(res), 5), \
                "request log lines missing"
            seen |= set(served_by(s, [rid for rid, _ in res]).values())
            rounds += 1
        return seen

    seen = until_every_worker(world.key.bearer, 200, "warm")
    assert seen == pids, "could not reach every worker: %s of %s" % (seen, pids)
    _delete(http, world, world.key, what)
    assert_bearer_refused(http.get(ME, headers=world.key.bearer))
    seen = until_every_worker(world.key.bearer, 401, "dead")
    assert seen == pids, "not every worker was asked after the deletion: %s of %s" % (seen, pids)
    _assert_dead(http, world.key)


@pytest.mark.stacks("lighttpd-jwt")
@pytest.mark.parametrize("cache", ["0s", "60s"])
@pytest.mark.parametrize("what", ["demoted", "removed", "disabled", "sa demoted"])
def test_role_and_membership_changes_reach_every_one_of_four_workers(stack, custom, what, cache):
    """The same for a personal key whose user is demoted, leaves the org or is
    disabled (SPEC §4: the weaker of the key's and the user's current role; at once),
    and for an admin service account demoted to member (the account's role applies):
    every worker (proved by the request log) follows at once, cache or not.
    (test_keys.py tests these rules on one stack; this is about every worker.)"""
    need_private(stack)
    s = custom("procs4-cache" + cache, procs=4,
               edits=[("security:\n", "security:\n  auth_cache_ttl: %s\n" % cache)])
    http = Client(s.url)
    world = World(s, http)
    if what == "sa demoted":
        sa, pk = world.sa_with_key(role="admin")
        admin_only = ORGS + "/" + world.org + "/keys"
    else:
        user, pk, admin_only = _personal_key_world(http, world)
    pids = set(s.worker_pids())

    def until_every_worker(status, tag):
        seen, rounds = set(), 0
        while seen != pids and rounds < 40:
            res = burst(s.url, [pk.bearer] * 24, "%s-%d-%s" % (tag, rounds, uuid.uuid4().hex[:6]),
                        path=admin_only, threads=24)
            assert all(r.status_code == status for _, r in res), \
                (tag, [(rid, r.status_code) for rid, r in res if r.status_code != status])
            assert wait_for(lambda: len(served_by(s, [rid for rid, _ in res])) == len(res), 5)
            seen |= set(served_by(s, [rid for rid, _ in res]).values())
            rounds += 1
        assert seen == pids, "%s: reached %s of %s" % (tag, seen, pids)

    until_every_worker(200, "pk-warm")
    if what == "sa demoted":
        r = http.request("PATCH", sa_path(world.org, sa["name"]), json={"role": "member"},
                         headers=world.owner.h)
        assert r.status_code == 200 and r.json()["role"] == "member", r.text[:300]
        what = "demoted"
    else:
        _change_user(http, world, user, what)
    _assert_personal_key_after(http.get(admin_only, headers=pk.bearer), what, admin_only)
    until_every_worker(403 if what == "demoted" else 401, "pk-after")


def _personal_key_world(http, world):
    """An org admin with a personal key of role admin, and a key path only admins may read."""
    user = new_user(http, world.admin_h, "pkuser")
    add_member(http, world.owner.h, world.org, user, "admin")
    pk = personal_key(http, user, world.org, role="admin")
    return user, pk, ORGS + "/" + world.org + "/keys"


def _change_user(http, world, user, what):
    if what == "demoted":
        add_member(http, world.owner.h, world.org, user, "member")
    elif what == "removed":
        r = http.delete("%s/%s/members/%s" % (ORGS, world.org, user.id), headers=world.owner.h)
        assert r.status_code == 204, r.text[:300]
    elif what == "disabled":
        r = http.request("PATCH", USERS + "/" + user.id, json={"disabled": True},
                         headers=world.admin_h)
        assert r.status_code == 200, r.text[:300]
    else:
        r = http.delete(USERS + "/" + user.id, headers=world.admin_h)
        assert r.status_code == 204, r.text[:300]


def _assert_personal_key_after(r, what, path):
    if what == "demoted":  # effective role = min(key role, the user's current role)
        assert_forbidden(r, path)
    else:
        assert_bearer_refused(r, path)


# =============================================================================================
# 4. client_credentials (SPEC §5.3)
# =============================================================================================

def assert_cc_response(r, stack, max_expires=ACCESS_TTL):
    assert r.status_code == 200, r.text[:300]
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert media_type(r) == "application/json"
    body = r.json()
    assert set(body) == CC_KEYS, "exactly access_token, token_type, expires_in: %s" % sorted(body)
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and 0 < body["expires_in"] <= max_expires, body
    if stack.mode == "opaque":
        assert OPAQUE_ACCESS.match(body["access_token"]), body["access_token"]
        assert body["access_token"][-6:] == checksum(body["access_token"][:-6])
    else:
        assert body["access_token"].count(".") == 2, body["access_token"][:60]
    return body


def assert_sa_claims(stack, token, sa, org, key, resource=None):
    header, claims = jwt_parts(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "EdDSA" and header.get("kid"), header
    assert claims["principal_type"] == "service_account", claims
    assert claims["sub"] == sa["id"] and claims["sub"].startswith("sa-"), claims
    assert claims["org"] == org, claims
    assert claims["client_id"] == key.id, claims
    assert claims["iss"] == stack.url and claims["aud"] == "lanyard", claims
    assert claims["jti"] and claims["nbf"] <= claims["iat"] + 1, claims
    if resource is None:
        assert "resource" not in claims, "resource only for a scoped key: %s" % claims
    else:
        assert claims["resource"] == resource, claims
    return claims


@pytest.mark.parametrize("how", ["basic", "form", "json"])
def test_client_credentials_exchange(stack, http, w, how):
    r = exchange(http, w.key, how)
    body = assert_cc_response(r, stack)
    assert body["expires_in"] == ACCESS_TTL, "SPEC §5.3: lifetime access_ttl: %s" % body
    me = me_ok(http, bearer(body["access_token"]))
    assert set(me) == {"type", "service_account", "credential"}, sorted(me)
    assert me["type"] == "service_account" and me["service_account"] == w.sa
    cred = me["credential"]
    assert set(cred) == {"type", "format", "key_id", "expires_at", "resource"}, sorted(cred)
    assert cred["type"] == "access_token" and cred["format"] == stack.mode, cred
    assert cred["key_id"] == w.key.id and cred["resource"] is None, cred
    assert RFC3339.match(cred["expires_at"]), cred
    assert abs(epoch(cred["expires_at"]) - (time.time() + ACCESS_TTL)) < 60, cred
    if stack.mode == "jwt":
        claims = assert_sa_claims(stack, body["access_token"], w.sa, w.org, w.key)
        assert claims["exp"] - claims["iat"] == body["expires_in"], claims
        assert epoch(cred["expires_at"]) == claims["exp"], (cred, claims)
    # the exchanged token is not itself a client credential
    r = http.post(TOKEN, data={"grant_type": "client_credentials"},
                  headers=bearer(body["access_token"]))
    assert r.status_code in (400, 401), r.text[:300]


def test_client_credentials_reach_the_service_account_endpoints(stack, http, w):
    h = bearer(exchanged(http, w.key)["access_token"])
    r = http.get(ORGS, headers=h)
    assert r.status_code == 200 and [o["name"] for o in r.json()["items"]] == [w.org], r.text
    assert http.get(sa_path(w.org), headers=h).status_code == 200
    assert_forbidden(http.request("PATCH", ORGS + "/" + w.org, json={"display_name": "x"},
                                  headers=h))
    _, admin_key = w.sa_with_key(role="admin")
    h = bearer(exchanged(http, admin_key, "json")["access_token"])
    r = http.request("PATCH", ORGS + "/" + w.org, json={"display_name": "by token"}, headers=h)
    assert r.status_code == 200, r.text[:300]


def test_exchange_never_outlives_the_key(stack, http, w):
    """SPEC §5.3: never beyond the key's own expiry (a key of 120 s)."""
    sa, key = w.sa_with_key(ttl="120s")
    assert abs(epoch(key.expires_at) - time.time() - 120) < 30, key.expires_at
    for how in ("basic", "form"):
        body = assert_cc_response(exchange(http, key, how), stack, max_expires=120)
        assert body["expires_in"] >= 60, body
        cred = me_ok(http, bearer(body["access_token"]))["credential"]
        assert epoch(cred["expires_at"]) <= epoch(key.expires_at), (cred, key.expires_at)
        if stack.mode == "jwt":
            claims = assert_sa_claims(stack, body["access_token"], sa, w.org, key)
            assert claims["exp"] <= epoch(key.expires_at), (claims, key.expires_at)


@pytest.mark.parametrize("how", ["basic", "form", "json"])
def test_exchange_with_a_wrong_key_is_invalid_client(stack, http, w, how):
    kid, rand = w.key.id, w.key.secret[:43]
    other = rand_key_id()
    wrongs = {
        "wrong secret, valid checksum": (kid, secret_of(make_key_token(kid, rand62()))),
        "unknown key id": (other, secret_of(make_key_token(other, rand))),
        "truncated secret": (kid, w.key.secret[:-1]),
        "corrupted checksum": (kid, w.key.secret[:-1] + other_char(w.key.secret[-1])),
        "the token as the secret": (kid, w.key.token),
    }
    if how == "basic":
        wrongs["empty secret"] = (kid, "")
    bad = []
    for desc, (key_id, secret) in wrongs.items():
        r = exchange(http, how=how, key_id=key_id, secret=secret)
        try:
            assert_invalid_client(r)
        except AssertionError as e:
            bad.append("%s: %s" % (desc, str(e).splitlines()[0][:300]))
    assert not bad, "\n".join(bad)
    assert_cc_response(exchange(http, w.key, how), stack)


def test_exchange_without_a_client_credential_is_invalid_client(stack, http, w):
    """RFC 6749 §5.2: no client authentication included: 401 invalid_client."""
    for kw in ({"data": {"grant_type": "client_credentials"}},
               {"json": {"grant_type": "client_credentials"}}):
        assert_invalid_client(http.post(TOKEN, **kw))
    # a user's access token is no client credential either
    r = http.post(TOKEN, data={"grant_type": "client_credentials"}, headers=w.owner.h)
    assert r.status_code in (400, 401), r.text[:300]
    assert r.json()["error"] in ("invalid_client", "invalid_request", "unauthorized_client")


def test_exchange_with_basic_and_params_is_invalid_request(stack, http, w):
    for fmt in ("form", "json"):
        data = {"grant_type": "client_credentials", "client_id": w.key.id,
                "client_secret": w.key.secret}
        kw = {"json": data} if fmt == "json" else {"data": data}
        r = http.post(TOKEN, headers=w.key.basic, **kw)
        assert_oauth_error(r, 400, "invalid_request")


def test_exchange_with_a_personal_key_is_unauthorized_client(stack, http, w):
    pk = personal_key(http, w.owner, w.org)
    assert me_ok(http, pk.bearer)["type"] == "user"  # the key itself works
    for how in ("basic", "form", "json"):
        assert_oauth_error(exchange(http, pk, how), 400, "unauthorized_client")


@pytest.mark.stacks(*OPAQUE_STACKS)
@pytest.mark.parametrize("what", WHATS)
def test_opaque_exchanged_token_dies_with_its_key(stack, http, w, what):
    """Decisions: deleting the key, its SA or its org ends an opaque exchanged token at once."""
    tok = exchanged(http, w.key)["access_token"]
    me_ok(http, bearer(tok))
    _delete(http, w, w.key, what)
    assert_bearer_refused(http.get(ME, headers=bearer(tok)))
    res = burst(stack.url, [bearer(tok)] * 8, "dead-tok-" + uuid.uuid4().hex[:8])
    for _, r in res:
        assert_bearer_refused(r)


@pytest.mark.stacks(*OPAQUE_STACKS)
def test_opaque_exchanged_token_ends_with_its_keys_rotation_grace(stack, http, w):
    """SPEC §5.3: never beyond the key's own expiry, also when a rotation with
    grace 0s ends the key at once (main 9c7b16b)."""
    tok = exchanged(http, w.key)["access_token"]
    me_ok(http, bearer(tok))
    r = http.post(w.key.path + "/rotate", json={"grace": "0s"}, headers=w.owner.h)
    assert r.status_code == 201, r.text[:300]
    new = Key(r.json(), w.org, w.sa)
    assert_bearer_refused(http.get(ME, headers=w.key.bearer))
    assert_bearer_refused(http.get(ME, headers=bearer(tok)))
    me_ok(http, bearer(exchanged(http, new)["access_token"]))


@pytest.mark.stacks(*JWT_STACKS)
def test_jwt_exchanged_token_outlives_its_key_without_check_revocation(stack, http, w):
    """SPEC §4: a JWT cannot be recalled; it stays valid until exp."""
    tok = exchanged(http, w.key)["access_token"]
    _delete(http, w, w.key, "key")
    assert_bearer_refused(http.get(ME, headers=w.key.bearer))
    me = me_ok(http, bearer(tok))
    assert me["credential"]["key_id"] == w.key.id


@pytest.mark.stacks("lighttpd-jwt")
@pytest.mark.parametrize("what", WHATS)
def test_check_revocation_ends_exchanged_jwts_at_once(stack, custom, what):
    need_private(stack)
    s = custom("checkrev", edits=CHECK_REVOCATION)
    http = Client(s.url)
    world = World(s, http)
    tok = exchanged(http, world.key)["access_token"]
    assert jwt_parts(tok)[1]["client_id"] == world.key.id
    me_ok(http, bearer(tok))
    _delete(http, world, world.key, what)
    assert_bearer_refused(http.get(ME, headers=bearer(tok)))
    for _, r in burst(s.url, [bearer(tok)] * 8, "checkrev-" + uuid.uuid4().hex[:8]):
        assert_bearer_refused(r)


# =============================================================================================
# 5. Revocation (SPEC §5.5, RFC 7009)
# =============================================================================================

@pytest.mark.parametrize("fmt", ["form", "json"])
def test_revoke_a_key_by_its_own_service_account(stack, http, w, fmt):
    k2 = new_key(http, w.owner.h, w.org, w.sa)
    k3 = new_key(http, w.owner.h, w.org, w.sa)
    k4 = new_key(http, w.owner.h, w.org, w.sa)
    # another key of the same SA, by Basic
    assert_revoke_ok(revoke(http, w.key.token, k2.basic, fmt, token_type_hint="api_key"))
    _assert_dead(http, w.key)
    me_ok(http, k2.basic)
    # by client_id/client_secret parameters
    assert_revoke_ok(revoke(http, k3.token, fmt=fmt, client_id=k2.id, client_secret=k2.secret))
    _assert_dead(http, k3)
    # a token exchanged with another key of the same account
    k5 = new_key(http, w.owner.h, w.org, w.sa)
    tok = exchanged(http, k4)["access_token"]
    assert_revoke_ok(revoke(http, k5.token, bearer(tok), fmt))
    _assert_dead(http, k5)
    # a key revoking itself, by Bearer...
    assert_revoke_ok(revoke(http, k2.token, k2.bearer, fmt))
    _assert_dead(http, k2)
    # ... is no credential any more; revoking it again (already dead) is 200
    assert_oauth_error(revoke(http, k4.token, k2.basic, fmt), 401, "invalid_client", REVOKE)
    me_ok(http, k4.bearer)
    assert_revoke_ok(revoke(http, k2.token, k4.basic, fmt))
    r = http.get(key_path(w.org, w.sa["name"], w.key.id), headers=w.owner.h)
    assert_problem(r, 404, "not_found")  # a revoked key is the same as a deleted one


@pytest.mark.parametrize("fmt", ["form", "json"])
def test_revoke_a_refresh_token_by_its_user(stack, http, w, fmt):
    user = new_user(http, w.admin_h)
    a = user.tokens                     # session A (its refresh token is revoked)
    b = signin(http, user.email)        # session B (the credential)
    assert_revoke_ok(revoke(http, a["refresh_token"], bearer(b["access_token"]), fmt,
                            token_type_hint="refresh_token"))
    r = http.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": a["refresh_token"]})
    assert_oauth_error(r, 400, "invalid_grant")
    r = http.get(ME, headers=bearer(a["access_token"]))
    if stack.mode == "opaque":
        assert_bearer_refused(r)    # the whole session ended
    else:
        assert r.status_code == 200, r.text[:300]  # SPEC §4: a JWT lives until exp
    me_ok(http, bearer(b["access_token"]))
    r = http.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": b["refresh_token"]})
    assert r.status_code == 200, r.text[:300]


@pytest.mark.stacks(*OPAQUE_STACKS)
def test_revoke_an_opaque_access_token_ends_its_session(stack, http, w):
    user = new_user(http, w.admin_h)
    a = user.tokens
    assert_revoke_ok(revoke(http, a["access_token"], bearer(a["access_token"])))
    assert_bearer_refused(http.get(ME, headers=bearer(a["access_token"])))
    r = http.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": a["refresh_token"]})
    assert_oauth_error(r, 400, "invalid_grant")


@pytest.mark.stacks(*OPAQUE_STACKS)
def test_revoke_an_exchanged_opaque_token_ends_that_token_only(stack, http, w):
    t1 = exchanged(http, w.key)["access_token"]
    t2 = exchanged(http, w.key)["access_token"]
    assert_revoke_ok(revoke(http, t1, w.key.basic))
    assert_bearer_refused(http.get(ME, headers=bearer(t1)))
    me_ok(http, bearer(t2))
    me_ok(http, w.key.bearer)


def test_revoke_unknown_or_garbage_tokens_is_200(stack, http, w):
    for tok in (opaque_token("lyr"), opaque_token("lya"), make_key_token(rand_key_id(), rand62()),
                "garbage", "lyk_" + "A" * 16 + "_short", "a.b.c", "x" * 2000):
        for h in (w.owner.h, w.key.basic):
            assert_revoke_ok(revoke(http, tok, h))
    me_ok(http, w.key.bearer)


def test_revoke_another_users_refresh_token_is_403(stack, http, w):
    victim = new_user(http, w.admin_h, "victim")
    for h in (w.owner.h, w.key.basic, w.key.bearer):
        r = revoke(http, victim.tokens["refresh_token"], h)
        assert_oauth_error(r, 403, "unauthorized_client", REVOKE)
    r = http.post(TOKEN, data={"grant_type": "refresh_token",
                               "refresh_token": victim.tokens["refresh_token"]})
    assert r.status_code == 200, "the refused revocation must change nothing: " + r.text[:300]
    # the platform administrator (by access token) may
    fresh = r.json()["refresh_token"]
    assert_revoke_ok(revoke(http, fresh, w.admin_h, "json"))
    r = http.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": fresh})
    assert_oauth_error(r, 400, "invalid_grant")


def test_revoke_a_key_by_an_org_admin(stack, http, w):
    org_admin = new_user(http, w.admin_h, "orgadmin")
    add_member(http, w.owner.h, w.org, org_admin, "admin")
    # token_type_hint is only a hint (RFC 7009 §2.1): a wrong one changes nothing
    assert_revoke_ok(revoke(http, w.key.token, org_admin.h, token_type_hint="refresh_token"))
    _assert_dead(http, w.key)
    # a member's personal key acting in the org, too (SPEC §5.11 org keys)
    member = new_user(http, w.admin_h, "member")
    add_member(http, w.owner.h, w.org, member, "member")
    pk = personal_key(http, member, w.org)
    assert_revoke_ok(revoke(http, pk.token, org_admin.h))
    assert_bearer_refused(http.get(ME, headers=pk.bearer))
    # an admin service account of the org, and the platform administrator, too
    _, k2 = w.sa_with_key()
    _, admin_key = w.sa_with_key(role="admin")
    assert_revoke_ok(revoke(http, k2.token, admin_key.basic, "json"))
    _assert_dead(http, k2)
    _, k3 = w.sa_with_key()
    assert_revoke_ok(revoke(http, k3.token, w.admin_h))
    _assert_dead(http, k3)


def test_revoke_by_personal_keys_follows_their_effective_role(stack, http, w):
    """SPEC §4: a personal key deletes no keys, and a revoked key is a deleted one
    (§5.5): even with role admin it revokes no key but itself (doc/decisions.md);
    it may still end its user's own sessions. It never has platform-administrator
    rights."""
    org_admin = new_user(http, w.admin_h, "orgadmin")
    add_member(http, w.owner.h, w.org, org_admin, "admin")
    member_pk = personal_key(http, org_admin, w.org)             # role member
    admin_pk = personal_key(http, org_admin, w.org, role="admin")
    for pk in (member_pk, admin_pk):
        for h in (pk.bearer, pk.basic):
            r = revoke(http, w.key.token, h)
            assert_oauth_error(r, 403, "unauthorized_client", REVOKE)
    other_pk = personal_key(http, org_admin, w.org)
    assert_oauth_error(revoke(http, other_pk.token, admin_pk.bearer), 403,
                       "unauthorized_client", REVOKE)
    me_ok(http, w.key.bearer)
    me_ok(http, other_pk.bearer)
    # its user's own session
    assert_revoke_ok(revoke(http, org_admin.tokens["refresh_token"], admin_pk.basic))
    r = http.post(TOKEN, data={"grant_type": "refresh_token",
                               "refresh_token": org_admin.tokens["refresh_token"]})
    assert_oauth_error(r, 400, "invalid_grant")
    # the platform administrator's personal key for an org of its own: no rights elsewhere
    admin = User(http, {"id": None, "email": w.stack.admin_email},
                 signin(http, w.stack.admin_email, w.stack.admin_password))
    own = new_org(http, admin.h)
    admin_key = personal_key(http, admin, own, role="admin")
    _, k2 = w.sa_with_key()
    r = revoke(http, k2.token, admin_key.bearer)
    assert_oauth_error(r, 403, "unauthorized_client", REVOKE)
    me_ok(http, k2.bearer)
    # a personal key may revoke itself (its user owns it)
    assert_revoke_ok(revoke(http, member_pk.token, member_pk.basic))
    assert_bearer_refused(http.get(ME, headers=member_pk.bearer))
    assert http.delete(ORGS + "/" + own, headers=admin.h).status_code == 204


def test_revoke_without_a_token_is_invalid_request(stack, http, w):
    """RFC 7009 §2.1: token is required."""
    for kw in ({"data": {"token_type_hint": "api_key"}}, {"json": {}}):
        assert_oauth_error(http.post(REVOKE, headers=w.key.basic, **kw), 400,
                           "invalid_request", REVOKE)
    me_ok(http, w.key.bearer)


def test_revoke_a_key_by_others_is_403(stack, http, w):
    outsider, _, outsider_key = w.other_org()
    member = new_user(http, w.admin_h, "member")
    add_member(http, w.owner.h, w.org, member, "member")
    _, sibling = w.sa_with_key()  # a member SA of the same org, not the key's owner
    for desc, h in (("outsider user", outsider.h), ("SA of another org", outsider_key.basic),
                    ("member user of the org", member.h), ("other member SA", sibling.basic),
                    ("other member SA, Bearer", sibling.bearer)):
        r = revoke(http, w.key.token, h)
        assert r.status_code == 403, "%s: %d %s" % (desc, r.status_code, r.text[:300])
        assert_oauth_error(r, 403, "unauthorized_client", REVOKE)
    me_ok(http, w.key.bearer)


def test_revoke_without_a_credential_is_401(stack, http, w):
    for fmt in ("form", "json"):
        assert_oauth_error(revoke(http, w.key.token, fmt=fmt), 401, "invalid_client", REVOKE)
    wrong = basic_value(w.key.id, secret_of(make_key_token(w.key.id, rand62())))
    # RFC 6749 §5.2 (RFC 7009 §2.1 authenticates clients so): a client that tried the
    # Authorization header gets 401 with a challenge of the scheme it used
    assert_invalid_client(revoke(http, w.key.token, {"Authorization": wrong}), REVOKE)
    me_ok(http, w.key.bearer)


def test_a_scoped_key_revokes_only_itself(stack, http, w):
    scoped = new_key(http, w.owner.h, w.org, w.sa, resource=RESOURCE)
    r = revoke(http, w.key.token, scoped.basic)
    assert_oauth_error(r, 403, "unauthorized_client", REVOKE)
    me_ok(http, w.key.bearer)
    # nor may a token exchanged with it; that token may revoke the key it came from
    tok = exchanged(http, scoped)["access_token"]
    r = revoke(http, w.key.token, bearer(tok))
    assert_oauth_error(r, 403, "unauthorized_client", REVOKE)
    assert_revoke_ok(revoke(http, scoped.token, scoped.basic))
    _assert_dead(http, scoped)
    scoped2 = new_key(http, w.owner.h, w.org, w.sa, resource=RESOURCE)
    tok2 = exchanged(http, scoped2)["access_token"]
    assert_revoke_ok(revoke(http, scoped2.token, bearer(tok2)))
    _assert_dead(http, scoped2)
    me_ok(http, w.key.bearer)


# =============================================================================================
# 6. Scoped keys (SPEC §4)
# =============================================================================================

@pytest.mark.parametrize("how", ["bearer", "basic"])
def test_scoped_key(stack, http, w, how):
    key = new_key(http, w.owner.h, w.org, w.sa, resource=RESOURCE)
    assert key.body["resource"] == RESOURCE
    me = me_ok(http, key.auth(how))
    assert me["credential"] == {"type": "api_key", "key_id": key.id,
                                "expires_at": key.expires_at, "resource": RESOURCE}
    assert me["service_account"] == w.sa
    for path in (ORGS, ORGS + "/" + w.org, sa_path(w.org), "%s/%s/members" % (ORGS, w.org)):
        assert_forbidden(http.get(path, headers=key.auth(how)), path)
    assert_forbidden(http.post(key_path(w.org, w.sa["name"]), json={}, headers=key.auth(how)))
    assert_forbidden(http.get(MY_KEYS, headers=key.auth(how)))


def test_a_scoped_keys_token_is_scoped(stack, http, w):
    key = new_key(http, w.owner.h, w.org, w.sa, resource=RESOURCE)
    body = assert_cc_response(exchange(http, key, "basic"), stack)
    h = bearer(body["access_token"])
    cred = me_ok(http, h)["credential"]
    assert cred["type"] == "access_token" and cred["format"] == stack.mode
    assert cred["key_id"] == key.id and cred["resource"] == RESOURCE, cred
    if stack.mode == "jwt":
        assert_sa_claims(stack, body["access_token"], w.sa, w.org, key, resource=RESOURCE)
    for path in (ORGS, ORGS + "/" + w.org, sa_path(w.org)):
        assert_forbidden(http.get(path, headers=h), path)
    # the unscoped key of the same account is not limited
    assert http.get(ORGS, headers=w.key.bearer).status_code == 200


# =============================================================================================
# 7. Secrecy: what was shown once is never shown again, logged, or stored in the clear
# =============================================================================================

class Recorder(Client):
    """A client that keeps every answer (status, headers, body) in order."""

    def __init__(self, base):
        super().__init__(base)
        self.answers = []

    def request(self, method, path, **kw):
        r = super().request(method, path, **kw)
        self.answers.append(("%s %s" % (method, path), r))
        return r


def test_secrets_are_never_shown_again_nor_logged(stack):
    need_private(stack)
    http = Recorder(stack.url)
    secrets = []  # (what, string, index of the answer that showed it)

    def shown(what, value):
        assert value
        secrets.append((what, value, len(http.answers) - 1))

    owner = new_user(http, admin_headers(http, stack), "secrecy")
    shown("owner access token", owner.tokens["access_token"])
    shown("owner refresh token", owner.tokens["refresh_token"])
    org = new_org(http, owner.h)
    sa = new_sa(http, owner.h, org)
    k1 = new_key(http, owner.h, org, sa, display_name="secrecy")

    def shown_key(name, key):
        shown(name + " secret", key.secret)
        shown(name + " random part", key.secret[:43])
        shown(name + " Basic value", key.basic["Authorization"].split(" ", 1)[1])

    shown_key("key 1", k1)
    me_ok(http, k1.bearer)
    me_ok(http, k1.basic)
    t1 = exchanged(http, k1, "basic")["access_token"]
    shown("token exchanged by Basic", t1)
    t2 = exchanged(http, k1, "form")["access_token"]
    shown("token exchanged by parameters", t2)
    me_ok(http, bearer(t1))
    r = http.post(k1.path + "/rotate", json={"grace": "1h"}, headers=owner.h)
    assert r.status_code == 201, r.text[:300]
    k2 = Key(r.json(), org, sa)
    shown_key("key 2 (rotated)", k2)
    me_ok(http, k2.bearer)
    me_ok(http, k1.bearer)  # within its grace
    wrong = secret_of(make_key_token(k2.id, rand62()))
    shown("a wrong secret", wrong)
    assert http.get(ME, headers={"Authorization": basic_value(k2.id, wrong)}).status_code == 401
    assert exchange(http, k2, "form", secret=wrong).status_code == 401
    # later answers: lists, the keys, /me, the revocations, the audit trail
    assert http.get(key_path(org, sa["name"]), headers=owner.h).status_code == 200
    assert http.get(ORGS + "/" + org + "/keys", headers=owner.h).status_code == 200
    for key in (k1, k2):
        assert http.get(key.path, headers=owner.h).status_code == 200
    assert http.get(sa_path(org, sa["name"]), headers=owner.h).status_code == 200
    assert_revoke_ok(revoke(http, k1.token, k2.basic))
    assert_revoke_ok(revoke(http, t2, k2.bearer))
    assert_bearer_refused(http.get(ME, headers=k1.bearer))
    assert_revoke_ok(revoke(http, owner.tokens["refresh_token"], owner.h))
    r = http.get(ORGS + "/" + org + "/audit-events", headers=admin_headers(http, stack))
    assert r.status_code in (200, 404), r.text[:300]

    for what, value, at in secrets:
        for label, r in http.answers[at + 1:]:
            assert value not in r.text, "%s shown again in the answer to %s" % (what, label)
            for k, v in r.headers.items():
                assert value not in v, "%s in header %s of the answer to %s" % (what, k, label)

    last_rid = http.answers[-1][1].headers["X-Request-Id"]
    time.sleep(1.5)  # let the workers write their log lines
    files = log_files(stack) + [stack.mariadb.log_file]
    leaks, logged = [], False
    for p in files:
        with open(p, "rb") as f:
            data = f.read()
        logged = logged or last_rid.encode() in data
        for what, value, _ in secrets:
            if value.encode() in data:
                leaks.append("%s in %s" % (what, p))
    # control: the files read are the ones the workers log their requests to
    assert logged, "the last request's log line is in none of %s" % files
    assert not leaks, "secrets in the logs:\n" + "\n".join(leaks)
    # SPEC §4: stored only as SHA-256 (the InnoDB files and the redo log of the lanyard database)
    db = stack.mariadb.datadir
    stored = [os.path.join(db, "ib_logfile0"), os.path.join(db, "ibdata1")]
    stored += [os.path.join(db, "lanyard", n) for n in os.listdir(os.path.join(db, "lanyard"))
               if n.endswith(".ibd")]
    rows = False
    for p in stored:
        with open(p, "rb") as f:
            data = f.read()
        rows = rows or (k2.id.encode() in data and sa["id"].encode() in data)
        for what, value, _ in secrets:
            if value.encode() in data:
                leaks.append("%s in %s" % (what, p))
    # control: the files read hold the rows written (the key id and the account id are clear)
    assert rows, "the rotated key's row is in none of %s" % stored
    assert not leaks, "secrets stored in the clear:\n" + "\n".join(leaks)
