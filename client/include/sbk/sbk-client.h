/*
 * sbk-client.h - libsbk, the C client library of sbkd.  It connects to
 * the daemon's UNIX socket and speaks JSON-RPC 2.0 over NDJSON: a
 * blocking call with a timeout (sbk_call), and a pipelined interface
 * (sbk_send many requests, sbk_recv the replies in the order the daemon
 * finishes them) for programs that keep several jobs in flight, and an
 * asynchronous interface for event loops (sbk_call_async, below).
 *
 * Thread safety, per function: sbk_error_clear, sbk_error_kind_name
 * and sbk_default_socket are reentrant and may be called from any
 * thread; sbk_connect* return a client that belongs to the calling
 * thread, and every other function taking a struct sbk_client must be
 * called by the one thread using that client at the time (no internal
 * locking; hand a client to another thread only with your own
 * synchronisation).  Callbacks (sbk_notify_cb, sbk_reply_cb,
 * sbk_wakeup_cb) run on that thread, from inside the library call that
 * read the message.  Distinct clients are independent.  The library
 * keeps no global state and never raises SIGPIPE.
 *
 * Ownership: JSON values are jansson's json_t.  Functions taking a
 * json_t borrow it for the duration of the call; returned json_t are
 * new references the caller releases (json_decref); a struct sbk_reply
 * owns its msg until sbk_reply_clear; a struct sbk_error owns its data
 * until sbk_error_clear.  user_data and callback arguments are the
 * caller's: libsbk never frees or reads them.  Request lines kept in
 * memory (buffers, retries) are wiped before they are freed, as they
 * may hold passwords.
 */
#ifndef SBK_CLIENT_H
#define SBK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What went wrong: an error reply from the daemon, or a local failure. */
enum sbk_error_kind {
	SBK_ERR_NONE = 0,
	SBK_ERR_RPC,	  /* the daemon answered with an error object */
	SBK_ERR_CONNECT,  /* cannot connect to the socket */
	SBK_ERR_TIMEOUT,  /* no reply before the caller's timeout */
	SBK_ERR_CLOSED,	  /* the daemon closed the connection */
	SBK_ERR_PROTOCOL, /* a reply that is not JSON-RPC 2.0, or too long */
	SBK_ERR_SYSTEM,	  /* a system call failed (see sys_errno) */
	SBK_ERR_USAGE,	  /* bad arguments to a libsbk function */
};

/*
 * An error.  For SBK_ERR_RPC, code, message and data are the reply's
 * error object (data NULL when absent).  For local kinds, code is 0 and
 * message says what happened.  data is owned: release it with
 * sbk_error_clear().  Every libsbk function that fills an error clears
 * what it held before, so one struct may be reused without leaks.
 */
struct sbk_error {
	enum sbk_error_kind kind;
	int code;
	int sys_errno;
	char message[256];
	json_t *data;
};

void sbk_error_clear(struct sbk_error *);
/* A short name of the kind ("rpc error", "timed out", ...). */
const char *sbk_error_kind_name(enum sbk_error_kind);

struct sbk_client;

/*
 * The socket path a NULL argument stands for: $SBK_SOCKET when set and
 * not empty, else the path sbkd uses by default.
 */
const char *sbk_default_socket(void);

/*
 * Connect to path (NULL: sbk_default_socket()).  NULL on failure, with
 * err->kind SBK_ERR_CONNECT (or SBK_ERR_SYSTEM when out of memory).
 * sbk_connect waits up to SBK_DEFAULT_CONNECT_TIMEOUT_MS while the
 * daemon's listen backlog is full; sbk_connect_timeout up to timeout_ms
 * (-1: for ever).
 */
#define SBK_DEFAULT_CONNECT_TIMEOUT_MS 10000
struct sbk_client *sbk_connect(const char *path, struct sbk_error *err);
struct sbk_client *sbk_connect_timeout(
    const char *path, int timeout_ms, struct sbk_error *err);
/* Close the connection: the daemon drops this connection's waiting jobs
 * and stops its running cooperative ones.  NULL is allowed. */
void sbk_close(struct sbk_client *);
/* The socket, for poll(2).  Readiness to read means sbk_recv(..., 0)
 * can make progress; replies may also already be buffered, so call
 * sbk_pending() before polling. */
int sbk_fd(const struct sbk_client *);
/* True when a complete reply is already buffered (no need to poll). */
bool sbk_pending(struct sbk_client *);

/*
 * Longest reply line accepted (bytes, without the newline).  The read
 * buffer grows on demand up to this; a longer reply is an
 * SBK_ERR_PROTOCOL error from sbk_recv and the connection stays usable.
 * Default SBK_DEFAULT_MAX_REPLY: the daemon's largest output (64 MiB)
 * in base64, plus the envelope.
 */
#define SBK_DEFAULT_MAX_REPLY (96u * 1024 * 1024)
void sbk_set_max_reply(struct sbk_client *, size_t bytes);

/*
 * What a daemon can make a client hold is bounded: the read buffer by
 * the longest reply (above) plus 128 KiB; replies are kept only for ids
 * in flight (sent and not yet answered), one each.  A reply to any other
 * id (never sent, already answered) is a stray: dropped, and counted
 * here.  Notifications are never kept: they go to the callback, or out
 * of sbk_recv one at a time.  sbk_in_flight is the number of distinct
 * ids sent and not yet answered.
 */
uint64_t sbk_stray_replies(const struct sbk_client *);
size_t sbk_in_flight(const struct sbk_client *);

/*
 * Timeout in ms for writing a request when the daemon does not read
 * (-1, the default: wait as long as needed).  When it passes, sbk_send
 * still returns the id: the request stays buffered, whole, and is
 * written by the next flush (sbk_flush reports the timeout).  While a write waits, the
 * replies that arrive are buffered, so a pipelining client cannot
 * deadlock against the daemon's own flow control.
 */
void sbk_set_send_timeout(struct sbk_client *, int timeout_ms);

/*
 * Notifications (requests without an id from the daemon, such as
 * "progress") go to this callback when one is set, from inside
 * sbk_call / sbk_recv, on the calling thread; params is borrowed for the
 * duration of the call.  Without a callback sbk_recv returns them as
 * SBK_MSG_NOTIFICATION and sbk_call drops them.
 */
typedef void sbk_notify_cb(const char *method, const json_t *params, void *arg);
void sbk_set_notify_cb(struct sbk_client *c, sbk_notify_cb *cb, void *arg);

/*
 * Blocking call: send method with params (NULL: none; else an object),
 * wait up to timeout_ms (-1: forever) for its reply.  Returns the result
 * (a new reference) or NULL with err filled: SBK_ERR_RPC for an error
 * reply, SBK_ERR_TIMEOUT, SBK_ERR_CLOSED...  Replies to requests sent
 * earlier with sbk_send that arrive meanwhile are kept for sbk_recv.
 * After a timeout the library sends job.cancel for the request as a
 * notification and discards its late reply.
 */
json_t *sbk_call(struct sbk_client *, const char *method, const json_t *params,
    int timeout_ms, struct sbk_error *err);

/*
 * Pipelined send.  sbk_send assigns the next integer id of this client
 * (1, 2, 3...) and returns it, or -1 with err filled.  sbk_send_id uses
 * the caller's id (an integer or a string; keep it unique among the
 * requests in flight, and do not mix integer ids with sbk_send's);
 * returns 0 or -1.  sbk_send_raw sends one raw line as is (a newline is
 * added when missing): batches, notifications, deliberate garbage.
 */
int64_t sbk_send(struct sbk_client *, const char *method, const json_t *params,
    struct sbk_error *err);
int sbk_send_id(struct sbk_client *, const json_t *id, const char *method,
    const json_t *params, struct sbk_error *err);
int sbk_send_raw(
    struct sbk_client *, const char *line, size_t len, struct sbk_error *err);

/*
 * Corking: while corked, sends are only buffered (sbk_call_async's
 * too); sbk_flush, sbk_process or the next blocking call writes them
 * with as few system calls as possible.  Useful
 * to refill a pipeline after draining several replies.
 */
void sbk_cork(struct sbk_client *, bool corked);
int sbk_flush(struct sbk_client *, struct sbk_error *err);

/* Half-close: tell the daemon no more requests come.  It still answers
 * every accepted job, then closes (sbk_recv then says SBK_ERR_CLOSED). */
int sbk_shutdown_write(struct sbk_client *, struct sbk_error *err);

enum sbk_msg_kind {
	SBK_MSG_RESULT,	      /* a success reply: result is set */
	SBK_MSG_ERROR,	      /* an error reply: error is set (kind RPC) */
	SBK_MSG_NOTIFICATION, /* a notification: method and params set */
	SBK_MSG_BATCH,	      /* an array reply to a batch: msg only */
};

/*
 * One message from the daemon.  msg owns everything; id, result and
 * params borrow from it.  id is json null for a reply with id null.
 * int_id is true when id is an integer (then id_num holds it).
 */
struct sbk_reply {
	enum sbk_msg_kind kind;
	json_t *msg;
	const json_t *id;
	bool int_id;
	int64_t id_num;
	const json_t *result;
	struct sbk_error error;
	const char *method;
	const json_t *params;
};

/*
 * Receive the next message: wait up to timeout_ms (0: only what is
 * already readable; -1: forever).  The deadline is checked after every
 * message handled inside (a notification given to the callback, a stray
 * dropped), so a daemon that never stops sending cannot hold the call.  Returns 1 with *reply filled (release
 * it with sbk_reply_clear), 0 when nothing came in time, -1 with err
 * filled (SBK_ERR_CLOSED, SBK_ERR_PROTOCOL, SBK_ERR_SYSTEM).  Any
 * buffered request is flushed first.
 */
int sbk_recv(struct sbk_client *, struct sbk_reply *reply, int timeout_ms,
    struct sbk_error *err);
void sbk_reply_clear(struct sbk_reply *);

/*
 * --- The asynchronous interface (sbk-async.c) ---
 *
 * For programs built around an event loop: nothing below blocks.  A
 * request is buffered and written when the socket is writable (never
 * lost or half-sent because the socket was full); its reply, its
 * "progress" notifications, its timeout or the loss of the connection
 * reach its own callback.  The loop asks sbk_events() and
 * sbk_next_timeout(), polls sbk_fd(), and calls sbk_process() when the
 * fd is ready or the timeout passed.  sbk-libevent.h does this for
 * libevent.  Blocking calls (sbk_call, sbk_recv) may be mixed in: a
 * reply for an async request that they read goes to its callback.
 */

/*
 * One message for an asynchronous request, on the loop's thread, from
 * inside sbk_process (or a blocking call, or sbk_close).  reply and all
 * it points to are borrowed for the duration of the call.
 *   SBK_MSG_RESULT        the reply: reply->result
 *   SBK_MSG_ERROR         the end: an error reply (reply->error.kind
 *                         SBK_ERR_RPC), or SBK_ERR_TIMEOUT (the request's
 *                         timeout passed; job.cancel was sent),
 *                         SBK_ERR_CLOSED or SBK_ERR_CONNECT (the
 *                         connection failed or the client was closed)
 *   SBK_MSG_NOTIFICATION  a "progress" notification for this request;
 *                         more messages follow
 * Exactly one RESULT or ERROR ends every request whose sbk_call_async
 * returned an id.  The callback may call sbk_call_async; it must not
 * call sbk_close, sbk_call or sbk_recv.
 */
typedef void sbk_reply_cb(
    struct sbk_client *, const struct sbk_reply *reply, void *user_data);

/*
 * Connect without blocking: the socket is non-blocking from the start;
 * while the daemon's listen backlog is full the connect is tried again
 * (every 10 ms, driven by sbk_next_timeout/sbk_process) until
 * timeout_ms (-1: for ever) passes, and then every request fails with
 * SBK_ERR_CONNECT.  Requests may be queued meanwhile.  NULL only for an
 * immediate failure (no such socket, refused), with err filled.
 */
struct sbk_client *sbk_connect_async(
    const char *path, int timeout_ms, struct sbk_error *err);
/* False while a connect from sbk_connect_async is still waiting. */
bool sbk_connected(const struct sbk_client *);

/*
 * Queue method with params (NULL or an object; borrowed) and return its
 * id (this client's next integer id), or -1 with err filled
 * (SBK_ERR_USAGE, SBK_ERR_CLOSED once the connection failed, or out of
 * memory).  timeout_ms: the request's own deadline (-1: none).
 * user_data is passed to cb as is; the library never touches it.
 */
int64_t sbk_call_async(struct sbk_client *, const char *method,
    const json_t *params, int timeout_ms, sbk_reply_cb *cb, void *user_data,
    struct sbk_error *err);

/*
 * Batches: the sbk_call_async calls between sbk_batch_begin and
 * sbk_batch_end go out as one JSON-RPC batch (an array line; a single
 * request stays a plain line).  Each keeps its own callback: the
 * daemon's array reply is split into its members.  Call nothing but
 * sbk_call_async in between; the daemon refuses a batch larger than its
 * max_inflight_per_conn (one -32600 reply with id null, and then each
 * member's timeout or the close ends it).  sbk_batch_end returns 0, or
 * -1 when out of memory (the requests are then sent one per line).
 */
void sbk_batch_begin(struct sbk_client *);
int sbk_batch_end(struct sbk_client *, struct sbk_error *err);

/*
 * Retry a request answered with -32000 (overloaded) up to max_retries
 * times (default 0), each after the reply's data.retry_after_ms (100 ms
 * when absent).  Applies to async requests queued afterwards.  The
 * request line is kept in memory until the request ends, then wiped.
 */
void sbk_set_retries(struct sbk_client *, int max_retries);

/* What the client waits for (sbk_events): */
#define SBK_EV_READ  1 /* the fd readable */
#define SBK_EV_WRITE 2 /* the fd writable: output is pending */
int sbk_events(const struct sbk_client *);
/*
 * Milliseconds until sbk_process has timers to run (a request's
 * deadline, a retry, a connect attempt): 0 now, -1 none.
 */
int sbk_next_timeout(const struct sbk_client *);
/*
 * Do what can be done now: finish the connect, write pending output,
 * read and dispatch what arrived (at most 1,024 messages, so one busy
 * connection cannot starve the loop), run due timers.  revents is
 * informational (SBK_EV_* seen by the loop).  0, or -1 with err filled
 * when the connection failed (every async request has then had its
 * callback with SBK_ERR_CLOSED or SBK_ERR_CONNECT).  After it returns,
 * ask sbk_events and sbk_next_timeout again.
 */
int sbk_process(struct sbk_client *, int revents, struct sbk_error *err);
/* Async requests not yet ended. */
size_t sbk_async_pending(const struct sbk_client *);

/*
 * Called (on the caller's thread, outside any callback) when
 * sbk_call_async queued output from outside sbk_process, so that an
 * adapter can watch for writability again.  Adapters set it; one per
 * client.
 */
typedef void sbk_wakeup_cb(struct sbk_client *, void *arg);
void sbk_set_wakeup_cb(struct sbk_client *, sbk_wakeup_cb *cb, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* SBK_CLIENT_H */
