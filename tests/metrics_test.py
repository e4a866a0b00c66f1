#!/usr/bin/env python3
"""The Prometheus endpoint (metrics_listen) scraped with a real HTTP
client (urllib): starts $SBKD with metrics on a free loopback port and
test methods on, scrapes /metrics, runs jobs (sleep, a timed-out sleep,
ping), scrapes again and checks that the text parses as the exposition
format, that the counters and histograms moved as they should and that
the gauges match the configuration.  Then: other paths are 404, other
methods refused, oversized headers refused without harm, a port already
taken makes sbkd exit 1 with a clear message, and with $SBKCTL set,
`sbkctl stats --prometheus` prints the same families.  Exit 0 on
success."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})?'
    r' (-?[0-9]+(?:\.[0-9]+)?|\+Inf|-Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse(text):
    """{(name, frozenset(labels)): value}, checking the format on the way:
    every sample belongs to a family whose TYPE came first, HELP and TYPE
    once per family, families not interleaved."""
    check(text.endswith("\n"), "text does not end with a newline")
    samples, types, done, current = {}, {}, set(), None
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            check(len(parts) == 4, "bad comment line %r" % line)
            name = parts[2]
            if line.startswith("# TYPE "):
                check(name not in types, "TYPE twice for " + name)
                check(parts[3] in ("counter", "gauge", "histogram"),
                      "type %r" % parts[3])
                types[name] = parts[3]
            if name != current:
                check(name not in done, "family %s interleaved" % name)
                if current is not None:
                    done.add(current)
                current = name
            continue
        m = SAMPLE.match(line)
        check(m is not None, "not a sample line: %r" % line)
        name = m.group(1)
        family = name
        if name not in types:
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            check(types.get(family) == "histogram",
                  "sample %s before its TYPE" % name)
        check(family == current, "sample %s outside its family" % name)
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        key = (name, labels)
        check(key not in samples, "duplicate sample %r" % line)
        samples[key] = float(m.group(3))
    return samples, types


def get(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def scrape(url, method="GET", headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode(errors="replace")


class Rpc:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def send(self, method, params=None):
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.next_id += 1
        self.sock.sendall(json.dumps(msg).encode() + b"\n")

    def recv(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def start(sbkd, tmp, name, port, extra=""):
    path = os.path.join(tmp, name + ".sock")
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nsocket = %s\nenable_test_methods = true\n"
                "metrics_listen = 127.0.0.1:%d\n%s"
                "[pool]\ncpu_workers = 2\nio_workers = 3\nqueue_max = 77\n"
                % (path, port, extra))
    log = open(os.path.join(tmp, name + ".log"), "w+")
    proc = subprocess.Popen([sbkd, "-c", conf], stdout=log, stderr=log)
    return proc, path, log


def wait_up(proc, path, url):
    deadline = time.monotonic() + 10
    while True:
        check(proc.poll() is None, "sbkd exited %r" % proc.returncode)
        if os.path.exists(path):
            try:
                if scrape(url)[0] == 200:
                    return
            except OSError:
                pass
        check(time.monotonic() < deadline, "sbkd did not come up")
        time.sleep(0.05)


def main():
    sbkd = os.environ["SBKD"]
    tmp = tempfile.mkdtemp(prefix="sbk-metrics-")
    procs = []
    try:
        port = free_port()
        proc, path, log = start(sbkd, tmp, "a", port)
        procs.append((proc, log))
        base = "http://127.0.0.1:%d" % port
        wait_up(proc, path, base + "/metrics")

        rpc = Rpc(path)
        status, headers, text = scrape(base + "/metrics")
        check(status == 200, "status %d" % status)
        check(headers["Content-Type"].startswith(
            "text/plain; version=0.0.4"),
            "Content-Type %r" % headers["Content-Type"])
        before, types = parse(text)
        check(get(before, "sbk_connections") == 1, "connections gauge")
        check(get(before, "sbk_queue_max") == 77, "queue_max gauge")
        check(get(before, "sbk_workers", pool="io") == 3, "io workers")
        check(get(before, "sbk_workers", pool="cpu") == 2, "cpu workers")
        check(get(before, "sbk_config_generation") == 1, "generation")
        started = get(before, "process_start_time_seconds")
        check(started is not None and
              time.time() - 120 < started <= time.time() + 1,
              "process_start_time_seconds %r" % started)
        for name in ("sbk_loop_lag_max_seconds", "sbk_loop_lag_p99_seconds",
                     "sbk_queue_depth", "sbk_argon2_memory_used_bytes",
                     "sbk_jobs_accepted_total", "sbk_workers_busy"):
            check(name in types, name + " missing")
        accepted0 = get(before, "sbk_jobs_accepted_total")
        sleeps0 = get(before, "sbk_jobs_total", method="sleep",
                      outcome="completed") or 0

        # Three 20 ms sleeps, one that times out, one ping.
        for _ in range(3):
            rpc.send("sleep", {"ms": 20})
        rpc.send("sleep", {"ms": 5000, "timeout_ms": 50})
        rpc.send("ping")
        replies = [rpc.recv() for _ in range(5)]
        errors = [r for r in replies if "error" in r]
        check(len(errors) == 1 and errors[0]["error"]["code"] == -32001,
              "replies %r" % replies)

        status, _, text = scrape(base + "/metrics")
        check(status == 200, "second scrape %d" % status)
        after, types = parse(text)
        check(types.get("sbk_job_duration_seconds") == "histogram",
              "no latency histogram")
        check(get(after, "sbk_jobs_total", method="sleep",
                  outcome="completed") == sleeps0 + 3, "sleep completed")
        check(get(after, "sbk_jobs_total", method="sleep",
                  outcome="timed_out") == 1, "sleep timed_out")
        check(get(after, "sbk_jobs_total", method="ping",
                  outcome="completed") >= 1, "ping completed")
        check(get(after, "sbk_jobs_accepted_total") == accepted0 + 4,
              "accepted moved by %r" %
              (get(after, "sbk_jobs_accepted_total") - accepted0))
        check(get(after, "sbk_loop_iterations_total") >
              get(before, "sbk_loop_iterations_total"), "loop iterations")

        # The sleep histogram: cumulative, +Inf == _count == 4, nothing
        # at or under 16.383 ms (every sleep took 20 ms or more).
        buckets = sorted(
            (float(dict(k[1])["le"]), v) for k, v in after.items()
            if k[0] == "sbk_job_duration_seconds_bucket" and
            dict(k[1]).get("method") == "sleep")
        check(len(buckets) > 10, "sleep buckets %r" % buckets)
        counts = [v for _, v in buckets]
        check(counts == sorted(counts), "buckets not cumulative")
        check(buckets[-1][0] == float("inf") and buckets[-1][1] == 4,
              "+Inf bucket %r" % (buckets[-1],))
        check(get(after, "sbk_job_duration_seconds_count",
                  method="sleep") == 4, "_count")
        total = get(after, "sbk_job_duration_seconds_sum", method="sleep")
        check(0.05 < total < 0.5, "_sum %r" % total)
        check(all(v == 0 for le, v in buckets if le <= 0.016383),
              "a 20 ms sleep under 16 ms: %r" % buckets)

        # Not /metrics: 404.  Not GET/HEAD: refused.  HEAD: no body.
        for p in ("/", "/metricsx", "/metrics/", "/stats"):
            check(scrape(base + p)[0] == 404, p + " is not 404")
        check(scrape(base + "/metrics?x=1")[0] == 200, "query string")
        check(scrape(base + "/metrics", "POST")[0] in (405, 501),
              "POST accepted")
        status, _, body = scrape(base + "/metrics", "HEAD")
        check(status == 200 and body == "", "HEAD %d %r" % (status, body))
        # Oversized headers are refused; the daemon carries on.
        status = scrape(base + "/metrics",
                        headers={"X-Big": "a" * 20000})[0]
        check(status in (400, 413, 431), "20 KB of headers: %d" % status)
        rpc.send("ping")
        check(rpc.recv().get("result") == {"pong": True}, "ping after")

        # sbkctl stats --prometheus: the same formatter, the same families.
        sbkctl = os.environ.get("SBKCTL")
        if sbkctl:
            out = subprocess.run([sbkctl, "-s", path, "stats",
                                  "--prometheus"], capture_output=True,
                                 text=True, timeout=20)
            if out.returncode == 0:
                ctl, ctl_types = parse(out.stdout)
                for name, t in ctl_types.items():
                    check(types.get(name) == t, "sbkctl family " + name)
                check(get(ctl, "sbk_jobs_total", method="sleep",
                          outcome="timed_out") == 1, "sbkctl counters")
                print("sbkctl stats --prometheus: same families")
            else:
                print("sbkctl has no stats --prometheus (%s); not checked"
                      % out.stderr.strip())
        rpc.sock.close()

        # A port already taken: refuse to start, exit 1, say why.
        proc2, path2, log2 = start(sbkd, tmp, "b", port)
        procs.append((proc2, log2))
        rc = proc2.wait(timeout=10)
        log2.seek(0)
        text2 = log2.read()
        check(rc == 1, "sbkd with a taken port exited %r" % rc)
        check("metrics_listen" in text2 and "in use" in text2,
              "no clear error: %r" % text2)
        check(not os.path.exists(path2), "socket left behind by a failed "
              "start")

        proc.terminate()
        check(proc.wait(timeout=15) == 0, "sbkd exit status")
        print("metrics: scrape, counters, histogram, 404, limits, "
              "bind failure: OK")
        return 0
    except Exception:
        for p, log in procs:
            log.seek(0)
            sys.stderr.write("--- sbkd log ---\n" + log.read())
        raise
    finally:
        for p, log in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
