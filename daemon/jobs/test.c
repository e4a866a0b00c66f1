/*
 * test.c - the test methods, present only with enable_test_methods:
 * sleep (I/O pool: waits) and spin (CPU pool: a busy loop on the wall
 * clock).  Both are cooperative, checking for a stop every millisecond,
 * and answer the whole milliseconds actually slept or spun.
 *
 * And the isolation tests' methods, always run in an isolated helper
 * (isolate.h): test.crash (the helper dies of SIGSEGV), test.forbidden_call
 * (the helper opens /etc/passwd: the sandbox kills it), test.hang (the
 * helper sleeps until sbkd kills it: cancel, deadline), test.helper_pid
 * (which helper ran the job: reuse and replacement) and test.helper_lie (the
 * helper breaks the frame protocol, as a compromised one might).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "isolate.h"
#include "job.h"

#define TEST_MS_MAX 600000  /* contract: ms 0..600000 */
#define CHECK_NS    1000000 /* stop checks every 1 ms */

static const char *const ms_params[] = { "ms", NULL };

static int
ms_parse(struct job *job, const json_t *params, const struct sbk_config *cfg,
    struct rpc_error *err)
{
	const json_t *v[1];
	long long ms;

	/* A type or range error comes before "required". */
	if (job_params_get(params, ms_params, v, err) < 0 ||
	    job_value_int(v[0], "ms", -1, 0, TEST_MS_MAX, &ms, err) < 0)
		return -1;
	if (ms == -1)
		return rpc_error_param(err, "ms", "'ms' is required");
	job->arg = (void *)(intptr_t)ms;
	return 0;
}

/*
 * {name: ms}.  Built directly: json_pack would parse its format for
 * each of the many tiny jobs these methods are benchmarked with.
 */
static json_t *
ms_result(const char *name, uint64_t ms)
{
	json_t *o = json_object();

	if (o != NULL &&
	    json_object_set_new_nocheck(
		o, name, json_integer((json_int_t)ms)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static json_t *
sleep_run(struct job *job, struct rpc_error *err)
{
	uint64_t start = clock_now_ns();
	uint64_t end = start + (uint64_t)(intptr_t)job->arg * 1000000;
	uint64_t now;

	while ((now = clock_now_ns()) < end) {
		uint64_t step = end - now < CHECK_NS ? end - now : CHECK_NS;
		struct timespec ts = { 0, (long)step };

		if (job_should_stop(job))
			return NULL;
		nanosleep(&ts, NULL);
	}
	return ms_result("slept_ms", (clock_now_ns() - start) / 1000000);
}

static json_t *
spin_run(struct job *job, struct rpc_error *err)
{
	uint64_t start = clock_now_ns();
	uint64_t end = start + (uint64_t)(intptr_t)job->arg * 1000000;
	uint64_t next_check = start + CHECK_NS;
	uint64_t now;

	while ((now = clock_now_ns()) < end) {
		if (now >= next_check) {
			if (job_should_stop(job))
				return NULL;
			next_check = now + CHECK_NS;
		}
	}
	return ms_result("spun_ms", (now - start) / 1000000);
}

const struct job_kind job_sleep = {
	.method = "sleep",
	.lane = LANE_IO,
	.flags = JOB_KIND_TEST,
	.parse = ms_parse,
	.run = sleep_run,
};

const struct job_kind job_spin = {
	.method = "spin",
	.lane = LANE_CPU,
	.flags = JOB_KIND_TEST,
	.parse = ms_parse,
	.run = spin_run,
};

static json_t *iso_test_run(struct job *, struct rpc_error *);

#define ISO_TEST_FLAGS (JOB_KIND_TEST | JOB_KIND_NO_PARAMS | JOB_KIND_ISOLATED)

const struct job_kind job_test_crash = {
	.method = "test.crash",
	.lane = LANE_CPU,
	.flags = ISO_TEST_FLAGS,
	.parse = job_parse_no_params,
	.run = iso_test_run,
};

const struct job_kind job_test_forbidden_call = {
	.method = "test.forbidden_call",
	.lane = LANE_CPU,
	.flags = ISO_TEST_FLAGS,
	.parse = job_parse_no_params,
	.run = iso_test_run,
};

const struct job_kind job_test_hang = {
	.method = "test.hang",
	.lane = LANE_CPU,
	.flags = ISO_TEST_FLAGS,
	.parse = job_parse_no_params,
	.run = iso_test_run,
};

const struct job_kind job_test_helper_pid = {
	.method = "test.helper_pid",
	.lane = LANE_CPU,
	.flags = ISO_TEST_FLAGS,
	.parse = job_parse_no_params,
	.run = iso_test_run,
};

const struct job_kind job_test_helper_lie = {
	.method = "test.helper_lie",
	.lane = LANE_CPU,
	.flags = ISO_TEST_FLAGS,
	.parse = job_parse_no_params,
	.run = iso_test_run,
};

static const struct {
	const struct job_kind *kind;
	enum iso_op op;
} iso_test_ops[] = {
	{ &job_test_crash, ISO_OP_TEST_CRASH },
	{ &job_test_forbidden_call, ISO_OP_TEST_FORBIDDEN },
	{ &job_test_hang, ISO_OP_TEST_HANG },
	{ &job_test_helper_pid, ISO_OP_TEST_PID },
	{ &job_test_helper_lie, ISO_OP_TEST_LIE },
};

/* The kind's op in the helper, and its JSON text answer as the result. */
static json_t *
iso_test_run(struct job *job, struct rpc_error *err)
{
	struct iso_request req = { .out_max = 4096 };
	struct iso_result res;
	json_t *result;

	for (size_t i = 0; i < sizeof(iso_test_ops) / sizeof(iso_test_ops[0]);
	     i++)
		if (iso_test_ops[i].kind == job->kind)
			req.op = iso_test_ops[i].op;
	if (iso_call(job, &req, NULL, 0, NULL, &res, err) < 0)
		return NULL;
	result =
	    json_loadb((const char *)res.out, (size_t)res.out_len, 0, NULL);
	free(res.out);
	if (result == NULL)
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL,
		    "isolated helper answered no JSON object");
	return result;
}
