"""Health checks of etcd-registered backends, against real BIND.

A backend that fails its checks leaving rotation and coming back after
health-rise passes is the 2014 scenario (test_etcd_scenario.py). Here:
what counts as a pass (a REFUSED is alive) and a custom health-query.
"""

import re

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
