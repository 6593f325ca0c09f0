/* What every C file of the core shares: the step vocabulary (steps.h),
 * failing with a step, paths, the calling thread's namespace and its safe
 * return, the one namespace-file open and the one directory walker.
 * Not part of the cdef.
 *
 * Everything here makes only syscalls (no malloc, no stdio but snprintf
 * into a caller's buffer, no locks), so it is safe in a vfork child.
 */
#ifndef NSF_H
#define NSF_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "steps.h"

/* open_tree and move_mount (Linux 5.2) have the same numbers on every
 * architecture but alpha; old headers (manylinux) do not name them. */
#if !defined(SYS_open_tree) && !defined(__alpha__)
#define SYS_open_tree 428
#define SYS_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

/* The calling thread's network namespace. Never /proc/self (the main
 * thread's) and never a pid (another process in a pid namespace whose
 * /proc is its parent's). */
#define NSF_THREAD_NS_NET "/proc/thread-self/ns/net"

/* Record the failing step and return -errno (errno as the syscall set it). */
static inline int nsf_fail(int *step, int which)
{
    int err = errno ? errno : EIO;

    *step = which;
    return -err;
}

/* Record the failing step and return rc (already -errno). */
static inline int nsf_set_step(int *step, int which, int rc)
{
    *step = which;
    return rc;
}

/* buf = dir + "/" + name; -1 when it does not fit in PATH_MAX. */
static inline int nsf_join(char buf[PATH_MAX], const char *dir,
                           const char *name)
{
    int len = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

    return (len < 0 || len >= PATH_MAX) ? -1 : 0;
}

/* Open the network namespace file at path (read-only, CLOEXEC) for
 * setns. The open never blocks (a FIFO, a device: O_NONBLOCK) and never
 * takes a controlling terminal; anything that is not a network namespace
 * (not nsfs, or another namespace type) is refused with -EINVAL at
 * not_ns_step, a failed open is -errno at NSF_STEP_OPEN_NS. Returns the
 * fd. */
static inline int nsf_open_ns_file(const char *path, int not_ns_step,
                                   int *step)
{
    struct statfs sfs;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    int type;

    if (fd < 0)
        return nsf_fail(step, NSF_STEP_OPEN_NS);
    type = fstatfs(fd, &sfs) == 0 && sfs.f_type == NSFS_MAGIC
               ? ioctl(fd, NS_GET_NSTYPE)
               : 0;
    /* ENOTTY: a kernel without NS_GET_NSTYPE (< 4.11); setns checks. */
    if (type == CLONE_NEWNET || (type < 0 && errno == ENOTTY))
        return fd;
    close(fd);
    return nsf_set_step(step, not_ns_step, -EINVAL);
}

/* open(/proc/thread-self/ns/net): the namespace the calling thread is in,
 * to come back to (step NSF_STEP_OPEN_THREAD_NET). */
static inline int nsf_save_net(int *step)
{
    int fd = open(NSF_THREAD_NS_NET, O_RDONLY | O_CLOEXEC);

    return fd < 0 ? nsf_fail(step, NSF_STEP_OPEN_THREAD_NET) : fd;
}

/* ioctl SIOCSIFFLAGS IFF_UP on "lo" of the namespace socket s lives in
 * (step LO_UP). */
static inline int nsf_lo_up_sock(int s, int *step)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return nsf_fail(step, NSF_STEP_LO_UP);
    if (ifr.ifr_flags & IFF_UP)
        return 0;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return nsf_fail(step, NSF_STEP_LO_UP);
    return 0;
}

/* Bring up "lo" of the calling thread's network namespace (steps SOCKET,
 * LO_UP). */
static inline int nsf_lo_up_here(int *step)
{
    int rc, s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (s < 0)
        return nsf_fail(step, NSF_STEP_SOCKET);
    rc = nsf_lo_up_sock(s, step);
    close(s);
    return rc;
}

/* In a namespace the calling thread has just unshared into: its loopback
 * up (when lo_up), then an fd of it (returned) and its inode in *ino.
 * Steps SOCKET, LO_UP, OPEN_THREAD_NET, STAT_NS. */
static inline int nsf_hold_net(int lo_up, unsigned long long *ino,
                               int *step)
{
    struct stat st;
    int fd, rc;

    if (lo_up) {
        rc = nsf_lo_up_here(step);
        if (rc < 0)
            return rc;
    }
    fd = nsf_save_net(step);
    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0) {
        rc = nsf_fail(step, NSF_STEP_STAT_NS);
        close(fd);
        return rc;
    }
    *ino = st.st_ino;
    return fd;
}

static inline int nsf_restore_net(int saved, int *step);

/* A new network namespace, held by the returned fd: the calling thread
 * unshares into it, brings its loopback up (when lo_up), runs
 * inside(arg, step) there when inside is given (what must be made inside,
 * e.g. a socket; a value < 0 fails the call), and comes back
 * (nsf_restore_net). *ino receives its inode. On failure the caller undoes
 * what inside made. Steps OPEN_THREAD_NET, UNSHARE_NET, SOCKET, LO_UP,
 * STAT_NS, RESTORE_NET, VERIFY_NET and inside's. */
static inline int nsf_new_net(int lo_up, unsigned long long *ino,
                              int (*inside)(void *arg, int *step), void *arg,
                              int *step)
{
    int saved, fd, rc, back_step = NSF_STEP_NONE;

    *step = NSF_STEP_NONE;
    saved = nsf_save_net(step);
    if (saved < 0)
        return saved;
    if (unshare(CLONE_NEWNET) < 0) {
        rc = nsf_fail(step, NSF_STEP_UNSHARE_NET);
        close(saved);
        return rc;
    }
    fd = nsf_hold_net(lo_up, ino, step);
    if (fd >= 0 && inside) {
        rc = inside(arg, step);
        if (rc < 0) {
            close(fd);
            fd = rc;
        }
    }
    rc = nsf_restore_net(saved, &back_step);
    close(saved);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        *step = back_step;
        return rc;
    }
    return fd;
}

/* Return the calling thread to the network namespace saved (an fd of it)
 * and check that it is there: the (st_dev, st_ino) of saved against those
 * of /proc/thread-self/ns/net. saved stays open.
 *
 * One rule for every caller: the thread counts as returned exactly when
 * the check finds it in saved. So a failed setns is no failure when the
 * thread never left (after unshare itself failed, e.g. without
 * CAP_SYS_ADMIN, setns fails too: the caller reports the unshare error);
 * otherwise it is -errno at NSF_STEP_RESTORE_NET. A setns that succeeded
 * with the thread found elsewhere is -EIO (or the stat's -errno) at
 * NSF_STEP_VERIFY_NET. After a failure the thread may be in a foreign
 * namespace: the caller must not use it as if it were home. */
static inline int nsf_restore_net(int saved, int *step)
{
    struct stat want, now;
    int moved = setns(saved, CLONE_NEWNET) == 0;
    int err = moved ? 0 : (errno ? errno : EIO);

    if (fstat(saved, &want) < 0 || stat(NSF_THREAD_NS_NET, &now) < 0)
        return moved ? nsf_fail(step, NSF_STEP_VERIFY_NET)
                     : nsf_set_step(step, NSF_STEP_RESTORE_NET, -err);
    if (want.st_dev == now.st_dev && want.st_ino == now.st_ino)
        return 0;
    if (!moved)
        return nsf_set_step(step, NSF_STEP_RESTORE_NET, -err);
    return nsf_set_step(step, NSF_STEP_VERIFY_NET, -EIO);
}

/* A sysfs on /sys (source name: shown in mountinfo) that shows the
 * calling thread's network namespace. If /sys cannot be unmounted (busy,
 * or a mount locked by a user namespace), the new one is stacked on top,
 * read-only if the old one is (a read-only sysfs cannot be shadowed by a
 * writable one). Step MOUNT_SYSFS. */
static inline int nsf_remount_sys(const char *name, int *step)
{
    unsigned long flags = 0;
    struct statfs sfs;

    if (umount2("/sys", MNT_DETACH) < 0 && statfs("/sys", &sfs) == 0 &&
        (sfs.f_flags & ST_RDONLY))
        flags = MS_RDONLY;
    if (mount(name, "/sys", "sysfs", flags, NULL) < 0)
        return nsf_fail(step, NSF_STEP_MOUNT_SYSFS);
    return 0;
}

/* -- the directory walker ------------------------------------------------ */

/* The record getdents64 writes (the kernel's struct linux_dirent64). */
struct nsf_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* A walk over an open directory, one getdents64 batch at a time, in a
 * buffer of the caller's (the stack of a vfork child, or malloc'd). */
struct nsf_dir {
    int fd;
    char *buf;
    size_t size;
    long len; /* bytes of the current batch */
    long off; /* offset of the next record in it */
};

/* Start a walk of the directory open as fd (the caller keeps owning fd),
 * reading into buf of size bytes (aligned for uint64_t; 4 KiB or more). */
static inline void nsf_dir_init(struct nsf_dir *d, int fd, void *buf,
                                size_t size)
{
    d->fd = fd;
    d->buf = buf;
    d->size = size;
    d->len = 0;
    d->off = 0;
}

/* The next entry's name, in directory order, "." and ".." left out; it
 * stays valid until the next call. NULL at the end (*err = 0) or when
 * getdents64 fails (*err = -errno). The raw syscall: glibc's wrapper is
 * newer than the oldest glibc the wheels support, and opendir would
 * malloc. */
static inline const char *nsf_dir_next(struct nsf_dir *d, int *err)
{
    *err = 0;
    for (;;) {
        while (d->off < d->len) {
            const struct nsf_dirent64 *e =
                (const struct nsf_dirent64 *)(d->buf + d->off);

            d->off += e->d_reclen;
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                return e->d_name;
        }
        d->off = 0;
        d->len = syscall(SYS_getdents64, d->fd, d->buf, d->size);
        if (d->len <= 0) {
            if (d->len < 0)
                *err = -(errno ? errno : EIO);
            d->len = 0;
            return NULL;
        }
    }
}

/* Whether every name of the current getdents64 batch has been returned
 * (the next nsf_dir_next reads a new batch): a point at which a reader may
 * hand what it has on to other threads. */
static inline int nsf_dir_batch_done(const struct nsf_dir *d)
{
    return d->off >= d->len;
}

#endif
