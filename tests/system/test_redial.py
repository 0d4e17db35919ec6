"""A router that lost its connections to the controller gets them back.

nng (1.5.2, and its master as of 2026) gives up redialing for good when
the SP handshake's first write fails with EPIPE (mapped to NNG_ECLOSED,
"no further action"): a controller that dies, or is killed, just as a
router connects leaves that router on its last table, with no reports,
until the router itself restarts. The routers watch their dialers and
dial anew. The fault is injected with strace: every sendmsg of the router
fails with EPIPE while the controller restarts."""

import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import spec
from dnsenv import wait_for
from procs import roles, wait_routers


def tracer_pids(pid):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("TracerPid:"):
                        out.append(int(line.split()[1]))
        except OSError:
            pass
    return out


class SendmsgFails:
    """Every sendmsg(2) of process pid (all its threads) fails with EPIPE
    until stop()."""

    def __init__(self, pid):
        self.pid = pid
        self.proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=sendmsg",
             "-e", "inject=sendmsg:error=EPIPE", "-p", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: all(t == self.proc.pid
                             for t in tracer_pids(pid)), 5, 0.01,
                 "strace to attach to every thread")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        wait_for(lambda: not any(tracer_pids(self.pid)), 5, 0.01,
                 "strace to detach")


def ptrace_allowed():
    return subprocess.run(["strace", "-o", "/dev/null", "true"],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


@pytest.mark.skipif(not ptrace_allowed(),
                    reason="strace cannot trace here (no ptrace)")
def test_router_redials_a_dialer_nng_gave_up(make_router, backend_a,
                                              backend_b):
    # strace skips an injected call by turning it into syscall -1, which
    # the seccomp filter (checked after the tracer) punishes: off here
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], workers=1,
                    extra="seccomp off\n")
    r.wait_ready("a.miek.nl.", "TXT")
    before = wait_routers(r, 1)
    router, ctl = before["router"][0], before["controller"][0]
    r.write_routes(["%s,^[ab]\\.miek" % spec(backend_a),
                    "%s,^[cd]\\.miek" % spec(backend_b)])
    fault = SendmsgFails(router)
    try:
        os.kill(ctl, signal.SIGKILL)
        wait_for(lambda: "route table generation 1: 2 routes" in r.log(),
                 10, 0.02, "the new controller's table")
        # the router's dialers reach the new controller (20 ms to 500 ms
        # apart) and their handshakes fail
        time.sleep(1.5)
    finally:
        fault.stop()
    assert list(roles(r.pid)["router"].values()) == [router]
    r.wait_ready("c.miek.nl.", "TXT", timeout=10)
    assert "dialing it again" in r.log(), r.log()


def proc_state(pid, tid):
    try:
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "T"


def hang_up_during_handshake(r, eps, times=3):
    """Connect to the controller's nng endpoints and hang up before its
    greeting: with the controller stopped meanwhile, its greeting then
    meets a closed socket (EPIPE)."""
    ctl = roles(r.pid)["controller"][0]
    os.kill(ctl, signal.SIGSTOP)
    try:
        wait_for(lambda: all(proc_state(ctl, t) == "T" for t in
                             os.listdir("/proc/%d/task" % ctl)), 5, 0.005,
                 "the controller to stop")
        for ep in eps:
            for _ in range(times):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(os.path.join(r.epdir, ep))
                s.close()
    finally:
        os.kill(ctl, signal.SIGCONT)


def test_controller_listens_again_when_nng_loses_its_listener(
        make_router, backend_a):
    """nng 1.5.2 gives up a listener for good when a peer hangs up during
    the handshake (#1518, fixed in 1.6.0): routers then connect, and get
    nothing. The controller probes its endpoints and listens anew; a
    router started after the fault gets its table."""
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], workers=1)
    r.wait_ready("a.miek.nl.", "TXT")
    router = list(wait_routers(r, 1)["router"].values())[0]
    hang_up_during_handshake(r, ("table.ipc", "snapshot.ipc", "report.ipc"))
    os.kill(router, signal.SIGKILL)
    # the new router needs the controller's listeners for its first table
    wait_for(lambda: r.log().count("first route table received") >= 2,
             10, 0.05, "the restarted router's first table")
    assert "listening again" in r.log(), r.log()
    r.wait_ready("a.miek.nl.", "TXT")
