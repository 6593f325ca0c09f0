/* The pool of fresh network namespaces, kept ready by C threads and torn
 * down in batches behind a back-pressure bound (see pool.c).
 *
 * This file is both a C header (included by pool.c) and part of the cffi
 * cdef, so it holds declarations only: no preprocessor lines, no
 * definitions.
 *
 * Every function returns >= 0 or -errno and reports the failing step
 * (steps.h) through *step where it has one. No function calls the Python
 * API, and every function leaves the calling thread in the network
 * namespace it was in. All fds are O_CLOEXEC.
 */

struct nsf_pool;
struct nsf_wire_ns;  /* wire.h */
struct nsf_wire_req; /* wire.h */

/* nsf_pool_config.node_flags */
enum nsf_pool_node_flags {
    NSF_POOL_NODE_NAMED = 1 /* a named node (run_dir, prefix) */
};

struct nsf_pool_config {
    const char *run_dir; /* NULL: anonymous namespaces; else named ones */
    const char *prefix;  /* names are prefix + serial (<= 40 bytes) */
    int size;            /* ready namespaces to keep (K) */
    int threads;         /* producer threads */
    int flags;           /* NSF_LO_UP (handle.h) */
    int max_pending;     /* back-pressure bound, see pool.c */
    int batch;           /* most deletions per batch */
    int batch_delay_us;  /* how long the deleter waits to fill a batch */
    int stuck_ms;        /* a pending namespace older than this is counted
                            as held by someone else, not as backlog */
    int fail_ms;         /* acquire gives up after creations failed for
                            this long (see nsf_pool_acquire) */
    /* A pool of pre-wired topologies (nodes > 0): each item is `nodes`
     * new namespaces (named ones as a named pool makes them, anonymous
     * ones with their rtnetlink socket made inside) wired by the plan
     * `wiring` (nwiring requests over namespaces 0 .. nodes - 1; see
     * wire.h), all copied at open. Sysctl values are written, never read
     * back; no record is read. nodes = 0: single namespaces. */
    int nodes;
    const int *node_flags;  /* nodes flags (enum nsf_pool_node_flags);
                               NULL: named exactly when run_dir is set */
    const struct nsf_wire_req *wiring;
    int nwiring;
};

/* The namespaces of one pre-wired topology and what its wiring made. */
struct nsf_pool_net {
    int nodes;
    struct nsf_pool_item *node; /* per namespace: fd, nsid, ino, name */
    struct nsf_wire_ns *ns;     /* per namespace: fd (node[k].fd), its
                                   rtnetlink socket (rtnl, seq): the
                                   taker's once acquired (set rtnl to -1
                                   when taking it; release closes what is
                                   left) */
    struct nsf_wire_req *reqs;  /* the wiring as it ran: each request's
                                   index and peer_index */
    int nreqs;
    /* Written by nsf_pool_acquire, for a taker that reads arrays at
     * once: per node its fd and its socket (which is the taker's from
     * then on: ns[k].rtnl becomes -1), then per request its index and
     * peer_index (2 * (nodes + nreqs) ints); and per node its inode. */
    int *taken;
    unsigned long long *inos;
};

struct nsf_pool_item {
    int fd;                  /* owned by the taker until released */
    int nsid;                /* id in the pool's observer namespace */
    unsigned long long ino;  /* inode of the namespace */
    unsigned long long serial;
    char name[64];           /* "" for an anonymous namespace */
    struct nsf_pool_net *net; /* a topology pool's item: its namespaces
                                 (then fd is -1 and name ""); NULL
                                 otherwise */
    /* When nsf_pool_acquire fails with a creation's error: the wiring
     * request that failed (-1: none, a namespace failed) and the
     * kernel's text ("" none). */
    int request;
    char msg[256];
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
    int last_step;          /* its step */
    char last_name[64];     /* the name it was making ("" if anonymous) */
    int last_request;       /* the wiring request that failed; -1 none */
    char last_msg[256];     /* the kernel's text of it; "" none */
};

/* Start a pool: the observer namespace and the C threads. For a
 * topology pool, ready, outstanding, queued and the item counters count
 * topologies; pending, pending_max, freed and stuck count namespaces,
 * and max_pending and batch bound namespaces. Fails with
 * -EINVAL at NSF_STEP_POOL_CONFIG for a config out of range (-ENAMETOOLONG
 * at PATH_TOO_LONG for a run_dir too long), with the steps of
 * nsf_prepare_run_dir (a named pool) and of nsf_anon_new (when no
 * namespace can be made), and with the real errno at MALLOC,
 * OPEN_THREAD_NET or PTHREAD_CREATE when the pool's own threads cannot
 * start. */
int nsf_pool_open(const struct nsf_pool_config *cfg, struct nsf_pool **out,
                  int *step);

/* Take a ready namespace; waits up to timeout_ms (< 0: forever). Fails
 * with ESHUTDOWN once closed (step POOL_CLOSED), ETIMEDOUT on timeout
 * (POOL_TIMEOUT), or, when none is
 * ready and the producers are failing, with their last error (*step is
 * its step). Failing means: at least 5 creations in a row failed, over
 * at least cfg.fail_ms; for the namespace limit (ENOSPC at unshare) those
 * fail_ms count from the last failure seen while something the pool gave
 * back still waited for its teardown (which frees room under the limit).
 * One success ends it, and only a failure during the call counts (a
 * failing pool is woken for a fresh attempt first). With that error,
 * item->name is the name the failed creation was making ("" for an
 * anonymous pool; for a topology pool, the node's), and item->request
 * and item->msg the wiring request that failed (-1 none) and the
 * kernel's text. A topology item's sockets (item->net->ns[k].rtnl) are
 * the taker's from here on. */
int nsf_pool_acquire(struct nsf_pool *p, int timeout_ms,
                     struct nsf_pool_item *item, int *step);

/* Give a taken namespace back: its name (if any) is removed at once, its
 * fd is closed by the deleter in a batch (after nsf_pool_close: at once,
 * in the calling thread). A topology goes back whole: every name at
 * once, every fd (and every socket still in item->net->ns) in one
 * batch. */
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

/* An item taken from a pool that is gone (freed before the item came
 * back), once its names are deleted and its fds closed by the caller:
 * free what it holds in memory (a topology's arrays). */
void nsf_pool_item_forget(struct nsf_pool_item *item);
