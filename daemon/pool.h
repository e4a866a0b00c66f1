/*
 * pool.h - the worker threads: a CPU pool and an I/O pool fed by one
 * bounded scheduler (scheduler.h), and the completion queue that carries
 * finished work back to the event thread with a single eventfd wakeup for
 * a whole batch of completions.
 *
 * The pool knows nothing of JSON, libevent or connections: it moves
 * struct pool_work items, calls run() on a worker, and hands them back
 * through pool_collect().
 *
 * Threads: pool_new/pool_free on the main thread; pool_submit,
 * pool_cancel, pool_collect, pool_kick, the setters and the stats getters
 * on the event thread (the same thread: they share no lock with the
 * workers, so none of them ever waits for one); pool_post_message on a
 * worker, inside run().
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

/* A message from a worker to the event thread (progress, completion). */
struct pool_msg {
	struct pool_msg *next;
	struct pool_work *work;
	char *bytes; /* NULL: "work is done" */
	size_t len;
};

struct pool_worker;

struct pool_work {
	struct sched_item item;		 /* owner, lane, gate, cost, out_cost */
	void (*run)(struct pool_work *); /* worker */
	/* Event thread, called by the pool's user when it collects the
	 * completion; the pool itself never calls it. */
	void (*complete)(struct pool_work *);
	struct pool_msg done;	    /* preallocated completion */
	struct pool_worker *worker; /* pool.c: who was handed it */
};

struct pool_params {
	unsigned workers[SCHED_LANES]; /* per lane; lane 0 unused */
	unsigned queue_max;	       /* waiting jobs over all lanes */
	unsigned long gate_budget[SCHED_GATES]; /* 0: unlimited */
	int batch_lane; /* lane whose workers run SCHED_BATCH */
	/* A lane for internal work (big lines), not counted in depth. */
	int internal_lane;
	int batch_nice; /* and their nice value */
};

struct pool;

/* Start the threads.  NULL with errno set on failure. */
struct pool *pool_new(const struct pool_params *);

/*
 * Stop the workers after the work they are running, and join them.
 * Queued work is left queued: the caller drains it first (pool_cancel).
 * Collected or not, completions are freed by nobody here.
 */
void pool_free(struct pool *);

/* The eventfd that becomes readable when completions or messages wait. */
int pool_event_fd(const struct pool *);

/*
 * Admit work: it runs at once on an idle worker, or waits if fewer than
 * queue_max jobs wait, or is refused.  0, or -EAGAIN when the queue is
 * full, or -ESHUTDOWN after pool_stop_admission().
 */
int pool_submit(struct pool *, struct pool_work *);

/*
 * Event thread: work admitted (pool_submit, pool_submit_internal) and not
 * yet handed back, neither collected by pool_collect nor taken back by
 * pool_cancel.  Zero when the pool holds nothing (a drain is over).
 */
size_t pool_pending(const struct pool *);

/*
 * Take waiting work back out of the queue.  True if it was waiting (it
 * will never run and produces no completion); false if it already runs
 * or ran.
 */
bool pool_cancel(struct pool *, struct pool_work *);

/*
 * Event thread: read the eventfd and call cb for every message in the
 * order posted; a work's progress messages always come before its
 * completion (msg->bytes == NULL).  cb owns msg->bytes of a progress
 * message; the pool frees the message struct itself.  Workers that left
 * (pool_resize) are joined here, without calling cb.
 */
void pool_collect(
    struct pool *, void (*cb)(struct pool_msg *, void *), void *arg);

/* Worker, inside run(): post bytes (taken over) for the event thread. */
void pool_post_message(
    struct pool *, struct pool_work *, char *bytes, size_t len);

/*
 * Admit internal work (parsing a big request line) whatever the queue
 * holds, even while shutting down: its cost is already bounded by the
 * caller.  Always 0.
 */
int pool_submit_internal(struct pool *, struct pool_work *);

/*
 * Event thread, once per loop iteration (and before blocking): signal
 * the workers that submits since the last kick handed work to.  Until
 * then they stay asleep, so a burst of submits costs one wakeup per
 * worker rather than one per job.
 */
void pool_kick(struct pool *);

/* Refuse every submit from now on (shutdown). */
void pool_stop_admission(struct pool *);

/*
 * Resize a lane (reload).  Never waits: new threads are started and
 * counted at once; surplus workers leave after their current job and are
 * joined by pool_collect once they have left.  0, or -errno when a thread
 * cannot start, and then nothing changed (the threads this call started
 * are told to leave again).  A shrink cannot fail.
 */
int pool_resize(struct pool *, int lane, unsigned workers);
void pool_set_queue_max(struct pool *, unsigned queue_max);
void pool_set_gate_budget(struct pool *, int gate, unsigned long budget);

/*
 * Event thread: give output back (see sched_release_output): owner_bytes
 * of the owner's reservation when its job ended, gate_bytes of the
 * daemon-wide output budget when the reply was written or dropped.
 */
void pool_release_output(struct pool *, struct sched_owner *,
    unsigned long owner_bytes, unsigned long gate_bytes);

/* Event thread: an owner's output cap and unsent bytes (a connection's). */
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
