# lib.sh - what the side-by-side bench scripts share (sourced, POSIX sh):
# a scratch directory, the sbkd config they all use, one server process
# at a time, and the wait for its socket.  Callers set $pid when they
# start a server.

work=$(mktemp -d /tmp/sbk-bench.XXXXXX)
pid=
# servers that die by SIGTERM make wait return 143: not an error under set -e
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && { wait "$pid" 2>/dev/null || :; }; pid=; }
trap 'stop; rm -rf "$work"' EXIT INT TERM

# Two CPU workers and 62 waiting: 4 connections x 16 in flight fill both.
printf '[daemon]\nenable_test_methods = true\n[pool]\ncpu_workers = 2\nqueue_max = 62\n' \
    > "$work/sbkd.conf"

# wait_socket NAME: until $work/sock exists (10 s), else exit 1
wait_socket() {
	for _ in $(seq 100); do [ -S "$work/sock" ] && return; sleep 0.1; done
	echo "$1 did not start" >&2
	exit 1
}
