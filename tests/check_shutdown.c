/*
 * check_shutdown.c - integration tests of sbkd as a process: the
 * SIGTERM/SIGINT drain (every accepted job answered, -32006 at
 * shutdown_timeout_s and for lines read but not admitted, socket removed,
 * exit 0), stale and live socket files, socket_mode, bad configurations
 * (exit 2 naming file, line and key, before listening), the command line
 * options, and surviving clients that vanish (SIGPIPE).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

static struct hx_daemon d, d2;

static void
teardown(void)
{
	hx_daemon_free(&d);
	hx_daemon_free(&d2);
}

#define CONF_DRAIN(io, inflight, timeout_s)     \
	"[daemon]\n"                            \
	"enable_test_methods = true\n"          \
	"shutdown_timeout_s = " #timeout_s "\n" \
	"[pool]\n"                              \
	"cpu_workers = 1\n"                     \
	"io_workers = " #io "\n"                \
	"max_inflight_per_conn = " #inflight "\n"

static void
send_sleep(struct hx_conn *c, const char *id, int ms)
{
	hx_sendf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"sleep\","
	    "\"params\":{\"ms\":%d}}",
	    id, ms);
}

static void
expect_exit(struct hx_daemon *dd, int status, int code)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) != code) {
		hx_daemon_dump_log(dd);
		if (WIFSIGNALED(status))
			ck_abort_msg("sbkd died of signal %d, expected exit %d",
			    WTERMSIG(status), code);
		ck_abort_msg(
		    "sbkd exited %d, expected %d", WEXITSTATUS(status), code);
	}
}

static bool
path_exists(const char *path)
{
	struct stat sb;

	return (lstat(path, &sb) == 0);
}

/* --- the drain --- */

static void
drain(int sig)
{
	struct hx_conn *c, *idle, *sc;
	json_t *r[3];
	size_t i;

	hx_daemon_up(&d, CONF_DRAIN(2, 16, 30));
	sc = hx_connect(&d);
	idle = hx_connect(&d);
	c = hx_connect(&d);
	/* Long enough for the stats polls below to see them running. */
	send_sleep(c, "1", 300 * hx_slow());
	send_sleep(c, "2", 300 * hx_slow());
	send_sleep(c, "3", 300 * hx_slow());
	/* Two running, one queued. */
	json_decref(hx_wait_stat(sc, "workers.io.busy", 2));
	json_decref(hx_wait_stat(sc, "queue.depth", 1));
	hx_close(sc);
	ck_assert_int_eq(kill(d.pid, sig), 0);
	/* Every accepted job is answered with its result ... */
	for (i = 0; i < 3; i++)
		r[i] = hx_read_json(c);
	for (i = 0; i < 3; i++) {
		char id[8];

		snprintf(id, sizeof(id), "%zu", i + 1);
		ck_assert_int_ge(
		    hx_int_at(
			hx_expect_result(hx_by_id(r, 3, id), id), "slept_ms"),
		    300 * hx_slow());
	}
	for (i = 0; i < 3; i++)
		json_decref(r[i]);
	/* ... connections are closed, the socket removed, exit 0. */
	ck_assert_msg(hx_wait_eof(c), "connection not closed at exit");
	ck_assert_msg(hx_wait_eof(idle), "idle connection not closed at exit");
	expect_exit(&d, hx_wait_exit(&d, 3 * HX_TIMEOUT_MS), 0);
	ck_assert_msg(!path_exists(d.sock), "socket file left behind");
	hx_close(c);
	hx_close(idle);
}

START_TEST(test_sigterm_drains)
{
	drain(SIGTERM);
}
END_TEST

START_TEST(test_sigint_drains)
{
	drain(SIGINT);
}
END_TEST

START_TEST(test_sigterm_idle)
{
	char *log, *line, *save = NULL;
	int st;

	hx_daemon_up(&d, NULL);
	st = hx_daemon_stop(&d);
	expect_exit(&d, st, 0);
	ck_assert_msg(!path_exists(d.sock), "socket file left behind");
	/*
	 * Every stderr line says its level: "<N>" for journald (when
	 * JOURNAL_STREAM names stderr, see cli_tty), else "sbkd: LEVEL: ".
	 */
	log = hx_daemon_log(&d);
	ck_assert_msg(*log != '\0', "sbkd logged nothing at all");
	for (line = strtok_r(log, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		ck_assert_msg(strncmp(line, "sbkd: error: ", 13) == 0 ||
			strncmp(line, "sbkd: warning: ", 15) == 0 ||
			strncmp(line, "sbkd: notice: ", 14) == 0 ||
			strncmp(line, "sbkd: info: ", 12) == 0 ||
			strncmp(line, "sbkd: debug: ", 13) == 0,
		    "log line without its level: %s", line);
	free(log);
}
END_TEST

START_TEST(test_shutdown_timeout)
{
	struct hx_conn *c, *sc;
	json_t *r[2], *st;

	hx_daemon_up(&d, CONF_DRAIN(1, 16, 1));
	sc = hx_connect(&d);
	c = hx_connect(&d);
	send_sleep(c, "\"long\"", 60000);
	json_decref(hx_wait_stat(sc, "workers.io.busy", 1));
	send_sleep(c, "\"queued\"", 10);
	st = hx_wait_stat(sc, "queue.depth", 1);
	json_decref(st);
	hx_close(sc);
	kill(d.pid, SIGTERM);
	/* At shutdown_timeout_s (1 s) both are answered -32006. */
	r[0] = hx_read_json(c);
	r[1] = hx_read_json(c);
	hx_expect_error(hx_by_id(r, 2, "\"long\""), "\"long\"", -32006);
	hx_expect_error(hx_by_id(r, 2, "\"queued\""), "\"queued\"", -32006);
	json_decref(r[0]);
	json_decref(r[1]);
	ck_assert_msg(hx_wait_eof(c), "connection not closed at exit");
	expect_exit(&d, hx_wait_exit(&d, 3 * HX_TIMEOUT_MS), 0);
	ck_assert_msg(!path_exists(d.sock), "socket file left behind");
	hx_close(c);
}
END_TEST

/*
 * Issue 11 defect 8: argon2 cannot be stopped once running.  At
 * shutdown_timeout_s its reply is -32006 and sbkd exits then, leaving the
 * worker behind, instead of waiting for the hash (8.4 s after SIGTERM
 * with shutdown_timeout_s = 2 before the fix).  The bound is loose on
 * purpose: 2 s of timeout plus 4 s of slack on a loaded machine, against
 * a hash of tens of seconds.
 */
START_TEST(test_exit_with_argon2_running)
{
	struct hx_conn *c, *sc;
	json_t *r;
	long long t0;
	int status;

	hx_daemon_up(&d,
	    "[daemon]\nshutdown_timeout_s = 2\n"
	    "[argon2]\nmax_t_cost = 64\n");
	sc = hx_connect(&d);
	c = hx_connect(&d);
	hx_send_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"argon2.hash\",\"params\":{\"password\":\"pw\","
	    "\"m_cost_kib\":262144,\"t_cost\":64}}");
	json_decref(hx_wait_stat(sc, "workers.cpu.busy", 1));
	hx_close(sc);
	t0 = hx_now_ms();
	kill(d.pid, SIGTERM);
	r = hx_read_json(c);
	hx_expect_error(r, "1", -32006);
	json_decref(r);
	status = hx_wait_exit(&d, 3 * HX_TIMEOUT_MS);
	expect_exit(&d, status, 0);
	ck_assert_msg(hx_now_ms() - t0 < 6000 * hx_slow(),
	    "sbkd exited %lld ms after SIGTERM with shutdown_timeout_s = 2",
	    hx_now_ms() - t0);
	ck_assert_msg(!path_exists(d.sock), "socket file left behind");
	hx_close(c);
}
END_TEST

START_TEST(test_unadmitted_lines)
{
	struct hx_conn *c, *sc;
	json_t *r[3];
	size_t i;

	/* max_inflight_per_conn = 1: lines 2 and 3 are read, not admitted. */
	hx_daemon_up(&d, CONF_DRAIN(2, 1, 30));
	sc = hx_connect(&d);
	c = hx_connect(&d);
	hx_send_str(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":500}}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"sleep\","
	    "\"params\":{\"ms\":10}}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"sleep\","
	    "\"params\":{\"ms\":10}}\n");
	json_decref(hx_wait_stat(sc, "workers.io.busy", 1));
	hx_close(sc);
	kill(d.pid, SIGTERM);
	for (i = 0; i < 3; i++)
		r[i] = hx_read_json(c);
	hx_expect_result(hx_by_id(r, 3, "1"), "1");
	hx_expect_error(hx_by_id(r, 3, "2"), "2", -32006);
	hx_expect_error(hx_by_id(r, 3, "3"), "3", -32006);
	for (i = 0; i < 3; i++)
		json_decref(r[i]);
	ck_assert_msg(hx_wait_eof(c), "connection not closed at exit");
	expect_exit(&d, hx_wait_exit(&d, 3 * HX_TIMEOUT_MS), 0);
	hx_close(c);
}
END_TEST

/* --- the socket file --- */

START_TEST(test_stale_socket_replaced)
{
	struct hx_conn *c;
	json_t *r;

	hx_daemon_up(&d, NULL);
	/* A dead sbkd leaves its socket file. */
	hx_daemon_kill(&d);
	ck_assert_msg(path_exists(d.sock), "no socket file after kill -9");
	hx_daemon_start(&d);
	c = hx_connect(&d);
	r = hx_call(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	hx_expect_result(r, "1");
	json_decref(r);
	hx_close(c);
}
END_TEST

START_TEST(test_stale_bound_socket_replaced)
{
	struct sockaddr_un sun;
	struct hx_conn *c;
	json_t *r;
	int fd;

	hx_daemon_init(&d, NULL);
	/* Bound, never listened on, closed: nobody answers there. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, d.sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	ck_assert(path_exists(d.sock));
	hx_daemon_start(&d);
	c = hx_connect(&d);
	r = hx_call(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	hx_expect_result(r, "1");
	json_decref(r);
	hx_close(c);
}
END_TEST

START_TEST(test_live_socket_not_stolen)
{
	const char *args[] = { "-c", NULL, "-s", NULL, NULL };
	struct hx_conn *c;
	json_t *r;
	char *log;
	int st;

	hx_daemon_up(&d, NULL);
	hx_daemon_init(&d2, NULL);
	args[1] = d2.conf;
	args[3] = d.sock;
	hx_spawn(&d2, args);
	st = hx_wait_exit(&d2, HX_TIMEOUT_MS);
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 0),
	    "a second sbkd on a live socket exited 0");
	ck_assert_msg(WIFEXITED(st), "the second sbkd died of a signal");
	/* A clear message naming the socket. */
	log = hx_daemon_log(&d2);
	ck_assert_msg(strstr(log, d.sock) != NULL,
	    "the error does not name the socket: %s", log);
	free(log);
	/* The first one still owns it. */
	ck_assert(hx_daemon_alive(&d));
	ck_assert(path_exists(d.sock));
	c = hx_connect(&d);
	r = hx_call(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	hx_expect_result(r, "1");
	json_decref(r);
	hx_close(c);
	expect_exit(&d, hx_daemon_stop(&d), 0);
}
END_TEST

static void
check_mode(const char *conf, mode_t want)
{
	struct stat sb;

	hx_daemon_up(&d, conf);
	ck_assert_int_eq(stat(d.sock, &sb), 0);
	ck_assert_msg(S_ISSOCK(sb.st_mode), "not a socket");
	ck_assert_msg((sb.st_mode & 07777) == want,
	    "socket mode %04o, not %04o", (unsigned)(sb.st_mode & 07777),
	    (unsigned)want);
}

START_TEST(test_socket_mode_default)
{
	check_mode(NULL, 0660);
}
END_TEST

START_TEST(test_socket_mode_set)
{
	check_mode("[daemon]\nsocket_mode = 0600\n", 0600);
}
END_TEST

START_TEST(test_no_config_file)
{
	const char *args[] = { "-s", NULL, NULL };
	struct hx_conn *c = NULL;
	json_t *r;
	long long end;

	/* Built-in defaults: no -c at all. */
	hx_daemon_init(&d, NULL);
	args[1] = d.sock;
	hx_spawn(&d, args);
	end = hx_now_ms() + HX_TIMEOUT_MS;
	while ((c = hx_connect_path(d.sock)) == NULL) {
		ck_assert_msg(hx_daemon_alive(&d), "sbkd exited");
		ck_assert_msg(hx_now_ms() < end, "sbkd never listened");
		hx_msleep(10);
	}
	r = hx_call(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	hx_expect_result(r, "1");
	json_decref(r);
	hx_close(c);
	expect_exit(&d, hx_daemon_stop(&d), 0);
}
END_TEST

/* --- bad configurations --- */

struct bad_conf {
	const char *text;
	const char *where; /* "sbkd.conf:LINE", or NULL */
	const char *key;   /* must appear in the message */
};

static const struct bad_conf bad_confs[] = {
	{ "[daemon]\nmax_connections = abc\n", "sbkd.conf:2",
	    "max_connections" },
	{ "; comment\n\n[pool]\nqueue_max = -1\n", "sbkd.conf:4", "queue_max" },
	{ "[pool]\ncpu_workers = 1\nbogus_key = 3\n", "sbkd.conf:3",
	    "bogus_key" },
	{ "[nosuch]\nkey = 1\n", NULL, "nosuch" },
	{ "[daemon]\nenable_test_methods = maybe\n", "sbkd.conf:2",
	    "enable_test_methods" },
	{ "[daemon]\nsocket_mode = 0999\n", "sbkd.conf:2", "socket_mode" },
	{ "[daemon]\nmax_request_bytes = 12abc\n", "sbkd.conf:2",
	    "max_request_bytes" },
	{ "[pool]\nmax_inflight_per_conn = 99999999999999999999999\n",
	    "sbkd.conf:2", "max_inflight_per_conn" },
	{ "[daemon]\nshutdown_timeout_s = 1.5\n", "sbkd.conf:2",
	    "shutdown_timeout_s" },
	{ "[argon2]\nt_cost = 0\n", "sbkd.conf:2", "t_cost" },
	{ "[zstd]\nlevel = 99\n", "sbkd.conf:2", "level" },
	{ "[access]\nallow_uids = abc\n", "sbkd.conf:2", "allow_uids" },
	{ "[daemon]\n\n\n\nio_workers = 4\n", "sbkd.conf:5", "io_workers" },
	{ "this is not ini\n", "sbkd.conf:1", NULL },
};

START_TEST(test_bad_config)
{
	const struct bad_conf *bc = &bad_confs[_i];
	const char *args[] = { "-c", NULL, "-s", NULL, NULL };
	char *log;

	hx_daemon_init(&d, bc->text);
	args[1] = d.conf;
	args[3] = d.sock;
	hx_spawn(&d, args);
	expect_exit(&d, hx_wait_exit(&d, HX_TIMEOUT_MS), 2);
	log = hx_daemon_log(&d);
	if (bc->where != NULL)
		ck_assert_msg(strstr(log, bc->where) != NULL,
		    "config %zu: no \"%s\" in: %s", (size_t)_i, bc->where, log);
	else
		ck_assert_msg(strstr(log, "sbkd.conf") != NULL,
		    "config %zu: no file name in: %s", (size_t)_i, log);
	if (bc->key != NULL)
		ck_assert_msg(strstr(log, bc->key) != NULL,
		    "config %zu: no \"%s\" in: %s", (size_t)_i, bc->key, log);
	free(log);
	/* It exits before listening. */
	ck_assert_msg(!path_exists(d.sock),
	    "socket created despite a bad "
	    "config");
}
END_TEST

START_TEST(test_missing_config_file)
{
	const char *args[] = { "-c", NULL, "-s", NULL, NULL };
	char path[400];
	char *log;

	hx_daemon_init(&d, NULL);
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", d.dir);
	args[1] = path;
	args[3] = d.sock;
	hx_spawn(&d, args);
	expect_exit(&d, hx_wait_exit(&d, HX_TIMEOUT_MS), 2);
	log = hx_daemon_log(&d);
	ck_assert_msg(strstr(log, "does-not-exist.conf") != NULL,
	    "the error does not name the file: %s", log);
	free(log);
	ck_assert(!path_exists(d.sock));
}
END_TEST

/* --- options --- */

START_TEST(test_help_version)
{
	const char *help[] = { "--help", NULL };
	const char *version[] = { "--version", NULL };
	char *log;

	hx_daemon_init(&d, NULL);
	hx_spawn(&d, help);
	expect_exit(&d, hx_wait_exit(&d, HX_TIMEOUT_MS), 0);
	log = hx_daemon_log(&d);
	ck_assert_msg(strstr(log, "-c") != NULL && strstr(log, "-s") != NULL,
	    "--help does not mention -c and -s: %s", log);
	free(log);
	hx_daemon_free(&d);

	hx_daemon_init(&d, NULL);
	hx_spawn(&d, version);
	expect_exit(&d, hx_wait_exit(&d, HX_TIMEOUT_MS), 0);
	log = hx_daemon_log(&d);
	ck_assert_msg(strpbrk(log, "0123456789") != NULL,
	    "--version prints no version: %s", log);
	free(log);
}
END_TEST

START_TEST(test_bad_option)
{
	const char *args[] = { "--no-such-option", NULL };
	int st;

	hx_daemon_init(&d, NULL);
	hx_spawn(&d, args);
	st = hx_wait_exit(&d, HX_TIMEOUT_MS);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0,
	    "an unknown option did not fail");
}
END_TEST

/* --- clients that vanish --- */

START_TEST(test_vanishing_clients)
{
	struct hx_conn *c;
	json_t *r;
	char *buf;
	size_t len = 0;
	int i, k;

	hx_daemon_up(&d, "[daemon]\nenable_test_methods = true\n");
	buf = malloc(2000 * 64);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < 2000; i++)
		len += (size_t)sprintf(buf + len,
		    "{\"jsonrpc\":\"2.0\","
		    "\"id\":%d,\"method\":\"ping\"}\n",
		    i);
	/* Write lots, close without reading: replies hit a closed socket. */
	for (k = 0; k < 20; k++) {
		c = hx_connect(&d);
		hx_send_some(c, buf, len, 1000);
		send_sleep(c, "\"s\"", 20);
		hx_close(c);
	}
	free(buf);
	ck_assert_msg(hx_daemon_alive(&d), "sbkd died (SIGPIPE?)");
	c = hx_connect(&d);
	r = hx_call(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	hx_expect_result(r, "1");
	json_decref(r);
	hx_close(c);
	ck_assert(hx_daemon_alive(&d));
	expect_exit(&d, hx_daemon_stop(&d), 0);
}
END_TEST

static Suite *
shutdown_suite(void)
{
	Suite *s = suite_create("shutdown");
	TCase *tc;

	tc = tcase_create("drain");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_sigterm_drains);
	tcase_add_test(tc, test_sigint_drains);
	tcase_add_test(tc, test_sigterm_idle);
	tcase_add_test(tc, test_shutdown_timeout);
	tcase_add_test(tc, test_exit_with_argon2_running);
	tcase_add_test(tc, test_unadmitted_lines);
	tcase_add_test(tc, test_vanishing_clients);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_stale_socket_replaced);
	tcase_add_test(tc, test_stale_bound_socket_replaced);
	tcase_add_test(tc, test_live_socket_not_stolen);
	tcase_add_test(tc, test_socket_mode_default);
	tcase_add_test(tc, test_socket_mode_set);
	tcase_add_test(tc, test_no_config_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_loop_test(tc, test_bad_config, 0,
	    (int)(sizeof(bad_confs) / sizeof(bad_confs[0])));
	tcase_add_test(tc, test_missing_config_file);
	tcase_add_test(tc, test_help_version);
	tcase_add_test(tc, test_bad_option);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return hx_run_suite(shutdown_suite());
}
