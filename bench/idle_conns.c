/*
 * idle_conns.c - hold N idle connections to sbkd and report its memory:
 * each connection pings once (so the daemon has really set it up), then
 * all stay open while the daemon's VmRSS is read from /proc.
 *
 * usage: idle_conns SOCKET PID N
 * Prints one line: "N connections: RSS before X KiB, after Y KiB, Z B/conn".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static long
rss_kib(const char *pid)
{
	char path[64], line[256];
	FILE *f;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int
main(int argc, char **argv)
{
	static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":1,"
				   "\"method\":\"ping\"}\n";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct rlimit rl;
	long before, after;
	int n, *fds;
	char buf[256];

	if (argc != 4) {
		fprintf(stderr, "usage: idle_conns SOCKET PID N\n");
		return 2;
	}
	n = atoi(argv[3]);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	fds = calloc(n, sizeof(*fds));
	before = rss_kib(argv[2]);
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fds[i] < 0 ||
		    connect(fds[i], (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			perror("connect");
			return 1;
		}
		if (write(fds[i], ping, sizeof(ping) - 1) < 0 ||
		    read(fds[i], buf, sizeof(buf)) <= 0) {
			fprintf(stderr, "connection %d: no reply\n", i);
			return 1;
		}
	}
	usleep(200000);
	after = rss_kib(argv[2]);
	printf("%d idle connections: daemon RSS %ld KiB before, %ld KiB "
	       "after, %ld bytes per connection\n",
	    n, before, after, (after - before) * 1024 / n);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return 0;
}
