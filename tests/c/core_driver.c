/* Drives csrc/core.c through every entry point and error path, for the
 * sanitizer test (tests/root/test_sanitizers.py). Built with ASan+UBSan.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"

#define CHECK(cond)                                                      \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "%s:%d: check failed: %s (errno %d)\n",      \
                    __FILE__, __LINE__, #cond, errno);                   \
            exit(1);                                                     \
        }                                                                \
    } while (0)

#define NNAMES 6

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
    nsf_forget_run_dir();
    CHECK(nsf_prepare_run_dir(run_dir, &step) == 0); /* no second bind */

    memset(long_dir, 'd', sizeof(long_dir) - 1);
    long_dir[0] = '/';
    long_dir[sizeof(long_dir) - 1] = '\0';
    CHECK(nsf_prepare_run_dir(long_dir, &step) == -ENAMETOOLONG);
    CHECK(step == NSF_STEP_PATH);
    /* The directory fits, the joined path does not. */
    long_dir[PATH_MAX - 100] = '\0';
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    CHECK(nsf_add(long_dir, long_name, &step) == -ENAMETOOLONG);
    CHECK(step == NSF_STEP_PATH);
    CHECK(nsf_attach(long_dir, long_name, getpid(), &step) == -ENAMETOOLONG);
    CHECK(step == NSF_STEP_PATH);
    CHECK(nsf_delete(long_dir, long_name, &step) == -ENAMETOOLONG);
    CHECK(step == NSF_STEP_PATH);
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
    CHECK(step == NSF_STEP_CREATE);
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
    CHECK(step == NSF_STEP_CREATE);
    CHECK(nsf_delete(run_dir, "stale", &step) == 0);
    CHECK(!exists("stale"));

    /* Stacked mounts: all go with the file. */
    CHECK(mount(path_of("a"), path_of("a"), "none", MS_BIND, NULL) == 0);
    CHECK(mount("/proc/self/ns/net", path_of("a"), "none", MS_BIND,
                NULL) == 0);
    CHECK(nsf_delete(run_dir, "a", &step) == 0);
    CHECK(!exists("a"));

    CHECK(nsf_delete(run_dir, "a", &step) == -ENOENT);
    CHECK(step == NSF_STEP_UNLINK);
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
            CHECK(steps[i] == NSF_STEP_CREATE);
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
    CHECK(steps[NNAMES] == NSF_STEP_UNLINK);

    CHECK(nsf_add_many(run_dir, names, 0, nthreads, results, steps) == 0);
    CHECK(nsf_delete_many(run_dir, names, 0, nthreads, results, steps) ==
          0);
    CHECK(thread_ns() == start_ns);
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
    CHECK(thread_ns() == start_ns);
    puts("core_driver: ok");
    return 0;
}
