/* The test-farm core: anonymous namespaces held by an fd, per-thread
 * enter/leave with a checked restore, sockets made inside a namespace,
 * loopback up, and the pool of fresh namespaces kept by C threads.
 *
 * This file is both a C header (included by farm.c) and the cffi cdef, so
 * it holds declarations only: no preprocessor lines, no definitions.
 *
 * Every function returns >= 0 (0 or an fd or an nsid) or -errno, and
 * reports the failing step through *step. No function calls the Python
 * API. Every function leaves the calling thread in the network namespace
 * it was in, except nsf_enter (which moves it on purpose) and nsf_leave
 * (which moves it back); a failed move back is always reported, as
 * NSF_STEP_HANDLE_RESTORE or NSF_STEP_HANDLE_VERIFY. All fds are O_CLOEXEC.
 */

enum nsf_farm_step {
    NSF_STEP_HANDLE_SAVE = 400,    /* open(/proc/thread-self/ns/net) */
    NSF_STEP_HANDLE_UNSHARE = 401, /* unshare(CLONE_NEWNET) */
    NSF_STEP_HANDLE_OPEN = 402,    /* open the new namespace's ns file */
    NSF_STEP_HANDLE_SETNS = 403,   /* setns(target, CLONE_NEWNET) */
    NSF_STEP_HANDLE_RESTORE = 404, /* setns(saved, CLONE_NEWNET) back */
    NSF_STEP_HANDLE_VERIFY = 405,  /* after the restore the thread is not
                                      in the saved namespace (EIO) */
    NSF_STEP_HANDLE_SOCKET = 406,  /* socket() inside the namespace */
    NSF_STEP_HANDLE_LO_UP = 407,   /* ioctl SIOC[GS]IFFLAGS on "lo" */
    NSF_STEP_HANDLE_STAT = 408,    /* fstat of a namespace fd */
    NSF_STEP_HANDLE_NETLINK = 409, /* rtnetlink socket, send or receive */
    NSF_STEP_HANDLE_NSID = 410,    /* the kernel refused an nsid request */
    NSF_STEP_HANDLE_PROBE = 411,   /* fork/wait of the privilege probe */
    NSF_STEP_HANDLE_OPEN_NS = 412, /* open of a namespace file by path */
    NSF_STEP_HANDLE_NOT_NS = 413,  /* that file is no network namespace
                                      (not nsfs: a FIFO, a stale entry;
                                      or another type), EINVAL */
    NSF_STEP_POOL_THREAD = 420,    /* pthread_create, malloc, eventfd */
    NSF_STEP_POOL_CLOSED = 421,    /* the pool is closed (ESHUTDOWN) */
    NSF_STEP_POOL_TIMEOUT = 422    /* acquire timed out (ETIMEDOUT) */
};

/* nsf_anon_new flags and nsf_pool_config.flags. */
enum nsf_farm_flags {
    NSF_LO_UP = 1 /* bring the new namespace's loopback up */
};

/* Open the network namespace file at path for setns: never blocks (a
 * FIFO or a device is opened O_NONBLOCK), and refuses a file that is no
 * network namespace (-EINVAL at NSF_STEP_HANDLE_NOT_NS). Returns the fd. */
int nsf_open_ns(const char *path, int *step);

/* A new anonymous network namespace, held only by the returned fd (no
 * name, no mount). *ino receives its inode. */
int nsf_anon_new(int flags, unsigned long long *ino, int *step);

/* Move the calling thread into ns_fd's namespace. Returns an fd of the
 * namespace the thread was in, for nsf_leave. */
int nsf_enter(int ns_fd, int *step);

/* Move the calling thread back to saved_fd's namespace, check that it is
 * there (fstat of saved_fd against /proc/thread-self/ns/net), and close
 * saved_fd. On failure saved_fd is left open and the thread may be in a
 * foreign namespace: *step is NSF_STEP_HANDLE_RESTORE or _VERIFY. */
int nsf_leave(int saved_fd, int *step);

/* socket(family, type | SOCK_CLOEXEC, proto) made inside ns_fd's
 * namespace; the calling thread ends where it started. Returns the fd. */
int nsf_socket_in(int ns_fd, int family, int type, int proto, int *step);

/* Bring the loopback of ns_fd's namespace up. */
int nsf_lo_up(int ns_fd, int *step);

/* Whether this process may unshare(CLONE_NEWNET): a forked child tries.
 * 0, or -errno of the child's unshare (or of fork/waitpid). */
int nsf_probe_netns(int *step);

/* Inode of the calling thread's network namespace, in *ino. */
int nsf_thread_ns_ino(unsigned long long *ino, int *step);

/* -- the pool ------------------------------------------------------------ */

struct nsf_pool;

struct nsf_pool_config {
    const char *run_dir; /* NULL: anonymous namespaces; else named ones */
    const char *prefix;  /* names are prefix + serial (<= 40 bytes) */
    int size;            /* ready namespaces to keep (K) */
    int threads;         /* producer threads */
    int flags;           /* NSF_LO_UP */
    int max_pending;     /* back-pressure bound, see farm.c */
    int batch;           /* most deletions per batch */
    int batch_delay_us;  /* how long the deleter waits to fill a batch */
    int stuck_ms;        /* a pending namespace older than this is counted
                            as held by someone else, not as backlog */
    int fail_ms;         /* acquire gives up after creations failed for
                            this long (see nsf_pool_acquire) */
};

struct nsf_pool_item {
    int fd;                  /* owned by the taker until released */
    int nsid;                /* id in the pool's observer namespace */
    unsigned long long ino;  /* inode of the namespace */
    unsigned long long serial;
    char name[64];           /* "" for an anonymous namespace */
};

struct nsf_pool_stats {
    long long ready;        /* namespaces ready to hand out */
    long long outstanding;  /* handed out, not released yet */
    long long queued;       /* released, waiting for the deleter */
    long long pending;      /* deleted, kernel teardown not started yet */
    long long pending_max;  /* highest pending seen */
    long long created;
    long long acquired;
    long long released;
    long long deleted;
    long long freed;        /* RTM_DELNSID seen: kernel teardown started */
    long long stuck;        /* pending longer than stuck_ms */
    long long throttled;    /* times a producer waited for the backlog */
    long long enospc;       /* creations refused with ENOSPC */
    long long resyncs;      /* nsid dumps after lost notifications */
    long long failing;      /* creations failed in a row since the last
                               success (0: the last one worked) */
    int observing;          /* 1: the RTM_DELNSID signal works */
    int last_error;         /* last creation error (-errno), 0 if none;
                               kept after later successes */
    int last_step;
    char last_name[64];     /* the name it was making ("" if anonymous) */
};

/* Start a pool: the observer namespace and the C threads. */
int nsf_pool_open(const struct nsf_pool_config *cfg, struct nsf_pool **out,
                  int *step);

/* Take a ready namespace; waits up to timeout_ms (< 0: forever). Fails
 * with ESHUTDOWN once closed, ETIMEDOUT on timeout, or, when none is
 * ready and the producers are failing, with their last error (*step is
 * its step). Failing means: at least 5 creations in a row failed, over
 * at least cfg.fail_ms; for the namespace limit (ENOSPC at unshare) those
 * fail_ms count from the last failure seen while something the pool gave
 * back still waited for its teardown (which frees room under the limit).
 * One success ends it, and only a failure during the call counts (a
 * failing pool is woken for a fresh attempt first). With that error,
 * item->name is the name the failed creation was making ("" for an
 * anonymous pool). */
int nsf_pool_acquire(struct nsf_pool *p, int timeout_ms,
                     struct nsf_pool_item *item, int *step);

/* Give a taken namespace back: its name (if any) is removed at once, its
 * fd is closed by the deleter in a batch (after nsf_pool_close: at once,
 * in the calling thread). */
int nsf_pool_release(struct nsf_pool *p, const struct nsf_pool_item *item);

int nsf_pool_stats(struct nsf_pool *p, struct nsf_pool_stats *st);

/* The fds the pool holds now (ready namespaces, queued ones, its own);
 * returns how many (at most max are written). */
int nsf_pool_held_fds(struct nsf_pool *p, int *fds, int max);

/* Wait up to timeout_ms until nothing is queued or pending; 0 when done,
 * -ETIMEDOUT otherwise. */
int nsf_pool_drain(struct nsf_pool *p, int timeout_ms);

/* Stop the threads, delete every ready and queued namespace. Idempotent.
 * Items still out stay valid; release them afterwards. */
int nsf_pool_close(struct nsf_pool *p, int *step);

/* Free a closed pool (after every item was released). */
void nsf_pool_free(struct nsf_pool *p);
