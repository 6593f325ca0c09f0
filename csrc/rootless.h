/* Rootless: the calling process enters a private world of its own, as
 * `unshare -Urnm` makes one: a user namespace in which the caller's uid
 * and gid are root, a private mount namespace and a network namespace
 * that is the new home (netns_fast/_rootless.py puts a tmpfs on the run
 * directory and the rest together from these pieces).
 *
 * This file is both a C header (included by rootless.c) and part of the
 * cffi cdef, so it holds declarations only: no preprocessor lines, no
 * definitions.
 *
 * Every function returns >= 0 (0 or an fd) or -errno and sets *step to
 * the NSF_STEP_* (steps.h) that failed. No function calls the Python API.
 * A dir_fd of -1 means the working directory (AT_FDCWD). All fds are
 * O_CLOEXEC.
 */

/* nsf_rootless_unshare flags. */
enum nsf_rootless_flag {
    NSF_ROOTLESS_LO_UP = 1 /* bring the home namespace's loopback up */
};

/* Move the calling process into a new user namespace (its effective uid
 * and gid mapped to 0, setgroups denied), then a new mount namespace
 * with / rslave, then a new network namespace (the home). Only for a
 * single-threaded process: with other threads it changes nothing and
 * fails with -EINVAL at THREADS (the kernel refuses a multi-threaded
 * unshare of a user namespace). Once UNSHARE_USER has succeeded, a later
 * failure leaves the process part-way: callers try it in a forked child
 * first. Steps THREADS, UNSHARE_USER, SETGROUPS, UID_MAP, GID_MAP,
 * UNSHARE_MNT, MAKE_RSLAVE, UNSHARE_NET, and SOCKET and LO_UP
 * (NSF_ROOTLESS_LO_UP). */
int nsf_rootless_unshare(int flags, int *step);

/* How many threads the calling process has (entries of
 * /proc/thread-self/..). Step THREADS (the open or the read). */
int nsf_thread_count(int *step);

/* mount a fresh tmpfs (mode 0755, nosuid, nodev) on the directory path.
 * Step MOUNT_TMPFS. */
int nsf_mount_tmpfs(const char *path, int *step);

/* A detached copy of the mount tree at path (relative to dir_fd), with
 * every mount below it: open_tree(OPEN_TREE_CLONE | AT_RECURSIVE), the
 * last component not followed if it is a symlink. Returns its fd. Step
 * OPEN_TREE. */
int nsf_clone_tree(int dir_fd, const char *path, int *step);

/* Attach the detached tree tree_fd (from nsf_clone_tree) on path
 * (relative to dir_fd): move_mount. tree_fd stays open (closing it
 * afterwards is fine). Step MOVE_MOUNT. */
int nsf_move_tree(int tree_fd, int dir_fd, const char *path, int *step);

/* A fresh sysfs on /sys that shows the calling thread's network
 * namespace (stacked on the old one when that cannot be unmounted, as
 * in a user namespace). Step MOUNT_SYSFS. */
int nsf_mount_sysfs(int *step);
