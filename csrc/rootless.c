/* Rootless: the pieces of a private world (see rootless.h for the
 * contract, netns_fast/_rootless.py for how they are put together). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsf.h"
#include "rootless.h"

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

/* The calling process's threads: /proc/thread-self is PID/task/TID, so
 * its parent directory lists every task of the process. */
#define THREAD_SELF_TASKS "/proc/thread-self/.."
#define THREAD_SETGROUPS "/proc/thread-self/setgroups"
#define THREAD_UID_MAP "/proc/thread-self/uid_map"
#define THREAD_GID_MAP "/proc/thread-self/gid_map"

static int at(int dir_fd)
{
    return dir_fd < 0 ? AT_FDCWD : dir_fd;
}

int nsf_thread_count(int *step)
{
    union {
        char bytes[4096];
        uint64_t align;
    } buf;
    struct nsf_dir d;
    int n = 0, err, fd;

    *step = NSF_STEP_NONE;
    fd = open(THREAD_SELF_TASKS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return nsf_fail(step, NSF_STEP_THREADS);
    nsf_dir_init(&d, fd, buf.bytes, sizeof(buf.bytes));
    while (nsf_dir_next(&d, &err))
        n++;
    close(fd);
    return err < 0 ? nsf_set_step(step, NSF_STEP_THREADS, err) : n;
}

/* Write text to a /proc file in one write(2), as the kernel wants the
 * id maps. -errno. */
static int write_proc(const char *path, const char *text)
{
    size_t len = strlen(text);
    ssize_t n;
    int fd = open(path, O_WRONLY | O_CLOEXEC), err;

    if (fd < 0)
        return -errno;
    n = write(fd, text, len);
    err = n < 0 ? errno : (size_t)n == len ? 0 : EIO;
    close(fd);
    return -err;
}

static int write_maps(unsigned int uid, unsigned int gid, int *step)
{
    char line[64];
    int rc = write_proc(THREAD_SETGROUPS, "deny");

    if (rc < 0 && rc != -ENOENT)
        return nsf_set_step(step, NSF_STEP_SETGROUPS, rc);
    snprintf(line, sizeof(line), "0 %u 1\n", uid);
    rc = write_proc(THREAD_UID_MAP, line);
    if (rc < 0)
        return nsf_set_step(step, NSF_STEP_UID_MAP, rc);
    snprintf(line, sizeof(line), "0 %u 1\n", gid);
    rc = write_proc(THREAD_GID_MAP, line);
    if (rc < 0)
        return nsf_set_step(step, NSF_STEP_GID_MAP, rc);
    return 0;
}

/* The caller's ids become 0 in the new user namespace: "0 ID 1". An
 * unprivileged writer may map its own ids only, once; setgroups must be
 * denied before the gid map (kernels before 3.19 have no such file).
 *
 * A process that changed its ids (root that dropped to a user) is not
 * dumpable, and then its /proc files belong to a root that the new user
 * namespace does not map yet: the writes would fail with EACCES. Such a
 * process is made dumpable for the writes only, and then not again. */
static int map_ids(unsigned int uid, unsigned int gid, int *step)
{
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), rc;

    if (dumpable == 0)
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    rc = write_maps(uid, gid, step);
    if (dumpable == 0)
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return rc;
}

int nsf_rootless_unshare(int flags, int *step)
{
    /* The ids outside, read before the unshare (inside, until the maps
     * are written, they read as the overflow ids). */
    unsigned int uid = (unsigned int)geteuid();
    unsigned int gid = (unsigned int)getegid();
    int rc = nsf_thread_count(step);

    if (rc < 0)
        return rc;
    if (rc != 1)
        return nsf_set_step(step, NSF_STEP_THREADS, -EINVAL);
    if (unshare(CLONE_NEWUSER) < 0)
        return nsf_fail(step, NSF_STEP_UNSHARE_USER);
    rc = map_ids(uid, gid, step);
    if (rc < 0)
        return rc;
    if (unshare(CLONE_NEWNS) < 0)
        return nsf_fail(step, NSF_STEP_UNSHARE_MNT);
    /* A mount namespace made with a user namespace gets its shared mounts
     * as slaves already; rslave says so for every mount. */
    if (mount("none", "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return nsf_fail(step, NSF_STEP_MAKE_RSLAVE);
    if (unshare(CLONE_NEWNET) < 0)
        return nsf_fail(step, NSF_STEP_UNSHARE_NET);
    return (flags & NSF_ROOTLESS_LO_UP) ? nsf_lo_up_here(step) : 0;
}

int nsf_mount_tmpfs(const char *path, int *step)
{
    *step = NSF_STEP_NONE;
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
        return nsf_fail(step, NSF_STEP_MOUNT_TMPFS);
    return 0;
}

int nsf_clone_tree(int dir_fd, const char *path, int *step)
{
    int fd;

    *step = NSF_STEP_NONE;
#ifdef SYS_open_tree
    fd = (int)syscall(SYS_open_tree, at(dir_fd), path,
                      OPEN_TREE_CLONE | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW |
                          O_CLOEXEC);
#else
    (void)dir_fd;
    (void)path;
    errno = ENOSYS;
    fd = -1;
#endif
    return fd < 0 ? nsf_fail(step, NSF_STEP_OPEN_TREE) : fd;
}

int nsf_move_tree(int tree_fd, int dir_fd, const char *path, int *step)
{
    int rc;

    *step = NSF_STEP_NONE;
#ifdef SYS_move_mount
    rc = (int)syscall(SYS_move_mount, tree_fd, "", at(dir_fd), path,
                      MOVE_MOUNT_F_EMPTY_PATH);
#else
    (void)tree_fd;
    (void)dir_fd;
    (void)path;
    errno = ENOSYS;
    rc = -1;
#endif
    return rc < 0 ? nsf_fail(step, NSF_STEP_MOVE_MOUNT) : 0;
}

int nsf_mount_sysfs(int *step)
{
    *step = NSF_STEP_NONE;
    return nsf_remount_sys("sysfs", step);
}
