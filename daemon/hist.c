/*
 * hist.c - see hist.h.  Values below HIST_SUB get a bucket each; above,
 * bucket = (exponent, top HIST_SUB_BITS bits of the mantissa).
 */
#include "hist.h"

static unsigned
bucket_of(uint64_t v)
{
	unsigned msb, shift, b;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	b = (shift + 1) * HIST_SUB + (unsigned)((v >> shift) & (HIST_SUB - 1));
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

uint64_t
hist_bucket_upper(unsigned i)
{
	unsigned shift;

	if (i < HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	return ((uint64_t)(HIST_SUB + i % HIST_SUB + 1) << shift) - 1;
}

void
hist_add(struct hist *h, uint64_t v)
{
	h->bucket[bucket_of(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank) {
			uint64_t up = hist_bucket_upper(i);

			return up < h->max ? up : h->max;
		}
	}
	return h->max;
}

json_t *
hist_json(const struct hist *h)
{
	json_t *buckets = json_array();
	uint64_t upper;

	if (buckets == NULL)
		return NULL;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		upper = hist_bucket_upper(i);
		if (h->bucket[i] != 0) {
			/*
			 * The last bucket also holds everything past its
			 * bound, and no value is above the maximum: the
			 * bound reported is whichever is tighter and true.
			 */
			if (i == HIST_BUCKETS - 1 || upper > h->max)
				upper = h->max;
			json_array_append_new(buckets,
			    json_pack("[I,I]", (json_int_t)upper,
				(json_int_t)h->bucket[i]));
		}
	}
	return json_pack("{s:I,s:I,s:o}", "count", (json_int_t)h->count,
	    "sum_us", (json_int_t)h->sum, "buckets", buckets);
}
