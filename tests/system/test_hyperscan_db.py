"""The controller compiles each table's Hyperscan database once and routers
take it serialized.

Before, every router compiled the same database itself: a router that
restarted with 10,000 routes matched them one by one (about 1,700 queries/s)
for 20 s and more, and a table change with N workers cost N compiles of
about 2.5 s of CPU each. Now the controller compiles in a thread and a
router asks for the database whenever its table holds patterns it lacks;
deserializing takes milliseconds.

Under ASan the tables are smaller (the routers' own work is what the
sanitizer checks; Hyperscan itself is not instrumented).
"""

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import spec
from dnsenv import free_port, query, wait_for
from helpers import sanitized_build
from procs import wait_routers

TAKEN = re.compile(r"dnsrouter-router#(\d+)\[(\d+)\]: take: database of "
                   r"(\d+) patterns from the controller")
COMPILED = re.compile(r"Hyperscan database of (\d+) patterns compiled in "
                      r"([0-9.]+)s")
ROUTER_COMPILED = "compiled by this router"


@pytest.fixture
def nroutes(build_dir):
    return 2000 if sanitized_build(build_dir) else 10000


def table(n, backend_a, backend_b, extra=()):
    """n fillers that match no query name, then the two real routes."""
    lines = ["%s,^x%d\\.never\\." % (spec(backend_a), i) for i in range(n)]
    lines += list(extra)
    lines += ["%s,^[ab]\\.miek" % spec(backend_a),
              "%s,^[cd]\\.miek" % spec(backend_b)]
    return lines


# bench/bench.py's filler shapes: 10,000 of them take Hyperscan seconds.
SHAPES = [r"^x%d\.", r"\.zone%d\.example\.?$", r"^(foo|bar)%d\.",
          r"^[q-z]{3}%d\.", r"^[a-d]\.miek%d\.", r"^[a-z0-9-]+\.shard%d\."]
SLOW_WAIT = "no Hyperscan database from the controller after"
DNSPERF = shutil.which("dnsperf") or "/usr/bin/dnsperf"


def slow_table(n, backend_a, backend_b):
    lines = ["%s,%s" % (spec(backend_a), SHAPES[i % len(SHAPES)] % i)
             for i in range(n)]
    return lines + ["%s,^[ab]\\.miek" % spec(backend_a),
                    "%s,^[cd]\\.miek" % spec(backend_b)]


def taken(r, npat):
    """{router pid: count} of the routers that took a database of npat."""
    out = {}
    for m in TAKEN.finditer(r.log()):
        if int(m.group(3)) == npat:
            out[int(m.group(2))] = out.get(int(m.group(2)), 0) + 1
    return out


def compiled(r, npat):
    return [float(m.group(2)) for m in COMPILED.finditer(r.log())
            if int(m.group(1)) == npat]


def cpu_seconds(pid):
    """utime + stime of a process, all threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=5) as f:
        for line in f.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError("no metric %s" % name)


def start(make_router, routes, workers, extra=""):
    r = make_router(routes, workers=workers, extra=extra)
    r.wait_ready("a.miek.nl.", "TXT", timeout=60)
    return r


def test_a_restarted_router_takes_the_controllers_database(
        make_router, backend_a, backend_b, nroutes):
    npat = nroutes + 2
    r = start(make_router, table(nroutes, backend_a, backend_b), 2)
    wait_for(lambda: compiled(r, npat), 60, 0.1,
             "the controller's database of %d patterns" % npat)
    wait_for(lambda: len(taken(r, npat)) == 2, 10, 0.05,
             "both routers taking it")
    old = wait_routers(r, 2)["router"][0]
    os.kill(old, signal.SIGKILL)
    new = wait_routers(r, 2, exclude=(old,))["router"][0]
    # Asked for at start, beside the table: in well under a second.
    wait_for(lambda: new in taken(r, npat), 2.0, 0.02,
             "router %d taking the controller's database" % new)
    r.wait_ready("a.miek.nl.", "TXT")
    assert ROUTER_COMPILED not in r.log()
    # One compile, by the controller, for both routers and the restart.
    assert len(compiled(r, npat)) == 1


# controller/dbcompile.c: more new patterns than this are compiled at once
PEND_MAX = 32


def bulk(backend, n=PEND_MAX + 1):
    """n new routes: a bulk change, compiled without waiting."""
    return ["%s,^new%d\\.miek" % (spec(backend), i) for i in range(n)]


def test_a_table_change_is_compiled_once_by_the_controller(
        make_router, backend_a, backend_b, nroutes):
    workers = 3
    mport = free_port()
    r = start(make_router, table(nroutes, backend_a, backend_b), workers,
              extra="metrics 127.0.0.1:%d" % mport)
    wait_for(lambda: len(taken(r, nroutes + 2)) == workers, 60, 0.1,
             "every router taking the first database")
    routers = list(wait_routers(r, workers)["router"].values())
    before = {pid: cpu_seconds(pid) for pid in routers}
    base = nroutes + 2
    new = bulk(backend_b) + ["%s,^new\\.miek" % spec(backend_b)]
    grown = base + len(new)
    r.write_routes(table(nroutes, backend_a, backend_b, extra=new))
    r.reload()
    wait_for(lambda: set(taken(r, grown)) == set(routers), 60, 0.1,
             "every router taking the new database")
    spent = {pid: cpu_seconds(pid) - before[pid] for pid in routers}
    secs = compiled(r, grown)
    print("compile %s s by the controller; routers' CPU %s"
          % (secs, {p: round(s, 3) for p, s in spent.items()}))
    assert len(secs) == 1
    assert ROUTER_COMPILED not in r.log()
    assert metric(mport, "dnsrouter_hyperscan_compiles_total") == 2
    assert metric(mport, "dnsrouter_hyperscan_compile_failures_total") == 0
    assert metric(mport, "dnsrouter_hyperscan_database_bytes") > 0
    # A compile of these tables costs seconds of CPU; taking it, milliseconds.
    for pid, s in spent.items():
        assert s < 0.5, "router %d spent %.2fs of CPU on a table change" \
            % (pid, s)
    r.wait_ready("new.miek.nl.", "TXT", expect=3)   # NXDOMAIN from backend B

    # Removing it needs no compile: the newest database holds every
    # pattern left (before, a removal cost a full compile too).
    before = {pid: cpu_seconds(pid) for pid in routers}
    r.write_routes(table(nroutes, backend_a, backend_b))
    r.reload()
    r.wait_ready("new.miek.nl.", "TXT", expect=5)   # REFUSED: no route
    assert metric(mport, "dnsrouter_hyperscan_compiles_total") == 2
    assert len(compiled(r, base)) == 1 and len(compiled(r, grown)) == 1
    for pid in routers:
        assert cpu_seconds(pid) - before[pid] < 0.5


def test_a_few_new_patterns_wait_until_a_compile_pays(
        make_router, backend_a, backend_b, tmp_path):
    """Under churn the controller compiled every table that brought a new
    regexp, a second of CPU at 10,000 routes, while routers match a few
    new patterns one by one for about 25 ns each time a query tries one.
    Now a change that adds at most PEND_MAX patterns waits until the tries
    the routers count have cost what the last compile did (rent or buy):
    with no queries nothing is compiled, however long; under load the
    compile comes, and every router takes it. Meanwhile answers are
    right (PCRE2), and /metrics shows the patterns pending and the tries."""
    fillers = 50
    mport = free_port()
    r = start(make_router, table(fillers, backend_a, backend_b), 2,
              extra="metrics 127.0.0.1:%d" % mport)
    base = fillers + 2
    wait_for(lambda: len(taken(r, base)) == 2, 60, 0.1,
             "both routers taking the first database")
    r.write_routes(table(fillers, backend_a, backend_b,
                         extra=bulk(backend_b, PEND_MAX)))
    r.reload()
    r.wait_ready("new%d.miek.nl." % (PEND_MAX - 1), "TXT", expect=3)
    wait_for(lambda: metric(mport, "dnsrouter_hyperscan_pending_patterns")
             == PEND_MAX, 10, 0.05, "%d patterns pending" % PEND_MAX)
    t0 = time.monotonic()
    while time.monotonic() < t0 + 2.0:      # the window: nothing may come
        assert not compiled(r, base + PEND_MAX), r.log()[-1500:]
        time.sleep(0.1)
    assert metric(mport, "dnsrouter_hyperscan_compiles_total") == 1
    assert query(r.port, "new3.miek.nl.", "TXT").rcode() == 3  # B: NXDOMAIN

    qfile = tmp_path / "queries"
    qfile.write_text("a.miek.nl. TXT\nnew5.miek.nl. TXT\n")
    perf = subprocess.Popen([DNSPERF, "-s", "127.0.0.1", "-p", str(r.port),
                             "-d", str(qfile), "-c", "2", "-q", "50",
                             "-l", "60", "-t", "1"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(taken(r, base + PEND_MAX)) == 2, 60, 0.1,
                 "a compile under load, taken by both routers")
    finally:
        perf.kill()
        perf.wait(10)
    assert len(compiled(r, base + PEND_MAX)) == 1
    # a.miek.nl.'s route comes after the 32 new ones: each query tried them
    assert metric(mport, "dnsrouter_pending_pattern_matches_total") > 0
    wait_for(lambda: metric(mport, "dnsrouter_hyperscan_pending_patterns")
             == 0, 10, 0.05, "nothing pending")
    assert ROUTER_COMPILED not in r.log()


def test_routers_starting_while_the_controller_compiles_serve_at_once(
        make_router, backend_a, backend_b, nroutes):
    """A fresh start: the controller has no database for seconds. Told so
    ("compiling"), routers serve at once, matching one by one, rather than
    wait a second with the queries queued."""
    npat = nroutes + 2
    r = make_router(slow_table(nroutes, backend_a, backend_b), workers=2)
    r.wait_ready("a.miek.nl.", "TXT", timeout=30)
    wait_for(lambda: len(taken(r, npat)) == 2, 120, 0.1,
             "both routers taking the database")
    log = r.log()
    assert SLOW_WAIT not in log, [l for l in log.splitlines()
                                  if SLOW_WAIT in l]
    assert ROUTER_COMPILED not in log


def test_a_controller_stops_at_once_while_it_compiles(
        make_router, backend_a, backend_b, nroutes):
    """SIGTERM in the middle of a compile of several seconds: the compile
    is left to die with the process, which does not wait for it (the master
    kills a child that takes more than 3 s)."""
    # 20,000 patterns: about 5 s of compiling here, well past 3 s
    r = make_router(slow_table(2 * nroutes, backend_a, backend_b), workers=1)
    wait_for(lambda: "first route table received" in r.log(), 30, 0.02,
             "a first table")
    t0 = time.monotonic()
    r.stop()
    took = time.monotonic() - t0
    assert "did not stop" not in r.log(), r.log()[-2000:]
    assert took < 2.5, "stopping took %.1fs" % took


def test_a_restarted_dnsrouter_has_the_last_database_at_once(
        make_router, backend_a, backend_b, nroutes):
    """The controller keeps its newest database in its directory
    (rundir/controller/hsdb.cache): dnsrouter stopped and started again
    (a service restart) serves its routers that one, instead of compiling
    for seconds while they match one pattern at a time."""
    npat = nroutes + 2
    r = make_router(slow_table(nroutes, backend_a, backend_b), workers=2)
    r.wait_ready("a.miek.nl.", "TXT", timeout=30)
    wait_for(lambda: compiled(r, npat), 120, 0.1, "the first compile")
    r.stop(keep_rundir=True)
    mark = len(r.log())
    r.start()
    r.wait_ready("a.miek.nl.", "TXT", timeout=30)
    wait_for(lambda: len(TAKEN.findall(r.log()[mark:])) == 2, 10, 0.05,
             "both routers taking the database")
    log = r.log()[mark:]
    assert "Hyperscan database of %d patterns from the last run" % npat \
        in log, log[-2000:]
    assert not COMPILED.search(log), "compiled again: %s" % log[-2000:]
    assert SLOW_WAIT not in log and "still compiling" not in log
