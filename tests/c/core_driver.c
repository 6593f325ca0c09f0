/* Drives csrc/lifecycle.c through every entry point and error path, for
 * the sanitizer test (tests/root/test_sanitizers.py). Built with
 * ASan+UBSan. The driver includes lifecycle.c itself, so that it can drop
 * the file's per-process run-dir note (forget_run_dir) where a test needs
 * a cold start; the shipped library has no such entry point.
 * Syscall failures that cannot be arranged otherwise (flock, make-private,
 * open_tree) are made real in forked children by a seccomp filter; a
 * racer thread swaps new files for symlinks to reach the undo paths.
 *
 * usage: core_driver RUN_DIR       (RUN_DIR: a directory of a private tmpfs)
 *        core_driver --leak        (leaks on purpose: proves LSan runs)
 *
 * Exits 0 when every call returned what it should, 1 at the first surprise.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lifecycle.c"

#define CHECK(cond)                                                      \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "%s:%d: check failed: %s (errno %d)\n",      \
                    __FILE__, __LINE__, #cond, errno);                   \
            exit(1);                                                     \
        }                                                                \
    } while (0)

#define NNAMES 6

#if defined(__x86_64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_AARCH64
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static const char *run_dir;
static ino_t start_ns;

static ino_t inode_of(const char *path)
{
    struct stat st;

    CHECK(stat(path, &st) == 0);
    return st.st_ino;
}

static ino_t thread_ns(void)
{
    return inode_of("/proc/thread-self/ns/net");
}

static const char *path_of(const char *name)
{
    static char buf[PATH_MAX];

    snprintf(buf, sizeof(buf), "%s/%s", run_dir, name);
    return buf;
}

static int exists(const char *name)
{
    struct stat st;

    return lstat(path_of(name), &st) == 0;
}

static void run_dir_steps(void)
{
    int step = -1;
    char long_dir[PATH_MAX + 16], long_name[201];

    CHECK(nsf_prepare_run_dir(run_dir, &step) == 0);
    CHECK(step == NSF_STEP_NONE);
    CHECK(nsf_prepare_run_dir(run_dir, &step) == 0); /* cached */
    forget_run_dir();
    CHECK(nsf_prepare_run_dir(run_dir, &step) == 0); /* no second bind */

    memset(long_dir, 'd', sizeof(long_dir) - 1);
    long_dir[0] = '/';
    long_dir[sizeof(long_dir) - 1] = '\0';
    CHECK(nsf_prepare_run_dir(long_dir, &step) == -ENAMETOOLONG);
    CHECK(step == NSF_STEP_PATH_TOO_LONG);
    /* The directory fits, the joined path does not. */
    long_dir[PATH_MAX - 100] = '\0';
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    CHECK(nsf_add(long_dir, long_name, &step) == -ENAMETOOLONG);
    CHECK(step == NSF_STEP_PATH_TOO_LONG);
    CHECK(nsf_attach(long_dir, long_name, getpid(), &step) == -ENAMETOOLONG);
    CHECK(step == NSF_STEP_PATH_TOO_LONG);
    CHECK(nsf_delete(long_dir, long_name, &step) == -ENAMETOOLONG);
    CHECK(step == NSF_STEP_PATH_TOO_LONG);
    CHECK(thread_ns() == start_ns);
}

static void single_calls(void)
{
    int step = -1, fd;
    pid_t pid;

    CHECK(nsf_add(run_dir, "a", &step) == 0);
    CHECK(inode_of(path_of("a")) != start_ns);
    CHECK(thread_ns() == start_ns);

    CHECK(nsf_add(run_dir, "a", &step) == -EEXIST);
    CHECK(step == NSF_STEP_CREATE_NAME);
    CHECK(thread_ns() == start_ns);

    CHECK(nsf_attach(run_dir, "self", getpid(), &step) == 0);
    CHECK(inode_of(path_of("self")) == inode_of("/proc/self/ns/net"));

    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(0);
    CHECK(waitpid(pid, NULL, 0) == pid);
    CHECK(nsf_attach(run_dir, "dead", pid, &step) == -ENOENT);
    CHECK(step == NSF_STEP_BIND);
    CHECK(!exists("dead"));

    /* A stale file blocks add; delete removes it. */
    fd = open(path_of("stale"), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    CHECK(fd >= 0);
    close(fd);
    CHECK(nsf_add(run_dir, "stale", &step) == -EEXIST);
    CHECK(step == NSF_STEP_CREATE_NAME);
    CHECK(nsf_delete(run_dir, "stale", &step) == 0);
    CHECK(!exists("stale"));

    /* Stacked mounts: all go with the file. */
    CHECK(mount(path_of("a"), path_of("a"), "none", MS_BIND, NULL) == 0);
    CHECK(mount("/proc/self/ns/net", path_of("a"), "none", MS_BIND,
                NULL) == 0);
    CHECK(nsf_delete(run_dir, "a", &step) == 0);
    CHECK(!exists("a"));

    CHECK(nsf_delete(run_dir, "a", &step) == -ENOENT);
    CHECK(step == NSF_STEP_UNLINK_NAME);
    CHECK(nsf_delete(run_dir, "self", &step) == 0);
    CHECK(thread_ns() == start_ns);
}

static void batches(int nthreads)
{
    const char *names[NNAMES + 1];
    char store[NNAMES + 1][32];
    int results[NNAMES + 1], steps[NNAMES + 1], i, step;

    for (i = 0; i <= NNAMES; i++) {
        snprintf(store[i], sizeof(store[i]), "batch-%d-%d", nthreads, i);
        names[i] = store[i];
    }
    CHECK(nsf_add(run_dir, names[2], &step) == 0);
    CHECK(nsf_add_many(run_dir, names, NNAMES, nthreads, results, steps) ==
          1);
    for (i = 0; i < NNAMES; i++) {
        if (i == 2) {
            CHECK(results[i] == -EEXIST);
            CHECK(steps[i] == NSF_STEP_CREATE_NAME);
        } else {
            CHECK(results[i] == 0);
            CHECK(steps[i] == NSF_STEP_NONE);
        }
        CHECK(inode_of(path_of(names[i])) != start_ns);
    }
    CHECK(thread_ns() == start_ns);

    /* names[NNAMES] was never added. */
    CHECK(nsf_delete_many(run_dir, names, NNAMES + 1, nthreads, results,
                          steps) == 1);
    for (i = 0; i < NNAMES; i++) {
        CHECK(results[i] == 0);
        CHECK(!exists(names[i]));
    }
    CHECK(results[NNAMES] == -ENOENT);
    CHECK(steps[NNAMES] == NSF_STEP_UNLINK_NAME);

    CHECK(nsf_add_many(run_dir, names, 0, nthreads, results, steps) == 0);
    CHECK(nsf_delete_many(run_dir, names, 0, nthreads, results, steps) ==
          0);
    CHECK(thread_ns() == start_ns);
}

#ifdef AUDIT_ARCH_HERE
/* From now on, syscall nr fails with err in this process (and threads it
 * starts); with mask, only when argument arg has a bit of mask set.
 * A kernel without seccomp filters ends the child: nothing to test. */
static void fail_syscall(int nr, int err, int arg, unsigned int mask)
{
    unsigned int at = (unsigned int)offsetof(struct seccomp_data, args) +
                      8 * (unsigned int)arg;
    struct sock_filter insns[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 0, 5),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)nr, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, mask ? at : 0),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mask ? mask : 0xffffffffU, 0,
                 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned int)err),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(insns) / sizeof(insns[0]), insns};

    /* Without a mask, load the syscall number (never 0 here) to test. */
    if (!mask)
        insns[4] = (struct sock_filter)BPF_STMT(
            BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
        CHECK(errno == EINVAL);
        exit(0);
    }
}

/* Run fn in a forked child (whose filters die with it); it must exit 0. */
static void in_child(void (*fn)(void))
{
    int status;
    pid_t pid = fork();

    CHECK(pid >= 0);
    if (pid == 0) {
        forget_run_dir();
        fn();
        exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A failed flock is reported, every time (no caching), and is no error. */
static void flock_fails(void)
{
    const char *names[2] = {"fl-many-0", "fl-many-1"};
    int results[2], steps[2], step;

    fail_syscall(SYS_flock, ENOLCK, 0, 0);
    CHECK(nsf_prepare_run_dir(run_dir, &step) == 0);
    CHECK(nsf_flock_error() == ENOLCK);
    CHECK(nsf_add(run_dir, "fl-add", &step) == 0);
    CHECK(nsf_flock_error() == ENOLCK);
    CHECK(nsf_add(run_dir, "fl-add", &step) == -EEXIST);
    CHECK(nsf_flock_error() == ENOLCK); /* also when the call fails */
    CHECK(nsf_attach(run_dir, "fl-attach", getpid(), &step) == 0);
    CHECK(nsf_flock_error() == ENOLCK);
    CHECK(nsf_add_many(run_dir, names, 2, 2, results, steps) == 0);
    CHECK(nsf_flock_error() == ENOLCK);
    CHECK(nsf_delete(run_dir, "fl-add", &step) == 0);
    CHECK(nsf_delete(run_dir, "fl-attach", &step) == 0);
    CHECK(nsf_delete_many(run_dir, names, 2, 2, results, steps) == 0);
}

/* Making the self-bound directory private fails: the self-bind goes. */
static void make_private_fails(void)
{
    char sub[PATH_MAX];
    struct statx stx;
    int step;

    snprintf(sub, sizeof(sub), "%s/../private-fails", run_dir);
    fail_syscall(SYS_mount, EPERM, 3, MS_PRIVATE);
    CHECK(mkdir(sub, 0755) == 0);
    CHECK(nsf_prepare_run_dir(sub, &step) == -EPERM);
    CHECK(step == NSF_STEP_MAKE_PRIVATE);
    CHECK(statx(AT_FDCWD, sub, 0, 0, &stx) == 0);
    CHECK(!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT));
    CHECK(rmdir(sub) == 0);
}

/* Without open_tree (err: ENOSYS as before Linux 5.2, or EPERM as from a
 * container's filter) mount(2) binds, through the file's fd. */
static int no_open_tree_err;

static void no_open_tree(void)
{
    const char *names[3] = {"nt-0", "nt-1", "nt-2"};
    int results[3], steps[3], step, i;

    fail_syscall(SYS_open_tree, no_open_tree_err, 0, 0);
    CHECK(nsf_add(run_dir, "nt-add", &step) == 0);
    CHECK(inode_of(path_of("nt-add")) != start_ns);
    CHECK(nsf_add(run_dir, "nt-add", &step) == -EEXIST);
    CHECK(nsf_attach(run_dir, "nt-self", getpid(), &step) == 0);
    CHECK(inode_of(path_of("nt-self")) == inode_of("/proc/self/ns/net"));
    CHECK(nsf_attach(run_dir, "nt-dead", 0x7fffffff, &step) == -ENOENT);
    CHECK(step == NSF_STEP_BIND);
    CHECK(!exists("nt-dead"));
    CHECK(nsf_add_many(run_dir, names, 3, 2, results, steps) == 0);
    for (i = 0; i < 3; i++)
        CHECK(nsf_delete(run_dir, names[i], &step) == 0);
    CHECK(nsf_delete(run_dir, "nt-add", &step) == 0);
    CHECK(nsf_delete(run_dir, "nt-self", &step) == 0);
    CHECK(thread_ns() == start_ns);
}

static void faults(void)
{
    in_child(flock_fails);
    in_child(make_private_fails);
    no_open_tree_err = ENOSYS;
    in_child(no_open_tree);
    no_open_tree_err = EPERM;
    in_child(no_open_tree);
}
#else
static void faults(void)
{
}
#endif

/* A racer thread swaps each file that add creates (race-N) with a symlink
 * (renameat2 RENAME_EXCHANGE), so the swapped adds fail and go through
 * the undo path; the symlinks are left alone. */
#define RACE_MAX 3000
static atomic_int race_next;

static void *racer(void *arg)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int i, last = -1;

    (void)arg;
    while ((i = atomic_load(&race_next)) < RACE_MAX) {
        if (i == last)
            continue; /* one swap per name: never swap it back */
        snprintf(path, sizeof(path), "%s/race-%d", run_dir, i);
        snprintf(tmp, sizeof(tmp), "%s/.racer-%d", run_dir, i);
        if (symlink("/nonexistent-victim", tmp) < 0 && errno != EEXIST)
            break;
        if (syscall(SYS_renameat2, AT_FDCWD, tmp, AT_FDCWD, path,
                    RENAME_EXCHANGE) == 0)
            last = i;
    }
    return NULL;
}

static void races(void)
{
    char name[32], target[64];
    pthread_t tid;
    int i, rc, step, made = 0, swapped = 0;

    CHECK(pthread_create(&tid, NULL, racer, NULL) == 0);
    for (i = 0; i < RACE_MAX && swapped < 5; i++) {
        snprintf(name, sizeof(name), "race-%d", i);
        rc = nsf_add(run_dir, name, &step);
        atomic_store(&race_next, i + 1);
        if (rc == 0) {
            CHECK(inode_of(path_of(name)) != start_ns);
            made++;
        } else {
            CHECK(rc == -ENOENT && step == NSF_STEP_BIND);
            CHECK(readlink(path_of(name), target, sizeof(target)) > 0);
            swapped++;
        }
        CHECK(thread_ns() == start_ns);
    }
    atomic_store(&race_next, RACE_MAX);
    CHECK(pthread_join(tid, NULL) == 0);
    fprintf(stderr, "core_driver: %d adds, %d swapped by the racer\n",
            made + swapped, swapped);
    /* Clean up: names, the racer's symlinks and the files it took. */
    for (i = 0; i < made + swapped + 1; i++) {
        snprintf(name, sizeof(name), "race-%d", i);
        (void)nsf_delete(run_dir, name, &step);
        snprintf(name, sizeof(name), ".racer-%d", i);
        (void)nsf_delete(run_dir, name, &step);
    }
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--leak") == 0) {
        volatile char *lost = malloc(123);
        CHECK(lost != NULL);
        lost[0] = 1;
        lost = NULL;
        return 0;
    }
    CHECK(argc == 2);
    run_dir = argv[1];
    start_ns = thread_ns();
    CHECK(nsf_cpu_count() >= 1);

    run_dir_steps();
    single_calls();
    batches(1);
    batches(2);
    batches(0);
    faults();
    races();
    CHECK(thread_ns() == start_ns);
    puts("core_driver: ok");
    return 0;
}
