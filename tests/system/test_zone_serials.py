"""SOA agreement: the controller reads each shard's apex SOA with its health
checks (the backends of an apex route, `^zone\\.$` as `dnsrouterctl split`
prints it) and shows on /metrics, and in its log, whether the shards of a
zone hold the same serial."""

import json
import re

from dnsenv import Dnsrouter, Named, free_port, wait_for
from test_ctl import ctl
from test_metrics import http_get, metrics_extra
from test_split import parse_output, split_on_ports

ORIGIN = "example.nl."
ZONE = """$ORIGIN example.nl.
$TTL 60
@ IN SOA ns1 hostmaster %d 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
""" + "".join('%shost IN TXT "%s"\n' % (c, c) for c in "abcdmnopxyz")


def metric(body, name, **labels):
    for line in body.splitlines():
        m = re.match(r'%s\{([^}]*)\} (-?\d+)$' % name, line)
        if m and all('%s="%s"' % kv in m.group(1) for kv in labels.items()):
            return int(m.group(2))
    return None


def scrape(port):
    """The page, or "" while the controller does not serve it yet."""
    try:
        status, _, body = http_get(port)
    except OSError:
        return ""
    assert status == 200
    return body


def shards_of(build_dir, tmp_path, serial, n=2, replicas=1):
    zf = tmp_path / "example.nl.zone"
    zf.write_text(ZONE % serial)
    ports, out = split_on_ports(build_dir, zf, n, tmp_path / "shards")
    shards = parse_output(out)
    named, routes = [], []
    for i, (f, _, lines) in enumerate(shards):
        text = open(f).read()
        named.append(Named(tmp_path / ("shard%d" % i), ports[i],
                           {ORIGIN: text}, querylog=False))
        routes += lines
        for k in range(1, replicas):
            port = free_port()
            named.append(Named(tmp_path / ("shard%d-%d" % (i, k)), port,
                               {ORIGIN: text}, querylog=False))
            routes += [l.replace("127.0.0.1:%d" % ports[i],
                                 "127.0.0.1:%d" % port) for l in lines]
    return named, routes


def start(build_dir, tmp_path, named, routes):
    mport = free_port()
    r = Dnsrouter(build_dir, tmp_path / "router", free_port(), routes,
                  extra=metrics_extra(mport) + "health-interval 200ms\n")
    for n in named:
        n.start()
    r.start()
    r.metrics_port = mport
    return r


def test_shards_that_agree_show_one_serial_each(build_dir, tmp_path):
    named, routes = shards_of(build_dir, tmp_path, 2024010101, n=2,
                              replicas=2)
    r = start(build_dir, tmp_path, named, routes)
    try:
        wait_for(lambda: metric(scrape(r.metrics_port),
                                "dnsrouter_zone_serials_agree",
                                zone=ORIGIN) == 1, 10, 0.1,
                 "the shards of %s to agree" % ORIGIN)
        def serials():
            return re.findall(r'dnsrouter_zone_serial\{zone="example.nl.",'
                              r'shard="(\d)",backend="([^"]+)"\} (\d+)',
                              scrape(r.metrics_port))
        # Agreement needs one serial per shard; wait for every replica's.
        wait_for(lambda: len(serials()) == 4, 10, 0.1, "four serials")
        body = scrape(r.metrics_port)
        assert metric(body, "dnsrouter_zone_shards", zone=ORIGIN) == 2
        serials = serials()
        # Two shards of two replicas each, every backend with its serial.
        assert sorted(s for s, _, _ in serials) == ["1", "1", "2", "2"], body
        assert {int(v) for _, _, v in serials} == {2024010101}
        assert "serials differ" not in r.log()
        # dnsrouterctl status tells the same, as text and as JSON.
        text = ctl(build_dir, "status", conf=r.conf_path).stdout
        assert "zone example.nl.: 2 shards, SOA serials agree" in text, text
        assert len(re.findall(r"shard 1 .* serial 2024010101", text)) == 2
        st = json.loads(ctl(build_dir, "status", "--json",
                            conf=r.conf_path).stdout)
        z = st["zones"][0]
        assert z["zone"] == ORIGIN and z["shards"] == 2 and \
            z["serials_agree"] is True
        assert sorted((b["shard"], b["serial"]) for b in z["backends"]) == \
            [(1, 2024010101)] * 2 + [(2, 2024010101)] * 2
    finally:
        r.stop()
        for n in named:
            n.stop()


def test_a_shard_with_another_serial_is_seen_and_logged(build_dir, tmp_path):
    named, routes = shards_of(build_dir, tmp_path, 2024010101, n=2)
    r = start(build_dir, tmp_path, named, routes)
    try:
        wait_for(lambda: metric(scrape(r.metrics_port),
                                "dnsrouter_zone_serials_agree",
                                zone=ORIGIN) == 1, 10, 0.1, "agreement")
        # One shard is reloaded with a new serial, the other not yet.
        old = named[0].zones[ORIGIN]
        named[0].reload_zone(ORIGIN, old.replace("2024010101", "2024010102"))
        wait_for(lambda: metric(scrape(r.metrics_port),
                                "dnsrouter_zone_serials_agree",
                                zone=ORIGIN) == 0, 10, 0.1, "disagreement")
        body = scrape(r.metrics_port)
        assert metric(body, "dnsrouter_zone_serial", zone=ORIGIN,
                      shard="1") == 2024010102, body
        assert metric(body, "dnsrouter_zone_serial", zone=ORIGIN,
                      shard="2") == 2024010101, body
        wait_for(lambda: "serials differ" in r.log(), 5, 0.05, "the warning")
        line = [l for l in r.log().splitlines() if "serials differ" in l][0]
        assert "zone example.nl." in line and "2024010102" in line and \
            "2024010101" in line, line
        # The second shard catches up: they agree again, and say so.
        other = named[1].zones[ORIGIN]
        named[1].reload_zone(ORIGIN, other.replace("2024010101",
                                                   "2024010102"))
        wait_for(lambda: metric(scrape(r.metrics_port),
                                "dnsrouter_zone_serials_agree",
                                zone=ORIGIN) == 1, 10, 0.1, "agreement again")
        wait_for(lambda: "agree again" in r.log(), 5, 0.05, "the info line")
    finally:
        r.stop()
        for n in named:
            n.stop()


def test_a_backend_not_authoritative_for_the_apex_has_no_serial(build_dir,
                                                                tmp_path):
    # The apex route names a backend that does not serve the zone (BIND
    # answers REFUSED): it passes its health check (it answers), but has
    # no serial, and the zone's agreement stays unknown, not agreeing.
    named, routes = shards_of(build_dir, tmp_path, 7, n=1)
    stranger = Named(tmp_path / "stranger", free_port(),
                     {"other.test.": ZONE.replace("example.nl.", "other.test.")
                      % 1}, querylog=False)
    routes.append("127.0.0.1:%d,^example\\.nl\\.$" % stranger.port)
    r = start(build_dir, tmp_path, named + [stranger], routes)
    try:
        wait_for(lambda: metric(scrape(r.metrics_port),
                                "dnsrouter_zone_serial", zone=ORIGIN,
                                shard="1") == 7, 10, 0.1, "shard 1's serial")
        body = scrape(r.metrics_port)
        assert metric(body, "dnsrouter_zone_shards", zone=ORIGIN) == 2
        assert metric(body, "dnsrouter_zone_serials_agree", zone=ORIGIN) == -1
        assert "127.0.0.1:%d" % stranger.port not in \
            [l for l in body.splitlines()
             if l.startswith("dnsrouter_zone_serial{")].__repr__()
        assert metric(body, "dnsrouter_backend_up",
                      backend="127.0.0.1:%d" % stranger.port) == 1
        said = r"shard 2 +127.0.0.1:%d +no serial: SOA query answered " \
            r"REFUSED" % stranger.port
        wait_for(lambda: re.search(said, ctl(build_dir, "status",
                                             conf=r.conf_path).stdout),
                 10, 0.1, "status to tell why the stranger has no serial")
        assert "SOA serials unknown" in ctl(build_dir, "status",
                                            conf=r.conf_path).stdout
    finally:
        r.stop()
        for n in named + [stranger]:
            n.stop()


def test_no_apex_route_no_zone_series(build_dir, tmp_path):
    named, routes = shards_of(build_dir, tmp_path, 1, n=2)
    routes = [l for l in routes if "^example" not in l]
    r = start(build_dir, tmp_path, named, routes)
    try:
        wait_for(lambda: "dnsrouter_backend_up" in scrape(r.metrics_port), 5,
                 0.1, "metrics")
        assert "dnsrouter_zone_" not in scrape(r.metrics_port)
    finally:
        r.stop()
        for n in named:
            n.stop()
