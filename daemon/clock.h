/*
 * clock.h - the monotonic clock in nanoseconds, for deadlines, latencies
 * and loop lag.  Any thread.
 */
#ifndef SBK_CLOCK_H
#define SBK_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* SBK_CLOCK_H */
