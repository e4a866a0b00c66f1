/*
 * json_parse.c - JSON text to jansson values without jansson's lexer.
 * jansson reads its input one byte at a time through a callback, keeps
 * every token in a growing buffer and decodes strings twice; on a short
 * JSON-RPC request that is most of the event thread's work.  This parser
 * walks the buffer with a pointer: an explicit stack of open containers
 * (no recursion, so a deep document costs heap, not C stack), strings
 * without escapes handed to jansson straight from the input, escaped
 * strings decoded into one scratch buffer that also holds the pending
 * member names, integers accumulated by hand and reals given to strtod.
 *
 * The accepted language and the values built are jansson's with
 * JSON_ALLOW_NUL | JSON_DECODE_ANY (see json_parse.h for the one
 * exception): RFC 8259 grammar, strict UTF-8, no raw control characters
 * in strings, paired surrogate escapes, U+0000 in string values but not
 * in member names, the last of duplicate members wins, integers must fit
 * json_int_t, reals must not overflow, and at most JSON_PARSER_MAX_DEPTH
 * nested values (a scalar counts as one level, as in jansson).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_parse.h"

/* Integer limits below are long long's. */
_Static_assert(
    sizeof(json_int_t) == sizeof(long long), "json_int_t must be long long");

#define JP_MAX_DEPTH JSON_PARSER_MAX_DEPTH
#define JP_LEVELS    32	 /* open containers kept in the frame */
#define JP_SCRATCH   256 /* escape scratch kept in the frame */
#define JP_NUMBUF    64	 /* a real's text, NUL-terminated, for strtod */

const unsigned char json_byte_class[256] = {
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x00 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x10 */
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, /* 0x50 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x70 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x80 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x90 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xa0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xb0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xc0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xd0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xe0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xf0 */
};

const char json_escapes[] = "\"\"\\\\//b\bf\fn\nr\rt\t";

/* An open array or object and, for an object, its pending member name. */
struct jp_level {
	json_t *c;
	const char *key; /* in the input; NULL: in scr at koff */
	size_t koff;
	size_t klen;
};

struct jp {
	const unsigned char *p; /* next byte to read */
	const unsigned char *end;
	const unsigned char *buf;
	size_t depth; /* containers open around the text */
	char *err;
	size_t errlen;
	int errnum; /* errno to fail with */
	/* Decoded escaped strings; the member names in use are a stack. */
	char *scr;
	size_t scrlen;
	size_t scrcap;
	struct jp_level *lv;
	size_t nlv;
	size_t lvcap;
	struct jp_level lvinit[JP_LEVELS];
	char scrinit[JP_SCRATCH];
};

/*
 * Record an error; at, when not NULL, is where in the input.  Returns
 * false, as do the other error recorders, for "return jp_error(...)".
 */
static bool
jp_error(struct jp *jp, const char *what, const unsigned char *at)
{
	jp->errnum = EINVAL;
	if (jp->errlen > 0 && at != NULL)
		(void)snprintf(jp->err, jp->errlen, "%s at byte %zu", what,
		    (size_t)(at - jp->buf));
	else if (jp->errlen > 0)
		(void)snprintf(jp->err, jp->errlen, "%s", what);
	return false;
}

static bool
jp_oom(struct jp *jp)
{
	jp_error(jp, "out of memory", NULL);
	jp->errnum = ENOMEM;
	return false;
}

/* "invalid token", or "unexpected end of input" when there is none. */
static bool
jp_bad_token(struct jp *jp)
{
	if (jp->p == jp->end)
		return jp_error(jp, "unexpected end of input", NULL);
	if (*jp->p == '\0')
		return jp_error(jp, "NUL byte", jp->p);
	return jp_error(jp, "invalid token", jp->p);
}

static inline void
jp_skip_ws(struct jp *jp)
{
	jp->p = (const unsigned char *)json_skip_ws(
	    (const char *)jp->p, (const char *)jp->end);
}

static inline bool
jp_isdigit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

size_t
json_utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t avail = (size_t)(end - p);
	unsigned c = p[0];

	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0)
			return 0;
		if (c == 0xed && p[1] > 0x9f)
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (avail < 4 || (p[1] & 0xc0) != 0x80 ||
		    (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90)
			return 0;
		if (c == 0xf4 && p[1] > 0x8f)
			return 0;
		return 4;
	}
	return 0;
}

/* The four hex digits at p as a code unit, or -1. */
static long
jp_hex4(const unsigned char *p, const unsigned char *end)
{
	long v = 0;
	int i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		unsigned char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (c | 0x20) - 'a' + 10;
		else
			return -1;
	}
	return v;
}

/* Encode cp (a scalar value) as UTF-8 at t; returns the length. */
static size_t
jp_utf8_put(char *t, unsigned long cp)
{
	if (cp < 0x80) {
		t[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		t[0] = (char)(0xc0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		t[0] = (char)(0xe0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	t[0] = (char)(0xf0 | (cp >> 18));
	t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	t[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * buf (cap bytes, used of them kept) moved from the in-frame init to the
 * heap, or grown there; NULL when out of memory.
 */
static void *
jp_grow(struct jp *jp, void *buf, const void *init, size_t used, size_t cap)
{
	void *n;

	if (buf == init) {
		if ((n = malloc(cap)) != NULL)
			memcpy(n, buf, used);
	} else
		n = realloc(buf, cap);
	if (n == NULL)
		jp_oom(jp);
	return n;
}

/* Make room for need more bytes of scratch after scrlen. */
static bool
jp_scr_reserve(struct jp *jp, size_t need)
{
	size_t cap = jp->scrcap * 2;
	char *n;

	if (need <= jp->scrcap - jp->scrlen)
		return true;
	if (cap - jp->scrlen < need)
		cap = jp->scrlen + need;
	if ((n = jp_grow(jp, jp->scr, jp->scrinit, jp->scrlen, cap)) == NULL)
		return false;
	jp->scr = n;
	jp->scrcap = cap;
	return true;
}

/* An invalid byte inside a string, at p. */
static bool
jp_string_error(struct jp *jp, const unsigned char *p)
{
	if (json_byte_class[*p] != JSON_BYTE_CTRL)
		return jp_error(jp, "invalid UTF-8", p);
	return jp_error(jp,
	    *p == '\0' ? "NUL byte in string" : "control character in string",
	    p);
}

/*
 * The escape whose backslash is at *pp, decoded to *tp; both move past
 * it.  A high surrogate must come with its low one, as one escape pair.
 */
static bool
jp_unescape(struct jp *jp, const unsigned char **pp, char **tp)
{
	const unsigned char *esc = *pp, *p = esc + 1, *end = jp->end;
	const char *c;
	long cp, lo;

	if (p == end)
		return jp_error(jp, "unterminated string", NULL);
	if (*p != 'u') {
		for (c = json_escapes; *c != '\0' && *c != (char)*p; c += 2)
			;
		if (*c == '\0')
			return jp_error(jp, "invalid escape", esc);
		*(*tp)++ = c[1];
		*pp = p + 1;
		return true;
	}
	if ((cp = jp_hex4(p + 1, end)) < 0)
		return jp_error(jp, "invalid escape", esc);
	p += 5;
	if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 2 && p[0] == '\\' &&
	    p[1] == 'u') {
		if ((lo = jp_hex4(p + 2, end)) < 0)
			return jp_error(jp, "invalid escape", p);
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		return jp_error(jp, "unpaired surrogate escape", esc);
	*tp += jp_utf8_put(*tp, (unsigned long)cp);
	*pp = p;
	return true;
}

/*
 * Past the bytes from p that stand for themselves in a string: plain
 * ASCII and well-formed UTF-8.  Stops at end, a quote, a backslash or an
 * invalid byte.
 */
static const unsigned char *
jp_plain_run(const unsigned char *p, const unsigned char *end)
{
	size_t n;

	for (;;) {
		while (p < end && json_byte_class[*p] == JSON_BYTE_PLAIN)
			p++;
		if (p == end || json_byte_class[*p] != JSON_BYTE_HIGH ||
		    (n = json_utf8_len(p, end)) == 0)
			return p;
		p += n;
	}
}

/*
 * The rest of a string holding an escape, from p (the first backslash),
 * decoded after the plain bytes from start into scratch at scrlen (not
 * reserved).  Decoding never makes a string longer than its source.
 */
static bool
jp_string_decode(struct jp *jp, const unsigned char *start,
    const unsigned char *p, const char **s, size_t *slen)
{
	const unsigned char *end = jp->end, *q;
	char *t, *t0;

	for (q = p; q < end && *q != '"';)
		q += *q == '\\' && end - q > 1 ? 2 : 1;
	if (!jp_scr_reserve(jp, (size_t)(q - start)))
		return false;
	t0 = t = jp->scr + jp->scrlen;
	for (q = start;; q = p) {
		p = jp_plain_run(q, end);
		memcpy(t, q, (size_t)(p - q));
		t += p - q;
		if (p == end)
			return jp_error(jp, "unterminated string", NULL);
		if (json_byte_class[*p] == JSON_BYTE_QUOTE)
			break;
		if (json_byte_class[*p] != JSON_BYTE_BSLASH)
			return jp_string_error(jp, p);
		if (!jp_unescape(jp, &p, &t))
			return false;
	}
	*s = t0;
	*slen = (size_t)(t - t0);
	jp->p = p + 1;
	return true;
}

/*
 * The string whose opening quote is at jp->p.  On success *s and *slen
 * are its decoded bytes, *inscr tells whether they are in the input
 * (false) or in scratch at scrlen, not reserved (true), and jp->p is past
 * the closing quote.
 */
static bool
jp_string(struct jp *jp, const char **s, size_t *slen, bool *inscr)
{
	const unsigned char *start = jp->p + 1;
	const unsigned char *p = jp_plain_run(start, jp->end);

	*inscr = false;
	if (p == jp->end)
		return jp_error(jp, "unterminated string", NULL);
	if (json_byte_class[*p] == JSON_BYTE_BSLASH) {
		*inscr = true;
		return jp_string_decode(jp, start, p, s, slen);
	}
	if (json_byte_class[*p] != JSON_BYTE_QUOTE)
		return jp_string_error(jp, p);
	*s = (const char *)start;
	*slen = (size_t)(p - start);
	jp->p = p + 1;
	return true;
}

/* Move *pp past one or more digits; false when there is none. */
static bool
jp_digits(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char *p = *pp;

	while (p < end && jp_isdigit(*p))
		p++;
	if (p == *pp)
		return false;
	*pp = p;
	return true;
}

/*
 * The end of the number token at jp->p ('-' or a digit) in RFC 8259's
 * grammar, *real when it has a fraction or an exponent; NULL after
 * jp_bad_token where the grammar breaks.
 */
static const unsigned char *
jp_number_end(struct jp *jp, bool *real)
{
	const unsigned char *p = jp->p, *end = jp->end;

	*real = false;
	if (*p == '-')
		p++;
	/* No leading zeros: a '0' is the whole integer part. */
	if (p < end && *p == '0')
		p++;
	else if (!jp_digits(&p, end))
		goto bad;
	if (p < end && *p == '.') {
		p++;
		*real = true;
		if (!jp_digits(&p, end))
			goto bad;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		*real = true;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!jp_digits(&p, end))
			goto bad;
	}
	return p;
bad:
	jp->p = p;
	jp_bad_token(jp);
	return NULL;
}

/* The integer token start .. end: an optional '-', no leading zero. */
static json_t *
jp_integer(struct jp *jp, const unsigned char *start, const unsigned char *end)
{
	bool neg = *start == '-';
	const unsigned char *p = start + neg;
	unsigned long long u = 0;
	json_t *v;

	/* No leading zeros: 20 digits or more is at least 1e19. */
	if (end - p > 19)
		u = ULLONG_MAX;
	else
		for (; p < end; p++)
			u = u * 10 + (unsigned)(*p - '0');
	if (u > (unsigned long long)LLONG_MAX + neg) {
		jp_error(jp, "integer out of range", start);
		return NULL;
	}
	/* -(u - 1) - 1: LLONG_MIN's magnitude does not fit json_int_t. */
	v = json_integer(
	    neg && u > 0 ? -(json_int_t)(u - 1) - 1 : (json_int_t)u);
	if (v == NULL)
		jp_oom(jp);
	return v;
}

/* The real token start .. end, through strtod. */
static json_t *
jp_real(struct jp *jp, const unsigned char *start, const unsigned char *end)
{
	size_t n = (size_t)(end - start);
	char nbuf[JP_NUMBUF], *text = nbuf;
	bool overflow;
	json_t *v;
	double d;

	/* strtod wants a terminated string. */
	if (n >= sizeof(nbuf) && (text = malloc(n + 1)) == NULL) {
		jp_oom(jp);
		return NULL;
	}
	memcpy(text, start, n);
	text[n] = '\0';
	errno = 0;
	d = strtod(text, NULL);
	/* As jansson: overflow is an error, underflow is not. */
	overflow = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
	if (text != nbuf)
		free(text);
	if (overflow) {
		jp_error(jp, "real number overflow", start);
		return NULL;
	}
	if ((v = json_real(d)) == NULL)
		jp_oom(jp);
	return v;
}

/* The number at jp->p ('-' or a digit). */
static json_t *
jp_number(struct jp *jp)
{
	const unsigned char *start = jp->p, *end;
	bool real;

	if ((end = jp_number_end(jp, &real)) == NULL)
		return NULL;
	jp->p = end;
	return real ? jp_real(jp, start, end) : jp_integer(jp, start, end);
}

/* Open a container: it becomes the innermost level. */
static bool
jp_push(struct jp *jp, json_t *c)
{
	size_t cap = jp->lvcap * 4;
	struct jp_level *n;

	if (c == NULL)
		return jp_oom(jp);
	if (jp->nlv == jp->lvcap) {
		if (cap > JP_MAX_DEPTH)
			cap = JP_MAX_DEPTH;
		n = jp_grow(jp, jp->lv, jp->lvinit, jp->nlv * sizeof(*n),
		    cap * sizeof(*n));
		if (n == NULL) {
			json_decref(c);
			return false;
		}
		jp->lv = n;
		jp->lvcap = cap;
	}
	jp->lv[jp->nlv++] = (struct jp_level){ .c = c };
	return true;
}

/* Match a literal at jp->p. */
static bool
jp_literal(struct jp *jp, const char *word, size_t len)
{
	if ((size_t)(jp->end - jp->p) < len || memcmp(jp->p, word, len) != 0)
		return jp_bad_token(jp);
	jp->p += len;
	return true;
}

/* A scalar at jp->p: a string, a literal or a number. */
static json_t *
jp_scalar(struct jp *jp)
{
	/* Set for the analyzer, which cannot see jp_string set them. */
	const char *s = NULL;
	size_t slen = 0;
	bool inscr = false;
	json_t *v;

	switch (*jp->p) {
	case '"':
		if (!jp_string(jp, &s, &slen, &inscr))
			return NULL;
		if ((v = json_stringn_nocheck(s, slen)) == NULL)
			jp_oom(jp);
		return v;
	case 't':
		return jp_literal(jp, "true", 4) ? json_true() : NULL;
	case 'f':
		return jp_literal(jp, "false", 5) ? json_false() : NULL;
	case 'n':
		return jp_literal(jp, "null", 4) ? json_null() : NULL;
	default:
		if (*jp->p == '-' || jp_isdigit(*jp->p))
			return jp_number(jp);
		jp_bad_token(jp);
		return NULL;
	}
}

/*
 * A member name and its ':' at jp->p (whitespace before it skipped): it
 * becomes the innermost object's pending name.
 */
static bool
jp_member_name(struct jp *jp)
{
	struct jp_level *top = &jp->lv[jp->nlv - 1];
	const char *s = NULL; /* as in jp_scalar */
	size_t slen = 0;
	bool inscr = false;

	if (jp->p == jp->end || *jp->p != '"')
		return jp_bad_token(jp);
	if (!jp_string(jp, &s, &slen, &inscr))
		return false;
	/*
	 * jansson refuses them too: "id\u0000x" must never alias "id".  Only
	 * an escape can make a NUL, so only decoded names can hold one.
	 */
	if (inscr && memchr(s, '\0', slen) != NULL)
		return jp_error(jp, "NUL byte in member name", NULL);
	top->klen = slen;
	if (inscr) {
		top->key = NULL;
		top->koff = jp->scrlen;
		jp->scrlen += slen;
	} else
		top->key = s;
	jp_skip_ws(jp);
	if (jp->p == jp->end || *jp->p != ':')
		return jp_bad_token(jp);
	jp->p++;
	return true;
}

/*
 * Open the container whose bracket is at jp->p.  *done: the container
 * when it is empty (and so already closed), else NULL with its first
 * member name read (objects) and its first value to come.
 */
static bool
jp_open(struct jp *jp, json_t **done)
{
	bool object = *jp->p == '{';

	*done = NULL;
	jp->p++;
	if (!jp_push(jp, object ? json_object() : json_array()))
		return false;
	jp_skip_ws(jp);
	if (jp->p < jp->end && *jp->p == (object ? '}' : ']')) {
		jp->p++;
		*done = jp->lv[--jp->nlv].c;
		return true;
	}
	return !object || jp_member_name(jp);
}

/*
 * The start of a value.  *done: the value when it is complete (a scalar
 * or an empty container), NULL when a container was opened.  Like
 * jansson, every value counts toward the depth.
 */
static bool
jp_value(struct jp *jp, json_t **done)
{
	*done = NULL;
	jp_skip_ws(jp);
	if (jp->p == jp->end)
		return jp_bad_token(jp);
	if (jp->nlv + jp->depth >= JP_MAX_DEPTH)
		return jp_error(jp, "nesting too deep", jp->p);
	if (*jp->p == '{' || *jp->p == '[')
		return jp_open(jp, done);
	return (*done = jp_scalar(jp)) != NULL;
}

/* Put v into the innermost container.  v is consumed, even on failure. */
static bool
jp_add(struct jp *jp, json_t *v)
{
	struct jp_level *top = &jp->lv[jp->nlv - 1];
	const char *key;

	if (json_is_array(top->c)) {
		if (json_array_append_new(top->c, v) != 0)
			return jp_oom(jp);
		return true;
	}
	key = top->key != NULL ? top->key : jp->scr + top->koff;
	if (json_object_setn_new_nocheck(top->c, key, top->klen, v) != 0)
		return jp_oom(jp);
	if (top->key == NULL)
		jp->scrlen = top->koff;
	return true;
}

/*
 * What follows an item of the innermost container: ',' (then, in an
 * object, the next member name) and *done NULL, or the closing bracket
 * and *done the container, now complete.
 */
static bool
jp_next(struct jp *jp, json_t **done)
{
	bool array = json_is_array(jp->lv[jp->nlv - 1].c);

	*done = NULL;
	jp_skip_ws(jp);
	if (jp->p == jp->end)
		return jp_bad_token(jp);
	if (*jp->p == ',') {
		jp->p++;
		if (array)
			return true;
		jp_skip_ws(jp);
		return jp_member_name(jp);
	}
	if (*jp->p != (array ? ']' : '}'))
		return jp_bad_token(jp);
	jp->p++;
	*done = jp->lv[--jp->nlv].c;
	return true;
}

/*
 * One value, containers included: values start one after the other, and
 * each complete one goes into its container, which may complete in turn,
 * until the outermost value is complete.
 */
static json_t *
jp_document(struct jp *jp)
{
	json_t *v;

	do {
		if (!jp_value(jp, &v))
			return NULL;
		while (v != NULL && jp->nlv > 0)
			if (!jp_add(jp, v) || !jp_next(jp, &v))
				return NULL;
	} while (v == NULL);
	return v;
}

json_t *
json_parse_value(const char *buf, size_t len, size_t depth, size_t *endp,
    char *errbuf, size_t errlen)
{
	struct jp jp;
	json_t *v;

	/* Field by field: the in-frame arrays need no zeroing. */
	jp.buf = jp.p = (const unsigned char *)buf;
	jp.end = jp.p + len;
	jp.depth = depth;
	jp.err = errbuf;
	jp.errlen = errlen;
	jp.errnum = EINVAL;
	jp.scr = jp.scrinit;
	jp.scrlen = 0;
	jp.scrcap = sizeof(jp.scrinit);
	jp.lv = jp.lvinit;
	jp.nlv = 0;
	jp.lvcap = JP_LEVELS;
	if (errlen > 0)
		errbuf[0] = '\0';
	v = jp_document(&jp);
	if (v != NULL && endp != NULL)
		*endp = (size_t)(jp.p - jp.buf);
	else if (v != NULL) {
		jp_skip_ws(&jp);
		if (jp.p != jp.end) {
			jp_error(&jp,
			    *jp.p == '\0' ? "NUL byte" :
					    "trailing data after the value",
			    jp.p);
			json_decref(v);
			v = NULL;
		}
	}
	/* Free what the parse holds: open containers and heap buffers. */
	while (jp.nlv > 0)
		json_decref(jp.lv[--jp.nlv].c);
	if (jp.lv != jp.lvinit)
		free(jp.lv);
	if (jp.scr != jp.scrinit)
		free(jp.scr);
	if (v == NULL)
		errno = jp.errnum;
	return v;
}

json_t *
json_parse_strict(const char *buf, size_t len, char *errbuf, size_t errlen)
{
	return json_parse_value(buf, len, 0, NULL, errbuf, errlen);
}

size_t
json_plain_string(const char *buf, size_t len)
{
	const unsigned char *end = (const unsigned char *)buf + len, *p;

	if (len == 0 || *buf != '"')
		return 0;
	p = jp_plain_run((const unsigned char *)buf + 1, end);
	return p < end && *p == '"' ?
	    (size_t)(p + 1 - (const unsigned char *)buf) :
	    0;
}

size_t
json_plain_int(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;
	const unsigned char *digits;

	if (p < end && *p == '-')
		p++;
	for (digits = p; p < end && jp_isdigit(*p); p++)
		;
	if (p == digits || p - digits > 18 ||
	    (*digits == '0' && (p - digits > 1 || digits != (const void *)buf)))
		return 0;
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
		return 0;
	return (size_t)(p - (const unsigned char *)buf);
}
