/*
 * server.h - the event thread: it builds the loop, the pool, the
 * connections, the dispatcher, the listener and the metrics endpoint,
 * hands each what it needs, and runs signals, reloads, the shutdown
 * state machine, the pool's wakeup, the idle heap trim and systemd
 * notification.  Nothing below it sees a struct server.  Event thread
 * (the main thread) only.
 */
#ifndef SBK_SERVER_H
#define SBK_SERVER_H

#include <stdbool.h>

struct sbk_config;
struct server;

/*
 * Build everything and start listening on cfg (heap, owned by the server
 * from now on), read from config_path (NULL: built-in defaults) with the
 * -s socket override (or NULL), as reloads will read it.  NULL after
 * logging why (cfg released).
 */
struct server *server_new(
    struct sbk_config *, const char *config_path, const char *socket);
/* Run until a SIGTERM/SIGINT drain has finished. */
void server_run(struct server *);
/*
 * Tear down.  False when workers were left running jobs that cannot be
 * stopped (after shutdown_timeout_s): then nothing they may touch was
 * freed, and the caller must end the process at once (_exit).
 */
bool server_free(struct server *);

#endif /* SBK_SERVER_H */
