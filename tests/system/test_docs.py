"""Every key the config parser accepts is documented in dnsrouter.conf(5)
and docs/configuration.md, and the example config parses."""

import os
import re
import subprocess

from conftest import REPO


def parser_keys():
    """The names in config.c's table of keys (static ... keys[] = {...};)."""
    src = open(os.path.join(REPO, "common", "config.c")).read()
    table = re.search(r"config_key keys\[\] = \{(.*?)\n\};", src, re.S).group(1)
    keys = set(re.findall(r'^\s*\{ "([a-z0-9-]+)",', table, re.M))
    assert "listen" in keys and "tcp-clients" in keys, keys
    return keys


def test_every_key_is_in_the_man_page_and_the_docs():
    man = open(os.path.join(REPO, "docs", "dnsrouter.conf.5")).read()
    man = man.replace("\\-", "-")
    md = open(os.path.join(REPO, "docs", "configuration.md")).read()
    missing = [k for k in sorted(parser_keys())
               if not re.search(r"^\.B[IR]? .*(?<![a-z0-9-])%s(?![a-z0-9-])" % re.escape(k), man, re.M)
               or "`%s" % k not in md]
    assert not missing, "undocumented keys: %s" % missing


def test_example_config_parses(build_dir, tmp_path):
    ex = open(os.path.join(REPO, "deploy", "dnsrouter.conf.example")).read()
    # uncomment every example line: each must be a valid key and value
    lines = [re.sub(r"^#(?=[a-z])", "", l) for l in ex.splitlines()]
    lines = [l for l in lines if not l.startswith("routes ")
             and not l.startswith("#listen")]
    # the example's users need not exist on this machine
    lines = [l.split()[0] + " root" if l.startswith(("user ", "router-user "))
             else l for l in lines]
    p = tmp_path / "example.conf"
    p.write_text("\n".join(lines) + "\n")
    cp = subprocess.run([os.path.join(build_dir, "dnsrouter"), "-n", "-f",
                         str(p)], capture_output=True, text=True, timeout=10)
    assert cp.returncode == 0, cp.stdout + cp.stderr
