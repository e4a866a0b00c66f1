/*
 * harness.c - spawn a real sbkd on a temporary socket and talk to it over
 * raw UNIX sockets, for the daemon integration suites.  See harness.h.
 *
 * Every wait is bounded by a generous hang guard (HX_TIMEOUT_MS); none of
 * them measures the daemon's speed.  All functions run in the test's own
 * process (Check fork mode), except hx_run_begin/hx_run_end, which run in
 * the suite's main process.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "harness.h"

#define HX_PREFIX "sbkd-test"

/* The name of this run (the suite main's pid); inherited by its forks. */
static pid_t hx_run_id;

static const char *
hx_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	if (t == NULL || *t == '\0' || strlen(t) > 100)
		t = "/tmp";
	return (t);
}

long long
hx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
hx_msleep(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * No Check macros here: hx_run_end calls this in the runner process,
 * where even a passing ck_assert (a mark point) is an error.
 */
static char *
hx_read_file(const char *path)
{
	FILE *f;
	char *buf;
	size_t len = 0, cap = 4096, n;

	if ((buf = malloc(cap)) == NULL)
		abort();
	buf[0] = '\0';
	if ((f = fopen(path, "r")) == NULL)
		return (buf);
	for (;;) {
		if (cap - len < 2048) {
			cap *= 2;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	fclose(f);
	return (buf);
}

char *
hx_daemon_log(struct hx_daemon *d)
{
	return (hx_read_file(d->log));
}

static void
hx_print_log(const char *dir, const char *log)
{
	char *text;

	text = hx_read_file(log);
	fprintf(stderr,
	    "---- sbkd log (%s) ----\n%s%s---- end of sbkd log ----\n", dir,
	    text,
	    (*text != '\0' && text[strlen(text) - 1] != '\n') ? "\n" : "");
	free(text);
}

void
hx_daemon_dump_log(struct hx_daemon *d)
{
	hx_print_log(d->dir, d->log);
}

/* Remove a directory and the plain files or sockets in it. */
static void
hx_rmdir(const char *dir)
{
	DIR *dp;
	struct dirent *de;
	char path[PATH_MAX];

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == -1 && errno == EISDIR)
			hx_rmdir(path);
	}
	closedir(dp);
	rmdir(dir);
}

void
hx_run_begin(void)
{
	hx_run_id = getpid();
}

void
hx_run_end(void)
{
	DIR *dp;
	struct dirent *de;
	char prefix[64], dir[PATH_MAX], log[PATH_MAX + 16];
	size_t plen;

	if (hx_run_id == 0)
		return;
	snprintf(prefix, sizeof(prefix), HX_PREFIX ".%ld.", (long)hx_run_id);
	plen = strlen(prefix);
	if ((dp = opendir(hx_tmpdir())) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", hx_tmpdir(), de->d_name);
		snprintf(log, sizeof(log), "%s/sbkd.log", dir);
		fprintf(stderr, "a test left %s behind (it failed)\n", dir);
		hx_print_log(dir, log);
		hx_rmdir(dir);
	}
	closedir(dp);
}

void
hx_daemon_init(struct hx_daemon *d, const char *conf_text)
{
	FILE *f;

	memset(d, 0, sizeof(*d));
	if (hx_run_id == 0)
		hx_run_id = getppid();
	snprintf(d->dir, sizeof(d->dir), "%s/" HX_PREFIX ".%ld.XXXXXX",
	    hx_tmpdir(), (long)hx_run_id);
	ck_assert_msg(
	    mkdtemp(d->dir) != NULL, "mkdtemp %s: %s", d->dir, strerror(errno));
	snprintf(d->conf, sizeof(d->conf), "%s/sbkd.conf", d->dir);
	snprintf(d->sock, sizeof(d->sock), "%s/sbkd.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/sbkd.log", d->dir);
	f = fopen(d->conf, "w");
	ck_assert_msg(f != NULL, "%s: %s", d->conf, strerror(errno));
	if (conf_text != NULL)
		fputs(conf_text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static const char *
hx_sbkd_path(void)
{
	const char *p = getenv("SBKD");

	ck_assert_msg(p != NULL && *p != '\0',
	    "SBKD is not set (run the suites with meson test)");
	return (p);
}

pid_t
hx_spawn(struct hx_daemon *d, const char *const *args)
{
	const char *argv[32];
	const char *path = hx_sbkd_path();
	size_t n = 0;
	pid_t pid, parent = getpid();
	int fd;

	argv[n++] = path;
	while (args != NULL && *args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;

	pid = fork();
	ck_assert_msg(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Die with the test process, whatever ends it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		fd = open(
		    d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd == -1)
			_exit(127);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd != -1)
			dup2(fd, STDIN_FILENO);
		signal(SIGPIPE, SIG_DFL);
		if (d->nofile > 0) {
			struct rlimit rl;

			rl.rlim_cur = rl.rlim_max = (rlim_t)d->nofile;
			if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
				_exit(127);
		}
		/*
		 * Only 0-2, as a shell or a service manager starts it: a
		 * descriptor inherited from Check once hid that sbkd could
		 * not start helpers with fd 3 free.
		 */
		if (d->keep_fd > 2) {
			close_range(3, (unsigned)d->keep_fd - 1, 0);
			close_range((unsigned)d->keep_fd + 1, ~0U, 0);
		} else {
			closefrom(3);
		}
		execv(path, (char *const *)argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	d->pid = pid;
	d->reaped = false;
	return (pid);
}

bool
hx_daemon_alive(struct hx_daemon *d)
{
	pid_t r;
	int st;

	if (d->pid <= 0 || d->reaped)
		return (false);
	r = waitpid(d->pid, &st, WNOHANG);
	if (r == d->pid) {
		d->status = st;
		d->reaped = true;
		return (false);
	}
	return (true);
}

static int
hx_try_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

int
hx_slow(void)
{
	static int slow;
	const char *v;

	if (slow == 0) {
		v = getenv("SBK_TEST_SLOW");
		slow = v != NULL ? atoi(v) : 1;
		if (slow < 1)
			slow = 1;
		if (slow > 20)
			slow = 20;
	}
	return slow;
}

bool
hx_under_valgrind(void)
{
	return getenv("SBK_UNDER_VALGRIND") != NULL;
}

/*
 * SBK_TEST_ISOLATE="zstd.compress zstd.decompress" (meson's *_isolated
 * runs): those kinds run in sandboxed helpers, unless the test's own
 * configuration has an [isolation] section.  An empty value isolates
 * nothing, so the in-process path is tested too.
 */
static void
hx_isolate_conf(struct hx_daemon *d)
{
	const char *kinds = getenv("SBK_TEST_ISOLATE");
	char line[512];
	bool has = false;
	FILE *f;

	if (kinds == NULL)
		return;
	ck_assert_ptr_nonnull(f = fopen(d->conf, "a+"));
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "[isolation]", 11) == 0)
			has = true;
	if (!has)
		fprintf(f, "\n[isolation]\nkinds = %s\n", kinds);
	ck_assert_int_eq(fclose(f), 0);
}

void
hx_daemon_start(struct hx_daemon *d)
{
	const char *args[] = { "-c", d->conf, "-s", d->sock, NULL };
	long long end;
	int fd;

	hx_isolate_conf(d);
	hx_spawn(d, args);
	end = hx_now_ms() + HX_TIMEOUT_MS;
	for (;;) {
		if ((fd = hx_try_connect(d->sock)) != -1) {
			close(fd);
			return;
		}
		if (!hx_daemon_alive(d)) {
			hx_daemon_dump_log(d);
			ck_abort_msg("sbkd exited before listening (status "
				     "0x%x)",
			    d->status);
		}
		if (hx_now_ms() > end) {
			hx_daemon_dump_log(d);
			ck_abort_msg("sbkd did not accept on %s within %d ms",
			    d->sock, HX_TIMEOUT_MS);
		}
		hx_msleep(10);
	}
}

void
hx_daemon_up(struct hx_daemon *d, const char *conf_text)
{
	hx_daemon_init(d, conf_text);
	hx_daemon_start(d);
}

int
hx_wait_exit(struct hx_daemon *d, int timeout_ms)
{
	long long end = hx_now_ms() + timeout_ms;

	ck_assert_msg(d->pid > 0, "no daemon to wait for");
	while (hx_daemon_alive(d)) {
		if (hx_now_ms() > end) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &d->status, 0);
			d->reaped = true;
			hx_daemon_dump_log(d);
			ck_abort_msg(
			    "sbkd did not exit within %d ms", timeout_ms);
		}
		hx_msleep(5);
	}
	return (d->status);
}

int
hx_daemon_stop(struct hx_daemon *d)
{
	if (!hx_daemon_alive(d))
		return (d->status);
	kill(d->pid, SIGTERM);
	return (hx_wait_exit(d, HX_TIMEOUT_MS * 3));
}

void
hx_daemon_kill(struct hx_daemon *d)
{
	if (!hx_daemon_alive(d))
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &d->status, 0);
	d->reaped = true;
}

void
hx_daemon_free(struct hx_daemon *d)
{
	if (d->dir[0] == '\0')
		return;
	hx_daemon_kill(d);
	hx_rmdir(d->dir);
	d->dir[0] = '\0';
}

long
hx_rss_kib(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	ck_assert_msg(kib >= 0, "no VmRSS in %s", path);
	return (kib);
}

/* Entries of /proc/PID/<dir> but "." and "..". */
static int
count_proc_entries(pid_t pid, const char *dir)
{
	char path[64];
	DIR *dp;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, dir);
	dp = opendir(path);
	ck_assert_msg(dp != NULL, "%s: %s", path, strerror(errno));
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dp);
	return (n);
}

int
hx_count_fds(pid_t pid)
{
	return (count_proc_entries(pid, "fd"));
}

int
hx_count_threads(pid_t pid)
{
	return (count_proc_entries(pid, "task"));
}

long
hx_status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return (v);
}

long long
hx_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: state is 3. */
	p = strrchr(buf, ')');
	ck_assert_msg(p != NULL, "bad %s", path);
	ck_assert_msg(sscanf(p + 2,
			  "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			  "%*u %llu %llu",
			  &ut, &st) == 2,
	    "bad %s", path);
	return ((long long)(ut + st) * 1000 / sysconf(_SC_CLK_TCK));
}

/* --- client side --- */

struct hx_conn *
hx_connect_path(const char *path)
{
	struct hx_conn *c;
	int fd, fl;

	if ((fd = hx_try_connect(path)) == -1)
		return (NULL);
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->fd = fd;
	return (c);
}

struct hx_conn *
hx_connect(struct hx_daemon *d)
{
	struct hx_conn *c;

	c = hx_connect_path(d->sock);
	ck_assert_msg(c != NULL, "connect %s: %s", d->sock, strerror(errno));
	return (c);
}

void
hx_close(struct hx_conn *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	free(c->buf);
	free(c);
}

void
hx_shutdown_wr(struct hx_conn *c)
{
	ck_assert_msg(
	    shutdown(c->fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
}

size_t
hx_send_some(struct hx_conn *c, const void *buf, size_t len, int stall_ms)
{
	const char *p = buf;
	size_t off = 0;
	struct pollfd pfd;
	ssize_t n;

	while (off < len) {
		n = send(c->fd, p + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			break;
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, stall_ms) <= 0)
			break;
	}
	return (off);
}

void
hx_send(struct hx_conn *c, const void *buf, size_t len)
{
	size_t n;

	n = hx_send_some(c, buf, len, HX_TIMEOUT_MS);
	ck_assert_msg(n == len, "send: wrote %zu of %zu bytes (%s)", n, len,
	    strerror(errno));
}

void
hx_send_str(struct hx_conn *c, const char *s)
{
	hx_send(c, s, strlen(s));
}

void
hx_send_line(struct hx_conn *c, const char *s)
{
	size_t len = strlen(s);
	char *buf;

	buf = malloc(len + 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, s, len);
	buf[len] = '\n';
	hx_send(c, buf, len + 1);
	free(buf);
}

static char *__attribute__((format(printf, 1, 0)))
hx_vasprintf(const char *fmt, va_list ap)
{
	char *s;

	ck_assert_msg(vasprintf(&s, fmt, ap) != -1, "vasprintf");
	return (s);
}

void
hx_sendf(struct hx_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = hx_vasprintf(fmt, ap);
	va_end(ap);
	hx_send_line(c, s);
	free(s);
}

/* Take one line out of the buffer, if there is a whole one. */
static char *
hx_take_line(struct hx_conn *c)
{
	char *nl, *line;
	size_t n;

	if (c->len == 0)
		return (NULL);
	if ((nl = memchr(c->buf, '\n', c->len)) == NULL)
		return (NULL);
	n = (size_t)(nl - c->buf);
	line = malloc(n + 1);
	ck_assert_ptr_nonnull(line);
	memcpy(line, c->buf, n);
	line[n] = '\0';
	memmove(c->buf, nl + 1, c->len - n - 1);
	c->len -= n + 1;
	return (line);
}

/* Read what is there, waiting up to ms; false on timeout or EOF. */
static bool
hx_fill(struct hx_conn *c, int ms)
{
	struct pollfd pfd;
	ssize_t n;
	int r;

	if (c->eof)
		return (false);
	if (c->cap - c->len < 65536) {
		c->cap = c->cap == 0 ? 131072 : c->cap * 2;
		c->buf = realloc(c->buf, c->cap);
		ck_assert_ptr_nonnull(c->buf);
	}
	pfd.fd = c->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	r = poll(&pfd, 1, ms < 0 ? 0 : ms);
	if (r <= 0)
		return (false);
	n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (n > 0) {
		c->len += (size_t)n;
		return (true);
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return (true);
	/* 0 or an error (ECONNRESET): the daemon closed. */
	c->eof = true;
	return (false);
}

char *
hx_read_line_timeout(struct hx_conn *c, int timeout_ms)
{
	long long end = hx_now_ms() + timeout_ms;
	char *line;

	for (;;) {
		if ((line = hx_take_line(c)) != NULL)
			return (line);
		if (c->eof)
			return (NULL);
		if (!hx_fill(c, (int)(end - hx_now_ms())) &&
		    (c->eof || hx_now_ms() >= end))
			return (NULL);
	}
}

char *
hx_read_line(struct hx_conn *c)
{
	char *line;

	line = hx_read_line_timeout(c, HX_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no reply line: %s",
	    c->eof ? "the daemon closed the connection" :
		     "timed out after 10 s");
	return (line);
}

json_t *
hx_read_json(struct hx_conn *c)
{
	json_error_t jerr;
	json_t *v;
	char *line;

	line = hx_read_line(c);
	v = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	ck_assert_msg(v != NULL, "reply is not JSON (%s): %s", jerr.text, line);
	free(line);
	return (v);
}

bool
hx_quiet_for(struct hx_conn *c, int ms)
{
	long long end = hx_now_ms() + ms;

	if (c->len > 0)
		return (false);
	while (hx_now_ms() < end) {
		if (hx_fill(c, (int)(end - hx_now_ms())) && c->len > 0)
			return (false);
		if (c->eof)
			return (true);
	}
	return (c->len == 0);
}

bool
hx_wait_eof(struct hx_conn *c)
{
	long long end = hx_now_ms() + HX_TIMEOUT_MS;

	while (!c->eof && hx_now_ms() < end) {
		hx_fill(c, (int)(end - hx_now_ms()));
		/* Discard whatever else arrives. */
		c->len = 0;
	}
	return (c->eof);
}

json_t *
hx_call(struct hx_conn *c, const char *line)
{
	hx_send_line(c, line);
	return (hx_read_json(c));
}

json_t *
hx_callf(struct hx_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	json_t *r;

	va_start(ap, fmt);
	s = hx_vasprintf(fmt, ap);
	va_end(ap);
	r = hx_call(c, s);
	free(s);
	return (r);
}

/* --- reply checks --- */

char *
hx_dump(const json_t *v)
{
	char *s;

	if (v == NULL)
		return (strdup("(absent)"));
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	ck_assert_ptr_nonnull(s);
	return (s);
}

char *
hx_reply_id(const json_t *reply)
{
	const json_t *id = json_object_get(reply, "id");

	if (id == NULL)
		return (strdup("null"));
	return (hx_dump(id));
}

static void
hx_check_id(json_t *reply, const char *id_json)
{
	json_error_t jerr;
	json_t *want, *got;
	char *text;

	want = json_loads(id_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	ck_assert_msg(want != NULL, "bad id in the test: %s", id_json);
	got = json_object_get(reply, "id");
	text = hx_dump(reply);
	ck_assert_msg(got != NULL, "reply without \"id\": %s", text);
	ck_assert_msg(
	    json_equal(want, got) || (json_is_null(want) && json_is_null(got)),
	    "reply id is not %s: %s", id_json, text);
	/* Integers must stay integers (1 is not 1.0). */
	ck_assert_msg(json_typeof(want) == json_typeof(got),
	    "reply id type differs from %s: %s", id_json, text);
	free(text);
	json_decref(want);
}

static void
hx_check_envelope(json_t *reply)
{
	char *text = hx_dump(reply);

	ck_assert_msg(
	    json_is_object(reply), "reply is not an object: %s", text);
	ck_assert_msg(json_is_string(json_object_get(reply, "jsonrpc")) &&
		strcmp(json_string_value(json_object_get(reply, "jsonrpc")),
		    "2.0") == 0,
	    "reply without \"jsonrpc\":\"2.0\": %s", text);
	free(text);
}

json_t *
hx_expect_result(json_t *reply, const char *id_json)
{
	json_t *result;
	char *text;

	hx_check_envelope(reply);
	text = hx_dump(reply);
	result = json_object_get(reply, "result");
	ck_assert_msg(result != NULL, "expected a result for id %s, got %s",
	    id_json, text);
	ck_assert_msg(json_object_get(reply, "error") == NULL,
	    "reply has both result and error: %s", text);
	free(text);
	hx_check_id(reply, id_json);
	return (result);
}

json_t *
hx_expect_error(json_t *reply, const char *id_json, int code)
{
	json_t *error, *jc;
	char *text;

	hx_check_envelope(reply);
	text = hx_dump(reply);
	error = json_object_get(reply, "error");
	ck_assert_msg(error != NULL && json_is_object(error),
	    "expected error %d for id %s, got %s", code, id_json, text);
	ck_assert_msg(json_object_get(reply, "result") == NULL,
	    "reply has both result and error: %s", text);
	jc = json_object_get(error, "code");
	ck_assert_msg(json_is_integer(jc) && json_integer_value(jc) == code,
	    "expected error %d for id %s, got %s", code, id_json, text);
	ck_assert_msg(json_is_string(json_object_get(error, "message")),
	    "error without a string \"message\": %s", text);
	free(text);
	hx_check_id(reply, id_json);
	return (error);
}

json_t *
hx_expect_param_error(json_t *reply, const char *id_json, const char *param)
{
	json_t *error;
	const char *got;
	char *text;

	error = hx_expect_error(reply, id_json, -32602);
	got = json_string_value(
	    json_object_get(json_object_get(error, "data"), "param"));
	text = hx_dump(reply);
	ck_assert_msg(got != NULL && strcmp(got, param) == 0,
	    "expected data.param \"%s\": %s", param, text);
	free(text);
	return (error);
}

json_t *
hx_get_path(const json_t *obj, const char *path)
{
	char key[128];
	const char *p = path, *dot;
	size_t n;
	json_t *v = (json_t *)obj;

	while (v != NULL && *p != '\0') {
		dot = strchr(p, '.');
		n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return (NULL);
		memcpy(key, p, n);
		key[n] = '\0';
		v = json_object_get(v, key);
		p += n;
		if (*p == '.')
			p++;
	}
	return (v);
}

long long
hx_int_at(const json_t *obj, const char *path)
{
	json_t *v = hx_get_path(obj, path);
	char *text;

	if (!json_is_integer(v)) {
		text = hx_dump(obj);
		ck_abort_msg("no integer at %s in %s", path, text);
	}
	return (json_integer_value(v));
}

json_t *
hx_stats_on(struct hx_conn *c)
{
	json_t *reply, *result;

	reply = hx_call(c,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"stats\","
	    "\"method\":\"stats\"}");
	result = hx_expect_result(reply, "\"stats\"");
	json_incref(result);
	json_decref(reply);
	return (result);
}

json_t *
hx_stats(struct hx_daemon *d)
{
	struct hx_conn *c;
	json_t *result;

	c = hx_connect(d);
	result = hx_stats_on(c);
	hx_close(c);
	return (result);
}

static json_t *
hx_wait_stat_cmp(struct hx_conn *c, const char *path, long long want, bool ge)
{
	long long end = hx_now_ms() + HX_TIMEOUT_MS, v;
	json_t *st;
	char *text;

	for (;;) {
		st = hx_stats_on(c);
		v = hx_int_at(st, path);
		if (v == want || (ge && v > want))
			return (st);
		if (hx_now_ms() > end) {
			text = hx_dump(st);
			ck_abort_msg("stats %s stayed %lld, not %s%lld: %s",
			    path, v, ge ? ">= " : "", want, text);
		}
		json_decref(st);
		hx_msleep(5);
	}
}

json_t *
hx_wait_stat(struct hx_conn *c, const char *path, long long want)
{
	return (hx_wait_stat_cmp(c, path, want, false));
}

json_t *
hx_wait_stat_ge(struct hx_conn *c, const char *path, long long want)
{
	return (hx_wait_stat_cmp(c, path, want, true));
}

json_t *
hx_by_id(json_t **r, size_t n, const char *id_json)
{
	size_t i;
	char *id;

	for (i = 0; i < n; i++) {
		id = hx_reply_id(r[i]);
		if (strcmp(id, id_json) == 0) {
			free(id);
			return (r[i]);
		}
		free(id);
	}
	ck_abort_msg("no reply with id %s", id_json);
	return (NULL);
}

int
hx_run_suite(Suite *suite)
{
	SRunner *sr;
	int failed;

	hx_run_begin();
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	hx_run_end();
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
