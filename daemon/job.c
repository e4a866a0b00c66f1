/*
 * job.c - a job's state machine (the table is in job.h), and the helpers
 * job kinds use: stop checks and progress from workers, params validation
 * from the event thread, and the table lookup.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "job.h"
#include "log.h"

/* Progress notifications are rate-limited per job (contract: 100 ms). */
#define PROGRESS_INTERVAL_NS 100000000ull

static const char *const common_params[] = { "timeout_ms", "progress", NULL };

static const char state_names[][10] = { "PARSED", "QUEUED", "RUNNING", "DONE",
	"ANSWERED", "ABANDONED" };

#define BIT(s)	    (1u << (s))
#define IS_STATE(s) ((s) >= JOB_PARSED && (s) <= JOB_ABANDONED)

/* A move job.h's table does not have: a bug, in any build. */
static void
bad_move(const struct job *job, int from, enum job_state to)
{
	log_err("job %s: invalid state transition %s -> %s",
	    job->kind != NULL ? job->kind->method : "?",
	    IS_STATE(from) ? state_names[from] : "?", state_names[to]);
	abort();
}

/* From one of the states in mask to to, or abort; the state it left. */
static enum job_state
move(struct job *job, unsigned mask, enum job_state to)
{
	int from = atomic_load(&job->state);

	do {
		if (!IS_STATE(from) || !(mask & BIT(from)))
			bad_move(job, from, to);
	} while (!atomic_compare_exchange_weak(&job->state, &from, to));
	return (enum job_state)from;
}

enum job_state
job_state(struct job *job)
{
	return (enum job_state)atomic_load(&job->state);
}

bool
job_is_finished(struct job *job)
{
	return job_state(job) >= JOB_ANSWERED;
}

int
job_submit(struct job *job, struct pool *pool)
{
	int rc;

	/* Before the submit: a worker may take the job at once.  Refused,
	 * no worker saw it: it was never admitted. */
	move(job, BIT(JOB_PARSED), JOB_QUEUED);
	if ((rc = pool_submit(pool, &job->work)) < 0)
		move(job, BIT(JOB_QUEUED), JOB_PARSED);
	return rc;
}

/* Worker: from -> to, or false when the event thread abandoned it. */
static bool
worker_move(struct job *job, int from, enum job_state to)
{
	if (atomic_compare_exchange_strong(&job->state, &from, to))
		return true;
	if (from != JOB_ABANDONED)
		bad_move(job, from, to);
	return false;
}

bool
job_try_run(struct job *job)
{
	return worker_move(job, JOB_QUEUED, JOB_RUNNING);
}

void
job_set_done(struct job *job)
{
	(void)worker_move(job, JOB_RUNNING, JOB_DONE);
}

enum job_state
job_set_finished(struct job *job, bool held)
{
	if (held)
		return move(job,
		    BIT(JOB_QUEUED) | BIT(JOB_RUNNING) | BIT(JOB_DONE),
		    JOB_ABANDONED);
	return move(job, BIT(JOB_PARSED) | BIT(JOB_QUEUED) | BIT(JOB_DONE),
	    JOB_ANSWERED);
}

bool
job_should_stop(struct job *job)
{
	return job_state(job) == JOB_ABANDONED ||
	    (job->deadline_ns != 0 && clock_now_ns() >= job->deadline_ns);
}

void
job_progress(struct job *job, uint64_t done, uint64_t total)
{
	struct pool *pool = pool_current();
	json_t *params;
	char *line;
	size_t len;
	uint64_t now;

	if (!job->want_progress || job->id_json == NULL || pool == NULL)
		return;
	now = clock_now_ns();
	if (job->last_progress_ns != 0 &&
	    now - job->last_progress_ns < PROGRESS_INTERVAL_NS)
		return;
	job->last_progress_ns = now;

	/* The id is stored as JSON text; load it back for the notification. */
	params = json_pack("{s:o?,s:I,s:I}", "id",
	    json_loads(job->id_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL),
	    "done", (json_int_t)done, "total", (json_int_t)total);
	if (params == NULL)
		return;
	line = rpc_format_notification("progress", params, &len);
	json_decref(params);
	if (line != NULL)
		pool_post_message(pool, &job->work, line, len);
}

/* The index of key in list (NULL-terminated; NULL: empty), or -1. */
static int
list_index(const char *key, const char *const *list)
{
	for (int i = 0; list != NULL && list[i] != NULL; i++)
		if (strcmp(key, list[i]) == 0)
			return i;
	return -1;
}

/*
 * One walk over params: vals[i] = the member called names[i], or NULL
 * (vals NULL: none wanted).  strict: fail on the first member neither
 * named nor common.  A walk costs less than one hash lookup per name on
 * the small objects requests carry.
 */
static int
params_walk(const json_t *params, const char *const *names, const json_t **vals,
    bool strict, struct rpc_error *err)
{
	const char *key;
	json_t *value;
	int i;

	for (i = 0; vals != NULL && names[i] != NULL; i++)
		vals[i] = NULL;
	if (params == NULL)
		return 0;
	json_object_foreach((json_t *)params, key, value) {
		if ((i = list_index(key, names)) >= 0 && vals != NULL)
			vals[i] = value;
		else if (i < 0 && strict &&
		    list_index(key, common_params) < 0) {
			rpc_error_param(
			    err, key, "unknown parameter '%s'", key);
			return -1;
		}
	}
	return 0;
}

int
job_params_check(
    const json_t *params, const char *const *allowed, struct rpc_error *err)
{
	return params_walk(params, allowed, NULL, true, err);
}

int
job_params_get(const json_t *params, const char *const *names,
    const json_t **vals, struct rpc_error *err)
{
	return params_walk(params, names, vals, true, err);
}

void
job_params_common(
    const json_t *params, const json_t **timeout_ms, const json_t **progress)
{
	const json_t *vals[2];

	(void)params_walk(params, common_params, vals, false, NULL);
	*timeout_ms = vals[0];
	*progress = vals[1];
}

int
job_param_int(const json_t *params, const char *name, long long def,
    long long min, long long max, long long *out, struct rpc_error *err)
{
	return job_value_int(
	    json_object_get(params, name), name, def, min, max, out, err);
}

int
job_value_int(const json_t *v, const char *name, long long def, long long min,
    long long max, long long *out, struct rpc_error *err)
{
	long long n;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v)) {
		rpc_error_param(err, name, "'%s' must be an integer", name);
		return -1;
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		rpc_error_param(err, name, "'%s' must be between %lld and %lld",
		    name, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

int
job_param_bool(const json_t *params, const char *name, bool def, bool *out,
    struct rpc_error *err)
{
	return job_value_bool(
	    json_object_get(params, name), name, def, out, err);
}

int
job_value_bool(const json_t *v, const char *name, bool def, bool *out,
    struct rpc_error *err)
{
	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v)) {
		rpc_error_param(err, name, "'%s' must be a boolean", name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int
job_param_string(const json_t *params, const char *name, bool required,
    const char **out, size_t *lenp, struct rpc_error *err)
{
	json_t *v = json_object_get(params, name);

	*out = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if (v == NULL) {
		if (!required)
			return 0;
		rpc_error_param(err, name, "'%s' is required", name);
		return -1;
	}
	if (!json_is_string(v)) {
		rpc_error_param(err, name, "'%s' must be a string", name);
		return -1;
	}
	*out = json_string_value(v);
	if (lenp != NULL)
		*lenp = json_string_length(v);
	return 0;
}

const struct job_kind *
job_kind_find(const char *method, size_t len)
{
	/*
	 * About a dozen rows: a linear scan beats any index here, and the
	 * first byte spares most comparisons.  The length makes the whole
	 * string count: "ping\0evil" is not "ping".
	 */
	for (const struct job_kind *const *k = job_table; *k != NULL; k++)
		if ((*k)->method[0] == method[0] &&
		    strlen((*k)->method) == len &&
		    memcmp((*k)->method, method, len) == 0)
			return *k;
	return NULL;
}

unsigned
job_kind_class(const struct job_kind *kind)
{
	unsigned i = 0;

	while (job_table[i] != NULL && job_table[i] != kind)
		i++;
	return i + 1;
}

unsigned long
job_reply_cost(size_t raw_bytes)
{
	/* base64: 4 bytes per 3; the envelope, id and numbers fit in 1 KiB. */
	return (unsigned long)((raw_bytes + 2) / 3 * 4) + 1024;
}

ssize_t
job_read_chunk(struct job *job, int fd, void *buf, size_t len, off_t off,
    struct rpc_error *err)
{
	ssize_t n;

	do
		n = off < 0 ? read(fd, buf, len) : pread(fd, buf, len, off);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		rpc_error_errno(err, errno, "path: read failed");
		return (-1);
	}
	if (job_should_stop(job)) {
		rpc_error_set(err, RPC_CANCELLED, NULL, "stopped");
		return (-1);
	}
	return (n);
}
