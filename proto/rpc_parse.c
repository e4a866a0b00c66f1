/*
 * rpc_parse.c - the reading side of the codec: one line of text to a JSON
 * value, the JSON-RPC 2.0 request envelope check (shared/contract.md,
 * "Envelope" and "Clarifications (1.1)"), and the client's check of a
 * reply object.  Params are left alone: their rules belong to each method.
 *
 * Thread safety: reentrant; no global state.  The daemon calls it on its
 * event thread, or on a worker for very long lines.
 */
#include <errno.h>
#include <string.h>

#include "json_parse.h"
#include "rpc.h"

json_t *
rpc_parse_line(const char *line, size_t len, struct rpc_error *err)
{
	char	 msg[128];
	json_t	*v;

	/*
	 * What json_loadb with JSON_ALLOW_NUL | JSON_DECODE_ANY accepts,
	 * only faster (json_parse.h).  DECODE_ANY: a bare scalar is valid
	 * JSON, and JSON-RPC answers it as an invalid request (-32600), not
	 * as a parse error.
	 */
	v = json_parse_strict(line, len, msg, sizeof(msg));
	/* Out of memory is not invalid JSON. */
	if (v == NULL && errno == ENOMEM)
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
	else if (v == NULL)
		rpc_error_set(err, RPC_PARSE_ERROR, NULL, "Parse error: %s",
		    msg);
	return v;
}

bool
rpc_id_valid(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id);
}

/*
 * Copy a member name for an error message: at most 64 bytes, cut on a
 * UTF-8 boundary.  Names come from jansson, so they are valid UTF-8 up to
 * any embedded NUL, which simply ends the copy.
 */
static const char *
rpc_short_name(char *buf, size_t size, const char *name)
{
	size_t	n = strlen(name);

	if (n >= size)
		n = size - 1;
	if (n > 64)
		n = 64;
	if (n < strlen(name))
		while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
	memcpy(buf, name, n);
	buf[n] = '\0';
	return buf;
}

static bool
rpc_key_is(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(key, name, klen) == 0;
}

static bool
rpc_is_version(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) == 3 &&
	    memcmp(json_string_value(v), "2.0", 3) == 0;
}

bool
rpc_request_parse(const json_t *msg, struct rpc_request *req,
    const json_t **err_id, struct rpc_error *err)
{
	const json_t	*id, *v;
	const char	*key;
	size_t		 klen;
	char		 name[80];

	*err_id = NULL;
	req->id = NULL;
	req->method = NULL;
	req->params = NULL;

	if (!json_is_object(msg)) {
		rpc_error_set(err, RPC_INVALID_REQUEST, NULL,
		    "Invalid request: not a JSON object");
		return false;
	}

	id = json_object_get(msg, "id");
	if (id != NULL && !rpc_id_valid(id)) {
		rpc_error_set(err, RPC_INVALID_REQUEST, NULL,
		    "Invalid request: \"id\" must be a string or an integer");
		return false;
	}
	/* From here on every error is answered with the request's own id. */
	*err_id = id;

	v = json_object_get(msg, "jsonrpc");
	if (!rpc_is_version(v)) {
		rpc_error_set(err, RPC_INVALID_REQUEST, NULL,
		    "Invalid request: \"jsonrpc\" must be \"2.0\"");
		return false;
	}

	v = json_object_get(msg, "method");
	if (!json_is_string(v)) {
		rpc_error_set(err, RPC_INVALID_REQUEST, NULL,
		    "Invalid request: \"method\" must be a string");
		return false;
	}
	req->method = json_string_value(v);

	/*
	 * Unknown members are refused to catch typos such as "parms".  The
	 * length counts too: "id\u0000x" is not "id".
	 */
	json_object_keylen_foreach((json_t *)msg, key, klen, v) {
		if (rpc_key_is(key, klen, "jsonrpc") ||
		    rpc_key_is(key, klen, "method") ||
		    rpc_key_is(key, klen, "id") ||
		    rpc_key_is(key, klen, "params"))
			continue;
		rpc_error_set(err, RPC_INVALID_REQUEST, NULL,
		    "Invalid request: unknown member \"%s\"",
		    rpc_short_name(name, sizeof(name), key));
		req->method = NULL;
		return false;
	}

	req->id = id;
	req->params = json_object_get(msg, "params");
	return true;
}

bool
rpc_reply_parse(const json_t *msg, const json_t **id,
    const json_t **result, const json_t **error)
{
	const json_t	*v, *r, *e, *code, *message;

	*id = NULL;
	*result = NULL;
	*error = NULL;
	if (!json_is_object(msg))
		return false;
	v = json_object_get(msg, "jsonrpc");
	if (!rpc_is_version(v))
		return false;
	v = json_object_get(msg, "id");
	if (v == NULL || (!json_is_null(v) && !rpc_id_valid(v)))
		return false;
	r = json_object_get(msg, "result");
	e = json_object_get(msg, "error");
	if ((r == NULL) == (e == NULL))
		return false;
	if (e != NULL) {
		if (!json_is_object(e))
			return false;
		code = json_object_get(e, "code");
		message = json_object_get(e, "message");
		if (!json_is_integer(code) || !json_is_string(message))
			return false;
	}
	*id = v;
	*result = r;
	*error = e;
	return true;
}
