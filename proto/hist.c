/*
 * hist.c - see hist.h.  Bucket i < 2 * 2^bits holds the value i; above,
 * a value whose leading one is bit b (so b > bits) goes to bucket
 * (b - bits + 1) * 2^bits + the bits bits after its leading one.  64-bit
 * values need (65 - bits) * 2^bits buckets.
 */
#include <stdlib.h>

#include "hist.h"

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t sum;
	unsigned bits;
	unsigned nbuckets;
	uint64_t bucket[];
};

struct hist *
hist_new(unsigned bits)
{
	struct hist *h;
	unsigned n;

	if (bits < HIST_BITS_MIN || bits > HIST_BITS_MAX)
		return NULL;
	n = (65 - bits) << bits;
	if ((h = calloc(1, sizeof(*h) + n * sizeof(h->bucket[0]))) == NULL)
		return NULL;
	h->bits = bits;
	h->nbuckets = n;
	return h;
}

void
hist_free(struct hist *h)
{
	free(h);
}

static unsigned
bucket_of(const struct hist *h, uint64_t v)
{
	unsigned msb, shift;

	if (v < (2ull << h->bits))
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	shift = msb - h->bits;
	return ((shift + 1) << h->bits) +
	    (unsigned)((v >> shift) & ((1u << h->bits) - 1));
}

static uint64_t
bucket_upper(const struct hist *h, unsigned i)
{
	unsigned sub = 1u << h->bits, shift;

	if (i < 2 * sub)
		return i;
	shift = (i >> h->bits) - 1;
	/*
	 * The last bucket ends at UINT64_MAX: computed without overflow.
	 * shift >= 1 here (i >= 2 * sub), which the analyzer does not follow.
	 */
	/* NOLINTBEGIN(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	return (((uint64_t)(sub + i % sub) << shift) - 1) +
	    ((uint64_t)1 << shift);
	/* NOLINTEND(clang-analyzer-core.UndefinedBinaryOperatorResult) */
}

void
hist_add(struct hist *h, uint64_t v)
{
	h->bucket[bucket_of(h, v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < dst->nbuckets && i < src->nbuckets; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
hist_count(const struct hist *h)
{
	return h->count;
}

uint64_t
hist_max(const struct hist *h)
{
	return h->max;
}

uint64_t
hist_sum(const struct hist *h)
{
	return h->sum;
}

double
hist_mean(const struct hist *h)
{
	return h->count == 0 ? 0.0 : (double)h->sum / (double)h->count;
}

/* A bucket's bound as reported: no sample is above the maximum. */
static uint64_t
bound(const struct hist *h, unsigned i)
{
	uint64_t up = bucket_upper(h, i);

	return up < h->max ? up : h->max;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count || rank == 0)
		rank++;
	for (unsigned i = 0; i < h->nbuckets; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			return bound(h, i);
	}
	return h->max;
}

json_t *
hist_json(const struct hist *h)
{
	json_t *buckets = json_array();

	if (buckets == NULL)
		return NULL;
	for (unsigned i = 0; i < h->nbuckets; i++)
		if (h->bucket[i] != 0)
			json_array_append_new(buckets,
			    json_pack("[I,I]", (json_int_t)bound(h, i),
				(json_int_t)h->bucket[i]));
	return json_pack("{s:I,s:I,s:o}", "count", (json_int_t)h->count,
	    "sum_us", (json_int_t)h->sum, "buckets", buckets);
}
