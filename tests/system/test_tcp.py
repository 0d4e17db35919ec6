"""DNS over TCP: pipelining, split writes, forwarding over TCP."""

import socket
import struct
import time

import dns.message
import dns.rcode

from conftest import spec
from dnsenv import query, recv_tcp_msg, wait_for
from helpers import txts
from zones import BIG_TXT, zone_with


def framed(msg):
    w = msg.to_wire()
    return struct.pack("!H", len(w)) + w


def test_pipelined_queries_all_answered(router):
    want = {
        0x0101: ("a.miek.nl.", dns.rcode.NOERROR, ["aa"]),
        0x0102: ("c.miek.nl.", dns.rcode.NOERROR, ["cc"]),
        0x0103: ("big.miek.nl.", dns.rcode.NOERROR, sorted(BIG_TXT)),
        0x0104: ("x.example.org.", dns.rcode.REFUSED, []),
        0x0105: ("b.miek.nl.", dns.rcode.NOERROR, ["bb"]),
        0x0106: ("d.miek.nl.", dns.rcode.NOERROR, ["dd"]),
    }
    buf = b""
    for qid, (name, _, _) in want.items():
        q = dns.message.make_query(name, "TXT")
        q.id = qid
        buf += framed(q)
    with socket.create_connection(("127.0.0.1", router.port), 3) as s:
        s.sendall(buf)           # all of them before reading anything
        got = {}
        for _ in want:
            m = recv_tcp_msg(s)
            assert m is not None, "connection closed after %d answers" \
                % len(got)
            r = dns.message.from_wire(m)
            assert r.id in want and r.id not in got, r.id
            got[r.id] = r
    for qid, (name, rcode, strings) in want.items():
        r = got[qid]
        assert str(r.question[0].name) == name
        assert r.rcode() == rcode
        assert sorted(txts(r)) == strings


def test_sequential_queries_on_one_connection(router):
    with socket.create_connection(("127.0.0.1", router.port), 3) as s:
        for i, (name, want) in enumerate([("a.miek.nl.", "aa"),
                                          ("c.miek.nl.", "cc")] * 3):
            q = dns.message.make_query(name, "TXT")
            q.id = 0x0200 + i
            s.sendall(framed(q))
            r = dns.message.from_wire(recv_tcp_msg(s))
            assert r.id == q.id and txts(r) == [want]


def test_query_split_across_segments(router):
    q = dns.message.make_query("b.miek.nl.", "TXT")
    data = framed(q)
    with socket.create_connection(("127.0.0.1", router.port), 3) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # one byte of length, then the rest of the length, then the message
        # in two parts: a deliberately slow client
        for part in (data[:1], data[1:2], data[2:9], data[9:]):
            s.sendall(part)
            time.sleep(0.05)
        r = dns.message.from_wire(recv_tcp_msg(s))
    assert r.id == q.id and txts(r) == ["bb"]


def test_tcp_query_goes_to_backend_over_tcp(make_named, make_router):
    """BIND's query log marks TCP queries with T: a TCP client's query is
    forwarded over TCP, a UDP client's over UDP."""
    t = make_named(zone_with("t", ['t IN TXT "tt"', 'u IN TXT "uu"']), "t")
    r = make_router(["%s,^[tu]\\.miek" % spec(t)])
    r.wait_ready("t.miek.nl.", "TXT")
    assert txts(query(r.port, "u.miek.nl.", "TXT", tcp=True)) == ["uu"]
    assert txts(query(r.port, "U.miek.nl.", "TXT", tcp=False)) == ["uu"]

    def lines():
        with open(t.querylog_path) as f:
            return [l for l in f if " query: u.miek.nl " in l.lower()]
    wait_for(lambda: len(lines()) >= 2, 2, 0.05, "query log")
    ls = lines()
    assert len(ls) == 2, ls
    flags = {}
    for l in ls:
        qname = l.split(" query: ")[1].split()[0]
        flags[qname] = l.split(" query: ")[1].split()[3]   # e.g. +ET(0)
    assert "T" in flags["u.miek.nl"], ls
    assert "T" not in flags["U.miek.nl"], ls


def test_silent_connection_closed_after_5s(router):
    """A client that connects and sends nothing is closed after the
    default tcp-initial-timeout of 5 s, not before."""
    with socket.create_connection(("127.0.0.1", router.port), 3) as s:
        t0 = time.monotonic()
        s.settimeout(12.5)
        try:
            data = s.recv(1)
        except socket.timeout:
            raise AssertionError("silent connection still open after 12.5s")
        except ConnectionResetError:
            data = b""
        took = time.monotonic() - t0
    assert data == b"", data
    assert 4.5 <= took <= 7.0, "closed after %.2fs" % took
    # the router is fine and serves new connections
    assert txts(query(router.port, "a.miek.nl.", "TXT", tcp=True)) == ["aa"]
