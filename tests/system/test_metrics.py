"""Prometheus metrics at /metrics on the `metrics` address: the controller
adds up what the routers report every 100 ms and serves it with
libmicrohttpd. Counts are checked exactly against traffic the test sends."""

import http.client
import json
import os
import re
import signal
import socket
import time

import dns.rcode
import pytest

import dnsenv
from conftest import spec
from dnsenv import free_port, wait_for
from procs import connected_to, socket_inodes
from etcdenv import controller_pid, etcd, etcd_router  # noqa: F401
from helpers import header, question

AB = r"^[ab]\.miek"
QUOTED = r'^never\."quoted'      # a regexp with a quote and a backslash
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metrics_extra(port):
    return "metrics 127.0.0.1:%d\n" % port


def http_get(port, path="/metrics", method="GET"):
    """(status, content type, body text) of one request."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        c.close()


def unescape(v):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n"
                  else m.group(1), v)


def parse(text):
    """{(name, frozenset(labels)): value}, {family: type}, {family: help}
    from the text exposition format."""
    samples, types, helps = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, fam, typ = line.split(" ", 3)
            types[fam] = typ
        elif line.startswith("# HELP "):
            _, _, fam, h = line.split(" ", 3)
            helps[fam] = h
        elif line and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            if "{" in name_labels:
                name, labels = name_labels.split("{", 1)
                assert labels.endswith("}"), line
                labels = frozenset((k, unescape(v)) for k, v in
                                   LABEL_RE.findall(labels[:-1]))
            else:
                name, labels = name_labels, frozenset()
            samples[(name, labels)] = float(value)
    return samples, types, helps


def scrape(port):
    status, ctype, body = http_get(port)
    assert status == 200, body
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    return parse(body)[0]


def val(s, name, **labels):
    return s.get((name, frozenset(labels.items())), 0)


def wait_steady(port, timeout=10.0):
    """Scrape until nothing changes for half a second (earlier traffic,
    such as wait_ready's, fully reported); return that scrape."""
    last = [None, 0.0]

    def steady():
        s = scrape(port)
        now = time.monotonic()
        if s != last[0]:
            last[0], last[1] = s, now
            return None
        return s if now - last[1] >= 0.5 else None
    return wait_for(steady, timeout, 0.1, "metrics to settle")


def wait_counts(port, want, timeout=10.0):
    """Scrape until every (name, labels) in want has its value; then check
    it stays so (nothing counted twice). Returns the last scrape."""
    def reached():
        s = scrape(port)
        return s if all(s.get(k, 0) == v for k, v in want.items()) else None
    try:
        wait_for(reached, timeout, 0.1, "metrics to reach the counts sent")
    except dnsenv.ProcessError:
        s = scrape(port)
        raise AssertionError("counts never matched: %s" % {
            k: (s.get(k, 0), v) for k, v in want.items()
            if s.get(k, 0) != v}) from None
    time.sleep(0.4)
    s = scrape(port)
    assert {k: s.get(k, 0) for k in want} == want
    return s


def k(name, **labels):
    return (name, frozenset(labels.items()))


@pytest.fixture
def metered(make_router, backend_a, backend_b):
    """A dnsrouter with the standard routes plus one with a quote in its
    regexp, metrics on a free port; returned ready with its metrics port."""
    port = free_port()
    r = make_router([spec(backend_a) + "," + AB,
                     spec(backend_b) + "," + QUOTED], workers=2,
                    extra=metrics_extra(port))
    r.wait_ready("a.miek.nl.", "TXT")
    r.metrics_port = port
    return r


def raw_udp(port, wire):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(wire, ("127.0.0.1", port))
        try:
            return s.recvfrom(65535)[0]
        except socket.timeout:
            return None


def test_counts_match_the_traffic_sent(metered, backend_a):
    r, mp = metered, metered.metrics_port
    a = spec(backend_a)
    base = wait_steady(mp)
    for _ in range(20):
        assert dnsenv.query(r.port, "a.miek.nl.", "TXT").rcode() == 0
    for _ in range(5):
        assert dnsenv.query(r.port, "b.miek.nl.", "TXT", tcp=True).rcode() == 0
    for name in ("x.example.", "y.example.", "z.example."):
        assert dnsenv.query(r.port, name, "A").rcode() == dns.rcode.REFUSED
    # two questions; a name running past the end of the message: FORMERR
    two = header(0x2001, qd=2) + question("a.miek.nl.") * 2
    short = header(0x2002) + b"\x05miek"
    for wire in (two, short):
        assert raw_udp(r.port, wire)[3] & 0xF == dns.rcode.FORMERR
    notimp = header(0x2003, flags=2 << 11) + question("a.miek.nl.")
    assert raw_udp(r.port, notimp)[3] & 0xF == dns.rcode.NOTIMP
    # a response sent as a query: dropped
    assert raw_udp(r.port, header(0x2004, flags=0x8000)) is None

    want = {}

    def more(name, n, **labels):
        want[k(name, **labels)] = val(base, name, **labels) + n
    more("dnsrouter_queries_total", 20 + 3 + 2 + 1 + 1, protocol="udp")
    more("dnsrouter_queries_total", 5, protocol="tcp")
    more("dnsrouter_refused_total", 3)
    more("dnsrouter_formerr_total", 2)
    more("dnsrouter_notimp_total", 1)
    more("dnsrouter_dropped_total", 1)
    more("dnsrouter_servfail_total", 0)
    more("dnsrouter_backend_queries_total", 25, backend=a)
    more("dnsrouter_backend_responses_total", 25, backend=a, rcode="NOERROR")
    more("dnsrouter_backend_responses_total", 0, backend=a, rcode="SERVFAIL")
    more("dnsrouter_backend_failures_total", 0, backend=a)
    more("dnsrouter_backend_response_seconds_count", 25, backend=a)
    more("dnsrouter_route_queries_total", 25, route=AB, priority="0")
    more("dnsrouter_route_queries_total", 0, route=QUOTED, priority="0")
    s = wait_counts(mp, want)

    # The histogram holds together: cumulative, monotonic, +Inf == count
    # == the replies counted by rcode.
    buckets = sorted(((float(dict(lb)["le"]), v) for (n, lb), v in s.items()
                      if n == "dnsrouter_backend_response_seconds_bucket"
                      and dict(lb)["backend"] == a))
    assert len(buckets) == 15 and buckets[-1][0] == float("inf")
    values = [v for _, v in buckets]
    assert values == sorted(values)
    count = val(s, "dnsrouter_backend_response_seconds_count", backend=a)
    assert values[-1] == count
    assert count == sum(v for (n, lb), v in s.items()
                        if n == "dnsrouter_backend_responses_total"
                        and dict(lb)["backend"] == a)
    assert 0 < val(s, "dnsrouter_backend_response_seconds_sum",
                   backend=a) < count * 0.5
    # The controller's own state, without etcd.
    assert val(s, "dnsrouter_routes") == 2
    assert val(s, "dnsrouter_backends") == 2
    assert val(s, "dnsrouter_backend_up", backend=a) == 1
    assert val(s, "dnsrouter_etcd_connected") == 0
    assert val(s, "dnsrouter_etcd_revision") == 0
    assert val(s, "dnsrouter_bad_reports_total") == 0


def test_every_family_has_help_and_type_and_labels_are_escaped(metered):
    status, _, body = http_get(metered.metrics_port)
    assert status == 200
    samples, types, helps = parse(body)
    for name, _ in samples:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        fam = base if types.get(base) == "histogram" else name
        assert fam.startswith("dnsrouter_"), name
        assert fam in types and fam in helps, name
        if types[fam] == "counter":
            assert fam.endswith("_total"), fam
    assert types["dnsrouter_backend_response_seconds"] == "histogram"
    assert types["dnsrouter_backend_up"] == "gauge"
    # The label as written on the wire: backslash and quote escaped.
    assert 'route="^never\\\\.\\"quoted",priority="0"' in body
    assert 'route="^[ab]\\\\.miek"' in body


def test_only_get_metrics_is_served(metered):
    mp = metered.metrics_port
    assert http_get(mp, "/")[0] == 404
    assert http_get(mp, "/metrics/x")[0] == 404
    assert http_get(mp, "/metricsx")[0] == 404
    assert http_get(mp, "/metrics", "POST")[0] == 405
    status, _, body = http_get(mp, "/metrics", "HEAD")
    assert status == 200 and body == ""
    # and it keeps serving
    assert http_get(mp)[0] == 200


def test_backend_up_falls_to_0_when_the_backend_stops(make_router, make_named):
    import zones
    n = make_named(zones.zone_ab(), "doomed")
    port = free_port()
    r = make_router([spec(n) + "," + AB], extra=metrics_extra(port) +
                    "health-interval 200ms\nhealth-fall 2\nhealth-rise 2\n")
    r.wait_ready("a.miek.nl.", "TXT")
    s = scrape(port)
    assert val(s, "dnsrouter_backend_up", backend=spec(n)) == 1
    gen = val(s, "dnsrouter_table_generation")
    assert gen >= 1
    n.stop()
    # Taking it out of rotation makes a new table, published a moment
    # after the health change (a scrape may fall in between).
    s = wait_for(lambda: (lambda s: s if val(
        s, "dnsrouter_backend_up", backend=spec(n)) == 0 and
        val(s, "dnsrouter_table_generation") > gen else None)(
        scrape(port)), 10, 0.1, "backend_up 0 and a new table")
    assert "route table generation %d:" % val(
        s, "dnsrouter_table_generation") in r.log()


def test_route_counts_carry_over_a_table_change(make_router, backend_a,
                                                backend_b):
    port = free_port()
    r = make_router([spec(backend_a) + "," + AB], extra=metrics_extra(port))
    r.wait_ready("a.miek.nl.", "TXT")
    base = wait_steady(port)
    before = val(base, "dnsrouter_route_queries_total", route=AB,
                 priority="0")
    gen = val(base, "dnsrouter_table_generation")
    r.write_routes([spec(backend_a) + "," + AB,
                    spec(backend_b) + r",^c\.miek"])
    r.reload()
    wait_for(lambda: val(scrape(port), "dnsrouter_routes") == 2, 10, 0.05,
             "the second route")
    for _ in range(4):
        assert dnsenv.query(r.port, "a.miek.nl.", "TXT").rcode() == 0
    for _ in range(3):
        assert dnsenv.query(r.port, "c.miek.nl.", "TXT").rcode() == 0
    s = wait_counts(port, {
        k("dnsrouter_route_queries_total", route=AB, priority="0"):
            before + 4,
        k("dnsrouter_route_queries_total", route=r"^c\.miek", priority="0"): 3,
        k("dnsrouter_backend_responses_total", backend=spec(backend_b),
          rcode="NOERROR"): 3,
    })
    assert val(s, "dnsrouter_table_generation") == gen + 1

    # Six routes ahead of it, then gone again: the second time it moves
    # further back than the side-by-side walk of the two tables looks
    # (controller/metrics.c routes_carry), and its count is found through
    # the index of the routes the walk left.
    fillers = [spec(backend_b) + r",^f%d\.nowhere" % i for i in range(6)]
    n = 6
    for table in (fillers + [spec(backend_a) + "," + AB,
                             spec(backend_b) + r",^c\.miek"],
                  [spec(backend_a) + "," + AB,
                   spec(backend_b) + r",^c\.miek"]):
        r.write_routes(table)
        r.reload()
        wait_for(lambda: val(scrape(port), "dnsrouter_routes") == len(table),
                 10, 0.05, "a table of %d routes" % len(table))
        for _ in range(2):
            assert dnsenv.query(r.port, "b.miek.nl.", "TXT").rcode() == 0
        wait_counts(port, {
            k("dnsrouter_route_queries_total", route=AB, priority="0"):
                before + n,
            k("dnsrouter_route_queries_total", route=r"^c\.miek",
              priority="0"): 3,
        })
        n += 2


def _zombie(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_counts_made_while_the_controller_is_away_reach_its_successor(
        make_router, backend_a):
    """A router keeps the counts of reports nobody took: the queries it
    answers while there is no controller (killed; the master stopped so
    it does not restart it yet) are in the next controller's totals, and
    so are those of the table the new controller's first one replaces
    (its last report waits in the router's stash). (Route counts
    are by index into the old controller's table, whose epoch the new one
    does not know: those of the gap are not carried over.)"""
    port = free_port()
    r = make_router([spec(backend_a) + "," + AB], extra=metrics_extra(port))
    r.wait_ready("a.miek.nl.", "TXT")
    wait_steady(port)       # wait_ready's queries went to this controller
    ctl = controller_pid(r)
    routers = [p for p in r.children() if p != ctl]
    # the routers' ends of their connections to the controller: once nng
    # has closed them, no report can go into a dead pipe (one sent
    # before is lost with it, counted or not)
    ends = connected_to(routers, socket_inodes(ctl))
    assert ends, "no router connected to the controller"
    os.kill(r.pid, signal.SIGSTOP)
    try:
        os.kill(ctl, signal.SIGKILL)
        wait_for(lambda: _zombie(ctl), 5, 0.01, "the controller to die")
        wait_for(lambda: not (ends & set().union(
            *(socket_inodes(p) for p in routers))), 5, 0.01,
            "the routers to close their pipes to it")
        for _ in range(15):
            assert dnsenv.query(r.port, "a.miek.nl.", "TXT").rcode() == 0
            time.sleep(0.1)     # pacing: a report goes every 100 ms
    finally:
        os.kill(r.pid, signal.SIGCONT)

    def successor():
        try:
            return controller_pid(r) != ctl
        except dnsenv.ProcessError:
            return False        # not forked yet
    wait_for(successor, 10, 0.05, "the master to restart the controller")

    def serving():
        try:
            return scrape(port)
        except OSError:
            return None         # not listening yet
    wait_for(serving, 10, 0.05, "the new controller's /metrics")
    wait_counts(port, {
        k("dnsrouter_backend_responses_total", backend=spec(backend_a),
          rcode="NOERROR"): 15,
        k("dnsrouter_queries_total", protocol="udp"): 15,
    })


def test_counts_before_a_new_controllers_first_table_wait_for_it(
        etcd, etcd_router, backend_a):  # noqa: F811
    """A controller restarted while etcd is stuck holds its first table
    back (the routers keep theirs); the backends' counts the routers
    report meanwhile wait for that table, then show."""
    port = free_port()
    r = etcd_router([etcd.url], more=metrics_extra(port))
    etcd.put("/dnsrouter/a", spec(backend_a) + "," + AB)
    r.wait_ready("a.miek.nl.", "TXT")
    wait_steady(port)       # wait_ready's queries went to this controller
    ctl = controller_pid(r)
    want = {k("dnsrouter_backend_responses_total", backend=spec(backend_a),
              rcode="NOERROR"): 15,
            k("dnsrouter_queries_total", protocol="udp"): 15}
    etcd.pause()
    try:
        os.kill(ctl, signal.SIGKILL)

        def serving():
            try:
                return controller_pid(r) != ctl and scrape(port)
            except (OSError, dnsenv.ProcessError):
                return None     # not restarted, or not listening yet
        wait_for(serving, 5, 0.02, "a new controller's /metrics")
        for _ in range(15):
            assert dnsenv.query(r.port, "a.miek.nl.", "TXT").rcode() == 0
        # the reports are in (the global counts show) before the table
        s = wait_for(lambda: (lambda s: s if val(
            s, "dnsrouter_queries_total", protocol="udp") >= 15 else None)(
            scrape(port)), 2, 0.02, "the reports to reach it")
        assert val(s, "dnsrouter_table_generation") == 0, \
            "the new controller has a table already: nothing was held"
        assert not any(n == "dnsrouter_backend_responses_total"
                       for n, _ in s)
    finally:
        etcd.resume()
    wait_counts(port, want)


def test_etcd_gauges_follow_etcd(etcd, etcd_router, backend_a):  # noqa: F811
    port = free_port()
    r = etcd_router([etcd.url], more=metrics_extra(port))
    etcd.put("/dnsrouter/a", spec(backend_a) + "," + AB)

    def rev():
        out = etcd.ctl("endpoint", "status", "-w", "json")
        return int(json.loads(out)[0]["Status"]["header"]["revision"])

    def caught_up(routes):
        s = scrape(port)
        return s if (val(s, "dnsrouter_etcd_connected") == 1 and
                     val(s, "dnsrouter_etcd_revision") == rev() and
                     val(s, "dnsrouter_routes") == routes) else None
    s = wait_for(lambda: caught_up(1), 10, 0.1, "etcd revision in /metrics")
    etcd.put("/dnsrouter/b", spec(backend_a) + r",^b\.miek")
    s2 = wait_for(lambda: caught_up(2), 10, 0.1, "the next revision")
    assert val(s2, "dnsrouter_etcd_revision") == \
        val(s, "dnsrouter_etcd_revision") + 1
    etcd.stop()
    wait_for(lambda: val(scrape(port), "dnsrouter_etcd_connected") == 0,
             15, 0.1, "etcd_connected 0")
    assert r.proc.poll() is None


def _listening_inodes():
    out = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":        # LISTEN
                    out.add(fields[9])
    return out


def test_metrics_are_off_without_the_key(make_router, backend_a):
    r = make_router([spec(backend_a) + "," + AB])
    r.wait_ready("a.miek.nl.", "TXT")
    pid = controller_pid(r)
    assert not (socket_inodes(pid) & _listening_inodes()), \
        "the controller listens on TCP without a metrics line"
    assert "metrics:" not in r.log()


def test_metrics_on_a_privileged_port_as_an_unprivileged_user(
        make_router, backend_a, public_tmp):
    """The controller binds before it drops privileges."""
    port = next(p for p in range(990, 1020)
                if _port_free(p))
    r = make_router([spec(backend_a) + "," + AB], user="nobody",
                    workdir=os.path.join(public_tmp, "r"),
                    extra=metrics_extra(port))
    r.wait_ready("a.miek.nl.", "TXT")
    s = scrape(port)
    assert val(s, "dnsrouter_routes") == 1
    with open("/proc/%d/status" % controller_pid(r)) as f:
        uid = [l.split()[1] for l in f if l.startswith("Uid:")][0]
    assert uid != "0"


def _port_free(p):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
            return True
        except OSError:
            return False


def test_a_busy_metrics_port_leaves_dns_running(make_router, backend_a):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = make_router([spec(backend_a) + "," + AB],
                        extra=metrics_extra(port))
        r.wait_ready("a.miek.nl.", "TXT")
        assert "metrics: cannot listen on 127.0.0.1:%d" % port in r.log()


def test_servfail_and_backend_failures_count_an_unresponsive_backend(
        make_router, make_named):
    """A stopped backend alone on its route: each query is one attempt
    that times out (no other backend to retry on) and one SERVFAIL.
    Health checks must not take it out of rotation meanwhile (the route
    would then answer SERVFAIL without trying it): one check an hour, and
    the most failures allowed before it is down."""
    import zones
    x = make_named(zones.zone_with("x", ['c IN TXT "c-from-x"']), "x")
    port = free_port()
    r = make_router([spec(x) + r",^c\.miek"], timeout="300ms",
                    extra=metrics_extra(port) +
                    "health-interval 1h\nhealth-fall 100\n")
    r.wait_ready("c.miek.nl.", "TXT")
    xs = spec(x)
    base = wait_steady(port)
    assert val(base, "dnsrouter_backend_up", backend=xs) == 1
    sent = 5
    x.pause()
    try:
        for _ in range(sent):
            resp = dnsenv.query(r.port, "c.miek.nl.", "TXT", timeout=3)
            assert resp.rcode() == dns.rcode.SERVFAIL
    finally:
        x.resume()

    def more(name, n, **labels):
        return k(name, **labels), val(base, name, **labels) + n
    want = dict([
        more("dnsrouter_servfail_total", sent),
        more("dnsrouter_queries_total", sent, protocol="udp"),
        more("dnsrouter_backend_queries_total", sent, backend=xs),
        more("dnsrouter_backend_failures_total", sent, backend=xs),
        more("dnsrouter_backend_response_seconds_count", 0, backend=xs),
    ] + [more("dnsrouter_backend_responses_total", 0, backend=xs, rcode=rc)
         for rc in ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
                    "REFUSED", "other")])
    s = wait_counts(port, want)
    # failures are the attempts that got no accepted reply
    answers = sum(v for (n, lb), v in s.items()
                  if n == "dnsrouter_backend_responses_total"
                  and dict(lb)["backend"] == xs)
    assert val(s, "dnsrouter_backend_failures_total", backend=xs) == \
        val(s, "dnsrouter_backend_queries_total", backend=xs) - answers > 0
    assert val(s, "dnsrouter_backend_up", backend=xs) == 1
    assert "is down" not in r.log()
