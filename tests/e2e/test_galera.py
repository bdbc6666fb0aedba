"""Lanyard on a three-node Galera cluster (SPEC §6 "Scaling past one machine",
doc/operations.md "Galera"): a write through one front end read through
another on another node, a node outside the primary component answering 503,
a node killed under load left for the next host of the list, and its rejoin.

A module of its own servers (no `stack` fixture): it runs once, whatever
LANYARD_E2E_STACKS says. The cluster is harness/galera.py."""

import base64
import collections
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
from test_hardening import assert_exact_throttle
from test_keys import keys_path, new_key, new_sa
from test_orgs import ORGS, Caller, add, members_path, new_org, roles_of
from test_orgs import new_user as new_user_caller

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


# --- the concurrency guarantees, requests alternating between node 1 and node 2 ---------
#
# The same rules as the one-server tests (test_hardening.py, test_auth.py,
# test_keys.py, test_orgs.py, test_device.py), each request sent through the
# front end on node 1 or the one on node 2 in turn: a locking read locks on
# its own node only, so what keeps them exact here is that the competitors
# write a common row and certification refuses all but one (schema/006_guards.sql).

WRONG = "not the password at all"
MAX_FAILURES = 5        # security.signin_max_failures: the config does not say
MAX_PER_ACCOUNT = 10    # api_keys.max_per_account: the config does not say
TOKEN = "/api/auth/v1/token"
DEVICE = "/api/auth/v1/device"
APPROVE = "/api/auth/v1/device/approve"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def fronts(g):
    return [g.a.url, g.b.url]


def together(calls):
    """Run the calls at the same moment, one thread each; what each returned
    (or the exception it raised)."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def go(i, fn):
        barrier.wait(timeout=60)
        try:
            out[i] = fn()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            out[i] = e

    threads = [threading.Thread(target=go, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    lost = [repr(r) for r in out if not hasattr(r, "status_code")]
    assert not lost, "requests without an answer: %s" % lost
    return out


def caller(g, base):
    """The administrator as a Caller on the front end at base."""
    c = Caller(base, admin_token(g, Client(base)))
    r = c.get("/api/org/v1/me")
    assert r.status_code == 200, r.text[:300]
    c.id = r.json()["user"]["id"]
    return c


def user_on_both(g, prefix="user"):
    """A user made through node 1, as a Caller on each front end."""
    a = caller(g, g.a.url)
    u = new_user(Client(g.a.url), a.token, unique_email(prefix))
    tok = signin(Client(g.b.url), u["email"]).json()["access_token"]
    return [Caller(base, tok, u["id"], u["email"]) for base in fronts(g)]


def assert_no_500(results):
    bad = [(r.status_code, r.text[:200]) for r in results if r.status_code >= 500
           and (r.status_code != 503 or not r.headers.get("Retry-After"))]
    assert not bad, bad


def spent_once(g, form, n=6):
    """The token endpoint given one form n times at once, alternately through
    node 1 and node 2: exactly one token response (returned), every other
    one 400 invalid_grant."""
    bases = fronts(g)
    clients = [Client(bases[i % 2]) for i in range(n)]
    for c in clients:  # connect first, so that the requests leave together
        c.get(HEALTH)
    results = together([lambda c=c: c.post(TOKEN, data=form) for c in clients])
    codes = [r.status_code for r in results]
    assert codes.count(200) == 1, [(r.status_code, r.text[:100]) for r in results]
    winner = results[codes.index(200)]
    for r in results:
        if r is not winner:
            assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text[:300]
    return winner.json()


def test_signin_throttle_exact_across_nodes(galera):
    """SPEC §5.2 across nodes: 20 simultaneous wrong sign-ins for one account,
    half through node 1 and half through node 2, each on a new connection:
    exactly signin_max_failures are 401, the rest 429 with Retry-After."""
    for _ in range(2):
        email = new_user(Client(galera.a.url), admin_token(galera, Client(galera.a.url)))["email"]
        bases = fronts(galera)
        clients = [Client(bases[i % 2]) for i in range(20)]
        results = together([lambda c=c: c.post(SIGNIN, json={"email": email, "password": WRONG},
                                                timeout=55) for c in clients])
        assert_exact_throttle(results, MAX_FAILURES)
        codes = [r.status_code for r in results]
        assert codes.count(401) == MAX_FAILURES, sorted(codes)
        # and the count is the cluster's: the right password is refused on both nodes
        for base in bases:
            assert signin(Client(base), email).status_code == 429


def test_refresh_token_spent_once_across_nodes(galera):
    """SPEC §5.3 across nodes: one refresh token presented six times at once,
    alternately through node 1 and node 2: exactly one token response, every
    other one invalid_grant; a spent token presented again is reuse, so the
    session is revoked and the winner's new refresh token is dead too, on
    either node."""
    bases = fronts(galera)
    email = new_user(Client(galera.a.url), admin_token(galera, Client(galera.a.url)))["email"]
    for _ in range(3):
        tok = signin(Client(galera.a.url), email).json()["refresh_token"]
        fresh = spent_once(galera, {"grant_type": "refresh_token",
                                    "refresh_token": tok})["refresh_token"]
        for base in bases:
            r = Client(base).post(TOKEN, data={"grant_type": "refresh_token",
                                               "refresh_token": fresh})
            assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text[:300]


def test_max_per_account_exact_across_nodes(galera):
    """SPEC §5.11 across nodes: 2 x max_per_account simultaneous key creations
    for one service account, alternating between the nodes: exactly
    max_per_account are 201, the others 409 (or a 503 with Retry-After when
    certification refused all of one's attempts), and that many are stored."""
    owners = [caller(galera, base) for base in fronts(galera)]
    org = new_org(owners[0])
    sa = new_sa(owners[1], org)  # made through node 2, used at once through both
    path = keys_path(org, sa["name"])
    n = 2 * MAX_PER_ACCOUNT
    callers = [owners[i % 2].fresh() for i in range(n)]
    results = together([lambda c=c, i=i: c.post(path, {"display_name": "race %d" % i})
                        for i, c in enumerate(callers)])
    assert_no_500(results)
    codes = collections.Counter(r.status_code for r in results)
    # all twenty write the service account's guard row: one whose three
    # attempts all lost certification is a 503 (with Retry-After), and the
    # other nineteen still fill the ten places exactly
    assert codes[201] == MAX_PER_ACCOUNT and codes[409] + codes[503] == n - MAX_PER_ACCOUNT, \
        (dict(codes), [r.text[:200] for r in results if r.status_code not in (201, 409)][:3])
    for o in owners:
        r = o.get(path + "?page_size=100")
        assert r.status_code == 200, r.text[:300]
        assert len(r.json()["items"]) == MAX_PER_ACCOUNT


@pytest.mark.parametrize("kind", ["demote-both", "leave-both", "demote-and-leave"])
def test_last_owner_safe_across_nodes(galera, kind):
    """The issue's race (both succeeded in ~40 % of rounds before the guards):
    two owners of one organization demote themselves or leave at the same
    moment, one through node 1 and the other through node 2. Every round:
    exactly one change goes through, the other is 409, one owner is left.
    LANYARD_GALERA_ROUNDS sets the rounds (6; 4,000 of leave-both passed here
    in 9 minutes, none failing)."""
    admin = caller(galera, galera.a.url)
    stack = type("Fronts", (), {"url": galera.a.url})
    for _ in range(int(os.environ.get("LANYARD_GALERA_ROUNDS", "6"))):
        a = new_user_caller(stack, admin, "ownera")
        b = new_user_caller(stack, admin, "ownerb")
        org = new_org(a)
        assert add(a, org, b, "owner").status_code == 201
        a1 = Caller(galera.a.url, a.token, a.id)   # node 1
        b1 = Caller(galera.b.url, b.token, b.id)   # node 2
        pa, pb = members_path(org, a.id), members_path(org, b.id)
        if kind == "demote-both":
            calls, ok = [lambda: a1.put(pa, {"role": "admin"}),
                         lambda: b1.put(pb, {"role": "admin"})], [200]
        elif kind == "leave-both":
            calls, ok = [lambda: a1.delete(pa), lambda: b1.delete(pb)], [204]
        else:
            calls, ok = [lambda: a1.put(pa, {"role": "admin"}), lambda: b1.delete(pb)], [200, 204]
        got = [r.status_code for r in together(calls)]
        assert got.count(409) == 1, "exactly one must lose: %s" % got
        assert [s for s in got if s != 409][0] in ok, got
        for base in fronts(galera):
            owners = [u for u, role in roles_of(Caller(base, admin.token), org).items()
                      if role == "owner"]
            assert len(owners) == 1, "one owner must remain: %s" % owners


def test_device_tokens_delivered_once_across_nodes(galera):
    """SPEC §5.12 across nodes: a device code approved through node 2, then
    polled six times at once, alternately through node 1 and node 2: one
    token response, the others invalid_grant; the tokens work on both."""
    user = user_on_both(galera, "device")
    bases = fronts(galera)
    for _ in range(3):
        r = Client(galera.a.url).post(DEVICE, data={})
        assert r.status_code == 200, r.text[:300]
        code = r.json()
        r = user[1].post(APPROVE, {"user_code": code["user_code"], "approve": True})
        assert r.status_code == 204, r.text[:300]
        tok = spent_once(galera, {"grant_type": DEVICE_GRANT,
                                  "device_code": code["device_code"]})["access_token"]
        for base in bases:
            me = Caller(base, tok).get("/api/org/v1/me")
            assert me.status_code == 200, me.text[:300]
            assert me.json()["user"]["id"] == user[0].id


def test_key_revoked_on_one_node_refused_at_once_on_the_other(galera):
    """SPEC §5.11 across nodes: a key deleted through node 1 is refused on the
    very next request through node 2, by each of its workers (a new
    connection per request), and through node 1 too."""
    owners = [caller(galera, base) for base in fronts(galera)]
    org = new_org(owners[0])
    sa = new_sa(owners[0], org)
    for _ in range(3):
        key = new_key(owners[0], org, sa["name"])
        for base in fronts(galera):
            for _ in range(4):
                r = Caller(base, key["token"]).get("/api/org/v1/me")
                assert r.status_code == 200, r.text[:300]
        r = owners[0].delete(keys_path(org, sa["name"], key["id"]))
        assert r.status_code == 204, r.text[:300]
        for base in [galera.b.url, galera.a.url]:
            for _ in range(4):
                r = Caller(base, key["token"]).get("/api/org/v1/me")
                assert r.status_code == 401, (base, r.status_code, r.text[:300])


def test_hot_org_row_across_nodes_is_2xx_or_503_never_500(galera):
    """Certification failures are retried like deadlocks (src/api/api.c, at
    most 3 attempts) and only then are a 503 with Retry-After: many
    simultaneous role changes in one organization and renames of it (which
    all write its row), alternating between the nodes. Every answer is 200 or a 503
    with Retry-After, never a 500; afterwards both nodes show the same
    members, each with the role of a change that was answered 200 (or the
    one it had), and the one owner."""
    owners = [caller(galera, base) for base in fronts(galera)]
    org = new_org(owners[0])
    stack = type("Fronts", (), {"url": galera.a.url})
    members = [new_user_caller(stack, owners[0], "hot") for _ in range(8)]
    for m in members:
        assert add(owners[0], org, m, "member").status_code == 201
    answers = collections.Counter()
    before = {m.id: "member" for m in members}
    display = owners[0].get("%s/%s" % (ORGS, org)).json()["display_name"]
    for rnd in range(3):
        calls, asked = [], []
        for i in range(16):
            m = members[i % len(members)]
            role = ("admin", "member")[(i // len(members) + rnd) % 2]
            c = owners[i % 2].fresh()
            calls.append(lambda c=c, m=m, role=role: c.put(members_path(org, m.id),
                                                           {"role": role}))
            asked.append((m.id, role))
        for i in range(8):  # and the organization's own row, through both nodes
            c, name = owners[i % 2].fresh(), "hot %d-%d" % (rnd, i)
            calls.append(lambda c=c, name=name: c.patch("%s/%s" % (ORGS, org),
                                                        {"display_name": name}))
            asked.append((None, name))
        results = together(calls)
        assert_no_500(results)
        answers.update(r.status_code for r in results)
        assert {r.status_code for r in results} <= {200, 503}, \
            [(r.status_code, r.text[:200]) for r in results if r.status_code not in (200, 503)]
        views = [roles_of(Caller(base, owners[0].token), org) for base in fronts(galera)]
        assert views[0] == views[1]
        assert [u for u, role in views[0].items() if role == "owner"] == [owners[0].id]
        for m in members:
            done = {role for (uid, role), r in zip(asked, results)
                    if uid == m.id and r.status_code == 200}
            assert views[0][m.id] in (done or {before[m.id]}), (m.id, views[0][m.id], done)
        before = {m.id: views[0][m.id] for m in members}
        r = owners[1].get("%s/%s" % (ORGS, org))
        assert r.status_code == 200 and r.json()["member_count"] == len(members) + 1, r.text[:300]
        names = {name for (uid, name), r in zip(asked, results)
                 if uid is None and r.status_code == 200}
        assert r.json()["display_name"] in (names or {display}), (r.json(), names)
        display = r.json()["display_name"]
    print("\nhot row answers: %s" % dict(answers))


def with_trigger(g, name, definition, call):
    """call() while the trigger lanyard.name (its definition after the name)
    is on the cluster: its answer, and what node 2's workers logged
    meanwhile. The trigger is dropped after, whatever happened (a trigger
    is DDL: Galera replicates it)."""
    log = os.path.join(g.workdir, "apache-node2", "lanyard-listen.log")
    n1 = g.cluster.nodes[0]
    n1.sql("CREATE TRIGGER lanyard.%s %s" % (name, definition))
    try:
        seen = os.path.getsize(log)
        r = call()
        with open(log, errors="replace") as f:
            f.seek(seen)
            return r, f.read()
    finally:
        n1.sql("DROP TRIGGER IF EXISTS lanyard.%s" % name)


def test_deadlock_every_attempt_is_503_after_three(galera):
    """A change whose every attempt ends in error 1213 (what Galera reports
    for a certification failure, like an InnoDB deadlock): the worker runs it
    three times (src/api/api.c MAX_ATTEMPTS), then answers 503 with
    Retry-After, never 500, and nothing of it stays. A trigger raising 1213 on
    every update of an organization's row stands in for a certification
    failure that keeps coming back (a trigger is DDL: Galera replicates it)."""
    owner = caller(galera, galera.b.url)
    org = new_org(owner)
    path = "%s/%s" % (ORGS, org)
    before = owner.get(path).json()["display_name"]
    # one statement (the client splits at ';'): every organization, for this test only
    r, text = with_trigger(galera, "ly_test_always_1213",
                           "BEFORE UPDATE ON lanyard.organizations FOR EACH ROW"
                           " SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213,"
                           " MESSAGE_TEXT = 'test: always a deadlock'",
                           lambda: owner.patch(path, {"display_name": "never stored"}))
    assert r.status_code == 503, r.text[:300]
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["status"] == 503
    assert text.count("retrying after a deadlock (attempt 2)") == 1, text[-2000:]
    assert text.count("retrying after a deadlock (attempt 3)") == 1, text[-2000:]
    assert "attempt 4" not in text
    # the DROP is applied on node 2 a moment after node 1 answered (TOI), and
    # a request meeting it there may be a 503 (seen once): wait for a 200
    got = []
    assert wait_for(lambda: got.append(owner.get(path)) or got[-1].status_code == 200, 15, 0.2), \
        [(r.status_code, r.text[:200]) for r in got[-3:]]
    assert got[-1].json()["display_name"] == before
    assert wait_for(lambda: owner.patch(path, {"display_name": "stored now"}).status_code == 200,
                    15, 0.2)
    assert Caller(galera.a.url, owner.token).get(path).json()["display_name"] == "stored now"


def test_guard_matching_no_row_of_an_owner_there_runs_again(galera):
    """Seen in CI (about once in thirty runs of
    test_max_per_account_exact_across_nodes): a key creation through node 1
    answered 404 "the key's owner no longer exists" at its first attempt,
    with no error from the server: the guard's UPDATE had matched no row
    of a service account that was there, as if the transaction had been
    aborted in its lock wait without a word (doc/decisions.md). Now the
    creation asks whether the owner is there, and if it is, its unit was
    lost: it runs again. A trigger keeping the guard as it was makes the
    UPDATE change no row at every attempt: three attempts, a 503 with
    Retry-After, the log says why, no key; without it the same call is 201."""
    owner = caller(galera, galera.b.url)
    org = new_org(owner)
    sa = new_sa(owner, org)
    path = keys_path(org, sa["name"])
    r, text = with_trigger(galera, "ly_test_guard_unchanged",
                           "BEFORE UPDATE ON lanyard.service_accounts FOR EACH ROW"
                           " SET NEW.guard = OLD.guard",
                           lambda: owner.post(path, {"display_name": "never stored"}))
    assert r.status_code == 503, r.text[:300]
    assert int(r.headers["Retry-After"]) >= 1
    lost = "api key creation's guard: the transaction ended without an error; running it again"
    assert text.count(lost) == 3, text[-2000:]
    assert text.count("retrying after a deadlock (attempt 3)") == 1, text[-2000:]
    # the DROP reaches node 2 a moment after node 1 answered (TOI)
    got = []
    assert wait_for(lambda: got.append(owner.post(path, {"display_name": "stored"}))
                    or got[-1].status_code == 201, 15, 0.2), \
        [(r.status_code, r.text[:200]) for r in got[-3:]]
    r = owner.get(path)
    assert r.status_code == 200, r.text[:300]
    assert [k["display_name"] for k in r.json()["items"]] == ["stored"]
