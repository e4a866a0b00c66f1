#!/usr/bin/env python3
"""The /metrics endpoint against hostile HTTP clients (issue 19 items 1
and 2), with a real $SBKD on a loopback port:

  protocol   bad versions, request lines, headers, bodies, methods and
             oversized heads get 505/400/413/405/431 and are closed;
             HTTP/1.0, LF-only heads, query strings and 404s work.
  rate       metrics_max_requests_per_s = 20: 50 pipelined requests
             are all answered, and take at least 1.5 s.
  pipeline   GET /metrics pipelined over one HTTP/1.1 connection for
             2 s, every response read; then the same never read.  sbkd's
             RSS must not grow by more than 64 MiB (it grew by GiBs when
             evhttp queued every request).  Three requests sent in one
             packet get three whole responses, in order.
  cap        metrics_max_connections = 4: of 12 idle connections, the 8
             over the cap are answered 503 or closed at once; after a
             reload to 2, 3 of 5.
  slowloris  metrics_request_timeout_s = 2: one header byte every 0.3 s
             is closed by the deadline (within 6 s), not kept for ever.
  reserve    RLIMIT_NOFILE 64 and a cap of 500: 120 HTTP connections
             must not take the descriptors the UNIX socket needs; a
             JSON-RPC client still connects and gets its pong.
  backlog    the listening socket's backlog is at least 128 (ss).

Run one part with argv[1]; all of them without.  Exit 0 on success."""

import json
import os
import resource
import select
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time

RSS_BOUND_KIB = 64 * 1024
REQ = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sbkd:
    def __init__(self, tmp, name, extra="", nofile=None):
        self.port = free_port()
        self.path = os.path.join(tmp, name + ".sock")
        conf = self.conf = os.path.join(tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nsocket = %s\nmetrics_listen = 127.0.0.1:%d\n"
                    "%s[pool]\ncpu_workers = 1\nio_workers = 1\n"
                    % (self.path, self.port, extra))
        self.log = open(os.path.join(tmp, name + ".log"), "w+")

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        # Under ASan, freed memory waits in a 256 MiB quarantine: keep it
        # small so that RSS measures what sbkd holds (no effect otherwise).
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(
            x for x in (env.get("ASAN_OPTIONS"), "quarantine_size_mb=8") if x)
        self.proc = subprocess.Popen([os.environ["SBKD"], "-c", conf],
                                     stdout=self.log, stderr=self.log,
                                     preexec_fn=limit, env=env)
        deadline = time.monotonic() + 10
        while True:
            check(self.proc.poll() is None,
                  "sbkd exited %r" % self.proc.returncode)
            if os.path.exists(self.path):
                try:
                    if self.scrape().startswith(b"HTTP/1.1 200"):
                        break
                except OSError:
                    pass
            check(time.monotonic() < deadline, "sbkd did not come up")
            time.sleep(0.05)

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port),
                                     timeout=timeout)
        return s

    def scrape(self):
        """One GET /metrics with Connection: close; the raw response."""
        with self.connect() as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data
                data += chunk

    def ping(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.path)
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        s.close()
        return json.loads(buf.split(b"\n")[0]) if buf else "closed"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return text


def metric(text, name):
    for line in text.decode().split("\n"):
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def read_response(s, buf):
    """One whole response from s (buf: bytes already read); (status line,
    rest of buf)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        check(chunk, "closed inside a response head")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length = None
    for h in lines[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    check(length is not None, "no Content-Length in %r" % head)
    while len(buf) < length:
        chunk = s.recv(65536)
        check(chunk, "closed inside a body")
        buf += chunk
    return lines[0], buf[length:]


def pipeline(tmp):
    d = Sbkd(tmp, "pipe")
    try:
        # Three in one packet: three whole responses, in order.
        s = d.connect()
        s.sendall(REQ + REQ + b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        buf = b""
        statuses = []
        for _ in range(3):
            status, buf = read_response(s, buf)
            statuses.append(status.split(b" ")[1])
        check(statuses == [b"200", b"200", b"404"], "statuses %r" % statuses)
        s.close()

        base = rss_kib(d.proc.pid)
        peak = base
        for reading in (True, False):
            s = d.connect()
            s.setblocking(False)
            chunk = REQ * 512
            sent = got = 0
            end = time.monotonic() + 2
            while time.monotonic() < end:
                r, w, _ = select.select([s] if reading else [], [s], [], 0.1)
                if w:
                    try:
                        sent += s.send(chunk)
                    except (BlockingIOError, InterruptedError):
                        pass
                if r:
                    try:
                        data = s.recv(1 << 20)
                        check(data, "sbkd closed a pipelining client")
                        got += len(data)
                    except (BlockingIOError, InterruptedError):
                        pass
                peak = max(peak, rss_kib(d.proc.pid))
            s.close()
            print("pipeline (%s): sent %d KiB, read %d KiB, peak RSS "
                  "+%d KiB" % ("read" if reading else "never read",
                               sent // 1024, got // 1024, peak - base))
            check(peak - base < RSS_BOUND_KIB,
                  "RSS grew by %d KiB (bound %d)" % (peak - base,
                                                     RSS_BOUND_KIB))
        check(d.scrape().startswith(b"HTTP/1.1 200"), "scrape after")
    finally:
        log = d.stop()
    check(d.proc.returncode == 0, "exit %r: %s" % (d.proc.returncode, log))


def count_refused(conns, expect):
    """How many of conns sbkd answers 503 or closes: wait (up to 10 s) for
    expect of them, then 0.5 s more for any beyond."""
    open_ = list(conns)
    refused = 0
    deadline = time.monotonic() + 10
    extra = None
    while open_:
        now = time.monotonic()
        if refused >= expect and extra is None:
            extra = now + 0.5
        end = extra if extra is not None else deadline
        if now >= end:
            break
        r, _, _ = select.select(open_, [], [], end - now)
        for s in r:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            if data == b"" or data.startswith(b"HTTP/1.1 503"):
                refused += 1
                open_.remove(s)
    return refused


def cap(tmp):
    d = Sbkd(tmp, "cap", "metrics_max_connections = 4\n")
    try:
        time.sleep(0.3)  # the start-up scrape's connection is closed
        conns = [d.connect() for _ in range(12)]
        refused = count_refused(conns, 8)
        print("cap: %d of 12 refused" % refused)
        check(refused == 8, "%d of 12 refused with a cap of 4" % refused)
        for s in conns:
            s.close()
        time.sleep(0.2)
        text = d.scrape()
        check(text.startswith(b"HTTP/1.1 200"), "scrape after")
        check(metric(text, "sbk_http_refused_total") == 8,
              "sbk_http_refused_total %r" % metric(text,
                                                   "sbk_http_refused_total"))
        check(metric(text, "sbk_http_connections") == 1,
              "sbk_http_connections %r" % metric(text,
                                                 "sbk_http_connections"))

        # A reload puts a new cap in force at once.
        with open(d.conf) as f:
            conf = f.read()
        with open(d.conf, "w") as f:
            f.write(conf.replace("metrics_max_connections = 4",
                                 "metrics_max_connections = 2"))
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while metric(d.scrape(), "sbk_config_generation") != 2:
            check(time.monotonic() < deadline, "the reload did not happen")
            time.sleep(0.05)
        time.sleep(0.2)
        conns = [d.connect() for _ in range(5)]
        refused = count_refused(conns, 3)
        for s in conns:
            s.close()
        print("cap after a reload to 2: %d of 5 refused" % refused)
        check(refused == 3, "%d of 5 refused with a cap of 2" % refused)
    finally:
        log = d.stop()
    check(d.proc.returncode == 0, "exit %r: %s" % (d.proc.returncode, log))


def slowloris(tmp):
    d = Sbkd(tmp, "slow", "metrics_request_timeout_s = 2\n")
    try:
        s = d.connect()
        s.settimeout(0.3)
        head = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 1000
        start = time.monotonic()
        closed_after = None
        for i in range(len(head)):
            try:
                s.send(head[i:i + 1])
                data = s.recv(4096)
                if data == b"" or data.startswith(b"HTTP/1.1 408"):
                    closed_after = time.monotonic() - start
                    break
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - start
                break
            if time.monotonic() - start > 6:
                break
        s.close()
        print("slowloris: closed after %s s" % (
            "%.1f" % closed_after if closed_after else "never"))
        check(closed_after is not None, "a slowloris client kept its "
              "connection for 6 s with a 2 s deadline")
        text = d.scrape()
        check(text.startswith(b"HTTP/1.1 200"), "scrape after")
        check(metric(text, "sbk_http_timed_out_total") == 1,
              "sbk_http_timed_out_total %r"
              % metric(text, "sbk_http_timed_out_total"))
    finally:
        log = d.stop()
    check(d.proc.returncode == 0, "exit %r: %s" % (d.proc.returncode, log))


def reserve(tmp):
    d = Sbkd(tmp, "fds", "metrics_max_connections = 500\n", nofile=64)
    conns = []
    try:
        for _ in range(120):
            try:
                conns.append(d.connect(timeout=2))
            except OSError:
                break
        time.sleep(0.3)
        try:
            reply = d.ping()
        except OSError as e:
            reply = repr(e)
        print("reserve: %d HTTP connections opened; ping: %r"
              % (len(conns), reply))
        check(reply is not None and reply.get("result") == {"pong": True},
              "a UNIX-socket client was refused while HTTP held the "
              "descriptors: %r" % (reply,))
    finally:
        for s in conns:
            s.close()
        log = d.stop()
    check(d.proc.returncode == 0, "exit %r: %s" % (d.proc.returncode, log))


def backlog(tmp):
    ss = shutil.which("ss")
    if ss is None:
        print("backlog: no ss; not checked")
        return
    d = Sbkd(tmp, "backlog")
    try:
        out = subprocess.run([ss, "-Hltn", "sport = :%d" % d.port],
                             capture_output=True, text=True, timeout=10)
        fields = out.stdout.split()
        print("backlog: %r" % out.stdout.strip())
        check(len(fields) >= 3 and int(fields[2]) >= 128,
              "listen backlog %r" % out.stdout)
    finally:
        d.stop()


def rate(tmp):
    d = Sbkd(tmp, "rate", "metrics_max_requests_per_s = 20\n")
    try:
        time.sleep(1.1)  # a full bucket: 20 tokens
        s = d.connect()
        start = time.monotonic()
        s.sendall(REQ * 50)
        buf = b""
        for i in range(50):
            status, buf = read_response(s, buf)
            check(status.startswith(b"HTTP/1.1 200"), "%d: %r" % (i, status))
        took = time.monotonic() - start
        s.close()
        print("rate: 50 pipelined requests at 20/s answered in %.1f s"
              % took)
        # 20 from the bucket, 30 more at 20/s: 1.5 s at the least.
        check(took >= 1.4, "50 requests in %.2f s at 20/s" % took)
    finally:
        log = d.stop()
    check(d.proc.returncode == 0, "exit %r: %s" % (d.proc.returncode, log))


def raw(d, data):
    """Send data, read until sbkd closes (or 0.5 s of quiet): (status line,
    whether sbkd closed)."""
    s = d.connect()
    s.sendall(data)
    s.settimeout(0.5)
    out, closed = b"", False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return out.split(b"\r\n")[0].decode(), closed


def protocol(tmp):
    d = Sbkd(tmp, "proto")
    try:
        for data, status, closed in (
                (b"GET /metrics HTTP/2.0\r\n\r\n", "505", True),
                (b"garbage\r\n\r\n", "400", True),
                (b"GET /metrics HTTP/1.1\r\nbad header\r\n\r\n", "400",
                 True),
                (b"GET /met\0rics HTTP/1.1\r\n\r\n", "400", True),
                (b"POST /metrics HTTP/1.1\r\n\r\n", "405", True),
                (b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
                 b"hello", "413", True),
                (b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked"
                 b"\r\n\r\n0\r\n\r\n", "413", True),
                (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 +
                 b"\r\n\r\n", "431", True),
                (b"GET /metrics HTTP/1.1\nConnection: close\n\n", "200",
                 True),
                (b"\r\nGET /metrics?x HTTP/1.0\r\n\r\n", "200", True),
                (b"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n"
                 b"\r\n", "200", False),
                (b"GET /metrics HTTP/1.1\r\n\r\n", "200", False),
                (b"GET /x HTTP/1.1\r\n\r\n", "404", False)):
            line, was_closed = raw(d, data)
            check(line.split(" ")[1:2] == [status] and was_closed == closed,
                  "%r: %r, closed %r (want %s, closed %r)"
                  % (data[:60], line, was_closed, status, closed))
        print("protocol: 13 requests answered as they should")
    finally:
        log = d.stop()
    check(d.proc.returncode == 0, "exit %r: %s" % (d.proc.returncode, log))


PARTS = {"protocol": protocol, "rate": rate, "pipeline": pipeline, "cap": cap, "slowloris": slowloris,
         "reserve": reserve, "backlog": backlog}


def main():
    tmp = tempfile.mkdtemp(prefix="sbk-http-")
    try:
        for name in sys.argv[1:] or PARTS:
            PARTS[name](tmp)
        print("http limits: OK")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
