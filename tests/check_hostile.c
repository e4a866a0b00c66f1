/*
 * check_hostile.c - libsbk against a fake, hostile daemon
 * (tests/hostile_daemon.py, path in $SBK_HOSTILE, run by $PYTHON3):
 * floods of replies to ids never sent, of batches of them and of
 * progress notifications, a line that never ends, a daemon that never
 * answers.  Every call must return by its deadline (plus a generous
 * margin for a loaded machine) with memory that stays bounded.
 *
 * Thread safety: each test runs in its own forked process, with its own
 * fake daemon (killed with the test: PR_SET_PDEATHSIG).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"
#include "sanitizer.h"
#include "sbk-client.h"

/* What a call may take beyond its own timeout on a loaded machine. */
#define SLACK_MS (4000 * hx_slow())
/* What a flood may add to this process's memory. */
#define RSS_GROWTH_MAX_KIB (64 * 1024)

#if SBK_TEST_ASAN
/*
 * ASan keeps freed memory in a 256 MiB quarantine, so RSS would grow by
 * what the library freed, not only by what it holds: a small quarantine
 * lets the growth bound mean the same thing (ASAN_OPTIONS still wins).
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "quarantine_size_mb=4";
}
#endif

static char dir[256];
static char sock[300];
static pid_t fake;
static int fake_out = -1; /* its stdout: kept open so it never gets EPIPE */

/* Start the fake daemon in SCENARIO and wait for its "ready". */
static void
hostile_up(const char *scenario)
{
	const char *py, *script;
	char buf[16];
	size_t len = 0;
	int pfd[2];
	ssize_t n;

	py = getenv("PYTHON3");
	script = getenv("SBK_HOSTILE");
	ck_assert_msg(py != NULL && script != NULL,
	    "PYTHON3 and SBK_HOSTILE must be set");
	snprintf(dir, sizeof(dir), "/tmp/sbk-hostile-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	ck_assert_int_eq(pipe(pfd), 0);
	fake = fork();
	ck_assert_int_ne(fake, -1);
	if (fake == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execl(py, py, script, sock, scenario, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	fake_out = pfd[0];
	while (len < 6 && (n = read(fake_out, buf + len, 6 - len)) > 0)
		len += (size_t)n;
	ck_assert_msg(len == 6 && strncmp(buf, "ready\n", 6) == 0,
	    "the fake daemon did not start");
}

static void
teardown(void)
{
	if (fake > 0) {
		kill(fake, SIGKILL);
		waitpid(fake, NULL, 0);
		fake = 0;
	}
	if (fake_out != -1) {
		close(fake_out);
		fake_out = -1;
	}
	unlink(sock);
	rmdir(dir);
}

static struct sbk_client *
connect_ok(void)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;

	c = sbk_connect(sock, &err);
	ck_assert_msg(c != NULL, "connect: %s", err.message);
	return (c);
}

/*
 * sbk_call with timeout_ms against the scenario: it must fail (the fake
 * never answers), by the deadline plus SLACK_MS, with bounded growth.
 */
static struct sbk_client *
call_must_end(const char *scenario, int timeout_ms, struct sbk_error *err)
{
	struct sbk_client *c;
	long long t0, took;
	long rss0, rss1;
	json_t *res;

	hostile_up(scenario);
	c = connect_ok();
	rss0 = hx_rss_kib(getpid());
	t0 = hx_now_ms();
	res = sbk_call(c, "ping", NULL, timeout_ms, err);
	took = hx_now_ms() - t0;
	rss1 = hx_rss_kib(getpid());
	ck_assert_msg(res == NULL, "a result from a daemon that never answers");
	ck_assert_msg(took <= timeout_ms + SLACK_MS,
	    "%s: a %d ms call took %lld ms (%s)", scenario, timeout_ms, took,
	    err->message);
	ck_assert_msg(rss1 - rss0 <= RSS_GROWTH_MAX_KIB,
	    "%s: memory grew by %ld KiB during one call", scenario,
	    rss1 - rss0);
	return (c);
}

START_TEST(test_stray_flood)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;

	c = call_must_end("stray-flood", 1000, &err);
	ck_assert_msg(err.kind == SBK_ERR_TIMEOUT, "%s: %s",
	    sbk_error_kind_name(err.kind), err.message);
	ck_assert_msg(sbk_stray_replies(c) > 0, "no stray counted");
	sbk_error_clear(&err);
	sbk_close(c);
}
END_TEST

START_TEST(test_batch_flood)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;

	c = call_must_end("batch-flood", 1000, &err);
	ck_assert_msg(err.kind == SBK_ERR_TIMEOUT, "%s: %s",
	    sbk_error_kind_name(err.kind), err.message);
	ck_assert_msg(sbk_stray_replies(c) > 0, "no stray counted");
	sbk_error_clear(&err);
	sbk_close(c);
}
END_TEST

START_TEST(test_progress_flood)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;

	c = call_must_end("progress-flood", 1000, &err);
	ck_assert_msg(err.kind == SBK_ERR_TIMEOUT, "%s: %s",
	    sbk_error_kind_name(err.kind), err.message);
	sbk_error_clear(&err);
	sbk_close(c);
}
END_TEST

static void
count_note(const char *method, const json_t *params, void *arg)
{
	(void)method;
	(void)params;
	(*(long *)arg)++;
}

/* The same flood with a notification callback, through sbk_recv. */
START_TEST(test_progress_flood_recv)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	long notes = 0;
	long long t0, took;
	int rc;

	hostile_up("progress-flood");
	c = connect_ok();
	sbk_set_notify_cb(c, count_note, &notes);
	ck_assert(sbk_send(c, "ping", NULL, &err) > 0);
	t0 = hx_now_ms();
	rc = sbk_recv(c, &r, 500, &err);
	took = hx_now_ms() - t0;
	ck_assert_msg(rc == 0, "sbk_recv: %d (%s)", rc, err.message);
	ck_assert_msg(
	    took <= 500 + SLACK_MS, "a 500 ms sbk_recv took %lld ms", took);
	ck_assert(notes > 0);
	/* Timeout 0 means "only what is there": it must return too. */
	t0 = hx_now_ms();
	rc = sbk_recv(c, &r, 0, &err);
	took = hx_now_ms() - t0;
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(took <= SLACK_MS, "sbk_recv(0) took %lld ms", took);
	sbk_close(c);
}
END_TEST

/* sbk_recv never hands out a reply to an id this client did not send. */
START_TEST(test_stray_recv)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	int64_t id;
	int i, rc;

	hostile_up("stray-flood");
	c = connect_ok();
	id = sbk_send(c, "ping", NULL, &err);
	ck_assert(id > 0);
	for (i = 0; i < 5; i++) {
		rc = sbk_recv(c, &r, 100, &err);
		ck_assert_msg(rc >= 0, "sbk_recv: %s", err.message);
		if (rc == 1) {
			ck_assert_msg(r.int_id && r.id_num == id,
			    "sbk_recv returned a reply to id %lld, never "
			    "sent",
			    (long long)r.id_num);
			sbk_reply_clear(&r);
		}
	}
	ck_assert(sbk_stray_replies(c) > 0);
	ck_assert_uint_eq(sbk_in_flight(c), 1);
	sbk_close(c);
}
END_TEST

/* A listen backlog that stays full: the connect timeout is the caller's. */
START_TEST(test_connect_timeout)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sockaddr_un sun;
	long long t0, took;
	int fds[64], n = 0, fd;

	hostile_up("no-accept");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert(strlen(sock) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	while (n < 64) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ck_assert_int_ne(fd, -1);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			close(fd);
			break;
		}
		fds[n++] = fd;
	}
	ck_assert_msg(n < 64, "the backlog never filled");
	t0 = hx_now_ms();
	c = sbk_connect_timeout(sock, 300, &err);
	took = hx_now_ms() - t0;
	ck_assert_ptr_null(c);
	ck_assert_int_eq(err.kind, SBK_ERR_CONNECT);
	ck_assert_msg(
	    took <= 300 + SLACK_MS, "a 300 ms connect took %lld ms", took);
	while (n > 0)
		close(fds[--n]);
}
END_TEST

/* A reply line that never ends: refused once past max_reply, bounded. */
START_TEST(test_huge_line)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	long long t0, took;
	long rss0;
	json_t *res;

	hostile_up("huge-line");
	c = connect_ok();
	sbk_set_max_reply(c, 1024 * 1024);
	rss0 = hx_rss_kib(getpid());
	t0 = hx_now_ms();
	res = sbk_call(c, "ping", NULL, 1000, &err);
	took = hx_now_ms() - t0;
	ck_assert_ptr_null(res);
	ck_assert_msg(
	    err.kind == SBK_ERR_PROTOCOL || err.kind == SBK_ERR_TIMEOUT, "%s",
	    err.message);
	ck_assert_msg(took <= 1000 + SLACK_MS, "took %lld ms", took);
	ck_assert(hx_rss_kib(getpid()) - rss0 <= RSS_GROWTH_MAX_KIB);
	sbk_error_clear(&err);
	sbk_close(c);
}
END_TEST

/* A daemon that reads and never answers: the plain timeout. */
START_TEST(test_silent)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;

	c = call_must_end("silent", 300, &err);
	ck_assert_int_eq(err.kind, SBK_ERR_TIMEOUT);
	sbk_close(c);
}
END_TEST

static Suite *
hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("floods");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_stray_flood);
	tcase_add_test(tc, test_batch_flood);
	tcase_add_test(tc, test_progress_flood);
	tcase_add_test(tc, test_progress_flood_recv);
	tcase_add_test(tc, test_stray_recv);
	tcase_add_test(tc, test_connect_timeout);
	tcase_add_test(tc, test_huge_line);
	tcase_add_test(tc, test_silent);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner *sr = srunner_create(hostile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
