/*
 * conn.c - client connections; see conn.h.
 *
 * Reading: while the connection may take more work, its event waits for
 * EV_READ to feed the input buffer, proto/frame.c cuts it into lines, and
 * each goes to the set's line callback.  When it may not
 * (max_inflight_per_conn reached, unsent output over
 * max_output_bytes_per_conn, a line held back by the callback, shutdown),
 * it waits for EV_CLOSED instead: the kernel buffer pushes back on the
 * client, and a client that goes away is still noticed.  One function,
 * conn_should_read, makes that decision.  The same event waits for
 * EV_WRITE while output is left that the socket did not take.
 *
 * Lifetime: the set holds one reference until the socket is closed;
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
#include "job.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "rpc.h"

/* Bytes asked of one read(2); a pipelining client fills them quickly. */
#define CONN_READ_SIZE (256 * 1024)
/* Bytes one write callback may send to one connection. */
#define CONN_WRITE_QUANTUM (256 * 1024)

/* What the read decision allows. */
enum conn_read {
	READ_NOTHING,  /* no line handed out, the socket not read */
	READ_BUFFERED, /* lines already read, but not the socket */
	READ_SOCKET,   /* both */
};

static uint64_t conn_serial;

static void conn_event_cb(evutil_socket_t, short, void *);
static void conn_flush(struct conn *);

static const struct sbk_config *
cfg_of(const struct conn *c)
{
	return *c->set->cfg;
}

static size_t
len_of(const struct evbuffer *buf)
{
	return buf != NULL ? evbuffer_get_length(buf) : 0;
}

/* Free a buffer when empty (an idle connection holds none), or all. */
static void
drop(struct evbuffer **buf, bool all)
{
	if (*buf != NULL && (all || evbuffer_get_length(*buf) == 0)) {
		evbuffer_free(*buf);
		*buf = NULL;
	}
}

/*
 * Make the socket's event wait for what the connection needs now: input
 * (READING), a disconnect (PAUSED, unless the peer's half-close was
 * already seen: EV_CLOSED would then fire forever), and EV_WRITE while
 * output waits.  A connection that can no longer be watched would hang:
 * it is closed, and -1 returned.
 */
static int
arm(struct conn *c)
{
	short what = c->write_on ? EV_WRITE : 0;

	if (c->state == CONN_READING)
		what |= EV_READ;
	else if (c->state == CONN_PAUSED && !c->shut)
		what |= EV_CLOSED;
	if (what == c->armed)
		return 0;
	if (c->armed != 0)
		event_del(&c->ev);
	c->armed = what;
	if (what == 0)
		return 0;
	event_assign(&c->ev, loop_base(c->set->loop), c->fd,
	    (short)(what | EV_PERSIST), conn_event_cb, c);
	if (event_add(&c->ev, NULL) == 0)
		return 0;
	c->armed = 0;
	conn_close(c, "cannot watch the socket (out of memory)");
	return -1;
}

void
conn_set_init(struct conn_set *set, struct loop *loop, struct pool *pool,
    const struct sbk_config *const *cfg, const struct conn_ops *ops, void *arg)
{
	*set = (struct conn_set){
		.loop = loop, .pool = pool, .cfg = cfg, .ops = ops, .arg = arg
	};
	TAILQ_INIT(&set->all);
	TAILQ_INIT(&set->dirty);
}

struct conn *
conn_new(struct conn_set *set, int fd, pid_t pid, uid_t uid, gid_t gid)
{
	struct conn *c = malloc(sizeof(*c));

	if (c == NULL) {
		log_warnx("conn: out of memory, dropping a client");
		close(fd);
		return NULL;
	}
	*c = (struct conn){ .set = set,
		.serial = ++conn_serial,
		.connected_ns = clock_now_ns(),
		.fd = fd,
		.refs = 1,
		.pid = pid,
		.uid = uid,
		.gid = gid,
		.state = CONN_READING };
	frame_init(&c->frame, (*set->cfg)->max_request_bytes);
	/* Not shared with the workers yet: no lock needed. */
	c->owner.out_cap = (*set->cfg)->max_output_bytes_per_conn;
	TAILQ_INSERT_TAIL(&set->all, c, link);
	set->count++;
	log_peer(LOG_KIND_CONN, (long)uid, LOG_DEBUG,
	    "conn %llu: pid %ld uid %ld gid %ld connected",
	    (unsigned long long)c->serial, (long)pid, (long)uid, (long)gid);
	return arm(c) == 0 ? c : NULL;
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
	if (!c->dirty && !conn_closed(c)) {
		c->dirty = true;
		TAILQ_INSERT_TAIL(&c->set->dirty, c, dirty_link);
	}
}

static void
free_owned(const void *data, size_t len, void *arg)
{
	free((void *)data);
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
conn_buffer_add_charged(struct conn *c, struct evbuffer *buf, char *line,
    size_t len, unsigned long charge)
{
	struct charge *ch;

	/* Small lines are copied (one write sends many), big ones not. */
	if (charge == 0 && len < 4096) {
		if (evbuffer_add(buf, line, len) < 0)
			return -1;
		free(line);
		return 0;
	}
	if (charge == 0)
		return evbuffer_add_reference(buf, line, len, free_owned, NULL);
	if ((ch = malloc(sizeof(*ch))) == NULL)
		return -1;
	*ch = (struct charge){ .pool = c->set->pool, .bytes = charge };
	if (evbuffer_add_reference(buf, line, len, free_charged, ch) < 0) {
		free(ch);
		return -1;
	}
	return 0;
}

void
conn_release_charge(struct conn *c, unsigned long charge)
{
	if (charge > 0)
		pool_release_output(c->set->pool, NULL, 0, charge);
}

/* The output buffer, made for the first reply after an idle spell. */
static struct evbuffer *
output(struct conn *c)
{
	if (c->out == NULL && !conn_closed(c))
		c->out = evbuffer_new();
	return c->out;
}

void
conn_send_charged(struct conn *c, char *bytes, size_t len, unsigned long charge)
{
	if (output(c) != NULL &&
	    conn_buffer_add_charged(c, c->out, bytes, len, charge) == 0) {
		mark_dirty(c);
		return;
	}
	free(bytes);
	conn_release_charge(c, charge);
	if (!conn_closed(c))
		conn_close(c, "out of memory");
}

size_t
conn_unsent(const struct conn *c)
{
	return len_of(c->out);
}

void
conn_report_output(struct conn *c)
{
	unsigned long cap = cfg_of(c)->max_output_bytes_per_conn;
	unsigned long unsent = len_of(c->out);
	bool over = unsent > cap;
	bool was_over = c->owner.out_unsent > c->owner.out_cap;

	if (conn_closed(c) ||
	    (cap == c->owner.out_cap && unsent == c->owner.out_unsent))
		return;
	/*
	 * The scheduler needs the exact figure only while this client has
	 * jobs (one may wait on it); otherwise only crossing the cap.  So a
	 * ping-only client never takes the pool's lock here.
	 */
	if (cap == c->owner.out_cap && over == was_over && c->inflight == 0)
		return;
	pool_owner_output(c->set->pool, &c->owner, cap, unsent);
}

void
conn_send_buffer(struct conn *c, struct evbuffer *buf)
{
	if (output(c) != NULL && evbuffer_add_buffer(c->out, buf) == 0)
		mark_dirty(c);
	else if (!conn_closed(c))
		conn_close(c, "out of memory");
}

/*
 * One pass over the connections marked dirty by this callback: each gets
 * one bounded flush.  A connection marked again meanwhile (its flush let
 * it read more requests) waits for the next pass, which its armed write
 * event brings: one callback never serves one client without bound.
 */
void
conn_flush_dirty(struct conn_set *set)
{
	struct conn *c, *next;
	size_t n = 0;

	TAILQ_FOREACH(c, &set->dirty, dirty_link)
		n++;
	while (n-- > 0 && (c = TAILQ_FIRST(&set->dirty)) != NULL) {
		TAILQ_REMOVE(&set->dirty, c, dirty_link);
		c->dirty = false;
		conn_ref(c);
		conn_flush(c);
		/* Ours keeps c alive through a close (the analyzer counts
		 * no references). */
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		conn_unref(c);
	}
	/*
	 * Marked again: EV_WRITE (writable at once) takes them.  The
	 * analyzer loses TAILQ_REMOVE's write through tqe_prev to the head,
	 * so it sees the connection freed above in the list again.
	 */
	for (c = TAILQ_FIRST(&set->dirty); c != NULL; c = next) {
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		next = TAILQ_NEXT(c, dirty_link);
		c->write_on = true;
		arm(c); /* may close c */
	}
}

bool
conn_set_flushed(const struct conn_set *set)
{
	const struct conn *c;

	if (!TAILQ_EMPTY(&set->dirty))
		return false;
	TAILQ_FOREACH(c, &set->all, link)
		if (len_of(c->out) > 0)
			return false;
	return true;
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
	size_t unsent = len_of(c->out);
	size_t cap = cfg_of(c)->max_output_bytes_per_conn;

	if (unsent > cap)
		c->out_held = true;
	else if (unsent <= cap / 2)
		c->out_held = false;
	return c->out_held;
}

/*
 * THE decision: may this connection take more requests now, and from
 * where?  Everything it reads is here: the connection's state, a line
 * held back, shutdown, the in-flight count and the unsent output.
 * conn_update() applies it, after every event that changes one of these:
 * a read, a write callback (output drained), a job answered or freed, a
 * handed line done, a reload of the limits.
 */
static enum conn_read
conn_should_read(struct conn *c)
{
	/* A line held back waits for the one handed out (bounds input). */
	if (conn_closed(c) || c->held)
		return READ_NOTHING;
	/* Shutdown: each line already read is answered -32006 at once. */
	if (c->set->draining)
		return READ_BUFFERED;
	if (output_held(c) || c->inflight >= cfg_of(c)->max_inflight_per_conn)
		return READ_NOTHING;
	return c->state == CONN_EOF ? READ_BUFFERED : READ_SOCKET;
}

/* Is everything this connection asked for answered, with nothing more to
 * come?  Then it can be closed once its output drains. */
static bool
finished(const struct conn *c)
{
	return c->state == CONN_EOF && c->inflight == 0 && !c->handed &&
	    len_of(c->in) == 0;
}

static void
reply_too_long(struct conn *c)
{
	size_t max = cfg_of(c)->max_request_bytes;
	struct rpc_error err = { 0 };
	size_t len;
	char *line;

	rpc_error_limit(&err, RPC_INVALID_REQUEST, max,
	    "request line longer than max_request_bytes (%zu)", max);
	line = rpc_format_error("null", &err, &len);
	rpc_error_clear(&err);
	if (line != NULL)
		conn_send_owned(c, line, len);
}

/* Hand complete lines out while the read decision allows. */
static void
conn_process(struct conn *c)
{
	c->frame.max_line = cfg_of(c)->max_request_bytes; /* a reload */
	while (conn_should_read(c) != READ_NOTHING) {
		size_t len = len_of(c->in), used, line_len;
		bool eof = c->state == CONN_EOF && !c->set->draining;
		enum frame_status st;
		enum conn_take take;
		const char *data;

		if (len == 0)
			break;
		data = (const char *)evbuffer_pullup(c->in, -1);
		if (data == NULL) {
			conn_close(c, "out of memory");
			return;
		}
		st = frame_next(&c->frame, data, len, eof, &used, &line_len);
		if (st == FRAME_TOO_LONG) {
			reply_too_long(c);
		} else if (st == FRAME_LINE) {
			take =
			    c->set->ops->line(c, data, line_len, c->set->arg);
			if (take == CONN_NOT_NOW && !conn_closed(c)) {
				frame_keep(&c->frame, used);
				c->held = true;
				break;
			}
			c->handed |= take == CONN_HANDED;
		} else if (used == 0) {
			break;
		}
		if (conn_closed(c))
			return;
		/* Requests carry passwords: leave none in freed memory. */
		explicit_bzero((void *)data, used);
		evbuffer_drain(c->in, used);
	}
	drop(&c->in, false);
}

/* Apply the read decision: hand lines out, arm or pause reading, and
 * close a finished connection once its output is written. */
static void
conn_update(struct conn *c)
{
	conn_process(c);
	if (c->state == CONN_READING || c->state == CONN_PAUSED) {
		c->state = conn_should_read(c) == READ_SOCKET ? CONN_READING :
								CONN_PAUSED;
		if (c->state == CONN_READING)
			c->shut = false; /* a read will see it */
	}
	if (!conn_closed(c) && arm(c) == 0 && finished(c))
		mark_dirty(c); /* the flush closes it */
}

void
conn_resume(struct conn *c)
{
	if (conn_closed(c))
		return;
	conn_ref(c); /* processing or set_reading may close c */
	conn_report_output(c);
	conn_update(c);
	conn_unref(c);
}

static void
resume_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct conn_set *set = c->set;

	conn_resume(c);
	conn_flush_dirty(set);
	/* The reference conn_resume_later took: c lived until here. */
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
	conn_unref(c);
}

void
conn_resume_later(struct conn *c)
{
	conn_ref(c);
	if (loop_once(c->set->loop, resume_later_cb, c) < 0) {
		log_err(
		    "conn %llu: out of memory: it resumes at its next event",
		    (unsigned long long)c->serial);
		conn_unref(c);
	}
}

void
conn_line_done(struct conn *c)
{
	c->handed = false;
	c->held = false;
	conn_resume(c);
}

void
conn_set_resume_all(struct conn_set *set)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&set->all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		conn_resume(c);
	}
	conn_flush_dirty(set);
}

/* conn_close for a failed read or write: the reason is errno. */
static void
conn_close_errno(struct conn *c)
{
	if (!conn_closed(c))
		log_peer_errno(LOG_KIND_CONN, (long)c->uid, LOG_DEBUG,
		    "conn %llu: closed", (unsigned long long)c->serial);
	conn_close(c, NULL);
}

/*
 * End of input or a disconnect?  A full close of the peer shows POLLHUP
 * on a UNIX stream socket; a shutdown(SHUT_WR) only shows POLLRDHUP, and
 * is end of input: the client still reads its replies (contract 1.1).
 */
static bool
peer_gone(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLHUP | POLLERR)) != 0;
}

/* Input, end of input, or (paused) a disconnect or a half-close. */
static void
conn_input(struct conn *c)
{
	int n = 0;

	if (c->state == CONN_READING) {
		if (c->in == NULL && (c->in = evbuffer_new()) == NULL) {
			conn_close(c, "out of memory");
			return;
		}
		n = evbuffer_read(c->in, c->fd, CONN_READ_SIZE);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			conn_close_errno(c);
			return;
		}
	} else if (c->state != CONN_PAUSED) {
		return;
	}
	if (n == 0 && peer_gone(c->fd)) {
		conn_close(c, "client went away");
		return;
	}
	/* A half-close: paused, a read sees it once resumed. */
	if (n == 0 && c->state == CONN_PAUSED)
		c->shut = true;
	else if (n == 0)
		c->state = CONN_EOF;
	conn_update(c);
}

static void
conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct conn_set *set = c->set;

	loop_mark_busy(set->loop);
	conn_ref(c);
	if (what & (EV_READ | EV_CLOSED))
		conn_input(c);
	if (what & EV_WRITE)
		conn_flush(c);
	conn_flush_dirty(set);
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

	if (conn_closed(c))
		return;
	if (c->dirty) {
		TAILQ_REMOVE(&c->set->dirty, c, dirty_link);
		c->dirty = false;
	}
	while (left > 0 && len_of(c->out) > 0) {
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
	drop(&c->out, false);
	c->write_on = c->out != NULL;
	arm(c);
	/* Output drained (even partly): may its jobs start, may it read? */
	conn_resume(c);
	/* Both callers hold a reference, so c outlives a close above. */
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
	if (finished(c) && c->out == NULL)
		conn_close(c, NULL);
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
	struct conn_set *set = c->set;

	if (conn_closed(c))
		return;
	c->state = CONN_CLOSED;
	if (why != NULL)
		log_peer(LOG_KIND_CONN, (long)c->uid, LOG_DEBUG,
		    "conn %llu: closed: %s", (unsigned long long)c->serial,
		    why);
	if (c->armed != 0)
		event_del(&c->ev);
	close(c->fd);
	c->fd = -1;
	drop(&c->in, true);
	drop(&c->out, true);
	if (c->dirty) {
		TAILQ_REMOVE(&set->dirty, c, dirty_link);
		c->dirty = false;
	}
	TAILQ_REMOVE(&set->all, c, link);
	set->count--;

	set->ops->gone(c, set->arg);
	conn_unref(c);
}

void
conn_set_close_all(struct conn_set *set)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&set->all)) != NULL)
		conn_close(c, "shutdown");
}

void
conn_set_drain(struct conn_set *set)
{
	struct conn *c;

	set->draining = true;
	/* Each gets a flush, which closes it once finished. */
	TAILQ_FOREACH(c, &set->all, link)
		mark_dirty(c);
	conn_set_resume_all(set);
}
