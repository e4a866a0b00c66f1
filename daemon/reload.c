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
 * the configuration they were admitted with.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "conn.h"
#include "job.h"
#include "log.h"
#include "pool.h"
#include "server.h"

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

void
server_reload(struct server *s)
{
	const struct sbk_config *old = s->cfg;
	struct sbk_config *cfg, **grown;
	struct conn *c, *next;
	char err[1024];

	sd_notify(0, "RELOADING=1");
	cfg =
	    config_read(s->opts.config_path, s->opts.socket, err, sizeof(err));
	if (cfg == NULL) {
		log_err("reload refused, the running configuration stays in "
			"force: %s",
		    err);
		sd_notify(0, "READY=1");
		return;
	}
	grown = realloc(s->retired, (s->nretired + 1) * sizeof(*grown));
	if (grown == NULL) {
		log_err("reload refused: out of memory");
		config_free(cfg);
		free(cfg);
		sd_notify(0, "READY=1");
		return;
	}
	s->retired = grown;

	if (str_differs(cfg->socket, old->socket) ||
	    cfg->socket_mode != old->socket_mode)
		log_warn("reload: socket and socket_mode take effect at the "
			 "next restart");
	if (str_differs(cfg->metrics_listen, old->metrics_listen))
		log_warn("reload: metrics_listen takes effect at the next "
			 "restart");

	if (pool_resize(s->pool, LANE_CPU, cfg->cpu_workers) < 0 ||
	    pool_resize(s->pool, LANE_IO, cfg->io_workers) < 0)
		log_warn("reload: could not start every new worker");
	pool_set_queue_max(s->pool, cfg->queue_max);
	pool_set_gate_budget(
	    s->pool, POOL_GATE_ARGON2_MEM, cfg->argon2_memory_budget_kib);
	log_set_level(cfg->log_level);

	s->retired[s->nretired++] = (struct sbk_config *)old;
	s->cfg = cfg;
	s->stats.config_generation++;

	/* New limits may let paused connections go on. */
	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		conn_resume(c);
	}
	conn_flush_dirty(s);
	log_info("configuration reloaded (generation %llu): %u cpu workers, "
		 "%u io workers, queue_max %u",
	    (unsigned long long)s->stats.config_generation, cfg->cpu_workers,
	    cfg->io_workers, cfg->queue_max);
	sd_notify(0, "READY=1");
}
