/* Small helpers shared by the C sources. Not part of the cdef. */
#ifndef NSF_UTIL_H
#define NSF_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

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
 * not_ns_step, a failed open is -errno at open_step. Only syscalls: safe
 * in a vfork child. Returns the fd. */
static inline int nsf_open_ns_file(const char *path, int *step, int open_step,
                                   int not_ns_step)
{
    struct statfs sfs;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    int type;

    if (fd < 0)
        return nsf_fail(step, open_step);
    type = fstatfs(fd, &sfs) == 0 && sfs.f_type == NSFS_MAGIC
               ? ioctl(fd, NS_GET_NSTYPE)
               : 0;
    /* ENOTTY: a kernel without NS_GET_NSTYPE (< 4.11); setns checks. */
    if (type == CLONE_NEWNET || (type < 0 && errno == ENOTTY))
        return fd;
    close(fd);
    return nsf_set_step(step, not_ns_step, -EINVAL);
}

#endif
