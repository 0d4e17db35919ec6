"""The packet cache (cache-size) and serve-stale (cache-stale): repeated
questions reach the backend once (counted in BIND's query log) and their
TTLs age; the asker's 0x20 case comes back on hits; DO and non-DO queries
are kept apart; TC and SERVFAIL answers are not kept; a purge and a
registration change take effect at once; a stopped shard's cached names
are answered stale while its uncached names get SERVFAIL. Real BIND, real
etcd; a fake backend where one must answer SERVFAIL."""

import os
import socket
import subprocess
import threading
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from conftest import spec
from dnsenv import free_port, query, wait_for
from etcdenv import etcd, etcd_router  # noqa: F401
from fakebackend import FakeBackend
from test_metrics import http_get, parse
import zones

CACHE = "cache-size 1000\n"


def metric(mport, name):
    return parse(http_get(mport)[2])[0].get((name, frozenset()), 0)


def ask(port, name, qtype="TXT", **kw):
    """One UDP query from a fresh socket (so another source port)."""
    q = dns.message.make_query(name, qtype, **kw)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=3)


def ttl_of(resp):
    return resp.answer[0].ttl


def one_shard(make_named, make_router, extra=CACHE, workers=1,
              zone=None, **kw):
    """A BIND shard serving all of miek.nl. and a router for it, ready."""
    n = make_named(zone or zones.zone_ab(), "shard-ab")
    r = make_router(["%s,miek\\.nl\\.$" % spec(n)], workers=workers,
                    extra=extra, **kw)
    r.wait_ready("ns.miek.nl.", "A", in_a_row=2)
    return n, r


def purge(build_dir, r, *args):
    return subprocess.run(
        [os.path.join(build_dir, "dnsrouterctl"), "-f", r.conf_path, "purge"]
        + list(args), capture_output=True, text=True, timeout=10,
        stdin=subprocess.DEVNULL)


def test_repeated_queries_reach_the_backend_once_and_age_their_ttl(
        make_named, make_router):
    n, r = one_shard(make_named, make_router)
    first = ask(r.port, "a.miek.nl.")
    assert [t.decode() for rr in first.answer for t in rr[0].strings] == ["aa"]
    assert ttl_of(first) == 300
    for _ in range(20):
        assert ask(r.port, "a.miek.nl.").answer == first.answer
    assert n.query_count("a.miek.nl.") == 1
    # One second later the cached answer is a second older.
    aged = wait_for(lambda: (lambda a: a if ttl_of(a) < 300 else None)(
        ask(r.port, "a.miek.nl.")), timeout=3, what="an aged TTL")
    assert 297 <= ttl_of(aged) <= 299
    assert n.query_count("a.miek.nl.") == 1


def test_hits_carry_the_askers_own_case(make_named, make_router):
    n, r = one_shard(make_named, make_router)
    ask(r.port, "a.miek.nl.")
    for spelled in ("A.MiEk.nL.", "a.MIEK.nl.", "A.MIEK.NL."):
        resp = ask(r.port, spelled)
        assert resp.question[0].name.to_text() == spelled
        assert resp.answer[0].name.to_text() == spelled
    assert n.query_count("a.miek.nl.") == 1


def test_do_and_non_do_queries_get_answers_of_their_own(
        make_named, make_router):
    n, r = one_shard(make_named, make_router)
    kinds = [dict(), dict(use_edns=0), dict(use_edns=0, want_dnssec=True)]
    for kw in kinds * 3:
        resp = ask(r.port, "b.miek.nl.", **kw)
        assert resp.rcode() == dns.rcode.NOERROR
        assert (resp.edns >= 0) == ("use_edns" in kw)
        assert bool(resp.ednsflags & dns.flags.DO) == ("want_dnssec" in kw)
    assert n.query_count("b.miek.nl.") == 3


def test_truncated_answers_are_not_kept(make_named, make_router):
    n, r = one_shard(make_named, make_router)
    for i in range(3):
        resp = ask(r.port, "big.miek.nl.")       # 1,600 bytes, no EDNS
        assert resp.flags & dns.flags.TC
        assert n.query_count("big.miek.nl.") == i + 1
    # Over TCP the whole answer is kept, and taken by a large-buffer client.
    q = dns.message.make_query("big.miek.nl.", "TXT", use_edns=0,
                               payload=4096)
    full = dns.query.tcp(q, "127.0.0.1", port=r.port, timeout=3)
    assert len(full.answer[0]) == len(zones.BIG_TXT)
    got = ask(r.port, "big.miek.nl.", use_edns=0, payload=4096)
    assert not got.flags & dns.flags.TC and got.answer == full.answer
    assert n.query_count("big.miek.nl.") == 4
    # A 1,232-byte client is not given the 1,600 bytes.
    small = ask(r.port, "big.miek.nl.", use_edns=0, payload=1232)
    assert small.flags & dns.flags.TC
    assert n.query_count("big.miek.nl.") == 5


def test_servfail_answers_are_not_kept(make_router):
    fb = FakeBackend()
    try:
        r = make_router(["%s,miek\\.nl\\.$" % fb.spec], workers=1,
                        extra=CACHE)
        wait_for(lambda: "first route table received" in r.log(),
                 timeout=10, what="the router's table")
        results = []

        def client():
            for _ in range(3):
                results.append(ask(r.port, "sf.miek.nl.").rcode())
        t = threading.Thread(target=client)
        t.start()
        for _ in range(3):
            wire, src = fb.recv_query(timeout=10)
            m = dns.message.from_wire(wire)
            if m.question[0].name.to_text() != "sf.miek.nl.":
                continue
            resp = dns.message.make_response(m)
            resp.set_rcode(dns.rcode.SERVFAIL)
            fb.udp.sendto(resp.to_wire(), src)
        t.join(10)
        assert results == [dns.rcode.SERVFAIL] * 3
    finally:
        fb.close()


def test_a_purge_takes_effect_at_once_in_every_router(
        build_dir, make_named, make_router):
    n, r = one_shard(make_named, make_router, workers=2)
    # Both routers hold the answer (each its own cache).
    wait_for(lambda: ask(r.port, "a.miek.nl.") and
             n.query_count("a.miek.nl.") == 2, timeout=10,
             what="both routers to ask the backend")
    wait_for(lambda: all(ttl_of(ask(r.port, "a.miek.nl.")) < 300
                         for _ in range(8)), timeout=5,
             what="aged answers from both routers")
    cp = purge(build_dir, r, "A.Miek.NL.", "TXT")
    assert cp.returncode == 0, cp.stderr
    assert "purge 1 of A.Miek.NL. TXT sent to every router" in cp.stdout
    # Fresh from the backend (TTL 300) in both routers; the A stays.
    wait_for(lambda: all(ttl_of(ask(r.port, "a.miek.nl.")) >= 299
                         for _ in range(8)), timeout=1,
             what="fresh answers after the purge")
    assert 3 <= n.query_count("a.miek.nl.") <= 6
    bad = purge(build_dir, r, "a..miek.nl.")
    assert bad.returncode == 2 and "not a domain name" in bad.stderr


def test_a_registration_change_drops_the_routes_answers(
        backend_a, make_named, etcd, etcd_router):
    n = make_named(zones.zone_ab(), "shard-ab")
    r = etcd_router(etcd.url, workers=1, more=CACHE)
    etcd.ctl("put", "/dnsrouter/ab1", "%s,^[ab]\\.miek" % spec(n))
    wait_for(lambda: query(r.port, "a.miek.nl.", "TXT").rcode() ==
             dns.rcode.NOERROR, timeout=10, what="the route")
    def total():
        return n.query_count("a.miek.nl.") + \
            backend_a.query_count("a.miek.nl.")
    before = total()
    for _ in range(5):
        ask(r.port, "a.miek.nl.")
    assert total() == before
    # Another backend joins the route: what the cache held is gone.
    etcd.ctl("put", "/dnsrouter/ab2", "%s,^[ab]\\.miek" % spec(backend_a))
    wait_for(lambda: ask(r.port, "a.miek.nl.") and total() > before,
             timeout=5, what="a miss after the registration change")
    after = total()
    for _ in range(5):
        ask(r.port, "a.miek.nl.")
    assert total() == after


def test_stopped_shard_answers_cached_names_stale_and_others_servfail(
        make_named, make_router):
    mport = free_port()
    n, r = one_shard(make_named, make_router,
                     extra=CACHE + "cache-max-ttl 1s\ncache-stale 1h\n"
                     "health-interval 200ms\nmetrics 127.0.0.1:%d\n" % mport)
    ask(r.port, "a.miek.nl.")
    assert ttl_of(ask(r.port, "a.miek.nl.")) <= 1     # capped in the cache
    n.stop()
    # Expired, then asked: the backend does not answer, the stale entry does.
    stale = wait_for(lambda: (lambda a: a if ttl_of(a) == 30 else None)(
        ask(r.port, "a.miek.nl.")), timeout=5, what="a stale answer")
    assert stale.rcode() == dns.rcode.NOERROR
    assert stale.answer[0].to_text().endswith('"aa"')
    assert ask(r.port, "b.miek.nl.").rcode() == dns.rcode.SERVFAIL
    # Health checks take the backend down: still stale, not SERVFAIL.
    wait_for(lambda: [v for (k, _), v in parse(http_get(mport)[2])[0].items()
                      if k == "dnsrouter_backend_up"] == [0], timeout=5,
             what="the backend down")
    assert ttl_of(ask(r.port, "a.miek.nl.")) == 30
    assert ask(r.port, "c.miek.nl.").rcode() == dns.rcode.SERVFAIL
    wait_for(lambda: metric(mport, "dnsrouter_cache_stale_answers_total")
             >= 2, timeout=3, what="the stale answers counted")


def test_without_cache_stale_a_stopped_shard_is_servfail(
        make_named, make_router):
    n, r = one_shard(make_named, make_router,
                     extra=CACHE + "cache-max-ttl 1s\n")
    ask(r.port, "a.miek.nl.")
    assert ttl_of(ask(r.port, "a.miek.nl.")) <= 1
    n.stop()
    wait_for(lambda: ask(r.port, "a.miek.nl.").rcode() == dns.rcode.SERVFAIL,
             timeout=5, what="SERVFAIL once the entry expired")


def test_counters_and_a_bounded_cache(make_named, make_router):
    mport = free_port()
    n, r = one_shard(make_named, make_router,
                     extra="cache-size 2\nmetrics 127.0.0.1:%d\n" % mport)
    for name in ("a", "b", "c", "d"):
        ask(r.port, name + ".miek.nl.")
    for _ in range(3):
        ask(r.port, "d.miek.nl.")

    def counters():
        return {k: metric(mport, "dnsrouter_cache_" + k) for k in
                ("hits_total", "misses_total", "evictions_total", "entries")}
    c = wait_for(lambda: (lambda c: c if c["hits_total"] >= 3 and
                          c["entries"] == 2 else None)(counters()),
                 timeout=5, what="the cache's counters")
    assert c["misses_total"] >= 4
    assert c["evictions_total"] >= 2
