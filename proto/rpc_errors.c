/*
 * rpc_errors.c - the error side of the codec: each code's default
 * message, the symbolic name of an errno value (the "errno" member of
 * -32005 data), and the struct rpc_error setters.  Messages are formatted into
 * the struct's fixed buffer so that building an error never allocates
 * except for its data object.
 *
 * Thread safety: reentrant; the tables are constant.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rpc.h"

static const struct {
	int code;
	const char *message;
} rpc_codes[] = {
	{ RPC_PARSE_ERROR, "Parse error" },
	{ RPC_INVALID_REQUEST, "Invalid request" },
	{ RPC_METHOD_NOT_FOUND, "Method not found" },
	{ RPC_INVALID_PARAMS, "Invalid params" },
	{ RPC_INTERNAL_ERROR, "Internal error" },
	{ RPC_OVERLOADED, "Overloaded" },
	{ RPC_DEADLINE, "Deadline passed" },
	{ RPC_CANCELLED, "Cancelled" },
	{ RPC_PERMISSION, "Permission denied" },
	{ RPC_TOO_LARGE, "Result too large" },
	{ RPC_IO_ERROR, "I/O error" },
	{ RPC_SHUTTING_DOWN, "Shutting down" },
};

const char *
rpc_code_message(int code)
{
	for (size_t i = 0; i < sizeof(rpc_codes) / sizeof(rpc_codes[0]); i++)
		if (rpc_codes[i].code == code)
			return rpc_codes[i].message;
	if (code >= -32099 && code <= -32000)
		return "Server error";
	return "Error";
}

const char *
rpc_errno_name(int errnum)
{
	/*
	 * glibc's own table (2.32 and later).  An alias (EWOULDBLOCK,
	 * EDEADLOCK, ENOTSUP) gets the name of the value it shares, so the
	 * name is stable; 0 names no error.
	 */
	const char *name = errnum != 0 ? strerrorname_np(errnum) : NULL;

	return name != NULL ? name : "EUNKNOWN";
}

size_t
rpc_utf8_trim(const char *s, size_t len)
{
	size_t i = len, need;
	unsigned char c;

	/* Find the lead byte of the last sequence (at most 3 back). */
	while (i > 0 && len - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || (c = (unsigned char)s[i - 1]) < 0x80)
		return len;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	return len - (i - 1) < need ? i - 1 : len;
}

static void __attribute__((format(printf, 4, 0))) rpc_error_vset(
    struct rpc_error *err, int code, json_t *data, const char *fmt, va_list ap)
{
	char buf[sizeof(err->message)];
	int n;

	/* Format first: an argument may point into err->message. */
	if (fmt != NULL) {
		n = vsnprintf(buf, sizeof(buf), fmt, ap);
		if (n < 0)
			buf[0] = '\0';
		else if ((size_t)n >= sizeof(buf))
			buf[rpc_utf8_trim(buf, sizeof(buf) - 1)] = '\0';
	}
	if (err->data != NULL && err->data != data)
		json_decref(err->data);
	err->code = code;
	err->data = data;
	if (fmt != NULL)
		memcpy(err->message, buf, sizeof(buf));
	else
		snprintf(err->message, sizeof(err->message), "%s",
		    rpc_code_message(code));
}

int
rpc_error_set(
    struct rpc_error *err, int code, json_t *data, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rpc_error_vset(err, code, data, fmt, ap);
	va_end(ap);
	return -1;
}

int
rpc_error_param(struct rpc_error *err, const char *param, const char *fmt, ...)
{
	va_list ap;
	json_t *data = NULL;

	if (param != NULL)
		data = json_pack("{s:s}", "param", param);
	va_start(ap, fmt);
	rpc_error_vset(err, RPC_INVALID_PARAMS, data, fmt, ap);
	va_end(ap);
	return -1;
}

int
rpc_error_errno(struct rpc_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (fmt == NULL)
		return rpc_error_syserr(
		    err, errnum, "%s", rpc_code_message(RPC_IO_ERROR));
	va_start(ap, fmt);
	rpc_error_vset(err, RPC_IO_ERROR,
	    json_pack("{s:s}", "errno", rpc_errno_name(errnum)), fmt, ap);
	va_end(ap);
	return -1;
}

int
rpc_error_syserr(struct rpc_error *err, int errnum, const char *fmt, ...)
{
	char msg[sizeof(err->message)], sbuf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return rpc_error_errno(
	    err, errnum, "%s: %s", msg, strerror_r(errnum, sbuf, sizeof(sbuf)));
}

int
rpc_error_limit(struct rpc_error *err, int code, unsigned long long limit,
    const char *fmt, ...)
{
	va_list ap;
	json_t *data;

	if (limit > (unsigned long long)LLONG_MAX)
		limit = (unsigned long long)LLONG_MAX;
	data = json_pack("{s:I}", "limit", (json_int_t)limit);
	va_start(ap, fmt);
	rpc_error_vset(err, code, data, fmt, ap);
	va_end(ap);
	return -1;
}

void
rpc_error_clear(struct rpc_error *err)
{
	json_decref(err->data);
	err->data = NULL;
	err->code = 0;
	err->message[0] = '\0';
}

void
rpc_error_move(struct rpc_error *dst, struct rpc_error *src)
{
	if (dst == src)
		return;
	json_decref(dst->data);
	memcpy(dst, src, sizeof(*dst));
	src->data = NULL; /* given away: reset src without a decref */
	rpc_error_clear(src);
}
