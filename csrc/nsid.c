/* nsids of the names in a run directory (see nsid.h for the contract).
 *
 * `ip netns list` opens each entry and asks the kernel for its nsid with
 * one RTM_GETNSID {NETNSA_FD} round trip per entry. Here the entries are
 * taken in windows: up to WINDOW requests go to the kernel in one datagram
 * (rtnetlink handles the messages of a datagram one by one, synchronously,
 * inside send()), and the replies, one per request, come back with one
 * recvmmsg(). Replies are matched to entries by sequence number (the
 * exchange of the rtnetlink codec, rtnl.h). If the socket overran and
 * replies were dropped, the entries left unanswered are asked again one
 * at a time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsf.h"
#include "lifecycle.h"
#include "nsid.h"
#include "rtnl.h"

/* Requests per datagram. Each reply is a small skb (well under 2 KiB of
 * receive buffer), so a window never comes near the default rcvbuf. */
#define WINDOW 32
/* Room for one reply datagram. */
#define REPLY_MAX 2048
/* Threads of one listing, the calling one not counted. */
#define MAX_LIST_THREADS 15
/* The directory walker's buffer. */
#define DENTS_BUF 16384

/* RTM_GETNSID {NETNSA_FD}: header, rtgenmsg padded to 4, one u32 attr. */
#define GETNSID_LEN                                                           \
    (NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct rtgenmsg))) + NLA_HDRLEN + 4)

/* One entry of a window. */
struct slot {
    int fd;
    int kind;
    int nsid;
    int err;
    int answered;
    size_t name_len;
    size_t msg_len;
    char name[NAME_MAX + 1];
    char msg[NSF_NSID_MSG_MAX];
};

/* The state of one call: the socket, the window and the buffers. */
struct ctx {
    struct nsf_rtnl nl;
    struct slot slots[WINDOW];
    char send_buf[WINDOW * GETNSID_LEN] __attribute__((aligned(4)));
    char replies[WINDOW][REPLY_MAX] __attribute__((aligned(4)));
};

/* The ctx's socket: replies land in c->replies, a window at a time. A
 * kernel without ext-ack is no error; its errors are worded by errno. */
static int open_socket(struct ctx *c, int *step)
{
    return nsf_rtnl_open(&c->nl, c->replies, REPLY_MAX, WINDOW, step);
}

static void slot_init(struct slot *s, const char *name, size_t len)
{
    s->fd = -1;
    s->kind = NSF_NSID_OK;
    s->nsid = -1;
    s->err = 0;
    s->answered = 0;
    s->name_len = len;
    s->msg_len = 0;
    memcpy(s->name, name, len);
    s->name[len] = '\0';
}

/* Open the entry as iproute2 does (read-only, following symlinks), but
 * never block on a FIFO and never take a controlling terminal. */
static void slot_open(struct slot *s, int dirfd)
{
    s->fd = openat(dirfd, s->name,
                   O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (s->fd < 0) {
        s->kind = NSF_NSID_OPEN_FAILED;
        s->err = errno;
        s->answered = 1;
    }
}

/* The ext-ack message of an NLMSG_ERROR, copied into s->msg. */
static void take_ext_ack(struct slot *s, const struct nlmsghdr *nlh)
{
    size_t len;
    const char *text = nsf_rtnl_ext_ack(nlh, &len);

    if (!text)
        return;
    if (len >= sizeof(s->msg))
        len = sizeof(s->msg) - 1;
    memcpy(s->msg, text, len);
    s->msg[len] = '\0';
    s->msg_len = len;
}

/* The slots of one query: the window's slots, and which slot each request
 * asks for (request i is about slots[asked[i]]). */
struct query {
    struct slot *slots;
    int asked[WINDOW];
};

/* The exchange's callback: record the reply to request i in its slot
 * (an RTM_NEWNSID with the id, or a refusal with errno and message). */
static int take_reply(void *arg, int i, const struct nlmsghdr *nlh)
{
    struct query *q = arg;
    struct slot *s = &q->slots[q->asked[i]];

    if (nlh->nlmsg_type == NLMSG_ERROR) {
        int err = nsf_rtnl_error(nlh);

        if (err < 0) {
            s->kind = NSF_NSID_QUERY_FAILED;
            s->err = -err;
            take_ext_ack(s, nlh);
        }
    } else if (nlh->nlmsg_type == RTM_NEWNSID) {
        uint32_t id;

        if (nsf_rtnl_u32(nsf_rtnl_attr(nlh, sizeof(struct rtgenmsg),
                                       NETNSA_NSID),
                         &id) == 0)
            s->nsid = (int32_t)id;
    } else {
        return 0; /* not an answer (the codec ends the request anyway) */
    }
    s->answered = 1;
    return 0;
}

/* Send RTM_GETNSID for every open, unanswered slot in one datagram and
 * record the replies. With retry, slots whose reply was dropped are asked
 * again one by one; without, they fail with ENOBUFS. */
static int query(struct ctx *c, struct slot *slots, int n, int retry,
                 int *step)
{
    struct nsf_rtnl_req r;
    struct query q;
    int i, left, asked = 0;

    q.slots = slots;
    nsf_rtnl_req_init(&r, c->send_buf, sizeof(c->send_buf));
    for (i = 0; i < n; i++) {
        if (slots[i].answered)
            continue;
        nsf_rtnl_msg(&r, &c->nl, RTM_GETNSID, 0, sizeof(struct rtgenmsg));
        nsf_rtnl_put_u32(&r, NETNSA_FD, (uint32_t)slots[i].fd);
        q.asked[asked++] = i;
    }
    if (asked == 0)
        return 0;
    left = nsf_rtnl_exchange(&c->nl, &r, take_reply, &q, step);
    if (left <= 0)
        return left;
    for (i = 0; i < n; i++) {
        if (slots[i].answered)
            continue;
        if (retry) {
            int rc = query(c, &slots[i], 1, 0, step);
            if (rc < 0)
                return rc;
            continue;
        }
        slots[i].kind = NSF_NSID_QUERY_FAILED;
        slots[i].err = ENOBUFS;
        slots[i].answered = 1;
    }
    return 0;
}

/* The growing result of nsf_nsid_list. */
struct builder {
    struct nsf_nsid_list *list;
    size_t recs_cap;  /* in entries */
    size_t text_cap;
};

static int grow(void **buf, size_t *cap, size_t need, size_t unit)
{
    size_t n = *cap ? *cap : 64;
    void *p;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    p = realloc(*buf, n * unit);
    if (!p)
        return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

static int append(struct builder *b, const struct slot *s)
{
    struct nsf_nsid_list *l = b->list;
    size_t count = (size_t)l->count;
    size_t need = l->text_len + s->name_len + s->msg_len;
    int *rec;

    if (count >= INT_MAX)
        return -EOVERFLOW;
    if (grow((void **)&l->recs, &b->recs_cap, count + 1,
             NSF_NSID_FIELDS * sizeof(int)) < 0 ||
        grow((void **)&l->text, &b->text_cap, need, 1) < 0)
        return -ENOMEM;
    rec = l->recs + count * NSF_NSID_FIELDS;
    rec[0] = s->kind;
    rec[1] = s->nsid;
    rec[2] = s->err;
    rec[3] = (int)s->name_len;
    rec[4] = (int)s->msg_len;
    memcpy(l->text + l->text_len, s->name, s->name_len);
    memcpy(l->text + l->text_len + s->name_len, s->msg, s->msg_len);
    l->text_len = need;
    l->count++;
    return 0;
}

static void close_slots(struct slot *slots, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (slots[i].fd >= 0)
            close(slots[i].fd);
        slots[i].fd = -1;
    }
}

/* Take up to WINDOW names from the directory into the slots; *eof is set
 * at its end. The entries are opened later, outside the listing's lock. */
static int fill_window(struct ctx *c, struct nsf_dir *dir, int *n, int *eof,
                       int *step)
{
    const char *name;
    size_t len;
    int err;

    *n = 0;
    while (*n < WINDOW) {
        name = nsf_dir_next(dir, &err);
        if (!name) {
            if (err < 0)
                return nsf_set_step(step, NSF_STEP_READ_RUN_DIR, err);
            *eof = 1;
            break;
        }
        len = strnlen(name, NAME_MAX + 1);
        if (len > NAME_MAX)
            len = NAME_MAX; /* cannot happen on Linux */
        slot_init(&c->slots[*n], name, len);
        (*n)++;
    }
    return 0;
}

/* A listing shared by its threads. Each takes the next window of names
 * under the lock, opens and queries them on its own socket, and files the
 * window's records under the window's number; the windows are joined in
 * order at the end, so the result is in directory order. */
struct shared {
    pthread_mutex_t lock;
    int dfd;                     /* the run directory */
    struct nsf_dir dir;          /* its walk, under the lock */
    int eof;
    int rc, step;                /* the first failure; it stops them all */
    int next;                    /* the number of the next window */
    struct nsf_nsid_list *parts; /* window w's records: parts[w] */
    int nparts;
    union {
        char bytes[DENTS_BUF];
        uint64_t align;
    } dents;                     /* the walker's buffer */
};

static void fail_shared(struct shared *sh, int rc, int step)
{
    pthread_mutex_lock(&sh->lock);
    if (sh->rc == 0) {
        sh->rc = rc;
        sh->step = step;
    }
    sh->eof = 1;
    pthread_mutex_unlock(&sh->lock);
}

/* File a window's records as parts[w]; takes ownership of part. */
static int file_part(struct shared *sh, int w, struct nsf_nsid_list *part)
{
    int rc = 0;

    pthread_mutex_lock(&sh->lock);
    if (w >= sh->nparts) {
        int n = sh->nparts ? sh->nparts : 16;
        struct nsf_nsid_list *p;

        while (n <= w)
            n *= 2;
        p = realloc(sh->parts, (size_t)n * sizeof(*p));
        if (!p) {
            rc = -ENOMEM;
        } else {
            memset(p + sh->nparts, 0,
                   (size_t)(n - sh->nparts) * sizeof(*p));
            sh->parts = p;
            sh->nparts = n;
        }
    }
    if (rc == 0)
        sh->parts[w] = *part;
    pthread_mutex_unlock(&sh->lock);
    if (rc < 0) {
        free(part->recs);
        free(part->text);
    }
    return rc;
}

/* One window: take names, open, query, record. Returns 1 when the listing
 * is done (or failed), 0 to go on. */
static int one_window(struct shared *sh, struct ctx *c)
{
    struct nsf_nsid_list part = {0, NULL, NULL, 0};
    struct builder b = {&part, 0, 0};
    int n = 0, i, w, rc, step = 0, eof = 0;

    pthread_mutex_lock(&sh->lock);
    if (sh->eof) {
        pthread_mutex_unlock(&sh->lock);
        return 1;
    }
    w = sh->next++;
    rc = fill_window(c, &sh->dir, &n, &eof, &step);
    if (rc < 0 || eof)
        sh->eof = 1;
    pthread_mutex_unlock(&sh->lock);
    if (rc < 0) {
        fail_shared(sh, rc, step);
        return 1;
    }
    for (i = 0; i < n; i++)
        slot_open(&c->slots[i], sh->dfd);
    rc = query(c, c->slots, n, 1, &step);
    close_slots(c->slots, n);
    for (i = 0; rc >= 0 && i < n; i++)
        if (append(&b, &c->slots[i]) < 0)
            rc = nsf_set_step(&step, NSF_STEP_MALLOC, -ENOMEM);
    if (rc >= 0) {
        rc = file_part(sh, w, &part);
        if (rc < 0)
            step = NSF_STEP_MALLOC;
    } else {
        free(part.recs);
        free(part.text);
    }
    if (rc < 0) {
        fail_shared(sh, rc, step);
        return 1;
    }
    return eof;
}

/* Windows until the listing is done, or `max` of them (max < 0: no
 * bound), with a ctx and socket of the caller's. */
static void windows(struct shared *sh, struct ctx *c, int max)
{
    while (max-- != 0 && !one_window(sh, c))
        ;
}

/* A ctx with its own socket; NULL (and the listing failed) if not. */
static struct ctx *new_ctx(struct shared *sh)
{
    struct ctx *c = malloc(sizeof(*c));
    int step = 0;

    int rc;

    if (!c) {
        fail_shared(sh, -ENOMEM, NSF_STEP_MALLOC);
        return NULL;
    }
    rc = open_socket(c, &step);
    if (rc < 0) {
        fail_shared(sh, rc, step);
        free(c);
        return NULL;
    }
    return c;
}

static void free_ctx(struct ctx *c)
{
    if (c) {
        nsf_rtnl_close(&c->nl);
        free(c);
    }
}

/* A helper thread of a listing. */
static void *list_worker(void *arg)
{
    struct shared *sh = arg;
    struct ctx *c = new_ctx(sh);

    if (c)
        windows(sh, c, -1);
    free_ctx(c);
    return NULL;
}

/* Join the windows' records, in window order, into one listing. */
static int join_parts(struct shared *sh, struct nsf_nsid_list *out)
{
    size_t count = 0, text = 0, r = 0, t = 0;
    int w, last = sh->next < sh->nparts ? sh->next : sh->nparts;

    for (w = 0; w < last; w++) {
        count += (size_t)sh->parts[w].count;
        text += sh->parts[w].text_len;
    }
    if (count > INT_MAX)
        return -EOVERFLOW;
    out->recs = malloc((count ? count : 1) * NSF_NSID_FIELDS * sizeof(int));
    out->text = malloc(text ? text : 1);
    if (!out->recs || !out->text)
        return -ENOMEM;
    for (w = 0; w < last; w++) {
        struct nsf_nsid_list *p = &sh->parts[w];

        if (p->count)
            memcpy(out->recs + r, p->recs,
                   (size_t)p->count * NSF_NSID_FIELDS * sizeof(int));
        if (p->text_len)
            memcpy(out->text + t, p->text, p->text_len);
        r += (size_t)p->count * NSF_NSID_FIELDS;
        t += p->text_len;
    }
    out->count = (int)count;
    out->text_len = text;
    return 0;
}

void nsf_nsid_list_free(struct nsf_nsid_list *list)
{
    if (!list)
        return;
    free(list->recs);
    free(list->text);
    free(list);
}

int nsf_nsid_list(const char *run_dir, struct nsf_nsid_list **out, int *step)
{
    struct shared sh;
    pthread_t tids[MAX_LIST_THREADS];
    struct ctx *c;
    int i, rc, started = 0, want;

    *step = NSF_STEP_NONE;
    *out = NULL;
    memset(&sh, 0, sizeof(sh));
    sh.dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sh.dfd < 0)
        return nsf_fail(step, NSF_STEP_OPEN_RUN_DIR);
    nsf_dir_init(&sh.dir, sh.dfd, sh.dents.bytes, sizeof(sh.dents));
    pthread_mutex_init(&sh.lock, NULL);
    /* The calling thread does the first window. Only a directory with
     * more than a window of entries gets more threads, one per CPU. */
    c = new_ctx(&sh);
    if (c) {
        windows(&sh, c, 1);
        /* No other thread runs yet: sh.eof can be read without the lock. */
        want = sh.eof ? 0 : nsf_cpu_count() - 1;
        if (want > MAX_LIST_THREADS)
            want = MAX_LIST_THREADS;
        for (i = 0; i < want; i++)
            if (pthread_create(&tids[started], NULL, list_worker, &sh) == 0)
                started++;
        windows(&sh, c, -1);
        for (i = 0; i < started; i++)
            pthread_join(tids[i], NULL);
        free_ctx(c);
    }
    rc = sh.rc;
    if (rc == 0) {
        *out = calloc(1, sizeof(**out));
        rc = *out ? join_parts(&sh, *out) : -ENOMEM;
        if (rc < 0) {
            nsf_nsid_list_free(*out);
            *out = NULL;
            sh.step = NSF_STEP_MALLOC;
        }
    }
    for (i = 0; i < sh.nparts; i++) {
        free(sh.parts[i].recs);
        free(sh.parts[i].text);
    }
    free(sh.parts);
    close(sh.dfd);
    pthread_mutex_destroy(&sh.lock);
    if (rc < 0)
        *step = sh.step;
    return rc;
}

int nsf_nsid_get(const char *run_dir, const char *name, int *nsid, char *msg,
                 int msg_size, int *step)
{
    char path[PATH_MAX];
    struct ctx *c;
    struct slot *s;
    int rc;

    *step = NSF_STEP_NONE;
    *nsid = -1;
    if (msg_size > 0)
        msg[0] = '\0';
    if (nsf_join(path, run_dir, name) < 0)
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
    c = malloc(sizeof(*c));
    if (!c)
        return nsf_set_step(step, NSF_STEP_MALLOC, -ENOMEM);
    s = &c->slots[0];
    slot_init(s, "", 0);
    s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (s->fd < 0) {
        rc = nsf_fail(step, NSF_STEP_OPEN_NS);
        goto out;
    }
    rc = open_socket(c, step);
    if (rc < 0)
        goto out;
    rc = query(c, s, 1, 1, step);
    nsf_rtnl_close(&c->nl);
    if (rc == 0 && s->kind == NSF_NSID_QUERY_FAILED) {
        rc = nsf_set_step(step, NSF_STEP_RTM_GETNSID, -s->err);
        if (msg_size > 0) {
            size_t len = s->msg_len < (size_t)msg_size - 1
                             ? s->msg_len
                             : (size_t)msg_size - 1;
            memcpy(msg, s->msg, len);
            msg[len] = '\0';
        }
    } else if (rc == 0) {
        *nsid = s->nsid;
    }
out:
    close_slots(s, 1);
    free(c);
    return rc;
}
