#!/usr/bin/env python3
"""bench/gearman.py - the cost of the Gearman hop (docs/BENCHMARKS.md,
"Gearman bridge").

Usage: python3 bench/gearman.py [BUILDDIR] [--rounds N]

Starts a gearmand on 127.0.0.1 (free port) and one "host" (sbkd with
cpu_workers = 2 + sbk-gearman with slots = 4), then measures, side by
side in one run and alternating direct / bridge each round (median of
--rounds, default 3):

  ping, one at a time    sbkctl bench -c 1 -p 1     vs gm_submit -w 1
  ping, 4 in flight      sbkctl bench -c 4 -p 1     vs gm_submit, all
                                                       queued, 4 slots
  argon2 4 MiB, t=1      sbkctl bench -c 4 -p 1     vs gm_submit, 4 slots
  argon2 64 MiB, t=3     (sbkd's default cost)

Then a second host (another sbkd + bridge) joins and the same argon2 jobs
go through gearmand again: how they split between the two bridges.
Prints a Markdown table.  Both hosts share this machine's cores, so the
second host adds no capacity here; the split is what it shows.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(pred, what, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    sys.exit("bench: timed out waiting for " + what)


class Bench:
    def __init__(self, build, tmp):
        self.build, self.tmp, self.procs = build, tmp, []
        self.port = free_port()
        self.server = "127.0.0.1:%d" % self.port
        self.gearmand = self.spawn(["gearmand", "-L", "127.0.0.1", "-p",
                                    str(self.port),
                    "-t", "2", "-l", "stderr", "-P",
                    os.path.join(tmp, "gearmand.pid")], "gearmand")
        wait_for(self.gearmand_up, "gearmand")

    def exe(self, rel):
        return os.path.join(self.build, rel)

    def spawn(self, argv, name):
        log = open(os.path.join(self.tmp, name + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=log,
                             stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def gearmand_up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def host(self, name, slots=4):
        sock = os.path.join(self.tmp, name + ".sock")
        conf = os.path.join(self.tmp, name + "-sbkd.conf")
        with open(conf, "w") as f:
            # cpu_worker_nice = 0: on a shared machine, niced workers
            # measure the other tenants more than sbk.
            f.write("[daemon]\nsocket = %s\n[pool]\ncpu_workers = 2\n"
                    "cpu_worker_nice = 0\n" % sock)
        self.sbkd = self.spawn([self.exe("daemon/sbkd"), "-c", conf],
                               name + "-sbkd")
        wait_for(lambda: os.path.exists(sock), name + " sbkd")
        bconf = os.path.join(self.tmp, name + "-bridge.conf")
        stats = os.path.join(self.tmp, name + ".prom")
        with open(bconf, "w") as f:
            f.write("[gearman]\nservers = %s\nfunctions = ping, "
                    "argon2.hash\nidentifier = %s\n[sbkd]\nsocket = %s\n"
                    "slots = %d\n[bridge]\nstats_file = %s\n"
                    % (self.server, name, sock, slots, stats))
        bridge = self.spawn([self.exe("bridge/sbk-gearman"), "-c", bconf],
                            name + "-bridge")
        time.sleep(0.5)
        return sock, bridge, stats

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(proc):
    """CPU seconds (user + system) a process has used so far."""
    with open("/proc/%d/stat" % proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def direct(b, sock, method, params, n, conns):
    argv = [b.exe("client/sbkctl"), "-s", sock, "bench", "-c", str(conns),
            "-p", "1", "-n", str(n), "-m", method, "--probe-ms", "0",
            "--json"]
    if params:
        argv += ["-P", params]
    out = json.loads(subprocess.run(argv, capture_output=True, text=True,
                                    check=True).stdout)
    assert out["ok"] == n, out
    return out["elapsed_s"]


def via_gearman(b, method, params, n, window=0):
    work = params or "{}"
    lines = "".join("%d\tsbk.%s\tnormal\t%s\n" % (i, method, work)
                    for i in range(n))
    argv = [b.exe("tests/gearman/gm_submit"), "run", b.server, "-q"]
    if window:
        argv += ["-w", str(window)]
    out = json.loads(subprocess.run(argv, input=lines, capture_output=True,
                                    text=True, check=True).stdout)
    assert out["complete"] == n, out
    return out["seconds"]


def read_stats(path, proc):
    before = os.stat(path).st_mtime_ns
    proc.send_signal(10)  # SIGUSR1
    wait_for(lambda: os.stat(path).st_mtime_ns != before, "stats")
    with open(path) as f:
        return {k: int(v) for k, v in (line.split() for line in f
                                       if not line.startswith("#"))}


def main():
    args = sys.argv[1:]
    rounds = 3
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i:i + 2]
    build = os.path.abspath(args[0] if args else os.path.join(ROOT,
                                                               "build"))
    tmp = tempfile.mkdtemp(prefix="sbk-bench-gearman.")
    b = Bench(build, tmp)
    try:
        sock, bridge_a, stats_a = b.host("a")
        small = '{"password":"pw","m_cost_kib":4096,"t_cost":1}'
        big = '{"password":"pw"}'  # sbkd's default: 64 MiB, t=3
        cases = [
            ("ping, one at a time", "ping", None, 1000, 1, "lat"),
            ("ping, 4 in flight", "ping", None, 2000, 4, "rate"),
            ("argon2.hash 4 MiB t=1, 4 in flight", "argon2.hash", small,
             100, 4, "rate"),
            ("argon2.hash 64 MiB t=3, 4 in flight", "argon2.hash", big,
             8, 4, "rate"),
        ]
        print("| job | direct to sbkd | through gearmand + bridge | "
              "overhead | CPU ms per job: sbkd direct / sbkd, bridge, "
              "gearmand via Gearman |")
        print("|---|---|---|---|---|")
        sbkd_a = b.sbkd
        for name, method, params, n, conc, kind in cases:
            d, g = [], []
            cpu = {"sd": 0.0, "sg": 0.0, "br": 0.0, "gm": 0.0}
            for _ in range(rounds):
                c0 = cpu_s(sbkd_a)
                d.append(direct(b, sock, method, params, n, conc))
                c1 = cpu_s(sbkd_a)
                cpu["sd"] += c1 - c0
                b0, g0 = cpu_s(bridge_a), cpu_s(b.gearmand)
                g.append(via_gearman(b, method, params, n,
                                     window=1 if conc == 1 else 0))
                cpu["sg"] += cpu_s(sbkd_a) - c1
                cpu["br"] += cpu_s(bridge_a) - b0
                cpu["gm"] += cpu_s(b.gearmand) - g0
            per = {k: v / (rounds * n) * 1e3 for k, v in cpu.items()}
            dm, gm = statistics.median(d), statistics.median(g)
            cpus = "%.3f / %.3f, %.3f, %.3f" % (per["sd"], per["sg"],
                                               per["br"], per["gm"])
            if kind == "lat":
                print("| %s | %.3f ms per job | %.3f ms per job | "
                      "+%.3f ms | %s |" % (name, dm / n * 1e3,
                                           gm / n * 1e3,
                                           (gm - dm) / n * 1e3, cpus))
            else:
                print("| %s | %.1f jobs/s | %.1f jobs/s | %+.0f%% time | "
                      "%s |" % (name, n / dm, n / gm,
                                (gm / dm - 1) * 100, cpus))
            sys.stdout.flush()

        # The split over two bridges.
        sock_b, bridge_b, stats_b = b.host("b")
        print()
        print("| jobs through gearmand | host a | host b | seconds |")
        print("|---|---|---|---|")
        for label, params, n in (("400 ping", None, 400),
                                 ("200 argon2.hash 4 MiB t=1", small, 200),
                                 ("16 argon2.hash 64 MiB t=3", big, 16)):
            sa0 = read_stats(stats_a, bridge_a)
            sb0 = read_stats(stats_b, bridge_b)
            secs = via_gearman(b, "ping" if params is None else
                               "argon2.hash", params, n)
            sa = read_stats(stats_a, bridge_a)
            sb = read_stats(stats_b, bridge_b)
            ta = sa["sbk_gearman_jobs_taken_total"] - \
                sa0["sbk_gearman_jobs_taken_total"]
            tb = sb["sbk_gearman_jobs_taken_total"] - \
                sb0["sbk_gearman_jobs_taken_total"]
            print("| %s | %d (%.0f%%) | %d (%.0f%%) | %.2f |" %
                  (label, ta, 100.0 * ta / n, tb, 100.0 * tb / n, secs))
    finally:
        b.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
