/*
 * zstd.c - the zstd.compress and zstd.decompress job kinds (CPU pool).
 *
 * Two modes: inline (data_b64 in, data_b64 out) and path (path in,
 * out_path out, both confined by paths.c).  Both stream through libzstd
 * in chunks of ZS_CHUNK bytes, checking job_should_stop() after each one,
 * so cancel, deadline and disconnect stop a job within one chunk; path
 * mode uses two fixed buffers whatever the file size and reports progress
 * per chunk.  Decompressed output is capped at max_output_bytes (-32004),
 * and the decoder's window is capped to match, so a small bomb can cost
 * neither memory nor much time.  Path output goes through paths_out_*: a
 * job that fails or stops leaves nothing at out_path.
 *
 * parse runs on the event thread and does only cheap checks (no base64
 * decode, no I/O); run on a CPU worker; free on any thread.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "base64.h"
#include "config.h"
#include "job.h"
#include "paths.h"

#define ZS_CHUNK (128 * 1024)

struct zs_arg {
	bool compress;
	int level;
	bool overwrite;
	/* Borrowed from job->params, which lives as long as the job. */
	const char *b64; /* inline mode */
	size_t b64len;
	const char *path; /* path mode */
	const char *out_path;
};

static const char *const zs_compress_params[] = { "data_b64", "path",
	"out_path", "level", "overwrite", NULL };
static const char *const zs_decompress_params[] = { "data_b64", "path",
	"out_path", "overwrite", NULL };

static void
zs_oom(struct rpc_error *err)
{
	rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
}

/* The core answers with the stop reason; this only keeps err honest. */
static void
zs_stopped(struct rpc_error *err)
{
	rpc_error_set(err, RPC_CANCELLED, NULL, "stopped");
}

static bool
zs_absolute(const char *param, const char *s, size_t len, struct rpc_error *err)
{
	if (strlen(s) != len || s[0] != '/') {
		rpc_error_param(
		    err, param, "%s must be an absolute path", param);
		return (false);
	}
	return (true);
}

static int
zs_parse(struct job *job, const json_t *params, const struct sbk_config *cfg,
    struct rpc_error *err, bool compress)
{
	struct zs_arg *a;
	long long level = 0;
	size_t plen, olen;

	if (job_params_check(params,
		compress ? zs_compress_params : zs_decompress_params,
		err) == -1)
		return (-1);
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		zs_oom(err);
		return (-1);
	}
	a->compress = compress;
	if (json_object_get(params, "data_b64") != NULL) {
		if (json_object_get(params, "path") != NULL) {
			rpc_error_param(err, "path",
			    "give either data_b64 or path, not both");
			goto fail;
		}
		if (json_object_get(params, "out_path") != NULL) {
			rpc_error_param(err, "out_path",
			    "out_path goes with path, not data_b64");
			goto fail;
		}
		if (job_param_string(params, "data_b64", true, &a->b64,
			&a->b64len, err) == -1)
			goto fail;
	} else if (json_object_get(params, "path") != NULL ||
	    json_object_get(params, "out_path") != NULL) {
		if (job_param_string(
			params, "path", true, &a->path, &plen, err) == -1 ||
		    job_param_string(params, "out_path", true, &a->out_path,
			&olen, err) == -1)
			goto fail;
		/* Every -32602 ranks before the roots' -32003. */
		if (!zs_absolute("path", a->path, plen, err) ||
		    !zs_absolute("out_path", a->out_path, olen, err))
			goto fail;
	} else {
		rpc_error_param(
		    err, "data_b64", "data_b64 or path is required");
		goto fail;
	}
	if (compress &&
	    job_param_int(params, "level", cfg->zstd_level, -7,
		cfg->zstd_max_level, &level, err) == -1)
		goto fail;
	if (job_param_bool(params, "overwrite", false, &a->overwrite, err) ==
	    -1)
		goto fail;
	if (a->path != NULL &&
	    (paths_check(cfg->read_roots, "path", a->path, plen, err) == -1 ||
		paths_check(cfg->write_roots, "out_path", a->out_path, olen,
		    err) == -1))
		goto fail;
	/* zstd itself reads level 0 as its default, 3. */
	a->level = (int)level;
	job->arg = a;
	/*
	 * The most an inline reply can hold (scheduler.h): compressed, the
	 * bound of the decoded input; decompressed, max_output_bytes.
	 */
	if (a->b64 != NULL)
		job->work.item.out_cost = job_reply_cost(compress ?
			ZSTD_compressBound(a->b64len / 4 * 3 + 3) :
			cfg->zstd_max_output_bytes);
	return (0);

fail:
	free(a);
	return (-1);
}

static int
zs_compress_parse(struct job *job, const json_t *params,
    const struct sbk_config *cfg, struct rpc_error *err)
{
	return (zs_parse(job, params, cfg, err, true));
}

static int
zs_decompress_parse(struct job *job, const json_t *params,
    const struct sbk_config *cfg, struct rpc_error *err)
{
	return (zs_parse(job, params, cfg, err, false));
}

/*
 * The decoder's window cap: what max_output_bytes needs, but never below
 * 8 MiB (what zstd levels 1-19 use when the size is unknown), nor above
 * zstd's default 128 MiB.  Frames made with --long or --ultra beyond it
 * are refused (-32004) rather than allowed to allocate their window.
 */
static int
zs_window_log(size_t max_out)
{
	int wl = 23;

	while (wl < 27 && ((size_t)1 << wl) < max_out)
		wl++;
	return (wl);
}

static ZSTD_CCtx *
zs_cctx(const struct zs_arg *a, struct rpc_error *err)
{
	ZSTD_CCtx *cctx;

	if ((cctx = ZSTD_createCCtx()) == NULL) {
		zs_oom(err);
		return (NULL);
	}
	/* As the zstd command line does, so its -t can check our output. */
	if (ZSTD_isError(ZSTD_CCtx_setParameter(
		cctx, ZSTD_c_compressionLevel, a->level)) ||
	    ZSTD_isError(
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1))) {
		ZSTD_freeCCtx(cctx);
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL,
		    "zstd: cannot set level %d", a->level);
		return (NULL);
	}
	return (cctx);
}

static ZSTD_DCtx *
zs_dctx(const struct job *job, struct rpc_error *err)
{
	ZSTD_DCtx *dctx;

	if ((dctx = ZSTD_createDCtx()) == NULL) {
		zs_oom(err);
		return (NULL);
	}
	ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax,
	    zs_window_log(job->config->zstd_max_output_bytes));
	return (dctx);
}

/* A decoder error: the input's fault unless memory ran out. */
static void
zs_decode_error(
    struct rpc_error *err, size_t ret, const char *param, size_t limit)
{
	switch (ZSTD_getErrorCode(ret)) {
	case ZSTD_error_memory_allocation:
		zs_oom(err);
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
zs_over_limit(struct rpc_error *err, size_t limit)
{
	rpc_error_limit(err, RPC_TOO_LARGE, limit,
	    "decompressed data exceeds max_output_bytes (%zu)", limit);
}

/* data_b64 decoded; NULL with err set. */
static uint8_t *
zs_decode_b64(const struct zs_arg *a, size_t *lenp, struct rpc_error *err)
{
	uint8_t *buf;

	if ((buf = malloc(base64_decoded_max(a->b64len) + 1)) == NULL) {
		zs_oom(err);
		return (NULL);
	}
	if (!base64_decode(a->b64, a->b64len, buf, lenp)) {
		free(buf);
		rpc_error_param(
		    err, "data_b64", "data_b64 is not valid base64");
		return (NULL);
	}
	return (buf);
}

static json_t *
zs_inline_result(
    const uint8_t *data, size_t len, size_t bytes_in, struct rpc_error *err)
{
	char *text;
	size_t n;
	json_t *res = NULL, *s;

	if ((text = malloc(base64_encoded_len(len) + 1)) == NULL) {
		zs_oom(err);
		return (NULL);
	}
	n = base64_encode(data, len, text);
	/* Base64 is ASCII: skip jansson's UTF-8 scan of a big string. */
	if ((s = json_stringn_nocheck(text, n)) != NULL)
		res = json_pack("{s:o,s:I,s:I}", "data_b64", s, "bytes_in",
		    (json_int_t)bytes_in, "bytes_out", (json_int_t)len);
	free(text);
	if (res == NULL)
		zs_oom(err);
	return (res);
}

static json_t *
zs_compress_inline(struct job *job, struct zs_arg *a, struct rpc_error *err)
{
	ZSTD_CCtx *cctx = NULL;
	ZSTD_inBuffer in;
	ZSTD_outBuffer out;
	uint8_t *src, *dst = NULL;
	size_t len, ret, cap;
	json_t *res = NULL;

	if ((src = zs_decode_b64(a, &len, err)) == NULL)
		return (NULL);
	cap = ZSTD_compressBound(len);
	if ((dst = malloc(cap)) == NULL) {
		zs_oom(err);
		goto out;
	}
	if ((cctx = zs_cctx(a, err)) == NULL)
		goto out;
	ZSTD_CCtx_setPledgedSrcSize(cctx, len);
	in.src = src;
	in.pos = 0;
	out.dst = dst;
	out.size = cap;
	out.pos = 0;
	/* A bound-sized output never fills: each call eats input. */
	do {
		in.size = len - in.pos > ZS_CHUNK ? in.pos + ZS_CHUNK : len;
		ret = ZSTD_compressStream2(cctx, &out, &in,
		    in.size == len ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(ret)) {
			rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "zstd: %s",
			    ZSTD_getErrorName(ret));
			goto out;
		}
		if (job_should_stop(job)) {
			zs_stopped(err);
			goto out;
		}
	} while (in.pos < len || ret != 0);
	res = zs_inline_result(dst, out.pos, len, err);
out:
	ZSTD_freeCCtx(cctx);
	free(src);
	free(dst);
	return (res);
}

static json_t *
zs_decompress_inline(struct job *job, struct zs_arg *a, struct rpc_error *err)
{
	ZSTD_DCtx *dctx = NULL;
	ZSTD_inBuffer in;
	ZSTD_outBuffer out;
	uint8_t *src, *dst = NULL, *p;
	size_t len, ret = 1, r, before, cap = 0, used = 0, want;
	size_t limit = job->config->zstd_max_output_bytes;
	json_t *res = NULL;

	if ((src = zs_decode_b64(a, &len, err)) == NULL)
		return (NULL);
	if (len == 0) {
		rpc_error_param(
		    err, "data_b64", "empty input is not zstd data");
		goto out;
	}
	if ((dctx = zs_dctx(job, err)) == NULL)
		goto out;
	in.src = src;
	in.pos = 0;
	for (;;) {
		/*
		 * Grow by doubling, up to one byte past the limit: producing
		 * that byte is how we learn the output is too large.
		 */
		if (cap - used < ZS_CHUNK && cap < limit + 1) {
			want = cap == 0 ?
			    (len * 4 > ZS_CHUNK ? len * 4 : ZS_CHUNK) :
			    cap * 2;
			if (want > limit + 1)
				want = limit + 1;
			if ((p = realloc(dst, want)) == NULL) {
				zs_oom(err);
				goto out;
			}
			dst = p;
			cap = want;
		}
		in.size = len - in.pos > ZS_CHUNK ? in.pos + ZS_CHUNK : len;
		out.dst = dst + used;
		out.size = cap - used > ZS_CHUNK ? ZS_CHUNK : cap - used;
		out.pos = 0;
		before = in.pos;
		r = ZSTD_decompressStream(dctx, &out, &in);
		if (ZSTD_isError(r)) {
			zs_decode_error(err, r, "data_b64", limit);
			goto out;
		}
		/*
		 * Only a call that moved data tells where the frame stands:
		 * an idle call after a finished frame returns the size hint
		 * of the next frame's header, not 0.
		 */
		if (in.pos != before || out.pos != 0)
			ret = r;
		used += out.pos;
		if (used > limit) {
			zs_over_limit(err, limit);
			goto out;
		}
		if (job_should_stop(job)) {
			zs_stopped(err);
			goto out;
		}
		/* All input in, and the decoder had no more to give. */
		if (in.pos == len && out.pos < out.size)
			break;
	}
	if (ret != 0) {
		rpc_error_param(err, "data_b64", "truncated zstd frame");
		goto out;
	}
	res = zs_inline_result(dst, used, len, err);
out:
	ZSTD_freeDCtx(dctx);
	free(src);
	free(dst);
	return (res);
}

static int
zs_write(int fd, const uint8_t *buf, size_t len)
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

/*
 * Path mode, both directions: read ZS_CHUNK at a time, push it through the
 * codec, write whatever comes out, and publish out_path only at the end.
 */
static json_t *
zs_run_paths(struct job *job, struct zs_arg *a, struct rpc_error *err)
{
	const struct sbk_config *cfg = job->config;
	struct paths_out po;
	ZSTD_CCtx *cctx = NULL;
	ZSTD_DCtx *dctx = NULL;
	ZSTD_inBuffer in;
	ZSTD_outBuffer out;
	struct stat st;
	uint8_t *ibuf = NULL, *obuf = NULL;
	uint64_t done = 0, total, written = 0;
	size_t limit = cfg->zstd_max_output_bytes, ret = 1;
	size_t osize, r, before;
	ssize_t n;
	bool eof = false, produced_all;
	int fd;
	json_t *res = NULL;

	memset(&po, 0, sizeof(po));
	if ((fd = paths_open_read(
		 cfg->read_roots, cfg->read_root_fds, a->path, err)) == -1)
		return (NULL);
	if (fstat(fd, &st) == -1) {
		rpc_error_errno(err, errno, "path: fstat failed");
		close(fd);
		return (NULL);
	}
	total = (uint64_t)st.st_size;
	osize = a->compress ? ZSTD_CStreamOutSize() : ZSTD_DStreamOutSize();
	if ((ibuf = malloc(ZS_CHUNK)) == NULL ||
	    (obuf = malloc(osize)) == NULL) {
		zs_oom(err);
		goto out;
	}
	if (a->compress ? (cctx = zs_cctx(a, err)) == NULL :
			  (dctx = zs_dctx(job, err)) == NULL)
		goto out;
	if (paths_out_open(&po, cfg->write_roots, cfg->write_root_fds,
		a->out_path, a->overwrite, err) == -1)
		goto out;

	in.src = ibuf;
	in.size = in.pos = 0;
	for (;;) {
		if (in.pos == in.size && !eof) {
			n = job_read_chunk(job, fd, ibuf, ZS_CHUNK, -1, err);
			if (n == -1)
				goto out;
			eof = n == 0;
			in.size = (size_t)n;
			in.pos = 0;
			done += (uint64_t)n;
			if (eof && done == 0 && !a->compress) {
				rpc_error_param(err, "path",
				    "empty input is not zstd data");
				goto out;
			}
		}
		out.dst = obuf;
		out.size = osize;
		out.pos = 0;
		before = in.pos;
		if (a->compress)
			r = ZSTD_compressStream2(cctx, &out, &in,
			    eof ? ZSTD_e_end : ZSTD_e_continue);
		else
			r = ZSTD_decompressStream(dctx, &out, &in);
		if (ZSTD_isError(r)) {
			if (a->compress)
				rpc_error_set(err, RPC_INTERNAL_ERROR, NULL,
				    "zstd: %s", ZSTD_getErrorName(r));
			else
				zs_decode_error(err, r, "path", limit);
			goto out;
		}
		/* As in zs_decompress_inline: idle calls say nothing. */
		if (a->compress || in.pos != before || out.pos != 0)
			ret = r;
		written += out.pos;
		if (!a->compress && written > limit) {
			zs_over_limit(err, limit);
			goto out;
		}
		if (zs_write(po.fd, obuf, out.pos) == -1) {
			rpc_error_errno(err, errno, "out_path: write failed");
			goto out;
		}
		if (job_should_stop(job)) {
			zs_stopped(err);
			goto out;
		}
		job_progress(job, done, total > done ? total : done);
		produced_all = out.pos < out.size;
		if (a->compress && eof && ret == 0)
			break;
		if (!a->compress && eof && in.pos == in.size && produced_all)
			break;
	}
	if (!a->compress && ret != 0) {
		rpc_error_param(err, "path", "truncated zstd frame");
		goto out;
	}
	if (paths_out_commit(&po, err) == -1)
		goto out;
	res = json_pack("{s:I,s:I}", "bytes_in", (json_int_t)done, "bytes_out",
	    (json_int_t)written);
	if (res == NULL)
		zs_oom(err);
out:
	paths_out_abort(&po);
	ZSTD_freeCCtx(cctx);
	ZSTD_freeDCtx(dctx);
	free(ibuf);
	free(obuf);
	close(fd);
	return (res);
}

static json_t *
zs_run(struct job *job, struct rpc_error *err)
{
	struct zs_arg *a = job->arg;

	if (a->path != NULL)
		return (zs_run_paths(job, a, err));
	if (a->compress)
		return (zs_compress_inline(job, a, err));
	return (zs_decompress_inline(job, a, err));
}

static void
zs_free(struct job *job)
{
	free(job->arg);
	job->arg = NULL;
}

const struct job_kind job_zstd_compress = {
	.method = "zstd.compress",
	.lane = LANE_CPU,
	.parse = zs_compress_parse,
	.run = zs_run,
	.free = zs_free,
};

const struct job_kind job_zstd_decompress = {
	.method = "zstd.decompress",
	.lane = LANE_CPU,
	.parse = zs_decompress_parse,
	.run = zs_run,
	.free = zs_free,
};
