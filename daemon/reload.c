/*
 * reload.c - see reload.h.
 *
 * What changes at once: pool sizes (a shrinking pool lets its running
 * jobs finish), queue_max, the budgets, every per-connection and
 * per-request limit (read from the config in force at each use), roots,
 * caps, access lists, test methods and the log level.  The socket path
 * and mode, and metrics_listen, need a restart: a change there is logged
 * and otherwise ignored.  Jobs admitted before the reload finish under
 * the configuration they were admitted with, which lives until the last
 * of them ends (config_hold).  A reload never waits for a worker or a
 * job: see proto/PROTOCOL.md, "Reload".
 */
#include <string.h>

#include <systemd/sd-daemon.h>

#include "clock.h"
#include "config.h"
#include "isolate.h"
#include "job.h"
#include "log.h"
#include "pool.h"
#include "reload.h"

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/*
 * Pool sizes, all or nothing.  Growing is the only step that can fail
 * (a thread that cannot start), and a grow is undone by a shrink, which
 * cannot fail: so the lanes grow first, are shrunk back if one grow
 * fails, and shrink only once every grow succeeded.  0, or -1 with why
 * filled in and the pools as they were.
 */
static int
apply_pool_sizes(struct pool *pool, const struct sbk_config *old,
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
		rc = pool_resize(pool, lanes[i], want[i]);
		if (rc == 0)
			continue;
		log_format_errno(why, whylen, -rc,
		    "cannot start %u more %s workers (%u stay)",
		    want[i] - had[i], names[i], had[i]);
		for (int j = 0; j < i; j++)
			if (want[j] > had[j])
				pool_resize(pool, lanes[j], had[j]);
		return -1;
	}
	for (int i = 0; i < 2; i++)
		if (want[i] < had[i])
			pool_resize(pool, lanes[i], want[i]);
	return 0;
}

int
reload_apply(const struct reload *r, char *err, size_t errlen)
{
	const struct sbk_config *old = *r->cfg;
	struct sbk_config *cfg;

	/* systemd (sd_notify(3)) wants the time a reload starts with it. */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)(clock_now_ns() / 1000));
	cfg = config_read(r->config_path, r->socket, err, errlen);
	if (cfg != NULL &&
	    (iso_config_check(cfg, r->config_path, err, errlen) < 0 ||
		apply_pool_sizes(r->pool, old, cfg, err, errlen) < 0)) {
		config_release(cfg);
		cfg = NULL;
	}
	if (cfg == NULL) {
		/*
		 * Say what stays in force, to the log and to systemd
		 * (STATUS=, then READY=1 ends the RELOADING=1 state).
		 */
		log_err("reload failed, configuration generation %llu stays "
			"in force: %s",
		    (unsigned long long)*r->generation, err);
		sd_notifyf(0,
		    "STATUS=reload failed, configuration generation %llu "
		    "stays in force: %s\nREADY=1",
		    (unsigned long long)*r->generation, err);
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
	pool_set_queue_max(r->pool, cfg->queue_max);
	pool_set_gate_budget(
	    r->pool, POOL_GATE_ARGON2_MEM, cfg->argon2_memory_budget_kib);
	pool_set_gate_budget(
	    r->pool, POOL_GATE_OUTPUT, cfg->output_budget_bytes);
	log_set_level(cfg->log_level);
	log_set_ratelimit(cfg->log_rate_interval_s, cfg->log_rate_burst);
	iso_reload(cfg);

	*r->cfg = cfg;
	config_release(old); /* freed now unless a job still holds it */
	(*r->generation)++;
	log_info("configuration reloaded (generation %llu): %u cpu workers, "
		 "%u io workers, queue_max %u",
	    (unsigned long long)*r->generation, cfg->cpu_workers,
	    cfg->io_workers, cfg->queue_max);
	sd_notifyf(0, "STATUS=configuration generation %llu in force\nREADY=1",
	    (unsigned long long)*r->generation);
	return 0;
}
