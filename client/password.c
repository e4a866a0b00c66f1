/*
 * password.c - sbkctl's passwords: a no-echo prompt on the terminal, or
 * all of standard input; read with read(2) a byte at a time so no copy
 * lingers in a stdio buffer, and wiped after use.
 *
 * Thread safety: single-threaded (signal handlers restore the tty).
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

#include <jansson.h>

#include "ctl.h"

#define PASSWORD_MAX ((size_t)64 * 1024)

/* The terminal's settings while echo is off, for the signal handler. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_fd = -1;

/* Interrupted at the prompt: give the terminal its echo back first. */
static void
restore_tty_cb(int sig)
{
	if (tty_fd >= 0)
		(void)tcsetattr(tty_fd, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * One line from fd, read a byte at a time with read(2) so no copy of
 * the password stays behind in a stdio buffer.  NULL at end of input
 * before any newline, or when longer than PASSWORD_MAX.
 */
static char *
read_tty_line(int fd, size_t *lenp)
{
	char *buf, ch;
	size_t len = 0;
	ssize_t n;

	if ((buf = malloc(PASSWORD_MAX + 1)) == NULL)
		return (NULL);
	for (;;) {
		n = read(fd, &ch, 1);
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
 * The prompt: written to and read from /dev/tty (so `2>/dev/null` still
 * shows it), with echo off.  NULL on end of input.
 */
static char *
prompt(int fd, size_t *lenp)
{
	struct termios noecho;
	char *buf;

	/* Echo off before the prompt shows, so nothing typed after it is
	 * echoed or flushed. */
	if (tcgetattr(fd, &saved_tty) == 0) {
		tty_fd = fd;
		signal(SIGINT, restore_tty_cb);
		signal(SIGTERM, restore_tty_cb);
		signal(SIGHUP, restore_tty_cb);
		noecho = saved_tty;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(fd, TCSAFLUSH, &noecho);
	}
	(void)!write(fd, "Password: ", 10);
	buf = read_tty_line(fd, lenp);
	if (tty_fd >= 0) {
		(void)tcsetattr(fd, TCSANOW, &saved_tty);
		tty_fd = -1;
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
	}
	(void)!write(fd, "\n", 1);
	return (buf);
}

/*
 * The password, from the first that applies: --password-fd,
 * --password-file, a prompt on /dev/tty when standard input is a
 * terminal, else standard input.  From a descriptor, file or pipe, all
 * of it minus one trailing newline; empty is refused without
 * --allow-empty.  *pw: a JSON string; returns CTL_OK or the exit code
 * of the failure, reported.
 */
int
ctl_read_password(struct ctl *ctl, json_t **pwp)
{
	json_t *pw;
	char *buf = NULL;
	const char *from;
	size_t len = 0, total;
	int fd = -1, saved;
	bool tty = false;

	if (ctl->password_fd >= 0) {
		from = "--password-fd";
		buf = ctl_read_all(ctl->password_fd, PASSWORD_MAX, &len);
	} else if (ctl->password_file != NULL) {
		from = ctl->password_file;
		if ((fd = open(ctl->password_file, O_RDONLY | O_CLOEXEC)) !=
		    -1) {
			buf = ctl_read_all(fd, PASSWORD_MAX, &len);
			saved = errno;
			close(fd);
			errno = saved;
		}
	} else if (isatty(STDIN_FILENO) &&
	    (fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) != -1) {
		from = "/dev/tty";
		tty = true;
		buf = prompt(fd, &len);
		close(fd);
	} else {
		from = "standard input";
		buf = ctl_read_all(STDIN_FILENO, PASSWORD_MAX, &len);
	}
	if (buf == NULL) {
		return (ctl_fail(ctl, CTL_NEGATIVE,
		    "cannot read the password from %s: %s", from,
		    tty ? "end of input" : strerror(errno)));
	}
	total = len;
	if (!tty && len > 0 && buf[len - 1] == '\n')
		len--;
	if (!tty && len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 && !tty && !ctl->allow_empty) {
		free(buf);
		return (ctl_fail(ctl, CTL_USAGE,
		    "empty password from %s (--allow-empty to use it)", from));
	}
	pw = json_stringn(buf, len);
	explicit_bzero(buf, total);
	free(buf);
	if (pw == NULL)
		return (ctl_fail(
		    ctl, CTL_NEGATIVE, "the password is not valid UTF-8"));
	*pwp = pw;
	return (CTL_OK);
}
