#!/usr/bin/python3
"""`make demo`: the 2014 write-up's scenario, run as local processes.

Two BIND servers each hold one shard of miek.nl. (names a-b, names c-d, the
apex on both); dnsrouter answers on one address and routes by regexp. This
is the local twin of deploy/docker-compose.yml: same topology, no Docker.
Every process runs on 127.0.0.1 with free ports and is stopped at the end.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

from dnsenv import Dnsrouter, Named, free_port, query  # noqa: E402
import zones  # noqa: E402


def say(text=""):
    print(text, flush=True)


def dig(port, name, qtype, tcp=False):
    """Run dig like the write-up did and print what it shows."""
    cmd = ["dig", "@127.0.0.1", "-p", str(port), "+noall", "+answer",
           "+comments", "+tries=1", "+time=3", name, qtype]
    if tcp:
        cmd.insert(1, "+tcp")
    say("%% %s" % " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    for line in out.splitlines():
        if "status:" in line:
            say("    " + line.split(",")[1].strip())
        elif line and not line.startswith(";"):
            say("    " + line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="directory with dnsrouter")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="dnsrouter-demo-")
    port_a, port_b, port_r = free_port(), free_port(), free_port()
    a = Named(os.path.join(work, "bind-ab"), port_a,
              {zones.ORIGIN: zones.zone_ab()}, server_id="shard-ab")
    b = Named(os.path.join(work, "bind-cd"), port_b,
              {zones.ORIGIN: zones.zone_cd()}, server_id="shard-cd")
    addr_a, addr_b = "127.0.0.1:%d" % port_a, "127.0.0.1:%d" % port_b
    shards = ["%s,^[ab]\\.miek" % addr_a, "%s,^[cd]\\.miek" % addr_b]
    r = Dnsrouter(args.build, os.path.join(work, "dnsrouter"), port_r, shards)
    try:
        say("== two BIND backends, one shard of miek.nl. each")
        a.start()
        say("   shard a-b on %s (pid %d)" % (addr_a, a.pid))
        b.start()
        say("   shard c-d on %s (pid %d)" % (addr_b, b.pid))
        say()
        say("== dnsrouter on 127.0.0.1:%d, routes file %s:" % (port_r, r.routes_path))
        for line in shards:
            say("   " + line)
        r.start()
        r.wait_ready("a.miek.nl.", "TXT")
        say()
        dig(port_r, "a.miek.nl", "TXT")
        dig(port_r, "c.miek.nl", "TXT")
        dig(port_r, "c.miek.nl", "TXT", tcp=True)
        say()
        say("== the apex has no route yet: REFUSED")
        dig(port_r, "miek.nl", "SOA")
        say()
        say("== add two routes for the apex, one per backend, and reload (SIGHUP)")
        apex = ["%s,^miek" % addr_a, "%s,^miek" % addr_b]
        for line in apex:
            say("   " + line)
        r.write_routes(shards + apex)
        r.reload()
        deadline = time.time() + 10
        while query(port_r, "miek.nl.", "SOA").rcode() != 0:
            if time.time() > deadline:
                raise SystemExit("the apex routes did not arrive")
            time.sleep(0.05)
        dig(port_r, "miek.nl", "SOA")
        say()
        say("== round robin on the apex: which shard answered 10 TXT queries")
        seen = []
        for _ in range(10):
            resp = query(port_r, "miek.nl.", "TXT")
            seen.append(resp.answer[0][0].strings[0].decode())
        say("   " + " ".join(seen))
        say()
        say("== stop shard a-b (SIGSTOP): its names fail with SERVFAIL after the")
        say("   timeout; the apex is retried on shard c-d and still answers")
        a.pause()
        dig(port_r, "a.miek.nl", "TXT")
        dig(port_r, "miek.nl", "TXT")
        a.resume()
        say("== shard a-b resumed")
        dig(port_r, "a.miek.nl", "TXT")
        say()
        say("== a name no route matches: REFUSED")
        dig(port_r, "www.example.org", "A")
        say()
        say("demo done: stopping everything")
    finally:
        r.stop(check=False)
        b.stop()
        a.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
