/*
 * rpc_format.c - the writing side of the codec: ids to their canonical
 * compact text, and reply and notification lines.  A reply is built by
 * concatenation into one growing buffer (the id is already text, and the
 * result is written straight into the buffer), so a small reply costs one
 * malloc and no intermediate JSON objects.
 *
 * JSON values are written by rpc_buf_value, not by json_dump_callback:
 * jansson's dumper sets up a hash table per call to detect cycles, names
 * every container with snprintf("%p") for it and prints integers with
 * snprintf, which made the dump most of a small reply's cost.  The output
 * is byte for byte json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) of
 * jansson 2.14 (tests/check_rpc.c compares the two on a table, and
 * fuzz_rpc on every reply it formats).
 *
 * Thread safety: reentrant; workers format their own replies.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_parse.h"
#include "rpc.h"

#define RPC_DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

/*
 * Containers nested deeper than this are handed to jansson.  Client
 * values nest at most JSON_PARSER_MAX_DEPTH and replies wrap them in a
 * level or two, so only hand-built values and cycles get there; jansson
 * writes the same bytes for the former and refuses the latter.
 */
#define RPC_JSON_DEPTH (JSON_PARSER_MAX_DEPTH + 64)

/* Room for the decimal text of any json_int_t. */
#define RPC_INT_BUF 24

struct rpc_buf {
	char *p;
	size_t len;
	size_t cap;
	bool failed; /* out of memory, or a value refused */
};

static void
rpc_buf_init(struct rpc_buf *b, size_t hint)
{
	b->len = 0;
	b->cap = hint < 16 ? 16 : hint;
	b->p = malloc(b->cap);
	b->failed = b->p == NULL;
}

/* Make room for n more bytes; false (and failed) when there is none. */
static bool
rpc_buf_grow(struct rpc_buf *b, size_t n)
{
	char *p;
	size_t cap;

	if (b->failed)
		return false;
	cap = b->cap;
	while (n > cap - b->len) {
		if (cap > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static inline bool
rpc_buf_room(struct rpc_buf *b, size_t n)
{
	if (__builtin_expect(!b->failed && n <= b->cap - b->len, 1))
		return true;
	return rpc_buf_grow(b, n);
}

static inline void
rpc_buf_add(struct rpc_buf *b, const void *s, size_t n)
{
	if (!rpc_buf_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void
rpc_buf_byte(struct rpc_buf *b, char c)
{
	if (!rpc_buf_room(b, 1))
		return;
	b->p[b->len++] = c;
}

#define rpc_buf_lit(b, lit) rpc_buf_add((b), (lit), sizeof(lit) - 1)

/*
 * Decimal text of v, ending at buf + RPC_INT_BUF; returns its start.
 * Every id, code and integer goes through here, so not through printf.
 */
static char *
rpc_fmt_int(char *buf, long long v)
{
	unsigned long long u;
	char *p = buf + RPC_INT_BUF;

	u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		*--p = '-';
	return p;
}

static void
rpc_buf_int(struct rpc_buf *b, long long v)
{
	char buf[RPC_INT_BUF], *p;

	p = rpc_fmt_int(buf, v);
	rpc_buf_add(b, p, (size_t)(buf + RPC_INT_BUF - p));
}

/*
 * Are all 8 bytes of x plain?  Base64 payloads of file.read and zstd run
 * to megabytes, so they are scanned a word at a time.  Each test is exact
 * in the "none" direction: no byte below 0x20, equal to '"' or '\\', or
 * with its high bit set.
 */
static inline bool
rpc_plain8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull;
	const uint64_t high = ones * 0x80;
	uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');

	return ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
		    ((bs - ones) & ~bs) | x) &
		   high) == 0;
}

/*
 * Append a string jansson holds, escaped as its dump_string does without
 * flags: \" \\ \b \f \n \r \t, other controls as \u00XX in upper
 * case, everything else (0x7f, '/', U+2028, any non-ASCII) raw.  Invalid
 * UTF-8 (possible only through jansson's *_nocheck calls) gives false,
 * leaving out, as jansson does, the bytes since the last escape; or, when
 * lossy (C strings: error messages, which may quote a client's bytes),
 * each invalid byte becomes \ufffd.  The daemon's one string escaper.
 */
static bool
rpc_buf_jstr(struct rpc_buf *b, const char *str, size_t n, bool lossy)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;
	const unsigned char *end = s + n, *run = s, *lim;
	const char *e;
	uint64_t x;
	size_t k;
	char esc[6] = { '\\', 'u', '0', '0' };

	rpc_buf_byte(b, '"');
	while (s < end) {
		if (end - s >= 8) {
			memcpy(&x, s, sizeof(x));
			if (rpc_plain8(x)) {
				s += 8;
				continue;
			}
			lim = s + 8;
		} else
			lim = end;
		while (s < lim) {
			if (json_byte_class[*s] == JSON_BYTE_PLAIN) {
				s++;
				continue;
			}
			if (json_byte_class[*s] == JSON_BYTE_HIGH) {
				k = json_utf8_len(s, end);
				if (k == 0 && !lossy)
					return false;
				if (k > 0) {
					s += k;
					continue;
				}
			}
			rpc_buf_add(b, run, (size_t)(s - run));
			for (e = json_escapes; *e != '\0' && e[1] != (char)*s;
			     e += 2)
				;
			if (*s >= 0x80)
				rpc_buf_lit(b, "\\ufffd");
			else if (*e != '\0') {
				rpc_buf_byte(b, '\\');
				rpc_buf_byte(b, *e);
			} else {
				esc[4] = hex[*s >> 4];
				esc[5] = hex[*s & 0xf];
				rpc_buf_add(b, esc, sizeof(esc));
			}
			run = ++s;
		}
	}
	rpc_buf_add(b, run, (size_t)(s - run));
	rpc_buf_byte(b, '"');
	return true;
}

static int
rpc_buf_dump_cb(const char *s, size_t n, void *arg)
{
	struct rpc_buf *b = arg;

	rpc_buf_add(b, s, n);
	return b->failed ? -1 : 0;
}

/*
 * v as jansson itself writes it: containers nested too deep (or cyclic:
 * jansson has the cycle check), and reals, which sbkd's own replies never
 * hold.
 */
static void
rpc_buf_jansson(struct rpc_buf *b, const json_t *v)
{
	if (!b->failed &&
	    json_dump_callback(v, rpc_buf_dump_cb, b, RPC_DUMP_FLAGS) != 0)
		b->failed = true;
}

static void rpc_buf_value(struct rpc_buf *, const json_t *, unsigned);

static void
rpc_buf_object(struct rpc_buf *b, const json_t *v, unsigned depth)
{
	void *it;

	if ((it = json_object_iter((json_t *)v)) == NULL) {
		rpc_buf_lit(b, "{}");
		return;
	}
	rpc_buf_byte(b, '{');
	for (;;) {
		/*
		 * jansson ignores a key it cannot encode and carries on;
		 * so does this, to give the same bytes.
		 */
		(void)rpc_buf_jstr(b, json_object_iter_key(it),
		    json_object_iter_key_len(it), false);
		rpc_buf_byte(b, ':');
		rpc_buf_value(b, json_object_iter_value(it), depth + 1);
		if (b->failed)
			return;
		if ((it = json_object_iter_next((json_t *)v, it)) == NULL)
			break;
		rpc_buf_byte(b, ',');
	}
	rpc_buf_byte(b, '}');
}

static void
rpc_buf_array(struct rpc_buf *b, const json_t *v, unsigned depth)
{
	size_t n = json_array_size(v);

	if (n == 0) {
		rpc_buf_lit(b, "[]");
		return;
	}
	rpc_buf_byte(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			rpc_buf_byte(b, ',');
		rpc_buf_value(b, json_array_get(v, i), depth + 1);
		if (b->failed)
			return;
	}
	rpc_buf_byte(b, ']');
}

/* Append v as json_dumps(v, RPC_DUMP_FLAGS) would; depth: enclosing levels. */
static void
rpc_buf_value(struct rpc_buf *b, const json_t *v, unsigned depth)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth >= RPC_JSON_DEPTH)
			rpc_buf_jansson(b, v);
		else if (json_is_object(v))
			rpc_buf_object(b, v, depth);
		else
			rpc_buf_array(b, v, depth);
		break;
	case JSON_STRING:
		if (!rpc_buf_jstr(
			b, json_string_value(v), json_string_length(v), false))
			b->failed = true;
		break;
	case JSON_INTEGER:
		rpc_buf_int(b, json_integer_value(v));
		break;
	case JSON_REAL:
		rpc_buf_jansson(b, v);
		break;
	case JSON_TRUE:
		rpc_buf_lit(b, "true");
		break;
	case JSON_FALSE:
		rpc_buf_lit(b, "false");
		break;
	case JSON_NULL:
		rpc_buf_lit(b, "null");
		break;
	default:
		b->failed = true;
		break;
	}
}

static void
rpc_buf_json(struct rpc_buf *b, const json_t *v)
{
	if (v == NULL)
		rpc_buf_lit(b, "null");
	else
		rpc_buf_value(b, v, 0);
}

/* NUL-terminate (callers may treat the text as a C string) and hand over. */
static char *
rpc_buf_end(struct rpc_buf *b, size_t *lenp)
{
	rpc_buf_byte(b, '\0');
	if (b->failed) {
		free(b->p);
		if (lenp != NULL)
			*lenp = 0;
		return NULL;
	}
	if (lenp != NULL)
		*lenp = b->len - 1;
	return b->p;
}

/* A reply's start, {"jsonrpc":"2.0","id":ID, and room for hint more bytes. */
static void
rpc_buf_reply(struct rpc_buf *b, const char *id_json, size_t hint)
{
	size_t idlen;

	if (id_json == NULL)
		id_json = "null";
	idlen = strlen(id_json);
	rpc_buf_init(b, hint + idlen);
	rpc_buf_lit(b, "{\"jsonrpc\":\"2.0\",\"id\":");
	rpc_buf_add(b, id_json, idlen);
}

char *
rpc_id_dump(const json_t *id)
{
	struct rpc_buf b;

	if (id == NULL || json_is_null(id))
		return strdup("null");
	rpc_buf_init(&b, json_is_string(id) ? json_string_length(id) + 8 : 0);
	rpc_buf_value(&b, id, 0);
	return rpc_buf_end(&b, NULL);
}

char *
rpc_format_result(const char *id_json, const json_t *result, size_t *lenp)
{
	struct rpc_buf b;

	rpc_buf_reply(&b, id_json, 128);
	rpc_buf_lit(&b, ",\"result\":");
	rpc_buf_json(&b, result);
	rpc_buf_lit(&b, "}\n");
	return rpc_buf_end(&b, lenp);
}

char *
rpc_format_error(const char *id_json, const struct rpc_error *err, size_t *lenp)
{
	struct rpc_buf b;
	const char *msg;

	rpc_buf_reply(&b, id_json, 192 + strlen(err->message));
	rpc_buf_lit(&b, ",\"error\":{\"code\":");
	rpc_buf_int(&b, err->code);
	rpc_buf_lit(&b, ",\"message\":");
	msg = err->message[0] != '\0' ? err->message :
					rpc_code_message(err->code);
	rpc_buf_jstr(&b, msg, strlen(msg), true);
	if (err->data != NULL) {
		rpc_buf_lit(&b, ",\"data\":");
		rpc_buf_json(&b, err->data);
	}
	rpc_buf_lit(&b, "}}\n");
	return rpc_buf_end(&b, lenp);
}

char *
rpc_format_notification(const char *method, const json_t *params, size_t *lenp)
{
	struct rpc_buf b;

	rpc_buf_init(&b, 128 + strlen(method));
	rpc_buf_lit(&b, "{\"jsonrpc\":\"2.0\",\"method\":");
	rpc_buf_jstr(&b, method, strlen(method), true);
	if (params != NULL) {
		rpc_buf_lit(&b, ",\"params\":");
		rpc_buf_json(&b, params);
	}
	rpc_buf_lit(&b, "}\n");
	return rpc_buf_end(&b, lenp);
}
