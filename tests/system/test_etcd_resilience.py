"""The controller against an etcd that goes away: restarts, a controller
cut off while etcd changes and compacts, a cluster member killed or
stalled, authentication. Real etcd, real BIND.

While etcd is unreachable the routers keep the last known routes; once it
is back the controller resumes its watch (or lists everything again if
the revision it needs was compacted away) and converges on what etcd
holds.
"""

import re

from conftest import spec
from dnsenv import ProcessError, free_port, wait_for
from etcdenv import (Etcd, QueryLoop, answer, answers,  # noqa: F401
                     controller_cut_off, etcd, etcd_client, etcd_cluster,
                     etcd_router, etcdctl, log_mark, wait_answer, wait_logged)

WATCHING = re.compile(r"etcd: watching (http://127\.0\.0\.1:\d+)/dnsrouter/ "
                      r"from revision (\d+)")


def watching(log):
    """[(url, revision)] of every watch established in log, in order."""
    return [(m.group(1), int(m.group(2))) for m in WATCHING.finditer(log)]


def shards(etcd_member, a, b):
    """The routes every test here starts from."""
    etcd_member.ctl("put", "/dnsrouter/a", "%s,^[ab]\\.miek" % spec(a))
    etcd_member.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(b))
    etcd_member.ctl("put", "/dnsrouter/apex", "%s,^miek" % spec(a))


def changes_while_away(etcd_member, b):
    """Three changes (four revisions), all of which must arrive."""
    etcd_member.ctl("del", "/dnsrouter/c")                 # c: REFUSED
    etcd_member.ctl("put", "/dnsrouter/d", "%s,^d\\.miek" % spec(b))
    etcd_member.ctl("put", "/dnsrouter/apex", "%s,^miek" % spec(b))  # moved
    etcd_member.ctl("put", "/dnsrouter/junk", "%s,^junk" % spec(b))
    etcd_member.ctl("del", "/dnsrouter/junk")


def assert_converged(r, timeout=15):
    wait_answer(r, "miek.nl.", "shard-cd", timeout=timeout)
    wait_answer(r, "d.miek.nl.", "dd", timeout=2)
    wait_answer(r, "c.miek.nl.", "REFUSED", timeout=2)
    assert answers(r, "a.miek.nl.", 4) == ["aa"] * 4


def test_etcd_restarted_controller_resumes_and_gets_later_change(
        backend_a, backend_b, etcd, etcd_router):
    r = etcd_router(etcd.url)
    shards(etcd, backend_a, backend_b)
    wait_answer(r, "miek.nl.", "shard-ab", timeout=5)
    rev = etcd.revision()

    mark = log_mark(r)
    etcd.stop()
    wait_logged(r, "etcd: %s: " % etcd.url, mark, timeout=10)
    # etcd is gone: the last known routes stay in force
    assert answers(r, "c.miek.nl.", 4) == ["cc"] * 4
    assert answers(r, "miek.nl.", 4) == ["shard-ab"] * 4

    etcd.start()                     # same data dir, same port
    etcd.ctl("put", "/dnsrouter/d", "%s,^d\\.miek" % spec(backend_b))
    wait_answer(r, "d.miek.nl.", "dd", timeout=15)
    # it resumed the watch where it left off: nothing listed again
    w = watching(r.log()[mark:])
    assert w and w[-1] == (etcd.url, rev + 1), w
    assert answers(r, "c.miek.nl.", 4) == ["cc"] * 4


def test_controller_stopped_while_etcd_changes_and_compacts(
        backend_a, backend_b, etcd, etcd_router):
    r = etcd_router(etcd.url)
    shards(etcd, backend_a, backend_b)
    wait_answer(r, "miek.nl.", "shard-ab", timeout=5)
    wait_answer(r, "c.miek.nl.", "cc", timeout=2)

    with controller_cut_off(r, etcd):
        changes_while_away(etcd, backend_b)
        etcd.compact()
        # the routers keep forwarding with their last table meanwhile
        assert answers(r, "miek.nl.", 4) == ["shard-ab"] * 4
        assert answers(r, "c.miek.nl.", 2) == ["cc"] * 2
    assert_converged(r)


def test_controller_stopped_while_etcd_restarts_changes_and_compacts(
        backend_a, backend_b, etcd, etcd_router):
    """The controller's watch connection dies while it is stopped and the
    revision it would resume from is compacted away: it must notice the
    compaction, list everything again and converge."""
    r = etcd_router(etcd.url)
    shards(etcd, backend_a, backend_b)
    wait_answer(r, "miek.nl.", "shard-ab", timeout=5)

    mark = log_mark(r)
    with controller_cut_off(r, etcd, restart_etcd=True):
        changes_while_away(etcd, backend_b)
        rev = etcd.compact()
    wait_logged(r, "was compacted away", mark, timeout=10)
    assert_converged(r)
    wait_logged(r, " keys under /dnsrouter/ at revision %d" % rev, mark, 2)


def test_etcd_stopped_while_it_changes_and_compacts(backend_a, backend_b,
                                                    etcd, etcd_router):
    """etcd goes away; while the controller keeps retrying, the same data
    comes back on another port (invisible to the controller), changes
    and compacts; then etcd is back where the controller looks for it."""
    r = etcd_router(etcd.url)
    shards(etcd, backend_a, backend_b)
    wait_answer(r, "miek.nl.", "shard-ab", timeout=5)

    mark = log_mark(r)
    etcd.stop()
    wait_logged(r, "etcd: %s: " % etcd.url, mark, timeout=10)
    side = Etcd(etcd.workdir, etcd.name, client_port=free_port(),
                peer_port=etcd.peer_port)
    side.start()
    try:
        changes_while_away(side, backend_b)
        rev = side.compact()
    finally:
        side.stop()
    # meanwhile: the last known routes
    assert answers(r, "miek.nl.", 4) == ["shard-ab"] * 4
    etcd.start()
    wait_logged(r, "was compacted away", mark, timeout=15)
    assert_converged(r)
    wait_logged(r, " keys under /dnsrouter/ at revision %d" % rev, mark, 2)


def test_cluster_member_in_use_killed_routing_goes_on(backend_a, backend_b,
                                                      etcd_cluster,
                                                      etcd_router):
    cl = etcd_cluster
    r = etcd_router(cl.urls())          # three etcd lines
    cl.ctl("put", "/dnsrouter/a", "%s,^[ab]\\.miek" % spec(backend_a))
    wait_answer(r, "a.miek.nl.", "aa", timeout=5)
    used = watching(r.log())[-1][0]
    assert used in cl.urls()

    mark = log_mark(r)
    with QueryLoop(r.port, "a.miek.nl.", "aa") as loop:
        cl.member(used).kill()          # kill -9
        put_retrying([u for u in cl.urls() if u != used],
                     "/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
        wait_answer(r, "c.miek.nl.", "cc", timeout=15)
    assert not loop.bad, "failed while a member died: %s" % loop.bad[:10]
    assert loop.ok > 20
    now = watching(r.log()[mark:])
    assert now and now[-1][0] != used and now[-1][0] in cl.urls(), now


def test_cluster_member_in_use_stalled_etcd_machines_env(backend_a,
                                                         backend_b,
                                                         etcd_cluster,
                                                         etcd_router):
    """ETCD_MACHINES overrides the file's etcd lines (the file names only
    a port where nothing listens). The member in use stops answering
    (SIGSTOP) but keeps its connections open: the controller must notice
    by itself and move on to another member."""
    cl = etcd_cluster
    dead = "http://127.0.0.1:%d" % free_port()
    r = etcd_router([dead], env={"ETCD_MACHINES": ",".join(cl.urls())})
    cl.ctl("put", "/dnsrouter/a", "%s,^[ab]\\.miek" % spec(backend_a))
    wait_answer(r, "a.miek.nl.", "aa", timeout=5)
    used = watching(r.log())[-1][0]
    assert used in cl.urls()

    mark = log_mark(r)
    with QueryLoop(r.port, "a.miek.nl.", "aa") as loop:
        cl.member(used).pause()
        try:
            # A put may time out while the survivors replace a stalled
            # leader: try again, bounded.
            put_retrying([u for u in cl.urls() if u != used],
                         "/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
            wait_answer(r, "c.miek.nl.", "cc", timeout=15)
        finally:
            cl.member(used).resume()
    assert not loop.bad, "failed while a member hung: %s" % loop.bad[:10]
    # the block outlasts the controller's 3 s stall check: the thread
    # answered all along (thousands here), not just a few times
    assert loop.ok > 200, "only %d answers while a member hung" % loop.ok
    now = watching(r.log()[mark:])
    assert now and now[-1][0] != used, now
    assert dead not in r.log()


def put_retrying(urls, key, value, timeout=15):
    def put():
        return etcdctl(urls, "put", key, value, timeout=3,
                       check=False).returncode == 0
    wait_for(put, timeout, 0.1, "etcdctl put %s to succeed" % key)


def test_etcd_with_authentication(backend_a, backend_b, etcd, etcd_router):
    etcd.ctl("user", "add", "root:s3cret", "--interactive=false")
    etcd.ctl("auth", "enable")
    etcd.auth_user = "root:s3cret"      # etcdctl and readiness log in
    # without credentials etcd now refuses
    assert etcdctl(etcd.url, "get", "/dnsrouter/", check=False).returncode
    etcd.ctl("put", "/dnsrouter/a", "%s,^[ab]\\.miek" % spec(backend_a))
    r = etcd_router(etcd.url, more="etcd-user root\netcd-password s3cret\n")
    wait_answer(r, "a.miek.nl.", "aa", timeout=5)
    etcd.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)

    # A wrong password gets nothing, and says why.
    bad = etcd_router(etcd.url, wait=False,
                      more="etcd-user root\netcd-password wrong\n")
    wait_logged(bad, "etcd: %s: " % etcd.url, 0, 10)
    # no table before the first listing (routers do not read yet), then
    # an empty one
    assert answer(bad.port, "a.miek.nl.") in ("timeout", "REFUSED")
    wait_answer(bad, "a.miek.nl.", "REFUSED", timeout=6)
    assert "s3cret" not in bad.log() and "wrong" not in bad.log()



def test_etcd_auth_token_invalidated_controller_logs_in_again(
        backend_a, backend_b, etcd, etcd_router):
    """etcd forgets the controller's token (auth disabled and enabled
    again clears simple tokens; so can a restart). The next time the
    controller connects, etcd cancels its watch with "invalid auth token"
    (HTTP 200 on the watch stream; a range would get 401): the controller
    must log in again rather than retry with the dead token forever."""
    etcd.ctl("user", "add", "root:s3cret", "--interactive=false")
    etcd.ctl("auth", "enable")
    etcd.auth_user = "root:s3cret"
    etcd.ctl("put", "/dnsrouter/a", "%s,^[ab]\\.miek" % spec(backend_a))
    r = etcd_router(etcd.url, more="etcd-user root\netcd-password s3cret\n")
    wait_answer(r, "a.miek.nl.", "aa", timeout=5)

    old = etcd_client(etcd.url)
    old.login("root:s3cret")
    etcd.ctl("auth", "disable")
    etcd.ctl("auth", "enable")
    # every token issued so far is dead now
    try:
        old.revision()
        raise AssertionError("a token from before 'auth disable' still works")
    except ProcessError as e:
        assert "401" in str(e), e
    mark = log_mark(r)
    etcd.stop()
    etcd.start()
    etcd.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
    wait_answer(r, "c.miek.nl.", "cc", timeout=10)
    assert watching(r.log()[mark:])
