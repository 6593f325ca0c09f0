/* Lifecycle of named network namespaces (see lifecycle.h for the
 * contract). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsf.h"
#include "lifecycle.h"

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

/* Stacked mounts on one name are removed one by one; this bounds the loop. */
#define MAX_STACKED_MOUNTS 64

/* The run directory that nsf_prepare_run_dir last made a shared mount point,
 * identified by its mount id. While statx still reports that mount at the
 * same path, the whole mkdir/flock/mount sequence can be skipped. A run
 * directory whose flock failed is not kept: like ip, every add tries (and
 * warns) again. */
static struct {
    pthread_mutex_t lock;
    int valid;
    unsigned long long mnt_id;
    char path[PATH_MAX];
} prepared = {PTHREAD_MUTEX_INITIALIZER, 0, 0, ""};

/* Mount id of path and whether path is the root of a mount; -errno on error. */
static int mount_of(const char *path, unsigned long long *mnt_id, int *is_root)
{
    struct statx stx;

    if (statx(AT_FDCWD, path, AT_STATX_DONT_SYNC,
              STATX_MNT_ID | STATX_MNT_ID_UNIQUE, &stx) < 0)
        return -errno;
    *mnt_id = stx.stx_mnt_id;
    *is_root = (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
               (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
    return 0;
}

static int prepared_matches(const char *run_dir)
{
    unsigned long long id;
    int root;

    if (!prepared.valid || strcmp(prepared.path, run_dir) != 0)
        return 0;
    if (mount_of(run_dir, &id, &root) < 0)
        return 0;
    return root && id == prepared.mnt_id;
}

/* errno of the flock the calling thread's last prepare could not take. */
static _Thread_local int flock_error;

int nsf_flock_error(void)
{
    return flock_error;
}

/* mkdir, flock, then make run_dir a shared mount point of its own. */
static int make_shared_run_dir(const char *run_dir, int *step)
{
    int dfd, rc = 0, self_bound = 0;

    if (mkdir(run_dir, 0755) < 0 && errno != EEXIST)
        return nsf_fail(step, NSF_STEP_MKDIR_RUN_DIR);
    dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return nsf_fail(step, NSF_STEP_OPEN_RUN_DIR);
    /* Parallel adds must not stack self-bind mounts (Debian #949235).
     * Like iproute2, a failed flock is not fatal: the caller may warn. */
    if (flock(dfd, LOCK_EX) < 0)
        flock_error = errno ? errno : EIO;
    for (;;) {
        if (mount("", run_dir, "none", MS_SHARED | MS_REC, NULL) == 0)
            break;
        if (errno != EINVAL || self_bound) {
            rc = nsf_fail(step, NSF_STEP_MAKE_SHARED);
            break;
        }
        /* Not a mount point yet: bind it onto itself and give it a peer
         * group of its own (private first, as iproute2 >= 7.0 does), so
         * names are not duplicated onto a shared parent such as /run. */
        if (mount(run_dir, run_dir, "none", MS_BIND | MS_REC, NULL) < 0) {
            rc = nsf_fail(step, NSF_STEP_SELF_BIND);
            break;
        }
        self_bound = 1;
        if (mount("", run_dir, "none", MS_PRIVATE | MS_REC, NULL) < 0) {
            rc = nsf_fail(step, NSF_STEP_MAKE_PRIVATE);
            break;
        }
    }
    /* A self-bind left behind after a later step failed would still be in
     * its parent's peer group, and the next add's make-shared would succeed
     * on it: every name would be mounted twice. */
    if (rc < 0 && self_bound)
        (void)umount2(run_dir, MNT_DETACH);
    if (flock_error == 0)
        (void)flock(dfd, LOCK_UN);
    close(dfd);
    return rc;
}

int nsf_prepare_run_dir(const char *run_dir, int *step)
{
    unsigned long long id;
    int root, rc;

    *step = NSF_STEP_NONE;
    flock_error = 0;
    if (strlen(run_dir) >= sizeof(prepared.path))
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
    pthread_mutex_lock(&prepared.lock);
    if (prepared_matches(run_dir)) {
        pthread_mutex_unlock(&prepared.lock);
        return 0;
    }
    prepared.valid = 0;
    rc = make_shared_run_dir(run_dir, step);
    if (rc == 0 && flock_error == 0 && mount_of(run_dir, &id, &root) == 0 &&
        root) {
        strcpy(prepared.path, run_dir);
        prepared.mnt_id = id;
        prepared.valid = 1;
    }
    pthread_mutex_unlock(&prepared.lock);
    return rc;
}

/* Forget the note: the next prepare does the whole sequence again. */
static void forget_run_dir(void)
{
    pthread_mutex_lock(&prepared.lock);
    prepared.valid = 0;
    pthread_mutex_unlock(&prepared.lock);
}

/* st_dev of nsfs, the one filesystem of every namespace file. */
static dev_t nsfs_dev;
static pthread_once_t nsfs_dev_once = PTHREAD_ONCE_INIT;

static void find_nsfs_dev(void)
{
    struct stat st;

    if (stat(NSF_THREAD_NS_NET, &st) == 0)
        nsfs_dev = st.st_dev;
}

/* "/proc/thread-self/fd/N": the file fd is open on, wherever it is now. */
static void fd_path(char buf[64], int fd)
{
    snprintf(buf, 64, "/proc/thread-self/fd/%d", fd);
}

/* Set once open_tree answers ENOSYS (Linux < 5.2): then mount(2) binds. */
static atomic_int no_mount_api;

/* Bind the namespace file source onto the file that fd is open on, through
 * the fd: a path would be looked up again, and in a run directory others
 * may write, a racer may have swapped the new file for a symlink by then.
 * open_tree + move_mount costs what mount(2) by path does (the churn
 * benchmark's --bind-methods); mount(2) onto /proc/thread-self/fd/N, which
 * also binds onto the open file, is the fallback. */
static int bind_onto_fd(const char *source, int fd)
{
    char target[64];

#ifdef SYS_open_tree
    if (!atomic_load_explicit(&no_mount_api, memory_order_relaxed)) {
        int rc = 0, tree = (int)syscall(SYS_open_tree, AT_FDCWD, source,
                                        OPEN_TREE_CLONE | O_CLOEXEC);

        if (tree >= 0) {
            if (syscall(SYS_move_mount, tree, "", fd, "",
                        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                rc = -errno;
            close(tree); /* frees the clone if it was not moved */
            return rc;
        }
        if (errno == ENOSYS)
            atomic_store_explicit(&no_mount_api, 1, memory_order_relaxed);
        else if (errno != EPERM) /* EPERM: also a container's filter */
            return -errno;
    }
#endif
    fd_path(target, fd);
    return mount(source, target, "none", MS_BIND, NULL) < 0 ? -errno : 0;
}

/* Unlink path only while it still names the file fd is open on: after a
 * racer's swap the entry is the racer's, and it stays. */
static void unlink_own(const char *path, int fd)
{
    struct stat mine, there;

    if (fstat(fd, &mine) == 0 && mine.st_nlink > 0 &&
        lstat(path, &there) == 0 && there.st_dev == mine.st_dev &&
        there.st_ino == mine.st_ino)
        unlink(path);
}

/* Create the name file and bind source (a namespace file) onto it.
 * The file is made only after the slow unshare, right before the mount,
 * which keeps the window in which a crash leaves a stale file small.
 *
 * The bind goes onto the file that O_CREAT|O_EXCL made, never by path.
 * A swap before the bind makes it fail: the file was unlinked (ENOENT
 * from the kernel), or it was renamed within the run directory and path
 * is not the namespace afterwards (then the bind is undone, and the add
 * fails with ENOENT too). Files cannot be renamed out of the run
 * directory: it is a mount point of its own (EXDEV). */
static int bind_new_file(const char *path, const char *source, int *step)
{
    struct stat st;
    char target[64];
    int rc, fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);

    if (fd < 0)
        return nsf_fail(step, NSF_STEP_CREATE_NAME);
    rc = bind_onto_fd(source, fd);
    if (rc == 0) {
        pthread_once(&nsfs_dev_once, find_nsfs_dev);
        if (lstat(path, &st) < 0 || st.st_dev != nsfs_dev) {
            fd_path(target, fd);
            (void)umount2(target, MNT_DETACH);
            rc = -ENOENT;
        }
    }
    if (rc < 0) {
        nsf_set_step(step, NSF_STEP_BIND, rc);
        unlink_own(path, fd);
    }
    close(fd);
    return rc;
}

/* unshare + create + bind, leaving the thread in the new namespace. */
static int add_here(const char *path, int *step)
{
    if (unshare(CLONE_NEWNET) < 0)
        return nsf_fail(step, NSF_STEP_UNSHARE_NET);
    return bind_new_file(path, NSF_THREAD_NS_NET, step);
}

/* Remove a name that was fully made, after a later step failed. */
static void undo_name(const char *path)
{
    int i;

    for (i = 0; i < MAX_STACKED_MOUNTS; i++)
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
            break;
    unlink(path);
}

/* Return the calling thread to saved (nsf_restore_net) and close saved.
 * When that fails, the call fails with its error, and the name at path
 * (if this call made it: rc == 0) is removed again. */
static int restore_thread(int saved, int rc, const char *path, int *step)
{
    int back_step = NSF_STEP_NONE, back = nsf_restore_net(saved, &back_step);

    if (back < 0) {
        if (rc == 0 && path)
            undo_name(path);
        *step = back_step;
        rc = back;
    }
    close(saved);
    return rc;
}

int nsf_add(const char *run_dir, const char *name, int *step)
{
    char path[PATH_MAX];
    int saved, rc, retried = 0;

    flock_error = 0;
    if (nsf_join(path, run_dir, name) < 0)
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
again:
    rc = nsf_prepare_run_dir(run_dir, step);
    if (rc < 0)
        return rc;
    saved = nsf_save_net(step);
    if (saved < 0)
        return saved;
    rc = add_here(path, step);
    rc = restore_thread(saved, rc, path, step);
    if (rc == -ENOENT && *step == NSF_STEP_CREATE_NAME && !retried) {
        /* run_dir vanished since it was prepared: make it again, once. */
        forget_run_dir();
        retried = 1;
        goto again;
    }
    return rc;
}

int nsf_attach(const char *run_dir, const char *name, int pid, int *step)
{
    char path[PATH_MAX], source[64];
    int rc;

    flock_error = 0;
    if (nsf_join(path, run_dir, name) < 0)
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
    rc = nsf_prepare_run_dir(run_dir, step);
    if (rc < 0)
        return rc;
    snprintf(source, sizeof(source), "/proc/%d/ns/net", pid);
    return bind_new_file(path, source, step);
}

static int delete_path(const char *path, int *step)
{
    int i, unmounted = 0;

    *step = NSF_STEP_NONE;
    /* Like iproute2: a lazy umount whose error is not fatal (EINVAL for a
     * stale file), then unlink, which reports what is wrong. unlink fails
     * with EBUSY while another mount is stacked on the file: detach that
     * one too and try again, so every stacked mount goes. A second umount
     * on the common path would cost a wait on the mount lock. The umount
     * never follows a symlink: a racer's link in a run directory others
     * may write must not make delete detach a mount elsewhere (ip does). */
    for (i = 0;; i++) {
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            unmounted = 1;
        if (unlink(path) == 0)
            return 0;
        /* Once unmounted, the file is an empty stale entry that a gc (or
         * another delete) may unlink before we do: the name is gone, as
         * asked. ENOENT without an unmount is a name that did not exist. */
        if (errno == ENOENT && unmounted)
            return 0;
        if (errno != EBUSY || i >= MAX_STACKED_MOUNTS)
            return nsf_fail(step, NSF_STEP_UNLINK_NAME);
    }
}

int nsf_delete(const char *run_dir, const char *name, int *step)
{
    char path[PATH_MAX];

    if (nsf_join(path, run_dir, name) < 0)
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
    return delete_path(path, step);
}

int nsf_cpu_count(void)
{
    cpu_set_t set;
    int n;

    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* One batch shared by its worker threads; each claims the next index. */
struct batch {
    const char *run_dir;
    const char *const *names;
    int n;
    atomic_int next;
    int *results;
    int *steps;
    int adding;
};

static int batch_one(struct batch *b, int i)
{
    char path[PATH_MAX];

    b->steps[i] = NSF_STEP_NONE;
    if (nsf_join(path, b->run_dir, b->names[i]) < 0)
        return nsf_set_step(&b->steps[i], NSF_STEP_PATH_TOO_LONG,
                            -ENAMETOOLONG);
    if (b->adding)
        return add_here(path, &b->steps[i]);
    return delete_path(path, &b->steps[i]);
}

/* A worker never returns to its first namespace: each add unshares again
 * from wherever the last one left it, and the thread's exit drops the last
 * reference. That saves the setns back on every name. */
static void *batch_worker(void *arg)
{
    struct batch *b = arg;
    int i;

    while ((i = atomic_fetch_add(&b->next, 1)) < b->n)
        b->results[i] = batch_one(b, i);
    return NULL;
}

static int run_batch(struct batch *b, int nthreads)
{
    pthread_t *tids;
    int i, started = 0, failed = 0;

    if (nthreads <= 0)
        nthreads = nsf_cpu_count();
    if (nthreads > b->n)
        nthreads = b->n;
    tids = nthreads > 1 ? calloc((size_t)nthreads, sizeof(*tids)) : NULL;
    for (i = 0; tids && i < nthreads; i++)
        if (pthread_create(&tids[started], NULL, batch_worker, b) == 0)
            started++;
    if (started == 0) {
        /* One thread, or none could start: work in the calling thread,
         * saved once and restored once around the whole batch. */
        int saved = -1, rc = 0, step = NSF_STEP_NONE;

        if (b->adding) {
            saved = nsf_save_net(&step);
            if (saved < 0) {
                free(tids);
                return saved;
            }
        }
        batch_worker(b);
        if (saved >= 0)
            rc = restore_thread(saved, 0, NULL, &step);
        if (rc < 0) {
            /* The thread is stuck elsewhere: nothing made here may stand. */
            for (i = 0; i < b->n; i++) {
                char path[PATH_MAX];
                if (b->results[i] == 0 &&
                    nsf_join(path, b->run_dir, b->names[i]) == 0)
                    undo_name(path);
                b->results[i] = rc;
                b->steps[i] = step;
            }
        }
    }
    for (i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    for (i = 0; i < b->n; i++)
        failed += b->results[i] < 0;
    return failed;
}

int nsf_add_many(const char *run_dir, const char *const *names, int n,
                 int nthreads, int *results, int *steps)
{
    struct batch b = {run_dir, names, n, 0, results, steps, 1};
    int i, step, rc;

    flock_error = 0;
    if (n <= 0)
        return 0;
    rc = nsf_prepare_run_dir(run_dir, &step);
    if (rc < 0) {
        for (i = 0; i < n; i++) {
            results[i] = rc;
            steps[i] = step;
        }
        return n;
    }
    return run_batch(&b, nthreads);
}

int nsf_delete_many(const char *run_dir, const char *const *names, int n,
                    int nthreads, int *results, int *steps)
{
    struct batch b = {run_dir, names, n, 0, results, steps, 0};

    if (n <= 0)
        return 0;
    return run_batch(&b, nthreads);
}
