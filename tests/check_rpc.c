/*
 * check_rpc.c - unit tests of the JSON-RPC codec (proto/rpc_*.c): line
 * parsing (invalid JSON and UTF-8, NUL in strings, 64-bit ids), every
 * envelope error and the order they are reported in, the exact bytes of
 * ids and reply lines, the error table and setters, and the client's
 * reply check.  The JSON writer of rpc_format.c is compared with
 * json_dumps (its oracle) on a table, on every byte in strings and on
 * generated values.
 *
 * Single-threaded; runs under Check's fork mode.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "rpc.h"

static json_t *
parse_ok(const char *line)
{
	struct rpc_error err = { 0 };
	json_t *v;

	v = rpc_parse_line(line, strlen(line), &err);
	ck_assert_msg(v != NULL, "\"%s\": %s", line, err.message);
	ck_assert_int_eq(err.code, 0);
	return v;
}

/* ------------------------------------------------------------------ */

static const char *const parse_bad[] = {
	"",
	"{",
	"{\"a\":}",
	"{} x",
	"{}{}",
	"[1,]",
	"{'a':1}",
	"{\"a\":\"\xff\"}",		/* invalid UTF-8 */
	"{\"a\":\"\xc0\xaf\"}",		/* overlong */
	"{\"a\":\"\xed\xa0\x80\"}",	/* encoded surrogate */
	"{\"a\":\"\\ud800\"}",		/* lone surrogate escape */
	"{\"a\":\"x\ny\"}",		/* raw control character */
	"{\"id\":9223372036854775808}", /* past int64 */
	"{\"id\":-9223372036854775809}",
	"nul",
	"NaN",
	/* jansson refuses NUL in member names, so "id\u0000x" never aliases. */
	"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"m\",\"id\\u0000x\":1}",
};

START_TEST(test_parse_bad)
{
	struct rpc_error err = { 0 };
	const char *line = parse_bad[_i];

	ck_assert_ptr_null(rpc_parse_line(line, strlen(line), &err));
	ck_assert_int_eq(err.code, RPC_PARSE_ERROR);
	ck_assert_msg(
	    strncmp(err.message, "Parse error", 11) == 0, "%s", err.message);
	ck_assert_ptr_null(err.data);
}
END_TEST

START_TEST(test_parse_nul)
{
	struct rpc_error err = { 0 };
	const char raw[] = "{\"a\":\"x\0y\"}";
	json_t *v, *s;

	/* U+0000 escaped is fine and kept... */
	v = parse_ok("{\"a\":\"x\\u0000y\"}");
	s = json_object_get(v, "a");
	ck_assert_uint_eq(json_string_length(s), 3);
	ck_assert_mem_eq(json_string_value(s), "x\0y", 3);
	json_decref(v);
	/* ...but a raw NUL byte in the line is not JSON. */
	ck_assert_ptr_null(rpc_parse_line(raw, sizeof(raw) - 1, &err));
	ck_assert_int_eq(err.code, RPC_PARSE_ERROR);
}
END_TEST

START_TEST(test_parse_len)
{
	struct rpc_error err = { 0 };
	json_t *v;

	/* Only len bytes are read: the '\n' after it is not part of it. */
	v = rpc_parse_line("[1]\nxyz", 3, &err);
	ck_assert_ptr_nonnull(v);
	json_decref(v);
	/* Scalars are JSON: the envelope check refuses them, not the parser. */
	v = parse_ok("1");
	json_decref(v);
	v = parse_ok("  {\"x\":\"\xc3\xa9\xf0\x9f\x98\x80\"}\t");
	json_decref(v);
}
END_TEST

/* ------------------------------------------------------------------ */

static const struct req_case {
	const char *line;
	bool ok;
	const char *id;	 /* rpc_id_dump of the answer's id */
	const char *msg; /* substring of the message */
} req_cases[] = {
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", true, "1",
	    NULL },
	{ "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}", true, "null", NULL },
	{ "{\"method\":\"a.b\",\"params\":{\"x\":1},\"id\":\"q\",\"jsonrpc\":"
	  "\"2.0\"}",
	    true, "\"q\"", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"\"}", true, "\"\"",
	    NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,\"method\":\"m\"}",
	    true, "9223372036854775807", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"method\":\"m\"}",
	    true, "-9223372036854775808", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0000\\u00e9\",\"method\":\"m\"}",
	    true, "\"\\u0000\xc3\xa9\"", NULL },
	/* params are the method's business: any type passes here. */
	{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\",\"params\":[1]}",
	    true, "2", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\",\"params\":null}",
	    true, "2", NULL },

	/* Not an object. */
	{ "1", false, "null", "not a JSON object" },
	{ "\"x\"", false, "null", "not a JSON object" },
	{ "null", false, "null", "not a JSON object" },
	{ "[]", false, "null", "not a JSON object" },

	/* Bad ids: answered with id null. */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"m\"}", false, "null",
	    "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1e3,\"method\":\"m\"}", false, "null",
	    "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"m\"}", false, "null",
	    "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}", false, "null",
	    "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"m\"}", false, "null",
	    "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":false,\"method\":\"m\"}", false, "null",
	    "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"m\"}", false, "null",
	    "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"m\"}", false, "null",
	    "id" },

	/* jsonrpc: answered with the readable id. */
	{ "{\"id\":7,\"method\":\"m\"}", false, "7", "jsonrpc" },
	{ "{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"m\"}", false, "7",
	    "jsonrpc" },
	{ "{\"jsonrpc\":\"2.00\",\"id\":7,\"method\":\"m\"}", false, "7",
	    "jsonrpc" },
	{ "{\"jsonrpc\":2.0,\"id\":7,\"method\":\"m\"}", false, "7",
	    "jsonrpc" },
	{ "{\"jsonrpc\":\"2.0\\u0000\",\"id\":7,\"method\":\"m\"}", false, "7",
	    "jsonrpc" },
	{ "{\"jsonrpc\":null,\"method\":\"m\"}", false, "null", "jsonrpc" },

	/* method. */
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"a\"}", false, "\"a\"", "method" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":1}", false, "\"a\"",
	    "method" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":null}", false, "\"a\"",
	    "method" },
	{ "{\"jsonrpc\":\"2.0\",\"method\":[\"m\"]}", false, "null", "method" },

	/* Unknown members, named. */
	{ "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"m\",\"parms\":{}}", false,
	    "3", "unknown member \"parms\"" },
	{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"ID\":3}", false, "null",
	    "unknown member \"ID\"" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"m\",\"result\":1}", false,
	    "3", "unknown member \"result\"" },

	/* Order: id, then jsonrpc, then method, then members. */
	{ "{\"id\":null,\"jsonrpc\":\"1.0\",\"parms\":1}", false, "null",
	    "id" },
	{ "{\"id\":1,\"jsonrpc\":\"1.0\",\"parms\":1}", false, "1", "jsonrpc" },
	{ "{\"id\":1,\"jsonrpc\":\"2.0\",\"parms\":1}", false, "1", "method" },
};

START_TEST(test_request)
{
	const struct req_case *c = &req_cases[_i];
	struct rpc_error err = { 0 };
	struct rpc_request req;
	const json_t *err_id = (const json_t *)1;
	json_t *msg = parse_ok(c->line);
	char *id;
	bool ok;

	ok = rpc_request_parse(msg, &req, &err_id, &err);
	ck_assert_msg(ok == c->ok, "%s: %s", c->line, err.message);
	if (ok) {
		ck_assert_int_eq(err.code, 0);
		ck_assert_ptr_nonnull(req.method);
		ck_assert_ptr_eq(req.params, json_object_get(msg, "params"));
		id = rpc_id_dump(req.id);
	} else {
		ck_assert_int_eq(err.code, RPC_INVALID_REQUEST);
		ck_assert_ptr_null(err.data);
		ck_assert_msg(strstr(err.message, c->msg) != NULL,
		    "%s: message \"%s\" lacks \"%s\"", c->line, err.message,
		    c->msg);
		ck_assert_msg(strncmp(err.message, "Invalid request", 15) == 0,
		    "%s", err.message);
		id = rpc_id_dump(err_id);
	}
	ck_assert_msg(
	    strcmp(id, c->id) == 0, "%s: id %s, want %s", c->line, id, c->id);
	free(id);
	rpc_error_clear(&err);
	json_decref(msg);
}
END_TEST

/* A long unknown member name is cut on a UTF-8 boundary. */
START_TEST(test_request_long_member)
{
	struct rpc_error err = { 0 };
	struct rpc_request req;
	const json_t *err_id;
	json_t *msg = json_pack("{s:s,s:s}", "jsonrpc", "2.0", "method", "m");
	char key[400];
	size_t n = 0;

	while (n + 2 < sizeof(key)) {
		memcpy(key + n, "\xc3\xa9", 2); /* é */
		n += 2;
	}
	key[n] = '\0';
	json_object_set_new(msg, key, json_true());
	ck_assert(!rpc_request_parse(msg, &req, &err_id, &err));
	ck_assert_ptr_null(err_id);
	ck_assert_ptr_nonnull(strstr(err.message, "\xc3\xa9\""));
	ck_assert_ptr_null(strstr(err.message, "\xc3\""));
	json_decref(msg);
}
END_TEST

START_TEST(test_id_valid_dump)
{
	json_t *v;
	char *a, *b;

	ck_assert(!rpc_id_valid(NULL));
	ck_assert(!rpc_id_valid(json_null()));
	ck_assert(!rpc_id_valid(json_true()));
	v = json_real(1.0);
	ck_assert(!rpc_id_valid(v));
	json_decref(v);

	a = rpc_id_dump(NULL);
	ck_assert_str_eq(a, "null");
	free(a);
	a = rpc_id_dump(json_null());
	ck_assert_str_eq(a, "null");
	free(a);

	/* The same id spelt two ways gives the same key. */
	v = parse_ok("[\"\\u00e9\\\"/\",\"\xc3\xa9\\u0022\\/\",-0,0]");
	a = rpc_id_dump(json_array_get(v, 0));
	b = rpc_id_dump(json_array_get(v, 1));
	ck_assert_str_eq(a, "\"\xc3\xa9\\\"/\"");
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	a = rpc_id_dump(json_array_get(v, 2));
	b = rpc_id_dump(json_array_get(v, 3));
	ck_assert_str_eq(a, "0");
	ck_assert_str_eq(b, "0");
	free(a);
	free(b);
	json_decref(v);

	v = json_stringn("a\0b\n", 4);
	a = rpc_id_dump(v);
	ck_assert_str_eq(a, "\"a\\u0000b\\n\"");
	free(a);
	json_decref(v);
}
END_TEST

/* ------------------------------------------------------------------ */

static void
check_line(char *line, size_t len, const char *want)
{
	ck_assert_ptr_nonnull(line);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_mem_eq(line, want, len);
	ck_assert_int_eq(line[len], '\0');
	free(line);
}

START_TEST(test_format_result)
{
	json_t *r;
	char *line;
	size_t len;

	r = parse_ok("{\"a\":1,\"b\":[true,null,\"\xc3\xa9\"],\"c\":{}}");
	line = rpc_format_result("1", r, &len);
	check_line(line, len,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
	    "{\"a\":1,\"b\":[true,null,\"\xc3\xa9\"],\"c\":{}}}\n");
	json_decref(r);

	r = json_string("x");
	line = rpc_format_result("\"k\"", r, &len);
	check_line(
	    line, len, "{\"jsonrpc\":\"2.0\",\"id\":\"k\",\"result\":\"x\"}\n");
	json_decref(r);

	line = rpc_format_result(NULL, NULL, &len);
	check_line(
	    line, len, "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":null}\n");

	/* A result much larger than the first guess of the buffer. */
	r = json_array();
	for (int i = 0; i < 5000; i++)
		json_array_append_new(r, json_integer(123456789));
	line = rpc_format_result("9", r, &len);
	ck_assert_ptr_nonnull(line);
	ck_assert_uint_eq(len, strlen(line));
	ck_assert_uint_eq(len, 33 + 2 + 5000 * 9 + 4999 + 2);
	ck_assert(strncmp(line, "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":[",
		      34) == 0);
	ck_assert_int_eq(line[len - 1], '\n');
	free(line);
	json_decref(r);
}
END_TEST

START_TEST(test_format_error)
{
	struct rpc_error err = { 0 };
	char *line;
	size_t len;

	rpc_error_param(&err, "m_cost_kib", "bad %s", "value");
	line = rpc_format_error("\"a\"", &err, &len);
	check_line(line, len,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":"
	    "{\"code\":-32602,\"message\":\"bad value\","
	    "\"data\":{\"param\":\"m_cost_kib\"}}}\n");

	rpc_error_set(&err, RPC_PARSE_ERROR, NULL, NULL);
	line = rpc_format_error(NULL, &err, &len);
	check_line(line, len,
	    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32700,\"message\":\"Parse error\"}}\n");

	/* An empty message falls back to the code's default. */
	err.message[0] = '\0';
	err.code = RPC_SHUTTING_DOWN;
	line = rpc_format_error("-5", &err, &len);
	check_line(line, len,
	    "{\"jsonrpc\":\"2.0\",\"id\":-5,\"error\":"
	    "{\"code\":-32006,\"message\":\"Shutting down\"}}\n");

	/* Escapes as jansson's; invalid UTF-8 becomes U+FFFD, valid UTF-8
	 * stays raw. */
	rpc_error_set(&err, RPC_IO_ERROR, NULL,
	    "q\"b\\n\nr\rt\t\x01\x1f"
	    "\x7f\xc3\xa9\xff\xc3\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0\x80!");
	line = rpc_format_error("1", &err, &len);
	check_line(line, len,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"code\":-32005,\"message\":"
	    "\"q\\\"b\\\\n\\nr\\rt\\t\\u0001\\u001F"
	    "\x7f\xc3\xa9\\ufffd\\ufffd\xe2\x82\xac\xf0\x9f\x98\x80"
	    "\\ufffd\\ufffd\\ufffd!\"}}\n");
	rpc_error_clear(&err);
}
END_TEST

/*
 * An error message is escaped as jansson's json_dumps escapes the same
 * string (the oracle): every ASCII byte, controls included ("\b", "\f",
 * upper-case \u00XX), and valid UTF-8 raw.
 */
START_TEST(test_format_error_escapes)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
				   "{\"code\":-32005,\"message\":";
	struct rpc_error err = { 0 };
	char msg[130], *line, *want;
	size_t len, i, n = 0;
	json_t *str;

	for (i = 1; i < 0x80; i++)
		msg[n++] = (char)i;
	memcpy(msg + n, "\xc3\xa9", 2);
	msg[n + 2] = '\0';
	rpc_error_set(&err, RPC_IO_ERROR, NULL, "%s", msg);
	ck_assert_str_eq(err.message, msg);
	ck_assert_ptr_nonnull(line = rpc_format_error("1", &err, &len));
	ck_assert_ptr_nonnull(str = json_string(msg));
	ck_assert_ptr_nonnull(want = json_dumps(str, JSON_ENCODE_ANY));
	ck_assert_uint_gt(len, sizeof(head) - 1 + 3);
	ck_assert_mem_eq(line, head, sizeof(head) - 1);
	line[len - 3] = '\0'; /* "}}\n" */
	ck_assert_str_eq(line + sizeof(head) - 1, want);
	free(want);
	json_decref(str);
	free(line);
	rpc_error_clear(&err);
}
END_TEST

/* Every formatted line parses back to what went in. */
START_TEST(test_format_roundtrip)
{
	struct rpc_error err = { 0 };
	const json_t *id, *res, *e;
	json_t *v;
	char *line;
	size_t len;

	rpc_error_limit(&err, RPC_INVALID_REQUEST, 4194304,
	    "Request too "
	    "large: over %u bytes",
	    4194304u);
	line = rpc_format_error("\"\\u0000\"", &err, &len);
	ck_assert_ptr_nonnull(line);
	v = rpc_parse_line(line, len - 1, &err);
	ck_assert_ptr_nonnull(v);
	ck_assert(rpc_reply_parse(v, &id, &res, &e));
	ck_assert_uint_eq(json_string_length(id), 1);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(e, "code")), -32600);
	ck_assert_int_eq(json_integer_value(json_object_get(
			     json_object_get(e, "data"), "limit")),
	    4194304);
	json_decref(v);
	free(line);
	rpc_error_clear(&err);
}
END_TEST

START_TEST(test_format_notification)
{
	json_t *p;
	char *line;
	size_t len;

	p = json_pack(
	    "{s:I,s:i,s:i}", "id", (json_int_t)42, "done", 10, "total", 20);
	line = rpc_format_notification("progress", p, &len);
	check_line(line, len,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"progress\","
	    "\"params\":{\"id\":42,\"done\":10,\"total\":20}}\n");
	json_decref(p);
	line = rpc_format_notification("x\"y", NULL, &len);
	check_line(line, len, "{\"jsonrpc\":\"2.0\",\"method\":\"x\\\"y\"}\n");
}
END_TEST

/* ------------------------------------------------------------------ */

/*
 * The writer against its oracle: v in a result, as a notification's
 * params and as an id must come out as json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) writes it, or fail where json_dumps fails.
 */
static void
check_dump(const json_t *v, const char *what)
{
	static const char pre[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":";
	static const char npre[] =
	    "{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":";
	char *want, *line;
	size_t len, wlen;

	want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	line = rpc_format_result("7", v, &len);
	if (want == NULL) {
		ck_assert_msg(
		    line == NULL, "%s: json_dumps refuses, got %s", what, line);
		ck_assert_ptr_null(rpc_id_dump(v));
		return;
	}
	wlen = strlen(want);
	ck_assert_msg(line != NULL, "%s: NULL, want %s", what, want);
	ck_assert_msg(len == sizeof(pre) - 1 + wlen + 2 &&
		memcmp(line, pre, sizeof(pre) - 1) == 0 &&
		memcmp(line + sizeof(pre) - 1, want, wlen) == 0 &&
		memcmp(line + len - 2, "}\n", 3) == 0,
	    "%s: got %s want %s", what, line, want);
	free(line);

	line = rpc_format_notification("n", v, &len);
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(len == sizeof(npre) - 1 + wlen + 2 &&
		memcmp(line + sizeof(npre) - 1, want, wlen) == 0,
	    "%s: notification %s want %s", what, line, want);
	free(line);

	line = rpc_id_dump(v);
	ck_assert_msg(line != NULL && strcmp(line, want) == 0,
	    "%s: id %s want %s", what, line, want);
	free(line);
	free(want);
}

static json_t *
load_any(const char *text)
{
	json_error_t e;
	json_t *v;

	/* jansson's own parser builds the values: no shared code. */
	v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	ck_assert_msg(v != NULL, "%s: %s", text, e.text);
	return v;
}

static const char *const dump_cases[] = {
	"null",
	"true",
	"false",
	"0",
	"-0",
	"1",
	"-1",
	"9",
	"10",
	"99",
	"100",
	"-100",
	"12345",
	"2147483647",
	"-2147483648",
	"4294967296",
	"9223372036854775807",
	"-9223372036854775808",
	"-9223372036854775807",
	"1000000000000000000",
	"999999999999999999",
	"0.0",
	"-0.0",
	"1.5",
	"-1.5",
	"100.0",
	"0.1",
	"0.2",
	"0.3",
	"1e300",
	"1e-300",
	"-1e300",
	"5e-324",
	"2.2250738585072014e-308",
	"1.7976931348623157e308",
	"-1.7976931348623157e308",
	"1e16",
	"1e17",
	"1e15",
	"123456789012345678.0",
	"1e22",
	"1e-5",
	"1e-4",
	"0.0001",
	"0.00001",
	"3.141592653589793",
	"1e100",
	"1e-100",
	"1e-7",
	"2.5e-7",
	"12345.678",
	"1e21",
	"4503599627370496.5",
	"9007199254740993.0",
	"\"\"",
	"\"a\"",
	"\"\\u0000\"",
	"\"a\\u0000b\\u0000\"",
	"\"\\\"\\\\/\"",
	"\"\\u007f\"",
	"\"a/b\\/c\"",
	"\"\\b\\f\\n\\r\\t\"",
	"\"\\u0001\\u001f\\u001F\\u000b\\u000e\"",
	"\"\\u2028\\u2029\"",
	"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
	"\"\\ud83d\\ude00\\u00e9\\uffff\\ufeff\"",
	"\"\xef\xbf\xbd\"",
	"\"0123456789abcdef0123456789abcdef\"",
	"\"0123456789abcdef\\n0123456789abcde\\\"\"",
	"\"01234567\xc3\xa9"
	"89abcdef\xf0\x9f\x98\x80xyz\\u0000\"",
	"\"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\"",
	"{}",
	"[]",
	"[[]]",
	"[{}]",
	"{\"a\":{}}",
	"{\"a\":[]}",
	"[[[[[]]]]]",
	"{\"a\":1,\"b\":2}",
	"{\"b\":2,\"a\":1}",
	"[1,2,3]",
	"[null,true,false]",
	"{\"\":\"\"}",
	"{\"k\\n\\u0001\\\"\\\\/\":[1,\"x\"]}",
	"{\"\xc3\xa9\":\"\xe2\x80\xa8\",\"\\u007f\":0}",
	"{\"a\":{\"b\":{\"c\":{\"d\":[1,-2.5,\"e\",{\"f\":null}]}}}}",
	"[1,[2,[3,[4,[5]]]],{\"x\":[{},{\"y\":[]}]}]",
	"{\"pong\":true}",
	"{\"spun_ms\":0}",
	"{\"data_b64\":\"aGVsbG8gd29ybGQ=\",\"bytes\":11,\"size\":11,"
	"\"eof\":true}",
	"{\"a\":1,\"a\":2}",
};

START_TEST(test_dump_table)
{
	json_t *v = load_any(dump_cases[_i]);

	check_dump(v, dump_cases[_i]);
	json_decref(v);
}
END_TEST

/* Every byte that may appear in a string, alone and at every offset. */
START_TEST(test_dump_bytes)
{
	char s[40], what[64];
	json_t *v;

	for (int c = 0; c < 0x80; c++) {
		for (size_t at = 0; at < 20; at++) {
			memset(s, 'x', sizeof(s));
			s[at] = (char)c;
			v = json_stringn(s, at == 0 ? 1 : at + 1 + at % 7);
			ck_assert_ptr_nonnull(v);
			snprintf(
			    what, sizeof(what), "byte 0x%02x at %zu", c, at);
			check_dump(v, what);
			json_decref(v);
		}
	}
	/* All of them in one string, at shifting offsets, as a key too. */
	for (int c = 0; c < 0x80; c += 13) {
		char all[0x80];

		for (int i = 0; i < 0x80; i++)
			all[i] = (char)((i + c) % 0x80);
		v = json_object();
		ck_assert_int_eq(json_object_setn_new(
				     v, all + 1, 0x7f, json_stringn(all, 0x80)),
		    0);
		ck_assert_int_eq(
		    json_object_setn_new(v, "a\0b", 3, json_stringn("\0", 1)),
		    0);
		check_dump(v, "all bytes");
		json_decref(v);
	}
}
END_TEST

START_TEST(test_dump_numbers)
{
	static const double reals[] = { 0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 1.0 / 3,
		2.0 / 3, 1e15, 1e16, 1e17, 1e-4, 1e-5, 5e-324, -5e-324, DBL_MIN,
		DBL_MAX, -DBL_MAX, DBL_EPSILON, 9007199254740992.0,
		123456789.125, 0.30000000000000004 };
	static const long long ints[] = { 0, 1, -1, 9, 10, -10, 99, 100, 101,
		999, 1000, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN,
		INT64_MAX - 1, INT64_MIN + 1, 1000000000000000000ll,
		-999999999999999999ll };
	uint64_t x = 0x9e3779b97f4a7c15ull;
	json_t *v;
	char what[64];
	double d;
	long long n;

	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		v = json_real(reals[i]);
		check_dump(v, "real");
		json_decref(v);
	}
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		v = json_integer(ints[i]);
		check_dump(v, "integer");
		json_decref(v);
	}
	/* Powers of ten: every exponent form and integer length. */
	for (int e = -325; e <= 308; e++) {
		d = pow(10, e);
		for (int m = 1; m <= 3; m++) {
			/* 2e308 and 1.5e308 overflow: json_real refuses. */
			if ((v = json_real(d * (m == 3 ? 1.5 : m))) == NULL)
				continue;
			snprintf(what, sizeof(what), "%d x 1e%d", m, e);
			check_dump(v, what);
			json_decref(v);
		}
	}
	for (n = 1; n <= INT64_MAX / 10; n *= 10) {
		for (long long k = -1; k <= 1; k++) {
			v = json_integer(n + k);
			check_dump(v, "10^n");
			json_decref(v);
			v = json_integer(-(n + k));
			check_dump(v, "-10^n");
			json_decref(v);
		}
	}
	/* Random bit patterns, both as reals and as integers. */
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(&d, &x, sizeof(d));
		if (isfinite(d)) {
			v = json_real(d);
			snprintf(what, sizeof(what), "real %a", d);
			check_dump(v, what);
			json_decref(v);
		}
		v = json_integer(
		    (json_int_t)(i % 2 ? 0 - (x >> i % 64) : x >> i % 64));
		check_dump(v, "random integer");
		json_decref(v);
	}
}
END_TEST

/* Append code point c as UTF-8. */
static size_t
put_utf8(char *p, uint32_t c)
{
	if (c < 0x80) {
		p[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		p[0] = (char)(0xc0 | c >> 6);
		p[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		p[0] = (char)(0xe0 | c >> 12);
		p[1] = (char)(0x80 | (c >> 6 & 0x3f));
		p[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | c >> 18);
	p[1] = (char)(0x80 | (c >> 12 & 0x3f));
	p[2] = (char)(0x80 | (c >> 6 & 0x3f));
	p[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

static uint32_t
rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)(*x >> 32);
}

/* A random string of valid UTF-8, mostly ASCII, some escapes. */
static json_t *
rnd_string(uint64_t *x)
{
	char buf[200];
	size_t n = 0, want = rnd(x) % 40;
	uint32_t c;

	while (want-- > 0) {
		switch (rnd(x) % 8) {
		case 0:
			c = rnd(x) % 0x20;
			break;
		case 1:
			c = "\"\\/\x7f"[rnd(x) % 4];
			break;
		case 2:
			c = 0x80 + rnd(x) % 0x780;
			break;
		case 3:
			do
				c = 0x800 + rnd(x) % 0xf800;
			while (c >= 0xd800 && c <= 0xdfff);
			break;
		case 4:
			c = 0x10000 + rnd(x) % 0x100000;
			break;
		default:
			c = 0x20 + rnd(x) % 0x5f;
			break;
		}
		n += put_utf8(buf + n, c);
	}
	return json_stringn(buf, n);
}

static json_t *
rnd_value(uint64_t *x, int depth)
{
	json_t *v, *s;
	double d;
	int n;

	switch (rnd(x) % (depth > 4 ? 6 : 8)) {
	case 0:
		return json_null();
	case 1:
		return json_boolean(rnd(x) % 2);
	case 2:
		return json_integer(
		    (json_int_t)((uint64_t)rnd(x) << 32 | rnd(x)) >>
		    rnd(x) % 64);
	case 3:
		d = (double)(int32_t)rnd(x) / (1 + rnd(x) % 1000) *
		    pow(10, (int)(rnd(x) % 40) - 20);
		return json_real(d);
	case 4:
	case 5:
		return rnd_string(x);
	case 6:
		v = json_array();
		for (n = (int)(rnd(x) % 6); n > 0; n--)
			json_array_append_new(v, rnd_value(x, depth + 1));
		return v;
	default:
		v = json_object();
		for (n = (int)(rnd(x) % 6); n > 0; n--) {
			s = rnd_string(x);
			json_object_setn_new(v, json_string_value(s),
			    json_string_length(s), rnd_value(x, depth + 1));
			json_decref(s);
		}
		return v;
	}
}

START_TEST(test_dump_generated)
{
	uint64_t x = 0x2545f4914f6cdd1dull;
	json_t *v, *big;
	char what[32];

	big = json_array();
	for (int i = 0; i < 2000; i++) {
		v = rnd_value(&x, 0);
		snprintf(what, sizeof(what), "generated %d", i);
		check_dump(v, what);
		json_array_append_new(big, v);
	}
	check_dump(big, "all generated");
	json_decref(big);
}
END_TEST

/* Big, deep, shared, cyclic and invalid values. */
START_TEST(test_dump_odd)
{
	json_t *v, *a, *b, *o;
	char key[16];

	/* A wide object of nested members. */
	o = json_object();
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		json_object_set_new(o, key,
		    json_pack("{s:i,s:[s,f,b,n],s:{}}", "i", i, "l", "v\n",
			i / 7.0, i % 2, "e"));
	}
	check_dump(o, "wide object");

	/* The same value twice is not a cycle. */
	v = json_pack("[O,O,{s:O}]", o, o, "again", o);
	check_dump(v, "shared");
	json_decref(v);
	json_decref(o);

	/* Deeper than the writer goes itself: jansson takes over. */
	v = json_array();
	a = v;
	for (int i = 0; i < 3 * JSON_PARSER_MAX_DEPTH; i++) {
		b = i % 2 ? json_array() : json_object();
		if (json_is_array(a))
			json_array_append_new(a, b);
		else
			json_object_set_new(a, "d", b);
		a = b;
	}
	json_array_append_new(a, json_string("bottom"));
	check_dump(v, "deep");
	json_decref(v);

	/* A cycle: both refuse it. */
	a = json_array();
	b = json_array();
	ck_assert_int_eq(json_array_append(a, b), 0);
	ck_assert_int_eq(json_array_append(b, a), 0);
	ck_assert_ptr_null(json_dumps(a, JSON_ENCODE_ANY));
	check_dump(a, "cycle");
	json_array_clear(b);
	json_decref(b);
	json_decref(a);

	/* Invalid UTF-8 made with *_nocheck: a value fails the dump... */
	v = json_pack("[s,o]", "ok", json_stringn_nocheck("a\xff", 2));
	check_dump(v, "invalid value");
	json_decref(v);
	v = json_stringn_nocheck("\xc3", 1);
	check_dump(v, "truncated value");
	json_decref(v);
	/* ...a key does not (jansson ignores it), and the bytes still agree. */
	v = json_object();
	json_object_setn_new_nocheck(v, "x\n\xed\xa0\x80y", 6, json_true());
	json_object_setn_new_nocheck(v, "ok", 2, json_false());
	check_dump(v, "invalid key");
	json_decref(v);
}
END_TEST

static size_t jansson_allocs;

static void *
count_malloc(size_t n)
{
	jansson_allocs++;
	return malloc(n);
}

/*
 * Replies are written without jansson's dumper, whose cycle check alone
 * allocates a hash table per value (and json_dumps a string buffer).
 */
START_TEST(test_dump_no_jansson)
{
	struct rpc_error err = { 0 };
	json_t *r, *id;
	char *line;
	size_t len;

	json_set_alloc_funcs(count_malloc, free);
	r = load_any("{\"spun_ms\":0,\"a\":[1,-2,\"x\\n\",{\"b\":null}]}");
	id = json_string("req-1");
	rpc_error_errno(&err, ENOENT, "open %s", "x");
	jansson_allocs = 0;
	line = rpc_format_result("1", r, &len);
	ck_assert_ptr_nonnull(line);
	free(line);
	line = rpc_format_error("1", &err, &len);
	ck_assert_ptr_nonnull(line);
	free(line);
	line = rpc_format_notification("progress", r, &len);
	ck_assert_ptr_nonnull(line);
	free(line);
	line = rpc_id_dump(id);
	ck_assert_str_eq(line, "\"req-1\"");
	free(line);
	ck_assert_uint_eq(jansson_allocs, 0);
	rpc_error_clear(&err);
	json_decref(id);
	json_decref(r);
}
END_TEST

/* ------------------------------------------------------------------ */

START_TEST(test_code_messages)
{
	static const int codes[] = { RPC_PARSE_ERROR, RPC_INVALID_REQUEST,
		RPC_METHOD_NOT_FOUND, RPC_INVALID_PARAMS, RPC_INTERNAL_ERROR,
		RPC_OVERLOADED, RPC_DEADLINE, RPC_CANCELLED, RPC_PERMISSION,
		RPC_TOO_LARGE, RPC_IO_ERROR, RPC_SHUTTING_DOWN };

	/* Each code has its own message. */
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *m = rpc_code_message(codes[i]);

		ck_assert_ptr_nonnull(m);
		ck_assert_str_ne(m, "Error");
		ck_assert_str_ne(m, "Server error");
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(m, rpc_code_message(codes[j]));
	}
	ck_assert_str_eq(rpc_code_message(RPC_PARSE_ERROR), "Parse error");
	ck_assert_str_eq(
	    rpc_code_message(RPC_INVALID_REQUEST), "Invalid request");
	ck_assert_str_eq(
	    rpc_code_message(RPC_METHOD_NOT_FOUND), "Method not found");
	ck_assert_str_eq(rpc_code_message(-32050), "Server error");
	ck_assert_str_eq(rpc_code_message(1), "Error");
}
END_TEST

START_TEST(test_errno_names)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ ENOENT, "ENOENT" },
		{ EACCES, "EACCES" },
		{ EPERM, "EPERM" },
		{ EEXIST, "EEXIST" },
		{ EISDIR, "EISDIR" },
		{ ENOTDIR, "ENOTDIR" },
		{ EINVAL, "EINVAL" },
		{ ENOSPC, "ENOSPC" },
		{ EIO, "EIO" },
		{ ELOOP, "ELOOP" },
		{ ENAMETOOLONG, "ENAMETOOLONG" },
		{ EMFILE, "EMFILE" },
		{ ENFILE, "ENFILE" },
		{ ENOMEM, "ENOMEM" },
		{ EROFS, "EROFS" },
		{ EXDEV, "EXDEV" },
		{ EBUSY, "EBUSY" },
		{ EFBIG, "EFBIG" },
		{ EDQUOT, "EDQUOT" },
		{ ETXTBSY, "ETXTBSY" },
		{ EAGAIN, "EAGAIN" },
		{ EWOULDBLOCK, "EAGAIN" },
		{ EINTR, "EINTR" },
		{ EBADF, "EBADF" },
		{ EFAULT, "EFAULT" },
		{ ESPIPE, "ESPIPE" },
		{ EPIPE, "EPIPE" },
		{ ENXIO, "ENXIO" },
		{ ENODEV, "ENODEV" },
		{ EOVERFLOW, "EOVERFLOW" },
		{ ENOTEMPTY, "ENOTEMPTY" },
		{ ECANCELED, "ECANCELED" },
		{ ETIMEDOUT, "ETIMEDOUT" },
		{ ENOTSUP, "EOPNOTSUPP" },
		/* Named by glibc's table, not only a hand-picked list. */
		{ ENOTUNIQ, "ENOTUNIQ" },
		{ ECHRNG, "ECHRNG" },
		{ 0, "EUNKNOWN" },
		{ -1, "EUNKNOWN" },
		{ 99999, "EUNKNOWN" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_str_eq(rpc_errno_name(names[i].e), names[i].name);
}
END_TEST

START_TEST(test_setters)
{
	struct rpc_error err = { 0 }, other = { 0 };
	json_t *d;
	char big[600];

	rpc_error_errno(&err, ENOENT, "open %s", "/x");
	ck_assert_int_eq(err.code, RPC_IO_ERROR);
	ck_assert_str_eq(err.message, "open /x");
	ck_assert_str_eq(
	    json_string_value(json_object_get(err.data, "errno")), "ENOENT");

	/* Replacing an error releases its data (ASan/valgrind see leaks). */
	rpc_error_errno(&err, EACCES, NULL);
	ck_assert_str_eq(
	    json_string_value(json_object_get(err.data, "errno")), "EACCES");
	ck_assert(strncmp(err.message, "I/O error: ", 11) == 0);

	rpc_error_limit(&err, RPC_TOO_LARGE, 18446744073709551615ull, NULL);
	ck_assert_int_eq(err.code, RPC_TOO_LARGE);
	ck_assert_str_eq(err.message, "Result too large");
	ck_assert_int_eq(json_integer_value(json_object_get(err.data, "limit")),
	    9223372036854775807ll);

	rpc_error_param(&err, "level", NULL);
	ck_assert_str_eq(err.message, "Invalid params");
	ck_assert_str_eq(
	    json_string_value(json_object_get(err.data, "param")), "level");

	/* The message may be formatted from itself. */
	rpc_error_set(&err, RPC_INTERNAL_ERROR, NULL, "x: %s", err.message);
	ck_assert_str_eq(err.message, "x: Invalid params");
	ck_assert_ptr_null(err.data);

	d = json_object();
	rpc_error_set(&err, RPC_OVERLOADED, d, "busy");
	ck_assert_ptr_eq(err.data, d);
	/* Setting the data it already holds keeps it alive. */
	rpc_error_set(&err, RPC_OVERLOADED, d, "busy");
	ck_assert_int_eq(d->refcount, 1);

	rpc_error_move(&other, &err);
	ck_assert_int_eq(err.code, 0);
	ck_assert_ptr_null(err.data);
	ck_assert_str_eq(err.message, "");
	ck_assert_int_eq(other.code, RPC_OVERLOADED);
	ck_assert_ptr_eq(other.data, d);
	ck_assert_str_eq(other.message, "busy");

	/* Truncation keeps whole UTF-8 sequences. */
	for (size_t i = 0; i + 3 < sizeof(big); i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3); /* € */
	big[sizeof(big) - 1 - (sizeof(big) - 1) % 3] = '\0';
	for (int pre = 0; pre < 3; pre++) {
		rpc_error_set(
		    &other, RPC_IO_ERROR, NULL, "%.*s%s", pre, "ab", big);
		ck_assert_uint_le(
		    strlen(other.message), sizeof(other.message) - 1);
		ck_assert_uint_ge(
		    strlen(other.message), sizeof(other.message) - 4);
		ck_assert_uint_eq((strlen(other.message) - pre) % 3, 0);
	}
	rpc_error_clear(&other);
	ck_assert_int_eq(other.code, 0);
	ck_assert_ptr_null(other.data);
	rpc_error_clear(&other);
}
END_TEST

/* ------------------------------------------------------------------ */

static const struct reply_case {
	const char *line;
	bool ok;
	bool is_error;
} reply_cases[] = {
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", true, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":null}", true, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
	  "\"message\":\"m\"}}",
	    true, true },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,"
	  "\"message\":\"m\",\"data\":{\"param\":\"p\"}}}",
	    true, true },
	{ "[]", false, false },
	{ "1", false, false },
	{ "{\"id\":1,\"result\":{}}", false, false },
	{ "{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":{}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"result\":{}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":{}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"result\":{}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{\"code\":1,"
	  "\"message\":\"m\"}}",
	    false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"x\"}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"message\":\"m\"}}", false,
	    false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.0,"
	  "\"message\":\"m\"}}",
	    false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}", false,
	    false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,"
	  "\"message\":null}}",
	    false, false },
};

START_TEST(test_reply)
{
	const struct reply_case *c = &reply_cases[_i];
	const json_t *id, *res, *e;
	json_t *msg = parse_ok(c->line);

	ck_assert_msg(
	    rpc_reply_parse(msg, &id, &res, &e) == c->ok, "%s", c->line);
	if (c->ok) {
		ck_assert_ptr_nonnull(id);
		ck_assert_ptr_eq(id, json_object_get(msg, "id"));
		ck_assert((res == NULL) == c->is_error);
		ck_assert((e != NULL) == c->is_error);
	}
	json_decref(msg);
}
END_TEST

static Suite *
rpc_suite(void)
{
	Suite *s = suite_create("rpc");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(
	    tc, test_parse_bad, 0, sizeof(parse_bad) / sizeof(parse_bad[0]));
	tcase_add_test(tc, test_parse_nul);
	tcase_add_test(tc, test_parse_len);
	suite_add_tcase(s, tc);

	tc = tcase_create("envelope");
	tcase_add_loop_test(
	    tc, test_request, 0, sizeof(req_cases) / sizeof(req_cases[0]));
	tcase_add_test(tc, test_request_long_member);
	tcase_add_test(tc, test_id_valid_dump);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_test(tc, test_format_result);
	tcase_add_test(tc, test_format_error);
	tcase_add_test(tc, test_format_error_escapes);
	tcase_add_test(tc, test_format_roundtrip);
	tcase_add_test(tc, test_format_notification);
	suite_add_tcase(s, tc);

	tc = tcase_create("dump");
	tcase_add_loop_test(
	    tc, test_dump_table, 0, sizeof(dump_cases) / sizeof(dump_cases[0]));
	tcase_add_test(tc, test_dump_bytes);
	tcase_add_test(tc, test_dump_numbers);
	tcase_add_test(tc, test_dump_generated);
	tcase_add_test(tc, test_dump_odd);
	tcase_add_test(tc, test_dump_no_jansson);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_code_messages);
	tcase_add_test(tc, test_errno_names);
	tcase_add_test(tc, test_setters);
	suite_add_tcase(s, tc);

	tc = tcase_create("reply");
	tcase_add_loop_test(
	    tc, test_reply, 0, sizeof(reply_cases) / sizeof(reply_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(rpc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
