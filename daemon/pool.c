/*
 * pool.c - worker threads around the scheduler; see pool.h.
 *
 * No lock is shared between the event thread and the workers: a nice-10
 * SCHED_BATCH worker preempted inside a critical section on a loaded
 * machine used to hold the event thread up to ~300 ms (model_fuzz, issue
 * 13).  The scheduler belongs to the event thread alone.  It appends the
 * jobs it pops to their lane's ring (one producer, many consumers, a CAS
 * on the head); a worker takes the ring's oldest job, and sleeps on the
 * lane's semaphore only when the ring is empty.  Workers push
 * completions and progress onto a lock-free stack (CAS on its head); the
 * event thread takes the whole stack with one exchange and reverses it,
 * so each worker's messages keep their order.
 *
 * How far ahead: a lane is handed one job per worker, and more only of
 * classes (job kinds) known to be short: while the jobs beyond the
 * workers, were they all like the next one, come to at most PREFETCH_NS
 * of run time per worker.  A worker then runs on through short jobs
 * without a round trip through the event thread (one wakeup each way per
 * job held spin-0 work to ~20k jobs/s, session 6), while a long job is
 * never committed ahead of the scheduler's fair order and stays
 * cancellable.  A class's run time is learned per class, so short and
 * long kinds sharing a lane do not blur: it rises at once with a longer
 * run (a long job stops the handing ahead), and falls halfway towards a
 * shorter one (a run that was only preempted costs a few jobs' worth).
 * Jobs in the ring beyond the lane's workers count as waiting
 * (queue_max, queue.depth), so a job a free worker takes at once never
 * counts (contract) and handing ahead admits no more work.
 *
 * Resizing never waits: new threads count at once, and a lane shrinks by
 * posting "leave" tokens that the next free workers take.  A leaving
 * worker posts its `gone` message as its very last act, so pool_collect
 * joins only a thread known to be leaving and no grow/shrink cycle leaves
 * a stack behind.
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

#include "clock.h"
#include "log.h"
#include "pool.h"

#define PREFETCH_NS 1000000u /* run time handed ahead, per worker */
/* Ring slots: more than a lane's most workers (POOL_MAX_WORKERS), so one
 * job per worker always fits; handing ahead stops when it is full. */
#define RING_SLOTS 2048u

struct pool_worker {
	struct pool *pool;
	pthread_t tid;
	int lane;
	struct pool_msg gone; /* posted when leaving: join me */
};

struct lane {
	/* Shared: the event thread appends at tail, workers take at head. */
	_Alignas(64) _Atomic size_t head;
	_Alignas(64) _Atomic size_t tail;
	struct pool_work *_Atomic slot[RING_SLOTS];
	sem_t wake;		   /* workers asleep wait here */
	_Atomic unsigned sleepers; /* workers asleep or going to sleep */
	_Atomic unsigned leave;	   /* workers told to leave, not yet gone */
	/* Event thread only. */
	unsigned live;	  /* workers not told to leave: the lane's size */
	unsigned out;	  /* jobs appended, not yet collected */
	unsigned unwoken; /* jobs appended since the last pool_kick */
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
	struct pool_worker **workers; /* every thread not yet joined */
	size_t nworkers;
	size_t pending;			 /* see pool_pending */
	uint64_t class_ns[POOL_CLASSES]; /* recent run time (0: unknown) */

	/* Shared: pushed by workers, taken whole by the event thread. */
	struct pool_msg *_Atomic head;
	int efd;
};

static __thread struct pool *current_pool;

/* Workers of a lane with no job appended for them. */
static unsigned
lane_free(const struct lane *ln)
{
	return ln->live > ln->out ? ln->live - ln->out : 0;
}

/* Waiting jobs of a lane: the blocked, and the runnable ones (in the
 * scheduler or the ring) beyond the lane's workers. */
static size_t
lane_waiting(const struct pool *p, int l)
{
	const struct lane *ln = &p->lanes[l];
	size_t ready = sched_runnable(&p->sched, l) + ln->out;

	return sched_blocked(&p->sched, l) +
	    (ready > ln->live ? ready - ln->live : 0);
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

/* May the lane's ring take this job now: a free worker takes it, or it
 * may be handed ahead (see the top of the file)? */
static bool
may_hand(
    const struct pool *p, const struct lane *ln, const struct pool_work *work)
{
	uint64_t ns, ahead;

	if (ln->out < ln->live)
		return true;
	if (ln->out >= RING_SLOTS || work->cls == 0 ||
	    work->cls >= POOL_CLASSES)
		return false;
	ns = p->class_ns[work->cls];
	ahead = ln->out - ln->live + 1;
	return ns != 0 && ahead * ns <= (uint64_t)ln->live * PREFETCH_NS;
}

/* A run ended: learn its class's run time (see the top of the file). */
static void
learn(struct pool *p, const struct pool_work *work)
{
	uint64_t *ns, run = work->run_ns > 0 ? work->run_ns : 1;

	if (work->cls == 0 || work->cls >= POOL_CLASSES)
		return;
	ns = &p->class_ns[work->cls];
	*ns = run >= *ns ? run : *ns - (*ns - run) / 2;
}

/* Append the runnable jobs of a lane to its ring while may_hand allows;
 * pool_kick wakes the workers for them. */
static void
hand_over(struct pool *p, int lane)
{
	struct lane *ln = &p->lanes[lane];
	struct sched_item *it;
	size_t t, added = 0;

	if (sched_runnable(&p->sched, lane) == 0) /* the common case */
		return;
	t = atomic_load_explicit(&ln->tail, memory_order_relaxed);
	while ((it = sched_peek(&p->sched, lane)) != NULL &&
	    may_hand(p, ln, (struct pool_work *)it)) {
		sched_pop(&p->sched, lane);
		atomic_store_explicit(&ln->slot[t++ % RING_SLOTS],
		    (struct pool_work *)it, memory_order_relaxed);
		ln->out++;
		added++;
	}
	if (added == 0)
		return;
	atomic_store(&ln->tail, t);
	ln->unwoken += added;
}

/* Budget came back: jobs of any lane may have become runnable. */
static void
hand_over_all(struct pool *p)
{
	for (int l = 1; l < SCHED_LANES; l++)
		hand_over(p, l);
}

/*
 * Worker: the ring's oldest job, or NULL when it is empty.  A slot read
 * under a stale head may be overwritten meanwhile (the slot was reused),
 * but then the CAS fails: head has moved past it.
 */
static struct pool_work *
ring_take(struct lane *ln)
{
	size_t h = atomic_load_explicit(&ln->head, memory_order_relaxed);
	struct pool_work *work;

	do {
		if (h == atomic_load_explicit(&ln->tail, memory_order_acquire))
			return NULL;
		work = atomic_load_explicit(
		    &ln->slot[h % RING_SLOTS], memory_order_relaxed);
	} while (!atomic_compare_exchange_weak_explicit(
	    &ln->head, &h, h + 1, memory_order_relaxed, memory_order_relaxed));
	return work;
}

/* Worker: take a leave token if there is one. */
static bool
leave_take(struct lane *ln)
{
	unsigned n = atomic_load(&ln->leave);

	while (n > 0 && !atomic_compare_exchange_weak(&ln->leave, &n, n - 1))
		;
	return n > 0;
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

/* Run the ring's jobs; sleep when it is empty (see hand_over). */
static void *
worker_main(void *arg)
{
	struct pool_worker *w = arg;
	struct pool *p = w->pool;
	struct lane *ln = &p->lanes[w->lane];
	struct pool_work *work;
	uint64_t t0;

	current_pool = p;
	if (w->lane == p->batch_lane)
		worker_lower_priority(p);
	for (;;) {
		if ((work = ring_take(ln)) == NULL) {
			if (leave_take(ln))
				break;
			atomic_fetch_add(&ln->sleepers, 1);
			if (atomic_load(&ln->tail) == atomic_load(&ln->head))
				while (sem_wait(&ln->wake) < 0)
					; /* EINTR */
			atomic_fetch_sub(&ln->sleepers, 1);
			continue;
		}
		t0 = clock_now_ns();
		work->run(work);
		work->run_ns = clock_now_ns() - t0;
		work->done.work = work;
		work->done.bytes = NULL;
		post(p, &work->done); /* work may be freed from here on */
	}
	/* The last touch of the pool (gone.work is NULL from calloc): after
	 * this, joining is immediate. */
	post(p, &w->gone);
	return NULL;
}

/* Tell one worker of a lane to leave after its current job (at once when
 * one sleeps). */
static void
retire(struct pool *p, int lane)
{
	struct lane *ln = &p->lanes[lane];

	atomic_fetch_add(&ln->leave, 1);
	sem_post(&ln->wake);
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
	if (p->lanes[lane].live + n > POOL_MAX_WORKERS)
		return -EINVAL;
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
		rc = -pthread_create(&w->tid, NULL, worker_main, w);
		if (rc != 0) {
			free(w);
			break;
		}
		p->workers[p->nworkers++] = w;
		p->lanes[lane].live++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		for (size_t i = first; i < p->nworkers; i++)
			retire(p, lane);
	return rc;
}

struct pool *
pool_new(const struct pool_params *pp)
{
	struct pool *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0) {
		free(p); /* keeps errno (POSIX.1-2024; glibc since 2.33) */
		return NULL;
	}
	sched_init(&p->sched);
	for (int l = 1; l < SCHED_LANES; l++)
		sem_init(&p->lanes[l].wake, 0, 0);
	for (int g = 0; g < SCHED_GATES; g++)
		sched_set_budget(&p->sched, g,
		    pp->gate_budget[g] ? pp->gate_budget[g] :
					 (unsigned long)-1);
	p->queue_max = pp->queue_max;
	p->batch_lane = pp->batch_lane;
	p->internal_lane = pp->internal_lane;
	p->batch_nice = pp->batch_nice;
	for (int l = 1; l < SCHED_LANES; l++) {
		int rc = spawn(p, l, pp->workers[l]);

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
	for (int l = 1; l < SCHED_LANES; l++)
		while (p->lanes[l].live > 0)
			retire(p, l);
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
	for (size_t i = 0; i < p->nworkers; i++)
		free(p->workers[i]);
	for (int l = 1; l < SCHED_LANES; l++)
		sem_destroy(&p->lanes[l].wake);
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
	hand_over(p, it->lane);
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
 * A completion came back: a worker's share of the lane is free and its
 * run-gate budget returns.  Waiting work is handed over before the caller
 * replies, so a client's next request finds the queue slot already free.
 */
static void
work_returned(struct pool *p, struct pool_work *work)
{
	struct sched_item *it = &work->item;
	struct lane *ln = &p->lanes[it->lane];

	ln->out--;
	learn(p, work);
	if (it->gate != SCHED_GATE_NONE && it->cost > 0)
		sched_release(&p->sched, it->gate, it->cost);
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

/*
 * Wake as many sleeping workers as got jobs and have no wakeup pending.
 * Against a lost wakeup: a worker announces itself a sleeper before it
 * looks at the ring a last time, and this looks at the sleepers after
 * hand_over stored the tail (both sequentially consistent), so either
 * the worker sees the job or this sees the worker.  A wakeup too many is
 * harmless: the worker finds the ring empty and sleeps again.
 */
void
pool_kick(struct pool *p)
{
	for (int l = 1; l < SCHED_LANES; l++) {
		struct lane *ln = &p->lanes[l];
		int pending;

		if (ln->unwoken == 0)
			continue;
		sem_getvalue(&ln->wake, &pending);
		for (long n = (long)atomic_load(&ln->sleepers) - pending;
		     n > 0 && ln->unwoken > 0; n--, ln->unwoken--)
			sem_post(&ln->wake);
		ln->unwoken = 0;
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
		hand_over(p, lane);
	}
	while (ln->live > workers)
		retire(p, lane);
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
		const struct lane *ln = &p->lanes[l];

		st->size[l] = ln->live;
		st->busy[l] = ln->out < ln->live ? ln->out : ln->live;
		st->queued[l] =
		    sched_queued(&p->sched, l) + ln->out - st->busy[l];
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
