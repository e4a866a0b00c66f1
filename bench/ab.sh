#!/bin/sh
# ab.sh - the core figures of bench/core.sh for two builds of sbkd side by
# side in one run, alternating A B A B ... REPS times, both driven by B's
# sbkctl so that only the daemon differs:
#   ping p99 while the CPU pool is saturated, spin-0 jobs/s, and RSS with
#   10,000 idle connections.
# usage: bench/ab.sh BUILD_A BUILD_B [SECONDS] [REPS]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 BUILD_A BUILD_B [SECONDS] [REPS]" >&2; exit 2; }
a=$(cd "$1" && pwd)
b=$(cd "$2" && pwd)
secs=${3:-5}
reps=${4:-3}
i=1
while [ "$i" -le "$reps" ]; do
	for build in "$a" "$b"; do
		echo "#### round $i: $build"
		SBKCTL=$b/client/sbkctl sh "$src/bench/core.sh" "$build" "$secs" 1
	done
	i=$((i + 1))
done
