/*
 * sbk-client.c - libsbk, a client of sbkd's UNIX socket built on the
 * shared codec (proto/frame, proto/rpc): the bottom layer, errors, the
 * default socket and the monotonic clock; the connection itself is
 * sbk-conn.c.
 * The socket is non-blocking and every wait is a poll(2) with a
 * monotonic deadline, so no call blocks past its timeout.  The output
 * side is sbk-send.c, the input side and sbk_call sbk-recv.c, the
 * asynchronous interface sbk-async.c; they share sbk-internal.h.
 *
 * Thread safety: one thread per struct sbk_client at a time; no globals.
 */
#include "sbk-config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <jansson.h>

#include "frame.h"
#include "reqtab.h"
#include "rpc.h"
#include "sbk-client.h"
#include "sbk-internal.h"


void
sbki_seterr(struct sbk_error *err, enum sbk_error_kind kind, int sys_errno,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	sbk_error_clear(err);
	err->kind = kind;
	err->sys_errno = sys_errno;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

void
sbk_error_clear(struct sbk_error *err)
{
	if (err == NULL)
		return;
	json_decref(err->data);
	memset(err, 0, sizeof(*err));
}

const char *
sbk_error_kind_name(enum sbk_error_kind kind)
{
	switch (kind) {
	case SBK_ERR_NONE:
		return "no error";
	case SBK_ERR_RPC:
		return "error reply";
	case SBK_ERR_CONNECT:
		return "cannot connect";
	case SBK_ERR_TIMEOUT:
		return "timed out";
	case SBK_ERR_CLOSED:
		return "connection closed";
	case SBK_ERR_PROTOCOL:
		return "protocol error";
	case SBK_ERR_SYSTEM:
		return "system error";
	case SBK_ERR_USAGE:
		return "usage error";
	}
	return "unknown error";
}

/* Fill err from a reply's error object (kind RPC). */
void
sbki_set_rpc_error(struct sbk_error *err, const json_t *eobj)
{
	const json_t *code, *message, *data;

	if (err == NULL)
		return;
	sbk_error_clear(err);
	err->kind = SBK_ERR_RPC;
	code = json_object_get(eobj, "code");
	message = json_object_get(eobj, "message");
	data = json_object_get(eobj, "data");
	err->code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
	snprintf(err->message, sizeof(err->message), "%s",
	    json_is_string(message) ? json_string_value(message) :
				      rpc_code_message(err->code));
	if (data != NULL)
		err->data = json_incref((json_t *)data);
}

const char *
sbk_default_socket(void)
{
	const char *env;

	env = getenv("SBK_SOCKET");
	if (env != NULL && *env != '\0')
		return (env);
	return (SBK_DEFAULT_SOCKET);
}

int64_t
sbki_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}
