"""Zone transfers through dnsrouter: refused unless allow-transfer lets the
client in; then an AXFR (or IXFR) for the apex of a zone split into shards
returns the whole zone once, merged from one backend of each shard, SOA
first and last; shards whose serials differ give SERVFAIL, never a mixed
zone."""

import os
import re
import socket
import subprocess
import struct
import time

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone

import pytest

import procs
from dnsenv import Dnsrouter, Named, free_port, wait_for
from helpers import sanitized_build

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
from test_split import parse_output, split_on_ports

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


def shard_servers(build_dir, tmp_path, zf, origin, n):
    """zf split in n: (a BIND per shard, not started; the routes)."""
    ports, out = split_on_ports(build_dir, zf, n, tmp_path / "shards")
    named, routes = [], []
    for i, (f, _, lines) in enumerate(parse_output(out)):
        named.append(Named(tmp_path / ("shard%d" % i), ports[i],
                           {origin: open(f).read()}, querylog=False))
        routes += lines
    return named, routes


def shards_of(build_dir, tmp_path, serial, n=3):
    zf = tmp_path / "example.nl.zone"
    zf.write_text(ZONE % serial)
    return shard_servers(build_dir, tmp_path, zf, ORIGIN, n)


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


def canonical(origin, text, tmp_path, tag):
    """The zone text as named-compilezone -f text -s full writes it, sorted:
    one line per record, every name absolute."""
    src = tmp_path / ("%s.in" % tag)
    dst = tmp_path / ("%s.out" % tag)
    src.write_text(text)
    cp = subprocess.run(["named-compilezone", "-q", "-i", "none", "-f",
                         "text", "-F", "text", "-s", "full", "-o", str(dst),
                         origin, str(src)], capture_output=True, text=True,
                        timeout=600)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    with open(dst) as f:
        return sorted(line for line in f if line.strip())


def dig_axfr(port, origin, timeout=300):
    """dig's text of an AXFR through dnsrouter (both SOAs in it)."""
    cp = subprocess.run(["dig", "+tcp", "+nocomments", "+nostats", "+nocmd",
                         "-p", str(port), "@127.0.0.1", origin, "AXFR"],
                        capture_output=True, text=True, timeout=timeout)
    assert cp.returncode == 0, cp.stderr
    assert "Transfer failed" not in cp.stdout, cp.stdout[-500:]
    return cp.stdout


def same_zone(origin, original, transferred, tmp_path):
    a = canonical(origin, original, tmp_path, "original")
    b = canonical(origin, transferred, tmp_path, "transferred")
    assert a == b, (len(a), len(b), sorted(set(a) ^ set(b))[:6])
    return len(a)


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


def test_demo_zone_transfers_as_the_unsplit_zone(build_dir, tmp_path):
    """miek.nl. of the demo, split in 2 as the demo does: the AXFR through
    dnsrouter is the unsplit zone (named-compilezone, sorted)."""
    origin = "miek.nl."
    with open(os.path.join(REPO, "deploy", "zones", "miek.nl.zone")) as f:
        text = f.read()
    zf = tmp_path / "miek.nl.zone"
    zf.write_text(text)
    named, routes = shard_servers(build_dir, tmp_path, zf, origin, 2)
    r = Dnsrouter(build_dir, tmp_path / "router", free_port(), routes,
                  extra="allow-transfer 127.0.0.1\n")
    try:
        for n in named:
            n.start()
        r.start()
        r.wait_ready("a.miek.nl.", "TXT")
        n = same_zone(origin, text, dig_axfr(r.port, origin), tmp_path)
        assert n >= 10
        assert "from 2 shards, serial" in r.log()
    finally:
        stop(r, named)


def test_single_backend_transfer_of_many_messages_arrives_whole(build_dir,
                                                                 tmp_path):
    """A zone on one backend, larger than one message, relayed whole."""
    text = ZONE % 2024010101
    nd = Named(tmp_path / "whole", free_port(), {ORIGIN: text},
               querylog=False)
    r = Dnsrouter(build_dir, tmp_path / "router", free_port(),
                  ["127.0.0.1:%d,example\\.nl\\.$" % nd.port],
                  extra="allow-transfer 127.0.0.1\n")
    try:
        nd.start()
        r.start()
        r.wait_ready("ns1.example.nl.")
        cp = subprocess.run(["dig", "+tcp", "-p", str(r.port), "@127.0.0.1",
                             ORIGIN, "AXFR"], capture_output=True, text=True,
                            timeout=60)
        m = re.search(r"XFR size: (\d+) records \(messages (\d+)", cp.stdout)
        assert m, cp.stdout[-500:]
        assert int(m.group(2)) > 1, "one message only: nothing to prove"
        same_zone(ORIGIN, text, cp.stdout, tmp_path)
        assert re.search(r"from 1 shard, serial 2024010101; 0 copies",
                         r.log()), r.log()
    finally:
        stop(r, [nd])


def raw_transfer(port, timeout=60):
    """(records, messages, first and last record types) of an AXFR for
    big.nl., counted from the headers and the first record of each message
    without parsing the rest in Python."""
    q = dns.message.make_query("big.nl.", "AXFR").to_wire()
    buf = b""
    nrec = nmsg = 0
    first = last = None
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack(">H", len(q)) + q)
        while True:
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
                b = s.recv(1 << 20)
                assert b, "the transfer ended after %d records" % nrec
                buf += b
            n = struct.unpack(">H", buf[:2])[0]
            msg, buf = buf[2:2 + n], buf[2 + n:]
            assert msg[3] & 0x0f == 0, "rcode %d" % (msg[3] & 0x0f)
            nmsg += 1
            an = struct.unpack(">H", msg[6:8])[0]
            nrec += an
            m = dns.message.from_wire(msg) if first is None else None
            if m is not None:
                first = m.answer[0].rdtype
            if nmsg > 1 and len(msg) < 16384 or an == 0:
                # Ours close at about 16 KiB: a short one is the last.
                m = dns.message.from_wire(msg)
                last = m.answer[-1].rdtype if m.answer else None
                if last == dns.rdatatype.SOA:
                    return nrec, nmsg, first, last


def test_million_record_zone_streams_in_bounded_memory(build_dir, tmp_path):
    """1,000,000 records in 2 shards: merged whole through one router whose
    peak RSS stays under 64 MiB (the zone's wire form is ~30 MB)."""
    if sanitized_build(build_dir):
        pytest.skip("scale test: run on the plain build only")
    n = 1000000
    lines = ["$ORIGIN big.nl.", "$TTL 60",
             "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300",
             "@ IN NS ns1", "ns1 IN A 192.0.2.1"]
    letters = "abcdefghijklmnopqrstuvwxyz"
    lines += ['%s%d IN TXT "record %d"' % (letters[i % 26], i, i)
              for i in range(n)]
    zf = tmp_path / "big.nl.zone"
    zf.write_text("\n".join(lines) + "\n")
    named, routes = shard_servers(build_dir, tmp_path, zf, "big.nl.", 2)
    r = Dnsrouter(build_dir, tmp_path / "router", free_port(), routes,
                  workers=1, extra="allow-transfer 127.0.0.1\n")
    try:
        for nd in named:
            nd.start(timeout=120)
        r.start()
        r.wait_ready("ns1.big.nl.")
        router = procs.roles(r.pid)["router"][0]
        before = int(procs.status(router)["VmHWM"].split()[0])
        # A client that asks and does not read: the router waits for it
        # (its queue and the sockets' buffers hold what was sent).
        q = dns.message.make_query("big.nl.", "AXFR").to_wire()
        lazy = socket.socket()
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lazy.connect(("127.0.0.1", r.port))
        lazy.sendall(struct.pack(">H", len(q)) + q)
        wait_for(lambda: "transfer of big.nl. to" in r.log(), 10, 0.05,
                 "the first transfer to start")
        t0 = time.time()
        while time.time() - t0 < 2:     # an observation window, not a sync
            lazy_peak = int(procs.status(router)["VmHWM"].split()[0])
            assert lazy_peak < 64 * 1024
            time.sleep(0.1)
        lazy.close()
        wait_for(lambda: re.search(r"transfer of big\.nl\. to [0-9.:]+: the "
                                   r"client went away after \d+ records",
                                   r.log()), 15, 0.05, "the first transfer "
                 "to end when its client closed")
        nrec, nmsg, first, last = raw_transfer(r.port)
        axfr = dig_axfr(r.port, "big.nl.")
        peak = int(procs.status(router)["VmHWM"].split()[0])
        print("1,000,000-record zone: %d records in %d messages; router "
              "peak RSS %d KiB before, %d KiB with a client not reading, "
              "%d KiB after" % (nrec, nmsg, before, lazy_peak, peak))
        assert (first, last) == (dns.rdatatype.SOA, dns.rdatatype.SOA)
        assert nrec == n + 3 + 1        # the zone, and the closing SOA
        assert peak < 64 * 1024, "router peak RSS %d KiB" % peak
        assert peak - before < 8 * 1024, "grew by %d KiB" % (peak - before)
        assert same_zone("big.nl.", "\n".join(lines) + "\n", axfr,
                         tmp_path) == n + 3
    finally:
        stop(r, named)
