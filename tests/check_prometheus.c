/*
 * check_prometheus.c - unit suite for proto/prometheus.c (the `stats`
 * result as Prometheus text) and daemon/metrics.c's histogram export:
 * scalars and units, missing members, label escaping, stable method
 * order, one HELP/TYPE per family, bucket folding onto the fixed bounds,
 * _sum with and without the daemon's sum, and a real struct hist carried
 * through both.  Single-threaded; no daemon is started.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "hist.h"
#include "prometheus.h"

static char *
format(const char *json)
{
	json_error_t err;
	json_t *v = json_loads(json, 0, &err);
	char *text;
	size_t len;

	ck_assert_msg(v != NULL, "bad test JSON: %s", err.text);
	text = prom_format_stats(v, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, strlen(text));
	json_decref(v);
	return text;
}

static void
has(const char *text, const char *line)
{
	ck_assert_msg(
	    strstr(text, line) != NULL, "missing \"%s\" in:\n%s", line, text);
}

static void
lacks(const char *text, const char *what)
{
	ck_assert_msg(strstr(text, what) == NULL, "unexpected \"%s\" in:\n%s",
	    what, text);
}

static int
count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

START_TEST(scalars_and_units)
{
	char *t = format(
	    "{\"connections\":3,\"connections_total\":9,"
	    "\"queue\":{\"depth\":4,\"max\":4096},"
	    "\"jobs\":{\"accepted\":10,\"rejected\":2},"
	    "\"workers\":{\"cpu\":{\"size\":2,\"busy\":1,\"queued\":3},"
	    "\"io\":{\"size\":16,\"busy\":0,\"queued\":1}},"
	    "\"loop\":{\"lag_max_us\":1234567,\"lag_p99_us\":7,"
	    "\"iterations\":99},\"config_generation\":2,"
	    "\"argon2\":{\"memory_used_kib\":2,\"memory_budget_kib\":1024},"
	    "\"memory\":{\"rss_kib\":3000,\"heap_trims\":5},"
	    "\"http\":{\"connections\":2,\"refused\":8,\"timed_out\":1},"
	    "\"log\":{\"suppressed\":77},\"start_time_s\":1795000000}");

	has(t, "# TYPE sbk_connections gauge\nsbk_connections 3\n");
	has(t,
	    "# TYPE sbk_connections_total counter\n"
	    "sbk_connections_total 9\n");
	has(t, "\nsbk_queue_depth 4\n");
	has(t, "\nsbk_queue_max 4096\n");
	has(t, "\nsbk_jobs_accepted_total 10\n");
	has(t, "\nsbk_jobs_rejected_total 2\n");
	has(t, "\nsbk_loop_lag_max_seconds 1.234567\n");
	has(t, "\nsbk_loop_lag_p99_seconds 0.000007\n");
	has(t, "\nsbk_loop_iterations_total 99\n");
	has(t, "\nsbk_config_generation 2\n");
	has(t, "\nsbk_argon2_memory_used_bytes 2048\n");
	has(t, "\nsbk_argon2_memory_budget_bytes 1048576\n");
	has(t,
	    "# TYPE sbk_resident_memory_bytes gauge\n"
	    "sbk_resident_memory_bytes 3072000\n");
	has(t,
	    "# TYPE sbk_heap_trims_total counter\n"
	    "sbk_heap_trims_total 5\n");
	has(t,
	    "# TYPE sbk_workers gauge\nsbk_workers{pool=\"cpu\"} 2\n"
	    "sbk_workers{pool=\"io\"} 16\n");
	has(t, "sbk_workers_busy{pool=\"cpu\"} 1\n");
	has(t, "sbk_queue_waiting{pool=\"io\"} 1\n");
	has(t, "# TYPE sbk_http_connections gauge\nsbk_http_connections 2\n");
	has(t, "\nsbk_http_refused_total 8\n");
	has(t, "\nsbk_http_timed_out_total 1\n");
	has(t,
	    "# TYPE sbk_log_suppressed_total counter\n"
	    "sbk_log_suppressed_total 77\n");
	/* The conventional name, so that restart alerts need no sbk rule. */
	has(t,
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds 1795000000\n");
	ck_assert_int_eq(t[strlen(t) - 1], '\n');
	free(t);
}
END_TEST

START_TEST(missing_members_are_left_out)
{
	char *t = format(
	    "{\"connections\":1,\"queue\":{\"depth\":\"x\"},"
	    "\"workers\":{\"io\":{\"size\":4}},\"loop\":{\"lag_max_us\":-5}}");

	has(t, "sbk_connections 1\n");
	lacks(t, "sbk_queue_depth");
	lacks(t, "sbk_loop_lag_max_seconds");
	lacks(t, "pool=\"cpu\"");
	has(t, "sbk_workers{pool=\"io\"} 4\n");
	lacks(t, "sbk_workers_busy");
	lacks(t, "sbk_jobs_total");
	lacks(t, "sbk_job_duration_seconds");
	free(t);

	t = format("{}");
	ck_assert_str_eq(t, "");
	free(t);
}
END_TEST

START_TEST(not_an_object)
{
	json_t *v = json_array();

	errno = 0;
	ck_assert_ptr_null(prom_format_stats(v, NULL));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(prom_format_stats(NULL, NULL));
	json_decref(v);
}
END_TEST

START_TEST(methods_sorted_escaped_one_family)
{
	char *t = format("{\"methods\":{"
			 "\"zstd.compress\":{\"completed\":5,\"failed\":1},"
			 "\"a\\\"b\\\\c\\nd\":{\"completed\":1},"
			 "\"argon2.hash\":{\"completed\":2,\"timed_out\":3,"
			 "\"shutdown\":0}}}");

	ck_assert_int_eq(count(t, "# TYPE sbk_jobs_total counter"), 1);
	ck_assert_int_eq(count(t, "# HELP sbk_jobs_total "), 1);
	has(t,
	    "sbk_jobs_total{method=\"a\\\"b\\\\c\\nd\","
	    "outcome=\"completed\"} 1\n");
	has(t,
	    "sbk_jobs_total{method=\"argon2.hash\",outcome=\"timed_out\"} "
	    "3\n");
	has(t,
	    "sbk_jobs_total{method=\"argon2.hash\",outcome=\"shutdown\"} "
	    "0\n");
	has(t,
	    "sbk_jobs_total{method=\"zstd.compress\",outcome=\"failed\"} "
	    "1\n");
	/* Sorted by name whatever the JSON order. */
	ck_assert(
	    strstr(t, "method=\"a\\\"") < strstr(t, "method=\"argon2.hash\""));
	ck_assert(strstr(t, "method=\"argon2.hash\"") <
	    strstr(t, "method=\"zstd.compress\""));
	/* No histogram without latency_us. */
	lacks(t, "sbk_job_duration_seconds");
	free(t);
}
END_TEST

START_TEST(histogram_folding)
{
	/* 5 µs -> 7 µs bound; 8 µs -> 15; 100 -> 127; 2e9 past the last. */
	char *t =
	    format("{\"methods\":{\"sleep\":{\"completed\":10,"
		   "\"latency_us\":{\"count\":10,\"sum_us\":2000001234,"
		   "\"buckets\":[[5,1],[8,2],[100,3],[2000000000,4]]}}}}");

	ck_assert_int_eq(
	    count(t, "# TYPE sbk_job_duration_seconds histogram"), 1);
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"sleep\","
	    "le=\"0.000007\"} 1\n");
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"sleep\","
	    "le=\"0.000015\"} 3\n");
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"sleep\","
	    "le=\"0.000063\"} 3\n");
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"sleep\","
	    "le=\"0.000127\"} 6\n");
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"sleep\","
	    "le=\"1073.741823\"} 6\n");
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"sleep\","
	    "le=\"+Inf\"} 10\n");
	has(t, "sbk_job_duration_seconds_sum{method=\"sleep\"} 2000.001234\n");
	has(t, "sbk_job_duration_seconds_count{method=\"sleep\"} 10\n");
	/* 28 finite bounds (2^3-1 .. 2^30-1 µs) and +Inf. */
	ck_assert_int_eq(count(t, "sbk_job_duration_seconds_bucket{"), 29);
	free(t);
}
END_TEST

START_TEST(histogram_sum_fallback_and_bad_buckets)
{
	char *t = format(
	    "{\"methods\":{"
	    "\"a\":{\"completed\":2,\"latency_us\":{\"buckets\":[[10,2]]}},"
	    "\"b\":{\"completed\":1,\"latency_us\":{\"buckets\":[[\"x\",1]]}},"
	    "\"c\":{\"completed\":1,\"latency_us\":{\"buckets\":3}}}}");

	/* No sum_us: the bucket bounds bound the sum. */
	has(t, "sbk_job_duration_seconds_sum{method=\"a\"} 0.000020\n");
	has(t, "sbk_job_duration_seconds_count{method=\"a\"} 2\n");
	/* Unusable histograms are skipped, their counters kept. */
	lacks(t, "sbk_job_duration_seconds_count{method=\"b\"}");
	lacks(t, "sbk_job_duration_seconds_count{method=\"c\"}");
	has(t, "sbk_jobs_total{method=\"b\",outcome=\"completed\"} 1\n");
	free(t);
}
END_TEST

/* A real histogram through hist_json and the formatter. */
START_TEST(hist_export_round_trip)
{
	static const uint64_t values[] = { 0, 3, 7, 8, 15, 16, 1000, 1500,
		20000, 20000, 999999, 5000000 };
	struct hist *h = hist_new(3);
	json_t *lat, *b, *st;
	uint64_t truth = 0, n = 0, last = 0;
	long long sum;
	size_t i;
	char *t, line[128];

	ck_assert_ptr_nonnull(h);
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		hist_add(h, values[i]);
		truth += values[i];
	}
	lat = hist_json(h);
	ck_assert_ptr_nonnull(lat);
	ck_assert_int_eq(json_integer_value(json_object_get(lat, "count")),
	    (json_int_t)hist_count(h));
	json_array_foreach(json_object_get(lat, "buckets"), i, b) {
		uint64_t upper =
		    (uint64_t)json_integer_value(json_array_get(b, 0));

		ck_assert_uint_gt(upper + 1, last); /* increasing */
		last = upper + 1;
		n += (uint64_t)json_integer_value(json_array_get(b, 1));
	}
	ck_assert_uint_eq(n, hist_count(h));
	ck_assert_uint_eq(last - 1, hist_max(h)); /* tightest true bound */
	/* Exact, not the buckets' middles (issue 13). */
	sum = json_integer_value(json_object_get(lat, "sum_us"));
	ck_assert_msg((unsigned long long)sum == (unsigned long long)truth,
	    "sum_us %lld for %llu", sum, (unsigned long long)truth);

	st = json_pack("{s:{s:{s:i,s:o}}}", "methods", "m", "completed",
	    (int)hist_count(h), "latency_us", lat);
	t = prom_format_stats(st, NULL);
	ck_assert_ptr_nonnull(t);
	snprintf(line, sizeof(line),
	    "sbk_job_duration_seconds_bucket{"
	    "method=\"m\",le=\"+Inf\"} %llu\n",
	    (unsigned long long)hist_count(h));
	has(t, line);
	/* 0, 3 and 7 µs are at or under the first bound, 7 µs. */
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"m\",le=\"0.000007\"} "
	    "3\n");
	/* 8 and 15 µs join at 15 µs; 16 µs waits for 31 µs. */
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"m\",le=\"0.000015\"} "
	    "5\n");
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"m\",le=\"0.000031\"} "
	    "6\n");
	/* 5 s is under 2^23 - 1 µs (8.39 s) but over 2^22 - 1 (4.19 s). */
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"m\",le=\"4.194303\"} "
	    "11\n");
	has(t,
	    "sbk_job_duration_seconds_bucket{method=\"m\",le=\"8.388607\"} "
	    "12\n");
	free(t);
	json_decref(st);
	hist_free(h);
}
END_TEST

static Suite *
prometheus_suite(void)
{
	Suite *s = suite_create("prometheus");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, scalars_and_units);
	tcase_add_test(tc, missing_members_are_left_out);
	tcase_add_test(tc, not_an_object);
	tcase_add_test(tc, methods_sorted_escaped_one_family);
	tcase_add_test(tc, histogram_folding);
	tcase_add_test(tc, histogram_sum_fallback_and_bad_buckets);
	tcase_add_test(tc, hist_export_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(prometheus_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
