/*
 * check_config.c - unit tests of daemon/config.c: the contract's defaults,
 * a full valid file, the contract's own example, conf/sbkd.conf as shipped
 * and uncommented, and every kind of bad input, each error asserted to
 * name FILE:LINE and the key.  Files are written with mkstemp under
 * $TMPDIR (or /tmp).
 *
 * Single-threaded; runs under Check's fork mode.
 */
#include "sbk-config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <check.h>

#include "config.h"

static char tmpbase[PATH_MAX];
static char dir_a[PATH_MAX + 8], dir_b[PATH_MAX + 8];

static const char *
tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && *t != '\0' ? t : "/tmp";
}

/* Two directories for the path-list keys, made canonical. */
static void
setup(void)
{
	char *r;

	snprintf(tmpbase, sizeof(tmpbase), "%s/check_config.XXXXXX", tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(tmpbase));
	r = realpath(tmpbase, NULL);
	ck_assert_ptr_nonnull(r);
	snprintf(tmpbase, sizeof(tmpbase), "%s", r);
	free(r);
	snprintf(dir_a, sizeof(dir_a), "%s/a", tmpbase);
	snprintf(dir_b, sizeof(dir_b), "%s/b", tmpbase);
	ck_assert_int_eq(mkdir(dir_a, 0700), 0);
	ck_assert_int_eq(mkdir(dir_b, 0700), 0);
}

static void
teardown(void)
{
	rmdir(dir_a);
	rmdir(dir_b);
	rmdir(tmpbase);
}

/* Write text (len bytes) to a new temporary file; returns its path. */
static char *
write_conf(const char *text, size_t len)
{
	char *path;
	int fd;

	ck_assert_int_ge(asprintf(&path, "%s/sbkd.XXXXXX", tmpbase), 0);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* Load text on top of the defaults.  Returns config_load's result. */
static int
load_text(struct sbk_config *cfg, const char *text, char *err, size_t errlen,
    char **pathp)
{
	char *path = write_conf(text, strlen(text));
	int r;

	ck_assert_int_eq(config_init(cfg), 0);
	r = config_load(cfg, path, err, errlen);
	unlink(path);
	if (pathp != NULL)
		*pathp = path;
	else
		free(path);
	return r;
}

static void
assert_defaults(const struct sbk_config *c, bool socket_too)
{
	if (socket_too)
		ck_assert_str_eq(c->socket, SBK_DEFAULT_SOCKET);
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_uint_eq(c->max_connections, 1024);
	ck_assert_uint_eq(c->max_request_bytes, 4194304);
	ck_assert_uint_eq(c->max_output_bytes_per_conn, 16777216);
	ck_assert_uint_eq(c->shutdown_timeout_s, 30);
	ck_assert(!c->enable_test_methods);
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert(!c->log_jobs);
	ck_assert_ptr_null(c->metrics_listen);
	ck_assert_uint_eq(c->cpu_workers, 0);
	ck_assert_uint_eq(c->io_workers, 16);
	ck_assert_uint_eq(c->queue_max, 4096);
	ck_assert_uint_eq(c->max_inflight_per_conn, 128);
	ck_assert_uint_eq(c->argon2_t_cost, 3);
	ck_assert_uint_eq(c->argon2_m_cost_kib, 65536);
	ck_assert_uint_eq(c->argon2_parallelism, 1);
	ck_assert_uint_eq(c->argon2_max_m_cost_kib, 262144);
	ck_assert_uint_eq(c->argon2_max_t_cost, 16);
	ck_assert_uint_eq(c->argon2_max_parallelism, 8);
	ck_assert_uint_eq(c->argon2_memory_budget_kib, 1048576);
	ck_assert_int_eq(c->zstd_level, 3);
	ck_assert_int_eq(c->zstd_max_level, 19);
	ck_assert_uint_eq(c->zstd_max_output_bytes, 67108864);
	ck_assert_ptr_nonnull(c->read_roots);
	ck_assert_ptr_null(c->read_roots[0]);
	ck_assert_ptr_nonnull(c->write_roots);
	ck_assert_ptr_null(c->write_roots[0]);
	ck_assert_uint_eq(c->max_read_bytes, 16777216);
	ck_assert_ptr_null(c->allow_uids);
	ck_assert_uint_eq(c->n_allow_uids, 0);
	ck_assert_ptr_null(c->allow_gids);
	ck_assert_uint_eq(c->n_allow_gids, 0);
	ck_assert_ptr_null(c->admin_uids);
	ck_assert_uint_eq(c->n_admin_uids, 0);
	ck_assert_ptr_null(c->admin_gids);
	ck_assert_uint_eq(c->n_admin_gids, 0);
}

START_TEST(test_defaults)
{
	struct sbk_config cfg;

	ck_assert_int_eq(config_init(&cfg), 0);
	assert_defaults(&cfg, true);
	config_finish(&cfg);
	ck_assert_uint_eq(
	    cfg.cpu_workers, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	config_free(&cfg);
	ck_assert_ptr_null(cfg.socket);
	/* Freeing twice is harmless: config_free leaves zeroes. */
	config_free(&cfg);
}
END_TEST

START_TEST(test_valid_full)
{
	struct sbk_config cfg;
	char err[512], *text;

	ck_assert_int_ge(asprintf(&text,
			     "; sbkd test configuration\n"
			     "# both comment styles\n"
			     "\n"
			     "[daemon]\n"
			     "socket = /tmp/x/sbkd.sock   ; inline comment\n"
			     "socket_mode = 600\n"
			     "  max_connections=7\n"
			     "max_request_bytes = 4M\n"
			     "max_output_bytes_per_conn = 8k\n"
			     "shutdown_timeout_s = 0\n"
			     "enable_test_methods = YES\n"
			     "log_jobs = on\n"
			     "metrics_listen = 127.0.0.1:9100\n"
			     "[pool]\r\n"
			     "cpu_workers = 3\r\n"
			     "\tio_workers = 2\r\n"
			     "queue_max = 0\n"
			     "max_inflight_per_conn = 65536\n"
			     "[argon2]\n"
			     "t_cost = 2\n"
			     "m_cost_kib = 64\n"
			     "parallelism = 8\n"
			     "max_m_cost_kib = 1024\n"
			     "max_t_cost = 2\n"
			     "max_parallelism = 8\n"
			     "memory_budget_kib = 64\n"
			     "[zstd]\n"
			     "level = -7\n"
			     "max_level = 22\n"
			     "max_output_bytes = 1G\n"
			     "[files]\n"
			     "read_roots = %s:%s/../b/\n"
			     "write_roots = %s\n"
			     "max_read_bytes = 1\n"
			     "[access]\n"
			     "allow_uids = 0, 1000 ,4294967294\n"
			     "allow_gids = 5\n"
			     "admin_uids = 1000, 65534\n"
			     "admin_gids = 7\n"
			     "[daemon]\n"
			     "log_level = err\n",
			     dir_a, dir_a, dir_b),
	    0);
	ck_assert_msg(
	    load_text(&cfg, text, err, sizeof(err), NULL) == 0, "%s", err);
	free(text);
	ck_assert_str_eq(cfg.socket, "/tmp/x/sbkd.sock");
	ck_assert_uint_eq(cfg.socket_mode, 0600);
	ck_assert_uint_eq(cfg.max_connections, 7);
	ck_assert_uint_eq(cfg.max_request_bytes, 4 << 20);
	ck_assert_uint_eq(cfg.max_output_bytes_per_conn, 8192);
	ck_assert_uint_eq(cfg.shutdown_timeout_s, 0);
	ck_assert(cfg.enable_test_methods);
	ck_assert_int_eq(cfg.log_level, LOG_ERR);
	ck_assert(cfg.log_jobs);
	ck_assert_str_eq(cfg.metrics_listen, "127.0.0.1:9100");
	ck_assert_uint_eq(cfg.cpu_workers, 3);
	ck_assert_uint_eq(cfg.io_workers, 2);
	ck_assert_uint_eq(cfg.queue_max, 0);
	ck_assert_uint_eq(cfg.max_inflight_per_conn, 65536);
	ck_assert_uint_eq(cfg.argon2_t_cost, 2);
	ck_assert_uint_eq(cfg.argon2_m_cost_kib, 64);
	ck_assert_uint_eq(cfg.argon2_parallelism, 8);
	ck_assert_uint_eq(cfg.argon2_max_m_cost_kib, 1024);
	ck_assert_uint_eq(cfg.argon2_memory_budget_kib, 64);
	ck_assert_int_eq(cfg.zstd_level, -7);
	ck_assert_int_eq(cfg.zstd_max_level, 22);
	ck_assert_uint_eq(cfg.zstd_max_output_bytes, 1 << 30);
	ck_assert_str_eq(cfg.read_roots[0], dir_a);
	ck_assert_str_eq(cfg.read_roots[1], dir_b);
	ck_assert_ptr_null(cfg.read_roots[2]);
	ck_assert_str_eq(cfg.write_roots[0], dir_b);
	ck_assert_ptr_null(cfg.write_roots[1]);
	ck_assert_uint_eq(cfg.max_read_bytes, 1);
	ck_assert_uint_eq(cfg.n_allow_uids, 3);
	ck_assert_uint_eq(cfg.allow_uids[0], 0);
	ck_assert_uint_eq(cfg.allow_uids[1], 1000);
	ck_assert_uint_eq(cfg.allow_uids[2], 4294967294u);
	ck_assert_uint_eq(cfg.n_allow_gids, 1);
	ck_assert_uint_eq(cfg.allow_gids[0], 5);
	ck_assert_uint_eq(cfg.n_admin_uids, 2);
	ck_assert_uint_eq(cfg.admin_uids[0], 1000);
	ck_assert_uint_eq(cfg.admin_uids[1], 65534);
	ck_assert_uint_eq(cfg.n_admin_gids, 1);
	ck_assert_uint_eq(cfg.admin_gids[0], 7);
	/* uid 0 is always an admin; the lists add to it. */
	ck_assert(config_is_admin(&cfg, 0, 12345));
	ck_assert(config_is_admin(&cfg, 65534, 12345));
	ck_assert(config_is_admin(&cfg, 12345, 7));
	ck_assert(!config_is_admin(&cfg, 12345, 5));
	ck_assert(!config_is_admin(&cfg, 1, 1));
	config_finish(&cfg);
	ck_assert_uint_eq(cfg.cpu_workers, 3);
	config_free(&cfg);
}
END_TEST

/* The example in the contract, comments and empty lists included. */
START_TEST(test_contract_example)
{
	static const char text[] =
	    "[daemon]\n"
	    "socket = /run/sbkd/sbkd.sock\n"
	    "socket_mode = 0660\n"
	    "max_connections = 1024\n"
	    "max_request_bytes = 4194304\n"
	    "max_output_bytes_per_conn = 16777216\n"
	    "shutdown_timeout_s = 30\n"
	    "enable_test_methods = false\n"
	    "[pool]\n"
	    "cpu_workers = 0          ; 0 = online CPUs\n"
	    "io_workers = 16\n"
	    "queue_max = 4096\n"
	    "max_inflight_per_conn = 128\n"
	    "[argon2]\n"
	    "t_cost = 3\n"
	    "m_cost_kib = 65536\n"
	    "parallelism = 1\n"
	    "max_m_cost_kib = 262144\n"
	    "max_t_cost = 16\n"
	    "max_parallelism = 8\n"
	    "memory_budget_kib = 1048576   ; sum of m_cost over running argon2 "
	    "jobs\n"
	    "[zstd]\n"
	    "level = 3\n"
	    "max_level = 19\n"
	    "max_output_bytes = 67108864\n"
	    "[files]\n"
	    "read_roots =             ; colon-separated; empty = file methods "
	    "answer -32003\n"
	    "write_roots =\n"
	    "max_read_bytes = 16777216\n"
	    "[access]\n"
	    "allow_uids =             ; comma-separated uids; empty = anyone "
	    "who can open the socket\n"
	    "allow_gids =             ; comma-separated gids (primary group of "
	    "the peer)\n";
	struct sbk_config cfg;
	char err[512];

	ck_assert_msg(
	    load_text(&cfg, text, err, sizeof(err), NULL) == 0, "%s", err);
	assert_defaults(&cfg, false);
	config_free(&cfg);
}
END_TEST

/* Values longer than inih's 200-byte line buffer still arrive whole. */
START_TEST(test_long_value)
{
	struct sbk_config cfg;
	char err[512], *text, *list = strdup(dir_a), *n;
	size_t count = 1;

	while (strlen(list) < 700) {
		ck_assert_int_ge(
		    asprintf(&n, "%s:%s", list, count % 2 ? dir_b : dir_a), 0);
		free(list);
		list = n;
		count++;
	}
	ck_assert_int_ge(asprintf(&text,
			     "[files]\nread_roots = %s   ; %0300d\n"
			     "; %0400d\n[access]\nallow_gids = 1\n",
			     list, 0, 0),
	    0);
	ck_assert_msg(
	    load_text(&cfg, text, err, sizeof(err), NULL) == 0, "%s", err);
	for (size_t i = 0; i < count; i++)
		ck_assert_str_eq(cfg.read_roots[i], i % 2 ? dir_b : dir_a);
	ck_assert_ptr_null(cfg.read_roots[count]);
	ck_assert_uint_eq(cfg.n_allow_gids, 1);
	config_free(&cfg);
	free(text);
	free(list);
}
END_TEST

/* A second file goes on top of the first; duplicates are per file. */
START_TEST(test_layered)
{
	struct sbk_config cfg;
	char err[256], *a, *b;

	a = write_conf("[pool]\nio_workers = 3\n", 22);
	b = write_conf("[pool]\nio_workers = 4\nqueue_max = 9\n", 36);
	ck_assert_int_eq(config_init(&cfg), 0);
	ck_assert_int_eq(config_load(&cfg, a, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.io_workers, 3);
	ck_assert_int_eq(config_load(&cfg, b, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.io_workers, 4);
	ck_assert_uint_eq(cfg.queue_max, 9);
	config_free(&cfg);
	unlink(a);
	unlink(b);
	free(a);
	free(b);
}
END_TEST

/* ------------------------------------------------------------------ */

static const struct bad_case {
	const char *text;
	int line;	  /* 0: "FILE: " without a line */
	const char *what; /* the rest of the message contains it */
} bad_cases[] = {
	/* Structure. */
	{ "[nope]\n", 1, "[nope]: unknown section" },
	{ "[Daemon]\n", 1, "[Daemon]: unknown section" },
	{ "[ daemon ]\n", 1, "[ daemon ]: unknown section" },
	{ "[daemon]\n[nope]\n", 2, "[nope]: unknown section" },
	{ "[daemon\n", 1, "missing ']'" },
	{ "[daemon] junk\n", 1, "[daemon]: text after the section header" },
	{ "max_connections = 5\n", 1,
	    "max_connections: key outside any "
	    "[section]" },
	{ "[daemon]\nbogus = 1\n", 2, "[daemon] bogus: unknown key" },
	{ "[daemon]\nio_workers = 1\n", 2, "[daemon] io_workers: unknown key" },
	{ "[daemon]\n= 1\n", 2, "[daemon] : unknown key" },
	{ "[daemon]\nmax_connections = 5\n\nmax_connections = 6\n", 4,
	    "[daemon] max_connections: duplicate key (first set on line 2)" },
	{ "[daemon]\nmax_connections = 5\n[pool]\n[daemon]\n"
	  "max_connections = 5\n",
	    5, "[daemon] max_connections: duplicate" },
	{ "[daemon]\nthis is not ini\n", 2,
	    "not a \"[section]\" or "
	    "\"key = value\" line" },
	{ "[daemon]\nmax_connections = 5\n    6\n", 3, "not a \"[section]\"" },
	{ "[daemon]\nsocket_mode\n", 2, "not a \"[section]\"" },
	{ "[daemon]\n\nlog_jobs = true\nx\n", 4, "not a \"[section]\"" },

	/* Numbers. */
	{ "[pool]\nio_workers = abc\n", 2,
	    "[pool] io_workers: \"abc\" is not "
	    "a number" },
	{ "[pool]\nio_workers = 12abc\n", 2,
	    "[pool] io_workers: trailing "
	    "garbage \"abc\"" },
	{ "[pool]\nio_workers =\n", 2, "[pool] io_workers: empty value" },
	{ "[pool]\nio_workers =    ; nothing\n", 2,
	    "[pool] io_workers: empty "
	    "value" },
	{ "[pool]\nio_workers = 0\n", 2,
	    "[pool] io_workers: 0 is out of "
	    "range 1..1024" },
	{ "[pool]\nio_workers = 1025\n", 2,
	    "[pool] io_workers: 1025 is out of "
	    "range" },
	{ "[pool]\nio_workers = -1\n", 2,
	    "[pool] io_workers: -1 is out of "
	    "range" },
	{ "[pool]\nio_workers = 99999999999999999999999\n", 2,
	    "[pool] io_workers: 99999999999999999999999 is out of range" },
	{ "[pool]\nio_workers = +5\n", 2,
	    "[pool] io_workers: \"+5\" is not a "
	    "number" },
	{ "[pool]\nio_workers = 5K\n", 2,
	    "[pool] io_workers: trailing garbage "
	    "\"K\"" },
	{ "[pool]\nqueue_max = 1.5\n", 2,
	    "[pool] queue_max: trailing garbage" },
	{ "[pool]\nqueue_max = 0x10\n", 2,
	    "[pool] queue_max: trailing garbage "
	    "\"x10\"" },
	{ "[pool]\nqueue_max = 10000001\n", 2,
	    "[pool] queue_max: 10000001 is "
	    "out of range" },
	{ "[pool]\ncpu_workers = 1025\n", 2,
	    "[pool] cpu_workers: 1025 is out "
	    "of range" },
	{ "[pool]\nmax_inflight_per_conn = 0\n", 2,
	    "[pool] "
	    "max_inflight_per_conn: 0 is out of range" },
	{ "[daemon]\nmax_connections = 0\n", 2,
	    "[daemon] max_connections: 0 "
	    "is out of range" },
	{ "[daemon]\nmax_request_bytes = 63\n", 2,
	    "[daemon] max_request_bytes: "
	    "63 is out of range 64..1073741824" },
	{ "[daemon]\nmax_request_bytes = 2G\n", 2,
	    "[daemon] max_request_bytes: "
	    "2147483648 is out of range" },
	{ "[daemon]\nmax_request_bytes = 4X\n", 2,
	    "[daemon] max_request_bytes: "
	    "trailing garbage \"X\"" },
	{ "[daemon]\nmax_request_bytes = 4KB\n", 2,
	    "[daemon] "
	    "max_request_bytes: trailing garbage \"KB\"" },
	{ "[daemon]\nmax_request_bytes = 9999999999999999G\n", 2,
	    "[daemon] max_request_bytes: 9999999999999999G is out of range" },
	{ "[daemon]\nmax_output_bytes_per_conn = 4095\n", 2,
	    "[daemon] "
	    "max_output_bytes_per_conn: 4095 is out of range" },
	{ "[daemon]\nshutdown_timeout_s = 3601\n", 2,
	    "[daemon] "
	    "shutdown_timeout_s: 3601 is out of range" },
	{ "[zstd]\nlevel = 23\n", 2,
	    "[zstd] level: 23 is out of range -7..22" },
	{ "[zstd]\nlevel = -8\n", 2, "[zstd] level: -8 is out of range" },
	{ "[zstd]\nmax_output_bytes = 0\n", 2,
	    "[zstd] max_output_bytes: 0 is "
	    "out of range" },
	{ "[files]\nmax_read_bytes = 2G\n", 2,
	    "[files] max_read_bytes: "
	    "2147483648 is out of range" },
	{ "[argon2]\nm_cost_kib = 7\n", 2,
	    "[argon2] m_cost_kib: 7 is out of "
	    "range" },
	{ "[argon2]\nt_cost = 0\n", 2, "[argon2] t_cost: 0 is out of range" },
	{ "[argon2]\nmemory_budget_kib = -5\n", 2,
	    "[argon2] memory_budget_kib:"
	    " -5 is out of range" },

	/* Other types. */
	{ "[daemon]\nsocket_mode = 0888\n", 2,
	    "[daemon] socket_mode: \"0888\" "
	    "is not an octal mode" },
	{ "[daemon]\nsocket_mode = 010000\n", 2,
	    "[daemon] socket_mode: mode "
	    "010000 is above 07777" },
	{ "[daemon]\nsocket_mode = -660\n", 2,
	    "[daemon] socket_mode: \"-660\" "
	    "is not an octal mode" },
	{ "[daemon]\nsocket_mode =\n", 2, "[daemon] socket_mode: empty value" },
	{ "[daemon]\nenable_test_methods = maybe\n", 2,
	    "[daemon] "
	    "enable_test_methods: \"maybe\" is not a boolean" },
	{ "[daemon]\nenable_test_methods =\n", 2,
	    "[daemon] "
	    "enable_test_methods: empty value" },
	{ "[daemon]\nlog_jobs = 2\n", 2,
	    "[daemon] log_jobs: \"2\" is not a "
	    "boolean" },
	{ "[daemon]\nlog_level = loud\n", 2,
	    "[daemon] log_level: \"loud\" is "
	    "not a log level" },
	{ "[daemon]\nlog_level =\n", 2, "[daemon] log_level: empty value" },
	{ "[daemon]\nsocket =\n", 2, "[daemon] socket: empty value" },
	{ "[daemon]\nsocket = /0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "456789\n",
	    2, "[daemon] socket: longer than a socket path may be" },
	{ "[daemon]\nmetrics_listen = nowhere\n", 2,
	    "[daemon] metrics_listen: "
	    "\"nowhere\" is not ADDR:PORT" },
	{ "[daemon]\nmetrics_listen = 127.0.0.1:99999\n", 2,
	    "[daemon] "
	    "metrics_listen: \"127.0.0.1:99999\" has no valid port" },
	{ "[daemon]\nmetrics_listen = :80\n", 2,
	    "[daemon] metrics_listen: "
	    "\":80\" is not ADDR:PORT" },
	{ "[daemon]\nmetrics_listen = h:0\n", 2,
	    "[daemon] metrics_listen: "
	    "\"h:0\" has no valid port" },
	/* Issue 19 item 7: these passed -t and then failed at start. */
	{ "[daemon]\nmetrics_listen = [::1:9464\n", 2,
	    "[daemon] metrics_listen: \"[::1:9464\": no ']' before the "
	    "port" },
	{ "[daemon]\nmetrics_listen = 999.1.1.1:9464\n", 2,
	    "[daemon] metrics_listen: \"999.1.1.1\" is not an IPv4 "
	    "address" },
	{ "[daemon]\nmetrics_listen = [::g]:9464\n", 2,
	    "[daemon] metrics_listen: \"::g\" is not an IPv6 address" },
	{ "[daemon]\nmetrics_listen = ::1:9464\n", 2,
	    "[daemon] metrics_listen: write an IPv6 address in brackets" },
	{ "[daemon]\nmetrics_listen = host_name:9464\n", 2,
	    "[daemon] metrics_listen: \"host_name\" is not a host name" },
	{ "[daemon]\nmetrics_listen = []:9464\n", 2,
	    "[daemon] metrics_listen: \"\" is not an IPv6 address" },
	{ "[files]\nread_roots = relative/dir\n", 2,
	    "[files] read_roots: "
	    "\"relative/dir\" is not an absolute path" },
	{ "[files]\nread_roots = /nonexistent-sbk-config-test\n", 2,
	    "[files] read_roots: /nonexistent-sbk-config-test: No such file or "
	    "directory" },
	{ "[files]\nwrite_roots = /dev/null\n", 2,
	    "[files] write_roots: "
	    "/dev/null: not a directory" },
	{ "[files]\nread_roots = /::/\n", 2,
	    "[files] read_roots: empty "
	    "directory in the list" },
	{ "[files]\nread_roots = /:\n", 2,
	    "[files] read_roots: empty directory" },
	{ "[files]\nread_roots = :/\n", 2,
	    "[files] read_roots: empty directory" },
	{ "[access]\nallow_uids = 1,,2\n", 2,
	    "[access] allow_uids: empty id "
	    "in the list" },
	{ "[access]\nallow_uids = 1,\n", 2, "[access] allow_uids: empty id" },
	{ "[access]\nallow_uids = , 1\n", 2, "[access] allow_uids: empty id" },
	{ "[access]\nallow_uids = 1, x\n", 2,
	    "[access] allow_uids: \"x\" is "
	    "not an id" },
	{ "[access]\nallow_uids = 1 2\n", 2,
	    "[access] allow_uids: trailing "
	    "garbage \"2\"" },
	{ "[access]\nallow_gids = -1\n", 2,
	    "[access] allow_gids: \"-1\" is "
	    "not an id" },
	{ "[access]\nallow_gids = 4294967295\n", 2,
	    "[access] allow_gids: id "
	    "out of range" },
	{ "[access]\nallow_gids = 99999999999999999999999\n", 2,
	    "[access] allow_gids: id out of range" },

	/* Between keys, checked after the whole file. */
	{ "[argon2]\nmax_m_cost_kib = 1024\n", 2,
	    "[argon2] m_cost_kib: 65536 "
	    "is above max_m_cost_kib (1024)" },
	{ "[argon2]\nm_cost_kib = 1024\n\nmax_m_cost_kib = 512\n", 4,
	    "[argon2] m_cost_kib: 1024 is above max_m_cost_kib (512)" },
	{ "[argon2]\nt_cost = 17\n", 2,
	    "[argon2] t_cost: 17 is above "
	    "max_t_cost (16)" },
	{ "[argon2]\nmax_t_cost = 2\n", 2,
	    "[argon2] t_cost: 3 is above "
	    "max_t_cost (2)" },
	{ "[argon2]\nparallelism = 9\n", 2,
	    "[argon2] parallelism: 9 is above "
	    "max_parallelism (8)" },
	{ "[argon2]\nparallelism = 8\nm_cost_kib = 32\n", 3,
	    "[argon2] "
	    "m_cost_kib: 32 is below 8 x parallelism (8)" },
	{ "[argon2]\nmemory_budget_kib = 1024\n", 2,
	    "[argon2] m_cost_kib: "
	    "65536 is above memory_budget_kib (1024)" },
	{ "[zstd]\nmax_level = 2\n", 2,
	    "[zstd] level: 3 is above max_level "
	    "(2)" },
	{ "[zstd]\nlevel = 0\nmax_level = 2\n", 3,
	    "[zstd] level: 0 is above "
	    "max_level (2)" },
};

START_TEST(test_bad)
{
	const struct bad_case *c = &bad_cases[_i];
	struct sbk_config cfg;
	char err[512], *path, *want;

	ck_assert_msg(load_text(&cfg, c->text, err, sizeof(err), &path) < 0,
	    "case %d accepted: %s", _i, c->text);
	if (c->line > 0)
		ck_assert_int_ge(asprintf(&want, "%s:%d: ", path, c->line), 0);
	else
		ck_assert_int_ge(asprintf(&want, "%s: ", path), 0);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	    "case %d: \"%s\" does not start with \"%s\"", _i, err, want);
	ck_assert_msg(strstr(err + strlen(want), c->what) != NULL,
	    "case %d: \"%s\" lacks \"%s\"", _i, err, c->what);
	free(want);
	free(path);
	config_free(&cfg);
}
END_TEST

START_TEST(test_bad_bytes)
{
	struct sbk_config cfg;
	char err[512], *path, *want, key[300];
	static const char nul[] = "[daemon]\nlog_jobs = t\0rue\n";

	/* A NUL byte inside a line. */
	path = write_conf(nul, sizeof(nul) - 1);
	ck_assert_int_eq(config_init(&cfg), 0);
	ck_assert_int_lt(config_load(&cfg, path, err, sizeof(err)), 0);
	ck_assert_int_ge(
	    asprintf(&want, "%s:2: NUL byte in the line", path), 0);
	ck_assert_str_eq(err, want);
	unlink(path);
	free(path);
	free(want);
	config_free(&cfg);

	/* A name longer than inih can hold. */
	memset(key, 'k', sizeof(key));
	memcpy(key + sizeof(key) - 5, " = 1", 5);
	ck_assert_int_ge(asprintf(&want, "[daemon]\n%s\n", key), 0);
	ck_assert_int_lt(load_text(&cfg, want, err, sizeof(err), &path), 0);
	free(want);
	ck_assert_int_ge(asprintf(&want, "%s:2: line too long", path), 0);
	ck_assert_str_eq(err, want);
	free(want);
	free(path);
	config_free(&cfg);

	/* A small error buffer is cut, never overrun. */
	ck_assert_int_lt(load_text(&cfg, "[nope]\n", err, 8, &path), 0);
	ck_assert_uint_eq(strlen(err), 7);
	free(path);
	config_free(&cfg);
}
END_TEST

START_TEST(test_unreadable)
{
	struct sbk_config cfg;
	char err[512], *want, *path;

	ck_assert_int_ge(asprintf(&path, "%s/does-not-exist.conf", tmpbase), 0);
	ck_assert_int_eq(config_init(&cfg), 0);
	ck_assert_int_lt(config_load(&cfg, path, err, sizeof(err)), 0);
	ck_assert_int_ge(asprintf(&want, "%s: %s", path, strerror(ENOENT)), 0);
	ck_assert_str_eq(err, want);
	free(want);
	free(path);

	/* A directory opens but cannot be read. */
	ck_assert_int_lt(config_load(&cfg, dir_a, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, strerror(EISDIR)));
	ck_assert(strncmp(err, dir_a, strlen(dir_a)) == 0);
	config_free(&cfg);
}
END_TEST

/* Issue 19 item 7: what metrics.c can bind passes. */
START_TEST(test_listen_good)
{
	static const char *const good[] = {
		"127.0.0.1:9464",
		"0.0.0.0:1",
		"[::1]:9464",
		"[::]:65535",
		"localhost:9464",
		"metrics.example-host.net:80",
	};
	struct sbk_config cfg;
	char err[512], *text;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_ge(
		    asprintf(&text, "[daemon]\nmetrics_listen = %s\n", good[i]),
		    0);
		ck_assert_msg(
		    load_text(&cfg, text, err, sizeof(err), NULL) == 0,
		    "%s: %s", good[i], err);
		ck_assert_str_eq(cfg.metrics_listen, good[i]);
		config_free(&cfg);
		free(text);
	}
}
END_TEST

/*
 * Issue 19 items 3 and 4: a config file is a regular file of at most
 * INIFILE_MAX_BYTES.  A FIFO is refused at once (it blocked until a
 * writer came), a device too (/dev/zero read for ever), and so is a file
 * over the limit; a symlink to a regular file is fine.
 */
START_TEST(test_not_regular_or_too_big)
{
	struct sbk_config cfg;
	char err[512], *fifo, *big, *link, *path;
	FILE *f;

	alarm(3); /* a FIFO or /dev/zero must not hang the test */
	ck_assert_int_eq(config_init(&cfg), 0);
	ck_assert_int_ge(asprintf(&fifo, "%s/fifo.conf", tmpbase), 0);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_lt(config_load(&cfg, fifo, err, sizeof(err)), 0);
	ck_assert_msg(
	    strstr(err, "not a regular file (a FIFO)") != NULL, "%s", err);
	ck_assert(strncmp(err, fifo, strlen(fifo)) == 0);
	unlink(fifo);

	ck_assert_int_lt(config_load(&cfg, "/dev/zero", err, sizeof(err)), 0);
	ck_assert_msg(strstr(err,
			  "/dev/zero: not a regular file (a "
			  "character device)") != NULL,
	    "%s", err);

	/* Exactly the limit is fine, one byte more is not. */
	ck_assert_int_ge(asprintf(&big, "%s/big.conf", tmpbase), 0);
	f = fopen(big, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[pool]\nio_workers = 5\n", f);
	/* Comment lines of 4 KiB (cheap to parse under ASan), the last
	 * one cut to fit. */
	for (long n = 22, k; n < INIFILE_MAX_BYTES; n += k + 2) {
		k = INIFILE_MAX_BYTES - n < 4096 ? INIFILE_MAX_BYTES - n - 2 :
						   4094;
		fprintf(f, "#%0*d\n", (int)k, 0);
	}
	ck_assert_int_eq(fclose(f), 0);
	{
		struct stat st;

		ck_assert_int_eq(stat(big, &st), 0);
		ck_assert_int_eq(st.st_size, INIFILE_MAX_BYTES);
	}
	ck_assert_msg(config_load(&cfg, big, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(cfg.io_workers, 5);
	config_free(&cfg);
	ck_assert_int_eq(config_init(&cfg), 0);
	f = fopen(big, "a");
	fputc('\n', f);
	fclose(f);
	ck_assert_int_lt(config_load(&cfg, big, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "larger than") != NULL, "%s", err);

	/* A symlink to a regular file is what operators do. */
	path = write_conf("[pool]\nio_workers = 6\n", 22);
	ck_assert_int_ge(asprintf(&link, "%s/link.conf", tmpbase), 0);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_msg(
	    config_load(&cfg, link, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(cfg.io_workers, 6);
	config_free(&cfg);
	unlink(link);
	unlink(path);
	unlink(big);
	free(link);
	free(path);
	free(big);
	free(fifo);
	alarm(0);
}
END_TEST

/* ------------------------------------------------------------------ */

static char *
read_shipped_conf(void)
{
	const char *root = getenv("SBK_SOURCE_ROOT");
	char *path, *text;
	FILE *fp;
	long n;

	ck_assert_msg(root != NULL, "SBK_SOURCE_ROOT is not set");
	ck_assert_int_ge(asprintf(&path, "%s/conf/sbkd.conf", root), 0);
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	text = calloc(1, n + 1);
	ck_assert_int_eq(fread(text, 1, n, fp), (size_t)n);
	fclose(fp);
	free(path);
	return text;
}

/* As shipped the example is all comments: the defaults. */
START_TEST(test_shipped_conf)
{
	struct sbk_config cfg;
	char err[512], *text = read_shipped_conf();

	ck_assert_msg(
	    load_text(&cfg, text, err, sizeof(err), NULL) == 0, "%s", err);
	assert_defaults(&cfg, true);
	config_free(&cfg);
	free(text);
}
END_TEST

/*
 * Uncommented, each "#key = value" line sets its key once to the value
 * it documents, which must be the default; and every key is there.
 */
START_TEST(test_shipped_conf_uncommented)
{
	static const char *const keys[] = {
		"socket",
		"socket_mode",
		"max_connections",
		"max_request_bytes",
		"max_output_bytes_per_conn",
		"output_budget_bytes",
		"shutdown_timeout_s",
		"enable_test_methods",
		"log_level",
		"log_jobs",
		"metrics_listen",
		"cpu_workers",
		"io_workers",
		"queue_max",
		"max_inflight_per_conn",
		"t_cost",
		"m_cost_kib",
		"parallelism",
		"max_m_cost_kib",
		"max_t_cost",
		"max_parallelism",
		"memory_budget_kib",
		"level",
		"max_level",
		"max_output_bytes",
		"read_roots",
		"write_roots",
		"max_read_bytes",
		"allow_uids",
		"allow_gids",
	};
	struct sbk_config cfg;
	char err[512], *text = read_shipped_conf(), *p, *q;
	size_t found = 0;

	/* "#name = value" at the start of a line: drop the '#'. */
	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (p[0] != '#' || p[1] < 'a' || p[1] > 'z')
			continue;
		q = p + 1 +
		    strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_0123456789");
		if (strncmp(q, " =", 2) != 0)
			continue;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if ((size_t)(q - p - 1) == strlen(keys[i]) &&
			    strncmp(p + 1, keys[i], q - p - 1) == 0)
				found++;
		*p = ' ';
	}
	ck_assert_uint_eq(found, sizeof(keys) / sizeof(keys[0]));
	ck_assert_msg(
	    load_text(&cfg, text, err, sizeof(err), NULL) == 0, "%s", err);
	assert_defaults(&cfg, false);
	config_free(&cfg);
	free(text);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_valid_full);
	tcase_add_test(tc, test_contract_example);
	tcase_add_test(tc, test_long_value);
	tcase_add_test(tc, test_layered);
	tcase_add_loop_test(
	    tc, test_bad, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_bad_bytes);
	tcase_add_test(tc, test_unreadable);
	tcase_add_test(tc, test_listen_good);
	tcase_add_test(tc, test_not_regular_or_too_big);
	tcase_add_test(tc, test_shipped_conf);
	tcase_add_test(tc, test_shipped_conf_uncommented);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
