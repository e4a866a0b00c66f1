/*
 * job.h - one unit of work, its life as one state machine, and the
 * job-kind table interface.
 *
 * A job kind is a const struct job_kind in daemon/jobs/<kind>.c, listed in
 * daemon/jobs/table.c.  The core never learns a kind's name: it parses the
 * envelope, finds the kind by method, lets the kind validate its params on
 * the event thread, runs it inline or on a pool, and sends what it returns.
 *
 * A job's life is job->state, moved only by job.c, which aborts on a move
 * not in this table (a bug, in every build):
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
 * The moves to ANSWERED and ABANDONED ("finished") are dispatch.c's
 * job_finish, once per job: it counts the stats, writes the access-log
 * line and queues the reply or drops it.  Threads race only over a job
 * the pool holds (QUEUED, RUNNING, DONE): each move is a compare-and-swap,
 * so a worker that finds its job ABANDONED does not run it, or its result
 * is discarded.
 *
 * Owner per state: PARSED its preparer (the event thread, or the parser
 * lane for a big line), job->conn borrowed during admission; QUEUED the
 * pool; RUNNING the worker (it writes only job->arg, params (it may free
 * them), reply, reply_len, error_code, started_ns and ended_ns, and reads
 * what parse stored); DONE the completion queue; ANSWERED the event
 * thread, which frees it at once; ABANDONED the worker or the completion
 * queue, until the pool hands it back to the event thread, which frees it
 * then (dispatch_job_free, never while a worker holds it).  From
 * job_submit to the free job->conn is a counted reference.  Shared
 * between threads, and atomics: job->state, started_ns and ended_ns.
 */
#ifndef SBK_JOB_H
#define SBK_JOB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
/*
 * uthash's default on a failed allocation is exit(-1): the daemon would
 * vanish without a word.  Non-fatal, an element that cannot be added is
 * left out (its hh.tbl stays NULL) and dispatch.c copes.
 */
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#include "rpc.h"
#include "pool.h"

struct dispatch;
struct sbk_config;
struct job;

/*
 * Where a kind runs.  The pool lanes index the scheduler's arrays
 * (SCHED_LANES); the zero value is no lane at all, so a job_table row
 * that forgets .lane is refused by the table test instead of running on
 * the event thread.
 */
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
	JOB_PARSED = 0, /* prepared: params checked, the kind's parse done */
	JOB_QUEUED,	/* admitted to the pool, waiting for a worker */
	JOB_RUNNING,	/* a worker runs it */
	JOB_DONE,	/* run and reply made; the completion is on its way */
	JOB_ANSWERED,	/* finished: reply queued or dropped */
	JOB_ABANDONED,	/* finished while the pool held it: result discarded */
};

struct job_kind {
	const char *method;
	enum job_lane lane;
	unsigned flags; /* JOB_KIND_* */

	/*
	 * Event thread.  Validate params (an object, or NULL when absent;
	 * the common members timeout_ms and progress are already checked
	 * and must be skipped, see job_params_check) and store what run
	 * needs in job->arg, for gated kinds job->work.item.cost, and for
	 * kinds whose reply may be large job->work.item.out_cost (the most
	 * bytes the reply can have; job_reply_cost helps).  Cheap
	 * checks only: anything proportional to a payload (base64 decode,
	 * hashing) belongs in run.  0, or -1 with err set.
	 */
	int (*parse)(struct job *, const json_t *params,
	    const struct sbk_config *, struct rpc_error *);

	/*
	 * Worker thread (LANE_CPU/LANE_IO) or event thread (LANE_EVENT).
	 * Do the work; cooperative kinds call job_should_stop() at least
	 * every 10 ms of work and return NULL with any error when it says
	 * true (the core replaces that error by the stop reason's).
	 * Returns the "result" value (a new reference), or NULL with err set.
	 */
	json_t *(*run)(struct job *, struct rpc_error *);

	/*
	 * Exactly once, when the job is freed: release job->arg.  On the
	 * event thread, or on the parser thread when a big line's parse
	 * failed.  Called before the core drops job->params, so a kind may
	 * still wipe secrets held there.
	 */
	void (*free)(struct job *);

	/*
	 * Optional resource gate (argon2 memory): a job of this kind only
	 * starts while the sum of work.cost over running jobs of the same
	 * gate stays within the budget; otherwise it waits in the queue
	 * without holding a worker.  Left out, it is JOB_GATE_NONE.
	 */
	enum job_gate gate;
};

/* The pool's gate (POOL_GATE_*) a kind's jobs are charged to. */
static inline int
job_pool_gate(enum job_gate gate)
{
	return gate == JOB_GATE_ARGON2_MEM ? POOL_GATE_ARGON2_MEM :
					     POOL_GATE_NONE;
}

/* Ids up to this long, NUL included, live inside the job. */
#define JOB_ID_INLINE RPC_SCAN_ID_MAX

struct job {
	struct pool_work work; /* first: the pool's part */
	const struct job_kind *kind;
	const struct sbk_config *config;
	struct dispatch *disp; /* event thread only (LANE_EVENT kinds) */
	struct conn *conn;     /* see "Owner per state" */
	struct batch *batch;   /* NULL unless in a batch */
	json_t *params;	       /* owned; NULL when absent */
	bool params_shared;    /* the request JSON holds them too */
	char *id_json;	       /* id_buf, or malloc'd; NULL: notification */
	void *arg;	       /* the kind's own state */

	_Atomic int state;    /* enum job_state; moved by job.c only */
	uint64_t received_ns; /* CLOCK_MONOTONIC */
	uint64_t deadline_ns; /* 0: none */
	/*
	 * Set by the worker, read by the event thread (log_job, admin.jobs)
	 * while a job finished early may still be running: atomics.
	 */
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
	char id_buf[JOB_ID_INLINE];
};

/*
 * Worker side.  True when the job should stop now: ended early (ABANDONED:
 * cancelled, past its deadline, its client gone, the daemon giving up on
 * it) or past its deadline.  One atomic load and maybe one clock read.
 */
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

/*
 * Worker side.  Report progress of a long job; sends a "progress"
 * notification to the client at most every 100 ms, and only when the
 * request asked for it.  Safe to call often.
 */
void job_progress(struct job *, uint64_t done, uint64_t total);

/*
 * For a kind's parse: fail with -32602 naming the first member of params
 * that is neither in allowed (a NULL-terminated list) nor a common member
 * (timeout_ms, progress).  A non-object params has already been refused.
 */
int job_params_check(
    const json_t *params, const char *const *allowed, struct rpc_error *);

/*
 * Typed getters for a kind's parse.  Each returns 0 with *out set (to
 * def when the member is absent), or -1 with err = -32602 naming the
 * member when it has the wrong type or lies outside [min, max].
 */
int job_param_int(const json_t *params, const char *name, long long def,
    long long min, long long max, long long *out, struct rpc_error *);
int job_param_bool(const json_t *params, const char *name, bool def, bool *out,
    struct rpc_error *);
/* The same checks on a member already found (v NULL: absent). */
int job_value_int(const json_t *v, const char *name, long long def,
    long long min, long long max, long long *out, struct rpc_error *);
int job_value_bool(
    const json_t *v, const char *name, bool def, bool *out, struct rpc_error *);

/*
 * For a kind's parse: job_params_check and the lookups in one walk over
 * params.  Fails as job_params_check does, else sets vals[i] to the
 * member called names[i] (a NULL-terminated list), NULL when absent.
 */
int job_params_get(const json_t *params, const char *const *names,
    const json_t **vals, struct rpc_error *);

/*
 * For the core: the common members timeout_ms and progress (NULL when
 * absent), in one walk; other members are left to the kind.
 */
void job_params_common(
    const json_t *params, const json_t **timeout_ms, const json_t **progress);

/* Absent: -32602 when required, else 0 with *out NULL.  *out borrows
 * from params (may hold NUL: *lenp is the length). */
int job_param_string(const json_t *params, const char *name, bool required,
    const char **out, size_t *lenp, struct rpc_error *);

/*
 * The most bytes of a reply line carrying raw bytes of data as base64,
 * with room for the envelope: a kind's out_cost.
 */
unsigned long job_reply_cost(size_t raw_bytes);

/*
 * Worker side, for kinds that read a file in chunks (file.read, zstd's
 * path mode): read up to len bytes at offset off (-1: at the file
 * position), retrying on EINTR, then check job_should_stop().  The bytes
 * read (0 at end of file), or -1 with err set: "path: read failed" with
 * the errno, or stopped.
 */
ssize_t job_read_chunk(
    struct job *, int fd, void *buf, size_t len, off_t off, struct rpc_error *);

/* Look a method up in the job table; NULL when unknown. */
const struct job_kind *job_kind_find(const char *method, size_t len);

/* The whole table, NULL-terminated (for tests and stats). */
extern const struct job_kind *const job_table[];

#endif /* SBK_JOB_H */
