#!/bin/sh
# run-fuzz.sh TARGET CORPUS [LIBFUZZER_ARGS...] - run one libFuzzer target
# for FUZZ_SECONDS (default 20) starting from the seed corpus CORPUS.
# New inputs go to a scratch directory, so the checked-in corpus only
# changes by hand; a crash input is written to FUZZ_ARTIFACTS (default
# the current directory) and fails the run.
set -eu
target=$1
corpus=$2
shift 2
seconds=${FUZZ_SECONDS:-20}
artifacts=${FUZZ_ARTIFACTS:-$PWD}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/sbk-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"
: "${ASAN_OPTIONS:=halt_on_error=1:detect_leaks=1}"
: "${UBSAN_OPTIONS:=halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS UBSAN_OPTIONS
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$(basename "$target")-" \
    "$@" "$scratch" "$corpus"
