/*
 * scheduler.c - round-robin over owners, FIFO inside an owner, with resource
 * gates.  See scheduler.h.  Called with the pool mutex held; never allocates.
 */
#include <stddef.h>

#include "scheduler.h"

void
sched_init(struct sched *s)
{
	for (int l = 0; l < SCHED_LANES; l++) {
		TAILQ_INIT(&s->ring[l]);
		s->queued[l] = 0;
	}
	for (int g = 0; g < SCHED_GATES; g++) {
		s->gate_budget[g] = (unsigned long)-1;
		s->gate_used[g] = 0;
	}
}

void
sched_set_budget(struct sched *s, int gate, unsigned long budget)
{
	s->gate_budget[gate] = budget;
}

bool
sched_gate_fits(const struct sched *s, int gate, unsigned long cost)
{
	if (gate == SCHED_GATE_NONE)
		return true;
	/*
	 * A job dearer than the whole budget was admitted under a larger
	 * one (a reload lowered it): it runs when the gate is empty, alone,
	 * rather than never.
	 */
	if (cost > s->gate_budget[gate])
		return s->gate_used[gate] == 0;
	/* Written so that it cannot overflow. */
	return s->gate_used[gate] <= s->gate_budget[gate] &&
	    cost <= s->gate_budget[gate] - s->gate_used[gate];
}

static void
owner_init_lane(struct sched_owner *o, int lane)
{
	/* A zeroed owner has an invalid TAILQ head: set it up on first use. */
	if (o->fifo[lane].tqh_last == NULL)
		TAILQ_INIT(&o->fifo[lane]);
}

void
sched_push(struct sched *s, struct sched_item *it)
{
	struct sched_owner *o = it->owner;
	int lane = it->lane;

	owner_init_lane(o, lane);
	TAILQ_INSERT_TAIL(&o->fifo[lane], it, link);
	it->queued = true;
	s->queued[lane]++;
	if (!o->in_ring[lane]) {
		TAILQ_INSERT_TAIL(&s->ring[lane], o, ring[lane]);
		o->in_ring[lane] = true;
	}
}

static void
owner_unlink_if_empty(struct sched *s, struct sched_owner *o, int lane)
{
	if (TAILQ_EMPTY(&o->fifo[lane]) && o->in_ring[lane]) {
		TAILQ_REMOVE(&s->ring[lane], o, ring[lane]);
		o->in_ring[lane] = false;
	}
}

struct sched_item *
sched_pop(struct sched *s, int lane)
{
	struct sched_owner *o;
	struct sched_item *it;

	TAILQ_FOREACH(o, &s->ring[lane], ring[lane])
	{
		/*
		 * The first item of this owner that fits its gate: gated
		 * work waiting for budget must not hold back the owner's
		 * ungated work behind it.
		 */
		TAILQ_FOREACH(it, &o->fifo[lane], link)
		if (sched_gate_fits(s, it->gate, it->cost))
			break;
		if (it == NULL)
			continue;

		TAILQ_REMOVE(&o->fifo[lane], it, link);
		it->queued = false;
		s->queued[lane]--;
		if (it->gate != SCHED_GATE_NONE)
			s->gate_used[it->gate] += it->cost;

		/* Served: this owner goes to the back of the ring. */
		TAILQ_REMOVE(&s->ring[lane], o, ring[lane]);
		o->in_ring[lane] = false;
		if (!TAILQ_EMPTY(&o->fifo[lane])) {
			TAILQ_INSERT_TAIL(&s->ring[lane], o, ring[lane]);
			o->in_ring[lane] = true;
		}
		return it;
	}
	return NULL;
}

bool
sched_remove(struct sched *s, struct sched_item *it)
{
	if (!it->queued)
		return false;
	TAILQ_REMOVE(&it->owner->fifo[it->lane], it, link);
	it->queued = false;
	s->queued[it->lane]--;
	owner_unlink_if_empty(s, it->owner, it->lane);
	return true;
}

void
sched_release(struct sched *s, int gate, unsigned long cost)
{
	if (gate != SCHED_GATE_NONE)
		s->gate_used[gate] -= cost;
}

size_t
sched_queued(const struct sched *s, int lane)
{
	return s->queued[lane];
}
