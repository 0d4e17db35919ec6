"""Helpers for the daemon-behaviour tests: who is who among the master's
children, what /proc says about them, and a steady UDP query load that
counts every query it loses.

    load = UdpLoad(port, "a.miek.nl.", "TXT").start()
    ...                                   # kill, reload, ...
    load.stop()
    assert load.failures == [], load.report()
"""

import os
import selectors
import subprocess
import socket
import struct
import threading
import time

import dns.message
import dns.rcode

from dnsenv import proc_children, wait_for


def cmdline(pid):
    """argv of pid as a list of str ([] if it is gone)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode("utf-8", "replace")
                    for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def status(pid):
    """/proc/<pid>/status as {key: value string}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def ids(pid, key):
    """The numbers of a status line such as Uid, Gid, Groups."""
    return [int(x) for x in status(pid)[key].split()]


def root_of(pid):
    """Where pid's root directory is (its chroot), as the kernel says."""
    return os.readlink("/proc/%d/root" % pid)


def router_index(pid):
    """The -i index of a dnsrouter-router, or None."""
    argv = cmdline(pid)
    if "-i" in argv and argv.index("-i") + 1 < len(argv):
        return int(argv[argv.index("-i") + 1])
    return None


def roles(master_pid):
    """{"router": {index: pid}, "controller": [pid], "other": [pid]}."""
    out = {"router": {}, "controller": [], "other": []}
    for pid, argv0 in proc_children(master_pid).items():
        base = os.path.basename(argv0)
        if base.startswith("dnsrouter-router"):
            idx = router_index(pid)
            if idx is None:       # exited while being listed: not settled
                out["other"].append(pid)
            else:
                out["router"][idx] = pid
        elif base.startswith("dnsrouter-controller"):
            out["controller"].append(pid)
        else:
            out["other"].append(pid)
    return out


def wait_routers(r, n, timeout=10.0, exclude=()):
    """Wait until the master of Dnsrouter r has exactly n routers (slots
    0..n-1), one controller, and none of the pids in exclude; return roles."""
    def ok():
        ro = roles(r.pid)
        if r.proc.poll() is not None:
            raise AssertionError("master exited with %s:\n%s"
                                 % (r.proc.returncode, r.log()[-3000:]))
        if sorted(ro["router"]) != list(range(n)) or \
                len(ro["controller"]) != 1 or ro["other"]:
            return False
        if set(ro["router"].values()) & set(exclude):
            return False
        return ro
    return wait_for(ok, timeout, 0.02, "%d routers (have %s)"
                    % (n, roles(r.pid)))


def udp_rx_queues(port):
    """rx_queue (bytes) of every UDP socket bound to port on IPv4."""
    out = []
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, queues = fields[1], fields[4]
            if int(local.split(":")[1], 16) == port:
                out.append(int(queues.split(":")[1], 16))
    return out


class UdpLoad:
    """A steady stream of UDP queries in a thread: one query every interval
    seconds, round robin over nsocks client sockets (so the kernel's
    SO_REUSEPORT hash spreads them over every router), each with its own
    deadline (timeout). A query fails if no reply comes in time or if the
    reply's rcode is not expect (or, for NOERROR, has no answer).

    After stop(): sent, ok, failures [(t_sent, kind)], latencies [(t_sent,
    seconds)] of answered queries; t is seconds since start().
    """

    def __init__(self, port, name="a.miek.nl.", qtype="TXT",
                 addr="127.0.0.1", interval=0.003, timeout=1.0, nsocks=32,
                 expect=dns.rcode.NOERROR):
        self.port = port
        self.addr = addr
        self.interval = interval
        self.timeout = timeout
        self.expect = expect
        self.wire = bytearray(dns.message.make_query(name, qtype).to_wire())
        self.socks = []
        for _ in range(nsocks):
            s = socket.socket(socket.AF_INET6 if ":" in addr
                              else socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            self.socks.append(s)
        self.sent = 0
        self.ok = 0
        self.failures = []
        self.latencies = []
        self._outstanding = {}      # (sock index, id) -> t_sent
        self._stop = threading.Event()
        self._thread = None
        self._t0 = None
        self._lock = threading.Lock()
        self.error = None

    def start(self):
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def now(self):
        return time.monotonic() - self._t0

    def wait_sent(self, n, timeout=10.0):
        """Return once n more queries have been answered (any outcome)."""
        with self._lock:
            target = self.ok + len(self.failures) + n
        wait_for(lambda: self.error is not None or
                 self.ok + len(self.failures) >= target,
                 timeout, 0.01, "%d more queries of the load" % n)
        if self.error is not None:
            raise self.error

    def stop(self):
        """Stop sending, wait for the queries still out (bounded by their
        deadlines), close the sockets. Returns self."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5)
            if self._thread.is_alive():
                raise RuntimeError("load thread did not stop")
        for s in self.socks:
            s.close()
        if self.error is not None:
            raise self.error
        return self

    def report(self):
        kinds = {}
        for _, k in self.failures:
            kinds[k] = kinds.get(k, 0) + 1
        slow = sorted(self.latencies, key=lambda x: -x[1])[:5]
        return ("sent %d, ok %d, failed %d %s; first failures at %s; "
                "slowest answers (t_sent, seconds) %s"
                % (self.sent, self.ok, len(self.failures), kinds,
                   ["%.3f" % t for t, _ in self.failures[:10]],
                   ["(%.3f, %.3f)" % x for x in slow]))

    def _run(self):
        try:
            self._loop()
        except Exception as e:      # surfaced by wait_sent()/stop()
            self.error = e

    def _loop(self):
        sel = selectors.DefaultSelector()
        for i, s in enumerate(self.socks):
            sel.register(s, selectors.EVENT_READ, i)
        qid = [0] * len(self.socks)
        nxt = time.monotonic()
        k = 0
        while True:
            now = time.monotonic()
            stopping = self._stop.is_set()
            if not stopping and now >= nxt:
                i = k % len(self.socks)
                k += 1
                qid[i] = (qid[i] + 1) & 0xFFFF
                struct.pack_into("!H", self.wire, 0, qid[i])
                t = now - self._t0
                try:
                    self.socks[i].sendto(self.wire, (self.addr, self.port))
                    with self._lock:
                        self._outstanding[(i, qid[i])] = t
                        self.sent += 1
                except OSError as e:
                    with self._lock:
                        self.sent += 1
                        self.failures.append((t, "send: %s" % e.strerror))
                nxt += self.interval
                if nxt < now:
                    nxt = now + self.interval
            # deadlines
            limit = now - self._t0 - self.timeout
            with self._lock:
                for key, t in list(self._outstanding.items()):
                    if t < limit:
                        del self._outstanding[key]
                        self.failures.append((t, "timeout"))
                if stopping and not self._outstanding:
                    break
            wait = 0.01 if stopping else max(0.0, nxt - time.monotonic())
            for key, _ in sel.select(min(wait, 0.01)):
                i = key.data
                while True:
                    try:
                        data = self.socks[i].recv(65535)
                    except (BlockingIOError, InterruptedError):
                        break
                    except ConnectionRefusedError:
                        continue    # ICMP for an earlier query: it times out
                    self._reply(i, data)
        sel.close()

    def _reply(self, i, data):
        if len(data) < 12:
            return
        rid, flags, _, ancount = struct.unpack("!HHHH", data[:8])
        t_done = time.monotonic() - self._t0
        with self._lock:
            t = self._outstanding.pop((i, rid), None)
            if t is None:
                return      # late or duplicate: already counted
            rcode = flags & 0xF
            if rcode != self.expect:
                self.failures.append((t, dns.rcode.to_text(rcode)))
            elif rcode == dns.rcode.NOERROR and ancount == 0:
                self.failures.append((t, "NOERROR without answer"))
            else:
                self.ok += 1
                self.latencies.append((t, t_done - t))


def socket_inodes(pid):
    """Inodes (str) of the sockets process pid holds open."""
    out = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            out.add(t[8:-1])
    return out


def unix_peers():
    """{inode: peer inode} (str) of every connected unix socket (ss -x)."""
    out = {}
    txt = subprocess.run(["ss", "-xan"], capture_output=True, text=True,
                         check=True, timeout=10).stdout
    for line in txt.splitlines()[1:]:
        f = line.split()
        if len(f) >= 8 and f[7] not in ("0", "*"):
            out[f[5]] = f[7]
    return out


def connected_to(pids, peer_inodes):
    """The sockets of pids whose unix peer is one of peer_inodes."""
    peers = unix_peers()
    mine = set()
    for pid in pids:
        mine |= socket_inodes(pid)
    return {i for i in mine if peers.get(i) in peer_inodes}
