"""dnsrouterctl against a real etcd and a running dnsrouter (real BIND
backends): add, del, list, status, leases, endpoint failover, --help.

The session backends serve both shards of miek.nl. (zones.py): a.miek.nl.
on A ("aa"), c.miek.nl. on B ("cc"); p.miek.nl. exists on both with a TXT
naming the shard, so an answer tells which backend gave it.
"""

import json
import os
import signal
import struct
import subprocess
import time

import pytest

from conftest import spec
from dnsenv import free_port, wait_for
from etcdenv import (answer, etcd, etcd_router, wait_answer,  # noqa: F401
                     wait_logged)
import nngipc

PREFIX = "/dnsrouter/"


def ctl(build_dir, *args, etcd_url=None, conf=None, check=True, timeout=30):
    """Run dnsrouterctl; returns the CompletedProcess (text)."""
    env = dict(os.environ)
    env.pop("ETCD_MACHINES", None)
    if etcd_url:
        env["ETCD_MACHINES"] = etcd_url
    argv = [os.path.join(build_dir, "dnsrouterctl")]
    if conf:
        argv += ["-f", conf]
    argv += [str(a) for a in args]
    cp = subprocess.run(argv, env=env, capture_output=True, text=True,
                        timeout=timeout, stdin=subprocess.DEVNULL)
    if check and cp.returncode != 0:
        raise AssertionError("dnsrouterctl %s: exit %d\n%s%s"
                             % (" ".join(map(str, args)), cp.returncode,
                                cp.stdout, cp.stderr))
    return cp


def status(build_dir, router):
    return json.loads(ctl(build_dir, "status", "--json",
                          conf=router.conf_path).stdout)


# ------------------------------------------------------------------ add

def test_add_writes_the_2014_value_and_dnsrouter_routes_it(
        build_dir, backend_a, etcd, etcd_router):
    r = etcd_router(etcd.url)
    out = ctl(build_dir, "add", spec(backend_a), r"^[ab]\.miek",
              etcd_url=etcd.url).stdout
    kv = etcd.get_prefix(PREFIX)
    assert list(kv.values()) == ["%s,^[ab]\\.miek" % spec(backend_a)]
    key = list(kv)[0]
    assert key.startswith(PREFIX + spec(backend_a) + "-")
    assert out.split("\t")[0] == key
    wait_answer(r, "a.miek.nl.", "aa", timeout=5)
    # The same backend and regexp again: the same key, still one registration.
    ctl(build_dir, "add", spec(backend_a), r"^[ab]\.miek", etcd_url=etcd.url)
    assert list(etcd.get_prefix(PREFIX)) == [key]


def test_add_with_priority_writes_json_and_the_lower_priority_wins(
        build_dir, backend_a, backend_b, etcd, etcd_router):
    r = etcd_router(etcd.url)
    ctl(build_dir, "add", spec(backend_b), r"^p\.", "--priority", "5",
        etcd_url=etcd.url)
    wait_answer(r, "p.miek.nl.", "p-from-cd", timeout=5)
    ctl(build_dir, "add", spec(backend_a), r"^p\.miek", "--priority", "1",
        etcd_url=etcd.url)
    wait_answer(r, "p.miek.nl.", "p-from-ab", timeout=5)
    values = [json.loads(v) for v in etcd.get_prefix(PREFIX).values()]
    assert {"addr": spec(backend_a), "match": r"^p\.miek",
            "priority": 1} in values
    # Changing the priority rewrites the same key: p goes back to B.
    ctl(build_dir, "add", spec(backend_a), r"^p\.miek", "--priority", "9",
        etcd_url=etcd.url)
    assert len(etcd.get_prefix(PREFIX)) == 2
    wait_answer(r, "p.miek.nl.", "p-from-cd", timeout=5)


def test_add_primary_writes_json_and_status_shows_the_primary(
        build_dir, backend_a, backend_b, etcd, etcd_router):
    r = etcd_router(etcd.url)
    a, b = spec(backend_a), spec(backend_b)
    ctl(build_dir, "add", a, r"^[ab]\.miek", "--primary", etcd_url=etcd.url)
    ctl(build_dir, "add", b, r"^[ab]\.miek", etcd_url=etcd.url)
    values = sorted(etcd.get_prefix(PREFIX).values())
    assert json.loads([v for v in values if v.startswith("{")][0]) == \
        {"addr": a, "match": r"^[ab]\.miek", "primary": True}
    assert "%s,^[ab]\\.miek" % b in values
    wait_for(lambda: len(status(build_dir, r).get("backends", [])) == 2, 5,
             0.1, "both backends in the table")
    st = status(build_dir, r)
    assert {bk["addr"]: bk["primary"] for bk in st["backends"]} == \
        {a: True, b: False}
    text = ctl(build_dir, "status", conf=r.conf_path).stdout
    assert "%-24s up, primary" % a in text
    assert "%-24s up\n" % b in text


@pytest.mark.parametrize("addr,regexp,why", [
    ("127.0.0.1", r"^a\.", "needs a port"),
    ("host.example:53", r"^a\.", "address"),
    ("127.0.0.1:53", "(", "does not compile"),
])
def test_add_refuses_what_dnsrouter_would_skip_and_writes_nothing(
        build_dir, etcd, addr, regexp, why):
    cp = ctl(build_dir, "add", addr, regexp, etcd_url=etcd.url, check=False)
    assert cp.returncode == 1
    assert why in cp.stderr
    assert etcd.get_prefix(PREFIX) == {}


def test_add_tries_the_next_endpoint_when_one_is_down(build_dir, etcd):
    dead = "http://127.0.0.1:%d" % free_port()
    ctl(build_dir, "add", "127.0.0.1:5300", r"^x\.", etcd_url=dead + ","
        + etcd.url)
    assert list(etcd.get_prefix(PREFIX).values()) == ["127.0.0.1:5300,^x\\."]
    cp = ctl(build_dir, "list", etcd_url=dead, check=False)
    assert cp.returncode == 1
    assert "127.0.0.1" in cp.stderr


def test_etcd_endpoints_and_prefix_come_from_the_config_file(
        build_dir, etcd, tmp_path):
    conf = tmp_path / "dnsrouter.conf"
    conf.write_text("etcd %s\netcd-prefix /shards/\n" % etcd.url)
    ctl(build_dir, "add", "127.0.0.1:5300", r"^x\.", conf=str(conf))
    assert list(etcd.get_prefix("/shards/").values()) == \
        ["127.0.0.1:5300,^x\\."]
    assert etcd.get_prefix(PREFIX) == {}
    # A config file named with -f must exist.
    cp = ctl(build_dir, "list", conf=str(tmp_path / "missing.conf"),
             check=False)
    assert cp.returncode == 1 and "missing.conf" in cp.stderr


# ---------------------------------------------------------------- --ttl

def test_ttl_registration_lives_while_ctl_runs_and_goes_on_sigterm(
        build_dir, backend_a, etcd, etcd_router):
    r = etcd_router(etcd.url)
    env = dict(os.environ, ETCD_MACHINES=etcd.url)
    p = subprocess.Popen([os.path.join(build_dir, "dnsrouterctl"), "add",
                          spec(backend_a), r"^a\.miek", "--ttl", "2"],
                         env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        wait_answer(r, "a.miek.nl.", "aa", timeout=5)
        # Well past the TTL, the keepalives hold it.
        t0 = time.monotonic()
        while time.monotonic() - t0 < 4.5:
            assert answer(r.port, "a.miek.nl.") == "aa"
            time.sleep(0.25)
        assert len(etcd.get_prefix(PREFIX)) == 1
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "lease" in out
    # Revoked: gone at once, not after the TTL.
    assert etcd.get_prefix(PREFIX) == {}
    wait_answer(r, "a.miek.nl.", "REFUSED", timeout=2)


def test_ttl_registrant_that_dies_disappears(build_dir, backend_a, etcd,
                                             etcd_router):
    r = etcd_router(etcd.url)
    env = dict(os.environ, ETCD_MACHINES=etcd.url)
    p = subprocess.Popen([os.path.join(build_dir, "dnsrouterctl"), "add",
                          spec(backend_a), r"^a\.miek", "--ttl", "2"],
                         env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        wait_answer(r, "a.miek.nl.", "aa", timeout=5)
    finally:
        p.kill()
        p.wait()
    # No more keepalives: the lease expires and the route goes with it.
    wait_for(lambda: etcd.get_prefix(PREFIX) == {}, 8, 0.1,
             "the lease to expire")
    wait_answer(r, "a.miek.nl.", "REFUSED", timeout=3)


# ------------------------------------------------------------ del, list

def test_del_removes_the_matching_registrations_only(
        build_dir, backend_a, backend_b, etcd, etcd_router):
    r = etcd_router(etcd.url)
    a, b = spec(backend_a), spec(backend_b)
    for addr, regexp in ((a, r"^a\.miek"), (a, r"^b\.miek"),
                         (b, r"^c\.miek")):
        ctl(build_dir, "add", addr, regexp, etcd_url=etcd.url)
    # A registration written by someone else, with a value dnsrouter skips.
    etcd.put(PREFIX + "by-hand", "%s,(" % a)
    wait_answer(r, "b.miek.nl.", "bb", timeout=5)

    out = ctl(build_dir, "del", a, r"^b\.miek", etcd_url=etcd.url).stdout
    assert out.count("deleted ") == 1
    wait_answer(r, "b.miek.nl.", "REFUSED", timeout=5)
    assert answer(r.port, "a.miek.nl.") == "aa"

    out = ctl(build_dir, "del", a, etcd_url=etcd.url).stdout
    assert out.count("deleted ") == 2 and PREFIX + "by-hand" in out
    wait_answer(r, "a.miek.nl.", "REFUSED", timeout=5)
    assert list(etcd.get_prefix(PREFIX).values()) == ["%s,^c\\.miek" % b]
    assert answer(r.port, "c.miek.nl.") == "cc"

    cp = ctl(build_dir, "del", a, etcd_url=etcd.url, check=False)
    assert cp.returncode == 1 and "no registration" in cp.stderr


def test_list_shows_every_key_with_value_lease_and_bad_values(
        build_dir, etcd):
    ctl(build_dir, "add", "127.0.0.1:5300", r"^[ab]\.miek", etcd_url=etcd.url)
    etcd.put(PREFIX + "bad", "not-an-address,^x")
    lease = etcd.lease_grant(60)
    etcd.ctl("put", "--lease=" + lease, PREFIX + "leased",
             "127.0.0.1:5301,^c")
    lines = ctl(build_dir, "list", etcd_url=etcd.url).stdout.splitlines()
    assert len(lines) == 3
    by_key = {l.split("\t")[0]: l.split("\t")[1:] for l in lines}
    assert by_key[PREFIX + "bad"][0] == "not-an-address,^x"
    assert by_key[PREFIX + "bad"][1].startswith("# bad: ")
    assert by_key[PREFIX + "leased"][0] == "127.0.0.1:5301,^c"
    assert int(by_key[PREFIX + "leased"][1].split()[-1], 16) == \
        int(lease, 16)
    added = [k for k in by_key if k.startswith(PREFIX + "127.0.0.1:5300-")]
    assert by_key[added[0]] == ["127.0.0.1:5300,^[ab]\\.miek"]


# --------------------------------------------------------------- status

def test_status_shows_routes_in_order_health_generation_and_etcd(
        build_dir, backend_a, backend_b, make_named, etcd, etcd_router):
    import zones
    dead = make_named(zones.zone_with("x", ['x IN TXT "x"']), "shard-x")
    r = etcd_router(etcd.url)
    a, b, x = spec(backend_a), spec(backend_b), spec(dead)
    ctl(build_dir, "add", a, r"^[ab]\.miek", etcd_url=etcd.url)
    ctl(build_dir, "add", b, r"^c\.miek", "--priority", "-1",
        etcd_url=etcd.url)
    ctl(build_dir, "add", x, r"^miek", etcd_url=etcd.url)
    ctl(build_dir, "add", a, r"^miek", etcd_url=etcd.url)
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)
    st = status(build_dir, r)
    assert st["etcd"]["configured"] and st["etcd"]["connected"]
    assert st["etcd"]["endpoint"] == etcd.url
    assert st["etcd"]["revision"] == etcd.revision()
    assert [(rt["match"], rt["priority"], rt["backends"])
            for rt in st["routes"]] == [
        (r"^c\.miek", -1, [b]),
        (r"^[ab]\.miek", 0, [a]),
        (r"^miek", 0, [x, a]),
    ]
    assert {bk["addr"]: bk["up"] for bk in st["backends"]} == \
        {a: True, b: True, x: True}
    gen = st["generation"]

    # A backend that stops answering is shown down, in a newer table.
    dead.stop()
    wait_for(lambda: {bk["addr"]: bk["up"] for bk in
                      status(build_dir, r)["backends"]}[x] is False,
             10, 0.1, "status to show %s down" % x)
    st2 = status(build_dir, r)
    assert st2["generation"] > gen and st2["epoch"] == st["epoch"]

    text = ctl(build_dir, "status", conf=r.conf_path).stdout
    assert "generation %d" % st2["generation"] in text
    assert "etcd: %s watching, revision" % etcd.url in text
    assert "%-24s %s" % (x, "down") in text
    assert text.index(r"^c\.miek") < text.index(r"^[ab]\.miek") \
        < text.index(r"^miek")


def test_status_without_etcd_and_with_etcd_down(build_dir, backend_a, etcd,
                                                etcd_router, make_router):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)])
    r.wait_ready("a.miek.nl.", "TXT")
    st = status(build_dir, r)
    assert st["etcd"]["configured"] is False
    assert [rt["match"] for rt in st["routes"]] == [r"^[ab]\.miek"]

    r2 = etcd_router(etcd.url)
    etcd.stop()
    wait_for(lambda: not status(build_dir, r2)["etcd"]["connected"], 10,
             0.1, "status to show etcd disconnected")


def test_status_when_dnsrouter_is_not_running_says_so(build_dir, tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("rundir %s\n" % tmp_path)
    cp = ctl(build_dir, "status", conf=str(conf), check=False)
    assert cp.returncode == 1
    assert "cannot reach the controller" in cp.stderr
    assert str(tmp_path / "controller" / "control.ipc") in cp.stderr


def _hdr(version, mtype, length):
    return struct.pack("!IHHII", 0x444e5352, version, mtype, length, 0)


def test_status_names_a_controller_of_another_protocol_version(
        build_dir, tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("rundir %s\n" % tmp_path)
    # A controller from before the status messages (protocol version 1).
    (tmp_path / "controller").mkdir()
    with nngipc.FakeRep(str(tmp_path / "controller" / "control.ipc"),
                        lambda body: _hdr(1, 5, 16)) as fake:
        cp = ctl(build_dir, "status", conf=str(conf), check=False)
    assert cp.returncode == 1
    assert "protocol version 1" in cp.stderr
    assert "this dnsrouterctl %d" % nngipc.PROTO_VERSION in cp.stderr
    assert len(fake.requests) == 1 and len(fake.requests[0]) == 16


def test_controller_answers_a_request_of_another_version_with_an_error(
        build_dir, backend_a, make_router):
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)])
    r.wait_ready("a.miek.nl.", "TXT")
    path = os.path.join(r.epdir, "control.ipc")
    reply = nngipc.request(path, _hdr(1, 4, 16))
    magic, version, mtype, length, _ = struct.unpack("!IHHII", reply[:16])
    assert (magic, mtype, length) == (0x444e5352, 6, len(reply))
    assert b"protocol version mismatch" in reply[16:]
    # Garbage gets an error too; the endpoint keeps serving.
    assert struct.unpack("!H", nngipc.request(path, b"junk")[6:8])[0] == 6
    assert status(build_dir, r)["routes"][0]["match"] == r"^[ab]\.miek"


# ----------------------------------------------------------------- usage

@pytest.mark.parametrize("cmd", ["add", "del", "list", "status", "split"])
def test_every_subcommand_has_help(build_dir, cmd):
    cp = ctl(build_dir, cmd, "--help")
    assert cp.stdout.startswith("usage: dnsrouterctl %s" % cmd)


def test_usage_errors_exit_2(build_dir):
    assert ctl(build_dir, check=False).returncode == 2
    cp = ctl(build_dir, "frobnicate", check=False)
    assert cp.returncode == 2 and "unknown command" in cp.stderr
    assert ctl(build_dir, "add", "127.0.0.1:53", check=False).returncode == 2
    assert ctl(build_dir, "add", "127.0.0.1:53", "x", "--ttl", "0",
               check=False).returncode == 2
    assert ctl(build_dir, "list", "extra", check=False).returncode == 2
    cp = ctl(build_dir, "--version")
    assert cp.stdout.startswith("dnsrouterctl ")
    cp = ctl(build_dir, "--help")
    assert "split ZONEFILE --shards N" in cp.stdout


def test_without_any_etcd_endpoint_it_says_how_to_give_one(build_dir,
                                                           tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("workers 1\n")
    cp = ctl(build_dir, "list", conf=str(conf), check=False)
    assert cp.returncode == 1 and "ETCD_MACHINES" in cp.stderr
