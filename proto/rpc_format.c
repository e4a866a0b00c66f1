/*
 * rpc_format.c - the writing side of the codec: ids to their canonical
 * compact text, and reply and notification lines.  A reply is built by
 * concatenation into one growing buffer (the id is already text, and the
 * result is dumped straight into the buffer through jansson's callback),
 * so a small reply costs one malloc and no intermediate JSON objects.
 *
 * Thread safety: reentrant; workers format their own replies.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

#define RPC_DUMP_FLAGS	(JSON_COMPACT | JSON_ENCODE_ANY)

struct rpc_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	bool	 failed;	/* out of memory, or a value jansson refused */
};

static void
rpc_buf_init(struct rpc_buf *b, size_t hint)
{
	b->len = 0;
	b->cap = hint < 64 ? 64 : hint;
	b->p = malloc(b->cap);
	b->failed = b->p == NULL;
}

static void
rpc_buf_add(struct rpc_buf *b, const char *s, size_t n)
{
	char	*p;
	size_t	 cap;

	if (b->failed)
		return;
	if (n > b->cap - b->len) {
		cap = b->cap;
		while (n > cap - b->len) {
			if (cap > SIZE_MAX / 2) {
				b->failed = true;
				return;
			}
			cap *= 2;
		}
		if ((p = realloc(b->p, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

#define rpc_buf_lit(b, lit)	rpc_buf_add((b), (lit), sizeof(lit) - 1)

static void
rpc_buf_str(struct rpc_buf *b, const char *s)
{
	rpc_buf_add(b, s, strlen(s));
}

static int
rpc_buf_dump_cb(const char *s, size_t n, void *arg)
{
	struct rpc_buf	*b = arg;

	rpc_buf_add(b, s, n);
	return b->failed ? -1 : 0;
}

static void
rpc_buf_json(struct rpc_buf *b, const json_t *v)
{
	if (v == NULL) {
		rpc_buf_lit(b, "null");
		return;
	}
	if (!b->failed && json_dump_callback(v, rpc_buf_dump_cb, b,
	    RPC_DUMP_FLAGS) != 0)
		b->failed = true;
}

/* Length of the valid UTF-8 sequence at s[0 .. n), or 0 when invalid. */
static size_t
rpc_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char	c = s[0];
	size_t		len;
	unsigned char	lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;	/* no UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/*
 * Append s as a JSON string.  Messages are formatted by the daemon from
 * arbitrary text (file names, member names), so invalid UTF-8 becomes
 * U+FFFD instead of making the whole reply unencodable.
 */
static void
rpc_buf_quote(struct rpc_buf *b, const char *str)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n = strlen(str), i = 0, run = 0, k;
	char			 esc[6];

	rpc_buf_lit(b, "\"");
	while (i < n) {
		if (s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' &&
		    s[i] != '\\') {
			i++;
			run++;
			continue;
		}
		k = s[i] >= 0x80 ? rpc_utf8_seq(s + i, n - i) : 0;
		if (k > 0) {
			i += k;
			run += k;
			continue;
		}
		rpc_buf_add(b, (const char *)s + i - run, run);
		run = 0;
		switch (s[i]) {
		case '"':
			rpc_buf_lit(b, "\\\"");
			break;
		case '\\':
			rpc_buf_lit(b, "\\\\");
			break;
		case '\n':
			rpc_buf_lit(b, "\\n");
			break;
		case '\r':
			rpc_buf_lit(b, "\\r");
			break;
		case '\t':
			rpc_buf_lit(b, "\\t");
			break;
		default:
			if (s[i] < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[s[i] >> 4];
				esc[5] = hex[s[i] & 0xf];
				rpc_buf_add(b, esc, sizeof(esc));
			} else
				rpc_buf_lit(b, "\\ufffd");
			break;
		}
		i++;
	}
	rpc_buf_add(b, (const char *)s + i - run, run);
	rpc_buf_lit(b, "\"");
}

static char *
rpc_buf_finish(struct rpc_buf *b, size_t *lenp)
{
	rpc_buf_lit(b, "}\n");
	if (b->failed) {
		free(b->p);
		if (lenp != NULL)
			*lenp = 0;
		return NULL;
	}
	if (lenp != NULL)
		*lenp = b->len;
	/* Callers may treat the line as a C string too. */
	rpc_buf_add(b, "", 1);
	if (b->failed) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

char *
rpc_id_dump(const json_t *id)
{
	char	*s;

	if (id == NULL || json_is_null(id))
		return strdup("null");
	if (json_is_integer(id)) {
		/*
		 * The common case, kept away from the generic encoder and
		 * from printf: it runs for every request on the event thread.
		 */
		json_int_t		 v = json_integer_value(id);
		unsigned long long	 u;
		char			 digits[24], *p = digits + sizeof(digits);
		size_t			 n;

		u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u != 0);
		if (v < 0)
			*--p = '-';
		n = (size_t)(digits + sizeof(digits) - p);
		if ((s = malloc(n + 1)) == NULL)
			return NULL;
		memcpy(s, p, n);
		s[n] = '\0';
		return s;
	}
	return json_dumps(id, RPC_DUMP_FLAGS);
}

char *
rpc_format_result(const char *id_json, const json_t *result, size_t *lenp)
{
	struct rpc_buf	b;

	if (id_json == NULL)
		id_json = "null";
	rpc_buf_init(&b, 128 + strlen(id_json));
	rpc_buf_lit(&b, "{\"jsonrpc\":\"2.0\",\"id\":");
	rpc_buf_str(&b, id_json);
	rpc_buf_lit(&b, ",\"result\":");
	rpc_buf_json(&b, result);
	return rpc_buf_finish(&b, lenp);
}

char *
rpc_format_error(const char *id_json, const struct rpc_error *err,
    size_t *lenp)
{
	struct rpc_buf	b;
	char		num[16];
	int		n;

	if (id_json == NULL)
		id_json = "null";
	rpc_buf_init(&b, 192 + strlen(id_json) + strlen(err->message));
	rpc_buf_lit(&b, "{\"jsonrpc\":\"2.0\",\"id\":");
	rpc_buf_str(&b, id_json);
	rpc_buf_lit(&b, ",\"error\":{\"code\":");
	n = snprintf(num, sizeof(num), "%d", err->code);
	rpc_buf_add(&b, num, (size_t)n);
	rpc_buf_lit(&b, ",\"message\":");
	rpc_buf_quote(&b, err->message[0] != '\0' ? err->message :
	    rpc_code_message(err->code));
	if (err->data != NULL) {
		rpc_buf_lit(&b, ",\"data\":");
		rpc_buf_json(&b, err->data);
	}
	rpc_buf_lit(&b, "}");
	return rpc_buf_finish(&b, lenp);
}

char *
rpc_format_notification(const char *method, const json_t *params,
    size_t *lenp)
{
	struct rpc_buf	b;

	rpc_buf_init(&b, 128 + strlen(method));
	rpc_buf_lit(&b, "{\"jsonrpc\":\"2.0\",\"method\":");
	rpc_buf_quote(&b, method);
	if (params != NULL) {
		rpc_buf_lit(&b, ",\"params\":");
		rpc_buf_json(&b, params);
	}
	return rpc_buf_finish(&b, lenp);
}
