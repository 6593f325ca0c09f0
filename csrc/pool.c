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

/* Room for one rtnetlink datagram (a dump part, a batch of events). */
#define NL_BUF 32768
#define NOTIFY_RCVBUF (4 << 20)
#define BACKOFF_MIN_MS 1
#define BACKOFF_MAX_MS 100
#define RECHECK_MS 50
#define FAIL_ATTEMPTS 5

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

/* Remove a namespace the pool made: its name (if any), then its fd. */
static void delete_item(struct nsf_pool *p, const struct nsf_pool_item *it)
{
    int step;

    if (it->name[0])
        (void)nsf_delete(p->run_dir, it->name, &step);
    if (it->fd >= 0)
        close(it->fd);
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

/* One new namespace (named it->name if that is set), made by a producer
 * thread that returns to saved. On failure nothing of it is left. */
static int make_one(struct nsf_pool *p, int saved, struct nsf_pool_item *it,
                    int *step)
{
    int rc;

    *step = NSF_STEP_NONE;
    if (p->cfg.run_dir)
        rc = make_named(p, it, step);
    else
        rc = make_anon(p, saved, it, step);
    if (rc == 0 && p->req.fd >= 0) {
        int nsid = assign_nsid(p, it->fd);
        if (nsid >= 0) {
            it->nsid = nsid;
        } else {
            pthread_mutex_lock(&p->lock);
            p->st.observing = 0;
            pthread_mutex_unlock(&p->lock);
        }
    }
    if (rc < 0)
        delete_item(p, it);
    return rc;
}

/* Under lock: the backlog, i.e. namespaces given back whose teardown has
 * not started: queued for the deleter, being deleted, or pending. */
static int backlog(const struct nsf_pool *p)
{
    return p->npend + p->queue.n + p->batch.n;
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

/* Under lock: a creation of name failed with rc at step. */
static void note_failure(struct nsf_pool *p, int rc, int step,
                         const char *name)
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
        it.serial = ++p->serial;
        if (p->cfg.run_dir)
            snprintf(it.name, sizeof(it.name), "%s%llu", p->prefix,
                     it.serial);
        memcpy(name, it.name, sizeof(name));
        pthread_mutex_unlock(&p->lock);
        rc = make_one(p, saved, &it, &step);
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
        note_failure(p, rc, step, name);
        backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
        if (backoff > BACKOFF_MAX_MS)
            backoff = BACKOFF_MAX_MS;
        deadline_in(&ts, backoff);
        pthread_cond_timedwait(&p->need, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The deleter: takes released namespaces in batches, records them as
 * pending (before the close, so no RTM_DELNSID can come first) and
 * deletes them together, so that the kernel's cleanup_net gets them in
 * one batch too. */
static void *deleter(void *arg)
{
    struct nsf_pool *p = arg;
    struct timespec ts;
    int i, n;

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
        if (p->queue.n < p->cfg.batch && !p->closing &&
            p->cfg.batch_delay_us > 0) {
            deadline_in_us(&ts, p->cfg.batch_delay_us);
            while (p->queue.n < p->cfg.batch && !p->closing &&
                   pthread_cond_timedwait(&p->work, &p->lock, &ts) !=
                       ETIMEDOUT)
                ;
        }
        n = p->queue.n < p->cfg.batch ? p->queue.n : p->cfg.batch;
        p->batch.n = 0;
        for (i = 0; i < n; i++) {
            const struct nsf_pool_item *it = &p->queue.v[i];
            (void)list_push(&p->batch, it);
            if (it->nsid >= 0 && p->st.observing)
                (void)pending_push(p, it->nsid, now_ms());
        }
        memmove(p->queue.v, p->queue.v + n,
                (size_t)(p->queue.n - n) * sizeof(*p->queue.v));
        p->queue.n -= n;
        pthread_mutex_unlock(&p->lock);
        for (i = 0; i < p->batch.n; i++)
            delete_item(p, &p->batch.v[i]);
        pthread_mutex_lock(&p->lock);
        p->st.deleted += p->batch.n;
        p->batch.n = 0;
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

/* -EINVAL at POOL_CONFIG for a config out of range, -ENAMETOOLONG at
 * PATH_TOO_LONG for a run_dir too long. */
static int check_config(const struct nsf_pool_config *cfg, int *step)
{
    if (cfg->size < 1 || cfg->threads < 1 || cfg->max_pending < 1 ||
        cfg->batch < 1 || cfg->batch_delay_us < 0 || cfg->stuck_ms < 1 ||
        cfg->fail_ms < 0 ||
        (cfg->run_dir && (!cfg->prefix || strlen(cfg->prefix) > 40)))
        return nsf_set_step(step, NSF_STEP_POOL_CONFIG, -EINVAL);
    if (cfg->run_dir && strlen(cfg->run_dir) >= PATH_MAX)
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
    return 0;
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
    p->ready = calloc((size_t)cfg->size, sizeof(*p->ready));
    p->saved_fds = calloc((size_t)cfg->threads, sizeof(int));
    p->producers = calloc((size_t)cfg->threads, sizeof(pthread_t));
    p->rx = malloc(2 * NL_BUF);
    if (!p->ready || !p->saved_fds || !p->producers || !p->rx) {
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
    int rc = 0, step;

    /* The name goes at once (a lazy umount and an unlink, tens of us), so
     * that it is gone when release returns; the last reference, the fd,
     * is dropped later in a batch. */
    if (it.name[0]) {
        (void)nsf_delete(p->run_dir, it.name, &step);
        it.name[0] = '\0';
    }
    item = &it;
    pthread_mutex_lock(&p->lock);
    p->st.outstanding--;
    p->st.released++;
    if (!p->deleter_gone) {
        rc = list_push(&p->queue, item);
        if (rc == 0) {
            /* The deleter sleeps until the first item, then waits for a
             * batch to fill (or batch_delay_us): wake it only for those. */
            if (p->queue.n == 1 || p->queue.n == p->cfg.batch)
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

int nsf_pool_held_fds(struct nsf_pool *p, int *fds, int max)
{
    int n = 0, i;

#define HOLD(fd)                                                             \
    do {                                                                     \
        if ((fd) >= 0) {                                                     \
            if (n < max)                                                     \
                fds[n] = (fd);                                               \
            n++;                                                             \
        }                                                                    \
    } while (0)
    pthread_mutex_lock(&p->lock);
    HOLD(p->obs_fd);
    HOLD(p->req.fd);
    HOLD(p->evt.fd);
    HOLD(p->evfd);
    for (i = 0; i < p->nproducers; i++)
        HOLD(p->saved_fds[i]);
    for (i = 0; i < p->nready; i++)
        HOLD(p->ready[(p->head + i) % p->cfg.size].fd);
    for (i = 0; i < p->queue.n; i++)
        HOLD(p->queue.v[i].fd);
    for (i = 0; i < p->batch.n; i++)
        HOLD(p->batch.v[i].fd);
    pthread_mutex_unlock(&p->lock);
#undef HOLD
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
    free(p);
}
