/*
 * helper.h - the isolated helper process: sbkd re-executed as
 * "sbkd-helper --isolated-helper" (isolate.c spawns it), serving one
 * request at a time on its channel (fd HELPER_CHAN_FD) until sbkd closes
 * it.  Frames: isolate_wire.h; its operations: helper_op.h.
 */
#ifndef SBK_HELPER_H
#define SBK_HELPER_H

#include "helper_op.h"

/* main.c: argv[1] that makes sbkd a helper, and the channel's descriptor. */
#define HELPER_ARG     "--isolated-helper"
#define HELPER_ARGV0   "sbkd-helper"
#define HELPER_CHAN_FD 3
/*
 * isolate.c execs the helper through this descriptor (sbkd's executable,
 * /proc/self/fd/4); sandbox_enter closes it with the rest.
 */
#define HELPER_EXE_FD	   4
#define HELPER_EXE_FD_TEXT "4"

/*
 * The helper's whole life: die with its parent (PR_SET_PDEATHSIG; with
 * parent_arg, sbkd's pid as argv[3], a helper whose parent is already
 * another exits at once), enter the sandbox (sandbox.h) with the budget
 * sbkd gave as argv[2] (NULL: the budget of the built-in configuration),
 * then serve requests on chan_fd until sbkd closes it.  Returns the
 * process exit status: 0 at a clean end of the channel, 1 when the
 * sandbox could not be entered or the channel broke or carried garbage.
 * The caller leaves with _exit: the sandbox forbids what atexit handlers
 * of a sanitizer runtime do (LeakSanitizer clones a tracer).
 */
int helper_main(int chan_fd, const char *budget_arg, const char *parent_arg);

#endif /* SBK_HELPER_H */
