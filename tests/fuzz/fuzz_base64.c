/*
 * fuzz_base64.c - libFuzzer target for proto/base64.c: decode the input
 * strictly; whatever decodes must encode back to the same text (strict
 * decoding makes base64 a bijection), and any input must survive an
 * encode/decode round trip unchanged.  The unpadded form (argon2's PHC
 * strings) is the padded one without its '=': the same text when
 * encoding, and accepted exactly when the padded text is, with the same
 * bytes, when decoding.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* data[0 .. size) encodes to padded[0 .. plen); check the unpadded form. */
static void
unpadded(const uint8_t *data, size_t size, const char *padded, size_t plen)
{
	size_t ulen = plen, flen = size + (4 - size % 4) % 4, n, m;
	uint8_t *a, *b;
	char *text, *full;
	bool ok;

	while (ulen > 0 && padded[ulen - 1] == '=')
		ulen--;
	if ((text = malloc(plen + 1)) == NULL)
		abort();
	if (base64_encode_pad(data, size, text, false) != ulen ||
	    memcmp(text, padded, ulen) != 0 || text[ulen] != '\0')
		abort();
	free(text);

	/* The input as unpadded text, against the same text padded. */
	full = malloc(flen + 1);
	a = malloc(base64_decoded_max(size) + 1);
	b = malloc(base64_decoded_max(flen) + 1);
	if (full == NULL || a == NULL || b == NULL)
		abort();
	memcpy(full, data, size);
	memset(full + size, '=', flen - size);
	ok = base64_decode_pad((const char *)data, size, a, &n, false);
	if (memchr(data, '=', size) != NULL) {
		if (ok)
			abort(); /* '=' is refused when unpadded */
	} else if (ok != base64_decode(full, flen, b, &m) ||
	    (ok && (n != m || memcmp(a, b, n) != 0)))
		abort();
	free(a);
	free(b);
	free(full);
}

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

	/* Unpadded: the padded text less its '='. */
	unpadded(data, size, text, m);
	free(text);
	return 0;
}
