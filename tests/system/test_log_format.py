"""log-format json: every line the master, the controller and the routers
log is one JSON object with time, process, pid, level and message (and
error for a failed call). log-format text stays the default."""

import json
import re

from conftest import spec
from dnsenv import wait_for
import zones

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def records(log):
    out = []
    for line in log.splitlines():
        if not line.strip():
            continue
        out.append(json.loads(line))     # raises on a line that is not JSON
    return out


def test_json_logs_are_one_object_a_line(make_named, make_router):
    n = make_named(zones.zone_ab(), "shard-ab")
    r = make_router(["%s,miek\\.nl\\.$" % spec(n),
                     "# a bad line, logged by the controller as a warning",
                     "not-an-address,^x"],
                    workers=2, extra="log-format json\n")
    r.wait_ready("a.miek.nl.", "TXT", in_a_row=2)
    got = wait_for(lambda: (lambda recs: recs if {
        re.sub(r"#\d+$", "", x["process"]) for x in recs} >= {
        "dnsrouter", "dnsrouter-controller", "dnsrouter-router"} and any(
        x["level"] == "warning" for x in recs) else None)(records(r.log())),
        10, what="JSON lines of all three processes")
    for rec in got:
        assert set(rec) - {"error"} == {"time", "process", "pid", "level",
                                        "message"}, rec
        assert TIME.match(rec["time"]), rec
        assert rec["level"] in ("error", "warning", "info", "debug"), rec
        assert isinstance(rec["pid"], int) and rec["pid"] > 0, rec
    assert any("routes file" in x["message"] for x in got)


def test_text_is_the_default(make_named, make_router):
    n = make_named(zones.zone_ab(), "shard-ab")
    r = make_router(["%s,miek\\.nl\\.$" % spec(n)], workers=1)
    r.wait_ready("a.miek.nl.", "TXT", in_a_row=2)
    first = r.log().splitlines()[0]
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} "
                    r"dnsrouter[\w#-]*\[\d+\]: ", first), first
