#!/bin/sh
# compare.sh - sbkd against the Python run_in_executor reference server
# (bench/ref_executor.py) and the tokio spawn_blocking one (bench/ref_tokio,
# built here with cargo, offline, from Debian's librust-tokio-dev and
# librust-serde-json-dev; skipped if those are missing), side by side in one
# run with the same client (`sbkctl bench`), alternating the servers REPS
# times:
#   ping round trips under a CPU-saturating load (probe every 2 ms), sbkd
#     with lib.sh's config, whose queue is full;
#   spin ms=0 throughput over 4 connections x 64 in flight, on a restarted
#     server (sbkd: a queue that holds them all, so ok/s is work done, as
#     for the peers, which never refuse);
#   server RSS with 1,000 idle connections, after that.
# usage: bench/compare.sh [BUILD_DIR] [SECONDS] [REPS]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
secs=${2:-5}
reps=${3:-3}
sbkctl=$build/client/sbkctl
idle=$build/bench/idle_conns
. "$src/bench/lib.sh"

# start SERVER [SBKD_CONFIG]
start() {
	rm -f "$work/sock"
	case $1 in
	sbkd)	"$build/daemon/sbkd" -c "$work/${2:-sbkd.conf}" -s "$work/sock" \
		    2>/dev/null & ;;
	python)	python3 "$src/bench/ref_executor.py" "$work/sock" 2 & ;;
	tokio)	"$tokio" "$work/sock" 2 & ;;
	esac
	pid=$!
	wait_socket "$1"
}

# The throughput run: the default queue_max (4096) holds 4 x 64.
printf '[daemon]\nenable_test_methods = true\n[pool]\ncpu_workers = 2\n' \
    > "$work/throughput.conf"

servers="sbkd python"
tokio=$src/bench/ref_tokio/target/release/ref_tokio
cargo=$(command -v cargo || echo "${HOME:-/root}/.cargo/bin/cargo")
# cargo reads .cargo/config.toml (Debian's crates, offline) from the cwd
if [ -x "$cargo" ] && (cd "$src/bench/ref_tokio" && "$cargo" build --release \
    --offline --quiet --manifest-path Cargo.toml) 2>"$work/cargo.log"; then
	servers="$servers tokio"
elif [ -x "$tokio" ]; then
	echo "== tokio: cargo build failed, using the existing $tokio" >&2
	servers="$servers tokio"
else
	echo "== tokio: skipped: cannot build bench/ref_tokio (needs cargo and" \
	    "apt-get install librust-tokio-dev librust-serde-json-dev):" >&2
	tail -n 3 "$work/cargo.log" >&2 2>/dev/null || true
fi

echo "== machine: $(nproc) CPUs, $(uname -srm)"
i=1
while [ $i -le "$reps" ]; do
	for server in $servers; do
		start $server
		printf '%s run %d ping under load: ' $server $i
		"$sbkctl" -s "$work/sock" bench -c 4 -p 16 -d "${secs}s" \
		    -m spin -P '{"ms":20}' --probe-ms 2 | grep '^probe (ms)'
		stop
		start $server throughput.conf
		printf '%s run %d spin ms=0:        ' $server $i
		"$sbkctl" -s "$work/sock" bench -c 4 -p 64 -d "${secs}s" \
		    -m spin -P '{"ms":0}' --probe-ms 0 | grep '^throughput'
		printf '%s run %d ' $server $i
		"$idle" "$work/sock" "$pid" 1000
		stop
	done
	i=$((i + 1))
done
