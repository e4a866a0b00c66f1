/*
 * fuzz_config.c - libFuzzer target for the configuration parser: the
 * input is written to a scratch file and read with config_init,
 * config_load and config_finish, then freed; a refused file must come
 * with a message.  The scratch file lives in $TMPDIR (or /tmp) and is
 * removed at exit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char fz_path[4096];

static void
fz_cleanup(void)
{
	if (fz_path[0] != '\0')
		unlink(fz_path);
}

static const char *
fz_scratch(void)
{
	const char *tmp;
	int fd;

	if (fz_path[0] != '\0')
		return fz_path;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(fz_path, sizeof(fz_path), "%s/fuzz_config.XXXXXX", tmp);
	if ((fd = mkstemp(fz_path)) == -1)
		abort();
	close(fd);
	atexit(fz_cleanup);
	return fz_path;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbk_config cfg;
	const char *path = fz_scratch();
	char errbuf[512];
	FILE *f;

	if ((f = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	if (config_init(&cfg) != 0)
		abort();
	if (config_load(&cfg, path, errbuf, sizeof(errbuf)) == 0)
		config_finish(&cfg);
	else if (errbuf[0] == '\0' ||
	    memchr(errbuf, '\0', sizeof(errbuf)) == NULL)
		abort();
	config_free(&cfg);
	return 0;
}
