/*
 * check_hist.c - unit tests of proto/hist.c, the one histogram of sbkd
 * (bits 3) and sbkctl bench (bits 6): the bucket layout against a brute
 * force of its definition, nearest-rank quantiles that bound the true
 * sample from above by less than one bucket, the exact count, maximum and
 * sum, merging, the far end of the range and the JSON export.
 *
 * Single-threaded; runs under Check's fork mode.
 */
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "hist.h"

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Deterministic values spread over many powers of two. */
static uint64_t
next_value(uint64_t *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return (*state >> 11) >> (*state % 53);
}

static void
check_quantiles(unsigned bits)
{
	enum { N = 5000 };
	static const double qs[] = { 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0 };
	uint64_t *v = malloc(N * sizeof(*v)), state = bits, sum = 0;
	struct hist *h = hist_new(bits);
	/* A bucket above 2^(bits+1) is 2^-bits of its lower end wide. */
	double width = 1.0 / (double)(1u << bits);

	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(hist_quantile(h, 0.5), 0);
	for (size_t i = 0; i < N; i++) {
		v[i] = next_value(&state);
		sum += v[i];
		hist_add(h, v[i]);
	}
	qsort(v, N, sizeof(*v), cmp_u64);
	ck_assert_uint_eq(hist_count(h), N);
	ck_assert_uint_eq(hist_max(h), v[N - 1]);
	ck_assert_uint_eq(hist_sum(h), sum);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		/* Nearest rank: the ceil(q N)-th smallest sample. */
		size_t rank = (size_t)(qs[i] * N);
		uint64_t truth, got = hist_quantile(h, qs[i]);

		if ((double)rank < qs[i] * N || rank == 0)
			rank++;
		truth = v[rank - 1];
		ck_assert_msg(got >= truth, "bits %u q %g: %llu below %llu",
		    bits, qs[i], (unsigned long long)got,
		    (unsigned long long)truth);
		ck_assert_msg((double)got <= (double)truth * (1 + width) + 1,
		    "bits %u q %g: %llu too far above %llu", bits, qs[i],
		    (unsigned long long)got, (unsigned long long)truth);
	}
	ck_assert_uint_eq(hist_quantile(h, 1.0), v[N - 1]);
	hist_free(h);
	free(v);
}

START_TEST(test_quantiles)
{
	check_quantiles(3);
	check_quantiles(6);
}
END_TEST

/* Small values are exact; the rank is the nearest rank, not one more. */
START_TEST(test_small_exact)
{
	struct hist *h = hist_new(3);

	ck_assert_ptr_nonnull(h);
	for (uint64_t i = 1; i <= 10; i++)
		hist_add(h, i);
	ck_assert_uint_eq(hist_quantile(h, 0.5), 5);
	ck_assert_uint_eq(hist_quantile(h, 0.1), 1);
	ck_assert_uint_eq(hist_quantile(h, 0.95), 10);
	ck_assert_uint_eq(hist_quantile(h, 0.9), 9);
	ck_assert_double_eq(hist_mean(h), 5.5);
	hist_free(h);
}
END_TEST

START_TEST(test_extremes)
{
	struct hist *h = hist_new(3);

	ck_assert_ptr_null(hist_new(0));
	ck_assert_ptr_null(hist_new(HIST_BITS_MAX + 1));
	ck_assert_ptr_nonnull(h);
	hist_add(h, 0);
	hist_add(h, UINT64_MAX);
	ck_assert_uint_eq(hist_max(h), UINT64_MAX);
	ck_assert_uint_eq(hist_quantile(h, 0.5), 0);
	ck_assert_uint_eq(hist_quantile(h, 1.0), UINT64_MAX);
	hist_free(h);
}
END_TEST

START_TEST(test_merge)
{
	struct hist *a = hist_new(6), *b = hist_new(6), *all = hist_new(6);
	uint64_t state = 7, x;

	ck_assert(a != NULL && b != NULL && all != NULL);
	for (int i = 0; i < 1000; i++) {
		x = next_value(&state);
		hist_add(i % 3 ? a : b, x);
		hist_add(all, x);
	}
	hist_merge(a, b);
	ck_assert_uint_eq(hist_count(a), hist_count(all));
	ck_assert_uint_eq(hist_sum(a), hist_sum(all));
	ck_assert_uint_eq(hist_max(a), hist_max(all));
	for (double q = 0.05; q < 1; q += 0.05)
		ck_assert_uint_eq(hist_quantile(a, q), hist_quantile(all, q));
	hist_free(a);
	hist_free(b);
	hist_free(all);
}
END_TEST

/* The exported buckets: 8 per power of two, bounds as PROTOCOL.md says. */
START_TEST(test_json)
{
	static const uint64_t values[] = { 0, 15, 16, 17, 18, 100, 100 };
	static const long long want[][2] = { { 0, 1 }, { 15, 1 }, { 17, 2 },
		{ 100, 2 } };
	struct hist *h = hist_new(3);
	json_t *j, *b;

	ck_assert_ptr_nonnull(h);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		hist_add(h, values[i]);
	/* 16..17 is one bucket, 18 and 100 are in wider ones. */
	j = hist_json(h);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "count")), 7);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "sum_us")), 266);
	b = json_object_get(j, "buckets");
	ck_assert_uint_eq(json_array_size(b), 5);
	for (size_t i = 0; i < 3; i++) {
		json_t *e = json_array_get(b, i);

		ck_assert_int_eq(
		    json_integer_value(json_array_get(e, 0)), want[i][0]);
		ck_assert_int_eq(
		    json_integer_value(json_array_get(e, 1)), want[i][1]);
	}
	/* 18 is in 18..19; 100 in 96..103, reported as the maximum. */
	ck_assert_int_eq(
	    json_integer_value(json_array_get(json_array_get(b, 3), 0)), 19);
	ck_assert_int_eq(
	    json_integer_value(json_array_get(json_array_get(b, 4), 0)), 100);
	ck_assert_int_eq(
	    json_integer_value(json_array_get(json_array_get(b, 4), 1)), 2);
	json_decref(j);
	hist_free(h);
}
END_TEST

static Suite *
hist_suite(void)
{
	Suite *s = suite_create("hist");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_quantiles);
	tcase_add_test(tc, test_small_exact);
	tcase_add_test(tc, test_extremes);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_json);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hist_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
