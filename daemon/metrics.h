/*
 * metrics.h - the optional Prometheus endpoint: when metrics_listen is
 * set, GET /metrics (daemon/http.c) answers the `stats` figures in the
 * Prometheus text format.  Event thread only: a slow or silent HTTP
 * client costs one of metrics_max_connections descriptors until
 * metrics_request_timeout_s, never a blocked loop.
 */
#ifndef SBK_METRICS_H
#define SBK_METRICS_H

#include <jansson.h>

struct http_counts;
struct http_server;
struct loop;
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
 * Start listening on metrics_listen (nothing to do when it is NULL: *hp
 * stays NULL), serving from src, which must outlive the endpoint.  0, or
 * -1 after logging why: the daemon must then refuse to start.  Stop it
 * with http_server_free.
 */
int metrics_start(struct metrics_src *, struct http_server **hp);

#endif /* SBK_METRICS_H */
