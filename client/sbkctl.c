/*
 * sbkctl.c - sbkctl's main: global options (-s, -t, --json, --help,
 * --version), verb lookup in ctl_verbs[] (commands.c), each verb's own
 * options merged with the global ones so both may come anywhere after
 * the verb, then either the verb's .run or the generic exchange (build
 * params, one blocking libsbk call, print).  Error replies become one
 * line on stderr and an exit code (ctl.h).
 *
 * Thread safety: single-threaded (bench starts its own threads).
 */
#include "sbk-config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
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
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};
#define GLOBAL_SHORTOPTS "s:t:hV"

static void
usage(FILE *f, const char *prog)
{
	const struct ctl_verb *v;

	fprintf(f,
	    "usage: %s [-s SOCKET] [-t MS] [--json] COMMAND [ARGS]\n"
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
	    "  -t, --timeout MS   give up after MS milliseconds (default %d; "
	    "0: never)\n"
	    "      --json         machine-readable output\n"
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
	    "\nGlobal options: -s/--socket PATH, -t/--timeout MS, "
	    "--json, -h/--help.\n");
}

/* Parse a global option; -1 when ch is not one. */
static int
global_option(struct ctl *ctl, int ch, const char *arg)
{
	char *end;
	long v;

	switch (ch) {
	case 's':
		ctl->socket = arg;
		return (CTL_OK);
	case 't':
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno != 0 || *end != '\0' || end == arg || v < 0 ||
		    v > INT_MAX) {
			fprintf(stderr,
			    "%s: bad timeout '%s' (milliseconds, "
			    "0 for none)\n",
			    ctl->prog, arg);
			return (CTL_USAGE);
		}
		ctl->timeout_ms = v == 0 ? -1 : (int)v;
		return (CTL_OK);
	case OPT_JSON:
		ctl->json = true;
		return (CTL_OK);
	}
	return (-1);
}

struct sbk_client *
ctl_connect(struct ctl *ctl)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;

	/* A full listen backlog waits no longer than -t. */
	c = sbk_connect_timeout(ctl->socket, ctl->timeout_ms, &err);
	if (c == NULL) {
		fprintf(stderr, "%s: cannot connect to sbkd: ", ctl->prog);
		ctl_fputs_esc(err.message, stderr);
		fputc('\n', stderr);
		sbk_error_clear(&err);
	}
	return (c);
}

int
ctl_report(struct ctl *ctl, const char *what, const struct sbk_error *err)
{
	char *data;

	fprintf(stderr, "%s: ", ctl->prog);
	ctl_fputs_esc(what, stderr);
	fputs(": ", stderr);
	ctl_fputs_esc(err->message, stderr);
	if (err->kind != SBK_ERR_RPC) {
		fputc('\n', stderr);
		return (err->kind == SBK_ERR_USAGE ? CTL_USAGE : CTL_CONNECT);
	}
	data = err->data != NULL ?
	    json_dumps(err->data, JSON_COMPACT | JSON_ENCODE_ANY) :
	    NULL;
	fprintf(stderr, " (error %d%s", err->code, data != NULL ? " " : "");
	if (data != NULL)
		ctl_fputs_esc(data, stderr);
	fputs(")\n", stderr);
	free(data);
	return (CTL_RPC);
}

int
ctl_bad_reply(struct ctl *ctl, const char *what, const char *why)
{
	fprintf(stderr, "%s: %s: unexpected reply from the daemon: %s\n",
	    ctl->prog, what, why);
	return (CTL_RPC);
}

/* C1 controls and bidi overrides in UTF-8 text. */
static bool
has_c1_or_bidi(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	for (; *p != '\0'; p++) {
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return (true);
		if (p[0] == 0xe2 &&
		    ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
			(p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
			return (true);
	}
	return (false);
}

/*
 * jansson escapes only what is below U+0020.  When the text holds C1
 * controls or bidi overrides it is dumped again with JSON_ENSURE_ASCII
 * (every non-ASCII character as \uXXXX); DEL, the one ASCII control
 * left, is escaped here.  The JSON means the same either way.
 */
static void
print_json_flags(const json_t *v, size_t flags)
{
	char *text, *p;

	text = json_dumps(v, flags | JSON_ENCODE_ANY);
	if (text != NULL && has_c1_or_bidi(text)) {
		free(text);
		text =
		    json_dumps(v, flags | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	}
	if (text == NULL) {
		fputs("null\n", stdout);
		return;
	}
	for (p = text; *p != '\0'; p++) {
		if (*p == 0x7f)
			fputs("\\u007f", stdout);
		else
			putchar(*p);
	}
	putchar('\n');
	free(text);
}

void
ctl_print_json(struct ctl *ctl, const json_t *v)
{
	print_json_flags(v, ctl->json ? JSON_COMPACT : JSON_INDENT(2));
}

void
ctl_print_json_line(const json_t *v)
{
	print_json_flags(v, JSON_COMPACT);
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

	/* Global options up to the verb ('+': stop at the first operand). */
	opterr = 1;
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
			usage(stderr, ctl.prog);
			return (CTL_USAGE);
		default:
			if (global_option(&ctl, ch, optarg) != CTL_OK)
				return (CTL_USAGE);
		}
	}
	if (optind >= argc) {
		usage(stderr, ctl.prog);
		return (CTL_USAGE);
	}
	for (v = ctl_verbs; v->name != NULL; v++)
		if (strcmp(v->name, argv[optind]) == 0)
			break;
	if (v->name == NULL) {
		fprintf(stderr, "%s: unknown command '%s' (try --help)\n",
		    ctl.prog, argv[optind]);
		return (CTL_USAGE);
	}
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
			rc = CTL_USAGE;
			break;
		default:
			rc = global_option(&ctl, ch, optarg);
			if (rc == -1)
				rc = ctl_option(&ctl, ch, optarg);
		}
	}
	free(longopts);
	if (rc != CTL_OK) {
		verb_usage(stderr, &ctl);
		return (CTL_USAGE);
	}
	ctl.argc = argc - optind;
	ctl.argv = argv + optind;
	if (ctl.argc < v->min_args ||
	    (v->max_args >= 0 && ctl.argc > v->max_args)) {
		fprintf(stderr, "%s: %s: wrong number of arguments\n", ctl.prog,
		    v->name);
		verb_usage(stderr, &ctl);
		return (CTL_USAGE);
	}
	if (v->run != NULL)
		return (v->run(&ctl));
	return (exchange(&ctl));
}
