#!/bin/sh
# core.sh - issue 2's three figures, in one run against one sbkd:
#   1. ping round trips (probe connection, every 2 ms) while the CPU pool
#      is saturated by `spin` jobs and the queue is full;
#   2. `spin` with ms = 0 pipelined over 4 connections: jobs/s;
#   3. daemon RSS with 10,000 idle connections.
# Each load runs REPS times; sbkctl prints its own percentiles.
# usage: bench/core.sh [BUILD_DIR] [SECONDS] [REPS]
# SBKCTL=PATH drives the daemon with another sbkctl (bench/ab.sh uses one
# client for both builds it compares).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
secs=${2:-10}
reps=${3:-3}
sbkd=$build/daemon/sbkd
sbkctl=${SBKCTL:-$build/client/sbkctl}
idle=$build/bench/idle_conns
for f in "$sbkd" "$sbkctl" "$idle"; do
	[ -x "$f" ] || { echo "missing $f (build first)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/sbk-bench.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Two CPU workers and 62 waiting jobs: 4 x 16 in flight keep the pool
# busy and the queue full without a storm of -32000 retries.
cat > "$work/sbkd.conf" <<CONF
[daemon]
enable_test_methods = true
max_connections = 12000
[pool]
cpu_workers = 2
queue_max = 62
CONF
"$sbkd" -c "$work/sbkd.conf" -s "$work/sock" 2>"$work/log" &
pid=$!
for _ in $(seq 50); do [ -S "$work/sock" ] && break; sleep 0.1; done

echo "== machine: $(nproc) CPUs, $(uname -srm); load: $(cut -d' ' -f1-3 /proc/loadavg)"
i=1
while [ $i -le "$reps" ]; do
	echo "== run $i: ping probe, CPU pool saturated (spin 20 ms), queue full"
	"$sbkctl" -s "$work/sock" bench -c 4 -p 16 -d "${secs}s" -m spin \
	    -P '{"ms":20}' --probe-ms 2 | grep -E '^(requests|probe)'
	echo "== run $i: spin ms=0, 4 connections x 64 in flight"
	"$sbkctl" -s "$work/sock" bench -c 4 -p 64 -d "${secs}s" -m spin \
	    -P '{"ms":0}' --probe-ms 0 | grep -E '^(throughput|latency)'
	i=$((i + 1))
done
echo "== idle connections"
"$idle" "$work/sock" "$pid" 10000
