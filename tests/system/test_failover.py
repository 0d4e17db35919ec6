"""A stopped backend: SERVFAIL in time, retry elsewhere, come back, skip."""

import socket
import time

import dns.exception
import dns.message
import dns.rcode

from conftest import spec
from dnsenv import query, wait_for
from fakebackend import FakeBackend
from helpers import txts
from procs import UdpLoad
from zones import zone_with

FAST_HEALTH = "health-interval 200ms\nhealth-rise 2\nhealth-fall 2\n"


def c_backend(make_named, who):
    return make_named(zone_with(who, ['c IN TXT "c-from-%s"' % who]),
                      "backend-" + who)


def test_servfail_within_timeout_when_only_backend_stopped(make_named,
                                                           make_router):
    x = c_backend(make_named, "x")
    r = make_router(["%s,^c\\.miek" % spec(x)], timeout="500ms")
    r.wait_ready("c.miek.nl.", "TXT")
    x.pause()
    for _ in range(3):
        t0 = time.monotonic()
        try:
            resp = query(r.port, "c.miek.nl.", "TXT", timeout=4)
        except dns.exception.Timeout:
            raise AssertionError("client timed out: no SERVFAIL from "
                                 "dnsrouter within 4 s")
        took = time.monotonic() - t0
        assert resp.rcode() == dns.rcode.SERVFAIL
        assert str(resp.question[0].name) == "c.miek.nl."
        assert took < 1.5, "SERVFAIL after %.2fs (timeout 500ms)" % took


def test_servfail_over_tcp_when_only_backend_stopped(make_named, make_router):
    x = c_backend(make_named, "x")
    r = make_router(["%s,^c\\.miek" % spec(x)], timeout="500ms")
    r.wait_ready("c.miek.nl.", "TXT")
    x.pause()
    t0 = time.monotonic()
    resp = query(r.port, "c.miek.nl.", "TXT", tcp=True, timeout=4)
    assert resp.rcode() == dns.rcode.SERVFAIL
    assert time.monotonic() - t0 < 1.5


def test_retry_on_other_backend_when_one_stopped(make_named, make_router):
    x = c_backend(make_named, "x")
    y = c_backend(make_named, "y")
    r = make_router(["%s,^c\\.miek" % spec(x), "%s,^c\\.miek" % spec(y)],
                    timeout="500ms")
    r.wait_ready("c.miek.nl.", "TXT")
    # both take turns before the stop
    seen = {tuple(txts(query(r.port, "c.miek.nl.", "TXT")))
            for _ in range(10)}
    assert seen == {("c-from-x",), ("c-from-y",)}
    x.pause()
    for i in range(12):
        t0 = time.monotonic()
        resp = query(r.port, "c.miek.nl.", "TXT", timeout=3)
        took = time.monotonic() - t0
        assert resp.rcode() == dns.rcode.NOERROR, "query %d" % i
        assert txts(resp) == ["c-from-y"]
        # at most one timed-out attempt, then the retry
        assert took < 1.3, "query %d took %.2fs" % (i, took)


def test_retry_over_tcp_when_one_backend_stopped(make_named, make_router):
    x = c_backend(make_named, "x")
    y = c_backend(make_named, "y")
    r = make_router(["%s,^c\\.miek" % spec(x), "%s,^c\\.miek" % spec(y)],
                    timeout="500ms")
    r.wait_ready("c.miek.nl.", "TXT")
    x.pause()
    for i in range(6):
        resp = query(r.port, "c.miek.nl.", "TXT", tcp=True, timeout=3)
        assert resp.rcode() == dns.rcode.NOERROR, "query %d" % i
        assert txts(resp) == ["c-from-y"]


def test_backend_comes_back_after_resume(make_named, make_router):
    x = c_backend(make_named, "x")
    r = make_router(["%s,^c\\.miek" % spec(x)], timeout="300ms",
                    extra=FAST_HEALTH)
    r.wait_ready("c.miek.nl.", "TXT")
    x.pause()
    # down: by health checks (2 x 200ms) or by the routers' timeouts
    wait_for(lambda: query(r.port, "c.miek.nl.", "TXT", timeout=2).rcode()
             == dns.rcode.SERVFAIL, 5, 0.05, "SERVFAIL while stopped")
    x.resume()
    # health-rise 2 at 200ms: back well within 5 s, without any etcd write
    r.wait_ready("c.miek.nl.", "TXT", timeout=5)
    assert txts(query(r.port, "c.miek.nl.", "TXT")) == ["c-from-x"]


def test_route_with_all_backends_down_is_skipped(make_named, make_router):
    x = c_backend(make_named, "x")
    y = c_backend(make_named, "y")
    r = make_router(['{"addr":"%s","match":"^c\\\\.miek","priority":0}'
                     % spec(x),
                     '{"addr":"%s","match":"^c\\\\.","priority":1}'
                     % spec(y)],
                    timeout="300ms", extra=FAST_HEALTH)
    r.wait_ready("c.miek.nl.", "TXT")
    for _ in range(4):
        assert txts(query(r.port, "c.miek.nl.", "TXT")) == ["c-from-x"]
    x.pause()

    streak = [0]

    def from_y():
        try:
            resp = query(r.port, "c.miek.nl.", "TXT", timeout=1)
            ok = txts(resp) == ["c-from-y"]
        except dns.exception.Timeout:
            ok = False
        streak[0] = streak[0] + 1 if ok else 0
        return streak[0] >= 8
    # once x is out of rotation (in every router), the next matching
    # route answers: 8 fresh client sockets in a row get y's answer
    wait_for(from_y, 5, 0.02, "the priority-1 route to answer")


def test_dead_backend_leaves_rotation_quickly_under_load(make_named,
                                                         make_router):
    """Timeouts the routers see on real traffic count as failures: with
    health checks far apart (5 s), one second of traffic is enough to take
    a stopped backend out of rotation; then no query waits for it."""
    x = c_backend(make_named, "x")
    y = c_backend(make_named, "y")
    r = make_router(["%s,^c\\.miek" % spec(x), "%s,^c\\.miek" % spec(y)],
                    timeout="300ms",
                    extra="health-interval 5s\nhealth-fall 2\n")
    r.wait_ready("c.miek.nl.", "TXT")
    x.pause()
    # one second of load: a query every 10 ms from 8 client sockets
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
             for _ in range(8)]
    try:
        wire = dns.message.make_query("c.miek.nl.", "TXT").to_wire()
        t_end = time.monotonic() + 1.0
        i = 0
        while time.monotonic() < t_end:
            socks[i % len(socks)].sendto(wire, ("127.0.0.1", r.port))
            i += 1
            time.sleep(0.01)     # pacing the load, not synchronisation
    finally:
        for s in socks:
            s.close()
    slow = []
    for i in range(20):
        t0 = time.monotonic()
        resp = query(r.port, "c.miek.nl.", "TXT", timeout=2)
        took = time.monotonic() - t0
        assert txts(resp) == ["c-from-y"], "query %d" % i
        if took > 0.2:
            slow.append("query %d: %.2fs" % (i, took))
    assert not slow, "still tried the stopped backend after 1 s of " \
        "traffic: %s" % slow


def test_checks_take_down_a_backend_that_still_answers_traffic(make_router):
    """Health checks decide: a backend that fails them (SERVFAIL to the
    check query, over TCP) goes down after health-fall checks even while it
    answers real UDP traffic. Answered traffic used to reset the count of
    failed checks in every 100 ms report, so it never went down."""
    fb = FakeBackend()
    load = None
    try:
        fb.serve_udp("from-fake")
        # checks 1 s apart: the Python backend answers well within that
        r = make_router(["%s,^c\\.miek" % fb.spec],
                        extra="health-interval 1s\nhealth-fall 2\n")
        r.wait_ready("c.miek.nl.", "TXT")
        down = r.log_count("is down")
        load = UdpLoad(r.port, name="c.miek.nl.", interval=0.01).start()
        wait_for(lambda: fb.udp_answered > 20, 5, 0.02, "traffic to flow")
        fb.tcp_rcode = dns.rcode.SERVFAIL
        # health-fall 2 at 1 s: down within about 2 s; 8 s is ample
        wait_for(lambda: r.log_count("is down") > down, 8, 0.05,
                 "the backend failing its checks to be taken down")
        # by the checks (the Python backend may also be slow to answer
        # one on a busy machine), not by failed traffic
        why = r.log().split("is down: ")[1].splitlines()[0]
        assert why.startswith("health query"), why
        assert load.sent > 100 and fb.udp_answered > 100
    finally:
        if load is not None:
            load.stop()
        fb.close()



def test_a_stalled_router_delivers_the_reply_that_came_meanwhile(
        make_router):
    """A router stopped (SIGSTOP) past its timeout wakes with a query's
    deadline gone and the backend's reply waiting in its upstream socket:
    the reply goes to the client. libev ran the timeout first (both pending
    in one pass, and it runs the last queued first) and the router answered
    SERVFAIL for a query its backend had answered."""
    import os
    import signal
    from fakebackend import make_reply
    from procs import wait_routers
    fb = FakeBackend()
    try:
        r = make_router(["%s,^c\\.miek" % fb.spec], workers=1,
                        timeout="200ms")
        wait_for(lambda: "first route table" in r.log(), 10, 0.02,
                 "the router's table")
        router = wait_routers(r, 1)["router"][0]
        for _ in range(3):
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c.settimeout(5)
            try:
                c.sendto(dns.message.make_query("c.miek.nl.", "TXT")
                         .to_wire(), ("127.0.0.1", r.port))
                fwd, src = fb.recv_query()
                os.kill(router, signal.SIGSTOP)
                try:
                    fb.send(make_reply(fwd, "late-but-there"), src)
                    time.sleep(0.5)
                finally:
                    os.kill(router, signal.SIGCONT)
                ans = dns.message.from_wire(c.recv(65535))
            finally:
                c.close()
            assert ans.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(
                ans.rcode())
            assert txts(ans) == ["late-but-there"]
    finally:
        fb.close()
