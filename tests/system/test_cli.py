"""The command line: -n, --help, --version, DNS_ADDR."""

import os
import socket
import subprocess

import pytest

import dns.rcode

from conftest import spec
from dnsenv import free_port, query
from helpers import txts


def run(build_dir, *args, env=None, timeout=10):
    e = dict(os.environ)
    e.pop("DNS_ADDR", None)
    e.pop("ETCD_MACHINES", None)
    e.update(env or {})
    binary = os.path.join(build_dir, "dnsrouter")
    assert os.access(binary, os.X_OK), "%s not built" % binary
    p = subprocess.run([binary] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=e, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def write_conf(tmp_path, lines, name="dnsrouter.conf"):
    routes = tmp_path / "routes"
    routes.write_text("127.0.0.1:5300,^[ab]\\.miek\n")
    p = tmp_path / name
    p.write_text("".join(l.replace("@ROUTES@", str(routes)) + "\n"
                         for l in lines))
    return str(p)


GOOD = ["# a comment", "listen 127.0.0.1:5299", "workers 2", "user root",
        "rundir /tmp/drcli", "routes @ROUTES@", "timeout 500ms",
        "health-interval 5s", "health-query id.server. CH TXT",
        "allow-query 127.0.0.0/8 ::1", "allow-query 192.0.2.0/24",
        "allow-transfer none", "acl-drop no", "tcp-clients 512",
        "tcp-clients-per-ip 8", "tcp-initial-timeout 3s",
        "tcp-idle-timeout 10s", "rrl-responses-per-second 10",
        "rrl-window 5", "rrl-slip 2", "rrl-exempt 10.0.0.0/8",
        "rrl-log-only no"]


def test_check_good_config(build_dir, tmp_path):
    rc, out = run(build_dir, "-n", "-f", write_conf(tmp_path, GOOD))
    assert rc == 0, out
    assert "configuration OK" in out


@pytest.mark.parametrize("bad,line,why", [
    ("frobnicate yes", 4, "unknown key"),
    ("workers 0", 4, "workers"),
    ("timeout soon", 4, "timeout"),
    ("listen 127.0.0.1:99999", 4, "listen"),
    ("rundir relative/dir", 4, "rundir"),
    ("allow-query 10.0.0.1/8", 4, "bits set beyond the prefix"),
    ("allow-query 10.0.0.0/33", 4, "prefix length"),
    ("allow-transfer example.com", 4, "not an IPv4 or IPv6 address"),
    ("rrl-exempt 127.0.0.0/8 any", 4, "stand alone"),
    ("acl-drop maybe", 4, "yes or no"),
    ("tcp-clients 0", 4, "tcp-clients"),
    ("tcp-initial-timeout 5", 4, "duration"),
    ("rrl-slip 11", 4, "rrl-slip"),
    ("rrl-ipv4-prefix-length 33", 4, "0 to 32"),
])
def test_check_bad_config_names_file_and_line(build_dir, tmp_path, bad,
                                              line, why):
    lines = GOOD[:3] + [bad] + GOOD[3:]
    conf = write_conf(tmp_path, lines)
    rc, out = run(build_dir, "-n", "-f", conf)
    assert rc == 1, out
    assert "%s:%d:" % (conf, line) in out, out
    assert why in out, out
    assert "configuration OK" not in out


def test_missing_config_file(build_dir, tmp_path):
    missing = str(tmp_path / "nonexistent.conf")
    rc, out = run(build_dir, "-n", "-f", missing)
    assert rc == 1, out
    assert missing in out


def test_daemon_refuses_to_start_with_bad_config(build_dir, tmp_path):
    conf = write_conf(tmp_path, GOOD + ["nonsense 1"])
    rc, out = run(build_dir, "-d", "-f", conf)
    assert rc == 1, out
    assert "%s:%d:" % (conf, len(GOOD) + 1) in out, out


def test_help(build_dir):
    rc, out = run(build_dir, "--help")
    assert rc == 0, out
    assert "-f" in out and "-n" in out and "-d" in out


def test_version(build_dir):
    rc, out = run(build_dir, "--version")
    assert rc == 0, out
    assert "dnsrouter" in out
    assert any(c.isdigit() for c in out)


def test_unknown_option_fails(build_dir):
    rc, out = run(build_dir, "--no-such-option")
    assert rc != 0
    assert out.strip()


def test_dns_addr_overrides_listen(make_router, backend_a):
    config_port, env_port = free_port(), free_port()
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)],
                    listen_port=config_port,
                    env={"DNS_ADDR": "127.0.0.1:%d" % env_port})
    r.port = env_port
    r.wait_ready("a.miek.nl.", "TXT")
    assert txts(query(env_port, "b.miek.nl.", "TXT")) == ["bb"]
    # nothing on the port of the config file
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", config_port), 1).close()


def test_bad_dns_addr_is_an_error(build_dir, tmp_path):
    rc, out = run(build_dir, "-n", "-f", write_conf(tmp_path, GOOD),
                  env={"DNS_ADDR": "not-an-address"})
    assert rc == 1, out
    assert "DNS_ADDR" in out


def test_second_dnsrouter_on_the_same_rundir_refuses(build_dir, tmp_path,
                                                      make_router, backend_a):
    """Without -d there is no pidfile; the run directory's lock keeps a
    second dnsrouter (another port, same rundir) from removing the first
    one's nng endpoints, which restarted routers would need."""
    r = make_router(["%s,^[ab]\\.miek" % spec(backend_a)])
    r.wait_ready("a.miek.nl.", "TXT")
    endpoints = sorted(f for f in os.listdir(r.epdir) if f.endswith(".ipc"))
    assert endpoints
    conf = tmp_path / "second.conf"
    conf.write_text(r.config_text().replace(
        "listen 127.0.0.1:%d" % r.port, "listen 127.0.0.1:%d" % free_port()))
    assert "rundir %s" % r.rundir in conf.read_text()
    cp = subprocess.run([os.path.join(build_dir, "dnsrouter"), "-d", "-f",
                         str(conf)], capture_output=True, text=True,
                        timeout=10)
    assert cp.returncode != 0
    assert "in use by another dnsrouter" in cp.stderr, cp.stderr
    assert sorted(f for f in os.listdir(r.epdir)
                  if f.endswith(".ipc")) == endpoints
    assert query(r.port, "a.miek.nl.", "TXT").rcode() == dns.rcode.NOERROR
