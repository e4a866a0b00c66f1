/*
 * files.c - sbkctl's file verbs: compress and decompress (path mode
 * with a progress bar, or inline through standard input and output) and
 * read (file.read in chunks until end of file), each checking the shape
 * of what the daemon answers.
 *
 * Thread safety: single-threaded.
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
#include <sys/stat.h>

#include <jansson.h>

#include "base64.h"
#include "ctl.h"
#include "sbk-client.h"

/* Largest standard input read into memory for inline mode. */
#define INLINE_INPUT_MAX ((size_t)256 * 1024 * 1024)

/* --- compress, decompress --- */

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

/* One FILE -> OUT job, done by the daemon (path mode). */
static int
zstd_paths(
    struct ctl *ctl, const char *method, const char *in, const char *outname)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	struct ctl_progress prog;
	json_t *params, *result, *bytes_in, *bytes_out;
	char *path, *out;
	int rc;

	if ((path = realpath(in, NULL)) == NULL)
		return (
		    ctl_fail(ctl, CTL_NEGATIVE, "%s: %s", in, strerror(errno)));
	if ((out = absolute_path(outname)) == NULL) {
		free(path);
		return (ctl_fail(
		    ctl, CTL_NEGATIVE, "%s: %s", outname, strerror(errno)));
	}
	ctl_verbose(ctl, "%s: %s -> %s", method, path, out);
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
	if (ctl_progress_start(&prog, ctl, in)) {
		json_object_set_new(params, "progress", json_true());
		sbk_set_notify_cb(c, ctl_progress_cb, &prog);
	}
	/* The job's progress shows it is alive: no client timeout unless
	 * -t was given. */
	result = sbk_call(
	    c, method, params, ctl->timeout_set ? ctl->timeout_ms : -1, &err);
	json_decref(params);
	sbk_close(c);
	ctl_progress_end(&prog);
	if (result == NULL) {
		rc = ctl_report(ctl, method, &err);
		sbk_error_clear(&err);
		return (rc);
	}
	bytes_in = json_object_get(result, "bytes_in");
	bytes_out = json_object_get(result, "bytes_out");
	if (!json_is_integer(bytes_in) || !json_is_integer(bytes_out) ||
	    json_integer_value(bytes_in) < 0 ||
	    json_integer_value(bytes_out) < 0) {
		json_decref(result);
		return (ctl_bad_reply(
		    ctl, method, "no \"bytes_in\" and \"bytes_out\" sizes"));
	}
	if (ctl->json)
		ctl_print_json(ctl, result);
	else if (!ctl->quiet)
		printf("%s: %" JSON_INTEGER_FORMAT " -> %" JSON_INTEGER_FORMAT
		       " bytes\n",
		    outname, json_integer_value(bytes_in),
		    json_integer_value(bytes_out));
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
	data = ctl_read_all(fd, INLINE_INPUT_MAX, &len);
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
	b64 = json_string_value(json_object_get(result, "data_b64"));
	if (b64 == NULL) {
		json_decref(result);
		return (ctl_bad_reply(ctl, method, "no \"data_b64\" string"));
	}
	if (ctl->json) {
		ctl_print_json(ctl, result);
		json_decref(result);
		return (CTL_OK);
	}
	rc = CTL_OK;
	if ((dec = malloc(base64_decoded_max(strlen(b64)) + 1)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", ctl->prog);
		rc = CTL_NEGATIVE;
	} else {
		if (!base64_decode(b64, strlen(b64), dec, &declen))
			rc = ctl_bad_reply(ctl, method, "invalid base64");
		else if (!ctl_write_all(STDOUT_FILENO, dec, declen)) {
			fprintf(stderr, "%s: write: %s\n", ctl->prog,
			    strerror(errno));
			rc = CTL_NEGATIVE;
		}
		free(dec);
	}
	json_decref(result);
	return (rc);
}

/* zstd's default output name: FILE.zst, or FILE without ".zst". */
static char *
default_out(struct ctl *ctl, const char *in, bool compress)
{
	size_t len = strlen(in);
	char *out;

	if (compress) {
		if (asprintf(&out, "%s.zst", in) == -1)
			return (NULL);
		return (out);
	}
	if (len <= 4 || strcmp(in + len - 4, ".zst") != 0) {
		ctl_fail(ctl, CTL_NEGATIVE,
		    "%s: unknown suffix (not .zst): give -o OUT or -c", in);
		return (NULL);
	}
	return (strndup(in, len - 4));
}

/*
 * zstd's habits: FILE... to FILE.zst (or back), each by the daemon;
 * -c, -o - or no FILE: inline, to standard output.
 */
int
ctl_run_zstd(struct ctl *ctl)
{
	const char *method, *in;
	bool compress, inline_mode;
	char *out;
	int i, rc, worst = CTL_OK;

	compress =
	    !ctl->decompress && strcmp(ctl->verb->method, "zstd.compress") == 0;
	method = compress ? "zstd.compress" : "zstd.decompress";
	if (ctl->out != NULL && strcmp(ctl->out, "-") != 0 &&
	    (ctl->argc == 0 || strcmp(ctl->argv[0], "-") == 0))
		return (ctl_fail(ctl, CTL_USAGE,
		    "-o OUT needs a FILE: the daemon reads FILE and writes "
		    "OUT (use standard output for standard input)"));
	inline_mode = ctl->to_stdout ||
	    (ctl->out != NULL && strcmp(ctl->out, "-") == 0) ||
	    ctl->argc == 0 ||
	    (ctl->argc == 1 && strcmp(ctl->argv[0], "-") == 0);
	if (inline_mode) {
		if (ctl->argc > 1)
			return (ctl_fail(
			    ctl, CTL_USAGE, "standard output takes one input"));
		if (ctl->overwrite)
			return (ctl_fail(ctl, CTL_USAGE,
			    "--force replaces a file output: not with "
			    "standard output"));
		in = ctl->argc > 0 ? ctl->argv[0] : NULL;
		return (zstd_inline(ctl, method, in));
	}
	if (ctl->out != NULL && ctl->argc > 1)
		return (ctl_fail(
		    ctl, CTL_USAGE, "-o names one output: give one FILE"));
	for (i = 0; i < ctl->argc; i++) {
		if (strcmp(ctl->argv[i], "-") == 0) {
			rc = ctl_fail(ctl, CTL_USAGE,
			    "- (standard input) needs -c with several files");
		} else if (ctl->out != NULL)
			rc = zstd_paths(ctl, method, ctl->argv[i], ctl->out);
		else if ((out = default_out(ctl, ctl->argv[i], compress)) ==
		    NULL)
			rc = CTL_NEGATIVE;
		else {
			rc = zstd_paths(ctl, method, ctl->argv[i], out);
			free(out);
		}
		if (worst == CTL_OK)
			worst = rc;
	}
	return (worst);
}

/* --- read --- */

/*
 * One file.read reply checked and written out.  The sizes are the
 * daemon's: "bytes" must be what data_b64 decodes to, within what was
 * asked (--length) and within the file as this host sees it now (*size,
 * refreshed by stat(2) when passed), so a daemon that never says eof or
 * overflows a size cannot make sbkctl loop or write without end.
 * Returns CTL_OK with *got and *eof set, or the exit code (reported).
 */
static int
read_chunk(struct ctl *ctl, const char *path, json_t *result, long long offset,
    long long left, long long *got, bool *eof)
{
	const json_t *bytes, *eofv;
	const char *b64;
	struct stat st;
	char *dec;
	size_t declen;
	int rc = CTL_OK;

	b64 = json_string_value(json_object_get(result, "data_b64"));
	bytes = json_object_get(result, "bytes");
	eofv = json_object_get(result, "eof");
	if (b64 == NULL || !json_is_integer(bytes) || !json_is_boolean(eofv))
		return (ctl_bad_reply(ctl, "file.read",
		    "no \"data_b64\", \"bytes\" and \"eof\""));
	*got = json_integer_value(bytes);
	*eof = json_is_true(eofv);
	if ((dec = malloc(base64_decoded_max(strlen(b64)) + 1)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", ctl->prog);
		return (CTL_NEGATIVE);
	}
	if (!base64_decode(b64, strlen(b64), dec, &declen))
		rc = ctl_bad_reply(ctl, "file.read", "invalid base64");
	else if (*got < 0 || (unsigned long long)*got != declen)
		rc = ctl_bad_reply(
		    ctl, "file.read", "\"bytes\" is not the data's length");
	else if (left >= 0 && *got > left)
		rc = ctl_bad_reply(ctl, "file.read", "more than was asked");
	else if (*got == 0 && !*eof)
		rc = ctl_bad_reply(ctl, "file.read", "no data and no eof");
	else if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    *got > (long long)st.st_size - offset)
		rc = ctl_bad_reply(
		    ctl, "file.read", "more bytes than the file holds");
	else if (!ctl_write_all(STDOUT_FILENO, dec, declen)) {
		fprintf(stderr, "%s: write: %s\n", ctl->prog, strerror(errno));
		rc = CTL_NEGATIVE;
	}
	free(dec);
	return (rc);
}

int
ctl_run_read(struct ctl *ctl)
{
	struct sbk_error err = { 0 };
	struct sbk_client *c;
	json_t *params, *result;
	char *path;
	long long offset, left, got = 0;
	bool eof = false;
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
	 * again from where it stopped until end of file or --length.  Every
	 * round moves offset forward by at least one byte, and read_chunk
	 * bounds it by the file's size, so this ends.
	 */
	do {
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
		rc = read_chunk(ctl, path, result, offset, left, &got, &eof);
		json_decref(result);
		if (rc != CTL_OK)
			break;
		offset += got; /* got <= file size - offset: no overflow */
		if (left >= 0)
			left -= got;
	} while (!eof && left != 0);
	sbk_close(c);
	free(path);
	return (rc);
}
