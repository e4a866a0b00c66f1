/*
 * check_client.c - libsbk against a real sbkd (started by the harness on
 * a temporary socket, test methods enabled): blocking calls, error
 * replies with code/message/data, pipelining with replies matched by id,
 * client-side timeouts, raw lines, batches, notifications, replies kept
 * across sbk_call for sbk_recv, and a daemon killed mid-call.
 *
 * Thread safety: each test runs in its own forked process; the one test
 * that needs a second thread (to kill the daemon) joins it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"
#include "sbk-client.h"

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

/* A daemon whose read and write roots are its temporary directory. */
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

static struct sbk_client *
connect_ok(void)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;

	c = sbk_connect(d.sock, &err);
	ck_assert_msg(c != NULL, "connect: %s", err.message);
	return (c);
}

START_TEST(test_call_ping)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *res;

	c = connect_ok();
	res = sbk_call(c, "ping", NULL, HX_TIMEOUT_MS, &err);
	ck_assert_msg(res != NULL, "ping: %s", err.message);
	ck_assert(json_is_true(json_object_get(res, "pong")));
	json_decref(res);
	ck_assert_int_eq(err.kind, SBK_ERR_NONE);
	sbk_close(c);
}
END_TEST

START_TEST(test_default_socket_env)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *res;

	setenv("SBK_SOCKET", d.sock, 1);
	ck_assert_str_eq(sbk_default_socket(), d.sock);
	c = sbk_connect(NULL, &err);
	ck_assert_msg(c != NULL, "connect: %s", err.message);
	res = sbk_call(c, "ping", NULL, HX_TIMEOUT_MS, &err);
	ck_assert_ptr_nonnull(res);
	json_decref(res);
	sbk_close(c);
	unsetenv("SBK_SOCKET");
	ck_assert_str_ne(sbk_default_socket(), d.sock);
}
END_TEST

START_TEST(test_connect_fails)
{
	struct sbk_error err = { 0 };
	char path[400];

	snprintf(path, sizeof(path), "%s/no-such.sock", d.dir);
	ck_assert_ptr_null(sbk_connect(path, &err));
	ck_assert_int_eq(err.kind, SBK_ERR_CONNECT);
	ck_assert_int_eq(err.sys_errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(err.message, "no-such.sock"));
	sbk_error_clear(&err);
}
END_TEST

START_TEST(test_error_replies)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *params;

	c = connect_ok();
	ck_assert_ptr_null(
	    sbk_call(c, "no.such.method", NULL, HX_TIMEOUT_MS, &err));
	ck_assert_int_eq(err.kind, SBK_ERR_RPC);
	ck_assert_int_eq(err.code, -32601);
	ck_assert(err.message[0] != '\0');

	/* The error struct is reused: the previous data must be released. */
	params = json_pack("{s:i}", "ms", -1);
	ck_assert_ptr_null(sbk_call(c, "sleep", params, HX_TIMEOUT_MS, &err));
	json_decref(params);
	ck_assert_int_eq(err.kind, SBK_ERR_RPC);
	ck_assert_int_eq(err.code, -32602);
	ck_assert_ptr_nonnull(err.data);
	ck_assert_str_eq(
	    json_string_value(json_object_get(err.data, "param")), "ms");
	sbk_error_clear(&err);
	ck_assert_ptr_null(err.data);

	/* The connection is still usable after error replies. */
	params = json_pack("{s:i}", "ms", 1);
	json_decref(sbk_call(c, "sleep", params, HX_TIMEOUT_MS, &err));
	ck_assert_int_eq(err.kind, SBK_ERR_NONE);
	json_decref(params);
	sbk_close(c);
}
END_TEST

/*
 * Many sends, then every reply collected and matched by id.  Sleep
 * lengths differ so replies come out of order; 300 is past the default
 * max_inflight_per_conn (128), so the daemon stops reading and sends
 * block while libsbk buffers incoming replies.
 */
START_TEST(test_pipeline)
{
	enum { N = 300 };
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	json_t *params;
	int64_t ids[N], id;
	int seen[N + 1], i, got, rc;
	bool out_of_order = false;
	int64_t last = 0;

	c = connect_ok();
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < N; i++) {
		params = json_pack("{s:i}", "ms", (i * 7) % 23);
		ids[i] = sbk_send(c, "sleep", params, &err);
		json_decref(params);
		ck_assert_msg(ids[i] > 0, "send %d: %s", i, err.message);
		if (i > 0)
			ck_assert(ids[i] == ids[i - 1] + 1);
	}
	for (got = 0; got < N; got++) {
		rc = sbk_recv(c, &r, HX_TIMEOUT_MS, &err);
		ck_assert_msg(
		    rc == 1, "recv %d: rc %d %s", got, rc, err.message);
		ck_assert_int_eq(r.kind, SBK_MSG_RESULT);
		ck_assert(r.int_id);
		id = r.id_num;
		ck_assert(id >= ids[0] && id <= ids[N - 1]);
		i = (int)(id - ids[0]);
		ck_assert_int_eq(seen[i], 0);
		seen[i] = 1;
		ck_assert_int_ge(
		    json_integer_value(json_object_get(r.result, "slept_ms")),
		    (i * 7) % 23);
		if (id < last)
			out_of_order = true;
		last = id;
		sbk_reply_clear(&r);
	}
	ck_assert_msg(out_of_order, "replies came strictly in order");
	/* Nothing more. */
	ck_assert_int_eq(sbk_recv(c, &r, 100, &err), 0);
	sbk_close(c);
}
END_TEST

/*
 * A send timeout of 0 with a socket that fills: every sbk_send keeps
 * its id (the request waits in libsbk's buffer, whole) and every
 * request is answered.  Before, most of 400 such sends failed while
 * still being sent, and their callers never learnt the ids.
 */
START_TEST(test_send_timeout_zero_keeps_ids)
{
	enum { N = 400 };
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	int64_t id;
	int i, got, sndbuf = 4096;

	c = connect_ok();
	ck_assert_int_eq(setsockopt(sbk_fd(c), SOL_SOCKET, SO_SNDBUF, &sndbuf,
			     sizeof(sndbuf)),
	    0);
	sbk_set_send_timeout(c, 0);
	for (i = 0; i < N; i++) {
		id = sbk_send(c, "ping", NULL, &err);
		ck_assert_msg(id == i + 1, "send %d: %lld (%s)", i,
		    (long long)id, err.message);
	}
	for (got = 0; got < N; got++) {
		ck_assert_int_eq(sbk_recv(c, &r, HX_TIMEOUT_MS, &err), 1);
		ck_assert_int_eq(r.kind, SBK_MSG_RESULT);
		sbk_reply_clear(&r);
	}
	ck_assert_uint_eq(sbk_in_flight(c), 0);
	sbk_close(c);
}
END_TEST

START_TEST(test_caller_ids)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	json_t *sid, *iid;
	int i, rc, strings = 0, ints = 0;

	c = connect_ok();
	sid = json_string("caller-\xc3\xa9");
	iid = json_integer(-9007199254740993LL);
	ck_assert_int_eq(sbk_send_id(c, sid, "ping", NULL, &err), 0);
	ck_assert_int_eq(sbk_send_id(c, iid, "ping", NULL, &err), 0);
	for (i = 0; i < 2; i++) {
		rc = sbk_recv(c, &r, HX_TIMEOUT_MS, &err);
		ck_assert_int_eq(rc, 1);
		ck_assert_int_eq(r.kind, SBK_MSG_RESULT);
		if (json_is_string(r.id)) {
			ck_assert(json_equal(r.id, sid));
			strings++;
		} else {
			ck_assert(r.int_id);
			ck_assert(r.id_num == -9007199254740993LL);
			ints++;
		}
		sbk_reply_clear(&r);
	}
	ck_assert_int_eq(strings, 1);
	ck_assert_int_eq(ints, 1);
	/* Neither an object nor a float is an id. */
	json_decref(iid);
	iid = json_real(1.5);
	ck_assert_int_eq(sbk_send_id(c, iid, "ping", NULL, &err), -1);
	ck_assert_int_eq(err.kind, SBK_ERR_USAGE);
	json_decref(iid);
	json_decref(sid);
	sbk_close(c);
}
END_TEST

START_TEST(test_timeout)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *params, *res;
	long long t0, took;

	c = connect_ok();
	params = json_pack("{s:i}", "ms", 500);
	t0 = hx_now_ms();
	res = sbk_call(c, "sleep", params, 50, &err);
	took = hx_now_ms() - t0;
	json_decref(params);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(err.kind, SBK_ERR_TIMEOUT);
	ck_assert_msg(took < 450, "timeout took %lld ms", took);

	/*
	 * The late reply (or its -32002 after the cancel libsbk sends) is
	 * dropped: the next call gets its own answer.
	 */
	res = sbk_call(c, "ping", NULL, HX_TIMEOUT_MS, &err);
	ck_assert_msg(res != NULL, "ping after timeout: %s", err.message);
	ck_assert(json_is_true(json_object_get(res, "pong")));
	json_decref(res);
	params = json_pack("{s:i}", "ms", 600);
	res = sbk_call(c, "sleep", params, HX_TIMEOUT_MS, &err);
	json_decref(params);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_ge(
	    json_integer_value(json_object_get(res, "slept_ms")), 600);
	json_decref(res);
	sbk_close(c);
}
END_TEST

START_TEST(test_recv_timeout)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	json_t *params;

	c = connect_ok();
	params = json_pack("{s:i}", "ms", 300);
	ck_assert(sbk_send(c, "sleep", params, &err) > 0);
	json_decref(params);
	ck_assert_int_eq(sbk_recv(c, &r, 0, &err), 0);
	ck_assert_int_eq(sbk_recv(c, &r, 30, &err), 0);
	ck_assert_int_eq(sbk_recv(c, &r, HX_TIMEOUT_MS, &err), 1);
	ck_assert_int_eq(r.kind, SBK_MSG_RESULT);
	sbk_reply_clear(&r);
	sbk_close(c);
}
END_TEST

/* A pipelined reply that arrives during sbk_call waits for sbk_recv. */
START_TEST(test_call_keeps_pipelined)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	json_t *params, *res;
	int64_t id;

	c = connect_ok();
	params = json_pack("{s:i}", "ms", 10);
	id = sbk_send(c, "sleep", params, &err);
	json_decref(params);
	params = json_pack("{s:i}", "ms", 200);
	res = sbk_call(c, "sleep", params, HX_TIMEOUT_MS, &err);
	json_decref(params);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_ge(
	    json_integer_value(json_object_get(res, "slept_ms")), 200);
	json_decref(res);
	ck_assert(sbk_pending(c));
	ck_assert_int_eq(sbk_recv(c, &r, 0, &err), 1);
	ck_assert(r.int_id && r.id_num == id);
	ck_assert_int_eq(r.kind, SBK_MSG_RESULT);
	sbk_reply_clear(&r);
	sbk_close(c);
}
END_TEST

START_TEST(test_raw_batch_and_errors)
{
	static const char batch[] =
	    "[{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"nope\"}]";
	static const char notification[] =
	    "{\"jsonrpc\":\"2.0\",\"method\":\"sleep\",\"params\":{\"ms\":1}}";
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	json_t *res;

	c = connect_ok();
	/* A batch: one array reply with the two non-notification members. */
	ck_assert_int_eq(sbk_send_raw(c, batch, strlen(batch), &err), 0);
	ck_assert_int_eq(sbk_recv(c, &r, HX_TIMEOUT_MS, &err), 1);
	ck_assert_int_eq(r.kind, SBK_MSG_BATCH);
	ck_assert_int_eq(json_array_size(r.msg), 2);
	sbk_reply_clear(&r);

	/* Garbage: -32700 with id null, and the connection stays usable. */
	ck_assert_int_eq(sbk_send_raw(c, "{nope\n", 6, &err), 0);
	ck_assert_int_eq(sbk_recv(c, &r, HX_TIMEOUT_MS, &err), 1);
	ck_assert_int_eq(r.kind, SBK_MSG_ERROR);
	ck_assert(json_is_null(r.id));
	ck_assert_int_eq(r.error.code, -32700);
	sbk_reply_clear(&r);

	/* A notification is never answered; the next call is. */
	ck_assert_int_eq(
	    sbk_send_raw(c, notification, strlen(notification), &err), 0);
	ck_assert_int_eq(sbk_recv(c, &r, 200, &err), 0);
	res = sbk_call(c, "ping", NULL, HX_TIMEOUT_MS, &err);
	ck_assert_ptr_nonnull(res);
	json_decref(res);
	sbk_close(c);
}
END_TEST

static void *
killer(void *arg)
{
	hx_msleep(200);
	hx_daemon_kill(&d);
	return (NULL);
}

START_TEST(test_daemon_killed)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	pthread_t t;
	json_t *params, *res;
	long long t0, took;

	c = connect_ok();
	params = json_pack("{s:i}", "ms", 5000);
	ck_assert_int_eq(pthread_create(&t, NULL, killer, NULL), 0);
	t0 = hx_now_ms();
	res = sbk_call(c, "sleep", params, HX_TIMEOUT_MS, &err);
	took = hx_now_ms() - t0;
	pthread_join(t, NULL);
	ck_assert_ptr_null(res);
	ck_assert_msg(
	    err.kind == SBK_ERR_CLOSED, "kind %d: %s", err.kind, err.message);
	ck_assert_msg(took < 4000, "noticed after %lld ms", took);

	/* Later sends and receives fail cleanly too, without SIGPIPE. */
	res = sbk_call(c, "sleep", params, 1000, &err);
	ck_assert_ptr_null(res);
	ck_assert_msg(
	    err.kind == SBK_ERR_CLOSED, "kind %d: %s", err.kind, err.message);
	json_decref(params);
	sbk_close(c);
}
END_TEST

START_TEST(test_shutdown_write)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	json_t *params;

	c = connect_ok();
	params = json_pack("{s:i}", "ms", 100);
	ck_assert(sbk_send(c, "sleep", params, &err) > 0);
	json_decref(params);
	ck_assert_int_eq(sbk_shutdown_write(c, &err), 0);
	/* End of input is not a disconnect: the job is still answered. */
	ck_assert_int_eq(sbk_recv(c, &r, HX_TIMEOUT_MS, &err), 1);
	ck_assert_int_eq(r.kind, SBK_MSG_RESULT);
	sbk_reply_clear(&r);
	ck_assert_int_eq(sbk_recv(c, &r, HX_TIMEOUT_MS, &err), -1);
	ck_assert_int_eq(err.kind, SBK_ERR_CLOSED);
	sbk_close(c);
}
END_TEST

struct progress_seen {
	int count;
	long long last_done;
	long long total;
	bool bad;
};

static void
progress_cb(const char *method, const json_t *params, void *arg)
{
	struct progress_seen *p = arg;
	long long done;

	if (strcmp(method, "progress") != 0) {
		p->bad = true;
		return;
	}
	done = json_integer_value(json_object_get(params, "done"));
	p->total = json_integer_value(json_object_get(params, "total"));
	if (done < p->last_done || done > p->total)
		p->bad = true;
	p->last_done = done;
	p->count++;
}

/* Write n pseudo-random (incompressible, so slow at level 19) bytes. */
static char *
random_file(const char *name, size_t n)
{
	char *path;
	FILE *f;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i;

	ck_assert(asprintf(&path, "%s/%s", d.dir, name) > 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (i = 0; i < n; i += sizeof(x)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		fwrite(&x, sizeof(x), 1, f);
	}
	fclose(f);
	return (path);
}

/*
 * Progress notifications of a path-mode job go to the callback inside
 * sbk_call; without a callback sbk_recv returns them as notifications.
 */
START_TEST(test_progress)
{
	enum { SIZE = 2 * 1024 * 1024 };
	struct progress_seen seen = { 0 };
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	json_t *params, *res;
	char *in, *out;
	int notes = 0, rc;

	in = random_file("in.bin", SIZE);
	ck_assert(asprintf(&out, "%s/out.zst", d.dir) > 0);
	params = json_pack("{s:s, s:s, s:i, s:b, s:b}", "path", in, "out_path",
	    out, "level", 19, "progress", 1, "overwrite", 1);
	c = connect_ok();
	sbk_set_notify_cb(c, progress_cb, &seen);
	res = sbk_call(c, "zstd.compress", params, 60000, &err);
	ck_assert_msg(res != NULL, "compress: %s", err.message);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(res, "bytes_in")), SIZE);
	json_decref(res);
	ck_assert_msg(seen.count > 0, "no progress notification");
	ck_assert(!seen.bad);
	ck_assert_int_eq(seen.total, SIZE);

	sbk_set_notify_cb(c, NULL, NULL);
	ck_assert(sbk_send(c, "zstd.compress", params, &err) > 0);
	for (;;) {
		rc = sbk_recv(c, &r, 60000, &err);
		ck_assert_msg(rc == 1, "recv: %s", err.message);
		if (r.kind != SBK_MSG_NOTIFICATION)
			break;
		ck_assert_str_eq(r.method, "progress");
		ck_assert(json_is_integer(json_object_get(r.params, "done")));
		notes++;
		sbk_reply_clear(&r);
	}
	ck_assert_int_eq(r.kind, SBK_MSG_RESULT);
	sbk_reply_clear(&r);
	ck_assert_int_gt(notes, 0);
	json_decref(params);
	sbk_close(c);
	free(in);
	free(out);
}
END_TEST

static Suite *
client_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("client");
	tc = tcase_create("libsbk");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_call_ping);
	tcase_add_test(tc, test_default_socket_env);
	tcase_add_test(tc, test_connect_fails);
	tcase_add_test(tc, test_error_replies);
	tcase_add_test(tc, test_pipeline);
	tcase_add_test(tc, test_caller_ids);
	tcase_add_test(tc, test_send_timeout_zero_keeps_ids);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_recv_timeout);
	tcase_add_test(tc, test_call_keeps_pipelined);
	tcase_add_test(tc, test_raw_batch_and_errors);
	tcase_add_test(tc, test_daemon_killed);
	tcase_add_test(tc, test_shutdown_write);
	suite_add_tcase(s, tc);
	tc = tcase_create("progress");
	tcase_add_checked_fixture(tc, setup_roots, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_progress);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return hx_run_suite(client_suite());
}
