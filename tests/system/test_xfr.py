"""Zone transfers through dnsrouter: refused unless allow-transfer lets the
client in; then an AXFR (or IXFR) for the apex of a zone split into shards
returns the whole zone once, merged from one backend of each shard, SOA
first and last; shards whose serials differ give SERVFAIL, never a mixed
zone."""

import re
import socket

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone

from dnsenv import Dnsrouter, Named, free_port, wait_for
from test_split import parse_output, split

ORIGIN = "example.nl."
# Enough records that every shard's transfer takes several messages.
ZONE = ("""$ORIGIN example.nl.
$TTL 60
@ IN SOA ns1 hostmaster %d 7200 3600 1209600 300
@ IN NS ns1
@ IN MX 10 mail
@ IN TXT "apex"
ns1 IN A 192.0.2.1
mail IN A 192.0.2.2
www IN CNAME ns1
""" + "".join('%shost%d IN TXT "%s %d with some length to it"\n'
              % (c, i, c, i) for c in "abcdmnopxyz" for i in range(300))
        + "".join("%ssrv IN MX 20 mail.example.nl.\n" % c for c in "bmx"))


def shards_of(build_dir, tmp_path, serial, n=3):
    zf = tmp_path / "example.nl.zone"
    zf.write_text(ZONE % serial)
    ports = [free_port() for _ in range(n)]
    out = split(build_dir, zf, "--shards", n, "--out", tmp_path / "shards",
                *sum((["--addr", "127.0.0.1:%d" % p] for p in ports), [])
                ).stdout
    named, routes = [], []
    for i, (f, _, lines) in enumerate(parse_output(out)):
        named.append(Named(tmp_path / ("shard%d" % i), ports[i],
                           {ORIGIN: open(f).read()}, querylog=False))
        routes += lines
    return named, routes


def start(build_dir, tmp_path, named, routes, extra):
    r = Dnsrouter(build_dir, tmp_path / "router", free_port(), routes,
                  extra=extra)
    for n in named:
        n.start()
    r.start()
    r.wait_ready("ns1.example.nl.")
    return r


def stop(r, named):
    r.stop()
    for n in named:
        n.stop()


def transfer(port, rdtype="AXFR", serial=0, timeout=10):
    """(first rcode, [rrset ...] in order) of a transfer over TCP."""
    q = dns.message.make_query(ORIGIN, rdtype)
    if rdtype == "IXFR":
        soa = dns.rrset.from_text(ORIGIN, 0, "IN", "SOA",
                                  ". . %d 0 0 0 0" % serial)
        q.authority.append(soa)
    rrsets, nsoa, rcode = [], 0, None
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        dns.query.send_tcp(s, q)
        while True:
            m, _ = dns.query.receive_tcp(s, timeout)
            if rcode is None:
                rcode = m.rcode()
            if m.rcode() != dns.rcode.NOERROR:
                return m.rcode(), rrsets
            for rr in m.answer:
                rrsets.append(rr)
                if rr.rdtype == dns.rdatatype.SOA:
                    nsoa += 1
            if nsoa >= 2 or not m.answer:
                return rcode, rrsets


def records(rrsets):
    """The set of (name, type, rdata text) a transfer carried."""
    out = set()
    for rrset in rrsets:
        for rd in rrset:
            out.add((rrset.name.to_text().lower(), rrset.rdtype,
                     rd.to_text().lower()))
    return out


def zone_records(text):
    z = dns.zone.from_text(text, ORIGIN, relativize=False)
    out = set()
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            for rd in rds:
                out.add((name.to_text().lower(), rds.rdtype,
                         rd.to_text().lower()))
    return out


def test_transfer_is_refused_without_allow_transfer(build_dir, tmp_path):
    named, routes = shards_of(build_dir, tmp_path, 2024010101)
    r = start(build_dir, tmp_path, named, routes, "")
    try:
        rcode, rrsets = transfer(r.port)
        assert rcode == dns.rcode.REFUSED and not rrsets
        # Queries go on as before.
        a = dns.query.udp(dns.message.make_query("ns1.example.nl.", "A"),
                          "127.0.0.1", port=r.port, timeout=3)
        assert a.rcode() == dns.rcode.NOERROR and a.answer
    finally:
        stop(r, named)


def test_sharded_zone_transfers_whole_and_once(build_dir, tmp_path):
    serial = 2024010101
    named, routes = shards_of(build_dir, tmp_path, serial)
    r = start(build_dir, tmp_path, named, routes,
              "allow-transfer 127.0.0.0/8\n")
    try:
        want = zone_records(ZONE % serial)
        # Each shard alone holds a part (and the apex): the merge is ours.
        for n in named:
            rc, part = transfer(n.port)
            assert rc == dns.rcode.NOERROR
            assert len(records(part)) < len(want)
        for rdtype in ("AXFR", "IXFR"):
            rcode, rrsets = transfer(r.port, rdtype, serial=serial - 1)
            assert rcode == dns.rcode.NOERROR, rdtype
            assert rrsets[0].rdtype == dns.rdatatype.SOA
            assert rrsets[-1].rdtype == dns.rdatatype.SOA
            assert rrsets[0][0].serial == serial
            got = records(rrsets)
            assert got == want, (rdtype, sorted(want - got)[:5],
                                 sorted(got - want)[:5])
            # Once: as many records as the zone, plus the closing SOA.
            assert sum(len(x) for x in rrsets) == len(want) + 1
        assert re.search(r"transfer of example\.nl\. to 127\.0\.0\.1:\d+: "
                         r"%d records in \d+ messages from 3 shards, serial "
                         r"%d; \d+ copies left out" % (len(want) + 1, serial),
                         r.log()), r.log()
        # Over UDP: "use TCP".
        u = dns.query.udp(dns.message.make_query(ORIGIN, "AXFR"),
                          "127.0.0.1", port=r.port, timeout=3)
        assert u.flags & dns.flags.TC and not u.answer
    finally:
        stop(r, named)


def test_shards_with_different_serials_give_servfail(build_dir, tmp_path):
    named, routes = shards_of(build_dir, tmp_path, 2024010101)
    r = start(build_dir, tmp_path, named, routes,
              "allow-transfer 127.0.0.1\n")
    try:
        rcode, _ = transfer(r.port)
        assert rcode == dns.rcode.NOERROR
        text = named[1].zones[ORIGIN].replace("2024010101", "2024010102")
        named[1].reload_zone(ORIGIN, text)
        q = dns.message.make_query(ORIGIN, "SOA")

        def reloaded():
            a = dns.query.tcp(q, "127.0.0.1", port=named[1].port, timeout=2)
            return a.answer and a.answer[0][0].serial == 2024010102
        wait_for(reloaded, 10, 0.05, "shard 2's new serial")
        rcode, rrsets = transfer(r.port)
        assert rcode == dns.rcode.SERVFAIL and not rrsets
        wait_for(lambda: "the shards' SOA serials differ" in r.log(), 5,
                 0.02, "the reason logged")
    finally:
        stop(r, named)
