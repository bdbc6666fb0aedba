"""Forward authentication with a real lighttpd as a FastCGI authorizer
(FastCGI 1.0 §6.3, SPEC §5.7, doc/forward-auth.md).

A private lighttpd, on its own loopback port, includes the shipped
etc/lighttpd/lanyard-forward-auth.conf as a user would: it spawns its own
Lanyard workers (bin-path, the stack's config and database) in the
AUTHORIZER role and guards a static directory and a CGI script with them.
lighttpd 1.4.69 does not substitute regex captures in setenv, so each
protected part has its own conditional:

    /static/FILE             any valid credential
    /files/ORG/member/FILE   LANYARD_CHECK_ORG=ORG, LANYARD_CHECK_ROLE=member
    /files/ORG/admin/FILE    ... admin
    /other/FILE              another organization, member
    /repo/RESOURCE/FILE      LANYARD_CHECK_RESOURCE=RESOURCE
    /bad/FILE                LANYARD_CHECK_ROLE=superuser (a broken config)
    /cgi/env.sh              any credential; the script prints its environment
    /open/FILE               not guarded

And, straight on the authorizer's socket with harness.fcgi: a responder
request never takes the authorizer's path, whatever its parameters say."""

import os
import shutil
import tempfile

import pytest

from conftest import TIMEOUT
from harness import fcgi
from harness.proc import FrontEnd, Server, start_front_end, with_free_port
from test_forward_auth import (Guarded, assert_401, assert_403, basic, bearer, make_world,
                               srcdir)
from test_keys import keys_path, new_key

HELLO = "hello from the protected directory\n"
CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for v in X_LANYARD_SUBJECT X_LANYARD_PRINCIPAL_TYPE X_LANYARD_ORG REMOTE_USER \\
         HTTP_X_LANYARD_SUBJECT LANYARD_CHECK_ORG; do
    eval "printf '%s=%s\\n' $v \\"\\${$v-}\\""
done
"""


def lighttpd_bin():
    return shutil.which("lighttpd") or "/usr/sbin/lighttpd"


def guard_conf(port, workdir, htdocs, stack, socket, w):
    snippet = os.path.join(os.path.abspath(srcdir()), "etc", "lighttpd",
                           "lanyard-forward-auth.conf")
    return """\
server.document-root = "{htdocs}"
server.bind          = "127.0.0.1"
server.port          = {port}
server.errorlog      = "{workdir}/error.log"
server.pid-file      = "{workdir}/lighttpd.pid"
server.modules       = ( "mod_cgi" )

var.lanyard_bin               = "{bin}"
var.lanyard_config            = "{config}"
var.lanyard_authorizer_socket = "{socket}"
var.lanyard_authorizer_procs  = 1
include "{snippet}"

$HTTP["url"] =~ "^/static/" {{
    fastcgi.server = var.lanyard_authorizer
}}
$HTTP["url"] =~ "^/files/{org}/member/" {{
    setenv.add-environment = ( "LANYARD_CHECK_ORG" => "{org}", "LANYARD_CHECK_ROLE" => "member" )
    fastcgi.server = var.lanyard_authorizer
}}
$HTTP["url"] =~ "^/files/{org}/admin/" {{
    setenv.add-environment = ( "LANYARD_CHECK_ORG" => "{org}", "LANYARD_CHECK_ROLE" => "admin" )
    fastcgi.server = var.lanyard_authorizer
}}
$HTTP["url"] =~ "^/other/" {{
    setenv.add-environment = ( "LANYARD_CHECK_ORG" => "{other}" )
    fastcgi.server = var.lanyard_authorizer
}}
$HTTP["url"] =~ "^/repo/{resource}/" {{
    setenv.add-environment = ( "LANYARD_CHECK_RESOURCE" => "{resource}" )
    fastcgi.server = var.lanyard_authorizer
}}
$HTTP["url"] =~ "^/bad/" {{
    setenv.add-environment = ( "LANYARD_CHECK_ORG" => "{org}", "LANYARD_CHECK_ROLE" => "superuser" )
    fastcgi.server = var.lanyard_authorizer
}}
$HTTP["url"] =~ "^/cgi/" {{
    setenv.add-environment = ( "LANYARD_CHECK_ORG" => "{org}" )
    fastcgi.server = var.lanyard_authorizer
    cgi.assign = ( ".sh" => "/bin/sh" )
}}
""".format(port=port, workdir=workdir, htdocs=htdocs, bin=stack.build.lanyard,
           config=stack.config_path, socket=socket, snippet=snippet, org=w.org, other=w.other,
           resource=w.resource)


class Guard(FrontEnd):
    def __init__(self, workdir, stack, w):
        self.workdir, self.stack, self.w = workdir, stack, w
        self.htdocs = os.path.join(workdir, "htdocs")
        self.sockdir = tempfile.mkdtemp(prefix="ly-authz-", dir="/tmp")
        self.socket = os.path.join(self.sockdir, "authz.sock")
        self.server = self.port = None

    def start(self):
        for d in ("static", "files/%s/member" % self.w.org, "files/%s/admin" % self.w.org,
                  "other", "repo/%s" % self.w.resource, "bad", "cgi", "open"):
            os.makedirs(os.path.join(self.htdocs, d), exist_ok=True)
            with open(os.path.join(self.htdocs, d, "hello.txt"), "w") as f:
                f.write(HELLO)
        with open(os.path.join(self.htdocs, "cgi", "env.sh"), "w") as f:
            f.write(CGI)
        return with_free_port(self._start_on)

    def _start_on(self, port):
        conf = os.path.join(self.workdir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write(guard_conf(port, self.workdir, self.htdocs, self.stack, self.socket, self.w))
        open(os.path.join(self.workdir, "error.log"), "w").close()
        srv = Server("lighttpd-authorizer", [lighttpd_bin(), "-D", "-f", conf],
                     os.path.join(self.workdir, "lighttpd.out"), env=self.stack.build.env())
        self.server, self.port = srv, port
        start_front_end(srv, port, self.url, "/open/hello.txt", 60.0, self.error_log)
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop(timeout=20.0)
            self.server = None
        shutil.rmtree(self.sockdir, ignore_errors=True)


@pytest.fixture(scope="module")
def world(stack):
    return make_world(stack, "fl")


@pytest.fixture(scope="module")
def guard(stack, world, tmp_path_factory):
    if stack.external:
        pytest.skip("the authorizer's workers need the stack's config and database")
    workdir = os.path.join(stack.dir, "lighttpd-authorizer")
    os.makedirs(workdir, exist_ok=True)
    g = Guard(workdir, stack, world).start()
    yield g
    g.stop()


def assert_file(r):
    assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:300])
    assert r.text == HELLO


def test_no_credential_is_401_with_the_challenge(guard):
    r = Guarded(guard.url).get("/static/hello.txt")
    assert_401(r)
    assert HELLO not in r.text
    assert r.headers.get("Content-Type", "").startswith("application/problem+json")


def test_bad_token_is_401_invalid_token(guard):
    www = assert_401(Guarded(guard.url, bearer("not-a-token")).get("/static/hello.txt"))
    assert 'error="invalid_token"' in www


def test_open_path_is_not_asked(guard):
    assert_file(Guarded(guard.url).get("/open/hello.txt"))


def test_user_token_passes(guard, world):
    s = Guarded(guard.url, bearer(world.member.token))
    assert_file(s.get("/static/hello.txt"))
    assert_file(s.get("/files/%s/member/hello.txt" % world.org))


def test_role_and_org_refused_with_403(guard, world):
    member = Guarded(guard.url, bearer(world.member.token))
    assert_403(member.get("/files/%s/admin/hello.txt" % world.org))
    assert_403(member.get("/other/hello.txt"))
    assert_403(Guarded(guard.url, bearer(world.outsider.token)).get(
        "/files/%s/member/hello.txt" % world.org))
    assert_file(Guarded(guard.url, bearer(world.owner.token)).get(
        "/files/%s/admin/hello.txt" % world.org))


def test_service_account_key_bearer_and_basic(guard, world):
    for auth in (bearer(world.key["token"]), basic(world.key)):
        s = Guarded(guard.url, auth)
        assert_file(s.get("/files/%s/member/hello.txt" % world.org))
        assert_403(s.get("/files/%s/admin/hello.txt" % world.org))
        assert_403(s.get("/other/hello.txt"))
    assert_file(Guarded(guard.url, basic(world.admin_key)).get(
        "/files/%s/admin/hello.txt" % world.org))


def test_basic_without_credential_challenge(guard, world):
    wrong = dict(world.key, secret=world.key["secret"][:-2] + "xx")
    assert_401(Guarded(guard.url, basic(wrong)).get("/static/hello.txt"), scheme="Basic")


def test_scoped_key_inside_and_outside_its_resource(guard, world):
    s = Guarded(guard.url, bearer(world.scoped["token"]))
    assert_file(s.get("/repo/%s/hello.txt" % world.resource))
    assert_403(s.get("/static/hello.txt"))
    assert_403(s.get("/files/%s/member/hello.txt" % world.org))
    # an unscoped credential passes a resource check
    assert_file(Guarded(guard.url, bearer(world.key["token"])).get(
        "/repo/%s/hello.txt" % world.resource))


def test_misconfigured_parameter_fails_closed(guard, world):
    r = Guarded(guard.url, bearer(world.owner.token)).get("/bad/hello.txt")
    assert r.status_code == 500 and HELLO not in r.text, (r.status_code, r.text[:200])
    # the workers' log (their stderr, which lighttpd leaves on its own) names the cause
    with open(os.path.join(guard.workdir, "lighttpd.out"), errors="replace") as f:
        assert "FastCGI authorizer: LANYARD_CHECK_*: role must be" in f.read()


def cgi_env(guard, auth, **kw):
    r = Guarded(guard.url, auth).get("/cgi/env.sh", **kw)
    assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:300])
    return dict(line.split("=", 1) for line in r.text.splitlines())


def test_cgi_backend_sees_the_identity(guard, world):
    env = cgi_env(guard, bearer(world.member.token))
    assert env["X_LANYARD_SUBJECT"] == world.member.id, env
    assert env["X_LANYARD_PRINCIPAL_TYPE"] == "user", env
    assert env["X_LANYARD_ORG"] == world.org, env
    assert env["REMOTE_USER"] == world.member.id, env
    env = cgi_env(guard, basic(world.key))
    assert env["X_LANYARD_SUBJECT"] == world.sa["id"], env
    assert env["X_LANYARD_PRINCIPAL_TYPE"] == "service_account", env
    assert env["X_LANYARD_ORG"] == world.org, env


def test_client_headers_cannot_forge_the_identity(guard, world):
    env = cgi_env(guard, bearer(world.member.token),
                  headers={"X-Lanyard-Subject": "u-forged", "X-Lanyard-Org": "forged",
                           "X_LANYARD_SUBJECT": "u-forged"})
    assert env["X_LANYARD_SUBJECT"] == world.member.id, env
    assert env["X_LANYARD_ORG"] == world.org, env
    # what a client sends stays under HTTP_*
    assert env["HTTP_X_LANYARD_SUBJECT"] in ("u-forged", "u-forged, u-forged"), env
    assert_401(Guarded(guard.url).get("/cgi/env.sh", headers={"X-Lanyard-Subject": "u-forged"}))


def test_deleted_key_is_refused_at_once(guard, world):
    k = new_key(world.owner, world.org, world.sa["name"])
    s = Guarded(guard.url, bearer(k["token"]))
    assert_file(s.get("/static/hello.txt"))
    r = world.owner.delete(keys_path(world.org, world.sa["name"], k["id"]))
    assert r.status_code == 204, r.text
    assert_401(s.get("/static/hello.txt"))


# --- the role, straight on the authorizer's socket ---------------------------------------

AUTHORIZER = 2


def raw(guard, role, params, stdin=True):
    with fcgi.connect(guard.socket + "-0", TIMEOUT) as s:
        data = fcgi.begin_request(role=role) + fcgi.stream(fcgi.PARAMS, 1,
                                                          fcgi.encode_params(params))
        if stdin:
            data += fcgi.stream(fcgi.STDIN, 1, b"")
        s.sendall(data)
        return fcgi.read_response(s)


def test_responder_never_takes_the_authorizer_path(guard, world):
    auth = {"Authorization": bearer(world.owner.token)}
    # a protected path asked as a responder: routed, so 404, whatever FCGI_ROLE says
    for extra in ({}, {"FCGI_ROLE": "AUTHORIZER"}):
        p = fcgi.cgi_params("GET", "/static/hello.txt", headers=auth)
        p.update(extra)
        status, headers, body, _ = raw(guard, fcgi.RESPONDER, p)
        assert status == 404 and b"not_found" in body, (status, body[:200])
        assert not any(k.startswith("variable-") for k in headers), headers
    # the check route as a responder keeps its own headers
    p = fcgi.cgi_params("GET", "/api/auth/v1/check", headers=auth)
    p["FCGI_ROLE"] = "AUTHORIZER"
    status, headers, _, _ = raw(guard, fcgi.RESPONDER, p)
    assert status == 200 and headers.get("x-lanyard-subject") == world.owner.id, headers
    assert not any(k.startswith("variable-") for k in headers), headers


def test_authorizer_role_answers_the_check(guard, world):
    """No STDIN at all, as the spec has it: an authorizer that waited for a body would hang."""
    p = fcgi.cgi_params("POST", "/anything/at/all", headers={})
    del p["CONTENT_LENGTH"]
    status, headers, _, _ = raw(guard, AUTHORIZER, p, stdin=False)
    assert status == 401 and headers.get("www-authenticate", "").startswith("Bearer"), headers
    p = fcgi.cgi_params("GET", "/api/health",
                        headers={"Authorization": bearer(world.member.token)})
    p["LANYARD_CHECK_ORG"] = world.org
    status, headers, body, _ = raw(guard, AUTHORIZER, p, stdin=False)
    assert status == 200 and body == b"", (status, body[:200])
    assert headers.get("variable-x_lanyard_subject") == world.member.id, headers
    assert headers.get("variable-x_lanyard_org") == world.org, headers
    assert "x-lanyard-subject" not in headers, headers
    p["LANYARD_CHECK_ROLE"] = "admin"
    status, _, _, _ = raw(guard, AUTHORIZER, p, stdin=False)
    assert status == 403
