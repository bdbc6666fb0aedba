"""The quick start's servers (tools/quickstart.sh): the same MariaDB, config
and lighttpd code as the test suite, with a fixed port and a state folder
(run/) that survives re-runs.

    python3 -m harness quickstart up --root RUN --builddir B --srcdir S [--port 8080] [--background]
    python3 -m harness quickstart stop --root RUN
"""

import argparse
import hashlib
import os
import secrets
import signal
import sys
import time

from . import proc
from .lanyard import Build, write_config, write_secret
from .lighttpd import Lighttpd
from .mariadb import MariaDB
from .proc import PortInUse, StartError, cmdline, kill_pid, pid_alive

ADMIN_EMAIL = "admin@example.com"


def _pids_file(root):
    return os.path.join(root, "quickstart.pids")


def _read_pids(root):
    """[(name, pid)] of servers a previous run left in the background and still alive."""
    out = []
    try:
        with open(_pids_file(root)) as f:
            for line in f:
                name, pid = line.split()
                pid = int(pid)
                # only a process whose command line names our folder is ours
                if pid_alive(pid) and any(root.encode() in a for a in cmdline(pid)):
                    out.append((name, pid))
    except (OSError, ValueError):
        pass
    return out


def _say(msg=""):
    print(msg, flush=True)


def _banner(port, password):
    url = "http://127.0.0.1:%d" % port
    body = '{"email":"%s","password":"%s"}' % (ADMIN_EMAIL, password)
    _say()
    _say("Lanyard is running on %s" % url)
    _say()
    _say("  administrator: %s" % ADMIN_EMAIL)
    _say("  password:      %s" % password)
    _say()
    _say("  curl -s %s/api/health" % url)
    _say("  curl -s -X POST %s/api/auth/v1/signin -H 'Content-Type: application/json' -d '%s'"
         % (url, body))
    _say()


def up(a):
    root = os.path.abspath(a.root)
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o700)
    admin_pw_file = os.path.join(root, "admin-password")
    running = _read_pids(root)
    if running:
        with open(admin_pw_file) as f:
            _banner(a.port, f.read().strip())
        _say("Already running in the background (%s). Stop: tools/quickstart.sh stop"
             % ", ".join("%s %d" % r for r in running))
        return 0

    build = Build(a.builddir, a.srcdir)
    if build.missing():
        _say("not built: %s" % ", ".join(build.missing()))
        return 1
    sockdir = root
    if len(os.path.join(root, "lanyard.sock-99")) > 100:
        # unix socket paths are short: a fixed folder under /tmp for a deep checkout
        sockdir = "/tmp/lanyard-qs-%s" % hashlib.sha1(root.encode()).hexdigest()[:10]
        os.makedirs(sockdir, mode=0o700, exist_ok=True)
        _say("quickstart: sockets in %s (the checkout path is long)" % sockdir)
    db = MariaDB(os.path.join(root, "mariadb"), sockdir=sockdir)
    os.makedirs(db.workdir, exist_ok=True)
    _say("quickstart: MariaDB in %s" % db.datadir)
    db.install()
    db.start()
    lt = None
    try:
        db.create_app_database(os.path.join(root, "db-password"), fresh=False)
        key = os.path.join(root, "jwt-eddsa.pem")
        if not os.path.exists(key):
            build.ctl_ok(None, "keygen", "--alg", "EdDSA", "--out", key)
        cfg = os.path.join(root, "lanyard.yaml")
        write_config(cfg, public_url="http://127.0.0.1:%d" % a.port, db_socket=db.socket,
                     password_file=os.path.join(root, "db-password"), mode="jwt", key_file=key,
                     scrypt_n=32768)
        build.ctl_ok(cfg, "migrate")
        if os.path.exists(admin_pw_file):
            with open(admin_pw_file) as f:
                password = f.read().strip()
        else:
            password = secrets.token_urlsafe(15)
            write_secret(admin_pw_file, password)
            r = build.ctl(cfg, "bootstrap", "--email", ADMIN_EMAIL, "--password-file",
                          admin_pw_file)
            if r.returncode != 0:
                os.unlink(admin_pw_file)
                _say("bootstrap failed: %s" % r.stderr.strip())
                _say("(an administrator exists but %s is gone: remove %s to start over)"
                     % (admin_pw_file, root))
                raise SystemExit(1)
        lt = Lighttpd(workdir=os.path.join(root, "lighttpd"), srcdir=a.srcdir,
                      worker_bin=build.lanyard, lanyard_config=cfg,
                      fcgi_socket=os.path.join(sockdir, "lanyard.sock"), env=build.env(),
                      procs=2, port=a.port)
        os.makedirs(lt.workdir, exist_ok=True)
        _say("quickstart: lighttpd on 127.0.0.1:%d (logs in %s)" % (a.port, lt.workdir))
        try:
            lt.start()
        except PortInUse:
            _say("port %d is in use; try: tools/quickstart.sh --port 8081" % a.port)
            raise SystemExit(1)
        with open(_pids_file(root), "w") as f:
            f.write("lighttpd %d\nmariadbd %d\n" % (lt.pid, db.pid))
    except BaseException:
        if lt is not None:
            lt.stop()
        db.stop()
        raise

    _banner(a.port, password)
    if a.background:
        # leave both running: forget them so that exit does not stop them
        proc._RUNNING.clear()
        _say("Running in the background. Stop: tools/quickstart.sh stop")
        return 0

    _say("Press Ctrl-C to stop.")
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stopping and lt.server.alive() and db.running():
        time.sleep(0.5)
    if not stopping:
        _say("quickstart: a server exited; see %s and %s" % (lt.workdir, db.log_file))
    _say("quickstart: stopping lighttpd and MariaDB")
    lt.stop()
    db.stop()
    os.unlink(_pids_file(root))
    return 0 if stopping else 1


def stop(a):
    root = os.path.abspath(a.root)
    running = _read_pids(root)
    if not running:
        _say("quickstart: nothing running")
    for name, pid in running:  # lighttpd first, then the database
        _say("quickstart: stopping %s (PID %d)" % (name, pid))
        kill_pid(pid, signal.SIGTERM, timeout=60.0)
    if os.path.exists(_pids_file(root)):
        os.unlink(_pids_file(root))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(prog="harness quickstart")
    ap.add_argument("command", choices=("up", "stop"))
    ap.add_argument("--root", required=True)
    ap.add_argument("--builddir")
    ap.add_argument("--srcdir")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--background", action="store_true")
    a = ap.parse_args(argv)
    try:
        return up(a) if a.command == "up" else stop(a)
    except StartError as e:
        _say("quickstart: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
