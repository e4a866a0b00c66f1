/*
 * sandbox.c - what an isolated helper may still do after sandbox_enter
 * (sandbox.h; docs/HARDENING.md "Sandboxed workers").
 *
 * The order matters: everything that needs the filesystem (/dev/null,
 * /proc/self/statm) or a call the filter forbids (setrlimit, prctl,
 * close_range) happens before seccomp_load, and the filter comes last.
 * The allow-list is what the helper's loop (read a request, run the
 * zstd codec on bytes or on two passed descriptors, write the reply) and
 * glibc under it were seen to call with strace, plus what abort() needs
 * so that a failed assertion dies by SIGABRT rather than SIGSYS.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>
#include <seccomp.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_estimate*Size */
#include <zstd.h>

#include "config.h"
#include "sandbox.h"
#include "zstd_codec.h"

/*
 * gcc says __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__; clang 14 answers
 * __has_feature() instead (tests/sanitizer.h does the same).
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANDBOX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SANDBOX_SANITIZED 1
#endif
#endif
#ifndef SANDBOX_SANITIZED
#define SANDBOX_SANITIZED 0
#endif

/*
 * Descriptors: 0-2 (/dev/null), the channel, the two a path-mode request
 * passes, and room for one more so that a request with a stray third
 * descriptor is refused by the helper's loop rather than truncated by the
 * kernel (MSG_CTRUNC).  A helper can never open more: open, socket, dup
 * and pipe are not on the list.
 */
#define SANDBOX_NOFILE 8

/* Channel buffers, malloc's arenas and top padding, the codec's chunks. */
#define SANDBOX_MARGIN ((uint64_t)64 << 20)

/* Before the first request the helper maps this much at most (libs). */
#define SANDBOX_BASE_FALLBACK ((uint64_t)256 << 20)

uint64_t
sandbox_budget(const struct sbk_config *cfg)
{
	uint64_t in = (uint64_t)cfg->max_request_bytes / 4 * 3 + 3;
	uint64_t out = (uint64_t)cfg->zstd_max_output_bytes + 1;
	uint64_t cbound = ZSTD_compressBound((size_t)in);
	uint64_t dctx = ZSTD_estimateDStreamSize(
	    (size_t)1 << zstd_codec_window_log(cfg->zstd_max_output_bytes));
	uint64_t cctx = ZSTD_estimateCStreamSize(cfg->zstd_max_level);

	/* The growth slack: realloc of a big block is mremap, one chunk. */
	return (in + (out > cbound ? out : cbound) + ZSTD_CODEC_CHUNK +
	    (dctx > cctx ? dctx : cctx) + SANDBOX_MARGIN);
}

uint64_t
sandbox_budget_default(void)
{
	struct sbk_config cfg;
	uint64_t budget = 0;

	if (config_init(&cfg) == 0) {
		budget = sandbox_budget(&cfg);
		config_free(&cfg);
	}
	return (budget);
}

uint64_t
sandbox_budget_parse(const char *text)
{
	char *end;
	unsigned long long v;

	if (text == NULL || text[0] < '0' || text[0] > '9' ||
	    strlen(text) > SANDBOX_BUDGET_MAX_DIGITS)
		return (0);
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return (0);
	return ((uint64_t)v);
}

/* 0-2 onto /dev/null (kept open by no one else), all else but chan shut. */
static int
sandbox_fds(int chan)
{
	int null, fd;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return (-1);
	for (fd = 0; fd <= 2; fd++) {
		/*
		 * Sanitizer builds keep sbkd's stderr, where an ASan report
		 * from a helper is the one clue of what went wrong.
		 */
		if (SANDBOX_SANITIZED && fd == 2 && fcntl(fd, F_GETFD) != -1 &&
		    fd != chan)
			continue;
		if (fd != chan && fd != null && dup2(null, fd) == -1)
			return (-1);
	}
	if (null > 2 && null != chan)
		close(null);
	if (chan < 3)
		return (errno = EINVAL, -1);
	if ((chan > 3 && close_range(3, (unsigned)chan - 1, 0) == -1) ||
	    close_range((unsigned)chan + 1, ~0U, 0) == -1)
		return (-1);
	return (0);
}

/* The address space mapped now (/proc/self/statm's first field). */
static uint64_t
sandbox_mapped(void)
{
	char text[64], *end;
	unsigned long long pages;
	uint64_t bytes = SANDBOX_BASE_FALLBACK;
	FILE *f;

	if ((f = fopen("/proc/self/statm", "re")) == NULL)
		return (bytes);
	if (fgets(text, sizeof(text), f) != NULL) {
		errno = 0;
		pages = strtoull(text, &end, 10);
		if (errno == 0 && end != text)
			bytes =
			    (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
	}
	fclose(f);
	return (bytes);
}

static int
sandbox_limit(int resource, uint64_t value)
{
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = (rlim_t)value;
	return (setrlimit(resource, &rl));
}

static int
sandbox_limits(uint64_t budget)
{
	uint64_t as;

	if (sandbox_limit(RLIMIT_NOFILE, SANDBOX_NOFILE) == -1 ||
	    sandbox_limit(RLIMIT_CORE, 0) == -1 ||
	    /* Belt and braces: clone and fork are not on the list either. */
	    sandbox_limit(RLIMIT_NPROC, 0) == -1)
		return (-1);
	if (SANDBOX_SANITIZED)
		return (0);
	as = sandbox_mapped();
	if (budget > UINT64_MAX - as)
		return (0);
	return (sandbox_limit(RLIMIT_AS, as + budget));
}

/* Calls with no argument to check. */
static const int sandbox_calls[] = {
	/* the channel and the passed descriptors */
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg),
	SCMP_SYS(recvfrom),
	SCMP_SYS(sendto),
	SCMP_SYS(close),
	/* malloc, free, realloc */
	SCMP_SYS(brk),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	/* glibc's locks, clocks and the way out */
	SCMP_SYS(futex),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(restart_syscall),
	/* The hang test op waits to be killed; blocking grants nothing. */
	SCMP_SYS(pause),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	/*
	 * Its own signal dispositions (SIGPIPE ignored; no handler can catch
	 * the filter's kill), and abort(): block signals, then
	 * tgkill(getpid(), ...) itself.
	 */
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
};

/*
 * What the sanitizers' runtimes call on their own while the helper works
 * (ASan's allocator and TSan's background thread); their reports need
 * open and more, so a helper that trips one dies by SIGSYS mid-report.
 */
static const int sandbox_sanitizer_calls[] = {
	SCMP_SYS(sigaltstack),
	SCMP_SYS(sched_yield),
	SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(getrlimit),
	SCMP_SYS(sched_getaffinity),
};

/* The rules; 0 or a negative errno (libseccomp's convention). */
static int
sandbox_rules(scmp_filter_ctx ctx)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(sandbox_calls) / sizeof(sandbox_calls[0]); i++)
		if ((rc = seccomp_rule_add(
			 ctx, SCMP_ACT_ALLOW, sandbox_calls[i], 0)) < 0)
			return (rc);
	if (SANDBOX_SANITIZED)
		for (i = 0; i < sizeof(sandbox_sanitizer_calls) /
			 sizeof(sandbox_sanitizer_calls[0]);
		     i++)
			if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				 sandbox_sanitizer_calls[i], 0)) < 0)
				return (rc);
	/* Memory, never executable: no code can be made or loaded. */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
		 SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
		 SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0 ||
	    /* Signals to itself only (abort, raise). */
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
		 SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()))) < 0 ||
	    /* Reading a limit, never setting one. */
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2,
		 SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0))) < 0)
		return (rc);
	return (0);
}

static int
sandbox_filter(void)
{
	uint32_t kill = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	int rc;

	/*
	 * Where the seccomp() call itself is filtered out (a unit's
	 * SystemCallFilter= without it), libseccomp loads through prctl and
	 * cannot use KILL_PROCESS: KILL_THREAD kills the single-threaded
	 * helper all the same, with the same SIGSYS status.
	 */
	if ((ctx = seccomp_init(kill)) == NULL) {
		kill = SCMP_ACT_KILL_THREAD;
		if ((ctx = seccomp_init(kill)) == NULL)
			return (errno = ENOMEM, -1);
	}
	/* Another ABI's numbers (i386 on x86_64) are killed too. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill)) < 0 ||
	    /*
	     * A sanitizer runtime's own threads too (TSan's), where the
	     * kernel call can do it: not through prctl (EOPNOTSUPP).
	     */
	    (SANDBOX_SANITIZED &&
		(rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 &&
		rc != -EOPNOTSUPP) ||
	    (rc = sandbox_rules(ctx)) < 0 || (rc = seccomp_load(ctx)) < 0) {
		seccomp_release(ctx);
		return (errno = -rc, -1);
	}
	seccomp_release(ctx);
	return (0);
}

int
sandbox_enter(int chan, uint64_t budget)
{
	/*
	 * jansson seeds its hash function from /dev/urandom at the first
	 * object (an error's data): do it while open is still allowed.
	 */
	json_object_seed(0);
	if (sandbox_fds(chan) == -1 || sandbox_limits(budget) == -1 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return (-1);
	return (sandbox_filter());
}
