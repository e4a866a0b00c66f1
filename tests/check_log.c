/*
 * check_log.c - unit tests of the per-uid, per-kind log rate limit in
 * daemon/log.c: the burst, separate budgets per uid and per kind, the
 * "suppressed" summary when a window ends, no limit at interval 0, lines
 * below the level not counted, the line length cap; and the errno forms
 * (log_warn, log_errno, log_peer_errno, log_format_errno).  stderr goes
 * to a temporary file that each test reads back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "log.h"

static FILE *captured;

static void
capture(void)
{
	captured = tmpfile();
	ck_assert_ptr_nonnull(captured);
	ck_assert_int_ge(dup2(fileno(captured), STDERR_FILENO), 0);
	log_set_level(LOG_DEBUG);
}

/* Everything written so far (malloc'd). */
static char *
output(void)
{
	long n;
	char *buf;

	fseek(captured, 0, SEEK_END);
	n = ftell(captured);
	rewind(captured);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, captured), (size_t)n);
	return buf;
}

static int
count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

START_TEST(burst_then_silence)
{
	char *out;

	capture();
	log_set_ratelimit(3600, 3);
	for (int i = 0; i < 10; i++)
		log_peer(LOG_KIND_GARBAGE, 5, LOG_DEBUG, "garbage %d", i);
	out = output();
	ck_assert_int_eq(count(out, "garbage "), 3);
	ck_assert_ptr_nonnull(strstr(out, "garbage 2"));
	ck_assert_int_eq(count(out, "suppressed"), 0);
	free(out);
}
END_TEST

START_TEST(budgets_per_uid_and_kind)
{
	char *out;

	capture();
	log_set_ratelimit(3600, 2);
	for (int i = 0; i < 5; i++) {
		log_peer(LOG_KIND_GARBAGE, 5, LOG_DEBUG, "a-garbage");
		log_peer(LOG_KIND_GARBAGE, 6, LOG_DEBUG, "b-garbage");
		log_peer(LOG_KIND_JOB, 5, LOG_INFO, "a-job");
	}
	out = output();
	ck_assert_int_eq(count(out, "a-garbage"), 2);
	ck_assert_int_eq(count(out, "b-garbage"), 2);
	ck_assert_int_eq(count(out, "a-job"), 2);
	free(out);
}
END_TEST

START_TEST(summary_when_the_window_ends)
{
	char *out;

	capture();
	log_set_ratelimit(1, 2);
	for (int i = 0; i < 9; i++)
		log_peer(LOG_KIND_REFUSED, 7, LOG_INFO, "refused %d", i);
	usleep(1100 * 1000);
	log_peer(LOG_KIND_REFUSED, 7, LOG_INFO, "refused again");
	out = output();
	ck_assert_int_eq(count(out, "refused "), 3);
	ck_assert_ptr_nonnull(strstr(out,
	    "<6>7 refused-peer messages from uid 7 suppressed\n"
	    "<6>refused again\n"));
	free(out);
}
END_TEST

START_TEST(one_budget_without_a_peer)
{
	char *out;

	capture();
	log_set_ratelimit(1, 1);
	for (int i = 0; i < 4; i++)
		log_peer(LOG_KIND_ACCEPT, LOG_PEER_ANY, LOG_WARNING, "emfile");
	usleep(1100 * 1000);
	log_peer(LOG_KIND_ACCEPT, LOG_PEER_ANY, LOG_WARNING, "emfile");
	out = output();
	ck_assert_int_eq(count(out, "emfile"), 2);
	ck_assert_ptr_nonnull(
	    strstr(out, "<4>3 accept-refusal messages suppressed\n"));
	free(out);
}
END_TEST

START_TEST(interval_zero_is_no_limit)
{
	char *out;

	capture();
	log_set_ratelimit(0, 1);
	for (int i = 0; i < 50; i++)
		log_peer(LOG_KIND_CONN, 1, LOG_DEBUG, "conn line");
	out = output();
	ck_assert_int_eq(count(out, "conn line"), 50);
	free(out);
}
END_TEST

START_TEST(lines_below_the_level_do_not_count)
{
	char *out;

	capture();
	log_set_ratelimit(3600, 2);
	log_set_level(LOG_INFO);
	for (int i = 0; i < 20; i++)
		log_peer(LOG_KIND_CONN, 1, LOG_DEBUG, "hidden");
	log_set_level(LOG_DEBUG);
	log_peer(LOG_KIND_CONN, 1, LOG_DEBUG, "shown");
	log_peer(LOG_KIND_CONN, 1, LOG_DEBUG, "shown");
	out = output();
	ck_assert_int_eq(count(out, "hidden"), 0);
	ck_assert_int_eq(count(out, "shown"), 2);
	free(out);
}
END_TEST

START_TEST(lines_are_cut)
{
	char long_text[1000];
	char *out;

	capture();
	log_set_ratelimit(3600, 5);
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	log_peer(LOG_KIND_JOB, 1, LOG_INFO, "%s", long_text);
	out = output();
	ck_assert_uint_le(strlen(out), LOG_PEER_LINE_MAX);
	ck_assert_int_eq(out[strlen(out) - 1], '\n');
	free(out);
}
END_TEST

/* log_warn appends strerror(errno) and keeps errno; log_warnx does not. */
START_TEST(warn_says_why)
{
	char *out;

	capture();
	errno = ENOENT;
	log_warn("open %s", "x");
	ck_assert_int_eq(errno, ENOENT);
	log_warnx("plain %d", 1);
	out = output();
	ck_assert_ptr_nonnull(
	    strstr(out, "open x: No such file or directory\n"));
	ck_assert_ptr_nonnull(strstr(out, "plain 1\n"));
	ck_assert_int_eq(count(out, "No such file"), 1);
	free(out);
}
END_TEST

/*
 * The other errno forms: log_errno, log_peer_errno (still rate-limited,
 * errno kept) and log_format_errno (into a why buffer, cut to its size).
 */
START_TEST(errno_forms)
{
	char why[64], tiny[8], *out;

	capture();
	log_set_ratelimit(3600, 1);
	errno = EACCES;
	log_errno("bind %s", "/s");
	log_peer_errno(LOG_KIND_REFUSED, 7, LOG_WARNING, "refused %d", 1);
	ck_assert_int_eq(errno, EACCES);
	log_peer_errno(LOG_KIND_REFUSED, 7, LOG_WARNING, "refused %d", 2);
	out = output();
	ck_assert_ptr_nonnull(strstr(out, "bind /s: Permission denied\n"));
	ck_assert_ptr_nonnull(strstr(out, "refused 1: Permission denied\n"));
	ck_assert_ptr_null(strstr(out, "refused 2"));
	free(out);

	ck_assert_str_eq(log_format_errno(why, sizeof(why), ENOENT, "%s", "/x"),
	    "/x: No such file or directory");
	ck_assert_str_eq(
	    log_format_errno(tiny, sizeof(tiny), ENOENT, "%s", "/x"),
	    "/x: No ");
	log_set_ratelimit(5, 20);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("ratelimit");

	tcase_add_test(tc, burst_then_silence);
	tcase_add_test(tc, budgets_per_uid_and_kind);
	tcase_add_test(tc, summary_when_the_window_ends);
	tcase_add_test(tc, one_budget_without_a_peer);
	tcase_add_test(tc, interval_zero_is_no_limit);
	tcase_add_test(tc, lines_below_the_level_do_not_count);
	tcase_add_test(tc, lines_are_cut);
	tcase_add_test(tc, warn_says_why);
	tcase_add_test(tc, errno_forms);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
