#!/bin/sh
# idle-ab.sh - bytes per idle connection for two builds of sbkd side by
# side, alternating A B A B ... REPS times, each on a new daemon with
# compare.sh's config:
#   N idle connections right after SECS seconds of compare.sh's spin-0
#   benchmark (SECS 0: on a fresh daemon, no benchmark first).
# Both are driven by B's sbkctl and idle_conns, so only the daemon differs.
# usage: bench/idle-ab.sh BUILD_A BUILD_B [N] [SECS] [REPS]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 BUILD_A BUILD_B [N] [SECS] [REPS]" >&2; exit 2; }
a=$(cd "$1" && pwd)
b=$(cd "$2" && pwd)
n=${3:-1000}
secs=${4:-5}
reps=${5:-3}
. "$src/bench/lib.sh"
printf '[daemon]\nmax_connections = %d\n' $((n + 10)) >> "$work/sbkd.conf"

echo "== machine: $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
i=1
while [ "$i" -le "$reps" ]; do
	for build in "$a" "$b"; do
		rm -f "$work/sock"
		"$build/daemon/sbkd" -c "$work/sbkd.conf" -s "$work/sock" \
		    2>/dev/null &
		pid=$!
		wait_socket sbkd
		[ "$secs" = 0 ] || "$b/client/sbkctl" -s "$work/sock" bench \
		    -c 4 -p 64 -d "${secs}s" -m spin -P '{"ms":0}' \
		    --probe-ms 0 >/dev/null
		printf '%s run %d: ' "$build" "$i"
		"$b/bench/idle_conns" "$work/sock" "$pid" "$n"
		stop
	done
	i=$((i + 1))
done
