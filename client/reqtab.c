/*
 * reqtab.c - the table of requests in flight (reqtab.h): chained
 * buckets, FNV-1a over the id's JSON text, doubled when the load passes
 * one entry per bucket.
 *
 * Thread safety: none; owned by one struct sbk_client.
 */
#include "sbk-config.h"

#include <stdlib.h>
#include <string.h>

#include "reqtab.h"

static uint64_t
hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211u;
	}
	return (h);
}

void
reqtab_init(struct reqtab *t)
{
	memset(t, 0, sizeof(*t));
}

static void
free_entry(struct sbk_req *r)
{
	if (r->line != NULL)
		explicit_bzero(r->line, r->linelen);
	free(r->line);
	free(r->key);
	free(r);
}

void
reqtab_free(struct reqtab *t)
{
	struct sbk_req *r, *next;
	size_t i;

	for (i = 0; i < t->nbuckets; i++)
		for (r = t->buckets[i]; r != NULL; r = next) {
			next = r->next;
			free_entry(r);
		}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

struct sbk_req *
reqtab_find(struct reqtab *t, const char *key, size_t len)
{
	struct sbk_req *r;

	if (t->nbuckets == 0)
		return (NULL);
	for (r = t->buckets[hash(key, len) & (t->nbuckets - 1)]; r != NULL;
	     r = r->next)
		if (r->keylen == len && memcmp(r->key, key, len) == 0)
			return (r);
	return (NULL);
}

/* Double the buckets; false when out of memory (the table still works). */
static bool
grow(struct reqtab *t)
{
	struct sbk_req **nb, *r, *next;
	size_t n, i, b;

	n = t->nbuckets == 0 ? 16 : 2 * t->nbuckets;
	nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return (false);
	for (i = 0; i < t->nbuckets; i++)
		for (r = t->buckets[i]; r != NULL; r = next) {
			next = r->next;
			b = hash(r->key, r->keylen) & (n - 1);
			r->next = nb[b];
			nb[b] = r;
		}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
	return (true);
}

struct sbk_req *
reqtab_get(struct reqtab *t, const char *key, size_t len)
{
	struct sbk_req *r;
	size_t b;

	if ((r = reqtab_find(t, key, len)) != NULL)
		return (r);
	if (t->count >= t->nbuckets && !grow(t) && t->nbuckets == 0)
		return (NULL);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	if ((r->key = malloc(len + 1)) == NULL) {
		free(r);
		return (NULL);
	}
	memcpy(r->key, key, len);
	r->key[len] = '\0';
	r->keylen = len;
	r->deadline_ms = -1;
	r->retry_at_ms = -1;
	b = hash(key, len) & (t->nbuckets - 1);
	r->next = t->buckets[b];
	t->buckets[b] = r;
	t->count++;
	return (r);
}

void
reqtab_remove(struct reqtab *t, struct sbk_req *r)
{
	struct sbk_req **pp;

	for (pp = &t->buckets[hash(r->key, r->keylen) & (t->nbuckets - 1)];
	     *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			t->count--;
			free_entry(r);
			return;
		}
	}
}
