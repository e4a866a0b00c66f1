#!/bin/sh
# valgrind-wrap.sh COMMAND... - the exe_wrapper of meson's 'valgrind' test
# setup (tests/meson.build).  The suites spawn sbkd from $SBKD; point SBKD
# at valgrind-sbkd.sh, which runs the real one ($SBKD_REAL) under
# memcheck, then run the test command itself unwrapped.  The harness needs
# no change: valgrind runs in sbkd's own process, so the pid it signals,
# waits for and probes is still the daemon's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${SBKD:-}" ] && [ "$SBKD" != "$here/valgrind-sbkd.sh" ]; then
	SBKD_REAL=$SBKD
	SBKD=$here/valgrind-sbkd.sh
	export SBKD SBKD_REAL
fi
exec "$@"
