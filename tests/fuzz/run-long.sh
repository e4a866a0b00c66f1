#!/usr/bin/env bash
#
# run-long.sh BUILDDIR OUTDIR [SECONDS] [PARALLEL] - the long fuzz sessions
# of docs/HARDENING.md: every libFuzzer target in BUILDDIR (configured with
# CC=clang -Dfuzzing=true) runs for SECONDS (default 1800) from its seed
# corpus, PARALLEL targets at a time (default 3), at nice 19 so the rest of
# the machine keeps its CPUs.
#
# Each target keeps what it learns in OUTDIR/<target>/corpus (a later run
# goes on from there), writes crash inputs to OUTDIR/<target>/crash-*, and
# its log to OUTDIR/<target>/log.  The closing table gives runs, exec/s,
# coverage and the crash count per target; the script exits non-zero when
# any target found a crash.  Fold a crash input into the seed corpus by
# hand (tests/fuzz/corpus/<target>/), as a regression case.
# FUZZ_TARGETS="fuzz_rpc fuzz_phc" limits the run to those targets.
set -uo pipefail

[ $# -ge 2 ] || { sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
build=$1
out=$2
seconds=${3:-1800}
parallel=${4:-3}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

targets=()
for f in "$here"/fuzz_*.c; do
	t=$(basename "$f" .c)
	[ -d "$here/corpus/$t" ] && [ -x "$build/tests/fuzz/$t" ] || continue
	[ -z "${FUZZ_TARGETS:-}" ] || [[ " $FUZZ_TARGETS " == *" $t "* ]] ||
	    continue
	targets+=("$t")
done
[ ${#targets[@]} -gt 0 ] || { echo "run-long: no fuzz target in $build" >&2; exit 2; }

run_one()
{
	local t=$1 dir=$out/$1
	mkdir -p "$dir/corpus"
	# -timeout=60: at nice 19 on a busy 2-CPU machine a target can be
	# starved for more than 10 s (seen once, on an input that runs in
	# 60 ms).  -rss_limit_mb: the argon2 params target may ask for a
	# large m_cost before the memory gate refuses it.
	nice -n 19 "$build/tests/fuzz/$t" -max_total_time="$seconds" \
	    -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$dir/" "$dir/corpus" "$here/corpus/$t" \
	    >"$dir/log" 2>&1
}

running=0
for t in "${targets[@]}"; do
	if [ "$running" -ge "$parallel" ]; then
		wait -n
		running=$((running - 1))
	fi
	echo "run-long: $t for $seconds s" >&2
	run_one "$t" &
	running=$((running + 1))
done
wait

crashes=0
printf '| target | runs | exec/s | cov | ft | corpus | crashes |\n'
printf '|---|---|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
	dir=$out/$t
	stat() { sed -n "s/^stat::$1: *//p" "$dir/log" | tail -n 1; }
	last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	n=$(find "$dir" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' \
	    -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
	crashes=$((crashes + n))
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" \
	    "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
	    "${cov:-?}" "${ft:-?}" "$(ls "$dir/corpus" | wc -l)" "$n"
done
[ "$crashes" -eq 0 ]
