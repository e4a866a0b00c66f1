/*
 * fuzz_common.h - what the job-kind fuzz targets share: a default sbkd
 * configuration (the contract's defaults, test methods on, one read and
 * one write root so the path rules are reached), and a driver that runs
 * one kind's parse on a params object the way dispatch.c does, then
 * frees the job the way dispatch_job_free does.
 */
#ifndef SBK_FUZZ_COMMON_H
#define SBK_FUZZ_COMMON_H

#include <jansson.h>

#include "job.h"

/* The configuration, made on first use and kept for the process. */
const struct sbk_config *fz_config(void);

/*
 * Run kind's parse on params (an object, or NULL) after the common
 * member checks.  Returns parse's result, or -1 when the common members
 * were refused; aborts when an error is not a well-formed reply error.
 */
int fz_parse(const struct job_kind *, const json_t *params);

/*
 * The same, leaving the error in *err (cleared by the caller) rather
 * than dropping it.
 */
int fz_parse_err(
    const struct job_kind *, const json_t *params, struct rpc_error *err);

#endif /* SBK_FUZZ_COMMON_H */
