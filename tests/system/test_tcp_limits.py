"""TCP clients that do not play along: tricklers, the silent, those that
never read, and more connections than there are slots. Every wait has a
deadline, memory per client is bounded, and a normal client still gets
its answer."""

import errno
import resource
import selectors
import socket
import struct
import threading
import time

import dns.message
import dns.query
import dns.rcode

from conftest import spec
from dnsenv import free_port, query, recv_tcp_msg, wait_for
from helpers import txts
from test_metrics import http_get, parse
import zones


def metric(mport, name):
    return parse(http_get(mport)[2])[0].get((name, frozenset()), 0)


def framed(name, qtype="TXT", qid=1):
    q = dns.message.make_query(name, qtype)
    q.id = qid
    w = q.to_wire()
    return struct.pack("!H", len(w)) + w


def closed_within(s, limit):
    """Seconds until the peer closes s (recv gives b"" or a reset), or
    None if it is still open after limit seconds. Data is read and
    ignored."""
    t0 = time.monotonic()
    while True:
        left = limit - (time.monotonic() - t0)
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            if s.recv(65536) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0


def router_pids(r):
    return [pid for pid, name in r.children().items() if name.endswith("-router")]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sanitized(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_silent_connection_closed_after_initial_timeout(make_router,
                                                        backend_a, backend_b):
    """A client that connects and sends nothing is closed after
    tcp-initial-timeout, not before."""
    r = make_router(zones.standard_routes(spec(backend_a), spec(backend_b)),
                    extra="tcp-initial-timeout 2s\n")
    r.wait_ready("a.miek.nl.", "TXT")
    with socket.create_connection(("127.0.0.1", r.port), 3) as s:
        took = closed_within(s, 5)
    assert took is not None, "silent connection still open after 5 s"
    assert 1.7 <= took <= 3.5, "closed after %.2fs" % took


def test_trickled_bytes_do_not_extend_the_deadline(make_router, backend_a,
                                                   backend_b):
    """One byte every 0.4 s never completes a message: the connection is
    closed tcp-initial-timeout after its first byte, although every byte
    came well within the idle timeout."""
    mport = free_port()
    r = make_router(zones.standard_routes(spec(backend_a), spec(backend_b)),
                    extra="tcp-initial-timeout 2s\ntcp-idle-timeout 10s\n"
                    "metrics 127.0.0.1:%d\n" % mport)
    r.wait_ready("a.miek.nl.", "TXT")
    data = framed("a.miek.nl.")
    with socket.create_connection(("127.0.0.1", r.port), 3) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.monotonic()
        closed = None
        for b in data * 3:
            try:
                s.send(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - t0
                break
            if closed_within(s, 0.4) is not None:
                closed = time.monotonic() - t0
                break
    assert closed is not None, "trickling client never closed"
    assert 1.6 <= closed <= 3.5, "closed after %.2fs" % closed
    wait_for(lambda: metric(mport, "dnsrouter_tcp_timeouts_total") >= 1, 5,
             0.1, "the timeout counted")


def test_idle_timeout_between_messages(make_router, backend_a, backend_b):
    """After an answer, a connection may idle for tcp-idle-timeout; then it
    is closed. The first query is answered normally."""
    r = make_router(zones.standard_routes(spec(backend_a), spec(backend_b)),
                    extra="tcp-initial-timeout 1s\ntcp-idle-timeout 3s\n")
    r.wait_ready("a.miek.nl.", "TXT")
    with socket.create_connection(("127.0.0.1", r.port), 3) as s:
        s.sendall(framed("a.miek.nl."))
        m = dns.message.from_wire(recv_tcp_msg(s))
        assert txts(m) == ["aa"]
        took = closed_within(s, 6)
    assert took is not None, "idle connection still open after 6 s"
    assert 2.6 <= took <= 4.5, "closed after %.2fs" % took


def test_per_address_limit_takes_over_the_oldest_idle_connection(
        make_router, backend_a, backend_b):
    """tcp-clients-per-ip: a fifth connection from one address takes the
    place of that address's connection longest without a message (one
    that owes nothing); another address is not touched."""
    r = make_router(zones.standard_routes(spec(backend_a), spec(backend_b)),
                    workers=1, extra="tcp-clients-per-ip 4\n")
    r.wait_ready("a.miek.nl.", "TXT")
    other = socket.socket()
    other.bind(("127.0.0.2", 0))
    other.connect(("127.0.0.1", r.port))
    held = [socket.create_connection(("127.0.0.1", r.port), 3)
            for _ in range(4)]
    try:
        for s in held:
            s.sendall(framed("a.miek.nl."))
            assert txts(dns.message.from_wire(recv_tcp_msg(s))) == ["aa"]
        with socket.create_connection(("127.0.0.1", r.port), 3) as fifth:
            fifth.sendall(framed("c.miek.nl."))
            assert txts(dns.message.from_wire(recv_tcp_msg(fifth))) == ["cc"]
        assert closed_within(held[0], 2) is not None, \
            "the oldest connection of 127.0.0.1 was kept"
        for s in held[1:] + [other]:
            s.sendall(framed("b.miek.nl."))
            assert txts(dns.message.from_wire(recv_tcp_msg(s))) == ["bb"]
    finally:
        for s in held + [other]:
            s.close()


def test_per_address_limit_refuses_when_every_connection_is_busy(
        make_router, backend_a, backend_b):
    """With all tcp-clients-per-ip connections of an address waiting for
    answers, a further one from it is closed at once, counted."""
    sink = socket.socket()          # accepts TCP, never reads or answers
    sink.bind(("127.0.0.1", 0))
    sink.listen(64)
    routes = ["127.0.0.1:%d,^slow\\." % sink.getsockname()[1]] + \
        zones.standard_routes(spec(backend_a), spec(backend_b))
    mport = free_port()
    r = make_router(routes, workers=1, timeout="5s",
                    extra="tcp-clients-per-ip 4\nmetrics 127.0.0.1:%d\n"
                    % mport)
    r.wait_ready("a.miek.nl.", "TXT")
    held = [socket.create_connection(("127.0.0.1", r.port), 3)
            for _ in range(4)]
    try:
        for i, s in enumerate(held):
            s.sendall(framed("slow.miek.nl.", qid=i + 1))
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", r.port), 3)
        try:
            assert closed_within(extra, 2) is not None, \
                "fifth connection from 127.0.0.1 was kept"
        finally:
            extra.close()
        for s in held:
            assert closed_within(s, 0.2) is None, "a busy connection closed"
        wait_for(lambda: metric(mport, "dnsrouter_tcp_refused_total") >= 1,
                 5, 0.1, "the refusal counted")
    finally:
        for s in held:
            s.close()
        sink.close()


class SlowClients:
    """n connections from many loopback addresses, each sending one byte
    of a query every few seconds and never finishing it; a closed one is
    replaced at once. Stops by itself after duration seconds."""

    def __init__(self, port, n, per_addr=12, duration=20.0):
        self.port, self.n, self.per_addr = port, n, per_addr
        self.duration = duration
        self.sel = selectors.DefaultSelector()
        self.opened = 0
        self.open_now = 0
        self.max_open = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def addr(self, i):
        k = i // self.per_addr
        return "127.1.%d.%d" % (k // 250, k % 250 + 1)

    def connect(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((self.addr(i), 0))
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        self.opened += 1
        self.sel.register(s, selectors.EVENT_READ, i)
        return s

    def run(self):
        socks = {}
        last_byte = {}
        end = time.monotonic() + self.duration
        for i in range(self.n):
            socks[i] = self.connect(i)
            last_byte[i] = 0.0
        while not self.stop.is_set() and time.monotonic() < end:
            for key, _ in self.sel.select(0.2):
                i = key.data
                s = socks[i]
                try:
                    gone = s.recv(4096) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    self.sel.unregister(s)
                    s.close()
                    socks[i] = self.connect(i)
                    last_byte[i] = 0.0
            now = time.monotonic()
            self.open_now = len(socks)
            self.max_open = max(self.max_open, self.open_now)
            for i, s in socks.items():
                if now - last_byte[i] >= 3.0:
                    try:
                        s.send(b"\x00")   # the first length byte, forever
                    except OSError:
                        pass
                    last_byte[i] = now
        for s in socks.values():
            self.sel.unregister(s)
            s.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.thread.join(10)


def test_slow_clients_do_not_lock_out_others(make_router, backend_a,
                                            backend_b):
    """2,100 trickling connections, more than the 2 x 1,024 slots of two
    routers: a normal TCP client is still answered within 1 s, 5 times of
    5. Before eviction every slot stayed held and it was closed
    unanswered."""
    n = 2100
    assert raise_nofile(n + 500) >= n + 500
    r = make_router(zones.standard_routes(spec(backend_a), spec(backend_b)),
                    workers=2)
    r.wait_ready("a.miek.nl.", "TXT")
    with SlowClients(r.port, n, duration=25.0) as slow:
        wait_for(lambda: slow.opened >= n, 10, 0.1, "slow clients to connect")
        time.sleep(1.0)    # let the routers accept them all: slots full
        answered = 0
        for _ in range(5):
            t0 = time.monotonic()
            try:
                m = query(r.port, "a.miek.nl.", "TXT", tcp=True, timeout=1.0)
                if txts(m) == ["aa"] and time.monotonic() - t0 <= 1.0:
                    answered += 1
            except Exception:
                pass
            time.sleep(0.5)
        opened = slow.opened
    assert opened >= n
    assert answered == 5, "normal TCP client answered %d of 5" % answered


def test_client_that_never_reads_is_bounded(make_router, backend_a,
                                            backend_b):
    """A client that pipelines up to 100 MB of queries and never reads an
    answer: the router stops reading it, keeps its RSS under 32 MiB, and
    closes the connection once its output made no progress for
    tcp-idle-timeout."""
    r = make_router(zones.standard_routes(spec(backend_a), spec(backend_b)),
                    workers=1, extra="tcp-idle-timeout 2s\n",
                    env={"ASAN_OPTIONS": "quarantine_size_mb=16"})
    r.wait_ready("a.miek.nl.", "TXT")
    (pid,) = router_pids(r)
    # Under ASan the shadow memory and the quarantine of freed blocks add
    # to RSS whatever the code does: there, growth is what is bounded.
    limit_kib = 32 * 1024
    if sanitized(pid):
        limit_kib = rss_kib(pid) + 16 * 1024
    one = framed("x.example.org.", "A")      # answered REFUSED at once
    chunk = one * (65536 // len(one))
    total, limit = 0, 100 * 1024 * 1024
    peak = rss_kib(pid)
    closed = False
    s = socket.create_connection(("127.0.0.1", r.port), 3)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.5)
    t0 = time.monotonic()
    try:
        while total < limit and time.monotonic() - t0 < 20:
            try:
                total += s.send(chunk)
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            peak = max(peak, rss_kib(pid))
        if not closed:
            closed = closed_within(s, 6) is not None
    finally:
        s.close()
    peak = max(peak, rss_kib(pid))
    assert peak < limit_kib, "router RSS reached %d KiB" % peak
    assert closed, "connection still open after sending %d bytes" % total
    assert total < limit, "the router read all 100 MB without answers read"
    # the router still serves
    assert txts(query(r.port, "a.miek.nl.", "TXT", tcp=True)) == ["aa"]


def test_half_closed_client_that_reads_late_gets_every_answer(
        make_router, backend_a, backend_b):
    """A client that pipelines 6,000 queries for a large RRset, half-closes
    (FIN) and reads its answers only later: every query is answered (RFC
    7766 6.2.3), though the router holds most of them back in its buffer
    (64 in flight per connection, output paused past 64 KiB) long after
    it has read the FIN, and the connection closes after the last answer.
    Before, the queries still in the buffer when the last one in flight
    ended were dropped with the connection (about 130 of the 6,000)."""
    r = make_router(zones.standard_routes(spec(backend_a), spec(backend_b)),
                    workers=1)
    r.wait_ready("a.miek.nl.", "TXT")
    (pid,) = router_pids(r)
    n = 6000                    # 1.6 KB answers: 9 MB, past socket buffers
    one = framed("big.miek.nl.", "TXT")
    s = socket.create_connection(("127.0.0.1", r.port), 3)
    sent = []

    def send_all():
        try:
            s.sendall(one * n)
            s.shutdown(socket.SHUT_WR)
            sent.append(True)
        except OSError as e:
            sent.append(e)
    t = threading.Thread(target=send_all, daemon=True)
    t.start()
    got, buf = 0, b""
    try:
        time.sleep(0.5)     # the router's output backs up meanwhile
        s.settimeout(10)
        while True:
            try:
                data = s.recv(1 << 20)
            except OSError as e:
                raise AssertionError("after %d answers: %s" % (got, e))
            if not data:
                break
            buf += data
            off = 0
            while len(buf) - off >= 2:
                ln = struct.unpack("!H", buf[off:off + 2])[0]
                if len(buf) - off < 2 + ln:
                    break
                m = buf[off + 2:off + 2 + ln]
                assert m[3] & 0x0f == 0 and m[6:8] == struct.pack(
                    "!H", len(zones.BIG_TXT)), m[:12]
                off += 2 + ln
                got += 1
            buf = buf[off:]
    finally:
        t.join(10)
        s.close()
    assert sent == [True], sent
    assert got == n, "%d of %d queries answered" % (got, n)
    assert router_pids(r) == [pid], "the router died and was restarted"
    assert txts(query(r.port, "a.miek.nl.", "TXT", tcp=True)) == ["aa"]
