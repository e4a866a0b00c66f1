/*
 * check_reload.c - a real sbkd: SIGHUP reload (pool sizes, limits, test
 * methods and the log level change without dropping a connection or a
 * job; a bad file is refused and the old configuration stays), [access]
 * allow lists, and the log_jobs access log.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct hx_daemon d;

static void
teardown(void)
{
	hx_daemon_free(&d);
}

static void
rewrite_conf(const char *text)
{
	FILE *f = fopen(d.conf, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Reload and wait until stats shows the new generation. */
static void
reload(struct hx_conn *sc, long long generation)
{
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	json_decref(hx_wait_stat(sc, "config_generation", generation));
}

START_TEST(test_reload_resizes_pools_keeps_jobs)
{
	struct hx_conn *sc, *c;
	json_t *r, *st;

	hx_daemon_up(&d,
	    "[daemon]\nenable_test_methods = true\n"
	    "[pool]\ncpu_workers = 1\nio_workers = 2\n");
	sc = hx_connect(&d);
	c = hx_connect(&d);
	/* A job in flight across the reload. */
	hx_send_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":300}}");
	json_decref(hx_wait_stat(sc, "workers.io.busy", 1));

	rewrite_conf(
	    "[daemon]\nenable_test_methods = true\n"
	    "[pool]\ncpu_workers = 3\nio_workers = 1\nqueue_max = 7\n");
	reload(sc, 2);
	st = hx_stats_on(sc);
	ck_assert_int_eq(hx_int_at(st, "workers.cpu.size"), 3);
	ck_assert_int_eq(hx_int_at(st, "workers.io.size"), 1);
	ck_assert_int_eq(hx_int_at(st, "queue.max"), 7);
	json_decref(st);

	/* The running job finishes and is answered on its connection. */
	r = hx_read_json(c);
	ck_assert_int_ge(hx_int_at(hx_expect_result(r, "1"), "slept_ms"), 300);
	json_decref(r);
	r = hx_call(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	hx_expect_result(r, "2");
	json_decref(r);
	hx_close(c);
	hx_close(sc);
}
END_TEST

START_TEST(test_reload_bad_file_keeps_old_config)
{
	struct hx_conn *sc;
	json_t *st;
	char *log;

	hx_daemon_up(&d, "[pool]\ncpu_workers = 2\n");
	sc = hx_connect(&d);
	rewrite_conf("[pool]\ncpu_workers = lots\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	/* The refusal is logged; then the old config is still in force. */
	for (int i = 0; i < 100; i++) {
		log = hx_daemon_log(&d);
		if (strstr(log, "reload refused") != NULL)
			break;
		free(log);
		log = NULL;
		hx_msleep(50);
	}
	ck_assert_msg(log != NULL, "no reload refusal in the log");
	ck_assert_ptr_nonnull(strstr(log, "cpu_workers"));
	free(log);
	st = hx_stats_on(sc);
	ck_assert_int_eq(hx_int_at(st, "config_generation"), 1);
	ck_assert_int_eq(hx_int_at(st, "workers.cpu.size"), 2);
	json_decref(st);
	ck_assert(hx_daemon_alive(&d));
	hx_close(sc);
}
END_TEST

START_TEST(test_reload_enables_test_methods_and_raises_limits)
{
	struct hx_conn *sc, *c;
	json_t *r;

	hx_daemon_up(&d, "[daemon]\nenable_test_methods = false\n");
	sc = hx_connect(&d);
	c = hx_connect(&d);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"spin\","
	    "\"params\":{\"ms\":1}}");
	hx_expect_error(r, "1", -32601);
	json_decref(r);
	rewrite_conf("[daemon]\nenable_test_methods = true\n");
	reload(sc, 2);
	/* The same connection sees the new method table at once. */
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"spin\","
	    "\"params\":{\"ms\":1}}");
	hx_expect_result(r, "2");
	json_decref(r);
	hx_close(c);
	hx_close(sc);
}
END_TEST

START_TEST(test_access_refuses_other_uid)
{
	struct hx_conn *c;
	char conf[128], *line;

	/* An allow list that holds neither our uid nor our gid. */
	snprintf(conf, sizeof(conf), "[access]\nallow_uids = %u\n",
	    (unsigned)getuid() + 12345);
	hx_daemon_up(&d, conf);
	c = hx_connect(&d);
	line = hx_read_line(c);
	ck_assert_ptr_nonnull(strstr(line, "\"id\":null"));
	ck_assert_ptr_nonnull(strstr(line, "-32003"));
	free(line);
	ck_assert(hx_wait_eof(c));
	hx_close(c);
}
END_TEST

START_TEST(test_access_allows_listed_uid_and_gid)
{
	struct hx_conn *c;
	json_t *r;
	char conf[160];

	snprintf(conf, sizeof(conf), "[access]\nallow_uids = %u, %u\n",
	    (unsigned)getuid() + 1, (unsigned)getuid());
	hx_daemon_up(&d, conf);
	c = hx_connect(&d);
	r = hx_call(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	hx_expect_result(r, "1");
	json_decref(r);
	hx_close(c);
	hx_daemon_free(&d);

	snprintf(conf, sizeof(conf),
	    "[access]\nallow_uids = %u\n"
	    "allow_gids = %u\n",
	    (unsigned)getuid() + 1, (unsigned)getegid());
	hx_daemon_up(&d, conf);
	c = hx_connect(&d);
	r = hx_call(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	hx_expect_result(r, "2");
	json_decref(r);
	hx_close(c);
}
END_TEST

START_TEST(test_log_jobs_access_log)
{
	struct hx_conn *c;
	json_t *r;
	char *log = NULL, want[64];

	hx_daemon_up(
	    &d, "[daemon]\nlog_jobs = true\nenable_test_methods = true\n");
	c = hx_connect(&d);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":1}}");
	hx_expect_result(r, "1");
	json_decref(r);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"sleep\","
	    "\"params\":{\"ms\":400,\"timeout_ms\":20}}");
	hx_expect_error(r, "2", -32001);
	json_decref(r);
	snprintf(want, sizeof(want), "uid=%u pid=%d", (unsigned)getuid(),
	    (int)getpid());
	for (int i = 0; i < 100; i++) {
		log = hx_daemon_log(&d);
		if (strstr(log, "outcome=timed_out") != NULL)
			break;
		free(log);
		log = NULL;
		hx_msleep(50);
	}
	ck_assert_msg(log != NULL, "no access-log line for the timeout");
	ck_assert_ptr_nonnull(strstr(log, "job method=sleep"));
	ck_assert_ptr_nonnull(strstr(log, want));
	ck_assert_ptr_nonnull(strstr(log, "outcome=ok"));
	free(log);
	hx_close(c);
}
END_TEST

static Suite *
reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("reload");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_reload_resizes_pools_keeps_jobs);
	tcase_add_test(tc, test_reload_bad_file_keeps_old_config);
	tcase_add_test(tc, test_reload_enables_test_methods_and_raises_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("access");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_access_refuses_other_uid);
	tcase_add_test(tc, test_access_allows_listed_uid_and_gid);
	tcase_add_test(tc, test_log_jobs_access_log);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return hx_run_suite(reload_suite());
}
