/*
 * fuzz_params.c - libFuzzer target for every job kind's params parser.
 * The first byte picks the kind from daemon/jobs/table.c's job_table; the
 * rest is a JSON params object handed to fz_parse (the kind's parse with
 * a default configuration, then its free).  Inputs whose JSON is not an
 * object are still looked up by method name for job_kind_find's sake.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct job_kind *kind;
	json_t *params;
	json_error_t jerr;
	size_t nkinds = 0;

	if (size < 1)
		return 0;
	while (job_table[nkinds] != NULL)
		nkinds++;
	if (nkinds == 0)
		abort();
	kind = job_table[data[0] % nkinds];
	if (job_kind_find(kind->method) != kind)
		abort();
	params = json_loadb((const char *)data + 1, size - 1,
	    JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
	if (params == NULL)
		return 0;
	if (json_is_object(params))
		(void)fz_parse(kind, params);
	else if (json_is_null(params))
		(void)fz_parse(kind, NULL);
	else if (json_is_string(params))
		(void)job_kind_find(json_string_value(params));
	json_decref(params);
	return 0;
}
