/*
 * fuzz_json_parse.c - libFuzzer differential target: json_parse_strict
 * (proto/json_parse.c) against jansson's json_loadb with JSON_ALLOW_NUL |
 * JSON_DECODE_ANY.  Both must accept or both refuse, and when both
 * accept the values must be the same: types, member order, string bytes
 * and lengths, integer values and the bits of reals.  A refusal must come
 * with a message and errno EINVAL.
 *
 * The one accepted difference (json_parse.h): jansson skips a raw NUL
 * byte right after a number or a literal, json_parse_strict refuses every
 * raw NUL.  Then the input without its NUL bytes must give jansson's
 * value.  Any other disagreement aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_parse.h"
#include "../json_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	json_error_t jerr;
	json_t *ref, *got, *got2;
	char msg[128], *stripped;
	size_t i, n;
	bool nul = memchr(data, '\0', size) != NULL;

	ref = json_loadb(buf, size, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	msg[0] = 'x';
	errno = 0;
	got = json_parse_strict(buf, size, msg, sizeof(msg));
	/* A refusal has a message; no raw NUL byte is ever accepted. */
	if ((got == NULL && (msg[0] == '\0' || errno != EINVAL)) ||
	    (got != NULL && nul))
		abort();
	if (ref != NULL && got == NULL && nul) {
		if ((stripped = malloc(size + 1)) == NULL)
			abort();
		for (i = n = 0; i < size; i++)
			if (buf[i] != '\0')
				stripped[n++] = buf[i];
		got2 = json_parse_strict(stripped, n, msg, sizeof(msg));
		if (got2 == NULL || !json_same(ref, got2))
			abort();
		json_decref(got2);
		free(stripped);
	} else if ((ref == NULL) != (got == NULL) ||
	    (ref != NULL && !json_same(ref, got)))
		abort();
	json_decref(ref);
	json_decref(got);
	return 0;
}
