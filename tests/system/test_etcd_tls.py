"""The controller speaks to etcd over TLS (issue 3): etcd-cacert verifies
etcd's certificate, etcd-cert and etcd-key are the client certificate etcd
asks for (--client-cert-auth). Real etcd on https://127.0.0.1 with a
throwaway CA made by openssl, real BIND.

Without the client certificate, or trusting a CA that did not sign etcd's
certificate, the controller gets nothing from etcd and says so in its log;
the routes file's routes still work (published once the first listing is
given up on), etcd's route is REFUSED.
"""

import pytest

from conftest import spec
from etcdenv import (Etcd, EtcdTLS, answers, etcd_router,  # noqa: F401
                     wait_answer, wait_logged)


@pytest.fixture
def pki(tmp_path):
    return EtcdTLS(tmp_path / "pki")


@pytest.fixture
def tls_etcd(tmp_path, pki):
    """One etcd member serving clients on https only, wanting a client
    certificate signed by pki's CA; stopped after the test."""
    e = Etcd(tmp_path / "etcd", tls=pki)
    e.start()
    yield e
    e.stop()


def tls_lines(cacert=None, cert=None, key=None):
    return "".join("%s %s\n" % (k, v) for k, v in
                   (("etcd-cacert", cacert), ("etcd-cert", cert),
                    ("etcd-key", key)) if v)


def test_etcd_over_tls_with_client_certificate(backend_a, backend_b, pki,
                                               tls_etcd, etcd_router):
    e = tls_etcd
    assert e.url.startswith("https://")
    # A key there before the controller starts: the listing, over TLS.
    e.ctl("put", "/dnsrouter/a", "%s,^[ab]\\.miek" % spec(backend_a))
    r = etcd_router(e.url, more=tls_lines(pki.ca, pki.client_cert,
                                          pki.client_key))
    wait_logged(r, "etcd: watching %s/dnsrouter/ " % e.url, 0, 2)
    wait_answer(r, "a.miek.nl.", "aa", timeout=5)
    # A key written afterwards, through the JSON gateway over TLS: the
    # watch, over TLS.
    e.put("/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)
    assert answers(r, "a.miek.nl.", 4) == ["aa"] * 4
    errors = [l for l in r.log().splitlines()
              if "etcd: %s: " % e.url in l and "retrying" in l]
    assert not errors, errors


@pytest.mark.parametrize("case", ["no-client-cert", "untrusted-ca"])
def test_etcd_over_tls_refused_without_proper_credentials(
        tmp_path, backend_a, backend_b, pki, tls_etcd, etcd_router, case):
    e = tls_etcd
    e.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
    if case == "no-client-cert":
        more = tls_lines(pki.ca)
    else:       # a client certificate etcd trusts, but another CA for etcd
        other = EtcdTLS(tmp_path / "other-pki", cn="other")
        more = tls_lines(other.ca, pki.client_cert, pki.client_key)
    # The routes file routes a and b: the router works, etcd does not.
    r = etcd_router(e.url, routes=["%s,^[ab]\\.miek" % spec(backend_a)],
                    wait=False, more=more)
    why = wait_logged(r, "; retrying", 0, 10)
    assert "etcd: %s: " % e.url in why, why
    if case == "untrusted-ca":
        assert "certificate" in why, why
    wait_logged(r, "etcd: no listing after", 0, 10)
    wait_answer(r, "a.miek.nl.", "aa", timeout=5)
    wait_answer(r, "c.miek.nl.", "REFUSED", timeout=2)
    assert "etcd: watching" not in r.log()
    # etcd itself is fine: a client with the right credentials gets it
    assert "^c\\.miek" in e.ctl("get", "/dnsrouter/c")


def test_etcd_ca_replaced_then_sighup_is_used_from_the_chroot(
        tmp_path, backend_b, pki, tls_etcd, etcd_router):
    """The controller is chrooted: it read the CA file before, and reads it
    again, through the directory it opened then, on a SIGHUP that leaves
    its settings alone. A CA that does not sign etcd's certificate, then
    the right one put in its place: etcd's routes arrive after the SIGHUP."""
    e = tls_etcd
    e.ctl("put", "/dnsrouter/c", "%s,^c\\.miek" % spec(backend_b))
    other = EtcdTLS(tmp_path / "other-pki", cn="other")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(open(other.ca, "rb").read())
    r = etcd_router(e.url, wait=False,
                    more=tls_lines(str(ca), pki.client_cert, pki.client_key))
    why = wait_logged(r, "; retrying", 0, 10)
    assert "certificate" in why, why
    tmp = tmp_path / "ca.pem.new"
    tmp.write_bytes(open(pki.ca, "rb").read())
    tmp.rename(ca)
    mark = len(r.log())
    r.reload()
    wait_logged(r, "etcd: watching %s/dnsrouter/ " % e.url, mark, 15)
    wait_answer(r, "c.miek.nl.", "cc", timeout=5)
