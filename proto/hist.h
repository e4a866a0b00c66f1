/*
 * hist.h - the one latency histogram of sbk: sbkd's per-method latencies
 * and loop lag (the `stats` method, /metrics) and sbkctl bench's round
 * trips.  Log-linear: values below 2 * 2^bits get a bucket each; above,
 * every power of two is cut into 2^bits equal buckets (bits 3: 8 per
 * power of two, about 12% wide, what the daemon exports; bits 6: 64,
 * about 1.6%, what bench reports).  Fixed size after hist_new; the
 * count, maximum and sum are exact.
 *
 * Thread safety: none inside; one owner per histogram (sbkd's event
 * thread, or one bench thread until it is merged).
 */
#ifndef SBK_PROTO_HIST_H
#define SBK_PROTO_HIST_H

#include <stdint.h>
#include <jansson.h>

#define HIST_BITS_MIN 1
#define HIST_BITS_MAX 8

struct hist;

/* A new empty histogram of 2^bits buckets per power of two, or NULL. */
struct hist *hist_new(unsigned bits);
void hist_free(struct hist *);
void hist_add(struct hist *, uint64_t value);
/* dst += src; both have the same bits. */
void hist_merge(struct hist *dst, const struct hist *src);
uint64_t hist_count(const struct hist *);
uint64_t hist_max(const struct hist *);
uint64_t hist_sum(const struct hist *);
double hist_mean(const struct hist *);
/*
 * The nearest-rank quantile q (0 < q <= 1): the upper bound of the bucket
 * holding the smallest sample with at least q of the samples at or below
 * it, or the maximum when that is lower.  0 when empty.
 */
uint64_t hist_quantile(const struct hist *, double q);

/*
 * The histogram as JSON, the shape proto/prometheus.h reads:
 * {"count":N, "sum_us":N, "buckets":[[UPPER, N], ...]}, non-empty
 * buckets only, counts not cumulative, UPPER the bucket's upper bound or
 * the maximum when that is lower.  A new reference, or NULL.
 */
json_t *hist_json(const struct hist *);

#endif /* SBK_PROTO_HIST_H */
