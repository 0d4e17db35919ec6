"""allow-query: who may ask. Clients outside it get REFUSED, or nothing
with acl-drop yes, over UDP and TCP; counted in /metrics."""

import socket
import struct

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import spec
from dnsenv import free_port, recv_tcp_msg, wait_for
from helpers import txts
from test_metrics import http_get, parse
import zones


def ask(port, name, source, tcp=False, timeout=1.5):
    q = dns.message.make_query(name, "TXT")
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=port, timeout=timeout,
                             source=source)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout,
                         source=source)


def metric(mport, name):
    samples = parse(http_get(mport)[2])[0]
    return samples.get((name, frozenset()), 0)


@pytest.fixture
def acl_router(make_router, backend_a, backend_b):
    def make(extra):
        mport = free_port()
        r = make_router(zones.standard_routes(spec(backend_a),
                                              spec(backend_b)),
                        extra=extra + "metrics 127.0.0.1:%d\n" % mport)
        r.wait_ready("a.miek.nl.", "TXT")
        r.metrics_port = mport
        return r
    return make


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_allowed_address_answered_other_refused(acl_router, tcp):
    r = acl_router("allow-query 127.0.0.1/32 ::1\n")
    assert txts(ask(r.port, "a.miek.nl.", "127.0.0.1", tcp)) == ["aa"]
    m = ask(r.port, "a.miek.nl.", "127.0.0.2", tcp)
    assert m.rcode() == dns.rcode.REFUSED
    assert not m.answer
    wait_for(lambda: metric(r.metrics_port, "dnsrouter_acl_refused_total")
             >= 1, 5, 0.1, "acl_refused counter")


def test_acl_drop_answers_nothing(acl_router):
    r = acl_router("allow-query 127.0.0.1\nacl-drop yes\n")
    assert txts(ask(r.port, "c.miek.nl.", "127.0.0.1")) == ["cc"]
    with pytest.raises(dns.exception.Timeout):
        ask(r.port, "c.miek.nl.", "127.0.0.2", timeout=1.0)
    # over TCP the connection is closed at once, unanswered
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.settimeout(2)
    s.connect(("127.0.0.1", r.port))
    w = dns.message.make_query("c.miek.nl.", "TXT").to_wire()
    try:
        s.sendall(struct.pack("!H", len(w)) + w)
        assert recv_tcp_msg(s) is None
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    wait_for(lambda: metric(r.metrics_port, "dnsrouter_acl_refused_total")
             >= 2, 5, 0.1, "acl_refused counter")


def test_allow_query_any_by_default(acl_router):
    r = acl_router("")
    assert txts(ask(r.port, "a.miek.nl.", "127.0.0.2")) == ["aa"]
    assert txts(ask(r.port, "a.miek.nl.", "127.0.0.3", tcp=True)) == ["aa"]
