"""The zone miek.nl. split in two shards, as in the 2014 write-up.

Shard "ab" serves the names starting with a-b, shard "cd" those with c-d;
both serve the apex (SOA, NS) with a TXT naming the shard, so an answer
tells which backend gave it. A few extra names exist to test route
priority, order and regexps with commas.
"""

ORIGIN = "miek.nl."

_HEAD = """$ORIGIN miek.nl.
$TTL 300
@       IN SOA ns.miek.nl. hostmaster.miek.nl. 1282630056 14400 3600 604800 86400
@       IN NS  ns
ns      IN A   127.0.0.1
@       IN TXT "shard-%(shard)s"
"""

# 40 strings of 30 characters: the RRset is about 1,600 bytes on the wire.
BIG_TXT = ["big-%02d-%s" % (i, "x" * 23) for i in range(40)]


def zone_ab():
    """Backend A: a, b, big (a large RRset) and the apex."""
    z = _HEAD % {"shard": "ab"}
    z += 'a       IN TXT "aa"\n'
    z += 'a       IN A   192.0.2.1\n'
    z += 'b       IN TXT "bb"\n'
    for s in BIG_TXT:
        z += 'big     IN TXT "%s"\n' % s
    z += 'p       IN TXT "p-from-ab"\n'
    z += 'o       IN TXT "o-from-ab"\n'
    return z


def zone_cd():
    """Backend B: c, d, e, ee and the apex."""
    z = _HEAD % {"shard": "cd"}
    z += 'c       IN TXT "cc"\n'
    z += 'd       IN TXT "dd"\n'
    z += 'e       IN TXT "e-from-cd"\n'
    z += 'ee      IN TXT "ee-from-cd"\n'
    z += 'p       IN TXT "p-from-cd"\n'
    z += 'o       IN TXT "o-from-cd"\n'
    return z


def standard_routes(addr_a, addr_b):
    """Routes-file lines for the shared router. addr_* are "ip:port"."""
    return [
        "# shard a-b and shard c-d, 2014 form: ip:port,regexp",
        "%s,^[ab]\\.miek" % addr_a,
        "%s,^c\\.miek" % addr_b,
        '{"addr":"%s","match":"^d\\\\.miek","priority":0}' % addr_b,
        "# the apex twice with one regexp: one route, round robin",
        "%s,^miek" % addr_a,
        "%s,^miek" % addr_b,
        "%s,^big\\.miek" % addr_a,
        "# a regexp holding a comma",
        "%s,^e{1,2}\\.miek" % addr_b,
        "# priority: lower first, whatever the order of registration",
        '{"addr":"%s","match":"^p\\\\.miek","priority":5}' % addr_a,
        '{"addr":"%s","match":"^p\\\\.","priority":1}' % addr_b,
        "# same priority: first registered first",
        "%s,^o\\.miek" % addr_a,
        "%s,^o\\." % addr_b,
    ]


def zone_with(shard, records):
    """A miek.nl. zone with the usual apex (TXT "shard-<shard>") plus
    records, a list of zone-file lines such as 'c IN TXT "c-from-x"'."""
    return _HEAD % {"shard": shard} + "".join(r + "\n" for r in records)
