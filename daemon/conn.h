/*
 * conn.h - client connections: non-blocking reads into an input buffer,
 * NDJSON framing (proto/frame.c) with the max_request_bytes limit, flow
 * control (pause reading at max_inflight_per_conn or when unsent output
 * passes max_output_bytes_per_conn), output flushing, and each
 * connection's lifetime: a counted object that outlives its socket while
 * jobs still point at it.
 *
 * conn.c knows nothing of requests: each complete line goes to the line
 * callback given with the connection set (dispatch.c's), which answers
 * through conn_send*.  The layer above tells a connection what changed
 * (a request admitted or answered, a job attached) and calls conn_resume.
 *
 * Threads: event thread only.  Workers never see a struct conn.
 */
#ifndef SBK_CONN_H
#define SBK_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event_struct.h>

#include "frame.h"
#include "scheduler.h"

struct conn;
struct evbuffer;
struct job;
struct loop;
struct pool;
struct sbk_config;

/*
 * The input side of a connection.  Whether it reads is not a state but
 * a decision (conn.c, conn_should_read), made again after every event
 * that changes one of its inputs; READING and PAUSED record the last
 * answer, as the socket's event armed.
 *
 *   READING -> PAUSED   the decision says no (limits, a held line, shutdown)
 *   PAUSED  -> READING  it says yes again (conn_resume)
 *   READING -> EOF      the peer shut its side down: lines left are
 *                       handed out, then it closes once all is answered
 *   any     -> CLOSED   disconnect, error, or finished; the struct lives
 *                       until the last reference goes
 */
enum conn_state {
	CONN_READING, /* EV_READ armed */
	CONN_PAUSED,  /* EV_CLOSED only: a disconnect is still seen */
	CONN_EOF,     /* no more input */
	CONN_CLOSED,  /* socket gone */
};

/* What the line callback did with a line. */
enum conn_take {
	CONN_TAKEN,   /* handled (answered, admitted or refused) */
	CONN_HANDED,  /* handed elsewhere: conn_line_done() will follow */
	CONN_NOT_NOW, /* keep it, read nothing more, offer it again after
			 conn_line_done() */
};

struct conn_ops {
	/* One complete line, terminator stripped, never blank. */
	enum conn_take (*line)(
	    struct conn *, const char *line, size_t len, void *arg);
	/* The socket closed: drop its waiting jobs, stop running ones. */
	void (*gone)(struct conn *, void *arg);
};

TAILQ_HEAD(conn_list, conn);

/* Every connection of the daemon. */
struct conn_set {
	struct loop *loop;
	struct pool *pool; /* output budget, the scheduler's owners */
	const struct sbk_config *const *cfg; /* in force: read afresh */
	const struct conn_ops *ops;
	void *arg; /* the ops' */
	struct conn_list all;
	unsigned count;
	struct conn_list dirty; /* output to flush */
	bool draining;		/* shutdown: nothing more is read */
};

struct conn {
	struct conn_set *set;
	uint64_t serial;       /* for log lines and admin.*; never reused */
	uint64_t connected_ns; /* CLOCK_MONOTONIC, for admin.clients */
	int fd;
	unsigned refs; /* the set's (until closed) + jobs' */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	enum conn_state state;

	/* One event (the read side's, plus EV_WRITE while output waits) and
	 * buffers only while they hold bytes: an idle connection is one
	 * allocation (docs/BENCHMARKS.md, "Session 6"). */
	struct event ev;
	struct evbuffer *in;
	struct evbuffer *out;
	struct frame frame;

	/* Written by the layer above; read by the read decision. */
	struct job *ids;   /* uthash: in-flight jobs by id */
	struct job *jobs;  /* every job pointing here */
	unsigned inflight; /* admitted, not yet answered */

	struct sched_owner owner; /* this client's waiting jobs */

	short armed;   /* what ev waits for; 0: not added */
	bool handed;   /* a line is out (CONN_HANDED), not yet done */
	bool held;     /* a line was CONN_NOT_NOW: it waits in `in` */
	bool write_on; /* output waits for the socket: EV_WRITE */
	bool shut;     /* paused, and the peer shut its side (not watched) */
	bool out_held; /* unsent output passed the cap, not yet at half */
	bool dirty;    /* on set->dirty */
	TAILQ_ENTRY(conn) link;
	TAILQ_ENTRY(conn) dirty_link;
};

static inline bool
conn_closed(const struct conn *c)
{
	return c->state == CONN_CLOSED;
}

/* An empty set; the server owns it. */
void conn_set_init(struct conn_set *, struct loop *, struct pool *,
    const struct sbk_config *const *cfg, const struct conn_ops *, void *arg);
/* Close every connection (teardown). */
void conn_set_close_all(struct conn_set *);
/* Shutdown: read nothing more; answer the complete lines already read
 * (the line callback sees the set draining). */
void conn_set_drain(struct conn_set *);
/* New limits (a reload) may let paused connections go on. */
void conn_set_resume_all(struct conn_set *);
/* Nothing left to write on any connection. */
bool conn_set_flushed(const struct conn_set *);
/* Write what the dirty connections hold (end of a callback batch). */
void conn_flush_dirty(struct conn_set *);

/* Take over an accepted socket.  NULL when out of memory (fd closed). */
struct conn *conn_new(struct conn_set *, int fd, pid_t, uid_t, gid_t);

void conn_ref(struct conn *);
void conn_unref(struct conn *);

/*
 * Queue a malloc'd reply (taken over) that holds charge bytes of the
 * daemon-wide output budget: they are given back when the bytes have
 * been written to the socket, or dropped with the connection.
 */
void conn_send_charged(
    struct conn *, char *bytes, size_t len, unsigned long charge);
/* The same, holding none of the budget. */
static inline void
conn_send_owned(struct conn *c, char *bytes, size_t len)
{
	conn_send_charged(c, bytes, len, 0);
}
/* The same into any buffer (a batch's); 0, or -1 (nothing taken over). */
int conn_buffer_add_charged(struct conn *, struct evbuffer *, char *line,
    size_t len, unsigned long charge);
/* Give back charge bytes whose line never made it into a buffer. */
void conn_release_charge(struct conn *, unsigned long charge);

/* Bytes of output not yet written. */
size_t conn_unsent(const struct conn *);
/* Tell the scheduler this connection's unsent output and cap (they
 * decide whether its jobs may start). */
void conn_report_output(struct conn *);

/* Move a whole buffer's bytes to the output (batch replies). */
void conn_send_buffer(struct conn *, struct evbuffer *);

/*
 * Re-evaluate reading: hand buffered complete lines out and arm or pause
 * the read event, as the connection's one read decision says.  Call
 * after every event that can change it: a job answered or freed, a
 * reload of the limits.  (Reads and writes re-evaluate by themselves.)
 */
void conn_resume(struct conn *);
/* The same at the next loop iteration: for a connection other than the
 * one whose line is being handled now. */
void conn_resume_later(struct conn *);
/* A CONN_HANDED line is done: a held line may go now; resume. */
void conn_line_done(struct conn *);

/* A job now points at this connection / stopped pointing at it. */
void conn_job_attach(struct conn *, struct job *);
void conn_job_detach(struct conn *, struct job *);

/* Close the socket: a disconnect (waiting jobs dropped, running ones told
 * to stop) or the end of a finished connection. */
void conn_close(struct conn *, const char *why);

#endif /* SBK_CONN_H */
