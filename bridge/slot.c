/*
 * slot.c - one slot thread: connect to sbkd, then to gearmand; grab one
 * job; run it on sbkd with libsbk's blocking call; answer gearmand; loop.
 *
 * The invariants that make a bridge safe to kill and to put in front of a
 * busy sbkd:
 *  - A slot holds at most one job, and asks for one only while its sbkd
 *    connection is up and idle (a connection with nothing in flight that
 *    turns readable has been closed by sbkd).  So the bridge never holds
 *    more than `slots` jobs and the backlog stays in gearmand, where any
 *    other host can take it.
 *  - A slot has at most one GRAB_JOB in flight: gearmand assigns a job to
 *    every GRAB_JOB it reads, answered or not.  In blocking mode
 *    libgearman forgets a GRAB_JOB whose answer is later than the timeout
 *    (idle_check_ms) and sends another on the next call, so a slow
 *    gearmand would count one slot as running several jobs.  The slot
 *    therefore asks in non-blocking mode, where libgearman keeps waiting
 *    for the answer across calls, and waits itself with
 *    gearman_worker_wait; the job and its answer run in blocking mode.
 *  - A job is answered exactly once, or not at all: when sbkd goes away
 *    under a job (the connection closes, or sbkd says -32006), the slot
 *    drops its gearmand connections without answering, and gearmand puts
 *    the job back in its queue for another worker (Gearman's rule for a
 *    worker that disconnects).  Then the slot stays away from gearmand
 *    until sbkd answers a ping again.
 *  - sbkd's -32000 (queue full) is not an answer: the slot waits the
 *    retry_after_ms sbkd asked for (capped at retry_max_ms) and asks again,
 *    still holding the job.
 *
 * Thread safety: each struct slot belongs to its thread; the shared parts
 * of struct bridge are atomics or under bridge->lock.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libgearman/gearman.h>

#include "log.h"
#include "mapping.h"
#include "sbk-client.h"
#include "slot.h"

struct slot;

/* The context of one registered function: which slot, which method. */
struct slot_fn {
	struct slot *slot;
	const struct bridge_method *method;
};

struct slot {
	struct bridge *b;
	unsigned index;
	pthread_t thread;
	gearman_worker_st *gw;	/* NULL while away from gearmand */
	struct sbk_client *sbk; /* NULL while sbkd is unreachable */
	unsigned sbk_backoff_ms;
	unsigned gm_backoff_ms;
	bool sbk_failing; /* log a failure streak once, and its end */
	bool gm_failing;
	gearman_job_st *job; /* the job held, for progress reports */
	bool leave_gearman;  /* a job was handed back: reconnect */
	struct slot_fn *fns; /* one per served function */
};

/* How a job left the slot. */
enum slot_outcome {
	OUT_COMPLETED,
	OUT_FAILED,	 /* sbkd's error sent as WORK_DATA + WORK_FAIL */
	OUT_REFUSED,	 /* the bridge's own error, sbkd not asked */
	OUT_HANDED_BACK, /* released unanswered: gearmand re-queues it */
	OUT_LOST,	 /* the answer could not be sent to gearmand */
};

static const char *const outcome_names[] = {
	[OUT_COMPLETED] = "completed",
	[OUT_FAILED] = "failed",
	[OUT_REFUSED] = "refused",
	[OUT_HANDED_BACK] = "handed back",
	[OUT_LOST] = "lost",
};

static bool
bridge_stopping(struct bridge *b)
{
	return atomic_load(&b->stopping);
}

/* Sleep ms unless the bridge stops first; false when it is stopping. */
static bool
bridge_sleep(struct bridge *b, unsigned ms)
{
	struct timespec until;
	bool stopping;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->lock);
	while (!(stopping = bridge_stopping(b)) &&
	    pthread_cond_timedwait(&b->cond, &b->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&b->lock);
	return !stopping;
}

static unsigned
backoff_next(const struct bridge_config *cfg, unsigned *ms)
{
	unsigned now =
	    *ms < cfg->reconnect_min_ms ? cfg->reconnect_min_ms : *ms;

	*ms =
	    now >= cfg->reconnect_max_ms / 2 ? cfg->reconnect_max_ms : now * 2;
	return now;
}

/* ------------------------------------------------------------------ */
/* sbkd side */

static void
slot_sbkd_close(struct slot *s)
{
	sbk_close(s->sbk);
	s->sbk = NULL;
}

/* progress notifications of the running job become WORK_STATUS. */
static void
slot_progress_cb(const char *method, const json_t *params, void *arg)
{
	struct slot *s = arg;
	json_int_t done, total;
	uint32_t num, den;

	if (s->job == NULL || strcmp(method, "progress") != 0)
		return;
	if (json_unpack((json_t *)params, "{s:I,s:I}", "done", &done, "total",
		&total) < 0 ||
	    done < 0 || total < 0)
		return;
	map_progress((uint64_t)done, (uint64_t)total, &num, &den);
	/* A failed status report is not worth losing the job over; a broken
	 * gearmand connection shows again when the answer is sent. */
	(void)gearman_job_send_status(s->job, num, den);
}

/* Connect to sbkd and check that it answers; false while it does not. */
static bool
slot_sbkd_connect(struct slot *s)
{
	const struct bridge_config *cfg = s->b->cfg;
	struct sbk_error err = { 0 };
	json_t *pong;

	s->sbk = sbk_connect(cfg->socket, &err);
	if (s->sbk != NULL) {
		/* A refused peer or a full daemon answers at connect and
		 * closes: only a pong proves the connection can run jobs. */
		pong = sbk_call(s->sbk, "ping", NULL, 10000, &err);
		if (pong != NULL) {
			json_decref(pong);
			sbk_error_clear(&err);
			sbk_set_notify_cb(s->sbk, slot_progress_cb, s);
			atomic_fetch_add(&s->b->stats.sbkd_connects, 1);
			if (s->sbk_failing)
				log_info("slot %u: sbkd at %s answers again",
				    s->index, cfg->socket);
			s->sbk_failing = false;
			s->sbk_backoff_ms = 0;
			return true;
		}
		slot_sbkd_close(s);
	}
	if (!s->sbk_failing)
		log_warnx("slot %u: sbkd at %s: %s (%s); not taking jobs until "
			  "it answers",
		    s->index, cfg->socket, err.message,
		    sbk_error_kind_name(err.kind));
	s->sbk_failing = true;
	sbk_error_clear(&err);
	return false;
}

/*
 * Is the idle sbkd connection still open?  Nothing is in flight, so sbkd
 * has nothing to say: readable means closed (or a stray line, which is
 * as bad).
 */
static bool
slot_sbkd_alive(struct slot *s)
{
	struct pollfd p = { .fd = sbk_fd(s->sbk),
		.events = POLLIN | POLLRDHUP };

	if (sbk_pending(s->sbk))
		return false;
	return poll(&p, 1, 0) == 0;
}

/* ------------------------------------------------------------------ */
/* gearmand side */

/* Leave every gearmand: unregisters, and a job held goes back to the
 * queue (the caller frees the job first). */
static void
slot_gearman_close(struct slot *s)
{
	if (s->gw != NULL)
		gearman_worker_free(s->gw);
	s->gw = NULL;
}

static void *slot_work_cb(
    gearman_job_st *job, void *context, size_t *size, gearman_return_t *ret);

static bool
slot_gearman_open(struct slot *s)
{
	const struct bridge_config *cfg = s->b->cfg;
	char name[256], id[300];
	gearman_return_t ret;
	size_t i;

	if ((s->gw = gearman_worker_create(NULL)) == NULL) {
		log_err("slot %u: cannot create a Gearman worker", s->index);
		return false;
	}
	/* grab_job returns after idle_check_ms without a job, so a free
	 * slot notices a stop or a dead sbkd. */
	gearman_worker_add_options(s->gw, GEARMAN_WORKER_TIMEOUT_RETURN);
	gearman_worker_set_timeout(s->gw, (int)cfg->idle_check_ms);
	snprintf(id, sizeof(id), "%s/%u", s->b->identifier, s->index);
	gearman_worker_set_identifier(s->gw, id, strlen(id));
	for (i = 0; i < cfg->n_servers; i++) {
		ret = gearman_worker_add_server(s->gw, cfg->servers[i].host,
		    (in_port_t)cfg->servers[i].port);
		if (gearman_failed(ret))
			goto fail;
	}
	for (i = 0; i < cfg->n_functions; i++) {
		snprintf(name, sizeof(name), "%s%s", cfg->function_prefix,
		    cfg->functions[i]->name);
		s->fns[i].slot = s;
		s->fns[i].method = cfg->functions[i];
		ret = gearman_worker_add_function(
		    s->gw, name, 0, slot_work_cb, &s->fns[i]);
		if (gearman_failed(ret))
			goto fail;
	}
	return true;
fail:
	log_err("slot %u: Gearman worker setup: %s", s->index,
	    gearman_worker_error(s->gw));
	slot_gearman_close(s);
	return false;
}

/* ------------------------------------------------------------------ */
/* One job */

/* WORK_DATA with the error object; the caller then returns WORK_FAIL. */
static enum slot_outcome
slot_send_error(struct slot *s, json_t *error, enum slot_outcome ok)
{
	size_t len;
	char *text = error ? map_dump(error, &len) : NULL;
	gearman_return_t ret = GEARMAN_SUCCESS;

	json_decref(error);
	if (text != NULL)
		ret = gearman_job_send_data(s->job, text, len);
	free(text);
	return gearman_success(ret) ? ok : OUT_LOST;
}

/* An sbkd error reply as the error object the client gets. */
static json_t *
slot_rpc_error(const struct sbk_error *err)
{
	return map_error_new(
	    err->code, err->message, err->data ? json_incref(err->data) : NULL);
}

static unsigned
slot_retry_ms(const struct bridge_config *cfg, const struct sbk_error *err)
{
	json_t *v =
	    err->data ? json_object_get(err->data, "retry_after_ms") : NULL;
	json_int_t ms = json_is_integer(v) ? json_integer_value(v) : 100;

	/* sbkd's hint may be a millisecond or two when its I/O workers
	 * count in the estimate; the floor keeps a full sbkd from being
	 * asked hundreds of times a second per slot. */
	if (ms < (json_int_t)cfg->retry_min_ms)
		ms = cfg->retry_min_ms;
	if (ms > (json_int_t)cfg->retry_max_ms)
		ms = cfg->retry_max_ms;
	return (unsigned)ms;
}

/* Run the held job on sbkd; *text gets the result for WORK_COMPLETE. */
static enum slot_outcome
slot_run(
    struct slot *s, const struct bridge_method *m, char **text, size_t *len)
{
	const struct bridge_config *cfg = s->b->cfg;
	struct sbk_error err = { 0 };
	json_t *params, *error, *result;
	enum slot_outcome out;

	params = map_workload(cfg, m, gearman_job_workload(s->job),
	    gearman_job_workload_size(s->job), &error);
	if (params == NULL)
		return slot_send_error(s, error, OUT_REFUSED);

	for (;;) {
		result = sbk_call(s->sbk, m->name, params, -1, &err);
		if (result != NULL) {
			*text = map_dump(result, len);
			json_decref(result);
			out = *text != NULL ?
			    OUT_COMPLETED :
			    slot_send_error(s,
				map_error_new(-32603, "out of memory", NULL),
				OUT_FAILED);
			break;
		}
		if (err.kind == SBK_ERR_RPC && err.code == -32000) {
			atomic_fetch_add(&s->b->stats.retried, 1);
			if (bridge_sleep(s->b, slot_retry_ms(cfg, &err)))
				continue;
			/* Stopping: not started on sbkd, so another host
			 * can run it at once. */
			out = OUT_HANDED_BACK;
			break;
		}
		if (err.kind == SBK_ERR_RPC && err.code != -32006) {
			out = slot_send_error(
			    s, slot_rpc_error(&err), OUT_FAILED);
			break;
		}
		if (err.kind == SBK_ERR_PROTOCOL) {
			/* sbkd answered something unreadable: asking another
			 * host would get the same, so this is the answer. */
			out = slot_send_error(s,
			    map_error_new(-32603, err.message, NULL),
			    OUT_FAILED);
			break;
		}
		/* sbkd is gone or going (-32006, closed, system error). */
		log_warnx("slot %u: sbkd went away under job %s (%s); handing "
			  "it back to gearmand",
		    s->index, gearman_job_handle(s->job), err.message);
		atomic_fetch_add(&s->b->stats.sbkd_down, 1);
		slot_sbkd_close(s);
		out = OUT_HANDED_BACK;
		break;
	}
	sbk_error_clear(&err);
	json_decref(params);
	return out;
}

/*
 * libgearman's worker callback (gearman_worker_work calls it with the job
 * it grabbed).  The return code tells libgearman what to send: SUCCESS
 * sends WORK_COMPLETE with the returned buffer (which it frees),
 * WORK_FAIL sends WORK_FAIL, and LOST_CONNECTION makes it drop its
 * connections without answering, which hands the job back to gearmand.
 */
static void *
slot_work_cb(
    gearman_job_st *job, void *context, size_t *size, gearman_return_t *ret)
{
	struct slot_fn *f = context;
	struct slot *s = f->slot;
	struct bridge_stats *st = &s->b->stats;
	enum slot_outcome out;
	struct timespec t0, t1;
	char *text = NULL;
	size_t len = 0;

	/* Blocking for the job's own traffic (progress, WORK_DATA and the
	 * answer libgearman sends after this returns). */
	gearman_worker_remove_options(s->gw, GEARMAN_WORKER_NON_BLOCKING);
	stats_job_start(st);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	s->job = job;
	out = slot_run(s, f->method, &text, &len);
	s->job = NULL;

	*size = 0;
	switch (out) {
	case OUT_COMPLETED:
		atomic_fetch_add(&st->completed, 1);
		*size = len;
		*ret = GEARMAN_SUCCESS;
		break;
	case OUT_FAILED:
		atomic_fetch_add(&st->failed, 1);
		*ret = GEARMAN_WORK_FAIL;
		break;
	case OUT_REFUSED:
		atomic_fetch_add(&st->refused, 1);
		*ret = GEARMAN_WORK_FAIL;
		break;
	case OUT_HANDED_BACK:
		atomic_fetch_add(&st->handed_back, 1);
		s->leave_gearman = true;
		*ret = GEARMAN_LOST_CONNECTION;
		break;
	case OUT_LOST:
		log_warnx("slot %u: job %s: the answer did not reach gearmand",
		    s->index, gearman_job_handle(job));
		atomic_fetch_add(&st->lost, 1);
		s->leave_gearman = true;
		*ret = GEARMAN_LOST_CONNECTION;
		break;
	}
	stats_job_end(st);
	if (s->b->cfg->log_jobs) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		log_info("job %s %s%s: %s in %ld ms", gearman_job_handle(job),
		    s->b->cfg->function_prefix, f->method->name,
		    outcome_names[out],
		    (long)((t1.tv_sec - t0.tv_sec) * 1000 +
			(t1.tv_nsec - t0.tv_nsec) / 1000000));
	}
	return text;
}

/* ------------------------------------------------------------------ */
/* The slot loop */

static void *
slot_main(void *arg)
{
	struct slot *s = arg;
	struct bridge *b = s->b;
	const struct bridge_config *cfg = b->cfg;
	gearman_return_t ret;

	while (!bridge_stopping(b)) {
		if (s->sbk != NULL && !slot_sbkd_alive(s)) {
			log_warnx(
			    "slot %u: sbkd closed the connection", s->index);
			atomic_fetch_add(&b->stats.sbkd_down, 1);
			slot_sbkd_close(s);
		}
		if (s->sbk == NULL) {
			/* No sbkd, no Gearman: unregistered, so gearmand
			 * gives this host's share to the others. */
			slot_gearman_close(s);
			if (!slot_sbkd_connect(s))
				bridge_sleep(
				    b, backoff_next(cfg, &s->sbk_backoff_ms));
			continue;
		}
		if (s->gw == NULL && !slot_gearman_open(s)) {
			bridge_sleep(b, backoff_next(cfg, &s->gm_backoff_ms));
			continue;
		}
		/* One job, or a return at once with the GRAB_JOB or PRE_SLEEP
		 * in flight (see the top of this file). */
		gearman_worker_add_options(s->gw, GEARMAN_WORKER_NON_BLOCKING);
		ret = gearman_worker_work(s->gw);
		if (s->leave_gearman) {
			/* A job was handed back: stay away from gearmand
			 * until sbkd answers again (checked at the top). */
			s->leave_gearman = false;
			slot_gearman_close(s);
			continue;
		}
		switch (ret) {
		case GEARMAN_SUCCESS:
		case GEARMAN_WORK_FAIL: /* the WORK_FAIL was sent */
			if (s->gm_failing)
				log_info("slot %u: gearmand reachable again",
				    s->index);
			s->gm_failing = false;
			s->gm_backoff_ms = 0;
			continue;
		case GEARMAN_IO_WAIT:
		case GEARMAN_NO_JOBS:
			/* gearmand's answer, or its NOOP after PRE_SLEEP, for
			 * at most idle_check_ms; then the checks above. */
			ret = gearman_worker_wait(s->gw);
			if (ret == GEARMAN_SUCCESS || ret == GEARMAN_TIMEOUT)
				continue;
			break;
		case GEARMAN_TIMEOUT:
			continue;
		default:
			break;
		}
		/* gearmand unreachable, or the connection broke: start over
		 * after a pause. */
		atomic_fetch_add(&b->stats.gearman_errors, 1);
		if (!s->gm_failing)
			log_warnx("slot %u: gearmand: %s; retrying", s->index,
			    ret == GEARMAN_NO_ACTIVE_FDS ?
				"no server reachable" :
				gearman_worker_error(s->gw));
		s->gm_failing = true;
		slot_gearman_close(s);
		bridge_sleep(b, backoff_next(cfg, &s->gm_backoff_ms));
	}
	slot_gearman_close(s);
	if (s->sbk != NULL)
		slot_sbkd_close(s);
	free(s->fns);
	return NULL;
}

int
bridge_start(struct bridge *b, const struct bridge_config *cfg, unsigned n)
{
	pthread_condattr_t ca;
	int r;

	b->cfg = cfg;
	b->stats.slots = n;
	atomic_store(&b->stopping, false);
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((b->slots = calloc(n, sizeof(*b->slots))) == NULL)
		return -ENOMEM;
	for (b->n_slots = 0; b->n_slots < n; b->n_slots++) {
		struct slot *s = &b->slots[b->n_slots];

		s->b = b;
		s->index = b->n_slots;
		s->fns = calloc(cfg->n_functions, sizeof(*s->fns));
		if (s->fns == NULL) {
			bridge_stop(b);
			bridge_join(b);
			return -ENOMEM;
		}
		if ((r = pthread_create(&s->thread, NULL, slot_main, s)) != 0) {
			free(s->fns);
			bridge_stop(b);
			bridge_join(b);
			return -r;
		}
	}
	return 0;
}

void
bridge_stop(struct bridge *b)
{
	pthread_mutex_lock(&b->lock);
	atomic_store(&b->stopping, true);
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

void
bridge_join(struct bridge *b)
{
	for (unsigned i = 0; i < b->n_slots; i++)
		pthread_join(b->slots[i].thread, NULL);
	free(b->slots);
	b->slots = NULL;
	b->n_slots = 0;
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
}
