/*
 * conn.c - one client connection; see conn.h.
 *
 * Reading: while the connection may take more work, a persistent EV_READ
 * event feeds the input buffer and complete lines go to dispatch_line().
 * When it may not (max_inflight_per_conn reached, unsent output over
 * max_output_bytes_per_conn, a big line being parsed on a worker), the
 * read event is swapped for an EV_CLOSED watch: the kernel buffer pushes
 * back on the client, and a client that goes away is still noticed.
 *
 * Lifetime: the server holds one reference until the socket is closed;
 * every job pointing here holds one more.  The struct is freed at zero.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "frame.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "server.h"

/* Bytes asked of one read(2); a pipelining client fills them quickly. */
#define CONN_READ_SIZE (256 * 1024)
/* Bytes one write callback may send to one connection. */
#define CONN_WRITE_QUANTUM (256 * 1024)

static uint64_t conn_serial;

static void conn_read_cb(evutil_socket_t, short, void *);
static void conn_write_cb(evutil_socket_t, short, void *);
static void conn_process(struct conn *, bool draining);
static void conn_flush(struct conn *);

struct conn *
conn_new(struct server *s, int fd, pid_t pid, uid_t uid, gid_t gid)
{
	struct conn *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->server = s;
	c->fd = fd;
	c->refs = 1;
	c->pid = pid;
	c->uid = uid;
	c->gid = gid;
	c->serial = ++conn_serial;
	c->connected_ns = clock_now_ns();
	/* Not shared with the workers yet: no lock needed. */
	c->owner.out_cap = s->cfg->max_output_bytes_per_conn;
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->rev =
	    loop_event_new(s->loop, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = loop_event_new(
	    s->loop, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
	if (c->in == NULL || c->out == NULL || c->rev == NULL ||
	    c->wev == NULL || event_add(c->rev, NULL) < 0)
		goto fail;
	c->read_on = true;
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	s->nconns++;
	log_peer(LOG_KIND_CONN, (long)uid, LOG_DEBUG,
	    "conn %llu: pid %ld uid %ld gid %ld connected",
	    (unsigned long long)c->serial, (long)pid, (long)uid, (long)gid);
	return c;

fail:
	log_warnx("conn: out of memory, dropping a client");
	if (c != NULL) {
		loop_event_free(c->rev);
		loop_event_free(c->wev);
		if (c->in != NULL)
			evbuffer_free(c->in);
		if (c->out != NULL)
			evbuffer_free(c->out);
		free(c);
	}
	close(fd);
	return NULL;
}

void
conn_ref(struct conn *c)
{
	c->refs++;
}

void
conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	free(c);
}

static void
mark_dirty(struct conn *c)
{
	if (!c->dirty && !c->closed) {
		c->dirty = true;
		TAILQ_INSERT_TAIL(&c->server->dirty, c, dirty_link);
	}
}

void
conn_send(struct conn *c, const char *bytes, size_t len)
{
	if (c->closed)
		return;
	if (evbuffer_add(c->out, bytes, len) < 0) {
		conn_close(c, "out of memory");
		return;
	}
	mark_dirty(c);
}

static void
free_owned(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

void
conn_send_owned(struct conn *c, char *bytes, size_t len)
{
	if (c->closed) {
		free(bytes);
		return;
	}
	/* Big replies are handed over by reference: no copy. */
	if (len < 4096) {
		conn_send(c, bytes, len);
		free(bytes);
		return;
	}
	if (evbuffer_add_reference(c->out, bytes, len, free_owned, NULL) < 0) {
		free(bytes);
		conn_close(c, "out of memory");
		return;
	}
	mark_dirty(c);
}

/* A reply line holding bytes of the daemon-wide output budget. */
struct charge {
	struct pool *pool;
	unsigned long bytes;
};

/* The line left the daemon (written, or dropped with its buffer). */
static void
free_charged(const void *data, size_t len, void *arg)
{
	struct charge *ch = arg;

	free((void *)data);
	pool_release_output(ch->pool, NULL, 0, ch->bytes);
	free(ch);
}

int
conn_buffer_add_charged(struct server *s, struct evbuffer *buf, char *line,
    size_t len, unsigned long charge)
{
	struct charge *ch;

	if (charge == 0)
		return evbuffer_add_reference(buf, line, len, free_owned, NULL);
	if ((ch = malloc(sizeof(*ch))) == NULL)
		return -1;
	ch->pool = s->pool;
	ch->bytes = charge;
	if (evbuffer_add_reference(buf, line, len, free_charged, ch) < 0) {
		free(ch);
		return -1;
	}
	return 0;
}

void
conn_send_charged(struct conn *c, char *bytes, size_t len, unsigned long charge)
{
	if (!c->closed &&
	    conn_buffer_add_charged(c->server, c->out, bytes, len, charge) ==
		0) {
		mark_dirty(c);
		return;
	}
	free(bytes);
	pool_release_output(c->server->pool, NULL, 0, charge);
	if (!c->closed)
		conn_close(c, "out of memory");
}

void
conn_report_output(struct conn *c)
{
	unsigned long cap = c->server->cfg->max_output_bytes_per_conn;
	unsigned long unsent = c->out != NULL ? evbuffer_get_length(c->out) : 0;
	bool over = unsent > cap;
	bool was_over = c->owner.out_unsent > c->owner.out_cap;

	if (c->closed ||
	    (cap == c->owner.out_cap && unsent == c->owner.out_unsent))
		return;
	/*
	 * The scheduler needs the exact figure only while this client has
	 * jobs (one may wait on it); otherwise only crossing the cap.  So a
	 * ping-only client never takes the pool's lock here.
	 */
	if (cap == c->owner.out_cap && over == was_over && c->inflight == 0)
		return;
	pool_owner_output(c->server->pool, &c->owner, cap, unsent);
}

void
conn_send_buffer(struct conn *c, struct evbuffer *buf)
{
	if (c->closed)
		return;
	if (evbuffer_add_buffer(c->out, buf) < 0) {
		conn_close(c, "out of memory");
		return;
	}
	mark_dirty(c);
}

/*
 * One pass over the connections marked dirty by this callback: each gets
 * one bounded flush.  A connection marked again meanwhile (its flush let
 * it read more requests) waits for the next pass, which its armed write
 * event brings: one callback never serves one client without bound.
 */
void
conn_flush_dirty(struct server *s)
{
	struct conn *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &s->dirty, dirty_link)
		n++;
	while (n-- > 0 && (c = TAILQ_FIRST(&s->dirty)) != NULL) {
		TAILQ_REMOVE(&s->dirty, c, dirty_link);
		c->dirty = false;
		conn_ref(c);
		conn_flush(c);
		conn_unref(c);
	}
	/*
	 * Marked again: the write event (writable at once) takes them.  The
	 * analyzer loses TAILQ_REMOVE's write through tqe_prev to the head,
	 * so it sees the connection freed above in the list again.
	 */
	TAILQ_FOREACH(c, &s->dirty, dirty_link) {
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		if (!c->write_on && event_add(c->wev, NULL) == 0)
			c->write_on = true;
	}
}

/*
 * Is the unsent output holding the connection?  It starts holding when
 * it passes max_output_bytes_per_conn and stops once it has drained to
 * half of that (the low-water mark), so a client that reads slowly is
 * resumed in large steps rather than once per reply.
 */
static bool
output_held(struct conn *c)
{
	size_t unsent = evbuffer_get_length(c->out);
	size_t cap = c->server->cfg->max_output_bytes_per_conn;

	if (unsent > cap)
		c->out_held = true;
	else if (unsent <= cap / 2)
		c->out_held = false;
	return c->out_held;
}

/*
 * THE decision: may this connection take more requests now?  Everything
 * it reads is here: the server's state, end of input, a big line on a
 * worker, the in-flight count and the unsent output.  conn_resume()
 * re-evaluates it, and is called after every event that changes one of
 * these: a read, a write callback (output drained), a job answered or
 * freed, a big line parsed, a reload of the limits.
 */
static bool
conn_should_read(struct conn *c, bool draining)
{
	/* A second big line waits for the first (bounds the input). */
	if (c->closed || c->parse_wait)
		return false;
	if (draining) /* each line is answered -32006 at once */
		return true;
	return c->server->state == SERVER_RUNNING && !output_held(c) &&
	    c->inflight < c->server->cfg->max_inflight_per_conn;
}

/* Is everything this connection asked for answered, with nothing more to
 * come?  Then an EOF'd connection can be closed once its output drains. */
static bool
finished(const struct conn *c)
{
	return !c->closed && c->eof && c->inflight == 0 && !c->parsing &&
	    evbuffer_get_length(c->in) == 0;
}

/* Arm the read event as conn_should_read() says. */
static void
set_reading(struct conn *c)
{
	bool want;
	short what;

	if (c->closed)
		return;
	want = !c->eof && conn_should_read(c, false);
	if (want == c->read_on)
		return;
	/*
	 * Paused: watch only for the peer going away.  After end of input
	 * there is nothing to watch; a failed write will tell.
	 */
	what = want ? EV_READ | EV_PERSIST : EV_CLOSED | EV_PERSIST;
	loop_event_set(c->rev, what);
	c->read_on = want;
	/* A connection that can no longer be watched would hang: drop it. */
	if ((want || !c->eof) && event_add(c->rev, NULL) < 0)
		conn_close(c, "cannot watch the socket (out of memory)");
}

void
conn_resume(struct conn *c)
{
	if (c->closed)
		return;
	conn_ref(c); /* processing or set_reading may close c */
	conn_report_output(c);
	if (c->server->state == SERVER_RUNNING)
		conn_process(c, false);
	set_reading(c);
	if (finished(c))
		mark_dirty(c); /* the flush closes it */
	conn_unref(c);
}

static void
reply_too_long(struct conn *c)
{
	struct rpc_error err = { 0 };
	size_t len;
	char *line;

	rpc_error_limit(&err, RPC_INVALID_REQUEST,
	    c->server->cfg->max_request_bytes,
	    "request line longer than max_request_bytes (%zu)",
	    c->server->cfg->max_request_bytes);
	line = rpc_format_error("null", &err, &len);
	rpc_error_clear(&err);
	if (line != NULL)
		conn_send_owned(c, line, len);
}

/*
 * Hand complete lines to dispatch while the connection may take them
 * (always, when draining: each one is answered -32006 at once).
 */
static void
conn_process(struct conn *c, bool draining)
{
	size_t max = c->server->cfg->max_request_bytes;

	while (conn_should_read(c, draining)) {
		struct evbuffer_ptr start, eol;
		size_t len = evbuffer_get_length(c->in);
		size_t total, line_len;
		const char *data;

		if (len == 0)
			break;
		if (c->discarding) {
			eol = evbuffer_search(c->in, "\n", 1, NULL);
			if (eol.pos < 0) {
				evbuffer_drain(c->in, len);
				break;
			}
			evbuffer_drain(c->in, eol.pos + 1);
			c->discarding = false;
			continue;
		}

		evbuffer_ptr_set(c->in, &start, c->scanned, EVBUFFER_PTR_SET);
		eol = evbuffer_search(c->in, "\n", 1, &start);
		if (eol.pos < 0) {
			c->scanned = len;
			/* max + 1 leaves room for a '\r' before the '\n'. */
			if (len > max + 1) {
				reply_too_long(c);
				evbuffer_drain(c->in, len);
				c->scanned = 0;
				c->discarding = true;
				continue;
			}
			if (!c->eof || draining)
				break;
			total = line_len = len; /* last line, no '\n' */
		} else {
			total = eol.pos + 1;
			line_len = eol.pos;
		}
		/*
		 * One big line per connection on the parser lane; the lines
		 * after it go on, but a second big one waits (scanned stays
		 * at its end: no rescan of it).
		 */
		if (!draining && c->parsing &&
		    line_len > DISPATCH_INLINE_PARSE_MAX) {
			c->scanned = line_len;
			c->parse_wait = true;
			break;
		}
		c->scanned = 0;

		data = (const char *)evbuffer_pullup(c->in, total);
		if (data == NULL) {
			conn_close(c, "out of memory");
			return;
		}
		if (line_len > 0 && data[line_len - 1] == '\r')
			line_len--;
		if (line_len > max)
			reply_too_long(c);
		else if (!frame_is_blank(data, line_len))
			dispatch_line(c, data, line_len);
		if (c->closed)
			return;
		/* Requests carry passwords: leave none in freed memory. */
		explicit_bzero((void *)data, total);
		evbuffer_drain(c->in, total);
	}
}

/*
 * End of input or a disconnect?  A full close of the peer shows POLLHUP
 * on a UNIX stream socket; a shutdown(SHUT_WR) only shows POLLRDHUP, and
 * is end of input: the client still reads its replies (contract 1.1).
 */
/* conn_close for a failed read or write: the reason is errno. */
static void
conn_close_errno(struct conn *c)
{
	if (!c->closed)
		log_peer_errno(LOG_KIND_CONN, (long)c->uid, LOG_DEBUG,
		    "conn %llu: closed", (unsigned long long)c->serial);
	conn_close(c, NULL);
}

static bool
peer_gone(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLHUP | POLLERR)) != 0;
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct server *s = c->server;
	int n;

	conn_ref(c);
	if (!c->read_on) {
		/* EV_CLOSED while paused. */
		if (peer_gone(fd))
			conn_close(c, "client went away");
		else
			event_del(c->rev); /* half-close: read sees it */
		goto out;
	}

	n = evbuffer_read(c->in, fd, CONN_READ_SIZE);
	if (n == 0) {
		if (peer_gone(fd)) {
			conn_close(c, "client went away");
			goto out;
		}
		c->eof = true;
	} else if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_close_errno(c);
		goto out;
	}
	conn_process(c, false);
	set_reading(c);
	if (finished(c))
		mark_dirty(c);
out:
	conn_flush_dirty(s);
	conn_unref(c);
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	conn_ref(c);
	conn_flush(c);
	conn_flush_dirty(c->server);
	conn_unref(c);
}

/*
 * Write at most CONN_WRITE_QUANTUM bytes, then let the loop serve the
 * other connections: a persistent EV_WRITE brings us back while output
 * remains, so writable connections take turns (round-robin) and none
 * holds the event thread for a 16 MiB reply.
 */
static void
conn_flush(struct conn *c)
{
	size_t left = CONN_WRITE_QUANTUM;

	if (c->closed)
		return;
	if (c->dirty) {
		TAILQ_REMOVE(&c->server->dirty, c, dirty_link);
		c->dirty = false;
	}
	while (left > 0 && evbuffer_get_length(c->out) > 0) {
		int n = evbuffer_write_atmost(c->out, c->fd, (ssize_t)left);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				break;
			conn_close_errno(c);
			return;
		}
		if (n == 0)
			break;
		left -= (size_t)n < left ? (size_t)n : left;
	}
	if (evbuffer_get_length(c->out) > 0) {
		if (!c->write_on && event_add(c->wev, NULL) < 0) {
			conn_close(
			    c, "cannot watch the socket (out of memory)");
			return;
		}
		c->write_on = true;
	} else if (c->write_on) {
		event_del(c->wev);
		c->write_on = false;
	}
	/* Output drained (even partly): may its jobs start, may it read? */
	conn_report_output(c);
	conn_resume(c);
	/* Both callers hold a reference, so c outlives a close above. */
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
	if (c->closed)
		return;
	if (finished(c) && evbuffer_get_length(c->out) == 0)
		conn_close(c, NULL);
	else if (c->server->state != SERVER_RUNNING)
		server_check_drained(c->server);
}

void
conn_job_attach(struct conn *c, struct job *job)
{
	job->conn = c;
	job->conn_prev = NULL;
	job->conn_next = c->jobs;
	if (c->jobs != NULL)
		c->jobs->conn_prev = job;
	c->jobs = job;
	conn_ref(c);
}

void
conn_job_detach(struct conn *c, struct job *job)
{
	if (job->conn_prev != NULL)
		job->conn_prev->conn_next = job->conn_next;
	else
		c->jobs = job->conn_next;
	if (job->conn_next != NULL)
		job->conn_next->conn_prev = job->conn_prev;
	job->conn_next = job->conn_prev = NULL;
	job->conn = NULL;
	conn_unref(c);
}

void
conn_close(struct conn *c, const char *why)
{
	struct server *s = c->server;

	if (c->closed)
		return;
	c->closed = true;
	if (why != NULL)
		log_peer(LOG_KIND_CONN, (long)c->uid, LOG_DEBUG,
		    "conn %llu: closed: %s", (unsigned long long)c->serial,
		    why);
	loop_event_free(c->rev);
	loop_event_free(c->wev);
	c->rev = c->wev = NULL;
	close(c->fd);
	c->fd = -1;
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	c->in = c->out = NULL;
	if (c->dirty) {
		TAILQ_REMOVE(&s->dirty, c, dirty_link);
		c->dirty = false;
	}
	TAILQ_REMOVE(&s->conns, c, link);
	s->nconns--;

	dispatch_conn_gone(c);
	server_check_drained(s);
	conn_unref(c);
}

void
conn_drain(struct conn *c)
{
	if (c->closed)
		return;
	/*
	 * conn_process may close c (out of memory, a failed write), which
	 * drops the list's reference: hold one of our own until done.
	 */
	conn_ref(c);
	conn_process(c, true);
	/* NOLINTBEGIN(clang-analyzer-unix.Malloc): our reference keeps c */
	set_reading(c);
	if (!c->closed)
		mark_dirty(c);
	conn_unref(c);
	/* NOLINTEND(clang-analyzer-unix.Malloc) */
}
