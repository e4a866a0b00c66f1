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

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Same type and same value, down to string bytes, member order and bits. */
static bool
fz_same(const json_t *a, const json_t *b)
{
	void	*ia, *ib;
	size_t	 i;
	double	 da, db;
	uint64_t ba, bb;

	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		ia = json_object_iter((json_t *)a);
		ib = json_object_iter((json_t *)b);
		while (ia != NULL && ib != NULL) {
			if (json_object_iter_key_len(ia) !=
			    json_object_iter_key_len(ib) ||
			    memcmp(json_object_iter_key(ia),
			    json_object_iter_key(ib),
			    json_object_iter_key_len(ia)) != 0 ||
			    !fz_same(json_object_iter_value(ia),
			    json_object_iter_value(ib)))
				return false;
			ia = json_object_iter_next((json_t *)a, ia);
			ib = json_object_iter_next((json_t *)b, ib);
		}
		return ia == NULL && ib == NULL;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!fz_same(json_array_get(a, i),
			    json_array_get(b, i)))
				return false;
		return true;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
		    json_string_length(a)) == 0;
	case JSON_INTEGER:
		return json_integer_value(a) == json_integer_value(b);
	case JSON_REAL:
		/* The bits: -0.0 is not 0.0 here. */
		da = json_real_value(a);
		db = json_real_value(b);
		memcpy(&ba, &da, sizeof(ba));
		memcpy(&bb, &db, sizeof(bb));
		return ba == bb;
	default:
		return json_equal(a, b);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf = (const char *)data;
	json_error_t	 jerr;
	json_t		*ref, *got, *got2;
	char		 msg[128], *stripped;
	size_t		 i, n;
	bool		 nul = memchr(data, '\0', size) != NULL;

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
		if (got2 == NULL || !fz_same(ref, got2))
			abort();
		json_decref(got2);
		free(stripped);
	} else if ((ref == NULL) != (got == NULL) ||
	    (ref != NULL && !fz_same(ref, got)))
		abort();
	json_decref(ref);
	json_decref(got);
	return 0;
}
