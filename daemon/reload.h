/*
 * reload.h - SIGHUP and admin.reload: read the configuration again and
 * put it in force without dropping a connection or a job.
 *
 * Threads: event thread only.
 */
#ifndef SBK_RELOAD_H
#define SBK_RELOAD_H

#include <stddef.h>
#include <stdint.h>

struct pool;
struct sbk_config;

/* Where a reload reads from and what it changes. */
struct reload {
	const char *config_path;       /* NULL: built-in defaults */
	const char *socket;	       /* -s override, or NULL */
	struct pool *pool;	       /* sizes, queue_max, budgets */
	const struct sbk_config **cfg; /* in force: replaced on success */
	uint64_t *generation;	       /* counted up on success */
};

/*
 * Read and put in force, whole or not at all; 0, or -1 with why filled
 * in (and logged).  The connections are not re-evaluated here: the
 * caller resumes them, since new limits may let paused ones go on.
 */
int reload_apply(const struct reload *, char *why, size_t whylen);

#endif /* SBK_RELOAD_H */
