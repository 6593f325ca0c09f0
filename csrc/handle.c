/* Handles: anonymous namespaces, enter/leave, sockets inside a namespace,
 * loopback up, the privilege probe (see handle.h for the contract). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsf.h"
#include "handle.h"

int nsf_open_ns(const char *path, int *step)
{
    *step = NSF_STEP_NONE;
    return nsf_open_ns_file(path, NSF_STEP_NOT_NETNS, step);
}

int nsf_thread_ns_ino(unsigned long long *ino, int *step)
{
    struct stat st;

    *step = NSF_STEP_NONE;
    if (stat(NSF_THREAD_NS_NET, &st) < 0)
        return nsf_fail(step, NSF_STEP_STAT_NS);
    *ino = st.st_ino;
    return 0;
}

int nsf_anon_new(int flags, unsigned long long *ino, int *step)
{
    return nsf_new_net(flags & NSF_LO_UP, ino, NULL, NULL, step);
}

int nsf_enter(int ns_fd, int *step)
{
    int saved, rc;

    *step = NSF_STEP_NONE;
    saved = nsf_save_net(step);
    if (saved < 0)
        return saved;
    if (setns(ns_fd, CLONE_NEWNET) < 0) {
        rc = nsf_fail(step, NSF_STEP_SETNS_NET);
        close(saved);
        return rc;
    }
    return saved;
}

int nsf_leave(int saved_fd, int *step)
{
    int rc;

    *step = NSF_STEP_NONE;
    rc = nsf_restore_net(saved_fd, step);
    if (rc == 0)
        close(saved_fd);
    return rc;
}

int nsf_socket_in(int ns_fd, int family, int type, int proto, int *step)
{
    int saved, s, back, rc = 0, back_step = NSF_STEP_NONE;

    saved = nsf_enter(ns_fd, step);
    if (saved < 0)
        return saved;
    s = socket(family, type | SOCK_CLOEXEC, proto);
    if (s < 0)
        rc = nsf_fail(step, NSF_STEP_SOCKET);
    back = nsf_leave(saved, &back_step);
    if (back < 0) {
        close(saved);
        if (s >= 0)
            close(s);
        *step = back_step;
        return back;
    }
    return s < 0 ? rc : s;
}

int nsf_lo_up(int ns_fd, int *step)
{
    int rc, s = nsf_socket_in(ns_fd, AF_INET, SOCK_DGRAM, 0, step);

    if (s < 0)
        return s;
    rc = nsf_lo_up_sock(s, step);
    close(s);
    return rc;
}

int nsf_probe_netns(int *step)
{
    int status;
    pid_t pid;

    *step = NSF_STEP_NONE;
    pid = fork();
    if (pid < 0)
        return nsf_fail(step, NSF_STEP_FORK);
    if (pid == 0)
        _exit(unshare(CLONE_NEWNET) == 0 ? 0 : (errno & 0xff));
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return nsf_fail(step, NSF_STEP_WAIT);
    if (!WIFEXITED(status))
        return nsf_set_step(step, NSF_STEP_WAIT, -ECHILD);
    if (WEXITSTATUS(status) != 0)
        return nsf_set_step(step, NSF_STEP_UNSHARE_NET,
                            -WEXITSTATUS(status));
    return 0;
}
