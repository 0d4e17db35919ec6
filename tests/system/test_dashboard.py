"""deploy/grafana/dnsrouter.json, the Grafana dashboard: every metric its
queries use is one dnsrouter exports (scraped from a running dnsrouter
with a BIND backend, after a query, so the backend and route families are
there too), every panel has a query and a unique id, and the $instance
variable is used, so one dashboard serves several dnsrouters."""

import json
import os
import re

from dnsenv import query, wait_for
from test_metrics import http_get, parse
from test_probes import with_metrics

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "dnsrouter.json")
METRIC_RE = re.compile(r"\bdnsrouter_[a-z_]+\b")
SUFFIXES = ("_bucket", "_sum", "_count")


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def exprs(d):
    """(panel title, expression) of every query in the dashboard."""
    out = []
    for p in d["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    for v in d["templating"]["list"]:
        if v.get("type") == "query":
            out.append(("variable " + v["name"], v["definition"]))
    return out


def family(name, types):
    """The exported family a series name belongs to (histogram parts)."""
    if name in types:
        return name
    for s in SUFFIXES:
        if name.endswith(s) and name[:-len(s)] in types:
            return name[:-len(s)]
    return None


def test_the_dashboard_is_well_formed():
    d = dashboard()
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    graphs = [p for p in d["panels"] if p["type"] != "row"]
    assert graphs
    for p in graphs:
        assert p["targets"], "panel %r has no query" % p["title"]
        for t in p["targets"]:
            assert METRIC_RE.search(t["expr"]), (p["title"], t["expr"])
            assert '$instance' in t["expr"], \
                "panel %r ignores $instance: %s" % (p["title"], t["expr"])
    names = [v["name"] for v in d["templating"]["list"]]
    assert "instance" in names and "DS_PROMETHEUS" in names


def test_every_metric_the_dashboard_queries_is_exported(make_named,
                                                        make_router):
    r, mport = with_metrics(make_named, make_router, extra="cache-size 10\n")
    query(r.port, "a.miek.nl.", "TXT")

    def scraped():
        samples, types, _ = parse(http_get(mport)[2])
        # The backend and route families appear once the reports are in.
        if "dnsrouter_route_queries_total" in types and \
                "dnsrouter_backend_response_seconds" in types:
            return types
        return None
    types = wait_for(scraped, timeout=10, what="backend and route series")
    missing = []
    used = set()
    for title, e in exprs(dashboard()):
        for name in METRIC_RE.findall(e):
            used.add(name)
            if family(name, types) is None:
                missing.append("%s (%s)" % (name, title))
    assert not missing, "queried but not exported: %s" % ", ".join(missing)
    # And the other way: what dnsrouter exports and the dashboard leaves
    # out, apart from what only makes sense scraped by hand.
    unshown = sorted(f for f in types if f.startswith("dnsrouter_") and
                     not any(family(u, types) == f for u in used))
    assert unshown == [], "exported but on no panel: %s" % unshown
