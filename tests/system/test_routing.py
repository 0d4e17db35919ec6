"""Queries reach the backend whose route regexp matches the query name."""

import pytest

import dns.flags
import dns.query
import dns.rcode
import dnsenv
from dnsenv import query, wait_for
from helpers import txts


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("name,want", [
    ("a.miek.nl.", "aa"), ("b.miek.nl.", "bb"), ("c.miek.nl.", "cc")])
def test_name_routed_by_regexp_to_its_shard(router, tcp, name, want):
    r = query(router.port, name, "TXT", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR
    assert txts(r) == [want]
    assert str(r.question[0].name) == name


def test_json_route_line_routes(router):
    r = query(router.port, "d.miek.nl.", "TXT")
    assert r.rcode() == dns.rcode.NOERROR
    assert txts(r) == ["dd"]


@pytest.mark.parametrize("name,want", [
    ("e.miek.nl.", "e-from-cd"), ("ee.miek.nl.", "ee-from-cd")])
def test_regexp_holding_a_comma(router, name, want):
    # route "ip:port,^e{1,2}\.miek": the address ends at the first comma
    r = query(router.port, name, "TXT")
    assert r.rcode() == dns.rcode.NOERROR
    assert txts(r) == [want]


def test_round_robin_on_apex(router, backend_a, backend_b):
    """Two backends registered with the regexp ^miek form one route: both
    answer, each for about half the queries."""
    before = (backend_a.query_count("miek.nl."),
              backend_b.query_count("miek.nl."))
    seen = {"shard-ab": 0, "shard-cd": 0}
    n = 20
    for _ in range(n):
        r = query(router.port, "miek.nl.", "TXT")
        assert r.rcode() == dns.rcode.NOERROR
        got = txts(r)
        assert len(got) == 1 and got[0] in seen, got
        seen[got[0]] += 1
    assert seen["shard-ab"] >= 6 and seen["shard-cd"] >= 6, seen
    # The backends' own query logs agree: n queries in all, none duplicated.
    wait_for(lambda: backend_a.query_count("miek.nl.") - before[0]
             + backend_b.query_count("miek.nl.") - before[1] >= n,
             2, 0.05, "query logs")
    da = backend_a.query_count("miek.nl.") - before[0]
    db = backend_b.query_count("miek.nl.") - before[1]
    assert (da, db) == (seen["shard-ab"], seen["shard-cd"])


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_mixed_case_name_routed(router, tcp):
    r = query(router.port, "A.MiEk.NL.", "TXT", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR
    assert txts(r) == ["aa"]
    # forwarded byte for byte: the backend echoed the client's spelling
    assert r.question[0].name.to_text() == "A.MiEk.NL."


def test_upper_case_name_routed_to_other_shard(router):
    r = query(router.port, "C.MIEK.NL.", "TXT")
    assert r.rcode() == dns.rcode.NOERROR
    assert txts(r) == ["cc"]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("name", ["x.example.org.", "x.miek.nl.", "nl."])
def test_unrouted_name_refused_with_question_echoed(router, tcp, name):
    q = dnsenv.make_query(name, "A", qid=0x5A5A)
    if tcp:
        r = dns.query.tcp(q, "127.0.0.1", port=router.port, timeout=2)
    else:
        r = dns.query.udp(q, "127.0.0.1", port=router.port, timeout=2)
    assert r.rcode() == dns.rcode.REFUSED
    assert r.id == 0x5A5A
    assert r.flags & dns.flags.QR
    assert r.question == q.question
    assert not r.answer


def test_lower_priority_route_first(router):
    # ^p\.miek (priority 5, registered first) vs ^p\. (priority 1)
    r = query(router.port, "p.miek.nl.", "TXT")
    assert txts(r) == ["p-from-cd"]


def test_same_priority_first_registered_first(router):
    # ^o\.miek (registered first) vs ^o\. (registered second), both 0
    r = query(router.port, "o.miek.nl.", "TXT")
    assert txts(r) == ["o-from-ab"]
