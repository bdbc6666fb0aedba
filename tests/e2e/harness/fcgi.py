"""FastCGI 1.0 records: a small client for tests and a stub responder.

The client talks straight to a `lanyard --listen` worker (readiness checks,
malformed-record tests, the SIGTERM test). The stub responder stands in for
the worker when the harness checks a web server on its own
(`python3 -m harness selftest`). Standard library only.
"""

import os
import socket
import struct

VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
RESPONDER = 1
KEEP_CONN = 1
HEADER = struct.Struct("!BBHHBx")


def record(rtype, request_id, content=b"", padding=0, version=VERSION, length=None):
    """One record; `length` lets a test lie about the content length."""
    clen = len(content) if length is None else length
    return HEADER.pack(version, rtype, request_id, clen, padding) + content + b"\0" * padding


def _nv_len(n):
    return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)


def encode_params(params):
    out = b""
    for name, value in params.items():
        name = name.encode() if isinstance(name, str) else name
        value = value.encode() if isinstance(value, str) else value
        out += _nv_len(len(name)) + _nv_len(len(value)) + name + value
    return out


def begin_request(request_id=1, role=RESPONDER, flags=0):
    return record(BEGIN_REQUEST, request_id, struct.pack("!HB5x", role, flags))


def stream(rtype, request_id, data):
    """A stream (PARAMS or STDIN) in records of at most 65535 bytes, then its end."""
    out = b""
    for i in range(0, len(data), 65535):
        out += record(rtype, request_id, data[i:i + 65535])
    return out + record(rtype, request_id)


def cgi_params(method, uri, body=b"", content_type=None, headers=None, port=0):
    path, _, query = uri.partition("?")
    p = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "lanyard-e2e",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": str(port),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "REQUEST_METHOD": method,
        "REQUEST_URI": uri,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_SCHEME": "http",
        "HTTP_HOST": "127.0.0.1",
    }
    if body or method in ("POST", "PUT", "PATCH"):
        p["CONTENT_LENGTH"] = str(len(body))
    if content_type:
        p["CONTENT_TYPE"] = content_type
    for k, v in (headers or {}).items():
        p["HTTP_" + k.upper().replace("-", "_")] = v
    return p


def connect(addr, timeout=10.0):
    """addr is (host, port) or a unix socket path."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(addr)
    return s


def read_response(sock, request_id=1):
    """Read records until END_REQUEST; return (status, headers, body, stderr)."""
    buf = b""
    out, err = b"", b""
    while True:
        while len(buf) < HEADER.size:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before END_REQUEST")
            buf += chunk
        _, rtype, rid, clen, plen = HEADER.unpack(buf[:HEADER.size])
        need = HEADER.size + clen + plen
        while len(buf) < need:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside a record")
            buf += chunk
        content = buf[HEADER.size:HEADER.size + clen]
        buf = buf[need:]
        if rtype == STDOUT:
            out += content
        elif rtype == STDERR:
            err += content
        elif rtype == END_REQUEST:
            break
    return parse_cgi_response(out) + (err,)


def parse_cgi_response(out):
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = out.partition(b"\n\n")
    headers = {}
    for line in head.decode("latin-1").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body


def request(addr, method, uri, body=b"", content_type=None, headers=None, timeout=10.0):
    """One complete request on a fresh connection; returns (status, headers, body, stderr)."""
    with connect(addr, timeout) as s:
        params = cgi_params(method, uri, body, content_type, headers)
        s.sendall(begin_request() + stream(PARAMS, 1, encode_params(params))
                  + stream(STDIN, 1, body))
        return read_response(s)


# --- the stub responder -----------------------------------------------------

def _stub_answer(params, body):
    uri = params.get(b"REQUEST_URI", b"/").decode("latin-1")
    path = uri.split("?", 1)[0]
    if path == "/api/health":
        status, ctype, data = 200, "application/json", b'{"status":"ok","database":"ok","version":"stub"}'
    else:
        status, ctype = 404, "application/problem+json"
        data = (b'{"type":"about:blank","title":"Not Found","status":404,'
                b'"detail":"no such resource","code":"not_found"}')
    head = "Status: %d\r\nContent-Type: %s\r\nX-Content-Type-Options: nosniff\r\n\r\n" % (status, ctype)
    return head.encode() + data


def _stub_serve_conn(conn):
    buf = b""
    params_raw, body, rid = b"", b"", 1
    keep = False
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return
        buf += chunk
        while len(buf) >= HEADER.size:
            _, rtype, rid, clen, plen = HEADER.unpack(buf[:HEADER.size])
            if len(buf) < HEADER.size + clen + plen:
                break
            content = buf[HEADER.size:HEADER.size + clen]
            buf = buf[HEADER.size + clen + plen:]
            if rtype == BEGIN_REQUEST:
                keep = bool(content[2] & KEEP_CONN)
                params_raw, body = b"", b""
            elif rtype == PARAMS:
                params_raw += content
            elif rtype == STDIN and clen:
                body += content
            elif rtype == STDIN:
                params = _decode_params(params_raw)
                out = _stub_answer(params, body)
                conn.sendall(stream(STDOUT, rid, out)
                             + record(END_REQUEST, rid, struct.pack("!IB3x", 0, 0)))
                if not keep:
                    return


def _decode_params(raw):
    params, i = {}, 0

    def length():
        nonlocal i
        if raw[i] & 0x80:
            n = struct.unpack("!I", raw[i:i + 4])[0] & 0x7FFFFFFF
            i += 4
        else:
            n = raw[i]
            i += 1
        return n

    while i < len(raw):
        nl, vl = length(), length()
        params[raw[i:i + nl]] = raw[i + nl:i + nl + vl]
        i += nl + vl
    return params


def stub_main(argv):
    """`fcgi_stub [--listen HOST:PORT]`: serve on fd 0 (as spawned) or on a port."""
    if "--listen" in argv:
        host, port = argv[argv.index("--listen") + 1].rsplit(":", 1)
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((host, int(port)))
        lsock.listen(16)
    else:
        lsock = socket.socket(fileno=os.dup(0))
    while True:
        conn, _ = lsock.accept()
        with conn:
            try:
                _stub_serve_conn(conn)
            except OSError:
                pass
