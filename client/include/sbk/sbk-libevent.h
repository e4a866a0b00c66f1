/*
 * sbk-libevent.h - drive an asynchronous libsbk client from a libevent
 * loop (as hiredis' adapters do): header-only, so libsbk itself does not
 * depend on libevent.  One event watches the socket for what
 * sbk_events() asks and one timer follows sbk_next_timeout(); both are
 * re-armed after every sbk_process() and whenever sbk_call_async()
 * queues output.
 *
 *	struct sbk_libevent *a = sbk_libevent_attach(client, base);
 *	sbk_call_async(client, "ping", NULL, 1000, on_reply, NULL, &err);
 *	event_base_dispatch(base);
 *	sbk_libevent_detach(a);		// before sbk_close(client)
 *
 * When the connection fails, every request's callback hears of it and
 * the adapter stops watching; on_error (optional) is called once.
 *
 * Thread safety: the client, the adapter and the base belong to the
 * base's thread.  Ownership: the adapter borrows client and base; free
 * it with sbk_libevent_detach before either goes.
 */
#ifndef SBK_LIBEVENT_H
#define SBK_LIBEVENT_H

#include <stdlib.h>
#include <event2/event.h>

#include "sbk-client.h"

struct sbk_libevent {
	struct sbk_client *client;
	struct event_base *base;
	struct event *io;
	struct event *timer;
	void (*on_error)(struct sbk_client *, const struct sbk_error *, void *);
	void *arg;
	int watching; /* the events io is armed for */
};

static inline void
sbk_libevent_rearm_(struct sbk_libevent *a)
{
	int want = sbk_events(a->client), ms;
	short ev = 0;
	struct timeval tv;

	if (want != a->watching) {
		event_del(a->io);
		if (want & SBK_EV_READ)
			ev |= EV_READ;
		if (want & SBK_EV_WRITE)
			ev |= EV_WRITE;
		event_assign(a->io, a->base, sbk_fd(a->client),
		    (short)(ev | EV_PERSIST), event_get_callback(a->io), a);
		if (ev != 0)
			event_add(a->io, NULL);
		a->watching = want;
	}
	ms = sbk_next_timeout(a->client);
	if (ms < 0) {
		evtimer_del(a->timer);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(a->timer, &tv);
}

static inline void
sbk_libevent_run_(struct sbk_libevent *a, int revents)
{
	struct sbk_error err = { 0 };

	if (sbk_process(a->client, revents, &err) == -1) {
		event_del(a->io);
		evtimer_del(a->timer);
		a->watching = 0;
		if (a->on_error != NULL)
			a->on_error(a->client, &err, a->arg);
		sbk_error_clear(&err);
		return;
	}
	sbk_libevent_rearm_(a);
}

static inline void
sbk_libevent_io_cb_(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	sbk_libevent_run_((struct sbk_libevent *)arg,
	    ((what & EV_READ) ? SBK_EV_READ : 0) |
		((what & EV_WRITE) ? SBK_EV_WRITE : 0));
}

static inline void
sbk_libevent_timer_cb_(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sbk_libevent_run_((struct sbk_libevent *)arg, 0);
}

static inline void
sbk_libevent_wakeup_(struct sbk_client *c, void *arg)
{
	(void)c;
	sbk_libevent_rearm_((struct sbk_libevent *)arg);
}

/* Attach; NULL when out of memory. */
static inline struct sbk_libevent *
sbk_libevent_attach(struct sbk_client *client, struct event_base *base)
{
	struct sbk_libevent *a = (struct sbk_libevent *)calloc(1, sizeof(*a));

	if (a == NULL)
		return (NULL);
	a->client = client;
	a->base = base;
	a->io = event_new(
	    base, sbk_fd(client), EV_READ | EV_PERSIST, sbk_libevent_io_cb_, a);
	a->timer = evtimer_new(base, sbk_libevent_timer_cb_, a);
	if (a->io == NULL || a->timer == NULL) {
		if (a->io != NULL)
			event_free(a->io);
		if (a->timer != NULL)
			event_free(a->timer);
		free(a);
		return (NULL);
	}
	a->watching = -1; /* arm on the first rearm */
	sbk_set_wakeup_cb(client, sbk_libevent_wakeup_, a);
	sbk_libevent_rearm_(a);
	return (a);
}

/* Called once when the connection fails (err borrowed). */
static inline void
sbk_libevent_on_error(struct sbk_libevent *a,
    void (*cb)(struct sbk_client *, const struct sbk_error *, void *),
    void *arg)
{
	a->on_error = cb;
	a->arg = arg;
}

/* Stop watching and free the adapter (the client stays open). */
static inline void
sbk_libevent_detach(struct sbk_libevent *a)
{
	if (a == NULL)
		return;
	sbk_set_wakeup_cb(a->client, NULL, NULL);
	event_free(a->io);
	event_free(a->timer);
	free(a);
}

#endif /* SBK_LIBEVENT_H */
