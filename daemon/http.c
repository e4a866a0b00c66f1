/*
 * http.c - see http.h.  A connection is in one of four states:
 *   READ    reading a request head, with a deadline for the whole head;
 *   WAIT    a whole head read, reading off, in line for the request rate
 *           (the head's deadline still runs);
 *   WRITE   one response queued, reading off, with a deadline for writing
 *           it out; then READ again (bytes a client pipelined wait in the
 *           kernel's socket buffer, not in ours) or, after an error or
 *           "Connection: close", LINGER;
 *   LINGER  our side shut down, the client's leftovers read and dropped
 *           (at most HTTP_LINGER_BYTES, for at most HTTP_LINGER_S) so
 *           that closing does not reset the connection before the
 *           client has read the error response.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "clock.h"
#include "http.h"
#include "log.h"
#include "loop.h"

#define HTTP_ACCEPT_BURST 64 /* connections taken per wakeup */
#define HTTP_RETRY_S	  1  /* accept pause after EMFILE */
#define HTTP_LINGER_S	  2
#define HTTP_LINGER_BYTES (64 * 1024)

enum http_state {
	HTTP_READ,
	HTTP_WAIT,
	HTTP_WRITE,
	HTTP_LINGER,
};

struct http_conn {
	TAILQ_ENTRY(http_conn) link;
	TAILQ_ENTRY(http_conn) wait_link; /* in WAIT */
	struct http_server *hs;
	struct bufferevent *bev;
	struct event *deadline;
	enum http_state state;
	bool close_after; /* after the response in progress */
	bool http10;	  /* the request in progress is HTTP/1.0 */
	size_t lingered;  /* bytes dropped in LINGER */
};

struct http_server {
	struct loop *loop;
	const struct http_ops *ops;
	void *arg;
	struct http_counts *counts;
	int fd;
	struct event *accept_ev;
	struct event *pause_ev;
	TAILQ_HEAD(, http_conn) conns;
	/* The request rate: a token bucket of max_rate tokens refilled at
	 * max_rate per second; heads that find it empty wait in order. */
	TAILQ_HEAD(, http_conn) waiting;
	struct event *rate_ev;
	double tokens;
	uint64_t refilled_ns;
};

/* What a request head asks for. */
struct http_request {
	bool head_only;	 /* HEAD */
	bool keep_alive; /* HTTP/1.1 without "Connection: close" */
	bool http10;
	bool has_body;
	const char *target;
	size_t target_len;
};

static void http_process(struct http_conn *, bool admitted);

static void
http_limits(struct http_server *hs, struct http_limits *lim)
{
	hs->ops->limits(hs->arg, lim);
	if (lim->timeout_s == 0)
		lim->timeout_s = 1;
	if (lim->max_rate == 0)
		lim->max_rate = 1;
}

static void
http_conn_free(struct http_conn *hc)
{
	struct http_server *hs = hc->hs;

	TAILQ_REMOVE(&hs->conns, hc, link);
	if (hc->state == HTTP_WAIT)
		TAILQ_REMOVE(&hs->waiting, hc, wait_link);
	hs->counts->open--;
	loop_event_free(hc->deadline);
	/* Safe inside the bufferevent's own callbacks. */
	bufferevent_free(hc->bev);
	free(hc);
}

/* The deadline: timeout_s, or at most HTTP_LINGER_S in LINGER. */
static void
http_arm(struct http_conn *hc)
{
	struct http_limits lim;
	struct timeval tv = { 0 };

	http_limits(hc->hs, &lim);
	tv.tv_sec = lim.timeout_s;
	if (hc->state == HTTP_LINGER && lim.timeout_s > HTTP_LINGER_S)
		tv.tv_sec = HTTP_LINGER_S;
	evtimer_add(hc->deadline, &tv);
}

/* Queue one response and stop reading until it is written. */
static void
http_respond(struct http_conn *hc, int status, const char *reason,
    const char *ctype, const char *body, size_t len, bool head_only,
    bool keep_alive)
{
	char head[512];
	int n;

	/* A 405 names the methods there are (RFC 9110 15.5.6). */
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "%s%s\r\n",
	    status, reason, ctype, len,
	    status == 405 ? "Allow: GET, HEAD\r\n" : "",
	    !keep_alive	   ? "Connection: close\r\n" :
		hc->http10 ? "Connection: keep-alive\r\n" :
			     "");
	bufferevent_disable(hc->bev, EV_READ);
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    bufferevent_write(hc->bev, head, (size_t)n) < 0 ||
	    (!head_only && len > 0 &&
		bufferevent_write(hc->bev, body, len) < 0)) {
		http_conn_free(hc);
		return;
	}
	hc->state = HTTP_WRITE;
	hc->close_after = !keep_alive;
	http_arm(hc);
}

/* A response whose body is "STATUS REASON\n". */
static void
http_error(struct http_conn *hc, int status, const char *reason, bool head_only,
    bool keep_alive)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);

	http_respond(hc, status, reason, "text/plain; charset=utf-8", body,
	    n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0, head_only,
	    keep_alive);
}

/* Offset just past the empty line ending a head in p[0..n), or 0. */
static size_t
http_head_end(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < n && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static char *
http_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/*
 * Parse a NUL-terminated head into rq (target points into head).  0, or
 * the status to answer: 400 (malformed), 405 (method), 505 (version).
 */
static int
http_parse(char *head, struct http_request *rq)
{
	char *line = head, *next, *sp1, *sp2, *version;

	next = strchr(line, '\n');
	*next++ = '\0';
	http_trim(line);
	sp1 = strchr(line, ' ');
	sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || sp2 == sp1 + 1)
		return 400;
	*sp1 = *sp2 = '\0';
	version = sp2 + 1;
	if (strncmp(version, "HTTP/", 5) != 0)
		return 400;
	rq->http10 = strcmp(version, "HTTP/1.0") == 0;
	if (!rq->http10 && strcmp(version, "HTTP/1.1") != 0)
		return 505;
	rq->keep_alive = !rq->http10;
	rq->target = sp1 + 1;
	rq->target_len = (size_t)(sp2 - (sp1 + 1));
	rq->head_only = strcmp(line, "HEAD") == 0;
	if (!rq->head_only && strcmp(line, "GET") != 0)
		return 405;

	for (line = next; *line != '\0' && *line != '\r' && *line != '\n';
	     line = next) {
		char *colon, *value;

		next = strchr(line, '\n');
		*next++ = '\0';
		colon = strchr(line, ':');
		if (colon == NULL || colon == line)
			return 400;
		*colon = '\0';
		value = http_trim(colon + 1);
		if (strcasecmp(line, "content-length") == 0) {
			if (value[strspn(value, "0123456789")] != '\0' ||
			    *value == '\0')
				return 400;
			if (strspn(value, "0") != strlen(value))
				rq->has_body = true;
		} else if (strcasecmp(line, "transfer-encoding") == 0) {
			rq->has_body = true;
		} else if (strcasecmp(line, "connection") == 0) {
			if (strcasestr(value, "close") != NULL)
				rq->keep_alive = false;
			else if (rq->http10 &&
			    strcasestr(value, "keep-alive") != NULL)
				rq->keep_alive = true;
		}
	}
	return 0;
}

/* Answer one complete, NUL-terminated head. */
static void
http_answer(struct http_conn *hc, char *head)
{
	const struct http_ops *ops = hc->hs->ops;
	struct http_request rq = { 0 };
	size_t plen = strlen(ops->path), len = 0;
	char *body;
	int st = http_parse(head, &rq);

	hc->http10 = rq.http10;
	if (st == 400)
		http_error(hc, 400, "Bad Request", false, false);
	else if (st == 405)
		http_error(hc, 405, "Method Not Allowed", false, false);
	else if (st == 505)
		http_error(hc, 505, "HTTP Version Not Supported", false, false);
	else if (rq.has_body) /* its bytes would be taken for a request */
		http_error(hc, 413, "Content Too Large", rq.head_only, false);
	else if (rq.target_len < plen ||
	    memcmp(rq.target, ops->path, plen) != 0 ||
	    (rq.target_len > plen && rq.target[plen] != '?'))
		http_error(hc, 404, "Not Found", rq.head_only, rq.keep_alive);
	else if ((body = ops->body(hc->hs->arg, &len)) == NULL) {
		log_warnx("http: cannot build the reply: out of memory");
		http_error(
		    hc, 500, "Internal Server Error", rq.head_only, false);
	} else {
		http_respond(hc, 200, "OK", ops->content_type, body, len,
		    rq.head_only, rq.keep_alive);
		free(body);
	}
}

/*
 * Take a token for one request.  False when the bucket is empty: the rate
 * timer is then set for the next token.
 */
static bool
http_take_token(struct http_server *hs)
{
	struct http_limits lim;
	struct timeval tv = { 0 };
	uint64_t now = clock_now_ns(), us;

	http_limits(hs, &lim);
	hs->tokens += (double)(now - hs->refilled_ns) * lim.max_rate / 1e9;
	hs->refilled_ns = now;
	if (hs->tokens > lim.max_rate)
		hs->tokens = lim.max_rate;
	if (hs->tokens >= 1) {
		hs->tokens -= 1;
		return true;
	}
	us = (uint64_t)((1 - hs->tokens) * 1e6 / lim.max_rate) + 1;
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	evtimer_add(hs->rate_ev, &tv);
	return false;
}

/* Tokens again: answer the waiting heads in the order they came. */
static void
http_rate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *hs = arg;
	struct http_conn *hc;

	while (
	    (hc = TAILQ_FIRST(&hs->waiting)) != NULL && http_take_token(hs)) {
		TAILQ_REMOVE(&hs->waiting, hc, wait_link);
		hc->state = HTTP_READ;
		http_process(hc, true);
	}
}

/*
 * READ: answer the next request if its head is all here.  admitted: its
 * token was taken by http_rate_cb.
 */
static void
http_process(struct http_conn *hc, bool admitted)
{
	struct http_server *hs = hc->hs;
	struct evbuffer *in = bufferevent_get_input(hc->bev);
	char head[HTTP_MAX_HEAD + 1];
	size_t len, n, end;
	unsigned char *p;

	/* Empty lines before a request line are allowed (RFC 9112 2.2). */
	while (
	    (p = evbuffer_pullup(in, 1)) != NULL && (*p == '\r' || *p == '\n'))
		evbuffer_drain(in, 1);
	len = evbuffer_get_length(in);
	n = len < HTTP_MAX_HEAD + 1 ? len : HTTP_MAX_HEAD + 1;
	if (n == 0)
		return;
	p = evbuffer_pullup(in, (ev_ssize_t)n);
	if (p == NULL) {
		http_conn_free(hc);
		return;
	}
	end = http_head_end((const char *)p, n);
	if (end == 0 || end > HTTP_MAX_HEAD) {
		if (n > HTTP_MAX_HEAD)
			http_error(hc, 431, "Request Header Fields Too Large",
			    false, false);
		return; /* else wait for the rest */
	}
	if (!admitted && (!TAILQ_EMPTY(&hs->waiting) || !http_take_token(hs))) {
		/* Over the request rate: the head waits where it is. */
		bufferevent_disable(hc->bev, EV_READ);
		hc->state = HTTP_WAIT;
		TAILQ_INSERT_TAIL(&hs->waiting, hc, wait_link);
		return;
	}
	memcpy(head, p, end);
	head[end] = '\0';
	evbuffer_drain(in, end);
	/* A NUL would cut the head short and misframe the next request. */
	if (memchr(head, '\0', end) != NULL)
		http_error(hc, 400, "Bad Request", false, false);
	else
		http_answer(hc, head);
}

static void
http_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *hc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	loop_mark_busy(hc->hs->loop); /* bufferevents are not loop.c's */
	if (hc->state == HTTP_LINGER) {
		hc->lingered += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (hc->lingered > HTTP_LINGER_BYTES)
			http_conn_free(hc);
	} else if (hc->state == HTTP_READ) {
		http_process(hc, false);
	}
}

/* The output buffer is empty: the response in progress is out. */
static void
http_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *hc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	loop_mark_busy(hc->hs->loop);
	if (hc->state != HTTP_WRITE)
		return;
	hc->state = hc->close_after ? HTTP_LINGER : HTTP_READ;
	if (hc->close_after) {
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		evbuffer_drain(in, evbuffer_get_length(in));
	}
	http_arm(hc);
	bufferevent_enable(bev, EV_READ);
	/* A pipelined request may be buffered already: no new read event
	 * would announce it. */
	if (hc->state == HTTP_READ)
		http_process(hc, false);
}

static void
http_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *hc = arg;

	loop_mark_busy(hc->hs->loop);
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		http_conn_free(hc);
}

/* The head was not complete, or the response not written, in time. */
static void
http_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *hc = arg;

	if (hc->state != HTTP_LINGER)
		hc->hs->counts->timed_out++;
	http_conn_free(hc);
}

/* Over the cap or into the descriptor reserve: one 503, then close. */
static void
http_refuse(int fd)
{
	static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\n"
				  "Content-Type: text/plain; charset=utf-8\r\n"
				  "Content-Length: 24\r\n"
				  "Retry-After: 1\r\n"
				  "Connection: close\r\n\r\n"
				  "503 too many connections\n";

	/* A new socket's buffer is empty: this fits, or the peer is gone. */
	if (send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_msg_errno(LOG_DEBUG, "http: refused client");
	close(fd);
}

/*
 * Descriptors are handed out lowest first, so fd >= N means N are in use:
 * refuse HTTP connections that would leave fewer than a quarter of the
 * limit for the UNIX socket, its clients' jobs and the pool.
 */
static bool
http_fd_reserved(int fd)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return false;
	return (rlim_t)fd >= rl.rlim_cur - rl.rlim_cur / 4;
}

/* 0, or -1 with fd left to the caller. */
static int
http_conn_new(struct http_server *hs, int fd)
{
	struct http_conn *hc = calloc(1, sizeof(*hc));

	if (hc == NULL)
		return -1;
	hc->hs = hs;
	hc->deadline = loop_event_new(hs->loop, -1, 0, http_deadline_cb, hc);
	if (hc->deadline != NULL)
		hc->bev = bufferevent_socket_new(
		    loop_base(hs->loop), fd, BEV_OPT_CLOSE_ON_FREE);
	if (hc->bev == NULL) {
		loop_event_free(hc->deadline);
		free(hc);
		return -1;
	}
	TAILQ_INSERT_TAIL(&hs->conns, hc, link);
	hs->counts->open++;
	hc->state = HTTP_READ;
	bufferevent_setcb(
	    hc->bev, http_read_cb, http_write_cb, http_event_cb, hc);
	bufferevent_setwatermark(hc->bev, EV_READ, 0, HTTP_MAX_HEAD + 1);
	http_arm(hc);
	bufferevent_enable(hc->bev, EV_READ);
	return 0;
}

static void
http_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *hs = arg;

	event_add(hs->accept_ev, NULL);
}

static void
http_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct http_server *hs = arg;
	struct http_limits lim;

	for (int i = 0; i < HTTP_ACCEPT_BURST; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				struct timeval tv = { .tv_sec = HTTP_RETRY_S };

				/* Level-triggered: pause rather than spin. */
				log_warn("http: accept: pausing for %ds",
				    HTTP_RETRY_S);
				event_del(hs->accept_ev);
				event_add(hs->pause_ev, &tv);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED) {
				log_warn("http: accept");
			}
			return;
		}
		http_limits(hs, &lim);
		if (hs->counts->open >= lim.max_conns || http_fd_reserved(fd) ||
		    http_conn_new(hs, fd) < 0) {
			hs->counts->refused++;
			http_refuse(fd);
		}
	}
}

struct http_server *
http_server_new(struct loop *loop, int listen_fd, const struct http_ops *ops,
    void *arg, struct http_counts *counts)
{
	struct http_server *hs = calloc(1, sizeof(*hs));

	if (hs == NULL) {
		close(listen_fd);
		return NULL;
	}
	hs->loop = loop;
	hs->ops = ops;
	hs->arg = arg;
	hs->counts = counts;
	hs->fd = listen_fd;
	TAILQ_INIT(&hs->conns);
	TAILQ_INIT(&hs->waiting);
	hs->refilled_ns = clock_now_ns();
	hs->tokens = 1e9; /* clamped to max_rate at the first request */
	hs->accept_ev = loop_event_new(
	    loop, listen_fd, EV_READ | EV_PERSIST, http_accept_cb, hs);
	hs->pause_ev = loop_event_new(loop, -1, 0, http_resume_cb, hs);
	hs->rate_ev = loop_event_new(loop, -1, 0, http_rate_cb, hs);
	if (hs->accept_ev == NULL || hs->pause_ev == NULL ||
	    hs->rate_ev == NULL || event_add(hs->accept_ev, NULL) < 0) {
		http_server_free(hs);
		return NULL;
	}
	return hs;
}

void
http_server_free(struct http_server *hs)
{
	struct http_conn *hc;

	if (hs == NULL)
		return;
	/* The analyzer loses TAILQ_REMOVE's write through tqe_prev to the
	 * head, so it sees the freed first element again. */
	while ((hc = TAILQ_FIRST(&hs->conns)) != NULL)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		http_conn_free(hc);
	loop_event_free(hs->accept_ev);
	loop_event_free(hs->pause_ev);
	loop_event_free(hs->rate_ev);
	close(hs->fd);
	free(hs);
}
