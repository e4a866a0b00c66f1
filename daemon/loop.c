/*
 * loop.c - the event loop and its lag probe; see loop.h.
 *
 * An event made here is one allocation: a small header (the loop, the
 * real callback and its argument) followed by libevent's struct event,
 * set up with event_assign to call a trampoline that marks the
 * iteration busy and then the real callback.  The trampoline touches
 * nothing after that call, so a callback may free its own event.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>

#include "clock.h"
#include "hist.h"
#include "log.h"
#include "loop.h"

struct loop {
	struct event_base *base;
	struct hist *lag_us;
	uint64_t iter_start_ns; /* first callback this iteration, or 0 */
};

struct loop_event {
	struct loop *loop;
	event_callback_fn cb;
	void *arg;
};

/* Where the struct event starts behind its header. */
#define EVENT_OFFSET                                              \
	((sizeof(struct loop_event) + alignof(max_align_t) - 1) / \
	    alignof(max_align_t) * alignof(max_align_t))

struct loop *
loop_new(struct hist *lag_us)
{
	struct event_config *ecfg;
	struct loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->lag_us = lag_us;
	/* EV_CLOSED lets a paused connection's disconnect be seen. */
	ecfg = event_config_new();
	if (ecfg != NULL) {
		event_config_require_features(ecfg, EV_FEATURE_EARLY_CLOSE);
		l->base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	if (l->base == NULL) {
		log_err("libevent: no backend with early close detection");
		free(l);
		return NULL;
	}
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	event_base_free(l->base);
	free(l);
}

struct event_base *
loop_base(struct loop *l)
{
	return l->base;
}

void
loop_mark_busy(struct loop *l)
{
	if (l->iter_start_ns == 0)
		l->iter_start_ns = clock_now_ns();
}

static void
trampoline(evutil_socket_t fd, short what, void *arg)
{
	struct loop_event *le = arg;

	loop_mark_busy(le->loop);
	le->cb(fd, what, le->arg);
}

static struct event *
event_of(struct loop_event *le)
{
	return (struct event *)((char *)le + EVENT_OFFSET);
}

struct event *
loop_event_new(struct loop *l, evutil_socket_t fd, short what,
    event_callback_fn cb, void *arg)
{
	struct loop_event *le;

	le = malloc(EVENT_OFFSET + event_get_struct_event_size());
	if (le == NULL)
		return NULL;
	le->loop = l;
	le->cb = cb;
	le->arg = arg;
	if (event_assign(event_of(le), l->base, fd, what, trampoline, le) < 0) {
		free(le);
		return NULL;
	}
	return event_of(le);
}

void
loop_event_set(struct event *ev, short what)
{
	struct loop_event *le = event_get_callback_arg(ev);

	event_del(ev);
	event_assign(
	    ev, le->loop->base, event_get_fd(ev), what, trampoline, le);
}

void
loop_event_free(struct event *ev)
{
	if (ev == NULL)
		return;
	event_del(ev);
	free(event_get_callback_arg(ev));
}

static void
once_trampoline(evutil_socket_t fd, short what, void *arg)
{
	struct loop_event le = *(struct loop_event *)arg;

	free(arg);
	loop_mark_busy(le.loop);
	le.cb(fd, what, le.arg);
}

int
loop_once(struct loop *l, event_callback_fn cb, void *arg)
{
	struct loop_event *le = malloc(sizeof(*le));

	if (le == NULL)
		return -1;
	*le = (struct loop_event){ .loop = l, .cb = cb, .arg = arg };
	if (event_base_once(
		l->base, -1, EV_TIMEOUT, once_trampoline, le, NULL) < 0) {
		free(le);
		return -1;
	}
	return 0;
}

int
loop_run_once(struct loop *l)
{
	int rc = event_base_loop(l->base, EVLOOP_ONCE);

	if (l->iter_start_ns != 0) {
		hist_add(l->lag_us, (clock_now_ns() - l->iter_start_ns) / 1000);
		l->iter_start_ns = 0;
	}
	return rc < 0 ? -1 : 0;
}
