/*
 * config.c - sbk-gearman's configuration: one table row per key, the
 * defaults parsed from that table, and the INI file read through inih
 * with every value checked and every error reported as "FILE:LINE:
 * [section] key: what is wrong" (the same rules as sbkd.conf: unknown
 * sections and keys, duplicates and out-of-range values are errors).
 *
 * The file itself (the bounded read of a regular file, the line reader
 * inih is driven through, unknown sections, unknown and duplicate keys,
 * FILE:LINE) is daemon/inifile.c's, shared with sbkd's reader.
 *
 * Thread safety: main thread only.
 */
#include "sbk-config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "config.h"
#include "inifile.h"
#include "log.h"

/*
 * The sbkd methods a bridge may serve.  stats, job.cancel and admin.* are
 * left out on purpose: they describe or steer one sbkd and its own
 * connections, which means nothing to a Gearman client on another host.
 */
const struct bridge_method bridge_methods[] = {
	{ .name = "ping" },
	{ .name = "argon2.hash" },
	{ .name = "argon2.verify" },
	{ .name = "zstd.compress", .paths = true, .wants_progress = true },
	{ .name = "zstd.decompress", .paths = true, .wants_progress = true },
	{ .name = "file.read", .paths = true, .needs_paths = true },
	{ .name = "sleep" },
	{ .name = "spin" },
	{ .name = NULL },
};

const struct bridge_method *
bridge_method_find(const char *name)
{
	for (const struct bridge_method *m = bridge_methods; m->name; m++)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

enum cfg_type {
	CFG_UINT,
	CFG_SIZE, /* K, M, G suffixes */
	CFG_BOOL,
	CFG_STRING, /* NULL when empty */
	CFG_SOCKET,
	CFG_SERVERS,
	CFG_FUNCTIONS,
	CFG_PREFIX,
	CFG_LOGLEVEL,
};

struct cfg_key {
	struct inifile_key key; /* section, name */
	enum cfg_type type;
	size_t off;
	long long min;
	long long max;
	const char *def;
};

#define OFF(f) offsetof(struct bridge_config, f)
#define GIB    (1024LL * 1024 * 1024)

/* conf/sbk-gearman.conf documents these rows one for one. */
static const struct cfg_key cfg_keys[] = {
	{ { "gearman", "servers" }, CFG_SERVERS, OFF(servers), 0, 0,
	    "127.0.0.1:4730" },
	{ { "gearman", "function_prefix" }, CFG_PREFIX, OFF(function_prefix), 0,
	    0, "sbk." },
	{ { "gearman", "functions" }, CFG_FUNCTIONS, OFF(functions), 0, 0,
	    "argon2.hash, argon2.verify, zstd.compress, zstd.decompress" },
	{ { "gearman", "allow_paths" }, CFG_BOOL, OFF(allow_paths), 0, 1,
	    "false" },
	{ { "gearman", "max_workload_bytes" }, CFG_SIZE,
	    OFF(max_workload_bytes), 2, GIB, "4194304" },
	{ { "gearman", "identifier" }, CFG_STRING, OFF(identifier), 0, 0, "" },

	{ { "sbkd", "socket" }, CFG_SOCKET, OFF(socket), 0, 0,
	    SBK_DEFAULT_SOCKET },
	{ { "sbkd", "slots" }, CFG_UINT, OFF(slots), 0, 4096, "0" },
	{ { "sbkd", "retry_min_ms" }, CFG_UINT, OFF(retry_min_ms), 1, 600000,
	    "10" },
	{ { "sbkd", "retry_max_ms" }, CFG_UINT, OFF(retry_max_ms), 1, 600000,
	    "5000" },

	{ { "bridge", "reconnect_min_ms" }, CFG_UINT, OFF(reconnect_min_ms), 1,
	    600000, "100" },
	{ { "bridge", "reconnect_max_ms" }, CFG_UINT, OFF(reconnect_max_ms), 1,
	    3600000, "5000" },
	{ { "bridge", "idle_check_ms" }, CFG_UINT, OFF(idle_check_ms), 10,
	    600000, "1000" },
	{ { "bridge", "log_level" }, CFG_LOGLEVEL, OFF(log_level), 0, 0,
	    "info" },
	{ { "bridge", "log_jobs" }, CFG_BOOL, OFF(log_jobs), 0, 1, "false" },
	{ { "bridge", "stats_file" }, CFG_STRING, OFF(stats_file), 0, 0, "" },
	{ { "bridge", "stats_interval_s" }, CFG_UINT, OFF(stats_interval_s), 0,
	    86400, "0" },
};

#define NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

static const char *const cfg_sections[] = { "gearman", "sbkd", "bridge" };

struct cfg_ctx {
	struct inifile ini;
	struct bridge_config *cfg;
	int seen[NKEYS]; /* line a key was set on */
};

/* ------------------------------------------------------------------ */
/* Values */

/* Next comma-separated item of *p, blanks trimmed; NULL at the end. */
static char *
cfg_next_item(char **p)
{
	char *s = *p, *e;

	if (s == NULL)
		return NULL;
	e = strchr(s, ',');
	*p = e ? e + 1 : NULL;
	if (e)
		*e = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

static void
cfg_free_servers(struct bridge_config *c)
{
	for (size_t i = 0; i < c->n_servers; i++)
		free(c->servers[i].host);
	free(c->servers);
	c->servers = NULL;
	c->n_servers = 0;
}

/* "HOST[:PORT]" or "[V6ADDR][:PORT]"; the port defaults to 4730. */
static bool
cfg_parse_server(
    const char *item, struct bridge_server *s, char *why, size_t whylen)
{
	const char *host = item, *colon, *hend;
	long long port = 4730;

	if (*item == '[') {
		host = item + 1;
		hend = strchr(host, ']');
		if (hend == NULL) {
			snprintf(why, whylen, "\"%s\": missing ']'", item);
			return false;
		}
		colon = hend[1] == ':' ? hend + 1 : NULL;
		if (hend[1] != '\0' && colon == NULL) {
			snprintf(why, whylen, "\"%s\": text after ']'", item);
			return false;
		}
	} else {
		colon = strrchr(item, ':');
		hend = colon ? colon : item + strlen(item);
		if (colon && strchr(item, ':') != colon) {
			snprintf(why, whylen,
			    "\"%s\": write an IPv6 address as [ADDR]:PORT",
			    item);
			return false;
		}
	}
	if (hend == host) {
		snprintf(why, whylen, "\"%s\": empty host", item);
		return false;
	}
	for (const char *p = host; p < hend; p++)
		if ((unsigned char)*p <= ' ' || *p == ',') {
			snprintf(why, whylen,
			    "\"%s\": bad character in the host", item);
			return false;
		}
	if (colon) {
		if (!inifile_parse_ll(colon + 1, false, &port, why, whylen))
			return false;
		if (port < 1 || port > 65535) {
			snprintf(why, whylen,
			    "\"%s\": port out of range 1..65535", item);
			return false;
		}
	}
	s->host = strndup(host, (size_t)(hend - host));
	s->port = (unsigned)port;
	if (s->host == NULL) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	return true;
}

static bool
cfg_parse_servers(
    struct bridge_config *c, const char *v, char *why, size_t whylen)
{
	char *copy = strdup(v), *p = copy, *item;
	size_t n = 1;

	cfg_free_servers(c);
	if (copy == NULL)
		goto nomem;
	for (const char *q = v; *q; q++)
		n += *q == ',';
	if ((c->servers = calloc(n, sizeof(*c->servers))) == NULL)
		goto nomem;
	while ((item = cfg_next_item(&p)) != NULL) {
		if (*item == '\0') {
			snprintf(why, whylen, "empty server in the list");
			goto fail;
		}
		if (!cfg_parse_server(
			item, &c->servers[c->n_servers], why, whylen))
			goto fail;
		c->n_servers++;
	}
	free(copy);
	return true;
nomem:
	snprintf(why, whylen, "out of memory");
fail:
	free(copy);
	cfg_free_servers(c);
	return false;
}

static bool
cfg_parse_functions(
    struct bridge_config *c, const char *v, char *why, size_t whylen)
{
	char *copy = strdup(v), *p = copy, *item;
	const struct bridge_method *m;
	size_t n = 1;

	free(c->functions);
	c->functions = NULL;
	c->n_functions = 0;
	if (copy == NULL)
		goto nomem;
	for (const char *q = v; *q; q++)
		n += *q == ',';
	if ((c->functions = calloc(n, sizeof(*c->functions))) == NULL)
		goto nomem;
	while ((item = cfg_next_item(&p)) != NULL) {
		if (*item == '\0') {
			snprintf(why, whylen, "empty method in the list");
			goto fail;
		}
		if ((m = bridge_method_find(item)) == NULL) {
			snprintf(why, whylen,
			    "\"%s\" is not a method a bridge serves (ping, "
			    "argon2.hash, argon2.verify, zstd.compress, "
			    "zstd.decompress, file.read, sleep, spin)",
			    item);
			goto fail;
		}
		for (size_t i = 0; i < c->n_functions; i++)
			if (c->functions[i] == m) {
				snprintf(
				    why, whylen, "\"%s\" listed twice", item);
				goto fail;
			}
		c->functions[c->n_functions++] = m;
	}
	free(copy);
	return true;
nomem:
	snprintf(why, whylen, "out of memory");
fail:
	free(copy);
	free(c->functions);
	c->functions = NULL;
	c->n_functions = 0;
	return false;
}

static bool
cfg_set(struct bridge_config *c, const struct cfg_key *k, const char *v,
    char *why, size_t whylen)
{
	void *field = (char *)c + k->off;
	long long n;
	bool b;
	int level;

	switch (k->type) {
	case CFG_UINT:
	case CFG_SIZE:
		if (!inifile_parse_number(v, k->type == CFG_SIZE, k->min,
			k->max, &n, why, whylen))
			return false;
		if (k->type == CFG_UINT)
			*(unsigned *)field = (unsigned)n;
		else
			*(size_t *)field = (size_t)n;
		return true;
	case CFG_BOOL:
		if (!inifile_parse_bool(v, &b)) {
			snprintf(why, whylen, "\"%s\" is not true or false", v);
			return false;
		}
		*(bool *)field = b;
		return true;
	case CFG_SOCKET:
		if (*v != '/') {
			snprintf(
			    why, whylen, "\"%s\" is not an absolute path", v);
			return false;
		}
		if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(why, whylen, "path longer than %zu bytes",
			    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return false;
		}
		/* fall through */
	case CFG_STRING:
	case CFG_PREFIX:
		if (k->type == CFG_PREFIX) {
			/* Gearman function names are one protocol field:
			 * no NUL (ruled out), blanks or control bytes. */
			for (const char *p = v; *p; p++)
				if ((unsigned char)*p <= ' ') {
					snprintf(why, whylen,
					    "blank or control character in "
					    "the prefix");
					return false;
				}
			if (strlen(v) > 64) {
				snprintf(why, whylen, "longer than 64 bytes");
				return false;
			}
		}
		free(*(char **)field);
		*(char **)field = NULL;
		if (*v == '\0' && k->type != CFG_PREFIX)
			return true;
		if ((*(char **)field = strdup(v)) == NULL) {
			snprintf(why, whylen, "out of memory");
			return false;
		}
		return true;
	case CFG_SERVERS:
		if (*v == '\0') {
			snprintf(why, whylen, "at least one server is needed");
			return false;
		}
		return cfg_parse_servers(c, v, why, whylen);
	case CFG_FUNCTIONS:
		if (*v == '\0') {
			snprintf(why, whylen, "at least one method is needed");
			return false;
		}
		return cfg_parse_functions(c, v, why, whylen);
	case CFG_LOGLEVEL:
		if ((level = log_level_parse(v)) < 0) {
			snprintf(why, whylen,
			    "\"%s\" is not a log level (err, warning, notice, "
			    "info, debug)",
			    v);
			return false;
		}
		*(int *)field = level;
		return true;
	}
	snprintf(why, whylen, "internal error: bad key type");
	return false;
}

/* ------------------------------------------------------------------ */
/* Reading the file */

static bool
cfg_store(void *arg, int i, const char *value, char *why, size_t whylen)
{
	struct cfg_ctx *ctx = arg;

	return cfg_set(ctx->cfg, &cfg_keys[i], value, why, whylen);
}

/* Checks between keys, once the whole file is read. */
static void
cfg_check(struct cfg_ctx *ctx)
{
	const struct bridge_config *c = ctx->cfg;
	int a, b;

	if (c->retry_min_ms > c->retry_max_ms) {
		a = inifile_key_line(&ctx->ini, "sbkd", "retry_min_ms");
		b = inifile_key_line(&ctx->ini, "sbkd", "retry_max_ms");
		inifile_error(&ctx->ini, a > b ? a : b,
		    "[sbkd] retry_min_ms: %u is above retry_max_ms (%u)",
		    c->retry_min_ms, c->retry_max_ms);
		return;
	}
	if (c->reconnect_min_ms > c->reconnect_max_ms) {
		a = inifile_key_line(&ctx->ini, "bridge", "reconnect_min_ms");
		b = inifile_key_line(&ctx->ini, "bridge", "reconnect_max_ms");
		inifile_error(&ctx->ini, a > b ? a : b,
		    "[bridge] reconnect_min_ms: %u is above reconnect_max_ms "
		    "(%u)",
		    c->reconnect_min_ms, c->reconnect_max_ms);
		return;
	}
	for (size_t i = 0; i < c->n_functions; i++)
		if (c->functions[i]->needs_paths && !c->allow_paths) {
			a = inifile_key_line(&ctx->ini, "gearman", "functions");
			b = inifile_key_line(
			    &ctx->ini, "gearman", "allow_paths");
			inifile_error(&ctx->ini, a > b ? a : b,
			    "[gearman] functions: %s reads paths, which "
			    "needs allow_paths = true",
			    c->functions[i]->name);
			return;
		}
}

void
bridge_config_free(struct bridge_config *c)
{
	if (c == NULL)
		return;
	cfg_free_servers(c);
	free(c->function_prefix);
	free(c->functions);
	free(c->identifier);
	free(c->socket);
	free(c->stats_file);
	free(c);
}

struct bridge_config *
bridge_config_read(
    const char *path, const char *socket, char *errbuf, size_t errlen)
{
	struct bridge_config *c = calloc(1, sizeof(*c));
	struct cfg_ctx ctx;
	char why[512];

	if (errlen > 0)
		errbuf[0] = '\0';
	if (c == NULL)
		goto nomem;
	for (size_t i = 0; i < NKEYS; i++)
		if (!cfg_set(
			c, &cfg_keys[i], cfg_keys[i].def, why, sizeof(why)))
			goto nomem; /* only memory fails: the table is tested */

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = c;
	ctx.ini = (struct inifile){ .sections = cfg_sections,
		.n_sections = sizeof(cfg_sections) / sizeof(cfg_sections[0]),
		.keys = cfg_keys,
		.n_keys = NKEYS,
		.key_size = sizeof(cfg_keys[0]),
		.set = cfg_store,
		.arg = &ctx,
		.seen = ctx.seen,
		/* Without a file, inifile_read does not run: cfg_check's errors. */
		.err = errbuf,
		.errlen = errlen };
	if (path != NULL && inifile_read(&ctx.ini, path, errbuf, errlen) < 0)
		goto fail;
	ctx.ini.path = path ? path : "built-in defaults";
	cfg_check(&ctx);
	if (ctx.ini.failed)
		goto fail;
	if (socket != NULL) {
		free(c->socket);
		if ((c->socket = strdup(socket)) == NULL)
			goto nomem;
	}
	return c;
nomem:
	snprintf(errbuf, errlen, "out of memory");
fail:
	bridge_config_free(c);
	return NULL;
}
