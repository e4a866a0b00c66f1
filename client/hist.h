/*
 * hist.h - a latency histogram for sbkctl bench: log-linear buckets
 * (64 per power of two, so a reported percentile is within about 1.6%
 * of the true sample), fixed size, no allocation after hist_new.  The
 * exact minimum, maximum and sum are kept beside the buckets.
 *
 * Thread safety: none inside; each bench thread owns its histogram and
 * the main thread merges them after joining.
 */
#ifndef SBK_HIST_H
#define SBK_HIST_H

#include <stdint.h>

struct hist;

struct hist *hist_new(void);
void hist_free(struct hist *);
void hist_add(struct hist *, uint64_t ns);
/* dst += src. */
void hist_merge(struct hist *dst, const struct hist *src);
uint64_t hist_count(const struct hist *);
uint64_t hist_max(const struct hist *);
double hist_mean(const struct hist *);
/* The value at quantile q (0 < q <= 1), in ns; 0 when empty. */
uint64_t hist_quantile(const struct hist *, double q);

#endif /* SBK_HIST_H */
