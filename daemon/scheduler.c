/*
 * scheduler.c - round-robin over owners, FIFO inside an owner, with
 * resource gates charged when a job becomes runnable.  See scheduler.h.
 * Called from the event thread only (pool.c); never allocates.
 */
#include <stddef.h>

#include "scheduler.h"

void
sched_init(struct sched *s)
{
	*s = (struct sched){ 0 };
	for (int l = 0; l < SCHED_LANES; l++)
		TAILQ_INIT(&s->ring[l]);
	TAILQ_INIT(&s->blocked_owners);
	for (int g = 0; g < SCHED_GATES; g++)
		s->gate_budget[g] = (unsigned long)-1;
}

bool
sched_gate_fits(const struct sched *s, int gate, unsigned long cost)
{
	if (gate == SCHED_GATE_NONE || cost == 0)
		return true;
	/* Admitted under a larger budget: alone, rather than never. */
	if (cost > s->gate_budget[gate])
		return s->gate_used[gate] == 0;
	/* Written so that it cannot overflow. */
	return s->gate_used[gate] <= s->gate_budget[gate] &&
	    cost <= s->gate_budget[gate] - s->gate_used[gate];
}

/* May the owner start one more job of this output cost? */
static bool
owner_fits(const struct sched_owner *o, unsigned long out_cost)
{
	if (o->out_cap == 0)
		return true;
	if (o->out_unsent > o->out_cap)
		return false;
	return out_cost == 0 || o->out_reserved == 0 ||
	    (o->out_reserved <= o->out_cap - o->out_unsent &&
		out_cost <= o->out_cap - o->out_unsent - o->out_reserved);
}

bool
sched_fits(const struct sched *s, const struct sched_item *it)
{
	return sched_gate_fits(s, it->gate, it->cost) &&
	    sched_gate_fits(s, SCHED_GATE_OUTPUT, it->out_cost) &&
	    owner_fits(it->owner, it->out_cost);
}

static void
charge(struct sched *s, struct sched_item *it)
{
	if (it->gate != SCHED_GATE_NONE)
		s->gate_used[it->gate] += it->cost;
	s->gate_used[SCHED_GATE_OUTPUT] += it->out_cost;
	it->owner->out_reserved += it->out_cost;
	it->charged = true;
}

static void
uncharge(struct sched *s, struct sched_item *it)
{
	if (it->gate != SCHED_GATE_NONE)
		s->gate_used[it->gate] -= it->cost;
	s->gate_used[SCHED_GATE_OUTPUT] -= it->out_cost;
	it->owner->out_reserved -= it->out_cost;
	it->charged = false;
}

static void
owner_init_lane(struct sched_owner *o, int lane)
{
	/* A zeroed owner has invalid TAILQ heads: set them up on first use. */
	if (o->fifo[lane].tqh_last == NULL)
		TAILQ_INIT(&o->fifo[lane]);
	if (o->blocked.tqh_last == NULL)
		TAILQ_INIT(&o->blocked);
}

static void
make_runnable(struct sched *s, struct sched_item *it)
{
	struct sched_owner *o = it->owner;
	int lane = it->lane;

	charge(s, it);
	/* Served: behind every blocked owner served longer ago. */
	o->served = ++s->serial;
	if (o->nblocked > 0) {
		TAILQ_REMOVE(&s->blocked_owners, o, blink);
		TAILQ_INSERT_TAIL(&s->blocked_owners, o, blink);
	}
	TAILQ_INSERT_TAIL(&o->fifo[lane], it, link);
	s->runnable[lane]++;
	if (!o->in_ring[lane]) {
		TAILQ_INSERT_TAIL(&s->ring[lane], o, ring[lane]);
		o->in_ring[lane] = true;
	}
}

static void
make_blocked(struct sched *s, struct sched_item *it)
{
	struct sched_owner *o = it->owner;

	TAILQ_INSERT_TAIL(&o->blocked, it, link);
	s->blocked[it->lane]++;
	if (o->nblocked++ == 0) {
		struct sched_owner *at;

		/* Kept in order of last service: the longest unserved first. */
		TAILQ_FOREACH(at, &s->blocked_owners, blink)
			if (at->served > o->served)
				break;
		if (at != NULL)
			TAILQ_INSERT_BEFORE(at, o, blink);
		else
			TAILQ_INSERT_TAIL(&s->blocked_owners, o, blink);
	}
}

static void
unlink_blocked(struct sched *s, struct sched_item *it)
{
	struct sched_owner *o = it->owner;

	TAILQ_REMOVE(&o->blocked, it, link);
	s->blocked[it->lane]--;
	if (--o->nblocked == 0)
		TAILQ_REMOVE(&s->blocked_owners, o, blink);
}

static void
owner_unlink_if_empty(struct sched *s, struct sched_owner *o, int lane)
{
	if (TAILQ_EMPTY(&o->fifo[lane]) && o->in_ring[lane]) {
		TAILQ_REMOVE(&s->ring[lane], o, ring[lane]);
		o->in_ring[lane] = false;
	}
}

/* The blocked jobs of one owner that fit now become runnable, in order. */
static void
promote_owner(struct sched *s, struct sched_owner *o)
{
	struct sched_item *it, *next;

	if (o->nblocked == 0 || (o->out_cap != 0 && o->out_unsent > o->out_cap))
		return; /* nothing, or nothing of it may start */
	for (it = TAILQ_FIRST(&o->blocked); it != NULL; it = next) {
		next = TAILQ_NEXT(it, link);
		if (!sched_fits(s, it))
			continue;
		unlink_blocked(s, it);
		make_runnable(s, it);
	}
}

/*
 * Budget came back: promote what fits, owner by owner, the owner served
 * longest ago first (make_runnable moves a served owner to the back), so
 * a client that drains quickly cannot take the budget from one that has
 * been waiting for it.
 */
static void
promote_all(struct sched *s)
{
	struct sched_owner *o, *next,
	    *last = TAILQ_LAST(&s->blocked_owners, sched_owners);

	for (o = TAILQ_FIRST(&s->blocked_owners); o != NULL; o = next) {
		next = o == last ? NULL : TAILQ_NEXT(o, blink);
		promote_owner(s, o);
	}
}

void
sched_set_budget(struct sched *s, int gate, unsigned long budget)
{
	s->gate_budget[gate] = budget;
	promote_all(s);
}

void
sched_push(struct sched *s, struct sched_item *it)
{
	owner_init_lane(it->owner, it->lane);
	it->queued = true;
	if (sched_fits(s, it))
		make_runnable(s, it);
	else
		make_blocked(s, it);
}

struct sched_item *
sched_pop(struct sched *s, int lane)
{
	struct sched_owner *o = TAILQ_FIRST(&s->ring[lane]);
	struct sched_item *it;

	if (o == NULL)
		return NULL;
	it = TAILQ_FIRST(&o->fifo[lane]);
	TAILQ_REMOVE(&o->fifo[lane], it, link);
	it->queued = false;
	s->runnable[lane]--;

	/* Served: this owner goes to the back of the ring. */
	TAILQ_REMOVE(&s->ring[lane], o, ring[lane]);
	o->in_ring[lane] = false;
	if (!TAILQ_EMPTY(&o->fifo[lane])) {
		TAILQ_INSERT_TAIL(&s->ring[lane], o, ring[lane]);
		o->in_ring[lane] = true;
	}
	return it;
}

struct sched_item *
sched_peek(const struct sched *s, int lane)
{
	struct sched_owner *o = TAILQ_FIRST(&s->ring[lane]);

	return o != NULL ? TAILQ_FIRST(&o->fifo[lane]) : NULL;
}

bool
sched_remove(struct sched *s, struct sched_item *it)
{
	if (!it->queued)
		return false;
	it->queued = false;
	if (!it->charged) {
		unlink_blocked(s, it);
		return true;
	}
	TAILQ_REMOVE(&it->owner->fifo[it->lane], it, link);
	s->runnable[it->lane]--;
	owner_unlink_if_empty(s, it->owner, it->lane);
	uncharge(s, it);
	promote_all(s);
	return true;
}

void
sched_release(struct sched *s, int gate, unsigned long cost)
{
	if (gate == SCHED_GATE_NONE || cost == 0)
		return;
	s->gate_used[gate] -= cost;
	promote_all(s);
}

void
sched_release_output(struct sched *s, struct sched_owner *o,
    unsigned long owner_bytes, unsigned long gate_bytes)
{
	if (o != NULL)
		o->out_reserved -= owner_bytes;
	s->gate_used[SCHED_GATE_OUTPUT] -= gate_bytes;
	promote_all(s);
}

void
sched_owner_output(struct sched *s, struct sched_owner *o, unsigned long cap,
    unsigned long unsent)
{
	bool was_over = o->out_cap != 0 && o->out_unsent > o->out_cap;

	o->out_cap = cap;
	o->out_unsent = unsent;
	if (cap != 0 && unsent > cap && !was_over) {
		/* Over its cap: its runnable jobs wait again, uncharged. */
		for (int l = 1; l < SCHED_LANES; l++) {
			struct sched_item *it;

			if (o->fifo[l].tqh_last == NULL)
				continue;
			while ((it = TAILQ_FIRST(&o->fifo[l])) != NULL) {
				TAILQ_REMOVE(&o->fifo[l], it, link);
				s->runnable[l]--;
				uncharge(s, it);
				make_blocked(s, it);
			}
			owner_unlink_if_empty(s, o, l);
		}
		promote_all(s); /* their budget may serve others */
	} else if (o->nblocked > 0) {
		/* In turn: others may wait for the same budget. */
		promote_all(s);
	}
}
