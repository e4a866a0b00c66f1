#!/bin/sh
# isolation.sh - issue 15's figures, isolated against in-process, side by
# side in one run (two sbkd of the same build, alternating per run):
#   inline zstd.decompress of 64 KiB (text-like) jobs/s (`sbkctl bench`,
#     C connections x 4 in flight);
#   path-mode zstd.decompress of a 256 MiB file, MB/s of output
#     (`sbkctl decompress`);
#   helper memory: RSS and PSS of each helper (/proc/PID/smaps_rollup)
#     after the runs;
#   respawn: sequential 64 KiB decompressions with [isolation] max_jobs = 1
#     (a fresh helper for every job) against max_jobs = 1000; the
#     difference per job is what a respawn costs a job.
# Each measurement runs REPS times, alternating which side goes first;
# the median is printed.
# usage: bench/isolation.sh [BUILD_DIR] [SECONDS] [REPS] [CONNS]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
secs=${2:-10}
reps=${3:-3}
conns=${4:-$(nproc)}
sbkd=$build/daemon/sbkd
sbkctl=$build/client/sbkctl
for f in "$sbkd" "$sbkctl"; do
	[ -x "$f" ] || { echo "missing $f (build first)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/sbk-isobench.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
mkdir "$work/files"

# start NAME KINDS MAX_JOBS: an sbkd on $work/NAME.sock
start() {
	cat > "$work/$1.conf" <<CONF
[daemon]
max_request_bytes = 4194304
[files]
read_roots = $work/files
write_roots = $work/files
[zstd]
max_output_bytes = 536870912
[isolation]
kinds = $2
max_jobs = $3
CONF
	"$sbkd" -c "$work/$1.conf" -s "$work/$1.sock" 2>"$work/$1.log" &
	pids="$pids $!"
	eval "pid_$1=$!"
	i=0
	while [ ! -S "$work/$1.sock" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$work/$1.log"; exit 1; }
		sleep 0.1
	done
}
start iso zstd.decompress 1000
start inp "" 1000
start respawn zstd.decompress 1

# The two sides in turn, the first one alternating (A B, B A, ...): what
# one run leaves behind (dirty pages, a warm cache) falls on both sides.
order() { if [ $(($1 % 2)) -eq 1 ]; then echo "$2 $3"; else echo "$3 $2"; fi; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }
rps() {
	python3 -c 'import json,sys; print(json.load(sys.stdin)["throughput_rps"])'
}

echo "machine: $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "build: $build ($(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?'))"

# 64 KiB of text-like bytes (base64 of random data), compressed inline.
head -c 49152 /dev/urandom | base64 -w 76 | head -c 65536 > "$work/64k"
frame=$("$sbkctl" -s "$work/inp.sock" --json call zstd.compress \
    "{\"data_b64\":\"$(base64 -w0 < "$work/64k")\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data_b64"])')
params="{\"data_b64\":\"$frame\"}"

echo "inline zstd.decompress, 64 KiB out, -c $conns -p 4, ${secs}s per run, $reps runs"
: > "$work/r_iso"; : > "$work/r_inp"
for r in $(seq "$reps"); do
	for side in $(order "$r" iso inp); do
		"$sbkctl" -s "$work/$side.sock" bench -m zstd.decompress \
		    -P "$params" -c "$conns" -p 4 -d "${secs}s" --probe-ms 0 \
		    --json | rps >> "$work/r_$side"
	done
done
a=$(median < "$work/r_iso"); b=$(median < "$work/r_inp")
echo "  isolated:   $(tr '\n' ' ' < "$work/r_iso")-> median $a jobs/s"
echo "  in-process: $(tr '\n' ' ' < "$work/r_inp")-> median $b jobs/s"
echo "  ratio isolated/in-process: $(echo "$a $b" | awk '{ printf "%.3f", $1 / $2 }')"

# 256 MiB of text-like data, zstd -3.
head -c 201326592 /dev/urandom | base64 -w 76 | head -c 268435456 |
    zstd -q -3 -o "$work/files/big.zst"
size=268435456
echo "path-mode zstd.decompress, $size bytes out, $reps runs"
: > "$work/p_iso"; : > "$work/p_inp"
for r in $(seq "$reps"); do
	for side in $(order "$r" iso inp); do
		sync
		t0=$(now)
		"$sbkctl" -s "$work/$side.sock" decompress -f \
		    -o "$work/files/out.$side" "$work/files/big.zst" > /dev/null
		t1=$(now)
		echo "$t0 $t1" | awk -v s="$size" \
		    '{ printf "%.1f\n", s / 1e6 / ($2 - $1) }' >> "$work/p_$side"
		[ "$(stat -c %s "$work/files/out.$side")" -eq "$size" ] ||
		    { echo "wrong output size" >&2; exit 1; }
		rm -f "$work/files/out.$side"
	done
done
a=$(median < "$work/p_iso"); b=$(median < "$work/p_inp")
echo "  isolated:   $(tr '\n' ' ' < "$work/p_iso")-> median $a MB/s"
echo "  in-process: $(tr '\n' ' ' < "$work/p_inp")-> median $b MB/s"
echo "  ratio isolated/in-process: $(echo "$a $b" | awk '{ printf "%.3f", $1 / $2 }')"

echo "helper memory (after the runs), per process:"
for h in $(pgrep -P "$pid_iso" -f -- --isolated-helper || true); do
	awk -v p="$h" '/^Rss:/ { r = $2 } /^Pss:/ { s = $2 }
	    END { printf "  helper %s: RSS %d KiB, PSS %d KiB\n", p, r, s }' \
	    "/proc/$h/smaps_rollup"
done
awk '/^Rss:/ { r = $2 } /^Pss:/ { s = $2 }
    END { printf "  (sbkd itself: RSS %d KiB, PSS %d KiB)\n", r, s }' \
    "/proc/$pid_iso/smaps_rollup"

n=200
echo "respawn: $n sequential 64 KiB decompressions, max_jobs 1 vs 1000, $reps runs"
: > "$work/s_respawn"; : > "$work/s_iso"
for r in $(seq "$reps"); do
	for side in $(order "$r" respawn iso); do
		"$sbkctl" -s "$work/$side.sock" bench -m zstd.decompress \
		    -P "$params" -c 1 -p 1 -n "$n" --probe-ms 0 --json |
		    rps >> "$work/s_$side"
	done
done 2>/dev/null
a=$(median < "$work/s_respawn"); b=$(median < "$work/s_iso")
echo "  max_jobs 1:    $(tr '\n' ' ' < "$work/s_respawn")-> median $a jobs/s"
echo "  max_jobs 1000: $(tr '\n' ' ' < "$work/s_iso")-> median $b jobs/s"
echo "  respawn cost per job: $(echo "$a $b" | awk '{ printf "%.0f us", (1 / $1 - 1 / $2) * 1e6 }')"
# A helper alone: posix_spawn of "sbkd --isolated-helper" to its first
# answer (exec, the dynamic loader, sandbox_enter, one frame each way).
python3 - "$sbkd" 50 <<'PY'
import os, socket, statistics, struct, sys, time
exe, n = sys.argv[1], int(sys.argv[2])
ts = []
for _ in range(n):
    a, b = socket.socketpair()
    t0 = time.perf_counter()
    pid = os.posix_spawn(exe, ["sbkd-helper", "--isolated-helper"], {},
                         file_actions=[(os.POSIX_SPAWN_DUP2, b.fileno(), 3)])
    b.close()
    # An unknown op (99): the helper answers -32603 and stays.
    a.sendall(struct.pack("<IHHiIQQQ", 0x49424b53, 99, 0, 0, 0, 0, 0, 0))
    a.recv(296, socket.MSG_WAITALL)
    ts.append((time.perf_counter() - t0) * 1e3)
    a.close()
    os.waitpid(pid, 0)
ts.sort()
print("spawn to first answer, %d helpers: median %.1f ms (min %.1f, max %.1f)"
      % (n, statistics.median(ts), ts[0], ts[-1]))
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
