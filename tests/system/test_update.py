"""Dynamic updates through dnsrouter: an UPDATE goes to the primary of the
one shard its names route to, TSIG and all (nsupdate -y); updates that
would touch several shards, or the apex every shard holds, are REFUSED
with the reason logged. NOTIFY is routed like a query."""

import base64
import json
import subprocess

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode

from dnsenv import Dnsrouter, Named, free_port, wait_for
from test_split import parse_output, split_on_ports

ORIGIN = "example.nl."
ZONE = """$ORIGIN example.nl.
$TTL 60
@ IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
""" + "".join('%shost IN TXT "%s"\n' % (c, c) for c in "abcdmnopxyz")
SECRET = base64.b64encode(b"dnsrouter-test-update-key-32byte").decode()
KEY = 'key "upd" { algorithm hmac-sha256; secret "%s"; };' % SECRET


def start_shards(build_dir, tmp_path, primary_flag=True):
    """2 shards, each a primary (takes updates signed with KEY) and a
    replica (takes none); routes with "primary": true on the primaries."""
    zf = tmp_path / "example.nl.zone"
    zf.write_text(ZONE)
    ports, out = split_on_ports(build_dir, zf, 2, tmp_path / "shards")
    named, routes = [], []
    for i, (f, _, lines) in enumerate(parse_output(out)):
        text = open(f).read()
        primary = Named(tmp_path / ("primary%d" % i), ports[i], {ORIGIN: text},
                        querylog=False, conf_extra=KEY,
                        zone_options='allow-update { key "upd"; }; ')
        replica = Named(tmp_path / ("replica%d" % i), free_port(),
                        {ORIGIN: text}, querylog=False)
        named += [primary, replica]
        for line in lines:
            addr, _, regexp = line.partition(",")
            routes.append(json.dumps({"addr": addr, "match": regexp,
                                      "primary": primary_flag}))
            routes.append("127.0.0.1:%d,%s" % (replica.port, regexp))
    r = Dnsrouter(build_dir, tmp_path / "router", free_port(), routes)
    for n in named:
        n.start()
    r.start()
    r.wait_ready("ns1.example.nl.")
    return r, named


def stop(r, named):
    r.stop()
    for n in named:
        n.stop()


def nsupdate(port, commands, tcp=False, key=True):
    script = "server 127.0.0.1 %d\nzone %s\n%s\nsend\n" % (port, ORIGIN,
                                                           commands)
    args = ["nsupdate"] + (["-v"] if tcp else [])
    if key:
        args += ["-y", "hmac-sha256:upd:%s" % SECRET]
    return subprocess.run(args, input=script, capture_output=True,
                          text=True, timeout=30)


def txt(port, name):
    a = dns.query.udp(dns.message.make_query(name, "TXT"), "127.0.0.1",
                      port=port, timeout=3)
    return a.rcode(), [r.to_text() for rr in a.answer for r in rr]


def test_update_goes_to_the_shards_primary(build_dir, tmp_path):
    r, named = start_shards(build_dir, tmp_path)
    p1, rep1, p2, rep2 = named
    try:
        for tcp in (False, True):
            name = "anew%d.example.nl." % tcp
            cp = nsupdate(r.port, "update add %s 60 TXT \"added\"" % name,
                          tcp=tcp)
            assert cp.returncode == 0, cp.stderr
            # On shard 1's primary, and on nothing else.
            assert txt(p1.port, name) == (dns.rcode.NOERROR, ['"added"'])
            for other in (rep1, p2, rep2):
                assert txt(other.port, name)[1] == []
        # And deleted again, through dnsrouter.
        cp = nsupdate(r.port, "update delete anew0.example.nl. TXT")
        assert cp.returncode == 0, cp.stderr
        assert txt(p1.port, "anew0.example.nl.")[1] == []
        assert txt(p1.port, "anew1.example.nl.")[1] == ['"added"']
        # A name of the second shard goes to its primary.
        cp = nsupdate(r.port, 'update add znew.example.nl. 60 TXT "z"')
        assert cp.returncode == 0, cp.stderr
        assert txt(p2.port, "znew.example.nl.")[1] == ['"z"']
        assert txt(p1.port, "znew.example.nl.")[1] == []
        # Unsigned: the primary refuses, and its answer comes back.
        cp = nsupdate(r.port, 'update add bnew.example.nl. 60 TXT "b"',
                      key=False)
        assert cp.returncode != 0 and "REFUSED" in cp.stdout + cp.stderr
    finally:
        stop(r, named)


def test_updates_one_shard_cannot_take_are_refused(build_dir, tmp_path):
    r, named = start_shards(build_dir, tmp_path)
    try:
        cp = nsupdate(r.port, 'update add anew.example.nl. 60 TXT "a"\n'
                      'update add znew.example.nl. 60 TXT "z"')
        assert cp.returncode != 0 and "REFUSED" in cp.stdout + cp.stderr
        wait_for(lambda: "names in more than one shard: znew.example.nl."
                 in r.log(), 5, 0.02, "the reason logged")
        cp = nsupdate(r.port, 'update add example.nl. 60 TXT "apex"')
        assert cp.returncode != 0 and "REFUSED" in cp.stdout + cp.stderr
        wait_for(lambda: "the apex of a sharded zone" in r.log(), 5, 0.02,
                 "the apex reason logged")
        for n in named:
            assert txt(n.port, "anew.example.nl.")[1] == []
            assert txt(n.port, "example.nl.")[1] == []
    finally:
        stop(r, named)


def test_shard_of_replicas_without_a_primary_refuses(build_dir, tmp_path):
    r, named = start_shards(build_dir, tmp_path, primary_flag=False)
    try:
        cp = nsupdate(r.port, 'update add anew.example.nl. 60 TXT "a"')
        assert cp.returncode != 0 and "REFUSED" in cp.stdout + cp.stderr
        wait_for(lambda: "no primary: shard 1 has 2 backends and none "
                 "registered as primary" in r.log(), 5, 0.02, "the reason")
    finally:
        stop(r, named)


def test_notify_is_routed_and_an_unknown_zone_is_notauth(build_dir, tmp_path):
    r, named = start_shards(build_dir, tmp_path)
    try:
        for zone, want in ((ORIGIN, dns.rcode.NOERROR),
                           ("example.org.", dns.rcode.NOTAUTH)):
            q = dns.message.make_query(zone, "SOA")
            q.set_opcode(dns.opcode.NOTIFY)
            q.flags |= dns.flags.AA
            q.flags &= ~dns.flags.RD
            a = dns.query.udp(q, "127.0.0.1", port=r.port, timeout=3)
            assert a.opcode() == dns.opcode.NOTIFY
            assert a.rcode() == want, (zone, dns.rcode.to_text(a.rcode()))
    finally:
        stop(r, named)
