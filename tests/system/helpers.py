"""Small helpers for the system tests: reading answers, raw packets."""

import os
import socket
import struct
import time

import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype

import dnsenv


def txts(resp, rdtype=dns.rdatatype.TXT):
    """The TXT strings of the answer section, decoded, in order."""
    out = []
    for rrset in resp.answer:
        if rrset.rdtype != rdtype:
            continue
        for rd in rrset:
            out.append(b"".join(rd.strings).decode())
    return out


def header(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def qname_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question(name, qtype=16, qclass=1):
    return qname_wire(name) + struct.pack("!HH", qtype, qclass)


def parse_header(wire):
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
    return {"id": qid, "qr": bool(flags & 0x8000),
            "opcode": (flags >> 11) & 0xF, "rcode": flags & 0xF,
            "tc": bool(flags & 0x0200), "rd": bool(flags & 0x0100),
            "qd": qd, "an": an, "ns": ns, "ar": ar}


def udp_exchange_then_probe(port, bad, probe_name="a.miek.nl.",
                            addr="127.0.0.1", timeout=2.0):
    """Send bad, then a good TXT query for probe_name, on one UDP socket
    (so one router gets both, in order). Return (every other packet received,
    up to 0.3 s after the probe's answer; the probe's answer). A reply to bad, if any, comes
    back first: it needs no backend round trip."""
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET,
                      socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(bad, (addr, port))
        probe = dns.message.make_query(probe_name, "TXT")
        if len(bad) >= 2:
            probe.id = (struct.unpack("!H", bad[:2])[0] + 1) & 0xFFFF
        s.sendto(probe.to_wire(), (addr, port))
        others = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data, _ = s.recvfrom(65535)
            if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == \
                    probe.id and len(data) >= 12 and data[2] & 0x80:
                # Any late reply to bad: give it a short moment to show.
                s.settimeout(0.3)
                try:
                    others.append(s.recvfrom(65535)[0])
                except socket.timeout:
                    pass
                return others, dns.message.from_wire(data)
            others.append(data)
        raise socket.timeout("no answer to the probe")
    finally:
        s.close()


def sanitized_build(build_dir):
    """True when build_dir's programs are built with ASan (they need
    libasan): heavy tests run on the plain build only."""
    with open(os.path.join(build_dir, "dnsrouter-controller"), "rb") as f:
        return b"libasan.so" in f.read()
