/*
 * check_jobs.c - the argon2, zstd and file.read kinds called directly:
 * parse then run on a struct job filled in here, as a worker would.
 * Covers every parameter error and cap, the decompression bomb, corrupt
 * frames, cancel and deadline between chunks, and uses independent
 * oracles: hashes are compared with the argon2 command-line tool and
 * compressed data goes through the zstd command-line tool both ways.
 *
 * Runs in Check's fork mode; a fixture makes a scratch directory that
 * serves as read and write root.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>
#include <zstd.h>

#include "base64.h"
#include "config.h"
#include "dispatch.h"
#include "job.h"
#include "rpc.h"

extern const struct job_kind job_argon2_hash, job_argon2_verify;
extern const struct job_kind job_zstd_compress, job_zstd_decompress;
extern const struct job_kind job_file_read;

static struct sbk_config cfg;
static char tdir[PATH_MAX];
static char *roots[2];
static char *no_roots[1];
static int root_fds[1];

static void
setup(void)
{
	char tmpl[] = "/tmp/check_jobs.XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_ptr_nonnull(realpath(tmpl, tdir));
	roots[0] = tdir;
	roots[1] = NULL;
	no_roots[0] = NULL;
	memset(&cfg, 0, sizeof(cfg));
	cfg.argon2_t_cost = 1;
	cfg.argon2_m_cost_kib = 256;
	cfg.argon2_parallelism = 1;
	cfg.argon2_max_m_cost_kib = 262144;
	cfg.argon2_max_t_cost = 16;
	cfg.argon2_max_parallelism = 8;
	cfg.argon2_memory_budget_kib = 131072;
	cfg.zstd_level = 3;
	cfg.zstd_max_level = 19;
	cfg.zstd_max_output_bytes = 64 << 20;
	cfg.read_roots = roots;
	cfg.write_roots = roots;
	root_fds[0] = open(tdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(root_fds[0], 0);
	cfg.read_root_fds = root_fds;
	cfg.write_root_fds = root_fds;
	cfg.max_read_bytes = 4 << 20;
}

static void
teardown(void)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tdir);
}

/*
 * parse + run + free, as the core does.  params is stolen.  stop: the job
 * is ended early (ABANDONED) as a worker starts it; deadline_ns (0: none)
 * is set before run.
 */
static json_t *
call_ex(const struct job_kind *k, json_t *params, struct rpc_error *err,
    bool stop, uint64_t deadline_ns, unsigned long *cost)
{
	struct job *job;
	json_t *res = NULL;

	ck_assert_ptr_nonnull(job = calloc(1, sizeof(*job)));
	job->kind = k;
	job->config = &cfg;
	job->params = params;
	memset(err, 0, sizeof(*err));
	if (k->parse(job, params, &cfg, err) == 0) {
		if (cost != NULL)
			*cost = job->work.item.cost;
		/* The moves the daemon makes (job.h), without a pool. */
		atomic_store(&job->state, JOB_QUEUED);
		ck_assert(job_try_run(job));
		if (stop)
			ck_assert_int_eq(
			    job_set_finished(job, true), JOB_RUNNING);
		job->deadline_ns = deadline_ns;
		res = k->run(job, err);
		if (res != NULL)
			ck_assert_int_eq(err->code, 0);
		else
			ck_assert_int_ne(err->code, 0);
	} else
		ck_assert_int_ne(err->code, 0);
	k->free(job);
	ck_assert_ptr_null(job->arg);
	json_decref(params);
	free(job);
	return (res);
}

static json_t *
call(const struct job_kind *k, json_t *params, struct rpc_error *err)
{
	return (call_ex(k, params, err, false, 0, NULL));
}

/* From JSON text (may hold \u0000). */
static json_t *
P(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_ALLOW_NUL, &e);

	ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, e.text);
	return (v);
}

static const char *
data_str(const struct rpc_error *err, const char *key)
{
	json_t *v;

	if (err->data == NULL || (v = json_object_get(err->data, key)) == NULL)
		return ("");
	return (json_string_value(v));
}

static void
expect_param(const struct job_kind *k, json_t *params, const char *param)
{
	struct rpc_error err;
	json_t *res;
	char *dump = json_dumps(params, JSON_COMPACT);

	res = call(k, params, &err);
	ck_assert_msg(res == NULL, "%s %s: succeeded", k->method, dump);
	ck_assert_msg(err.code == RPC_INVALID_PARAMS &&
		strcmp(data_str(&err, "param"), param) == 0,
	    "%s %s: code %d param \"%s\" (%s), want -32602 \"%s\"", k->method,
	    dump, err.code, data_str(&err, "param"), err.message, param);
	rpc_error_clear(&err);
	free(dump);
}

static void
expect_code(
    const struct job_kind *k, json_t *params, int code, const char *errname)
{
	struct rpc_error err;
	json_t *res;
	char *dump = json_dumps(params, JSON_COMPACT);

	res = call(k, params, &err);
	ck_assert_msg(res == NULL, "%s %s: succeeded", k->method, dump);
	ck_assert_msg(err.code == code, "%s %s: code %d (%s), want %d",
	    k->method, dump, err.code, err.message, code);
	if (errname != NULL)
		ck_assert_msg(strcmp(data_str(&err, "errno"), errname) == 0,
		    "%s %s: errno %s, want %s", k->method, dump,
		    data_str(&err, "errno"), errname);
	rpc_error_clear(&err);
	free(dump);
}

static json_t *
expect_ok(const struct job_kind *k, json_t *params)
{
	struct rpc_error err;
	json_t *res;
	char *dump = json_dumps(params, JSON_COMPACT);

	res = call(k, params, &err);
	ck_assert_msg(res != NULL, "%s %.200s: %d %s", k->method, dump,
	    err.code, err.message);
	free(dump);
	return (res);
}

static char *
b64(const void *data, size_t len)
{
	char *out = malloc(base64_encoded_len(len) + 1);

	ck_assert_ptr_nonnull(out);
	base64_encode(data, len, out);
	return (out);
}

static void *
unb64(const char *text, size_t *lenp)
{
	void *out = malloc(base64_decoded_max(strlen(text)) + 1);

	ck_assert_ptr_nonnull(out);
	ck_assert(base64_decode(text, strlen(text), out, lenp));
	return (out);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void *
read_file(const char *path, size_t *lenp)
{
	struct stat st;
	void *buf;
	int fd = open(path, O_RDONLY);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*lenp = (size_t)st.st_size;
	return (buf);
}

static void *
random_bytes(size_t len)
{
	unsigned char *p = malloc(len + 1);
	size_t i;
	unsigned x = 12345;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		p[i] = (unsigned char)(x >> 16);
	}
	return (p);
}

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return (n);
}

static char *
tpath(const char *name)
{
	static char bufs[4][PATH_MAX + 64];
	static int n;
	char *b = bufs[n++ % 4];

	snprintf(b, PATH_MAX + 64, "%s/%s", tdir, name);
	return (b);
}

/* ------------------------------------------------------------ argon2 */

/*
 * Run the argon2 command-line tool with a salt of arbitrary bytes (it
 * takes the salt as an argument, so no NUL), the password on stdin, and
 * extra arguments; returns its output line.
 */
static char *
argon2_cli(const void *salt, size_t saltlen, const char *pw, size_t pwlen,
    const char *const *args)
{
	const char *argv[32];
	char *saltz, *out;
	int in[2], outp[2], st, i = 0;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	saltz = calloc(1, saltlen + 1);
	memcpy(saltz, salt, saltlen);
	argv[i++] = "argon2";
	argv[i++] = saltz;
	for (; *args != NULL; args++)
		argv[i++] = *args;
	argv[i++] = "-e";
	argv[i] = NULL;
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(outp), 0);
	if ((pid = fork()) == 0) {
		dup2(in[0], 0);
		dup2(outp[1], 1);
		close(in[1]);
		close(outp[0]);
		execvp("argon2", (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(outp[1]);
	ck_assert_int_eq(write(in[1], pw, pwlen), (ssize_t)pwlen);
	close(in[1]);
	out = calloc(1, 4096);
	while ((n = read(outp[0], out + len, 4095 - len)) > 0)
		len += (size_t)n;
	close(outp[0]);
	waitpid(pid, &st, 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "argon2 CLI failed: %s", out);
	out[strcspn(out, "\n")] = '\0';
	free(saltz);
	return (out);
}

/* The salt bytes of a PHC string (unpadded base64 between '$'s). */
static void *
phc_salt(const char *phc, size_t *lenp)
{
	const char *s = phc;
	char t[256];
	size_t n;
	int i;

	for (i = 0; i < 4; i++)
		s = strchr(s, '$') + 1;
	n = (size_t)(strchr(s, '$') - s);
	memcpy(t, s, n);
	while (n % 4 != 0)
		t[n++] = '=';
	t[n] = '\0';
	return (unb64(t, lenp));
}

static char *
sbk_hash(json_t *params)
{
	json_t *res = expect_ok(&job_argon2_hash, params);
	char *h = strdup(json_string_value(json_object_get(res, "hash")));

	json_decref(res);
	return (h);
}

static bool
sbk_verify(const char *pw, size_t pwlen, const char *hash)
{
	json_t *res, *p;
	bool v;

	p = json_pack("{s:s%,s:s}", "password", pw, pwlen, "hash", hash);
	res = expect_ok(&job_argon2_verify, p);
	v = json_is_true(json_object_get(res, "valid"));
	json_decref(res);
	return (v);
}

START_TEST(argon2_defaults_and_roundtrip)
{
	char *h;
	unsigned long cost = 0;
	struct rpc_error err;
	json_t *res;

	h = sbk_hash(P("{\"password\":\"hunter2\"}"));
	ck_assert_msg(
	    strncmp(h, "$argon2id$v=19$m=256,t=1,p=1$", 29) == 0, "%s", h);
	/* 16 salt bytes, 32 hash bytes, unpadded. */
	ck_assert_uint_eq(strlen(h), 29 + 22 + 1 + 43);
	ck_assert(sbk_verify("hunter2", 7, h));
	ck_assert(!sbk_verify("hunter3", 7, h));
	ck_assert(!sbk_verify("", 0, h));
	free(h);

	h = sbk_hash(P("{\"password\":\"pw\",\"type\":\"argon2i\",\"t_cost\":2,"
		       "\"m_cost_kib\":64,\"parallelism\":4,\"hash_len\":4,"
		       "\"salt_len\":8}"));
	ck_assert_msg(
	    strncmp(h, "$argon2i$v=19$m=64,t=2,p=4$", 27) == 0, "%s", h);
	ck_assert(sbk_verify("pw", 2, h));
	free(h);

	/* The gate cost is m_cost_kib, for hash and for verify. */
	res = call_ex(&job_argon2_hash,
	    P("{\"password\":\"x\","
	      "\"m_cost_kib\":1000}"),
	    &err, 0, 0, &cost);
	ck_assert_uint_eq(cost, 1000);
	h = strdup(json_string_value(json_object_get(res, "hash")));
	json_decref(res);
	cost = 0;
	res = call_ex(&job_argon2_verify,
	    json_pack("{s:s,s:s}", "password", "x", "hash", h), &err, 0, 0,
	    &cost);
	ck_assert_uint_eq(cost, 1000);
	ck_assert(json_is_true(json_object_get(res, "valid")));
	json_decref(res);
	free(h);

	/* Passwords may hold NUL bytes, and the whole password counts. */
	h = sbk_hash(P("{\"password\":\"a\\u0000b\"}"));
	ck_assert(sbk_verify("a\0b", 3, h));
	ck_assert(!sbk_verify("a", 1, h));
	ck_assert(!sbk_verify("a\0c", 3, h));
	free(h);
}
END_TEST

/* Hashes made here equal those the argon2 tool makes from the same salt. */
START_TEST(argon2_matches_cli)
{
	static const struct {
		const char *params;
		const char *args[10];
	} cases[] = {
		{ "\"t_cost\":2,\"m_cost_kib\":1024,\"parallelism\":1",
		    { "-id", "-t", "2", "-k", "1024", "-p", "1", NULL } },
		{ "\"t_cost\":3,\"m_cost_kib\":512,\"parallelism\":2,"
		  "\"type\":\"argon2d\",\"hash_len\":16",
		    { "-d", "-t", "3", "-k", "512", "-p", "2", "-l", NULL } },
		{ "\"t_cost\":1,\"m_cost_kib\":256,\"parallelism\":4,"
		  "\"type\":\"argon2i\",\"salt_len\":32",
		    { "-i", "-t", "1", "-k", "256", "-p", "4", NULL } },
	};
	const char *args[12];
	char text[256], *h, *cli;
	void *salt;
	size_t i, j, saltlen;
	int tries;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Retry until the random salt holds no NUL for argv. */
		for (tries = 0; tries < 20; tries++) {
			snprintf(text, sizeof(text),
			    "{\"password\":\"correct horse\",%s}",
			    cases[i].params);
			h = sbk_hash(P(text));
			salt = phc_salt(h, &saltlen);
			if (memchr(salt, '\0', saltlen) == NULL)
				break;
			free(h);
			free(salt);
		}
		ck_assert_int_lt(tries, 20);
		for (j = 0; cases[i].args[j] != NULL; j++)
			args[j] = cases[i].args[j];
		if (strcmp(args[j - 1], "-l") == 0)
			args[j++] = "16";
		args[j] = NULL;
		cli = argon2_cli(salt, saltlen, "correct horse", 13, args);
		ck_assert_str_eq(h, cli);
		free(cli);
		free(h);
		free(salt);
	}
}
END_TEST

/* Hashes made by the argon2 tool verify here. */
START_TEST(argon2_verifies_cli)
{
	static const char *const a1[] = { "-id", "-t", "2", "-m", "10", "-p",
		"1", NULL };
	static const char *const a2[] = { "-i", "-t", "1", "-m", "8", "-p", "2",
		NULL };
	static const char *const a3[] = { "-d", "-t", "2", "-k", "100", "-p",
		"1", "-l", "64", NULL };
	static const char *const a4[] = { "-id", "-t", "1", "-k", "64", "-p",
		"1", "-v", "10", NULL };
	static const char *const *const all[] = { a1, a2, a3, a4 };
	char *cli;
	size_t i;

	for (i = 0; i < 4; i++) {
		cli = argon2_cli("somesalt", 8, "pw", 2, all[i]);
		ck_assert_msg(sbk_verify("pw", 2, cli), "%s", cli);
		ck_assert_msg(!sbk_verify("pW", 2, cli), "%s", cli);
		free(cli);
	}
	/* The example, recorded once from the tool. */
	ck_assert(sbk_verify("pw", 2,
	    "$argon2id$v=19$m=1024,t=2,p=1$"
	    "c29tZXNhbHQ$lLjaKRWGBv7St+T3ktAqRh8rIcKpp41ZY/hSzkzM9cA"));
	ck_assert(!sbk_verify("pw2", 3,
	    "$argon2id$v=19$m=1024,t=2,p=1$"
	    "c29tZXNhbHQ$lLjaKRWGBv7St+T3ktAqRh8rIcKpp41ZY/hSzkzM9cA"));
}
END_TEST

/*
 * A password is the bytes it is, NUL included (issue 12, item 5).  The
 * oracle is the argon2 tool, which reads the password from stdin with
 * fread, so NUL bytes and all reach libargon2 unchanged; "a" alone and
 * "a\0b" with the NUL dropped must not match.
 */
START_TEST(argon2_nul_password_cli)
{
	static const char *const args[] = { "-id", "-t", "1", "-k", "64", "-p",
		"1", NULL };
	static const char pw[] = "a\0b\0";
	char *cli, *h;
	void *salt;
	size_t saltlen;
	int tries;

	cli = argon2_cli("somesalt", 8, pw, 4, args);
	ck_assert_msg(sbk_verify(pw, 4, cli), "%s", cli);
	ck_assert(!sbk_verify(pw, 3, cli));
	ck_assert(!sbk_verify("a", 1, cli));
	ck_assert(!sbk_verify("ab", 2, cli));
	free(cli);
	/* And the other way: our hash of it is the tool's. */
	for (tries = 0; tries < 20; tries++) {
		h = sbk_hash(P("{\"password\":\"a\\u0000b\\u0000\","
			       "\"t_cost\":1,\"m_cost_kib\":64}"));
		salt = phc_salt(h, &saltlen);
		if (memchr(salt, '\0', saltlen) == NULL)
			break;
		free(h);
		free(salt);
	}
	ck_assert_int_lt(tries, 20);
	cli = argon2_cli(salt, saltlen, pw, 4, args);
	ck_assert_str_eq(h, cli);
	free(cli);
	free(h);
	free(salt);
}
END_TEST

/*
 * A NUL inside any string parameter is -32602 naming it, never the
 * shorter string before it (issue 12, item 5).  The password is the one
 * string where NUL is data (argon2_nul_password_cli).
 */
START_TEST(nul_in_string_params)
{
	char text[PATH_MAX * 2 + 128];

	snprintf(text, sizeof(text), "{\"path\":\"%s\\u0000x\"}", tpath("a"));
	expect_param(&job_file_read, P(text), "path");
	snprintf(text, sizeof(text),
	    "{\"path\":\"%s\\u0000\",\"out_path\":\"%s\"}", tpath("a"),
	    tpath("b"));
	expect_param(&job_zstd_compress, P(text), "path");
	snprintf(text, sizeof(text),
	    "{\"path\":\"%s\",\"out_path\":\"%s\\u0000.zst\"}", tpath("a"),
	    tpath("b"));
	expect_param(&job_zstd_compress, P(text), "out_path");
	snprintf(text, sizeof(text),
	    "{\"data_b64\":\"\",\"out_path\":\"%s\\u0000\"}", tpath("b"));
	expect_param(&job_zstd_decompress, P(text), "out_path");
	expect_param(&job_zstd_compress, P("{\"data_b64\":\"AAAA\\u0000\"}"),
	    "data_b64");
	expect_param(
	    &job_zstd_decompress, P("{\"data_b64\":\"\\u0000\"}"), "data_b64");
	expect_param(&job_argon2_hash,
	    P("{\"password\":\"x\",\"type\":\"argon2i\\u0000d\"}"), "type");
	expect_param(&job_argon2_hash,
	    P("{\"password\":\"x\",\"type\":\"\\u0000\"}"), "type");
}
END_TEST

START_TEST(argon2_param_errors)
{
	const struct job_kind *h = &job_argon2_hash;

	expect_param(h, P("{}"), "password");
	expect_param(h, NULL, "password");
	expect_param(h, P("{\"password\":1}"), "password");
	expect_param(h, P("{\"password\":\"x\",\"salt\":\"y\"}"), "salt");
	expect_param(h, P("{\"password\":\"x\",\"type\":\"argon2\"}"), "type");
	expect_param(
	    h, P("{\"password\":\"x\",\"type\":\"argon2id\\u0000\"}"), "type");
	expect_param(h, P("{\"password\":\"x\",\"type\":2}"), "type");
	expect_param(h, P("{\"password\":\"x\",\"t_cost\":0}"), "t_cost");
	expect_param(h, P("{\"password\":\"x\",\"t_cost\":17}"), "t_cost");
	expect_param(h, P("{\"password\":\"x\",\"t_cost\":\"3\"}"), "t_cost");
	expect_param(h, P("{\"password\":\"x\",\"t_cost\":1.5}"), "t_cost");
	expect_param(
	    h, P("{\"password\":\"x\",\"parallelism\":0}"), "parallelism");
	expect_param(
	    h, P("{\"password\":\"x\",\"parallelism\":9}"), "parallelism");
	expect_param(
	    h, P("{\"password\":\"x\",\"m_cost_kib\":7}"), "m_cost_kib");
	expect_param(h,
	    P("{\"password\":\"x\",\"parallelism\":4,"
	      "\"m_cost_kib\":31}"),
	    "m_cost_kib");
	expect_param(
	    h, P("{\"password\":\"x\",\"m_cost_kib\":262145}"), "m_cost_kib");
	/* Within max_m_cost_kib but over the budget: it could never run. */
	expect_param(
	    h, P("{\"password\":\"x\",\"m_cost_kib\":131073}"), "m_cost_kib");
	expect_param(h, P("{\"password\":\"x\",\"hash_len\":3}"), "hash_len");
	expect_param(
	    h, P("{\"password\":\"x\",\"hash_len\":1025}"), "hash_len");
	expect_param(h, P("{\"password\":\"x\",\"salt_len\":7}"), "salt_len");
	expect_param(h, P("{\"password\":\"x\",\"salt_len\":65}"), "salt_len");
	/* The common members are the core's, not unknown. */
	json_decref(expect_ok(h,
	    P("{\"password\":\"x\",\"timeout_ms\":1000,"
	      "\"progress\":true,\"hash_len\":1024,\"salt_len\":64,"
	      "\"m_cost_kib\":8}")));
}
END_TEST

START_TEST(argon2_verify_errors)
{
	static const char *const bad[] = { "", "x",
		"$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQ",
		"$argon2x$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=18$m=1024,t=2,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=1024,t=2$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=19$t=2,m=1024,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=01024,t=2,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=-1024,t=2,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch",
		/* salt of 7 bytes, hash of 3, bad base64, padding */
		"$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbA$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$Qt0H",
		"$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$Qt0H2q*G2Ch",
		"$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQ=$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHR$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch$",
		/* over the caps: t, p, m, m under 8p, m over the budget */
		"$argon2id$v=19$m=1024,t=17,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=1024,t=0,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=1024,t=2,p=9$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=262145,t=2,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=31,t=2,p=4$c29tZXNhbHQ$Qt0H2q/G2Ch",
		"$argon2id$v=19$m=131073,t=2,p=1$c29tZXNhbHQ$Qt0H2q/G2Ch",
		NULL };
	const struct job_kind *v = &job_argon2_verify;
	size_t i;

	for (i = 0; bad[i] != NULL; i++)
		expect_param(v,
		    json_pack("{s:s,s:s}", "password", "pw", "hash", bad[i]),
		    "hash");
	expect_param(v, P("{\"password\":\"pw\"}"), "hash");
	expect_param(v, P("{\"password\":\"pw\",\"hash\":3}"), "hash");
	expect_param(v, P("{\"hash\":\"x\"}"), "password");
	expect_param(v, P("{\"password\":\"pw\",\"hash\":\"x\",\"t_cost\":1}"),
	    "t_cost");
	/* A NUL inside the hash string is malformed, not truncated. */
	expect_param(v,
	    P("{\"password\":\"pw\",\"hash\":\"$argon2id$v=19$"
	      "m=1024,t=2,p=1$c29tZXNhbHQ$Qt0H2q/"
	      "G2Ch+hgy6dCP8PRcfYJRdsGWlZaAXkq"
	      "F9Ejw\\u0000x\"}"),
	    "hash");
}
END_TEST

/* parse wipes the password inside params at once, on every path. */
START_TEST(argon2_wipes_params)
{
	static const char *const texts[] = {
		"{\"password\":\"secretpw\"}",
		"{\"password\":\"secretpw\",\"t_cost\":0}",
		"{\"password\":\"secretpw\",\"hash\":\"bad\"}",
	};
	const struct job_kind *kinds[] = { &job_argon2_hash, &job_argon2_hash,
		&job_argon2_verify };
	struct rpc_error err;
	struct job job;
	json_t *p;
	const char *s;
	size_t i;

	for (i = 0; i < 3; i++) {
		memset(&job, 0, sizeof(job));
		memset(&err, 0, sizeof(err));
		p = P(texts[i]);
		job.params = p;
		job.config = &cfg;
		(void)kinds[i]->parse(&job, p, &cfg, &err);
		s = json_string_value(json_object_get(p, "password"));
		ck_assert_msg(memcmp(s, "\0\0\0\0\0\0\0\0", 8) == 0,
		    "case %zu: password left in params", i);
		kinds[i]->free(&job);
		rpc_error_clear(&err);
		json_decref(p);
	}
}
END_TEST

/* -------------------------------------------------------------- zstd */

static json_t *
zcall_inline(const struct job_kind *k, const void *data, size_t len,
    const char *extra_key, int level)
{
	char *t = b64(data, len);
	json_t *p = json_pack("{s:s}", "data_b64", t);

	if (extra_key != NULL)
		json_object_set_new(p, extra_key, json_integer(level));
	free(t);
	return (p);
}

static void *
zresult(json_t *res, size_t *lenp)
{
	void *d =
	    unb64(json_string_value(json_object_get(res, "data_b64")), lenp);

	ck_assert_int_eq(json_integer_value(json_object_get(res, "bytes_out")),
	    (json_int_t)*lenp);
	return (d);
}

static void
zroundtrip(const void *data, size_t len, int level)
{
	json_t *res;
	void *c, *d;
	size_t clen, dlen;

	res = expect_ok(&job_zstd_compress,
	    zcall_inline(&job_zstd_compress, data, len, "level", level));
	ck_assert_int_eq(json_integer_value(json_object_get(res, "bytes_in")),
	    (json_int_t)len);
	c = zresult(res, &clen);
	json_decref(res);
	res = expect_ok(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, c, clen, NULL, 0));
	ck_assert_int_eq(json_integer_value(json_object_get(res, "bytes_in")),
	    (json_int_t)clen);
	d = zresult(res, &dlen);
	json_decref(res);
	ck_assert_uint_eq(dlen, len);
	ck_assert(len == 0 || memcmp(d, data, len) == 0);
	free(c);
	free(d);
}

START_TEST(zstd_inline_roundtrip)
{
	void *r = random_bytes(1 << 20);
	char text[3000];
	int lv;

	zroundtrip("", 0, 3);
	zroundtrip("a", 1, 3);
	for (lv = -7; lv <= 19; lv += 13)
		zroundtrip(r, 1 << 20, lv);
	zroundtrip(r, 1 << 20, 0);
	memset(text, 'x', sizeof(text));
	zroundtrip(text, sizeof(text), 19);
	free(r);
}
END_TEST

/* Our output decompresses with zstd(1), and zstd(1)'s with us. */
START_TEST(zstd_cli_oracle)
{
	void *r = random_bytes(1 << 20), *c, *d;
	size_t clen, dlen, i;
	char cmd[PATH_MAX * 3];
	json_t *res;
	unsigned char *mixed;

	/* Half random, half repetitive: both paths of the codec. */
	mixed = malloc(1 << 20);
	for (i = 0; i < (1 << 20); i++)
		mixed[i] = i < (1 << 19) ? ((unsigned char *)r)[i] :
					   (unsigned char)(i % 7);
	res = expect_ok(&job_zstd_compress,
	    zcall_inline(&job_zstd_compress, mixed, 1 << 20, NULL, 0));
	c = zresult(res, &clen);
	json_decref(res);
	ck_assert_uint_lt(clen, (1 << 20) * 3 / 4);
	write_file(tpath("ours.zst"), c, clen);
	snprintf(cmd, sizeof(cmd), "zstd -q -d -c '%s' > '%s'",
	    tpath("ours.zst"), tpath("ours.out"));
	ck_assert_int_eq(system(cmd), 0);
	d = read_file(tpath("ours.out"), &dlen);
	ck_assert_uint_eq(dlen, 1 << 20);
	ck_assert(memcmp(d, mixed, dlen) == 0);
	free(c);
	free(d);

	write_file(tpath("theirs"), mixed, 1 << 20);
	snprintf(cmd, sizeof(cmd), "zstd -q -19 -c '%s' > '%s'",
	    tpath("theirs"), tpath("theirs.zst"));
	ck_assert_int_eq(system(cmd), 0);
	c = read_file(tpath("theirs.zst"), &clen);
	res = expect_ok(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, c, clen, NULL, 0));
	d = zresult(res, &dlen);
	json_decref(res);
	ck_assert_uint_eq(dlen, 1 << 20);
	ck_assert(memcmp(d, mixed, dlen) == 0);
	free(c);
	free(d);

	/* Empty input: an empty frame both ways. */
	write_file(tpath("empty"), "", 0);
	snprintf(cmd, sizeof(cmd), "zstd -q -c '%s' > '%s'", tpath("empty"),
	    tpath("empty.zst"));
	ck_assert_int_eq(system(cmd), 0);
	c = read_file(tpath("empty.zst"), &clen);
	res = expect_ok(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, c, clen, NULL, 0));
	d = zresult(res, &dlen);
	ck_assert_uint_eq(dlen, 0);
	json_decref(res);
	free(c);
	free(d);
	res = expect_ok(&job_zstd_compress,
	    zcall_inline(&job_zstd_compress, "", 0, NULL, 0));
	c = zresult(res, &clen);
	json_decref(res);
	write_file(tpath("empty2.zst"), c, clen);
	snprintf(cmd, sizeof(cmd), "zstd -q -t '%s'", tpath("empty2.zst"));
	ck_assert_int_eq(system(cmd), 0);
	free(c);
	free(r);
	free(mixed);
}
END_TEST

/* A frame of n zero bytes, made with the library (a few KiB). */
static void *
zeros_frame(size_t n, size_t *clenp)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	void *zero = calloc(1, 1 << 20), *out;
	size_t cap = 1 << 20, done = 0, ret;
	ZSTD_outBuffer ob;
	ZSTD_inBuffer ib;

	out = malloc(cap);
	ob.dst = out;
	ob.size = cap;
	ob.pos = 0;
	while (done < n) {
		ib.src = zero;
		ib.size = n - done < (1 << 20) ? n - done : 1 << 20;
		ib.pos = 0;
		while (ib.pos < ib.size)
			ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_continue);
		done += ib.size;
	}
	ib.size = ib.pos = 0;
	do
		ret = ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end);
	while (ret != 0);
	ZSTD_freeCCtx(cctx);
	free(zero);
	*clenp = ob.pos;
	return (out);
}

START_TEST(zstd_bomb)
{
	struct rpc_error err;
	void *c;
	size_t clen;
	json_t *res, *p;
	char cmd[PATH_MAX * 3];

	/* 1 GiB of zeros in a few KiB: stopped at the 64 MiB cap. */
	c = zeros_frame((size_t)1 << 30, &clen);
	ck_assert_uint_lt(clen, 1 << 20);
	res = call(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, c, clen, NULL, 0), &err);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(err.code, RPC_TOO_LARGE);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(err.data, "limit")), 64 << 20);
	rpc_error_clear(&err);

	/* Path mode too, and nothing is left at out_path. */
	write_file(tpath("bomb.zst"), c, clen);
	p = json_pack("{s:s,s:s}", "path", tpath("bomb.zst"), "out_path",
	    tpath("bomb.out"));
	res = call(&job_zstd_decompress, p, &err);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(err.code, RPC_TOO_LARGE);
	rpc_error_clear(&err);
	ck_assert_int_eq(access(tpath("bomb.out"), F_OK), -1);
	ck_assert_int_eq(count_entries(tdir), 1);
	free(c);

	/* Exactly at the cap is fine, one byte over is not. */
	cfg.zstd_max_output_bytes = 1 << 20;
	c = zeros_frame(1 << 20, &clen);
	json_decref(expect_ok(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, c, clen, NULL, 0)));
	free(c);
	c = zeros_frame((1 << 20) + 1, &clen);
	expect_code(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, c, clen, NULL, 0), RPC_TOO_LARGE,
	    NULL);
	free(c);

	/* A frame whose window exceeds what the cap needs is refused. */
	snprintf(cmd, sizeof(cmd),
	    "head -c 4194304 /dev/zero | zstd -q "
	    "--long=27 -c > '%s'",
	    tpath("long.zst"));
	ck_assert_int_eq(system(cmd), 0);
	c = read_file(tpath("long.zst"), &clen);
	expect_code(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, c, clen, NULL, 0), RPC_TOO_LARGE,
	    NULL);
	free(c);
}
END_TEST

START_TEST(zstd_corrupt)
{
	unsigned char *r = random_bytes(100000), *c, *m;
	void *frame;
	size_t clen, flen, i;
	json_t *res;
	static const unsigned char skippable[] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0,
		0, 0, 'j', 'u', 'n', 'k' };

	res = expect_ok(&job_zstd_compress,
	    zcall_inline(&job_zstd_compress, r, 100000, NULL, 0));
	frame = zresult(res, &flen);
	json_decref(res);
	c = frame;
	m = malloc(flen * 2 + 64);

	/* empty, random, truncated (several cuts), trailing bytes */
	expect_param(
	    &job_zstd_decompress, P("{\"data_b64\":\"\"}"), "data_b64");
	expect_param(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, r, 1000, NULL, 0), "data_b64");
	for (i = 1; i < flen; i = i * 3 + 1)
		expect_param(&job_zstd_decompress,
		    zcall_inline(&job_zstd_decompress, c, flen - i, NULL, 0),
		    "data_b64");
	memcpy(m, c, flen);
	memcpy(m + flen, "garbage!", 8);
	for (i = 1; i <= 8; i += 3)
		expect_param(&job_zstd_decompress,
		    zcall_inline(&job_zstd_decompress, m, flen + i, NULL, 0),
		    "data_b64");
	/* A flipped bit in the middle, or in the checksum. */
	memcpy(m, c, flen);
	m[flen / 2] ^= 0x10;
	expect_param(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, m, flen, NULL, 0), "data_b64");
	memcpy(m, c, flen);
	m[flen - 1] ^= 0x01;
	expect_param(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, m, flen, NULL, 0), "data_b64");
	/* Not base64 at all. */
	expect_param(
	    &job_zstd_decompress, P("{\"data_b64\":\"!!!!\"}"), "data_b64");
	expect_param(
	    &job_zstd_compress, P("{\"data_b64\":\"QQ\"}"), "data_b64");

	/* Concatenated frames and a skippable frame are accepted. */
	memcpy(m, skippable, sizeof(skippable));
	memcpy(m + sizeof(skippable), c, flen);
	memcpy(m + sizeof(skippable) + flen, c, flen);
	res = expect_ok(&job_zstd_decompress,
	    zcall_inline(&job_zstd_decompress, m, sizeof(skippable) + flen * 2,
		NULL, 0));
	free(c);
	c = zresult(res, &clen);
	json_decref(res);
	ck_assert_uint_eq(clen, 200000);
	ck_assert(
	    memcmp(c, r, 100000) == 0 && memcmp(c + 100000, r, 100000) == 0);
	res = expect_ok(&job_zstd_decompress,
	    zcall_inline(
		&job_zstd_decompress, skippable, sizeof(skippable), NULL, 0));
	ck_assert_int_eq(
	    json_integer_value(json_object_get(res, "bytes_out")), 0);
	json_decref(res);
	free(c);
	free(m);
	free(r);
}
END_TEST

START_TEST(zstd_param_errors)
{
	const struct job_kind *c = &job_zstd_compress,
			      *d = &job_zstd_decompress;
	char t[PATH_MAX * 3];

	expect_param(c, P("{}"), "data_b64");
	expect_param(c, NULL, "data_b64");
	expect_param(d, P("{}"), "data_b64");
	expect_param(c, P("{\"data_b64\":1}"), "data_b64");
	expect_param(c, P("{\"data_b64\":\"\",\"level\":-8}"), "level");
	expect_param(c, P("{\"data_b64\":\"\",\"level\":20}"), "level");
	expect_param(c, P("{\"data_b64\":\"\",\"level\":\"3\"}"), "level");
	expect_param(d, P("{\"data_b64\":\"\",\"level\":3}"), "level");
	expect_param(c, P("{\"data_b64\":\"\",\"overwrite\":1}"), "overwrite");
	expect_param(c, P("{\"data_b64\":\"\",\"bogus\":1}"), "bogus");
	expect_param(c, P("{\"data_b64\":\"\",\"path\":\"/a\"}"), "path");
	expect_param(
	    c, P("{\"data_b64\":\"\",\"out_path\":\"/a\"}"), "out_path");
	expect_param(c, P("{\"path\":\"/a\"}"), "out_path");
	expect_param(c, P("{\"out_path\":\"/a\"}"), "path");
	expect_param(c, P("{\"path\":\"a\",\"out_path\":\"/a\"}"), "path");
	expect_param(c, P("{\"path\":\"/a\",\"out_path\":\"a\"}"), "out_path");
	/* -32602 for a relative out_path ranks before -32003 for path. */
	expect_param(
	    c, P("{\"path\":\"/etc/passwd\",\"out_path\":\"a\"}"), "out_path");
	expect_param(c, P("{\"path\":1,\"out_path\":\"/a\"}"), "path");
	/* Level caps follow the config; 0 is the library default. */
	json_decref(expect_ok(c, P("{\"data_b64\":\"\",\"level\":0}")));
	json_decref(expect_ok(c, P("{\"data_b64\":\"\",\"level\":-7}")));
	cfg.zstd_max_level = 5;
	expect_param(c, P("{\"data_b64\":\"\",\"level\":6}"), "level");
	/* Roots: outside, or none configured. */
	snprintf(t, sizeof(t),
	    "{\"path\":\"/etc/passwd\",\"out_path\":"
	    "\"%s/x\"}",
	    tdir);
	expect_code(c, P(t), RPC_PERMISSION, NULL);
	snprintf(
	    t, sizeof(t), "{\"path\":\"%s/x\",\"out_path\":\"/tmp/x\"}", tdir);
	expect_code(c, P(t), RPC_PERMISSION, NULL);
	cfg.read_roots = no_roots;
	snprintf(t, sizeof(t), "{\"path\":\"%s/x\",\"out_path\":\"%s/y\"}",
	    tdir, tdir);
	expect_code(c, P(t), RPC_PERMISSION, NULL);
	cfg.read_roots = roots;
	cfg.write_roots = NULL;
	expect_code(d, P(t), RPC_PERMISSION, NULL);
}
END_TEST

static json_t *
zpath(const char *in, const char *out, bool overwrite)
{
	return (json_pack("{s:s,s:s,s:b}", "path", in, "out_path", out,
	    "overwrite", overwrite));
}

START_TEST(zstd_paths)
{
	void *r = random_bytes(3 << 20), *d;
	size_t dlen;
	char cmd[PATH_MAX * 3];
	json_t *res;
	unsigned char *mixed = r;
	size_t i;

	for (i = 1 << 20; i < (size_t)3 << 20; i++)
		mixed[i] = (unsigned char)(i / 1000);
	write_file(tpath("in"), r, 3 << 20);
	res = expect_ok(
	    &job_zstd_compress, zpath(tpath("in"), tpath("in.zst"), false));
	ck_assert_int_eq(
	    json_integer_value(json_object_get(res, "bytes_in")), 3 << 20);
	ck_assert_ptr_null(json_object_get(res, "data_b64"));
	json_decref(res);
	snprintf(cmd, sizeof(cmd), "zstd -q -d -c '%s' | cmp - '%s'",
	    tpath("in.zst"), tpath("in"));
	ck_assert_int_eq(system(cmd), 0);

	/* zstd(1) output back through path mode. */
	snprintf(cmd, sizeof(cmd), "zstd -q -5 -c '%s' > '%s'", tpath("in"),
	    tpath("cli.zst"));
	ck_assert_int_eq(system(cmd), 0);
	res = expect_ok(&job_zstd_decompress,
	    zpath(tpath("cli.zst"), tpath("cli.out"), false));
	ck_assert_int_eq(
	    json_integer_value(json_object_get(res, "bytes_out")), 3 << 20);
	json_decref(res);
	d = read_file(tpath("cli.out"), &dlen);
	ck_assert_uint_eq(dlen, 3 << 20);
	ck_assert(memcmp(d, r, dlen) == 0);
	free(d);

	/* EEXIST unless overwrite; overwrite replaces. */
	expect_code(&job_zstd_decompress,
	    zpath(tpath("cli.zst"), tpath("cli.out"), false), RPC_IO_ERROR,
	    "EEXIST");
	expect_code(&job_zstd_compress,
	    zpath(tpath("in"), tpath("cli.out"), false), RPC_IO_ERROR,
	    "EEXIST");
	json_decref(expect_ok(
	    &job_zstd_compress, zpath(tpath("in"), tpath("cli.out"), true)));
	snprintf(cmd, sizeof(cmd), "zstd -q -d -c '%s' | cmp - '%s'",
	    tpath("cli.out"), tpath("in"));
	ck_assert_int_eq(system(cmd), 0);

	/* Empty file: compresses to a frame; as input to decompress: -32602. */
	write_file(tpath("empty"), "", 0);
	json_decref(expect_ok(&job_zstd_compress,
	    zpath(tpath("empty"), tpath("empty.zst"), false)));
	snprintf(cmd, sizeof(cmd), "zstd -q -t '%s'", tpath("empty.zst"));
	ck_assert_int_eq(system(cmd), 0);
	expect_param(&job_zstd_decompress,
	    zpath(tpath("empty"), tpath("empty.out"), false), "path");
	ck_assert_int_eq(access(tpath("empty.out"), F_OK), -1);

	/* Corrupt or truncated input file: -32602 path, no output. */
	d = read_file(tpath("in.zst"), &dlen);
	write_file(tpath("trunc.zst"), d, dlen - 100);
	free(d);
	expect_param(&job_zstd_decompress,
	    zpath(tpath("trunc.zst"), tpath("trunc.out"), false), "path");
	expect_param(&job_zstd_decompress,
	    zpath(tpath("in"), tpath("trunc.out"), false), "path");
	ck_assert_int_eq(access(tpath("trunc.out"), F_OK), -1);

	/* I/O errors: missing input, directory output, missing directory. */
	expect_code(&job_zstd_compress, zpath(tpath("nope"), tpath("x"), false),
	    RPC_IO_ERROR, "ENOENT");
	mkdir(tpath("dir"), 0755);
	expect_code(&job_zstd_compress, zpath(tpath("in"), tpath("dir"), true),
	    RPC_IO_ERROR, "EISDIR");
	expect_code(&job_zstd_compress, zpath(tpath("dir"), tpath("x"), true),
	    RPC_IO_ERROR, "EINVAL");
	expect_code(&job_zstd_compress,
	    zpath(tpath("in"), tpath("no/x"), false), RPC_IO_ERROR, "ENOENT");
	symlink("in", tpath("link"));
	expect_code(&job_zstd_compress, zpath(tpath("in"), tpath("link"), true),
	    RPC_PERMISSION, NULL);
	ck_assert_int_eq(access(tpath("x"), F_OK), -1);
	free(r);
}
END_TEST

/* A stopped job (cancel, deadline) ends at its next chunk, no output. */
START_TEST(zstd_stop)
{
	struct rpc_error err;
	void *r = random_bytes(1 << 20);
	int n;
	json_t *res;

	write_file(tpath("in"), r, 1 << 20);
	n = count_entries(tdir);
	res = call_ex(&job_zstd_compress,
	    zpath(tpath("in"), tpath("out"), false), &err, true, 0, NULL);
	ck_assert_ptr_null(res);
	rpc_error_clear(&err);
	res = call_ex(&job_zstd_compress,
	    zpath(tpath("in"), tpath("out"), false), &err, 0, 1, NULL);
	ck_assert_ptr_null(res);
	rpc_error_clear(&err);
	json_decref(expect_ok(
	    &job_zstd_compress, zpath(tpath("in"), tpath("in.zst"), false)));
	n++;
	res = call_ex(&job_zstd_decompress,
	    zpath(tpath("in.zst"), tpath("out"), false), &err, true, 0, NULL);
	ck_assert_ptr_null(res);
	rpc_error_clear(&err);
	res = call_ex(&job_zstd_compress,
	    zcall_inline(&job_zstd_compress, r, 1 << 20, NULL, 0), &err, true,
	    0, NULL);
	ck_assert_ptr_null(res);
	rpc_error_clear(&err);
	ck_assert_int_eq(access(tpath("out"), F_OK), -1);
	ck_assert_int_eq(count_entries(tdir), n);
	free(r);
}
END_TEST

/* --------------------------------------------------------- file.read */

static json_t *
fread_params(const char *path, long long offset, long long length)
{
	json_t *p = json_pack("{s:s}", "path", path);

	if (offset >= 0)
		json_object_set_new(p, "offset", json_integer(offset));
	if (length >= 0)
		json_object_set_new(p, "length", json_integer(length));
	return (p);
}

static void
expect_read(const char *path, long long offset, long long length,
    const void *want, size_t wantlen, size_t size, bool eof)
{
	json_t *res =
	    expect_ok(&job_file_read, fread_params(path, offset, length));
	void *d;
	size_t dlen;

	d = unb64(json_string_value(json_object_get(res, "data_b64")), &dlen);
	ck_assert_uint_eq(dlen, wantlen);
	ck_assert(dlen == 0 || memcmp(d, want, dlen) == 0);
	ck_assert_int_eq(json_integer_value(json_object_get(res, "bytes")),
	    (json_int_t)wantlen);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(res, "size")), (json_int_t)size);
	ck_assert(json_is_true(json_object_get(res, "eof")) == eof);
	free(d);
	json_decref(res);
}

START_TEST(file_read)
{
	unsigned char *r = random_bytes(5 << 20);

	write_file(tpath("small"), "hello world", 11);
	expect_read(tpath("small"), -1, -1, "hello world", 11, 11, true);
	expect_read(tpath("small"), 6, -1, "world", 5, 11, true);
	expect_read(tpath("small"), 0, 5, "hello", 5, 11, false);
	expect_read(tpath("small"), 6, 5, "world", 5, 11, true);
	expect_read(tpath("small"), 11, -1, "", 0, 11, true);
	expect_read(tpath("small"), 1000, 10, "", 0, 11, true);
	expect_read(tpath("small"), 0, 0, "", 0, 11, false);
	write_file(tpath("empty"), "", 0);
	expect_read(tpath("empty"), -1, -1, "", 0, 0, true);
	/* Default length is the cap: 4 MiB of a 5 MiB file, in chunks. */
	write_file(tpath("big"), r, 5 << 20);
	expect_read(tpath("big"), -1, -1, r, 4 << 20, 5 << 20, false);
	expect_read(
	    tpath("big"), 3 << 20, -1, r + (3 << 20), 2 << 20, 5 << 20, true);
	free(r);
}
END_TEST

START_TEST(file_read_errors)
{
	const struct job_kind *k = &job_file_read;
	char t[PATH_MAX * 2];
	struct rpc_error err;
	json_t *res;

	write_file(tpath("small"), "hello", 5);
	expect_param(k, P("{}"), "path");
	expect_param(k, NULL, "path");
	expect_param(k, P("{\"path\":5}"), "path");
	expect_param(k, P("{\"path\":\"small\"}"), "path");
	expect_param(k, fread_params(tpath("small"), -1, 4194305), "length");
	expect_param(k, P("{\"path\":\"/x\",\"length\":-1}"), "length");
	expect_param(k, P("{\"path\":\"/x\",\"offset\":-1}"), "offset");
	expect_param(k, P("{\"path\":\"/x\",\"offset\":\"0\"}"), "offset");
	expect_param(k, P("{\"path\":\"/x\",\"data_b64\":\"\"}"), "data_b64");
	expect_code(
	    k, fread_params("/etc/passwd", -1, -1), RPC_PERMISSION, NULL);
	snprintf(t, sizeof(t), "%s/../etc/passwd", tdir);
	expect_code(k, fread_params(t, -1, -1), RPC_PERMISSION, NULL);
	expect_code(
	    k, fread_params(tpath("nope"), -1, -1), RPC_IO_ERROR, "ENOENT");
	expect_code(k, fread_params(tdir, -1, -1), RPC_IO_ERROR, "EINVAL");
	ck_assert_int_eq(mkfifo(tpath("fifo"), 0644), 0);
	expect_code(
	    k, fread_params(tpath("fifo"), -1, -1), RPC_IO_ERROR, "EINVAL");
	symlink("/etc/passwd", tpath("abs"));
	expect_code(
	    k, fread_params(tpath("abs"), -1, -1), RPC_PERMISSION, NULL);
	cfg.read_roots = no_roots;
	expect_code(
	    k, fread_params(tpath("small"), -1, -1), RPC_PERMISSION, NULL);
	cfg.read_roots = roots;
	/* Unreadable file: EACCES (only meaningful when not root). */
	if (geteuid() != 0) {
		chmod(tpath("small"), 0);
		expect_code(k, fread_params(tpath("small"), -1, -1),
		    RPC_IO_ERROR, "EACCES");
	}
	/* Cancelled before its first chunk. */
	res = call_ex(
	    k, fread_params(tpath("small"), -1, -1), &err, true, 0, NULL);
	ck_assert_ptr_null(res);
	rpc_error_clear(&err);
}
END_TEST

/* Placeholders for a hand-made row in kinds_shape; never called. */
static int
no_parse(struct job *job, const json_t *params, const struct sbk_config *c,
    struct rpc_error *err)
{
	(void)job, (void)params, (void)c, (void)err;
	return (-1);
}

static json_t *
no_run(struct job *job, struct rpc_error *err)
{
	(void)job, (void)err;
	return (NULL);
}

/*
 * The invariants of one job_table row.  A row written with designated
 * initialisers that forgets .lane or .gate gets zeros: the zero lane
 * must be refused here (it must not mean "run on the event thread") and
 * the zero gate must mean "no gate" (not "charge the argon2 budget").
 */
static bool
row_ok(const struct job_kind *k, const char **why)
{
	*why = "method";
	if (k->method == NULL || k->method[0] == '\0')
		return false;
	*why = "lane";
	if (k->lane != LANE_EVENT && k->lane != LANE_CPU && k->lane != LANE_IO)
		return false;
	*why = "parse/run";
	if (k->parse == NULL || k->run == NULL)
		return false;
	*why = "flags";
	if ((k->flags &
		~(unsigned)(JOB_KIND_TEST | JOB_KIND_NO_PARAMS |
		    JOB_KIND_ISOLABLE | JOB_KIND_ISOLATED)) != 0)
		return false;
	*why = "gate";
	if (k->gate != JOB_GATE_NONE && k->gate != JOB_GATE_ARGON2_MEM)
		return false;
	/* Only argon2 is charged to the argon2 memory budget. */
	if ((k->gate == JOB_GATE_ARGON2_MEM) !=
	    (strncmp(k->method, "argon2.", 7) == 0))
		return false;
	/* Pooled work runs on a worker: only the event lane may reach the
	 * server, and only pooled kinds are gated. */
	if (k->lane == LANE_EVENT && k->gate != JOB_GATE_NONE)
		return false;
	return true;
}

START_TEST(kinds_shape)
{
	const struct job_kind zero = {
		.method = "x", .parse = no_parse, .run = no_run
	};
	struct job_kind odd;
	const char *why;
	size_t i, j, n = 0;

	/* Every row of the table, as the daemon sees it. */
	for (i = 0; job_table[i] != NULL; i++, n++) {
		const struct job_kind *k = job_table[i];

		ck_assert_msg(row_ok(k, &why), "row %zu (%s): bad %s", i,
		    k->method != NULL ? k->method : "?", why);
		ck_assert_ptr_eq(
		    job_kind_find(k->method, strlen(k->method)), k);
		ck_assert_uint_eq(job_kind_class(k), i + 1);
		ck_assert_uint_lt(job_kind_class(k), POOL_CLASSES);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(job_table[j]->method, k->method);
	}
	ck_assert_uint_ge(n, 10);
	ck_assert_ptr_null(job_kind_find("no.such", 7));

	/* Forgetting .lane is refused; forgetting .gate means no gate. */
	ck_assert(!row_ok(&zero, &why));
	ck_assert_str_eq(why, "lane");
	/* A flag no one defined is refused too. */
	odd = *job_table[0];
	odd.flags |= 0x80;
	ck_assert(!row_ok(&odd, &why));
	ck_assert_str_eq(why, "flags");
	ck_assert_int_eq(zero.gate, JOB_GATE_NONE);
	ck_assert_int_eq(job_pool_gate(zero.gate), POOL_GATE_NONE);
	ck_assert_int_eq(
	    job_pool_gate(job_argon2_hash.gate), POOL_GATE_ARGON2_MEM);

	ck_assert_int_eq(job_argon2_hash.lane, LANE_CPU);
	ck_assert_int_eq(job_argon2_hash.gate, JOB_GATE_ARGON2_MEM);
	ck_assert_int_eq(job_argon2_verify.gate, JOB_GATE_ARGON2_MEM);
	ck_assert_int_eq(job_zstd_compress.lane, LANE_CPU);
	ck_assert_int_eq(job_file_read.lane, LANE_IO);
}
END_TEST

/* --- the core's helpers: params walks, spin's parse, -32000 line --- */

/* The same outcome: return value, code, param and message. */
static void
same_error(int rc_a, const struct rpc_error *a, int rc_b,
    const struct rpc_error *b, const char *what)
{
	ck_assert_msg(rc_a == rc_b, "%s: returns %d and %d", what, rc_a, rc_b);
	ck_assert_msg(
	    a->code == b->code, "%s: codes %d and %d", what, a->code, b->code);
	ck_assert_msg(strcmp(a->message, b->message) == 0,
	    "%s: \"%s\" and "
	    "\"%s\"",
	    what, a->message, b->message);
	ck_assert_msg(strcmp(data_str(a, "param"), data_str(b, "param")) == 0,
	    "%s: param \"%s\" and \"%s\"", what, data_str(a, "param"),
	    data_str(b, "param"));
}

static const char *const walk_params[] = {
	"null",
	"{}",
	"{\"ms\":1}",
	"{\"x\":1}",
	"{\"ms\":1,\"x\":2,\"y\":3}",
	"{\"y\":1,\"ms\":2}",
	"{\"timeout_ms\":5,\"ms\":1,\"progress\":true}",
	"{\"progress\":\"no\",\"timeout_ms\":0}",
	"{\"timeout_ms\":1.5}",
	"{\"a\":{\"ms\":1},\"ms\":[1]}",
	"{\"ms\":null,\"n\":2,\"z\":3}",
	"{\"msx\":1}",
	"{\"m\":1}",
	"{\"timeout_msx\":1}",
};

/*
 * job_params_get and job_value_* against job_params_check and
 * job_param_*, which they replace on the hot path: same values, same
 * errors, for every names list.
 */
START_TEST(params_walk_matches_lookups)
{
	static const char *const n0[] = { NULL };
	static const char *const n1[] = { "ms", NULL };
	static const char *const n2[] = { "ms", "n", "z", NULL };
	static const char *const *lists[] = { n0, n1, n2 };
	const json_t *vals[4], *tmo, *prg;
	struct rpc_error ea = { 0 }, eb = { 0 };
	json_t *p;
	size_t i, l, k;
	long long ia, ib;
	bool ba, bb;
	int ra, rb;

	for (i = 0; i < sizeof(walk_params) / sizeof(walk_params[0]); i++) {
		p = strcmp(walk_params[i], "null") == 0 ? NULL :
							  P(walk_params[i]);
		for (l = 0; l < 3; l++) {
			memset(vals, 0xa5, sizeof(vals));
			ra = job_params_get(p, lists[l], vals, &ea);
			rb = job_params_check(p, lists[l], &eb);
			same_error(ra, &ea, rb, &eb, walk_params[i]);
			for (k = 0; ra == 0 && lists[l][k] != NULL; k++)
				ck_assert_ptr_eq(vals[k],
				    p == NULL ?
					NULL :
					json_object_get(p, lists[l][k]));
			rpc_error_clear(&ea);
			rpc_error_clear(&eb);
		}
		/* The common members, found whatever else is there. */
		job_params_common(p, &tmo, &prg);
		ck_assert_ptr_eq(
		    tmo, p ? json_object_get(p, "timeout_ms") : NULL);
		ck_assert_ptr_eq(
		    prg, p ? json_object_get(p, "progress") : NULL);
		/* Typed checks on a found value, and on an absent one. */
		ia = ib = 42;
		ra = job_value_int(tmo, "timeout_ms", 7, 1, 10, &ia, &ea);
		rb = job_param_int(p, "timeout_ms", 7, 1, 10, &ib, &eb);
		same_error(ra, &ea, rb, &eb, walk_params[i]);
		ck_assert_int_eq(ia, ib);
		rpc_error_clear(&ea);
		rpc_error_clear(&eb);
		ba = bb = true;
		ra = job_value_bool(prg, "progress", false, &ba, &ea);
		rb = job_param_bool(p, "progress", false, &bb, &eb);
		same_error(ra, &ea, rb, &eb, walk_params[i]);
		ck_assert_int_eq(ba, bb);
		rpc_error_clear(&ea);
		rpc_error_clear(&eb);
		json_decref(p);
	}
}
END_TEST

/* spin's parse: the first unknown member, then the type, then "required". */
START_TEST(spin_parse)
{
	static const struct {
		const char *params;
		int code;
		const char *param;
		const char *message;
		long long ms;
	} cases[] = {
		{ "{\"ms\":0}", 0, "", "", 0 },
		{ "{\"ms\":600000,\"timeout_ms\":1}", 0, "", "", 600000 },
		{ "null", RPC_INVALID_PARAMS, "ms", "'ms' is required", 0 },
		{ "{}", RPC_INVALID_PARAMS, "ms", "'ms' is required", 0 },
		{ "{\"progress\":true}", RPC_INVALID_PARAMS, "ms",
		    "'ms' is required", 0 },
		{ "{\"ms\":-1}", RPC_INVALID_PARAMS, "ms",
		    "'ms' must be between 0 and 600000", 0 },
		{ "{\"ms\":600001}", RPC_INVALID_PARAMS, "ms",
		    "'ms' must be between 0 and 600000", 0 },
		{ "{\"ms\":\"1\"}", RPC_INVALID_PARAMS, "ms",
		    "'ms' must be an integer", 0 },
		{ "{\"ms\":\"1\",\"x\":1}", RPC_INVALID_PARAMS, "x",
		    "unknown parameter 'x'", 0 },
		{ "{\"y\":1,\"x\":1}", RPC_INVALID_PARAMS, "y",
		    "unknown parameter 'y'", 0 },
	};
	extern const struct job_kind job_spin, job_sleep;
	const struct job_kind *kinds[] = { &job_spin, &job_sleep };
	struct rpc_error err;
	struct job job;
	json_t *p;
	size_t i, k;
	int rc;

	for (k = 0; k < 2; k++)
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			p = strcmp(cases[i].params, "null") == 0 ?
			    NULL :
			    P(cases[i].params);
			memset(&job, 0, sizeof(job));
			memset(&err, 0, sizeof(err));
			rc = kinds[k]->parse(&job, p, &cfg, &err);
			ck_assert_msg(rc == (cases[i].code ? -1 : 0) &&
				err.code == cases[i].code &&
				strcmp(data_str(&err, "param"),
				    cases[i].param) == 0 &&
				strcmp(err.message, cases[i].message) == 0,
			    "%s %s: %d %d \"%s\"", kinds[k]->method,
			    cases[i].params, rc, err.code, err.message);
			if (rc == 0)
				ck_assert_int_eq(
				    (intptr_t)job.arg, cases[i].ms);
			rpc_error_clear(&err);
			json_decref(p);
		}
}
END_TEST

static Suite *
jobs_suite(void)
{
	Suite *s = suite_create("jobs");
	TCase *a = tcase_create("argon2"), *z = tcase_create("zstd");
	TCase *f = tcase_create("file"), *c = tcase_create("core");

	tcase_add_checked_fixture(a, setup, teardown);
	tcase_add_test(a, argon2_defaults_and_roundtrip);
	tcase_add_test(a, argon2_matches_cli);
	tcase_add_test(a, argon2_verifies_cli);
	tcase_add_test(a, argon2_nul_password_cli);
	tcase_add_test(a, nul_in_string_params);
	tcase_add_test(a, argon2_param_errors);
	tcase_add_test(a, argon2_verify_errors);
	tcase_add_test(a, argon2_wipes_params);
	suite_add_tcase(s, a);
	tcase_add_checked_fixture(z, setup, teardown);
	tcase_add_test(z, zstd_inline_roundtrip);
	tcase_add_test(z, zstd_cli_oracle);
	tcase_add_test(z, zstd_bomb);
	tcase_add_test(z, zstd_corrupt);
	tcase_add_test(z, zstd_param_errors);
	tcase_add_test(z, zstd_paths);
	tcase_add_test(z, zstd_stop);
	suite_add_tcase(s, z);
	tcase_add_checked_fixture(f, setup, teardown);
	tcase_add_test(f, file_read);
	tcase_add_test(f, file_read_errors);
	tcase_add_test(f, kinds_shape);
	suite_add_tcase(s, f);
	tcase_add_test(c, params_walk_matches_lookups);
	tcase_add_test(c, spin_parse);
	suite_add_tcase(s, c);
	return (s);
}

int
main(void)
{
	SRunner *sr = srunner_create(jobs_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
