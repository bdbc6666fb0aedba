"""A private MariaDB server: datadir, temporary files and unix socket under a
work directory, no TCP (--skip-networking), root authenticated by the unix
socket. It can be stopped and started again on the same datadir and socket."""

import os
import pwd
import secrets
import shutil
import subprocess
import time

from .proc import Server, StartError, cmdline, kill_pid, pid_alive


def _which(name, fallbacks):
    for cand in [shutil.which(name)] + fallbacks:
        if cand and os.access(cand, os.X_OK):
            return cand
    raise StartError("%s not found (apt-get install mariadb-server)" % name)


class MariaDB:
    def __init__(self, workdir, sockdir=None):
        self.workdir = os.path.abspath(workdir)
        self.datadir = os.path.join(self.workdir, "db")
        # The server's temporary tables and files default to the host's /tmp,
        # which a run shares with everything else on the machine: a CI run
        # once saw the bootstrap lose its own temporary table there
        # ("Could not remove temporary table '/tmp/#sql-temptable-...',
        # error: 2"). Under the work directory nothing else touches them.
        self.tmpdir = os.path.join(self.workdir, "tmp")
        self.socket = os.path.join(sockdir or self.workdir, "mysql.sock")
        self.pid_file = os.path.join(self.workdir, "mariadb.pid")
        self.log_file = os.path.join(self.workdir, "mariadb.err")
        self.mariadbd = _which("mariadbd", ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"])
        self.client = _which("mariadb", ["/usr/bin/mariadb", "/usr/bin/mysql"])
        self.install_db = _which("mariadb-install-db", ["/usr/bin/mariadb-install-db",
                                                        "/usr/bin/mysql_install_db"])
        self.os_user = pwd.getpwuid(os.geteuid()).pw_name
        self.server = None
        if len(self.socket) > 100:
            raise StartError("socket path too long (%d > 100): %s" % (len(self.socket), self.socket))

    # --- lifecycle -------------------------------------------------------

    def _root_args(self):
        return ["--user=root"] if os.geteuid() == 0 else []

    def _tmpdir_args(self):
        os.makedirs(self.tmpdir, exist_ok=True)
        return ["--tmpdir=" + self.tmpdir]

    def install(self, fresh=False):
        """Create the system tables unless the datadir already has them."""
        if fresh and os.path.isdir(self.datadir):
            shutil.rmtree(self.datadir)
        if os.path.isdir(os.path.join(self.datadir, "mysql")):
            return
        os.makedirs(self.datadir, exist_ok=True)
        # On a host whose name does not resolve (and no /etc/hosts entry for
        # localhost) the script stops: "Neither host ... nor 'localhost' could
        # be looked up with resolveip". --skip-name-resolve writes grant rows
        # without host names (the server runs with it too, see start), and
        # --force skips that lookup: in MariaDB 10.11 only --force does, and
        # it does nothing else.
        argv = [self.install_db, "--no-defaults", "--datadir=" + self.datadir,
                "--auth-root-authentication-method=socket", "--skip-test-db",
                "--skip-name-resolve", "--force"] + self._tmpdir_args() + self._root_args()
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
        if r.returncode == 0:
            return
        out = r.stdout.decode("utf-8", "replace")
        with open(os.path.join(self.workdir, "install-db.log"), "w") as f:
            f.write(out)
        # The script's own closing advice fills the tail of its output; the
        # cause is the bootstrap server's first [ERROR] line, and on a shared
        # machine often a full disk. Both go on the first line, which is the
        # one pytest's summary and tests/run-all.sh's "what failed" show. A
        # [Warning] that mentions an error code is a symptom, not the cause:
        # it is named only when nothing says [ERROR].
        lines = [l.strip() for l in out.splitlines()]
        errors = ([l for l in lines if "[ERROR]" in l] or
                  [l for l in lines if "rror:" in l and "[Warning]" not in l] or
                  [l for l in lines if "rror" in l])
        free = shutil.disk_usage(self.workdir).free // (1024 * 1024)
        raise StartError("mariadb-install-db failed (exit %d, %d MiB free under %s): %s\n%s"
                         % (r.returncode, free, self.workdir,
                            errors[0] if errors else "no error line", out))

    def _reap_stale(self):
        """A server left over by an interrupted run on this datadir: stop it by PID."""
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return
        if pid and pid_alive(pid) and ("--datadir=" + self.datadir).encode() in cmdline(pid):
            kill_pid(pid, timeout=60.0)

    def _server_args(self):
        """Arguments a subclass changes (harness/galera.py: TCP and wsrep)."""
        return ["--skip-networking"]

    def start(self, timeout=90.0):
        self._reap_stale()
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        argv = [self.mariadbd, "--no-defaults", "--datadir=" + self.datadir,
                "--socket=" + self.socket] + self._server_args() + self._tmpdir_args() + [
                "--pid-file=" + self.pid_file,
                "--log-error=" + self.log_file, "--innodb-buffer-pool-size=256M",
                "--innodb-log-file-size=128M", "--innodb-flush-log-at-trx-commit=2",
                "--skip-log-bin", "--skip-name-resolve", "--max-connections=200",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"]
        argv += self._root_args()
        self.server = Server("mariadbd", argv, os.path.join(self.workdir, "mariadbd.out"))
        self.server.start()
        try:
            self.server.wait_until(self.ping, timeout, "the MariaDB socket")
        except StartError as e:
            raise StartError("%s\n--- %s ---\n%s" % (e, self.log_file, self._log_tail()))
        # A worker whose connect failed while the server was down answers 503 for one
        # second without trying again (src/db/db.c, retry_at): after a restart, let every
        # worker of every stack get past that before the next test talks to it.
        time.sleep(1.2)
        return self

    def stop(self, timeout=60.0):
        if self.server is not None:
            self.server.stop(timeout=timeout)
            self.server = None

    @property
    def pid(self):
        return self.server.pid if self.server else None

    def running(self):
        return self.server is not None and self.server.alive()

    def _log_tail(self, n=30):
        try:
            with open(self.log_file, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # --- SQL as the administrator ------------------------------------------

    def _client(self, sql, timeout=30):
        return subprocess.run([self.client, "--no-defaults", "--socket=" + self.socket,
                               "-u", self.os_user, "-N", "-B", "-e", sql],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)

    def ping(self):
        return os.path.exists(self.socket) and self._client("SELECT 1", timeout=10).returncode == 0

    def sql(self, sql):
        """Run statements as root; return the rows (tab-separated lines)."""
        r = self._client(sql)
        if r.returncode != 0:
            raise RuntimeError("SQL failed: %s\n%s" % (sql, r.stderr.decode("utf-8", "replace")))
        return [line.split("\t") for line in r.stdout.decode().splitlines()]

    def create_app_database(self, password_file, name="lanyard", user="lanyard", fresh=True):
        """The application's database and account; the password goes to a 0600 file.
        An existing password file is reused (the quick start re-runs)."""
        if os.path.exists(password_file):
            with open(password_file) as f:
                password = f.read().strip()
        else:
            password = secrets.token_urlsafe(24)
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
        drop = "DROP DATABASE IF EXISTS `%s`;" % name if fresh else ""
        self.sql(drop + "CREATE DATABASE IF NOT EXISTS `{n}` CHARACTER SET utf8mb4 "
                 "COLLATE utf8mb4_unicode_ci;"
                 "CREATE USER IF NOT EXISTS '{u}'@'localhost' IDENTIFIED BY '{p}';"
                 "ALTER USER '{u}'@'localhost' IDENTIFIED BY '{p}';"
                 "GRANT ALL ON `{n}`.* TO '{u}'@'localhost';".format(n=name, u=user, p=password))
        return password


def wait_gone(pid, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
