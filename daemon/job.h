/*
 * job.h - one unit of work, its state machine, and the job-kind table.
 * A kind is a const struct job_kind in daemon/jobs/<kind>.c, listed in
 * daemon/jobs/table.c; the core never learns a kind's name.
 *
 * job->state is moved only by job.c, which aborts on a move not in this
 * table (a bug, in every build):
 *
 *   from      to         thread  when
 *   PARSED    QUEUED     event   job_submit: the pool admitted it
 *   PARSED    ANSWERED   event   run inline, or refused (-32000, draining)
 *   QUEUED    RUNNING    worker  job_try_run, as a worker starts it
 *   QUEUED    ANSWERED   event   taken back by pool_cancel, never run
 *   QUEUED    ABANDONED  event   ended early just after a worker took it
 *   RUNNING   DONE       worker  job_set_done: run over, reply made
 *   RUNNING   ABANDONED  event   cancel, deadline, client gone, shutdown
 *   DONE      ANSWERED   event   its completion collected
 *   DONE      ABANDONED  event   client gone or shutdown before that
 *
 * Only dispatch.c's job_finish makes the moves to ANSWERED or ABANDONED
 * ("finished"), once per job.  Threads race only over a job the pool
 * holds (QUEUED, RUNNING, DONE), so each move is a compare-and-swap: a
 * worker that finds its job ABANDONED does not run it, or its result is
 * discarded.
 *
 * Owner per state: PARSED its preparer (the event thread, or the parser
 * lane for a big line; job->conn borrowed); QUEUED the pool; RUNNING the
 * worker (it writes only arg, params (it may free them), reply, reply_len,
 * error_code, started_ns, ended_ns); DONE the completion queue; ANSWERED
 * the event thread, which frees it at once; ABANDONED the worker or the
 * completion queue, until the pool hands it back and the event thread
 * frees it.  From job_submit to the free, job->conn is a counted
 * reference.
 */
#ifndef SBK_JOB_H
#define SBK_JOB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
/* uthash's default on a failed allocation is exit(-1).  Non-fatal, an
 * element not added is left out (hh.tbl NULL) and dispatch.c copes. */
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#include "rpc.h"
#include "pool.h"

struct dispatch;
struct sbk_config;
struct job;

/* Where a kind runs; pool lanes index SCHED_LANES arrays.  Zero is no
 * lane: a row that forgets .lane fails the table test instead of
 * running on the event thread. */
enum job_lane {
	LANE_EVENT = -1, /* inline on the event thread, never queued */
	LANE_NONE = 0,	 /* not set: invalid */
	LANE_CPU,	 /* CPU pool: computes */
	LANE_IO,	 /* I/O pool: waits */
	LANE_PARSE,	 /* parser thread: big request lines (internal) */
};

/* A kind's resource gate; the zero value is none. */
enum job_gate {
	JOB_GATE_NONE = 0,
	JOB_GATE_ARGON2_MEM, /* POOL_GATE_ARGON2_MEM: argon2's memory */
};

#define JOB_KIND_TEST 0x1 /* exists only with enable_test_methods */
/* Takes no params: [] stands for none (contract 1.3). */
#define JOB_KIND_NO_PARAMS 0x2
/* May run in an isolated helper when [isolation] kinds names it (isolate.h). */
#define JOB_KIND_ISOLABLE 0x4
/* Always runs in an isolated helper (test kinds). */
#define JOB_KIND_ISOLATED 0x8

/* A job's life: see the table at the top. */
enum job_state {
	JOB_PARSED = 0,
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,
	JOB_ANSWERED,
	JOB_ABANDONED,
};

struct job_kind {
	const char *method;
	enum job_lane lane;
	unsigned flags; /* JOB_KIND_* */

	/*
	 * Event thread (or the parser lane).  Validate params (an object, or
	 * NULL; skip the core's timeout_ms and progress, as job_params_check
	 * does) and store what run needs in job->arg, for gated kinds work.item.cost, and for
	 * big replies work.item.out_cost (at most bytes; job_reply_cost).
	 * Cheap checks only: anything proportional to a payload (base64,
	 * hashing) belongs in run.  0, or -1 with err set.
	 */
	int (*parse)(struct job *, const json_t *params,
	    const struct sbk_config *, struct rpc_error *);

	/*
	 * Worker (LANE_CPU/LANE_IO) or event thread (LANE_EVENT): the
	 * "result" (a new reference), or NULL with err set.  Call
	 * job_should_stop() at least every 10 ms of work and return NULL
	 * when it says true (the core answers with the stop's error).
	 */
	json_t *(*run)(struct job *, struct rpc_error *);

	/* Once, when the job is freed (event thread or parser lane): release
	 * job->arg.  Before params are dropped: a kind may wipe secrets. */
	void (*free)(struct job *);

	/* A job starts only while the work.cost of its gate's running jobs
	 * stays within the budget; it waits without holding a worker. */
	enum job_gate gate;
};

/* The pool's gate (POOL_GATE_*) a kind's jobs are charged to. */
static inline int
job_pool_gate(enum job_gate gate)
{
	return gate == JOB_GATE_ARGON2_MEM ? POOL_GATE_ARGON2_MEM :
					     POOL_GATE_NONE;
}

struct job {
	struct pool_work work; /* first: the pool's part */
	const struct job_kind *kind;
	const struct sbk_config *config;
	struct dispatch *disp; /* event thread only (LANE_EVENT kinds) */
	struct conn *conn;     /* see "Owner per state" */
	struct batch *batch;   /* NULL unless in a batch */
	json_t *params;	       /* owned; NULL when absent */
	bool params_shared;    /* the request JSON holds them too */
	bool params_big;       /* parsed on the parser lane (a big line) */
	char *id_json;	       /* id_buf, or malloc'd; NULL: notification */
	void *arg;	       /* the kind's own state */

	_Atomic int state;    /* enum job_state; moved by job.c only */
	uint64_t received_ns; /* CLOCK_MONOTONIC */
	uint64_t deadline_ns; /* 0: none */
	/* Written by the worker (a LANE_EVENT kind's: the event thread),
	 * read by the event thread (log_job, admin.jobs) while an
	 * abandoned job may still run: atomics. */
	_Atomic uint64_t started_ns;
	_Atomic uint64_t ended_ns;
	bool want_progress;
	uint64_t last_progress_ns; /* worker only */

	/* The reply line (malloc'd) the worker made, or the event thread
	 * for a job not run on a pool; job_finish takes it. */
	char *reply;
	size_t reply_len;
	int error_code; /* the run's: 0 on success */
	/* Bytes of the output budget its queued reply holds until written. */
	unsigned long out_kept;

	/* Event-thread bookkeeping (conn.c, dispatch.c). */
	struct event *timer; /* deadline timer, or NULL */
	struct job *conn_next, *conn_prev;
	UT_hash_handle hh; /* conn's in-flight ids */

	/* The id's text (rpc_id_dump's) when short: no allocation. */
	char id_buf[RPC_SCAN_ID_MAX];
};

/* Worker: true when the job should stop now: ABANDONED, or past its
 * deadline.  One atomic load and maybe one clock read. */
bool job_should_stop(struct job *);

/* Any thread: the state (a held job's may move meanwhile). */
enum job_state job_state(struct job *);
/* ANSWERED or ABANDONED: job_finish has run. */
bool job_is_finished(struct job *);
/* Event thread: PARSED -> QUEUED by pool_submit, or refused (its -errno)
 * and still PARSED. */
int job_submit(struct job *, struct pool *);
/* Worker, first: QUEUED -> RUNNING; false when ABANDONED: do not run. */
bool job_try_run(struct job *);
/* Worker, last: RUNNING -> DONE, or it stays ABANDONED. */
void job_set_done(struct job *);
/* Event thread, job_finish only: to ABANDONED when the pool still holds
 * the job (held), else to ANSWERED.  Returns the state it left. */
enum job_state job_set_finished(struct job *, bool held);

/* Worker: a "progress" notification, when the request asked for it, at
 * most every 100 ms.  Safe to call often. */
void job_progress(struct job *, uint64_t done, uint64_t total);

/* For a kind's parse: -32602 naming the first member of params neither in
 * allowed (NULL-terminated; NULL: none) nor timeout_ms or progress. */
int job_params_check(
    const json_t *params, const char *const *allowed, struct rpc_error *);
/* The parse of a JOB_KIND_NO_PARAMS kind: job_params_check with none. */
int job_parse_no_params(struct job *, const json_t *params,
    const struct sbk_config *, struct rpc_error *);

/* Typed getters for a kind's parse: 0 with *out set (def when absent),
 * or -1 with -32602 naming a member of the wrong type or out of range. */
int job_param_int(const json_t *params, const char *name, long long def,
    long long min, long long max, long long *out, struct rpc_error *);
int job_param_bool(const json_t *params, const char *name, bool def, bool *out,
    struct rpc_error *);
/* The same checks on a member already found (v NULL: absent). */
int job_value_int(const json_t *v, const char *name, long long def,
    long long min, long long max, long long *out, struct rpc_error *);
int job_value_bool(
    const json_t *v, const char *name, bool def, bool *out, struct rpc_error *);

/* job_params_check and the lookups in one walk: vals[i] is the member
 * called names[i] (NULL-terminated), NULL when absent. */
int job_params_get(const json_t *params, const char *const *names,
    const json_t **vals, struct rpc_error *);

/* For the core: timeout_ms and progress (NULL when absent). */
void job_params_common(
    const json_t *params, const json_t **timeout_ms, const json_t **progress);

/* Absent: -32602 when required, else 0 with *out NULL.  *out borrows
 * from params (may hold NUL: *lenp is the length). */
int job_param_string(const json_t *params, const char *name, bool required,
    const char **out, size_t *lenp, struct rpc_error *);

/* A kind's out_cost: the most bytes of a reply carrying raw_bytes as
 * base64, envelope included. */
unsigned long job_reply_cost(size_t raw_bytes);

/*
 * Worker, for kinds that read a file in chunks: up to len bytes at off
 * (-1: the file position), retried on EINTR, then job_should_stop().  The
 * bytes read (0 at end of file), or -1 with err set ("path: read failed"
 * with the errno, or stopped).
 */
ssize_t job_read_chunk(
    struct job *, int fd, void *buf, size_t len, off_t off, struct rpc_error *);

/* Look a method up in the job table; NULL when unknown. */
const struct job_kind *job_kind_find(const char *method, size_t len);

/* A kind's pool class (struct pool_work's cls): its row, from 1. */
unsigned job_kind_class(const struct job_kind *);

/* The whole table, NULL-terminated (for tests and stats). */
extern const struct job_kind *const job_table[];

#endif /* SBK_JOB_H */
