/*
 * prometheus.c - the `stats` result as Prometheus text; see prometheus.h.
 *
 * Everything is read from the JSON, never from daemon structures, so the
 * daemon and sbkctl cannot drift apart.  The daemon's latencies are in
 * whole microseconds; seconds are printed as exact decimals (µs / 10^6)
 * rather than through a double, so a bucket bound is the same string on
 * every scrape.
 *
 * Histogram buckets: the daemon's log-linear histogram has 8 buckets per
 * power of two, too many series for a scrape.  They are folded into fixed
 * bounds of 2^k - 1 µs (7 µs .. about 1074 s, a factor of two apart),
 * which are also bucket bounds of the daemon's histogram, so the folding
 * loses nothing but resolution: every count lands in the first bound at
 * or above its bucket's upper bound.
 *
 * Thread safety: reentrant.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus.h"

#define PROM_LE_MIN_BITS 3  /* first bound: 2^3 - 1 = 7 µs */
#define PROM_LE_MAX_BITS 30 /* last bound: 2^30 - 1 µs, ~1074 s */
#define PROM_LE_COUNT	 (PROM_LE_MAX_BITS - PROM_LE_MIN_BITS + 1)

enum prom_unit {
	PROM_ONE, /* as is */
	PROM_US,  /* microseconds, printed as seconds */
	PROM_KIB, /* KiB, printed as bytes */
};

struct prom_scalar {
	const char *name;
	const char *type;
	const char *path; /* dotted path into the stats object */
	enum prom_unit unit;
	const char *help;
};

static const struct prom_scalar prom_scalars[] = {
	{ "sbk_connections", "gauge", "connections", PROM_ONE,
	    "Open client connections." },
	{ "sbk_connections_total", "counter", "connections_total", PROM_ONE,
	    "Client connections accepted since start." },
	{ "sbk_queue_depth", "gauge", "queue.depth", PROM_ONE,
	    "Jobs admitted and waiting for a worker, both pools." },
	{ "sbk_queue_max", "gauge", "queue.max", PROM_ONE,
	    "Most jobs allowed to wait (queue_max)." },
	{ "sbk_jobs_accepted_total", "counter", "jobs.accepted", PROM_ONE,
	    "Jobs admitted to a worker pool." },
	{ "sbk_jobs_rejected_total", "counter", "jobs.rejected", PROM_ONE,
	    "Jobs refused with -32000 because the queue was full." },
	{ "sbk_loop_lag_max_seconds", "gauge", "loop.lag_max_us", PROM_US,
	    "Longest time one event-loop iteration spent in callbacks, "
	    "since start." },
	{ "sbk_loop_lag_p99_seconds", "gauge", "loop.lag_p99_us", PROM_US,
	    "99th percentile of the time event-loop iterations spent in "
	    "callbacks, since start (histogram bucket bound)." },
	{ "sbk_loop_iterations_total", "counter", "loop.iterations", PROM_ONE,
	    "Event-loop iterations that ran at least one callback." },
	{ "sbk_config_generation", "gauge", "config_generation", PROM_ONE,
	    "Configuration generation: 1 at start, one more per reload "
	    "that took effect." },
	{ "sbk_argon2_memory_used_bytes", "gauge", "argon2.memory_used_kib",
	    PROM_KIB, "Memory reserved by running argon2 jobs." },
	{ "sbk_argon2_memory_budget_bytes", "gauge", "argon2.memory_budget_kib",
	    PROM_KIB,
	    "Memory argon2 jobs may reserve together (memory_budget_kib)." },
	{ "sbk_resident_memory_bytes", "gauge", "memory.rss_kib", PROM_KIB,
	    "Resident set size of sbkd." },
	{ "sbk_heap_trims_total", "counter", "memory.heap_trims", PROM_ONE,
	    "Times sbkd gave freed heap memory back to the kernel after "
	    "a burst of jobs." },
	{ "sbk_http_connections", "gauge", "http.connections", PROM_ONE,
	    "Open connections to the metrics endpoint." },
	{ "sbk_http_refused_total", "counter", "http.refused", PROM_ONE,
	    "Metrics connections answered 503: over metrics_max_connections "
	    "or into the descriptor reserve." },
	{ "sbk_http_timed_out_total", "counter", "http.timed_out", PROM_ONE,
	    "Metrics connections closed at metrics_request_timeout_s." },
	{ "sbk_log_suppressed_total", "counter", "log.suppressed", PROM_ONE,
	    "Log lines dropped by the per-uid rate limit." },
	{ "sbk_isolation_helpers", "gauge", "isolation.helpers", PROM_ONE,
	    "Isolated helper processes alive." },
	{ "sbk_isolation_helpers_busy", "gauge", "isolation.busy", PROM_ONE,
	    "Isolated helper processes running a job." },
	{ "sbk_isolation_jobs_total", "counter", "isolation.jobs", PROM_ONE,
	    "Jobs run in isolated helper processes." },
	{ "sbk_isolation_crashes_total", "counter", "isolation.crashes",
	    PROM_ONE,
	    "Isolated helpers that died on their own (signal, exit)." },
	{ "sbk_isolation_respawns_total", "counter", "isolation.respawns",
	    PROM_ONE, "Isolated helpers started to replace one that ended." },
	{ "sbk_isolation_killed_total", "counter", "isolation.killed", PROM_ONE,
	    "Isolated helpers killed to stop their job (cancel, deadline)." },
	{ "sbk_isolation_retired_total", "counter", "isolation.retired",
	    PROM_ONE, "Isolated helpers retired (max_jobs, reload)." },
	{ "process_start_time_seconds", "gauge", "start_time_s", PROM_ONE,
	    "Start time of sbkd since the Unix epoch in seconds "
	    "(unchanged by a reload)." },
};

/* Per-pool gauges: workers.POOL.MEMBER. */
static const struct prom_scalar prom_pool_gauges[] = {
	{ "sbk_workers", "gauge", "size", PROM_ONE,
	    "Worker threads of the pool." },
	{ "sbk_workers_busy", "gauge", "busy", PROM_ONE,
	    "Worker threads of the pool running a job." },
	{ "sbk_queue_waiting", "gauge", "queued", PROM_ONE,
	    "Jobs waiting for a worker of the pool." },
};
static const char *const prom_pools[] = { "cpu", "io" };

/* methods.NAME members counted by sbk_jobs_total{outcome=...}. */
static const char *const prom_outcomes[] = {
	"completed",
	"failed",
	"cancelled",
	"timed_out",
	"dropped",
	"shutdown",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The member at a dotted path, or NULL. */
static const json_t *
prom_get(const json_t *v, const char *path)
{
	char key[64];
	const char *dot;
	size_t n;

	while (v != NULL && *path != '\0') {
		dot = strchr(path, '.');
		n = dot != NULL ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key) || !json_is_object(v))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		v = json_object_get(v, key);
		path += n + (dot != NULL);
	}
	return v;
}

static bool
prom_int(const json_t *root, const char *path, long long *out)
{
	const json_t *v = prom_get(root, path);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = json_integer_value(v);
	return true;
}

static void
prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Microseconds as exact decimal seconds. */
static void
prom_seconds(FILE *f, unsigned long long us)
{
	fprintf(f, "%llu.%06llu", us / 1000000, us % 1000000);
}

static void
prom_value(FILE *f, long long v, enum prom_unit unit)
{
	switch (unit) {
	case PROM_US:
		prom_seconds(f, (unsigned long long)v);
		break;
	case PROM_KIB:
		fprintf(f, "%llu", (unsigned long long)v * 1024);
		break;
	case PROM_ONE:
		fprintf(f, "%lld", v);
		break;
	}
	fputc('\n', f);
}

/* A label value, escaped as the exposition format asks. */
static void
prom_label(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static int
prom_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The method names, sorted so that the output is stable.  NULL-ended. */
static const char **
prom_method_names(const json_t *methods, size_t *n)
{
	const char **names;
	const char *name;
	json_t *v;
	size_t i = 0;

	*n = json_is_object(methods) ? json_object_size(methods) : 0;
	names = calloc(*n + 1, sizeof(*names));
	if (names == NULL)
		return NULL;
	if (*n > 0) {
		json_object_foreach((json_t *)methods, name, v)
			if (json_is_object(v))
				names[i++] = name;
	}
	*n = i;
	qsort(names, *n, sizeof(*names), prom_strcmp);
	return names;
}

/*
 * Fold methods.NAME.latency_us into the fixed bounds: slot[k] counts the
 * values of bound k (not cumulative), *over those past the last bound.
 * False when the method has no usable histogram.
 */
static bool
prom_fold(const json_t *lat, unsigned long long slot[PROM_LE_COUNT],
    unsigned long long *over, unsigned long long *sum_us)
{
	const json_t *buckets = prom_get(lat, "buckets");
	const json_t *b;
	size_t i;
	long long sum;
	bool have_sum;

	if (!json_is_array(buckets))
		return false;
	memset(slot, 0, PROM_LE_COUNT * sizeof(slot[0]));
	*over = 0;
	have_sum = prom_int(lat, "sum_us", &sum);
	*sum_us = have_sum ? (unsigned long long)sum : 0;
	json_array_foreach(buckets, i, b) {
		const json_t *u = json_array_get(b, 0),
			     *c = json_array_get(b, 1);
		unsigned long long upper, count;
		unsigned k;

		if (!json_is_integer(u) || !json_is_integer(c) ||
		    json_integer_value(u) < 0 || json_integer_value(c) < 0)
			return false;
		upper = (unsigned long long)json_integer_value(u);
		count = (unsigned long long)json_integer_value(c);
		for (k = 0; k < PROM_LE_COUNT; k++)
			if (upper <= (1ULL << (k + PROM_LE_MIN_BITS)) - 1)
				break;
		if (k < PROM_LE_COUNT)
			slot[k] += count;
		else
			*over += count;
		/* No sum from the daemon: the bucket bounds bound it. */
		if (!have_sum)
			*sum_us += upper * count;
	}
	return true;
}

static void
prom_histograms(FILE *f, const json_t *methods, const char **names, size_t n)
{
	unsigned long long slot[PROM_LE_COUNT], over, sum_us, cum;
	bool header = false;

	for (size_t i = 0; i < n; i++) {
		const json_t *lat =
		    prom_get(json_object_get(methods, names[i]), "latency_us");

		if (!prom_fold(lat, slot, &over, &sum_us))
			continue;
		if (!header) {
			prom_family(f, "sbk_job_duration_seconds", "histogram",
			    "Time from receipt of a request to its reply, by "
			    "method.  _sum is approximate: each value counts "
			    "as the middle of its daemon-side bucket (about "
			    "6% error at most).");
			header = true;
		}
		cum = 0;
		for (unsigned k = 0; k < PROM_LE_COUNT; k++) {
			cum += slot[k];
			fputs("sbk_job_duration_seconds_bucket{method=", f);
			prom_label(f, names[i]);
			fputs(",le=\"", f);
			prom_seconds(f, (1ULL << (k + PROM_LE_MIN_BITS)) - 1);
			fprintf(f, "\"} %llu\n", cum);
		}
		cum += over;
		fputs("sbk_job_duration_seconds_bucket{method=", f);
		prom_label(f, names[i]);
		fprintf(f, ",le=\"+Inf\"} %llu\n", cum);
		fputs("sbk_job_duration_seconds_sum{method=", f);
		prom_label(f, names[i]);
		fputs("} ", f);
		prom_seconds(f, sum_us);
		fputs("\nsbk_job_duration_seconds_count{method=", f);
		prom_label(f, names[i]);
		fprintf(f, "} %llu\n", cum);
	}
}

/* Per-method counters and histograms.  False on ENOMEM. */
static bool
prom_methods(FILE *f, const json_t *stats)
{
	const json_t *methods = json_object_get(stats, "methods");
	const char **names;
	size_t n;
	long long v;

	names = prom_method_names(methods, &n);
	if (names == NULL)
		return false;
	if (n > 0)
		prom_family(f, "sbk_jobs_total", "counter",
		    "Requests answered (or dropped), by method and outcome.");
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_object_get(methods, names[i]);

		for (size_t o = 0; o < NELEM(prom_outcomes); o++) {
			if (!prom_int(m, prom_outcomes[o], &v))
				continue;
			fputs("sbk_jobs_total{method=", f);
			prom_label(f, names[i]);
			fprintf(
			    f, ",outcome=\"%s\"} %lld\n", prom_outcomes[o], v);
		}
	}
	prom_histograms(f, methods, names, n);
	free(names);
	return true;
}

char *
prom_format_stats(const json_t *stats, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	long long v;
	char path[64];
	int err;

	if (!json_is_object(stats)) {
		errno = EINVAL;
		return NULL;
	}
	f = open_memstream(&buf, &size);
	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < NELEM(prom_scalars); i++) {
		const struct prom_scalar *s = &prom_scalars[i];

		if (!prom_int(stats, s->path, &v))
			continue;
		prom_family(f, s->name, s->type, s->help);
		fprintf(f, "%s ", s->name);
		prom_value(f, v, s->unit);
	}
	for (size_t i = 0; i < NELEM(prom_pool_gauges); i++) {
		const struct prom_scalar *g = &prom_pool_gauges[i];
		bool header = false;

		for (size_t p = 0; p < NELEM(prom_pools); p++) {
			snprintf(path, sizeof(path), "workers.%s.%s",
			    prom_pools[p], g->path);
			if (!prom_int(stats, path, &v))
				continue;
			if (!header)
				prom_family(f, g->name, g->type, g->help);
			header = true;
			fprintf(f, "%s{pool=\"%s\"} ", g->name, prom_pools[p]);
			prom_value(f, v, g->unit);
		}
	}
	err = prom_methods(f, stats) && !ferror(f) ? 0 : ENOMEM;
	if (fclose(f) != 0 && err == 0)
		err = errno;
	if (err != 0) {
		free(buf);
		errno = err;
		return NULL;
	}
	if (len != NULL)
		*len = size;
	return buf;
}
