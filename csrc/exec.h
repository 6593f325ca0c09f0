/* Running a command inside a named network namespace: ip netns exec,
 * -all exec, the -n NAME switch, and the spawn API.
 *
 * This file is both a C header (included by exec.c) and part of the cffi
 * cdef, so it holds declarations only: no preprocessor lines, no
 * definitions.
 *
 * Every function returns >= 0 or -errno and sets *step to the NSF_STEP_*
 * (steps.h) that failed. No function touches the Python API. nsf_spawn
 * never moves the calling thread: the namespace switch happens in the
 * child, which runs only async-signal-safe code between clone and exec.
 */

enum nsf_spawn_flag {
    NSF_SPAWN_FULL = 1,            /* ip's whole set-up, else setns only */
    NSF_SPAWN_CLOSE_FDS = 2,       /* close every fd >= 3 but keep_fds */
    NSF_SPAWN_RESTORE_SIGNALS = 4, /* SIGPIPE and SIGXFSZ back to SIG_DFL */
    NSF_SPAWN_NEW_SESSION = 8,     /* setsid() in the child */
    NSF_SPAWN_FORK = 16,           /* fork() instead of a CLONE_VM child */
    NSF_SPAWN_NS_FD = 32           /* the namespace is ns_fd */
};

/* What to run, where, and with which stdio. Strings are C strings; the
 * arrays are NULL-terminated. */
struct nsf_spawn_req {
    const char *run_dir;       /* the namespace is run_dir/name, unless */
    const char *ns_path;       /* this file (not NULL), or unless */
    int ns_fd;                 /* this open one (NSF_SPAWN_NS_FD) */
    const char *name;          /* the sysfs source and /etc/netns/NAME;
                                  NULL: no name (no /etc/netns binds) */
    const char *file;          /* the program: a path, or searched */
    char *const *argv;         /* argv of the program */
    char *const *envp;         /* NULL: the caller's environment */
    const char *path;          /* search path; NULL: execvp's (PATH) */
    const char *cwd;           /* NULL: inherit the working directory */
    const char *cgroup_procs;  /* VRF reset: cgroup.procs to join, or NULL */
    int fd_in;                 /* -1: inherit stdin */
    int fd_out;                /* -1: inherit stdout */
    int fd_err;                /* -1: inherit stderr */
    const int *keep_fds;       /* sorted fds kept open (CLOSE_FDS) */
    int n_keep;
    int flags;                 /* NSF_SPAWN_* */
};

/* Start req->file in the namespace (ns_fd with NSF_SPAWN_NS_FD, else
 * ns_path, else run_dir/name): clone a child that sets itself up
 * (VRF reset, setns, and with NSF_SPAWN_FULL ip's mount set-up) and execs.
 * Returns the child's pid once it has exec'd. If the set-up or the exec
 * fails, the child reports errno and step through a CLOEXEC pipe, is
 * reaped, and this returns -errno with *step set. Steps PATH_TOO_LONG,
 * PIPE, MMAP_STACK, FORK, and the child's: SETSID, DUP_STDIO, OPEN_NS,
 * SETNS_NET (EINVAL also for a file that is no network namespace),
 * UNSHARE_MNT, MAKE_RSLAVE, MOUNT_SYSFS (NSF_SPAWN_FULL), CHDIR, KEEP_FD,
 * EXEC. */
int nsf_spawn(const struct nsf_spawn_req *req, int *step);

/* ip netns exec without fork: set the calling process up (always the full
 * set-up) and replace it with the command. Returns only on failure. Only
 * for a process that is about to exit anyway (the CLI). */
int nsf_exec(const struct nsf_spawn_req *req, int *step);

/* ip's netns_switch for -n NAME: move the calling thread into
 * run_dir/name with ip's full set-up (a new mount namespace, / rslave,
 * a fresh /sys, the /etc/netns/NAME binds; no VRF reset, as in ip). The
 * thread stays there. */
int nsf_switch(const char *run_dir, const char *name, int *step);

/* setns(fd, CLONE_NEWNS) for the calling thread (back to a saved mount
 * namespace). Step SETNS_MNT. */
int nsf_enter_mnt(int fd, int *step);

