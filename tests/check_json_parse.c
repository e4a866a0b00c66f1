/*
 * check_json_parse.c - unit tests of json_parse_strict (proto/json_parse.c)
 * against jansson as the oracle: a table of valid and invalid texts for
 * every rule of the grammar (numbers at the int64 and double limits,
 * escapes, surrogates, strict UTF-8, NUL in values and names, duplicate
 * members, depth 2048 against 2049, trailing data, empty input), then a
 * few thousand mutations of valid texts from a fixed seed.  Each input
 * goes to both parsers: they must agree on accept or reject and, when
 * both accept, build the same value (types, member order, string bytes
 * and lengths, the bits of reals).
 *
 * The one accepted difference: jansson skips a raw NUL byte right after a
 * number or a literal; json_parse_strict refuses raw NUL bytes.  For such
 * an input the oracle checks that jansson's value is what
 * json_parse_strict makes of the text without its NUL bytes.
 *
 * Single-threaded; runs under Check's fork mode.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "json_parse.h"
#include "json_same.h"
#include "rpc.h"
#include "scan_differ.h"

#define JFLAGS (JSON_ALLOW_NUL | JSON_DECODE_ANY)


/*
 * Run both parsers on buf; returns NULL when they agree, else what went
 * wrong.  *accepted tells what json_parse_strict did.
 */
static const char *
differ(const char *buf, size_t len, bool *accepted)
{
	json_error_t jerr;
	json_t *ref, *got, *got2;
	char msg[128], *stripped;
	const char *why = NULL;
	size_t i, n;
	bool nul = memchr(buf, '\0', len) != NULL;

	ref = json_loadb(buf, len, JFLAGS, &jerr);
	msg[0] = 'x';
	errno = 0;
	got = json_parse_strict(buf, len, msg, sizeof(msg));
	*accepted = got != NULL;
	if (got == NULL && (msg[0] == '\0' || errno != EINVAL))
		why = "rejected without a message or errno EINVAL";
	else if (got != NULL && nul)
		why = "accepted a raw NUL byte";
	else if (ref != NULL && got == NULL && nul) {
		/* jansson's NUL quirk: it must be the only difference. */
		if ((stripped = malloc(len + 1)) == NULL)
			abort();
		for (i = n = 0; i < len; i++)
			if (buf[i] != '\0')
				stripped[n++] = buf[i];
		got2 = json_parse_strict(stripped, n, msg, sizeof(msg));
		if (got2 == NULL || !json_same(ref, got2))
			why = "jansson accepts it, even without NUL bytes not";
		json_decref(got2);
		free(stripped);
	} else if ((ref == NULL) != (got == NULL))
		why = ref == NULL ?
		    "jansson rejects it, json_parse_strict not" :
		    "jansson accepts it, json_parse_strict not";
	else if (ref != NULL && !json_same(ref, got))
		why = "different values";
	json_decref(ref);
	json_decref(got);
	return why;
}

/* Print an input readably for a failure message. */
static const char *
show(const char *buf, size_t len)
{
	static char out[512];
	size_t i, o = 0;

	for (i = 0; i < len && o < sizeof(out) - 8; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(
			    out + o, sizeof(out) - o, "\\x%02x", c);
	}
	if (i < len)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "...");
	out[o] = '\0';
	return out;
}

static void
check_agree(const char *buf, size_t len)
{
	const char *why;
	bool ok;

	why = differ(buf, len, &ok);
	ck_assert_msg(
	    why == NULL, "\"%s\" (%zu bytes): %s", show(buf, len), len, why);
}

/* ------------------------------------------------------------------ */

struct tcase_in {
	const char *s;
	size_t len;
	bool ok; /* json_parse_strict accepts it */
};
#define OK(s)                          \
	{                              \
		s, sizeof(s) - 1, true \
	}
#define BAD(s)                          \
	{                               \
		s, sizeof(s) - 1, false \
	}

static const struct tcase_in cases[] = {
	/* Scalars at the top level (JSON_DECODE_ANY). */
	OK("0"),
	OK("-0"),
	OK("1"),
	OK("-1"),
	OK("123456789"),
	OK("1.0"),
	OK("-0.0"),
	OK("0.5"),
	OK("0.1"),
	OK("1e5"),
	OK("1E5"),
	OK("1e+5"),
	OK("1e-5"),
	OK("1.5e3"),
	OK("-1.5E-3"),
	OK("0e0"),
	OK("123.456e-7"),
	OK("1e0001"),
	OK("9223372036854775807"),
	OK("-9223372036854775808"),
	OK("9223372036854775806"),
	OK("-9223372036854775807"),
	OK("1000000000000000000"),
	OK("-1000000000000000000"),
	OK("9223372036854775807.0"),
	OK("9223372036854775808.0"),
	OK("9223372036854775808e0"),
	OK("123456789012345678901234567890.5"),
	OK("1e-400"),
	OK("-1e-400"),
	OK("4.9e-324"),
	OK("2e-324"),
	OK("2.2250738585072014e-308"),
	OK("1.7976931348623157e308"),
	OK("1e308"),
	OK("0.000000000000000000000000000000000000000000001"),
	OK("3.14159265358979323846264338327950288419716939937510582097494"
	   "4592307816406286208998628034825342117067982148086513282306647"),
	OK("true"),
	OK("false"),
	OK("null"),
	OK(" \t\r\n1 \t\r\n"),
	OK("\n\n[]\n\n"),
	BAD("9223372036854775808"),
	BAD("-9223372036854775809"),
	BAD("18446744073709551615"),
	BAD("18446744073709551616"),
	BAD("99999999999999999999"),
	BAD("-99999999999999999999"),
	BAD("100000000000000000000000000000"),
	BAD("1e400"),
	BAD("-1e400"),
	BAD("1e309"),
	BAD("1.8e308"),
	BAD("1"
	    "000000000000000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000000000000000"
	    "0000000000.0"),
	BAD("01"),
	BAD("-01"),
	BAD("00"),
	BAD("0.0.0"),
	BAD("1.5.5"),
	BAD("-"),
	BAD("--1"),
	BAD("+1"),
	BAD("1."),
	BAD(".5"),
	BAD("-.5"),
	BAD("1.e5"),
	BAD("1e"),
	BAD("1e+"),
	BAD("1E-"),
	BAD("1e1.5"),
	BAD("0x10"),
	BAD("1f"),
	BAD("1 2"),
	BAD("- 1"),
	BAD("1-2"),
	BAD("Infinity"),
	BAD("-Infinity"),
	BAD("NaN"),
	BAD("nan"),
	BAD("tru"),
	BAD("truee"),
	BAD("True"),
	BAD("TRUE"),
	BAD("nul"),
	BAD("nulll"),
	BAD("fals"),
	BAD("falsey"),
	BAD("true1"),
	BAD("null null"),
	BAD("t"),
	BAD("n"),
	BAD("f"),

	/* Empty, whitespace, and what is not whitespace. */
	BAD(""),
	BAD(" "),
	BAD("\t\n\r "),
	BAD("\f1"),
	BAD("\v1"),
	BAD("1\f"),
	BAD("\xc2\xa0"
	    "1"),
	BAD("\xef\xbb\xbf{}"),
	BAD("/* c */ 1"),
	BAD("// c\n1"),
	BAD("# c\n1"),

	/* Strings. */
	OK("\"\""),
	OK("\"abc\""),
	OK("\" \x7f \""),
	OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
	OK("\"\\u0000\""),
	OK("\"a\\u0000b\""),
	OK("\"\\u0000\\u0000\""),
	OK("\"\\u0041\\u00e9\\u00E9\\u20AC\\u20ac\\uFFFF\\uffff\""),
	OK("\"\\u007f\\u0080\\u07ff\\u0800\\ufffe\""),
	OK("\"\\uD83D\\uDE00\""),
	OK("\"\\ud83d\\ude00\""),
	OK("\"\\ud800\\udc00\\udbff\\udfff\""),
	OK("\"x\\uD834\\uDD1Ey\""),
	OK("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\""),
	OK("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\""),
	OK("\"\xed\x9f\xbf\xee\x80\x80\""),
	OK("\"\xef\xbb\xbf\""),
	OK("\"\xc3\xa9\\n\xf0\x9f\x98\x80\\u00e9\""),
	OK("\"<\\/script>\""),
	BAD("\""),
	BAD("\"abc"),
	BAD("\"\\"),
	BAD("\"\\\""),
	BAD("\"a\\\""),
	BAD("'a'"),
	BAD("\"\\x\""),
	BAD("\"\\a\""),
	BAD("\"\\0\""),
	BAD("\"\\'\""),
	BAD("\"\\U0041\""),
	BAD("\"\\u\""),
	BAD("\"\\u1\""),
	BAD("\"\\u12\""),
	BAD("\"\\u123\""),
	BAD("\"\\u12g4\""),
	BAD("\"\\u-123\""),
	BAD("\"\\u 123\""),
	BAD("\"\\u123"),
	BAD("\"\\ud800\""),
	BAD("\"\\udc00\""),
	BAD("\"\\udfff\""),
	BAD("\"\\ud800\\u0041\""),
	BAD("\"\\ud800\\ud800\""),
	BAD("\"\\ud800\\udbff\""),
	BAD("\"\\ud800\\ue000\""),
	BAD("\"\\ud800x\""),
	BAD("\"\\ud800\\\""),
	BAD("\"\\ud800\\n\""),
	BAD("\"\\ud800\\u\""),
	BAD("\"\\ud800\\udc0\""),
	BAD("\"\\ud800\\udc0g\""),
	BAD("\"\\udfff\\ud800\""),
	BAD("\"\\ud800"),
	BAD("\"\\ud800\\"),
	BAD("\"\\ud800\\u"),
	BAD("\"\x01\""),
	BAD("\"\n\""),
	BAD("\"\t\""),
	BAD("\"\r\""),
	BAD("\"\x1f\""),
	BAD("\"a\x1f"
	    "b\""),
	BAD("\"\\n\x1f\""),
	BAD("\"\xff\""),
	BAD("\"\xfe\""),
	BAD("\"\x80\""),
	BAD("\"\xbf\""),
	BAD("\"\xc0\xaf\""),
	BAD("\"\xc1\xbf\""),
	BAD("\"\xc0\x80\""),
	BAD("\"\xe0\x80\xaf\""),
	BAD("\"\xe0\x9f\xbf\""),
	BAD("\"\xed\xa0\x80\""),
	BAD("\"\xed\xbf\xbf\""),
	BAD("\"\xed\xa0\xbd\xed\xb8\x80\""),
	BAD("\"\xf0\x80\x80\x80\""),
	BAD("\"\xf0\x8f\xbf\xbf\""),
	BAD("\"\xf4\x90\x80\x80\""),
	BAD("\"\xf5\x80\x80\x80\""),
	BAD("\"\xf8\x88\x80\x80\x80\""),
	BAD("\"\xfc\x84\x80\x80\x80\x80\""),
	BAD("\"\xc3\""),
	BAD("\"\xe2\x82\""),
	BAD("\"\xf0\x9f\x98\""),
	BAD("\"\xc3\x28\""),
	BAD("\"\xe2\x28\xa1\""),
	BAD("\"\xe2\x82\x28\""),
	BAD("\"\xf0\x28\x8c\xbc\""),
	BAD("\"\xf0\x9f\x98\x28\""),
	BAD("\"\\n\xff\""),
	BAD("\"\\n\xc3\""),
	BAD("\"\xc3"),
	BAD("\xc3\xa9"),
	BAD("[\xc3\xa9]"),
	BAD("\xff"),

	/* Arrays and objects. */
	OK("[]"),
	OK("{}"),
	OK(" [ ] "),
	OK("{ }"),
	OK("[1,2,3]"),
	OK("[[],[[]],{}]"),
	OK("[1,\"a\",true,false,null,1.5,{},[]]"),
	OK("{\"a\":1}"),
	OK("{\"a\":{\"b\":{\"c\":[1,{\"d\":null}]}}}"),
	OK("\t\n\r {\"a\" : [ 1 , 2 ] ,\"b\"\n:\n{}}\r\n"),
	OK("{\"\":1}"),
	OK("{\"\":1,\"\":2}"),
	OK("{\"a\":1,\"a\":2}"),
	OK("{\"a\":1,\"b\":2,\"a\":3}"),
	OK("{\"a\":[1],\"a\":{\"x\":1}}"),
	OK("{\"b\":1,\"a\":2,\"c\":3}"),
	OK("{\"a\\u0062\":1,\"ab\":2}"),
	OK("{\"\\u00e9\":1,\"\xc3\xa9\":2}"),
	OK("{\"\\n\":{\"\\t\":{\"\\r\":[\"\\b\",{\"\\f\":\"\\/\"}]}}}"),
	OK("{\"\\u00e9x\":{\"\\u00e9y\":\"\\u00e9z\",\"k\\n\":1},"
	   "\"\\u00e9w\":[\"\\u00e9\"]}"),
	OK("{\"a\":\"\\u0000\"}"),
	OK("[\"\\u0000\",\"\\u0000x\"]"),
	OK("{\"jsonrpc\":\"2.0\",\"id\":12345,\"method\":\"spin\","
	   "\"params\":{\"ms\":0}}"),
	OK("{\"jsonrpc\":\"2.0\",\"id\":\"\\u0000\\u00e9\",\"method\":\"m\"}"),
	OK("[1e-400,-0,-0.0,0.0,9223372036854775807,-9223372036854775808]"),
	BAD("{\"a\\u0000\":1}"),
	BAD("{\"a\\u0000b\":1}"),
	BAD("{\"\\u0000\":1}"),
	BAD("{\"ok\":1,\"\\u0000\":{}}"),
	BAD("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"m\",\"id\\u0000x\":1}"),
	BAD("["),
	BAD("]"),
	BAD("{"),
	BAD("}"),
	BAD("[1"),
	BAD("[1,"),
	BAD("{\"a\""),
	BAD("{\"a\":"),
	BAD("{\"a\":1"),
	BAD("{\"a\":1,"),
	BAD("[1,]"),
	BAD("[,1]"),
	BAD("[,]"),
	BAD("[1 2]"),
	BAD("[1,,2]"),
	BAD("{\"a\"}"),
	BAD("{\"a\":}"),
	BAD("{\"a\" 1}"),
	BAD("{a:1}"),
	BAD("{'a':1}"),
	BAD("{\"a\":1,}"),
	BAD("{,}"),
	BAD("{:1}"),
	BAD("{\"a\":1 \"b\":2}"),
	BAD("{\"a\"::1}"),
	BAD("{1:1}"),
	BAD("{null:1}"),
	BAD("{\"a\":1;\"b\":2}"),
	BAD("[1:2]"),
	BAD("{\"a\",1}"),
	BAD("[}"),
	BAD("{]"),
	BAD("[1}"),
	BAD("{\"a\":1]"),
	BAD("[1]]"),
	BAD("{}}"),
	BAD("{} x"),
	BAD("{}{}"),
	BAD("[][]"),
	BAD("[1,2]\n3"),
	BAD("1,"),
	BAD("\"a\"\"b\""),
	BAD("[\"a\" \"b\"]"),
	BAD("[\"a\\u0000\":1]"),
	BAD("[truefalse]"),
	BAD("[01]"),
	BAD("[1.]"),
	BAD("[-]"),
	BAD("{\"a\":-}"),
	BAD("[1e]"),

	/* Raw NUL bytes: refused everywhere (jansson skips some). */
	BAD("\0"),
	BAD("\0"
	    "1"),
	BAD("1\0"),
	BAD("1\0\0"),
	BAD("1 \0"),
	BAD("[1\0]"),
	BAD("[1\0,2]"),
	BAD("true\0"),
	BAD("[true\0,2]"),
	BAD("null\0"),
	BAD("[false\0]"),
	BAD("[1.5\0]"),
	BAD("-1e5\0"),
	BAD("{\"a\":1\0}"),
	BAD("{\"a\"\0:1}"),
	BAD("\"a\0b\""),
	BAD("{\"a\0\":1}"),
	BAD("{\"a\":1}\0"),
	BAD("[\0]"),
	BAD("[1,\0 2]"),
};

START_TEST(test_table)
{
	const struct tcase_in *c = &cases[_i];
	bool ok;
	const char *why;

	why = differ(c->s, c->len, &ok);
	ck_assert_msg(why == NULL, "\"%s\": %s", show(c->s, c->len), why);
	ck_assert_msg(ok == c->ok, "\"%s\": %s, expected %s",
	    show(c->s, c->len), ok ? "accepted" : "rejected",
	    c->ok ? "accepted" : "rejected");
}
END_TEST

/* ------------------------------------------------------------------ */

/* n arrays (or objects with member "k") around inner, plus spaces. */
static char *
nest(size_t n, bool obj, const char *inner, size_t *lenp)
{
	size_t il = strlen(inner), len = n * (obj ? 7 : 2) + il, i;
	char *b = malloc(len + 1), *p = b;

	ck_assert_ptr_nonnull(b);
	for (i = 0; i < n; i++) {
		if (obj) {
			memcpy(p, "{\"k\": ", 6);
			p += 6;
		} else
			*p++ = '[';
	}
	memcpy(p, inner, il);
	p += il;
	for (i = 0; i < n; i++)
		*p++ = obj ? '}' : ']';
	*p = '\0';
	*lenp = len;
	return b;
}

static const struct {
	size_t n;
	bool obj;
	const char *inner;
	bool ok;
} deep[] = {
	/* jansson counts every value, scalars too, up to 2048. */
	{ 2047, false, "", true },
	{ 2048, false, "", true },
	{ 2049, false, "", false },
	{ 2047, false, "1", true },
	{ 2048, false, "1", false },
	{ 2047, false, "[]", true },
	{ 2047, false, "{}", true },
	{ 2048, false, "{}", false },
	{ 2047, true, "1", true },
	{ 2047, true, "{}", true },
	{ 2048, true, "{}", false },
	{ 2047, true, "\"\\u00e9\"", true },
	{ 2048, true, "\"x\"", false },
	{ 5000, false, "", false },
	{ 100000, false, "", false },
	{ 1000, true, "[1,2,{\"a\":\"\\n\"}]", true },
};

START_TEST(test_depth)
{
	size_t len;
	char *b = nest(deep[_i].n, deep[_i].obj, deep[_i].inner, &len);
	json_t *v;
	char msg[128];

	check_agree(b, len);
	v = json_parse_strict(b, len, msg, sizeof(msg));
	ck_assert_msg((v != NULL) == deep[_i].ok, "depth %zu: %s", deep[_i].n,
	    v != NULL ? "accepted" : msg);
	if (v == NULL && deep[_i].n >= 2048)
		ck_assert_msg(
		    strstr(msg, "nesting too deep") != NULL, "%s", msg);
	json_decref(v);
	/* Cut short anywhere near the deep end: refused by both. */
	check_agree(b, len - 1);
	check_agree(b, len / 2);
	free(b);
}
END_TEST

/* ------------------------------------------------------------------ */

/* Long strings and many escaped names: the scratch buffer grows. */
START_TEST(test_long)
{
	size_t cap = 1 << 20, len = 0, i;
	char *b = malloc(cap);
	json_t *v;

	ck_assert_ptr_nonnull(b);
	/* An object of escaped names, each holding escaped strings. */
	len += (size_t)snprintf(b + len, cap - len, "{");
	for (i = 0; i < 500; i++)
		len += (size_t)snprintf(b + len, cap - len,
		    "%s\"k\\u00e9%zu\\n\":{\"\\t%zu\":\"%0*d\\u20ac\","
		    "\"p\":[\"\\ud83d\\ude00%zu\",%zu.5e%zu]}",
		    i ? "," : "", i, i, (int)(i % 300), 7, i, i, i % 30);
	len += (size_t)snprintf(b + len, cap - len, "}");
	check_agree(b, len);
	v = json_parse_strict(b, len, NULL, 0);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(json_object_size(v), 500);
	json_decref(v);

	/* One long string, escaped and not. */
	len = 0;
	b[len++] = '"';
	for (i = 0; i < 100000; i++)
		b[len++] = (char)('a' + i % 26);
	b[len++] = '"';
	check_agree(b, len);
	memcpy(b + 50000, "\\u00e9\\\\", 8);
	check_agree(b, len);
	memcpy(b + 70000, "\xc3\xa9\xe2\x82\xac", 5);
	check_agree(b, len);
	b[len - 1] = 'x';
	check_agree(b, len);
	free(b);
}
END_TEST

/* ------------------------------------------------------------------ */

/* Messages: short, specific, and what rpc_parse_line reports. */
static const struct {
	const char *in;
	const char *msg;
} messages[] = {
	{ "", "unexpected end of input" },
	{ "   ", "unexpected end of input" },
	{ "[1,", "unexpected end of input" },
	{ "{\"a\":1} x", "trailing data after the value at byte 8" },
	{ "[1,]", "invalid token at byte 3" },
	{ "\"abc", "unterminated string" },
	{ "\"a\\", "unterminated string" },
	{ "\"\xc3\x28\"", "invalid UTF-8 at byte 1" },
	{ "\"\\ud800\"", "unpaired surrogate escape at byte 1" },
	{ "\"\\q\"", "invalid escape at byte 1" },
	{ "\"a\tb\"", "control character in string at byte 2" },
	{ "9223372036854775808", "integer out of range at byte 0" },
	{ "[1e999]", "real number overflow at byte 1" },
	{ "{\"\\u0000\":1}", "NUL byte in member name" },
};

START_TEST(test_messages)
{
	char msg[128];
	struct rpc_error err = { 0 };
	const char *in = messages[_i].in;

	errno = 0;
	ck_assert_ptr_null(json_parse_strict(in, strlen(in), msg, sizeof(msg)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(msg, messages[_i].msg);
	/* A tiny errbuf is cut short, not overrun. */
	ck_assert_ptr_null(json_parse_strict(in, strlen(in), msg, 4));
	ck_assert_uint_le(strlen(msg), 3);
	ck_assert_ptr_null(json_parse_strict(in, strlen(in), NULL, 0));

	ck_assert_ptr_null(rpc_parse_line(in, strlen(in), &err));
	ck_assert_int_eq(err.code, RPC_PARSE_ERROR);
	ck_assert_msg(strncmp(err.message, "Parse error: ", 13) == 0 &&
		strcmp(err.message + 13, messages[_i].msg) == 0,
	    "%s", err.message);
	rpc_error_clear(&err);
}
END_TEST

/* Only len bytes are read; buf need not be terminated. */
START_TEST(test_len)
{
	char buf[8];
	json_t *v;

	memcpy(buf, "[12]]]]]", 8);
	v = json_parse_strict(buf, 4, NULL, 0);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(json_integer_value(json_array_get(v, 0)), 12);
	json_decref(v);
	memcpy(buf, "12345678", 8);
	v = json_parse_strict(buf, 3, NULL, 0);
	ck_assert_int_eq(json_integer_value(v), 123);
	json_decref(v);
	memcpy(buf, "1.5e3000", 8);
	v = json_parse_strict(buf, 5, NULL, 0);
	ck_assert(json_real_value(v) == 1.5e3);
	json_decref(v);
	memcpy(buf, "\"abc\"xyz", 8);
	ck_assert_ptr_null(json_parse_strict(buf, 4, NULL, 0));
	memcpy(buf, "truefals", 8);
	ck_assert_ptr_null(json_parse_strict(buf + 4, 4, NULL, 0));
	ck_assert_ptr_null(json_parse_strict(buf, 3, NULL, 0));
}
END_TEST

/* ------------------------------------------------------------------ */

/* xorshift64*: a fixed sequence, the same on every run. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static const char interesting[] = {
	'"',
	'\\',
	'{',
	'}',
	'[',
	']',
	',',
	':',
	'0',
	'1',
	'9',
	'-',
	'+',
	'.',
	'e',
	'E',
	'u',
	'd',
	'D',
	'8',
	'c',
	'f',
	't',
	'n',
	' ',
	'\n',
	'\t',
	'\r',
	'\f',
	'\0',
	'\x01',
	'\x1f',
	'\x7f',
	(char)0x80,
	(char)0xbf,
	(char)0xc0,
	(char)0xc2,
	(char)0xdf,
	(char)0xe0,
	(char)0xed,
	(char)0xef,
	(char)0xf0,
	(char)0xf4,
	(char)0xf5,
	(char)0xff,
};

static const char *const snippets[] = {
	"\\u0000",
	"\\ud800",
	"\\udc00",
	"\\ud83d\\ude00",
	"\\u00e9",
	"\\",
	"\xc3\xa9",
	"\xed\xa0\x80",
	"\xf4\x90\x80\x80",
	"9223372036854775808",
	"-9223372036854775808",
	"1e400",
	"1e-400",
	"true",
	"null",
	"[",
	"{",
	"\"a\":",
	",\"a\":1",
	"]]",
	"}}",
	"0.5e-3",
	"\"\"",
	"  ",
};

START_TEST(test_mutations)
{
	char buf[512];
	uint64_t seed = 0x5bd1e995c0ffee17ULL;
	size_t n, len, pos, k, iter, ncases;
	const char *src;
	unsigned accepted = 0, total = 0;
	bool ok;
	const char *why;

	ncases = sizeof(cases) / sizeof(cases[0]);
	for (iter = 0; iter < 20000; iter++) {
		/* A valid seed from the table. */
		do
			k = rnd(&seed) % ncases;
		while (!cases[k].ok || cases[k].len > 300);
		src = cases[k].s;
		len = cases[k].len;
		memcpy(buf, src, len);
		n = 1 + rnd(&seed) % 4;
		while (n-- > 0) {
			pos = len ? rnd(&seed) % (len + 1) : 0;
			switch (rnd(&seed) % 7) {
			case 0: /* flip a bit */
				if (pos < len)
					buf[pos] ^=
					    (char)(1u << rnd(&seed) % 8);
				break;
			case 1: /* overwrite with an interesting byte */
				if (pos < len)
					buf[pos] = interesting[rnd(&seed) %
					    sizeof(interesting)];
				break;
			case 2: /* insert an interesting byte */
				if (len + 1 < sizeof(buf)) {
					memmove(buf + pos + 1, buf + pos,
					    len - pos);
					buf[pos] = interesting[rnd(&seed) %
					    sizeof(interesting)];
					len++;
				}
				break;
			case 3: /* truncate */
				len = pos;
				break;
			case 4: /* delete a byte */
				if (pos < len) {
					memmove(buf + pos, buf + pos + 1,
					    len - pos - 1);
					len--;
				}
				break;
			case 5: { /* insert a snippet */
				const char *sn = snippets[rnd(&seed) %
				    (sizeof(snippets) / sizeof(snippets[0]))];
				size_t sl = strlen(sn);

				if (len + sl < sizeof(buf)) {
					memmove(buf + pos + sl, buf + pos,
					    len - pos);
					memcpy(buf + pos, sn, sl);
					len += sl;
				}
				break;
			}
			default: { /* duplicate a span */
				size_t sl = rnd(&seed) % 16;

				if (pos + sl <= len && len + sl < sizeof(buf)) {
					memmove(buf + pos + sl, buf + pos,
					    len - pos);
					len += sl;
				}
				break;
			}
			}
		}
		why = differ(buf, len, &ok);
		ck_assert_msg(why == NULL, "mutation %zu \"%s\": %s", iter,
		    show(buf, len), why);
		accepted += ok;
		total++;
	}
	/* The mutations must reach both sides of the line. */
	ck_assert_uint_gt(accepted, total / 20);
	ck_assert_uint_lt(accepted, total - total / 20);
}
END_TEST

/* ------------------------------------------------------------------ */
/* json_parse_value: one value at the start of a larger text. */

static const struct {
	const char *s;
	size_t depth;
	size_t end; /* 0: refused */
} prefixes[] = {
	{ "{\"ms\":0}", 0, 8 },
	{ "{\"ms\":0},\"id\":1}", 1, 8 },
	{ "  [1, {\"a\":[]}]  ,", 0, 15 },
	{ "12x", 0, 2 },
	{ "-0.5e3,", 0, 6 },
	{ "truex", 0, 4 },
	{ "null}", 1, 4 },
	{ "\"a\\u00e9\"\"b\"", 0, 9 },
	{ "{\"a\":1,}", 0, 0 },
	{ "{\"a\":1", 0, 0 },
	{ "", 0, 0 },
	{ "   ", 0, 0 },
	{ "}", 0, 0 },
	{ "1.", 0, 0 },
	{ "{\"a\":\"\\x\"}", 0, 0 },
	{ "[\"\xc3\"]", 0, 0 },
	/* depth: the containers already open around the value count. */
	{ "1", JSON_PARSER_MAX_DEPTH - 1, 1 },
	{ "1", JSON_PARSER_MAX_DEPTH, 0 },
	{ "[]", JSON_PARSER_MAX_DEPTH - 1, 2 },
	{ "[1]", JSON_PARSER_MAX_DEPTH - 1, 0 },
	{ "[1]", JSON_PARSER_MAX_DEPTH - 2, 3 },
};

START_TEST(test_value)
{
	const char *s = prefixes[_i].s;
	size_t len = strlen(s), end = 12345;
	json_t *v, *ref;
	char msg[128];

	v = json_parse_value(
	    s, len, prefixes[_i].depth, &end, msg, sizeof(msg));
	if (prefixes[_i].end == 0) {
		ck_assert_msg(v == NULL, "\"%s\" accepted", show(s, len));
		ck_assert_int_eq(errno, EINVAL);
		ck_assert(msg[0] != '\0');
		ck_assert_uint_eq(end, 12345);
		return;
	}
	ck_assert_msg(v != NULL, "\"%s\": %s", show(s, len), msg);
	ck_assert_uint_eq(end, prefixes[_i].end);
	/* The value is what the whole-text parser makes of its text. */
	ref = json_parse_strict(s, end, NULL, 0);
	ck_assert_ptr_nonnull(ref);
	ck_assert(json_same(ref, v));
	json_decref(ref);
	json_decref(v);
}
END_TEST

/* Error offsets count from the start of the buffer. */
START_TEST(test_value_errors)
{
	char msg[128];
	size_t end;

	ck_assert_ptr_null(
	    json_parse_value("  [1,x]", 7, 0, &end, msg, sizeof(msg)));
	ck_assert_str_eq(msg, "invalid token at byte 5");
	ck_assert_ptr_null(json_parse_value(
	    "[[1]]", 5, JSON_PARSER_MAX_DEPTH - 2, &end, msg, sizeof(msg)));
	ck_assert_str_eq(msg, "nesting too deep at byte 2");
	ck_assert_ptr_null(json_parse_value("[1", 2, 0, &end, NULL, 0));
}
END_TEST

/* ------------------------------------------------------------------ */
/* json_plain_string: a string token without escapes. */

static const struct {
	const char *s;
	size_t len;
	size_t tok; /* expected result */
} plains[] = {
	{ "\"abc\"", 5, 5 },
	{ "\"\"", 2, 2 },
	{ "\"ab\"cd", 6, 4 },
	{ "\"ab\",\"c\"", 8, 4 },
	{ "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 11, 11 },
	{ "\"\x7f/\"", 4, 4 },
	{ "\"a\\\"b\"", 6, 0 }, /* an escape */
	{ "\"a\\nb\"", 6, 0 },
	{ "\"a\x01\"", 4, 0 },		  /* a control character */
	{ "\"a\0b\"", 5, 0 },		  /* NUL */
	{ "\"\xc3\"", 3, 0 },		  /* cut sequence */
	{ "\"\xc0\xaf\"", 4, 0 },	  /* overlong */
	{ "\"\xed\xa0\x80\"", 5, 0 },	  /* surrogate */
	{ "\"\xf4\x90\x80\x80\"", 6, 0 }, /* past U+10FFFF */
	{ "\"\xff\"", 3, 0 },
	{ "\"abc", 4, 0 },   /* unterminated */
	{ "\"abc\"", 4, 0 }, /* the quote is past len */
	{ "abc\"", 4, 0 },
	{ " \"a\"", 4, 0 },
	{ "", 0, 0 },
};

START_TEST(test_plain_string)
{
	const char *s = plains[_i].s;
	size_t len = plains[_i].len, n;
	json_t *v;

	n = json_plain_string(s, len);
	ck_assert_msg(n == plains[_i].tok, "\"%s\": %zu, expected %zu",
	    show(s, len), n, plains[_i].tok);
	if (n == 0)
		return;
	/* The token is a string whose bytes are those between the quotes. */
	v = json_parse_strict(s, n, NULL, 0);
	ck_assert_ptr_nonnull(v);
	ck_assert(json_is_string(v));
	ck_assert_uint_eq(json_string_length(v), n - 2);
	ck_assert(memcmp(json_string_value(v), s + 1, n - 2) == 0);
	json_decref(v);
}
END_TEST

/* json_plain_int: an integer token written as its value prints. */

static const struct {
	const char *s;
	size_t tok; /* expected result */
} plain_ints[] = {
	{ "0", 1 },
	{ "7,", 1 },
	{ "-12}", 3 },
	{ "123456789012345678", 18 },
	{ "-123456789012345678 ", 19 },
	{ "1234567890123456789", 0 }, /* 19 digits: the general way */
	{ "-0", 0 },		      /* prints as 0 */
	{ "01", 0 },
	{ "-", 0 },
	{ "1.5", 0 }, /* reals */
	{ "1e3", 0 },
	{ "2E3", 0 },
	{ "+1", 0 },
	{ "\"1\"", 0 },
	{ "", 0 },
};

START_TEST(test_plain_int)
{
	const char *s = plain_ints[_i].s;
	size_t n = json_plain_int(s, strlen(s));
	char *dump;
	json_t *v;

	ck_assert_msg(n == plain_ints[_i].tok, "\"%s\": %zu, expected %zu", s,
	    n, plain_ints[_i].tok);
	if (n == 0)
		return;
	/* The token is an integer that prints as the same bytes. */
	v = json_parse_strict(s, n, NULL, 0);
	ck_assert(json_is_integer(v));
	dump = json_dumps(v, JSON_ENCODE_ANY);
	ck_assert_uint_eq(strlen(dump), n);
	ck_assert(memcmp(dump, s, n) == 0);
	free(dump);
	json_decref(v);
}
END_TEST

/* json_skip_ws: RFC 8259's four whitespace bytes, never past end. */
START_TEST(test_skip_ws)
{
	static const char ws[] = " \t\r\n1 \v";

	ck_assert_ptr_eq(json_skip_ws(ws, ws + 7), ws + 4);
	ck_assert_ptr_eq(json_skip_ws(ws, ws + 3), ws + 3);
	ck_assert_ptr_eq(json_skip_ws(ws + 4, ws + 7), ws + 4);
	ck_assert_ptr_eq(json_skip_ws(ws + 5, ws + 7), ws + 6); /* not \v */
}
END_TEST

/* ------------------------------------------------------------------ */
/* rpc_request_scan against the general path: see scan_differ.h. */
struct scan_in {
	const char *s;
	size_t len;
	bool fast; /* rpc_request_scan takes it */
};
#define FAST(s)                        \
	{                              \
		s, sizeof(s) - 1, true \
	}
#define SLOW(s)                         \
	{                               \
		s, sizeof(s) - 1, false \
	}

static const struct scan_in scans[] = {
	/* What clients send. */
	FAST("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"),
	FAST("{\"jsonrpc\":\"2.0\",\"id\":131072,\"method\":\"spin\","
	     "\"params\":{\"ms\":0}}"),
	FAST("{\"jsonrpc\":\"2.0\",\"method\":\"spin\",\"params\":{\"ms\":1}}"),
	FAST("{\"method\":\"sleep\",\"params\":{\"ms\":5,\"timeout_ms\":1},"
	     "\"id\":\"a-b\",\"jsonrpc\":\"2.0\"}"),
	FAST(" \t{ \"jsonrpc\" : \"2.0\" ,\n\"id\" :-7 , \"method\":\"x\","
	     "\"params\" : { } }\r\n "),
	FAST("{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"\"}"),
	FAST("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"m\"}"),
	FAST("{\"jsonrpc\":\"2.0\",\"id\":999999999999999999,"
	     "\"method\":\"m\"}"),
	FAST("{\"jsonrpc\":\"2.0\",\"id\":-999999999999999999,"
	     "\"method\":\"m\"}"),
	FAST("{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\xa9\x7f/\xf0\x9f\x98\x80\","
	     "\"method\":\"\xe2\x82\xac\"}"),
	FAST("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"file.read\","
	     "\"params\":{\"path\":\"a\\\\b\\u00e9\",\"x\":[1,2.5,null,true],"
	     "\"p\":{\"ms\":1,\"ms\":2}}}"),
	/* 45 bytes, 2 quotes and the NUL fill the buffer; one more does not. */
	FAST("{\"jsonrpc\":\"2.0\",\"id\":\"0123456789012345678901234567890"
	     "12345678901234\",\"method\":\"m\"}"),
	FAST("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"0123456789012345678"
	     "901234567890\"}"), /* 31 bytes */
	/* Envelope errors and unusual shapes: the general path. */
	SLOW(""), SLOW("   "), SLOW("{}"), SLOW("[]"), SLOW("1"), SLOW("null"),
	SLOW("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1}"),
	SLOW("{\"id\":1,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.1\",\"id\":1,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\\u0000\",\"id\":1,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"\\u0032.0\",\"id\":1,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":1}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":null}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\\u0069ng\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\\u0000x\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1e3,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":-0,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":-,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":+1,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1234567890123456789,"
	     "\"method\":\"ping\"}"), /* 19 digits */
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999,"
	     "\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":\"a\\/b\",\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\",\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":\"\x01\",\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	     "\"params\":[]}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":1}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	     "\"params\":null}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"parms\":{}}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	     "\"params\":{\"a\":}}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	     "\"params\":{\"a\":1}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"i\\u0064\":2,\"method\":\"m\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\\u0000x\":1,\"method\":\"m\"}"),
	/* Duplicates: the last one wins, the general way. */
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"m\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"method\":\"b\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"jsonrpc\":\"2.0\",\"method\":\"b\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"method\":\"b\",\"params\":{},"
	     "\"params\":{\"a\":1}}"),
	/* Bad JSON around a good envelope. */
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}x"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\""),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1 \"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\0"),
	SLOW("\0{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\f"),
	SLOW("{\"jsonrpc\"\0:\"2.0\",\"id\":1,\"method\":\"ping\"}"),
	/* Too long for the buffers: the general path copes. */
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":\"0123456789012345678901234567890"
	     "123456789012345\",\"method\":\"m\"}"),
	SLOW("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"0123456789012345678"
	     "9012345678901\"}"), /* 32 bytes */
};

START_TEST(test_scan_table)
{
	const struct scan_in *c = &scans[_i];
	const char *why;
	bool fast;

	why = scan_differ(c->s, c->len, &fast);
	ck_assert_msg(why == NULL, "\"%s\": %s", show(c->s, c->len), why);
	ck_assert_msg(fast == c->fast, "\"%s\": %s, expected %s",
	    show(c->s, c->len), fast ? "scanned" : "left",
	    c->fast ? "scanned" : "left");
}
END_TEST

/* The depth of params counts from the request object, as in the JSON. */
START_TEST(test_scan_depth)
{
	static const char head[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":";
	size_t n, len, plen;
	char *p, *line;
	const char *why;
	bool fast;

	/* Request object, n objects, a scalar: 2048 levels, then 2049. */
	for (n = JSON_PARSER_MAX_DEPTH - 2; n <= JSON_PARSER_MAX_DEPTH - 1;
	     n++) {
		p = nest(n, true, "1", &plen);
		len = sizeof(head) - 1 + plen + 1;
		ck_assert_ptr_nonnull(line = malloc(len));
		memcpy(line, head, sizeof(head) - 1);
		memcpy(line + sizeof(head) - 1, p, plen);
		line[len - 1] = '}';
		why = scan_differ(line, len, &fast);
		ck_assert_msg(why == NULL, "depth %zu: %s", n, why);
		ck_assert_msg(fast == (n == JSON_PARSER_MAX_DEPTH - 2),
		    "depth %zu: %s", n, fast ? "scanned" : "left");
		free(line);
		free(p);
	}
}
END_TEST

/* Mutations of request lines: the scan never takes what it should not. */
START_TEST(test_scan_mutations)
{
	char buf[512];
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t n, len, pos, k, iter, nscans;
	unsigned fast_n = 0, total = 0;
	const char *why;
	bool fast;

	nscans = sizeof(scans) / sizeof(scans[0]);
	for (iter = 0; iter < 30000; iter++) {
		/* Mostly lines the scan takes, so that mutants are near. */
		do
			k = rnd(&seed) % nscans;
		while (!scans[k].fast && rnd(&seed) % 4 != 0);
		len = scans[k].len;
		memcpy(buf, scans[k].s, len);
		n = rnd(&seed) % 4; /* 0: the line as it is */
		while (n-- > 0) {
			pos = len ? rnd(&seed) % (len + 1) : 0;
			switch (rnd(&seed) % 5) {
			case 0: /* flip a bit */
				if (pos < len)
					buf[pos] ^=
					    (char)(1u << rnd(&seed) % 8);
				break;
			case 1: /* overwrite with an interesting byte */
				if (pos < len)
					buf[pos] = interesting[rnd(&seed) %
					    sizeof(interesting)];
				break;
			case 2: /* insert an interesting byte */
				if (len + 1 < sizeof(buf)) {
					memmove(buf + pos + 1, buf + pos,
					    len - pos);
					buf[pos] = interesting[rnd(&seed) %
					    sizeof(interesting)];
					len++;
				}
				break;
			case 3: /* delete a byte */
				if (pos < len) {
					memmove(buf + pos, buf + pos + 1,
					    len - pos - 1);
					len--;
				}
				break;
			default: { /* insert a snippet */
				const char *sn = snippets[rnd(&seed) %
				    (sizeof(snippets) / sizeof(snippets[0]))];
				size_t sl = strlen(sn);

				if (len + sl < sizeof(buf)) {
					memmove(buf + pos + sl, buf + pos,
					    len - pos);
					memcpy(buf + pos, sn, sl);
					len += sl;
				}
				break;
			}
			}
		}
		why = scan_differ(buf, len, &fast);
		ck_assert_msg(why == NULL, "mutation %zu \"%s\": %s", iter,
		    show(buf, len), why);
		fast_n += fast;
		total++;
	}
	/* Both sides of the line are reached. */
	ck_assert_uint_gt(fast_n, total / 10);
	ck_assert_uint_lt(fast_n, total - total / 10);
}
END_TEST

static Suite *
json_parse_suite(void)
{
	Suite *s = suite_create("json_parse");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_loop_test(
	    tc, test_table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_loop_test(tc, test_depth, 0, sizeof(deep) / sizeof(deep[0]));
	tcase_add_test(tc, test_long);
	tcase_add_loop_test(
	    tc, test_messages, 0, sizeof(messages) / sizeof(messages[0]));
	tcase_add_test(tc, test_len);
	suite_add_tcase(s, tc);

	tc = tcase_create("differential");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mutations);
	suite_add_tcase(s, tc);

	tc = tcase_create("value");
	tcase_add_loop_test(
	    tc, test_value, 0, sizeof(prefixes) / sizeof(prefixes[0]));
	tcase_add_test(tc, test_value_errors);
	tcase_add_loop_test(
	    tc, test_plain_string, 0, sizeof(plains) / sizeof(plains[0]));
	tcase_add_loop_test(
	    tc, test_plain_int, 0, sizeof(plain_ints) / sizeof(plain_ints[0]));
	tcase_add_test(tc, test_skip_ws);
	suite_add_tcase(s, tc);

	tc = tcase_create("request_scan");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(
	    tc, test_scan_table, 0, sizeof(scans) / sizeof(scans[0]));
	tcase_add_test(tc, test_scan_depth);
	tcase_add_test(tc, test_scan_mutations);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(json_parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
