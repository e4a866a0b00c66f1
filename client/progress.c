/*
 * progress.c - sbkctl's progress bar for path-mode jobs: drawn on
 * stderr only when it is a terminal, as wide as the terminal, with the
 * rate and the time left; ^C (or SIGTERM) clears the line before sbkctl
 * dies, so the shell prompt starts on a clean line.
 *
 * Thread safety: single-threaded; the signal handler only writes a
 * constant string.
 */
#include "sbk-config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <jansson.h>

#include "ctl.h"

static volatile sig_atomic_t bar_drawn;

static void
clear_on_signal(int sig)
{
	static const char clear[] = "\r\033[K";

	if (bar_drawn)
		(void)!write(STDERR_FILENO, clear, sizeof(clear) - 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static int
term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return (ws.ws_col);
	return (80);
}

bool
ctl_progress_start(struct ctl_progress *p, struct ctl *ctl, const char *label)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->start = now_s();
	if (ctl->json || ctl->quiet || !isatty(STDERR_FILENO))
		return (false);
	signal(SIGINT, clear_on_signal);
	signal(SIGTERM, clear_on_signal);
	return (true);
}

/* "1.5 MiB" in buf. */
static void
human(char *buf, size_t cap, double bytes)
{
	if (bytes >= 1024.0 * 1048576.0)
		snprintf(buf, cap, "%.1f GiB", bytes / (1024.0 * 1048576.0));
	else if (bytes >= 1048576.0)
		snprintf(buf, cap, "%.1f MiB", bytes / 1048576.0);
	else
		snprintf(buf, cap, "%.0f KiB", bytes / 1024.0);
}

void
ctl_progress_draw(struct ctl_progress *p, double done, double total)
{
	char line[512], bar[512], rate[32], sdone[32], stotal[32], eta[32];
	const char *label;
	double frac, elapsed, bps;
	int width, room, fill, i, n, llen;

	frac = total > 0 ? done / total : 0;
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	elapsed = now_s() - p->start;
	bps = elapsed > 0.05 ? done / elapsed : 0;
	human(sdone, sizeof(sdone), done);
	human(stotal, sizeof(stotal), total);
	human(rate, sizeof(rate), bps);
	if (bps > 0 && total > done)
		snprintf(
		    eta, sizeof(eta), "ETA %ds", (int)((total - done) / bps));
	else
		snprintf(eta, sizeof(eta), "ETA -");
	/* Everything but the bar, to know how wide the bar may be. */
	n = snprintf(line, sizeof(line), "[] %3d%% %s/%s %s/s %s",
	    (int)(frac * 100), sdone, stotal, rate, eta);
	width = term_width() - 1; /* never touch the last column */
	/* The label gets what a 10-column bar leaves, cut from the left. */
	label = p->label;
	llen = (int)strlen(label);
	if (llen > width - n - 11)
		llen = width - n - 11 > 3 ? width - n - 11 : 0;
	label += strlen(label) - (size_t)llen;
	room = width - n - llen - 1;
	if (room > (int)sizeof(bar) - 1)
		room = (int)sizeof(bar) - 1;
	if (room < 0)
		room = 0;
	fill = (int)(frac * room);
	for (i = 0; i < room; i++)
		bar[i] = i < fill ? '#' : ' ';
	bar[room] = '\0';
	/* Before the first byte: a ^C in the middle must clear it too. */
	p->drawn = true;
	bar_drawn = 1;
	if (room >= 5)
		fprintf(stderr, "\r%s%s[%s] %3d%% %s/%s %s/s %s", label,
		    llen > 0 ? " " : "", bar, (int)(frac * 100), sdone, stotal,
		    rate, eta);
	else /* a narrow terminal: the percentage only */
		fprintf(stderr, "\r%3d%%", (int)(frac * 100));
	fflush(stderr);
}

void
ctl_progress_cb(const char *method, const json_t *params, void *arg)
{
	const json_t *done, *total;

	if (strcmp(method, "progress") != 0)
		return;
	done = json_object_get(params, "done");
	total = json_object_get(params, "total");
	if (!json_is_integer(done) || !json_is_integer(total))
		return;
	ctl_progress_draw(arg, (double)json_integer_value(done),
	    (double)json_integer_value(total));
}

void
ctl_progress_end(struct ctl_progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	bar_drawn = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
}
