/*
 * server.h - the event thread: the event base, signals, the shutdown
 * state machine, the pool's completion wakeup, the loop-lag probe and
 * systemd notification.  Owns the listener, the connections and the pool.
 *
 * Threads: everything here runs on the event thread (the main thread).
 */
#ifndef SBK_SERVER_H
#define SBK_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "heap.h"
#include "scheduler.h"
#include "stats.h"

struct event;
struct loop;
struct listener;
struct metrics;
struct pool;
struct sbk_config;
struct conn;

TAILQ_HEAD(conn_list, conn);

enum server_state {
	SERVER_RUNNING,
	SERVER_DRAINING, /* SIGTERM: finishing accepted jobs */
	SERVER_DONE,
};

struct server_opts {
	const char *config_path; /* NULL: built-in defaults */
	const char *socket;	 /* -s override, or NULL */
};

struct server {
	/*
	 * In force; read it afresh.  The server holds one reference (see
	 * config_hold); a config replaced by a reload lives on while a job
	 * admitted under it does.
	 */
	const struct sbk_config *cfg;
	struct server_opts opts;
	struct loop *loop;
	struct pool *pool;
	struct listener *listener;
	struct metrics *metrics; /* NULL: metrics_listen off */
	struct stats stats;

	struct conn_list conns;
	unsigned nconns;
	struct conn_list dirty; /* output to flush */

	enum server_state state;
	struct event *pool_ev;
	struct event *sig_ev[3];
	struct event *shutdown_timer;
	struct event *notify_timer; /* WATCHDOG=1 and STATUS= */
	struct event *heap_timer;   /* the idle heap trim */
	struct heap_trim_state trim;

	uint64_t recent_job_ns; /* moving average of run times */
	bool gave_up;		/* shutdown_timeout_s passed with jobs left */
	/* Big request lines on the parser lane, all connections (FIFO). */
	struct sched_owner parse_owner;
};

/*
 * Build everything and start listening on cfg (heap, owned by the server
 * from now on).  0, or -1 after logging why.
 */
int server_init(
    struct server *, struct sbk_config *, const struct server_opts *);
/* Run until a SIGTERM/SIGINT drain has finished. */
void server_run(struct server *);
/*
 * Tear down.  False when workers were left running jobs that cannot be
 * stopped (after shutdown_timeout_s): then nothing they may touch was
 * freed, and the caller must end the process at once (_exit).
 */
bool server_fini(struct server *);

/*
 * SIGHUP: re-read the configuration; apply pool sizes, limits, roots and
 * the log level without dropping a connection or a job.  An invalid file
 * is refused with a log line and the running configuration stays.
 */
void server_reload(struct server *);
/*
 * admin.reload: the same, from inside a connection's dispatch.  Paused
 * connections are re-evaluated at the next loop iteration rather than
 * at once.  0, or -1 with the configuration error (as logged) in why.
 */
int server_reload_deferred(struct server *, char *why, size_t whylen);

/* The drain finished its last job or flush: leave the loop if draining. */
void server_check_drained(struct server *);

#endif /* SBK_SERVER_H */
