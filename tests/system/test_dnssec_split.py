"""A signed zone split into shards validates through dnsrouter: signed with
dnssec-signzone (NSEC, and NSEC3), split in 3 by dnsrouterctl split, served
by 3 BIND servers behind dnsrouter and asked through unbound validating with
the zone's key as its trust anchor (aggressive NSEC off, so each denial is
proved by the answer itself). Every answer must be secure (AD) with the
right rcode; a shard missing one NSEC must make the resolver fail."""

import os
import re
import signal
import subprocess

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from dnsenv import Dnsrouter, Named, free_port, wait_for
from test_split import parse_output, split_on_ports

ORIGIN = "example.nl."
LETTERS = "abcdefghmnopqrsxyz05"
ZONE = """$ORIGIN example.nl.
$TTL 300
@ IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
@ IN NS ns1
@ IN MX 10 mail
ns1 IN A 192.0.2.1
mail IN A 192.0.2.2
sub IN NS ns.sub
ns.sub IN A 192.0.2.53
sub IN DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
insecure IN NS ns.insecure
ns.insecure IN A 192.0.2.54
*.wild IN TXT "wildcard"
""" + "".join('%shost%d IN TXT "%s %d"\n' % (c, i, c, i)
              for c in LETTERS for i in (1, 2, 3))

# Names that do not exist, one at least before and after every shard's
# first and last names: every character split routes, the one that sorts
# first ('-') and names past 'z' that shard 1's negated class takes.
CHARS = "-0123456789_abcdefghijklmnopqrstuvwxyz~"
MISSING = ["%snothere.example.nl." % c for c in CHARS] + \
    ["%s.example.nl." % c for c in CHARS] + \
    ["zz.example.nl.", "~x.example.nl.", "x.ahost1.example.nl.",
     "ahost1a.example.nl."]
EXISTING = [("%shost2.example.nl." % c, "TXT") for c in LETTERS] + \
    [("example.nl.", "SOA"), ("example.nl.", "MX"), ("ns1.example.nl.", "A"),
     ("sub.example.nl.", "DS")]
NODATA = [("ahost1.example.nl.", "AAAA"), ("zhost3.example.nl.", "MX"),
          ("example.nl.", "AAAA"), ("insecure.example.nl.", "DS"),
          ("ns1.example.nl.", "TXT")]
WILDCARD = ["anything.wild.example.nl.", "z.wild.example.nl."]


def sign(tmp_path, nsec3=False):
    """(signed zone file, KSK's DNSKEY record text) for ZONE."""
    d = tmp_path / ("keys3" if nsec3 else "keys")
    d.mkdir()
    (d / "example.nl.zone").write_text(ZONE)
    for extra in ([], ["-f", "KSK"]):
        subprocess.run(["dnssec-keygen", "-q", "-K", str(d), "-a",
                        "ECDSAP256SHA256", "-n", "ZONE"] + extra + [ORIGIN],
                       check=True, capture_output=True, timeout=30)
    out = d / "example.nl.signed"
    args = ["dnssec-signzone", "-q", "-S", "-K", str(d), "-d", str(d),
            "-o", ORIGIN,
            "-f", str(out)]
    if nsec3:
        args += ["-3", "-", "-H", "0"]
    subprocess.run(args + [str(d / "example.nl.zone")], check=True,
                   capture_output=True, timeout=60)
    ksk = None
    for f in os.listdir(d):
        if f.endswith(".key"):
            text = open(d / f).read()
            for line in text.splitlines():
                if "DNSKEY 257" in line:
                    ksk = line.split(None, 0)[0]
    assert ksk is not None
    return out, ksk


class Unbound:
    """unbound validating with one trust anchor, example.nl. stubbed to
    dnsrouter."""

    def __init__(self, workdir, port, stub_port, anchor):
        self.workdir = str(workdir)
        self.port = port
        os.makedirs(self.workdir, exist_ok=True)
        self.conf = os.path.join(self.workdir, "unbound.conf")
        with open(self.conf, "w") as f:
            f.write("""server:
  interface: 127.0.0.1
  port: %d
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "%s"
  pidfile: "%s/unbound.pid"
  use-syslog: no
  logfile: "%s/unbound.log"
  verbosity: 1
  val-log-level: 2
  do-ip6: no
  do-not-query-localhost: no
  aggressive-nsec: no
  qname-minimisation: no
  trust-anchor: "%s"
  module-config: "validator iterator"
stub-zone:
  name: "example.nl."
  stub-addr: 127.0.0.1@%d
""" % (port, self.workdir, self.workdir, self.workdir, anchor, stub_port))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["unbound", "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

        def up():
            assert self.proc.poll() is None, self.log()
            try:
                dns.query.udp(dns.message.make_query("version.bind.", "TXT",
                                                     "CH"),
                              "127.0.0.1", port=self.port, timeout=0.3)
                return True
            except Exception:
                return False
        wait_for(up, 15, 0.05, "unbound on port %d" % self.port)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self):
        try:
            with open(os.path.join(self.workdir, "unbound.log")) as f:
                return f.read()
        except OSError:
            return ""

    def ask(self, name, rdtype):
        q = dns.message.make_query(name, rdtype, want_dnssec=True)
        q.flags |= dns.flags.AD
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=10)


def start(build_dir, tmp_path, signed, ksk, tag):
    ports, out = split_on_ports(build_dir, signed, 3,
                                tmp_path / ("shards" + tag), "--origin",
                                ORIGIN)
    shards = parse_output(out)
    named, routes = [], []
    for i, (f, _, lines) in enumerate(shards):
        cp = subprocess.run(["named-checkzone", ORIGIN, f],
                            capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, cp.stdout
        named.append(Named(tmp_path / ("shard%s%d" % (tag, i)), ports[i],
                           {ORIGIN: open(f).read()}, querylog=False))
        routes += lines
    r = Dnsrouter(build_dir, tmp_path / ("router" + tag), free_port(), routes)
    u = Unbound(tmp_path / ("unbound" + tag), free_port(), r.port, ksk)
    for n in named:
        n.start()
    r.start()
    r.wait_ready("ns1.example.nl.")
    u.start()
    return out, shards, named, r, u


def stop(named, r, u):
    u.stop()
    r.stop()
    for n in named:
        n.stop()


def check_all(u):
    """Every probe: [(name, type, problem)] for those that were not right."""
    bad = []

    def want(name, rdtype, rcode, answer):
        a = u.ask(name, rdtype)
        if a.rcode() != rcode or not a.flags & dns.flags.AD or \
                bool(a.answer) != answer:
            bad.append((name, rdtype, dns.rcode.to_text(a.rcode()),
                        "AD" if a.flags & dns.flags.AD else "no AD",
                        len(a.answer)))
    for name, t in EXISTING:
        want(name, t, dns.rcode.NOERROR, True)
    for name in MISSING:
        want(name, "TXT", dns.rcode.NXDOMAIN, False)
    for name, t in NODATA:
        want(name, t, dns.rcode.NOERROR, False)
    for name in WILDCARD:
        want(name, "TXT", dns.rcode.NOERROR, True)
    return bad


@pytest.mark.parametrize("nsec3", [False, True], ids=["nsec", "nsec3"])
def test_signed_zone_split_validates_through_dnsrouter(build_dir, tmp_path,
                                                        nsec3):
    signed, ksk = sign(tmp_path, nsec3)
    out, shards, named, r, u = start(build_dir, tmp_path, signed, ksk, "")
    try:
        bad = check_all(u)
        assert not bad, (bad, u.log()[-3000:])
        # delv, validating by itself against dnsrouter, agrees on a sample.
        owner, _, rest = ksk.partition(" ")
        flags, proto, alg, key = rest.split("DNSKEY", 1)[1].split(None, 3)
        anchors = tmp_path / "anchors.conf"
        anchors.write_text('trust-anchors { "%s" static-key %s %s %s "%s"; };\n'
                           % (ORIGIN, flags, proto, alg,
                              key.replace(" ", "")))
        for name, t, status in (("ahost2.example.nl.", "TXT", "NOERROR"),
                                ("~x.example.nl.", "TXT", "NXDOMAIN"),
                                ("p.example.nl.", "TXT", "NXDOMAIN"),
                                ("any.wild.example.nl.", "TXT", "NOERROR")):
            cp = subprocess.run(["delv", "-a", str(anchors), "+root=" + ORIGIN,
                                 "@127.0.0.1", "-p", str(r.port), name, t],
                                capture_output=True, text=True, timeout=30)
            text = cp.stdout + cp.stderr
            if status == "NXDOMAIN":
                assert "; negative response, fully validated" in text and \
                    "NXDOMAIN" in text, (name, text)
            else:
                assert text.startswith("; fully validated"), (name, text)
        if nsec3:
            assert "the whole NSEC3 chain" in out
        else:
            assert "NSEC records" in out and "of names in other shards" in out
    finally:
        stop(named, r, u)


def test_shard_missing_an_nsec_fails_validation(build_dir, tmp_path):
    """The test can fail: take out of shard 2 the NSEC, owned by the last
    name of shard 1, that denies names sorting before shard 2's first."""
    signed, ksk = sign(tmp_path)
    out, shards, named, r, u = start(build_dir, tmp_path, signed, ksk, "")
    try:
        assert not check_all(u)
        origin = dns.name.from_text(ORIGIN)
        z = dns.zone.from_file(str(signed), ORIGIN, relativize=False)
        lo, hi = re.search(r"\[(.)-(.)\]", shards[1][2][0]).groups()
        mine = sorted(n for n in z.nodes if n != origin and
                      lo <= n.labels[-4][:1].decode().lower() <= hi)
        first2 = mine[0]
        prev = max(n for n, node in z.nodes.items()
                   if n < first2 and node.get_rdataset(dns.rdataclass.IN,
                                                       dns.rdatatype.NSEC))
        # Sorts after prev and before first2; routed to shard 2.
        name = dns.name.Name([first2.labels[0][:1]]) + origin
        assert prev < name < first2
        with open(shards[1][0]) as f:
            text = f.read()

        def is_prev_nsec(line):
            f = line.split()
            return len(f) > 4 and dns.name.from_text(f[0]) == prev and \
                (f[3] == "NSEC" or (f[3] == "RRSIG" and f[4] == "NSEC"))
        kept = [l for l in text.splitlines() if not is_prev_nsec(l)]
        assert len(kept) < len(text.splitlines()), "shard 2 had no copy"
        named[1].reload_zone(ORIGIN, "\n".join(kept) + "\n")
        q = dns.message.make_query(name, "TXT", want_dnssec=True)

        def reloaded():
            a = dns.query.udp(q, "127.0.0.1", port=named[1].port, timeout=2)
            return not any(rr.rdtype == dns.rdatatype.NSEC and
                           rr.name == prev for rr in a.authority)
        wait_for(reloaded, 10, 0.05, "shard 2 without the NSEC")
        # A resolver with nothing cached: the denial no longer validates.
        u.stop()
        u = Unbound(tmp_path / "unbound-fresh", free_port(), r.port, ksk)
        u.start()
        a = u.ask(name.to_text(), "TXT")
        assert a.rcode() == dns.rcode.SERVFAIL, dns.rcode.to_text(a.rcode())
    finally:
        stop(named, r, u)
