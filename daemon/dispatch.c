/*
 * dispatch.c - from request lines to replies; see dispatch.h.
 *
 * Error precedence (contract 1.1): framing, envelope (incl. duplicate id),
 * method, params, admission.  Envelope-valid notifications are never
 * answered; envelope-invalid objects always are (id null, or their id).
 *
 * A job ends in job_finish, once (job.h has its states).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "batch.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "stats.h"

/* Upper bound of timeout_ms: 30 days, far from any overflow. */
#define TIMEOUT_MS_MAX (30LL * 24 * 3600 * 1000)
/* Lines longer than this are parsed on the parser lane. */
#define INLINE_PARSE_MAX (64 * 1024)

/* A big line on the parser lane: parsed and, when one request, prepared
 * and its JSON freed there, so nothing in proportion to its size runs on
 * the event thread (issue 11). */
struct parse_work {
	struct pool_work work;
	struct conn *conn;
	const struct sbk_config *cfg; /* held until parse_complete */
	char *line;
	size_t len;
	uint64_t received_ns; /* the line was complete: deadlines count here */
	json_t *root;	      /* a batch, for the event thread; else NULL */
	bool unparsable;      /* not JSON: answer err (parse_failed) */
	bool admit;    /* one request: admit job (NULL: err), else answer err */
	char *id_json; /* its id (admit: NULL is a notification) */
	struct job *job;
	struct rpc_error err;
};

/* The dispatch a connection's lines go to (its set's ops argument). */
static struct dispatch *
dsp(const struct conn *c)
{
	return c->set->arg;
}

/*
 * Queue a reply line (taken over) into the batch, or else on the
 * connection, holding charge bytes of the output budget until written.
 * NULL (out of memory): the client would wait for ever; close instead.
 */
static void
send_line(struct conn *c, struct batch *b, char *line, size_t len,
    unsigned long charge)
{
	if (line == NULL)
		conn_close(c, "out of memory: a reply was lost");
	else if (b != NULL)
		batch_add_charged(b, line, len, charge);
	else
		conn_send_charged(c, line, len, charge);
}

/* Answer a request that never became a job (an envelope, method or params
 * error; id_json NULL: a notification, never answered): err is cleared. */
static void
send_error(
    struct conn *c, struct batch *b, const char *id_json, struct rpc_error *err)
{
	size_t len = 0;
	char *line;

	if (id_json != NULL) {
		line = rpc_format_error(id_json, err, &len);
		send_line(c, b, line, len, 0);
	}
	rpc_error_clear(err);
}

/* Give back the output a job reserved: its owner's part, and the
 * daemon-wide part but for out_kept (its reply's, given back when written). */
static void
release_output(struct job *job)
{
	struct sched_item *it = &job->work.item;

	if (!it->charged || it->out_cost == 0 || job->conn == NULL)
		return;
	it->charged = false;
	conn_report_output(job->conn); /* the reply is unsent output now */
	pool_release_output(dsp(job->conn)->pool, it->owner, it->out_cost,
	    it->out_cost - job->out_kept);
}

/* Free a job that was never admitted (any thread; holds no config). */
static void
job_discard(struct job *job)
{
	if (job->kind != NULL && job->kind->free != NULL)
		job->kind->free(job);
	json_decref(job->params);
	if (job->id_json != job->id_buf)
		free(job->id_json);
	free(job->reply);
	free(job);
}

/* Free a finished job, once no worker holds it. */
static void
dispatch_job_free(struct job *job)
{
	release_output(job);
	if (job->conn != NULL)
		conn_job_detach(job->conn, job);
	/* A retired config lives while a job admitted under it does. */
	config_release(job->config);
	job_discard(job);
}

static const char *const outcome_names[STATS_REJECTED + 1] = {
	[STATS_COMPLETED] = "ok",
	[STATS_FAILED] = "error",
	[STATS_CANCELLED] = "cancelled",
	[STATS_TIMED_OUT] = "timed_out",
	[STATS_DROPPED] = "dropped",
	[STATS_SHUTDOWN] = "shutdown",
	[STATS_REJECTED] = "rejected",
};

/* log_jobs: one access-log line per request, when it is answered. */
static void
log_job(const struct job *job, const struct conn *c, enum stats_outcome outcome)
{
	uint64_t now = clock_now_ns(), wait, run = 0;

	if (!(*dsp(c)->cfg)->log_jobs)
		return;
	if (job->started_ns != 0) {
		wait = job->started_ns - job->received_ns;
		run = (job->ended_ns ? job->ended_ns : now) - job->started_ns;
	} else {
		wait = now - job->received_ns;
	}
	log_peer(LOG_KIND_JOB, (long)c->uid, LOG_INFO,
	    "job method=%s uid=%ld pid=%ld wait_us=%llu run_us=%llu "
	    "outcome=%s",
	    job->kind->method, (long)c->uid, (long)c->pid,
	    (unsigned long long)(wait / 1000), (unsigned long long)(run / 1000),
	    outcome_names[outcome]);
}

/*
 * The reply line of a job ending with outcome (NULL: out of memory): a
 * stop's error, or the line made for the job (job->reply; left alone
 * while a worker may still write it: held), or else -32603.
 */
static char *
reply_of(struct job *job, enum stats_outcome outcome, bool held, size_t *lenp)
{
	static const int stop_code[STATS_REJECTED + 1] = {
		[STATS_CANCELLED] = RPC_CANCELLED,
		[STATS_TIMED_OUT] = RPC_DEADLINE,
		[STATS_SHUTDOWN] = RPC_SHUTTING_DOWN,
	};
	struct sched_item *it = &job->work.item;
	struct rpc_error err = { 0 };
	int code = stop_code[outcome];
	char *line = job->reply;

	if (code == 0 && !held && line != NULL) {
		*lenp = job->reply_len;
		job->reply = NULL;
		/* The reply holds up to the output it reserved until it is
		 * written; the rest goes back when the job is freed. */
		if (it->charged)
			job->out_kept =
			    *lenp < it->out_cost ? *lenp : it->out_cost;
		return line;
	}
	rpc_error_set(&err, code != 0 ? code : RPC_INTERNAL_ERROR, NULL, NULL);
	line = rpc_format_error(job->id_json, &err, lenp);
	rpc_error_clear(&err);
	return line;
}

/*
 * Every ending of a job comes here, exactly once (job.h's state machine
 * aborts on a second): stats, access log, reply or none.  held: the pool
 * still holds the job (ended early); it becomes ABANDONED and
 * job_work_complete frees it.  Otherwise it is freed here.
 */
static void
job_finish(struct job *job, enum stats_outcome outcome, bool held)
{
	struct conn *c = job->conn;
	bool admitted = job_set_finished(job, held) != JOB_PARSED;
	size_t len = 0;
	char *line;

	loop_event_free(job->timer);
	job->timer = NULL;
	if (admitted) {
		if (job->id_json != NULL && job->hh.tbl != NULL)
			HASH_DEL(c->ids, job);
		c->inflight--;
	}
	if (stats_job_end(dsp(c)->stats, job->kind, outcome, admitted,
		clock_now_ns() - job->received_ns))
		log_job(job, c, outcome);

	if (outcome != STATS_DROPPED && job->id_json != NULL &&
	    !conn_closed(c)) {
		line = reply_of(job, outcome, held, &len);
		send_line(c, job->batch, line, len, job->out_kept);
	}
	if (job->batch != NULL) {
		batch_release(job->batch);
		job->batch = NULL;
	}
	if (!admitted)
		job->conn = NULL; /* borrowed */
	if (!held)
		dispatch_job_free(job);
}

/*
 * End a job early: one still waiting is taken out of the queue; one a
 * worker has is left to it, ABANDONED (it stops at its next checkpoint).
 */
static void
job_stop(struct job *job, enum stats_outcome outcome)
{
	job_finish(
	    job, outcome, !pool_cancel(dsp(job->conn)->pool, &job->work));
}

/* The reply line of a result, or else of err (any thread). */
static void
make_reply(struct job *job, const json_t *result, struct rpc_error *err)
{
	if (job->id_json != NULL && result != NULL)
		job->reply =
		    rpc_format_result(job->id_json, result, &job->reply_len);
	else if (job->id_json != NULL)
		job->reply =
		    rpc_format_error(job->id_json, err, &job->reply_len);
}

/* A result ready after the deadline is never a success. */
static bool
job_late(const struct job *job, uint64_t t)
{
	return job->deadline_ns != 0 && t >= job->deadline_ns;
}

/*
 * Run the kind, timed (started_ns, ended_ns: the access log's wait and
 * run), on a worker or inline: its result, or NULL with err set.
 */
static json_t *
run_timed(struct job *job, struct rpc_error *err)
{
	json_t *result;

	job->started_ns = clock_now_ns();
	result = job->kind->run(job, err);
	job->ended_ns = clock_now_ns();
	if (result == NULL && err->code == 0)
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, NULL);
	job->error_code = result != NULL ? 0 : err->code;
	return result;
}

/* Worker: run the kind and format the reply there, off the event thread. */
static void
job_run_kind(struct job *job)
{
	struct rpc_error err = { 0 };
	json_t *result = run_timed(job, &err);

	/* A late or abandoned result is never sent: not formatted either. */
	if (!job_late(job, job->ended_ns) && job_state(job) != JOB_ABANDONED)
		make_reply(job, result, &err);
	json_decref(result);
	rpc_error_clear(&err);
	/*
	 * Done with a big line's params: free them here, so the event thread
	 * never frees a payload, unless the request's JSON shares them (freed
	 * there) or the kind's free hook still wants them (to wipe secrets).
	 * A short line's params are the event thread's allocations and are
	 * freed there: freed here, every cheap job took the allocator's lock
	 * of the event thread's arena, and that contention cost spin-0 work
	 * a quarter of its rate (docs/BENCHMARKS.md, "Session 7").
	 */
	if (job->params_big && !job->params_shared && job->kind->free == NULL) {
		json_decref(job->params);
		job->params = NULL;
	}
}

static void
job_work_run(struct pool_work *work)
{
	struct job *job = (struct job *)work;

	if (!job_try_run(job)) {
		work->cls = 0; /* finished early: never run */
		return;
	}
	if (!job_should_stop(job)) /* not past its deadline already */
		job_run_kind(job);
	else
		work->cls = 0;
	job_set_done(job);
}

/* Event thread: the pool hands a job back (DONE, or ABANDONED). */
static void
job_work_complete(struct pool_work *work)
{
	struct job *job = (struct job *)work;
	struct conn *c = job->conn;
	struct dispatch *d = dsp(c);
	uint64_t ended = job->ended_ns;

	if (ended != 0) /* a moving average, for retry_after_ms */
		d->recent_job_ns =
		    (d->recent_job_ns * 7 + (ended - job->started_ns)) / 8;
	conn_ref(c);
	if (job_state(job) == JOB_ABANDONED) /* finished early */
		dispatch_job_free(job);
	else if (job_late(job, ended != 0 ? ended : clock_now_ns()))
		job_finish(job, STATS_TIMED_OUT, false);
	else if (job->error_code != 0 || (!job->reply && job->id_json))
		job_finish(job, STATS_FAILED, false); /* none made: -32603 */
	else
		job_finish(job, STATS_COMPLETED, false);
	conn_resume(c);
	conn_unref(c);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;
	struct conn *c = job->conn;
	struct conn_set *set = c->set;

	/* Done: its completion, on its way, tells in time from late. */
	if (job_state(job) == JOB_DONE)
		return;
	conn_ref(c);
	job_stop(job, STATS_TIMED_OUT);
	conn_resume(c);
	conn_unref(c);
	conn_flush_dirty(set);
}

bool
dispatch_cancel(struct conn *c, const json_t *id)
{
	struct job *job;
	char *key = rpc_id_dump(id);

	if (key == NULL)
		return false;
	HASH_FIND(hh, c->ids, key, strlen(key), job);
	free(key);
	/* Unknown, or its reply is already on its way. */
	if (job == NULL || job_state(job) == JOB_DONE)
		return false;
	job_stop(job, STATS_CANCELLED);
	return true;
}

/* End every job of a connection not finished yet. */
static void
stop_all(struct conn *c, enum stats_outcome outcome)
{
	struct job *job, *next;

	conn_ref(c);
	for (job = c->jobs; job != NULL; job = next) {
		next = job->conn_next;
		if (!job_is_finished(job))
			job_stop(job, outcome);
	}
	conn_unref(c);
}

/* The connection set's gone callback. */
static void
dispatch_conn_gone(struct conn *c, void *arg)
{
	stop_all(c, STATS_DROPPED);
}

void
dispatch_abort_all(struct dispatch *d)
{
	struct conn *c;

	TAILQ_FOREACH(c, &d->conns->all, link)
		stop_all(c, STATS_SHUTDOWN);
}

/* -32000's retry_after_ms: a hint from the pool's recent job times. */
static uint64_t
overload_ms(struct dispatch *d)
{
	struct pool_stats ps;
	unsigned workers;
	uint64_t ms;

	pool_get_stats(d->pool, &ps);
	workers = ps.size[LANE_CPU] + ps.size[LANE_IO];
	ms = d->recent_job_ns / 1000000 * (ps.depth + 1) /
	    (workers ? workers : 1);
	return ms < 1 ? 1 : ms > 60000 ? 60000 : ms;
}

/* Does this id already stand earlier in the same batch? */
static bool
batch_seen(char **seen, size_t n, const char *id_json)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(seen[i], id_json) == 0)
			return true;
	return false;
}

/*
 * The part of a request that needs no connection: kind, params, the
 * kind's parse.  Any thread: it reads only cfg (kept alive by the caller,
 * no reference taken).  params: taken over.  The job, or NULL with err.
 */
static struct job *
prepare_job(const struct sbk_config *cfg, const char *id_json,
    const char *method, size_t method_len, json_t *params, bool shared,
    uint64_t received_ns, struct rpc_error *err)
{
	const struct job_kind *kind;
	const json_t *tmo, *prg;
	long long timeout_ms;
	struct job *job;
	bool progress;

	kind = job_kind_find(method, method_len);
	if (kind == NULL ||
	    ((kind->flags & JOB_KIND_TEST) && !cfg->enable_test_methods)) {
		rpc_error_set(err, RPC_METHOD_NOT_FOUND, NULL,
		    "method not found: %.100s", method);
		goto fail;
	}
	/* Many JSON-RPC libraries always send an array: [] means none. */
	if (params != NULL && json_is_array(params) &&
	    json_array_size(params) == 0 &&
	    (kind->flags & JOB_KIND_NO_PARAMS)) {
		json_decref(params);
		params = NULL;
		shared = false;
	}
	if (params != NULL && !json_is_object(params)) {
		if (kind->flags & JOB_KIND_NO_PARAMS)
			rpc_error_param(err, "params",
			    "%s takes no params: absent, {} or []",
			    kind->method);
		else
			rpc_error_param(
			    err, "params", "params must be an object");
		goto fail;
	}
	job_params_common(params, &tmo, &prg);
	if (job_value_int(tmo, "timeout_ms", 0, 1, TIMEOUT_MS_MAX, &timeout_ms,
		err) < 0 ||
	    job_value_bool(prg, "progress", false, &progress, err) < 0)
		goto fail;

	/* One allocation: a short id lives in the job. */
	job = calloc(1, sizeof(*job));
	if (job != NULL && id_json != NULL) {
		size_t n = strlen(id_json) + 1;

		job->id_json = n <= sizeof(job->id_buf) ?
		    memcpy(job->id_buf, id_json, n) :
		    strdup(id_json);
		if (job->id_json == NULL) {
			free(job);
			job = NULL;
		}
	}
	if (job == NULL) {
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
		goto fail;
	}
	job->kind = kind;
	job->config = cfg;
	job->params = params;
	job->params_shared = shared;
	job->want_progress = progress;
	job->received_ns = received_ns;
	if (timeout_ms > 0)
		job->deadline_ns = received_ns + (uint64_t)timeout_ms * 1000000;
	if (kind->parse != NULL &&
	    kind->parse(job, job->params, cfg, err) < 0) {
		job_discard(job);
		return NULL;
	}
	return job;

fail:
	json_decref(params);
	return NULL;
}

/* Event thread: run a LANE_EVENT kind (ping, stats, job.cancel, admin.*). */
static void
run_inline(struct job *job)
{
	struct rpc_error err = { 0 };
	json_t *result = run_timed(job, &err);
	bool ok = result != NULL;

	make_reply(job, result, &err);
	json_decref(result);
	rpc_error_clear(&err);
	job_finish(job, ok ? STATS_COMPLETED : STATS_FAILED, false);
}

/* Arm the deadline timer, counted from receipt (a big line's parse took
 * some of it). */
static void
start_deadline(struct job *job)
{
	uint64_t now = clock_now_ns();
	uint64_t left = job->deadline_ns > now ? job->deadline_ns - now : 0;
	struct timeval tv;

	tv.tv_sec = (time_t)(left / 1000000000);
	tv.tv_usec = (suseconds_t)(left % 1000000000 / 1000);
	job->timer =
	    loop_event_new(dsp(job->conn)->loop, -1, 0, deadline_cb, job);
	if (job->timer != NULL)
		evtimer_add(job->timer, &tv);
}

/*
 * Admit a prepared job (taken over; NULL: answer *perr) on its connection,
 * after the duplicate-id check (envelope errors rank first).  seen/nseen:
 * the ids of this batch so far (NULL outside one), appended to here.
 */
static void
admit_job(struct conn *c, struct batch *b, char **seen, size_t *nseen,
    const char *id_json, struct job *job, struct rpc_error *perr)
{
	struct dispatch *d = dsp(c);
	struct rpc_error err = { 0 };
	size_t id_len = id_json != NULL ? strlen(id_json) : 0;
	struct job *dup;
	unsigned hashv = 0;
	int rc;

	if (id_json != NULL) {
		/* Hashed once for the lookup and the insertion below. */
		HASH_VALUE(id_json, id_len, hashv);
		HASH_FIND_BYHASHVALUE(hh, c->ids, id_json, id_len, hashv, dup);
		if (dup != NULL ||
		    (seen != NULL && batch_seen(seen, *nseen, id_json))) {
			if (job != NULL)
				job_discard(job);
			job = NULL;
			rpc_error_clear(perr);
			rpc_error_set(perr, RPC_INVALID_REQUEST, NULL,
			    "duplicate id: a request with this id is in "
			    "flight");
		} else if (seen != NULL &&
		    (seen[*nseen] = strdup(id_json)) != NULL) {
			(*nseen)++;
		}
	}
	if (job == NULL) {
		send_error(c, b, id_json, perr);
		return;
	}
	/* From here the job holds its config, and ends in job_finish. */
	config_hold(job->config);
	job->disp = d;
	job->conn = c; /* borrowed while PARSED */
	if (b != NULL) {
		job->batch = b;
		batch_hold(b);
	}
	if (job->kind->lane == LANE_EVENT && !d->conns->draining) {
		run_inline(job);
		return;
	}
	job->work.item.owner = &c->owner;
	job->work.item.lane = job->kind->lane;
	job->work.item.gate = job_pool_gate(job->kind->gate);
	/* A reply bigger than the whole budget runs alone. */
	if (job->work.item.out_cost > job->config->output_budget_bytes)
		job->work.item.out_cost = job->config->output_budget_bytes;
	job->work.run = job_work_run;
	job->work.complete = job_work_complete;
	job->work.cls = job_kind_class(job->kind);
	rc = d->conns->draining ? -ESHUTDOWN : job_submit(job, d->pool);
	if (rc == -EAGAIN) {
		rpc_error_set(&err, RPC_OVERLOADED,
		    json_pack(
			"{s:I}", "retry_after_ms", (json_int_t)overload_ms(d)),
		    "overloaded: the queue is full");
		make_reply(job, NULL, &err);
		rpc_error_clear(&err);
	}
	if (rc < 0) {
		job_finish(job, rc == -EAGAIN ? STATS_REJECTED : STATS_SHUTDOWN,
		    false);
		return;
	}

	d->stats->accepted++;
	conn_job_attach(c, job); /* a counted reference from now on */
	c->inflight++;
	/* Out of memory in uthash leaves the job out of c->ids (hh.tbl
	 * NULL): it runs; only the duplicate check and job.cancel miss it. */
	if (job->id_json != NULL)
		HASH_ADD_KEYPTR_BYHASHVALUE(
		    hh, c->ids, job->id_json, id_len, hashv, job);
	if (job->deadline_ns != 0)
		start_deadline(job);
}

/* One request whose envelope is valid.  id_json: rpc_id_dump's text (NULL:
 * a notification).  params: a reference taken over (NULL: absent); shared
 * when the request's JSON holds another. */
static void
dispatch_request(struct conn *c, struct batch *b, char **seen, size_t *nseen,
    const char *id_json, const char *method, size_t method_len, json_t *params,
    bool shared, uint64_t received_ns)
{
	struct rpc_error err = { 0 };
	struct job *job;

	job = prepare_job(*dsp(c)->cfg, id_json, method, method_len, params,
	    shared, received_ns, &err);
	admit_job(c, b, seen, nseen, id_json, job, &err);
	rpc_error_clear(&err);
}

/*
 * The envelope of a request object (any thread): true with *id_json its
 * id's text (NULL: a notification), or false with err set and *id_json
 * the id to answer with (NULL: null).
 */
static bool
request_envelope(const json_t *msg, struct rpc_request *req, char **id_json,
    struct rpc_error *err)
{
	const json_t *err_id;

	*id_json = NULL;
	if (!rpc_request_parse(msg, req, &err_id, err)) {
		*id_json = rpc_id_dump(err_id);
		return false;
	}
	if (req->id != NULL && (*id_json = rpc_id_dump(req->id)) == NULL) {
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, NULL);
		return false;
	}
	return true;
}

/* One request object, as JSON (a batch member, or a line off the fast path). */
static void
dispatch_one(struct conn *c, const json_t *msg, struct batch *b, char **seen,
    size_t *nseen, uint64_t received_ns)
{
	struct rpc_request req;
	struct rpc_error err = { 0 };
	char *id_json;

	if (!request_envelope(msg, &req, &id_json, &err))
		send_error(c, b, id_json ? id_json : "null", &err);
	else
		dispatch_request(c, b, seen, nseen, id_json, req.method,
		    req.method_len, json_incref((json_t *)req.params), true,
		    received_ns);
	free(id_json);
}

static void
dispatch_batch(struct conn *c, json_t *root, uint64_t received_ns)
{
	struct rpc_error err = { 0 };
	size_t n = json_array_size(root), nseen = 0;
	unsigned max = (*dsp(c)->cfg)->max_inflight_per_conn;
	struct batch *b = NULL;
	char **seen = NULL;

	if (n == 0)
		rpc_error_set(&err, RPC_INVALID_REQUEST, NULL, "empty batch");
	else if (n > max)
		rpc_error_limit(&err, RPC_INVALID_REQUEST, max,
		    "batch of %zu requests is over max_inflight_per_conn", n);
	else if ((b = batch_new(c)) == NULL ||
	    (seen = calloc(n, sizeof(*seen))) == NULL)
		rpc_error_set(&err, RPC_INTERNAL_ERROR, NULL, "out of memory");
	if (err.code != 0) {
		send_error(c, NULL, "null", &err);
		if (b != NULL)
			batch_release(b);
		return;
	}
	for (size_t i = 0; i < n; i++)
		dispatch_one(
		    c, json_array_get(root, i), b, seen, &nseen, received_ns);
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	batch_release(b);
}

static void
dispatch_message(struct conn *c, json_t *root, uint64_t received_ns)
{
	if (json_is_array(root))
		dispatch_batch(c, root, received_ns);
	else
		dispatch_one(c, root, NULL, NULL, NULL, received_ns);
}

/*
 * A line that is not JSON, parsed on either path: its debug entry, then
 * err's answer (id null).  Never the line's bytes (a password?): the
 * parser's message holds only what and where (a byte offset).
 */
static void
parse_failed(struct conn *c, size_t len, struct rpc_error *err)
{
	log_peer(LOG_KIND_GARBAGE, (long)c->uid, LOG_DEBUG,
	    "conn %llu: unparsable line of %zu bytes: %s",
	    (unsigned long long)c->serial, len, err->message);
	send_error(c, NULL, "null", err);
}

/* Parser lane: parse the line and, for one request, prepare its job. */
static void
parse_run(struct pool_work *work)
{
	struct parse_work *pw = (struct parse_work *)work;
	struct rpc_request req;
	json_t *root;

	root = rpc_parse_line(pw->line, pw->len, &pw->err);
	explicit_bzero(pw->line, pw->len);
	free(pw->line);
	pw->line = NULL;
	if (root == NULL || json_is_array(root)) {
		pw->unparsable = root == NULL;
		pw->root = root; /* a batch: members go one by one */
		return;
	}
	if (request_envelope(root, &req, &pw->id_json, &pw->err)) {
		/* The job keeps params alone: the rest is freed here. */
		pw->admit = true;
		pw->job = prepare_job(pw->cfg, pw->id_json, req.method,
		    req.method_len, json_incref((json_t *)req.params), false,
		    pw->received_ns, &pw->err);
		if (pw->job != NULL)
			pw->job->params_big = true;
	}
	json_decref(root);
}

/* Parser lane: free a batch's JSON after the event thread used it. */
static void
free_root_run(struct pool_work *work)
{
	struct parse_work *pw = (struct parse_work *)work;

	json_decref(pw->root);
}

static void
free_root_complete(struct pool_work *work)
{
	struct parse_work *pw = (struct parse_work *)work;

	conn_unref(pw->conn);
	free(pw);
}

static void
parse_complete(struct pool_work *work)
{
	struct parse_work *pw = (struct parse_work *)work;
	struct conn *c = pw->conn;
	struct dispatch *d = dsp(c);

	if (conn_closed(c)) {
		if (pw->job != NULL)
			job_discard(pw->job);
	} else if (pw->root != NULL) {
		dispatch_message(c, pw->root, pw->received_ns);
	} else if (pw->admit) {
		admit_job(c, NULL, NULL, NULL, pw->id_json, pw->job, &pw->err);
	} else if (pw->unparsable) {
		parse_failed(c, pw->len, &pw->err);
	} else {
		send_error(
		    c, NULL, pw->id_json ? pw->id_json : "null", &pw->err);
	}
	rpc_error_clear(&pw->err);
	free(pw->id_json);
	config_release(pw->cfg);
	conn_line_done(c);
	if (pw->root != NULL) {
		/* A batch's JSON: freed off the event thread too. */
		pw->work.run = free_root_run;
		pw->work.complete = free_root_complete;
		pool_submit(d->pool, &pw->work);
		return;
	}
	free(pw);
	conn_unref(c);
}

/* The connection set's line callback: one complete request line. */
static enum conn_take
dispatch_line(struct conn *c, const char *line, size_t len, void *arg)
{
	struct dispatch *d = arg;
	struct rpc_error err = { 0 };
	struct rpc_scan rq;
	json_t *root;

	/*
	 * A big line goes to the parser lane so the event thread never
	 * spends time in proportion to a payload.  The connection goes on
	 * with its later lines meanwhile (a ping is never held behind it);
	 * only a second big line waits until this one is done.
	 */
	if (len > INLINE_PARSE_MAX && !d->conns->draining) {
		struct parse_work *pw;

		if (c->handed)
			return CONN_NOT_NOW;
		pw = calloc(1, sizeof(*pw));
		if (pw != NULL && (pw->line = malloc(len)) != NULL) {
			memcpy(pw->line, line, len);
			pw->len = len;
			pw->conn = c;
			pw->cfg = config_hold(*d->cfg);
			pw->received_ns = clock_now_ns();
			pw->work.item.owner = &d->parse_owner;
			pw->work.item.lane = LANE_PARSE;
			pw->work.item.gate = POOL_GATE_NONE;
			pw->work.run = parse_run;
			pw->work.complete = parse_complete;
			conn_ref(c);
			pool_submit(d->pool, &pw->work);
			return CONN_HANDED;
		}
		free(pw);
		/* Out of memory: parse here rather than fail the request. */
	}

	/* The usual request goes from its text to the job; anything else
	 * (batches, errors, escapes) is parsed as JSON. */
	if (rpc_request_scan(line, len, &rq)) {
		dispatch_request(c, NULL, NULL, NULL,
		    rq.id_len > 0 ? rq.id : NULL, rq.method, rq.method_len,
		    rq.params, false, clock_now_ns());
		return CONN_TAKEN;
	}
	root = rpc_parse_line(line, len, &err);
	if (root == NULL) {
		parse_failed(c, len, &err);
		return CONN_TAKEN;
	}
	dispatch_message(c, root, clock_now_ns());
	json_decref(root);
	return CONN_TAKEN;
}

const struct conn_ops dispatch_conn_ops = {
	.line = dispatch_line,
	.gone = dispatch_conn_gone,
};

void
dispatch_collect_cb(struct pool_msg *m, void *arg)
{
	struct pool_work *work = m->work;

	if (m->bytes == NULL) {
		work->complete(work);
		return;
	}
	/* Progress of a job: only while it still has a client to tell. */
	struct job *job = (struct job *)work;

	if (!job_is_finished(job) && !conn_closed(job->conn))
		conn_send_owned(job->conn, m->bytes, m->len);
	else
		free(m->bytes);
}
