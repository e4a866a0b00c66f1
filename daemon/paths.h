/*
 * paths.h - confinement of client-supplied paths to the configured roots,
 * and output files that appear atomically.
 *
 * A path is accepted only when it is absolute, lies lexically under one of
 * the roots without climbing out of it with "..", and the kernel resolves
 * it beneath a directory fd of that root (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS, or a checked walk where openat2 is missing).
 * Output goes to an unnamed temporary file in the target directory and is
 * published by a link or rename only when the job succeeded.
 *
 * Thread safety: every function is reentrant.  paths_check runs in a
 * kind's parse on the event thread (it does no I/O); the others do I/O and
 * belong in a kind's run on a worker.
 */
#ifndef SBK_PATHS_H
#define SBK_PATHS_H

#include <stdbool.h>
#include <stddef.h>

#include "rpc.h"

/*
 * Cheap checks for parse: path holds no NUL (len is its length), is
 * absolute (-32602 naming param otherwise), and lies lexically under one
 * of roots (a NULL-terminated list; NULL or empty: -32003) without ".."
 * leaving it (-32003).  0, or -1 with err set.
 */
int paths_check(char *const *roots, const char *param, const char *path,
    size_t len, struct rpc_error *err);

/*
 * Open a regular file beneath one of roots for reading.  Returns the fd
 * (O_RDONLY, O_CLOEXEC), or -1 with err set: -32003 outside the roots or
 * escaping them through a symlink, "..", a magic link or a missing
 * directory; -32005 with the errno otherwise ("EINVAL" for anything that
 * is not a regular file).
 */
int paths_open_read(char *const *roots, const int *fds, const char *path,
    struct rpc_error *err);

/* An output file in the making.  Zero it before paths_out_open. */
struct paths_out {
	int dirfd;	  /* O_PATH fd of out_path's directory */
	int fd;		  /* write the data here */
	char *name;	  /* last component of out_path */
	char tmpname[32]; /* named temporary, or "" (O_TMPFILE) */
	bool overwrite;
	bool open; /* dirfd and fd are live */
};

/*
 * Prepare output to out_path beneath one of roots: -32003 outside the
 * roots or when out_path is a symlink, -32005 "EISDIR" for a directory,
 * "EEXIST" when it exists and overwrite is false, other errnos as they
 * come.  On success write to out->fd, then paths_out_commit or
 * paths_out_abort.
 */
int paths_out_open(struct paths_out *out, char *const *roots, const int *fds,
    const char *out_path, bool overwrite, struct rpc_error *err);

/*
 * Publish the file at out_path in one step (link or rename) and release
 * out.  Without overwrite an out_path that appeared meanwhile is -32005
 * "EEXIST" and is left alone.  0, or -1 with err set (out then aborted).
 */
int paths_out_commit(struct paths_out *out, struct rpc_error *err);

/* Discard the output: nothing appears at out_path.  Idempotent. */
void paths_out_abort(struct paths_out *out);

/*
 * Tests only: resolve with the userspace walk even when openat2 exists,
 * so both resolvers run through the same escape table.
 */
void paths_force_walk(bool on);

#endif /* SBK_PATHS_H */
