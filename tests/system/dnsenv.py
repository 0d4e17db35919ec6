"""Real DNS processes on loopback, for dnsrouter's system tests, benchmark and demo.

Everything here runs on 127.0.0.1 (or ::1) with ports from free_port(), in
directories the caller owns, and is stopped by PID: never by name.

    from dnsenv import free_port, Named, Dnsrouter, query

    pa = free_port()
    a = Named(workdir_a, pa, {"miek.nl.": ZONE_TEXT}, server_id="shard-ab")
    a.start()                         # returns once named answers its SOA
    r = Dnsrouter(build_dir, workdir_r, free_port(),
                  ["127.0.0.1:%d,^[ab]\\.miek" % pa])
    r.start()
    r.wait_ready("a.miek.nl.", "TXT")  # every router has its route table
    resp = query(r.port, "a.miek.nl.", "TXT")
    r.stop()                          # asserts that no child is left
    a.stop()

API
  free_port(addr="127.0.0.1") -> int        port free for UDP and TCP
  wait_for(pred, timeout, interval, what)   poll pred() until truthy, bounded
  query(port, name, qtype, ...)             one dnspython query (UDP or TCP)
  send_raw_udp / send_raw_tcp               raw wire bytes in, reply bytes out
  proc_children(pid) -> {pid: argv0}        processes whose parent is pid
  pid_alive(pid) -> bool                    exists and is not a zombie
  Named(workdir, port, zones, ...)          BIND 9 authoritative server
  Dnsrouter(build_dir, workdir, port, routes, ...)  the daemon, foreground
    .rewrite_config(workers=3, ...)         change settings, rewrite the file
    .reload()                               SIGHUP
    .log_count(text)                        occurrences of text in its log
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

__all__ = [
    "free_port", "wait_for", "query", "make_query", "send_raw_udp",
    "send_raw_tcp", "recv_tcp_msg", "proc_children", "pid_alive",
    "stop_pid", "Named", "Dnsrouter", "ProcessError",
]

NAMED = "/usr/sbin/named"


class ProcessError(RuntimeError):
    """A process did not start, did not become ready, or did not stop."""


def _family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def free_port(addr="127.0.0.1"):
    """Return a port on addr that is free for both TCP and UDP right now."""
    fam = _family(addr)
    for _ in range(200):
        t = socket.socket(fam, socket.SOCK_STREAM)
        u = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            t.bind((addr, 0))
            port = t.getsockname()[1]
            u.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise ProcessError("no port free for both UDP and TCP on %s" % addr)


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Call pred() until it returns a truthy value, which is returned.

    Raises ProcessError after timeout seconds. pred may raise to abort.
    """
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise ProcessError("timed out after %.1fs waiting for %s"
                               % (timeout, what))
        time.sleep(interval)


def make_query(name, qtype="A", qid=None, **kw):
    """A dns.message query; qid sets the ID (random otherwise)."""
    q = dns.message.make_query(name, qtype, **kw)
    if qid is not None:
        q.id = qid
    return q


def query(port, name, qtype="A", addr="127.0.0.1", tcp=False, timeout=2.0,
          **kw):
    """Send one query to addr:port and return the dns.message response.

    kw goes to dns.message.make_query (use_edns, payload, options, ...).
    A fresh socket is used for each call. Raises dns.exception.Timeout.
    """
    q = make_query(name, qtype, **kw)
    if tcp:
        return dns.query.tcp(q, addr, port=port, timeout=timeout)
    return dns.query.udp(q, addr, port=port, timeout=timeout,
                         ignore_unexpected=True)


def send_raw_udp(port, wire, addr="127.0.0.1", timeout=1.0, sock=None):
    """Send raw bytes over UDP; return the reply bytes or None on timeout."""
    own = sock is None
    if own:
        sock = socket.socket(_family(addr), socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        sock.sendto(wire, (addr, port))
        try:
            data, _ = sock.recvfrom(65535)
            return data
        except socket.timeout:
            return None
    finally:
        if own:
            sock.close()


def recv_exact(sock, n):
    """Read exactly n bytes from a stream socket; None on EOF before n."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_tcp_msg(sock):
    """Read one length-prefixed DNS message; None on EOF."""
    hdr = recv_exact(sock, 2)
    if hdr is None:
        return None
    (n,) = struct.unpack("!H", hdr)
    return recv_exact(sock, n)


def send_raw_tcp(port, wire, addr="127.0.0.1", timeout=2.0):
    """Send raw bytes (one message, length prefix added) over a new TCP
    connection; return the reply bytes, or None on EOF or timeout."""
    with socket.create_connection((addr, port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        try:
            return recv_tcp_msg(s)
        except socket.timeout:
            return None


# ---------------------------------------------------------------- processes

def _stat(pid):
    """(state, ppid) of pid from /proc, or None if it does not exist."""
    return _stat_path("/proc/%d/stat" % pid)


def _stat_path(path):
    try:
        with open(path, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may hold spaces and parentheses: split after the last ')'.
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def proc_children(pid):
    """{child_pid: argv0} of live processes whose parent is pid."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        c = int(d)
        st = _stat(c)
        if st is None or st[1] != pid or st[0] in ("Z", "X"):
            continue
        try:
            with open("/proc/%d/cmdline" % c, "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode("utf-8", "replace")
        except OSError:
            continue
        out[c] = argv0
    return out


def stop_pid(popen, timeout=5.0):
    """SIGTERM (and SIGCONT, in case it is stopped), wait up to timeout,
    then SIGKILL. Returns the exit status, or None if it had to be killed."""
    if popen.poll() is not None:
        return popen.returncode
    try:
        popen.send_signal(signal.SIGTERM)
        popen.send_signal(signal.SIGCONT)
    except ProcessLookupError:
        pass
    try:
        return popen.wait(timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(5)
        return None


class Named:
    """A BIND 9 authoritative server in the foreground.

    workdir: directory for named.conf, zone files, logs (must exist or is made)
    port:    listening port (UDP and TCP) on addr
    zones:   {origin: zone file text}, e.g. {"miek.nl.": "$TTL 300\\n@ SOA ..."}
    server_id: answered to id.server CH TXT and to EDNS NSID
    querylog:  log every query to workdir/query.log (see query_count())
    conf_extra: named.conf text at the top level (keys, say)
    zone_options: text inside each zone's block (allow-update { ... };)

    Attributes: pid, port, addr, stderr_path, querylog_path.
    """

    def __init__(self, workdir, port, zones, addr="127.0.0.1",
                 server_id=None, querylog=True, conf_extra="",
                 zone_options=""):
        self.workdir = os.path.abspath(str(workdir))
        self.port = port
        self.addr = addr
        self.zones = dict(zones)
        self.server_id = server_id or "named-test-%d" % port
        self.querylog = querylog
        self.conf_extra = conf_extra        # named.conf text, top level
        self.zone_options = zone_options    # in each zone's block
        self.proc = None
        self.conf_path = os.path.join(self.workdir, "named.conf")
        self.stderr_path = os.path.join(self.workdir, "named.stderr")
        self.querylog_path = os.path.join(self.workdir, "query.log")
        self._stderr = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _conf(self):
        v6 = ":" in self.addr
        zones = []
        for i, origin in enumerate(sorted(self.zones)):
            fname = "zone%d.db" % i
            with open(os.path.join(self.workdir, fname), "w") as f:
                f.write(self.zones[origin])
            zones.append('zone "%s" { type primary; file "%s"; %s};'
                         % (origin, fname, self.zone_options))
        listen = ('listen-on { none; };\n  listen-on-v6 port %d { %s; };'
                  % (self.port, self.addr)) if v6 else \
                 ('listen-on port %d { %s; };\n  listen-on-v6 { none; };'
                  % (self.port, self.addr))
        log = ""
        if self.querylog:
            log = """logging {
  channel q { file "%s"; print-time no; severity info; };
  channel d { file "%s"; print-time yes; severity info; };
  category queries { q; };
  category default { d; };
};
""" % (self.querylog_path, os.path.join(self.workdir, "named.log"))
        return """options {
  directory "%(dir)s";
  pid-file "%(dir)s/named.pid";
  session-keyfile "%(dir)s/session.key";
  managed-keys-directory "%(dir)s";
  %(listen)s
  recursion no;
  notify no;
  dnssec-validation no;
  server-id "%(sid)s";
  querylog %(ql)s;
  max-udp-size 4096;
  tcp-clients 1000;
  tcp-listen-queue 1024;
};
controls { };
%(extra)s
%(log)s%(zones)s
""" % {"dir": self.workdir, "listen": listen, "sid": self.server_id,
       "ql": "yes" if self.querylog else "no", "log": log,
       "zones": "\n".join(zones), "extra": self.conf_extra}

    def start(self, timeout=15.0):
        """Write the config, run named, return once it answers its SOA."""
        os.makedirs(self.workdir, exist_ok=True)
        with open(self.conf_path, "w") as f:
            f.write(self._conf())
        self._stderr = open(self.stderr_path, "wb")
        # -f: foreground with the logging of named.conf (-g would force all
        # logging to stderr and so lose the query log).
        self.proc = subprocess.Popen(
            [NAMED, "-f", "-c", self.conf_path,
             "-4" if ":" not in self.addr else "-6"],
            stdin=subprocess.DEVNULL, stdout=self._stderr,
            stderr=subprocess.STDOUT, cwd=self.workdir)
        origin = sorted(self.zones)[0]

        def ready():
            if self.proc.poll() is not None:
                raise ProcessError("named exited with %s:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                r = query(self.port, origin, "SOA", addr=self.addr,
                          timeout=0.2)
                return r.rcode() == dns.rcode.NOERROR and r.answer
            except Exception:
                return False
        try:
            wait_for(ready, timeout, 0.05, "named on port %d" % self.port)
        except ProcessError:
            self.stop()
            raise
        return self

    def reload_zone(self, origin, text):
        """Rewrite origin's zone file and have named reload it (SIGHUP)."""
        self.zones[origin] = text
        i = sorted(self.zones).index(origin)
        with open(os.path.join(self.workdir, "zone%d.db" % i), "w") as f:
            f.write(text)
        os.kill(self.proc.pid, signal.SIGHUP)

    def log(self):
        """named's stderr and its log file."""
        out = []
        for p in (self.stderr_path, os.path.join(self.workdir, "named.log")):
            try:
                with open(p, errors="replace") as f:
                    out.append(f.read())
            except OSError:
                pass
        return "\n".join(out)

    def query_count(self, name=None):
        """Queries logged so far (for name, case-insensitive, if given)."""
        try:
            with open(self.querylog_path, errors="replace") as f:
                lines = f.readlines()
        except OSError:
            return 0
        lines = [l for l in lines if "query:" in l]
        if name is None:
            return len(lines)
        n = name.rstrip(".").lower()
        return sum(1 for l in lines
                   if l.split("query:", 1)[1].split()[0].lower() == n)

    def _thread_states(self):
        out = []
        for t in os.listdir("/proc/%d/task" % self.proc.pid):
            st = _stat_path("/proc/%d/task/%s/stat" % (self.proc.pid, t))
            if st is not None:
                out.append(st[0])
        return out

    def pause(self, timeout=2.0):
        """SIGSTOP: the server keeps its sockets but answers nothing.
        Returns once every thread of named is stopped (kill() returns
        before the other CPUs have stopped them)."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        wait_for(lambda: all(s in ("T", "t") for s in self._thread_states()),
                 timeout, 0.002, "named %d to stop" % self.proc.pid)

    def resume(self, timeout=2.0):
        """SIGCONT, and return once no thread is stopped any more."""
        os.kill(self.proc.pid, signal.SIGCONT)
        wait_for(lambda: not any(s in ("T", "t")
                                 for s in self._thread_states()),
                 timeout, 0.002, "named %d to continue" % self.proc.pid)

    def stop(self, timeout=5.0):
        if self.proc is None:
            return
        stop_pid(self.proc, timeout)
        if self._stderr:
            self._stderr.close()
            self._stderr = None


class Dnsrouter:
    """dnsrouter in the foreground (-d), logging to workdir/dnsrouter.stderr.

    build_dir:   holds dnsrouter, dnsrouter-router, dnsrouter-controller
    workdir:     config, routes file and log go here
    listen_port: port on listen_addr (UDP and TCP)
    routes:      list of routes-file lines ("127.0.0.1:5300,^[ab]\\.miek",
                 JSON objects, "# comments")
    extra:       more config lines, appended with @RUNDIR@ replaced by
                 the run directory
    env:         extra environment variables (e.g. {"DNS_ADDR": ...})

    A short rundir is made under /tmp (the chroot and nng paths must stay
    short) and removed by stop().
    """

    def __init__(self, build_dir, workdir, listen_port, routes, workers=2,
                 timeout="500ms", extra="", listen_addr="127.0.0.1",
                 env=None, user="root"):
        self.build_dir = os.path.abspath(str(build_dir))
        self.binary = os.path.join(self.build_dir, "dnsrouter")
        self.workdir = os.path.abspath(str(workdir))
        self.port = listen_port
        self.addr = listen_addr
        self.routes = list(routes)
        self.workers = workers
        self.timeout = timeout
        self.extra = extra
        self.env = dict(env or {})
        self.user = user
        self.proc = None
        self.rundir = None
        self.conf_path = os.path.join(self.workdir, "dnsrouter.conf")
        self.routes_path = os.path.join(self.workdir, "routes")
        self.stderr_path = os.path.join(self.workdir, "dnsrouter.stderr")
        self._stderr = None
        self._children = {}

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def epdir(self):
        """Where the controller listens (its chroot): rundir/controller."""
        return os.path.join(self.rundir, "controller") if self.rundir \
            else None

    def listen_spec(self):
        if ":" in self.addr:
            return "[%s]:%d" % (self.addr, self.port)
        return "%s:%d" % (self.addr, self.port)

    def write_routes(self, routes):
        """Replace the routes file (atomically); call reload() to apply."""
        self.routes = list(routes)
        tmp = self.routes_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("".join(l + "\n" for l in self.routes))
        os.rename(tmp, self.routes_path)

    def config_text(self):
        return ("# written by tests/system/dnsenv.py\n"
                "listen %s\nworkers %d\nuser %s\nrundir %s\nroutes %s\n"
                "timeout %s\n%s\n"
                % (self.listen_spec(), self.workers, self.user, self.rundir,
                   self.routes_path, self.timeout,
                   self.extra.replace("@RUNDIR@", self.rundir or "")))

    def rewrite_config(self, **attrs):
        """Set attributes (port, workers, timeout, extra, user, ...) and
        rewrite the config file from them; call reload() to apply. The
        rundir stays the one start() made."""
        for k, v in attrs.items():
            if not hasattr(self, k):
                raise AttributeError("Dnsrouter has no attribute %r" % k)
            setattr(self, k, v)
        tmp = self.conf_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.config_text())
        os.rename(tmp, self.conf_path)

    def log_count(self, text):
        """How many times text occurs in the log so far."""
        return self.log().count(text)

    def start(self):
        """Write config and routes, start the master. Does not wait: see
        wait_ready()."""
        if not os.access(self.binary, os.X_OK):
            raise ProcessError("%s is missing: build with make (set "
                               "DNSROUTER_BUILD)" % self.binary)
        os.makedirs(self.workdir, exist_ok=True)
        self.rundir = getattr(self, "_kept_rundir", None) or \
            tempfile.mkdtemp(prefix="dr", dir="/tmp")
        self._kept_rundir = None
        self.write_routes(self.routes)
        with open(self.conf_path, "w") as f:
            f.write(self.config_text())
        env = dict(os.environ)
        env.pop("DNS_ADDR", None)
        env.pop("ETCD_MACHINES", None)
        env.pop("DNSROUTER_IO_URING", None)
        env.update(self.env)
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "-d", "-f", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self._stderr,
            stderr=self._stderr, env=env, cwd=self.workdir)
        return self

    def log(self):
        """Everything the daemon wrote on stdout and stderr so far."""
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def children(self):
        """{pid: argv0} of the master's live children (routers, controller)."""
        if self.proc is None:
            return {}
        c = proc_children(self.proc.pid)
        self._children.update(c)
        return c

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise ProcessError("dnsrouter exited with %s; log:\n%s"
                               % (self.proc.returncode, self.log()))

    def wait_ready(self, name, qtype="A", timeout=10.0, in_a_row=8,
                   expect=dns.rcode.NOERROR, tcp=True):
        """Poll until in_a_row queries in a row, each from a fresh UDP
        socket (so SO_REUSEPORT spreads them over the routers), answer with
        rcode expect; then one over TCP too if tcp. Bounded by timeout."""
        streak = [0]

        def ready():
            self._check_alive()
            try:
                r = query(self.port, name, qtype, addr=self.addr, timeout=0.3)
                ok = r.rcode() == expect
            except Exception:
                ok = False
            streak[0] = streak[0] + 1 if ok else 0
            return streak[0] >= in_a_row
        try:
            wait_for(ready, timeout, 0.02,
                     "dnsrouter to answer %s %s with %s"
                     % (name, qtype, dns.rcode.to_text(expect)))
            if tcp:
                def tcp_ready():
                    self._check_alive()
                    try:
                        r = query(self.port, name, qtype, addr=self.addr,
                                  tcp=True, timeout=0.5)
                        return r.rcode() == expect
                    except Exception:
                        return False
                wait_for(tcp_ready, timeout, 0.05, "dnsrouter over TCP")
        except ProcessError as e:
            raise ProcessError("%s\n--- dnsrouter log:\n%s"
                               % (e, self.log())) from None
        self.children()
        return self

    def reload(self):
        """SIGHUP to the master: re-read config; controller re-reads routes."""
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self, timeout=10.0, check=True, keep_rundir=False):
        """SIGTERM the master and wait (bounded). With check, raise
        ProcessError if the master did not exit 0 in time or if any child it
        had is still alive afterwards (leftovers are SIGKILLed first). With
        keep_rundir the next start() uses the same run directory (a
        restart of the service); the stop after that removes it."""
        if self.proc is None:
            return
        problems = []
        if self.proc.poll() is None:
            self.children()
        known = set(self._children)
        rc = stop_pid(self.proc, timeout)
        if rc is None:
            problems.append("master did not exit within %.0fs of SIGTERM"
                            % timeout)
        elif rc != 0:
            problems.append("master exited with status %s" % rc)

        def gone():
            return not [p for p in known if pid_alive(p)]
        try:
            wait_for(gone, 3.0, 0.02, "children to exit")
        except ProcessError:
            left = [p for p in known if pid_alive(p)]
            problems.append("children left after master exited: %s"
                            % ", ".join("%d (%s)" % (p, self._children[p])
                                        for p in left))
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._stderr:
            self._stderr.close()
            self._stderr = None
        if self.rundir and keep_rundir:
            self._kept_rundir = self.rundir
        elif self.rundir:
            shutil.rmtree(self.rundir, ignore_errors=True)
        self.rundir = None
        if check and problems:
            raise ProcessError("; ".join(problems) + "\n--- dnsrouter log:\n"
                               + self.log()[-4000:])
