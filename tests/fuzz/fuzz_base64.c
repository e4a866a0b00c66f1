/*
 * fuzz_base64.c - libFuzzer target for proto/base64.c: decode the input
 * strictly; whatever decodes must encode back to the same text (strict
 * decoding makes base64 a bijection), and any input must survive an
 * encode/decode round trip unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	uint8_t *bin;
	size_t n, m;

	/* Decode the input as text. */
	if ((bin = malloc(base64_decoded_max(size) + 1)) == NULL)
		return 0;
	if (base64_decode((const char *)data, size, bin, &n)) {
		if (n > base64_decoded_max(size))
			abort();
		if ((text = malloc(base64_encoded_len(n) + 1)) == NULL)
			abort();
		m = base64_encode(bin, n, text);
		if (m != size || memcmp(text, data, size) != 0)
			abort();
		free(text);
	}
	free(bin);

	/* Encode the input as bytes, then decode it back. */
	if ((text = malloc(base64_encoded_len(size) + 1)) == NULL)
		return 0;
	m = base64_encode(data, size, text);
	if (m != base64_encoded_len(size) || strlen(text) != m)
		abort();
	if ((bin = malloc(base64_decoded_max(m) + 1)) == NULL)
		abort();
	if (!base64_decode(text, m, bin, &n) || n != size ||
	    memcmp(bin, data, size) != 0)
		abort();
	free(bin);
	free(text);
	return 0;
}
