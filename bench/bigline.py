#!/usr/bin/env python3
"""bigline.py - ping latency while other clients send big request lines.

Starts BUILD/daemon/sbkd with the default configuration on a temporary
socket; two clients each send 4 MB zstd.compress lines whose params hold
~300,000 members, back to back (a new one as soon as the last is answered) while a third sends a ping every 2 ms
and times each round trip.  Prints the ping p50/p99/max and sbkd's
loop.lag_max_us.  Issue 11 defect 4: before the fix the JSON of a big line
was walked and freed on the event thread.

usage: bench/bigline.py BUILD_DIR [SECONDS]
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

build = sys.argv[1]
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
work = tempfile.mkdtemp(prefix="sbk-bigline.")
sock = os.path.join(work, "sock")
conf = os.path.join(work, "sbkd.conf")
open(conf, "w").close()
daemon = subprocess.Popen([os.path.join(build, "daemon/sbkd"), "-c", conf,
                           "-s", sock], stderr=subprocess.DEVNULL)
for _ in range(200):
    if os.path.exists(sock):
        break
    time.sleep(0.05)

stop = False
# A line just under max_request_bytes (4194304) whose params object has
# ~300,000 members: cheap to send, costly to walk and free (the issue's
# 11 MiB / 1M-member line, at the default limit).  Answered -32602.
members = []
size = 0
i = 0
while size < 4_150_000:
    m = '"m%d":0' % i
    members.append(m)
    size += len(m) + 1
    i += 1
line = ('{"jsonrpc":"2.0","id":1,"method":"zstd.compress","params":{%s}}\n'
        % ",".join(members)).encode()
assert len(line) <= 4194305


def big_client():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    f = s.makefile("rb")
    while not stop:
        s.sendall(line)
        f.readline()


def call(s, f, obj):
    s.sendall((json.dumps(obj) + "\n").encode())
    return json.loads(f.readline())


threads = [threading.Thread(target=big_client, daemon=True) for _ in range(2)]
for t in threads:
    t.start()
time.sleep(0.5)
p = socket.socket(socket.AF_UNIX)
p.connect(sock)
pf = p.makefile("rb")
rtts = []
end = time.monotonic() + secs
while time.monotonic() < end:
    t0 = time.monotonic()
    call(p, pf, {"jsonrpc": "2.0", "id": 2, "method": "ping"})
    rtts.append(time.monotonic() - t0)
    time.sleep(0.002)
st = call(p, pf, {"jsonrpc": "2.0", "id": 3, "method": "stats"})["result"]
stop = True
daemon.terminate()
daemon.wait()
rtts.sort()


def q(x):
    return rtts[min(len(rtts) - 1, int(x * len(rtts)))] * 1000


print("pings %d  p50 %.3f ms  p99 %.3f ms  max %.3f ms  lag_max_us %d  "
      "big lines answered %d" % (len(rtts), q(0.5), q(0.99), rtts[-1] * 1000,
                                 st["loop"]["lag_max_us"],
                                 st["jobs"]["failed"] + st["jobs"]["completed"]))
