/*
 * commands.c - sbkctl's verb table: for each verb its method, synopsis,
 * options, and the functions that build its params and print its result
 * (or, for verbs that are more than one call, run the whole exchange:
 * compress/decompress with a progress bar, read in chunks, call and its
 * raw session mode, bench in bench.c).  Passwords come from standard
 * input or a no-echo prompt, never from argv, and are wiped after use.
 *
 * Thread safety: single-threaded.
 */
#include "sbk-config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

#include "base64.h"
#include "ctl.h"
#include "prometheus.h"
#include "sbk-client.h"

/* Verb option codes: letters for the short ones, 256 up for long-only. */
enum {
	OPT_OVERWRITE = 256,
	OPT_OFFSET,
	OPT_LENGTH,
	OPT_TYPE,
	OPT_T_COST,
	OPT_M_COST,
	OPT_PARALLELISM,
	OPT_HASH_LEN,
	OPT_SALT_LEN,
	OPT_PROBE_MS,
	OPT_THREADS,
	OPT_PROMETHEUS,
};

/* Largest standard input or password read into memory for inline mode. */
#define INLINE_INPUT_MAX ((size_t)256 * 1024 * 1024)
#define PASSWORD_MAX	 ((size_t)64 * 1024)

static bool
parse_ll(const char *s, long long min, long long max, long long *out)
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
static bool
parse_duration(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || v <= 0)
		return (false);
	if (strcmp(end, "ms") == 0)
		v /= 1000.0;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		v *= 60.0;
	else if (*end != '\0' && strcmp(end, "s") != 0)
		return (false);
	*out = v;
	return (true);
}

static int
bad_value(const struct ctl *ctl, const char *opt, const char *arg)
{
	fprintf(stderr, "%s: %s: bad value '%s' for %s\n", ctl->prog,
	    ctl->verb->name, arg, opt);
	return (CTL_USAGE);
}

/*
 * stats --prometheus.  sbkctl runs one verb per process, so this flag
 * lives here rather than in struct ctl, which belongs to every verb.
 */
static bool stats_prometheus;

int
ctl_option(struct ctl *ctl, int ch, const char *arg)
{
	long long v;

	switch (ch) {
	case 'o':
		ctl->out = arg;
		break;
	case 'l':
		if (!parse_ll(arg, -1000, 1000, &v))
			return (bad_value(ctl, "--level", arg));
		ctl->level = (int)v;
		ctl->level_set = true;
		break;
	case OPT_OVERWRITE:
		ctl->overwrite = true;
		break;
	case OPT_OFFSET:
		if (!parse_ll(arg, 0, LLONG_MAX, &ctl->offset))
			return (bad_value(ctl, "--offset", arg));
		break;
	case OPT_LENGTH:
		if (!parse_ll(arg, 0, LLONG_MAX, &ctl->length))
			return (bad_value(ctl, "--length", arg));
		break;
	case OPT_TYPE:
		ctl->type = arg;
		break;
	case OPT_T_COST:
		if (!parse_ll(arg, 0, INT32_MAX, &ctl->t_cost))
			return (bad_value(ctl, "--t-cost", arg));
		break;
	case OPT_M_COST:
		if (!parse_ll(arg, 0, INT32_MAX, &ctl->m_cost))
			return (bad_value(ctl, "--m-cost", arg));
		break;
	case OPT_PARALLELISM:
		if (!parse_ll(arg, 0, INT32_MAX, &ctl->parallelism))
			return (bad_value(ctl, "--parallelism", arg));
		break;
	case OPT_HASH_LEN:
		if (!parse_ll(arg, 0, INT32_MAX, &ctl->hash_len))
			return (bad_value(ctl, "--hash-len", arg));
		break;
	case OPT_SALT_LEN:
		if (!parse_ll(arg, 0, INT32_MAX, &ctl->salt_len))
			return (bad_value(ctl, "--salt-len", arg));
		break;
	case 'c':
		if (!parse_ll(arg, 1, 100000, &v))
			return (bad_value(ctl, "--connections", arg));
		ctl->conns = (int)v;
		break;
	case 'p':
		if (!parse_ll(arg, 1, 65535, &v))
			return (bad_value(ctl, "--pipeline", arg));
		ctl->pipeline = (int)v;
		break;
	case 'n':
		if (!parse_ll(arg, 1, LLONG_MAX, &ctl->requests))
			return (bad_value(ctl, "--requests", arg));
		break;
	case 'd':
		if (!parse_duration(arg, &ctl->duration_s))
			return (bad_value(ctl, "--duration", arg));
		break;
	case 'm':
		ctl->method = arg;
		break;
	case 'P':
		ctl->params = arg;
		break;
	case OPT_PROBE_MS:
		if (!parse_ll(arg, 0, 60000, &v))
			return (bad_value(ctl, "--probe-ms", arg));
		ctl->probe_ms = (int)v;
		break;
	case OPT_THREADS:
		if (!parse_ll(arg, 1, 1024, &v))
			return (bad_value(ctl, "--threads", arg));
		ctl->threads = (int)v;
		break;
	case OPT_PROMETHEUS:
		stats_prometheus = true;
		break;
	default:
		return (CTL_USAGE);
	}
	return (CTL_OK);
}

/*
 * Read a whole stream into memory, up to max bytes.  NULL on a read
 * error or when the input is larger (errno EFBIG).
 */
static char *
read_all(int fd, size_t max, size_t *lenp)
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

static bool
write_all(int fd, const void *buf, size_t len)
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

/* The terminal's settings while echo is off, for the signal handler. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_saved;

/* Interrupted at the prompt: give the terminal its echo back first. */
static void
restore_tty_cb(int sig)
{
	if (tty_saved)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * One line from the terminal, read a byte at a time with read(2) so no
 * copy of the password stays behind in a stdio buffer.  NULL at end of
 * input before any newline, or when longer than PASSWORD_MAX.
 */
static char *
read_tty_line(size_t *lenp)
{
	char *buf, ch;
	size_t len = 0;
	ssize_t n;

	if ((buf = malloc(PASSWORD_MAX + 1)) == NULL)
		return (NULL);
	for (;;) {
		n = read(STDIN_FILENO, &ch, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || len == PASSWORD_MAX) {
			explicit_bzero(buf, len);
			free(buf);
			return (NULL);
		}
		if (ch == '\n')
			break;
		buf[len++] = ch;
	}
	buf[len] = '\0';
	*lenp = len;
	return (buf);
}

/*
 * The password: prompted without echo when standard input is a
 * terminal, else all of standard input minus one trailing newline.
 * Returned as a JSON string (NULL on failure, reported).
 */
static json_t *
read_password(struct ctl *ctl)
{
	struct termios old, noecho;
	json_t *pw;
	char *buf = NULL;
	size_t len = 0, total;
	bool tty;

	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "Password: ");
		fflush(stderr);
		saved_tty = old;
		tty_saved = 1;
		signal(SIGINT, restore_tty_cb);
		signal(SIGTERM, restore_tty_cb);
		signal(SIGHUP, restore_tty_cb);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
		buf = read_tty_line(&len);
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		tty_saved = 0;
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		fputc('\n', stderr);
	} else
		buf = read_all(STDIN_FILENO, PASSWORD_MAX, &len);
	if (buf == NULL) {
		fprintf(stderr, "%s: %s: cannot read the password: %s\n",
		    ctl->prog, ctl->verb->name,
		    tty ? "end of input" : strerror(errno));
		return (NULL);
	}
	total = len;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	pw = json_stringn(buf, len);
	explicit_bzero(buf, total);
	free(buf);
	if (pw == NULL)
		fprintf(stderr, "%s: %s: the password is not valid UTF-8\n",
		    ctl->prog, ctl->verb->name);
	return (pw);
}

/* Set an integer member when the option was given (>= 0). */
static void
set_opt_int(json_t *params, const char *key, long long v)
{
	if (v >= 0)
		json_object_set_new(params, key, json_integer(v));
}

/* --- ping, stats --- */

static int
print_ping(struct ctl *ctl, json_t *result)
{
	if (ctl->json)
		ctl_print_json(ctl, result);
	else
		printf("pong\n");
	return (CTL_OK);
}

/* One row per scalar, nested objects flattened to dotted names. */
static void
print_flat(const char *prefix, json_t *v)
{
	const char *key;
	json_t *member;
	char name[256], *text;

	if (json_is_object(v)) {
		json_object_foreach(v, key, member)
		{
			if (prefix[0] != '\0')
				snprintf(
				    name, sizeof(name), "%s.%s", prefix, key);
			else
				snprintf(name, sizeof(name), "%s", key);
			print_flat(name, member);
		}
		return;
	}
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (json_is_string(v))
		printf("%-24s %s\n", prefix, json_string_value(v));
	else
		printf("%-24s %s\n", prefix, text != NULL ? text : "?");
	free(text);
}

/*
 * --prometheus: the text sbkd serves at /metrics (the same formatter,
 * proto/prometheus.c), for node_exporter's textfile collector.
 */
static int
print_stats(struct ctl *ctl, json_t *result)
{
	char *text;
	size_t len;

	if (stats_prometheus) {
		if ((text = prom_format_stats(result, &len)) == NULL) {
			fprintf(stderr, "%s: stats: %s\n", ctl->prog,
			    strerror(errno));
			return (CTL_NEGATIVE);
		}
		fwrite(text, 1, len, stdout);
		free(text);
	} else if (ctl->json)
		ctl_print_json(ctl, result);
	else
		print_flat("", result);
	return (CTL_OK);
}

/* --- hash, verify --- */

static int
build_hash(struct ctl *ctl, json_t **params)
{
	json_t *pw;

	if ((pw = read_password(ctl)) == NULL)
		return (CTL_NEGATIVE);
	*params = json_object();
	json_object_set_new(*params, "password", pw);
	if (ctl->type != NULL)
		json_object_set_new(*params, "type", json_string(ctl->type));
	set_opt_int(*params, "t_cost", ctl->t_cost);
	set_opt_int(*params, "m_cost_kib", ctl->m_cost);
	set_opt_int(*params, "parallelism", ctl->parallelism);
	set_opt_int(*params, "hash_len", ctl->hash_len);
	set_opt_int(*params, "salt_len", ctl->salt_len);
	return (CTL_OK);
}

static int
print_hash(struct ctl *ctl, json_t *result)
{
	const char *hash;

	hash = json_string_value(json_object_get(result, "hash"));
	if (ctl->json || hash == NULL)
		ctl_print_json(ctl, result);
	else
		printf("%s\n", hash);
	return (CTL_OK);
}

static int
build_verify(struct ctl *ctl, json_t **params)
{
	json_t *pw;

	if ((pw = read_password(ctl)) == NULL)
		return (CTL_NEGATIVE);
	*params = json_object();
	json_object_set_new(*params, "password", pw);
	json_object_set_new(*params, "hash", json_string(ctl->argv[0]));
	return (CTL_OK);
}

static int
print_verify(struct ctl *ctl, json_t *result)
{
	bool valid;

	valid = json_is_true(json_object_get(result, "valid"));
	if (ctl->json)
		ctl_print_json(ctl, result);
	else
		printf("%s\n", valid ? "valid" : "invalid");
	return (valid ? CTL_OK : CTL_NEGATIVE);
}

/* --- cancel --- */

static int
build_cancel(struct ctl *ctl, json_t **params)
{
	long long id;

	*params = json_object();
	if (parse_ll(ctl->argv[0], LLONG_MIN, LLONG_MAX, &id))
		json_object_set_new(*params, "id", json_integer(id));
	else
		json_object_set_new(*params, "id", json_string(ctl->argv[0]));
	return (CTL_OK);
}

static int
print_cancel(struct ctl *ctl, json_t *result)
{
	bool cancelled;

	cancelled = json_is_true(json_object_get(result, "cancelled"));
	if (ctl->json)
		ctl_print_json(ctl, result);
	else
		printf("%s\n",
		    cancelled ?
			"cancelled" :
			"not cancelled "
			"(no such request in flight on this connection)");
	return (cancelled ? CTL_OK : CTL_NEGATIVE);
}

/* --- compress, decompress --- */

/* Progress bar state: drawn on stderr only when it is a terminal. */
struct progress {
	const char *label;
	bool drawn;
};

static void
progress_cb(const char *method, const json_t *params, void *arg)
{
	struct progress *p = arg;
	double done, total, frac;
	int i, fill;
	char bar[31];

	if (strcmp(method, "progress") != 0)
		return;
	done = (double)json_integer_value(json_object_get(params, "done"));
	total = (double)json_integer_value(json_object_get(params, "total"));
	frac = total > 0 ? done / total : 0;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * 30);
	for (i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : ' ';
	bar[30] = '\0';
	fprintf(stderr, "\r%s [%s] %3d%% %.1f/%.1f MiB", p->label, bar,
	    (int)(frac * 100), done / 1048576.0, total / 1048576.0);
	fflush(stderr);
	p->drawn = true;
}

/*
 * out made absolute against the working directory; the daemon resolves
 * symlinks itself and refuses an out_path that is one, so the last
 * component is kept as given.
 */
static char *
absolute_path(const char *path)
{
	char cwd[PATH_MAX], *abs;

	if (path[0] == '/')
		return (strdup(path));
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return (NULL);
	if (asprintf(&abs, "%s/%s", cwd, path) == -1)
		return (NULL);
	return (abs);
}

static int
zstd_paths(struct ctl *ctl, const char *method, const char *in)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct progress prog = { .label = ctl->verb->name };
	json_t *params, *result;
	char *path, *out;
	int rc;

	if ((path = realpath(in, NULL)) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", ctl->prog, in, strerror(errno));
		return (CTL_NEGATIVE);
	}
	if ((out = absolute_path(ctl->out)) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", ctl->prog, ctl->out,
		    strerror(errno));
		free(path);
		return (CTL_NEGATIVE);
	}
	params = json_pack("{s:s, s:s}", "path", path, "out_path", out);
	free(path);
	free(out);
	if (ctl->level_set)
		json_object_set_new(params, "level", json_integer(ctl->level));
	if (ctl->overwrite)
		json_object_set_new(params, "overwrite", json_true());
	if ((c = ctl_connect(ctl)) == NULL) {
		json_decref(params);
		return (CTL_CONNECT);
	}
	if (isatty(STDERR_FILENO) && !ctl->json) {
		json_object_set_new(params, "progress", json_true());
		sbk_set_notify_cb(c, progress_cb, &prog);
	}
	result = sbk_call(c, method, params, ctl->timeout_ms, &err);
	json_decref(params);
	sbk_close(c);
	if (prog.drawn)
		fprintf(stderr, "\r\033[K");
	if (result == NULL) {
		rc = ctl_report(ctl, method, &err);
		sbk_error_clear(&err);
		return (rc);
	}
	if (ctl->json)
		ctl_print_json(ctl, result);
	else
		printf("%s: %" JSON_INTEGER_FORMAT " -> %" JSON_INTEGER_FORMAT
		       " bytes\n",
		    ctl->out,
		    json_integer_value(json_object_get(result, "bytes_in")),
		    json_integer_value(json_object_get(result, "bytes_out")));
	json_decref(result);
	return (CTL_OK);
}

static int
zstd_inline(struct ctl *ctl, const char *method, const char *in)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *params, *result;
	const char *b64;
	char *data, *enc, *dec;
	size_t len, declen;
	int fd, rc;

	if (strcmp(method, "zstd.compress") == 0 && isatty(STDOUT_FILENO) &&
	    !ctl->json) {
		fprintf(stderr,
		    "%s: compress: refusing to write compressed "
		    "data to a terminal\n",
		    ctl->prog);
		return (CTL_USAGE);
	}
	fd = STDIN_FILENO;
	if (in != NULL && strcmp(in, "-") != 0 &&
	    (fd = open(in, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "%s: %s: %s\n", ctl->prog, in, strerror(errno));
		return (CTL_NEGATIVE);
	}
	data = read_all(fd, INLINE_INPUT_MAX, &len);
	if (fd != STDIN_FILENO)
		close(fd);
	if (data == NULL) {
		fprintf(stderr, "%s: %s: cannot read input: %s\n", ctl->prog,
		    ctl->verb->name, strerror(errno));
		return (CTL_NEGATIVE);
	}
	enc = malloc(base64_encoded_len(len) + 1);
	if (enc == NULL) {
		free(data);
		fprintf(stderr, "%s: out of memory\n", ctl->prog);
		return (CTL_NEGATIVE);
	}
	base64_encode(data, len, enc);
	free(data);
	params = json_object();
	json_object_set_new(params, "data_b64", json_string(enc));
	free(enc);
	if (ctl->level_set)
		json_object_set_new(params, "level", json_integer(ctl->level));
	if ((c = ctl_connect(ctl)) == NULL) {
		json_decref(params);
		return (CTL_CONNECT);
	}
	result = sbk_call(c, method, params, ctl->timeout_ms, &err);
	json_decref(params);
	sbk_close(c);
	if (result == NULL) {
		rc = ctl_report(ctl, method, &err);
		if (err.kind == SBK_ERR_RPC && err.code == -32600)
			fprintf(stderr,
			    "%s: hint: inline data is limited by "
			    "the daemon's max_request_bytes; use FILE -o OUT "
			    "for big files\n",
			    ctl->prog);
		sbk_error_clear(&err);
		return (rc);
	}
	if (ctl->json) {
		ctl_print_json(ctl, result);
		json_decref(result);
		return (CTL_OK);
	}
	b64 = json_string_value(json_object_get(result, "data_b64"));
	rc = CTL_OK;
	if (b64 == NULL) {
		fprintf(stderr, "%s: %s: reply without data_b64\n", ctl->prog,
		    method);
		rc = CTL_RPC;
	} else if ((dec = malloc(base64_decoded_max(strlen(b64)) + 1)) ==
	    NULL) {
		fprintf(stderr, "%s: out of memory\n", ctl->prog);
		rc = CTL_NEGATIVE;
	} else {
		if (!base64_decode(b64, strlen(b64), dec, &declen)) {
			fprintf(stderr, "%s: %s: reply holds invalid base64\n",
			    ctl->prog, method);
			rc = CTL_RPC;
		} else if (!write_all(STDOUT_FILENO, dec, declen)) {
			fprintf(stderr, "%s: write: %s\n", ctl->prog,
			    strerror(errno));
			rc = CTL_NEGATIVE;
		}
		free(dec);
	}
	json_decref(result);
	return (rc);
}

static int
run_zstd(struct ctl *ctl)
{
	const char *in;

	in = ctl->argc > 0 ? ctl->argv[0] : NULL;
	if (ctl->out != NULL) {
		if (in == NULL || strcmp(in, "-") == 0) {
			fprintf(stderr,
			    "%s: %s: -o needs an input FILE (path "
			    "mode); use standard output without -o\n",
			    ctl->prog, ctl->verb->name);
			return (CTL_USAGE);
		}
		return (zstd_paths(ctl, ctl->verb->method, in));
	}
	if (ctl->overwrite) {
		fprintf(stderr, "%s: %s: --overwrite needs -o OUT\n", ctl->prog,
		    ctl->verb->name);
		return (CTL_USAGE);
	}
	return (zstd_inline(ctl, ctl->verb->method, in));
}

/* --- read --- */

static int
run_read(struct ctl *ctl)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *params, *result;
	const char *b64;
	char *path, *dec;
	long long offset, left, got;
	size_t declen;
	bool eof;
	int rc;

	if ((path = realpath(ctl->argv[0], NULL)) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", ctl->prog, ctl->argv[0],
		    strerror(errno));
		return (CTL_NEGATIVE);
	}
	if ((c = ctl_connect(ctl)) == NULL) {
		free(path);
		return (CTL_CONNECT);
	}
	offset = ctl->offset >= 0 ? ctl->offset : 0;
	left = ctl->length; /* -1: to the end */
	rc = CTL_OK;
	/*
	 * One file.read returns at most the daemon's max_read_bytes; ask
	 * again from where it stopped until end of file or --length.
	 */
	do {
		dec = NULL;
		params = json_pack(
		    "{s:s, s:I}", "path", path, "offset", (json_int_t)offset);
		if (left >= 0)
			json_object_set_new(
			    params, "length", json_integer(left));
		result =
		    sbk_call(c, "file.read", params, ctl->timeout_ms, &err);
		json_decref(params);
		if (result == NULL) {
			rc = ctl_report(ctl, "file.read", &err);
			sbk_error_clear(&err);
			break;
		}
		if (ctl->json) {
			ctl_print_json(ctl, result);
			json_decref(result);
			break;
		}
		b64 = json_string_value(json_object_get(result, "data_b64"));
		got = json_integer_value(json_object_get(result, "bytes"));
		eof = json_is_true(json_object_get(result, "eof"));
		if (b64 == NULL ||
		    (dec = malloc(base64_decoded_max(strlen(b64)) + 1)) ==
			NULL ||
		    !base64_decode(b64, strlen(b64), dec, &declen)) {
			free(dec);
			fprintf(stderr, "%s: file.read: bad data in reply\n",
			    ctl->prog);
			json_decref(result);
			rc = CTL_RPC;
			break;
		}
		json_decref(result);
		if (!write_all(STDOUT_FILENO, dec, declen)) {
			fprintf(stderr, "%s: write: %s\n", ctl->prog,
			    strerror(errno));
			free(dec);
			rc = CTL_NEGATIVE;
			break;
		}
		free(dec);
		offset += got;
		if (left >= 0)
			left -= got;
	} while (!eof && got > 0 && left != 0);
	sbk_close(c);
	free(path);
	return (rc);
}

/* --- call --- */

/*
 * `call -`: a raw session.  Lines from standard input go to the daemon
 * unchanged; every message from the daemon is printed as one compact
 * JSON line.  At the end of input the write side is shut down and the
 * daemon, which answers every accepted job first, closes.
 */
static int
call_session(struct ctl *ctl)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct sbk_reply r;
	struct pollfd pfd[2];
	char buf[65536], *line = NULL, *nl, *grown;
	size_t linelen = 0, linecap = 0, n, take;
	ssize_t got;
	bool in_eof = false;
	int rc = CTL_OK, prc;

	if ((c = ctl_connect(ctl)) == NULL)
		return (CTL_CONNECT);
	for (;;) {
		while ((prc = sbk_recv(c, &r, 0, &err)) == 1) {
			json_dumpf(r.msg, stdout, JSON_COMPACT);
			putchar('\n');
			sbk_reply_clear(&r);
		}
		fflush(stdout);
		if (prc == -1) {
			if (err.kind != SBK_ERR_CLOSED || !in_eof)
				rc = ctl_report(ctl, "call", &err);
			break;
		}
		pfd[0].fd = sbk_fd(c);
		pfd[0].events = POLLIN;
		pfd[1].fd = in_eof ? -1 : STDIN_FILENO;
		pfd[1].events = POLLIN;
		prc = poll(pfd, 2, in_eof ? ctl->timeout_ms : -1);
		if (prc == 0) {
			fprintf(stderr,
			    "%s: call: timed out waiting for "
			    "replies\n",
			    ctl->prog);
			rc = CTL_CONNECT;
			break;
		}
		if (prc == -1 || !(pfd[1].revents & (POLLIN | POLLHUP)))
			continue;
		got = read(STDIN_FILENO, buf, sizeof(buf));
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (linelen > 0 &&
			    sbk_send_raw(c, line, linelen, &err) == -1)
				goto fail;
			in_eof = true;
			if (sbk_shutdown_write(c, &err) == -1)
				goto fail;
			continue;
		}
		/* Cut complete lines out; keep the tail for the next read. */
		for (n = 0; n < (size_t)got;) {
			nl = memchr(buf + n, '\n', (size_t)got - n);
			take = nl != NULL ? (size_t)(nl - (buf + n)) + 1 :
					    (size_t)got - n;
			if (linelen + take > linecap) {
				linecap = (linelen + take) * 2;
				if ((grown = realloc(line, linecap)) == NULL) {
					fprintf(stderr, "%s: out of memory\n",
					    ctl->prog);
					rc = CTL_NEGATIVE;
					goto out;
				}
				line = grown;
			}
			/* take >= 1, so line is allocated here. */
			/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
			memcpy(line + linelen, buf + n, take);
			linelen += take;
			n += take;
			if (nl != NULL) {
				if (sbk_send_raw(c, line, linelen, &err) == -1)
					goto fail;
				linelen = 0;
			}
		}
	}
	goto out;
fail:
	rc = ctl_report(ctl, "call", &err);
out:
	sbk_error_clear(&err);
	free(line);
	sbk_close(c);
	return (rc);
}

static int
run_call(struct ctl *ctl)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_error_t jerr;
	json_t *params = NULL, *result, *eobj;
	int rc;

	if (strcmp(ctl->argv[0], "-") == 0) {
		if (ctl->argc > 1) {
			fprintf(stderr, "%s: call -: takes no JSON argument\n",
			    ctl->prog);
			return (CTL_USAGE);
		}
		return (call_session(ctl));
	}
	if (ctl->argc > 1) {
		params = json_loads(ctl->argv[1], JSON_DECODE_ANY, &jerr);
		if (params == NULL || !json_is_object(params)) {
			fprintf(stderr,
			    "%s: call: params must be a JSON "
			    "object%s%s (send anything else with `call -`)\n",
			    ctl->prog, params == NULL ? ": " : "",
			    params == NULL ? jerr.text : "");
			json_decref(params);
			return (CTL_USAGE);
		}
	}
	if ((c = ctl_connect(ctl)) == NULL) {
		json_decref(params);
		return (CTL_CONNECT);
	}
	result = sbk_call(c, ctl->argv[0], params, ctl->timeout_ms, &err);
	json_decref(params);
	sbk_close(c);
	if (result == NULL) {
		if (ctl->json && err.kind == SBK_ERR_RPC) {
			eobj = json_pack("{s:{s:i, s:s}}", "error", "code",
			    err.code, "message", err.message);
			if (err.data != NULL)
				json_object_set(json_object_get(eobj, "error"),
				    "data", err.data);
			ctl_print_json(ctl, eobj);
			json_decref(eobj);
		}
		rc = ctl_report(ctl, ctl->argv[0], &err);
		sbk_error_clear(&err);
		return (rc);
	}
	ctl_print_json(ctl, result);
	json_decref(result);
	return (CTL_OK);
}

/* --- the table --- */

static const struct option hash_opts[] = {
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "t-cost", required_argument, NULL, OPT_T_COST },
	{ "m-cost", required_argument, NULL, OPT_M_COST },
	{ "parallelism", required_argument, NULL, OPT_PARALLELISM },
	{ "hash-len", required_argument, NULL, OPT_HASH_LEN },
	{ "salt-len", required_argument, NULL, OPT_SALT_LEN },
	{ NULL, 0, NULL, 0 },
};

static const struct option zstd_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "level", required_argument, NULL, 'l' },
	{ "overwrite", no_argument, NULL, OPT_OVERWRITE },
	{ NULL, 0, NULL, 0 },
};

static const struct option stats_opts[] = {
	{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
	{ NULL, 0, NULL, 0 },
};

static const struct option read_opts[] = {
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "length", required_argument, NULL, OPT_LENGTH },
	{ NULL, 0, NULL, 0 },
};

static const struct option bench_opts[] = {
	{ "connections", required_argument, NULL, 'c' },
	{ "pipeline", required_argument, NULL, 'p' },
	{ "inflight", required_argument, NULL, 'p' },
	{ "requests", required_argument, NULL, 'n' },
	{ "duration", required_argument, NULL, 'd' },
	{ "method", required_argument, NULL, 'm' },
	{ "params", required_argument, NULL, 'P' },
	{ "probe-ms", required_argument, NULL, OPT_PROBE_MS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ NULL, 0, NULL, 0 },
};

#define ZSTD_OPTIONS                                                         \
	"  -o, --output OUT   path mode: the daemon reads FILE and writes "  \
	"OUT\n"                                                              \
	"                     (both made absolute; must lie in its roots)\n" \
	"  -l, --level N      zstd level (default: the daemon's)\n"          \
	"      --overwrite    replace an existing OUT\n"                     \
	"Without -o, FILE (or standard input) goes inline to standard "      \
	"output.\n"

const struct ctl_verb ctl_verbs[] = {
	{
	    .name = "ping",
	    .method = "ping",
	    .synopsis = "",
	    .summary = "check that the daemon answers",
	    .max_args = 0,
	    .print = print_ping,
	},
	{
	    .name = "stats",
	    .method = "stats",
	    .synopsis = "[--json | --prometheus]",
	    .summary = "show the daemon's counters",
	    .options =
		"      --prometheus     Prometheus text format (as sbkd's "
		"/metrics)\n",
	    .longopts = stats_opts,
	    .max_args = 0,
	    .print = print_stats,
	},
	{
	    .name = "hash",
	    .method = "argon2.hash",
	    .synopsis = "[--type T] [--t-cost N] [--m-cost KIB] "
			"[--parallelism N] < PASSWORD",
	    .summary = "argon2-hash a password from standard input",
	    .options = "      --type T         argon2id (default), argon2i or "
		       "argon2d\n"
		       "      --t-cost N       iterations\n"
		       "      --m-cost KIB     memory in KiB\n"
		       "      --parallelism N  lanes\n"
		       "      --hash-len N     hash bytes (default 32)\n"
		       "      --salt-len N     salt bytes (default 16)\n",
	    .longopts = hash_opts,
	    .max_args = 0,
	    .build = build_hash,
	    .print = print_hash,
	},
	{
	    .name = "verify",
	    .method = "argon2.verify",
	    .synopsis = "HASH < PASSWORD",
	    .summary = "check a password from standard input against a hash",
	    .min_args = 1,
	    .max_args = 1,
	    .build = build_verify,
	    .print = print_verify,
	},
	{
	    .name = "compress",
	    .method = "zstd.compress",
	    .synopsis = "[FILE -o OUT [--overwrite]] [--level N]",
	    .summary = "zstd-compress FILE to OUT, or stdin to stdout",
	    .options = ZSTD_OPTIONS,
	    .longopts = zstd_opts,
	    .shortopts = "o:l:",
	    .max_args = 1,
	    .run = run_zstd,
	},
	{
	    .name = "decompress",
	    .method = "zstd.decompress",
	    .synopsis = "[FILE -o OUT [--overwrite]]",
	    .summary = "zstd-decompress FILE to OUT, or stdin to stdout",
	    .options = ZSTD_OPTIONS,
	    .longopts = zstd_opts,
	    .shortopts = "o:l:",
	    .max_args = 1,
	    .run = run_zstd,
	},
	{
	    .name = "read",
	    .method = "file.read",
	    .synopsis = "FILE [--offset N] [--length N]",
	    .summary = "write a file the daemon reads to stdout",
	    .options =
		"      --offset N   start at byte N (default 0)\n"
		"      --length N   at most N bytes (default: to the end)\n",
	    .longopts = read_opts,
	    .min_args = 1,
	    .max_args = 1,
	    .run = run_read,
	},
	{
	    .name = "cancel",
	    .method = "job.cancel",
	    .synopsis = "ID",
	    .summary = "send job.cancel for ID (exit 1 when nothing was "
		       "cancelled)",
	    .options =
		"The daemon scopes ids to their connection: a new connection\n"
		"has no request in flight, so this answers false unless used\n"
		"for a request of the same session.  To cancel a request, "
		"send\n"
		"it and its job.cancel through one `sbkctl call -` session.\n",
	    .min_args = 1,
	    .max_args = 1,
	    .build = build_cancel,
	    .print = print_cancel,
	},
	{
	    .name = "call",
	    .method = NULL,
	    .synopsis = "METHOD [JSON] | call -",
	    .summary = "send one request, print its result as JSON",
	    .options =
		"With METHOD \"-\": a raw session; each line of standard "
		"input\n"
		"is sent as is and every message from the daemon is printed "
		"as\n"
		"one JSON line, until the input ends and all replies came.\n",
	    .min_args = 1,
	    .max_args = 2,
	    .run = run_call,
	},
	{
	    .name = "bench",
	    .method = NULL,
	    .synopsis = "[-c CONNS] [-p INFLIGHT] [-n REQUESTS | -d DURATION] "
			"[-m METHOD] [-P JSON] [--probe-ms MS] [--threads N]",
	    .summary = "load the daemon, report throughput and latency",
	    .options =
		"  -c, --connections C   connections (default 4)\n"
		"  -p, --pipeline P      requests in flight per connection "
		"(default 16; alias --inflight)\n"
		"  -n, --requests N      total requests (default 10000)\n"
		"  -d, --duration D      run for D (10, 10s, 500ms, 1m) "
		"instead of -n\n"
		"  -m, --method NAME     method (default ping)\n"
		"  -P, --params JSON     params object (default none)\n"
		"      --probe-ms MS     ping on a separate connection every "
		"MS ms (default 5; 0: off)\n"
		"      --threads N       client threads (default: min(C, "
		"CPUs))\n"
		"  -t, --timeout MS      a connection with no reply for MS "
		"is lost\n"
		"      --json            one JSON object instead of the "
		"table\n",
	    .longopts = bench_opts,
	    .shortopts = "c:p:n:d:m:P:",
	    .max_args = 0,
	    .run = ctl_bench,
	},
	{ .name = NULL },
};
