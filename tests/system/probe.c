/*
 * probe - what a process may do, printed one finding per line, for the
 * system test (tests/system/run.sh).  Run inside sbkd.service's sandbox
 * (an ExecStartPre= drop-in) and, as a control, outside it as the same
 * user: each call the unit forbids must fail inside and work outside, so
 * the test cannot pass with a probe that fails everywhere.
 *
 *   probe calls        one line per call: "NAME ok" or "NAME ERRNO-NAME"
 *   probe writable     "writable DIR" for every directory under / (not
 *                      /proc, /sys) where a file can be created
 *   probe udp          "udp ok" when a datagram to 127.0.0.1 comes back,
 *                      else "udp ERRNO-NAME" (IPAddressDeny=)
 *
 * Standard output is the report; the exit status is 0 unless the probe
 * itself could not run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void
report(const char *name, int rc)
{
	if (rc == 0)
		printf("%s ok\n", name);
	else
		printf("%s %s\n", name,
		    strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
}

/* Runs fn in a child, so that a call that changes the process (ptrace,
 * unshare, personality) leaves the probe as it was. */
static void
in_child(const char *name, int (*fn)(void))
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		report(name, -1);
		return;
	}
	if (pid == 0) {
		int rc = fn();
		report(name, rc);
		fflush(stdout);
		_exit(0);
	}
	(void)waitpid(pid, &status, 0);
}

static int
do_inet(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	return fd < 0 ? -1 : 0;
}

static int
do_netlink(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW, 0);
	return fd < 0 ? -1 : 0;
}

static int
do_wx(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? -1 : 0;
}

static int
do_personality(void)
{
	return personality(PER_LINUX32) < 0 ? -1 : 0;
}

static int
do_userns(void)
{
	return unshare(CLONE_NEWUSER);
}

static int
do_ptrace(void)
{
	return ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0 ? -1 : 0;
}

/* The set-uid bit on a file of one's own: RestrictSUIDSGID=. */
static int
do_setuid_file(void)
{
	char path[] = "/run/sbkd/probe-suid-XXXXXX";
	int fd = mkstemp(path);
	int rc;

	if (fd < 0) {
		/* Outside the sandbox /run/sbkd may not be writable. */
		char alt[] = "/tmp/probe-suid-XXXXXX";
		fd = mkstemp(alt);
		if (fd < 0)
			return -1;
		rc = fchmod(fd, 04755);
		(void)unlink(alt);
		return rc;
	}
	rc = fchmod(fd, 04755);
	(void)unlink(path);
	return rc;
}

static int
calls(void)
{
	in_child("socket-inet", do_inet);
	in_child("socket-netlink", do_netlink);
	in_child("mmap-wx", do_wx);
	in_child("personality", do_personality);
	in_child("unshare-userns", do_userns);
	in_child("ptrace", do_ptrace);
	in_child("chmod-setuid", do_setuid_file);
	return 0;
}

/* Can a file be created in dir?  Tried for real rather than asked with
 * access(2): the finding is what the sandbox lets through. */
static int
can_create(const char *dir)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/.sbk-probe-%ld", dir,
		(long)getpid()) >= (int)sizeof(path))
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	(void)close(fd);
	(void)unlink(path);
	return 1;
}

static void
walk(const char *dir, int depth)
{
	DIR *d;
	struct dirent *e;
	char sub[4096];
	struct stat st;

	if (can_create(dir))
		printf("writable %s\n", dir);
	if (depth > 12)
		return;
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s",
			strcmp(dir, "/") == 0 ? "" : dir,
			e->d_name) >= (int)sizeof(sub))
			continue;
		if (strcmp(sub, "/proc") == 0 || strcmp(sub, "/sys") == 0)
			continue;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			walk(sub, depth + 1);
	}
	(void)closedir(d);
}

static int
udp(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	struct pollfd p;
	char buf[8];
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		report("udp", -1);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
	    sendto(fd, "sbk", 3, 0, (struct sockaddr *)&a, sizeof(a)) < 0) {
		report("udp", -1);
		return 0;
	}
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, 2000) != 1) {
		errno = ETIMEDOUT;
		report("udp", -1);
		return 0;
	}
	report("udp", recv(fd, buf, sizeof(buf), 0) == 3 ? 0 : -1);
	return 0;
}

int
main(int argc, char **argv)
{
	int rc = 2;

	if (argc == 2 && strcmp(argv[1], "calls") == 0)
		rc = calls();
	else if (argc == 2 && strcmp(argv[1], "writable") == 0) {
		walk("/", 0);
		rc = 0;
	} else if (argc == 2 && strcmp(argv[1], "udp") == 0)
		rc = udp();
	else
		fprintf(stderr, "usage: probe calls|writable|udp\n");
	fflush(stdout);
	return rc;
}
