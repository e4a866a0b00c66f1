#!/usr/bin/env python3
"""soak.py - a long mixed load against one sbkd, with accounting.

Starts sbkd (test methods on, a read root holding a 256 KiB file) and runs
REQUESTS mixed requests -- ping, spin, sleep, argon2.hash/verify at a low
cost (m_cost_kib 64, t_cost 1), zstd compress/decompress inline, file.read
-- over CONNS connections, each keeping up to WINDOW requests in flight.
After each reply a client disconnects with probability DISCONNECT while
requests are still in flight (sometimes in the middle of writing a line),
then reconnects.

Checks, each printed and all required for exit status 0:
- every request sent on a connection that stayed open until its replies
  were in was answered exactly once (no reply missing, none unknown or
  duplicated), with a well-formed result or a contract error;
- VmRSS after the run is within 5% of VmRSS after the warm-up phase;
- the open fd count returns to its idle value;
- sbkd is still alive and answers ping, and exits 0 on SIGTERM.

Usage: soak.py [--sbkd PATH] [--requests N] [--conns N] [--window N]
               [--disconnect P] [--warmup N] [--seed N] [--json FILE]
               [--wrapper 'valgrind --leak-check=full ...'] [--chunks N]
               [--malloc unit|glibc]

sbkd runs with the Environment= of systemd/sbkd.service.in (the allocator
tuning the service ships) unless --malloc glibc.
"""

import argparse
import asyncio
import base64
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soaklib  # noqa: E402

CONF = """[daemon]
max_connections = 1024
enable_test_methods = true
shutdown_timeout_s = 30
[pool]
cpu_workers = 2
io_workers = 8
queue_max = 4096
max_inflight_per_conn = 128
[argon2]
t_cost = 1
m_cost_kib = 64
[files]
read_roots = @DIR@/in
"""

FILE_SIZE = 256 * 1024
# Contract errors a valid request may get under this load.
OK_ERRORS = {-32000}


class Tally:
    def __init__(self):
        self.sent = 0
        self.answered = 0
        self.abandoned = 0       # in flight on a connection we dropped
        self.unexpected = 0      # reply to no request in flight (dup/unknown)
        self.bad = 0             # malformed result, or an unexpected error
        self.disconnects = 0
        self.partial_lines = 0
        self.by_method = {}
        self.errors = {}
        self.bad_samples = []

    def merge(self, o):
        for k in ("sent", "answered", "abandoned", "unexpected", "bad",
                  "disconnects", "partial_lines"):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        for k, v in o.by_method.items():
            self.by_method[k] = self.by_method.get(k, 0) + v
        for k, v in o.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        self.bad_samples += o.bad_samples[:5]


class Mix:
    """The request mix; a payload for zstd and a hash for verify."""

    def __init__(self, rng, fpath):
        self.rng = rng
        self.fpath = fpath
        text = (b"sbk soak payload " * 64)[:1000]
        self.plain_b64 = base64.b64encode(text).decode()
        self.zst_b64 = None      # set from the first compress reply
        self.phc = None          # set from the first hash reply
        self.table = [
            (30, "ping"), (15, "sleep"), (10, "spin"), (8, "argon2.hash"),
            (4, "argon2.verify"), (13, "zstd.compress"),
            (5, "zstd.decompress"), (15, "file.read"),
        ]
        self.total = sum(w for w, _ in self.table)

    def pick(self):
        r = self.rng.randrange(self.total)
        for w, m in self.table:
            if r < w:
                break
            r -= w
        rng = self.rng
        if m == "ping":
            return m, None
        if m == "sleep":
            return m, {"ms": rng.choice((0, 0, 1, 2))}
        if m == "spin":
            return m, {"ms": 1 if rng.random() < 0.2 else 0}
        if m == "argon2.hash":
            return m, {"password": "pw%d" % rng.randrange(1000),
                       "t_cost": 1, "m_cost_kib": 64, "parallelism": 1}
        if m == "argon2.verify" and self.phc:
            return m, {"password": "soak", "hash": self.phc}
        if m == "zstd.decompress" and self.zst_b64:
            return m, {"data_b64": self.zst_b64}
        if m == "file.read":
            off = rng.randrange(FILE_SIZE)
            return m, {"path": self.fpath, "offset": off,
                       "length": rng.randrange(1, 16384)}
        if m in ("argon2.verify", "zstd.decompress"):
            return "ping", None
        return "zstd.compress", {"data_b64": self.plain_b64, "level": 1}

    def check(self, method, res):
        if method == "ping":
            return res == {"pong": True}
        if method == "sleep":
            return isinstance(res.get("slept_ms"), int)
        if method == "spin":
            return isinstance(res.get("spun_ms"), int)
        if method == "argon2.hash":
            return res.get("hash", "").startswith("$argon2id$v=19$m=64,t=1")
        if method == "argon2.verify":
            return res.get("valid") is True
        if method == "zstd.compress":
            if self.zst_b64 is None:
                self.zst_b64 = res["data_b64"]
            return res.get("bytes_in") == 1000
        if method == "zstd.decompress":
            return res.get("data_b64") == self.plain_b64
        if method == "file.read":
            return "data_b64" in res and res.get("size") == FILE_SIZE
        return False


async def client(idx, sock, quota, args, mix, tally, rng):
    """Send quota requests over one connection (reconnecting as needed)."""
    next_id = 0
    while quota > 0:
        reader, writer = await asyncio.open_unix_connection(
            sock, limit=1 << 24)
        inflight = {}
        dropped = False
        while quota > 0 or inflight:
            while quota > 0 and len(inflight) < args.window:
                method, params = mix.pick()
                next_id += 1
                rid = "c%d-%d" % (idx, next_id) if next_id % 2 else \
                    idx * 10**9 + next_id
                req = {"jsonrpc": "2.0", "id": rid, "method": method}
                if params is not None:
                    req["params"] = params
                writer.write((json.dumps(req, separators=(",", ":")) +
                              "\n").encode())
                inflight[json.dumps(rid)] = method
                quota -= 1
                tally.sent += 1
            await writer.drain()
            line = await reader.readline()
            if not line:
                tally.bad += 1
                tally.bad_samples.append("connection closed by sbkd with "
                                         "%d in flight" % len(inflight))
                tally.abandoned += len(inflight)
                inflight.clear()
                break
            msg = json.loads(line)
            key = json.dumps(msg.get("id"))
            method = inflight.pop(key, None)
            if method is None:
                tally.unexpected += 1
                if len(tally.bad_samples) < 5:
                    tally.bad_samples.append("unexpected: %s" % line[:200])
                continue
            tally.answered += 1
            tally.by_method[method] = tally.by_method.get(method, 0) + 1
            if "error" in msg:
                code = msg["error"]["code"]
                tally.errors[code] = tally.errors.get(code, 0) + 1
                if code not in OK_ERRORS:
                    tally.bad += 1
                    if len(tally.bad_samples) < 5:
                        tally.bad_samples.append("%s: %s" % (method,
                                                             line[:300]))
            elif not mix.check(method, msg.get("result", {})):
                tally.bad += 1
                if len(tally.bad_samples) < 5:
                    tally.bad_samples.append("%s: %s" % (method, line[:300]))
            if inflight and rng.random() < args.disconnect:
                # Vanish mid-flight, sometimes in the middle of a line.
                if rng.random() < 0.5:
                    writer.write(b'{"jsonrpc":"2.0","id":"half","meth')
                    tally.partial_lines += 1
                tally.abandoned += len(inflight)
                tally.disconnects += 1
                writer.transport.abort()
                dropped = True
                break
        if not dropped:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass


async def phase(sock, n, args, mix, seed):
    tallies = [Tally() for _ in range(args.conns)]
    per = [n // args.conns + (1 if i < n % args.conns else 0)
           for i in range(args.conns)]
    await asyncio.gather(*(client(i, sock, per[i], args, mix, tallies[i],
                                  random.Random(seed * 1000 + i))
                           for i in range(args.conns)))
    total = Tally()
    for t in tallies:
        total.merge(t)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sbkd")
    ap.add_argument("--requests", type=int, default=1000000)
    ap.add_argument("--warmup", type=int, default=300000)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--disconnect", type=float, default=0.0005)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunks", type=int, default=5,
                    help="sample RSS (idle) after each of N parts")
    ap.add_argument("--json")
    ap.add_argument("--malloc", choices=("unit", "glibc"), default="unit",
                    help="unit: sbkd gets the Environment= of "
                    "systemd/sbkd.service.in (its allocator tuning); glibc: "
                    "the environment as it is")
    ap.add_argument("--wrapper", help="command prefix for sbkd, e.g. "
                    "'valgrind --leak-check=full' (split on spaces)")
    args = ap.parse_args()

    def prepare(dirname):
        os.mkdir(os.path.join(dirname, "in"))
        with open(os.path.join(dirname, "in", "data"), "wb") as f:
            f.write(os.urandom(FILE_SIZE))

    unit = args.malloc == "unit"
    env = soaklib.unit_environment() if unit else {}
    print("soak: sbkd environment: %s" %
          (" ".join("%s=%s" % kv for kv in sorted(env.items())) or
           "as inherited"), flush=True)
    d = soaklib.Daemon(soaklib.find_sbkd(args.sbkd), CONF, prepare=prepare,
                       unit_env=unit,
                       wrapper=args.wrapper.split() if args.wrapper else None)
    fpath = os.path.join(d.dir, "in", "data")
    mix = Mix(random.Random(args.seed), fpath)
    # A hash to verify, made by this sbkd.
    c = soaklib.Conn(d)
    mix.phc = c.call("argon2.hash", {"password": "soak", "t_cost": 1,
                                     "m_cost_kib": 64})["result"]["hash"]
    c.close()
    time.sleep(0.5)
    idle_fds = d.fds()
    rss_start = d.rss_kib()
    print("soak: sbkd pid %d, idle fds %d, RSS at start %d KiB" %
          (d.pid, idle_fds, rss_start), flush=True)

    t0 = time.monotonic()
    trims = soaklib.heap_trims(d)
    warm = asyncio.run(phase(d.sock, args.warmup, args, mix, args.seed))
    soaklib.settle(d, idle_fds, trims)
    rss_warm = d.rss_kib()
    t1 = time.monotonic()
    print("soak: warm-up %d requests in %.1f s, RSS %d KiB, fds %d" %
          (warm.sent, t1 - t0, rss_warm, d.fds()), flush=True)
    cpu0 = d.cpu_s()
    # In --chunks parts, each followed by a quiet moment and an RSS
    # sample: a plateau means allocator caches, a slope a runtime leak.
    main_t = Tally()
    rss_trend = []
    pause_s = 0.0
    for k in range(args.chunks):
        n = args.requests // args.chunks + \
            (1 if k < args.requests % args.chunks else 0)
        trims = soaklib.heap_trims(d)
        main_t.merge(asyncio.run(phase(d.sock, n, args, mix,
                                       args.seed + 1 + k)))
        if k + 1 < args.chunks:
            p0 = time.monotonic()
            soaklib.settle(d, idle_fds, trims)
            rss_trend.append(d.rss_kib())
            print("soak: after %d requests RSS %d KiB" %
                  (main_t.sent, rss_trend[-1]), flush=True)
            pause_s += time.monotonic() - p0
    t2 = time.monotonic() - pause_s
    cpu1 = d.cpu_s()
    soaklib.settle(d, idle_fds, trims)
    rss_end = d.rss_kib()
    rss_trend.append(rss_end)
    fds_end = d.fds()
    st = soaklib.stats(d)
    alive = d.alive()
    rc = d.stop()

    checked = main_t.sent - main_t.abandoned
    rss_delta = (rss_end - rss_warm) * 100.0 / rss_warm
    results = {
        "requests": main_t.sent,
        "seconds": round(t2 - t1, 1),
        "rate_per_s": round(main_t.sent / (t2 - t1)),
        "sbkd_cpu_s": round(cpu1 - cpu0, 1),
        "connections": args.conns,
        "window": args.window,
        "disconnects": main_t.disconnects,
        "partial_lines": main_t.partial_lines,
        "abandoned_in_flight": main_t.abandoned,
        "checked": checked,
        "answered": main_t.answered,
        "unexpected": main_t.unexpected,
        "bad": main_t.bad,
        "bad_samples": main_t.bad_samples,
        "errors": {str(k): v for k, v in sorted(main_t.errors.items())},
        "by_method": main_t.by_method,
        "rss_start_kib": rss_start,
        "rss_warm_kib": rss_warm,
        "rss_end_kib": rss_end,
        "rss_delta_pct": round(rss_delta, 2),
        "rss_trend_kib": rss_trend,
        "fds_idle": idle_fds,
        "fds_end": fds_end,
        "stats_jobs": st["jobs"],
        "exit_status": rc,
    }
    checks = [
        ("every request on a kept connection answered exactly once",
         main_t.answered == checked and main_t.unexpected == 0),
        ("every reply well-formed (results checked, errors only -32000)",
         main_t.bad == 0),
        ("RSS after run within 5%% of after warm-up (%+.2f%%)" % rss_delta,
         abs(rss_delta) <= 5.0),
        ("fd count back to idle (%d -> %d)" % (idle_fds, fds_end),
         fds_end == idle_fds),
        ("sbkd alive, then exit 0 on SIGTERM (%s)" % rc, alive and rc == 0),
    ]
    results["checks"] = {name: ok for name, ok in checks}
    print(json.dumps(results, indent=1))
    for name, ok in checks:
        print("soak: %s %s" % ("PASS" if ok else "FAIL", name))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
