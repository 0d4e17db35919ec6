"""A steady load of UDP and TCP queries with an outcome for every query.

    load = Load(port, {"a.miek.nl.": {"aa"}}, rate=2000, duration=20).start()
    ...                           # faults happen here
    load.stop()                   # or load.join(): it stops by itself
    print(load.summary())
    assert load.lost == 0

One thread, non-blocking sockets, dnspython only to build the queries and to
read a reply the first time its bytes (less the ID) are seen. Queries go
out at a fixed rate (rate per second, tcp_share of them over TCP) for
duration seconds at most, round robin over udp_socks UDP sockets (so the
kernel's SO_REUSEPORT hash spreads them over every router) and tcp_conns
persistent, pipelined TCP connections.

Every query sent gets exactly one outcome:
  ok        NOERROR whose TXT strings (joined by ",") are one of the
            answers allowed for its name
  servfail  SERVFAIL
  lost      no reply within timeout seconds of being sent, or (TCP) its
            connection closed before the reply came
  wrong     anything else (another rcode, another answer), kept in .wrong

The client never retries: a query is counted once, so `lost` is what the
server dropped (a stub resolver would send a lost UDP query again after
its own timeout, typically 1 to 5 s, and a TCP one on a new connection;
that would hide exactly what these counts are for). A TCP connection that
closes is reopened at once; queries scheduled for it meanwhile wait for
the connection, their deadline running from when they were due.

Each query is recorded as [t_sent, t_done, outcome, proto, answer, name,
key] (t in seconds since start(); t_done None if lost by timeout), for questions such
as "how many were in flight between t0 and t1" (inflight()).
"""

import selectors
import socket
import struct
import threading
import time

import dns.message
import dns.rcode

__all__ = ["Load"]

_LEN = struct.Struct("!H")


class _Tcp:
    def __init__(self):
        self.sock = None
        self.connected = False
        self.out = bytearray()       # bytes not written yet
        self.inbuf = bytearray()
        self.pending = {}            # id -> record
        self.retry_at = 0.0


class Load:
    def __init__(self, port, answers, rate=2000, duration=30.0,
                 tcp_share=0.25, timeout=1.5, udp_socks=16, tcp_conns=4,
                 addr="127.0.0.1", qtype="TXT"):
        """answers: {query name: set of allowed answers}; an answer is the
        TXT strings of the reply joined by ",". Names are asked in turn."""
        self.port = port
        self.addr = addr
        self.answers = {n: set(a) for n, a in answers.items()}
        self.rate = float(rate)
        self.duration = float(duration)
        self.tcp_share = float(tcp_share)
        self.timeout = float(timeout)
        self.names = list(self.answers)
        self.wires = [bytearray(dns.message.make_query(n, qtype).to_wire())
                      for n in self.names]
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.fam = fam
        self.udp = []
        for _ in range(udp_socks):
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.setblocking(False)
            self.udp.append(s)
        self.tcp = [_Tcp() for _ in range(tcp_conns)]
        self.records = []
        self.wrong = []              # (t_sent, proto, what)
        self.tcp_reconnects = 0
        self.counts_by_answer = {}   # answer -> count of ok
        self._udp_pending = {}       # (sock index, id) -> record
        self._exp = 0                # records before this have an outcome
        self.done = 0                # queries with an outcome
        self._cache = {}             # reply bytes[2:] -> (outcome, answer)
        self._stop = threading.Event()
        self._thread = None
        self._t0 = None
        self._lock = threading.Lock()
        self.error = None

    # ------------------------------------------------------------ control

    def start(self):
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def now(self):
        """Seconds since start()."""
        return time.monotonic() - self._t0

    def stop(self):
        """Stop sending now; wait for what is still out (bounded by the
        timeout); close everything. Returns self."""
        self._stop.set()
        return self.join()

    def join(self):
        """Wait until the load has ended by itself (duration, then the
        last deadlines); bounded. Returns self."""
        if self._thread is not None:
            self._thread.join(self.duration + self.timeout + 10)
            if self._thread.is_alive():
                raise RuntimeError("load thread did not end")
        if self.error is not None:
            raise self.error
        return self

    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def wait_done(self, n, timeout=10.0):
        """Return once n more queries have an outcome; bounded."""
        with self._lock:
            target = self._done_count() + n
        deadline = time.monotonic() + timeout
        while True:
            if self.error is not None:
                raise self.error
            with self._lock:
                if self._done_count() >= target:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("load: %d more outcomes not seen in %.0fs"
                                   % (n, timeout))
            time.sleep(0.01)

    # ------------------------------------------------------------ results

    def _done_count(self):
        return self.done

    def count(self, outcome, proto=None, since=None, until=None):
        """Queries with that outcome (sent in [since, until) if given)."""
        with self._lock:
            return sum(1 for r in self.records if r[2] == outcome and
                       (proto is None or r[3] == proto) and
                       (since is None or r[0] >= since) and
                       (until is None or r[0] < until))

    @property
    def sent(self):
        return len(self.records)

    @property
    def ok(self):
        return self.count("ok")

    @property
    def servfail(self):
        return self.count("servfail")

    @property
    def lost(self):
        return self.count("lost")

    @property
    def nwrong(self):
        return self.count("wrong")

    def inflight(self, t0, t1):
        """Queries out at some moment of [t0, t1]: sent before t1 and
        without an outcome before t0 (lost ones count until their end)."""
        with self._lock:
            n = 0
            for r in self.records:
                if r[0] > t1:
                    continue
                end = r[1] if r[1] is not None else r[0] + self.timeout
                if end >= t0:
                    n += 1
            return n

    def lost_times(self, limit=10):
        with self._lock:
            return ["%.3f/%s" % (r[0], r[3]) for r in self.records
                    if r[2] == "lost"][:limit]

    def summary(self):
        by = {}
        for proto in ("udp", "tcp"):
            by[proto] = "%d sent, %d ok, %d SERVFAIL, %d lost, %d wrong" % (
                sum(1 for r in self.records if r[3] == proto),
                self.count("ok", proto), self.count("servfail", proto),
                self.count("lost", proto), self.count("wrong", proto))
        span = max((r[0] for r in self.records), default=0.0)
        return ("sent %d in %.1fs (%.0f/s): ok %d, SERVFAIL %d, lost %d, "
                "wrong %d [UDP: %s; TCP: %s; TCP reconnects %d]; answers %s"
                "%s%s" % (self.sent, span, self.sent / span if span else 0,
                          self.ok, self.servfail, self.lost, self.nwrong,
                          by["udp"], by["tcp"], self.tcp_reconnects,
                          dict(sorted(self.counts_by_answer.items())),
                          "; first lost (t/proto) %s" % self.lost_times()
                          if self.lost else "",
                          "; wrong %s" % self.wrong[:5] if self.wrong else ""))

    # --------------------------------------------------------------- loop

    def _run(self):
        try:
            self._loop()
        except Exception as e:       # surfaced by join()
            self.error = e
        finally:
            for s in self.udp:
                s.close()
            for c in self.tcp:
                if c.sock is not None:
                    c.sock.close()

    def _loop(self):
        sel = selectors.DefaultSelector()
        for i, s in enumerate(self.udp):
            sel.register(s, selectors.EVENT_READ, ("udp", i))
        udp_ids = [0] * len(self.udp)
        tcp_ids = [0] * len(self.tcp)
        k = 0                         # queries scheduled so far
        t_end = self.duration
        stopping = False
        while True:
            # sends go out in small bursts every 2 ms: steady enough, and
            # the loop stays cheap. Replies (and closed connections) are
            # read first, so no query goes onto a connection already known
            # to be closed.
            for key, ev in sel.select(0.01 if stopping else 0.002):
                kind, i = key.data
                if kind == "udp":
                    self._read_udp(i)
                else:
                    self._tcp_event(sel, self.tcp[i], i, ev)
            now = self.now()
            stopping = self._stop.is_set() or now >= t_end
            self._expire(sel, now)
            for c in self.tcp:
                if c.sock is None and now >= c.retry_at and \
                        (c.pending or not stopping):
                    self._connect(sel, c)
            if not stopping:
                due = min(int(now * self.rate) + 1, k + 64)
                while k < due:
                    self._send_one(sel, k, now, udp_ids, tcp_ids)
                    k += 1
            with self._lock:
                if stopping and not self._udp_pending and \
                        not any(c.pending for c in self.tcp):
                    break
        sel.close()

    def _send_one(self, sel, k, now, udp_ids, tcp_ids):
        w = self.wires[k % len(self.wires)]
        name = self.names[k % len(self.wires)]
        # every 1/tcp_share-th query goes over TCP, spread evenly
        tcp = self.tcp and self.tcp_share > 0 and \
            int((k + 1) * self.tcp_share) != int(k * self.tcp_share)
        if tcp:
            j = k % len(self.tcp)
            c = self.tcp[j]
            tcp_ids[j] = (tcp_ids[j] + 1) & 0xFFFF
            qid = tcp_ids[j]
            while qid in c.pending:
                qid = (qid + 1) & 0xFFFF
            tcp_ids[j] = qid
            struct.pack_into("!H", w, 0, qid)
            rec = [now, None, None, "tcp", None, name, (j, qid)]
            with self._lock:
                self.records.append(rec)
                c.pending[qid] = rec
            c.out += _LEN.pack(len(w)) + w
            if c.connected:
                self._flush(sel, c, j)
            return
        i = k % len(self.udp)
        udp_ids[i] = (udp_ids[i] + 1) & 0xFFFF
        qid = udp_ids[i]
        struct.pack_into("!H", w, 0, qid)
        rec = [now, None, None, "udp", None, name, (i, qid)]
        with self._lock:
            self.records.append(rec)
            self._udp_pending[(i, qid)] = rec
        try:
            self.udp[i].sendto(w, (self.addr, self.port))
        except (BlockingIOError, InterruptedError, ConnectionRefusedError):
            pass                      # counted lost at its deadline

    def _expire(self, sel, now):
        # records are in sending order: the oldest without an outcome first
        limit = now - self.timeout
        with self._lock:
            recs = self.records
            while self._exp < len(recs) and (recs[self._exp][2] is not None
                                             or recs[self._exp][0] < limit):
                r = recs[self._exp]
                if r[2] is None:
                    if r[3] == "udp":
                        self._udp_pending.pop(r[6], None)
                    else:
                        self.tcp[r[6][0]].pending.pop(r[6][1], None)
                    r[2] = "lost"
                    r[4] = "timeout"
                    self.done += 1
                self._exp += 1

    def _classify(self, data, name):
        key = (name, bytes(data[2:]))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        try:
            m = dns.message.from_wire(bytes(data))
        except Exception as e:
            return ("wrong", "unparsable: %s" % type(e).__name__)
        rc = m.rcode()
        if rc == dns.rcode.SERVFAIL:
            out = ("servfail", None)
        elif rc != dns.rcode.NOERROR:
            out = ("wrong", dns.rcode.to_text(rc))
        else:
            txt = ",".join(b"".join(rd.strings).decode("utf-8", "replace")
                           for rr in m.answer for rd in rr
                           if hasattr(rd, "strings"))
            qn = str(m.question[0].name) if m.question else ""
            if qn.lower() == name.lower() and txt in self.answers[name]:
                out = ("ok", txt)
            else:
                out = ("wrong", "%s %r" % (qn, txt))
        if len(self._cache) < 10000:
            self._cache[key] = out
        return out

    def _finish(self, rec, data):
        outcome, what = self._classify(data, rec[5])
        rec[1] = self.now()
        rec[2] = outcome
        rec[4] = what
        self.done += 1
        if outcome == "ok":
            self.counts_by_answer[what] = \
                self.counts_by_answer.get(what, 0) + 1
        elif outcome == "wrong":
            self.wrong.append((round(rec[0], 3), rec[3], what))

    def _read_udp(self, i):
        s = self.udp[i]
        while True:
            try:
                data = s.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue
            if len(data) < 12:
                continue
            (qid,) = _LEN.unpack_from(data, 0)
            with self._lock:
                rec = self._udp_pending.pop((i, qid), None)
                if rec is not None:
                    self._finish(rec, data)

    # ---------------------------------------------------------------- TCP

    def _connect(self, sel, c):
        s = socket.socket(self.fam, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((self.addr, self.port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            c.retry_at = self.now() + 0.02
            return
        c.sock = s
        c.connected = False
        c.inbuf = bytearray()
        i = self.tcp.index(c)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE,
                     ("tcp", i))

    def _closed(self, sel, c):
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        c.sock = None
        c.connected = False
        c.out = bytearray()
        c.retry_at = self.now() + 0.01
        self.tcp_reconnects += 1
        with self._lock:
            for rec in c.pending.values():
                rec[2] = "lost"
                rec[1] = self.now()
                rec[4] = "connection closed"
                self.done += 1
            c.pending.clear()

    def _flush(self, sel, c, i):
        try:
            n = c.sock.send(c.out)
            del c.out[:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._closed(sel, c)
            return
        sel.modify(c.sock, selectors.EVENT_READ |
                   (selectors.EVENT_WRITE if c.out else 0), ("tcp", i))

    def _tcp_event(self, sel, c, i, ev):
        if c.sock is None:
            return
        if not c.connected and ev & selectors.EVENT_WRITE:
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._closed(sel, c)
                return
            c.connected = True
            # queries already in c.out were scheduled while it was down
            with self._lock:
                c.out = bytearray()
                for qid, rec in c.pending.items():
                    w = self.wires[self.names.index(rec[5])]
                    struct.pack_into("!H", w, 0, qid)
                    c.out += _LEN.pack(len(w)) + w
        if c.connected and ev & selectors.EVENT_WRITE and c.out:
            self._flush(sel, c, i)
            if c.sock is None:
                return
        if c.connected and not c.out:
            sel.modify(c.sock, selectors.EVENT_READ, ("tcp", i))
        if ev & selectors.EVENT_READ:
            try:
                data = c.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._closed(sel, c)
                return
            c.inbuf += data
            while len(c.inbuf) >= 2:
                (n,) = _LEN.unpack_from(c.inbuf, 0)
                if len(c.inbuf) < 2 + n:
                    break
                msg = bytes(c.inbuf[2:2 + n])
                del c.inbuf[:2 + n]
                if len(msg) < 12:
                    continue
                (qid,) = _LEN.unpack_from(msg, 0)
                with self._lock:
                    rec = c.pending.pop(qid, None)
                    if rec is not None:
                        self._finish(rec, msg)
