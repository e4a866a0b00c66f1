/*
 * dispatch.h - from a request line to a reply: parse (on the parser lane
 * when the line is big), envelope, method, params, admission to a pool or
 * an inline run; deadlines; job.cancel; completions to bytes on their
 * connection.  The connection set's line callback; the server owns the
 * struct dispatch.  Event thread only, but for what it hands the pool.
 */
#ifndef SBK_DISPATCH_H
#define SBK_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "conn.h"
#include "scheduler.h"

struct job;
struct loop;
struct pool;
struct pool_msg;
struct sbk_config;
struct stats;

/* What requests are turned into jobs with; the inline kinds see it too. */
struct dispatch {
	const struct sbk_config *const *cfg; /* in force: read afresh */
	struct loop *loop;
	struct pool *pool;
	struct stats *stats;
	struct conn_set *conns; /* ->draining: shutdown */
	uint64_t recent_job_ns; /* moving average of run times */
	/* Big request lines on the parser lane, all connections (FIFO). */
	struct sched_owner parse_owner;
	/* admin.reload: 0, or -1 with why (limits apply next iteration). */
	int (*reload)(void *arg, char *why, size_t whylen);
	void *reload_arg;
};

/* The connection set's ops (arg: the struct dispatch). */
extern const struct conn_ops dispatch_conn_ops;

/* Pool completion queue callback (arg: the struct dispatch). */
void dispatch_collect_cb(struct pool_msg *, void *dispatch);

/* job.cancel on this connection: true if it produced a -32002 reply. */
bool dispatch_cancel(struct conn *, const json_t *id);

/* Shutdown timeout: answer every job still waiting or running -32006. */
void dispatch_abort_all(struct dispatch *);

#endif /* SBK_DISPATCH_H */
