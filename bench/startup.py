#!/usr/bin/python3
"""Two figures of issue 11: how fast a router serves right after it starts
with 10,000 routes, and what a table change costs with 1, 2 and 8 workers.

    /usr/bin/python3 bench/startup.py --build BUILD_DIR [--quick] [options]
    (make bench runs it after bench.py)

Setup as bench/bench.py's (its functions are reused): two BIND servers with
the split miek.nl zone, dnsrouter and dnsdist with the same routes, N filler
regexps (bench.py's shapes, matching none of the query names) ahead of
`^[ab]\\.miek` -> A and `^[cd]\\.miek` -> B, dnsperf sending a, b, c and d
.miek.nl TXT. Everything on 127.0.0.1, free ports, stopped by PID.

Row 1, "router restart with 10,000 routes" (queries/s; dnsperf -c 4 -q 100
-t 1, saturating, one long run with -S 1 so every second is counted
without gaps between runs):

- dnsrouter fresh start (--restart-workers routers): the master is started,
  dnsperf as soon as its first child exists (the master binds every
  listening socket before it starts a child; queries sent before would be
  refused, or lost on the socket it probes the port with). The
  rate in the first 1, 5 and 30 s is what was answered in [start, start +
  1 s), [start, start + 5 s), [start, start + 30 s) of the master's start,
  from the per-second counts (weighted by overlap where a dnsperf second
  straddles a boundary).
- dnsrouter router #0 killed with SIGKILL under that saturating load (the
  master restarts it after 100 ms; the other routers keep serving): the
  same windows measured from the kill.
- dnsdist (the Debian package) started afresh with the same 10,000 rules
  (what a restart of dnsdist is: one process reading its configuration),
  measured from its start the same way.
- steady: a dnsperf run of --steady seconds once the system has settled
  (the CPU of all its processes back under 10 % of a core for a second:
  any background compile has finished).

Row 2, "table change with 1, 2 and 8 workers" (dnsrouter only): a dnsrouter
with the routes file of 10,000 routes and etcd (etcdenv.Etcd) settles;
then, --changes times, one route is added to and removed from etcd in turn
(/dnsrouter/bench-probe: `^probe\\.miek` -> B). A change is complete when
every router has it (probe.miek.nl answered by B, or REFUSED once removed,
8 x workers times in a row from fresh sockets, so the kernel's
SO_REUSEPORT hash reaches every router) and the processes' CPU has
settled again. Reported: the CPU (utime+stime from /proc, the master and
all its children, all threads) used from the change to the settle, less
the idle rate measured before, split into routers and controller; the
time until every router answered the change; and until it was idle
again. With each router compiling its own database the CPU grows with
the number of workers; compiled once in the controller it must not.
dnsdist has no pushed table to compare with: its rules are its
configuration, changed by a restart (row 1) or a console command.

Changes add and remove the route in turn; the two kinds are reported
apart (with routers compiling for themselves a removal cost no compile,
0.00 CPU s, while the controller's compile runs for either).

--quick: 1,000 fillers, 5 s series, 2 s steady, workers 1,2 for row 2 with
one addition and one removal (about a minute).
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench import (CLK_TCK, show, DNSDIST, DNSPERF, QUERIES, BenchError,  # noqa
                   Dnsdist, cpu_ticks, comm, dnsdist_conf, dnsdist_version,
                   dnsrouter_routes, filler_patterns, check_fillers,
                   proc_tree)
from dnsenv import (Dnsrouter, Named, ProcessError, free_port,  # noqa: E402
                    query, stop_pid, wait_for)
from etcdenv import Etcd  # noqa: E402
import zones  # noqa: E402

import dns.rcode  # noqa: E402

PROBE_KEY = "/dnsrouter/bench-probe"
PROBE_NAME = "probe.miek.nl."
# A system has settled when its processes used less than this share of
# one core over SETTLE_WINDOW seconds (a compile uses a whole core).
SETTLE_SHARE = 0.10
SETTLE_WINDOW = 1.0


# ------------------------------------------------------------- measuring

def udp_bound(port):
    """True once some socket is bound to UDP port on 127.0.0.1."""
    want = ":%04X" % port
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            if line.split()[1].endswith(want):
                return True
    return False


def tree_ticks(pid):
    """{pid: (comm, ticks)} of pid and all its descendants."""
    out = {}
    for p in proc_tree(pid):
        t = cpu_ticks(p)
        if t is not None:
            out[p] = (comm(p), t)
    return out


def total(ticks):
    return sum(t for _, t in ticks.values())


def wait_settled(pid, timeout):
    """Wait until pid's process tree used < SETTLE_SHARE of a core for
    SETTLE_WINDOW seconds; return the seconds it took (bounded)."""
    t0 = time.monotonic()
    limit = SETTLE_SHARE * CLK_TCK * SETTLE_WINDOW
    last = total(tree_ticks(pid))
    while True:
        time.sleep(SETTLE_WINDOW)     # the window being sampled
        now = total(tree_ticks(pid))
        if now - last < limit:
            return time.monotonic() - t0 - SETTLE_WINDOW
        last = now
        if time.monotonic() - t0 > timeout:
            raise BenchError("pid %d still busy after %.0fs" % (pid, timeout))


def dnsperf_cmd(args, port, seconds, stats=False):
    cmd = [DNSPERF, "-s", "127.0.0.1", "-p", str(port), "-d", args.qfile,
           "-c", "4", "-q", "100", "-t", "1", "-l", "%g" % seconds]
    if stats:
        cmd += ["-S", "1"]
    return cmd


def run_dnsperf(args, port, seconds, tag):
    """One dnsperf run; its 'Queries per second'."""
    out = os.path.join(args.tmp, "dnsperf-%s.out" % tag)
    with open(out, "wb") as o:
        p = subprocess.Popen(dnsperf_cmd(args, port, seconds),
                             stdin=subprocess.DEVNULL, stdout=o,
                             stderr=subprocess.STDOUT)
        try:
            p.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            stop_pid(p, 2)
            raise BenchError("dnsperf did not end")
    text = open(out, errors="replace").read()
    m = re.search(r"Queries per second:\s+([\d.]+)", text)
    if p.returncode != 0 or not m:
        raise BenchError("dnsperf failed: %s" % text[-1500:])
    return float(m.group(1))


class Series:
    """dnsperf -S 1 in the background: answered queries per second, with
    the wall-clock end of each second."""

    def __init__(self, args, port, seconds, tag):
        self.out = os.path.join(args.tmp, "series-%s.out" % tag)
        self.seconds = seconds
        self._o = open(self.out, "wb")
        # -l a little past the last whole second, so that it is printed
        self.proc = subprocess.Popen(
            dnsperf_cmd(args, port, seconds + 0.3, stats=True),
            stdin=subprocess.DEVNULL, stdout=self._o,
            stderr=subprocess.STDOUT)
        self.t_popen = time.time()

    def wait(self):
        try:
            self.proc.wait(self.seconds + 30)
        except subprocess.TimeoutExpired:
            stop_pid(self.proc, 2)
            raise BenchError("dnsperf -S did not end")
        finally:
            self._o.close()
        text = open(self.out, errors="replace").read()
        # "1796190045.329915: 12345.678901": end of a second, its rate
        self.points = [(float(a), float(b)) for a, b in
                       re.findall(r"^(\d+\.\d+): ([\d.]+)$", text, re.M)]
        if not self.points:
            raise BenchError("dnsperf -S printed no statistics: %s"
                             % text[-1500:])
        return self

    def answered(self, t0, t1):
        """Queries answered in wall-clock [t0, t1), spreading each
        dnsperf second's count evenly over it."""
        n = 0.0
        for end, qps in self.points:
            lo, hi = max(t0, end - 1.0), min(t1, end)
            if hi > lo:
                n += qps * (hi - lo)
        return n

    def rate(self, t0, seconds):
        covered = self.points[-1][0] - t0
        if covered < seconds - 0.05:
            return None
        return self.answered(t0, t0 + seconds) / seconds

    def per_second(self, t0, n):
        return [round(self.answered(t0 + i, t0 + i + 1)) for i in range(n)]


# ------------------------------------------------------------ row 1

def windows(args):
    return [w for w in (1, 5, 30) if w <= args.seconds]


def restart_row(args, addr_a, addr_b, fillers):
    """Row 1: [{label, first {1: q/s, 5: ..., 30: ...}, steady, ...}]."""
    rows = []
    routes = dnsrouter_routes(fillers, addr_a, addr_b)
    if args.only != "dnsdist":
        w = args.restart_workers
        d = Dnsrouter(args.build, os.path.join(args.tmp, "restart-dr"),
                      free_port(), routes, workers=w, timeout="1000ms")
        try:
            t0 = time.time()
            d.start()
            # The master binds every listening socket before it starts a
            # child, after probing the port with a socket of its own: the
            # port being bound can be that probe (queries sent to it are
            # lost, and dnsperf's first 100 then hold its window for a
            # whole -t), a child existing means the real sockets are in.
            wait_for(lambda: len(proc_tree(d.pid)) > 1, 10, 0.001,
                     "dnsrouter to bind and start its children")
            t_bound = time.time() - t0
            s = Series(args, d.port, args.seconds, "dr-fresh").wait()
            settle = wait_settled(d.pid, args.settle_timeout)
            steady = run_dnsperf(args, d.port, args.steady, "dr-steady")
            rows.append({"label": "dnsrouter w=%d, fresh start" % w,
                         "first": {x: s.rate(t0, x) for x in windows(args)},
                         "per_second": s.per_second(t0, args.seconds),
                         "steady": steady, "bound_s": t_bound,
                         "settled_after_series_s": settle})
            print("startup: %s: %s q/s per second, steady %.0f"
                  % (rows[-1]["label"], rows[-1]["per_second"], steady),
                  flush=True)
            # router #0 killed under load, after 2 s of it
            pre = 2.0
            s = Series(args, d.port, args.seconds + pre + 1, "dr-kill")
            time.sleep(pre + 0.5)   # the load before the kill
            victim = routers(d.pid).get(0)
            tk = time.time()
            os.kill(victim, signal.SIGKILL)
            s.wait()
            settle = wait_settled(d.pid, args.settle_timeout)
            steady2 = run_dnsperf(args, d.port, args.steady, "dr-steady2")
            rows.append({"label": "dnsrouter w=%d, router #0 kill -9 under "
                         "load" % w,
                         "first": {x: s.rate(tk, x) for x in windows(args)},
                         "before": s.answered(tk - pre, tk) / pre,
                         "per_second": s.per_second(tk, args.seconds),
                         "steady": steady2,
                         "settled_after_series_s": settle})
            print("startup: %s: %.0f q/s before, then %s q/s per second, "
                  "steady %.0f" % (rows[-1]["label"], rows[-1]["before"],
                                   rows[-1]["per_second"], steady2),
                  flush=True)
        finally:
            d.stop(check=False)
    if args.only != "dnsrouter":
        port = free_port()
        dd = Dnsdist(os.path.join(args.tmp, "restart-dd"), port,
                     dnsdist_conf(port, args.dnsdist_listeners, addr_a,
                                  addr_b, fillers))
        try:
            t0 = time.time()
            dd.start()
            wait_for(lambda: udp_bound(port) or dd.proc.poll() is not None,
                     120, 0.001, "dnsdist to bind")
            if dd.proc.poll() is not None:
                raise BenchError("dnsdist exited: %s" % dd.log()[-2000:])
            t_bound = time.time() - t0
            s = Series(args, port, args.seconds, "dd-fresh").wait()
            wait_settled(dd.pid, args.settle_timeout)
            steady = run_dnsperf(args, port, args.steady, "dd-steady")
            rows.append({"label": "dnsdist, fresh start (its restart)",
                         "first": {x: s.rate(t0, x) for x in windows(args)},
                         "per_second": s.per_second(t0, args.seconds),
                         "steady": steady, "bound_s": t_bound})
            print("startup: %s: bound after %.2fs, %s q/s per second, "
                  "steady %.0f" % (rows[-1]["label"], t_bound,
                                   rows[-1]["per_second"], steady),
                  flush=True)
        finally:
            dd.stop()
    return rows


def routers(master):
    """{index: pid} of the master's dnsrouter-router children."""
    out = {}
    for p in proc_tree(master):
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                argv = [a.decode() for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if argv and os.path.basename(argv[0]).startswith("dnsrouter-router") \
                and "-i" in argv:
            out[int(argv[argv.index("-i") + 1])] = p
    return out


# ------------------------------------------------------------ row 2

def probe_answer(port):
    try:
        r = query(port, PROBE_NAME, "TXT", timeout=0.5)
    except Exception:
        return "timeout"
    return dns.rcode.to_text(r.rcode())


def change_row(args, addr_a, addr_b, fillers):
    """Row 2: [{workers, changes: [{cpu_s, routers_s, controller_s,
    answered_s, idle_s}], median ...}]."""
    rows = []
    routes = dnsrouter_routes(fillers, addr_a, addr_b)
    etcd = Etcd(os.path.join(args.tmp, "etcd"))
    etcd.start()
    try:
        for w in args.change_workers:
            etcd.delete(PROBE_KEY)
            d = Dnsrouter(args.build, os.path.join(args.tmp, "chg-w%d" % w),
                          free_port(), routes, workers=w, timeout="1000ms",
                          extra="etcd %s\n" % etcd.url)
            try:
                d.start()
                d.wait_ready("a.miek.nl.", "TXT", timeout=60)
                t_settle = wait_settled(d.pid, args.settle_timeout)
                # the idle rate, to take off each change's figure
                a = tree_ticks(d.pid)
                time.sleep(args.idle)
                b = tree_ticks(d.pid)
                idle = (total(b) - total(a)) / CLK_TCK / args.idle
                row = {"workers": w, "settled_at_start_s": t_settle,
                       "idle_cpu_per_s": idle, "changes": []}
                for i in range(args.changes):
                    row["changes"].append(one_change(args, d, etcd, w, i,
                                                     addr_b, idle))
                    c = row["changes"][-1]
                    print("startup: table change w=%d #%d: %.2f CPU s "
                          "(routers %.2f, controller %.2f), all routers "
                          "answered after %.3fs, idle after %.1fs%s"
                          % (w, i + 1, c["cpu_s"], c["routers_s"],
                             c["controller_s"], c["answered_s"], c["idle_s"],
                             " [processes changed]" if c["pids_changed"]
                             else ""), flush=True)
                # an added route costs a compile; a removed one need not
                # (a database may keep a pattern and drop its matches):
                # the two kinds are reported apart
                for kind, sel in (("add", True), ("del", False)):
                    cs = [c for c in row["changes"] if c["add"] == sel]
                    for k in ("cpu_s", "routers_s", "controller_s",
                              "answered_s", "idle_s"):
                        row["%s_%s" % (kind, k)] = \
                            statistics.median(c[k] for c in cs) if cs \
                            else None
                rows.append(row)
            finally:
                d.stop(check=False)
    finally:
        etcd.stop()
    return rows


def one_change(args, d, etcd, w, i, addr_b, idle):
    add = i % 2 == 0
    want = "NXDOMAIN" if add else "REFUSED"   # B has no probe name
    before = tree_ticks(d.pid)
    t0 = time.monotonic()
    if add:
        etcd.put(PROBE_KEY, "%s,^probe\\.miek" % addr_b)
    else:
        etcd.delete(PROBE_KEY)
    streak = [0]

    def seen():
        streak[0] = streak[0] + 1 if probe_answer(d.port) == want else 0
        return streak[0] >= 8 * w
    wait_for(seen, 60, 0, "every router to answer %s %s" % (PROBE_NAME, want))
    t_seen = time.monotonic() - t0
    wait_settled(d.pid, args.settle_timeout)
    after = tree_ticks(d.pid)
    t_idle = time.monotonic() - t0
    elapsed = t_idle
    per = {"routers": 0, "controller": 0, "master": 0}
    for p, (name, t) in after.items():
        base = before.get(p, (name, 0))[1]
        role = "routers" if name.startswith("dnsrouter-rout") else \
            "controller" if name.startswith("dnsrouter-cont") else "master"
        per[role] += (t - base) / CLK_TCK
    # the idle rate is mostly the routers' and controller's; take it off
    # the total only
    cpu = sum(per.values()) - idle * elapsed
    return {"add": add, "cpu_s": cpu, "routers_s": per["routers"],
            "controller_s": per["controller"], "master_s": per["master"],
            "answered_s": t_seen, "idle_s": t_idle,
            "pids_changed": set(before) != set(after)}


# ------------------------------------------------------------ report

def fmt(v, spec=".0f"):
    return "-" if v is None else format(v, spec)


def print_rows(args, r1, r2):
    routes = len(args.fillers_list) + 2
    print()
    print("=" * 78)
    if r1:
        print("router restart with %s routes (%s fillers + 2): queries/s "
              "answered in the first 1, 5, 30 s after start (dnsperf -c 4 "
              "-q 100 -t 1 -S 1, saturating), steady rate once settled"
              % (format(routes, ","), format(len(args.fillers_list), ",")))
        cols = ["system"] + ["first %d s" % x for x in windows(args)] + \
            ["steady", "first 1 s / steady"]
        table = []
        for r in r1:
            first1 = r["first"].get(1)
            table.append([r["label"]] + [fmt(r["first"][x])
                                         for x in windows(args)] +
                         [fmt(r["steady"]),
                          fmt(first1 / r["steady"] * 100, ".1f") + " %"
                          if first1 is not None and r["steady"] else "-"])
        show(cols, table)
        dr = next((r for r in r1 if r["label"].endswith("fresh start")),
                  None)
        dd = next((r for r in r1 if r["label"].startswith("dnsdist")), None)
        if dr and dd:
            print("ratio dnsrouter / dnsdist (fresh start): " + ", ".join(
                "first %d s %s" % (x, fmt(dr["first"][x] / dd["first"][x],
                                          ".3f")
                                   if dr["first"][x] and dd["first"][x]
                                   else "-") for x in windows(args)) +
                ", steady %s" % fmt(dr["steady"] / dd["steady"], ".2f"))
    if r2:
        print()
        print("table change with %s workers at %s routes: CPU s of all "
              "dnsrouter processes per route added (median of %d; idle "
              "rate taken off), time until every router answers it, until "
              "idle; CPU per route removed"
              % (",".join(str(w) for w in args.change_workers),
                 format(routes, ","), (args.changes + 1) // 2))
        cols = ["workers", "CPU s/add", "routers", "controller",
                "vs 1 worker", "all routers after", "idle after",
                "CPU s/removal"]
        base = r2[0]["add_cpu_s"] if r2 else None
        table = [[str(r["workers"]), fmt(r["add_cpu_s"], ".2f"),
                  fmt(r["add_routers_s"], ".2f"),
                  fmt(r["add_controller_s"], ".2f"),
                  fmt(r["add_cpu_s"] / base, ".2f") if base else "-",
                  fmt(r["add_answered_s"], ".3f") + " s",
                  fmt(r["add_idle_s"], ".1f") + " s",
                  fmt(r["del_cpu_s"], ".2f")] for r in r2]
        show(cols, table)
        print("dnsdist: no equivalent row: it has no pushed table (its rules "
              "are its configuration; a change is a restart, see above, or "
              "a console command)")


# ------------------------------------------------------------ main

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="router restart and table change at 10,000 routes "
        "(see the module docstring)")
    ap.add_argument("--build", required=True)
    ap.add_argument("--fillers", type=int, default=9998,
                    help="filler routes ahead of the 2 real ones (9998)")
    ap.add_argument("--seconds", type=int, default=30,
                    help="length of the per-second series after a start or "
                    "kill (30; windows 1, 5, 30 s that fit)")
    ap.add_argument("--steady", type=float, default=5,
                    help="dnsperf -l of the steady run (5)")
    ap.add_argument("--restart-workers", type=int, default=2,
                    help="dnsrouter workers for row 1 (2)")
    ap.add_argument("--change-workers", default="1,2,8",
                    help="worker counts for row 2 (1,2,8)")
    ap.add_argument("--changes", type=int, default=2,
                    help="table changes measured per worker count, adding "
                    "and removing a route in turn (2)")
    ap.add_argument("--idle", type=float, default=3,
                    help="seconds over which the idle CPU rate is taken (3)")
    ap.add_argument("--settle-timeout", type=float, default=600)
    ap.add_argument("--dnsdist-listeners", type=int, default=2)
    ap.add_argument("--rows", default="restart,change",
                    help="which rows: restart, change or both (default)")
    ap.add_argument("--only", choices=("dnsrouter", "dnsdist"))
    ap.add_argument("--quick", action="store_true",
                    help="1,000 fillers, 5 s series, 2 s steady, workers "
                    "1,2 for row 2, one change")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.fillers, a.seconds, a.steady = 1000, 5, 2
        a.change_workers, a.changes, a.idle = "1,2", 2, 1
    a.change_workers = [int(x) for x in a.change_workers.split(",") if x]
    a.rows = set(x.strip() for x in a.rows.split(","))
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for exe in (DNSPERF, DNSDIST, "/usr/sbin/named"):
        if not os.access(exe, os.X_OK):
            sys.exit("startup: %s missing (mk/deps.sh bench installs it)"
                     % exe)
    args.tmp = tempfile.mkdtemp(prefix="drstartup.")
    args.qfile = os.path.join(args.tmp, "queries")
    with open(args.qfile, "w") as f:
        for name, qtype, _, _ in QUERIES:
            f.write("%s %s\n" % (name.rstrip("."), qtype))
    args.fillers_list = fillers = filler_patterns(args.fillers)
    check_fillers(fillers)
    named = []
    r1, r2, problems = [], [], []
    t_start = time.monotonic()
    try:
        pa, pb = free_port(), free_port()
        for port, zone, sid in ((pa, zones.zone_ab(), "shard-ab"),
                                (pb, zones.zone_cd(), "shard-cd")):
            n = Named(os.path.join(args.tmp, sid), port,
                      {zones.ORIGIN: zone}, server_id=sid, querylog=False)
            n.start()
            named.append(n)
        addr_a, addr_b = "127.0.0.1:%d" % pa, "127.0.0.1:%d" % pb
        with open("/proc/loadavg") as f:
            print("startup: load average at start: %s" % f.read().strip())
        if "restart" in args.rows:
            try:
                r1 = restart_row(args, addr_a, addr_b, fillers)
            except (BenchError, ProcessError) as e:
                problems.append("restart row: %s" % str(e)[:2000])
        if "change" in args.rows and args.only != "dnsdist":
            try:
                r2 = change_row(args, addr_a, addr_b, fillers)
            except (BenchError, ProcessError) as e:
                problems.append("change row: %s" % str(e)[:2000])
    except KeyboardInterrupt:
        problems.append("interrupted")
    finally:
        for n in reversed(named):
            n.stop()
        if args.keep:
            print("startup: kept %s" % args.tmp)
        else:
            shutil.rmtree(args.tmp, ignore_errors=True)
    print_rows(args, r1, r2)
    print("(%s; total time %.0f s)" % (dnsdist_version(),
                                       time.monotonic() - t_start))
    for p in problems:
        print("PROBLEM: " + p)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"restart": r1, "change": r2, "problems": problems,
                       "fillers": args.fillers, "cpus": os.cpu_count()},
                      f, indent=1, default=str)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
