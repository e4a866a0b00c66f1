/*
 * server.c - the event thread; see server.h.
 *
 * Shutdown: SIGTERM/SIGINT close the listener (removing the socket file
 * unless systemd owns it), stop reading every connection and answer the
 * complete lines already read with -32006.  Jobs already admitted run to
 * the end and are answered.  The loop ends when no job is left in the
 * pools and every reply is written, or at shutdown_timeout_s, when what
 * is still waiting or running is answered -32006.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "sbk-config.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "job.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "heap.h"
#include "http.h"
#include "metrics.h"
#include "pool.h"
#include "reload.h"
#include "server.h"
#include "stats.h"

enum server_state {
	SERVER_RUNNING,
	SERVER_DRAINING, /* SIGTERM: finishing accepted jobs */
	SERVER_DONE,
};

struct server {
	/*
	 * In force; read it afresh.  The server holds one reference (see
	 * config_hold); a config replaced by a reload lives on while a job
	 * admitted under it does.  The modules hold its address.
	 */
	const struct sbk_config *cfg;
	struct reload reload; /* what a reload reads and changes */
	struct loop *loop;
	struct pool *pool;
	struct listener *listener;
	struct metrics_src msrc;
	struct http_server *metrics; /* NULL: metrics_listen off */
	struct stats stats;
	struct conn_set conns;
	struct dispatch dispatch;

	enum server_state state;
	struct event *pool_ev;
	struct event *sig_ev[3];
	struct event *shutdown_timer;
	struct event *notify_timer; /* WATCHDOG=1 and STATUS= */
	struct event *heap_timer;   /* the idle heap trim */
	struct heap_trim_state trim;
	bool gave_up; /* shutdown_timeout_s passed with jobs left */
};

static void
pool_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	pool_collect(s->pool, dispatch_collect_cb, &s->dispatch);
	conn_flush_dirty(&s->conns);
}

static void
shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	log_warnx("shutdown: %llu jobs still running after %us; answering "
		  "them -32006",
	    (unsigned long long)pool_pending(s->pool),
	    s->cfg->shutdown_timeout_s);
	dispatch_abort_all(&s->dispatch);
	conn_flush_dirty(&s->conns);
	s->gave_up = true;
	/* Whatever could not be written by now will not be. */
	s->state = SERVER_DONE;
}

static void
begin_drain(struct server *s)
{
	struct timeval tv = { .tv_sec = s->cfg->shutdown_timeout_s };

	log_info("shutting down: %llu jobs to finish",
	    (unsigned long long)pool_pending(s->pool));
	sd_notify(0, "STOPPING=1");
	s->state = SERVER_DRAINING;
	pool_stop_admission(s->pool);
	listener_close(s->listener);
	s->listener = NULL;
	conn_set_drain(&s->conns);
	s->shutdown_timer =
	    loop_event_new(s->loop, -1, 0, shutdown_timeout_cb, s);
	if (s->shutdown_timer != NULL)
		evtimer_add(s->shutdown_timer, &tv);
}

static void
resume_all_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	conn_set_resume_all(&s->conns);
}

/*
 * SIGHUP and admin.reload.  The paused connections are then re-evaluated
 * under the new limits, at the next iteration: admin.reload runs inside a
 * connection's dispatch, which resuming now would hand the same line
 * again.
 */
static int
reload(void *arg, char *why, size_t whylen)
{
	struct server *s = arg;

	if (reload_apply(&s->reload, why, whylen) < 0)
		return -1;
	if (loop_once(s->loop, resume_all_cb, s) < 0)
		log_err("reload: out of memory: paused connections resume at "
			"their next event");
	return 0;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	char why[1024];

	if (s->state != SERVER_RUNNING)
		return;
	if (sig == SIGHUP)
		reload(s, why, sizeof(why));
	else
		begin_drain(s);
}

/*
 * Tell systemd the loop is alive (WATCHDOG=1 comes from the loop itself,
 * so a stalled event thread gets the service restarted) and what it is
 * doing (STATUS=).
 */
static void
notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct pool_stats ps;

	pool_get_stats(s->pool, &ps);
	sd_notifyf(0,
	    "WATCHDOG=1\nSTATUS=%u connections, %zu queued, "
	    "cpu %u/%u busy, io %u/%u busy, %llu jobs done",
	    s->conns.count, ps.depth, ps.busy[LANE_CPU], ps.size[LANE_CPU],
	    ps.busy[LANE_IO], ps.size[LANE_IO],
	    (unsigned long long)(s->stats.outcome[STATS_COMPLETED] +
		s->stats.outcome[STATS_FAILED]));
}

/*
 * Jobs are what allocate in bulk (params, results, buffers, codec
 * contexts).  Connections and control calls are left out: a monitor
 * polling `stats` must not keep an idle daemon from trimming.
 */
static uint64_t
activity(const struct stats *st)
{
	uint64_t n = st->accepted + st->rejected;

	for (int i = 0; i < STATS_OUTCOMES; i++)
		n += st->outcome[i];
	return n;
}

/* Every HEAP_TICK_MS: the idle heap trim (daemon/heap.c says why). */
static void
heap_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (heap_trim_due(
		&s->trim, activity(&s->stats), pool_pending(s->pool))) {
		heap_trim();
		s->stats.heap_trims++;
	}
}

static int
start_notify(struct server *s)
{
	struct timeval tv = { .tv_sec = 5 };
	uint64_t usec;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return 0;
	/* Twice per watchdog period, as sd_watchdog_enabled(3) advises. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec / 2 < 5000000) {
		tv.tv_sec = usec / 2 / 1000000;
		tv.tv_usec = usec / 2 % 1000000;
	}
	s->notify_timer = loop_event_new(s->loop, -1, EV_PERSIST, notify_cb, s);
	if (s->notify_timer == NULL || event_add(s->notify_timer, &tv) < 0)
		return -1;
	return 0;
}

/* The `stats` result, for the metrics endpoint. */
static json_t *
stats_snapshot(void *arg)
{
	struct server *s = arg;
	struct pool_stats ps;

	pool_get_stats(s->pool, &ps);
	return stats_json(&s->stats, &ps, s->conns.count);
}

static int
start_pool(struct server *s)
{
	const struct sbk_config *cfg = s->cfg;
	struct pool_params pp = { 0 };

	pp.workers[LANE_CPU] = cfg->cpu_workers;
	pp.workers[LANE_IO] = cfg->io_workers;
	/*
	 * Big request lines are parsed on their own thread, so they never
	 * wait behind the jobs (their deadlines count from receipt).
	 */
	pp.workers[LANE_PARSE] = 1;
	pp.internal_lane = LANE_PARSE;
	pp.queue_max = cfg->queue_max;
	pp.batch_lane = LANE_CPU;
	pp.batch_nice = (int)cfg->cpu_worker_nice;
	pp.gate_budget[POOL_GATE_ARGON2_MEM] = cfg->argon2_memory_budget_kib;
	pp.gate_budget[POOL_GATE_OUTPUT] = cfg->output_budget_bytes;
	s->pool = pool_new(&pp);
	if (s->pool == NULL) {
		log_errno("cannot start the worker pools");
		return -1;
	}
	s->pool_ev = loop_event_new(
	    s->loop, pool_event_fd(s->pool), EV_READ | EV_PERSIST, pool_cb, s);
	if (s->pool_ev == NULL || event_add(s->pool_ev, NULL) < 0)
		return -1;
	return 0;
}

static int
server_init(struct server *s, struct sbk_config *cfg, const char *config_path,
    const char *socket)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	static const struct timeval heap_tv = {
		.tv_sec = HEAP_TICK_MS / 1000,
		.tv_usec = HEAP_TICK_MS % 1000 * 1000,
	};
	s->cfg = cfg;
	if (stats_init(&s->stats) < 0)
		return -1;
	s->stats.config_generation = 1;
	if ((s->loop = loop_new(s->stats.loop_lag_us)) == NULL)
		return -1;
	if (start_pool(s) < 0)
		return -1;
	s->reload = (struct reload){ .config_path = config_path,
		.socket = socket,
		.pool = s->pool,
		.cfg = &s->cfg,
		.generation = &s->stats.config_generation };
	conn_set_init(&s->conns, s->loop, s->pool, &s->cfg, &dispatch_conn_ops,
	    &s->dispatch);
	s->dispatch = (struct dispatch){
		.cfg = &s->cfg,
		.loop = s->loop,
		.pool = s->pool,
		.stats = &s->stats,
		.conns = &s->conns,
		.reload = reload,
		.reload_arg = s,
	};

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		s->sig_ev[i] = loop_event_new(
		    s->loop, sigs[i], EV_SIGNAL | EV_PERSIST, signal_cb, s);
		if (s->sig_ev[i] == NULL || event_add(s->sig_ev[i], NULL) < 0)
			return -1;
	}

	s->listener = listener_open(s->loop, &s->cfg, &s->stats, &s->conns);
	if (s->listener == NULL)
		return -1;
	s->msrc = (struct metrics_src){ .loop = s->loop,
		.cfg = &s->cfg,
		.counts = &s->stats.http,
		.snapshot = stats_snapshot,
		.arg = s };
	if (metrics_start(&s->msrc, &s->metrics) < 0)
		return -1;
	if (start_notify(s) < 0)
		return -1;
	s->heap_timer =
	    loop_event_new(s->loop, -1, EV_PERSIST, heap_tick_cb, s);
	if (s->heap_timer == NULL || event_add(s->heap_timer, &heap_tv) < 0)
		return -1;
	log_info("sbkd " SBK_VERSION " ready: %u cpu workers, %u io workers, "
		 "queue_max %u",
	    cfg->cpu_workers, cfg->io_workers, cfg->queue_max);
	sd_notify(0, "READY=1");
	return 0;
}

struct server *
server_new(struct sbk_config *cfg, const char *config_path, const char *socket)
{
	struct server *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		log_err("cannot start: out of memory");
		config_release(cfg);
		return NULL;
	}
	TAILQ_INIT(&s->conns.all);
	TAILQ_INIT(&s->conns.dirty);
	if (server_init(s, cfg, config_path, socket) < 0) {
		server_free(s); /* nothing runs yet: always true */
		return NULL;
	}
	return s;
}

void
server_run(struct server *s)
{
	while (s->state != SERVER_DONE) {
		pool_kick(s->pool);
		if (loop_run_once(s->loop) < 0) {
			log_err("event loop failed");
			break;
		}
		/* Draining, and nothing left to run or write. */
		if (s->state == SERVER_DRAINING && pool_pending(s->pool) == 0 &&
		    conn_set_flushed(&s->conns))
			s->state = SERVER_DONE;
	}
}

/* After shutdown_timeout_s, how long cooperative jobs get to stop. */
#define SERVER_STOP_GRACE_MS 200

/*
 * Join the workers, then release the jobs they hand back.  Past
 * shutdown_timeout_s every job was answered -32006 and told to stop:
 * cooperative kinds stop at their next checkpoint, argon2 finishes its
 * hash.  Those are not waited for (issue 11: the exit is on time too):
 * false when some were left running.
 */
static bool
stop_pool(struct server *s)
{
	struct pollfd pfd = { .fd = pool_event_fd(s->pool), .events = POLLIN };
	uint64_t until =
	    clock_now_ns() + (uint64_t)SERVER_STOP_GRACE_MS * 1000000;

	pool_stop_admission(s->pool);
	while (pool_pending(s->pool) > 0) {
		if (s->gave_up && clock_now_ns() >= until) {
			log_warnx("shutdown: leaving %llu jobs that cannot be "
				  "stopped (argon2)",
			    (unsigned long long)pool_pending(s->pool));
			return false;
		}
		pool_kick(s->pool);
		if (poll(&pfd, 1, s->gave_up ? 20 : 1000) < 0 && errno != EINTR)
			break;
		pool_collect(s->pool, dispatch_collect_cb, &s->dispatch);
	}
	pool_free(s->pool);
	return true;
}

bool
server_free(struct server *s)
{
	http_server_free(s->metrics);
	conn_set_close_all(&s->conns);
	listener_close(s->listener);
	if (s->pool != NULL && !stop_pool(s))
		return false;
	loop_event_free(s->pool_ev);
	for (size_t i = 0; i < 3; i++)
		loop_event_free(s->sig_ev[i]);
	loop_event_free(s->shutdown_timer);
	loop_event_free(s->notify_timer);
	loop_event_free(s->heap_timer);
	loop_free(s->loop);
	stats_free(&s->stats);
	config_release(s->cfg);
	free(s);
	return true;
}
