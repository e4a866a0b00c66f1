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

struct server;
struct listener;

/* Listen (or adopt systemd's socket).  NULL after logging why. */
struct listener *listener_open(struct server *);

/* Stop accepting; remove the socket file unless systemd owns it. */
void listener_close(struct listener *);

#endif /* SBK_LISTENER_H */
