/* Running commands inside a named network namespace (see exec.h).
 *
 * The set-up follows iproute2's netns_switch (lib/namespace.c) and
 * vrf_reset (ip/ipvrf.c): join the default VRF cgroup if the process is in
 * a VRF one, setns, unshare(CLONE_NEWNS), make / rslave, lazily unmount
 * /sys and mount a fresh sysfs (read-only if the old one was), bind every
 * /etc/netns/NAME entry over /etc, then exec.
 *
 * nsf_spawn runs that set-up in a child made with clone(CLONE_VM |
 * CLONE_VFORK), like posix_spawn: no page tables are copied and no
 * pthread_atfork handler runs, so it is cheap and safe in a multi-threaded
 * program. The child shares the parent's memory until it execs, so it only
 * makes syscalls and async-signal-safe calls: no malloc, no stdio, no
 * locale (error texts come from a table filled in the parent).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsf.h"
#include "exec.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* The sanitizers do not follow a CLONE_VM child onto its own stack. */
#define NSF_ALWAYS_FORK 1
#else
#define NSF_ALWAYS_FORK 0
#endif

#define ETC_DIR "/etc"
#define NETNS_ETC_DIR "/etc/netns"
/* The child's stack: the set-up's buffers (about 20 KiB) plus room for
 * glibc's execvp, which copies argv onto the stack for scripts. */
#define CHILD_STACK (96 * 1024)
#define CHILD_EXIT 127

extern char **environ;

/* -- error texts, readable from a child ------------------------------------ */

#define ERRTAB_SIZE 160
#define ERRTEXT_MAX 64

static char errtab[ERRTAB_SIZE][ERRTEXT_MAX];
static pthread_once_t errtab_once = PTHREAD_ONCE_INIT;

static void errtab_fill(void)
{
    char buf[ERRTEXT_MAX];
    int i;

    for (i = 0; i < ERRTAB_SIZE; i++) {
        const char *text = strerror_r(i, buf, sizeof(buf));
        size_t len = strnlen(text, ERRTEXT_MAX - 1);

        memcpy(errtab[i], text, len);
        errtab[i][len] = '\0';
    }
}

/* A message assembled in a fixed buffer and written with one write(2). */
struct msg {
    char buf[2 * PATH_MAX + 128];
    size_t len;
};

static void msg_add(struct msg *m, const char *s)
{
    while (*s && m->len < sizeof(m->buf) - 1)
        m->buf[m->len++] = *s++;
}

static void msg_errtext(struct msg *m, int err)
{
    char digits[16];
    int i = (int)sizeof(digits) - 1;
    unsigned int n = err < 0 ? (unsigned int)-err : (unsigned int)err;

    if (err >= 0 && err < ERRTAB_SIZE) {
        msg_add(m, errtab[err]);
        return;
    }
    digits[i] = '\0';
    do {
        digits[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n && i > 1);
    if (err < 0)
        digits[--i] = '-';
    msg_add(m, "Unknown error ");
    msg_add(m, digits + i);
}

static void msg_write(struct msg *m, int fd)
{
    size_t off = 0;

    m->buf[m->len++] = '\n';
    while (off < m->len) {
        ssize_t n = write(fd, m->buf + off, m->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

/* dst = a + b + c; -1 if it does not fit in PATH_MAX. */
static int path_cat(char dst[PATH_MAX], const char *a, const char *b,
                    const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);

    if (la + lb + lc >= PATH_MAX)
        return -1;
    memcpy(dst, a, la);
    memcpy(dst + la, b, lb);
    memcpy(dst + la + lb, c, lc + 1);
    return 0;
}

/* -- the namespace set-up (ip's vrf_reset + netns_switch) ------------------ */

struct target {
    const char *ns_path;      /* run_dir/name, or the request's ns_path */
    int ns_fd;                /* >= 0: this namespace, not ns_path */
    const char *name;         /* sysfs source and /etc/netns/NAME, or NULL */
    const char *cgroup_procs; /* VRF reset, or NULL */
    int full;                 /* the mount set-up too, else setns only */
};

/* Join the default VRF cgroup (prepared by the caller). Like ip, a failure
 * here does not stop the exec. Writing 0 moves the writing process. */
static void vrf_reset(const char *cgroup_procs)
{
    int fd;

    if (!cgroup_procs)
        return;
    fd = open(cgroup_procs, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, "0", 1) < 0) {
        /* ip goes on after "Failed to join cgroup" too. */
    }
    close(fd);
}

/* A file that is no network namespace (a stale entry, a FIFO) fails at
 * the setns step with EINVAL, as setns itself would refuse it: the same
 * error, without ever blocking in open. */
static int enter_netns(const struct target *t, int *step)
{
    int rc = 0, fd = t->ns_fd;

    if (fd < 0)
        fd = nsf_open_ns_file(t->ns_path, NSF_STEP_SETNS_NET, step);
    if (fd < 0)
        return fd;
    if (setns(fd, CLONE_NEWNET) < 0)
        rc = nsf_fail(step, NSF_STEP_SETNS_NET);
    if (fd != t->ns_fd)
        close(fd);
    return rc;
}

/* fn(entry, arg, fd of the directory) for every entry of the directory at
 * path but . and .., in directory order (nsf_dir: no malloc). */
static void for_each_entry(const char *path,
                           void (*fn)(const char *, void *, int), void *arg)
{
    union {
        char bytes[4096];
        uint64_t align;
    } buf;
    struct nsf_dir d;
    const char *name;
    int err, fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return;
    nsf_dir_init(&d, fd, buf.bytes, sizeof(buf.bytes));
    while ((name = nsf_dir_next(&d, &err)))
        fn(name, arg, fd);
    close(fd);
}

/* Bind /etc/netns/NAME/ENTRY over /etc/ENTRY; on failure print ip's
 * message on stderr and go on. */
static void bind_etc_entry(const char *entry, void *dir, int dfd)
{
    char src[PATH_MAX], dst[PATH_MAX];

    (void)dfd;
    if (path_cat(src, dir, "/", entry) < 0 ||
        path_cat(dst, ETC_DIR "/", entry, "") < 0)
        return;
    if (mount(src, dst, "none", MS_BIND, NULL) < 0) {
        struct msg m = {.len = 0};
        int err = errno;

        msg_add(&m, "Bind ");
        msg_add(&m, src);
        msg_add(&m, " -> ");
        msg_add(&m, dst);
        msg_add(&m, " failed: ");
        msg_errtext(&m, err);
        msg_write(&m, STDERR_FILENO);
    }
}

/* Every entry of /etc/netns/NAME, bound over /etc in directory order. */
static void bind_etc(const char *name)
{
    char dir[PATH_MAX];

    if (strlen(name) >= NAME_MAX)
        return; /* as ip: its buffer has no room for longer names */
    if (path_cat(dir, NETNS_ETC_DIR "/", name, "") == 0)
        for_each_entry(dir, bind_etc_entry, dir);
}

static int enter(const struct target *t, int *step)
{
    int rc;

    if (t->full)
        vrf_reset(t->cgroup_procs);
    rc = enter_netns(t, step);
    if (rc < 0 || !t->full)
        return rc;
    if (unshare(CLONE_NEWNS) < 0)
        return nsf_fail(step, NSF_STEP_UNSHARE_MNT);
    /* Don't let any mounts propagate back to the parent. */
    if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0)
        return nsf_fail(step, NSF_STEP_MAKE_RSLAVE);
    rc = nsf_remount_sys(t->name ? t->name : "sysfs", step);
    if (rc < 0)
        return rc;
    if (t->name)
        bind_etc(t->name);
    return 0;
}

/* -- the child: stdio, fds, signals, exec ---------------------------------- */

struct child {
    const struct nsf_spawn_req *req;
    struct target target;
    sigset_t oldmask; /* the caller's signal mask, for the command */
    int report;       /* write end of the report pipe, or -1 */
};

struct report {
    int err;
    int step;
};

static int clear_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags < 0)
        return -1;
    return (flags & FD_CLOEXEC) ? fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) : 0;
}

/* fd onto target (an fd already there only loses FD_CLOEXEC). */
static int plug(int fd, int target)
{
    if (fd < 0)
        return 0;
    if (fd == target)
        return clear_cloexec(fd);
    return dup2(fd, target) < 0 ? -1 : 0;
}

static int child_stdio(const struct nsf_spawn_req *req, int *step)
{
    int in = req->fd_in, out = req->fd_out, err = req->fd_err;

    /* A source that a lower target overwrites is moved out of the way
     * first (the copies are CLOEXEC and closed at exec). */
    if (out == 0)
        out = fcntl(out, F_DUPFD_CLOEXEC, 3);
    if (err == 0 || err == 1)
        err = fcntl(err, F_DUPFD_CLOEXEC, 3);
    if ((req->fd_out == 0 && out < 0) ||
        ((req->fd_err == 0 || req->fd_err == 1) && err < 0))
        return nsf_fail(step, NSF_STEP_DUP_STDIO);
    if (plug(in, 0) < 0 || plug(out, 1) < 0 || plug(err, 2) < 0)
        return nsf_fail(step, NSF_STEP_DUP_STDIO);
    return 0;
}

static int is_kept(const struct child *c, int fd)
{
    int i;

    if (fd == c->report)
        return 1;
    for (i = 0; i < c->req->n_keep; i++)
        if (c->req->keep_fds[i] == fd)
            return 1;
    return 0;
}

static void close_unless_kept(const char *entry, void *arg, int dfd)
{
    const struct child *c = arg;
    int fd = 0;

    for (; *entry >= '0' && *entry <= '9'; entry++)
        fd = fd * 10 + (*entry - '0');
    if (!*entry && fd >= 3 && fd != dfd && !is_kept(c, fd))
        close(fd);
}

/* Without close_range (Linux < 5.9): close what /proc/self/fd lists. */
static void close_by_scan(const struct child *c)
{
    for_each_entry("/proc/self/fd", close_unless_kept, (void *)c);
}

/* Close every fd >= 3 except keep_fds and the report pipe. */
static void close_other_fds(const struct child *c)
{
#ifdef SYS_close_range
    const int *keep = c->req->keep_fds;
    int n = c->req->n_keep, i = 0;
    unsigned int lo = 3;

    for (;;) {
        /* The next kept fd: merge the sorted keep_fds with the report. */
        int next = -1;

        while (i < n && keep[i] < (int)lo)
            i++;
        if (i < n)
            next = keep[i];
        if (c->report >= (int)lo && (next < 0 || c->report < next))
            next = c->report;
        if (next < 0)
            break;
        if ((unsigned int)next > lo &&
            syscall(SYS_close_range, lo, (unsigned int)next - 1, 0) < 0)
            goto scan;
        lo = (unsigned int)next + 1;
    }
    if (syscall(SYS_close_range, lo, ~0U, 0) == 0)
        return;
scan:
#endif
    close_by_scan(c);
}

/* execve over the search path, as subprocess does: the first error that
 * is not "not here" wins, else the last one. */
static int search_exec(const struct nsf_spawn_req *req, char *const *envp)
{
    char buf[PATH_MAX];
    const char *dir = req->path;
    size_t flen = strlen(req->file);
    int saved = 0, last = ENOENT;

    for (;;) {
        const char *end = strchrnul(dir, ':');
        size_t dlen = (size_t)(end - dir);

        if (dlen + 1 + flen >= sizeof(buf)) {
            last = ENAMETOOLONG;
        } else {
            memcpy(buf, dir, dlen);
            if (dlen && dir[dlen - 1] != '/')
                buf[dlen++] = '/';
            memcpy(buf + dlen, req->file, flen + 1);
            execve(buf, req->argv, envp);
            last = errno;
            if (!saved && last != ENOENT && last != ENOTDIR)
                saved = last;
        }
        if (!*end)
            break;
        dir = end + 1;
    }
    return -(saved ? saved : last);
}

static int run_program(const struct nsf_spawn_req *req)
{
    char *const *envp = req->envp ? req->envp : environ;

    if (!req->path)
        execvpe(req->file, req->argv, envp);
    else if (strchr(req->file, '/'))
        execve(req->file, req->argv, envp);
    else
        return search_exec(req, envp);
    return -errno;
}

/* Everything between clone and exec; returns only on failure. */
static int setup_and_exec(const struct child *c, int *step)
{
    const struct nsf_spawn_req *req = c->req;
    int i, rc;

    if ((req->flags & NSF_SPAWN_NEW_SESSION) && setsid() < 0)
        return nsf_fail(step, NSF_STEP_SETSID);
    /* stdio first, so that ip's bind messages reach the command's stderr */
    rc = child_stdio(req, step);
    if (rc < 0)
        return rc;
    rc = enter(&c->target, step);
    if (rc < 0)
        return rc;
    if (req->cwd && chdir(req->cwd) < 0)
        return nsf_fail(step, NSF_STEP_CHDIR);
    for (i = 0; i < req->n_keep; i++)
        if (clear_cloexec(req->keep_fds[i]) < 0)
            return nsf_fail(step, NSF_STEP_KEEP_FD);
    if (req->flags & NSF_SPAWN_CLOSE_FDS)
        close_other_fds(c);
    if (req->flags & NSF_SPAWN_RESTORE_SIGNALS) {
        /* Python ignores these; ip's commands start with the default. */
        signal(SIGPIPE, SIG_DFL);
        signal(SIGXFSZ, SIG_DFL);
    }
    sigprocmask(SIG_SETMASK, &c->oldmask, NULL);
    return nsf_set_step(step, NSF_STEP_EXEC, run_program(req));
}

/* Handlers are the parent's code: a signal must not run one in the child
 * (with CLONE_VM it would write the parent's memory). Reset them while
 * every signal is still blocked; ignored signals stay ignored. */
static void reset_handlers(void)
{
    struct sigaction dfl, old;
    int sig;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (sig = 1; sig < _NSIG; sig++) {
        if (sigaction(sig, NULL, &old) < 0)
            continue;
        if (old.sa_handler != SIG_IGN && old.sa_handler != SIG_DFL)
            sigaction(sig, &dfl, NULL);
    }
}

static int child_main(void *arg)
{
    const struct child *c = arg;
    struct report rep;
    int step = NSF_STEP_NONE;

    reset_handlers();
    rep.err = -setup_and_exec(c, &step);
    rep.step = step;
    if (write(c->report, &rep, sizeof(rep)) < 0) {
        /* the parent then sees a child that exited CHILD_EXIT */
    }
    _exit(CHILD_EXIT);
}

static size_t argv_count(char *const *argv)
{
    size_t n = 0;

    while (argv[n])
        n++;
    return n;
}

/* clone (or fork) the child; returns its pid or -errno with *step. */
static int start_child(struct child *c, int *step)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size;
    char *stack;
    int pid;

    if (NSF_ALWAYS_FORK || (c->req->flags & NSF_SPAWN_FORK)) {
        pid = fork();
        if (pid == 0)
            child_main(c);
        return pid < 0 ? nsf_fail(step, NSF_STEP_FORK) : pid;
    }
    size = CHILD_STACK + (argv_count(c->req->argv) + 2) * sizeof(char *);
    size = (size + page - 1) / page * page;
    stack = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return nsf_fail(step, NSF_STEP_MMAP_STACK);
    /* CLONE_VFORK: this thread sleeps until the child has exec'd or
     * exited, so the stack and *c stay valid for as long as it runs. */
    pid = clone(child_main, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
    if (pid < 0)
        pid = nsf_fail(step, NSF_STEP_FORK);
    munmap(stack, size);
    return pid;
}

static int vforking(const struct nsf_spawn_req *req)
{
    return !NSF_ALWAYS_FORK && !(req->flags & NSF_SPAWN_FORK);
}

/* The exec report: a struct report if the child failed, else nothing. */
static int read_report(int fd, struct report *rep)
{
    size_t got = 0;

    while (got < sizeof(*rep)) {
        ssize_t n = read(fd, (char *)rep + got, sizeof(*rep) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        got += (size_t)n;
    }
    return 1;
}

static int init_child(struct child *c, const struct nsf_spawn_req *req,
                      char ns_path[PATH_MAX], int *step)
{
    int by_fd = !!(req->flags & NSF_SPAWN_NS_FD);

    *step = NSF_STEP_NONE;
    pthread_once(&errtab_once, errtab_fill);
    if (by_fd || req->ns_path)
        ns_path[0] = '\0';
    else if (nsf_join(ns_path, req->run_dir, req->name) < 0)
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
    c->req = req;
    c->target.ns_path = req->ns_path ? req->ns_path : ns_path;
    c->target.ns_fd = by_fd ? req->ns_fd : -1;
    c->target.name = req->name;
    c->target.cgroup_procs = req->cgroup_procs;
    c->target.full = !!(req->flags & NSF_SPAWN_FULL);
    c->report = -1;
    return 0;
}

int nsf_spawn(const struct nsf_spawn_req *req, int *step)
{
    char ns_path[PATH_MAX];
    struct child c;
    struct report rep;
    sigset_t all;
    int fds[2], pid, failed, rc;

    rc = init_child(&c, req, ns_path, step);
    if (rc < 0)
        return rc;
    /* A vfork child has exec'd or exited when clone returns, so its report
     * is already in the pipe: read without blocking, and a write end
     * copied into some other thread's fork cannot make us wait. */
    if (pipe2(fds, O_CLOEXEC | (vforking(req) ? O_NONBLOCK : 0)) < 0)
        return nsf_fail(step, NSF_STEP_PIPE);
    if (fds[1] < 3) {
        /* stdio is closed: keep the report out of the child's 0-2 */
        int high = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
        if (high < 0) {
            rc = nsf_fail(step, NSF_STEP_PIPE);
            close(fds[0]);
            close(fds[1]);
            return rc;
        }
        close(fds[1]);
        fds[1] = high;
    }
    c.report = fds[1];
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &c.oldmask);
    pid = start_child(&c, step);
    pthread_sigmask(SIG_SETMASK, &c.oldmask, NULL);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return pid;
    }
    failed = read_report(fds[0], &rep);
    close(fds[0]);
    if (!failed)
        return pid;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    *step = rep.step;
    return -(rep.err > 0 ? rep.err : EIO);
}

int nsf_exec(const struct nsf_spawn_req *req, int *step)
{
    char ns_path[PATH_MAX];
    struct child c;
    int rc;

    rc = init_child(&c, req, ns_path, step);
    if (rc < 0)
        return rc;
    sigprocmask(SIG_BLOCK, NULL, &c.oldmask);
    return setup_and_exec(&c, step);
}

int nsf_switch(const char *run_dir, const char *name, int *step)
{
    char ns_path[PATH_MAX];
    struct target t = {ns_path, -1, name, NULL, 1};

    *step = NSF_STEP_NONE;
    pthread_once(&errtab_once, errtab_fill);
    if (nsf_join(ns_path, run_dir, name) < 0)
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
    return enter(&t, step);
}

int nsf_enter_mnt(int fd, int *step)
{
    *step = NSF_STEP_NONE;
    if (setns(fd, CLONE_NEWNS) < 0)
        return nsf_fail(step, NSF_STEP_SETNS_MNT);
    return 0;
}
