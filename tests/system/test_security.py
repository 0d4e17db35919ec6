"""Forwarding resists spoofing: new IDs, replies checked, query unchanged."""

import socket
import time

import pytest

import dns.message
import dns.rcode
import dns.rdatatype

from conftest import spec
from fakebackend import FakeBackend, make_reply
from helpers import txts


@pytest.fixture
def fake_setup(make_router, backend_a):
    """A router whose ^spoof\\.miek route has the fake as only backend."""
    fake = FakeBackend()
    try:
        r = make_router(["%s,^[ab]\\.miek" % spec(backend_a),
                         "%s,^spoof\\.miek" % fake.spec], timeout="1000ms")
        # the tables carry both routes: ready for a is ready for spoof
        r.wait_ready("a.miek.nl.", "TXT")
        yield r, fake
    finally:
        fake.close()


def client_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(3)
    return s


def test_forged_replies_ignored(fake_setup):
    r, fake = fake_setup
    for round_ in range(5):
        c = client_socket()
        try:
            q = dns.message.make_query("spoof.miek.nl.", "TXT")
            q.id = 0x7000 + round_
            c.sendto(q.to_wire(), ("127.0.0.1", r.port))
            fwd, src = fake.recv_query()
            fid = int.from_bytes(fwd[:2], "big")
            # (a) wrong ID, from the right port
            fake.send(make_reply(fwd, "spoof-wrong-id",
                                 qid=(fid + 1) & 0xFFFF), src)
            # (b) right ID, from another source port
            fake.send(make_reply(fwd, "spoof-other-port"), src,
                      from_other=True)
            # (c) right ID and port, another question
            fake.send(make_reply(fwd, "spoof-other-question",
                                 qname="spoog.miek.nl."), src)
            # (d) right ID and port, the question for another type
            w = dns.message.from_wire(make_reply(fwd, "spoof-other-type"))
            w.question[0].rdtype = dns.rdatatype.MX
            fake.send(w.to_wire(), src)
            # then the real one
            fake.send(make_reply(fwd, "real"), src)
            data, _ = c.recvfrom(65535)
            resp = dns.message.from_wire(data)
            assert resp.id == q.id
            assert resp.rcode() == dns.rcode.NOERROR
            assert txts(resp) == ["real"]
            assert str(resp.question[0].name) == "spoof.miek.nl."
            # and nothing else reaches the client
            c.settimeout(0.3)
            with pytest.raises(socket.timeout):
                extra = c.recvfrom(65535)
                print("unexpected extra packet:", extra)
        finally:
            c.close()


def test_backend_gets_new_unpredictable_id_and_same_bytes(fake_setup):
    r, fake = fake_setup
    n = 64
    sent_ids, backend_ids, ports = [], [], set()
    c = client_socket()
    try:
        for i in range(n):
            q = dns.message.make_query("spoof.miek.nl.", "TXT",
                                       use_edns=(i % 2 == 0))
            q.id = 0x4242 if i < n // 2 else i   # fixed, then counting
            wire = q.to_wire()
            c.sendto(wire, ("127.0.0.1", r.port))
            fwd, src = fake.recv_query()
            assert fwd[2:] == wire[2:], "query changed beyond its ID"
            sent_ids.append(q.id)
            backend_ids.append(int.from_bytes(fwd[:2], "big"))
            ports.add(src[1])
            fake.send(make_reply(fwd, "real"), src)
            resp = dns.message.from_wire(c.recvfrom(65535)[0])
            assert resp.id == q.id and txts(resp) == ["real"]
    finally:
        c.close()
    same = sum(1 for a, b in zip(sent_ids, backend_ids) if a == b)
    assert same <= 1, "backend saw the client's ID %d times" % same
    assert len(set(backend_ids)) >= n - 2, "IDs repeat: %s" % backend_ids
    # not a counter: consecutive differences are not all equal
    diffs = {(b - a) & 0xFFFF for a, b in zip(backend_ids, backend_ids[1:])}
    assert len(diffs) > n // 2, "IDs look sequential: %s" % backend_ids
    assert r.port not in ports


def test_source_port_toward_backends_is_renewed(fake_setup):
    """Queries to backends leave from a random port that is replaced over
    time (every 2 s): an attacker cannot learn it once and keep it. Each
    router has its own, so one client socket (one router) is used."""
    r, fake = fake_setup
    ports = []
    c = client_socket()
    deadline = time.monotonic() + 8
    try:
        while len(set(ports)) < 3 and time.monotonic() < deadline:
            q = dns.message.make_query("spoof.miek.nl.", "TXT")
            c.sendto(q.to_wire(), ("127.0.0.1", r.port))
            fwd, src = fake.recv_query()
            ports.append(src[1])
            fake.send(make_reply(fwd, "real"), src)
            resp = dns.message.from_wire(c.recvfrom(65535)[0])
            assert txts(resp) == ["real"]
            time.sleep(0.1)     # pacing a bounded probe loop, not a sync
    finally:
        c.close()
    assert len(set(ports)) >= 3, "source ports not renewed: %s" % ports
    assert r.port not in ports
    # a new port is kept for a while: not one per query
    assert len(ports) > 2 * len(set(ports))
