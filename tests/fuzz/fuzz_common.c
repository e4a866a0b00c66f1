/*
 * fuzz_common.c - the default configuration and the parse driver shared
 * by the job-kind fuzz targets (see fuzz_common.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_common.h"

#define FZ_TIMEOUT_MS_MAX (24LL * 3600 * 1000)

static struct sbk_config fz_cfg;
static int fz_ready;

/* Replace a root list (freeing the default one) by {root, NULL}. */
static void
fz_roots(char ***list, const char *root)
{
	char **v;

	for (v = *list; v != NULL && *v != NULL; v++)
		free(*v);
	free(*list);
	if ((v = calloc(2, sizeof(*v))) == NULL ||
	    (v[0] = strdup(root)) == NULL)
		abort();
	*list = v;
}

const struct sbk_config *
fz_config(void)
{
	if (!fz_ready) {
		if (config_init(&fz_cfg) != 0)
			abort();
		config_finish(&fz_cfg);
		fz_cfg.enable_test_methods = true;
		fz_roots(&fz_cfg.read_roots, "/srv/sbk/in");
		fz_roots(&fz_cfg.write_roots, "/srv/sbk/out");
		fz_ready = 1;
	}
	return &fz_cfg;
}

/* An error a parse leaves must be one the contract allows there. */
static void
fz_check_error(const struct rpc_error *err)
{
	char *line;
	size_t len;

	switch (err->code) {
	case RPC_INVALID_PARAMS:
		if (err->data == NULL ||
		    !json_is_string(json_object_get(err->data, "param")))
			abort();
		break;
	case RPC_PERMISSION:
	case RPC_INTERNAL_ERROR:
	case RPC_IO_ERROR:
	case RPC_TOO_LARGE:
		break;
	default:
		abort();
	}
	if ((line = rpc_format_error("1", err, &len)) == NULL)
		abort();
	free(line);
}

int
fz_parse(const struct job_kind *kind, const json_t *params)
{
	struct rpc_error err = { 0 };
	int rc = fz_parse_err(kind, params, &err);

	rpc_error_clear(&err);
	return rc;
}

int
fz_parse_err(
    const struct job_kind *kind, const json_t *params, struct rpc_error *errp)
{
	const struct sbk_config *cfg = fz_config();
	struct rpc_error err = { 0 };
	struct job *job;
	long long timeout_ms;
	bool progress;
	int rc;

	if (job_param_int(params, "timeout_ms", 0, 1, FZ_TIMEOUT_MS_MAX,
		&timeout_ms, &err) < 0 ||
	    job_param_bool(params, "progress", false, &progress, &err) < 0) {
		fz_check_error(&err);
		rpc_error_move(errp, &err);
		return -1;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL)
		abort();
	job->kind = kind;
	job->config = cfg;
	job->params = json_incref((json_t *)params);
	job->want_progress = progress;
	rc = kind->parse != NULL ? kind->parse(job, params, cfg, &err) : 0;
	if (rc < 0)
		fz_check_error(&err);
	else if (err.code != 0)
		abort();
	rpc_error_move(errp, &err);
	if (kind->free != NULL)
		kind->free(job);
	json_decref(job->params);
	free(job);
	return rc;
}
