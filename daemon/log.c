/*
 * log.c - see log.h.  The level is an atomic so a reload can change it
 * while workers log.
 *
 * The rate limiter keeps a fixed table of (kind, uid) windows: a pair
 * hashes to a run of LOG_RL_PROBE slots and takes the stalest of them
 * when it has none, so a client with many uids can only push other pairs
 * out early (their pending count is reported then), never grow the table.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static _Atomic int log_level = LOG_INFO;
/* 0: "<N>" prefixes for journald; 1: "sbkd: LEVEL: " for people. */
static _Atomic int log_plain;

/* For people: LOG_EMERG .. LOG_DEBUG. */
static const char *const log_prio_names[] = { "error", "error", "error",
	"error", "warning", "notice", "info", "debug" };

void
log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

static int
log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
log_level_parse(const char *name)
{
	/* syslog's "err", and "warn" for short. */
	if (strcasecmp(name, "err") == 0)
		return LOG_ERR;
	if (strcasecmp(name, "warn") == 0)
		return LOG_WARNING;
	for (int level = LOG_ERR; level <= LOG_DEBUG; level++)
		if (strcasecmp(name, log_prio_names[level]) == 0)
			return level;
	return -1;
}

#define LOG_RL_SLOTS 256
#define LOG_RL_PROBE 8

struct log_rl_slot {
	bool used;
	enum log_kind kind;
	long uid;
	uint64_t start_ns; /* of the current window */
	unsigned count;	   /* lines logged in it */
	unsigned long suppressed;
};

static const char *const log_kind_names[LOG_KIND_COUNT] = {
	[LOG_KIND_CONN] = "connection",
	[LOG_KIND_REFUSED] = "refused-peer",
	[LOG_KIND_GARBAGE] = "unparsable-line",
	[LOG_KIND_JOB] = "job",
	[LOG_KIND_ACCEPT] = "accept-refusal",
};

static pthread_mutex_t log_rl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_rl_slot log_rl[LOG_RL_SLOTS];
static unsigned log_rl_interval_s = 5, log_rl_burst = 20;
static unsigned long long log_rl_suppressed_total;

void
log_detect_stream(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	char want[48];
	struct stat st;
	bool journal = false;

	/*
	 * systemd sets JOURNAL_STREAM=DEV:INODE (in decimal) when stderr is
	 * the journal; a child that inherits the variable but not the stream
	 * (a pipe, a terminal) must not match, hence the fstat.
	 */
	if (js != NULL && fstat(STDERR_FILENO, &st) == 0) {
		snprintf(want, sizeof(want), "%llu:%llu",
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino);
		journal = strcmp(js, want) == 0;
	}
	atomic_store(&log_plain, !journal);
}

/*
 * Format "<prio>" + fmt (+ ": " + strerror(errnum) when errnum >= 0)
 * into line (at most size - 1 bytes, newline included) and write it with
 * one write(2): lines stay whole between threads.
 */
static void
log_vwrite(
    char *line, size_t size, int prio, int errnum, const char *fmt, va_list ap)
{
	char ebuf[128];
	int n, saved = errno;

	if (atomic_load(&log_plain))
		n = snprintf(line, size, "sbkd: %s: ",
		    log_prio_names[prio >= 0 && prio < LOG_DEBUG ? prio :
								   LOG_DEBUG]);
	else
		n = snprintf(line, size, "<%d>", prio);
	n += vsnprintf(line + n, size - n - 1, fmt, ap);
	if (errnum >= 0 && n < (int)size - 2)
		n += snprintf(line + n, size - n - 1, ": %s",
		    strerror_r(errnum, ebuf, sizeof(ebuf)));
	if (n > (int)size - 2)
		n = (int)size - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nothing sensible to do when stderr is gone. */
	}
	errno = saved;
}

void
log_line(int prio, int errnum, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (prio > log_get_level())
		return;
	va_start(ap, fmt);
	log_vwrite(line, sizeof(line), prio, errnum, fmt, ap);
	va_end(ap);
}

char *
log_format_errno(char *buf, size_t size, int errnum, const char *fmt, ...)
{
	char ebuf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - n, ": %s",
		    strerror_r(errnum, ebuf, sizeof(ebuf)));
	return buf;
}

void
log_set_ratelimit(unsigned interval_s, unsigned burst)
{
	pthread_mutex_lock(&log_rl_lock);
	log_rl_interval_s = interval_s;
	log_rl_burst = burst;
	pthread_mutex_unlock(&log_rl_lock);
}

unsigned long long
log_suppressed_total(void)
{
	unsigned long long n;

	pthread_mutex_lock(&log_rl_lock);
	n = log_rl_suppressed_total;
	pthread_mutex_unlock(&log_rl_lock);
	return n;
}

static void
log_suppressed(int prio, enum log_kind kind, long uid, unsigned long n)
{
	if (n > 0 && uid == LOG_PEER_ANY)
		log_msg(prio, "%lu %s messages suppressed", n,
		    log_kind_names[kind]);
	else if (n > 0)
		log_msg(prio, "%lu %s messages from uid %ld suppressed", n,
		    log_kind_names[kind], uid);
}

/*
 * May a (kind, uid) line be written now?  Reports, outside the lock, the
 * count suppressed in the window that just ended (or in a slot taken
 * over).
 */
static bool
log_rl_admit(enum log_kind kind, long uid, int prio)
{
	size_t h =
	    ((size_t)uid * 2654435761u + (size_t)kind * 40503u) % LOG_RL_SLOTS;
	struct log_rl_slot *slot = NULL, *stalest = NULL;
	uint64_t now = clock_now_ns();
	unsigned long done = 0, evicted = 0;
	enum log_kind ekind = kind;
	long euid = uid;
	bool ok;

	pthread_mutex_lock(&log_rl_lock);
	if (log_rl_interval_s == 0) {
		pthread_mutex_unlock(&log_rl_lock);
		return true;
	}
	for (size_t i = 0; i < LOG_RL_PROBE && slot == NULL; i++) {
		struct log_rl_slot *s = &log_rl[(h + i) % LOG_RL_SLOTS];

		if (s->used && s->kind == kind && s->uid == uid)
			slot = s;
		else if (stalest == NULL || !s->used ||
		    (stalest->used && s->start_ns < stalest->start_ns))
			stalest = s;
	}
	if (slot == NULL) {
		slot = stalest;
		if (slot->used) {
			evicted = slot->suppressed;
			ekind = slot->kind;
			euid = slot->uid;
		}
		*slot = (struct log_rl_slot){
			.used = true, .kind = kind, .uid = uid, .start_ns = now
		};
	}
	if (now - slot->start_ns >= (uint64_t)log_rl_interval_s * 1000000000u) {
		done = slot->suppressed;
		slot->start_ns = now;
		slot->count = 0;
		slot->suppressed = 0;
	}
	ok = slot->count < log_rl_burst;
	if (ok)
		slot->count++;
	else {
		slot->suppressed++;
		log_rl_suppressed_total++;
	}
	pthread_mutex_unlock(&log_rl_lock);
	log_suppressed(prio, ekind, euid, evicted);
	log_suppressed(prio, kind, uid, done);
	return ok;
}

void
log_peer_line(
    enum log_kind kind, long uid, int prio, int errnum, const char *fmt, ...)
{
	char line[LOG_PEER_LINE_MAX];
	va_list ap;

	if (prio > log_get_level() || !log_rl_admit(kind, uid, prio))
		return;
	va_start(ap, fmt);
	log_vwrite(line, sizeof(line), prio, errnum, fmt, ap);
	va_end(ap);
}
