/*
 * sbk-send.c - libsbk's output side: the write buffer, requests encoded
 * into it (the envelope by hand on the hot path), the ids they carry
 * tracked in the reqtab, and flushing with a deadline while replies are
 * read meanwhile (so a pipelining client and the daemon's flow control
 * cannot deadlock).  Writes use MSG_NOSIGNAL: a vanished daemon is an
 * error, never a SIGPIPE.
 *
 * Thread safety: one thread per struct sbk_client at a time.
 */
#include "sbk-config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <jansson.h>

#include "frame.h"
#include "reqtab.h"
#include "rpc.h"
#include "sbk-client.h"
#include "sbk-internal.h"

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
int
sbki_connect_wait(struct sbk_client *c, int64_t deadline, struct sbk_error *err)
{
	int rc;

	while ((rc = sbki_connect_step(c, err)) == 0) {
		if (sbki_passed(deadline)) {
			sbki_seterr(err, SBK_ERR_TIMEOUT, ETIMEDOUT,
			    "timed out connecting");
			return (-1);
		}
		(void)poll(NULL, 0, 5);
	}
	return (rc == 1 ? 0 : -1);
}

/* Write the buffer out before deadline, reading replies meanwhile. */
int
sbki_flush_until(struct sbk_client *c, int64_t deadline, struct sbk_error *err)
{
	struct pollfd pfd;
	int rc;

	if (c->connecting && sbki_connect_wait(c, deadline, err) == -1)
		return (-1);
	for (;;) {
		if (sbki_write_some(c, err) == -1)
			return (-1);
		if (c->woff == c->wlen)
			return (0);
		pfd.fd = c->fd;
		pfd.events = POLLOUT | (c->eof ? 0 : POLLIN);
		pfd.revents = 0;
		rc = poll(&pfd, 1, sbki_remaining(deadline));
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
	return (sbki_flush_until(c, sbki_deadline_of(c->send_timeout), err));
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
void
sbki_untrack(struct sbk_client *c, const char *key, size_t len)
{
	struct sbk_req *r;

	if ((r = reqtab_find(&c->reqs, key, len)) != NULL && --r->sends == 0)
		reqtab_remove(&c->reqs, r);
}

/* The reqtab key of an id: its compact JSON text (malloc'd), or NULL. */
char *
sbki_id_key(const json_t *id)
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
	    (key = sbki_id_key(json_object_get(req, "id"))) == NULL)
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
	if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++) {
			member = json_array_get(v, i);
			track_raw_member(c, member);
		}
	} else
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
		sbki_untrack(c, idbuf, strlen(idbuf));
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
		sbki_untrack(c, idtext, strlen(idtext));
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
