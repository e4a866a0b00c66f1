/*
 * check_async.c - libsbk's asynchronous interface against a real sbkd
 * (harness.h starts one per test): 1,000 requests pipelined from a
 * libevent loop without a thread through a socket buffer too small for
 * them, per-request user data and timeouts, a retry of -32000 after
 * retry_after_ms, the close of a client telling every pending request,
 * and a reply read by a blocking call going to its async callback.
 *
 * Thread safety: each test runs in its own forked process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <check.h>
#include <event2/event.h>
#include <jansson.h>

#include "harness.h"
#include "sbk-client.h"
#include "sbk-libevent.h"

#define TEST_CONF "[daemon]\nenable_test_methods = true\n"

static struct hx_daemon d;

static void
setup(void)
{
	hx_daemon_up(&d, TEST_CONF);
}

static void
teardown(void)
{
	hx_daemon_free(&d);
}

/* What one request's callback saw. */
struct seen {
	int results;
	int errors;
	int notes;
	enum sbk_error_kind kind;
	int code;
	int *left;
	struct event_base *base;
};

static void
on_reply(struct sbk_client *c, const struct sbk_reply *r, void *arg)
{
	struct seen *s = arg;

	(void)c;
	if (r->kind == SBK_MSG_NOTIFICATION) {
		s->notes++;
		return;
	}
	if (r->kind == SBK_MSG_RESULT)
		s->results++;
	else {
		s->errors++;
		s->kind = r->error.kind;
		s->code = r->error.code;
	}
	if (s->left != NULL && --*s->left == 0 && s->base != NULL)
		event_base_loopbreak(s->base);
}

/* Run the loop until *left reaches 0 or the hang guard passes. */
static void
run_until_done(struct event_base *base, int *left)
{
	struct timeval guard = { .tv_sec = HX_TIMEOUT_MS / 1000 };

	event_base_loopexit(base, &guard);
	event_base_dispatch(base);
	ck_assert_msg(*left == 0, "%d requests never ended", *left);
}

START_TEST(test_libevent_pipeline_1000)
{
	struct sbk_error err = { 0 };
	struct event_base *base;
	struct sbk_client *c;
	struct sbk_libevent *a;
	struct seen *s;
	int i, n = 1000, left = 1000, sndbuf = 4096, actual;
	socklen_t len;

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	c = sbk_connect_async(d.sock, HX_TIMEOUT_MS, &err);
	ck_assert_msg(c != NULL, "connect: %s", err.message);
	/* A small socket buffer: the requests cannot all fit in it. */
	ck_assert_int_eq(setsockopt(sbk_fd(c), SOL_SOCKET, SO_SNDBUF, &sndbuf,
			     sizeof(sndbuf)),
	    0);
	a = sbk_libevent_attach(c, base);
	ck_assert_ptr_nonnull(a);
	s = calloc((size_t)n, sizeof(*s));
	sbk_cork(c, true); /* queue all, then one write: it cannot fit */
	for (i = 0; i < n; i++) {
		s[i].left = &left;
		s[i].base = base;
		ck_assert_int_eq(sbk_call_async(c, "ping", NULL, HX_TIMEOUT_MS,
				     on_reply, &s[i], &err),
		    i + 1);
	}
	ck_assert_uint_eq(sbk_async_pending(c), (size_t)n);
	/*
	 * The socket holds at most its send buffer; the 1,000 request
	 * lines (40 bytes and more each) are far more, so libsbk must keep
	 * the rest and write it as the socket drains.
	 */
	len = sizeof(actual);
	ck_assert_int_eq(
	    getsockopt(sbk_fd(c), SOL_SOCKET, SO_SNDBUF, &actual, &len), 0);
	ck_assert_int_lt(actual, 40 * n);
	sbk_cork(c, false);
	ck_assert(sbk_events(c) & SBK_EV_WRITE);
	run_until_done(base, &left);
	for (i = 0; i < n; i++)
		ck_assert_msg(s[i].results == 1 && s[i].errors == 0,
		    "request %d: %d results, %d errors", i + 1, s[i].results,
		    s[i].errors);
	ck_assert_uint_eq(sbk_async_pending(c), 0);
	sbk_libevent_detach(a);
	sbk_close(c);
	event_base_free(base);
	free(s);
}
END_TEST

START_TEST(test_request_timeout)
{
	struct sbk_error err = { 0 };
	struct event_base *base;
	struct sbk_client *c;
	struct sbk_libevent *a;
	struct seen slow = { 0 }, quick = { 0 };
	json_t *p;
	int left = 2;

	base = event_base_new();
	c = sbk_connect_async(d.sock, HX_TIMEOUT_MS, &err);
	ck_assert_ptr_nonnull(c);
	a = sbk_libevent_attach(c, base);
	slow.left = quick.left = &left;
	slow.base = quick.base = base;
	p = json_pack("{s:i}", "ms", 30000);
	ck_assert(
	    sbk_call_async(c, "sleep", p, 200, on_reply, &slow, &err) > 0);
	json_decref(p);
	ck_assert(sbk_call_async(c, "ping", NULL, HX_TIMEOUT_MS, on_reply,
		      &quick, &err) > 0);
	run_until_done(base, &left);
	ck_assert_int_eq(slow.errors, 1);
	ck_assert_int_eq(slow.kind, SBK_ERR_TIMEOUT);
	ck_assert_int_eq(quick.results, 1);
	sbk_libevent_detach(a);
	sbk_close(c);
	event_base_free(base);
}
END_TEST

/* sbk_close ends every pending request with SBK_ERR_CLOSED. */
START_TEST(test_close_tells_pending)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct seen s[3];
	json_t *p;
	int i;

	memset(s, 0, sizeof(s));
	c = sbk_connect_async(d.sock, HX_TIMEOUT_MS, &err);
	ck_assert_ptr_nonnull(c);
	p = json_pack("{s:i}", "ms", 30000);
	for (i = 0; i < 3; i++)
		ck_assert(sbk_call_async(
			      c, "sleep", p, -1, on_reply, &s[i], &err) > 0);
	json_decref(p);
	sbk_close(c);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(s[i].errors, 1);
		ck_assert_int_eq(s[i].kind, SBK_ERR_CLOSED);
	}
}
END_TEST

/* A blocking sbk_call that reads an async reply hands it on. */
START_TEST(test_mixed_blocking_and_async)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct seen s = { 0 };
	json_t *p, *res;

	c = sbk_connect_async(d.sock, HX_TIMEOUT_MS, &err);
	ck_assert_ptr_nonnull(c);
	ck_assert(sbk_call_async(
		      c, "ping", NULL, HX_TIMEOUT_MS, on_reply, &s, &err) > 0);
	p = json_pack("{s:i}", "ms", 50);
	res = sbk_call(c, "sleep", p, HX_TIMEOUT_MS, &err);
	json_decref(p);
	ck_assert_msg(res != NULL, "sleep: %s", err.message);
	json_decref(res);
	ck_assert_int_eq(s.results, 1);
	sbk_close(c);
}
END_TEST

/* A full queue answers -32000; with retries the request gets through. */
START_TEST(test_retry_overloaded)
{
	struct sbk_error err = { 0 };
	struct event_base *base;
	struct sbk_client *c;
	struct sbk_libevent *a;
	struct seen s[4];
	json_t *p;
	int i, left = 4;

	hx_daemon_up(&d, TEST_CONF "[pool]\nio_workers = 1\nqueue_max = 1\n");
	memset(s, 0, sizeof(s));
	base = event_base_new();
	c = sbk_connect_async(d.sock, HX_TIMEOUT_MS, &err);
	ck_assert_ptr_nonnull(c);
	sbk_set_retries(c, 100);
	a = sbk_libevent_attach(c, base);
	p = json_pack("{s:i}", "ms", 100);
	for (i = 0; i < 4; i++) {
		s[i].left = &left;
		s[i].base = base;
		ck_assert(sbk_call_async(c, "sleep", p, HX_TIMEOUT_MS, on_reply,
			      &s[i], &err) > 0);
	}
	json_decref(p);
	run_until_done(base, &left);
	for (i = 0; i < 4; i++)
		ck_assert_msg(s[i].results == 1, "request %d: error %d", i + 1,
		    s[i].code);
	sbk_libevent_detach(a);
	sbk_close(c);
	event_base_free(base);
}
END_TEST

/* A batch goes out as one array; its reply is split to each callback. */
START_TEST(test_batch_split)
{
	struct sbk_error err = { 0 };
	struct event_base *base;
	struct sbk_client *c;
	struct sbk_libevent *a;
	struct seen s[4];
	json_t *p, *bad;
	int i, left = 4;

	memset(s, 0, sizeof(s));
	base = event_base_new();
	c = sbk_connect_async(d.sock, HX_TIMEOUT_MS, &err);
	ck_assert_ptr_nonnull(c);
	a = sbk_libevent_attach(c, base);
	p = json_pack("{s:i}", "ms", 20);
	bad = json_pack("{s:s}", "ms", "soon");
	for (i = 0; i < 4; i++)
		s[i].left = &left, s[i].base = base;
	sbk_batch_begin(c);
	ck_assert(sbk_call_async(c, "ping", NULL, HX_TIMEOUT_MS, on_reply,
		      &s[0], &err) > 0);
	ck_assert(sbk_call_async(
		      c, "sleep", p, HX_TIMEOUT_MS, on_reply, &s[1], &err) > 0);
	ck_assert(sbk_call_async(c, "sleep", bad, HX_TIMEOUT_MS, on_reply,
		      &s[2], &err) > 0);
	ck_assert(sbk_call_async(c, "stats", NULL, HX_TIMEOUT_MS, on_reply,
		      &s[3], &err) > 0);
	ck_assert_int_eq(sbk_events(c) & SBK_EV_WRITE, 0); /* held */
	ck_assert_int_eq(sbk_batch_end(c, &err), 0);
	json_decref(p);
	json_decref(bad);
	run_until_done(base, &left);
	ck_assert_int_eq(s[0].results, 1);
	ck_assert_int_eq(s[1].results, 1);
	ck_assert_int_eq(s[2].errors, 1);
	ck_assert_int_eq(s[2].code, -32602);
	ck_assert_int_eq(s[3].results, 1);
	ck_assert_uint_eq(sbk_stray_replies(c), 0);
	sbk_libevent_detach(a);
	sbk_close(c);
	event_base_free(base);
}
END_TEST

/* Progress notifications reach the request's own callback. */
START_TEST(test_progress_to_callback)
{
	struct sbk_error err = { 0 };
	struct event_base *base;
	struct sbk_client *c;
	struct sbk_libevent *a;
	struct seen s = { 0 };
	char in[400], out[400];
	json_t *p;
	FILE *f;
	unsigned x = 7;
	int i, left = 1;

	snprintf(in, sizeof(in), "%s/big.txt", d.dir);
	snprintf(out, sizeof(out), "%s/big.txt.zst", d.dir);
	f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	/* Words from a small random alphabet: about a second for zstd at level 9. */
	for (i = 0; i < 3000000; i++) {
		x = x * 1103515245u + 12345u;
		fputc(
		    (x >> 16) % 7 == 0 ? ' ' : 'a' + (int)((x >> 20) % 26), f);
	}
	fclose(f);
	base = event_base_new();
	c = sbk_connect_async(d.sock, HX_TIMEOUT_MS, &err);
	ck_assert_ptr_nonnull(c);
	a = sbk_libevent_attach(c, base);
	s.left = &left;
	s.base = base;
	p = json_pack("{s:s, s:s, s:i, s:b}", "path", in, "out_path", out,
	    "level", 9, "progress", 1);
	ck_assert(
	    sbk_call_async(c, "zstd.compress", p, -1, on_reply, &s, &err) > 0);
	json_decref(p);
	run_until_done(base, &left);
	ck_assert_msg(s.results == 1, "error %d", s.code);
	ck_assert_msg(s.notes >= 1, "no progress notification");
	sbk_libevent_detach(a);
	sbk_close(c);
	event_base_free(base);
}
END_TEST

/* A daemon whose roots are its temporary directory. */
static void
setup_roots(void)
{
	FILE *f;

	hx_daemon_init(&d, NULL);
	f = fopen(d.conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s[files]\nread_roots = %s\nwrite_roots = %s\n", TEST_CONF,
	    d.dir, d.dir);
	fclose(f);
	hx_daemon_start(&d);
}

static Suite *
async_suite(void)
{
	Suite *s = suite_create("async");
	TCase *tc = tcase_create("libevent");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_libevent_pipeline_1000);
	tcase_add_test(tc, test_request_timeout);
	tcase_add_test(tc, test_close_tells_pending);
	tcase_add_test(tc, test_mixed_blocking_and_async);
	tcase_add_test(tc, test_batch_split);
	suite_add_tcase(s, tc);
	tc = tcase_create("progress");
	tcase_add_checked_fixture(tc, setup_roots, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_progress_to_callback);
	suite_add_tcase(s, tc);
	tc = tcase_create("overload");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_retry_overloaded);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (hx_run_suite(async_suite()));
}
