/*
 * harness.h - what the daemon integration suites (check_daemon,
 * check_flow, check_shutdown) share: a temporary directory, a config file
 * written from a string, a real sbkd spawned on a socket in that
 * directory (path from the environment variable SBKD), raw client sockets
 * with line I/O under generous hang-guard timeouts, reply parsing with
 * jansson, and process probes (exit status, VmRSS, open fds).
 *
 * Thread safety: none; call from the test's own (forked) process only.
 * Every failure is a Check assertion (ck_abort_msg), so the harness is
 * used from inside START_TEST bodies or checked fixtures.
 *
 * Logs of failed tests: in fork mode a failed assertion ends the test
 * process at once, without teardown.  The spawned sbkd dies with it
 * (PR_SET_PDEATHSIG) and its temporary directory is left behind; the
 * suite's main calls hx_run_end after srunner_run_all, which prints the
 * log of every directory left by this run and removes it.  A test that
 * passes removes its directory in hx_daemon_free (the checked teardown).
 */
#ifndef SBK_TESTS_HARNESS_H
#define SBK_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <check.h>
#include <jansson.h>

/*
 * Hang guard for every wait: long enough that a slow build never trips it.
 * SBK_TEST_SLOW=N (1-20) multiplies it, and hx_slow() the job durations
 * of the tests that must catch a job while it runs, for the runs under
 * valgrind or ThreadSanitizer (scripts/check-extra).
 */
#define HX_TIMEOUT_MS (10000 * hx_slow())
int hx_slow(void);
/* True under `meson test --setup valgrind` (SBK_UNDER_VALGRIND set). */
bool hx_under_valgrind(void);

struct hx_daemon {
	char dir[256];	/* the temporary directory */
	char conf[300]; /* dir/sbkd.conf */
	char sock[300]; /* dir/sbkd.sock */
	char log[300];	/* dir/sbkd.log: the daemon's stderr */
	pid_t pid;	/* 0 when none or reaped */
	int status;	/* wait status, once reaped */
	bool reaped;
	/* Set before starting: RLIMIT_NOFILE (soft and hard) when > 0. */
	long nofile;
	/* Set before starting: a descriptor > 2 sbkd inherits (the only one
	 * besides 0-2), e.g. a pipe given as -c /dev/fd/N; 0: none. */
	int keep_fd;
};

/*
 * Make a temporary directory and write conf_text as its sbkd.conf (the
 * text may be NULL: an empty file).  The socket path is passed with -s.
 * Does not start sbkd.
 */
void hx_daemon_init(struct hx_daemon *, const char *conf_text);

/*
 * Spawn "$SBKD -c conf -s sock" with stderr (and stdout) to the log file
 * and wait up to HX_TIMEOUT_MS until the socket accepts a connection.
 */
void hx_daemon_start(struct hx_daemon *);

/* hx_daemon_init + hx_daemon_start in one call. */
void hx_daemon_up(struct hx_daemon *, const char *conf_text);

/*
 * Spawn $SBKD with exactly the given arguments (argv[0] is supplied),
 * output to the log file, and do not wait for a socket.  For the tests of
 * options and bad configs.  Returns the pid.
 */
pid_t hx_spawn(struct hx_daemon *, const char *const *args);

/*
 * Wait for the daemon to exit, up to timeout_ms (then SIGKILL and fail).
 * Returns the wait status.
 */
int hx_wait_exit(struct hx_daemon *, int timeout_ms);

/* Send SIGTERM and wait; returns the wait status. */
int hx_daemon_stop(struct hx_daemon *);

/* SIGKILL and reap. */
void hx_daemon_kill(struct hx_daemon *);

/* Is the daemon process still running (not exited)? */
bool hx_daemon_alive(struct hx_daemon *);

/* Teardown: kill the daemon if still running, remove the directory. */
void hx_daemon_free(struct hx_daemon *);

/* Print the daemon log to stderr (for a test that wants to show it). */
void hx_daemon_dump_log(struct hx_daemon *);

/*
 * Call once at the start of main (before srunner_run_all): names this
 * run, so that the directories of its tests can be found afterwards.
 */
void hx_run_begin(void);
/* Call after srunner_run_all: print the logs left by failed tests. */
void hx_run_end(void);
/*
 * A daemon suite's whole main: hx_run_begin, run the suite in Check's
 * normal mode, hx_run_end.  Returns the process exit status.
 */
int hx_run_suite(Suite *);

/* The whole daemon log, malloc'd and NUL-terminated ("" if none). */
char *hx_daemon_log(struct hx_daemon *);

/* The daemon's VmRSS in KiB, from /proc/PID/status. */
long hx_rss_kib(pid_t);

/* The number of open fds of pid (entries of /proc/PID/fd). */
int hx_count_fds(pid_t);

/* The number of threads of pid (entries of /proc/PID/task). */
int hx_count_threads(pid_t);

/* The number after "key:" in /proc/PID/status, or -1 when absent. */
long hx_status_field(pid_t, const char *key);

/* CPU time (user + system) used so far by pid, in milliseconds. */
long long hx_cpu_ms(pid_t);

/*
 * Client side.  A struct hx_conn is one raw UNIX stream socket with an
 * input buffer, so replies can be read line by line.
 */
struct hx_conn {
	int fd;
	char *buf;
	size_t len;
	size_t cap;
	bool eof;
};

/* Connect to the daemon's socket (fails the test if it cannot). */
struct hx_conn *hx_connect(struct hx_daemon *);
/* Connect to any path; NULL with errno set on failure (no assertion). */
struct hx_conn *hx_connect_path(const char *path);
void hx_close(struct hx_conn *);
/* shutdown(SHUT_WR): end of input for the daemon. */
void hx_shutdown_wr(struct hx_conn *);

/* Write all of buf (fails on error or after HX_TIMEOUT_MS without progress). */
void hx_send(struct hx_conn *, const void *buf, size_t len);
/*
 * Write as much of buf as the peer takes, stopping once no byte could be
 * written for stall_ms, or on an error (EPIPE, ECONNRESET).  Returns the
 * number of bytes written.
 */
size_t hx_send_some(
    struct hx_conn *, const void *buf, size_t len, int stall_ms);
/* Write a NUL-terminated string as is (no newline added). */
void hx_send_str(struct hx_conn *, const char *s);
/* Write the string followed by "\n". */
void hx_send_line(struct hx_conn *, const char *s);
/* printf-style, then "\n". */
void hx_sendf(struct hx_conn *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Read one line (without its "\n") within timeout_ms.  Returns a malloc'd
 * string, or NULL on timeout or EOF (c->eof tells which).  No assertion.
 */
char *hx_read_line_timeout(struct hx_conn *, int timeout_ms);
/* Read one line within HX_TIMEOUT_MS; fails the test on timeout/EOF. */
char *hx_read_line(struct hx_conn *);

/* Read one line and parse it as JSON (fails if not valid JSON). */
json_t *hx_read_json(struct hx_conn *);

/*
 * True when nothing arrives within ms milliseconds.  Used only to check
 * that no reply is sent (notifications); never as a timed assertion of
 * the daemon's speed.
 */
bool hx_quiet_for(struct hx_conn *, int ms);

/* Wait up to HX_TIMEOUT_MS for EOF from the daemon (true if EOF seen). */
bool hx_wait_eof(struct hx_conn *);

/*
 * One request, one reply: send line, read and parse one reply.  The
 * returned object is a new reference.
 */
json_t *hx_call(struct hx_conn *, const char *line);
json_t *hx_callf(struct hx_conn *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Reply checks.  Each fails the test with the reply's text when it does
 * not hold, and returns a borrowed pointer into reply.
 */
/* A JSON-RPC 2.0 success reply whose id equals id_json; returns result. */
json_t *hx_expect_result(json_t *reply, const char *id_json);
/* An error reply with this code and id (id_json "null" for null); returns error. */
json_t *hx_expect_error(json_t *reply, const char *id_json, int code);
/* As hx_expect_error, and error.data.param must equal param. */
json_t *hx_expect_param_error(
    json_t *reply, const char *id_json, const char *param);

/* The compact JSON text of a value, malloc'd (for messages and ids). */
char *hx_dump(const json_t *);
/* The id of a reply as compact text ("null" if null or absent), malloc'd. */
char *hx_reply_id(const json_t *reply);
/* Integer at a dotted path ("jobs.accepted"); fails if absent or not an integer. */
/* The reply with this id (JSON text) among n replies, or fail. */
json_t *hx_by_id(json_t **replies, size_t n, const char *id_json);
long long hx_int_at(const json_t *obj, const char *path);
/* Member at a dotted path, or NULL. */
json_t *hx_get_path(const json_t *obj, const char *path);

/* The "stats" result (a new reference), over a fresh connection. */
json_t *hx_stats(struct hx_daemon *);
/* The "stats" result (a new reference), over an open connection. */
json_t *hx_stats_on(struct hx_conn *);
/*
 * Poll stats on c until the integer at path equals want (or, for
 * hx_wait_stat_ge, is at least want); fails after HX_TIMEOUT_MS.  For
 * states the daemon reaches asynchronously (a worker taking a job, a
 * close being noticed).  Returns the last stats (a new reference).
 */
json_t *hx_wait_stat(struct hx_conn *, const char *path, long long want);
json_t *hx_wait_stat_ge(struct hx_conn *, const char *path, long long want);

/* Sleep ms milliseconds (only to let time pass, never to assert speed). */
void hx_msleep(int ms);
/* Monotonic clock in milliseconds. */
long long hx_now_ms(void);

#endif /* SBK_TESTS_HARNESS_H */
