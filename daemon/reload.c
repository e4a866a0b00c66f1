/*
 * reload.c - SIGHUP: read the configuration again and put it in force
 * without dropping a connection or a job.  Event thread only.
 *
 * What changes at once: pool sizes (a shrinking pool lets its running
 * jobs finish), queue_max, the argon2 memory budget, every per-connection
 * and per-request limit (read from server->cfg at each use), roots, caps,
 * access lists, test methods and the log level.  What needs a restart:
 * the socket path and mode, and metrics_listen; a change there is logged
 * and otherwise ignored.  Jobs admitted before the reload finish under
 * the configuration they were admitted with, which lives until the last
 * of them ends (config_hold).
 *
 * A reload is applied whole or not at all, and never waits for a worker
 * or a job: see proto/PROTOCOL.md, "Reload".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "isolate.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "server.h"

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/*
 * The reload did not happen: say why and what stays in force, to the log
 * and to systemd (STATUS=, then READY=1 ends the RELOADING=1 state).
 */
static void
reload_failed(struct server *s, const char *why)
{
	log_err("reload failed, configuration generation %llu stays in "
		"force: %s",
	    (unsigned long long)s->stats.config_generation, why);
	sd_notifyf(0,
	    "STATUS=reload failed, configuration generation %llu stays in "
	    "force: %s\nREADY=1",
	    (unsigned long long)s->stats.config_generation, why);
}

/*
 * Pool sizes, all or nothing.  Growing is the only step that can fail
 * (a thread that cannot start), and a grow is undone by a shrink, which
 * cannot fail: so the lanes grow first, are shrunk back if one grow
 * fails, and shrink only once every grow succeeded.  0, or -1 with why
 * filled in and the pools as they were.
 */
static int
apply_pool_sizes(struct server *s, const struct sbk_config *old,
    const struct sbk_config *cfg, char *why, size_t whylen)
{
	static const int lanes[] = { LANE_CPU, LANE_IO };
	static const char *const names[] = { "cpu", "io" };
	unsigned had[2] = { old->cpu_workers, old->io_workers };
	unsigned want[2] = { cfg->cpu_workers, cfg->io_workers };
	int rc;

	for (int i = 0; i < 2; i++) {
		if (want[i] <= had[i])
			continue;
		rc = pool_resize(s->pool, lanes[i], want[i]);
		if (rc == 0)
			continue;
		log_format_errno(why, whylen, -rc,
		    "cannot start %u more %s workers (%u stay)",
		    want[i] - had[i], names[i], had[i]);
		for (int j = 0; j < i; j++)
			if (want[j] > had[j])
				pool_resize(s->pool, lanes[j], had[j]);
		return -1;
	}
	for (int i = 0; i < 2; i++)
		if (want[i] < had[i])
			pool_resize(s->pool, lanes[i], want[i]);
	return 0;
}

/*
 * Read and put in force; 0, or -1 with why filled in (and logged).  The
 * connections are not re-evaluated here: see server_reload and
 * server_reload_deferred.
 */
static int
reload_apply(struct server *s, char *err, size_t errlen)
{
	const struct sbk_config *old = s->cfg;
	struct sbk_config *cfg;

	/* systemd (sd_notify(3)) wants the time a reload starts with it. */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)(clock_now_ns() / 1000));
	cfg = config_read(s->opts.config_path, s->opts.socket, err, errlen);
	if (cfg != NULL &&
	    iso_config_check(cfg, s->opts.config_path, err, errlen) < 0) {
		config_release(cfg);
		cfg = NULL;
	}
	if (cfg == NULL) {
		reload_failed(s, err);
		return -1;
	}
	if (apply_pool_sizes(s, old, cfg, err, errlen) < 0) {
		config_release(cfg);
		reload_failed(s, err);
		return -1;
	}

	/* From here on nothing can fail. */
	if (str_differs(cfg->socket, old->socket) ||
	    cfg->socket_mode != old->socket_mode)
		log_warnx("reload: socket and socket_mode take effect at the "
			  "next restart");
	if (str_differs(cfg->metrics_listen, old->metrics_listen))
		log_warnx("reload: metrics_listen takes effect at the next "
			  "restart");
	pool_set_queue_max(s->pool, cfg->queue_max);
	pool_set_gate_budget(
	    s->pool, POOL_GATE_ARGON2_MEM, cfg->argon2_memory_budget_kib);
	pool_set_gate_budget(
	    s->pool, POOL_GATE_OUTPUT, cfg->output_budget_bytes);
	log_set_level(cfg->log_level);
	log_set_ratelimit(cfg->log_rate_interval_s, cfg->log_rate_burst);
	iso_reload(cfg);

	s->cfg = cfg;
	config_release(old); /* freed now unless a job still holds it */
	s->stats.config_generation++;
	log_info("configuration reloaded (generation %llu): %u cpu workers, "
		 "%u io workers, queue_max %u",
	    (unsigned long long)s->stats.config_generation, cfg->cpu_workers,
	    cfg->io_workers, cfg->queue_max);
	sd_notifyf(0, "STATUS=configuration generation %llu in force\nREADY=1",
	    (unsigned long long)s->stats.config_generation);
	return 0;
}

/* New limits may let paused connections go on. */
static void
resume_all(struct server *s)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		conn_resume(c);
	}
	conn_flush_dirty(s);
}

void
server_reload(struct server *s)
{
	char err[1024];

	if (reload_apply(s, err, sizeof(err)) == 0)
		resume_all(s);
}

static void
resume_all_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	resume_all(s);
}

int
server_reload_deferred(struct server *s, char *why, size_t whylen)
{
	if (reload_apply(s, why, whylen) < 0)
		return -1;
	/*
	 * Not now: the caller is inside a connection's dispatch, and
	 * resuming that connection would hand it the same line again.
	 */
	if (loop_once(s->loop, resume_all_cb, s) < 0)
		log_err("reload: out of memory: paused connections resume at "
			"their next event");
	return 0;
}
