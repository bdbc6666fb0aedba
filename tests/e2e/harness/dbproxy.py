"""A unix-socket proxy between Lanyard and the private MariaDB that can lose
one COMMIT's answer (issue 18: a COMMIT whose connection is lost, the outcome
unknown to the client).

It forwards bytes both ways and reads the client's side as MySQL packets
(3-byte little-endian length, 1-byte sequence, payload). Armed with
arm("after"), the next COM_QUERY "COMMIT" on any connection is forwarded and
the server's answer swallowed: both sockets are closed once it arrives, so the
server has committed and the client sees the connection lost (2013). With
arm("before") the COMMIT is not forwarded at all: the server rolls the
transaction back when the connection closes. Either way it fires once;
`fired` is set when it has. Connections made later pass through as usual.

arm("end", n) ends a transaction behind the client's back, as a Galera node
that aborts one in a lock wait without reporting it does: on the next
connection to send START TRANSACTION, just before its n-th prepared
statement (COM_STMT_EXECUTE), the proxy sends the server a ROLLBACK of its
own and swallows the answer, so that statement and the ones after it run
outside the transaction, each committing alone, and nothing tells the client
but the status flags of the answers.

The client (Connector/C) waits for every answer before it sends the next
command, so the first server packet after a COMMIT is that COMMIT's answer.
"""

import os
import socket
import threading

COMMIT = b"\x03COMMIT"
START = b"\x03START TRANSACTION"
STMT_EXECUTE = 0x17
ROLLBACK_PACKET = b"\x09\x00\x00\x00\x03ROLLBACK"  # length 9, sequence 0


class DbProxy:
    def __init__(self, listen_path, target_path):
        self.listen_path, self.target_path = listen_path, target_path
        self.armed = None
        self.end_at = 0
        self.fired = threading.Event()
        self.lock = threading.Lock()
        self.sock = None
        self.conns = []
        self.closing = False

    def start(self):
        if os.path.exists(self.listen_path):
            os.unlink(self.listen_path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.listen_path)
        os.chmod(self.listen_path, 0o777)
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self.closing = True
        if self.sock is not None:
            self.sock.close()
        with self.lock:
            for c in self.conns:
                _close(c)
        if os.path.exists(self.listen_path):
            os.unlink(self.listen_path)

    def arm(self, when, n=0):
        assert when in ("after", "before", "end")
        assert when != "end" or n >= 1
        self.fired.clear()
        with self.lock:
            self.armed, self.end_at = when, n

    def _take(self):
        with self.lock:
            when, self.armed = self.armed, None
            return when

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                server.connect(self.target_path)
            except OSError:
                client.close()
                continue
            state = {"client": client, "server": server, "swallow": False,
                     "countdown": None, "eat": None}
            with self.lock:
                self.conns.append(state)
            threading.Thread(target=self._up, args=(state,), daemon=True).start()
            threading.Thread(target=self._down, args=(state,), daemon=True).start()

    def _up(self, st):
        """Client to server, packet by packet."""
        buf = b""
        try:
            while True:
                data = st["client"].recv(65536)
                if not data:
                    break
                buf += data
                out = b""
                while len(buf) >= 4:
                    n = int.from_bytes(buf[:3], "little")
                    if len(buf) < 4 + n:
                        break
                    pkt, buf = buf[:4 + n], buf[4 + n:]
                    if pkt[4:] == START and self.armed == "end":
                        with self.lock:
                            if self.armed == "end":
                                st["countdown"], self.armed = self.end_at, None
                    elif pkt[4:5] == bytes([STMT_EXECUTE]) and st["countdown"] is not None:
                        st["countdown"] -= 1
                        if st["countdown"] == 0:
                            st["countdown"] = None
                            st["server"].sendall(out)
                            out = b""
                            self._end_transaction(st)
                    elif pkt[4:] == COMMIT and self.armed in ("after", "before"):
                        when = self._take()
                        if when == "before":
                            st["server"].sendall(out)
                            self.fired.set()
                            _close(st)
                            return
                        if when == "after":
                            st["swallow"] = True
                    out += pkt
                st["server"].sendall(out)
        except OSError:
            pass
        _close(st)

    def _end_transaction(self, st):
        """ROLLBACK on the server; _down eats its answer (one OK packet)."""
        done = threading.Event()
        st["eat"] = done
        st["server"].sendall(ROLLBACK_PACKET)
        if not done.wait(10):
            raise OSError("no answer to the proxy's ROLLBACK")
        self.fired.set()

    def _down(self, st):
        """Server to client, as is, but for an answer to swallow."""
        buf = b""
        try:
            while True:
                data = st["server"].recv(65536)
                if not data:
                    break
                if st["swallow"]:
                    self.fired.set()
                    break
                if st["eat"] is not None:
                    # Only the ROLLBACK is in flight (the client waits for the
                    # answer to a statement it has not been sent yet).
                    buf += data
                    if len(buf) < 4 or len(buf) < 4 + int.from_bytes(buf[:3], "little"):
                        continue
                    n = int.from_bytes(buf[:3], "little")
                    if buf[4] != 0x00:
                        raise OSError("the proxy's ROLLBACK failed: %r" % buf[:80])
                    data, buf = buf[4 + n:], b""
                    done, st["eat"] = st["eat"], None
                    done.set()
                    if not data:
                        continue
                st["client"].sendall(data)
        except OSError:
            pass
        _close(st)


def _close(st):
    for k in ("client", "server"):
        try:
            st[k].shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            st[k].close()
        except OSError:
            pass
