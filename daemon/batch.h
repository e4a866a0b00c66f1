/*
 * batch.h - a JSON-RPC batch's collector: member replies come in as their
 * jobs end, in any order; one array reply goes out when the last member
 * is done.  A batch whose members were all notifications sends nothing.
 *
 * Threads: event thread only.
 */
#ifndef SBK_BATCH_H
#define SBK_BATCH_H

#include <stddef.h>

struct conn;
struct batch;

/* A new batch, holding one "pending" guard for the dispatch loop. */
struct batch *batch_new(struct conn *);
/* One more member whose reply is still to come. */
void batch_hold(struct batch *);
/*
 * A member's reply line (malloc'd, with its '\n'; taken over), holding
 * charge bytes of the output budget until written (0: none).
 */
void batch_add_charged(
    struct batch *, char *line, size_t len, unsigned long charge);
/* A member is done (with or without a reply); the last one sends. */
void batch_release(struct batch *);

#endif /* SBK_BATCH_H */
