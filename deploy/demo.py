#!/usr/bin/python3
"""`make demo`: the 2014 write-up's scenario, run as local processes.

A local etcd; miek.nl. split in two shards by `dnsrouterctl split`, each
served by its own BIND; dnsrouter watching etcd; the shards registered with
`dnsrouterctl add` (the 2014 value, ip:port,regexp); the write-up's queries;
one backend stopped and started again, leaving and rejoining by health
checks alone. This is the local twin of deploy/docker-compose.yml: same
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
                      "health-fall 2\n" % etcd.url)
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
