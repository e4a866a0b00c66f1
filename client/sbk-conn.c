/*
 * sbk-conn.c - libsbk's connection: the blocking connect (bounded by the
 * caller's timeout) and the non-blocking one, reading what the socket
 * has, close and the per-client settings.  The layer under sbk-send.c,
 * sbk-recv.c and sbk-async.c (sbk-internal.h).
 *
 * Thread safety: one thread per struct sbk_client at a time; no globals.
 */
#include "sbk-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <jansson.h>

#include "frame.h"
#include "reqtab.h"
#include "sbk-client.h"
#include "sbk-internal.h"

/* How often a connect to a full listen backlog is tried again. */
#define CONNECT_RETRY_MS 10

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

static int
try_connect(struct sbk_client *c, struct sbk_error *err)
{
	struct sockaddr_un sun;
	int saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, c->path, strlen(c->path) + 1);
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
	    errno == EISCONN) {
		c->connecting = false;
		return (1);
	}
	saved = errno;
	if (saved == EAGAIN || saved == EINPROGRESS || saved == EALREADY ||
	    saved == EINTR) {
		if (c->connect_deadline >= 0 &&
		    sbki_now_ms() >= c->connect_deadline) {
			sbki_seterr(err, SBK_ERR_CONNECT, ETIMEDOUT,
			    "%s: connect timed out", c->path);
			return (-1);
		}
		c->connect_retry_at = sbki_now_ms() + CONNECT_RETRY_MS;
		return (0);
	}
	sbki_seterr(
	    err, SBK_ERR_CONNECT, saved, "%s: %s", c->path, strerror(saved));
	return (-1);
}

int
sbki_connect_step(struct sbk_client *c, struct sbk_error *err)
{
	if (!c->connecting)
		return (1);
	if (sbki_now_ms() < c->connect_retry_at)
		return (0);
	return (try_connect(c, err));
}

struct sbk_client *
sbk_connect_async(const char *path, int timeout_ms, struct sbk_error *err)
{
	struct sbk_client *c;
	int fd;

	if (path == NULL)
		path = sbk_default_socket();
	if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		sbki_seterr(err, SBK_ERR_CONNECT, ENAMETOOLONG,
		    "%s: socket path too long", path);
		return (NULL);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		sbki_seterr(
		    err, SBK_ERR_SYSTEM, errno, "socket: %s", strerror(errno));
		return (NULL);
	}
	if ((c = sbki_client_new(fd, err)) == NULL)
		return (NULL);
	if ((c->path = strdup(path)) == NULL) {
		sbk_close(c);
		sbki_seterr(err, SBK_ERR_SYSTEM, ENOMEM, "out of memory");
		return (NULL);
	}
	c->connecting = true;
	c->connect_deadline =
	    timeout_ms < 0 ? -1 : sbki_now_ms() + (int64_t)timeout_ms;
	if (try_connect(c, err) == -1) {
		sbk_close(c);
		return (NULL);
	}
	return (c);
}

bool
sbk_connected(const struct sbk_client *c)
{
	return (!c->connecting);
}

void
sbk_set_wakeup_cb(struct sbk_client *c, sbk_wakeup_cb *cb, void *arg)
{
	c->wakeup = cb;
	c->wakeup_arg = arg;
}

void
sbki_wake(struct sbk_client *c)
{
	if (c->wakeup != NULL && c->dispatching == 0)
		c->wakeup(c, c->wakeup_arg);
}

#define SBK_READ_CHUNK (64 * 1024)

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
