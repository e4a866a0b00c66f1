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
 *
 * Thread safety: reentrant; all state lives in the caller's stack frame
 * or in memory freed before returning.
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

/* Byte classes inside a string. */
enum {
	JP_PLAIN,  /* copied as is */
	JP_QUOTE,  /* '"' ends the string */
	JP_BSLASH, /* '\\' starts an escape */
	JP_CTRL,   /* below 0x20: refused */
	JP_HIGH,   /* 0x80 and up: a UTF-8 sequence to check */
};

static const unsigned char jp_class[256] = {
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

/* Record an error; at, when not NULL, is where in the input. */
static void
jp_error(struct jp *jp, const char *what, const unsigned char *at)
{
	jp->errnum = EINVAL;
	if (jp->errlen == 0)
		return;
	if (at != NULL)
		(void)snprintf(jp->err, jp->errlen, "%s at byte %zu", what,
		    (size_t)(at - jp->buf));
	else
		(void)snprintf(jp->err, jp->errlen, "%s", what);
}

static void
jp_oom(struct jp *jp)
{
	jp_error(jp, "out of memory", NULL);
	jp->errnum = ENOMEM;
}

/* "invalid token", or "unexpected end of input" when there is none. */
static void
jp_bad_token(struct jp *jp)
{
	if (jp->p == jp->end)
		jp_error(jp, "unexpected end of input", NULL);
	else if (*jp->p == '\0')
		jp_error(jp, "NUL byte", jp->p);
	else
		jp_error(jp, "invalid token", jp->p);
}

static inline void
jp_skip_ws(struct jp *jp)
{
	const unsigned char *p = jp->p, *end = jp->end;

	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	jp->p = p;
}

static inline bool
jp_isdigit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Length of the well-formed UTF-8 sequence starting at p (whose first
 * byte is 0x80 or more), or 0: no overlong forms, no surrogates, nothing
 * past U+10FFFF, nothing cut short by end.
 */
static size_t
jp_utf8_len(const unsigned char *p, const unsigned char *end)
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

/* Make room for need more bytes of scratch after scrlen. */
static bool
jp_scr_reserve(struct jp *jp, size_t need)
{
	size_t cap;
	char *n;

	if (need <= jp->scrcap - jp->scrlen)
		return true;
	cap = jp->scrcap * 2;
	if (cap - jp->scrlen < need)
		cap = jp->scrlen + need;
	if (jp->scr == jp->scrinit) {
		if ((n = malloc(cap)) != NULL)
			memcpy(n, jp->scr, jp->scrlen);
	} else
		n = realloc(jp->scr, cap);
	if (n == NULL) {
		jp_oom(jp);
		return false;
	}
	jp->scr = n;
	jp->scrcap = cap;
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
	const unsigned char *p = jp->p + 1, *start = p, *end = jp->end;
	const unsigned char *esc, *q;
	char *t, *t0;
	size_t n;
	long cp, lo;

	for (;;) {
		while (p < end && jp_class[*p] == JP_PLAIN)
			p++;
		if (p == end)
			goto unterminated;
		switch (jp_class[*p]) {
		case JP_QUOTE:
			*s = (const char *)start;
			*slen = (size_t)(p - start);
			*inscr = false;
			jp->p = p + 1;
			return true;
		case JP_BSLASH:
			goto escaped;
		case JP_CTRL:
			goto control;
		default:
			if ((n = jp_utf8_len(p, end)) == 0)
				goto bad_utf8;
			p += n;
		}
	}

escaped:
	/* Decoding never makes a string longer than its source. */
	q = p;
	while (q < end && *q != '"')
		q += *q == '\\' && end - q > 1 ? 2 : 1;
	if (!jp_scr_reserve(jp, (size_t)(q - start)))
		return false;
	t0 = t = jp->scr + jp->scrlen;
	memcpy(t, start, (size_t)(p - start));
	t += p - start;
	for (;;) {
		if (p == end)
			goto unterminated;
		switch (jp_class[*p]) {
		case JP_PLAIN:
			*t++ = (char)*p++;
			continue;
		case JP_QUOTE:
			*s = t0;
			*slen = (size_t)(t - t0);
			*inscr = true;
			jp->p = p + 1;
			return true;
		case JP_CTRL:
			goto control;
		case JP_HIGH:
			if ((n = jp_utf8_len(p, end)) == 0)
				goto bad_utf8;
			memcpy(t, p, n);
			t += n;
			p += n;
			continue;
		}
		esc = p++;
		if (p == end)
			goto unterminated;
		switch (*p) {
		case '"':
		case '\\':
		case '/':
			*t++ = (char)*p;
			break;
		case 'b':
			*t++ = '\b';
			break;
		case 'f':
			*t++ = '\f';
			break;
		case 'n':
			*t++ = '\n';
			break;
		case 'r':
			*t++ = '\r';
			break;
		case 't':
			*t++ = '\t';
			break;
		case 'u':
			if ((cp = jp_hex4(p + 1, end)) < 0)
				goto bad_escape;
			p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto bad_surrogate;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - p < 3 || p[1] != '\\' || p[2] != 'u')
					goto bad_surrogate;
				if ((lo = jp_hex4(p + 3, end)) < 0) {
					esc = p + 1;
					goto bad_escape;
				}
				if (lo < 0xdc00 || lo > 0xdfff)
					goto bad_surrogate;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				p += 6;
			}
			t += jp_utf8_put(t, (unsigned long)cp);
			break;
		default:
			goto bad_escape;
		}
		p++;
	}

unterminated:
	jp_error(jp, "unterminated string", NULL);
	return false;
control:
	jp_error(jp,
	    *p == '\0' ? "NUL byte in string" : "control character in string",
	    p);
	return false;
bad_utf8:
	jp_error(jp, "invalid UTF-8", p);
	return false;
bad_escape:
	jp_error(jp, "invalid escape", esc);
	return false;
bad_surrogate:
	jp_error(jp, "unpaired surrogate escape", esc);
	return false;
}

/* The number at jp->p ('-' or a digit). */
static json_t *
jp_number(struct jp *jp)
{
	const unsigned char *p = jp->p, *start = p, *end = jp->end;
	const unsigned char *digits, *intend;
	unsigned long long u = 0;
	json_int_t iv;
	json_t *v;
	bool neg = false, real = false;
	char nbuf[JP_NUMBUF], *text, *tend;
	double d;
	size_t n;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p == end || !jp_isdigit(*p))
		goto bad;
	digits = p;
	if (*p == '0')
		p++;
	else
		while (p < end && jp_isdigit(*p))
			p++;
	intend = p;
	if (p < end && *p == '.') {
		p++;
		if (p == end || !jp_isdigit(*p))
			goto bad;
		while (p < end && jp_isdigit(*p))
			p++;
		real = true;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !jp_isdigit(*p))
			goto bad;
		while (p < end && jp_isdigit(*p))
			p++;
		real = true;
	}

	if (!real) {
		/* No leading zeros: 20 digits or more is at least 1e19. */
		if (intend - digits > 19)
			goto range;
		for (; digits < intend; digits++)
			u = u * 10 + (unsigned)(*digits - '0');
		if (neg) {
			if (u > (unsigned long long)LLONG_MAX + 1)
				goto range;
			iv = u == (unsigned long long)LLONG_MAX + 1 ?
			    LLONG_MIN :
			    -(json_int_t)u;
		} else {
			if (u > (unsigned long long)LLONG_MAX)
				goto range;
			iv = (json_int_t)u;
		}
		if ((v = json_integer(iv)) == NULL)
			jp_oom(jp);
		jp->p = p;
		return v;
	}

	/* strtod wants a terminated string. */
	n = (size_t)(p - start);
	text = nbuf;
	if (n >= sizeof(nbuf) && (text = malloc(n + 1)) == NULL) {
		jp_oom(jp);
		return NULL;
	}
	memcpy(text, start, n);
	text[n] = '\0';
	errno = 0;
	d = strtod(text, &tend);
	/* As jansson: overflow is an error, underflow is not. */
	if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) {
		if (text != nbuf)
			free(text);
		jp_error(jp, "real number overflow", start);
		return NULL;
	}
	if (text != nbuf)
		free(text);
	if ((v = json_real(d)) == NULL)
		jp_oom(jp);
	jp->p = p;
	return v;

bad:
	jp->p = p;
	jp_bad_token(jp);
	return NULL;
range:
	jp_error(jp, "integer out of range", start);
	return NULL;
}

/* Open a container: it becomes the innermost level. */
static bool
jp_push(struct jp *jp, json_t *c)
{
	struct jp_level *n;
	size_t cap;

	if (c == NULL) {
		jp_oom(jp);
		return false;
	}
	if (jp->nlv == jp->lvcap) {
		cap = jp->lvcap * 4;
		if (cap > JP_MAX_DEPTH)
			cap = JP_MAX_DEPTH;
		if (jp->lv == jp->lvinit) {
			if ((n = malloc(cap * sizeof(*n))) != NULL)
				memcpy(n, jp->lv, jp->nlv * sizeof(*n));
		} else
			n = realloc(jp->lv, cap * sizeof(*n));
		if (n == NULL) {
			json_decref(c);
			jp_oom(jp);
			return false;
		}
		jp->lv = n;
		jp->lvcap = cap;
	}
	jp->lv[jp->nlv].c = c;
	jp->lv[jp->nlv].key = NULL;
	jp->lv[jp->nlv].koff = 0;
	jp->lv[jp->nlv].klen = 0;
	jp->nlv++;
	return true;
}

/* Match a literal at jp->p. */
static bool
jp_literal(struct jp *jp, const char *word, size_t len)
{
	if ((size_t)(jp->end - jp->p) < len || memcmp(jp->p, word, len) != 0) {
		jp_bad_token(jp);
		return false;
	}
	jp->p += len;
	return true;
}

/*
 * The parser proper.  depth: containers already open around the value.
 * endp NULL: the value must fill the buffer (trailing whitespace only);
 * else it may be followed by anything, and *endp is its end's offset.
 */
static json_t *
jp_parse(const char *buf, size_t len, size_t depth, size_t *endp, char *errbuf,
    size_t errlen)
{
	struct jp jp;
	struct jp_level *top;
	json_t *v = NULL;
	const char *s, *key;
	size_t slen;
	bool inscr;

	jp.buf = jp.p = (const unsigned char *)buf;
	jp.end = jp.p + len;
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

value:
	/* A value; like jansson, every value counts toward the depth. */
	jp_skip_ws(&jp);
	if (jp.p == jp.end) {
		jp_bad_token(&jp);
		goto fail;
	}
	if (jp.nlv + depth >= JP_MAX_DEPTH) {
		jp_error(&jp, "nesting too deep", jp.p);
		goto fail;
	}
	switch (*jp.p) {
	case '{':
		jp.p++;
		if (!jp_push(&jp, json_object()))
			goto fail;
		jp_skip_ws(&jp);
		if (jp.p < jp.end && *jp.p == '}') {
			jp.p++;
			v = jp.lv[--jp.nlv].c;
			goto done;
		}
		goto member;
	case '[':
		jp.p++;
		if (!jp_push(&jp, json_array()))
			goto fail;
		jp_skip_ws(&jp);
		if (jp.p < jp.end && *jp.p == ']') {
			jp.p++;
			v = jp.lv[--jp.nlv].c;
			goto done;
		}
		goto value;
	case '"':
		if (!jp_string(&jp, &s, &slen, &inscr))
			goto fail;
		if ((v = json_stringn_nocheck(s, slen)) == NULL) {
			jp_oom(&jp);
			goto fail;
		}
		goto done;
	case 't':
		if (!jp_literal(&jp, "true", 4))
			goto fail;
		v = json_true();
		goto done;
	case 'f':
		if (!jp_literal(&jp, "false", 5))
			goto fail;
		v = json_false();
		goto done;
	case 'n':
		if (!jp_literal(&jp, "null", 4))
			goto fail;
		v = json_null();
		goto done;
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		if ((v = jp_number(&jp)) == NULL)
			goto fail;
		goto done;
	default:
		jp_bad_token(&jp);
		goto fail;
	}

member:
	/* A member name and its ':', whitespace before it skipped. */
	if (jp.p == jp.end || *jp.p != '"') {
		jp_bad_token(&jp);
		goto fail;
	}
	if (!jp_string(&jp, &s, &slen, &inscr))
		goto fail;
	/*
	 * jansson refuses them too: "id\u0000x" must never alias "id".  Only
	 * an escape can make a NUL, so only decoded names can hold one.
	 */
	if (inscr && memchr(s, '\0', slen) != NULL) {
		jp_error(&jp, "NUL byte in member name", NULL);
		goto fail;
	}
	top = &jp.lv[jp.nlv - 1];
	top->klen = slen;
	if (inscr) {
		top->key = NULL;
		top->koff = jp.scrlen;
		jp.scrlen += slen;
	} else
		top->key = s;
	jp_skip_ws(&jp);
	if (jp.p == jp.end || *jp.p != ':') {
		jp_bad_token(&jp);
		goto fail;
	}
	jp.p++;
	goto value;

done:
	/* v is complete: it goes into the innermost container, if any. */
	if (jp.nlv == 0) {
		if (endp != NULL) {
			*endp = (size_t)(jp.p - jp.buf);
			goto out;
		}
		jp_skip_ws(&jp);
		if (jp.p != jp.end) {
			jp_error(&jp,
			    *jp.p == '\0' ? "NUL byte" :
					    "trailing data after the value",
			    jp.p);
			goto fail;
		}
		goto out;
	}
	top = &jp.lv[jp.nlv - 1];
	if (json_is_array(top->c)) {
		/* Both setters consume v, even when they fail. */
		if (json_array_append_new(top->c, v) != 0) {
			v = NULL;
			jp_oom(&jp);
			goto fail;
		}
	} else {
		key = top->key != NULL ? top->key : jp.scr + top->koff;
		if (json_object_setn_new_nocheck(top->c, key, top->klen, v) !=
		    0) {
			v = NULL;
			jp_oom(&jp);
			goto fail;
		}
		if (top->key == NULL)
			jp.scrlen = top->koff;
	}
	v = NULL;
	jp_skip_ws(&jp);
	if (jp.p == jp.end) {
		jp_bad_token(&jp);
		goto fail;
	}
	if (*jp.p == ',') {
		jp.p++;
		if (json_is_array(top->c))
			goto value;
		jp_skip_ws(&jp);
		goto member;
	}
	if (*jp.p == (json_is_array(top->c) ? ']' : '}')) {
		jp.p++;
		v = jp.lv[--jp.nlv].c;
		goto done;
	}
	jp_bad_token(&jp);
	goto fail;

fail:
	json_decref(v);
	v = NULL;
	while (jp.nlv > 0)
		json_decref(jp.lv[--jp.nlv].c);
	if (jp.lv != jp.lvinit)
		free(jp.lv);
	if (jp.scr != jp.scrinit)
		free(jp.scr);
	errno = jp.errnum;
	return NULL;
out:
	if (jp.lv != jp.lvinit)
		free(jp.lv);
	if (jp.scr != jp.scrinit)
		free(jp.scr);
	return v;
}

json_t *
json_parse_strict(const char *buf, size_t len, char *errbuf, size_t errlen)
{
	return jp_parse(buf, len, 0, NULL, errbuf, errlen);
}

json_t *
json_parse_value(const char *buf, size_t len, size_t depth, size_t *endp,
    char *errbuf, size_t errlen)
{
	return jp_parse(buf, len, depth, endp, errbuf, errlen);
}

size_t
json_plain_string(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf + 1;
	const unsigned char *end = (const unsigned char *)buf + len;
	size_t n;

	if (len == 0 || *buf != '"')
		return 0;
	for (;;) {
		while (p < end && jp_class[*p] == JP_PLAIN)
			p++;
		if (p == end)
			return 0;
		if (*p == '"')
			return (size_t)(p + 1 - (const unsigned char *)buf);
		if (jp_class[*p] != JP_HIGH || (n = jp_utf8_len(p, end)) == 0)
			return 0;
		p += n;
	}
}
