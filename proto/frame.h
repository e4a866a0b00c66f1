/*
 * frame.h - NDJSON line framing over a caller's contiguous buffer: '\n'
 * and "\r\n" terminators, blank lines (only spaces/tabs) skipped, a
 * maximum line length (terminator not counted) and the discard-to-newline
 * state that follows an over-long line.  No allocation, no I/O.
 *
 * Thread safety: a struct frame belongs to one thread at a time.
 */
#ifndef SBK_FRAME_H
#define SBK_FRAME_H

#include <stdbool.h>
#include <stddef.h>

enum frame_status {
	FRAME_NEED_MORE, /* no complete line in the buffer yet */
	FRAME_LINE,	 /* a line: buf[0 .. *line_len) */
	FRAME_TOO_LONG,	 /* a line passed max_line: answer it once */
};

struct frame {
	size_t max_line; /* longest line accepted, terminator excluded */
	size_t scanned;	 /* bytes already searched for '\n' */
	bool discarding; /* dropping an over-long line's tail */
};

void frame_init(struct frame *, size_t max_line);

/*
 * Look at buf[0 .. len).  Always sets *consumed: the number of bytes the
 * caller must drop from the front of its buffer after handling the result
 * (for FRAME_LINE that includes the line and its terminator; blank lines
 * and discarded bytes are consumed silently).  eof says no more bytes will
 * come, so a final unterminated line is a line.
 *
 * A line is always returned at buf[0].  So when blank lines or the tail of
 * an over-long line come before it, frame_next returns FRAME_NEED_MORE
 * with *consumed > 0: drop those bytes and call again, because a complete
 * line may already follow.  Only FRAME_NEED_MORE with *consumed == 0
 * means "read more input".
 */
enum frame_status frame_next(struct frame *, const char *buf, size_t len,
    bool eof, size_t *consumed, size_t *line_len);

/*
 * The caller keeps the line frame_next just returned (consumed bytes)
 * in its buffer, to hand it out later: the next call finds it again
 * without searching it twice.
 */
void frame_keep(struct frame *, size_t consumed);

/* True when line[0 .. len) holds only spaces and tabs. */
bool frame_is_blank(const char *line, size_t len);

#endif /* SBK_FRAME_H */
