/*
 * config_values.c - the value types of sbkd's configuration that only
 * sbkd has (see config_values.h); numbers and booleans are inifile.c's,
 * shared with sbk-gearman.
 *
 * Thread safety: main thread only.
 */
#include "sbk-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config_values.h"
#include "inifile.h"
#include "log.h"

void
config_free_strv(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

/* Longest name in a CFG_WORDS list (a job kind's method). */
#define CONFIG_WORD_MAX 64

bool
config_parse_words(const char *v, char ***out, char *why, size_t whylen)
{
	static const char sep[] = " \t,";
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	char **list;
	size_t n = 0, len;

	for (const char *p = v + strspn(v, sep); *p != '\0';
	     p += len, p += strspn(p, sep)) {
		len = strcspn(p, sep);
		n++;
	}
	*out = NULL;
	if (n == 0)
		return true;
	if ((list = calloc(n + 1, sizeof(*list))) == NULL)
		return inifile_why(why, whylen, "out of memory");
	n = 0;
	for (const char *p = v + strspn(v, sep); *p != '\0';
	     p += len, p += strspn(p, sep)) {
		len = strcspn(p, sep);
		if (strspn(p, ok) < len || len > CONFIG_WORD_MAX) {
			inifile_why(why, whylen, "\"%.*s\" is not a name",
			    (int)(len > CONFIG_WORD_MAX ? CONFIG_WORD_MAX :
							  len),
			    p);
			goto fail;
		}
		for (size_t i = 0; i < n; i++)
			if (strlen(list[i]) == len &&
			    memcmp(list[i], p, len) == 0) {
				inifile_why(why, whylen,
				    "\"%s\" is listed twice", list[i]);
				goto fail;
			}
		if ((list[n++] = strndup(p, len)) == NULL) {
			inifile_why(why, whylen, "out of memory");
			goto fail;
		}
	}
	*out = list;
	return true;
fail:
	config_free_strv(list);
	return false;
}

/* Close and free a root fd list (parallel to names). */
void
config_close_fds(char **names, int *fds)
{
	if (fds == NULL)
		return;
	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

/*
 * Colon-separated absolute directories, each made canonical and opened
 * as an O_PATH directory fd.  Symlinks in a root's own path are resolved
 * here, once, at load (realpath); the open then refuses a symlink put in
 * the last component meanwhile.  From then on the fd is the root: a root
 * renamed or replaced while sbkd runs is still served from the directory
 * opened here, until a reload opens the roots again.
 */
bool
config_parse_paths(
    const char *v, char ***out, int **fdsp, char *why, size_t whylen)
{
	char **list;
	int *fds;
	const char *p, *colon;
	size_t n = 1, i = 0, len;
	char path[PATH_MAX], *real;

	for (p = v; *p != '\0'; p++)
		if (*p == ':')
			n++;
	list = calloc(n + 1, sizeof(*list));
	fds = malloc((n + 1) * sizeof(*fds));
	if (list == NULL || fds == NULL) {
		free(list);
		free(fds);
		inifile_why(why, whylen, "out of memory");
		return false;
	}
	for (i = 0; i <= n; i++)
		fds[i] = -1;
	i = 0;
	for (p = v; *v != '\0'; p = colon + 1) {
		colon = strchr(p, ':');
		if (colon == NULL)
			colon = p + strlen(p);
		len = (size_t)(colon - p);
		if (len == 0) {
			inifile_why(why, whylen, "empty directory in the list");
			goto fail;
		}
		if (len >= sizeof(path)) {
			inifile_why(
			    why, whylen, "a directory name is too long");
			goto fail;
		}
		memcpy(path, p, len);
		path[len] = '\0';
		if (path[0] != '/') {
			inifile_why(why, whylen,
			    "\"%s\" is not an absolute path", path);
			goto fail;
		}
		if ((real = realpath(path, NULL)) == NULL) {
			log_format_errno(why, whylen, errno, "%s", path);
			goto fail;
		}
		list[i] = real;
		fds[i] =
		    open(real, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		i++;
		if (fds[i - 1] == -1) {
			if (errno == ENOTDIR || errno == ELOOP)
				inifile_why(
				    why, whylen, "%s: not a directory", path);
			else
				log_format_errno(
				    why, whylen, errno, "%s", path);
			goto fail;
		}
		if (*colon == '\0')
			break;
	}
	*out = list;
	*fdsp = fds;
	return true;
fail:
	config_close_fds(list, fds);
	config_free_strv(list);
	return false;
}

/* Comma-separated ids, spaces allowed around each. */
bool
config_parse_ids(
    const char *v, unsigned **out, size_t *count, char *why, size_t whylen)
{
	unsigned *ids;
	const char *p;
	char *end;
	size_t n = 1, i = 0;
	unsigned long id;

	*out = NULL;
	*count = 0;
	if (*v == '\0')
		return true;
	for (p = v; *p != '\0'; p++)
		if (*p == ',')
			n++;
	if ((ids = calloc(n, sizeof(*ids))) == NULL)
		return inifile_why(why, whylen, "out of memory");
	for (p = v;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9') {
			inifile_why(why, whylen,
			    *p == ',' || *p == '\0' ? "empty id in the list" :
						      "\"%s\" is not an id",
			    p);
			goto fail;
		}
		errno = 0;
		id = strtoul(p, &end, 10);
		/* (uid_t)-1 means "no id" to the kernel. */
		if (errno == ERANGE || id >= UINT32_MAX) {
			inifile_why(
			    why, whylen, "id out of range at \"%s\"", p);
			goto fail;
		}
		ids[i++] = (unsigned)id;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p != ',') {
			inifile_why(why, whylen, "trailing garbage \"%s\"", p);
			goto fail;
		}
		p++;
	}
	*out = ids;
	*count = i;
	return true;
fail:
	free(ids);
	return false;
}

/* A DNS name: labels of letters, digits and '-', 1-63 bytes each. */
static bool
config_host_name_ok(const char *h, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = h[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '-') ||
		    ++label > 63)
			return false;
	}
	return label > 0;
}

/*
 * "ADDR:PORT" as metrics.c binds it: ADDR is an IPv4 address, a host
 * name, or an IPv6 address in brackets.  Checked here so that `sbkd -t`
 * refuses what would fail at start; a name is not resolved.
 */
bool
config_check_listen(const char *v, char *why, size_t whylen)
{
	const char *colon = strrchr(v, ':');
	char *end, host[256];
	unsigned long port;
	size_t hlen;
	unsigned char addr[16];

	if (colon == NULL || colon == v)
		return inifile_why(why, whylen, "\"%s\" is not ADDR:PORT", v);
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    port == 0 || port > 65535)
		return inifile_why(why, whylen, "\"%s\" has no valid port", v);
	hlen = (size_t)(colon - v);
	if (v[0] == '[') {
		if (colon[-1] != ']')
			return inifile_why(
			    why, whylen, "\"%s\": no ']' before the port", v);
		hlen -= 2;
		if (hlen >= sizeof(host))
			return inifile_why(
			    why, whylen, "the address is too long");
		memcpy(host, v + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			return inifile_why(
			    why, whylen, "\"%s\" is not an IPv6 address", host);
		return true;
	}
	if (memchr(v, ':', hlen) != NULL)
		return inifile_why(why, whylen,
		    "write an IPv6 address in brackets: [ADDR]:PORT");
	if (hlen >= sizeof(host))
		return inifile_why(why, whylen, "the host name is too long");
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	if (strspn(host, "0123456789.") == hlen) {
		if (inet_pton(AF_INET, host, addr) != 1)
			return inifile_why(
			    why, whylen, "\"%s\" is not an IPv4 address", host);
		return true;
	}
	if (!config_host_name_ok(host, hlen))
		return inifile_why(
		    why, whylen, "\"%s\" is not a host name", host);
	return true;
}
