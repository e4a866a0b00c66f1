/*
 * isolate.c - the helper set and a worker's call into a helper; see
 * isolate.h.
 *
 * A helper is idle (on the idle list) or busy (owned by the one worker
 * running a job in it).  `alive` counts both, plus the helper the keeper
 * is starting, up to [isolation] helpers; a worker that finds none idle
 * waits in 10 ms slices, checking job_should_stop().  Whoever ends a
 * helper reaps it at once (helper_retire).
 *
 * Only the keeper thread starts helpers (posix_spawn: the child runs
 * nothing of sbkd's before exec), for sbkd's whole life: a helper's
 * PR_SET_PDEATHSIG (helper.c) fires when the *thread* that forked it
 * exits, and workers come and go with the pool's size.  So a helper dies
 * with sbkd, however sbkd ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "helper.h"
#include "isolate.h"
#include "job.h"
#include "log.h"
#include "sandbox.h"

/* poll slice: a stop is noticed within this (job.h: every 10 ms). */
#define ISO_SLICE_MS 10
/* After EOF, how long a dying helper gets to become a zombie. */
#define ISO_EXIT_WAIT_MS 1000

struct helper {
	struct helper *next;
	pid_t pid;
	int fd;	   /* sbkd's end of the channel, non-blocking */
	int pidfd; /* in the keeper's epoll set: readable once it exited */
	unsigned gen;
	unsigned jobs; /* served so far */
	bool dead;     /* the keeper saw it exit (under the mutex) */
};

enum chan_rc {
	CHAN_OK = 0,
	CHAN_DEAD = -1,	   /* EOF, reset: the helper is dying */
	CHAN_STOPPED = -2, /* job_should_stop() */
	CHAN_BROKEN = -3,  /* the helper broke the protocol */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a helper went idle, or a start failed */
	struct helper *idle;
	struct helper *busy;
	unsigned alive;	      /* idle + busy + being started */
	unsigned owed;	      /* helpers gone and not yet replaced */
	unsigned spawn_fails; /* a waiting worker gives up when it moves */
	int spawn_errno;
	unsigned passes; /* keeper_fill's, for iso_start */
	bool fill;	 /* keep [isolation] helpers alive: one was needed */
	bool stopping;	 /* the keeper leaves */
	/* Counted by the keeper once it replaced the helper (stats order). */
	unsigned pend_crashes, pend_killed, pend_retired;

	pthread_t keeper;
	bool keeper_on;
	int wake; /* eventfd: the keeper has work */
	int ep;	  /* the keeper's epoll set */
	/* sbkd's executable: helpers stay this build after an upgrade. */
	int exe_fd;

	/* Written by the main and event threads, read by workers. */
	_Atomic unsigned gen;
	_Atomic unsigned want; /* [isolation] helpers */
	_Atomic unsigned max_jobs;
	/* sandbox_budget() of the configuration: the helper's argv[2]. */
	_Atomic uint64_t budget;
	_Atomic int nice; /* [pool] cpu_worker_nice */

	/* Stats: read by the event thread. */
	_Atomic unsigned n_alive, n_busy;
	_Atomic unsigned long long jobs, crashes, respawns, killed, retired,
	    spawn_failures;
} iso = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.wake = -1,
	.ep = -1,
	.exe_fd = -1,
};

/* ---- Configuration ---- */

int
iso_config_check(
    const struct sbk_config *cfg, const char *path, char *why, size_t whylen)
{
	char **k = cfg->isolation_kinds;

	for (; k != NULL && *k != NULL; k++) {
		const struct job_kind *kind = job_kind_find(*k, strlen(*k));
		size_t off;

		if (kind != NULL &&
		    (kind->flags & (JOB_KIND_ISOLABLE | JOB_KIND_ISOLATED)))
			continue;
		off = (size_t)snprintf(why, whylen,
		    "%s: [isolation] kinds: \"%s\" %s; kinds that can be:",
		    path != NULL ? path : "built-in defaults", *k,
		    kind == NULL ? "is not a job kind" : "cannot be isolated");
		for (size_t i = 0; job_table[i] != NULL && off < whylen; i++)
			if ((job_table[i]->flags & JOB_KIND_ISOLABLE) != 0)
				off += (size_t)snprintf(why + off, whylen - off,
				    " %s", job_table[i]->method);
		if (off < whylen && why[off - 1] == ':')
			snprintf(why + off, whylen - off, " none");
		return -1;
	}
	return 0;
}

bool
iso_job_isolated(const struct job *job)
{
	char **k = job->config->isolation_kinds;

	if ((job->kind->flags & JOB_KIND_ISOLATED) != 0)
		return true;
	for (; k != NULL && *k != NULL; k++)
		if (strcmp(*k, job->kind->method) == 0)
			return true;
	return false;
}

/* ---- Helper processes ---- */

/*
 * Start one helper (the keeper only): empty environment, stdin and stdout
 * /dev/null, stderr sbkd's (sanitizer reports reach the log), the channel
 * on fd 3, default signals, its own process group (a ^C for a foreground
 * sbkd is sbkd's), and the CPU workers' priority.  NULL with errno set.
 */
static struct helper *
helper_spawn(unsigned gen)
{
	static char arg0[] = HELPER_ARGV0, arg1[] = HELPER_ARG;
	char arg2[SANDBOX_BUDGET_MAX_DIGITS + 1], arg3[24];
	char *argv[] = { arg0, arg1, arg2, arg3, NULL };
	char *envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	struct sched_param sp = { .sched_priority = 0 };
	struct helper *h;
	int sv[2], rc;

	snprintf(arg2, sizeof(arg2), "%llu",
	    (unsigned long long)atomic_load(&iso.budget));
	snprintf(arg3, sizeof(arg3), "%ld", (long)getpid());
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(h);
		return NULL;
	}
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	/* sbkd's end only: the two ends are two sockets. */
	rc = fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ? errno : 0;
	if (rc == 0 &&
	    (rc = posix_spawn_file_actions_addopen(
		 &fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_addopen(
		 &fa, 1, "/dev/null", O_WRONLY, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(
		 &fa, sv[1], HELPER_CHAN_FD)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(
		 &fa, iso.exe_fd, HELPER_EXE_FD)) == 0 &&
	    (rc = posix_spawn_file_actions_addclosefrom_np(
		 &fa, HELPER_EXE_FD + 1)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&at, &all)) == 0 &&
	    (rc = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
	    (rc = posix_spawnattr_setflags(&at,
		 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
		     POSIX_SPAWN_SETPGROUP)) == 0)
		rc = posix_spawn(&h->pid, "/proc/self/fd/" HELPER_EXE_FD_TEXT,
		    &fa, &at, argv, envp);
	/*
	 * glibc's spawn attributes know no SCHED_BATCH and no nice value: set
	 * both from here (lowering a priority needs no privilege; failure
	 * only costs the event thread some latency, as in pool.c).
	 */
	if (rc == 0) {
		sched_setscheduler(h->pid, SCHED_BATCH, &sp);
		setpriority(PRIO_PROCESS, (id_t)h->pid, atomic_load(&iso.nice));
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (rc != 0) {
		close(sv[0]);
		free(h);
		errno = rc;
		return NULL;
	}
	h->fd = sv[0];
	h->gen = gen;
	/*
	 * Without a pidfd (a filter that refuses pidfd_open) an idle death
	 * is noticed only when a worker next takes the helper.
	 */
	if ((h->pidfd = pidfd_open(h->pid, PIDFD_NONBLOCK)) >= 0) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT,
			.data.u64 = (uint64_t)h->pid };

		epoll_ctl(iso.ep, EPOLL_CTL_ADD, h->pidfd, &ev);
	}
	return h;
}

/* Under the mutex. */
static void
busy_remove(struct helper *h)
{
	for (struct helper **p = &iso.busy; *p != NULL; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	h->next = NULL;
}

/* Under the mutex: the counters the event thread reads. */
static void
publish(void)
{
	unsigned busy = 0;

	for (struct helper *h = iso.busy; h != NULL; h = h->next)
		busy++;
	atomic_store(&iso.n_alive, iso.alive);
	atomic_store(&iso.n_busy, busy);
}

/*
 * Under the mutex: a helper that must not take another job: it died, was
 * started for other limits (budget, nice) than the current ones, or has
 * served max_jobs.
 */
static bool
helper_stale(const struct helper *h)
{
	return h->dead || h->gen != atomic_load(&iso.gen) ||
	    h->jobs >= atomic_load(&iso.max_jobs);
}

/* Any thread, even under the mutex: never blocks (a non-blocking eventfd). */
static void
keeper_wake(void)
{
	uint64_t one = 1;

	if (iso.wake >= 0 && write(iso.wake, &one, sizeof(one)) < 0)
		(void)0; /* EAGAIN: the counter is already non-zero */
}

/*
 * Under the mutex, h on no list: end its process (SIGKILL, then waitpid on
 * its pid, never -1) and channel outside the mutex, and free it.  The
 * keeper replaces it and then adds one to *pend (NULL: crashes if it died,
 * else retired).  status: it closed its channel, so wait, bounded, for it
 * to become a zombie and reap its own status rather than our SIGKILL's.
 */
static void
helper_retire(struct helper *h, int *status, unsigned *pend)
{
	bool reaped = false;

	if (pend == NULL)
		pend = h->dead ? &iso.pend_crashes : &iso.pend_retired;
	pthread_mutex_unlock(&iso.mu);
	for (int i = 0; status != NULL && !reaped && i < ISO_EXIT_WAIT_MS;
	     i++) {
		pid_t r = waitpid(h->pid, status, WNOHANG);

		reaped = r == h->pid || (r < 0 && errno != EINTR);
		if (!reaped)
			usleep(1000);
	}
	if (!reaped) {
		kill(h->pid, SIGKILL);
		while (waitpid(h->pid, status, 0) < 0 && errno == EINTR)
			;
	}
	if (h->pidfd >= 0)
		close(h->pidfd); /* leaves the epoll set */
	close(h->fd);
	free(h);
	pthread_mutex_lock(&iso.mu);
	(*pend)++;
	iso.alive--;
	iso.owed++;
	publish();
	keeper_wake();
}

/* ---- The keeper thread: starts every helper ---- */

/*
 * Under the mutex: start helpers while fewer than [isolation] helpers are
 * alive (outside the mutex, since posix_spawn waits for the child's exec),
 * then count the ends that the new helpers replace.
 */
static void
keeper_fill(void)
{
	while (
	    iso.fill && !iso.stopping && iso.alive < atomic_load(&iso.want)) {
		unsigned gen = atomic_load(&iso.gen);
		struct helper *h;

		iso.alive++;
		pthread_mutex_unlock(&iso.mu);
		h = helper_spawn(gen);
		pthread_mutex_lock(&iso.mu);
		if (h == NULL) {
			iso.spawn_errno = errno;
			log_warn("isolation: cannot start a helper");
			atomic_fetch_add(&iso.spawn_failures, 1);
			iso.alive--;
			iso.spawn_fails++;
			break;
		}
		if (iso.owed > 0) {
			iso.owed--;
			atomic_fetch_add(&iso.respawns, 1);
		}
		h->next = iso.idle;
		iso.idle = h;
		publish();
		pthread_cond_broadcast(&iso.cv);
	}
	if (iso.alive >= atomic_load(&iso.want))
		iso.owed = 0;
	atomic_fetch_add(&iso.crashes, iso.pend_crashes);
	atomic_fetch_add(&iso.killed, iso.pend_killed);
	atomic_fetch_add(&iso.retired, iso.pend_retired);
	iso.pend_crashes = iso.pend_killed = iso.pend_retired = 0;
	iso.passes++;
	publish();
	pthread_cond_broadcast(&iso.cv);
}

/* Under the mutex: the helper of pid, idle or busy; NULL if none. */
static struct helper *
helper_find(pid_t pid)
{
	for (struct helper *h = iso.idle; h != NULL; h = h->next)
		if (h->pid == pid)
			return h;
	for (struct helper *h = iso.busy; h != NULL; h = h->next)
		if (h->pid == pid)
			return h;
	return NULL;
}

/*
 * Under the mutex: end the idle helpers that are stale or more than
 * [isolation] helpers; a busy one is its worker's (iso_call sees its
 * channel close, or sees it stale after the job).
 */
static void
keeper_sweep(void)
{
	struct helper **p = &iso.idle, *h;

	while ((h = *p) != NULL) {
		if (!helper_stale(h) && iso.alive <= atomic_load(&iso.want)) {
			p = &h->next;
			continue;
		}
		*p = h->next;
		if (h->dead)
			log_warnx(
			    "isolation: idle helper %ld died", (long)h->pid);
		helper_retire(h, NULL, NULL);
		p = &iso.idle; /* the list may have changed meanwhile */
	}
}

static void *
keeper_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&iso.mu);
	while (!iso.stopping) {
		struct epoll_event ev[8];
		uint64_t n;
		int k;

		keeper_sweep();
		keeper_fill();
		pthread_mutex_unlock(&iso.mu);
		/* A wake written since keeper_fill is still in the eventfd. */
		if ((k = epoll_wait(iso.ep, ev, 8, -1)) < 0 && errno != EINTR)
			log_warn("isolation: epoll_wait");
		if (read(iso.wake, &n, sizeof(n)) < 0)
			(void)0; /* EAGAIN: woken by a helper's exit */
		pthread_mutex_lock(&iso.mu);
		for (int i = 0; i < k; i++) {
			/*
			 * A pid's event may be stale (its helper ended and the
			 * pid reused since): believe only the pidfd.
			 */
			struct helper *h = helper_find((pid_t)ev[i].data.u64);
			struct pollfd pfd = { .events = POLLIN };

			if (h != NULL && (pfd.fd = h->pidfd) >= 0 &&
			    poll(&pfd, 1, 0) > 0)
				h->dead = true;
		}
	}
	pthread_mutex_unlock(&iso.mu);
	return NULL;
}

/* ---- Taking and giving back, from a worker ---- */

/* An idle helper with something to say (EOF, above all) has died. */
static bool
idle_dead(const struct helper *h)
{
	struct pollfd pfd = { .fd = h->fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/*
 * A helper of the current generation for this job's worker: an idle one,
 * or wait for the keeper to start one.  NULL with err set when a start
 * failed while it waited, or when the job was told to stop.
 */
static struct helper *
helper_take(struct job *job, struct rpc_error *err)
{
	struct helper *h;
	struct timespec ts;
	unsigned fails;
	bool asked = false;

	pthread_mutex_lock(&iso.mu);
	fails = iso.spawn_fails;
	for (;;) {
		if ((h = iso.idle) != NULL) {
			iso.idle = h->next;
			h->dead = h->dead || idle_dead(h);
			if (!helper_stale(h))
				break;
			/* Retire it (stale, or died since the keeper looked). */
			helper_retire(h, NULL, NULL);
			continue;
		}
		if (iso.spawn_fails != fails) {
			rpc_error_errno(err, iso.spawn_errno,
			    "cannot start an isolated helper");
			break;
		}
		if (job_should_stop(job)) {
			rpc_error_set(err, RPC_CANCELLED, NULL, "stopped");
			break;
		}
		if (!asked && iso.alive < atomic_load(&iso.want)) {
			/* The first use, or a retry after a failed start. */
			iso.fill = true;
			keeper_wake();
			asked = true;
		}
		/* The condition variable's clock: the default one. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += ISO_SLICE_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&iso.cv, &iso.mu, &ts);
	}
	if (h != NULL) {
		h->next = iso.busy;
		iso.busy = h;
		publish();
	}
	pthread_mutex_unlock(&iso.mu);
	return h;
}

/*
 * The job is over: a healthy helper goes idle again, unless it is stale or
 * surplus; any other (rc) is ended.
 */
static void
helper_put(struct helper *h, enum chan_rc rc, int *status)
{
	pthread_mutex_lock(&iso.mu);
	busy_remove(h);
	h->jobs++;
	if (rc != CHAN_OK)
		helper_retire(h, rc == CHAN_DEAD ? status : NULL,
		    rc == CHAN_STOPPED ? &iso.pend_killed : &iso.pend_crashes);
	else if (helper_stale(h) || iso.alive > atomic_load(&iso.want))
		helper_retire(h, NULL, NULL);
	else {
		h->next = iso.idle;
		iso.idle = h;
		publish();
		pthread_cond_signal(&iso.cv);
	}
	pthread_mutex_unlock(&iso.mu);
}

/* ---- The channel, from a worker ---- */

/*
 * All of buf out (fds attached to its first byte) or in, waiting in
 * slices and checking for a stop.
 */
static enum chan_rc
chan_io(struct helper *h, struct job *job, bool out, void *buf, size_t len,
    const int fds[2])
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char *p = buf;

	while (len > 0) {
		struct iovec iov = { p, len };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		struct pollfd pfd = { h->fd, out ? POLLOUT : POLLIN, 0 };
		ssize_t n;

		if (fds != NULL) {
			struct cmsghdr *cm;

			memset(&ctl, 0, sizeof(ctl));
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof(ctl.buf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
			memcpy(CMSG_DATA(cm), fds, 2 * sizeof(int));
		}
		n = out ? sendmsg(h->fd, &msg, MSG_NOSIGNAL) :
			  read(h->fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			fds = NULL;
		} else if (n < 0 && errno == EAGAIN) {
			if (job_should_stop(job))
				return CHAN_STOPPED;
			/* Errors show at the next read or write. */
			if (poll(&pfd, 1, ISO_SLICE_MS) < 0 && errno != EINTR)
				return CHAN_DEAD;
		} else if (n == 0 || errno != EINTR) {
			return CHAN_DEAD; /* EOF, ECONNRESET, EPIPE */
		}
	}
	return CHAN_OK;
}

/* The DONE reply's error, as the helper sent it. */
static enum chan_rc
recv_error(struct helper *h, struct job *job, struct iso_reply *r,
    struct rpc_error *err)
{
	char data[ISO_DATA_MAX];
	json_t *j = NULL;
	enum chan_rc rc;

	if (r->code > 0 || r->data_len > ISO_DATA_MAX)
		return CHAN_BROKEN;
	if ((rc = chan_io(h, job, false, data, r->data_len, NULL)) != CHAN_OK)
		return rc;
	if (r->data_len > 0)
		j = json_loadb(data, r->data_len, 0, NULL);
	r->message[sizeof(r->message) - 1] = '\0';
	rpc_error_set(err, r->code, j, "%s", r->message);
	return CHAN_OK;
}

/*
 * Request out, replies in until DONE.  CHAN_OK with either *res filled
 * (and *failed false) or err set by the op (*failed true).
 */
static enum chan_rc
exchange(struct helper *h, struct job *job, const struct iso_request *req,
    const void *in, const int fds[2], struct iso_result *res, bool *failed,
    struct rpc_error *err)
{
	bool paths = (req->flags & ISO_F_PATHS) != 0;
	struct iso_reply r;
	enum chan_rc rc;

	*failed = false;
	rc = chan_io(
	    h, job, true, (void *)req, sizeof(*req), paths ? fds : NULL);
	if (rc == CHAN_OK)
		rc = chan_io(h, job, true, (void *)in, req->in_len, NULL);
	if (rc != CHAN_OK)
		return rc;
	while ((rc = chan_io(h, job, false, &r, sizeof(r), NULL)) == CHAN_OK &&
	    r.magic == ISO_MAGIC && r.type == ISO_MSG_PROGRESS)
		job_progress(job, r.done, r.total);
	if (rc != CHAN_OK)
		return rc;
	if (r.magic != ISO_MAGIC || r.type != ISO_MSG_DONE)
		return CHAN_BROKEN;
	if (r.code != 0) {
		if ((rc = recv_error(h, job, &r, err)) == CHAN_OK)
			*failed = true;
		return rc;
	}
	res->bytes_in = r.done;
	res->out_len = r.out_len;
	if (paths || r.out_len == 0)
		return CHAN_OK;
	if (r.out_len > req->out_max)
		return CHAN_BROKEN;
	if ((res->out = malloc((size_t)r.out_len)) == NULL) {
		/* Cannot keep the stream in step: the helper goes. */
		rpc_error_set(err, RPC_INTERNAL_ERROR, NULL, "out of memory");
		*failed = true;
		return CHAN_BROKEN;
	}
	if ((rc = chan_io(h, job, false, res->out, (size_t)r.out_len, NULL)) !=
	    CHAN_OK) {
		free(res->out);
		res->out = NULL;
	}
	return rc;
}

/* -32005 saying how the helper died. */
static void
death_error(int status, struct rpc_error *err)
{
	char name[32];

	if (WIFSIGNALED(status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(status));

		if (abbrev != NULL)
			snprintf(name, sizeof(name), "SIG%s", abbrev);
		else
			snprintf(name, sizeof(name), "%d", WTERMSIG(status));
		rpc_error_set(err, RPC_IO_ERROR,
		    json_pack("{s:s}", "signal", name),
		    "isolated helper killed by %s", name);
	} else {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

		rpc_error_set(err, RPC_IO_ERROR,
		    json_pack("{s:i}", "exit", code),
		    "isolated helper exited with status %d", code);
	}
}

int
iso_call(struct job *job, const struct iso_request *req0, const void *in,
    size_t in_len, const int fds[2], struct iso_result *res,
    struct rpc_error *err)
{
	struct iso_request req = *req0;
	struct helper *h;
	enum chan_rc rc;
	bool failed;
	int status = 0;
	long pid;

	memset(res, 0, sizeof(*res));
	req.magic = ISO_MAGIC;
	req.in_len = (req.flags & ISO_F_PATHS) != 0 ? 0 : in_len;
	if ((h = helper_take(job, err)) == NULL)
		return -1;
	atomic_fetch_add(&iso.jobs, 1);
	pid = (long)h->pid;
	rc = exchange(h, job, &req, in, fds, res, &failed, err);
	helper_put(h, rc, &status);
	switch (rc) {
	case CHAN_OK:
		return failed ? -1 : 0;
	case CHAN_DEAD:
		death_error(status, err);
		log_warnx("isolation: helper %ld of a %s job died (%s)", pid,
		    job->kind->method, err->message);
		return -1;
	case CHAN_STOPPED:
		rpc_error_set(err, RPC_CANCELLED, NULL, "stopped");
		return -1;
	case CHAN_BROKEN:
		if (!failed)
			rpc_error_set(err, RPC_INTERNAL_ERROR, NULL,
			    "isolated helper broke the protocol");
		log_warnx("isolation: helper of a %s job broke the protocol",
		    job->kind->method);
		return -1;
	}
	return -1;
}

/* ---- Start, reload, stop, stats ---- */

/* Before the generation moves: the keeper starts with the new budget. */
static void
set_limits(const struct sbk_config *cfg)
{
	atomic_store(&iso.want, cfg->isolation_helpers);
	atomic_store(&iso.max_jobs, cfg->isolation_max_jobs);
	atomic_store(&iso.budget, sandbox_budget(cfg));
	atomic_store(&iso.nice, (int)cfg->cpu_worker_nice);
}

int
iso_start(const struct sbk_config *cfg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t all, old;
	int fd, rc;

	/*
	 * Above the helper's fixed fds: the spawn's dup2 onto
	 * HELPER_CHAN_FD would otherwise overwrite an exe_fd of 3 (sbkd
	 * started with only 0-2 open) before it is dup'ed to HELPER_EXE_FD.
	 */
	if ((fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0 ||
	    (iso.exe_fd = fcntl(fd, F_DUPFD_CLOEXEC, HELPER_EXE_FD + 1)) < 0) {
		log_warn("isolation: open(/proc/self/exe)");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	/*
	 * An ignored SIGCHLD survives exec and would have the kernel reap
	 * the helpers itself: no status, so no signal to report.
	 */
	signal(SIGCHLD, SIG_DFL);
	set_limits(cfg);
	atomic_store(&iso.gen, 1);
	iso.fill = cfg->isolation_kinds != NULL || cfg->enable_test_methods;
	if ((iso.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    (iso.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(iso.ep, EPOLL_CTL_ADD, iso.wake, &ev) < 0) {
		log_warn("isolation: the keeper's eventfd or epoll");
		iso_stop();
		return -1;
	}
	/* Signals are the event thread's, as for the pools' workers. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&iso.keeper, NULL, keeper_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		log_warn("isolation: cannot start the keeper thread");
		iso_stop();
		return -1;
	}
	iso.keeper_on = true;
	pthread_mutex_lock(&iso.mu);
	/* The first helpers, or the failure to start one, before serving. */
	while (iso.passes == 0)
		pthread_cond_wait(&iso.cv, &iso.mu);
	rc = iso.spawn_fails == 0 ? 0 : -1;
	pthread_mutex_unlock(&iso.mu);
	if (rc < 0)
		iso_stop();
	return rc;
}

void
iso_reload(const struct sbk_config *cfg)
{
	/* A helper started with the same argv and priority stays. */
	bool same = sandbox_budget(cfg) == atomic_load(&iso.budget) &&
	    (int)cfg->cpu_worker_nice == atomic_load(&iso.nice);

	set_limits(cfg);
	if (!same)
		atomic_fetch_add(&iso.gen, 1);
	keeper_wake(); /* retire the idle stale or surplus helpers now */
}

void
iso_stop(void)
{
	struct helper *h;

	pthread_mutex_lock(&iso.mu);
	iso.stopping = true;
	keeper_wake();
	pthread_mutex_unlock(&iso.mu);
	if (iso.keeper_on)
		pthread_join(iso.keeper, NULL);
	iso.keeper_on = false;
	if (iso.ep >= 0)
		close(iso.ep);
	if (iso.wake >= 0)
		close(iso.wake);
	if (iso.exe_fd >= 0)
		close(iso.exe_fd);
	iso.ep = iso.wake = iso.exe_fd = -1;
	pthread_mutex_lock(&iso.mu);
	/* Busy ones belong to workers; after pool_free there are none. */
	while ((h = iso.idle) != NULL) {
		iso.idle = h->next;
		helper_retire(h, NULL, NULL);
	}
	pthread_mutex_unlock(&iso.mu);
}

json_t *
iso_stats_json(void)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "helpers",
	    (json_int_t)atomic_load(&iso.n_alive), "busy",
	    (json_int_t)atomic_load(&iso.n_busy), "jobs",
	    (json_int_t)atomic_load(&iso.jobs), "crashes",
	    (json_int_t)atomic_load(&iso.crashes), "respawns",
	    (json_int_t)atomic_load(&iso.respawns), "killed",
	    (json_int_t)atomic_load(&iso.killed), "retired",
	    (json_int_t)atomic_load(&iso.retired), "spawn_failures",
	    (json_int_t)atomic_load(&iso.spawn_failures), "generation",
	    (json_int_t)atomic_load(&iso.gen));
}
