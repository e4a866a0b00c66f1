/*
 * report.c - how sbkctl speaks: errors as one line on stderr ("sbkctl:
 * VERB: message", and {"error":...} on stdout under --json) with the exit
 * code they map to, -v lines, JSON output, and the connection to sbkd
 * with its failure reported.  Below every verb and sbkctl.c's main, so
 * that none of them depends on another for these (ctl.h).
 *
 * Thread safety: single-threaded.
 */
#include "sbk-config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "sbk-client.h"

/* "sbkctl: COMMAND: " (or "sbkctl: " before the command is known). */
static void
prefix(struct ctl *ctl)
{
	if (ctl->verb != NULL)
		fprintf(stderr, "%s: %s: ", ctl->prog, ctl->verb->name);
	else
		fprintf(stderr, "%s: ", ctl->prog);
}

/* --json: the error as an object on stdout, besides the stderr line. */
static void
json_error(struct ctl *ctl, int code, const char *kind, int rpc_code,
    const char *message, const json_t *data)
{
	json_t *o, *e;

	if (!ctl->json)
		return;
	e = json_pack(
	    "{s:s, s:s, s:i}", "kind", kind, "message", message, "exit", code);
	if (e == NULL)
		return;
	if (rpc_code != 0)
		json_object_set_new(e, "code", json_integer(rpc_code));
	if (data != NULL)
		json_object_set(e, "data", (json_t *)data);
	o = json_pack("{s:o}", "error", e);
	if (o != NULL)
		ctl_print_json(ctl, o);
	json_decref(o);
	fflush(stdout);
}

int
ctl_fail(struct ctl *ctl, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	prefix(ctl);
	fprintf(stderr, "%s\n", msg);
	json_error(ctl, code,
	    code == CTL_USAGE	    ? "usage" :
		code == CTL_RPC	    ? "reply" :
		code == CTL_CONNECT ? "connection" :
				      "local",
	    0, msg, NULL);
	return (code);
}

void
ctl_verbose(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	if (!ctl->verbose)
		return;
	prefix(ctl);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct sbk_client *
ctl_connect(struct ctl *ctl)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;

	ctl_verbose(ctl, "connecting to %s",
	    ctl->socket != NULL ? ctl->socket : sbk_default_socket());
	/* A full listen backlog waits no longer than -t. */
	c = sbk_connect_timeout(ctl->socket, ctl->timeout_ms, &err);
	if (c == NULL) {
		prefix(ctl);
		fputs("cannot connect to sbkd: ", stderr);
		ctl_fputs_esc(err.message, stderr);
		fputc('\n', stderr);
		json_error(ctl, CTL_CONNECT, sbk_error_kind_name(err.kind), 0,
		    err.message, NULL);
		sbk_error_clear(&err);
	}
	return (c);
}

/* Daemon parameter names and the options sbkctl has for them. */
static const struct {
	const char *param;
	const char *option;
} param_options[] = {
	{ "t_cost", "--t-cost" },
	{ "m_cost_kib", "--m-cost" },
	{ "parallelism", "--parallelism" },
	{ "hash_len", "--hash-len" },
	{ "salt_len", "--salt-len" },
	{ "type", "--type" },
	{ "level", "--level" },
	{ "offset", "--offset" },
	{ "length", "--length" },
	{ "out_path", "OUT" },
	{ "path", "FILE" },
	{ "overwrite", "--force" },
	{ "hash", "HASH" },
	{ NULL, NULL },
};

/*
 * The message with the daemon's name of a parameter ('t_cost') replaced
 * by the option the user typed (--t-cost), for the verbs that build
 * their own params (not `call`, where the names are the user's).
 */
static void
user_names(struct ctl *ctl, const struct sbk_error *err, char *out, size_t cap)
{
	const char *param, *hit;
	char quoted[64];
	int i;

	snprintf(out, cap, "%s", err->message);
	param = json_string_value(json_object_get(err->data, "param"));
	if (param == NULL || ctl->verb == NULL || ctl->verb->method == NULL)
		return;
	for (i = 0; param_options[i].param != NULL; i++)
		if (strcmp(param_options[i].param, param) == 0)
			break;
	if (param_options[i].param == NULL)
		return;
	snprintf(quoted, sizeof(quoted), "'%s'", param);
	if ((hit = strstr(err->message, quoted)) != NULL)
		snprintf(out, cap, "%.*s%s%s", (int)(hit - err->message),
		    err->message, param_options[i].option,
		    hit + strlen(quoted));
	else
		snprintf(
		    out, cap, "%s (%s)", err->message, param_options[i].option);
}

int
ctl_report(struct ctl *ctl, const char *what, const struct sbk_error *err)
{
	char msg[sizeof(err->message) + 64];
	char *data;
	int code;

	code = err->kind == SBK_ERR_RPC ? CTL_RPC :
	    err->kind == SBK_ERR_USAGE	? CTL_USAGE :
					  CTL_CONNECT;
	user_names(ctl, err, msg, sizeof(msg));
	prefix(ctl);
	/* `call` names no method in its prefix: say which. */
	if (ctl->verb == NULL || ctl->verb->method == NULL) {
		ctl_fputs_esc(what, stderr);
		fputs(": ", stderr);
	}
	ctl_fputs_esc(msg, stderr);
	if (err->kind == SBK_ERR_RPC) {
		data = err->data != NULL ?
		    json_dumps(err->data, JSON_COMPACT | JSON_ENCODE_ANY) :
		    NULL;
		fprintf(
		    stderr, " (error %d%s", err->code, data != NULL ? " " : "");
		if (data != NULL)
			ctl_fputs_esc(data, stderr);
		fputc(')', stderr);
		free(data);
	}
	fputc('\n', stderr);
	json_error(ctl, code, sbk_error_kind_name(err->kind), err->code, msg,
	    err->data);
	return (code);
}

int
ctl_bad_reply(struct ctl *ctl, const char *what, const char *why)
{
	return (ctl_fail(ctl, CTL_RPC,
	    "%s: unexpected reply from the daemon: %s", what, why));
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
