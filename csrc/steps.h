/* The failure vocabulary of the whole C core: one step per syscall and
 * object, whatever file makes the call.
 *
 * This file is both a C header (included through nsf.h by every .c file)
 * and the first part of the cffi cdef, so it holds declarations only: no
 * preprocessor lines, no definitions.
 *
 * Every exported function returns -errno on failure and sets *step to the
 * NSF_STEP_* value of what failed; NSF_STEP_NONE (0) means no step failed.
 * Python turns the value into the exception's .step, the lower-cased name
 * without NSF_STEP_ ("create_name", "unshare_net", ...), and picks the
 * exception's filename from it (netns_fast/_sys.py). Every value is set by
 * some .c file (tests/unit/test_stub.py checks it).
 */

enum nsf_step {
    NSF_STEP_NONE = 0,

    /* The run directory. */
    NSF_STEP_MKDIR_RUN_DIR,  /* mkdir(run_dir, 0755) (add, monitor) */
    NSF_STEP_OPEN_RUN_DIR,   /* open(run_dir, O_DIRECTORY) */
    NSF_STEP_READ_RUN_DIR,   /* getdents64(run_dir) */
    NSF_STEP_MAKE_SHARED,    /* mount("", run_dir, MS_SHARED|MS_REC) */
    NSF_STEP_SELF_BIND,      /* mount(run_dir, run_dir, MS_BIND|MS_REC) */
    NSF_STEP_MAKE_PRIVATE,   /* mount("", run_dir, MS_PRIVATE|MS_REC) */

    /* A name: the file run_dir/NAME. */
    NSF_STEP_PATH_TOO_LONG,  /* run_dir/NAME does not fit PATH_MAX
                                (ENAMETOOLONG) */
    NSF_STEP_CREATE_NAME,    /* open(run_dir/NAME, O_CREAT|O_EXCL, 0) */
    NSF_STEP_BIND,           /* bind of a namespace file onto run_dir/NAME
                                (open_tree + move_mount, or MS_BIND) */
    NSF_STEP_UNLINK_NAME,    /* unlink(run_dir/NAME) */

    /* Network namespaces and the calling thread. */
    NSF_STEP_OPEN_THREAD_NET, /* open(/proc/thread-self/ns/net): the
                                 namespace to come back to, or a new one
                                 to hold */
    NSF_STEP_UNSHARE_NET,    /* unshare(CLONE_NEWNET) */
    NSF_STEP_OPEN_NS,        /* open(namespace file) by path */
    NSF_STEP_NOT_NETNS,      /* that file is no network namespace (not
                                nsfs: a FIFO, a stale entry; or another
                                type): EINVAL */
    NSF_STEP_STAT_NS,        /* (f)stat of a namespace file */
    NSF_STEP_SETNS_NET,      /* setns(fd, CLONE_NEWNET) into the target */
    NSF_STEP_RESTORE_NET,    /* setns(saved, CLONE_NEWNET) back */
    NSF_STEP_VERIFY_NET,     /* after the move back the thread is not in
                                the saved namespace (EIO) */

    /* Sockets and rtnetlink. */
    NSF_STEP_SOCKET,         /* socket() inside a namespace */
    NSF_STEP_LO_UP,          /* ioctl SIOCGIFFLAGS/SIOCSIFFLAGS on "lo" */
    NSF_STEP_SOCKET_NETLINK, /* socket/bind/setsockopt of NETLINK_ROUTE */
    NSF_STEP_SEND_NETLINK,   /* send of rtnetlink requests */
    NSF_STEP_RECV_NETLINK,   /* recvmmsg of their answers (or none came) */
    NSF_STEP_RTM_GETNSID,    /* the kernel refused an RTM_GETNSID */

    /* /proc and inotify. */
    NSF_STEP_OPEN_PROC,      /* open(/proc, O_DIRECTORY) */
    NSF_STEP_READ_PROC,      /* getdents64(/proc) */
    NSF_STEP_INOTIFY_INIT,   /* inotify_init1 */
    NSF_STEP_INOTIFY_ADD_WATCH, /* inotify_add_watch(run_dir) */
    NSF_STEP_READ_INOTIFY,   /* read(inotify fd) */
    NSF_STEP_POLL,           /* poll(inotify fd, wake fd) */
    NSF_STEP_EVENTFD,        /* eventfd */

    /* Processes: exec, -n, spawn, the privilege probe. */
    NSF_STEP_UNSHARE_MNT,    /* unshare(CLONE_NEWNS) */
    NSF_STEP_MAKE_RSLAVE,    /* mount("", "/", MS_SLAVE|MS_REC) */
    NSF_STEP_MOUNT_SYSFS,    /* mount(name, "/sys", "sysfs") */
    NSF_STEP_SETNS_MNT,      /* setns(fd, CLONE_NEWNS) */
    NSF_STEP_PIPE,           /* pipe2 of the exec report pipe */
    NSF_STEP_MMAP_STACK,     /* mmap of a CLONE_VM child's stack */
    NSF_STEP_FORK,           /* clone(CLONE_VM|CLONE_VFORK) or fork */
    NSF_STEP_WAIT,           /* waitpid (a child that did not exit: ECHILD) */
    NSF_STEP_SETSID,         /* setsid() in the child */
    NSF_STEP_DUP_STDIO,      /* dup2 of the child's stdin/stdout/stderr */
    NSF_STEP_CHDIR,          /* chdir(cwd) in the child */
    NSF_STEP_KEEP_FD,        /* fcntl(F_SETFD): a pass_fds entry kept open */
    NSF_STEP_EXEC,           /* execve / execvp of the command */

    /* The private world of rootless (user + mount + network namespace). */
    NSF_STEP_THREADS,        /* the process has other threads: counted in
                                /proc/thread-self/.. (EINVAL) */
    NSF_STEP_UNSHARE_USER,   /* unshare(CLONE_NEWUSER) */
    NSF_STEP_SETGROUPS,      /* write "deny" to /proc/thread-self/setgroups */
    NSF_STEP_UID_MAP,        /* write /proc/thread-self/uid_map */
    NSF_STEP_GID_MAP,        /* write /proc/thread-self/gid_map */
    NSF_STEP_MOUNT_TMPFS,    /* mount("tmpfs", dir, "tmpfs") */
    NSF_STEP_OPEN_TREE,      /* open_tree(OPEN_TREE_CLONE | AT_RECURSIVE) */
    NSF_STEP_MOVE_MOUNT,     /* move_mount of such a clone */

    /* Memory, threads, the pool. */
    NSF_STEP_MALLOC,         /* malloc, calloc or realloc (ENOMEM) */
    NSF_STEP_PTHREAD_CREATE, /* pthread_create (its error, e.g. EAGAIN) */
    NSF_STEP_POOL_CONFIG,    /* a pool config out of range (EINVAL) */
    NSF_STEP_POOL_CLOSED,    /* the pool is closed (ESHUTDOWN) */
    NSF_STEP_POOL_TIMEOUT,   /* acquire timed out (ETIMEDOUT) */

    /* Wiring: links, addresses, routes and sysctls (wire.c). A refusal
     * by the kernel comes with its extended-ack text where it sent one. */
    NSF_STEP_WIRE_REQUEST,   /* a malformed wiring request (EINVAL): an
                                unknown kind, a namespace index out of
                                range, a missing or too long name */
    NSF_STEP_RTM_NEWLINK,    /* RTM_NEWLINK: a link made (veth, dummy,
                                bridge) or changed (up, down, MTU, master,
                                rename, move to another namespace) */
    NSF_STEP_RTM_DELLINK,    /* RTM_DELLINK of a link */
    NSF_STEP_RTM_GETLINK,    /* RTM_GETLINK: a link looked up by name
                                (ENODEV), or the link dump */
    NSF_STEP_RTM_NEWADDR,    /* RTM_NEWADDR of an address */
    NSF_STEP_RTM_DELADDR,    /* RTM_DELADDR of an address */
    NSF_STEP_RTM_GETADDR,    /* the address dump */
    NSF_STEP_RTM_NEWROUTE,   /* RTM_NEWROUTE of a route */
    NSF_STEP_RTM_DELROUTE,   /* RTM_DELROUTE of a route */
    NSF_STEP_RTM_GETROUTE,   /* the route dump */
    NSF_STEP_OPEN_SYSCTL,    /* open(/proc/sys/PATH) inside the namespace */
    NSF_STEP_READ_SYSCTL,    /* read of that file */
    NSF_STEP_WRITE_SYSCTL,   /* write of the new value to it */
    NSF_STEP_WAIT_LINK       /* the link was not up before the timeout
                                (ETIMEDOUT), or went away (ENODEV) */
};
