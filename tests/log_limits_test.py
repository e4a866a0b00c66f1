#!/usr/bin/env python3
"""sbkd's log against hostile clients (issue 19 items 8 and 9), with a
real $SBKD at log_level = debug:

  secrets  unparsable lines holding a known password (an argon2.verify
           with a trailing comma, short and long, and one through the
           worker-side parse of big lines): the password never appears in
           the log; the size and position of the error do, for every
           one of them (the big line's too).
  flood    for 2 s each, from one uid: 1-byte garbage lines, pings with
           log_jobs on, connect/close cycles, and connects refused by
           [access].  With log_rate_interval_s = 1 and log_rate_burst = 5
           the log may grow by at most (windows) x 4 kinds x (5 + 1) lines
           x 256 bytes (the bound documented in sbkd.conf(5)), and a
           "suppressed" line must say what was dropped.

Run one part with argv[1]; both without.  Exit 0 on success."""

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PASSWORD = "S3cret-Passw0rd!"
INTERVAL, BURST, KINDS, LINE_MAX = 1, 5, 4, 256


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Sbkd:
    def __init__(self, tmp, name, extra=""):
        self.path = os.path.join(tmp, name + ".sock")
        conf = os.path.join(tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nsocket = %s\nlog_level = debug\n"
                    "enable_test_methods = true\n%s"
                    "[pool]\ncpu_workers = 1\nio_workers = 1\n"
                    % (self.path, extra))
        self.logpath = os.path.join(tmp, name + ".log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen([os.environ["SBKD"], "-c", conf],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.path):
            check(self.proc.poll() is None,
                  "sbkd exited %r" % self.proc.returncode)
            check(time.monotonic() < deadline, "sbkd did not come up")
            time.sleep(0.05)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.path)
        return s

    def size(self):
        return os.path.getsize(self.logpath)

    def text(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def replies(s, n):
    buf = b""
    while buf.count(b"\n") < n:
        chunk = s.recv(65536)
        check(chunk, "closed after %d of %d replies" % (buf.count(b"\n"), n))
        buf += chunk
    return [json.loads(x) for x in buf.split(b"\n")[:n]]


def replies_raw(s, n):
    got = 0
    while got < n:
        chunk = s.recv(1 << 20)
        check(chunk, "closed after %d of %d replies" % (got, n))
        got += chunk.count(b"\n")


def secrets(tmp):
    d = Sbkd(tmp, "secrets")
    try:
        s = d.connect()
        lines = [
            # The reproduction: a trailing comma.
            '{"jsonrpc":"2.0","id":1,"method":"argon2.verify","params":'
            '{"password":"%s","hash":"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ'
            '$aGFzaGhhc2hoYXNo"},}' % PASSWORD,
            # The password first, the error far behind it.
            '{"password":"%s","pad":"%s"' % (PASSWORD, "p" * 300),
            # The password after the first 100 bytes.
            '{"pad":"%s","password":"%s"]' % ("q" * 200, PASSWORD),
            # Not JSON at all, the password bare.
            'verify %s please' % PASSWORD,
        ]
        for line in lines:
            s.sendall(line.encode() + b"\n")
        for r in replies(s, len(lines)):
            check(r.get("error", {}).get("code") == -32700, "reply %r" % r)
        # A big line (parsed off the event thread), also unparsable.
        big = '{"password":"%s","pad":"%s",}' % (PASSWORD, "z" * 300000)
        s.sendall(big.encode() + b"\n")
        check(replies(s, 1)[0].get("error", {}).get("code") == -32700,
              "big line")
        # A valid request carrying it still works and logs nothing of it.
        s.sendall(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "ping",
                              "params": {"password": PASSWORD}}).encode()
                  + b"\n")
        replies(s, 1)
        s.close()
        time.sleep(0.2)
    finally:
        rc = d.stop()
    text = d.text()
    check(rc == 0, "exit %r" % rc)
    check("unparsable" in text, "no unparsable-line entry: %r" % text)
    # Each unparsable line is logged, the big one (parser lane) too.
    for line in lines + [big]:
        entry = "unparsable line of %d bytes" % len(line.encode())
        check(entry in text, "no %r in the log:\n%s" % (entry, text))
    for needle in (PASSWORD, "S3cret", "Passw0rd", PASSWORD.encode().hex()):
        check(needle not in text, "%r in the log:\n%s" % (needle, text))
    print("secrets: no password in %d bytes of debug log" % len(text))


def flood_for(seconds, fn):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += fn()
    return n


def garbage(d):
    s = d.connect()
    chunk = b"x\n" * 4096

    def send():
        s.sendall(chunk)
        replies_raw(s, 4096)  # lock step: no output piles up
        return 4096
    n = flood_for(2, send)
    s.close()
    return n


def pings(d):
    s = d.connect()
    req = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n' * 64

    def send():
        s.sendall(req)
        replies(s, 64)
        return 64
    n = flood_for(2, send)
    s.close()
    return n


def connects(d):
    def one():
        try:
            d.connect().close()
        except OSError:
            pass
        return 1
    return flood_for(2, one)


def flood(tmp):
    limits = "log_rate_interval_s = %d\nlog_rate_burst = %d\n" % (INTERVAL,
                                                                 BURST)
    refused = "[access]\nallow_uids = %d\n" % (os.getuid() + 1)
    for name, extra, fn in (
            ("garbage", limits, garbage),
            ("jobs", limits + "log_jobs = true\n", pings),
            ("connects", limits, connects),
            ("refused", limits + refused, connects)):
        d = Sbkd(tmp, name, extra)
        try:
            time.sleep(0.2)
            before = d.size()
            start = time.monotonic()
            n = fn(d)
            time.sleep(0.3)  # what sbkd still has to log
            elapsed = time.monotonic() - start
            grown = d.size() - before
        finally:
            rc = d.stop()
        windows = math.ceil(elapsed / INTERVAL) + 1
        bound = windows * KINDS * (BURST + 1) * LINE_MAX
        text = d.text()
        print("%s: %d sent in 2 s, log +%d bytes in %.1f s (bound %d)"
              % (name, n, grown, elapsed, bound))
        check(rc == 0, "%s: exit %r" % (name, rc))
        check(grown <= bound, "%s: the log grew by %d bytes, over the "
              "bound of %d:\n%s" % (name, grown, bound, text[-3000:]))
        check("suppressed" in text, "%s: no 'suppressed' line:\n%s"
              % (name, text[-3000:]))


PARTS = {"secrets": secrets, "flood": flood}


def main():
    tmp = tempfile.mkdtemp(prefix="sbk-log-")
    try:
        for name in sys.argv[1:] or PARTS:
            PARTS[name](tmp)
        print("log limits: OK")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
