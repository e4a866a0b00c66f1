/*
 * isolate_wire.h - the frames between sbkd and an isolated helper process
 * (isolate.c on sbkd's side, helper.c on the helper's), over one
 * SOCK_STREAM socketpair.  sbkd sends a struct iso_request followed by
 * in_len payload bytes (inline mode), or with ISO_F_PATHS two descriptors
 * attached to the header with SCM_RIGHTS (input, output) and no payload.
 * The helper answers with any number of PROGRESS replies and one DONE
 * reply: on success out_len payload bytes follow (inline) or out_len is the
 * bytes written to the output descriptor (paths); on failure code is the
 * JSON-RPC error code, message its message, and data_len bytes of JSON
 * text (error.data) follow.  Both ends run the same binary, so the structs
 * travel in host byte order with no padding.
 */
#ifndef SBK_ISOLATE_WIRE_H
#define SBK_ISOLATE_WIRE_H

#include <stdint.h>

#define ISO_MAGIC 0x49424b53u /* "SKBI" */

enum iso_op {
	ISO_OP_ZSTD_COMPRESS = 1,
	ISO_OP_ZSTD_DECOMPRESS = 2,
	ISO_OP_TEST_CRASH = 3,	   /* the helper dies of SIGSEGV */
	ISO_OP_TEST_FORBIDDEN = 4, /* the helper tries open("/etc/passwd") */
	ISO_OP_TEST_HANG = 5,	   /* the helper sleeps until killed */
	ISO_OP_TEST_PID = 6,	   /* the helper answers {"pid": its pid} */
	ISO_OP_TEST_LIE = 7,	   /* the helper claims more than out_max */
};

#define ISO_F_PATHS 0x1 /* two fds attached: input, output */
/*
 * The client asked for progress: send PROGRESS, at most every
 * ISO_PROGRESS_MS.  Without it a helper sends none (one per 128 KiB
 * chunk woke the waiting worker 2,048 times for 256 MiB).
 */
#define ISO_F_PROGRESS	0x2
#define ISO_PROGRESS_MS 50

struct iso_request {
	uint32_t magic;
	uint16_t op;
	uint16_t flags;
	int32_t level; /* compress */
	uint32_t reserved;
	uint64_t in_len;  /* inline: payload bytes that follow */
	uint64_t out_max; /* output cap (max_output_bytes) */
	uint64_t in_size; /* path mode: input size for progress; 0 unknown */
};

enum iso_msg {
	ISO_MSG_PROGRESS = 1,
	ISO_MSG_DONE = 2,
};

struct iso_reply {
	uint32_t magic;
	uint16_t type;
	uint16_t reserved;
	int32_t code;	   /* 0 success, else the JSON-RPC error code */
	uint32_t data_len; /* error: bytes of error.data's JSON that follow */
	uint64_t out_len;  /* DONE: payload that follows, or bytes written */
	uint64_t done, total; /* PROGRESS, and DONE's bytes_in in done */
	char message[256];    /* error message, NUL-terminated */
};

_Static_assert(sizeof(struct iso_request) == 40, "iso_request has padding");
_Static_assert(sizeof(struct iso_reply) == 296, "iso_reply has padding");

/* The longest error.data text a DONE reply may carry. */
#define ISO_DATA_MAX 4096

#endif /* SBK_ISOLATE_WIRE_H */
