/*
 * builtin.c - the methods answered inline on the event thread: ping,
 * stats and job.cancel.  They are O(1) (stats: O(methods)) and never
 * queue, so they answer even when every pool is saturated.
 */
#include "dispatch.h"
#include "job.h"
#include "pool.h"
#include "stats.h"

int
job_parse_no_params(struct job *job, const json_t *params,
    const struct sbk_config *cfg, struct rpc_error *err)
{
	return job_params_check(params, NULL, err);
}

static json_t *
ping_run(struct job *job, struct rpc_error *err)
{
	return json_pack("{s:b}", "pong", 1);
}

static json_t *
stats_run(struct job *job, struct rpc_error *err)
{
	struct dispatch *d = job->disp;
	struct pool_stats ps;

	pool_get_stats(d->pool, &ps);
	return stats_json(d->stats, &ps, d->conns->count);
}

static const char *const cancel_params[] = { "id", NULL };

static int
cancel_parse(struct job *job, const json_t *params,
    const struct sbk_config *cfg, struct rpc_error *err)
{
	const json_t *id;

	if (job_params_check(params, cancel_params, err) < 0)
		return -1;
	id = params != NULL ? json_object_get(params, "id") : NULL;
	if (id == NULL || !rpc_id_valid(id))
		return rpc_error_param(err, "id",
		    "'id' must be the string or "
		    "integer id of a request in flight on this connection");
	return 0;
}

static json_t *
cancel_run(struct job *job, struct rpc_error *err)
{
	bool cancelled;

	cancelled =
	    dispatch_cancel(job->conn, json_object_get(job->params, "id"));
	return json_pack("{s:b}", "cancelled", cancelled);
}

const struct job_kind job_ping = {
	.method = "ping",
	.lane = LANE_EVENT,
	.flags = JOB_KIND_NO_PARAMS,
	.parse = job_parse_no_params,
	.run = ping_run,
};

const struct job_kind job_stats = {
	.method = "stats",
	.lane = LANE_EVENT,
	.flags = JOB_KIND_NO_PARAMS,
	.parse = job_parse_no_params,
	.run = stats_run,
};

const struct job_kind job_cancel = {
	.method = "job.cancel",
	.lane = LANE_EVENT,
	.parse = cancel_parse,
	.run = cancel_run,
};
