"""/health and /ready, the liveness and readiness probes on the metrics
address: 200 once the master, the controller and every router are alive
and (for /ready) every router has a route table and, with etcd
configured, the first etcd listing is applied;
503 with the reason otherwise. A router that stops reporting (stopped with
SIGSTOP: alive to the kernel, dead to DNS) makes /health 503 within a few
seconds; once it runs again, 200. With `lameduck D`, a SIGTERM makes
/ready 503 for D while DNS is still answered, then dnsrouter stops; a
second SIGTERM stops it at once."""

import os
import signal
import time

import dns.rcode

from dnsenv import free_port, query, wait_for
from etcdenv import etcd, etcd_router  # noqa: F401
from test_cache import one_shard
from test_metrics import http_get


def status(mport, path):
    """(HTTP status, body); (None, error) while nothing answers."""
    try:
        st, _, body = http_get(mport, path)
    except OSError as e:
        return None, str(e)
    return st, body.strip()


def wait_status(mport, path, want, timeout=10):
    return wait_for(lambda: (lambda r: r if r[0] == want else None)(
        status(mport, path)), timeout, what="%s %d" % (path, want))


def router_pids(r):
    out = []
    for pid in r.children():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"dnsrouter-router" in f.read():
                    out.append(pid)
        except OSError:
            pass
    return out


def with_metrics(make_named, make_router, workers=1, extra=""):
    """One BIND shard for all of miek.nl. and a ready router serving
    /metrics (and the probes) on a free port: (router, that port)."""
    mport = free_port()
    _, r = one_shard(make_named, make_router, workers=workers,
                     extra="metrics 127.0.0.1:%d\n%s" % (mport, extra))
    return r, mport


def test_health_and_ready_follow_the_routers(make_named, make_router):
    r, mport = with_metrics(make_named, make_router, workers=2)
    assert wait_status(mport, "/ready", 200)[1] == "ok"
    assert status(mport, "/health") == (200, "ok")
    assert http_get(mport, "/health", method="HEAD")[0] == 200
    pids = wait_for(lambda: (lambda p: p if len(p) == 2 else None)(
        router_pids(r)), 10, what="two routers")
    os.kill(pids[0], signal.SIGSTOP)
    try:
        st, why = wait_status(mport, "/health", 503, timeout=8)
        assert "has not reported" in why, why
        assert status(mport, "/ready")[0] == 503
    finally:
        os.kill(pids[0], signal.SIGCONT)
    wait_status(mport, "/health", 200, timeout=8)
    wait_status(mport, "/ready", 200, timeout=8)


def test_ready_waits_for_the_first_etcd_listing(etcd, etcd_router):
    mport = free_port()
    dead = "http://127.0.0.1:%d" % free_port()   # nothing listens there
    r = etcd_router(dead, wait=False, workers=1,
                    more="metrics 127.0.0.1:%d\n" % mport)
    wait_status(mport, "/health", 200)
    st, why = status(mport, "/ready")
    assert st == 503 and "etcd" in why, (st, why)
    r.stop()
    mport2 = free_port()
    etcd_router(etcd.url, workers=1, more="metrics 127.0.0.1:%d\n" % mport2)
    assert wait_status(mport2, "/ready", 200)[1] == "ok"


def test_lameduck_says_not_ready_while_still_answering(make_named,
                                                       make_router):
    r, mport = with_metrics(make_named, make_router, extra="lameduck 3s\n")
    wait_status(mport, "/ready", 200)
    t0 = time.monotonic()
    r.proc.send_signal(signal.SIGTERM)
    st, why = wait_status(mport, "/ready", 503, timeout=2)
    assert "lameduck" in why, why
    assert status(mport, "/health") == (200, "ok")
    got = query(r.port, "a.miek.nl.", "TXT", timeout=1.0)
    assert got.rcode() == dns.rcode.NOERROR and got.answer
    wait_for(lambda: r.proc.poll() is not None, 10, what="the master's exit")
    took = time.monotonic() - t0
    assert r.proc.returncode == 0
    assert 2.5 <= took < 8, took


def test_a_second_sigterm_ends_the_lameduck(make_named, make_router):
    r, mport = with_metrics(make_named, make_router, extra="lameduck 60s\n")
    r.proc.send_signal(signal.SIGTERM)
    wait_status(mport, "/ready", 503, timeout=2)
    r.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: r.proc.poll() is not None, 8, what="the master's exit")
    assert r.proc.returncode == 0
