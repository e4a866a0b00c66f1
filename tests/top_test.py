#!/usr/bin/env python3
"""`sbkctl top` against a real sbkd ($SBKD, $SBKCTL) under a little load:
the plain mode (`top -n 3 | cat`: three snapshots, no escape sequences),
and through a pseudo-terminal: the width fits TIOCSWINSZ, a resize
(TIOCSWINSZ + SIGWINCH) redraws at the new width, `q` and ^C quit with
exit 0 and restore the terminal (main screen, cursor, echo), colour only
without NO_COLOR.  Exit 0 on success."""

import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def load(path, stop):
    """Keep a few sleep and spin jobs going until stop is set."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(path)
    f = s.makefile("rb")
    n = 0
    while not stop.is_set():
        for m, ms in (("sleep", 20), ("spin", 2), ("sleep", 5)):
            n += 1
            s.sendall(json.dumps({"jsonrpc": "2.0", "id": n, "method": m,
                                  "params": {"ms": ms}}).encode() + b"\n")
        for _ in range(3):
            f.readline()
    s.close()


def winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def read_until(fd, buf, pred, secs=20):
    deadline = time.monotonic() + secs
    while not pred(buf):
        left = deadline - time.monotonic()
        check(left > 0, "timed out; screen so far: %r" % buf[-2000:])
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                return buf
            buf += chunk
    return buf


def screens(raw):
    """The text of each complete redraw (split at clear-screen, ending
    with the key help line), escapes and the tty's \\r removed."""
    text = raw.decode(errors="replace")
    parts = [ESC.sub("", p).replace("\r", "")
             for p in text.split("\x1b[H\x1b[2J")[1:]]
    return [p for p in parts if "q: quit" in p]


def pty_top(sbkctl, sock, env, rows, cols):
    pid, fd = pty.fork()
    if pid == 0:
        try:
            winsize(0, rows, cols)
            os.execve(sbkctl, [sbkctl, "-s", sock, "top", "-d", "0.2"], env)
        finally:
            os._exit(127)
    return pid, fd


def wait_exit(pid, secs=10):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("sbkctl top did not quit")


def tty_session(sbkctl, sock, env, quit_key):
    pid, fd = pty_top(sbkctl, sock, env, 30, 40)
    try:
        buf = read_until(fd, b"", lambda b: len([s for s in screens(b)
                                                 if "METHOD" in s]) >= 2)
        narrow = [s for s in screens(buf) if "METHOD" in s][-1]
        lines = narrow.split("\n")
        check(all(len(l) <= 40 for l in lines),
              "wider than 40 columns: %r" % lines)
        check(any(len(l) == 40 for l in lines), "nothing cut at 40")
        # Resize: the kernel sends SIGWINCH on TIOCSWINSZ; send one too.
        winsize(fd, 30, 120)
        mark = len(buf)
        buf = read_until(fd, buf, lambda b: any(
            "METHOD" in s and any(len(l) > 40 for l in
                                  s.split("\n"))
            for s in screens(b[mark:])))
        wide = [s for s in screens(buf[mark:]) if "METHOD" in s][-1]
        check("sleep" in wide and "spin" in wide, "methods: %r" % wide)
        check(max(len(l) for l in wide.split("\n")) <= 120,
              "wider than 120")
        # Echo is off while top runs.
        attrs = termios.tcgetattr(fd)
        check(not attrs[3] & termios.ECHO, "echo on while running")
        os.write(fd, quit_key)
        buf = read_until(fd, buf, lambda b: b.endswith(b"\x1b[?1049l"))
        rc = wait_exit(pid)
        check(rc == 0, "exit %r after %r" % (rc, quit_key))
        check(b"\x1b[?1049h" in buf and b"\x1b[?25h" in buf,
              "alternate screen or cursor not restored")
        attrs = termios.tcgetattr(fd)
        check(attrs[3] & termios.ECHO and attrs[3] & termios.ICANON,
              "terminal modes not restored")
        return buf
    finally:
        os.close(fd)


def main():
    sbkd, sbkctl = os.environ["SBKD"], os.environ["SBKCTL"]
    tmp = tempfile.mkdtemp(prefix="sbk-top-")
    sock = os.path.join(tmp, "s.sock")
    conf = os.path.join(tmp, "c.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nsocket = %s\nenable_test_methods = true\n" % sock)
    log = open(os.path.join(tmp, "sbkd.log"), "w+")
    proc = subprocess.Popen([sbkd, "-c", conf], stdout=log, stderr=log)
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            check(proc.poll() is None, "sbkd exited")
            check(time.monotonic() < deadline, "sbkd did not come up")
            time.sleep(0.05)
        loaders = [threading.Thread(target=load, args=(sock, stop))
                   for _ in range(2)]
        for t in loaders:
            t.start()
        env = dict(os.environ)
        env.pop("NO_COLOR", None)

        # Not a tty: three plain snapshots.
        r = subprocess.run([sbkctl, "-s", sock, "top", "-n", "3", "-d",
                            "0.3"], capture_output=True, env=env,
                           timeout=60, text=True)
        check(r.returncode == 0, "plain exit %d: %s" % (r.returncode,
                                                      r.stderr))
        check("\x1b" not in r.stdout, "escape sequence in plain mode")
        check(r.stdout.count("\nMETHOD ") == 3 and
              len(re.findall(r"^sbkd  \d\d:\d\d:\d\d", r.stdout, re.M)) == 3,
              "not three snapshots: %r" % r.stdout)
        snap = r.stdout.split("\n\n\n")[-1]
        for what in ("queue ", "workers  cpu", "rejected", "timed out",
                     "cancelled", "loop lag p99", "argon2 ", "clients"):
            check(what in r.stdout, "%r missing: %r" % (what, r.stdout))
        m = re.search(r"^sleep +([0-9.]+) +(\S+) +(\S+)", r.stdout, re.M)
        check(m and float(m.group(1)) > 0 and m.group(2) != "-",
              "no sleep rate or p50: %r" % r.stdout)
        if os.geteuid() == 0:  # uid 0 is an admin peer: admin.clients
            check(re.search(r"^PID +UID +INFLIGHT +WAITING +UNSENT", r.stdout,
                            re.M) and re.search(r"^\d+ +0 +\d+", r.stdout,
                                                re.M),
                  "no busiest clients for root: %r" % r.stdout)
        r = subprocess.run([sbkctl, "-s", sock, "top", "-d", "x"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and "bad value" in r.stderr,
              "-d x: %d %r" % (r.returncode, r.stderr))

        # A tty: width, resize, q; colour on.
        buf = tty_session(sbkctl, sock, env, b"q")
        check(b"\x1b[1m" in buf, "no colour on a tty")
        # ^C, and NO_COLOR: no colour.
        env["NO_COLOR"] = "1"
        buf = tty_session(sbkctl, sock, env, b"\x03")
        check(b"\x1b[1m" not in buf and b"\x1b[1;31m" not in buf,
              "colour despite NO_COLOR")
        print("top: plain, pty, resize, q, ^C, NO_COLOR ok")
        return 0
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=30)
        log.seek(0)
        sys.stderr.write("--- sbkd log ---\n" + log.read())
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
