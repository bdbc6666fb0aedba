"""A real OpenID Connect provider for the end-to-end tests: Debian's Glewlwyd
(2.7.5), private to the test run, behind a tampering forwarder.

    op = Glewlwyd(workdir).start()        # glewlwyd + TamperProxy, set up over the admin API
    op.add_client("lanyard", secret, "http://127.0.0.1:PORT/api/sso/callback")
    op.add_user("alice", "pw-alice-1", "alice@example.org", email_verified=True)
    location = op.authorize(authorization_url, "alice", "pw-alice-1")   # ...?code=..&state=..
    op.rotate_key("ES256")                # new signing key, new kid, old keys stay in the JWKS
    op.proxy.tamper = "payload"           # or "kid", "issuer", or None (transparent)
    op.stop()

Everything Lanyard (or a browser) sends to the provider goes through
`op.proxy` (TamperProxy): Glewlwyd's external_url and the OIDC plugin's
issuer are the proxy's URL, so discovery, the authorization, token and JWKS
endpoints all point through it. Only the harness's own admin calls go to
Glewlwyd directly (`op.direct_url`).

What Glewlwyd 2.7.5 wants (found by trying; doc/testing.md has the list):
the database comes from the package's init.sqlite3.sql (it creates the
tables, the database user and client backends and the user admin/password);
the config file must name secure_connection_*_file even with
use_secure_connection=false; the authorization endpoint only issues a code
when the query carries `g_continue` (what its login page appends after the
user signed in and granted the scopes); grants are PUT space-separated.

Standard library only, except the signing keys, made with python3-cryptography."""

import base64
import gzip
import http.client
import http.server
import json
import multiprocessing.connection
import os
import secrets
import shutil
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

from .proc import PortInUse, Server, StartError, port_open, read_log, with_free_port

INIT_SQL = "/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz"
MODULE_DIR = "/usr/lib/glewlwyd"
# the user init.sqlite3.sql creates, with the g_admin scope
ADMIN_USER, ADMIN_PASSWORD = "admin", "password"
PLUGIN = "oidc"
SESSION_COOKIE = "GLEWLWYD2_SESSION_ID"
# signature algorithms rotate_key() makes keys for (all three work in 2.7.5)
ALGS = ("RS256", "ES256", "EdDSA")
_JWT_TYPE = {"RS256": "rsa", "ES256": "ecdsa", "EdDSA": "eddsa"}


class GlewlwydError(RuntimeError):
    """An admin or login call Glewlwyd refused (status and body in the text)."""


def glewlwyd_bin():
    for cand in (shutil.which("glewlwyd"), "/usr/bin/glewlwyd"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise StartError("glewlwyd not found (apt-get install glewlwyd)")


def available():
    """True when the Debian package (program, modules, schema) is installed."""
    try:
        glewlwyd_bin()
    except StartError:
        return False
    return os.path.exists(INIT_SQL) and os.path.isdir(os.path.join(MODULE_DIR, "plugin"))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def jwt_parts(token):
    """(header, payload, signature bytes) of a compact JWS, not verified."""
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), b64url_decode(s)


def private_jwk(alg, kid):
    """A new private key as a JWK with kid and alg (what the OIDC plugin's
    jwks-private holds). RS256: RSA 2048; ES256: P-256; EdDSA: Ed25519."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    def num(i, size=None):
        return b64url(i.to_bytes(size or (i.bit_length() + 7) // 8, "big"))

    if alg == "RS256":
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
        return {"kty": "RSA", "n": num(k.public_numbers.n), "e": num(k.public_numbers.e),
                "d": num(k.d), "p": num(k.p), "q": num(k.q), "dp": num(k.dmp1),
                "dq": num(k.dmq1), "qi": num(k.iqmp), "kid": kid, "alg": alg}
    if alg == "ES256":
        k = ec.generate_private_key(ec.SECP256R1()).private_numbers()
        return {"kty": "EC", "crv": "P-256", "x": num(k.public_numbers.x, 32),
                "y": num(k.public_numbers.y, 32), "d": num(k.private_value, 32),
                "kid": kid, "alg": alg}
    if alg == "EdDSA":
        k = ed25519.Ed25519PrivateKey.generate()
        d = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
        x = k.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(x), "d": b64url(d),
                "kid": kid, "alg": alg}
    raise ValueError("unsupported alg %r (one of %s)" % (alg, ", ".join(ALGS)))


def glewlwyd_conf(*, port, external_url, workdir, db_path):
    return """\
# generated by tests/e2e/harness/glewlwyd.py
port={port}
bind_address="127.0.0.1"
external_url="{external_url}"
login_url="login.html"
api_prefix="api"
allow_origin="*"
log_mode="file"
log_level="DEBUG"
log_file="{workdir}/glewlwyd.log"
cookie_secure=0
cookie_same_site="empty"
session_expiration=3600
session_key="{cookie}"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=false
login_api_enabled=true
plugin_api_run_enabled=""
add_x_frame_option_header_deny=true
max_post_size=1048576
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="{mods}/user"
client_module_path="{mods}/client"
user_auth_scheme_module_path="{mods}/scheme"
plugin_module_path="{mods}/plugin"
# 2.7.5 exits with "secure connection is active but certificate is not
# valid" when these are missing, whatever use_secure_connection says
use_secure_connection=false
secure_connection_key_file="{workdir}/no-tls.key"
secure_connection_pem_file="{workdir}/no-tls.pem"
secure_connection_ca_file="{workdir}/no-tls.crt"
hash_algorithm="SHA512"
database =
{{
  type = "sqlite3"
  path = "{db_path}"
}};
""".format(port=port, external_url=external_url, workdir=workdir, db_path=db_path,
           cookie=SESSION_COOKIE, mods=MODULE_DIR)


# --- a small HTTP client (http.client, one connection per call) ---------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def cookies(self):
        out = {}
        for k, v in self.headers:
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                out[name.strip()] = rest.split(";", 1)[0]
        return out

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def request(method, url, body=None, headers=None, timeout=15.0):
    """One HTTP request, redirects not followed. body: bytes, str or a JSON
    value (sent as application/json)."""
    u = urllib.parse.urlsplit(url)
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode("utf-8")
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


# --- the man in the middle ----------------------------------------------------

_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "content-length", "expect"}


class _ProxyCore:
    """A threaded HTTP forwarder on a 127.0.0.1 port in front of an upstream
    (Glewlwyd). Transparent while `tamper` is None; with tamper="payload" or
    tamper="kid" it rewrites the id_token in every JSON response of a token
    endpoint (a path ending in /token):

    - "payload": one character of one claim value changes (email's first
      letter, or sub's when there is no email); the payload is still valid
      base64url JSON with iss, aud and nonce intact, so only the signature
      check can catch it;
    - "kid": the header's kid becomes one no JWKS lists;
    - "issuer" (for SPEC 5.15's issuer check): the `issuer` of discovery
      responses (a path ending in /.well-known/openid-configuration) gets
      "/other" appended;
    - "redirect": discovery responses become a 302 to the same document on
      Glewlwyd itself (another host:port), which a client must not follow;
    - "huge": discovery responses padded (valid JSON still) past 300 KiB,
      over any sane cap on a provider's answer.

    `tampered` counts the rewritten responses, `requests` lists
    (method, path, status) of everything forwarded, once answered;
    `arrived` lists (time, client port, method, path) as each request comes in (a
    request still waiting on Glewlwyd is there and not in `requests`);
    `odd` lists (time, client port, error status, reason, raw request line)
    of every request refused unparsed or not in HTTP/1.1, so that a
    client's "Received HTTP/0.9" can be traced to what this proxy read. Request bodies must come
    with a Content-Length (libcurl, urllib and requests send one); upstream
    responses are read whole, one upstream connection per request."""

    MODES = (None, "payload", "kid", "issuer", "redirect", "huge")

    def __init__(self, upstream_port=None, host="127.0.0.1"):
        self.upstream_port = upstream_port
        self.upstream_host = host
        self._tamper = None
        self.tampered = 0
        self.requests = []
        self.arrived = []
        self.odd = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # quiet: requests are in proxy.requests
                pass

            def _forward(self):
                proxy._forward(self)

            def send_error(self, code, message=None, explain=None):
                # A request http.server could not parse is answered here, not
                # forwarded; before its version is read, without a status line
                # (its HTTP/0.9 form): what it read is kept in `odd`
                with proxy._lock:
                    proxy.odd.append((time.time(), self.client_address[1], code, message,
                                      getattr(self, "raw_requestline", b"")[:160]))
                super().send_error(code, message, explain)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _forward

        class Srv(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = False
            # socketserver's default listen backlog is 5: a browser opening its
            # connections at once while the accepting thread waits its turn
            # would have its SYNs dropped and retried seconds later
            request_queue_size = 128

        self.server = Srv((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       name="TamperProxy:%d" % self.port, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def tamper(self):
        return self._tamper

    @tamper.setter
    def tamper(self, mode):
        if mode not in self.MODES:
            raise ValueError("tamper must be one of %r" % (self.MODES,))
        self._tamper = mode

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def _forward(self, h):
        with self._lock:
            self.arrived.append((time.time(), h.client_address[1], h.command, h.path))
            if h.request_version != "HTTP/1.1":
                # answered without a status line (http.server's HTTP/0.9), or as 1.0
                self.odd.append((time.time(), h.client_address[1], None, h.request_version,
                                 h.raw_requestline[:160]))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        headers = {k: v for k, v in h.headers.items()
                   if k.lower() not in _HOP and k.lower() != "accept-encoding"}
        # plain bodies from upstream, so that token responses can be rewritten
        headers["Accept-Encoding"] = "identity"
        status, rheaders, rbody = 502, [], b"upstream unreachable\n"
        try:
            conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
            try:
                conn.request(h.command, h.path, body=body, headers=headers)
                r = conn.getresponse()
                status, rheaders, rbody = r.status, r.getheaders(), r.read()
            finally:
                conn.close()
        except OSError as e:
            rbody = ("upstream unreachable: %s\n" % e).encode()
        rbody = self._maybe_tamper(h.path, rheaders, rbody)
        if self._tamper in ("redirect", "huge") and urllib.parse.urlsplit(h.path).path.endswith(
                "/.well-known/openid-configuration"):
            with self._lock:
                self.tampered += 1
            if self._tamper == "redirect":
                status = 302
                rheaders = [(k, v) for k, v in rheaders if k.lower() != "location"]
                rheaders.append(("Location", "http://%s:%d%s" % (self.upstream_host,
                                                                 self.upstream_port, h.path)))
            else:
                rbody = rbody.rstrip() + b" " * (300 * 1024)
        with self._lock:
            self.requests.append((h.command, h.path, status))
        h.send_response_only(status)
        for k, v in rheaders:
            if k.lower() not in _HOP:
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(rbody)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(rbody)

    def _maybe_tamper(self, path, headers, body):
        mode = self._tamper
        where = urllib.parse.urlsplit(path).path.rstrip("/")
        field = "issuer" if mode == "issuer" else "id_token"
        if mode not in ("payload", "kid", "issuer") or not where.endswith(
                "/.well-known/openid-configuration" if mode == "issuer" else "/token"):
            return body
        enc = next((v for k, v in headers if k.lower() == "content-encoding"), "")
        try:
            raw = gzip.decompress(body) if enc == "gzip" else body
            doc = json.loads(raw.decode("utf-8"))
        except (ValueError, OSError):
            return body
        if not isinstance(doc, dict) or not isinstance(doc.get(field), str):
            return body
        if mode == "issuer":
            doc["issuer"] += "/other"
        else:
            doc["id_token"] = tamper_jwt(doc["id_token"], mode)
        with self._lock:
            self.tampered += 1
        out = json.dumps(doc).encode("utf-8")
        return gzip.compress(out) if enc == "gzip" else out



_PROXY_SETTABLE = ("tamper", "upstream_port")


def _proxy_child(fd, upstream_port, host):
    """The proxy's own process (TamperProxy starts it): a _ProxyCore, its
    state read and set over fd, this end of the socket pair."""
    conn = multiprocessing.connection.Connection(fd)
    core = _ProxyCore(upstream_port, host)
    conn.send(core.port)
    try:
        while True:
            try:
                op, args = conn.recv()
            except EOFError:
                break  # the test process is gone
            try:
                if op == "get":
                    with core._lock:
                        v = getattr(core, args[0])
                        v = list(v) if isinstance(v, list) else v
                elif op == "set" and args[0] in _PROXY_SETTABLE:
                    setattr(core, args[0], args[1])  # tamper's setter checks the mode
                    v = None
                elif op == "stop":
                    conn.send((True, None))
                    break
                else:
                    raise ValueError("unknown proxy operation %r" % (op,))
                conn.send((True, v))
            except Exception as e:  # noqa: BLE001 - sent back, raised in the test
                conn.send((False, e))
    finally:
        core.stop()


def _proxy_state(name):
    """An attribute of TamperProxy: the core's, read from its process (and
    set there, for those in _PROXY_SETTABLE)."""
    setter = (lambda self, v: self._call("set", name, v)) if name in _PROXY_SETTABLE else None
    return property(lambda self: self._call("get", name), setter)


class TamperProxy:
    """_ProxyCore (above: what it forwards and tampers with) in a process of
    its own (a fresh interpreter, started and stopped by its PID), its state
    asked for over a socket pair. Not a thread of the test process: there,
    in full CI runs only, a worker's new connection to it was answered
    without a status line within a millisecond (curl: "HTTP/0.9") and a
    browser's request to it went unanswered; the cause was not found, and
    in its own process the proxy's sockets are its own (doc/testing.md).
    The attributes read as the core's do: `requests`, `arrived` and `odd`
    are copies taken when read."""

    MODES = _ProxyCore.MODES

    def __init__(self, upstream_port=None, host="127.0.0.1"):
        mine, theirs = socket.socketpair()
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = ("import sys; sys.path.insert(0, %r); from harness.glewlwyd import _proxy_child; "
                "_proxy_child(%d, %r, %r)" % (here, theirs.fileno(), upstream_port, host))
        self._proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(theirs.fileno(),),
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self._conn = multiprocessing.connection.Connection(mine.detach())
        self._lock = threading.Lock()
        if not self._conn.poll(30):
            self._proc.kill()
            raise StartError("the provider's proxy did not start")
        self.port = self._conn.recv()

    def _call(self, op, *args):
        with self._lock:
            self._conn.send((op, args))
            ok, v = self._conn.recv()
        if not ok:
            raise v
        return v

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    upstream_port = _proxy_state("upstream_port")
    tamper = _proxy_state("tamper")
    tampered = _proxy_state("tampered")
    requests = _proxy_state("requests")
    arrived = _proxy_state("arrived")
    odd = _proxy_state("odd")

    def stop(self):
        if self._proc is None:
            return
        try:
            self._call("stop")
        except (OSError, EOFError):
            pass
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()  # by its PID
            self._proc.wait(5)
        self._conn.close()
        self._proc = None


def tamper_jwt(token, mode):
    """The token with one character of a claim value changed ("payload") or
    with an unknown kid ("kid"); the signature is left as it was."""
    h, p, s = token.split(".")
    if mode == "kid":
        header = json.loads(b64url_decode(h))
        header["kid"] = "unknown-" + secrets.token_hex(6)
        h = b64url(json.dumps(header, separators=(",", ":")).encode())
    elif mode == "payload":
        raw = b64url_decode(p).decode("utf-8")
        claims = json.loads(raw)
        name = "email" if isinstance(claims.get("email"), str) and claims["email"] else "sub"
        # the value's first character, in the JSON text itself: the rest of
        # the payload stays byte for byte what the provider signed
        key = '"%s":"' % name
        at = raw.find(key)
        if at < 0:
            key = '"%s": "' % name
            at = raw.find(key)
        if at < 0:
            raise ValueError("no %s claim to tamper with" % name)
        i = at + len(key)
        c = raw[i]
        raw = raw[:i] + ("b" if c != "b" else "c") + raw[i + 1:]
        p = b64url(raw.encode("utf-8"))
    else:
        raise ValueError("tamper mode %r" % (mode,))
    return ".".join((h, p, s))


# --- the provider ---------------------------------------------------------------

class Glewlwyd:
    """A private glewlwyd on 127.0.0.1 with its own config, SQLite database and
    log under workdir, set up over its admin API as an OpenID Connect
    provider (plugin instance "oidc"): authorization code flow with PKCE
    (S256), scopes openid email profile, claims email and email_verified,
    one RS256 signing key to begin with. Stopped by PID (and at interpreter
    exit, harness/proc.py)."""

    def __init__(self, workdir, port=None):
        self.workdir = os.path.abspath(workdir)
        self.fixed_port = port
        self.port = None
        self.server = None
        self.proxy = None
        self.conf_path = os.path.join(self.workdir, "glewlwyd.conf")
        self.db_path = os.path.join(self.workdir, "glewlwyd.db")
        self.log_path = os.path.join(self.workdir, "glewlwyd.log")
        self._admin_cookie = None
        self.keys = []  # private JWKs, the signing one first
        self.kid = None
        self._serial = 0
        self.clients = {}
        self.discovery = None

    # URLs ---------------------------------------------------------------------

    @property
    def url(self):
        """Where Lanyard and browsers reach the provider: the proxy."""
        return self.proxy.url

    @property
    def direct_url(self):
        """Glewlwyd itself (the harness's admin calls only)."""
        return "http://127.0.0.1:%d" % self.port

    @property
    def issuer(self):
        """The exact issuer the plugin announces (and puts in ID tokens)."""
        return "%s/api/%s" % (self.url, PLUGIN)

    @property
    def discovery_url(self):
        return self.issuer + "/.well-known/openid-configuration"

    @property
    def pid(self):
        return self.server.pid if self.server else None

    def log(self):
        return read_log(self.log_path)

    # start / stop -------------------------------------------------------------

    def start(self, timeout=30.0):
        os.makedirs(self.workdir, exist_ok=True)
        self._init_db()
        if self.proxy is None:
            self.proxy = TamperProxy()
        try:
            if self.fixed_port:
                self._start_on(self.fixed_port, timeout)
            else:
                with_free_port(lambda port: self._start_on(port, timeout))
            self._setup()
        except BaseException:
            self.stop()
            raise
        return self

    def _init_db(self):
        # the package's full init script: tables, the database user and
        # client backends, the admin user (Glewlwyd does not create its schema)
        if os.path.exists(self.db_path):
            os.unlink(self.db_path)
        with gzip.open(INIT_SQL, "rt", encoding="utf-8") as f:
            script = f.read()
        db = sqlite3.connect(self.db_path)
        try:
            db.executescript(script)
            db.commit()
        finally:
            db.close()

    def _start_on(self, port, timeout):
        with open(self.conf_path, "w") as f:
            f.write(glewlwyd_conf(port=port, external_url=self.proxy.url, workdir=self.workdir,
                                  db_path=self.db_path))
        open(self.log_path, "w").close()
        srv = Server("glewlwyd", [glewlwyd_bin(), "-c", self.conf_path],
                     os.path.join(self.workdir, "glewlwyd.out"), cwd=self.workdir)
        self.server, self.port = srv, port
        self.proxy.upstream_port = port
        srv.start()

        def ready():
            if not port_open(port):
                return False
            try:
                return request("GET", self.direct_url + "/config", timeout=3).status == 200
            except OSError:
                return False
        try:
            srv.wait_until(ready, timeout, "GET /config on 127.0.0.1:%d" % port)
        except StartError as e:
            srv.stop()
            self.server = None
            log = self.log() + srv.log_tail()
            if "address already in use" in log.lower():
                raise PortInUse(str(e))
            raise StartError("%s\n--- glewlwyd.log ---\n%s" % (e, log[-4000:]))

    def stop(self):
        if self.server is not None:
            self.server.stop(timeout=10.0)
            self.server = None
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # admin API ----------------------------------------------------------------

    def _admin_login(self):
        r = request("POST", self.direct_url + "/api/auth/",
                    {"username": ADMIN_USER, "password": ADMIN_PASSWORD})
        cookie = r.cookies().get(SESSION_COOKIE)
        if r.status != 200 or not cookie:
            raise GlewlwydError("admin login: %d %r" % (r.status, r.body[:200]))
        self._admin_cookie = cookie

    def admin(self, method, path, body=None, ok=(200,)):
        """An admin API call (path under /api), straight to Glewlwyd."""
        for attempt in (1, 2):
            if self._admin_cookie is None:
                self._admin_login()
            r = request(method, self.direct_url + "/api" + path, body,
                        {"Cookie": "%s=%s" % (SESSION_COOKIE, self._admin_cookie)})
            # g_admin wants a password typed in the last 600 s
            # (gs_password_max_age): a longer run signs in again
            if r.status != 401 or attempt == 2:
                break
            self._admin_cookie = None
        if r.status not in ok:
            raise GlewlwydError("%s /api%s: %d %s" % (method, path, r.status,
                                                     r.body[:500].decode("utf-8", "replace")))
        return r.json() if r.body.strip() else None

    def _setup(self):
        # 1. the user backend init.sqlite3.sql made ("database", Glewlwyd's own
        # connection) also stores email_verified: a property is only kept when
        # data-format names it, and the change takes effect on a reset
        mod = self.admin("GET", "/mod/user/database")
        params = mod["parameters"]
        params.setdefault("data-format", {})["email_verified"] = {
            "multiple": False, "read": True, "write": True,
            "profile-read": True, "profile-write": False}
        self.admin("PUT", "/mod/user/database", {
            "display_name": mod.get("display_name", "Database backend"),
            "order_rank": mod.get("order_rank", 0), "parameters": params,
            "readonly": False, "multiple_passwords": False})
        self.admin("PUT", "/mod/user/database/reset")
        # 2. the scopes (openid exists). The password scheme is Glewlwyd's
        # built-in one (POST /api/auth with username and password, checked by
        # the user backend): password_required makes it the one the scopes
        # need, and the ID token's amr says "password"
        for name in ("email", "profile"):
            self.admin("POST", "/scope/", {
                "name": name, "display_name": name, "description": "OIDC scope " + name,
                "password_required": True, "password_max_age": 0, "scheme": {}})
        # 3. the OIDC plugin with a first signing key. A POST that fails its
        # parameter check still stores the instance (a second POST is then
        # "already exist"): the parameters below pass it
        self._serial = 1
        self.keys = [private_jwk("RS256", "rs256-1")]
        self.kid = "rs256-1"
        self.admin("POST", "/mod/plugin/", {
            "module": "oidc", "name": PLUGIN, "display_name": "Lanyard tests OIDC",
            "order_rank": 0, "parameters": self._plugin_parameters()})
        self._check_endpoints()

    def _plugin_parameters(self):
        alg = self.keys[0]["alg"]
        return {
            "iss": self.issuer,
            "jwt-type": _JWT_TYPE[alg], "jwt-key-size": "256",
            "jwks-private": json.dumps({"keys": self.keys}), "default-kid": self.kid,
            "jwks-show": True, "jwks-uri": "", "jwks-public": "", "jwks-public-uri": "",
            "secret-type": "public",
            "access-token-duration": 3600, "refresh-token-duration": 1209600,
            "code-duration": 600, "refresh-token-rolling": False,
            "allow-non-oidc": False,
            "auth-type-code-enabled": True, "auth-type-code-revoke-replayed": True,
            "auth-type-token-enabled": False, "auth-type-id-token-enabled": True,
            "auth-type-none-enabled": False, "auth-type-password-enabled": False,
            "auth-type-client-enabled": False, "auth-type-device-enabled": False,
            "auth-type-refresh-enabled": True,
            "pkce-allowed": True, "pkce-method-plain-allowed": False,
            "allowed-scope": ["openid", "email", "profile"],
            # email: Glewlwyd's own claim, from the user's email, always there;
            # email_verified: an additional boolean claim from the user property
            # of that name ("1" true, "0" false), always there
            "email-claim": "mandatory", "email-claim-scope": [],
            "name-claim": "on-demand", "name-claim-scope": [],
            "scope-claim": "no", "scope-claim-scope": [],
            "claims": [{"name": "email_verified", "user-property": "email_verified",
                        "type": "boolean", "boolean-value-true": "1",
                        "boolean-value-false": "0", "mandatory": True, "on-demand": False,
                        "scope": []}],
            "address-claim": {"type": "no", "formatted": "", "street_address": "",
                              "locality": "", "region": "", "postal_code": "",
                              "country": "", "mandatory": False},
            "request-parameter-allow": False,
            "session-management-allowed": False,
        }

    def _check_endpoints(self, timeout=10.0):
        """Discovery (through the proxy) names our issuer, and jwks_uri answers
        with the current kid."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                r = request("GET", self.discovery_url)
                if r.status == 200:
                    doc = r.json()
                    if doc.get("issuer") != self.issuer:
                        raise StartError("discovery issuer %r, expected %r"
                                         % (doc.get("issuer"), self.issuer))
                    jwks = self.jwks(doc["jwks_uri"])
                    if self.kid in [k.get("kid") for k in jwks.get("keys", [])]:
                        self.discovery = doc
                        return doc
                    last = "jwks without kid %s: %r" % (self.kid, jwks)
                else:
                    last = "discovery: %d" % r.status
            except (OSError, ValueError) as e:
                last = repr(e)
            time.sleep(0.1)
        raise StartError("OIDC plugin not answering: %s\n%s" % (last, self.log()[-3000:]))

    def jwks(self, uri=None):
        r = request("GET", uri or self.issuer + "/jwks")
        if r.status != 200:
            raise GlewlwydError("jwks: %d" % r.status)
        return r.json()

    # clients, users, keys -----------------------------------------------------

    def add_client(self, client_id, secret, redirect_uri):
        """A confidential client: client_secret_basic, authorization code (and
        refresh token) grant. redirect_uri: one URI or a list."""
        uris = [redirect_uri] if isinstance(redirect_uri, str) else list(redirect_uri)
        self.admin("POST", "/client/", {
            "client_id": client_id, "name": client_id, "description": "",
            "enabled": True, "confidential": True, "client_secret": secret,
            "redirect_uri": uris, "authorization_type": ["code", "refresh_token"],
            "token_endpoint_auth_method": ["client_secret_basic"], "scope": []})
        self.clients[client_id] = {"secret": secret, "redirect_uri": uris}

    def add_user(self, username, password, email, email_verified=True, name=None):
        """A user whose ID tokens carry email and email_verified (a JSON
        boolean), with the scopes openid email profile."""
        self.admin("POST", "/user/", {
            "username": username, "password": password, "name": name or username,
            "email": email, "email_verified": "1" if email_verified else "0",
            "enabled": True, "scope": ["openid", "email", "profile"]})

    def set_email_verified(self, username, email_verified):
        user = self.admin("GET", "/user/" + urllib.parse.quote(username))
        user["email_verified"] = "1" if email_verified else "0"
        for k in ("username", "source", "last_login"):
            user.pop(k, None)
        self.admin("PUT", "/user/" + urllib.parse.quote(username), user)

    def rotate_key(self, alg="RS256", keep_old=True):
        """Sign with a new key (new kid) from now on. The old keys stay in the
        JWKS (keep_old=True, tokens issued before still verify) or are dropped.
        Returns the new kid. RS256, ES256 and EdDSA (Ed25519) all work."""
        self._serial += 1
        kid = "%s-%d" % (alg.lower(), self._serial)
        new = private_jwk(alg, kid)
        self.keys = [new] + (self.keys if keep_old else [])
        self.kid = kid
        mod = self.admin("GET", "/mod/plugin/" + PLUGIN)
        self.admin("PUT", "/mod/plugin/" + PLUGIN, {
            "display_name": mod.get("display_name", PLUGIN), "order_rank": 0,
            "parameters": self._plugin_parameters()})
        # the plugin reads its keys when it is (re)loaded
        self.admin("PUT", "/mod/plugin/%s/reset" % PLUGIN)
        self._check_endpoints()
        return kid

    def public_jwks(self):
        """The public halves of the keys the plugin holds (for comparison)."""
        priv = {"d", "p", "q", "dp", "dq", "qi"}
        return {"keys": [{k: v for k, v in key.items() if k not in priv} for key in self.keys]}

    # the browser --------------------------------------------------------------

    def authorize(self, authorization_url, username, password):
        """What a browser does with an authorization URL, without a browser:
        GET it (Glewlwyd sends it to its login page with a callback_url), sign
        in through the API (a session cookie), grant the client the requested
        scopes, GET the callback URL with g_continue (what the login page
        does) and return the Location of the redirect back to the client's
        redirect_uri (code and state, or an error), not followed. An error
        redirect straight from the first GET (a bad client, redirect_uri or
        scope) is returned as it is."""
        u = urllib.parse.urlsplit(authorization_url)
        origin = "%s://%s" % (u.scheme, u.netloc)
        q = urllib.parse.parse_qs(u.query)
        client_id = q.get("client_id", [""])[0]
        scope = q.get("scope", [""])[0]

        r = request("GET", authorization_url)
        loc = r.header("Location")
        if r.status != 302 or not loc:
            raise GlewlwydError("authorization endpoint: %d %r" % (r.status, r.body[:300]))
        lu = urllib.parse.urlsplit(loc)
        callback = urllib.parse.parse_qs(lu.query).get("callback_url", [None])[0]
        if not lu.path.endswith("/login.html") or not callback:
            return loc  # straight back to the client (an error), or elsewhere

        r = request("POST", origin + "/api/auth/", {"username": username, "password": password})
        cookie = r.cookies().get(SESSION_COOKIE)
        if r.status != 200 or not cookie:
            raise GlewlwydError("login of %s: %d" % (username, r.status))
        hdrs = {"Cookie": "%s=%s" % (SESSION_COOKIE, cookie)}
        # consent: PUT /api/auth/grant/{client_id}, the scope list separated
        # by spaces (with commas, as API.md says, 401)
        grant = "%s/api/auth/grant/%s" % (origin, urllib.parse.quote(client_id, safe=""))
        r = request("PUT", grant, {"scope": scope}, hdrs)
        if r.status != 200:
            raise GlewlwydError("grant of %r to %s by %s: %d" % (scope, client_id, username,
                                                               r.status))
        sep = "&" if "?" in callback else "?"
        r = request("GET", callback + sep + "g_continue", None, hdrs)
        loc = r.header("Location")
        if r.status != 302 or not loc:
            raise GlewlwydError("authorization after login: %d %r" % (r.status, r.body[:300]))
        return loc
