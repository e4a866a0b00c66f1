/*
 * mapping.h - how a Gearman job becomes an sbkd request and how sbkd's
 * answer becomes Gearman packets (proto/PROTOCOL.md, "Gearman bridge").
 * Pure: no I/O, no threads; the slot threads call it and the Check suite
 * check_bridge tests it.
 *
 * Thread safety: reentrant.
 */
#ifndef SBK_BRIDGE_MAPPING_H
#define SBK_BRIDGE_MAPPING_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"

/* data.source of an error the bridge made itself (sbkd never saw the job). */
#define MAP_SOURCE_BRIDGE "sbk-gearman"

/*
 * The sbkd params for a workload: the workload itself, which must be a
 * JSON object of at most cfg->max_workload_bytes, without path members
 * unless cfg->allow_paths; with "progress": true added for methods that
 * report progress when the client did not say.  Returns a new reference,
 * or NULL with *error set to a new error object ({"code","message",
 * "data"}) saying why the job is refused.
 */
json_t *map_workload(const struct bridge_config *cfg,
    const struct bridge_method *m, const void *data, size_t len,
    json_t **error);

/* A new error object {"code":code,"message":msg,"data":data}; data (may be
 * NULL) is taken over. */
json_t *map_error_new(int code, const char *msg, json_t *data);

/* Compact JSON text of v (malloc'd) or NULL when out of memory. */
char *map_dump(const json_t *v, size_t *len);

/*
 * Scale a progress report (done of total bytes, any size) to WORK_STATUS's
 * 32-bit numerator and denominator, keeping the ratio.
 */
void map_progress(uint64_t done, uint64_t total, uint32_t *num, uint32_t *den);

#endif /* SBK_BRIDGE_MAPPING_H */
