/*
 * check_pool.c - the worker pools: admission against queue_max, handoff
 * to idle workers, round-robin order, cancel of waiting work, the
 * completion queue (one eventfd, progress before completion), gates,
 * resizing and shutting down with work queued and running.  Workers are
 * held on semaphores so every state is reached deterministically.
 *
 * The binary is linked with --wrap=pthread_mutex_lock: a worker can be
 * stopped right after it takes a lock (as if preempted there at nice 10
 * on a loaded machine), to show the event thread never waits for it.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"
#include "sanitizer.h"

#define CPU 1

struct test_work {
	struct pool_work work;
	int id;
	sem_t *gate; /* held until posted, or NULL */
	bool progress;
	bool skip; /* run() skips the work, as for a job ended early */
	bool completed;
	int progress_seen;
};

static sem_t started; /* posted by every run() */
static sem_t release; /* run() waits on it when gated */
static _Atomic int order[256];
static _Atomic int norder;

static void
test_run(struct pool_work *w)
{
	struct test_work *t = (struct test_work *)w;

	if (t->skip) {
		w->cls = 0;
		return;
	}
	order[atomic_fetch_add(&norder, 1)] = t->id;
	sem_post(&started);
	if (t->progress)
		pool_post_message(pool_current(), w, strdup("p"), 1);
	if (t->gate != NULL)
		sem_wait(t->gate);
}

static void
init_work(struct test_work *t, int id, struct sched_owner *owner, bool hold)
{
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->gate = hold ? &release : NULL;
	t->work.item.owner = owner;
	t->work.item.lane = CPU;
	t->work.item.gate = POOL_GATE_NONE;
	t->work.run = test_run;
	t->work.cls = 1;
}

static void
collect_cb(struct pool_msg *m, void *arg)
{
	struct test_work *t = (struct test_work *)m->work;
	int *count = arg;

	if (m->bytes != NULL) {
		ck_assert(!t->completed); /* progress comes first */
		t->progress_seen++;
		free(m->bytes);
		return;
	}
	t->completed = true;
	(*count)++;
}

/* Collect until n completions arrived (hang guard: Check's timeout),
 * kicking before each wait as the server's loop does. */
static void
collect(struct pool *p, int n)
{
	struct pollfd pfd = { .fd = pool_event_fd(p), .events = POLLIN };
	int count = 0;

	while (count < n) {
		pool_kick(p);
		ck_assert_int_ge(poll(&pfd, 1, 5000), 1);
		pool_collect(p, collect_cb, &count);
	}
}

static struct pool *
make_pool(unsigned workers, unsigned queue_max)
{
	struct pool_params pp = { .queue_max = queue_max };
	struct pool *p;

	pp.workers[CPU] = workers;
	pp.workers[2] = 1;
	pp.gate_budget[0] = 100;
	sem_init(&started, 0, 0);
	sem_init(&release, 0, 0);
	atomic_store(&norder, 0);
	p = pool_new(&pp);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* Submit and wake the workers (the server kicks once per loop turn). */
static int
submit(struct pool *p, struct test_work *t)
{
	int rc = pool_submit(p, &t->work);

	pool_kick(p);
	return rc;
}

START_TEST(runs_and_completes)
{
	struct pool *p = make_pool(2, 4);
	struct sched_owner o = { 0 };
	struct test_work t[3];

	for (int i = 0; i < 3; i++) {
		init_work(&t[i], i, &o, false);
		ck_assert_int_eq(submit(p, &t[i]), 0);
	}
	ck_assert_uint_eq(pool_pending(p), 3);
	collect(p, 3);
	for (int i = 0; i < 3; i++)
		ck_assert(t[i].completed);
	ck_assert_uint_eq(pool_pending(p), 0); /* all handed back */
	pool_free(p);
}
END_TEST

START_TEST(queue_full_is_refused)
{
	struct pool *p = make_pool(1, 2);
	struct sched_owner o = { 0 };
	struct test_work t[4];
	struct pool_stats st;

	init_work(&t[0], 0, &o, true);
	ck_assert_int_eq(submit(p, &t[0]), 0); /* idle worker: no count */
	sem_wait(&started);
	for (int i = 1; i < 3; i++) {
		init_work(&t[i], i, &o, true);
		ck_assert_int_eq(submit(p, &t[i]), 0);
	}
	pool_get_stats(p, &st);
	ck_assert_uint_eq(st.depth, 2);
	ck_assert_uint_eq(st.busy[CPU], 1);
	init_work(&t[3], 3, &o, true);
	ck_assert_int_eq(submit(p, &t[3]), -EAGAIN);

	for (int i = 0; i < 3; i++)
		sem_post(&release);
	collect(p, 3);
	pool_free(p);
}
END_TEST

START_TEST(queue_max_zero_runs_only_on_idle_worker)
{
	struct pool *p = make_pool(1, 0);
	struct sched_owner o = { 0 };
	struct test_work a, b;

	init_work(&a, 0, &o, true);
	ck_assert_int_eq(submit(p, &a), 0);
	sem_wait(&started);
	init_work(&b, 1, &o, true);
	ck_assert_int_eq(submit(p, &b), -EAGAIN);
	sem_post(&release);
	collect(p, 1);
	ck_assert_int_eq(submit(p, &b), 0); /* the worker is idle again */
	sem_post(&release);
	collect(p, 1);
	pool_free(p);
}
END_TEST

START_TEST(round_robin_between_owners)
{
	struct pool *p = make_pool(1, 64);
	struct sched_owner flood = { 0 }, other = { 0 };
	struct test_work blocker, t[11];

	init_work(&blocker, 100, &flood, true);
	ck_assert_int_eq(submit(p, &blocker), 0);
	sem_wait(&started);
	for (int i = 0; i < 10; i++) {
		init_work(&t[i], i, &flood, false);
		ck_assert_int_eq(submit(p, &t[i]), 0);
	}
	init_work(&t[10], 10, &other, false);
	ck_assert_int_eq(submit(p, &t[10]), 0);
	sem_post(&release);
	collect(p, 12);
	/* The other owner's job runs right after one flooder job at most. */
	ck_assert_int_eq(order[0], 100);
	ck_assert(order[1] == 10 || order[2] == 10);
	pool_free(p);
}
END_TEST

START_TEST(cancel_waiting_not_running)
{
	struct pool *p = make_pool(1, 8);
	struct sched_owner o = { 0 };
	struct test_work run, wait;

	init_work(&run, 0, &o, true);
	ck_assert_int_eq(submit(p, &run), 0);
	sem_wait(&started);
	init_work(&wait, 1, &o, false);
	ck_assert_int_eq(submit(p, &wait), 0);
	ck_assert_uint_eq(pool_pending(p), 2);
	ck_assert(pool_cancel(p, &wait.work));
	ck_assert_uint_eq(pool_pending(p), 1); /* taken back */
	ck_assert(!pool_cancel(p, &wait.work));
	ck_assert(!pool_cancel(p, &run.work)); /* running: too late */
	ck_assert_uint_eq(pool_pending(p), 1);
	sem_post(&release);
	collect(p, 1);
	ck_assert_uint_eq(pool_pending(p), 0);
	ck_assert(run.completed);
	ck_assert(!wait.completed);
	ck_assert_int_eq(atomic_load(&norder), 1);
	pool_free(p);
}
END_TEST

START_TEST(progress_before_completion)
{
	struct pool *p = make_pool(2, 8);
	struct sched_owner o = { 0 };
	struct test_work t;

	init_work(&t, 0, &o, false);
	t.progress = true;
	ck_assert_int_eq(submit(p, &t), 0);
	collect(p, 1);
	ck_assert_int_eq(t.progress_seen, 1);
	pool_free(p);
}
END_TEST

START_TEST(gate_holds_work_without_a_worker)
{
	struct pool *p = make_pool(2, 8);
	struct sched_owner o = { 0 };
	struct test_work big, big2, small;
	struct pool_stats st;

	init_work(&big, 0, &o, true);
	big.work.item.gate = 0;
	big.work.item.cost = 70;
	init_work(&big2, 1, &o, true);
	big2.work.item.gate = 0;
	big2.work.item.cost = 70;
	init_work(&small, 2, &o, true);
	ck_assert_int_eq(submit(p, &big), 0);
	sem_wait(&started);
	ck_assert_int_eq(submit(p, &big2), 0);	/* waits for budget */
	ck_assert_int_eq(submit(p, &small), 0); /* ungated: runs */
	sem_wait(&started);
	ck_assert_int_eq(order[1], 2);
	pool_get_stats(p, &st);
	ck_assert_uint_eq(st.gate_used[0], 70);
	ck_assert_uint_eq(st.queued[CPU], 1);
	sem_post(&release);
	sem_post(&release);
	sem_post(&release);
	collect(p, 3);
	ck_assert_int_eq(order[2], 1);
	pool_get_stats(p, &st);
	ck_assert_uint_eq(st.gate_used[0], 0);
	pool_free(p);
}
END_TEST

/* Wait for n run() starts; the 5 s are a hang guard only. */
static bool
started_within(int n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	for (int i = 0; i < n; i++)
		if (sem_timedwait(&started, &until) != 0)
			return false;
	return true;
}

/* One short job of class 1 through the pool, so it knows they are short. */
static void
learn_short(struct pool *p, struct sched_owner *o)
{
	struct test_work t;

	init_work(&t, 99, o, false);
	ck_assert_int_eq(submit(p, &t), 0);
	collect(p, 1);
	sem_wait(&started);
}

/* One 20 ms job of class cls through the pool. */
static void
learn_long(struct pool *p, struct sched_owner *o, unsigned cls)
{
	struct test_work t;

	init_work(&t, 98, o, true);
	t.work.cls = cls;
	ck_assert_int_eq(submit(p, &t), 0);
	sem_wait(&started);
	usleep(20000);
	sem_post(&release);
	collect(p, 1);
}

/*
 * Session 6's regression: a worker got one job per hand-off and its next
 * only after the event thread collected the last, two thread wakeups per
 * job (spin-0 throughput fell from ~180k to ~20k jobs/s).  Once a class
 * of jobs is known to be short, a worker runs the jobs of it handed ahead
 * without the event thread in between: here nothing is collected.  A long
 * class on the same lane does not change that.
 */
START_TEST(short_jobs_run_without_a_collect_between)
{
	struct pool *p = make_pool(1, 64);
	struct sched_owner o = { 0 };
	struct test_work t[8];

	learn_long(p, &o, 2);
	learn_short(p, &o);
	for (int i = 0; i < 8; i++) {
		init_work(&t[i], i, &o, false);
		ck_assert_int_eq(submit(p, &t[i]), 0);
	}
	ck_assert_msg(started_within(8), "a worker waited for a collect");
	collect(p, 8);
	pool_free(p);
}
END_TEST

/*
 * Handed ahead or not, a job that waits counts against queue_max: the
 * worker is held on one job, two more wait (handed ahead, the lane's jobs
 * being short), a third is refused.
 */
START_TEST(jobs_handed_ahead_count_as_waiting)
{
	struct pool *p = make_pool(1, 2);
	struct sched_owner o = { 0 };
	struct test_work held, t[3];
	struct pool_stats st;

	learn_short(p, &o);
	init_work(&held, 0, &o, true);
	ck_assert_int_eq(submit(p, &held), 0);
	sem_wait(&started);
	for (int i = 0; i < 2; i++) {
		init_work(&t[i], i + 1, &o, false);
		ck_assert_int_eq(submit(p, &t[i]), 0);
	}
	pool_get_stats(p, &st);
	ck_assert_uint_eq(st.depth, 2);
	ck_assert_uint_eq(st.busy[CPU], 1);
	ck_assert_uint_eq(st.queued[CPU], 2);
	init_work(&t[2], 3, &o, false);
	ck_assert_int_eq(submit(p, &t[2]), -EAGAIN);
	sem_post(&release);
	collect(p, 3);
	pool_get_stats(p, &st);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.busy[CPU], 0);
	pool_free(p);
}
END_TEST

/*
 * Long jobs are never handed ahead: after one that ran 20 ms, a job
 * behind a running one waits in the scheduler (fair order, cancellable),
 * however many jobs of its class were skipped since.
 */
START_TEST(long_jobs_are_not_handed_ahead)
{
	struct pool *p = make_pool(1, 8);
	struct sched_owner o = { 0 };
	struct test_work skipped, run, wait;

	learn_short(p, &o);
	learn_long(p, &o, 1);
	/* Skipped jobs (ended before they ran) do not make it look short. */
	for (int i = 0; i < 20; i++) {
		init_work(&skipped, 3, &o, false);
		skipped.skip = true;
		ck_assert_int_eq(submit(p, &skipped), 0);
		collect(p, 1);
	}
	init_work(&run, 1, &o, true);
	ck_assert_int_eq(submit(p, &run), 0);
	sem_wait(&started);
	init_work(&wait, 2, &o, false);
	ck_assert_int_eq(submit(p, &wait), 0);
	ck_assert(pool_cancel(p, &wait.work));
	sem_post(&release);
	collect(p, 1);
	ck_assert(!wait.completed);
	pool_free(p);
}
END_TEST

START_TEST(resize_grows_and_shrinks)
{
	struct pool *p = make_pool(1, 8);
	struct sched_owner o = { 0 };
	struct test_work t[3];
	struct pool_stats st;

	ck_assert_int_eq(pool_resize(p, CPU, 3), 0);
	for (int i = 0; i < 3; i++) {
		init_work(&t[i], i, &o, true);
		ck_assert_int_eq(submit(p, &t[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		sem_wait(&started); /* three run at once */
	pool_get_stats(p, &st);
	ck_assert_uint_eq(st.busy[CPU], 3);
	ck_assert_int_eq(pool_resize(p, CPU, 1), 0);
	for (int i = 0; i < 3; i++)
		sem_post(&release);
	collect(p, 3); /* running jobs finish */
	pool_get_stats(p, &st);
	ck_assert_uint_eq(st.size[CPU], 1);
	pool_free(p);
}
END_TEST

START_TEST(stop_admission_and_free_with_queued_work)
{
	struct pool *p = make_pool(1, 8);
	struct sched_owner o = { 0 };
	struct test_work run, wait;

	init_work(&run, 0, &o, true);
	ck_assert_int_eq(submit(p, &run), 0);
	sem_wait(&started);
	init_work(&wait, 1, &o, false);
	ck_assert_int_eq(submit(p, &wait), 0);
	pool_stop_admission(p);
	ck_assert_int_eq(pool_submit(p, &wait.work), -ESHUTDOWN);
	ck_assert_uint_eq(pool_pending(p), 2); /* a refusal adds none */
	ck_assert(pool_cancel(p, &wait.work)); /* the caller drains it */
	sem_post(&release);
	pool_free(p); /* joins the running worker */
	ck_assert_int_eq(atomic_load(&norder), 1);
}
END_TEST

static int
count_tasks(void)
{
	DIR *dp = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dp);
	return n;
}

static int
count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int ch, n = 0;

	ck_assert_ptr_nonnull(f);
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* Collect (joining leavers) until the threads are back to base. */
static void
reap_to(struct pool *p, int base)
{
	struct pollfd pfd = { .fd = pool_event_fd(p), .events = POLLIN };
	int none = 0;

	while (count_tasks() > base) {
		ck_assert_int_ge(poll(&pfd, 1, 5000), 1);
		pool_collect(p, collect_cb, &none);
	}
	/* The last gone messages may still wait: take them too. */
	if (poll(&pfd, 1, 100) > 0)
		pool_collect(p, collect_cb, &none);
	ck_assert_int_eq(none, 0);
}

/*
 * Issue 11 defect 7: workers that leave on a shrink are joined by
 * pool_collect (their thread and stack are gone), and a grow returns
 * without waiting for the new workers, even with work queued.
 */
START_TEST(resize_joins_leaving_workers)
{
	struct pool *p = make_pool(1, 8);
	struct sched_owner o = { 0 };
	struct test_work t[3];
	int base = count_tasks(), maps;

	/* One held job runs, two wait: growing must not wait for them. */
	for (int i = 0; i < 3; i++) {
		init_work(&t[i], i, &o, true);
		ck_assert_int_eq(submit(p, &t[i]), 0);
	}
	sem_wait(&started);
	ck_assert_int_eq(pool_resize(p, CPU, 8), 0);
	pool_kick(p);
	for (int i = 0; i < 2; i++)
		sem_wait(&started); /* new workers took the queued jobs */
	for (int i = 0; i < 3; i++)
		sem_post(&release);
	collect(p, 3);
	ck_assert_int_eq(pool_resize(p, CPU, 1), 0);
	reap_to(p, base);
	maps = count_maps();
	for (int cycle = 0; cycle < 50; cycle++) {
		ck_assert_int_eq(pool_resize(p, CPU, 8), 0);
		ck_assert_int_eq(pool_resize(p, CPU, 1), 0);
	}
	/* Unjoined, each leaver would keep its stack: 2 mappings. */
	reap_to(p, base);
	ck_assert_int_eq(count_tasks(), base);
#if !SBK_TEST_ASAN && !SBK_TEST_TSAN
	/* (A sanitizer runtime maps bookkeeping per thread of its own.) */
	ck_assert_int_le(count_maps(), maps + 16);
#else
	(void)maps;
#endif
	pool_free(p);
}
END_TEST

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
/* VmSize of this process in KiB. */
static long
vm_size_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmSize:", 7) == 0)
			kib = strtol(line + 7, NULL, 10);
	fclose(f);
	ck_assert_int_gt(kib, 0);
	return kib;
}

/*
 * Issue 19 item 6: a grow whose threads cannot all start changes
 * nothing: the lane keeps its size and the threads that did start leave
 * again.  A real limit: the address space is capped just above what the
 * process maps, so no new thread stack fits.  (Not under a sanitizer,
 * whose runtime needs address space of its own.)
 */
START_TEST(resize_failure_changes_nothing)
{
	struct pool *p = make_pool(1, 8);
	struct sched_owner o = { 0 };
	struct test_work t;
	struct pool_stats st;
	struct rlimit old, rl;
	int base = count_tasks(), rc;

	ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
	rl = old;
	rl.rlim_cur = (rlim_t)(vm_size_kib() + 4096) * 1024;
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
	rc = pool_resize(p, CPU, 8);
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &old), 0);
	ck_assert_int_lt(rc, 0);
	pool_get_stats(p, &st);
	ck_assert_uint_eq(st.size[CPU], 1);
	reap_to(p, base);
	ck_assert_int_eq(count_tasks(), base);

	/* The pool still works, and grows once it can. */
	init_work(&t, 0, &o, false);
	ck_assert_int_eq(submit(p, &t), 0);
	collect(p, 1);
	ck_assert_int_eq(pool_resize(p, CPU, 3), 0);
	pool_get_stats(p, &st);
	ck_assert_uint_eq(st.size[CPU], 3);
	pool_free(p);
}
END_TEST
#endif

/*
 * A worker stopped inside a critical section: armed with n, the n-th
 * pthread_mutex_lock a worker thread takes from now on parks that worker
 * right after it got the lock, until `unpark` is posted.
 */
void __real_pthread_mutex_lock(pthread_mutex_t *);
void __wrap_pthread_mutex_lock(pthread_mutex_t *);

static _Atomic int park_countdown; /* 0: disarmed */
static sem_t parked, unpark;

void
__wrap_pthread_mutex_lock(pthread_mutex_t *mu)
{
	int n;

	__real_pthread_mutex_lock(mu);
	if (pool_current() == NULL)
		return; /* not a worker */
	n = atomic_load(&park_countdown);
	while (
	    n > 0 && !atomic_compare_exchange_weak(&park_countdown, &n, n - 1))
		;
	if (n == 1) {
		sem_post(&parked);
		sem_wait(&unpark);
	}
}

struct event_side {
	struct pool *p;
	struct test_work *next;
	sem_t done;
	int submit_rc;
	bool cancelled;
	int collected;
};

/* What the event thread does in one loop turn, while the worker is parked. */
static void *
event_turn(void *arg)
{
	struct event_side *ev = arg;
	struct pool_stats st;

	ev->submit_rc = pool_submit(ev->p, &ev->next->work);
	pool_kick(ev->p);
	pool_get_stats(ev->p, &st);
	ev->cancelled = pool_cancel(ev->p, &ev->next->work);
	pool_collect(ev->p, collect_cb, &ev->collected);
	sem_post(&ev->done);
	return NULL;
}

/*
 * The priority inversion found by model_fuzz: a nice-10 worker that
 * holds a pool lock and waits for a CPU made the event thread wait too
 * (up to ~300 ms at load 20).  Here the worker is stopped inside its
 * n-th lock after a job (_i + 1: the first and the second it takes), and
 * the event thread's submit, kick, stats, cancel and collect must all
 * return while it stays stopped.  The 8 s wait is a hang guard only.
 */
START_TEST(event_side_never_waits_for_a_stopped_worker)
{
	struct pool *p = make_pool(1, 8);
	struct sched_owner o = { 0 };
	struct test_work first, next;
	struct event_side ev = { .p = p, .next = &next };
	struct pollfd pfd = { .fd = pool_event_fd(p), .events = POLLIN };
	struct timespec until;
	pthread_t tid;
	int count = 0;
	bool ok;

	sem_init(&parked, 0, 0);
	sem_init(&unpark, 0, 0);
	sem_init(&ev.done, 0, 0);
	init_work(&first, 0, &o, true);
	init_work(&next, 1, &o, false);
	ck_assert_int_eq(submit(p, &first), 0);
	sem_wait(&started);
	atomic_store(&park_countdown, _i + 1);
	sem_post(&release);
	/* The worker either stops in a lock or hands the job back. */
	while (sem_trywait(&parked) != 0 && count == 0)
		if (poll(&pfd, 1, 10) > 0)
			pool_collect(p, collect_cb, &count);

	ck_assert_int_eq(pthread_create(&tid, NULL, event_turn, &ev), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 8;
	ok = sem_timedwait(&ev.done, &until) == 0;
	atomic_store(&park_countdown, 0);
	sem_post(&unpark); /* let a parked worker go, pass or fail */
	pthread_join(tid, NULL);
	ck_assert_msg(ok,
	    "the event thread waited for a lock a stopped "
	    "worker holds");
	ck_assert_int_eq(ev.submit_rc, 0);
	/* Not taken back: a worker had it already. */
	ck_assert(ev.cancelled || !next.work.item.queued);
	collect(p, 1 - count - ev.collected + (ev.cancelled ? 0 : 1));
	pool_free(p);
}
END_TEST

static Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, runs_and_completes);
	tcase_add_test(tc, queue_full_is_refused);
	tcase_add_test(tc, queue_max_zero_runs_only_on_idle_worker);
	tcase_add_test(tc, round_robin_between_owners);
	tcase_add_test(tc, cancel_waiting_not_running);
	tcase_add_test(tc, progress_before_completion);
	tcase_add_test(tc, gate_holds_work_without_a_worker);
	tcase_add_test(tc, short_jobs_run_without_a_collect_between);
	tcase_add_test(tc, jobs_handed_ahead_count_as_waiting);
	tcase_add_test(tc, long_jobs_are_not_handed_ahead);
	tcase_add_test(tc, resize_grows_and_shrinks);
	tcase_add_test(tc, resize_joins_leaving_workers);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	tcase_add_test(tc, resize_failure_changes_nothing);
#endif
	tcase_add_test(tc, stop_admission_and_free_with_queued_work);
	tcase_add_loop_test(
	    tc, event_side_never_waits_for_a_stopped_worker, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pool_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
