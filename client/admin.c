/*
 * admin.c - sbkctl's verbs for the daemon's admin.* methods (contract
 * 1.3): clients, jobs, cancel (job.cancel, or admin.cancel with --conn)
 * and reload.  Tables on a terminal or a pipe alike, one JSON object per
 * call under --json.  The daemon decides who may call them (uid 0 and
 * [access] admin_uids / admin_gids); a refusal is its -32003, exit 3.
 *
 * Thread safety: single-threaded.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "sbk-client.h"

/* A table cell: short text, escaped for the terminal. */
#define CELL_MAX 64

/* "850ms", "12.3s", "4m05s", "2h07m", "3d04h". */
static void
fmt_ms(char *dst, size_t cap, long long ms)
{
	if (ms < 1000)
		snprintf(dst, cap, "%lldms", ms);
	else if (ms < 60000)
		snprintf(dst, cap, "%.1fs", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(dst, cap, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
	else if (ms < 86400000)
		snprintf(
		    dst, cap, "%lldh%02lldm", ms / 3600000, ms / 60000 % 60);
	else
		snprintf(
		    dst, cap, "%lldd%02lldh", ms / 86400000, ms / 3600000 % 24);
}

/* An integer member as text, "?" when it is not an integer. */
static void
fmt_int(char *dst, size_t cap, const json_t *obj, const char *name)
{
	const json_t *v = json_object_get(obj, name);

	if (json_is_integer(v))
		snprintf(
		    dst, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(dst, cap, "?");
}

static void
fmt_duration(char *dst, size_t cap, const json_t *obj, const char *name)
{
	const json_t *v = json_object_get(obj, name);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		fmt_ms(dst, cap, json_integer_value(v));
	else
		snprintf(dst, cap, "?");
}

/* A string member, escaped for the terminal. */
static void
fmt_str(char *dst, size_t cap, const json_t *obj, const char *name)
{
	const json_t *v = json_object_get(obj, name);

	ctl_escape(dst, cap, json_is_string(v) ? json_string_value(v) : "?");
}

/*
 * An id as the user types it back to `sbkctl cancel`: an integer as is,
 * a string bare unless it would read as an integer (then JSON-quoted),
 * null for a notification.
 */
static void
fmt_id(char *dst, size_t cap, const json_t *obj, const char *name)
{
	const json_t *id = json_object_get(obj, name);
	long long n;

	if (json_is_integer(id)) {
		snprintf(
		    dst, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
	} else if (json_is_string(id)) {
		const char *s = json_string_value(id);
		char esc[CELL_MAX - 2];

		ctl_escape(esc, sizeof(esc), s);
		if (ctl_parse_ll(s, LLONG_MIN, LLONG_MAX, &n) || s[0] == '"')
			snprintf(dst, cap, "\"%s\"", esc);
		else
			snprintf(dst, cap, "%s", esc);
	} else {
		snprintf(dst, cap, "-");
	}
}

/* A column of a listing: its header, alignment, and its cell's text. */
struct column {
	const char *head;
	bool right;
	void (*fmt)(char *dst, size_t cap, const json_t *obj, const char *name);
	const char *member; /* of each entry, passed to fmt */
};

/*
 * Print cells (nrows x ncols) under the headers, every column as wide as
 * its widest cell (the last one not padded).
 */
static void
table_print(const struct column *cols, size_t ncols, char (*cells)[CELL_MAX],
    size_t nrows)
{
	size_t w[16] = { 0 }, i, j, len;

	for (j = 0; j < ncols; j++)
		w[j] = strlen(cols[j].head);
	for (i = 0; i < nrows; i++)
		for (j = 0; j < ncols; j++) {
			len = strlen(cells[i * ncols + j]);
			if (len > w[j])
				w[j] = len;
		}
	for (i = 0; i <= nrows; i++) {
		for (j = 0; j < ncols; j++) {
			const char *s =
			    i == 0 ? cols[j].head : cells[(i - 1) * ncols + j];
			bool last = j + 1 == ncols;

			if (cols[j].right)
				printf("%*s%s", (int)w[j], s, last ? "" : "  ");
			else
				printf("%-*s%s", last ? 0 : (int)w[j], s,
				    last ? "" : "  ");
		}
		putchar('\n');
	}
}

/* "N of TOTAL shown" when the daemon capped the listing. */
static void
truncation_note(const json_t *result, const json_t *list, const char *what)
{
	const json_t *total = json_object_get(result, "total");

	if (json_is_true(json_object_get(result, "truncated")) &&
	    json_is_integer(total))
		printf("(%zu of %" JSON_INTEGER_FORMAT " %s shown: the "
		       "daemon caps the reply's size)\n",
		    json_array_size(list), json_integer_value(total), what);
}

/*
 * The list under key in result as a table of cols (what names its
 * entries in the truncation note), or as JSON under --json.
 */
static int
print_listing(struct ctl *ctl, json_t *result, const char *key,
    const char *what, const struct column *cols, size_t ncols)
{
	json_t *list = json_object_get(result, key), *e;
	char(*cells)[CELL_MAX];
	size_t i, nrows;

	if (!json_is_array(list))
		return ctl_bad_reply(
		    ctl, ctl->verb->method, "no list in the result");
	if (ctl->json) {
		ctl_print_json(ctl, result);
		return CTL_OK;
	}
	nrows = json_array_size(list);
	if ((cells = calloc(nrows * ncols + 1, CELL_MAX)) == NULL)
		return ctl_fail(ctl, CTL_NEGATIVE, "out of memory");
	json_array_foreach(list, i, e) {
		for (size_t j = 0; j < ncols; j++)
			cols[j].fmt(
			    cells[i * ncols + j], CELL_MAX, e, cols[j].member);
	}
	table_print(cols, ncols, cells, nrows);
	truncation_note(result, list, what);
	free(cells);
	return CTL_OK;
}

int
ctl_print_clients(struct ctl *ctl, json_t *result)
{
	static const struct column cols[] = {
		{ "CONN", true, fmt_int, "conn" },
		{ "PID", true, fmt_int, "pid" },
		{ "UID", true, fmt_int, "uid" },
		{ "GID", true, fmt_int, "gid" },
		{ "INFLIGHT", true, fmt_int, "inflight" },
		{ "WAITING", true, fmt_int, "waiting" },
		{ "OUTPUT", true, fmt_int, "output_bytes" },
		{ "AGE", true, fmt_duration, "age_ms" },
	};

	return print_listing(ctl, result, "clients", "connections", cols,
	    sizeof(cols) / sizeof(cols[0]));
}

int
ctl_print_jobs(struct ctl *ctl, json_t *result)
{
	static const struct column cols[] = {
		{ "CONN", true, fmt_int, "conn" },
		{ "ID", false, fmt_id, "id" },
		{ "METHOD", false, fmt_str, "method" },
		{ "STATE", false, fmt_str, "state" },
		{ "WAITED", true, fmt_duration, "waited_ms" },
		{ "RAN", true, fmt_duration, "ran_ms" },
	};

	return print_listing(
	    ctl, result, "jobs", "jobs", cols, sizeof(cols) / sizeof(cols[0]));
}

/* --- cancel --- */

/*
 * ID as typed: an integer, a JSON string ("\"42\"" for the string 42,
 * as `sbkctl jobs` shows it), or any other text as a string.
 */
static json_t *
parse_id(const char *arg)
{
	long long n;

	if (ctl_parse_ll(arg, LLONG_MIN, LLONG_MAX, &n))
		return json_integer(n);
	if (arg[0] == '"') {
		json_t *v = json_loads(arg, JSON_DECODE_ANY, NULL);

		if (json_is_string(v))
			return v;
		json_decref(v);
	}
	return json_string(arg);
}

int
ctl_run_cancel(struct ctl *ctl)
{
	const char *method = ctl->conn > 0 ? "admin.cancel" : "job.cancel";
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *params, *id, *result;
	bool cancelled;
	int rc;

	if ((id = parse_id(ctl->argv[0])) == NULL)
		return ctl_fail(ctl, CTL_USAGE, "ID is not valid UTF-8");
	if ((params = json_pack("{s:o}", "id", id)) == NULL)
		return ctl_fail(ctl, CTL_NEGATIVE, "out of memory");
	if (ctl->conn > 0)
		json_object_set_new(params, "conn", json_integer(ctl->conn));
	ctl_verbose(ctl, "%s on %s", method,
	    ctl->conn > 0 ? "the given connection" : "this connection");
	if ((c = ctl_connect(ctl)) == NULL) {
		json_decref(params);
		return CTL_CONNECT;
	}
	result = sbk_call(c, method, params, ctl->timeout_ms, &err);
	json_decref(params);
	sbk_close(c);
	if (result == NULL) {
		rc = ctl_report(ctl, method, &err);
		sbk_error_clear(&err);
		return rc;
	}
	if (!json_is_boolean(json_object_get(result, "cancelled"))) {
		json_decref(result);
		return ctl_bad_reply(ctl, method, "no \"cancelled\" boolean");
	}
	cancelled = json_is_true(json_object_get(result, "cancelled"));
	if (ctl->json)
		ctl_print_json(ctl, result);
	else if (ctl->quiet)
		; /* the exit code says it */
	else if (cancelled)
		printf("cancelled\n");
	else if (ctl->conn > 0)
		printf("not cancelled (no such request in flight on "
		       "connection %lld)\n",
		    ctl->conn);
	else
		printf("not cancelled (no such request in flight on this "
		       "connection; to cancel another client's request, "
		       "give its connection: --conn N, see sbkctl jobs)\n");
	json_decref(result);
	return cancelled ? CTL_OK : CTL_NEGATIVE;
}

/* --- reload --- */

int
ctl_print_reload(struct ctl *ctl, json_t *result)
{
	const json_t *gen = json_object_get(result, "config_generation");

	if (!json_is_integer(gen))
		return ctl_bad_reply(
		    ctl, "admin.reload", "no \"config_generation\" integer");
	if (ctl->json)
		ctl_print_json(ctl, result);
	else
		printf("configuration generation %" JSON_INTEGER_FORMAT
		       " in force\n",
		    json_integer_value(gen));
	return CTL_OK;
}
