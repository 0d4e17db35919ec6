#!/usr/bin/python3
"""Route churn at 10,000 routes: queries/s, propagation and CPU per change.

    /usr/bin/python3 bench/churn.py --build BUILD_DIR [options]   (make bench)

What runs (everything on 127.0.0.1, free ports, one temporary directory,
every process started here and stopped by PID in finally blocks):

- one etcd 3.4 member (tests/system/etcdenv.py Etcd),
- one BIND 9 (query log off) serving miek.nl. with `* IN TXT "filler"`, so
  every name below gets an answer,
- dnsrouter watching etcd, once per --workers value (default 1,2).

For each worker count:

1. --routes filler routes (default 10,000) go into etcd in transactions of
   100 (`/dnsrouter/fill/NNNNN` -> `BIND,^fNNNNN\\.zz\\.miek`), and the run
   waits until the last one answers. dnsperf's query file asks TXT of
   every filler name, so each query is matched against the whole table.
2. steady: once every router has the controller's Hyperscan database of
   the fillers and after a --warmup run (4 s), dnsperf (-c/-q as bench.py)
   for --seconds (default 20): queries/s and the CPU of dnsrouter's
   processes.
3. churn under load: dnsperf again for --churn-seconds (default 60) while a
   thread makes --change-rate registration changes per second (default 10), each
   a put of a new key `/dnsrouter/churn/K` -> `BIND,^cK\\.churn\\.miek` or
   the delete of the oldest one (puts until 20 are live, then a delete
   and a put in turn). For every change a prober thread queries the
   name from the moment the change is issued until it gets the new answer
   ("filler" after a put, REFUSED after a delete), each query from a fresh
   socket waiting up to 1 s: the change's propagation time (etcd commit,
   watch, table build and publication, the Hyperscan database, a router
   taking both, and one query round trip through a saturated router).
4. churn idle: once dnsrouter's processes are quiet (less than 0.05 CPU s
   in a second: the last compile is over), the same changes for
   --idle-seconds (default 20) with no load, and until they are quiet
   again: (CPU of dnsrouter's processes from the first change to then,
   minus their CPU with nothing happening, measured over --idle-seconds
   just before and scaled to that span) / changes = CPU per change. etcd's own
   CPU is printed apart.

Targets (issue 16): churn queries/s >= 90 % of steady, propagation p99 <
1 s, and CPU per change with 2 workers no more than with 1 (within 10 %).
Exit status 1 if a change never propagated within --limit seconds.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

import bench as B
from bench import BenchError, cpu_ticks, proc_tree, run_dnsperf, CLK_TCK
from propagation import ZONE, nearest_rank

from dnsenv import Dnsrouter, Named, ProcessError, free_port  # noqa: E402
from etcdenv import Etcd, EtcdClient, answer, wait_for  # noqa: E402

LIVE_MAX = 20           # churn keys alive at once
TARGET_QPS = 0.90
TARGET_P99_MS = 1000.0
TARGET_CPU = 1.10


def dnsrouter_cpu(pids):
    return sum(cpu_ticks(p) or 0 for p in pids) / CLK_TCK


def quiet(pids, timeout=120):
    """Wait until pids use (almost) no CPU over a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c0 = dnsrouter_cpu(pids)
        time.sleep(1.0)     # the window measured, not synchronisation
        if dnsrouter_cpu(pids) - c0 < 0.05:
            return
    raise BenchError("dnsrouter still busy %gs after the churn" % timeout)


class Churner:
    """Makes rate changes per second for seconds, each with a prober."""

    def __init__(self, router, url, bind_spec, rate, seconds, limit, tag):
        self.router, self.rate, self.seconds = router, rate, seconds
        self.limit, self.tag, self.bind_spec = limit, tag, bind_spec
        self.client = EtcdClient(url, timeout=10)
        self.times, self.lost, self.changes = [], 0, 0
        self.live, self.next = [], 0
        self.lock = threading.Lock()
        self.probers = []
        self.t = threading.Thread(target=self.run, daemon=True)

    def probe(self, name, want, t0):
        deadline = t0 + self.limit
        while time.monotonic() < deadline:
            if answer(self.router.port, name, timeout=1.0) == want:
                with self.lock:
                    self.times.append((time.monotonic() - t0) * 1000.0)
                return
        with self.lock:
            self.lost += 1

    def change(self):
        if len(self.live) < LIVE_MAX:
            k = "%s%d" % (self.tag, self.next)
            self.next += 1
            key, name = "/dnsrouter/churn/" + k, "c%s.churn.miek.nl." % k
            want, act = "filler", lambda: self.client.put(
                key, "%s,^c%s\\.churn\\.miek" % (self.bind_spec, k))
            self.live.append(k)
        else:
            k = self.live.pop(0)
            key, name = "/dnsrouter/churn/" + k, "c%s.churn.miek.nl." % k
            want, act = "REFUSED", lambda: self.client.delete(key)
        t0 = time.monotonic()
        p = threading.Thread(target=self.probe, args=(name, want, t0),
                             daemon=True)
        p.start()
        self.probers.append(p)
        act()
        self.changes += 1

    def run(self):
        start = time.monotonic()
        n = int(self.rate * self.seconds)
        for i in range(n):
            at = start + i / self.rate
            d = at - time.monotonic()
            if d > 0:
                time.sleep(d)       # pacing the changes, not synchronisation
            self.change()

    def start(self):
        self.t.start()
        return self

    def join(self):
        self.t.join(self.seconds + 30)
        for p in self.probers:
            p.join(self.limit + 2)
        # the rest goes, unmeasured, so the next phase starts clean
        for k in self.live:
            self.client.delete("/dnsrouter/churn/" + k)
        self.live = []
        self.client.close()


def one(args, workers, etcd, named, tmp):
    bind_spec = "127.0.0.1:%d" % named.port
    router = Dnsrouter(args.build, os.path.join(tmp, "router%d" % workers),
                       free_port(), [], workers=workers, timeout="1000ms",
                       extra="etcd %s\nhealth-interval 5s\n" % etcd.url)
    client = EtcdClient(etcd.url, timeout=30)
    row = {"workers": workers}
    try:
        router.start()
        wait_for(lambda: "etcd: watching" in router.log(), 15, 0.05,
                 "the controller's watch")
        client.delete("/dnsrouter/", prefix=True)
        client.put_many([("/dnsrouter/fill/%05d" % i, "%s,^f%05d\\.zz\\.miek"
                          % (bind_spec, i)) for i in range(args.routes)], 100)
        last = "f%05d.zz.miek.nl." % (args.routes - 1)
        wait_for(lambda: answer(router.port, last, timeout=2) == "filler",
                 120, 0.05, "%d filler routes" % args.routes)
        # every router has the controller's database of the fillers (not
        # matching 10,000 patterns one by one meanwhile), then a warm-up
        want = "take: database of %d patterns" % args.routes
        wait_for(lambda: router.log().count(want) >= workers, 120, 0.1,
                 "the routers' Hyperscan database")
        qfile = os.path.join(tmp, "queries")
        with open(qfile, "w") as f:
            for i in range(args.routes):
                f.write("f%05d.zz.miek.nl. TXT\n" % i)
        pids = proc_tree(router.pid)
        tag = "w%d-" % workers

        run_dnsperf(args, router.port, "udp", args.warmup, qfile, tmp,
                    tag + "warmup", False)
        c0 = dnsrouter_cpu(pids)
        steady = run_dnsperf(args, router.port, "udp", args.seconds, qfile,
                             tmp, tag + "steady", False)
        c1 = dnsrouter_cpu(pids)
        ch = Churner(router, etcd.url, bind_spec, args.change_rate,
                     args.churn_seconds, args.limit, tag + "l").start()
        churn = run_dnsperf(args, router.port, "udp", args.churn_seconds,
                            qfile, tmp, tag + "churn", False)
        ch.join()
        c2 = dnsrouter_cpu(pids)

        # idle: nothing, then changes only, as long each; the baseline
        # starts once the last compile of the churn is over (the
        # processes use no CPU for a second)
        quiet(pids)
        t0, e0, i0 = (time.monotonic(), cpu_ticks(etcd.proc.pid),
                      dnsrouter_cpu(pids))
        time.sleep(args.idle_seconds)   # the baseline window, by design
        t1, e1, i1 = (time.monotonic(), cpu_ticks(etcd.proc.pid),
                      dnsrouter_cpu(pids))
        idle = Churner(router, etcd.url, bind_spec, args.change_rate,
                       args.idle_seconds, args.limit, tag + "i").start()
        idle.join()
        quiet(pids)     # the compiles the changes caused, to their end
        t2, e2, i2 = (time.monotonic(), cpu_ticks(etcd.proc.pid),
                      dnsrouter_cpu(pids))
        scale = (t2 - t1) / (t1 - t0)
        if set(proc_tree(router.pid)) != set(pids):
            raise BenchError("dnsrouter's process set changed during the "
                             "run: %s -> %s" % (pids, proc_tree(router.pid)))

        loaded = sorted(ch.times)
        row.update({
            "steady_qps": steady["qps"], "churn_qps": churn["qps"],
            "steady_cpu_100k": (c1 - c0) / max(1, steady["completed"]) * 1e5,
            "churn_cpu_100k": (c2 - c1) / max(1, churn["completed"]) * 1e5,
            "changes_load": ch.changes, "changes_idle": idle.changes,
            "lost": ch.lost + idle.lost,
            "p50_ms": statistics.median(loaded) if loaded else float("nan"),
            "p99_ms": nearest_rank(loaded, 99),
            "max_ms": loaded[-1] if loaded else float("nan"),
            "idle_p99_ms": nearest_rank(sorted(idle.times), 99),
            "base_cpu": (i1 - i0) / (t1 - t0),
            "span_cpu": (i2 - i1) / (t2 - t1),
            "cpu_per_change_ms": ((i2 - i1) - (i1 - i0) * scale) /
            max(1, idle.changes) * 1000.0,
            "etcd_cpu_per_change_ms": (((e2 or 0) - (e1 or 0)) -
                                       ((e1 or 0) - (e0 or 0)) * scale) /
            CLK_TCK / max(1, idle.changes) * 1000.0,
        })
        for r in (steady, churn):
            if r["lost"]:
                row.setdefault("notes", []).append(
                    "%d queries lost in a dnsperf run" % r["lost"])
        return row
    finally:
        client.close()
        try:
            router.stop()
        except ProcessError as e:
            print("warning: %s" % e, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="dnsrouter build dir")
    ap.add_argument("--workers", default="1,2", help="comma list (1,2)")
    ap.add_argument("--routes", type=int, default=10000)
    ap.add_argument("--change-rate", type=float, default=10,
                    help="registration changes per second (10)")
    ap.add_argument("--seconds", type=float, default=20,
                    help="steady dnsperf run, s (20)")
    ap.add_argument("--churn-seconds", type=float, default=60,
                    help="dnsperf run with churn, s (60)")
    ap.add_argument("--idle-seconds", type=float, default=20,
                    help="churn without load, and its baseline, s (20)")
    ap.add_argument("--warmup", type=float, default=4,
                    help="dnsperf run before the steady one, s (4)")
    ap.add_argument("--limit", type=float, default=10.0,
                    help="seconds a change may take before it counts as lost")
    ap.add_argument("--quick", action="store_true",
                    help="10 s runs (a smoke test, not figures)")
    B.add_dnsperf_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.seconds = args.churn_seconds = args.idle_seconds = 10
    B.require_programs(args.build)
    workers = [int(w) for w in args.workers.split(",")]

    tmp = tempfile.mkdtemp(prefix="drchurn")
    etcd = named = None
    rows = []
    try:
        etcd = Etcd(os.path.join(tmp, "etcd")).start()
        named = Named(os.path.join(tmp, "named"), free_port(),
                      {"miek.nl.": ZONE}, querylog=False).start()
        for w in workers:
            rows.append(one(args, w, etcd, named, tmp))
    except (ProcessError, BenchError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    finally:
        if named is not None:
            named.stop()
        if etcd is not None:
            etcd.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print("route churn: %d routes, %g changes/s; steady %gs, churn under "
          "load %gs, churn idle %gs (dnsperf -c %d -q %d)" % (
              args.routes, args.change_rate, args.seconds, args.churn_seconds,
              args.idle_seconds, args.clients, args.outstanding))
    B.show(["workers", "steady qps", "churn qps", "ratio", "CPU/100k st",
            "CPU/100k ch", "changes", "lost", "prop p50 ms", "prop p99 ms",
            "max ms", "idle p99", "base CPU/s", "span CPU/s", "CPU ms/chg",
            "etcd ms/chg"],
           [[str(r["workers"]), "%.0f" % r["steady_qps"],
             "%.0f" % r["churn_qps"],
             "%.3f" % (r["churn_qps"] / r["steady_qps"]),
             "%.3f" % r["steady_cpu_100k"], "%.3f" % r["churn_cpu_100k"],
             "%d+%d" % (r["changes_load"], r["changes_idle"]),
             str(r["lost"]), "%.1f" % r["p50_ms"], "%.1f" % r["p99_ms"],
             "%.1f" % r["max_ms"], "%.1f" % r["idle_p99_ms"],
             "%.3f" % r["base_cpu"], "%.3f" % r["span_cpu"],
             "%.2f" % r["cpu_per_change_ms"],
             "%.2f" % r["etcd_cpu_per_change_ms"]] for r in rows])
    for r in rows:
        for n in r.get("notes", []):
            print("note (workers %d): %s" % (r["workers"], n))
    ok = True
    for r in rows:
        q = r["churn_qps"] / r["steady_qps"]
        print("target workers=%d: churn qps >= %.0f%% of steady: %s "
              "(%.1f%%); propagation p99 < %.0f ms: %s (%.1f ms)" % (
                  r["workers"], TARGET_QPS * 100,
                  "met" if q >= TARGET_QPS else "NOT met", q * 100,
                  TARGET_P99_MS, "met" if r["p99_ms"] < TARGET_P99_MS
                  else "NOT met", r["p99_ms"]))
    by = {r["workers"]: r for r in rows}
    if 1 in by and 2 in by:
        a, b = by[1]["cpu_per_change_ms"], by[2]["cpu_per_change_ms"]
        print("target: CPU per change with 2 workers <= %.2fx 1 worker: %s "
              "(%.2f ms vs %.2f ms)" % (
                  TARGET_CPU, "met" if b <= TARGET_CPU * a else "NOT met",
                  b, a))
    for r in rows:
        ok = ok and r["lost"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
