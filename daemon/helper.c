/*
 * helper.c - the isolated helper's main loop (helper.h).  The process ends
 * when sbkd closes the channel, or is killed by sbkd (cancel, deadline,
 * max_jobs, shutdown).  Nothing here logs: stderr is the daemon's, and the
 * only reader that matters is sbkd, through the DONE reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "helper.h"
#include "helper_zstd.h"
#include "sandbox.h"

/* Heap a helper keeps between jobs (see helper_main). */
#define HELPER_HEAP_KEEP (8 * 1024 * 1024)

/* ---- the channel ---- */

static int
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* len bytes into buf (NULL: discard them).  0, or -1 at EOF or error. */
static int
recv_all(int fd, void *buf, size_t len)
{
	static char sink[4096]; /* the helper has one thread */
	char *p = buf;

	while (len > 0) {
		ssize_t n = p != NULL ?
		    read(fd, p, len) :
		    read(fd, sink, len < sizeof(sink) ? len : sizeof(sink));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (p != NULL)
			p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
close_fds(int fds[2])
{
	for (size_t i = 0; i < 2; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/*
 * The request header with the descriptors attached to it.  1 with a
 * header, 0 at a clean end of the channel, -1 on garbage.
 */
static int
recv_request(int chan, struct iso_request *req, int fds[2])
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { req, sizeof(*req) };
	struct msghdr msg = { .msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	do
		n = recvmsg(chan, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(
			    &fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (i < 2 && fds[i] < 0)
				fds[i] = fd;
			else
				close(fd);
		}
	}
	if ((msg.msg_flags & MSG_CTRUNC) != 0)
		return -1;
	if ((size_t)n < sizeof(*req) &&
	    recv_all(chan, (char *)req + n, sizeof(*req) - (size_t)n) < 0)
		return -1;
	if (req->magic != ISO_MAGIC)
		return -1;
	return 1;
}

static void
reply_init(struct iso_reply *r, uint16_t type)
{
	memset(r, 0, sizeof(*r));
	r->magic = ISO_MAGIC;
	r->type = type;
}

/* helper_call.progress: a PROGRESS reply on the channel. */
static int
send_progress(struct helper_call *call, uint64_t done, uint64_t total)
{
	struct iso_reply r;
	uint64_t now;

	if ((call->req->flags & ISO_F_PROGRESS) == 0)
		return 0;
	now = clock_now_ns();
	if (call->last_progress_ns != 0 &&
	    now - call->last_progress_ns < ISO_PROGRESS_MS * 1000000u)
		return 0;
	call->last_progress_ns = now;
	reply_init(&r, ISO_MSG_PROGRESS);
	r.done = done;
	r.total = total;
	return send_all(call->chan_fd, &r, sizeof(r));
}

/* DONE with the error: its message, and data as JSON text when it fits. */
static int
send_error(int chan, const struct rpc_error *err)
{
	struct iso_reply r;
	char *data = NULL;
	size_t len = 0;
	int rc;

	reply_init(&r, ISO_MSG_DONE);
	r.code = err->code != 0 ? err->code : RPC_INTERNAL_ERROR;
	snprintf(r.message, sizeof(r.message), "%s",
	    err->message[0] != '\0' ? err->message : rpc_code_message(r.code));
	if (err->data != NULL &&
	    (data = json_dumps(err->data, JSON_COMPACT | JSON_ENCODE_ANY)) !=
		NULL &&
	    (len = strlen(data)) <= ISO_DATA_MAX)
		r.data_len = (uint32_t)len;
	rc = send_all(chan, &r, sizeof(r));
	if (rc == 0 && r.data_len > 0)
		rc = send_all(chan, data, r.data_len);
	free(data);
	return rc;
}

static int
send_done(int chan, const struct helper_call *call)
{
	struct iso_reply r;

	reply_init(&r, ISO_MSG_DONE);
	r.out_len = call->out_len;
	r.done = call->bytes_in;
	if (send_all(chan, &r, sizeof(r)) < 0)
		return -1;
	if (call->out != NULL && call->out_len > 0)
		return send_all(chan, call->out, (size_t)call->out_len);
	return 0;
}

/* ---- test ops: reached only through test kinds (enable_test_methods) ---- */

/* The op's output: a copy of text. */
static int
out_text(struct helper_call *call, const char *text, struct rpc_error *err)
{
	if ((call->out = (unsigned char *)strdup(text)) == NULL) {
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
		return -1;
	}
	call->out_len = strlen(text);
	return 0;
}

static int
op_test_crash(struct helper_call *call, struct rpc_error *err)
{
	/* The default action, whatever a sanitizer runtime installed. */
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
	rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "SIGSEGV did not kill");
	return -1;
}

/*
 * Under the sandbox the open is a forbidden call and the helper is killed
 * (SIGSYS); without one it reports what open did.
 */
static int
op_test_forbidden(struct helper_call *call, struct rpc_error *err)
{
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		rpc_error_errno(err, errno, "open(/etc/passwd) failed");
		return -1;
	}
	close(fd);
	return out_text(call, "{\"opened\":\"/etc/passwd\"}", err);
}

static int
op_test_hang(struct helper_call *call, struct rpc_error *err)
{
	/* pause() returns only after a caught signal: there is none. */
	while (pause() < 0)
		;
	rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "pause returned");
	return -1;
}

/*
 * What a compromised helper might do: a DONE that announces more output
 * than out_max, then silence.  sbkd must neither allocate nor wait for it.
 */
static int
op_test_lie(struct helper_call *call, struct rpc_error *err)
{
	struct iso_reply r;

	reply_init(&r, ISO_MSG_DONE);
	r.out_len = call->req->out_max + 1;
	if (send_all(call->chan_fd, &r, sizeof(r)) == 0)
		return op_test_hang(call, err);
	rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "channel gone");
	return -1;
}

/* Which process served the request: the tests of reuse and replacement. */
static int
op_test_pid(struct helper_call *call, struct rpc_error *err)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "{\"pid\":%ld}", (long)getpid());
	return out_text(call, buf, err);
}

static const struct helper_op helper_ops[] = {
	{ ISO_OP_ZSTD_COMPRESS, helper_zstd_compress },
	{ ISO_OP_ZSTD_DECOMPRESS, helper_zstd_decompress },
	{ ISO_OP_TEST_CRASH, op_test_crash },
	{ ISO_OP_TEST_FORBIDDEN, op_test_forbidden },
	{ ISO_OP_TEST_HANG, op_test_hang },
	{ ISO_OP_TEST_PID, op_test_pid },
	{ ISO_OP_TEST_LIE, op_test_lie },
};

static const struct helper_op *
op_find(unsigned op)
{
	for (size_t i = 0; i < sizeof(helper_ops) / sizeof(helper_ops[0]); i++)
		if ((unsigned)helper_ops[i].op == op)
			return &helper_ops[i];
	return NULL;
}

/* One request: read its input, run it, answer.  0, or -1: channel broken. */
static int
serve_one(int chan, const struct iso_request *req, int fds[2])
{
	struct helper_call call = {
		.req = req, .progress = send_progress, .chan_fd = chan
	};
	struct rpc_error err = { 0 };
	const struct helper_op *op = op_find(req->op);
	bool paths = (req->flags & ISO_F_PATHS) != 0;
	unsigned char *in = NULL;
	int rc;

	call.in_fd = fds[0];
	call.out_fd = fds[1];
	if (req->in_len > 0) {
		/* Read (or drop) the payload even when the request fails. */
		if (op != NULL && !paths && req->in_len <= SIZE_MAX)
			in = malloc((size_t)req->in_len);
		if (recv_all(chan, in, (size_t)req->in_len) < 0) {
			free(in);
			return -1;
		}
	}
	if (op == NULL)
		rpc_error_set(&err, RPC_INTERNAL_ERROR, NULL,
		    "helper: unknown operation %u", (unsigned)req->op);
	else if (paths && (fds[0] < 0 || fds[1] < 0))
		rpc_error_set(&err, RPC_INTERNAL_ERROR, NULL,
		    "helper: path mode without its descriptors");
	else if (req->in_len > 0 && !paths && in == NULL)
		rpc_error_set(&err, RPC_INTERNAL_ERROR, NULL,
		    "helper: out of memory for the input");
	if (err.code == 0 && op != NULL) {
		call.in = in;
		call.in_len = (size_t)req->in_len;
		if (op->run(&call, &err) == 0)
			err.code = 0;
		else if (err.code == 0)
			rpc_error_set(&err, RPC_INTERNAL_ERROR, NULL,
			    "helper: operation failed");
	}
	free(in);
	close_fds(fds);
	rc = err.code != 0 ? send_error(chan, &err) : send_done(chan, &call);
	free(call.out);
	rpc_error_clear(&err);
	return rc;
}

int
helper_main(int chan_fd, const char *budget_arg, const char *parent_arg)
{
	uint64_t budget = budget_arg != NULL ?
	    sandbox_budget_parse(budget_arg) :
	    sandbox_budget_default();

	/*
	 * Die with sbkd, even in the middle of a job (a helper that never
	 * writes again would never see its channel gone).  If sbkd died
	 * before this line, the helper was already handed to a reaper.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    (parent_arg != NULL && strtol(parent_arg, NULL, 10) != getppid()))
		return 1;

	/*
	 * A helper serves one job at a time, for hundreds of jobs: keep the
	 * heap a job grew (up to HELPER_HEAP_KEEP) instead of giving it back
	 * and faulting it in again for the next job, which cost a 64 KiB
	 * decompression a fifth of its time.  RLIMIT_AS still bounds it.
	 */
	mallopt(M_TRIM_THRESHOLD, HELPER_HEAP_KEEP);
	mallopt(M_MMAP_THRESHOLD, HELPER_HEAP_KEEP);
	/* First thing: nothing of the request is read outside the sandbox. */
	if (budget == 0 || sandbox_enter(chan_fd, budget) == -1)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct iso_request req;
		int fds[2] = { -1, -1 };
		int rc = recv_request(chan_fd, &req, fds);

		if (rc <= 0) {
			close_fds(fds);
			return rc == 0 ? 0 : 1;
		}
		if (serve_one(chan_fd, &req, fds) < 0)
			return 1;
	}
}
