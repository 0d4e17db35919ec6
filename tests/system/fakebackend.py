"""A DNS backend driven by hand from a test, to forge replies.

UDP: the test calls recv_query() and then sends whatever replies it likes,
from the listening socket or from a second socket (another source port).
TCP, on the same port: a thread answers every query NOERROR with a TXT
"fake-health", so dnsrouter's health checks pass (tcp_rcode makes it answer
another rcode instead). serve_udp() starts a thread answering every UDP
query with a TXT of its own, for tests that need steady traffic; its drop
predicate leaves some names unanswered. Setting dead makes the backend
answer nothing at all, UDP or TCP, until it is cleared.
"""

import socket
import struct
import threading

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from dnsenv import free_port, recv_tcp_msg


def make_reply(query_wire, txt, qid=None, qname=None):
    """Wire reply to query_wire: NOERROR, AA, one TXT txt at its name.
    qid replaces the ID; qname replaces the question (and answer) name."""
    q = dns.message.from_wire(query_wire)
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    name = q.question[0].name
    if qname is not None:
        name = dns.name.from_text(qname)
        r.question = [dns.rrset.RRset(name, q.question[0].rdclass,
                                      q.question[0].rdtype)]
    r.answer.append(dns.rrset.from_text(name, 300, "IN", "TXT",
                                        '"%s"' % txt))
    if qid is not None:
        r.id = qid
    return r.to_wire()


def first_label(wire):
    """The query's first label, lower case ("" for the root or a stub)."""
    if len(wire) < 13:
        return ""
    n = wire[12]
    return wire[13:13 + n].decode("latin-1").lower()


class FakeBackend:
    def __init__(self, addr="127.0.0.1"):
        self.addr = addr
        self.port = free_port(addr)
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.udp = socket.socket(fam, socket.SOCK_DGRAM)
        self.udp.bind((addr, self.port))
        self.other = socket.socket(fam, socket.SOCK_DGRAM)
        self.other.bind((addr, 0))
        self.tcp = socket.socket(fam, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((addr, self.port))
        self.tcp.listen(16)
        self.health_queries = 0
        self.tcp_rcode = dns.rcode.NOERROR
        self.udp_answered = 0
        self.udp_dropped = 0
        self.dead = False
        self._udp_thread = None
        self._stop = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve_tcp, daemon=True)
        self._thread.start()

    @property
    def spec(self):
        return "%s:%d" % (self.addr, self.port)

    def _serve_tcp(self):
        # a thread per connection: a router's persistent connection must
        # not keep the health checks waiting
        self.tcp.settimeout(0.2)
        while not self._stop:
            try:
                c, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve_conn, args=(c,),
                             daemon=True).start()

    def _serve_conn(self, c):
        with c:
            c.settimeout(2)
            try:
                while not self._stop:
                    m = recv_tcp_msg(c)
                    if m is None:
                        break
                    if self.dead:
                        continue
                    with self._lock:
                        self.health_queries += 1
                    w = make_reply(m, "fake-health")
                    if self.tcp_rcode != dns.rcode.NOERROR:
                        r = dns.message.from_wire(w)
                        r.set_rcode(self.tcp_rcode)
                        r.answer = []
                        w = r.to_wire()
                    c.sendall(struct.pack("!H", len(w)) + w)
            except (OSError, dns.exception.DNSException):
                pass

    def serve_udp(self, txt="fake-udp", drop=None):
        """Answer every UDP query NOERROR with TXT txt, in a thread (until
        close()); not the queries whose first label (lower case, str)
        drop(label) is true for, nor any while dead is set."""
        def run():
            self.udp.settimeout(0.2)
            while not self._stop:
                try:
                    wire, src = self.udp.recvfrom(65535)
                    if self.dead or (drop is not None and drop(
                            first_label(wire))):
                        self.udp_dropped += 1
                        continue
                    self.udp.sendto(make_reply(wire, txt), src)
                    self.udp_answered += 1
                except socket.timeout:
                    continue
                except (OSError, dns.exception.DNSException):
                    if self._stop:
                        return
        self._udp_thread = threading.Thread(target=run, daemon=True)
        self._udp_thread.start()

    def recv_query(self, timeout=3.0):
        """(wire, source address) of the next UDP query; socket.timeout."""
        self.udp.settimeout(timeout)
        return self.udp.recvfrom(65535)

    def send(self, wire, to, from_other=False):
        (self.other if from_other else self.udp).sendto(wire, to)

    def close(self):
        self._stop = True
        for t in (self._thread, self._udp_thread):
            if t is not None:
                t.join(2)
        for s in (self.udp, self.other, self.tcp):
            s.close()
