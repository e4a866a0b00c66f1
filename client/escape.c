/*
 * escape.c - what sbkctl prints from the wire goes through here, so a
 * daemon (or anything between) cannot drive the terminal: C0 controls,
 * DEL, the C1 controls (U+0080-U+009F, CSI among them), the bidi
 * overrides and isolates, and bytes that are not UTF-8 become visible
 * escapes (\n, \x1b, \u009b); everything else passes unchanged.
 *
 * Thread safety: reentrant.
 */
#include "sbk-config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/*
 * The length of the UTF-8 sequence at s (at most len bytes) and its
 * code point, or 0 when the bytes there are not valid UTF-8.
 */
static size_t
utf8_seq(const unsigned char *s, size_t len, unsigned *cp)
{
	size_t n, i;
	unsigned v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return (1);
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		v = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		v = s[0] & 0x07;
	} else
		return (0);
	if (len < n)
		return (0);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
	    (n == 4 && (v < 0x10000 || v > 0x10ffff)))
		return (0);
	*cp = v;
	return (n);
}

/* Code points that may change what the terminal shows. */
static bool
unsafe_cp(unsigned cp)
{
	return (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069));
}

/*
 * Call out(piece, len, arg) for the escaped form of s[0..len), piece by
 * piece.
 */
static void
escape_each(const char *s, size_t len,
    void (*out)(const char *, size_t, void *), void *arg)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[16];
	size_t i = 0, n, run = 0;
	unsigned cp;

	while (i < len) {
		n = utf8_seq(p + i, len - i, &cp);
		if (n > 0 && !unsafe_cp(cp)) {
			i += n;
			run += n;
			continue;
		}
		if (run > 0)
			out(s + i - run, run, arg);
		run = 0;
		if (n == 0)
			snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
		else if (cp == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (cp == '\r')
			snprintf(esc, sizeof(esc), "\\r");
		else if (cp == '\t')
			snprintf(esc, sizeof(esc), "\\t");
		else if (cp < 0x80)
			snprintf(esc, sizeof(esc), "\\x%02x", cp);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
		out(esc, strlen(esc), arg);
		i += n > 0 ? n : 1;
	}
	if (run > 0)
		out(s + len - run, run, arg);
}

static void
to_file(const char *piece, size_t len, void *arg)
{
	fwrite(piece, 1, len, (FILE *)arg);
}

void
ctl_fputs_esc(const char *s, FILE *f)
{
	escape_each(s, strlen(s), to_file, f);
}

struct bounded {
	char *dst;
	size_t cap;
	size_t len;
};

static void
to_buf(const char *piece, size_t len, void *arg)
{
	struct bounded *b = arg;

	if (b->len + len >= b->cap)
		len = b->cap - 1 - b->len;
	memcpy(b->dst + b->len, piece, len);
	b->len += len;
}

void
ctl_escape(char *dst, size_t cap, const char *s)
{
	struct bounded b = { .dst = dst, .cap = cap, .len = 0 };

	if (cap == 0)
		return;
	escape_each(s, strlen(s), to_buf, &b);
	dst[b.len] = '\0';
}
