/*
 * inifile.c - the INI front end of sbkd's and sbk-gearman's configuration
 * readers (see inifile.h).
 *
 * The file is read whole first, bounded: it must be a regular file (a
 * symlink to one is fine) of at most INIFILE_MAX_BYTES, opened with
 * O_NONBLOCK and checked with fstat before a byte is read, so a FIFO or a
 * device is refused at once and never blocks (sbkd reads its file on the
 * event thread at SIGHUP); any read error is an error, never an end of
 * file.
 *
 * inih is driven through ini_parse_stream with our own line reader, which
 * counts lines (the packaged library is built without line numbers in the
 * handler), strips leading blanks (so inih never sees a multi-line
 * continuation), refuses unknown section headers even when empty, and
 * lets values longer than inih's fixed line buffer through.
 */
#include "sbk-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "inifile.h"
#include "log.h"

/* A value inih's line buffer cannot hold: passed to the handler aside. */
#define INIFILE_LONG_VALUE "\x01"

bool
inifile_error(struct inifile *f, int lineno, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (f->failed || f->errlen == 0) {
		f->failed = true;
		return false;
	}
	f->failed = true;
	if (lineno > 0)
		n = snprintf(f->err, f->errlen, "%s:%d: ", f->path, lineno);
	else
		n = snprintf(f->err, f->errlen, "%s: ", f->path);
	if (n < 0 || (size_t)n >= f->errlen)
		return false;
	va_start(ap, fmt);
	vsnprintf(f->err + n, f->errlen - n, fmt, ap);
	va_end(ap);
	return false;
}

bool
inifile_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return false;
}

/* inifile_error for a system call on the file: "PATH: strerror". */
static void
inifile_error_errno(struct inifile *f, int errnum)
{
	if (f->failed)
		return;
	f->failed = true;
	if (f->errlen > 0)
		log_format_errno(f->err, f->errlen, errnum, "%s", f->path);
}

static bool
inifile_section_known(const struct inifile *f, const char *name, size_t len)
{
	for (size_t i = 0; i < f->n_sections; i++)
		if (strlen(f->sections[i]) == len &&
		    memcmp(f->sections[i], name, len) == 0)
			return true;
	return false;
}

/*
 * Check a "[section]" line as inih will read it: the name is everything
 * between the brackets, and only a comment may follow.
 */
static bool
inifile_check_section(struct inifile *f, const char *p)
{
	const char *end = strchr(p, ']'), *q;

	if (end == NULL)
		return inifile_error(f, f->lineno, "%s: missing ']'", p);
	if (!inifile_section_known(f, p + 1, (size_t)(end - p - 1)))
		return inifile_error(f, f->lineno, "[%.*s]: unknown section",
		    (int)(end - p - 1), p + 1);
	for (q = end + 1; *q == ' ' || *q == '\t'; q++)
		;
	if (*q != '\0' && *q != ';' && *q != '#')
		return inifile_error(f, f->lineno,
		    "%.*s: text after the section header", (int)(end - p + 1),
		    p);
	return true;
}

/*
 * Set aside the value of a line too long for inih's buffer and give inih
 * "name=" plus a marker instead, doing the comment stripping and trimming
 * inih would have done.  False when even the name does not fit.
 */
static bool
inifile_stash_long(struct inifile *f, char *p, char *str, int num)
{
	char *sep = p + strcspn(p, "=:"), *v, *e;
	size_t nlen;

	if (*sep == '\0')
		return false;
	nlen = (size_t)(sep - p);
	if (nlen + sizeof(INIFILE_LONG_VALUE) + 1 > (size_t)num)
		return false;
	/* An inline comment is a ';' after whitespace. */
	for (v = sep + 1, e = v; *e != '\0'; e++)
		if (*e == ';' && e > v && (e[-1] == ' ' || e[-1] == '\t'))
			break;
	*e = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	free(f->long_value);
	if ((f->long_value = strdup(v)) == NULL)
		return false;
	f->long_lineno = f->lineno;
	memcpy(str, p, nlen + 1);
	memcpy(str + nlen + 1, INIFILE_LONG_VALUE, sizeof(INIFILE_LONG_VALUE));
	return true;
}

static char *
inifile_reader(char *str, int num, void *arg)
{
	struct inifile *f = arg;
	const char *nl;
	size_t n, len;
	char *p;

	if (f->failed)
		return NULL; /* stop inih at the first error */
	if (f->pos >= f->len)
		return NULL;
	nl = memchr(f->text + f->pos, '\n', f->len - f->pos);
	n = (nl != NULL ? (size_t)(nl - f->text) + 1 : f->len) - f->pos;
	if (n + 1 > f->cap) {
		free(f->line);
		f->cap = n + 1;
		if ((f->line = malloc(f->cap)) == NULL) {
			f->cap = 0;
			inifile_error(f, f->lineno + 1, "out of memory");
			return NULL;
		}
	}
	memcpy(f->line, f->text + f->pos, n);
	f->line[n] = '\0';
	f->pos += n;
	f->lineno++;
	len = n;
	if (len > 0 && f->line[len - 1] == '\n')
		f->line[--len] = '\0';
	if (len > 0 && f->line[len - 1] == '\r')
		f->line[--len] = '\0';
	if (strlen(f->line) != len) {
		inifile_error(f, f->lineno, "NUL byte in the line");
		return NULL;
	}
	/* Leading blanks would make inih treat the line as a continuation. */
	for (p = f->line; *p == ' ' || *p == '\t'; p++)
		len--;
	if (*p == '[' && !inifile_check_section(f, p))
		return NULL;
	if (len + 2 > (size_t)num) {
		if (*p == ';' || *p == '#')
			p = ""; /* a long comment is still a comment */
		else if (!inifile_stash_long(f, p, str, num)) {
			inifile_error(f, f->lineno, "line too long");
			return NULL;
		} else
			return str;
	}
	memcpy(str, p, strlen(p) + 1);
	return str;
}

/* Index of section/name in f->keys, or -1 when unknown. */
static int
inifile_key_index(
    const struct inifile *f, const char *section, const char *name)
{
	for (size_t i = 0; i < f->n_keys; i++) {
		const struct inifile_key *k =
		    (const void *)((const char *)f->keys + i * f->key_size);

		if (strcmp(k->section, section) == 0 &&
		    strcmp(k->name, name) == 0)
			return (int)i;
	}
	return -1;
}

static int
inifile_handler(
    void *arg, const char *section, const char *name, const char *value)
{
	struct inifile *f = arg;
	char why[PATH_MAX + 128];
	int i;

	/* A build with INI_CALL_HANDLER_ON_NEW_SECTION announces sections. */
	if (name == NULL || value == NULL)
		return 1;
	if (*section == '\0') {
		inifile_error(
		    f, f->lineno, "%s: key outside any [section]", name);
		return 0;
	}
	if ((i = inifile_key_index(f, section, name)) < 0) {
		inifile_error(
		    f, f->lineno, "[%s] %s: unknown key", section, name);
		return 0;
	}
	if (f->seen[i] != 0) {
		inifile_error(f, f->lineno,
		    "[%s] %s: duplicate key (first set on line %d)", section,
		    name, f->seen[i]);
		return 0;
	}
	f->seen[i] = f->lineno;
	if (strcmp(value, INIFILE_LONG_VALUE) == 0 &&
	    f->long_lineno == f->lineno)
		value = f->long_value;
	if (!f->set(f->arg, i, value, why, sizeof(why))) {
		inifile_error(f, f->lineno, "[%s] %s: %s", section, name, why);
		return 0;
	}
	return 1;
}

int
inifile_key_line(const struct inifile *f, const char *section, const char *name)
{
	int i = inifile_key_index(f, section, name);

	return i < 0 ? 0 : f->seen[i];
}

bool
inifile_parse_ll(
    const char *v, bool suffixes, long long *out, char *why, size_t whylen)
{
	const char *p = v;
	char *end;
	long long n, mult = 1;

	if (*v == '\0')
		return inifile_why(why, whylen, "empty value");
	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return inifile_why(why, whylen, "\"%s\" is not a number", v);
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno == ERANGE)
		return inifile_why(why, whylen, "%s is out of range", v);
	if (suffixes && *end != '\0' && end[1] == '\0') {
		const char *units = "kmg", *u = strchr(units, *end | 0x20);

		if (u != NULL) {
			mult = 1LL << (10 * (u - units + 1));
			end++;
		}
	}
	if (*end != '\0')
		return inifile_why(why, whylen,
		    "trailing garbage \"%s\" after the number", end);
	if (n > LLONG_MAX / mult || n < LLONG_MIN / mult)
		return inifile_why(why, whylen, "%s is out of range", v);
	*out = n * mult;
	return true;
}

bool
inifile_parse_number(const char *v, bool suffixes, long long min, long long max,
    long long *out, char *why, size_t whylen)
{
	if (!inifile_parse_ll(v, suffixes, out, why, whylen))
		return false;
	if (*out < min || *out > max)
		return inifile_why(why, whylen,
		    "%lld is out of range %lld..%lld", *out, min, max);
	return true;
}

bool
inifile_parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static const char *
inifile_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	default:
		return "not a file";
	}
}

/*
 * The whole file into a new buffer (*textp, *lenp), or -1 after
 * inifile_error.  Never blocks on a FIFO or a device: they are refused
 * after fstat, before any read.
 */
static int
inifile_slurp(struct inifile *f, char **textp, size_t *lenp)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, e;

	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		inifile_error_errno(f, errno);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		e = EISDIR;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		inifile_error(
		    f, 0, "not a regular file (%s)", inifile_type(st.st_mode));
		close(fd);
		return -1;
	}
	if (st.st_size > INIFILE_MAX_BYTES)
		goto too_big;
	/* One byte more than the limit: a file growing meanwhile shows. */
	if ((text = malloc(INIFILE_MAX_BYTES + 1)) == NULL) {
		e = ENOMEM;
		goto fail;
	}
	for (;;) {
		n = read(fd, text + len, INIFILE_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > INIFILE_MAX_BYTES)
			goto too_big;
	}
	close(fd);
	*textp = text;
	*lenp = len;
	return 0;
too_big:
	inifile_error(f, 0,
	    "larger than %ld bytes (the limit of a configuration file)",
	    INIFILE_MAX_BYTES);
	free(text);
	close(fd);
	return -1;
fail:
	inifile_error_errno(f, e);
	free(text);
	close(fd);
	return -1;
}

int
inifile_read(struct inifile *f, const char *path, char *err, size_t errlen)
{
	char *text;
	int r;

	f->path = path;
	f->err = err;
	f->errlen = errlen;
	if (f->errlen > 0)
		f->err[0] = '\0';
	if (inifile_slurp(f, &text, &f->len) < 0)
		return -1;
	f->text = text;

	/*
	 * inih as packaged: inline comments are a ';' after whitespace (the
	 * contract's example relies on them), '#' and ';' start a comment
	 * line, and multi-line values never happen because the reader strips
	 * leading blanks.  Its option globals are left alone.
	 */
	r = ini_parse_stream(inifile_reader, f, inifile_handler, f);
	if (!f->failed && r > 0)
		inifile_error(
		    f, r, "not a \"[section]\" or \"key = value\" line");
	else if (!f->failed && r < 0)
		inifile_error(f, 0, "out of memory");

	free(f->line);
	free(f->long_value);
	free(text);
	f->line = NULL;
	f->long_value = NULL;
	f->text = NULL;
	return f->failed ? -1 : 0;
}
