#!/usr/bin/env python3
"""Socket activation for real: systemd-socket-activate (Debian's systemd
package) listens on a socket in a temporary directory and starts $SBKD on
the first connection with LISTEN_FDS=1, as sbkd.socket would.  Checks
that sbkd answers ping and stats through the passed socket, that it tells
a NOTIFY_SOCKET READY=1, then WATCHDOG=1 when WATCHDOG_USEC asks for it,
and STOPPING=1 on SIGTERM, and that after it exits 0 the socket file is
still there (under socket activation it belongs to systemd: contract,
Process).  Exit 0 on success, 77 when systemd-socket-activate is
missing."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def call(sock, buf, method, id_):
    sock.sendall(json.dumps({"jsonrpc": "2.0", "id": id_,
                             "method": method}).encode() + b"\n")
    while b"\n" not in buf[0]:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("sbkd closed the connection")
        buf[0] += chunk
    line, buf[0] = buf[0].split(b"\n", 1)
    reply = json.loads(line)
    check(reply.get("id") == id_, "reply %r to id %r" % (reply, id_))
    return reply


def notifications(notify, until, want):
    """Datagrams from sbkd until `want` is among them or time runs out."""
    seen = []
    while time.monotonic() < until:
        notify.settimeout(max(0.01, until - time.monotonic()))
        try:
            msg = notify.recv(4096).decode()
        except socket.timeout:
            break
        seen.extend(msg.split("\n"))
        if any(m.startswith(want) for m in seen):
            break
    return seen


def main():
    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        print("systemd-socket-activate not found (Debian package systemd)")
        return 77
    sbkd = os.environ["SBKD"]
    tmp = tempfile.mkdtemp(prefix="sbk-activate-")
    proc = None
    log = open(os.path.join(tmp, "sbkd.log"), "w+")
    try:
        path = os.path.join(tmp, "sbkd.sock")
        conf = os.path.join(tmp, "sbkd.conf")
        with open(conf, "w") as f:
            # The configured socket is the same path: sbkd must neither
            # create nor remove it when it is handed one.
            f.write("[daemon]\nsocket = %s\nlog_level = debug\n"
                    "shutdown_timeout_s = 5\n[pool]\ncpu_workers = 1\n"
                    "io_workers = 1\n" % path)
        notify_path = os.path.join(tmp, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)

        env = dict(os.environ, NOTIFY_SOCKET=notify_path,
                   WATCHDOG_USEC="400000")
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        # systemd-socket-activate passes on only the variables named with
        # -E: the sanitizer options and a wrapper's settings (the
        # valgrind test setup's SBKD_REAL) too.
        keep = ["NOTIFY_SOCKET", "WATCHDOG_USEC"] + [
            k for k in ("PATH", "SBKD_REAL", "VALGRIND_OPTS", "ASAN_OPTIONS",
                        "UBSAN_OPTIONS", "LSAN_OPTIONS", "SBK_UNDER_VALGRIND")
            if k in env]
        args = [activate, "-l", path]
        for k in keep:
            args += ["-E", k]
        proc = subprocess.Popen(args + [sbkd, "-c", conf], env=env,
                                stdout=log, stderr=log)

        # systemd-socket-activate binds, then waits for a connection.
        deadline = time.monotonic() + 10
        while not os.path.exists(path):
            check(proc.poll() is None, "systemd-socket-activate exited")
            check(time.monotonic() < deadline, "socket never appeared")
            time.sleep(0.02)
        check(stat.S_ISSOCK(os.stat(path).st_mode), "not a socket")

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(path)
        buf = [b""]
        reply = call(sock, buf, "ping", 1)
        check(reply.get("result") == {"pong": True}, "ping: %r" % reply)
        reply = call(sock, buf, "stats", 2)
        check(reply["result"]["connections"] == 1, "stats: %r" % reply)

        seen = notifications(notify, time.monotonic() + 5, "READY=1")
        check("READY=1" in seen, "no READY=1, got %r" % seen)
        seen = notifications(notify, time.monotonic() + 5, "WATCHDOG=1")
        check("WATCHDOG=1" in seen, "no WATCHDOG=1, got %r" % seen)

        # The activated process is sbkd itself (exec'd, same pid).
        proc.send_signal(signal.SIGTERM)
        seen = notifications(notify, time.monotonic() + 5, "STOPPING=1")
        check("STOPPING=1" in seen, "no STOPPING=1, got %r" % seen)
        rc = proc.wait(timeout=15)
        proc = None
        check(rc == 0, "sbkd exited %d" % rc)
        check(os.path.exists(path) and
              stat.S_ISSOCK(os.stat(path).st_mode),
              "sbkd removed the socket systemd passed it")
        log.seek(0)
        text = log.read()
        check("socket passed by systemd" in text,
              "sbkd did not take the passed socket over:\n" + text)
        sock.close()
        notify.close()
        print("socket activation: ping, stats, READY/WATCHDOG/STOPPING, "
              "socket left in place")
        return 0
    except Exception:
        log.seek(0)
        sys.stderr.write("--- sbkd log ---\n" + log.read())
        raise
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
