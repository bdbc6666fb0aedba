"""GET /api/metrics (SPEC §6, issue 20): the Prometheus text exposition from
loopback, and the request counts of a known load summed over the workers.
Still to come: the scrape by a real Prometheus and the every-worker test
(the branch report says so)."""

import re
import shutil
import subprocess

import pytest

CHECK = "/api/auth/v1/check"


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
