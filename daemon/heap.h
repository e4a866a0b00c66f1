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

/* How often the quiet check runs. */
#define HEAP_TICK_MS 500

/* Resident set size of this process in KiB, or -1 if unknown. */
long heap_rss_kib(void);

/*
 * The quiet check, run every HEAP_TICK_MS by the server: after a tick in
 * which no job was admitted, refused or ended (activity did not move),
 * with no job left in the pools, the heap is trimmed once; the next trim
 * waits for new activity.  One tick, given the activity count now: true
 * when it is time to trim.  Testable without a clock.
 */
struct heap_trim_state {
	uint64_t last_activity; /* at the previous tick */
	bool pending;		/* activity since the last trim */
};
bool heap_trim_due(
    struct heap_trim_state *, uint64_t activity, uint64_t jobs_in_pool);

/* Give the free pages of every malloc arena back to the kernel. */
void heap_trim(void);

#endif /* SBK_HEAP_H */
