/*
 * argon2.c - the argon2.hash and argon2.verify job kinds (CPU pool).
 *
 * parse (event thread) validates every parameter against the [argon2]
 * caps, takes a private copy of the password, wipes the one inside the
 * request's params, and charges m_cost_kib to the argon2 memory gate so
 * the scheduler keeps the sum over running jobs within memory_budget_kib.
 * run (a CPU worker) computes with lanes = parallelism but one thread:
 * the hash is the same, and the pool stays the only source of
 * parallelism.  The working memory comes straight from mmap and goes back
 * with munmap, so the daemon's RSS drops as soon as a job ends instead of
 * lingering in a malloc arena.  free (any thread) wipes the password and
 * every derived key.
 *
 * PHC strings are encoded and decoded here (libargon2 does not export its
 * codec): $argon2id$v=19$m=M,t=T,p=P$SALT$HASH with unpadded base64.
 */
#include <sys/mman.h>
#include <sys/random.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <jansson.h>

#include "base64.h"
#include "config.h"
#include "job.h"

#define A2_HASH_LEN_MIN 4
#define A2_HASH_LEN_MAX 1024
#define A2_HASH_LEN_DEF 32
#define A2_SALT_LEN_MIN 8
#define A2_SALT_LEN_MAX 64
#define A2_SALT_LEN_DEF 16
/* Salts from other tools may be longer than the ones we make. */
#define A2_VERIFY_SALT_MAX 1024

/* The kind's state in job->arg; every byte of it is wiped in free. */
struct a2_arg {
	char *password;
	size_t pwlen;
	argon2_type type;
	uint32_t version;
	uint32_t t_cost;
	uint32_t m_cost;
	uint32_t lanes;
	uint32_t hash_len;
	uint32_t salt_len;
	uint8_t *salt; /* verify: from the PHC string */
	uint8_t *hash; /* verify: the expected hash */
};

extern const struct job_kind job_argon2_hash;

static const char *const a2_hash_params_names[] = { "password", "type",
	"t_cost", "m_cost_kib", "parallelism", "hash_len", "salt_len", NULL };
static const char *const a2_verify_params_names[] = { "password", "hash",
	NULL };

/* Decode len characters of unpadded base64 (PHC) into a new buffer. */
static uint8_t *
a2_b64_decode(const char *in, size_t len, size_t *outlen)
{
	uint8_t *out = malloc(base64_decoded_max(len) + 1);

	if (out != NULL && !base64_decode_pad(in, len, out, outlen, false)) {
		free(out);
		out = NULL;
	}
	return (out);
}

/* The type named by len bytes at name ("argon2id", ...), or -1. */
static int
a2_type(const char *name, size_t len)
{
	for (int t = Argon2_d; t <= Argon2_id; t++) {
		const char *n = argon2_type2string((argon2_type)t, 0);

		if (strlen(n) == len && memcmp(n, name, len) == 0)
			return (t);
	}
	return (-1);
}

/* "prefix" then a decimal uint32 without sign or leading zeros. */
static bool
a2_number(const char **sp, const char *prefix, uint32_t *out)
{
	const char *s = *sp;
	unsigned long long v = 0;
	size_t digits = 0;

	if (strncmp(s, prefix, strlen(prefix)) != 0)
		return (false);
	s += strlen(prefix);
	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return (false);
	while (*s >= '0' && *s <= '9' && digits < 11) {
		v = v * 10 + (unsigned)(*s++ - '0');
		digits++;
	}
	if (digits == 0 || v > UINT32_MAX)
		return (false);
	*out = (uint32_t)v;
	*sp = s;
	return (true);
}

/* Take a PHC string apart into arg.  False when it is malformed. */
static bool
a2_decode(const char *s, size_t len, struct a2_arg *a)
{
	const char *end, *dollar;
	size_t n;
	int t;

	if (strlen(s) != len || *s++ != '$')
		return (false);
	n = strcspn(s, "$");
	if ((t = a2_type(s, n)) < 0 || s[n] != '$')
		return (false);
	a->type = (argon2_type)t;
	s += n + 1;
	/* Version 1.0 strings carry no "v=" field. */
	a->version = ARGON2_VERSION_10;
	if (strncmp(s, "v=", 2) == 0) {
		if (!a2_number(&s, "v=", &a->version) || *s++ != '$')
			return (false);
		if (a->version != ARGON2_VERSION_10 &&
		    a->version != ARGON2_VERSION_13)
			return (false);
	}
	if (!a2_number(&s, "m=", &a->m_cost) || *s++ != ',' ||
	    !a2_number(&s, "t=", &a->t_cost) || *s++ != ',' ||
	    !a2_number(&s, "p=", &a->lanes) || *s++ != '$')
		return (false);
	if ((dollar = strchr(s, '$')) == NULL)
		return (false);
	if ((a->salt = a2_b64_decode(s, (size_t)(dollar - s), &n)) == NULL)
		return (false);
	if (n < A2_SALT_LEN_MIN || n > A2_VERIFY_SALT_MAX)
		return (false);
	a->salt_len = (uint32_t)n;
	s = dollar + 1;
	end = s + strlen(s);
	if ((a->hash = a2_b64_decode(s, (size_t)(end - s), &n)) == NULL)
		return (false);
	if (n < A2_HASH_LEN_MIN || n > A2_HASH_LEN_MAX)
		return (false);
	a->hash_len = (uint32_t)n;
	return (true);
}

/* Wipe and free n bytes at p (NULL is fine). */
static void
a2_wipe_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}

static void
a2_arg_free(struct a2_arg *a)
{
	if (a == NULL)
		return;
	a2_wipe_free(a->password, a->pwlen);
	a2_wipe_free(a->salt, a->salt_len);
	a2_wipe_free(a->hash, a->hash_len);
	a2_wipe_free(a, sizeof(*a));
}

/*
 * The request's own copy of the password lives in params, which the job
 * owns: wipe it as soon as parse has taken its copy, on every path.
 */
static void
a2_wipe_param(const json_t *params, const char *name)
{
	json_t *v;

	if (params == NULL || (v = json_object_get(params, name)) == NULL ||
	    !json_is_string(v))
		return;
	explicit_bzero((char *)json_string_value(v), json_string_length(v));
}

static int
a2_take_password(const json_t *params, struct a2_arg *a, struct rpc_error *err)
{
	const char *pw;
	size_t len;

	if (job_param_string(params, "password", true, &pw, &len, err) == -1)
		return (-1);
	if (len > UINT32_MAX)
		return (
		    rpc_error_param(err, "password", "password is too long"));
	/* One more byte so that an empty password is not malloc(0). */
	if ((a->password = malloc(len + 1)) == NULL)
		return (rpc_error_set(
		    err, RPC_INTERNAL_ERROR, NULL, "out of memory"));
	memcpy(a->password, pw, len);
	a->pwlen = len;
	return (0);
}

/* argon2.hash's params into a; the defaults and caps are cfg's. */
static int
a2_hash_params(const json_t *params, const struct sbk_config *cfg,
    struct a2_arg *a, struct rpc_error *err)
{
	const char *type;
	size_t tlen;
	long long t, m, p, hl, sl;
	int ty = Argon2_id;

	if (job_params_check(params, a2_hash_params_names, err) == -1 ||
	    a2_take_password(params, a, err) == -1 ||
	    job_param_string(params, "type", false, &type, &tlen, err) == -1)
		return (-1);
	if (type != NULL && (ty = a2_type(type, tlen)) < 0)
		return (rpc_error_param(
		    err, "type", "type must be argon2id, argon2i or argon2d"));
	if (job_param_int(params, "parallelism", cfg->argon2_parallelism, 1,
		cfg->argon2_max_parallelism, &p, err) == -1 ||
	    job_param_int(params, "t_cost", cfg->argon2_t_cost, 1,
		cfg->argon2_max_t_cost, &t, err) == -1 ||
	    job_param_int(params, "m_cost_kib", cfg->argon2_m_cost_kib, 8 * p,
		cfg->argon2_max_m_cost_kib, &m, err) == -1 ||
	    job_param_int(params, "hash_len", A2_HASH_LEN_DEF, A2_HASH_LEN_MIN,
		A2_HASH_LEN_MAX, &hl, err) == -1 ||
	    job_param_int(params, "salt_len", A2_SALT_LEN_DEF, A2_SALT_LEN_MIN,
		A2_SALT_LEN_MAX, &sl, err) == -1)
		return (-1);
	/* It would wait for the memory gate for ever. */
	if ((unsigned long long)m > cfg->argon2_memory_budget_kib)
		return (rpc_error_param(err, "m_cost_kib",
		    "m_cost_kib %lld exceeds memory_budget_kib %lu", m,
		    cfg->argon2_memory_budget_kib));
	a->type = (argon2_type)ty;
	a->version = ARGON2_VERSION_13;
	a->t_cost = (uint32_t)t;
	a->m_cost = (uint32_t)m;
	a->lanes = (uint32_t)p;
	a->hash_len = (uint32_t)hl;
	a->salt_len = (uint32_t)sl;
	return (0);
}

/* argon2.verify's params into a: the costs come from the PHC string. */
static int
a2_verify_params(const json_t *params, const struct sbk_config *cfg,
    struct a2_arg *a, struct rpc_error *err)
{
	const char *hash;
	size_t len;

	if (job_params_check(params, a2_verify_params_names, err) == -1 ||
	    a2_take_password(params, a, err) == -1 ||
	    job_param_string(params, "hash", true, &hash, &len, err) == -1)
		return (-1);
	if (!a2_decode(hash, len, a))
		return (rpc_error_param(
		    err, "hash", "hash is not a valid PHC string"));
	/* Never run a cost the caps would refuse for argon2.hash. */
	if (a->t_cost < 1 || a->t_cost > cfg->argon2_max_t_cost ||
	    a->lanes < 1 || a->lanes > cfg->argon2_max_parallelism ||
	    a->m_cost < 8 * a->lanes ||
	    a->m_cost > cfg->argon2_max_m_cost_kib ||
	    a->m_cost > cfg->argon2_memory_budget_kib)
		return (rpc_error_param(err, "hash",
		    "hash parameters exceed the configured limits"));
	return (0);
}

/* Both kinds: the password in params is wiped on every path. */
static int
a2_parse(struct job *job, const json_t *params, const struct sbk_config *cfg,
    struct rpc_error *err)
{
	struct a2_arg *a = calloc(1, sizeof(*a));
	int rc = -1;

	if (a == NULL)
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
	else if (job->kind == &job_argon2_hash)
		rc = a2_hash_params(params, cfg, a, err);
	else
		rc = a2_verify_params(params, cfg, a, err);
	a2_wipe_param(params, "password");
	if (rc == -1) {
		a2_arg_free(a);
		return (-1);
	}
	job->arg = a;
	job->work.item.cost = a->m_cost;
	return (0);
}

/*
 * libargon2 wipes its memory before it calls free_cbk; mmap/munmap make
 * the RSS follow the memory gate exactly.  libargon2 ignores the return
 * value and checks *memory.
 */
static int
a2_alloc_cb(uint8_t **memory, size_t bytes)
{
	void *p;

	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*memory = p == MAP_FAILED ? NULL : p;
	return (*memory == NULL ? ARGON2_MEMORY_ALLOCATION_ERROR : ARGON2_OK);
}

static void
a2_free_cb(uint8_t *memory, size_t bytes)
{
	munmap(memory, bytes);
}

/* Run argon2 with our parameters into out (a->hash_len bytes). */
static int
a2_compute(struct a2_arg *a, uint8_t *out, struct rpc_error *err)
{
	argon2_context ctx = {
		.out = out,
		.outlen = a->hash_len,
		.pwd = (uint8_t *)a->password,
		.pwdlen = (uint32_t)a->pwlen,
		.salt = a->salt,
		.saltlen = a->salt_len,
		.t_cost = a->t_cost,
		.m_cost = a->m_cost,
		.lanes = a->lanes,
		.threads = 1,
		.version = a->version,
		.allocate_cbk = a2_alloc_cb,
		.free_cbk = a2_free_cb,
		.flags = ARGON2_DEFAULT_FLAGS,
	};
	int rc;

	rc = argon2_ctx(&ctx, a->type);
	explicit_bzero(&ctx, sizeof(ctx));
	if (rc != ARGON2_OK) {
		if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
			rpc_error_errno(err, ENOMEM, "argon2: %s",
			    argon2_error_message(rc));
		else
			rpc_error_set(err, RPC_INTERNAL_ERROR, NULL,
			    "argon2: %s", argon2_error_message(rc));
		return (-1);
	}
	return (0);
}

static json_t *
a2_hash_run(struct job *job, struct rpc_error *err)
{
	struct a2_arg *a = job->arg;
	uint8_t *out = NULL;
	char *enc = NULL, *p;
	size_t enclen = 0, got;
	ssize_t n;
	json_t *res = NULL;

	if ((a->salt = malloc(a->salt_len)) == NULL ||
	    (out = malloc(a->hash_len)) == NULL)
		goto oom;
	for (got = 0; got < a->salt_len; got += (size_t)n) {
		n = getrandom(a->salt + got, a->salt_len - got, 0);
		if (n == -1 && errno != EINTR) {
			rpc_error_errno(err, errno, "getrandom failed");
			goto out;
		}
		if (n == -1)
			n = 0;
	}
	if (a2_compute(a, out, err) == -1)
		goto out;
	enclen = argon2_encodedlen(a->t_cost, a->m_cost, a->lanes, a->salt_len,
		     a->hash_len, a->type) +
	    16;
	if ((enc = malloc(enclen)) == NULL)
		goto oom;
	p = enc +
	    snprintf(enc, enclen, "$%s$v=%u$m=%u,t=%u,p=%u$",
		argon2_type2string(a->type, 0), (unsigned)a->version,
		(unsigned)a->m_cost, (unsigned)a->t_cost, (unsigned)a->lanes);
	p += base64_encode_pad(a->salt, a->salt_len, p, false);
	*p++ = '$';
	p += base64_encode_pad(out, a->hash_len, p, false);
	if ((res = json_pack("{s:s}", "hash", enc)) == NULL)
		goto oom;
	goto out;

oom:
	rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
out:
	a2_wipe_free(out, a->hash_len);
	a2_wipe_free(enc, enclen);
	return (res);
}

static json_t *
a2_verify_run(struct job *job, struct rpc_error *err)
{
	struct a2_arg *a = job->arg;
	uint8_t *out;
	uint8_t diff = 0;
	uint32_t i;
	json_t *res;

	if ((out = malloc(a->hash_len)) == NULL) {
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
		return (NULL);
	}
	if (a2_compute(a, out, err) == -1) {
		a2_wipe_free(out, a->hash_len);
		return (NULL);
	}
	/* Constant time: the comparison must not leak where they differ. */
	for (i = 0; i < a->hash_len; i++)
		diff |= out[i] ^ a->hash[i];
	a2_wipe_free(out, a->hash_len);
	if ((res = json_pack("{s:b}", "valid", diff == 0)) == NULL)
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
	return (res);
}

static void
a2_free(struct job *job)
{
	/* Already wiped by parse; again in case parse failed before it. */
	a2_wipe_param(job->params, "password");
	a2_arg_free(job->arg);
	job->arg = NULL;
}

const struct job_kind job_argon2_hash = {
	.method = "argon2.hash",
	.lane = LANE_CPU,
	.parse = a2_parse,
	.run = a2_hash_run,
	.free = a2_free,
	.gate = JOB_GATE_ARGON2_MEM,
};

const struct job_kind job_argon2_verify = {
	.method = "argon2.verify",
	.lane = LANE_CPU,
	.parse = a2_parse,
	.run = a2_verify_run,
	.free = a2_free,
	.gate = JOB_GATE_ARGON2_MEM,
};
