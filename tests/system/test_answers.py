"""Answers come back as the backend gave them: TC, EDNS, flags."""

import dns.edns
import dns.flags
import dns.rcode
import dns.rdatatype

from dnsenv import make_query, query
from helpers import txts
from zones import BIG_TXT

import dns.query


def test_large_answer_truncated_over_udp_without_edns(router):
    q = make_query("big.miek.nl.", "TXT", use_edns=False)
    r = dns.query.udp(q, "127.0.0.1", port=router.port, timeout=2,
                      raise_on_truncation=False)
    assert r.id == q.id
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.TC
    assert len(r.to_wire()) <= 512


def test_large_answer_whole_over_tcp(router):
    q = make_query("big.miek.nl.", "TXT", use_edns=False)
    r = dns.query.tcp(q, "127.0.0.1", port=router.port, timeout=2)
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.flags & dns.flags.TC
    assert sorted(txts(r)) == sorted(BIG_TXT)
    assert len(r.to_wire()) > 512


def test_large_answer_whole_over_udp_with_edns(router):
    q = make_query("big.miek.nl.", "TXT", use_edns=0, payload=4096)
    r = dns.query.udp(q, "127.0.0.1", port=router.port, timeout=2,
                      raise_on_truncation=False)
    assert not r.flags & dns.flags.TC
    assert sorted(txts(r)) == sorted(BIG_TXT)


def test_edns_option_passes_through_to_backend(router):
    """NSID in the query reaches BIND, whose reply carries its server-id:
    proof that the OPT record went through untouched both ways."""
    for name, sid in (("a.miek.nl.", b"shard-ab"), ("c.miek.nl.", b"shard-cd")):
        r = query(router.port, name, "TXT", use_edns=0, payload=1232,
                  options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
        assert r.rcode() == dns.rcode.NOERROR
        assert r.edns == 0
        nsid = [o for o in r.options if o.otype == dns.edns.NSID]
        assert len(nsid) == 1 and nsid[0].to_wire() == sid


def test_no_opt_added_to_query_without_edns(router):
    r = query(router.port, "a.miek.nl.", "TXT", use_edns=False)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.edns == -1
    assert txts(r) == ["aa"]


def test_backend_flags_and_id_kept(router):
    q = make_query("a.miek.nl.", "TXT", qid=0xBEEF)
    r = dns.query.udp(q, "127.0.0.1", port=router.port, timeout=2)
    assert r.id == 0xBEEF
    assert r.flags & dns.flags.QR
    assert r.flags & dns.flags.AA   # authoritative answer from BIND
    assert r.flags & dns.flags.RD   # echoed from the query


def test_nodata_and_nxdomain_passed_through(router):
    r = query(router.port, "a.miek.nl.", "MX")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer   # NODATA
    assert r.authority and r.authority[0].rdtype == dns.rdatatype.SOA
    # ^miek routes this name; BIND has no such name in miek.nl.
    r = query(router.port, "miek-nothing.miek.nl.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert r.authority and r.authority[0].rdtype == dns.rdatatype.SOA
