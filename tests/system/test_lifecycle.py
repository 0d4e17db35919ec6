"""Processes: who runs, SIGTERM, restarts, SIGHUP reloads."""

import os
import signal

import dns.rcode

from conftest import spec
from dnsenv import pid_alive, query, wait_for
from helpers import txts


def roles(children):
    out = {"router": [], "controller": [], "other": []}
    for pid, argv0 in children.items():
        base = os.path.basename(argv0)
        if base.startswith("dnsrouter-router"):
            out["router"].append(pid)
        elif base.startswith("dnsrouter-controller"):
            out["controller"].append(pid)
        else:
            out["other"].append(pid)
    return out


def test_master_spawns_routers_and_one_controller(make_router, backend_a):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], workers=3)
    r.wait_ready("a.miek.nl.", "TXT")
    ro = roles(r.children())
    assert len(ro["router"]) == 3, r.children()
    assert len(ro["controller"]) == 1, r.children()
    assert ro["other"] == [], r.children()


def test_sigterm_stops_master_and_children(make_router, backend_a):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)])
    r.wait_ready("a.miek.nl.", "TXT")
    kids = list(r.children())
    assert kids
    os.kill(r.pid, signal.SIGTERM)
    rc = r.proc.wait(10)
    assert rc == 0, r.log()[-3000:]
    wait_for(lambda: not any(pid_alive(p) for p in kids), 3, 0.02,
             "children to exit")


def test_sigint_stops_master(make_router, backend_a):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)])
    r.wait_ready("a.miek.nl.", "TXT")
    kids = list(r.children())
    os.kill(r.pid, signal.SIGINT)
    assert r.proc.wait(10) == 0
    wait_for(lambda: not any(pid_alive(p) for p in kids), 3, 0.02,
             "children to exit")


def test_killed_router_is_restarted(make_router, backend_a):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)])
    r.wait_ready("a.miek.nl.", "TXT")
    before = roles(r.children())
    victim = before["router"][0]
    os.kill(victim, signal.SIGKILL)

    def replaced():
        now = roles(r.children())
        return (len(now["router"]) == len(before["router"])
                and victim not in now["router"]) and now
    now = wait_for(replaced, 5, 0.02, "a new router")
    # the others were left alone
    assert set(before["router"]) - {victim} <= set(now["router"])
    assert now["controller"] == before["controller"]
    assert r.proc.poll() is None
    r.wait_ready("a.miek.nl.", "TXT", timeout=5)


def test_killed_controller_is_restarted_and_routers_keep_serving(
        make_router, backend_a):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)])
    r.wait_ready("a.miek.nl.", "TXT")
    before = roles(r.children())
    os.kill(before["controller"][0], signal.SIGKILL)
    # routers forward with their last table meanwhile
    for _ in range(5):
        assert txts(query(r.port, "a.miek.nl.", "TXT")) == ["aa"]
    now = wait_for(lambda: (lambda ro: len(ro["controller"]) == 1
                            and ro["controller"] != before["controller"]
                            and ro)(roles(r.children())),
                   5, 0.02, "a new controller")
    assert set(now["router"]) == set(before["router"])
    r.wait_ready("a.miek.nl.", "TXT", timeout=5)


def test_sighup_rereads_routes_file(make_router, backend_a, backend_b):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)])
    r.wait_ready("a.miek.nl.", "TXT")
    assert query(r.port, "c.miek.nl.", "TXT").rcode() == dns.rcode.REFUSED
    r.write_routes(["%s,^[cd]\\.miek" % spec(backend_b)])
    r.reload()
    r.wait_ready("c.miek.nl.", "TXT", timeout=5)
    assert txts(query(r.port, "d.miek.nl.", "TXT")) == ["dd"]
    # the route that left the file is gone
    r.wait_ready("a.miek.nl.", "TXT", expect=dns.rcode.REFUSED, timeout=5)
    assert r.proc.poll() is None


def test_sighup_with_bad_config_keeps_serving(make_router, backend_a):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)])
    r.wait_ready("a.miek.nl.", "TXT")
    good = open(r.conf_path).read()
    with open(r.conf_path, "w") as f:
        f.write(good + "this-is-not-a-key 1\n")
    bad_line = good.count("\n") + 1
    r.reload()
    want = "%s:%d:" % (r.conf_path, bad_line)
    wait_for(lambda: want in r.log(), 5, 0.05, "the error in the log")
    assert r.proc.poll() is None
    r.wait_ready("a.miek.nl.", "TXT", timeout=5)
    with open(r.conf_path, "w") as f:
        f.write(good)


def test_ipv6_listener_and_backend(make_named, make_router):
    from zones import zone_with
    n = make_named(zone_with("v6", ['a IN TXT "a-over-v6"']), "v6",
                   addr="::1")
    r = make_router(["[::1]:%d,^a\\.miek" % n.port], listen_addr="::1")
    r.wait_ready("a.miek.nl.", "TXT")
    assert txts(query(r.port, "a.miek.nl.", "TXT", addr="::1")) == \
        ["a-over-v6"]
    assert txts(query(r.port, "a.miek.nl.", "TXT", addr="::1", tcp=True)) \
        == ["a-over-v6"]
