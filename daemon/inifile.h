/*
 * inifile.h - the INI front end sbkd's and sbk-gearman's configuration
 * readers share: the bounded read of a regular file, inih driven through
 * our own line reader (line numbers, leading blanks, unknown sections,
 * values longer than inih's buffer), the checks every key gets (outside a
 * section, unknown, duplicate), the "FILE:LINE: what is wrong" errors, and
 * the value parsers both readers use (numbers with a range and K/M/G
 * suffixes, booleans).  Each reader keeps only its key table and its own
 * value types.
 *
 * Not named ini.h: that is inih's header, on the same include path.
 *
 * Thread safety: main thread only (inih's options are process globals).
 */
#ifndef SBK_INIFILE_H
#define SBK_INIFILE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The largest configuration file read.  It must also be a regular file (a
 * symlink to one is fine): a FIFO or a device is refused without reading.
 */
#define INIFILE_MAX_BYTES (1024L * 1024)

/* The first member of every row of a reader's key table. */
struct inifile_key {
	const char *section;
	const char *name;
};

struct inifile {
	/* Set by the caller (zero the rest first). */
	const char *const *sections; /* the known [section] names */
	size_t n_sections;
	/* The key table: n_keys rows of key_size bytes, each starting with
	 * a struct inifile_key. */
	const void *keys;
	size_t n_keys, key_size;
	/* Store a value; false with the reason in why. */
	bool (*set)(
	    void *arg, int index, const char *value, char *why, size_t whylen);
	void *arg;
	int *seen; /* per key index: the line it was set on, 0 if not set */

	/* Set by inifile_read; path may be changed after it. */
	const char *path;
	char *err; /* the first error, "FILE:LINE: ..." */
	size_t errlen;
	bool failed;

	/* Private to inifile.c. */
	const char *text;
	size_t len;
	size_t pos;
	char *line;
	size_t cap;
	int lineno;
	char *long_value;
	int long_lineno;
};

/*
 * Record the first error only (the one to fix first), as "PATH:LINE: "
 * plus the message, or "PATH: " when lineno is 0.  Returns false.
 */
bool inifile_error(struct inifile *f, int lineno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A value parser's failure: the reason into why; returns false. */
bool inifile_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Read path and hand every key to f->set.  Returns 0, or -1 with
 * f->failed set and the first error in err.
 */
int inifile_read(struct inifile *f, const char *path, char *err, size_t errlen);

/* The line a key was set on, or 0 when it kept its default. */
int inifile_key_line(
    const struct inifile *f, const char *section, const char *name);

/* true, yes, on, 1 / false, no, off, 0, any case; false when neither. */
bool inifile_parse_bool(const char *v, bool *out);

/*
 * A decimal integer, optionally negative, nothing before or after it but
 * (with suffixes) one K, M or G (1024-based).  False with the reason in
 * why.
 */
bool inifile_parse_ll(
    const char *v, bool suffixes, long long *out, char *why, size_t whylen);
/* inifile_parse_ll, then "N is out of range MIN..MAX" outside min..max. */
bool inifile_parse_number(const char *v, bool suffixes, long long min,
    long long max, long long *out, char *why, size_t whylen);

#endif
