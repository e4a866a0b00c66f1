/*
 * stats.c - see stats.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "heap.h"
#include "isolate.h"
#include "log.h"
#include "stats.h"

int
stats_init(struct stats *st)
{
	size_t n = 0;

	memset(st, 0, sizeof(*st));
	/* Exported so that a restart shows as a changed start time even
	 * when counters are scraped too rarely to see them fall. */
	st->start_time_s = (int64_t)time(NULL);
	while (job_table[n] != NULL)
		n++;
	if ((st->methods = calloc(n, sizeof(*st->methods))) == NULL)
		return -1;
	st->nmethods = n;
	if ((st->loop_lag_us = hist_new(STATS_HIST_BITS)) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((st->methods[i].latency_us = hist_new(STATS_HIST_BITS)) ==
		    NULL)
			return -1;
	return 0;
}

void
stats_free(struct stats *st)
{
	for (size_t i = 0; i < st->nmethods; i++)
		hist_free(st->methods[i].latency_us);
	free(st->methods);
	hist_free(st->loop_lag_us);
}

bool
stats_job_end(struct stats *st, const struct job_kind *kind,
    enum stats_outcome outcome, bool admitted, uint64_t latency_ns)
{
	struct method_stats *m = NULL;

	if (outcome == STATS_REJECTED)
		st->rejected++;
	/* Refused: no outcome of its own. */
	if (outcome == STATS_REJECTED ||
	    (!admitted && outcome != STATS_COMPLETED &&
		outcome != STATS_FAILED))
		return false;
	if (admitted)
		st->outcome[outcome]++;
	for (size_t i = 0; i < st->nmethods; i++)
		if (job_table[i] == kind)
			m = &st->methods[i];
	if (m != NULL) {
		m->outcome[outcome]++;
		if (outcome != STATS_DROPPED)
			hist_add(m->latency_us, latency_ns / 1000);
	}
	return true;
}

static json_t *
methods_json(const struct stats *st)
{
	json_t *all = json_object();

	for (size_t i = 0; i < st->nmethods; i++) {
		const struct method_stats *m = &st->methods[i];
		uint64_t count = 0;

		for (int o = 0; o < STATS_OUTCOMES; o++)
			count += m->outcome[o];
		if (count == 0)
			continue;
		json_object_set_new(all, job_table[i]->method,
		    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
			"count", (json_int_t)count, "completed",
			(json_int_t)m->outcome[STATS_COMPLETED], "failed",
			(json_int_t)m->outcome[STATS_FAILED], "cancelled",
			(json_int_t)m->outcome[STATS_CANCELLED], "timed_out",
			(json_int_t)m->outcome[STATS_TIMED_OUT], "dropped",
			(json_int_t)m->outcome[STATS_DROPPED], "p50_us",
			(json_int_t)hist_quantile(m->latency_us, 0.50),
			"p99_us",
			(json_int_t)hist_quantile(m->latency_us, 0.99),
			"max_us", (json_int_t)hist_max(m->latency_us),
			"shutdown", (json_int_t)m->outcome[STATS_SHUTDOWN],
			"latency_us", hist_json(m->latency_us)));
	}
	return all;
}

json_t *
stats_json(
    const struct stats *st, const struct pool_stats *ps, unsigned connections)
{
	return json_pack("{s:I,s:{s:I,s:I,s:I,s:I},"
			 "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
			 "s:{s:{s:I,s:I,s:I},s:{s:I,s:I,s:I}},"
			 "s:{s:I,s:I,s:I},s:{s:I,s:I},s:{s:I,s:I},s:I,s:I,s:o,"
			 "s:{s:I,s:I,s:I},s:{s:I},s:{s:I,s:I},s:o,s:I}",
	    "connections", (json_int_t)connections, "queue", "depth",
	    (json_int_t)ps->depth, "max", (json_int_t)ps->queue_max, "cpu",
	    (json_int_t)ps->queued[LANE_CPU], "io",
	    (json_int_t)ps->queued[LANE_IO], "jobs", "accepted",
	    (json_int_t)st->accepted, "completed",
	    (json_int_t)st->outcome[STATS_COMPLETED], "failed",
	    (json_int_t)st->outcome[STATS_FAILED], "rejected",
	    (json_int_t)st->rejected, "cancelled",
	    (json_int_t)st->outcome[STATS_CANCELLED], "timed_out",
	    (json_int_t)st->outcome[STATS_TIMED_OUT], "dropped",
	    (json_int_t)st->outcome[STATS_DROPPED], "shutdown",
	    (json_int_t)st->outcome[STATS_SHUTDOWN], "workers", "cpu", "size",
	    (json_int_t)ps->size[LANE_CPU], "busy",
	    (json_int_t)ps->busy[LANE_CPU], "queued",
	    (json_int_t)ps->queued[LANE_CPU], "io", "size",
	    (json_int_t)ps->size[LANE_IO], "busy",
	    (json_int_t)ps->busy[LANE_IO], "queued",
	    (json_int_t)ps->queued[LANE_IO], "loop", "lag_max_us",
	    (json_int_t)hist_max(st->loop_lag_us), "lag_p99_us",
	    (json_int_t)hist_quantile(st->loop_lag_us, 0.99), "iterations",
	    (json_int_t)hist_count(st->loop_lag_us), "argon2",
	    "memory_used_kib", (json_int_t)ps->gate_used[POOL_GATE_ARGON2_MEM],
	    "memory_budget_kib",
	    (json_int_t)ps->gate_budget[POOL_GATE_ARGON2_MEM], "memory",
	    "rss_kib", (json_int_t)heap_rss_kib(), "heap_trims",
	    (json_int_t)st->heap_trims, "connections_total",
	    (json_int_t)st->connections_total, "config_generation",
	    (json_int_t)st->config_generation, "methods", methods_json(st),
	    "http", "connections", (json_int_t)st->http.open, "refused",
	    (json_int_t)st->http.refused, "timed_out",
	    (json_int_t)st->http.timed_out, "log", "suppressed",
	    (json_int_t)log_suppressed_total(),
	    /* The daemon-wide output budget (issue 11): replies held. */
	    "output", "used_bytes", (json_int_t)ps->gate_used[POOL_GATE_OUTPUT],
	    "budget_bytes", (json_int_t)ps->gate_budget[POOL_GATE_OUTPUT],
	    /* Helper processes of isolated jobs (issue 15). */
	    "isolation", iso_stats_json(),
	    /* Wall-clock start: a restart shows as a new value (issue 18). */
	    "start_time_s", (json_int_t)st->start_time_s);
}
