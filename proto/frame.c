/*
 * frame.c - NDJSON line framing (see frame.h).  Nothing is copied: the
 * caller owns the buffer and drops *consumed bytes from its front.
 */
#include <string.h>

#include "frame.h"

void
frame_init(struct frame *f, size_t max_line)
{
	f->max_line = max_line;
	f->scanned = 0;
	f->discarding = false;
}

void
frame_keep(struct frame *f, size_t consumed)
{
	/* The '\n' (or, at end of input, the last byte) ends the line. */
	f->scanned = consumed > 0 ? consumed - 1 : 0;
}

bool
frame_is_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			return false;
	return true;
}

/* Length of buf[start .. end) without one trailing '\r'. */
static size_t
frame_content_len(const char *buf, size_t start, size_t end)
{
	size_t n = end - start;

	if (n > 0 && buf[end - 1] == '\r')
		n--;
	return n;
}

enum frame_status
frame_next(struct frame *f, const char *buf, size_t len, bool eof,
    size_t *consumed, size_t *line_len)
{
	const char *nl;
	size_t start = 0, scan, end, next, n;

	*line_len = 0;
	if (f->discarding) {
		nl = memchr(buf, '\n', len);
		if (nl == NULL) {
			/* Still inside the over-long line: drop it all. */
			*consumed = len;
			f->scanned = 0;
			if (eof)
				f->discarding = false;
			return FRAME_NEED_MORE;
		}
		start = (size_t)(nl - buf) + 1;
		f->discarding = false;
		f->scanned = 0;
	}

	/*
	 * scanned is relative to the caller's buffer as passed, which is
	 * where any earlier partial line begins.
	 */
	scan = start + f->scanned;
	if (scan > len)
		scan = start;
	for (;;) {
		nl = memchr(buf + scan, '\n', len - scan);
		if (nl != NULL) {
			end = (size_t)(nl - buf);
			next = end + 1;
		} else if (eof && len > start) {
			/* A final line without its '\n' is still a line. */
			end = next = len;
		} else
			break;
		n = frame_content_len(buf, start, end);
		if (n > f->max_line) {
			/* consumed may take skipped bytes before it too. */
			*consumed = next;
			f->scanned = 0;
			return FRAME_TOO_LONG;
		}
		if (!frame_is_blank(buf + start, n)) {
			if (start > 0) {
				/*
				 * A line is handed over at buf[0] only: drop
				 * what came before and let the caller call
				 * again, without searching this line twice.
				 */
				*consumed = start;
				f->scanned = end - start;
				return FRAME_NEED_MORE;
			}
			*line_len = n;
			*consumed = next;
			f->scanned = 0;
			return FRAME_LINE;
		}
		start = scan = next;
	}

	n = len - start;
	/*
	 * No terminator yet.  max_line bytes plus a '\r' may still be a
	 * valid line whose '\n' has not arrived; anything longer is not.
	 */
	if (n > f->max_line && (n - 1 > f->max_line || buf[len - 1] != '\r')) {
		*consumed = len;
		f->scanned = 0;
		f->discarding = !eof;
		return FRAME_TOO_LONG;
	}
	/* Drop the blank lines now; the partial line moves to buf[0]. */
	*consumed = start;
	f->scanned = n;
	return FRAME_NEED_MORE;
}
