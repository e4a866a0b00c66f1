/*
 * check_job_state.c - a job's state machine (job.h's table): every move
 * from every state, the legal ones to their state and the others to
 * abort(); the worker's moves racing the event thread's end of a held job
 * on two threads; and the moves a real pool makes, with its worker held
 * on a semaphore (libuv's saturate_threadpool).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "job.h"
#include "pool.h"

#define CPU 1

/* The moves: the event thread's admission and end, the worker's two. */
enum op { SUBMIT, TRY_RUN, SET_DONE, FINISH, FINISH_HELD, OPS };

static const char *const op_names[OPS] = { "job_submit", "job_try_run",
	"job_set_done", "job_set_finished(held=false)",
	"job_set_finished(held=true)" };

#define NSTATES (JOB_ABANDONED + 1)
#define ABORTS	(-1)

/*
 * The state each move leaves, from each state (job.h's table; ABORTS:
 * not in it).  From ABANDONED the worker's moves are no-ops: a worker
 * that finds its job ended early neither runs it nor marks it done.
 */
static const int next_state[NSTATES][OPS] = {
	[JOB_PARSED] = { JOB_QUEUED, ABORTS, ABORTS, JOB_ANSWERED, ABORTS },
	[JOB_QUEUED] = { ABORTS, JOB_RUNNING, ABORTS, JOB_ANSWERED,
	    JOB_ABANDONED },
	[JOB_RUNNING] = { ABORTS, ABORTS, JOB_DONE, ABORTS, JOB_ABANDONED },
	[JOB_DONE] = { ABORTS, ABORTS, ABORTS, JOB_ANSWERED, JOB_ABANDONED },
	[JOB_ANSWERED] = { ABORTS, ABORTS, ABORTS, ABORTS, ABORTS },
	[JOB_ABANDONED] = { ABORTS, JOB_ABANDONED, JOB_ABANDONED, ABORTS,
	    ABORTS },
};

static struct sched_owner owner;

/* A pool without workers: a submitted job stays queued. */
static struct pool *
idle_pool(unsigned queue_max)
{
	struct pool_params pp = { .queue_max = queue_max };
	struct pool *p = pool_new(&pp);

	ck_assert_ptr_nonnull(p);
	return p;
}

static void
no_run(struct pool_work *w)
{
	(void)w;
}

static void
init_job(struct job *job, int state)
{
	memset(job, 0, sizeof(*job));
	job->work.item.owner = &owner;
	job->work.item.lane = CPU;
	job->work.item.gate = POOL_GATE_NONE;
	job->work.run = no_run;
	atomic_store(&job->state, state);
}

/* Apply op to a job in state from; the state it leaves. */
static int
apply(int from, enum op op)
{
	struct pool *p = op == SUBMIT ? idle_pool(1) : NULL;
	struct job job;
	int left = -2;

	init_job(&job, from);
	switch (op) {
	case SUBMIT:
		ck_assert_int_eq(job_submit(&job, p), 0);
		ck_assert_uint_eq(pool_pending(p), 1);
		ck_assert(pool_cancel(p, &job.work));
		pool_free(p);
		break;
	case TRY_RUN:
		ck_assert(job_try_run(&job) == (from == JOB_QUEUED));
		break;
	case SET_DONE:
		job_set_done(&job);
		break;
	case FINISH:
	case FINISH_HELD:
		left = job_set_finished(&job, op == FINISH_HELD);
		ck_assert_int_eq(left, from); /* the state it left */
		break;
	default:
		ck_abort();
	}
	return job_state(&job);
}

/* The (state, op) pairs of the table, legal ones and aborting ones. */
static int legal[NSTATES * OPS], illegal[NSTATES * OPS];
static int nlegal, nillegal;

static void
split_table(void)
{
	for (int s = 0; s < NSTATES; s++)
		for (int o = 0; o < OPS; o++) {
			if (next_state[s][o] == ABORTS)
				illegal[nillegal++] = s * OPS + o;
			else
				legal[nlegal++] = s * OPS + o;
		}
}

START_TEST(legal_moves)
{
	int s = legal[_i] / OPS, o = legal[_i] % OPS;
	int got = apply(s, (enum op)o);

	ck_assert_msg(got == next_state[s][o], "%s from %d: state %d, not %d",
	    op_names[o], s, got, next_state[s][o]);
}
END_TEST

/* Every move the table does not have aborts (SIGABRT), in any build. */
START_TEST(illegal_moves_abort)
{
	int s = illegal[_i] / OPS, o = illegal[_i] % OPS;

	apply(s, (enum op)o);
	ck_abort_msg("%s from state %d did not abort", op_names[o], s);
}
END_TEST

/* A state that is no state at all (memory gone bad) aborts too. */
START_TEST(garbage_state_aborts)
{
	struct job job;

	init_job(&job, 42);
	job_set_finished(&job, _i == 1);
}
END_TEST

/* The table's size: 9 moves in, each state's worker no-ops, 19 out. */
START_TEST(table_counts)
{
	ck_assert_int_eq(nlegal, 9 + 2);
	ck_assert_int_eq(nillegal, NSTATES * OPS - 11);
}
END_TEST

/* A refused submit leaves the job PARSED (never admitted): it then ends
 * as a PARSED job does, and nothing is pending in the pool. */
START_TEST(refused_submit_stays_parsed)
{
	struct pool *p = idle_pool(0);
	struct job job;

	init_job(&job, JOB_PARSED);
	ck_assert_int_eq(job_submit(&job, p), -EAGAIN);
	ck_assert_int_eq(job_state(&job), JOB_PARSED);
	ck_assert_uint_eq(pool_pending(p), 0);
	pool_stop_admission(p);
	ck_assert_int_eq(job_submit(&job, p), -ESHUTDOWN);
	ck_assert_int_eq(job_state(&job), JOB_PARSED);
	ck_assert_int_eq(job_set_finished(&job, false), JOB_PARSED);
	ck_assert(job_is_finished(&job));
	pool_free(p);
}
END_TEST

/* job_should_stop: an ended (ABANDONED) job, or one past its deadline. */
START_TEST(should_stop)
{
	struct job job;

	init_job(&job, JOB_QUEUED);
	ck_assert(job_try_run(&job));
	ck_assert(!job_should_stop(&job));
	ck_assert(!job_is_finished(&job));
	job.deadline_ns = clock_now_ns() + 60ull * 1000000000;
	ck_assert(!job_should_stop(&job));
	job.deadline_ns = clock_now_ns() - 1;
	ck_assert(job_should_stop(&job));
	ck_assert_int_eq(job_state(&job), JOB_RUNNING); /* only a check */
	job.deadline_ns = 0;
	ck_assert_int_eq(job_set_finished(&job, true), JOB_RUNNING);
	ck_assert(job_should_stop(&job));
	ck_assert(job_is_finished(&job));
	job_set_done(&job);
	ck_assert_int_eq(job_state(&job), JOB_ABANDONED);
}
END_TEST

/*
 * The race the state machine exists for: a worker's QUEUED -> RUNNING ->
 * DONE against the event thread ending the job at any moment.  Exactly
 * one side wins each step: a job ended while QUEUED never runs; one ended
 * later ran, and stays ABANDONED whatever the worker does after.
 */
struct race {
	struct job job;
	sem_t go, back;
	_Atomic bool ran;
	_Atomic bool quit;
};

static void *
race_worker(void *arg)
{
	struct race *r = arg;

	for (;;) {
		sem_wait(&r->go);
		if (atomic_load(&r->quit))
			break;
		if (job_try_run(&r->job)) {
			atomic_store(&r->ran, true);
			for (volatile int spin = rand() % 100000; spin > 0;
			     spin--)
				;
			job_set_done(&r->job);
		}
		sem_post(&r->back);
	}
	return NULL;
}

START_TEST(worker_races_end)
{
	struct race r;
	pthread_t t;
	int seen[NSTATES] = { 0 };

	memset(&r, 0, sizeof(r));
	sem_init(&r.go, 0, 0);
	sem_init(&r.back, 0, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, race_worker, &r), 0);
	for (int i = 0; i < 4000; i++) {
		enum job_state from;

		init_job(&r.job, JOB_QUEUED);
		atomic_store(&r.ran, false);
		sem_post(&r.go);
		for (volatile int spin = rand() % 100000; spin > 0; spin--)
			;
		if (i % 4 == 3) {
			/* The completion first, as job_work_complete. */
			sem_wait(&r.back);
			from = job_set_finished(&r.job, false);
			ck_assert_int_eq(from, JOB_DONE);
			ck_assert_int_eq(job_state(&r.job), JOB_ANSWERED);
			continue;
		}
		from = job_set_finished(&r.job, true);
		sem_wait(&r.back);
		seen[from]++;
		ck_assert_int_eq(job_state(&r.job), JOB_ABANDONED);
		ck_assert_msg(atomic_load(&r.ran) == (from != JOB_QUEUED),
		    "ended from %d, ran %d", from, atomic_load(&r.ran));
	}
	atomic_store(&r.quit, true);
	sem_post(&r.go);
	pthread_join(t, NULL);
	/* Not asserted (timing): which states the end met. */
	fprintf(stderr, "ended from QUEUED %d, RUNNING %d, DONE %d\n",
	    seen[JOB_QUEUED], seen[JOB_RUNNING], seen[JOB_DONE]);
	ck_assert_int_eq(
	    seen[JOB_QUEUED] + seen[JOB_RUNNING] + seen[JOB_DONE], 3000);
}
END_TEST

/*
 * Through a real pool, its one worker held: the job is RUNNING, the
 * event thread ends it (held: pool_cancel is too late), the worker sees
 * job_should_stop() and its job_set_done leaves it ABANDONED; the pool
 * hands it back once.
 */
static sem_t started, release;
static _Atomic bool saw_stop;

static void
held_run(struct pool_work *w)
{
	struct job *job = (struct job *)w;

	if (!job_try_run(job))
		return;
	sem_post(&started);
	sem_wait(&release);
	atomic_store(&saw_stop, job_should_stop(job));
	job_set_done(job);
}

static int handed_back;

static void
collect_cb(struct pool_msg *m, void *arg)
{
	(void)arg;
	ck_assert_ptr_null(m->bytes);
	handed_back++;
}

START_TEST(pool_end_while_running)
{
	struct pool_params pp = { .queue_max = 4 };
	struct pollfd pfd;
	struct pool *p;
	struct job run, wait;

	pp.workers[CPU] = 1;
	sem_init(&started, 0, 0);
	sem_init(&release, 0, 0);
	ck_assert_ptr_nonnull(p = pool_new(&pp));
	init_job(&run, JOB_PARSED);
	init_job(&wait, JOB_PARSED);
	run.work.run = wait.work.run = held_run;
	ck_assert_int_eq(job_submit(&run, p), 0);
	pool_kick(p);
	sem_wait(&started);
	ck_assert_int_eq(job_state(&run), JOB_RUNNING);
	ck_assert_int_eq(job_submit(&wait, p), 0);
	ck_assert_int_eq(job_state(&wait), JOB_QUEUED);
	ck_assert_uint_eq(pool_pending(p), 2);

	/* Waiting: taken back, ANSWERED, never run. */
	ck_assert(pool_cancel(p, &wait.work));
	ck_assert_int_eq(job_set_finished(&wait, false), JOB_QUEUED);
	/* Running: too late to take back; ABANDONED. */
	ck_assert(!pool_cancel(p, &run.work));
	ck_assert_int_eq(job_set_finished(&run, true), JOB_RUNNING);
	sem_post(&release);

	pfd.fd = pool_event_fd(p);
	pfd.events = POLLIN;
	while (handed_back < 1) {
		ck_assert_int_ge(poll(&pfd, 1, 5000), 1);
		pool_collect(p, collect_cb, NULL);
	}
	ck_assert(atomic_load(&saw_stop));
	ck_assert_int_eq(job_state(&run), JOB_ABANDONED);
	ck_assert_int_eq(job_state(&wait), JOB_ANSWERED);
	ck_assert_uint_eq(pool_pending(p), 0);
	pool_free(p);
	ck_assert_int_eq(handed_back, 1);
}
END_TEST

static Suite *
job_state_suite(void)
{
	Suite *s = suite_create("job_state");
	TCase *tc = tcase_create("moves");

	split_table();
	tcase_add_test(tc, table_counts);
	tcase_add_loop_test(tc, legal_moves, 0, nlegal);
	tcase_add_loop_test_raise_signal(
	    tc, illegal_moves_abort, SIGABRT, 0, nillegal);
	tcase_add_loop_test_raise_signal(
	    tc, garbage_state_aborts, SIGABRT, 0, 2);
	tcase_add_test(tc, refused_submit_stays_parsed);
	tcase_add_test(tc, should_stop);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_add_test(tc, worker_races_end);
	tcase_add_test(tc, pool_end_while_running);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(job_state_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
