/*
 * sandbox.h - the isolated helper's sandbox (docs/HARDENING.md,
 * "Sandboxed workers").  sbkd computes the helper's memory budget from its
 * configuration (sandbox_budget) and hands it to the helper on the
 * command line; the helper calls sandbox_enter first thing, before it
 * reads its first request.
 *
 * After sandbox_enter the helper holds only its channel (and /dev/null
 * on 0-2, so that a descriptor passed later never lands where a stray
 * message would write into it), cannot grow past its address-space
 * budget, cannot gain privileges or be ptraced by another process of the
 * same user, and may make only the system calls of the allow-list: no
 * open, no socket, no exec, no fork.  Any other call kills the helper
 * with SIGSYS.
 */
#ifndef SBK_SANDBOX_H
#define SBK_SANDBOX_H

#include <stdint.h>

struct sbk_config;

/* argv[2] of a helper: its address-space budget in bytes, in decimal. */
#define SANDBOX_BUDGET_MAX_DIGITS 20

/*
 * The bytes of address space one zstd job may need beyond what the
 * helper maps at start: the decoded input, the output (max_output_bytes
 * plus the one byte that detects an overflow, or the compress bound of
 * the input), realloc's slack while the output grows, the larger of the
 * biggest decoder window and the compressor's context at max_level, and
 * a fixed margin for the channel's buffers and malloc's own bookkeeping.
 */
uint64_t sandbox_budget(const struct sbk_config *cfg);

/* sandbox_budget of the built-in configuration; 0 if it cannot be made. */
uint64_t sandbox_budget_default(void);

/* "1234" -> 1234; 0 when text is not a budget sbkd could have written. */
uint64_t sandbox_budget_parse(const char *text);

/*
 * Enter the sandbox: descriptors, resource limits, no_new_privs,
 * non-dumpable, then the seccomp filter.  chan is the channel (kept);
 * budget is sandbox_budget()'s figure (RLIMIT_AS becomes the address
 * space mapped now plus budget; sanitizer builds skip RLIMIT_AS, their
 * shadow memory reserves terabytes).  Returns 0, or -1 with errno set
 * when a step failed; the helper must then exit without serving.
 */
int sandbox_enter(int chan, uint64_t budget);

#endif /* SBK_SANDBOX_H */
