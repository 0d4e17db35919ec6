"""Fixtures for dnsrouter's system tests: real BIND backends, real dnsrouter.

Session-wide (never paused or stopped by a test):
  backend_a   BIND serving shard "ab" of miek.nl. (zones.zone_ab)
  backend_b   BIND serving shard "cd" (zones.zone_cd)
  router      dnsrouter with zones.standard_routes(A, B), 2 workers, ready
Per test:
  make_named(zone_text, server_id)  a fresh BIND (a test may pause it)
  make_router(routes, **kw)         a fresh dnsrouter, started (not waited);
                                    workdir=... puts it elsewhere
  public_tmp                        a world-readable directory under /tmp
  build_dir                         $DNSROUTER_BUILD or <repo>/build

Every process is stopped by PID in teardown, pass or fail; a failing test
gets the tail of each of its dnsrouter logs printed.
"""

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dnsenv  # noqa: E402
import zones  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@pytest.fixture(scope="session")
def build_dir():
    d = os.environ.get("DNSROUTER_BUILD") or os.path.join(REPO, "build")
    return os.path.abspath(d)


@pytest.fixture(scope="session")
def backend_a(tmp_path_factory):
    n = dnsenv.Named(tmp_path_factory.mktemp("named-ab"), dnsenv.free_port(),
                     {zones.ORIGIN: zones.zone_ab()}, server_id="shard-ab")
    n.start()
    yield n
    n.stop()


@pytest.fixture(scope="session")
def backend_b(tmp_path_factory):
    n = dnsenv.Named(tmp_path_factory.mktemp("named-cd"), dnsenv.free_port(),
                     {zones.ORIGIN: zones.zone_cd()}, server_id="shard-cd")
    n.start()
    yield n
    n.stop()


def spec(n):
    """"ip:port" of a Named (or anything with addr and port)."""
    if ":" in n.addr:
        return "[%s]:%d" % (n.addr, n.port)
    return "%s:%d" % (n.addr, n.port)


@pytest.fixture(scope="session")
def router(build_dir, backend_a, backend_b, tmp_path_factory):
    r = dnsenv.Dnsrouter(build_dir, tmp_path_factory.mktemp("router"),
                         dnsenv.free_port(),
                         zones.standard_routes(spec(backend_a),
                                               spec(backend_b)))
    r.start()
    try:
        r.wait_ready("a.miek.nl.", "TXT")
        yield r
    finally:
        log = r.log()
        try:
            r.stop()
        except dnsenv.ProcessError:
            print(log[-4000:])
            raise


@pytest.fixture
def make_named(tmp_path):
    made = []

    def make(zone_text, server_id, addr="127.0.0.1", origin=zones.ORIGIN):
        n = dnsenv.Named(tmp_path / ("named%d" % len(made)),
                         dnsenv.free_port(addr), {origin: zone_text},
                         addr=addr, server_id=server_id)
        made.append(n)
        n.start()
        return n
    yield make
    for n in made:
        n.stop()


@pytest.fixture
def public_tmp():
    """A fresh directory under /tmp that every user can read and traverse
    (tmp_path's parents are 0700: an unprivileged controller could not read
    a routes file there). Removed afterwards."""
    d = tempfile.mkdtemp(prefix="drpub", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def make_router(build_dir, tmp_path, request):
    made = []

    def make(routes, **kw):
        port = kw.pop("listen_port", None)
        workdir = kw.pop("workdir", None)
        addr = kw.get("listen_addr", "127.0.0.1")
        r = dnsenv.Dnsrouter(build_dir,
                             workdir or tmp_path / ("router%d" % len(made)),
                             port or dnsenv.free_port(addr), routes, **kw)
        made.append(r)
        r.start()
        return r
    yield make
    errors = []
    for r in made:
        try:
            r.stop()
        except dnsenv.ProcessError as e:
            errors.append(str(e))
        if _failed(request):
            print("--- %s (tail):\n%s" % (r.stderr_path, r.log()[-4000:]))
    if errors:
        raise dnsenv.ProcessError("\n".join(errors))
