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
static volatile sig_atomic_t tty_saved;

/* Interrupted at the prompt: give the terminal its echo back first. */
static void
restore_tty_cb(int sig)
{
	if (tty_saved)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * One line from the terminal, read a byte at a time with read(2) so no
 * copy of the password stays behind in a stdio buffer.  NULL at end of
 * input before any newline, or when longer than PASSWORD_MAX.
 */
static char *
read_tty_line(size_t *lenp)
{
	char *buf, ch;
	size_t len = 0;
	ssize_t n;

	if ((buf = malloc(PASSWORD_MAX + 1)) == NULL)
		return (NULL);
	for (;;) {
		n = read(STDIN_FILENO, &ch, 1);
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
 * The password: prompted without echo when standard input is a
 * terminal, else all of standard input minus one trailing newline.
 * Returned as a JSON string (NULL on failure, reported).
 */
json_t *
ctl_read_password(struct ctl *ctl)
{
	struct termios old, noecho;
	json_t *pw;
	char *buf = NULL;
	size_t len = 0, total;
	bool tty;

	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "Password: ");
		fflush(stderr);
		saved_tty = old;
		tty_saved = 1;
		signal(SIGINT, restore_tty_cb);
		signal(SIGTERM, restore_tty_cb);
		signal(SIGHUP, restore_tty_cb);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
		buf = read_tty_line(&len);
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		tty_saved = 0;
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		fputc('\n', stderr);
	} else
		buf = ctl_read_all(STDIN_FILENO, PASSWORD_MAX, &len);
	if (buf == NULL) {
		fprintf(stderr, "%s: %s: cannot read the password: %s\n",
		    ctl->prog, ctl->verb->name,
		    tty ? "end of input" : strerror(errno));
		return (NULL);
	}
	total = len;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	pw = json_stringn(buf, len);
	explicit_bzero(buf, total);
	free(buf);
	if (pw == NULL)
		fprintf(stderr, "%s: %s: the password is not valid UTF-8\n",
		    ctl->prog, ctl->verb->name);
	return (pw);
}
