/*
 * dispatch.c - from request lines to replies; see dispatch.h.
 *
 * Error precedence (contract 1.1): framing, envelope (incl. duplicate id),
 * method, params, admission.  Envelope-valid notifications are never
 * answered; envelope-invalid objects always are (id null, or their id).
 *
 * A job is "answered" once its reply (or error) is queued or it was
 * dropped: that frees its id and its in-flight slot.  A running job that
 * was answered early (deadline, cancel, shutdown) stays linked to its
 * connection until the worker hands it back, and its result is discarded.
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
#include "server.h"

/* Upper bound of timeout_ms: 30 days, far from any overflow. */
#define TIMEOUT_MS_MAX (30LL * 24 * 3600 * 1000)

/*
 * A big request line handled on the parser lane: parsed, and when it is
 * one request, prepared into a job (kind lookup, params checks, the
 * kind's parse) and its JSON freed there, so nothing in proportion to
 * the line's size runs on the event thread (issue 11).
 */
struct parse_work {
	struct pool_work work;
	struct conn *conn;
	const struct sbk_config *cfg; /* held until parse_complete */
	char *line;
	size_t len;
	uint64_t received_ns; /* the line was complete: deadlines count here */
	json_t *root;	      /* a batch, for the event thread; else NULL */
	bool parsed;	      /* root, or one request below, or err */
	char *id_json;	      /* one request: its id (NULL: notification) */
	struct job *job;      /* one request, prepared; NULL: err applies */
	struct rpc_error err;
};

static void dispatch_message(struct conn *, json_t *, uint64_t received_ns);

/* Queue a reply line for a job or a non-job request. */
static void
send_line(struct conn *c, struct batch *b, char *line, size_t len)
{
	/*
	 * A reply that could not be formatted (out of memory): the client
	 * would wait for it for ever, so close the connection instead.
	 */
	if (line == NULL) {
		conn_close(c, "out of memory: a reply was lost");
		return;
	}
	if (b != NULL) {
		batch_add(b, line, len);
	} else {
		conn_send_owned(c, line, len);
	}
}

static void
send_error(
    struct conn *c, struct batch *b, const char *id_json, struct rpc_error *err)
{
	size_t len = 0;
	char *line;

	/* No id text: a valid notification, never answered. */
	if (id_json != NULL) {
		line = rpc_format_error(id_json, err, &len);
		send_line(c, b, line, len);
	}
	rpc_error_clear(err);
}

/*
 * Give back the output a job reserved: its owner's part now (the job is
 * over), and the daemon-wide part except the bytes its reply still holds
 * in a buffer (out_kept, given back when written).
 */
static void
release_output(struct job *job)
{
	struct sched_item *it = &job->work.item;

	if (!it->charged || it->out_cost == 0 || job->conn == NULL)
		return;
	it->charged = false;
	conn_report_output(job->conn); /* the reply is unsent output now */
	pool_release_output(job->conn->server->pool, it->owner, it->out_cost,
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

void
dispatch_job_free(struct job *job)
{
	release_output(job);
	loop_event_free(job->timer);
	if (job->conn != NULL)
		conn_job_detach(job->conn, job);
	/* A retired config lives while a job admitted under it does. */
	config_release(job->config);
	job_discard(job);
}

static enum stats_outcome
outcome_of(int code)
{
	switch (code) {
	case 0:
		return STATS_COMPLETED;
	case RPC_CANCELLED:
		return STATS_CANCELLED;
	case RPC_DEADLINE:
		return STATS_TIMED_OUT;
	case RPC_SHUTTING_DOWN:
		return STATS_SHUTDOWN;
	default:
		return STATS_FAILED;
	}
}

static const char *const outcome_names[STATS_OUTCOMES] = {
	[STATS_COMPLETED] = "ok",
	[STATS_FAILED] = "error",
	[STATS_CANCELLED] = "cancelled",
	[STATS_TIMED_OUT] = "timed_out",
	[STATS_DROPPED] = "dropped",
	[STATS_SHUTDOWN] = "shutdown",
};

/* log_jobs: one access-log line per request, when it is answered. */
static void
log_job(const struct job *job, const struct conn *c, enum stats_outcome outcome)
{
	uint64_t now = clock_now_ns(), wait, run = 0;

	if (!c->server->cfg->log_jobs)
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
 * Mark a job answered: free its id and in-flight slot, stop its timer and
 * send line (owned; NULL for no reply), into its batch if it has one.
 */
static void
answer(struct job *job, char *line, size_t len, enum stats_outcome outcome)
{
	struct conn *c = job->conn;
	struct server *s = c->server;

	job->answered = true;
	loop_event_free(job->timer);
	job->timer = NULL;
	if (job->id_json != NULL && job->hh.tbl != NULL)
		HASH_DEL(c->ids, job);
	c->inflight--;
	stats_job_end(
	    &s->stats, job->kind, outcome, clock_now_ns() - job->received_ns);
	log_job(job, c, outcome);

	if (job->id_json == NULL || c->closed) {
		free(line);
		line = NULL;
	} else if (line == NULL && outcome != STATS_DROPPED) {
		/* Out of memory formatting it: as in send_line. */
		conn_close(c, "out of memory: a reply was lost");
	}
	if (line == NULL)
		job->out_kept = 0;
	if (job->batch != NULL) {
		if (line != NULL)
			batch_add_charged(job->batch, line, len, job->out_kept);
		batch_release(job->batch);
		job->batch = NULL;
	} else if (line != NULL && job->out_kept > 0) {
		conn_send_charged(c, line, len, job->out_kept);
	} else if (line != NULL) {
		conn_send_owned(c, line, len);
	}
}

static void
answer_error(struct job *job, int code)
{
	struct rpc_error err = { 0 };
	size_t len = 0;
	char *line = NULL;

	rpc_error_set(&err, code, NULL, NULL);
	if (job->id_json != NULL)
		line = rpc_format_error(job->id_json, &err, &len);
	rpc_error_clear(&err);
	answer(job, line, len, outcome_of(code));
}

static int
stop_code(int stop)
{
	switch (stop) {
	case JOB_STOP_CANCEL:
		return RPC_CANCELLED;
	case JOB_STOP_DEADLINE:
		return RPC_DEADLINE;
	default:
		return RPC_SHUTTING_DOWN;
	}
}

/*
 * Stop a job that is not answered yet, answering it with code (0: drop
 * without a reply).  A waiting job is taken out of the queue and freed; a
 * running one is flagged and freed when its worker hands it back.
 */
static void
stop_job(struct job *job, int stop, int code)
{
	struct server *s = job->conn->server;
	int none = JOB_STOP_NONE;

	atomic_compare_exchange_strong(&job->stop, &none, stop);
	if (code != 0)
		answer_error(job, code);
	else
		answer(job, NULL, 0, STATS_DROPPED);
	if (pool_cancel(s->pool, &job->work)) {
		s->jobs_in_pool--;
		dispatch_job_free(job);
	}
}

/* Worker: run the kind and format the reply there, off the event thread. */
static void
job_work_run(struct pool_work *work)
{
	struct job *job = (struct job *)work;
	struct rpc_error err = { 0 };
	json_t *result;

	if (job_should_stop(job))
		return; /* never started: past deadline, or stopped */
	job->started_ns = clock_now_ns();
	result = job->kind->run(job, &err);
	job->ended_ns = clock_now_ns();
	if (result == NULL && err.code == 0)
		rpc_error_set(&err, RPC_INTERNAL_ERROR, NULL, NULL);
	job->error_code = result != NULL ? 0 : err.code;
	if (job->id_json != NULL && !job_should_stop(job)) {
		if (result != NULL)
			job->reply = rpc_format_result(
			    job->id_json, result, &job->reply_len);
		else
			job->reply = rpc_format_error(
			    job->id_json, &err, &job->reply_len);
	}
	json_decref(result);
	rpc_error_clear(&err);
	/*
	 * Done with the params: free them here rather than on the event
	 * thread, unless the request's JSON shares them (freed there) or the
	 * kind's free hook still wants them (to wipe secrets).
	 */
	if (!job->params_shared && job->kind->free == NULL) {
		json_decref(job->params);
		job->params = NULL;
	}
}

/* Event thread: a job came back from its worker. */
static void
job_work_complete(struct pool_work *work)
{
	struct job *job = (struct job *)work;
	struct conn *c = job->conn;
	struct server *s = c->server;

	s->jobs_in_pool--;
	if (job->ended_ns != 0) /* a moving average, for retry_after_ms */
		s->recent_job_ns =
		    (s->recent_job_ns * 7 + (job->ended_ns - job->started_ns)) /
		    8;
	if (!job->answered) {
		int stop = atomic_load(&job->stop);
		uint64_t ended = job->ended_ns ? job->ended_ns : clock_now_ns();

		/* A result ready after the deadline is never a success. */
		if (stop == JOB_STOP_NONE && job->deadline_ns != 0 &&
		    ended >= job->deadline_ns)
			stop = JOB_STOP_DEADLINE;
		if (stop != JOB_STOP_NONE) {
			answer_error(job, stop_code(stop));
		} else if (job->reply == NULL && job->id_json != NULL) {
			answer_error(job, RPC_INTERNAL_ERROR);
		} else {
			/*
			 * The reply holds up to the output it reserved until
			 * it is written; the rest goes back at once.
			 */
			if (job->work.item.charged)
				job->out_kept =
				    job->reply_len < job->work.item.out_cost ?
				    job->reply_len :
				    job->work.item.out_cost;
			answer(job, job->reply, job->reply_len,
			    outcome_of(job->error_code));
			job->reply = NULL;
		}
	}
	conn_ref(c);
	dispatch_job_free(job);
	conn_resume(c);
	conn_unref(c);
	if (s->state != SERVER_RUNNING)
		server_check_drained(s);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;
	struct server *s = job->conn->server;

	/* Done in time, completion on its way: let it answer. */
	if (atomic_load(&job->work.state) == POOL_WORK_DONE &&
	    job->ended_ns != 0 && job->ended_ns < job->deadline_ns &&
	    atomic_load(&job->stop) == JOB_STOP_NONE)
		return;
	if (!job->answered) {
		struct conn *c = job->conn;

		conn_ref(c);
		stop_job(job, JOB_STOP_DEADLINE, RPC_DEADLINE);
		conn_resume(c);
		conn_unref(c);
	}
	conn_flush_dirty(s);
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
	if (job == NULL || atomic_load(&job->work.state) == POOL_WORK_DONE)
		return false;
	stop_job(job, JOB_STOP_CANCEL, RPC_CANCELLED);
	return true;
}

void
dispatch_conn_gone(struct conn *c)
{
	struct job *job, *next;

	for (job = c->jobs; job != NULL; job = next) {
		next = job->conn_next;
		if (!job->answered)
			stop_job(job, JOB_STOP_GONE, 0);
		else
			atomic_store(&job->stop, JOB_STOP_GONE);
	}
}

void
dispatch_abort_all(struct server *s)
{
	struct conn *c;

	TAILQ_FOREACH(c, &s->conns, link) {
		struct job *job, *next;

		conn_ref(c);
		for (job = c->jobs; job != NULL; job = next) {
			next = job->conn_next;
			if (!job->answered)
				stop_job(
				    job, JOB_STOP_SHUTDOWN, RPC_SHUTTING_DOWN);
		}
		conn_unref(c);
	}
}

/* -32000's retry_after_ms: a hint from the pool's recent job times. */
static uint64_t
overload_ms(struct server *s)
{
	struct pool_stats ps;
	unsigned workers;
	uint64_t ms;

	pool_get_stats(s->pool, &ps);
	workers = ps.size[LANE_CPU] + ps.size[LANE_IO];
	ms = s->recent_job_ns / 1000000 * (ps.depth + 1) /
	    (workers ? workers : 1);
	if (ms < 1)
		ms = 1;
	if (ms > 60000)
		ms = 60000;
	return ms;
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
 * kind's parse.  Any thread (the parser lane for big lines): it reads
 * only cfg, which the caller keeps alive, and takes no reference on it.
 * params: a reference taken over.  Returns the job, or NULL with err set.
 */
static struct job *
prepare_job(const struct sbk_config *cfg, const char *id_json, size_t id_len,
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
		job->id_json = id_len < sizeof(job->id_buf) ?
		    job->id_buf :
		    malloc(id_len + 1);
		if (job->id_json == NULL) {
			free(job);
			job = NULL;
		} else
			memcpy(job->id_json, id_json, id_len + 1);
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

/*
 * Event thread: admit a prepared request on its connection.  id_json /
 * id_len: its id (NULL for a notification); job: prepared, taken over, or
 * NULL with *perr the error to answer.  The duplicate-id check runs first
 * (envelope errors rank before method and params errors).  seen/nseen:
 * the ids of this batch so far (NULL outside a batch); an id admitted
 * here is appended.
 */
static void
admit_job(struct conn *c, struct batch *b, char **seen, size_t *nseen,
    const char *id_json, size_t id_len, struct job *job, struct rpc_error *perr)
{
	struct server *s = c->server;
	struct rpc_error err = { 0 };
	struct job *dup;
	const struct job_kind *kind;
	unsigned hashv = 0;
	uint64_t now;
	int rc;

	if (id_json != NULL) {
		/* Hashed once for the lookup and the insertion below. */
		HASH_VALUE(id_json, id_len, hashv);
		HASH_FIND_BYHASHVALUE(hh, c->ids, id_json, id_len, hashv, dup);
		if (dup != NULL ||
		    (seen != NULL && batch_seen(seen, *nseen, id_json))) {
			rpc_error_clear(perr);
			rpc_error_set(&err, RPC_INVALID_REQUEST, NULL,
			    "duplicate id: a request with this id is in "
			    "flight");
			goto fail;
		}
		if (seen != NULL && (seen[*nseen] = strdup(id_json)) != NULL)
			(*nseen)++;
	}
	if (job == NULL) {
		err = *perr;
		memset(perr, 0, sizeof(*perr));
		goto fail;
	}
	/* From here the job holds its config (event thread only). */
	config_hold(job->config);
	job->server = s;
	kind = job->kind;
	if (s->state != SERVER_RUNNING) {
		rpc_error_set(&err, RPC_SHUTTING_DOWN, NULL, NULL);
		goto fail_job;
	}

	if (kind->lane == LANE_EVENT) {
		json_t *result;
		size_t len = 0;
		char *line;

		job->conn = c; /* borrowed: the job ends right here */
		result = kind->run(job, &err);
		job->conn = NULL;
		if (result != NULL) {
			if (job->id_json != NULL) {
				line = rpc_format_result(
				    job->id_json, result, &len);
				send_line(c, b, line, len);
			}
			json_decref(result);
			stats_method_end(&s->stats, kind, STATS_COMPLETED,
			    clock_now_ns() - job->received_ns);
			log_job(job, c, STATS_COMPLETED);
		} else {
			stats_method_end(&s->stats, kind, STATS_FAILED,
			    clock_now_ns() - job->received_ns);
			log_job(job, c, STATS_FAILED);
			send_error(c, b, job->id_json, &err);
		}
		dispatch_job_free(job);
		return;
	}

	job->work.item.owner = &c->owner;
	job->work.item.lane = kind->lane;
	job->work.item.gate = job_pool_gate(kind->gate);
	/* A reply bigger than the whole budget runs alone. */
	if (job->work.item.out_cost > job->config->output_budget_bytes)
		job->work.item.out_cost = job->config->output_budget_bytes;
	job->work.run = job_work_run;
	job->work.complete = job_work_complete;
	rc = pool_submit(s->pool, &job->work);
	if (rc == -EAGAIN) {
		s->stats.rejected++;
		rpc_error_set(&err, RPC_OVERLOADED,
		    json_pack("{s:I}", "retry_after_ms",
			(json_int_t)overload_ms(s)),
		    "overloaded: the queue is full");
		send_error(c, b, job->id_json, &err);
		dispatch_job_free(job);
		return;
	} else if (rc < 0) {
		rpc_error_set(&err, RPC_SHUTTING_DOWN, NULL, NULL);
		goto fail_job;
	}

	s->stats.accepted++;
	s->jobs_in_pool++;
	conn_job_attach(c, job);
	c->inflight++;
	/*
	 * Out of memory in uthash leaves the job out of c->ids (hh.tbl
	 * NULL): it still runs and is answered; only the duplicate-id check
	 * and job.cancel do not find it.
	 */
	if (job->id_json != NULL)
		HASH_ADD_KEYPTR_BYHASHVALUE(
		    hh, c->ids, job->id_json, id_len, hashv, job);
	if (b != NULL) {
		job->batch = b;
		batch_hold(b);
	}
	if (job->deadline_ns != 0) {
		/* Counted from receipt: a big line's parse took some of it. */
		uint64_t left;
		struct timeval tv;

		now = clock_now_ns();
		left = job->deadline_ns > now ? job->deadline_ns - now : 0;
		tv.tv_sec = (time_t)(left / 1000000000);
		tv.tv_usec = (suseconds_t)(left % 1000000000 / 1000);
		job->timer = loop_event_new(s->loop, -1, 0, deadline_cb, job);
		if (job->timer != NULL)
			evtimer_add(job->timer, &tv);
	}
	return;

fail_job:
	send_error(c, b, job->id_json, &err);
	dispatch_job_free(job);
	return;
fail:
	send_error(c, b, id_json, &err);
}

/*
 * One request whose envelope is valid, on the event thread.  id_json: the
 * id as rpc_id_dump writes it, id_len bytes (NULL for a notification),
 * copied into the job.  params: a reference this function takes over
 * (NULL when absent); shared when the request's JSON holds another one.
 */
static void
dispatch_request(struct conn *c, struct batch *b, char **seen, size_t *nseen,
    const char *id_json, size_t id_len, const char *method, size_t method_len,
    json_t *params, bool shared, uint64_t received_ns)
{
	struct rpc_error err = { 0 };
	struct job *job;

	job = prepare_job(c->server->cfg, id_json, id_len, method, method_len,
	    params, shared, received_ns, &err);
	admit_job(c, b, seen, nseen, id_json, id_len, job, &err);
	rpc_error_clear(&err);
}

/* One request object, as JSON (a batch member, or a line off the fast path). */
static void
dispatch_one(struct conn *c, const json_t *msg, struct batch *b, char **seen,
    size_t *nseen, uint64_t received_ns)
{
	struct rpc_request req;
	struct rpc_error err = { 0 };
	const json_t *err_id;
	char *id_json = NULL;

	if (!rpc_request_parse(msg, &req, &err_id, &err)) {
		id_json = rpc_id_dump(err_id);
		send_error(c, b, id_json ? id_json : "null", &err);
		free(id_json);
		return;
	}
	if (req.id != NULL && (id_json = rpc_id_dump(req.id)) == NULL) {
		rpc_error_set(&err, RPC_INTERNAL_ERROR, NULL, NULL);
		send_error(c, b, "null", &err);
		return;
	}
	dispatch_request(c, b, seen, nseen, id_json,
	    id_json != NULL ? strlen(id_json) : 0, req.method, req.method_len,
	    json_incref((json_t *)req.params), true, received_ns);
	free(id_json);
}

static void
dispatch_batch(struct conn *c, json_t *root, uint64_t received_ns)
{
	struct rpc_error err = { 0 };
	size_t n = json_array_size(root), nseen = 0;
	struct batch *b;
	char **seen;

	if (n == 0) {
		rpc_error_set(&err, RPC_INVALID_REQUEST, NULL, "empty batch");
		send_error(c, NULL, "null", &err);
		return;
	}
	if (n > c->server->cfg->max_inflight_per_conn) {
		rpc_error_limit(&err, RPC_INVALID_REQUEST,
		    c->server->cfg->max_inflight_per_conn,
		    "batch of %zu requests is over max_inflight_per_conn", n);
		send_error(c, NULL, "null", &err);
		return;
	}
	b = batch_new(c);
	seen = calloc(n, sizeof(*seen));
	if (b == NULL || seen == NULL) {
		rpc_error_set(&err, RPC_INTERNAL_ERROR, NULL, "out of memory");
		send_error(c, NULL, "null", &err);
		if (b != NULL)
			batch_release(b);
		free(seen);
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

/* Parser lane: parse the line and, for one request, prepare its job. */
static void
parse_run(struct pool_work *work)
{
	struct parse_work *pw = (struct parse_work *)work;
	struct rpc_request req;
	const json_t *err_id;
	json_t *root;

	root = rpc_parse_line(pw->line, pw->len, &pw->err);
	explicit_bzero(pw->line, pw->len);
	free(pw->line);
	pw->line = NULL;
	pw->parsed = root != NULL;
	if (root == NULL || json_is_array(root)) {
		pw->root = root; /* a batch: members go one by one */
		return;
	}
	if (!rpc_request_parse(root, &req, &err_id, &pw->err)) {
		pw->id_json = rpc_id_dump(err_id);
		if (pw->id_json == NULL)
			pw->id_json = strdup("null");
		pw->parsed = false; /* answer err, never admit */
	} else if (req.id != NULL &&
	    (pw->id_json = rpc_id_dump(req.id)) == NULL) {
		rpc_error_set(&pw->err, RPC_INTERNAL_ERROR, NULL, NULL);
		pw->parsed = false;
	} else {
		/* The job keeps params alone: the rest is freed here. */
		pw->job = prepare_job(pw->cfg, pw->id_json,
		    pw->id_json != NULL ? strlen(pw->id_json) : 0, req.method,
		    req.method_len, json_incref((json_t *)req.params), false,
		    pw->received_ns, &pw->err);
	}
	json_decref(root);
}

/* Parser lane: free a batch's JSON after the event thread used it. */
static void
free_root_run(struct pool_work *work)
{
	struct parse_work *pw = (struct parse_work *)work;

	json_decref(pw->root);
	pw->root = NULL;
}

static void
free_root_complete(struct pool_work *work)
{
	struct parse_work *pw = (struct parse_work *)work;

	pw->conn->server->jobs_in_pool--;
	conn_unref(pw->conn);
	free(pw);
}

static void
parse_complete(struct pool_work *work)
{
	struct parse_work *pw = (struct parse_work *)work;
	struct conn *c = pw->conn;
	struct server *s = c->server;

	s->jobs_in_pool--;
	c->parsing = false;
	c->parse_wait = false;
	if (c->closed) {
		if (pw->job != NULL)
			job_discard(pw->job);
	} else if (pw->root != NULL) {
		dispatch_message(c, pw->root, pw->received_ns);
	} else if (pw->job != NULL || pw->parsed) {
		admit_job(c, NULL, NULL, NULL, pw->id_json,
		    pw->id_json != NULL ? strlen(pw->id_json) : 0, pw->job,
		    &pw->err);
	} else {
		send_error(
		    c, NULL, pw->id_json ? pw->id_json : "null", &pw->err);
	}
	pw->job = NULL;
	rpc_error_clear(&pw->err);
	free(pw->id_json);
	pw->id_json = NULL;
	config_release(pw->cfg);
	pw->cfg = NULL;
	conn_resume(c);
	if (pw->root != NULL) {
		/* A batch's JSON: freed off the event thread too. */
		pw->work.run = free_root_run;
		pw->work.complete = free_root_complete;
		s->jobs_in_pool++;
		pool_submit_internal(s->pool, &pw->work);
		return;
	}
	free(pw);
	conn_unref(c);
}

void
dispatch_line(struct conn *c, const char *line, size_t len)
{
	struct rpc_error err = { 0 };
	struct rpc_scan rq;
	json_t *root;

	/*
	 * A big line goes to the parser lane so the event thread never
	 * spends time in proportion to a payload.  The connection goes on
	 * with its later lines meanwhile (a ping is never held behind it);
	 * conn.c holds only a second big line until this one is done.
	 */
	if (len > DISPATCH_INLINE_PARSE_MAX &&
	    c->server->state == SERVER_RUNNING) {
		struct parse_work *pw = calloc(1, sizeof(*pw));

		if (pw != NULL && (pw->line = malloc(len)) != NULL) {
			memcpy(pw->line, line, len);
			pw->len = len;
			pw->conn = c;
			pw->cfg = config_hold(c->server->cfg);
			pw->received_ns = clock_now_ns();
			pw->work.item.owner = &c->server->parse_owner;
			pw->work.item.lane = LANE_PARSE;
			pw->work.item.gate = POOL_GATE_NONE;
			pw->work.run = parse_run;
			pw->work.complete = parse_complete;
			conn_ref(c);
			c->parsing = true;
			c->server->jobs_in_pool++;
			pool_submit_internal(c->server->pool, &pw->work);
			return;
		}
		free(pw);
		/* Out of memory: parse here rather than fail the request. */
	}

	/*
	 * The usual request goes straight from its text to the job;
	 * anything else (batches, errors, escapes) is parsed as JSON.
	 */
	if (rpc_request_scan(line, len, &rq)) {
		dispatch_request(c, NULL, NULL, NULL,
		    rq.id_len > 0 ? rq.id : NULL, rq.id_len, rq.method,
		    rq.method_len, rq.params, false, clock_now_ns());
		return;
	}
	root = rpc_parse_line(line, len, &err);
	if (root == NULL) {
		/*
		 * Never the line's bytes: they may hold a password.  The
		 * parser's message holds only what and where (a byte offset).
		 */
		log_peer(LOG_KIND_GARBAGE, (long)c->uid, LOG_DEBUG,
		    "conn %llu: unparsable line of %zu bytes: %s",
		    (unsigned long long)c->serial, len, err.message);
		send_error(c, NULL, "null", &err);
		return;
	}
	dispatch_message(c, root, clock_now_ns());
	json_decref(root);
}

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

	if (!job->answered && job->conn != NULL && !job->conn->closed)
		conn_send_owned(job->conn, m->bytes, m->len);
	else
		free(m->bytes);
}
