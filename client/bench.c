/*
 * bench.c - `sbkctl bench`: C connections, each keeping P requests in
 * flight, until N requests were sent or a duration ran out; latency of
 * every reply into a histogram, error replies counted by code.  The
 * connections are spread over a few threads, each running a poll loop
 * over its share with libsbk's pipelined interface (corked refills, so
 * a burst of replies costs one write).  A separate probe connection
 * pings every few ms during the load: ping runs on the daemon's event
 * thread and is never queued, so its latency shows event-thread stalls
 * that the loaded methods' latency would hide.
 *
 * Thread safety: each load thread owns its connections, histogram and
 * counters; they share only the atomic request budget and stop flag.
 * The main thread merges the results after joining them.
 */
#include "sbk-config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "hist.h"
#include "rpc.h"
#include "sbk-client.h"

#define BENCH_MAX_CODES 32
#define BENCH_SLOT_BITS 16
#define BENCH_SLOT_MASK ((1u << BENCH_SLOT_BITS) - 1)
#define BENCH_POLL_MS	50
/* 64 buckets per power of two: a percentile within about 1.6%. */
#define BENCH_HIST_BITS 6

struct code_count {
	int code;
	uint64_t count;
};

/* What a thread (or the probe) measured. */
struct tally {
	struct hist *hist;
	uint64_t sent;
	uint64_t ok;
	uint64_t errors;
	uint64_t lost; /* in flight on a lost connection */
	struct code_count codes[BENCH_MAX_CODES];
	int ncodes;
	char failure[320]; /* first transport failure */
};

/*
 * One load connection.  A request's id is (generation << 16 | slot):
 * the slot indexes its send time, the generation tells a late or
 * foreign reply from the slot's current request.
 */
struct bconn {
	struct sbk_client *c;
	uint64_t *sent_ns;
	uint32_t *gen;
	uint16_t *free_slots;
	int nfree;
	int inflight;
	uint64_t last_reply_ns;
	bool dead;
};

struct bench;

struct bthread {
	pthread_t tid;
	struct bench *b;
	struct bconn *conns;
	int nconns;
	struct tally t;
};

struct bench {
	struct ctl *ctl;
	const char *method;
	json_t *params;
	int pipeline;
	uint64_t requests; /* 0: run for duration */
	uint64_t end_ns;   /* duration mode: stop sending */
	atomic_uint_fast64_t issued;
	atomic_bool stop_probe;
	struct tally probe;
	int probe_ms;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

static void
add_code(struct tally *t, int code, uint64_t n)
{
	int i;

	t->errors += n;
	for (i = 0; i < t->ncodes; i++) {
		if (t->codes[i].code == code) {
			t->codes[i].count += n;
			return;
		}
	}
	/* Past BENCH_MAX_CODES distinct codes only the total counts. */
	if (t->ncodes < BENCH_MAX_CODES) {
		t->codes[t->ncodes].code = code;
		t->codes[t->ncodes].count = n;
		t->ncodes++;
	}
}

static void
count_code(struct tally *t, int code)
{
	add_code(t, code, 1);
}

static void
fail(struct tally *t, const char *what, const struct sbk_error *err)
{
	char msg[256];

	if (t->failure[0] == '\0') {
		/* The message may come from the daemon: escaped. */
		ctl_escape(msg, sizeof(msg), err->message);
		snprintf(t->failure, sizeof(t->failure), "%s: %s", what, msg);
	}
}

/* May one more request be sent?  Takes it from the budget if so. */
static bool
take_ticket(struct bench *b)
{
	if (b->requests == 0)
		return (now_ns() < b->end_ns);
	return (atomic_fetch_add(&b->issued, 1) < b->requests);
}

/* A connection is lost: its requests in flight will never be answered. */
static void
lose(struct bthread *th, struct bconn *bc, const char *what,
    const struct sbk_error *err)
{
	fail(&th->t, what, err);
	th->t.lost += (uint64_t)bc->inflight;
	bc->inflight = 0;
	bc->dead = true;
}

static int
send_one(struct bthread *th, struct bconn *bc)
{
	struct sbk_error err = { 0 };
	json_t *id;
	uint16_t slot;
	int rc;

	slot = bc->free_slots[--bc->nfree];
	bc->gen[slot] = (bc->gen[slot] + 1) & 0x7fffffff;
	id =
	    json_integer(((json_int_t)bc->gen[slot] << BENCH_SLOT_BITS) | slot);
	bc->sent_ns[slot] = now_ns();
	rc = sbk_send_id(bc->c, id, th->b->method, th->b->params, &err);
	json_decref(id);
	if (rc == -1) {
		bc->free_slots[bc->nfree++] = slot;
		lose(th, bc, "send", &err);
		sbk_error_clear(&err);
		return (-1);
	}
	bc->inflight++;
	th->t.sent++;
	return (0);
}

/* Top the connection up to P requests in flight, one write for all. */
static void
refill(struct bthread *th, struct bconn *bc)
{
	struct sbk_error err = { 0 };
	bool sent = false;

	sbk_cork(bc->c, true);
	while (!bc->dead && bc->nfree > 0 && take_ticket(th->b)) {
		if (send_one(th, bc) == -1)
			break;
		sent = true;
	}
	sbk_cork(bc->c, false);
	if (sent && !bc->dead && sbk_flush(bc->c, &err) == -1) {
		lose(th, bc, "send", &err);
		sbk_error_clear(&err);
	}
}

static void
handle_reply(
    struct bthread *th, struct bconn *bc, struct sbk_reply *r, uint64_t now)
{
	uint32_t slot, gen;

	if (r->kind == SBK_MSG_NOTIFICATION)
		return;
	if (!r->int_id || r->id_num < 0) {
		/* id null: refused connection, or a request it could not
		 * read; counted, and the close that follows is a loss. */
		if (r->kind == SBK_MSG_ERROR)
			count_code(&th->t, r->error.code);
		return;
	}
	slot = (uint32_t)r->id_num & BENCH_SLOT_MASK;
	gen = (uint32_t)((uint64_t)r->id_num >> BENCH_SLOT_BITS);
	if (slot >= (uint32_t)th->b->pipeline || bc->gen[slot] != gen)
		return;
	hist_add(th->t.hist, now - bc->sent_ns[slot]);
	bc->last_reply_ns = now; /* only a reply shows progress */
	bc->gen[slot] = (bc->gen[slot] + 1) & 0x7fffffff; /* answered */
	bc->free_slots[bc->nfree++] = (uint16_t)slot;
	bc->inflight--;
	if (r->kind == SBK_MSG_ERROR)
		count_code(&th->t, r->error.code);
	else
		th->t.ok++;
}

/*
 * Handle what the connection has, at most a round's worth: a daemon
 * that floods notifications must not keep the thread here (the stall
 * timer runs only between rounds).
 */
static void
drain(struct bthread *th, struct bconn *bc)
{
	struct sbk_error err = { 0 };
	struct sbk_reply r;
	int rc = 0, budget = 2 * th->b->pipeline + 64;

	while (budget-- > 0 && (rc = sbk_recv(bc->c, &r, 0, &err)) == 1) {
		handle_reply(th, bc, &r, now_ns());
		sbk_reply_clear(&r);
	}
	if (budget < 0)
		return;
	if (rc == -1) {
		lose(th, bc, "recv", &err);
		sbk_error_clear(&err);
	}
}

static void *
load_thread(void *arg)
{
	struct bthread *th = arg;
	struct bconn *bc;
	struct pollfd *pfd;
	struct sbk_error err = { 0 };
	uint64_t now, stall_ns;
	int i, live, timeout;

	stall_ns = th->b->ctl->timeout_ms < 0 ?
	    UINT64_MAX :
	    (uint64_t)th->b->ctl->timeout_ms * 1000000u;
	pfd = calloc((size_t)th->nconns, sizeof(*pfd));
	if (pfd == NULL) {
		snprintf(th->t.failure, sizeof(th->t.failure), "out of memory");
		return (NULL);
	}
	now = now_ns();
	for (i = 0; i < th->nconns; i++) {
		th->conns[i].last_reply_ns = now;
		refill(th, &th->conns[i]);
	}
	for (;;) {
		live = 0;
		timeout = BENCH_POLL_MS;
		for (i = 0; i < th->nconns; i++) {
			bc = &th->conns[i];
			pfd[i].fd = -1;
			pfd[i].revents = 0;
			if (bc->dead || bc->inflight == 0)
				continue;
			live++;
			pfd[i].fd = sbk_fd(bc->c);
			pfd[i].events = POLLIN;
			if (sbk_pending(bc->c))
				timeout = 0;
		}
		if (live == 0)
			break;
		if (poll(pfd, (nfds_t)th->nconns, timeout) == -1 &&
		    errno != EINTR)
			break;
		now = now_ns();
		for (i = 0; i < th->nconns; i++) {
			bc = &th->conns[i];
			if (pfd[i].fd == -1)
				continue;
			if (pfd[i].revents != 0 || sbk_pending(bc->c)) {
				drain(th, bc);
				refill(th, bc);
			}
			now = now_ns(); /* after the replies just handled */
			if (!bc->dead && bc->inflight > 0 &&
			    now - bc->last_reply_ns > stall_ns) {
				err.kind = SBK_ERR_TIMEOUT;
				snprintf(err.message, sizeof(err.message),
				    "no reply for %d ms",
				    th->b->ctl->timeout_ms);
				lose(th, bc, "timeout", &err);
			}
		}
	}
	free(pfd);
	return (NULL);
}

/* Ping every probe_ms on its own connection until told to stop. */
static void *
probe_thread(void *arg)
{
	struct bench *b = arg;
	struct sbk_client *c;
	struct sbk_error err = { 0 };
	struct timespec ts;
	json_t *res;
	uint64_t t0, next, interval;

	interval = (uint64_t)b->probe_ms * 1000000u;
	if ((c = sbk_connect_timeout(
		 b->ctl->socket, b->ctl->timeout_ms, &err)) == NULL) {
		fail(&b->probe, "probe connect", &err);
		sbk_error_clear(&err);
		return (NULL);
	}
	next = now_ns();
	while (!atomic_load(&b->stop_probe)) {
		t0 = now_ns();
		b->probe.sent++;
		res = sbk_call(c, "ping", NULL, 1000, &err);
		if (res != NULL) {
			hist_add(b->probe.hist, now_ns() - t0);
			b->probe.ok++;
			json_decref(res);
		} else if (err.kind == SBK_ERR_RPC) {
			hist_add(b->probe.hist, now_ns() - t0);
			count_code(&b->probe, err.code);
		} else if (err.kind == SBK_ERR_TIMEOUT) {
			b->probe.lost++;
			fail(&b->probe, "probe", &err);
		} else {
			b->probe.lost++;
			fail(&b->probe, "probe", &err);
			break;
		}
		sbk_error_clear(&err);
		/* Fixed schedule; a late ping does not shift the next one. */
		next += interval;
		t0 = now_ns();
		if (next > t0) {
			ts.tv_sec = (time_t)((next - t0) / 1000000000u);
			ts.tv_nsec = (long)((next - t0) % 1000000000u);
			nanosleep(&ts, NULL);
		} else
			next = t0;
	}
	sbk_error_clear(&err);
	sbk_close(c);
	return (NULL);
}

static uint64_t
sum_codes(const struct tally *t)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < t->ncodes; i++)
		n += t->codes[i].count;
	return (n);
}

static void
merge(struct tally *dst, const struct tally *src)
{
	int i;

	hist_merge(dst->hist, src->hist);
	dst->sent += src->sent;
	dst->ok += src->ok;
	dst->lost += src->lost;
	for (i = 0; i < src->ncodes; i++)
		add_code(dst, src->codes[i].code, src->codes[i].count);
	/* Errors past the distinct-code table still count in the total. */
	dst->errors += src->errors - (uint64_t)sum_codes(src);
	if (dst->failure[0] == '\0')
		memcpy(dst->failure, src->failure, sizeof(dst->failure));
}

static int
cmp_code(const void *a, const void *b)
{
	const struct code_count *x = a, *y = b;

	return (x->code < y->code ? 1 : x->code > y->code ? -1 : 0);
}

/* ns to ms, rounded to the microsecond (finer is noise). */
static double
ms(uint64_t ns)
{
	return ((double)((ns + 500) / 1000) / 1e3);
}

static json_t *
latency_json(const struct hist *h)
{
	return (json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "p50",
	    ms(hist_quantile(h, 0.50)), "p90", ms(hist_quantile(h, 0.90)),
	    "p99", ms(hist_quantile(h, 0.99)), "p99.9",
	    ms(hist_quantile(h, 0.999)), "max", ms(hist_max(h)), "mean",
	    ms((uint64_t)hist_mean(h))));
}

static json_t *
codes_json(const struct tally *t)
{
	json_t *o;
	char key[16];
	int i;

	o = json_object();
	for (i = 0; i < t->ncodes; i++) {
		snprintf(key, sizeof(key), "%d", t->codes[i].code);
		json_object_set_new(
		    o, key, json_integer((json_int_t)t->codes[i].count));
	}
	return (o);
}

static void
print_latency(const char *label, const struct hist *h)
{
	printf("%-14s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  "
	       "mean %.3f\n",
	    label, ms(hist_quantile(h, 0.50)), ms(hist_quantile(h, 0.90)),
	    ms(hist_quantile(h, 0.99)), ms(hist_quantile(h, 0.999)),
	    ms(hist_max(h)), ms((uint64_t)hist_mean(h)));
}

static void
report(struct bench *b, struct tally *all, int nthreads, double elapsed)
{
	struct ctl *ctl = b->ctl;
	json_t *o, *p;
	uint64_t answered;
	int i;

	answered = all->ok + all->errors;
	qsort(all->codes, (size_t)all->ncodes, sizeof(all->codes[0]), cmp_code);
	qsort(b->probe.codes, (size_t)b->probe.ncodes,
	    sizeof(b->probe.codes[0]), cmp_code);
	if (ctl->json) {
		o = json_pack("{s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I,"
			      " s:f, s:f, s:o, s:o}",
		    "method", b->method, "connections", ctl->conns, "pipeline",
		    b->pipeline, "threads", nthreads, "sent",
		    (json_int_t)all->sent, "answered", (json_int_t)answered,
		    "ok", (json_int_t)all->ok, "errors",
		    (json_int_t)all->errors, "lost", (json_int_t)all->lost,
		    "elapsed_s", (double)(uint64_t)(elapsed * 1e6) / 1e6,
		    "throughput_rps",
		    elapsed > 0 ?
			(double)(uint64_t)(answered / elapsed * 10) / 10 :
			0.0,
		    "latency_ms", latency_json(all->hist), "error_codes",
		    codes_json(all));
		if (b->requests > 0)
			json_object_set_new(o, "target",
			    json_pack(
				"{s:I}", "requests", (json_int_t)b->requests));
		else
			json_object_set_new(o, "target",
			    json_pack("{s:f}", "duration_s", ctl->duration_s));
		if (b->params != NULL)
			json_object_set(o, "params", b->params);
		if (all->failure[0] != '\0')
			json_object_set_new(
			    o, "failure", json_string(all->failure));
		if (b->probe_ms > 0) {
			p = json_pack("{s:i, s:I, s:I, s:I, s:o, s:o}",
			    "interval_ms", b->probe_ms, "sent",
			    (json_int_t)b->probe.sent, "ok",
			    (json_int_t)b->probe.ok, "lost",
			    (json_int_t)b->probe.lost, "latency_ms",
			    latency_json(b->probe.hist), "error_codes",
			    codes_json(&b->probe));
			json_object_set_new(o, "probe", p);
		}
		json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(12));
		putchar('\n');
		json_decref(o);
		return;
	}
	printf("%-14s %s\n", "method", b->method);
	printf("%-14s %d x %d in flight, %d thread%s\n", "connections",
	    ctl->conns, b->pipeline, nthreads, nthreads == 1 ? "" : "s");
	printf("%-14s %" PRIu64 " sent, %" PRIu64 " answered (%" PRIu64
	       " ok, %" PRIu64 " errors), %" PRIu64 " lost\n",
	    "requests", all->sent, answered, all->ok, all->errors, all->lost);
	printf("%-14s %.3f s\n", "elapsed", elapsed);
	/* Refusals (-32000) are answers too: ok/s is the work done. */
	printf("%-14s %.0f req/s (%.0f ok/s)\n", "throughput",
	    elapsed > 0 ? answered / elapsed : 0.0,
	    elapsed > 0 ? all->ok / elapsed : 0.0);
	print_latency("latency (ms)", all->hist);
	for (i = 0; i < all->ncodes; i++)
		printf("%-14s %d %s: %" PRIu64 "\n", i == 0 ? "errors" : "",
		    all->codes[i].code, rpc_code_message(all->codes[i].code),
		    all->codes[i].count);
	if (all->failure[0] != '\0')
		printf("%-14s %s\n", "failure", all->failure);
	if (b->probe_ms > 0) {
		printf("%-14s ping every %d ms: %" PRIu64 " sent, %" PRIu64
		       " ok, %" PRIu64 " lost\n",
		    "probe", b->probe_ms, b->probe.sent, b->probe.ok,
		    b->probe.lost);
		print_latency("probe (ms)", b->probe.hist);
		if (b->probe.failure[0] != '\0')
			printf("%-14s %s\n", "", b->probe.failure);
	}
}

static int
setup_conn(struct bench *b, struct bconn *bc)
{
	struct sbk_error err = { 0 };
	int i;

	bc->c = sbk_connect_timeout(b->ctl->socket, b->ctl->timeout_ms, &err);
	if (bc->c == NULL) {
		fprintf(stderr,
		    "%s: bench: cannot connect to sbkd: ", b->ctl->prog);
		ctl_fputs_esc(err.message, stderr);
		fputc('\n', stderr);
		sbk_error_clear(&err);
		return (-1);
	}
	bc->sent_ns = calloc((size_t)b->pipeline, sizeof(*bc->sent_ns));
	bc->gen = calloc((size_t)b->pipeline, sizeof(*bc->gen));
	bc->free_slots = calloc((size_t)b->pipeline, sizeof(*bc->free_slots));
	if (bc->sent_ns == NULL || bc->gen == NULL || bc->free_slots == NULL) {
		fprintf(stderr, "%s: out of memory\n", b->ctl->prog);
		return (-1);
	}
	for (i = 0; i < b->pipeline; i++)
		bc->free_slots[i] = (uint16_t)(b->pipeline - 1 - i);
	bc->nfree = b->pipeline;
	return (0);
}

int
ctl_bench(struct ctl *ctl)
{
	struct bench b;
	struct bconn *conns;
	struct bthread *threads;
	struct tally all;
	pthread_t probe_tid;
	json_error_t jerr;
	uint64_t start, end;
	long ncpu;
	int i, nthreads, rc = CTL_OK;
	bool probing = false;

	memset(&b, 0, sizeof(b));
	memset(&all, 0, sizeof(all));
	b.ctl = ctl;
	b.method = ctl->method != NULL ? ctl->method : "ping";
	b.pipeline = ctl->pipeline > 0 ? ctl->pipeline : 16;
	if (ctl->conns <= 0)
		ctl->conns = 4;
	if (ctl->requests > 0 && ctl->duration_s > 0) {
		fprintf(
		    stderr, "%s: bench: give -n or -d, not both\n", ctl->prog);
		return (CTL_USAGE);
	}
	if (ctl->duration_s <= 0)
		b.requests =
		    ctl->requests > 0 ? (uint64_t)ctl->requests : 10000;
	b.probe_ms = ctl->probe_ms < 0 ? 5 : ctl->probe_ms;
	if (ctl->params != NULL) {
		b.params = json_loads(ctl->params, JSON_DECODE_ANY, &jerr);
		if (b.params == NULL || !json_is_object(b.params)) {
			fprintf(stderr,
			    "%s: bench: --params must be a JSON "
			    "object\n",
			    ctl->prog);
			json_decref(b.params);
			return (CTL_USAGE);
		}
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	nthreads = ctl->threads > 0 ? ctl->threads : (int)(ncpu > 0 ? ncpu : 1);
	if (nthreads > ctl->conns)
		nthreads = ctl->conns;

	conns = calloc((size_t)ctl->conns, sizeof(*conns));
	threads = calloc((size_t)nthreads, sizeof(*threads));
	all.hist = hist_new(BENCH_HIST_BITS);
	b.probe.hist = hist_new(BENCH_HIST_BITS);
	if (conns == NULL || threads == NULL || all.hist == NULL ||
	    b.probe.hist == NULL) {
		fprintf(stderr, "%s: out of memory\n", ctl->prog);
		rc = CTL_NEGATIVE;
		goto out;
	}
	/* Every connection is open before the clock starts. */
	for (i = 0; i < ctl->conns; i++) {
		if (setup_conn(&b, &conns[i]) == -1) {
			rc = CTL_CONNECT;
			goto out;
		}
	}
	for (i = 0; i < nthreads; i++) {
		threads[i].b = &b;
		threads[i].conns = conns + (size_t)ctl->conns * i / nthreads;
		threads[i].nconns =
		    ctl->conns * (i + 1) / nthreads - ctl->conns * i / nthreads;
		if ((threads[i].t.hist = hist_new(BENCH_HIST_BITS)) == NULL) {
			fprintf(stderr, "%s: out of memory\n", ctl->prog);
			rc = CTL_NEGATIVE;
			goto out;
		}
	}
	if (b.probe_ms > 0) {
		if (pthread_create(&probe_tid, NULL, probe_thread, &b) != 0) {
			fprintf(stderr, "%s: bench: cannot start a thread\n",
			    ctl->prog);
			rc = CTL_NEGATIVE;
			goto out;
		}
		probing = true;
	}
	start = now_ns();
	if (b.requests == 0)
		b.end_ns = start + (uint64_t)(ctl->duration_s * 1e9);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(
			&threads[i].tid, NULL, load_thread, &threads[i]) != 0) {
			fprintf(stderr, "%s: bench: cannot start a thread\n",
			    ctl->prog);
			/* Run what started; fewer threads, same budget. */
			nthreads = i;
			break;
		}
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i].tid, NULL);
	end = now_ns();
	if (probing) {
		atomic_store(&b.stop_probe, true);
		pthread_join(probe_tid, NULL);
		probing = false;
	}
	for (i = 0; i < nthreads; i++)
		merge(&all, &threads[i].t);
	report(&b, &all, nthreads, (double)(end - start) / 1e9);
	if (all.lost > 0 || all.failure[0] != '\0')
		rc = CTL_CONNECT;
out:
	if (probing) {
		atomic_store(&b.stop_probe, true);
		pthread_join(probe_tid, NULL);
	}
	if (threads != NULL)
		for (i = 0; i < nthreads; i++)
			hist_free(threads[i].t.hist);
	if (conns != NULL) {
		for (i = 0; i < ctl->conns; i++) {
			sbk_close(conns[i].c);
			free(conns[i].sent_ns);
			free(conns[i].gen);
			free(conns[i].free_slots);
		}
	}
	free(conns);
	free(threads);
	hist_free(all.hist);
	hist_free(b.probe.hist);
	json_decref(b.params);
	return (rc);
}
