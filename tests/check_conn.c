/*
 * check_conn.c - daemon/conn.c on a socketpair, with a line callback of
 * its own instead of dispatch.c: an idle connection holds no buffers,
 * and its one event waits for what the connection needs (input, output
 * the socket did not take, a disconnect or half-close while paused).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "hist.h"
#include "loop.h"

static struct {
	struct sbk_config cfg;
	const struct sbk_config *cfgp;
	struct hist *lag;
	struct loop *loop;
	struct conn_set set;
	struct conn *c;
	int peer;	  /* the client's end */
	int lines, gone;  /* callbacks seen */
	bool hold;	  /* answer CONN_NOT_NOW */
	size_t reply_len; /* bytes of each reply, the last one '\n' */
} f;

static enum conn_take
on_line(struct conn *c, const char *line, size_t len, void *arg)
{
	char *reply;

	f.lines++;
	if (f.hold)
		return CONN_NOT_NOW;
	ck_assert_ptr_nonnull(reply = malloc(f.reply_len));
	memset(reply, 'x', f.reply_len - 1);
	reply[f.reply_len - 1] = '\n';
	conn_send_owned(c, reply, f.reply_len);
	return CONN_TAKEN;
}

static void
on_gone(struct conn *c, void *arg)
{
	f.gone++;
}

static const struct conn_ops ops = { .line = on_line, .gone = on_gone };

static void
setup(void)
{
	int sv[2];

	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(config_init(&f.cfg), 0);
	f.cfgp = &f.cfg;
	f.reply_len = 3;
	ck_assert_ptr_nonnull(f.lag = hist_new(4));
	ck_assert_ptr_nonnull(f.loop = loop_new(f.lag));
	/* No pool: nothing here charges output or crosses its cap. */
	conn_set_init(&f.set, f.loop, NULL, &f.cfgp, &ops, NULL);
	ck_assert_int_eq(socketpair(AF_UNIX,
			     SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
	    0);
	f.peer = sv[1];
	ck_assert_ptr_nonnull(f.c = conn_new(&f.set, sv[0], 1, 2, 3));
	conn_ref(f.c); /* the test's: the struct outlives a close */
}

static void
teardown(void)
{
	conn_set_close_all(&f.set);
	conn_unref(f.c);
	if (f.peer >= 0)
		close(f.peer);
	loop_free(f.loop);
	hist_free(f.lag);
	config_free(&f.cfg);
}

static void
send_peer(const char *s)
{
	ck_assert_int_eq(write(f.peer, s, strlen(s)), (ssize_t)strlen(s));
}

/* Read what the daemon side sent so far: bytes, 0 at EOF, -1 if none. */
static ssize_t
recv_peer(char *buf, size_t size)
{
	ssize_t n = read(f.peer, buf, size);

	ck_assert(n >= 0 || errno == EAGAIN);
	return n;
}

START_TEST(idle_connection_holds_no_buffers)
{
	char buf[16];

	ck_assert_ptr_null(f.c->in);
	ck_assert_ptr_null(f.c->out);
	ck_assert_int_eq(f.c->armed, EV_READ);
	send_peer("a\nb\n");
	while (f.lines < 2)
		ck_assert_int_eq(loop_run_once(f.loop), 0);
	/* Both answered within the callback: nothing left in either. */
	ck_assert_int_eq(recv_peer(buf, sizeof(buf)), 6);
	ck_assert(memcmp(buf, "xx\nxx\n", 6) == 0);
	ck_assert_ptr_null(f.c->in);
	ck_assert_ptr_null(f.c->out);
	ck_assert_int_eq(f.c->armed, EV_READ);
	ck_assert_uint_eq(conn_unsent(f.c), 0);
}
END_TEST

START_TEST(output_the_socket_did_not_take_waits_for_ev_write)
{
	static char buf[64 * 1024];
	size_t got = 0;
	ssize_t n;
	char last = 0;

	f.reply_len = 4 << 20; /* more than the socket buffer */
	send_peer("a\n");
	while (f.lines < 1)
		ck_assert_int_eq(loop_run_once(f.loop), 0);
	ck_assert_ptr_nonnull(f.c->out);
	ck_assert(f.c->write_on);
	ck_assert_int_eq(f.c->armed, EV_READ | EV_WRITE);
	ck_assert_uint_gt(conn_unsent(f.c), 0);
	while (got < f.reply_len) {
		if ((n = recv_peer(buf, sizeof(buf))) > 0) {
			got += (size_t)n;
			last = buf[n - 1];
		} else {
			ck_assert_int_eq(loop_run_once(f.loop), 0);
		}
	}
	ck_assert_uint_eq(got, f.reply_len);
	ck_assert_int_eq(last, '\n');
	ck_assert_ptr_null(f.c->out);
	ck_assert(!f.c->write_on);
	ck_assert_int_eq(f.c->armed, EV_READ);
}
END_TEST

/* A held line pauses reading: only a disconnect is watched. */
static void
pause_on_a_held_line(void)
{
	f.hold = true;
	send_peer("a\n");
	while (f.lines < 1)
		ck_assert_int_eq(loop_run_once(f.loop), 0);
	ck_assert_int_eq(f.c->state, CONN_PAUSED);
	ck_assert_int_eq(f.c->armed, EV_CLOSED);
}

START_TEST(half_close_while_paused_is_answered_then_closed)
{
	char buf[16];

	pause_on_a_held_line();
	ck_assert_int_eq(shutdown(f.peer, SHUT_WR), 0);
	ck_assert_int_eq(loop_run_once(f.loop), 0);
	/* Still paused, and no longer woken by the half-close. */
	ck_assert_int_eq(f.c->state, CONN_PAUSED);
	ck_assert(f.c->shut);
	ck_assert_int_eq(f.c->armed, 0);
	ck_assert_int_eq(f.gone, 0);
	f.hold = false;
	conn_line_done(f.c);
	conn_flush_dirty(&f.set);
	ck_assert_int_eq(recv_peer(buf, sizeof(buf)), 3);
	/* Resumed: the read sees the end of input, and it closes. */
	while (!conn_closed(f.c))
		ck_assert_int_eq(loop_run_once(f.loop), 0);
	ck_assert_int_eq(f.lines, 2); /* the held line offered again */
	ck_assert_int_eq(recv_peer(buf, sizeof(buf)), 0);
	ck_assert_int_eq(f.gone, 1);
}
END_TEST

START_TEST(disconnect_while_paused_is_seen)
{
	pause_on_a_held_line();
	close(f.peer);
	f.peer = -1;
	ck_assert_int_eq(loop_run_once(f.loop), 0);
	ck_assert(conn_closed(f.c));
	ck_assert_int_eq(f.gone, 1);
}
END_TEST

static Suite *
conn_suite(void)
{
	Suite *su = suite_create("conn");
	TCase *tc = tcase_create("conn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, idle_connection_holds_no_buffers);
	tcase_add_test(tc, output_the_socket_did_not_take_waits_for_ev_write);
	tcase_add_test(tc, half_close_while_paused_is_answered_then_closed);
	tcase_add_test(tc, disconnect_while_paused_is_seen);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr = srunner_create(conn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
