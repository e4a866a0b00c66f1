/*
 * check_heap.c - unit tests of daemon/heap.c: when the idle heap
 * trim is due (once per quiet spell, never with jobs in the pools, never
 * on a daemon nothing happened to), and the resident-size reading.
 */
#include <stdlib.h>

#include <check.h>

#include "heap.h"

START_TEST(quiet_start_never_trims)
{
	struct heap_trim_state t = { 0 };

	for (int i = 0; i < 5; i++)
		ck_assert(!heap_trim_due(&t, 0, 0));
}
END_TEST

START_TEST(trims_once_after_a_quiet_tick)
{
	struct heap_trim_state t = { 0 };

	/* Activity during the tick: not yet. */
	ck_assert(!heap_trim_due(&t, 10, 0));
	ck_assert(!heap_trim_due(&t, 25, 0));
	/* A tick with no new activity: trim, then not again. */
	ck_assert(heap_trim_due(&t, 25, 0));
	ck_assert(!heap_trim_due(&t, 25, 0));
	ck_assert(!heap_trim_due(&t, 25, 0));
	/* New activity starts a new spell. */
	ck_assert(!heap_trim_due(&t, 26, 0));
	ck_assert(heap_trim_due(&t, 26, 0));
}
END_TEST

START_TEST(never_with_jobs_in_the_pools)
{
	struct heap_trim_state t = { 0 };

	ck_assert(!heap_trim_due(&t, 5, 3));
	/* Quiet counters but a long job still running: wait for it. */
	ck_assert(!heap_trim_due(&t, 5, 3));
	ck_assert(!heap_trim_due(&t, 5, 1));
	ck_assert(heap_trim_due(&t, 5, 0));
}
END_TEST

START_TEST(rss_is_read)
{
	long before = heap_rss_kib();
	char *p;

	ck_assert_int_gt(before, 0);
	/* Touch 8 MiB: the reading follows. */
	p = malloc(8 << 20);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < 8 << 20; i += 4096)
		p[i] = 1;
	ck_assert_int_ge(heap_rss_kib(), before + 7 * 1024);
	free(p);
}
END_TEST

static Suite *
heap_suite(void)
{
	Suite *su = suite_create("heap");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, quiet_start_never_trims);
	tcase_add_test(tc, trims_once_after_a_quiet_tick);
	tcase_add_test(tc, never_with_jobs_in_the_pools);
	tcase_add_test(tc, rss_is_read);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr = srunner_create(heap_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
