/*
 * main.c - sbk-gearman: serve sbkd's methods to Gearman job servers.
 *
 * Reads the configuration (exit 2 when it is wrong), picks the number of
 * slots, starts the slot threads and then only waits for signals:
 * SIGTERM/SIGINT stop taking jobs and let the running ones finish (a
 * second one exits at once; gearmand re-queues what was held), SIGUSR1
 * logs the counters and rewrites stats_file.  The only caller of exit().
 *
 * Thread safety: the main thread takes every signal (sigwait); the slot
 * threads start with all of them blocked.
 */
#include "sbk-config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "cmdline.h"
#include "config.h"
#include "log.h"
#include "sbk-client.h"
#include "slot.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: sbk-gearman [-c FILE] [-s SOCKET] [-t]\n"
	    "  -c, --config FILE   configuration (INI; see "
	    "sbk-gearman(8))\n"
	    "  -s, --socket PATH   sbkd's socket (overrides [sbkd] socket)\n"
	    "  -t, --check         check the configuration and exit\n"
	    "  -h, --help          this help\n"
	    "  -V, --version       print the version\n");
}

/*
 * slots = 0: sbkd's CPU workers plus two, so a worker that finishes finds
 * its next job already waiting on the bridge's side; online CPUs plus two
 * when sbkd cannot be asked now.
 */
static unsigned
pick_slots(const struct bridge_config *cfg)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *stats = NULL, *v;
	long n;

	if (cfg->slots > 0)
		return cfg->slots;
	if ((c = sbk_connect(cfg->socket, &err)) != NULL) {
		stats = sbk_call(c, "stats", NULL, 5000, &err);
		sbk_close(c);
	}
	v = stats ?
	    json_object_get(
		json_object_get(json_object_get(stats, "workers"), "cpu"),
		"size") :
	    NULL;
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) < 4096) {
		n = (long)json_integer_value(v);
		json_decref(stats);
		log_info("slots: %ld (sbkd's %ld CPU workers + 2)", n + 2, n);
		return (unsigned)n + 2;
	}
	json_decref(stats);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	log_msg(LOG_NOTICE,
	    "slots: %ld (sbkd not answering: %s; online CPUs + 2)", n + 2,
	    err.message);
	sbk_error_clear(&err);
	return (unsigned)n + 2;
}

static void
write_stats(struct bridge *b)
{
	int r;

	if (b->cfg->stats_file == NULL)
		return;
	if ((r = stats_write_file(&b->stats, b->cfg->stats_file)) < 0)
		log_warnx(
		    "stats_file %s: %s", b->cfg->stats_file, strerror(-r));
}

static void *
join_slots(void *arg)
{
	bridge_join(arg);
	return NULL;
}

static void
identify(struct bridge *b, const struct bridge_config *cfg)
{
	char host[200];

	if (cfg->identifier != NULL) {
		snprintf(b->identifier, sizeof(b->identifier), "%s",
		    cfg->identifier);
		return;
	}
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(b->identifier, sizeof(b->identifier), "%s/%ld", host,
	    (long)getpid());
}

int
main(int argc, char **argv)
{
	struct cmdline cl;
	struct bridge_config *cfg;
	static struct bridge bridge;
	struct timespec tick;
	sigset_t set;
	char err[1024];
	int sig, r, stops = 0;

	if ((r = cmdline_parse(argc, argv, "sbk-gearman", usage, &cl)) >= 0)
		return r;
	if (cl.socket_path != NULL && cl.socket_path[0] != '/') {
		fprintf(stderr, "sbk-gearman: -s %s: not an absolute path\n",
		    cl.socket_path);
		return 2;
	}
	cfg = bridge_config_read(
	    cl.config_path, cl.socket_path, err, sizeof(err));
	if (cfg == NULL) {
		log_err("%s", err);
		return 2;
	}
	if (cl.check_only) {
		printf("%s: configuration OK\n",
		    cl.config_path ? cl.config_path : "built-in defaults");
		bridge_config_free(cfg);
		return 0;
	}
	log_set_level(cfg->log_level);

	/* Every thread inherits this mask; only sigwait below takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	identify(&bridge, cfg);
	r = bridge_start(&bridge, cfg, pick_slots(cfg));
	if (r < 0) {
		log_err("cannot start the slot threads: %s", strerror(-r));
		bridge_config_free(cfg);
		return 1;
	}
	log_info("sbk-gearman %s: %u slots, %zu functions, %zu servers, "
		 "sbkd at %s",
	    SBK_VERSION, bridge.stats.slots, cfg->n_functions, cfg->n_servers,
	    cfg->socket);
	write_stats(&bridge);
	/* Under systemd (Type=notify); a no-op elsewhere. */
	sd_notifyf(0, "READY=1\nSTATUS=%u slots", bridge.stats.slots);

	while (stops == 0) {
		if (cfg->stats_interval_s > 0) {
			tick.tv_sec = cfg->stats_interval_s;
			tick.tv_nsec = 0;
			sig = sigtimedwait(&set, NULL, &tick);
			if (sig < 0 && errno == EAGAIN) {
				stats_log(&bridge.stats);
				write_stats(&bridge);
				continue;
			}
		} else
			sig = sigwaitinfo(&set, NULL);
		switch (sig) {
		case SIGUSR1:
			stats_log(&bridge.stats);
			write_stats(&bridge);
			break;
		case SIGHUP:
			log_info("SIGHUP ignored: restart the bridge to read "
				 "its configuration again (held jobs are "
				 "finished first)");
			break;
		case SIGTERM:
		case SIGINT:
			stops++;
			break;
		default:
			break; /* EINTR */
		}
	}
	log_info("stopping: no new jobs; %u running jobs finish first",
	    atomic_load(&bridge.stats.busy));
	sd_notify(0, "STOPPING=1\nSTATUS=finishing the running jobs");
	bridge_stop(&bridge);

	/* A second SIGTERM/SIGINT does not wait for the running jobs:
	 * exiting closes their Gearman connections and gearmand re-queues
	 * them.  The slots are joined by a helper so this thread keeps
	 * taking signals. */
	{
		pthread_t joiner;
		sigset_t term;

		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigaddset(&term, SIGINT);
		sigaddset(&term, SIGUSR1);
		if (pthread_create(&joiner, NULL, join_slots, &bridge) != 0) {
			bridge_join(&bridge);
		} else {
			for (;;) {
				tick.tv_sec = 0;
				tick.tv_nsec = 100 * 1000000L;
				sig = sigtimedwait(&term, NULL, &tick);
				if (sig == SIGTERM || sig == SIGINT) {
					log_warnx("second stop signal: exiting "
						  "with %u jobs unanswered; "
						  "gearmand re-queues them",
					    atomic_load(&bridge.stats.busy));
					stats_log(&bridge.stats);
					_exit(1);
				}
				if (sig == SIGUSR1) {
					stats_log(&bridge.stats);
					write_stats(&bridge);
				}
				if (pthread_tryjoin_np(joiner, NULL) == 0)
					break;
			}
		}
	}
	stats_log(&bridge.stats);
	write_stats(&bridge);
	log_info("sbk-gearman stopped");
	bridge_config_free(cfg);
	return 0;
}
