/*
 * batch.c - see batch.h.  Member replies are appended to an evbuffer as
 * "[a" then ",b"... by reference; the final "]\n" closes the array, and
 * the whole buffer moves to the connection: no reply is copied.
 */
#include <stdbool.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "batch.h"
#include "conn.h"

struct batch {
	struct conn *conn; /* counted reference */
	unsigned pending;
	unsigned replies;
	bool lost; /* out of memory: a member is missing */
	struct evbuffer *buf;
};

struct batch *
batch_new(struct conn *c)
{
	struct batch *b;

	b = calloc(1, sizeof(*b));
	if (b == NULL || (b->buf = evbuffer_new()) == NULL) {
		free(b);
		return NULL;
	}
	b->conn = c;
	b->pending = 1;
	conn_ref(c);
	return b;
}

void
batch_hold(struct batch *b)
{
	b->pending++;
}

void
batch_add_charged(struct batch *b, char *line, size_t len, unsigned long charge)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	/*
	 * By reference: a member's reply may be megabytes of base64.  Its
	 * output-budget charge goes with it into the connection's buffer.
	 */
	if (evbuffer_add(b->buf, b->replies == 0 ? "[" : ",", 1) < 0 ||
	    conn_buffer_add_charged(b->conn, b->buf, line, len, charge) < 0) {
		b->lost = true;
		free(line);
		conn_release_charge(b->conn, charge);
	}
	b->replies++;
}

void
batch_release(struct batch *b)
{
	if (--b->pending > 0)
		return;
	/*
	 * A member reply or a bracket that could not be added (out of
	 * memory) would leave the client waiting for a reply or a line end
	 * that never comes: close the connection instead.
	 */
	if (b->replies > 0 && (b->lost || evbuffer_add(b->buf, "]\n", 2) < 0))
		conn_close(b->conn, "out of memory: a batch reply was lost");
	else if (b->replies > 0)
		conn_send_buffer(b->conn, b->buf);
	evbuffer_free(b->buf);
	conn_unref(b->conn);
	free(b);
}
