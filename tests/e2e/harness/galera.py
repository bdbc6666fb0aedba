"""A private three-node MariaDB Galera cluster (doc/testing.md, "Galera").

Each node is a harness MariaDB (mariadb.py) with its own datadir and socket
under the work directory, and four loopback ports of its own: the client
port, the group communication (gcomm) port, the IST port and the rsync SST
port. The first node bootstraps the cluster (--wsrep-new-cluster), the other
two join it (rsync SST from a donor). Every node is stopped by PID."""

import os
import pwd
import shutil
import re
import signal
import subprocess
import time

from .mariadb import MariaDB, _which
from .proc import StartError, free_port, kill_pid

PROVIDER_CANDIDATES = ["/usr/lib/galera/libgalera_smm.so", "/usr/lib/libgalera_smm.so",
                       "/usr/lib/x86_64-linux-gnu/galera/libgalera_smm.so"]


def provider():
    for p in PROVIDER_CANDIDATES:
        if os.path.exists(p):
            return p
    raise StartError("libgalera_smm.so not found (apt-get install galera-4 rsync)")


class GaleraNode(MariaDB):
    """One node; cluster is the GaleraCluster it belongs to."""

    def __init__(self, workdir, index, cluster):
        super().__init__(workdir)
        self.index = index
        self.cluster = cluster
        self.name = "node%d" % (index + 1)
        self.bootstrap = False
        self.start_position = None
        self.pick_ports()

    def pick_ports(self):
        self.port = free_port()
        self.gcomm_port = free_port()
        self.ist_port = free_port()
        self.sst_port = free_port()

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def _server_args(self):
        args = ["--port=%d" % self.port, "--bind-address=127.0.0.1",
                "--wsrep-on=ON", "--wsrep-provider=" + self.cluster.provider,
                "--wsrep-cluster-name=lanyard-e2e", "--wsrep-node-name=" + self.name,
                "--wsrep-node-address=127.0.0.1",
                "--wsrep-cluster-address=" + self.cluster.address,
                # the ports of this node: every node of the test shares 127.0.0.1
                "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:%d;"
                "ist.recv_addr=127.0.0.1:%d;gcache.size=64M;"
                # a killed node is declared gone after 2-3 s, not 5-15 s: the
                # cluster stalls its commits (and synced reads) until then
                "evs.suspect_timeout=PT2S;evs.inactive_timeout=PT3S;"
                "evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S"
                % (self.gcomm_port, self.ist_port),
                "--wsrep-sst-method=rsync",
                "--wsrep-sst-receive-address=127.0.0.1:%d" % self.sst_port,
                "--binlog-format=ROW", "--innodb-autoinc-lock-mode=2",
                "--default-storage-engine=InnoDB"]
        if self.bootstrap:
            args.append("--wsrep-new-cluster")
        if self.start_position:
            args.append("--wsrep-start-position=" + self.start_position)
        return args

    def prepare_datadir(self, joiner):
        """The first node gets system tables; a joiner an empty datadir the
        rsync SST fills. wsrep_sst_rsync's daemon, started by root, runs as
        "nobody" (rsyncd.conf's default uid) and could not write root's files
        ("Permission denied"): the joiner's datadir belongs to nobody, and the
        server, root, uses what it wrote."""
        if os.path.isdir(self.datadir):
            shutil.rmtree(self.datadir)
        os.makedirs(self.workdir, exist_ok=True)
        if not joiner or os.geteuid() != 0:
            self.install(fresh=True)
            return
        os.makedirs(self.datadir)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.datadir, nobody.pw_uid, nobody.pw_gid)

    def _saved_seqno(self):
        try:
            with open(os.path.join(self.datadir, "grastate.dat")) as f:
                for line in f:
                    if line.startswith("seqno:"):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return None

    def recover_position(self):
        """A node killed (not stopped) saved no position (grastate.dat seqno
        -1): without one it would ask for a full SST. As systemd's
        galera_recovery does, `mariadbd --wsrep-recover` reads it from InnoDB,
        and the start passes it on (--wsrep-start-position), so the node
        rejoins by IST."""
        self.start_position = None
        if self._saved_seqno() != -1 or not os.path.isdir(os.path.join(self.datadir, "mysql")):
            return None
        log = os.path.join(self.workdir, "recover.err")
        self.bootstrap = False
        argv = [self.mariadbd, "--no-defaults", "--datadir=" + self.datadir,
                "--socket=" + self.socket + ".recover"] + self._server_args() + [
                "--log-error=" + log, "--innodb-buffer-pool-size=64M",
                "--wsrep-recover"] + self._root_args()
        with open(log, "ab") as out:
            subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=120)
        with open(log, errors="replace") as f:
            found = re.findall(r"WSREP: Recovered position: (\S+:-?\d+)", f.read())
        if found:
            self.start_position = found[-1]
        return self.start_position

    def start(self, timeout=120.0, bootstrap=False):
        self.recover_position()
        self.bootstrap = bootstrap
        return super().start(timeout=timeout)

    def kill(self):
        """SIGKILL, as a crashed machine: no clean leave from the cluster."""
        if self.server is not None and self.server.alive():
            self.server.proc.send_signal(signal.SIGKILL)
            self.server.proc.wait(30)
        if self.server is not None:
            self.server.stop()
        self.server = None

    def status(self, name):
        rows = self.sql("SHOW GLOBAL STATUS LIKE '%s'" % name)
        return rows[0][1] if rows else None

    def ready(self):
        try:
            return self.status("wsrep_ready") == "ON"
        except (RuntimeError, OSError):
            return False

    def log_tail(self, n=30):
        return self._log_tail(n)


class GaleraCluster:
    def __init__(self, workdir, size=3):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.provider = provider()
        _which("rsync", ["/usr/bin/rsync"])
        self.nodes = [GaleraNode(os.path.join(self.workdir, "node%d" % (i + 1)), i, self)
                      for i in range(size)]
        self._set_address()

    def _set_address(self):
        self.address = "gcomm://" + ",".join("127.0.0.1:%d" % n.gcomm_port for n in self.nodes)

    def start(self, timeout=120.0, tries=3):
        """Bootstrap node 1, join the others one by one, wait for a primary of all.

        The twelve ports are picked free before the first node starts, and a
        port the kernel hands out meanwhile (as the source port of a
        connection) makes a node abort at its bind: a local CI run lost the
        whole suite to "Bind on TCP/IP port. Got error: 98". That start is tried
        again with new ports for every node, the cluster's address with them."""
        for attempt in range(tries):
            try:
                for i, node in enumerate(self.nodes):
                    node.prepare_datadir(joiner=(i > 0))
                    node.start(timeout=timeout, bootstrap=(i == 0))
                self.wait_size(len(self.nodes), timeout)
                return self
            except Exception as e:
                self.stop()
                if (attempt + 1 == tries or not isinstance(e, StartError)
                        or "address already in use" not in str(e).lower()):
                    raise
            for node in self.nodes:
                node.pick_ports()
                if os.path.exists(node.log_file):  # its bind error would be read again
                    os.unlink(node.log_file)
            self._set_address()

    def wait_size(self, size, timeout=60.0, nodes=None):
        nodes = nodes or [n for n in self.nodes if n.running()]
        deadline = time.monotonic() + timeout
        while True:
            try:
                ok = all(n.status("wsrep_cluster_size") == str(size) and n.ready() for n in nodes)
            except (RuntimeError, OSError):
                ok = False
            if ok:
                return
            if time.monotonic() > deadline:
                raise StartError("cluster not at size %d with every node ready:\n%s" % (
                    size, "\n".join("--- %s ---\n%s" % (n.name, n.log_tail()) for n in nodes)))
            time.sleep(0.2)

    def create_app_database(self, password_file):
        """The app database and account, through node 1 (Galera replicates
        both). The workers come over TCP: the account is for 127.0.0.1 too."""
        n1 = self.nodes[0]
        password = n1.create_app_database(password_file, fresh=True)
        n1.sql("CREATE USER IF NOT EXISTS 'lanyard'@'127.0.0.1' IDENTIFIED BY '{p}';"
               "ALTER USER 'lanyard'@'127.0.0.1' IDENTIFIED BY '{p}';"
               "GRANT ALL ON `lanyard`.* TO 'lanyard'@'127.0.0.1';".format(p=password))
        return password

    def stop(self):
        # the joiners first, the bootstrap node last: each leaves cleanly
        for node in reversed(self.nodes):
            try:
                node.stop(timeout=60.0)
            except Exception:
                if node.pid:
                    kill_pid(node.pid, signal.SIGKILL, 10.0)
