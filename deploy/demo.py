#!/usr/bin/python3
"""`make demo`: the 2014 write-up's scenario, run as local processes.

A local etcd; miek.nl. split in two shards by `dnsrouterctl split`, each
served by its own BIND; dnsrouter watching etcd; the shards registered with
`dnsrouterctl add` (the 2014 value, ip:port,regexp); the write-up's queries;
one backend stopped and started again, leaving and rejoining by health
checks alone; then the zone transferred whole through dnsrouter, and
miek.nl. signed, split without keys and validated by delv through
dnsrouter. This is the local twin of deploy/docker-compose.yml: same
topology, no Docker. Everything runs on 127.0.0.1 with free ports and is
stopped (by PID) and removed at the end.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

from dnsenv import Dnsrouter, Named, free_port, query, wait_for  # noqa: E402
from etcdenv import Etcd  # noqa: E402

ZONE = os.path.join(HERE, "zones", "miek.nl.zone")
ORIGIN = "miek.nl."


def say(text=""):
    print(text, flush=True)


def dig(port, name, qtype):
    """Run dig as the write-up did and print what it shows."""
    cmd = ["dig", "@127.0.0.1", "-p", str(port), "+noall", "+answer",
           "+comments", "+tries=1", "+time=3", qtype, name]
    say("% " + " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=10).stdout
    for line in out.splitlines():
        if "status:" in line:
            say("    " + line.split(",")[1].strip())
        elif line and not line.startswith(";"):
            say("    " + line)


class Ctl:
    """dnsrouterctl against the demo's etcd and dnsrouter."""

    def __init__(self, build, conf, etcd_url):
        self.bin = os.path.join(build, "dnsrouterctl")
        self.conf = conf
        self.env = dict(os.environ, ETCD_MACHINES=etcd_url)

    def run(self, *args, show=True):
        cmd = [self.bin, "-f", self.conf] + list(args)
        if show:
            say("% dnsrouterctl " + " ".join(
                "'%s'" % a if any(c in a for c in "\\^$|([") else a
                for a in args))
        cp = subprocess.run(cmd, capture_output=True, text=True,
                            env=self.env, timeout=20)
        if cp.returncode != 0:
            raise SystemExit("dnsrouterctl %s failed:\n%s%s"
                             % (" ".join(args), cp.stdout, cp.stderr))
        if show:
            for line in cp.stdout.splitlines():
                say("    " + line)
        return cp.stdout

    def status(self):
        return json.loads(self.run("status", "--json", show=False))

    def wait_backend(self, addr, up, timeout=15):
        def seen():
            for b in self.status().get("backends", []):
                if b["addr"] == addr and b["up"] == up:
                    return True
            return False
        wait_for(seen, timeout, 0.1, "%s to be %s" % (addr,
                                                      "up" if up else "down"))


def axfr(port):
    cmd = ["dig", "@127.0.0.1", "-p", str(port), "+tcp", "AXFR", ORIGIN]
    say("% " + " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=30).stdout
    records = [l for l in out.splitlines() if l and not l.startswith(";")]
    soas = [l for l in records if "\tSOA\t" in l]
    say("    %d records, SOA first and last: %s" % (
        len(records), bool(records) and records[0] in soas and
        records[-1] in soas))
    for line in out.splitlines():
        if line.startswith(";; XFR size"):
            say("    " + line.lstrip("; "))


def signed_split(build, work, ctl, a, b, addr_a, addr_b, port_r):
    """Sign miek.nl., split the signed zone, serve it, validate with delv."""
    say("== a signed miek.nl.: signed, split without keys, validated")
    d = os.path.join(work, "signed")
    os.makedirs(d)
    for extra in ([], ["-f", "KSK"]):
        subprocess.run(["dnssec-keygen", "-q", "-K", d, "-a",
                        "ECDSAP256SHA256", "-n", "ZONE"] + extra + [ORIGIN],
                       check=True, capture_output=True, timeout=30)
    signed = os.path.join(d, "miek.nl.signed")
    cmd = ["dnssec-signzone", "-q", "-S", "-K", d, "-d", d, "-o", ORIGIN,
           "-f", signed, ZONE]
    say("% dnssec-keygen ...; dnssec-signzone -S -o miek.nl. -f "
        "miek.nl.signed miek.nl.zone")
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    out = ctl.run("split", signed, "--origin", ORIGIN, "--shards", "2",
                  "--out", os.path.join(d, "shards"), "--addr", addr_a,
                  "--addr", addr_b)
    files = [l.rsplit(": ", 1)[1] for l in out.splitlines()
             if l.startswith("# shard ")]
    lines = [l for l in out.splitlines() if l and not l.startswith("#")]
    # The signed records move the balance: register what split says now.
    ctl.run("del", addr_a)
    ctl.run("del", addr_b)
    for line in lines:
        addr, regexp = line.split(",", 1)
        ctl.run("add", addr, regexp, show=False)
    a.reload_zone(ORIGIN, open(files[0]).read())
    b.reload_zone(ORIGIN, open(files[1]).read())
    ksk = None
    for f in os.listdir(d):
        if f.endswith(".key"):
            for line in open(os.path.join(d, f)):
                if " 257 " in line and "DNSKEY" in line:
                    ksk = line.split("DNSKEY", 1)[1].split(None, 3)
    anchors = os.path.join(d, "anchors.conf")
    with open(anchors, "w") as f:
        f.write('trust-anchors { "%s" static-key %s %s %s "%s"; };\n'
                % (ORIGIN, ksk[0], ksk[1], ksk[2], ksk[3].replace(" ", "")
                   .strip()))

    def validated(name, qtype):
        cmd = ["delv", "-a", anchors, "+root=" + ORIGIN, "@127.0.0.1", "-p",
               str(port_r), name, qtype]
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (cp.stdout + cp.stderr).splitlines()[:1]

    # Wait until both shards serve the signed zone through dnsrouter.
    wait_for(lambda: validated("a.miek.nl.", "TXT") == ["; fully validated"]
             and validated("c.miek.nl.", "TXT") == ["; fully validated"],
             30, 0.2, "the signed shards behind dnsrouter")
    for name, qtype in (("a.miek.nl.", "TXT"), ("c.miek.nl.", "TXT"),
                        ("bz.miek.nl.", "TXT"), ("~x.miek.nl.", "TXT")):
        say("% delv -a anchors.conf +root=miek.nl. @127.0.0.1 -p " +
            "%d %s %s" % (port_r, name, qtype))
        say("    " + " ".join(validated(name, qtype)))
    say("   (~x. sorts after every name and routes to shard 1; the NSEC that")
    say("   denies it is owned by shard 2's last name: split copied it)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="directory with dnsrouter")
    args = ap.parse_args()
    build = os.path.abspath(args.build)

    work = tempfile.mkdtemp(prefix="dnsrouter-demo-")
    port_a, port_b, port_r = free_port(), free_port(), free_port()
    addr_a, addr_b = "127.0.0.1:%d" % port_a, "127.0.0.1:%d" % port_b
    etcd = Etcd(os.path.join(work, "etcd"))
    a = b = r = None
    try:
        say("== a local etcd")
        etcd.start()
        say("   %s (pid %d)" % (etcd.url, etcd.pid))
        say()
        say("== split %s in two shards (what 2014 did by hand with ldns-zsplit)"
            % os.path.relpath(ZONE))
        shards = os.path.join(work, "shards")
        ctl = Ctl(build, os.path.join(work, "dnsrouter", "dnsrouter.conf"),
                  etcd.url)
        out = ctl.run("split", ZONE, "--shards", "2", "--out", shards,
                      "--addr", addr_a, "--addr", addr_b)
        files, lines = [], []
        for line in out.splitlines():
            if line.startswith("# shard "):
                files.append(line.rsplit(": ", 1)[1])
            elif line and not line.startswith("#"):
                lines.append(line)
        for f in files:
            cp = subprocess.run(["named-checkzone", ORIGIN, f],
                                capture_output=True, text=True)
            say("% named-checkzone miek.nl. " + os.path.basename(f))
            say("    " + cp.stdout.strip().splitlines()[-1])
        say()
        say("== two BIND backends, one shard each")
        a = Named(os.path.join(work, "bind-ab"), port_a,
                  {ORIGIN: open(files[0]).read()}, server_id="shard-ab")
        b = Named(os.path.join(work, "bind-cd"), port_b,
                  {ORIGIN: open(files[1]).read()}, server_id="shard-cd")
        a.start()
        say("   shard 1 on %s (pid %d)" % (addr_a, a.pid))
        b.start()
        say("   shard 2 on %s (pid %d)" % (addr_b, b.pid))
        say()
        say("== dnsrouter on 127.0.0.1:%d, watching etcd, no routes yet"
            % port_r)
        r = Dnsrouter(build, os.path.join(work, "dnsrouter"), port_r, [],
                      extra="etcd %s\nhealth-interval 500ms\nhealth-rise 2\n"
                      "health-fall 2\nallow-transfer 127.0.0.1\n" % etcd.url)
        r.start()
        wait_for(lambda: "etcd: watching" in r.log(), 15, 0.05,
                 "dnsrouter to watch etcd")
        say()
        say("== register the two shards in etcd (the 2014 value: ip:port,regexp)")
        shard_lines = [l for l in lines if "(^|" in l]
        apex_lines = [l for l in lines if l not in shard_lines]
        for line in shard_lines:
            addr, regexp = line.split(",", 1)
            ctl.run("add", addr, regexp)
        r.wait_ready("a.miek.nl.", "TXT")
        r.wait_ready("c.miek.nl.", "TXT")
        say()
        dig(port_r, "a.miek.nl", "TXT")
        dig(port_r, "c.miek.nl", "TXT")
        say()
        say("== the apex has no route yet: REFUSED")
        dig(port_r, "miek.nl", "SOA")
        say()
        say("== add a route for the apex on each shard: one regexp, one route,")
        say("   round robin between the two")
        for line in apex_lines:
            addr, regexp = line.split(",", 1)
            ctl.run("add", addr, regexp)
        r.wait_ready("miek.nl.", "SOA")
        dig(port_r, "miek.nl", "SOA")
        before = (a.query_count(ORIGIN), b.query_count(ORIGIN))
        for _ in range(10):
            query(port_r, ORIGIN, "SOA")
        say("   10 more SOA queries: shard 1 answered %d, shard 2 answered %d"
            % (a.query_count(ORIGIN) - before[0],
               b.query_count(ORIGIN) - before[1]))
        say()
        ctl.run("list")
        say()
        ctl.run("status")
        say()
        say("== which route answers a name, and why: one of each shard, the apex")
        for name in ("a.miek.nl", "x.miek.nl", "miek.nl"):
            ctl.run("route", name)
        say()
        say("== stop shard 1: health checks take it out of rotation")
        a.stop()
        ctl.wait_backend(addr_a, False)
        dig(port_r, "a.miek.nl", "TXT")
        dig(port_r, "miek.nl", "SOA")
        say("   (its names: SERVFAIL; the apex: answered by shard 2)")
        ctl.run("status")
        say()
        say("== start shard 1 again: back in rotation by health checks alone,")
        say("   without registering again (the 2014 tool needed a new etcd write)")
        a.start()
        ctl.wait_backend(addr_a, True)
        r.wait_ready("a.miek.nl.", "TXT")
        dig(port_r, "a.miek.nl", "TXT")
        ctl.run("status")
        say()
        say("== a name no route matches: REFUSED")
        dig(port_r, "www.example.org", "A")
        say()
        say("== the zone transfer through dnsrouter: both shards merged, the")
        say("   apex once (allow-transfer 127.0.0.1 in dnsrouter.conf)")
        axfr(port_r)
        say()
        signed_split(build, work, ctl, a, b, addr_a, addr_b, port_r)
        say()
        say("demo done: stopping everything")
    finally:
        if r is not None:
            r.stop(check=False)
        for n in (b, a):
            if n is not None:
                n.stop()
        etcd.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
