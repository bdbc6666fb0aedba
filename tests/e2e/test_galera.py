"""Lanyard on a three-node Galera cluster (SPEC §6 "Scaling past one machine",
doc/operations.md "Galera"): a write through one front end read through
another on another node, a node outside the primary component answering 503,
a node killed under load left for the next host of the list, and its rejoin.

A module of its own servers (no `stack` fixture): it runs once, whatever
LANYARD_E2E_STACKS says. The cluster is harness/galera.py."""

import base64
import os
import secrets
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import Client
from harness.apache import Apache
from harness.galera import GaleraCluster
from harness.lanyard import Build, ListenWorker, config_yaml, wait_for, write_secret
from harness.lighttpd import Lighttpd
from harness.stack import ADMIN_EMAIL, unique_email

SIGNIN = "/api/auth/v1/signin"
CHECK = "/api/auth/v1/check"
USERS = "/api/org/v1/users"
HEALTH = "/api/health"
PASSWORD = "correct horse battery"
PUBLIC_URL = "http://127.0.0.1:8080"


def bearer(token):
    return {"Authorization": "Bearer " + token}


class Galera:
    """The cluster, the shared secrets, and a way to make front ends on it."""

    def __init__(self, builddir, srcdir, workdir):
        self.workdir = workdir
        self.build = Build(builddir, srcdir, os.path.join(workdir, "asan"))
        self.cluster = GaleraCluster(os.path.join(workdir, "cluster"))
        self.password_file = os.path.join(workdir, "db-password")
        self.key_file = os.path.join(workdir, "jwt-eddsa.pem")
        self.secrets_key_file = os.path.join(workdir, "secrets.key")
        self.admin_email = ADMIN_EMAIL
        self.admin_password = secrets.token_urlsafe(18)
        self.fronts = []
        self.listens = []

    def write_config(self, path, public_url, nodes, mode="jwt"):
        """The harness's config, its database a list of the given nodes. One
        public URL (the issuer) for all: the front ends are one service."""
        public_url = PUBLIC_URL
        text = config_yaml(public_url=public_url, db_socket='""', password_file=self.password_file,
                           mode=mode, key_file=self.key_file,
                           secrets_key_file=self.secrets_key_file)
        hosts = "  host: [%s]\n" % ", ".join('"%s"' % n.hostport for n in nodes)
        text = text.replace('  socket: ""\n', '  socket: ""\n' + hosts, 1)
        with open(path, "w") as f:
            f.write(text)
        return path

    def prepare(self):
        if os.path.exists(self.password_file):
            os.unlink(self.password_file)
        self.cluster.create_app_database(self.password_file)
        if os.path.exists(self.key_file):
            os.unlink(self.key_file)
        self.build.ctl_ok(None, "keygen", "--alg", "EdDSA", "--out", self.key_file)
        write_secret(self.secrets_key_file, base64.b64encode(os.urandom(32)).decode())
        ctl = self.write_config(os.path.join(self.workdir, "ctl.yaml"), "http://127.0.0.1:8080",
                                [self.cluster.nodes[0]])
        self.build.ctl_ok(ctl, "migrate")
        pw = os.path.join(self.workdir, "admin-password")
        write_secret(pw, self.admin_password)
        self.build.ctl_ok(ctl, "bootstrap", "--email", self.admin_email, "--password-file", pw)

    def lighttpd(self, name, nodes, mode="jwt"):
        d = os.path.join(self.workdir, name)
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, "lanyard.yaml")
        srv = Lighttpd(workdir=d, srcdir=self.build.srcdir, worker_bin=self.build.lanyard,
                       lanyard_config=cfg, fcgi_socket=os.path.join(d, "fcgi.sock"),
                       env=self.build.env(), procs=2,
                       before_start=lambda port: self.write_config(
                           cfg, "http://127.0.0.1:%d" % port, nodes, mode))
        self.fronts.append(srv)
        return srv.start()

    def apache(self, name, nodes, mode="jwt"):
        d = os.path.join(self.workdir, name)
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, "lanyard.yaml")

        def backend(port):
            self.write_config(cfg, "http://127.0.0.1:%d" % port, nodes, mode)
            lw = ListenWorker(self.build, cfg, d, workers=2).start()
            self.listens.append(lw)
            return "127.0.0.1:%d" % lw.port

        srv = Apache(workdir=d, srcdir=self.build.srcdir, env=self.build.env(),
                     before_start=backend)
        self.fronts.append(srv)
        return srv.start()

    def close(self):
        for s in self.fronts + self.listens:
            try:
                s.stop()
            except Exception:
                pass
        self.cluster.stop()


@pytest.fixture(scope="module")
def galera(request):
    cfg = request.config
    if cfg.getoption("--lanyard-url"):
        pytest.skip("needs the private servers (an external URL is being tested)")
    builddir = os.path.abspath(cfg.getoption("--builddir"))
    base = os.path.abspath(os.environ.get("LANYARD_E2E_WORKDIR")
                           or os.path.join(builddir, "tests", "e2e", ".work"))
    workdir = os.path.join(base, "galera")
    tmp = None
    # the nodes' unix sockets: at most 100 bytes of path (harness/mariadb.py)
    if len(os.path.join(workdir, "cluster", "node1", "mysql.sock")) > 100:
        tmp = workdir = tempfile.mkdtemp(prefix="ly-galera-", dir="/tmp")
    os.makedirs(workdir, exist_ok=True)
    g = Galera(builddir, cfg.getoption("--srcdir"), workdir)
    missing = g.build.missing()
    if missing:
        pytest.fail("programs not built: %s" % ", ".join(missing), pytrace=False)

    def close():
        g.close()
        if tmp:
            subprocess.run(["rm", "-rf", tmp])
        logs = os.listdir(g.build.asan_dir) if os.path.isdir(g.build.asan_dir) else []
        assert not logs, "sanitizer reports in %s: %s" % (g.build.asan_dir, logs)

    request.addfinalizer(close)
    g.cluster.start()
    g.prepare()
    n1, n2, _ = g.cluster.nodes
    g.a = g.lighttpd("lighttpd-node1", [n1])      # lighttpd spawning the workers: node 1
    g.b = g.apache("apache-node2", [n2])          # Apache to `lanyard --listen`: node 2
    return g


def signin(http, email, password=PASSWORD):
    return http.post(SIGNIN, json={"email": email, "password": password})


def admin_token(g, http):
    r = signin(http, g.admin_email, g.admin_password)
    assert r.status_code == 200, r.text[:300]
    return r.json()["access_token"]


def new_user(http, token, email=None):
    r = http.post(USERS, json={"email": email or unique_email(), "password": PASSWORD},
                  headers=bearer(token))
    assert r.status_code == 201, r.text[:300]
    return r.json()


def test_cluster_of_three(galera):
    for n in galera.cluster.nodes:
        assert n.status("wsrep_cluster_size") == "3"
        assert n.status("wsrep_ready") == "ON"
        assert n.status("wsrep_local_state_comment") == "Synced"
        assert n.sql("SELECT @@innodb_autoinc_lock_mode, @@binlog_format")[0] == ["2", "ROW"]
    # the schema and the administrator, written on node 1, are on node 3
    n3 = galera.cluster.nodes[2]
    assert n3.sql("SELECT COUNT(*) FROM lanyard.users WHERE email = '%s'"
                  % galera.admin_email)[0] == ["1"]


def test_write_through_one_node_read_through_another(galera):
    """A user made through node 1 signs in through node 2 at once, and the
    other way round: the workers' reads wait for what the cluster committed
    (wsrep_sync_wait, doc/decisions.md)."""
    a, b = Client(galera.a.url), Client(galera.b.url)
    ta, tb = admin_token(galera, a), admin_token(galera, b)
    for i in range(20):
        src, dst, tok = (a, b, ta) if i % 2 == 0 else (b, a, tb)
        u = new_user(src, tok)
        r = signin(dst, u["email"])
        assert r.status_code == 200, (i, r.status_code, r.text[:300])
        # and what the sign-in wrote (the session) is seen back through the first
        r = src.get("/api/org/v1/me", headers=bearer(r.json()["access_token"]))
        assert r.status_code == 200, (i, r.text[:300])
        assert r.json()["user"]["email"] == u["email"]


def _timed_reads(node, sync_wait, n=300):
    sql = "SET SESSION wsrep_sync_wait = %d;" % sync_wait + \
        "SELECT name FROM lanyard.settings LIMIT 1;" * n
    t0 = time.monotonic()
    node.sql(sql)
    return (time.monotonic() - t0) / n


def test_sync_wait_cost(galera):
    """What wsrep_sync_wait = 1 costs a read on an idle cluster on one machine
    (doc/operations.md quotes the figures): under a millisecond more."""
    n2 = galera.cluster.nodes[1]
    _timed_reads(n2, 0, 50)  # warm up
    off = min(_timed_reads(n2, 0) for _ in range(3))
    on = min(_timed_reads(n2, 1) for _ in range(3))
    print("\nper read: wsrep_sync_wait=0 %.3f ms, =1 %.3f ms" % (off * 1e3, on * 1e3))
    assert on - off < 0.001, (off, on)


def _wait_ready(node, want, timeout=30):
    assert wait_for(lambda: node.status("wsrep_ready") == want, timeout, 0.2), \
        "%s wsrep_ready never %s" % (node.name, want)


def test_node_outside_the_primary_component_answers_503(galera):
    """Node 2 cut off from its peers (gmcast.isolate) is non-primary: the front
    end on it says 503 with Retry-After, health says the database is
    unavailable, never a 500; back in the cluster, it serves again."""
    n2 = galera.cluster.nodes[1]
    b = Client(galera.b.url)
    tb = admin_token(galera, b)
    n2.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'")
    try:
        _wait_ready(n2, "OFF")
        # SELECT 1 would pass on such a node: the health check names a table
        assert n2.sql("SELECT 1") == [["1"]]
        r = b.get(HEALTH)
        assert r.status_code == 503, r.text[:300]
        assert r.json()["database"] == "unavailable"
        assert r.headers.get("Retry-After")
        for _ in range(2):
            r = signin(b, galera.admin_email, galera.admin_password)
            assert r.status_code == 503, r.text[:300]
            assert r.headers.get("Retry-After")
            r = b.get("/api/org/v1/me", headers=bearer(tb))
            assert r.status_code == 503, r.text[:300]
            assert r.headers.get("Retry-After")
        # node 1's front end goes on serving: the others are the primary component
        a = Client(galera.a.url)
        assert a.get(HEALTH).status_code == 200
        assert signin(a, galera.admin_email, galera.admin_password).status_code == 200
    finally:
        n2.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'")
    galera.cluster.wait_size(3, 60)
    # the next request reconnects (a second after the last failed connect at most)
    assert wait_for(lambda: b.get(HEALTH).status_code == 200, 15, 0.5)
    r = signin(b, galera.admin_email, galera.admin_password)
    assert r.status_code == 200, r.text[:300]


def test_node_killed_under_load_moves_to_the_next_host(galera):
    """Workers on [node 3, node 1]; node 3 SIGKILLed under a light load of
    sign-ins and checks: what follows the kill is served by node 1 (only the
    requests in flight may fail, with a 503, never a 500); node 3 restarted
    rejoins by IST, has what was written meanwhile, and serves again."""
    n1, _, n3 = galera.cluster.nodes
    c = galera.lighttpd("lighttpd-node3-node1", [n3, n1], mode="opaque")
    http = Client(c.url)
    user = new_user(http, admin_token(galera, http))
    results = []  # (start, end, kind, status)
    stop = threading.Event()

    def timed(kind, fn):
        t0 = time.monotonic()
        try:
            r = fn()
            status = r.status_code
        except Exception as e:  # a front end that does not answer is a failure too
            r, status = None, repr(e)
        results.append((t0, time.monotonic(), kind, status))
        return r if status == 200 else None

    def load():
        cl = Client(c.url)
        while not stop.is_set():
            r = timed("signin", lambda: signin(cl, user["email"]))
            if r is not None:
                token = r.json()["access_token"]
                timed("check", lambda: cl.get(CHECK, headers=bearer(token)))
            time.sleep(0.05)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        killed_at = time.monotonic()
        n3.kill()
        # the cluster stalls until it declares node 3 gone (evs.suspect_timeout)
        time.sleep(7)
        # written through the list while node 3 is down: IST brings it to node 3
        late = new_user(http, admin_token(galera, http))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    before = [r for r in results if r[1] < killed_at]
    after = [r for r in results if r[0] > killed_at]
    in_flight = [r for r in results if r[0] <= killed_at <= r[1]]
    assert before and all(r[3] == 200 for r in before), before
    assert len(after) >= 10, after
    assert all(r[3] == 200 for r in after), [r for r in after if r[3] != 200]
    assert {r[2] for r in after} == {"signin", "check"}
    assert all(r[3] in (200, 503) for r in in_flight), in_flight
    assert not [r for r in results if r[3] == 500]

    # the two left are the primary component
    galera.cluster.wait_size(2, 30, nodes=[n1, galera.cluster.nodes[1]])
    seen = os.path.getsize(n3.log_file)
    n3.start(timeout=120)
    galera.cluster.wait_size(3, 120)
    with open(n3.log_file, errors="replace") as f:
        f.seek(seen)
        log = f.read()
    # the position recovered from InnoDB (harness/galera.py), the rest by IST
    # (rsync's SST script starts, and the donor bypasses it)
    assert n3.start_position
    assert "IST received" in log, log[-3000:]
    assert n3.sql("SELECT COUNT(*) FROM lanyard.users WHERE email = '%s'"
                  % late["email"])[0] == ["1"]
    # a front end on node 3 alone serves again
    d = galera.lighttpd("lighttpd-node3", [n3])
    r = signin(Client(d.url), late["email"])
    assert r.status_code == 200, r.text[:300]
    d.stop()
    c.stop()
