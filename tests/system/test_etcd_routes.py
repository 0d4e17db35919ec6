"""Routes from etcd values: JSON and priority, deletion, lease expiry,
changed values, bad values. Real etcd, real BIND.

The session backends serve both shards of miek.nl. (zones.py): names
p.miek.nl. and o.miek.nl. exist on both, with a TXT naming the shard, so
an answer tells which backend gave it.
"""

import json
import os
import subprocess
import time

from conftest import spec
from dnsenv import wait_for
from etcdenv import (answer, answers, controller_cut_off,  # noqa: F401
                     etcd, etcd_router, log_mark, wait_all_seen, wait_answer,
                     wait_logged)
import zones


def jv(addr, match, priority=None):
    """A JSON route value."""
    o = {"addr": addr, "match": match}
    if priority is not None:
        o["priority"] = priority
    return json.dumps(o)


def test_json_lower_priority_wins_over_earlier_registration(
        backend_a, backend_b, etcd, etcd_router):
    r = etcd_router(etcd.url)
    # Registered first, broader, priority 5 ...
    etcd.ctl("put", "/dnsrouter/p-cd", jv(spec(backend_b), r"^p\.", 5))
    wait_answer(r, "p.miek.nl.", "p-from-cd", timeout=5)
    # ... loses to a later registration with priority 1.
    etcd.ctl("put", "/dnsrouter/p-ab", jv(spec(backend_a), r"^p\.miek", 1))
    wait_answer(r, "p.miek.nl.", "p-from-ab", timeout=5)
    # A negative priority comes before the default 0 of the 2014 format.
    etcd.ctl("put", "/dnsrouter/o-ab", "%s,^o\\.miek" % spec(backend_a))
    wait_answer(r, "o.miek.nl.", "o-from-ab", timeout=5)
    etcd.ctl("put", "/dnsrouter/o-cd", jv(spec(backend_b), r"^o\.", -1))
    wait_answer(r, "o.miek.nl.", "o-from-cd", timeout=5)


def test_json_equal_priority_first_registered_wins(backend_a, backend_b,
                                                   etcd, etcd_router):
    r = etcd_router(etcd.url)
    # The broader regexp first; the later, more specific one must not win.
    etcd.ctl("put", "/dnsrouter/o-cd", jv(spec(backend_b), r"^o\.", 3))
    etcd.ctl("put", "/dnsrouter/o-ab", jv(spec(backend_a), r"^o\.miek", 3))
    etcd.ctl("put", "/dnsrouter/probe",
             "%s,^c\\.miek" % spec(backend_b))
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)   # all three are in
    assert answers(r, "o.miek.nl.", 10) == ["o-from-cd"] * 10
    # The other way round, with keys in the other alphabetical order too.
    etcd.ctl("put", "/dnsrouter/p-ab", jv(spec(backend_a), r"^p\.miek", 3))
    etcd.ctl("put", "/dnsrouter/p-cd", jv(spec(backend_b), r"^p\.", 3))
    etcd.ctl("put", "/dnsrouter/probe",
             "%s,^d\\.miek" % spec(backend_b))
    wait_answer(r, "d.miek.nl.", "dd", timeout=5)
    assert answers(r, "p.miek.nl.", 10) == ["p-from-ab"] * 10


def test_registration_order_kept_by_a_controller_that_starts_later(
        backend_a, backend_b, etcd, etcd_router):
    """The order of registration is etcd's, not the controller's: a
    controller that finds the keys already there (started later, or
    listing again after a compaction) must order equal-priority routes as
    they were registered, not by key name. Here the first registration has
    the key that sorts last."""
    etcd.ctl("put", "/dnsrouter/z-first", "%s,^o\\." % spec(backend_b))
    etcd.ctl("put", "/dnsrouter/a-second", "%s,^o\\.miek" % spec(backend_a))
    r = etcd_router(etcd.url)
    wait_answer(r, "o.miek.nl.", {"o-from-cd", "o-from-ab"}, timeout=5)
    got = answers(r, "o.miek.nl.", 8)
    assert got == ["o-from-cd"] * 8, \
        "first registered (/dnsrouter/z-first, ^o\\.) should win: %s" % got


def test_listing_again_after_compaction_keeps_route_order(
        backend_a, backend_b, etcd, etcd_router):
    """Equal priority, first registered first: a running controller gets
    it right from the watch; listing everything again after a compaction
    must not reorder the routes (no write changed them)."""
    r = etcd_router(etcd.url)
    etcd.ctl("put", "/dnsrouter/z-first", "%s,^o\\." % spec(backend_b))
    etcd.ctl("put", "/dnsrouter/a-second", "%s,^o\\.miek" % spec(backend_a))
    wait_answer(r, "o.miek.nl.", "o-from-cd", timeout=5)
    mark = log_mark(r)
    with controller_cut_off(r, etcd, restart_etcd=True):
        etcd.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
        etcd.ctl("put", "/dnsrouter/d", "%s,^d\\.miek" % spec(backend_b))
        etcd.compact()
    wait_logged(r, "was compacted away", mark, timeout=10)
    wait_answer(r, "d.miek.nl.", "dd", timeout=5)
    got = answers(r, "o.miek.nl.", 8)
    assert got == ["o-from-cd"] * 8, \
        "the re-listing reordered the routes: %s" % got


def test_deleted_key_removes_its_backend_at_once(make_named, etcd,
                                                 etcd_router):
    x = make_named(zones.zone_with("x", ['c IN TXT "c-from-x"']), "x")
    y = make_named(zones.zone_with("y", ['c IN TXT "c-from-y"']), "y")
    r = etcd_router(etcd.url)
    etcd.ctl("put", "/dnsrouter/x", "%s,^c\\.miek" % spec(x))
    etcd.ctl("put", "/dnsrouter/y", "%s,^c\\.miek" % spec(y))
    wait_all_seen(r, "c.miek.nl.", {"c-from-x", "c-from-y"}, timeout=5)

    mark = log_mark(r)
    t0 = time.monotonic()
    etcd.ctl("del", "/dnsrouter/y")
    wait_answer(r, "c.miek.nl.", "c-from-x", timeout=2)
    took = time.monotonic() - t0
    wait_logged(r, ": 1 routes, 1 backends", mark, timeout=2)
    assert took < 1.5, "deletion took %.2fs to show" % took
    # y is healthy all along: only the deletion took it out
    assert "is down" not in r.log()[mark:]

    # The last backend of the route gone: the route is gone.
    etcd.ctl("del", "/dnsrouter/x")
    wait_answer(r, "c.miek.nl.", "REFUSED", timeout=2)


def test_expired_lease_removes_its_backend(backend_a, backend_b, etcd,
                                           etcd_router):
    r = etcd_router(etcd.url)
    etcd.ctl("put", "/dnsrouter/a", "%s,^a\\.miek" % spec(backend_a))
    lease = etcd.lease_grant(2)
    t0 = time.monotonic()
    etcd.ctl("put", "--lease=" + lease, "/dnsrouter/c",
             "%s,^c\\.miek" % spec(backend_b))
    # 12 in a row: every router has the route (not just the first one)
    wait_answer(r, "c.miek.nl.", "cc", timeout=3, in_a_row=12)
    assert time.monotonic() - t0 < 1.5, "too slow to tell the lease apart"
    # Nobody keeps the lease alive: gone within its TTL plus etcd's
    # expiry check (500 ms) and the propagation.
    wait_answer(r, "c.miek.nl.", "REFUSED", timeout=6, in_a_row=8)
    took = time.monotonic() - t0
    assert took >= 1.5, "removed after %.2fs, before the lease expired" \
        % took
    assert etcd.get_prefix("/dnsrouter/c") == {}
    assert answers(r, "a.miek.nl.", 4) == ["aa"] * 4


def test_changed_value_replaces_its_backend(make_named, etcd, etcd_router):
    x = make_named(zones.zone_with("x", ['c IN TXT "c-from-x"']), "x")
    y = make_named(zones.zone_with("y", ['c IN TXT "c-from-y"']), "y")
    r = etcd_router(etcd.url)
    etcd.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(x))
    wait_answer(r, "c.miek.nl.", "c-from-x", timeout=5)

    mark = log_mark(r)
    etcd.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(y))
    wait_answer(r, "c.miek.nl.", "c-from-y", timeout=2, in_a_row=12)
    # replaced, not added: one backend left in the table
    wait_logged(r, ": 1 routes, 1 backends", mark, timeout=2)

    # The regexp changes too (JSON now): the old route is gone.
    etcd.ctl("put", "/dnsrouter/c", jv(spec(y), r"^d\.miek"))
    wait_answer(r, "c.miek.nl.", "REFUSED", timeout=2)
    # zone y has no d: NXDOMAIN from y proves it was forwarded there
    wait_answer(r, "d.miek.nl.", "NXDOMAIN", timeout=2)


BAD = {
    # key: (bad value, fixed value, name it routes, answer once fixed,
    #       what the log must say about it)
    "noport": ("127.0.0.1,^c\\.miek", "{B},^c\\.miek", "c", "cc",
               "needs a port"),
    "badaddr": ("127.0.0.300:53,^d\\.miek", "{B},^d\\.miek", "d", "dd",
                "address '127.0.0.300:53'"),
    "badre": ("{B},^(e\\.miek", "{B},^e\\.miek", "e", "e-from-cd",
              "regexp does not compile"),
    "badjson": ('{{"addr":"{B}","match":"^ee\\\\.miek"',
                '{{"addr":"{B}","match":"^ee\\\\.miek"}}', "ee",
                "ee-from-cd", "bad JSON"),
}


def bad_lines(log, key):
    return [l for l in log.splitlines()
            if "etcd: key /dnsrouter/%s: " % key in l and "skipped" in l]


def test_bad_values_skipped_logged_once_then_fixed(backend_a, backend_b,
                                                   etcd, etcd_router):
    b = spec(backend_b)
    r = etcd_router(etcd.url)
    mark = log_mark(r)
    for key, (bad, _, _, _, _) in BAD.items():
        etcd.ctl("put", "/dnsrouter/" + key, bad.format(B=b))
    etcd.ctl("put", "/dnsrouter/good", "%s,^[ab]\\.miek" % spec(backend_a))
    wait_answer(r, "a.miek.nl.", "aa", timeout=5)
    for key, (_, _, name, _, why) in BAD.items():
        assert answer(r.port, "%s.miek.nl." % name) == "REFUSED", key
        lines = bad_lines(r.log()[mark:], key)
        assert len(lines) == 1 and why in lines[0], (key, lines)

    # More changes, and a full listing again (the controller is cut off
    # while etcd restarts and compacts): the same bad values are not
    # logged again.
    mark2 = log_mark(r)
    with controller_cut_off(r, etcd, restart_etcd=True):
        etcd.ctl("put", "/dnsrouter/good2", "%s,^o\\." % spec(backend_b))
        etcd.ctl("put", "/dnsrouter/good3", "%s,^miek" % spec(backend_a))
        # The controller saw everything up to two revisions ago.
        etcd.compact()
    wait_logged(r, "was compacted away", mark2, timeout=10)
    wait_answer(r, "miek.nl.", "shard-ab", timeout=10)
    wait_answer(r, "o.miek.nl.", "o-from-cd", timeout=2)
    for key in BAD:
        assert len(bad_lines(r.log()[mark:], key)) == 1, key

    # Fixing a value makes it work.
    for key, (_, fixed, name, txt, _) in BAD.items():
        etcd.ctl("put", "/dnsrouter/" + key, fixed.format(B=b))
        wait_answer(r, "%s.miek.nl." % name, txt, timeout=5)
    assert answers(r, "a.miek.nl.", 4) == ["aa"] * 4
    assert "skipped" not in "".join(
        l for l in r.log()[mark:].splitlines(True)
        if "/dnsrouter/good" in l)


def test_key_turned_bad_logs_and_the_rest_keeps_working(backend_a, backend_b,
                                                        etcd, etcd_router):
    r = etcd_router(etcd.url)
    etcd.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
    etcd.ctl("put", "/dnsrouter/a", "%s,^a\\.miek" % spec(backend_a))
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)
    mark = log_mark(r)
    etcd.ctl("put", "/dnsrouter/c", "%s,^c\\.miek[" % spec(backend_b))
    wait_logged(r, "etcd: key /dnsrouter/c: regexp does not compile", mark,
                timeout=3)
    # the key's earlier registration is gone (docs/configuration.md), the
    # rest keeps working
    wait_answer(r, "c.miek.nl.", "REFUSED", timeout=3)
    assert answers(r, "a.miek.nl.", 8) == ["aa"] * 8
    etcd.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)


def ctl_status(build_dir, router):
    """dnsrouterctl status --json of a running router."""
    env = dict(os.environ)
    env.pop("ETCD_MACHINES", None)
    cp = subprocess.run([os.path.join(build_dir, "dnsrouterctl"), "-f",
                         router.conf_path, "status", "--json"], env=env,
                        capture_output=True, text=True, timeout=30,
                        stdin=subprocess.DEVNULL)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    return json.loads(cp.stdout)


def test_static_routes_file_merges_with_etcd(build_dir, backend_a, backend_b,
                                             etcd, etcd_router):
    """The routes file routes ^[ab]\\.miek to shard ab, etcd routes
    ^c\\.miek to shard cd: one table holds both, from the first listing,
    through later etcd changes and through a reload of the file."""
    a, b = spec(backend_a), spec(backend_b)
    etcd.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % b)
    r = etcd_router(etcd.url, routes=["%s,^[ab]\\.miek" % a])
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)          # etcd
    assert answers(r, "a.miek.nl.", 8) == ["aa"] * 8       # file
    assert answers(r, "b.miek.nl.", 8) == ["bb"] * 8
    st = ctl_status(build_dir, r)
    assert sorted((rt["match"], tuple(rt["backends"]))
                  for rt in st["routes"]) == \
        [(r"^[ab]\.miek", (a,)), (r"^c\.miek", (b,))], st["routes"]

    # A change from the watch keeps the file's route ...
    etcd.ctl("put", "/dnsrouter/d", "%s,^d\\.miek" % b)
    wait_answer(r, "d.miek.nl.", "dd", timeout=5)
    assert answers(r, "a.miek.nl.", 8) == ["aa"] * 8
    assert answers(r, "c.miek.nl.", 4) == ["cc"] * 4

    # ... and a reload of the file (which now routes the apex too) keeps
    # etcd's routes.
    r.write_routes(["%s,^[ab]\\.miek" % a, "%s,^miek" % a])
    r.reload()
    wait_answer(r, "miek.nl.", "shard-ab", timeout=10)
    assert answers(r, "c.miek.nl.", 8) == ["cc"] * 8
    assert answers(r, "d.miek.nl.", 4) == ["dd"] * 4
    assert answers(r, "a.miek.nl.", 4) == ["aa"] * 4
    want = {r"^[ab]\.miek", r"^miek", r"^c\.miek", r"^d\.miek"}
    wait_for(lambda: sorted(rt["match"] for rt in
                            ctl_status(build_dir, r)["routes"])
             == sorted(want), 5, 0.1,
             "status to list the 2 file and the 2 etcd routes")
