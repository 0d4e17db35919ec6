"""dnsrouterctl split: a real zone cut into shards that named-checkzone
accepts, served by real BIND through dnsrouter with the routes split
printed, giving the answers the whole zone gives."""

import os
import re
import subprocess

import dns.flags
import dns.name
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from dnsenv import Dnsrouter, Named, free_port, query

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ORIGIN = "example.nl."
CHECKZONE = "/usr/bin/named-checkzone"


def zone_text():
    """A zone with names under every first character, a delegation with
    glue, an empty non-terminal, a wildcard, SRV and MX targets, odd labels
    and upper case."""
    z = ["$ORIGIN example.nl.", "$TTL 3600",
         "@ IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300",
         "@ IN NS ns1", "@ IN NS ns2.elsewhere.example.",
         "@ IN MX 10 mail", '@ IN TXT "apex"',
         "ns1 IN A 192.0.2.1", "mail IN A 192.0.2.25",
         "mail IN AAAA 2001:db8::25",
         "sub IN NS ns.sub", "sub IN NS ns1", "ns.sub IN A 192.0.2.53",
         'deep.x.yy IN TXT "below an empty non-terminal"',
         '* IN TXT "wildcard"',
         "_sip._tcp IN SRV 0 0 5060 mail",
         '9lives IN TXT "nine"', '_dmarc IN TXT "v=DMARC1"',
         'Zed IN TXT "upper case"', '-dash IN TXT "leading dash"']
    for i, c in enumerate("abcdefghijklmnopqrstuvwxyz0123456789"):
        for j in range(1 + i % 4):
            z.append('%shost%d IN TXT "%s%d"' % (c, j, c, j))
            z.append("%shost%d IN A 198.51.100.%d" % (c, j, (i * 4 + j) % 250))
    return "\n".join(z) + "\n"


def split(build_dir, zonefile, *args, check=True):
    cp = subprocess.run([os.path.join(build_dir, "dnsrouterctl"), "split",
                         str(zonefile)] + [str(a) for a in args],
                        capture_output=True, text=True, timeout=30)
    if check:
        assert cp.returncode == 0, cp.stderr
    return cp


def split_on_ports(build_dir, zonefile, n, outdir, *args):
    """Split zonefile into n shards, one per backend on a free loopback
    port, given to split as --addr: (ports, split's output)."""
    ports = [free_port() for _ in range(n)]
    out = split(build_dir, zonefile, "--shards", n, "--out", outdir, *args,
                *sum((["--addr", "127.0.0.1:%d" % p] for p in ports), [])
                ).stdout
    return ports, out


def parse_output(out):
    """[(file, count, [route lines])] from split's output."""
    shards = []
    for line in out.splitlines():
        m = re.match(r"# shard \d+ of \d+: (\d+) records, names starting "
                     r"with \S+: (.*)$", line)
        if m:
            shards.append((m.group(2), int(m.group(1)), []))
        elif line and not line.startswith("#"):
            shards[-1][2].append(line)
    return shards


@pytest.fixture
def zonefile(tmp_path):
    p = tmp_path / "example.nl.zone"
    p.write_text(zone_text())
    return p


def test_every_shard_passes_named_checkzone_with_apex_soa_and_ns(
        build_dir, zonefile, tmp_path):
    out = split(build_dir, zonefile, "--shards", 3, "--out",
                tmp_path / "shards").stdout
    shards = parse_output(out)
    assert len(shards) == 3
    for f, count, routes in shards:
        cp = subprocess.run([CHECKZONE, ORIGIN, f], capture_output=True,
                            text=True)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        z = dns.zone.from_file(f, ORIGIN, relativize=False)
        apex = z.find_node(ORIGIN)
        assert apex.get_rdataset(1, dns.rdatatype.SOA) is not None
        assert len(apex.get_rdataset(1, dns.rdatatype.NS)) == 2
        # Placeholders without --addr, a shard route and the apex route.
        assert len(routes) == 2
        assert routes[1].endswith(r",^example\.nl\.$")
    # The records are spread evenly enough: no shard twice another's size.
    counts = [c for _, c, _ in shards]
    assert max(counts) < 2 * min(counts), counts


def test_each_name_lands_in_one_shard_and_the_apex_in_all(build_dir,
                                                         zonefile, tmp_path):
    out = split(build_dir, zonefile, "--shards", 4, "--out",
                tmp_path / "s").stdout
    whole = dns.zone.from_file(str(zonefile), ORIGIN, relativize=False)
    parts = [dns.zone.from_file(f, ORIGIN, relativize=False)
             for f, _, _ in parse_output(out)]
    origin = dns.name.from_text(ORIGIN)
    # Names other records point at get their addresses copied; a wildcard
    # right below the origin goes everywhere.
    copied = {dns.name.from_text(n) for n in
              ("ns1.example.nl.", "mail.example.nl.")}
    wild = dns.name.from_text("*.example.nl.")
    for name, node in whole.nodes.items():
        holders = [p for p in parts if p.get_node(name) is not None]
        if name == origin or name == wild:
            assert len(holders) == len(parts), name
        elif name in copied:
            assert len(holders) >= 1, name
        else:
            assert len(holders) == 1, name
        for p in holders:
            got = p.get_node(name)
            for rds in node.rdatasets:
                assert got.get_rdataset(rds.rdclass, rds.rdtype) == rds, \
                    (name, rds)
    # And nothing else: every record of every shard is in the whole zone.
    for p in parts:
        for name, node in p.nodes.items():
            for rds in node.rdatasets:
                assert whole.get_node(name).get_rdataset(
                    rds.rdclass, rds.rdtype) == rds


def _rrsets(section):
    """RRsets as sortable text, their records in order (servers rotate them)."""
    return sorted((r.name.to_text(), r.ttl, r.rdtype,
                   sorted(rd.to_text() for rd in r)) for r in section)


def _summary(resp):
    return (dns.rcode.to_text(resp.rcode()),
            bool(resp.flags & dns.flags.AA),
            _rrsets(resp.answer), _rrsets(resp.authority))


def test_shards_served_through_dnsrouter_answer_as_the_whole_zone(
        build_dir, zonefile, tmp_path):
    ports, out = split_on_ports(build_dir, zonefile, 3, tmp_path / "shards")
    shards = parse_output(out)
    named = [Named(tmp_path / ("shard%d" % i), ports[i],
                   {ORIGIN: open(f).read()}, server_id="shard%d" % i,
                   querylog=True)
             for i, (f, _, _) in enumerate(shards)]
    whole = Named(tmp_path / "whole", free_port(), {ORIGIN: zone_text()},
                  server_id="whole", querylog=False)
    routes = [l for _, _, lines in shards for l in lines]
    r = Dnsrouter(build_dir, tmp_path / "router", free_port(), routes)
    try:
        for n in named + [whole]:
            n.start()
        r.start()
        r.wait_ready(ORIGIN, "SOA")
        z = dns.zone.from_text(zone_text(), ORIGIN, relativize=False)
        questions = [(name.to_text(), rds.rdtype)
                     for name, node in z.nodes.items()
                     for rds in node.rdatasets]
        questions += [("nothere.example.nl.", dns.rdatatype.TXT),
                      ("a.b.nothere.example.nl.", dns.rdatatype.A),
                      ("yy.example.nl.", dns.rdatatype.TXT),
                      ("x.yy.example.nl.", dns.rdatatype.TXT),
                      ("www.sub.example.nl.", dns.rdatatype.A),
                      ("ZED.example.nl.", dns.rdatatype.TXT),
                      ("ahost0.example.nl.", dns.rdatatype.AAAA),
                      ("example.nl.", dns.rdatatype.AAAA)]
        for name, qtype in questions:
            via = query(r.port, name, qtype)
            ref = query(whole.port, name, qtype)
            assert _summary(via) == _summary(ref), (name, qtype)
        # Each name went to its shard only (and the apex to all of them).
        for i, (_, _, lines) in enumerate(shards):
            pat = re.compile(lines[0].split(",", 1)[1], re.I)
            for name, _ in questions:
                if name.lower() != ORIGIN and named[i].query_count(name):
                    assert pat.search(name.lower()), (i, name)
        assert all(n.query_count(ORIGIN) > 0 for n in named)
    finally:
        r.stop()
        for n in named + [whole]:
            n.stop()


def test_the_compose_shards_are_what_split_makes(build_dir, tmp_path):
    """deploy/zones holds the shards and routes the compose file uses:
    they must be what dnsrouterctl split makes of the zone today."""
    zones = os.path.join(REPO, "deploy", "zones")
    out = split(build_dir, os.path.join(zones, "miek.nl.zone"), "--shards",
                2, "--out", tmp_path, "--addr", "172.28.0.11:53", "--addr",
                "172.28.0.12:53").stdout
    with open(os.path.join(zones, "routes")) as f:
        committed = f.read()

    def lines(text):
        return [l for l in text.splitlines() if not l.startswith("#")]
    assert lines(out) == lines(committed)
    for k in (1, 2):
        name = "miek.nl.shard%d.zone" % k
        with open(os.path.join(zones, name)) as f, \
                open(os.path.join(tmp_path, name)) as g:
            assert f.read() == g.read(), name
        cp = subprocess.run([CHECKZONE, "miek.nl.", os.path.join(zones, name)],
                            capture_output=True, text=True)
        assert cp.returncode == 0, cp.stdout


def test_origin_option_and_relative_zone(build_dir, tmp_path):
    p = tmp_path / "rel.zone"
    p.write_text("$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"
                 'a TXT "a"\nz TXT "z"\n')
    out = split(build_dir, p, "--shards", 2, "--origin", "rel.test",
                "--out", tmp_path / "o").stdout
    shards = parse_output(out)
    assert [os.path.basename(f) for f, _, _ in shards] == \
        ["rel.test.shard1.zone", "rel.test.shard2.zone"]
    assert shards[0][2][1] == r"SHARD1_ADDR,^rel\.test\.$"
    for f, _, _ in shards:
        assert subprocess.run([CHECKZONE, "rel.test", f],
                              capture_output=True).returncode == 0


RELATIVE = ("$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"
            'a TXT "a"\nz TXT "z"\n')


@pytest.mark.parametrize("filename", ["miek.nl", "miek.nl.zone", "miek.nl.db",
                                      "db.miek.nl"])
def test_origin_from_the_file_name_when_the_soa_owner_is_relative(
        build_dir, tmp_path, filename):
    # The usual zone file: no $ORIGIN, "@" for the apex. Before, split took
    # the root for the origin: files root.shardN.zone, regexps matching
    # every top-level name.
    p = tmp_path / filename
    p.write_text(RELATIVE)
    shards = parse_output(split(build_dir, p, "--shards", 2, "--out",
                                tmp_path / "o").stdout)
    assert [os.path.basename(f) for f, _, _ in shards] == \
        ["miek.nl.shard1.zone", "miek.nl.shard2.zone"]
    assert shards[0][2][1] == r"SHARD1_ADDR,^miek\.nl\.$"
    for f, _, _ in shards:
        cp = subprocess.run([CHECKZONE, "miek.nl", f], capture_output=True,
                            text=True)
        assert cp.returncode == 0, cp.stdout


def test_an_absolute_soa_owner_is_the_origin_whatever_the_file_name(
        build_dir, tmp_path):
    p = tmp_path / "db.other.example"
    p.write_text("x.org. 60 SOA ns.x.org. h.x.org. 1 2 3 4 5\n"
                 "x.org. 60 NS ns.x.org.\nns.x.org. 60 A 192.0.2.1\n")
    shards = parse_output(split(build_dir, p, "--shards", 1, "--out",
                                tmp_path / "o").stdout)
    assert os.path.basename(shards[0][0]) == "x.org.shard1.zone"


def test_no_origin_to_be_found_stops_and_asks_for_origin(build_dir,
                                                         tmp_path):
    p = tmp_path / "rel.zone"
    p.write_text(RELATIVE)
    cp = split(build_dir, p, "--shards", 2, "--out", tmp_path / "o",
               check=False)
    assert cp.returncode == 1
    assert "give --origin" in cp.stderr and "rel.zone" in cp.stderr
    assert not os.path.exists(tmp_path / "o")
    # The root zone only when asked for.
    out = split(build_dir, p, "--shards", 1, "--origin", ".", "--out",
                tmp_path / "o").stdout
    assert "root.shard1.zone" in out


@pytest.mark.parametrize("args,rc,why", [
    (["--shards", "2"], 1, "No such file"),
    ([], 2, "usage"),
    (["--shards", "0"], 2, "--shards"),
    (["--shards", "39"], 2, "--shards"),
    (["--shards", "2", "--addr", "127.0.0.1:53"], 2, "one per shard"),
    (["--shards", "1", "--addr", "127.0.0.1"], 2, "port"),
])
def test_split_usage_errors(build_dir, tmp_path, args, rc, why):
    zf = tmp_path / "missing.zone" if "No such" in why else tmp_path / "z"
    if "No such" not in why:
        zf.write_text("$ORIGIN t.\n@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns\n"
                      "ns 60 A 192.0.2.1\n")
    cp = split(build_dir, zf, *args, check=False)
    assert cp.returncode == rc
    assert why in cp.stderr


def test_a_zone_file_with_errors_is_reported_with_its_line(build_dir,
                                                           tmp_path):
    zf = tmp_path / "bad.zone"
    zf.write_text("$ORIGIN t.\n@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns\n"
                  "ns 60 A 192.0.2.999\n")
    cp = split(build_dir, zf, "--shards", 2, check=False)
    assert cp.returncode == 1
    assert "bad.zone:" in cp.stderr
    zf.write_text('$ORIGIN t.\nns 60 A 192.0.2.1\n')
    cp = split(build_dir, zf, "--shards", 2, check=False)
    assert cp.returncode == 1 and "no SOA" in cp.stderr
