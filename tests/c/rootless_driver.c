/* Drives the private world's pieces (csrc/rootless.c) under the
 * sanitizers: the thread count, the refusal with a second thread (nothing
 * changed), then in a forked child the unshare of a user, mount and
 * network namespace (root inside, loopback up), a tmpfs, a mount tree
 * cloned, hidden by another tmpfs and one of its entries moved back, a
 * fresh sysfs, and the error steps. Usage: rootless_driver DIR (a
 * directory of a private tmpfs). Prints "rootless_driver: ok", exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "steps.h"
#include "rootless.h"

static int pipe_fds[2];

static void *wait_for_pipe(void *arg)
{
    char c;

    (void)arg;
    if (read(pipe_fds[0], &c, 1) < 0) {
        /* the main thread closed it: done */
    }
    return NULL;
}

static ino_t ns_ino(const char *kind)
{
    char path[64];
    struct stat st;

    snprintf(path, sizeof(path), "/proc/thread-self/ns/%s", kind);
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

static void threads_cases(void)
{
    pthread_t t;
    ino_t user = ns_ino("user");
    int step = -1;

    CHECK(nsf_thread_count(&step) == 1);
    CHECK(pipe(pipe_fds) == 0);
    CHECK(pthread_create(&t, NULL, wait_for_pipe, NULL) == 0);
    CHECK(nsf_thread_count(&step) == 2);
    CHECK(nsf_rootless_unshare(NSF_ROOTLESS_LO_UP, &step) == -EINVAL);
    CHECK(step == NSF_STEP_THREADS);
    CHECK(ns_ino("user") == user);
    close(pipe_fds[1]);
    pthread_join(t, NULL);
    close(pipe_fds[0]);
}

static int is_tmpfs(const char *path)
{
    struct statfs sfs;

    return statfs(path, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
}

static void world_cases(const char *dir)
{
    char path[PATH_MAX], buf[16];
    ino_t user = ns_ino("user"), net = ns_ino("net");
    int step = -1, tree, leaf, fd;
    ssize_t n;

    CHECK(nsf_rootless_unshare(NSF_ROOTLESS_LO_UP, &step) == 0);
    CHECK(step == NSF_STEP_NONE);
    CHECK(getuid() == 0 && getgid() == 0);
    CHECK(ns_ino("user") != user && ns_ino("net") != net);
    CHECK(nsf_mount_tmpfs(dir, &step) == 0);
    CHECK(is_tmpfs(dir));
    snprintf(path, sizeof(path), "%s/kept", dir);
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    CHECK(fd >= 0 && write(fd, "old", 3) == 3);
    close(fd);
    /* a clone of the tree, then a tmpfs that hides it, then one entry of
     * the clone moved back onto a stand-in */
    tree = nsf_clone_tree(-1, dir, &step);
    CHECK(tree >= 0);
    CHECK(nsf_mount_tmpfs(dir, &step) == 0);
    CHECK(access(path, F_OK) < 0 && errno == ENOENT);
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    close(fd);
    leaf = nsf_clone_tree(tree, "kept", &step);
    CHECK(leaf >= 0);
    CHECK(nsf_move_tree(leaf, -1, path, &step) == 0);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
    CHECK(n == 3 && memcmp(buf, "old", 3) == 0);
    if (fd >= 0)
        close(fd);
    close(leaf);
    close(tree);
    CHECK(nsf_mount_sysfs(&step) == 0);
    CHECK(access("/sys/class/net/lo", F_OK) == 0);
    /* the error steps */
    CHECK(nsf_mount_tmpfs("/nonexistent-nsft", &step) == -ENOENT);
    CHECK(step == NSF_STEP_MOUNT_TMPFS);
    CHECK(nsf_clone_tree(-1, "/nonexistent-nsft", &step) == -ENOENT);
    CHECK(step == NSF_STEP_OPEN_TREE);
    CHECK(nsf_move_tree(-1, -1, dir, &step) == -EBADF);
    CHECK(step == NSF_STEP_MOVE_MOUNT);
}

int main(int argc, char **argv)
{
    int status;
    pid_t pid;

    if (argc != 2) {
        fprintf(stderr, "usage: rootless_driver DIR\n");
        return 2;
    }
    threads_cases();
    pid = fork();
    if (pid == 0) {
        world_cases(argv[1]);
        _exit(failures ? 1 : 0);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (failures)
        return 1;
    printf("rootless_driver: ok\n");
    return 0;
}
