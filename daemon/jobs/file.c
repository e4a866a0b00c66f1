/*
 * file.c - the file.read job kind (I/O pool).
 *
 * Reads up to length bytes at offset from a regular file confined to
 * read_roots (paths.c) and answers them base64-encoded with the file's
 * size and whether the read reached its end.  length defaults to, and is
 * capped by, max_read_bytes, so one reply stays bounded.  The read goes in
 * FILE_CHUNK pieces with a stop check between them, so a cancel or a
 * deadline is noticed even on slow storage.
 *
 * parse runs on the event thread (no I/O), run on an I/O worker, free on
 * any thread.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base64.h"
#include "config.h"
#include "job.h"
#include "paths.h"

#define FILE_CHUNK (1024 * 1024)

struct file_arg {
	const char *path; /* borrowed from job->params */
	uint64_t offset;
	size_t length;
};

static const char *const file_read_params[] = { "path", "offset", "length",
	NULL };

static int
file_read_parse(struct job *job, const json_t *params,
    const struct sbk_config *cfg, struct rpc_error *err)
{
	struct file_arg *a;
	const char *path;
	size_t len;
	long long offset, length;

	if (job_params_check(params, file_read_params, err) == -1 ||
	    job_param_string(params, "path", true, &path, &len, err) == -1 ||
	    job_param_int(params, "offset", 0, 0, INT64_MAX, &offset, err) ==
		-1 ||
	    job_param_int(params, "length", (long long)cfg->max_read_bytes, 0,
		(long long)cfg->max_read_bytes, &length, err) == -1 ||
	    paths_check(cfg->read_roots, "path", path, len, err) == -1)
		return (-1);
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return (rpc_error_set(
		    err, RPC_INTERNAL_ERROR, NULL, "out of memory"));
	a->path = path;
	a->offset = (uint64_t)offset;
	a->length = (size_t)length;
	job->arg = a;
	/* Its reply holds up to length bytes, as base64 (scheduler.h). */
	job->work.item.out_cost = job_reply_cost(a->length);
	return (0);
}

static json_t *
file_read_run(struct job *job, struct rpc_error *err)
{
	struct file_arg *a = job->arg;
	struct stat st;
	uint8_t *buf = NULL;
	char *text = NULL;
	size_t got = 0, want;
	ssize_t n;
	json_t *res = NULL, *s;
	int fd;

	if ((fd = paths_open_read(job->config->read_roots,
		 job->config->read_root_fds, a->path, err)) == -1)
		return (NULL);
	if (fstat(fd, &st) == -1) {
		rpc_error_errno(err, errno, "path: fstat failed");
		goto out;
	}
	/* Never allocate more than the file can give from offset. */
	want = a->length;
	if ((uint64_t)st.st_size <= a->offset)
		want = 0;
	else if ((uint64_t)st.st_size - a->offset < want)
		want = (size_t)((uint64_t)st.st_size - a->offset);
	if ((buf = malloc(want + 1)) == NULL)
		goto oom;
	while (got < want) {
		n = job_read_chunk(job, fd, buf + got,
		    want - got > FILE_CHUNK ? FILE_CHUNK : want - got,
		    (off_t)(a->offset + got), err);
		if (n == -1)
			goto out;
		if (n == 0) /* the file shrank meanwhile */
			break;
		got += (size_t)n;
	}
	if ((text = malloc(base64_encoded_len(got) + 1)) == NULL)
		goto oom;
	n = (ssize_t)base64_encode(buf, got, text);
	if ((s = json_stringn_nocheck(text, (size_t)n)) == NULL)
		goto oom;
	res = json_pack("{s:o,s:I,s:I,s:b}", "data_b64", s, "bytes",
	    (json_int_t)got, "size", (json_int_t)st.st_size, "eof",
	    a->offset + got >= (uint64_t)st.st_size);
	if (res == NULL)
		goto oom;
	goto out;

oom:
	rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
out:
	free(buf);
	free(text);
	close(fd);
	return (res);
}

static void
file_free(struct job *job)
{
	free(job->arg);
	job->arg = NULL;
}

const struct job_kind job_file_read = {
	.method = "file.read",
	.lane = LANE_IO,
	.parse = file_read_parse,
	.run = file_read_run,
	.free = file_free,
};
