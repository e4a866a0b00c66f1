/*
 * check_sandbox.c - sandbox_enter (daemon/sandbox.c) in a forked child that
 * plays an isolated helper: after entering, the zstd codec still works on
 * bytes and on descriptors passed over the channel with SCM_RIGHTS, while
 * /proc shows the filter (Seccomp: 2), no_new_privs, the limits and one
 * descriptor left, and each forbidden call (open, socket, an executable
 * mapping, fork) kills the child with SIGSYS; the same under a filter
 * that makes seccomp() fail as sbkd.service's SystemCallFilter= does.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>

#include "sandbox.h"
#include "sanitizer.h"
#include "zstd_codec.h"
#include "harness.h"

#define BUDGET ((uint64_t)512 << 20)

enum child_act {
	ACT_CODEC = 'c',
	ACT_OPEN = 'o',
	ACT_SOCKET = 's',
	ACT_EXEC_MAP = 'x',
	ACT_FORK = 'f',
	ACT_EXIT = 'e',
};

struct child {
	pid_t pid;
	int chan; /* the parent's end */
};

static void
send_fds(int sock, char act, const int *fds, int n)
{
	char buf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = { &act, 1 };
	struct msghdr mh;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (n > 0) {
		memset(buf, 0, sizeof(buf));
		mh.msg_control = buf;
		mh.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	}
	ck_assert_int_eq(sendmsg(sock, &mh, 0), 1);
}

/* In the sandbox: one act per byte, two descriptors with 'c'. */
static int
recv_act(int chan, int *fds)
{
	char act, buf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = { &act, 1 };
	struct msghdr mh;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = buf;
	mh.msg_controllen = sizeof(buf);
	if (recvmsg(chan, &mh, 0) != 1)
		return (-1);
	c = CMSG_FIRSTHDR(&mh);
	if (c != NULL && c->cmsg_type == SCM_RIGHTS)
		memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
	return (act);
}

static const char text[] = "sandboxed helpers decode hostile frames. ";

/* What a helper does with a path-mode and an inline request. */
static int
child_codec(int chan, const int *fds)
{
	struct zstd_codec_fds io = { fds[0], fds[1], 0, 0, 0 };
	struct zstd_codec_buf c, d;
	struct rpc_error err = { 0, "", NULL };
	int rc = 0;

	if (zstd_codec_decompress_fds(&io, 1 << 20, "path", NULL, &err) == -1)
		rc |= 1;
	close(fds[0]);
	close(fds[1]);
	if (zstd_codec_compress(
		(const uint8_t *)text, sizeof(text), 19, NULL, &c, &err) == -1)
		return (rc | 2);
	if (zstd_codec_decompress(
		c.data, c.len, 1 << 20, "data_b64", NULL, &d, &err) == -1 ||
	    d.len != sizeof(text) || memcmp(d.data, text, d.len) != 0)
		rc |= 4;
	/* A bomb past the cap is an error, not a crash. */
	if (zstd_codec_decompress(
		c.data, c.len, 10, "data_b64", NULL, &d, &err) != -1 ||
	    err.code != RPC_TOO_LARGE)
		rc |= 8;
	free(c.data);
	rpc_error_clear(&err);
	return (rc);
}

/* Set by a test before child_start: play sbkd.service's filter first. */
static bool unit_filter;

/*
 * What systemd's SystemCallFilter=@system-service does to seccomp(): it is
 * not in the set, so it fails with EPERM (SystemCallErrorNumber=), and
 * libseccomp must load the helper's filter through prctl instead.  Raw
 * BPF through prctl, as systemd loads it: libseccomp keeps what it learnt
 * of the kernel for the process, and must first meet the filter in
 * sandbox_enter, as in a freshly executed helper.
 */
static int
play_unit_filter(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
		return (-1);
	return (0);
}

static void __attribute__((noreturn)) child_main(int chan)
{
	int fds[2] = { -1, -1 }, act;
	char rc;

	if (unit_filter && play_unit_filter() == -1)
		_exit(98);
	if (sandbox_enter(chan, BUDGET) == -1)
		_exit(100);
	rc = 0;
	if (write(chan, &rc, 1) != 1) /* entered */
		_exit(101);
	for (;;) {
		switch (act = recv_act(chan, fds)) {
		case ACT_CODEC:
			rc = (char)child_codec(chan, fds);
			if (write(chan, &rc, 1) != 1)
				_exit(102);
			break;
		case ACT_OPEN:
			open("/etc/passwd", O_RDONLY);
			_exit(103);
		case ACT_SOCKET:
			socket(AF_UNIX, SOCK_STREAM, 0);
			_exit(104);
		case ACT_EXEC_MAP:
			mmap(NULL, 4096, PROT_READ | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			_exit(105);
		case ACT_FORK:
			fork();
			_exit(106);
		default:
			/* _exit: no atexit handlers (LeakSanitizer clones). */
			_exit(act == ACT_EXIT ? 0 : 107);
		}
	}
}

static struct child
child_start(void)
{
	struct child c;
	int sv[2], extra;
	char b;

	ck_assert_int_eq(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* A descriptor the helper must not keep. */
	extra = open("/", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(extra, 0);
	c.pid = fork();
	ck_assert_int_ge(c.pid, 0);
	if (c.pid == 0) {
		/* As isolate.c spawns a helper: the channel on fd 3. */
		close(sv[0]);
		if (dup2(sv[1], 3) == -1)
			_exit(99);
		child_main(3);
	}
	close(extra);
	close(sv[1]);
	c.chan = sv[0];
	ck_assert_int_eq(read(c.chan, &b, 1), 1);
	ck_assert_int_eq(b, 0);
	return (c);
}

static int
child_wait(struct child *c)
{
	int st;

	close(c->chan);
	ck_assert_int_eq(waitpid(c->pid, &st, 0), c->pid);
	return (st);
}

/* Memory file holding bytes. */
static int
memfile(const void *data, size_t len)
{
	int fd = memfd_create("sbx", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return (fd);
}

START_TEST(test_proc_shows_sandbox)
{
	struct child c = child_start();
	char path[64], line[256];
	int n = 0, st;
	FILE *f;

	ck_assert_int_eq(hx_status_field(c.pid, "Seccomp"), 2);
	ck_assert_int_eq(hx_status_field(c.pid, "NoNewPrivs"), 1);
	/* Only 0-2 (/dev/null) and the channel. */
	snprintf(path, sizeof(path), "ls /proc/%d/fd", (int)c.pid);
	ck_assert_ptr_nonnull(f = popen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		ck_assert_int_le(atoi(line), 3);
	}
	pclose(f);
	ck_assert_int_eq(n, 4);
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)c.pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Max open files", 14) == 0)
			ck_assert_ptr_nonnull(strstr(line, " 8 "));
		if (strncmp(line, "Max core file size", 18) == 0)
			ck_assert_ptr_nonnull(strstr(line, " 0 "));
		if (strncmp(line, "Max address space", 17) == 0)
			ck_assert((strstr(line, "unlimited") != NULL) ==
			    (SBK_TEST_ASAN || SBK_TEST_TSAN));
	}
	fclose(f);
	send_fds(c.chan, ACT_EXIT, NULL, 0);
	st = child_wait(&c);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

START_TEST(test_codec_works_inside)
{
	struct zstd_codec_buf frame;
	struct rpc_error err = { 0, "", NULL };
	struct child c = child_start();
	char big[200000], got[sizeof(big)], rc;
	int fds[2], st;
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = text[i % (sizeof(text) - 1)] ^ (char)(i / 4096);
	ck_assert_int_eq(zstd_codec_compress((const uint8_t *)big, sizeof(big),
			     3, NULL, &frame, &err),
	    0);
	fds[0] = memfile(frame.data, frame.len);
	fds[1] = memfd_create("out", MFD_CLOEXEC);
	free(frame.data);
	send_fds(c.chan, ACT_CODEC, fds, 2);
	ck_assert_int_eq(read(c.chan, &rc, 1), 1);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(
	    pread(fds[1], got, sizeof(got), 0), (ssize_t)sizeof(got));
	ck_assert(memcmp(got, big, sizeof(big)) == 0);
	close(fds[0]);
	close(fds[1]);
	send_fds(c.chan, ACT_EXIT, NULL, 0);
	st = child_wait(&c);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

static const char forbidden[] = { ACT_OPEN, ACT_SOCKET, ACT_EXEC_MAP,
	ACT_FORK };

START_TEST(test_forbidden_call_kills)
{
	struct child c = child_start();
	int st;

	send_fds(c.chan, forbidden[_i], NULL, 0);
	st = child_wait(&c);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "act %c: status %#x", forbidden[_i], st);
}
END_TEST

/* Under a unit that filters seccomp() out, the sandbox still holds. */
START_TEST(test_under_unit_filter)
{
	struct child c;
	int st;

	unit_filter = true;
	c = child_start();
	ck_assert_int_eq(hx_status_field(c.pid, "Seccomp"), 2);
	ck_assert_int_eq(hx_status_field(c.pid, "NoNewPrivs"), 1);
	send_fds(c.chan, forbidden[_i], NULL, 0);
	st = child_wait(&c);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "act %c: status %#x", forbidden[_i], st);
}
END_TEST

START_TEST(test_budget_parse)
{
	ck_assert_uint_eq(sandbox_budget_parse("1234"), 1234);
	ck_assert_uint_eq(sandbox_budget_parse(""), 0);
	ck_assert_uint_eq(sandbox_budget_parse("-1"), 0);
	ck_assert_uint_eq(sandbox_budget_parse("12x"), 0);
	ck_assert_uint_eq(sandbox_budget_parse(NULL), 0);
	ck_assert_uint_eq(sandbox_budget_parse("123456789012345678901"), 0);
}
END_TEST

static Suite *
sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_proc_shows_sandbox);
	tcase_add_test(tc, test_codec_works_inside);
	tcase_add_loop_test(
	    tc, test_forbidden_call_kills, 0, (int)sizeof(forbidden));
	/*
	 * Through prctl the filter can only kill the thread, and under TSan
	 * the runtime's own thread keeps the process (and its channel) alive:
	 * sbkd then stops such a helper at its job's deadline or cancel.
	 */
	if (!SBK_TEST_TSAN)
		tcase_add_loop_test(
		    tc, test_under_unit_filter, 0, (int)sizeof(forbidden));
	tcase_add_test(tc, test_budget_parse);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner *sr = srunner_create(sandbox_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
