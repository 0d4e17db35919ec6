#!/usr/bin/python3
"""dnsrouter against dnsdist: throughput, latency, CPU and memory.

    /usr/bin/python3 bench/bench.py --build BUILD_DIR [options]   (make bench)

What runs (everything on 127.0.0.1, free ports, one temporary directory):

- Two BIND 9 servers (tests/system/dnsenv.py Named, query log off) serve the
  split miek.nl zone of tests/system/zones.py: backend A has a and b,
  backend B has c and d.
- dnsrouter (tests/system/dnsenv.py Dnsrouter, `workers` routers) and
  dnsdist (the Debian package) are both configured with the same two real
  routes, `^[ab]\\.miek` -> A and `^[cd]\\.miek` -> B, preceded by N filler
  routes that match none of the query names (--sizes gives the N's).
  No match is REFUSED in both. Neither caches answers.
- The bare forwarder (bench/bareforward.c, built by make bench or here):
  one process, epoll, recvmmsg/sendmmsg of 64, an ID table, routing by the
  first letter; no regexps, timeouts or checks. A yardstick for what a
  UDP forwarder must spend on this machine: every UDP block reports
  dnsrouter's figures against it as well as against dnsdist (--no-bare
  leaves it out; it has no TCP).
- dnsperf sends the query file (a, b, c, d .miek.nl TXT, so both backends
  and both routes are used) with `-c 4 -q 200 -l SECONDS`, as fast as the
  proxy answers (200 queries always outstanding).
- For each table size, both proxies are started, checked (every name must
  come back from the right backend, an unrouted name must be REFUSED),
  warmed up, then measured in alternation, the order flipping every round
  (round 1: dnsrouter then dnsdist, round 2: dnsdist then dnsrouter, ...).
  The median of the rounds is reported per system.

Figures:

- qps: dnsperf's "Queries per second" (completed / run time).
- avg: dnsperf's "Average Latency".
- p99: dnsperf 2.10 prints no percentiles (no histogram option either), but
  -v prints one line per query with its latency ("T" for a timeout). -v
  costs dnsperf enough CPU on this 2-core machine (shared with the proxy
  and both BIND servers) to lower the measured qps, and not by the same
  share for both proxies (measured: about -10 % for dnsrouter, -4 % for
  dnsdist). So each measured run is followed at once by a shorter run of
  the same shape with -v (--p99-seconds, default 4; 0: none), and p99 is
  computed from its lines (nearest rank, timeouts counted as infinitely
  slow). qps, avg, lost, CPU and RSS come from the run without -v.
  Note that at saturation latency is mostly queueing: avg is close to
  outstanding / qps (Little's law); --rate gives latency at a fixed rate.
- lost: dnsperf's "Queries lost" (no answer within -t, default 2 s here);
  any rcode other than NOERROR is listed too and flagged.
- CPU s / 100k q: utime+stime from /proc/PID/stat of every process of the
  proxy (dnsrouter: the master and all its descendants, routers and
  controller; dnsdist: its one process, which holds all its threads), after
  minus before the dnsperf run, per 100,000 completed queries. Lower is
  better. If the set of processes changes during a run (a child restarted),
  the figure is flagged.
- RSS: sum of VmRSS (/proc/PID/status) of those processes after each run;
  the table shows the largest (with --rss; always in --json).
- bound (UDP blocks): bench/udpfloor.c, compiled and run before anything
  starts, measures the CPU of one loopback datagram sent, delivered and
  received with nothing else in the way. A UDP proxy sends 2 and receives 2
  datagrams per query (and on loopback the sender runs the receiver's
  stack), so 2 x that is a floor for any proxy's CPU per query here. The
  bound lines give it as a fraction of dnsdist's CPU, and the qps a proxy
  at the floor could reach when the machine is CPU-bound (qps ~ 1 / all CPU
  per query, BIND and dnsperf costing what they cost behind dnsdist).
- Ratios are plain dnsrouter / dnsdist; for qps higher is better, for
  latency, CPU and RSS lower is better. "vs own 2 routes" is a system's
  median qps at this size divided by its median qps with no fillers.

dnsdist setup (see dnsdist_conf()): the listen address is bound
--dnsdist-listeners times (default 2, like dnsrouter's 2 workers on this
2-core machine) with reusePort=true, because dnsdist 1.7 handles UDP with
one thread per listen bind; a single bind would cap it at one core for
receiving. Each backend gets dnsdist's default of one responder thread,
health checks are SOA queries for the zone apex every second, security
polling is off, no console, no packet cache, everything else default.
Rules are installed with one setRules() call: the fillers, the two real
RegexRule -> PoolAction rules, then AllRule -> RCodeAction(REFUSED).
dnsdist matches regexps (POSIX extended, case-insensitive) against the name
without its trailing dot, dnsrouter (PCRE2) against the name with it, so
the filler patterns are written to mean the same (never match) for both.

--sizes: comma-separated numbers of filler routes placed AHEAD of the two
real ones (so "0,1000,10000" means 2, 1,002 and 10,002 routes in all).
Filler shapes rotate through anchored literal prefixes (^x123\\.), suffixes
(\\.zone123\\.example\\.?$), alternations (^(foo|bar)123\\.), character
classes with counts (^[q-z]{3}123\\.), near misses sharing the real routes'
start (^[a-d]\\.miek123\\.) and a leading wildcard (^[a-z0-9-]+\\.shard123\\.);
they alternate between the two backends' addresses.

Fixed rates: after the smallest table's UDP rounds, every system is run
at the same offered loads (dnsperf -Q), --fixed-rates percent of
dnsdist's median saturation qps (default 20,50,80), --rate-rounds rounds
(3) of --rate-seconds (4) with -v, alternating; the table gives p50 and
p99 per rate and dnsrouter / dnsdist. At saturation latency is queueing;
at a fixed rate it is what a client sees.

Targets (issue 16), printed last: on the smallest table over UDP, each
dnsrouter's CPU per query <= 1.10x the bare forwarder's and its qps >=
1.15x dnsdist's; p99 <= 1.0x dnsdist's at each fixed rate.

Other options: --tcp (also run with dnsperf -m tcp), --modes, --workers
(comma list of dnsrouter worker counts, default 1,2: each is a separate
dnsrouter compared with the same dnsdist), --rss, --rounds, --seconds,
--quick (smoke test, about 40 s), --json FILE. See --help.

Every process is started here and stopped by PID in finally blocks.
"""

import argparse
import copy
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
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

import dns.rcode  # noqa: E402

from dnsenv import (free_port, Named, Dnsrouter, ProcessError,  # noqa: E402
                    query, stop_pid, wait_for, pid_alive)
import zones  # noqa: E402

DNSPERF = shutil.which("dnsperf") or "/usr/bin/dnsperf"
DNSDIST = shutil.which("dnsdist") or "/usr/bin/dnsdist"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# (query name, type, TXT answer expected, backend letter)
QUERIES = [
    ("a.miek.nl.", "TXT", "aa", "A"),
    ("b.miek.nl.", "TXT", "bb", "A"),
    ("c.miek.nl.", "TXT", "cc", "B"),
    ("d.miek.nl.", "TXT", "dd", "B"),
]
ROUTE_A = r"^[ab]\.miek"
ROUTE_B = r"^[cd]\.miek"
UNROUTED = "nomatch.example."


class BenchError(RuntimeError):
    pass


# ------------------------------------------------------------------ routes

def filler_patterns(n):
    """n regexps that match none of the query names, in several shapes,
    meaning the same in PCRE2 (name with trailing dot) and POSIX ERE (name
    without it)."""
    shapes = [
        r"^x%d\.",
        r"\.zone%d\.example\.?$",
        r"^(foo|bar)%d\.",
        r"^[q-z]{3}%d\.",
        r"^[a-d]\.miek%d\.",
        r"^[a-z0-9-]+\.shard%d\.",
    ]
    return [shapes[i % len(shapes)] % i for i in range(n)]


def check_fillers(pats):
    names = [q[0] for q in QUERIES]
    for p in pats:
        r = re.compile(p, re.I)
        for nm in names:
            if r.search(nm) or r.search(nm.rstrip(".")):
                raise BenchError("filler %r matches %s" % (p, nm))


def dnsrouter_routes(fillers, addr_a, addr_b):
    lines = ["# %d filler routes, then the two real ones" % len(fillers)]
    for i, p in enumerate(fillers):
        lines.append("%s,%s" % (addr_a if i % 2 == 0 else addr_b, p))
    lines.append("%s,%s" % (addr_a, ROUTE_A))
    lines.append("%s,%s" % (addr_b, ROUTE_B))
    return lines


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dnsdist_base(port, listeners, addr_a, addr_b, by="bench/bench.py"):
    """The lines every dnsdist of the bench starts with: listeners and the
    two backends as pools A and B (no rules yet)."""
    out = [
        "-- written by " + by,
        'setSecurityPollSuffix("")',
        "setLocal(%s, {reusePort=true})" % lua_str("127.0.0.1:%d" % port),
    ]
    for _ in range(listeners - 1):
        out.append("addLocal(%s, {reusePort=true})"
                   % lua_str("127.0.0.1:%d" % port))
    for addr, pool in ((addr_a, "A"), (addr_b, "B")):
        out.append('newServer({address=%s, pool="%s", checkName="miek.nl.", '
                   'checkType="SOA", checkInterval=1})' % (lua_str(addr), pool))
    return out


def dnsdist_conf(port, listeners, addr_a, addr_b, fillers):
    out = dnsdist_base(port, listeners, addr_a, addr_b)
    out.append("setRules({")
    for i, p in enumerate(fillers):
        out.append(' newRuleAction(RegexRule(%s), PoolAction("%s")),'
                   % (lua_str(p), "A" if i % 2 == 0 else "B"))
    out.append(' newRuleAction(RegexRule(%s), PoolAction("A")),'
               % lua_str(ROUTE_A))
    out.append(' newRuleAction(RegexRule(%s), PoolAction("B")),'
               % lua_str(ROUTE_B))
    out.append(" newRuleAction(AllRule(), RCodeAction(DNSRCode.REFUSED)),")
    out.append("})")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------- processes

def proc_tree(pid):
    """pid and all its live descendants (via /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if not pid_alive(p):
            continue
        out.append(p)
        try:
            tasks = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for t in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return sorted(out)


def cpu_ticks(pid):
    """utime+stime of pid (all its threads), in clock ticks; None if gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])


def system_busy_s():
    """Busy CPU seconds of the whole machine so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


def udp_errors():
    """{RcvbufErrors, SndbufErrors, InErrors} of the machine's UDP stack:
    a lost query may have been dropped by a full socket buffer."""
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    d = dict(zip(rows[0][1:], (int(x) for x in rows[1][1:])))
    return {k: d.get(k, 0) for k in ("RcvbufErrors", "SndbufErrors",
                                     "InErrors")}


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


class Dnsdist:
    def __init__(self, workdir, port, conf_text):
        self.workdir = workdir
        self.port = port
        self.conf_path = os.path.join(workdir, "dnsdist.conf")
        self.log_path = os.path.join(workdir, "dnsdist.log")
        self.conf_text = conf_text
        self.proc = None
        self._log = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        with open(self.conf_path, "w") as f:
            f.write(self.conf_text)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [DNSDIST, "--supervised", "--disable-syslog", "-C",
             self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            cwd=self.workdir)
        return self

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_ready(self, timeout):
        def ready():
            if self.proc.poll() is not None:
                raise ProcessError("dnsdist exited with %s:\n%s"
                                   % (self.proc.returncode, self.log()[-3000:]))
            try:
                for name, qtype, _, _ in QUERIES:
                    r = query(self.port, name, qtype, timeout=0.3)
                    if r.rcode() != dns.rcode.NOERROR or not r.answer:
                        return False
                return True
            except Exception:
                return False
        wait_for(ready, timeout, 0.1, "dnsdist on port %d" % self.port)

    def stop(self):
        if self.proc is None:
            return None
        rc = stop_pid(self.proc, 10.0)
        if self._log:
            self._log.close()
            self._log = None
        return rc


class Bare(Dnsdist):
    """bench/bareforward.c, the yardstick: UDP only, routes by first
    letter, no timeouts or checks (see its header). Logs and stops as
    Dnsdist does."""

    def __init__(self, exe, workdir, port, addr_a, addr_b):
        Dnsdist.__init__(self, workdir, port, "")
        self.exe, self.addrs = exe, (addr_a, addr_b)
        self.log_path = os.path.join(workdir, "bareforward.log")

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.exe, str(self.port)] + list(self.addrs),
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        return self

    def wait_ready(self, timeout):
        def ready():
            if self.proc.poll() is not None:
                raise ProcessError("bareforward exited with %s:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                return all(query(self.port, n, t, timeout=0.3).answer
                           for n, t, _, _ in QUERIES)
            except Exception:
                return False
        wait_for(ready, timeout, 0.1, "bareforward on port %d" % self.port)


def build_bare(args, tmp):
    """The bare forwarder's binary: --bare, else compiled into tmp."""
    if args.bare:
        return args.bare
    exe = os.path.join(tmp, "bareforward")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise BenchError("no C compiler for bench/bareforward.c")
    subprocess.run([cc, "-O2", "-o", exe, os.path.join(HERE, "bareforward.c")],
                   check=True, capture_output=True, timeout=60)
    return exe


class System:
    """One proxy under test: a label and a started daemon."""

    def __init__(self, label, kind, daemon, workers=None, listeners=None):
        self.label = label
        self.kind = kind            # "dnsrouter", "dnsdist" or "bare"
        self.daemon = daemon
        self.workers = workers
        self.listeners = listeners
        self.port = daemon.port
        self.runs = []              # dicts from measure()
        self.problems = []
        self.startup_s = None

    def pids(self):
        return proc_tree(self.daemon.pid)


# ------------------------------------------------------------- measuring

def check_answers(sysm, tcp_too=True):
    """Every query name answered by the right backend, unrouted: REFUSED."""
    errs = []
    for tcp in ((False, True) if tcp_too else (False,)):
        proto = "TCP" if tcp else "UDP"
        for name, qtype, want, be in QUERIES:
            try:
                r = query(sysm.port, name, qtype, tcp=tcp, timeout=2.0)
            except Exception as e:
                errs.append("%s %s %s: %s" % (proto, name, qtype,
                                              type(e).__name__))
                continue
            txt = [s.decode() for rr in r.answer for rd in rr
                   for s in getattr(rd, "strings", ())]
            if r.rcode() != dns.rcode.NOERROR or txt != [want]:
                errs.append("%s %s %s: %s %s, want NOERROR [%r] from "
                            "backend %s" % (proto, name, qtype,
                                            dns.rcode.to_text(r.rcode()),
                                            txt, want, be))
        try:
            r = query(sysm.port, UNROUTED, "A", tcp=tcp, timeout=2.0)
            if r.rcode() != dns.rcode.REFUSED:
                errs.append("%s %s A: %s, want REFUSED" % (
                    proto, UNROUTED, dns.rcode.to_text(r.rcode())))
        except Exception as e:
            errs.append("%s %s A: %s" % (proto, UNROUTED, type(e).__name__))
    return errs


def parse_dnsperf(text):
    """The summary figures of dnsperf's output."""
    def num(pat, cast=float, default=None):
        m = re.search(pat, text, re.M)
        return cast(m.group(1)) if m else default
    res = {
        "sent": num(r"Queries sent:\s+(\d+)", int),
        "completed": num(r"Queries completed:\s+(\d+)", int),
        "lost": num(r"Queries lost:\s+(\d+)", int),
        "qps": num(r"Queries per second:\s+([\d.]+)"),
        "avg_s": num(r"Average Latency \(s\):\s+([\d.]+)"),
        "max_s": num(r"Average Latency \(s\):.*max ([\d.]+)"),
        "runtime_s": num(r"Run time \(s\):\s+([\d.]+)"),
    }
    rc = {}
    m = re.search(r"Response codes:\s+(.*)$", text, re.M)
    if m:
        for code, cnt in re.findall(r"([A-Z]+) (\d+) \(", m.group(1)):
            rc[code] = int(cnt)
    res["rcodes"] = rc
    return res


def latency_percentiles(path):
    """p50/p99/p99.9 from dnsperf -v lines '> RCODE name type latency';
    '> T name type' (timeout) counts as infinitely slow."""
    lat = []
    timeouts = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.startswith(b"> "):
                continue
            parts = line.split()
            if len(parts) >= 5:
                try:
                    lat.append(float(parts[4]))
                except ValueError:
                    pass
            elif len(parts) >= 2 and parts[1] == b"T":
                timeouts += 1
    n = len(lat) + timeouts
    if n == 0:
        return {"samples": 0}
    lat.sort()
    out = {"samples": n, "timeouts": timeouts}
    for key, q in (("p50_s", 0.50), ("p99_s", 0.99), ("p999_s", 0.999)):
        k = min(n - 1, int(q * n))  # nearest rank, 0-based
        out[key] = lat[k] if k < len(lat) else float("inf")
    return out


def run_dnsperf(args, port, mode, seconds, qfile, outdir, tag, verbose):
    """Run dnsperf once; return (parsed figures, dnsperf rusage CPU s)."""
    out_path = os.path.join(outdir, "dnsperf-%s.out" % tag)
    err_path = os.path.join(outdir, "dnsperf-%s.err" % tag)
    cmd = [DNSPERF, "-s", "127.0.0.1", "-p", str(port), "-d", qfile,
           "-c", str(args.clients), "-q", str(args.outstanding),
           "-l", "%g" % seconds, "-t", "%g" % args.timeout, "-m", mode]
    if args.rate:
        cmd += ["-Q", str(args.rate)]
    if verbose:
        cmd.append("-v")
    with open(out_path, "wb") as o, open(err_path, "wb") as e:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o,
                             stderr=e)
        try:
            deadline = time.monotonic() + seconds + args.timeout + 30
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    p.returncode = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() > deadline:
                    raise BenchError("dnsperf did not finish in time")
                time.sleep(0.05)
        finally:
            if p.returncode is None:
                stop_pid(p, 2.0)
    with open(out_path, "rb") as f:
        head = f.read(4096)
    # The summary is at the end; read the tail without loading -v lines.
    with open(out_path, "rb") as f:
        f.seek(max(0, os.path.getsize(out_path) - 4096))
        tail = f.read()
    with open(err_path, errors="replace") as f:
        err = f.read()
    text = (head + b"\n" + tail).decode("utf-8", "replace")
    res = parse_dnsperf(text)
    if p.returncode != 0 or res["qps"] is None:
        raise BenchError("dnsperf failed (exit %s): %s\n%s"
                         % (p.returncode, " ".join(cmd), (err or text)[-2000:]))
    if verbose:
        res.update(latency_percentiles(out_path))
    res["dnsperf_cpu_s"] = ru.ru_utime + ru.ru_stime
    res["cmd"] = " ".join(cmd)
    os.unlink(out_path)
    return res


def measure(args, sysm, mode, seconds, qfile, outdir, tag, backends,
            verbose=False):
    pids_before = sysm.pids()
    cpu0 = {p: cpu_ticks(p) for p in pids_before}
    bcpu0 = {b.pid: cpu_ticks(b.pid) for b in backends}
    busy0 = system_busy_s()
    udp0 = udp_errors()
    res = run_dnsperf(args, sysm.port, mode, seconds, qfile, outdir, tag,
                      verbose)
    busy1 = system_busy_s()
    udp1 = udp_errors()
    pids_after = sysm.pids()
    cpu1 = {p: cpu_ticks(p) for p in pids_after}
    bcpu1 = {b.pid: cpu_ticks(b.pid) for b in backends}
    notes = []
    if set(pids_before) != set(pids_after):
        gone = sorted(set(pids_before) - set(pids_after))
        new = sorted(set(pids_after) - set(pids_before))
        notes.append("process set changed during the run: gone %s, new %s"
                     " (CPU of exited processes is missing)" % (gone, new))
    ticks = sum((cpu1[p] or 0) - (cpu0.get(p) or 0) for p in pids_after
                if cpu1.get(p) is not None)
    bticks = sum((bcpu1[p] or 0) - (bcpu0[p] or 0) for p in bcpu1
                 if bcpu1[p] is not None and bcpu0.get(p) is not None)
    done = res["completed"] or 0
    res["cpu_s"] = ticks / CLK_TCK
    res["backends_cpu_s"] = bticks / CLK_TCK
    res["cpu_per_100k"] = (res["cpu_s"] / done * 1e5) if done else None
    res["backends_cpu_per_100k"] = (res["backends_cpu_s"] / done * 1e5
                                    if done else None)
    res["dnsperf_cpu_per_100k"] = (res["dnsperf_cpu_s"] / done * 1e5
                                   if done else None)
    # Everything else the machine did meanwhile (other people's processes,
    # interrupts not charged to a process): a warning sign for the figures.
    res["other_cpu_s"] = max(0.0, (busy1 - busy0) - res["cpu_s"]
                             - res["backends_cpu_s"] - res["dnsperf_cpu_s"])
    # Softirq time of loopback traffic lands here too: about 0.5-1.5 s per
    # 8 s run on a quiet 2-core machine.
    if res["other_cpu_s"] > 0.25 * seconds:
        notes.append("CPU used outside proxy, backends and dnsperf: %.1f s "
                     "in a %g s run (softirq, or other processes: figures "
                     "may be disturbed)" % (res["other_cpu_s"], seconds))
    res["udp_errors"] = {k: udp1[k] - udp0[k] for k in udp1}
    if res["lost"] and any(res["udp_errors"].values()):
        notes.append("UDP stack errors during the run: %s" % res["udp_errors"])
    res["rss_kib"] = {"%d %s" % (p, comm(p)): rss_kib(p) for p in pids_after}
    res["rss_total_kib"] = sum(res["rss_kib"].values())
    res["pids"] = pids_after
    bad = {k: v for k, v in res["rcodes"].items() if k != "NOERROR"}
    if bad:
        notes.append("rcodes other than NOERROR: %s" % bad)
    if res["lost"]:
        notes.append("%d queries lost (no answer within %gs)"
                     % (res["lost"], args.timeout))
    for p in pids_after:
        if not pid_alive(p):
            notes.append("process %d died" % p)
    res["notes"] = notes
    return res


def add_p99(args, sysm, mode, qfile, outdir, tag, res):
    """The -v run right after a measured one: its percentiles go into res."""
    lat = run_dnsperf(args, sysm.port, mode, args.p99_seconds, qfile, outdir,
                      tag + "-v", verbose=True)
    for k in ("p50_s", "p99_s", "p999_s"):
        res[k] = lat.get(k)
    res["p99_run"] = {k: lat.get(k) for k in (
        "qps", "avg_s", "completed", "lost", "rcodes", "samples", "timeouts",
        "cmd")}
    bad = {k: v for k, v in lat["rcodes"].items() if k != "NOERROR"}
    if bad:
        res["notes"].append("p99 run: rcodes other than NOERROR: %s" % bad)
    if lat["lost"]:
        res["notes"].append("p99 run: %d queries lost (no answer within %gs)"
                            % (lat["lost"], args.timeout))
    if not pid_alive(sysm.daemon.pid):
        res["notes"].append("master %d died" % sysm.daemon.pid)


def median_of(runs, key):
    vals = [r.get(key) for r in runs if r.get(key) is not None]
    if not vals:
        return None
    return statistics.median(vals)


def summarize(runs):
    s = {}
    for key in ("qps", "avg_s", "p99_s", "cpu_per_100k", "rss_total_kib",
                "backends_cpu_per_100k", "dnsperf_cpu_s",
                "dnsperf_cpu_per_100k", "p50_s", "p999_s"):
        s[key] = median_of(runs, key)
    s["lost"] = sum(r["lost"] or 0 for r in runs)
    s["completed"] = sum(r["completed"] or 0 for r in runs)
    s["rss_max_kib"] = max((r["rss_total_kib"] for r in runs), default=None)
    s["rounds"] = len(runs)
    return s


# ---------------------------------------------------------------- output

def fmt_num(v, spec, inf="inf"):
    if v is None:
        return "-"
    if v == float("inf"):
        return inf
    return format(v, spec)


def fmt_ratio(v):
    """Two decimals, three below 0.1 (so small ratios do not read 0.00)."""
    if v is None:
        return "-"
    return format(v, ".3f" if v < 0.1 else ".2f")


def ratio(a, b):
    if a is None or b is None or b == 0 or a == float("inf") \
            or b == float("inf"):
        return None
    return a / b


def udp_floor(tmp):
    """CPU microseconds per loopback UDP datagram (sent, delivered,
    received) from bench/udpfloor.c, compiled here: the median of 3 runs of
    500,000 datagrams of 64 bytes, on the machine before any system starts.
    None if it cannot be built or run."""
    exe = os.path.join(tmp, "udpfloor")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    try:
        subprocess.run([cc, "-O2", "-o", exe,
                        os.path.join(HERE, "udpfloor.c")], check=True,
                       capture_output=True, timeout=60)
        vals = []
        for _ in range(3):
            out = subprocess.run([exe, "500000", "64"], check=True,
                                 capture_output=True, text=True,
                                 timeout=60).stdout.split()
            vals.append(float(out[2]))
    except (subprocess.SubprocessError, OSError, IndexError, ValueError):
        return None
    return statistics.median(vals)


def print_bounds(floor_us, systems):
    """What no UDP proxy can beat on this machine, next to the figures: a
    proxy sends 2 datagrams and receives 2 per query, i.e. 2 x the floor of
    one sent+delivered+received datagram. And if the machine is CPU-bound
    (dnsperf, both BIND and the proxy share the cores), queries/s go as
    1 / (all CPU per query): with the others costing what they cost behind
    dnsdist, a proxy at the floor could reach at most this much more."""
    dd = next((summ for sysm, summ in systems if sysm.kind == "dnsdist"),
              None)
    if floor_us is None or dd is None or not dd.get("cpu_per_100k"):
        return
    floor = 2 * floor_us * 1e-6 * 1e5      # s per 100k queries
    print("bound: a UDP proxy's CPU floor here is 2 x %.2f us per query "
          "(bench/udpfloor.c) = %.3f s/100k q = %.2fx dnsdist's CPU"
          % (floor_us, floor, floor / dd["cpu_per_100k"]))
    others = (dd.get("backends_cpu_per_100k") or 0) + \
        (dd.get("dnsperf_cpu_per_100k") or 0)
    if others:
        total = dd["cpu_per_100k"] + others
        print("bound: with BIND + dnsperf at %.3f s/100k q (behind dnsdist), "
              "a proxy at that floor could reach %.2fx dnsdist's qps on a "
              "CPU-bound machine" % (others, total / (floor + others)))
    for sysm, summ in systems:
        if sysm.kind != "dnsrouter" or not summ.get("cpu_per_100k"):
            continue
        print("bound: %s uses %.2fx the floor; BIND + dnsperf behind it: "
              "%.3f s/100k q" % (sysm.label, summ["cpu_per_100k"] / floor,
                                 (summ.get("backends_cpu_per_100k") or 0) +
                                 (summ.get("dnsperf_cpu_per_100k") or 0)))


def print_block(args, title, systems, base_qps):
    """One table for one (mode, size)."""
    show_rss = args.rss
    cols = ["system", "qps", "avg ms", "p99 ms", "lost", "CPU s/100k q",
            "vs own 2 routes"]
    if show_rss:
        cols.append("RSS MiB")
    rows = []
    dd = None
    for sysm, summ in systems:
        if sysm.kind == "dnsdist":
            dd = summ
        own = base_qps.get(sysm.label)
        row = [sysm.label,
               fmt_num(summ["qps"], ",.0f"),
               fmt_num(summ["avg_s"] and summ["avg_s"] * 1e3, ".3f"),
               fmt_num(summ["p99_s"] and summ["p99_s"] * 1e3, ".3f"),
               "%d" % summ["lost"],
               fmt_num(summ["cpu_per_100k"], ".3f"),
               fmt_ratio(ratio(summ["qps"], own))]
        if show_rss:
            row.append(fmt_num(summ["rss_max_kib"] and
                               summ["rss_max_kib"] / 1024, ".1f"))
        rows.append(row)
    bare = next((summ for sysm, summ in systems if sysm.kind == "bare"),
                None)
    if bare is not None:
        for sysm, summ in systems:
            if sysm.kind != "dnsrouter":
                continue
            row = ["ratio %s / bare" % sysm.label,
                   fmt_ratio(ratio(summ["qps"], bare["qps"])) + " (hi)",
                   fmt_ratio(ratio(summ["avg_s"], bare["avg_s"])) + " (lo)",
                   fmt_ratio(ratio(summ["p99_s"], bare["p99_s"])) + " (lo)",
                   "",
                   fmt_num(ratio(summ["cpu_per_100k"],
                                 bare["cpu_per_100k"]), ".2f") + " (lo)",
                   ""]
            if show_rss:
                row.append("")
            rows.append(row)
    if dd is not None:
        for sysm, summ in systems:
            if sysm.kind not in ("dnsrouter", "bare"):
                continue
            row = ["ratio %s / dnsdist" % sysm.label,
                   fmt_ratio(ratio(summ["qps"], dd["qps"])) + " (hi)",
                   fmt_ratio(ratio(summ["avg_s"], dd["avg_s"])) + " (lo)",
                   fmt_ratio(ratio(summ["p99_s"], dd["p99_s"])) + " (lo)",
                   "",
                   fmt_num(ratio(summ["cpu_per_100k"], dd["cpu_per_100k"]),
                           ".2f") + " (lo)",
                   ""]
            if show_rss:
                row.append(fmt_num(ratio(summ["rss_max_kib"],
                                         dd["rss_max_kib"]), ".2f") + " (lo)")
            rows.append(row)
    print()
    print(title)
    show(cols, rows)


def show(cols, rows):
    """A table: the first column left-aligned, the others right."""
    widths = [max(len(str(r[i])) for r in rows + [cols])
              for i in range(len(cols))]
    line = "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                     for i, c in enumerate(cols))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(widths[0]) if i == 0
                        else str(c).rjust(widths[i])
                        for i, c in enumerate(r)))


# ------------------------------------------------------------------ main

def add_dnsperf_args(ap):
    """The dnsperf options run_dnsperf, measure and add_p99 read."""
    ap.add_argument("--p99-seconds", type=float, default=4,
                    help="length of the dnsperf -v run after each measured "
                    "run, for p99 (default 4; 0: no p99)")
    ap.add_argument("--clients", type=int, default=4, help="dnsperf -c (4)")
    ap.add_argument("--outstanding", type=int, default=200,
                    help="dnsperf -q (200)")
    ap.add_argument("--rate", type=int, default=0,
                    help="dnsperf -Q: fixed query rate instead of saturation, "
                    "for latency below capacity (default 0: as fast as it "
                    "goes)")
    ap.add_argument("--timeout", type=float, default=2,
                    help="dnsperf -t, seconds before a query is lost (2)")


def add_round_args(ap, warmup):
    """The options of the benches that pit two or four systems against
    each other in rounds (cache.py, dnstap.py): build, rounds, seconds,
    warm-up (default warmup seconds) and workers."""
    ap.add_argument("--build", required=True, help="dnsrouter build dir")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    ap.add_argument("--seconds", type=float, default=8,
                    help="dnsperf -l per measured run (8)")
    ap.add_argument("--warmup", type=float, default=warmup,
                    help="warm-up run per system, s (%g)" % warmup)
    ap.add_argument("--workers", type=int, default=2,
                    help="dnsrouter workers = dnsdist listener binds (2)")


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="dnsperf against dnsrouter and dnsdist on the same BIND "
        "backends with the same routes (see the module docstring).")
    ap.add_argument("--build", required=True,
                    help="build directory holding dnsrouter and its children")
    ap.add_argument("--rounds", type=int, default=3,
                    help="measured runs per system and table size (default 3)")
    ap.add_argument("--seconds", type=float, default=8,
                    help="dnsperf -l of each measured run (default 8)")
    ap.add_argument("--warmup", type=float, default=2,
                    help="unmeasured dnsperf run per system first (default 2 s;"
                    " 0: none)")
    ap.add_argument("--sizes", default="0,1000,10000",
                    help="filler routes ahead of the 2 real ones, comma list "
                    "(default 0,1000,10000: 2, 1,002 and 10,002 routes)")
    ap.add_argument("--workers", default="1,2",
                    help="dnsrouter worker counts, comma list; each is its own "
                    "dnsrouter (default 1,2)")
    ap.add_argument("--dnsdist-listeners", type=int, default=2,
                    help="reusePort listen binds for dnsdist, i.e. its UDP "
                    "receiver threads (default 2)")
    ap.add_argument("--tcp", action="store_true",
                    help="also measure over TCP (dnsperf -m tcp)")
    ap.add_argument("--modes", default=None,
                    help="comma list of dnsperf modes (udp,tcp); overrides "
                    "--tcp")
    ap.add_argument("--rss", action="store_true",
                    help="show resident memory (sum of VmRSS) in the table")
    add_dnsperf_args(ap)
    ap.add_argument("--only", choices=("dnsrouter", "dnsdist"),
                    help="measure only one of the two (no bare forwarder)")
    ap.add_argument("--bare", metavar="EXE",
                    help="bench/bareforward.c's binary (make bench builds "
                    "it; default: compiled here)")
    ap.add_argument("--no-bare", action="store_true",
                    help="leave the bare forwarder out")
    ap.add_argument("--fixed-rates", default="20,50,80",
                    help="UDP latency at these percentages of dnsdist's "
                    "saturation qps, smallest table only, comma list "
                    "(default 20,50,80; empty: none)")
    ap.add_argument("--rate-seconds", type=float, default=4,
                    help="dnsperf -l of each fixed-rate run (4)")
    ap.add_argument("--rate-rounds", type=int, default=3,
                    help="fixed-rate runs per system and rate (3)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 round of 2 s, sizes 0,1000, 0.5 s "
                    "warm-up (about 30 s)")
    ap.add_argument("--json", metavar="FILE",
                    help="write all results (every run) as JSON to FILE")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (configs, logs)")
    a = ap.parse_args(argv)
    if a.quick:
        a.rounds, a.seconds, a.warmup, a.sizes = 1, 2, 0.5, "0,1000"
        a.p99_seconds = min(a.p99_seconds, 1)
    a.sizes = [int(x) for x in a.sizes.split(",") if x.strip()]
    a.fixed_rates = [int(x) for x in a.fixed_rates.split(",") if x.strip()]
    if a.quick:
        a.rate_seconds, a.rate_rounds = 1, 1
    a.workers = [int(x) for x in a.workers.split(",") if x.strip()]
    if a.modes:
        a.modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    else:
        a.modes = ["udp", "tcp"] if a.tcp else ["udp"]
    for m in a.modes:
        if m not in ("udp", "tcp"):
            ap.error("mode %r: udp or tcp" % m)
    if a.rounds < 1 or a.seconds <= 0 or not a.sizes or not a.workers:
        ap.error("rounds, seconds, sizes and workers must be positive")
    return a


def start_systems(args, size, tmp, addr_a, addr_b, fillers, problems,
                  systems):
    """Start the proxies for one table size, appending each to systems
    before it starts (so the caller's finally can stop it). One that does
    not come up is logged in problems, stopped and removed again."""
    todo = []
    if args.only != "dnsdist":
        routes = dnsrouter_routes(fillers, addr_a, addr_b)
        for w in args.workers:
            d = Dnsrouter(args.build,
                          os.path.join(tmp, "dr-%d-w%d" % (size, w)),
                          free_port(), routes, workers=w, timeout="1000ms")
            todo.append(System("dnsrouter w=%d" % w, "dnsrouter", d,
                               workers=w))
    if args.only is None and args.bare_exe:
        d = Bare(args.bare_exe, os.path.join(tmp, "bare-%d" % size),
                 free_port(), addr_a, addr_b)
        todo.append(System("bare forwarder", "bare", d, workers=1))
    if args.only != "dnsrouter":
        port = free_port()
        conf = dnsdist_conf(port, args.dnsdist_listeners, addr_a, addr_b,
                            fillers)
        d = Dnsdist(os.path.join(tmp, "dd-%d" % size), port, conf)
        todo.append(System("dnsdist", "dnsdist", d,
                           listeners=args.dnsdist_listeners))
    for s in todo:
        systems.append(s)
        try:
            # Bounded; a large routes file takes the controller longer.
            bring_up(s, [("a.miek.nl.", "TXT"), ("c.miek.nl.", "TXT")], 120)
        except (ProcessError, OSError) as e:
            problems.append("%s with %d+2 routes did not come up: %s"
                            % (s.label, size, str(e)[:3000]))
            print("bench: PROBLEM: %s" % problems[-1], flush=True)
            systems.remove(s)
            stop_systems([s], problems)
            continue


def fixed_rates(args, msys, summ, qfile, tmp, problems):
    """Latency below saturation: each system at the same offered loads,
    --fixed-rates percent of dnsdist's median saturation qps (dnsperf -Q,
    -v for the percentiles), --rate-rounds rounds in alternation, --rate-
    seconds each. Returns {"rates": [[percent, qps]], "systems": {label:
    {"p50_s": [...], "p99_s": [...], "qps": [...], "lost": [...]}}, one
    median per rate, and "runs"}."""
    dd = next((sm for sy, sm in summ if sy.kind == "dnsdist"), None)
    if dd is None or not dd.get("qps"):
        return None
    rates = [[pct, int(dd["qps"] * pct / 100)] for pct in args.fixed_rates]
    out = {"rates": rates, "systems": {}, "runs": {}}
    for pct, rate in rates:
        fixed = copy.copy(args)
        fixed.rate = rate
        per = {sy.label: [] for sy in msys}
        for r in range(args.rate_rounds):
            for sy in (msys if r % 2 == 0 else msys[::-1]):
                tag = "rate%d-%s-%d" % (pct, sy.label.replace(" ", ""), r)
                try:
                    res = run_dnsperf(fixed, sy.port, "udp", args.rate_seconds,
                                      qfile, tmp, tag, verbose=True)
                except BenchError as e:
                    problems.append("%s at %d qps round %d: run lost: %s"
                                    % (sy.label, rate, r + 1, str(e)[:600]))
                    continue
                per[sy.label].append(res)
                if res["lost"]:
                    problems.append("%s at %d qps round %d: %d queries lost"
                                    % (sy.label, rate, r + 1, res["lost"]))
                print("bench: UDP at %d qps (%d %% of dnsdist's) round %d "
                      "%-14s p50 %s ms  p99 %s ms  lost %d"
                      % (rate, pct, r + 1, sy.label,
                         fmt_num(res.get("p50_s") and res["p50_s"] * 1e3,
                                 ".3f"),
                         fmt_num(res.get("p99_s") and res["p99_s"] * 1e3,
                                 ".3f"), res["lost"] or 0), flush=True)
        for sy in msys:
            d = out["systems"].setdefault(sy.label, {
                "kind": sy.kind, "p50_s": [], "p99_s": [], "qps": [],
                "lost": []})
            for k in ("p50_s", "p99_s", "qps"):
                d[k].append(median_of(per[sy.label], k))
            d["lost"].append(sum(x["lost"] or 0 for x in per[sy.label]))
            out["runs"]["%s@%d" % (sy.label, rate)] = per[sy.label]
    return out


def print_fixed(fx):
    """The fixed-rate table: p50 and p99 per rate, ratios to dnsdist."""
    cols = ["system"]
    for pct, rate in fx["rates"]:
        cols += ["p50 ms @%d%%" % pct, "p99 ms @%d%%" % pct]
    rows = []
    dd = next((d for d in fx["systems"].values() if d["kind"] == "dnsdist"),
              None)
    for label, d in fx["systems"].items():
        row = [label]
        for i in range(len(fx["rates"])):
            row += [fmt_num(d["p50_s"][i] and d["p50_s"][i] * 1e3, ".3f"),
                    fmt_num(d["p99_s"][i] and d["p99_s"][i] * 1e3, ".3f")]
        rows.append(row)
    for label, d in fx["systems"].items():
        if d["kind"] != "dnsrouter" or dd is None:
            continue
        row = ["ratio %s / dnsdist" % label]
        for i in range(len(fx["rates"])):
            row += [fmt_ratio(ratio(d["p50_s"][i], dd["p50_s"][i])),
                    fmt_ratio(ratio(d["p99_s"][i], dd["p99_s"][i])) + " (lo)"]
        rows.append(row)
    print()
    print("UDP latency at fixed rates (dnsperf -Q; percent of dnsdist's "
          "saturation qps: %s)" % ", ".join("%d %% = %s qps" % (p, format(r, ","))
                                             for p, r in fx["rates"]))
    show(cols, rows)


def print_targets(blocks):
    """Issue 16's targets, on the smallest table's UDP block and its
    fixed-rate runs: met or not, with the figures."""
    b = next((b for b in blocks if b["mode"] == "udp"), None)
    if b is None:
        return
    by = {sy.label: (sy, sm) for sy, sm in b["_summ"]}
    bare = next((sm for sy, sm in by.values() if sy.kind == "bare"), None)
    dd = next((sm for sy, sm in by.values() if sy.kind == "dnsdist"), None)
    print()
    for sy, sm in by.values():
        if sy.kind != "dnsrouter":
            continue
        if bare is not None:
            c = ratio(sm["cpu_per_100k"], bare["cpu_per_100k"])
            print("target: %s CPU per query <= 1.10x the bare forwarder: "
                  "%s, %s" % (sy.label, fmt_ratio(c), "met" if c is not None
                              and c <= 1.10 else "NOT met"))
        if dd is not None:
            q = ratio(sm["qps"], dd["qps"])
            print("target: %s qps >= 1.15x dnsdist: %s, %s"
                  % (sy.label, fmt_ratio(q), "met" if q is not None and
                     q >= 1.15 else "NOT met"))
    fx = b.get("fixed")
    if fx:
        ddf = next((d for d in fx["systems"].values()
                    if d["kind"] == "dnsdist"), None)
        for label, d in fx["systems"].items():
            if d["kind"] != "dnsrouter" or ddf is None:
                continue
            rs = [ratio(d["p99_s"][i], ddf["p99_s"][i])
                  for i in range(len(fx["rates"]))]
            ok = all(x is not None and x <= 1.0 for x in rs)
            print("target: %s p99 <= 1.0x dnsdist at each fixed rate: %s, %s"
                  % (label, ", ".join(fmt_ratio(x) for x in rs),
                     "met" if ok else "NOT met"))


def require_programs(build, extra=()):
    """Exit with a clear message when dnsrouter's build or a program the
    benches run (dnsperf, dnsdist, named, and extra) is missing."""
    for exe in ("dnsrouter", "dnsrouter-router", "dnsrouter-controller"):
        if not os.access(os.path.join(build, exe), os.X_OK):
            sys.exit("bench: %s/%s missing: run make first" % (build, exe))
    for exe in (DNSPERF, DNSDIST, "/usr/sbin/named") + tuple(extra):
        if not os.access(exe, os.X_OK):
            sys.exit("bench: %s missing (mk/deps.sh bench installs it)" % exe)


def alternating_rounds(args, systems, qfile, tmp, backends, problems, name,
                       before=None, after=None):
    """args.rounds measured UDP runs of every system, in alternation (the
    order flips every round), each followed by its p99 run: {label: [run
    results]}. before(s) is called just before a run, after(s, res, b) just
    after it with what before returned (to add figures of its own); name
    prefixes the progress lines and the dnsperf output files."""
    per = {s.label: [] for s in systems}
    for r in range(args.rounds):
        for s in (systems if r % 2 == 0 else systems[::-1]):
            tag = "%s-%s-%d" % (name, s.label.replace(" ", ""), r)
            b = before(s) if before else None
            try:
                res = measure(args, s, "udp", args.seconds, qfile, tmp, tag,
                              backends)
            except BenchError as e:
                problems.append("%s round %d: run lost: %s"
                                % (s.label, r + 1, str(e)[:600]))
                continue
            extra = after(s, res, b) if after else ""
            if args.p99_seconds > 0:
                try:
                    add_p99(args, s, "udp", qfile, tmp, tag, res)
                except BenchError as e:
                    res["notes"].append("p99 run lost: %s" % str(e)[:600])
            per[s.label].append(res)
            print("%s: round %d %-17s %8.0f qps  avg %.3f ms  p99 %s ms  "
                  "lost %d  CPU %.3f s/100k%s%s"
                  % (name, r + 1, s.label, res["qps"], res["avg_s"] * 1e3,
                     fmt_num(res.get("p99_s") and res["p99_s"] * 1e3, ".3f"),
                     res["lost"] or 0, res["cpu_per_100k"] or 0, extra or "",
                     "  [" + "; ".join(res["notes"]) + "]"
                     if res["notes"] else ""), flush=True)
            for n in res["notes"]:
                problems.append("%s round %d: %s" % (s.label, r + 1, n))
    return per


def ratio_rows(summ, pairs, blanks):
    """Table rows "ratio a / b" (qps, avg, p99, lost, CPU) for each pair of
    labels in summ [(label, summary)], with blanks empty cells after."""
    by = dict(summ)
    rows = []
    for a, b in pairs:
        if a in by and b in by:
            x, y = by[a], by[b]
            rows.append(["ratio %s / %s" % (a, b),
                         fmt_ratio(ratio(x["qps"], y["qps"])) + " (hi)",
                         fmt_ratio(ratio(x["avg_s"], y["avg_s"])) + " (lo)",
                         fmt_ratio(ratio(x["p99_s"], y["p99_s"])) + " (lo)",
                         "",
                         fmt_ratio(ratio(x["cpu_per_100k"],
                                         y["cpu_per_100k"])) + " (lo)"]
                        + [""] * blanks)
    return rows


def finish(name, problems, results, json_path, t_start):
    """The end of a bench's report: total time, the problems, the JSON
    file; the exit status (1 when a problem is a wrong answer, a failed
    start or stop, or an interruption)."""
    print("total time %.0f s" % (time.monotonic() - t_start))
    if problems:
        print()
        print("PROBLEMS (%d):" % len(problems))
        for p in problems[:40]:
            print("  - " + p)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1, default=str)
        print("%s: wrote %s" % (name, json_path))
    hard = [p for p in problems if "wrongly" in p or "interrupted" in p
            or " stop:" in p or "did not come up" in p]
    return 1 if hard else 0


def bring_up(s, names, timeout):
    """Start s's daemon and wait until it answers: a dnsrouter each of
    names [(name, type)] (one per backend), dnsdist the QUERIES. Sets
    s.startup_s; raises what the daemon's start or wait raises."""
    t0 = time.monotonic()
    s.daemon.start()
    if s.kind == "dnsrouter":
        for name, qtype in names:
            s.daemon.wait_ready(name, qtype, timeout=timeout)
    else:
        s.daemon.wait_ready(timeout * 1.5)
    s.startup_s = time.monotonic() - t0


def stop_systems(systems, problems):
    for s in reversed(systems):
        try:
            if s.kind == "dnsrouter":
                s.daemon.stop(check=True)
            else:
                rc = s.daemon.stop()
                if rc is None:
                    problems.append("dnsdist had to be SIGKILLed")
        except ProcessError as e:
            problems.append("%s stop: %s" % (s.label, str(e)[:1500]))


def log_problems(sysm):
    """Warning/error lines in the daemon's log (bounded)."""
    text = sysm.daemon.log()
    pat = re.compile(r"(error|warn|fatal|fail|crash|signal|restart|"
                     r"dropped|overflow)", re.I)
    lines = [l for l in text.splitlines() if pat.search(l)]
    return lines


class Terminated(Exception):
    pass


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for exe in ("dnsrouter", "dnsrouter-router", "dnsrouter-controller"):
        if not os.access(os.path.join(args.build, exe), os.X_OK) \
                and args.only != "dnsdist":
            sys.exit("bench: %s/%s missing: run make first" % (args.build, exe))
    for exe in (DNSPERF, DNSDIST, "/usr/sbin/named"):
        if not os.access(exe, os.X_OK):
            sys.exit("bench: %s missing (mk/deps.sh bench installs it)" % exe)

    def on_term(signum, frame):
        raise Terminated("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)

    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="drbench.")
    qfile = os.path.join(tmp, "queries")
    with open(qfile, "w") as f:
        for name, qtype, _, _ in QUERIES:
            f.write("%s %s\n" % (name.rstrip("."), qtype))
    named = []
    results = {"config": {
        "rounds": args.rounds, "seconds": args.seconds, "warmup": args.warmup,
        "sizes_fillers": args.sizes, "workers": args.workers,
        "dnsdist_listeners": args.dnsdist_listeners, "modes": args.modes,
        "dnsperf": {"clients": args.clients, "outstanding": args.outstanding,
                    "timeout": args.timeout, "p99_seconds": args.p99_seconds},
        "queries": ["%s %s" % (q[0], q[1]) for q in QUERIES],
        "cpus": os.cpu_count()},
        "blocks": [], "problems": []}
    problems = results["problems"]
    blocks = []
    base_qps = {}   # (mode, label) -> median qps at the smallest size
    try:
        pa, pb = free_port(), free_port()
        na = Named(os.path.join(tmp, "named-a"), pa,
                   {zones.ORIGIN: zones.zone_ab()}, server_id="shard-ab",
                   querylog=False)
        na.start()
        named.append(na)
        nb = Named(os.path.join(tmp, "named-b"), pb,
                   {zones.ORIGIN: zones.zone_cd()}, server_id="shard-cd",
                   querylog=False)
        nb.start()
        named.append(nb)
        addr_a, addr_b = "127.0.0.1:%d" % pa, "127.0.0.1:%d" % pb
        with open("/proc/loadavg") as f:
            results["loadavg_at_start"] = f.read().strip()
        results["udp_floor_us"] = floor_us = udp_floor(tmp)
        args.bare_exe = None
        if not args.no_bare and args.only is None:
            try:
                args.bare_exe = build_bare(args, tmp)
            except (BenchError, subprocess.SubprocessError, OSError) as e:
                problems.append("bare forwarder not built: %s" % str(e)[:600])
        print("bench: loopback UDP floor: %s us CPU per datagram"
              % ("%.3f" % floor_us if floor_us else "unknown"), flush=True)
        print("bench: load average at start: %s" % results["loadavg_at_start"])
        print("bench: %d CPUs; backends BIND %s (a,b) and %s (c,d); "
              "dnsperf -c %d -q %d -l %g -t %g%s (p99: -v -l %g); "
              "%d round(s); workdir %s"
              % (os.cpu_count(), addr_a, addr_b, args.clients,
                 args.outstanding, args.seconds, args.timeout,
                 " -Q %d" % args.rate if args.rate else "",
                 args.p99_seconds, args.rounds, tmp),
              flush=True)

        for size in args.sizes:
            fillers = filler_patterns(size)
            check_fillers(fillers)
            systems = []
            try:
                start_systems(args, size, tmp, addr_a, addr_b, fillers,
                              problems, systems)
                for s in systems:
                    print("bench: %d+2 routes: %s up in %.1fs (pids %s)"
                          % (size, s.label, s.startup_s, s.pids()),
                          flush=True)
                    errs = check_answers(s, tcp_too=s.kind != "bare")
                    if errs:
                        s.problems.extend("wrong answer: " + e for e in errs)
                        problems.append("%s with %d+2 routes answers wrongly:"
                                        " %s" % (s.label, size,
                                                 "; ".join(errs)))
                        print("bench: PROBLEM: %s" % problems[-1], flush=True)
                for mode in args.modes:
                    # The bare forwarder is UDP only.
                    msys = [s for s in systems
                            if mode == "udp" or s.kind != "bare"]
                    if args.warmup > 0:
                        for s in msys:
                            try:
                                run_dnsperf(args, s.port, mode, args.warmup,
                                            qfile, tmp, "warmup",
                                            verbose=False)
                            except BenchError as e:
                                problems.append("%s %s %d+2 routes warm-up: %s"
                                                % (s.label, mode, size,
                                                   str(e)[:600]))
                    per = {s.label: [] for s in msys}
                    for r in range(args.rounds):
                        order = msys if r % 2 == 0 else msys[::-1]
                        for s in order:
                            tag = "%s-%d-%s-%d" % (mode, size,
                                                   s.label.replace(" ", ""), r)
                            # dnsperf itself can fail (2.10 asserts in
                            # perf_net_sockeq when TCP connections to a slow
                            # server break): that run is lost, not the bench.
                            try:
                                res = measure(args, s, mode, args.seconds,
                                              qfile, tmp, tag, named)
                            except BenchError as e:
                                problems.append("%s %s %d+2 routes round %d: "
                                                "run lost: %s"
                                                % (s.label, mode, size, r + 1,
                                                   str(e)[:600]))
                                print("bench: PROBLEM: %s" % problems[-1],
                                      flush=True)
                                continue
                            res["round"] = r
                            if args.p99_seconds > 0:
                                try:
                                    add_p99(args, s, mode, qfile, tmp, tag,
                                            res)
                                except BenchError as e:
                                    res["p99_s"] = None
                                    res["notes"].append(
                                        "p99 run lost: %s" % str(e)[:600])
                            per[s.label].append(res)
                            print("bench: %s %d+2 routes round %d %-14s "
                                  "%8.0f qps  avg %.3f ms  p99 %s ms  lost %d"
                                  "  CPU %.3f s/100k%s"
                                  % (mode, size, r + 1, s.label, res["qps"],
                                     res["avg_s"] * 1e3,
                                     fmt_num(res.get("p99_s") and
                                             res["p99_s"] * 1e3, ".3f"),
                                     res["lost"] or 0,
                                     res["cpu_per_100k"] or 0,
                                     "  [" + "; ".join(res["notes"]) + "]"
                                     if res["notes"] else ""), flush=True)
                            for n in res["notes"]:
                                problems.append("%s %s %d+2 routes round %d: %s"
                                                % (s.label, mode, size, r + 1,
                                                   n))
                    block = {"mode": mode, "fillers": size,
                             "routes": size + 2, "systems": []}
                    summ = []
                    for s in msys:
                        sm = summarize(per[s.label])
                        if size == min(args.sizes):
                            base_qps[(mode, s.label)] = sm["qps"]
                        summ.append((s, sm))
                        block["systems"].append({
                            "label": s.label, "kind": s.kind,
                            "workers": s.workers, "listeners": s.listeners,
                            "startup_s": s.startup_s, "median": sm,
                            "runs": per[s.label], "problems": s.problems})
                    block["_summ"] = summ
                    blocks.append(block)
                    if mode == "udp" and size == min(args.sizes) and \
                            args.fixed_rates:
                        block["fixed"] = fixed_rates(args, msys, summ, qfile,
                                                     tmp, problems)
                    # A correctness problem noticed under load: check again.
                    for s in systems:
                        errs = check_answers(s, tcp_too=False)
                        if errs:
                            problems.append("%s after %s load with %d+2 routes"
                                            ": %s" % (s.label, mode, size,
                                                      "; ".join(errs)))
            finally:
                for s in systems:
                    for l in log_problems(s)[-20:]:
                        problems.append("%s log (%d+2 routes): %s"
                                        % (s.label, size, l.strip()[:300]))
                stop_systems(systems, problems)
    except (KeyboardInterrupt, Terminated) as e:
        problems.append("interrupted: %s" % (e or "SIGINT"))
        print("bench: interrupted", file=sys.stderr)
    finally:
        for n in reversed(named):
            n.stop()
        if args.keep:
            print("bench: kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------ report
    print()
    print("=" * 78)
    print("dnsrouter vs %s, %d CPUs, dnsperf -c %d -q %d -l %g%s, "
          "median of %d round(s)"
          % (dnsdist_version(), os.cpu_count(), args.clients,
             args.outstanding, args.seconds,
             " -Q %d" % args.rate if args.rate else "", args.rounds))
    print("p99 from a dnsperf -v run of %g s after each measured run; CPU: "
          "the proxy's processes only (all threads)" % args.p99_seconds
          if args.p99_seconds > 0 else "no p99 (--p99-seconds 0)")
    print("ratios: dnsrouter / dnsdist; (hi) higher is better, (lo) lower is "
          "better")
    for b in blocks:
        title = "%s, %s routes (%s filler + 2 real)" % (
            b["mode"].upper(), format(b["routes"], ","),
            format(b["fillers"], ","))
        base = {s.label: base_qps.get((b["mode"], s.label))
                for s, _ in b["_summ"]}
        print_block(args, title, b["_summ"], base)
        # The bounds assume a CPU-bound machine with dnsdist doing its
        # usual work: at the smallest table only (with thousands of regexps
        # dnsdist's own matching is the whole story).
        if b["mode"] == "udp" and b["fillers"] == min(args.sizes):
            print_bounds(results.get("udp_floor_us"), b["_summ"])
        if b.get("fixed"):
            print_fixed(b["fixed"])
    print_targets(blocks)
    print()
    print("total time %.0f s" % (time.monotonic() - t_start))
    if problems:
        print()
        print("PROBLEMS (%d):" % len(problems))
        for p in problems[:60]:
            print("  - " + p)
        if len(problems) > 60:
            print("  ... %d more (see --json)" % (len(problems) - 60))
    if args.json:
        for b in blocks:
            b.pop("_summ", None)
        results["blocks"] = blocks
        results["dnsdist_version"] = dnsdist_version()
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
        print("bench: wrote %s" % args.json)
    hard = [p for p in problems if "wrong answer" in p or "answers wrongly"
            in p or "interrupted" in p or " stop:" in p]
    return 1 if hard else 0


_dd_version = None


def dnsdist_version():
    global _dd_version
    if _dd_version is None:
        try:
            out = subprocess.run([DNSDIST, "--version"], capture_output=True,
                                 text=True, timeout=10).stdout
            m = re.search(r"dnsdist (\S+)", out)
            _dd_version = m.group(1) if m else "?"
        except Exception:
            _dd_version = "?"
    return "dnsdist " + _dd_version


if __name__ == "__main__":
    sys.exit(main())
