"""deploy/docker-compose.yml: valid for docker-compose (Debian's package;
`make check` installs it through mk/deps.sh), and consistent with the
Dockerfiles, configs and shards it names. No container is run: there is
no Docker engine here."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO
from etcdenv import etcd  # noqa: F401

DEPLOY = os.path.join(REPO, "deploy")
COMPOSE = os.path.join(DEPLOY, "docker-compose.yml")


@pytest.fixture(scope="module")
def config():
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is missing: run 'sh mk/deps.sh check' "
                    "as root (Debian package docker-compose)")
    cp = subprocess.run([exe, "-f", COMPOSE, "config"], capture_output=True,
                        text=True, timeout=120, cwd=DEPLOY,
                        env=dict(os.environ, DOCKER_HOST="unix:///nonexistent"))
    assert cp.returncode == 0, cp.stderr
    import yaml  # docker-compose depends on python3-yaml
    return yaml.safe_load(cp.stdout)


def test_compose_file_is_valid_with_the_five_services(config):
    assert sorted(config["services"]) == ["bind-ab", "bind-cd", "dnsrouter",
                                          "etcd", "registrar"]


def test_every_build_names_a_dockerfile_that_uses_debian_packages_only(config):
    for name, svc in config["services"].items():
        if "build" not in svc:
            continue
        ctx = svc["build"]["context"]
        assert os.path.realpath(ctx) == os.path.realpath(REPO), name
        path = os.path.join(ctx, svc["build"]["dockerfile"])
        with open(path) as f:
            text = f.read()
        for image in re.findall(r"^FROM\s+(\S+)", text, re.M):
            assert image.startswith("debian:"), (path, image)
        assert "curl " not in text and "wget" not in text and "pip" not in text
        # Every file it copies from the context exists.
        for src in re.findall(r"^COPY\s+(?!--from)(\S+)", text, re.M):
            if src == ".":
                continue
            src = src.replace("${SHARD}", svc["build"].get("args", {})
                              .get("SHARD", "1"))
            assert os.path.exists(os.path.join(ctx, src)), (path, src)


def test_registrar_registers_the_shards_the_bind_services_serve(config):
    svcs = config["services"]
    ips = {n: list(svcs[n]["networks"].values())[0]["ipv4_address"]
           for n in ("bind-ab", "bind-cd")}
    with open(os.path.join(DEPLOY, "zones", "routes")) as f:
        lines = [l for l in f.read().splitlines() if l and l[0] != "#"]
    addrs = {l.split(",", 1)[0] for l in lines}
    assert addrs == {"%s:53" % ips["bind-ab"], "%s:53" % ips["bind-cd"]}
    assert svcs["bind-ab"]["build"]["args"]["SHARD"] == "1"
    assert svcs["bind-cd"]["build"]["args"]["SHARD"] == "2"
    reg = svcs["registrar"]
    assert reg["image"] == svcs["dnsrouter"]["image"]
    assert reg["environment"]["ETCD_MACHINES"] == "http://etcd:2379"
    assert reg["restart"] == "on-failure"
    with open(os.path.join(DEPLOY, "docker", "dnsrouter.conf")) as f:
        assert "etcd http://etcd:2379" in f.read()


def test_registrar_script_registers_each_line_with_dnsrouterctl(
        build_dir, etcd, tmp_path):
    """deploy/docker/register.sh, run here against a real etcd."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(os.path.join(build_dir, "dnsrouterctl"),
               bindir / "dnsrouterctl")
    env = dict(os.environ, ETCD_MACHINES=etcd.url,
               PATH="%s:%s" % (bindir, os.environ["PATH"]))
    cp = subprocess.run(["sh", os.path.join(DEPLOY, "docker", "register.sh"),
                         os.path.join(DEPLOY, "zones", "routes")], env=env,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    with open(os.path.join(DEPLOY, "zones", "routes")) as f:
        want = sorted(l for l in f.read().splitlines() if l and l[0] != "#")
    assert sorted(etcd.get_prefix("/dnsrouter/").values()) == want


def test_dnsrouter_image_config_is_valid(build_dir, tmp_path):
    with open(os.path.join(DEPLOY, "docker", "dnsrouter.conf")) as f:
        text = f.read()
    conf = tmp_path / "c.conf"
    conf.write_text(text.replace("user dnsrouter", "user root"))
    cp = subprocess.run([os.path.join(build_dir, "dnsrouter"), "-n", "-f",
                         str(conf)], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_dnsrouter_is_published_on_loopback_only_by_default(config):
    ports = config["services"]["dnsrouter"]["ports"]
    assert ports, "dnsrouter publishes no port"
    for p in ports:
        if isinstance(p, dict):
            host_ip = p.get("host_ip")
        else:
            parts = str(p).split(":")
            host_ip = parts[0] if len(parts) == 3 else None
        assert host_ip == "127.0.0.1", p


MULTI = os.path.join(DEPLOY, "docker-compose.multi.yml")


def test_multi_instance_compose_file(config):
    """deploy/docker-compose.multi.yml: valid; three etcd members in one
    cluster, two dnsrouters given all three by ETCD_MACHINES, the shards
    at the addresses the registered routes name, loopback-only ports."""
    import yaml
    cp = subprocess.run([shutil.which("docker-compose"), "-f", MULTI,
                         "config"], capture_output=True, text=True,
                        timeout=120, cwd=DEPLOY,
                        env=dict(os.environ,
                                 DOCKER_HOST="unix:///nonexistent"))
    assert cp.returncode == 0, cp.stderr
    svcs = yaml.safe_load(cp.stdout)["services"]
    assert sorted(svcs) == ["bind-ab", "bind-cd", "dnsrouter-1",
                            "dnsrouter-2", "etcd1", "etcd2", "etcd3",
                            "registrar"]
    members = ["etcd1", "etcd2", "etcd3"]
    machines = ",".join("http://%s:2379" % m for m in members)
    for m in members:
        cmd = svcs[m]["command"]
        cluster = cmd[cmd.index("--initial-cluster") + 1]
        assert sorted(cluster.split(",")) == sorted(
            "%s=http://%s:2380" % (n, n) for n in members)
        assert cmd[cmd.index("--name") + 1] == m
    for n in ("dnsrouter-1", "dnsrouter-2", "registrar"):
        assert svcs[n]["environment"]["ETCD_MACHINES"] == machines, n
    for n in ("bind-ab", "bind-cd"):
        assert svcs[n]["networks"] == config["services"][n]["networks"], n
    hostports = set()
    for n in ("dnsrouter-1", "dnsrouter-2"):
        for p in svcs[n]["ports"]:
            if isinstance(p, dict):
                host_ip, pub = p.get("host_ip"), (p["published"],
                                                  p["protocol"])
            else:
                parts = str(p).split(":")
                host_ip = parts[0] if len(parts) == 3 else None
                pub = (parts[-2], parts[-1].split("/")[-1])
            assert host_ip == "127.0.0.1", (n, p)
            hostports.add(pub)
    assert len(hostports) == 4, hostports      # two ports, UDP and TCP
