/*
 * loop.h - the event loop: libevent's base, and the loop-lag probe.
 *
 * Every callback is timed: the first callback of an iteration starts
 * the clock, and the time to the end of that iteration (what a request
 * arriving then would have waited for) goes into the lag histogram.
 * Events made with loop_event_new (freed with loop_event_free; event_add
 * and event_del work as usual in between) are timed by a trampoline;
 * callbacks of events made elsewhere (bufferevents, a connection's
 * embedded event) call loop_mark_busy first.
 *
 * Threads: event thread only.
 */
#ifndef SBK_LOOP_H
#define SBK_LOOP_H

#include <event2/event.h>

struct hist;
struct loop;

/*
 * A base that sees a peer's close while reads are paused
 * (EV_FEATURE_EARLY_CLOSE).  lag_us: where each busy iteration's lag
 * goes.  NULL after logging why.
 */
struct loop *loop_new(struct hist *lag_us);
void loop_free(struct loop *);

/* For events made elsewhere, whose callbacks call loop_mark_busy. */
struct event_base *loop_base(struct loop *);
void loop_mark_busy(struct loop *);

/*
 * event_new, with the callback timed.  fd -1 with what 0 or EV_PERSIST
 * for a timer; EV_SIGNAL with the signal number for a signal.  NULL when
 * out of memory.
 */
struct event *loop_event_new(
    struct loop *, evutil_socket_t fd, short what, event_callback_fn, void *);
/* Delete and free; NULL is fine. */
void loop_event_free(struct event *);

/* Run cb(-1, EV_TIMEOUT, arg) once, at the next iteration.  0, or -1. */
int loop_once(struct loop *, event_callback_fn, void *arg);

/* One iteration: wait for events, run their callbacks.  -1 on failure. */
int loop_run_once(struct loop *);

#endif /* SBK_LOOP_H */
