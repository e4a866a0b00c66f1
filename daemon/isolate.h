/*
 * isolate.h - sbkd's side of isolated jobs: a set of helper processes
 * (sbkd re-executed as "sbkd-helper --isolated-helper", see helper.h), each
 * serving one job at a time over a socketpair, reused for at most
 * [isolation] max_jobs jobs and then replaced, and a worker thread's call
 * into one of them (iso_call).  Frames: isolate_wire.h.
 *
 * Threads.  iso_start and iso_stop: the main thread, before the event loop
 * runs and after the pools are joined.  iso_call: CPU workers, which kill
 * and reap the helpers they ran; isolate.c's keeper thread starts them all.
 * iso_reload, iso_stats and iso_job_isolated: any thread, the event
 * thread too: atomics, a non-blocking eventfd write and the job's own
 * config only, never the mutex, a helper or its channel.
 *
 * One set per process (a module of its own, like log.c): workers reach it
 * without a server pointer, which pool-lane jobs do not carry.
 */
#ifndef SBK_ISOLATE_H
#define SBK_ISOLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "isolate_wire.h"
#include "rpc.h"

struct job;
struct job_kind;
struct sbk_config;

/*
 * -t, start and reload: every name in [isolation] kinds is a job kind that
 * can be isolated (JOB_KIND_ISOLABLE).  0, or -1 with the reason in why,
 * naming path (the file the config was read from; NULL: the defaults).
 */
int iso_config_check(
    const struct sbk_config *, const char *path, char *why, size_t whylen);

/*
 * Open sbkd's own executable, start the keeper thread and wait for its
 * [isolation] helpers helpers (none when no kind is isolated and test
 * methods are off: then on first use).  0, or -1 after logging why.
 */
int iso_start(const struct sbk_config *);

/*
 * A reload: the new helpers and max_jobs take effect; surplus idle helpers
 * retire at once, and all of them if the budget or nice value changed
 * (a busy one when its job ends).  Never waits.
 */
void iso_reload(const struct sbk_config *);

/* Kill and reap every helper (after the pools are joined).  Idempotent. */
void iso_stop(void);

/*
 * Does this job run in a helper?  Its kind is named in the [isolation]
 * kinds of the configuration it was admitted under, or is a test kind
 * that always is (JOB_KIND_ISOLATED).
 */
bool iso_job_isolated(const struct job *);

/* What a successful call returns. */
struct iso_result {
	unsigned char *out; /* inline: malloc'd output (caller frees) */
	uint64_t out_len;   /* inline: bytes in out; paths: bytes written */
	uint64_t bytes_in;  /* input the op consumed */
};

/*
 * CPU worker: run one request in a helper.  req gives op, flags, level,
 * out_max and in_size (magic and in_len are filled here).  Inline mode:
 * in_len bytes of in follow the header.  ISO_F_PATHS: fds[0] (input) and
 * fds[1] (output) are passed with SCM_RIGHTS and stay the caller's.  The
 * helper's PROGRESS goes to job_progress.
 *
 * 0 with *res filled, or -1 with err set: the op's own error as the helper
 * sent it; -32005 with data {"signal": "SIGSEGV"} or {"exit": N} when the
 * helper died (it is replaced, nothing of its output is kept); or, when
 * job_should_stop() turned true, any error (the core replaces it by the
 * stop reason's) after the helper was killed and reaped.
 */
int iso_call(struct job *, const struct iso_request *req, const void *in,
    size_t in_len, const int fds[2], struct iso_result *res,
    struct rpc_error *err);

/* The `stats` member "isolation" (a new reference, or NULL). */
json_t *iso_stats_json(void);

#endif /* SBK_ISOLATE_H */
