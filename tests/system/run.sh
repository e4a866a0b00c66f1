#!/usr/bin/env bash
#
# tests/system/run.sh - the system test: sbk's Debian packages installed
# with apt in a Debian 12 container booted with a real systemd 252 as PID
# 1 (systemd-nspawn), and the promises of sbkd.socket and sbkd.service
# checked there for real.
#
# Usage: bash tests/system/run.sh [DEBDIR]
#
#   DEBDIR  directory holding sbkd_*.deb and sbkctl_*.deb; without it the
#           packages are built first (scripts/deb, DEB_BUILD_OPTIONS=nocheck)
#           into build-systest-deb
#
# Prints one line "system: NAME PASS|FAIL (N s)" per test and closes with
# "N passed, N failed"; exit status 1 when anything failed.  Needs root.
# Installs what it lacks on the host (systemd-container, debootstrap, and
# scripts/deb's tools).  The container's root is built once by
# tests/system/mkroot.sh and cached in $SBK_SYSTEST_CACHE (default
# /var/cache/sbk-systest); the container runs it under a throw-away
# overlay (--volatile=overlay), so the cache never changes.
#
# How the container is booted (a host whose PID 1 is not systemd, with a
# hybrid cgroup layout): this script moves itself into a cgroup of its
# own in both the name=systemd and the unified hierarchy, so that
# nspawn's sub-cgroups do not land in the host's root; then
# SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 gives the container a cgroup v2 tree
# (systemd in it manages the service's cgroup and its BPF programs);
# --register=no --keep-unit because no systemd on the host would take
# the registration ("Failed to open system bus"); --private-network so
# that PrivateNetwork= in the unit can bring up lo; and the extra
# --system-call-filter because nspawn otherwise forbids bpf(), and then
# systemd silently does not enforce IPAddressDeny=.  Commands run inside
# with nsenter into the container's PID 1.
#
# Whatever happens, the EXIT trap powers the container off (then kills
# what is left of it), removes the cgroups and the scratch directory.
set -uo pipefail

root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root_dir/tests/system
name=sbk-systest-$$
scratch=
nspawn_pid=
leader=
cg_made=()
passed=0
failed=0

log()
{
	printf 'system: %s\n' "$*" >&2
}

die()
{
	log "$*"
	echo "$passed passed, $((failed + 1)) failed"
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (systemd-nspawn, cgroups)"

# --- the host side: packages, cgroups, clean-up -----------------------------

host_packages()
{
	local -a missing=()
	local p
	for p in systemd-container debootstrap util-linux gcc libc6-dev; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = \
		    installed ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${missing[@]}" || {
		apt-get update
		apt-get install -y --no-install-recommends "${missing[@]}"
	}
}

# The cgroup this shell is in, in hierarchy $1 ("name=systemd" or "" for
# the unified one), from /proc/self/cgroup.
cgroup_of()
{
	awk -F: -v h="$1" '$2 == h { print $3; exit }' /proc/self/cgroup
}

# Move this shell (and so everything it starts) into a cgroup of its own
# in the name=systemd and the unified hierarchies.
enter_cgroups()
{
	local mnt
	for mnt in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
		[ -f "$mnt/cgroup.procs" ] || continue
		mkdir -p "$mnt/$name" || return 1
		cg_made+=("$mnt/$name")
		echo $$ >"$mnt/$name/cgroup.procs" || return 1
	done
	# A pure cgroup v2 host: one hierarchy at /sys/fs/cgroup.
	if [ ${#cg_made[@]} -eq 0 ] && [ -f /sys/fs/cgroup/cgroup.procs ]; then
		mkdir -p "/sys/fs/cgroup/$name" || return 1
		cg_made+=("/sys/fs/cgroup/$name")
		echo $$ >"/sys/fs/cgroup/$name/cgroup.procs" || return 1
	fi
}

# Every process left in our cgroups but this shell.
cgroup_pids()
{
	local d
	for d in "${cg_made[@]}"; do
		[ -d "$d" ] || continue
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -un | grep -vx "$$"
}

cleanup()
{
	local i p
	trap - EXIT INT TERM
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# SIGTERM makes nspawn power a booted container off.
		kill -TERM "$nspawn_pid" 2>/dev/null
		for i in $(seq 1 150); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	# Whatever the container left behind, then this shell out of the
	# cgroups and the cgroups removed, deepest first.
	for i in 1 2 3; do
		p=$(cgroup_pids)
		[ -z "$p" ] && break
		# shellcheck disable=SC2086
		kill -KILL $p 2>/dev/null
		sleep 0.2
	done
	for p in "${cg_made[@]}"; do
		case $p in
		/sys/fs/cgroup/systemd/*) echo $$ >/sys/fs/cgroup/systemd/cgroup.procs ;;
		/sys/fs/cgroup/unified/*) echo $$ >/sys/fs/cgroup/unified/cgroup.procs ;;
		*) echo $$ >/sys/fs/cgroup/cgroup.procs ;;
		esac 2>/dev/null
		[ -d "$p" ] && find "$p" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$p" ] && log "cgroup $p could not be removed"
	done
	[ -n "$scratch" ] && rm -rf "$scratch"
}
trap cleanup EXIT
trap 'log "interrupted"; echo "$passed passed, $((failed + 1)) failed"; exit 130' \
    INT TERM

# --- running things in the container --------------------------------------

# Run a command inside the container (all its namespaces, as root).
in_ct()
{
	nsenter -t "$leader" -a -- env -i \
	    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    LC_ALL=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# A shell snippet inside the container.
in_sh()
{
	in_ct /bin/sh -c "$1"
}

prop()
{
	in_ct systemctl show -P "$2" "$1"
}

main_pid()
{
	prop sbkd.service MainPID
}

# --- the tests -------------------------------------------------------------

# Each test is a function; it prints its findings and returns non-zero
# on failure.
run_test()
{
	local t=$1 start rc
	start=$SECONDS
	echo "--- $t"
	"test_$t"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "system: $t PASS ($((SECONDS - start)) s)"
	else
		failed=$((failed + 1))
		echo "system: $t FAIL ($((SECONDS - start)) s)"
	fi
	return 0
}

fail()
{
	echo "  FAIL: $*"
	return 1
}

# apt install ./sbkd_*.deb: the user, the units, the socket listening, the
# service not started (socket activation only).
test_install()
{
	in_sh 'cd /mnt/sbk-debs && apt-get install -y --no-install-recommends \
	    ./sbkd_*.deb ./sbkctl_*.deb ./libsbk0_*.deb' >"$scratch/apt.log" 2>&1 ||
	    { tail -n 20 "$scratch/apt.log"; fail "apt install failed"; return; }
	in_ct getent passwd sbk || fail "no user sbk" || return
	in_ct test -S /run/sbkd/sbkd.sock || fail "no /run/sbkd/sbkd.sock" || return
	[ "$(prop sbkd.socket ActiveState)" = active ] ||
	    fail "sbkd.socket is $(prop sbkd.socket ActiveState)" || return
	[ "$(prop sbkd.socket UnitFileState)" = enabled ] ||
	    fail "sbkd.socket is not enabled" || return
	[ "$(prop sbkd.service ActiveState)" = inactive ] ||
	    fail "sbkd.service started by the package" || return
	# The test's configuration: a write root (with the ReadWritePaths=
	# drop-in README.md shows) and a read root.
	in_sh 'mkdir -p /srv/sbk-in /srv/sbk-out && chown sbk:sbk /srv/sbk-out &&
	    echo hello >/srv/sbk-in/hello &&
	    sed -i -e "s|^#read_roots =.*|read_roots = /srv/sbk-in|" \
	        -e "s|^#write_roots =.*|write_roots = /srv/sbk-out|" \
	        /etc/sbk/sbkd.conf &&
	    grep -qx "read_roots = /srv/sbk-in" /etc/sbk/sbkd.conf &&
	    grep -qx "write_roots = /srv/sbk-out" /etc/sbk/sbkd.conf &&
	    mkdir -p /etc/systemd/system/sbkd.service.d &&
	    printf "[Service]\nReadWritePaths=/srv/sbk-out\n" \
	        >/etc/systemd/system/sbkd.service.d/write-roots.conf &&
	    systemctl daemon-reload' || fail "configuring the write root" || return
	echo "  installed; sbkd.socket active and enabled, sbkd.service inactive"
}

test_socket_activation()
{
	in_ct sbkctl ping || fail "sbkctl ping" || return
	[ "$(prop sbkd.service ActiveState)" = active ] ||
	    fail "sbkd.service is $(prop sbkd.service ActiveState)" || return
	echo "  ping answered by sbkd, PID $(main_pid)"
}

test_credentials()
{
	local pid st uid gid want f
	pid=$(main_pid)
	[ "$pid" -gt 0 ] || fail "no main PID" || return
	st=$(in_ct cat "/proc/$pid/status") || fail "no status" || return
	uid=$(in_ct id -u sbk)
	gid=$(in_ct id -g sbk)
	printf '%s\n' "$st" | grep -E '^(Uid|Gid|Groups|NoNewPrivs|Seccomp|Cap[A-Za-z]+):' |
	    sed 's/^/  /'
	want="Uid:	$uid	$uid	$uid	$uid"
	printf '%s\n' "$st" | grep -qx "$want" || fail "uids are not all sbk ($uid)" || return
	want="Gid:	$gid	$gid	$gid	$gid"
	printf '%s\n' "$st" | grep -qx "$want" || fail "gids are not all sbk ($gid)" || return
	printf '%s\n' "$st" | grep -qE "^Groups:[[:space:]]*($gid)?[[:space:]]*\$" ||
	    fail "supplementary groups other than sbk" || return
	printf '%s\n' "$st" | grep -qx 'NoNewPrivs:	1' || fail "NoNewPrivs is not 1" || return
	printf '%s\n' "$st" | grep -qx 'Seccomp:	2' || fail "Seccomp is not 2" || return
	for f in CapInh CapPrm CapEff CapBnd CapAmb; do
		printf '%s\n' "$st" | grep -qx "$f:	0000000000000000" ||
		    fail "$f is not empty" || return
	done
}

# The probe as ExecStartPre= of sbkd.service itself: it runs in the
# unit's sandbox, as its user, and writes its report to /run/sbkd.
probe_in_unit()
{
	in_sh 'cat >/etc/systemd/system/sbkd.service.d/zz-probe.conf <<EOF
[Service]
ExecStartPre=/bin/sh -c "/mnt/sbk-test/probe calls >/run/sbkd/probe.calls; /mnt/sbk-test/probe writable >/run/sbkd/probe.writable"
EOF
	    rm -f /run/sbkd/probe.calls /run/sbkd/probe.writable
	    systemctl daemon-reload && systemctl restart sbkd.service' || return 1
	in_ct cat /run/sbkd/probe.calls >"$scratch/probe.calls" &&
	    in_ct cat /run/sbkd/probe.writable >"$scratch/probe.writable"
	local rc=$?
	in_sh 'rm -f /etc/systemd/system/sbkd.service.d/zz-probe.conf \
	    /run/sbkd/probe.calls /run/sbkd/probe.writable
	    systemctl daemon-reload && systemctl restart sbkd.service'
	return $rc
}

test_forbidden_calls()
{
	local call inside outside bad=0
	probe_in_unit || fail "the ExecStartPre= probe did not run" || return
	# The control: the same calls as user sbk outside the sandbox.
	in_ct runuser -u sbk -- /mnt/sbk-test/probe calls >"$scratch/control.calls"
	for call in socket-inet socket-netlink mmap-wx personality ptrace \
	    chmod-setuid; do
		inside=$(awk -v c="$call" '$1 == c { print $2 }' "$scratch/probe.calls")
		outside=$(awk -v c="$call" '$1 == c { print $2 }' "$scratch/control.calls")
		echo "  $call: in the unit ${inside:-?}, outside it ${outside:-?}"
		[ "$outside" = ok ] || { echo "  FAIL: control: $call fails outside"; bad=1; }
		case $inside in
		'' | ok) echo "  FAIL: $call allowed in the unit"; bad=1 ;;
		esac
	done
	# No user namespaces in the unit (outside, nspawn may forbid them too).
	inside=$(awk '$1 == "unshare-userns" { print $2 }' "$scratch/probe.calls")
	echo "  unshare-userns: in the unit ${inside:-?}"
	case $inside in
	'' | ok) echo "  FAIL: unshare(CLONE_NEWUSER) allowed in the unit"; bad=1 ;;
	esac
	return $bad
}

# Issue 15: the isolated helpers inside the unit's own sandbox.  They start
# (socketpair, posix_spawn and execve pass the unit's filter), each shows
# the seccomp filter and no_new_privs and holds 4 descriptors, an isolated
# decompression works, and with test methods on, the helper that tries
# open("/etc/passwd") dies by SIGSYS and its job gets -32005.
test_sandboxed_helpers()
{
	local pid helpers h st n out rc=0
	in_ct systemctl restart sbkd.service || fail "restart" || return
	out=$(in_sh 'printf "isolated hello\n" | sbkctl compress -c |
	    sbkctl decompress -c')
	[ "$out" = "isolated hello" ] || { echo "  FAIL: decompress: $out"; rc=1; }
	pid=$(main_pid)
	helpers=$(in_ct pgrep -P "$pid")
	[ -n "$helpers" ] || fail "no helper processes under sbkd ($pid)" || return
	for h in $helpers; do
		st=$(in_ct grep -E '^(Seccomp|NoNewPrivs):' "/proc/$h/status" |
		    tr -s '\t\n' '  ')
		n=$(in_ct ls "/proc/$h/fd" | wc -l)
		echo "  helper $h: $st fds $n"
		case $st in
		*"NoNewPrivs: 1"*"Seccomp: 2"*) ;;
		*) echo "  FAIL: helper $h is not sandboxed"; rc=1 ;;
		esac
		[ "$n" -eq 4 ] || { echo "  FAIL: helper $h holds $n fds"; rc=1; }
	done
	n=$(stat_field jobs "$(in_ct sbkctl --json stats | tr -d '\n' |
	    sed 's/.*"isolation": *{//')")
	echo "  isolation.jobs: ${n:-?}"
	[ "${n:-0}" -ge 1 ] || { echo "  FAIL: the decompression was not isolated"; rc=1; }
	in_sh 'cp /etc/sbk/sbkd.conf /run/sbkd.conf.iso &&
	    printf "[daemon]\nenable_test_methods = true\n" >>/etc/sbk/sbkd.conf &&
	    systemctl restart sbkd.service' || fail "test methods on" || return
	out=$(in_ct sbkctl --json call test.forbidden_call 2>&1)
	echo "  test.forbidden_call: $(printf '%s' "$out" | tr -d '\n' | cut -c1-160)"
	case $out in
	*-32005*SIGSYS*) ;;
	*) echo "  FAIL: the forbidden call did not kill its helper by SIGSYS"; rc=1 ;;
	esac
	out=$(in_sh 'printf "after the crash\n" | sbkctl compress -c |
	    sbkctl decompress -c')
	[ "$out" = "after the crash" ] || { echo "  FAIL: after the crash: $out"; rc=1; }
	in_sh 'mv /run/sbkd.conf.iso /etc/sbk/sbkd.conf &&
	    systemctl restart sbkd.service' || rc=1
	return $rc
}

# Writable for the service: /run/sbkd and the write root, nothing else
# (the probe tries to create a file in every directory but /proc, /sys).
test_writable_paths()
{
	local d bad=0
	[ -s "$scratch/probe.writable" ] || fail "no probe report (forbidden_calls ran it)" || return
	sed 's/^/  /' "$scratch/probe.writable"
	while read -r _ d; do
		case $d in
		/run/sbkd | /run/sbkd/* | /srv/sbk-out | /srv/sbk-out/*) ;;
		*) echo "  FAIL: $d is writable"; bad=1 ;;
		esac
	done <"$scratch/probe.writable"
	grep -qx 'writable /run/sbkd' "$scratch/probe.writable" ||
	    { echo "  FAIL: /run/sbkd is not writable"; bad=1; }
	grep -qx 'writable /srv/sbk-out' "$scratch/probe.writable" ||
	    { echo "  FAIL: the write root /srv/sbk-out is not writable"; bad=1; }
	# The two places found writable before the fix, named.
	for d in /run/lock /dev/shm; do
		grep -qx "writable $d" "$scratch/probe.writable" && bad=1
	done
	return $bad
}

# IPAddressDeny=: a transient service with the unit's network settings
# (not RestrictAddressFamilies=, which would stop the probe before the
# firewall does) cannot send a datagram to itself; without
# IPAddressDeny= it can.
test_ip_address_deny()
{
	local deny inside outside
	deny=$(prop sbkd.service IPAddressDeny)
	echo "  sbkd.service IPAddressDeny=$deny"
	[ -n "$deny" ] || fail "the unit sets no IPAddressDeny=" || return
	inside=$(in_ct systemd-run --quiet --wait --pipe --collect -p User=sbk \
	    -p PrivateNetwork=yes -p "IPAddressDeny=$deny" /mnt/sbk-test/probe udp)
	outside=$(in_ct systemd-run --quiet --wait --pipe --collect -p User=sbk \
	    -p PrivateNetwork=yes /mnt/sbk-test/probe udp)
	echo "  with IPAddressDeny=: $inside; without: $outside"
	[ "$outside" = "udp ok" ] || fail "control: udp fails without IPAddressDeny=" || return
	[ "$inside" != "udp ok" ] || fail "IPAddressDeny= not enforced" || return
}

test_watchdog()
{
	local pid new restarts i rc=0
	in_sh 'printf "[Service]\nWatchdogSec=3s\n" \
	    >/etc/systemd/system/sbkd.service.d/zz-watchdog.conf &&
	    systemctl daemon-reload && systemctl restart sbkd.service' ||
	    fail "restart with WatchdogSec=3s" || return
	pid=$(main_pid)
	restarts=$(prop sbkd.service NRestarts)
	in_sh "kill -STOP $pid"
	echo "  sbkd PID $pid stopped with SIGSTOP, WatchdogSec=3s"
	new=$pid
	for ((i = 0; i < 600; i++)); do
		new=$(main_pid)
		[ "$new" != "$pid" ] && [ "$new" != 0 ] &&
		    [ "$(prop sbkd.service ActiveState)" = active ] && break
		sleep 0.1
	done
	echo "  after $((i / 10)) s: PID $new, NRestarts $(prop sbkd.service NRestarts) (was $restarts)"
	if [ "$new" = "$pid" ] || [ "$new" = 0 ]; then
		in_sh "kill -CONT $pid" 2>/dev/null
		rc=1
		echo "  FAIL: not restarted"
	elif [ "$(prop sbkd.service NRestarts)" -le "$restarts" ]; then
		rc=1
		echo "  FAIL: NRestarts did not grow"
	fi
	in_ct journalctl -q -u sbkd.service --no-pager | grep -i watchdog |
	    tail -n 2 | sed 's/^/  /'
	in_ct journalctl -q -u sbkd.service --no-pager |
	    grep -q 'Watchdog timeout' ||
	    { echo "  FAIL: no watchdog timeout in the journal"; rc=1; }
	in_sh 'rm -f /etc/systemd/system/sbkd.service.d/zz-watchdog.conf &&
	    systemctl daemon-reload && systemctl restart sbkd.service'
	in_ct sbkctl ping >/dev/null || { echo "  FAIL: no ping after"; rc=1; }
	return $rc
}

# A number from `sbkctl --json stats` (the first field of that name), or
# from the stats text given as $2.
stat_field()
{
	local st=${2:-}
	[ -n "$st" ] || st=$(in_ct sbkctl --json stats)
	printf '%s' "$st" | grep -o "\"$1\": *[0-9]*" | head -n 1 |
	    grep -o '[0-9]*$'
}

generation()
{
	in_ct sbkctl --json stats | sed -n 's/.*"config_generation": *\([0-9]*\).*/\1/p'
}

test_reload()
{
	local pid gen g i out rc=0
	pid=$(main_pid)
	gen=$(generation)
	[ -n "$gen" ] || fail "no config_generation in stats" || return
	in_ct systemctl reload sbkd.service || fail "systemctl reload" || return
	for ((i = 0; i < 100; i++)); do
		g=$(generation)
		[ "${g:-0}" -gt "$gen" ] && break
		sleep 0.1
	done
	echo "  systemctl reload: generation $gen -> $g, PID $pid -> $(main_pid)"
	[ "${g:-0}" -gt "$gen" ] || fail "the generation did not grow" || return
	[ "$(main_pid)" = "$pid" ] || fail "the PID changed" || return
	# A broken file: refused, the daemon goes on with the old one.
	gen=$g
	in_sh 'cp /etc/sbk/sbkd.conf /run/sbkd.conf.good &&
	    printf "[daemon]\nno_such_key = 1\n" >>/etc/sbk/sbkd.conf'
	in_ct systemctl reload sbkd.service
	echo "  systemctl reload with a broken file: exit $?"
	sleep 2
	# admin.reload (contract 1.3) says so synchronously, root being an
	# admin peer: -32603.  A daemon without it (-32601) is judged by the
	# generation alone.
	out=$(in_ct sbkctl call admin.reload 2>&1)
	echo "  admin.reload with the broken file: $out" | head -n 3
	case $out in
	*-32601*) ;;
	*-32603*) ;;
	*) echo "  FAIL: admin.reload took the broken file"; rc=1 ;;
	esac
	g=$(generation)
	echo "  generation $gen -> $g, PID $pid -> $(main_pid)"
	[ "$g" = "$gen" ] || { echo "  FAIL: the broken file was taken"; rc=1; }
	[ "$(main_pid)" = "$pid" ] || { echo "  FAIL: the PID changed"; rc=1; }
	[ "$(prop sbkd.service ActiveState)" = active ] || { echo "  FAIL: not active"; rc=1; }
	in_sh 'mv /run/sbkd.conf.good /etc/sbk/sbkd.conf'
	in_ct systemctl reload sbkd.service
	for ((i = 0; i < 100; i++)); do
		g=$(generation)
		[ "${g:-0}" -gt "$gen" ] && break
		sleep 0.1
	done
	echo "  file repaired, reload: generation $g"
	[ "${g:-0}" -gt "$gen" ] || { echo "  FAIL: no reload after the repair"; rc=1; }
	return $rc
}

# systemctl stop while argon2 jobs run: each client gets its hash or
# -32006, and the service stops cleanly within TimeoutStopSec=.
test_stop_drains()
{
	local jobs=6 i t0 t1 limit ok=0 down=0 bad=0 f acc0 st
	acc0=$(stat_field accepted)
	in_sh "rm -rf /run/jobs && mkdir /run/jobs && for i in \$(seq 1 $jobs); do
	    (sbkctl -t 0 --json call argon2.hash \
	        '{\"password\":\"pw\$i\",\"t_cost\":4,\"m_cost_kib\":65536}' \
	        >/run/jobs/\$i.out 2>&1; echo \$? >/run/jobs/\$i.rc) &
	    done; wait" &
	local clients=$!
	# Until every job is admitted.
	for ((i = 0; i < 100; i++)); do
		[ "$(stat_field accepted)" -ge $((acc0 + jobs)) ] && break
		sleep 0.1
	done
	st=$(in_ct sbkctl --json stats)
	echo "  before the stop: jobs accepted $(stat_field accepted "$st") (was $acc0), completed $(stat_field completed "$st")"
	# Otherwise the stop would drain nothing and prove nothing.
	[ "$(stat_field completed "$st")" -lt "$(stat_field accepted "$st")" ] ||
	    fail "every job was done before the stop" || return
	limit=$(prop sbkd.service TimeoutStopUSec)
	t0=$(date +%s.%N)
	in_ct systemctl stop sbkd.service 2>&1 | grep -v -e '^Warning: Stopping' \
	    -e 'can still be activated by' -e '^  sbkd.socket$'
	t1=$(date +%s.%N)
	wait "$clients"
	for ((i = 1; i <= jobs; i++)); do
		f=$(in_ct cat "/run/jobs/$i.out")
		if printf '%s' "$f" | grep -q '\$argon2id\$'; then
			ok=$((ok + 1))
		elif printf '%s' "$f" | grep -q -- '-32006'; then
			down=$((down + 1))
		else
			bad=$((bad + 1))
			echo "  job $i (exit $(in_ct cat "/run/jobs/$i.rc")): $f" | head -n 2
		fi
	done
	echo "  stop took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (TimeoutStopSec=$limit); $jobs jobs: $ok hashed, $down -32006, $bad other"
	echo "  result $(prop sbkd.service Result), state $(prop sbkd.service ActiveState)"
	[ "$bad" -eq 0 ] || fail "$bad jobs neither answered nor -32006" || return
	[ "$(prop sbkd.service Result)" = success ] ||
	    fail "the stop was not clean (a SIGKILL after TimeoutStopSec?)" || return
	[ "$(prop sbkd.service ActiveState)" = inactive ] || fail "not inactive" || return
	in_ct journalctl -q -u sbkd.service --no-pager | grep -q 'SIGKILL' &&
	    { fail "SIGKILL in the journal"; return; }
	return 0
}

test_socket_survives()
{
	local pid
	[ "$(prop sbkd.socket ActiveState)" = active ] ||
	    fail "sbkd.socket is $(prop sbkd.socket ActiveState)" || return
	in_ct test -S /run/sbkd/sbkd.sock || fail "the socket file is gone" || return
	in_ct sbkctl ping || fail "no ping" || return
	pid=$(main_pid)
	[ "$pid" -gt 0 ] || fail "the service was not started" || return
	echo "  sbkd.socket active, ping started sbkd again (PID $pid)"
}

test_security()
{
	local out level
	out=$(in_ct systemd-analyze security --no-pager sbkd.service 2>&1)
	level=$(printf '%s\n' "$out" |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	printf '%s\n' "$out" | grep '✗' | sed 's/^/  /'
	echo "  online exposure: ${level:-?} (at most 1.0)"
	[ -n "$level" ] || fail "no exposure level" || return
	awk -v l="$level" 'BEGIN { exit !(l <= 1.0) }' || fail "exposure above 1.0"
}

# An upgrade (dpkg's reinstall runs the same maintainer scripts: prerm
# upgrade, postinst configure OLD) leaves the socket and the running
# service alone; removing stops both; purging deletes the config.
test_package_lifecycle()
{
	local pid sock
	pid=$(main_pid)
	sock=$(prop sbkd.socket ActiveEnterTimestampMonotonic)
	in_sh 'cd /mnt/sbk-debs && apt-get install -y --reinstall ./sbkd_*.deb' \
	    >>"$scratch/apt.log" 2>&1 || fail "reinstall failed" || return
	echo "  upgrade: PID $pid -> $(main_pid), socket since $sock -> $(prop sbkd.socket ActiveEnterTimestampMonotonic)"
	[ "$(main_pid)" = "$pid" ] || fail "the upgrade restarted sbkd" || return
	[ "$(prop sbkd.socket ActiveEnterTimestampMonotonic)" = "$sock" ] ||
	    fail "the upgrade restarted sbkd.socket" || return
	in_ct apt-get remove -y sbkd >>"$scratch/apt.log" 2>&1 || fail "remove failed" || return
	echo "  remove: sbkd.service $(prop sbkd.service ActiveState), sbkd.socket $(prop sbkd.socket ActiveState)"
	[ "$(prop sbkd.service ActiveState)" = inactive ] || fail "service still running" || return
	[ "$(prop sbkd.socket ActiveState)" = inactive ] || fail "socket still active" || return
	in_sh 'grep -qx sbkd /proc/[0-9]*/comm' &&
	    { fail "an sbkd process is left"; return; }
	in_ct test -f /etc/sbk/sbkd.conf || fail "remove deleted the config" || return
	in_ct apt-get purge -y sbkd >>"$scratch/apt.log" 2>&1 || fail "purge failed" || return
	in_ct test -e /etc/sbk/sbkd.conf && { fail "purge left /etc/sbk/sbkd.conf"; return; }
	in_ct test -e /etc/sbk && { fail "purge left /etc/sbk"; return; }
	echo "  purge: /etc/sbk/sbkd.conf and /etc/sbk gone"
}

# --- main ------------------------------------------------------------------

host_packages || die "cannot install the host packages"
scratch=$(mktemp -d /tmp/sbk-systest.XXXXXX)
chmod 755 "$scratch"

debdir=${1:-}
if [ -z "$debdir" ]; then
	debdir=$root_dir/build-systest-deb
	log "building the packages (scripts/deb, nocheck) into $debdir"
	DEB_BUILD_OPTIONS=nocheck bash "$root_dir/scripts/deb" "$debdir" \
	    >"$scratch/deb.log" 2>&1 ||
	    { tail -n 30 "$scratch/deb.log"; die "package build failed"; }
	log "packages built in $SECONDS s"
fi
debdir=$(cd "$debdir" && pwd)
compgen -G "$debdir/sbkd_*.deb" >/dev/null || die "no sbkd_*.deb in $debdir"

mkdir "$scratch/bin"
gcc -O2 -Wall -o "$scratch/bin/probe" "$here/probe.c" || die "probe build failed"

ctroot=$(bash "$here/mkroot.sh" "$debdir"/sbkd_*.deb "$debdir"/sbkctl_*.deb \
    "$debdir"/libsbk0_*.deb) || die "no container root"
log "container root ready at $SECONDS s"

enter_cgroups || die "cannot make the cgroups"
log "booting $ctroot"
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -q -D "$ctroot" \
    --volatile=overlay -M "$name" --register=no --keep-unit --boot \
    --console=pipe --private-network \
    --system-call-filter='bpf add_key keyctl request_key' \
    --bind-ro="$debdir:/mnt/sbk-debs" --bind-ro="$scratch/bin:/mnt/sbk-test" \
    </dev/null >"$scratch/console.log" 2>&1 &
nspawn_pid=$!

# The container's PID 1: the descendant of nspawn whose PID in its own
# namespace is 1.
for ((i = 0; i < 200; i++)); do
	for p in $(cgroup_pids); do
		[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = 1 ] &&
		    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] &&
		    { leader=$p; break 2; }
	done
	kill -0 "$nspawn_pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$leader" ] || { tail -n 30 "$scratch/console.log"; die "the container did not start"; }
boot_start=$SECONDS
# Until the bus is up is-system-running cannot connect; then --wait
# blocks until the boot is over.
for ((i = 0; i < 1200; i++)); do
	state=$(timeout 120 nsenter -t "$leader" -a systemctl is-system-running \
	    --wait 2>&1)
	case $state in
	*bus* | '') ;;
	*) break ;;
	esac
	kill -0 "$nspawn_pid" 2>/dev/null || break
	sleep 0.1
done
log "systemd in the container is $state after $((SECONDS - boot_start)) s (at $SECONDS s)"
case $state in
running | degraded) ;;
*) tail -n 30 "$scratch/console.log"; die "the container did not boot" ;;
esac
[ "$state" = degraded ] && in_ct systemctl --failed --no-legend | sed 's/^/system: failed unit: /' >&2

for t in install socket_activation credentials forbidden_calls \
    sandboxed_helpers writable_paths ip_address_deny watchdog reload stop_drains socket_survives security \
    package_lifecycle; do
	run_test "$t"
	# Nothing can run without the package.
	[ "$t" = install ] && [ "$failed" -gt 0 ] && break
done

log "tests done at $SECONDS s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
