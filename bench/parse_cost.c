/*
 * parse_cost.c - what reading one request line costs the event thread,
 * for the three JSON readers issue 13 weighed (docs/BENCHMARKS.md, "Issue
 * 13: one JSON reader"):
 *   scan     rpc_request_scan, the envelope read with json_parse.c's
 *            tokens and params parsed (what sbkd does);
 *   parse    rpc_parse_line (json_parse.c) + rpc_request_parse +
 *            rpc_id_dump, the envelope read from JSON values;
 *   jansson  json_loadb + rpc_request_parse + rpc_id_dump.
 * Each of N iterations reads one of three typical lines and frees what
 * it made.  Count instructions, which a shared machine does not blur:
 *   valgrind --tool=cachegrind --cache-sim=no ./parse_cost MODE 30000
 * minus the same with N = 0, divided by N.
 *
 * usage: parse_cost scan|parse|jansson N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

static const char *const lines[] = {
	"{\"jsonrpc\":\"2.0\",\"id\":17,\"method\":\"spin\","
	"\"params\":{\"ms\":0}}",
	"{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":123456}",
	"{\"jsonrpc\":\"2.0\",\"id\":\"req-42\",\"method\":\"file.read\","
	"\"params\":{\"path\":\"/srv/data/a.txt\",\"offset\":0,"
	"\"length\":4096}}",
};

/* The envelope from JSON values, as dispatch_one reads a batch member. */
static size_t
read_values(const char *line, size_t len, bool jansson)
{
	struct rpc_error err = { 0 };
	struct rpc_request req;
	const json_t *err_id;
	json_t *root;
	char *id;
	size_t n;

	root = jansson ?
	    json_loadb(line, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL) :
	    rpc_parse_line(line, len, &err);
	if (root == NULL || !rpc_request_parse(root, &req, &err_id, &err) ||
	    (id = rpc_id_dump(req.id)) == NULL)
		abort();
	n = strlen(id) + req.method_len;
	free(id);
	json_decref(root);
	return n;
}

int
main(int argc, char **argv)
{
	struct rpc_scan rq;
	size_t sink = 0, len;
	long n;

	if (argc != 3 ||
	    (strcmp(argv[1], "scan") != 0 && strcmp(argv[1], "parse") != 0 &&
		strcmp(argv[1], "jansson") != 0)) {
		fprintf(stderr, "usage: parse_cost scan|parse|jansson N\n");
		return 2;
	}
	n = atol(argv[2]);
	for (long i = 0; i < n; i++) {
		len = strlen(lines[i % 3]);
		if (argv[1][0] == 's') {
			if (!rpc_request_scan(lines[i % 3], len, &rq))
				abort();
			sink += rq.id_len + rq.method_len;
			json_decref(rq.params);
		} else
			sink +=
			    read_values(lines[i % 3], len, argv[1][0] == 'j');
	}
	printf("%s: %ld lines, %zu bytes of id and method\n", argv[1], n, sink);
	return 0;
}
