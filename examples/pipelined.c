/*
 * pipelined.c - many requests in flight on one connection with the
 * blocking pipelined interface: sbk_send them all (corked, one write),
 * then sbk_recv the replies in whatever order the daemon finishes them.
 * Usage: pipelined [SOCKET [N]]
 */
#include <stdio.h>
#include <stdlib.h>

#include <sbk/sbk-client.h>

int
main(int argc, char **argv)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	int i, n, got = 0;

	n = argc > 2 ? atoi(argv[2]) : 100;
	c = sbk_connect_timeout(argc > 1 ? argv[1] : NULL, 2000, &err);
	if (c == NULL) {
		fprintf(stderr, "connect: %s\n", err.message);
		return (1);
	}
	sbk_cork(c, true);
	for (i = 0; i < n; i++)
		if (sbk_send(c, "ping", NULL, &err) == -1)
			break;
	sbk_cork(c, false);
	if (i < n || sbk_flush(c, &err) == -1) {
		fprintf(stderr, "send: %s\n", err.message);
		sbk_close(c);
		return (1);
	}
	while (got < n && sbk_recv(c, &r, 5000, &err) == 1) {
		if (r.kind == SBK_MSG_RESULT || r.kind == SBK_MSG_ERROR)
			got++;
		sbk_reply_clear(&r);
	}
	printf("%d of %d replies\n", got, n);
	sbk_close(c);
	return (got == n ? 0 : 1);
}
