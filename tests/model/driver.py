"""driver - one run of a plan (schedule.py) against a real sbkd: start it
(tests/soak/soaklib.py), warm it up, take the idle baseline, perform the
steps on non-blocking sockets at their times while the prober
(probe.py) pings on fresh connections, drain, and check the invariants
(check.py).  The result is a list of problems (empty: the run passed) and
the figures of the run.
"""

import base64
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import time

import check
import schedule

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "soak"))
import soaklib  # noqa: E402


class Options:
    ping_limit_ms = 250       # a fresh connection's ping, every probe
    probe_ms = 100            # the prober's interval
    rss_bound_mib = None      # None: the formula of rss_bound_kib()
    maps_slack = 8            # mappings over the idle baseline at the end
    # RSS over the idle baseline at the end, or 3/4 of the run's peak over
    # it if more: after big replies glibc keeps about 60% of the peak even
    # after malloc_trim (+10-19 MiB seen after 4 s plans).
    rss_slack_mib = 24
    stall_s = 10              # no byte moved for this long: stuck
    drain_max_s = 120
    verbose = False


def rss_bound_kib(plan, idle_kib):
    """The bound on sbkd's RSS during a run: the worst case of
    sbkd.conf(5), MEMORY, in KiB, with W = cpu_workers + io_workers,
    Q = queue_max, R = max_request_bytes, each the largest of the plan's
    configurations, and C = the connections the run has open at once at
    most (its clients, the prober's and one of the driver's own) instead
    of max_connections, which a run never approaches:

        about 16 MiB (here: the idle RSS after the warm-up, if larger)
      + output_budget_bytes
      + C x (max_output_bytes_per_conn + 2 x R + 512 KiB)
      + (Q + W) x 2 x R
      + memory_budget_kib x 1024
      + W x 2.5 x max(max_read_bytes, zstd max_output_bytes)
    """
    cfgs = plan.configs
    kib = 1024
    r = schedule.MAX_REQUEST_BYTES // kib
    w = max(c["cpu_workers"] + c["io_workers"] for c in cfgs)
    q = max(c["queue_max"] for c in cfgs)
    conns = plan.max_conns + 2
    return (max(16 * kib, idle_kib) +
            max(c["output_budget_bytes"] for c in cfgs) // kib +
            conns * (max(c["max_output_bytes_per_conn"] for c in cfgs) //
                     kib + 2 * r + 512) +
            (q + w) * 2 * r +
            max(c["memory_budget_kib"] for c in cfgs) +
            w * 5 * max(schedule.MAX_READ_BYTES,
                        schedule.ZSTD_MAX_OUTPUT) // kib // 2)


class Client:
    """One connection of the plan and what it saw."""

    def __init__(self, run, c, reader):
        self.c = c
        self.reader = reader
        self.never = reader == "never"
        self.rng = random.Random("%s/c%d" % (run.plan.seed, c))
        self.sock = run.daemon.connect()
        self.sock.setblocking(False)
        self.out = bytearray()
        self.inbuf = bytearray()
        self.pending = {}      # id key -> request
        self.done = {}         # id key -> reply
        self.batches = []
        self.cancels = {}      # target id key -> job.cancel results
        self.null_expected = 0
        self.null_got = 0
        self.shut_wanted = self.shut_done = False
        self.closed = False    # by us
        self.eof = False       # by sbkd
        self.next_tiny = 0.0

    def wants_read(self, now):
        if self.closed or self.eof or self.reader in ("paused", "never"):
            return False
        return self.reader == "eager" or now >= self.next_tiny


class Run:
    def __init__(self, plan, sbkd, opts=None):
        self.plan = plan
        self.sbkd = sbkd
        self.opts = opts or Options()
        self.problems = []
        self.figures = {}
        self.clients = {}
        self.hashes = {}
        self.frames = {}
        self.seen = {}
        self.unseen = 0
        self.ambiguous = 0
        self.samples = []
        self.probe = None
        self.probe_buf = b""
        self.reloads = 0
        self.last_move = time.monotonic()

    def fail(self, text):
        self.problems.append(text)
        if self.opts.verbose:
            print("PROBLEM:", text, file=sys.stderr)

    # --- set-up ---
    def prepare(self, dirname):
        os.mkdir(os.path.join(dirname, "r"))
        os.mkdir(os.path.join(dirname, "w"))
        for i in range(len(schedule.FILE_SIZES)):
            with open(os.path.join(dirname, "r", "f%d" % i), "wb") as f:
                f.write(schedule.file_data(self.plan.seed, i))

    def write_config(self, cfg):
        """Atomically: sbkd must never read half a file."""
        tmp = self.daemon.conf + ".new"
        with open(tmp, "w") as f:
            f.write(self.plan.config_text(cfg).replace("@DIR@",
                                                       self.daemon.dir))
        os.replace(tmp, self.daemon.conf)

    def stats(self, timeout=30):
        c = soaklib.Conn(self.daemon, timeout)
        try:
            return c.call("stats")["result"]
        finally:
            c.close()

    def reload(self, cfg, wait=False):
        gen = self.stats()["config_generation"] if wait else None
        self.write_config(cfg)
        os.kill(self.daemon.pid, signal.SIGHUP)
        self.reloads += 1
        if wait and not soaklib.wait_until(
                lambda: self.stats()["config_generation"] > gen, 30):
            self.fail("a reload was not in force after 30 s")

    def warm_up(self):
        """Everything lazily made once (codec contexts, malloc arenas of
        every worker, a big line's parse) before the idle baseline, and
        the hashes and frames the plan refers to."""
        c = soaklib.Conn(self.daemon)
        try:
            for k, pw in enumerate(schedule.PASSWORDS):
                r = c.call("argon2.hash", {"password": pw, "t_cost": 1,
                                           "m_cost_kib": 64})
                self.hashes[k] = r["result"]["hash"]
            # Path mode: the bomb's input is over max_request_bytes.
            for name, _, _ in schedule.FRAME_SPECS:
                src = os.path.join(self.daemon.dir, "w", "src-" + name)
                with open(src, "wb") as f:
                    f.write(schedule.frame_data(self.plan.seed, name))
                r = c.call("zstd.compress", {"path": src,
                                             "out_path": src + ".zst"})
                if "result" not in r:
                    raise SystemExit("warm-up: %s" % r)
                with open(src + ".zst", "rb") as f:
                    self.frames[name] = base64.b64encode(f.read()).decode()
            for i in (1, 2, 3):
                r = c.call("zstd.compress", {
                    "path": os.path.join(self.daemon.dir, "r", "f%d" % i),
                    "out_path": os.path.join(self.daemon.dir, "w",
                                             "f%d.zst" % i),
                    "overwrite": True})
                if "result" not in r:
                    raise SystemExit("warm-up: %s" % r)
            # Every worker busy at once (the pools are at 2 and 2 now).
            reqs = [("spin", {"ms": 30}), ("spin", {"ms": 30}),
                    ("sleep", {"ms": 30}), ("sleep", {"ms": 30}),
                    ("file.read", {"path": os.path.join(
                        self.daemon.dir, "r", "f5")})]
            for i, (m, p) in enumerate(reqs):
                c.send({"jsonrpc": "2.0", "id": 100 + i, "method": m,
                        "params": p})
            for _ in reqs:
                c.recv()
        finally:
            c.close()
        # Its own connection: the one above went over its output cap.
        c = soaklib.Conn(self.daemon)
        try:
            big = base64.b64encode(bytes(100000)).decode()
            c.call("zstd.compress", {"data_b64": big})
        finally:
            c.close()
        self.reload(self.plan.configs[0], wait=True)

    def idle_figures(self):
        """fds, threads, mappings, RSS and stats at idle, after a heap
        trim.  sbkd trims once per quiet spell after job activity, and the
        last trim may already lie behind us: one job of our own makes
        activity, so a trim must follow within a few ticks (if none does,
        sbkd believes jobs are still in its pool)."""
        c = soaklib.Conn(self.daemon)
        try:
            r = c.call("sleep", {"ms": 0})
        finally:
            c.close()
        if "result" in r:
            self.seen["completed"] = self.seen.get("completed", 0) + 1
        trims = soaklib.heap_trims(self.daemon)
        if not soaklib.wait_until(
                lambda: soaklib.heap_trims(self.daemon) > trims, 30, 0.2):
            self.fail("no heap trim within 30 s of the last job: sbkd "
                      "counts jobs in its pool that are not there")
        soaklib.settle(self.daemon, 1 << 30, trims)
        d = self.daemon
        soaklib.wait_until(lambda: self.stats()["connections"] <= 1, 10)
        st = self.stats()
        # No client connects from here on: sbkd only closes the last one.
        fds = d.fds()
        soaklib.wait_until(lambda: d.fds() < fds, 0.5)
        live, zombies = check.children(d.pid)
        return {"fds": d.fds(), "threads": d.threads(),
                "maps": d.maps(), "rss_kib": d.rss_kib(),
                "children": live, "zombies": zombies, "stats": st}

    # --- the prober ---
    def start_probe(self):
        self.probe = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "probe.py"),
             self.daemon.sock, str(self.daemon.pid),
             str(self.opts.probe_ms)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        os.set_blocking(self.probe.stdout.fileno(), False)

    def read_probe(self):
        try:
            chunk = os.read(self.probe.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        self.feed_probe(chunk)

    def feed_probe(self, chunk):
        self.probe_buf += chunk
        *lines, self.probe_buf = self.probe_buf.split(b"\n")
        for line in lines:
            rec = json.loads(line)
            self.samples.append(rec)
            if rec.get("err"):
                self.fail("probe at %.1f s: ping on a fresh connection "
                          "failed: %s" % (rec["t"], rec["err"]))
            elif rec["net"] > self.opts.ping_limit_ms:
                self.fail("probe at %.1f s: ping on a fresh connection "
                          "took %.0f ms, %.0f ms of it not waiting for a "
                          "CPU (limit %d ms); the event thread meanwhile, "
                          "every 20 ms: %s" % (
                              rec["t"], rec["ms"], rec["net"],
                              self.opts.ping_limit_ms,
                              json.dumps(rec.get("event_thread"))))

    def stop_probe(self):
        self.probe.stdin.close()
        os.set_blocking(self.probe.stdout.fileno(), True)
        rest = self.probe.stdout.read()
        self.probe.wait(30)
        self.feed_probe(rest)

    # --- requests on the wire ---
    def wire(self, q):
        def sub(v):
            if isinstance(v, dict) and "$hash" in v:
                return self.hashes[v["$hash"]]
            if isinstance(v, dict) and "$frame" in v:
                return self.frames[v["$frame"]]
            if isinstance(v, str) and "@DIR@" in v:
                return v.replace("@DIR@", self.daemon.dir)
            return v
        obj = {"jsonrpc": "2.0", "method": q["method"]}
        if q["id"] is not None:
            obj["id"] = q["id"]
        if q["params"]:
            obj["params"] = {k: sub(v) for k, v in q["params"].items()}
        return obj

    def perform(self, s):
        op = s["op"]
        if op == "reload":
            self.reload(s["cfg"])
            return
        if op == "open":
            self.clients[s["c"]] = Client(self, s["c"], s["reader"])
            return
        cl = self.clients.get(s["c"])
        if cl is None or cl.closed or cl.eof:  # a shrunk plan
            return
        if op == "send":
            objs = [self.wire(q) for q in s["reqs"]]
            if s.get("over"):
                cl.null_expected += 1
            else:
                batch = set()
                for q in s["reqs"]:
                    if q["id"] is None:
                        if q["pool"]:
                            self.unseen += 1
                        continue
                    k = json.dumps(q["id"])
                    cl.pending[k] = q
                    q["_batch"] = s["batch"]
                    batch.add(k)
                if s["batch"] and batch:
                    cl.batches.append(batch)
            if s["batch"]:
                data = json.dumps(objs, separators=(",", ":")) + "\n"
            else:
                data = "".join(json.dumps(o, separators=(",", ":")) + "\n"
                               for o in objs)
            cl.out += data.encode()
        elif op == "raw":
            cl.null_expected += 1
            pad = s["size"] - 60
            cl.out += (b'{"jsonrpc":"2.0","id":1,"method":"ping","x":"' +
                       b"x" * pad + b'"}\n')
        elif op == "reader":
            cl.reader = s["reader"]
            cl.never = False
        elif op == "shutdown":
            cl.shut_wanted = True
        elif op == "close":
            self.close_client(cl)

    def close_client(self, cl):
        cl.closed = True
        cl.sock.close()
        self.unseen += sum(1 for q in cl.pending.values() if q["pool"])

    # --- the loop ---
    def service(self, until):
        """Move bytes until `until` (monotonic)."""
        while True:
            now = time.monotonic()
            if now >= until:
                return
            poller = select.poll()
            fdmap = {}
            tiny = False
            for cl in self.clients.values():
                if cl.closed or cl.eof:
                    continue
                ev = 0
                if cl.out:
                    ev |= select.POLLOUT
                if cl.wants_read(now):
                    ev |= select.POLLIN
                    tiny = tiny or cl.reader == "tiny"
                if ev:
                    poller.register(cl.sock, ev)
                    fdmap[cl.sock.fileno()] = cl
            if self.probe is not None:
                poller.register(self.probe.stdout, select.POLLIN)
            wait = min(until - now, 0.003 if tiny else 0.05)
            for fd, ev in poller.poll(max(wait, 0) * 1000):
                cl = fdmap.get(fd)
                if cl is None:
                    self.read_probe()
                    continue
                if ev & select.POLLOUT and not cl.closed and not cl.eof:
                    self.write(cl)
                if ev & (select.POLLIN | select.POLLHUP | select.POLLERR) \
                        and not cl.closed and not cl.eof:
                    self.read(cl)
            for cl in self.clients.values():
                if (cl.shut_wanted and not cl.shut_done and not cl.out and
                        not cl.closed and not cl.eof):
                    cl.sock.shutdown(socket.SHUT_WR)
                    cl.shut_done = True

    def write(self, cl):
        try:
            n = cl.sock.send(cl.out[:1 << 18])
        except BlockingIOError:
            return
        except OSError as e:
            self.fail("c%d: sbkd dropped the connection while we wrote "
                      "(%s), %d requests pending" % (cl.c, e,
                                                     len(cl.pending)))
            cl.eof = True
            return
        del cl.out[:n]
        self.last_move = time.monotonic()

    def read(self, cl):
        size = 65536
        if cl.reader == "tiny":
            size = cl.rng.randint(1, 300)
            cl.next_tiny = time.monotonic() + 0.002
        try:
            data = cl.sock.recv(size)
        except BlockingIOError:
            return
        except OSError as e:
            self.fail("c%d: sbkd reset the connection (%s), %d requests "
                      "pending" % (cl.c, e, len(cl.pending)))
            cl.eof = True
            return
        if not data:
            cl.eof = True
            if not cl.shut_done:
                self.fail("c%d: sbkd closed a connection the client had "
                          "not shut down, %d requests pending" % (
                              cl.c, len(cl.pending)))
            elif cl.pending:
                self.fail("c%d: sbkd closed the half-closed connection "
                          "with %d requests unanswered: %s" % (
                              cl.c, len(cl.pending),
                              ", ".join(sorted(cl.pending)[:10])))
            return
        self.last_move = time.monotonic()
        cl.inbuf += data
        while True:
            i = cl.inbuf.find(b"\n")
            if i < 0:
                break
            line = bytes(cl.inbuf[:i])
            del cl.inbuf[:i + 1]
            self.on_line(cl, line)

    def on_line(self, cl, line):
        try:
            msg = json.loads(line)
        except ValueError:
            self.fail("c%d: a reply line that is not JSON: %r" % (
                cl.c, line[:200]))
            return
        if isinstance(msg, list):
            keys = set()
            for m in msg:
                if not isinstance(m, dict) or "id" not in m:
                    self.fail("c%d: batch reply member %r" % (cl.c, m))
                    continue
                keys.add(json.dumps(m["id"]))
            if keys not in cl.batches:
                self.fail("c%d: a batch reply with ids %s matches no batch "
                          "sent" % (cl.c, sorted(keys)))
            else:
                cl.batches.remove(keys)
            for m in msg:
                if isinstance(m, dict) and "id" in m:
                    self.on_reply(cl, m, True)
            return
        if not isinstance(msg, dict):
            self.fail("c%d: reply %r" % (cl.c, msg))
        elif "id" not in msg:
            self.fail("c%d: a message without id (a notification we never "
                      "asked for): %r" % (cl.c, line[:200]))
        elif msg["id"] is None:
            cl.null_got += 1
            code = (msg.get("error") or {}).get("code")
            if code != -32600:
                self.fail("c%d: id null reply %r, expected -32600" % (
                    cl.c, line[:200]))
        else:
            self.on_reply(cl, msg, False)

    def on_reply(self, cl, msg, in_batch):
        k = json.dumps(msg["id"])
        q = cl.pending.pop(k, None)
        if q is None:
            self.fail("c%d: %s reply to id %s" % (
                cl.c, "a second" if k in cl.done else "a", k) +
                ("" if k in cl.done else " that was never sent (unknown "
                 "id)"))
            return
        cl.done[k] = msg
        if q["_batch"] != in_batch:
            self.fail("c%d: id %s answered %s its batch" % (
                cl.c, k, "outside" if q["_batch"] else "in a batch, not"))
        for p in check.check_reply(self.plan.seed, q, msg, cl.cancels):
            self.fail("c%d: %s" % (cl.c, p))
        if q["pool"]:
            o = check.outcome_of(msg)
            if "error" in msg and msg["error"].get("code") in (-32003,
                                                              -32005):
                o = "ambiguous"
            elif o is None and msg["error"].get("code") == -32602 and \
                    q["params"].get("timeout_ms") != 0:
                o = "ambiguous"  # found while running (a corrupt frame)
            if o == "ambiguous":
                self.ambiguous += 1
            elif o is not None:
                self.seen[o] = self.seen.get(o, 0) + 1
        elif q["method"] == "ping" and "result" in msg:
            self.seen["pong"] = self.seen.get("pong", 0) + 1

    # --- end of run ---
    def drain(self):
        """Read everything still owed; a connection nobody reads (reader
        never) is closed unread.  Fails when no byte moves for stall_s."""
        for cl in self.clients.values():
            if cl.closed or cl.eof:
                continue
            if cl.never:
                self.close_client(cl)
            else:
                cl.reader = "eager"
        start = self.last_move = time.monotonic()
        while True:
            waiting = [cl for cl in self.clients.values()
                       if not cl.closed and not cl.eof and
                       (cl.pending or cl.out or
                        cl.null_got < cl.null_expected or
                        (cl.shut_done and not cl.eof) or
                        (cl.shut_wanted and not cl.shut_done))]
            if not waiting:
                return
            now = time.monotonic()
            if now - self.last_move > self.opts.stall_s or \
                    now - start > self.opts.drain_max_s:
                try:
                    st = json.dumps(self.stats(10)["queue"])
                except (OSError, ValueError, KeyError) as e:
                    st = "stats failed: %s" % e
                for cl in waiting:
                    self.fail(
                        "c%d: no reply for %.0f s (run over): %d requests "
                        "unanswered (%s), %d bytes unsent, %d/%d id-null "
                        "replies, half-closed %s; sbkd queue %s" % (
                            cl.c, now - self.last_move, len(cl.pending),
                            ", ".join(sorted(cl.pending)[:8]),
                            len(cl.out), cl.null_got, cl.null_expected,
                            cl.shut_done, st))
                return
            self.service(now + 0.1)

    def final_checks(self):
        for cl in self.clients.values():
            if cl.closed:
                continue
            if cl.null_got != cl.null_expected:
                self.fail("c%d: %d id-null replies, expected %d" % (
                    cl.c, cl.null_got, cl.null_expected))
        # A cancel that said true produced the -32002 reply, and a -32002
        # came from a cancel that said true (both seen on an open conn).
        for cl in self.clients.values():
            if cl.closed:
                continue
            for k, reply in cl.done.items():
                said = cl.cancels.get(k)
                code = (reply.get("error") or {}).get("code")
                if said is None:
                    if code == -32002:
                        self.fail("c%d: id %s got -32002 but no cancel "
                                  "named it" % (cl.c, k))
                    continue
                if (code == -32002) != (True in said):
                    self.fail("c%d: id %s got %s while job.cancel of it "
                              "answered %s" % (cl.c, k, code or "a result",
                                               said))

    def close_all(self):
        for cl in self.clients.values():
            if not cl.closed:
                cl.closed = True
                cl.sock.close()

    def execute(self):
        plan, opts = self.plan, self.opts
        warm = dict(plan.configs[0], cpu_workers=2, io_workers=2)
        self.daemon = soaklib.Daemon(
            self.sbkd, plan.config_text(warm), prepare=self.prepare)
        try:
            self.body()
        except (OSError, ValueError, KeyError) as e:
            self.fail("run aborted: %s: %s" % (type(e).__name__, e))
        finally:
            if self.probe is not None and self.probe.poll() is None:
                self.probe.kill()
                self.probe.wait()
            for cl in self.clients.values():
                if not cl.closed:
                    cl.sock.close()
            status = self.daemon.stop(keep=opts.verbose and self.problems)
            if status != 0:
                self.fail("sbkd exited with status %s after SIGTERM: %s" % (
                    status, self.daemon.tail(1000)))
        return self.problems

    def body(self):
        plan, opts, d = self.plan, self.opts, self.daemon
        self.warm_up()
        idle = self.idle_figures()
        self.seen = {}  # the history starts at the baseline's stats
        self.figures["idle"] = {k: v for k, v in idle.items()
                                if k != "stats"}
        for p in check.stats_idle(idle["stats"]):
            self.fail("before the run: " + p)
        bound = (opts.rss_bound_mib * 1024 if opts.rss_bound_mib else
                 rss_bound_kib(plan, idle["rss_kib"]))
        self.figures["rss_bound_kib"] = bound

        self.start_probe()
        t0 = time.monotonic()
        for s in plan.steps:
            self.service(t0 + s["t"] / 1000)
            if not d.alive():
                break
            self.perform(s)
        self.service(time.monotonic() + 0.05)
        t1 = time.monotonic()
        if d.alive():
            self.drain()
        self.figures["drain_s"] = round(time.monotonic() - t1, 1)
        self.final_checks()
        self.close_all()
        if d.alive():
            # Back to the first configuration, so the idle figures
            # compare with the baseline's pool sizes.
            self.reload(plan.configs[0], wait=True)
            self.service(time.monotonic() + 0.3)
        self.stop_probe()
        self.figures["run_s"] = round(time.monotonic() - t0, 1)
        if not d.alive():
            self.fail("sbkd died: status %s: %s" % (d.proc.returncode,
                                                    d.tail(1500)))
            return

        pings = [r["ms"] for r in self.samples if "err" not in r]
        nets = [r["net"] for r in self.samples if "err" not in r]
        rss = [r["rss"] for r in self.samples if r["rss"] > 0]
        thr = [r["thr"] for r in self.samples if r["thr"] > 0]
        self.figures.update(
            probes=len(self.samples),
            ping_max_ms=round(max(pings), 1) if pings else None,
            ping_net_max_ms=round(max(nets), 1) if nets else None,
            # Where the event thread was during the slowest (net) ping.
            worst_ping=max((r for r in self.samples if "err" not in r),
                           key=lambda r: r["net"], default={}).get(
                               "event_thread"),
            rss_max_kib=max(rss) if rss else None,
            threads_max=max(thr) if thr else None)
        if rss and max(rss) > bound:
            self.fail("RSS reached %d KiB, over the bound %d KiB" % (
                max(rss), bound))

        t2 = time.monotonic()
        end = self.idle_figures()
        self.figures["settle_s"] = round(time.monotonic() - t2, 1)
        self.figures["end"] = {k: v for k, v in end.items() if k != "stats"}
        # sbkd's own account of its longest loop iteration (since start).
        self.figures["lag_max_ms"] = round(
            end["stats"]["loop"]["lag_max_us"] / 1000, 1)
        for p in check.stats_idle(end["stats"]):
            self.fail("after the run: " + p)
        for p in check.stats_history(idle["stats"], end["stats"], self.seen,
                                     self.unseen, self.ambiguous):
            self.fail(p)
        if end["stats"]["connections"] != 1:
            self.fail("idle: %d connections open, expected only the stats "
                      "one" % end["stats"]["connections"])
        if end["threads"] != idle["threads"]:
            self.fail("idle: threads %d after the run, %d before" % (
                end["threads"], idle["threads"]))
        for p in check.idle_resources(idle, end):
            self.fail(p)
        if end["maps"] > idle["maps"] + opts.maps_slack:
            self.fail("idle: %d memory mappings after the run, %d before "
                      "(slack %d)" % (end["maps"], idle["maps"],
                                      opts.maps_slack))
        # glibc keeps about 60% of a run's peak over idle after the trim
        # (docs/HARDENING.md, "What remains": the sliding mmap threshold).
        peak = max(rss) if rss else end["rss_kib"]
        slack = max(opts.rss_slack_mib * 1024,
                    3 * (peak - idle["rss_kib"]) // 4)
        if end["rss_kib"] > idle["rss_kib"] + slack:
            self.fail("idle: RSS %d KiB after the run, %d KiB before "
                      "(slack %d KiB)" % (end["rss_kib"], idle["rss_kib"],
                                          slack))
