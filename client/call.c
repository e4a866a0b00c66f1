/*
 * call.c - `sbkctl call`: one request with its result printed as JSON,
 * or `call -`, a raw session of lines in and messages out.
 *
 * Thread safety: single-threaded.
 */
#include "sbk-config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "sbk-client.h"

/* --- call --- */

/*
 * `call -`: a raw session.  Lines from standard input go to the daemon
 * unchanged; every message from the daemon is printed as one compact
 * JSON line.  At the end of input the write side is shut down and the
 * daemon, which answers every accepted job first, closes.
 */
static int
call_session(struct ctl *ctl)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	struct pollfd pfd[2];
	char buf[65536], *line = NULL, *nl, *grown;
	size_t linelen = 0, linecap = 0, n, take;
	ssize_t got;
	bool in_eof = false;
	int rc = CTL_OK, prc;

	if ((c = ctl_connect(ctl)) == NULL)
		return (CTL_CONNECT);
	for (;;) {
		while ((prc = sbk_recv(c, &r, 0, &err)) == 1) {
			ctl_print_json_line(r.msg);
			sbk_reply_clear(&r);
		}
		fflush(stdout);
		if (prc == -1) {
			if (err.kind != SBK_ERR_CLOSED || !in_eof)
				rc = ctl_report(ctl, "call", &err);
			break;
		}
		pfd[0].fd = sbk_fd(c);
		pfd[0].events = POLLIN;
		pfd[1].fd = in_eof ? -1 : STDIN_FILENO;
		pfd[1].events = POLLIN;
		prc = poll(pfd, 2, in_eof ? ctl->timeout_ms : -1);
		if (prc == 0) {
			fprintf(stderr,
			    "%s: call: timed out waiting for "
			    "replies\n",
			    ctl->prog);
			rc = CTL_CONNECT;
			break;
		}
		if (prc == -1 || !(pfd[1].revents & (POLLIN | POLLHUP)))
			continue;
		got = read(STDIN_FILENO, buf, sizeof(buf));
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (linelen > 0 &&
			    sbk_send_raw(c, line, linelen, &err) == -1)
				goto fail;
			in_eof = true;
			if (sbk_shutdown_write(c, &err) == -1)
				goto fail;
			continue;
		}
		/* Cut complete lines out; keep the tail for the next read. */
		for (n = 0; n < (size_t)got;) {
			nl = memchr(buf + n, '\n', (size_t)got - n);
			take = nl != NULL ? (size_t)(nl - (buf + n)) + 1 :
					    (size_t)got - n;
			if (linelen + take > linecap) {
				linecap = (linelen + take) * 2;
				if ((grown = realloc(line, linecap)) == NULL) {
					fprintf(stderr, "%s: out of memory\n",
					    ctl->prog);
					rc = CTL_NEGATIVE;
					goto out;
				}
				line = grown;
			}
			/* take >= 1, so line is allocated here. */
			/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
			memcpy(line + linelen, buf + n, take);
			linelen += take;
			n += take;
			if (nl != NULL) {
				if (sbk_send_raw(c, line, linelen, &err) == -1)
					goto fail;
				linelen = 0;
			}
		}
	}
	goto out;
fail:
	rc = ctl_report(ctl, "call", &err);
out:
	sbk_error_clear(&err);
	free(line);
	sbk_close(c);
	return (rc);
}

int
ctl_run_call(struct ctl *ctl)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_error_t jerr;
	json_t *params = NULL, *result;
	int rc;

	if (strcmp(ctl->argv[0], "-") == 0) {
		if (ctl->argc > 1) {
			fprintf(stderr, "%s: call -: takes no JSON argument\n",
			    ctl->prog);
			return (CTL_USAGE);
		}
		return (call_session(ctl));
	}
	if (ctl->argc > 1) {
		params = json_loads(ctl->argv[1], JSON_DECODE_ANY, &jerr);
		if (params == NULL || !json_is_object(params)) {
			fprintf(stderr,
			    "%s: call: params must be a JSON "
			    "object%s%s (send anything else with `call -`)\n",
			    ctl->prog, params == NULL ? ": " : "",
			    params == NULL ? jerr.text : "");
			json_decref(params);
			return (CTL_USAGE);
		}
	}
	if ((c = ctl_connect(ctl)) == NULL) {
		json_decref(params);
		return (CTL_CONNECT);
	}
	result = sbk_call(c, ctl->argv[0], params, ctl->timeout_ms, &err);
	json_decref(params);
	sbk_close(c);
	if (result == NULL) {
		rc = ctl_report(ctl, ctl->argv[0], &err);
		sbk_error_clear(&err);
		return (rc);
	}
	ctl_print_json(ctl, result);
	json_decref(result);
	return (CTL_OK);
}
