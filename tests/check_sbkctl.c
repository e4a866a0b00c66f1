/*
 * check_sbkctl.c - sbkctl end to end: every subcommand run as a process
 * (path from $SBKCTL) against a real sbkd whose read and write roots are
 * the test's temporary directory, checking output and the documented
 * exit codes (0 ok, 1 negative answer, 2 usage, 3 error reply, 4 cannot
 * connect or timed out).
 *
 * Thread safety: single-threaded; each test runs in its own forked
 * process with its own daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

static struct hx_daemon d;
/* When not 0: the uid and gid sbkctl runs as (the test must be root). */
static uid_t run_as;

/* One finished sbkctl run. */
struct run {
	int status; /* exit code, or 128 + signal */
	char *out;
	size_t outlen;
	char *err;
	size_t errlen;
};

static void
setup(void)
{
	char text[1024];
	FILE *f;

	hx_daemon_init(&d, NULL);
	snprintf(text, sizeof(text),
	    "[daemon]\nenable_test_methods = true\n"
	    "[argon2]\nt_cost = 1\nm_cost_kib = 1024\n"
	    "[files]\nread_roots = %s\nwrite_roots = %s\n",
	    d.dir, d.dir);
	f = fopen(d.conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	hx_daemon_start(&d);
}

static void
teardown(void)
{
	hx_daemon_free(&d);
}

/* The capacity append() gives a buffer of len bytes: a power of two, so
 * a 40 MiB output costs a few reallocations, not one per read. */
static size_t
append_cap(size_t len)
{
	size_t cap = 64;

	while (cap < len + 1)
		cap *= 2;
	return cap;
}

static void
append(char **buf, size_t *len, const char *data, size_t n)
{
	if (append_cap(*len) < *len + n + 1)
		*buf = realloc(*buf, append_cap(*len + n));
	ck_assert_ptr_nonnull(*buf);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/*
 * Run $SBKCTL args with input on stdin (NULL: /dev/null), SBK_SOCKET set
 * to the daemon's socket.  stdin, stdout and stderr are pipes, so
 * sbkctl sees no terminal.
 */
static void
run_ctl(struct run *r, const char *input, size_t inlen, const char *const *args)
{
	const char *exe;
	const char *argv[32];
	struct pollfd pfd[3];
	char buf[65536];
	int in[2], out[2], err[2], i, wstatus;
	size_t off = 0;
	ssize_t n;
	pid_t pid;
	long long deadline;

	exe = getenv("SBKCTL");
	ck_assert_msg(exe != NULL, "SBKCTL is not set");
	memset(r, 0, sizeof(*r));
	argv[0] = exe;
	for (i = 0; args[i] != NULL && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	ck_assert(pipe(in) == 0 && pipe(out) == 0 && pipe(err) == 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		setenv("SBK_SOCKET", d.sock, 1);
		signal(SIGPIPE, SIG_DFL); /* as a shell would start it */
		if (run_as != 0 &&
		    (setgroups(0, NULL) < 0 ||
			setresgid(run_as, run_as, run_as) < 0 ||
			setresuid(run_as, run_as, run_as) < 0))
			_exit(126);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	/* sbkctl may exit before it reads its input (a usage error): the
	 * write then fails with EPIPE instead of killing the test. */
	signal(SIGPIPE, SIG_IGN);
	if (input == NULL) {
		close(in[1]);
		in[1] = -1;
	}
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	r->out = calloc(1, append_cap(0));
	r->err = calloc(1, append_cap(0));
	ck_assert(r->out != NULL && r->err != NULL);
	deadline = hx_now_ms() + 60000;
	while (out[0] != -1 || err[0] != -1) {
		ck_assert_msg(
		    hx_now_ms() < deadline, "sbkctl %s hangs", args[0]);
		pfd[0].fd = in[1];
		pfd[0].events = POLLOUT;
		pfd[1].fd = out[0];
		pfd[1].events = POLLIN;
		pfd[2].fd = err[0];
		pfd[2].events = POLLIN;
		if (poll(pfd, 3, 1000) <= 0)
			continue;
		if (in[1] != -1 && (pfd[0].revents & (POLLOUT | POLLERR))) {
			n = write(in[1], input + off, inlen - off);
			if (n > 0)
				off += (size_t)n;
			if (n < 0 || off == inlen) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (pfd[1].revents) {
			n = read(out[0], buf, sizeof(buf));
			if (n > 0)
				append(&r->out, &r->outlen, buf, (size_t)n);
			else {
				close(out[0]);
				out[0] = -1;
			}
		}
		if (pfd[2].revents) {
			n = read(err[0], buf, sizeof(buf));
			if (n > 0)
				append(&r->err, &r->errlen, buf, (size_t)n);
			else {
				close(err[0]);
				err[0] = -1;
			}
		}
	}
	if (in[1] != -1)
		close(in[1]);
	ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
	r->status =
	    WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define CTL(r, ...) run_ctl((r), NULL, 0, (const char *[]){ __VA_ARGS__, NULL })
#define CTL_IN(r, in, ...) \
	run_ctl((r), (in), strlen(in), (const char *[]){ __VA_ARGS__, NULL })

/* Assert the exit code, showing the run's stderr when it differs. */
#define EXPECT(r, code)                                                      \
	ck_assert_msg((r)->status == (code), "exit %d, want %d; stderr: %s", \
	    (r)->status, (code), (r)->err)

static char *
path_in(const char *name)
{
	char *p;

	ck_assert(asprintf(&p, "%s/%s", d.dir, name) > 0);
	return (p);
}

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static char *
read_file(const char *path, size_t *lenp)
{
	FILE *f;
	char *buf;
	long n;

	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*lenp = (size_t)n;
	return (buf);
}

/* Some compressible text of about n bytes. */
static char *
sample(size_t n, size_t *lenp)
{
	char *buf;
	size_t len = 0;

	buf = malloc(n + 32);
	while (len < n)
		len +=
		    (size_t)sprintf(buf + len, "line %zu of the sample\n", len);
	*lenp = len;
	return (buf);
}

START_TEST(test_ping_version_help)
{
	struct run r;

	CTL(&r, "ping");
	EXPECT(&r, 0);
	ck_assert_str_eq(r.out, "pong\n");
	run_free(&r);
	CTL(&r, "ping", "--json");
	EXPECT(&r, 0);
	ck_assert_str_eq(r.out, "{\"pong\":true}\n");
	run_free(&r);
	CTL(&r, "--version");
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "sbkctl "));
	run_free(&r);
	CTL(&r, "--help");
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "bench"));
	run_free(&r);
	CTL(&r, "bench", "--help");
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "--probe-ms"));
	run_free(&r);
}
END_TEST

START_TEST(test_usage_errors)
{
	struct run r;

	CTL(&r, "--bogus");
	EXPECT(&r, 2);
	run_free(&r);
	CTL(&r, "frobnicate");
	EXPECT(&r, 2);
	run_free(&r);
	CTL(&r, "verify");
	EXPECT(&r, 2);
	run_free(&r);
	CTL(&r, "ping", "extra");
	EXPECT(&r, 2);
	run_free(&r);
	CTL(&r, "hash", "--t-cost", "many");
	EXPECT(&r, 2);
	run_free(&r);
	CTL(&r, "call", "ping", "{not json");
	EXPECT(&r, 2);
	run_free(&r);
	CTL(&r, "-t", "soon", "ping");
	EXPECT(&r, 2);
	run_free(&r);
	run_ctl(&r, NULL, 0, (const char *[]){ NULL });
	EXPECT(&r, 2);
	run_free(&r);
}
END_TEST

START_TEST(test_connect_and_timeout)
{
	struct run r;
	char *bad;

	bad = path_in("nobody.sock");
	CTL(&r, "-s", bad, "ping");
	EXPECT(&r, 4);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot connect"));
	run_free(&r);
	free(bad);
	CTL(&r, "-t", "100", "call", "sleep", "{\"ms\":3000}");
	EXPECT(&r, 4);
	run_free(&r);
	/* The daemon's own deadline is an error reply: 3. */
	CTL(&r, "call", "sleep", "{\"ms\":3000,\"timeout_ms\":50}");
	EXPECT(&r, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "-32001"));
	run_free(&r);
}
END_TEST

START_TEST(test_stats)
{
	struct run r;
	json_t *j;

	CTL(&r, "stats");
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "connections"));
	ck_assert_ptr_nonnull(strstr(r.out, "jobs.accepted"));
	ck_assert_ptr_nonnull(strstr(r.out, "queue.max"));
	run_free(&r);
	CTL(&r, "--json", "stats");
	EXPECT(&r, 0);
	j = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_is_object(json_object_get(j, "jobs")));
	json_decref(j);
	run_free(&r);
}
END_TEST

START_TEST(test_hash_verify)
{
	struct run r;
	char *hash;

	CTL_IN(&r, "correct horse\n", "hash", "--t-cost", "1", "--m-cost", "64",
	    "--type", "argon2id");
	EXPECT(&r, 0);
	ck_assert_msg(strncmp(r.out, "$argon2id$", 10) == 0, "%s", r.out);
	hash = strndup(r.out, strcspn(r.out, "\n"));
	run_free(&r);

	CTL_IN(&r, "correct horse\n", "verify", hash);
	EXPECT(&r, 0);
	ck_assert_str_eq(r.out, "valid\n");
	run_free(&r);
	CTL_IN(&r, "wrong horse", "verify", hash);
	EXPECT(&r, 1);
	ck_assert_str_eq(r.out, "invalid\n");
	run_free(&r);
	CTL_IN(&r, "x", "verify", "--json", hash);
	EXPECT(&r, 1);
	ck_assert_str_eq(r.out, "{\"valid\":false}\n");
	run_free(&r);
	CTL_IN(&r, "x", "verify", "$argon2id$nonsense");
	EXPECT(&r, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "-32602"));
	run_free(&r);
	/* Out of the daemon's bounds: an error reply, exit 3. */
	CTL_IN(&r, "x", "hash", "--t-cost", "0");
	EXPECT(&r, 3);
	run_free(&r);
	free(hash);
}
END_TEST

START_TEST(test_compress_inline)
{
	struct run r, back;
	char *data;
	size_t len;

	data = sample(200000, &len);
	data[len] = '\0';
	CTL_IN(&r, data, "compress", "--level", "5");
	EXPECT(&r, 0);
	ck_assert(r.outlen > 4 && r.outlen < len / 4);
	ck_assert(memcmp(r.out, "\x28\xb5\x2f\xfd", 4) == 0);
	run_ctl(&back, r.out, r.outlen, (const char *[]){ "decompress", NULL });
	EXPECT(&back, 0);
	ck_assert_int_eq(back.outlen, len);
	ck_assert(memcmp(back.out, data, len) == 0);
	run_free(&back);
	run_free(&r);
	/* Not zstd: an error reply. */
	CTL_IN(&r, "plain text", "decompress");
	EXPECT(&r, 3);
	run_free(&r);
	free(data);
}
END_TEST

START_TEST(test_compress_paths)
{
	struct run r;
	char *in, *zst, *out, *data, *back;
	size_t len, blen;

	in = path_in("in.txt");
	zst = path_in("in.txt.zst");
	out = path_in("out.txt");
	data = sample(1 << 20, &len);
	write_file(in, data, len);

	CTL(&r, "compress", in, "-o", zst);
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "bytes"));
	run_free(&r);
	/* An existing output: -32005 EEXIST unless --overwrite. */
	CTL(&r, "compress", in, "-o", zst);
	EXPECT(&r, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "EEXIST"));
	run_free(&r);
	CTL(&r, "compress", "--overwrite", in, "--output", zst, "-l", "1");
	EXPECT(&r, 0);
	run_free(&r);
	CTL(&r, "--json", "decompress", zst, "-o", out);
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\"bytes_out\""));
	run_free(&r);
	back = read_file(out, &blen);
	ck_assert_int_eq(blen, len);
	ck_assert(memcmp(back, data, len) == 0);
	free(back);

	/* A relative output is made absolute against the cwd. */
	ck_assert_int_eq(chdir(d.dir), 0);
	CTL(&r, "compress", "in.txt", "-o", "rel.zst");
	EXPECT(&r, 0);
	run_free(&r);
	back = path_in("rel.zst");
	ck_assert_msg(access(back, F_OK) == 0, "%s missing", back);
	free(back);

	/* Outside the roots: -32003. */
	CTL(&r, "compress", in, "-o", "/tmp/../nonexistent-dir/x.zst");
	EXPECT(&r, 3);
	run_free(&r);
	/* -o without a file, --overwrite without -o: usage. */
	CTL(&r, "compress", "-o", zst);
	EXPECT(&r, 2);
	run_free(&r);
	CTL_IN(&r, "x", "compress", "--overwrite");
	EXPECT(&r, 2);
	run_free(&r);
	free(data);
	free(in);
	free(zst);
	free(out);
}
END_TEST

START_TEST(test_read)
{
	struct run r;
	char *path;
	json_t *j;

	path = path_in("r.bin");
	write_file(path, "0123456789abcdef", 16);
	CTL(&r, "read", path);
	EXPECT(&r, 0);
	ck_assert_int_eq(r.outlen, 16);
	ck_assert(memcmp(r.out, "0123456789abcdef", 16) == 0);
	run_free(&r);
	CTL(&r, "read", path, "--offset", "10", "--length", "3");
	EXPECT(&r, 0);
	ck_assert_int_eq(r.outlen, 3);
	ck_assert(memcmp(r.out, "abc", 3) == 0);
	run_free(&r);
	CTL(&r, "read", "--json", path);
	EXPECT(&r, 0);
	j = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "size")), 16);
	json_decref(j);
	run_free(&r);
	/* Outside the roots: -32003; missing locally: 1. */
	CTL(&r, "read", "/etc/hostname");
	EXPECT(&r, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "-32003"));
	run_free(&r);
	free(path);
	path = path_in("missing");
	CTL(&r, "read", path);
	EXPECT(&r, 1);
	run_free(&r);
	free(path);
}
END_TEST

/*
 * Issue 11 defect 1: a 40 MiB file at the defaults takes three file.reads
 * whose replies each pass max_output_bytes_per_conn; every one must come,
 * and the bytes must be the file's (compared with cmp(1)).
 */
START_TEST(test_read_big)
{
	const size_t len = 40u << 20;
	struct run r;
	char *path, *copy, *cmd;
	unsigned long long x = 0x9e3779b97f4a7c15ULL;
	char *data;

	data = malloc(len);
	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (char)x;
	}
	path = path_in("big.bin");
	copy = path_in("big.copy");
	write_file(path, data, len);
	free(data);
	CTL(&r, "read", path);
	EXPECT(&r, 0);
	write_file(copy, r.out, r.outlen);
	run_free(&r);
	ck_assert(asprintf(&cmd, "cmp '%s' '%s'", path, copy) > 0);
	ck_assert_msg(system(cmd) == 0, "sbkctl read: the bytes differ");
	free(cmd);
	free(path);
	free(copy);
}
END_TEST

START_TEST(test_cancel_and_call)
{
	struct run r;
	const char *session = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
			      "\"sleep\",\"params\":{\"ms\":5000}}\n"
			      "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"job."
			      "cancel\",\"params\":{\"id\":7}}\n";

	CTL(&r, "cancel", "42");
	EXPECT(&r, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "not cancelled"));
	run_free(&r);
	CTL(&r, "--json", "cancel", "abc");
	EXPECT(&r, 1);
	ck_assert_str_eq(r.out, "{\"cancelled\":false}\n");
	run_free(&r);

	CTL(&r, "call", "sleep", "{\"ms\":5}");
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\"slept_ms\""));
	run_free(&r);
	CTL(&r, "call", "no.such");
	EXPECT(&r, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "-32601"));
	run_free(&r);
	CTL(&r, "--json", "call", "sleep", "{\"ms\":\"x\"}");
	EXPECT(&r, 3);
	ck_assert_ptr_nonnull(strstr(r.out, "\"code\":-32602"));
	run_free(&r);

	/* A session: the cancel works on the same connection. */
	CTL_IN(&r, session, "call", "-");
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\"cancelled\":true"));
	ck_assert_ptr_nonnull(strstr(r.out, "-32002"));
	run_free(&r);
}
END_TEST

/* The connection serial of the client with this many jobs in flight. */
static long long
serial_with_inflight(long long inflight)
{
	struct run r;
	json_t *j, *e;
	long long serial = 0;
	size_t i;

	CTL(&r, "--json", "clients");
	EXPECT(&r, 0);
	j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	json_array_foreach(json_object_get(j, "clients"), i, e)
		if (json_integer_value(json_object_get(e, "inflight")) ==
		    inflight)
			serial = json_integer_value(json_object_get(e, "conn"));
	ck_assert_int_gt(serial, 0);
	json_decref(j);
	run_free(&r);
	return serial;
}

/* clients, jobs, cancel --conn and reload (the admin.* methods). */
START_TEST(test_admin_verbs)
{
	struct hx_conn *bg;
	struct run r;
	json_t *j, *rep;
	char conn[32];
	FILE *f;

	/* Another client with two jobs in flight. */
	bg = hx_connect(&d);
	hx_send_line(bg,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"bg-1\",\"method\":"
	    "\"sleep\",\"params\":{\"ms\":60000}}");
	hx_send_line(bg,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"42\",\"method\":"
	    "\"sleep\",\"params\":{\"ms\":60000}}");
	json_decref(hx_wait_stat_ge(bg, "workers.io.busy", 2));

	CTL(&r, "clients");
	EXPECT(&r, 0);
	ck_assert_msg(strstr(r.out, "CONN") && strstr(r.out, "INFLIGHT") &&
		strstr(r.out, "OUTPUT") && strstr(r.out, "AGE"),
	    "%s", r.out);
	run_free(&r);
	snprintf(conn, sizeof(conn), "%lld", serial_with_inflight(2));

	/* A string id that reads as a number is quoted, as cancel wants it. */
	CTL(&r, "jobs");
	EXPECT(&r, 0);
	ck_assert_msg(strstr(r.out, "METHOD") && strstr(r.out, " bg-1 ") &&
		strstr(r.out, "\"42\"") && strstr(r.out, "sleep") &&
		strstr(r.out, "running"),
	    "%s", r.out);
	run_free(&r);
	CTL(&r, "--json", "jobs");
	EXPECT(&r, 0);
	j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "jobs")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "total")), 2);
	json_decref(j);
	run_free(&r);

	CTL(&r, "cancel", "--conn", conn, "bg-1");
	EXPECT(&r, 0);
	ck_assert_str_eq(r.out, "cancelled\n");
	run_free(&r);
	rep = hx_read_json(bg);
	hx_expect_error(rep, "\"bg-1\"", -32002);
	json_decref(rep);
	CTL(&r, "--json", "cancel", "--conn", conn, "\"42\"");
	EXPECT(&r, 0);
	ck_assert_str_eq(r.out, "{\"cancelled\":true}\n");
	run_free(&r);
	rep = hx_read_json(bg);
	hx_expect_error(rep, "\"42\"", -32002);
	json_decref(rep);
	CTL(&r, "cancel", "--conn", conn, "bg-1");
	EXPECT(&r, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "not cancelled"));
	run_free(&r);
	CTL(&r, "cancel", "--conn", "0", "bg-1");
	EXPECT(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--conn"));
	run_free(&r);

	CTL(&r, "reload");
	EXPECT(&r, 0);
	ck_assert_str_eq(r.out, "configuration generation 2 in force\n");
	run_free(&r);
	CTL(&r, "--json", "reload");
	EXPECT(&r, 0);
	ck_assert_str_eq(r.out, "{\"config_generation\":3}\n");
	run_free(&r);
	/* A file the daemon refuses: its exact error, exit 3. */
	f = fopen(d.conf, "a");
	ck_assert_ptr_nonnull(f);
	fputs("[pool]\nqueue_max = lots\n", f);
	fclose(f);
	CTL(&r, "reload");
	EXPECT(&r, 3);
	ck_assert_msg(strstr(r.err, "sbkd.conf:") && strstr(r.err, "queue_max"),
	    "%s", r.err);
	run_free(&r);
	hx_close(bg);
}
END_TEST

/* Another uid, not an admin: -32003, exit 3, for each admin verb. */
START_TEST(test_admin_verbs_refused)
{
	static const char *const verbs[] = { "clients", "jobs", "reload" };
	struct run r;

	if (getuid() != 0)
		return; /* only root can run sbkctl as another uid */
	ck_assert_int_eq(chmod(d.dir, 0711), 0);
	ck_assert_int_eq(chmod(d.sock, 0666), 0);
	run_as = 65534;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		CTL(&r, verbs[i]);
		EXPECT(&r, 3);
		ck_assert_msg(strstr(r.err, "permission denied"), "%s", r.err);
		run_free(&r);
	}
	CTL(&r, "cancel", "--conn", "1", "7");
	EXPECT(&r, 3);
	run_free(&r);
	CTL(&r, "ping");
	EXPECT(&r, 0);
	run_free(&r);
	run_as = 0;
}
END_TEST

START_TEST(test_bench)
{
	struct run r;
	json_t *j, *lat;

	CTL(&r, "bench", "-n", "500", "-c", "3", "-p", "4", "--json");
	EXPECT(&r, 0);
	j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "sent")), 500);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "ok")), 500);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "lost")), 0);
	lat = json_object_get(j, "latency_ms");
	ck_assert(json_is_number(json_object_get(lat, "p99.9")));
	ck_assert(json_number_value(json_object_get(lat, "p50")) <=
	    json_number_value(json_object_get(lat, "max")));
	ck_assert(json_is_object(json_object_get(j, "probe")));
	json_decref(j);
	run_free(&r);

	/* Duration mode, a job method, error replies counted by code. */
	CTL(&r, "bench", "-d", "300ms", "-c", "2", "-p", "2", "-m", "sleep",
	    "-P", "{\"ms\":-1}", "--probe-ms", "2");
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "throughput"));
	/* Every answer was an error: no work done. */
	ck_assert_ptr_nonnull(strstr(r.out, " req/s (0 ok/s)"));
	ck_assert_ptr_nonnull(strstr(r.out, "-32602"));
	ck_assert_ptr_nonnull(strstr(r.out, "probe (ms)"));
	run_free(&r);

	CTL(&r, "bench", "-n", "10", "-d", "1s");
	EXPECT(&r, 2);
	run_free(&r);
}
END_TEST

/* Kill the daemon under a running bench: exit 4 and a failure line. */
START_TEST(test_bench_daemon_dies)
{
	struct run r;
	pid_t pid;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		hx_msleep(300);
		kill(d.pid, SIGKILL);
		_exit(0);
	}
	CTL(&r, "bench", "-d", "5s", "-m", "sleep", "-P", "{\"ms\":20}",
	    "--json");
	waitpid(pid, NULL, 0);
	EXPECT(&r, 4);
	ck_assert_ptr_nonnull(strstr(r.out, "\"failure\""));
	run_free(&r);
}
END_TEST

/* Issue 16 part 2: durations, -q/-v, --json errors, conflicts, usage. */
START_TEST(test_global_habits)
{
	struct run r;
	json_t *j;

	CTL(&r, "-t", "1.5s", "ping");
	EXPECT(&r, 0);
	run_free(&r);
	CTL(&r, "-t", "200ms", "call", "sleep", "{\"ms\":3000}");
	EXPECT(&r, 4);
	run_free(&r);
	CTL(&r, "-t", "2x", "ping");
	EXPECT(&r, 2);
	run_free(&r);
	CTL(&r, "-q", "ping");
	EXPECT(&r, 0);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	CTL(&r, "-v", "ping");
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.err, "sbkctl: ping: connecting to"));
	run_free(&r);
	/* Conflicting flags: exit 2, one line. */
	CTL(&r, "-q", "-v", "ping");
	EXPECT(&r, 2);
	run_free(&r);
	CTL(&r, "stats", "--json", "--prometheus");
	EXPECT(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot go together"));
	run_free(&r);
	CTL(&r, "stats", "--json", "--watch", "1");
	EXPECT(&r, 2);
	run_free(&r);
	/* Unknown options: one line and "try --help", no usage dump. */
	CTL(&r, "ping", "--bogus");
	EXPECT(&r, 2);
	ck_assert_str_eq(
	    r.err, "sbkctl: ping: unknown option '--bogus' (try --help)\n");
	run_free(&r);
	CTL(&r, "--bogus");
	EXPECT(&r, 2);
	ck_assert_ptr_null(strstr(r.err, "usage:"));
	run_free(&r);
	CTL(&r, "ping", "extra");
	EXPECT(&r, 2);
	ck_assert_ptr_null(strstr(r.err, "usage:"));
	run_free(&r);
	/* --json: errors as an object on stdout too, same exit code. */
	CTL(&r, "--json", "-s", "/nonexistent/sbkd.sock", "ping");
	EXPECT(&r, 4);
	j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	ck_assert_int_eq(json_integer_value(json_object_get(
			     json_object_get(j, "error"), "exit")),
	    4);
	json_decref(j);
	run_free(&r);
	CTL_IN(&r, "pw", "--json", "hash", "--t-cost", "99");
	EXPECT(&r, 3);
	j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	ck_assert_int_eq(json_integer_value(json_object_get(
			     json_object_get(j, "error"), "code")),
	    -32602);
	json_decref(j);
	/* One error format, with the user's option names. */
	ck_assert_msg(
	    strncmp(r.err, "sbkctl: hash: --t-cost", 22) == 0, "%s", r.err);
	run_free(&r);
}
END_TEST

START_TEST(test_password_sources)
{
	struct run r;
	char *pwfile, *empty;

	pwfile = path_in("pw.txt");
	write_file(pwfile, "from a file\n", 12);
	empty = path_in("empty.txt");
	write_file(empty, "", 0);
	CTL(&r, "hash", "--password-file", pwfile);
	EXPECT(&r, 0);
	ck_assert(strncmp(r.out, "$argon2id$", 10) == 0);
	run_free(&r);
	CTL_IN(&r, "from fd 0\n", "hash", "--password-fd", "0");
	EXPECT(&r, 0);
	run_free(&r);
	CTL(&r, "hash", "--password-file", pwfile, "--password-fd", "0");
	EXPECT(&r, 2);
	run_free(&r);
	/* An empty password from a pipe or file: refused unless asked. */
	CTL_IN(&r, "", "hash");
	EXPECT(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--allow-empty"));
	run_free(&r);
	CTL_IN(&r, "\n", "hash");
	EXPECT(&r, 2);
	run_free(&r);
	CTL(&r, "hash", "--password-file", empty);
	EXPECT(&r, 2);
	run_free(&r);
	CTL_IN(&r, "", "hash", "--allow-empty");
	EXPECT(&r, 0);
	run_free(&r);
	CTL(&r, "hash", "--password-file", "/nonexistent/pw");
	EXPECT(&r, 1);
	run_free(&r);
	free(pwfile);
	free(empty);
}
END_TEST

/* compress/decompress as zstd: FILE.zst, -d, -c, -f, -k, several files. */
START_TEST(test_zstd_habits)
{
	struct run r;
	char *a, *b, *az, *bz, *data, *back, *noext;
	size_t len, blen;

	a = path_in("a.txt");
	b = path_in("b.txt");
	az = path_in("a.txt.zst");
	bz = path_in("b.txt.zst");
	noext = path_in("plain");
	data = sample(100000, &len);
	write_file(a, data, len);
	write_file(b, data, len / 2);
	write_file(noext, "x", 1);

	CTL(&r, "compress", a, b);
	EXPECT(&r, 0);
	run_free(&r);
	ck_assert_msg(
	    access(az, F_OK) == 0 && access(bz, F_OK) == 0, "FILE.zst missing");
	ck_assert_int_eq(access(a, F_OK), 0); /* -k: always kept */
	/* Decompressing back onto a.txt needs -f. */
	CTL(&r, "decompress", az);
	EXPECT(&r, 3);
	run_free(&r);
	CTL(&r, "compress", "-d", "-f", "-k", az);
	EXPECT(&r, 0);
	run_free(&r);
	back = read_file(a, &blen);
	ck_assert_int_eq(blen, len);
	ck_assert(memcmp(back, data, len) == 0);
	free(back);
	/* -c: to standard output. */
	CTL(&r, "decompress", "-c", bz);
	EXPECT(&r, 0);
	ck_assert_int_eq(r.outlen, len / 2);
	run_free(&r);
	CTL(&r, "compress", "-o", "-", a);
	EXPECT(&r, 0);
	ck_assert(memcmp(r.out, "\x28\xb5\x2f\xfd", 4) == 0);
	run_free(&r);
	/* zstd's refusals. */
	CTL(&r, "decompress", noext);
	EXPECT(&r, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "unknown suffix"));
	run_free(&r);
	CTL(&r, "compress", "-c", "-o", az, a);
	EXPECT(&r, 2);
	run_free(&r);
	CTL(&r, "compress", "-o", az, a, b);
	EXPECT(&r, 2);
	run_free(&r);
	/* -q: no summary line. */
	CTL(&r, "-q", "compress", "-f", a);
	EXPECT(&r, 0);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	free(data);
	free(a);
	free(b);
	free(az);
	free(bz);
	free(noext);
}
END_TEST

/* The table: values aligned for any name length, histograms summed up. */
START_TEST(test_stats_table)
{
	struct run r;
	char *line, *save, *col;
	int want = -1, at;

	CTL(&r, "ping");
	run_free(&r);
	CTL(&r, "stats");
	EXPECT(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "p50 <="));
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		col = strstr(line, "  ");
		ck_assert_msg(col != NULL, "no column: %s", line);
		while (*col == ' ')
			col++;
		at = (int)(col - line);
		if (want == -1)
			want = at;
		ck_assert_msg(at == want, "misaligned: '%s'", line);
	}
	run_free(&r);
}
END_TEST

static Suite *
sbkctl_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("sbkctl");
	tc = tcase_create("commands");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_ping_version_help);
	tcase_add_test(tc, test_usage_errors);
	tcase_add_test(tc, test_connect_and_timeout);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_hash_verify);
	tcase_add_test(tc, test_read);
	tcase_add_test(tc, test_read_big);
	tcase_add_test(tc, test_cancel_and_call);
	tcase_add_test(tc, test_admin_verbs);
	tcase_add_test(tc, test_admin_verbs_refused);
	tcase_add_test(tc, test_bench);
	tcase_add_test(tc, test_bench_daemon_dies);
	tcase_add_test(tc, test_global_habits);
	tcase_add_test(tc, test_password_sources);
	tcase_add_test(tc, test_stats_table);
	suite_add_tcase(s, tc);
	/* Its own case: meson's sbkctl_isolated runs it alone. */
	tc = tcase_create("zstd");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_compress_inline);
	tcase_add_test(tc, test_compress_paths);
	tcase_add_test(tc, test_zstd_habits);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return hx_run_suite(sbkctl_suite());
}
