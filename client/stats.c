/*
 * stats.c - `sbkctl stats`: the daemon's counters as a table (names
 * flattened to dotted paths, the value column aligned for any name
 * length, latency histograms summed up as percentiles), as JSON, or as
 * Prometheus text; --watch redraws the table every interval, like
 * `redis-cli --stat`, until interrupted.  Names and strings come from
 * the daemon, so they are escaped.
 *
 * Thread safety: single-threaded.
 */
#include "sbk-config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "prometheus.h"
#include "sbk-client.h"

struct row {
	char *name; /* escaped */
	char *value;
};

struct table {
	struct row *rows;
	size_t n;
	size_t cap;
	size_t width; /* the longest name */
};

static void
add_row(struct table *t, const char *name, char *value)
{
	char esc[512];
	struct row *nr;

	if (value == NULL)
		return;
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : 2 * t->cap;
		if ((nr = realloc(t->rows, t->cap * sizeof(*nr))) == NULL) {
			free(value);
			return;
		}
		t->rows = nr;
	}
	ctl_escape(esc, sizeof(esc), name);
	t->rows[t->n].name = strdup(esc);
	t->rows[t->n].value = value;
	if (t->rows[t->n].name == NULL) {
		free(value);
		return;
	}
	if (strlen(esc) > t->width)
		t->width = strlen(esc);
	t->n++;
}

/*
 * A histogram {"count":N, "sum_us":N, "buckets":[[UPPER_US, N], ...]}
 * (counts per bucket, not cumulative) as "N, p50 <= X us, ...".
 */
static char *
histogram_text(const json_t *h)
{
	static const double qs[] = { 0.5, 0.9, 0.99 };
	const json_t *buckets, *b;
	long long count, seen, want, upper[3] = { -1, -1, -1 };
	size_t i;
	int q;
	char *text;

	buckets = json_object_get(h, "buckets");
	count = json_integer_value(json_object_get(h, "count"));
	if (count <= 0) {
		if (asprintf(&text, "count 0") == -1)
			return (NULL);
		return (text);
	}
	for (q = 0; q < 3; q++) {
		want = (long long)((double)count * qs[q] + 0.999999);
		seen = 0;
		json_array_foreach(buckets, i, b) {
			seen += json_integer_value(json_array_get(b, 1));
			if (seen >= want) {
				upper[q] =
				    json_integer_value(json_array_get(b, 0));
				break;
			}
		}
	}
	if (asprintf(&text,
		"count %lld, p50 <= %lld us, p90 <= %lld us, p99 <= %lld us",
		count, upper[0], upper[1], upper[2]) == -1)
		return (NULL);
	return (text);
}

static bool
is_histogram(const json_t *v)
{
	return (json_is_object(v) &&
	    json_is_array(json_object_get(v, "buckets")) &&
	    json_is_integer(json_object_get(v, "count")));
}

static void
collect(struct table *t, const char *prefix, const json_t *v)
{
	const char *key;
	json_t *member;
	char name[512], *text;

	if (is_histogram(v)) {
		add_row(t, prefix, histogram_text(v));
		return;
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, member) {
			snprintf(name, sizeof(name), "%s%s%s", prefix,
			    prefix[0] != '\0' ? "." : "", key);
			collect(t, name, member);
		}
		return;
	}
	if (json_is_string(v))
		text = strdup(json_string_value(v));
	else
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	add_row(t, prefix, text);
}

static void
print_table(const json_t *stats)
{
	struct table t = { 0 };
	size_t i;

	collect(&t, "", stats);
	for (i = 0; i < t.n; i++) {
		printf("%-*s  ", (int)t.width, t.rows[i].name);
		ctl_fputs_esc(t.rows[i].value, stdout);
		putchar('\n');
		free(t.rows[i].name);
		free(t.rows[i].value);
	}
	free(t.rows);
}

static int
print_stats(struct ctl *ctl, json_t *result)
{
	char *text;
	size_t len;

	if (!json_is_object(result))
		return (ctl_bad_reply(ctl, "stats", "not an object"));
	if (ctl->prometheus) {
		if ((text = prom_format_stats(result, &len)) == NULL)
			return (
			    ctl_fail(ctl, CTL_NEGATIVE, "%s", strerror(errno)));
		fwrite(text, 1, len, stdout);
		free(text);
	} else if (ctl->json)
		ctl_print_json(ctl, result);
	else
		print_table(result);
	return (CTL_OK);
}

static volatile sig_atomic_t stop_watch;

static void
on_interrupt(int sig)
{
	(void)sig;
	stop_watch = 1;
}

int
ctl_run_stats(struct ctl *ctl)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct timespec ts;
	json_t *result;
	bool tty;
	int rc;

	if ((c = ctl_connect(ctl)) == NULL)
		return (CTL_CONNECT);
	if (ctl->watch_s > 0) {
		signal(SIGINT, on_interrupt);
		signal(SIGTERM, on_interrupt);
	}
	tty = isatty(STDOUT_FILENO);
	do {
		result = sbk_call(c, "stats", NULL, ctl->timeout_ms, &err);
		if (result == NULL) {
			rc = ctl_report(ctl, "stats", &err);
			sbk_error_clear(&err);
			break;
		}
		if (ctl->watch_s > 0 && tty)
			fputs("\033[H\033[2J", stdout); /* home, clear */
		if (ctl->watch_s > 0 && !ctl->quiet)
			printf("every %gs, ^C to stop\n\n", ctl->watch_s);
		rc = print_stats(ctl, result);
		json_decref(result);
		fflush(stdout);
		if (rc != CTL_OK || ctl->watch_s <= 0)
			break;
		if (!tty)
			putchar('\n');
		ts.tv_sec = (time_t)ctl->watch_s;
		ts.tv_nsec = (long)((ctl->watch_s - (double)ts.tv_sec) * 1e9);
		while (
		    !stop_watch && nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	} while (!stop_watch);
	sbk_close(c);
	return (rc);
}
