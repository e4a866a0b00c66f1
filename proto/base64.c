/*
 * base64.c - standard base64 (RFC 4648 section 4), padded or not.
 * Decoding is strict so that one binary value has exactly one accepted
 * text: padded, the length must be a multiple of 4 and '=' appears only
 * as final padding; unpadded, '=' never appears and the length is not
 * 1 modulo 4; no whitespace, and the unused bits at the end must be zero.
 *
 * Thread safety: reentrant; the tables are constant.
 */
#include <stdint.h>
#include <string.h>

#include "base64.h"

static const char base64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * Value + 1 of each alphabet character; 0 for anything else ('=' too).
 * After subtracting 1 in 32 bits a bad character has high bits set, so one
 * test covers a whole quad.
 */
/* clang-format off */
static const uint8_t base64_value[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11,
	['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
	['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
	['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26,
	['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31,
	['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41,
	['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46,
	['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51,
	['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61,
	['9'] = 62, ['+'] = 63, ['/'] = 64,
};
/* clang-format on */

size_t
base64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

size_t
base64_decoded_max(size_t len)
{
	return (len + 3) / 4 * 3;
}

/* The four characters of the 24 bits v. */
static inline void
base64_put_quad(char *o, uint32_t v)
{
	o[0] = base64_alphabet[v >> 18];
	o[1] = base64_alphabet[(v >> 12) & 0x3f];
	o[2] = base64_alphabet[(v >> 6) & 0x3f];
	o[3] = base64_alphabet[v & 0x3f];
}

size_t
base64_encode_pad(const void *in, size_t len, char *out, bool pad)
{
	const uint8_t *p = in;
	uint8_t tail[3] = { 0 };
	char *o = out;
	size_t i, rest = len % 3;

	for (i = 0; i + 3 <= len; i += 3, o += 4)
		base64_put_quad(o,
		    (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2]);
	if (rest > 0) {
		/* 1 or 2 bytes: 2 or 3 characters, then '=' up to 4. */
		memcpy(tail, p + i, rest);
		base64_put_quad(
		    o, (uint32_t)tail[0] << 16 | (uint32_t)tail[1] << 8);
		o += pad ? 4 : rest + 1;
		if (pad)
			memset(o - 3 + rest, '=', 3 - rest);
	}
	*o = '\0';
	return (size_t)(o - out);
}

/*
 * The 24 bits of the quad at s into *v; false when a character is not
 * in the alphabet.
 */
static inline bool
base64_get_quad(const uint8_t *s, uint32_t *v)
{
	uint32_t a = base64_value[s[0]] - 1u, b = base64_value[s[1]] - 1u;
	uint32_t c = base64_value[s[2]] - 1u, d = base64_value[s[3]] - 1u;

	*v = a << 18 | b << 12 | c << 6 | d;
	return ((a | b | c | d) & ~0x3fu) == 0;
}

bool
base64_decode_pad(
    const char *in, size_t len, void *out, size_t *outlen, bool pad)
{
	const uint8_t *s = (const uint8_t *)in;
	uint8_t *o = out, last[4] = { '=', '=', '=', '=' };
	uint32_t v;
	size_t i, n, full, npad, rest = len % 4;

	*outlen = 0;
	if (pad ? rest != 0 : rest == 1)
		return false;
	if (len == 0)
		return true;

	/* Every quad but the last has no padding; unpadded, the last one
	 * may be short, and is padded here. */
	n = pad || rest == 0 ? 4 : rest;
	full = len - n;
	memcpy(last, s + full, n);
	for (i = 0; !pad && i < n; i++)
		if (last[i] == '=')
			return false;
	for (i = 0; i < full; i += 4, o += 3) {
		if (!base64_get_quad(s + i, &v))
			return false;
		o[0] = (uint8_t)(v >> 16);
		o[1] = (uint8_t)(v >> 8);
		o[2] = (uint8_t)v;
	}
	/*
	 * "xx==" is one byte, "xxx=" two: the padding decodes as zero bits,
	 * and the bits the last character holds past the data must be zero
	 * too.  A '=' anywhere else is not in the alphabet.
	 */
	npad = last[3] != '=' ? 0 : last[2] == '=' ? 2 : 1;
	memset(last + 4 - npad, 'A', npad);
	if (!base64_get_quad(last, &v) || (v & ((1u << (8 * npad)) - 1)) != 0)
		return false;
	o[0] = (uint8_t)(v >> 16);
	o[1] = (uint8_t)(v >> 8);
	o[2] = (uint8_t)v;
	*outlen = (size_t)(o + 3 - npad - (uint8_t *)out);
	return true;
}

size_t
base64_encode(const void *in, size_t len, char *out)
{
	return base64_encode_pad(in, len, out, true);
}

bool
base64_decode(const char *in, size_t len, void *out, size_t *outlen)
{
	return base64_decode_pad(in, len, out, outlen, true);
}
