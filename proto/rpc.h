/*
 * rpc.h - the JSON-RPC 2.0 codec shared by sbkd, libsbk, sbkctl and the
 * tests: error codes and their default messages, errno names, request
 * envelope validation and reply formatting.  No I/O and no libevent here.
 *
 * Thread safety: every function is reentrant; none keeps global state.
 */
#ifndef SBK_RPC_H
#define SBK_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* The error codes of the wire contract (shared/contract.md). */
enum rpc_code {
	RPC_PARSE_ERROR = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_METHOD_NOT_FOUND = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL_ERROR = -32603,
	RPC_OVERLOADED = -32000,
	RPC_DEADLINE = -32001,
	RPC_CANCELLED = -32002,
	RPC_PERMISSION = -32003,
	RPC_TOO_LARGE = -32004,
	RPC_IO_ERROR = -32005,
	RPC_SHUTTING_DOWN = -32006,
};

/*
 * An error reply in the making.  code == 0 means "no error".  data, when
 * not NULL, is an owned JSON object that becomes the reply's "data".
 */
struct rpc_error {
	int code;
	char message[256];
	json_t *data;
};

/*
 * The length of s[0 .. len) without a UTF-8 sequence cut short at its
 * end, so that a truncated text stays valid text.
 */
size_t rpc_utf8_trim(const char *s, size_t len);

/* Default message of a code ("Parse error", "Invalid request", ...). */
const char *rpc_code_message(int code);
/* Symbolic name of an errno value ("ENOENT"); "EUNKNOWN" if unknown. */
const char *rpc_errno_name(int errnum);

/*
 * Setters.  Each one releases any data the error held before.  fmt may be
 * NULL for the code's default message.  data is stolen.  Each returns -1,
 * for "return rpc_error_...(...)" in a function answering 0 or -1.
 */
int rpc_error_set(struct rpc_error *, int code, json_t *data, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
/* -32602 with data {"param": param}. */
int rpc_error_param(struct rpc_error *, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* -32005 with data {"errno": "ENAME"}. */
int rpc_error_errno(struct rpc_error *, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* rpc_error_errno with ": " and strerror(errnum) appended to fmt. */
int rpc_error_syserr(struct rpc_error *, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* -32600 or -32004 with data {"limit": limit}. */
int rpc_error_limit(struct rpc_error *, int code, unsigned long long limit,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void rpc_error_clear(struct rpc_error *);
void rpc_error_move(struct rpc_error *dst, struct rpc_error *src);

/*
 * Parse one line (without its terminator) into a JSON value.  Invalid
 * JSON, invalid UTF-8 or trailing garbage: NULL with err = -32700.
 * Strings may hold U+0000.  Returns a new reference.
 */
json_t *rpc_parse_line(const char *line, size_t len, struct rpc_error *err);

/*
 * A validated request.  Pointers borrow from the message passed to
 * rpc_request_parse and live as long as it does.
 */
struct rpc_request {
	const json_t *id; /* NULL for a notification */
	const char *method;
	size_t method_len;    /* the whole name: it may hold NUL bytes */
	const json_t *params; /* NULL when absent; else any type */
};

/*
 * Validate one request object's envelope: an object with "jsonrpc":"2.0",
 * a string "method", an optional id (string, or integer) and optional
 * params, and no other member.  params is NOT checked here: a non-object
 * params is -32602, which ranks after -32601 (contract 1.1).
 * On failure: false, err = -32600, and *err_id set to the id to answer
 * with (a borrowed valid id, or NULL meaning null).
 */
bool rpc_request_parse(const json_t *msg, struct rpc_request *req,
    const json_t **err_id, struct rpc_error *err);

/*
 * The fast path for the common request line, read without building the
 * envelope as JSON values: one object, members "jsonrpc":"2.0", a
 * "method" string, an optional "id" (integer, or string) and optional
 * "params" object, each at most once and nothing else, with no escape in
 * member names, method, id or version.  True when the line is such a
 * request, and then rpc_parse_line and rpc_request_parse would accept it
 * and find the same id, method and params.  False for anything else
 * (another shape, an error of any kind, out of memory, a method or id
 * too long for the buffers): the caller takes the general path, which
 * also makes every error reply.
 */
#define RPC_SCAN_ID_MAX	    48 /* id text, NUL included */
#define RPC_SCAN_METHOD_MAX 32 /* method, NUL included */

struct rpc_scan {
	char id[RPC_SCAN_ID_MAX]; /* rpc_id_dump's text */
	size_t id_len;		  /* 0: a notification */
	char method[RPC_SCAN_METHOD_MAX];
	size_t method_len;
	json_t *params; /* new reference; NULL: absent */
};

bool rpc_request_scan(const char *line, size_t len, struct rpc_scan *req);

/* Is this a valid id value (string, or integer)? */
bool rpc_id_valid(const json_t *id);

/*
 * Serialize an id compactly ("null" for NULL).  Malloc'd; the same id
 * always gives the same bytes, so the text is also a lookup key.
 */
char *rpc_id_dump(const json_t *id);

/*
 * Reply lines: compact JSON followed by '\n', malloc'd, length in *lenp.
 * id_json is an id as rpc_id_dump made it.  NULL only when out of memory.
 */
char *rpc_format_result(
    const char *id_json, const json_t *result, size_t *lenp);
char *rpc_format_error(
    const char *id_json, const struct rpc_error *err, size_t *lenp);
char *rpc_format_notification(
    const char *method, const json_t *params, size_t *lenp);

/*
 * Client side: take one reply object apart.  On success *id (borrowed) is
 * the id (json null when null), and exactly one of *result / *error is set
 * (borrowed).  false when the object is not a JSON-RPC 2.0 response.
 */
bool rpc_reply_parse(const json_t *msg, const json_t **id,
    const json_t **result, const json_t **error);

#endif /* SBK_RPC_H */
