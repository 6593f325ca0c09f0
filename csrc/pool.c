/* The pool of fresh network namespaces (see pool.h for the contract).
 *
 * Back-pressure signal of the pool
 * --------------------------------
 * A released namespace is freed by the kernel later, on one worker
 * (cleanup_net), in batches; while it waits it still holds its memory
 * (about 220 KiB of slab) and still counts against user.max_net_namespaces.
 * Creation can outrun that worker. The pool therefore counts the namespaces
 * it deleted whose teardown has not started yet ("pending") and stops
 * creating while pending >= max_pending.
 *
 * How it sees a teardown start: the pool owns a private "observer"
 * namespace and gives every namespace it makes an nsid there (RTM_NEWNSID
 * on an rtnetlink socket made inside the observer). cleanup_net unhashes
 * the nsids of every namespace it tears down and sends RTM_DELNSID to
 * listeners of RTNLGRP_NSID in the observer, so each namespace reports its
 * own teardown, at the start of the kernel's batch. Nothing of this is
 * visible outside the pool: the ids live in the observer, not in the
 * caller's namespace. Lost notifications (ENOBUFS) are recovered with a
 * dump of the observer's ids (an id still listed is still pending).
 *
 * The backlog counted against max_pending is pending + queued for the
 * deleter + being deleted. A producer starts a namespace only while it is
 * below max_pending, and everything alive outside the backlog is at most
 * size (ready or being made) + outstanding, so pending never exceeds
 * max_pending + size + outstanding.
 *
 * Limits: a namespace still held elsewhere after its release (a process
 * left inside it, an fd in another process) does not start its teardown;
 * after stuck_ms it is counted as "stuck" and no longer as backlog, so one
 * leaked process cannot stall the pool. RTM_DELNSID comes at the start of
 * a kernel batch, so the namespaces of the batch in progress still hold
 * memory for that batch's duration (a few ms to a few hundred ms) after
 * they left the count. ENOSPC from unshare (the limit itself) makes
 * producers back off as well.
 *
 * Pre-wired topologies (cfg.nodes > 0): a producer makes every namespace
 * of one topology (each with its nsid in the observer, so the backlog
 * counts namespaces), then runs the wiring plan over them on its own
 * thread (nsf_wire_run, NSF_WIRE_OWN_THREAD: a named node's socket and
 * the sysctl files are opened by moving the producer in and back). A
 * failure anywhere removes every namespace of the topology (which takes
 * everything wired in them along: NSF_WIRE_KEEP spares the undo). The
 * deleter closes a topology's namespaces together, in the same batch, so
 * the kernel tears their devices down in one batch too (unregistering a
 * batch of devices waits for RCU grace periods once per batch, not per
 * device).
 *
 * Failures: a producer whose creation fails keeps the error (with its
 * step and name) in the stats and retries with a doubling backoff
 * (BACKOFF_MIN_MS .. BACKOFF_MAX_MS). An acquirer with nothing ready gets
 * that error once the pool is failing (see nsf_pool_acquire in pool.h):
 * FAIL_ATTEMPTS failures in a row over cfg.fail_ms, so one transient
 * failure (an fd limit, a teardown that is about to free room under
 * user.max_net_namespaces) never reaches the caller, and a pool that can
 * make nothing never leaves acquire(timeout=forever) waiting forever.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nsf.h"
#include "handle.h"
#include "lifecycle.h"
#include "pool.h"
#include "rtnl.h"
#include "wire.h"

/* Room for one rtnetlink datagram (a dump part, a batch of events). */
#define NL_BUF 32768
#define NOTIFY_RCVBUF (4 << 20)
#define BACKOFF_MIN_MS 1
#define BACKOFF_MAX_MS 100
#define RECHECK_MS 50
#define FAIL_ATTEMPTS 5
/* Most namespaces of one topology. */
#define NSF_POOL_NODES_MAX 1024

/* -- nsids in the observer namespace (the rtnetlink codec) -------------- */

/* NETNSA_NSID of an RTM_*NSID message, or INT_MIN when it has none. */
static int msg_nsid(const struct nlmsghdr *h)
{
    const struct nlattr *a =
        nsf_rtnl_attr(h, sizeof(struct rtgenmsg), NETNSA_NSID);
    uint32_t id;

    return nsf_rtnl_u32(a, &id) < 0 ? INT_MIN : (int)(int32_t)id;
}

/* -- the pool ------------------------------------------------------------- */

struct pending {
    int nsid;
    long long since_ms;
};

struct item_list {
    struct nsf_pool_item *v;
    int n, cap;
};

struct nsf_pool {
    pthread_mutex_t lock;
    pthread_cond_t have;  /* acquirers: an item is ready, or state changed */
    pthread_cond_t need;  /* producers: room, backlog under the bound */
    pthread_cond_t work;  /* deleter: something was released */
    pthread_cond_t idle;  /* drain: the queue or the backlog shrank */
    struct nsf_pool_config cfg;
    char run_dir[PATH_MAX];
    char prefix[48];
    struct nsf_pool_item *ready; /* ring of cfg.size */
    int head, nready, inflight, waiting;
    struct item_list queue;      /* released, not deleted yet */
    struct item_list batch;      /* being deleted right now */
    int queue_units, batch_units; /* their namespaces */
    struct nsf_wire_req *wiring; /* the copied template (cfg.wiring) */
    int *node_flags;             /* copied cfg.node_flags */
    struct pending *pend;
    int npend, cappend;
    int closing, deleter_gone, threads_joined;
    int obs_fd, evfd;
    struct nsf_rtnl req;  /* requests in the observer (under nl_lock) */
    struct nsf_rtnl evt;  /* its RTNLGRP_NSID events (the observer's) */
    char *rx;             /* their receive buffers: 2 x NL_BUF */
    pthread_mutex_t nl_lock;
    int next_nsid;
    int *saved_fds;
    pthread_t *producers;
    int nproducers;
    pthread_t deleter, observer;
    int have_deleter, have_observer;
    unsigned long long serial;
    long long fail_since_ms; /* start of the failing window (see acquire) */
    unsigned long long failures; /* every failed creation, ever */
    struct nsf_pool_stats st;
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_in_us(struct timespec *ts, long long us)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += us / 1000000;
    ts->tv_nsec += (us % 1000000) * 1000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void deadline_in(struct timespec *ts, long long ms)
{
    deadline_in_us(ts, ms * 1000);
}

/* Room for element n of the array *v of *cap elements of unit bytes:
 * doubled (from first) when full. 0 or -ENOMEM. */
static int room_for(void **v, int n, int *cap, size_t unit, int first)
{
    void *more;
    int want;

    if (n < *cap)
        return 0;
    want = *cap ? *cap * 2 : first;
    more = realloc(*v, (size_t)want * unit);
    if (!more)
        return -ENOMEM;
    *v = more;
    *cap = want;
    return 0;
}

static int list_push(struct item_list *l, const struct nsf_pool_item *it)
{
    if (room_for((void **)&l->v, l->n, &l->cap, sizeof(*l->v), 64) < 0)
        return -ENOMEM;
    l->v[l->n++] = *it;
    return 0;
}

static int pending_push(struct nsf_pool *p, int nsid, long long t)
{
    if (room_for((void **)&p->pend, p->npend, &p->cappend,
                 sizeof(*p->pend), 256) < 0)
        return -ENOMEM;
    p->pend[p->npend].nsid = nsid;
    p->pend[p->npend].since_ms = t;
    p->npend++;
    if (p->npend > p->st.pending_max)
        p->st.pending_max = p->npend;
    return 0;
}

static void pending_drop(struct nsf_pool *p, int i)
{
    p->pend[i] = p->pend[--p->npend];
}

/* Under lock: a teardown started for nsid. */
static void pending_freed(struct nsf_pool *p, int nsid)
{
    int i;

    for (i = 0; i < p->npend; i++)
        if (p->pend[i].nsid == nsid) {
            pending_drop(p, i);
            p->st.freed++;
            pthread_cond_broadcast(&p->need);
            pthread_cond_broadcast(&p->idle);
            return;
        }
}

/* Under lock: pending entries older than stuck_ms are held elsewhere. */
static void pending_age(struct nsf_pool *p)
{
    long long limit = now_ms() - p->cfg.stuck_ms;
    int i, aged = 0;

    for (i = 0; i < p->npend;)
        if (p->pend[i].since_ms < limit) {
            pending_drop(p, i);
            p->st.stuck++;
            aged = 1;
        } else {
            i++;
        }
    if (aged) {
        pthread_cond_broadcast(&p->need);
        pthread_cond_broadcast(&p->idle);
    }
}

/* How many namespaces an item holds. */
static int units(const struct nsf_pool_item *it)
{
    return it->net ? it->net->nodes : 1;
}

static void free_net(struct nsf_pool_net *net)
{
    free(net->node);
    free(net->ns);
    free(net->reqs);
    free(net->taken);
    free(net->inos);
    free(net);
}

/* Hand a topology to its taker: its fds, sockets, indexes and inodes in
 * flat arrays (see struct nsf_pool_net); the sockets are the taker's. */
static void take_net(struct nsf_pool_net *net)
{
    int k, *t = net->taken;

    for (k = 0; k < net->nodes; k++) {
        *t++ = net->node[k].fd;
        *t++ = net->ns[k].rtnl;
        net->ns[k].rtnl = -1;
        net->inos[k] = net->node[k].ino;
    }
    for (k = 0; k < net->nreqs; k++) {
        *t++ = net->reqs[k].index;
        *t++ = net->reqs[k].peer_index;
    }
}

/* Remove a namespace the pool made: its name (if any), then its fd; for
 * a topology, each of its namespaces and the sockets still held (its
 * memory stays: see drop_item). */
static void close_item(struct nsf_pool *p, const struct nsf_pool_item *it)
{
    struct nsf_pool_net *net = it->net;
    int step, k;

    if (it->name[0])
        (void)nsf_delete(p->run_dir, it->name, &step);
    if (it->fd >= 0)
        close(it->fd);
    if (!net)
        return;
    for (k = 0; k < net->nodes; k++) {
        if (net->ns[k].rtnl >= 0)
            close(net->ns[k].rtnl);
        close_item(p, &net->node[k]);
    }
}

/* close_item, and free a topology's memory. */
static void delete_item(struct nsf_pool *p, const struct nsf_pool_item *it)
{
    close_item(p, it);
    if (it->net)
        free_net(it->net);
}

/* Remove the names of an item at once (its fds go later, in a batch). */
static void unname_item(struct nsf_pool *p, struct nsf_pool_item *it)
{
    int step, k;

    if (it->name[0]) {
        (void)nsf_delete(p->run_dir, it->name, &step);
        it->name[0] = '\0';
    }
    if (it->net)
        for (k = 0; k < it->net->nodes; k++)
            unname_item(p, &it->net->node[k]);
}

/* The answer to one request: its error (0: an ack). */
static int on_ack(void *arg, int i, const struct nlmsghdr *h)
{
    (void)i;
    if (h->nlmsg_type == NLMSG_ERROR)
        *(int *)arg = nsf_rtnl_error(h);
    return 0;
}

/* Give fd an nsid in the observer namespace (ids are ours alone there):
 * the id, or -errno. */
static int assign_nsid(struct nsf_pool *p, int fd)
{
    char buf[128] __attribute__((aligned(4)));
    struct nsf_rtnl_req r;
    int rc = -EEXIST, tries, step, err;

    pthread_mutex_lock(&p->nl_lock);
    for (tries = 0; tries < 16 && rc == -EEXIST; tries++) {
        int nsid = p->next_nsid;
        p->next_nsid = nsid == INT_MAX ? 1 : nsid + 1;
        nsf_rtnl_req_init(&r, buf, sizeof(buf));
        nsf_rtnl_msg(&r, &p->req, RTM_NEWNSID, NLM_F_ACK,
                     sizeof(struct rtgenmsg));
        nsf_rtnl_put_u32(&r, NETNSA_FD, (uint32_t)fd);
        nsf_rtnl_put_u32(&r, NETNSA_NSID, (uint32_t)nsid);
        err = 0;
        rc = nsf_rtnl_exchange(&p->req, &r, on_ack, &err, &step);
        if (rc > 0)
            rc = -ENOBUFS; /* the ack was lost */
        else if (rc == 0)
            rc = err < 0 ? err : nsid;
    }
    pthread_mutex_unlock(&p->nl_lock);
    return rc;
}

/* An anonymous namespace: unshare on this thread, loopback up, hold an
 * fd of it, and back to saved. */
static int make_anon(struct nsf_pool *p, int saved, struct nsf_pool_item *it,
                     int *step)
{
    int back, rc = 0, back_step = NSF_STEP_NONE;

    if (unshare(CLONE_NEWNET) < 0)
        return nsf_fail(step, NSF_STEP_UNSHARE_NET);
    it->fd = nsf_hold_net(p->cfg.flags & NSF_LO_UP, &it->ino, step);
    if (it->fd < 0)
        rc = it->fd;
    back = nsf_restore_net(saved, &back_step);
    if (back < 0 && rc == 0) {
        rc = back;
        *step = back_step;
    }
    return rc;
}

/* A named namespace: made and bound by nsf_add, exactly as add makes one
 * (bound from /proc/thread-self, never from a pid, which in a pid
 * namespace with its parent's /proc names another process), then held
 * by an fd of the name and its loopback brought up from outside. The
 * thread never leaves its namespace here (nsf_add and nsf_lo_up return). */
static int make_named(struct nsf_pool *p, struct nsf_pool_item *it, int *step)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = nsf_add(p->run_dir, it->name, step);

    if (rc < 0) {
        /* Nothing was made, and a file of that name (EEXIST) is not
         * ours: nothing to delete. */
        it->name[0] = '\0';
        return rc;
    }
    if (nsf_join(path, p->run_dir, it->name) < 0)
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
    it->fd = nsf_open_ns(path, step);
    if (it->fd < 0)
        return it->fd;
    if (fstat(it->fd, &st) < 0)
        return nsf_fail(step, NSF_STEP_STAT_NS);
    it->ino = st.st_ino;
    if (p->cfg.flags & NSF_LO_UP)
        return nsf_lo_up(it->fd, step);
    return 0;
}

/* Give a new namespace its nsid in the observer (a failure turns the
 * backlog signal off). */
static void observe(struct nsf_pool *p, struct nsf_pool_item *it)
{
    int nsid;

    if (p->req.fd < 0)
        return;
    nsid = assign_nsid(p, it->fd);
    if (nsid >= 0) {
        it->nsid = nsid;
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->st.observing = 0;
    pthread_mutex_unlock(&p->lock);
}

/* The nodes of a topology item, and a copy of the wiring to run. */
static int alloc_net(struct nsf_pool *p, struct nsf_pool_item *it)
{
    struct nsf_pool_net *net = calloc(1, sizeof(*net));
    int n = p->cfg.nodes, k;

    if (!net)
        return -ENOMEM;
    net->node = calloc((size_t)n, sizeof(*net->node));
    net->ns = calloc((size_t)n, sizeof(*net->ns));
    net->reqs = calloc((size_t)p->cfg.nwiring + 1, sizeof(*net->reqs));
    net->taken = calloc((size_t)(n + p->cfg.nwiring), 2 * sizeof(int));
    net->inos = calloc((size_t)n, sizeof(*net->inos));
    if (!net->node || !net->ns || !net->reqs || !net->taken || !net->inos) {
        free_net(net);
        return -ENOMEM;
    }
    net->nodes = n;
    net->nreqs = p->cfg.nwiring;
    if (net->nreqs)
        memcpy(net->reqs, p->wiring, (size_t)net->nreqs * sizeof(*net->reqs));
    for (k = 0; k < n; k++) {
        net->node[k].fd = net->node[k].nsid = -1;
        net->node[k].serial = it->serial;
        net->ns[k].fd = net->ns[k].rtnl = -1;
    }
    it->net = net;
    return 0;
}

/* Node k of a topology: named (RUN_DIR/PREFIX SERIAL.K, also copied to
 * making) or anonymous with its socket made inside. */
static int make_node(struct nsf_pool *p, struct nsf_pool_net *net, int k,
                     char *making, int *step)
{
    struct nsf_pool_item *node = &net->node[k];
    int flags = p->node_flags ? p->node_flags[k] : 0, n;

    if (flags & NSF_POOL_NODE_NAMED) {
        n = snprintf(node->name, sizeof(node->name), "%s%llu.%d", p->prefix,
                     node->serial, k);
        if (n < 0 || (size_t)n >= sizeof(node->name)) {
            node->name[0] = '\0';
            return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
        }
        memcpy(making, node->name, sizeof(node->name));
        n = make_named(p, node, step);
    } else {
        node->fd = nsf_wire_anon_new(p->cfg.flags & NSF_LO_UP, &node->ino,
                                     &net->ns[k].rtnl, step);
        n = node->fd < 0 ? node->fd : 0;
    }
    net->ns[k].fd = node->fd;
    if (n == 0)
        observe(p, node);
    return n;
}

/* A whole topology: its namespaces, then its wiring on this (our own)
 * thread. On failure making is the name of the namespace that failed
 * ("" none), it->request and it->msg tell a wiring failure. */
static int make_net(struct nsf_pool *p, struct nsf_pool_item *it,
                    char *making, int *step)
{
    struct nsf_wire_plan plan;
    int k, rc;

    if (alloc_net(p, it) < 0)
        return nsf_set_step(step, NSF_STEP_MALLOC, -ENOMEM);
    for (k = 0; k < it->net->nodes; k++) {
        making[0] = '\0';
        rc = make_node(p, it->net, k, making, step);
        if (rc < 0)
            return rc;
    }
    making[0] = '\0';
    memset(&plan, 0, sizeof(plan));
    plan.ns = it->net->ns;
    plan.nns = it->net->nodes;
    plan.reqs = it->net->reqs;
    plan.nreqs = it->net->nreqs;
    /* On failure the namespaces go, and all in them: no undo. */
    plan.flags = NSF_WIRE_OWN_THREAD | NSF_WIRE_KEEP;
    rc = nsf_wire_run(&plan, step);
    if (rc < 0) {
        it->request = plan.failed;
        memcpy(it->msg, plan.msg, sizeof(it->msg));
    }
    return rc;
}

/* One new namespace (named it->name if that is set), or one topology
 * (making: the name of the node being made), made by a producer thread
 * that returns to saved. On failure nothing of it is left. */
static int make_one(struct nsf_pool *p, int saved, struct nsf_pool_item *it,
                    char *making, int *step)
{
    int rc;

    *step = NSF_STEP_NONE;
    if (p->cfg.nodes)
        rc = make_net(p, it, making, step);
    else if (p->cfg.run_dir)
        rc = make_named(p, it, step);
    else
        rc = make_anon(p, saved, it, step);
    if (rc == 0 && !it->net)
        observe(p, it);
    if (rc < 0) {
        delete_item(p, it);
        it->net = NULL;
    }
    return rc;
}

/* Under lock: the backlog, i.e. namespaces given back whose teardown has
 * not started: queued for the deleter, being deleted, or pending. */
static int backlog(const struct nsf_pool *p)
{
    return p->npend + p->queue_units + p->batch_units;
}

/* Under lock: may a producer start one more namespace? */
static int may_create(struct nsf_pool *p)
{
    if (p->nready + p->inflight >= p->cfg.size)
        return 0;
    if (backlog(p) >= p->cfg.max_pending) {
        pending_age(p);
        return backlog(p) < p->cfg.max_pending;
    }
    return 1;
}

/* ENOSPC from unshare: user.max_net_namespaces (or the kernel's own
 * bound) is reached. */
static int is_ns_limit(int rc, int step)
{
    return rc == -ENOSPC && step == NSF_STEP_UNSHARE_NET;
}

/* Under lock: a creation of name failed with rc at step (for a topology
 * maybe at a wiring request, with the kernel's text in it). */
static void note_failure(struct nsf_pool *p, int rc, int step,
                         const char *name, const struct nsf_pool_item *it)
{
    int limit = is_ns_limit(rc, step);

    /* The failing window starts with the first failure in a row; at the
     * limit, again with every failure while our own teardowns may still
     * free room. */
    if (p->st.failing++ == 0 || (limit && backlog(p) > 0))
        p->fail_since_ms = now_ms();
    p->failures++;
    if (limit)
        p->st.enospc++;
    p->st.last_error = rc;
    p->st.last_step = step;
    snprintf(p->st.last_name, sizeof(p->st.last_name), "%s", name);
    p->st.last_request = it->request;
    memcpy(p->st.last_msg, it->msg, sizeof(p->st.last_msg));
    pthread_cond_broadcast(&p->have);
}

/* Under lock: have the creations failed long enough for acquire to give
 * up (see nsf_pool_acquire in pool.h)? */
static int pool_failing(const struct nsf_pool *p)
{
    return p->st.failing >= FAIL_ATTEMPTS &&
           now_ms() - p->fail_since_ms >= p->cfg.fail_ms;
}

struct producer_arg {
    struct nsf_pool *p;
    int index;
};

static void *producer(void *arg)
{
    struct nsf_pool *p = ((struct producer_arg *)arg)->p;
    int saved = p->saved_fds[((struct producer_arg *)arg)->index];
    int backoff = 0;

    free(arg);
    pthread_mutex_lock(&p->lock);
    while (!p->closing) {
        struct nsf_pool_item it;
        struct timespec ts;
        char name[sizeof(it.name)];
        int rc, step;

        if (!may_create(p)) {
            if (p->nready + p->inflight < p->cfg.size)
                p->st.throttled++;
            p->waiting++;
            deadline_in(&ts, RECHECK_MS);
            pthread_cond_timedwait(&p->need, &p->lock, &ts);
            p->waiting--;
            continue;
        }
        p->inflight++;
        memset(&it, 0, sizeof(it));
        it.fd = -1;
        it.nsid = -1;
        it.request = -1;
        it.serial = ++p->serial;
        if (p->cfg.run_dir && !p->cfg.nodes)
            snprintf(it.name, sizeof(it.name), "%s%llu", p->prefix,
                     it.serial);
        memcpy(name, it.name, sizeof(name));
        pthread_mutex_unlock(&p->lock);
        rc = make_one(p, saved, &it, name, &step);
        pthread_mutex_lock(&p->lock);
        p->inflight--;
        if (rc == 0) {
            int slot = (p->head + p->nready) % p->cfg.size;
            p->ready[slot] = it;
            p->nready++;
            p->st.created++;
            p->st.failing = 0;
            backoff = 0;
            pthread_cond_signal(&p->have);
            continue;
        }
        note_failure(p, rc, step, name, &it);
        backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
        if (backoff > BACKOFF_MAX_MS)
            backoff = BACKOFF_MAX_MS;
        deadline_in(&ts, backoff);
        pthread_cond_timedwait(&p->need, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Under lock: an item's namespaces become pending (their nsids). */
static void pend_item(struct nsf_pool *p, const struct nsf_pool_item *it)
{
    int k;

    if (it->nsid >= 0 && p->st.observing)
        (void)pending_push(p, it->nsid, now_ms());
    if (it->net)
        for (k = 0; k < it->net->nodes; k++)
            pend_item(p, &it->net->node[k]);
}

/* The deleter: takes released namespaces in batches (of at most
 * cfg.batch namespaces, a topology's all in one), records them as
 * pending (before the close, so no RTM_DELNSID can come first) and
 * deletes them together, so that the kernel's cleanup_net gets them in
 * one batch too. */
static void *deleter(void *arg)
{
    struct nsf_pool *p = arg;
    struct timespec ts;
    int i, n, u;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->queue.n == 0) {
            if (p->closing)
                break;
            pending_age(p);
            deadline_in(&ts, RECHECK_MS);
            pthread_cond_timedwait(&p->work, &p->lock, &ts);
            continue;
        }
        if (p->queue_units < p->cfg.batch && !p->closing &&
            p->cfg.batch_delay_us > 0) {
            deadline_in_us(&ts, p->cfg.batch_delay_us);
            while (p->queue_units < p->cfg.batch && !p->closing &&
                   pthread_cond_timedwait(&p->work, &p->lock, &ts) !=
                       ETIMEDOUT)
                ;
        }
        p->batch.n = 0;
        for (n = 0, u = 0; n < p->queue.n; n++) {
            const struct nsf_pool_item *it = &p->queue.v[n];

            if (n > 0 && u + units(it) > p->cfg.batch)
                break;
            u += units(it);
            (void)list_push(&p->batch, it);
            pend_item(p, it);
        }
        memmove(p->queue.v, p->queue.v + n,
                (size_t)(p->queue.n - n) * sizeof(*p->queue.v));
        p->queue.n -= n;
        p->queue_units -= u;
        p->batch_units = u;
        pthread_mutex_unlock(&p->lock);
        for (i = 0; i < p->batch.n; i++)
            close_item(p, &p->batch.v[i]);
        pthread_mutex_lock(&p->lock);
        /* Freed under the lock: nsf_pool_held_fds reads the batch. */
        for (i = 0; i < p->batch.n; i++)
            if (p->batch.v[i].net)
                free_net(p->batch.v[i].net);
        p->st.deleted += p->batch.n;
        p->batch.n = 0;
        p->batch_units = 0;
        pthread_cond_broadcast(&p->idle);
    }
    p->deleter_gone = 1;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

/* The ids of an nsid dump. */
struct id_dump {
    int *ids;
    int n, cap, refused;
};

static int on_dumped(void *arg, int i, const struct nlmsghdr *h)
{
    struct id_dump *d = arg;

    (void)i;
    if (h->nlmsg_type == NLMSG_ERROR)
        d->refused = 1;
    if (h->nlmsg_type != RTM_NEWNSID)
        return 0;
    if (room_for((void **)&d->ids, d->n, &d->cap, sizeof(*d->ids), 256) < 0)
        return -ENOMEM;
    d->ids[d->n++] = msg_nsid(h);
    return 0;
}

/* Notifications were lost: every pending nsid no longer listed in the
 * observer has started its teardown. */
static void resync(struct nsf_pool *p)
{
    char buf[64] __attribute__((aligned(4)));
    struct id_dump d = {NULL, 0, 0, 0};
    struct nsf_rtnl_req r;
    int rc, step, i;

    pthread_mutex_lock(&p->nl_lock);
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    nsf_rtnl_msg(&r, &p->req, RTM_GETNSID, NLM_F_DUMP,
                 sizeof(struct rtgenmsg));
    rc = nsf_rtnl_exchange(&p->req, &r, on_dumped, &d, &step);
    pthread_mutex_unlock(&p->nl_lock);
    if (rc != 0 || d.refused) {
        free(d.ids);
        return;
    }
    if (d.n)
        qsort(d.ids, (size_t)d.n, sizeof(*d.ids), cmp_int);
    pthread_mutex_lock(&p->lock);
    p->st.resyncs++;
    for (i = 0; i < p->npend;) {
        int id = p->pend[i].nsid;
        if (d.n && bsearch(&id, d.ids, (size_t)d.n, sizeof(*d.ids), cmp_int)) {
            i++;
            continue;
        }
        pending_drop(p, i);
        p->st.freed++;
    }
    pthread_cond_broadcast(&p->need);
    pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->lock);
    free(d.ids);
}

/* Under lock: one event of the observer namespace. */
static int on_event(void *arg, int i, const struct nlmsghdr *h)
{
    (void)i;
    if (h->nlmsg_type == RTM_DELNSID)
        pending_freed(arg, msg_nsid(h));
    return 0;
}

/* The observer: reads RTM_DELNSID from the observer namespace. */
static void *observer(void *arg)
{
    struct nsf_pool *p = arg;
    int n, step;

    for (;;) {
        struct pollfd fds[2] = {{p->evt.fd, POLLIN, 0}, {p->evfd, POLLIN, 0}};

        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents)
            break;
        n = nsf_rtnl_recv(&p->evt, MSG_DONTWAIT, &step);
        if (n < 0) {
            if (n == -ENOBUFS)
                resync(p);
            else if (n != -EAGAIN)
                break;
            continue;
        }
        pthread_mutex_lock(&p->lock);
        nsf_rtnl_walk(p->evt.rx, (size_t)n, on_event, p);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_lock(&p->lock);
    p->st.observing = 0;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The observer namespace and its two rtnetlink sockets. Failure only
 * turns the signal off (st.observing = 0); ENOSPC still throttles. */
static void open_observer(struct nsf_pool *p)
{
    unsigned long long ino;
    int step, req, evt, size = NOTIFY_RCVBUF;

    p->obs_fd = nsf_anon_new(0, &ino, &step);
    if (p->obs_fd < 0)
        return;
    req = nsf_socket_in(p->obs_fd, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE,
                        &step);
    evt = nsf_socket_in(p->obs_fd, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE,
                        &step);
    if (req >= 0)
        nsf_rtnl_adopt(&p->req, req, p->rx, NL_BUF, 1);
    if (evt >= 0)
        nsf_rtnl_adopt(&p->evt, evt, p->rx + NL_BUF, NL_BUF, 1);
    p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (req < 0 || evt < 0 || p->evfd < 0 ||
        nsf_rtnl_join(&p->evt, RTNLGRP_NSID, &step) < 0)
        goto off;
    if (setsockopt(evt, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) <
        0)
        (void)setsockopt(evt, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (pthread_create(&p->observer, NULL, observer, p) != 0)
        goto off;
    p->have_observer = 1;
    p->st.observing = 1;
    return;
off:
    nsf_rtnl_close(&p->req);
    nsf_rtnl_close(&p->evt);
}

static void pool_init_sync(struct nsf_pool *p)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->nl_lock, NULL);
    pthread_cond_init(&p->have, &ca);
    pthread_cond_init(&p->need, &ca);
    pthread_cond_init(&p->work, &ca);
    pthread_cond_init(&p->idle, &ca);
    pthread_condattr_destroy(&ca);
}

/* A topology pool's nodes and wiring: namespaces in the table, named
 * nodes only with a run directory. */
static int check_topology(const struct nsf_pool_config *cfg)
{
    int i;

    if (cfg->nodes == 0)
        return cfg->nwiring == 0 && !cfg->node_flags ? 0 : -EINVAL;
    if (cfg->nodes < 0 || cfg->nodes > NSF_POOL_NODES_MAX ||
        cfg->nwiring < 0 || (cfg->nwiring && !cfg->wiring))
        return -EINVAL;
    for (i = 0; i < cfg->nwiring; i++) {
        const struct nsf_wire_req *q = &cfg->wiring[i];

        if (q->ns < 0 || q->ns >= cfg->nodes || q->peer_ns < -1 ||
            q->peer_ns >= cfg->nodes)
            return -EINVAL;
    }
    if (cfg->node_flags)
        for (i = 0; i < cfg->nodes; i++)
            if ((cfg->node_flags[i] & ~NSF_POOL_NODE_NAMED) ||
                ((cfg->node_flags[i] & NSF_POOL_NODE_NAMED) && !cfg->run_dir))
                return -EINVAL;
    return 0;
}

/* -EINVAL at POOL_CONFIG for a config out of range, -ENAMETOOLONG at
 * PATH_TOO_LONG for a run_dir too long. */
static int check_config(const struct nsf_pool_config *cfg, int *step)
{
    if (cfg->size < 1 || cfg->threads < 1 || cfg->max_pending < 1 ||
        cfg->batch < 1 || cfg->batch_delay_us < 0 || cfg->stuck_ms < 1 ||
        cfg->fail_ms < 0 ||
        (cfg->run_dir && (!cfg->prefix || strlen(cfg->prefix) > 40)) ||
        check_topology(cfg) < 0)
        return nsf_set_step(step, NSF_STEP_POOL_CONFIG, -EINVAL);
    if (cfg->run_dir && strlen(cfg->run_dir) >= PATH_MAX)
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
    return 0;
}

/* Copy the wiring template and the strings its requests point to (no
 * value is read back, no record: out and link are dropped). */
static int copy_wiring(struct nsf_pool *p, const struct nsf_pool_config *cfg)
{
    int i, k;

    if (cfg->node_flags) {
        p->node_flags = calloc((size_t)cfg->nodes, sizeof(int));
        if (!p->node_flags)
            return -ENOMEM;
        memcpy(p->node_flags, cfg->node_flags,
               (size_t)cfg->nodes * sizeof(int));
    } else if (cfg->run_dir && cfg->nodes) {
        p->node_flags = calloc((size_t)cfg->nodes, sizeof(int));
        if (!p->node_flags)
            return -ENOMEM;
        for (k = 0; k < cfg->nodes; k++)
            p->node_flags[k] = NSF_POOL_NODE_NAMED;
    }
    p->cfg.node_flags = p->node_flags;
    if (cfg->nwiring == 0)
        return 0;
    p->wiring = calloc((size_t)cfg->nwiring, sizeof(*p->wiring));
    if (!p->wiring)
        return -ENOMEM;
    p->cfg.wiring = p->wiring;
    for (i = 0; i < cfg->nwiring; i++) {
        struct nsf_wire_req *q = &p->wiring[i];
        const char **strs[] = {&q->name, &q->peer_name, &q->master, &q->value};

        *q = cfg->wiring[i];
        q->out = NULL;
        q->out_cap = 0;
        q->link = NULL;
        for (k = 0; k < 4; k++)
            if (*strs[k] && !(*strs[k] = strdup(*strs[k]))) {
                for (k++; k < 4; k++)
                    *strs[k] = NULL; /* not ours to free */
                return -ENOMEM;
            }
    }
    return 0;
}

static void free_wiring(struct nsf_pool *p)
{
    int i;

    if (p->wiring)
        for (i = 0; i < p->cfg.nwiring; i++) {
            free((void *)p->wiring[i].name);
            free((void *)p->wiring[i].peer_name);
            free((void *)p->wiring[i].master);
            free((void *)p->wiring[i].value);
        }
    free(p->wiring);
    free(p->node_flags);
}

/* Start the deleter and the producers (each with an fd of the opener's
 * namespace to come back to: its own, as threads inherit it). */
static int start_threads(struct nsf_pool *p, int *step)
{
    int i, rc;

    rc = pthread_create(&p->deleter, NULL, deleter, p);
    if (rc != 0)
        return nsf_set_step(step, NSF_STEP_PTHREAD_CREATE, -rc);
    p->have_deleter = 1;
    for (i = 0; i < p->cfg.threads; i++) {
        struct producer_arg *a = malloc(sizeof(*a));

        if (!a)
            return nsf_set_step(step, NSF_STEP_MALLOC, -ENOMEM);
        p->saved_fds[i] = nsf_save_net(step);
        if (p->saved_fds[i] < 0) {
            rc = p->saved_fds[i];
            p->saved_fds[i] = -1;
            free(a);
            return rc;
        }
        a->p = p;
        a->index = i;
        rc = pthread_create(&p->producers[i], NULL, producer, a);
        if (rc != 0) {
            free(a);
            close(p->saved_fds[i]);
            p->saved_fds[i] = -1;
            return nsf_set_step(step, NSF_STEP_PTHREAD_CREATE, -rc);
        }
        p->nproducers++;
    }
    return 0;
}

int nsf_pool_open(const struct nsf_pool_config *cfg, struct nsf_pool **out,
                  int *step)
{
    struct nsf_pool *p;
    unsigned long long ino;
    int i, rc;

    *step = NSF_STEP_NONE;
    *out = NULL;
    rc = check_config(cfg, step);
    if (rc < 0)
        return rc;
    if (cfg->run_dir) {
        rc = nsf_prepare_run_dir(cfg->run_dir, step);
        if (rc < 0)
            return rc;
    }
    /* Fail early, in the caller's thread, when namespaces cannot be made. */
    rc = nsf_anon_new(0, &ino, step);
    if (rc < 0)
        return rc;
    close(rc);
    p = calloc(1, sizeof(*p));
    if (!p)
        return nsf_set_step(step, NSF_STEP_MALLOC, -ENOMEM);
    pool_init_sync(p);
    p->cfg = *cfg;
    if (cfg->run_dir) {
        strcpy(p->run_dir, cfg->run_dir);
        strcpy(p->prefix, cfg->prefix);
        p->cfg.run_dir = p->run_dir;
        p->cfg.prefix = p->prefix;
    }
    p->obs_fd = p->evfd = p->req.fd = p->evt.fd = -1;
    p->next_nsid = 1;
    p->st.last_request = -1;
    p->ready = calloc((size_t)cfg->size, sizeof(*p->ready));
    p->saved_fds = calloc((size_t)cfg->threads, sizeof(int));
    p->producers = calloc((size_t)cfg->threads, sizeof(pthread_t));
    p->rx = malloc(2 * NL_BUF);
    if (!p->ready || !p->saved_fds || !p->producers || !p->rx ||
        copy_wiring(p, cfg) < 0) {
        nsf_pool_free(p);
        return nsf_set_step(step, NSF_STEP_MALLOC, -ENOMEM);
    }
    for (i = 0; i < cfg->threads; i++)
        p->saved_fds[i] = -1;
    open_observer(p);
    rc = start_threads(p, step);
    if (rc < 0) {
        nsf_pool_close(p, &i);
        nsf_pool_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int nsf_pool_acquire(struct nsf_pool *p, int timeout_ms,
                     struct nsf_pool_item *item, int *step)
{
    struct timespec ts;
    unsigned long long seen;
    int rc = 0;

    *step = NSF_STEP_NONE;
    if (timeout_ms >= 0)
        deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&p->lock);
    seen = p->failures;
    for (;;) {
        if (p->closing) {
            rc = nsf_set_step(step, NSF_STEP_POOL_CLOSED, -ESHUTDOWN);
            break;
        }
        if (p->nready > 0) {
            *item = p->ready[p->head];
            if (item->net)
                take_net(item->net);
            p->head = (p->head + 1) % p->cfg.size;
            p->nready--;
            p->st.acquired++;
            p->st.outstanding++;
            /* Wake the creators only at the low-water mark: a wake-up
             * on every acquire would put the caller behind a creator
             * thread on a busy CPU. Once awake they refill up to size. */
            if (p->waiting && p->nready + p->inflight <= p->cfg.size / 2)
                pthread_cond_broadcast(&p->need);
            break;
        }
        if (pool_failing(p)) {
            /* Only a failure seen during this call counts: once the cause
             * is gone, the next acquire waits for a fresh attempt (woken
             * now, not after the backoff) instead of raising a stale
             * error. */
            if (p->failures != seen) {
                rc = nsf_set_step(step, p->st.last_step, p->st.last_error);
                memcpy(item->name, p->st.last_name, sizeof(item->name));
                item->request = p->st.last_request;
                memcpy(item->msg, p->st.last_msg, sizeof(item->msg));
                break;
            }
            pthread_cond_broadcast(&p->need);
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&p->have, &p->lock);
        } else if (pthread_cond_timedwait(&p->have, &p->lock, &ts) ==
                   ETIMEDOUT) {
            if (p->nready > 0)
                continue;
            rc = nsf_set_step(step, NSF_STEP_POOL_TIMEOUT, -ETIMEDOUT);
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int nsf_pool_release(struct nsf_pool *p, const struct nsf_pool_item *item)
{
    struct nsf_pool_item it = *item;
    int rc = 0, before;

    /* The names go at once (a lazy umount and an unlink, tens of us), so
     * that they are gone when release returns; the last reference, the
     * fd, is dropped later in a batch. */
    unname_item(p, &it);
    item = &it;
    pthread_mutex_lock(&p->lock);
    p->st.outstanding--;
    p->st.released++;
    if (!p->deleter_gone) {
        rc = list_push(&p->queue, item);
        if (rc == 0) {
            /* The deleter sleeps until the first item, then waits for a
             * batch to fill (or batch_delay_us): wake it only for those. */
            before = p->queue_units;
            p->queue_units += units(item);
            if (p->queue.n == 1 ||
                (before < p->cfg.batch && p->queue_units >= p->cfg.batch))
                pthread_cond_signal(&p->work);
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
    }
    p->st.deleted++;
    pthread_mutex_unlock(&p->lock);
    delete_item(p, item);
    return 0;
}

int nsf_pool_stats(struct nsf_pool *p, struct nsf_pool_stats *st)
{
    pthread_mutex_lock(&p->lock);
    *st = p->st;
    st->ready = p->nready;
    st->queued = p->queue.n + p->batch.n;
    st->pending = p->npend;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* Note fd in fds[0 .. max) (counting it in *n either way). */
static void hold(int fd, int *fds, int max, int *n)
{
    if (fd < 0)
        return;
    if (*n < max)
        fds[*n] = fd;
    (*n)++;
}

static void hold_item(const struct nsf_pool_item *it, int *fds, int max,
                      int *n)
{
    int k;

    hold(it->fd, fds, max, n);
    if (it->net)
        for (k = 0; k < it->net->nodes; k++) {
            hold(it->net->node[k].fd, fds, max, n);
            hold(it->net->ns[k].rtnl, fds, max, n);
        }
}

int nsf_pool_held_fds(struct nsf_pool *p, int *fds, int max)
{
    int n = 0, i;

    pthread_mutex_lock(&p->lock);
    hold(p->obs_fd, fds, max, &n);
    hold(p->req.fd, fds, max, &n);
    hold(p->evt.fd, fds, max, &n);
    hold(p->evfd, fds, max, &n);
    for (i = 0; i < p->nproducers; i++)
        hold(p->saved_fds[i], fds, max, &n);
    for (i = 0; i < p->nready; i++)
        hold_item(&p->ready[(p->head + i) % p->cfg.size], fds, max, &n);
    for (i = 0; i < p->queue.n; i++)
        hold_item(&p->queue.v[i], fds, max, &n);
    for (i = 0; i < p->batch.n; i++)
        hold_item(&p->batch.v[i], fds, max, &n);
    pthread_mutex_unlock(&p->lock);
    return n;
}

int nsf_pool_drain(struct nsf_pool *p, int timeout_ms)
{
    struct timespec ts;
    int rc = 0;

    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&p->lock);
    while (p->queue.n || p->batch.n || (p->npend && p->st.observing)) {
        pending_age(p);
        if (!(p->queue.n || p->batch.n || (p->npend && p->st.observing)))
            break;
        if (pthread_cond_timedwait(&p->idle, &p->lock, &ts) == ETIMEDOUT) {
            rc = -ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int nsf_pool_close(struct nsf_pool *p, int *step)
{
    uint64_t one = 1;
    int i;

    *step = NSF_STEP_NONE;
    pthread_mutex_lock(&p->lock);
    if (p->threads_joined) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    p->closing = 1;
    pthread_cond_broadcast(&p->need);
    pthread_cond_broadcast(&p->have);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->nproducers; i++)
        pthread_join(p->producers[i], NULL);
    if (p->have_deleter)
        pthread_join(p->deleter, NULL);
    pthread_mutex_lock(&p->lock);
    p->deleter_gone = 1;
    p->threads_joined = 1;
    pthread_mutex_unlock(&p->lock);
    /* Nobody else touches the ready ring now. */
    for (i = 0; i < p->nready; i++)
        delete_item(p, &p->ready[(p->head + i) % p->cfg.size]);
    p->st.deleted += p->nready;
    p->nready = 0;
    if (p->have_observer) {
        if (write(p->evfd, &one, sizeof(one)) < 0)
            (void)0; /* the eventfd cannot be full: one write */
        pthread_join(p->observer, NULL);
        p->have_observer = 0;
    }
    for (i = 0; i < p->nproducers; i++)
        if (p->saved_fds[i] >= 0) {
            close(p->saved_fds[i]);
            p->saved_fds[i] = -1;
        }
    pthread_mutex_lock(&p->lock);
    nsf_rtnl_close(&p->req);
    nsf_rtnl_close(&p->evt);
    if (p->evfd >= 0)
        close(p->evfd);
    if (p->obs_fd >= 0)
        close(p->obs_fd);
    p->evfd = p->obs_fd = -1;
    p->st.observing = 0;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void nsf_pool_item_forget(struct nsf_pool_item *item)
{
    if (item->net)
        free_net(item->net);
    item->net = NULL;
}

void nsf_pool_free(struct nsf_pool *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->nl_lock);
    pthread_cond_destroy(&p->have);
    pthread_cond_destroy(&p->need);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    free(p->ready);
    free(p->queue.v);
    free(p->batch.v);
    free(p->pend);
    free(p->saved_fds);
    free(p->producers);
    free(p->rx);
    free_wiring(p);
    free(p);
}
