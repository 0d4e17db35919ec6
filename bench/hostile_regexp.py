#!/usr/bin/python3
"""Queries/s of normal names with regexps written to backtrack registered
ahead of the real routes (issue: hostile clients). Two BIND shards, one
dnsrouter with the routes file of the standard split, then the same with
`^(a|a)+$` and `^(\\w|\\w)*(?<!x)$` (priority -10) put first; dnsperf sends
a mix of half c.miek.nl and half a 61-letter name the regexps choke on.
Prints both rates, the ratio, and what the controller logged about the
hostile values.

    /usr/bin/python3 bench/hostile_regexp.py --build build [--seconds 5]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

import dnsenv  # noqa: E402
import zones  # noqa: E402

HOSTILE = ['{"addr":"127.0.0.1:9","match":"^(a|a)+$","priority":-10}',
           '127.0.0.1:9,^(\\w|\\w)*(?<!x)$']


def spec(n):
    return "%s:%d" % (n.addr, n.port)


def qps(build, tmp, routes, tag, qfile, seconds):
    r = dnsenv.Dnsrouter(build, os.path.join(tmp, tag), dnsenv.free_port(),
                         routes, workers=2)
    r.start()
    try:
        r.wait_ready("c.miek.nl.", "TXT")
        out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p",
                              str(r.port), "-d", qfile, "-l", str(seconds),
                              "-c", "8"], capture_output=True, text=True,
                             timeout=seconds + 60).stdout
        rate = [float(l.split(":")[1]) for l in out.splitlines()
                if "Queries per second" in l]
        log = [l for l in r.log().splitlines()
               if "costly" in l or "match limit" in l]
    finally:
        r.stop()
    return (rate[0] if rate else 0.0), log


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="drhostile")
    a = dnsenv.Named(os.path.join(tmp, "a"), dnsenv.free_port(),
                     {zones.ORIGIN: zones.zone_ab()}, server_id="ab")
    b = dnsenv.Named(os.path.join(tmp, "b"), dnsenv.free_port(),
                     {zones.ORIGIN: zones.zone_cd()}, server_id="cd")
    a.start()
    b.start()
    try:
        qfile = os.path.join(tmp, "queries")
        with open(qfile, "w") as f:
            for i in range(1000):
                f.write("%s TXT\n" % ("a" * 61 + ".miek.nl." if i % 2
                                      else "c.miek.nl."))
        real = zones.standard_routes(spec(a), spec(b))
        base, _ = qps(build, tmp, real, "base", qfile, args.seconds)
        hostile, log = qps(build, tmp, HOSTILE + real, "hostile", qfile,
                           args.seconds)
        print("without hostile regexps: %.0f queries/s" % base)
        print("with them registered:    %.0f queries/s (%.2fx)"
              % (hostile, hostile / base if base else 0))
        for l in log:
            print("  log: " + l)
    finally:
        a.stop()
        b.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
