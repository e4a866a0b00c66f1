/*
 * stats.h - the daemon's counters, per-method outcomes and latency
 * histograms, and the event loop's own lag; and the JSON of the `stats`
 * method.  Event thread only: workers never touch these (their numbers
 * arrive with their completions), so no atomics are needed.
 */
#ifndef SBK_STATS_H
#define SBK_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "hist.h"
#include "http.h"
#include "pool.h"

/* The exported histograms: 8 buckets per power of two (PROTOCOL.md). */
#define STATS_HIST_BITS 3

struct job_kind;

enum stats_outcome {
	STATS_COMPLETED, /* answered with a result */
	STATS_FAILED,	 /* answered with an error from the job */
	STATS_CANCELLED, /* -32002 */
	STATS_TIMED_OUT, /* -32001 */
	STATS_DROPPED,	 /* client gone: never answered */
	STATS_SHUTDOWN,	 /* -32006 */
	STATS_OUTCOMES,
	/* Not admitted (-32000): counted in rejected only. */
	STATS_REJECTED = STATS_OUTCOMES,
};

struct method_stats {
	uint64_t outcome[STATS_OUTCOMES];
	struct hist *latency_us; /* receipt to reply */
};

struct stats {
	uint64_t accepted;
	uint64_t rejected; /* -32000 replies to jobs */
	uint64_t outcome[STATS_OUTCOMES];
	uint64_t connections_total;
	uint64_t config_generation;
	int64_t start_time_s;	      /* wall clock at stats_init */
	uint64_t heap_trims;	      /* heap.c's idle trims */
	struct http_counts http;      /* on metrics_listen */
	struct hist *loop_lag_us;     /* callbacks' time per iteration */
	struct method_stats *methods; /* indexed like job_table */
	size_t nmethods;
};

/* 0, or -1: then too, stats_free releases what was made. */
int stats_init(struct stats *);
void stats_free(struct stats *);

/*
 * A job's end (job_finish): outcome and receipt-to-reply latency.  An
 * admitted job counts in the totals and its method; one never admitted
 * only when it ran inline (ping, stats, ...: not jobs of a pool), in its
 * method; a -32000 refusal (STATS_REJECTED) in rejected; one refused
 * while draining nowhere.  True when it counted in its method.
 */
bool stats_job_end(struct stats *, const struct job_kind *, enum stats_outcome,
    bool admitted, uint64_t latency_ns);

/* The `stats` result object (a new reference). */
json_t *stats_json(
    const struct stats *, const struct pool_stats *, unsigned connections);

#endif /* SBK_STATS_H */
