"""schedule - one seed becomes one plan: the configurations, the files,
the zstd frames and the whole list of client steps, chosen up front by
random.Random(seed) before sbkd starts.  Nothing here depends on what sbkd
answers, so the same seed gives the same plan on every machine (only the
kernel's timing differs between replays).

A step is a dict with "t" (milliseconds from the start of the run, when the
driver performs it) and "op":
  open      c, reader           new connection c; reader is its policy
  send      c, reqs, batch      requests pipelined in one write (batch:
                                 sent as one JSON array)
  raw       c, kind, size, ...  a line no request can be: "oversize"
                                 (over max_request_bytes)
  reader    c, reader           change how c is read: eager, tiny, paused
  cancel    c, req              a job.cancel of an earlier id of c
  shutdown  c                   shutdown(SHUT_WR) once c's output is sent
  close     c                   full close with whatever is in flight
  reload    cfg                 rewrite sbkd.conf (atomically), SIGHUP
A request (in "reqs") is a dict: "id" (int or str; None: a notification),
"method", "params", "expect" ("result" or an error code that must come)
and "also" (the error codes that may come instead: -32000 queue full,
-32001 with timeout_ms, -32002 once a cancel names it); "check" holds what
the reply must contain.
"""

import base64
import json
import random

# Fixed across every configuration of a plan, so that what a request must
# get never depends on which configuration was in force when it arrived.
MAX_REQUEST_BYTES = 1 << 20
MAX_READ_BYTES = 2 << 20
ZSTD_MAX_OUTPUT = 2 << 20
M_COST_MAX = 1024  # never over the smallest memory_budget_kib below

FILE_SIZES = (0, 100, 5000, 70000, 300000, 1500000)
# Frames the warm-up compresses (inline): name, size, kind of content.
FRAME_SPECS = (("text", 3000, "text"), ("rand", 40000, "random"),
               ("zeros1m", 1 << 20, "zeros"), ("bomb", 3 << 20, "zeros"))
PASSWORDS = ("correct horse", "battery staple")

EVENT_METHODS = ("ping", "stats", "job.cancel")

READERS = ("eager", "tiny", "paused", "never")


def content(seed, kind, size):
    """Deterministic bytes: text-like, random or zeros."""
    r = random.Random("%s/%s/%d" % (seed, kind, size))
    if kind == "zeros":
        return bytes(size)
    if kind == "random":
        return r.randbytes(size)
    words = [b"sbk", b"zstd", b"argon2", b"queue", b"reply", b"\n", b" "]
    out = bytearray()
    while len(out) < size:
        out += r.choice(words)
    return bytes(out[:size])


def file_data(seed, i):
    return content(seed, "random" if i % 2 else "text", FILE_SIZES[i])


def frame_data(seed, name):
    for n, size, kind in FRAME_SPECS:
        if n == name:
            return content(seed, kind, size)
    raise KeyError(name)


class Plan:
    def __init__(self, seed, run_ms=4000):
        self.seed = seed
        self.rng = random.Random(seed)
        self.run_ms = run_ms
        self.steps = []
        self.nconn = 0
        r = self.rng
        # Limits that stay put for the whole plan (see the top).
        self.min_inflight = r.randint(2, 4)
        self.max_inflight = r.randint(self.min_inflight, 8)
        self.max_conns = r.randint(3, 8)
        self.configs = [self.random_config()]
        self.generate()

    # --- configurations ---
    def random_config(self):
        r = self.rng
        # Its own stream, so that the rest of the plan stays what it was
        # before sbkd had this key (the seeds of docs/HARDENING.md).
        self.nconfigs = getattr(self, "nconfigs", 0) + 1
        ob = random.Random("%s/output_budget/%d" % (self.seed,
                                                    self.nconfigs))
        return {
            "output_budget_bytes": ob.choice((4, 8, 16, 32)) << 20,
            "max_inflight_per_conn": r.randint(self.min_inflight,
                                               self.max_inflight),
            "max_output_bytes_per_conn": r.randint(4, 64) * 1024,
            "queue_max": r.randint(0, 16),
            "cpu_workers": r.randint(1, 2),
            "io_workers": r.randint(1, 2),
            "memory_budget_kib": r.choice((1024, 2048, 4096)),
        }

    @staticmethod
    def config_text(cfg):
        return """[daemon]
max_connections = 1024
max_request_bytes = %d
max_output_bytes_per_conn = %d
output_budget_bytes = %d
shutdown_timeout_s = 5
enable_test_methods = true
log_level = info
[pool]
cpu_workers = %d
io_workers = %d
queue_max = %d
max_inflight_per_conn = %d
[argon2]
t_cost = 1
m_cost_kib = 64
max_m_cost_kib = 4096
max_t_cost = 4
memory_budget_kib = %d
[zstd]
max_output_bytes = %d
[files]
read_roots = @DIR@/r:@DIR@/w
write_roots = @DIR@/w
max_read_bytes = %d
""" % (MAX_REQUEST_BYTES, cfg["max_output_bytes_per_conn"],
            cfg["output_budget_bytes"], cfg["cpu_workers"], cfg["io_workers"], cfg["queue_max"],
            cfg["max_inflight_per_conn"], cfg["memory_budget_kib"],
            ZSTD_MAX_OUTPUT, MAX_READ_BYTES)

    # --- requests ---
    def new_id(self, conn):
        conn["next"] += 1
        n = conn["next"]
        # Strings too: ids are echoed exactly, whatever their type.
        return n if self.rng.random() < 0.7 else "c%d-%d" % (conn["c"], n)

    def request(self, conn, method=None, notify=False):
        r = self.rng
        if method is None:
            method = r.choices(
                ("ping", "stats", "argon2.hash", "argon2.verify",
                 "zstd.compress", "zstd.decompress", "zstd.path",
                 "file.read", "sleep", "spin", "bad"),
                (6, 2, 3, 2, 4, 5, 2, 8, 8, 5, 1))[0]
        params, check, expect, also = {}, {}, "result", set()
        pool = True
        if method == "bigreply":
            if r.random() < 0.5:
                method = "file.read"
                i = r.choice((4, 5))
                params = {"path": "@DIR@/r/f%d" % i}
                check["file"] = i
            else:
                method = "zstd.decompress"
                params = {"data_b64": {"$frame": "zeros1m"}}
                check["frame"] = "zeros1m"
        if params:
            pass  # a big reply, chosen above
        elif method == "ping" or method == "stats":
            pool = False
        elif method == "argon2.hash":
            params = {"password": "pw%d" % r.randint(0, 99),
                      "t_cost": r.randint(1, 2),
                      "m_cost_kib": r.choice((8, 64, 256, M_COST_MAX))}
        elif method == "argon2.verify":
            k = r.randrange(len(PASSWORDS))
            good = r.random() < 0.6
            params = {"password": PASSWORDS[k] if good else "wrong",
                      "hash": {"$hash": k}}
            check["valid"] = good
        elif method == "zstd.compress":
            size = r.choice((0, 10, 1000, 20000))
            data = content("%s/%d" % (self.seed, len(self.steps)),
                           r.choice(("text", "random")), size)
            params = {"data_b64": base64.b64encode(data).decode(),
                      "level": r.randint(1, 5)}
            check["bytes_in"] = size
        elif method == "zstd.decompress":
            name = r.choice([f[0] for f in FRAME_SPECS] + ["corrupt"])
            if name == "corrupt":
                params = {"data_b64": base64.b64encode(
                    b"\x28\xb5\x2f\xfd" + bytes(20)).decode()}
                expect = -32602
            else:
                params = {"data_b64": {"$frame": name}}
                if name == "bomb":
                    expect = -32004
                else:
                    check["frame"] = name
        elif method == "zstd.path":
            method = r.choice(("zstd.compress", "zstd.decompress"))
            self.nout += 1
            if method == "zstd.compress":
                i = r.randrange(len(FILE_SIZES))
                params = {"path": "@DIR@/r/f%d" % i,
                          "out_path": "@DIR@/w/o%d.zst" % self.nout}
                check["bytes_in"] = FILE_SIZES[i]
            else:
                i = r.choice((1, 2, 3))
                params = {"path": "@DIR@/w/f%d.zst" % i,
                          "out_path": "@DIR@/w/o%d.raw" % self.nout}
                check["bytes_out"] = FILE_SIZES[i]
            params["overwrite"] = True
            check["path_mode"] = True
        elif method == "file.read":
            i = r.randrange(len(FILE_SIZES))
            size = FILE_SIZES[i]
            params = {"path": "@DIR@/r/f%d" % i}
            if r.random() < 0.3:
                params["offset"] = r.randint(0, size)
                check["offset"] = params["offset"]
            if r.random() < 0.3:
                params["length"] = r.randint(0, size + 10)
                check["length"] = params["length"]
            check["file"] = i
            if r.random() < 0.05:
                params["path"] = "/etc/hostname"
                expect = -32003
                check = {}
            elif r.random() < 0.05:
                params["path"] = "@DIR@/r/missing"
                expect = -32005
                check = {}
        elif method == "sleep":
            params = {"ms": r.choice((0, 1, 5, 20, 50, 100, 200))}
        elif method == "spin":
            params = {"ms": r.choice((0, 1, 5, 20, 50))}
        elif method == "bad":
            method = "no.such.method"
            expect = -32601
            pool = False
        if pool:
            also.add(-32000)
            x = r.random()
            if x < 0.15:
                params["timeout_ms"] = r.randint(1, 50)
                also.add(-32001)
            elif x < 0.17:
                params["timeout_ms"] = 0  # not > 0: invalid params
                expect, also = -32602, set()
        return {"id": None if notify else self.new_id(conn),
                "method": method, "params": params, "expect": expect,
                "also": also, "check": check, "pool": pool}

    # --- steps ---
    def step(self, t, op, **kw):
        s = {"t": t, "op": op, "n": len(self.steps)}  # n: its number
        s.update(kw)
        self.steps.append(s)
        return s

    def generate(self):
        r = self.rng
        self.nout = 0
        conns = []  # open conns the plan may still write to
        t = 0
        while t < self.run_ms:
            t += r.choice((0, 0, 1, 5, 10, 20, 50, 100))
            live = [c for c in conns if not c["closed"]]
            writable = [c for c in live if not c["shut"]]
            op = r.choices(
                ("open", "burst", "batch", "big", "reader", "cancel",
                 "shutdown", "close", "reload"),
                (4 if len(live) < self.max_conns else 0,
                 12 if writable else 0, 2 if writable else 0,
                 1 if writable else 0, 3 if live else 0,
                 2 if writable else 0, 1 if writable else 0,
                 1 if live else 0, 1))[0]
            if op == "open":
                c = {"c": self.nconn, "next": 0, "closed": False,
                     "shut": False, "ids": [],
                     "reader": r.choices(READERS, (5, 2, 3, 2))[0]}
                self.nconn += 1
                conns.append(c)
                self.step(t, "open", c=c["c"], reader=c["reader"])
            elif op == "burst":
                c = r.choice(writable)
                n = r.choice((1, 2, 4, 8, 16, 32))
                # A burst of one kind fills the pool or the output the
                # most; a mixed one tries the orders.
                same = (r.choice(("file.read", "sleep", "spin",
                                  "zstd.decompress", "argon2.hash"))
                        if r.random() < 0.4 else None)
                # A client that does not read asks for the biggest
                # replies: what it pins is what the memory bound is for.
                if c["reader"] in ("paused", "never") and r.random() < 0.5:
                    same = "bigreply"
                reqs = [self.request(c, same,
                                     notify=r.random() < 0.03)
                        for _ in range(n)]
                c["ids"] += [q for q in reqs if q["id"] is not None]
                self.step(t, "send", c=c["c"], reqs=reqs, batch=False)
            elif op == "batch":
                c = r.choice(writable)
                if r.random() < 0.15:
                    # Over every max_inflight_per_conn: one -32600, id null.
                    n = self.max_inflight + r.randint(1, 3)
                    reqs = [self.request(c, "ping") for _ in range(n)]
                    self.step(t, "send", c=c["c"], reqs=reqs, batch=True,
                              over=True)
                    continue
                n = r.randint(1, self.min_inflight)
                reqs = [self.request(c, notify=r.random() < 0.1)
                        for _ in range(n)]
                c["ids"] += [q for q in reqs if q["id"] is not None]
                self.step(t, "send", c=c["c"], reqs=reqs, batch=True,
                          over=False)
            elif op == "big":
                c = r.choice(writable)
                if r.random() < 0.3:
                    self.step(t, "raw", c=c["c"], kind="oversize",
                              size=MAX_REQUEST_BYTES + r.randint(1, 50000))
                    continue
                # A line over 64 KiB: parsed on a worker.
                size = r.randint(50000, 400000)
                q = self.request(c, "zstd.compress")
                data = content("%s/big%d" % (self.seed, len(self.steps)),
                               "random", size)
                q["params"]["data_b64"] = base64.b64encode(data).decode()
                q["check"]["bytes_in"] = size
                c["ids"].append(q)
                self.step(t, "send", c=c["c"], reqs=[q], batch=False)
            elif op == "reader":
                c = r.choice(live)
                c["reader"] = r.choice(("eager", "eager", "tiny", "paused"))
                self.step(t, "reader", c=c["c"], reader=c["reader"])
            elif op == "cancel":
                c = r.choice(writable)
                pool = [q for q in c["ids"][-12:] if q["pool"]]
                if not pool:
                    continue
                target = r.choice(pool)
                target["also"].add(-32002)
                q = {"id": self.new_id(c), "method": "job.cancel",
                     "params": {"id": target["id"]}, "expect": "result",
                     "also": set(), "check": {"target": target["id"]},
                     "pool": False}
                c["ids"].append(q)
                self.step(t, "send", c=c["c"], reqs=[q], batch=False)
            elif op == "shutdown":
                c = r.choice(writable)
                c["shut"] = True
                self.step(t, "shutdown", c=c["c"])
            elif op == "close":
                c = r.choice(live)
                c["closed"] = True
                self.step(t, "close", c=c["c"])
            elif op == "reload":
                cfg = self.random_config()
                if writable and r.random() < 0.5:
                    # Saturate first (libuv's threadpool-cancel test):
                    # shrink a pool to one worker, queue long jobs on it,
                    # then grow it while they wait.
                    lane = r.choice(("sleep", "spin"))
                    key = "io_workers" if lane == "sleep" else "cpu_workers"
                    small = dict(self.configs[-1])
                    small[key] = 1
                    self.configs.append(small)
                    self.step(t, "reload", cfg=small)
                    t += 10
                    # Over up to three connections: one holds at most
                    # max_inflight_per_conn jobs.
                    for c in r.sample(writable, min(3, len(writable))):
                        reqs = [self.request(c, lane) for _ in
                                range(r.randint(4, 8))]
                        for q in reqs:
                            q["params"]["ms"] = r.choice((100, 150, 200))
                        c["ids"] += reqs
                        self.step(t, "send", c=c["c"], reqs=reqs,
                                  batch=False)
                    t += r.choice((10, 30, 60))
                    cfg[key] = 2
                self.configs.append(cfg)
                self.step(t, "reload", cfg=cfg)

    # --- printing ---
    def describe(self):
        out = ["seed %s: %d steps over %d ms, %d connections" %
               (self.seed, len(self.steps), self.run_ms, self.nconn),
               "initial config: %s" % json.dumps(self.configs[0],
                                                 sort_keys=True)]
        for s in self.steps:
            out.append("%4d %s" % (s["n"], step_text(s)))
        return "\n".join(out)


def req_text(q):
    p = {}
    for k, v in q["params"].items():
        if isinstance(v, str) and len(v) > 40:
            v = "<%d chars>" % len(v)
        p[k] = v
    tag = "" if q["expect"] == "result" else " expect %s" % q["expect"]
    return "%s %s %s%s" % (json.dumps(q["id"]), q["method"],
                           json.dumps(p, separators=(",", ":")), tag)


def step_text(s):
    head = "+%5dms" % s["t"]
    op = s["op"]
    if op == "open":
        return "%s c%d open reader=%s" % (head, s["c"], s["reader"])
    if op == "send":
        kind = "batch" if s["batch"] else "send"
        if s.get("over"):
            kind = "over-limit batch"
        return "%s c%d %s %d: %s" % (head, s["c"], kind, len(s["reqs"]),
                                     "; ".join(req_text(q)
                                               for q in s["reqs"]))
    if op == "raw":
        return "%s c%d %s line of %d bytes" % (head, s["c"], s["kind"],
                                               s["size"])
    if op == "reader":
        return "%s c%d reader=%s" % (head, s["c"], s["reader"])
    if op in ("shutdown", "close"):
        return "%s c%d %s" % (head, s["c"], op)
    if op == "reload":
        return "%s reload %s" % (head, json.dumps(s["cfg"], sort_keys=True))
    return "%s %s" % (head, op)
