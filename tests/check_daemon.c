/*
 * check_daemon.c - integration tests of sbkd's protocol handling against
 * the wire contract (shared/contract.md): ping and stats, NDJSON framing
 * and its limits, the JSON-RPC 2.0 envelope, ids, methods and params,
 * notifications, batches, the duplicate in-flight id rule and the test
 * methods switch.  Every test starts its own sbkd on a temporary socket
 * (harness.h) and runs in Check's fork mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"
#include "heap.h"

/* The configuration most tests use: small and with the test methods. */
#define CONF_TEST                      \
	"[daemon]\n"                   \
	"enable_test_methods = true\n" \
	"max_request_bytes = 1024\n"   \
	"[pool]\n"                     \
	"cpu_workers = 2\n"            \
	"io_workers = 3\n"             \
	"queue_max = 64\n"             \
	"max_inflight_per_conn = 4\n"

static struct hx_daemon d;

static void
teardown(void)
{
	hx_daemon_free(&d);
}

/* Send one line and expect an error with this code and id. */
static void
expect_error_line(struct hx_conn *c, const char *line, const char *id, int code)
{
	json_t *r;

	r = hx_call(c, line);
	hx_expect_error(r, id, code);
	json_decref(r);
}

static void
expect_param_line(
    struct hx_conn *c, const char *line, const char *id, const char *param)
{
	json_t *r;

	r = hx_call(c, line);
	hx_expect_param_error(r, id, param);
	json_decref(r);
}

/* A ping with this id answers pong: proves the connection still works. */
static void
expect_pong(struct hx_conn *c, const char *id)
{
	json_t *r, *res;

	r = hx_callf(
	    c, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}", id);
	res = hx_expect_result(r, id);
	ck_assert_msg(json_is_true(json_object_get(res, "pong")),
	    "ping result is not {\"pong\":true}");
	json_decref(r);
}

/* --- ping and stats --- */

START_TEST(test_ping)
{
	struct hx_conn *c;
	json_t *r, *res;

	hx_daemon_up(&d, NULL);
	c = hx_connect(&d);
	r = hx_call(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	res = hx_expect_result(r, "1");
	ck_assert(json_is_object(res));
	ck_assert(json_is_true(json_object_get(res, "pong")));
	json_decref(r);
	/* params {} is a valid empty params object. */
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\","
	    "\"params\":{}}");
	hx_expect_result(r, "2");
	json_decref(r);
	hx_close(c);
}
END_TEST

START_TEST(test_reply_is_one_compact_line)
{
	struct hx_conn *c;
	char *line;

	hx_daemon_up(&d, NULL);
	c = hx_connect(&d);
	hx_send_line(c,
	    "{ \"jsonrpc\" : \"2.0\" , \"id\" : 5 , "
	    "\"method\" : \"ping\" }");
	line = hx_read_line(c);
	/* Compact JSON: no space outside strings, no \r. */
	ck_assert_msg(strchr(line, ' ') == NULL && strchr(line, '\r') == NULL,
	    "reply is not compact: %s", line);
	free(line);
	hx_close(c);
}
END_TEST

START_TEST(test_stats_keys)
{
	static const char *const keys[] = {
		"connections",
		"queue.depth",
		"queue.max",
		"jobs.accepted",
		"jobs.completed",
		"jobs.failed",
		"jobs.rejected",
		"jobs.cancelled",
		"jobs.timed_out",
		"workers.cpu.size",
		"workers.cpu.busy",
		"workers.io.size",
		"workers.io.busy",
		"loop.lag_max_us",
	};
	json_t *st;
	size_t i;

	hx_daemon_up(&d, CONF_TEST);
	st = hx_stats(&d);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(hx_int_at(st, keys[i]) >= 0, "%s < 0", keys[i]);
	ck_assert_int_eq(hx_int_at(st, "queue.max"), 64);
	ck_assert_int_eq(hx_int_at(st, "queue.depth"), 0);
	ck_assert_int_eq(hx_int_at(st, "workers.cpu.size"), 2);
	ck_assert_int_eq(hx_int_at(st, "workers.io.size"), 3);
	ck_assert_int_eq(hx_int_at(st, "workers.cpu.busy"), 0);
	ck_assert_int_eq(hx_int_at(st, "workers.io.busy"), 0);
	/* The stats connection itself is open. */
	ck_assert_int_ge(hx_int_at(st, "connections"), 1);
	/* Counters run from start: nothing was submitted. */
	ck_assert_int_eq(hx_int_at(st, "jobs.accepted"), 0);
	ck_assert_int_eq(hx_int_at(st, "jobs.rejected"), 0);
	json_decref(st);
}
END_TEST

START_TEST(test_stats_defaults)
{
	json_t *st;

	/* No config keys: the contract's defaults. */
	hx_daemon_up(&d, NULL);
	st = hx_stats(&d);
	ck_assert_int_eq(hx_int_at(st, "queue.max"), 4096);
	ck_assert_int_eq(hx_int_at(st, "workers.io.size"), 16);
	/* cpu_workers 0 means online CPUs: at least one. */
	ck_assert_int_ge(hx_int_at(st, "workers.cpu.size"), 1);
	json_decref(st);
}
END_TEST

START_TEST(test_stats_counts_connections)
{
	struct hx_conn *sc, *c[3];
	json_t *st;
	int i;

	hx_daemon_up(&d, CONF_TEST);
	sc = hx_connect(&d);
	/* The harness's readiness probe may not be counted out yet. */
	st = hx_wait_stat(sc, "connections", 1);
	json_decref(st);
	for (i = 0; i < 3; i++) {
		c[i] = hx_connect(&d);
		expect_pong(c[i], "1");
	}
	st = hx_stats_on(sc);
	ck_assert_int_eq(hx_int_at(st, "connections"), 4);
	json_decref(st);
	for (i = 0; i < 3; i++)
		hx_close(c[i]);
	/* Closed connections are counted out. */
	st = hx_wait_stat(sc, "connections", 1);
	json_decref(st);
	hx_close(sc);
}
END_TEST

/*
 * The idle heap trim (daemon/heap.c): none on a daemon that ran no job,
 * however often it is asked for stats; exactly one once a burst of jobs
 * is over; none again until new jobs come.
 */
START_TEST(test_heap_trim_after_jobs)
{
	struct hx_conn *c;
	json_t *st, *r;
	char id[16];
	int i;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	st = hx_stats_on(c);
	ck_assert_int_gt(hx_int_at(st, "memory.rss_kib"), 0);
	ck_assert_int_eq(hx_int_at(st, "memory.heap_trims"), 0);
	json_decref(st);
	/* Three quiet ticks, polled: control calls are not activity. */
	for (i = 0; i < 6; i++) {
		hx_msleep(HEAP_TICK_MS / 2);
		st = hx_stats_on(c);
		ck_assert_int_eq(hx_int_at(st, "memory.heap_trims"), 0);
		json_decref(st);
	}
	for (i = 0; i < 40; i++)
		hx_sendf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,"
		    "\"method\":\"spin\",\"params\":{\"ms\":1}}\n",
		    i);
	for (i = 0; i < 40; i++) {
		r = hx_read_json(c);
		snprintf(id, sizeof(id), "%d",
		    (int)json_integer_value(json_object_get(r, "id")));
		hx_expect_result(r, id);
		json_decref(r);
	}
	st = hx_wait_stat(c, "memory.heap_trims", 1);
	json_decref(st);
	/* Once per quiet spell. */
	hx_msleep(3 * HEAP_TICK_MS);
	st = hx_stats_on(c);
	ck_assert_int_eq(hx_int_at(st, "memory.heap_trims"), 1);
	json_decref(st);
	hx_close(c);
}
END_TEST

/* --- framing --- */

START_TEST(test_crlf_and_blank_lines)
{
	struct hx_conn *c;
	json_t *r;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	/* Empty lines, lines of blanks and a bare \r\n are ignored. */
	hx_send_str(c,
	    "\n\n   \n\t \t\n\r\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n"
	    "\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
	r = hx_read_json(c);
	hx_expect_result(r, "1");
	json_decref(r);
	r = hx_read_json(c);
	hx_expect_result(r, "2");
	json_decref(r);
	ck_assert_msg(hx_quiet_for(c, 200), "a blank line was answered");
	hx_close(c);
}
END_TEST

START_TEST(test_request_split_across_writes)
{
	struct hx_conn *c;
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":\"split\","
			  "\"method\":\"ping\"}\n";
	json_t *r;
	size_t i;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	for (i = 0; req[i] != '\0'; i++) {
		hx_send(c, req + i, 1);
		if (i % 8 == 0)
			hx_msleep(2);
	}
	r = hx_read_json(c);
	hx_expect_result(r, "\"split\"");
	json_decref(r);
	hx_close(c);
}
END_TEST

START_TEST(test_pipelined_pings)
{
	struct hx_conn *c;
	char *buf, seen[200];
	size_t len = 0;
	json_t *r;
	int i;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	buf = malloc(200 * 64);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < 200; i++)
		len += (size_t)sprintf(buf + len,
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}\n", i);
	hx_send(c, buf, len);
	free(buf);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 200; i++) {
		json_int_t id;

		r = hx_read_json(c);
		ck_assert(json_is_object(json_object_get(r, "result")));
		id = json_integer_value(json_object_get(r, "id"));
		ck_assert(id >= 0 && id < 200);
		ck_assert_msg(!seen[id], "id %d answered twice", (int)id);
		seen[id] = 1;
		json_decref(r);
	}
	hx_close(c);
}
END_TEST

/* A ping padded with spaces to exactly len bytes (without terminator). */
static char *
padded_ping(const char *id, size_t len)
{
	char *s;
	size_t head;

	s = malloc(len + 1);
	ck_assert_ptr_nonnull(s);
	head = (size_t)snprintf(s, len + 1,
	    "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"", id);
	ck_assert(head + 1 <= len);
	memset(s + head, ' ', len - head - 1);
	s[len - 1] = '}';
	s[len] = '\0';
	return (s);
}

START_TEST(test_line_at_limit_accepted)
{
	struct hx_conn *c;
	char *line;
	json_t *r;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	/* 1024 bytes exactly: not over max_request_bytes = 1024. */
	line = padded_ping("1", 1024);
	hx_send_line(c, line);
	r = hx_read_json(c);
	hx_expect_result(r, "1");
	json_decref(r);
	/* The terminator does not count, \r\n included. */
	hx_send_str(c, line);
	hx_send_str(c, "\r\n");
	r = hx_read_json(c);
	hx_expect_result(r, "1");
	json_decref(r);
	free(line);
	hx_close(c);
}
END_TEST

START_TEST(test_line_over_limit)
{
	struct hx_conn *c;
	char *line;
	json_t *r, *err;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	line = padded_ping("1", 1025);
	hx_send_line(c, line);
	free(line);
	r = hx_read_json(c);
	err = hx_expect_error(r, "null", -32600);
	ck_assert_int_eq(hx_int_at(err, "data.limit"), 1024);
	json_decref(r);
	/* The connection is still usable. */
	expect_pong(c, "2");
	ck_assert_msg(hx_quiet_for(c, 100), "more than one reply");
	hx_close(c);
}
END_TEST

START_TEST(test_huge_line_one_error)
{
	struct hx_conn *c;
	size_t len = 3 * 1024 * 1024, off;
	char *buf;
	json_t *r;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	/* 3 MiB without a newline, sent in pieces, then a ping. */
	buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	memset(buf, 'x', len);
	buf[0] = '{';
	for (off = 0; off < len; off += 65536)
		hx_send(c, buf + off, len - off < 65536 ? len - off : 65536);
	free(buf);
	hx_send_str(
	    c, "\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
	r = hx_read_json(c);
	hx_expect_error(r, "null", -32600);
	json_decref(r);
	r = hx_read_json(c);
	hx_expect_result(r, "2");
	json_decref(r);
	ck_assert_msg(hx_quiet_for(c, 100), "more than one error reply");
	hx_close(c);
}
END_TEST

START_TEST(test_large_valid_line)
{
	struct hx_conn *c;
	char *line;
	json_t *r;

	/* Default max_request_bytes (4 MiB): a 300 KiB request is fine. */
	hx_daemon_up(&d, NULL);
	c = hx_connect(&d);
	line = padded_ping("\"big\"", 300 * 1024);
	hx_send_line(c, line);
	free(line);
	r = hx_read_json(c);
	hx_expect_result(r, "\"big\"");
	json_decref(r);
	expect_pong(c, "2");
	hx_close(c);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const char *const lines[] = {
		"{\"jsonrpc\":",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"",
		"not json",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} trailing",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",}",
		"{'jsonrpc':'2.0'}",
		/* invalid UTF-8: a lone continuation byte, an overlong form,
		 * a truncated sequence, a surrogate encoded in UTF-8 */
		"{\"jsonrpc\":\"2.0\",\"id\":\"\x80\",\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"\xc0\xaf\",\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"\xe2\x82\",\"method\":\"ping\"}",
		("{\"jsonrpc\":\"2.0\",\"id\":\"\xed\xa0\x80\",\"method\":"
		 "\"ping\"}"),
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\xff\"}",
	};
	struct hx_conn *c;
	size_t i;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		expect_error_line(c, lines[i], "null", -32700);
		/* Still usable after each one. */
		expect_pong(c, "100");
	}
	hx_close(c);
}
END_TEST

START_TEST(test_final_line_without_newline)
{
	struct hx_conn *c;
	json_t *r;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	hx_send_str(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	hx_shutdown_wr(c);
	r = hx_read_json(c);
	hx_expect_result(r, "1");
	json_decref(r);
	r = hx_read_json(c);
	hx_expect_result(r, "2");
	json_decref(r);
	/* Then the server closes. */
	ck_assert_msg(hx_wait_eof(c), "no EOF after end of input");
	hx_close(c);
}
END_TEST

START_TEST(test_eof_with_sleep_in_flight)
{
	struct hx_conn *c;
	json_t *r;

	/* End of input is not a disconnect: the job runs and is answered. */
	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	hx_send_str(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":200}}");
	hx_shutdown_wr(c);
	r = hx_read_json(c);
	ck_assert_int_ge(hx_int_at(hx_expect_result(r, "1"), "slept_ms"), 200);
	json_decref(r);
	ck_assert_msg(hx_wait_eof(c), "no EOF after end of input");
	hx_close(c);
}
END_TEST

/* --- envelope --- */

struct bad_req {
	const char *line;
	const char *id; /* the id the error must carry */
	int code;
};

START_TEST(test_envelope_errors)
{
	static const struct bad_req cases[] = {
		/* not an object */
		{ "\"hello\"", "null", -32600 },
		{ "5", "null", -32600 },
		{ "null", "null", -32600 },
		{ "true", "null", -32600 },
		/* jsonrpc missing or wrong; readable id echoed */
		{ "{\"id\":1,\"method\":\"ping\"}", "1", -32600 },
		{ "{\"jsonrpc\":\"1.0\",\"id\":2,\"method\":\"ping\"}", "2",
		    -32600 },
		{ "{\"jsonrpc\":2.0,\"id\":3,\"method\":\"ping\"}", "3",
		    -32600 },
		{ "{\"jsonrpc\":null,\"id\":4,\"method\":\"ping\"}", "4",
		    -32600 },
		/* method missing or not a string */
		{ "{\"jsonrpc\":\"2.0\",\"id\":5}", "5", -32600 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":5}", "6", -32600 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":null}", "7",
		    -32600 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":[\"ping\"]}",
		    "\"s\"", -32600 },
		/* invalid and no id: answered anyway, id null (JSON-RPC 5.1) */
		{ "{\"jsonrpc\":\"2.0\",\"method\":5}", "null", -32600 },
		{ "{\"method\":\"ping\"}", "null", -32600 },
		{ "{}", "null", -32600 },
		/* envelope errors rank before an unknown method */
		{ "{\"jsonrpc\":\"1.0\",\"id\":8,\"method\":\"no.such\"}", "8",
		    -32600 },
	};
	struct hx_conn *c;
	size_t i;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error_line(c, cases[i].line, cases[i].id, cases[i].code);
	expect_pong(c, "100");
	hx_close(c);
}
END_TEST

/* --- ids --- */

START_TEST(test_ids_echoed)
{
	static const char *const ids[] = {
		"0",
		"-1",
		"42",
		"9223372036854775807",
		"-9223372036854775808",
		"\"\"",
		"\"abc\"",
		"\"caf\\u00e9 \\u4e2d\\u6587 \\ud83d\\ude00\"",
		"\"caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\"",
		("\"quote \\\" backslash \\\\ slash \\/ nl \\n tab \\t "
		 "cr \\r bs \\b ff \\f ctl \\u0001 \\u001f\""),
		"\"\\u2028\\u2029 \\uffff \\ufeff\"",
		"\"12\"",
		"\"null\"",
	};
	struct hx_conn *c;
	json_t *r;
	size_t i;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		r = hx_callf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"method\":\"ping\"}",
		    ids[i]);
		hx_expect_result(r, ids[i]);
		json_decref(r);
		/* The same ids on errors. */
		r = hx_callf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"method\":\"no.such.method\"}",
		    ids[i]);
		hx_expect_error(r, ids[i], -32601);
		json_decref(r);
	}
	hx_close(c);
}
END_TEST

START_TEST(test_id_int64_exact_text)
{
	struct hx_conn *c;
	char *line;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	hx_send_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,"
	    "\"method\":\"ping\"}");
	line = hx_read_line(c);
	ck_assert_msg(strstr(line, "\"id\":9223372036854775807") != NULL,
	    "id not echoed exactly: %s", line);
	free(line);
	hx_send_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,"
	    "\"method\":\"ping\"}");
	line = hx_read_line(c);
	ck_assert_msg(strstr(line, "\"id\":-9223372036854775808") != NULL,
	    "id not echoed exactly: %s", line);
	free(line);
	hx_close(c);
}
END_TEST

START_TEST(test_id_with_nul)
{
	struct hx_conn *c;
	json_t *r;

	/* "any Unicode" includes U+0000. */
	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"a\\u0000b\","
	    "\"method\":\"ping\"}");
	hx_expect_result(r, "\"a\\u0000b\"");
	json_decref(r);
	hx_close(c);
}
END_TEST

START_TEST(test_ids_invalid)
{
	static const char *const ids[] = {
		"1.5",
		"1.0",
		"1e3",
		"-0.0",
		"1E2",
		"null",
		"true",
		"false",
		"{}",
		"{\"a\":1}",
		"[]",
		"[1]",
	};
	struct hx_conn *c;
	json_t *r;
	size_t i;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		r = hx_callf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"method\":\"ping\"}",
		    ids[i]);
		hx_expect_error(r, "null", -32600);
		json_decref(r);
	}
	expect_pong(c, "1");
	hx_close(c);
}
END_TEST

START_TEST(test_id_beyond_int64)
{
	static const char *const ids[] = {
		"9223372036854775808",
		"-9223372036854775809",
		"100000000000000000000000",
	};
	struct hx_conn *c;
	json_t *r, *jc;
	size_t i;
	char *text;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		r = hx_callf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"method\":\"ping\"}",
		    ids[i]);
		/* -32600 or -32700, id null either way. */
		jc = hx_get_path(r, "error.code");
		text = hx_dump(r);
		ck_assert_msg(json_is_integer(jc) &&
			(json_integer_value(jc) == -32600 ||
			    json_integer_value(jc) == -32700),
		    "id %s: %s", ids[i], text);
		free(text);
		hx_expect_error(r, "null", (int)json_integer_value(jc));
		json_decref(r);
	}
	expect_pong(c, "1");
	hx_close(c);
}
END_TEST

/* --- methods and params --- */

START_TEST(test_unknown_method)
{
	struct hx_conn *c;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"no.such\"}",
	    "1", -32601);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,"
	    "\"method\":\"\"}",
	    "2", -32601);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,"
	    "\"method\":\"PING\"}",
	    "3", -32601);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,"
	    "\"method\":\"ping \"}",
	    "4", -32601);
	/* The method error ranks before a params error. */
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":5,"
	    "\"method\":\"no.such\",\"params\":[1]}",
	    "5", -32601);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":6,"
	    "\"method\":\"no.such\",\"params\":{\"timeout_ms\":-1}}",
	    "6", -32601);
	hx_close(c);
}
END_TEST

/*
 * A method name is the whole string: a NUL inside it does not end it
 * (issue 12, item 5).
 */
START_TEST(test_nul_in_names)
{
	struct hx_conn *c;
	json_t *r, *res;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"ping\\u0000evil\"}",
	    "1", -32601);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,"
	    "\"method\":\"job.cancel\\u0000x\",\"params\":{\"id\":7}}",
	    "2", -32601);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,"
	    "\"method\":\"ping\\u0000\"}",
	    "3", -32601);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,"
	    "\"method\":\"\\u0000\"}",
	    "4", -32601);
	/* The same methods without the NUL still work. */
	expect_pong(c, "5");
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":6,"
	    "\"method\":\"job.cancel\",\"params\":{\"id\":7}}");
	res = hx_expect_result(r, "6");
	ck_assert(json_is_false(json_object_get(res, "cancelled")));
	json_decref(r);
	/* A member name with a NUL is not JSON we accept (jansson's rule). */
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\","
	    "\"params\":{\"timeout_ms\\u0000x\":5}}",
	    "null", -32700);
	hx_close(c);
}
END_TEST

START_TEST(test_params_not_object)
{
	/* "[]" is refused too, except by the methods without params. */
	static const char *const params[] = {
		"[1,2]",
		"\"x\"",
		"5",
		"true",
		"null",
	};
	static const char *const methods[] = {
		"ping",
		"stats",
		"job.cancel",
		"sleep",
		"spin",
	};
	struct hx_conn *c;
	json_t *r;
	size_t i, j;
	char id[32];

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++)
		for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
			snprintf(id, sizeof(id), "%zu", j * 100 + i);
			r = hx_callf(c,
			    "{\"jsonrpc\":\"2.0\",\"id\":%s,"
			    "\"method\":\"%s\",\"params\":%s}",
			    id, methods[j], params[i]);
			hx_expect_error(r, id, -32602);
			json_decref(r);
		}
	hx_close(c);
}
END_TEST

/*
 * Contract 1.3: a method without params (ping, stats) takes them absent,
 * {} or [] (JSON-RPC libraries that always send an array); a non-empty
 * array is -32602 naming params, and [] is still refused by the methods
 * that take params.  The same on the fast path, the JSON path (spaces,
 * a member order the scanner does not take) and inside a batch.
 */
START_TEST(test_params_empty_array)
{
	static const char *const empty[] = {
		"[]",
		"[ ]",
		" [\t] ",
		"{}",
	};
	static const char *const full[] = {
		"[1]",
		"[{}]",
		"[[]]",
		"[null]",
	};
	static const char *const takes_params[] = {
		"job.cancel",
		"sleep",
		"spin",
	};
	struct hx_conn *c;
	json_t *r, *res;
	size_t i;
	char id[32];

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		snprintf(id, sizeof(id), "%zu", i);
		r = hx_callf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"method\":\"ping\",\"params\":%s}",
		    id, empty[i]);
		res = hx_expect_result(r, id);
		ck_assert(json_is_true(json_object_get(res, "pong")));
		json_decref(r);
		/* params first: the request scanner's slow path. */
		snprintf(id, sizeof(id), "%zu", 100 + i);
		r = hx_callf(c,
		    "{\"params\":%s,\"method\":\"stats\","
		    "\"id\":%s,\"jsonrpc\":\"2.0\"}",
		    empty[i], id);
		res = hx_expect_result(r, id);
		ck_assert(json_is_integer(json_object_get(res, "connections")));
		json_decref(r);
	}
	for (i = 0; i < sizeof(full) / sizeof(full[0]); i++) {
		snprintf(id, sizeof(id), "%zu", 200 + i);
		r = hx_callf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"method\":\"ping\",\"params\":%s}",
		    id, full[i]);
		hx_expect_param_error(r, id, "params");
		json_decref(r);
	}
	for (i = 0; i < sizeof(takes_params) / sizeof(takes_params[0]); i++) {
		snprintf(id, sizeof(id), "%zu", 300 + i);
		r = hx_callf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,"
		    "\"method\":\"%s\",\"params\":[]}",
		    id, takes_params[i]);
		hx_expect_param_error(r, id, "params");
		json_decref(r);
	}
	/* A batch of a ping with [] and a ping with [1]. */
	hx_send_line(c,
	    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	    "\"params\":[]},"
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\","
	    "\"params\":[1]}]");
	r = hx_read_json(c);
	ck_assert_msg(json_is_array(r) && json_array_size(r) == 2,
	    "batch reply is not an array of 2");
	{
		json_t *items[2] = { json_array_get(r, 0),
			json_array_get(r, 1) };

		res = hx_expect_result(hx_by_id(items, 2, "1"), "1");
		ck_assert(json_is_true(json_object_get(res, "pong")));
		hx_expect_param_error(hx_by_id(items, 2, "2"), "2", "params");
	}
	json_decref(r);
	/* A notification with [] is run and not answered. */
	hx_send_line(
	    c, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"params\":[]}");
	ck_assert(hx_quiet_for(c, 200));
	expect_pong(c, "9");
	hx_close(c);
}
END_TEST

START_TEST(test_unknown_param_member)
{
	struct hx_conn *c;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	expect_param_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	    "\"params\":{\"foo\":1}}",
	    "1", "foo");
	expect_param_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,"
	    "\"method\":\"stats\",\"params\":{\"verbose\":true}}",
	    "2", "verbose");
	expect_param_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,"
	    "\"method\":\"sleep\",\"params\":{\"ms\":1,\"bogus\":2}}",
	    "3", "bogus");
	expect_param_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,"
	    "\"method\":\"spin\",\"params\":{\"ms\":1,\"x\":null}}",
	    "4", "x");
	expect_param_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":5,"
	    "\"method\":\"job.cancel\",\"params\":{\"id\":1,\"why\":\"x\"}}",
	    "5", "why");
	hx_close(c);
}
END_TEST

START_TEST(test_common_params)
{
	static const char *const methods[] = {
		"ping",
		"stats",
		"job.cancel",
		"sleep",
	};
	static const char *const bad_timeout[] = {
		"0",
		"-1",
		"\"100\"",
		"1.5",
		"null",
		"true",
		"{}",
	};
	static const char *const bad_progress[] = {
		"1",
		"0",
		"\"yes\"",
		"null",
		"[]",
	};
	struct hx_conn *c;
	const char *extra;
	json_t *r;
	size_t i, j;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++) {
		extra = strcmp(methods[j], "job.cancel") == 0 ? ",\"id\":999" :
		    strcmp(methods[j], "sleep") == 0	      ? ",\"ms\":0" :
								"";
		for (i = 0; i < sizeof(bad_timeout) / sizeof(bad_timeout[0]);
		     i++) {
			r = hx_callf(c,
			    "{\"jsonrpc\":\"2.0\",\"id\":1,"
			    "\"method\":\"%s\",\"params\":{\"timeout_ms\":%s%s}"
			    "}",
			    methods[j], bad_timeout[i], extra);
			hx_expect_param_error(r, "1", "timeout_ms");
			json_decref(r);
		}
		for (i = 0; i < sizeof(bad_progress) / sizeof(bad_progress[0]);
		     i++) {
			r = hx_callf(c,
			    "{\"jsonrpc\":\"2.0\",\"id\":2,"
			    "\"method\":\"%s\",\"params\":{\"progress\":%s%s}}",
			    methods[j], bad_progress[i], extra);
			hx_expect_param_error(r, "2", "progress");
			json_decref(r);
		}
		/* Valid values are accepted (and ignored where unused). */
		r = hx_callf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":3,"
		    "\"method\":\"%s\",\"params\":{\"timeout_ms\":5000,"
		    "\"progress\":true%s}}",
		    methods[j], extra);
		hx_expect_result(r, "3");
		json_decref(r);
		r = hx_callf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":4,"
		    "\"method\":\"%s\",\"params\":{\"progress\":false%s}}",
		    methods[j], extra);
		hx_expect_result(r, "4");
		json_decref(r);
	}
	hx_close(c);
}
END_TEST

START_TEST(test_sleep_spin_params)
{
	static const char *const bad_ms[] = {
		"-1",
		"600001",
		"\"10\"",
		"1.5",
		"null",
		"true",
	};
	static const char *const methods[] = { "sleep", "spin" };
	struct hx_conn *c;
	json_t *r;
	size_t i, j;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	for (j = 0; j < 2; j++)
		for (i = 0; i < sizeof(bad_ms) / sizeof(bad_ms[0]); i++) {
			r = hx_callf(c,
			    "{\"jsonrpc\":\"2.0\",\"id\":1,"
			    "\"method\":\"%s\",\"params\":{\"ms\":%s}}",
			    methods[j], bad_ms[i]);
			hx_expect_param_error(r, "1", "ms");
			json_decref(r);
		}
	hx_close(c);
}
END_TEST

START_TEST(test_sleep_and_spin)
{
	struct hx_conn *c;
	json_t *r, *res;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":60}}");
	res = hx_expect_result(r, "1");
	ck_assert_int_ge(hx_int_at(res, "slept_ms"), 60);
	json_decref(r);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"spin\","
	    "\"params\":{\"ms\":30}}");
	res = hx_expect_result(r, "2");
	ck_assert_int_ge(hx_int_at(res, "spun_ms"), 30);
	json_decref(r);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"sleep\","
	    "\"params\":{\"ms\":0}}");
	res = hx_expect_result(r, "3");
	ck_assert_int_ge(hx_int_at(res, "slept_ms"), 0);
	json_decref(r);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"spin\","
	    "\"params\":{\"ms\":0}}");
	hx_expect_result(r, "4");
	json_decref(r);
	hx_close(c);
}
END_TEST

START_TEST(test_test_methods_disabled)
{
	struct hx_conn *c;

	/* Default: enable_test_methods = false. */
	hx_daemon_up(&d, "[daemon]\nenable_test_methods = false\n");
	c = hx_connect(&d);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":1}}",
	    "1", -32601);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"spin\","
	    "\"params\":{\"ms\":1}}",
	    "2", -32601);
	hx_close(c);
	hx_daemon_stop(&d);
	hx_daemon_free(&d);

	hx_daemon_up(&d, NULL);
	c = hx_connect(&d);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"sleep\","
	    "\"params\":{\"ms\":1}}",
	    "3", -32601);
	expect_error_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"spin\"}", "4", -32601);
	hx_close(c);
}
END_TEST

START_TEST(test_job_cancel_params)
{
	struct hx_conn *c;
	json_t *r;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	/* id of the job to cancel is required and must be a valid id. */
	expect_param_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"job.cancel\"}",
	    "1", "id");
	expect_param_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,"
	    "\"method\":\"job.cancel\",\"params\":{}}",
	    "2", "id");
	expect_param_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,"
	    "\"method\":\"job.cancel\",\"params\":{\"id\":1.5}}",
	    "3", "id");
	expect_param_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,"
	    "\"method\":\"job.cancel\",\"params\":{\"id\":[1]}}",
	    "4", "id");
	/* Unknown ids are not an error. */
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"job.cancel\","
	    "\"params\":{\"id\":\"nope\"}}");
	ck_assert(json_is_false(
	    json_object_get(hx_expect_result(r, "5"), "cancelled")));
	json_decref(r);
	hx_close(c);
}
END_TEST

/* --- notifications --- */

START_TEST(test_notifications)
{
	struct hx_conn *c;
	json_t *r, *st;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	hx_send_str(c,
	    /* valid notifications: never answered, even when they fail */
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"stats\",\"params\":{}}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"no.such\"}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"params\":[1]}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\","
	    "\"params\":{\"bogus\":1}}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"sleep\",\"params\":{\"ms\":10}}"
	    "\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":\"after\",\"method\":\"ping\"}\n");
	r = hx_read_json(c);
	hx_expect_result(r, "\"after\"");
	json_decref(r);
	ck_assert_msg(hx_quiet_for(c, 300), "a notification was answered");

	/* The sleep notification was executed (admitted to a pool). */
	st = hx_stats(&d);
	ck_assert_int_eq(hx_int_at(st, "jobs.accepted"), 1);
	json_decref(st);
	hx_close(c);
}
END_TEST

/* --- batches --- */

/* Read one reply that must be an array; returns it. */
static json_t *
read_array(struct hx_conn *c, size_t n)
{
	json_t *r;
	char *text;

	r = hx_read_json(c);
	text = hx_dump(r);
	ck_assert_msg(json_is_array(r), "expected a batch reply: %s", text);
	ck_assert_msg(json_array_size(r) == n,
	    "expected %zu replies in the batch: %s", n, text);
	free(text);
	return (r);
}

/* The member of a batch reply with this id (compact text), or fail. */
static json_t *
member(json_t *arr, const char *id_json)
{
	json_t *m;
	size_t i;
	char *id, *text;

	json_array_foreach(arr, i, m) {
		id = hx_reply_id(m);
		if (strcmp(id, id_json) == 0) {
			free(id);
			return (m);
		}
		free(id);
	}
	text = hx_dump(arr);
	ck_abort_msg("no reply with id %s in %s", id_json, text);
	return (NULL);
}

START_TEST(test_batch_mixed)
{
	struct hx_conn *c;
	json_t *arr, *m;
	size_t i, nulls = 0;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	hx_send_line(c,
	    "["
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"sleep\","
	    "\"params\":{\"ms\":50}},"
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"no.such\"}"
	    "]");
	arr = read_array(c, 3);
	hx_expect_result(member(arr, "1"), "1");
	hx_expect_result(member(arr, "\"s\""), "\"s\"");
	hx_expect_error(member(arr, "3"), "3", -32601);
	json_decref(arr);

	/* Invalid members are answered with id null. */
	hx_send_line(c,
	    "[1,{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"},"
	    "\"x\"]");
	arr = read_array(c, 3);
	hx_expect_result(member(arr, "4"), "4");
	json_array_foreach(arr, i, m) {
		if (json_is_null(json_object_get(m, "id"))) {
			hx_expect_error(m, "null", -32600);
			nulls++;
		}
	}
	ck_assert_int_eq(nulls, 2);
	json_decref(arr);
	expect_pong(c, "9");
	hx_close(c);
}
END_TEST

START_TEST(test_batch_empty)
{
	struct hx_conn *c;
	json_t *r;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	r = hx_call(c, "[]");
	/* A single error object, not an array. */
	hx_expect_error(r, "null", -32600);
	json_decref(r);
	r = hx_call(c, "  [ ]  ");
	hx_expect_error(r, "null", -32600);
	json_decref(r);
	expect_pong(c, "1");
	hx_close(c);
}
END_TEST

START_TEST(test_batch_only_notifications)
{
	struct hx_conn *c;
	json_t *r;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	hx_send_line(c,
	    "[{\"jsonrpc\":\"2.0\",\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"sleep\",\"params\":{\"ms\":5}}"
	    "]");
	hx_send_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"next\","
	    "\"method\":\"ping\"}");
	r = hx_read_json(c);
	hx_expect_result(r, "\"next\"");
	json_decref(r);
	ck_assert_msg(
	    hx_quiet_for(c, 200), "a notification batch was answered");
	hx_close(c);
}
END_TEST

START_TEST(test_batch_limit)
{
	struct hx_conn *c;
	json_t *r;

	/* max_inflight_per_conn = 4 in CONF_TEST. */
	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	/* Exactly 4: fine. */
	hx_send_line(c,
	    "["
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}]");
	r = read_array(c, 4);
	json_decref(r);
	/* 5: one -32600 object, id null. */
	r = hx_call(c,
	    "["
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}]");
	hx_expect_error(r, "null", -32600);
	json_decref(r);
	/* The limit counts every member, notifications included. */
	r = hx_call(c,
	    "["
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}]");
	hx_expect_error(r, "null", -32600);
	json_decref(r);
	/* ... and invalid members. */
	r = hx_call(c, "[1,2,3,4,5]");
	hx_expect_error(r, "null", -32600);
	json_decref(r);
	expect_pong(c, "6");
	hx_close(c);
}
END_TEST

START_TEST(test_batch_duplicate_ids)
{
	struct hx_conn *c;
	json_t *arr, *m;
	size_t i, ok = 0, dup = 0;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	hx_send_line(c,
	    "["
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"sleep\","
	    "\"params\":{\"ms\":50}},"
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}]");
	arr = read_array(c, 2);
	json_array_foreach(arr, i, m) {
		if (json_object_get(m, "result") != NULL) {
			/* The first member keeps its own reply. */
			ck_assert_int_ge(
			    hx_int_at(hx_expect_result(m, "7"), "slept_ms"),
			    50);
			ok++;
		} else {
			hx_expect_error(m, "7", -32600);
			dup++;
		}
	}
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(dup, 1);
	json_decref(arr);

	/* Inline methods too: the later duplicate is -32600. */
	hx_send_line(c,
	    "["
	    "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"ping\"}]");
	arr = read_array(c, 2);
	ok = dup = 0;
	json_array_foreach(arr, i, m) {
		if (json_object_get(m, "result") != NULL) {
			hx_expect_result(m, "\"x\"");
			ok++;
		} else {
			hx_expect_error(m, "\"x\"", -32600);
			dup++;
		}
	}
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(dup, 1);
	json_decref(arr);
	hx_close(c);
}
END_TEST

START_TEST(test_batch_waits_for_all)
{
	struct hx_conn *c;
	json_t *arr;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	/* One array reply, written when the slowest member ends. */
	hx_send_line(c,
	    "["
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":150}},"
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"spin\","
	    "\"params\":{\"ms\":10}},"
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}]");
	arr = read_array(c, 3);
	ck_assert_int_ge(
	    hx_int_at(hx_expect_result(member(arr, "1"), "1"), "slept_ms"),
	    150);
	hx_expect_result(member(arr, "2"), "2");
	hx_expect_result(member(arr, "3"), "3");
	json_decref(arr);
	ck_assert_msg(hx_quiet_for(c, 100), "more than one batch reply");
	hx_close(c);
}
END_TEST

/* --- duplicate in-flight id --- */

START_TEST(test_duplicate_inflight_id)
{
	struct hx_conn *c;
	json_t *r;

	hx_daemon_up(&d, CONF_TEST);
	c = hx_connect(&d);
	hx_send_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"sleep\","
	    "\"params\":{\"ms\":500}}");
	hx_send_line(
	    c, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\"}");
	/* The duplicate is refused with its id ... */
	r = hx_read_json(c);
	hx_expect_error(r, "\"a\"", -32600);
	json_decref(r);
	/* ... and the earlier request keeps its own reply. */
	r = hx_read_json(c);
	ck_assert_int_ge(
	    hx_int_at(hx_expect_result(r, "\"a\""), "slept_ms"), 500);
	json_decref(r);
	/* Once answered, the id is free again. */
	expect_pong(c, "\"a\"");
	/* Integer and string ids are different ids. */
	hx_send_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":100}}");
	expect_pong(c, "\"1\"");
	r = hx_read_json(c);
	hx_expect_result(r, "1");
	json_decref(r);
	hx_close(c);
}
END_TEST

START_TEST(test_same_id_other_connection)
{
	struct hx_conn *a, *b;
	json_t *r;

	/* The rule is per connection. */
	hx_daemon_up(&d, CONF_TEST);
	a = hx_connect(&d);
	b = hx_connect(&d);
	hx_send_line(a,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":200}}");
	hx_send_line(b,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":10}}");
	r = hx_read_json(b);
	hx_expect_result(r, "1");
	json_decref(r);
	r = hx_read_json(a);
	hx_expect_result(r, "1");
	json_decref(r);
	hx_close(a);
	hx_close(b);
}
END_TEST

static Suite *
daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc;

	tc = tcase_create("basics");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_ping);
	tcase_add_test(tc, test_reply_is_one_compact_line);
	tcase_add_test(tc, test_stats_keys);
	tcase_add_test(tc, test_stats_defaults);
	tcase_add_test(tc, test_stats_counts_connections);
	tcase_add_test(tc, test_heap_trim_after_jobs);
	suite_add_tcase(s, tc);

	tc = tcase_create("framing");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_crlf_and_blank_lines);
	tcase_add_test(tc, test_request_split_across_writes);
	tcase_add_test(tc, test_pipelined_pings);
	tcase_add_test(tc, test_line_at_limit_accepted);
	tcase_add_test(tc, test_line_over_limit);
	tcase_add_test(tc, test_huge_line_one_error);
	tcase_add_test(tc, test_large_valid_line);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_final_line_without_newline);
	tcase_add_test(tc, test_eof_with_sleep_in_flight);
	suite_add_tcase(s, tc);

	tc = tcase_create("envelope");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_envelope_errors);
	tcase_add_test(tc, test_ids_echoed);
	tcase_add_test(tc, test_id_int64_exact_text);
	tcase_add_test(tc, test_id_with_nul);
	tcase_add_test(tc, test_ids_invalid);
	tcase_add_test(tc, test_id_beyond_int64);
	tcase_add_test(tc, test_duplicate_inflight_id);
	tcase_add_test(tc, test_same_id_other_connection);
	suite_add_tcase(s, tc);

	tc = tcase_create("methods");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_unknown_method);
	tcase_add_test(tc, test_nul_in_names);
	tcase_add_test(tc, test_params_not_object);
	tcase_add_test(tc, test_params_empty_array);
	tcase_add_test(tc, test_unknown_param_member);
	tcase_add_test(tc, test_common_params);
	tcase_add_test(tc, test_sleep_spin_params);
	tcase_add_test(tc, test_sleep_and_spin);
	tcase_add_test(tc, test_test_methods_disabled);
	tcase_add_test(tc, test_job_cancel_params);
	tcase_add_test(tc, test_notifications);
	suite_add_tcase(s, tc);

	tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_batch_mixed);
	tcase_add_test(tc, test_batch_empty);
	tcase_add_test(tc, test_batch_only_notifications);
	tcase_add_test(tc, test_batch_limit);
	tcase_add_test(tc, test_batch_duplicate_ids);
	tcase_add_test(tc, test_batch_waits_for_all);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return hx_run_suite(daemon_suite());
}
