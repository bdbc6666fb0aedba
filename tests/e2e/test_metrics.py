"""GET /api/metrics (SPEC §6, issue 20): the Prometheus text exposition from
loopback; the request counts of a known load summed over the workers; a real
Prometheus (Debian's, a private instance on loopback) scraping it and the
series read back through its query API; the sums whatever worker answers the
load and the scrape (the answering worker found by its request log line); and
the 404 of a stack whose metrics_from leaves 127.0.0.1 out."""

import concurrent.futures
import os
import re
import shutil
import subprocess
import uuid

import pytest

from conftest import Client, need_private, wait_for
from harness import prometheus as hp
from harness import stack as hs
from harness.proc import read_log
from harness.stack import unique_email

CHECK = "/api/auth/v1/check"
SIGNIN = "/api/auth/v1/signin"


def sample(text, name, **labels):
    """The value of one sample, or 0 when its row is absent (never counted)."""
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    line = "%s{%s} " % (name, want) if labels else name + " "
    for row in text.splitlines():
        if row.startswith(line):
            return float(row[len(line):])
    return 0.0


def test_metrics_count_a_known_load(http):
    r = http.get("/api/metrics")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    assert "# TYPE lanyard_http_requests_total counter" in r.text
    assert re.search(r"^lanyard_worker_slots [1-9]", r.text, re.M), r.text[-300:]
    before = sample(r.text, "lanyard_http_requests_total", method="GET", route=CHECK, code="4xx")
    hist0 = sample(r.text, "lanyard_request_duration_seconds_count", route=CHECK)
    n = 7
    for _ in range(n):
        assert http.get(CHECK).status_code == 401
    r = http.get("/api/metrics")
    after = sample(r.text, "lanyard_http_requests_total", method="GET", route=CHECK, code="4xx")
    assert after - before == n, r.text[:2000]
    assert sample(r.text, "lanyard_request_duration_seconds_count", route=CHECK) - hist0 == n


def test_metrics_pass_promtool(http):
    """Prometheus's own linter (Debian's prometheus ships promtool) reads the exposition."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    r = http.get("/api/metrics")
    assert r.status_code == 200
    p = subprocess.run([promtool, "check", "metrics"], input=r.content, capture_output=True,
                       timeout=30)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()[:2000]


# --- a real Prometheus --------------------------------------------------------

# The rows the known load moves, as Prometheus is asked for them and as the
# exposition names them (one target: the sums are that target's values).
SERIES = {
    "check_4xx": ('sum(lanyard_http_requests_total{method="GET",route="%s",code="4xx"})' % CHECK,
                  ("lanyard_http_requests_total", {"method": "GET", "route": CHECK,
                                                   "code": "4xx"})),
    "check_count": ('sum(lanyard_request_duration_seconds_count{route="%s"})' % CHECK,
                    ("lanyard_request_duration_seconds_count", {"route": CHECK})),
    "signin_4xx": ('sum(lanyard_http_requests_total{method="POST",route="%s",code="4xx"})'
                   % SIGNIN,
                   ("lanyard_http_requests_total", {"method": "POST", "route": SIGNIN,
                                                    "code": "4xx"})),
    "bad_credentials": ('sum(lanyard_signins_total{outcome="bad_credentials"})',
                        ("lanyard_signins_total", {"outcome": "bad_credentials"})),
}


@pytest.fixture
def prometheus(stack, http, e2e_env):
    """A private Prometheus scraping this stack every second; stopped by PID
    after the test, passed or failed."""
    need_private(stack)
    if not hp.available():
        pytest.fail("prometheus is not installed (apt-get install prometheus; "
                    "tests/run-all.sh installs it)", pytrace=False)
    prom = hp.Prometheus(os.path.join(e2e_env.workdir, "prometheus-" + stack.id),
                         "127.0.0.1:%d" % http.port)
    prom.start()
    yield prom
    prom.stop()


def prom_values(prom):
    return {k: prom.value(q) or 0.0 for k, (q, _) in SERIES.items()}


def direct_values(http):
    r = http.get("/api/metrics")
    assert r.status_code == 200, r.text[:300]
    return {k: sample(r.text, name, **labels) for k, (_, (name, labels)) in SERIES.items()}


def test_prometheus_scrapes_a_known_load(prometheus, http):
    """Prometheus's own scrape, read back through /api/v1/query, moves by
    exactly the known load: 9 checks without a credential (401) and 4
    sign-ins of unknown accounts (401, bad_credentials)."""
    prom = prometheus
    # Before: Prometheus has scraped since the last of the earlier tests'
    # requests (its values are those of a scrape made now).
    settled = {}

    def caught_up():
        if prom.value('up{job="lanyard"}') != 1:
            return False
        now = direct_values(http)
        settled.update(now)
        return prom_values(prom) == now

    assert wait_for(caught_up, timeout=20, interval=0.5), (
        "Prometheus never showed the scraped values %r: %r\n%s"
        % (settled, prom_values(prom), prom.log_tail()))
    before = dict(settled)
    n_checks, n_bad = 9, 4
    for _ in range(n_checks):
        assert http.get(CHECK).status_code == 401
    for _ in range(n_bad):
        r = http.post(SIGNIN, json={"email": unique_email("nobody"), "password": "wrong-one"})
        assert r.status_code == 401, r.text[:300]
    want = dict(before)
    want["check_4xx"] += n_checks
    want["check_count"] += n_checks
    want["signin_4xx"] += n_bad
    want["bad_credentials"] += n_bad
    got = wait_for(lambda: prom_values(prom) == want and prom_values(prom), timeout=20,
                   interval=0.5)
    assert got == want, "before %r, after the load Prometheus says %r" % (before, prom_values(prom))
    # and exactly that: no scrape later shows more than was sent
    assert direct_values(http) == want


# --- the sums cover every worker ------------------------------------------------

def worker_log(stack):
    """What the workers wrote on stderr: lighttpd's own output (the workers it
    spawns inherit it), `lanyard --listen`'s log under Apache."""
    text = stack.frontend_log()
    if stack.server is not None and stack.server.server is not None:
        text += read_log(stack.server.server.log_path)
    if getattr(stack, "listen", None) is not None and stack.listen.server is not None:
        text += read_log(stack.listen.server.log_path)
    return text


def answered_by(stack, rids):
    """{request id: PID of the worker whose request log line carries it}, once
    every one is found (the line may be written a moment after the answer)."""
    found = {}

    def scan():
        text = worker_log(stack)
        for rid in rids:
            if rid not in found:
                m = re.search(r"\[(\d+)\] info request_id=%s:" % re.escape(rid), text)
                if m:
                    found[rid] = int(m.group(1))
        return len(found) == len(rids)

    assert wait_for(scan, timeout=10), "no request log line for %s" % sorted(set(rids) - set(found))
    return found


def test_sums_cover_every_worker(stack, http):
    """Checks answered by at least two workers are all counted by a scrape,
    whichever worker answers the scrape (scraped several times, at once)."""
    need_private(stack)
    # lighttpd and --listen run two workers from the start; mod_fcgid starts one and
    # spawns more when the requests at once find every process busy
    fcgid = stack.frontend == "fcgid"
    assert fcgid or len(stack.worker_pids()) >= 2, "the stack runs %r" % stack.worker_pids()
    key = ("lanyard_http_requests_total", {"method": "GET", "route": CHECK, "code": "4xx"})
    before = sample(http.get("/api/metrics").text, key[0], **key[1])

    def get(path, rid):
        # one client per thread: a requests.Session is not thread-safe
        r = Client(http.base).get(path, headers={"X-Request-Id": rid})
        return rid, r

    sent, pids = 0, {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        # Requests at once, so that the front end hands them to more than one
        # worker; rounds until two answered (bounded).
        for _ in range(40 if fcgid else 8):
            rids = ["mw-%s" % uuid.uuid4().hex for _ in range(24)]
            for rid, r in pool.map(lambda rid: get(CHECK, rid), rids):
                assert r.status_code == 401, r.text[:300]
            sent += len(rids)
            pids.update(answered_by(stack, rids))
            if len(set(pids.values())) >= 2:
                break
        load_pids = set(pids.values())
        assert len(load_pids) >= 2, "only worker %r answered %d checks" % (load_pids, sent)
        scrape_rids = ["ms-%s" % uuid.uuid4().hex for _ in range(12)]
        scrapes = list(pool.map(lambda rid: get("/api/metrics", rid), scrape_rids))
    scrapers = answered_by(stack, scrape_rids)
    for rid, r in scrapes:
        assert r.status_code == 200, r.text[:300]
        got = sample(r.text, key[0], **key[1]) - before
        assert got == sent, ("the scrape answered by worker %d counts %d of the %d checks "
                             "(answered by %r)" % (scrapers[rid], got, sent, sorted(load_pids)))
        slots = sample(r.text, "lanyard_worker_slots")
        assert slots >= len(load_pids), "%d slots summed, %d workers answered" % (slots,
                                                                               len(load_pids))
    # Every scrape was answered by one worker and counted checks another one answered.
    for rid in scrape_rids:
        assert load_pids - {scrapers[rid]}, (scrapers[rid], load_pids)


# --- 404 outside metrics_from ---------------------------------------------------

class RestrictedStack(hs.Stack):
    """The harness's stack of the same front end and mode, whose config lets
    only 10.0.0.0/8 read the metrics (loopback is left out)."""

    def __init__(self, env, frontend, mode):
        super().__init__(env, frontend, mode)
        self.id = "%s-%s-metrics-from" % (frontend, mode)
        self.dir = os.path.join(env.workdir, self.id)
        os.makedirs(self.dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, "lanyard.yaml")

    def _write_config(self, port):
        super()._write_config(port)
        with open(self.config_path) as f:
            text = f.read()
        assert text.count("\nserver:\n") == 1, text
        text = text.replace("\nserver:\n", "\nserver:\n  metrics_from: [10.0.0.0/8]\n")
        with open(self.config_path, "w") as f:
            f.write(text)


def test_metrics_404_outside_metrics_from(stack, http, e2e_env):
    """From an address not in metrics_from, /api/metrics answers exactly as an
    unknown path does; the default stack answers the same request 200."""
    need_private(stack)
    assert http.get("/api/metrics").status_code == 200
    s = RestrictedStack(e2e_env, stack.frontend, stack.mode)
    try:
        s.start()
        c = Client(s.url)
        r = c.get("/api/metrics")
        unknown = c.get("/api/no-such-endpoint")
        # the harness finds the workers' metrics directory by the code's rule ...
        made = hs.metrics_dirs(s.config_path)
    finally:
        s.stop()
    assert len(made) == 1, made
    # ... and removes it when it stops the stack
    assert not os.path.exists(made[0]), made
    assert r.status_code == unknown.status_code == 404, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"] == unknown.headers["Content-Type"], (r.headers,
                                                                          unknown.headers)
    assert set(r.headers) == set(unknown.headers), (r.headers, unknown.headers)
    assert r.json() == unknown.json(), (r.text, unknown.text)
    assert "lanyard_" not in r.text
