/*
 * helper_zstd.c - ISO_OP_ZSTD_COMPRESS and ISO_OP_ZSTD_DECOMPRESS in the
 * helper.  Inline: the payload is the raw input (sbkd decoded the base64),
 * the output goes back as DONE's payload.  ISO_F_PATHS: the codec reads
 * the input descriptor and writes the output descriptor sbkd opened; sbkd
 * links the output only when DONE says success.
 *
 * Errors name the parameter the client gave ("data_b64" or "path"), so a
 * client cannot tell an isolated job's answer from an in-process one.
 */
#include "helper_zstd.h"
#include "zstd_codec.h"

/* Set when a PROGRESS could not be sent: sbkd is gone, stop. */
struct hz_state {
	struct helper_call *call;
	bool gone;
};

static bool
hz_stop(void *arg)
{
	return (((struct hz_state *)arg)->gone);
}

static void
hz_progress(void *arg, uint64_t done, uint64_t total)
{
	struct hz_state *st = arg;

	if (st->call->progress(st->call, done, total) == -1)
		st->gone = true;
}

static int
hz_run(struct helper_call *call, bool compress, struct rpc_error *err)
{
	const struct iso_request *req = call->req;
	struct hz_state st = { call, false };
	struct zstd_codec_cb cb = { hz_stop, hz_progress, &st };
	struct zstd_codec_fds io = { call->in_fd, call->out_fd, req->in_size, 0,
		0 };
	struct zstd_codec_buf out = { NULL, 0 };
	size_t limit =
	    req->out_max > SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)req->out_max;
	int rc;

	if ((req->flags & ISO_F_PATHS) != 0) {
		rc = compress ?
		    zstd_codec_compress_fds(&io, req->level, &cb, err) :
		    zstd_codec_decompress_fds(&io, limit, "path", &cb, err);
		call->out_len = io.bytes_out;
		call->bytes_in = io.bytes_in;
		return (rc);
	}
	rc = compress ? zstd_codec_compress(call->in, call->in_len, req->level,
			    &cb, &out, err) :
			zstd_codec_decompress(call->in, call->in_len, limit,
			    "data_b64", &cb, &out, err);
	if (rc == 0) {
		call->out = out.data;
		call->out_len = out.len;
		call->bytes_in = call->in_len;
	}
	return (rc);
}

int
helper_zstd_compress(struct helper_call *call, struct rpc_error *err)
{
	return (hz_run(call, true, err));
}

int
helper_zstd_decompress(struct helper_call *call, struct rpc_error *err)
{
	return (hz_run(call, false, err));
}
