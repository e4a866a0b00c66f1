/*
 * pool.c - worker threads around the scheduler, and the completion queue
 * back to the event thread.  See pool.h.
 *
 * Locks: pool->mu guards the scheduler, the lanes and the idle lists;
 * pool->cmu guards the completion queue.  They are never held together.
 *
 * Idle workers wait on their own condition variable on a per-lane idle
 * list, so a submit wakes exactly one worker (no thundering herd).
 *
 * Waiting, for queue_max and queue.depth, is counted per lane as the
 * queued jobs beyond the lane's free workers (those not running a job:
 * idle, woken, or between two jobs).  A job that a free worker will take
 * at once therefore never counts (contract: "a job an idle worker takes
 * at once never counts"), even while that worker is still on its way
 * back to the idle list, or still starting.
 *
 * Resizing never waits for a worker: new threads are started and counted
 * at once (a starting worker pops before it first sleeps), and a leaving
 * worker finishes its job, then posts its `gone` message as the last
 * thing it does; pool_collect, on the event thread, joins it then.  So a
 * thread is only ever joined once it is known to be leaving its
 * function, and no grow/shrink cycle leaves a stack behind.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"

struct worker {
	struct pool *pool;
	pthread_t tid;
	int lane;
	pthread_cond_t cond;
	bool signaled; /* woken on purpose */
	bool exit;     /* leave after the current job */
	bool idle;     /* on the lane's idle list */
	bool kick;     /* on to_kick (idle_link), not yet signalled */
	TAILQ_ENTRY(worker) idle_link;
	struct pool_msg gone; /* posted when leaving: join me */
};

TAILQ_HEAD(worker_list, worker);

struct lane {
	struct worker_list idle;
	unsigned nidle;
	unsigned size; /* live workers wanted */
	unsigned live; /* workers not told to exit */
	unsigned busy;
};

struct pool {
	pthread_mutex_t mu;
	struct sched sched;
	struct lane lanes[SCHED_LANES];
	unsigned queue_max;
	int batch_lane;	   /* its workers run SCHED_BATCH */
	int internal_lane; /* internal work only (0: none) */
	int batch_nice;	   /* ... at this nice value */
	bool closed;	   /* no more admission */

	struct worker_list to_kick; /* claimed by submits, not signalled */
	bool kick_pending;	    /* event thread only */

	struct worker **workers; /* every thread not yet joined */
	size_t nworkers;

	pthread_mutex_t cmu;
	struct pool_msg *head;
	struct pool_msg **tail;
	int efd;
};

static __thread struct pool *current_pool;

/* Workers of a lane not running a job.  mu held. */
static unsigned
lane_free(const struct lane *ln)
{
	return ln->live > ln->busy ? ln->live - ln->busy : 0;
}

/*
 * Waiting jobs of a lane: the blocked ones (a gate or their owner's
 * output holds them), and the runnable ones beyond the free workers.
 */
static size_t
lane_waiting(const struct pool *p, int l)
{
	size_t r = sched_runnable(&p->sched, l);
	unsigned free_workers = lane_free(&p->lanes[l]);

	return sched_blocked(&p->sched, l) +
	    (r > free_workers ? r - free_workers : 0);
}

static size_t
pool_depth_locked(const struct pool *p)
{
	size_t depth = 0;

	for (int l = 1; l < SCHED_LANES; l++)
		if (l != p->internal_lane) /* not jobs: never counted */
			depth += lane_waiting(p, l);
	return depth;
}

/*
 * Wake one idle worker of a lane.  mu held.  A wakeup from a submit is
 * only recorded here (deferred) and signalled by pool_kick() once per
 * event-loop iteration: a read that brings 64 requests then costs two
 * futex wakeups, not 64.
 */
static bool
wake_one(struct pool *p, int lane, bool deferred)
{
	struct lane *ln = &p->lanes[lane];
	struct worker *w = TAILQ_FIRST(&ln->idle);

	if (w == NULL)
		return false;
	TAILQ_REMOVE(&ln->idle, w, idle_link);
	w->idle = false;
	ln->nidle--;
	w->signaled = true;
	if (deferred) {
		TAILQ_INSERT_TAIL(&p->to_kick, w, idle_link);
		w->kick = true;
		p->kick_pending = true;
	} else {
		pthread_cond_signal(&w->cond);
	}
	return true;
}

/* Wake as many idle workers as there are runnable jobs for them.  mu held. */
static void
wake_for_queue(struct pool *p, int lane)
{
	size_t q = sched_runnable(&p->sched, lane);

	for (size_t i = 0; i < q && wake_one(p, lane, false); i++)
		;
}

/* Budget came back: jobs of any lane may have become runnable. */
static void
wake_all_lanes(struct pool *p)
{
	for (int l = 1; l < SCHED_LANES; l++)
		wake_for_queue(p, l);
}

static void
post(struct pool *p, struct pool_msg *m)
{
	bool was_empty;
	uint64_t one = 1;

	m->next = NULL;
	pthread_mutex_lock(&p->cmu);
	was_empty = p->head == NULL;
	*p->tail = m;
	p->tail = &m->next;
	pthread_mutex_unlock(&p->cmu);

	/*
	 * One wakeup per batch: only the post that makes the queue
	 * non-empty writes.  EAGAIN means the counter is saturated, so a
	 * wakeup is pending anyway; anything else is a broken invariant.
	 */
	if (was_empty && write(p->efd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN) {
		log_errno("pool: eventfd write");
		abort();
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	struct lane *ln = &p->lanes[w->lane];
	struct sched_item *it;
	struct pool_work *done = NULL;

	current_pool = p;
	if (w->lane == p->batch_lane) {
		/*
		 * Computing workers yield to the event thread (SCHED_BATCH
		 * loses wakeup preemption, a nice value lowers their CFS
		 * weight), so a saturated CPU pool does not delay replies
		 * and pings.  Lowering priority needs no privilege; failure
		 * only costs latency.
		 */
		struct sched_param sp = { .sched_priority = 0 };

		pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
		setpriority(PRIO_PROCESS, (id_t)gettid(), p->batch_nice);
	}
	/*
	 * A finished job is posted only after the next one is popped (or
	 * the worker found nothing): a client that sends a new request as
	 * soon as it reads a reply must find the queue slot already free,
	 * or a full queue would refuse it.
	 */
	pthread_mutex_lock(&p->mu);
	for (;;) {
		it = w->exit ? NULL : sched_pop(&p->sched, w->lane);
		if (it == NULL) {
			if (done != NULL) {
				/* Post, then look again: work may have come. */
				pthread_mutex_unlock(&p->mu);
				post(p, &done->done);
				done = NULL;
				pthread_mutex_lock(&p->mu);
				continue;
			}
			if (w->exit)
				break;
			TAILQ_INSERT_HEAD(&ln->idle, w, idle_link);
			w->idle = true;
			ln->nidle++;
			/* Not before pool_kick unlinked it, even if woken
			 * spuriously: idle_link is still in use till then. */
			while (!w->signaled || w->kick)
				pthread_cond_wait(&w->cond, &p->mu);
			w->signaled = false;
			continue;
		}
		ln->busy++;
		pthread_mutex_unlock(&p->mu);
		if (done != NULL)
			post(p, &done->done);

		struct pool_work *work = (struct pool_work *)it;

		atomic_store(&work->state, POOL_WORK_RUNNING);
		work->run(work);
		atomic_store(&work->state, POOL_WORK_DONE);
		work->done.work = work;
		work->done.bytes = NULL;
		work->done.len = 0;

		pthread_mutex_lock(&p->mu);
		ln->busy--;
		if (it->gate != SCHED_GATE_NONE && it->cost > 0) {
			sched_release(&p->sched, it->gate, it->cost);
			/* Freed budget may let more than one gated job go. */
			wake_all_lanes(p);
		}
		done = work; /* posted after the next pop */
	}
	/* Queued work this worker was woken for goes to another one. */
	wake_for_queue(p, w->lane);
	pthread_mutex_unlock(&p->mu);
	/* The last touch of the pool: after this, joining is immediate. */
	w->gone.work = NULL;
	w->gone.bytes = NULL;
	post(p, &w->gone);
	return NULL;
}

/*
 * Tell a worker to leave after its current job (at once when idle).
 * mu held.
 */
static void
retire(struct pool *p, struct worker *w)
{
	struct lane *ln = &p->lanes[w->lane];

	if (w->idle) {
		TAILQ_REMOVE(&ln->idle, w, idle_link);
		w->idle = false;
		ln->nidle--;
		w->signaled = true;
		pthread_cond_signal(&w->cond);
	}
	w->exit = true;
	ln->live--;
}

/* Event thread: join a worker that posted its gone message. */
static void
reap(struct pool *p, struct worker *w)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nworkers; i++)
		if (p->workers[i] == w) {
			p->workers[i] = p->workers[--p->nworkers];
			break;
		}
	pthread_mutex_unlock(&p->mu);
	pthread_join(w->tid, NULL);
	pthread_cond_destroy(&w->cond);
	free(w);
}

/*
 * Start n more workers on a lane, without waiting for them.  mu held.
 * 0, or -errno after telling the workers this call started to leave
 * again: all or nothing.
 */
static int
spawn(struct pool *p, int lane, unsigned n)
{
	struct worker **grown;
	sigset_t all, old;
	size_t first = p->nworkers;
	int rc = 0;

	grown = realloc(p->workers, (p->nworkers + n) * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	p->workers = grown;

	/* Workers must never take signals: the event thread handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = calloc(1, sizeof(*w));

		if (w == NULL) {
			rc = -ENOMEM;
			break;
		}
		w->pool = p;
		w->lane = lane;
		pthread_cond_init(&w->cond, NULL);
		rc = -pthread_create(&w->tid, NULL, worker_main, w);
		if (rc != 0) {
			pthread_cond_destroy(&w->cond);
			free(w);
			break;
		}
		p->workers[p->nworkers++] = w;
		p->lanes[lane].live++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		for (size_t i = first; i < p->nworkers; i++)
			retire(p, p->workers[i]);
	return rc;
}

struct pool *
pool_new(const struct pool_params *pp)
{
	struct pool *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->cmu, NULL);
	sched_init(&p->sched);
	for (int g = 0; g < SCHED_GATES; g++)
		sched_set_budget(&p->sched, g,
		    pp->gate_budget[g] ? pp->gate_budget[g] :
					 (unsigned long)-1);
	p->queue_max = pp->queue_max;
	p->batch_lane = pp->batch_lane;
	p->internal_lane = pp->internal_lane;
	p->batch_nice = pp->batch_nice;
	p->tail = &p->head;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0) {
		int e = errno;

		free(p);
		errno = e;
		return NULL;
	}
	for (int l = 1; l < SCHED_LANES; l++)
		TAILQ_INIT(&p->lanes[l].idle);
	TAILQ_INIT(&p->to_kick);

	pthread_mutex_lock(&p->mu);
	for (int l = 1; l < SCHED_LANES; l++) {
		int rc;

		p->lanes[l].size = pp->workers[l];
		rc = spawn(p, l, pp->workers[l]);
		if (rc < 0) {
			pthread_mutex_unlock(&p->mu);
			pool_free(p);
			errno = -rc;
			return NULL;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return p;
}

void
pool_free(struct pool *p)
{
	struct pool_msg *m, *next;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->closed = true;
	for (size_t i = 0; i < p->nworkers; i++) {
		struct worker *w = p->workers[i];

		w->exit = true;
		if (w->idle) {
			TAILQ_REMOVE(&p->lanes[w->lane].idle, w, idle_link);
			w->idle = false;
			p->lanes[w->lane].nidle--;
		}
		if (w->kick) {
			TAILQ_REMOVE(&p->to_kick, w, idle_link);
			w->kick = false;
		}
		w->signaled = true;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&p->mu);

	for (size_t i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i]->tid, NULL);

	/*
	 * Progress messages nobody collected; completions belong to their
	 * work, gone messages to the workers freed below.
	 */
	for (m = p->head; m != NULL; m = next) {
		next = m->next;
		if (m->bytes != NULL) {
			free(m->bytes);
			free(m);
		}
	}
	for (size_t i = 0; i < p->nworkers; i++) {
		pthread_cond_destroy(&p->workers[i]->cond);
		free(p->workers[i]);
	}
	free(p->workers);
	close(p->efd);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->cmu);
	free(p);
}

int
pool_event_fd(const struct pool *p)
{
	return p->efd;
}

static int
submit(struct pool *p, struct pool_work *work, bool internal)
{
	struct sched_item *it = &work->item;
	struct lane *ln = &p->lanes[it->lane];
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	if (p->closed && !internal) {
		rc = -ESHUTDOWN;
	} else if ((sched_runnable(&p->sched, it->lane) < lane_free(ln) &&
		       sched_fits(&p->sched, it)) ||
	    internal || pool_depth_locked(p) < p->queue_max) {
		/*
		 * A free worker takes it at once, or it may wait: runnable
		 * behind others, or blocked by a gate or its owner's output
		 * (counted as waiting either way).
		 */
		atomic_store(&work->state, POOL_WORK_QUEUED);
		sched_push(&p->sched, it);
		if (it->charged)
			wake_one(p, it->lane, true);
	} else {
		rc = -EAGAIN;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int
pool_submit(struct pool *p, struct pool_work *work)
{
	return submit(p, work, false);
}

int
pool_submit_internal(struct pool *p, struct pool_work *work)
{
	return submit(p, work, true);
}

bool
pool_cancel(struct pool *p, struct pool_work *work)
{
	bool removed;

	pthread_mutex_lock(&p->mu);
	removed = sched_remove(&p->sched, &work->item);
	if (removed) {
		atomic_store(&work->state, POOL_WORK_NEW);
		wake_all_lanes(p); /* its budget may let others go */
	}
	pthread_mutex_unlock(&p->mu);
	return removed;
}

void
pool_collect(struct pool *p, void (*cb)(struct pool_msg *, void *), void *arg)
{
	struct pool_msg *m, *next;
	uint64_t n;

	/* Read first: a post after the swap below writes again. */
	if (read(p->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("pool: eventfd read");

	pthread_mutex_lock(&p->cmu);
	m = p->head;
	p->head = NULL;
	p->tail = &p->head;
	pthread_mutex_unlock(&p->cmu);

	for (; m != NULL; m = next) {
		bool progress = m->bytes != NULL;

		next = m->next;
		if (m->work == NULL) {
			reap(p,
			    (struct worker *)((char *)m -
				offsetof(struct worker, gone)));
			continue;
		}
		cb(m, arg);
		if (progress)
			free(m);
	}
}

void
pool_post_message(
    struct pool *p, struct pool_work *work, char *bytes, size_t len)
{
	struct pool_msg *m;

	m = malloc(sizeof(*m));
	if (m == NULL) {
		/* Progress is advisory: dropping one is harmless. */
		free(bytes);
		return;
	}
	m->work = work;
	m->bytes = bytes;
	m->len = len;
	post(p, m);
}

void
pool_kick(struct pool *p)
{
	struct worker *w;

	if (!p->kick_pending)
		return;
	pthread_mutex_lock(&p->mu);
	while ((w = TAILQ_FIRST(&p->to_kick)) != NULL) {
		TAILQ_REMOVE(&p->to_kick, w, idle_link);
		w->kick = false;
		pthread_cond_signal(&w->cond);
	}
	p->kick_pending = false;
	pthread_mutex_unlock(&p->mu);
}

void
pool_stop_admission(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->closed = true;
	pthread_mutex_unlock(&p->mu);
}

int
pool_resize(struct pool *p, int lane, unsigned workers)
{
	struct lane *ln = &p->lanes[lane];
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	if (ln->live < workers) {
		rc = spawn(p, lane, workers - ln->live);
	} else {
		/* Idle workers leave first; busy ones after their job. */
		for (size_t i = 0; i < p->nworkers && ln->live > workers; i++) {
			struct worker *w = p->workers[i];

			if (w->lane == lane && !w->exit && w->idle)
				retire(p, w);
		}
		for (size_t i = 0; i < p->nworkers && ln->live > workers; i++) {
			struct worker *w = p->workers[i];

			if (w->lane == lane && !w->exit)
				retire(p, w);
		}
	}
	if (rc == 0)
		ln->size = workers;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void
pool_set_queue_max(struct pool *p, unsigned queue_max)
{
	pthread_mutex_lock(&p->mu);
	p->queue_max = queue_max;
	pthread_mutex_unlock(&p->mu);
}

void
pool_set_gate_budget(struct pool *p, int gate, unsigned long budget)
{
	pthread_mutex_lock(&p->mu);
	sched_set_budget(&p->sched, gate, budget);
	wake_all_lanes(p);
	pthread_mutex_unlock(&p->mu);
}

void
pool_release_output(struct pool *p, struct sched_owner *o,
    unsigned long owner_bytes, unsigned long gate_bytes)
{
	if (owner_bytes == 0 && gate_bytes == 0)
		return;
	pthread_mutex_lock(&p->mu);
	sched_release_output(&p->sched, o, owner_bytes, gate_bytes);
	wake_all_lanes(p);
	pthread_mutex_unlock(&p->mu);
}

void
pool_owner_output(struct pool *p, struct sched_owner *o, unsigned long cap,
    unsigned long unsent)
{
	pthread_mutex_lock(&p->mu);
	sched_owner_output(&p->sched, o, cap, unsent);
	wake_all_lanes(p);
	pthread_mutex_unlock(&p->mu);
}

void
pool_get_stats(struct pool *p, struct pool_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&p->mu);
	st->depth = pool_depth_locked(p);
	st->queue_max = p->queue_max;
	for (int l = 1; l < SCHED_LANES; l++) {
		st->size[l] = p->lanes[l].size;
		st->busy[l] = p->lanes[l].busy;
		st->queued[l] = sched_queued(&p->sched, l);
	}
	for (int g = 0; g < SCHED_GATES; g++) {
		st->gate_used[g] = p->sched.gate_used[g];
		st->gate_budget[g] = p->sched.gate_budget[g];
	}
	pthread_mutex_unlock(&p->mu);
}

struct pool *
pool_current(void)
{
	return current_pool;
}
