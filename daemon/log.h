/*
 * log.h - logging to stderr: with syslog priority prefixes ("<3>",
 * "<6>") when stderr is the journal (JOURNAL_STREAM names it), so that
 * journald keeps the levels, else as "sbkd: error: ..." for people.
 * Request bytes are never logged (they may hold passwords): callers log
 * sizes, positions and errors.
 *
 * Thread safety: any thread; each line is written with one write(2).
 */
#ifndef SBK_LOG_H
#define SBK_LOG_H

#include <errno.h>
#include <stddef.h>
#include <syslog.h>

void log_set_level(int level); /* LOG_ERR .. LOG_DEBUG */
/* Choose the prefixes from JOURNAL_STREAM and stderr (main, at start);
 * before it, "<N>" prefixes. */
void log_detect_stream(void);
int log_level_parse(const char *name); /* "info" -> LOG_INFO; -1 if bad */

/*
 * fmt with ": " and strerror(errnum) appended into buf, for a reason
 * kept to be logged or sent later (the "why" buffers of the config
 * readers and reload).  Thread-safe (strerror_r).  Returns buf.
 */
char *log_format_errno(char *buf, size_t size, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * A line at prio, with ": " and strerror(errnum) appended unless errnum
 * is -1; errno is kept.  OpenSMTPD's pairs: log_msg_errno, log_errno and
 * log_warn say why (errno); log_msg, log_err and log_warnx do not.
 */
void log_line(int prio, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define log_msg(prio, ...)	 log_line(prio, -1, __VA_ARGS__)
#define log_msg_errno(prio, ...) log_line(prio, errno, __VA_ARGS__)
#define log_err(...)		 log_msg(LOG_ERR, __VA_ARGS__)
#define log_errno(...)		 log_msg_errno(LOG_ERR, __VA_ARGS__)
#define log_warn(...)		 log_msg_errno(LOG_WARNING, __VA_ARGS__)
#define log_warnx(...)		 log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)		 log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)		 log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Lines a client can cause, rate-limited per kind and per peer uid
 * (journald style): at most `burst` lines of one (kind, uid) per
 * `interval_s`; the rest are counted and reported as one "N ... messages
 * from uid U suppressed" line with the next line of that pair (or when
 * its slot is reused).  Each such line is cut at LOG_PEER_LINE_MAX bytes,
 * so one uid grows the log by at most
 *   (LOG_KIND_COUNT - 1) x (burst + 1) x LOG_PEER_LINE_MAX bytes
 * per interval, plus (burst + 1) x LOG_PEER_LINE_MAX shared by everyone
 * for LOG_KIND_ACCEPT.
 */
enum log_kind {
	LOG_KIND_CONN,	  /* connected / closed (debug) */
	LOG_KIND_REFUSED, /* refused by [access] */
	LOG_KIND_GARBAGE, /* unparsable request lines (debug) */
	LOG_KIND_JOB,	  /* log_jobs access lines */
	LOG_KIND_ACCEPT,  /* clients refused for want of descriptors */
	LOG_KIND_COUNT,
};

/* The uid of lines with no peer yet (LOG_KIND_ACCEPT): one budget. */
#define LOG_PEER_ANY (-1L)

#define LOG_PEER_LINE_MAX 256

/* interval_s 0: no limit. */
void log_set_ratelimit(unsigned interval_s, unsigned burst);
/* Lines suppressed by the rate limit since start. */
unsigned long long log_suppressed_total(void);

/* log_line for a line of that kind and peer uid. */
void log_peer_line(enum log_kind, long uid, int prio, int errnum,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define log_peer(kind, uid, prio, ...) \
	log_peer_line(kind, uid, prio, -1, __VA_ARGS__)
#define log_peer_errno(kind, uid, prio, ...) \
	log_peer_line(kind, uid, prio, errno, __VA_ARGS__)

#endif /* SBK_LOG_H */
