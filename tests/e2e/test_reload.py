"""SPEC §6 "Reload without a failed request", on an Apache stack of its own
(mod_proxy_fcgi to a `lanyard --listen` parent with two workers): under a
load of client threads checking a JWT (/api/auth/v1/check and /me), the JWT
key is rotated (a new key file from `lanyardctl keygen`, the config
rewritten with key_file the new one and previous_key_files the old, SIGHUP
to the parent). No request fails during the whole run; tokens signed before
are still accepted; a new sign-in's token carries the new key's kid; the
workers are new processes. Then a config with a YAML error and SIGHUP: the
parent logs its FILE:LINE:COL line once and the workers stay the same ones,
still serving; the same for a key file that holds no key. A worker killed after that comes back with the last good
config (the new key); SIGTERM still stops the parent and every worker.

Runs once (on the apache-jwt selection), not per stack: the stack it needs
is its own, whose config and keys it may rewrite."""

import os
import re
import signal
import threading
import time

import pytest

from conftest import Client, need_private, wait_for
from harness import stack as hs
from harness.lanyard import write_secret
from harness.proc import pid_alive
from test_auth import JWKS, ME, SIGNIN, bearer, jwt_parts

pytestmark = pytest.mark.stacks("apache-jwt")

CHECK = "/api/auth/v1/check"
CLIENTS = 4


class ReloadStack(hs.Stack):
    """Apache in front of `lanyard --listen`, with a key of its own and a
    config the test rewrites (key_file, previous_key_files, or any text)."""

    def __init__(self, env):
        super().__init__(env, "apache", "jwt")
        self.id = "apache-jwt-reload"
        self.dir = os.path.join(env.workdir, self.id)
        os.makedirs(self.dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, "lanyard.yaml")
        self.key_file = self.keygen("key1")
        self.previous = []
        self.port = None

    def keygen(self, name):
        path = os.path.join(self.dir, name + ".pem")
        if os.path.exists(path):
            os.unlink(path)
        self.build.ctl_ok(None, "keygen", "--alg", "EdDSA", "--out", path)
        return path

    def config_text(self):
        self.env.config(self.config_path, public_url="http://127.0.0.1:%d" % self.port,
                        mode="jwt", key_file=self.key_file)
        with open(self.config_path) as f:
            text = f.read()
        line = "    key_file: %s\n" % self.key_file
        assert line in text, text
        prev = ", ".join('"%s"' % p for p in self.previous)
        return text.replace(line, line + "    previous_key_files: [%s]\n" % prev)

    def write(self, text):
        # written whole then renamed: the parent never reads half a file
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)

    def _write_config(self, port):
        self.port = port
        self.write(self.config_text())

    def rotate(self):
        """A new key signs; the one before still verifies."""
        new = self.keygen("key%d" % (len(self.previous) + 2))
        self.previous = [self.key_file] + self.previous
        self.key_file = new
        self.write(self.config_text())

    def log(self):
        with open(self.listen.server.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


@pytest.fixture(scope="module")
def rstack(e2e_env):
    s = ReloadStack(e2e_env).start()
    yield s
    s.stop()


class Load:
    """CLIENTS threads, each its own connection pool, asking /check and /me
    with tokens until stopped; every answer that is not 200 (or an error with
    no answer) is kept."""

    def __init__(self, url, tokens):
        self.url = url
        self.tokens = list(tokens)
        self.stop_flag = threading.Event()
        self.failures = []
        self.ok = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(CLIENTS)]

    def run(self, i):
        http = Client(self.url)
        n = 0
        while not self.stop_flag.is_set():
            tok = self.tokens[(i + n) % len(self.tokens)]
            path = CHECK if n % 2 == 0 else ME
            n += 1
            try:
                r = http.get(path, headers=bearer(tok))
                bad = None if r.status_code == 200 else "%s %d %s" % (path, r.status_code,
                                                                      r.text[:200])
            except Exception as e:  # noqa: BLE001 (a refused or reset connection is a failure)
                bad = "%s %r" % (path, e)
            with self.lock:
                if bad is None:
                    self.ok += 1
                else:
                    self.failures.append(bad)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(30)


def sign_in(http, stack):
    r = http.post(SIGNIN, json={"email": stack.admin_email, "password": stack.admin_password})
    assert r.status_code == 200, r.text[:300]
    return r.json()["access_token"]


def kid(token):
    return jwt_parts(token)[0]["kid"]


def workers_settled(stack, n=2):
    pids = stack.worker_pids()
    return pids if len(pids) == n else None


def test_reload_rotates_the_key_without_a_failed_request(stack, rstack):
    need_private(stack)
    s = rstack
    http = Client(s.url)
    parent = s.listen.pid
    before = set(wait_for(lambda: workers_settled(s), timeout=10) or [])
    assert len(before) == 2, s.worker_pids()
    old_token = sign_in(http, s)
    old_kid = kid(old_token)

    with Load(s.url, [old_token]) as load:
        assert wait_for(lambda: load.ok >= 20, timeout=10), "the load does not run"
        s.rotate()
        os.kill(parent, signal.SIGHUP)
        # the old workers finish the request in hand and go; two new ones serve
        assert wait_for(lambda: (set(s.worker_pids()) & before) == set()
                        and len(s.worker_pids()) == 2, timeout=15), (before, s.worker_pids())
        after = set(s.worker_pids())
        new_token = sign_in(http, s)
        assert kid(new_token) != old_kid, "a sign-in after the reload is signed with the new key"
        kids = {k["kid"] for k in http.get(JWKS).json()["keys"]}
        assert {old_kid, kid(new_token)} <= kids, kids
        load.tokens.append(new_token)
        served = load.ok
        assert wait_for(lambda: load.ok >= served + 40, timeout=10), "the load stopped"

        # a config with a YAML error: refused, the same workers keep serving
        good = s.config_text()
        lines = good.splitlines(True)
        bad_line = next(i for i, ln in enumerate(lines) if ln.startswith("  max_body:")) + 1
        lines[bad_line - 1] = "  max_body: [65536\n"
        s.write("".join(lines))
        mark = len(s.log())  # the log file is appended to by every run
        os.kill(parent, signal.SIGHUP)
        pattern = re.compile(r"%s:(\d+):(\d+): \S" % re.escape(s.config_path))
        assert wait_for(lambda: pattern.search(s.log()[mark:]), timeout=10), s.log()[-2000:]
        time.sleep(2)  # time enough for workers to be replaced, if they were going to be
        hits = pattern.findall(s.log()[mark:])
        assert len(hits) == 1, "logged once: %s" % hits
        assert bad_line <= int(hits[0][0]) <= bad_line + 1, (hits, bad_line)  # where libyaml stops
        assert set(s.worker_pids()) == after, "an invalid config must not replace the workers"
        served = load.ok
        assert wait_for(lambda: load.ok >= served + 40, timeout=10), "the load stopped"

        # a key file that is no key: refused too (the keys load in the parent, before any fork)
        garbage = os.path.join(s.dir, "garbage.pem")
        write_secret(garbage, "not a PEM key")
        s.write(good.replace("    key_file: %s\n" % s.key_file, "    key_file: %s\n" % garbage))
        mark2 = len(s.log())
        os.kill(parent, signal.SIGHUP)
        refused = "reload refused, the running workers keep serving: "
        assert wait_for(lambda: refused in s.log()[mark2:], timeout=10), s.log()[-2000:]
        time.sleep(1)
        assert s.log()[mark2:].count(refused) == 1
        assert "garbage.pem" in s.log()[mark2:]
        assert set(s.worker_pids()) == after, "a bad key must not replace the workers"
        served = load.ok
        assert wait_for(lambda: load.ok >= served + 40, timeout=10), "the load stopped"
    assert load.failures == [], "%d failed of %d: %s" % (len(load.failures),
                                                         len(load.failures) + load.ok,
                                                         load.failures[:5])
    assert load.ok >= 100, load.ok
    assert pid_alive(parent)
    for tok in (old_token, new_token):
        assert http.get(ME, headers=bearer(tok)).status_code == 200

    # a worker that dies now comes back with the last good config: the new key
    victim = sorted(after)[0]
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: victim not in s.worker_pids() and len(s.worker_pids()) == 2,
                    timeout=10), s.worker_pids()
    # both workers sign (each request goes to either): every token has the new kid
    assert {kid(sign_in(http, s)) for _ in range(6)} == {kid(new_token)}

    # SIGTERM still stops the parent and every worker
    s.write(good)
    workers = s.worker_pids()
    os.kill(parent, signal.SIGTERM)
    assert s.listen.server.proc.wait(timeout=15) == 0
    assert not any(pid_alive(p) for p in workers), workers
    assert "stopped" in s.log()[mark:]
