#!/bin/sh
# env-compare.sh - sbkd with and without one environment setting (say an
# allocator tunable), side by side in one run: REPS alternating pairs of
# daemons, each measured with the same `sbkctl bench` client on
#   spin ms=0 throughput over 4 connections x 64 in flight,
#   ping p99 under a saturating spin-20 ms load (probe every 2 ms),
#   argon2.hash throughput at t_cost 1, 64 KiB (4 x 16 in flight).
# usage: bench/env-compare.sh [BUILD_DIR] [VAR=VALUE] [SECONDS] [REPS]
# default (or empty): build, sbkd.service's Environment= setting, 5, 5
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
setting=${2:-$(sed -n 's/^Environment=//p' "$src/systemd/sbkd.service.in")}
secs=${3:-5}
reps=${4:-5}
sbkctl=$build/client/sbkctl
. "$src/bench/lib.sh"

start() {
	rm -f "$work/sock"
	if [ "$1" = with ]; then
		env "$setting" "$build/daemon/sbkd" -c "$work/sbkd.conf" \
		    -s "$work/sock" 2>/dev/null &
	else
		"$build/daemon/sbkd" -c "$work/sbkd.conf" -s "$work/sock" \
		    2>/dev/null &
	fi
	pid=$!
	wait_socket sbkd
}

bench() {
	"$sbkctl" -s "$work/sock" bench -c 4 -d "${secs}s" "$@"
}

echo "== machine: $(nproc) CPUs, $(uname -srm), load $(cut -d' ' -f1 /proc/loadavg)"
echo "== with: $setting"
i=1
while [ $i -le "$reps" ]; do
	for mode in without with; do
		start $mode
		t=$(bench -p 64 -m spin -P '{"ms":0}' --probe-ms 0 |
		    sed -n 's/^throughput *//p')
		p=$(bench -p 16 -m spin -P '{"ms":20}' --probe-ms 2 |
		    grep '^probe' | grep -o 'p99 [0-9.]*')
		a=$(bench -p 16 -m argon2.hash --probe-ms 0 -P \
		    '{"password":"pass","t_cost":1,"m_cost_kib":64,"parallelism":1}' |
		    sed -n 's/^throughput *//p')
		printf '%-7s run %d: spin 0 %s | ping %s ms | argon2 %s\n' \
		    $mode $i "$t" "$p" "$a"
		stop
	done
	i=$((i + 1))
done
