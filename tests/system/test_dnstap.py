"""dnstap and log-queries: the routers' messages reach a real Frame Streams
collector (fstrm_capture from fstrm-bin) and a real dnstap reader
(dnstap-read from bind9-dnsutils) decodes them: message types, addresses,
ports, transports, times and the DNS messages' bytes. A collector that is
absent or stops reading costs dropped (and counted) messages, never an
answer; the routers connect by themselves once it is there. log-queries N
logs one answer in N."""

import datetime
import os
import re
import signal
import socket
import subprocess
import time

import dns.message
import dns.query

from dnsenv import free_port, stop_pid, wait_for
from test_cache import metric, one_shard

ALL = ("dnstap-messages client-query,client-response,forwarder-query,"
       "forwarder-response\n")


class Capture:
    """fstrm_capture on a unix socket (a path) or on a TCP port of
    127.0.0.1 (a number), writing a Frame Streams file."""

    def __init__(self, sock, out):
        self.sock, self.out = sock, out
        where = (["-a", "127.0.0.1", "-p", str(sock)] if isinstance(sock, int)
                 else ["-u", sock])
        self.proc = subprocess.Popen(
            ["fstrm_capture", "-t", "protobuf:dnstap.Dnstap", "-w", out]
            + where, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.listening, 5, what="fstrm_capture's socket")

    def listening(self):
        if not isinstance(self.sock, int):
            return os.path.exists(self.sock)
        try:
            socket.create_connection(("127.0.0.1", self.sock), 1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)   # closes the file
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                stop_pid(self.proc)


def frames(path):
    """What dnstap-read decodes of path, one dict a message: the fields of
    its YAML form (-y; times to the second), plus from its short form
    with hex dumps (-x) the DNS message's bytes ("wire") and the time
    to the millisecond ("when": the query's for queries, the response's
    for responses)."""
    def run(*opts):
        return subprocess.run(["dnstap-read"] + list(opts) + [path],
                              capture_output=True, text=True, timeout=30,
                              check=True).stdout
    msgs = []
    for doc in run("-y").split("---"):
        m = {}
        for line in doc.splitlines():
            kv = re.match(r"^\s*([a-z_]+): (.*)$", line)
            if kv:
                m[kv.group(1)] = re.sub(r"^!!timestamp ", "",
                                        kv.group(2).strip()).strip("'\"")
        if "type" in m:
            msgs.append(m)
    short = run("-x").splitlines()
    assert len(short) == 2 * len(msgs), (len(short), len(msgs))
    for m, head, hexdump in zip(msgs, short[0::2], short[1::2]):
        when = datetime.datetime.strptime(" ".join(head.split()[:2]),
                                          "%d-%b-%Y %H:%M:%S.%f")
        m["when"] = when.timestamp()
        m["wire"] = bytes.fromhex(hexdump)
    tt = times(path)
    assert len(tt) == len(msgs)
    for m, (qtime, rtime) in zip(msgs, tt):
        m["qtime"], m["rtime"] = qtime, rtime
    return msgs


def varint(b, i):
    v = shift = 0
    while True:
        v |= (b[i] & 0x7f) << shift
        shift += 7
        i += 1
        if not b[i - 1] & 0x80:
            return v, i


def fields(b):
    """A protobuf message's fields: {number: value} (varints, fixed32s and
    byte strings; the last of a number)."""
    out, i = {}, 0
    while i < len(b):
        key, i = varint(b, i)
        kind = key & 7
        if kind == 0:
            out[key >> 3], i = varint(b, i)
        elif kind == 5:
            out[key >> 3], i = int.from_bytes(b[i:i + 4], "little"), i + 4
        elif kind == 2:
            n, i = varint(b, i)
            out[key >> 3], i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % kind)
    return out


def times(path):
    """Each message's (query time, response time) in seconds, or None,
    from the file's frames decoded here: dnstap-read prints only one of
    the two, to the second."""
    data = open(path, "rb").read()
    i, out = 0, []
    while i + 4 <= len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        if n == 0:                       # a control frame
            n = int.from_bytes(data[i + 4:i + 8], "big")
            i += 8 + n
            continue
        m = fields(fields(data[i + 4:i + 4 + n])[14])
        i += 4 + n
        out.append(tuple(m[s] + m[ns] / 1e9 if s in m else None
                         for s, ns in ((8, 9), (12, 13))))
    return out


def connected(r, n):
    wait_for(lambda: r.log_count("dnstap: connected to") >= n, 10,
             what="%d router(s) connected to the collector" % n)


def test_every_message_type_decodes_with_its_fields(make_named, make_router,
                                                     tmp_path):
    n, r = one_shard(make_named, make_router, extra=(
        "dnstap unix:@RUNDIR@/dnstap.sock\n" + ALL +
        "dnstap-identity edge-1\ndnstap-version test-9\n"))
    out = str(tmp_path / "tap.fstrm")
    cap = Capture(os.path.join(r.rundir, "dnstap.sock"), out)
    try:
        connected(r, 1)
        t0 = time.time()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        uport = s.getsockname()[1]
        uq = dns.message.make_query("a.miek.nl.", "TXT", id=4242)
        s.sendto(uq.to_wire(), ("127.0.0.1", r.port))
        s.settimeout(3)
        uans = s.recv(65535)
        s.close()
        tq = dns.message.make_query("b.miek.nl.", "TXT", id=4343)
        t = socket.create_connection(("127.0.0.1", r.port), timeout=3)
        tport = t.getsockname()[1]
        tans = dns.query.tcp(tq, "127.0.0.1", port=r.port, sock=t,
                             timeout=3).to_wire()
        t.close()
        t1 = time.time()
        r.stop()          # the routers flush, the collector hears STOP
    finally:
        cap.stop()
    msgs = frames(out)
    by = {}
    for m in msgs:
        by.setdefault((m["type"], m["socket_protocol"]), []).append(m)
    for proto, q, ans, cport in (("UDP", uq.to_wire(), uans, uport),
                                 ("TCP", tq.to_wire(), tans, tport)):
        cq, = by[("CLIENT_QUERY", proto)]
        cr, = by[("CLIENT_RESPONSE", proto)]
        fq, = by[("FORWARDER_QUERY", proto)]
        fr, = by[("FORWARDER_RESPONSE", proto)]
        for m in (cq, cr, fq, fr):
            assert m["identity"] == "edge-1" and m["version"] == "test-9", m
            assert m["socket_family"] == "INET", m
        # The client's side: its address and port, its bytes, ours back.
        for m in (cq, cr):
            assert m["query_address"] == "127.0.0.1", m
            assert int(m["query_port"]) == cport, m
        assert cq["wire"] == q
        assert cr["wire"] == ans
        # The backend's side: BIND's address and port; our query to it is
        # the client's but for the ID; its answer is ours but for the ID.
        for m in (fq, fr):
            assert m["response_address"] == "127.0.0.1", m
            assert int(m["response_port"]) == n.port, m
        assert fq["wire"][2:] == q[2:]
        assert fr["wire"][2:] == ans[2:] and fr["wire"][:2] == fq["wire"][:2]
        # Times: a response carries its query's time, and each comes in
        # order within the run.
        assert cr["qtime"] == cq["qtime"] and fr["qtime"] == fq["qtime"]
        assert cq["rtime"] is None and fq["rtime"] is None
        assert (t0 - 0.01 <= cq["qtime"] <= fq["qtime"] <= fr["rtime"]
                <= cr["rtime"] <= t1 + 0.01), (t0, cq, fq, fr, cr, t1)
        # dnstap-read agrees, to its millisecond.
        for m, t in ((cq, cq["qtime"]), (fq, fq["qtime"]),
                     (fr, fr["rtime"]), (cr, cr["rtime"])):
            assert abs(m["when"] - t) < 0.002, (m, t)
    # Nothing but these eight (the readiness queries were before the
    # collector was there: dropped and counted, not queued for later).
    ours = [m for m in msgs if m["wire"][2:] in (uq.to_wire()[2:],
            uans[2:], tq.to_wire()[2:], tans[2:])]
    assert len(ours) == 8, [(m["type"], m["socket_protocol"]) for m in msgs]


def test_default_messages_are_the_clients_and_each_router_connects_over_tcp(
        make_named, make_router, tmp_path):
    tport = free_port()
    out = str(tmp_path / "tap.fstrm")
    cap = Capture(tport, out)
    try:
        n, r = one_shard(make_named, make_router, workers=2,
                         extra="dnstap tcp:127.0.0.1:%d\n" % tport)
        connected(r, 2)
        for i in range(40):
            dns.query.udp(dns.message.make_query("a.miek.nl.", "TXT"),
                          "127.0.0.1", port=r.port, timeout=3)
        r.stop()
    finally:
        cap.stop()
    msgs = frames(out)
    types = sorted(set(m["type"] for m in msgs))
    assert types == ["CLIENT_QUERY", "CLIENT_RESPONSE"], types
    assert sum(m["type"] == "CLIENT_RESPONSE" for m in msgs) >= 40
    # Identity: the host name by default; version: ours.
    assert msgs[0]["identity"] == socket.gethostname()
    assert msgs[0]["version"].startswith("dnsrouter ")


def test_absent_collector_costs_counted_drops_then_is_joined(
        make_named, make_router, tmp_path):
    mport = free_port()
    n, r = one_shard(make_named, make_router, extra=(
        "metrics 127.0.0.1:%d\ndnstap unix:@RUNDIR@/dnstap.sock\n" % mport))
    for _ in range(50):
        dns.query.udp(dns.message.make_query("a.miek.nl.", "TXT"),
                      "127.0.0.1", port=r.port, timeout=3)
    # 50 queries, 50 answers, none of them sent anywhere.
    wait_for(lambda: metric(mport, "dnsrouter_dnstap_dropped_total") >= 100,
             5, what="100 drops counted")
    assert metric(mport, "dnsrouter_dnstap_messages_total") == 0
    wait_for(lambda: "dnstap: cannot connect to unix:" in r.log(), 5,
             what="the absent collector logged")
    out = str(tmp_path / "tap.fstrm")
    cap = Capture(os.path.join(r.rundir, "dnstap.sock"), out)
    try:
        connected(r, 1)
        dns.query.udp(dns.message.make_query("late.miek.nl.", "TXT"),
                      "127.0.0.1", port=r.port, timeout=3)
        wait_for(lambda: metric(mport, "dnsrouter_dnstap_messages_total")
                 >= 2, 5, what="two messages queued")
        r.stop()
    finally:
        cap.stop()
    names = [dns.message.from_wire(m["wire"]).question[0].name.to_text()
             for m in frames(out)]
    assert names.count("late.miek.nl.") == 2, names


def test_collector_that_stops_reading_never_delays_answers(
        make_named, make_router, tmp_path):
    """A collector that takes the connection, answers the handshake and
    then reads nothing: its socket fills, the router's queue fills, the
    rest is dropped and counted, and answers keep their pace."""
    mport = free_port()
    n, r = one_shard(make_named, make_router, extra=(
        "metrics 127.0.0.1:%d\ndnstap unix:@RUNDIR@/dnstap.sock\n" % mport
        + ALL))
    path = os.path.join(r.rundir, "dnstap.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(4)
    lsock.settimeout(10)
    conn = None
    try:
        conn, _ = lsock.accept()
        conn.settimeout(5)
        ready = conn.recv(4096)        # READY: escape, length, type 4, ...
        assert ready[:4] == b"\0\0\0\0" and ready[8:12] == b"\0\0\0\4", ready
        ct = b"protobuf:dnstap.Dnstap"
        body = (b"\0\0\0\1" + b"\0\0\0\1" + len(ct).to_bytes(4, "big") + ct)
        conn.sendall(b"\0\0\0\0" + len(body).to_bytes(4, "big") + body)
        connected(r, 1)
        drops = "dnsrouter_dnstap_dropped_total"
        queued = "dnsrouter_dnstap_messages_total"
        # The readiness queries' messages, dropped before the connection.
        before = wait_for(lambda: (lambda c: c if c[0] == c[1] else None)(
            [metric(mport, drops), metric(mport, drops)]), 5)[0]
        # Now read nothing. 3,000 queries of four messages each outgrow
        # the socket's buffer and the router's 4,096-message queue.
        worst = 0.0
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        for i in range(3000):
            q = dns.message.make_query("a.miek.nl.", "TXT", id=i)
            t = time.monotonic()
            s.sendto(q.to_wire(), ("127.0.0.1", r.port))
            s.recv(65535)
            worst = max(worst, time.monotonic() - t)
        s.close()
        # Every message is either queued or dropped and counted.
        wait_for(lambda: metric(mport, drops) - before +
                 metric(mport, queued) == 12000, 5,
                 what="12,000 messages queued or dropped")
        dropped = metric(mport, drops) - before
        assert dropped > 1000, dropped
        assert metric(mport, queued) < 12000 - 1000
        # The I/O thread's 2 s write deadline never reaches the answers.
        assert worst < 0.5, worst
    finally:
        if conn is not None:
            conn.close()
        lsock.close()


def test_log_queries_logs_one_answer_in_n(make_named, make_router):
    n, r = one_shard(make_named, make_router, extra="log-queries 10\n")

    def logged():
        return [l for l in r.log().splitlines() if "query 127.0.0.1:" in l]
    before = len(logged())
    # 60 answers, whatever came before: exactly 6 logged, and one of the
    # last ten (REFUSED, by the router itself).
    for i in range(50):
        dns.query.udp(dns.message.make_query("a.miek.nl.", "TXT"),
                      "127.0.0.1", port=r.port, timeout=3)
    for i in range(10):
        dns.query.udp(dns.message.make_query("nowhere.example.", "A"),
                      "127.0.0.1", port=r.port, timeout=3)
    lines = wait_for(lambda: (lambda ls: ls if len(ls) - before >= 6
                              else None)(logged()), 5,
                     what="six logged answers")[before:]
    # Each answer is logged before it is sent: a seventh would be there.
    assert len(logged()) - before == 6, lines
    assert all(re.search(r"query 127\.0\.0\.1:\d+ udp a\.miek\.nl\. TXT: "
                         r"NOERROR, 1 answer\(s\), [0-9.]+ ms, from "
                         r"127\.0\.0\.1:%d$" % n.port, l)
               for l in lines[:5]), lines
    assert re.search(r"query 127\.0\.0\.1:\d+ udp nowhere\.example\. A: "
                     r"REFUSED, 0 answer\(s\), [0-9.]+ ms, by router$",
                     lines[-1]), lines
