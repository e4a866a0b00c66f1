/*
 * listener.c - see listener.h.
 *
 * Running out of descriptors: a level-triggered listener whose accept()
 * fails with EMFILE would wake the loop forever.  A spare descriptor is
 * kept open; on EMFILE it is closed, the pending connection accepted and
 * closed at once, and the spare reopened.  The client sees its
 * connection closed; the loop stays idle.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "rpc.h"
#include "stats.h"

/* Connections taken per wakeup, so a storm cannot starve other work. */
#define ACCEPT_BURST 64

struct listener {
	const struct sbk_config *const *cfg;
	struct stats *stats;
	struct conn_set *conns;
	int fd;
	int spare_fd;
	bool activated; /* systemd owns the socket file */
	char *path;
	struct event *ev;
	struct event *pause_ev; /* re-arms ev after a pause */
};

static int
make_parent_dir(const char *path)
{
	char *copy = strdup(path), *dir;
	int rc = 0;

	if (copy == NULL)
		return -1;
	dir = dirname(copy);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		rc = -1;
	free(copy);
	return rc;
}

/*
 * A socket file left behind may belong to a live sbkd (leave it, fail) or
 * to a dead one (replace it).  Connecting tells which.
 */
static int
clear_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		log_err(
		    "%s exists and is not a socket; not replacing it", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0) {
		log_err("%s: another sbkd is listening there; not taking "
			"it over",
		    path);
		return -1;
	}
	if (errno != ECONNREFUSED && errno != ENOENT) {
		log_errno("%s: cannot tell whether it is in use", path);
		return -1;
	}
	log_info("%s: replacing a stale socket file", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

static int
create_socket(const char *path, mode_t mode)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	if (path == NULL || *path == '\0') {
		log_err("no socket path configured");
		return -1;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("%s: socket path too long (at most %zu bytes)", path,
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (make_parent_dir(path) < 0) {
		log_errno("%s: cannot create its directory", path);
		return -1;
	}
	if (clear_stale(path, &sun) < 0)
		return -1;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_errno("socket");
		return -1;
	}
	/* No window in which the socket has looser permissions than asked. */
	old = umask(~mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0) {
		log_errno("%s: bind", path);
		close(fd);
		return -1;
	}
	if (chmod(path, mode) < 0 || listen(fd, SOMAXCONN) < 0) {
		log_errno("%s", path);
		unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

/* One -32000/-32003 line to a refused client, then close.  The socket is
 * new and its buffer empty, so a non-blocking write takes the whole line. */
static void
refuse(int fd, uid_t uid, int code, json_t *data, const char *msg)
{
	struct rpc_error err = { 0 };
	size_t len;
	char *line;

	rpc_error_set(&err, code, data, "%s", msg);
	line = rpc_format_error("null", &err, &len);
	rpc_error_clear(&err);
	if (line != NULL && send(fd, line, len, MSG_NOSIGNAL) < 0)
		log_peer_errno(
		    LOG_KIND_REFUSED, (long)uid, LOG_DEBUG, "refused client");
	free(line);
	close(fd);
}

static bool
id_allowed(const uid_t *list, size_t n, unsigned id)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == id)
			return true;
	return false;
}

static bool
peer_allowed(const struct sbk_config *cfg, uid_t uid, gid_t gid)
{
	if (cfg->n_allow_uids == 0 && cfg->n_allow_gids == 0)
		return true;
	return id_allowed(cfg->allow_uids, cfg->n_allow_uids, uid) ||
	    id_allowed((const uid_t *)cfg->allow_gids, cfg->n_allow_gids, gid);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	if (l->spare_fd < 0)
		l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	event_add(l->ev, NULL);
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	static const struct timeval pause_tv = { .tv_usec = 100000 };
	struct listener *l = arg;
	const struct sbk_config *cfg = *l->cfg;

	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct ucred cred = { .pid = 0, .uid = -1, .gid = -1 };
		socklen_t len = sizeof(cred);
		int fd;

		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Once per client refused: limited. */
				log_peer_errno(LOG_KIND_ACCEPT, LOG_PEER_ANY,
				    LOG_WARNING, "accept: refusing a client");
				/* No spare to shed one with: pause rather
				 * than spin on a listener that stays
				 * readable. */
				if (l->spare_fd < 0) {
					event_del(l->ev);
					event_add(l->pause_ev, &pause_tv);
					return;
				}
				close(l->spare_fd);
				fd = accept(lfd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				l->spare_fd =
				    open("/dev/null", O_RDONLY | O_CLOEXEC);
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			break;
		}
		l->stats->connections_total++;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			log_warn("SO_PEERCRED");
		if (!peer_allowed(cfg, cred.uid, cred.gid)) {
			log_peer(LOG_KIND_REFUSED, (long)cred.uid, LOG_INFO,
			    "refused pid %ld uid %ld gid %ld: not in [access]",
			    (long)cred.pid, (long)cred.uid, (long)cred.gid);
			refuse(fd, cred.uid, RPC_PERMISSION, NULL,
			    "permission denied: peer not allowed");
			continue;
		}
		if (l->conns->count >= cfg->max_connections) {
			refuse(fd, cred.uid, RPC_OVERLOADED,
			    json_pack("{s:i}", "retry_after_ms", 100),
			    "overloaded: max_connections reached");
			continue;
		}
		conn_new(l->conns, fd, cred.pid, cred.uid, cred.gid);
	}
}

struct listener *
listener_open(struct loop *loop, const struct sbk_config *const *cfgp,
    struct stats *stats, struct conn_set *conns)
{
	const struct sbk_config *cfg = *cfgp;
	struct listener *l;
	int n;

	if ((l = malloc(sizeof(*l))) == NULL)
		return NULL;
	*l = (struct listener){ .cfg = cfgp,
		.stats = stats,
		.conns = conns,
		.fd = -1,
		.spare_fd = -1 };
	n = sd_listen_fds(1);
	if (n > 1) {
		log_err("systemd passed %d sockets; sbkd takes exactly one", n);
		goto fail;
	} else if (n == 1) {
		l->fd = SD_LISTEN_FDS_START;
		l->activated = true;
		if (evutil_make_socket_nonblocking(l->fd) < 0)
			goto fail;
		log_info("listening on the socket passed by systemd");
	} else {
		l->fd = create_socket(cfg->socket, cfg->socket_mode);
		if (l->fd < 0)
			goto fail;
		l->path = strdup(cfg->socket);
		log_info("listening on %s", cfg->socket);
	}
	l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	l->ev = loop_event_new(loop, l->fd, EV_READ | EV_PERSIST, accept_cb, l);
	l->pause_ev = loop_event_new(loop, -1, 0, resume_cb, l);
	if (l->ev == NULL || l->pause_ev == NULL || event_add(l->ev, NULL) < 0)
		goto fail;
	return l;
fail:
	listener_close(l);
	return NULL;
}

void
listener_close(struct listener *l)
{
	if (l == NULL)
		return;
	loop_event_free(l->ev);
	loop_event_free(l->pause_ev);
	if (l->fd >= 0)
		close(l->fd);
	if (l->spare_fd >= 0)
		close(l->spare_fd);
	if (l->path != NULL && !l->activated && unlink(l->path) < 0)
		log_warn("%s: unlink", l->path);
	free(l->path);
	free(l);
}
