/*
 * heap.c - resident size, and the idle heap trim; see heap.h.
 *
 * Why trim: glibc keeps what a burst of jobs freed in its arenas (one per
 * worker thread that allocated), as free chunks scattered between live
 * ones, so an idle sbkd would otherwise sit at the resident size of its
 * busiest moment plus the fragmentation of every burst since start (the
 * soak in docs/HARDENING.md saw +8% over 400,000 requests, all of it in
 * the arenas).  malloc_trim(0) hands every whole free page of every arena
 * back with madvise, which is what an operator expects of an idle
 * service.  It takes each arena's lock in turn, so it runs only when the
 * pools are empty and a whole tick went by without activity: once per
 * quiet spell, never under load, and never more than once per tick.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "clock.h"
#include "log.h"
#include "heap.h"

long
heap_rss_kib(void)
{
	char buf[128], *p, *end;
	unsigned long resident;
	long page = sysconf(_SC_PAGESIZE);
	ssize_t n;
	int fd;

	/* "size resident shared ..." in pages. */
	if (page <= 0 ||
	    (fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strchr(buf, ' ')) == NULL)
		return -1;
	errno = 0;
	resident = strtoul(p + 1, &end, 10);
	if (errno != 0 || end == p + 1)
		return -1;
	return (long)(resident * (unsigned long)(page / 1024));
}

bool
heap_trim_due(
    struct heap_trim_state *t, uint64_t activity, uint64_t jobs_in_pool)
{
	if (activity != t->last_activity) {
		t->last_activity = activity;
		t->pending = true;
		return false;
	}
	if (!t->pending || jobs_in_pool != 0)
		return false;
	t->pending = false;
	return true;
}

void
heap_trim(void)
{
	uint64_t t0 = clock_now_ns();
	long before = heap_rss_kib();

#ifdef __GLIBC__
	malloc_trim(0);
#endif
	log_debug("heap trim: RSS %ld -> %ld KiB in %llu us", before,
	    heap_rss_kib(), (unsigned long long)(clock_now_ns() - t0) / 1000);
}
