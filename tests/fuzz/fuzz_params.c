/*
 * fuzz_params.c - libFuzzer target for every job kind's params parser.
 * The first byte picks the kind from daemon/jobs/table.c's job_table; the
 * rest is a JSON params object handed to fz_parse (the kind's parse with
 * a default configuration, then its free).  Inputs whose JSON is not an
 * object are still looked up by method name for job_kind_find's sake: a
 * name with a NUL inside, or any name not exactly in the table, must not
 * be found.
 *
 * The NUL oracle: when params parse, each string member is parsed again
 * with a NUL put inside it (at a place the input picks); that must be
 * -32602 naming the member, except where NUL is data (a password, a
 * job.cancel id) or is seen only in run (data_b64).  So a parser that reads any string with strlen fails
 * here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Members where a NUL byte is data rather than an error, or is found
 * only in run: data_b64 is decoded there (check_jobs'
 * nul_in_string_params covers it).
 */
static bool
nul_is_data(const struct job_kind *kind, const char *key)
{
	return strcmp(key, "password") == 0 || strcmp(key, "data_b64") == 0 ||
	    (strcmp(kind->method, "job.cancel") == 0 && strcmp(key, "id") == 0);
}

/* params parsed; now each string member with a NUL at pos % (len + 1). */
static void
nul_oracle(const struct job_kind *kind, json_t *params, unsigned pos)
{
	struct rpc_error err = { 0 };
	const char *key, *s;
	json_t *v, *copy, *bad;
	char *buf;
	size_t n, at;
	int rc;

	json_object_foreach(params, key, v) {
		if (!json_is_string(v) || nul_is_data(kind, key))
			continue;
		s = json_string_value(v);
		n = json_string_length(v);
		at = pos % (n + 1);
		if ((buf = malloc(n + 1)) == NULL)
			abort();
		memcpy(buf, s, at);
		buf[at] = '\0';
		memcpy(buf + at + 1, s + at, n - at);
		bad = json_stringn_nocheck(buf, n + 1);
		free(buf);
		if (bad == NULL || (copy = json_copy(params)) == NULL ||
		    json_object_set_new(copy, key, bad) != 0)
			abort();
		rc = fz_parse_err(kind, copy, &err);
		if (rc == 0 || err.code != RPC_INVALID_PARAMS ||
		    strcmp(
			json_string_value(json_object_get(err.data, "param")),
			key) != 0)
			abort();
		rpc_error_clear(&err);
		json_decref(copy);
	}
}

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
	if (job_kind_find(kind->method, strlen(kind->method)) != kind)
		abort();
	params = json_loadb((const char *)data + 1, size - 1,
	    JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
	if (params == NULL)
		return 0;
	if (json_is_object(params)) {
		if (fz_parse(kind, params) == 0)
			nul_oracle(kind, params, data[0]);
	} else if (json_is_null(params))
		(void)fz_parse(kind, NULL);
	else if (json_is_string(params)) {
		const char *name = json_string_value(params);
		size_t n = json_string_length(params);
		const struct job_kind *found = job_kind_find(name, n);

		if (found != NULL &&
		    (strlen(found->method) != n ||
			memcmp(found->method, name, n) != 0))
			abort();
	}
	json_decref(params);
	return 0;
}
