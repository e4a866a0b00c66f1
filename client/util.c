/*
 * util.c - what several sbkctl verbs share: number and duration parsing,
 * the "bad value" message, whole-stream reads and full writes.
 *
 * Thread safety: all functions are reentrant.
 */
#include "sbk-config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"

bool
ctl_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return (false);
	*out = v;
	return (true);
}

/* "10", "2.5s", "500ms" -> seconds. */
bool
ctl_parse_duration(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !(v > 0) || v > 1e9)
		return (false);
	if (strcmp(end, "h") == 0)
		v *= 3600.0;
	else if (strcmp(end, "ms") == 0)
		v /= 1000.0;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		v *= 60.0;
	else if (*end != '\0' && strcmp(end, "s") != 0)
		return (false);
	*out = v;
	return (true);
}

int
ctl_bad_value(const struct ctl *ctl, const char *opt, const char *arg)
{
	fprintf(stderr, "%s: %s: bad value '%s' for %s\n", ctl->prog,
	    ctl->verb->name, arg, opt);
	return (CTL_USAGE);
}


/*
 * Read a whole stream into memory, up to max bytes.  NULL on a read
 * error or when the input is larger (errno EFBIG).
 */
char *
ctl_read_all(int fd, size_t max, size_t *lenp)
{
	char *buf, *nbuf;
	size_t len, cap;
	ssize_t n;

	cap = 64 * 1024;
	len = 0;
	if ((buf = malloc(cap + 1)) == NULL)
		return (NULL);
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				free(buf);
				errno = EFBIG;
				return (NULL);
			}
			cap *= 2;
			if ((nbuf = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return (NULL);
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return (NULL);
		}
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		errno = EFBIG;
		return (NULL);
	}
	buf[len] = '\0';
	*lenp = len;
	return (buf);
}

bool
ctl_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (false);
		}
		p += n;
		len -= (size_t)n;
	}
	return (true);
}

bool
ctl_parse_timeout(const char *s, int *ms)
{
	char *end;
	double v, unit = 1.0;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !(v >= 0))
		return (false);
	if (strcmp(end, "s") == 0)
		unit = 1000.0;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		unit = 60000.0;
	else if (strcmp(end, "h") == 0)
		unit = 3600000.0;
	else if (*end != '\0' && strcmp(end, "ms") != 0)
		return (false);
	v *= unit;
	if (v > INT_MAX)
		return (false);
	/* 0 waits for ever; anything above it is at least 1 ms. */
	*ms = v == 0 ? -1 : (v < 1 ? 1 : (int)v);
	return (true);
}
