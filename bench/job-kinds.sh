#!/bin/sh
# job-kinds.sh - issue 3's two comparisons, side by side in one run:
#   argon2id at the default cost: hashes/s through sbkd (cpu_workers = N,
#     driven by `sbkctl bench`) against N threads calling libargon2
#     directly (bench/argon2_direct.c);
#   zstd level 3, path mode, on a 256 MiB file: MB/s through sbkd
#     (`sbkctl compress`) against `zstd -3` on the same file.
# Each measurement runs REPS times, alternating the two sides; the median
# is printed.  usage: bench/job-kinds.sh [BUILD_DIR] [N] [SECONDS] [REPS]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
n=${2:-$(nproc)}
secs=${3:-10}
reps=${4:-3}
sbkd=$build/daemon/sbkd
sbkctl=$build/client/sbkctl
for f in "$sbkd" "$sbkctl"; do
	[ -x "$f" ] || { echo "missing $f (build first)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/sbk-bench.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

cc -O2 -o "$work/argon2_direct" "$src/bench/argon2_direct.c" \
    $(pkg-config --cflags --libs libargon2) -pthread

mkdir "$work/files"
cat > "$work/sbkd.conf" <<CONF
[pool]
cpu_workers = $n
[files]
read_roots = $work/files
write_roots = $work/files
CONF
"$sbkd" -c "$work/sbkd.conf" -s "$work/sock" 2>"$work/sbkd.log" &
pid=$!
i=0
while [ ! -S "$work/sock" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat "$work/sbkd.log"; exit 1; }
	sleep 0.1
done

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }

echo "machine: $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "argon2id default cost (t=3 m=65536 p=1), N=$n, ${secs}s per run, $reps runs"
: > "$work/direct"; : > "$work/sbkd"
for r in $(seq "$reps"); do
	"$work/argon2_direct" -n "$n" -d "$secs" |
	    sed 's/.*= \([0-9.]*\) hashes.*/\1/' >> "$work/direct"
	"$sbkctl" -s "$work/sock" bench -m argon2.hash \
	    -P '{"password":"benchmark password"}' -c "$n" -p 4 -d "${secs}s" \
	    --probe-ms 0 --json |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["throughput_rps"])' \
	    >> "$work/sbkd"
done
d=$(median < "$work/direct"); s=$(median < "$work/sbkd")
echo "  direct libargon2: $(tr '\n' ' ' < "$work/direct")-> median $d hashes/s"
echo "  through sbkd:     $(tr '\n' ' ' < "$work/sbkd")-> median $s hashes/s"
echo "  ratio sbkd/direct: $(echo "$s $d" | awk '{ printf "%.3f", $1 / $2 }')"

# 256 MiB of text-like data (base64 of random bytes: about 75% entropy).
head -c 201326592 /dev/urandom | base64 -w 76 | head -c 268435456 \
    > "$work/files/in"
size=$(stat -c %s "$work/files/in")
echo "zstd -3 path mode, $size-byte file, $reps runs"
: > "$work/zcli"; : > "$work/zsbk"
for r in $(seq "$reps"); do
	t0=$(now); zstd -q -3 -f -o "$work/files/cli.zst" "$work/files/in"; t1=$(now)
	echo "$t0 $t1" | awk -v s="$size" '{ printf "%.1f\n", s / 1e6 / ($2 - $1) }' >> "$work/zcli"
	t0=$(now)
	"$sbkctl" -s "$work/sock" compress -l 3 --overwrite \
	    -o "$work/files/sbk.zst" "$work/files/in" > /dev/null
	t1=$(now)
	echo "$t0 $t1" | awk -v s="$size" '{ printf "%.1f\n", s / 1e6 / ($2 - $1) }' >> "$work/zsbk"
done
zstd -q -d -c "$work/files/sbk.zst" | cmp -s - "$work/files/in" ||
    { echo "sbkd output does not decompress to the input" >&2; exit 1; }
c=$(median < "$work/zcli"); s=$(median < "$work/zsbk")
echo "  zstd -3 CLI:  $(tr '\n' ' ' < "$work/zcli")-> median $c MB/s"
echo "  through sbkd: $(tr '\n' ' ' < "$work/zsbk")-> median $s MB/s"
echo "  ratio sbkd/CLI: $(echo "$s $c" | awk '{ printf "%.3f", $1 / $2 }')"
