/*
 * log.c - see log.h.  The level is an atomic so a reload can change it
 * while workers log.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

static _Atomic int log_level = LOG_INFO;

static const struct {
	const char *name;
	int level;
} log_levels[] = {
	{ "err", LOG_ERR },
	{ "error", LOG_ERR },
	{ "warning", LOG_WARNING },
	{ "warn", LOG_WARNING },
	{ "notice", LOG_NOTICE },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

void
log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int
log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcasecmp(name, log_levels[i].name) == 0)
			return log_levels[i].level;
	return -1;
}

void
log_msg(int prio, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n, saved = errno;

	if (prio > log_get_level())
		return;
	n = snprintf(line, sizeof(line), "<%d>", prio);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line keeps lines whole between threads. */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nothing sensible to do when stderr is gone. */
	}
	errno = saved;
}

const char *
log_escape(char *buf, size_t bufsz, const char *text, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < bufsz; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = c;
		else
			o += snprintf(buf + o, bufsz - o, "\\x%02x", c);
	}
	if (bufsz > 0)
		buf[o < bufsz ? o : bufsz - 1] = '\0';
	return buf;
}
