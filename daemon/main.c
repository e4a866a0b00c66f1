/*
 * main.c - sbkd's entry point: options, configuration, logging, then the
 * server; the only place that decides to exit.  Exit status: 0 after a
 * clean shutdown, 1 when sbkd cannot start (socket in use, out of
 * resources), 2 for bad usage or a bad configuration.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sbk-config.h"
#include "cmdline.h"
#include "config.h"
#include "helper.h"
#include "isolate.h"
#include "log.h"
#include "server.h"

/* Fixed descriptors: stdio, listener and its spare, event loop, wakeups. */
#define FD_FIXED 16

static size_t
count_roots(char *const *roots)
{
	size_t n = 0;

	while (roots != NULL && roots[n] != NULL)
		n++;
	return n;
}

/*
 * Every connection is a descriptor: take the hard limit, so that
 * max_connections rather than a low default soft limit bounds them.  The
 * descriptors sbkd holds for as long as it runs come out of the same
 * limit: the fixed ones and one per read and write root (config.c opens
 * them at load).  Say so when max_connections cannot be reached;
 * connections past the limit are shed at accept (listener.c).
 */
static void
raise_fd_limit(const struct sbk_config *cfg)
{
	size_t roots =
	    count_roots(cfg->read_roots) + count_roots(cfg->write_roots);
	struct rlimit rl, hard;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	hard = (struct rlimit){ rl.rlim_max, rl.rlim_max };
	if (rl.rlim_cur < rl.rlim_max && setrlimit(RLIMIT_NOFILE, &hard) < 0)
		log_warn("setrlimit(RLIMIT_NOFILE)");
	else
		rl = hard;
	if (rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)cfg->max_connections + FD_FIXED + roots)
		log_warnx("RLIMIT_NOFILE %llu is below max_connections %u plus "
			  "%zu lasting descriptors (%zu for roots): clients "
			  "past the limit will be refused",
		    (unsigned long long)rl.rlim_cur, cfg->max_connections,
		    FD_FIXED + roots, roots);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: sbkd [-c FILE] [-s PATH] [-t] [-h] [-V]\n"
	    "Run blocking jobs (argon2, zstd, file reads) for local clients\n"
	    "that speak JSON-RPC 2.0 over a UNIX socket.  Stays in the\n"
	    "foreground and logs to stderr.\n"
	    "\n"
	    "  -c, --config FILE   read this INI file (default: built-in "
	    "defaults)\n"
	    "  -s, --socket PATH   listen on PATH (default: %s)\n"
	    "  -t, --check         check the configuration and exit\n"
	    "  -h, --help          show this help\n"
	    "  -V, --version       show the version\n",
	    SBK_DEFAULT_SOCKET);
}

int
main(int argc, char **argv)
{
	struct sbk_config *cfg;
	struct server *server;
	struct cmdline cl;
	char err[1024];
	int rc;

	/* A helper process (isolate.c) is sbkd only by its binary. */
	if (argc >= 2 && argc <= 4 && strcmp(argv[1], HELPER_ARG) == 0)
		_exit(helper_main(HELPER_CHAN_FD, argc >= 3 ? argv[2] : NULL,
		    argc == 4 ? argv[3] : NULL));
	log_detect_stream();
	if ((rc = cmdline_parse(argc, argv, "sbkd", usage, &cl)) >= 0)
		return rc;

	cfg = config_read(cl.config_path, cl.socket_path, err, sizeof(err));
	if (cfg != NULL &&
	    iso_config_check(cfg, cl.config_path, err, sizeof(err)) < 0) {
		config_release(cfg);
		cfg = NULL;
	}
	if (cfg == NULL) {
		log_err("%s", err);
		return 2;
	}
	if (cl.check_only) {
		printf("%s: configuration OK\n",
		    cl.config_path ? cl.config_path : "built-in defaults");
		config_release(cfg);
		return 0;
	}
	log_set_level(cfg->log_level);
	log_set_ratelimit(cfg->log_rate_interval_s, cfg->log_rate_burst);

	/* A client that vanishes must cost a failed write, not the daemon. */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(cfg);

	/* Before the pools: helpers are sbkd re-executed (isolate.h). */
	if (iso_start(cfg) < 0) {
		config_release(cfg);
		return 1;
	}
	if ((server = server_new(cfg, cl.config_path, cl.socket_path)) ==
	    NULL) {
		iso_stop();
		return 1;
	}
	server_run(server);
	if (!server_free(server)) {
		/*
		 * Workers still run jobs that cannot be stopped (argon2),
		 * whose replies were -32006 at shutdown_timeout_s: leave now
		 * rather than wait for them.  Their memory is theirs until the
		 * process ends, so skip the exit handlers (and leak checks).
		 */
		log_info("sbkd stopped, leaving running workers behind");
		_exit(0); /* the helpers die with it (PR_SET_PDEATHSIG) */
	}
	iso_stop();
	log_info("sbkd stopped");
	return 0;
}
