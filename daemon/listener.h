/*
 * listener.h - the listening UNIX socket: taken over from systemd
 * (LISTEN_FDS) or created (stale socket files replaced, live ones left
 * alone, mode from socket_mode); accepting with peer credentials, the
 * [access] allow lists and max_connections; and surviving EMFILE without
 * spinning.
 *
 * Threads: event thread only.
 */
#ifndef SBK_LISTENER_H
#define SBK_LISTENER_H

struct conn_set;
struct listener;
struct loop;
struct sbk_config;
struct stats;

/*
 * Listen (or adopt systemd's socket) and hand accepted clients to conns;
 * cfg is read afresh at each accept (access lists, max_connections) and
 * stats counts them.  NULL after logging why.
 */
struct listener *listener_open(struct loop *,
    const struct sbk_config *const *cfg, struct stats *, struct conn_set *);

/* Stop accepting; remove the socket file unless systemd owns it. */
void listener_close(struct listener *);

#endif /* SBK_LISTENER_H */
