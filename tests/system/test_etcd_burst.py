"""1,000 registrations in a burst, while queries keep flowing.

The burst is 1,000 separate puts (1,000 revisions, as many watch events)
over one keep-alive connection to etcd's JSON gateway. The controller
must end with one table holding every route, and a name routed all along
must not fail once meanwhile.
"""

import re

from conftest import spec
from etcdenv import (QueryLoop, answer, etcd, etcd_client,  # noqa: F401
                     etcd_router, wait_answer)
from dnsenv import wait_for
import zones

N = 1000
TABLE = re.compile(r"route table generation (\d+): (\d+) routes, (\d+) "
                   r"backends")


def tables(log):
    return [tuple(int(x) for x in m.groups()) for m in TABLE.finditer(log)]


def test_thousand_registrations_in_a_burst_converge_while_queries_flow(
        backend_b, make_named, etcd, etcd_router):
    w = make_named(zones.zone_with("w", ['*.burst IN TXT "burst"']), "w")
    r = etcd_router(etcd.url)
    etcd.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)

    cl = etcd_client(etcd.url)
    try:
        with QueryLoop(r.port, "c.miek.nl.", "cc") as loop:
            for i in range(N):
                cl.put("/dnsrouter/burst/%04d" % i,
                       "%s,^r%04d\\.burst\\.miek" % (spec(w), i))
            # converged: the newest table holds every route
            wait_for(lambda: tables(r.log())[-1][1:] == (N + 1, 2), 20,
                     0.05, "a table with %d routes" % (N + 1))
            wait_answer(r, "r%04d.burst.miek.nl." % (N - 1), "burst",
                        timeout=5)
            before = loop.ok
            wait_for(lambda: loop.ok >= before + 20, 5, 0.02,
                     "queries after the burst")
    finally:
        cl.close()
    assert not loop.bad, "a name routed all along failed %d times during " \
        "the burst: %s" % (len(loop.bad), loop.bad[:10])
    assert loop.ok > 50
    # every one of them routes
    missing = [i for i in range(N)
               if answer(r.port, "r%04d.burst.miek.nl." % i) != "burst"]
    assert not missing, "%d burst routes not answered, e.g. %s" \
        % (len(missing), missing[:10])
    assert answer(r.port, "r%04d.burst.miek.nl." % N) == "REFUSED"
    # and nothing is pending: the last table is still the full one
    last = tables(r.log())[-1]
    assert last[1:] == (N + 1, 2), last
