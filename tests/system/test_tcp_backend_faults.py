"""A TCP backend that accepts and never reads. Queries that time out leave
the router's output queue, and the connection, taking no bytes for a query
timeout, is closed: the router's memory does not grow with what the
backend refuses to take."""

import socket
import struct
import threading

import dns.edns
import dns.message
import dns.rcode

from dnsenv import recv_tcp_msg, wait_for
from fakebackend import FakeBackend, make_reply
from procs import UdpLoad, socket_inodes
from test_tcp_limits import router_pids, rss_kib, sanitized


class StuckTcpBackend(FakeBackend):
    """Answers the controller's health checks (id.server.) over TCP, and
    UDP; any other TCP connection has its first message read, then is
    never read again (a small receive buffer, so little hides in the
    kernel)."""

    def __init__(self):
        super().__init__()
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.stuck = []
        self.serve_udp("stuck")

    def _serve_conn(self, c):
        c.settimeout(2)
        try:
            m = recv_tcp_msg(c)
            if m is not None and str(dns.message.from_wire(
                    m).question[0].name) != "id.server.":
                self.stuck.append(c)    # held open, never read again
                return
            if m is not None:
                w = make_reply(m, "fake-health")
                c.sendall(struct.pack("!H", len(w)) + w)
        except Exception:
            c.close()
            return
        if m is None:
            c.close()
            return
        super()._serve_conn(c)

    def close(self):
        super().close()
        for c in self.stuck:
            c.close()


def established_to(pid, port):
    """TCP connections of process pid to port, established."""
    inodes = socket_inodes(pid)
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            rport = int(p[2].split(":")[1], 16)
            if rport == port and p[3] == "01" and p[9] in inodes:
                n += 1
    return n


def padded(name, qid, size):
    q = dns.message.make_query(name, "TXT", use_edns=0, options=[
        dns.edns.GenericOption(12, b"\0" * size)])
    q.id = qid
    w = q.to_wire(max_size=65535)
    return struct.pack("!H", len(w)) + w


def flood(port, conns, rounds, per_round, size):
    """conns TCP clients, each sending per_round padded queries a round
    and reading as many answers; returns the rcodes seen."""
    rcodes = []

    def client(k):
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            s.settimeout(10)
            for r in range(rounds):
                s.sendall(b"".join(padded("x%d.miek.nl." % i,
                                          (k * 1000 + r * 100 + i) & 0xffff,
                                          size)
                                   for i in range(per_round)))
                for i in range(per_round):
                    m = recv_tcp_msg(s)
                    if m is None:
                        return
                    rcodes.append(dns.message.from_wire(m).rcode())

    ts = [threading.Thread(target=client, args=(k,)) for k in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return rcodes


def test_backend_that_never_reads_tcp_costs_bounded_memory(make_router):
    """The backend answers UDP (so it stays in rotation) and takes nothing
    on the router's TCP connections. 4 clients send 60 KB queries over TCP,
    25 at a time, for 2 x 8 rounds (2 x 48 MB): every one gets its SERVFAIL,
    the second half adds nothing to the router's memory, and once traffic
    stops no connection to the backend is left."""
    b = StuckTcpBackend()
    load = None
    try:
        r = make_router(["%s,^x" % b.spec], workers=1, timeout="300ms")
        r.wait_ready("x0.miek.nl.", "TXT", tcp=False)
        router = router_pids(r)[0]
        load = UdpLoad(r.port, "x.miek.nl.", "TXT", interval=0.002,
                       timeout=1.0).start()
        rcodes = flood(r.port, 4, 8, 25, 60000)
        first = rss_kib(router)
        rcodes += flood(r.port, 4, 8, 25, 60000)
        grown = rss_kib(router) - first
        load.stop()
        assert load.ok > 0.9 * load.sent, load.report()
        assert len(rcodes) == 2 * 4 * 8 * 25
        assert set(rcodes) == {dns.rcode.SERVFAIL}
        # ASan's quarantine keeps freed memory: RSS tells nothing there
        if not sanitized(router):
            assert grown < 8 * 1024, "router grew by %d KiB" % grown
        # a stuck connection is closed within two timeouts of its last
        # taking bytes: none is left once the traffic stops
        wait_for(lambda: established_to(router, b.port) == 0, 1.5, 0.05,
                 "the router's connections to the stuck backend to close")
        assert r.proc.poll() is None
    finally:
        if load is not None:
            load.stop()
        b.close()
