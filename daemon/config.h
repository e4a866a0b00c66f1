/*
 * config.h - sbkd's configuration: built-in defaults, the INI file read
 * with inih, and validation of every key.  A loaded struct sbk_config is
 * never changed afterwards; modules hold a const pointer to it.
 *
 * Thread safety: config_load/config_free on the main thread only; a loaded
 * config may be read from any thread.
 */
#ifndef SBK_CONFIG_H
#define SBK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "inifile.h"

struct sbk_config {
	/*
	 * Holders of a config from config_read: the server while it is in
	 * force, and each job admitted under it (config_hold/release).
	 * Event thread only.
	 */
	unsigned long refs;

	/* [daemon] */
	char *socket; /* path of the listening socket */
	mode_t socket_mode;
	unsigned max_connections;
	size_t max_request_bytes;
	size_t max_output_bytes_per_conn;
	size_t output_budget_bytes; /* daemon-wide, see scheduler.h */
	unsigned shutdown_timeout_s;
	bool enable_test_methods;
	int log_level;		      /* syslog priority: LOG_ERR..LOG_DEBUG */
	bool log_jobs;		      /* one access-log line per job */
	unsigned log_rate_interval_s; /* 0: no rate limit */
	unsigned log_rate_burst;
	char *metrics_listen; /* "ADDR:PORT" or NULL (off) */
	unsigned metrics_max_connections;
	unsigned metrics_request_timeout_s;
	unsigned metrics_max_requests_per_s;

	/* [pool] */
	unsigned cpu_workers; /* 0 in the file = online CPUs */
	unsigned io_workers;
	unsigned cpu_worker_nice; /* 0..19: CPU workers yield */
	unsigned queue_max;
	unsigned max_inflight_per_conn;

	/* [argon2] */
	unsigned argon2_t_cost;
	unsigned argon2_m_cost_kib;
	unsigned argon2_parallelism;
	unsigned argon2_max_m_cost_kib;
	unsigned argon2_max_t_cost;
	unsigned argon2_max_parallelism;
	unsigned long argon2_memory_budget_kib;

	/* [zstd] */
	int zstd_level;
	int zstd_max_level;
	size_t zstd_max_output_bytes;

	/* [files] */
	char **read_roots; /* NULL-terminated, canonical, absolute */
	char **write_roots;
	/*
	 * O_PATH directory fds of the roots above, opened once at load
	 * (read_root_fds[i] is read_roots[i]); every path is resolved
	 * beneath them, never through the names.  Closed by config_free.
	 */
	int *read_root_fds;
	int *write_root_fds;
	size_t max_read_bytes;

	/* [access] */
	uid_t *allow_uids;
	size_t n_allow_uids;
	gid_t *allow_gids;
	size_t n_allow_gids;
	/* The admin.* methods: uid 0, and these (contract 1.3). */
	uid_t *admin_uids;
	size_t n_admin_uids;
	gid_t *admin_gids;
	size_t n_admin_gids;

	/* [isolation] (isolate.h) */
	char **isolation_kinds; /* NULL-terminated method names; NULL: none */
	unsigned isolation_helpers;  /* 0 in the file = cpu_workers */
	unsigned isolation_max_jobs; /* jobs per helper before it is replaced */
};

/*
 * May this peer call the admin.* methods?  uid 0, a uid in admin_uids or a
 * gid (SO_PEERCRED's) in admin_gids.
 */
bool config_is_admin(const struct sbk_config *, uid_t, gid_t);

/* Fill in the built-in defaults (the contract's).  0, or -errno. */
int config_init(struct sbk_config *);

/*
 * Read an INI file on top of what cfg holds, validating every key.  On
 * error returns -1 and writes "FILE:LINE: [section] key: what is wrong"
 * (or "FILE: why it cannot be read") to errbuf; cfg may be partly updated
 * and must then be freed.
 */
int config_load(
    struct sbk_config *, const char *path, char *errbuf, size_t errlen);

/* Resolve derived values (cpu_workers 0 -> online CPUs). */
void config_finish(struct sbk_config *);

void config_free(struct sbk_config *);

/* One more holder of a config from config_read; returns it. */
const struct sbk_config *config_hold(const struct sbk_config *);
/* Drop a hold; the last one frees the config (NULL is ignored). */
void config_release(const struct sbk_config *);

/*
 * All of the above in one: defaults, then the file (when path is not
 * NULL), then the socket override (when not NULL), then config_finish.
 * A new heap config, or NULL with the reason in errbuf.
 */
struct sbk_config *config_read(
    const char *path, const char *socket, char *errbuf, size_t errlen);

#endif /* SBK_CONFIG_H */
