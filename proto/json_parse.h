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
json_t	*json_parse_strict(const char *buf, size_t len, char *errbuf,
	    size_t errlen);

#endif /* SBK_JSON_PARSE_H */
