/*
 * hist.h - a log-linear latency histogram (8 sub-buckets per power of
 * two, about 12% resolution) for per-method latencies and loop lag.
 * Fixed size, no allocation.  One thread at a time (the event thread).
 */
#ifndef SBK_HIST_H
#define SBK_HIST_H

#include <stdint.h>
#include <jansson.h>

#define HIST_SUB_BITS 3
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  (HIST_SUB * 48)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t sum; /* exact: Prometheus' _sum */
	uint32_t bucket[HIST_BUCKETS];
};

void hist_add(struct hist *, uint64_t value);
/* The value at quantile q (0..1), as its bucket's upper bound; 0 if empty. */
uint64_t hist_quantile(const struct hist *, double q);
/* Upper bound of bucket i (for Prometheus-style exports). */
uint64_t hist_bucket_upper(unsigned i);

/*
 * The histogram as JSON, the shape proto/prometheus.h reads:
 * {"count":N, "sum_us":N, "buckets":[[UPPER, N], ...]}, non-empty
 * buckets only, counts not cumulative; sum_us is exact.  A new
 * reference, or NULL.
 */
json_t *hist_json(const struct hist *);

#endif /* SBK_HIST_H */
