/*
 * fuzz_zstd.c - libFuzzer target for the zstd decompressor, in-process and
 * through a sandboxed helper (issue 15).
 *
 * Each input is a zstd frame candidate, decoded three ways with a 1 MiB
 * output cap: zstd_codec_decompress on the bytes (what an in-process
 * inline job runs), zstd_codec_decompress_fds from a memfd to a memfd
 * (path mode), and by a real helper: this process forks at start, the
 * child enters the sandbox (sandbox_enter, the seccomp filter included)
 * and serves isolate_wire.h requests with helper.c's loop, exactly as
 * "sbkd --isolated-helper" does.  The oracle: the three agree on the
 * error code (see below for path mode) and on the output, the output never exceeds the cap, and the
 * helper never dies (a helper killed by SIGSYS, SIGSEGV or an ASan report
 * aborts the run, and libFuzzer keeps the input).
 *
 * The helper is instrumented too, but its coverage stays in the child:
 * the search is guided by the in-process calls, which run the same code.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "isolate_wire.h"
#include "zstd_codec.h"

#define FZ_LIMIT ((size_t)1 << 20)

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int fz_chan = -1;
static pid_t fz_helper;

/* The helper's end on fd 3, as isolate.c spawns it. */
static void
fz_helper_start(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	if ((fz_helper = fork()) == -1)
		abort();
	if (fz_helper == 0) {
		if (dup2(sv[1], HELPER_CHAN_FD) == -1)
			_exit(120);
		_exit(helper_main(HELPER_CHAN_FD, NULL, NULL));
	}
	close(sv[1]);
	fz_chan = sv[0];
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signal(SIGPIPE, SIG_IGN);
	fz_helper_start();
	return 0;
}

static void __attribute__((noreturn)) fz_helper_died(const char *why)
{
	int st = 0;

	if (waitpid(fz_helper, &st, WNOHANG) == fz_helper && WIFSIGNALED(st))
		fprintf(stderr, "fuzz_zstd: helper killed by signal %d (%s)\n",
		    WTERMSIG(st), why);
	else
		fprintf(stderr, "fuzz_zstd: helper lost: %s (status %#x)\n",
		    why, st);
	abort();
}

static void
fz_send(const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = send(fz_chan, p, len, MSG_NOSIGNAL)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			fz_helper_died("send");
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
fz_recv(void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = read(fz_chan, p, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			fz_helper_died("read");
		}
		p += n;
		len -= (size_t)n;
	}
}

/* The helper's answer: its code, and its output when code is 0. */
static int
fz_isolated(const uint8_t *data, size_t size, uint8_t **out, size_t *outlen)
{
	struct iso_request req;
	struct iso_reply r;
	char *extra;
	size_t n;

	memset(&req, 0, sizeof(req));
	req.magic = ISO_MAGIC;
	req.op = ISO_OP_ZSTD_DECOMPRESS;
	req.in_len = size;
	req.out_max = FZ_LIMIT;
	fz_send(&req, sizeof(req));
	fz_send(data, size);
	fz_recv(&r, sizeof(r));
	if (r.magic != ISO_MAGIC || r.type != ISO_MSG_DONE)
		abort();
	n = r.code != 0 ? r.data_len : (size_t)r.out_len;
	if (r.code == 0 && n > FZ_LIMIT)
		abort();
	if ((extra = malloc(n + 1)) == NULL)
		abort();
	fz_recv(extra, n);
	*out = (uint8_t *)extra;
	*outlen = n;
	return r.code;
}

/* Path mode: the same frame from a memfd into a memfd. */
static int
fz_fds(const uint8_t *data, size_t size, uint8_t **out, size_t *outlen)
{
	struct zstd_codec_fds io;
	struct rpc_error err = { 0 };
	int code = 0;

	memset(&io, 0, sizeof(io));
	io.in_fd = memfd_create("in", MFD_CLOEXEC);
	io.out_fd = memfd_create("out", MFD_CLOEXEC);
	if (io.in_fd == -1 || io.out_fd == -1 ||
	    (size > 0 && write(io.in_fd, data, size) != (ssize_t)size) ||
	    lseek(io.in_fd, 0, SEEK_SET) != 0)
		abort();
	if (zstd_codec_decompress_fds(&io, FZ_LIMIT, "path", NULL, &err) == -1)
		code = err.code;
	rpc_error_clear(&err);
	*outlen = 0;
	*out = NULL;
	if (code == 0) {
		if (io.bytes_out > FZ_LIMIT || io.bytes_in != size ||
		    (*out = malloc(io.bytes_out + 1)) == NULL ||
		    pread(io.out_fd, *out, io.bytes_out, 0) !=
			(ssize_t)io.bytes_out)
			abort();
		*outlen = io.bytes_out;
	}
	close(io.in_fd);
	close(io.out_fd);
	return code;
}

static bool
fz_large_or_bad(int code)
{
	return code == RPC_TOO_LARGE || code == RPC_INVALID_PARAMS;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zstd_codec_buf buf = { NULL, 0 };
	struct rpc_error err = { 0 };
	uint8_t *fout, *iout;
	size_t flen, ilen;
	int code = 0, fcode, icode;

	if (zstd_codec_decompress(
		data, size, FZ_LIMIT, "data_b64", NULL, &buf, &err) == -1)
		code = err.code;
	if (code == 0 && buf.len > FZ_LIMIT)
		abort();
	rpc_error_clear(&err);
	fcode = fz_fds(data, size, &fout, &flen);
	icode = fz_isolated(data, size, &iout, &ilen);
	/*
	 * The helper runs the same code on the same bytes: the same verdict.
	 * Path mode too, except for a frame that is both too large and
	 * invalid (say, a bad checksum after the cap): which error zstd meets
	 * first depends on the output buffer's size (capped at the limit + 1
	 * inline, a fixed chunk in path mode).
	 */
	if (icode != code ||
	    (fcode != code &&
		!(fz_large_or_bad(code) && fz_large_or_bad(fcode)))) {
		fprintf(stderr,
		    "fuzz_zstd: verdicts differ: bytes %d, fds %d, helper %d\n",
		    code, fcode, icode);
		abort();
	}
	if (code == 0 &&
	    (flen != buf.len || ilen != buf.len ||
		(buf.len > 0 &&
		    (memcmp(fout, buf.data, buf.len) != 0 ||
			memcmp(iout, buf.data, buf.len) != 0))))
		abort();
	free(buf.data);
	free(fout);
	free(iout);
	return 0;
}
