"""seccomp-bpf: once set up, a router or the controller that makes a
system call off its allow-list is killed (SIGSYS) and the master restarts
it. The forbidden call is made to happen with strace, which replaces one
of the process's epoll_wait calls by getpgrp (off both lists): seccomp
checks the call after the tracer changed it."""

import os
import re
import signal
import subprocess

import pytest

from conftest import spec
from dnsenv import pid_alive, wait_for
from procs import roles, status, wait_routers
from test_redial import ptrace_allowed, tracer_pids


def seccomp_mode(pid):
    return status(pid).get("Seccomp")


def make_forbidden_call(pid):
    """strace pid until one of its threads' epoll_wait became getpgrp."""
    p = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=epoll_wait",
         "-e", "inject=epoll_wait:error=EINTR:syscall=getpgrp:when=1",
         "-p", str(pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: not pid_alive(pid), 10, 0.02,
                 "pid %d to be killed" % pid)
    finally:
        # The victim's main thread can be a zombie while strace still
        # reaps its other threads; under load that took strace over 5 s
        # after SIGTERM (make check under ASan). Then SIGKILL it: the
        # kernel detaches what it still traced.
        if p.poll() is None:
            p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def test_children_run_filtered(make_router, backend_a):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], workers=1)
    r.wait_ready("a.miek.nl.", "TXT")
    ro = wait_routers(r, 1)
    for pid in list(ro["router"].values()) + ro["controller"]:
        assert seccomp_mode(pid) == "2", status(pid)   # 2: filter


def test_seccomp_off_runs_unfiltered(make_router, backend_a):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], workers=1,
                    extra="seccomp off\n")
    r.wait_ready("a.miek.nl.", "TXT")
    ro = wait_routers(r, 1)
    for pid in list(ro["router"].values()) + ro["controller"]:
        assert seccomp_mode(pid) == "0", status(pid)
    assert "seccomp off" in r.log()


@pytest.mark.skipif(not ptrace_allowed(),
                    reason="strace cannot trace here (no ptrace)")
@pytest.mark.parametrize("role", ["router", "controller"])
def test_forbidden_call_kills_and_master_restarts(make_router, backend_a,
                                                  role):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)], workers=1)
    r.wait_ready("a.miek.nl.", "TXT")
    ro = wait_routers(r, 1)
    victim = (list(ro["router"].values())[0] if role == "router"
              else ro["controller"][0])
    make_forbidden_call(victim)
    wait_for(lambda: re.search(r"\(pid %d\) killed by signal %d" %
                               (victim, signal.SIGSYS), r.log()), 5, 0.02,
             "the master to see SIGSYS")
    now = wait_routers(r, 1, exclude=[victim])
    assert victim not in list(now["router"].values()) + now["controller"]
    r.wait_ready("a.miek.nl.", "TXT")
    assert r.proc.poll() is None
