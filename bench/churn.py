#!/usr/bin/python3
"""Route churn at 10,000 routes: queries/s, propagation and CPU per change.

    /usr/bin/python3 bench/churn.py --build BUILD_DIR [options]   (make bench)

What runs (everything on 127.0.0.1, free ports, one temporary directory,
every process started here and stopped by PID in finally blocks):

- one etcd 3.4 member (tests/system/etcdenv.py Etcd),
- one BIND 9 (query log off) serving miek.nl. with `* IN TXT "filler"`, so
  every name below gets an answer,
- dnsrouter watching etcd, once per --workers value (default 1,2).

One dnsrouter per --workers value, all started at once, each watching its
own etcd prefix (`etcd-prefix /dnsrouter/wN/`), so that a change can go to
one of them or to all of them in one transaction:

1. --routes filler routes (default 10,000) go into each prefix in
   transactions of 100 (`fill/NNNNN` -> `BIND,^fNNNNN\\.zz\\.miek`), and
   the run waits until the last one answers and every router has the
   controller's Hyperscan database of them. dnsperf's query file asks TXT
   of every filler name, so each query is matched against the whole
   table.
2. For each dnsrouter in turn (the others idle, their prefixes untouched):
   steady: after a --warmup run (4 s), dnsperf (-c/-q as bench.py) for
   --seconds (default 20): queries/s and the CPU of its processes.
3. churn under load: dnsperf again for --churn-seconds (default 60) while a
   thread makes --change-rate registration changes per second (default
   10) in its prefix, each a put of a new key `churn/K` ->
   `BIND,^cK\\.churn\\.miek` or the delete of the oldest one (puts until
   20 are live, then a delete and a put in turn). For every change a
   prober thread queries the name from the moment the change is issued
   until it gets the new answer ("filler" after a put, REFUSED after a
   delete), each query from a fresh socket waiting up to 1 s, 5 ms between
   them: the
   change's propagation time (etcd commit, watch, table build and
   publication, a router taking it, and one query round trip through a
   saturated router).
4. churn idle, every dnsrouter at once, --idle-rounds times (default 3):
   once they are all quiet (less than 0.05 CPU s in a second), their CPU
   over --idle-seconds (default 20) with nothing happening, then the same
   changes for --idle-seconds with no load, each change one transaction
   for every prefix (and a prober per dnsrouter), until they are quiet
   again. (CPU of a dnsrouter's processes from the first change to then,
   minus its CPU with nothing happening scaled to that span) / changes =
   its CPU per change. Measured side by side over the same span, the
   dnsrouters see the same changes at the same moments and the same
   machine noise, so their ratio is the figure (the medians of the rounds
   are printed, with each round's ratio). etcd's own CPU is printed
   apart.

Targets (issue 16): churn queries/s >= 90 % of steady, propagation p99 <
1 s, and CPU per change with 2 workers no more than with 1 (within 10 %,
the median of the rounds' ratios).
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
from etcdenv import Etcd, EtcdClient, answer, b64, wait_for  # noqa: E402

LIVE_MAX = 20           # churn keys alive at once
PROBE_GAP = 0.005       # s between a prober's queries
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
    """Makes rate changes per second for seconds, each with a prober per
    target: every change goes to the prefix of each (router, prefix) target
    in one etcd transaction."""

    def __init__(self, targets, url, bind_spec, rate, seconds, limit, tag):
        self.targets, self.rate, self.seconds = targets, rate, seconds
        self.limit, self.tag, self.bind_spec = limit, tag, bind_spec
        self.client = EtcdClient(url, timeout=10)
        self.times = {id(r): [] for r, _ in targets}
        self.lost, self.changes = 0, 0
        self.live, self.next = [], 0
        self.lock = threading.Lock()
        self.probers = []
        self.t = threading.Thread(target=self.run, daemon=True)

    def probe(self, router, name, want, t0):
        deadline = t0 + self.limit
        while time.monotonic() < deadline:
            if answer(router.port, name, timeout=1.0) == want:
                with self.lock:
                    self.times[id(router)].append(
                        (time.monotonic() - t0) * 1000.0)
                return
            # pacing: back to back, the probes were most of what a router
            # did per change (about 50 queries each), charged to the change
            time.sleep(PROBE_GAP)
        with self.lock:
            self.lost += 1

    def txn(self, ops):
        self.client.call("/v3/kv/txn", {"success": ops})

    def change(self):
        if len(self.live) < LIVE_MAX:
            k = "%s%d" % (self.tag, self.next)
            self.next += 1
            value = "%s,^c%s\\.churn\\.miek" % (self.bind_spec, k)
            want = "filler"
            ops = [{"request_put": {"key": b64(pre + "churn/" + k),
                                    "value": b64(value)}}
                   for _, pre in self.targets]
            self.live.append(k)
        else:
            k = self.live.pop(0)
            want = "REFUSED"
            ops = [{"request_delete_range": {"key": b64(pre + "churn/" + k)}}
                   for _, pre in self.targets]
        name = "c%s.churn.miek.nl." % k
        t0 = time.monotonic()
        for r, _ in self.targets:
            p = threading.Thread(target=self.probe, args=(r, name, want, t0),
                                 daemon=True)
            p.start()
            self.probers.append(p)
        self.txn(ops)
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
            self.txn([{"request_delete_range": {"key": b64(pre + "churn/" +
                                                           k)}}
                      for _, pre in self.targets])
        self.live = []
        self.client.close()


def prefix(workers):
    return "/dnsrouter/w%d/" % workers


def start_router(args, workers, etcd, named, tmp):
    """A dnsrouter on its own prefix, filled with the filler routes."""
    bind_spec = "127.0.0.1:%d" % named.port
    router = Dnsrouter(args.build, os.path.join(tmp, "router%d" % workers),
                       free_port(), [], workers=workers, timeout="1000ms",
                       extra="etcd %s\netcd-prefix %s\nhealth-interval 5s\n"
                       % (etcd.url, prefix(workers)))
    router.start()
    client = EtcdClient(etcd.url, timeout=30)
    try:
        wait_for(lambda: "etcd: watching" in router.log(), 15, 0.05,
                 "the controller's watch")
        client.delete(prefix(workers), prefix=True)
        client.put_many([(prefix(workers) + "fill/%05d" % i,
                          "%s,^f%05d\\.zz\\.miek" % (bind_spec, i))
                         for i in range(args.routes)], 100)
    except BaseException:
        router.stop(check=False)
        raise
    finally:
        client.close()
    return router


def wait_filled(args, router, workers):
    last = "f%05d.zz.miek.nl." % (args.routes - 1)
    wait_for(lambda: answer(router.port, last, timeout=2) == "filler",
             120, 0.05, "%d filler routes" % args.routes)
    # every router has the controller's database of the fillers (not
    # matching 10,000 patterns one by one meanwhile)
    want = "take: database of %d patterns" % args.routes
    wait_for(lambda: router.log().count(want) >= workers, 120, 0.1,
             "the routers' Hyperscan database")


def loaded(args, workers, router, routers, etcd, named, tmp):
    """Steady and churn-under-load figures of one dnsrouter (routers: all
    of them, which must be quiet first: the last filled may compile)."""
    bind_spec = "127.0.0.1:%d" % named.port
    qfile = os.path.join(tmp, "queries")
    with open(qfile, "w") as f:
        for i in range(args.routes):
            f.write("f%05d.zz.miek.nl. TXT\n" % i)
    pids = proc_tree(router.pid)
    tag = "w%d-" % workers
    quiet([p for r in routers.values() for p in proc_tree(r.pid)])
    run_dnsperf(args, router.port, "udp", args.warmup, qfile, tmp,
                tag + "warmup", False)
    c0 = dnsrouter_cpu(pids)
    steady = run_dnsperf(args, router.port, "udp", args.seconds, qfile,
                         tmp, tag + "steady", False)
    c1 = dnsrouter_cpu(pids)
    ch = Churner([(router, prefix(workers))], etcd.url, bind_spec,
                 args.change_rate, args.churn_seconds, args.limit,
                 tag + "l").start()
    churn = run_dnsperf(args, router.port, "udp", args.churn_seconds,
                        qfile, tmp, tag + "churn", False)
    ch.join()
    c2 = dnsrouter_cpu(pids)
    times = sorted(ch.times[id(router)])
    row = {
        "workers": workers,
        "steady_qps": steady["qps"], "churn_qps": churn["qps"],
        "steady_cpu_100k": (c1 - c0) / max(1, steady["completed"]) * 1e5,
        "churn_cpu_100k": (c2 - c1) / max(1, churn["completed"]) * 1e5,
        "changes_load": ch.changes, "lost": ch.lost,
        "p50_ms": statistics.median(times) if times else float("nan"),
        "p99_ms": nearest_rank(times, 99),
        "max_ms": times[-1] if times else float("nan"),
        "idle": [],
    }
    for r in (steady, churn):
        if r["lost"]:
            row.setdefault("notes", []).append(
                "%d queries lost in a dnsperf run" % r["lost"])
    return row


def idle_round(args, routers, etcd, named, k):
    """Every dnsrouter at once: {workers: figures} of one idle round."""
    bind_spec = "127.0.0.1:%d" % named.port
    pids = {w: proc_tree(r.pid) for w, r in routers.items()}
    allpids = [p for ps in pids.values() for p in ps]
    quiet(allpids)
    t0, e0 = time.monotonic(), cpu_ticks(etcd.proc.pid)
    i0 = {w: dnsrouter_cpu(ps) for w, ps in pids.items()}
    time.sleep(args.idle_seconds)   # the baseline window, by design
    t1, e1 = time.monotonic(), cpu_ticks(etcd.proc.pid)
    i1 = {w: dnsrouter_cpu(ps) for w, ps in pids.items()}
    ch = Churner([(r, prefix(w)) for w, r in routers.items()], etcd.url,
                 bind_spec, args.change_rate, args.idle_seconds, args.limit,
                 "i%d-" % k).start()
    ch.join()
    quiet(allpids)  # the work the changes caused, to its end
    t2, e2 = time.monotonic(), cpu_ticks(etcd.proc.pid)
    i2 = {w: dnsrouter_cpu(ps) for w, ps in pids.items()}
    scale = (t2 - t1) / (t1 - t0)
    for w, r in routers.items():
        if set(proc_tree(r.pid)) != set(pids[w]):
            raise BenchError("dnsrouter (workers %d): its process set "
                             "changed during the run" % w)
    out = {}
    for w, r in routers.items():
        out[w] = {
            "changes": ch.changes, "lost": ch.lost,
            "p99_ms": nearest_rank(sorted(ch.times[id(r)]), 99),
            "base_cpu": (i1[w] - i0[w]) / (t1 - t0),
            "span_cpu": (i2[w] - i1[w]) / (t2 - t1),
            "cpu_per_change_ms": ((i2[w] - i1[w]) - (i1[w] - i0[w]) * scale)
            / max(1, ch.changes) * 1000.0,
            "etcd_cpu_per_change_ms": (((e2 or 0) - (e1 or 0)) -
                                       ((e1 or 0) - (e0 or 0)) * scale) /
            CLK_TCK / max(1, ch.changes) * 1000.0,
        }
    return out


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
    ap.add_argument("--idle-rounds", type=int, default=3,
                    help="rounds of churn without load, all dnsrouters "
                    "at once (3)")
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
        args.idle_rounds = 1
    B.require_programs(args.build)
    workers = [int(w) for w in args.workers.split(",")]

    tmp = tempfile.mkdtemp(prefix="drchurn")
    etcd = named = None
    routers, rows = {}, []
    try:
        etcd = Etcd(os.path.join(tmp, "etcd")).start()
        named = Named(os.path.join(tmp, "named"), free_port(),
                      {"miek.nl.": ZONE}, querylog=False).start()
        for w in workers:
            routers[w] = start_router(args, w, etcd, named, tmp)
        for w in workers:
            wait_filled(args, routers[w], w)
        for w in workers:
            rows.append(loaded(args, w, routers[w], routers, etcd, named,
                               tmp))
        for k in range(args.idle_rounds):
            got = idle_round(args, routers, etcd, named, k)
            for r in rows:
                r["idle"].append(got[r["workers"]])
    except (ProcessError, BenchError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    finally:
        for r in routers.values():
            try:
                r.stop()
            except ProcessError as e:
                print("warning: %s" % e, file=sys.stderr)
        if named is not None:
            named.stop()
        if etcd is not None:
            etcd.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    for r in rows:
        for key in ("cpu_per_change_ms", "etcd_cpu_per_change_ms",
                    "base_cpu", "span_cpu", "p99_ms"):
            r["idle_" + key] = statistics.median(x[key] for x in r["idle"])
        r["changes_idle"] = sum(x["changes"] for x in r["idle"])
        r["lost"] += sum(x["lost"] for x in r["idle"])
    print("route churn: %d routes, %g changes/s; steady %gs, churn under "
          "load %gs, churn idle %d x %gs, all dnsrouters at once (dnsperf "
          "-c %d -q %d)" % (
              args.routes, args.change_rate, args.seconds, args.churn_seconds,
              args.idle_rounds, args.idle_seconds, args.clients,
              args.outstanding))
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
             "%.3f" % r["idle_base_cpu"], "%.3f" % r["idle_span_cpu"],
             "%.2f" % r["idle_cpu_per_change_ms"],
             "%.2f" % r["idle_etcd_cpu_per_change_ms"]] for r in rows])
    print("(idle columns: medians of the rounds; etcd's CPU is one etcd's "
          "for every dnsrouter's prefix)")
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
        ratios = [b["cpu_per_change_ms"] / a["cpu_per_change_ms"]
                  for a, b in zip(by[1]["idle"], by[2]["idle"])
                  if a["cpu_per_change_ms"] > 0]
        med = statistics.median(ratios) if ratios else float("nan")
        print("CPU per change, 2 workers / 1 worker, by round: %s" %
              ", ".join("%.2f (%.2f vs %.2f ms)" % (
                  b["cpu_per_change_ms"] / a["cpu_per_change_ms"],
                  b["cpu_per_change_ms"], a["cpu_per_change_ms"])
                  for a, b in zip(by[1]["idle"], by[2]["idle"])
                  if a["cpu_per_change_ms"] > 0))
        print("target: CPU per change with 2 workers <= %.2fx 1 worker: %s "
              "(median ratio %.2f)" % (
                  TARGET_CPU, "met" if med <= TARGET_CPU else "NOT met", med))
    for r in rows:
        ok = ok and r["lost"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
