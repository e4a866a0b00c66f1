/*
 * check_base64.c - unit tests of proto/base64.c: the RFC 4648 section 10
 * vectors both ways, a round trip over every byte value and length, and
 * every form the strict decoder must refuse.
 *
 * Single-threaded; runs under Check's fork mode.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "base64.h"

static const struct {
	const char *plain;
	const char *text;
} b64_vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
	{ "\xff\xfe\xfd", "//79" },
	{ "\xfb\xff", "+/8=" },
};

START_TEST(test_b64_vectors)
{
	const char *p = b64_vectors[_i].plain, *t = b64_vectors[_i].text;
	size_t plen = strlen(p), tlen = strlen(t), n;
	char enc[64], dec[64];

	ck_assert_uint_eq(base64_encoded_len(plen), tlen);
	memset(enc, 'x', sizeof(enc));
	ck_assert_uint_eq(base64_encode(p, plen, enc), tlen);
	ck_assert_str_eq(enc, t);

	ck_assert_uint_ge(base64_decoded_max(tlen), plen);
	ck_assert(base64_decode(t, tlen, dec, &n));
	ck_assert_uint_eq(n, plen);
	ck_assert_mem_eq(dec, p, plen);
}
END_TEST

START_TEST(test_b64_roundtrip)
{
	unsigned char in[300];
	char *enc;
	unsigned char *dec;
	size_t n;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(in); len++) {
		enc = malloc(base64_encoded_len(len) + 1);
		dec = malloc(base64_decoded_max(base64_encoded_len(len)) + 1);
		ck_assert_ptr_nonnull(enc);
		ck_assert_ptr_nonnull(dec);
		ck_assert_uint_eq(
		    base64_encode(in, len, enc), base64_encoded_len(len));
		ck_assert_uint_eq(strlen(enc), base64_encoded_len(len));
		ck_assert_msg(
		    base64_decode(enc, strlen(enc), dec, &n), "len %zu", len);
		ck_assert_uint_eq(n, len);
		ck_assert_mem_eq(dec, in, len);
		free(enc);
		free(dec);
	}
}
END_TEST

/* Every character outside the alphabet is refused, in every position. */
START_TEST(test_b64_bad_chars)
{
	char text[9], out[8];
	size_t n;

	for (int c = 0; c < 256; c++) {
		if (strchr(
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789+/",
			c) != NULL &&
		    c != 0)
			continue;
		for (int pos = 0; pos < 8; pos++) {
			memcpy(text, "Zm9vYmFy", 8);
			text[pos] = (char)c;
			ck_assert_msg(!base64_decode(text, 8, out, &n),
			    "char %d at %d accepted", c, pos);
		}
	}
}
END_TEST

static const char *const b64_invalid[] = {
	"Z",
	"Zg",
	"Zg=",
	"Zm9vY",
	"Zm9vYg=",
	"Zm9vYg===",
	"====",
	"Z===",
	"=Zg=",
	"Zg=a",
	"Z=g=",
	"Zg==Zg==", /* padding before the end */
	"Zm8=Zm9v",
	"Zh==", /* non-zero bits under the padding */
	"Zm9=",
	"Zm+=",
	"Zm9v ",
	" Zm9v",
	"Zm9v\n",
	"Zm9v\r\n",
	"Zm 9v",
	"Zm9v-_8=", /* base64url alphabet */
	"Zm9vYmFy=",
	"Zm9vYmFy====",
};

START_TEST(test_b64_invalid)
{
	const char *t = b64_invalid[_i];
	char out[32];
	size_t n = 99;

	ck_assert_msg(
	    !base64_decode(t, strlen(t), out, &n), "\"%s\" accepted", t);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* An embedded NUL is a bad character, not an end of input. */
START_TEST(test_b64_nul)
{
	char out[8];
	size_t n;

	ck_assert(!base64_decode("Zg\0=", 4, out, &n));
	ck_assert(!base64_decode("Zm9v\0\0\0\0", 8, out, &n));
	ck_assert(base64_decode("Zm9v\0\0\0\0", 4, out, &n));
	ck_assert_uint_eq(n, 3);
}
END_TEST

/*
 * Unpadded (PHC, argon2's encoded hashes): the padded text without its
 * '=', for every vector and for every length up to 300; and the texts
 * libargon2's decoder refuses are refused.
 */
START_TEST(test_b64_unpadded)
{
	unsigned char in[300], dec[300];
	char pad[404], nopad[404];
	size_t len, n, k, plen;

	for (len = 0; len <= sizeof(in); len++) {
		for (k = 0; k < len; k++)
			in[k] = (unsigned char)(k * 37 + len);
		plen = base64_encode(in, len, pad);
		while (plen > 0 && pad[plen - 1] == '=')
			pad[--plen] = '\0';
		ck_assert_uint_eq(
		    base64_encode_pad(in, len, nopad, false), plen);
		ck_assert_str_eq(nopad, pad);
		ck_assert_msg(base64_decode_pad(nopad, plen, dec, &n, false),
		    "len %zu", len);
		ck_assert_uint_eq(n, len);
		ck_assert_mem_eq(dec, in, len);
		/* A padded text is not an unpadded one, and the reverse. */
		if (len % 3 != 0) {
			ck_assert(
			    !base64_decode_pad(nopad, plen, dec, &n, true));
			base64_encode(in, len, pad);
			ck_assert(!base64_decode_pad(
			    pad, strlen(pad), dec, &n, false));
		}
	}
	ck_assert(base64_decode_pad("Zg", 2, dec, &n, false));
	ck_assert_uint_eq(n, 1);
	ck_assert(!base64_decode_pad("Z", 1, dec, &n, false));	   /* length */
	ck_assert(!base64_decode_pad("Zm9vY", 5, dec, &n, false)); /* length */
	ck_assert(!base64_decode_pad("Zh", 2, dec, &n, false));	   /* bits */
	ck_assert(!base64_decode_pad("Zm9=", 4, dec, &n, false));  /* '=' */
	ck_assert(!base64_decode_pad("Zg=", 3, dec, &n, false));   /* '=' */
	ck_assert(!base64_decode_pad("Z\0", 2, dec, &n, false));   /* NUL */
	ck_assert(!base64_decode_pad("Zm 9", 4, dec, &n, false));  /* space */
}
END_TEST

static Suite *
base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("base64");

	tcase_add_loop_test(tc, test_b64_vectors, 0,
	    sizeof(b64_vectors) / sizeof(b64_vectors[0]));
	tcase_add_test(tc, test_b64_roundtrip);
	tcase_add_test(tc, test_b64_bad_chars);
	tcase_add_loop_test(tc, test_b64_invalid, 0,
	    sizeof(b64_invalid) / sizeof(b64_invalid[0]));
	tcase_add_test(tc, test_b64_nul);
	tcase_add_test(tc, test_b64_unpadded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(base64_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
