/*
 * commands.c - sbkctl's verb table: for each verb its method, synopsis,
 * options, and the functions that build its params and print its result
 * (verbs that are more than one call run the whole exchange: files.c
 * for compress, decompress and read, call.c, bench.c).  Passwords
 * (password.c) come from standard input or a no-echo prompt, never from
 * argv, and are wiped after use.
 *
 * Thread safety: single-threaded.
 */
#include "sbk-config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "base64.h"
#include "ctl.h"
#include "sbk-client.h"

/* Verb option codes: letters for the short ones, 256 up for long-only. */
enum {
	OPT_OVERWRITE = 256,
	OPT_OFFSET,
	OPT_LENGTH,
	OPT_TYPE,
	OPT_T_COST,
	OPT_M_COST,
	OPT_PARALLELISM,
	OPT_HASH_LEN,
	OPT_SALT_LEN,
	OPT_PROBE_MS,
	OPT_THREADS,
	OPT_PROMETHEUS,
	OPT_WATCH,
	OPT_PASSWORD_FD,
	OPT_PASSWORD_FILE,
	OPT_ALLOW_EMPTY,
	OPT_CONN,
};


int
ctl_option(struct ctl *ctl, int ch, const char *arg)
{
	long long v;

	/* compress/decompress: -c and -d are zstd's, not bench's. */
	if (ctl->verb->run == ctl_run_zstd) {
		if (ch == 'c')
			ch = 'C';
		else if (ch == 'd')
			ch = 'D';
	}
	switch (ch) {
	case 'o':
		ctl->out = arg;
		break;
	case 'l':
		if (!ctl_parse_ll(arg, -1000, 1000, &v))
			return (ctl_bad_value(ctl, "--level", arg));
		ctl->level = (int)v;
		ctl->level_set = true;
		break;
	case OPT_OVERWRITE:
	case 'f':
		ctl->overwrite = true;
		break;
	case 'D':
		ctl->decompress = true;
		break;
	case 'k':
		ctl->keep = true;
		break;
	case 'C':
		ctl->to_stdout = true;
		break;
	case OPT_PASSWORD_FD:
		if (!ctl_parse_ll(arg, 0, INT_MAX, &v))
			return (ctl_bad_value(ctl, "--password-fd", arg));
		ctl->password_fd = (int)v;
		break;
	case OPT_PASSWORD_FILE:
		ctl->password_file = arg;
		break;
	case OPT_ALLOW_EMPTY:
		ctl->allow_empty = true;
		break;
	case OPT_WATCH:
		if (!ctl_parse_duration(arg, &ctl->watch_s))
			return (ctl_bad_value(ctl, "--watch", arg));
		break;
	case OPT_OFFSET:
		if (!ctl_parse_ll(arg, 0, LLONG_MAX, &ctl->offset))
			return (ctl_bad_value(ctl, "--offset", arg));
		break;
	case OPT_LENGTH:
		if (!ctl_parse_ll(arg, 0, LLONG_MAX, &ctl->length))
			return (ctl_bad_value(ctl, "--length", arg));
		break;
	case OPT_TYPE:
		ctl->type = arg;
		break;
	case OPT_T_COST:
		if (!ctl_parse_ll(arg, 0, INT32_MAX, &ctl->t_cost))
			return (ctl_bad_value(ctl, "--t-cost", arg));
		break;
	case OPT_M_COST:
		if (!ctl_parse_ll(arg, 0, INT32_MAX, &ctl->m_cost))
			return (ctl_bad_value(ctl, "--m-cost", arg));
		break;
	case OPT_PARALLELISM:
		if (!ctl_parse_ll(arg, 0, INT32_MAX, &ctl->parallelism))
			return (ctl_bad_value(ctl, "--parallelism", arg));
		break;
	case OPT_HASH_LEN:
		if (!ctl_parse_ll(arg, 0, INT32_MAX, &ctl->hash_len))
			return (ctl_bad_value(ctl, "--hash-len", arg));
		break;
	case OPT_SALT_LEN:
		if (!ctl_parse_ll(arg, 0, INT32_MAX, &ctl->salt_len))
			return (ctl_bad_value(ctl, "--salt-len", arg));
		break;
	case 'c':
		if (!ctl_parse_ll(arg, 1, 100000, &v))
			return (ctl_bad_value(ctl, "--connections", arg));
		ctl->conns = (int)v;
		break;
	case 'p':
		if (!ctl_parse_ll(arg, 1, 65535, &v))
			return (ctl_bad_value(ctl, "--pipeline", arg));
		ctl->pipeline = (int)v;
		break;
	case 'n':
		if (!ctl_parse_ll(arg, 1, LLONG_MAX, &ctl->requests))
			return (ctl_bad_value(ctl, "--requests", arg));
		break;
	case 'd':
		if (!ctl_parse_duration(arg, &ctl->duration_s))
			return (ctl_bad_value(ctl, "--duration", arg));
		break;
	case 'm':
		ctl->method = arg;
		break;
	case 'P':
		ctl->params = arg;
		break;
	case OPT_PROBE_MS:
		if (!ctl_parse_ll(arg, 0, 60000, &v))
			return (ctl_bad_value(ctl, "--probe-ms", arg));
		ctl->probe_ms = (int)v;
		break;
	case OPT_THREADS:
		if (!ctl_parse_ll(arg, 1, 1024, &v))
			return (ctl_bad_value(ctl, "--threads", arg));
		ctl->threads = (int)v;
		break;
	case OPT_PROMETHEUS:
		ctl->prometheus = true;
		break;
	case OPT_CONN:
		if (!ctl_parse_ll(arg, 1, LLONG_MAX, &ctl->conn))
			return (ctl_bad_value(ctl, "--conn", arg));
		break;
	default:
		return (CTL_USAGE);
	}
	return (CTL_OK);
}
/* Set an integer member when the option was given (>= 0). */
static void
set_opt_int(json_t *params, const char *key, long long v)
{
	if (v >= 0)
		json_object_set_new(params, key, json_integer(v));
}

/* --- ping, stats --- */

static int
print_ping(struct ctl *ctl, json_t *result)
{
	if (!json_is_true(json_object_get(result, "pong")))
		return (ctl_bad_reply(ctl, "ping", "no \"pong\": true"));
	if (ctl->json)
		ctl_print_json(ctl, result);
	else if (!ctl->quiet)
		printf("pong\n");
	return (CTL_OK);
}

/* --- hash, verify --- */

static int
build_hash(struct ctl *ctl, json_t **params)
{
	json_t *pw;
	int rc;

	if ((rc = ctl_read_password(ctl, &pw)) != CTL_OK)
		return (rc);
	*params = json_object();
	json_object_set_new(*params, "password", pw);
	if (ctl->type != NULL)
		json_object_set_new(*params, "type", json_string(ctl->type));
	set_opt_int(*params, "t_cost", ctl->t_cost);
	set_opt_int(*params, "m_cost_kib", ctl->m_cost);
	set_opt_int(*params, "parallelism", ctl->parallelism);
	set_opt_int(*params, "hash_len", ctl->hash_len);
	set_opt_int(*params, "salt_len", ctl->salt_len);
	return (CTL_OK);
}

static int
print_hash(struct ctl *ctl, json_t *result)
{
	const char *hash;

	hash = json_string_value(json_object_get(result, "hash"));
	if (hash == NULL)
		return (
		    ctl_bad_reply(ctl, "argon2.hash", "no \"hash\" string"));
	if (ctl->json)
		ctl_print_json(ctl, result);
	else {
		ctl_fputs_esc(hash, stdout);
		putchar('\n');
	}
	return (CTL_OK);
}

static int
build_verify(struct ctl *ctl, json_t **params)
{
	json_t *pw;
	int rc;

	if ((rc = ctl_read_password(ctl, &pw)) != CTL_OK)
		return (rc);
	*params = json_object();
	json_object_set_new(*params, "password", pw);
	json_object_set_new(*params, "hash", json_string(ctl->argv[0]));
	return (CTL_OK);
}

static int
print_verify(struct ctl *ctl, json_t *result)
{
	bool valid;

	if (!json_is_boolean(json_object_get(result, "valid")))
		return (ctl_bad_reply(
		    ctl, "argon2.verify", "no \"valid\" boolean"));
	valid = json_is_true(json_object_get(result, "valid"));
	if (ctl->json)
		ctl_print_json(ctl, result);
	else if (!ctl->quiet)
		printf("%s\n", valid ? "valid" : "invalid");
	return (valid ? CTL_OK : CTL_NEGATIVE);
}

/* --- the table --- */

#define PASSWORD_OPTS                                                        \
	{ "password-fd", required_argument, NULL, OPT_PASSWORD_FD },         \
	    { "password-file", required_argument, NULL, OPT_PASSWORD_FILE }, \
	{                                                                    \
		"allow-empty", no_argument, NULL, OPT_ALLOW_EMPTY            \
	}

static const struct option verify_opts[] = {
	PASSWORD_OPTS,
	{ NULL, 0, NULL, 0 },
};

static const struct option hash_opts[] = {
	PASSWORD_OPTS,
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "t-cost", required_argument, NULL, OPT_T_COST },
	{ "m-cost", required_argument, NULL, OPT_M_COST },
	{ "parallelism", required_argument, NULL, OPT_PARALLELISM },
	{ "hash-len", required_argument, NULL, OPT_HASH_LEN },
	{ "salt-len", required_argument, NULL, OPT_SALT_LEN },
	{ NULL, 0, NULL, 0 },
};

static const struct option zstd_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "level", required_argument, NULL, 'l' },
	{ "force", no_argument, NULL, 'f' },
	{ "overwrite", no_argument, NULL, OPT_OVERWRITE },
	{ "decompress", no_argument, NULL, 'D' },
	{ "keep", no_argument, NULL, 'k' },
	{ "stdout", no_argument, NULL, 'C' },
	{ NULL, 0, NULL, 0 },
};

static const struct option stats_opts[] = {
	{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
	{ "watch", required_argument, NULL, OPT_WATCH },
	{ NULL, 0, NULL, 0 },
};

static const struct option top_opts[] = {
	{ "delay", required_argument, NULL, 'd' },
	{ "iterations", required_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 },
};

static const struct option read_opts[] = {
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "length", required_argument, NULL, OPT_LENGTH },
	{ NULL, 0, NULL, 0 },
};

static const struct option cancel_opts[] = {
	{ "conn", required_argument, NULL, OPT_CONN },
	{ NULL, 0, NULL, 0 },
};

static const struct option bench_opts[] = {
	{ "connections", required_argument, NULL, 'c' },
	{ "pipeline", required_argument, NULL, 'p' },
	{ "inflight", required_argument, NULL, 'p' },
	{ "requests", required_argument, NULL, 'n' },
	{ "duration", required_argument, NULL, 'd' },
	{ "method", required_argument, NULL, 'm' },
	{ "params", required_argument, NULL, 'P' },
	{ "probe-ms", required_argument, NULL, OPT_PROBE_MS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ NULL, 0, NULL, 0 },
};

#define ZSTD_OPTIONS                                                          \
	"  -o, --output OUT   write OUT (default: FILE.zst, or FILE without " \
	".zst;\n"                                                             \
	"                     -o - is standard output)\n"                     \
	"  -c, --stdout       write to standard output\n"                     \
	"  -d, --decompress   decompress (compress -d is decompress)\n"       \
	"  -f, --force        replace an existing OUT (alias --overwrite)\n"  \
	"  -k, --keep         keep FILE: always so, sbkd never removes it\n"  \
	"  -l, --level N      zstd level (default: the daemon's)\n"           \
	"Files are read and written by the daemon (path mode: absolute, "     \
	"in its\n"                                                            \
	"roots, a progress bar on a terminal, no client timeout unless -t); " \
	"with\n"                                                              \
	"no FILE, -c or -o -, the data goes inline from standard input or "   \
	"FILE\n"                                                              \
	"to standard output (never to a terminal when compressing).\n"

#define PASSWORD_HELP                                                        \
	"      --password-fd N    read the password from descriptor N\n"     \
	"      --password-file F  read the password from file F\n"           \
	"      --allow-empty      accept an empty password from a pipe or "  \
	"file\n"                                                             \
	"Else the password comes from a no-echo prompt on /dev/tty when "    \
	"standard\n"                                                         \
	"input is a terminal, or from standard input (one trailing newline " \
	"cut).\n"

const struct ctl_verb ctl_verbs[] = {
	{
	    .name = "ping",
	    .method = "ping",
	    .synopsis = "",
	    .summary = "check that the daemon answers",
	    .max_args = 0,
	    .print = print_ping,
	},
	{
	    .name = "stats",
	    .method = "stats",
	    .synopsis = "[--json | --prometheus | --watch DURATION]",
	    .summary = "show the daemon's counters",
	    .options =
		"      --prometheus     Prometheus text format (as sbkd's "
		"/metrics)\n"
		"      --watch D        redraw the table every D (2, 2s, "
		"500ms) until ^C\n",
	    .longopts = stats_opts,
	    .max_args = 0,
	    .run = ctl_run_stats,
	},
	{
	    .name = "top",
	    .method = NULL,
	    .synopsis = "[-d INTERVAL] [-n COUNT]",
	    .summary = "live view: queue, workers, rates, latency, clients",
	    .options = "  -d, --delay D        refresh every D (default 1s; "
		       "2, 500ms)\n"
		       "  -n, --iterations N   stop after N screens (default: "
		       "until q or ^C)\n",
	    .longopts = top_opts,
	    .shortopts = "d:n:",
	    .max_args = 0,
	    .run = ctl_run_top,
	},
	{
	    .name = "hash",
	    .method = "argon2.hash",
	    .synopsis = "[--type T] [--t-cost N] [--m-cost KIB] "
			"[--parallelism N] < PASSWORD",
	    .summary = "argon2-hash a password from standard input",
	    .options = "      --type T         argon2id (default), argon2i or "
		       "argon2d\n"
		       "      --t-cost N       iterations\n"
		       "      --m-cost KIB     memory in KiB\n"
		       "      --parallelism N  lanes\n"
		       "      --hash-len N     hash bytes (default 32)\n"
		       "      --salt-len N     salt bytes (default "
		       "16)\n" PASSWORD_HELP,
	    .longopts = hash_opts,
	    .max_args = 0,
	    .build = build_hash,
	    .print = print_hash,
	},
	{
	    .name = "verify",
	    .method = "argon2.verify",
	    .synopsis = "HASH [--password-fd N | --password-file F] < PASSWORD",
	    .summary = "check a password from standard input against a hash",
	    .options = PASSWORD_HELP,
	    .longopts = verify_opts,
	    .min_args = 1,
	    .max_args = 1,
	    .build = build_verify,
	    .print = print_verify,
	},
	{
	    .name = "compress",
	    .method = "zstd.compress",
	    .synopsis = "[-d] [-c | -o OUT] [-f] [-k] [-l N] [FILE...]",
	    .summary = "zstd-compress FILEs (to FILE.zst), or stdin to stdout",
	    .options = ZSTD_OPTIONS,
	    .longopts = zstd_opts,
	    .shortopts = "o:l:dfkc",
	    .max_args = -1,
	    .run = ctl_run_zstd,
	},
	{
	    .name = "decompress",
	    .method = "zstd.decompress",
	    .synopsis = "[-c | -o OUT] [-f] [-k] [FILE...]",
	    .summary = "zstd-decompress FILEs (FILE.zst to FILE), or stdin "
		       "to stdout",
	    .options = ZSTD_OPTIONS,
	    .longopts = zstd_opts,
	    .shortopts = "o:l:dfkc",
	    .max_args = -1,
	    .run = ctl_run_zstd,
	},
	{
	    .name = "read",
	    .method = "file.read",
	    .synopsis = "FILE [--offset N] [--length N]",
	    .summary = "write a file the daemon reads to stdout",
	    .options =
		"      --offset N   start at byte N (default 0)\n"
		"      --length N   at most N bytes (default: to the end)\n",
	    .longopts = read_opts,
	    .min_args = 1,
	    .max_args = 1,
	    .run = ctl_run_read,
	},
	{
	    .name = "cancel",
	    .method = "job.cancel",
	    .synopsis = "[--conn N] ID",
	    .summary = "cancel request ID (exit 1 when nothing was "
		       "cancelled)",
	    .options =
		"      --conn N   the request of connection N (admin.cancel; "
		"admin only):\n"
		"                 `sbkctl jobs` lists connections and ids\n"
		"Without --conn this sends job.cancel, which the daemon scopes "
		"to its own\n"
		"connection: a new connection has no request in flight, so "
		"it answers\n"
		"false.  ID is an integer, or a string (JSON-quoted when it "
		"reads as one).\n",
	    .longopts = cancel_opts,
	    .min_args = 1,
	    .max_args = 1,
	    .run = ctl_run_cancel,
	},
	{
	    .name = "clients",
	    .method = "admin.clients",
	    .synopsis = "",
	    .summary = "list the daemon's connections (admin)",
	    .options =
		"Columns: the connection's serial number (for cancel "
		"--conn), the peer's\n"
		"pid, uid and gid, its jobs in flight and waiting, its unsent "
		"output\n"
		"(bytes) and how long it has been connected.\n",
	    .max_args = 0,
	    .print = ctl_print_clients,
	},
	{
	    .name = "jobs",
	    .method = "admin.jobs",
	    .synopsis = "",
	    .summary = "list the jobs admitted and not yet answered (admin)",
	    .options =
		"Columns: connection serial, the client's id (\"-\" for a "
		"notification), method,\n"
		"waiting or running, time waited and time run.  Parameters "
		"are never shown.\n",
	    .max_args = 0,
	    .print = ctl_print_jobs,
	},
	{
	    .name = "reload",
	    .method = "admin.reload",
	    .synopsis = "",
	    .summary = "re-read the daemon's configuration, as SIGHUP (admin)",
	    .options =
		"Prints the configuration generation now in force.  A file "
		"the daemon\n"
		"refuses is reported with its exact error (exit 3) and "
		"changes nothing.\n",
	    .max_args = 0,
	    .print = ctl_print_reload,
	},
	{
	    .name = "call",
	    .method = NULL,
	    .synopsis = "METHOD [JSON] | call -",
	    .summary = "send one request, print its result as JSON",
	    .options =
		"With METHOD \"-\": a raw session; each line of standard "
		"input\n"
		"is sent as is and every message from the daemon is printed "
		"as\n"
		"one JSON line, until the input ends and all replies came.\n",
	    .min_args = 1,
	    .max_args = 2,
	    .run = ctl_run_call,
	},
	{
	    .name = "bench",
	    .method = NULL,
	    .synopsis = "[-c CONNS] [-p INFLIGHT] [-n REQUESTS | -d DURATION] "
			"[-m METHOD] [-P JSON] [--probe-ms MS] [--threads N]",
	    .summary = "load the daemon, report throughput and latency",
	    .options =
		"  -c, --connections C   connections (default 4)\n"
		"  -p, --pipeline P      requests in flight per connection "
		"(default 16; alias --inflight)\n"
		"  -n, --requests N      total requests (default 10000)\n"
		"  -d, --duration D      run for D (10, 10s, 500ms, 1m) "
		"instead of -n\n"
		"  -m, --method NAME     method (default ping)\n"
		"  -P, --params JSON     params object (default none)\n"
		"      --probe-ms MS     ping on a separate connection every "
		"MS ms (default 5; 0: off)\n"
		"      --threads N       client threads (default: min(C, "
		"CPUs))\n"
		"  -t, --timeout MS      a connection with no reply for MS "
		"is lost\n"
		"      --json            one JSON object instead of the "
		"table\n",
	    .longopts = bench_opts,
	    .shortopts = "c:p:n:d:m:P:",
	    .max_args = 0,
	    .run = ctl_bench,
	},
	{ .name = NULL },
};
