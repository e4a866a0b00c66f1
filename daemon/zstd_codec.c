/*
 * zstd_codec.c - the zstd codec of zstd_codec.h, shared by sbkd's CPU
 * workers and the isolated helpers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "zstd_codec.h"

static void
codec_oom(struct rpc_error *err)
{
	rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
}

/* The job's core answers with the stop reason; this keeps err honest. */
static bool
codec_stopped(const struct zstd_codec_cb *cb, struct rpc_error *err)
{
	if (cb == NULL || cb->stop == NULL || !cb->stop(cb->arg))
		return (false);
	rpc_error_set(err, RPC_CANCELLED, NULL, "stopped");
	return (true);
}

static void
codec_progress(const struct zstd_codec_cb *cb, uint64_t done, uint64_t total)
{
	if (cb != NULL && cb->progress != NULL)
		cb->progress(cb->arg, done, total > done ? total : done);
}

int
zstd_codec_window_log(size_t max_out)
{
	int wl = 23;

	while (wl < 27 && ((size_t)1 << wl) < max_out)
		wl++;
	return (wl);
}

static ZSTD_CCtx *
codec_cctx(int level, struct rpc_error *err)
{
	ZSTD_CCtx *cctx;

	if ((cctx = ZSTD_createCCtx()) == NULL) {
		codec_oom(err);
		return (NULL);
	}
	/* As the zstd command line does, so its -t can check our output. */
	if (ZSTD_isError(
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1))) {
		ZSTD_freeCCtx(cctx);
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL,
		    "zstd: cannot set level %d", level);
		return (NULL);
	}
	return (cctx);
}

/*
 * Frames made with --long or --ultra beyond the window cap are refused
 * (-32004) rather than allowed to allocate their window.
 */
static ZSTD_DCtx *
codec_dctx(size_t limit, struct rpc_error *err)
{
	ZSTD_DCtx *dctx;

	if ((dctx = ZSTD_createDCtx()) == NULL) {
		codec_oom(err);
		return (NULL);
	}
	ZSTD_DCtx_setParameter(
	    dctx, ZSTD_d_windowLogMax, zstd_codec_window_log(limit));
	return (dctx);
}

/* A decoder error: the input's fault unless memory ran out. */
static void
codec_decode_error(
    struct rpc_error *err, size_t ret, const char *param, size_t limit)
{
	switch (ZSTD_getErrorCode(ret)) {
	case ZSTD_error_memory_allocation:
		codec_oom(err);
		break;
	case ZSTD_error_frameParameter_windowTooLarge:
		rpc_error_limit(err, RPC_TOO_LARGE, limit,
		    "frame window is larger than max_output_bytes allows");
		break;
	default:
		rpc_error_param(err, param, "invalid zstd data: %s",
		    ZSTD_getErrorName(ret));
		break;
	}
}

static void
codec_over_limit(struct rpc_error *err, size_t limit)
{
	rpc_error_limit(err, RPC_TOO_LARGE, limit,
	    "decompressed data exceeds max_output_bytes (%zu)", limit);
}

static void
codec_empty(struct rpc_error *err, const char *param)
{
	rpc_error_param(err, param, "empty input is not zstd data");
}

int
zstd_codec_compress(const uint8_t *src, size_t len, int level,
    const struct zstd_codec_cb *cb, struct zstd_codec_buf *out,
    struct rpc_error *err)
{
	size_t ret, cap = ZSTD_compressBound(len);
	ZSTD_inBuffer in = { src, 0, 0 };
	ZSTD_outBuffer ob = { malloc(cap), cap, 0 };
	ZSTD_CCtx *cctx;

	if (ob.dst == NULL) {
		codec_oom(err);
		return (-1);
	}
	if ((cctx = codec_cctx(level, err)) == NULL)
		goto fail;
	ZSTD_CCtx_setPledgedSrcSize(cctx, len);
	/* A bound-sized output never fills: each call eats input. */
	do {
		in.size = len - in.pos > ZSTD_CODEC_CHUNK ?
		    in.pos + ZSTD_CODEC_CHUNK :
		    len;
		ret = ZSTD_compressStream2(cctx, &ob, &in,
		    in.size == len ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(ret)) {
			rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "zstd: %s",
			    ZSTD_getErrorName(ret));
			goto fail;
		}
		if (codec_stopped(cb, err))
			goto fail;
	} while (in.pos < len || ret != 0);
	ZSTD_freeCCtx(cctx);
	out->data = ob.dst;
	out->len = ob.pos;
	return (0);
fail:
	ZSTD_freeCCtx(cctx);
	free(ob.dst);
	return (-1);
}

/*
 * Grow by doubling, up to one byte past the limit: producing that byte is
 * how the decoder tells that the output is too large.
 */
static int
codec_grow(struct zstd_codec_buf *b, size_t *cap, size_t len, size_t limit,
    struct rpc_error *err)
{
	size_t want;
	uint8_t *p;

	if (*cap - b->len >= ZSTD_CODEC_CHUNK || *cap >= limit + 1)
		return (0);
	want = *cap == 0 ?
	    (len * 4 > ZSTD_CODEC_CHUNK ? len * 4 : ZSTD_CODEC_CHUNK) :
	    *cap * 2;
	if (want > limit + 1)
		want = limit + 1;
	if ((p = realloc(b->data, want)) == NULL) {
		codec_oom(err);
		return (-1);
	}
	b->data = p;
	*cap = want;
	return (0);
}

int
zstd_codec_decompress(const uint8_t *src, size_t len, size_t limit,
    const char *param, const struct zstd_codec_cb *cb,
    struct zstd_codec_buf *out, struct rpc_error *err)
{
	ZSTD_DCtx *dctx;
	ZSTD_inBuffer in = { src, 0, 0 };
	ZSTD_outBuffer ob;
	struct zstd_codec_buf b = { NULL, 0 };
	size_t ret = 1, r, before, cap = 0;

	if (len == 0) {
		codec_empty(err, param);
		return (-1);
	}
	if ((dctx = codec_dctx(limit, err)) == NULL)
		return (-1);
	for (;;) {
		if (codec_grow(&b, &cap, len, limit, err) == -1)
			goto fail;
		in.size = len - in.pos > ZSTD_CODEC_CHUNK ?
		    in.pos + ZSTD_CODEC_CHUNK :
		    len;
		ob.dst = b.data + b.len;
		ob.size = cap - b.len > ZSTD_CODEC_CHUNK ? ZSTD_CODEC_CHUNK :
							   cap - b.len;
		ob.pos = 0;
		before = in.pos;
		r = ZSTD_decompressStream(dctx, &ob, &in);
		if (ZSTD_isError(r)) {
			codec_decode_error(err, r, param, limit);
			goto fail;
		}
		/*
		 * Only a call that moved data tells where the frame stands:
		 * an idle call after a finished frame returns the size hint
		 * of the next frame's header, not 0.
		 */
		if (in.pos != before || ob.pos != 0)
			ret = r;
		b.len += ob.pos;
		if (b.len > limit) {
			codec_over_limit(err, limit);
			goto fail;
		}
		if (codec_stopped(cb, err))
			goto fail;
		/* All input in, and the decoder had no more to give. */
		if (in.pos == len && ob.pos < ob.size)
			break;
	}
	if (ret != 0) {
		rpc_error_param(err, param, "truncated zstd frame");
		goto fail;
	}
	ZSTD_freeDCtx(dctx);
	*out = b;
	return (0);
fail:
	ZSTD_freeDCtx(dctx);
	free(b.data);
	return (-1);
}

static int
codec_write(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

static ssize_t
codec_read(
    int fd, uint8_t *buf, size_t len, const char *param, struct rpc_error *err)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		rpc_error_errno(err, errno, "%s: read failed", param);
	return (n);
}

/*
 * One direction's state for codec_stream, which frees it: exactly one
 * context is set.
 */
struct codec_run {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	size_t limit; /* decompress */
	const char *param;
};

/*
 * Read ZSTD_CODEC_CHUNK at a time, push it through the codec, write
 * whatever comes out.  Two fixed buffers whatever the file size.
 */
static int
codec_stream(struct zstd_codec_fds *io, const struct codec_run *run,
    const struct zstd_codec_cb *cb, struct rpc_error *err)
{
	bool compress = run->cctx != NULL, eof = false;
	ZSTD_inBuffer in;
	ZSTD_outBuffer out;
	uint8_t *ibuf, *obuf;
	size_t osize, r, ret = 1, before;
	ssize_t n;
	int rc = -1;

	osize = compress ? ZSTD_CStreamOutSize() : ZSTD_DStreamOutSize();
	ibuf = malloc(ZSTD_CODEC_CHUNK);
	obuf = malloc(osize);
	if (ibuf == NULL || obuf == NULL) {
		codec_oom(err);
		goto out;
	}
	io->bytes_in = io->bytes_out = 0;
	in.src = ibuf;
	in.size = in.pos = 0;
	for (;;) {
		if (in.pos == in.size && !eof) {
			n = codec_read(
			    io->in_fd, ibuf, ZSTD_CODEC_CHUNK, run->param, err);
			if (n == -1 || codec_stopped(cb, err))
				goto out;
			eof = n == 0;
			in.size = (size_t)n;
			in.pos = 0;
			io->bytes_in += (uint64_t)n;
			if (eof && io->bytes_in == 0 && !compress) {
				codec_empty(err, run->param);
				goto out;
			}
		}
		out.dst = obuf;
		out.size = osize;
		out.pos = 0;
		before = in.pos;
		if (compress)
			r = ZSTD_compressStream2(run->cctx, &out, &in,
			    eof ? ZSTD_e_end : ZSTD_e_continue);
		else
			r = ZSTD_decompressStream(run->dctx, &out, &in);
		if (ZSTD_isError(r)) {
			if (compress)
				rpc_error_set(err, RPC_INTERNAL_ERROR, NULL,
				    "zstd: %s", ZSTD_getErrorName(r));
			else
				codec_decode_error(
				    err, r, run->param, run->limit);
			goto out;
		}
		/* As in zstd_codec_decompress: idle calls say nothing. */
		if (compress || in.pos != before || out.pos != 0)
			ret = r;
		io->bytes_out += out.pos;
		if (!compress && io->bytes_out > run->limit) {
			codec_over_limit(err, run->limit);
			goto out;
		}
		if (codec_write(io->out_fd, obuf, out.pos) == -1) {
			rpc_error_errno(err, errno, "out_path: write failed");
			goto out;
		}
		if (codec_stopped(cb, err))
			goto out;
		codec_progress(cb, io->bytes_in, io->in_size);
		if (compress && eof && ret == 0)
			break;
		if (!compress && eof && in.pos == in.size && out.pos < out.size)
			break;
	}
	if (!compress && ret != 0) {
		rpc_error_param(err, run->param, "truncated zstd frame");
		goto out;
	}
	rc = 0;
out:
	ZSTD_freeCCtx(run->cctx);
	ZSTD_freeDCtx(run->dctx);
	free(ibuf);
	free(obuf);
	return (rc);
}

int
zstd_codec_compress_fds(struct zstd_codec_fds *io, int level,
    const struct zstd_codec_cb *cb, struct rpc_error *err)
{
	struct codec_run run = { codec_cctx(level, err), NULL, 0, "path" };

	return (run.cctx == NULL ? -1 : codec_stream(io, &run, cb, err));
}

int
zstd_codec_decompress_fds(struct zstd_codec_fds *io, size_t limit,
    const char *param, const struct zstd_codec_cb *cb, struct rpc_error *err)
{
	struct codec_run run = { NULL, codec_dctx(limit, err), limit, param };

	return (run.dctx == NULL ? -1 : codec_stream(io, &run, cb, err));
}
