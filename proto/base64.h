/*
 * base64.h - standard base64 (RFC 4648 section 4), with padding or, as
 * PHC strings (argon2's encoded hashes) use it, without.
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
 * Without pad, the trailing '=' are left out.  Returns the length
 * written. */
size_t base64_encode_pad(const void *in, size_t len, char *out, bool pad);

/* Decode strictly (no whitespace, no stray bits; with pad, padding
 * required; without, '=' refused).  out holds base64_decoded_max(len)
 * bytes.  False when not valid base64. */
bool base64_decode_pad(
    const char *in, size_t len, void *out, size_t *outlen, bool pad);

/* The padded forms, what the protocol uses. */
size_t base64_encode(const void *in, size_t len, char *out);
bool base64_decode(const char *in, size_t len, void *out, size_t *outlen);

#endif /* SBK_BASE64_H */
