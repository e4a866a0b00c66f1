/*
 * rpc_parse.c - the reading side of the codec: one line of text to a JSON
 * value, the JSON-RPC 2.0 request envelope check (shared/contract.md,
 * "Envelope" and "Clarifications (1.1)"), the same for the usual request
 * read straight from its line (rpc_request_scan: no JSON values for the
 * envelope; anything unusual is left to the first two), and the client's
 * check of a reply object.  Params are left alone: their rules belong to
 * each method.
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
	char msg[128];
	json_t *v;

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
		rpc_error_set(
		    err, RPC_PARSE_ERROR, NULL, "Parse error: %s", msg);
	return v;
}

bool
rpc_id_valid(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id);
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

/* The envelope members, as bits of a set. */
enum {
	RPC_M_VERSION = 0x1,
	RPC_M_METHOD = 0x2,
	RPC_M_ID = 0x4,
	RPC_M_PARAMS = 0x8,
};

/* The envelope member named name[0 .. nlen), as a bit; 0 when unknown. */
static inline unsigned
rpc_member_bit(const char *name, size_t nlen)
{
	if (rpc_key_is(name, nlen, "jsonrpc"))
		return RPC_M_VERSION;
	if (rpc_key_is(name, nlen, "method"))
		return RPC_M_METHOD;
	if (rpc_key_is(name, nlen, "id"))
		return RPC_M_ID;
	if (rpc_key_is(name, nlen, "params"))
		return RPC_M_PARAMS;
	return 0;
}

bool
rpc_request_parse(const json_t *msg, struct rpc_request *req,
    const json_t **err_id, struct rpc_error *err)
{
	const json_t *id, *v;
	const char *key;
	size_t klen;

	*err_id = NULL;
	*req = (struct rpc_request){ 0 };

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
	req->method_len = json_string_length(v);

	/*
	 * Unknown members are refused to catch typos such as "parms".  The
	 * length counts too: "id\u0000x" is not "id".
	 */
	json_object_keylen_foreach((json_t *)msg, key, klen, v)
	{
		if (rpc_member_bit(key, klen) != 0)
			continue;
		rpc_error_set(err, RPC_INVALID_REQUEST, NULL,
		    "Invalid request: unknown member \"%.*s\"",
		    (int)rpc_utf8_trim(key, strnlen(key, 64)), key);
		req->method = NULL;
		return false;
	}

	req->id = id;
	req->params = json_object_get(msg, "params");
	return true;
}

/*
 * The value of member m at p (not at end), as the fast path takes it,
 * into req: its length, or 0 when it must go the general way.
 */
static size_t
rpc_scan_value(unsigned m, const char *p, const char *end, struct rpc_scan *req)
{
	size_t n = 0, left = (size_t)(end - p);

	switch (m) {
	case RPC_M_VERSION:
		n = json_plain_string(p, left);
		return n == 5 && memcmp(p, "\"2.0\"", 5) == 0 ? n : 0;
	case RPC_M_METHOD:
		n = json_plain_string(p, left);
		if (n < 2 || n - 2 >= sizeof(req->method))
			return 0;
		req->method_len = n - 2;
		memcpy(req->method, p + 1, n - 2);
		req->method[n - 2] = '\0';
		return n;
	case RPC_M_ID:
		/* A plain string or integer dumps as written. */
		n = *p == '"' ? json_plain_string(p, left) :
				json_plain_int(p, left);
		if (n == 0 || n >= sizeof(req->id))
			return 0;
		req->id_len = n;
		memcpy(req->id, p, n);
		req->id[n] = '\0';
		return n;
	default:
		/* Within the request object: one level deep. */
		if (*p == '{')
			req->params = json_parse_value(p, left, 1, &n, NULL, 0);
		return req->params != NULL ? n : 0;
	}
}

bool
rpc_request_scan(const char *line, size_t len, struct rpc_scan *req)
{
	const char *p, *end = line + len;
	size_t n;
	unsigned seen = 0, m;

	req->id_len = 0;
	req->method_len = 0;
	req->params = NULL;

	p = json_skip_ws(line, end);
	if (p == end || *p != '{')
		return false;
	p = json_skip_ws(p + 1, end);
	for (;;) {
		/* A member name (no escape: "\u0069d" is "id" the slow way). */
		if ((n = json_plain_string(p, (size_t)(end - p))) == 0)
			goto slow;
		m = rpc_member_bit(p + 1, n - 2);
		p = json_skip_ws(p + n, end);
		if (p == end || *p != ':')
			goto slow;
		p = json_skip_ws(p + 1, end);
		/* A duplicate (where the last one wins) goes the slow way. */
		if (p == end || m == 0 || (seen & m) ||
		    (n = rpc_scan_value(m, p, end, req)) == 0)
			goto slow;
		seen |= m;
		p = json_skip_ws(p + n, end);
		if (p == end)
			goto slow;
		if (*p == '}')
			break;
		if (*p != ',')
			goto slow;
		p = json_skip_ws(p + 1, end);
	}
	if (json_skip_ws(p + 1, end) != end ||
	    (seen & (RPC_M_VERSION | RPC_M_METHOD)) !=
		(RPC_M_VERSION | RPC_M_METHOD))
		goto slow;
	return true;

slow:
	json_decref(req->params);
	req->params = NULL;
	req->id_len = 0;
	req->method_len = 0;
	return false;
}

bool
rpc_reply_parse(const json_t *msg, const json_t **id, const json_t **result,
    const json_t **error)
{
	const json_t *v, *r, *e, *code, *message;

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
