/*
 * json_same.h - the differential oracle shared by check_json_parse and
 * fuzz_json_parse: two jansson values are the same when they have the same
 * type and value, down to string bytes, member order and the bits of
 * reals.  Header-only; reentrant.
 */
#ifndef SBK_TESTS_JSON_SAME_H
#define SBK_TESTS_JSON_SAME_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>

/* Same type and same value, down to string bytes, member order and bits. */
static inline bool
json_same(const json_t *a, const json_t *b)
{
	void *ia, *ib;
	size_t i;
	double da, db;
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
			    !json_same(json_object_iter_value(ia),
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
			if (!json_same(
				json_array_get(a, i), json_array_get(b, i)))
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

#endif /* SBK_TESTS_JSON_SAME_H */
