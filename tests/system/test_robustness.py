"""Garbage in: every process survives and keeps answering."""

import os
import random
import socket
import struct

import dns.message
import dns.rcode
import pytest

import nngipc
from conftest import spec
from dnsenv import query, recv_tcp_msg
from helpers import header, question, txts
from procs import roles

SEED = 20140517


def valid_query(rng):
    name = rng.choice(["a.miek.nl.", "c.miek.nl.", "miek.nl.", "A.MIEK.nl.",
                       "x.example.org.", "big.miek.nl."])
    return header(rng.getrandbits(16)) + question(name, rng.choice([1, 16, 6]))


def malformed_packets(rng, n):
    """n packets: random bytes, damaged queries, and hand-made traps."""
    traps = [
        b"",
        b"\x00",
        header(1)[:11],
        header(2, qd=0),
        header(3, qd=0xFFFF),
        header(4, qd=1, an=0xFFFF, ns=0xFFFF, ar=0xFFFF),
        header(5) + b"\xc0\x0c\x00\x10\x00\x01",           # pointer to itself
        header(6) + b"\x01a\xc0\x0e\x00\x10\x00\x01",      # pointer loop
        header(7) + b"\xc0\xff\x00\x10\x00\x01",           # pointer past end
        header(8) + b"\x40" + b"a" * 64 + b"\x00\x00\x10\x00\x01",  # label 64
        header(9) + b"\x80abc\x00\x00\x10\x00\x01",        # label type 10
        header(10) + b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 + b"\x3f"
        + b"c" * 63 + b"\x3f" + b"d" * 63 + b"\x00\x00\x10\x00\x01",
        header(11) + b"\x05a",                             # label runs out
        header(12) + b"\x00",                              # root, no type
        header(13) + b"\x01\x00\x00\x00\x10\x00\x01",      # label of a NUL
        header(14) + b"\x01.\x00\x00\x10\x00\x01",         # label of a dot
        header(15, ar=1) + question("a.miek.nl.")
        + b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\xff\xff\x00\x03",  # OPT lies
        header(16, ar=1) + question("a.miek.nl.") + b"\x00\x00\x29",
        header(17, 0x8000) + question("a.miek.nl."),
        header(18, 0x7800) + question("a.miek.nl."),      # opcode 15
        header(19) + question("a.miek.nl.") + b"\xff" * 400,
        header(20) + question("a.miek.nl.", 0, 0),
        header(21) + question("a.miek.nl.", 252),          # AXFR over UDP
        header(22) + question("a.miek.nl.", 255, 255),
    ]
    out = list(traps)
    while len(out) < n:
        kind = rng.randrange(5)
        if kind == 0:
            out.append(rng.randbytes(rng.randrange(0, 700)))
        elif kind == 1:
            w = bytearray(valid_query(rng))
            for _ in range(rng.randrange(1, 9)):
                w[rng.randrange(len(w))] ^= 1 << rng.randrange(8)
            out.append(bytes(w))
        elif kind == 2:
            w = valid_query(rng)
            out.append(w[:rng.randrange(len(w))])
        elif kind == 3:
            out.append(struct.pack("!HHHHHH", *(rng.getrandbits(16)
                                                for _ in range(6)))
                       + rng.randbytes(rng.randrange(0, 64)))
        else:
            out.append(rng.choice(traps))
    return out


def tcp_abuse(port, rng, n):
    """n connections doing the wrong thing; none waits for an answer."""
    kinds = 0
    for start in range(0, n, 25):
        conns = []
        for _ in range(min(25, n - start)):
            try:
                s = socket.create_connection(("127.0.0.1", port), 2)
            except OSError as e:
                raise AssertionError("TCP connect failed: %s" % e)
            kind = kinds % 9
            kinds += 1
            try:
                if kind == 0:            # random bytes
                    s.sendall(rng.randbytes(rng.randrange(1, 300)))
                elif kind == 1:          # length says 65535, little follows
                    s.sendall(b"\xff\xff" + rng.randbytes(10))
                elif kind == 2:          # half a length prefix
                    s.sendall(b"\x00")
                elif kind == 3:          # empty and tiny messages
                    s.sendall(b"\x00\x00\x00\x05hello\x00\x0b" + b"x" * 11)
                elif kind == 4:          # a query, then half-close
                    w = valid_query(rng)
                    s.sendall(struct.pack("!H", len(w)) + w)
                    s.shutdown(socket.SHUT_WR)
                elif kind == 5:          # reset at once
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
                elif kind == 6:          # framed garbage, pipelined
                    buf = b""
                    for p in malformed_packets(rng, 20):
                        buf += struct.pack("!H", len(p)) + p
                    s.sendall(buf)
                elif kind == 7:          # a query cut inside its frame
                    w = valid_query(rng)
                    s.sendall(struct.pack("!H", len(w) + 50) + w)
                    s.shutdown(socket.SHUT_WR)
                else:                    # queries, then reset before reading
                    w = valid_query(rng)
                    s.sendall((struct.pack("!H", len(w)) + w) * 5)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
            except OSError:
                pass                     # the router may close first
            conns.append(s)
        for s in conns:
            s.close()


def drain(socks):
    for s in socks:
        try:
            while True:
                s.recvfrom(65535)
        except (BlockingIOError, OSError):
            pass


def assert_still_serving(r, children):
    assert r.proc.poll() is None, "master died:\n" + r.log()[-3000:]
    now = r.children()
    assert now == children, "children changed (a crash and restart?): " \
        "%s -> %s\n%s" % (children, now, r.log()[-3000:])
    r.wait_ready("a.miek.nl.", "TXT", timeout=5)
    assert txts(query(r.port, "c.miek.nl.", "TXT")) == ["cc"]
    assert txts(query(r.port, "a.miek.nl.", "TXT", tcp=True)) == ["aa"]


def routes(a, b):
    return ["%s,^[ab]\\.miek" % spec(a), "%s,^[cd]\\.miek" % spec(b),
            "%s,^miek" % spec(a), "%s,^big\\.miek" % spec(a)]


def test_random_and_malformed_packets_do_not_crash(make_router, backend_a,
                                                   backend_b):
    r = make_router(routes(backend_a, backend_b))
    r.wait_ready("a.miek.nl.", "TXT")
    children = r.children()
    assert len(children) >= 2, children
    rng = random.Random(SEED)
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
             for _ in range(16)]
    try:
        for s in socks:
            s.setblocking(False)
        for i, p in enumerate(malformed_packets(rng, 5000)):
            try:
                socks[i % len(socks)].sendto(p, ("127.0.0.1", r.port))
            except BlockingIOError:
                pass
            if i % 200 == 0:
                drain(socks)
        drain(socks)
    finally:
        for s in socks:
            s.close()
    tcp_abuse(r.port, rng, 300)
    assert_still_serving(r, children)


def test_stalled_tcp_clients_do_not_block_others(make_router, backend_a,
                                                 backend_b):
    r = make_router(routes(backend_a, backend_b))
    r.wait_ready("a.miek.nl.", "TXT")
    stalled = []
    try:
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", r.port), 2)
            if i % 2:
                s.sendall(b"\x00")            # half a length, then nothing
            else:
                s.sendall(b"\x00\x40" + b"\x12\x34\x01\x00")  # part of a msg
            stalled.append(s)
        for _ in range(10):
            assert txts(query(r.port, "a.miek.nl.", "TXT", tcp=True,
                              timeout=2)) == ["aa"]
            assert txts(query(r.port, "c.miek.nl.", "TXT",
                              timeout=2)) == ["cc"]
    finally:
        for s in stalled:
            s.close()


def test_many_concurrent_tcp_clients(make_router, backend_a, backend_b):
    # 150 at once from one address: above tcp-clients-per-ip's default
    r = make_router(routes(backend_a, backend_b),
                    extra="tcp-clients-per-ip 0\n")
    r.wait_ready("a.miek.nl.", "TXT")
    conns = []
    try:
        for i in range(150):
            s = socket.create_connection(("127.0.0.1", r.port), 3)
            q = dns.message.make_query(["a.miek.nl.", "c.miek.nl."][i % 2],
                                       "TXT")
            w = q.to_wire()
            s.sendall(struct.pack("!H", len(w)) + w)
            conns.append((s, q))
        for i, (s, q) in enumerate(conns):
            m = recv_tcp_msg(s)
            assert m is not None, "connection %d closed unanswered" % i
            resp = dns.message.from_wire(m)
            assert resp.id == q.id
            assert resp.rcode() == dns.rcode.NOERROR
            assert txts(resp) == [["aa", "cc"][i % 2]]
    finally:
        for s, _ in conns:
            s.close()


@pytest.mark.parametrize("ep,proto", [("report.ipc", nngipc.PUSH0),
                                      ("control.ipc", nngipc.REQ0),
                                      ("snapshot.ipc", nngipc.REQ0)])
def test_controller_refuses_huge_messages_on_its_endpoints(make_router,
                                                          backend_a, ep,
                                                          proto):
    """A router (which reads the network) is the peer of these endpoints: a
    message announced as 1 GiB is refused at once by its length, not
    buffered, and the controller goes on serving."""
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)])
    r.wait_ready("a.miek.nl.", "TXT")
    before = roles(r.pid)["controller"]
    path = os.path.join(r.epdir, ep)
    assert nngipc.announce(path, proto, 1 << 30), \
        "%s waits for a 1 GiB message instead of refusing it" % ep
    assert roles(r.pid)["controller"] == before
    # a request of normal size is still answered
    if ep == "control.ipc":
        reply = nngipc.request(path, struct.pack("!IHHII", 0x444e5352,
                                                 nngipc.PROTO_VERSION, 4,
                                                 16, 0))
        assert struct.unpack("!H", reply[6:8])[0] == 5
    assert query(r.port, "a.miek.nl.", "TXT").rcode() == dns.rcode.NOERROR
