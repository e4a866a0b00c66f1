/*
 * check_bridge.c - unit tests of sbk-gearman's pure parts: the
 * configuration (defaults, conf/sbk-gearman.conf uncommented equals the
 * defaults, every kind of bad value reported as FILE:LINE with the key),
 * the workload mapping (what reaches sbkd and what is refused, with which
 * error object) and the counters' Prometheus text.
 *
 * Single-threaded; runs under Check's fork mode.
 */
#include "sbk-config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "config.h"
#include "mapping.h"
#include "stats.h"

static char *
write_conf(const char *text)
{
	const char *t = getenv("TMPDIR");
	char *path;
	FILE *f;
	int fd;

	ck_assert_int_ge(
	    asprintf(&path, "%s/check_bridge.XXXXXX", t && *t ? t : "/tmp"), 0);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static struct bridge_config *
load(const char *text, char *err, size_t errlen)
{
	char *path = write_conf(text);
	struct bridge_config *c = bridge_config_read(path, NULL, err, errlen);

	unlink(path);
	free(path);
	return c;
}

static void
assert_defaults(const struct bridge_config *c)
{
	ck_assert_uint_eq(c->n_servers, 1);
	ck_assert_str_eq(c->servers[0].host, "127.0.0.1");
	ck_assert_uint_eq(c->servers[0].port, 4730);
	ck_assert_str_eq(c->function_prefix, "sbk.");
	ck_assert_uint_eq(c->n_functions, 4);
	ck_assert_str_eq(c->functions[0]->name, "argon2.hash");
	ck_assert_str_eq(c->functions[1]->name, "argon2.verify");
	ck_assert_str_eq(c->functions[2]->name, "zstd.compress");
	ck_assert_str_eq(c->functions[3]->name, "zstd.decompress");
	ck_assert(!c->allow_paths);
	ck_assert_uint_eq(c->max_workload_bytes, 4194304);
	ck_assert_ptr_null(c->identifier);
	ck_assert_str_eq(c->socket, SBK_DEFAULT_SOCKET);
	ck_assert_uint_eq(c->slots, 0);
	ck_assert_uint_eq(c->retry_min_ms, 10);
	ck_assert_uint_eq(c->retry_max_ms, 5000);
	ck_assert_uint_eq(c->reconnect_min_ms, 100);
	ck_assert_uint_eq(c->reconnect_max_ms, 5000);
	ck_assert_uint_eq(c->idle_check_ms, 1000);
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert(!c->log_jobs);
	ck_assert_ptr_null(c->stats_file);
	ck_assert_uint_eq(c->stats_interval_s, 0);
}

START_TEST(test_defaults)
{
	char err[512];
	struct bridge_config *c =
	    bridge_config_read(NULL, NULL, err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	assert_defaults(c);
	bridge_config_free(c);
}
END_TEST

/* The shipped example, every "#key = value" line uncommented, is exactly
 * the built-in defaults: the file documents what the code does. */
START_TEST(test_example_file)
{
	char path[PATH_MAX], err[512], *line = NULL, *text = NULL;
	size_t cap = 0, len = 0;
	struct bridge_config *c;
	FILE *in, *out;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/conf/sbk-gearman.conf",
	    getenv("SBK_SOURCE_ROOT"));
	in = fopen(path, "r");
	ck_assert_ptr_nonnull(in);
	out = open_memstream(&text, &len);
	while ((n = getline(&line, &cap, in)) > 0) {
		if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' &&
		    strstr(line, " = ") != NULL)
			fputs(line + 1, out);
		else
			fputs(line, out);
	}
	fclose(in);
	fclose(out);
	free(line);
	ck_assert_ptr_nonnull(strstr(text, "\nservers = "));
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	assert_defaults(c);
	bridge_config_free(c);
	free(text);
}
END_TEST

START_TEST(test_full_file)
{
	char err[512];
	struct bridge_config *c =
	    load("; comment\n"
		 "[gearman]\n"
		 "servers = gm1.example:4731, [::1]:4732 ,gm3 ; three\n"
		 "function_prefix = site1/\n"
		 "functions = ping,file.read , argon2.hash\n"
		 "allow_paths = yes\n"
		 "max_workload_bytes = 1M\n"
		 "identifier = host-a\n"
		 "[sbkd]\n"
		 "socket = /run/x.sock\n"
		 "slots = 7\n"
		 "retry_min_ms = 2\n"
		 "retry_max_ms = 20\n"
		 "[bridge]\n"
		 "reconnect_min_ms = 5\n"
		 "reconnect_max_ms = 50\n"
		 "idle_check_ms = 10\n"
		 "log_level = debug\n"
		 "log_jobs = on\n"
		 "stats_file = /run/sbk-gearman/stats.prom\n"
		 "stats_interval_s = 60\n",
		err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->n_servers, 3);
	ck_assert_str_eq(c->servers[0].host, "gm1.example");
	ck_assert_uint_eq(c->servers[0].port, 4731);
	ck_assert_str_eq(c->servers[1].host, "::1");
	ck_assert_uint_eq(c->servers[1].port, 4732);
	ck_assert_str_eq(c->servers[2].host, "gm3");
	ck_assert_uint_eq(c->servers[2].port, 4730);
	ck_assert_str_eq(c->function_prefix, "site1/");
	ck_assert_uint_eq(c->n_functions, 3);
	ck_assert_str_eq(c->functions[0]->name, "ping");
	ck_assert_str_eq(c->functions[1]->name, "file.read");
	ck_assert(c->allow_paths);
	ck_assert_uint_eq(c->max_workload_bytes, 1024 * 1024);
	ck_assert_str_eq(c->identifier, "host-a");
	ck_assert_str_eq(c->socket, "/run/x.sock");
	ck_assert_uint_eq(c->slots, 7);
	ck_assert_uint_eq(c->retry_min_ms, 2);
	ck_assert_uint_eq(c->retry_max_ms, 20);
	ck_assert_uint_eq(c->reconnect_min_ms, 5);
	ck_assert_uint_eq(c->idle_check_ms, 10);
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	ck_assert(c->log_jobs);
	ck_assert_str_eq(c->stats_file, "/run/sbk-gearman/stats.prom");
	ck_assert_uint_eq(c->stats_interval_s, 60);
	bridge_config_free(c);
}
END_TEST

/* Each bad file: the error must hold this text (line and key). */
static const struct {
	const char *text;
	const char *want;
} bad_files[] = {
	{ "[gearman]\nservers =\n", ":2: [gearman] servers: at least one" },
	{ "[gearman]\nservers = a:0\n",
	    ":2: [gearman] servers: \"a:0\": port" },
	{ "[gearman]\nservers = a:70000\n", "port out of range" },
	{ "[gearman]\nservers = a:x\n", "\"x\" is not a number" },
	{ "[gearman]\nservers = a,,b\n", "empty server" },
	{ "[gearman]\nservers = :4730\n", "empty host" },
	{ "[gearman]\nservers = ::1:4730\n", "IPv6 address as [ADDR]:PORT" },
	{ "[gearman]\nservers = [::1\n", "missing ']'" },
	{ "[gearman]\nfunctions = stats\n",
	    ":2: [gearman] functions: \"stats\" is not a method" },
	{ "[gearman]\nfunctions = admin.reload\n", "is not a method" },
	{ "[gearman]\nfunctions = ping, ping\n", "listed twice" },
	{ "[gearman]\nfunctions =\n", "at least one method" },
	{ "[gearman]\n\nfunctions = file.read\n",
	    ":3: [gearman] functions: file.read reads paths" },
	{ "[gearman]\nfunction_prefix = a b\n", "blank or control" },
	{ "[gearman]\nallow_paths = maybe\n", "is not true or false" },
	{ "[gearman]\nmax_workload_bytes = 1\n", "out of range" },
	{ "[sbkd]\nsocket = relative.sock\n", "not an absolute path" },
	{ "[sbkd]\nslots = -1\n",
	    ":2: [sbkd] slots: -1 is out of range 0..4096" },
	{ "[sbkd]\nslots = 5000\n", "out of range 0..4096" },
	{ "[sbkd]\nslots = 3x\n", "trailing garbage" },
	{ "[bridge]\nreconnect_min_ms = 10\nreconnect_max_ms = 5\n",
	    ":3: [bridge] reconnect_min_ms: 10 is above" },
	{ "[bridge]\nidle_check_ms = 1\n", "out of range" },
	{ "[sbkd]\nretry_max_ms = 50\nretry_min_ms = 60\n",
	    ":3: [sbkd] retry_min_ms: 60 is above retry_max_ms (50)" },
	{ "[bridge]\nlog_level = loud\n", "not a log level" },
	{ "[bridge]\nnope = 1\n", ":2: [bridge] nope: unknown key" },
	{ "[nope]\n", ":1: [nope]: unknown section" },
	{ "slots = 1\n", ":1: slots: key outside any [section]" },
	{ "[sbkd]\nslots = 1\nslots = 2\n",
	    ":3: [sbkd] slots: duplicate key (first set on line 2)" },
	{ "[sbkd]\njunk\n", ":2: not a \"[section]\"" },
};

START_TEST(test_bad_file)
{
	char err[512] = "";
	struct bridge_config *c = load(bad_files[_i].text, err, sizeof(err));

	ck_assert_msg(c == NULL, "accepted: %s", bad_files[_i].text);
	ck_assert_msg(strstr(err, bad_files[_i].want) != NULL,
	    "%s: error \"%s\" lacks \"%s\"", bad_files[_i].text, err,
	    bad_files[_i].want);
	ck_assert_msg(strstr(err, "check_bridge.") != NULL,
	    "error \"%s\" does not name the file", err);
}
END_TEST

/* A value longer than inih's line buffer still arrives whole. */
START_TEST(test_long_value)
{
	char text[4096], err[512];
	struct bridge_config *c;
	int n;

	n = snprintf(text, sizeof(text), "[gearman]\nservers = ");
	for (int i = 0; i < 60; i++)
		n += snprintf(text + n, sizeof(text) - n, "%shost%02d:%d",
		    i ? ", " : "", i, 4000 + i);
	snprintf(text + n, sizeof(text) - n, "\n");
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->n_servers, 60);
	ck_assert_str_eq(c->servers[59].host, "host59");
	ck_assert_uint_eq(c->servers[59].port, 4059);
	bridge_config_free(c);
}
END_TEST

START_TEST(test_missing_file)
{
	char err[512];

	ck_assert_ptr_null(bridge_config_read(
	    "/nonexistent/sbk-gearman.conf", NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/sbk-gearman.conf: "));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

/*
 * The bridge reads its file through sbkd's bounded reader (inifile.c): a
 * FIFO or a device is refused at once instead of blocking or being read
 * for ever.
 */
START_TEST(test_not_regular)
{
	char dir[] = "/tmp/check_bridge.XXXXXX", fifo[64], err[512];

	alarm(3); /* a FIFO or /dev/zero must not hang the test */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo.conf", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_ptr_null(bridge_config_read(fifo, NULL, err, sizeof(err)));
	ck_assert_msg(strncmp(err, fifo, strlen(fifo)) == 0 &&
		strstr(err, ": not a regular file (a FIFO)") != NULL,
	    "%s", err);
	unlink(fifo);
	rmdir(dir);
	ck_assert_ptr_null(
	    bridge_config_read("/dev/zero", NULL, err, sizeof(err)));
	ck_assert_str_eq(
	    err, "/dev/zero: not a regular file (a character device)");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Mapping */

static struct bridge_config *
mapping_config(bool allow_paths)
{
	char err[512];
	struct bridge_config *c = load(allow_paths ?
		"[gearman]\nallow_paths = true\nmax_workload_bytes = 64\n" :
		"[gearman]\nmax_workload_bytes = 64\n",
	    err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

/* Map text for method; return the params as compact JSON, or the error
 * object as "ERR " + compact JSON. */
static char *
map_text(const struct bridge_config *c, const char *method, const char *text,
    size_t len)
{
	const struct bridge_method *m = bridge_method_find(method);
	json_t *error, *params;
	char *s, *out;

	ck_assert_ptr_nonnull(m);
	params = map_workload(c, m, text, len, &error);
	if (params != NULL) {
		ck_assert_ptr_null(error);
		out = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(params);
		return out;
	}
	ck_assert_ptr_nonnull(error);
	s = json_dumps(error, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(error);
	ck_assert_int_ge(asprintf(&out, "ERR %s", s), 0);
	free(s);
	return out;
}

static const struct {
	bool allow_paths;
	const char *method;
	const char *workload;
	const char *want; /* params, or "ERR " + error object */
} map_cases[] = {
	{ false, "argon2.hash", "{\"password\":\"pw\"}",
	    "{\"password\":\"pw\"}" },
	{ false, "ping", "{}", "{}" },
	/* zstd asks for progress unless the client said */
	{ false, "zstd.compress", "{\"data_b64\":\"\"}",
	    "{\"data_b64\":\"\",\"progress\":true}" },
	{ false, "zstd.compress", "{\"data_b64\":\"\",\"progress\":false}",
	    "{\"data_b64\":\"\",\"progress\":false}" },
	/* refused before sbkd */
	{ false, "argon2.hash", "", "ERR {\"code\":-32700," },
	{ false, "argon2.hash", "not json", "ERR {\"code\":-32700," },
	{ false, "argon2.hash", "{\"a\":1} {}", "ERR {\"code\":-32700," },
	{ false, "argon2.hash", "{\"a\":1,\"a\":2}", "ERR {\"code\":-32700," },
	{ false, "argon2.hash", "[1,2]", "ERR {\"code\":-32602," },
	{ false, "argon2.hash", "\"pw\"", "ERR {\"code\":-32602," },
	{ false, "argon2.hash", "null", "ERR {\"code\":-32602," },
	{ false, "zstd.compress", "{\"path\":\"/etc/passwd\"}",
	    "ERR {\"code\":-32003,\"data\":{\"param\":\"path\"," },
	{ false, "zstd.decompress", "{\"data_b64\":\"\",\"out_path\":\"/x\"}",
	    "ERR {\"code\":-32003,\"data\":{\"param\":\"out_path\"," },
	{ true, "zstd.compress", "{\"path\":\"/a\",\"out_path\":\"/b\"}",
	    "{\"out_path\":\"/b\",\"path\":\"/a\",\"progress\":true}" },
	{ false, "argon2.hash",
	    "{\"password\":"
	    "\"01234567890123456789012345678901234567890123456789\"}",
	    "ERR {\"code\":-32600,\"data\":{\"limit\":64," },
};

START_TEST(test_map_workload)
{
	struct bridge_config *c = mapping_config(map_cases[_i].allow_paths);
	char *got = map_text(c, map_cases[_i].method, map_cases[_i].workload,
	    strlen(map_cases[_i].workload));

	ck_assert_msg(
	    strncmp(got, map_cases[_i].want, strlen(map_cases[_i].want)) == 0,
	    "%s %s: got %s, want %s...", map_cases[_i].method,
	    map_cases[_i].workload, got, map_cases[_i].want);
	/* Every refusal says the bridge made it. */
	if (strncmp(got, "ERR ", 4) == 0)
		ck_assert_ptr_nonnull(
		    strstr(got, "\"source\":\"sbk-gearman\""));
	free(got);
	bridge_config_free(c);
}
END_TEST

/* A NUL inside the workload is not JSON text. */
START_TEST(test_map_nul)
{
	struct bridge_config *c = mapping_config(false);
	char *got = map_text(c, "argon2.hash", "{\"password\":\"a\"}\0x", 18);

	ck_assert_msg(strncmp(got, "ERR {\"code\":-32700", 18) == 0, "%s", got);
	free(got);
	bridge_config_free(c);
}
END_TEST

START_TEST(test_map_progress)
{
	uint32_t num, den;

	map_progress(5, 10, &num, &den);
	ck_assert_uint_eq(num, 5);
	ck_assert_uint_eq(den, 10);
	map_progress(11, 10, &num, &den);
	ck_assert_uint_eq(num, 10);
	ck_assert_uint_eq(den, 10);
	map_progress(3ULL << 33, 1ULL << 35, &num, &den);
	ck_assert_uint_le(den, UINT32_MAX);
	ck_assert_uint_gt(den, 0);
	ck_assert_uint_eq((uint64_t)num * 4, (uint64_t)den * 3);
	map_progress(0, 0, &num, &den);
	ck_assert_uint_eq(num, 0);
	ck_assert_uint_eq(den, 0);
}
END_TEST

START_TEST(test_map_error)
{
	json_t *e = map_error_new(
	    -32602, "bad", json_pack("{s:s}", "param", "password"));
	char *s = map_dump(e, NULL);

	ck_assert_str_eq(s,
	    "{\"code\":-32602,\"message\":\"bad\",\"data\":{\"param\":"
	    "\"password\"}}");
	free(s);
	json_decref(e);
	e = map_error_new(-32603, "x", NULL);
	ck_assert_ptr_null(json_object_get(e, "data"));
	json_decref(e);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Counters */

START_TEST(test_stats_prometheus)
{
	static struct bridge_stats st;
	char *text;

	st.slots = 3;
	stats_job_start(&st);
	stats_job_start(&st);
	stats_job_end(&st);
	atomic_store(&st.completed, 1);
	text = stats_prometheus(&st, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "\nsbk_gearman_slots 3\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsbk_gearman_slots_busy 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsbk_gearman_slots_busy_max 2\n"));
	ck_assert_ptr_nonnull(
	    strstr(text, "\nsbk_gearman_jobs_taken_total 2\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "# TYPE sbk_gearman_jobs_completed_total counter\n"
	    "sbk_gearman_jobs_completed_total 1\n"));
	free(text);
}
END_TEST

static Suite *
bridge_suite(void)
{
	Suite *s = suite_create("bridge");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_example_file);
	tcase_add_test(tc, test_full_file);
	tcase_add_loop_test(
	    tc, test_bad_file, 0, sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_add_test(tc, test_long_value);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_not_regular);
	suite_add_tcase(s, tc);

	tc = tcase_create("mapping");
	tcase_add_loop_test(
	    tc, test_map_workload, 0, sizeof(map_cases) / sizeof(map_cases[0]));
	tcase_add_test(tc, test_map_nul);
	tcase_add_test(tc, test_map_progress);
	tcase_add_test(tc, test_map_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("stats");
	tcase_add_test(tc, test_stats_prometheus);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(bridge_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
