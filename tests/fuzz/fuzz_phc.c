/*
 * fuzz_phc.c - libFuzzer target for the PHC-string decoder behind
 * argon2.verify: the input (any bytes, NULs included) is the "hash"
 * member of {"password":"pw","hash":INPUT}, parsed by the kind's parse
 * with a default configuration.  Nothing is hashed: parse only decodes
 * and checks the caps.
 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct job_kind *verify;
	json_t *params;

	if (verify == NULL &&
	    (verify = job_kind_find("argon2.verify", 13)) == NULL)
		abort();
	params = json_pack("{s:s,s:s#}", "password", "pw", "hash",
	    (const char *)data, (int)size);
	if (params == NULL)
		return 0; /* not UTF-8: jansson refuses it, as the wire does */
	(void)fz_parse(verify, params);
	json_decref(params);
	return 0;
}
