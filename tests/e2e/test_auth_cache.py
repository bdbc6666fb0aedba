"""The worker's verified-credential cache (issue 17; SPEC §4, §2
security.auth_cache_ttl) on stacks of four lighttpd workers with
auth_cache_ttl: 10s: the cache serves repeat checks (the hit counter of
lanyard_auth_cache_total grows), and still every revocation made on this host
is refused at once by every worker (the host's revocation generation,
doc/decisions.md): a deleted key, a signed-out session (opaque; JWT with
check_revocation), a removed member's personal key. A cached JWT past its exp
is refused (a stack with access_ttl 2s and no leeway)."""

import time
import uuid

import pytest

from conftest import Client, need_private, wait_for
from test_auth import SIGNOUT
from test_key_auth import (ME, _delete, _personal_key_world, World, assert_bearer_refused,
                           bearer, custom, burst, served_by, signin)
from test_metrics import sample

CACHE = ("security:\n", "security:\n  auth_cache_ttl: 10s\n")
REVOCATION = ("    algorithm: EdDSA\n", "    algorithm: EdDSA\n    check_revocation: true\n")

pytestmark = pytest.mark.stacks("lighttpd-jwt", "lighttpd-opaque")


@pytest.fixture
def four(stack, custom):
    need_private(stack)
    s = custom("cache-procs4", "lighttpd", stack.mode, procs=4, edits=[CACHE, REVOCATION])
    assert len(set(s.worker_pids())) == 4
    return s


def every_worker(s, headers, status, tag, path=ME, check=None):
    """Bursts of concurrent requests until the request log shows every worker
    answered one; every answer must have `status` (or pass check)."""
    pids, seen, rounds = set(s.worker_pids()), set(), 0
    while seen != pids and rounds < 40:
        res = burst(s.url, [headers] * 24, "%s-%d-%s" % (tag, rounds, uuid.uuid4().hex[:6]),
                    path=path, threads=24)
        for rid, r in res:
            if check is not None:
                check(r)
            else:
                assert r.status_code == status, (tag, rid, r.status_code, r.text[:200])
        rids = [rid for rid, _ in res]
        assert wait_for(lambda: len(served_by(s, rids)) == len(rids), 5), "request log lines missing"
        seen |= set(served_by(s, rids).values())
        rounds += 1
    assert seen == pids, "%s: reached %s of %s workers" % (tag, seen, pids)


def cache_counts(s):
    r = Client(s.url).get("/api/metrics")
    assert r.status_code == 200, r.text[:300]
    return {k: sample(r.text, "lanyard_auth_cache_total", result=k)
            for k in ("hit", "miss", "stale")}


def test_repeat_checks_are_served_by_the_cache(four):
    http = Client(four.url)
    world = World(four, http)
    before = cache_counts(four)
    every_worker(four, world.key.bearer, 200, "hits")
    after = cache_counts(four)
    # 4 workers each verify the key once at most; the rest of >= 24 answers are hits
    assert after["hit"] - before["hit"] >= 24 - 4, (before, after)
    assert after["miss"] > before["miss"], (before, after)


def test_deleted_key_is_refused_at_once_by_every_worker(four):
    http = Client(four.url)
    world = World(four, http)
    every_worker(four, world.key.bearer, 200, "key-warm")
    before = cache_counts(four)
    _delete(http, world, world.key, "key")
    every_worker(four, world.key.bearer, 401, "key-dead", check=assert_bearer_refused)
    assert cache_counts(four)["stale"] > before["stale"], "the workers' slots went stale"


def test_signed_out_session_is_refused_at_once_by_every_worker(four):
    http = Client(four.url)
    tok = signin(http, four.admin_email, four.admin_password)
    h = bearer(tok["access_token"])
    every_worker(four, h, 200, "session-warm")
    assert http.post(SIGNOUT, headers=h).status_code == 204
    # opaque: the token is revoked; JWT: check_revocation finds the session ended
    every_worker(four, h, 401, "session-dead", check=assert_bearer_refused)


def test_removed_members_personal_key_is_refused_at_once_by_every_worker(four):
    http = Client(four.url)
    world = World(four, http)
    user, pk, admin_only = _personal_key_world(http, world)
    every_worker(four, pk.bearer, 200, "pk-warm", path=admin_only)
    r = http.delete("/api/org/v1/orgs/%s/members/%s" % (world.org, user.id), headers=world.owner.h)
    assert r.status_code == 204, r.text[:300]
    every_worker(four, pk.bearer, 401, "pk-dead", path=admin_only,
                 check=lambda r: assert_bearer_refused(r, admin_only))


def test_an_expired_cached_jwt_is_refused(stack, custom):
    if stack.mode != "jwt":
        pytest.skip("JWT expiry: the opaque stack's tokens expire in the database, not the cache")
    need_private(stack)
    short = ("tokens:\n", "tokens:\n  access_ttl: 2s\n  leeway: 0s\n")
    s = custom("cache-short", "lighttpd", "jwt", edits=[CACHE, short])
    http = Client(s.url)
    tok = signin(http, s.admin_email, s.admin_password)
    h = bearer(tok["access_token"])
    before = cache_counts(s)
    for _ in range(3):
        assert http.get(ME, headers=h).status_code == 200
    assert cache_counts(s)["hit"] > before["hit"], "the token was served from the cache"
    # exp is whole seconds: past it, whatever the cache held, the token is refused
    time.sleep(3.2)
    for _ in range(3):
        assert_bearer_refused(http.get(ME, headers=h))
