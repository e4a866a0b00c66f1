/*
 * sbk-internal.h - what libsbk's layers share: the client structure and
 * the helpers they use.  From the top down: sbk-async.c (callbacks,
 * timers, retries), sbk-recv.c (input, sbk_call), sbk-send.c (output),
 * sbk-conn.c (the connection: connect, the socket's reads, close,
 * settings), sbk-client.c (errors, the clock); each calls only those
 * below it.  Not installed; the sbki_ names are not exported
 * from libsbk.so (libsbk.map).
 *
 * Thread safety: one thread per struct sbk_client at a time.
 */
#ifndef SBK_INTERNAL_H
#define SBK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <jansson.h>

#include "frame.h"
#include "reqtab.h"
#include "sbk-client.h"

/* A message read by sbk_call that belongs to an earlier sbk_send. */
struct sbk_held {
	json_t *msg;
	struct sbk_held *next;
};

struct sbk_client {
	int fd;
	bool eof;    /* the daemon closed its side */
	bool failed; /* the connection is gone; async requests were told */

	/* Non-blocking connect still waiting for the listener's backlog. */
	bool connecting;
	char *path;
	int64_t connect_deadline; /* -1: none */
	int64_t connect_retry_at;

	/* Read buffer: bytes rbuf[rstart .. rlen) not yet framed. */
	char *rbuf;
	size_t rstart;
	size_t rlen;
	size_t rcap;
	size_t max_reply;
	struct frame frame;

	/* Write buffer: wbuf[woff .. wlen) not yet written. */
	char *wbuf;
	size_t woff;
	size_t wlen;
	size_t wcap;
	bool corked;
	int send_timeout;

	int64_t next_id;
	sbk_notify_cb *notify_cb;
	void *notify_arg;

	/* Replies sbk_call read for earlier sends: one per id at most. */
	struct sbk_held *held_head;
	struct sbk_held **held_tail;

	/* Ids sent and not answered; replies to others are strays. */
	struct reqtab reqs;
	uint64_t strays;

	/* The asynchronous requests (a list through sbk_req.tnext). */
	struct sbk_req *async_head;
	size_t nasync;
	int max_retries;
	sbk_wakeup_cb *wakeup;
	void *wakeup_arg;
	int dispatching; /* > 0 while inside a callback */
	/*
	 * Set by sbk-async.c with the first asynchronous request, so that
	 * the blocking core below it never calls up into it: take a message
	 * that may be an async request's; tell them all the connection
	 * failed.  NULL while there has been none.
	 */
	bool (*async_take)(struct sbk_client *, struct sbk_reply *);
	void (*async_fail)(struct sbk_client *, const struct sbk_error *);

	/* sbk_batch_begin: requests gathered into one array line. */
	bool in_batch;
	size_t batch_mark; /* where the batch starts in wbuf */
	size_t batch_n;
};

void sbki_seterr(struct sbk_error *, enum sbk_error_kind, int sys_errno,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void sbki_set_rpc_error(struct sbk_error *, const json_t *eobj);
int64_t sbki_now_ms(void);

/* Deadline for a timeout in ms; -1 stays "never". */
static inline int64_t
sbki_deadline_of(int timeout_ms)
{
	return (timeout_ms < 0 ? -1 : sbki_now_ms() + timeout_ms);
}

/* poll(2) timeout left before a deadline. */
static inline int
sbki_remaining(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return (-1);
	left = deadline - sbki_now_ms();
	if (left <= 0)
		return (0);
	return (left > INT_MAX ? INT_MAX : (int)left);
}

static inline bool
sbki_passed(int64_t deadline)
{
	return (deadline >= 0 && sbki_now_ms() >= deadline);
}

/* 1: bytes read (or eof), 0: nothing now, -1: error. */
int sbki_read_some(struct sbk_client *, struct sbk_error *);
/* Write what the socket takes now: 0, or -1 (err set). */
int sbki_write_some(struct sbk_client *, struct sbk_error *);
int sbki_append_request(struct sbk_client *, const char *id_text,
    const char *method, const json_t *params, struct sbk_error *);
/* 1: *msg set, 0: no complete line, -1: a bad line (consumed). */
int sbki_next_msg(struct sbk_client *, json_t **msg, struct sbk_error *);
bool sbki_classify(json_t *msg, struct sbk_reply *);
/* Ask the daemon to stop job id (a notification, best effort). */
void sbki_send_cancel(struct sbk_client *, const char *id_text);
/* Append raw bytes to the write buffer: 0, or -1 when out of memory. */
int sbki_wappend(struct sbk_client *, const char *data, size_t len);
/* A client around a connected (or connecting) non-blocking socket. */
struct sbk_client *sbki_client_new(int fd, struct sbk_error *);
/* A message read by sbk_process that no async request took. */
void sbki_route(struct sbk_client *, struct sbk_reply *r);
/* One step of a non-blocking connect: 1 done, 0 not yet, -1 failed. */
int sbki_connect_step(struct sbk_client *, struct sbk_error *);

/*
 * Offer a message to the asynchronous requests (sbk-async.c's hook).
 * True when it was theirs (delivered to a callback, or a retry scheduled)
 * and is consumed; r is then cleared.
 */
static inline bool
sbki_async_take(struct sbk_client *c, struct sbk_reply *r)
{
	return (c->async_take != NULL && c->async_take(c, r));
}
/* sbk-send.c, for sbk-recv.c. */
int sbki_flush_until(struct sbk_client *, int64_t deadline, struct sbk_error *);
int sbki_connect_wait(
    struct sbk_client *, int64_t deadline, struct sbk_error *);
void sbki_untrack(struct sbk_client *, const char *key, size_t len);
/* The reqtab key of an id: its compact JSON text (malloc'd), or NULL. */
char *sbki_id_key(const json_t *id);
/* Tell the adapter (sbk_set_wakeup_cb) that output may be pending. */
void sbki_wake(struct sbk_client *);
/* Tell every asynchronous request that the connection failed. */
static inline void
sbki_async_fail(struct sbk_client *c, const struct sbk_error *e)
{
	if (c->async_fail != NULL)
		c->async_fail(c, e);
}

#endif /* SBK_INTERNAL_H */
