/*
 * reqtab.h - libsbk's table of requests in flight, keyed by the id as
 * its compact JSON text ("7", "\"a\"").  A reply is delivered only when
 * its id is in the table; anything else is a stray and is dropped, so
 * what a client keeps is bounded by what it sent.
 *
 * Thread safety: none; owned by one struct sbk_client.
 */
#ifndef SBK_REQTAB_H
#define SBK_REQTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbk-client.h"

struct sbk_req {
	char *key; /* the id as compact JSON, NUL-terminated */
	size_t keylen;
	struct sbk_req *next; /* bucket chain */
	unsigned sends;	      /* requests with this id in flight */
	bool abandoned;	      /* a timed-out sbk_call: drop the reply */

	/* sbk_call_async only (sbk-async.c). */
	bool is_async;
	sbk_reply_cb *cb;
	void *user_data;
	int64_t deadline_ms; /* -1: none */
	int64_t retry_at_ms; /* -1: not waiting to be sent again */
	int retries_left;
	char *line; /* the request line, kept for a retry; wiped */
	size_t linelen;
	struct sbk_req *tnext; /* the client's list of async requests */
};

struct reqtab {
	struct sbk_req **buckets;
	size_t nbuckets;
	size_t count;
};

void reqtab_init(struct reqtab *);
/* Free every entry (request lines wiped: they may hold passwords). */
void reqtab_free(struct reqtab *);
struct sbk_req *reqtab_find(struct reqtab *, const char *key, size_t len);
/*
 * The entry for key, created when missing (sends 0).  NULL when out of
 * memory.
 */
struct sbk_req *reqtab_get(struct reqtab *, const char *key, size_t len);
/* Unlink and free one entry. */
void reqtab_remove(struct reqtab *, struct sbk_req *);

#endif /* SBK_REQTAB_H */
