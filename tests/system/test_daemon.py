"""Daemon mode (no -d): detach, pidfile with a lock, refuse a second
instance, take over a stale pidfile, remove the pidfile on SIGTERM."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import dns.rcode
import pytest

from conftest import spec
from dnsenv import free_port, pid_alive, proc_children, query, wait_for
from helpers import txts
from procs import cmdline


class Daemon:
    """dnsrouter started without -d; every pid it ever had is remembered
    and killed in cleanup()."""

    def __init__(self, build_dir, backend):
        self.binary = os.path.join(build_dir, "dnsrouter")
        self.dir = tempfile.mkdtemp(prefix="drd", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.pidfile = os.path.join(self.dir, "dnsrouter.pid")
        self.rundir = os.path.join(self.dir, "run")
        self.conf = os.path.join(self.dir, "dnsrouter.conf")
        routes = os.path.join(self.dir, "routes")
        with open(routes, "w") as f:
            f.write("%s,^[ab]\\.miek\n" % spec(backend))
        with open(self.conf, "w") as f:
            f.write("listen 127.0.0.1:%d\nworkers 2\nuser nobody\n"
                    "rundir %s\nroutes %s\ntimeout 500ms\npidfile %s\n"
                    % (self.port, self.rundir, routes, self.pidfile))
        self.pids = set()

    def run(self, timeout=5):
        """Start one instance; return (returncode, output, seconds)."""
        t0 = time.monotonic()
        env = dict(os.environ)
        env.pop("DNS_ADDR", None)
        env.pop("ETCD_MACHINES", None)
        p = subprocess.run([self.binary, "-f", self.conf],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout, env=env)
        return p.returncode, p.stdout + p.stderr, time.monotonic() - t0

    def pid(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        self.pids.add(pid)
        return pid

    def children(self, pid):
        kids = proc_children(pid)
        self.pids.update(kids)
        return kids

    def cleanup(self):
        live = [p for p in self.pids if pid_alive(p)]
        for p in live:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            wait_for(lambda: not any(pid_alive(p) for p in live), 5, 0.02,
                     "daemon processes to exit")
        except Exception:
            for p in live:
                if pid_alive(p):
                    os.kill(p, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def daemon(build_dir, backend_a):
    d = Daemon(build_dir, backend_a)
    yield d
    d.cleanup()


def wait_answers(port):
    def ok():
        try:
            r = query(port, "a.miek.nl.", "TXT", timeout=0.3)
            return r.rcode() == dns.rcode.NOERROR and txts(r) == ["aa"]
        except Exception:
            return False
    wait_for(ok, 10, 0.05, "the daemon to answer")


def is_dnsrouter(pid):
    return os.path.basename(cmdline(pid)[0]) == "dnsrouter" \
        if cmdline(pid) else False


def test_daemon_detaches_writes_pidfile_refuses_second_and_stops(daemon):
    rc, out, took = daemon.run()
    assert rc == 0, out
    assert took < 3, "the started process took %.1fs to return" % took
    pid = wait_for(daemon.pid, 5, 0.02, "the pidfile")
    assert pid_alive(pid) and is_dnsrouter(pid), cmdline(pid)
    # detached: its own session, not our child
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ppid, sid = int(fields[1]), int(fields[3])
    assert ppid != os.getpid()
    assert sid == pid, "not a session leader (sid %d)" % sid
    wait_answers(daemon.port)
    kids = wait_for(lambda: len(daemon.children(pid)) == 3 and
                    daemon.children(pid), 5, 0.02, "2 routers + controller")
    # in daemon mode the children log to syslog, not to our stderr
    assert "started" not in out

    # the pidfile is locked while the daemon lives
    import fcntl
    with open(daemon.pidfile) as f:
        with pytest.raises(BlockingIOError):
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)

    # a second instance with the same pidfile refuses, and changes nothing
    rc2, out2, _ = daemon.run()
    assert rc2 == 1, out2
    assert "already running" in out2, out2
    assert str(pid) in out2, out2
    assert daemon.pid() == pid
    assert pid_alive(pid)
    wait_answers(daemon.port)

    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid), 5, 0.02, "the daemon to exit")
    wait_for(lambda: not any(pid_alive(k) for k in kids), 3, 0.02,
             "its children to exit")
    assert not os.path.exists(daemon.pidfile)


def test_stale_pidfile_is_taken_over(daemon):
    # a pid that existed and is gone, in a file nobody holds a lock on
    p = subprocess.Popen(["true"])
    p.wait()
    dead = p.pid
    assert not pid_alive(dead)
    with open(daemon.pidfile, "w") as f:
        f.write("%d\n" % dead)
    rc, out, _ = daemon.run()
    assert rc == 0, out
    pid = wait_for(lambda: (daemon.pid() or dead) != dead and daemon.pid(),
                   5, 0.02, "the pidfile to be rewritten")
    assert pid_alive(pid) and is_dnsrouter(pid)
    wait_answers(daemon.port)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid), 5, 0.02, "the daemon to exit")
    assert not os.path.exists(daemon.pidfile)


def test_daemon_with_bad_config_fails_in_foreground(daemon):
    with open(daemon.conf, "a") as f:
        f.write("no-such-key 1\n")
    line = open(daemon.conf).read().count("\n")
    rc, out, _ = daemon.run()
    assert rc == 1, out
    assert "%s:%d:" % (daemon.conf, line) in out, out
    assert daemon.pid() is None
    assert not os.path.exists(daemon.pidfile)


def test_daemon_with_port_in_use_fails_in_foreground(daemon):
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", daemon.port))
    try:
        rc, out, _ = daemon.run()
    finally:
        s.close()
    assert rc == 1, out
    assert str(daemon.port) in out, out
    # the error is reported before detaching: nothing keeps running
    pid = daemon.pid()
    assert pid is None or not pid_alive(pid), out
