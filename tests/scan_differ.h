/*
 * scan_differ.h - the differential oracle for rpc_request_scan, shared by
 * check_json_parse and fuzz_rpc: the fast scan of a request line must never
 * take a line the general path would refuse or read differently.
 * Header-only.
 */
#ifndef SBK_TESTS_SCAN_DIFFER_H
#define SBK_TESTS_SCAN_DIFFER_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "json_same.h"
#include "rpc.h"

/*
 * rpc_request_scan against the general path (rpc_parse_line, then
 * rpc_request_parse and rpc_id_dump): whenever the scan takes a line,
 * the general path must accept it too, with the same id text, method
 * and params.  Returns NULL when they agree; *fast tells what the scan
 * did.
 */
static inline const char *
scan_differ(const char *buf, size_t len, bool *fast)
{
	struct rpc_scan rq;
	struct rpc_request req;
	struct rpc_error err = { 0 };
	const json_t *err_id;
	json_t *root;
	char *id = NULL;
	const char *why = NULL;

	memset(&rq, 0xa5, sizeof(rq));
	*fast = rpc_request_scan(buf, len, &rq);
	if (!*fast) {
		if (rq.params != NULL || rq.id_len != 0 || rq.method_len != 0)
			return "refused but left state behind";
		return NULL;
	}
	root = rpc_parse_line(buf, len, &err);
	if (root == NULL || !rpc_request_parse(root, &req, &err_id, &err))
		why = "scanned, but the general path refuses it";
	else if ((req.id == NULL) != (rq.id_len == 0))
		why = "id present on one side only";
	else if (req.id != NULL &&
	    ((id = rpc_id_dump(req.id)) == NULL || strlen(id) != rq.id_len ||
		strcmp(id, rq.id) != 0))
		why = "different id text";
	else if (strcmp(req.method, rq.method) != 0 ||
	    strlen(rq.method) != rq.method_len)
		why = "different method";
	else if ((req.params == NULL) != (rq.params == NULL) ||
	    (req.params != NULL && !json_same(req.params, rq.params)))
		why = "different params";
	else if (rq.params != NULL && rq.params->refcount != 1)
		why = "params not a fresh reference";
	free(id);
	rpc_error_clear(&err);
	json_decref(root);
	json_decref(rq.params);
	return why;
}

#endif
