"""pytest wiring for the end-to-end suite.

Private servers by default: one MariaDB per session, and one front end per
(front end, token mode): lighttpd-jwt, lighttpd-opaque, apache-jwt,
apache-opaque (mod_proxy_fcgi to `lanyard --listen`), fcgid-jwt,
fcgid-opaque (Apache mod_fcgid spawning the workers). `--lanyard-url URL`
(or LANYARD_E2E_URL) targets a service someone else runs instead; tests that
need the private parts are skipped.

Environment: LANYARD_BUILDDIR (programs; default: the current directory),
LANYARD_SRCDIR (schema, etc/; default: two levels above this file),
LANYARD_E2E_WORKDIR (default BUILDDIR/tests/e2e/.work), LANYARD_E2E_STACKS
(comma-separated ids to run, e.g. "lighttpd-jwt").
"""

import collections
import os
import re
import signal
import socket
import sys
import time

import pytest
import requests

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, E2E_DIR)

from harness import stack as hs  # noqa: E402
from harness.proc import stop_all  # noqa: E402
import openapi_check  # noqa: E402
import secrets_check  # noqa: E402

# Issue 20: every response a test gets is checked against doc/openapi.json.
OPENAPI_MISMATCHES = []
_send = requests.Session.send


def _checked_send(self, request, **kw):
    r = _send(self, request, **kw)
    why = openapi_check.check(request.method, request.url, r.status_code,
                              {k.lower(): v for k, v in r.headers.items()}, r.content)
    if why is not None:
        OPENAPI_MISMATCHES.append(why)
        raise AssertionError("response not as doc/openapi.json documents it: " + why)
    return r


requests.Session.send = _checked_send

# Issue 18: every secret the run sends or receives is registered, and none may
# appear in a log line, an audit event or an error body (secrets_check.report,
# run when the session's servers are done). A separate hook: it wraps whatever
# send is installed above.
_send_unregistered = requests.Session.send


def _secret_registering_send(self, request, **kw):
    r = _send_unregistered(self, request, **kw)
    secrets_check.observe(request, r)
    return r


requests.Session.send = _secret_registering_send

ALL_STACKS = ["%s-%s" % (f, m) for f in hs.FRONTENDS for m in hs.MODES]
TIMEOUT = 15


def pytest_addoption(parser):
    g = parser.getgroup("lanyard")
    g.addoption("--lanyard-url", default=os.environ.get("LANYARD_E2E_URL"),
                help="test a running service at this URL instead of private servers")
    g.addoption("--builddir", default=os.environ.get("LANYARD_BUILDDIR", os.getcwd()))
    g.addoption("--srcdir", default=os.environ.get(
        "LANYARD_SRCDIR", os.path.dirname(os.path.dirname(E2E_DIR))))
    g.addoption("--stacks", default=os.environ.get("LANYARD_E2E_STACKS", ""),
                help="comma-separated stack ids to run (default: all)")


def _interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def pytest_configure(config):
    # A run stopped with SIGTERM (a CI timeout, kill PID) still stops its servers:
    # pytest tears the fixtures down on KeyboardInterrupt, and atexit runs stop_all.
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)
    config.addinivalue_line("markers", "stacks(*ids): run this test only on these stacks")
    config.addinivalue_line("markers", "neutral: the API's logic, which no front end changes: "
                            "on LANYARD_E2E_NEUTRAL_STACKS only, when that is set")


def _neutral_stacks():
    """LANYARD_E2E_NEUTRAL_STACKS: where the tests marked neutral run (unset: everywhere)."""
    v = os.environ.get("LANYARD_E2E_NEUTRAL_STACKS", "")
    return [s.strip() for s in v.split(",") if s.strip()]


def _enabled_stacks(config):
    if config.getoption("--lanyard-url"):
        return ["external"]
    want = [s.strip() for s in config.getoption("--stacks").split(",") if s.strip()]
    return [s for s in ALL_STACKS if not want or s in want]


def pytest_generate_tests(metafunc):
    if "stack" not in metafunc.fixturenames:
        return
    ids = _enabled_stacks(metafunc.config)
    marker = metafunc.definition.get_closest_marker("stacks")
    if marker:
        unknown = [a for a in marker.args if a not in ALL_STACKS]
        if unknown:
            raise pytest.UsageError("%s: @pytest.mark.stacks names unknown stacks %s (known: %s)"
                                    % (metafunc.definition.nodeid, unknown, ", ".join(ALL_STACKS)))
    if marker and ids != ["external"]:
        ids = [i for i in ids if i in marker.args]
    neutral = _neutral_stacks()
    if neutral and ids != ["external"] and metafunc.definition.get_closest_marker("neutral"):
        # Only narrowing: a test whose own stacks are none of these keeps its own.
        ids = [i for i in ids if i in neutral] or ids
    if not ids:
        # Only the stacks LANYARD_E2E_STACKS chose run: the others' tests are
        # deselected (pytest_collection_modifyitems), not skipped.
        ids = [pytest.param(NOT_SELECTED, marks=pytest.mark.skip(reason="stack not enabled"))]
    metafunc.parametrize("stack", ids, indirect=True, scope="session")


NOT_SELECTED = "not-selected"


def pytest_collection_modifyitems(config, items):
    drop = [i for i in items if _item_stack(i) == NOT_SELECTED]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [i for i in items if _item_stack(i) != NOT_SELECTED]


def _item_stack(item):
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("stack") if callspec else None


# --- session fixtures ---------------------------------------------------------

@pytest.fixture(scope="session")
def e2e_env(request):
    """MariaDB started, schema migrated, the administrator bootstrapped."""
    cfg = request.config
    if cfg.getoption("--lanyard-url"):
        pytest.skip("needs the private servers (an external URL is being tested)")
    env = hs.Env(cfg.getoption("--builddir"), cfg.getoption("--srcdir"))
    missing = env.build.missing()
    if missing:
        pytest.fail("programs not built: %s (LANYARD_BUILDDIR=%s)" % (", ".join(missing),
                                                                       env.build.builddir),
                    pytrace=False)
    cfg._lanyard_env = env
    env.clear_sanitizer_logs()
    request.addfinalizer(lambda: _fail_on_sanitizer_logs(env))
    request.addfinalizer(env.close)
    env.start_database()
    env.prepare()
    # after every stack's teardown, before the database stops (finalizers run last first)
    request.addfinalizer(lambda: _fail_on_leaked_secrets(env))
    return env


def _fail_on_leaked_secrets(env):
    """Issue 18: no registered secret in any log line, audit event or error body."""
    hits, searched = secrets_check.report(env)
    print("secrets-check: searched %s: %d hits" % (searched, len(hits)))
    if hits:
        pytest.fail("a password, secret or token of this run appears in:\n  " +
                    "\n  ".join(hits[:100]), pytrace=False)


@pytest.fixture(scope="session")
def stack(request):
    if request.param == "external":
        yield hs.ExternalStack(request.config.getoption("--lanyard-url"),
                               admin_password=os.environ.get("LANYARD_E2E_ADMIN_PASSWORD"))
        return
    env = request.getfixturevalue("e2e_env")
    frontend, mode = request.param.split("-")
    try:
        s = env.stack(frontend, mode)
    except hs.NotReachable as e:
        # never a skip: a stack that cannot run where the private servers can
        # is a broken harness or machine, and the run must say so
        pytest.fail("stack %s cannot run: %s" % (request.param, e), pytrace=False)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def idp(request, e2e_env):
    """The OpenID Connect provider of the SSO tests (doc/sso.md): one private
    Glewlwyd for the session, behind its tampering forwarder (transparent
    unless a test says otherwise)."""
    from harness import glewlwyd as hg
    if not hg.available():
        pytest.fail("glewlwyd is not installed (apt-get install glewlwyd)", pytrace=False)
    provider = hg.Glewlwyd(os.path.join(e2e_env.workdir, "glewlwyd")).start()
    request.addfinalizer(provider.stop)
    return provider


def need_private(stack):
    if stack.external:
        pytest.skip("needs the private servers (an external URL is being tested)")


@pytest.fixture
def http(stack):
    return Client(stack.url)


# --- HTTP helpers ---------------------------------------------------------------

class Client:
    """requests with the base URL and a timeout on every call."""

    def __init__(self, base):
        self.base = base
        self.s = requests.Session()

    def request(self, method, path, **kw):
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.s.request(method, self.base + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    @property
    def port(self):
        return int(self.base.rsplit(":", 1)[1].split("/")[0])

    def raw(self, data, timeout=TIMEOUT):
        """Send raw bytes; return (status or None, header dict, body bytes)."""
        host = self.base.split("//", 1)[1].split("/")[0].rsplit(":", 1)[0]
        with socket.create_connection((host, self.port), timeout=timeout) as s:
            try:
                s.sendall(data)
            except OSError:
                pass
            buf = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                    if _complete(buf):
                        break
            except OSError:
                pass
        status, headers, body = _parse_raw(buf)
        line = data.split(b"\r\n", 1)[0].decode("latin-1").split()
        if status is not None and len(line) >= 2 and line[1].startswith("/"):
            why = openapi_check.check(line[0], line[1], status, headers, body)
            assert why is None, "response not as doc/openapi.json documents it: " + why
        return status, headers, body


def _complete(buf):
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            try:
                return len(body) >= int(v.strip())
            except ValueError:
                return False
    return False


def _parse_raw(buf):
    if not buf.startswith(b"HTTP/"):
        return None, {}, buf
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    return status, headers, body


def _dechunk(body):
    """The body of a chunked answer (Apache chunks its own error pages), as far as it came."""
    out = b""
    while True:
        size_line, sep, rest = body.partition(b"\r\n")
        try:
            n = int(size_line.split(b";")[0].strip(), 16)
        except ValueError:
            return out
        if not sep or n == 0:
            return out
        out += rest[:n]
        body = rest[n + 2:]


def wait_for(pred, timeout=10.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


# --- reporting ------------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    rep.lanyard_stack = _item_stack(item)  # for the per-stack counts
    if rep.when == "call" and rep.failed:
        st = item.funcargs.get("stack")
        if st is not None and not st.external:
            log = st.frontend_log()
            if log:
                rep.sections.append(("%s error log (tail)" % st.id, log[-3000:]))
            if getattr(st, "listen", None) is not None and st.listen.server is not None:
                rep.sections.append(("lanyard --listen log (tail)", st.listen.server.log_tail(40)))


def _sanitizer_report(env):
    out = []
    for path in env.sanitizer_logs():
        with open(path, errors="replace") as f:
            out.append("--- %s\n%s" % (path, "\n".join(f.read().splitlines()[:200])))
    return "\n".join(out)


def _fail_on_sanitizer_logs(env):
    """Runs after every server of the session stopped (reported as a teardown error)."""
    stop_all()
    report = _sanitizer_report(env)
    if report:
        env.sanitizer_reported = True
        pytest.fail("sanitizer reports found:\n" + report, pytrace=False)


# --- counts per stack; skips that must fail the run ------------------------------
#
# A whole stack skipped ("stack not enabled", "... not reachable") while the
# private servers run means part of the suite silently did not run: that
# fails the run. A test's own explained skip may stay; every skip is counted
# by reason in the summary.

_COUNTS = {}                     # stack id ("-": no stack) -> Counter of outcomes
_SKIPS = collections.Counter()   # (stack id, reason) -> n
STACK_SKIP = re.compile(r"^stack |not reachable|cannot enter|stack not enabled", re.I)


def _skip_reason(report):
    lr = report.longrepr
    reason = lr[2] if isinstance(lr, tuple) and len(lr) == 3 else str(lr)
    return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason


def pytest_runtest_logreport(report):
    stack_id = getattr(report, "lanyard_stack", None) or "-"
    c = _COUNTS.setdefault(stack_id, collections.Counter())
    if report.skipped and hasattr(report, "wasxfail"):
        c["xfailed"] += 1
    elif report.skipped:
        c["skipped"] += 1
        _SKIPS[(stack_id, _skip_reason(report))] += 1
    elif report.when == "call":
        c["passed" if report.passed else "failed"] += 1
    elif report.failed:
        c["errors"] += 1


def _stack_skips(config):
    """Skips of whole stacks, when they may not happen (private servers in use)."""
    if config.getoption("--lanyard-url"):
        return []
    return [(k, n) for k, n in _SKIPS.items() if STACK_SKIP.search(k[1])]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _COUNTS:
        return
    tr = terminalreporter
    cols = ("passed", "failed", "errors", "skipped")
    tr.write_sep("=", "lanyard e2e per stack")
    tr.write_line("e2e-stack %-16s %s" % ("stack", " ".join("%7s" % c for c in cols)))
    for sid in sorted(_COUNTS, key=lambda k: (k == "-", k)):
        c = _COUNTS[sid]
        tr.write_line("e2e-stack %-16s %s" % (sid if sid != "-" else "(no stack)",
                                              " ".join("%7d" % c[k] for k in cols)))
    if _SKIPS:
        by_reason = collections.Counter()
        for (_, reason), n in _SKIPS.items():
            by_reason[reason] += n
        tr.write_line("e2e-skips %d: %s" % (sum(by_reason.values()), "; ".join(
            "%s (%d)" % (r, n) for r, n in by_reason.most_common())))
    bad = _stack_skips(config)
    if bad:
        tr.write_line("e2e-fail: %d skips of whole stacks while the private servers run "
                      "(a stack that does not run fails the run): %s"
                      % (sum(n for _, n in bad), "; ".join(sorted({"%s: %s" % k for k, _ in bad}))),
                      red=True)


def pytest_sessionfinish(session, exitstatus):
    """Every server is gone by now; a sanitizer report anywhere fails the run,
    and so does a stack that was skipped."""
    stop_all()
    if _stack_skips(session.config):
        session.exitstatus = 1
    env = getattr(session.config, "_lanyard_env", None)
    if env is None:
        return
    logs = env.sanitizer_logs()
    if not logs:
        return
    session.exitstatus = 1
    if getattr(env, "sanitizer_reported", False):
        return
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    out = tr.write_line if tr else print
    out("")
    out("=" * 30 + " sanitizer reports (%d) " % len(logs) + "=" * 30)
    for path in logs:
        out("--- %s" % path)
        with open(path, errors="replace") as f:
            for line in f.read().splitlines()[:200]:
                out(line)
    out("sanitizer reports found: failing the run")
    session.exitstatus = 1
