#!/usr/bin/python3
"""How long an etcd registration takes to route queries.

    /usr/bin/python3 bench/propagation.py --build BUILD_DIR [options]

What runs (everything on 127.0.0.1, free ports, one temporary directory,
every process stopped by PID in finally blocks):

- one etcd 3.4 member (tests/system/etcdenv.py Etcd),
- one BIND 9 (tests/system/dnsenv.py Named, query log off) serving
  miek.nl. with `*.probe IN TXT "probe"` and `* IN TXT "filler"`, so any
  probe or filler name gets an answer from it,
- dnsrouter (tests/system/dnsenv.py Dnsrouter, --workers routers) watching
  etcd, with no routes file routes.

For each table size N (--sizes, default 10 and 10,000):

1. N filler routes are written through etcd's JSON gateway in transactions
   of 100 puts (`/dnsrouter/fill/NNNNN` -> `BIND,^fNNNNN\\.zz\\.miek`;
   never matching a probe name), and the run waits until the last filler
   name is answered.
2. --probes times (default 100): a new key `/dnsrouter/probe/K` ->
   `BIND,^pK\\.probe\\.miek` is put over a keep-alive HTTP connection to the
   gateway (or with etcdctl, --via etcdctl). The clock starts just before
   the put is issued and stops at the first answer "probe" to a query for
   pK.probe.miek.nl. TXT; those queries (each from a fresh UDP socket, so
   SO_REUSEPORT spreads them over the routers) are sent back to back from
   the moment the put is issued (in a second thread), each waiting up to
   1 s, for at most --limit seconds. Before the route arrives they are
   REFUSED, so the resolution is one query round trip (a REFUSED costs a
   scan of the whole table: ~1.3 ms at 10,000 routes).
   Then the key is deleted, the run waits until the name is REFUSED again
   and paces 50 ms (the controller publishes at most one table per 20 ms,
   so a probe never waits for the deletion's table).

The figure therefore spans: etcd commit, the watch event reaching the
controller, rebuilding and publishing the table, a router decoding it and
compiling every pattern (PCRE2 JIT), and one query round trip.

Printed: per N, the median, p99 (nearest rank), min and max in ms, and
how many probes did not arrive within --limit (counted as failures, kept
out of the figures). PROP_DEBUG=1 in the environment prints every probe's
time on stderr. Exit status 1 if any probe was lost.
"""

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

from dnsenv import Dnsrouter, Named, ProcessError, free_port  # noqa: E402
from etcdenv import Etcd, EtcdClient, answer, etcdctl  # noqa: E402
from etcdenv import wait_for  # noqa: E402

ZONE = """$ORIGIN miek.nl.
$TTL 300
@       IN SOA ns.miek.nl. hostmaster.miek.nl. 1 14400 3600 604800 86400
@       IN NS  ns
ns      IN A   127.0.0.1
probe   IN TXT "probe-apex"
*.probe IN TXT "probe"
*       IN TXT "filler"
"""


def nearest_rank(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[k - 1]


class Prober:
    """Polls name until answered want, in a thread; records the time."""

    def __init__(self, port, name, want, limit):
        self.port, self.name, self.want, self.limit = port, name, want, limit
        self.t_answer = None
        self.queries = 0
        self.go = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        self.go.wait(10)
        deadline = time.monotonic() + self.limit
        while time.monotonic() < deadline:
            a = answer(self.port, self.name, timeout=1.0)
            self.queries += 1
            if a == self.want:
                self.t_answer = time.monotonic()
                return


def measure(router, etcd, client, bind_spec, probes, via, limit, tag):
    times, lost, nq = [], 0, []
    for k in range(probes):
        name = "p%s%03d.probe.miek.nl." % (tag, k)
        key = "/dnsrouter/probe/%s%03d" % (tag, k)
        value = "%s,^p%s%03d\\.probe\\.miek" % (bind_spec, tag, k)
        assert answer(router.port, name) == "REFUSED", name
        pr = Prober(router.port, name, "probe", limit)
        t0 = time.monotonic()
        pr.go.set()
        if via == "etcdctl":
            etcdctl(etcd.url, "put", key, value)
        else:
            client.put(key, value)
        pr.t.join(limit + 2)
        if pr.t_answer is None:
            lost += 1
        else:
            times.append((pr.t_answer - t0) * 1000.0)
            if os.environ.get("PROP_DEBUG"):
                print("%s %.1f ms %d queries" % (name, times[-1], pr.queries),
                      file=sys.stderr)
            nq.append(pr.queries)
        client.delete(key)
        wait_for(lambda: answer(router.port, name) == "REFUSED", 10, 0.005,
                 "%s to be REFUSED again" % name)
        time.sleep(0.05)    # pacing between probes, not synchronisation
    return times, lost, nq


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get(
        "DNSROUTER_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--sizes", default="10,10000",
                    help="routes already in the table (comma list)")
    ap.add_argument("--probes", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--via", choices=("http", "etcdctl"), default="http")
    ap.add_argument("--limit", type=float, default=10.0,
                    help="seconds a probe may take before it counts as lost")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    tmp = tempfile.mkdtemp(prefix="drprop")
    etcd = named = router = client = None
    rows = []
    try:
        etcd = Etcd(os.path.join(tmp, "etcd")).start()
        named = Named(os.path.join(tmp, "named"), free_port(),
                      {"miek.nl.": ZONE}, querylog=False).start()
        bind_spec = "127.0.0.1:%d" % named.port
        router = Dnsrouter(args.build, os.path.join(tmp, "router"),
                           free_port(), [], workers=args.workers,
                           timeout="1000ms",
                           extra="etcd %s\nhealth-interval 5s\n" % etcd.url)
        router.start()
        wait_for(lambda: "etcd: watching" in router.log(), 15, 0.05,
                 "the controller's watch")
        client = EtcdClient(etcd.url, timeout=30)
        have = 0
        for n in sizes:
            if n < have:
                client.delete("/dnsrouter/fill/", prefix=True)
                have = 0
            if n > have:
                items = [("/dnsrouter/fill/%05d" % i, "%s,^f%05d\\.zz\\.miek"
                          % (bind_spec, i)) for i in range(have, n)]
                client.put_many(items, 100)
                have = n
            last = "f%05d.zz.miek.nl." % (n - 1)
            wait_for(lambda: answer(router.port, last, timeout=2) ==
                     "filler", 120, 0.05, "%d filler routes" % n)
            t_start = time.monotonic()
            times, lost, nq = measure(router, etcd, client, bind_spec,
                                      args.probes, args.via, args.limit,
                                      "n%d-" % n)
            s = sorted(times)
            rows.append((n, len(times), lost, statistics.median(s) if s
                         else float("nan"), nearest_rank(s, 99),
                         s[0] if s else float("nan"),
                         s[-1] if s else float("nan"),
                         statistics.median(nq) if nq else 0,
                         time.monotonic() - t_start))
    except ProcessError as e:
        print("error: %s" % e, file=sys.stderr)
        if router is not None:
            print(router.log()[-3000:], file=sys.stderr)
        return 1
    finally:
        if client is not None:
            client.close()
        if router is not None:
            try:
                router.stop()
            except ProcessError as e:
                print("warning: %s" % e, file=sys.stderr)
        if named is not None:
            named.stop()
        if etcd is not None:
            etcd.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print("etcd put (%s) -> first query answered by the new route; %d "
          "probes per size, %d routers" % (args.via, args.probes,
                                           args.workers))
    print("%8s  %6s  %5s  %10s  %10s  %8s  %8s  %9s" % (
        "routes", "probes", "lost", "median ms", "p99 ms", "min ms",
        "max ms", "queries"))
    for n, got, lost, med, p99, mn, mx, q, _ in rows:
        print("%8d  %6d  %5d  %10.1f  %10.1f  %8.1f  %8.1f  %9.0f" % (
            n, got, lost, med, p99, mn, mx, q))
    print("(routes: filler routes already in the table; queries: median "
          "number of probe queries sent until the first answer)")
    return 0 if all(r[2] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
