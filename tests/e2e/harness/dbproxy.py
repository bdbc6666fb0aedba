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

The client (Connector/C) waits for every answer before it sends the next
command, so the first server packet after a COMMIT is that COMMIT's answer.
"""

import os
import socket
import threading

COMMIT = b"\x03COMMIT"


class DbProxy:
    def __init__(self, listen_path, target_path):
        self.listen_path, self.target_path = listen_path, target_path
        self.armed = None
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

    def arm(self, when):
        assert when in ("after", "before")
        self.fired.clear()
        with self.lock:
            self.armed = when

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
            state = {"client": client, "server": server, "swallow": False}
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
                    if pkt[4:] == COMMIT and self.armed is not None:
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

    def _down(self, st):
        """Server to client, as is, but for an answer to swallow."""
        try:
            while True:
                data = st["server"].recv(65536)
                if not data:
                    break
                if st["swallow"]:
                    self.fired.set()
                    break
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
