/*
 * http.h - a small HTTP/1.1 responder for one read-only resource (the
 * /metrics endpoint), on plain bufferevents on the server's event base.
 *
 * Why not evhttp: libevent 2.1's evhttp reads and queues pipelined
 * requests without bound and has no connection cap or total deadline for
 * a request head.  Here every bound is explicit:
 *   - input: at most HTTP_MAX_HEAD bytes buffered (the read watermark);
 *     a longer head is answered 431 and the connection closed;
 *   - one request at a time: reading stops when a head is complete and
 *     resumes only once its response has been written out, so the output
 *     buffered per connection is one response;
 *   - a total deadline (limits.timeout_s) for each request head, counted
 *     from the end of the previous response (or the accept), and for
 *     writing each response: a slowloris client is closed at it;
 *   - at most limits.max_conns connections; the excess get a 503 and are
 *     closed, as is any connection whose descriptor would eat into the
 *     quarter of RLIMIT_NOFILE kept for the UNIX socket and its jobs;
 *   - at most limits.max_rate requests answered per second, all
 *     connections together (a burst of as many): a head over the rate
 *     waits, in arrival order, so scrapes cannot take the event thread
 *     from the JSON-RPC clients.
 * A request with a body (413), another method than GET and HEAD (405),
 * another version (505), a bad head (400): answered, then closed.  Other
 * paths: 404, the connection kept.
 *
 * Threads: event thread only.
 */
#ifndef SBK_HTTP_H
#define SBK_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct http_server;
struct loop;

#define HTTP_MAX_HEAD 8192 /* bytes of request line + headers */

struct http_limits {
	unsigned max_conns; /* open HTTP connections */
	unsigned timeout_s; /* per request head, per response */
	unsigned max_rate;  /* requests answered per second, all together */
};

/* What the server counts, for the stats. */
struct http_counts {
	uint64_t open;	    /* connections now */
	uint64_t refused;   /* 503: over the cap or into the fd reserve */
	uint64_t timed_out; /* closed at the deadline */
};

struct http_ops {
	const char *path;	  /* the one resource, e.g. "/metrics" */
	const char *content_type; /* of its body */
	/* The limits in force, read at each use (a reload may change them). */
	void (*limits)(void *arg, struct http_limits *);
	/* The body of a 200 (malloc'd, *lenp bytes); NULL answers 500. */
	char *(*body)(void *arg, size_t *lenp);
};

/*
 * Serve on listen_fd (a listening, non-blocking socket; owned from now
 * on, closed by http_server_free, also on failure), with events made on
 * loop (so timed by its lag probe), counting into *counts.  ops is
 * borrowed and must outlive the server.  NULL when out of memory.
 */
struct http_server *http_server_new(struct loop *, int listen_fd,
    const struct http_ops *ops, void *arg, struct http_counts *counts);

/* Close the listener and every connection.  NULL is fine. */
void http_server_free(struct http_server *);

#endif /* SBK_HTTP_H */
