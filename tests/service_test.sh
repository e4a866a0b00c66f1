#!/usr/bin/env bash
#
# tests/service_test.sh - the systemd side of sbkd, checked offline (no
# systemd running as PID 1 is needed).  One mode per meson test:
#
#   security BUILD_UNIT MAX
#       `systemd-analyze security --offline=true` on the configured
#       sbkd.service; fails when the overall exposure is above MAX (e.g.
#       2.0).  Prints the measured figure.
#   install BUILD_ROOT PREFIX BINDIR SBINDIR SYSCONFDIR MANDIR UNITDIR
#           SYSUSERSDIR MAN_PAGES(yes|no)
#       `meson install --destdir` into a temporary directory, then checks
#       the tree: binaries, units, sysusers entry, example config and
#       manual pages where they belong, nothing outside the prefix and
#       sysconfdir; the installed units pass `systemd-analyze verify`
#       (with ExecStart= pointing into the DESTDIR, since verify checks
#       that the binary exists) and the installed sbkd reads the
#       installed config; systemd-sysusers creates the user in a scratch
#       root.
#
# Exit 0 on success, 77 (meson's "skipped") when systemd-analyze is
# missing, 1 on failure.
set -euo pipefail

fail()
{
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

note()
{
	printf '%s\n' "$*"
}

command -v systemd-analyze >/dev/null || {
	note "systemd-analyze not found (Debian package systemd)"
	exit 77
}
# No pager, no colours, no questions.
export SYSTEMD_PAGER= SYSTEMD_COLORS=0 LC_ALL=C.UTF-8

security()
{
	local unit=$1 max=$2 out level
	out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) ||
	    fail "systemd-analyze security failed: $out"
	level=$(printf '%s\n' "$out" |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	[ -n "$level" ] || fail "no exposure level in: $out"
	note "exposure level of $(basename "$unit"): $level (maximum $max)"
	printf '%s\n' "$out" | grep '✗' || true
	awk -v l="$level" -v m="$max" 'BEGIN { exit !(l <= m) }' ||
	    fail "exposure $level is above $max"
}

# Is path $1 inside directory $2?
under()
{
	case $1 in
	"$2"/*) return 0 ;;
	*) return 1 ;;
	esac
}

install_tree()
{
	local build=$1 prefix=$2 bindir=$3 sbindir=$4 sysconfdir=$5
	local mandir=$6 unitdir=$7 sysusersdir=$8 man=$9
	local dest f rel exec want verify_dir manopt

	# Global: the EXIT trap runs after this function has returned.
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	dest=$tmp/dest

	meson install -C "$build" --no-rebuild --quiet --destdir "$dest" ||
	    fail "meson install --destdir failed"

	for f in "$sbindir/sbkd" "$bindir/sbkctl"; do
		[ -x "$dest$f" ] || fail "$f not installed (or not executable)"
	done
	for f in "$sysconfdir/sbk/sbkd.conf" "$unitdir/sbkd.service" \
	    "$unitdir/sbkd.socket" "$sysusersdir/sbk.conf"; do
		[ -f "$dest$f" ] || fail "$f not installed"
	done
	if [ "$man" = yes ]; then
		for f in man1/sbkctl.1 man8/sbkd.8 man5/sbkd.conf.5; do
			[ -f "$dest$mandir/$f" ] ||
			    fail "$mandir/$f not installed"
		done
	fi

	# FHS: everything under the prefix, or the (possibly absolute)
	# sysconfdir; nothing escapes DESTDIR into the real root.
	while IFS= read -r f; do
		rel=${f#"$dest"}
		under "$rel" "$prefix" || under "$rel" "$sysconfdir" ||
		    fail "$rel installed outside $prefix and $sysconfdir"
	done < <(find "$dest" -type f -o -type l)

	exec=$(sed -n 's/^ExecStart=//p' "$dest$unitdir/sbkd.service")
	want="$sbindir/sbkd -c $sysconfdir/sbk/sbkd.conf"
	[ "$exec" = "$want" ] ||
	    fail "installed ExecStart=$exec, expected $want"
	grep -q '^ListenStream=/run/sbkd/sbkd.sock$' "$dest$unitdir/sbkd.socket" ||
	    fail "sbkd.socket does not listen on /run/sbkd/sbkd.sock"

	# The allocator setting the unit ships (RSS stays flat over long
	# runs) is one glibc takes: a misspelt tunable is silently ignored.
	tun=$(sed -n 's/^Environment=GLIBC_TUNABLES=//p' \
	    "$dest$unitdir/sbkd.service")
	[ "$tun" = glibc.malloc.tcache_count=1 ] ||
	    fail "sbkd.service sets GLIBC_TUNABLES='$tun'"
	ldso=$(find /lib64 /lib/x86_64-linux-gnu /lib -maxdepth 1 \
	    -name 'ld-linux*.so.*' 2>/dev/null | head -n 1)
	if [ -n "$ldso" ] && "$ldso" --list-tunables >/dev/null 2>&1; then
		GLIBC_TUNABLES=$tun "$ldso" --list-tunables |
		    grep -q '^glibc.malloc.tcache_count: 0x1 ' ||
		    fail "glibc does not take GLIBC_TUNABLES=$tun"
	fi

	# The installed daemon reads the installed example config.
	"$dest$sbindir/sbkd" -t -c "$dest$sysconfdir/sbk/sbkd.conf" ||
	    fail "installed sbkd refuses the installed sbkd.conf"

	# verify wants ExecStart='s binary to exist and, with --man=yes, the
	# Documentation= pages to open: point both into the DESTDIR.
	verify_dir=$tmp/units
	mkdir "$verify_dir"
	sed "s#^ExecStart=/#ExecStart=$dest/#" "$dest$unitdir/sbkd.service" \
	    > "$verify_dir/sbkd.service"
	cp "$dest$unitdir/sbkd.socket" "$verify_dir/"
	manopt=--man=no
	if [ "$man" = yes ] && command -v man >/dev/null; then
		manopt=--man=yes
		export MANPATH=$dest$mandir
	fi
	(cd "$verify_dir" &&
	    systemd-analyze verify "$manopt" sbkd.socket sbkd.service) ||
	    fail "systemd-analyze verify $manopt found problems"
	note "systemd-analyze verify $manopt: clean"

	# The sysusers.d entry creates user and group sbk (in a scratch root).
	if command -v systemd-sysusers >/dev/null; then
		mkdir -p "$tmp/root/etc"
		if systemd-sysusers --root="$tmp/root" \
		    "$dest$sysusersdir/sbk.conf" >/dev/null 2>&1; then
			grep -q '^sbk:' "$tmp/root/etc/passwd" ||
			    fail "systemd-sysusers made no user sbk"
			grep -q '^sbk:' "$tmp/root/etc/group" ||
			    fail "systemd-sysusers made no group sbk"
			note "systemd-sysusers: user and group sbk"
		elif [ "$(id -u)" -eq 0 ]; then
			fail "systemd-sysusers refused $sysusersdir/sbk.conf"
		else
			note "systemd-sysusers needs root here; not checked"
		fi
	fi
	note "install tree under $prefix: OK"
}

mode=${1:-}
shift || true
case $mode in
security)
	[ $# -eq 2 ] || fail "usage: $0 security UNIT MAX"
	security "$@"
	;;
install)
	[ $# -eq 9 ] || fail "usage: $0 install BUILD PREFIX BINDIR SBINDIR" \
	    "SYSCONFDIR MANDIR UNITDIR SYSUSERSDIR yes|no"
	install_tree "$@"
	;;
*)
	fail "usage: $0 security|install ..."
	;;
esac
