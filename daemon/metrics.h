/*
 * metrics.h - the optional Prometheus endpoint: when metrics_listen is
 * set, an HTTP listener (daemon/http.c, on the server's own event base)
 * answers GET /metrics with the `stats` figures in the Prometheus text
 * format, and 404 for any other path.
 *
 * Threads: event thread only.  A slow or silent HTTP client costs one of
 * metrics_max_connections descriptors until metrics_request_timeout_s,
 * never a blocked loop.
 */
#ifndef SBK_METRICS_H
#define SBK_METRICS_H

#include <jansson.h>

struct http_counts;
struct loop;
struct metrics;
struct sbk_config;

/* What the endpoint serves, and where it counts its connections. */
struct metrics_src {
	struct loop *loop;
	const struct sbk_config *const *cfg; /* in force: read afresh */
	struct http_counts *counts;	     /* stats' http.* */
	/* The `stats` method's result object (a new reference, or NULL). */
	json_t *(*snapshot)(void *arg);
	void *arg;
};

/*
 * Start listening on metrics_listen (nothing to do when it is NULL: *mp
 * stays NULL).  0, or -1 after logging why: the daemon must then refuse
 * to start.
 */
int metrics_start(const struct metrics_src *, struct metrics **mp);

/* Close the listener and any HTTP connection.  NULL is fine. */
void metrics_stop(struct metrics *);

#endif /* SBK_METRICS_H */
