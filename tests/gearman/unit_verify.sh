#!/usr/bin/env bash
#
# tests/gearman/unit_verify.sh UNIT BINARY - `systemd-analyze verify` on
# the configured sbk-gearman.service (offline), with ExecStart= pointed at
# the built binary (verify wants it to exist).  Exit 77 (skipped) without
# systemd-analyze.
set -euo pipefail
command -v systemd-analyze >/dev/null || exit 77
unit=$1 bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#^ExecStart=[^ ]*#ExecStart=$bin#" "$unit" >"$tmp/sbk-gearman.service"
grep -q "^ExecStart=$bin -c " "$tmp/sbk-gearman.service" || {
	echo "FAIL: no ExecStart= in $unit" >&2
	exit 1
}
export SYSTEMD_PAGER= SYSTEMD_COLORS=0
out=$(cd "$tmp" && systemd-analyze verify --man=no sbk-gearman.service 2>&1) || {
	printf 'FAIL: systemd-analyze verify:\n%s\n' "$out" >&2
	exit 1
}
if [ -n "$out" ]; then
	printf 'FAIL: systemd-analyze verify complains:\n%s\n' "$out" >&2
	exit 1
fi
echo "systemd-analyze verify sbk-gearman.service: clean"
