/*
 * heap.h - the daemon's own memory: its resident size, and giving the
 * heap that a burst of jobs freed back to the kernel once sbkd is quiet.
 *
 * Threads: event thread only.
 */
#ifndef SBK_HEAP_H
#define SBK_HEAP_H

#include <stdbool.h>
#include <stdint.h>

struct server;

/* How often the quiet check runs. */
#define HEAP_TICK_MS 500

/* Resident set size of this process in KiB, or -1 if unknown. */
long heap_rss_kib(void);

/*
 * Start the quiet check on the server's event base: after a tick in
 * which no job was admitted, refused or ended, with no job
 * left in the pools, the heap is trimmed once (s->stats.heap_trims
 * counts it); the next trim waits for new activity.  0, or -1.
 */
int heap_trim_start(struct server *);
void heap_trim_stop(struct server *);

/*
 * One tick of that check, given the activity count now; true when it
 * trimmed.  Split out so the rule is testable without a clock.
 */
struct heap_trim_state {
	uint64_t last_activity; /* at the previous tick */
	bool pending;		/* activity since the last trim */
};
bool heap_trim_due(
    struct heap_trim_state *, uint64_t activity, uint64_t jobs_in_pool);

#endif /* SBK_HEAP_H */
