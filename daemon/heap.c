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

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "heap.h"
#include "server.h"

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

/*
 * Jobs are what allocate in bulk (params, results, buffers, codec
 * contexts).  Connections and control calls are left out: a monitor
 * polling `stats` must not keep an idle daemon from trimming.
 */
static uint64_t
activity(const struct stats *st)
{
	uint64_t n = st->accepted + st->rejected;

	for (int i = 0; i < STATS_OUTCOMES; i++)
		n += st->outcome[i];
	return n;
}

static void
heap_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	uint64_t t0;
	long before;

	(void)fd;
	(void)what;
	if (!heap_trim_due(&s->trim, activity(&s->stats), s->jobs_in_pool))
		return;
	server_mark_busy(s);
	before = heap_rss_kib();
	t0 = clock_now_ns();
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	s->stats.heap_trims++;
	log_debug("heap trim: RSS %ld -> %ld KiB in %llu us", before,
	    heap_rss_kib(), (unsigned long long)(clock_now_ns() - t0) / 1000);
}

int
heap_trim_start(struct server *s)
{
	struct timeval tv = {
		.tv_sec = HEAP_TICK_MS / 1000,
		.tv_usec = HEAP_TICK_MS % 1000 * 1000,
	};

	s->heap_timer = event_new(s->base, -1, EV_PERSIST, heap_tick_cb, s);
	if (s->heap_timer == NULL || event_add(s->heap_timer, &tv) < 0)
		return -1;
	return 0;
}

void
heap_trim_stop(struct server *s)
{
	if (s->heap_timer != NULL) {
		event_free(s->heap_timer);
		s->heap_timer = NULL;
	}
}
