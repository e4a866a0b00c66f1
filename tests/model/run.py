#!/usr/bin/env python3
"""run.py - the client-behaviour fuzzer of sbkd (issue 11; docs/HARDENING.md,
"Client-behaviour fuzzer").  Each seed chooses a configuration with small
limits, files, and a schedule of client steps over several connections
(schedule.py); driver.py performs it against a real sbkd started for the
seed and checks the invariants (check.py) during and after the run.

  run.py                       the default seeds (DEFAULT_SEEDS), what the
                               meson test 'model_fuzz' runs (about 60 s)
  run.py --seed N              replay one seed: the same configuration and
                               the same steps at the same times (the
                               kernel's and sbkd's timing differ between
                               runs, so a timing-bound failure may need a
                               few replays)
  run.py --seeds 1000 [--first K]   seeds K .. K+999
  run.py --duration 30m [--first K] consecutive seeds until the time is up
  run.py --seed N --shrink     also remove steps while the same kind of
                               failure remains, and print the shortest plan
  run.py --seed N --plan       print the plan only

sbkd: --sbkd PATH, or --build DIR (DIR/daemon/sbkd), or $SBKD, or
build/daemon/sbkd.  Exit status 1 when any seed failed.  Python 3 standard
library only.
"""

import argparse
import itertools
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import driver  # noqa: E402
import schedule  # noqa: E402

# The seeds of the default run (meson test 'model_fuzz'): each takes about
# 10 s (start, warm-up, idle baseline, a 4 s plan, drain, idle again).
# On the code before the issue 11 fixes these found defects 1, 2 and 7
# (docs/HARDENING.md section 8).
DEFAULT_SEEDS = (2, 3, 8, 12, 13, 16)

KINDS = (("unanswered", "no reply for|unanswered|id-null"),
         ("ping", "probe at"),
         ("leak", "^idle:"),
         ("rss", "^RSS reached"),
         ("stats", "stats"),
         ("reply", "expected|wrong result|reply|-32002"),
         ("exit", "sbkd died|exited|dropped|reset|closed"))


def kind_of(problem):
    for name, pat in KINDS:
        if re.search(pat, problem):
            return name
    return "other"


def run_plan(plan, sbkd, opts):
    r = driver.Run(plan, sbkd, opts)
    problems = r.execute()
    return problems, r.figures


def shrink(plan, sbkd, opts, kinds, budget):
    """Remove chunks of steps (halves, then quarters...) while a run still
    fails with one of the same kinds; at most `budget` runs."""
    steps = list(plan.steps)
    chunk = max(len(steps) // 2, 1)
    runs = 0
    while chunk >= 1 and runs < budget:
        i, changed = 0, False
        while i < len(steps) and runs < budget:
            trial = steps[:i] + steps[i + chunk:]
            plan.steps = trial
            runs += 1
            problems, _ = run_plan(plan, sbkd, opts)
            if problems and kinds & {kind_of(p) for p in problems}:
                steps = trial
                changed = True
                print("shrink: %d steps still fail (%s)" % (
                    len(steps), problems[0]), flush=True)
            else:
                i += chunk
        if not changed:
            chunk //= 2
    plan.steps = steps
    return plan


def parse_duration(text):
    m = re.fullmatch(r"(\d+)([smh]?)", text)
    if not m:
        raise SystemExit("--duration: like 90s, 30m or 2h")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[
        m.group(2)]


def find_sbkd(args):
    if args.build:
        return driver.soaklib.find_sbkd(
            os.path.join(args.build, "daemon", "sbkd"))
    return driver.soaklib.find_sbkd(args.sbkd)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--sbkd")
    ap.add_argument("--build")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--duration")
    ap.add_argument("--run-ms", type=int, default=4000,
                    help="length of each plan (default 4000)")
    ap.add_argument("--ping-limit-ms", type=int,
                    default=driver.Options.ping_limit_ms,
                    help="a probe ping slower than this fails the run "
                    "(default %(default)s: the contract's 50 ms is meant "
                    "for a quiet machine)")
    ap.add_argument("--rss-bound-mib", type=int,
                    help="RSS bound during a run (default: from the "
                    "configuration, driver.rss_bound_kib)")
    ap.add_argument("--stall-s", type=float, default=driver.Options.stall_s)
    ap.add_argument("--shrink", action="store_true")
    ap.add_argument("--shrink-runs", type=int, default=40)
    ap.add_argument("--plan", action="store_true")
    ap.add_argument("--steps", help="only these steps of the plan "
                    "(comma-separated numbers, as --shrink prints them)")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()

    def make_plan(seed):
        plan = schedule.Plan(seed, args.run_ms)
        if args.steps is not None:
            keep = {int(i) for i in args.steps.split(",") if i}
            plan.steps = [st for st in plan.steps if st["n"] in keep]
        return plan

    if args.plan:
        print(make_plan(args.seed or 1).describe())
        return 0
    sbkd = find_sbkd(args)
    opts = driver.Options()
    opts.ping_limit_ms = args.ping_limit_ms
    opts.rss_bound_mib = args.rss_bound_mib
    opts.stall_s = args.stall_s
    opts.verbose = args.verbose

    if args.seed is not None:
        seeds = iter([args.seed])
    elif args.seeds is not None:
        seeds = iter(range(args.first, args.first + args.seeds))
    elif args.duration:
        end = time.monotonic() + parse_duration(args.duration)
        seeds = itertools.takewhile(lambda s: time.monotonic() < end,
                                    itertools.count(args.first))
    else:
        seeds = iter(DEFAULT_SEEDS)

    print("sbk model fuzzer: sbkd %s, ping limit %d ms, plans of %d ms" % (
        sbkd, opts.ping_limit_ms, args.run_ms), flush=True)
    failed = []
    for seed in seeds:
        plan = make_plan(seed)
        t0 = time.monotonic()
        problems, fig = run_plan(plan, sbkd, opts)
        print("seed %d: %s in %.1f s (drain %s s, settle %s s); ping max %s "
              "ms (%s ms not waiting for a CPU), loop lag max %s ms, RSS max "
              "%s KiB (bound %s), idle %s -> %s" % (
                  seed, "FAIL" if problems else "ok", time.monotonic() - t0,
                  fig.get("drain_s"), fig.get("settle_s"),
                  fig.get("ping_max_ms"), fig.get("ping_net_max_ms"),
                  fig.get("lag_max_ms"),
                  fig.get("rss_max_kib"),
                  fig.get("rss_bound_kib"),
                  json.dumps(fig.get("idle")), json.dumps(fig.get("end"))),
              flush=True)
        if fig.get("ping_net_max_ms") and fig["ping_net_max_ms"] > 50:
            print("  the event thread during the slowest ping, every 20 ms: "
                  "%s" % json.dumps(fig.get("worst_ping")), flush=True)
        if not problems:
            continue
        failed.append(seed)
        print("FAIL seed %d: %d problems" % (seed, len(problems)))
        for p in problems[:40]:
            print("  " + p)
        if len(problems) > 40:
            print("  ... %d more" % (len(problems) - 40))
        print(plan.describe())
        if args.shrink:
            kinds = {kind_of(p) for p in problems}
            plan = shrink(plan, sbkd, opts, kinds, args.shrink_runs)
            kept = [st["n"] for st in plan.steps]
            print("shrunk plan of seed %d (%s):" % (seed, ", ".join(
                sorted(kinds))))
            print(plan.describe())
            print("replay the shrunk plan: %s --seed %d --steps '%s'" % (
                os.path.relpath(__file__), seed,
                ",".join(map(str, kept))))
        print("replay: %s --seed %d%s (same plan; the kernel's timing "
              "differs)" % (os.path.relpath(__file__), seed,
                            "" if args.run_ms == 4000 else
                            " --run-ms %d" % args.run_ms), flush=True)
    if failed:
        print("failed seeds: %s" % " ".join(map(str, failed)))
        return 1
    print("all seeds passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
