/*
 * config.c - sbkd's configuration: one table row per key (section, name,
 * type, field, bounds, default, help), the built-in defaults parsed from
 * that table, and the INI file read through inih with every value checked
 * and every error reported as "FILE:LINE: [section] key: what is wrong".
 *
 * The file itself (the bounded read, the line reader inih is driven
 * through, unknown sections, unknown and duplicate keys, FILE:LINE) and
 * the number and boolean parsers are inifile.c's, shared with
 * sbk-gearman's reader; the value types only sbkd has are
 * config_values.c's.
 */
#include "sbk-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "config_values.h"
#include "inifile.h"
#include "log.h"

enum config_type {
	CFG_UINT,  /* unsigned */
	CFG_ULONG, /* unsigned long */
	CFG_SIZE,  /* size_t; K, M, G suffixes (1024-based) */
	CFG_INT,   /* int */
	CFG_BOOL,
	CFG_MODE,     /* mode_t, octal */
	CFG_SOCKET,   /* char *, a UNIX socket path */
	CFG_LISTEN,   /* char *, "ADDR:PORT", NULL when empty */
	CFG_PATHS,    /* char **, colon-separated directories */
	CFG_IDS,      /* uid_t * or gid_t * plus a count */
	CFG_LOGLEVEL, /* int, syslog priority */
	CFG_WORDS,    /* char **, space- or comma-separated names; NULL: none */
};

struct config_key {
	struct inifile_key key; /* section, name */
	enum config_type type;
	size_t off;
	size_t count_off; /* CFG_IDS: count; CFG_PATHS: fds */
	long long min;
	long long max;
	const char *def; /* parsed like a file value */
	const char *help;
};

#define OFF(f) offsetof(struct sbk_config, f)
#define GIB    (1024LL * 1024 * 1024)

/*
 * conf/sbkd.conf documents these rows one for one; check_config loads it
 * uncommented and compares the result with the defaults below.
 */
static const struct config_key config_keys[] = {
	{ { "daemon", "socket" }, CFG_SOCKET, OFF(socket), 0, 0, 0,
	    SBK_DEFAULT_SOCKET, "path of the listening socket" },
	{ { "daemon", "socket_mode" }, CFG_MODE, OFF(socket_mode), 0, 0, 07777,
	    "0660", "permissions of the socket file (octal)" },
	{ { "daemon", "max_connections" }, CFG_UINT, OFF(max_connections), 0, 1,
	    1000000, "1024", "connections served at once" },
	{ { "daemon", "max_request_bytes" }, CFG_SIZE, OFF(max_request_bytes),
	    0, 64, GIB, "4194304", "longest request line" },
	{ { "daemon", "max_output_bytes_per_conn" }, CFG_SIZE,
	    OFF(max_output_bytes_per_conn), 0, 4096, 4 * GIB, "16777216",
	    "unsent reply bytes before a connection stops being read" },
	{ { "daemon", "output_budget_bytes" }, CFG_SIZE,
	    OFF(output_budget_bytes), 0, 65536, 1LL << 40, "536870912",
	    "reply bytes all jobs together may hold; more waits" },
	{ { "daemon", "shutdown_timeout_s" }, CFG_UINT, OFF(shutdown_timeout_s),
	    0, 0, 3600, "30", "seconds running jobs get at shutdown" },
	{ { "daemon", "enable_test_methods" }, CFG_BOOL,
	    OFF(enable_test_methods), 0, 0, 1, "false",
	    "offer the test methods (sleep, spin, test.*)" },
	{ { "daemon", "log_level" }, CFG_LOGLEVEL, OFF(log_level), 0, 0, 0,
	    "info", "err, warning, notice, info or debug" },
	{ { "daemon", "log_jobs" }, CFG_BOOL, OFF(log_jobs), 0, 0, 1, "false",
	    "log one line per job" },
	{ { "daemon", "log_rate_interval_s" }, CFG_UINT,
	    OFF(log_rate_interval_s), 0, 0, 3600, "5",
	    "window of the per-uid log rate limit; 0 = no limit" },
	{ { "daemon", "log_rate_burst" }, CFG_UINT, OFF(log_rate_burst), 0, 1,
	    1000000, "20", "lines per uid and kind in each window" },
	{ { "daemon", "metrics_listen" }, CFG_LISTEN, OFF(metrics_listen), 0, 0,
	    0, "", "ADDR:PORT for metrics; empty = off" },
	{ { "daemon", "metrics_max_connections" }, CFG_UINT,
	    OFF(metrics_max_connections), 0, 1, 4096, "16",
	    "HTTP connections open at once; more get 503" },
	{ { "daemon", "metrics_request_timeout_s" }, CFG_UINT,
	    OFF(metrics_request_timeout_s), 0, 1, 3600, "10",
	    "seconds for a whole request head, and for a response" },
	{ { "daemon", "metrics_max_requests_per_s" }, CFG_UINT,
	    OFF(metrics_max_requests_per_s), 0, 1, 100000, "50",
	    "HTTP requests answered per second, all connections" },

	{ { "pool", "cpu_workers" }, CFG_UINT, OFF(cpu_workers), 0, 0, 1024,
	    "0", "CPU pool threads; 0 = online CPUs" },
	{ { "pool", "io_workers" }, CFG_UINT, OFF(io_workers), 0, 1, 1024, "16",
	    "I/O pool threads" },
	{ { "pool", "cpu_worker_nice" }, CFG_UINT, OFF(cpu_worker_nice), 0, 0,
	    19, "10", "nice value of CPU pool threads" },
	{ { "pool", "queue_max" }, CFG_UINT, OFF(queue_max), 0, 0, 10000000,
	    "4096", "jobs waiting for a worker, both pools together" },
	{ { "pool", "max_inflight_per_conn" }, CFG_UINT,
	    OFF(max_inflight_per_conn), 0, 1, 65536, "128",
	    "jobs in flight per connection (and batch size cap)" },

	{ { "argon2", "t_cost" }, CFG_UINT, OFF(argon2_t_cost), 0, 1, 1000000,
	    "3", "default passes" },
	{ { "argon2", "m_cost_kib" }, CFG_UINT, OFF(argon2_m_cost_kib), 0, 8,
	    UINT32_MAX, "65536", "default memory per hash, KiB" },
	{ { "argon2", "parallelism" }, CFG_UINT, OFF(argon2_parallelism), 0, 1,
	    1024, "1", "default lanes" },
	{ { "argon2", "max_m_cost_kib" }, CFG_UINT, OFF(argon2_max_m_cost_kib),
	    0, 8, UINT32_MAX, "262144",
	    "largest m_cost_kib a request may ask" },
	{ { "argon2", "max_t_cost" }, CFG_UINT, OFF(argon2_max_t_cost), 0, 1,
	    1000000, "16", "largest t_cost a request may ask" },
	{ { "argon2", "max_parallelism" }, CFG_UINT,
	    OFF(argon2_max_parallelism), 0, 1, 1024, "8",
	    "largest parallelism a request may ask" },
	{ { "argon2", "memory_budget_kib" }, CFG_ULONG,
	    OFF(argon2_memory_budget_kib), 0, 8, 1LL << 40, "1048576",
	    "sum of m_cost over running argon2 jobs, KiB" },

	/* -7 is the contract's floor; 22 is ZSTD_maxCLevel(). */
	{ { "zstd", "level" }, CFG_INT, OFF(zstd_level), 0, -7, 22, "3",
	    "default level; 0 = the library default (3)" },
	{ { "zstd", "max_level" }, CFG_INT, OFF(zstd_max_level), 0, -7, 22,
	    "19", "highest level a request may ask" },
	{ { "zstd", "max_output_bytes" }, CFG_SIZE, OFF(zstd_max_output_bytes),
	    0, 1, 1LL << 40, "67108864", "largest decompressed output" },

	{ { "files", "read_roots" }, CFG_PATHS, OFF(read_roots),
	    OFF(read_root_fds), 0, 0, "",
	    "directories file methods may read; empty = none" },
	{ { "files", "write_roots" }, CFG_PATHS, OFF(write_roots),
	    OFF(write_root_fds), 0, 0, "",
	    "directories out_path may be in; empty = none" },
	{ { "files", "max_read_bytes" }, CFG_SIZE, OFF(max_read_bytes), 0, 1,
	    GIB, "16777216", "default and cap of file.read length" },

	{ { "access", "allow_uids" }, CFG_IDS, OFF(allow_uids),
	    OFF(n_allow_uids), 0, 0, "",
	    "peer uids allowed; empty lists = all" },
	{ { "access", "allow_gids" }, CFG_IDS, OFF(allow_gids),
	    OFF(n_allow_gids), 0, 0, "", "peer gids allowed" },
	{ { "access", "admin_uids" }, CFG_IDS, OFF(admin_uids),
	    OFF(n_admin_uids), 0, 0, "",
	    "peer uids allowed the admin.* methods, besides 0" },
	{ { "access", "admin_gids" }, CFG_IDS, OFF(admin_gids),
	    OFF(n_admin_gids), 0, 0, "",
	    "peer gids allowed the admin.* methods" },

	/*
	 * Which kinds may be isolated is isolate.c's check (iso_config_check).
	 * Decompression parses what clients send: isolated by default.
	 */
	{ { "isolation", "kinds" }, CFG_WORDS, OFF(isolation_kinds), 0, 0, 0,
	    "zstd.decompress", "job kinds run in sandboxed helper processes" },
	{ { "isolation", "helpers" }, CFG_UINT, OFF(isolation_helpers), 0, 0,
	    1024, "0", "helper processes; 0 = as many as cpu_workers" },
	{ { "isolation", "max_jobs" }, CFG_UINT, OFF(isolation_max_jobs), 0, 1,
	    100000000, "1000", "jobs a helper serves before it is replaced" },
};

#define NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const char *const config_sections[] = {
	"daemon",
	"pool",
	"argon2",
	"zstd",
	"files",
	"access",
	"isolation",
};

struct config_ctx {
	struct inifile ini;
	struct sbk_config *cfg;
	int seen[NKEYS]; /* line a key was set on */
};

/* ------------------------------------------------------------------ */
/* Values */

/*
 * One setter per value type: parse v into k's field, or false with why
 * set when v is not valid.
 */
typedef bool config_setter(struct sbk_config *, const struct config_key *,
    const char *v, char *why, size_t whylen);

static void *
config_field(struct sbk_config *cfg, size_t off)
{
	return (char *)cfg + off;
}

static bool
config_set_number(struct sbk_config *cfg, const struct config_key *k,
    const char *v, char *why, size_t whylen)
{
	void *field = config_field(cfg, k->off);
	long long n;

	if (!inifile_parse_number(
		v, k->type == CFG_SIZE, k->min, k->max, &n, why, whylen))
		return false;
	if (k->type == CFG_UINT)
		*(unsigned *)field = (unsigned)n;
	else if (k->type == CFG_ULONG)
		*(unsigned long *)field = (unsigned long)n;
	else if (k->type == CFG_SIZE)
		*(size_t *)field = (size_t)n;
	else
		*(int *)field = (int)n;
	return true;
}

static bool
config_set_bool(struct sbk_config *cfg, const struct config_key *k,
    const char *v, char *why, size_t whylen)
{
	if (!inifile_parse_bool(v, config_field(cfg, k->off)))
		return inifile_why(why, whylen,
		    *v == '\0' ? "empty value" :
				 "\"%s\" is not a boolean (true/false, yes/no, "
				 "on/off, 1/0)",
		    v);
	return true;
}

static bool
config_set_mode(struct sbk_config *cfg, const struct config_key *k,
    const char *v, char *why, size_t whylen)
{
	long long n;

	if (*v == '\0' || strspn(v, "01234567") != strlen(v))
		return inifile_why(why, whylen,
		    *v == '\0' ? "empty value" : "\"%s\" is not an octal mode",
		    v);
	n = strtoll(v, NULL, 8);
	if (strlen(v) > 8 || n > k->max)
		return inifile_why(why, whylen, "mode %s is above 07777", v);
	*(mode_t *)config_field(cfg, k->off) = (mode_t)n;
	return true;
}

/* The strings CFG_SOCKET and CFG_LISTEN (NULL when empty). */
static bool
config_set_string(struct sbk_config *cfg, const struct config_key *k,
    const char *v, char *why, size_t whylen)
{
	const size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path);
	char **field = config_field(cfg, k->off), *s = NULL;

	if (k->type == CFG_SOCKET && *v == '\0')
		return inifile_why(why, whylen, "empty value");
	if (k->type == CFG_SOCKET && strlen(v) >= sun_max)
		return inifile_why(why, whylen,
		    "longer than a socket path may be (%zu bytes)",
		    sun_max - 1);
	if (k->type == CFG_LISTEN && *v != '\0' &&
	    !config_check_listen(v, why, whylen))
		return false;
	if (*v != '\0' && (s = strdup(v)) == NULL)
		return inifile_why(why, whylen, "out of memory");
	free(*field);
	*field = s;
	return true;
}

static bool
config_set_paths(struct sbk_config *cfg, const struct config_key *k,
    const char *v, char *why, size_t whylen)
{
	char ***field = config_field(cfg, k->off), **list;
	int **fdsp = config_field(cfg, k->count_off), *fds;

	if (!config_parse_paths(v, &list, &fds, why, whylen))
		return false;
	config_close_fds(*field, *fdsp);
	config_free_strv(*field);
	*field = list;
	*fdsp = fds;
	return true;
}

/* uid_t and gid_t are both unsigned int on Linux. */
_Static_assert(
    sizeof(uid_t) == sizeof(unsigned) && sizeof(gid_t) == sizeof(unsigned),
    "uid_t size");

static bool
config_set_ids(struct sbk_config *cfg, const struct config_key *k,
    const char *v, char *why, size_t whylen)
{
	unsigned **field = config_field(cfg, k->off), *ids;
	size_t count;

	if (!config_parse_ids(v, &ids, &count, why, whylen))
		return false;
	free(*field);
	*field = ids;
	*(size_t *)config_field(cfg, k->count_off) = count;
	return true;
}

static bool
config_set_loglevel(struct sbk_config *cfg, const struct config_key *k,
    const char *v, char *why, size_t whylen)
{
	int level = log_level_parse(v);

	if (level < 0)
		return inifile_why(why, whylen,
		    *v == '\0' ? "empty value" :
				 "\"%s\" is not a log level (err, warning, "
				 "notice, info, debug)",
		    v);
	*(int *)config_field(cfg, k->off) = level;
	return true;
}

static bool
config_set_words(struct sbk_config *cfg, const struct config_key *k,
    const char *v, char *why, size_t whylen)
{
	char ***field = config_field(cfg, k->off), **list;

	if (!config_parse_words(v, &list, why, whylen))
		return false;
	config_free_strv(*field);
	*field = list;
	return true;
}

static config_setter *const config_setters[] = {
	[CFG_UINT] = config_set_number,
	[CFG_ULONG] = config_set_number,
	[CFG_SIZE] = config_set_number,
	[CFG_INT] = config_set_number,
	[CFG_BOOL] = config_set_bool,
	[CFG_MODE] = config_set_mode,
	[CFG_SOCKET] = config_set_string,
	[CFG_LISTEN] = config_set_string,
	[CFG_PATHS] = config_set_paths,
	[CFG_IDS] = config_set_ids,
	[CFG_LOGLEVEL] = config_set_loglevel,
	[CFG_WORDS] = config_set_words,
};

static bool
config_set(struct sbk_config *cfg, const struct config_key *k, const char *v,
    char *why, size_t whylen)
{
	return config_setters[k->type](cfg, k, v, why, whylen);
}

/* ------------------------------------------------------------------ */
/* Reading the file */

static bool
config_store(void *arg, int i, const char *value, char *why, size_t whylen)
{
	struct config_ctx *ctx = arg;

	return config_set(ctx->cfg, &config_keys[i], value, why, whylen);
}

/*
 * Checks between keys, made once the whole file is read.  The error names
 * `key` and points at the later of the two lines involved.
 */
static void config_cross(struct config_ctx *ctx, const char *section,
    const char *key, const char *other, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
config_cross(struct config_ctx *ctx, const char *section, const char *key,
    const char *other, bool ok, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	int a, b;

	if (ok || ctx->ini.failed)
		return;
	a = inifile_key_line(&ctx->ini, section, key);
	b = inifile_key_line(&ctx->ini, section, other);
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	inifile_error(
	    &ctx->ini, a > b ? a : b, "[%s] %s: %s", section, key, why);
}

static void
config_check(struct config_ctx *ctx)
{
	const struct sbk_config *c = ctx->cfg;
	int level = c->zstd_level == 0 ? 3 : c->zstd_level;

	config_cross(ctx, "argon2", "t_cost", "max_t_cost",
	    c->argon2_t_cost <= c->argon2_max_t_cost,
	    "%u is above max_t_cost (%u)", c->argon2_t_cost,
	    c->argon2_max_t_cost);
	config_cross(ctx, "argon2", "parallelism", "max_parallelism",
	    c->argon2_parallelism <= c->argon2_max_parallelism,
	    "%u is above max_parallelism (%u)", c->argon2_parallelism,
	    c->argon2_max_parallelism);
	config_cross(ctx, "argon2", "m_cost_kib", "max_m_cost_kib",
	    c->argon2_m_cost_kib <= c->argon2_max_m_cost_kib,
	    "%u is above max_m_cost_kib (%u)", c->argon2_m_cost_kib,
	    c->argon2_max_m_cost_kib);
	config_cross(ctx, "argon2", "m_cost_kib", "parallelism",
	    c->argon2_m_cost_kib >= 8ULL * c->argon2_parallelism,
	    "%u is below 8 x parallelism (%u)", c->argon2_m_cost_kib,
	    c->argon2_parallelism);
	config_cross(ctx, "argon2", "m_cost_kib", "memory_budget_kib",
	    c->argon2_m_cost_kib <= c->argon2_memory_budget_kib,
	    "%u is above memory_budget_kib (%lu), so it could never run",
	    c->argon2_m_cost_kib, c->argon2_memory_budget_kib);
	config_cross(ctx, "zstd", "level", "max_level",
	    level <= c->zstd_max_level, "%d is above max_level (%d)",
	    c->zstd_level, c->zstd_max_level);
}

int
config_init(struct sbk_config *cfg)
{
	char why[256];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		if (!config_set(cfg, &config_keys[i], config_keys[i].def, why,
			sizeof(why))) {
			/* Only memory can fail here; the table is tested. */
			config_free(cfg);
			return -ENOMEM;
		}
	}
	return 0;
}

int
config_load(
    struct sbk_config *cfg, const char *path, char *errbuf, size_t errlen)
{
	struct config_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.ini = (struct inifile){ .sections = config_sections,
		.n_sections =
		    sizeof(config_sections) / sizeof(config_sections[0]),
		.keys = config_keys,
		.n_keys = NKEYS,
		.key_size = sizeof(config_keys[0]),
		.set = config_store,
		.arg = &ctx,
		.seen = ctx.seen };
	if (inifile_read(&ctx.ini, path, errbuf, errlen) < 0)
		return -1;
	config_check(&ctx);
	return ctx.ini.failed ? -1 : 0;
}

void
config_finish(struct sbk_config *cfg)
{
	long n;

	if (cfg->cpu_workers == 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->cpu_workers = n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
	}
	if (cfg->isolation_helpers == 0)
		cfg->isolation_helpers = cfg->cpu_workers;
}

void
config_free(struct sbk_config *cfg)
{
	free(cfg->socket);
	free(cfg->metrics_listen);
	config_close_fds(cfg->read_roots, cfg->read_root_fds);
	config_close_fds(cfg->write_roots, cfg->write_root_fds);
	config_free_strv(cfg->read_roots);
	config_free_strv(cfg->write_roots);
	free(cfg->allow_uids);
	free(cfg->allow_gids);
	free(cfg->admin_uids);
	free(cfg->admin_gids);
	config_free_strv(cfg->isolation_kinds);
	memset(cfg, 0, sizeof(*cfg));
}

static bool
id_in(const unsigned *list, size_t n, unsigned id)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == id)
			return true;
	return false;
}

bool
config_is_admin(const struct sbk_config *cfg, uid_t uid, gid_t gid)
{
	return uid == 0 || id_in(cfg->admin_uids, cfg->n_admin_uids, uid) ||
	    id_in(cfg->admin_gids, cfg->n_admin_gids, gid);
}

const struct sbk_config *
config_hold(const struct sbk_config *cfg)
{
	((struct sbk_config *)cfg)->refs++;
	return cfg;
}

void
config_release(const struct sbk_config *cfg)
{
	struct sbk_config *c = (struct sbk_config *)cfg;

	if (c == NULL || --c->refs > 0)
		return;
	config_free(c);
	free(c);
}

struct sbk_config *
config_read(const char *path, const char *socket, char *errbuf, size_t errlen)
{
	struct sbk_config *cfg;

	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL || config_init(cfg) < 0) {
		snprintf(errbuf, errlen, "out of memory");
		free(cfg);
		return NULL;
	}
	if (path != NULL && config_load(cfg, path, errbuf, errlen) < 0)
		goto fail;
	if (socket != NULL) {
		free(cfg->socket);
		if ((cfg->socket = strdup(socket)) == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			goto fail;
		}
	}
	config_finish(cfg);
	cfg->refs = 1;
	return cfg;
fail:
	config_free(cfg);
	free(cfg);
	return NULL;
}
