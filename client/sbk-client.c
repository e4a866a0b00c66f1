/*
 * sbk-client.c - libsbk, a client of sbkd's UNIX socket built on the
 * shared codec (proto/frame, proto/rpc): errors, the blocking connect
 * (bounded by the caller's timeout), close and the per-client settings.
 * The socket is non-blocking and every wait is a poll(2) with a
 * monotonic deadline, so no call blocks past its timeout.  The output
 * side is sbk-send.c, the input side and sbk_call sbk-recv.c, the
 * asynchronous interface sbk-async.c; they share sbk-internal.h.
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
