/*
 * base64.h - standard base64 (RFC 4648 section 4, with padding).
 * Thread safety: reentrant.
 */
#ifndef SBK_BASE64_H
#define SBK_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes needed to encode len bytes, without the NUL. */
size_t base64_encoded_len(size_t len);
/* Upper bound of bytes a text of len characters decodes to. */
size_t base64_decoded_max(size_t len);

/* Encode into out (base64_encoded_len(len) + 1 bytes); NUL-terminates.
 * Returns the length written. */
size_t base64_encode(const void *in, size_t len, char *out);

/* Decode strictly (padding required, no whitespace, no stray bits).
 * out holds base64_decoded_max(len) bytes.  False when not valid base64. */
bool base64_decode(const char *in, size_t len, void *out, size_t *outlen);

#endif /* SBK_BASE64_H */
