/*
 * stats.c - see stats.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void
stats_job_start(struct bridge_stats *s)
{
	unsigned busy, max;

	atomic_fetch_add_explicit(&s->taken, 1, memory_order_relaxed);
	busy = atomic_fetch_add_explicit(&s->busy, 1, memory_order_relaxed) + 1;
	max = LOAD(s->busy_max);
	while (busy > max &&
	    !atomic_compare_exchange_weak_explicit(&s->busy_max, &max, busy,
		memory_order_relaxed, memory_order_relaxed))
		;
}

void
stats_job_end(struct bridge_stats *s)
{
	atomic_fetch_sub_explicit(&s->busy, 1, memory_order_relaxed);
}

void
stats_log(struct bridge_stats *s)
{
	log_info("stats: slots=%u busy=%u busy_max=%u taken=%lu "
		 "completed=%lu failed=%lu refused=%lu retried=%lu "
		 "handed_back=%lu lost=%lu sbkd_connects=%lu sbkd_down=%lu "
		 "gearman_errors=%lu",
	    s->slots, LOAD(s->busy), LOAD(s->busy_max), LOAD(s->taken),
	    LOAD(s->completed), LOAD(s->failed), LOAD(s->refused),
	    LOAD(s->retried), LOAD(s->handed_back), LOAD(s->lost),
	    LOAD(s->sbkd_connects), LOAD(s->sbkd_down),
	    LOAD(s->gearman_errors));
}

char *
stats_prometheus(struct bridge_stats *s, size_t *len)
{
	const struct {
		const char *name, *type, *help;
		unsigned long v;
	} rows[] = {
		{ "sbk_gearman_slots", "gauge",
		    "Gearman jobs the bridge may hold at once", s->slots },
		{ "sbk_gearman_slots_busy", "gauge", "Gearman jobs held now",
		    LOAD(s->busy) },
		{ "sbk_gearman_slots_busy_max", "gauge",
		    "Most Gearman jobs held at once since start",
		    LOAD(s->busy_max) },
		{ "sbk_gearman_jobs_taken_total", "counter",
		    "Jobs grabbed from gearmand", LOAD(s->taken) },
		{ "sbk_gearman_jobs_completed_total", "counter",
		    "Jobs answered WORK_COMPLETE", LOAD(s->completed) },
		{ "sbk_gearman_jobs_failed_total", "counter",
		    "Jobs sbkd answered with an error (WORK_FAIL)",
		    LOAD(s->failed) },
		{ "sbk_gearman_jobs_refused_total", "counter",
		    "Workloads refused without asking sbkd (WORK_FAIL)",
		    LOAD(s->refused) },
		{ "sbk_gearman_jobs_retried_total", "counter",
		    "Requests asked again after sbkd's -32000",
		    LOAD(s->retried) },
		{ "sbk_gearman_jobs_handed_back_total", "counter",
		    "Jobs released to gearmand unanswered (sbkd gone)",
		    LOAD(s->handed_back) },
		{ "sbk_gearman_jobs_lost_total", "counter",
		    "Answers that could not reach gearmand", LOAD(s->lost) },
		{ "sbk_gearman_sbkd_connects_total", "counter",
		    "Connections made to sbkd", LOAD(s->sbkd_connects) },
		{ "sbk_gearman_sbkd_down_total", "counter",
		    "Times sbkd was found gone", LOAD(s->sbkd_down) },
		{ "sbk_gearman_gearman_errors_total", "counter",
		    "Failed grabs (gearmand unreachable...)",
		    LOAD(s->gearman_errors) },
	};
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %lu\n", rows[i].name,
		    rows[i].help, rows[i].name, rows[i].type, rows[i].name,
		    rows[i].v);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = size;
	return buf;
}

int
stats_write_file(struct bridge_stats *s, const char *path)
{
	char tmp[4096];
	size_t len, off = 0;
	char *text;
	ssize_t n;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((text = stats_prometheus(s, &len)) == NULL)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
out:
	free(text);
	return r;
}
