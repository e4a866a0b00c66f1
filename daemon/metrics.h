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

struct server;
struct metrics;

/*
 * Start listening on cfg->metrics_listen (nothing to do when it is NULL;
 * s->metrics stays NULL).  0, or -1 after logging why: the daemon must
 * then refuse to start.
 */
int metrics_start(struct server *);

/* Close the listener and any HTTP connection.  Safe when never started. */
void metrics_stop(struct server *);


#endif /* SBK_METRICS_H */
