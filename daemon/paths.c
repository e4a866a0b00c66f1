/*
 * paths.c - confinement of path parameters to read_roots / write_roots,
 * and atomic output files (see paths.h).
 *
 * Resolution never trusts the string: the lexical checks only pick the
 * root and refuse obvious escapes early (so a path through a missing
 * directory can never answer ENOENT about something outside the roots);
 * the kernel then resolves the rest beneath an O_PATH fd of the root with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS).  Where openat2 does
 * not exist (ENOSYS, before Linux 5.6) a userspace walk opens one
 * component at a time with O_NOFOLLOW, expands relative symlinks itself,
 * refuses absolute ones, and checks the final fd's /proc path against the
 * root to catch directories renamed out from under it.
 *
 * Thread safety: reentrant; the only shared state is two atomic flags
 * and a counter.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"

#define PATHS_MAX_LINKS	   40 /* as the kernel's MAXSYMLINKS */
#define PATHS_EAGAIN_TRIES 16
#define PATHS_PROC_MAGIC   0x9fa0 /* PROC_SUPER_MAGIC */
#define PATHS_PROC_ROOT	   1	  /* inode of procfs' root directory */

/* Set once openat2 says ENOSYS: every later call goes to the walk. */
static atomic_bool paths_no_openat2;
static atomic_bool paths_walk_forced;
static atomic_uint paths_tmp_seq;

/*
 * An escape: the caller answers -32003.  Below every -errno, so that no
 * errno a system call gives can ever be taken for a refusal.
 */
#define PATHS_ESCAPE (-100000)
/* A symlink was met: resolve the logical path it gave, from the top. */
#define PATHS_RESTART (-100001)

void
paths_force_walk(bool on)
{
	atomic_store(&paths_walk_forced, on);
}

/*
 * path made lexically normal: one "/" between components, no "." and
 * each ".." taking the component before it away ("/.." is "/").  path
 * must be absolute.  Malloc'd, or NULL (ENOMEM).
 */
static char *
paths_normalize(const char *path, size_t len)
{
	char *out = malloc(len + 2), *slash;
	size_t o = 0, i = 0, start, n;

	if (out == NULL)
		return (NULL);
	while (i < len) {
		while (i < len && path[i] == '/')
			i++;
		start = i;
		/*
		 * clang-analyzer takes path[i] below len for garbage when the
		 * caller measured path with strlen; it is not.
		 */
		/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
		while (i < len && path[i] != '/')
			i++;
		n = i - start;
		if (n == 0 || (n == 1 && path[start] == '.'))
			continue;
		if (n == 2 && path[start] == '.' && path[start + 1] == '.') {
			/* Back to the '/' that began the last component. */
			slash = o > 0 ? memrchr(out, '/', o) : NULL;
			o = slash != NULL ? (size_t)(slash - out) : 0;
		} else {
			out[o++] = '/';
			memcpy(out + o, path + start, n);
			o += n;
		}
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return (out);
}

/*
 * The part of a normal path below root, or NULL when path is not under
 * it.  Roots are canonical: absolute, no trailing slash except "/".
 */
static const char *
paths_below(const char *root, const char *path)
{
	size_t rl = strlen(root);

	if (strcmp(root, "/") == 0)
		rl = 0;
	else if (strncmp(path, root, rl) != 0 ||
	    (path[rl] != '/' && path[rl] != '\0'))
		return (NULL);
	path += rl;
	while (*path == '/')
		path++;
	return (*path == '\0' ? "." : path);
}

/*
 * The root a normal path lies under: the longest one, so that a nested
 * root is always entered through its own fd, never by its name inside
 * the outer one.  Its index (rel set), or -1.
 */
static int
paths_pick(char *const *roots, const char *path, const char **rel)
{
	size_t i, best_len = 0;
	int best = -1;
	const char *r;

	for (i = 0; roots != NULL && roots[i] != NULL; i++) {
		if ((r = paths_below(roots[i], path)) == NULL)
			continue;
		if (best == -1 || strlen(roots[i]) > best_len) {
			best = (int)i;
			best_len = strlen(roots[i]);
			*rel = r;
		}
	}
	return (best);
}

static bool
paths_has_root(char *const *roots)
{
	return (roots != NULL && roots[0] != NULL);
}

int
paths_check(char *const *roots, const char *param, const char *path, size_t len,
    struct rpc_error *err)
{
	const char *rel;
	char *norm;
	int i;

	if (strlen(path) != len || path[0] != '/')
		return (rpc_error_param(
		    err, param, "%s must be an absolute path", param));
	if (!paths_has_root(roots))
		return (rpc_error_set(err, RPC_PERMISSION, NULL,
		    "no roots are configured for %s", param));
	if ((norm = paths_normalize(path, len)) == NULL)
		return (rpc_error_set(
		    err, RPC_INTERNAL_ERROR, NULL, "out of memory"));
	i = paths_pick(roots, norm, &rel);
	free(norm);
	if (i >= 0)
		return (0);
	return (rpc_error_set(err, RPC_PERMISSION, NULL,
	    "%s is outside the allowed roots", param));
}

/*
 * A procfs symlink other than those in /proc itself ("self",
 * "thread-self", "mounts", ...) is a magic link (/proc/PID/fd/N, root,
 * cwd, exe, ...): its text is not where it leads, so it is never read as
 * a path.  linkfd: O_PATH fd of the link; dirfd: its directory.
 * 1 magic, 0 not, -errno when it cannot be told.
 */
static int
paths_magic(int dirfd, int linkfd)
{
	struct statfs sf;
	struct stat st;

	if (fstatfs(linkfd, &sf) == -1)
		return (-errno);
	if (sf.f_type != PATHS_PROC_MAGIC)
		return (0);
	if (fstat(dirfd, &st) == -1)
		return (-errno);
	return (st.st_ino != PATHS_PROC_ROOT);
}

/* One component (cl bytes at comp) beneath dirfd, not followed: an
 * O_PATH fd and its *st, or -errno. */
static int
paths_open_component(int dirfd, const char *comp, size_t cl, struct stat *st)
{
	char name[PATH_MAX];
	int fd, rc;

	if (cl >= sizeof(name))
		return (-ENAMETOOLONG);
	memcpy(name, comp, cl);
	name[cl] = '\0';
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return (-errno);
	if (fstat(fd, st) == -1) {
		rc = -errno;
		close(fd);
		return (rc);
	}
	return (fd);
}

/*
 * The walk met a symlink: linkfd, in dirfd, is the component at comp of
 * rel, and rest follows it.  *next gets the logical path the link names
 * (malloc'd, normal; a relative target is taken from the link's
 * directory under root's name).  Closes linkfd.  Returns PATHS_RESTART,
 * PATHS_ESCAPE (a magic link) or -errno.
 */
static int
paths_follow(int dirfd, int linkfd, const char *root, const char *rel,
    const char *comp, const char *rest, char **next)
{
	char target[PATH_MAX], *joined;
	ssize_t n;
	int rc, len;

	if ((rc = paths_magic(dirfd, linkfd)) != 0) {
		close(linkfd);
		return (rc > 0 ? PATHS_ESCAPE : rc);
	}
	n = readlinkat(linkfd, "", target, sizeof(target) - 1);
	rc = -errno;
	close(linkfd);
	if (n == -1)
		return (rc);
	target[n] = '\0';
	/* The link's directory, then its text, then the rest. */
	if (target[0] == '/')
		len = asprintf(&joined, "%s%s", target, rest);
	else
		len = asprintf(&joined, "%s/%.*s/%s%s", root, (int)(comp - rel),
		    rel, target, rest);
	if (len == -1)
		return (-ENOMEM);
	*next = paths_normalize(joined, (size_t)len);
	free(joined);
	return (*next == NULL ? -ENOMEM : PATHS_RESTART);
}

/*
 * The component walk: rel (normal, no "..") beneath rootfd one
 * component at a time with O_NOFOLLOW, up to the first symlink, which
 * paths_follow turns into the path (*next) for the caller to resolve
 * from the top, under whichever root holds it.  Returns an O_PATH fd,
 * PATHS_RESTART, PATHS_ESCAPE or -errno.
 */
static int
paths_walk(
    int rootfd, const char *root, const char *rel, bool want_dir, char **next)
{
	const char *p = rel, *comp;
	int dirfd = rootfd, fd, rc;
	struct stat st;

	if (strcmp(rel, ".") == 0) {
		fd = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		return (fd == -1 ? -errno : fd);
	}
	for (;;) {
		comp = p;
		p += strcspn(p, "/");
		fd = paths_open_component(dirfd, comp, (size_t)(p - comp), &st);
		if (fd < 0) {
			rc = fd;
			goto fail;
		}
		if (S_ISLNK(st.st_mode)) {
			rc = paths_follow(dirfd, fd, root, rel, comp, p, next);
			goto fail;
		}
		if (dirfd != rootfd)
			close(dirfd);
		dirfd = fd;
		if (*p == '\0')
			break;
		p++; /* the '/' */
		if (!S_ISDIR(st.st_mode)) {
			rc = -ENOTDIR;
			goto fail;
		}
	}
	if (want_dir && !S_ISDIR(st.st_mode)) {
		close(dirfd);
		return (-ENOTDIR);
	}
	return (dirfd);

fail:
	if (dirfd != rootfd)
		close(dirfd);
	return (rc);
}

/*
 * rel beneath rootfd: openat2 with RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS does it in one call.  EXDEV (a symlink that
 * leaves the root: absolute, or climbing with "..") goes to the walk,
 * which stops at the first symlink -- one the kernel just followed
 * without ELOOP, so not a magic link.  ENOSYS switches to the walk for
 * good.
 */
static int
paths_step(
    int rootfd, const char *root, const char *rel, bool want_dir, char **next)
{
	struct open_how how;
	int fd, tries;

	if (atomic_load(&paths_no_openat2) || atomic_load(&paths_walk_forced))
		return (paths_walk(rootfd, root, rel, want_dir, next));
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC | (want_dir ? O_DIRECTORY : 0);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	for (tries = 0; tries < PATHS_EAGAIN_TRIES; tries++) {
		fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
		if (fd >= 0)
			return (fd);
		/* EAGAIN: a rename raced with ".." resolution; retry. */
		if (errno != EAGAIN)
			break;
	}
	switch (errno) {
	case ENOSYS:
		atomic_store(&paths_no_openat2, true);
		/* FALLTHROUGH */
	case EXDEV:
		return (paths_walk(rootfd, root, rel, want_dir, next));
	case ELOOP:
		/* A magic link, or too many links: both refused. */
		return (PATHS_ESCAPE);
	default:
		return (-errno);
	}
}

/*
 * Resolve a normal path: beneath the fd of the longest root holding it;
 * each symlink that leaves that root starts over with the path it names,
 * under whichever root holds that (at most PATHS_MAX_LINKS times).  A
 * path outside every root is never opened.  fds[i] is the O_PATH fd of
 * roots[i].  Returns an O_PATH fd, PATHS_ESCAPE, or -errno.
 */
static int
paths_resolve(
    char *const *roots, const int *fds, const char *norm, bool want_dir)
{
	char *cur = NULL, *next = NULL;
	const char *path = norm, *rel = NULL;
	int i, rc, links = 0;

	if (fds == NULL)
		return (-EBADF);
	for (;;) {
		if ((i = paths_pick(roots, path, &rel)) < 0) {
			rc = PATHS_ESCAPE;
			break;
		}
		rc = paths_step(fds[i], roots[i], rel, want_dir, &next);
		if (rc == PATHS_RESTART && next == NULL)
			rc = -ENOMEM;
		if (rc != PATHS_RESTART)
			break;
		free(cur);
		path = cur = next;
		next = NULL;
		if (++links > PATHS_MAX_LINKS) {
			rc = PATHS_ESCAPE; /* as the kernel's ELOOP */
			break;
		}
		if (strlen(cur) >= PATH_MAX) {
			rc = -ENAMETOOLONG;
			break;
		}
	}
	free(cur);
	return (rc);
}

/* Normalize, then resolve; rc as paths_resolve (-ENOMEM included). */
static int
paths_resolve_str(
    char *const *roots, const int *fds, const char *path, bool want_dir)
{
	char *norm;
	int rc;

	if (!paths_has_root(roots) || path[0] != '/')
		return (PATHS_ESCAPE);
	if ((norm = paths_normalize(path, strlen(path))) == NULL)
		return (-ENOMEM);
	rc = paths_resolve(roots, fds, norm, want_dir);
	free(norm);
	return (rc);
}

/* The error for a resolver's rc; returns -1. */
static int
paths_fail(struct rpc_error *err, int rc, const char *what)
{
	if (rc == PATHS_ESCAPE)
		return rpc_error_set(err, RPC_PERMISSION, NULL,
		    "%s is outside the allowed roots", what);
	return rpc_error_syserr(err, -rc, "%s", what);
}

int
paths_open_read(
    char *const *roots, const int *fds, const char *path, struct rpc_error *err)
{
	struct stat st;
	char proc[64];
	int pfd, fd;

	if ((pfd = paths_resolve_str(roots, fds, path, false)) < 0)
		return (paths_fail(err, pfd, "path"));
	if (fstat(pfd, &st) == -1) {
		paths_fail(err, -errno, "path");
		close(pfd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		rpc_error_errno(err, EINVAL, "path is not a regular file");
		close(pfd);
		return (-1);
	}
	/*
	 * Reopen the very inode the O_PATH fd holds: opening a FIFO or a
	 * device by name could block or have side effects, and this way
	 * nothing can be swapped in between the check and the open.
	 */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		paths_fail(err, -errno, "path");
	close(pfd);
	return (fd);
}

/* A fresh name for a temporary file: ".sbk-" and 16 hex digits. */
static void
paths_tmpname(char *buf, size_t len)
{
	uint64_t r = 0;

	/* Unpredictable is nice, unique is what matters (O_EXCL retries). */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint64_t)getpid() << 32 |
		    atomic_fetch_add(&paths_tmp_seq, 1);
	snprintf(buf, len, ".sbk-%016llx", (unsigned long long)r);
}

/*
 * Give the O_TMPFILE inode a name in dirfd.  AT_EMPTY_PATH needs
 * CAP_DAC_READ_SEARCH; the /proc link works for any owner of the fd.
 */
static int
paths_link_tmpfile(int fd, int dirfd, const char *name)
{
	char proc[64];

	if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
		return (0);
	if (errno != ENOENT && errno != EPERM)
		return (-1);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW));
}

int
paths_out_open(struct paths_out *out, char *const *roots, const int *fds,
    const char *out_path, bool overwrite, struct rpc_error *err)
{
	const char *slash = strrchr(out_path, '/');
	const char *name;
	char *norm = NULL;
	size_t olen = strlen(out_path);
	struct stat st;
	int rc, tries;

	*out = (struct paths_out){ .dirfd = -1, .fd = -1 };
	out->overwrite = overwrite;
	if (out_path[0] != '/' || slash == NULL)
		return (rpc_error_param(
		    err, "out_path", "out_path must be absolute"));
	name = slash + 1;
	if (*name == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		/* "dir/", "dir/." and "dir/.." all name directories. */
		if (paths_check(roots, "out_path", out_path, olen, err) == -1)
			return (-1);
		return (
		    rpc_error_errno(err, EISDIR, "out_path is a directory"));
	}
	/* Lexically normal from here: "a/../b" is "b". */
	if ((norm = paths_normalize(out_path, olen)) == NULL ||
	    (slash = strrchr(norm, '/')) == NULL ||
	    (out->name = strdup(slash + 1)) == NULL) {
		free(norm);
		return (rpc_error_errno(err, ENOMEM, NULL));
	}
	name = out->name;
	/* The parent directory, "/" when out_path is in it. */
	if (slash == norm)
		slash++;
	norm[slash - norm] = '\0';
	rc = paths_resolve_str(roots, fds, norm, true);
	free(norm);
	if (rc < 0) {
		paths_fail(err, rc, "out_path");
		goto fail;
	}
	out->dirfd = rc;

	if (fstatat(out->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode)) {
			rpc_error_set(err, RPC_PERMISSION, NULL,
			    "out_path is a symbolic link");
			goto fail;
		}
		if (S_ISDIR(st.st_mode)) {
			rpc_error_errno(err, EISDIR, "out_path is a directory");
			goto fail;
		}
		if (!overwrite) {
			rpc_error_errno(err, EEXIST, "out_path exists");
			goto fail;
		}
	} else if (errno != ENOENT) {
		paths_fail(err, -errno, "out_path");
		goto fail;
	}

	out->fd =
	    openat(out->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	if (out->fd == -1 && errno != EOPNOTSUPP && errno != EISDIR &&
	    errno != EINVAL) {
		paths_fail(err, -errno, "out_path");
		goto fail;
	}
	/* No O_TMPFILE on this file system: a named temporary instead. */
	for (tries = 0; out->fd == -1 && tries < 16; tries++) {
		paths_tmpname(out->tmpname, sizeof(out->tmpname));
		out->fd = openat(out->dirfd, out->tmpname,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (out->fd == -1 && errno != EEXIST) {
			out->tmpname[0] = '\0';
			paths_fail(err, -errno, "out_path");
			goto fail;
		}
	}
	if (out->fd == -1) {
		out->tmpname[0] = '\0';
		rpc_error_errno(err, EEXIST, "no free temporary name");
		goto fail;
	}
	out->open = true;
	return (0);

fail:
	if (out->dirfd != -1)
		close(out->dirfd);
	free(out->name);
	*out = (struct paths_out){ .dirfd = -1, .fd = -1 };
	return (-1);
}

/* Overwrite: a temporary name next to out_path, then one rename. */
static int
paths_commit_rename(struct paths_out *out)
{
	char tmp[32];
	int tries;

	if (out->tmpname[0] != '\0')
		return (
		    renameat(out->dirfd, out->tmpname, out->dirfd, out->name));
	for (tries = 0; tries < 16; tries++) {
		paths_tmpname(tmp, sizeof(tmp));
		if (paths_link_tmpfile(out->fd, out->dirfd, tmp) == 0)
			break;
		if (errno != EEXIST)
			return (-1);
	}
	if (tries == 16)
		return (-1);
	/* Held by the name now, so abort must remove it on failure. */
	memcpy(out->tmpname, tmp, sizeof(tmp));
	return (renameat(out->dirfd, tmp, out->dirfd, out->name));
}

/* No overwrite: the publishing step itself must fail on EEXIST. */
static int
paths_commit_noreplace(struct paths_out *out)
{
	if (out->tmpname[0] == '\0')
		return (paths_link_tmpfile(out->fd, out->dirfd, out->name));
	if (renameat2(out->dirfd, out->tmpname, out->dirfd, out->name,
		RENAME_NOREPLACE) == 0)
		return (0);
	if (errno != EINVAL && errno != ENOSYS)
		return (-1);
	/* The file system lacks RENAME_NOREPLACE: link, then unlink. */
	if (linkat(out->dirfd, out->tmpname, out->dirfd, out->name, 0) == -1)
		return (-1);
	return (0);
}

int
paths_out_commit(struct paths_out *out, struct rpc_error *err)
{
	int rc;

	if (!out->open)
		return (rpc_error_set(
		    err, RPC_INTERNAL_ERROR, NULL, "output is not open"));
	if (out->overwrite)
		rc = paths_commit_rename(out);
	else
		rc = paths_commit_noreplace(out);
	if (rc == -1) {
		rc = errno;
		if (rc == EEXIST)
			rpc_error_errno(err, EEXIST, "out_path exists");
		else if (rc == EISDIR)
			rpc_error_errno(err, EISDIR, "out_path is a directory");
		else
			rpc_error_syserr(err, rc, "out_path");
		paths_out_abort(out);
		return (-1);
	}
	/*
	 * After a rename the temporary name is gone; after the link+unlink
	 * fallback or O_TMPFILE it must not be unlinked again by abort.
	 */
	if (out->tmpname[0] != '\0' && !out->overwrite)
		(void)unlinkat(out->dirfd, out->tmpname, 0);
	out->tmpname[0] = '\0';
	paths_out_abort(out);
	return (0);
}

void
paths_out_abort(struct paths_out *out)
{
	if (!out->open)
		return;
	close(out->fd);
	/* An O_TMPFILE inode without a name vanishes with its fd. */
	if (out->tmpname[0] != '\0')
		(void)unlinkat(out->dirfd, out->tmpname, 0);
	close(out->dirfd);
	free(out->name);
	*out = (struct paths_out){ .dirfd = -1, .fd = -1 };
}
