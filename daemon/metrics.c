/*
 * metrics.c - see metrics.h.
 *
 * A scrape builds the same object as the `stats` method (stats_json,
 * which carries each method's latency histogram) and formats it with
 * proto/prometheus.c, the code `sbkctl stats --prometheus` uses too.  The
 * work is a few microseconds of JSON on the event thread, like a `stats`
 * request.
 *
 * The listening socket is made here rather than by evhttp_bind_socket so
 * that a failure can be reported with its errno: a metrics_listen that
 * cannot be bound stops the daemon from starting, since a silently
 * missing endpoint is worse.
 *
 * Limits: request headers are capped, a body is refused, and a connection
 * idle for METRICS_TIMEOUT_S is closed.  libevent 2.1 has no cap on the
 * number of HTTP connections; the endpoint is meant for a loopback
 * address.  Running out of descriptors pauses accepting for a second
 * instead of letting a level-triggered listener spin.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "config.h"
#include "hist.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "prometheus.h"
#include "server.h"
#include "stats.h"

#define METRICS_MAX_HEADERS 8192 /* bytes of request line + headers */
#define METRICS_MAX_BODY    0	 /* a GET has none */
#define METRICS_TIMEOUT_S   10
#define METRICS_BACKLOG	    16
#define METRICS_RETRY_S	    1 /* accept pause after EMFILE */

struct metrics {
	struct server *server;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
};

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct server *s = m->server;
	struct pool_stats ps;
	struct evbuffer *body;
	json_t *st;
	char *text = NULL;
	size_t len = 0;

	server_mark_busy(s);
	pool_get_stats(s->pool, &ps);
	st = stats_json(&s->stats, &ps, s->nconns);
	if (st != NULL) {
		text = prom_format_stats(st, &len);
		json_decref(st);
	}
	body = evbuffer_new();
	if (text == NULL || body == NULL || evbuffer_add(body, text, len) < 0) {
		log_warn("metrics: cannot build the reply: out of memory");
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", PROM_CONTENT_TYPE);
		evhttp_send_reply(req, HTTP_OK, "OK", body);
	}
	if (body != NULL)
		evbuffer_free(body);
	free(text);
}

static void
metrics_notfound_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;

	server_mark_busy(m->server);
	evhttp_send_error(req, HTTP_NOTFOUND, NULL);
}

static void
metrics_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
}

/*
 * accept() failed in a way libevent does not retry by itself (EMFILE,
 * ENFILE, ENOBUFS).  arg is evhttp's, not ours, so the pause is a
 * one-shot event on the listener itself; the loop never runs again after
 * metrics_stop() frees the listener, so it cannot fire on a freed one.
 */
static void
metrics_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct timeval tv = { .tv_sec = METRICS_RETRY_S };
	int err = EVUTIL_SOCKET_ERROR();

	log_warn("metrics: accept: %s; pausing for %ds", strerror(err),
	    METRICS_RETRY_S);
	if (event_base_once(evconnlistener_get_base(lev), -1, EV_TIMEOUT,
		metrics_retry_cb, lev, &tv) == 0)
		evconnlistener_disable(lev);
}

/*
 * A listening socket for "ADDR:PORT" ("[V6ADDR]:PORT" too).  The fd, or
 * -1 with errno set and, for a name that does not resolve, *gai set.
 */
static int
metrics_listen_fd(const char *spec, int *gai)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res, *ai;
	const char *colon = strrchr(spec, ':');
	char *host;
	size_t hlen;
	int fd = -1, err = EADDRNOTAVAIL, one = 1;

	*gai = 0;
	if (colon == NULL) { /* config_load already refused it */
		errno = EINVAL;
		return -1;
	}
	hlen = (size_t)(colon - spec);
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']')
		host = strndup(spec + 1, hlen - 2);
	else
		host = strndup(spec, hlen);
	if (host == NULL)
		return -1;
	*gai = getaddrinfo(host, colon + 1, &hints, &res);
	free(host);
	if (*gai != 0) {
		errno = EINVAL;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		/* A restarted sbkd must not wait out TIME_WAIT. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, METRICS_BACKLOG) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		errno = err;
	return fd;
}

static void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	/* Closes the listening socket and every HTTP connection. */
	if (m->http != NULL)
		evhttp_free(m->http);
	free(m);
}

int
metrics_start(struct server *s)
{
	const char *spec = s->cfg->metrics_listen;
	struct metrics *m;
	int fd, gai;

	s->metrics = NULL;
	if (spec == NULL)
		return 0;
	fd = metrics_listen_fd(spec, &gai);
	if (fd < 0) {
		log_err("metrics_listen %s: cannot listen: %s", spec,
		    gai != 0 ? gai_strerror(gai) : strerror(errno));
		return -1;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		goto fail;
	m->server = s;
	m->http = evhttp_new(s->base);
	if (m->http == NULL)
		goto fail;
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, METRICS_MAX_BODY);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	if (evhttp_set_cb(m->http, "/metrics", metrics_cb, m) != 0)
		goto fail;
	evhttp_set_gencb(m->http, metrics_notfound_cb, m);
	/* From here evhttp owns fd. */
	m->bound = evhttp_accept_socket_with_handle(m->http, fd);
	if (m->bound == NULL)
		goto fail;
	fd = -1;
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(m->bound),
	    metrics_accept_error_cb);
	s->metrics = m;
	log_info("metrics: serving http://%s/metrics", spec);
	return 0;

fail:
	log_err("metrics_listen %s: cannot start the HTTP server: %s", spec,
	    strerror(ENOMEM));
	if (fd >= 0)
		close(fd);
	metrics_free(m);
	return -1;
}

void
metrics_stop(struct server *s)
{
	metrics_free(s->metrics);
	s->metrics = NULL;
}
