/*
 * check_jobs_daemon.c - the job kinds through a real sbkd (harness.h):
 * the argon2 memory budget seen from outside (VmRSS of the daemon while a
 * hundred expensive hashes run), path mode on a file bigger than
 * max_request_bytes, cancel and deadline of a long compression, SIGKILL of
 * the daemon in the middle of writing, and progress notifications.
 * Nothing may ever appear at out_path unless the job succeeded.
 *
 * Runs in Check's fork mode; each test starts its own daemon whose
 * temporary directory holds a "files" subdirectory, the read and write
 * root.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"
#include "sanitizer.h"

static struct hx_daemon d;
static char files[PATH_MAX];

/* Start sbkd with extra config text and files/ as the only root. */
static void
up(const char *extra)
{
	char dir[PATH_MAX + 16], *text;
	FILE *f;

	hx_daemon_init(&d, NULL);
	snprintf(dir, sizeof(dir), "%s/files", d.dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_ptr_nonnull(realpath(dir, files));
	ck_assert_int_ge(asprintf(&text,
			     "%s\n[files]\nread_roots = %s\n"
			     "write_roots = %s\n",
			     extra, files, files),
	    0);
	ck_assert_ptr_nonnull(f = fopen(d.conf, "w"));
	fputs(text, f);
	fclose(f);
	free(text);
	hx_daemon_start(&d);
}

static void
down(void)
{
	hx_daemon_free(&d);
}

static char *
fpath(const char *name)
{
	static char bufs[4][PATH_MAX + 64];
	static int n;
	char *b = bufs[n++ % 4];

	snprintf(b, PATH_MAX + 64, "%s/%s", files, name);
	return (b);
}

/* n bytes of random lower-case text: slow to compress at high levels. */
static void
make_text_file(const char *path, size_t n)
{
	char *buf = malloc(n);
	unsigned x = 42;
	size_t i;
	int fd;

	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		buf[i] = "abcdefghijklmnopqrstuvwxyz \n"[(x >> 16) % 28];
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	close(fd);
	free(buf);
}

static int
count_entries(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((e = readdir(dp)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(dp);
	return (n);
}

static bool
exists(const char *path)
{
	return (access(path, F_OK) == 0);
}

/*
 * KiB of RSS per KiB sbkd touches: under ThreadSanitizer every page comes
 * with some four pages of shadow memory.
 */
#if SBK_TEST_TSAN
#define RSS_PER_KIB 5
#else
#define RSS_PER_KIB 1
#endif

/*
 * Twice as many argon2 jobs as workers at the maximum cost, with room for
 * two at a time: the daemon's RSS never passes the budget plus a small
 * constant.  Eight unbudgeted jobs would take four budgets, past the bound.
 */
START_TEST(argon2_memory_budget)
{
	/*
	 * 16 jobs of 16 MiB under a 32 MiB budget, two passes each so that a
	 * hash holds its memory long enough for the sampling below; under
	 * valgrind and TSan, where each hash runs many times slower, 10 jobs
	 * of 8 MiB under 16 MiB.  (100 jobs of 64 MiB took 60-120 s on a
	 * loaded machine and checked nothing more.)
	 */
	const bool small = hx_under_valgrind() || RSS_PER_KIB > 1;
	const int jobs = small ? 10 : 16, t_cost = small ? 1 : 2;
	const long m = small ? 8192 : 16384, budget = 2 * m;
	struct hx_conn *c;
	json_t *r;
	long rss0, rss, peak = 0;
	char *line, conf[160];
	int i, got = 0;

	snprintf(conf, sizeof(conf),
	    "[pool]\ncpu_workers = 8\n[argon2]\nm_cost_kib = %ld\n"
	    "max_m_cost_kib = %ld\nmemory_budget_kib = %ld\n",
	    m, m, budget);
	up(conf);
	c = hx_connect(&d);
	json_decref(hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":0,"
	    "\"method\":\"ping\"}"));
	rss0 = hx_rss_kib(d.pid);
	for (i = 1; i <= jobs; i++)
		hx_sendf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
		    "\"argon2.hash\",\"params\":{\"password\":\"pw%d\","
		    "\"m_cost_kib\":%ld,\"t_cost\":%d}}",
		    i, i, m, t_cost);
	while (got < jobs) {
		rss = hx_rss_kib(d.pid);
		if (rss > peak)
			peak = rss;
		if ((line = hx_read_line_timeout(c, 20)) == NULL) {
			ck_assert_msg(!c->eof, "daemon closed the connection");
			continue;
		}
		ck_assert_ptr_nonnull(r = json_loads(line, 0, NULL));
		ck_assert_msg(json_object_get(r, "result") != NULL, "%s", line);
		json_decref(r);
		free(line);
		got++;
	}
	/* The jobs did run in parallel up to the budget... */
	ck_assert_msg(peak >= rss0 + m, "peak %ld rss0 %ld", peak, rss0);
	/* ...and never past it: the budget plus 32 MiB of slack. */
	ck_assert_msg(peak <= rss0 + RSS_PER_KIB * budget + 32768,
	    "peak %ld KiB, start %ld KiB, budget %ld KiB", peak, rss0, budget);
	hx_close(c);
	down();
}
END_TEST

/* Path mode streams: a file far beyond max_request_bytes goes through. */
START_TEST(zstd_path_big_file)
{
	struct hx_conn *c;
	json_t *r, *res;
	char cmd[PATH_MAX * 3];

	up("[daemon]\nmax_request_bytes = 65536\n");
	make_text_file(fpath("in"), 3 << 20);
	c = hx_connect(&d);
	r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"zstd.compress\",\"params\":{\"path\":\"%s\",\"out_path\":"
	    "\"%s\"}}",
	    fpath("in"), fpath("in.zst"));
	res = hx_expect_result(r, "1");
	ck_assert_int_eq(hx_int_at(res, "bytes_in"), 3 << 20);
	json_decref(r);
	snprintf(cmd, sizeof(cmd), "zstd -q -d -c '%s' | cmp -s - '%s'",
	    fpath("in.zst"), fpath("in"));
	ck_assert_int_eq(system(cmd), 0);
	r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"zstd.decompress\",\"params\":{\"path\":\"%s\",\"out_path\":"
	    "\"%s\"}}",
	    fpath("in.zst"), fpath("back"));
	res = hx_expect_result(r, "2");
	ck_assert_int_eq(hx_int_at(res, "bytes_out"), 3 << 20);
	json_decref(r);
	snprintf(
	    cmd, sizeof(cmd), "cmp -s '%s' '%s'", fpath("in"), fpath("back"));
	ck_assert_int_eq(system(cmd), 0);
	/* Again without overwrite: EEXIST, and the file is intact. */
	r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	    "\"zstd.decompress\",\"params\":{\"path\":\"%s\",\"out_path\":"
	    "\"%s\"}}",
	    fpath("in.zst"), fpath("back"));
	ck_assert_str_eq(json_string_value(hx_get_path(
			     hx_expect_error(r, "3", -32005), "data.errno")),
	    "EEXIST");
	json_decref(r);
	ck_assert_int_eq(system(cmd), 0);
	/* file.read answers beyond max_request_bytes too. */
	r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"file.read\","
	    "\"params\":{\"path\":\"%s\",\"offset\":1048576}}",
	    fpath("in"));
	res = hx_expect_result(r, "4");
	ck_assert_int_eq(hx_int_at(res, "bytes"), 2 << 20);
	ck_assert_int_eq(hx_int_at(res, "size"), 3 << 20);
	ck_assert(json_is_true(json_object_get(res, "eof")));
	json_decref(r);
	/* Outside the roots. */
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"file.read\","
	    "\"params\":{\"path\":\"/etc/passwd\"}}");
	hx_expect_error(r, "5", -32003);
	json_decref(r);
	hx_close(c);
	down();
}
END_TEST

/* Read replies until the one with this id; count progress lines. */
static json_t *
reply_for(struct hx_conn *c, const char *id, int *progress, long long total)
{
	json_t *r, *p;
	char *rid;
	long long last = -1;

	for (;;) {
		r = hx_read_json(c);
		if (json_object_get(r, "method") != NULL) {
			ck_assert_str_eq(
			    json_string_value(json_object_get(r, "method")),
			    "progress");
			p = json_object_get(r, "params");
			rid = hx_dump(json_object_get(p, "id"));
			ck_assert_str_eq(rid, id);
			free(rid);
			ck_assert_int_ge(hx_int_at(p, "done"), last);
			last = hx_int_at(p, "done");
			ck_assert_int_le(last, total);
			ck_assert_int_eq(hx_int_at(p, "total"), total);
			ck_assert_ptr_null(json_object_get(r, "id"));
			(*progress)++;
			json_decref(r);
			continue;
		}
		rid = hx_reply_id(r);
		if (strcmp(rid, id) == 0) {
			free(rid);
			return (r);
		}
		free(rid);
		json_decref(r);
	}
}

START_TEST(zstd_progress)
{
	struct hx_conn *c;
	json_t *r;
	int n = 0, none = 0;
	long long t0, ms;

	up("");
	make_text_file(fpath("in"), 16 << 20);
	c = hx_connect(&d);
	hx_sendf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":"
	    "\"zstd.compress\",\"params\":{\"path\":\"%s\",\"out_path\":"
	    "\"%s\",\"level\":9,\"progress\":true}}",
	    fpath("in"), fpath("out"));
	t0 = hx_now_ms();
	r = reply_for(c, "\"p\"", &n, 16 << 20);
	ms = hx_now_ms() - t0;
	hx_expect_result(r, "\"p\"");
	json_decref(r);
	/* Some 1.5 s of work (more under valgrind), at most every 100 ms. */
	ck_assert_int_ge(n, 2);
	ck_assert_msg(n <= ms / 100 + 2, "%d notifications in %lld ms", n, ms);
	/* Without progress: true, no notification at all. */
	hx_sendf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"zstd.compress\",\"params\":{\"path\":\"%s\",\"out_path\":"
	    "\"%s\",\"level\":9,\"overwrite\":true}}",
	    fpath("in"), fpath("out"));
	r = reply_for(c, "2", &none, 16 << 20);
	hx_expect_result(r, "2");
	json_decref(r);
	ck_assert_int_eq(none, 0);
	hx_close(c);
	down();
}
END_TEST

/* job.cancel and timeout_ms stop a long compression; no output. */
START_TEST(zstd_cancel_and_deadline)
{
	struct hx_conn *c, *s;
	json_t *r;
	int before, n = 0;
	long long t0;

	up("[pool]\ncpu_workers = 2\n");
	make_text_file(fpath("in"), 16 << 20);
	before = count_entries(files);
	c = hx_connect(&d);
	s = hx_connect(&d);
	hx_sendf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"zstd.compress\",\"params\":{\"path\":\"%s\",\"out_path\":"
	    "\"%s\",\"level\":19,\"progress\":true}}",
	    fpath("in"), fpath("out"));
	json_decref(hx_wait_stat(s, "workers.cpu.busy", 1));
	hx_send_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"job.cancel\",\"params\":{\"id\":1}}");
	r = reply_for(c, "1", &n, 16 << 20);
	hx_expect_error(r, "1", -32002);
	json_decref(r);
	r = reply_for(c, "2", &n, 16 << 20);
	ck_assert(json_is_true(
	    json_object_get(hx_expect_result(r, "2"), "cancelled")));
	json_decref(r);
	/* The worker lets go within a chunk (no timing asserted). */
	json_decref(hx_wait_stat(s, "workers.cpu.busy", 0));
	ck_assert(!exists(fpath("out")));
	ck_assert_int_eq(count_entries(files), before);

	t0 = hx_now_ms();
	hx_sendf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	    "\"zstd.compress\",\"params\":{\"path\":\"%s\",\"out_path\":"
	    "\"%s\",\"level\":19,\"timeout_ms\":300}}",
	    fpath("in"), fpath("out"));
	r = reply_for(c, "3", &n, 16 << 20);
	hx_expect_error(r, "3", -32001);
	json_decref(r);
	ck_assert_int_ge(hx_now_ms() - t0, 290);
	json_decref(hx_wait_stat(s, "workers.cpu.busy", 0));
	ck_assert(!exists(fpath("out")));
	ck_assert_int_eq(count_entries(files), before);

	/*
	 * A client that goes away stops its job too.  A close reads as end
	 * of input until a write fails (contract 1.1), so the job asks for
	 * progress: the next notification finds the peer gone.
	 */
	hx_sendf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":"
	    "\"zstd.compress\",\"params\":{\"path\":\"%s\",\"out_path\":"
	    "\"%s\",\"level\":19,\"progress\":true}}",
	    fpath("in"), fpath("out"));
	json_decref(hx_wait_stat(s, "workers.cpu.busy", 1));
	hx_close(c);
	json_decref(hx_wait_stat(s, "workers.cpu.busy", 0));
	ck_assert(!exists(fpath("out")));
	ck_assert_int_eq(count_entries(files), before);
	hx_close(s);
	down();
}
END_TEST

/* SIGKILL while the output is half written: nothing at out_path. */
START_TEST(zstd_sigkill)
{
	struct hx_conn *c;
	json_t *r;
	int before, seen = 0;

	up("");
	make_text_file(fpath("in"), 16 << 20);
	before = count_entries(files);
	c = hx_connect(&d);
	hx_sendf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"zstd.compress\",\"params\":{\"path\":\"%s\",\"out_path\":"
	    "\"%s\",\"level\":19,\"progress\":true}}",
	    fpath("in"), fpath("out"));
	/* Two progress notes: data has been written to the temporary. */
	while (seen < 2) {
		r = hx_read_json(c);
		ck_assert_ptr_nonnull(json_object_get(r, "method"));
		if (hx_int_at(json_object_get(r, "params"), "done") > 0)
			seen++;
		json_decref(r);
	}
	hx_daemon_kill(&d);
	ck_assert(!exists(fpath("out")));
	/* O_TMPFILE: not even a temporary name is left behind. */
	ck_assert_int_eq(count_entries(files), before);
	hx_close(c);
	down();
}
END_TEST

/* The kinds are wired up: argon2 round trip, empty roots. */
START_TEST(kinds_end_to_end)
{
	struct hx_conn *c;
	json_t *r;
	char *hash;

	hx_daemon_up(&d, "[argon2]\nt_cost = 1\nm_cost_kib = 1024\n");
	c = hx_connect(&d);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"argon2.hash\",\"params\":{\"password\":\"s3cret\"}}");
	hash = strdup(json_string_value(
	    json_object_get(hx_expect_result(r, "1"), "hash")));
	json_decref(r);
	ck_assert(strncmp(hash, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
	r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"argon2.verify\",\"params\":{\"password\":\"s3cret\","
	    "\"hash\":\"%s\"}}",
	    hash);
	ck_assert(
	    json_is_true(json_object_get(hx_expect_result(r, "2"), "valid")));
	json_decref(r);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	    "\"argon2.verify\",\"params\":{\"password\":\"x\","
	    "\"hash\":\"$argon2id$v=19$m=1024\"}}");
	hx_expect_param_error(r, "3", "hash");
	json_decref(r);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":"
	    "\"argon2.hash\",\"params\":{\"password\":\"x\","
	    "\"m_cost_kib\":2000000}}");
	hx_expect_param_error(r, "4", "m_cost_kib");
	json_decref(r);
	/* No roots configured: every path method answers -32003. */
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"file.read\","
	    "\"params\":{\"path\":\"/etc/hostname\"}}");
	hx_expect_error(r, "5", -32003);
	json_decref(r);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":"
	    "\"zstd.compress\",\"params\":{\"path\":\"/etc/hostname\","
	    "\"out_path\":\"/tmp/x.zst\"}}");
	hx_expect_error(r, "6", -32003);
	json_decref(r);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
	    "\"zstd.compress\",\"params\":{\"data_b64\":\"aGVsbG8=\"}}");
	ck_assert_int_eq(hx_int_at(hx_expect_result(r, "7"), "bytes_in"), 5);
	json_decref(r);
	free(hash);
	hx_close(c);
	hx_daemon_free(&d);
}
END_TEST

static Suite *
jobs_daemon_suite(void)
{
	Suite *s = suite_create("jobs_daemon");
	TCase *tc = tcase_create("kinds");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, kinds_end_to_end);
	tcase_add_test(tc, argon2_memory_budget);
	suite_add_tcase(s, tc);
	/* Its own case: meson's jobs_daemon_isolated runs it alone. */
	tc = tcase_create("zstd");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, zstd_path_big_file);
	tcase_add_test(tc, zstd_progress);
	tcase_add_test(tc, zstd_cancel_and_deadline);
	tcase_add_test(tc, zstd_sigkill);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return hx_run_suite(jobs_daemon_suite());
}
