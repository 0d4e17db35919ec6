#!/usr/bin/python3
"""Packet caches on a Zipf mix: dnsrouter against dnsdist, with and without.

    /usr/bin/python3 bench/cache.py --build BUILD_DIR [options]   (make bench)

What runs (everything on 127.0.0.1, free ports, one temporary directory):

- Two BIND 9 servers serve miek.nl split in two (query log off): backend A
  has the names starting with a or b, backend B those with c or d, 100,000
  names in all (--names), a0 b1 c2 d3 a4 ... each with one A record of TTL
  3600, plus the usual test zone (tests/system/zones.py).
- Both proxies route `^[ab][0-9]*\\.miek` to A and `^[cd][0-9]*\\.miek` to B
  (no fillers), as bench/bench.py does with its two real routes.
- The query file holds 1,000,000 queries (--queries) of type A drawn from a
  Zipf distribution over the names (rank r with weight 1 / r^s, s = 1.0,
  --zipf; ranks dealt to names in a seeded random order, so hot names are
  on both shards): a few names are asked very often, most of them rarely.
  With s = 1 the 1,000 hottest names are about 60 % of the queries and
  half of the 100,000 are asked less than once per 200,000 queries.
  dnsperf reads the file from the top and starts again at its end.
- Four systems, all up at once and measured in alternation (the order
  flips every round), the median of the rounds reported:
    dnsrouter cache    `workers W`, `cache-size C`, cache-max-ttl 300s,
                       cache-min-ttl 0, cache-negative-ttl 60s
    dnsdist cache      W listener binds (reusePort), newPacketCache(W x C,
                       {maxTTL=300, minTTL=0, maxNegativeTTL=60,
                       numberOfShards=20}) on both pools
    dnsrouter          the same without the cache
    dnsdist            the same without the cache
  dnsrouter's cache is per router, so W routers hold W x C entries at most;
  dnsdist's one cache gets the same W x C, shared by its threads (so a name
  is cached once in dnsdist, in up to W routers in dnsrouter). The record
  TTL (3600) is above both caps, so both caches keep an entry 300 s, longer
  than the bench runs: what they miss is what they could not hold.
  numberOfShards=20 is dnsdist's advice for a cache used by several threads
  (one lock per shard instead of one lock for all).
- Each system gets a warm-up run (--warmup, default 4 s: the caches fill)
  before the rounds.

Figures, as in bench/bench.py (see its docstring): qps, avg and p99 latency
(p99 from a shorter dnsperf -v run after each measured run), lost, and CPU
seconds per 100,000 queries of the proxy's processes (utime+stime from
/proc). Hit ratio: hits / (hits + misses) during the measured run, from each
proxy's own counters: dnsrouter's /metrics (dnsrouter_cache_hits_total,
dnsrouter_cache_misses_total), dnsdist's web API /jsonstat?command=stats
(cache-hits, cache-misses). Backend CPU per 100k queries shows what the
misses cost BIND.

The issue-14 targets are checked on the cache rows: dnsrouter's qps at
least 1.20x dnsdist's, its CPU per query at most 0.80x.

Every process is started here and stopped by PID in finally blocks.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time

import bench as B
from bench import (BenchError, Dnsdist, System, Named, Dnsrouter,  # noqa
                   ProcessError, free_port, lua_str, zones, fmt_num,
                   fmt_ratio, ratio, median_of)

ROUTE_A = r"^[ab][0-9]*\.miek"
ROUTE_B = r"^[cd][0-9]*\.miek"
API_KEY = "bench-cache"
TARGET_QPS = 1.20
TARGET_CPU = 0.80


def names(n):
    return ["%s%d" % ("abcd"[i % 4], i) for i in range(n)]


def shard_zones(allnames):
    """(zone text A, zone text B): the test zone plus one A per name."""
    za, zb = [zones.zone_ab()], [zones.zone_cd()]
    for i, nm in enumerate(allnames):
        line = "%s 3600 IN A 10.%d.%d.%d\n" % (
            nm, (i >> 16) & 255, (i >> 8) & 255, i & 255)
        (za if nm[0] in "ab" else zb).append(line)
    return "".join(za), "".join(zb)


def zipf_queries(allnames, count, s, seed, path):
    """count query lines drawn from Zipf(s) over allnames; returns the
    share of the queries taken by the 1,000 hottest names."""
    rnd = random.Random(seed)
    order = list(allnames)
    rnd.shuffle(order)             # rank -> name
    cum, tot = [], 0.0
    for r in range(1, len(order) + 1):
        tot += 1.0 / r ** s
        cum.append(tot)
    picks = rnd.choices(order, cum_weights=cum, k=count)
    with open(path, "w") as f:
        f.write("".join("%s.miek.nl A\n" % nm for nm in picks))
    return cum[min(999, len(cum) - 1)] / tot


def dnsrouter_extra(cache, size, mport):
    out = "metrics 127.0.0.1:%d\n" % mport
    if cache:
        out += ("cache-size %d\ncache-max-ttl 300s\ncache-min-ttl 0\n"
                "cache-negative-ttl 60s\n" % size)
    return out


def dnsdist_conf(port, listeners, addr_a, addr_b, cache_entries, wport):
    out = B.dnsdist_base(port, listeners, addr_a, addr_b, "bench/cache.py")
    if cache_entries:
        out.append("pc = newPacketCache(%d, {maxTTL=300, minTTL=0, "
                   "maxNegativeTTL=60, numberOfShards=20})" % cache_entries)
        out.append('getPool("A"):setCache(pc)')
        out.append('getPool("B"):setCache(pc)')
    out.append('webserver(%s)' % lua_str("127.0.0.1:%d" % wport))
    out.append('setWebserverConfig({apiKey=%s, password=%s, '
               'acl="127.0.0.0/8"})' % (lua_str(API_KEY), lua_str(API_KEY)))
    out.append("setRules({")
    out.append(' newRuleAction(RegexRule(%s), PoolAction("A")),'
               % lua_str(ROUTE_A))
    out.append(' newRuleAction(RegexRule(%s), PoolAction("B")),'
               % lua_str(ROUTE_B))
    out.append(" newRuleAction(AllRule(), RCodeAction(DNSRCode.REFUSED)),")
    out.append("})")
    return "\n".join(out) + "\n"


def http_get(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read().decode()
        if r.status != 200:
            raise BenchError("GET %s on port %d: %d %s" % (path, port,
                                                           r.status, body[:200]))
        return body
    finally:
        c.close()


def cache_counters(sysm):
    """(hits, misses) from the proxy's own counters, or None (no cache)."""
    if not sysm.cache:
        return None
    if sysm.kind == "dnsdist":
        st = json.loads(http_get(sysm.stats_port, "/jsonstat?command=stats",
                                 {"X-API-Key": API_KEY}))
        return st["cache-hits"], st["cache-misses"]
    hits = misses = 0
    for line in http_get(sysm.stats_port, "/metrics").splitlines():
        if line.startswith("dnsrouter_cache_hits_total"):
            hits += int(float(line.split()[-1]))
        elif line.startswith("dnsrouter_cache_misses_total"):
            misses += int(float(line.split()[-1]))
    return hits, misses


def settled_counters(sysm):
    """The counters once they stop moving: dnsrouter's routers report every
    100 ms, so the last queries of a run reach /metrics a little later.
    Bounded: at most 2 s."""
    last = cache_counters(sysm)
    if last is None or sysm.kind == "dnsdist":
        return last
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        time.sleep(0.15)
        now = cache_counters(sysm)
        if now == last:
            return now
        last = now
    return last


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="dnsrouter and dnsdist packet caches on a Zipf mix "
        "(see the module docstring)")
    B.add_round_args(ap, 4)
    ap.add_argument("--cache-size", type=int, default=10000,
                    help="dnsrouter cache-size per router (10000); dnsdist's "
                    "cache gets workers x this")
    ap.add_argument("--names", type=int, default=100000,
                    help="names in the zone (100000)")
    ap.add_argument("--queries", type=int, default=1000000,
                    help="lines in the query file (1000000)")
    ap.add_argument("--zipf", type=float, default=1.0,
                    help="Zipf exponent s (1.0)")
    ap.add_argument("--seed", type=int, default=14, help="random seed (14)")
    B.add_dnsperf_args(ap)
    ap.add_argument("--no-plain", action="store_true",
                    help="skip the two systems without a cache")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 round of 2 s, 20,000 names")
    ap.add_argument("--json", metavar="FILE", help="write all figures here")
    a = ap.parse_args(argv)
    if a.quick:
        a.rounds, a.seconds, a.warmup = 1, 2, 1
        a.names, a.queries = 20000, 200000
        a.p99_seconds = min(a.p99_seconds, 1)
    if a.rounds < 1 or a.seconds <= 0 or a.workers < 1 or \
            a.cache_size < 1 or a.names < 4 or a.queries < 1:
        ap.error("rounds, seconds, workers, cache-size, names and queries "
                 "must be positive")
    return a


def start_all(args, tmp, addr_a, addr_b, systems, problems):
    todo = []
    for cache in (True, False) if not args.no_plain else (True,):
        mport = free_port()
        d = Dnsrouter(args.build, os.path.join(tmp, "dr-%d" % cache),
                      free_port(), ["%s,%s" % (addr_a, ROUTE_A),
                                    "%s,%s" % (addr_b, ROUTE_B)],
                      workers=args.workers, timeout="1000ms",
                      extra=dnsrouter_extra(cache, args.cache_size, mport))
        s = System("dnsrouter cache" if cache else "dnsrouter", "dnsrouter",
                   d, workers=args.workers)
        s.cache, s.stats_port = cache, mport
        todo.append(s)
        port, wport = free_port(), free_port()
        conf = dnsdist_conf(port, args.workers, addr_a, addr_b,
                            args.workers * args.cache_size if cache else 0,
                            wport)
        d = Dnsdist(os.path.join(tmp, "dd-%d" % cache), port, conf)
        s = System("dnsdist cache" if cache else "dnsdist", "dnsdist", d,
                   listeners=args.workers)
        s.cache, s.stats_port = cache, wport
        todo.append(s)
    for s in todo:
        systems.append(s)
        try:
            B.bring_up(s, [("a0.miek.nl.", "A"), ("c2.miek.nl.", "A")], 60)
            cache_counters(s)   # the stats endpoint answers
        except (ProcessError, OSError, BenchError) as e:
            raise BenchError("%s did not come up: %s" % (s.label, str(e)[:3000]))


def check_answers(sysm, allnames):
    """A few names answered from the right shard, twice (the second time
    from the cache where there is one), an unrouted name REFUSED."""
    errs = []
    for nm in allnames[:8]:
        i = int(nm[1:])
        want = "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
        for _ in range(2):
            try:
                r = B.query(sysm.port, nm + ".miek.nl.", "A", timeout=2.0)
            except Exception as e:
                errs.append("%s: %s" % (nm, type(e).__name__))
                break
            got = [rd.address for rr in r.answer for rd in rr]
            if got != [want]:
                errs.append("%s A: %s, want %s" % (nm, got, want))
                break
    try:
        r = B.query(sysm.port, B.UNROUTED, "A", timeout=2.0)
        if r.rcode() != B.dns.rcode.REFUSED:
            errs.append("%s: not REFUSED" % B.UNROUTED)
    except Exception as e:
        errs.append("%s: %s" % (B.UNROUTED, type(e).__name__))
    return errs


def print_table(args, summ):
    cols = ["system", "qps", "avg ms", "p99 ms", "lost", "CPU s/100k q",
            "hit ratio", "BIND CPU s/100k q"]
    rows = []
    for label, sm in summ:
        rows.append([label, fmt_num(sm["qps"], ",.0f"),
                     fmt_num(sm["avg_s"] and sm["avg_s"] * 1e3, ".3f"),
                     fmt_num(sm["p99_s"] and sm["p99_s"] * 1e3, ".3f"),
                     "%d" % sm["lost"], fmt_num(sm["cpu_per_100k"], ".3f"),
                     fmt_num(sm["hit_ratio"], ".3f"),
                     fmt_num(sm["backends_cpu_per_100k"], ".3f")])
    rows += B.ratio_rows(summ, (("dnsrouter cache", "dnsdist cache"),
                                ("dnsrouter", "dnsdist")), 2)
    B.show(cols, rows)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    B.require_programs(args.build)

    def on_term(signum, frame):
        raise B.Terminated("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)

    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="drcache.")
    qfile = os.path.join(tmp, "queries")
    allnames = names(args.names)
    hot = zipf_queries(allnames, args.queries, args.zipf, args.seed, qfile)
    problems = []
    results = {"config": {k: v for k, v in vars(args).items()},
               "hot1000_share": hot, "runs": {}, "median": {},
               "problems": problems}
    named, systems = [], []
    per = {}
    try:
        za, zb = shard_zones(allnames)
        pa, pb = free_port(), free_port()
        for d, port, z, sid in (("named-a", pa, za, "shard-ab"),
                                ("named-b", pb, zb, "shard-cd")):
            n = Named(os.path.join(tmp, d), port, {zones.ORIGIN: z},
                      server_id=sid, querylog=False)
            named.append(n)
            n.start()
        addr_a, addr_b = "127.0.0.1:%d" % pa, "127.0.0.1:%d" % pb
        print("bench-cache: %d names, %d queries Zipf s=%g (1,000 hottest "
              "names: %.0f %% of queries); cache-size %d per router x %d, "
              "dnsdist %d; dnsperf -c %d -q %d -l %g; %d round(s); %s"
              % (args.names, args.queries, args.zipf, 100 * hot,
                 args.cache_size, args.workers,
                 args.workers * args.cache_size, args.clients,
                 args.outstanding, args.seconds, args.rounds, tmp),
              flush=True)
        start_all(args, tmp, addr_a, addr_b, systems, problems)
        for s in systems:
            errs = check_answers(s, allnames)
            if errs:
                problems.append("%s answers wrongly: %s"
                                % (s.label, "; ".join(errs)))
            per[s.label] = []
        for s in systems:
            B.run_dnsperf(args, s.port, "udp", args.warmup, qfile, tmp,
                          "warmup", verbose=False)
        def after(s, res, c0):
            c1 = settled_counters(s)
            if c0 is None:
                return ""
            h, m = c1[0] - c0[0], c1[1] - c0[1]
            res["cache_hits"], res["cache_misses"] = h, m
            res["hit_ratio"] = h / (h + m) if h + m else None
            return "  hits %s" % fmt_num(res["hit_ratio"], ".3f")
        per.update(B.alternating_rounds(args, systems, qfile, tmp, named,
                                        problems, "bench-cache",
                                        settled_counters, after))
        for s in systems:
            errs = check_answers(s, allnames)
            if errs:
                problems.append("%s after load answers wrongly: %s"
                                % (s.label, "; ".join(errs)))
    except (KeyboardInterrupt, B.Terminated) as e:
        problems.append("interrupted: %s" % (e or "SIGINT"))
    except BenchError as e:
        problems.append(str(e))
    finally:
        for s in reversed(systems):
            for l in B.log_problems(s)[-10:]:
                problems.append("%s log: %s" % (s.label, l.strip()[:300]))
        B.stop_systems(systems, problems)
        for n in reversed(named):
            n.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    summ = []
    for label, runs in per.items():
        sm = B.summarize(runs)
        sm["hit_ratio"] = median_of(runs, "hit_ratio")
        summ.append((label, sm))
        results["runs"][label] = runs
        results["median"][label] = sm
    print()
    print("=" * 78)
    print("Packet caches, Zipf s=%g over %s names, %s vs dnsdist %s, "
          "%d CPUs, dnsperf -c %d -q %d -l %g, median of %d round(s)"
          % (args.zipf, format(args.names, ","),
             "dnsrouter %d workers" % args.workers,
             B.dnsdist_version().split()[-1], os.cpu_count(), args.clients,
             args.outstanding, args.seconds, args.rounds))
    print("cache-size %s per router; dnsdist's cache %s entries; TTL caps "
          "300 s, negative 60 s" % (format(args.cache_size, ","),
                                    format(args.workers * args.cache_size,
                                           ",")))
    print_table(args, summ)
    by = dict(summ)
    x, y = by.get("dnsrouter cache"), by.get("dnsdist cache")
    if x and y:
        q = ratio(x["qps"], y["qps"])
        c = ratio(x["cpu_per_100k"], y["cpu_per_100k"])
        ok = q is not None and c is not None and q >= TARGET_QPS and \
            c <= TARGET_CPU
        results["target"] = {"qps_ratio": q, "cpu_ratio": c, "met": ok}
        print("target (issue 14): qps >= %.2fx dnsdist cache (%s), CPU per "
              "query <= %.2fx (%s): %s"
              % (TARGET_QPS, fmt_ratio(q), TARGET_CPU, fmt_ratio(c),
                 "met" if ok else "NOT met"))
    return B.finish("bench-cache", problems, results, args.json, t_start)


if __name__ == "__main__":
    sys.exit(main())
