/*
 * sbk-async.c - libsbk's asynchronous interface: requests with a
 * callback each (sbk_call_async), a non-blocking connect, and the three
 * things any event loop needs (sbk_fd, sbk_events, sbk_next_timeout)
 * plus one entry point (sbk_process) that writes what the socket takes,
 * reads what it has, and delivers replies, progress notifications,
 * timeouts and retries to the callbacks.  Nothing here blocks.
 *
 * An asynchronous request is an entry of the client's reqtab (so the
 * blocking core routes its reply here, whoever reads it, through the
 * async_take hook this layer sets in the client) that is also on a list
 * for the timer scan; the scan is linear, which is fine for the
 * thousands of requests a connection keeps in flight.
 *
 * Thread safety: one thread per struct sbk_client at a time.
 */
#include "sbk-config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>

#include "rpc.h"
#include "sbk-internal.h"

/* The wait before a retry when -32000 carries no retry_after_ms. */
#define RETRY_DEFAULT_MS 100
/* Messages handled per sbk_process, so one busy client cannot starve
 * the loop's other work. */
#define PROCESS_BUDGET 1024

static bool async_take(struct sbk_client *, struct sbk_reply *);
static void async_fail(struct sbk_client *, const struct sbk_error *);

void
sbk_set_retries(struct sbk_client *c, int max_retries)
{
	c->max_retries = max_retries < 0 ? 0 : max_retries;
}

/* Take an asynchronous request off the timer list and the table. */
static void
forget(struct sbk_client *c, struct sbk_req *r)
{
	struct sbk_req **pp;

	for (pp = &c->async_head; *pp != NULL; pp = &(*pp)->tnext) {
		if (*pp == r) {
			*pp = r->tnext;
			c->nasync--;
			break;
		}
	}
	reqtab_remove(&c->reqs, r);
}

/* Call r's callback with reply, from inside the library. */
static void
deliver(struct sbk_client *c, sbk_reply_cb *cb, void *ud,
    const struct sbk_reply *reply)
{
	c->dispatching++;
	cb(c, reply, ud);
	c->dispatching--;
}

/* Finish r with a local error (timeout, connection lost). */
static void
finish_local(struct sbk_client *c, struct sbk_req *r, const struct sbk_error *e)
{
	struct sbk_reply reply;
	sbk_reply_cb *cb = r->cb;
	void *ud = r->user_data;
	json_int_t idnum;

	memset(&reply, 0, sizeof(reply));
	reply.kind = SBK_MSG_ERROR;
	reply.error = *e;
	reply.error.data = NULL;
	reply.msg = json_loads(r->key, JSON_DECODE_ANY, NULL);
	reply.id = reply.msg;
	if (json_is_integer(reply.msg)) {
		idnum = json_integer_value(reply.msg);
		reply.int_id = true;
		reply.id_num = idnum;
	}
	forget(c, r);
	deliver(c, cb, ud, &reply);
	json_decref(reply.msg);
}

int64_t
sbk_call_async(struct sbk_client *c, const char *method, const json_t *params,
    int timeout_ms, sbk_reply_cb *cb, void *user_data, struct sbk_error *err)
{
	struct sbk_req *r;
	char key[24];
	size_t mark;
	int64_t id;

	if (cb == NULL) {
		sbki_seterr(
		    err, SBK_ERR_USAGE, EINVAL, "a callback is required");
		return (-1);
	}
	if (c->failed) {
		sbki_seterr(err, SBK_ERR_CLOSED, ECONNRESET,
		    "the connection is closed");
		return (-1);
	}
	id = c->next_id;
	snprintf(key, sizeof(key), "%" PRId64, id);
	mark = c->wlen;
	if (sbki_append_request(c, key, method, params, err) == -1)
		return (-1);
	if ((r = reqtab_get(&c->reqs, key, strlen(key))) == NULL ||
	    (r->line = malloc(c->wlen - mark)) == NULL) {
		if (r != NULL)
			reqtab_remove(&c->reqs, r);
		c->wlen = mark;
		sbki_seterr(err, SBK_ERR_SYSTEM, ENOMEM, "out of memory");
		return (-1);
	}
	/* Kept for a retry of -32000; wiped when the entry goes. */
	memcpy(r->line, c->wbuf + mark, c->wlen - mark);
	r->linelen = c->wlen - mark;
	r->sends = 1;
	r->is_async = true;
	r->cb = cb;
	r->user_data = user_data;
	r->retries_left = c->max_retries;
	r->deadline_ms =
	    timeout_ms < 0 ? -1 : sbki_now_ms() + (int64_t)timeout_ms;
	r->tnext = c->async_head;
	c->async_head = r;
	c->nasync++;
	c->async_take = async_take;
	c->async_fail = async_fail;
	c->next_id++;
	if (c->in_batch) {
		c->batch_n++;
		return (id); /* written by sbk_batch_end */
	}
	/* Write what the socket takes now; the rest waits for writability. */
	if (!c->connecting && !c->corked && sbki_write_some(c, NULL) == -1) {
		/* Reported to the callbacks by the next sbk_process. */
	}
	sbki_wake(c);
	return (id);
}

void
sbk_batch_begin(struct sbk_client *c)
{
	if (c->in_batch)
		return;
	c->in_batch = true;
	c->batch_mark = c->wlen;
	c->batch_n = 0;
}

/*
 * The batch's lines "{...}\n{...}\n" become "[{...},{...}]\n".  A
 * compact JSON line holds no raw newline, so each one ends a request.
 */
int
sbk_batch_end(struct sbk_client *c, struct sbk_error *err)
{
	size_t i;

	if (!c->in_batch)
		return (0);
	c->in_batch = false;
	if (c->batch_n == 0)
		return (0);
	if (c->batch_n > 1) {
		if (sbki_wappend(c, "  ", 2) == -1) {
			sbki_seterr(
			    err, SBK_ERR_SYSTEM, ENOMEM, "out of memory");
			return (-1);
		}
		c->wlen -= 2;
		memmove(c->wbuf + c->batch_mark + 1, c->wbuf + c->batch_mark,
		    c->wlen - c->batch_mark);
		c->wbuf[c->batch_mark] = '[';
		c->wlen++;
		for (i = c->batch_mark + 1; i < c->wlen - 1; i++)
			if (c->wbuf[i] == '\n')
				c->wbuf[i] = ',';
		c->wbuf[c->wlen - 1] = ']';
		c->wbuf[c->wlen++] = '\n';
	}
	if (!c->connecting && !c->corked)
		(void)sbki_write_some(c, NULL);
	sbki_wake(c);
	return (0);
}

/* The retry_after_ms of a -32000 error, or the default. */
static int64_t
retry_delay(const struct sbk_error *e)
{
	json_t *v = json_object_get(e->data, "retry_after_ms");

	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= 60000)
		return ((int64_t)json_integer_value(v));
	return (RETRY_DEFAULT_MS);
}

/* The request a reply or a progress notification is for, if async. */
static struct sbk_req *
async_of(struct sbk_client *c, const json_t *id)
{
	struct sbk_req *r;
	char *key;

	if (c->nasync == 0 || (!json_is_integer(id) && !json_is_string(id)))
		return (NULL);
	if ((key = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return (NULL);
	r = reqtab_find(&c->reqs, key, strlen(key));
	free(key);
	return (r != NULL && r->is_async ? r : NULL);
}

/* One reply (not a batch) for an asynchronous request. */
static void
take_reply(struct sbk_client *c, struct sbk_req *r, struct sbk_reply *reply)
{
	sbk_reply_cb *cb;
	void *ud;

	if (reply->kind == SBK_MSG_ERROR && reply->error.code == -32000 &&
	    r->retries_left > 0) {
		r->retries_left--;
		r->sends = 0;
		r->retry_at_ms = sbki_now_ms() + retry_delay(&reply->error);
		return;
	}
	cb = r->cb;
	ud = r->user_data;
	forget(c, r);
	deliver(c, cb, ud, reply);
}

/* The hook behind sbki_async_take (sbk-internal.h). */
static bool
async_take(struct sbk_client *c, struct sbk_reply *r)
{
	struct sbk_reply member;
	struct sbk_req *req;
	json_t *m;
	size_t i;
	bool mine = false;

	if (c->nasync == 0)
		return (false);
	switch (r->kind) {
	case SBK_MSG_NOTIFICATION:
		if (strcmp(r->method, "progress") != 0 ||
		    (req = async_of(c, json_object_get(r->params, "id"))) ==
			NULL)
			return (false);
		deliver(c, req->cb, req->user_data, r);
		sbk_reply_clear(r);
		return (true);
	case SBK_MSG_RESULT:
	case SBK_MSG_ERROR:
		if ((req = async_of(c, r->id)) == NULL)
			return (false);
		take_reply(c, req, r);
		sbk_reply_clear(r);
		return (true);
	case SBK_MSG_BATCH:
		/* Split: each member for an async request goes to it. */
		for (i = 0; i < json_array_size(r->msg);) {
			m = json_array_get(r->msg, i);
			if (!json_is_object(m) ||
			    (req = async_of(c, json_object_get(m, "id"))) ==
				NULL) {
				i++;
				continue;
			}
			json_incref(m);
			json_array_remove(r->msg, i);
			if (sbki_classify(m, &member) &&
			    member.kind != SBK_MSG_BATCH)
				take_reply(c, req, &member);
			sbk_reply_clear(&member);
			mine = true;
		}
		if (mine && json_array_size(r->msg) == 0) {
			sbk_reply_clear(r);
			return (true);
		}
		return (false);
	}
	return (false);
}

/* The hook behind sbki_async_fail (sbk-internal.h). */
static void
async_fail(struct sbk_client *c, const struct sbk_error *e)
{
	while (c->async_head != NULL)
		finish_local(c, c->async_head, e);
}

int
sbk_events(const struct sbk_client *c)
{
	int ev = 0;

	if (c->failed)
		return (0);
	if (c->connecting)
		return (0); /* a full backlog is polled by the timer */
	if (!c->eof)
		ev |= SBK_EV_READ;
	if (c->woff < c->wlen && !c->corked && !c->in_batch)
		ev |= SBK_EV_WRITE;
	return (ev);
}

static int64_t
earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return (b);
	if (b < 0)
		return (a);
	return (a < b ? a : b);
}

int
sbk_next_timeout(const struct sbk_client *c)
{
	const struct sbk_req *r;
	int64_t when = -1, left;

	if (c->failed)
		return (-1);
	if (c->connecting)
		when = c->connect_retry_at;
	for (r = c->async_head; r != NULL; r = r->tnext) {
		when = earliest(when, r->deadline_ms);
		if (r->retry_at_ms >= 0)
			when = earliest(when, r->retry_at_ms);
	}
	if (when < 0)
		return (-1);
	left = when - sbki_now_ms();
	if (left <= 0)
		return (0);
	return (left > INT_MAX ? INT_MAX : (int)left);
}

/* Deadlines and retries that are due. */
static void
run_timers(struct sbk_client *c)
{
	struct sbk_error e;
	struct sbk_req *r, *next;
	int64_t now = sbki_now_ms();
	size_t mark;

	if (c->in_batch)
		return; /* nothing may land inside the batch being built */
	for (r = c->async_head; r != NULL; r = next) {
		next = r->tnext;
		if (r->deadline_ms >= 0 && now >= r->deadline_ms) {
			if (r->sends > 0)
				sbki_send_cancel(c, r->key);
			memset(&e, 0, sizeof(e));
			e.kind = SBK_ERR_TIMEOUT;
			e.sys_errno = ETIMEDOUT;
			snprintf(e.message, sizeof(e.message),
			    "no reply to request %s in time", r->key);
			finish_local(c, r, &e);
			/* The callback may have added requests: rescan. */
			next = c->async_head;
			continue;
		}
		if (r->retry_at_ms >= 0 && now >= r->retry_at_ms) {
			mark = c->wlen;
			if (sbki_wappend(c, r->line, r->linelen) == 0) {
				r->retry_at_ms = -1;
				r->sends = 1;
			} else
				c->wlen = mark;
		}
	}
}

/* The connection is gone: every async request learns it once. */
static int
process_fail(
    struct sbk_client *c, struct sbk_error *err, const struct sbk_error *e)
{
	c->failed = true;
	async_fail(c, e);
	if (err != NULL) {
		sbk_error_clear(err);
		*err = *e;
	}
	return (-1);
}

int
sbk_process(struct sbk_client *c, int revents, struct sbk_error *err)
{
	struct sbk_error e = { 0 };
	struct sbk_reply r;
	json_t *msg;
	int rc, budget = PROCESS_BUDGET;

	(void)revents; /* every step below is non-blocking anyway */
	if (c->failed) {
		sbki_seterr(err, SBK_ERR_CLOSED, ECONNRESET,
		    "the connection is closed");
		return (-1);
	}
	if (c->connecting) {
		rc = sbki_connect_step(c, &e);
		if (rc == -1)
			return (process_fail(c, err, &e));
		if (rc == 0) {
			run_timers(c);
			return (0);
		}
	}
	if (c->woff < c->wlen && !c->corked && !c->in_batch &&
	    sbki_write_some(c, &e) == -1)
		return (process_fail(c, err, &e));
	while (budget-- > 0) {
		rc = sbki_next_msg(c, &msg, &e);
		if (rc == -1) {
			sbk_error_clear(&e); /* a bad line, skipped */
			continue;
		}
		if (rc == 1) {
			if (!sbki_classify(msg, &r)) {
				sbk_reply_clear(&r);
				c->strays++;
				continue;
			}
			sbki_route(c, &r);
			continue;
		}
		if (c->eof) {
			sbki_seterr(&e, SBK_ERR_CLOSED, ECONNRESET,
			    "connection closed by the daemon");
			return (process_fail(c, err, &e));
		}
		rc = sbki_read_some(c, &e);
		if (rc == -1)
			return (process_fail(c, err, &e));
		if (rc == 0)
			break;
	}
	run_timers(c);
	if (c->woff < c->wlen && !c->corked && !c->in_batch &&
	    sbki_write_some(c, &e) == -1)
		return (process_fail(c, err, &e));
	return (0);
}

size_t
sbk_async_pending(const struct sbk_client *c)
{
	return (c->nasync);
}
