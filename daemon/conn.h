/*
 * conn.h - one client connection: non-blocking reads into an input
 * buffer, NDJSON framing with the max_request_bytes limit, the in-flight
 * id table, flow control (pause reading at max_inflight_per_conn or when
 * unsent output passes max_output_bytes_per_conn), output flushing, and
 * the connection's lifetime: a counted object that outlives its socket
 * while jobs still point at it.
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

#include "scheduler.h"

struct server;
struct job;
struct evbuffer;
struct event;

struct conn {
	struct server *server;
	uint64_t serial;       /* for log lines and admin.*; never reused */
	uint64_t connected_ns; /* CLOCK_MONOTONIC, for admin.clients */
	int fd;
	unsigned refs; /* server's (until closed) + jobs' */
	pid_t pid;
	uid_t uid;
	gid_t gid;

	struct event *rev; /* EV_READ, or EV_CLOSED when paused */
	struct event *wev;
	struct evbuffer *in;
	struct evbuffer *out;
	size_t scanned;	 /* bytes of in known to hold no '\n' */
	bool discarding; /* skipping an over-long line */

	struct job *ids;   /* uthash: in-flight jobs by id */
	struct job *jobs;  /* every job pointing here */
	unsigned inflight; /* admitted, not yet answered */

	struct sched_owner owner; /* this client's waiting jobs */

	bool eof;	 /* the peer shut down its side */
	bool closed;	 /* socket gone */
	bool parsing;	 /* a big line is on the parser lane */
	bool parse_wait; /* and the next complete line is big too */
	bool read_on;	 /* rev is EV_READ (else EV_CLOSED) */
	bool write_on;	 /* wev is added */
	bool out_held;	 /* unsent output passed the cap, not yet at half */
	bool dirty;	 /* on server->dirty */
	TAILQ_ENTRY(conn) link;
	TAILQ_ENTRY(conn) dirty_link;
};

/* Take over an accepted socket.  NULL when out of memory (fd closed). */
struct conn *conn_new(struct server *, int fd, pid_t, uid_t, gid_t);

void conn_ref(struct conn *);
void conn_unref(struct conn *);

/* Queue reply bytes (copied) and schedule a flush. */
void conn_send(struct conn *, const char *bytes, size_t len);
/* Queue a malloc'd reply without copying; takes ownership. */
void conn_send_owned(struct conn *, char *bytes, size_t len);

/*
 * Queue a malloc'd reply (taken over) that holds charge bytes of the
 * daemon-wide output budget: they are given back when the bytes have
 * been written to the socket, or dropped with the connection.
 */
void conn_send_charged(
    struct conn *, char *bytes, size_t len, unsigned long charge);
/* The same into any buffer (a batch's); 0, or -1 (nothing taken over). */
int conn_buffer_add_charged(struct server *, struct evbuffer *, char *line,
    size_t len, unsigned long charge);

/* Tell the scheduler this connection's unsent output and cap (they
 * decide whether its jobs may start). */
void conn_report_output(struct conn *);

/* Move a whole buffer's bytes to the output (batch replies). */
void conn_send_buffer(struct conn *, struct evbuffer *);

/* Write what the dirty connections hold (end of a callback batch). */
void conn_flush_dirty(struct server *);

/*
 * Re-evaluate reading: hand buffered complete lines to dispatch and arm
 * or pause the read event, as the connection's one read decision says.
 * Call after every event that can change it: a job answered or freed,
 * output drained, a big line parsed, a reload of the limits.
 */
void conn_resume(struct conn *);

/* A job now points at this connection / stopped pointing at it. */
void conn_job_attach(struct conn *, struct job *);
void conn_job_detach(struct conn *, struct job *);

/* Close the socket: a disconnect (waiting jobs dropped, running ones told
 * to stop) or the end of a finished connection. */
void conn_close(struct conn *, const char *why);

/* Shutdown: stop reading; answer buffered complete lines with -32006. */
void conn_drain(struct conn *);

#endif /* SBK_CONN_H */
