/*
 * scheduler.h - which waiting job runs next.  No threads, no locks, no
 * allocation: pool.c calls it from the event thread only.
 *
 * Waiting jobs are kept per owner (one per connection) in FIFO order; the
 * owners with runnable jobs of a lane sit in a ring served round-robin,
 * so a client with thousands of queued jobs delays another's by at most
 * about one job per worker.
 *
 * Gates: a job may cost units of daemon-wide budgets (argon2's memory,
 * the output budget), and its owner may cap the output it holds.  A
 * queued job is runnable (its costs charged now; the next free worker
 * takes it) or blocked (it does not fit; it holds no worker or budget
 * until it does).  Charging when a job becomes runnable, not when it is
 * popped, lets admission know at once whether it will wait, so a blocked
 * job always counts as waiting (queue.depth, queue_max).  The run gate is
 * given back when the run ends, the output gate when the reply has left
 * (sched_release_output).
 */
#ifndef SBK_SCHED_H
#define SBK_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#define SCHED_LANES	  4 /* indexed by enum job_lane; 0 is unused */
#define SCHED_GATES	  2
#define SCHED_GATE_NONE	  (-1)
#define SCHED_GATE_OUTPUT 1 /* the daemon-wide output budget, in bytes */

struct sched_item;
TAILQ_HEAD(sched_fifo, sched_item);

/* One client's waiting jobs.  Embedded in the connection; zero it first. */
struct sched_owner {
	struct sched_fifo fifo[SCHED_LANES]; /* runnable, charged */
	struct sched_fifo blocked;	     /* waiting to fit, every lane */
	TAILQ_ENTRY(sched_owner) ring[SCHED_LANES];
	bool in_ring[SCHED_LANES];
	TAILQ_ENTRY(sched_owner) blink; /* on blocked_owners while nblocked */
	size_t nblocked;
	unsigned long long served; /* when a job of it last became runnable */
	/*
	 * The owner's output: out_cap 0 means no limit of its own.  A job
	 * of an owner whose unsent output is over out_cap does not start;
	 * otherwise a job with an output cost starts while unsent plus the
	 * output reserved by its running jobs stays within out_cap, and one
	 * such job always may (so a reply bigger than the cap still runs).
	 */
	unsigned long out_cap;
	unsigned long out_unsent;
	unsigned long out_reserved;
};

/* One waiting job.  Embedded in struct pool_work. */
struct sched_item {
	TAILQ_ENTRY(sched_item) link;
	struct sched_owner *owner;
	int lane;
	int gate;		/* run gate: SCHED_GATE_NONE or 0.. */
	unsigned long cost;	/* units of the run gate's budget */
	unsigned long out_cost; /* bytes of SCHED_GATE_OUTPUT */
	bool queued;		/* in a fifo or blocked list */
	bool charged;		/* costs charged (runnable, popped) */
};

TAILQ_HEAD(sched_ring, sched_owner);
TAILQ_HEAD(sched_owners, sched_owner);

struct sched {
	struct sched_ring ring[SCHED_LANES];
	struct sched_owners blocked_owners;
	size_t runnable[SCHED_LANES];
	size_t blocked[SCHED_LANES];
	unsigned long gate_budget[SCHED_GATES];
	unsigned long gate_used[SCHED_GATES];
	unsigned long long serial; /* of the last owner served */
};

void sched_init(struct sched *);
/* Set a budget; blocked jobs that now fit become runnable. */
void sched_set_budget(struct sched *, int gate, unsigned long budget);

/* Can a job of this gate and cost run now, as far as the gate goes?  One
 * dearer than the whole budget (a reload lowered it) runs alone. */
bool sched_gate_fits(const struct sched *, int gate, unsigned long cost);

/* Would this item be runnable if pushed now (gates and owner)? */
bool sched_fits(const struct sched *, const struct sched_item *);

/* Append an item (owner, lane, gate, cost, out_cost set) to its owner's
 * FIFO: runnable and charged if it fits, else blocked. */
void sched_push(struct sched *, struct sched_item *);

/* The next runnable item of a lane (its costs stay charged), or NULL. */
struct sched_item *sched_pop(struct sched *, int lane);
/* The item sched_pop would return, left in place. */
struct sched_item *sched_peek(const struct sched *, int lane);

/* Remove a waiting item, uncharged; false if it was not waiting. */
bool sched_remove(struct sched *, struct sched_item *);

/* A popped item's run ended: give its run-gate cost back. */
void sched_release(struct sched *, int gate, unsigned long cost);

/* Output given back: owner_bytes of owner's reservation (NULL: none; the
 * job ended, its reply counts as unsent now), gate_bytes of the output
 * gate (the bytes left the daemon, or will never be produced). */
void sched_release_output(struct sched *, struct sched_owner *,
    unsigned long owner_bytes, unsigned long gate_bytes);

/* The owner's cap and unsent output changed: over its cap, its runnable
 * jobs go back to blocked; blocked ones that now fit become runnable. */
void sched_owner_output(struct sched *, struct sched_owner *, unsigned long cap,
    unsigned long unsent);

/* Queued items of a lane: all, runnable, blocked (inline: the pool asks
 * after every completion). */
static inline size_t
sched_runnable(const struct sched *s, int lane)
{
	return s->runnable[lane];
}

static inline size_t
sched_blocked(const struct sched *s, int lane)
{
	return s->blocked[lane];
}

static inline size_t
sched_queued(const struct sched *s, int lane)
{
	return s->runnable[lane] + s->blocked[lane];
}

#endif /* SBK_SCHED_H */
