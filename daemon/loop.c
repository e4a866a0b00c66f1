/*
 * loop.c - the event loop and its lag probe; see loop.h.
 *
 * An event made here is one allocation: a small header (the loop, the
 * real callback and its argument) followed by libevent's struct event,
 * set up with event_assign to call a trampoline that marks the
 * iteration busy, then the real callback.  The trampoline touches
 * nothing after that call, so a callback may free its own event.
 */
#include <stdalign.h>
#include <stdbool.h>
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

/*
 * What loop_event_new allocates: libevent's struct event first, then the
 * real callback.  The tail follows the event without padding, so the two
 * fit in one allocation only 24 bytes longer than event_new's (an idle
 * connection holds two).
 */
struct loop_event {
	struct loop *loop;
	event_callback_fn cb;
	void *arg;
};

/* libevent's struct event, rounded up so that the tail is aligned. */
static size_t
event_size(void)
{
	size_t a = alignof(struct loop_event);

	return (event_get_struct_event_size() + a - 1) / a * a;
}

static struct loop_event *
tail_of(struct event *ev)
{
	return (struct loop_event *)((char *)ev + event_size());
}

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

/* loop_once's events: freed before their callback runs. */
static void
trampoline_once(evutil_socket_t fd, short what, void *arg)
{
	struct loop_event le = *(struct loop_event *)arg;

	free((char *)arg - event_size());
	loop_mark_busy(le.loop);
	le.cb(fd, what, le.arg);
}

static struct event *
event_make(struct loop *l, evutil_socket_t fd, short what, event_callback_fn cb,
    void *arg, event_callback_fn tramp)
{
	struct event *ev = malloc(event_size() + sizeof(struct loop_event));

	if (ev == NULL)
		return NULL;
	*tail_of(ev) = (struct loop_event){ .loop = l, .cb = cb, .arg = arg };
	if (event_assign(ev, l->base, fd, what, tramp, tail_of(ev)) < 0) {
		free(ev);
		return NULL;
	}
	return ev;
}

struct event *
loop_event_new(struct loop *l, evutil_socket_t fd, short what,
    event_callback_fn cb, void *arg)
{
	return event_make(l, fd, what, cb, arg, trampoline);
}

void
loop_event_free(struct event *ev)
{
	if (ev == NULL)
		return;
	event_del(ev);
	free(ev);
}

int
loop_once(struct loop *l, event_callback_fn cb, void *arg)
{
	struct event *ev = event_make(l, -1, 0, cb, arg, trampoline_once);

	if (ev == NULL)
		return -1;
	event_active(ev, EV_TIMEOUT, 1);
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
