/*
 * admin.c - the admin.* methods of contract 1.3: admin.clients,
 * admin.jobs, admin.cancel and admin.reload.
 *
 * They run on the event thread, which owns the connections and jobs they
 * look at, are never queued and not counted in jobs.*.  Only an admin
 * peer may call them (config_is_admin against the configuration in force
 * at the call: uid 0, admin_uids, admin_gids); anyone else gets -32003,
 * after the params checks (contract 1.1's order: params before admission).
 *
 * Bounded: a listing stops before the entry that would take its reply
 * past ADMIN_LIST_MAX_BYTES (or max_output_bytes_per_conn when smaller)
 * and says so with "truncated": true; "total" always counts every entry.
 * So one call costs the event thread at most about a megabyte of JSON,
 * whatever max_connections and queue_max allow.
 *
 * Re-entrancy: these run while the caller's connection is handing its
 * lines to dispatch.  Anything that would make another connection (or
 * this one) read its buffered lines again -- a cancel that frees a slot
 * on another connection, a reload of the limits -- is deferred to the
 * next loop iteration, so no connection ever dispatches from inside
 * another's dispatch.
 */
#include <string.h>

#include <event2/buffer.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "job.h"
#include "log.h"
#include "stats.h"

/* The largest listing reply, before the config's output cap. */
#define ADMIN_LIST_MAX_BYTES (1024 * 1024)
/*
 * Upper bounds of one entry's JSON besides its id and method: member
 * names, punctuation and 20-digit numbers.
 */
#define CLIENT_ENTRY_BYTES 200
#define JOB_ENTRY_BYTES	   160
/* The envelope around the list: jsonrpc, id (counted apart), totals. */
#define LIST_OVERHEAD_BYTES 128

static int
admin_check(struct job *job, struct rpc_error *err)
{
	const struct conn *c = job->conn;

	if (config_is_admin(*job->disp->cfg, c->uid, c->gid))
		return 0;
	log_peer(LOG_KIND_REFUSED, (long)c->uid, LOG_NOTICE,
	    "conn %llu: uid %ld gid %ld refused %s: not an admin peer",
	    (unsigned long long)c->serial, (long)c->uid, (long)c->gid,
	    job->kind->method);
	return rpc_error_set(err, RPC_PERMISSION, NULL,
	    "permission denied: %s is for uid 0 and [access] admin_uids / "
	    "admin_gids",
	    job->kind->method);
}

/* The byte budget of one listing reply on this connection. */
static size_t
list_budget(const struct job *job)
{
	size_t cap = (*job->disp->cfg)->max_output_bytes_per_conn;
	size_t used =
	    LIST_OVERHEAD_BYTES + strlen(job->id_json ? job->id_json : "null");

	if (cap > ADMIN_LIST_MAX_BYTES)
		cap = ADMIN_LIST_MAX_BYTES;
	return cap > used ? cap - used : 0;
}

static uint64_t
ms_between(uint64_t from_ns, uint64_t to_ns)
{
	return to_ns > from_ns ? (to_ns - from_ns) / 1000000 : 0;
}

/*
 * Add one entry of about NEED bytes to a capped listing, counting it in
 * *total either way.  An entry is made (make(), NULL when out of memory)
 * only while it fits; once one does not, none after it is added, so the
 * list stays in order.  Out of memory drops the whole list (*list NULL).
 */
static void
list_add(json_t **list, size_t *used, size_t budget, size_t *total, size_t need,
    json_t *(*make)(void *, void *, uint64_t), void *a, void *b, uint64_t now)
{
	json_t *e;

	(*total)++;
	if (*list == NULL || *used + need > budget) {
		*used = budget;
		return;
	}
	e = make(a, b, now);
	if (e == NULL || json_array_append_new(*list, e) < 0) {
		json_decref(*list);
		*list = NULL;
		return;
	}
	*used += need;
}

/* The result object of a listing: {"NAME":list,"total":N,"truncated":b}. */
static json_t *
list_result(const char *name, json_t *list, size_t total, struct rpc_error *err)
{
	json_t *r;

	if (list == NULL)
		goto oom;
	r = json_pack("{s:o,s:I,s:b}", name, list, "total", (json_int_t)total,
	    "truncated", json_array_size(list) < total);
	if (r != NULL)
		return r;
oom:
	rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
	return NULL;
}

/* --- admin.clients --- */

/* One connection's entry, or NULL when out of memory. */
static json_t *
client_entry(void *conn, void *unused, uint64_t now)
{
	const struct conn *c = conn;
	unsigned waiting = 0;

	(void)unused;
	for (struct job *j = c->jobs; j != NULL; j = j->conn_next)
		if (job_state(j) == JOB_QUEUED)
			waiting++;
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "conn",
	    (json_int_t)c->serial, "pid", (json_int_t)c->pid, "uid",
	    (json_int_t)c->uid, "gid", (json_int_t)c->gid, "inflight",
	    (json_int_t)c->inflight, "waiting", (json_int_t)waiting,
	    "output_bytes", (json_int_t)conn_unsent(c), "age_ms",
	    (json_int_t)ms_between(c->connected_ns, now));
}

static json_t *
clients_run(struct job *job, struct rpc_error *err)
{
	struct dispatch *d = job->disp;
	size_t budget = list_budget(job), used = 0, total = 0;
	uint64_t now = clock_now_ns();
	json_t *list;
	struct conn *c;

	if (admin_check(job, err) < 0)
		return NULL;
	list = json_array();
	TAILQ_FOREACH(c, &d->conns->all, link)
		list_add(&list, &used, budget, &total, CLIENT_ENTRY_BYTES,
		    client_entry, c, NULL, now);
	return list_result("clients", list, total, err);
}

/* --- admin.jobs --- */

/* One job's entry, or NULL when out of memory. */
static json_t *
job_entry(void *conn, void *job, uint64_t now)
{
	const struct conn *c = conn;
	struct job *j = job;
	uint64_t started = atomic_load(&j->started_ns);
	uint64_t ended = atomic_load(&j->ended_ns);
	bool waiting = job_state(j) == JOB_QUEUED;
	json_t *id = json_null();

	/* Only the id: params (passwords, data) never appear. */
	if (j->id_json != NULL)
		id = json_loads(
		    j->id_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (id == NULL)
		return NULL;
	return json_pack("{s:I,s:o,s:s,s:s,s:I,s:I}", "conn",
	    (json_int_t)c->serial, "id", id, "method", j->kind->method, "state",
	    waiting ? "waiting" : "running", "waited_ms",
	    (json_int_t)ms_between(j->received_ns, started ? started : now),
	    "ran_ms",
	    (json_int_t)(started ? ms_between(started, ended ? ended : now) :
				   0));
}

static json_t *
jobs_run(struct job *job, struct rpc_error *err)
{
	struct dispatch *d = job->disp;
	size_t budget = list_budget(job), used = 0, total = 0;
	uint64_t now = clock_now_ns();
	json_t *list;
	struct conn *c;

	if (admin_check(job, err) < 0)
		return NULL;
	list = json_array();
	TAILQ_FOREACH(c, &d->conns->all, link) {
		struct job *j, *tail = NULL;

		/* c->jobs is newest first: list them oldest first. */
		for (j = c->jobs; j != NULL; j = j->conn_next)
			tail = j;
		for (j = tail; j != NULL; j = j->conn_prev) {
			if (job_is_finished(j))
				continue;
			list_add(&list, &used, budget, &total,
			    JOB_ENTRY_BYTES + strlen(j->kind->method) +
				(j->id_json ? strlen(j->id_json) : 4),
			    job_entry, c, j, now);
		}
	}
	return list_result("jobs", list, total, err);
}

/* --- admin.cancel --- */

static const char *const cancel_names[] = { "conn", "id", NULL };

static int
cancel_parse(struct job *job, const json_t *params,
    const struct sbk_config *cfg, struct rpc_error *err)
{
	const json_t *vals[2];
	long long serial;

	if (job_params_get(params, cancel_names, vals, err) < 0)
		return -1;
	if (vals[0] == NULL)
		return rpc_error_param(err, "conn",
		    "'conn' is required: a connection's serial number, as "
		    "admin.clients lists it");
	if (job_value_int(vals[0], "conn", 0, 1, INT64_MAX, &serial, err) < 0)
		return -1;
	if (vals[1] == NULL || !rpc_id_valid(vals[1]))
		return rpc_error_param(err, "id",
		    "'id' must be the string or integer id of a request in "
		    "flight on that connection");
	return 0;
}

static json_t *
cancel_run(struct job *job, struct rpc_error *err)
{
	struct dispatch *d = job->disp;
	const json_t *params = job->params;
	long long serial = json_integer_value(json_object_get(params, "conn"));
	struct conn *c;
	bool cancelled = false;

	if (admin_check(job, err) < 0)
		return NULL;
	TAILQ_FOREACH(c, &d->conns->all, link)
		if (c->serial == (uint64_t)serial)
			break;
	if (c != NULL) {
		cancelled = dispatch_cancel(c, json_object_get(params, "id"));
		/*
		 * The caller's own connection goes on reading by itself.  Any
		 * other may have been paused on the slot just freed; its
		 * -32002 usually wakes it when flushed, but not from inside
		 * a batch reply that still waits for other members.
		 */
		if (cancelled && c != job->conn)
			conn_resume_later(c);
		log_info("conn %llu: uid %ld: admin.cancel of a job of conn "
			 "%llu: %s",
		    (unsigned long long)job->conn->serial, (long)job->conn->uid,
		    (unsigned long long)c->serial,
		    cancelled ? "cancelled" : "not in flight");
	}
	return json_pack("{s:b}", "cancelled", cancelled);
}

/* --- admin.reload --- */

static json_t *
reload_run(struct job *job, struct rpc_error *err)
{
	struct dispatch *d = job->disp;
	char why[1024];

	if (admin_check(job, err) < 0)
		return NULL;
	log_info("conn %llu: uid %ld: admin.reload",
	    (unsigned long long)job->conn->serial, (long)job->conn->uid);
	if (d->reload(d->reload_arg, why, sizeof(why)) < 0) {
		rpc_error_set(err, RPC_INTERNAL_ERROR,
		    json_pack("{s:s}", "error", why), "reload failed: %s", why);
		return NULL;
	}
	return json_pack("{s:I}", "config_generation",
	    (json_int_t)d->stats->config_generation);
}

const struct job_kind job_admin_clients = {
	.method = "admin.clients",
	.lane = LANE_EVENT,
	.flags = JOB_KIND_NO_PARAMS,
	.parse = job_parse_no_params,
	.run = clients_run,
};

const struct job_kind job_admin_jobs = {
	.method = "admin.jobs",
	.lane = LANE_EVENT,
	.flags = JOB_KIND_NO_PARAMS,
	.parse = job_parse_no_params,
	.run = jobs_run,
};

const struct job_kind job_admin_cancel = {
	.method = "admin.cancel",
	.lane = LANE_EVENT,
	.parse = cancel_parse,
	.run = cancel_run,
};

const struct job_kind job_admin_reload = {
	.method = "admin.reload",
	.lane = LANE_EVENT,
	.flags = JOB_KIND_NO_PARAMS,
	.parse = job_parse_no_params,
	.run = reload_run,
};
