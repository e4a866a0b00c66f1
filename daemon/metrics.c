/*
 * metrics.c - see metrics.h.
 *
 * A scrape builds the same object as the `stats` method (stats_json,
 * which carries each method's latency histogram) and formats it with
 * proto/prometheus.c, the code `sbkctl stats --prometheus` uses too.  The
 * work is a few microseconds of JSON on the event thread, like a `stats`
 * request.
 *
 * The listening socket is made here so that a failure can be reported
 * with its errno: a metrics_listen that cannot be bound stops the daemon
 * from starting, since a silently missing endpoint is worse.  HTTP itself
 * is daemon/http.c, whose limits (connections, deadline) are read from
 * the configuration in force at each use.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "prometheus.h"
#include "stats.h"

/* Enough that sequential scrapes never wait on a full accept queue. */
#define METRICS_BACKLOG SOMAXCONN

struct metrics {
	struct metrics_src src;
	struct http_server *http;
};

static void
metrics_limits(void *arg, struct http_limits *lim)
{
	const struct sbk_config *cfg = *((struct metrics *)arg)->src.cfg;

	lim->max_conns = cfg->metrics_max_connections;
	lim->timeout_s = cfg->metrics_request_timeout_s;
	lim->max_rate = cfg->metrics_max_requests_per_s;
}

static void
metrics_count(void *arg, enum http_count what)
{
	struct stats *st = ((struct metrics *)arg)->src.stats;

	switch (what) {
	case HTTP_OPENED:
		st->http_connections++;
		break;
	case HTTP_CLOSED:
		st->http_connections--;
		break;
	case HTTP_REFUSED:
		st->http_refused++;
		break;
	case HTTP_TIMED_OUT:
		st->http_timed_out++;
		break;
	}
}

static char *
metrics_body(void *arg, size_t *lenp)
{
	struct metrics *m = arg;
	char *text = NULL;
	json_t *st;

	st = m->src.snapshot(m->src.arg);
	if (st != NULL) {
		text = prom_format_stats(st, lenp);
		json_decref(st);
	}
	return text;
}

static const struct http_ops metrics_ops = {
	.path = "/metrics",
	.content_type = PROM_CONTENT_TYPE,
	.limits = metrics_limits,
	.count = metrics_count,
	.body = metrics_body,
};

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

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	/* Closes the listening socket and every HTTP connection. */
	http_server_free(m->http);
	free(m);
}

int
metrics_start(const struct metrics_src *src, struct metrics **mp)
{
	const char *spec = (*src->cfg)->metrics_listen;
	struct metrics *m;
	int fd, gai;

	*mp = NULL;
	if (spec == NULL)
		return 0;
	fd = metrics_listen_fd(spec, &gai);
	if (fd < 0) {
		if (gai != 0)
			log_err("metrics_listen %s: cannot listen: %s", spec,
			    gai_strerror(gai));
		else
			log_errno("metrics_listen %s: cannot listen", spec);
		return -1;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		goto fail;
	m->src = *src;
	/* From here the HTTP server owns fd, also when it fails. */
	m->http = http_server_new(src->loop, fd, &metrics_ops, m);
	fd = -1;
	if (m->http == NULL)
		goto fail;
	*mp = m;
	log_info("metrics: serving http://%s/metrics", spec);
	return 0;

fail:
	errno = ENOMEM;
	log_errno("metrics_listen %s: cannot start the HTTP server", spec);
	if (fd >= 0)
		close(fd);
	metrics_stop(m);
	return -1;
}
