/*
 * check_isolate.c - a real sbkd running jobs in isolated helper processes
 * (daemon/isolate.c, helper.c) through the test methods test.crash,
 * test.forbidden_call, test.hang and test.helper_pid.
 *
 * What it proves: a helper that dies fails only its own job, with -32005
 * and data.signal, while argon2 and other clients' jobs go on; the helper
 * is replaced and counted (stats and /metrics text); cancel and deadline
 * kill a hung helper; max_jobs reuses then replaces; a reload retires the
 * old helpers; shutdown leaves no helper behind; bad [isolation] keys stop
 * sbkd -t with exit 2; and 1,000 crashes leak no descriptor, thread, child
 * or memory.
 *
 * Cost: the "isolate" case runs in about 5 s; "soak" (1,000 crashes) about
 * 20 s on a shared two-core machine (fewer crashes under valgrind and the
 * sanitizers, see the test).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "prometheus.h"
#include "sanitizer.h"

static struct hx_daemon d;

/* Helpers a test watches by pidfd; teardown kills what is left of them. */
#define MAX_WATCH 8
static int watched[MAX_WATCH];
static int n_watched;

static void
teardown(void)
{
	hx_daemon_free(&d);
	for (int i = 0; i < n_watched; i++) {
		pidfd_send_signal(watched[i], SIGKILL, NULL, 0);
		close(watched[i]);
	}
	n_watched = 0;
}

#define CONF_TEST "[daemon]\nenable_test_methods = true\n"

/* ---- processes ---- */

#define MAX_KIDS 64

/* sbkd's children (every thread's), from /proc; their count. */
static int
children(pid_t pid, long *out, int max)
{
	char path[64];
	DIR *dir;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	dir = opendir(path);
	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) != NULL) {
		char cpath[320];
		FILE *f;
		long k;

		if (e->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%ld/task/%s/children",
		    (long)pid, e->d_name);
		if ((f = fopen(cpath, "r")) == NULL)
			continue;
		while (fscanf(f, "%ld", &k) == 1)
			if (n < max)
				out[n++] = k;
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* The state letter of a process ('Z': zombie), or 0 when it is gone. */
static char
proc_state(long pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* The nice value of a process (field 19 of /proc/PID/stat). */
static long
proc_nice(long pid)
{
	char path[64], buf[1024], *p;
	long nice = -100;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	/* After ") ": state, then fields 4..18, then nice (19). */
	ck_assert_int_eq(sscanf(p + 2,
			     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			     "%*u %*u %*d %*d %*d %ld",
			     &nice),
	    1);
	return nice;
}

/* Wait until sbkd has exactly n children, none of them a zombie. */
static void
wait_children(int n)
{
	long kids[MAX_KIDS];
	long long end = hx_now_ms() + HX_TIMEOUT_MS;

	for (;;) {
		int k = children(d.pid, kids, MAX_KIDS), zombies = 0;

		for (int i = 0; i < k; i++)
			zombies += proc_state(kids[i]) == 'Z';
		if (k == n && zombies == 0)
			return;
		ck_assert_msg(hx_now_ms() < end,
		    "sbkd has %d children (%d zombies), want %d", k, zombies,
		    n);
		hx_msleep(10);
	}
}

static bool
in_list(long pid, const long *list, int n)
{
	for (int i = 0; i < n; i++)
		if (list[i] == pid)
			return true;
	return false;
}

/* ---- calls ---- */

static long long
helper_pid(struct hx_conn *c, int id)
{
	json_t *r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"test.helper_pid\"}",
	    id);
	char idj[16];
	long long pid;

	snprintf(idj, sizeof(idj), "%d", id);
	pid = hx_int_at(hx_expect_result(r, idj), "pid");
	json_decref(r);
	return pid;
}

/* The documented error of a helper that died of SIGSEGV. */
static void
expect_crash(json_t *r, const char *idj)
{
	json_t *e = hx_expect_error(r, idj, -32005);
	json_t *sig = hx_get_path(e, "data.signal");

	ck_assert_msg(json_is_string(sig) &&
		strcmp(json_string_value(sig), "SIGSEGV") == 0,
	    "no data.signal SIGSEGV: %s", hx_dump(r));
}

static void
crash(struct hx_conn *c, int id)
{
	json_t *r = hx_callf(
	    c, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"test.crash\"}", id);
	char idj[16];

	snprintf(idj, sizeof(idj), "%d", id);
	expect_crash(r, idj);
	json_decref(r);
}

/* ---- the tests ---- */

/*
 * One crash: the documented error, the daemon serves on, the helper is
 * replaced by a new process (not the one that died), and stats and the
 * Prometheus text count it.
 */
START_TEST(test_crash_error_replaced_counted)
{
	struct hx_conn *c;
	long before[MAX_KIDS], after[MAX_KIDS];
	long long victim;
	json_t *st, *r;
	char *prom;
	int n;

	hx_daemon_up(&d,
	    CONF_TEST "[pool]\ncpu_worker_nice = 7\n"
		      "[isolation]\nhelpers = 2\n");
	c = hx_connect(&d);
	wait_children(2);
	n = children(d.pid, before, MAX_KIDS);
	ck_assert_int_eq(n, 2);
	victim = helper_pid(c, 1);
	ck_assert(in_list(victim, before, n));

	crash(c, 2);
	/* crashes counts last, once the helper is reaped and replaced. */
	st = hx_wait_stat(c, "isolation.crashes", 1);
	ck_assert_int_eq(hx_int_at(st, "isolation.respawns"), 1);
	ck_assert_int_eq(hx_int_at(st, "isolation.helpers"), 2);
	ck_assert_int_ge(hx_int_at(st, "isolation.jobs"), 2);
	prom = prom_format_stats(st, NULL);
	ck_assert_ptr_nonnull(prom);
	ck_assert_msg(strstr(prom, "\nsbk_isolation_crashes_total 1\n") &&
		strstr(prom, "\nsbk_isolation_respawns_total 1\n") &&
		strstr(prom, "\nsbk_isolation_helpers 2\n"),
	    "%s", prom);
	free(prom);
	json_decref(st);

	wait_children(2);
	n = children(d.pid, after, MAX_KIDS);
	ck_assert_int_eq(n, 2);
	/*
	 * Started by the main thread or by a worker, a helper runs at the
	 * CPU workers' nice value (cpu_worker_nice, 7 here).
	 */
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(proc_nice(after[i]), 7);
	/* The helper that crashed was reaped: no longer a process. */
	ck_assert_int_eq(proc_state(victim), 0);
	ck_assert(!in_list(victim, after, n));

	r = hx_call(c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
	hx_expect_result(r, "3");
	json_decref(r);
	ck_assert(hx_daemon_alive(&d));
	ck_assert_int_ne(helper_pid(c, 4), victim);
	hx_close(c);
}
END_TEST

/*
 * Crashes on one connection while argon2 hashes and isolated jobs of other
 * clients run: every one of those is answered with its own result.
 */
START_TEST(test_crash_others_unaffected)
{
	struct hx_conn *a, *b, *x;
	json_t *r;
	enum { HASHES = 3, PIDS = 20, CRASHES = 20 };

	hx_daemon_up(&d,
	    CONF_TEST "[pool]\ncpu_workers = 4\n"
		      "[isolation]\nhelpers = 2\n");
	a = hx_connect(&d);
	b = hx_connect(&d);
	x = hx_connect(&d);
	for (int i = 0; i < HASHES; i++)
		hx_sendf(a,
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"argon2.hash\","
		    "\"params\":{\"password\":\"pw\",\"m_cost_kib\":8192,"
		    "\"t_cost\":%d}}",
		    i, 4);
	for (int i = 0; i < PIDS; i++)
		hx_sendf(b,
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,"
		    "\"method\":\"test.helper_pid\"}",
		    i);
	for (int i = 0; i < CRASHES; i++)
		hx_sendf(x,
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"test.crash\"}",
		    i);
	for (int i = 0; i < CRASHES; i++) {
		char *id;

		r = hx_read_json(x);
		id = hx_reply_id(r);
		expect_crash(r, id);
		free(id);
		json_decref(r);
	}
	for (int i = 0; i < PIDS; i++) {
		char *id;

		r = hx_read_json(b);
		id = hx_reply_id(r);
		ck_assert_int_gt(hx_int_at(hx_expect_result(r, id), "pid"), 0);
		free(id);
		json_decref(r);
	}
	for (int i = 0; i < HASHES; i++) {
		char *id;
		json_t *res;

		r = hx_read_json(a);
		id = hx_reply_id(r);
		res = hx_expect_result(r, id);
		ck_assert_msg(json_is_string(json_object_get(res, "hash")),
		    "%s", hx_dump(r));
		free(id);
		json_decref(r);
	}
	json_decref(hx_wait_stat(x, "isolation.crashes", CRASHES));
	wait_children(2);
	hx_close(a);
	hx_close(b);
	hx_close(x);
}
END_TEST

/*
 * The sandbox (sandbox.c) kills a helper that opens a file: the job gets
 * -32005 with data.signal "SIGSYS", and only this job is affected.
 */
START_TEST(test_forbidden_call_contained)
{
	struct hx_conn *c;
	json_t *r, *e;

	hx_daemon_up(&d, CONF_TEST "[isolation]\nhelpers = 1\n");
	c = hx_connect(&d);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.forbidden_call\"}");
	e = hx_expect_error(r, "1", -32005);
	ck_assert_msg(json_is_string(hx_get_path(e, "data.signal")) &&
		strcmp(json_string_value(hx_get_path(e, "data.signal")),
		    "SIGSYS") == 0,
	    "%s", hx_dump(r));
	json_decref(r);
	json_decref(hx_wait_stat(c, "isolation.crashes", 1));
	wait_children(1);
	ck_assert_int_gt(helper_pid(c, 2), 0);
	hx_close(c);
}
END_TEST

/*
 * A helper that breaks the frame protocol (a DONE announcing more than
 * out_max, then silence) is killed at once, not waited for: -32603.
 */
START_TEST(test_lying_helper_killed)
{
	struct hx_conn *c;
	json_t *r, *st;

	hx_daemon_up(&d, CONF_TEST "[isolation]\nhelpers = 1\n");
	c = hx_connect(&d);
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"test.helper_lie\"}");
	hx_expect_error(r, "1", -32603);
	json_decref(r);
	st = hx_wait_stat(c, "isolation.crashes", 1);
	ck_assert_int_eq(hx_int_at(st, "isolation.respawns"), 1);
	json_decref(st);
	wait_children(1);
	ck_assert_int_gt(helper_pid(c, 2), 0);
	hx_close(c);
}
END_TEST

/* Cancel and deadline of a job whose helper hangs: the helper is killed. */
START_TEST(test_hang_cancel_and_deadline)
{
	struct hx_conn *c, *sc;
	long before[MAX_KIDS], after[MAX_KIDS];
	json_t *r, *st;
	int n;
	long long t0;

	hx_daemon_up(&d, CONF_TEST "[isolation]\nhelpers = 1\n");
	c = hx_connect(&d);
	sc = hx_connect(&d);
	wait_children(1);
	ck_assert_int_eq(children(d.pid, before, MAX_KIDS), 1);

	hx_send_line(
	    c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.hang\"}");
	json_decref(hx_wait_stat(sc, "isolation.busy", 1));
	/* job.cancel works on the caller's own jobs. */
	hx_send_line(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":"
	    "\"job.cancel\",\"params\":{\"id\":1}}");
	{
		json_t *two[2] = { hx_read_json(c), hx_read_json(c) };

		ck_assert(json_is_true(
		    hx_get_path(hx_expect_result(hx_by_id(two, 2, "9"), "9"),
			"cancelled")));
		hx_expect_error(hx_by_id(two, 2, "1"), "1", -32002);
		json_decref(two[0]);
		json_decref(two[1]);
	}
	st = hx_wait_stat(sc, "isolation.killed", 1);
	json_decref(st);
	wait_children(1);
	n = children(d.pid, after, MAX_KIDS);
	ck_assert_int_eq(n, 1);
	ck_assert_int_ne(after[0], before[0]);
	ck_assert_int_eq(proc_state(before[0]), 0);

	t0 = hx_now_ms();
	r = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"test.hang\","
	    "\"params\":{\"timeout_ms\":300}}");
	hx_expect_error(r, "2", -32001);
	json_decref(r);
	ck_assert_int_ge(hx_now_ms() - t0, 290);
	json_decref(hx_wait_stat(sc, "isolation.killed", 2));
	wait_children(1);
	ck_assert_int_eq(proc_state(after[0]), 0);
	ck_assert_int_gt(helper_pid(c, 3), 0);
	hx_close(c);
	hx_close(sc);
}
END_TEST

/* max_jobs: a helper serves that many jobs, then a fresh one takes over. */
START_TEST(test_max_jobs_reuse_then_replace)
{
	struct hx_conn *c;
	long long p[7];
	json_t *st;

	hx_daemon_up(&d, CONF_TEST "[isolation]\nhelpers = 1\nmax_jobs = 3\n");
	c = hx_connect(&d);
	for (int i = 0; i < 7; i++)
		p[i] = helper_pid(c, i);
	ck_assert(p[0] == p[1] && p[1] == p[2]);
	ck_assert(p[3] == p[4] && p[4] == p[5]);
	ck_assert(p[2] != p[3] && p[5] != p[6] && p[0] != p[6]);
	st = hx_wait_stat(c, "isolation.retired", 2);
	ck_assert_int_eq(hx_int_at(st, "isolation.crashes"), 0);
	ck_assert_int_eq(hx_int_at(st, "isolation.respawns"), 2);
	json_decref(st);
	wait_children(1);
	hx_close(c);
}
END_TEST

static void
rewrite_conf(const char *text)
{
	FILE *f = fopen(d.conf, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * A reload that changes the helpers' budget: new helpers and max_jobs;
 * the old helpers retire.
 */
START_TEST(test_reload_retires_old_helpers)
{
	struct hx_conn *c;
	long old[MAX_KIDS], now[MAX_KIDS];
	long long p[3];
	int n;

	hx_daemon_up(&d, CONF_TEST "[isolation]\nhelpers = 3\n");
	c = hx_connect(&d);
	wait_children(3);
	n = children(d.pid, old, MAX_KIDS);
	ck_assert(in_list(helper_pid(c, 1), old, n));

	rewrite_conf(CONF_TEST "[isolation]\nhelpers = 1\nmax_jobs = 2\n"
			       "[zstd]\nmax_output_bytes = 33554432\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	json_decref(hx_wait_stat(c, "config_generation", 2));
	for (int i = 0; i < 3; i++)
		p[i] = helper_pid(c, 10 + i);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(!in_list(p[i], old, n),
		    "job %d ran in a helper of the old configuration", i);
	ck_assert(p[0] == p[1] && p[1] != p[2]);
	wait_children(1);
	ck_assert_int_eq(children(d.pid, now, MAX_KIDS), 1);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(proc_state(old[i]), 0);
	hx_close(c);
}
END_TEST

/*
 * An idle helper that dies (killed from outside here) is reaped and
 * replaced at once, with no job to notice it: no zombie stays behind, and
 * stats count the crash and the respawn.
 */
START_TEST(test_idle_death_reaped)
{
	struct hx_conn *c;
	long before[MAX_KIDS], after[MAX_KIDS];
	json_t *st;
	int n;

	/* valgrind 3.19 has no pidfd_open: the keeper then notices an idle
	 * death only at the next job (the documented fallback). */
	if (hx_under_valgrind())
		return;
	hx_daemon_up(&d, CONF_TEST "[isolation]\nhelpers = 2\n");
	c = hx_connect(&d);
	wait_children(2);
	ck_assert_int_eq(children(d.pid, before, MAX_KIDS), 2);
	ck_assert_int_eq(kill((pid_t)before[0], SIGKILL), 0);
	/* wait_children fails while a zombie of sbkd is left. */
	st = hx_wait_stat(c, "isolation.crashes", 1);
	ck_assert_int_eq(hx_int_at(st, "isolation.respawns"), 1);
	json_decref(st);
	wait_children(2);
	n = children(d.pid, after, MAX_KIDS);
	ck_assert(!in_list(before[0], after, n));
	ck_assert(in_list(before[1], after, n));
	hx_close(c);
}
END_TEST

/*
 * A reload with fewer helpers retires the surplus idle ones at once and
 * keeps the others (started with the same budget and priority); one that
 * changes the budget retires every idle old one at once.  No job runs:
 * only sbkd itself can notice them.
 */
START_TEST(test_reload_retires_idle_at_once)
{
	struct hx_conn *c;
	long old[MAX_KIDS], now[MAX_KIDS];
	json_t *st;

	hx_daemon_up(&d, CONF_TEST "[isolation]\nhelpers = 2\n");
	c = hx_connect(&d);
	wait_children(2);
	ck_assert_int_eq(children(d.pid, old, MAX_KIDS), 2);
	rewrite_conf(CONF_TEST "[isolation]\nhelpers = 1\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	st = hx_wait_stat(c, "isolation.retired", 1);
	ck_assert_int_eq(hx_int_at(st, "isolation.generation"), 1);
	json_decref(st);
	wait_children(1);
	ck_assert_int_eq(children(d.pid, now, MAX_KIDS), 1);
	ck_assert(in_list(now[0], old, 2));

	rewrite_conf(CONF_TEST "[isolation]\nhelpers = 1\n"
			       "[zstd]\nmax_output_bytes = 33554432\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	st = hx_wait_stat(c, "isolation.retired", 2);
	ck_assert_int_eq(hx_int_at(st, "isolation.generation"), 2);
	ck_assert_int_eq(hx_int_at(st, "isolation.crashes"), 0);
	json_decref(st);
	wait_children(1);
	ck_assert_int_eq(children(d.pid, now, MAX_KIDS), 1);
	ck_assert(!in_list(now[0], old, 2));
	hx_close(c);
}
END_TEST

/* Copy the file at from to to, mode 0755. */
static void
copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
	ck_assert_int_eq(chmod(to, 0755), 0);
}

/*
 * An in-place upgrade (a package manager renames a new file over sbkd
 * while it runs): helpers started afterwards are still sbkd's own build,
 * the same inode as the running sbkd, and work.
 */
START_TEST(test_upgrade_keeps_helper_build)
{
	struct hx_conn *c;
	char exe[sizeof(d.dir) + 16], next[sizeof(d.dir) + 16];
	char proc[64];
	struct stat orig, now;
	long long victim, pid;
	json_t *st;
	FILE *f;

	/* Under valgrind SBKD is a wrapper script, not a copyable sbkd. */
	if (hx_under_valgrind())
		return;
	hx_daemon_init(&d, CONF_TEST "[isolation]\nhelpers = 1\n");
	snprintf(exe, sizeof(exe), "%s/sbkd", d.dir);
	snprintf(next, sizeof(next), "%s/sbkd.new", d.dir);
	copy_file(getenv("SBKD"), exe);
	ck_assert_int_eq(stat(exe, &orig), 0);
	setenv("SBKD", exe, 1); /* this test's own forked process only */
	hx_daemon_start(&d);
	c = hx_connect(&d);
	victim = helper_pid(c, 1);

	/* The "new version": a program that cannot serve as a helper. */
	ck_assert_ptr_nonnull(f = fopen(next, "w"));
	fputs("#!/bin/sh\nexit 3\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(next, 0755), 0);
	ck_assert_int_eq(rename(next, exe), 0);

	crash(c, 2);
	pid = helper_pid(c, 3);
	ck_assert_int_ne(pid, victim);
	snprintf(proc, sizeof(proc), "/proc/%lld/exe", pid);
	ck_assert_int_eq(stat(proc, &now), 0);
	ck_assert_msg(now.st_ino == orig.st_ino && now.st_dev == orig.st_dev,
	    "helper %lld runs inode %lu, sbkd was started from %lu", pid,
	    (unsigned long)now.st_ino, (unsigned long)orig.st_ino);
	st = hx_wait_stat(c, "isolation.crashes", 1);
	ck_assert_int_eq(hx_int_at(st, "isolation.spawn_failures"), 0);
	ck_assert_int_eq(hx_int_at(st, "isolation.respawns"), 1);
	json_decref(st);
	hx_close(c);
}
END_TEST

/*
 * SIGTERM with a helper hung in a job and others idle: sbkd exits 0 once
 * shutdown_timeout_s passes, and no helper is left running.
 */
START_TEST(test_shutdown_leaves_no_helper)
{
	struct hx_conn *c, *sc;
	long kids[MAX_KIDS];
	int n, st;
	json_t *r;

	hx_daemon_up(&d,
	    CONF_TEST "shutdown_timeout_s = 1\n"
		      "[isolation]\nhelpers = 3\n");
	c = hx_connect(&d);
	sc = hx_connect(&d);
	hx_send_line(
	    c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.hang\"}");
	json_decref(hx_wait_stat(sc, "isolation.busy", 1));
	wait_children(3);
	n = children(d.pid, kids, MAX_KIDS);
	st = hx_daemon_stop(&d);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	r = hx_read_json(c);
	hx_expect_error(r, "1", -32006);
	json_decref(r);
	for (int i = 0; i < n; i++) {
		long long end = hx_now_ms() + HX_TIMEOUT_MS;

		/* Reaped by sbkd, or by init if sbkd left it to exit: gone. */
		while (proc_state(kids[i]) != 0) {
			ck_assert_msg(hx_now_ms() < end,
			    "helper %ld outlived sbkd (state %c)", kids[i],
			    proc_state(kids[i]));
			hx_msleep(10);
		}
	}
	hx_close(c);
	hx_close(sc);
}
END_TEST

/*
 * sbkd killed by SIGKILL (no chance to clean up) with a helper hung in a
 * job and another idle: every helper dies with it, within a bounded wait,
 * rather than sitting in its job until it next writes.
 */
START_TEST(test_sigkill_leaves_no_orphan)
{
	struct hx_conn *c, *sc;
	long kids[MAX_KIDS];
	int n, left = 0;
	long long end;

	hx_daemon_up(&d, CONF_TEST "[isolation]\nhelpers = 2\n");
	c = hx_connect(&d);
	sc = hx_connect(&d);
	wait_children(2);
	hx_send_line(
	    c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.hang\"}");
	json_decref(hx_wait_stat(sc, "isolation.busy", 1));
	n = children(d.pid, kids, MAX_KIDS);
	ck_assert_int_eq(n, 2);
	for (int i = 0; i < n; i++) {
		/* A pidfd: a reused pid can never be mistaken or killed. */
		watched[n_watched] = pidfd_open((pid_t)kids[i], 0);
		ck_assert_int_ge(watched[n_watched], 0);
		n_watched++;
	}
	hx_daemon_kill(&d);
	end = hx_now_ms() + HX_TIMEOUT_MS;
	for (int i = 0; i < n_watched; i++) {
		struct pollfd p = { .fd = watched[i], .events = POLLIN };
		long long wait = end - hx_now_ms();

		/* Readable once the process has exited (zombie or reaped). */
		if (poll(&p, 1, wait > 0 ? (int)wait : 0) != 1)
			left++;
	}
	ck_assert_msg(
	    left == 0, "%d helper(s) outlived a SIGKILLed sbkd", left);
	hx_close(c);
	hx_close(sc);
}
END_TEST

static const struct {
	const char *text;
	const char *what;
} bad_confs[] = {
	{ "[isolation]\nkinds = argon2.hash\n",
	    "\"argon2.hash\" cannot be isolated" },
	{ "[isolation]\nkinds = no.such.kind\n",
	    "\"no.such.kind\" is not a job kind" },
	{ "[isolation]\nkinds = test.crash test.crash\n", "listed twice" },
	{ "[isolation]\nkinds = zstd/decompress\n", "is not a name" },
	{ "[isolation]\nhelpers = 2000\n", "[isolation] helpers" },
	{ "[isolation]\nmax_jobs = 0\n", "[isolation] max_jobs" },
};

/* sbkd -t refuses bad [isolation] keys with exit 2 and says why. */
START_TEST(test_bad_isolation_config)
{
	const char *args[] = { "-t", "-c", NULL, NULL };
	char *log;
	int st;

	hx_daemon_init(&d, bad_confs[_i].text);
	args[2] = d.conf;
	hx_spawn(&d, args);
	st = hx_wait_exit(&d, HX_TIMEOUT_MS);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	log = hx_daemon_log(&d);
	ck_assert_msg(strstr(log, bad_confs[_i].what) != NULL &&
		strstr(log, d.conf) != NULL,
	    "config %d: no \"%s\" and file name in: %s", _i, bad_confs[_i].what,
	    log);
	free(log);
}
END_TEST

/*
 * 1,000 crashes (100 under valgrind, 200 under a sanitizer, where
 * every helper start costs ten times as much), eight in flight: sbkd's
 * descriptors, threads and children come back to where they were, and its
 * RSS stays within a small bound.
 */
START_TEST(test_crash_repeated_no_leak)
{
	struct hx_conn *c;
	int total = hx_under_valgrind()	   ? 100 :
	    SBK_TEST_ASAN || SBK_TEST_TSAN ? 200 :
					     1000;
	int window = 8, sent = 0, got = 0;
	int fds0, threads0;
	long rss0, rss1;
	json_t *st;

	hx_daemon_up(&d, CONF_TEST "[isolation]\nhelpers = 2\n");
	c = hx_connect(&d);
	/* Warm up: allocator arenas, the stats method, first respawns. */
	for (int i = 0; i < 20; i++)
		crash(c, i);
	json_decref(hx_wait_stat(c, "isolation.crashes", 20));
	wait_children(2);
	fds0 = hx_count_fds(d.pid);
	threads0 = hx_count_threads(d.pid);
	rss0 = hx_rss_kib(d.pid);

	while (got < total) {
		json_t *r;
		char *id;

		while (sent < total && sent - got < window) {
			hx_sendf(c,
			    "{\"jsonrpc\":\"2.0\",\"id\":%d,"
			    "\"method\":\"test.crash\"}",
			    sent);
			sent++;
		}
		r = hx_read_json(c);
		id = hx_reply_id(r);
		expect_crash(r, id);
		free(id);
		json_decref(r);
		got++;
	}
	st = hx_wait_stat(c, "isolation.crashes", 20 + total);
	ck_assert_int_eq(hx_int_at(st, "isolation.respawns"), 20 + total);
	json_decref(st);
	wait_children(2);
	ck_assert_int_eq(hx_count_fds(d.pid), fds0);
	ck_assert_int_eq(hx_count_threads(d.pid), threads0);
	rss1 = hx_rss_kib(d.pid);
	/*
	 * Under ASan freed memory sits in quarantine, and TSan's shadow and
	 * history grow with every event: a wider bound for both.
	 */
	ck_assert_msg(
	    rss1 - rss0 < (SBK_TEST_ASAN || SBK_TEST_TSAN ? 65536 : 2048),
	    "RSS grew from %ld to %ld KiB over %d crashes", rss0, rss1, total);
	hx_close(c);
}
END_TEST

static Suite *
isolate_suite(void)
{
	Suite *s = suite_create("isolate");
	TCase *tc = tcase_create("isolate");
	TCase *soak = tcase_create("soak");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_crash_error_replaced_counted);
	tcase_add_test(tc, test_crash_others_unaffected);
	tcase_add_test(tc, test_forbidden_call_contained);
	tcase_add_test(tc, test_lying_helper_killed);
	tcase_add_test(tc, test_hang_cancel_and_deadline);
	tcase_add_test(tc, test_max_jobs_reuse_then_replace);
	tcase_add_test(tc, test_reload_retires_old_helpers);
	tcase_add_test(tc, test_shutdown_leaves_no_helper);
	tcase_add_test(tc, test_sigkill_leaves_no_orphan);
	tcase_add_test(tc, test_idle_death_reaped);
	tcase_add_test(tc, test_reload_retires_idle_at_once);
	tcase_add_test(tc, test_upgrade_keeps_helper_build);
	tcase_add_loop_test(tc, test_bad_isolation_config, 0,
	    (int)(sizeof(bad_confs) / sizeof(bad_confs[0])));
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(soak, NULL, teardown);
	tcase_set_timeout(soak, 300);
	tcase_add_test(soak, test_crash_repeated_no_leak);
	suite_add_tcase(s, soak);
	return s;
}

int
main(void)
{
	return hx_run_suite(isolate_suite());
}
