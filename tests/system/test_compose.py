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
