#!/usr/bin/env python3
"""Write the seed corpus of every fuzz target into tests/fuzz/corpus/.

Seeds are small valid messages and edge cases, built here from the layouts
in the headers so they stay readable; run this again after changing it and
commit the result. Reproducers of bugs are added by hand beside them.
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_MAGIC = 0x444E5352


def proto_version():
    """PROTO_VERSION from proto/proto.h: seeds of an old version stop at the header."""
    with open(os.path.join(HERE, "..", "..", "proto", "proto.h")) as f:
        for line in f:
            w = line.split()
            if len(w) >= 3 and w[:2] == ["#define", "PROTO_VERSION"]:
                return int(w[2])
    raise SystemExit("PROTO_VERSION not found in proto/proto.h")


PROTO_VERSION = proto_version()


def report_counts():
    """REPORT_NGLOBAL, REPORT_NRCODE, REPORT_NBUCKET from proto/report.h."""
    import re
    with open(os.path.join(HERE, "..", "..", "proto", "report.h")) as f:
        h = f.read()
    glob = re.search(r"enum report_global \{(.*?)REPORT_NGLOBAL", h, re.S).group(1)
    rc = re.search(r"enum report_rcode \{(.*?)REPORT_NRCODE", h, re.S).group(1)
    nb = re.search(r"#define REPORT_NBUCKET\s+(\d+)", h).group(1)
    return (len(re.findall(r"\bRG_\w+", glob)), len(re.findall(r"\bRR_\w+", rc)),
            int(nb))


NGLOBAL, NRCODE, NBUCKET = report_counts()
PROTO_TABLE, PROTO_REPORT, PROTO_STATUS, PROTO_ERROR = 1, 3, 5, 6
PROTO_HSDB_REQ, PROTO_HSDB = 7, 8


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# DNS -------------------------------------------------------------------

def name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("latin-1")
    return out + b"\0"


def dnshdr(flags=0x0100, qd=1, an=0, ns=0, ar=0, qid=0x1234):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def question(text, qtype=1, qclass=1):
    return name(text) + struct.pack(">HH", qtype, qclass)


OPT = b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)


def dns_seeds():
    t = "fuzz_query"
    write(t, "a-example", dnshdr() + question("example.com."))
    write(t, "root-ns", dnshdr() + question(".", 2))
    write(t, "ch-txt", dnshdr() + question("id.server.", 16, 3))
    write(t, "edns", dnshdr(ar=1) + question("www.example.org.", 28) + OPT)
    # Upper case, '.', '\\', NUL, 0xff and space inside labels.
    write(t, "escapes", dnshdr() +
          b"\x05A.B\\\x00\x03\xffz \x00\x00\x01\x00\x01")
    write(t, "longest-name", dnshdr() +
          name(".".join(["a" * 63] * 3 + ["b" * 61])) + b"\0\x01\0\x01")
    write(t, "too-long-name", dnshdr() +
          name(".".join(["a" * 63] * 4)) + b"\0\x01\0\x01")
    write(t, "pointer", dnshdr() + b"\xc0\x0c\0\x01\0\x01")
    write(t, "trailing", dnshdr() + question("example.com.") + b"xyz")
    write(t, "truncated", dnshdr() + question("example.com.")[:-2])
    write(t, "qdcount2", dnshdr(qd=2) + question("a.") + question("b."))
    write(t, "notify", dnshdr(flags=0x2000) + question("example.com.", 6))
    write(t, "response", dnshdr(flags=0x8180, an=1) + question("example.com.") +
          b"\xc0\x0c\0\x01\0\x01\0\0\x0e\x10\0\x04\xc0\0\x02\x01")
    write(t, "header-only", dnshdr(qd=0))
    write(t, "short", b"\x12\x34\x01")
    # The first byte splits the input into query and reply.
    q = dnshdr() + question("example.com.")
    r = dnshdr(flags=0x8180) + question("EXAMPLE.com.")
    write(t, "split-query-reply", bytes([len(q) * 256 // (len(q) + len(r)) + 1]) +
          q + r)


def tcp_seeds():
    t = "fuzz_tcpframe"

    def framed(msg):
        return struct.pack(">H", len(msg)) + msg

    q1 = dnshdr() + question("example.com.")
    q2 = dnshdr(ar=1, qid=2) + question("www.example.org.", 28) + OPT
    # The first byte picks the read size (byte * 4 + 1).
    write(t, "one", b"\x00" + framed(q1))
    write(t, "pipelined", b"\x02" + framed(q1) + framed(q2) + framed(q1))
    write(t, "partial", b"\x00" + framed(q1) + framed(q2)[:7])
    write(t, "length-only", b"\x10" + b"\x00")
    write(t, "too-short", b"\x01" + framed(q1) + b"\x00\x0b" + b"\0" * 11)
    write(t, "zero-length", b"\x00\x00\x00")
    write(t, "largest", b"\xff\xff\xff" + b"\0" * 64)


def rr_seeds():
    """Transfer messages as a backend writes them: names compressed."""
    import dns.message
    import dns.rrset
    t = "fuzz_dnsrr"
    z = [
        ("miek.nl.", "SOA", "ns1.miek.nl. hostmaster.miek.nl. 2024010101 7200 3600 1209600 300"),
        ("miek.nl.", "NS", "ns1.miek.nl."),
        ("miek.nl.", "MX", "10 mail.miek.nl."),
        ("miek.nl.", "TXT", '"v=spf1 -all"'),
        ("www.miek.nl.", "A", "192.0.2.1"),
        ("www.miek.nl.", "AAAA", "2001:db8::1"),
        ("ftp.miek.nl.", "CNAME", "www.miek.nl."),
        ("_sip._udp.miek.nl.", "SRV", "0 5 5060 sip.miek.nl."),
        ("n.miek.nl.", "NAPTR", '100 10 "u" "E2U+sip" "!^.*$!sip:a@miek.nl!" .'),
        ("1.2.0.192.in-addr.arpa.", "PTR", "www.miek.nl."),
        ("rp.miek.nl.", "RP", "hostmaster.miek.nl. txt.miek.nl."),
        ("a.miek.nl.", "NSEC", "b.miek.nl. A RRSIG NSEC"),
        ("a.miek.nl.", "RRSIG", "A 8 3 300 20300101000000 20200101000000 12345 miek.nl. AAAA"),
    ]
    m = dns.message.make_query("miek.nl.", "AXFR")
    m.id = 0x1234               # the same seeds every run
    r = dns.message.make_response(m)
    for owner, typ, rd in z:
        r.answer.append(dns.rrset.from_text(owner, 300, "IN", typ, rd))
    wire = r.to_wire()
    write(t, "axfr", wire)
    write(t, "axfr-small-cap", b"\x55" + wire[1:])
    write(t, "axfr-cut", wire[:len(wire) * 2 // 3])
    r2 = dns.message.make_response(m)
    r2.question = []
    r2.answer.append(dns.rrset.from_text("x.miek.nl.", 1, "IN", "A", "10.0.0.1"))
    write(t, "no-question", r2.to_wire())


# proto -----------------------------------------------------------------

def hdr(typ, body):
    return struct.pack(">IHHII", PROTO_MAGIC, PROTO_VERSION, typ,
                       16 + len(body), 0) + body


def backend(fam, addr, port, up=1):
    return struct.pack(">BBH", fam, up, port) + addr.ljust(16, b"\0")


def route(prio, idx, pattern):
    pattern = pattern.encode()
    return (struct.pack(">iIH", prio, len(idx), len(pattern)) +
            b"".join(struct.pack(">I", i) for i in idx) + pattern)


def table(epoch=7, gen=1, backends=(), routes=(), extra=b""):
    body = struct.pack(">QQII", epoch, gen, len(backends), len(routes))
    return hdr(PROTO_TABLE, body + b"".join(backends) + b"".join(routes) +
               extra)


V4 = backend(4, bytes([192, 0, 2, 1]), 53)
V6 = backend(6, bytes.fromhex("20010db8000000000000000000000001"), 5353, 0)


def table_seeds():
    t = "fuzz_routetable"
    write(t, "empty", table())
    write(t, "one-route", table(backends=[V4], routes=[route(0, [0], "example\\.com$")]))
    write(t, "two", table(gen=42, backends=[V4, V6],
                          routes=[route(10, [1, 0], "^shard1\\."),
                                  route(-5, [], ".*")]))
    write(t, "bad-index", table(backends=[V4], routes=[route(0, [3], "x")]))
    write(t, "bad-family", table(backends=[backend(5, b"", 53)]))
    write(t, "port0", table(backends=[backend(4, b"\x7f\0\0\x01", 0)]))
    write(t, "huge-counts", hdr(PROTO_TABLE, struct.pack(">QQII", 1, 1,
                                0xffffffff, 0xffffffff)))
    write(t, "trailing", table(backends=[V4], extra=b"\0"))
    # A route naming one backend 300 times (indexes need not be distinct),
    # and one whose backend count is past RT_MAX_BACKENDS (1,000,000).
    write(t, "many-indexes", table(backends=[V4, V6],
                                   routes=[route(0, [0, 1] * 150, "x")]))
    write(t, "route-count-over-limit", hdr(PROTO_TABLE,
          struct.pack(">QQII", 1, 1, 1, 1) + V4 +
          struct.pack(">iIH", 0, 1000001, 1) + b"x"))
    write(t, "header-only", hdr(PROTO_TABLE, b""))
    # A shard's primary (RT_FLAG_PRIMARY), up and down.
    write(t, "primary", table(backends=[backend(4, b"\x7f\0\0\x01", 53, 3),
                                        backend(4, b"\x7f\0\0\x02", 53, 2)],
                              routes=[route(0, [0, 1], "^miek\\.nl\\.$")]))
    return table(gen=3, backends=[V4, V6], routes=[route(1, [0, 1], "a|b")])


def report_seeds():
    t = "fuzz_report"

    def entry(fam, addr, port, q, failed, rcodes, buckets, lat, unanswered=0):
        return (struct.pack(">BBH", fam, 0, port) + addr.ljust(16, b"\0") +
                struct.pack(">III", q, failed, unanswered) +
                struct.pack(">%dI" % NRCODE, *rcodes) +
                struct.pack(">%dI" % NBUCKET, *buckets) +
                struct.pack(">Q", lat))

    def report(entries=(), routes=(), glob=(0,) * NGLOBAL):
        body = struct.pack(">IIIIQQ", 2, len(entries), len(routes), 0, 7, 9)
        body += struct.pack(">%dI" % NGLOBAL, *glob)
        body += b"".join(entries)
        body += b"".join(struct.pack(">II", i, q) for i, q in routes)
        return hdr(PROTO_REPORT, body)

    e4 = entry(4, bytes([192, 0, 2, 1]), 53, 10, 2, (7, 0, 1, 0) + (0,) * (NRCODE - 4),
               (1,) * NBUCKET, 12345, unanswered=1)
    e6 = entry(6, bytes.fromhex("20010db8000000000000000000000001"), 53,
               0xffffffff, 0, (0xffffffff, 1) + (0,) * (NRCODE - 2), (0,) * NBUCKET,
               2**64 - 1)
    write(t, "empty", report())
    write(t, "globals", report(glob=range(100, 100 + NGLOBAL)))
    write(t, "entries", report(entries=[e4, e6], routes=[(0, 5), (3, 1)]))
    write(t, "bad-family", report(entries=[b"\x05" + e4[1:]]))
    write(t, "count-mismatch", report(entries=[e4])[:-8])
    write(t, "more-unanswered-than-failed", report(entries=[
        entry(4, bytes([192, 0, 2, 1]), 53, 3, 1, (0,) * NRCODE,
              (0,) * NBUCKET, 0, unanswered=2)]))
    write(t, "truncated", hdr(PROTO_REPORT, b"\0" * 20))


def cache_seeds():
    """Backend answers to fuzz_cache.c's query (a.miek.nl. TXT, DO)."""
    import dns.edns
    import dns.message
    import dns.rcode
    import dns.rrset
    t = "fuzz_cache"
    q = dns.message.make_query("a.miek.nl.", "TXT", use_edns=0,
                               want_dnssec=True, payload=4096)
    q.id = 0x1234

    def resp(rcode=dns.rcode.NOERROR, answer=(), auth=(), options=()):
        r = dns.message.make_response(q)
        r.use_edns(0, dns.flags.DO, 4096, options=list(options))
        r.set_rcode(rcode)
        for owner, ttl, typ, rd in answer:
            r.answer.append(dns.rrset.from_text(owner, ttl, "IN", typ, rd))
        for owner, ttl, typ, rd in auth:
            r.authority.append(dns.rrset.from_text(owner, ttl, "IN", typ, rd))
        return r.to_wire()
    soa = ("miek.nl.", 300, "SOA", "ns.miek.nl. h.miek.nl. 1 2 3 4 60")
    write(t, "txt", resp(answer=[("a.miek.nl.", 300, "TXT", '"aa"')]))
    write(t, "txt-cookie", resp(
        answer=[("a.miek.nl.", 300, "TXT", '"aa"')],
        options=[dns.edns.GenericOption(10, b"c" * 8 + b"s" * 16)]))
    write(t, "nxdomain", resp(dns.rcode.NXDOMAIN, auth=[soa]))
    write(t, "nodata", resp(auth=[soa]))
    write(t, "ttl-zero", resp(answer=[("a.miek.nl.", 0, "TXT", '"aa"')]))


def hsdb_seeds():
    t = "fuzz_hsdbmsg"

    def answer(status, pats=(), bad=(), blob=b"", ident=0x1234):
        body = struct.pack(">QIIII", ident, status, len(pats), len(bad),
                           len(blob))
        body += b"".join(p.encode() + b"\0" for p in list(pats) + list(bad))
        return hdr(PROTO_HSDB, body + blob)

    write(t, "request", hdr(PROTO_HSDB_REQ, struct.pack(">Q", 0x99)))
    write(t, "compiling", answer(1))
    write(t, "same", answer(2))
    write(t, "none", answer(3))
    write(t, "deferred", answer(4))
    write(t, "db", answer(0, ["^[ab]\\.miek", "x"], ["(a)\\1"],
                          b"\x00" * 32))
    write(t, "db-no-blob", answer(0, bad=["(a)\\1"]))
    write(t, "unterminated", answer(0, ["^a"])[:-1])
    write(t, "counts-past-end", answer(0, ["^a"], blob=b"zz")[:-3])
    write(t, "payload-with-status", answer(1) + b"x")


def status_seeds(tab):
    t = "fuzz_status"

    def text(s):
        b = s.encode()
        return struct.pack(">B", len(b)) + b

    def zones(zs):
        # name, nshards, agree (2: unknown), members (shard, have, serial,
        # addr, why); see proto/statusmsg.h.
        out = struct.pack(">H", len(zs))
        for name, nshards, agree, members in zs:
            out += text(name) + struct.pack(">HBH", nshards, agree,
                                            len(members))
            for shard, have, serial, addr, why in members:
                out += struct.pack(">HBI", shard, have, serial) + \
                    text(addr) + text(why)
        return out

    def status(flags, rev, endpoint, table_msg, zs=()):
        ep = endpoint.encode()
        body = struct.pack(">IIqH", flags, 0, rev, len(ep)) + ep
        body += struct.pack(">I", len(table_msg)) + table_msg + zones(zs)
        return hdr(PROTO_STATUS, body)

    write(t, "request", hdr(4, b""))
    write(t, "no-table", status(1, 0, "", b""))
    write(t, "with-table", status(3, 1234, "http://127.0.0.1:2379", tab))
    write(t, "bad-table", status(3, -1, "https://etcd", tab[:-1]))
    write(t, "endpoint-nul", status(1, 5, "a\0b", b""))
    two = [("miek.nl.", 2, 1, [(1, 1, 2024010101, "127.0.0.1:5301", ""),
                               (2, 0, 0, "[::1]:53", "not authoritative")]),
           ("t.", 0, 2, [])]
    write(t, "with-zones", status(3, 9, "http://e:1", tab, two))
    write(t, "zone-shard-past-count", status(1, 0, "", b"", [
        ("t.", 1, 0, [(2, 1, 1, "127.0.0.1:53", "")])]))
    write(t, "zones-cut", status(1, 0, "", b"", two)[:-3])
    write(t, "error", hdr(PROTO_ERROR, b"no etcd configured"))
    write(t, "error-empty", hdr(PROTO_ERROR, b""))
    write(t, "error-nul", hdr(PROTO_ERROR, b"bad\0"))
    write(t, "old-version", struct.pack(">IHHII", PROTO_MAGIC,
                                        PROTO_VERSION - 1, 5, 16, 0))
    write(t, "bad-magic", b"XXXX" + hdr(4, b"")[4:])


# text ------------------------------------------------------------------

def route_value_seeds():
    t = "fuzz_route_value"
    write(t, "plain", "192.0.2.1:53,^(.*\\.)?example\\.com\\.$")
    write(t, "plain-v6", "[2001:db8::1]:5353,miek\\.nl\\.$")
    write(t, "plain-comma", " 10.0.0.1:53,a{1,3}b\n")
    write(t, "json", json.dumps({"addr": "127.0.0.1:1053", "match": "shard1",
                                 "priority": 10}))
    write(t, "json-neg", '{"addr":"[::1]:53","match":"(?i)X","priority":-1000000}')
    write(t, "json-dup", '{"addr":"1.2.3.4:53","addr":"1.2.3.4:54","match":"a"}')
    write(t, "json-unknown", '{"addr":"1.2.3.4:53","match":"a","weight":1}')
    write(t, "json-nul", '{"addr":"1.2.3.4:53","match":"a\\u0000b"}')
    write(t, "no-port", "192.0.2.1,foo")
    write(t, "bad-regexp", "192.0.2.1:53,(unclosed")
    write(t, "v6-no-brackets", "2001:db8::1:53,x")


def etcd_seeds():
    t = "fuzz_etcd"
    write(t, "range", json.dumps({
        "header": {"revision": "42"},
        "kvs": [{"key": "L2Ruc3JvdXRlci9h", "value": "MTI3LjAuMC4xOjUzLGE=",
                 "mod_revision": "40", "create_revision": "3", "lease": "77"},
                {"key": "L2Ruc3JvdXRlci9i", "mod_revision": 41}],
        "count": "2"}))
    write(t, "range-bad-b64", '{"header":{"revision":1},"kvs":[{"key":"abc"},'
          '{"key":"YQ==","value":"Y"},{"key":7}]}')
    write(t, "range-empty", '{"header":{"cluster_id":"1","revision":"9"}}')
    write(t, "token", '{"header":{},"token":"abc.def.123"}')
    write(t, "lease-grant", '{"header":{},"ID":"7587862245987510534","TTL":"10"}')
    write(t, "lease-keepalive", '{"result":{"ID":"1","TTL":"0"}}\n{"result":{}}\n')
    write(t, "error-unary", '{"error":"etcdserver: user name is empty","code":3,'
          '"message":"etcdserver: user name is empty"}')
    write(t, "watch", "\n".join([
        '{"result":{"header":{"revision":"5"},"created":true}}',
        '{"result":{"header":{"revision":"6"},"events":[{"kv":{"key":"YQ==",'
        '"value":"YQ==","mod_revision":"6"}},{"type":"DELETE","kv":{"key":"Yg==",'
        '"mod_revision":"6"}}]}}',
        '{"result":{"header":{"revision":"7"}}}',
        '{"result":{"compact_revision":"3"}}',
        '{"result":{"canceled":true,"cancel_reason":"invalid auth token"}}',
        '{"error":{"grpc_code":14,"message":"etcdserver: no leader"}}',
        '{"result":']) + "\n")
    write(t, "not-object", "[1,2,3]")
    write(t, "huge-int", '{"header":{"revision":"99999999999999999999"},'
          '"ID":-9223372036854775808}')


def config_seeds():
    t = "fuzz_config"
    with open(os.path.join(HERE, "..", "..", "deploy",
                           "dnsrouter.conf.example")) as f:
        write(t, "example", f.read())
    write(t, "minimal", "listen 127.0.0.1:5353\n")
    write(t, "everything", "\n".join([
        "# every key once", "listen 0.0.0.0:53", "listen [::]:53",
        "workers 4", "user nobody", "rundir /run/dnsrouter",
        "etcd http://127.0.0.1:2379", "etcd https://etcd.example:2379",
        "etcd-prefix /dnsrouter/", "etcd-user root", "etcd-password secret",
        "etcd-cacert /etc/ssl/ca.pem", "etcd-cert /etc/ssl/c.pem",
        "etcd-key /etc/ssl/c.key", "routes /etc/dnsrouter/routes",
        "timeout 1500ms", "health-interval 2s", "health-query id.server CH TXT",
        "health-rise 3", "health-fall 1", "metrics 127.0.0.1:9153",
        "pidfile /run/dnsrouter.pid", ""]))
    write(t, "health-any", "health-query example.com. ANY ANY\n"
          "health-query x CLASS255 TYPE65\n")
    write(t, "comments", "  # indented\n\tworkers\t2 # trailing\n\nmetrics off\n")
    write(t, "no-newline", "timeout 1m")
    write(t, "bad-key", "listen 127.0.0.1\nfrobnicate 1\n")
    write(t, "two-values", "user a b\n")
    write(t, "limits-acl", "\n".join([
        "allow-query 192.0.2.0/24 2001:db8::/32 10.1.2.3",
        "allow-query 198.51.100.7/32", "allow-transfer none", "acl-drop yes",
        "tcp-clients 2048", "tcp-clients-per-ip 0", "tcp-initial-timeout 2s",
        "tcp-idle-timeout 10s", "rrl-responses-per-second 5",
        "rrl-errors-per-second 2", "rrl-nxdomains-per-second 1",
        "rrl-window 15", "rrl-slip 0", "rrl-ipv4-prefix-length 32",
        "rrl-ipv6-prefix-length 0", "rrl-exempt any", "rrl-log-only no", ""]))
    write(t, "durations", "timeout 60000ms\nhealth-interval 1h\n")


def main():
    dns_seeds()
    tcp_seeds()
    rr_seeds()
    tab = table_seeds()
    report_seeds()
    hsdb_seeds()
    cache_seeds()
    status_seeds(tab)
    route_value_seeds()
    etcd_seeds()
    config_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
