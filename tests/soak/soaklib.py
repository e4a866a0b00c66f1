"""soaklib - what the soak and fault tools share: start an sbkd on a
scratch directory with a given configuration, probe it from /proc (VmRSS,
open fds, CPU time), and talk NDJSON to it over plain blocking sockets.
Python 3 standard library only.  SBK_SOAK_WRAPPER="valgrind ..." runs
every sbkd under a command prefix (split on spaces).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def find_sbkd(arg=None):
    """The sbkd to run: --sbkd, else $SBKD, else build/daemon/sbkd."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    for cand in (arg, os.environ.get("SBKD"),
                 os.path.join(root, "build", "daemon", "sbkd")):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise SystemExit("no sbkd: pass --sbkd PATH or set SBKD")


def unit_environment():
    """The Environment= settings systemd/sbkd.service.in gives sbkd, so a
    soak measures the service as shipped (its allocator tuning)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    env = {}
    with open(os.path.join(root, "systemd", "sbkd.service.in")) as f:
        for line in f:
            if line.startswith("Environment="):
                k, _, v = line[len("Environment="):].strip().partition("=")
                env[k] = v
    return env


class Daemon:
    """One sbkd on a scratch directory (removed by stop()), with the
    Environment= of systemd/sbkd.service.in unless unit_env=False."""

    def __init__(self, sbkd, conf, wrapper=None, nofile=None, env=None,
                 dirname=None, prepare=None, unit_env=True):
        self.dir = dirname or tempfile.mkdtemp(prefix="sbk-soak.")
        if prepare is not None:
            prepare(self.dir)   # files the configuration refers to
        self.sock = os.path.join(self.dir, "sbkd.sock")
        self.conf = os.path.join(self.dir, "sbkd.conf")
        self.log = os.path.join(self.dir, "sbkd.log")
        with open(self.conf, "w") as f:
            f.write(conf.replace("@DIR@", self.dir))
        if wrapper is None and os.environ.get("SBK_SOAK_WRAPPER"):
            wrapper = os.environ["SBK_SOAK_WRAPPER"].split()
        argv = list(wrapper or []) + [sbkd, "-c", self.conf, "-s", self.sock]

        def pre():
            if nofile is not None:
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        # The service as shipped: sbkd.service's Environment= first, then
        # what the caller adds.
        e = dict(os.environ)
        if unit_env:
            e.update(unit_environment())
        e.update(env or {})
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     preexec_fn=pre, env=e)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 30
        while True:
            try:
                s = self.connect()
                s.close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit("sbkd exited: %s" % self.tail())
                if time.monotonic() > deadline:
                    raise SystemExit("sbkd did not listen: %s" % self.tail())
                time.sleep(0.02)
        # Let sbkd close the probe connection before anyone counts fds.
        time.sleep(0.5)

    def connect(self, timeout=30):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.sock)
        return s

    def tail(self, n=2000):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def cpu_s(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.pid))

    def maps(self):
        """Memory mappings: a thread never joined keeps its stack's."""
        with open("/proc/%d/maps" % self.pid) as f:
            return sum(1 for _ in f)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60, keep=False):
        """Signal, wait; returns the exit status (negative: signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


class Conn:
    """A blocking NDJSON connection with a line reader."""

    def __init__(self, daemon_or_sock, timeout=30):
        if isinstance(daemon_or_sock, Daemon):
            self.s = daemon_or_sock.connect(timeout)
        else:
            self.s = daemon_or_sock
        self.buf = b""

    def send(self, obj):
        data = obj if isinstance(obj, (bytes, bytearray)) else \
            (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        self.s.sendall(data)

    def recv(self):
        """One reply as a dict; None at end of stream."""
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method, params=None, rid=1):
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        self.send(req)
        return self.recv()

    def close(self):
        self.s.close()


def stats(daemon):
    c = Conn(daemon)
    try:
        r = c.call("stats")
        return r["result"]
    finally:
        c.close()


def wait_until(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def heap_trims(d):
    return stats(d)["memory"]["heap_trims"]


def settle(d, idle_fds, trims_before, timeout=30):
    """Wait for sbkd to go idle: no connection, fds back, queue empty,
    and the heap trimmed once after the phase (sbkd trims when a tick
    goes by without job activity; see daemon/heap.c), so every RSS
    sample is taken in the same state."""
    def quiet():
        st = stats(d)
        return (st["connections"] <= 1 and st["queue"]["depth"] == 0 and
                st["workers"]["cpu"]["busy"] == 0 and
                st["workers"]["io"]["busy"] == 0 and d.fds() <= idle_fds and
                st["memory"]["heap_trims"] > trims_before)
    wait_until(quiet, timeout, 0.2)
    time.sleep(0.2)
