"""More than one dnsrouter on one etcd cluster of three members (real etcd,
real BIND): a registration reaches both within a second; the member one
of them watches is killed and both keep watching (a later registration
reaches both); one dnsrouter killed, the other answers everything."""

import os
import signal
import time

from conftest import spec
from dnsenv import pid_alive, wait_for
from etcdenv import (etcd_cluster, etcd_router, wait_answer,  # noqa: F401
                     log_mark)
from test_etcd_resilience import put_retrying, watching


def test_two_dnsrouters_on_one_etcd_cluster(backend_a, backend_b,
                                            etcd_cluster, etcd_router):
    cl = etcd_cluster
    urls = cl.urls()
    r1 = etcd_router(urls)
    r2 = etcd_router(urls[1:] + urls[:1])   # another member first
    t0 = time.monotonic()
    cl.ctl("put", "/dnsrouter/a", "%s,^[ab]\\.miek" % spec(backend_a))
    wait_answer(r1, "a.miek.nl.", "aa", timeout=5, in_a_row=1)
    wait_answer(r2, "a.miek.nl.", "aa", timeout=5, in_a_row=1)
    took = time.monotonic() - t0
    assert took < 1.0, "a registration took %.2fs to reach both" % took

    used = watching(r1.log())[-1][0]
    marks = (log_mark(r1), log_mark(r2))
    cl.member(used).kill()                   # kill -9
    put_retrying([u for u in urls if u != used], "/dnsrouter/c",
                 "%s,^c\\.miek" % spec(backend_b))
    for r in (r1, r2):
        wait_answer(r, "c.miek.nl.", "cc", timeout=15)
        wait_answer(r, "a.miek.nl.", "aa", timeout=5)
    # r1 moved to another member; r2 still watches one that is alive.
    now1 = watching(r1.log()[marks[0]:])
    assert now1 and now1[-1][0] != used, now1
    w2 = watching(r2.log())
    assert w2[-1][0] != used or watching(r2.log()[marks[1]:]), w2

    kids = list(r1.children())
    assert kids
    os.kill(r1.pid, signal.SIGKILL)         # its children die with it
    wait_for(lambda: r1.proc.poll() is not None, 5, what="r1's exit")
    wait_for(lambda: not [p for p in kids if pid_alive(p)], 5,
             what="r1's children to die with it")
    r1.stop(check=False)                    # its rundir; nothing to stop
    r1.proc = None                          # killed on purpose
    for name, want in (("a.miek.nl.", "aa"), ("b.miek.nl.", "bb"),
                       ("c.miek.nl.", "cc")):
        wait_answer(r2, name, want, timeout=5)
