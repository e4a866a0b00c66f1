/*
 * check_rpc.c - unit tests of the JSON-RPC codec (proto/rpc_*.c): line
 * parsing (invalid JSON and UTF-8, NUL in strings, 64-bit ids), every
 * envelope error and the order they are reported in, the exact bytes of
 * ids and reply lines, the error table and setters, and the client's
 * reply check.
 *
 * Single-threaded; runs under Check's fork mode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "rpc.h"

static json_t *
parse_ok(const char *line)
{
	struct rpc_error	 err = { 0 };
	json_t			*v;

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
	"{\"a\":\"\xff\"}",			/* invalid UTF-8 */
	"{\"a\":\"\xc0\xaf\"}",			/* overlong */
	"{\"a\":\"\xed\xa0\x80\"}",		/* encoded surrogate */
	"{\"a\":\"\\ud800\"}",			/* lone surrogate escape */
	"{\"a\":\"x\ny\"}",			/* raw control character */
	"{\"id\":9223372036854775808}",		/* past int64 */
	"{\"id\":-9223372036854775809}",
	"nul",
	"NaN",
	/* jansson refuses NUL in member names, so "id\u0000x" never aliases. */
	"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"m\",\"id\\u0000x\":1}",
};

START_TEST(test_parse_bad)
{
	struct rpc_error	 err = { 0 };
	const char		*line = parse_bad[_i];

	ck_assert_ptr_null(rpc_parse_line(line, strlen(line), &err));
	ck_assert_int_eq(err.code, RPC_PARSE_ERROR);
	ck_assert_msg(strncmp(err.message, "Parse error", 11) == 0, "%s",
	    err.message);
	ck_assert_ptr_null(err.data);
}
END_TEST

START_TEST(test_parse_nul)
{
	struct rpc_error	 err = { 0 };
	const char		 raw[] = "{\"a\":\"x\0y\"}";
	json_t			*v, *s;

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
	struct rpc_error	 err = { 0 };
	json_t			*v;

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
	const char	*line;
	bool		 ok;
	const char	*id;		/* rpc_id_dump of the answer's id */
	const char	*msg;		/* substring of the message */
} req_cases[] = {
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", true, "1", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}", true, "null", NULL },
	{ "{\"method\":\"a.b\",\"params\":{\"x\":1},\"id\":\"q\",\"jsonrpc\":\"2.0\"}",
	    true, "\"q\"", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"\"}", true, "\"\"", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,\"method\":\"m\"}",
	    true, "9223372036854775807", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"method\":\"m\"}",
	    true, "-9223372036854775808", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0000\\u00e9\",\"method\":\"m\"}",
	    true, "\"\\u0000\xc3\xa9\"", NULL },
	/* params are the method's business: any type passes here. */
	{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\",\"params\":[1]}", true,
	    "2", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\",\"params\":null}",
	    true, "2", NULL },

	/* Not an object. */
	{ "1", false, "null", "not a JSON object" },
	{ "\"x\"", false, "null", "not a JSON object" },
	{ "null", false, "null", "not a JSON object" },
	{ "[]", false, "null", "not a JSON object" },

	/* Bad ids: answered with id null. */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"m\"}", false, "null", "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1e3,\"method\":\"m\"}", false, "null", "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"m\"}", false, "null", "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}", false, "null", "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"m\"}", false, "null", "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":false,\"method\":\"m\"}", false, "null", "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"m\"}", false, "null", "id" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"m\"}", false, "null", "id" },

	/* jsonrpc: answered with the readable id. */
	{ "{\"id\":7,\"method\":\"m\"}", false, "7", "jsonrpc" },
	{ "{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"m\"}", false, "7", "jsonrpc" },
	{ "{\"jsonrpc\":\"2.00\",\"id\":7,\"method\":\"m\"}", false, "7", "jsonrpc" },
	{ "{\"jsonrpc\":2.0,\"id\":7,\"method\":\"m\"}", false, "7", "jsonrpc" },
	{ "{\"jsonrpc\":\"2.0\\u0000\",\"id\":7,\"method\":\"m\"}", false, "7",
	    "jsonrpc" },
	{ "{\"jsonrpc\":null,\"method\":\"m\"}", false, "null", "jsonrpc" },

	/* method. */
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"a\"}", false, "\"a\"", "method" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":1}", false, "\"a\"", "method" },
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
	{ "{\"id\":null,\"jsonrpc\":\"1.0\",\"parms\":1}", false, "null", "id" },
	{ "{\"id\":1,\"jsonrpc\":\"1.0\",\"parms\":1}", false, "1", "jsonrpc" },
	{ "{\"id\":1,\"jsonrpc\":\"2.0\",\"parms\":1}", false, "1", "method" },
};

START_TEST(test_request)
{
	const struct req_case	*c = &req_cases[_i];
	struct rpc_error	 err = { 0 };
	struct rpc_request	 req;
	const json_t		*err_id = (const json_t *)1;
	json_t			*msg = parse_ok(c->line);
	char			*id;
	bool			 ok;

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
	ck_assert_msg(strcmp(id, c->id) == 0, "%s: id %s, want %s", c->line,
	    id, c->id);
	free(id);
	rpc_error_clear(&err);
	json_decref(msg);
}
END_TEST

/* A long unknown member name is cut on a UTF-8 boundary. */
START_TEST(test_request_long_member)
{
	struct rpc_error	 err = { 0 };
	struct rpc_request	 req;
	const json_t		*err_id;
	json_t			*msg = json_pack("{s:s,s:s}", "jsonrpc", "2.0",
				    "method", "m");
	char			 key[400];
	size_t			 n = 0;

	while (n + 2 < sizeof(key)) {
		memcpy(key + n, "\xc3\xa9", 2);		/* é */
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
	json_t	*v;
	char	*a, *b;

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
	json_t	*r;
	char	*line;
	size_t	 len;

	r = parse_ok("{\"a\":1,\"b\":[true,null,\"\xc3\xa9\"],\"c\":{}}");
	line = rpc_format_result("1", r, &len);
	check_line(line, len, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
	    "{\"a\":1,\"b\":[true,null,\"\xc3\xa9\"],\"c\":{}}}\n");
	json_decref(r);

	r = json_string("x");
	line = rpc_format_result("\"k\"", r, &len);
	check_line(line, len,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"k\",\"result\":\"x\"}\n");
	json_decref(r);

	line = rpc_format_result(NULL, NULL, &len);
	check_line(line, len, "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":null}\n");

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
	struct rpc_error	 err = { 0 };
	char			*line;
	size_t			 len;

	rpc_error_param(&err, "m_cost_kib", "bad %s", "value");
	line = rpc_format_error("\"a\"", &err, &len);
	check_line(line, len, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":"
	    "{\"code\":-32602,\"message\":\"bad value\","
	    "\"data\":{\"param\":\"m_cost_kib\"}}}\n");

	rpc_error_set(&err, RPC_PARSE_ERROR, NULL, NULL);
	line = rpc_format_error(NULL, &err, &len);
	check_line(line, len, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32700,\"message\":\"Parse error\"}}\n");

	/* An empty message falls back to the code's default. */
	err.message[0] = '\0';
	err.code = RPC_SHUTTING_DOWN;
	line = rpc_format_error("-5", &err, &len);
	check_line(line, len, "{\"jsonrpc\":\"2.0\",\"id\":-5,\"error\":"
	    "{\"code\":-32006,\"message\":\"Shutting down\"}}\n");

	/* Escapes; invalid UTF-8 becomes U+FFFD, valid UTF-8 stays raw. */
	rpc_error_set(&err, RPC_IO_ERROR, NULL, "q\"b\\n\nr\rt\t\x01\x1f"
	    "\x7f\xc3\xa9\xff\xc3\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0\x80!");
	line = rpc_format_error("1", &err, &len);
	check_line(line, len, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"code\":-32005,\"message\":\"q\\\"b\\\\n\\nr\\rt\\t\\u0001\\u001f"
	    "\x7f\xc3\xa9\\ufffd\\ufffd\xe2\x82\xac\xf0\x9f\x98\x80"
	    "\\ufffd\\ufffd\\ufffd!\"}}\n");
	rpc_error_clear(&err);
}
END_TEST

/* Every formatted line parses back to what went in. */
START_TEST(test_format_roundtrip)
{
	struct rpc_error	 err = { 0 };
	const json_t		*id, *res, *e;
	json_t			*v;
	char			*line;
	size_t			 len;

	rpc_error_limit(&err, RPC_INVALID_REQUEST, 4194304, "Request too "
	    "large: over %u bytes", 4194304u);
	line = rpc_format_error("\"\\u0000\"", &err, &len);
	ck_assert_ptr_nonnull(line);
	v = rpc_parse_line(line, len - 1, &err);
	ck_assert_ptr_nonnull(v);
	ck_assert(rpc_reply_parse(v, &id, &res, &e));
	ck_assert_uint_eq(json_string_length(id), 1);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(json_integer_value(json_object_get(e, "code")),
	    -32600);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e,
	    "data"), "limit")), 4194304);
	json_decref(v);
	free(line);
	rpc_error_clear(&err);
}
END_TEST

START_TEST(test_format_notification)
{
	json_t	*p;
	char	*line;
	size_t	 len;

	p = json_pack("{s:I,s:i,s:i}", "id", (json_int_t)42, "done", 10,
	    "total", 20);
	line = rpc_format_notification("progress", p, &len);
	check_line(line, len, "{\"jsonrpc\":\"2.0\",\"method\":\"progress\","
	    "\"params\":{\"id\":42,\"done\":10,\"total\":20}}\n");
	json_decref(p);
	line = rpc_format_notification("x\"y", NULL, &len);
	check_line(line, len, "{\"jsonrpc\":\"2.0\",\"method\":\"x\\\"y\"}\n");
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
	ck_assert_str_eq(rpc_code_message(RPC_INVALID_REQUEST),
	    "Invalid request");
	ck_assert_str_eq(rpc_code_message(RPC_METHOD_NOT_FOUND),
	    "Method not found");
	ck_assert_str_eq(rpc_code_message(-32050), "Server error");
	ck_assert_str_eq(rpc_code_message(1), "Error");
}
END_TEST

START_TEST(test_errno_names)
{
	static const struct {
		int		 e;
		const char	*name;
	} names[] = {
		{ ENOENT, "ENOENT" }, { EACCES, "EACCES" }, { EPERM, "EPERM" },
		{ EEXIST, "EEXIST" }, { EISDIR, "EISDIR" },
		{ ENOTDIR, "ENOTDIR" }, { EINVAL, "EINVAL" },
		{ ENOSPC, "ENOSPC" }, { EIO, "EIO" }, { ELOOP, "ELOOP" },
		{ ENAMETOOLONG, "ENAMETOOLONG" }, { EMFILE, "EMFILE" },
		{ ENFILE, "ENFILE" }, { ENOMEM, "ENOMEM" }, { EROFS, "EROFS" },
		{ EXDEV, "EXDEV" }, { EBUSY, "EBUSY" }, { EFBIG, "EFBIG" },
		{ EDQUOT, "EDQUOT" }, { ETXTBSY, "ETXTBSY" },
		{ EAGAIN, "EAGAIN" }, { EWOULDBLOCK, "EAGAIN" },
		{ EINTR, "EINTR" }, { EBADF, "EBADF" }, { EFAULT, "EFAULT" },
		{ ESPIPE, "ESPIPE" }, { EPIPE, "EPIPE" }, { ENXIO, "ENXIO" },
		{ ENODEV, "ENODEV" }, { EOVERFLOW, "EOVERFLOW" },
		{ ENOTEMPTY, "ENOTEMPTY" }, { ECANCELED, "ECANCELED" },
		{ ETIMEDOUT, "ETIMEDOUT" }, { ENOTSUP, "EOPNOTSUPP" },
		{ 0, "EUNKNOWN" }, { -1, "EUNKNOWN" }, { 99999, "EUNKNOWN" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_str_eq(rpc_errno_name(names[i].e), names[i].name);
}
END_TEST

START_TEST(test_setters)
{
	struct rpc_error	 err = { 0 }, other = { 0 };
	json_t			*d;
	char			 big[600];

	rpc_error_errno(&err, ENOENT, "open %s", "/x");
	ck_assert_int_eq(err.code, RPC_IO_ERROR);
	ck_assert_str_eq(err.message, "open /x");
	ck_assert_str_eq(json_string_value(json_object_get(err.data, "errno")),
	    "ENOENT");

	/* Replacing an error releases its data (ASan/valgrind see leaks). */
	rpc_error_errno(&err, EACCES, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(err.data, "errno")),
	    "EACCES");
	ck_assert(strncmp(err.message, "I/O error: ", 11) == 0);

	rpc_error_limit(&err, RPC_TOO_LARGE, 18446744073709551615ull, NULL);
	ck_assert_int_eq(err.code, RPC_TOO_LARGE);
	ck_assert_str_eq(err.message, "Result too large");
	ck_assert_int_eq(json_integer_value(json_object_get(err.data, "limit")),
	    9223372036854775807ll);

	rpc_error_param(&err, "level", NULL);
	ck_assert_str_eq(err.message, "Invalid params");
	ck_assert_str_eq(json_string_value(json_object_get(err.data, "param")),
	    "level");

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
		memcpy(big + i, "\xe2\x82\xac", 3);	/* € */
	big[sizeof(big) - 1 - (sizeof(big) - 1) % 3] = '\0';
	for (int pre = 0; pre < 3; pre++) {
		rpc_error_set(&other, RPC_IO_ERROR, NULL, "%.*s%s", pre, "ab",
		    big);
		ck_assert_uint_le(strlen(other.message),
		    sizeof(other.message) - 1);
		ck_assert_uint_ge(strlen(other.message),
		    sizeof(other.message) - 4);
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
	const char	*line;
	bool		 ok;
	bool		 is_error;
} reply_cases[] = {
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", true, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":null}", true, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
	    "\"message\":\"m\"}}", true, true },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,"
	    "\"message\":\"m\",\"data\":{\"param\":\"p\"}}}", true, true },
	{ "[]", false, false },
	{ "1", false, false },
	{ "{\"id\":1,\"result\":{}}", false, false },
	{ "{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":{}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"result\":{}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":{}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"result\":{}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{\"code\":1,"
	    "\"message\":\"m\"}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"x\"}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"message\":\"m\"}}",
	    false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.0,"
	    "\"message\":\"m\"}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}", false, false },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,"
	    "\"message\":null}}", false, false },
};

START_TEST(test_reply)
{
	const struct reply_case	*c = &reply_cases[_i];
	const json_t		*id, *res, *e;
	json_t			*msg = parse_ok(c->line);

	ck_assert_msg(rpc_reply_parse(msg, &id, &res, &e) == c->ok, "%s",
	    c->line);
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
	Suite	*s = suite_create("rpc");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_bad, 0,
	    sizeof(parse_bad) / sizeof(parse_bad[0]));
	tcase_add_test(tc, test_parse_nul);
	tcase_add_test(tc, test_parse_len);
	suite_add_tcase(s, tc);

	tc = tcase_create("envelope");
	tcase_add_loop_test(tc, test_request, 0,
	    sizeof(req_cases) / sizeof(req_cases[0]));
	tcase_add_test(tc, test_request_long_member);
	tcase_add_test(tc, test_id_valid_dump);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_test(tc, test_format_result);
	tcase_add_test(tc, test_format_error);
	tcase_add_test(tc, test_format_roundtrip);
	tcase_add_test(tc, test_format_notification);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_code_messages);
	tcase_add_test(tc, test_errno_names);
	tcase_add_test(tc, test_setters);
	suite_add_tcase(s, tc);

	tc = tcase_create("reply");
	tcase_add_loop_test(tc, test_reply, 0,
	    sizeof(reply_cases) / sizeof(reply_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(rpc_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
