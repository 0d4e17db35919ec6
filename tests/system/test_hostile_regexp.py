"""A regexp written to backtrack, registered in etcd ahead of the real
routes: it is refused with its key and the reason, and names the real
routes serve keep being answered at once, also the names the hostile
regexps were aimed at. Before, `^(a|a)+$` cost 43 ms of every router for
each query for a 61-letter name."""

import json
import time

from conftest import spec
from etcdenv import (answer, etcd, etcd_router, log_mark,  # noqa: F401
                     wait_answer, wait_logged)

HOSTILE = {
    "evil1": json.dumps({"addr": "127.0.0.1:9", "match": "^(a|a)+$",
                         "priority": -10}),
    "evil2": "127.0.0.1:9,^(\\w|\\w)*(?<!x)$",
}


def test_backtracking_regexps_refused_names_still_fast(backend_a, backend_b,
                                                       etcd, etcd_router):
    r = etcd_router(etcd.url)
    mark = log_mark(r)
    for k, v in HOSTILE.items():
        etcd.ctl("put", "/dnsrouter/" + k, v)
    etcd.ctl("put", "/dnsrouter/ab", "%s,^[ab]\\.miek" % spec(backend_a))
    etcd.ctl("put", "/dnsrouter/cd", "%s,^[c-z]" % spec(backend_b))
    for k in HOSTILE:
        line = wait_logged(r, "key /dnsrouter/%s: " % k, mark, timeout=10)
        assert line is not None
    wait_answer(r, "a.miek.nl.", "aa", timeout=10)
    log = r.log()[mark:]
    for k in HOSTILE:
        assert any("/dnsrouter/%s" % k in l and "too costly" in l
                   for l in log.splitlines()), log[-3000:]
    # 200 queries, half of them for the name the regexps choke on: all
    # answered, in well under the 20 s the regexps would have cost.
    aimed = "a" * 61 + ".miek.nl."
    t0 = time.monotonic()
    for i in range(100):
        assert answer(r.port, aimed, "TXT") in ("NXDOMAIN", "REFUSED")
        assert answer(r.port, "c.miek.nl.", "TXT") == "cc"
    took = time.monotonic() - t0
    assert took < 5.0, "200 queries took %.1fs" % took
