"""The soak (issue 18): a mixed load through lighttpd with four workers for
LANYARD_SOAK_SECONDS (default 600), then the database checked.

Not collected by the suite (the name does not start with test_); run it with
    make -C build check-e2e-soak [LANYARD_SOAK_SECONDS=600]
or  cd tests/e2e && LANYARD_E2E_STACKS=lighttpd-jwt python3 -m pytest -q -s soak_mixed.py

The load: CLIENTS threads, each with its own user, service account, key and
session chain, choosing by weight among checks of every kind (the user's
access token, an API key as Bearer and as Basic, a personal key, the role
check), /me (user and key), sign-ins, refreshes (each rotates the thread's
session), client_credentials exchanges and key creation followed by the key's
deletion. Every answer must be the expected one (no error of any kind); the
worker PIDs must not change (no restart); each worker's RSS, sampled every
10 s, must not grow by more than 1 MiB between the end of the first minute (or
a fifth of a shorter run) and the end.

Afterwards, for the soak's own objects: every key of its service accounts has
exactly one api_key.created event; every key it deleted is gone and has one
api_key.deleted event; every key it kept is there; every session of its users
is live with exactly one unspent refresh token, and no refresh was taken for
a reuse (no session.refresh_reused event)."""

import collections
import os
import random
import threading
import time

import pytest
import requests

from conftest import TIMEOUT, need_private
from test_hardening import HardStack
from test_key_auth import (ME, PASSWORD, World, add_member, basic_value, bearer, key_path,
                           new_key, new_sa, new_user, personal_key)

SECONDS = int(os.environ.get("LANYARD_SOAK_SECONDS", "600"))
# LANYARD_SOAK_VALGRIND=1: the workers run under valgrind's memcheck (slow: a shorter run
# does); the RSS check is off and every worker's report must show no definite leak and
# no error
VALGRIND = os.environ.get("LANYARD_SOAK_VALGRIND") == "1"
CLIENTS = 8
CHECK = "/api/auth/v1/check"
TOKEN = "/api/auth/v1/token"
RSS_GROWTH_MAX = 1024  # KiB

# (name, weight): what one step of a client does
OPS = [("check_user", 24), ("check_key_bearer", 14), ("check_key_basic", 6),
       ("check_personal", 6), ("check_role", 6), ("me_user", 12), ("me_key", 6),
       ("signin", 3), ("refresh", 8), ("exchange", 6), ("key_churn", 4)]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


class Client:
    """One load thread's world and its answers."""

    def __init__(self, s, world, i):
        self.base = s.url
        self.http = requests.Session()
        self.user = new_user(world.http, world.admin_h, "soak%d" % i)
        add_member(world.http, world.owner.h, world.org, self.user, "admin")
        self.email = self.user.email
        self.tokens = self.user.tokens
        self.org = world.org
        self.sa = new_sa(world.http, world.owner.h, world.org, prefix="soak%d" % i)
        self.key = new_key(world.http, world.owner.h, world.org, self.sa, display_name="soak")
        self.pkey = personal_key(world.http, self.user, world.org)
        self.owner_h = world.owner.h
        self.created, self.deleted = [self.key.id], []
        self.sessions = {self.tokens["session_id"]}
        self.counts = collections.Counter()
        self.errors = []

    def _expect(self, op, r, status):
        self.counts[op] += 1
        if r.status_code != status:
            self.errors.append((op, r.status_code, r.text[:200]))
        return r.status_code == status

    def step(self, op):
        h = bearer(self.tokens["access_token"])
        g = lambda path, hh, **kw: self.http.get(self.base + path, headers=hh, timeout=TIMEOUT, **kw)
        if op == "check_user":
            self._expect(op, g(CHECK, h), 200)
        elif op == "check_key_bearer":
            self._expect(op, g(CHECK, self.key.bearer), 200)
        elif op == "check_key_basic":
            self._expect(op, g(CHECK, {"Authorization": basic_value(self.key.id, self.key.secret)}),
                         200)
        elif op == "check_personal":
            self._expect(op, g(CHECK, self.pkey.bearer), 200)
        elif op == "check_role":
            self._expect(op, g(CHECK, h, params={"org": self.org, "role": "admin"}), 200)
        elif op == "me_user":
            self._expect(op, g(ME, h), 200)
        elif op == "me_key":
            self._expect(op, g(ME, self.key.bearer), 200)
        elif op == "signin":
            r = self.http.post(self.base + "/api/auth/v1/signin",
                               json={"email": self.email, "password": self.user_password},
                               timeout=TIMEOUT)
            if self._expect(op, r, 200):
                self.sessions.add(r.json()["session_id"])
        elif op == "refresh":
            r = self.http.post(self.base + TOKEN, timeout=TIMEOUT,
                               data={"grant_type": "refresh_token",
                                     "refresh_token": self.tokens["refresh_token"]})
            if self._expect(op, r, 200):
                self.tokens = r.json()
        elif op == "exchange":
            r = self.http.post(self.base + TOKEN, data={"grant_type": "client_credentials"},
                               headers={"Authorization": basic_value(self.key.id, self.key.secret)},
                               timeout=TIMEOUT)
            self._expect(op, r, 200)
        elif op == "key_churn":
            r = self.http.post(self.base + key_path(self.org, self.sa["name"]), json={},
                               headers=self.owner_h, timeout=TIMEOUT)
            if not self._expect(op, r, 201):
                return
            kid = r.json()["id"]
            self.created.append(kid)
            r = self.http.delete(self.base + key_path(self.org, self.sa["name"]) + "/" + kid,
                                 headers=self.owner_h, timeout=TIMEOUT)
            if self._expect(op + "_delete", r, 204):
                self.deleted.append(kid)


class SoakStack(HardStack):
    """Four lighttpd workers, optionally each under valgrind (a wrapper script as bin-path)."""

    def __init__(self, env, mode):
        super().__init__(env, "lighttpd", mode, "soak" + ("-vg" if VALGRIND else ""), procs=4)
        self.vg_dir = os.path.join(self.dir, "valgrind")
        self.wrapper = None
        if VALGRIND:
            os.makedirs(self.vg_dir, exist_ok=True)
            for n in os.listdir(self.vg_dir):
                os.unlink(os.path.join(self.vg_dir, n))
            self.wrapper = os.path.join(self.dir, "lanyard-under-valgrind")
            with open(self.wrapper, "w") as f:
                f.write("#!/bin/sh\nexec valgrind --leak-check=full"
                        " --errors-for-leak-kinds=definite --show-leak-kinds=definite"
                        " --log-file=%s/vg.%%p.log %s \"$@\"\n"
                        % (self.vg_dir, env.build.lanyard))
            os.chmod(self.wrapper, 0o755)

    def _write_config(self, port):
        if self.wrapper and self.server is not None:
            self.server.worker_bin = self.wrapper
        super()._write_config(port)

    def valgrind_reports(self):
        out = {}
        for n in sorted(os.listdir(self.vg_dir)):
            with open(os.path.join(self.vg_dir, n), errors="replace") as f:
                out[n] = f.read()
        return out


@pytest.mark.stacks("lighttpd-jwt", "lighttpd-opaque")
def test_soak(stack, request):
    need_private(stack)
    env = request.getfixturevalue("e2e_env")
    s = SoakStack(env, stack.mode)
    s.precheck()
    try:
        s.start()
        _soak(s, env)
    finally:
        s.stop()
    if VALGRIND:
        reports = s.valgrind_reports()
        assert len(reports) >= 4, sorted(reports)
        # The summary is written at the worker's exit, after the leak check: a worker
        # killed before it would have none. Definite leaks count as errors here.
        bad = {n: text[-3000:] for n, text in reports.items()
               if "ERROR SUMMARY: 0 errors from 0 contexts" not in text}
        print("soak: valgrind reports of %d workers, %d with errors or no summary"
              % (len(reports), len(bad)))
        assert not bad, bad


def _soak(s, env):
    from conftest import Client as Http
    world = World(s, Http(s.url))
    clients = [Client(s, world, i) for i in range(CLIENTS)]
    for c in clients:
        c.user_password = PASSWORD
    pids = sorted(s.worker_pids())
    assert len(pids) == 4, pids
    ops, weights = zip(*OPS)
    stop = threading.Event()

    def run(c, seed):
        rnd = random.Random(seed)
        while not stop.is_set():
            try:
                c.step(rnd.choices(ops, weights)[0])
            except Exception as e:  # noqa: BLE001 - an error counted, not a client silently gone
                c.errors.append(("transport", None, repr(e)))

    threads = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    samples = []  # (seconds since start, {pid: rss KiB})
    try:
        while time.monotonic() - t0 < SECONDS:
            time.sleep(10)
            samples.append((time.monotonic() - t0, {p: rss_kib(p) for p in pids}))
            assert sorted(s.worker_pids()) == pids, "a worker was restarted"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=TIMEOUT * 2)
    elapsed = time.monotonic() - t0

    counts = collections.Counter()
    errors = []
    for c in clients:
        counts.update(c.counts)
        errors += c.errors
    total = sum(counts.values())
    print("\nsoak: %d requests in %.0f s (%.0f/s) on %s, 4 workers: %s"
          % (total, elapsed, total / elapsed, s.id, dict(sorted(counts.items()))))
    settle = min(60, SECONDS / 5)
    base = next(sm for t, sm in samples if t >= settle)
    last = samples[-1][1]
    print("soak: RSS KiB at %.0f s -> end: %s"
          % (settle, {p: "%d -> %d" % (base[p], last[p]) for p in pids}))
    assert not errors, "%d errors, first: %r" % (len(errors), errors[:5])
    assert sorted(s.worker_pids()) == pids, "a worker was restarted"
    for p in pids:
        assert VALGRIND or last[p] - base[p] <= RSS_GROWTH_MAX, (p, base[p], last[p])
    _consistent(env.mariadb, clients)


def _consistent(db, clients):
    """The database after the soak, for the soak's own objects."""
    for c in clients:
        ids = set(r[0] for r in db.sql(
            "SELECT k.id FROM lanyard.api_keys k JOIN lanyard.service_accounts a"
            " ON a.id = k.service_account_id WHERE a.id = '%s'" % c.sa["id"]))
        assert ids == set(c.created) - set(c.deleted), (c.sa["id"], len(ids))
        created = collections.Counter(r[0] for r in db.sql(
            "SELECT target_id FROM lanyard.audit_events WHERE action = 'api_key.created'"
            " AND target_type = 'api_key' AND org_id = (SELECT id FROM lanyard.organizations"
            " WHERE name = '%s')" % c.org))
        deleted = collections.Counter(r[0] for r in db.sql(
            "SELECT target_id FROM lanyard.audit_events WHERE action = 'api_key.deleted'"
            " AND target_type = 'api_key' AND org_id = (SELECT id FROM lanyard.organizations"
            " WHERE name = '%s')" % c.org))
        for k in c.created:
            assert created[k] == 1, ("api_key.created", k, created[k])
        for k in c.deleted:
            assert deleted[k] == 1, ("api_key.deleted", k, deleted[k])
        rows = db.sql(
            "SELECT s.id, s.revoked_at IS NULL,"
            " (SELECT COUNT(*) FROM lanyard.refresh_tokens t"
            "  WHERE t.session_id = s.id AND t.used_at IS NULL)"
            " FROM lanyard.sessions s WHERE s.user_id = '%s'" % c.user.id)
        assert {r[0] for r in rows} >= c.sessions, "sessions missing"
        for sid, live, unspent in rows:
            assert live == "1" and unspent == "1", (sid, live, unspent)
        reused = db.sql("SELECT COUNT(*) FROM lanyard.audit_events"
                        " WHERE action = 'session.refresh_reused'"
                        " AND target_id IN (SELECT id FROM lanyard.sessions WHERE user_id = '%s')"
                        % c.user.id)
        assert reused[0][0] == "0", reused
