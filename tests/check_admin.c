/*
 * check_admin.c - the admin.* methods of contract 1.3 through a real sbkd:
 * admin.clients, admin.jobs, admin.cancel and admin.reload, who may call
 * them (uid 0, [access] admin_uids / admin_gids; -32003 for anyone else,
 * tested from a child that drops to another uid before it connects), the
 * bounded size of the listings, and their params.
 *
 * The tests that change uid need root; run as another user they say so
 * and pass without checking it (the suite is then run with admin_uids
 * set to the test's own uid).
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

#define NOBODY 65534

/* Every config here: the socket open to other uids, the test methods. */
#define CONF_BASE                      \
	"[daemon]\n"                   \
	"enable_test_methods = true\n" \
	"socket_mode = 0666\n"

static struct hx_daemon d;

static void
teardown(void)
{
	hx_daemon_free(&d);
}

/*
 * Start sbkd with CONF_BASE + extra; when the test does not run as root,
 * its own uid is made an admin so the rest still runs.  The directory is
 * opened to other uids (mkdtemp makes it 0700).
 */
static void
up(const char *extra)
{
	char *text;

	ck_assert_int_ge(asprintf(&text, "%s%s", CONF_BASE, extra), 0);
	if (getuid() != 0) {
		char *more;

		ck_assert_int_ge(
		    asprintf(&more, "%s\n[access]\nadmin_uids = %ld\n", text,
			(long)getuid()),
		    0);
		free(text);
		text = more;
	}
	hx_daemon_up(&d, text);
	free(text);
	ck_assert_int_eq(chmod(d.dir, 0711), 0);
}

static void
rewrite_conf(const char *text)
{
	FILE *f = fopen(d.conf, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static bool
need_root(void)
{
	if (getuid() == 0)
		return true;
	fprintf(stderr, "check_admin: not root: cannot test other uids\n");
	return false;
}

/* The result of a call that must succeed (a new reference). */
static json_t *
call_ok(
    struct hx_conn *c, const char *id, const char *method, const char *params)
{
	json_t *r, *res;

	r = hx_callf(c, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"%s\"%s%s}",
	    id, method, params ? ",\"params\":" : "", params ? params : "");
	res = json_incref(hx_expect_result(r, id));
	json_decref(r);
	return res;
}

static void
call_param_error(struct hx_conn *c, const char *id, const char *method,
    const char *params, const char *param)
{
	json_t *r;

	r = hx_callf(c, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"%s\"%s%s}",
	    id, method, params ? ",\"params\":" : "", params ? params : "");
	hx_expect_param_error(r, id, param);
	json_decref(r);
}

/* The serial of the n-th connection admin.clients lists (0-based). */
static long long
serial_at(struct hx_conn *admin, size_t n)
{
	json_t *res = call_ok(admin, "\"ser\"", "admin.clients", NULL);
	json_t *list = json_object_get(res, "clients");
	long long serial;

	ck_assert_msg(
	    json_array_size(list) > n, "fewer than %zu clients", n + 1);
	serial = json_integer_value(
	    json_object_get(json_array_get(list, n), "conn"));
	json_decref(res);
	return serial;
}

/* Read one line from fd within the hang guard; malloc'd, or NULL. */
static char *
raw_read_line(int fd)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char ch;

		if (poll(&p, 1, HX_TIMEOUT_MS) != 1 || read(fd, &ch, 1) != 1) {
			free(buf);
			return NULL;
		}
		if (len + 2 > cap) {
			cap = cap ? cap * 2 : 256;
			if ((buf = realloc(buf, cap)) == NULL)
				return NULL;
		}
		if (ch == '\n') {
			buf[len] = '\0';
			return buf;
		}
		buf[len++] = ch;
	}
}

/*
 * As another peer: fork, drop to gid and uid (supplementary groups
 * cleared) before connecting, send each line and read one reply per line.
 * The child uses no Check assertion: it writes the replies to a pipe and
 * exits 0, or exits non-zero saying why.  Returns the replies as a JSON
 * array (a new reference).
 */
static json_t *
as_peer(uid_t uid, gid_t gid, const char *const *lines)
{
	int pfd[2], status;
	json_t *all = json_array();
	pid_t pid;
	char *line;
	FILE *f;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd;

		close(pfd[0]);
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			perror("as_peer: drop privileges");
			_exit(2);
		}
		if (strlen(d.sock) >= sizeof(sa.sun_path))
			_exit(7);
		memcpy(sa.sun_path, d.sock, strlen(d.sock) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("as_peer: connect");
			_exit(3);
		}
		for (; *lines != NULL; lines++) {
			char *reply;

			/* A refused peer may find the socket closed. */
			(void)!send(fd, *lines, strlen(*lines), MSG_NOSIGNAL);
			(void)!send(fd, "\n", 1, MSG_NOSIGNAL);
			if ((reply = raw_read_line(fd)) == NULL) {
				fprintf(stderr, "as_peer: no reply to %s\n",
				    *lines);
				_exit(5);
			}
			if (dprintf(pfd[1], "%s\n", reply) < 0)
				_exit(6);
			free(reply);
		}
		_exit(0);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	ck_assert_ptr_nonnull(f);
	for (;;) {
		size_t cap = 0;
		ssize_t n;
		json_t *v;

		line = NULL;
		n = getline(&line, &cap, f);
		if (n < 0) {
			free(line);
			break;
		}
		v = json_loads(line, 0, NULL);
		ck_assert_msg(v != NULL, "not JSON: %s", line);
		json_array_append_new(all, v);
		free(line);
	}
	fclose(f);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the peer as uid %ld failed (status %#x)", (long)uid, status);
	return all;
}

/* The entry of list whose "conn" is serial, or NULL. */
static json_t *
entry_of(json_t *list, long long serial)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		if (json_integer_value(json_object_get(e, "conn")) == serial)
			return e;
	return NULL;
}

static long long
member_int(json_t *e, const char *name)
{
	json_t *v = json_object_get(e, name);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", name);
	return json_integer_value(v);
}

/* --- admin.clients and admin.jobs --- */

START_TEST(test_clients_and_jobs)
{
	struct hx_conn *admin, *a, *b, *c;
	json_t *res, *list, *e, *st;
	long long sa, sb, sc, sadmin;
	size_t i;

	up("[pool]\ncpu_workers = 1\nio_workers = 1\nqueue_max = 64\n");
	admin = hx_connect(&d);
	a = hx_connect(&d);
	b = hx_connect(&d);
	/* One sleep runs (one I/O worker), two wait behind it. */
	for (i = 1; i <= 3; i++)
		hx_sendf(a,
		    "{\"jsonrpc\":\"2.0\",\"id\":\"a%zu\",\"method\":"
		    "\"sleep\",\"params\":{\"ms\":60000}}",
		    i);
	json_decref(hx_wait_stat(admin, "workers.io.busy", 1));
	json_decref(hx_wait_stat(admin, "queue.depth", 2));

	res = call_ok(admin, "1", "admin.clients", NULL);
	list = json_object_get(res, "clients");
	ck_assert_uint_eq(json_array_size(list), 3);
	ck_assert_int_eq(member_int(res, "total"), 3);
	ck_assert(json_is_false(json_object_get(res, "truncated")));
	/* In the order they connected, serials rising. */
	sadmin = member_int(json_array_get(list, 0), "conn");
	sa = member_int(json_array_get(list, 1), "conn");
	sb = member_int(json_array_get(list, 2), "conn");
	ck_assert_int_lt(sadmin, sa);
	ck_assert_int_lt(sa, sb);
	json_array_foreach(list, i, e) {
		ck_assert_int_eq(member_int(e, "pid"), getpid());
		ck_assert_int_eq(member_int(e, "uid"), getuid());
		ck_assert_int_eq(member_int(e, "gid"), getegid());
		ck_assert_int_ge(member_int(e, "age_ms"), 0);
		ck_assert_int_ge(member_int(e, "output_bytes"), 0);
	}
	e = entry_of(list, sa);
	ck_assert_int_eq(member_int(e, "inflight"), 3);
	ck_assert_int_eq(member_int(e, "waiting"), 2);
	e = entry_of(list, sb);
	ck_assert_int_eq(member_int(e, "inflight"), 0);
	ck_assert_int_eq(member_int(e, "waiting"), 0);
	json_decref(res);

	/* a's jobs, oldest first: a1 running, a2 and a3 waiting. */
	res = call_ok(admin, "2", "admin.jobs", "[]");
	list = json_object_get(res, "jobs");
	ck_assert_uint_eq(json_array_size(list), 3);
	ck_assert_int_eq(member_int(res, "total"), 3);
	json_array_foreach(list, i, e) {
		char want[32];

		snprintf(want, sizeof(want), "a%zu", i + 1);
		ck_assert_int_eq(member_int(e, "conn"), sa);
		ck_assert_str_eq(
		    json_string_value(json_object_get(e, "id")), want);
		ck_assert_str_eq(
		    json_string_value(json_object_get(e, "method")), "sleep");
		ck_assert_str_eq(json_string_value(json_object_get(e, "state")),
		    i == 0 ? "running" : "waiting");
		ck_assert_int_ge(member_int(e, "waited_ms"), 0);
		ck_assert_int_ge(member_int(e, "ran_ms"), 0);
		if (i > 0)
			ck_assert_int_eq(member_int(e, "ran_ms"), 0);
	}
	json_decref(res);

	/* A serial is never reused: b goes, c comes with a new one. */
	hx_close(b);
	json_decref(hx_wait_stat(admin, "connections", 2));
	c = hx_connect(&d);
	json_decref(hx_wait_stat(admin, "connections", 3));
	res = call_ok(admin, "3", "admin.clients", "{}");
	list = json_object_get(res, "clients");
	ck_assert_uint_eq(json_array_size(list), 3);
	ck_assert_ptr_null(entry_of(list, sb));
	sc = member_int(json_array_get(list, 2), "conn");
	ck_assert_int_gt(sc, sb);
	json_decref(res);

	/* Not jobs: admin.* calls leave jobs.* alone. */
	st = hx_stats_on(admin);
	ck_assert_int_eq(hx_int_at(st, "jobs.accepted"), 3);
	ck_assert_int_eq(hx_int_at(st, "jobs.completed"), 0);
	ck_assert_int_eq(hx_int_at(st, "jobs.failed"), 0);
	json_decref(st);
	hx_close(a);
	hx_close(c);
	hx_close(admin);
}
END_TEST

/* Only the id, the method and times: never params (passwords, data). */
START_TEST(test_jobs_hide_params)
{
	struct hx_conn *admin, *a;
	json_t *res, *list, *e;
	char *line;
	size_t i;
	bool saw_null = false, saw_hash = false;

	up("[pool]\ncpu_workers = 1\nio_workers = 1\nqueue_max = 64\n");
	admin = hx_connect(&d);
	a = hx_connect(&d);
	hx_send_line(a,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"spin\","
	    "\"params\":{\"ms\":60000}}");
	json_decref(hx_wait_stat(admin, "workers.cpu.busy", 1));
	hx_send_line(a,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"argon2.hash\","
	    "\"params\":{\"password\":\"Pw-not-to-be-shown\","
	    "\"m_cost_kib\":8,\"t_cost\":1}}");
	/* A notification is a job too: its id is null. */
	hx_send_line(a,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"zstd.compress\","
	    "\"params\":{\"data_b64\":\"U2VjcmV0LWRhdGE=\"}}");
	json_decref(hx_wait_stat(admin, "queue.depth", 2));

	hx_send_line(admin,
	    "{\"jsonrpc\":\"2.0\",\"id\":9,"
	    "\"method\":\"admin.jobs\"}");
	line = hx_read_line(admin);
	ck_assert_msg(strstr(line, "Pw-not-to-be-shown") == NULL, "%s", line);
	ck_assert_msg(strstr(line, "U2VjcmV0") == NULL, "%s", line);
	ck_assert_msg(strstr(line, "params") == NULL, "%s", line);
	res = json_loads(line, 0, NULL);
	ck_assert_ptr_nonnull(res);
	list = json_object_get(json_object_get(res, "result"), "jobs");
	ck_assert_uint_eq(json_array_size(list), 3);
	json_array_foreach(list, i, e) {
		const char *m = json_string_value(json_object_get(e, "method"));

		ck_assert_uint_eq(json_object_size(e), 6);
		if (json_is_null(json_object_get(e, "id"))) {
			ck_assert_str_eq(m, "zstd.compress");
			saw_null = true;
		}
		if (strcmp(m, "argon2.hash") == 0) {
			ck_assert_int_eq(member_int(e, "id"), 2);
			ck_assert_str_eq(
			    json_string_value(json_object_get(e, "state")),
			    "waiting");
			saw_hash = true;
		}
	}
	ck_assert(saw_null && saw_hash);
	json_decref(res);
	free(line);
	hx_close(a);
	hx_close(admin);
}
END_TEST

/*
 * Bounded: with max_output_bytes_per_conn at its floor (4096) the
 * listings stop short of it, say truncated and count everything.
 */
START_TEST(test_listings_bounded)
{
	enum { NCONN = 40, NJOBS = 60 };
	struct hx_conn *admin, *conns[NCONN], *a;
	json_t *res, *result, *list;
	char *line;
	size_t i;

	up("[daemon]\nmax_output_bytes_per_conn = 4096\n"
	   "[pool]\ncpu_workers = 1\nio_workers = 1\nqueue_max = 100\n"
	   "max_inflight_per_conn = 100\n");
	admin = hx_connect(&d);
	for (i = 0; i < NCONN; i++)
		conns[i] = hx_connect(&d);
	a = conns[0];
	for (i = 0; i < NJOBS; i++)
		hx_sendf(a,
		    "{\"jsonrpc\":\"2.0\",\"id\":\"job-with-a-rather-long-id-"
		    "to-fill-the-listing-%03zu\",\"method\":\"sleep\","
		    "\"params\":{\"ms\":60000}}",
		    i);
	json_decref(hx_wait_stat(admin, "connections", NCONN + 1));
	json_decref(hx_wait_stat(admin, "queue.depth", NJOBS - 1));

	hx_send_line(admin,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"admin.clients\"}");
	line = hx_read_line(admin);
	ck_assert_msg(strlen(line) <= 4096, "%zu bytes", strlen(line));
	res = json_loads(line, 0, NULL);
	result = hx_expect_result(res, "1");
	list = json_object_get(result, "clients");
	ck_assert(json_is_true(json_object_get(result, "truncated")));
	ck_assert_int_eq(member_int(result, "total"), NCONN + 1);
	ck_assert_uint_gt(json_array_size(list), 0);
	ck_assert_uint_lt(json_array_size(list), NCONN + 1);
	json_decref(res);
	free(line);

	hx_send_line(
	    admin, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"admin.jobs\"}");
	line = hx_read_line(admin);
	ck_assert_msg(strlen(line) <= 4096, "%zu bytes", strlen(line));
	res = json_loads(line, 0, NULL);
	result = hx_expect_result(res, "2");
	list = json_object_get(result, "jobs");
	ck_assert(json_is_true(json_object_get(result, "truncated")));
	ck_assert_int_eq(member_int(result, "total"), NJOBS);
	ck_assert_uint_gt(json_array_size(list), 0);
	ck_assert_uint_lt(json_array_size(list), NJOBS);
	/* A prefix, oldest first. */
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(list, 0), "id")),
	    "job-with-a-rather-long-id-to-fill-the-listing-000");
	json_decref(res);
	free(line);
	for (i = 0; i < NCONN; i++)
		hx_close(conns[i]);
	hx_close(admin);
}
END_TEST

/* --- admin.cancel --- */

START_TEST(test_cancel_other_connection)
{
	struct hx_conn *admin, *a;
	json_t *res, *r;
	long long sa, sadmin;
	char params[128];

	/* a is held at 3 jobs in flight: its ping waits unread. */
	up("[pool]\ncpu_workers = 1\nio_workers = 1\nqueue_max = 64\n"
	   "max_inflight_per_conn = 3\n");
	admin = hx_connect(&d);
	a = hx_connect(&d);
	hx_send_line(a,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"a1\",\"method\":"
	    "\"sleep\",\"params\":{\"ms\":60000}}");
	hx_send_line(a,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"a2\",\"method\":"
	    "\"sleep\",\"params\":{\"ms\":60000}}");
	hx_send_line(a,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"a3\",\"method\":"
	    "\"sleep\",\"params\":{\"ms\":60000}}");
	hx_send_line(
	    a, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
	json_decref(hx_wait_stat(admin, "queue.depth", 2));
	ck_assert(hx_quiet_for(a, 200));
	sadmin = serial_at(admin, 0);
	sa = serial_at(admin, 1);

	/* A waiting job: a gets -32002, then its ping is read. */
	snprintf(params, sizeof(params), "{\"conn\":%lld,\"id\":\"a2\"}", sa);
	res = call_ok(admin, "1", "admin.cancel", params);
	ck_assert(json_is_true(json_object_get(res, "cancelled")));
	json_decref(res);
	r = hx_read_json(a);
	hx_expect_error(r, "\"a2\"", -32002);
	json_decref(r);
	r = hx_read_json(a);
	ck_assert(json_is_true(
	    json_object_get(hx_expect_result(r, "\"p\""), "pong")));
	json_decref(r);

	/* The running one. */
	snprintf(params, sizeof(params), "{\"conn\":%lld,\"id\":\"a1\"}", sa);
	res = call_ok(admin, "2", "admin.cancel", params);
	ck_assert(json_is_true(json_object_get(res, "cancelled")));
	json_decref(res);
	r = hx_read_json(a);
	hx_expect_error(r, "\"a1\"", -32002);
	json_decref(r);

	/* Already answered; an id a never sent; a connection never seen. */
	res = call_ok(admin, "3", "admin.cancel", params);
	ck_assert(json_is_false(json_object_get(res, "cancelled")));
	json_decref(res);
	snprintf(params, sizeof(params), "{\"conn\":%lld,\"id\":77}", sa);
	res = call_ok(admin, "4", "admin.cancel", params);
	ck_assert(json_is_false(json_object_get(res, "cancelled")));
	json_decref(res);
	res = call_ok(
	    admin, "5", "admin.cancel", "{\"conn\":9999999,\"id\":\"a3\"}");
	ck_assert(json_is_false(json_object_get(res, "cancelled")));
	json_decref(res);

	/* One of the admin's own, as job.cancel would. */
	hx_send_line(admin,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"own\",\"method\":"
	    "\"sleep\",\"params\":{\"ms\":60000}}");
	snprintf(
	    params, sizeof(params), "{\"conn\":%lld,\"id\":\"own\"}", sadmin);
	hx_sendf(admin,
	    "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"admin.cancel\","
	    "\"params\":%s}",
	    params);
	r = hx_read_json(admin);
	hx_expect_error(r, "\"own\"", -32002);
	json_decref(r);
	r = hx_read_json(admin);
	ck_assert(json_is_true(
	    json_object_get(hx_expect_result(r, "6"), "cancelled")));
	json_decref(r);

	/* a still works and a3 is still there. */
	res = call_ok(admin, "7", "admin.jobs", NULL);
	ck_assert_int_eq(member_int(res, "total"), 1);
	json_decref(res);
	r = hx_call(
	    a, "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":\"ping\"}");
	hx_expect_result(r, "\"q\"");
	json_decref(r);
	hx_close(a);
	hx_close(admin);
}
END_TEST

/*
 * A job of a batch: its -32002 waits in the batch reply, so no output
 * wakes the connection; the freed slot must still let it read on.
 */
START_TEST(test_cancel_in_batch_resumes)
{
	struct hx_conn *admin, *a;
	json_t *res, *r;
	char params[128];
	long long sa;

	up("[pool]\ncpu_workers = 1\nio_workers = 1\nqueue_max = 64\n"
	   "max_inflight_per_conn = 3\n");
	admin = hx_connect(&d);
	a = hx_connect(&d);
	hx_send_line(a,
	    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\","
	    "\"params\":{\"ms\":60000}},"
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"sleep\","
	    "\"params\":{\"ms\":60000}},"
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"sleep\","
	    "\"params\":{\"ms\":60000}}]");
	hx_send_line(
	    a, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
	json_decref(hx_wait_stat(admin, "queue.depth", 2));
	ck_assert(hx_quiet_for(a, 200));
	sa = serial_at(admin, 1);
	snprintf(params, sizeof(params), "{\"conn\":%lld,\"id\":3}", sa);
	res = call_ok(admin, "1", "admin.cancel", params);
	ck_assert(json_is_true(json_object_get(res, "cancelled")));
	json_decref(res);
	r = hx_read_json(a);
	ck_assert(json_is_true(
	    json_object_get(hx_expect_result(r, "\"p\""), "pong")));
	json_decref(r);
	hx_close(a);
	hx_close(admin);
}
END_TEST

START_TEST(test_cancel_params)
{
	struct hx_conn *c;

	up("");
	c = hx_connect(&d);
	call_param_error(c, "1", "admin.cancel", NULL, "conn");
	call_param_error(c, "2", "admin.cancel", "{\"id\":1}", "conn");
	call_param_error(
	    c, "3", "admin.cancel", "{\"conn\":\"1\",\"id\":1}", "conn");
	call_param_error(
	    c, "4", "admin.cancel", "{\"conn\":0,\"id\":1}", "conn");
	call_param_error(
	    c, "5", "admin.cancel", "{\"conn\":1.5,\"id\":1}", "conn");
	call_param_error(c, "6", "admin.cancel", "{\"conn\":1}", "id");
	call_param_error(
	    c, "7", "admin.cancel", "{\"conn\":1,\"id\":1.5}", "id");
	call_param_error(
	    c, "8", "admin.cancel", "{\"conn\":1,\"id\":null}", "id");
	call_param_error(
	    c, "9", "admin.cancel", "{\"conn\":1,\"id\":1,\"x\":1}", "x");
	call_param_error(c, "10", "admin.cancel", "[]", "params");
	/* The listings take none: [] and {} are none, anything else not. */
	call_param_error(c, "11", "admin.clients", "[1]", "params");
	call_param_error(c, "12", "admin.jobs", "{\"all\":true}", "all");
	call_param_error(c, "13", "admin.reload", "[\"now\"]", "params");
	call_param_error(
	    c, "14", "admin.jobs", "{\"timeout_ms\":0}", "timeout_ms");
	hx_close(c);
}
END_TEST

/* --- admin.reload --- */

START_TEST(test_reload)
{
	struct hx_conn *admin, *a;
	json_t *res, *r, *err, *st;
	const char *why;

	up("[pool]\nio_workers = 2\nmax_inflight_per_conn = 1\n");
	admin = hx_connect(&d);
	a = hx_connect(&d);
	/* a is held at its one slot: its ping waits unread. */
	hx_send_line(a,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"sleep\",\"params\":{\"ms\":60000}}");
	hx_send_line(a, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	json_decref(hx_wait_stat(admin, "workers.io.busy", 1));
	ck_assert(hx_quiet_for(a, 200));

	rewrite_conf(CONF_BASE "[pool]\nio_workers = 2\nqueue_max = 77\n"
			       "max_inflight_per_conn = 4\n");
	res = call_ok(admin, "1", "admin.reload", NULL);
	ck_assert_int_eq(member_int(res, "config_generation"), 2);
	json_decref(res);
	/* In force at once, and the raised limit lets a's ping through. */
	st = hx_stats_on(admin);
	ck_assert_int_eq(hx_int_at(st, "config_generation"), 2);
	ck_assert_int_eq(hx_int_at(st, "queue.max"), 77);
	json_decref(st);
	r = hx_read_json(a);
	hx_expect_result(r, "2");
	json_decref(r);

	/* A broken file: the exact error, and generation 2 stays. */
	rewrite_conf(CONF_BASE "[pool]\nqueue_max = banana\n");
	r = hx_call(admin,
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"admin.reload\"}");
	err = hx_expect_error(r, "3", -32603);
	why = json_string_value(
	    json_object_get(json_object_get(err, "data"), "error"));
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, "sbkd.conf:5:") != NULL &&
		strstr(why, "queue_max") != NULL,
	    "data.error: %s", why);
	ck_assert_msg(strstr(json_string_value(json_object_get(err, "message")),
			  why) != NULL,
	    "the message does not hold the error");
	json_decref(r);
	st = hx_stats_on(admin);
	ck_assert_int_eq(hx_int_at(st, "config_generation"), 2);
	ck_assert_int_eq(hx_int_at(st, "queue.max"), 77);
	json_decref(st);

	/* SIGHUP and admin.reload count the same generations. */
	rewrite_conf(CONF_BASE "[pool]\nio_workers = 2\nqueue_max = 78\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	json_decref(hx_wait_stat(admin, "config_generation", 3));
	res = call_ok(admin, "4", "admin.reload", "[]");
	ck_assert_int_eq(member_int(res, "config_generation"), 4);
	json_decref(res);
	hx_close(a);
	hx_close(admin);
}
END_TEST

/* --- who may call them --- */

START_TEST(test_refused_to_others)
{
	static const char *const lines[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"admin.clients\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"admin.jobs\","
		"\"params\":[]}",
		"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"admin.cancel\","
		"\"params\":{\"conn\":1,\"id\":1}}",
		"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"admin.reload\"}",
		/* params are checked first (contract 1.1's order). */
		"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"admin.clients\","
		"\"params\":[1]}",
		"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"stats\"}",
		NULL,
	};
	json_t *r, *st;
	struct hx_conn *c;

	if (!need_root())
		return;
	/* Another uid in admin_uids, and nobody's gid not in admin_gids. */
	up("[access]\nadmin_uids = 4242\nadmin_gids = 4242\n");
	c = hx_connect(&d);
	r = as_peer(NOBODY, NOBODY, lines);
	ck_assert_uint_eq(json_array_size(r), 7);
	hx_expect_result(json_array_get(r, 0), "1");
	hx_expect_error(json_array_get(r, 1), "2", -32003);
	hx_expect_error(json_array_get(r, 2), "3", -32003);
	hx_expect_error(json_array_get(r, 3), "4", -32003);
	hx_expect_error(json_array_get(r, 4), "5", -32003);
	hx_expect_param_error(json_array_get(r, 5), "6", "params");
	hx_expect_result(json_array_get(r, 6), "7");
	json_decref(r);
	/* Nothing was reloaded. */
	st = hx_stats_on(c);
	ck_assert_int_eq(hx_int_at(st, "config_generation"), 1);
	json_decref(st);
	hx_close(c);
}
END_TEST

START_TEST(test_allowed_by_uid_and_gid)
{
	static const char *const lines[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"admin.clients\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"admin.reload\"}",
		/* The file no longer names this uid: refused from now on. */
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"admin.jobs\"}",
		NULL,
	};
	static const char *const one[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"admin.jobs\"}",
		NULL,
	};
	json_t *r, *res, *list;

	if (!need_root())
		return;
	up("[access]\nadmin_uids = 65534, 4242\nadmin_gids = 4343\n");
	rewrite_conf(CONF_BASE "[access]\nadmin_uids = 4242\n");
	r = as_peer(NOBODY, NOBODY, lines);
	ck_assert_uint_eq(json_array_size(r), 3);
	res = hx_expect_result(json_array_get(r, 0), "1");
	list = json_object_get(res, "clients");
	ck_assert_uint_eq(json_array_size(list), 1);
	ck_assert_int_eq(member_int(json_array_get(list, 0), "uid"), NOBODY);
	ck_assert_int_eq(member_int(json_array_get(list, 0), "gid"), NOBODY);
	res = hx_expect_result(json_array_get(r, 1), "2");
	ck_assert_int_eq(member_int(res, "config_generation"), 2);
	hx_expect_error(json_array_get(r, 2), "3", -32003);
	json_decref(r);

	/* By gid: 4343 was dropped by that reload, so put it back. */
	rewrite_conf(CONF_BASE "[access]\nadmin_gids = 4343\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	{
		struct hx_conn *c = hx_connect(&d);

		json_decref(hx_wait_stat(c, "config_generation", 3));
		hx_close(c);
	}
	r = as_peer(4444, 4343, one);
	hx_expect_result(json_array_get(r, 0), "1");
	json_decref(r);
	r = as_peer(4343, 4444, one);
	hx_expect_error(json_array_get(r, 0), "1", -32003);
	json_decref(r);
}
END_TEST

/* An admin must still pass allow_*: admin_uids does not open the door. */
START_TEST(test_admin_still_needs_allow)
{
	static const char *const lines[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"admin.clients\"}",
		NULL,
	};
	json_t *r;

	if (!need_root())
		return;
	up("[access]\nallow_uids = 0\nadmin_uids = 65534\n");
	r = as_peer(NOBODY, NOBODY, lines);
	ck_assert_uint_eq(json_array_size(r), 1);
	hx_expect_error(json_array_get(r, 0), "null", -32003);
	json_decref(r);
}
END_TEST

static Suite *
admin_suite(void)
{
	Suite *s = suite_create("admin");
	TCase *tc;

	tc = tcase_create("listings");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_clients_and_jobs);
	tcase_add_test(tc, test_jobs_hide_params);
	tcase_add_test(tc, test_listings_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_cancel_other_connection);
	tcase_add_test(tc, test_cancel_in_batch_resumes);
	tcase_add_test(tc, test_cancel_params);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_reload);
	suite_add_tcase(s, tc);

	tc = tcase_create("access");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_refused_to_others);
	tcase_add_test(tc, test_allowed_by_uid_and_gid);
	tcase_add_test(tc, test_admin_still_needs_allow);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return hx_run_suite(admin_suite());
}
