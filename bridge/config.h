/*
 * config.h - sbk-gearman's configuration: built-in defaults, the INI file
 * read with inih (like sbkd's), and validation of every key.  A loaded
 * struct bridge_config is never changed afterwards.
 *
 * Thread safety: bridge_config_read/free on the main thread only; a loaded
 * config may be read from any thread.
 */
#ifndef SBK_BRIDGE_CONFIG_H
#define SBK_BRIDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* One gearmand server. */
struct bridge_server {
	char *host;
	unsigned port;
};

/* One sbkd method the bridge may serve as a Gearman function. */
struct bridge_method {
	const char *name;    /* sbkd method, e.g. "argon2.hash" */
	bool paths;	     /* has a path mode (path / out_path) */
	bool needs_paths;    /* only path mode exists (file.read) */
	bool wants_progress; /* ask sbkd for progress notifications */
};

/* The table of methods a bridge may serve; NULL-terminated by name. */
extern const struct bridge_method bridge_methods[];
const struct bridge_method *bridge_method_find(const char *name);

struct bridge_config {
	/* [gearman] */
	struct bridge_server *servers;
	size_t n_servers;
	char *function_prefix;
	const struct bridge_method **functions; /* served methods */
	size_t n_functions;
	bool allow_paths;
	size_t max_workload_bytes;
	char *identifier; /* NULL = the host name */

	/* [sbkd] */
	char *socket;
	unsigned slots;	       /* 0 = sbkd's CPU workers + 2, found at start */
	unsigned retry_min_ms; /* floor and cap of the wait after -32000 */
	unsigned retry_max_ms;

	/* [bridge] */
	unsigned reconnect_min_ms;
	unsigned reconnect_max_ms;
	unsigned idle_check_ms;
	int log_level;
	bool log_jobs;
	char *stats_file; /* Prometheus text, NULL = none */
	unsigned stats_interval_s;
};

/*
 * Read path (NULL: built-in defaults only); socket, when not NULL,
 * overrides [sbkd] socket.  NULL on error with "FILE:LINE: [section] key:
 * what is wrong" in errbuf.
 */
struct bridge_config *bridge_config_read(
    const char *path, const char *socket, char *errbuf, size_t errlen);
void bridge_config_free(struct bridge_config *);

#endif /* SBK_BRIDGE_CONFIG_H */
