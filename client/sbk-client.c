/*
 * sbk-client.c - libsbk: a client of sbkd's UNIX socket built on the
 * shared codec (proto/frame for line framing, proto/rpc for reply
 * parsing).  The socket is non-blocking and every wait is a poll(2) with
 * a monotonic deadline, so no call blocks past its timeout.  Requests
 * are appended to an output buffer and written with MSG_NOSIGNAL (a
 * vanished daemon is an error, never a SIGPIPE); while a write waits for
 * the daemon to read, incoming replies are moved into the read buffer so
 * a pipelining client and the daemon's flow control (it stops reading a
 * connection whose replies are not drained) cannot deadlock.
 *
 * Thread safety: one thread per struct sbk_client at a time; no globals.
 */
#include "sbk-config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <jansson.h>

#include "frame.h"
#include "reqtab.h"
#include "rpc.h"
#include "sbk-client.h"
#include "sbk-internal.h"

#define SBK_READ_CHUNK (64 * 1024)

void
sbki_seterr(struct sbk_error *err, enum sbk_error_kind kind, int sys_errno,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	sbk_error_clear(err);
	err->kind = kind;
	err->sys_errno = sys_errno;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

void
sbk_error_clear(struct sbk_error *err)
{
	if (err == NULL)
		return;
	json_decref(err->data);
	memset(err, 0, sizeof(*err));
}

const char *
sbk_error_kind_name(enum sbk_error_kind kind)
{
	switch (kind) {
	case SBK_ERR_NONE:
		return "no error";
	case SBK_ERR_RPC:
		return "error reply";
	case SBK_ERR_CONNECT:
		return "cannot connect";
	case SBK_ERR_TIMEOUT:
		return "timed out";
	case SBK_ERR_CLOSED:
		return "connection closed";
	case SBK_ERR_PROTOCOL:
		return "protocol error";
	case SBK_ERR_SYSTEM:
		return "system error";
	case SBK_ERR_USAGE:
		return "usage error";
	}
	return "unknown error";
}

/* Fill err from a reply's error object (kind RPC). */
void
sbki_set_rpc_error(struct sbk_error *err, const json_t *eobj)
{
	const json_t *code, *message, *data;

	if (err == NULL)
		return;
	sbk_error_clear(err);
	err->kind = SBK_ERR_RPC;
	code = json_object_get(eobj, "code");
	message = json_object_get(eobj, "message");
	data = json_object_get(eobj, "data");
	err->code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
	snprintf(err->message, sizeof(err->message), "%s",
	    json_is_string(message) ? json_string_value(message) :
				      rpc_code_message(err->code));
	if (data != NULL)
		err->data = json_incref((json_t *)data);
}

const char *
sbk_default_socket(void)
{
	const char *env;

	env = getenv("SBK_SOCKET");
	if (env != NULL && *env != '\0')
		return (env);
	return (SBK_DEFAULT_SOCKET);
}

int64_t
sbki_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Deadline for a timeout in ms; -1 stays "never". */
static int64_t
deadline_of(int timeout_ms)
{
	return (timeout_ms < 0 ? -1 : sbki_now_ms() + timeout_ms);
}

/* poll(2) timeout left before a deadline. */
static int
remaining(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return (-1);
	left = deadline - sbki_now_ms();
	if (left <= 0)
		return (0);
	return (left > INT_MAX ? INT_MAX : (int)left);
}

static bool
passed(int64_t deadline)
{
	return (deadline >= 0 && sbki_now_ms() >= deadline);
}

struct sbk_client *
sbk_connect(const char *path, struct sbk_error *err)
{
	return (sbk_connect_timeout(path, SBK_DEFAULT_CONNECT_TIMEOUT_MS, err));
}

struct sbk_client *
sbk_connect_timeout(const char *path, int timeout_ms, struct sbk_error *err)
{
	struct sockaddr_un sun;
	struct timeval tv;
	int fd, saved;

	if (path == NULL)
		path = sbk_default_socket();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		sbki_seterr(err, SBK_ERR_CONNECT, ENAMETOOLONG,
		    "%s: socket path too long", path);
		return (NULL);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		sbki_seterr(
		    err, SBK_ERR_SYSTEM, errno, "socket: %s", strerror(errno));
		return (NULL);
	}
	/*
	 * A blocking connect to a UNIX socket waits while the listener's
	 * backlog is full; SO_SNDTIMEO bounds that wait (a stuck daemon
	 * then reads as "cannot connect", not as a hang).  A zero timeval
	 * would mean "for ever", so -1 maps to that and 0 to 1 ms.
	 */
	if (timeout_ms >= 0) {
		if (timeout_ms == 0)
			timeout_ms = 1;
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		if (saved == EAGAIN || saved == EINPROGRESS)
			sbki_seterr(err, SBK_ERR_CONNECT, saved,
			    "%s: connect timed out", path);
		else
			sbki_seterr(err, SBK_ERR_CONNECT, saved, "%s: %s", path,
			    strerror(saved));
		return (NULL);
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		saved = errno;
		close(fd);
		sbki_seterr(
		    err, SBK_ERR_SYSTEM, saved, "fcntl: %s", strerror(saved));
		return (NULL);
	}
	return (sbki_client_new(fd, err));
}

struct sbk_client *
sbki_client_new(int fd, struct sbk_error *err)
{
	struct sbk_client *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		sbki_seterr(err, SBK_ERR_SYSTEM, ENOMEM, "out of memory");
		return (NULL);
	}
	c->fd = fd;
	c->max_reply = SBK_DEFAULT_MAX_REPLY;
	frame_init(&c->frame, c->max_reply);
	c->send_timeout = -1;
	c->next_id = 1;
	c->held_tail = &c->held_head;
	c->connect_deadline = -1;
	reqtab_init(&c->reqs);
	return (c);
}

void
sbk_close(struct sbk_client *c)
{
	struct sbk_held *h, *next;
	struct sbk_error e = { 0 };

	if (c == NULL)
		return;
	/* Every async request hears of it once (to free its user data). */
	sbki_seterr(&e, SBK_ERR_CLOSED, 0, "the client was closed");
	c->failed = true;
	sbki_async_fail(c, &e);
	for (h = c->held_head; h != NULL; h = next) {
		next = h->next;
		json_decref(h->msg);
		free(h);
	}
	close(c->fd);
	free(c->rbuf);
	/* Requests may have carried passwords. */
	if (c->wbuf != NULL)
		explicit_bzero(c->wbuf, c->wcap);
	free(c->wbuf);
	free(c->path);
	reqtab_free(&c->reqs);
	free(c);
}

int
sbk_fd(const struct sbk_client *c)
{
	return (c->fd);
}

void
sbk_set_max_reply(struct sbk_client *c, size_t bytes)
{
	c->max_reply = bytes;
	c->frame.max_line = bytes;
}

uint64_t
sbk_stray_replies(const struct sbk_client *c)
{
	return (c->strays);
}

size_t
sbk_in_flight(const struct sbk_client *c)
{
	return (c->reqs.count);
}

void
sbk_set_send_timeout(struct sbk_client *c, int timeout_ms)
{
	c->send_timeout = timeout_ms;
}

void
sbk_set_notify_cb(struct sbk_client *c, sbk_notify_cb *cb, void *arg)
{
	c->notify_cb = cb;
	c->notify_arg = arg;
}

/*
 * Read what the socket has, once, without waiting.  1: bytes read,
 * 0: nothing (EAGAIN, or the buffer is full until framed), -1: error.
 * End of file sets c->eof and returns 1 so the caller frames the last
 * line.
 */
int
sbki_read_some(struct sbk_client *c, struct sbk_error *err)
{
	size_t want, ncap;
	ssize_t n;
	char *nbuf;

	if (c->eof)
		return (0);
	if (c->rstart > 0 && c->rstart == c->rlen)
		c->rstart = c->rlen = 0;
	if (c->rcap - c->rlen < SBK_READ_CHUNK && c->rstart > 0) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rlen - c->rstart);
		c->rlen -= c->rstart;
		c->rstart = 0;
	}
	if (c->rcap - c->rlen < SBK_READ_CHUNK) {
		/*
		 * Grow up to the longest reply plus one chunk: frame_next
		 * reports FRAME_TOO_LONG once a line passes max_reply, so
		 * the buffer never needs more.
		 */
		want = c->rlen + SBK_READ_CHUNK;
		if (want > c->max_reply + 2 * SBK_READ_CHUNK)
			return (0);
		ncap = c->rcap == 0 ? 2 * SBK_READ_CHUNK : c->rcap;
		while (ncap < want)
			ncap *= 2;
		nbuf = realloc(c->rbuf, ncap);
		if (nbuf == NULL) {
			sbki_seterr(
			    err, SBK_ERR_SYSTEM, ENOMEM, "out of memory");
			return (-1);
		}
		c->rbuf = nbuf;
		c->rcap = ncap;
	}
	for (;;) {
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		if (n > 0) {
			c->rlen += (size_t)n;
			return (1);
		}
		if (n == 0) {
			c->eof = true;
			return (1);
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		if (errno == ECONNRESET) {
			c->eof = true;
			return (1);
		}
		sbki_seterr(
		    err, SBK_ERR_SYSTEM, errno, "recv: %s", strerror(errno));
		return (-1);
	}
}

/* Make room for n more bytes in the write buffer. */
static int
wreserve(struct sbk_client *c, size_t n, struct sbk_error *err)
{
	size_t ncap;
	char *nbuf;

	if (c->woff > 0 && c->woff == c->wlen)
		c->woff = c->wlen = 0;
	if (c->wcap - c->wlen >= n)
		return (0);
	if (c->woff > 0) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
		if (c->wcap - c->wlen >= n)
			return (0);
	}
	ncap = c->wcap == 0 ? 4096 : c->wcap;
	while (ncap - c->wlen < n)
		ncap *= 2;
	nbuf = realloc(c->wbuf, ncap);
	if (nbuf == NULL) {
		sbki_seterr(err, SBK_ERR_SYSTEM, ENOMEM, "out of memory");
		return (-1);
	}
	c->wbuf = nbuf;
	c->wcap = ncap;
	return (0);
}

/*
 * Write what the socket takes now.  0 (all written, or EAGAIN), -1 on
 * a broken connection.
 */
int
sbki_write_some(struct sbk_client *c, struct sbk_error *err)
{
	ssize_t n;

	while (c->woff < c->wlen) {
		n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			c->woff += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		if (errno == EPIPE || errno == ECONNRESET) {
			sbki_seterr(err, SBK_ERR_CLOSED, errno,
			    "connection closed by the daemon");
			return (-1);
		}
		sbki_seterr(
		    err, SBK_ERR_SYSTEM, errno, "send: %s", strerror(errno));
		return (-1);
	}
	c->woff = c->wlen = 0;
	return (0);
}

/* A client from sbk_connect_async used by a blocking call: connect. */
static int
connect_wait(struct sbk_client *c, int64_t deadline, struct sbk_error *err)
{
	int rc;

	while ((rc = sbki_connect_step(c, err)) == 0) {
		if (passed(deadline)) {
			sbki_seterr(err, SBK_ERR_TIMEOUT, ETIMEDOUT,
			    "timed out connecting");
			return (-1);
		}
		(void)poll(NULL, 0, 5);
	}
	return (rc == 1 ? 0 : -1);
}

/* Write the buffer out before deadline, reading replies meanwhile. */
static int
flush_until(struct sbk_client *c, int64_t deadline, struct sbk_error *err)
{
	struct pollfd pfd;
	int rc;

	if (c->connecting && connect_wait(c, deadline, err) == -1)
		return (-1);
	for (;;) {
		if (sbki_write_some(c, err) == -1)
			return (-1);
		if (c->woff == c->wlen)
			return (0);
		pfd.fd = c->fd;
		pfd.events = POLLOUT | (c->eof ? 0 : POLLIN);
		pfd.revents = 0;
		rc = poll(&pfd, 1, remaining(deadline));
		if (rc == -1 && errno != EINTR) {
			sbki_seterr(err, SBK_ERR_SYSTEM, errno, "poll: %s",
			    strerror(errno));
			return (-1);
		}
		if (rc == 0) {
			sbki_seterr(err, SBK_ERR_TIMEOUT, ETIMEDOUT,
			    "timed out writing a request");
			return (-1);
		}
		if (rc > 0 && (pfd.revents & (POLLIN | POLLHUP)) &&
		    sbki_read_some(c, err) == -1)
			return (-1);
	}
}

int
sbk_flush(struct sbk_client *c, struct sbk_error *err)
{
	return (flush_until(c, deadline_of(c->send_timeout), err));
}

void
sbk_cork(struct sbk_client *c, bool corked)
{
	c->corked = corked;
	if (!corked && c->woff < c->wlen)
		sbki_wake(c);
}

/*
 * After appending a request: write it now unless corked.  A send
 * timeout is not a failure of the request: it stays buffered, whole,
 * and goes out with the next flush, so the caller keeps its id.
 */
static int
maybe_flush(struct sbk_client *c, struct sbk_error *err)
{
	struct sbk_error e = { 0 };

	if (c->corked)
		return (0);
	if (sbk_flush(c, &e) == -1 && e.kind != SBK_ERR_TIMEOUT) {
		if (err != NULL) {
			sbk_error_clear(err);
			*err = e;
		}
		return (-1);
	}
	sbk_error_clear(&e);
	return (0);
}

/* Count one more request with this id (JSON text) in flight. */
static int
track(struct sbk_client *c, const char *key, size_t len, struct sbk_error *err)
{
	struct sbk_req *r;

	if ((r = reqtab_get(&c->reqs, key, len)) == NULL) {
		sbki_seterr(err, SBK_ERR_SYSTEM, ENOMEM, "out of memory");
		return (-1);
	}
	r->sends++;
	return (0);
}

/* Undo track() for a request that could not be buffered. */
static void
untrack(struct sbk_client *c, const char *key, size_t len)
{
	struct sbk_req *r;

	if ((r = reqtab_find(&c->reqs, key, len)) != NULL && --r->sends == 0)
		reqtab_remove(&c->reqs, r);
}

/* The reqtab key of an id: its compact JSON text (malloc'd), or NULL. */
static char *
id_key(const json_t *id)
{
	if (!json_is_integer(id) && !json_is_string(id))
		return (NULL);
	return (json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY));
}

/* Track the id of one request object of a raw line, if it has one. */
static void
track_raw_member(struct sbk_client *c, const json_t *req)
{
	char *key;

	if (!json_is_object(req) ||
	    (key = id_key(json_object_get(req, "id"))) == NULL)
		return;
	(void)track(c, key, strlen(key), NULL);
	free(key);
}

/*
 * A raw line's ids, so that their replies are not taken for strays:
 * the line parsed as a request or a batch; garbage tracks nothing (the
 * daemon answers it with id null, which is always delivered).
 */
static void
track_raw(struct sbk_client *c, const char *line, size_t len)
{
	json_t *v, *member;
	size_t i;

	if ((v = json_loadb(line, len, JSON_DECODE_ANY, NULL)) == NULL)
		return;
	if (json_is_array(v))
		json_array_foreach(v, i, member) track_raw_member(c, member);
	else
		track_raw_member(c, v);
	json_decref(v);
}

int
sbk_send_raw(
    struct sbk_client *c, const char *line, size_t len, struct sbk_error *err)
{
	bool nl;

	nl = len == 0 || line[len - 1] != '\n';
	if (wreserve(c, len + 1, err) == -1)
		return (-1);
	track_raw(c, line, len);
	memcpy(c->wbuf + c->wlen, line, len);
	c->wlen += len;
	if (nl)
		c->wbuf[c->wlen++] = '\n';
	return (maybe_flush(c, err));
}

/* Append a JSON value, compact, to the write buffer. */
static int
append_json(struct sbk_client *c, const json_t *v, struct sbk_error *err)
{
	size_t need, room;

	room = c->wcap - c->wlen;
	need = json_dumpb(
	    v, c->wbuf + c->wlen, room, JSON_COMPACT | JSON_ENCODE_ANY);
	if (need == 0) {
		sbki_seterr(err, SBK_ERR_USAGE, EINVAL, "cannot encode JSON");
		return (-1);
	}
	if (need > room) {
		if (wreserve(c, need, err) == -1)
			return (-1);
		json_dumpb(
		    v, c->wbuf + c->wlen, need, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	c->wlen += need;
	return (0);
}

int
sbki_wappend(struct sbk_client *c, const char *data, size_t len)
{
	if (wreserve(c, len, NULL) == -1)
		return (-1);
	memcpy(c->wbuf + c->wlen, data, len);
	c->wlen += len;
	return (0);
}

static int
append_str(
    struct sbk_client *c, const char *s, size_t len, struct sbk_error *err)
{
	if (wreserve(c, len, err) == -1)
		return (-1);
	memcpy(c->wbuf + c->wlen, s, len);
	c->wlen += len;
	return (0);
}

/* True when s can go between quotes without escaping. */
static bool
plain_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
		    *s == '"' || *s == '\\')
			return (false);
	return (true);
}

/*
 * Append one request line.  id_text is the id already in JSON (NULL for
 * a notification).  The envelope is written by hand because this is the
 * benchmark's hot path; method and params still go through jansson
 * when they need escaping.
 */
int
sbki_append_request(struct sbk_client *c, const char *id_text,
    const char *method, const json_t *params, struct sbk_error *err)
{
	size_t mark;
	json_t *m;
	int rc;

	if (method == NULL || (params != NULL && !json_is_object(params))) {
		sbki_seterr(err, SBK_ERR_USAGE, EINVAL,
		    "a method name and object params are required");
		return (-1);
	}
	mark = c->wlen;
	if (append_str(c, "{\"jsonrpc\":\"2.0\",", 17, err) == -1)
		goto fail;
	if (id_text != NULL) {
		if (append_str(c, "\"id\":", 5, err) == -1 ||
		    append_str(c, id_text, strlen(id_text), err) == -1 ||
		    append_str(c, ",", 1, err) == -1)
			goto fail;
	}
	if (append_str(c, "\"method\":", 9, err) == -1)
		goto fail;
	if (plain_ascii(method)) {
		if (append_str(c, "\"", 1, err) == -1 ||
		    append_str(c, method, strlen(method), err) == -1 ||
		    append_str(c, "\"", 1, err) == -1)
			goto fail;
	} else {
		m = json_string(method);
		if (m == NULL) {
			sbki_seterr(err, SBK_ERR_USAGE, EINVAL,
			    "method is not valid UTF-8");
			goto fail;
		}
		rc = append_json(c, m, err);
		json_decref(m);
		if (rc == -1)
			goto fail;
	}
	if (params != NULL) {
		if (append_str(c, ",\"params\":", 10, err) == -1 ||
		    append_json(c, params, err) == -1)
			goto fail;
	}
	if (append_str(c, "}\n", 2, err) == -1)
		goto fail;
	return (0);
fail:
	c->wlen = mark;
	return (-1);
}

int64_t
sbk_send(struct sbk_client *c, const char *method, const json_t *params,
    struct sbk_error *err)
{
	char idbuf[24];
	int64_t id;

	id = c->next_id;
	snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
	if (track(c, idbuf, strlen(idbuf), err) == -1)
		return (-1);
	if (sbki_append_request(c, idbuf, method, params, err) == -1) {
		untrack(c, idbuf, strlen(idbuf));
		return (-1);
	}
	c->next_id++;
	if (maybe_flush(c, err) == -1)
		return (-1);
	return (id);
}

int
sbk_send_id(struct sbk_client *c, const json_t *id, const char *method,
    const json_t *params, struct sbk_error *err)
{
	char *idtext;
	int rc;

	if (!json_is_integer(id) && !json_is_string(id)) {
		sbki_seterr(err, SBK_ERR_USAGE, EINVAL,
		    "an id is an integer or a string");
		return (-1);
	}
	idtext = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
	if (idtext == NULL) {
		sbki_seterr(err, SBK_ERR_SYSTEM, ENOMEM, "out of memory");
		return (-1);
	}
	if (track(c, idtext, strlen(idtext), err) == -1) {
		free(idtext);
		return (-1);
	}
	rc = sbki_append_request(c, idtext, method, params, err);
	if (rc == -1)
		untrack(c, idtext, strlen(idtext));
	free(idtext);
	if (rc == -1)
		return (-1);
	return (maybe_flush(c, err));
}

int
sbk_shutdown_write(struct sbk_client *c, struct sbk_error *err)
{
	if (sbk_flush(c, err) == -1)
		return (-1);
	if (shutdown(c->fd, SHUT_WR) == -1) {
		sbki_seterr(err, SBK_ERR_SYSTEM, errno, "shutdown: %s",
		    strerror(errno));
		return (-1);
	}
	return (0);
}

void
sbk_reply_clear(struct sbk_reply *r)
{
	if (r == NULL)
		return;
	json_decref(r->msg);
	sbk_error_clear(&r->error);
	memset(r, 0, sizeof(*r));
}

/*
 * Take a parsed message apart into r (which takes the reference).
 * false when it is neither a reply, a batch reply nor a notification.
 */
bool
sbki_classify(json_t *msg, struct sbk_reply *r)
{
	const json_t *id, *result, *error, *method;

	memset(r, 0, sizeof(*r));
	r->msg = msg;
	if (json_is_array(msg)) {
		r->kind = SBK_MSG_BATCH;
		return (true);
	}
	method = json_object_get(msg, "method");
	if (json_is_string(method) && json_object_get(msg, "id") == NULL) {
		r->kind = SBK_MSG_NOTIFICATION;
		r->method = json_string_value(method);
		r->params = json_object_get(msg, "params");
		return (true);
	}
	if (!rpc_reply_parse(msg, &id, &result, &error))
		return (false);
	r->id = id;
	if (json_is_integer(id)) {
		r->int_id = true;
		r->id_num = json_integer_value(id);
	}
	if (error != NULL) {
		r->kind = SBK_MSG_ERROR;
		sbki_set_rpc_error(&r->error, error);
	} else {
		r->kind = SBK_MSG_RESULT;
		r->result = result;
	}
	return (true);
}

/*
 * The next complete line in the read buffer, parsed.  1: *msg set,
 * 0: no complete line, -1: a line that is not usable (err set; the line
 * is consumed, so the connection stays usable).
 */
int
sbki_next_msg(struct sbk_client *c, json_t **msg, struct sbk_error *err)
{
	struct rpc_error perr;
	enum frame_status st;
	size_t consumed, linelen;
	const char *line;

	*msg = NULL;
	for (;;) {
		/* Before the first read rbuf is NULL: never pass that on. */
		line = c->rbuf != NULL ? c->rbuf + c->rstart : "";
		st = frame_next(&c->frame, line, c->rlen - c->rstart, c->eof,
		    &consumed, &linelen);
		c->rstart += consumed;
		switch (st) {
		case FRAME_NEED_MORE:
			if (consumed > 0)
				continue;
			return (0);
		case FRAME_TOO_LONG:
			sbki_seterr(err, SBK_ERR_PROTOCOL, EMSGSIZE,
			    "a reply is longer than %zu bytes", c->max_reply);
			return (-1);
		case FRAME_LINE:
			break;
		}
		memset(&perr, 0, sizeof(perr));
		*msg = rpc_parse_line(line, linelen, &perr);
		if (*msg == NULL) {
			sbki_seterr(err, SBK_ERR_PROTOCOL, EBADMSG,
			    "the daemon sent invalid JSON: %s", perr.message);
			rpc_error_clear(&perr);
			return (-1);
		}
		return (1);
	}
}

/*
 * Take one reply's id off the table.  1: deliver it, 0: drop it quietly
 * (the reply of a timed-out sbk_call), -1: a stray (an id never sent,
 * or already answered).  Id null is always delivered: the daemon
 * answers with it what it could not read.
 */
static int
take_id(struct sbk_client *c, const json_t *id)
{
	struct sbk_req *r;
	char *key;
	bool abandoned;

	if (json_is_null(id))
		return (1);
	if ((key = id_key(id)) == NULL)
		return (-1);
	r = reqtab_find(&c->reqs, key, strlen(key));
	free(key);
	if (r == NULL)
		return (-1);
	abandoned = r->abandoned;
	if (--r->sends == 0)
		reqtab_remove(&c->reqs, r);
	return (abandoned ? 0 : 1);
}

/*
 * Should the message in r reach the caller?  Notifications do; replies
 * and batch replies only when they answer something in flight.  A
 * stray is counted.
 */
static bool
accept_msg(struct sbk_client *c, const struct sbk_reply *r)
{
	const json_t *member;
	size_t i;
	int rc;
	bool any = false;

	switch (r->kind) {
	case SBK_MSG_NOTIFICATION:
		return (true);
	case SBK_MSG_RESULT:
	case SBK_MSG_ERROR:
		rc = take_id(c, r->id);
		if (rc == -1)
			c->strays++;
		return (rc == 1);
	case SBK_MSG_BATCH:
		json_array_foreach(r->msg, i, member)
		{
			if (json_is_object(member) &&
			    take_id(c, json_object_get(member, "id")) == 1)
				any = true;
		}
		if (!any)
			c->strays++;
		return (any);
	}
	return (false);
}


/*
 * Read the next message from the wire (held messages excluded), handing
 * notifications to the callback and dropping abandoned replies.  Same
 * return convention as sbk_recv.
 */
static int
wire_recv(struct sbk_client *c, struct sbk_reply *r, int64_t deadline,
    struct sbk_error *err)
{
	struct pollfd pfd;
	json_t *msg;
	int rc;

	for (;;) {
		rc = sbki_next_msg(c, &msg, err);
		if (rc == -1)
			return (-1);
		if (rc == 1) {
			if (!sbki_classify(msg, r)) {
				sbk_reply_clear(r);
				sbki_seterr(err, SBK_ERR_PROTOCOL, EBADMSG,
				    "the daemon sent a message that is not "
				    "JSON-RPC 2.0");
				return (-1);
			}
			if (sbki_async_take(c, r))
				; /* an async request's: delivered */
			else if (r->kind == SBK_MSG_NOTIFICATION &&
			    c->notify_cb != NULL) {
				c->notify_cb(
				    r->method, r->params, c->notify_arg);
				sbk_reply_clear(r);
			} else if (!accept_msg(c, r))
				sbk_reply_clear(r);
			else
				return (1);
			/*
			 * A daemon may send without end: the deadline is
			 * checked after every message, not only when the
			 * socket is momentarily empty.
			 */
			if (passed(deadline))
				return (0);
			continue;
		}
		if (c->eof) {
			sbki_seterr(err, SBK_ERR_CLOSED, ECONNRESET,
			    "connection closed by the daemon");
			return (-1);
		}
		rc = sbki_read_some(c, err);
		if (rc == -1)
			return (-1);
		if (rc == 1) {
			if (passed(deadline))
				return (0);
			continue;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, remaining(deadline));
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			sbki_seterr(err, SBK_ERR_SYSTEM, errno, "poll: %s",
			    strerror(errno));
			return (-1);
		}
		if (rc == 0)
			return (0);
	}
}

bool
sbk_pending(struct sbk_client *c)
{
	const char *nl;

	if (c->held_head != NULL)
		return (true);
	if (c->rlen == c->rstart)
		return (false);
	nl = memchr(c->rbuf + c->rstart, '\n', c->rlen - c->rstart);
	return (nl != NULL || c->eof);
}

int
sbk_recv(struct sbk_client *c, struct sbk_reply *r, int timeout_ms,
    struct sbk_error *err)
{
	struct sbk_held *h;
	int64_t deadline;

	memset(r, 0, sizeof(*r));
	if (c->held_head != NULL) {
		h = c->held_head;
		c->held_head = h->next;
		if (c->held_head == NULL)
			c->held_tail = &c->held_head;
		(void)sbki_classify(h->msg, r);
		free(h);
		return (1);
	}
	deadline = deadline_of(timeout_ms);
	if (c->connecting && connect_wait(c, deadline, err) == -1)
		return (-1);
	if (c->woff < c->wlen &&
	    flush_until(c, deadline_of(c->send_timeout), err) == -1)
		return (-1);
	return (wire_recv(c, r, deadline, err));
}

/* Keep a message sbk_call read for a later sbk_recv. */
static int
hold(struct sbk_client *c, struct sbk_reply *r, struct sbk_error *err)
{
	struct sbk_held *h;

	h = malloc(sizeof(*h));
	if (h == NULL) {
		sbki_seterr(err, SBK_ERR_SYSTEM, ENOMEM, "out of memory");
		return (-1);
	}
	h->msg = json_incref(r->msg);
	h->next = NULL;
	*c->held_tail = h;
	c->held_tail = &h->next;
	return (0);
}

void
sbki_send_cancel(struct sbk_client *c, const char *id_text)
{
	json_t *params, *id;

	id = json_loads(id_text, JSON_DECODE_ANY, NULL);
	params = json_pack("{sO}", "id", id);
	if (params != NULL &&
	    sbki_append_request(c, NULL, "job.cancel", params, NULL) == 0 &&
	    !c->corked && !c->connecting)
		(void)sbki_write_some(c, NULL);
	json_decref(params);
	json_decref(id);
}

/*
 * A call gave up on id: its late reply is to be dropped, and the daemon
 * asked to stop the job.  job.cancel goes as a notification (never
 * answered), best effort: if the daemon is not reading, it waits in the
 * buffer.
 */
static void
abandon(struct sbk_client *c, int64_t id)
{
	struct sbk_req *r;
	char key[24];

	snprintf(key, sizeof(key), "%" PRId64, id);
	if ((r = reqtab_find(&c->reqs, key, strlen(key))) != NULL)
		r->abandoned = true;
	sbki_send_cancel(c, key);
}

void
sbki_route(struct sbk_client *c, struct sbk_reply *r)
{
	if (sbki_async_take(c, r))
		return;
	if (r->kind == SBK_MSG_NOTIFICATION) {
		/* Without a callback a loop has no one to give it to. */
		if (c->notify_cb != NULL)
			c->notify_cb(r->method, r->params, c->notify_arg);
		sbk_reply_clear(r);
		return;
	}
	/* A reply to a blocking send, kept for sbk_recv (one per id). */
	if (accept_msg(c, r))
		(void)hold(c, r, NULL);
	sbk_reply_clear(r);
}

/* A timed-out call: drop its late reply, and say so. */
static json_t *
call_timed_out(struct sbk_client *c, int64_t id, const char *method,
    int timeout_ms, struct sbk_error *err)
{
	abandon(c, id);
	sbki_seterr(err, SBK_ERR_TIMEOUT, ETIMEDOUT,
	    "no reply to %s within %d ms", method, timeout_ms);
	return (NULL);
}

json_t *
sbk_call(struct sbk_client *c, const char *method, const json_t *params,
    int timeout_ms, struct sbk_error *err)
{
	struct sbk_reply r;
	json_t *result;
	int64_t id, deadline;
	char key[24];
	bool corked;
	int rc;

	deadline = deadline_of(timeout_ms);
	corked = c->corked;
	c->corked = true;
	id = sbk_send(c, method, params, err);
	c->corked = corked;
	if (id == -1 || flush_until(c, deadline, err) == -1)
		return (NULL);
	for (;;) {
		rc = wire_recv(c, &r, deadline, err);
		if (rc == -1)
			return (NULL);
		if (rc == 0)
			return (call_timed_out(c, id, method, timeout_ms, err));
		if ((r.kind == SBK_MSG_RESULT || r.kind == SBK_MSG_ERROR) &&
		    r.int_id && r.id_num == id)
			break;
		/*
		 * An error with id null answers a request the daemon could
		 * not read or admit (a refused connection, a line over the
		 * limit): with nothing else to pin it on, it is ours.
		 */
		if (r.kind == SBK_MSG_ERROR && json_is_null(r.id)) {
			snprintf(key, sizeof(key), "%" PRId64, id);
			untrack(c, key, strlen(key));
			break;
		}
		/* A reply to an earlier sbk_send: one per id, so bounded. */
		if (r.kind != SBK_MSG_NOTIFICATION && hold(c, &r, err) == -1) {
			sbk_reply_clear(&r);
			return (NULL);
		}
		sbk_reply_clear(&r);
		if (passed(deadline))
			return (call_timed_out(c, id, method, timeout_ms, err));
	}
	if (r.kind == SBK_MSG_ERROR) {
		if (err != NULL) {
			sbk_error_clear(err);
			*err = r.error;
			memset(&r.error, 0, sizeof(r.error));
		}
		sbk_reply_clear(&r);
		return (NULL);
	}
	result = json_incref((json_t *)r.result);
	sbk_reply_clear(&r);
	return (result);
}
