/*
 * helper.h - the isolated helper process: sbkd re-executed as
 * "sbkd-helper --isolated-helper" (isolate.c spawns it), serving one
 * request at a time on its channel (fd HELPER_CHAN_FD) until sbkd closes
 * it.  Frames: isolate_wire.h.
 *
 * An operation is a row of helper.c's table: it gets the request and its
 * input, reports progress with helper_progress(), and returns its output,
 * or an error that sbkd passes to the client as the job's error.
 */
#ifndef SBK_HELPER_H
#define SBK_HELPER_H

#include <stddef.h>
#include <stdint.h>

#include "isolate_wire.h"
#include "rpc.h"

/* main.c: argv[1] that makes sbkd a helper, and the channel's descriptor. */
#define HELPER_ARG     "--isolated-helper"
#define HELPER_ARGV0   "sbkd-helper"
#define HELPER_CHAN_FD 3

struct helper_call {
	const struct iso_request *req;
	/* Inline mode: the in_len payload bytes (NULL when in_len is 0). */
	const unsigned char *in;
	size_t in_len;
	/*
	 * ISO_F_PATHS: the input (read-only) and output descriptors sbkd
	 * opened; -1 otherwise.  Owned by helper.c, closed after the op.
	 */
	int in_fd, out_fd;

	/*
	 * Set by the op on success.  Inline: out is malloc'd output (helper.c
	 * frees it) of out_len bytes, at most req->out_max.  Paths: out stays
	 * NULL and out_len is the bytes written to out_fd.  bytes_in is the
	 * input consumed (DONE's done).
	 */
	unsigned char *out;
	uint64_t out_len;
	uint64_t bytes_in;

	int chan_fd; /* helper.c's */
};

/*
 * An operation: 0 with the call's results set, or -1 with err set (any
 * JSON-RPC error; its data travels as JSON text, at most ISO_DATA_MAX
 * bytes).  Nothing else to clean: helper.c closes the descriptors and frees
 * out in both cases.
 */
struct helper_op {
	enum iso_op op;
	int (*run)(struct helper_call *, struct rpc_error *);
};

/*
 * For an op: send a PROGRESS reply (done of total bytes).  Call it per
 * chunk of work; sbkd rate-limits what reaches the client.  0, or -1 when
 * the channel is gone (sbkd killed the job or died): the op should give up.
 */
int helper_progress(struct helper_call *, uint64_t done, uint64_t total);

/*
 * The helper's whole life: enter the sandbox (sandbox.h) with the budget
 * sbkd gave as argv[2] (NULL: the budget of the built-in configuration),
 * then serve requests on chan_fd until sbkd closes it.  Returns the
 * process exit status: 0 at a clean end of the channel, 1 when the
 * sandbox could not be entered or the channel broke or carried garbage.
 * The caller leaves with _exit: the sandbox forbids what atexit handlers
 * of a sanitizer runtime do (LeakSanitizer clones a tracer).
 */
int helper_main(int chan_fd, const char *budget_arg);

#endif /* SBK_HELPER_H */
