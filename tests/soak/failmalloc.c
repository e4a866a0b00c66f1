/*
 * failmalloc.c - an LD_PRELOAD shim that makes malloc, calloc, realloc,
 * posix_memalign and aligned_alloc fail on purpose, for the allocation
 * failure fault test (tests/soak/faults.py allocfail).  It forwards to
 * glibc's __libc_* allocator and fails a call (NULL, errno ENOMEM) when
 * all of these hold:
 *
 *   FAILMALLOC_AFTER=N	more than N calls were made (default 0), so
 *			start-up can finish;
 *   FAILMALLOC_PERMIL=P	a pseudo-random draw is below P per mille
 *			(default 10);
 *   FAILMALLOC_MAX=M	fewer than M calls failed so far (default
 *			unlimited), so the daemon can be seen to recover;
 *   FAILMALLOC_SECONDS=S	less than S seconds passed since call N
 *			(default unlimited): the same, by time;
 *   FAILMALLOC_CALLER=LIST	(optional) the caller is code of one of the
 *			comma-separated objects: "exe" is the main program
 *			(sbkd's codec, scheduler, dispatch...), any other
 *			word a substring of a library's file name (e.g.
 *			"exe,libjansson" adds the JSON library the codec
 *			builds on); unset or "any": callers anywhere.
 *
 * The number of failed calls is written to stderr at exit.  Build:
 *   cc -shared -fPIC -O2 -o failmalloc.so failmalloc.c -ldl
 */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);

static atomic_ulong fm_calls, fm_failed;
static atomic_ulong fm_seed = 88172645463325252UL;
static unsigned long fm_after, fm_permil = 10, fm_max = ~0UL;
static unsigned long fm_seconds = ~0UL;
static atomic_long fm_start_s = -1;
#define FM_RANGES 16
static int fm_filter;
static struct {
	uintptr_t lo, hi;
} fm_range[FM_RANGES];
static int fm_nranges;
static int fm_ready;

/* Is this object (the first one is the main program) in the list? */
static int
fm_wanted(const char *list, const char *name, int first)
{
	char word[64];
	size_t n;

	while (*list != '\0') {
		n = strcspn(list, ",");
		if (n > 0 && n < sizeof(word)) {
			memcpy(word, list, n);
			word[n] = '\0';
			if (strcmp(word, "exe") == 0 ?
				first :
				strstr(name, word) != NULL)
				return (1);
		}
		list += n;
		if (*list == ',')
			list++;
	}
	return (0);
}

static int
fm_phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	static int seen;
	int i, first = seen++ == 0;

	(void)size;
	if (!fm_wanted(arg, info->dlpi_name, first))
		return (0);
	for (i = 0; i < info->dlpi_phnum && fm_nranges < FM_RANGES; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		fm_range[fm_nranges].lo = info->dlpi_addr + ph->p_vaddr;
		fm_range[fm_nranges].hi = fm_range[fm_nranges].lo + ph->p_memsz;
		fm_nranges++;
	}
	return (0);
}

static int
fm_caller_ok(uintptr_t ret)
{
	int i;

	for (i = 0; i < fm_nranges; i++)
		if (ret >= fm_range[i].lo && ret < fm_range[i].hi)
			return (1);
	return (0);
}

static unsigned long
fm_env(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0' ? strtoul(v, NULL, 10) : def);
}

__attribute__((constructor)) static void
fm_init(void)
{
	const char *caller = getenv("FAILMALLOC_CALLER");

	fm_after = fm_env("FAILMALLOC_AFTER", 0);
	fm_permil = fm_env("FAILMALLOC_PERMIL", 10);
	fm_max = fm_env("FAILMALLOC_MAX", ~0UL);
	fm_seconds = fm_env("FAILMALLOC_SECONDS", ~0UL);
	atomic_store(&fm_seed, fm_env("FAILMALLOC_SEED", 88172645463325252UL));
	if (caller != NULL && *caller != '\0' && strcmp(caller, "any") != 0) {
		fm_filter = 1;
		dl_iterate_phdr(fm_phdr_cb, (void *)caller);
	}
	fm_ready = 1;
}

__attribute__((destructor)) static void
fm_fini(void)
{
	char buf[128];
	int n;

	n = snprintf(buf, sizeof(buf), "failmalloc: %lu of %lu calls failed\n",
	    atomic_load(&fm_failed), atomic_load(&fm_calls));
	if (n > 0)
		(void)write(STDERR_FILENO, buf, (size_t)n);
}

static int
fm_fail(void *ret)
{
	unsigned long x, old;
	struct timespec ts;
	long start = -1;

	if (!fm_ready || atomic_fetch_add(&fm_calls, 1) < fm_after)
		return (0);
	if (fm_seconds != ~0UL) {
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		if (!atomic_compare_exchange_strong(
			&fm_start_s, &start, (long)ts.tv_sec))
			if ((unsigned long)(ts.tv_sec - start) >= fm_seconds)
				return (0);
	}
	if (fm_filter && !fm_caller_ok((uintptr_t)ret))
		return (0);
	/* xorshift64; races between threads only add randomness. */
	old = atomic_load(&fm_seed);
	x = old;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	atomic_store(&fm_seed, x);
	if (x % 1000 >= fm_permil)
		return (0);
	if (atomic_fetch_add(&fm_failed, 1) >= fm_max) {
		atomic_fetch_sub(&fm_failed, 1);
		return (0);
	}
	errno = ENOMEM;
	return (1);
}

#define FM_CALLER __builtin_extract_return_addr(__builtin_return_address(0))

void *
malloc(size_t n)
{
	if (fm_fail(FM_CALLER))
		return (NULL);
	return (__libc_malloc(n));
}

void *
calloc(size_t n, size_t m)
{
	if (fm_fail(FM_CALLER))
		return (NULL);
	return (__libc_calloc(n, m));
}

void *
realloc(void *p, size_t n)
{
	if (n > 0 && fm_fail(FM_CALLER))
		return (NULL);
	return (__libc_realloc(p, n));
}

int
posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (fm_fail(FM_CALLER))
		return (ENOMEM);
	if ((p = __libc_memalign(align, n)) == NULL)
		return (ENOMEM);
	*out = p;
	return (0);
}

void *
aligned_alloc(size_t align, size_t n)
{
	if (fm_fail(FM_CALLER))
		return (NULL);
	return (__libc_memalign(align, n));
}
