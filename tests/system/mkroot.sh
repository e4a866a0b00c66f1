#!/usr/bin/env bash
#
# tests/system/mkroot.sh - build (once) the Debian 12 root the system test
# boots, and print its path.
#
# Usage: bash tests/system/mkroot.sh [DEB...]
#
#   DEB  package files to be installed in the container later: what they
#        depend on is downloaded into the root's apt cache now (network
#        only for a dependency not there yet), so that `apt install
#        ./x.deb` works inside the container, which has no network
#
# The root lives in $SBK_SYSTEST_CACHE (default /var/cache/sbk-systest),
# outside the repository, in a directory named after a hash of the suite
# and the package list below: a change to either builds a new root, an
# unchanged one is reused (about 250 MB).  The old roots are removed.
# The mirror is the one apt on this machine uses for bookworm, read from
# /etc/apt/sources.list* at run time (no host name is kept in the tree).
# Needs root, debootstrap and network the first time only.
set -euo pipefail

suite=bookworm
debs=()
cache=${SBK_SYSTEST_CACHE:-/var/cache/sbk-systest}
# systemd as PID 1, the bus systemctl talks to, and what the sbk packages
# depend on, so that `apt install ./sbkd_*.deb` inside the container (no
# network there) finds every dependency installed.
include=systemd,systemd-sysv,dbus,libevent-core-2.1-7,libevent-pthreads-2.1-7
include+=,libevent-extra-2.1-7,libjansson4,libargon2-1,libzstd1,libsystemd0
include+=,libinih1

log()
{
	printf 'mkroot: %s\n' "$*" >&2
}

# The bookworm mirror of apt's own configuration: one-line "deb URL
# bookworm ..." entries or deb822 stanzas (URIs: / Suites:).
mirror()
{
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) while ($i !~ /\]$/) i++
			if ($i ~ /^\[/ || $i ~ /\]$/) i++
			if ($(i + 1) == s) { print $i; exit }
		}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '
		function flush() {
			if (uri != "" && suites ~ ("(^| )" s "( |$)") && types ~ /(^| )deb( |$)/)
				print uri
			uri = ""; suites = ""; types = ""
		}
		/^[ \t]*$/ { flush(); next }
		/^URIs:/ { uri = $2 }
		/^Suites:/ { $1 = ""; suites = $0 }
		/^Types:/ { $1 = ""; types = $0 }
		END { flush() }' "$f"
	done
}

# The dependencies of the given packages into the root's apt cache.
fetch_deps()
{
	local rc
	[ $# -eq 0 ] && return 0
	rm -rf "$dir/root/tmp/sbk-debs"
	mkdir -p "$dir/root/tmp/sbk-debs"
	cp "$@" "$dir/root/tmp/sbk-debs/"
	cp /etc/resolv.conf "$dir/root/etc/resolv.conf" 2>/dev/null || true
	# Stale package lists (a point release since the root was made):
	# refreshed once, then tried again.
	chroot "$dir/root" sh -c 'cd /tmp/sbk-debs && apt-get install -y -q \
	    --download-only --no-install-recommends ./*.deb ||
	    { apt-get update -q && apt-get install -y -q --download-only \
	    --no-install-recommends ./*.deb; }' >"$dir/deps.log" 2>&1
	rc=$?
	rm -rf "$dir/root/tmp/sbk-debs" "$dir/root/etc/resolv.conf"
	[ $rc -eq 0 ] || { tail -n 20 "$dir/deps.log" >&2;
	    log "cannot fetch the dependencies (log: $dir/deps.log)"; }
	return $rc
}

[ "$(id -u)" -eq 0 ] || { log "must run as root"; exit 1; }
for deb in "$@"; do
	[ -f "$deb" ] || { log "no such file: $deb"; exit 1; }
	debs+=("$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")")
done
key=$(printf '%s %s\n' "$suite" "$include" | sha256sum | cut -c1-16)
dir=$cache/$key
mkdir -p "$cache"
# One builder at a time (two test runs may start together).
exec 9>"$cache/.lock"
flock 9
if [ -f "$dir/done" ]; then
	fetch_deps "${debs[@]}" || exit 1
	printf '%s\n' "$dir/root"
	exit 0
fi

command -v debootstrap >/dev/null || {
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends debootstrap ||
	    { apt-get update && apt-get install -y --no-install-recommends debootstrap; }
}
url=$(mirror | head -n 1)
[ -n "$url" ] || { log "no $suite source in /etc/apt/sources.list*"; exit 1; }

# Roots of another suite or package list: stale.
for old in "$cache"/*; do
	if [ -d "$old" ] && [ "$old" != "$dir" ]; then
		rm -rf --one-file-system "$old"
	fi
done
rm -rf --one-file-system "$dir"
mkdir -p "$dir"
log "debootstrap $suite from $url into $dir/root"
debootstrap --variant=minbase --include="$include" "$suite" "$dir/root" \
    "$url" >"$dir/debootstrap.log" 2>&1 || {
	tail -n 20 "$dir/debootstrap.log" >&2
	log "debootstrap failed (log: $dir/debootstrap.log)"
	exit 1
}
# apt inside the root must know the packages for `apt install ./x.deb`.
cp /etc/resolv.conf "$dir/root/etc/resolv.conf" 2>/dev/null || true
chroot "$dir/root" apt-get update -q >>"$dir/debootstrap.log" 2>&1 || {
	log "apt-get update in the root failed"
	exit 1
}
chroot "$dir/root" apt-get clean
rm -f "$dir/root/etc/resolv.conf"
# An empty machine-id: systemd makes up one at each boot (in the overlay).
# No getty on the pipe console.
: >"$dir/root/etc/machine-id"
ln -sf /dev/null "$dir/root/etc/systemd/system/console-getty.service"
fetch_deps "${debs[@]}" || exit 1
touch "$dir/done"
printf '%s\n' "$dir/root"
