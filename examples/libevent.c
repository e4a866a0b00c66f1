/*
 * libevent.c - the asynchronous interface on a libevent loop, without a
 * thread: N pings queued at once (more than the socket buffer holds, so
 * libsbk writes them as the socket drains), each with its own callback
 * data; the loop ends when every reply came.
 * Usage: libevent [SOCKET [N]]
 */
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <sbk/sbk-client.h>
#include <sbk/sbk-libevent.h>

struct state {
	struct event_base *base;
	int left;
	int ok;
};

static void
on_reply(struct sbk_client *c, const struct sbk_reply *r, void *arg)
{
	struct state *st = arg;

	(void)c;
	if (r->kind == SBK_MSG_NOTIFICATION)
		return; /* progress: more follows */
	if (r->kind == SBK_MSG_RESULT)
		st->ok++;
	if (--st->left == 0)
		event_base_loopbreak(st->base);
}

int
main(int argc, char **argv)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_libevent *a;
	struct state st;
	int i, n;

	n = argc > 2 ? atoi(argv[2]) : 1000;
	st.base = event_base_new();
	st.left = n;
	st.ok = 0;
	c = sbk_connect_async(argc > 1 ? argv[1] : NULL, 2000, &err);
	if (c == NULL || st.base == NULL) {
		fprintf(stderr, "connect: %s\n", err.message);
		return (1);
	}
	a = sbk_libevent_attach(c, st.base);
	for (i = 0; i < n; i++)
		if (sbk_call_async(
			c, "ping", NULL, 10000, on_reply, &st, &err) == -1) {
			fprintf(stderr, "queue: %s\n", err.message);
			return (1);
		}
	event_base_dispatch(st.base);
	printf("%d of %d ok\n", st.ok, n);
	sbk_libevent_detach(a);
	sbk_close(c);
	event_base_free(st.base);
	return (st.ok == n ? 0 : 1);
}
