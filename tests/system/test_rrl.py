"""Response rate limiting (BIND's RRL): a flood from one /24 is answered
at the configured rate, every second limited answer slips out truncated
(TC) so that real clients retry over TCP, TCP is never limited, and a
client in another /24 gets every answer. One router, so that the table
the limit counts in is the one being measured."""

import socket
import time

import dns.flags
import dns.message
import dns.query

from conftest import spec
from dnsenv import free_port, wait_for
from helpers import txts
from test_metrics import http_get, parse
import zones


def flood(port, sources, n, name="a.miek.nl.", seconds=1.0):
    """Send n queries from the given source addresses over `seconds`,
    then collect answers for a moment; returns (full, truncated)."""
    socks = []
    for a in sources:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a, 0))
        s.setblocking(False)
        socks.append(s)
    wire = dns.message.make_query(name, "TXT").to_wire()
    full = tc = 0

    def drain():
        nonlocal full, tc
        for s in socks:
            while True:
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    break
                m = dns.message.from_wire(data)
                if m.flags & dns.flags.TC:
                    assert not m.answer
                    tc += 1
                else:
                    full += 1
    t0 = time.monotonic()
    for i in range(n):
        socks[i % len(socks)].sendto(wire, ("127.0.0.1", port))
        target = t0 + seconds * (i + 1) / n
        while time.monotonic() < target:
            drain()
            time.sleep(0.001)
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        drain()
        time.sleep(0.01)
    for s in socks:
        s.close()
    return full, tc


def metric(mport, name):
    return parse(http_get(mport)[2])[0].get((name, frozenset()), 0)


def make_rrl_router(make_router, backend_a, backend_b, extra):
    mport = free_port()
    r = make_router(zones.standard_routes(spec(backend_a), spec(backend_b)),
                    workers=1,
                    extra=extra + "metrics 127.0.0.1:%d\n" % mport)
    r.wait_ready("a.miek.nl.", "TXT", in_a_row=2)
    r.metrics_port = mport
    time.sleep(1.2)      # the readiness queries' credit is back
    return r


def test_flood_from_one_prefix_held_to_the_rate_with_slips(
        make_router, backend_a, backend_b):
    r = make_rrl_router(make_router, backend_a, backend_b,
                        "rrl-responses-per-second 20\nrrl-window 5\n"
                        "rrl-slip 2\n")
    srcs = ["127.0.1.%d" % i for i in range(1, 9)]   # one /24
    full, tc = flood(r.port, srcs, 400, seconds=2.0)
    # At most the first second's burst of 20 plus 2 s at 20/s; limited
    # answers are charged too (BIND's debt), so a flood that keeps going
    # is held at or below the rate, not at it.
    assert 18 <= full <= 70, (full, tc)
    limited = 400 - full
    assert abs(tc - limited / 2) <= limited * 0.1 + 2, (full, tc)
    # a client in another /24, at the same time as a second flood, gets all
    other = 0
    for _ in range(15):
        q = dns.message.make_query("c.miek.nl.", "TXT")
        m = dns.query.udp(q, "127.0.0.1", port=r.port, timeout=1,
                          source="127.0.2.1")
        other += txts(m) == ["cc"]
    assert other == 15
    # the flooded prefix is answered in full over TCP
    q = dns.message.make_query("a.miek.nl.", "TXT")
    for _ in range(30):
        m = dns.query.tcp(q, "127.0.0.1", port=r.port, timeout=2,
                          source="127.0.1.1")
        assert txts(m) == ["aa"]
    wait_for(lambda: metric(r.metrics_port, "dnsrouter_rrl_slipped_total")
             >= tc and metric(r.metrics_port, "dnsrouter_rrl_dropped_total")
             >= limited - tc - 2, 5, 0.1, "RRL counters")


def test_exempt_prefix_and_log_only_are_not_limited(make_router, backend_a,
                                                    backend_b):
    r = make_rrl_router(make_router, backend_a, backend_b,
                        "rrl-responses-per-second 10\n"
                        "rrl-exempt 127.0.3.0/24\n")
    full, tc = flood(r.port, ["127.0.3.1"], 100)
    assert (full, tc) == (100, 0)
    r2 = make_rrl_router(make_router, backend_a, backend_b,
                         "rrl-responses-per-second 10\nrrl-log-only yes\n")
    full, tc = flood(r2.port, ["127.0.4.1"], 100)
    assert (full, tc) == (100, 0)
    wait_for(lambda: metric(r2.metrics_port,
                            "dnsrouter_rrl_would_limit_total") >= 80, 5, 0.1,
             "would-limit counter")
