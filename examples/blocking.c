/*
 * blocking.c - the simplest libsbk program: one blocking call with a
 * timeout.  Usage: blocking [SOCKET]
 */
#include <stdio.h>
#include <stdlib.h>

#include <sbk/sbk-client.h>

int
main(int argc, char **argv)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *res;

	c = sbk_connect_timeout(argc > 1 ? argv[1] : NULL, 2000, &err);
	if (c == NULL) {
		fprintf(stderr, "connect: %s\n", err.message);
		return (1);
	}
	res = sbk_call(c, "ping", NULL, 2000, &err);
	if (res == NULL) {
		fprintf(stderr, "ping: %s\n", err.message);
		sbk_error_clear(&err);
		sbk_close(c);
		return (1);
	}
	printf("pong: %s\n",
	    json_is_true(json_object_get(res, "pong")) ? "true" : "false");
	json_decref(res);
	sbk_close(c);
	return (0);
}
