"""dnsrouterctl route NAME [TYPE]: which route of the running dnsrouter
answers a name and why, from the table the controller last sent the
routers, matched by the routers' own matcher with their rule (the first
matching route with a backend up). Real BIND; a stopped shard makes its
route passed over for the next matching one, as the routers do."""

import os
import subprocess

from conftest import spec
from dnsenv import query, wait_for
import zones


def route(build_dir, r, *args):
    return subprocess.run(
        [os.path.join(build_dir, "dnsrouterctl"), "-f", r.conf_path, "route"]
        + list(args), capture_output=True, text=True, timeout=10,
        stdin=subprocess.DEVNULL)


def test_route_tells_which_route_answers(build_dir, make_named, make_router):
    a = make_named(zones.zone_ab(), "shard-ab")
    b = make_named(zones.zone_cd(), "shard-cd")
    r = make_router(zones.standard_routes(spec(a), spec(b)), workers=1,
                    extra="health-interval 200ms\nhealth-rise 1\n"
                    "health-fall 1\n")
    r.wait_ready("a.miek.nl.", "TXT", in_a_row=2)

    cp = route(build_dir, r, "A.Miek.NL", "TXT")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.startswith("a.miek.nl. TXT"), cp.stdout
    assert "^[ab]\\.miek  priority 0  matches: ANSWERS" in cp.stdout
    assert "%s up" % spec(a) in cp.stdout
    assert "answered by route" in cp.stdout

    # Two routes match o: the first answers, the second is never tried.
    cp = route(build_dir, r, "o.miek.nl.")
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    first = [l for l in lines if "^o\\.miek " in l]
    second = [l for l in lines if "^o\\. " in l]
    assert first and "ANSWERS" in first[0], cp.stdout
    assert second and "not tried" in second[0], cp.stdout

    cp = route(build_dir, r, "nomatch.example.")
    assert cp.returncode == 1 and "REFUSED" in cp.stdout, cp.stdout

    # Shard ab stopped: once it is marked down, o goes to the next route,
    # as a query shows, and route says so.
    a.stop()
    wait_for(lambda: "passed over" in route(build_dir, r, "o.miek.nl").stdout,
             10, what="route ^o\\.miek passed over")
    cp = route(build_dir, r, "o.miek.nl")
    assert cp.returncode == 0
    second = [l for l in cp.stdout.splitlines() if "^o\\. " in l]
    assert "ANSWERS" in second[0], cp.stdout
    # The controller's table (what route reads) reaches the router a few
    # ms later: the query agrees once the router has it too.

    def o_txt():
        got = query(r.port, "o.miek.nl.", "TXT")
        return [s.decode() for rr in got.answer for rd in rr
                for s in rd.strings]
    wait_for(lambda: o_txt() == ["o-from-cd"], 5,
             what="o.miek.nl answered by shard cd")
    assert o_txt() == ["o-from-cd"]
    cp = route(build_dir, r, "a.miek.nl")
    assert cp.returncode == 1 and "SERVFAIL" in cp.stdout, cp.stdout


def test_route_rejects_bad_input(build_dir, make_named, make_router):
    a = make_named(zones.zone_ab(), "shard-ab")
    r = make_router(["%s,miek\\.nl\\.$" % spec(a)], workers=1)
    r.wait_ready("a.miek.nl.", "TXT", in_a_row=2)
    cp = route(build_dir, r, "a..b")
    assert cp.returncode == 2 and "not a domain name" in cp.stderr
    cp = route(build_dir, r, "a.miek.nl", "NOSUCHTYPE")
    assert cp.returncode == 2 and "unknown type" in cp.stderr
    cp = route(build_dir, r)
    assert cp.returncode == 2 and "usage" in cp.stderr
