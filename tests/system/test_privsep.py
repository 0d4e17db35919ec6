"""Privilege separation: the master stays root, routers and the controller
run as the configured user (routers chrooted into the run directory), with
no supplementary groups, no capabilities and no_new_privs."""

import os
import pwd
import re
import signal
import stat
import subprocess

import dns.rcode
import pytest

from conftest import spec
from dnsenv import free_port, pid_alive, query, wait_for
from helpers import txts
from procs import ids, root_of, status, wait_routers


def nobody():
    pw = pwd.getpwnam("nobody")
    return pw.pw_uid, pw.pw_gid


def assert_dropped(pid, uid, gid, what):
    st = status(pid)
    assert ids(pid, "Uid") == [uid] * 4, "%s: Uid %s" % (what, st["Uid"])
    assert ids(pid, "Gid") == [gid] * 4, "%s: Gid %s" % (what, st["Gid"])
    # supplementary groups: none but the user's own group
    assert set(ids(pid, "Groups")) <= {gid}, \
        "%s: Groups %s" % (what, st["Groups"])
    assert 0 not in ids(pid, "Groups"), "%s: still in group root" % what
    assert st["NoNewPrivs"] == "1", \
        "%s: NoNewPrivs %s" % (what, st["NoNewPrivs"])
    assert int(st["CapEff"], 16) == 0, "%s: CapEff %s" % (what, st["CapEff"])
    assert int(st["CapPrm"], 16) == 0, "%s: CapPrm %s" % (what, st["CapPrm"])


@pytest.fixture
def as_nobody(public_tmp, make_router, backend_a):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], user="nobody",
                    workers=2, workdir=os.path.join(public_tmp, "r"))
    r.wait_ready("a.miek.nl.", "TXT")
    return r


def test_children_run_as_user_routers_chrooted(as_nobody):
    r = as_nobody
    uid, gid = nobody()
    ro = wait_routers(r, 2)
    # the master stays root
    assert ids(r.pid, "Uid") == [0] * 4
    assert root_of(r.pid) == "/"
    for idx, pid in ro["router"].items():
        assert_dropped(pid, uid, gid, "router #%d" % idx)
        assert root_of(pid) == r.rundir, \
            "router #%d root is %s, not %s" % (idx, root_of(pid), r.rundir)
        # chdir("/") after chroot: the cwd is the run directory too
        assert os.readlink("/proc/%d/cwd" % pid) == r.rundir
    ctl = ro["controller"][0]
    assert_dropped(ctl, uid, gid, "controller")
    # the controller, which read the routes file as nobody, gave routers
    # the route: the answer comes from the backend
    assert txts(query(r.port, "b.miek.nl.", "TXT")) == ["bb"]


def test_rundir_belongs_to_user(as_nobody):
    r = as_nobody
    uid, gid = nobody()
    st = os.stat(r.rundir)
    assert (st.st_uid, st.st_gid) == (uid, gid)
    assert stat.S_IMODE(st.st_mode) == 0o750
    # the nng endpoints live there, made by the controller as nobody
    ipc = [f for f in os.listdir(r.rundir) if f.endswith(".ipc")]
    assert ipc, os.listdir(r.rundir)
    for f in ipc:
        assert os.stat(os.path.join(r.rundir, f)).st_uid == uid


def test_restarted_router_drops_privileges_too(as_nobody):
    r = as_nobody
    uid, gid = nobody()
    before = wait_routers(r, 2)
    victim = before["router"][1]
    os.kill(victim, signal.SIGKILL)
    now = wait_routers(r, 2, exclude=[victim])
    new = now["router"][1]
    assert new != victim
    r.wait_ready("a.miek.nl.", "TXT", timeout=5)
    assert_dropped(new, uid, gid, "restarted router #1")
    assert root_of(new) == r.rundir


def test_controller_reads_routes_file_as_user(public_tmp, make_router,
                                              backend_a):
    """A routes file only root may read gives the controller (nobody) no
    routes: proof that it reads the file after dropping privileges."""
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], user="nobody",
                    workdir=os.path.join(public_tmp, "r"))
    os.chmod(r.routes_path, 0o600)
    r.wait_ready("a.miek.nl.", "TXT", expect=dns.rcode.REFUSED)
    assert re.search(r"routes file %s: Permission denied"
                     % re.escape(r.routes_path), r.log()), r.log()
    # readable again, and a SIGHUP: the route is there
    os.chmod(r.routes_path, 0o644)
    r.reload()
    r.wait_ready("a.miek.nl.", "TXT", timeout=5)


def test_user_root_keeps_children_root_and_says_so(make_router, backend_a):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], user="root")
    r.wait_ready("a.miek.nl.", "TXT")
    ro = wait_routers(r, 2)
    for pid in list(ro["router"].values()) + ro["controller"]:
        assert ids(pid, "Uid") == [0] * 4
        assert status(pid)["NoNewPrivs"] == "1"
    # routers are chrooted even as root
    for pid in ro["router"].values():
        assert root_of(pid) == r.rundir
    # every child says it, loudly
    assert r.log_count("RUNNING AS ROOT") >= 3, r.log()


def test_nonexistent_user_is_a_config_error(build_dir, tmp_path):
    routes = tmp_path / "routes"
    routes.write_text("127.0.0.1:5300,^a\\.miek\n")
    conf = tmp_path / "dnsrouter.conf"
    conf.write_text("listen 127.0.0.1:5299\nworkers 1\n"
                    "user no-such-user-xyzzy\nrundir /tmp/drnouser\n"
                    "routes %s\n" % routes)
    binary = os.path.join(build_dir, "dnsrouter")
    for args in (["-n"], ["-d"]):
        p = subprocess.run([binary] + args + ["-f", str(conf)],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=10)
        out = p.stdout + p.stderr
        assert p.returncode == 1, (args, out)
        assert "no-such-user-xyzzy" in out, (args, out)
        assert "configuration OK" not in out
    assert not os.path.exists("/tmp/drnouser")


def test_check_config_with_existing_user(build_dir, tmp_path):
    conf = tmp_path / "dnsrouter.conf"
    conf.write_text("listen 127.0.0.1:5299\nuser nobody\n")
    p = subprocess.run([os.path.join(build_dir, "dnsrouter"), "-n", "-f",
                        str(conf)], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "configuration OK" in p.stdout


def test_master_killed_with_sigkill_takes_its_children(as_nobody):
    """The uid change clears the parent-death signal the master asked for;
    the children ask for it again after dropping privileges. Before, a
    router or controller outlived a SIGKILLed master for good, holding its
    listening sockets and serving a stale table."""
    r = as_nobody
    kids = r.children()
    assert len(kids) == 3, kids
    os.kill(r.pid, signal.SIGKILL)
    r.proc.wait(5)
    try:
        wait_for(lambda: not [p for p in kids if pid_alive(p)], 3.0, 0.02,
                 "children to follow the master")
    finally:
        for p in kids:
            if pid_alive(p):
                os.kill(p, signal.SIGKILL)
        r.stop(check=False)
        r.proc = None


def environ(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return dict(e.decode().split("=", 1)
                    for e in f.read().split(b"\0") if e)


def test_children_get_a_minimal_environment(make_router, backend_a):
    """Nothing of the master's environment reaches the children but what
    they use: a proxy variable would send the controller's etcd traffic
    elsewhere (libcurl reads them), a library variable change how code
    runs."""
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], workers=1,
                    env={"http_proxy": "http://127.0.0.1:9",
                         "HTTPS_PROXY": "http://127.0.0.1:9",
                         "ALL_PROXY": "http://127.0.0.1:9",
                         "LD_LIBRARY_PATH": "/nonexistent",
                         "TZ": "UTC", "DNSROUTER_IO_URING": "0"})
    r.wait_ready("a.miek.nl.", "TXT")
    kids = r.children()
    assert len(kids) == 2, kids
    for pid, name in kids.items():
        env = environ(pid)
        allowed = {"PATH", "TZ", "DNSROUTER_IO_URING", "ASAN_OPTIONS",
                   "UBSAN_OPTIONS", "LSAN_OPTIONS"}
        assert set(env) <= allowed, "%s: %s" % (name, sorted(env))
        assert env.get("TZ") == "UTC", env
        assert env.get("DNSROUTER_IO_URING") == "0", env
    assert "sending with sendmmsg (DNSROUTER_IO_URING=0)" in r.log()


def test_lock_file_symlink_is_refused(build_dir, tmp_path):
    """The master opens rundir/dnsrouter.lock as root: a symbolic link
    planted there must not make it create or truncate another file."""
    rundir = tmp_path / "run"
    rundir.mkdir()
    victim = tmp_path / "victim"
    os.symlink(str(victim), str(rundir / "dnsrouter.lock"))
    conf = tmp_path / "dnsrouter.conf"
    routes = tmp_path / "routes"
    routes.write_text("")
    conf.write_text("listen 127.0.0.1:%d\nworkers 1\nuser root\nrundir %s\n"
                    "routes %s\n" % (free_port(), rundir, routes))
    p = subprocess.run([os.path.join(str(build_dir), "dnsrouter"), "-d",
                        "-f", str(conf)], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode != 0
    assert "dnsrouter.lock" in p.stderr, p.stderr
    assert not victim.exists()
