#!/bin/bash
# The sbkctl bash completion: it parses, and (when bash-completion is
# installed) completes commands, options and option values.
set -eu
comp="$1"
bash -n "$comp"
bc=/usr/share/bash-completion/bash_completion
if [ -r "$bc" ]; then
	. "$bc"
else
	# Without bash-completion: the two helpers the script uses.
	_init_completion() {
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
		cur=${words[cword]}
		prev=${words[cword-1]:-}
	}
	_filedir() { :; }
fi
shopt -s extglob
. "$comp"

complete_line() {
	COMP_LINE="$1"
	read -ra COMP_WORDS <<<"$1"
	case "$1" in *" ") COMP_WORDS+=("") ;; esac
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_sbkctl sbkctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]:-}"
	echo "${COMPREPLY[*]:-}"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

out=$(complete_line "sbkctl be")
[ "$out" = "bench" ] || fail "verb: '$out'"
out=$(complete_line "sbkctl -s /tmp/x st")
[ "$out" = "stats" ] || fail "verb after -s: '$out'"
out=$(complete_line "sbkctl bench --pro")
[ "$out" = "--probe-ms" ] || fail "bench option: '$out'"
out=$(complete_line "sbkctl hash --type argon2i")
case " $out " in *" argon2i "*) ;; *) fail "--type value: '$out'" ;; esac
out=$(complete_line "sbkctl bench -m zstd.")
[ "$out" = "zstd.compress zstd.decompress" ] || fail "method: '$out'"
out=$(complete_line "sbkctl cl")
[ "$out" = "clients" ] || fail "admin verb: '$out'"
out=$(complete_line "sbkctl cancel --c")
[ "$out" = "--conn" ] || fail "cancel option: '$out'"
out=$(complete_line "sbkctl call admin.r")
[ "$out" = "admin.reload" ] || fail "admin method: '$out'"
echo ok
