/* Handles: anonymous network namespaces held by an fd, per-thread
 * enter/leave with a checked return, sockets made inside a namespace,
 * loopback up, and the privilege probe.
 *
 * This file is both a C header (included by handle.c) and part of the
 * cffi cdef, so it holds declarations only: no preprocessor lines, no
 * definitions.
 *
 * Every function returns >= 0 (0 or an fd) or -errno, and reports the
 * failing step (steps.h) through *step. No function calls the Python API.
 * Every function leaves the calling thread in the network namespace it
 * was in, except nsf_enter (which moves it on purpose) and nsf_leave
 * (which moves it back); a failed move back is always reported, as
 * NSF_STEP_RESTORE_NET or NSF_STEP_VERIFY_NET (nsf_restore_net in nsf.h).
 * All fds are O_CLOEXEC.
 */

/* nsf_anon_new flags and nsf_pool_config.flags. */
enum nsf_handle_flags {
    NSF_LO_UP = 1 /* bring the new namespace's loopback up */
};

/* Open the network namespace file at path for setns: never blocks (a
 * FIFO or a device is opened O_NONBLOCK), and refuses a file that is no
 * network namespace (-EINVAL at NSF_STEP_NOT_NETNS). Returns the fd.
 * Steps OPEN_NS, NOT_NETNS. */
int nsf_open_ns(const char *path, int *step);

/* A new anonymous network namespace, held only by the returned fd (no
 * name, no mount). *ino receives its inode. Steps OPEN_THREAD_NET,
 * UNSHARE_NET, SOCKET and LO_UP (NSF_LO_UP), STAT_NS, RESTORE_NET,
 * VERIFY_NET. */
int nsf_anon_new(int flags, unsigned long long *ino, int *step);

/* Move the calling thread into ns_fd's namespace. Returns an fd of the
 * namespace the thread was in, for nsf_leave. Steps OPEN_THREAD_NET,
 * SETNS_NET. */
int nsf_enter(int ns_fd, int *step);

/* Move the calling thread back to saved_fd's namespace, check that it is
 * there (nsf_restore_net), and close saved_fd. On failure saved_fd is
 * left open and the thread may be in a foreign namespace: *step is
 * NSF_STEP_RESTORE_NET or NSF_STEP_VERIFY_NET. */
int nsf_leave(int saved_fd, int *step);

/* socket(family, type | SOCK_CLOEXEC, proto) made inside ns_fd's
 * namespace; the calling thread ends where it started. Returns the fd.
 * Steps: nsf_enter's, SOCKET, nsf_leave's. */
int nsf_socket_in(int ns_fd, int family, int type, int proto, int *step);

/* Bring the loopback of ns_fd's namespace up. Steps: nsf_socket_in's,
 * LO_UP. */
int nsf_lo_up(int ns_fd, int *step);

/* Whether this process may unshare(CLONE_NEWNET): a forked child tries.
 * 0, or -errno of the child's unshare (step UNSHARE_NET), of fork (FORK)
 * or of waitpid (WAIT; ECHILD when the child did not exit). */
int nsf_probe_netns(int *step);

/* Inode of the calling thread's network namespace, in *ino. Step
 * STAT_NS. */
int nsf_thread_ns_ino(unsigned long long *ino, int *step);
