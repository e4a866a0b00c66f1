/*
 * mapping.c - see mapping.h.  Every refusal here happens before sbkd is
 * asked, so a malformed workload costs the local daemon nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "mapping.h"

json_t *
map_error_new(int code, const char *msg, json_t *data)
{
	json_t *e = json_pack("{s:i,s:s}", "code", code, "message", msg);

	if (e == NULL) {
		json_decref(data);
		return NULL;
	}
	if (data != NULL && json_object_set_new(e, "data", data) < 0) {
		json_decref(e);
		return NULL;
	}
	return e;
}

/* An error of the bridge itself: data.source says sbkd was not asked. */
static json_t *
map_refuse(int code, const char *msg, json_t *data)
{
	if (data == NULL)
		data = json_object();
	if (data != NULL)
		json_object_set_new(
		    data, "source", json_string(MAP_SOURCE_BRIDGE));
	return map_error_new(code, msg, data);
}

json_t *
map_workload(const struct bridge_config *cfg, const struct bridge_method *m,
    const void *data, size_t len, json_t **error)
{
	static const char *const path_members[] = { "path", "out_path" };
	json_error_t jerr;
	json_t *params;

	*error = NULL;
	if (len > cfg->max_workload_bytes) {
		*error = map_refuse(-32600, "workload too large",
		    json_pack(
			"{s:I}", "limit", (json_int_t)cfg->max_workload_bytes));
		return NULL;
	}
	/* The workload is the whole params object, nothing before or after;
	 * an empty workload is not "no params": clients send {}. */
	params = json_loadb(
	    data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (params == NULL) {
		*error = map_refuse(-32700, "workload is not JSON",
		    json_pack("{s:s}", "error", jerr.text));
		return NULL;
	}
	if (!json_is_object(params)) {
		json_decref(params);
		*error = map_refuse(-32602,
		    "workload must be a JSON object (the method's params)",
		    NULL);
		return NULL;
	}
	if (m->paths && !cfg->allow_paths) {
		for (size_t i = 0; i < 2; i++)
			if (json_object_get(params, path_members[i]) != NULL) {
				json_decref(params);
				*error = map_refuse(-32003,
				    "paths are not served by this bridge "
				    "(allow_paths = false)",
				    json_pack(
					"{s:s}", "param", path_members[i]));
				return NULL;
			}
	}
	if (m->wants_progress && json_object_get(params, "progress") == NULL &&
	    json_object_set_new(params, "progress", json_true()) < 0) {
		json_decref(params);
		*error = map_refuse(-32603, "out of memory", NULL);
		return NULL;
	}
	return params;
}

char *
map_dump(const json_t *v, size_t *len)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

void
map_progress(uint64_t done, uint64_t total, uint32_t *num, uint32_t *den)
{
	if (done > total)
		done = total;
	while (total > UINT32_MAX) {
		total >>= 1;
		done >>= 1;
	}
	*num = (uint32_t)done;
	*den = (uint32_t)total;
}
