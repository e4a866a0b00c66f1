/*
 * cmdline.c - the command line sbkd and sbk-gearman share (cmdline.h).
 */
#include "sbk-config.h"

#include <getopt.h>
#include <stdio.h>

#include "cmdline.h"

int
cmdline_parse(int argc, char **argv, const char *prog, void (*usage)(FILE *),
    struct cmdline *cl)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*cl = (struct cmdline){ 0 };
	while ((ch = getopt_long(argc, argv, "c:s:thV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cl->config_path = optarg;
			break;
		case 's':
			cl->socket_path = optarg;
			break;
		case 't':
			cl->check_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", prog, SBK_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog,
		    argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}
