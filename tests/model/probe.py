#!/usr/bin/env python3
"""probe.py SOCKET PID INTERVAL_MS - the fuzzer's prober, a process of its
own so that the driver's work (parsing megabytes of replies) never delays
it: every INTERVAL_MS it opens a fresh connection, sends `ping`, times the
reply, and samples sbkd's VmRSS and thread count from /proc.  One JSON line
per sample on stdout: {"t": s, "ms": ping ms, "net": ms, "rss": KiB,
"thr": N, "err": text or absent, "event_thread": {"STATE WCHAN": samples}
when the ping took over 20 ms}.  It stops when its stdin closes.

"net" is the ping's time less the time sbkd's event thread and this prober
spent runnable but waiting for a CPU during it (the second field of
/proc/TID/schedstat): what the machine's other load cost, not sbkd.  An
event thread that is blocked (waiting on a lock, a join) or busy in a
callback is not waiting for a CPU, so that time stays in "net".
"""

import json
import os
import select
import socket
import sys
import time

# A ping that takes longer than this is reported as this (and fails any
# sane limit); the prober must not hang with the event thread.
PING_TIMEOUT_S = 10


def run_delay_ns(path):
    """Time spent runnable, waiting for a CPU (schedstat's 2nd field)."""
    try:
        with open(path) as f:
            return int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def thread_state(task):
    """'state wchan' of the event thread, e.g. 'S futex_wait_queue' or
    'R 0', and then the other threads that are runnable, by nice value
    (CPU workers run at cpu_worker_nice): '... | R nice 10: 2'."""
    try:
        with open(task + "/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(task + "/wchan") as f:
            text = "%s %s" % (state, f.read().strip() or "0")
        tasks = os.path.dirname(task)
        nices = {}
        for tid in os.listdir(tasks):
            if os.path.join(tasks, tid) == task:
                continue
            try:
                with open(os.path.join(tasks, tid, "stat")) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "R":
                nices[fields[16]] = nices.get(fields[16], 0) + 1
        if nices:
            text += " | R " + ", ".join("nice %s: %d" % kv
                                        for kv in sorted(nices.items()))
        return text
    except OSError:
        return "?"


def ping(path, task, seen):
    """Ping on a fresh connection: (ms, error).  While it waits, the event
    thread's state is sampled every 20 ms into seen (a dict of counts), so
    a slow ping says where the event thread was: running (R), blocked in
    the kernel on I/O (D) or sleeping on a lock or a join (S futex...)."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(PING_TIMEOUT_S)
    try:
        s.connect(path)
        s.sendall(b'{"jsonrpc":"2.0","id":0,"method":"ping"}\n')
        buf = b""
        s.settimeout(0.02)
        while b"\n" not in buf:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                st = thread_state(task)
                seen[st] = seen.get(st, 0) + 1
                if time.monotonic() - t0 > PING_TIMEOUT_S:
                    raise OSError("no reply in %d s" % PING_TIMEOUT_S)
                continue
            if not chunk:
                raise OSError("closed without a reply")
            buf += chunk
        reply = json.loads(buf.split(b"\n", 1)[0])
        if reply.get("result") != {"pong": True}:
            raise OSError("ping answered %s" % buf[:200])
        return (time.monotonic() - t0) * 1000, None
    except (OSError, ValueError) as e:
        return (time.monotonic() - t0) * 1000, str(e)
    finally:
        s.close()


def sample(pid):
    rss = -1
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        thr = len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        thr = -1
    return rss, thr


def main():
    path, pid, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    start = time.monotonic()
    out = sys.stdout
    task = "/proc/%d/task/%d" % (pid, pid)  # the event thread
    event = task + "/schedstat"
    while True:
        t = time.monotonic()
        w0 = run_delay_ns(event) + run_delay_ns("/proc/self/schedstat")
        seen = {}
        ms, err = ping(path, task, seen)
        w1 = run_delay_ns(event) + run_delay_ns("/proc/self/schedstat")
        rss, thr = sample(pid)
        net = max(ms - (w1 - w0) / 1e6, 0)
        rec = {"t": round(t - start, 3), "ms": round(ms, 2),
               "net": round(net, 2), "rss": rss, "thr": thr}
        if err:
            rec["err"] = err
        if seen:
            rec["event_thread"] = seen
        out.write(json.dumps(rec) + "\n")
        out.flush()
        left = interval / 1000 - (time.monotonic() - t)
        r, _, _ = select.select([sys.stdin], [], [], max(left, 0))
        if r and not sys.stdin.buffer.read1(4096):
            return


if __name__ == "__main__":
    main()
