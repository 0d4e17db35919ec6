"""The 2014 write-up, step by step, against real etcd and real BIND.

Two shards of miek.nl. register themselves in etcd in the 2014 value format
(ip:port,regexp) with etcdctl; the apex is REFUSED until its two routes
are added, then answered round robin by both; a stopped shard leaves
rotation by itself and, unlike 2014, comes back by itself without being
registered again.
"""

import time

from conftest import spec
from dnsenv import ProcessError
from etcdenv import (answer, answers, etcd, etcd_router,  # noqa: F401
                     log_mark, wait_all_seen, wait_answer, wait_logged)
import zones

APEX = ("shard-ab", "shard-cd")


def assert_fast_servfail(r, name, n=8, limit=0.2):
    """n queries in a row answered SERVFAIL without a backend attempt:
    each well under the 500 ms per-attempt timeout."""
    for i in range(n):
        t0 = time.monotonic()
        a = answer(r.port, name, timeout=2.0)
        took = time.monotonic() - t0
        assert a == "SERVFAIL", "query %d for %s: %s" % (i, name, a)
        assert took < limit, "query %d for %s took %.3fs: the stopped " \
            "backend was still tried" % (i, name, took)


def test_2014_scenario_register_route_round_robin_leave_and_return(
        make_named, etcd, etcd_router):
    a = make_named(zones.zone_ab(), "shard-ab")
    c = make_named(zones.zone_cd(), "shard-cd")
    r = etcd_router(etcd.url)       # no routes file routes at all

    # Both shards register themselves, in the 2014 format, with etcdctl.
    etcd.ctl("put", "/dnsrouter/a", "%s,^[ab]\\.miek" % spec(a))
    etcd.ctl("put", "/dnsrouter/c", "%s,^[cd]\\.miek" % spec(c))
    for name, txt in (("a", "aa"), ("b", "bb"), ("c", "cc"), ("d", "dd")):
        wait_answer(r, "%s.miek.nl." % name, txt, timeout=5)

    # The apex matches neither route.
    assert answers(r, "miek.nl.", 8, "SOA") == ["REFUSED"] * 8

    # Two routes for the apex, one per shard: one route, round robin.
    etcd.ctl("put", "/dnsrouter/apex-a", "%s,^miek" % spec(a))
    etcd.ctl("put", "/dnsrouter/apex-c", "%s,^miek" % spec(c))
    wait_answer(r, "miek.nl.", "NOERROR", "SOA", timeout=5)
    wait_all_seen(r, "miek.nl.", APEX, timeout=5)
    rev = etcd.revision()

    # Stop shard cd: it leaves rotation by itself.
    mark = log_mark(r)
    c.pause()
    wait_logged(r, "backend %s is down: " % spec(c), mark, timeout=5)
    wait_answer(r, "c.miek.nl.", "SERVFAIL", timeout=3)
    assert_fast_servfail(r, "c.miek.nl.")
    assert_fast_servfail(r, "d.miek.nl.", n=2)
    apex = answers(r, "miek.nl.", 12)
    assert apex == ["shard-ab"] * 12, apex
    assert answers(r, "a.miek.nl.", 4) == ["aa"] * 4

    # Start it again: it comes back without anything written to etcd.
    mark = log_mark(r)
    c.resume()
    wait_logged(r, "backend %s is up: " % spec(c), mark, timeout=5)
    wait_answer(r, "c.miek.nl.", "cc", timeout=3)
    wait_answer(r, "d.miek.nl.", "dd", timeout=3)
    wait_all_seen(r, "miek.nl.", APEX, timeout=5)
    assert etcd.revision() == rev, "something wrote to etcd meanwhile"


def test_backend_really_stopped_and_started_again_returns_by_itself(
        make_named, etcd, etcd_router):
    """As in 2014 (docker stop / docker start): the named process exits
    and a new one starts on the same port."""
    a = make_named(zones.zone_ab(), "shard-ab")
    c = make_named(zones.zone_cd(), "shard-cd")
    r = etcd_router(etcd.url)
    etcd.ctl("put", "/dnsrouter/apex-a", "%s,^miek" % spec(a))
    etcd.ctl("put", "/dnsrouter/apex-c", "%s,^miek" % spec(c))
    etcd.ctl("put", "/dnsrouter/c", "%s,^[cd]\\.miek" % spec(c))
    wait_all_seen(r, "miek.nl.", APEX, timeout=5)
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)
    rev = etcd.revision()

    mark = log_mark(r)
    c.stop()
    wait_logged(r, "backend %s is down: " % spec(c), mark, timeout=5)
    wait_answer(r, "c.miek.nl.", "SERVFAIL", timeout=3)
    assert answers(r, "miek.nl.", 10) == ["shard-ab"] * 10

    mark = log_mark(r)
    try:
        c.start()
    except ProcessError as e:      # the port was taken meanwhile: rare
        raise AssertionError("could not restart named on port %d: %s"
                             % (c.port, e))
    wait_logged(r, "backend %s is up: " % spec(c), mark, timeout=5)
    wait_answer(r, "c.miek.nl.", "cc", timeout=3)
    wait_all_seen(r, "miek.nl.", APEX, timeout=5)
    assert etcd.revision() == rev
