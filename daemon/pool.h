/*
 * pool.h - the worker lanes fed by one bounded scheduler (scheduler.h),
 * and the completion queue back to the event thread (one eventfd wakeup
 * per batch of completions).  It moves struct pool_work items and knows
 * nothing of JSON, libevent or connections.
 *
 * Threads: pool_new/pool_free on the main thread; pool_post_message on a
 * worker, inside run(); everything else on the event thread, which shares
 * no lock with the workers, so it never waits for one.
 */
#ifndef SBK_POOL_H
#define SBK_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler.h"

#define POOL_GATE_NONE	     SCHED_GATE_NONE
#define POOL_GATE_ARGON2_MEM 0
#define POOL_GATE_OUTPUT     SCHED_GATE_OUTPUT
#define POOL_CLASSES	     32 /* struct pool_work's cls is below this */

/* A message from a worker to the event thread (progress, completion). */
struct pool_msg {
	struct pool_msg *next;
	struct pool_work *work;
	char *bytes; /* NULL: "work is done" */
	size_t len;
};

struct pool_work {
	struct sched_item item;		 /* owner, lane, gate, cost, out_cost */
	void (*run)(struct pool_work *); /* worker */
	/* Event thread, called by the pool's user when it collects the
	 * completion; the pool itself never calls it. */
	void (*complete)(struct pool_work *);
	struct pool_msg done; /* preallocated completion */
	/* Jobs of one class (a job kind) run about as long; 0: unknown,
	 * never handed to a worker ahead of its turn (pool.c).  run() sets
	 * it to 0 when it skipped the work: no run time to learn. */
	unsigned cls;
	uint64_t run_ns; /* pool.c: how long run() took */
};

struct pool_params {
	unsigned workers[SCHED_LANES]; /* per lane; lane 0 unused */
	unsigned queue_max;	       /* waiting jobs over all lanes */
	unsigned long gate_budget[SCHED_GATES]; /* 0: unlimited */
	int batch_lane; /* lane whose workers run SCHED_BATCH */
	int batch_nice; /* ... at this nice value */
	/* A lane for internal work (big lines): never refused, not counted
	 * in depth (its cost is bounded by the caller). */
	int internal_lane;
};

struct pool;

/* Start the threads.  NULL with errno set on failure. */
struct pool *pool_new(const struct pool_params *);

/* Stop the workers after their current work and join them.  Queued work
 * and completions are the caller's (drain first with pool_cancel). */
void pool_free(struct pool *);

/* The eventfd that becomes readable when completions or messages wait. */
int pool_event_fd(const struct pool *);

/*
 * Admit work: it runs at once on an idle worker, or waits if fewer than
 * queue_max jobs wait, or is refused.  0, or -EAGAIN when the queue is
 * full, or -ESHUTDOWN after pool_stop_admission(); always 0 on the
 * internal lane.
 */
int pool_submit(struct pool *, struct pool_work *);

/*
 * Work admitted and neither collected by pool_collect nor taken back by
 * pool_cancel: zero when the pool holds nothing (a drain is over).
 */
size_t pool_pending(const struct pool *);

/* Take waiting work back: true if it was waiting (it never runs and has
 * no completion), false if it runs or ran. */
bool pool_cancel(struct pool *, struct pool_work *);

/*
 * Read the eventfd and call cb for every message in the order posted; a
 * work's progress messages always come before its completion
 * (msg->bytes == NULL).  cb owns a progress message's bytes.  Workers
 * that left (pool_resize) are joined here.
 */
void pool_collect(
    struct pool *, void (*cb)(struct pool_msg *, void *), void *arg);

/* Worker, inside run(): post bytes (taken over) for the event thread. */
void pool_post_message(
    struct pool *, struct pool_work *, char *bytes, size_t len);

/*
 * Once per loop iteration: wake the sleeping workers that jobs handed
 * over since the last kick need, so a burst of submits and completions
 * costs one wakeup per worker rather than one per job.
 */
void pool_kick(struct pool *);

/* Refuse every submit from now on (shutdown). */
void pool_stop_admission(struct pool *);

/*
 * Resize a lane (reload) without waiting: surplus workers leave after
 * their job and pool_collect joins them.  0, or -errno when a thread
 * cannot start or the lane would pass POOL_MAX_WORKERS, and then nothing
 * changed.  A shrink cannot fail.
 */
#define POOL_MAX_WORKERS 1024
int pool_resize(struct pool *, int lane, unsigned workers);
void pool_set_queue_max(struct pool *, unsigned queue_max);
void pool_set_gate_budget(struct pool *, int gate, unsigned long budget);

/* Give output back: owner_bytes of the owner's reservation when its job
 * ended, gate_bytes of the output budget when the reply left or was
 * dropped (sched_release_output). */
void pool_release_output(struct pool *, struct sched_owner *,
    unsigned long owner_bytes, unsigned long gate_bytes);

/* An owner's output cap and unsent bytes (a connection's). */
void pool_owner_output(struct pool *, struct sched_owner *, unsigned long cap,
    unsigned long unsent);

struct pool_stats {
	size_t depth; /* waiting jobs, all lanes */
	unsigned queue_max;
	unsigned size[SCHED_LANES];
	unsigned busy[SCHED_LANES];
	size_t queued[SCHED_LANES];
	unsigned long gate_used[SCHED_GATES];
	unsigned long gate_budget[SCHED_GATES];
};
void pool_get_stats(struct pool *, struct pool_stats *);

/* The pool a worker belongs to (for pool_post_message from a job). */
struct pool *pool_current(void);

#endif /* SBK_POOL_H */
