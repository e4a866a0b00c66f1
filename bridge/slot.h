/*
 * slot.h - the bridge's slots.  One slot is one thread with its own
 * Gearman worker (connected to every configured gearmand) and its own
 * connection to the local sbkd; it holds at most one Gearman job at a
 * time, so `slots` bounds the jobs a bridge holds, and a slot asks
 * gearmand for a job only when it is free and its sbkd connection is up,
 * with one such request in flight at most (see slot.c).
 *
 * Thread safety: bridge_start/bridge_stop/bridge_join on the main thread;
 * everything else runs on the slot threads.
 */
#ifndef SBK_BRIDGE_SLOT_H
#define SBK_BRIDGE_SLOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "stats.h"

struct slot;

struct bridge {
	const struct bridge_config *cfg;
	struct bridge_stats stats;
	char identifier[256]; /* worker id prefix shown by gearadmin */

	/* Set once by bridge_stop; sleeping slots are woken through cond. */
	atomic_bool stopping;
	pthread_mutex_t lock;
	pthread_cond_t cond;

	struct slot *slots;
	unsigned n_slots;
};

/*
 * Start n slot threads.  Signals must already be blocked in the calling
 * thread (the slots inherit the mask; only the main thread takes them).
 * 0 or -errno (then no thread is left running).
 */
int bridge_start(struct bridge *, const struct bridge_config *, unsigned n);

/* Stop grabbing: free slots leave at their next check (at most
 * idle_check_ms), busy ones once their job is answered. */
void bridge_stop(struct bridge *);

/* Wait for every slot thread and free them. */
void bridge_join(struct bridge *);

#endif /* SBK_BRIDGE_SLOT_H */
