/*
 * zstd.c - the zstd.compress and zstd.decompress job kinds (CPU pool).
 *
 * Two modes: inline (data_b64 in, data_b64 out) and path (path in,
 * out_path out, both confined by paths.c).  This file is the job's side:
 * params, base64, the roots and the output file; the codec itself (chunks,
 * caps, window limit, stop checks between chunks) is zstd_codec.c.  Path
 * output goes through paths_out_*: a job that fails or stops leaves
 * nothing at out_path.
 *
 * Isolation (isolate.h): a kind named in [isolation] kinds runs its codec
 * in a sandboxed helper rather than on the worker.  Everything else stays
 * here: parse, base64 both ways, opening the input and the O_TMPFILE
 * output under the roots, and linking the output on success.  The helper
 * gets raw bytes or the two descriptors, and nothing else.
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
#include "isolate.h"
#include "job.h"
#include "paths.h"
#include "zstd_codec.h"

struct zs_arg {
	bool compress;
	int level;
	bool overwrite;
	/* Borrowed from job->params, which lives as long as the job. */
	const char *b64; /* inline mode */
	size_t b64len;
	const char *path; /* path mode */
	size_t path_len;
	const char *out_path;
	size_t out_len;
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
		if (job_param_string(params, "path", true, &a->path,
			&a->path_len, err) == -1 ||
		    job_param_string(params, "out_path", true, &a->out_path,
			&a->out_len, err) == -1)
			goto fail;
		/* Every -32602 ranks before the roots' -32003. */
		if (!zs_absolute("path", a->path, a->path_len, err) ||
		    !zs_absolute("out_path", a->out_path, a->out_len, err))
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
	    (paths_check(cfg->read_roots, "path", a->path, a->path_len, err) ==
		    -1 ||
		paths_check(cfg->write_roots, "out_path", a->out_path,
		    a->out_len, err) == -1))
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

static bool
zs_should_stop(void *arg)
{
	return (job_should_stop(arg));
}

static void
zs_progress(void *arg, uint64_t done, uint64_t total)
{
	job_progress(arg, done, total);
}

/* The codec's view of the job: stop and progress, nothing else. */
static struct zstd_codec_cb
zs_cb(struct job *job)
{
	struct zstd_codec_cb cb = { zs_should_stop, zs_progress, job };

	return (cb);
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

/*
 * A helper's request for this job: the op, the level, and the cap the
 * helper's output is held to (inline compress: the bound of the input;
 * decompress: max_output_bytes).
 */
static struct iso_request
zs_request(const struct job *job, const struct zs_arg *a, uint16_t flags,
    size_t in_len)
{
	struct iso_request req;

	memset(&req, 0, sizeof(req));
	req.op = a->compress ? ISO_OP_ZSTD_COMPRESS : ISO_OP_ZSTD_DECOMPRESS;
	req.flags = flags | (job->want_progress ? ISO_F_PROGRESS : 0);
	req.level = a->level;
	req.out_max = a->compress ? ZSTD_compressBound(in_len) :
				    job->config->zstd_max_output_bytes;
	return (req);
}

/* The codec on bytes: in a helper when [isolation] kinds names the kind. */
static int
zs_codec_buf(struct job *job, const struct zs_arg *a, const uint8_t *src,
    size_t len, struct zstd_codec_buf *out, struct rpc_error *err)
{
	struct zstd_codec_cb cb = zs_cb(job);
	struct iso_request req;
	struct iso_result res;

	if (iso_job_isolated(job)) {
		req = zs_request(job, a, 0, len);
		if (iso_call(job, &req, src, len, NULL, &res, err) == -1)
			return (-1);
		out->data = res.out;
		out->len = (size_t)res.out_len;
		return (0);
	}
	if (a->compress)
		return (zstd_codec_compress(src, len, a->level, &cb, out, err));
	return (zstd_codec_decompress(src, len,
	    job->config->zstd_max_output_bytes, "data_b64", &cb, out, err));
}

/*
 * The codec between two descriptors: in a helper (both passed to it, the
 * helper opens nothing) when [isolation] kinds names the kind.
 */
static int
zs_codec_fds(struct job *job, const struct zs_arg *a, struct zstd_codec_fds *io,
    struct rpc_error *err)
{
	struct zstd_codec_cb cb = zs_cb(job);
	const int fds[2] = { io->in_fd, io->out_fd };
	struct iso_request req;
	struct iso_result res;

	if (iso_job_isolated(job)) {
		req = zs_request(job, a, ISO_F_PATHS, 0);
		req.in_size = io->in_size;
		if (iso_call(job, &req, NULL, 0, fds, &res, err) == -1)
			return (-1);
		io->bytes_in = res.bytes_in;
		io->bytes_out = res.out_len;
		return (0);
	}
	if (a->compress)
		return (zstd_codec_compress_fds(io, a->level, &cb, err));
	return (zstd_codec_decompress_fds(
	    io, job->config->zstd_max_output_bytes, "path", &cb, err));
}

/* Inline mode: base64 stays here, only raw bytes go to the codec. */
static json_t *
zs_run_inline(struct job *job, struct zs_arg *a, struct rpc_error *err)
{
	struct zstd_codec_buf out = { NULL, 0 };
	uint8_t *src;
	size_t len;
	json_t *res = NULL;

	if ((src = zs_decode_b64(a, &len, err)) == NULL)
		return (NULL);
	if (zs_codec_buf(job, a, src, len, &out, err) == 0)
		res = zs_inline_result(out.data, out.len, len, err);
	free(src);
	free(out.data);
	return (res);
}

/*
 * Path mode: open the input and the O_TMPFILE output under the roots
 * (here, whoever runs the codec), run the codec between them, and publish
 * out_path only when it succeeded.
 */
static json_t *
zs_run_paths(struct job *job, struct zs_arg *a, struct rpc_error *err)
{
	const struct sbk_config *cfg = job->config;
	struct zstd_codec_fds io;
	struct paths_out po;
	struct stat st;
	json_t *res = NULL;

	memset(&po, 0, sizeof(po));
	memset(&io, 0, sizeof(io));
	if ((io.in_fd = paths_open_read(
		 cfg->read_roots, cfg->read_root_fds, a->path, err)) == -1)
		return (NULL);
	if (fstat(io.in_fd, &st) == -1) {
		rpc_error_errno(err, errno, "path: fstat failed");
		goto out;
	}
	io.in_size = (uint64_t)st.st_size;
	if (paths_out_open(&po, cfg->write_roots, cfg->write_root_fds,
		a->out_path, a->overwrite, err) == -1)
		goto out;
	io.out_fd = po.fd;
	if (zs_codec_fds(job, a, &io, err) == -1 ||
	    paths_out_commit(&po, err) == -1)
		goto out;
	res = json_pack("{s:I,s:I}", "bytes_in", (json_int_t)io.bytes_in,
	    "bytes_out", (json_int_t)io.bytes_out);
	if (res == NULL)
		zs_oom(err);
out:
	paths_out_abort(&po);
	close(io.in_fd);
	return (res);
}

static json_t *
zs_run(struct job *job, struct rpc_error *err)
{
	struct zs_arg *a = job->arg;

	if (a->path != NULL)
		return (zs_run_paths(job, a, err));
	return (zs_run_inline(job, a, err));
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
	.flags = JOB_KIND_ISOLABLE,
	.parse = zs_compress_parse,
	.run = zs_run,
	.free = zs_free,
};

const struct job_kind job_zstd_decompress = {
	.method = "zstd.decompress",
	.lane = LANE_CPU,
	.flags = JOB_KIND_ISOLABLE,
	.parse = zs_decompress_parse,
	.run = zs_run,
	.free = zs_free,
};
