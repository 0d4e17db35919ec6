#!/usr/bin/python3
"""What dnstap costs: dnsrouter against dnsdist, each with and without.

    /usr/bin/python3 bench/dnstap.py --build BUILD_DIR [options]  (make bench)

What runs (everything on 127.0.0.1, free ports, one temporary directory):

- The two BIND shards and the four query names of bench/bench.py (a, b on
  shard A, c, d on shard B, TXT), the two real routes, no fillers.
- Four systems, all up at once and measured in alternation (the order
  flips every round), the median of the rounds reported:
    dnsrouter dnstap   `workers W`, `dnstap unix:RUNDIR/dnstap.sock`, the
                       default messages (client-query, client-response)
    dnsdist dnstap     W listener binds (reusePort), newFrameStreamUnixLogger
                       with DnstapLogAction on every query and
                       DnstapLogResponseAction on every response: the same
                       two messages
    dnsrouter          the same without dnstap
    dnsdist            the same without dnstap
- Each dnstap system has its own collector, fstrm_capture writing to
  /dev/null; at the end it says how many frames it wrote, against the
  queries the system answered (two messages each) and, for dnsrouter, the
  messages the routers queued and dropped (/metrics).

Figures, as in bench/bench.py: qps, avg and p99 latency (p99 from a shorter
dnsperf -v run after each measured run), lost, and CPU seconds per 100,000
queries of the proxy's processes (dnstap's I/O threads included; the
collector's CPU is shown apart). The ratios: each proxy with dnstap against
itself without (what dnstap costs it), and dnsrouter dnstap against dnsdist
dnstap.

Every process is started here and stopped by PID in finally blocks.
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import bench as B
from bench import (BenchError, Dnsdist, System, Named, Dnsrouter,  # noqa
                   ProcessError, free_port, lua_str, zones, fmt_num)


class Collector:
    """fstrm_capture on a unix socket, writing to /dev/null; its stderr
    ends with how many frames it wrote."""

    def __init__(self, sock, log_path):
        self.sock, self.log_path = sock, log_path
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["fstrm_capture", "-t", "protobuf:dnstap.Dnstap", "-u",
             self.sock, "-w", "/dev/null"], stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=self._log)
        B.wait_for(lambda: os.path.exists(self.sock), 5,
                   what="fstrm_capture on %s" % self.sock)

    def cpu_s(self):
        t = B.cpu_ticks(self.proc.pid)
        return t / B.CLK_TCK if t is not None else None

    def stop(self):
        """Stop it; the frames it wrote, or None."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                B.stop_pid(self.proc)
        self._log.close()
        with open(self.log_path, errors="replace") as f:
            m = re.findall(r"wrote (\d+) frames", f.read())
        return sum(int(x) for x in m) if m else None


def dnsdist_conf(port, listeners, addr_a, addr_b, tap_sock):
    out = B.dnsdist_base(port, listeners, addr_a, addr_b, "bench/dnstap.py")
    if tap_sock:
        out.append("fsl = newFrameStreamUnixLogger(%s)" % lua_str(tap_sock))
    out.append("setRules({")
    if tap_sock:
        out.append(' newRuleAction(AllRule(), DnstapLogAction("dnsdist", '
                   'fsl)),')
    out.append(' newRuleAction(RegexRule(%s), PoolAction("A")),'
               % lua_str(B.ROUTE_A))
    out.append(' newRuleAction(RegexRule(%s), PoolAction("B")),'
               % lua_str(B.ROUTE_B))
    out.append(" newRuleAction(AllRule(), RCodeAction(DNSRCode.REFUSED)),")
    out.append("})")
    if tap_sock:
        out.append('addResponseAction(AllRule(), DnstapLogResponseAction('
                   '"dnsdist", fsl))')
    return "\n".join(out) + "\n"


def metrics(port):
    """dnsrouter's dnstap counters: (queued, dropped)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
    finally:
        c.close()
    got = {}
    for line in body.splitlines():
        for k in ("dnsrouter_dnstap_messages_total",
                  "dnsrouter_dnstap_dropped_total"):
            if line.startswith(k + " "):
                got[k] = int(float(line.split()[-1]))
    return (got.get("dnsrouter_dnstap_messages_total", 0),
            got.get("dnsrouter_dnstap_dropped_total", 0))


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="dnstap's cost in dnsrouter and dnsdist (see the "
        "module docstring)")
    B.add_round_args(ap, 2)
    B.add_dnsperf_args(ap)
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 round of 2 s")
    ap.add_argument("--json", metavar="FILE", help="write all figures here")
    a = ap.parse_args(argv)
    if a.quick:
        a.rounds, a.seconds, a.warmup = 1, 2, 1
        a.p99_seconds = min(a.p99_seconds, 1)
    if a.rounds < 1 or a.seconds <= 0 or a.workers < 1:
        ap.error("rounds, seconds and workers must be positive")
    return a


def start_all(args, tmp, addr_a, addr_b, systems, collectors):
    routes = ["%s,%s" % (addr_a, B.ROUTE_A), "%s,%s" % (addr_b, B.ROUTE_B)]
    for tap in (True, False):
        mport = free_port()
        extra = "metrics 127.0.0.1:%d\n" % mport
        if tap:
            extra += "dnstap unix:@RUNDIR@/dnstap.sock\n"
        d = Dnsrouter(args.build, os.path.join(tmp, "dr-%d" % tap),
                      free_port(), routes, workers=args.workers,
                      timeout="1000ms", extra=extra)
        s = System("dnsrouter dnstap" if tap else "dnsrouter", "dnsrouter",
                   d, workers=args.workers)
        s.tap, s.stats_port = tap, mport
        systems.append(s)
        B.bring_up(s, [("a.miek.nl.", "TXT"), ("c.miek.nl.", "TXT")], 60)
        if tap:
            # The socket is in the run directory start() made; routers
            # connect within a second of it being there.
            c = Collector(os.path.join(d.rundir, "dnstap.sock"),
                          os.path.join(tmp, "collector-dr.log"))
            collectors[s.label] = c
            c.start()
            B.wait_for(lambda: d.log().count("dnstap: connected to")
                       >= args.workers, 10, what="routers on the collector")

        port = free_port()
        sock = os.path.join(tmp, "dd-tap.sock") if tap else None
        if tap:
            c = Collector(sock, os.path.join(tmp, "collector-dd.log"))
            c.start()
        d = Dnsdist(os.path.join(tmp, "dd-%d" % tap), port,
                    dnsdist_conf(port, args.workers, addr_a, addr_b, sock))
        s = System("dnsdist dnstap" if tap else "dnsdist", "dnsdist", d,
                   listeners=args.workers)
        s.tap = tap
        systems.append(s)
        if tap:
            collectors[s.label] = c
        B.bring_up(s, [], 60)


def print_table(summ, frames):
    cols = ["system", "qps", "avg ms", "p99 ms", "lost", "CPU s/100k q",
            "collector CPU s/100k q", "dnstap frames / answers"]
    rows = []
    for label, sm in summ:
        rows.append([label, fmt_num(sm["qps"], ",.0f"),
                     fmt_num(sm["avg_s"] and sm["avg_s"] * 1e3, ".3f"),
                     fmt_num(sm["p99_s"] and sm["p99_s"] * 1e3, ".3f"),
                     "%d" % sm["lost"], fmt_num(sm["cpu_per_100k"], ".3f"),
                     fmt_num(sm.get("collector_per_100k"), ".3f"),
                     frames.get(label, "")])
    rows += B.ratio_rows(summ, (("dnsrouter dnstap", "dnsrouter"),
                                ("dnsdist dnstap", "dnsdist"),
                                ("dnsrouter dnstap", "dnsdist dnstap")), 2)
    B.show(cols, rows)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    B.require_programs(args.build, (shutil.which("fstrm_capture") or
                                    "/usr/bin/fstrm_capture",))

    def on_term(signum, frame):
        raise B.Terminated("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)

    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="drtap.", dir="/tmp")
    qfile = os.path.join(tmp, "queries")
    with open(qfile, "w") as f:
        for name, qtype, _, _ in B.QUERIES:
            f.write("%s %s\n" % (name.rstrip("."), qtype))
    problems = []
    results = {"config": dict(vars(args)), "runs": {}, "median": {},
               "problems": problems}
    named, systems, collectors, per = [], [], {}, {}
    answered, coll_cpu = {}, {}
    frames = {}
    try:
        pa, pb = free_port(), free_port()
        for d, port, z, sid in (("named-a", pa, zones.zone_ab(), "shard-ab"),
                                ("named-b", pb, zones.zone_cd(), "shard-cd")):
            n = Named(os.path.join(tmp, d), port, {zones.ORIGIN: z},
                      server_id=sid, querylog=False)
            named.append(n)
            n.start()
        addr_a, addr_b = "127.0.0.1:%d" % pa, "127.0.0.1:%d" % pb
        print("bench-dnstap: %d workers; dnsperf -c %d -q %d -l %g; %d "
              "round(s); %s" % (args.workers, args.clients, args.outstanding,
                                args.seconds, args.rounds, tmp), flush=True)
        start_all(args, tmp, addr_a, addr_b, systems, collectors)
        for s in systems:
            errs = B.check_answers(s, tcp_too=False)
            if errs:
                problems.append("%s answers wrongly: %s"
                                % (s.label, "; ".join(errs)))
            per[s.label] = []
            answered[s.label] = 0
            coll_cpu[s.label] = 0.0
        for s in systems:
            w = B.run_dnsperf(args, s.port, "udp", args.warmup, qfile, tmp,
                              "warmup", verbose=False)
            answered[s.label] = w["completed"] or 0
        def before(s):
            c = collectors.get(s.label)
            return c.cpu_s() if c else None

        def after(s, res, c0):
            c = collectors.get(s.label)
            if c:
                cs = c.cpu_s() - c0
                done = res["completed"] or 0
                res["collector_cpu_s"] = cs
                res["collector_per_100k"] = cs / done * 1e5 if done else None
            return ""
        per.update(B.alternating_rounds(args, systems, qfile, tmp, named,
                                        problems, "bench-dnstap", before,
                                        after))
        for s in systems:
            if s.kind == "dnsrouter" and s.tap:
                results["dnsrouter_dnstap_counters"] = \
                    metrics(s.stats_port)
    except (KeyboardInterrupt, B.Terminated) as e:
        problems.append("interrupted: %s" % (e or "SIGINT"))
    except (BenchError, ProcessError, OSError) as e:
        problems.append(str(e)[:3000])
    finally:
        for s in reversed(systems):
            for l in B.log_problems(s)[-10:]:
                if "dnstap: cannot connect" not in l:
                    problems.append("%s log: %s" % (s.label, l.strip()[:300]))
        B.stop_systems(systems, problems)
        for label, c in collectors.items():
            frames[label] = c.stop()
        for n in reversed(named):
            n.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    summ = []
    for label, runs in per.items():
        sm = B.summarize(runs)
        sm["collector_per_100k"] = B.median_of(runs, "collector_per_100k")
        summ.append((label, sm))
        results["runs"][label] = runs
        results["median"][label] = sm
    shown = {}
    for label, sm in summ:
        if label in frames and frames[label] is not None:
            # Every query of warm-up, rounds and p99 runs: what dnsperf
            # got answered, two messages each.
            total = answered[label] + sum(
                (r["completed"] or 0) + (r.get("p99_run", {}).get(
                    "completed") or 0) for r in results["runs"][label])
            shown[label] = "%s / %s" % (format(frames[label], ","),
                                        format(2 * total, ","))
    results["frames"] = frames
    print()
    print("=" * 78)
    print("dnstap (client-query and client-response to fstrm_capture), "
          "dnsrouter %d workers vs dnsdist %s, %d CPUs, dnsperf -c %d -q %d "
          "-l %g, median of %d round(s)"
          % (args.workers, B.dnsdist_version().split()[-1], os.cpu_count(),
             args.clients, args.outstanding, args.seconds, args.rounds))
    print_table(summ, shown)
    if "dnsrouter_dnstap_counters" in results:
        q, d = results["dnsrouter_dnstap_counters"]
        print("dnsrouter's routers: %s messages queued, %s dropped (before "
              "the collector was there, or queue full)"
              % (format(q, ","), format(d, ",")))
    print("(frames / answers: what the collector wrote against two "
          "messages per query dnsperf had answered; the readiness and "
          "answer checks' few queries are not counted)")
    return B.finish("bench-dnstap", problems, results, args.json, t_start)


if __name__ == "__main__":
    sys.exit(main())
