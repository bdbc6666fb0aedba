#!/usr/bin/env python3
"""Lanyard's speed against the bare FastCGI floor, measured in the same run.

    bench/run.py [--builddir build] [--quick] [--rounds N] [--duration S] ...

Builds nothing. Starts one private MariaDB and three private lighttpd servers
on 127.0.0.1, all with the same lighttpd settings (the shipped
etc/lighttpd/lanyard.conf: mod_fastcgi, bin-path, max-procs 2, a unix
socket). They spawn, in turn, bench/fcgi_floor (the floor), lanyard in jwt
mode and lanyard in opaque mode. It then runs wrk against each endpoint in
interleaved rounds, so that the noise of a shared machine hits every target
alike, and prints a Markdown table of medians and ratios to the floor (also
written to bench/results/<timestamp>.md). See bench/README.md.

Everything the servers need (MariaDB, configs, lanyardctl keygen, migrate,
bootstrap, starting and stopping by PID) comes from the end-to-end harness,
tests/e2e/harness/, which is imported, not copied.
"""

import argparse
import base64
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # nothing written to the source tree

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import provenance  # noqa: E402 (bench/provenance.py)

from harness.lighttpd import Lighttpd  # noqa: E402
from harness.nginx import Nginx  # noqa: E402
from harness.apache import Apache  # noqa: E402
from harness.proc import Server, children, free_port  # noqa: E402
from harness.proc import StartError  # noqa: E402
from harness.stack import Env  # noqa: E402

DEFAULT_SCRYPT_N = 32768  # SPEC §2's default: the cost a real deployment pays
PROCS = 2                 # lighttpd max-procs, the same for every target
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Lanyard stacks: name -> (tokens.mode, JWT algorithm, security.auth_cache_ttl
# in seconds). Each is its own lighttpd + lanyard instance on the same MariaDB.
STACKS = {
    "jwt": ("jwt", "EdDSA", 0),
    "opaque": ("opaque", "EdDSA", 0),
    "hs256": ("jwt", "HS256", 0),
    "rs256": ("jwt", "RS256", 0),
    "es256": ("jwt", "ES256", 0),
    "jwt-ttl10": ("jwt", "EdDSA", 10),
    "opaque-ttl10": ("opaque", "EdDSA", 10),
}
SIGNS_IN = ("jwt", "opaque", "hs256", "rs256", "es256")  # a token from each
JWT_FLOORS = {"hs256": "HS256", "rs256": "RS256", "es256": "ES256", "jwt": "EdDSA"}

# (id, server, method, path, credential, floor, target, what it measures).
# The order of the rows is the order of the table; each round runs each floor
# next to its rows, rotated (round_order). floor None: the row is a floor.
# Targets are issue 17's.
ENDPOINTS = [
    ("floor", "floor", "GET", "/", None, None, None,
     "bench/fcgi_floor: lighttpd + FastCGI, fixed body, no parsing, no DB"),
    ("floor-sql", "floor-sql", "GET", "/", None, None, None,
     "bench/sql_floor: fixed body + one prepared primary-key SELECT (api_keys by id)"),
    ("floor-jwt-hs256", "floor-hs256", "GET", "/", "hs256", None, None,
     "bench/jwt_floor: fixed body + HS256 signature check"),
    ("floor-jwt-rs256", "floor-rs256", "GET", "/", "rs256", None, None,
     "bench/jwt_floor: fixed body + RS256 signature check"),
    ("floor-jwt-es256", "floor-es256", "GET", "/", "es256", None, None,
     "bench/jwt_floor: fixed body + ES256 signature check"),
    ("floor-jwt-eddsa", "floor-jwt", "GET", "/", "jwt", None, None,
     "bench/jwt_floor: fixed body + EdDSA signature check"),
    ("check-hs256", "hs256", "GET", "/api/auth/v1/check", "hs256", "floor", 0.90,
     "check, JWT HS256"),
    ("check-rs256", "rs256", "GET", "/api/auth/v1/check", "rs256", "floor", 0.90,
     "check, JWT RS256"),
    ("check-es256-warm", "es256", "GET", "/api/auth/v1/check", "es256", "floor", 0.90,
     "check, JWT ES256, the same token every time (cache warm)"),
    ("check-eddsa-warm", "jwt", "GET", "/api/auth/v1/check", "jwt", "floor", 0.90,
     "check, JWT EdDSA, the same token every time (cache warm)"),
    ("check-eddsa-cold", "jwt", "GET", "/api/auth/v1/check", "cold", "floor", 0.60,
     "check, JWT EdDSA, every token new (wrk cycles through pre-minted tokens)"),
    ("check-apikey-ttl0", "jwt", "GET", "/api/auth/v1/check", "apikey", "floor-sql", 0.85,
     "check, API key, auth_cache_ttl 0"),
    ("check-opaque-ttl0", "opaque", "GET", "/api/auth/v1/check", "opaque", "floor-sql", 0.85,
     "check, opaque token, auth_cache_ttl 0"),
    ("check-apikey-ttl10", "jwt-ttl10", "GET", "/api/auth/v1/check", "apikey", "floor", 0.85,
     "check, API key, auth_cache_ttl 10s"),
    ("check-opaque-ttl10", "opaque-ttl10", "GET", "/api/auth/v1/check", "opaque", "floor", 0.85,
     "check, opaque token, auth_cache_ttl 10s"),
    ("check-role", "jwt", "GET", "/api/auth/v1/check?org=ORG&role=admin", "jwt", "floor-sql",
     0.85, "check?org=O&role=admin, JWT EdDSA (membership lookup)"),
    ("me-jwt", "jwt", "GET", "/api/org/v1/me", "jwt", "floor-sql", 0.80,
     "me, JWT EdDSA + user + memberships"),
    ("me-opaque", "opaque", "GET", "/api/org/v1/me", "opaque", "floor-sql", 0.70,
     "me, opaque: the token's lookup by SHA-256 with the user and memberships, one statement"),
    ("me-apikey", "jwt", "GET", "/api/org/v1/me", "apikey", "floor-sql", 0.70,
     "me, API key: the key's lookup with its service account, one statement"),
    ("me-opaque-ttl10", "opaque-ttl10", "GET", "/api/org/v1/me", "opaque", "floor-sql", None,
     "me, opaque token, auth_cache_ttl 10s (the lookup cached; one statement, the identity's)"),
    ("me-apikey-ttl10", "jwt-ttl10", "GET", "/api/org/v1/me", "apikey", "floor-sql", None,
     "me, API key, auth_cache_ttl 10s (the lookup cached; one statement, the account's)"),
    ("health", "jwt", "GET", "/api/health", None, "floor-sql", 0.90,
     "health: router + one DB round trip (`SELECT 1`)"),
    ("apache-floor", "apache-floor", "GET", "/", None, None, None,
     "Apache mod_proxy_fcgi → bench/fcgi_floor --listen (TCP), fixed body"),
    ("apache-check-jwt", "apache", "GET", "/api/auth/v1/check", "apache", "apache-floor", 0.90,
     "Apache → lanyard --listen: check, JWT EdDSA"),
    ("apache-floor-sql", "apache-floor-sql", "GET", "/", None, None, None,
     "Apache mod_proxy_fcgi → bench/sql_floor --listen (TCP): fixed body + one SELECT"),
    ("apache-check-apikey", "apache", "GET", "/api/auth/v1/check", "apikey", "apache-floor-sql",
     0.85, "Apache → lanyard --listen: check, API key, auth_cache_ttl 0"),
    ("apache-me-jwt", "apache", "GET", "/api/org/v1/me", "apache", "apache-floor-sql", 0.80,
     "Apache → lanyard --listen: me, JWT EdDSA"),
    ("apache-health", "apache", "GET", "/api/health", None, "apache-floor-sql", 0.90,
     "Apache → lanyard --listen: health"),
    ("nginx-open", "nginx", "GET", "/open/file.txt", None, None, None,
     "nginx: a static file, unprotected (the floor of the rows below)"),
    ("nginx-subrequest", "nginx", "GET", "/floor/file.txt", None, "nginx-open", None,
     "nginx: the same file behind auth_request to a location answering 204 itself"),
    ("nginx-auth", "nginx", "GET", "/static/file.txt", "jwt", "nginx-open", 0.85,
     "nginx: the same file behind auth_request → check (shipped snippet), JWT EdDSA"),
    ("nginx-auth-cache", "nginx-cache", "GET", "/static/file.txt", "jwt", "nginx-open", 0.85,
     "nginx: as above, the snippet's optional 5 s cache of the check on"),
    ("nginx-fcgi-auth", "nginx-fcgi", "GET", "/static/file.txt", "jwt", "nginx-open", 0.85,
     "nginx: auth_request straight to lanyard --listen over FastCGI (fastcgi snippet)"),
    ("nginx-fcgi-cache", "nginx-fcgi-cache", "GET", "/static/file.txt", "jwt", "nginx-open",
     0.85, "nginx: as above, the fastcgi snippet's optional 5 s cache on"),
]
# main() narrows ENDPOINTS to the rows asked for; the extras find theirs here.
ALL_ENDPOINTS = tuple(ENDPOINTS)
SIGNIN = ("signin", "jwt", "POST", "/api/auth/v1/signin", None, None, None,
          "scrypt verify + session, refresh and access token (writes)")


def say(msg=""):
    print(msg, file=sys.stderr, flush=True)


# --- HTTP with the standard library ---------------------------------------

def http(method, url, body=None, token=None, expect=(200,)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode(errors="replace")
    if status not in expect:
        raise RuntimeError("%s %s: %d %s" % (method, url, status, text[:300]))
    return json.loads(text) if text else None


# --- process accounting ------------------------------------------------------

def cpu_ticks(pids):
    """utime + stime of the given processes, in clock ticks."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            total += int(rest[11]) + int(rest[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def db_counters(mariadb):
    rows = mariadb.sql("SHOW GLOBAL STATUS WHERE Variable_name IN "
                       "('Com_stmt_execute', 'Com_stmt_prepare', 'Com_select')")
    return {name: int(value) for name, value in rows}


# --- wrk ----------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def parse_wrk(out):
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
         "requests": int(re.search(r"(\d+) requests in", out).group(1)),
         "non2xx": 0, "sock_errors": 0}
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % pct, out, re.M)
        r["p" + pct] = to_ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["sock_errors"] = sum(int(x) for x in m.groups())
    return r


def find_wrk():
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("bench: wrk is missing; apt-get install wrk")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        path = shutil.which("wrk")
    if not path:
        raise SystemExit("bench: wrk not found (Debian: apt-get install wrk)")
    return path


class Bench:
    def __init__(self, a):
        self.a = a
        self.wrk = find_wrk()
        self.env = None
        self.servers = {}
        self.tokens = {}
        self.lua = {}
        self.extra_procs = []

    # --- set-up ---------------------------------------------------------

    def start(self):
        a = self.a
        env = Env(a.builddir, SRCDIR, a.workdir)
        scrypt_n = a.scrypt_n
        base_config = env.config

        def config(path, **kw):  # every config the harness writes, with our scrypt N
            kw.setdefault("scrypt_n", scrypt_n)
            kw.setdefault("log_level", a.log_level)
            return base_config(path, **kw)
        env.config = config
        self.env = env
        missing = env.build.missing()
        for prog in ("fcgi_floor", "sql_floor", "jwt_floor"):
            if not os.access(self.floor_bin(prog), os.X_OK):
                missing.append(self.floor_bin(prog))
        if missing:
            raise SystemExit("bench: not built: %s (make -C %s)" % (", ".join(missing), a.builddir))

        say("bench: MariaDB in %s" % env.mariadb.datadir)
        env.start_database()
        env.prepare()  # key, schema, the first administrator (hashed with scrypt_n)

        self.keys = {"EdDSA": env.key_file}
        for name, (mode, alg, ttl) in STACKS.items():
            if alg not in self.keys:
                path = os.path.join(env.workdir, "bench-%s.key" % alg.lower())
                if os.path.exists(path):
                    os.unlink(path)
                env.build.ctl_ok(None, "keygen", "--alg", alg, "--out", path)
                self.keys[alg] = path
            cfg = os.path.join(env.workdir, name, "lanyard.yaml")

            def write(port, cfg=cfg, mode=mode, alg=alg, ttl=ttl):
                env.config(cfg, public_url="http://127.0.0.1:%d" % port, mode=mode,
                           key_file=self.keys[alg])
                with open(cfg) as f:  # the harness writes EdDSA and no cache
                    text = f.read()
                text = text.replace("algorithm: EdDSA", "algorithm: %s" % alg)
                text = text.replace("\nsecurity:\n", "\nsecurity:\n  auth_cache_ttl: %ds\n" % ttl)
                with open(cfg, "w") as f:
                    f.write(text)
            self.servers[name] = self._lighttpd(name, env.build.lanyard, cfg, write)
        self._prepare_identities()
        self.servers["floor"] = self._lighttpd("floor", self.floor_bin("fcgi_floor"), os.devnull,
                                               None)
        key_id = self.env.mariadb.sql("SELECT id FROM lanyard.api_keys LIMIT 1")[0][0]
        self.sql_floor_env = {
            "BENCH_DB_SOCKET": env.mariadb.socket, "BENCH_DB_USER": "lanyard",
            "BENCH_DB_NAME": "lanyard", "BENCH_DB_PASSWORD_FILE": env.db_password_file,
            "BENCH_KEY_ID": key_id}
        self.servers["floor-sql"] = self._lighttpd(
            "floor-sql", self.floor_bin("sql_floor"), os.devnull, None, self.sql_floor_env)
        for stack, alg in JWT_FLOORS.items():
            self.servers["floor-" + stack] = self._lighttpd(
                "floor-" + stack, self.floor_bin("jwt_floor"), os.devnull, None,
                {"BENCH_JWT_ALG": alg, "BENCH_JWT_KEY": self.keys[alg]})
        if not a.no_apache:
            self._apache()
        for variant in ("proxy", "fastcgi"):
            for cached in (False, True):
                name = ("nginx" if variant == "proxy" else "nginx-fcgi") + \
                    ("-cache" if cached else "")
                self.servers[name] = self._nginx(name, variant, cached)
        for name, srv in self.servers.items():
            say("bench: %-12s front end PID %s on %s, workers %s" %
                (name, getattr(srv, "pid", None), srv.url, getattr(srv, "worker_pids", list)()))

    def _apache(self):
        """Apache mod_proxy_fcgi in front of `lanyard --listen` (the e2e
        harness's apache stack, EdDSA, jwt mode) and, with the same
        generated Apache config, in front of `fcgi_floor --listen`."""
        stack = self.env.stack("apache", "jwt")
        self.servers["apache"] = stack
        t = http("POST", stack.url + "/api/auth/v1/signin",
                 {"email": self.email, "password": self.password})
        self.tokens["apache"] = t["access_token"]  # its own issuer (public_url)
        self._apache_floor("apache-floor", "fcgi_floor", stack)
        self._apache_floor("apache-floor-sql", "sql_floor", stack, self.sql_floor_env)

    def _apache_floor(self, name, prog, stack, env=None):
        """The same generated Apache config in front of `PROG --listen`."""
        workdir = os.path.join(self.env.workdir, name)
        os.makedirs(workdir, exist_ok=True)
        floor = Server(prog, [self.floor_bin(prog), "--listen",
                              "127.0.0.1:%d" % free_port(), str(PROCS)],
                       os.path.join(workdir, "floor.log"),
                       env=dict(os.environ, **env) if env else None)
        self.extra_procs.append(floor)

        def backend(port):
            addr = floor.argv[2]
            floor.start()
            time.sleep(0.5)
            return addr
        srv = Apache(workdir=workdir, srcdir=SRCDIR, env=self.env.build.env(),
                     before_start=backend, ready_path="/", console=stack.server.console)
        srv.start()
        srv.worker_pids = lambda: children(floor.pid)
        self.servers[name] = srv

    def _nginx(self, name, variant, cached):
        """nginx serving one static file twice: under /open/ unprotected and
        under /static/ behind auth_request to the jwt stack's check, with the
        shipped snippet as it is, or with its optional cache turned on;
        through the jwt stack's lighttpd (variant "proxy") or straight to a
        `lanyard --listen` of the same config (variant "fastcgi",
        lanyard-forward-auth-fastcgi.conf)."""
        workdir = os.path.join(self.env.workdir, name)
        htdocs = os.path.join(workdir, "htdocs")
        for d in ("open", "static"):
            os.makedirs(os.path.join(htdocs, d), exist_ok=True)
            with open(os.path.join(htdocs, d, "file.txt"), "w") as f:
                f.write("a static file of a few bytes, as a small asset\n")
        shipped = ("lanyard-forward-auth.conf" if variant == "proxy"
                   else "lanyard-forward-auth-fastcgi.conf")
        with open(os.path.join(SRCDIR, "etc", "nginx", shipped)) as f:
            text = f.read()
        if cached:
            text = text.replace("#cache ", "")
        snippet = os.path.join(workdir, shipped)
        with open(snippet, "w") as f:
            f.write(text)
        cache_dir = os.path.join(workdir, "cache")
        workers = None
        if variant == "proxy":
            lanyard, upstream = self.servers["jwt"].url.split("//", 1)[1], "lanyard"
        else:
            lanyard, upstream = "127.0.0.1:%d" % free_port(), "lanyard_fcgi"
            workers = Server("lanyard-listen", [
                self.env.build.lanyard, "--config",
                os.path.join(self.env.workdir, "jwt", "lanyard.yaml"),
                "--listen", lanyard, "--workers", str(PROCS)],
                os.path.join(workdir, "lanyard-listen.log"), env=self.env.build.env())
            self.extra_procs.append(workers)
            workers.start()
            time.sleep(0.5)
        access_log = os.path.join(workdir, "access.log")

        def body(port):
            return """\
{variant}_cache_path "{cache_dir}" keys_zone=lanyard_check:1m max_size=16m inactive=10s;
upstream {upstream} {{
    server {lanyard};
    keepalive 16;
}}
server {{
    listen 127.0.0.1:{port};
    root "{htdocs}";
    access_log "{access_log}";
    include "{snippet}";
    location = /.ready {{
        auth_request off;
        return 200 "ready\\n";
    }}
    location /open/ {{
        auth_request off;
    }}
    location /static/ {{
        set $lanyard_query "";
    }}
    # auth_request's own cost: a subrequest nginx answers itself
    location /floor/ {{
        auth_request /.floor;
        alias "{htdocs}/static/";
    }}
    location = /.floor {{
        internal;
        auth_request off;
        return 204;
    }}
}}
""".format(cache_dir=cache_dir, lanyard=lanyard, port=port, htdocs=htdocs,
                       access_log=access_log, snippet=snippet, variant=variant,
                       upstream=upstream)
        srv = Nginx(workdir=workdir, http_body=body).start()
        if workers is not None:
            srv.worker_pids = lambda: children(workers.pid)
        return srv

    def floor_bin(self, name):
        return os.path.join(self.a.builddir, "bench", name)

    def _lighttpd(self, name, worker_bin, config, before_start, extra_env=None):
        workdir = os.path.join(self.env.workdir, name)
        os.makedirs(workdir, exist_ok=True)
        for log in ("lighttpd.out", "access.log"):  # a line per request: start afresh
            if os.path.exists(os.path.join(workdir, log)):
                os.unlink(os.path.join(workdir, log))
        srv = Lighttpd(workdir=workdir, srcdir=SRCDIR, worker_bin=worker_bin,
                       lanyard_config=config,
                       fcgi_socket=os.path.join(self.env.sockdir, "bench-%s.sock" % name),
                       env=self.env.build.env(extra_env), procs=PROCS,
                       ready_path="/.ready" if name.startswith("floor-") and name != "floor-sql"
                       else "/" if name.startswith("floor") else "/api/health",
                       before_start=before_start)
        return srv.start()

    def _prepare_identities(self):
        """Through the API: the admin signs in, makes an organization and a
        user who is a member of it; that user signs in on both stacks."""
        jwt_url = self.servers["jwt"].url
        admin = http("POST", jwt_url + "/api/auth/v1/signin",
                     {"email": self.env.admin_email, "password": self.env.admin_password})
        org = self.org = "bench-" + secrets.token_hex(4)
        http("POST", jwt_url + "/api/org/v1/orgs", {"name": org, "display_name": "Bench"},
             admin["access_token"], expect=(201,))
        self.email = "bench-%s@example.com" % secrets.token_hex(4)
        self.password = secrets.token_urlsafe(18)
        http("POST", jwt_url + "/api/org/v1/users",
             {"email": self.email, "password": self.password, "display_name": "Bench User"},
             admin["access_token"], expect=(201,))
        http("PUT", "%s/api/org/v1/orgs/%s/members/%s" % (jwt_url, org, self.email),
             {"role": "admin"}, admin["access_token"], expect=(200, 201))
        self.tokens_at = time.monotonic()
        self._sign_in_user()
        for stack in SIGNS_IN:
            me = http("GET", self.servers[stack].url + "/api/org/v1/me", token=self.tokens[stack])
            assert me["credential"]["format"] == STACKS[stack][0], me
            assert len(me["organizations"]) == 1, me
        http("POST", "%s/api/org/v1/orgs/%s/service-accounts" % (jwt_url, org),
             {"name": "bench"}, admin["access_token"], expect=(201,))
        key = http("POST", "%s/api/org/v1/orgs/%s/service-accounts/bench/keys" % (jwt_url, org),
                   {"display_name": "bench"}, admin["access_token"], expect=(201,))
        self.tokens["apikey"] = key["token"]  # lives api_keys.default_ttl: no renewal
        me = http("GET", jwt_url + "/api/org/v1/me", token=self.tokens["apikey"])
        assert me["credential"]["type"] == "api_key", me
        rows = self.env.mariadb.sql("SELECT SUBSTRING_INDEX(password_hash, '$', 3) FROM "
                                    "lanyard.users WHERE email = '%s'" % self.email)
        self.hash_params = rows[0][0] if rows else "?"
        body = json.dumps({"email": self.email, "password": self.password})
        self.lua["signin"] = self._lua("signin", 'wrk.method = "POST"\n'
                                       'wrk.headers["Content-Type"] = "application/json"\n'
                                       'wrk.body = %s\n' % json.dumps(body))

    def _sign_in_user(self):
        for stack in SIGNS_IN:
            t = http("POST", self.servers[stack].url + "/api/auth/v1/signin",
                     {"email": self.email, "password": self.password})
            self.tokens[stack] = t["access_token"]
        if "apache" in self.servers:
            t = http("POST", self.servers["apache"].url + "/api/auth/v1/signin",
                     {"email": self.email, "password": self.password})
            self.tokens["apache"] = t["access_token"]
        self.tokens_at = time.monotonic()
        self._mint_cold_tokens()

    def _mint_cold_tokens(self):
        """--cold-tokens distinct EdDSA tokens, each the signed-in user's
        with another jti (or iat), signed with the stack's key: wrk's Lua
        script cycles through them, so no worker sees a token twice unless
        a run sends more requests than there are tokens (the report says)."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        def b64d(t):
            return base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))

        def b64e(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        with open(self.keys["EdDSA"], "rb") as f:
            key = load_pem_private_key(f.read(), None)
        head, payload, _sig = self.tokens["jwt"].split(".")
        claims = json.loads(b64d(payload))
        path = os.path.join(self.env.workdir, "cold-tokens.txt")
        with open(path, "w") as f:
            for i in range(self.a.cold_tokens):
                if "jti" in claims:
                    claims["jti"] = "bench%d%s" % (i, secrets.token_hex(4))
                else:
                    claims["iat"] = claims["iat"] - i % 300
                signing = head + "." + b64e(json.dumps(claims, separators=(",", ":")).encode())
                f.write(signing + "." + b64e(key.sign(signing.encode())) + "\n")
        # setup() numbers the threads; each starts at its own share of the list
        self.lua["check-eddsa-cold"] = self._lua("cold", """\
local tokens, n, i = {}, 0, 0
local threads = 0
function setup(thread)
    thread:set("id", threads)
    threads = threads + 1
end
function init(args)
    for line in io.lines("%s") do n = n + 1; tokens[n] = line end
    i = math.floor(n * id / %d)
end
function request()
    i = i %% n + 1
    return wrk.format(nil, nil, { Authorization = "Bearer " .. tokens[i] })
end
""" % (path, self.a.threads))

    def _lua(self, name, text):
        path = os.path.join(self.env.workdir, "%s.lua" % name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def stop(self):
        for srv in self.servers.values():
            srv.stop()
        self.servers.clear()
        for proc in self.extra_procs:
            proc.stop()
        if self.env is not None:
            self.env.close()

    # --- also reported ------------------------------------------------------

    def rss(self, server, ep_id, checkpoints):
        """VmRSS of each worker of one stack, before and after the given
        numbers of requests (wrk runs of a few seconds until each is passed)."""
        ep = next(e for e in ENDPOINTS if e[0] == ep_id)
        workers = self.servers[server].worker_pids()

        def vmrss():
            out = {}
            for pid in workers:
                try:
                    with open("/proc/%d/status" % pid) as f:
                        m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
                    out[pid] = int(m.group(1)) if m else None
                except OSError:
                    out[pid] = None
            return out
        points = [(0, vmrss())]
        done = 0
        for target in checkpoints:
            while done < target:
                done += self.run(ep, 2)["requests"]
            points.append((done, vmrss()))
            say("bench: rss after %d requests: %s" % (done, points[-1][1]))
        return workers, points

    def _copy_rows(self, table, key_where, replace, upto):
        """Copies one row of lanyard.TABLE until the table has `upto` rows,
        in batches of 100,000 from MariaDB's sequence engine, with the
        columns in `replace` computed from `seq` (unique ids and secrets)."""
        cols = [r[0] for r in self.env.mariadb.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'lanyard' "
            "AND table_name = '%s' ORDER BY ordinal_position" % table)]
        have = int(self.env.mariadb.sql("SELECT COUNT(*) FROM lanyard.%s" % table)[0][0])
        while have < upto:
            n = min(100000, upto - have)
            exprs = ", ".join(replace.get(c, "t.`%s`" % c) for c in cols)
            self.env.mariadb.sql(
                "INSERT INTO lanyard.%s (%s) SELECT %s FROM lanyard.%s t, lanyard.seq_%d_to_%d s "
                "WHERE %s" % (table, ", ".join("`%s`" % c for c in cols), exprs, table,
                              have + 1, have + n, key_where))
            have += n
        self.env.mariadb.sql("ANALYZE TABLE lanyard.%s" % table)

    def _settle(self, limit=180):
        """Waits until mariadbd is idle after a load: InnoDB writes the new
        pages out and merges buffered index changes in the background, and on
        a 2-core machine that work would be measured as the larger table's
        cost. Idle is under 5 % of a core over a second with few dirty pages.
        Returns the seconds waited and whether it got there."""
        pid = [self.env.mariadb.pid]
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            c0 = cpu_ticks(pid)
            time.sleep(1.0)
            busy = (cpu_ticks(pid) - c0) / CLK_TCK
            dirty = int(self.env.mariadb.sql(
                "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")[0][1])
            if busy < 0.05 and dirty < 1000:
                return time.monotonic() - t0, True
        return time.monotonic() - t0, False

    def scale(self, sizes, rounds, duration):
        """check with the bench's API key while the table holds each number
        of keys (and 100,000 users at the largest): rows copied from the
        bench's own key and user, each with its own id and secret hash."""
        ep = next(e for e in ALL_ENDPOINTS if e[0] == "check-apikey-ttl0")
        floor = next(e for e in ALL_ENDPOINTS if e[0] == "floor")
        key_id = self.env.mariadb.sql("SELECT id FROM lanyard.api_keys LIMIT 1")[0][0]
        out = []
        for size in sizes:
            self._copy_rows("api_keys", "t.id = '%s'" % key_id,
                            {"id": "CONCAT('Z', LPAD(s.seq, 15, '0'))",
                             "secret_hash": "UNHEX(SHA2(CONCAT('bench-key-', s.seq), 256))"}, size)
            if size == sizes[-1]:
                self._copy_rows("users", "t.email = '%s'" % self.email,
                                {"id": "CONCAT('u-', LPAD(s.seq, 12, '0'))",
                                 "email": "CONCAT('bench-', s.seq, '@example.com')"}, 100000)
            waited, idle = self._settle()
            say("bench: %d keys loaded; mariadbd %s after %.0f s" % (
                size, "idle" if idle else "still busy", waited))
            self.run(ep, 1)  # the new pages read once
            # Each round next to the fixed floor (no database, so the table's
            # size cannot move it): the sizes run a minute or more apart, and
            # the ratio takes out what the machine did in between.
            rs, fs = [], []
            for _ in range(rounds):
                fs.append(self.run(floor, duration))
                rs.append(self.run(ep, duration))
            out.append((size, rs, fs))
            say("bench: check-apikey with %d keys: %s" % (size, ", ".join(
                "%.0f/s (floor %.0f/s)" % (r["rps"], f["rps"]) for r, f in zip(rs, fs))))
        return out

    def signin_load(self, check_id, duration):
        """The check measured while sign-ins (scrypt, one connection: about
        one core) run beside it."""
        ep = next(e for e in ENDPOINTS if e[0] == check_id)
        srv = self.servers[SIGNIN[1]]
        argv = [self.wrk, "-t1", "-c1", "-d%ds" % (duration + 2), "--latency",
                "-s", self.lua["signin"], srv.url + SIGNIN[3]]
        bg = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(1)  # the sign-ins are under way before the check starts
            r = self.run(ep, duration)
            out = bg.communicate(timeout=duration + 60)[0]
        finally:
            if bg.poll() is None:
                bg.kill()
                bg.wait()
        return r, parse_wrk(out)

    # --- one measurement ----------------------------------------------------

    def run(self, endpoint, duration, connections=None):
        eid, server, method, path, cred = endpoint[:5]
        a = self.a
        if cred and time.monotonic() - self.tokens_at > 600:
            self._sign_in_user()  # access tokens live 15 minutes
        srv = self.servers[server]
        argv = [self.wrk, "-t%d" % a.threads, "-c%d" % (connections or a.connections),
                "-d%ds" % duration, "--latency"]
        if cred and cred in self.tokens:
            argv += ["-H", "Authorization: Bearer " + self.tokens[cred]]
        if eid in self.lua:
            argv += ["-s", self.lua[eid]]
        argv.append(srv.url + path.replace("ORG", self.org))
        workers = srv.worker_pids() if hasattr(srv, "worker_pids") else []
        front = srv.pid if hasattr(srv, "pid") else srv.server.pid  # a harness Stack
        pids = {"workers": workers, "lighttpd": [front], "mariadbd": [self.env.mariadb.pid]}
        db0 = db_counters(self.env.mariadb)
        cpu0 = {k: cpu_ticks(v) for k, v in pids.items()}
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=duration + 60).stdout
        cpu1 = {k: cpu_ticks(v) for k, v in pids.items()}
        db1 = db_counters(self.env.mariadb)
        try:
            r = parse_wrk(out)
        except AttributeError:
            raise RuntimeError("cannot read wrk's output:\n" + out)
        n = max(r["requests"], 1)
        for k in pids:
            r["cpu_" + k] = (cpu1[k] - cpu0[k]) / CLK_TCK * 1e6 / n
        # the SHOW STATUS itself is one Com_select, not a prepared statement
        r["stmts"] = (db1["Com_stmt_execute"] - db0["Com_stmt_execute"]) / n
        r["prepares"] = db1["Com_stmt_prepare"] - db0["Com_stmt_prepare"]
        r["restarts"] = hasattr(srv, "worker_pids") and sorted(srv.worker_pids()) != sorted(workers)
        return r


# --- the report ---------------------------------------------------------------

def med(rs, key):
    return statistics.median(r[key] for r in rs)


def fmt_ms(v):
    return "%.2f ms" % v if v < 100 else "%.0f ms" % v


def context_lines(a, bench):
    commit, dirty, cflags = a.provenance
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            model = m.group(1) if m else ""
    except OSError:
        pass
    lighttpd_v = provenance.cmd(["lighttpd", "-v"]).split(" ")[0] or "lighttpd"
    return [
        "- commit `%s`%s; build `%s` (CFLAGS `%s`%s)" % (
            commit, dirty, os.path.relpath(a.builddir, SRCDIR), cflags,
            ", **sanitizers: not representative**" if sanitized(a.builddir) else ""),
        "- machine: %d CPUs (%s), %s; load average before the run: %s" % (
            os.cpu_count(), model, platform.release(), a.load_before),
        "- %s, mod_fastcgi `bin-path`, `max-procs` %d, unix socket, for every target; "
        "lanyard `log.level: %s`" % (lighttpd_v, PROCS, a.log_level),
        "- `wrk -t%d -c%d -d%ds --latency`, %d rounds, interleaved (each floor next to its "
        "rows, the order rotated each round), after a %ds warm-up of each" % (
            a.threads, a.connections, a.duration, a.rounds, a.warmup),
        "- the user has 1 organization; the password hash is `%s` (N=%d)" % (
            bench.hash_params, a.scrypt_n),
    ]


def sanitized(builddir):
    try:
        with open(os.path.join(builddir, "build-config.h")) as f:
            return re.search(r"^#define LY_SANITIZE 1", f.read(), re.M) is not None
    except OSError:
        return False


def report(a, bench, results, signin, started, elapsed, extra):
    lines = ["# Lanyard bench, %s" % started, ""]
    lines += context_lines(a, bench)
    lines += ["", "| request | measures | req/s (median) | min–max | floor | vs floor "
              "| rounds' ratios | target | vs JWT floor | p50 | p99 | worker CPU µs/req "
              "| lighttpd CPU µs/req | mariadbd CPU µs/req | DB stmts/req | errors |",
              "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for ep in ENDPOINTS:
        lines.append(row(ep, results[ep[0]], results))
    cold = results.get("check-eddsa-cold") or []
    if cold:
        most = max(r["requests"] for r in cold)
        lines += ["", "Cold tokens: %d distinct EdDSA tokens, the most requests in one run %d%s." % (
            a.cold_tokens, most, "" if most <= a.cold_tokens else
            " (more than the tokens: the rest of that run saw tokens again)")]
    if signin:
        lines += ["", "Sign-in is bound by scrypt (N=%d, r=8, p=1: about %d MiB and most of the "
                  "time per request); measured apart, never mixed with the rows above. "
                  "`wrk -c%d`, %d × %ds." % (a.scrypt_n, 128 * a.scrypt_n * 8 // (1 << 20),
                                             a.signin_connections, a.signin_rounds,
                                             a.signin_duration),
                  "", "| request | measures | req/s (median) | min–max | p50 | p99 | "
                  "worker CPU µs/req | mariadbd CPU µs/req | DB stmts/req | errors |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
                  row(SIGNIN, signin, None)]
    lines += extra
    prepares = sum(r["prepares"] for rs in list(results.values()) + [signin] for r in rs)
    lines += ["", "Statements prepared while measuring (after the warm-up): %d "
              "(0 means every worker reuses its prepared statements)." % prepares]
    lines += ["", "Whole run: %.0f s. A ratio is the median over the rounds of a row's req/s "
              "divided by its floor's in the same round, on the same machine; absolute numbers "
              "from a shared machine mean little on their own." % elapsed,
              ""]
    return "\n".join(lines)


JWT_FLOOR_OF = {"hs256": "floor-jwt-hs256", "rs256": "floor-jwt-rs256",
                "es256": "floor-jwt-es256", "jwt": "floor-jwt-eddsa", "cold": "floor-jwt-eddsa"}


def round_order(endpoints, rnd):
    """Round rnd's order: each floor with the rows divided by it, one after
    the other (the JWT floors with the fixed floor's rows), so that a row is
    never more than its group's few minutes from its floor. A whole round of
    every row took about 400 s, and a row run at one end of it was divided
    by a floor measured at the other. The groups, and the rows inside each
    group, start one place further on each round, so no row always runs
    first or right after its floor."""
    floors = {ep[5] for ep in endpoints if ep[5]}
    groups = {}
    for ep in endpoints:
        key = ep[5] or (ep[0] if ep[0] in floors else "floor")
        groups.setdefault(key, []).append(ep)
    order = []
    keys = list(groups)
    for key in keys[rnd % len(keys):] + keys[:rnd % len(keys)]:
        g = groups[key]
        k = rnd % len(g)
        order += g[k:] + g[:k]
    return order


def round_ratios(rs, fs):
    """Each round's req/s over its floor's in the same round: rows that ran
    minutes apart are not divided, so a machine that slowed down between
    rounds moves a row and its floor together."""
    return [r["rps"] / f["rps"] for r, f in zip(rs, fs) if f["rps"] > 0] or [0.0]


def row(ep, rs, results):
    eid, server, method, path, cred, floor, target, what = ep
    errors = sum(r["non2xx"] + r["sock_errors"] for r in rs)
    restarts = sum(1 for r in rs if r["restarts"])
    err = str(errors) + (" (worker restarted)" if restarts else "")
    rps = med(rs, "rps")
    cells = ["`%s %s` (%s)" % (method, path, eid), what, "%.0f" % rps,
             "%.0f–%.0f" % (min(r["rps"] for r in rs), max(r["rps"] for r in rs))]
    if results is not None:
        ratios = round_ratios(rs, results[floor or "floor"])
        ratio = statistics.median(ratios)
        if floor:
            cells += ["`%s`" % floor, "**%.2f**" % ratio, "%.2f–%.2f" % (min(ratios), max(ratios)),
                      "≥ %.2f" % target if target else "(reported)"]
        else:
            cells += ["(a floor)", "%.2f" % ratio, "%.2f–%.2f" % (min(ratios), max(ratios)), ""]
        jf = JWT_FLOOR_OF.get(cred) if STACKS.get(server, ("",))[0] == "jwt" else None
        cells.append("%.2f" % statistics.median(round_ratios(rs, results[jf]))
                     if jf and floor else "")
    cells += [fmt_ms(med(rs, "p50")), fmt_ms(med(rs, "p99")), "%.0f" % med(rs, "cpu_workers")]
    if results is not None:
        cells.append("%.0f" % med(rs, "cpu_lighttpd"))
    cells += ["%.0f" % med(rs, "cpu_mariadbd"),
              "%.2f" % med(rs, "stmts") if floor or results is None else "–", err]
    return "| " + " | ".join(cells) + " |"


def scale_report(a, bench):
    """The API-key check with 1,000 keys against 1,000,000 (--quick: 100,000)."""
    sizes = [1000, 1000000 if not a.quick else 100000]
    try:
        scaled = bench.scale(sizes, a.rounds, a.duration)
    except RuntimeError as e:  # the rows above are still worth a report
        say("bench: scale: %s" % e)
        return ["", "API-key scale measurement failed: %s" % str(e).splitlines()[-1]]
    small, big = med(scaled[0][1], "rps"), med(scaled[-1][1], "rps")
    ratios = [statistics.median(round_ratios(rs, fs)) for _, rs, fs in scaled]
    return ["", "API-key `check` (auth_cache_ttl 0) with %s keys loaded (and 100,000 users)%s, "
            "each round next to the fixed floor: %s; the largest against the smallest: %+.1f %% "
            "by the ratio to the floor (target: within 10 %%), %+.1f %% by req/s alone." % (
                " and ".join("{:,}".format(n) for n in sizes),
                " (--quick: not 1,000,000)" if a.quick else "",
                ", ".join("%.0f req/s (p99 %s, mariadbd %.0f µs/req), %.2f of the floor" % (
                    med(rs, "rps"), fmt_ms(med(rs, "p99")), med(rs, "cpu_mariadbd"), r)
                    for (_, rs, _fs), r in zip(scaled, ratios)),
                (ratios[-1] / ratios[0] - 1) * 100, (big / small - 1) * 100)]


# --- main ---------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description="Lanyard against the bare FastCGI floor (wrk).")
    ap.add_argument("--builddir", default="build",
                    help="build tree with lanyard, lanyardctl, bench/fcgi_floor (default ./build)")
    ap.add_argument("--workdir", help="data dirs, configs, logs (default BUILDDIR/bench/.work)")
    ap.add_argument("--results-dir", default=os.path.join(BENCH_DIR, "results"))
    ap.add_argument("--quick", action="store_true", help="a smoke run of under a minute")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int, help="seconds per wrk run")
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-scale", dest="scale", action="store_false",
                    help="skip the 1,000 against 1,000,000 API keys measurement")
    ap.add_argument("--no-apache", action="store_true",
                    help="skip the Apache mod_proxy_fcgi rows")
    ap.add_argument("--long", action="store_true",
                    help="RSS after 1,000,000 requests (default 100,000; --quick 20,000)")
    ap.add_argument("--cold-tokens", type=int,
                    help="distinct EdDSA tokens for the cache-cold row (default 100000; 20000)")
    ap.add_argument("--only", type=lambda v: v.split(","), metavar="ROW,ROW",
                    help="measure these rows only (and their floors), e.g. check-hs256,health; "
                    "'scale' among them runs the API-key scale measurement too")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--no-signin", dest="signin", action="store_false",
                    help="skip the (scrypt-bound) sign-in measurement")
    ap.add_argument("--signin-rounds", type=int)
    ap.add_argument("--signin-duration", type=int)
    ap.add_argument("--signin-connections", type=int, default=2)
    ap.add_argument("--scrypt-n", type=int, default=DEFAULT_SCRYPT_N)
    ap.add_argument("--log-level", default="info", choices=("error", "warn", "info", "debug"),
                    help="lanyard's log.level (default info, one line per request)")
    a = ap.parse_args(argv)
    if a.only is not None:
        a.scale = "scale" in a.only
        a.only = [r for r in a.only if r != "scale"]
        a.signin = False
    quick = a.quick
    for key, full, short in (("rounds", 5, 2), ("duration", 10, 1), ("warmup", 2, 0),
                             ("cold_tokens", 100000, 20000),
                             ("signin_rounds", 2, 1), ("signin_duration", 5, 2)):
        if getattr(a, key) is None:
            setattr(a, key, short if quick else full)
    a.rss_requests = 1000000 if a.long else 20000 if quick else 100000
    if a.threads > a.connections:
        ap.error("--threads must not exceed --connections")
    a.builddir = os.path.abspath(a.builddir)
    a.workdir = os.path.abspath(a.workdir or os.path.join(a.builddir, "bench", ".work"))
    a.load_before = "%.2f %.2f %.2f" % os.getloadavg()
    return a


def main(argv):
    a = parse_args(argv)
    t0 = time.monotonic()
    # The tree as the run starts: edits made while it runs are not in its binaries.
    a.provenance = provenance.build_info(a.builddir)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if sanitized(a.builddir):
        say("bench: warning: %s is a sanitizer build; the numbers will not be representative"
            % a.builddir)

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    bench = Bench(a)
    results = {ep[0]: [] for ep in ENDPOINTS}
    signin = []
    extra = []
    try:
        bench.start()
        ENDPOINTS[:] = [ep for ep in ENDPOINTS if ep[1] in bench.servers]
        if a.only is not None:
            unknown = set(a.only) - {ep[0] for ep in ENDPOINTS}
            if unknown:
                raise SystemExit("bench: --only: no such row: %s" % ", ".join(sorted(unknown)))
            keep = set(a.only) | {"floor"}  # every floor's own ratio is to it
            for ep in ENDPOINTS:
                if ep[0] in a.only:
                    keep |= {ep[5], JWT_FLOOR_OF.get(ep[4])} - {None}
            ENDPOINTS[:] = [ep for ep in ENDPOINTS if ep[0] in keep]
        planned = len(ENDPOINTS) * (a.warmup + a.rounds * a.duration)  # the rows kept only
        if a.signin:
            planned += a.warmup + a.signin_rounds * a.signin_duration
        say("bench: %d s of wrk planned, plus the extras" % planned)
        for ep in ENDPOINTS if a.warmup > 0 else ():
            bench.run(ep, a.warmup)
        for rnd in range(a.rounds):
            for ep in round_order(ENDPOINTS, rnd):
                r = bench.run(ep, a.duration)
                results[ep[0]].append(r)
            say("bench: round %d/%d: %s" % (rnd + 1, a.rounds, ", ".join(
                "%s %.0f/s" % (ep[0], results[ep[0]][-1]["rps"]) for ep in ENDPOINTS)))
        if a.scale:
            extra += scale_report(a, bench)
        if a.only is None:  # the extras measure rows of their own
            checkpoints = [10000, a.rss_requests]
            workers, points = bench.rss("jwt", "check-eddsa-cold", checkpoints)
            extra += ["", "Each worker's RSS (VmRSS, /proc/PID/status) of the `jwt` stack, after the "
                      "rounds above, then after more `check` requests with cold EdDSA tokens%s:" % (
                          "" if a.rss_requests >= 1000000 else
                          " (%d, not 1,000,000: `--long` does that)" % a.rss_requests), "",
                      "| worker | " + " | ".join("after +%d requests" % n for n, _ in points)
                      + " | growth |", "|---|" + "---:|" * (len(points) + 1)]
            for pid in workers:
                vals = [p[1].get(pid) for p in points]
                growth = ("%+d KiB" % (vals[-1] - vals[1]) if None not in (vals[1], vals[-1])
                          else "?")
                extra.append("| %d | " % pid + " | ".join(
                    "%d KiB" % v if v is not None else "?" for v in vals) + " | %s (from +%d) |" % (
                        growth, points[1][0]))
        if a.signin:
            bench.run(SIGNIN, max(a.warmup, 1), a.signin_connections)  # each worker prepares its own
            for rnd in range(a.signin_rounds):
                signin.append(bench.run(SIGNIN, a.signin_duration, a.signin_connections))
            say("bench: signin: %s" % ", ".join("%.1f/s" % r["rps"] for r in signin))
            loaded, sin = bench.signin_load("check-eddsa-warm", a.duration)
            alone = results["check-eddsa-warm"]
            extra += ["", "`check` (JWT EdDSA, warm) while one connection signs in without pause "
                      "(scrypt: about one core): sign-in %.1f req/s; check %.0f req/s, p99 %s "
                      "(alone, median of the rounds: %.0f req/s, p99 %s)." % (
                          sin["rps"], loaded["rps"], fmt_ms(loaded["p99"]), med(alone, "rps"),
                          fmt_ms(med(alone, "p99")))]
    except StartError as e:
        say("bench: %s" % e)
        return 1
    finally:
        bench.stop()
    text = report(a, bench, results, signin, started, time.monotonic() - t0, extra)
    print(text)
    path = None
    for d in (a.results_dir, os.path.join(a.builddir, "bench", "results")):
        try:
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, started.replace(":", "") + ".md")
            with open(path, "w") as f:
                f.write(text)
            break
        except OSError:
            path = None
    say("bench: written to %s" % path if path else "bench: could not write the results file")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
