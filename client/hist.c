/*
 * hist.c - log-linear latency histogram (see hist.h).  Values below 128
 * ns have a bucket each; above, each power of two [2^e, 2^(e+1)) is cut
 * into 64 equal buckets indexed by the 6 bits after the leading one.
 *
 * Thread safety: one owner per histogram.
 */
#include <stdlib.h>

#include "hist.h"

#define HIST_SUB_BITS 6
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_LINEAR   (2u * HIST_SUB)
#define HIST_BUCKETS  (HIST_LINEAR + (64 - 7) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t max;
	double sum;
	uint64_t bucket[HIST_BUCKETS];
};

struct hist *
hist_new(void)
{
	return (calloc(1, sizeof(struct hist)));
}

void
hist_free(struct hist *h)
{
	free(h);
}

static unsigned
index_of(uint64_t v)
{
	unsigned e;

	if (v < HIST_LINEAR)
		return ((unsigned)v);
	e = 63 - (unsigned)__builtin_clzll(v);
	return (HIST_LINEAR + (e - 7) * HIST_SUB +
	    (unsigned)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1)));
}

/* Midpoint of bucket i: the value reported for samples in it. */
static uint64_t
value_of(unsigned i)
{
	unsigned e, m;
	uint64_t lo, width;

	if (i < HIST_LINEAR)
		return (i);
	e = (i - HIST_LINEAR) / HIST_SUB + 7;
	m = (i - HIST_LINEAR) % HIST_SUB;
	width = (uint64_t)1 << (e - HIST_SUB_BITS);
	lo = ((uint64_t)HIST_SUB + m) * width;
	return (lo + width / 2);
}

void
hist_add(struct hist *h, uint64_t ns)
{
	h->bucket[index_of(ns)]++;
	h->count++;
	h->sum += (double)ns;
	if (ns > h->max)
		h->max = ns;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned i;

	for (i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
hist_count(const struct hist *h)
{
	return (h->count);
}

uint64_t
hist_max(const struct hist *h)
{
	return (h->max);
}

double
hist_mean(const struct hist *h)
{
	return (h->count == 0 ? 0.0 : h->sum / (double)h->count);
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen, v;
	unsigned i;

	if (h->count == 0)
		return (0);
	/* The smallest sample with at least q of them at or below it. */
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count || rank == 0)
		rank++;
	seen = 0;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			/* A bucket's midpoint may pass the true maximum. */
			v = value_of(i);
			return (v > h->max ? h->max : v);
		}
	}
	return (h->max);
}
