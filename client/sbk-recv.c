/*
 * sbk-recv.c - libsbk's input side: the read buffer (bounded by the
 * longest reply), lines framed and parsed with the shared codec,
 * messages classified and routed (an async request's to its callback,
 * a reply to an id in flight to the caller, a stray dropped and
 * counted), sbk_recv, and the blocking sbk_call with its deadline
 * checked after every message.
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
	if ((key = sbki_id_key(id)) == NULL)
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
		json_array_foreach(r->msg, i, member) {
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
			if (sbki_passed(deadline))
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
			if (sbki_passed(deadline))
				return (0);
			continue;
		}
		/*
		 * Requests still buffered (a send timeout passed) go out
		 * while waiting: their replies may be what is awaited.
		 */
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		if (c->woff < c->wlen && !c->corked)
			pfd.events |= POLLOUT;
		pfd.revents = 0;
		rc = poll(&pfd, 1, sbki_remaining(deadline));
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			sbki_seterr(err, SBK_ERR_SYSTEM, errno, "poll: %s",
			    strerror(errno));
			return (-1);
		}
		if (rc == 0)
			return (0);
		if ((pfd.revents & POLLOUT) && sbki_write_some(c, err) == -1)
			return (-1);
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
	struct sbk_error e = { 0 };
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
	deadline = sbki_deadline_of(timeout_ms);
	if (c->connecting && sbki_connect_wait(c, deadline, err) == -1)
		return (-1);
	/* A send timeout here is no failure: the rest is written while
	 * waiting for the reply. */
	if (c->woff < c->wlen &&
	    sbki_flush_until(c, sbki_deadline_of(c->send_timeout), &e) == -1 &&
	    e.kind != SBK_ERR_TIMEOUT) {
		if (err != NULL) {
			sbk_error_clear(err);
			*err = e;
		}
		return (-1);
	}
	sbk_error_clear(&e);
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

	deadline = sbki_deadline_of(timeout_ms);
	corked = c->corked;
	c->corked = true;
	id = sbk_send(c, method, params, err);
	c->corked = corked;
	if (id == -1 || sbki_flush_until(c, deadline, err) == -1)
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
			sbki_untrack(c, key, strlen(key));
			break;
		}
		/* A reply to an earlier sbk_send: one per id, so bounded. */
		if (r.kind != SBK_MSG_NOTIFICATION && hold(c, &r, err) == -1) {
			sbk_reply_clear(&r);
			return (NULL);
		}
		sbk_reply_clear(&r);
		if (sbki_passed(deadline))
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
