"""Queries dnsrouter must not forward: NOTIMP, FORMERR, or no answer."""

import socket
import struct

import pytest

import dns.rcode

from dnsenv import recv_tcp_msg
from helpers import header, parse_header, question, udp_exchange_then_probe

QUERY_FLAGS = 0x0100          # RD
STATUS, IQUERY, UNASSIGNED, DSO = 2, 1, 3, 6
NOTIFY = 4                    # NOTIFY and UPDATE are routed: test_update


def exchange(router, wire, tcp):
    """Send wire; return the reply bytes (None if none within 2 s)."""
    if tcp:
        with socket.create_connection(("127.0.0.1", router.port), 2) as s:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            try:
                return recv_tcp_msg(s)
            except socket.timeout:
                return None
    others, probe = udp_exchange_then_probe(router.port, wire)
    # the probe proves the router is alive and has read our packet first
    assert probe.rcode() == dns.rcode.NOERROR
    assert len(others) <= 1, others
    return others[0] if others else None


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("opcode", [STATUS, IQUERY, UNASSIGNED, DSO],
                         ids=["status", "iquery", "unassigned", "dso"])
def test_opcode_not_query_gets_notimp(router, tcp, opcode):
    wire = header(0x1001, (opcode << 11) | QUERY_FLAGS) + \
        question("a.miek.nl.", 6)
    r = exchange(router, wire, tcp)
    assert r is not None, "no reply"
    h = parse_header(r)
    assert h["rcode"] == dns.rcode.NOTIMP
    assert h["id"] == 0x1001 and h["qr"]
    assert h["opcode"] == opcode          # RFC 1035: copied into the reply
    # RD is defined for QUERY only: BIND does not echo it (ISC's genreport
    # flags a server that does: opcodeflg=rd).
    assert not h["rd"]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_qdcount_zero_gets_formerr(router, tcp):
    r = exchange(router, header(0x2002, QUERY_FLAGS, qd=0), tcp)
    assert r is not None, "no reply"
    h = parse_header(r)
    assert (h["id"], h["qr"], h["rcode"]) == (0x2002, True, dns.rcode.FORMERR)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_qdcount_two_gets_formerr(router, tcp):
    wire = header(0x2003, QUERY_FLAGS, qd=2) + question("a.miek.nl.") + \
        question("c.miek.nl.")
    r = exchange(router, wire, tcp)
    assert r is not None, "no reply"
    h = parse_header(r)
    assert (h["id"], h["qr"], h["rcode"]) == (0x2003, True, dns.rcode.FORMERR)


@pytest.mark.parametrize("cut", [1, 5, 11, 13],
                         ids=["in-first-label", "in-name", "before-type",
                              "in-class"])
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_truncated_question_gets_formerr(router, tcp, cut):
    q = question("a.miek.nl.")       # 11 bytes of name, type, class
    wire = header(0x2004, QUERY_FLAGS) + q[:cut]
    r = exchange(router, wire, tcp)
    assert r is not None, "no reply"
    h = parse_header(r)
    assert (h["id"], h["qr"], h["rcode"]) == (0x2004, True, dns.rcode.FORMERR)


def test_name_longer_than_255_gets_formerr(router):
    name = b"".join(bytes([63]) + b"a" * 63 for _ in range(5)) + b"\0"
    wire = header(0x2005, QUERY_FLAGS) + name + struct.pack("!HH", 16, 1)
    r = exchange(router, wire, False)
    assert r is not None, "no reply"
    h = parse_header(r)
    assert (h["id"], h["qr"], h["rcode"]) == (0x2005, True, dns.rcode.FORMERR)


@pytest.mark.parametrize("length", [0, 1, 2, 11])
def test_packet_shorter_than_header_dropped(router, length):
    wire = (header(0x3003, QUERY_FLAGS) + question("a.miek.nl."))[:length]
    others, probe = udp_exchange_then_probe(router.port, wire)
    assert probe.rcode() == dns.rcode.NOERROR
    assert others == []


def test_packet_with_qr_set_dropped(router):
    # a well-formed response, as a reflection attack would send
    wire = header(0x3004, 0x8000 | 0x0400 | QUERY_FLAGS) + \
        question("a.miek.nl.")
    others, probe = udp_exchange_then_probe(router.port, wire)
    assert probe.rcode() == dns.rcode.NOERROR
    assert others == []


def test_packet_with_qr_set_and_bad_opcode_dropped(router):
    wire = header(0x3005, 0x8000 | (NOTIFY << 11)) + question("a.miek.nl.")
    others, probe = udp_exchange_then_probe(router.port, wire)
    assert probe.rcode() == dns.rcode.NOERROR
    assert others == []
