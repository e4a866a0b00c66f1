/*
 * metrics.c - see metrics.h.
 *
 * A scrape formats the `stats` method's object with proto/prometheus.c,
 * as `sbkctl stats --prometheus` does: a few microseconds of JSON on the
 * event thread, like a `stats` request.  The listening socket is made
 * here so that a failure is reported with its errno: a metrics_listen
 * that cannot be bound stops the daemon from starting, since a silently
 * missing endpoint is worse.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "prometheus.h"

/* Enough that sequential scrapes never wait on a full accept queue. */
#define METRICS_BACKLOG SOMAXCONN

static void
metrics_limits(void *arg, struct http_limits *lim)
{
	const struct sbk_config *cfg = *((struct metrics_src *)arg)->cfg;

	lim->max_conns = cfg->metrics_max_connections;
	lim->timeout_s = cfg->metrics_request_timeout_s;
	lim->max_rate = cfg->metrics_max_requests_per_s;
}

static char *
metrics_body(void *arg, size_t *lenp)
{
	struct metrics_src *src = arg;
	json_t *st = src->snapshot(src->arg);
	char *text = NULL;

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
	.body = metrics_body,
};

/*
 * A listening socket for "ADDR:PORT" ("[V6ADDR]:PORT" too), or -1 after
 * logging why.
 */
static int
metrics_listen_fd(const char *spec)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res, *ai;
	const char *colon = strrchr(spec, ':');
	size_t hlen = colon != NULL ? (size_t)(colon - spec) : 0;
	char *host;
	int fd = -1, gai, err = EADDRNOTAVAIL, one = 1;

	errno = EINVAL; /* no colon: config_load already refused it */
	if (colon == NULL)
		goto fail;
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']')
		host = strndup(spec + 1, hlen - 2);
	else
		host = strndup(spec, hlen);
	if (host == NULL)
		goto fail;
	gai = getaddrinfo(host, colon + 1, &hints, &res);
	free(host);
	if (gai != 0) {
		log_err("metrics_listen %s: cannot listen: %s", spec,
		    gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		/* A restarted sbkd must not wait out TIME_WAIT. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, METRICS_BACKLOG) < 0) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0)
		return fd;
	errno = err;
fail:
	log_errno("metrics_listen %s: cannot listen", spec);
	return -1;
}

int
metrics_start(struct metrics_src *src, struct http_server **hp)
{
	const char *spec = (*src->cfg)->metrics_listen;
	int fd;

	*hp = NULL;
	if (spec == NULL)
		return 0;
	if ((fd = metrics_listen_fd(spec)) < 0)
		return -1;
	/* The HTTP server owns fd from now on, also when it fails. */
	*hp = http_server_new(src->loop, fd, &metrics_ops, src, src->counts);
	if (*hp == NULL) {
		log_err("metrics_listen %s: out of memory", spec);
		return -1;
	}
	log_info("metrics: serving http://%s/metrics", spec);
	return 0;
}
