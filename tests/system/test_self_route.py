"""A registration that points back at dnsrouter itself is refused with a
log line naming it: forwarded to, one query became 16,385 router queries
and filled every in-flight slot."""

import dns.rcode

from conftest import spec
from dnsenv import free_port, query, wait_for
from etcdenv import etcd, etcd_router, log_mark, wait_logged  # noqa: F401
from helpers import txts


def test_own_listen_address_refused_in_routes_file(make_router, backend_a):
    port = free_port()
    r = make_router(["127.0.0.1:%d,^loop\\." % port,
                     "%s,^a\\.miek" % spec(backend_a)], listen_port=port)
    r.wait_ready("a.miek.nl.", "TXT")
    wait_for(lambda: "own listen address" in r.log(), 5, 0.05,
             "the self-route to be refused")
    assert "127.0.0.1:%d" % port in r.log()
    m = query(port, "loop.miek.nl.", "TXT")
    assert m.rcode() == dns.rcode.REFUSED      # no such route
    assert txts(query(port, "a.miek.nl.", "TXT")) == ["aa"]


def test_self_route_from_etcd_refused(backend_a, etcd, etcd_router):
    r = etcd_router(etcd.url)
    mark = log_mark(r)
    etcd.ctl("put", "/dnsrouter/self", "127.0.0.1:%d,^loop\\." % r.port)
    line = wait_logged(r, "key /dnsrouter/self: backend", mark, timeout=10)
    assert "own listen address" in r.log()[mark:], line
    etcd.ctl("put", "/dnsrouter/a", "%s,^a\\.miek" % spec(backend_a))
    wait_for(lambda: txts(query(r.port, "a.miek.nl.", "TXT")) == ["aa"], 10,
             0.1, "the real route")
    assert query(r.port, "loop.miek.nl.", "TXT").rcode() == dns.rcode.REFUSED
