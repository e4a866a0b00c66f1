/*
 * check_frame.c - unit tests of proto/frame.c: terminators, blank lines,
 * the length cap at and just past its limit, the single FRAME_TOO_LONG per
 * over-long line and the recovery on the next line, input split at every
 * possible place, and the final unterminated line at end of input.
 *
 * Single-threaded; runs under Check's fork mode.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "frame.h"

/*
 * Feed input to a frame the way a connection does: append chunk bytes to
 * a buffer, call frame_next until it wants more, drop what it consumed.
 * Events are written as "L<line>|" and "T|".  As frame.h says, only
 * FRAME_NEED_MORE with nothing consumed means "read more".
 */
static char *
feed(size_t max_line, const char *in, size_t inlen, size_t chunk, bool eof)
{
	struct frame f;
	char *buf = malloc(inlen + 1), *out = malloc(4 * inlen + 16);
	size_t blen = 0, olen = 0, off = 0, consumed, line_len, k;
	enum frame_status st;
	bool last;

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(out);
	frame_init(&f, max_line);
	do {
		k = inlen - off < chunk ? inlen - off : chunk;
		memcpy(buf + blen, in + off, k);
		blen += k;
		off += k;
		last = eof && off == inlen;
		for (;;) {
			st = frame_next(
			    &f, buf, blen, last, &consumed, &line_len);
			ck_assert_uint_le(consumed, blen);
			if (st == FRAME_LINE) {
				ck_assert_uint_lt(line_len, consumed + 1);
				ck_assert(!frame_is_blank(buf, line_len));
				out[olen++] = 'L';
				memcpy(out + olen, buf, line_len);
				olen += line_len;
				out[olen++] = '|';
			} else if (st == FRAME_TOO_LONG) {
				out[olen++] = 'T';
				out[olen++] = '|';
			}
			memmove(buf, buf + consumed, blen - consumed);
			blen -= consumed;
			if (st == FRAME_NEED_MORE && consumed == 0) {
				/* Everything left is a partial line. */
				ck_assert_uint_eq(f.scanned, blen);
				break;
			}
		}
	} while (off < inlen);
	if (eof)
		ck_assert_uint_eq(blen, 0);
	out[olen] = '\0';
	free(buf);
	return out;
}

static const struct frame_case {
	size_t max;
	const char *in;
	bool eof;
	const char *want;
} frame_cases[] = {
	{ 8, "", true, "" },
	{ 8, "abc\n", false, "Labc|" },
	{ 8, "abc\r\n", false, "Labc|" },
	{ 8, "abc\ndef\r\nghi\n", false, "Labc|Ldef|Lghi|" },
	{ 8, "\n\n  \t\n\r\n \t\r\nabc\n\n", false, "Labc|" },
	{ 8, "abc", false, "" },
	{ 8, "abc", true, "Labc|" },
	{ 8, "abc\r", true, "Labc|" },
	{ 8, "a\nb\nc", true, "La|Lb|Lc|" },
	{ 8, "  \t", true, "" },
	{ 8, "  \t\r", true, "" },
	{ 8, "a b\n", false, "La b|" },
	{ 8, "a\r\rb\n", false, "La\r\rb|" },
	/* The cap counts the line without its terminator. */
	{ 8, "12345678\n", false, "L12345678|" },
	{ 8, "12345678\r\n", false, "L12345678|" },
	{ 8, "12345678", false, "" },
	{ 8, "12345678\r", false, "" },
	{ 8, "12345678", true, "L12345678|" },
	{ 8, "12345678\r", true, "L12345678|" },
	{ 8, "123456789\n", false, "T|" },
	{ 8, "123456789\r\n", false, "T|" },
	{ 8, "12345678\r\r\n", false, "T|" },
	{ 8, "123456789", false, "T|" },
	{ 8, "123456789", true, "T|" },
	{ 8, "12345678\rx", false, "T|" },
	/* One error per over-long line, then the next line works. */
	{ 8, "123456789\nabc\n", false, "T|Labc|" },
	{ 8, "1234567890123456789012345\nabc\n", false, "T|Labc|" },
	{ 8, "1234567890123456789012345\r\nabc\r\n", false, "T|Labc|" },
	{ 8, "1234567890123456789012345\n123456789\nx\n", false, "T|T|Lx|" },
	{ 8, "1234567890123456789012345", true, "T|" },
	{ 8, "1234567890123456789012345\nab", true, "T|Lab|" },
	{ 8, "ab\n1234567890123456789012345\n\ncd\n", false, "Lab|T|Lcd|" },
	/* A blank line is measured like any other. */
	{ 4, "          \nab\n", false, "T|Lab|" },
	{ 0, "\n\r\nx\n", false, "T|" },
	{ 0, "\n\r\n\n", false, "" },
	{ 1, "x\r\nyy\nz", true, "Lx|T|Lz|" },
};

static const size_t frame_chunks[] = { 1, 2, 3, 5, 7, 1000 };

START_TEST(test_frame_table)
{
	const struct frame_case *c = &frame_cases[_i];
	char *got;

	for (size_t j = 0; j < sizeof(frame_chunks) / sizeof(frame_chunks[0]);
	     j++) {
		got =
		    feed(c->max, c->in, strlen(c->in), frame_chunks[j], c->eof);
		ck_assert_msg(strcmp(got, c->want) == 0,
		    "case %d chunk %zu: got \"%s\", want \"%s\"", _i,
		    frame_chunks[j], got, c->want);
		free(got);
	}
}
END_TEST

/* Blank lines before a line are dropped first; the line comes at buf[0]. */
START_TEST(test_frame_blank_prefix)
{
	struct frame f;
	const char buf[] = "\n \t\r\n{}\r\nrest";
	size_t consumed, len;

	frame_init(&f, 4);
	ck_assert_int_eq(
	    frame_next(&f, buf, sizeof(buf) - 1, false, &consumed, &len),
	    FRAME_NEED_MORE);
	ck_assert_uint_eq(consumed, 5);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(
	    frame_next(&f, buf + 5, sizeof(buf) - 6, false, &consumed, &len),
	    FRAME_LINE);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(consumed, 4);
	ck_assert_int_eq(frame_next(&f, buf + 9, 4, false, &consumed, &len),
	    FRAME_NEED_MORE);
	ck_assert_uint_eq(consumed, 0);
}
END_TEST

/* A partial line is searched once: scanned remembers how far. */
START_TEST(test_frame_scanned)
{
	struct frame f;
	char buf[16];
	size_t consumed, len;

	frame_init(&f, 10);
	memcpy(buf, "\nabc", 4);
	ck_assert_int_eq(
	    frame_next(&f, buf, 4, false, &consumed, &len), FRAME_NEED_MORE);
	ck_assert_uint_eq(consumed, 1);
	ck_assert_uint_eq(f.scanned, 3);
	memmove(buf, buf + 1, 3);
	memcpy(buf + 3, "de\n", 3);
	ck_assert_int_eq(
	    frame_next(&f, buf, 6, false, &consumed, &len), FRAME_LINE);
	ck_assert_uint_eq(len, 5);
	ck_assert_uint_eq(consumed, 6);
	ck_assert_uint_eq(f.scanned, 0);
}
END_TEST

/*
 * A line the caller keeps (frame_keep: sbkd holds a second big line
 * while the first is parsed) comes back whole on the next call, with
 * more bytes behind it, and is not searched again.
 */
START_TEST(test_frame_keep)
{
	struct frame f;
	const char buf[] = "{\"a\":1}\r\n{}\n";
	const char last[] = "xyz";
	size_t consumed, len;

	frame_init(&f, 16);
	ck_assert_int_eq(
	    frame_next(&f, buf, 9, false, &consumed, &len), FRAME_LINE);
	ck_assert_uint_eq(len, 7);
	ck_assert_uint_eq(consumed, 9);
	frame_keep(&f, consumed);
	ck_assert_uint_eq(f.scanned, 8);
	ck_assert_int_eq(
	    frame_next(&f, buf, sizeof(buf) - 1, false, &consumed, &len),
	    FRAME_LINE);
	ck_assert_uint_eq(len, 7);
	ck_assert_uint_eq(consumed, 9);
	ck_assert_int_eq(
	    frame_next(&f, buf + 9, 3, false, &consumed, &len), FRAME_LINE);
	ck_assert_uint_eq(len, 2);

	/* At end of input, a last line without its '\n'. */
	frame_init(&f, 16);
	ck_assert_int_eq(
	    frame_next(&f, last, 3, true, &consumed, &len), FRAME_LINE);
	frame_keep(&f, consumed);
	ck_assert_int_eq(
	    frame_next(&f, last, 3, true, &consumed, &len), FRAME_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(consumed, 3);
}
END_TEST

/* Discarding state persists while no '\n' comes. */
START_TEST(test_frame_discard_state)
{
	struct frame f;
	size_t consumed, len;

	frame_init(&f, 2);
	ck_assert_int_eq(
	    frame_next(&f, "abcd", 4, false, &consumed, &len), FRAME_TOO_LONG);
	ck_assert_uint_eq(consumed, 4);
	ck_assert(f.discarding);
	ck_assert_int_eq(
	    frame_next(&f, "efgh", 4, false, &consumed, &len), FRAME_NEED_MORE);
	ck_assert_uint_eq(consumed, 4);
	ck_assert(f.discarding);
	ck_assert_int_eq(frame_next(&f, "ij\nk\n", 5, false, &consumed, &len),
	    FRAME_NEED_MORE);
	ck_assert(!f.discarding);
	ck_assert_uint_eq(consumed, 3);
	ck_assert_int_eq(
	    frame_next(&f, "k\n", 2, false, &consumed, &len), FRAME_LINE);
	ck_assert_uint_eq(consumed, 2);
	ck_assert_uint_eq(len, 1);
}
END_TEST

START_TEST(test_frame_is_blank)
{
	ck_assert(frame_is_blank("", 0));
	ck_assert(frame_is_blank(" \t ", 3));
	ck_assert(!frame_is_blank(" x ", 3));
	ck_assert(!frame_is_blank("\r", 1));
	ck_assert(!frame_is_blank("\0", 1));
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("frame");

	tcase_add_loop_test(tc, test_frame_table, 0,
	    sizeof(frame_cases) / sizeof(frame_cases[0]));
	tcase_add_test(tc, test_frame_blank_prefix);
	tcase_add_test(tc, test_frame_scanned);
	tcase_add_test(tc, test_frame_keep);
	tcase_add_test(tc, test_frame_discard_state);
	tcase_add_test(tc, test_frame_is_blank);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
