"""The foundation, through both front ends (SPEC §3 conventions, §5.1 health,
§6 operation) and lanyardctl (SPEC §1)."""

import json
import os
import random
import re
import signal
import stat
import time
import zlib

import pytest

from conftest import need_private, wait_for
from harness import fcgi
from harness.lanyard import ListenWorker, write_secret
from harness.proc import children, pid_alive
from harness.stack import unique, unique_email

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}
OAUTH_KEYS = {"error", "error_description", "error_uri"}
SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
SIGNIN = "/api/auth/v1/signin"
TOKEN = "/api/auth/v1/token"


# --- assertions shared by the tests -------------------------------------------

def media_type(r):
    return r.headers.get("Content-Type", "").split(";")[0].strip().lower()


def assert_common_headers(r, path=""):
    rid = r.headers.get("X-Request-Id")
    assert rid and SANE_ID.match(rid), "X-Request-Id missing or not sane: %r" % rid
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    if path.startswith("/api/auth/v1/"):
        assert "no-store" in r.headers.get("Cache-Control", ""), \
            "every /api/auth/v1/* response carries Cache-Control: no-store"


def assert_problem(r, status, code, path=""):
    assert r.status_code == status, "want %d %s, got %d: %s" % (status, code, r.status_code,
                                                                 r.text[:500])
    assert media_type(r) == "application/problem+json", r.headers.get("Content-Type")
    body = r.json()
    extra = {"errors"} if code == "validation_failed" else set()
    assert set(body) == PROBLEM_KEYS | extra, "problem fields: %s" % r.text[:500]
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["code"] == code, r.text[:500]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert_common_headers(r, path)
    return body


def assert_oauth_error(r, status, error="invalid_request"):
    assert r.status_code == status, "want %d, got %d: %s" % (status, r.status_code, r.text[:500])
    assert media_type(r) == "application/json", r.headers.get("Content-Type")
    body = r.json()
    assert body.get("error") == error, body
    assert set(body) <= OAUTH_KEYS, "RFC 6749 §5.2 fields only: %s" % sorted(body)
    assert isinstance(body.get("error_description", ""), str)
    assert_common_headers(r, TOKEN)
    return body


def assert_health_ok(r):
    assert r.status_code == 200, r.text[:500]
    assert media_type(r) == "application/json"
    body = r.json()
    assert set(body) == {"status", "database", "version"}, sorted(body)
    assert body["status"] == "ok" and body["database"] == "ok"
    assert isinstance(body["version"], str) and body["version"]
    assert_common_headers(r)


B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def opaque_token(prefix):
    """A well-formed (right CRC-32 checksum, SPEC §4) but unknown token."""
    rnd = random.SystemRandom()
    body = "%s_%s" % (prefix, "".join(rnd.choice(B62) for _ in range(43)))
    n, crc = zlib.crc32(body.encode()), ""
    for _ in range(6):
        n, d = divmod(n, 62)
        crc = B62[d] + crc
    return body + crc


def health_ok(http):
    try:
        r = http.get("/api/health", timeout=5)
    except Exception:
        return False
    return r.status_code == 200


# --- health, routing, errors ---------------------------------------------------

def test_health(stack, http):
    assert_health_ok(http.get("/api/health"))


@pytest.mark.parametrize("path", ["/api/nope", "/api/org/v1/no-such-thing",
                                  "/api/auth/v1/no-such-thing", "/api/healthz",
                                  "/api/health/extra"])
def test_unknown_path_is_problem_404(stack, http, path):
    body = assert_problem(http.get(path), 404, "not_found", path)
    assert body["title"] == "Not Found"


@pytest.mark.parametrize("method", ["DELETE", "POST", "PUT", "PATCH"])
def test_method_not_allowed_has_allow(stack, http, method):
    r = http.request(method, "/api/health", headers={"Content-Type": "application/json"},
                     data=b"{}" if method != "DELETE" else None)
    assert_problem(r, 405, "method_not_allowed")
    allow = [m.strip() for m in r.headers.get("Allow", "").split(",")]
    assert "GET" in allow and method not in allow, "Allow: %r" % r.headers.get("Allow")


def test_oversized_json_body_is_413(stack, http):
    body = b'{"email":"a@example.com","password":"' + b"x" * 70000 + b'"}'
    r = http.post(SIGNIN, data=body, headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload_too_large", SIGNIN)


def test_oversized_oauth_body_is_413_in_oauth_form(stack, http):
    body = b"grant_type=refresh_token&refresh_token=" + b"x" * 70000
    r = http.post(TOKEN, data=body,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_oauth_error(r, 413, "invalid_request")


def test_oversized_chunked_body_is_413(stack, http):
    """SPEC §3: a body larger than server.max_body (64 KiB here) is 413, also
    when it comes chunked, without a Content-Length (every front end here
    passes chunked bodies on)."""
    def chunks():
        for _ in range(70):
            yield b"x" * 1000
    r = http.post(SIGNIN, data=chunks(), headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload_too_large", SIGNIN)


@pytest.mark.parametrize("ctype", ["text/plain", "application/json; charset=latin1",
                                   "application/json; charset=iso-8859-1",
                                   "application/x-www-form-urlencoded", "application/jsonx"])
def test_unsupported_media_type(stack, http, ctype):
    r = http.post(SIGNIN, data=json.dumps({"email": "a@example.com", "password": "x" * 12}),
                  headers={"Content-Type": ctype})
    assert_problem(r, 415, "unsupported_media_type", SIGNIN)


def test_oauth_unsupported_media_type_in_oauth_form(stack, http):
    r = http.post(TOKEN, data="grant_type=refresh_token", headers={"Content-Type": "text/plain"})
    assert_oauth_error(r, 415, "invalid_request")


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8",
                                   "application/json;charset=UTF-8"])
def test_json_with_utf8_charset_is_accepted(stack, http, ctype):
    r = http.post(SIGNIN, headers={"Content-Type": ctype},
                  data=json.dumps({"email": unique_email("nobody"),
                                   "password": "not-the-password-1"}))
    assert r.status_code not in (400, 415), r.text[:300]
    assert_problem(r, 401, "unauthenticated", SIGNIN)


@pytest.mark.parametrize("data", [b'{"email": ', b"not json", b"{}}", b'{"a":1,}',
                                  b"\xff\xfe{}", b"[1, 2", b'"unterminated'])
def test_malformed_json_is_400_invalid_json(stack, http, data):
    r = http.post(SIGNIN, data=data, headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "invalid_json", SIGNIN)


def test_empty_json_body_is_400_invalid_json(stack, http):
    """SPEC §3: malformed JSON is 400 invalid_json. An empty body that says it
    is JSON is no JSON text at all (RFC 8259 needs a value), so it is malformed,
    not a valid document with missing fields (doc/decisions.md, "Empty bodies")."""
    r = http.post(SIGNIN, data=b"", headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "invalid_json", SIGNIN)


# --- X-Request-Id --------------------------------------------------------------

@pytest.mark.parametrize("rid", ["abc-123._XYZ", "a", "R" * 128])
def test_sane_request_id_is_echoed(stack, http, rid):
    r = http.get("/api/health", headers={"X-Request-Id": rid})
    assert r.headers.get("X-Request-Id") == rid
    r = http.get("/api/nope", headers={"X-Request-Id": rid})
    assert r.headers.get("X-Request-Id") == rid


@pytest.mark.parametrize("rid", ["R" * 129, "a b", "abc<script>", "a/b", "a;b", "ü-id",
                                 "x" * 5000, "a\tb"])
def test_insane_request_id_is_replaced(stack, http, rid):
    r = http.get("/api/health", headers={"X-Request-Id": rid.encode("utf-8")})
    got = r.headers.get("X-Request-Id")
    assert got and got != rid and SANE_ID.match(got), got


def test_request_ids_are_fresh(stack, http):
    ids = {http.get("/api/health").headers.get("X-Request-Id") for _ in range(5)}
    assert len(ids) == 5 and all(SANE_ID.match(i) for i in ids)


# --- the front end passes what the worker needs -------------------------------

def test_authorization_header_reaches_the_worker(stack, http):
    """CGIPassAuth On (Apache) / HTTP_AUTHORIZATION (lighttpd): a rejected token
    is told apart from no credential at all (RFC 6750)."""
    r = http.get("/api/org/v1/me")
    assert r.status_code == 401, r.text[:300]
    assert 'realm="lanyard"' in r.headers.get("WWW-Authenticate", "")
    assert "invalid_token" not in r.headers.get("WWW-Authenticate", "")
    r = http.get("/api/org/v1/me", headers={"Authorization": "Bearer lya_notatoken"})
    assert r.status_code == 401, r.text[:300]
    assert 'error="invalid_token"' in r.headers.get("WWW-Authenticate", "")


# --- the database goes away and comes back --------------------------------------

def test_database_down_is_503_then_recovers_without_restart(stack, http):
    need_private(stack)
    for _ in range(6):
        assert_health_ok(http.get("/api/health"))
    pids = stack.worker_pids()
    assert pids, "no worker processes found"
    stack.mariadb.stop()
    try:
        for _ in range(6):  # reach every worker
            r = http.get("/api/health")
            assert r.status_code == 503, r.text[:300]
            assert r.json().get("database") == "unavailable"
            assert int(r.headers.get("Retry-After", "0")) >= 1
            assert_common_headers(r)
        r = http.post(SIGNIN, json={"email": unique_email(), "password": "x" * 16})
        assert_problem(r, 503, "unavailable", SIGNIN)
        assert int(r.headers.get("Retry-After", "0")) >= 1
        # well formed (right checksum), so only the database can tell
        r = http.post(TOKEN, data={"grant_type": "refresh_token",
                                   "refresh_token": opaque_token("lyr")})
        assert r.status_code == 503 and "error" in r.json(), r.text[:300]
        assert int(r.headers.get("Retry-After", "0")) >= 1
    finally:
        stack.mariadb.start()
    assert wait_for(lambda: all(health_ok(http) for _ in range(6)), timeout=30), \
        "health did not come back after MariaDB restarted"
    assert stack.worker_pids() == pids, "workers were restarted"


# --- malformed input never crashes anything -----------------------------------

RAW_CASES = {
    "garbage request line": b"GARBAGE\r\n\r\n",
    "binary junk": bytes(random.Random(7).randrange(256) for _ in range(2048)) + b"\r\n\r\n",
    "bad percent-encoding": b"GET /api/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "NUL in path": b"GET /api/%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "NUL after route": b"GET /api/health%00x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "raw high bytes in path": b"GET /api/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "bad query encoding": b"GET /api/health?%zz=%&a=%ff HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n\r\n",
    "dot segments": b"GET /api/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "huge header": b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000
                   + b"\r\nConnection: close\r\n\r\n",
    "many headers": b"GET /api/health HTTP/1.1\r\nHost: x\r\n"
                    + b"".join(b"X-H%d: v\r\n" % i for i in range(300))
                    + b"Connection: close\r\n\r\n",
    "long path": b"GET /api/" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n"
                 b"Connection: close\r\n\r\n",
    "bad content-length": b"POST /api/auth/v1/signin HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\nContent-Length: abc\r\n"
                          b"Connection: close\r\n\r\n{}",
    "invalid UTF-8 JSON": b"POST /api/auth/v1/signin HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 5\r\n"
                          b"Connection: close\r\n\r\n\xff\xfe\x00\x01\x02",
    "deep JSON": b"POST /api/auth/v1/signin HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/json\r\nContent-Length: 20000\r\nConnection: close\r\n\r\n"
                 + b"[" * 20000,
    "huge bearer": b"GET /api/org/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                   + b"A" * 9000 + b"\r\nConnection: close\r\n\r\n",
    "bad basic": b"GET /api/org/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!*\r\n"
                 b"Connection: close\r\n\r\n",
    "basic without colon": b"GET /api/org/v1/me HTTP/1.1\r\nHost: x\r\n"
                           b"Authorization: Basic YWJj\r\nConnection: close\r\n\r\n",
    "short body": b"POST /api/auth/v1/signin HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  b"application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{",
}


def test_malformed_http_never_500_and_workers_survive(stack, http):
    need_private(stack)
    assert_health_ok(http.get("/api/health"))
    pids = stack.worker_pids()
    failures = []
    for name, data in RAW_CASES.items():
        timeout = 3 if name == "short body" else 15
        status, _, body = http.raw(data, timeout=timeout)
        if status is not None and status >= 500:
            failures.append("%s: %d %r" % (name, status, body[:200]))
    assert not failures, "\n".join(failures)
    assert_health_ok(http.get("/api/health"))
    assert stack.worker_pids() == pids, "a worker died or was restarted"


# --- raw FastCGI to the --listen port (Apache mode) ------------------------------

def _fcgi_cases():
    rnd = random.Random(1234)
    return {
        "random garbage": bytes(rnd.randrange(256) for _ in range(4096)),
        "truncated record": fcgi.HEADER.pack(1, fcgi.BEGIN_REQUEST, 1, 8, 0) + b"\0\1\0",
        "huge content length": fcgi.HEADER.pack(1, fcgi.PARAMS, 1, 65535, 255) + b"A" * 100,
        "wrong version": fcgi.record(fcgi.BEGIN_REQUEST, 1, b"\0\1\0\0\0\0\0\0", version=9),
        "unknown role": fcgi.begin_request(role=3) + fcgi.stream(fcgi.PARAMS, 1, b"")
                        + fcgi.stream(fcgi.STDIN, 1, b""),
        "params before begin": fcgi.stream(fcgi.PARAMS, 1, fcgi.encode_params({"A": "B"})),
        "params length bomb": fcgi.begin_request() + fcgi.record(
            fcgi.PARAMS, 1, b"\xff\xff\xff\xff\x7f\xff\xff\xff" + b"x" * 64),
        "no REQUEST_METHOD": fcgi.begin_request() + fcgi.stream(fcgi.PARAMS, 1, b"")
                             + fcgi.stream(fcgi.STDIN, 1, b""),
        "CONTENT_LENGTH lies": fcgi.begin_request() + fcgi.stream(fcgi.PARAMS, 1, fcgi.encode_params(
            fcgi.cgi_params("POST", SIGNIN, b"", "application/json")
            | {"CONTENT_LENGTH": "99999999999999999999"})) + fcgi.stream(fcgi.STDIN, 1, b"{}"),
        "negative CONTENT_LENGTH": fcgi.begin_request() + fcgi.stream(
            fcgi.PARAMS, 1, fcgi.encode_params(fcgi.cgi_params("POST", SIGNIN, b"",
                                                               "application/json")
                                               | {"CONTENT_LENGTH": "-5"}))
            + fcgi.stream(fcgi.STDIN, 1, b"{}"),
        "missing REQUEST_URI": fcgi.begin_request() + fcgi.stream(fcgi.PARAMS, 1, fcgi.encode_params(
            {"REQUEST_METHOD": "GET"})) + fcgi.stream(fcgi.STDIN, 1, b""),
        "get values": fcgi.record(fcgi.GET_VALUES, 0, fcgi.encode_params(
            {"FCGI_MAX_CONNS": "", "FCGI_MPXS_CONNS": ""})),
    }


@pytest.mark.stacks("apache-jwt")
@pytest.mark.parametrize("case", sorted(_fcgi_cases()))
def test_raw_fastcgi_does_not_kill_the_parent(stack, http, case):
    need_private(stack)
    parent = stack.listen.pid
    try:
        with fcgi.connect(stack.listen.addr, timeout=3) as s:
            s.sendall(_fcgi_cases()[case])
            try:
                s.settimeout(2)
                while s.recv(65536):
                    pass
            except OSError:
                pass
    except OSError:
        pass
    assert pid_alive(parent), "the prefork parent died"
    assert wait_for(lambda: health_ok(http), timeout=10), "health does not answer 200"
    assert wait_for(lambda: len(stack.worker_pids()) == 2, timeout=10), stack.worker_pids()
    assert pid_alive(parent)


# --- lanyardctl -------------------------------------------------------------------

def test_config_check_prints_effective_config_without_secrets(e2e_env):
    env = e2e_env
    r = env.build.ctl(env.ctl_config, "config", "check")
    assert r.returncode == 0, r.stderr
    with open(env.db_password_file) as f:
        secret = f.read().strip()
    assert secret not in r.stdout and secret not in r.stderr
    assert env.db_password_file in r.stdout, "the *_file path is printed"
    for key in ("server:", "database:", "tokens:", "api_keys:", "accounts:", "security:",
                "log:", "signin_max_failures", "max_per_account"):
        assert key in r.stdout, "effective config lacks %s (defaults filled in)" % key


def test_config_check_with_env_var(e2e_env):
    env = e2e_env
    r = env.build.ctl(None, "config", "check", env={"LANYARD_CONFIG": env.ctl_config})
    assert r.returncode == 0, r.stderr


BROKEN = [
    # (description, edit of the good config, the key whose line is reported, columns accepted)
    ("unknown key", ("server:\n", "server:\n  bogus_key: 1\n"), "  bogus_key: 1", (3,)),
    ("wrong type", ("  max_body: 65536\n", "  max_body: lots\n"), "  max_body: lots", (3, 13)),
    ("out of range", ("  max_body: 65536\n", "  max_body: -1\n"), "  max_body: -1", (3, 13)),
    ("bad duration", ("security:\n", "security:\n  signin_window: 15 minutes\n"),
     "  signin_window: 15 minutes", (3, 18)),
]


@pytest.mark.parametrize("desc,edit,bad_line,cols", BROKEN, ids=[b[0] for b in BROKEN])
def test_config_check_reports_file_line_col(e2e_env, tmp_path, desc, edit, bad_line, cols):
    env = e2e_env
    with open(env.ctl_config) as f:
        good = f.read()
    assert good.count(edit[0]) == 1
    text = good.replace(edit[0], edit[1])
    line = text.splitlines().index(bad_line) + 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    r = env.build.ctl(str(bad), "config", "check")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    first = r.stderr.splitlines()[0] if r.stderr else ""
    m = re.match(r"^(.+?):(\d+):(\d+): \S", first)
    assert m, "stderr is not FILE:LINE:COL: message: %r" % r.stderr
    assert m.group(1) == str(bad) and int(m.group(2)) == line, (line, first)
    assert int(m.group(3)) in cols, "column (1-based) of the offending node: %s" % first
    assert len(r.stderr.strip().splitlines()) == 1, "one line, no noise: %r" % r.stderr


def test_config_unknown_mode_value(e2e_env, tmp_path):
    env = e2e_env
    with open(env.ctl_config) as f:
        text = f.read().replace("mode: jwt", "mode: paseto")
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    r = env.build.ctl(str(p), "config", "check")
    assert r.returncode == 1
    assert re.match(r"^%s:\d+:\d+: " % re.escape(str(p)), r.stderr), r.stderr


def test_worker_refuses_invalid_config(e2e_env, tmp_path):
    env = e2e_env
    p = tmp_path / "bad.yaml"
    p.write_text("server:\n  nope: 1\n")
    import subprocess
    r = subprocess.run([env.build.lanyard, "--config", str(p), "--listen", "127.0.0.1:1",
                        "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=20, env=env.build.env())
    assert r.returncode != 0
    assert re.match(r"^%s:2:3: " % re.escape(str(p)), r.stderr), r.stderr


@pytest.mark.parametrize("args", [["no-such-command"], ["--no-such-option", "migrate"],
                                  ["migrate", "--no-such-option"], []])
def test_ctl_bad_usage_exits_2(e2e_env, args):
    r = e2e_env.build.ctl(e2e_env.ctl_config, *args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.strip(), "usage errors go to stderr"


def test_migrate_is_idempotent_and_status_lists_applied(e2e_env):
    env = e2e_env
    for _ in range(2):
        r = env.build.ctl(env.ctl_config, "migrate")
        assert r.returncode == 0, r.stderr
    r = env.build.ctl(env.ctl_config, "migrate", "--status")
    assert r.returncode == 0, r.stderr
    names = sorted(n[:-4] for n in os.listdir(os.path.join(env.build.srcdir, "schema"))
                   if n.endswith(".sql"))
    assert names, "no schema files"
    for n in names:
        line = [ln for ln in r.stdout.splitlines() if n in ln]
        assert line, "%s not listed in migrate --status:\n%s" % (n, r.stdout)
        assert "pending" not in line[0].lower(), line[0]
    rows = env.mariadb.sql("SELECT COUNT(*) FROM lanyard.schema_migrations")
    assert int(rows[0][0]) == len(names)


def test_bootstrap_twice_fails(e2e_env, tmp_path):
    env = e2e_env
    pw = tmp_path / "pw"
    write_secret(str(pw), "another-long-password-1")
    r = env.build.ctl(env.ctl_config, "bootstrap", "--email", unique_email("admin2"),
                      "--password-file", str(pw))
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_user_create(e2e_env, tmp_path):
    env = e2e_env
    pw = tmp_path / "pw"
    write_secret(str(pw), "a-long-enough-password")
    email = unique_email("ctl")
    r = env.build.ctl(env.ctl_config, "user", "create", "--email", email, "--password-file", str(pw))
    assert r.returncode == 0, r.stderr
    r = env.build.ctl(env.ctl_config, "user", "create", "--email", email.upper(),
                      "--password-file", str(pw))
    assert r.returncode == 1, "e-mails are unique regardless of case: %s" % r.stderr


def test_keygen(e2e_env, tmp_path):
    out = tmp_path / "key.pem"
    r = e2e_env.build.ctl(None, "keygen", "--alg", "EdDSA", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert out.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_keygen_hs256(e2e_env, tmp_path):
    import base64
    out = tmp_path / "hs.key"
    r = e2e_env.build.ctl(None, "keygen", "--alg", "HS256", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert len(base64.b64decode(out.read_text().strip())) >= 32


def test_keygen_unknown_alg_exits_2(e2e_env, tmp_path):
    out = tmp_path / "k"
    r = e2e_env.build.ctl(None, "keygen", "--alg", "nope", "--out", str(out))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert not out.exists()


# --- the prefork parent and SIGTERM (a private worker each) -------------------

@pytest.fixture
def private_worker(e2e_env, tmp_path):
    cfg = os.path.join(str(tmp_path), "lanyard.yaml")
    e2e_env.config(cfg, public_url="http://127.0.0.1:8080", mode="jwt")
    workers = []

    def make(n):
        w = ListenWorker(e2e_env.build, cfg, str(tmp_path), workers=n,
                         name=unique("private")).start()
        workers.append(w)
        return w
    yield make
    for w in workers:
        w.stop()


def test_sigterm_parent_finishes_inflight_request(private_worker):
    w = private_worker(1)
    body = json.dumps({"email": unique_email("term"), "password": "wrong-password-123"}).encode()
    with fcgi.connect(w.addr, timeout=15) as s:
        # a first request on a kept connection proves the child holds it
        s.sendall(fcgi.begin_request(flags=fcgi.KEEP_CONN)
                  + fcgi.stream(fcgi.PARAMS, 1, fcgi.encode_params(
                      fcgi.cgi_params("GET", "/api/health")))
                  + fcgi.stream(fcgi.STDIN, 1, b""))
        assert fcgi.read_response(s)[0] == 200
        params = fcgi.cgi_params("POST", SIGNIN, body, "application/json")
        s.sendall(fcgi.begin_request() + fcgi.stream(fcgi.PARAMS, 1, fcgi.encode_params(params))
                  + fcgi.record(fcgi.STDIN, 1, body[:10]))
        time.sleep(1.0)  # the child has the request and waits for the rest of the body
        os.kill(w.pid, signal.SIGTERM)
        time.sleep(0.5)
        s.sendall(fcgi.record(fcgi.STDIN, 1, body[10:]) + fcgi.record(fcgi.STDIN, 1))
        status, headers, out, _ = fcgi.read_response(s)
    assert status == 401, (status, out[:300])
    assert json.loads(out)["code"] == "unauthenticated"
    rc = w.server.proc.wait(10)
    assert rc == 0, "the parent exits cleanly on SIGTERM (status %s)" % rc


def test_sigterm_idle_parent_exits_cleanly_with_its_children(private_worker):
    w = private_worker(2)
    kids = w.worker_pids()
    assert len(kids) == 2
    t0 = time.monotonic()
    os.kill(w.pid, signal.SIGTERM)
    rc = w.server.proc.wait(10)
    assert rc == 0
    assert time.monotonic() - t0 < 5
    assert wait_for(lambda: not any(pid_alive(k) for k in kids), timeout=5), "children left over"


def test_crashed_child_is_replaced(private_worker):
    w = private_worker(2)
    kids = w.worker_pids()
    os.kill(kids[0], signal.SIGKILL)
    assert wait_for(lambda: len(w.worker_pids()) == 2 and kids[0] not in w.worker_pids(),
                    timeout=10), w.worker_pids()
    assert pid_alive(w.pid)
    status, _, _, _ = fcgi.request(w.addr, "GET", "/api/health")
    assert status == 200


def test_sigterm_to_a_child_is_replaced(private_worker):
    """SIGTERM ends only the child it is sent to (SPEC §6); the prefork parent
    keeps its N workers (SPEC §1, doc/design.md: it replaces any child that
    dies) and goes on serving. The parent exiting would take the service down."""
    w = private_worker(2)
    kids = w.worker_pids()
    os.kill(kids[0], signal.SIGTERM)
    ok = wait_for(lambda: len(w.worker_pids()) == 2 and kids[0] not in w.worker_pids(),
                  timeout=10)
    assert ok, "child not replaced: %s (parent alive: %s)" % (w.worker_pids(), pid_alive(w.pid))
    assert pid_alive(w.pid), "the parent exited when one child got SIGTERM"
    assert kids[1] in w.worker_pids(), "the other child was not left alone"
    status, _, _, _ = fcgi.request(w.addr, "GET", "/api/health")
    assert status == 200


def test_new_worker_still_works_after_sigterm(private_worker):
    w = private_worker(1)
    os.kill(w.pid, signal.SIGTERM)
    w.server.proc.wait(10)
    w2 = private_worker(2)
    status, _, body, _ = fcgi.request(w2.addr, "GET", "/api/health")
    assert status == 200, body
    assert children(w2.pid)
