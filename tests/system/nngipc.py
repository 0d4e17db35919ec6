"""Just enough of nng's req/rep over ipc:// to talk to dnsrouter's control
endpoint from a test, or to stand in for a controller, without a Python
binding of nng.

The SP protocol over IPC: each side sends an 8-byte greeting
(b"\\0SP\\0", its protocol number, two zero bytes); then every message is
one byte 0x01, its length as a big-endian u64, and its bytes. A req0
message starts with a 4-byte request ID (top bit set) that rep0 echoes.

    reply = request("/run/dnsrouter/controller/control.ipc", body)
    with FakeRep(path, lambda body: answer) as f: ...   # a fake controller
"""

import os
import re
import socket
import struct
import threading


def _proto_version():
    """PROTO_VERSION as proto/proto.h defines it (both ends include it)."""
    h = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                     "proto", "proto.h")
    with open(h) as f:
        return int(re.search(r"#define PROTO_VERSION\s+(\d+)",
                             f.read()).group(1))


PROTO_VERSION = _proto_version()

REQ0, REP0 = 0x30, 0x31
PUSH0, PULL0 = 0x50, 0x51


def _greeting(proto):
    return b"\0SP\0" + struct.pack("!HH", proto, 0)


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return buf


def _recv_msg(s):
    kind, n = struct.unpack("!BQ", _recv_exact(s, 9))
    if kind != 1:
        raise ConnectionError("unexpected IPC message type %d" % kind)
    return _recv_exact(s, n)


def _send_msg(s, data):
    s.sendall(struct.pack("!BQ", 1, len(data)) + data)


def request(path, body, timeout=3.0):
    """Send body as a req0 request to the rep0 socket at path; return the
    reply body."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(_greeting(REQ0))
        peer = _recv_exact(s, 8)
        if peer[:4] != b"\0SP\0" or struct.unpack("!H", peer[4:6])[0] != REP0:
            raise ConnectionError("not a rep0 socket: %r" % peer)
        rid = 0x80000001
        _send_msg(s, struct.pack("!I", rid) + body)
        reply = _recv_msg(s)
        if struct.unpack("!I", reply[:4])[0] != rid:
            raise ConnectionError("reply to another request")
        return reply[4:]


class FakeRep:
    """A rep0 listener at path answering every request with
    answer(request_body) -> reply_body, in a thread, while in a with block.
    requests lists the bodies received."""

    def __init__(self, path, answer):
        self.path = path
        self.answer = answer
        self.requests = []
        self._sock = None
        self._thread = None
        self._stop = threading.Event()

    def __enter__(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(4)
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _serve(self, c):
        c.settimeout(3.0)
        c.sendall(_greeting(REP0))
        _recv_exact(c, 8)
        while not self._stop.is_set():
            msg = _recv_msg(c)
            self.requests.append(msg[4:])
            _send_msg(c, msg[:4] + self.answer(msg[4:]))

    def _run(self):
        while not self._stop.is_set():
            try:
                c, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                try:
                    self._serve(c)
                except (OSError, ConnectionError):
                    pass

    def __exit__(self, *exc):
        self._stop.set()
        self._sock.close()
        self._thread.join(5)
        if os.path.exists(self.path):
            os.unlink(self.path)
        return False


def announce(path, proto, length, timeout=3.0):
    """Connect to path as proto, announce a message of length bytes and
    send none of it; return True if the peer then closes the connection
    within timeout (it refuses the size), False if it waits for the bytes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(_greeting(proto))
        _recv_exact(s, 8)
        s.sendall(struct.pack("!BQ", 1, length))
        try:
            return s.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
