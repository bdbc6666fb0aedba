"""Processes started by the harness: started in their own session, known by
PID, stopped by PID (never by name), and all stopped at interpreter exit even
when a test run is interrupted. Free ports are taken from the kernel and the
start is retried when a bind races (lighttpd LightyTest.pm, curl testenv)."""

import atexit
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

_RUNNING = []


class StartError(RuntimeError):
    pass


class PortInUse(StartError):
    pass


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def with_free_port(start, tries=4):
    """Call start(port) with fresh ports until it does not raise PortInUse."""
    last = None
    for _ in range(tries):
        try:
            return start(free_port())
        except PortInUse as e:
            last = e
    raise StartError("no free port after %d tries: %s" % (tries, last))


def proc_stat(pid):
    """(comm, state, ppid) of a process, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("latin-1")
    except OSError:
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    rest = data[data.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[1])


def children(ppid, comm=None):
    """PIDs whose parent is ppid (optionally only those named comm), sorted."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[2] == ppid and st[1] != "Z" and (comm is None or st[0] == comm):
            out.append(int(name))
    return sorted(out)


def pid_alive(pid):
    st = proc_stat(pid)
    return st is not None and st[1] != "Z"


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def kill_pid(pid, sig=signal.SIGTERM, timeout=15.0):
    """Signal one PID and wait (it need not be our child) until it is gone;
    SIGKILL after timeout. Returns True if it went on the first signal."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return False


def http_status(url, timeout=3.0, headers=None):
    """Status code of a GET, or None when nothing answered (stdlib only)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Server:
    """A server process the harness owns."""

    def __init__(self, name, argv, log_path, env=None, cwd=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = str(log_path)
        self.env = env
        self.cwd = cwd
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                                         start_new_session=True)
        _RUNNING.append(self)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def wait_until(self, ready, timeout, what):
        """Poll ready() until true; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise StartError("%s exited with %s while waiting for %s\n%s" %
                                 (self.name, self.proc.returncode, what, self.log_tail()))
            if ready():
                return
            time.sleep(0.1)
        raise StartError("%s: timed out after %ss waiting for %s\n%s" %
                         (self.name, timeout, what, self.log_tail()))

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stop by PID; children it leaves behind are stopped by PID too.
        Returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        kids = children(self.proc.pid)
        rc = None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            rc = self.proc.returncode
        for k in kids:
            if pid_alive(k):
                kill_pid(k, signal.SIGTERM, 5.0)
        if self in _RUNNING:
            _RUNNING.remove(self)
        return rc


def start_front_end(srv, port, url, ready_path, timeout, error_log):
    """Start a web server and wait until it answers GET ready_path with 200.
    A failed start is stopped; a port taken meanwhile raises PortInUse (so
    with_free_port tries another), anything else StartError with the log."""
    srv.start()
    try:
        srv.wait_until(lambda: port_open(port), timeout, "127.0.0.1:%d" % port)
        srv.wait_until(lambda: http_status(url + ready_path) == 200, timeout,
                       "GET %s to answer 200" % ready_path)
    except StartError as e:
        srv.stop()
        log = error_log()
        if "address already in use" in (str(e) + log).lower():
            raise PortInUse(str(e))
        raise StartError("%s\n--- error.log ---\n%s" % (e, log[-4000:]))


class FrontEnd:
    """What the web servers share: set self.port, self.server and
    self.workdir (with its error.log) and get a URL, a PID and the log."""

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.server.pid if self.server else None

    def error_log(self):
        return read_log(os.path.join(self.workdir, "error.log"))


def read_log(path):
    """A log file's text, or "" when there is none (yet)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def stop_all():
    for s in reversed(list(_RUNNING)):
        try:
            s.stop(timeout=10.0)
        except Exception:  # pragma: no cover - best effort at exit
            pass


atexit.register(stop_all)
