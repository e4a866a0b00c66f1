/*
 * stats.h - the bridge's counters: jobs taken from Gearman, how each one
 * ended, retries, hand-backs and slot use.  Slot threads bump them; the
 * main thread logs them on SIGUSR1 (and every stats_interval_s) and
 * writes them as Prometheus text to stats_file.
 *
 * Thread safety: any thread (relaxed atomics).
 */
#ifndef SBK_BRIDGE_STATS_H
#define SBK_BRIDGE_STATS_H

#include <stdatomic.h>
#include <stddef.h>

struct bridge_stats {
	atomic_ulong taken;	     /* jobs grabbed from gearmand */
	atomic_ulong completed;	     /* answered WORK_COMPLETE */
	atomic_ulong failed;	     /* sbkd answered an error: WORK_FAIL */
	atomic_ulong refused;	     /* refused before sbkd: WORK_FAIL */
	atomic_ulong retried;	     /* -32000 from sbkd, asked again */
	atomic_ulong handed_back;    /* released to gearmand unanswered */
	atomic_ulong lost;	     /* gearmand gone before the answer */
	atomic_ulong sbkd_connects;  /* connections made to sbkd */
	atomic_ulong sbkd_down;	     /* times sbkd was found gone */
	atomic_ulong gearman_errors; /* failed grabs (server down...) */
	atomic_uint busy;	     /* slots holding a job now */
	atomic_uint busy_max;	     /* most slots ever held at once */
	unsigned slots;
};

void stats_job_start(struct bridge_stats *);
void stats_job_end(struct bridge_stats *);

/* One log line with every counter. */
void stats_log(struct bridge_stats *);

/* Prometheus text exposition format 0.0.4 (malloc'd) or NULL. */
char *stats_prometheus(struct bridge_stats *, size_t *len);

/* Write the Prometheus text to path atomically (temp file + rename), so
 * node_exporter's textfile collector never reads half a file; 0 or
 * -errno. */
int stats_write_file(struct bridge_stats *, const char *path);

#endif /* SBK_BRIDGE_STATS_H */
