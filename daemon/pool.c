/*
 * pool.c - worker threads around the scheduler; see pool.h.
 *
 * No lock is shared between the event thread and the workers: a nice-10
 * SCHED_BATCH worker preempted inside a critical section on a loaded
 * machine used to hold the event thread up to ~300 ms (model_fuzz, issue
 * 13).  The scheduler, lanes, idle lists and worker table belong to the
 * event thread alone; it hands a job to an idle worker through the
 * worker's `job` slot and a post on its semaphore.  Workers push
 * completions and progress onto a lock-free stack (CAS on its head); the
 * event thread takes the whole stack with one exchange and reverses it,
 * so each worker's messages keep their order.  The price: a worker gets
 * its next job only once its completion is collected (one loop turn).
 *
 * Waiting (queue_max, queue.depth) is counted per lane as the queued jobs
 * beyond the lane's free workers, so a job a free worker takes at once
 * never counts (contract).
 *
 * Resizing never waits: new threads count at once (idle), and a leaving
 * worker posts its `gone` message as its very last act, so pool_collect
 * joins only a thread known to be leaving and no grow/shrink cycle
 * leaves a stack behind.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"

struct pool_worker {
	struct pool *pool;
	pthread_t tid;
	int lane;
	sem_t wake;		       /* a job handed over, or leave */
	struct pool_work *_Atomic job; /* handed over, not yet taken */
	_Atomic bool exit;	       /* leave once no job is handed over */
	/* Event thread only. */
	bool idle;			    /* on the lane's idle list */
	TAILQ_ENTRY(pool_worker) idle_link; /* or on to_kick */
	struct pool_msg gone;		    /* posted when leaving: join me */
};

TAILQ_HEAD(worker_list, pool_worker);

/* Event thread only. */
struct lane {
	struct worker_list idle;
	unsigned live; /* workers not told to exit: the lane's size */
	unsigned busy; /* workers handed a job not yet collected */
};

struct pool {
	/* Event thread only. */
	struct sched sched;
	struct lane lanes[SCHED_LANES];
	unsigned queue_max;
	int batch_lane;		      /* its workers run SCHED_BATCH */
	int internal_lane;	      /* internal work only (0: none) */
	int batch_nice;		      /* ... at this nice value */
	bool closed;		      /* no more admission */
	struct worker_list to_kick;   /* handed a job by a submit, not woken */
	struct pool_worker **workers; /* every thread not yet joined */
	size_t nworkers;
	size_t pending; /* see pool_pending */

	/* Shared: pushed by workers, taken whole by the event thread. */
	struct pool_msg *_Atomic head;
	int efd;
};

static __thread struct pool *current_pool;

/* Workers of a lane not running a job. */
static unsigned
lane_free(const struct lane *ln)
{
	return ln->live > ln->busy ? ln->live - ln->busy : 0;
}

/* Waiting jobs of a lane: the blocked, and the runnable ones beyond the
 * free workers. */
static size_t
lane_waiting(const struct pool *p, int l)
{
	size_t r = sched_runnable(&p->sched, l);
	unsigned free_workers = lane_free(&p->lanes[l]);

	return sched_blocked(&p->sched, l) +
	    (r > free_workers ? r - free_workers : 0);
}

static size_t
pool_depth(const struct pool *p)
{
	size_t depth = 0;

	for (int l = 1; l < SCHED_LANES; l++)
		if (l != p->internal_lane) /* not jobs: never counted */
			depth += lane_waiting(p, l);
	return depth;
}

/*
 * Hand the runnable jobs of a lane to its idle workers.  A submit defers
 * the wakeups to pool_kick() (a read of 64 requests costs one wakeup per
 * worker, not 64); the other callers wake at once.
 */
static void
hand_over(struct pool *p, int lane, bool deferred)
{
	struct lane *ln = &p->lanes[lane];
	struct pool_worker *w;
	struct sched_item *it;

	while ((w = TAILQ_FIRST(&ln->idle)) != NULL &&
	    (it = sched_pop(&p->sched, lane)) != NULL) {
		struct pool_work *work = (struct pool_work *)it;

		TAILQ_REMOVE(&ln->idle, w, idle_link);
		w->idle = false;
		ln->busy++;
		work->worker = w;
		atomic_store_explicit(&w->job, work, memory_order_release);
		if (deferred)
			TAILQ_INSERT_TAIL(&p->to_kick, w, idle_link);
		else
			sem_post(&w->wake);
	}
}

/* Budget came back: jobs of any lane may have become runnable. */
static void
hand_over_all(struct pool *p)
{
	for (int l = 1; l < SCHED_LANES; l++)
		hand_over(p, l, false);
}

/*
 * Any thread: push a message for the event thread, lock-free (a worker
 * preempted here holds nobody up).  Only a push onto an empty stack
 * writes the eventfd; EAGAIN means the counter is saturated, so a wakeup
 * is pending anyway; anything else is a broken invariant.
 */
static void
post(struct pool *p, struct pool_msg *m)
{
	struct pool_msg *old =
	    atomic_load_explicit(&p->head, memory_order_relaxed);
	uint64_t one = 1;

	do
		m->next = old;
	while (!atomic_compare_exchange_weak_explicit(
	    &p->head, &old, m, memory_order_release, memory_order_relaxed));
	if (old == NULL && write(p->efd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN) {
		log_errno("pool: eventfd write");
		abort();
	}
}

static void
worker_lower_priority(const struct pool *p)
{
	/*
	 * Computing workers yield to the event thread (SCHED_BATCH loses
	 * wakeup preemption, a nice value lowers their CFS weight), so a
	 * saturated CPU pool does not delay replies and pings.  Lowering
	 * priority needs no privilege; failure only costs latency.
	 */
	struct sched_param sp = { .sched_priority = 0 };

	pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	setpriority(PRIO_PROCESS, (id_t)gettid(), p->batch_nice);
}

static void *
worker_main(void *arg)
{
	struct pool_worker *w = arg;
	struct pool *p = w->pool;
	struct pool_work *work;

	current_pool = p;
	if (w->lane == p->batch_lane)
		worker_lower_priority(p);
	for (;;) {
		while (sem_wait(&w->wake) < 0)
			; /* EINTR */
		work = atomic_exchange_explicit(
		    &w->job, NULL, memory_order_acquire);
		if (work == NULL) {
			if (atomic_load(&w->exit))
				break;
			continue;
		}
		work->run(work);
		work->done.work = work;
		work->done.bytes = NULL;
		post(p, &work->done); /* work may be freed from here on */
	}
	/* The last touch of the pool (gone.work is NULL from calloc): after
	 * this, joining is immediate. */
	post(p, &w->gone);
	return NULL;
}

/* Tell a worker to leave after its current job (at once when idle). */
static void
retire(struct pool *p, struct pool_worker *w)
{
	struct lane *ln = &p->lanes[w->lane];

	if (w->idle) {
		TAILQ_REMOVE(&ln->idle, w, idle_link);
		w->idle = false;
	}
	atomic_store(&w->exit, true);
	sem_post(&w->wake);
	ln->live--;
}

/* Join a worker that posted its gone message. */
static void
reap(struct pool *p, struct pool_worker *w)
{
	for (size_t i = 0; i < p->nworkers; i++)
		if (p->workers[i] == w) {
			p->workers[i] = p->workers[--p->nworkers];
			break;
		}
	pthread_join(w->tid, NULL);
	sem_destroy(&w->wake);
	free(w);
}

/*
 * Start n more workers on a lane, idle, without waiting for them.  0, or
 * -errno after telling the workers this call started to leave again:
 * all or nothing.
 */
static int
spawn(struct pool *p, int lane, unsigned n)
{
	struct pool_worker **grown;
	sigset_t all, old;
	size_t first = p->nworkers;
	int rc = 0;

	if (n == 0) /* realloc(…, 0) would free the array */
		return 0;
	grown = realloc(p->workers, (p->nworkers + n) * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	p->workers = grown;

	/* Workers must never take signals: the event thread handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < n; i++) {
		struct pool_worker *w = calloc(1, sizeof(*w));

		if (w == NULL) {
			rc = -ENOMEM;
			break;
		}
		w->pool = p;
		w->lane = lane;
		sem_init(&w->wake, 0, 0);
		rc = -pthread_create(&w->tid, NULL, worker_main, w);
		if (rc != 0) {
			sem_destroy(&w->wake);
			free(w);
			break;
		}
		p->workers[p->nworkers++] = w;
		p->lanes[lane].live++;
		TAILQ_INSERT_TAIL(&p->lanes[lane].idle, w, idle_link);
		w->idle = true;
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
	sched_init(&p->sched);
	for (int g = 0; g < SCHED_GATES; g++)
		sched_set_budget(&p->sched, g,
		    pp->gate_budget[g] ? pp->gate_budget[g] :
					 (unsigned long)-1);
	p->queue_max = pp->queue_max;
	p->batch_lane = pp->batch_lane;
	p->internal_lane = pp->internal_lane;
	p->batch_nice = pp->batch_nice;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0) {
		free(p); /* keeps errno (POSIX.1-2024; glibc since 2.33) */
		return NULL;
	}
	TAILQ_INIT(&p->to_kick);
	for (int l = 1; l < SCHED_LANES; l++) {
		int rc;

		TAILQ_INIT(&p->lanes[l].idle);
		rc = spawn(p, l, pp->workers[l]);
		if (rc < 0) {
			pool_free(p);
			errno = -rc;
			return NULL;
		}
	}
	return p;
}

void
pool_free(struct pool *p)
{
	struct pool_msg *m, *next;

	if (p == NULL)
		return;
	p->closed = true;
	pool_kick(p); /* the wakeups for jobs handed over, never sent */
	for (size_t i = 0; i < p->nworkers; i++)
		if (!atomic_load(&p->workers[i]->exit))
			retire(p, p->workers[i]);
	for (size_t i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i]->tid, NULL);

	/*
	 * Progress messages nobody collected; completions belong to their
	 * work, gone messages to the workers freed below.
	 */
	for (m = atomic_exchange(&p->head, NULL); m != NULL; m = next) {
		next = m->next;
		if (m->bytes != NULL) {
			free(m->bytes);
			free(m);
		}
	}
	for (size_t i = 0; i < p->nworkers; i++) {
		sem_destroy(&p->workers[i]->wake);
		free(p->workers[i]);
	}
	free(p->workers);
	close(p->efd);
	free(p);
}

int
pool_event_fd(const struct pool *p)
{
	return p->efd;
}

int
pool_submit(struct pool *p, struct pool_work *work)
{
	struct sched_item *it = &work->item;
	struct lane *ln = &p->lanes[it->lane];
	bool internal = it->lane == p->internal_lane;

	if (p->closed && !internal)
		return -ESHUTDOWN;
	/* Refused when no free worker takes it at once (it would wait,
	 * runnable or blocked) and queue_max jobs wait already. */
	if (!(sched_runnable(&p->sched, it->lane) < lane_free(ln) &&
		sched_fits(&p->sched, it)) &&
	    !internal && pool_depth(p) >= p->queue_max)
		return -EAGAIN;
	sched_push(&p->sched, it);
	hand_over(p, it->lane, true);
	p->pending++;
	return 0;
}

bool
pool_cancel(struct pool *p, struct pool_work *work)
{
	if (!sched_remove(&p->sched, &work->item))
		return false;
	p->pending--;
	hand_over_all(p); /* its budget may let others go */
	return true;
}

size_t
pool_pending(const struct pool *p)
{
	return p->pending;
}

/*
 * A completion came back: its worker is free (or leaves) and its run-gate
 * budget returns.  Waiting work is handed over before the caller replies,
 * so a client's next request finds the queue slot already free.
 */
static void
work_returned(struct pool *p, struct pool_work *work)
{
	struct pool_worker *w = work->worker;
	struct lane *ln = &p->lanes[w->lane];
	struct sched_item *it = &work->item;

	ln->busy--;
	if (it->gate != SCHED_GATE_NONE && it->cost > 0)
		sched_release(&p->sched, it->gate, it->cost);
	if (!atomic_load(&w->exit)) {
		TAILQ_INSERT_HEAD(&ln->idle, w, idle_link);
		w->idle = true;
	}
	hand_over_all(p);
}

void
pool_collect(struct pool *p, void (*cb)(struct pool_msg *, void *), void *arg)
{
	struct pool_msg *m, *next, *fifo = NULL;
	uint64_t n;

	/* Read first: a push after the exchange below writes again. */
	if (read(p->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("pool: eventfd read");

	/* Newest first on the stack: reversed, posting order. */
	m = atomic_exchange_explicit(&p->head, NULL, memory_order_acquire);
	for (; m != NULL; m = next) {
		next = m->next;
		m->next = fifo;
		fifo = m;
	}
	for (m = fifo; m != NULL; m = next) {
		bool progress = m->bytes != NULL;

		next = m->next;
		if (m->work == NULL) {
			reap(p,
			    (struct pool_worker *)((char *)m -
				offsetof(struct pool_worker, gone)));
			continue;
		}
		if (!progress) { /* handed back before cb may resubmit it */
			work_returned(p, m->work);
			p->pending--;
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
	struct pool_worker *w;

	while ((w = TAILQ_FIRST(&p->to_kick)) != NULL) {
		TAILQ_REMOVE(&p->to_kick, w, idle_link);
		sem_post(&w->wake);
	}
}

void
pool_stop_admission(struct pool *p)
{
	p->closed = true;
}

int
pool_resize(struct pool *p, int lane, unsigned workers)
{
	struct lane *ln = &p->lanes[lane];
	int rc = 0;

	if (ln->live < workers) {
		rc = spawn(p, lane, workers - ln->live);
		hand_over(p, lane, false);
	}
	/* Idle workers leave first (pass 0); busy ones after their job. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->nworkers && ln->live > workers; i++) {
			struct pool_worker *w = p->workers[i];

			if (w->lane == lane && !atomic_load(&w->exit) &&
			    (w->idle || pass == 1))
				retire(p, w);
		}
	return rc;
}

void
pool_set_queue_max(struct pool *p, unsigned queue_max)
{
	p->queue_max = queue_max;
}

void
pool_set_gate_budget(struct pool *p, int gate, unsigned long budget)
{
	sched_set_budget(&p->sched, gate, budget);
	hand_over_all(p);
}

void
pool_release_output(struct pool *p, struct sched_owner *o,
    unsigned long owner_bytes, unsigned long gate_bytes)
{
	if (owner_bytes == 0 && gate_bytes == 0)
		return;
	sched_release_output(&p->sched, o, owner_bytes, gate_bytes);
	hand_over_all(p);
}

void
pool_owner_output(struct pool *p, struct sched_owner *o, unsigned long cap,
    unsigned long unsent)
{
	sched_owner_output(&p->sched, o, cap, unsent);
	hand_over_all(p);
}

void
pool_get_stats(struct pool *p, struct pool_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->depth = pool_depth(p);
	st->queue_max = p->queue_max;
	for (int l = 1; l < SCHED_LANES; l++) {
		st->size[l] = p->lanes[l].live;
		st->busy[l] = p->lanes[l].busy;
		st->queued[l] = sched_queued(&p->sched, l);
	}
	for (int g = 0; g < SCHED_GATES; g++) {
		st->gate_used[g] = p->sched.gate_used[g];
		st->gate_budget[g] = p->sched.gate_budget[g];
	}
}

struct pool *
pool_current(void)
{
	return current_pool;
}
