"""Privilege separation: the master stays root, the controller runs as
user chrooted into rundir/controller (where it listens), routers as
router-user (else user) chrooted into the run directory, where they can
reach the controller's endpoints but write nothing; no supplementary
groups, no capabilities, no_new_privs, no core dumps."""

import errno
import json
import os
import pwd
import re
import resource
import signal
import socket
import stat
import subprocess

import dns.rcode
import pytest

from conftest import spec
from dnsenv import free_port, pid_alive, query, wait_for
from etcdenv import etcd, etcd_router, wait_answer  # noqa: F401
from helpers import txts
from procs import ids, roles, root_of, status, wait_routers


def nobody():
    pw = pwd.getpwnam("nobody")
    return pw.pw_uid, pw.pw_gid


# The second user routers run as (router-user): a system user Debian has.
ROUTER_USER = "daemon"


def router_user():
    pw = pwd.getpwnam(ROUTER_USER)
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


def test_rundir_layout_routers_read_controller_writes(as_nobody):
    """rundir (the routers' chroot) is root's, so routers can write nothing
    in it; the controller's endpoints live in rundir/controller, which is
    the controller's user's; both are closed to others (mode 0750, group
    the routers')."""
    r = as_nobody
    uid, gid = nobody()
    st = os.stat(r.rundir)
    assert (st.st_uid, st.st_gid) == (0, gid)
    assert stat.S_IMODE(st.st_mode) == 0o750
    st = os.stat(r.epdir)
    assert (st.st_uid, st.st_gid) == (uid, gid)
    assert stat.S_IMODE(st.st_mode) == 0o750
    # the nng endpoints live there, made by the controller as nobody, and
    # anyone who can reach them may connect (the directory decides)
    ipc = sorted(f for f in os.listdir(r.epdir) if f.endswith(".ipc"))
    assert ipc == ["control.ipc", "hsdb.ipc", "report.ipc", "snapshot.ipc",
                   "table.ipc"]
    for f in ipc:
        st = os.stat(os.path.join(r.epdir, f))
        assert stat.S_ISSOCK(st.st_mode) and st.st_uid == uid
        assert stat.S_IMODE(st.st_mode) == 0o666
    assert not [f for f in os.listdir(r.rundir) if f.endswith(".ipc")]


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
                   "UBSAN_OPTIONS", "LSAN_OPTIONS", "DNSROUTER_COREDUMP"}
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


@pytest.fixture
def two_users(public_tmp, make_router, backend_a):
    """Controller as nobody, routers as daemon (router-user)."""
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], user="nobody",
                    workers=2, workdir=os.path.join(public_tmp, "r"),
                    extra="router-user %s" % ROUTER_USER)
    r.wait_ready("a.miek.nl.", "TXT")
    return r


def test_routers_run_as_router_user_controller_as_user(two_users):
    r = two_users
    ruid, rgid = router_user()
    uid, gid = nobody()
    ro = wait_routers(r, 2)
    for idx, pid in ro["router"].items():
        assert_dropped(pid, ruid, rgid, "router #%d" % idx)
        assert root_of(pid) == r.rundir
    assert_dropped(ro["controller"][0], uid, gid, "controller")
    # the routers' group opens the directories to them
    assert os.stat(r.rundir).st_gid == rgid
    st = os.stat(r.epdir)
    assert (st.st_uid, st.st_gid) == (uid, rgid)
    assert txts(query(r.port, "b.miek.nl.", "TXT")) == ["bb"]


def narrow_routes(r):
    """Replace the routes file (by rename) with one routing a. only, and
    SIGHUP: b. is REFUSED once the controller's new table reaches every
    router."""
    backend = r.routes[0].split(",")[0]
    r.write_routes(["%s,^a\\.miek" % backend])
    r.reload()
    wait_answer(r, "b.miek.nl.", "REFUSED", timeout=5)
    wait_answer(r, "a.miek.nl.", "aa", timeout=5)


def as_process(root, uid, gid, fn):
    """Run fn() in a forked child chrooted into root (chdir "/") as
    uid/gid with no other groups, as a router is; return its result (a
    JSON-able value)."""
    rd, wr = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(rd)
            os.chroot(root)
            os.chdir("/")
            os.setgroups([gid])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            out = fn()
        except BaseException as e:      # noqa: B902 (the child reports)
            out = {"error": repr(e)}
        os.write(wr, json.dumps(out).encode())
        os._exit(0)
    os.close(wr)
    data = b""
    while True:
        chunk = os.read(rd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(rd)
    os.waitpid(child, 0)
    return json.loads(data)


def what_a_router_may_do():
    """From inside a router's chroot: try to take over the controller's
    endpoints. Each entry: "ok" or the errno's name."""
    out = {}

    def attempt(name, f):
        try:
            f()
            out[name] = "ok"
        except OSError as e:
            out[name] = errno.errorcode.get(e.errno, str(e.errno))

    def listen():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind("/controller/planted.ipc")
        finally:
            s.close()

    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect("/controller/table.ipc")
        finally:
            s.close()

    attempt("connect", connect)     # first: the rest may break it
    attempt("create", lambda: open("/controller/planted", "w").close())
    attempt("unlink", lambda: os.unlink("/controller/table.ipc"))
    attempt("rename", lambda: os.rename("/controller/report.ipc",
                                        "/controller/moved"))
    attempt("listen", listen)
    attempt("create in its root", lambda: open("/planted", "w").close())
    return out


def test_router_cannot_replace_the_controllers_endpoints(two_users):
    """A router (its uid, gid and chroot) can connect to the controller's
    endpoints but can neither remove them nor listen in their place: the
    directory is the controller's user's, routers run as router-user."""
    r = two_users
    ruid, rgid = router_user()
    pid = wait_routers(r, 2)["router"][0]
    got = as_process(root_of(pid), ruid, rgid, what_a_router_may_do)
    assert got == {"create": "EACCES", "unlink": "EACCES", "rename": "EACCES",
                   "listen": "EACCES", "create in its root": "EACCES",
                   "connect": "ok"}, got
    # nothing planted: the endpoints and the controller's database cache
    assert sorted(f for f in os.listdir(r.epdir) if f != "hsdb.cache") == \
        ["control.ipc", "hsdb.ipc", "report.ipc", "snapshot.ipc", "table.ipc"]
    # and the routers still hear from the controller
    narrow_routes(r)


def test_same_uid_routers_cannot_write_their_chroot(as_nobody):
    """Without router-user, routers and controller share a uid and the
    endpoints' directory is theirs (the weaker guarantee, dnsrouter(8));
    the chroot itself, with the lock file, is root's."""
    r = as_nobody
    uid, gid = nobody()
    pid = wait_routers(r, 2)["router"][0]
    got = as_process(root_of(pid), uid, gid, what_a_router_may_do)
    assert got["create in its root"] == "EACCES", got
    assert got["connect"] == "ok", got


def test_controller_runs_in_its_own_chroot(as_nobody):
    """The controller is chrooted into rundir/controller (chdir "/"), not
    the routers' view; the routes file, outside it, is still followed: a
    new file put in place by rename and a SIGHUP reach the routers."""
    r = as_nobody
    ctl = wait_routers(r, 2)["controller"][0]
    assert root_of(ctl) == r.epdir, root_of(ctl)
    assert os.readlink("/proc/%d/cwd" % ctl) == r.epdir
    for pid in wait_routers(r, 2)["router"].values():
        assert root_of(pid) == r.rundir
    narrow_routes(r)


def test_chrooted_controller_reaches_etcd_by_host_name(backend_a, backend_b,
                                                       etcd, etcd_router):
    """etcd named by host name: resolved before the chroot (glibc could not
    afterwards), the name kept in the URL; the listing and the watch both
    work from inside the chroot."""
    url = etcd.url.replace("127.0.0.1", "localhost")
    assert "localhost" in url
    etcd.put("/dnsrouter/a", "%s,^a\\.miek" % spec(backend_a))
    r = etcd_router(url)
    ctl = roles(r.pid)["controller"][0]
    assert root_of(ctl) == r.epdir
    assert "localhost resolved to" in r.log(), r.log()
    wait_answer(r, "a.miek.nl.", "aa", timeout=5)
    etcd.put("/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)


def test_unknown_router_user_is_a_config_error(build_dir, tmp_path):
    conf = tmp_path / "dnsrouter.conf"
    conf.write_text("listen 127.0.0.1:5299\nworkers 1\nuser nobody\n"
                    "router-user no-such-router-xyzzy\n"
                    "rundir /tmp/drnorouter\n")
    binary = os.path.join(build_dir, "dnsrouter")
    for args in (["-n"], ["-d"]):
        p = subprocess.run([binary] + args + ["-f", str(conf)],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=10)
        out = p.stdout + p.stderr
        assert p.returncode == 1, (args, out)
        assert "%s:4: router-user 'no-such-router-xyzzy': no such user" \
            % conf in out, (args, out)
    assert not os.path.exists("/tmp/drnorouter")


def test_router_user_set_on_reload_applies_to_new_routers(as_nobody):
    """router-user is the routers' alone: a reload that sets it rolls the
    routers (the new ones run as router-user and reach the controller
    through the directory's new group) and leaves the controller be."""
    r = as_nobody
    ruid, rgid = router_user()
    before = wait_routers(r, 2)
    r.rewrite_config(extra="router-user %s" % ROUTER_USER)
    r.reload()

    def rolled():
        ro = roles(r.pid)
        pids = list(ro["router"].values())
        if len(pids) != 2 or ro["other"]:
            return False
        try:
            return all(ids(p, "Uid") == [ruid] * 4 for p in pids) and ro
        except OSError:
            return False
    now = wait_for(rolled, 15, 0.05, "routers as %s" % ROUTER_USER)
    assert now["controller"] == before["controller"]
    for idx, pid in now["router"].items():
        assert_dropped(pid, ruid, rgid, "router #%d" % idx)
    assert os.stat(r.epdir).st_gid == rgid
    narrow_routes(r)


def limits(pid):
    """/proc/<pid>/limits as {name: (soft, hard)} (strings)."""
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        next(f)
        for line in f:
            v = line[26:].split()
            out[line[:26].strip()] = (v[0], v[1])
    return out


def asan_keeps_cores():
    """Sanitizer builds set their own core limit to 0 as they start
    (ASan's disable_coredump): ask them not to, so what is measured is
    dnsrouter's doing, whatever the build."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":" if opts else "") +
            "disable_coredump=0"}


@pytest.fixture
def loose_limits():
    """Start dnsrouter with cores allowed and 1024 descriptors (what a
    shell often gives); restored afterwards."""
    core = resource.getrlimit(resource.RLIMIT_CORE)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,
                                              resource.RLIM_INFINITY))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, nofile[1]))
    yield
    resource.setrlimit(resource.RLIMIT_CORE, core)
    resource.setrlimit(resource.RLIMIT_NOFILE, nofile)


def test_children_dump_no_core_and_get_descriptors_for_the_config(
        loose_limits, public_tmp, make_router, backend_a):
    """A core of a router holds queries, one of the controller etcd
    credentials and TLS keys: none by default. Descriptors: routers get
    tcp-clients + 1024, the controller 4096 (health checks in flight,
    /metrics, etcd)."""
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], user="nobody",
                    workers=1, workdir=os.path.join(public_tmp, "r"),
                    extra="tcp-clients 3000", env=asan_keeps_cores())
    r.wait_ready("a.miek.nl.", "TXT")
    ro = wait_routers(r, 1)
    router, ctl = ro["router"][0], ro["controller"][0]
    for pid in (router, ctl):
        assert limits(pid)["Max core file size"] == ("0", "0"), limits(pid)
    soft, hard = limits(router)["Max open files"]
    assert int(soft) >= 4024, limits(router)
    soft, hard = limits(ctl)["Max open files"]
    assert int(soft) >= 4096, limits(ctl)
    # the master keeps what it was given
    assert limits(r.pid)["Max core file size"] == ("unlimited", "unlimited")


def test_coredump_wanted_keeps_the_limit_and_makes_children_dumpable(
        loose_limits, public_tmp, make_router, backend_a):
    """DNSROUTER_COREDUMP=1 (sanitizer runs, debugging): the children keep
    the inherited core limit and are dumpable again after the uid change
    (/proc/PID is then their user's)."""
    uid, _ = nobody()
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], user="nobody",
                    workers=1, workdir=os.path.join(public_tmp, "r"),
                    env=dict(asan_keeps_cores(), DNSROUTER_COREDUMP="1"))
    r.wait_ready("a.miek.nl.", "TXT")
    ro = wait_routers(r, 1)
    for pid in (ro["router"][0], ro["controller"][0]):
        assert limits(pid)["Max core file size"] == \
            ("unlimited", "unlimited"), limits(pid)
        assert os.stat("/proc/%d" % pid).st_uid == uid


def test_controller_directory_symlink_is_refused(build_dir, tmp_path):
    """The master sets the owner of rundir/controller as root: a symbolic
    link planted there (by a child of an older dnsrouter, whose user owned
    the run directory) must not make it chown another directory."""
    rundir = tmp_path / "run"
    rundir.mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    os.symlink(str(victim), str(rundir / "controller"))
    conf = tmp_path / "dnsrouter.conf"
    routes = tmp_path / "routes"
    routes.write_text("")
    conf.write_text("listen 127.0.0.1:%d\nworkers 1\nuser nobody\nrundir %s\n"
                    "routes %s\n" % (free_port(), rundir, routes))
    p = subprocess.run([os.path.join(str(build_dir), "dnsrouter"), "-d",
                        "-f", str(conf)], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode != 0
    assert "controller: not a directory" in p.stderr, p.stderr
    assert os.stat(str(victim)).st_uid == 0
