"""Forward authentication with a real nginx (SPEC §5.7, doc/forward-auth.md):
Debian's nginx, configured by including the shipped
etc/nginx/lanyard-forward-auth.conf as a user would, protects a static
directory and a small "protected service" through `auth_request` to the
stack's `GET /api/auth/v1/check`.

The protected service is a second nginx server on the same port (reached
through `upstream echo`) that answers with the request headers it received,
so a test sees exactly what a service behind the guard would get. Paths
carry the check's parameters, taken by regex captures into $lanyard_query:

    /static/FILE                     a plain check (any valid credential)
    /files/ORG/ROLE/FILE             org=ORG&role=ROLE, a static file
    /echo/ORG/ROLE/...               org=ORG&role=ROLE, the echo service
    /repo/RESOURCE/FILE              resource=RESOURCE (may contain "/")
    /custom/...                      a location with its own proxy_set_header
                                     (includes lanyard-forward-auth-headers.conf)
    /open/...                        auth_request off

Credentials: a user's access token, a service account's API key (Bearer and
Basic), a token exchanged with it, and a key scoped to one resource, used
inside and outside it."""

import base64
import os
import subprocess
import time

import pytest
import requests

from conftest import TIMEOUT
from harness.lanyard import ListenWorker
from harness.nginx import Nginx, nginx_bin
from harness.proc import free_port
from harness.stack import unique
from test_keys import keys_path, new_key, new_sa
from test_orgs import add, admin_of, new_org, new_user

HELLO = "hello from the protected directory\n"
CHECK = "/api/auth/v1/check"
TOKEN = "/api/auth/v1/token"


def srcdir():
    return os.environ.get("LANYARD_SRCDIR") or os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))


def snippet(name):
    return os.path.join(os.path.abspath(srcdir()), "etc", "nginx", name)


# The two shipped ways to the check: through Lanyard's front end (HTTP) or
# straight to `lanyard --listen` workers (FastCGI), with the upstream each
# snippet's header comment names.
VARIANTS = {"proxy": ("lanyard-forward-auth.conf", "lanyard"),
            "fastcgi": ("lanyard-forward-auth-fastcgi.conf", "lanyard_fcgi")}


def site(port, lanyard, htdocs, variant="proxy"):
    """Inside http { }: Lanyard as the snippet's upstream, the guarded server
    (the shipped snippet included as documented) and the echo service."""
    name, upstream = VARIANTS[variant]
    return """\
upstream {upstream} {{
    server {lanyard};
    keepalive 16;
}}
upstream echo {{
    server 127.0.0.1:{port};
}}

server {{
    listen 127.0.0.1:{port} default_server;
    server_name guard;
    root "{htdocs}";
    include "{snippet}";

    location = /.ready {{
        auth_request off;
        return 200 "ready\\n";
    }}
    location /static/ {{
    }}
    location ~ ^/files/(?<org>[^/]+)/(?<role>[^/]+)/(?<file>[^/]+)$ {{
        set $lanyard_query "org=$org&role=$role";
        alias "{htdocs}/static/$file";
    }}
    location ~ ^/echo/(?<org>[^/]+)/(?<role>[^/]+)/ {{
        set $lanyard_query "org=$org&role=$role";
        proxy_pass http://echo;
    }}
    location ~ ^/repo/(?<resource>.+)/[^/]+$ {{
        set $lanyard_query "resource=$resource";
        proxy_pass http://echo;
    }}
    location /custom/ {{
        set $lanyard_query "";
        proxy_set_header X-Custom yes;
        include "{headers}";
        proxy_pass http://echo;
    }}
    location /open/ {{
        auth_request off;
        proxy_pass http://echo;
    }}
}}

# The protected service: it shows what reached it.
server {{
    listen 127.0.0.1:{port};
    server_name echo;
    default_type text/plain;
    location / {{
        return 200 "subject=$http_x_lanyard_subject\\ntype=$http_x_lanyard_principal_type\\norg=$http_x_lanyard_org\\ncustom=$http_x_custom\\nuri=$request_uri\\n";
    }}
}}
""".format(port=port, lanyard=lanyard, htdocs=htdocs, snippet=snippet(name), upstream=upstream,
           headers=snippet("lanyard-forward-auth-headers.conf"))


def hostport(url):
    return url.split("//", 1)[1].split("/", 1)[0]


def cached_site(port, lanyard, htdocs, workdir, variant="proxy"):
    """site() with the snippet's optional cache on, as its comment says: the
    zone declared in http { } and the "#cache " marks removed."""
    name = VARIANTS[variant][0]
    cached = os.path.join(workdir, name)
    with open(snippet(name)) as f:
        text = f.read()
    assert "#cache " in text
    with open(cached, "w") as f:
        f.write(text.replace("#cache ", ""))
    zone = ('%s_cache_path "%s/cache" keys_zone=lanyard_check:1m max_size=16m inactive=10s;\n'
            % (variant, workdir))
    return zone + site(port, lanyard, htdocs, variant).replace(snippet(name), cached)


def start_guard(stack, tmp_path_factory, name, body, lanyard=None):
    """A private nginx in the stack's directory (a temporary one for an
    external stack) with the static file, serving body(port, lanyard,
    htdocs, workdir) inside http { }; lanyard is the stack's front end
    unless another address is given."""
    workdir = (os.path.join(stack.dir, name) if not stack.external
               else str(tmp_path_factory.mktemp(name)))
    htdocs = os.path.join(workdir, "htdocs")
    os.makedirs(os.path.join(htdocs, "static"), exist_ok=True)
    with open(os.path.join(htdocs, "static", "hello.txt"), "w") as f:
        f.write(HELLO)
    lanyard = lanyard or hostport(stack.url)
    ngx = Nginx(workdir=workdir, http_body=lambda port: body(port, lanyard, htdocs, workdir))
    ngx.start()
    return ngx


@pytest.fixture(scope="module")
def cached_guard(stack, tmp_path_factory):
    """A second private nginx, with the snippet's 5 s cache of the check on."""
    ngx = start_guard(stack, tmp_path_factory, "nginx-forward-auth-cached", cached_site)
    yield ngx
    ngx.stop()


@pytest.fixture(scope="module")
def guard(stack, tmp_path_factory):
    """A private nginx guarding with the stack's check, for this module."""
    ngx = start_guard(stack, tmp_path_factory, "nginx-forward-auth",
                      lambda port, lanyard, htdocs, workdir: site(port, lanyard, htdocs))
    yield ngx
    ngx.stop()


@pytest.fixture(scope="module")
def workers(stack):
    """`lanyard --listen` of the stack's own config and database, for nginx
    to ask over FastCGI: one worker, so that nginx's kept connections (more
    than one under concurrent clients) must all be served by it."""
    if stack.external:
        pytest.skip("straight to the workers needs a `lanyard --listen` of the stack's config, "
                    "which an external URL does not give")
    lw = ListenWorker(stack.build, stack.config_path, stack.dir, workers=1,
                      name="lanyard-listen-nginx").start()
    yield lw
    lw.stop()


def fcgi_guard_of(stack, tmp_path_factory, workers, name, cached):
    def body(port, lanyard, htdocs, workdir):
        if cached:
            return cached_site(port, lanyard, htdocs, workdir, "fastcgi")
        return site(port, lanyard, htdocs, "fastcgi")
    return start_guard(stack, tmp_path_factory, name, body, lanyard="127.0.0.1:%d" % workers.port)


@pytest.fixture(scope="module")
def fcgi_guard(stack, tmp_path_factory, workers):
    """A private nginx with lanyard-forward-auth-fastcgi.conf, straight to
    the workers."""
    ngx = fcgi_guard_of(stack, tmp_path_factory, workers, "nginx-forward-auth-fcgi", False)
    yield ngx
    ngx.stop()


@pytest.fixture(scope="module")
def fcgi_cached_guard(stack, tmp_path_factory, workers):
    """fcgi_guard with the snippet's 5 s cache on."""
    ngx = fcgi_guard_of(stack, tmp_path_factory, workers, "nginx-forward-auth-fcgi-cached", True)
    yield ngx
    ngx.stop()


class Guarded:
    """A client of the guarded server presenting one credential."""

    def __init__(self, base, authorization=None):
        self.base = base
        self.s = requests.Session()
        if authorization:
            self.s.headers["Authorization"] = authorization

    def get(self, path, **kw):
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.s.get(self.base + path, **kw)

    def seen(self, path, **kw):
        """GET through the guard: what the echo service received, as a dict."""
        r = self.get(path, **kw)
        assert r.status_code == 200, "%s: %d %s" % (path, r.status_code, r.text[:300])
        return dict(line.split("=", 1) for line in r.text.splitlines())


def bearer(token):
    return "Bearer " + token


def basic(key):
    return "Basic " + base64.b64encode(("%s:%s" % (key["id"], key["secret"])).encode()).decode()


def assert_passed(seen, subject, ptype, org):
    assert seen["subject"] == subject, seen
    assert seen["type"] == ptype, seen
    assert seen["org"] == org, seen


def assert_401(r, scheme="Bearer"):
    assert r.status_code == 401, "%d %s" % (r.status_code, r.text[:300])
    www = r.headers.get("WWW-Authenticate", "")
    assert www.startswith('%s realm="lanyard"' % scheme), www
    return www


def assert_403(r):
    assert r.status_code == 403, "%d %s" % (r.status_code, r.text[:300])
    # nothing of the protected service came back
    assert "subject=" not in r.text


def make_world(stack, prefix):
    """An organization with an owner and a member, an outsider's organization,
    a member service account and an admin one with keys, and a scoped key
    (also test_forward_auth_lighttpd.py's)."""
    class W:
        pass
    w = W()
    admin = admin_of(stack)
    w.owner = new_user(stack, admin, prefix + "-owner")
    w.member = new_user(stack, admin, prefix + "-member")
    w.outsider = new_user(stack, admin, prefix + "-outsider")
    w.org = new_org(w.owner, prefix)
    w.other = new_org(w.outsider, prefix + "-other")
    assert add(w.owner, w.org, w.member, "member").status_code == 201
    w.sa = new_sa(w.owner, w.org, role="member")
    w.key = new_key(w.owner, w.org, w.sa["name"])
    w.sa_admin = new_sa(w.owner, w.org, role="admin")
    w.admin_key = new_key(w.owner, w.org, w.sa_admin["name"])
    w.resource = "%s/sentinel-%s" % (w.org, unique("r"))
    w.scoped = new_key(w.owner, w.org, w.sa["name"], resource=w.resource)
    return w


@pytest.fixture(scope="module")
def world(stack, guard):
    w = make_world(stack, "fa")
    w.base = guard.url
    return w


# --- the shipped snippet ---------------------------------------------------------------

@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("cached", [False, True], ids=["plain", "cached"])
def test_nginx_t_accepts_the_shipped_snippets(tmp_path, variant, cached):
    """`nginx -t` of a config including the check's snippet (through the
    front end or straight to the workers, with its cache on or off) and the
    headers snippet, as doc/forward-auth.md says."""
    htdocs = str(tmp_path / "htdocs")
    os.makedirs(htdocs)
    body = ((lambda port: cached_site(port, "127.0.0.1:9", htdocs, str(tmp_path), variant))
            if cached else (lambda port: site(port, "127.0.0.1:9", htdocs, variant)))
    ngx = Nginx(workdir=str(tmp_path), http_body=body)
    ok, out = ngx.check()
    assert ok, out
    assert "test is successful" in out, out


def test_nginx_t_refuses_a_broken_include(tmp_path):
    """The -t above can fail: the same config with the snippet's check
    location twice (included twice in one server) is refused."""
    htdocs = str(tmp_path / "htdocs")
    os.makedirs(htdocs)
    inc = 'include "%s";' % snippet("lanyard-forward-auth.conf")
    ngx = Nginx(workdir=str(tmp_path), http_body=lambda port: site(port, "127.0.0.1:9", htdocs)
                .replace(inc, inc + "\n    " + inc, 1))
    ok, out = ngx.check()
    assert not ok and "duplicate" in out, out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_lanyard_unreachable_fails_closed(tmp_path, variant):
    """With nothing answering at the check's upstream, a protected path is
    500 and an open one still works."""
    htdocs = str(tmp_path / "htdocs")
    os.makedirs(os.path.join(htdocs, "static"))
    with open(os.path.join(htdocs, "static", "hello.txt"), "w") as f:
        f.write(HELLO)
    dead = "127.0.0.1:%d" % free_port()
    ngx = Nginx(workdir=str(tmp_path),
                http_body=lambda port: site(port, dead, htdocs, variant)).start()
    try:
        g = Guarded(ngx.url, "Bearer lya_whatever")
        r = g.get("/static/hello.txt")
        assert r.status_code == 500 and HELLO not in r.text, (r.status_code, r.text[:200])
        assert g.seen("/open/x")["subject"] == ""
    finally:
        ngx.stop()


def test_the_nginx_has_auth_request():
    out = subprocess.run([nginx_bin(), "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=10).stdout.decode()
    assert "http_auth_request_module" in out, out


# --- no or bad credential: 401 with the challenge -------------------------------------------

def test_no_credential_is_401_with_challenge(stack, world):
    g = Guarded(world.base)
    for path in ("/static/hello.txt", "/files/%s/member/hello.txt" % world.org,
                 "/echo/%s/member/x" % world.org, "/repo/%s/x" % world.resource):
        r = g.get(path)
        www = assert_401(r)
        assert "error=" not in www, www  # nothing was sent, nothing was rejected
        assert HELLO not in r.text


def test_bad_bearer_is_401_invalid_token(stack, world):
    r = Guarded(world.base, bearer("lya_" + "x" * 49)).get("/static/hello.txt")
    www = assert_401(r)
    assert 'error="invalid_token"' in www, www


def test_bad_basic_is_401_basic_challenge(stack, world):
    bad = dict(world.key, secret=world.key["secret"][:-1] + ("A" if world.key["secret"][-1] != "A"
                                                             else "B"))
    r = Guarded(world.base, basic(bad)).get("/static/hello.txt")
    assert_401(r, "Basic")


def test_open_location_needs_nothing_and_passes_no_forged_identity(stack, world):
    seen = Guarded(world.base).seen("/open/x", headers={"X-Lanyard-Subject": "u-forged",
                                                        "X-Lanyard-Org": "forged"})
    assert seen["subject"] == "" and seen["org"] == "" and seen["type"] == "", seen


# --- a user's access token ----------------------------------------------------------------

def test_user_token_gets_the_file_and_its_identity(stack, world):
    g = Guarded(world.base, bearer(world.owner.token))
    r = g.get("/static/hello.txt")
    assert r.status_code == 200 and r.text == HELLO, (r.status_code, r.text[:200])
    r = g.get("/files/%s/owner/hello.txt" % world.org)
    assert r.status_code == 200 and r.text == HELLO, (r.status_code, r.text[:200])
    # no org asked: no X-Lanyard-Org for a user
    assert_passed(g.seen("/custom/x"), world.owner.id, "user", "")
    assert_passed(g.seen("/echo/%s/owner/x" % world.org), world.owner.id, "user", world.org)


def test_forged_identity_headers_are_replaced(stack, world):
    g = Guarded(world.base, bearer(world.member.token))
    seen = g.seen("/echo/%s/member/x" % world.org,
                  headers={"X-Lanyard-Subject": "u-forged", "X-Lanyard-Principal-Type": "x",
                           "X-Lanyard-Org": world.other})
    assert_passed(seen, world.member.id, "user", world.org)
    seen = g.seen("/custom/x", headers={"X-Lanyard-Subject": "u-forged"})
    assert seen["custom"] == "yes", seen  # the location's own header is there too
    assert_passed(seen, world.member.id, "user", "")


def test_user_role_from_the_path(stack, world):
    m = Guarded(world.base, bearer(world.member.token))
    assert_passed(m.seen("/echo/%s/member/x" % world.org), world.member.id, "user", world.org)
    assert m.get("/files/%s/member/hello.txt" % world.org).text == HELLO
    for role in ("admin", "owner"):
        assert_403(m.get("/echo/%s/%s/x" % (world.org, role)))
        assert_403(m.get("/files/%s/%s/hello.txt" % (world.org, role)))
    o = Guarded(world.base, bearer(world.owner.token))
    for role in ("member", "admin", "owner"):
        assert o.get("/files/%s/%s/hello.txt" % (world.org, role)).text == HELLO


def test_user_outside_the_org_is_403(stack, world):
    g = Guarded(world.base, bearer(world.outsider.token))
    assert_403(g.get("/echo/%s/member/x" % world.org))
    assert_403(g.get("/files/%s/member/hello.txt" % world.org))
    # an organization that does not exist: 403 too, never the file
    assert_403(g.get("/echo/%s/member/x" % unique("nosuch")))
    # the outsider's own organization passes
    assert_passed(g.seen("/echo/%s/owner/x" % world.other), world.outsider.id, "user",
                  world.other)


def test_platform_admin_passes_any_existing_org(stack, world):
    admin = admin_of(stack)
    g = Guarded(world.base, bearer(admin.token))
    assert_passed(g.seen("/echo/%s/owner/x" % world.org), admin.id, "user", world.org)


def test_malformed_parameters_fail_closed(stack, world):
    """Lanyard answers 400 for an unknown role or a malformed org: nginx's
    auth_request turns it into 500, never into a pass."""
    g = Guarded(world.base, bearer(world.owner.token))
    for path in ("/echo/%s/superuser/x" % world.org, "/echo/NOT_A_NAME/member/x"):
        r = g.get(path)
        assert r.status_code == 500, "%s: %d %s" % (path, r.status_code, r.text[:200])
        assert "subject=" not in r.text


# --- a service account's API key -------------------------------------------------------------

@pytest.mark.parametrize("how", ["bearer", "basic"])
def test_service_account_key(stack, world, how):
    auth = bearer(world.key["token"]) if how == "bearer" else basic(world.key)
    g = Guarded(world.base, auth)
    sa = world.sa["id"]
    r = g.get("/static/hello.txt")
    assert r.status_code == 200 and r.text == HELLO, (r.status_code, r.text[:200])
    # its organization is named even when none was asked
    assert_passed(g.seen("/custom/x"), sa, "service_account", world.org)
    assert_passed(g.seen("/echo/%s/member/x" % world.org), sa, "service_account", world.org)
    # a member account: not admin, not owner, not another organization
    assert_403(g.get("/echo/%s/admin/x" % world.org))
    assert_403(g.get("/echo/%s/owner/x" % world.org))
    assert_403(g.get("/echo/%s/member/x" % world.other))
    # unscoped: any resource passes
    assert_passed(g.seen("/repo/anything/at/all/x"), sa, "service_account", world.org)


def test_admin_service_account_is_admin_not_owner(stack, world):
    g = Guarded(world.base, basic(world.admin_key))
    assert_passed(g.seen("/echo/%s/admin/x" % world.org), world.sa_admin["id"],
                  "service_account", world.org)
    assert_403(g.get("/echo/%s/owner/x" % world.org))


def test_exchanged_service_account_token(stack, world):
    r = requests.post(stack.url + TOKEN, data={"grant_type": "client_credentials"},
                      headers={"Authorization": basic(world.key)}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text[:300]
    g = Guarded(world.base, bearer(r.json()["access_token"]))
    assert_passed(g.seen("/echo/%s/member/x" % world.org), world.sa["id"], "service_account",
                  world.org)
    assert_403(g.get("/echo/%s/admin/x" % world.org))


# --- a key scoped to one resource ----------------------------------------------------------

@pytest.mark.parametrize("how", ["bearer", "basic"])
def test_scoped_key_inside_its_resource(stack, world, how):
    auth = bearer(world.scoped["token"]) if how == "bearer" else basic(world.scoped)
    g = Guarded(world.base, auth)
    sa = world.sa["id"]
    # the resource itself, and what lies under it
    seen = g.seen("/repo/%s/x" % world.resource)
    assert_passed(seen, sa, "service_account", world.org)
    assert seen["uri"] == "/repo/%s/x" % world.resource, seen
    assert_passed(g.seen("/repo/%s/docs/readme" % world.resource), sa, "service_account",
                  world.org)


@pytest.mark.parametrize("how", ["bearer", "basic"])
def test_scoped_key_outside_its_resource(stack, world, how):
    auth = bearer(world.scoped["token"]) if how == "bearer" else basic(world.scoped)
    g = Guarded(world.base, auth)
    # another resource, one that merely starts with the same characters, the
    # parent, and a check that names no resource at all
    for path in ("/repo/%s/other/x" % world.org, "/repo/%sx/y" % world.resource,
                 "/repo/%s/y" % world.org, "/static/hello.txt", "/custom/x",
                 "/echo/%s/member/x" % world.org):
        r = g.get(path)
        assert_403(r)
        assert HELLO not in r.text


def test_a_deleted_key_is_refused_at_once(stack, world):
    key = new_key(world.owner, world.org, world.sa["name"])
    g = Guarded(world.base, bearer(key["token"]))
    assert g.get("/static/hello.txt").status_code == 200
    r = world.owner.delete(keys_path(world.org, world.sa["name"], key["id"]))
    assert r.status_code == 204, r.text[:300]
    r = g.get("/static/hello.txt")
    assert_401(r)
    assert HELLO not in r.text


def test_the_cached_check_keeps_each_answer_to_its_credential_for_5_s(stack, world,
                                                                     cached_guard):
    """The snippet's optional cache (doc/forward-auth.md, "Caching the check"):
    each credential keeps its own answer and identity, a refusal is cached
    as a refusal, and a deleted key goes on passing for at most the cache's
    5 s (the documented revocation lag), then is refused."""
    assert_cache_keeps_answers_for_5_s(world, cached_guard.url)


def assert_cache_keeps_answers_for_5_s(world, base):
    key = new_key(world.owner, world.org, world.sa["name"])
    g = Guarded(base, bearer(key["token"]))
    user = Guarded(base, bearer(world.member.token))
    for _ in range(3):  # alternating: a hit never answers for the other credential
        assert_passed(g.seen("/echo/%s/member/x" % world.org), world.sa["id"], "service_account",
                      world.org)
        assert_passed(user.seen("/echo/%s/member/x" % world.org), world.member.id, "user",
                      world.org)
    assert_403(user.get("/echo/%s/admin/x" % world.org))  # another query, its own answer
    bad = Guarded(base, bearer(key["token"][:-1] + ("A" if key["token"][-1] != "A" else "B")))
    assert_401(bad.get("/static/hello.txt"))
    assert_401(bad.get("/static/hello.txt"))
    assert Guarded(base).get("/static/hello.txt").status_code == 401
    assert g.get("/static/hello.txt").text == HELLO  # the answer the deletion must outlive
    r = world.owner.delete(keys_path(world.org, world.sa["name"], key["id"]))
    assert r.status_code == 204, r.text[:300]
    t0 = time.monotonic()
    late = g.get("/static/hello.txt")
    if time.monotonic() - t0 < 4:  # the cached 200 stands (the lag the snippet documents)
        assert late.status_code == 200 and late.text == HELLO, late.status_code
    deadline = t0 + 15
    while g.get("/static/hello.txt").status_code == 200:
        assert time.monotonic() < deadline, "a deleted key still passes after 15 s"
        time.sleep(0.5)
    assert time.monotonic() - t0 <= 6.5, "refused only after %.1f s" % (time.monotonic() - t0)
    assert_401(g.get("/static/hello.txt"))


# --- what nginx asked ---------------------------------------------------------------

def test_a_post_is_checked_without_its_body(stack, world, guard):
    """The subrequest is a GET of the check with the query built from the
    path; the client's body never goes to Lanyard (a POST to a protected
    location is checked like a GET)."""
    g = Guarded(world.base, bearer(world.owner.token))
    r = g.s.post(world.base + "/echo/%s/member/x" % world.org, data=b"x" * 4096, timeout=TIMEOUT)
    assert r.status_code == 200, (r.status_code, r.text[:200])
    # Lanyard itself answers the same question the same way
    direct = requests.get(stack.url + CHECK, params={"org": world.org, "role": "member"},
                          headers={"Authorization": bearer(world.owner.token)}, timeout=TIMEOUT)
    assert direct.status_code == 200, direct.text[:300]
    assert direct.headers.get("X-Lanyard-Subject") == world.owner.id
    assert direct.content == b""


# --- straight to the workers: lanyard-forward-auth-fastcgi.conf ------------------------
#
# nginx speaking FastCGI to `lanyard --listen` (the fixture `workers`) must
# answer every request as the guard through the front end does; these run
# on the neutral stacks only (no front end is on the check's way).

def every_answer(world):
    """(authorization, path, headers, expected status): each kind of answer."""
    wrong = dict(world.key, secret=world.key["secret"][:-1] +
                 ("A" if world.key["secret"][-1] != "A" else "B"))
    forged = {"X-Lanyard-Subject": "u-forged", "X-Lanyard-Org": "forged"}
    owner, member = bearer(world.owner.token), bearer(world.member.token)
    org = world.org
    return [
        (None, "/static/hello.txt", {}, 401),
        (None, "/echo/%s/member/x" % org, {}, 401),
        (bearer("lya_" + "x" * 49), "/static/hello.txt", {}, 401),
        (basic(wrong), "/static/hello.txt", {}, 401),
        (owner, "/static/hello.txt", {}, 200),
        (owner, "/files/%s/owner/hello.txt" % org, {}, 200),
        (owner, "/custom/x", forged, 200),
        (member, "/echo/%s/member/x" % org, forged, 200),
        (member, "/echo/%s/admin/x" % org, {}, 403),
        (bearer(world.outsider.token), "/echo/%s/member/x" % org, {}, 403),
        (bearer(world.key["token"]), "/echo/%s/member/x" % org, {}, 200),
        (basic(world.key), "/custom/x", {}, 200),
        (basic(world.admin_key), "/echo/%s/owner/x" % org, {}, 403),
        (bearer(world.scoped["token"]), "/repo/%s/x" % world.resource, {}, 200),
        (bearer(world.scoped["token"]), "/repo/%s/other/x" % org, {}, 403),
        (owner, "/echo/%s/superuser/x" % org, {}, 500),
        (owner, "/echo/NOT_A_NAME/member/x", {}, 500),
        (None, "/open/x", forged, 200),
    ]


@pytest.mark.neutral
def test_straight_to_the_workers_answers_as_through_the_front_end(stack, world, guard,
                                                                  fcgi_guard):
    """Every kind of answer (pass with identity, 401 with each challenge, 403,
    fail closed on 500, an open location): the same status, challenge and
    body through lanyard-forward-auth-fastcgi.conf as through
    lanyard-forward-auth.conf."""
    for auth, path, headers, want in every_answer(world):
        got = []
        for base in (guard.url, fcgi_guard.url):
            r = Guarded(base, auth).get(path, headers=headers)
            got.append((r.status_code, r.headers.get("WWW-Authenticate"), r.text))
        assert got[0][0] == want, (path, got[0][:2], got[0][2][:200])
        assert got[1] == got[0], (path, got)
    seen = Guarded(fcgi_guard.url, bearer(world.key["token"])).seen("/echo/%s/member/x" % world.org)
    assert_passed(seen, world.sa["id"], "service_account", world.org)


@pytest.mark.neutral
def test_straight_to_the_workers_a_post_is_checked_as_a_get(stack, world, fcgi_guard):
    """The snippet's parameters make the check a GET with no body whatever
    the protected request is: a POST with a body passes, and a refused one
    is still refused."""
    url = fcgi_guard.url + "/echo/%s/member/x" % world.org
    r = requests.post(url, data=b"x" * 4096, headers={"Authorization": bearer(world.member.token)},
                      timeout=TIMEOUT)
    assert r.status_code == 200 and "subject=%s\n" % world.member.id in r.text, \
        (r.status_code, r.text[:200])
    r = requests.post(fcgi_guard.url + "/echo/%s/admin/x" % world.org, data=b"x" * 4096,
                      headers={"Authorization": bearer(world.member.token)}, timeout=TIMEOUT)
    assert_403(r)


def established_to(port):
    """Established TCP connections whose far end is 127.0.0.1:port."""
    n = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(name):
            continue
        with open(name) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    n += 1
    return n


@pytest.mark.neutral
def test_straight_to_the_workers_one_worker_serves_concurrent_checks(stack, world, fcgi_guard):
    """Six clients at once make nginx open as many FastCGI connections; the
    one worker serves them all (a worker tied to one connection would leave
    the others' checks to nginx's 60 s timeout, a 500)."""
    from concurrent.futures import ThreadPoolExecutor

    def client(_):
        g = Guarded(fcgi_guard.url, bearer(world.member.token))
        return [g.seen("/echo/%s/member/x" % world.org)["subject"] for _ in range(15)]

    t0 = time.monotonic()
    with ThreadPoolExecutor(6) as ex:
        subjects = [s for got in ex.map(client, range(6)) for s in got]
    assert subjects == [world.member.id] * 90
    assert time.monotonic() - t0 < 30, "90 checks took %.1f s" % (time.monotonic() - t0)


@pytest.mark.neutral
def test_straight_to_the_workers_cached_keeps_each_answer_for_5_s(stack, world, workers,
                                                                  fcgi_cached_guard):
    """The fastcgi snippet's optional cache behaves as the proxy one's, and
    its misses reuse a kept connection to the workers (the upstream's
    keepalive with fastcgi_keep_conn on: nginx keeps a FastCGI connection
    only once it has read the whole answer, which it does for an answer it
    may cache)."""
    assert_cache_keeps_answers_for_5_s(world, fcgi_cached_guard.url)
    assert established_to(workers.port) >= 1, "no kept connection to the worker"


# --- Apache httpd: mod_lua with the shipped lanyard-forward-auth.lua -----------------------
#
# A private Apache (Debian's apache2, mod_lua) includes the shipped
# etc/apache2/lanyard-forward-auth.conf and proxies to a private nginx that
# echoes what it received. Started as root, Apache's children run as
# www-data: the Lua script and the document root are copied to a 0755
# directory of their own under /tmp (a checkout may be out of their reach).

APACHE_MODULES = ("mpm_event", "authz_core", "headers", "setenvif", "lua", "proxy", "proxy_http")


def echo_site(port):
    return """\
server {
    listen 127.0.0.1:%d;
    default_type text/plain;
    location = /.ready { return 200 "ready\\n"; }
    location / {
        return 200 "subject=$http_x_lanyard_subject\\ntype=$http_x_lanyard_principal_type\\norg=$http_x_lanyard_org\\ncustom=$http_x_custom\\nuri=$request_uri\\n";
    }
}
""" % port


def apache_site(*, port, d, check_url, echo, snippet_path):
    from harness.apache import _moddir, _run_as
    moddir = _moddir()
    loads = "".join("LoadModule %s_module %s/mod_%s.so\n" % (m, moddir, m) for m in APACHE_MODULES)
    return """\
# generated by tests/e2e/test_forward_auth.py
ServerRoot "{d}"
DefaultRuntimeDir "{d}/run"
PidFile "{d}/httpd.pid"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1:{port}
ErrorLog "{d}/error.log"
LogLevel warn lua:info
{loads}{run_as}
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
MinSpareThreads 1
MaxSpareThreads 8
DocumentRoot "{d}/htdocs"
<Directory />
    Require all denied
</Directory>
<Directory "{d}/htdocs">
    Require all granted
</Directory>

# the shipped snippet, as doc/forward-auth.md says
Define LANYARD_CHECK_URL {check_url}
Define LANYARD_FORWARD_AUTH_LUA {d}/lanyard-forward-auth.lua
Include "{snippet_path}"

SetEnvIf Request_URI "^/\\.ready$" LANYARD_OPEN=1
SetEnvIf Request_URI "^/open/" LANYARD_OPEN=1
SetEnvIf Request_URI "^/echo/([^/]+)/([^/]+)/" LANYARD_QUERY=org=$1&role=$2
SetEnvIf Request_URI "^/repo/(.+)/[^/]+$" LANYARD_QUERY=resource=$1
<Location "/echo/">
    ProxyPass "http://{echo}/echo/"
    Require all granted
</Location>
<Location "/repo/">
    ProxyPass "http://{echo}/repo/"
    Require all granted
</Location>
<Location "/open/">
    ProxyPass "http://{echo}/open/"
    Require all granted
</Location>
""".format(d=d, port=port, loads=loads, run_as=_run_as(), check_url=check_url, echo=echo,
           snippet_path=snippet_path)


class ApacheGuard:
    """Apache with the forward-auth snippet in a 0755 directory of its own."""

    def __init__(self, check_url, echo):
        import shutil
        import tempfile
        self.d = tempfile.mkdtemp(prefix="ly-fa-apache-")
        os.chmod(self.d, 0o755)
        for sub in ("htdocs", "htdocs/static", "run"):
            os.makedirs(os.path.join(self.d, sub), exist_ok=True)
        with open(os.path.join(self.d, "htdocs", "static", "hello.txt"), "w") as f:
            f.write(HELLO)
        open(os.path.join(self.d, "htdocs", ".ready"), "w").close()
        apache_dir = os.path.join(os.path.abspath(srcdir()), "etc", "apache2")
        shutil.copy(os.path.join(apache_dir, "lanyard-forward-auth.lua"), self.d)
        self.snippet = os.path.join(apache_dir, "lanyard-forward-auth.conf")
        self.check_url = check_url
        self.echo = echo
        self.server = None
        self.port = None
        self._rmtree = shutil.rmtree

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def conf(self, port):
        path = os.path.join(self.d, "httpd.conf")
        with open(path, "w") as f:
            f.write(apache_site(port=port, d=self.d, check_url=self.check_url, echo=self.echo,
                                snippet_path=self.snippet))
        return path

    def error_log(self):
        from harness.proc import read_log
        return read_log(os.path.join(self.d, "error.log"))

    def start(self):
        from harness.apache import _apache_bin
        from harness.proc import Server, start_front_end, with_free_port

        def on(port):
            conf = self.conf(port)
            srv = Server("apache2", [_apache_bin(), "-d", self.d, "-f", conf, "-DFOREGROUND"],
                         os.path.join(self.d, "apache2.out"))
            self.server, self.port = srv, port
            start_front_end(srv, port, self.url, "/.ready", 30.0, self.error_log)
            return self
        return with_free_port(on)

    def syntax(self):
        from harness.apache import _apache_bin
        p = subprocess.run([_apache_bin(), "-t", "-d", self.d, "-f", self.conf(1)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return p.returncode == 0, p.stdout.decode("utf-8", "replace")

    def stop(self):
        if self.server is not None:
            self.server.stop()
            self.server = None
        self._rmtree(self.d, ignore_errors=True)


def have_luasocket():
    return os.path.exists("/usr/share/lua/5.3/socket/http.lua")


@pytest.fixture(scope="module")
def echo(stack, tmp_path_factory):
    ngx = Nginx(workdir=str(tmp_path_factory.mktemp("nginx-echo")), http_body=echo_site).start()
    yield ngx
    ngx.stop()


@pytest.fixture(scope="module")
def apache_guard(stack, echo, world):
    if not have_luasocket():
        pytest.fail("lua-socket is not installed (apt-get install lua-socket)", pytrace=False)
    a = ApacheGuard(stack.url + CHECK, hostport(echo.url)).start()
    yield a
    a.stop()


def test_apache_t_accepts_the_shipped_snippet():
    a = ApacheGuard("http://127.0.0.1:9" + CHECK, "127.0.0.1:9")
    try:
        ok, out = a.syntax()
        assert ok and "Syntax OK" in out, out
    finally:
        a.stop()


def test_apache_passes_identity_and_refuses(stack, world, apache_guard):
    base = apache_guard.url
    # no credential, a bad one
    assert_401(Guarded(base).get("/static/hello.txt"))
    www = assert_401(Guarded(base, bearer("lya_" + "x" * 49)).get("/echo/%s/member/x" % world.org))
    assert 'error="invalid_token"' in www, www
    # a user: the file, the identity, the role from the path
    m = Guarded(base, bearer(world.member.token))
    r = m.get("/static/hello.txt")
    assert r.status_code == 200 and r.text == HELLO, (r.status_code, r.text[:200])
    seen = m.seen("/echo/%s/member/x" % world.org, headers={"X-Lanyard-Subject": "u-forged"})
    assert_passed(seen, world.member.id, "user", world.org)
    assert_403(m.get("/echo/%s/admin/x" % world.org))
    assert_403(Guarded(base, bearer(world.outsider.token)).get("/echo/%s/member/x" % world.org))
    # a service account's key, Bearer and Basic
    for auth in (bearer(world.key["token"]), basic(world.key)):
        k = Guarded(base, auth)
        assert_passed(k.seen("/echo/%s/member/x" % world.org), world.sa["id"], "service_account",
                      world.org)
        assert_403(k.get("/echo/%s/admin/x" % world.org))
    # a scoped key inside and outside its resource
    s = Guarded(base, basic(world.scoped))
    assert_passed(s.seen("/repo/%s/docs/x" % world.resource), world.sa["id"], "service_account",
                  world.org)
    for path in ("/repo/%sx/y" % world.resource, "/static/hello.txt"):
        assert_403(s.get(path))
    # a malformed role: Lanyard's 400 is a 500 here, never a pass
    r = Guarded(base, bearer(world.owner.token)).get("/echo/%s/superuser/x" % world.org)
    assert r.status_code == 500 and "subject=" not in r.text, (r.status_code, r.text[:200])


def test_apache_open_path_passes_no_forged_identity(stack, world, apache_guard):
    seen = Guarded(apache_guard.url).seen("/open/x", headers={"X-Lanyard-Subject": "u-forged",
                                                              "X-Lanyard-Org": "forged"})
    assert seen["subject"] == "" and seen["org"] == "", seen


# --- lighttpd (run for real in test_forward_auth_lighttpd.py) and Traefik: files checked ---

def test_lighttpd_tt_accepts_the_shipped_snippet(tmp_path):
    """`lighttpd -tt` with the snippet included as documented and used in a conditional."""
    inc = os.path.join(os.path.abspath(srcdir()), "etc", "lighttpd", "lanyard-forward-auth.conf")
    conf = tmp_path / "lighttpd.conf"
    conf.write_text('server.document-root = "%s"\nserver.bind = "127.0.0.1"\nserver.port = 9\n'
                    'var.lanyard_bin = "/bin/true"\nvar.lanyard_config = "/dev/null"\n'
                    'var.lanyard_authorizer_socket = "%s/a.sock"\n'
                    'var.lanyard_authorizer_procs = 1\ninclude "%s"\n'
                    '$HTTP["url"] =~ "^/p/" {\n'
                    '    setenv.add-environment = ( "LANYARD_CHECK_ORG" => "acme" )\n'
                    '    fastcgi.server = var.lanyard_authorizer\n}\n' % (tmp_path, tmp_path, inc))
    p = subprocess.run(["lighttpd", "-tt", "-f", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, p.stdout.decode()
    # and it can fail: an include of a missing file is refused
    conf.write_text(conf.read_text().replace(inc, inc + ".missing"))
    p = subprocess.run(["lighttpd", "-tt", "-f", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode != 0


def test_traefik_snippet_is_yaml_with_the_identity_headers():
    """Traefik is not in Debian: only the file's shape is checked."""
    yaml = pytest.importorskip("yaml")
    path = os.path.join(os.path.abspath(srcdir()), "etc", "traefik", "lanyard-forward-auth.yml")
    with open(path) as f:
        doc = yaml.safe_load(f)
    mws = doc["http"]["middlewares"]
    assert mws, doc
    for name, mw in mws.items():
        fa = mw["forwardAuth"]
        assert fa["address"].startswith("http://") and CHECK in fa["address"], (name, fa)
        assert fa["trustForwardHeader"] is False
        assert fa["authResponseHeaders"] == ["X-Lanyard-Subject", "X-Lanyard-Principal-Type",
                                             "X-Lanyard-Org"]
