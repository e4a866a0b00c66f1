/*
 * helper_op.h - what an operation of the isolated helper sees: one
 * request with its input, a progress reporter, and the results it sets.
 * helper.c runs the table of ops; the ops (helper_zstd.c) know only this
 * header, so they never call back up into helper.c.
 */
#ifndef SBK_HELPER_OP_H
#define SBK_HELPER_OP_H

#include <stddef.h>
#include <stdint.h>

#include "isolate_wire.h"
#include "rpc.h"

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
	 * Set by helper.c: send a PROGRESS reply (done of total bytes).  Call
	 * it per chunk of work; sbkd rate-limits what reaches the client.  0,
	 * or -1 when the channel is gone (sbkd killed the job or died): the op
	 * should give up.
	 */
	int (*progress)(struct helper_call *, uint64_t done, uint64_t total);

	/*
	 * Set by the op on success.  Inline: out is malloc'd output (helper.c
	 * frees it) of out_len bytes, at most req->out_max.  Paths: out stays
	 * NULL and out_len is the bytes written to out_fd.  bytes_in is the
	 * input consumed (DONE's done).
	 */
	unsigned char *out;
	uint64_t out_len;
	uint64_t bytes_in;

	int chan_fd;		   /* helper.c's */
	uint64_t last_progress_ns; /* helper.c's: when PROGRESS last went */
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

#endif /* SBK_HELPER_OP_H */
