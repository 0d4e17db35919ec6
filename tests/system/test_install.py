"""make install: binaries, libexec children, man pages, example config and
systemd unit in place under PREFIX and DESTDIR; the installed dnsrouter
finds its children in LIBEXECDIR and serves."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO, spec
from dnsenv import free_port, query, wait_for, stop_pid, proc_children


def make(*args, timeout=300):
    cp = subprocess.run(["make", "-C", REPO] + list(args),
                        capture_output=True, text=True, timeout=timeout)
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-3000:]
    return cp


@pytest.fixture
def build_tmp(tmp_path):
    """A build directory of its own: install must not touch the one the
    other tests run from."""
    return str(tmp_path / "build")


def test_install_into_destdir_puts_every_file_in_place(build_tmp, tmp_path):
    dest = str(tmp_path / "dest")
    make("B=" + build_tmp, "PREFIX=/usr", "SYSCONFDIR=/etc", "DESTDIR=" + dest,
         "install")
    files = sorted(os.path.relpath(os.path.join(d, f), dest)
                   for d, _, fs in os.walk(dest) for f in fs)
    assert files == [
        "etc/dnsrouter/dnsrouter.conf.example",
        "usr/lib/systemd/system/dnsrouter.service",
        "usr/libexec/dnsrouter/dnsrouter-controller",
        "usr/libexec/dnsrouter/dnsrouter-router",
        "usr/sbin/dnsrouter",
        "usr/sbin/dnsrouterctl",
        "usr/share/man/man5/dnsrouter.conf.5",
        "usr/share/man/man8/dnsrouter.8",
        "usr/share/man/man8/dnsrouterctl.8",
    ]
    for f in files:
        mode = os.stat(os.path.join(dest, f)).st_mode & 0o777
        assert mode == (0o755 if "bin/" in f or "libexec" in f else 0o644), f
    with open(os.path.join(dest, "usr/lib/systemd/system/dnsrouter.service")) as f:
        unit = f.read()
    assert "ExecStart=/usr/sbin/dnsrouter -d -f /etc/dnsrouter/dnsrouter.conf" \
        in unit
    assert "@" not in unit.replace("multi-user", "")
    # The master looks for its children where they were installed.
    with open(os.path.join(dest, "usr/sbin/dnsrouter"), "rb") as f:
        assert b"/usr/libexec/dnsrouter" in f.read()
    # The example config is one dnsrouter accepts (the dnsrouter user
    # exists on a real install only).
    with open(os.path.join(dest, "etc/dnsrouter/dnsrouter.conf.example")) as f:
        example = f.read()
    assert "\nuser dnsrouter " in example
    conf = tmp_path / "example.conf"
    conf.write_text(example.replace("\nuser dnsrouter ", "\nuser root "))
    cp = subprocess.run([os.path.join(dest, "usr/sbin/dnsrouter"), "-n", "-f",
                         str(conf)], capture_output=True, text=True)
    assert cp.returncode == 0 and "configuration OK" in cp.stdout + cp.stderr
    cp = subprocess.run([os.path.join(dest, "usr/sbin/dnsrouterctl"),
                         "--version"], capture_output=True, text=True)
    assert cp.returncode == 0 and cp.stdout.startswith("dnsrouterctl ")


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_installed_man_pages_render_without_warnings(build_tmp, tmp_path):
    dest = str(tmp_path / "dest")
    make("B=" + build_tmp, "DESTDIR=" + dest, "install")
    mandir = os.path.join(dest, "usr/local/share/man")
    for page in ("man8/dnsrouter.8", "man8/dnsrouterctl.8",
                 "man5/dnsrouter.conf.5"):
        cp = subprocess.run(["man", "--warnings", "-l",
                             os.path.join(mandir, page)],
                            capture_output=True, text=True,
                            env=dict(os.environ, MANWIDTH="80",
                                     MANPAGER="cat", PAGER="cat"))
        assert cp.returncode == 0, cp.stderr
        assert cp.stderr == "", (page, cp.stderr)
        assert "SEE ALSO" in cp.stdout


def test_installed_dnsrouter_runs_its_children_from_libexecdir(
        build_tmp, tmp_path, backend_a):
    prefix = str(tmp_path / "prefix")
    make("B=" + build_tmp, "PREFIX=" + prefix,
         "SYSCONFDIR=" + prefix + "/etc", "install")
    master = os.path.join(prefix, "sbin", "dnsrouter")
    port = free_port()
    rundir = str(tmp_path / "run")
    conf = tmp_path / "dnsrouter.conf"
    routes = tmp_path / "routes"
    routes.write_text("%s,^[ab]\\.miek\n" % spec(backend_a))
    conf.write_text("listen 127.0.0.1:%d\nworkers 1\nuser root\nrundir %s\n"
                    "routes %s\n" % (port, rundir, routes))
    log = open(tmp_path / "log", "wb")
    p = subprocess.Popen([master, "-d", "-f", str(conf)], stdout=log,
                         stderr=log, stdin=subprocess.DEVNULL)
    try:
        def answers():
            try:
                return query(port, "a.miek.nl.", "TXT", timeout=0.3).answer
            except Exception:
                return None
        wait_for(answers, 10, 0.05, "the installed dnsrouter to answer")
        kids = proc_children(p.pid).values()
        libexec = os.path.join(prefix, "libexec", "dnsrouter")
        assert sorted(kids) == sorted([
            os.path.join(libexec, "dnsrouter-controller"),
            os.path.join(libexec, "dnsrouter-router")]), kids
        cp = subprocess.run([os.path.join(prefix, "sbin", "dnsrouterctl"),
                             "-f", str(conf), "status"], capture_output=True,
                            text=True, timeout=10)
        assert cp.returncode == 0 and "^[ab]\\.miek" in cp.stdout
    finally:
        assert stop_pid(p) == 0
        log.close()
