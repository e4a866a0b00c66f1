/*
 * scheduler.h - the pure scheduler behind the pools: which waiting job runs
 * next.  No threads, no locks, no allocation: the caller (pool.c) holds
 * its mutex around every call.
 *
 * Waiting jobs are kept per owner (one owner per client connection) in
 * FIFO order, and the owners with waiting jobs of a lane sit in a ring
 * that is served round-robin, so one client with thousands of queued jobs
 * delays another client's job by at most about one job per worker.
 *
 * Resource gates (argon2's memory budget) are checked at pop time: a job
 * whose cost does not fit in what is left of its gate's budget is skipped,
 * so it waits without holding a worker, and the next owner is served.
 * A job whose cost exceeds the whole budget (admitted before a reload
 * lowered it) runs when its gate is empty, and alone.
 */
#ifndef SBK_SCHED_H
#define SBK_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#define SCHED_LANES	3 /* indexed by enum job_lane; 0 is unused */
#define SCHED_GATES	1
#define SCHED_GATE_NONE (-1)

struct sched_item;
TAILQ_HEAD(sched_fifo, sched_item);

/* One client's waiting jobs.  Embedded in the connection; zero it first. */
struct sched_owner {
	struct sched_fifo fifo[SCHED_LANES];
	TAILQ_ENTRY(sched_owner) ring[SCHED_LANES];
	bool in_ring[SCHED_LANES];
};

/* One waiting job.  Embedded in struct pool_work. */
struct sched_item {
	TAILQ_ENTRY(sched_item) link;
	struct sched_owner *owner;
	int lane;
	int gate;	    /* SCHED_GATE_NONE or 0.. */
	unsigned long cost; /* units of the gate's budget */
	bool queued;
};

TAILQ_HEAD(sched_ring, sched_owner);

struct sched {
	struct sched_ring ring[SCHED_LANES];
	size_t queued[SCHED_LANES];
	unsigned long gate_budget[SCHED_GATES];
	unsigned long gate_used[SCHED_GATES];
};

void sched_init(struct sched *);
void sched_set_budget(struct sched *, int gate, unsigned long budget);

/* Can a job of this gate and cost run now, as far as the gate goes? */
bool sched_gate_fits(const struct sched *, int gate, unsigned long cost);

/* Append an item to its owner's FIFO (item->owner, lane, gate, cost set). */
void sched_push(struct sched *, struct sched_item *);

/*
 * Take the next item of a lane: round-robin over owners, FIFO inside an
 * owner, skipping owners whose head does not fit its gate.  The item's
 * cost is charged to its gate.  NULL when nothing can run.
 */
struct sched_item *sched_pop(struct sched *, int lane);

/* Remove a waiting item (cancel, deadline, disconnect).  False if it was
 * not waiting. */
bool sched_remove(struct sched *, struct sched_item *);

/* A popped item finished: give its cost back to its gate. */
void sched_release(struct sched *, int gate, unsigned long cost);

size_t sched_queued(const struct sched *, int lane);

#endif /* SBK_SCHED_H */
