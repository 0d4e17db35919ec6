"""Real etcd v3 processes on loopback, for dnsrouter's system tests and
benchmarks.

Every member runs in the foreground with its own data directory under a
directory the caller owns, on ports from dnsenv.free_port(), and is stopped
by PID: never by name. Nothing here sleeps to synchronise: every wait polls
and is bounded.

    from etcdenv import Etcd, EtcdCluster

    e = Etcd(workdir).start()         # returns once a range answers
    e.ctl("put", "/dnsrouter/a", "127.0.0.1:5300,^[ab]\\.miek")
    e.put("/dnsrouter/c", "...")      # JSON gateway, no etcdctl process
    e.pause(); e.resume()             # SIGSTOP / SIGCONT
    e.stop(); e.start()               # same data dir, same ports
    e.kill()                          # SIGKILL

    t = EtcdTLS(certdir)              # throwaway CA, server, client certs
    e = Etcd(workdir, tls=t).start()  # https://, client certs required
    e.ctl("get", "/dnsrouter/")       # etcdctl with t's CA and client cert

    c = EtcdCluster(workdir, 3).start()   # three members, one cluster
    c.urls()                              # client URLs
    c.members[1].kill()

API
  Etcd(workdir, name, client_port, peer_port, initial_cluster, ...,
       tls=None)              tls: an EtcdTLS; the client URL is https://
                              and etcd wants a client certificate
    .url                      client URL, http(s)://127.0.0.1:PORT
    .start(timeout, wait)     run etcd; wait for a range to answer
    .wait_ready(timeout)      poll a linearizable range, bounded
    .stop(timeout)            SIGTERM, bounded wait, then SIGKILL
    .kill()                   SIGKILL and reap
    .pause() / .resume()      SIGSTOP / SIGCONT (and wait for the state)
    .ctl(*args, user=None)    etcdctl (ETCDCTL_API=3) against this member
    .auth_user                "root:pw" once auth is on: ctl and readiness
                              log in with it
    .api(path, body)          one JSON gateway call, the decoded reply
    .put/.get_prefix/.delete/.revision   over the gateway
    .compact(rev)             etcdctl compact (default: current revision)
    .lease_grant(ttl)         etcdctl lease grant; the ID for put --lease
    .log()                    etcd's stderr so far
  EtcdCluster(workdir, n)     n members on loopback, --initial-cluster of all
    .urls() .member(url) .alive() .ctl(...) .start() .stop()
  etcdctl(endpoints, *args, tls=None)   etcdctl against any endpoints
  etcd_client(url, tls=None)  EtcdClient: keep-alive JSON gateway client
                              (put, put_many in txns, delete, login, ...)
  EtcdTLS(dir)                openssl-made CA, server certificate for
                              127.0.0.1 and client certificate in dir
    .ca .server_cert .server_key .client_cert .client_key   file paths
    .etcd_args() .ctl_args() .ssl_context()   for etcd, etcdctl, Python
  b64(s) / unb64(s)           the gateway's base64 for keys and values

dnsrouter with etcd (the DNS side)
  answer(port, name)          one query summed up: TXT strings joined by
                              ",", or the rcode's name, or "timeout"
  answers(router, name, n)    n of them, fresh sockets
  wait_answer(router, name, want, in_a_row=8)   bounded poll for a streak
  wait_all_seen(router, name, wants)   round robin: each of wants answers
  log_mark / wait_logged(router, text, mark)    the router's log after mark
  controller_pid(router)      the dnsrouter-controller among its children
  controller_cut_off(router, etcd, restart_etcd=False)   context manager:
                              controller SIGSTOPped for the block (and etcd
                              restarted at its start, if asked)
  QueryLoop(port, name, want) context manager: a query thread; .ok, .bad
  etcd_extra(urls, ...)       config lines for Dnsrouter(extra=...)

pytest fixtures (import them into the test module by name)
  etcd           a fresh single-member etcd, stopped after the test
  etcd_cluster   three members
  etcd_router    make(urls, routes=(), health=..., more="", env=..., ...):
                 make_router with etcd lines, returned once the controller
                 logs "etcd: watching"
"""

import base64
import http.client
import json
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse

from dnsenv import ProcessError, free_port, pid_alive, stop_pid, wait_for

__all__ = ["Etcd", "EtcdCluster", "EtcdClient", "etcd_client", "b64",
           "unb64", "prefix_end", "ETCD", "ETCDCTL", "etcdctl", "wait_log",
           "pids_alive", "controller_pid", "answer", "wait_answer",
           "wait_all_seen", "answers", "log_mark", "log_since", "wait_logged",
           "etcd_extra", "controller_cut_off", "QueryLoop", "EtcdTLS"]

ETCD = "/usr/bin/etcd"
ETCDCTL = "/usr/bin/etcdctl"


def b64(s):
    """str or bytes -> base64 text, as the JSON gateway wants keys/values."""
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode("ascii")


def unb64(s):
    return base64.b64decode(s).decode("utf-8", "replace")


def prefix_end(prefix):
    """The range end of a prefix: its last byte plus one."""
    p = prefix.encode() if isinstance(prefix, str) else prefix
    return p[:-1] + bytes([p[-1] + 1])


def etcdctl(endpoints, *args, user=None, timeout=10.0, check=True,
            input=None, tls=None):
    """Run etcdctl (v3 API) against endpoints (a URL or a list of them);
    with tls (an EtcdTLS), it trusts tls's CA and shows its client cert.

    Returns the CompletedProcess (text). With check, raises ProcessError on
    a non-zero exit, with its output."""
    if not isinstance(endpoints, str):
        endpoints = ",".join(endpoints)
    env = dict(os.environ)
    env["ETCDCTL_API"] = "3"
    for k in ("ETCDCTL_ENDPOINTS", "ETCDCTL_USER", "ETCDCTL_PASSWORD"):
        env.pop(k, None)
    argv = [ETCDCTL, "--endpoints=" + endpoints, "--dial-timeout=2s",
            "--command-timeout=%ds" % max(1, int(timeout))]
    if user:
        argv.append("--user=" + user)
    if tls is not None:
        argv += tls.ctl_args()
    args = [str(a) for a in args]
    argv += args
    try:
        cp = subprocess.run(argv, env=env, capture_output=True, text=True,
                            timeout=timeout + 5, input=input,
                            stdin=None if input is not None
                            else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ProcessError("etcdctl %s: no result in %.0fs"
                           % (" ".join(args), timeout + 5)) from None
    if check and cp.returncode != 0:
        raise ProcessError("etcdctl %s: exit %d\n%s%s"
                           % (" ".join(args), cp.returncode, cp.stdout,
                              cp.stderr))
    return cp


class EtcdClient:
    """A JSON gateway client over one keep-alive HTTP connection (for
    bursts: no process or TCP handshake per request). Not thread-safe."""

    def __init__(self, url, timeout=5.0, token=None, tls=None):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 2379
        self.timeout = timeout
        self.token = token
        self.conn = None
        # https: verify etcd with tls's CA, show tls's client certificate
        self.context = None
        if u.scheme == "https":
            self.context = (tls.ssl_context() if tls is not None
                            else ssl.create_default_context())

    def _connect(self):
        if self.context is not None:
            return http.client.HTTPSConnection(self.host, self.port,
                                               timeout=self.timeout,
                                               context=self.context)
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.timeout)

    def call(self, path, body):
        data = json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"}
        if self.token:
            hdrs["Authorization"] = self.token
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = self._connect()
            try:
                self.conn.request("POST", path, data, hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
                continue
            if resp.status != 200:
                raise ProcessError("etcd %s: HTTP %d: %s"
                                   % (path, resp.status, raw[:300]))
            return json.loads(raw)

    def login(self, user):
        """Authenticate as "name:password"; later calls carry the token."""
        name, _, pw = user.partition(":")
        self.token = None
        self.token = self.call("/v3/auth/authenticate",
                               {"name": name, "password": pw})["token"]

    def put(self, key, value, lease=None):
        body = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = str(lease)
        return int(self.call("/v3/kv/put", body)["header"]["revision"])

    def put_many(self, items, batch=100):
        """Put (key, value) pairs, batch of them per transaction."""
        rev = 0
        for i in range(0, len(items), batch):
            ops = [{"request_put": {"key": b64(k), "value": b64(v)}}
                   for k, v in items[i:i + batch]]
            r = self.call("/v3/kv/txn", {"success": ops})
            rev = int(r["header"]["revision"])
        return rev

    def delete(self, key, prefix=False):
        body = {"key": b64(key)}
        if prefix:
            body["range_end"] = b64(prefix_end(key))
        return int(self.call("/v3/kv/deleterange", body)["header"]
                   ["revision"])

    def get_prefix(self, prefix):
        """{key: value} of every key under prefix."""
        r = self.call("/v3/kv/range", {"key": b64(prefix),
                                       "range_end": b64(prefix_end(prefix))})
        return {unb64(kv["key"]): unb64(kv.get("value", ""))
                for kv in r.get("kvs", [])}

    def revision(self):
        r = self.call("/v3/kv/range", {"key": b64("\0"), "limit": 1})
        return int(r["header"]["revision"])

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def etcd_client(url, timeout=5.0, tls=None):
    return EtcdClient(url, timeout, tls=tls)


class EtcdTLS:
    """A throwaway PKI made with openssl in directory: a CA, a server
    certificate for IP 127.0.0.1 (serverAuth and clientAuth: etcd 3.4's
    JSON gateway dials etcd's own gRPC with it) and a client certificate,
    all signed by the CA, EC P-256 keys without a passphrase, valid for
    two days. Attributes are absolute file paths."""

    def __init__(self, directory, cn="dnsrouter-test"):
        self.dir = os.path.abspath(str(directory))
        os.makedirs(self.dir, exist_ok=True)
        def j(f):
            return os.path.join(self.dir, f)
        self.ca, self.ca_key = j("ca.crt"), j("ca.key")
        self.server_cert, self.server_key = j("server.crt"), j("server.key")
        self.client_cert, self.client_key = j("client.crt"), j("client.key")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes"]
        self._openssl("req", "-x509", *ec, "-days", "2",
                      "-subj", "/CN=%s CA" % cn, "-keyout", self.ca_key,
                      "-out", self.ca,
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self._leaf("server", ec, "/CN=127.0.0.1",
                   "subjectAltName=IP:127.0.0.1\n"
                   "extendedKeyUsage=serverAuth,clientAuth\n")
        self._leaf("client", ec, "/CN=%s client" % cn,
                   "extendedKeyUsage=clientAuth\n")

    def _openssl(self, *args):
        try:
            cp = subprocess.run(["openssl"] + list(args), cwd=self.dir,
                                capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ProcessError("openssl %s: no result in 30s"
                               % args[0]) from None
        if cp.returncode != 0:
            raise ProcessError("openssl %s: exit %d\n%s"
                               % (" ".join(args), cp.returncode, cp.stderr))

    def _leaf(self, name, ec, subj, ext):
        csr = os.path.join(self.dir, name + ".csr")
        extfile = os.path.join(self.dir, name + ".ext")
        with open(extfile, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    + ext)
        self._openssl("req", "-new", *ec, "-subj", subj,
                      "-keyout", os.path.join(self.dir, name + ".key"),
                      "-out", csr)
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca,
                      "-CAkey", self.ca_key, "-set_serial",
                      str(int.from_bytes(os.urandom(8), "big")),
                      "-days", "2", "-extfile", extfile,
                      "-out", os.path.join(self.dir, name + ".crt"))

    def etcd_args(self, client_cert_auth=True):
        """etcd flags: serve clients over TLS and want their certificate
        (etcd 3.4 wants one as soon as --trusted-ca-file is given;
        --client-cert-auth says so explicitly)."""
        a = ["--cert-file", self.server_cert, "--key-file", self.server_key,
             "--trusted-ca-file", self.ca]
        return a + ["--client-cert-auth"] if client_cert_auth else a

    def ctl_args(self):
        return ["--cacert=" + self.ca, "--cert=" + self.client_cert,
                "--key=" + self.client_key]

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx


class Etcd:
    """One etcd 3.4 member in the foreground, on loopback.

    workdir:         data dir (workdir/NAME.etcd) and log go here
    name:            member name
    client_port, peer_port: free ports are taken if not given
    initial_cluster: "n1=http://127.0.0.1:P1,..." for a cluster member
                     (default: this member alone)
    extra_args:      more etcd flags
    tls:             an EtcdTLS: clients speak https to this member and
                     must show a certificate its CA signed (peers stay on
                     http); ctl(), the gateway client and the readiness
                     check use tls's client certificate

    The ports and data dir stay the same across stop()/start(), so a
    restart is the same member with the same data.
    """

    def __init__(self, workdir, name="e0", client_port=None, peer_port=None,
                 initial_cluster=None, cluster_token="dnsrouter-test",
                 extra_args=(), tls=None):
        self.workdir = os.path.abspath(str(workdir))
        self.name = name
        self.client_port = client_port or free_port()
        self.peer_port = peer_port or free_port()
        self.initial_cluster = initial_cluster
        self.cluster_token = cluster_token
        self.extra_args = list(extra_args)
        self.tls = tls
        self.data_dir = os.path.join(self.workdir, name + ".etcd")
        self.stderr_path = os.path.join(self.workdir, name + ".stderr")
        self.proc = None
        self._stderr = None
        self._client = None
        # "user:password" once authentication is enabled: readiness checks
        # and the JSON gateway client then log in.
        self.auth_user = None

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http",
                                      self.client_port)

    @property
    def peer_url(self):
        return "http://127.0.0.1:%d" % self.peer_port

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def argv(self):
        cluster = self.initial_cluster or "%s=%s" % (self.name,
                                                     self.peer_url)
        return [ETCD, "--name", self.name, "--data-dir", self.data_dir,
                "--listen-client-urls", self.url,
                "--advertise-client-urls", self.url,
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster", cluster,
                "--initial-cluster-state", "new",
                "--initial-cluster-token", self.cluster_token,
                "--logger", "zap", "--log-outputs", "stderr",
                # Fast elections, so a killed leader is replaced quickly.
                "--heartbeat-interval", "50", "--election-timeout", "500",
                "--enable-pprof=false"] + \
            (self.tls.etcd_args() if self.tls else []) + self.extra_args

    def start(self, timeout=20.0, wait=True):
        """Run etcd; with wait, return once a range answers (bounded)."""
        if self.running():
            raise ProcessError("etcd %s already running" % self.name)
        os.makedirs(self.workdir, exist_ok=True)
        self._stderr = open(self.stderr_path, "ab")
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("ETCD"):
                del env[k]
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=self._stderr,
                                     stderr=subprocess.STDOUT, env=env,
                                     cwd=self.workdir)
        if wait:
            try:
                self.wait_ready(timeout)
            except ProcessError:
                self.stop()
                raise
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise ProcessError("etcd %s exited with %s:\n%s"
                               % (self.name, self.proc.returncode,
                                  self.log()[-3000:]))
        try:
            # A linearizable range needs a leader: the member can serve.
            c = EtcdClient(self.url, timeout=0.5, tls=self.tls)
            if self.auth_user:
                c.login(self.auth_user)
            c.call("/v3/kv/range", {"key": b64("\0"), "limit": 1})
            c.close()
            return True
        except Exception:
            return False

    def wait_ready(self, timeout=20.0):
        try:
            wait_for(self._ready, timeout, 0.05,
                     "etcd %s on %s" % (self.name, self.url))
        except ProcessError as e:
            raise ProcessError("%s\n--- etcd log:\n%s"
                               % (e, self.log()[-3000:])) from None
        return self

    def stop(self, timeout=10.0):
        """SIGTERM (SIGCONT too), bounded wait, then SIGKILL."""
        if self.proc is not None:
            stop_pid(self.proc, timeout)
        self._close()

    def kill(self):
        """SIGKILL, no goodbye; reaped before returning."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._close()

    def _close(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._stderr:
            self._stderr.close()
            self._stderr = None

    def _states(self):
        out = []
        try:
            tasks = os.listdir("/proc/%d/task" % self.proc.pid)
        except OSError:
            return out
        for t in tasks:
            try:
                with open("/proc/%d/task/%s/stat" % (self.proc.pid, t)) as f:
                    data = f.read()
            except OSError:
                continue
            out.append(data[data.rindex(")") + 2:].split()[0])
        return out

    def pause(self, timeout=2.0):
        """SIGSTOP: etcd keeps its sockets but answers nothing."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        wait_for(lambda: all(s in ("T", "t") for s in self._states()),
                 timeout, 0.002, "etcd %d to stop" % self.proc.pid)

    def resume(self, timeout=2.0):
        os.kill(self.proc.pid, signal.SIGCONT)
        wait_for(lambda: not any(s in ("T", "t") for s in self._states()),
                 timeout, 0.002, "etcd %d to continue" % self.proc.pid)

    def log(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -------------------------------------------------------------- clients

    def ctl(self, *args, **kw):
        """etcdctl against this member; returns its stdout. Once auth_user
        is set, etcdctl logs in with it unless user= says otherwise."""
        kw.setdefault("user", self.auth_user)
        kw.setdefault("tls", self.tls)
        return etcdctl(self.url, *args, **kw).stdout

    @property
    def client(self):
        if self._client is None:
            self._client = EtcdClient(self.url, tls=self.tls)
            if self.auth_user:
                self._client.login(self.auth_user)
        return self._client

    def api(self, path, body):
        return self.client.call(path, body)

    def put(self, key, value, lease=None):
        return self.client.put(key, value, lease)

    def delete(self, key, prefix=False):
        return self.client.delete(key, prefix)

    def get_prefix(self, prefix):
        return self.client.get_prefix(prefix)

    def revision(self):
        return self.client.revision()

    def compact(self, rev=None):
        """etcdctl compact at rev (default: the current revision)."""
        if rev is None:
            rev = self.revision()
        self.ctl("compact", str(rev))
        return rev

    def lease_grant(self, ttl):
        """etcdctl lease grant ttl; returns the lease ID in hex, as etcdctl
        wants it back in put --lease."""
        out = self.ctl("lease", "grant", str(ttl))
        # "lease 694d7d... granted with TTL(2s)"
        words = out.split()
        if len(words) < 2 or words[0] != "lease":
            raise ProcessError("etcdctl lease grant: unexpected %r" % out)
        return words[1]


class EtcdCluster:
    """n etcd members on loopback forming one cluster."""

    def __init__(self, workdir, n=3, token=None):
        self.workdir = os.path.abspath(str(workdir))
        names = ["m%d" % i for i in range(n)]
        ports = [(free_port(), free_port()) for _ in names]
        cluster = ",".join("%s=http://127.0.0.1:%d" % (nm, pp)
                           for nm, (cp, pp) in zip(names, ports))
        token = token or "dnsrouter-test-%d" % os.getpid()
        self.members = [Etcd(self.workdir, nm, cp, pp, cluster, token)
                        for nm, (cp, pp) in zip(names, ports)]

    def urls(self):
        return [m.url for m in self.members]

    def start(self, timeout=30.0):
        """Start every member, then wait until each serves a range."""
        try:
            for m in self.members:
                m.start(wait=False)
            for m in self.members:
                m.wait_ready(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def member(self, url):
        for m in self.members:
            if m.url == url.rstrip("/"):
                return m
        raise KeyError(url)

    def alive(self):
        return [m for m in self.members if m.running()]

    def stop(self):
        for m in self.members:
            m.stop()

    def ctl(self, *args, **kw):
        return etcdctl([m.url for m in self.alive()], *args, **kw).stdout


def pids_alive(objs):
    """PIDs of the given Etcd objects that are still alive (for checks)."""
    return [o.pid for o in objs if o.pid and pid_alive(o.pid)]


def wait_log(get_log, needle, timeout=10.0, what=None, start=0):
    """Poll get_log() until needle appears after offset start; return the
    log text from start. Bounded."""
    def seen():
        t = get_log()[start:]
        return t if needle in t else None
    return wait_for(seen, timeout, 0.02, what or repr(needle))


# ------------------------------------------------ dnsrouter with etcd, DNS

def controller_pid(router):
    """PID of the router's dnsrouter-controller (a child of the master)."""
    for pid in router.children():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"dnsrouter-controller" in f.read():
                    return pid
        except OSError:
            continue
    raise ProcessError("no dnsrouter-controller among the children of %d"
                       % router.pid)


def answer(port, name, qtype="TXT", timeout=1.0, tcp=False):
    """One query from a fresh socket, summed up as a string: the TXT
    strings joined by ',' for NOERROR ("NOERROR" if there are none), the
    rcode's name otherwise, "timeout" if nothing came back."""
    import dns.exception
    import dns.rcode
    from dnsenv import query
    try:
        r = query(port, name, qtype, timeout=timeout, tcp=tcp)
    except dns.exception.Timeout:
        return "timeout"
    if r.rcode() != dns.rcode.NOERROR:
        return dns.rcode.to_text(r.rcode())
    out = []
    for rrset in r.answer:
        for rd in rrset:
            if hasattr(rd, "strings"):
                out.append(b"".join(rd.strings).decode())
    return ",".join(out) if out else "NOERROR"


def _as_set(want):
    return {want} if isinstance(want, str) else set(want)


def wait_answer(router, name, want, qtype="TXT", timeout=10.0, in_a_row=8,
                qtimeout=1.0):
    """Poll until in_a_row queries in a row (fresh sockets, so every router
    gets some) are answered with want (a string or a set of allowed
    answers, see answer()). Bounded; the error names the last answers."""
    allowed = _as_set(want)
    state = {"streak": 0, "last": []}

    def ok():
        a = answer(router.port, name, qtype, qtimeout)
        state["last"] = (state["last"] + [a])[-8:]
        state["streak"] = state["streak"] + 1 if a in allowed else 0
        return state["streak"] >= in_a_row
    try:
        wait_for(ok, timeout, 0.01, "%s %s to be answered %s"
                 % (name, qtype, sorted(allowed)))
    except ProcessError as e:
        raise ProcessError("%s; last answers %s" % (e, state["last"])) \
            from None


def wait_all_seen(router, name, wants, qtype="TXT", timeout=10.0):
    """Round robin: poll until 8 answers in a row are among wants (every
    router has the routes), then until every answer in wants has been
    seen, with no answer outside wants meanwhile."""
    wants = set(wants)
    wait_answer(router, name, wants, qtype, timeout)
    seen, other = set(), []

    def ok():
        a = answer(router.port, name, qtype, 1.0)
        if a in wants:
            seen.add(a)
        else:
            other.append(a)
        return seen == wants
    wait_for(ok, timeout, 0.01, "%s %s to be answered by each of %s (seen "
             "%s)" % (name, qtype, sorted(wants), seen))
    assert not other, "answers outside %s: %s" % (sorted(wants), other)


def answers(router, name, n, qtype="TXT"):
    """n answers (fresh sockets), in order."""
    return [answer(router.port, name, qtype) for _ in range(n)]


def log_mark(router):
    """An offset into the router's log: what comes after it is new."""
    return len(router.log())


def log_since(router, mark):
    return router.log()[mark:]


def wait_logged(router, needle, mark=0, timeout=10.0):
    """Poll the router's log (after mark) until needle shows; bounded."""
    try:
        return wait_log(router.log, needle, timeout, start=mark)
    except ProcessError as e:
        raise ProcessError("%s\n--- dnsrouter log (new part):\n%s"
                           % (e, router.log()[mark:][-4000:])) from None


def etcd_extra(urls, prefix=None, health="health-interval 500ms\n"
               "health-rise 2\nhealth-fall 2\n", more=""):
    """Config lines: one etcd line per URL, health settings, more."""
    if isinstance(urls, str):
        urls = [urls]
    s = "".join("etcd %s\n" % u for u in urls)
    if prefix:
        s += "etcd-prefix %s\n" % prefix
    return s + health + more


try:
    import pytest
except ImportError:          # the benchmark runs without pytest
    pytest = None

if pytest is not None:
    __all__ += ["etcd", "etcd_cluster", "etcd_router"]

    @pytest.fixture
    def etcd(tmp_path):
        """A fresh single-member etcd for one test, stopped afterwards."""
        e = Etcd(tmp_path / "etcd")
        e.start()
        yield e
        e.stop()

    @pytest.fixture
    def etcd_cluster(tmp_path):
        c = EtcdCluster(tmp_path / "etcd-cluster", 3)
        c.start()
        yield c
        c.stop()

    @pytest.fixture
    def etcd_router(make_router):
        """make(urls, routes=(), health=..., more="", **kw): a dnsrouter
        watching etcd at urls, returned once the controller's watch is
        established (it logs "etcd: watching")."""
        def make(urls, routes=(), wait=True, **kw):
            extra = etcd_extra(urls, kw.pop("prefix", None),
                               kw.pop("health", "health-interval 500ms\n"
                                      "health-rise 2\nhealth-fall 2\n"),
                               kw.pop("more", ""))
            kw.setdefault("timeout", "500ms")
            r = make_router(list(routes), extra=extra, **kw)
            if wait:
                wait_logged(r, "etcd: watching ", 0, 15)
            return r
        return make


class controller_cut_off:
    """with controller_cut_off(router, etcd[, restart_etcd]): ...

    SIGSTOP the router's controller for the block, SIGCONT after it (pass
    or fail). With restart_etcd, etcd is also stopped and started again
    (same data, same port) at the start of the block, so the controller's
    watch connection is gone when it wakes up: it must reconnect and
    resume from the last revision it saw (or list again if that revision
    was compacted away meanwhile)."""

    def __init__(self, router, etcd_member, restart_etcd=False):
        self.router = router
        self.etcd = etcd_member
        self.restart = restart_etcd
        self.pid = None

    def __enter__(self):
        self.pid = controller_pid(self.router)
        os.kill(self.pid, signal.SIGSTOP)
        wait_for(lambda: _state(self.pid) in ("T", "t", None), 2, 0.002,
                 "controller %d to stop" % self.pid)
        if self.restart:
            self.etcd.stop()
            self.etcd.start()
        return self

    def __exit__(self, *exc):
        os.kill(self.pid, signal.SIGCONT)
        return False


def _state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()[0]


class QueryLoop:
    """with QueryLoop(port, name, want) as loop: ...

    A thread querying name over and over (fresh socket each time) while
    the block runs; loop.ok counts the answers equal to want, loop.bad
    lists (time, answer) of every other one. An exception in the thread
    (anything but the timeout answer() sums up) is recorded in loop.bad as
    "error: ..." and the loop goes on; leaving the block asserts that the
    thread has ended."""

    def __init__(self, port, name, want):
        self.port, self.name, self.want = port, name, want
        self.ok = 0
        self.bad = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                a = answer(self.port, self.name, timeout=2.0)
            except Exception as e:     # recorded, never lost with the thread
                a = "error: %s: %s" % (type(e).__name__, e)
                self._stop.wait(0.01)  # pacing only: no hot loop on errors
            if a == self.want:
                self.ok += 1
            else:
                self.bad.append((round(time.monotonic(), 3), a))

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(5)
        # (an exception from the block itself is the better report)
        if exc[0] is None:
            assert not self._t.is_alive(), \
                "QueryLoop thread for %s still running 5s after the block" \
                % self.name
        return False
