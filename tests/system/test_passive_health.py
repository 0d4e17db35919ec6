"""Passive health: what routers see on real traffic takes a backend out of
rotation only when most of its recent attempts failed, and a query that no
backend of the route answered is held against a backend only if it answers
nothing else. Fake backends (Python) on both sides: some never answer
names starting with "slow", one goes dead under load."""

import http.client
import socket
import time

import dns.message
import dns.rcode

from dnsenv import free_port, query, wait_for
from fakebackend import FakeBackend
from procs import UdpLoad

ROUTE = r",miek\.nl\.$"


def scrape(port):
    """{(name, backend): value} of the backend series of /metrics."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
    finally:
        c.close()
    out = {}
    for line in body.splitlines():
        if line.startswith("dnsrouter_backend_") and 'backend="' in line:
            name = line.split("{", 1)[0]
            backend = line.split('backend="', 1)[1].split('"', 1)[0]
            if "rcode=" in line or "le=" in line:
                continue
            out[(name, backend)] = float(line.rsplit(" ", 1)[1])
    return out


def slow_names_unanswered(label):
    return label.startswith("slow")


def test_unanswerable_names_do_not_take_healthy_backends_out(make_router):
    """Both backends never answer names starting with "slow" and answer
    every other name. Four such queries 150 ms apart, under a light load
    of normal names: each is tried on both backends and answered SERVFAIL,
    but no backend leaves rotation and no normal name gets SERVFAIL.
    Before, a 100 ms report with a failure and no answer counted as a
    failed check, answers never cleared it and the retry carried it to the
    other backend: both went down and the whole route answered SERVFAIL
    until the checks brought them back."""
    fbs = [FakeBackend(), FakeBackend()]
    load = None
    slow = []
    try:
        for fb in fbs:
            fb.serve_udp("from-fake", drop=slow_names_unanswered)
        mport = free_port()
        r = make_router([fb.spec + ROUTE for fb in fbs], timeout="500ms",
                        extra="metrics 127.0.0.1:%d\nhealth-interval 5s\n"
                              "health-fall 2\nhealth-rise 2\n" % mport)
        r.wait_ready("c.miek.nl.", "TXT")
        # a light load: ten normal queries a second
        load = UdpLoad(r.port, name="c.miek.nl.", interval=0.1,
                       timeout=2.0).start()
        load.wait_sent(5)
        for i in range(4):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3)
            s.sendto(dns.message.make_query("slow%d.miek.nl." % i,
                                            "TXT").to_wire(),
                     ("127.0.0.1", r.port))
            slow.append(s)
            time.sleep(0.15)        # the scenario's spacing
        for i, s in enumerate(slow):
            resp = dns.message.from_wire(s.recv(65535))
            # tried on both backends (2 x 500 ms), then SERVFAIL
            assert resp.rcode() == dns.rcode.SERVFAIL, "slow%d" % i
        # every failure has been reported (100 ms), judged, and the load
        # has gone on past it
        time.sleep(0.5)
        load.wait_sent(5)
        load.stop()
        assert "is down" not in r.log(), r.log()[-3000:]
        assert load.failures == [], load.report()
        m = scrape(mport)
        for fb in fbs:
            assert m[("dnsrouter_backend_up", fb.spec)] == 1, m
        # the failures were seen, and seen as names nobody answered: 4
        # queries, each failed on both backends
        fails = sum(m[("dnsrouter_backend_failures_total", fb.spec)]
                    for fb in fbs)
        unanswered = sum(m[("dnsrouter_backend_unanswered_failures_total",
                            fb.spec)] for fb in fbs)
        assert fails == unanswered == 8, m
        assert sum(fb.udp_dropped for fb in fbs) == 8
    finally:
        for s in slow:
            s.close()
        if load is not None and load._thread.is_alive():
            load.stop()
        for fb in fbs:
            fb.close()


def test_dead_backend_under_load_leaves_rotation_within_a_second(make_router):
    """One of two backends stops answering anything under 250 queries/s
    (health checks 5 s apart, so only traffic can tell): it is out of
    rotation within 1 s, no client query fails (each one that met it is
    retried on the other), and after that none waits for it."""
    dead, alive = FakeBackend(), FakeBackend()
    load = None
    try:
        dead.serve_udp("from-dead")
        alive.serve_udp("from-alive")
        mport = free_port()
        r = make_router([dead.spec + ROUTE, alive.spec + ROUTE],
                        timeout="300ms",
                        extra="metrics 127.0.0.1:%d\nhealth-interval 5s\n"
                              "health-fall 2\nhealth-rise 2\n" % mport)
        r.wait_ready("c.miek.nl.", "TXT")
        load = UdpLoad(r.port, name="c.miek.nl.", interval=0.004,
                       timeout=1.5).start()
        load.wait_sent(100)
        assert dead.udp_answered > 20 and alive.udp_answered > 20
        down = "backend %s is down: " % dead.spec
        dead.dead = True
        t_dead = load.now()
        wait_for(lambda: down in r.log(), 3, 0.01, "the dead backend out")
        t_down = load.now()
        # a second more of load, now all on the live backend
        time.sleep(1.0)
        load.stop()
        took = t_down - t_dead
        print("out of rotation %.3fs after it went dead; %s" % (
            took, load.report()))
        assert took < 1.0, "out of rotation after %.2fs; %s" % (
            took, r.log().split(down)[1].splitlines()[0])
        assert load.failures == [], load.report()
        assert load.sent > 400, load.report()
        # answers that waited for the dead backend's timeout (300 ms) all
        # went out before it left rotation (plus the table's way out)
        late = [(t, lat) for t, lat in load.latencies
                if lat > 0.25 and t > t_down + 0.1]
        assert not late, late[:5]
        why = r.log().split(down)[1].splitlines()[0]
        assert "failed on real traffic" in why, why
        assert "is down" not in r.log().replace(down, ""), r.log()[-3000:]
        m = scrape(mport)
        assert m[("dnsrouter_backend_up", dead.spec)] == 0, m
        assert m[("dnsrouter_backend_up", alive.spec)] == 1, m
    finally:
        if load is not None and load._thread.is_alive():
            load.stop()
        dead.close()
        alive.close()


def test_dead_backend_alone_on_its_route_leaves_once_it_answers_nothing(
        make_router):
    """With no other backend to retry on, every failure is one of a query
    nobody answered: once the backend has answered nothing for a whole
    health-passive-window (1 s), they make it suspect and a health check
    at once confirms it is dead. It leaves rotation about a window (plus a
    check) after its last answer; then its names get SERVFAIL at once
    instead of after the timeout."""
    fb = FakeBackend()
    load = None
    try:
        fb.serve_udp("from-fake")
        r = make_router([fb.spec + ROUTE], timeout="300ms",
                        extra="health-interval 5s\nhealth-fall 2\n"
                              "health-rise 2\n")
        r.wait_ready("c.miek.nl.", "TXT")
        load = UdpLoad(r.port, name="c.miek.nl.", interval=0.01,
                       timeout=1.5, expect=dns.rcode.NOERROR).start()
        load.wait_sent(30)
        down = "backend %s is down: " % fb.spec
        fb.dead = True
        t_dead = load.now()
        wait_for(lambda: down in r.log(), 4, 0.01, "the dead backend out")
        t_down = load.now()
        load.stop()
        took = t_down - t_dead
        print("out of rotation %.3fs after it went dead" % took)
        why = r.log().split(down)[1].splitlines()[0]
        # not before a whole window without answers, not much after it
        assert 0.9 < took < 2.0, "%.2fs: %s" % (took, why)
        assert why.startswith("health query timed out, and it answered "
                              "none of its last "), why
        # what it failed meanwhile were SERVFAILs after the timeout, not
        # lost queries
        assert load.failures and all(k == "SERVFAIL"
                                     for _, k in load.failures), \
            load.report()
        # out of rotation: SERVFAIL at once, not after the timeout
        for _ in range(5):
            t0 = time.monotonic()
            resp = query(r.port, "c.miek.nl.", "TXT", timeout=2)
            assert resp.rcode() == dns.rcode.SERVFAIL
            assert time.monotonic() - t0 < 0.2
    finally:
        if load is not None and load._thread.is_alive():
            load.stop()
        fb.close()


def test_names_nobody_answers_as_the_only_traffic_leave_backends_in(
        make_router):
    """A stream of names no backend answers, and nothing else: the
    backends answer nothing on real traffic, which makes them suspect,
    but they pass the health checks that suspicion asks for (once per
    window), so they stay in rotation and the next normal name is
    answered at once."""
    fbs = [FakeBackend(), FakeBackend()]
    flood = None
    try:
        for fb in fbs:
            fb.serve_udp("from-fake", drop=slow_names_unanswered)
        mport = free_port()
        # no scheduled check during the test: only suspicion asks for one
        r = make_router([fb.spec + ROUTE for fb in fbs], timeout="300ms",
                        extra="metrics 127.0.0.1:%d\nhealth-interval 1h\n"
                              "health-fall 2\nhealth-rise 2\n" % mport)
        r.wait_ready("c.miek.nl.", "TXT")
        # the first check of each comes within a second of its start
        wait_for(lambda: all(fb.health_queries >= 1 for fb in fbs), 3,
                 0.02, "the first health checks")
        h0 = [fb.health_queries for fb in fbs]
        # 50 a second for 2.5 s, each tried on both backends: SERVFAIL
        flood = UdpLoad(r.port, name="slow.miek.nl.", interval=0.02,
                        timeout=1.5, expect=dns.rcode.SERVFAIL).start()
        time.sleep(2.5)
        flood.stop()
        assert flood.failures == [] and flood.ok > 80, flood.report()
        assert "is down" not in r.log(), r.log()[-3000:]
        m = scrape(mport)
        for fb, h in zip(fbs, h0):
            assert m[("dnsrouter_backend_up", fb.spec)] == 1, m
            # the suspicion was checked, about once a window (1 s)
            assert 1 <= fb.health_queries - h <= 4, (fb.health_queries, h)
            assert m[("dnsrouter_backend_unanswered_failures_total",
                      fb.spec)] > 60, m
        t0 = time.monotonic()
        resp = query(r.port, "c.miek.nl.", "TXT", timeout=2)
        assert resp.rcode() == dns.rcode.NOERROR
        assert time.monotonic() - t0 < 0.2
    finally:
        if flood is not None and flood._thread.is_alive():
            flood.stop()
        for fb in fbs:
            fb.close()
