"""Secrets stay secret (issue 18; SPEC §3 "no error ever reveals ... a
secret", §5.12 "never a secret, token or password in an event").

Every password, secret and token the e2e run sends or receives over
requests is registered here (`observe`, hooked onto requests.Session.send
by conftest beside the OpenAPI check). At the end of the session
(`report`) every log line the servers wrote (web-server error and access
logs, worker and `--listen` logs, MariaDB's), every stored audit event and
every error body the run received are searched for any of them; a hit is
reported by where it is (file:line, audit event id, error response), never
by the secret itself.

Only strings of at least MIN_LEN characters, MIN_DISTINCT of them different,
are registered, so short values that occur naturally cannot match by chance,
nor can the filler a test sends to probe a limit ("xxxx…", which is a path or
a resource elsewhere in the logs); the run's passwords, keys and tokens are
all longer and more varied.
"""

import base64
import json
import os
from urllib.parse import parse_qsl

MIN_LEN = 16
MIN_DISTINCT = 8
SECRET_FIELDS = {"password", "current_password", "new_password", "client_secret",
                 "refresh_token", "access_token", "secret", "token", "device_code",
                 "subject_token", "id_token"}
LOG_SUFFIXES = (".log", ".out")
MAX_ERROR_BODY = 8192

SECRETS = {}        # secret -> what it was (for the count only; never printed)
ERROR_BODIES = []   # (method, url, status, body text)


def add(value, kind):
    if isinstance(value, str) and len(value) >= MIN_LEN and len(set(value)) >= MIN_DISTINCT:
        SECRETS.setdefault(value, kind)


def _fields(obj, kind):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in SECRET_FIELDS:
                add(v, "%s %s" % (kind, k))
            _fields(v, kind)
    elif isinstance(obj, list):
        for v in obj:
            _fields(v, kind)


def _body(data, content_type, kind):
    if not data or not isinstance(data, (bytes, str)):
        return  # nothing, or a streamed body (a generator) that was sent as it was read
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if "json" in (content_type or ""):
        try:
            _fields(json.loads(data), kind)
        except (ValueError, RecursionError):  # the hostile tests send such bodies
            pass
    elif "x-www-form-urlencoded" in (content_type or ""):
        _fields(dict(parse_qsl(data)), kind)


def _authorization(value):
    scheme, _, cred = (value or "").partition(" ")
    if scheme.lower() == "bearer":
        add(cred.strip(), "bearer credential")
    elif scheme.lower() == "basic":
        add(cred.strip(), "basic credential")
        try:
            user, _, secret = base64.b64decode(cred.strip()).decode().partition(":")
        except ValueError:
            return
        add(secret, "basic secret")


def observe(request, response):
    """Register what one exchange carried; keep its body if it is an error."""
    _authorization(request.headers.get("Authorization"))
    _body(request.body, request.headers.get("Content-Type"), "request")
    ctype = response.headers.get("Content-Type", "")
    _body(response.content, ctype, "response")
    for cookie in response.cookies:
        add(cookie.value, "cookie")
    if response.status_code >= 400:
        ERROR_BODIES.append((request.method, request.url.split("?", 1)[0], response.status_code,
                             response.content[:MAX_ERROR_BODY].decode("utf-8", "replace")))


class _Finder:
    """Finds any registered secret in a text: each is looked up by its first
    MIN_LEN characters, so a line costs one set lookup per position."""

    def __init__(self, secrets):
        self.by_prefix = {}
        for s in secrets:
            self.by_prefix.setdefault(s[:MIN_LEN], []).append(s)

    def find(self, text):
        get = self.by_prefix.get
        for i in range(len(text) - MIN_LEN + 1):
            cands = get(text[i:i + MIN_LEN])
            if cands and any(text.startswith(c, i) for c in cands):
                return True
        return False


def log_files(workdir):
    for root, dirs, files in os.walk(workdir):
        # the database's own files hold the (hashed) store, not log lines
        dirs[:] = [d for d in dirs if d not in ("db", "data")]
        for name in files:
            if name.endswith(LOG_SUFFIXES) or "log" in name.split(".")[0]:
                yield os.path.join(root, name)


def audit_rows(env):
    try:
        return env.mariadb.sql("SELECT * FROM lanyard.audit_events")
    except Exception as e:  # noqa: BLE001 (reported, not hidden)
        return [["(audit table not readable: %s)" % str(e)[:200]]]


def report(env):
    """A list of where secrets were found (empty: none), and what was searched."""
    finder = _Finder(SECRETS)
    hits = []
    n_lines = 0
    for path in log_files(env.workdir):
        try:
            with open(path, errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    n_lines += 1
                    if finder.find(line):
                        hits.append("%s:%d" % (os.path.relpath(path, env.workdir), lineno))
        except OSError:
            continue
    rows = audit_rows(env)
    for row in rows:
        if finder.find("\t".join(row)):
            hits.append("audit event id %s" % row[0])
    for method, url, status, body in ERROR_BODIES:
        if finder.find(body):
            hits.append("error body of %s %s (%d)" % (method, url, status))
    searched = "%d secrets; %d log lines, %d audit events, %d error bodies" % (
        len(SECRETS), n_lines, len(rows), len(ERROR_BODIES))
    return hits, searched
