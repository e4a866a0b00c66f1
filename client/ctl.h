/*
 * ctl.h - what sbkctl's main (sbkctl.c), its verb table (commands.c) and
 * the benchmark (bench.c) share: the exit codes, the parsed command line
 * and the verb table entry.
 *
 * Thread safety: sbkctl is single-threaded except for bench, whose
 * threads only read struct ctl.
 */
#ifndef SBK_CTL_H
#define SBK_CTL_H

#include <getopt.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "sbk-client.h"

/* Exit codes (sbkctl(1) documents them). */
enum {
	CTL_OK = 0,	  /* success */
	CTL_NEGATIVE = 1, /* a negative answer, or a local failure */
	CTL_USAGE = 2,	  /* bad command line */
	CTL_RPC = 3,	  /* the daemon answered with an error */
	CTL_CONNECT = 4,  /* cannot connect, timed out, connection lost */
};

#define CTL_DEFAULT_TIMEOUT_MS 60000

struct ctl_verb;

/* The command line, parsed: global options, then the verb's own. */
struct ctl {
	const char *prog;
	const char *socket; /* NULL: sbk_default_socket() */
	int timeout_ms;	    /* -1: wait forever */
	bool timeout_set;   /* -t given (path-mode jobs default to none) */
	bool json;
	bool quiet;   /* -q: only results and errors */
	bool verbose; /* -v: what sbkctl does, on stderr */
	const struct ctl_verb *verb;
	int argc; /* positional arguments */
	char **argv;

	/* Verb options; each verb reads the ones it declared. */
	const char *out;
	int level;
	bool level_set;
	bool overwrite;
	bool to_stdout;	 /* compress -c */
	bool decompress; /* compress -d */
	bool keep;	 /* compress -k: the input is always kept */

	/* hash, verify */
	int password_fd; /* -1: none */
	const char *password_file;
	bool allow_empty;

	/* stats */
	bool prometheus;
	double watch_s; /* 0: once */
	long long offset;
	long long length;
	const char *type;
	long long t_cost;
	long long m_cost;
	long long parallelism;
	long long hash_len;
	long long salt_len;
	long long conn; /* cancel --conn N (admin.cancel); 0: none */

	/* bench */
	int conns;
	int pipeline;
	int threads;
	long long requests;
	double duration_s;
	const char *method;
	const char *params;
	int probe_ms;
};

/*
 * One verb.  The generic exchange (no .run) is: build params, connect,
 * call .method with the timeout, print the result; error replies and
 * transport failures are reported by the caller.  .build and .print
 * return an exit code (CTL_OK to go on).
 */
struct ctl_verb {
	const char *name;
	const char *method;
	const char *synopsis;	       /* arguments and options */
	const char *summary;	       /* one line */
	const char *options;	       /* help text of the verb's options */
	const struct option *longopts; /* verb options, {0} ended */
	const char *shortopts;
	int min_args;
	int max_args; /* -1: any */
	int (*build)(struct ctl *, json_t **params);
	int (*print)(struct ctl *, json_t *result);
	int (*run)(struct ctl *);
};

extern const struct ctl_verb ctl_verbs[];

/* Store a verb option (commands.c); CTL_USAGE when the value is bad. */
int ctl_option(struct ctl *, int ch, const char *arg);

/* Connect, printing the failure; NULL when it failed. */
struct sbk_client *ctl_connect(struct ctl *);
/*
 * Report err as one line on stderr ("sbkctl: COMMAND: message"), and
 * under --json also as {"error":{...}} on stdout; returns the exit code
 * it maps to.  what names the method for `call`.
 */
int ctl_report(struct ctl *, const char *what, const struct sbk_error *);
/*
 * A local error: "sbkctl: COMMAND: " fmt on stderr (an {"error":...}
 * object on stdout under --json); returns code.
 */
int ctl_fail(struct ctl *, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* -v: a line on stderr about what sbkctl does. */
void ctl_verbose(struct ctl *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print a JSON value on stdout (indented, or compact under --json). */
void ctl_print_json(struct ctl *, const json_t *);
/* The same, always compact (one line per value). */
void ctl_print_json_line(const json_t *);
/*
 * A reply of the wrong shape: "sbkctl: WHAT: unexpected reply from the
 * daemon: WHY" on stderr; returns CTL_RPC.
 */
int ctl_bad_reply(struct ctl *, const char *what, const char *why);

/*
 * escape.c: text from the wire made safe for a terminal (control
 * characters, C1, bidi overrides and invalid UTF-8 shown as escapes).
 */
void ctl_fputs_esc(const char *s, FILE *f);
/* Into dst (cap bytes, NUL-terminated, truncated when longer). */
void ctl_escape(char *dst, size_t cap, const char *s);

int ctl_bench(struct ctl *);
int ctl_run_zstd(struct ctl *);
int ctl_run_read(struct ctl *);
int ctl_run_call(struct ctl *);
int ctl_run_stats(struct ctl *);
int ctl_run_top(struct ctl *);

/* admin.c: the admin.* verbs (clients, jobs, reload) and cancel. */
int ctl_print_clients(struct ctl *, json_t *result);
int ctl_print_jobs(struct ctl *, json_t *result);
int ctl_print_reload(struct ctl *, json_t *result);
int ctl_run_cancel(struct ctl *);

/* util.c */
bool ctl_parse_ll(const char *s, long long min, long long max, long long *out);
/* "10", "2.5s", "500ms", "2m" -> seconds (> 0). */
bool ctl_parse_duration(const char *s, double *out);
/* -t: a duration ("1.5s", "500ms", "2m"; a bare number is ms), 0: none. */
bool ctl_parse_timeout(const char *s, int *ms);
/* "sbkctl: VERB: bad value 'ARG' for OPT"; returns CTL_USAGE. */
int ctl_bad_value(const struct ctl *, const char *opt, const char *arg);
/* A whole stream, up to max bytes (NULL, errno EFBIG, when larger). */
char *ctl_read_all(int fd, size_t max, size_t *lenp);
bool ctl_write_all(int fd, const void *buf, size_t len);

/* progress.c: the progress bar of path-mode jobs, on a terminal only. */
struct ctl_progress {
	const char *label;
	double start;
	bool drawn;
};
/* True when a bar will be drawn (ask the daemon for progress then). */
bool ctl_progress_start(struct ctl_progress *, struct ctl *, const char *label);
void ctl_progress_draw(struct ctl_progress *, double done, double total);
/* An sbk_notify_cb; arg is the struct ctl_progress. */
void ctl_progress_cb(const char *method, const json_t *params, void *arg);
/* Clear the bar's line. */
void ctl_progress_end(struct ctl_progress *);

/* password.c: the password as a JSON string; CTL_OK or the exit code. */
int ctl_read_password(struct ctl *, json_t **pw);

#endif /* SBK_CTL_H */
