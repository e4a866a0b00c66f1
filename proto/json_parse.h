/*
 * json_parse.h - a strict, allocation-light JSON text to jansson value
 * parser.  It accepts what json_loadb(buf, len, JSON_ALLOW_NUL |
 * JSON_DECODE_ANY, ...) accepts and builds the same values, but scans the
 * buffer directly instead of one callback per byte.  rpc_parse_line uses
 * it; jansson stays the reference (tests/check_json_parse.c and
 * tests/fuzz/fuzz_json_parse.c compare the two).
 *
 * One deliberate difference: jansson skips a single raw NUL byte that
 * directly follows a number or a literal ("1\0" parses as 1, a quirk of
 * its unget buffer).  This parser rejects a raw NUL byte anywhere, as
 * RFC 8259 does.
 *
 * Thread safety: reentrant; no global state.  Reals are converted with
 * strtod, so LC_NUMERIC must be "C" (sbk never calls setlocale).
 */
#ifndef SBK_JSON_PARSE_H
#define SBK_JSON_PARSE_H

#include <stddef.h>
#include <jansson.h>

/*
 * Parse buf[0 .. len) as one JSON value (any type) with optional
 * whitespace around it.  Returns a new reference, or NULL with a short
 * message in errbuf ("invalid token at byte 7"; byte offsets count from
 * 0) and errno set: ENOMEM when memory ran out, EINVAL when the text is
 * not JSON.  errbuf may be NULL when errlen is 0.
 */
json_t *json_parse_strict(
    const char *buf, size_t len, char *errbuf, size_t errlen);

/*
 * The same for a value embedded in a larger text (rpc_request_scan reads
 * a request's params with it): whitespace before the value is skipped,
 * anything may follow it, and on success *endp is the offset just past
 * it (endp NULL: only whitespace, as in json_parse_strict).  depth is the number of containers already open around the value;
 * they count toward JSON_PARSER_MAX_DEPTH as in json_parse_strict.
 * Error offsets count from buf.
 */
json_t *json_parse_value(const char *buf, size_t len, size_t depth,
    size_t *endp, char *errbuf, size_t errlen);

/*
 * The classes of a byte inside a JSON string, for the reader and for the
 * writer (rpc_format.c): which bytes pass as they are.
 */
enum json_byte_class {
	JSON_BYTE_PLAIN,  /* as is, 0x7f and '/' included */
	JSON_BYTE_QUOTE,  /* '"' ends the string */
	JSON_BYTE_BSLASH, /* '\\' starts an escape */
	JSON_BYTE_CTRL,	  /* below 0x20: escaped, never raw */
	JSON_BYTE_HIGH,	  /* 0x80 and up: a UTF-8 sequence to check */
};
/* Hidden: inside the library, read PC-relative rather than via the GOT. */
extern const unsigned char json_byte_class[256]
    __attribute__((visibility("hidden")));

/*
 * The two-character escapes, as pairs of the letter after the backslash
 * and the byte it stands for: "\"\"", "\\\\", "//", "b\b", ... (reader
 * and writer).
 */
extern const char json_escapes[] __attribute__((visibility("hidden")));

/*
 * Length of the well-formed UTF-8 sequence starting at p (whose first
 * byte is 0x80 or more), or 0: no overlong forms, no surrogates, nothing
 * past U+10FFFF, nothing cut short by end.
 */
size_t json_utf8_len(const unsigned char *p, const unsigned char *end)
    __attribute__((visibility("hidden")));

/*
 * Tokens for a reader of one fixed shape (rpc_request_scan reads the
 * request envelope with them, so there is one JSON lexer).
 *
 * The length of the string token at buf (from its opening quote to its
 * closing one, both included) when it holds no escape and is valid as
 * json_parse_strict reads strings (strict UTF-8, no control character);
 * its value is then exactly the bytes between the quotes.  0 for
 * anything else: not a '"', an escape, an invalid byte, no closing quote.
 */
size_t json_plain_string(const char *buf, size_t len);

/*
 * The length of the integer token at buf when it has at most 18 digits
 * (so it surely fits json_int_t) and is written as the value prints (no
 * leading zero, no "-0"); 0 for anything else, a real included.
 */
size_t json_plain_int(const char *buf, size_t len);

/*
 * p moved past the whitespace (space, tab, CR, LF) there, up to end.
 * Inline: it runs between every two tokens.
 */
static inline const char *
json_skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

#endif /* SBK_JSON_PARSE_H */
