"""Health checks of etcd-registered backends, against real BIND.

A backend that fails its checks leaving rotation and coming back after
health-rise passes is the 2014 scenario (test_etcd_scenario.py). Here:
what counts as a pass (a REFUSED is alive) and a custom health-query.
"""

import re
import time

import dns.rcode

from conftest import spec
from dnsenv import Named, free_port, query, wait_for
from etcdenv import (etcd, etcd_router, log_mark,  # noqa: F401
                     wait_all_seen, wait_answer, wait_logged)
import zones

# A check may take up to min(timeout, interval): 500 ms, ample on a busy
# machine.
FAST = "health-interval 500ms\nhealth-rise 2\nhealth-fall 2\n"


class ChaosRefusingNamed(Named):
    """BIND with its zones in an IN view and an empty CHAOS view: it
    answers REFUSED to id.server. CH TXT (with no CHAOS view of our own,
    BIND's built-in one answers it, even with server-id none)."""

    def _conf(self):
        conf = super()._conf()
        zl = re.findall(r"^zone .*$", conf, re.M)
        for z in zl:
            conf = conf.replace(z + "\n", "").replace(z, "")
        return conf + ('view "in" IN {\n  match-clients { any; };\n%s\n};\n'
                       'view "chaos" CH {\n  match-clients { any; };\n};\n'
                       % "\n".join("  " + z for z in zl))


def health_queries(named, name):
    """Health checks named has seen for name (its query log)."""
    return named.query_count(name)


def test_backend_answering_refused_to_health_query_stays_in_rotation(
        tmp_path, make_named, etcd, etcd_router):
    x = ChaosRefusingNamed(tmp_path / "refusing", free_port(),
                           {zones.ORIGIN: zones.zone_with(
                               "x", ['c IN TXT "c-from-x"'])})
    x.start()
    try:
        y = make_named(zones.zone_with("y", ['c IN TXT "c-from-y"']), "y")
        # the premise: x answers REFUSED to the default health query
        resp = query(x.port, "id.server.", "TXT", rdclass="CH", tcp=True)
        assert resp.rcode() == dns.rcode.REFUSED

        r = etcd_router(etcd.url, health=FAST)
        mark = log_mark(r)
        etcd.ctl("put", "/dnsrouter/x", "%s,^c\\.miek" % spec(x))
        etcd.ctl("put", "/dnsrouter/y", "%s,^c\\.miek" % spec(y))
        wait_all_seen(r, "c.miek.nl.", {"c-from-x", "c-from-y"}, timeout=5)
        # twice health-fall checks in a row have been answered REFUSED
        n0 = health_queries(x, "id.server")
        wait_for(lambda: health_queries(x, "id.server") >= n0 + 4, 5, 0.05,
                 "four more health checks of the REFUSING backend")
        assert "backend %s is down" % spec(x) not in r.log()[mark:], \
            r.log()[mark:]
        wait_all_seen(r, "c.miek.nl.", {"c-from-x", "c-from-y"}, timeout=3)
    finally:
        x.stop()


BROKEN_ZONE = "$TTL 300\n@ IN NS ns.probe.test.\n"      # no SOA: not loaded
GOOD_ZONE = ("$TTL 300\n@ IN SOA ns.probe.test. h.probe.test. 1 3600 600 "
             "86400 300\n@ IN NS ns.probe.test.\nns IN A 127.0.0.1\n")


def test_custom_health_query_is_what_decides(tmp_path, etcd, etcd_router):
    """health-query probe.test. IN SOA: x serves probe.test., y's copy of
    it failed to load (SERVFAIL). Both answer the default id.server CH TXT,
    so only the custom query can tell them apart."""
    x = Named(tmp_path / "x", free_port(),
              {zones.ORIGIN: zones.zone_with("x", ['c IN TXT "c-from-x"']),
               "probe.test.": GOOD_ZONE}, server_id="x")
    y = Named(tmp_path / "y", free_port(),
              {zones.ORIGIN: zones.zone_with("y", ['c IN TXT "c-from-y"']),
               "probe.test.": BROKEN_ZONE}, server_id="y")
    x.start()
    try:
        y.start()
        assert query(y.port, "probe.test.", "SOA", tcp=True).rcode() == \
            dns.rcode.SERVFAIL
        assert query(x.port, "probe.test.", "SOA", tcp=True).rcode() == \
            dns.rcode.NOERROR

        n0 = health_queries(x, "probe.test")       # our own query above
        r = etcd_router(etcd.url,
                        health="health-query probe.test. IN SOA\n" + FAST)
        mark = log_mark(r)
        etcd.ctl("put", "/dnsrouter/x", "%s,^c\\.miek" % spec(x))
        etcd.ctl("put", "/dnsrouter/y", "%s,^c\\.miek" % spec(y))
        lines = wait_logged(r, "backend %s is down: " % spec(y), mark, 5)
        assert "SERVFAIL" in lines.split("backend %s is down: "
                                         % spec(y))[1].splitlines()[0]
        wait_answer(r, "c.miek.nl.", "c-from-x", timeout=3, in_a_row=12)
        assert "backend %s is down" % spec(x) not in r.log()[mark:]
        # the checks x got were the custom query, over TCP, and only it
        wait_for(lambda: health_queries(x, "probe.test") >= n0 + 2, 5, 0.05,
                 "two health checks of x in its query log")
        assert health_queries(x, "id.server") == 0
        with open(x.querylog_path) as f:
            probes = [l for l in f if "query: probe.test " in l][n0:]
        # BIND logs the flags after the type: T is TCP
        assert probes and all(" IN SOA " in l and "T" in l.split(
            " IN SOA ")[1].split()[0] for l in probes), probes[:3]
    finally:
        x.stop()
        y.stop()


PROBE = "hc-probe.miek.nl."     # a name nothing else asks: NXDOMAIN passes


def _server_conns(port):
    """Connections accepted (or waiting to be) by the TCP listener on
    127.0.0.1:port: server-side ESTABLISHED or CLOSE_WAIT entries. While
    that server is stopped, this only grows, by one per health check."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and \
                    fields[3] in ("01", "08"):
                n += 1
    return n


def test_one_check_per_backend_per_interval_not_per_route(make_named,
                                                          make_router):
    """One backend behind two routes (routes file) is checked once per
    health-interval, not once per route."""
    x = make_named(zones.zone_with("x", ['a IN TXT "a-from-x"',
                                         'c IN TXT "c-from-x"']), "x")
    interval = 0.25
    r = make_router(["%s,^a\\.miek" % spec(x), "%s,^c\\.miek" % spec(x)],
                    extra="health-query %s IN TXT\nhealth-interval 250ms\n"
                          "health-rise 2\nhealth-fall 2\n" % PROBE)
    r.wait_ready("a.miek.nl.", "TXT")
    r.wait_ready("c.miek.nl.", "TXT")
    # the checks have started (the first one comes within an interval)
    wait_for(lambda: x.query_count(PROBE), 5, 0.02, "a first check")
    # count over a window of 8 intervals, polling so that a dead router
    # shows at once
    window = 8 * interval
    t0 = time.monotonic()
    n0 = x.query_count(PROBE)
    wait_for(lambda: r.proc.poll() is not None or
             time.monotonic() - t0 >= window, window + 1, 0.05,
             "the counting window")
    n = x.query_count(PROBE) - n0
    assert r.proc.poll() is None
    # one check per interval (+1 for where the window cuts), not one per
    # route (16), and the checks did go on
    assert 8 * 0.5 <= n <= 8 + 1, "%d checks in %.2fs" % (n, window)
    assert "is down" not in r.log()


def test_each_state_change_is_logged_once(make_named, make_router):
    """A stopped backend is logged down once, however many checks fail
    after that; back, it is logged up once."""
    x = make_named(zones.zone_with("x", ['c IN TXT "c-from-x"']), "x")
    r = make_router(["%s,^c\\.miek" % spec(x)], timeout="150ms",
                    extra="health-query %s IN TXT\nhealth-interval 200ms\n"
                          "health-rise 2\nhealth-fall 2\n" % PROBE)
    r.wait_ready("c.miek.nl.", "TXT")
    wait_for(lambda: x.query_count(PROBE) >= 2, 5, 0.02, "two checks")
    down = "backend %s is down: " % spec(x)
    up = "backend %s is up: " % spec(x)
    assert r.log_count(down) == 0 and r.log_count(up) == 0
    x.pause()
    try:
        wait_for(lambda: r.log_count(down), 5, 0.02, "the down line")
        # four more failed checks (twice health-fall): each one is a new
        # connection that the stopped named never accepts
        c0 = _server_conns(x.port)
        wait_for(lambda: _server_conns(x.port) >= c0 + 4, 5, 0.02,
                 "four more checks of the stopped backend")
        assert r.log_count(down) == 1, r.log()[-3000:]
        assert "health query timed out" in r.log().split(down)[1] \
            .splitlines()[0]
        assert query(r.port, "c.miek.nl.", "TXT").rcode() == \
            dns.rcode.SERVFAIL
    finally:
        x.resume()
    wait_for(lambda: r.log_count(up), 5, 0.02, "the up line")
    n0 = x.query_count(PROBE)
    wait_for(lambda: x.query_count(PROBE) >= n0 + 4, 5, 0.02,
             "four more passed checks")
    assert r.log_count(up) == 1, r.log()[-3000:]
    assert r.log_count(down) == 1, r.log()[-3000:]
    r.wait_ready("c.miek.nl.", "TXT", timeout=5)
