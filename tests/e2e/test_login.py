"""lanyard-login, the user's command-line client (SPEC §1), against the real
stack: the device flow of §5.4 approved and denied by a test user (the 5 s
interval is real), the credentials file (mode 0600 in a 0700 directory, one
entry per URL, others kept, a file others may read refused), `token` (a
token that works, refreshed first when it expires within a minute, the old
refresh token spent; $LANYARD_TOKEN printed as it is), `refresh`, `status`,
`logout` (the session ended and the entry gone; kept when the server cannot
be reached) and the exit statuses 0, 1 and 2. Also the outbound HTTP client
(src/http/client.c) on real round trips: every call here goes through it.
The answers a client meets only when something goes wrong (slow_down, an
expired or unknown code) come from the real service too, the code's row
moved in the test database. --org is test_sso.py's (it needs the provider).

Each test has its own XDG_CONFIG_HOME under tmp_path. Entries are written
straight from a sign-in's token response where the device flow is not what
is tested, to spare its 5 s wait."""

import json
import os
import queue
import re
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import Client, need_private
from test_foundation import assert_oauth_error
from test_hardening import hard  # noqa: F401
from test_orgs import ME, PASSWORD, admin_of, new_user

pytestmark = pytest.mark.stacks("lighttpd-jwt", "lighttpd-opaque")

SIGNIN = "/api/auth/v1/signin"
TOKEN = "/api/auth/v1/token"
APPROVE = "/api/auth/v1/device/approve"
USER_CODE = re.compile(r"\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
ENTRY_KEYS = {"access_token", "refresh_token", "expires_at", "refresh_expires_at", "session_id"}


class Cli:
    """lanyard-login with a private configuration directory."""

    def __init__(self, env, base, tmp_path):
        self.prog = os.path.join(env.build.builddir, "lanyard-login")
        self.base = base
        self.cfg = str(tmp_path / "xdg")
        self.dir = os.path.join(self.cfg, "lanyard")
        self.path = os.path.join(self.dir, "credentials.json")
        self.env = env.build.env({"XDG_CONFIG_HOME": self.cfg, "HOME": str(tmp_path / "home")})
        for k in ("LANYARD_URL", "LANYARD_TOKEN", "http_proxy", "https_proxy", "HTTP_PROXY",
                  "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            self.env.pop(k, None)

    def environ(self, extra):
        e = dict(self.env)
        e.update(extra or {})
        return e

    def run(self, *args, env=None, url=True, timeout=60, umask=None):
        argv = [self.prog] + (["--url", self.base] if url else []) + list(args)
        return subprocess.run(argv, env=self.environ(env), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout,
                              preexec_fn=None if umask is None else lambda: os.umask(umask))

    def start_login(self, *args):
        """The modes of what it makes must not depend on the umask: run it with none."""
        argv = [self.prog, "--url", self.base, "login", "--no-browser"] + list(args)
        return subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.umask(0))

    def read(self):
        with open(self.path) as f:
            return json.load(f)

    def entry(self, url=None):
        return self.read()["entries"].get(url or self.base)

    def write(self, entries, mode=0o600):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        with open(self.path, "w") as f:
            json.dump({"version": 1, "entries": entries}, f)
        os.chmod(self.path, mode)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_iso(s):
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


def entry_from(tokens, expires_in=None):
    now = time.time()
    return {"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
            "expires_at": iso(now + (tokens["expires_in"] if expires_in is None else expires_in)),
            "refresh_expires_at": iso(now + tokens["refresh_expires_in"]),
            "session_id": tokens["session_id"]}


def sign_in(stack, user):
    r = Client(stack.url).post(SIGNIN, json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 200, r.text[:300]
    return r.json()


def me_email(stack, token):
    r = Client(stack.url).get(ME, headers={"Authorization": "Bearer " + token})
    assert r.status_code == 200, r.text[:300]
    return r.json()["user"]["email"]


def refresh_answer(stack, refresh_token):
    return Client(stack.url).post(TOKEN, data={"grant_type": "refresh_token",
                                               "refresh_token": refresh_token})


def assert_no_secret(text, *secrets):
    for s in secrets:
        assert s not in text, "a token was printed where it must not be"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cli(stack, e2e_env, tmp_path):
    need_private(stack)
    c = Cli(e2e_env, stack.url, tmp_path)
    if not os.access(c.prog, os.X_OK):
        pytest.fail("lanyard-login not built in %s" % e2e_env.build.builddir, pytrace=False)
    return c


@pytest.fixture
def user(stack):
    return new_user(stack, admin_of(stack), "login")


def device_login(cli, user, approve=True, timeout=60):
    """Run `login --no-browser`, read the user code from its stderr, approve
    or deny it as user, and return (exit status, stderr)."""
    p = cli.start_login()
    lines = queue.Queue()

    def reader():
        for line in p.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    seen, code = [], None
    deadline = time.monotonic() + 20
    try:
        while code is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line)
            m = USER_CODE.search(line)
            if m:
                code = m.group(1)
        assert code, "no user code on stderr: %r" % "".join(seen)
        r = user.post(APPROVE, {"user_code": code, "approve": approve})
        assert r.status_code == 204, r.text[:300]
        rc = p.wait(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    while True:
        line = lines.get(timeout=5)
        if line is None:
            break
        seen.append(line)
    out = p.stdout.read()
    assert out == "", "login prints nothing on stdout: %r" % out
    return rc, "".join(seen), code


# --- login (the device flow) -----------------------------------------------------

def test_login_approved(stack, cli, user):
    assert not os.path.exists(cli.cfg)
    t0 = time.time()
    rc, err, code = device_login(cli, user)
    assert rc == 0, err
    # the code and the complete link, clearly, on stderr
    assert stack.url + "/device?user_code=" + code in err, err
    assert "Signed in to " + stack.url in err
    st = os.stat(cli.path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cli.dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cli.cfg).st_mode) == 0o700, "parents made 0700 too"
    assert set(cli.read()["entries"]) == {stack.url}
    e = cli.entry()
    assert set(e) == ENTRY_KEYS, sorted(e)
    assert e["refresh_token"].startswith("lyr_")
    assert RFC3339.fullmatch(e["expires_at"]) and RFC3339.fullmatch(e["refresh_expires_at"])
    # absolute times from expires_in (900 s) and refresh_expires_in (30 days)
    assert abs(parse_iso(e["expires_at"]) - (t0 + 900)) < 60, e["expires_at"]
    assert abs(parse_iso(e["refresh_expires_at"]) - (t0 + 30 * 86400)) < 60
    assert me_email(stack, e["access_token"]) == user.email
    assert_no_secret(err, e["access_token"], e["refresh_token"])
    # no temporary file left behind
    assert sorted(os.listdir(cli.dir)) == ["credentials.json", "credentials.json.lock"]


def test_login_denied(stack, cli, user):
    rc, err, _ = device_login(cli, user, approve=False)
    assert rc == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("lanyard-login: ") and "denied" in last and "access_denied" in last, err
    assert not os.path.exists(cli.path) or cli.entry() is None


def test_login_unreachable(cli):
    cli.base = "http://127.0.0.1:%d" % free_port()
    r = cli.run("login", "--no-browser")
    assert r.returncode == 1, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "127.0.0.1" in r.stderr


# --- token -------------------------------------------------------------------------

def test_token_prints_a_working_token(stack, cli, user):
    tokens = sign_in(stack, user)
    cli.write({stack.url: entry_from(tokens)})
    r = cli.run("token")
    assert r.returncode == 0, r.stderr
    assert r.stdout == tokens["access_token"] + "\n", "only the token on stdout"
    assert r.stderr == ""
    assert me_email(stack, r.stdout.strip()) == user.email
    assert cli.entry()["refresh_token"] == tokens["refresh_token"], "no refresh needed"


def test_token_refreshes_first_when_it_expires_within_a_minute(stack, cli, user):
    tokens = sign_in(stack, user)
    for expires_in in (-100, 30):  # expired, then expiring within 60 s
        old = cli.entry() if os.path.exists(cli.path) else entry_from(tokens)
        old = dict(old, expires_at=iso(time.time() + expires_in))
        cli.write({stack.url: old})
        r = cli.run("token")
        assert r.returncode == 0, r.stderr
        new = cli.entry()
        assert r.stdout == new["access_token"] + "\n"
        assert new["access_token"] != old["access_token"]
        assert new["refresh_token"] != old["refresh_token"]
        assert new["session_id"] == tokens["session_id"], "a refresh keeps the session"
        assert parse_iso(new["expires_at"]) > time.time() + 800
        assert stat.S_IMODE(os.stat(cli.path).st_mode) == 0o600
        assert me_email(stack, r.stdout.strip()) == user.email
        assert_no_secret(r.stderr, new["access_token"], new["refresh_token"])
    # the old refresh token was spent (presenting it again ends the session: last)
    assert_oauth_error(refresh_answer(stack, old["refresh_token"]), 400, "invalid_grant")


def test_token_with_a_short_access_ttl(stack, hard, e2e_env, tmp_path):  # noqa: F811
    """A stack whose access tokens live 62 s (tokens.access_ttl): `token` gives the
    stored token while it has more than a minute left, and a refreshed one (which
    works, the old refresh token spent) once it has not. The real expiry itself is
    not waited for (62 s); test_token_refreshes_first covers a token already expired."""
    s = hard("shortttl", stack.frontend, stack.mode,
             edits=[("  mode: %s\n" % stack.mode, "  mode: %s\n  access_ttl: 62s\n" % stack.mode)])
    cli = Cli(e2e_env, s.url, tmp_path)
    u = new_user(s, admin_of(s), "short")
    tokens = sign_in(s, u)
    assert tokens["expires_in"] == 62, tokens
    cli.write({s.url: entry_from(tokens)})
    r = cli.run("token")
    assert r.returncode == 0 and r.stdout.strip() == tokens["access_token"], r.stderr
    time.sleep(3)  # 59 s left: within the minute
    r = cli.run("token")
    assert r.returncode == 0, r.stderr
    fresh = r.stdout.strip()
    assert fresh != tokens["access_token"] and cli.entry()["access_token"] == fresh
    assert me_email(s, fresh) == u.email
    assert_oauth_error(refresh_answer(s, tokens["refresh_token"]), 400, "invalid_grant")


def test_concurrent_tokens_refresh_once(stack, cli, user):
    """Four `token` at once on an expired entry: one refreshes, the others wait
    for the lock and find the new token. Without the lock a refresh token
    would be presented twice, which ends the session as stolen (SPEC §5.3)."""
    tokens = sign_in(stack, user)
    cli.write({stack.url: entry_from(tokens, expires_in=-5)})
    argv = [cli.prog, "--url", stack.url, "token"]
    procs = [subprocess.Popen(argv, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    printed = {o.strip() for o, _ in outs}
    assert len(printed) == 1, "one refresh, one new token"
    new = printed.pop()
    assert new != tokens["access_token"] and new == cli.entry()["access_token"]
    assert me_email(stack, new) == user.email, "the session lives on"
    r = refresh_answer(stack, cli.entry()["refresh_token"])
    assert r.status_code == 200, r.text[:300]


def test_token_from_environment(cli, tmp_path):
    r = cli.run("token", env={"LANYARD_TOKEN": "lyk_SOMEKEY_abc"}, url=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "lyk_SOMEKEY_abc\n" and r.stderr == ""
    assert not os.path.exists(cli.cfg), "no file touched"
    # empty: as if unset
    r = cli.run("token", env={"LANYARD_TOKEN": ""})
    assert r.returncode == 1


def test_token_not_signed_in(stack, cli):
    r = cli.run("token")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.strip() == ("lanyard-login: not signed in to %s; run lanyard-login --url %s"
                                " login" % (stack.url, stack.url))


def test_url_from_environment_or_the_only_entry(stack, cli, user):
    tokens = sign_in(stack, user)
    cli.write({stack.url: entry_from(tokens)})
    r = cli.run("token", url=False)
    assert r.returncode == 0 and r.stdout.strip() == tokens["access_token"], r.stderr
    r = cli.run("token", env={"LANYARD_URL": stack.url + "/"}, url=False)
    assert r.returncode == 0 and r.stdout.strip() == tokens["access_token"], r.stderr
    r = subprocess.run([cli.prog, "--url", stack.url + "//", "token"], env=cli.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == tokens["access_token"], r.stderr
    # two entries and no URL given: which one is not guessed
    cli.write({stack.url: entry_from(tokens), "https://other.example": entry_from(tokens)})
    r = cli.run("token", url=False)
    assert r.returncode == 2 and "--url" in r.stderr
    assert r.stdout == ""


def test_refused_refresh_token_ends_the_entry(stack, cli, user):
    tokens = sign_in(stack, user)
    e = dict(entry_from(tokens, expires_in=-5), refresh_token="lyr_" + "A" * 49)
    cli.write({stack.url: e})
    r = cli.run("token")
    assert r.returncode == 1
    assert "has ended" in r.stderr and "login" in r.stderr and len(r.stderr.splitlines()) == 1
    assert r.stdout == ""
    assert cli.entry() is None


# --- refresh, status, logout ---------------------------------------------------------

def test_refresh_now(stack, cli, user):
    tokens = sign_in(stack, user)
    other = entry_from(tokens)
    cli.write({stack.url: entry_from(tokens), "https://other.example": other})
    r = cli.run("refresh", umask=0)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert cli.read()["entries"]["https://other.example"] == other, "other entries kept"
    assert stat.S_IMODE(os.stat(cli.path).st_mode) == 0o600
    e = cli.entry()
    assert e["refresh_token"] != tokens["refresh_token"]
    assert e["access_token"] != tokens["access_token"]
    assert_no_secret(r.stderr, e["access_token"], e["refresh_token"])
    assert_oauth_error(refresh_answer(stack, tokens["refresh_token"]), 400, "invalid_grant")


def test_status(stack, cli, user):
    r = cli.run("status")
    assert r.returncode == 1 and "not signed in" in r.stdout + r.stderr
    tokens = sign_in(stack, user)
    cli.write({stack.url: entry_from(tokens)})
    e = cli.entry()
    r = cli.run("status")
    assert r.returncode == 0, r.stderr
    assert user.email in r.stdout and stack.url in r.stdout
    assert e["expires_at"] in r.stdout and e["refresh_expires_at"] in r.stdout
    assert_no_secret(r.stdout + r.stderr, tokens["access_token"], tokens["refresh_token"])


def test_logout(stack, cli, user):
    tokens = sign_in(stack, user)
    other = entry_from(tokens)
    cli.write({stack.url: entry_from(tokens), "https://other.example": other})
    r = cli.run("logout")
    assert r.returncode == 0, r.stderr
    assert cli.read()["entries"] == {"https://other.example": other}
    # the session ended: its refresh token is refused
    assert_oauth_error(refresh_answer(stack, tokens["refresh_token"]), 400, "invalid_grant")
    if stack.mode == "opaque":
        r = Client(stack.url).get(ME, headers={"Authorization": "Bearer " + tokens["access_token"]})
        assert r.status_code == 401
    # again: nothing to end, still 0
    r = cli.run("logout")
    assert r.returncode == 0, r.stderr
    # a token the server no longer knows: the entry goes, exit 0
    cli.write({stack.url: entry_from(tokens)})
    r = cli.run("logout")
    assert r.returncode == 0, r.stderr
    assert cli.entry() is None


def test_logout_server_unreachable_keeps_the_entry(cli):
    cli.base = "http://127.0.0.1:%d" % free_port()
    e = {"access_token": "lya_x", "refresh_token": "lyr_y", "expires_at": iso(time.time() + 600),
         "refresh_expires_at": iso(time.time() + 6000), "session_id": "s"}
    cli.write({cli.base: e})
    r = cli.run("logout")
    assert r.returncode == 1
    assert cli.entry() == e
    assert "lyr_y" not in r.stderr


# --- the file --------------------------------------------------------------------------

def test_readable_file_is_refused(stack, cli, user):
    tokens = sign_in(stack, user)
    cli.write({stack.url: entry_from(tokens)}, mode=0o644)
    for cmd in ("token", "status", "logout"):
        r = cli.run(cmd)
        assert r.returncode == 1, (cmd, r.stderr)
        assert "chmod 600 " + cli.path in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert r.stdout.strip() == "" or cmd == "status"
    assert stat.S_IMODE(os.stat(cli.path).st_mode) == 0o644, "left for the user to fix"
    assert cli.entry()["refresh_token"] == tokens["refresh_token"]


# --- RFC 8628 polling against a scripted server ----------------------------------------
#
# The poll answers a client only meets when something goes wrong, made by the
# real service: the code's row moved in the test database (as test_device.py
# does), never a stand-in server.

class Running:
    """`login --no-browser` under way: its stderr read on a thread, its user code."""

    def __init__(self, cli, *args):
        self.p = cli.start_login(*args)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()
        self.code = None
        deadline = time.monotonic() + 20
        while self.code is None and time.monotonic() < deadline:
            line = self.line(1)
            if line is None and self.p.poll() is not None:
                break
            m = USER_CODE.search(line or "")
            self.code = m.group(1) if m else None
        assert self.code, "no user code on stderr: %r" % self.text()
        self.stored = self.code.replace("-", "")

    def _read(self):
        for line in self.p.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def line(self, timeout):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is not None:
            self.seen.append(line)
        return line

    def text(self):
        return "".join(self.seen)

    def finish(self, timeout=60):
        try:
            rc = self.p.wait(timeout=timeout)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
        while self.line(5) is not None:
            pass
        return rc, self.text()


def code_row(stack, stored):
    rows = stack.mariadb.sql("SELECT status, poll_interval, IFNULL(last_poll_at, '-')"
                             " FROM lanyard.device_codes WHERE user_code = '%s'" % stored)
    return rows[0] if rows else None


def wait_for(cond, timeout=30, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s" % what)


def test_slow_down_adds_five_seconds(stack, cli, user):
    run = Running(cli)
    # after the first poll, the service is told it came just now: the next one,
    # 5 s later by the client's clock, is too soon, and answered slow_down
    wait_for(lambda: code_row(stack, run.stored)[2] != "-", what="the first poll")
    stack.mariadb.sql("UPDATE lanyard.device_codes SET last_poll_at = UTC_TIMESTAMP() +"
                      " INTERVAL 2 SECOND WHERE user_code = '%s'" % run.stored)
    wait_for(lambda: code_row(stack, run.stored)[1] == "10", what="slow_down (interval 10)")
    # a client that did not add 5 s would poll too soon again, and the interval grow to 15
    t0 = time.monotonic()
    wait_for(lambda: code_row(stack, run.stored)[2] != "-" and time.monotonic() - t0 > 0,
             what="a poll")
    r = user.post(APPROVE, {"user_code": run.code, "approve": True})
    assert r.status_code == 204, r.text
    rc, err = run.finish()
    assert rc == 0, err
    status, interval, _ = code_row(stack, run.stored)
    assert status == "consumed" and interval == "10", (status, interval)
    assert me_email(stack, cli.entry()["access_token"]) == user.email


def test_login_again_ends_the_replaced_session(stack, cli, user):
    rc, err, _ = device_login(cli, user)
    assert rc == 0, err
    old = cli.entry()
    rc, err, _ = device_login(cli, user)
    assert rc == 0, err
    new = cli.entry()
    assert new["session_id"] != old["session_id"]
    assert_oauth_error(refresh_answer(stack, old["refresh_token"]), 400, "invalid_grant")
    assert me_email(stack, new["access_token"]) == user.email


def test_expired_code_ends_the_login(stack, cli):
    run = Running(cli)
    stack.mariadb.sql("UPDATE lanyard.device_codes SET expires_at = UTC_TIMESTAMP() -"
                      " INTERVAL 1 SECOND WHERE user_code = '%s'" % run.stored)
    rc, err = run.finish()
    assert rc == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("lanyard-login: ") and "expired" in last, err
    assert not os.path.exists(cli.path) or cli.entry() is None


def test_unknown_code_ends_the_login(stack, cli):
    run = Running(cli)
    stack.mariadb.sql("DELETE FROM lanyard.device_codes WHERE user_code = '%s'" % run.stored)
    rc, err = run.finish()
    assert rc == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("lanyard-login: ") and "invalid_grant" in last, err


# --- usage ---------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["--frob", "token"], ["token", "extra"], ["--url"],
    ["token", "--no-browser"], ["--org", "acme", "token"],
    ["--url", "http://example.com", "token"], ["--url", "ftp://127.0.0.1", "token"],
    ["--url", "https://u:p@example.com", "token"], ["--url", "https://example.com/?x", "token"],
])
def test_bad_usage(cli, args):
    r = subprocess.run([cli.prog] + args, env=cli.env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 2, (args, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("lanyard-login: "), r.stderr


def test_help_and_version(cli):
    r = subprocess.run([cli.prog, "--help"], env=cli.env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 0 and "login" in r.stdout and "logout" in r.stdout
    r = subprocess.run([cli.prog, "--version"], env=cli.env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("lanyard-login ")
