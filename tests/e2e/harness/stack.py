"""A whole service: the private MariaDB (one per session), lanyard configs,
and a front end (lighttpd spawning workers, or Apache proxying to a
`lanyard --listen` parent) per (front end, token mode)."""

import base64
import glob
import os
import secrets
import shutil
import tempfile
import uuid
import warnings
import zlib

from .apache import Apache, run_as_user
from .lanyard import Build, ListenWorker, write_config, write_secret
from .lighttpd import Lighttpd
from .mariadb import MariaDB
from .share import ApacheUserShare, Unreachable

FRONTENDS = ("lighttpd", "apache", "fcgid")
MODES = ("jwt", "opaque")
ADMIN_EMAIL = "admin@example.com"
SOCKET_MAX = 100


def unique(prefix="t"):
    """A name no other test (or earlier run on the same database) uses."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def unique_email(prefix="user"):
    return "%s@example.com" % unique(prefix)


def metrics_dirs(config_path):
    """The metrics directories of workers started with this config, named as
    ly_metrics_dir (src/core/metrics.c) names them: /dev/shm (else /tmp)
    /lanyard-metrics-<workers' uid>-<CRC-32 of the config's absolute path>.
    Any uid whose directory it is: mod_fcgid's workers run as www-data."""
    crc = zlib.crc32(os.path.realpath(config_path).encode())
    base = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"
    out = []
    for d in glob.glob(os.path.join(base, "lanyard-metrics-*-%08x" % crc)):
        uid = os.path.basename(d).split("-")[2]
        try:
            st = os.lstat(d)
        except OSError:
            continue
        if uid.isdigit() and st.st_uid == int(uid):
            out.append(d)
    return out


class NotReachable(Exception):
    """A front end cannot run from where the tree is (the reason says why).
    With the per-run share (harness/share.py) this means the machine itself
    is unusual; the suite reports it as an error, never as a skip."""


class Env:
    """Per-session state: the trees, the work dir, MariaDB, the key, the admin."""

    def __init__(self, builddir, srcdir, workdir=None):
        builddir = os.path.abspath(builddir)
        self.workdir = os.path.abspath(workdir or os.environ.get("LANYARD_E2E_WORKDIR")
                                       or os.path.join(builddir, "tests", "e2e", ".work"))
        os.makedirs(self.workdir, exist_ok=True)
        # unix socket paths are limited to 108 bytes: keep sockets short
        self.tmp_sockdir = None
        if len(os.path.join(self.workdir, "lighttpd-opaque.sock-99")) > SOCKET_MAX:
            self.tmp_sockdir = tempfile.mkdtemp(prefix="ly-e2e-", dir="/tmp")
            warnings.warn("work dir path too long for unix sockets; sockets in %s"
                          % self.tmp_sockdir)
        self.sockdir = self.tmp_sockdir or self.workdir
        self.asan_dir = os.path.join(self.workdir, "asan")
        self.build = Build(builddir, srcdir, self.asan_dir)
        # Started as root, Apache and mod_fcgid's workers run as www-data: what
        # they need goes to a per-run directory they can reach (harness/share.py),
        # the MariaDB socket included, wherever the checkout is.
        self.www = None
        ug = run_as_user()
        if ug:
            try:
                self.www = ApacheUserShare(*ug, logs_to=self.asan_dir)
            except Unreachable as e:
                raise NotReachable(str(e))
        self.mariadb = MariaDB(os.path.join(self.workdir, "mariadb"),
                               self.www.root if self.www else self.sockdir)
        self.db_password_file = os.path.join(self.workdir, "db-password")
        self.key_file = os.path.join(self.workdir, "jwt-eddsa.pem")
        self.secrets_key_file = os.path.join(self.workdir, "secrets.key")
        self.admin_email = ADMIN_EMAIL
        self.admin_password_file = os.path.join(self.workdir, "admin-password")
        self.admin_password = None
        self.ctl_config = os.path.join(self.workdir, "ctl.yaml")

    def clear_sanitizer_logs(self):
        shutil.rmtree(self.asan_dir, ignore_errors=True)
        os.makedirs(self.asan_dir, exist_ok=True)

    def sanitizer_logs(self):
        """Every sanitizer report so far: the run's own and those of mod_fcgid's workers."""
        logs = self.www.sanitizer_logs() if self.www else []
        if os.path.isdir(self.asan_dir):
            logs += [os.path.join(self.asan_dir, n) for n in os.listdir(self.asan_dir)]
        return sorted(logs)

    def config(self, path, *, public_url, mode="jwt", password_file=None, key_file=None,
               secrets_key_file=None, **kw):
        return write_config(path, public_url=public_url, db_socket=self.mariadb.socket,
                            password_file=password_file or self.db_password_file, mode=mode,
                            key_file=key_file or self.key_file,
                            secrets_key_file=secrets_key_file or self.secrets_key_file, **kw)

    def start_database(self):
        os.makedirs(self.mariadb.workdir, exist_ok=True)
        self.mariadb.install()
        self.mariadb.start()
        if os.path.exists(self.db_password_file):
            os.unlink(self.db_password_file)
        self.mariadb.create_app_database(self.db_password_file, fresh=True)

    def prepare(self):
        """Key, schema and the first administrator, once per session."""
        if os.path.exists(self.key_file):
            os.unlink(self.key_file)
        self.build.ctl_ok(None, "keygen", "--alg", "EdDSA", "--out", self.key_file)
        # doc/sso.md: 32 random bytes (here in base64) seal the SSO client secrets
        write_secret(self.secrets_key_file, base64.b64encode(os.urandom(32)).decode())
        self.config(self.ctl_config, public_url="http://127.0.0.1:8080")
        self.build.ctl_ok(self.ctl_config, "migrate")
        self.admin_password = secrets.token_urlsafe(18)
        write_secret(self.admin_password_file, self.admin_password)
        self.build.ctl_ok(self.ctl_config, "bootstrap", "--email", self.admin_email,
                          "--password-file", self.admin_password_file)

    def stack(self, frontend, mode):
        return Stack(self, frontend, mode).start()

    def close(self):
        self.mariadb.stop()
        if self.www:
            self.www.close()  # its sanitizer reports move to asan_dir
        if self.tmp_sockdir:
            shutil.rmtree(self.tmp_sockdir, ignore_errors=True)


class Stack:
    """One front end in one token mode, with its own lanyard config."""

    external = False
    # lighttpd with no bin-path, in front of a `lanyard --listen` parent on a unix
    # socket (the shipped snippet with var.lanyard_bin = ""), instead of spawning
    lighttpd_listen = False

    def __init__(self, env, frontend, mode):
        if frontend not in FRONTENDS or mode not in MODES:
            raise ValueError("unknown stack %s-%s" % (frontend, mode))
        self.env = env
        self.frontend = frontend
        self.mode = mode
        self.id = "%s-%s" % (frontend, mode)
        self.dir = os.path.join(env.workdir, self.id)
        os.makedirs(self.dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, "lanyard.yaml")
        self.admin_email = env.admin_email
        self.admin_password = env.admin_password
        self.mariadb = env.mariadb
        self.build = env.build
        self.server = None   # the front end
        self.listen = None   # the --listen parent (Apache only)
        self.shared = None   # mod_fcgid as root: {"dir", "bin", "password_file", "key_file"}

    @property
    def url(self):
        return self.server.url

    def _write_config(self, port):
        kw = {}
        if self.shared:
            kw = {"password_file": self.shared["password_file"],
                  "key_file": self.shared["key_file"],
                  "secrets_key_file": self.shared["secrets_key_file"]}
        self.env.config(self.config_path, public_url="http://127.0.0.1:%d" % port, mode=self.mode,
                        **kw)

    def _start_backend(self, port):
        self._write_config(port)
        if self.listen is not None:
            self.listen.stop()
        self.listen = ListenWorker(self.build, self.config_path, self.dir, workers=2).start()
        return "127.0.0.1:%d" % self.listen.port

    def _start_unix_backend(self, port):
        self._write_config(port)
        if self.listen is not None:
            self.listen.stop()
        self.listen = ListenWorker(self.build, self.config_path, self.dir, workers=2,
                                   unix_path=self.server.fcgi_socket).start()

    def start(self):
        if self.frontend == "lighttpd":
            sock = os.path.join(self.env.sockdir, self.id + ".sock")
            self.server = Lighttpd(workdir=self.dir, srcdir=self.build.srcdir,
                                   worker_bin="" if self.lighttpd_listen else self.build.lanyard,
                                   lanyard_config=self.config_path, fcgi_socket=sock,
                                   env=self.build.env(), procs=2,
                                   before_start=self._start_unix_backend if self.lighttpd_listen
                                   else self._write_config)
        elif self.frontend == "apache":
            self.server = Apache(workdir=self.dir, srcdir=self.build.srcdir, env=self.build.env(),
                                 before_start=self._start_backend, console=self._console())
        else:
            env = self.build.env()
            fcgid = {"bin": self.build.lanyard, "config": self.config_path,
                     "env": {k: env[k] for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if k in env}}
            if self.env.www:
                fcgid = self._share_with_apache_user()
            self.server = Apache(workdir=self.dir, srcdir=self.build.srcdir, env=env, fcgid=fcgid,
                                 before_start=self._write_config, console=self._console())
        try:
            self.server.start()
        except Exception:
            self.stop()
            raise
        return self

    def _console(self):
        """The web console's files for Apache: the source tree's console/, or,
        when Apache runs as www-data, a copy in the per-run share it can read."""
        src = os.path.join(self.build.srcdir, "console")
        if not self.env.www:
            return src
        d = self.env.www.tree(src, "console")
        try:
            self.env.www.check(read=[os.path.join(d, "index.html")], enter=[d])
        except Unreachable as e:
            raise NotReachable("Apache runs as %s: %s" % (self.env.www.user, e))
        return d

    def _share_with_apache_user(self):
        """mod_fcgid runs the workers as Apache's user (www-data): hand it a copy
        of the program, the secrets (0600, its own), a config naming them, the
        database socket and a place for sanitizer reports, all in the per-run
        share, and check as that user that it can use them. Returns the fcgid
        settings for Apache."""
        www = self.env.www
        d = www.stack_dir(self.id)
        self.config_path = os.path.join(d, "lanyard.yaml")
        self.shared = {"dir": d, "bin": www.program(self.build.lanyard),
                       "password_file": www.secret(self.env.db_password_file),
                       "key_file": www.secret(self.env.key_file),
                       "secrets_key_file": www.secret(self.env.secrets_key_file)}
        self._write_config(1)  # rewritten with the real port before Apache starts
        try:
            www.check(execute=[self.shared["bin"]],
                      read=[self.config_path, self.shared["password_file"],
                            self.shared["key_file"]],
                      write=[self.mariadb.socket, www.asan_dir,
                             os.path.join(d, "run", "fcgid")],
                      enter=[os.path.join(d, "htdocs")])
        except Unreachable as e:
            raise NotReachable("mod_fcgid runs the workers as %s: %s" % (www.user, e))
        return {"bin": self.shared["bin"], "config": self.config_path,
                "state_dir": os.path.join(d, "run"), "docroot": os.path.join(d, "htdocs"),
                "env": self.build.sanitizer_env(www.asan_dir)}

    def ctl(self, *args, **kw):
        return self.build.ctl(self.config_path, *args, **kw)

    def worker_pids(self):
        """PIDs of the lanyard workers serving this front end (by parent PID)."""
        if self.listen is not None:
            return self.listen.worker_pids()
        return self.server.worker_pids()

    def frontend_log(self):
        return self.server.error_log() if self.server else ""

    def stop(self):
        if self.server is not None:
            self.server.stop()
        if self.listen is not None:
            self.listen.stop()
        # The workers are gone: their metrics directory would outlive the run
        # (in production it outlives a restart on purpose, so sums never go down).
        if self.config_path:
            for d in metrics_dirs(self.config_path):
                shutil.rmtree(d, ignore_errors=True)


class ExternalStack:
    """A service someone else runs (LANYARD_E2E_URL): HTTP only."""

    external = True
    frontend = mode = "external"
    id = "external"
    mariadb = None
    config_path = None

    def __init__(self, url, admin_email=None, admin_password=None):
        self.url = url.rstrip("/")
        self.admin_email = admin_email or ADMIN_EMAIL
        self.admin_password = admin_password

    def ctl(self, *args, **kw):
        raise RuntimeError("no lanyardctl against an external URL")

    def worker_pids(self):
        return []

    def stop(self):
        pass
