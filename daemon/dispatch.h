/*
 * dispatch.h - from a request line to a reply: parse (on a worker when the
 * line is big), envelope, method lookup, params, admission to a pool or an
 * inline run; deadline timers; job.cancel; and turning completions into
 * bytes on their connection.
 *
 * Threads: event thread only, except the run/parse functions it hands to
 * the pool.
 */
#ifndef SBK_DISPATCH_H
#define SBK_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct conn;
struct job;
struct pool_msg;
struct server;

/* Lines longer than this are parsed on a worker thread. */
#define DISPATCH_INLINE_PARSE_MAX (64 * 1024)

/* One complete request line (terminator stripped) from a connection. */
void dispatch_line(struct conn *, const char *line, size_t len);

/* Pool completion queue callback (server.c wires it). */
void dispatch_collect_cb(struct pool_msg *, void *server);

/* job.cancel on this connection: true if it produced a -32002 reply. */
bool dispatch_cancel(struct conn *, const json_t *id);

/*
 * The connection is gone: drop its waiting jobs without running them,
 * tell its running jobs to stop, and forget its ids.
 */
void dispatch_conn_gone(struct conn *);

/* Shutdown timeout: answer every job still waiting or running -32006. */
void dispatch_abort_all(struct server *);

#endif /* SBK_DISPATCH_H */
