/*
 * cmdline.h - the command line sbkd and sbk-gearman share: -c FILE,
 * -s SOCKET, -t (check the configuration and exit), -h, -V, no operands.
 */
#ifndef SBK_CMDLINE_H
#define SBK_CMDLINE_H

#include <stdbool.h>
#include <stdio.h>

struct cmdline {
	const char *config_path; /* NULL: built-in defaults */
	const char *socket_path; /* NULL: the configured socket */
	bool check_only;
};

/*
 * Parse argv into *cl.  Returns -1 to go on, or the status to exit with:
 * 0 after -h or -V, 2 after a usage error (usage(stderr) printed).
 */
int cmdline_parse(int argc, char **argv, const char *prog,
    void (*usage)(FILE *), struct cmdline *cl);

#endif
