#!/usr/bin/env python3
"""sbk-gearman end to end, with real parts only: a gearmand (Debian's
gearman-job-server) in the foreground on 127.0.0.1 and a free port, three
"hosts" (each an sbkd plus an sbk-gearman, slots = 2) and two independent
clients: the `gearman` command-line tool and gm_submit (libgearman from
C).  Every process is started and torn down here.

Checks, in order:
  config       a bad file is FILE:LINE and exit 2; -t says OK on a good one
  correctness  200 argon2 hashes through Gearman verify with the argon2
               CLI (every hash whose salt has no NUL byte: the CLI takes
               the salt as an argument) and all 200 with libargon2's
               argon2_verify; argon2.verify through Gearman; zstd round
               trips equal both ways with the zstd CLI
  spread       the 200 hashes landed on every host (the bridges' counters)
  bad input    not JSON, an array, an oversized workload, an unknown
               parameter and an unknown method fail cleanly (WORK_FAIL with
               the error object) and every bridge lives
  backpressure 100 queued jobs, slots = 2: gearadmin --status shows the
               queue on the server, never more than 6 running, and no bridge
               ever held more than 2 (busy_max); sbkd's -32000 is retried
               (3 slots on 1 worker, no queue): every job completes
  stall        gearmand stopped for 1 s while a one-slot bridge asks it
               for a job: it is never counted running more than 1
  background   a background job is known and running, then gone; a
               path-mode zstd job reports WORK_STATUS
  priorities   a high job submitted behind 50 normal ones runs first
  failover     SIGKILL an sbkd, then separately a bridge, while each holds
               2 jobs: every job completes exactly once for the client; the
               bridge leaves gearmand while its sbkd is down and
               reconnects to the restarted sbkd; SIGTERM lets a
               bridge finish its running jobs first
Exit 0 on success, 77 when the Gearman programs are missing."""

import base64
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SBKD = os.environ.get("SBKD")
BRIDGE = os.environ.get("SBK_GEARMAN")
GM_SUBMIT = os.environ.get("GM_SUBMIT")
ARGON = "\"m_cost_kib\":256,\"t_cost\":1,\"parallelism\":1"
HOSTS = 3
SLOTS = 2


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def log(*a):
    print("gearman_test:", *a, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, what, timeout=15.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


class Cluster:
    def __init__(self, tmp):
        self.tmp = tmp
        self.files = os.path.join(tmp, "files")
        os.mkdir(self.files)
        self.procs = []
        self.port = free_port()
        self.server = "127.0.0.1:%d" % self.port
        self.gearmand = self.spawn(
            ["gearmand", "-L", "127.0.0.1", "-p", str(self.port),
             "-t", "2", "-l", "stderr", "--verbose", "ERROR",
             "-P", os.path.join(tmp, "gearmand.pid")], "gearmand")
        wait_for(self.gearmand_up, "gearmand")
        self.sbkd = [None] * HOSTS
        self.bridge = [None] * HOSTS
        for i in range(HOSTS):
            self.start_sbkd(i)
        for i in range(HOSTS):
            self.start_bridge(i)

    def spawn(self, argv, name):
        err = open(os.path.join(self.tmp, name + ".log"), "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err,
                             stderr=err)
        err.close()
        self.procs.append(p)
        return p

    def gearmand_up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def sock(self, i):
        return os.path.join(self.tmp, "sbkd%d.sock" % i)

    def start_sbkd(self, i):
        conf = os.path.join(self.tmp, "sbkd%d.conf" % i)
        with open(conf, "w") as f:
            f.write("[daemon]\nsocket = %s\nenable_test_methods = %s\n"
                    "[pool]\ncpu_workers = 2\n"
                    "[files]\nread_roots = %s\nwrite_roots = %s\n"
                    % (self.sock(i), "true", self.files, self.files))
        self.sbkd[i] = self.spawn([SBKD, "-c", conf], "sbkd%d" % i)
        wait_for(lambda: self.connectable(self.sock(i)), "sbkd %d" % i)

    @staticmethod
    def connectable(path):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.close()
            return True
        except OSError:
            return False

    def stats_path(self, i):
        return os.path.join(self.tmp, "bridge%d.prom" % i)

    def bridge_conf(self, i, prefix="sbk.", slots=SLOTS, sbkd=None,
                    functions="ping, argon2.hash, argon2.verify, "
                    "zstd.compress, zstd.decompress, file.read, sleep",
                    name=None):
        name = name or "bridge%d" % i
        conf = os.path.join(self.tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write("[gearman]\nservers = %s\nfunction_prefix = %s\n"
                    "functions = %s\nallow_paths = true\n"
                    "max_workload_bytes = 1M\nidentifier = %s\n"
                    "[sbkd]\nsocket = %s\nslots = %d\n"
                    "[bridge]\nreconnect_min_ms = 50\n"
                    "reconnect_max_ms = 400\nidle_check_ms = 100\n"
                    "log_jobs = true\nstats_file = %s\n"
                    % (self.server, prefix, functions, name,
                       self.sock(i if sbkd is None else sbkd), slots,
                       os.path.join(self.tmp, name + ".prom")))
        return conf

    def start_bridge(self, i):
        conf = self.bridge_conf(i)
        if os.path.exists(self.stats_path(i)):
            os.unlink(self.stats_path(i))
        self.bridge[i] = self.spawn([BRIDGE, "-c", conf], "bridge%d" % i)
        wait_for(lambda: self.workers_for("bridge%d/" % i) >= SLOTS,
                 "bridge %d registered" % i)

    def admin(self, what):
        r = subprocess.run(["gearadmin", "-h", "127.0.0.1", "-p",
                            str(self.port), what], capture_output=True,
                           text=True, timeout=10)
        return r.stdout

    def status(self):
        """{function: (queued, running, workers)} from gearmand."""
        out = {}
        for line in self.admin("--status").splitlines():
            parts = line.split("\t")
            if len(parts) == 4:
                out[parts[0]] = tuple(int(x) for x in parts[1:])
        return out

    def workers_for(self, ident):
        """Worker connections whose id starts with ident that can do
        something."""
        n = 0
        for line in self.admin("--workers").splitlines():
            parts = line.split(" ")
            if len(parts) > 4 and parts[2].startswith(ident) and \
                    parts[3] == ":":
                n += 1
        return n

    def stats(self, i, name=None):
        """The bridge's counters, fresh (SIGUSR1, then stats_file)."""
        path = os.path.join(self.tmp, (name or "bridge%d" % i) + ".prom")
        proc = self.bridge[i] if name is None else None
        if proc is not None and proc.poll() is None:
            before = os.stat(path).st_mtime_ns if os.path.exists(path) \
                else 0
            proc.send_signal(signal.SIGUSR1)
            wait_for(lambda: os.path.exists(path) and
                     os.stat(path).st_mtime_ns != before, "stats file")
        out = {}
        with open(path) as f:
            for line in f:
                if not line.startswith("#"):
                    k, v = line.split()
                    out[k.replace("sbk_gearman_", "")] = int(v)
        return out

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
            p.wait()


def gm_run(cluster, tasks, extra=(), timeout=120):
    """Run tasks [(tag, function, prio, workload)] with gm_submit; return
    {tag: record} and check that each task was answered exactly once."""
    text = "".join("%s\t%s\t%s\t%s\n" % t for t in tasks)
    r = subprocess.run([GM_SUBMIT, "run", cluster.server] + list(extra),
                       input=text, capture_output=True, text=True,
                       timeout=timeout)
    recs = {}
    for line in r.stdout.splitlines():
        rec = json.loads(line)
        check(not rec["status"].startswith("duplicate"),
              "task %s answered twice" % rec["tag"])
        check(rec["tag"] not in recs, "task %s twice" % rec["tag"])
        recs[rec["tag"]] = rec
    check(len(recs) == len(tasks),
          "%d answers for %d tasks; stderr: %s" % (len(recs), len(tasks),
                                                   r.stderr[-2000:]))
    return recs


def gm_run_async(cluster, tasks, extra=()):
    box = {}

    def run():
        try:
            box["recs"] = gm_run(cluster, tasks, extra)
        except BaseException as e:  # reported by the joiner
            box["error"] = e
    t = threading.Thread(target=run)
    t.start()
    return t, box


def join(t, box):
    t.join(180)
    check(not t.is_alive(), "gm_submit did not finish")
    if "error" in box:
        raise box["error"]
    return box["recs"]


def gearman_cli(cluster, function, data=None, stdin=None):
    argv = ["gearman", "-h", "127.0.0.1", "-p", str(cluster.port), "-f",
            function]
    if data is not None:
        argv.append(data)
    return subprocess.run(argv, input=stdin, capture_output=True,
                          timeout=60)


def phc_parts(phc):
    """$argon2id$v=19$m=..,t=..,p=..$SALT$HASH -> (params, salt bytes)."""
    _, kind, ver, params, salt, _ = phc.split("$")
    check(kind == "argon2id" and ver == "v=19", "PHC " + phc)
    p = dict(kv.split("=") for kv in params.split(","))
    return p, base64.b64decode(salt + "=" * (-len(salt) % 4))


def argon2_cli(password, salt, p):
    r = subprocess.run(["argon2", salt, "-id", "-t", p["t"], "-k", p["m"],
                        "-p", p["p"], "-l", "32", "-e"],
                       input=password.encode(), capture_output=True,
                       timeout=30)
    check(r.returncode == 0, "argon2 CLI: %r" % r.stderr)
    return r.stdout.decode().strip()


# ---------------------------------------------------------------------
def test_config_exit(c):
    """A bad configuration: a clear FILE:LINE error and exit 2; -t on a
    good one prints "configuration OK"."""
    bad = os.path.join(c.tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("[gearman]\nservers = 127.0.0.1:4730\n"
                "[sbkd]\nslots = many\n")
    for argv in ([BRIDGE, "-c", bad], [BRIDGE, "-t", "-c", bad]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        check(r.returncode == 2, "%r exited %d" % (argv, r.returncode))
        check(bad + ':4: [sbkd] slots: "many" is not a number' in
              r.stderr, "error text: %r" % r.stderr)
    r = subprocess.run([BRIDGE, "-c", os.path.join(c.tmp, "nope.conf")],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "No such file" in r.stderr, r.stderr)
    r = subprocess.run([BRIDGE, "--bogus"], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 2, "bad option exited %d" % r.returncode)
    r = subprocess.run([BRIDGE, "-t", "-c", c.bridge_conf(0)],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and "configuration OK" in r.stdout, r.stdout)


def test_correctness_and_spread(c):
    libargon2 = ctypes.CDLL("libargon2.so.1")
    libargon2.argon2_verify.argtypes = [ctypes.c_char_p, ctypes.c_void_p,
                                        ctypes.c_size_t, ctypes.c_int]
    rnd = random.Random(14)
    pws = ["pw-%d-%08x" % (i, rnd.getrandbits(32)) for i in range(200)]
    tasks = [("h%d" % i, "sbk.argon2.hash", "normal",
              '{"password":"%s",%s}' % (pw, ARGON))
             for i, pw in enumerate(pws)]
    recs = gm_run(c, tasks)
    cli_checked = 0
    hashes = {}
    for i, pw in enumerate(pws):
        rec = recs["h%d" % i]
        check(rec["status"] == "complete", "hash %d: %r" % (i, rec))
        phc = json.loads(rec["result"])["hash"]
        hashes[i] = phc
        # Argon2id is 2 in libargon2's argon2_type.
        check(libargon2.argon2_verify(phc.encode(), pw.encode(), len(pw),
                                      2) == 0,
              "libargon2 refuses hash %d %s" % (i, phc))
        params, salt = phc_parts(phc)
        if b"\0" in salt:
            continue
        check(argon2_cli(pw, salt, params) == phc,
              "argon2 CLI disagrees on hash %d" % i)
        cli_checked += 1
    check(cli_checked >= 150, "only %d hashes had a NUL-free salt" %
          cli_checked)
    log("200 hashes: all verify with libargon2, %d with the argon2 CLI"
        % cli_checked)

    # argon2.verify through Gearman: right and wrong passwords.
    vt = []
    for i in range(0, 200, 10):
        vt.append(("v%d" % i, "sbk.argon2.verify", "normal",
                   json.dumps({"password": pws[i], "hash": hashes[i]})))
        vt.append(("w%d" % i, "sbk.argon2.verify", "normal",
                   json.dumps({"password": pws[i] + "x",
                               "hash": hashes[i]})))
    for tag, rec in gm_run(c, vt).items():
        check(rec["status"] == "complete", "%s: %r" % (tag, rec))
        check(json.loads(rec["result"]) == {"valid": tag[0] == "v"},
              "%s: %s" % (tag, rec["result"]))

    # The gearman CLI, one job per line.
    lines = "".join('{"password":"cli%d",%s}\n' % (i, ARGON)
                    for i in range(10))
    r = subprocess.run(["gearman", "-h", "127.0.0.1", "-p", str(c.port),
                        "-f", "sbk.argon2.hash", "-n"], input=lines.encode(),
                       capture_output=True, timeout=60)
    check(r.returncode == 0, "gearman -n: %r" % r.stderr)
    dec, text, pos, n = json.JSONDecoder(), r.stdout.decode(), 0, 0
    while pos < len(text):
        obj, end = dec.raw_decode(text, pos)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
        check(libargon2.argon2_verify(obj["hash"].encode(),
                                      b"cli%d" % n, len("cli%d" % n),
                                      2) == 0, "CLI job %d" % n)
        n += 1
    check(n == 10, "gearman -n gave %d results" % n)

    # Spread: every host took some of the work.
    taken = [c.stats(i)["jobs_taken_total"] for i in range(HOSTS)]
    log("jobs taken per host:", taken)
    check(all(t > 0 for t in taken), "a host took nothing: %r" % taken)


def test_zstd(c):
    rnd = random.Random(7)
    payloads = [b"", b"x", os.urandom(1000), b"abc" * 50000,
                bytes(rnd.getrandbits(8) % 16 for _ in range(200000)),
                os.urandom(300000)]
    tasks = [("z%d" % i, "sbk.zstd.compress", "normal",
              json.dumps({"data_b64": base64.b64encode(p).decode(),
                          "level": 1 + i}))
             for i, p in enumerate(payloads)]
    for tag, rec in gm_run(c, tasks).items():
        check(rec["status"] == "complete", "%s: %r" % (tag, rec))
        frame = base64.b64decode(json.loads(rec["result"])["data_b64"])
        r = subprocess.run(["zstd", "-q", "-d", "-c"], input=frame,
                           capture_output=True, timeout=30)
        check(r.returncode == 0 and r.stdout == payloads[int(tag[1:])],
              "zstd CLI round trip of %s" % tag)
    # The other way: frames from the zstd CLI, decompressed through the
    # gearman CLI.
    for i, p in enumerate(payloads[1:4]):
        frame = subprocess.run(["zstd", "-q", "-c", "-%d" % (i + 3)],
                               input=p, capture_output=True,
                               timeout=30).stdout
        r = gearman_cli(c, "sbk.zstd.decompress", stdin=json.dumps(
            {"data_b64": base64.b64encode(frame).decode()}).encode())
        check(r.returncode == 0, "decompress: %r" % r.stderr)
        check(base64.b64decode(json.loads(r.stdout)["data_b64"]) == p,
              "decompressed payload %d differs" % i)
    log("zstd round trips: %d through Gearman then the CLI, 3 the other "
        "way" % len(payloads))


def test_bad_workloads(c):
    # Oversized (over max_workload_bytes = 1M) goes through gm_submit:
    # the gearman CLI reads stdin slowly (10 s for 1.5 MB).
    big = '{"password":"' + "a" * (1100 * 1024) + '"}'
    rec = gm_run(c, [("big", "sbk.argon2.hash", "normal", big)])["big"]
    check(rec["status"] == "fail", "oversized workload: %r" % rec["status"])
    err = json.loads(rec["data"])
    check(err["code"] == -32600 and err["data"]["limit"] == 1024 * 1024,
          "oversized workload: %r" % err)
    cases = [
        ("sbk.argon2.hash", b"not json", -32700),
        ("sbk.argon2.hash", b"[1,2]", -32602),
        ("sbk.argon2.hash", b'"pw"', -32602),
        ("sbk.argon2.hash", b'{"password":"x","colour":1}', -32602),
        ("sbk.zstd.decompress", b'{"data_b64":"AAAA"}', -32602),
        ("bad.spin", b'{"ms":1}', -32601),
    ]
    # Unknown method: a bridge under another prefix serves spin from an
    # sbkd without test methods, which answers -32601.
    conf = os.path.join(c.tmp, "plain.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nsocket = %s\n[pool]\ncpu_workers = 3\n" %
                os.path.join(c.tmp, "plain.sock"))
    plain = c.spawn([SBKD, "-c", conf], "plain-sbkd")
    wait_for(lambda: c.connectable(os.path.join(c.tmp, "plain.sock")),
             "plain sbkd")
    # slots = 0: sbkd's 3 CPU workers + 2.
    bconf = c.bridge_conf(0, prefix="bad.", slots=0, functions="spin",
                          name="bad")
    with open(bconf) as f:
        text = f.read().replace(c.sock(0), os.path.join(c.tmp,
                                                         "plain.sock"))
    with open(bconf, "w") as f:
        f.write(text)
    bad = c.spawn([BRIDGE, "-c", bconf], "bad-bridge")
    wait_for(lambda: c.workers_for("bad/") >= 1, "bad bridge")
    for fn, work, code in cases:
        r = gearman_cli(c, fn, stdin=work)
        check(r.returncode != 0, "%s %r succeeded" % (fn, work[:40]))
        err = json.loads(r.stdout)
        check(err["code"] == code, "%s %r: %r, want %d" %
              (fn, work[:40], err, code))
        check(set(err) <= {"code", "message", "data"}, "error %r" % err)
    for i in range(HOSTS):
        check(c.bridge[i].poll() is None, "bridge %d died" % i)
    check(bad.poll() is None, "the bad-prefix bridge died")
    r = gearman_cli(c, "sbk.ping", "{}")
    check(r.returncode == 0 and json.loads(r.stdout) == {"pong": True},
          "ping after bad workloads")
    st = c.stats(0)
    check(st["jobs_refused_total"] + c.stats(1)["jobs_refused_total"] +
          c.stats(2)["jobs_refused_total"] >= 4, "refusals not counted")
    bad.terminate()
    check(bad.wait(10) == 0, "bad bridge exit status")
    check(c.stats(0, "bad")["slots"] == 5, "slots = 0 did not give 3 + 2")
    plain.terminate()
    plain.wait(10)
    log("bad workloads: %d failed cleanly, bridges alive" %
        (len(cases) + 1))


def test_backpressure(c):
    tasks = [("s%d" % i, "sbk.sleep", "normal", '{"ms":40}')
             for i in range(100)]
    t, box = gm_run_async(c, tasks)
    max_running, max_queued = 0, 0
    while t.is_alive():
        q, running, _ = c.status().get("sbk.sleep", (0, 0, 0))
        max_running = max(max_running, running)
        max_queued = max(max_queued, q - running)
        time.sleep(0.02)
    recs = join(t, box)
    check(all(r["status"] == "complete" for r in recs.values()),
          "a sleep job failed")
    check(max_running <= HOSTS * SLOTS, "gearmand saw %d running" %
          max_running)
    check(max_queued >= 50, "the queue never built up on gearmand (%d)" %
          max_queued)
    held = [c.stats(i)["slots_busy_max"] for i in range(HOSTS)]
    check(all(h <= SLOTS for h in held), "a bridge held more: %r" % held)
    log("backpressure: up to %d waiting on gearmand, %d running, busy_max "
        "per bridge %r" % (max_queued, max_running, held))


def test_stalled_gearmand(c):
    """A GRAB_JOB that gearmand answers after idle_check_ms (gearmand
    stalled, or starved on a loaded machine) must stay the slot's only
    request in flight: gearmand assigns a job to every GRAB_JOB it reads,
    so a slot that asked again would be counted as running several jobs
    and keep them from the other hosts.  gearmand is stopped for ten
    idle_check_ms while a one-slot bridge starts in front of 6 queued
    jobs; from then on gearmand must never count more than 1 running."""
    n = 6
    for i in range(n):
        r = subprocess.run([GM_SUBMIT, "bg", c.server, "stall.sleep",
                            "normal", '{"ms":100}'], capture_output=True,
                           text=True, timeout=30)
        check(r.returncode == 0, "bg submit: %s" % r.stderr)
    check(c.status().get("stall.sleep", (0,))[0] == n, "%d queued" % n)
    conf = c.bridge_conf(0, prefix="stall.", slots=1, functions="sleep",
                         name="stall")
    c.gearmand.send_signal(signal.SIGSTOP)
    try:
        bridge = c.spawn([BRIDGE, "-c", conf], "stall-bridge")
        time.sleep(1.0)  # idle_check_ms = 100
    finally:
        c.gearmand.send_signal(signal.SIGCONT)
    seen = {"running": 0}

    def drained():
        q, running, _ = c.status().get("stall.sleep", (0, 0, 0))
        seen["running"] = max(seen["running"], running)
        return q == 0
    wait_for(drained, "the stalled jobs to run", 60)
    bridge.terminate()
    check(bridge.wait(10) == 0, "stall bridge exit status")
    st = c.stats(0, "stall")
    check(seen["running"] <= 1, "gearmand counted %d running on a one-slot "
          "bridge" % seen["running"])
    check(st["jobs_completed_total"] == n and st["slots_busy_max"] == 1,
          "stall bridge: %r" % st)
    log("stalled gearmand: %d jobs through one slot, at most %d running" %
        (n, seen["running"]))


def test_background_and_status(c):
    r = subprocess.run([GM_SUBMIT, "bg", c.server, "sbk.sleep", "normal",
                        '{"ms":1200}'], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0, "bg submit: %s" % r.stderr)
    handle = r.stdout.strip()

    def status():
        out = subprocess.run([GM_SUBMIT, "status", c.server, handle],
                             capture_output=True, text=True, timeout=30)
        return json.loads(out.stdout)
    wait_for(lambda: status()["running"], "background job running", 10)
    check(c.status()["sbk.sleep"][1] >= 1, "gearadmin shows it running")
    wait_for(lambda: not status()["known"], "background job gone", 10)

    # Progress: a path-mode zstd job long enough for sbkd's 100 ms
    # progress reports, which become WORK_STATUS.
    src = os.path.join(c.files, "big")
    rnd = random.Random(3)
    with open(src, "wb") as f:
        for _ in range(24):
            f.write(bytes(rnd.getrandbits(8) % 64 for _ in range(4096)) *
                    256)
    recs = gm_run(c, [("p", "sbk.zstd.compress", "normal", json.dumps(
        {"path": src, "out_path": src + ".zst", "level": 12}))])
    rec = recs["p"]
    check(rec["status"] == "complete", "zstd path job: %r" % rec)
    check(len(rec["statuses"]) >= 1, "no WORK_STATUS: %r" % rec)
    for num, den in rec["statuses"]:
        check(0 <= num <= den and den > 0, "status %d/%d" % (num, den))
    r = subprocess.run(["zstd", "-q", "-d", "-c", src + ".zst"],
                       capture_output=True, timeout=60)
    with open(src, "rb") as f:
        check(r.stdout == f.read(), "the path-mode output differs")
    log("background job seen running then gone; %d WORK_STATUS reports"
        % len(rec["statuses"]))


def test_priorities(c):
    tasks = [("n%d" % i, "prio.sleep", "normal", '{"ms":1}')
             for i in range(50)]
    tasks.append(("high", "prio.sleep", "high", '{"ms":1}'))
    t, box = gm_run_async(c, tasks)
    wait_for(lambda: c.status().get("prio.sleep", (0,))[0] == 51,
             "51 queued prio jobs")
    conf = c.bridge_conf(0, prefix="prio.", slots=1, functions="sleep",
                         name="prio")
    prio = c.spawn([BRIDGE, "-c", conf], "prio-bridge")
    recs = join(t, box)
    check(recs["high"]["order"] == 1, "the high job ended %d-th" %
          recs["high"]["order"])
    prio.terminate()
    check(prio.wait(10) == 0, "prio bridge exit status")
    log("priorities: the high job behind 50 normal ones ran first")


def test_overload_retry(c):
    """sbkd's -32000 is retried, not failed: 3 slots in front of an sbkd
    with one CPU worker and no queue."""
    sock = os.path.join(c.tmp, "tight.sock")
    conf = os.path.join(c.tmp, "tight.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nsocket = %s\nenable_test_methods = true\n"
                "[pool]\ncpu_workers = 1\nqueue_max = 0\n" % sock)
    tight = c.spawn([SBKD, "-c", conf], "tight-sbkd")
    wait_for(lambda: c.connectable(sock), "tight sbkd")
    bconf = c.bridge_conf(0, prefix="tight.", slots=3, functions="spin",
                          name="tight")
    with open(bconf) as f:
        text = f.read().replace(c.sock(0), sock)
    with open(bconf, "w") as f:
        f.write(text)
    bridge = c.spawn([BRIDGE, "-c", bconf], "tight-bridge")
    wait_for(lambda: c.workers_for("tight/") >= 3, "tight bridge")
    recs = gm_run(c, [("r%d" % i, "tight.spin", "normal", '{"ms":50}')
                      for i in range(9)])
    for tag, rec in recs.items():
        check(rec["status"] == "complete", "%s under -32000: %r" %
              (tag, rec))
    bridge.terminate()
    check(bridge.wait(10) == 0, "tight bridge exit status")
    st = c.stats(0, "tight")
    check(st["jobs_retried_total"] > 0, "no -32000 retried: %r" % st)
    check(st["jobs_failed_total"] == 0, "a job failed: %r" % st)
    tight.terminate()
    tight.wait(10)
    log("overload: 9/9 completed on 1 worker behind 3 slots, %d retries "
        "after -32000" % st["jobs_retried_total"])


def wait_busy(c, i, n):
    wait_for(lambda: c.stats(i)["slots_busy"] >= n,
             "bridge %d holding %d jobs" % (i, n), 20, 0.05)


def test_failover(c):
    # 1. SIGKILL sbkd 0 while its bridge holds 2 jobs.
    tasks = [("k%d" % i, "sbk.sleep", "normal", '{"ms":700}')
             for i in range(12)]
    before = c.stats(0)
    t, box = gm_run_async(c, tasks)
    wait_busy(c, 0, SLOTS)
    c.sbkd[0].kill()
    c.sbkd[0].wait()
    recs = join(t, box)
    for tag, rec in recs.items():
        check(rec["status"] == "complete" and
              json.loads(rec["result"])["slept_ms"] >= 700,
              "%s after sbkd kill: %r" % (tag, rec))
    after = c.stats(0)
    check(after["jobs_handed_back_total"] -
          before["jobs_handed_back_total"] >= SLOTS,
          "bridge 0 handed back %d" % (after["jobs_handed_back_total"] -
                                      before["jobs_handed_back_total"]))
    check(c.bridge[0].poll() is None, "bridge 0 died with its sbkd")
    # sbkd down: bridge 0 takes no jobs, its functions are unregistered.
    wait_for(lambda: c.workers_for("bridge0/") == 0,
             "bridge 0 leaving gearmand while its sbkd is down")
    # sbkd back: the bridge reconnects and serves again.
    c.start_sbkd(0)
    wait_for(lambda: c.stats(0)["sbkd_connects_total"] >=
             after["sbkd_connects_total"] + SLOTS, "bridge 0 reconnected")
    wait_for(lambda: c.workers_for("bridge0/") >= SLOTS,
             "bridge 0 registered again")
    log("sbkd SIGKILL: 12/12 jobs completed once, %d handed back, "
        "bridge reconnected" % (after["jobs_handed_back_total"] -
                                before["jobs_handed_back_total"]))

    # 2. SIGKILL bridge 1 while it holds 2 jobs.
    tasks = [("b%d" % i, "sbk.sleep", "normal", '{"ms":700}')
             for i in range(12)]
    t, box = gm_run_async(c, tasks)
    wait_busy(c, 1, SLOTS)
    c.bridge[1].kill()
    c.bridge[1].wait()
    recs = join(t, box)
    for tag, rec in recs.items():
        check(rec["status"] == "complete", "%s after bridge kill: %r" %
              (tag, rec))
    log("bridge SIGKILL: 12/12 jobs completed once")
    c.start_bridge(1)

    # 3. SIGTERM bridge 2 while it holds 2 jobs: they finish there.
    tasks = [("t%d" % i, "sbk.sleep", "normal", '{"ms":700}')
             for i in range(6)]
    t, box = gm_run_async(c, tasks)
    wait_busy(c, 2, SLOTS)
    t0 = time.monotonic()
    c.bridge[2].terminate()
    check(c.bridge[2].wait(15) == 0, "bridge 2 exit status after SIGTERM")
    took = time.monotonic() - t0
    recs = join(t, box)
    check(all(r["status"] == "complete" for r in recs.values()),
          "a job failed around SIGTERM")
    final = c.stats(2)  # written at exit
    check(final["slots_busy"] == 0 and final["jobs_handed_back_total"] == 0,
          "bridge 2 at exit: %r" % final)
    log("bridge SIGTERM: exited 0 after %.1f s with its jobs answered" %
        took)


def main():
    for prog in ("gearmand", "gearman", "gearadmin", "argon2", "zstd"):
        if shutil.which(prog) is None:
            log("%s not found (Debian: gearman-job-server, gearman-tools, "
                "argon2, zstd)" % prog)
            return 77
    for var, val in (("SBKD", SBKD), ("SBK_GEARMAN", BRIDGE),
                     ("GM_SUBMIT", GM_SUBMIT)):
        if not val:
            log("$%s is not set" % var)
            return 2
    tmp = tempfile.mkdtemp(prefix="sbk-gearman-test.")
    c = None
    ok = False
    try:
        c = Cluster(tmp)
        t0 = time.monotonic()
        for test in (test_config_exit, test_correctness_and_spread,
                     test_zstd,
                     test_bad_workloads, test_backpressure,
                     test_stalled_gearmand, test_background_and_status, test_priorities,
                     test_overload_retry, test_failover):
            t = time.monotonic()
            test(c)
            log("%s: ok (%.1f s)" % (test.__name__, time.monotonic() - t))
        log("all passed in %.1f s" % (time.monotonic() - t0))
        ok = True
    finally:
        if c is not None:
            c.stop()
        if not ok:
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".log"):
                    with open(os.path.join(tmp, name), "rb") as f:
                        tail = f.read()[-3000:]
                    print("---- %s (tail)\n%s" % (name, tail.decode(
                        errors="replace")), file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
