"""A per-run directory that Apache's user (www-data) can reach, wherever the
checkout is.

Started as root, Apache runs as www-data, and so do the workers mod_fcgid
spawns. A checkout under a private directory (/root, a 0700 home, a CI
workspace) is out of their reach: they could not run the program, read its
config and keys, or connect to the private MariaDB's socket. So the harness
puts exactly those things here instead:

    /tmp/lanyard-e2e-www-XXXXXX/   0711 root   (enter, not list)
        lanyard                    0755 root   a copy of the built program
        console/                   0755 root   a copy of the web console's files (0644)
        mysql.sock                             the private MariaDB's socket
        secrets/                   0700 www-data
            db-password            0600 www-data  copies of the secrets
            jwt-eddsa.pem          0600 www-data
        fcgid-jwt/                 0711 root
            lanyard.yaml           0644 root   names only the paths above
            run/                   0755 root   mod_fcgid's process table
            run/fcgid/             0700 www-data  mod_fcgid's sockets
            htdocs/                0755 root   the DocumentRoot (empty)
        asan/                      0700 www-data  sanitizer reports of those workers

A copied program runs like the original (the sanitizer build too: it names
only system libraries). `close()` moves the sanitizer reports into the run's
own report folder and removes the directory.
"""

import atexit
import grp
import os
import pwd
import shutil
import subprocess
import tempfile

from .proc import stop_all

PREFIX = "lanyard-e2e-www-"


class Unreachable(Exception):
    """Apache's user cannot use what was shared (the reason says why)."""


def _searchable_by_others(path):
    """True if every directory from / down to path lets others search it."""
    d = os.path.abspath(path)
    while True:
        if not os.stat(d).st_mode & 0o001:
            return False
        parent = os.path.dirname(d)
        if parent == d:
            return True
        d = parent


def _base_dir():
    for d in ("/tmp", "/var/tmp"):
        if os.path.isdir(d) and _searchable_by_others(d) and os.stat(d).st_mode & 0o002:
            return d
    raise Unreachable("neither /tmp nor /var/tmp is a directory every user may enter and "
                      "write: nowhere to put what mod_fcgid's workers must reach")


class ApacheUserShare:
    def __init__(self, user, group, logs_to=None):
        self.user, self.group = user, group
        self.logs_to = logs_to  # where close() keeps the sanitizer reports
        self.uid = pwd.getpwnam(user).pw_uid
        self.gid = grp.getgrnam(group).gr_gid
        self.root = tempfile.mkdtemp(prefix=PREFIX, dir=_base_dir())
        os.chmod(self.root, 0o711)
        self.secrets_dir = self._dir("secrets", 0o700, owned=True)
        self.asan_dir = self._dir("asan", 0o700, owned=True)
        self._programs = {}
        self.closed = False
        atexit.register(self._at_exit)  # also when a run is interrupted

    def _dir(self, rel, mode, owned=False):
        path = os.path.join(self.root, rel)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
        if owned:
            os.chown(path, self.uid, self.gid)
        return path

    def path(self, *rel):
        return os.path.join(self.root, *rel)

    def program(self, src):
        """A 0755 copy of the program src (once per run); its path."""
        if src not in self._programs:
            dst = self.path(os.path.basename(src))
            if os.path.exists(dst):
                raise ValueError("two programs named %s" % os.path.basename(src))
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o755)
            self._programs[src] = dst
        return self._programs[src]

    def tree(self, src, name):
        """A copy of the directory src as SHARE/name, readable by all (dirs 0755,
        files 0644, root's), once per run; its path. Dotfiles are left out."""
        dst = self.path(name)
        if not os.path.isdir(dst):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".*"))
            for d, dirs, files in os.walk(dst):
                os.chmod(d, 0o755)
                for f in files:
                    os.chmod(os.path.join(d, f), 0o644)
        return dst

    def secret(self, src, name=None):
        """A fresh 0600 copy of the secret file src, owned by Apache's user; its path."""
        dst = os.path.join(self.secrets_dir, name or os.path.basename(src))
        with open(src, "rb") as f:
            data = f.read()
        if os.path.exists(dst):
            os.unlink(dst)
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.fchown(fd, self.uid, self.gid)
            os.write(fd, data)
        finally:
            os.close(fd)
        return dst

    def stack_dir(self, name):
        """SHARE/name (config) with run/ and run/fcgid/ for mod_fcgid's state,
        and htdocs/ (Apache maps mod_fcgid's requests to files there)."""
        d = self._dir(name, 0o711)
        self._dir(os.path.join(name, "htdocs"), 0o755)
        self._dir(os.path.join(name, "run"), 0o755)
        self._dir(os.path.join(name, "run", "fcgid"), 0o700, owned=True)
        return d

    def check(self, execute=(), read=(), write=(), enter=()):
        """Try, as Apache's user, to run, read, write (connect to a socket needs
        write) and enter these paths; raise Unreachable naming the first that fails."""
        tests = ([("-x", "run", p) for p in execute] + [("-r", "read", p) for p in read]
                 + [("-w", "write", p) for p in write] + [("-x", "enter", p) for p in enter])
        for op, verb, p in tests:
            r = subprocess.run(["test", op, p], user=self.uid, group=self.gid, extra_groups=[],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode != 0:
                raise Unreachable("%s cannot %s %s" % (self.user, verb, p))

    def sanitizer_logs(self):
        if self.closed or not os.path.isdir(self.asan_dir):
            return []
        return sorted(os.path.join(self.asan_dir, n) for n in os.listdir(self.asan_dir))

    def _at_exit(self):
        if not self.closed:
            stop_all()
            self.close()

    def close(self):
        """Move sanitizer reports to logs_to (prefixed "www-"), then remove it all.
        Call it after the servers using it stopped."""
        if self.closed:
            return
        if self.logs_to:
            os.makedirs(self.logs_to, exist_ok=True)
            for p in self.sanitizer_logs():
                shutil.move(p, os.path.join(self.logs_to, "www-" + os.path.basename(p)))
        self.closed = True
        shutil.rmtree(self.root, ignore_errors=True)
