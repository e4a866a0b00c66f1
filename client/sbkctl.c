/*
 * sbkctl.c - sbkctl's main: global options (-s, -t, --json, --help,
 * --version), verb lookup in ctl_verbs[] (commands.c), each verb's own
 * options merged with the global ones so both may come anywhere after
 * the verb, then either the verb's .run or the generic exchange (build
 * params, one blocking libsbk call, print).  Error replies become one
 * line on stderr and an exit code (report.c).
 *
 * Thread safety: single-threaded (bench starts its own threads).
 */
#include "sbk-config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "sbk-client.h"

/* Long-only global options; verbs use codes from 256 up, below these. */
enum {
	OPT_JSON = 1000,
};

static const struct option global_longopts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "timeout", required_argument, NULL, 't' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};
#define GLOBAL_SHORTOPTS ":s:t:qvhV"

static void
usage(FILE *f, const char *prog)
{
	const struct ctl_verb *v;

	fprintf(f,
	    "usage: %s [-s SOCKET] [-t DURATION] [-q|-v] [--json] COMMAND "
	    "[ARGS]\n"
	    "\n"
	    "Commands:\n",
	    prog);
	for (v = ctl_verbs; v->name != NULL; v++)
		fprintf(f, "  %-11s %s\n", v->name, v->summary);
	fprintf(f,
	    "\n"
	    "Global options (before or after the command):\n"
	    "  -s, --socket PATH  daemon socket (default: $SBK_SOCKET, else "
	    "%s)\n"
	    "  -t, --timeout T    give up after T: 1500 or 1500ms, 1.5s, 2m "
	    "(default %d ms;\n"
	    "                     0: never; path-mode compress/decompress: "
	    "never)\n"
	    "  -q, --quiet        only results and errors\n"
	    "  -v, --verbose      say what sbkctl does, on stderr\n"
	    "      --json         machine-readable output, errors too\n"
	    "  -h, --help         help (of a command, after its name)\n"
	    "  -V, --version      print the version\n"
	    "\n"
	    "Exit status: 0 ok, 1 negative answer or local failure, 2 usage,\n"
	    "3 error reply from the daemon, 4 cannot connect, timed out or\n"
	    "connection lost.\n",
	    SBK_DEFAULT_SOCKET, CTL_DEFAULT_TIMEOUT_MS);
}

static void
verb_usage(FILE *f, const struct ctl *ctl)
{
	const struct ctl_verb *v = ctl->verb;

	fprintf(f, "usage: %s %s%s%s\n\n%c%s.\n", ctl->prog, v->name,
	    v->synopsis[0] != '\0' ? " " : "", v->synopsis,
	    toupper((unsigned char)v->summary[0]), v->summary + 1);
	if (v->options != NULL && v->options[0] != '\0')
		fprintf(f, "\nOptions:\n%s", v->options);
	fprintf(f,
	    "\nGlobal options: -s/--socket PATH, -t/--timeout DURATION, "
	    "-q/--quiet, -v/--verbose, --json, -h/--help.\n");
}

/* Parse a global option; -1 when ch is not one. */
static int
global_option(struct ctl *ctl, int ch, const char *arg)
{
	switch (ch) {
	case 's':
		ctl->socket = arg;
		return (CTL_OK);
	case 't':
		if (!ctl_parse_timeout(arg, &ctl->timeout_ms))
			return (ctl_fail(ctl, CTL_USAGE,
			    "bad timeout '%s' (1500, 1500ms, 1.5s, 2m; "
			    "0 for none)",
			    arg));
		ctl->timeout_set = true;
		return (CTL_OK);
	case 'q':
		ctl->quiet = true;
		return (CTL_OK);
	case 'v':
		ctl->verbose = true;
		return (CTL_OK);
	case OPT_JSON:
		ctl->json = true;
		return (CTL_OK);
	}
	return (-1);
}

/* A password must not linger in freed memory. */
static void
wipe_password(json_t *params)
{
	json_t *pw;

	pw = json_object_get(params, "password");
	if (json_is_string(pw) && json_string_length(pw) > 0)
		explicit_bzero(
		    (char *)json_string_value(pw), json_string_length(pw));
}

/* Build params, call the verb's method, print: the common verb shape. */
static int
exchange(struct ctl *ctl)
{
	const struct ctl_verb *v = ctl->verb;
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *params = NULL, *result;
	int rc;

	if (v->build != NULL && (rc = v->build(ctl, &params)) != CTL_OK)
		return (rc);
	if ((c = ctl_connect(ctl)) == NULL) {
		wipe_password(params);
		json_decref(params);
		return (CTL_CONNECT);
	}
	result = sbk_call(c, v->method, params, ctl->timeout_ms, &err);
	wipe_password(params);
	json_decref(params);
	sbk_close(c);
	if (result == NULL) {
		rc = ctl_report(ctl, v->method, &err);
		sbk_error_clear(&err);
		return (rc);
	}
	if (v->print != NULL)
		rc = v->print(ctl, result);
	else {
		ctl_print_json(ctl, result);
		rc = CTL_OK;
	}
	json_decref(result);
	return (rc);
}

/* An unknown option or a missing value: one line, not the usage. */
static int
bad_option(struct ctl *ctl, int ch, const char *word)
{
	if (ch == ':')
		return (ctl_fail(ctl, CTL_USAGE,
		    "option '%s' needs a value (try --help)", word));
	if (optopt != 0 && word[0] == '-' && word[1] != '-')
		return (ctl_fail(ctl, CTL_USAGE,
		    "unknown option '-%c' (try --help)", optopt));
	return (
	    ctl_fail(ctl, CTL_USAGE, "unknown option '%s' (try --help)", word));
}

/* Options that cannot go together: refused, exit 2. */
static int
conflicts(struct ctl *ctl)
{
	if (ctl->quiet && ctl->verbose)
		return (ctl_fail(ctl, CTL_USAGE,
		    "--quiet and --verbose cannot go together"));
	if (ctl->json && ctl->prometheus)
		return (ctl_fail(ctl, CTL_USAGE,
		    "--json and --prometheus cannot go together"));
	if (ctl->to_stdout && ctl->out != NULL)
		return (ctl_fail(ctl, CTL_USAGE,
		    "-c (standard output) and -o cannot go together"));
	if (ctl->password_fd >= 0 && ctl->password_file != NULL)
		return (ctl_fail(ctl, CTL_USAGE,
		    "--password-fd and --password-file cannot go together"));
	if (ctl->watch_s > 0 && (ctl->json || ctl->prometheus))
		return (ctl_fail(ctl, CTL_USAGE,
		    "--watch draws a table: not with --json or --prometheus"));
	return (CTL_OK);
}

/* Merge the global long options with the verb's into one array. */
static struct option *
merge_longopts(const struct ctl_verb *v)
{
	struct option *all;
	size_t ng, nv;

	ng = sizeof(global_longopts) / sizeof(global_longopts[0]) - 1;
	nv = 0;
	if (v->longopts != NULL)
		while (v->longopts[nv].name != NULL)
			nv++;
	all = calloc(ng + nv + 1, sizeof(*all));
	if (all == NULL)
		return (NULL);
	memcpy(all, global_longopts, ng * sizeof(*all));
	if (nv > 0)
		memcpy(all + ng, v->longopts, nv * sizeof(*all));
	return (all);
}

int
main(int argc, char **argv)
{
	struct ctl ctl;
	const struct ctl_verb *v;
	struct option *longopts;
	char shortopts[64];
	int ch, rc;

	memset(&ctl, 0, sizeof(ctl));
	ctl.prog = "sbkctl";
	ctl.timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	ctl.offset = -1;
	ctl.length = -1;
	ctl.t_cost = ctl.m_cost = ctl.parallelism = -1;
	ctl.hash_len = ctl.salt_len = -1;
	ctl.probe_ms = -1;
	ctl.password_fd = -1;

	/*
	 * Global options up to the verb ('+': stop at the first operand).
	 * getopt stays quiet (':' first, opterr 0): sbkctl says one line.
	 */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+" GLOBAL_SHORTOPTS,
		    global_longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout, ctl.prog);
			return (CTL_OK);
		case 'V':
			printf("sbkctl %s\n", SBK_VERSION);
			return (CTL_OK);
		case '?':
		case ':':
			return (bad_option(&ctl, ch, argv[optind - 1]));
		default:
			if (global_option(&ctl, ch, optarg) != CTL_OK)
				return (CTL_USAGE);
		}
	}
	if (optind >= argc)
		return (ctl_fail(&ctl, CTL_USAGE, "no command (try --help)"));
	for (v = ctl_verbs; v->name != NULL; v++)
		if (strcmp(v->name, argv[optind]) == 0)
			break;
	if (v->name == NULL)
		return (ctl_fail(&ctl, CTL_USAGE,
		    "unknown command '%s' (try --help)", argv[optind]));
	ctl.verb = v;

	/* The verb's options and the global ones, anywhere after it. */
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: 0 restarts the scan, permutation state too */
	snprintf(shortopts, sizeof(shortopts), "%s%s", GLOBAL_SHORTOPTS,
	    v->shortopts != NULL ? v->shortopts : "");
	if ((longopts = merge_longopts(v)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", ctl.prog);
		return (CTL_NEGATIVE);
	}
	rc = CTL_OK;
	while (rc == CTL_OK &&
	    (ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			verb_usage(stdout, &ctl);
			free(longopts);
			return (CTL_OK);
		case 'V':
			printf("sbkctl %s\n", SBK_VERSION);
			free(longopts);
			return (CTL_OK);
		case '?':
		case ':':
			rc = bad_option(&ctl, ch, argv[optind - 1]);
			break;
		default:
			rc = global_option(&ctl, ch, optarg);
			if (rc == -1)
				rc = ctl_option(&ctl, ch, optarg);
		}
	}
	free(longopts);
	if (rc != CTL_OK)
		return (CTL_USAGE);
	ctl.argc = argc - optind;
	ctl.argv = argv + optind;
	if (ctl.argc < v->min_args ||
	    (v->max_args >= 0 && ctl.argc > v->max_args))
		return (ctl_fail(&ctl, CTL_USAGE,
		    "wrong number of arguments (try %s %s --help)", ctl.prog,
		    v->name));
	if ((rc = conflicts(&ctl)) != CTL_OK)
		return (rc);
	if (v->run != NULL)
		return (v->run(&ctl));
	return (exchange(&ctl));
}
