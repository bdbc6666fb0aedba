"""Check each server part of the harness on its own, with a stub FastCGI
responder in place of lanyard: MariaDB (install, start, app account, stop
and start again), lighttpd spawning the stub through the shipped snippet,
Apache proxying to a stub `--listen` backend through the shipped snippet.

    PYTHONPATH=tests/e2e python3 -m harness selftest --builddir BUILD [--srcdir SRC]
"""

import os
import shutil
import subprocess
import sys
import time

from .apache import Apache, run_as_user
from .lanyard import Build, ListenWorker
from .lighttpd import Lighttpd
from .mariadb import MariaDB
from .proc import http_status, pid_alive
from .share import ApacheUserShare

E2E_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stub_program(path, libdir=E2E_DIR):
    with open(path, "w") as f:
        f.write("#!%s\nimport sys\nsys.path.insert(0, %r)\n"
                "from harness.fcgi import stub_main\nstub_main(sys.argv[1:])\n"
                % (sys.executable, libdir))
    os.chmod(path, 0o755)
    return path


def _shared_stub(share):
    """The stub and the two modules it imports, where Apache's user reaches them."""
    lib = share.path("pylib")
    os.makedirs(os.path.join(lib, "harness"))
    for d in (lib, os.path.join(lib, "harness")):
        os.chmod(d, 0o755)
    for name in ("__init__.py", "fcgi.py"):
        dst = os.path.join(lib, "harness", name)
        shutil.copyfile(os.path.join(E2E_DIR, "harness", name), dst)
        os.chmod(dst, 0o644)
    os.makedirs(share.path("stub"))
    os.chmod(share.path("stub"), 0o755)
    return _stub_program(share.path("stub", "lanyard"), lib)


def _check(what, cond):
    print("%-60s %s" % (what, "ok" if cond else "FAILED"), flush=True)
    if not cond:
        raise SystemExit("selftest failed: " + what)


def run(builddir, srcdir):
    work = os.path.join(os.path.abspath(builddir), "tests", "e2e", ".work", "selftest")
    os.makedirs(work, exist_ok=True)
    os.makedirs(os.path.join(work, "stub"), exist_ok=True)
    stub = _stub_program(os.path.join(work, "stub", "lanyard"))  # comm "lanyard", as the real one
    build = Build(builddir, srcdir)
    build.lanyard = stub
    t0 = time.monotonic()

    db = MariaDB(os.path.join(work, "mariadb"))
    os.makedirs(db.workdir, exist_ok=True)
    db.install()
    db.start()
    try:
        pwfile = os.path.join(work, "db-password")
        if os.path.exists(pwfile):
            os.unlink(pwfile)
        pw = db.create_app_database(pwfile)
        _check("mariadb: password file is 0600", os.stat(pwfile).st_mode & 0o777 == 0o600)
        r = subprocess.run([db.client, "--no-defaults", "--socket=" + db.socket, "-u", "lanyard",
                            "-p" + pw, "-N", "-e", "SELECT DATABASE()", "lanyard"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _check("mariadb: lanyard@localhost can use database lanyard",
               r.returncode == 0 and r.stdout.strip() == "lanyard")
        old = db.pid
        db.stop()
        _check("mariadb: stopped by PID", not pid_alive(old) and not db.ping())
        db.start()
        _check("mariadb: started again on the same datadir and socket",
               db.ping() and db.sql("SELECT COUNT(*) FROM mysql.user WHERE user='lanyard'")
               == [["1"]])

        lt = Lighttpd(workdir=os.path.join(work, "lighttpd"), srcdir=srcdir, worker_bin=stub,
                      lanyard_config="/nonexistent.yaml",
                      fcgi_socket=os.path.join(work, "lt.sock"), env=build.env(), procs=2)
        os.makedirs(lt.workdir, exist_ok=True)
        lt.start()
        try:
            _check("lighttpd: GET /api/health through the snippet is 200",
                   http_status(lt.url + "/api/health") == 200)
            _check("lighttpd: unknown path reaches the worker (404)",
                   http_status(lt.url + "/api/nope") == 404)
            _check("lighttpd: spawned 2 workers", len(lt.worker_pids()) == 2)
        finally:
            pid = lt.pid
            lt.stop()
            _check("lighttpd: stopped by PID", not pid_alive(pid))

        lw = ListenWorker(build, "/nonexistent.yaml", work, workers=1, name="stub-listen",
                          prefork=False)
        lw.start()
        ap = Apache(workdir=os.path.join(work, "apache"), srcdir=srcdir,
                    backend="127.0.0.1:%d" % lw.port, env=build.env())
        os.makedirs(ap.workdir, exist_ok=True)
        try:
            ap.start()
            _check("apache: GET /api/health through the snippet is 200",
                   http_status(ap.url + "/api/health") == 200)
            _check("apache: unknown path reaches the worker (404)",
                   http_status(ap.url + "/api/nope") == 404)
        finally:
            pid = ap.pid
            ap.stop()
            lw.stop()
            _check("apache: stopped by PID", pid is None or not pid_alive(pid))

        # as root, mod_fcgid runs the stub as www-data: from the per-run share
        fcgid = {"bin": stub, "config": "/nonexistent.yaml", "env": {}}
        ug = run_as_user()
        share = ApacheUserShare(*ug) if ug else None
        if share:
            d = share.stack_dir("fcgid")
            fcgid.update(bin=_shared_stub(share), state_dir=os.path.join(d, "run"),
                         docroot=os.path.join(d, "htdocs"))
        fd = Apache(workdir=os.path.join(work, "fcgid"), srcdir=srcdir, env=build.env(),
                    fcgid=fcgid)
        os.makedirs(os.path.join(fd.workdir, "run", "fcgid"), exist_ok=True)
        try:
            fd.start()
            _check("fcgid: GET /api/health through the snippet is 200",
                   http_status(fd.url + "/api/health") == 200)
            _check("fcgid: unknown path reaches the worker (404)",
                   http_status(fd.url + "/api/nope") == 404)
            _check("fcgid: a worker runs under Apache's process manager", len(fd.worker_pids()) >= 1)
        finally:
            pid = fd.pid
            fd.stop()
            if share:
                share.close()
            _check("fcgid: stopped by PID", pid is None or not pid_alive(pid))
    finally:
        db.stop()
    print("selftest: all parts ok in %.1fs" % (time.monotonic() - t0))


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="harness selftest")
    ap.add_argument("--builddir", default=os.environ.get("LANYARD_BUILDDIR", "."))
    ap.add_argument("--srcdir", default=os.environ.get("LANYARD_SRCDIR",
                                                       os.path.dirname(os.path.dirname(E2E_DIR))))
    a = ap.parse_args(argv)
    run(a.builddir, a.srcdir)
