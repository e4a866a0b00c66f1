/*
 * check_confine.c - path confinement through a real sbkd (issue 12):
 * roots replaced while sbkd runs (the read root, an inner root nested in
 * an outer one, the write root), paths that resolve inside the roots
 * (".." and "//" spellings, symlinks from one root into another, sbkctl's
 * relative paths), the escapes that stay -32003, and running out of
 * descriptors, which is -32005 "EMFILE" and never -32003.
 *
 * Runs in Check's fork mode; each test starts its own daemon on a tree in
 * its temporary directory: t/in (read root), t/out (write root), t/a and
 * t/a/inner (nested read roots) and t/outside (in no root).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

static struct hx_daemon d;
static char t[PATH_MAX]; /* canonical d.dir/t */

static char *
tp(const char *rel)
{
	static char bufs[8][PATH_MAX + 64];
	static int n;
	char *b = bufs[n++ % 8];

	snprintf(b, PATH_MAX + 64, "%s/%s", t, rel);
	return (b);
}

static void
put_file(const char *rel, const char *text)
{
	FILE *f = fopen(tp(rel), "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Replace the directory at rel by a symlink to target (kept as rel.old). */
static void
swap_for_link(const char *rel, const char *target)
{
	char old[PATH_MAX + 80];

	snprintf(old, sizeof(old), "%s.old", tp(rel));
	ck_assert_int_eq(rename(tp(rel), old), 0);
	ck_assert_int_eq(symlink(target, tp(rel)), 0);
}

/* The tree, then sbkd with read_roots and write_roots (relative to t). */
static void
up(const char *read_roots, const char *write_roots)
{
	char dir[PATH_MAX + 16], rr[4 * PATH_MAX], wr[2 * PATH_MAX];
	const char *p, *colon;
	FILE *f;
	size_t n = 0;

	hx_daemon_init(&d, NULL);
	snprintf(dir, sizeof(dir), "%s/t", d.dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_ptr_nonnull(realpath(dir, t));
	ck_assert_int_eq(mkdir(tp("in"), 0755), 0);
	ck_assert_int_eq(mkdir(tp("in/sub"), 0755), 0);
	ck_assert_int_eq(mkdir(tp("out"), 0755), 0);
	ck_assert_int_eq(mkdir(tp("a"), 0755), 0);
	ck_assert_int_eq(mkdir(tp("a/inner"), 0755), 0);
	ck_assert_int_eq(mkdir(tp("outside"), 0755), 0);
	put_file("in/a.txt", "inside\n");
	put_file("in/sub/b.txt", "below\n");
	put_file("a/inner/secret", "inner\n");
	put_file("a/top", "outer\n");
	put_file("outside/a.txt", "SECRET\n");
	put_file("outside/secret", "SECRET\n");

	/* "x:y" relative to t, to absolute "t/x:t/y". */
	rr[0] = '\0';
	for (p = read_roots; *p != '\0'; p = *colon ? colon + 1 : colon) {
		colon = p + strcspn(p, ":");
		n += (size_t)snprintf(rr + n, sizeof(rr) - n, "%s%s/%.*s",
		    n ? ":" : "", t, (int)(colon - p), p);
	}
	snprintf(wr, sizeof(wr), "%s/%s", t, write_roots);
	ck_assert_ptr_nonnull(f = fopen(d.conf, "w"));
	fprintf(f, "[files]\nread_roots = %s\nwrite_roots = %s\n", rr, wr);
	fclose(f);
	hx_daemon_start(&d);
}

/* file.read of path: the result, or NULL with *code set. */
static char *
read_path(struct hx_conn *c, const char *path, int *code, char *errname)
{
	static int id;
	json_t *r, *v, *e;
	char *out = NULL, ids[16], *q;
	const char *b64;

	snprintf(ids, sizeof(ids), "%d", ++id);
	r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"file.read\","
	    "\"params\":{\"path\":%s}}",
	    id, q = hx_dump(v = json_string(path)));
	json_decref(v);
	free(q);
	*code = 0;
	if (errname != NULL)
		errname[0] = '\0';
	if ((e = json_object_get(r, "error")) != NULL) {
		*code = (int)json_integer_value(json_object_get(e, "code"));
		v = json_object_get(json_object_get(e, "data"), "errno");
		if (errname != NULL && json_is_string(v))
			snprintf(errname, 32, "%s", json_string_value(v));
	} else {
		b64 = json_string_value(
		    json_object_get(hx_expect_result(r, ids), "data_b64"));
		ck_assert_ptr_nonnull(b64);
		out = strdup(b64);
	}
	json_decref(r);
	return (out);
}

/* base64 of the 7-byte texts the tree holds. */
#define B64_INSIDE "aW5zaWRlCg=="
#define B64_BELOW  "YmVsb3cK"
#define B64_INNER  "aW5uZXIK"
#define B64_OUTER  "b3V0ZXIK"
#define B64_SECRET "U0VDUkVUCg=="

static void
expect_read(struct hx_conn *c, const char *path, const char *b64)
{
	char *got;
	int code;

	got = read_path(c, path, &code, NULL);
	ck_assert_msg(got != NULL, "%s: error %d", path, code);
	ck_assert_msg(
	    strcmp(got, b64) == 0, "%s: read %s, want %s", path, got, b64);
	free(got);
}

static void
expect_refused(struct hx_conn *c, const char *path, int want)
{
	char *got;
	int code;

	got = read_path(c, path, &code, NULL);
	ck_assert_msg(
	    got == NULL, "%s: read %s, want error %d", path, got, want);
	ck_assert_msg(code == want, "%s: error %d, want %d", path, code, want);
}

static void
down(void)
{
	hx_daemon_free(&d);
}

/*
 * The read root replaced by a symlink to a directory outside: sbkd keeps
 * serving the directory it opened, and never the one the link names.
 */
START_TEST(read_root_replaced)
{
	struct hx_conn *c;

	up("in", "out");
	c = hx_connect(&d);
	expect_read(c, tp("in/a.txt"), B64_INSIDE);
	swap_for_link("in", tp("outside"));
	expect_read(c, tp("in/a.txt"), B64_INSIDE);
	expect_read(c, tp("in/sub/b.txt"), B64_BELOW);
	/* A relative link the same way. */
	ck_assert_int_eq(unlink(tp("in")), 0);
	ck_assert_int_eq(symlink("outside", tp("in")), 0);
	expect_read(c, tp("in/a.txt"), B64_INSIDE);
	hx_close(c);
}
END_TEST

/*
 * A reload opens the roots again by name: a root replaced while sbkd
 * runs is served from the old directory until SIGHUP, then from the new
 * one.  The old configuration's root fds go with it once no job uses it.
 */
START_TEST(reload_reopens_roots)
{
	struct hx_conn *c;

	up("in", "out");
	c = hx_connect(&d);
	ck_assert_int_eq(rename(tp("in"), tp("in.old")), 0);
	ck_assert_int_eq(mkdir(tp("in"), 0755), 0);
	put_file("in/a.txt", "below\n");
	expect_read(c, tp("in/a.txt"), B64_INSIDE);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	json_decref(hx_wait_stat(c, "config_generation", 2));
	expect_read(c, tp("in/a.txt"), B64_BELOW);
	hx_close(c);
}
END_TEST

/*
 * Root fds are lasting descriptors of a configuration: a retired one
 * closes them once no job admitted under it is alive, so reloads do not
 * pile them up.
 */
START_TEST(reload_closes_old_roots)
{
	struct hx_conn *c;
	int base, i;

	up("in:a:a/inner", "out");
	c = hx_connect(&d);
	expect_read(c, tp("in/a.txt"), B64_INSIDE);
	base = hx_count_fds(d.pid);
	for (i = 2; i <= 41; i++) {
		ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
		json_decref(hx_wait_stat(c, "config_generation", i));
		expect_read(c, tp("a/inner/secret"), B64_INNER);
	}
	/* 40 reloads of 4 roots would hold 160 more. */
	ck_assert_int_le(hx_count_fds(d.pid), base + 2);
	hx_close(c);
}
END_TEST

/* Nested roots: the inner root is never looked up by name in the outer. */
START_TEST(nested_inner_replaced)
{
	struct hx_conn *c;

	up("a:a/inner", "out");
	c = hx_connect(&d);
	expect_read(c, tp("a/inner/secret"), B64_INNER);
	expect_read(c, tp("a/top"), B64_OUTER);
	swap_for_link("a/inner", tp("outside"));
	expect_read(c, tp("a/inner/secret"), B64_INNER);
	ck_assert_int_eq(unlink(tp("a/inner")), 0);
	ck_assert_int_eq(symlink("../outside", tp("a/inner")), 0);
	expect_read(c, tp("a/inner/secret"), B64_INNER);
	/* The outer root itself replaced: the inner one still serves. */
	swap_for_link("a", tp("outside"));
	expect_read(c, tp("a/top"), B64_OUTER);
	hx_close(c);
}
END_TEST

/* The write root replaced: output lands in the opened directory only. */
START_TEST(write_root_replaced)
{
	struct hx_conn *c;
	json_t *r;
	struct stat st;

	up("in", "out");
	c = hx_connect(&d);
	swap_for_link("out", tp("outside"));
	r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"zstd.compress\","
	    "\"params\":{\"path\":\"%s\",\"out_path\":\"%s\"}}",
	    tp("in/a.txt"), tp("out/x.zst"));
	hx_expect_result(r, "1");
	json_decref(r);
	ck_assert_int_eq(lstat(tp("outside/x.zst"), &st), -1);
	ck_assert_int_eq(lstat(tp("out.old/x.zst"), &st), 0);
	/* And a relative link the same way. */
	ck_assert_int_eq(unlink(tp("out")), 0);
	ck_assert_int_eq(symlink("outside", tp("out")), 0);
	r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"zstd.compress\","
	    "\"params\":{\"path\":\"%s\",\"out_path\":\"%s\"}}",
	    tp("in/a.txt"), tp("out/y.zst"));
	hx_expect_result(r, "2");
	json_decref(r);
	ck_assert_int_eq(lstat(tp("outside/y.zst"), &st), -1);
	ck_assert_int_eq(lstat(tp("out.old/y.zst"), &st), 0);
	hx_close(c);
}
END_TEST

/* Paths resolve, then the roots are checked (issue 12, item 2). */
START_TEST(resolve_then_check)
{
	struct hx_conn *c;
	json_t *r;
	char p[PATH_MAX + 64];

	up("in:a", "out");
	c = hx_connect(&d);
	/* Other spellings of a path inside a root. */
	snprintf(p, sizeof(p), "%s/in/../in/a.txt", t);
	expect_read(c, p, B64_INSIDE);
	snprintf(p, sizeof(p), "%s/in//./a.txt", t);
	expect_read(c, p, B64_INSIDE);
	snprintf(p, sizeof(p), "%s/in/sub/../../in/sub/./b.txt", t);
	expect_read(c, p, B64_BELOW);
	snprintf(p, sizeof(p), "%s/in/../a/top", t);
	expect_read(c, p, B64_OUTER);
	/* ".." that leaves every root. */
	snprintf(p, sizeof(p), "%s/in/../outside/a.txt", t);
	expect_refused(c, p, -32003);
	snprintf(p, sizeof(p), "%s/in/missing/../../outside/a.txt", t);
	expect_refused(c, p, -32003);

	/* Symlinks into the same root and into another one work. */
	ck_assert_int_eq(symlink(tp("in/sub/b.txt"), tp("in/abs_same")), 0);
	ck_assert_int_eq(symlink("../a/top", tp("in/rel_other")), 0);
	ck_assert_int_eq(symlink(tp("a/inner"), tp("in/dir_other")), 0);
	ck_assert_int_eq(symlink(tp("in/rel_other"), tp("a/chain")), 0);
	expect_read(c, tp("in/abs_same"), B64_BELOW);
	expect_read(c, tp("in/rel_other"), B64_OUTER);
	expect_read(c, tp("in/dir_other/secret"), B64_INNER);
	expect_read(c, tp("a/chain"), B64_OUTER);
	/* Symlinks out of every root stay refused. */
	ck_assert_int_eq(symlink(tp("outside/a.txt"), tp("in/abs_out")), 0);
	ck_assert_int_eq(symlink("../outside/a.txt", tp("in/rel_out")), 0);
	ck_assert_int_eq(symlink("..", tp("in/up")), 0);
	ck_assert_int_eq(
	    symlink("/proc/self/root/etc/hostname", tp("in/proc")), 0);
	ck_assert_int_eq(symlink("/etc/hostname", tp("in/etc")), 0);
	expect_refused(c, tp("in/abs_out"), -32003);
	expect_refused(c, tp("in/rel_out"), -32003);
	expect_refused(c, tp("in/up/outside/a.txt"), -32003);
	/* ".." through a link that comes back into a root is fine. */
	expect_read(c, tp("in/up/in/a.txt"), B64_INSIDE);
	expect_refused(c, tp("in/proc"), -32003);
	expect_refused(c, tp("in/etc"), -32003);

	/* An out_path that is itself a symlink stays -32003. */
	ck_assert_int_eq(symlink(tp("out/real.zst"), tp("out/link.zst")), 0);
	r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"o1\",\"method\":\"zstd.compress\","
	    "\"params\":{\"path\":\"%s\",\"out_path\":\"%s\","
	    "\"overwrite\":true}}",
	    tp("in/a.txt"), tp("out/link.zst"));
	hx_expect_error(r, "\"o1\"", -32003);
	json_decref(r);
	/* ".." spellings of out_path work too. */
	r = hx_callf(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"o2\",\"method\":\"zstd.compress\","
	    "\"params\":{\"path\":\"%s/in/./a.txt\",\"out_path\":"
	    "\"%s/in/../out//n.zst\"}}",
	    t, t);
	hx_expect_result(r, "\"o2\"");
	json_decref(r);
	ck_assert_int_eq(access(tp("out/n.zst"), F_OK), 0);
	hx_close(c);
}
END_TEST

/* cd t/in && sbkctl compress a.txt -o ../out/a.zst */
START_TEST(sbkctl_relative_paths)
{
	const char *exe = getenv("SBKCTL");
	char cmd[4 * PATH_MAX];
	int rc;

	ck_assert_msg(exe != NULL, "SBKCTL is not set");
	up("in:out", "out");
	snprintf(cmd, sizeof(cmd),
	    "cd '%s' && SBK_SOCKET='%s' '%s' compress a.txt -o ../out/a.zst "
	    "&& cd sub && SBK_SOCKET='%s' '%s' decompress ../../out/a.zst "
	    "-o ../../out/a.txt",
	    tp("in"), d.sock, exe, d.sock, exe);
	rc = system(cmd);
	ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s: %d", cmd, rc);
	ck_assert_int_eq(access(tp("out/a.zst"), F_OK), 0);
	ck_assert_int_eq(access(tp("out/a.txt"), F_OK), 0);
}
END_TEST

/*
 * Out of descriptors: a valid path is -32005 "EMFILE" (or "ENFILE"),
 * never -32003 (issue 12, item 4).  sbkd's limit is lowered with prlimit
 * after start (it raises its soft limit to the hard one at start), then
 * idle connections use the rest.
 */
START_TEST(out_of_descriptors)
{
	static const char ping[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
	struct rlimit rl = { .rlim_cur = 64, .rlim_max = 64 };
	struct hx_conn *c, *conns[128];
	char *line, errname[32] = "", *got;
	int n = 0, code = 0, i;

	up("in", "out");
	c = hx_connect(&d);
	expect_read(c, tp("in/a.txt"), B64_INSIDE);
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &rl, NULL), 0);
	/* Connect until sbkd sheds a connection at once: it is full. */
	for (n = 0; n < 128; n++) {
		conns[n] = hx_connect(&d);
		hx_send_some(conns[n], ping, strlen(ping), 1000);
		line = hx_read_line_timeout(conns[n], 10000);
		if (line == NULL) {
			ck_assert_msg(conns[n]->eof, "ping timed out");
			hx_close(conns[n]);
			break;
		}
		free(line);
	}
	ck_assert_msg(n < 128, "sbkd never ran out of descriptors");
	got = read_path(c, tp("in/a.txt"), &code, errname);
	ck_assert_msg(got == NULL, "read succeeded with every fd in use");
	ck_assert_msg(code == -32005, "error %d, want -32005", code);
	ck_assert_msg(
	    strcmp(errname, "EMFILE") == 0 || strcmp(errname, "ENFILE") == 0,
	    "errno %s", errname);
	/* Output paths the same way. */
	{
		json_t *r = hx_callf(c,
		    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":"
		    "\"zstd.compress\",\"params\":{\"path\":\"%s\","
		    "\"out_path\":\"%s\"}}",
		    tp("in/a.txt"), tp("out/x.zst"));

		hx_expect_error(r, "9", -32005);
		json_decref(r);
	}
	/* Descriptors back: the same read works again. */
	for (i = 0; i < n; i++)
		hx_close(conns[i]);
	for (i = 0; i < 100; i++) {
		got = read_path(c, tp("in/a.txt"), &code, NULL);
		if (got != NULL)
			break;
		free(got);
		hx_msleep(50);
	}
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, B64_INSIDE);
	free(got);
	hx_close(c);
}
END_TEST

static Suite *
confine_suite(void)
{
	Suite *s = suite_create("confine");
	TCase *tc = tcase_create("roots");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, down);
	tcase_add_test(tc, read_root_replaced);
	tcase_add_test(tc, nested_inner_replaced);
	tcase_add_test(tc, reload_reopens_roots);
	tcase_add_test(tc, reload_closes_old_roots);
	tcase_add_test(tc, write_root_replaced);
	tcase_add_test(tc, resolve_then_check);
	tcase_add_test(tc, sbkctl_relative_paths);
	tcase_add_test(tc, out_of_descriptors);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return hx_run_suite(confine_suite());
}
