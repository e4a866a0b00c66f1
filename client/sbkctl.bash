# bash completion for sbkctl(1).
_sbkctl()
{
	local cur prev words cword
	_init_completion || return

	local verbs="ping stats top hash verify compress decompress read cancel clients jobs reload call bench"
	local global="-s --socket -t --timeout -q --quiet -v --verbose --json -h --help -V --version"
	local verb="" i
	for ((i = 1; i < cword; i++)); do
		case "${words[i]}" in
		-s|--socket|-t|--timeout) ((i++)) ;;
		-*) ;;
		*) verb="${words[i]}"; break ;;
		esac
	done

	case "$prev" in
	-s|--socket|--password-file)
		_filedir
		return ;;
	-o|--output)
		_filedir
		return ;;
	--type)
		COMPREPLY=($(compgen -W "argon2id argon2i argon2d" -- "$cur"))
		return ;;
	-m|--method)
		COMPREPLY=($(compgen -W "ping stats job.cancel argon2.hash argon2.verify zstd.compress zstd.decompress file.read sleep spin admin.clients admin.jobs admin.cancel admin.reload" -- "$cur"))
		return ;;
	-t|--timeout|-l|--level|--conn|--password-fd|--watch|--offset|--length|--t-cost|--m-cost|--parallelism|--hash-len|--salt-len|-c|--connections|-p|--pipeline|--inflight|-n|--requests|-d|--duration|-P|--params|--probe-ms|--threads)
		return ;;
	esac

	if [[ -z "$verb" ]]; then
		if [[ "$cur" == -* ]]; then
			COMPREPLY=($(compgen -W "$global" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
		fi
		return
	fi

	local opts=""
	case "$verb" in
	hash) opts="--type --t-cost --m-cost --parallelism --hash-len --salt-len --password-fd --password-file --allow-empty" ;;
	verify) opts="--password-fd --password-file --allow-empty" ;;
	stats) opts="--prometheus --watch" ;;
	top) opts="-d --delay -n --iterations" ;;
	compress|decompress) opts="-o --output -c --stdout -d --decompress -f --force -k --keep -l --level --overwrite" ;;
	read) opts="--offset --length" ;;
	cancel) opts="--conn" ;;
	bench) opts="-c --connections -p --pipeline --inflight -n --requests -d --duration -m --method -P --params --probe-ms --threads" ;;
	call)
		if [[ "$cur" != -* && "$prev" == call ]]; then
			COMPREPLY=($(compgen -W "- ping stats job.cancel argon2.hash argon2.verify zstd.compress zstd.decompress file.read sleep spin admin.clients admin.jobs admin.cancel admin.reload" -- "$cur"))
			return
		fi ;;
	esac
	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
	elif [[ "$verb" == @(compress|decompress|read) ]]; then
		_filedir
	fi
} &&
complete -F _sbkctl sbkctl
