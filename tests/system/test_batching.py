"""Batched sending: answers and forwarded queries leave in batches, through
io_uring where the kernel allows it and sendmmsg otherwise
(DNSROUTER_IO_URING=0 forces it). Both paths must forward bursts larger
than one batch (64) without losing or mixing up a query."""

import os
import select
import socket
import time

import dns.message
import dns.rcode
import pytest

from conftest import spec
from helpers import txts
from procs import roles
import zones

NAMES = {"a.miek.nl.": "aa", "b.miek.nl.": "bb",
         "c.miek.nl.": "cc", "d.miek.nl.": "dd"}


def io_uring_enabled():
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return f.read().strip() == "0"
    except OSError:
        return True     # kernels before 6.6 have no switch


def has_io_uring(pid):
    """True if process pid holds an io_uring instance."""
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == \
                    "anon_inode:[io_uring]":
                return True
        except OSError:
            pass
    return False


def burst(port, n, timeout=5.0):
    """Send n queries (round robin over NAMES) from one socket at once,
    then collect the replies. Returns {id: (name, reply or None)}."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.connect(("127.0.0.1", port))
    names = list(NAMES)
    sent = {}
    try:
        for i in range(n):
            q = dns.message.make_query(names[i % len(names)], "TXT")
            q.id = i + 1
            sent[q.id] = (names[i % len(names)], None)
            s.send(q.to_wire())
        deadline = time.monotonic() + timeout
        got = 0
        while got < n and time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                continue
            m = dns.message.from_wire(s.recv(65535))
            if m.id in sent and sent[m.id][1] is None:
                sent[m.id] = (sent[m.id][0], m)
                got += 1
    finally:
        s.close()
    return sent


@pytest.mark.parametrize("path", ["io_uring", "sendmmsg"])
def test_bursts_larger_than_a_batch(make_router, backend_a, backend_b, path):
    if path == "io_uring" and not io_uring_enabled():
        pytest.skip("io_uring disabled by kernel.io_uring_disabled")
    env = {"DNSROUTER_IO_URING": "0"} if path == "sendmmsg" else {}
    r = make_router(zones.standard_routes(spec(backend_a), spec(backend_b)),
                    workers=1, env=env)
    r.wait_ready("a.miek.nl.", "TXT")
    if path == "io_uring" and "built without liburing" in r.log():
        pytest.skip("this build has no liburing (URING=0)")
    for _ in range(4):
        res = burst(r.port, 150)
        missing = [i for i, (_, m) in res.items() if m is None]
        assert not missing, "%d of 150 unanswered" % len(missing)
        for qid, (name, m) in res.items():
            assert m.rcode() == dns.rcode.NOERROR
            assert str(m.question[0].name) == name
            assert txts(m) == [NAMES[name]], (qid, name, txts(m))
    routers = list(roles(r.pid)["router"].values())
    assert len(routers) == 1
    assert has_io_uring(routers[0]) == (path == "io_uring")
    log = r.log()
    if path == "sendmmsg":
        assert "sending with sendmmsg (" in log
    else:
        assert "io_uring unavailable" not in log
    assert "io_uring send failed" not in log
