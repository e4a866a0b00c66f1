/*
 * top.c - `sbkctl top`: a live view of one sbkd, refreshed every interval
 * from `stats` (and `admin.clients` when the peer is an admin).
 *
 * Rates and latency quantiles are over the last interval: counters and
 * the per-method histograms (methods.NAME.latency_us.buckets) of two
 * samples are subtracted, so a figure since start never hides a change.
 *
 * Plain ANSI escape sequences rather than ncurses: no new dependency for
 * sbkctl, the screen is a dozen lines redrawn whole once a second, and
 * the same code prints the plain snapshots of the non-tty mode.  On a tty
 * the alternate screen is used and the terminal (termios, cursor, screen)
 * is restored on `q`, ^C, SIGTERM and on any error.
 *
 * Thread safety: single-threaded (signal handlers only set flags).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define TOP_MAX_LINES	64
#define TOP_LINE	512
#define TOP_MAX_CLIENTS 5
#define TOP_MAX_BUCKETS 512

struct top_screen {
	char line[TOP_MAX_LINES][TOP_LINE];
	int n;
};

static volatile sig_atomic_t top_quit;
static volatile sig_atomic_t top_resized;
static struct termios top_saved;
static bool top_raw;

static void
top_on_quit(int sig)
{
	(void)sig;
	top_quit = 1;
}

static void
top_on_winch(int sig)
{
	(void)sig;
	top_resized = 1;
}

static double
top_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long
top_int(const json_t *root, const char *a, const char *b, const char *c)
{
	const json_t *v = json_object_get(root, a);

	if (b != NULL)
		v = json_object_get(v, b);
	if (c != NULL)
		v = json_object_get(v, c);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* Counter delta per second; 0 when the counter went back (a restart). */
static double
top_rate(long long now, long long before, double dt)
{
	return now >= before && dt > 0 ? (double)(now - before) / dt : 0.0;
}

static void
top_add(struct top_screen *s, const char *fmt, ...)
{
	va_list ap;

	if (s->n >= TOP_MAX_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(s->line[s->n++], TOP_LINE, fmt, ap);
	va_end(ap);
}

/* "12.3ms", "1.20s", "850us" from microseconds. */
static const char *
top_us(char *buf, size_t cap, double us)
{
	if (us < 1)
		snprintf(buf, cap, "<1us"); /* the daemon's first bucket */
	else if (us < 1000)
		snprintf(buf, cap, "%.0fus", us);
	else if (us < 1e6)
		snprintf(buf, cap, "%.1fms", us / 1000);
	else
		snprintf(buf, cap, "%.2fs", us / 1e6);
	return buf;
}

/*
 * The q-quantile of the histogram delta cur - prev (latency_us objects),
 * as the upper bound of the bucket it falls in; -1 when no value fell in
 * the interval.
 */
static double
top_quantile(const json_t *cur, const json_t *prev, double q)
{
	const json_t *cb = json_object_get(cur, "buckets");
	const json_t *pb = json_object_get(prev, "buckets");
	long long upper[TOP_MAX_BUCKETS], count[TOP_MAX_BUCKETS], total = 0;
	size_t n = 0, i, j;
	const json_t *b;

	json_array_foreach(cb, i, b) {
		if (n == TOP_MAX_BUCKETS)
			break;
		upper[n] = json_integer_value(json_array_get(b, 0));
		count[n] = json_integer_value(json_array_get(b, 1));
		/* Subtract the same bucket of the previous sample. */
		for (j = 0; j < json_array_size(pb); j++) {
			const json_t *p = json_array_get(pb, j);

			if (json_integer_value(json_array_get(p, 0)) ==
			    upper[n]) {
				count[n] -=
				    json_integer_value(json_array_get(p, 1));
				break;
			}
		}
		if (count[n] < 0)
			count[n] = 0;
		total += count[n];
		n++;
	}
	if (total == 0)
		return -1;
	long long rank = (long long)(q * (double)total), cum = 0;

	if ((double)rank < q * (double)total)
		rank++; /* ceil without libm */

	for (i = 0; i < n; i++) {
		cum += count[i];
		if (cum >= rank)
			return (double)upper[i];
	}
	return (double)upper[n - 1];
}

static void
top_methods(
    struct top_screen *s, const json_t *cur, const json_t *prev, double dt)
{
	const json_t *cm = json_object_get(cur, "methods");
	const json_t *pm = json_object_get(prev, "methods");
	const char *name;
	const json_t *m;
	char p50[32], p99[32];

	top_add(s, "\001%-18s %9s %9s %9s %9s", "METHOD", "JOBS/S", "P50",
	    "P99", "TOTAL");
	json_object_foreach((json_t *)cm, name, m) {
		const json_t *p = json_object_get(pm, name);
		long long c = top_int(m, "count", NULL, NULL);
		long long pc = top_int(p, "count", NULL, NULL);
		double q50 = top_quantile(json_object_get(m, "latency_us"),
			   json_object_get(p, "latency_us"), 0.50),
		       q99 = top_quantile(json_object_get(m, "latency_us"),
			   json_object_get(p, "latency_us"), 0.99);

		top_add(s, "%-18.18s %9.1f %9s %9s %9lld", name,
		    top_rate(c, pc, dt),
		    q50 < 0 ? "-" : top_us(p50, sizeof(p50), q50),
		    q99 < 0 ? "-" : top_us(p99, sizeof(p99), q99), c);
	}
}

static int
top_cmp_clients(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a,
		     *y = *(const json_t *const *)b;
	long long kx = top_int(x, "inflight", NULL, NULL) +
	    top_int(x, "waiting", NULL, NULL),
		  ky = top_int(y, "inflight", NULL, NULL) +
	    top_int(y, "waiting", NULL, NULL);

	if (kx != ky)
		return kx < ky ? 1 : -1;
	kx = top_int(x, "output_bytes", NULL, NULL);
	ky = top_int(y, "output_bytes", NULL, NULL);
	return kx < ky ? 1 : kx > ky ? -1 : 0;
}

/* The busiest clients, or one line saying why there are none. */
static void
top_clients(struct top_screen *s, struct sbk_client *c, int timeout_ms)
{
	struct sbk_error err = { 0 };
	const json_t *list, *v;
	const json_t *sorted[256];
	size_t n = 0, i;
	json_t *r;

	r = sbk_call(c, "admin.clients", NULL, timeout_ms, &err);
	if (r == NULL) {
		if (err.kind == SBK_ERR_RPC && err.code == -32601)
			top_add(s,
			    "clients: admin.clients not offered by this "
			    "sbkd (contract 1.3)");
		else if (err.kind == SBK_ERR_RPC && err.code == -32003)
			top_add(s,
			    "clients: not an admin peer "
			    "(admin_uids/admin_gids)");
		else
			top_add(s, "clients: %s", err.message);
		sbk_error_clear(&err);
		return;
	}
	list = json_object_get(r, "clients");
	json_array_foreach(list, i, v) {
		if (n < sizeof(sorted) / sizeof(sorted[0]))
			sorted[n++] = v;
	}
	qsort(sorted, n, sizeof(sorted[0]), top_cmp_clients);
	top_add(s, "\001%-8s %8s %8s %8s %10s  (%zu clients)", "PID", "UID",
	    "INFLIGHT", "WAITING", "UNSENT", json_array_size(list));
	for (i = 0; i < n && i < TOP_MAX_CLIENTS; i++)
		top_add(s, "%-8lld %8lld %8lld %8lld %10lld",
		    top_int(sorted[i], "pid", NULL, NULL),
		    top_int(sorted[i], "uid", NULL, NULL),
		    top_int(sorted[i], "inflight", NULL, NULL),
		    top_int(sorted[i], "waiting", NULL, NULL),
		    top_int(sorted[i], "output_bytes", NULL, NULL));
	json_decref(r);
}

/* Lines starting with \001 are headings; \002 marks a warning. */
static void
top_build(struct top_screen *s, const json_t *cur, const json_t *prev,
    double dt, double interval)
{
	long long depth = top_int(cur, "queue", "depth", NULL);
	long long qmax = top_int(cur, "queue", "max", NULL);
	long long used = top_int(cur, "argon2", "memory_used_kib", NULL);
	long long budget = top_int(cur, "argon2", "memory_budget_kib", NULL);
	double rej = top_rate(top_int(cur, "jobs", "rejected", NULL),
		   top_int(prev, "jobs", "rejected", NULL), dt),
	       tmo = top_rate(top_int(cur, "jobs", "timed_out", NULL),
		   top_int(prev, "jobs", "timed_out", NULL), dt),
	       can = top_rate(top_int(cur, "jobs", "cancelled", NULL),
		   top_int(prev, "jobs", "cancelled", NULL), dt),
	       acc = top_rate(top_int(cur, "jobs", "accepted", NULL),
		   top_int(prev, "jobs", "accepted", NULL), dt);
	char a[32], b[32];
	time_t now = time(NULL);
	struct tm tm;

	s->n = 0;
	localtime_r(&now, &tm);
	top_add(s,
	    "\001sbkd  %02d:%02d:%02d  every %gs  connections %lld  "
	    "config generation %lld",
	    tm.tm_hour, tm.tm_min, tm.tm_sec, interval,
	    top_int(cur, "connections", NULL, NULL),
	    top_int(cur, "config_generation", NULL, NULL));
	top_add(s, "%squeue    %lld/%lld (%.0f%%)  cpu lane %lld  io lane %lld",
	    qmax > 0 && depth * 10 >= qmax * 9 ? "\002" : "", depth, qmax,
	    qmax > 0 ? 100.0 * (double)depth / (double)qmax : 0.0,
	    top_int(cur, "queue", "cpu", NULL),
	    top_int(cur, "queue", "io", NULL));
	top_add(s, "workers  cpu %lld/%lld busy  io %lld/%lld busy",
	    top_int(cur, "workers", "cpu", "busy"),
	    top_int(cur, "workers", "cpu", "size"),
	    top_int(cur, "workers", "io", "busy"),
	    top_int(cur, "workers", "io", "size"));
	top_add(s,
	    "%sper s    accepted %.1f  rejected %.1f  timed out %.1f  "
	    "cancelled %.1f",
	    rej > 0 || tmo > 0 ? "\002" : "", acc, rej, tmo, can);
	top_add(s, "%sloop lag p99 %s  max %s (since start)",
	    top_int(cur, "loop", "lag_p99_us", NULL) > 10000 ? "\002" : "",
	    top_us(
		a, sizeof(a), (double)top_int(cur, "loop", "lag_p99_us", NULL)),
	    top_us(b, sizeof(b),
		(double)top_int(cur, "loop", "lag_max_us", NULL)));
	top_add(s, "%sargon2   %lld/%lld MiB of the memory budget (%.0f%%)",
	    budget > 0 && used * 20 >= budget * 19 ? "\002" : "", used / 1024,
	    budget / 1024,
	    budget > 0 ? 100.0 * (double)used / (double)budget : 0.0);
	top_add(s, "");
	top_methods(s, cur, prev, dt);
	top_add(s, "");
}

static void
top_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = 0;
	*cols = 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

static void
top_print(const struct top_screen *s, bool tty, bool colour)
{
	int rows = 0, cols = 0;

	if (tty) {
		top_size(&rows, &cols);
		fputs("\033[H\033[2J", stdout);
	}
	for (int i = 0; i < s->n; i++) {
		const char *l = s->line[i];
		bool head = l[0] == '\001', warn = l[0] == '\002';
		int len;

		if (head || warn)
			l++;
		if (tty && rows > 0 && i >= rows - 1)
			break; /* keep the last row for the cursor */
		len = (int)strlen(l);
		if (tty && cols > 0 && len > cols)
			len = cols; /* fit the width: ASCII only */
		if (colour && (head || warn))
			fputs(head ? "\033[1m" : "\033[1;31m", stdout);
		fwrite(l, 1, (size_t)len, stdout);
		if (colour && (head || warn))
			fputs("\033[0m", stdout);
		fputc('\n', stdout); /* the tty's ONLCR adds the \r */
	}
	fflush(stdout);
}

static void
top_restore(void)
{
	if (!top_raw)
		return;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &top_saved);
	fputs("\033[?25h\033[?1049l", stdout); /* cursor, main screen */
	fflush(stdout);
	top_raw = false;
}

static void
top_enter(void)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &top_saved) == 0) {
		t = top_saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO); /* ISIG stays: ^C */
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
	}
	fputs("\033[?1049h\033[?25l", stdout); /* alternate screen, hide */
	fflush(stdout);
	top_raw = true;
}

/*
 * Wait until deadline (monotonic seconds), a key, a resize or a quit.
 * True when the screen should be redrawn now (resize).
 */
static bool
top_wait(double deadline, bool keys)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	double left;
	char ch;

	while (!top_quit && (left = deadline - top_now()) > 0) {
		if (top_resized) {
			top_resized = 0;
			return true;
		}
		int r = poll(&p, keys ? 1 : 0, (int)(left * 1000) + 1);

		if (r > 0 && (p.revents & POLLIN)) {
			if (read(STDIN_FILENO, &ch, 1) == 1 &&
			    (ch == 'q' || ch == 'Q'))
				top_quit = 1;
			else if (ch == 0x0c) /* ^L: redraw */
				return true;
		} else if (r > 0) {
			keys = false; /* stdin hung up: only the clock */
		}
	}
	return false;
}

int
ctl_run_top(struct ctl *ctl)
{
	double interval = ctl->duration_s > 0 ? ctl->duration_s : 1.0;
	bool tty = isatty(STDOUT_FILENO) == 1;
	bool keys = tty && isatty(STDIN_FILENO) == 1;
	const char *nc = getenv("NO_COLOR");
	bool colour = tty && (nc == NULL || nc[0] == '\0');
	struct top_screen *screen;
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *prev, *cur;
	double t_prev, t_cur;
	long long shown = 0;
	int rc = CTL_OK;

	if ((c = ctl_connect(ctl)) == NULL)
		return (CTL_CONNECT);
	screen = calloc(1, sizeof(*screen));
	if (screen == NULL) {
		sbk_close(c);
		return (ctl_fail(ctl, CTL_NEGATIVE, "out of memory"));
	}
	signal(SIGINT, top_on_quit);
	signal(SIGTERM, top_on_quit);
	signal(SIGWINCH, top_on_winch);
	prev = sbk_call(c, "stats", NULL, ctl->timeout_ms, &err);
	t_prev = top_now();
	if (prev == NULL)
		goto rpc_error;
	if (keys)
		top_enter();
	if (tty) {
		/* Something to look at while the first interval runs. */
		screen->n = 0;
		top_add(screen,
		    "\001sbkd  measuring the first %gs ... "
		    "(q to quit)",
		    interval);
		top_print(screen, tty, colour);
	}
	while (!top_quit) {
		if (top_wait(t_prev + interval, keys)) {
			if (screen->n > 0)
				top_print(screen, tty, colour);
			continue;
		}
		if (top_quit)
			break;
		cur = sbk_call(c, "stats", NULL, ctl->timeout_ms, &err);
		t_cur = top_now();
		if (cur == NULL) {
			json_decref(prev);
			goto rpc_error;
		}
		top_build(screen, cur, prev, t_cur - t_prev, interval);
		top_clients(screen, c, ctl->timeout_ms);
		if (keys)
			top_add(screen, "q: quit   -d: interval");
		top_print(screen, tty, colour);
		if (!tty)
			putchar('\n');
		json_decref(prev);
		prev = cur;
		t_prev = t_cur;
		if (ctl->requests > 0 && ++shown >= ctl->requests)
			break;
	}
	json_decref(prev);
	top_restore();
	free(screen);
	sbk_close(c);
	return (rc);

rpc_error:
	top_restore();
	rc = ctl_report(ctl, "stats", &err);
	sbk_error_clear(&err);
	free(screen);
	sbk_close(c);
	return (rc);
}
