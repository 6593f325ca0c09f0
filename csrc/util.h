/* Small helpers shared by the C sources. Not part of the cdef. */
#ifndef NSF_UTIL_H
#define NSF_UTIL_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>

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

#endif
