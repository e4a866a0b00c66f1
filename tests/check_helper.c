/*
 * check_helper.c - the isolated helper (daemon/helper.c) on its own: the
 * real sbkd binary ($SBKD) started as "sbkd-helper --isolated-helper" with a
 * socketpair on fd 3, driven with isolate_wire.h frames.  Proves the
 * framing (several requests on one channel, an unknown op answered and
 * survived, a payload dropped in sync), the test ops (crash dies of
 * SIGSEGV, hang stays silent until killed), and the clean ends (EOF:
 * exit 0, garbage: exit 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "isolate_wire.h"
#include "harness.h"

#define WAIT_MS 10000

struct child {
	pid_t pid;
	int fd; /* sbkd's end */
};

static void
child_start(struct child *c)
{
	const char *sbkd = getenv("SBKD");
	char *argv[] = { "sbkd-helper", "--isolated-helper", NULL };
	char *envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	int sv[2];

	ck_assert_msg(sbkd != NULL, "SBKD is not set");
	ck_assert_int_eq(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	ck_assert_int_eq(posix_spawn(&c->pid, sbkd, &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	c->fd = sv[0];
}

/* The wait status, within WAIT_MS (then SIGKILL and fail). */
static int
child_wait(struct child *c)
{
	int st;

	for (int i = 0; i < WAIT_MS; i++) {
		pid_t r = waitpid(c->pid, &st, WNOHANG);

		ck_assert_int_ge(r, 0);
		if (r == c->pid)
			return st;
		usleep(1000);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &st, 0);
	ck_abort_msg("helper did not exit");
	return 0;
}

static void
send_req(struct child *c, uint16_t op, uint16_t flags, const void *payload,
    uint64_t len)
{
	struct iso_request r = { .magic = ISO_MAGIC, .op = op, .flags = flags };

	r.in_len = len;
	r.out_max = 1 << 20;
	ck_assert_int_eq(
	    send(c->fd, &r, sizeof(r), MSG_NOSIGNAL), (ssize_t)sizeof(r));
	if (len > 0)
		ck_assert_int_eq(
		    send(c->fd, payload, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* len bytes within WAIT_MS; false at EOF. */
static bool
recv_n(struct child *c, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		struct pollfd pfd = { c->fd, POLLIN, 0 };
		ssize_t n;

		ck_assert_msg(poll(&pfd, 1, WAIT_MS) == 1, "no reply");
		n = read(c->fd, p, len);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* A DONE reply; its payload (error.data or output) malloc'd in *extra. */
static void
recv_done(struct child *c, struct iso_reply *r, char **extra)
{
	size_t n;

	ck_assert(recv_n(c, r, sizeof(*r)));
	ck_assert_uint_eq(r->magic, ISO_MAGIC);
	ck_assert_uint_eq(r->type, ISO_MSG_DONE);
	n = r->code != 0 ? r->data_len : (size_t)r->out_len;
	*extra = calloc(1, n + 1);
	ck_assert(n == 0 || recv_n(c, *extra, n));
}

START_TEST(test_crash_dies_of_sigsegv)
{
	struct child c;
	char b;
	int st;

	child_start(&c);
	send_req(&c, ISO_OP_TEST_CRASH, 0, NULL, 0);
	st = child_wait(&c);
	ck_assert_msg(
	    WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %#x", st);
	/* The channel reads EOF: what sbkd sees first. */
	ck_assert_int_eq(read(c.fd, &b, 1), 0);
	close(c.fd);
}
END_TEST

/* One answered request: the helper has entered its sandbox by then. */
static void
round_trip(struct child *c)
{
	struct iso_reply r;
	char *extra;

	send_req(c, 99, 0, NULL, 0);
	recv_done(c, &r, &extra);
	ck_assert_int_eq(r.code, -32603);
	free(extra);
}

/*
 * The sandbox (sandbox.c): while the helper lives /proc shows the seccomp
 * filter and no_new_privs; its open("/etc/passwd") kills it with SIGSYS.
 */
START_TEST(test_forbidden_dies_of_sigsys)
{
	struct child c;
	char b;
	int st;

	child_start(&c);
	round_trip(&c);
	ck_assert_int_eq(hx_status_field(c.pid, "Seccomp"), 2);
	ck_assert_int_eq(hx_status_field(c.pid, "NoNewPrivs"), 1);
	send_req(&c, ISO_OP_TEST_FORBIDDEN, 0, NULL, 0);
	st = child_wait(&c);
	ck_assert_msg(
	    WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status %#x", st);
	ck_assert_int_eq(read(c.fd, &b, 1), 0);
	close(c.fd);
}
END_TEST

/* An inline zstd op: DONE with code 0 and the output; *out malloc'd. */
static size_t
zstd_inline(struct child *c, uint16_t op, const void *in, size_t len,
    struct iso_reply *r, char **out)
{
	send_req(c, op, 0, in, len);
	recv_done(c, r, out);
	return r->code == 0 ? (size_t)r->out_len : 0;
}

static const char zs_text[] = "the same codec in the helper as in sbkd. "
			      "the same codec in the helper as in sbkd. ";

/* Compress and decompress in the helper, inline: the bytes come back. */
START_TEST(test_zstd_inline_round_trip)
{
	struct child c;
	struct iso_reply r;
	char *frame, *plain;
	size_t flen, plen;

	child_start(&c);
	flen = zstd_inline(
	    &c, ISO_OP_ZSTD_COMPRESS, zs_text, sizeof(zs_text), &r, &frame);
	ck_assert_int_eq(r.code, 0);
	ck_assert_uint_eq(r.done, sizeof(zs_text));
	ck_assert_uint_gt(flen, 4);
	plen = zstd_inline(&c, ISO_OP_ZSTD_DECOMPRESS, frame, flen, &r, &plain);
	ck_assert_int_eq(r.code, 0);
	ck_assert_uint_eq(plen, sizeof(zs_text));
	ck_assert(memcmp(plain, zs_text, plen) == 0);
	free(plain);
	free(frame);
	close(c.fd);
	ck_assert_int_eq(child_wait(&c), 0);
}
END_TEST

/* A bomb: 2 MiB of zeros decoded with out_max 1 MiB is -32004, as in sbkd. */
START_TEST(test_zstd_bomb_capped)
{
	size_t big = 2u << 20, flen;
	struct child c;
	struct iso_reply r;
	char *zeros = calloc(1, big), *frame, *data;

	ck_assert_ptr_nonnull(zeros);
	child_start(&c);
	flen = zstd_inline(&c, ISO_OP_ZSTD_COMPRESS, zeros, big, &r, &frame);
	free(zeros);
	ck_assert_int_eq(r.code, 0);
	ck_assert_uint_lt(flen, 4096);
	zstd_inline(&c, ISO_OP_ZSTD_DECOMPRESS, frame, flen, &r, &data);
	ck_assert_int_eq(r.code, -32004);
	ck_assert_ptr_nonnull(strstr(r.message, "max_output_bytes"));
	free(data);
	free(frame);
	close(c.fd);
	ck_assert_int_eq(child_wait(&c), 0);
}
END_TEST

/* Not zstd data: the in-process error, naming data_b64, data and all. */
START_TEST(test_zstd_invalid_data)
{
	struct child c;
	struct iso_reply r;
	char *data;

	child_start(&c);
	zstd_inline(&c, ISO_OP_ZSTD_DECOMPRESS, "not zstd", 8, &r, &data);
	ck_assert_int_eq(r.code, -32602);
	ck_assert_msg(
	    strstr(r.message, "invalid zstd data") != NULL, "%s", r.message);
	ck_assert_ptr_nonnull(strstr(data, "data_b64"));
	free(data);
	zstd_inline(&c, ISO_OP_ZSTD_DECOMPRESS, NULL, 0, &r, &data);
	ck_assert_int_eq(r.code, -32602);
	ck_assert_ptr_nonnull(strstr(r.message, "empty input"));
	free(data);
	close(c.fd);
	ck_assert_int_eq(child_wait(&c), 0);
}
END_TEST

/* An unknown op with a payload: an error, the payload dropped in step. */
START_TEST(test_unknown_op_then_more)
{
	struct child c;
	struct iso_reply r;
	char payload[10000];
	char *extra;

	memset(payload, 'x', sizeof(payload));
	child_start(&c);
	for (int i = 0; i < 3; i++) {
		send_req(&c, 99, 0, payload, sizeof(payload));
		recv_done(&c, &r, &extra);
		ck_assert_int_eq(r.code, -32603);
		ck_assert_msg(strstr(r.message, "unknown operation 99") != NULL,
		    "%s", r.message);
		ck_assert_uint_eq(r.data_len, 0);
		free(extra);
		send_req(&c, ISO_OP_ZSTD_COMPRESS, 0, "more", 4);
		recv_done(&c, &r, &extra);
		ck_assert_int_eq(r.code, 0);
		free(extra);
	}
	close(c.fd);
	ck_assert_int_eq(child_wait(&c), 0);
}
END_TEST

/* Path mode without its two descriptors is refused, not run. */
START_TEST(test_paths_without_fds)
{
	struct child c;
	struct iso_reply r;
	char *extra;

	child_start(&c);
	send_req(&c, ISO_OP_TEST_FORBIDDEN, ISO_F_PATHS, NULL, 0);
	recv_done(&c, &r, &extra);
	ck_assert_int_eq(r.code, -32603);
	ck_assert_msg(
	    strstr(r.message, "descriptors") != NULL, "%s", r.message);
	free(extra);
	close(c.fd);
	ck_assert_int_eq(child_wait(&c), 0);
}
END_TEST

START_TEST(test_hang_until_killed)
{
	struct child c;
	struct pollfd pfd;
	int st;

	child_start(&c);
	send_req(&c, ISO_OP_TEST_HANG, 0, NULL, 0);
	pfd.fd = c.fd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 200), 0);
	/* Closing the channel does not end a hung op: only a kill does. */
	ck_assert_int_eq(waitpid(c.pid, &st, WNOHANG), 0);
	kill(c.pid, SIGKILL);
	st = child_wait(&c);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	close(c.fd);
}
END_TEST

START_TEST(test_garbage_exits_1)
{
	struct child c;
	char junk[sizeof(struct iso_request)];

	memset(junk, 0x5a, sizeof(junk));
	child_start(&c);
	ck_assert_int_eq(send(c.fd, junk, sizeof(junk), MSG_NOSIGNAL),
	    (ssize_t)sizeof(junk));
	ck_assert_int_eq(child_wait(&c), 1 << 8);
	close(c.fd);
}
END_TEST

START_TEST(test_eof_exits_0)
{
	struct child c;

	child_start(&c);
	close(c.fd);
	ck_assert_int_eq(child_wait(&c), 0);
}
END_TEST

static Suite *
helper_suite(void)
{
	Suite *s = suite_create("helper");
	TCase *tc = tcase_create("helper");

	tcase_add_test(tc, test_crash_dies_of_sigsegv);
	tcase_add_test(tc, test_forbidden_dies_of_sigsys);
	tcase_add_test(tc, test_zstd_inline_round_trip);
	tcase_add_test(tc, test_zstd_invalid_data);
	tcase_add_test(tc, test_zstd_bomb_capped);
	tcase_add_test(tc, test_unknown_op_then_more);
	tcase_add_test(tc, test_paths_without_fds);
	tcase_add_test(tc, test_hang_until_killed);
	tcase_add_test(tc, test_garbage_exits_1);
	tcase_add_test(tc, test_eof_exits_0);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(helper_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
