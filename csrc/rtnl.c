/* The rtnetlink codec (see rtnl.h for the contract). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "nsf.h"
#include "rtnl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLMSGERR_ATTR_MSG
#define NLMSGERR_ATTR_MSG 1
#endif

/* -- sockets -------------------------------------------------------------- */

void nsf_rtnl_attach(struct nsf_rtnl *nl, int fd, uint32_t seq, void *rx,
                     size_t slot, int nslots)
{
    nl->fd = fd;
    nl->seq = seq;
    nl->rx = rx;
    nl->slot = slot;
    nl->nslots = nslots < 1                   ? 1
                 : nslots > NSF_RTNL_RX_SLOTS ? NSF_RTNL_RX_SLOTS
                                              : nslots;
}

void nsf_rtnl_adopt(struct nsf_rtnl *nl, int fd, void *rx, size_t slot,
                    int nslots)
{
    int one = 1;

    nsf_rtnl_attach(nl, fd, 0, rx, slot, nslots);
    /* Like iproute2: ask for the kernel's error text, and for errors
     * that do not echo the whole request back. */
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
}

int nsf_rtnl_open(struct nsf_rtnl *nl, void *rx, size_t slot, int nslots,
                  int *step)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

    nl->fd = -1;
    if (fd < 0)
        return nsf_fail(step, NSF_STEP_SOCKET_NETLINK);
    nsf_rtnl_adopt(nl, fd, rx, slot, nslots);
    return 0;
}

void nsf_rtnl_close(struct nsf_rtnl *nl)
{
    if (nl->fd >= 0)
        close(nl->fd);
    nl->fd = -1;
}

int nsf_rtnl_join(struct nsf_rtnl *nl, int group, int *step)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};

    if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        setsockopt(nl->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group,
                   sizeof(group)) < 0)
        return nsf_fail(step, NSF_STEP_SOCKET_NETLINK);
    return 0;
}

int nsf_rtnl_listen(struct nsf_rtnl *nl, int group, int on, int *step)
{
    int opt = on ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP;

    if (setsockopt(nl->fd, SOL_NETLINK, opt, &group, sizeof(group)) < 0)
        return nsf_fail(step, NSF_STEP_SOCKET_NETLINK);
    return 0;
}

/* -- building ------------------------------------------------------------- */

void nsf_rtnl_req_init(struct nsf_rtnl_req *r, void *buf, size_t cap)
{
    r->buf = buf;
    r->cap = cap;
    r->len = 0;
    r->cur = NULL;
    r->n = 0;
    r->first = 0;
    r->overflow = 0;
}

/* len zeroed bytes at the end of the current message, which grows by
 * their aligned size; NULL (and overflow) when they do not fit. */
static void *grow(struct nsf_rtnl_req *r, size_t len)
{
    size_t at = r->len, need = NLMSG_ALIGN(len);
    void *p;

    if (!r->cur || need > r->cap - at) {
        r->overflow = 1;
        return NULL;
    }
    p = r->buf + at;
    memset(p, 0, need);
    r->len += need;
    r->cur->nlmsg_len = (uint32_t)(r->len - (size_t)((char *)r->cur - r->buf));
    return p;
}

void *nsf_rtnl_msg(struct nsf_rtnl_req *r, struct nsf_rtnl *nl, int type,
                   int flags, size_t hdr_len)
{
    struct nlmsghdr *h;

    if (r->n >= NSF_RTNL_BATCH_MAX ||
        NLMSG_HDRLEN + NLMSG_ALIGN(hdr_len) > r->cap - r->len) {
        r->overflow = 1;
        return NULL;
    }
    /* The batch's numbers are consecutive and never 0 (the number of
     * events): start over before they could wrap. */
    if (r->n == 0) {
        if (nl->seq > UINT32_MAX - NSF_RTNL_BATCH_MAX)
            nl->seq = 0;
        r->first = nl->seq + 1;
    }
    h = (struct nlmsghdr *)(r->buf + r->len);
    memset(h, 0, NLMSG_HDRLEN);
    h->nlmsg_type = (uint16_t)type;
    h->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
    h->nlmsg_seq = ++nl->seq;
    r->cur = h;
    r->n++;
    r->len += NLMSG_HDRLEN;
    h->nlmsg_len = NLMSG_HDRLEN;
    return grow(r, hdr_len);
}

int nsf_rtnl_put(struct nsf_rtnl_req *r, int type, const void *data,
                 size_t len)
{
    struct nlattr *a;

    if (len > UINT16_MAX - NLA_HDRLEN) {
        r->overflow = 1;
        return -EMSGSIZE;
    }
    a = grow(r, NLA_HDRLEN + len);
    if (!a)
        return -EMSGSIZE;
    a->nla_type = (uint16_t)type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    if (len)
        memcpy((char *)a + NLA_HDRLEN, data, len);
    return 0;
}

int nsf_rtnl_put_u8(struct nsf_rtnl_req *r, int type, uint8_t value)
{
    return nsf_rtnl_put(r, type, &value, sizeof(value));
}

int nsf_rtnl_put_u32(struct nsf_rtnl_req *r, int type, uint32_t value)
{
    return nsf_rtnl_put(r, type, &value, sizeof(value));
}

int nsf_rtnl_put_str(struct nsf_rtnl_req *r, int type, const char *s)
{
    return nsf_rtnl_put(r, type, s, strlen(s) + 1);
}

void *nsf_rtnl_reserve(struct nsf_rtnl_req *r, size_t len)
{
    return grow(r, len);
}

struct nlattr *nsf_rtnl_nest_start(struct nsf_rtnl_req *r, int type)
{
    struct nlattr *a = grow(r, NLA_HDRLEN);

    if (a) {
        a->nla_type = (uint16_t)type;
        a->nla_len = NLA_HDRLEN;
    }
    return a;
}

void nsf_rtnl_nest_end(struct nsf_rtnl_req *r, struct nlattr *nest)
{
    size_t len;

    if (!nest)
        return;
    len = (size_t)(r->buf + r->len - (char *)nest);
    if (len > UINT16_MAX) {
        r->overflow = 1;
        return;
    }
    nest->nla_len = (uint16_t)len;
}

/* -- exchanges ------------------------------------------------------------ */

/* Whether h ends the answer to req: an NLMSG_ERROR (ack or refusal) or
 * NLMSG_DONE always; a reply only when req asked for no ack and the reply
 * is no part of a dump (NLM_F_MULTI). */
static int ends(const struct nlmsghdr *req, const struct nlmsghdr *h)
{
    if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE)
        return 1;
    return !(req->nlmsg_flags & NLM_F_ACK) && !(h->nlmsg_flags & NLM_F_MULTI);
}

struct pending {
    struct nsf_rtnl_req *r;
    const struct nlmsghdr *reqs[NSF_RTNL_BATCH_MAX];
    unsigned char done[NSF_RTNL_BATCH_MAX];
    int left;
    nsf_rtnl_fn fn;
    void *arg;
};

/* Hand every message of one datagram to its request. */
static int take(struct pending *p, const char *buf, size_t len)
{
    const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
    int left = (int)len, rc;

    for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        uint32_t i = h->nlmsg_seq - p->r->first;

        if (i >= (uint32_t)p->r->n || p->done[i])
            continue;
        rc = p->fn(p->arg, (int)i, h);
        if (rc < 0)
            return rc;
        if (ends(p->reqs[i], h)) {
            p->done[i] = 1;
            p->left--;
        }
    }
    return 0;
}

/* Read what is queued until every request is answered or nothing more is
 * there. Returns the number unanswered, fn's value, or -errno. */
static int read_answers(struct nsf_rtnl *nl, struct pending *p, int *step)
{
    struct mmsghdr msgs[NSF_RTNL_RX_SLOTS];
    struct iovec iov[NSF_RTNL_RX_SLOTS];
    int i, got, rc;

    while (p->left > 0) {
        for (i = 0; i < nl->nslots; i++) {
            iov[i].iov_base = nl->rx + (size_t)i * nl->slot;
            iov[i].iov_len = nl->slot;
            memset(&msgs[i], 0, sizeof(msgs[i]));
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        got = recvmmsg(nl->fd, msgs, (unsigned)nl->nslots, MSG_DONTWAIT,
                       NULL);
        if (got < 0) {
            if (errno == EINTR || errno == ENOBUFS)
                continue; /* ENOBUFS: some answers were dropped */
            if (errno == EAGAIN)
                break;
            return nsf_fail(step, NSF_STEP_RECV_NETLINK);
        }
        if (got == 0)
            break;
        for (i = 0; i < got; i++) {
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
                return nsf_set_step(step, NSF_STEP_RECV_NETLINK, -EMSGSIZE);
            rc = take(p, iov[i].iov_base, msgs[i].msg_len);
            if (rc < 0)
                return rc;
        }
    }
    return p->left;
}

int nsf_rtnl_exchange(struct nsf_rtnl *nl, struct nsf_rtnl_req *r,
                      nsf_rtnl_fn fn, void *arg, int *step)
{
    struct pending p;
    const struct nlmsghdr *h = (const struct nlmsghdr *)r->buf;
    int left = (int)r->len, i = 0;
    ssize_t sent;

    if (r->overflow)
        return nsf_set_step(step, NSF_STEP_SEND_NETLINK, -EMSGSIZE);
    if (r->n == 0)
        return 0;
    p.r = r;
    p.fn = fn;
    p.arg = arg;
    p.left = r->n;
    memset(p.done, 0, sizeof(p.done));
    for (; i < r->n && NLMSG_OK(h, left); h = NLMSG_NEXT(h, left))
        p.reqs[i++] = h;
    do
        sent = send(nl->fd, r->buf, r->len, 0);
    while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return nsf_fail(step, NSF_STEP_SEND_NETLINK);
    return read_answers(nl, &p, step);
}

int nsf_rtnl_recv(struct nsf_rtnl *nl, int flags, int *step)
{
    ssize_t n;

    do
        n = recv(nl->fd, nl->rx, nl->slot, flags);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return nsf_fail(step, NSF_STEP_RECV_NETLINK);
    return (int)n;
}

int nsf_rtnl_walk(const void *buf, size_t len, nsf_rtnl_fn fn, void *arg)
{
    const struct nlmsghdr *h = buf;
    int left = (int)len, rc;

    for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        rc = fn(arg, -1, h);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* -- reading -------------------------------------------------------------- */

int nsf_rtnl_error(const struct nlmsghdr *h)
{
    const struct nlmsgerr *e = NLMSG_DATA(h);

    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
        return -EBADMSG;
    return e->error > 0 ? -e->error : e->error;
}

const char *nsf_rtnl_ext_ack(const struct nlmsghdr *h, size_t *len)
{
    const struct nlmsgerr *e = NLMSG_DATA(h);
    const char *end = (const char *)h + h->nlmsg_len;
    size_t skip = sizeof(*e);
    const struct nlattr *a;
    const char *text;

    *len = 0;
    if (h->nlmsg_type != NLMSG_ERROR || !(h->nlmsg_flags & NLM_F_ACK_TLVS) ||
        h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
        return NULL;
    /* Unless capped, the whole request follows the header of nlmsgerr. */
    if (!(h->nlmsg_flags & NLM_F_CAPPED) &&
        e->msg.nlmsg_len >= sizeof(struct nlmsghdr))
        skip += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
    if ((size_t)(end - (const char *)e) < NLMSG_ALIGN(skip))
        return NULL;
    a = nsf_rtnl_find((const char *)e + NLMSG_ALIGN(skip),
                      (size_t)(end - ((const char *)e + NLMSG_ALIGN(skip))),
                      NLMSGERR_ATTR_MSG);
    if (!a)
        return NULL;
    text = nsf_rtnl_data(a);
    *len = strnlen(text, nsf_rtnl_len(a));
    return text;
}

const struct nlattr *nsf_rtnl_next(const void *start, size_t len,
                                   const struct nlattr *prev)
{
    const char *base = start, *pos = base;
    const struct nlattr *a;

    if (prev)
        pos = (const char *)prev + NLA_ALIGN(prev->nla_len);
    if (pos < base || (size_t)(pos - base) >= len ||
        len - (size_t)(pos - base) < NLA_HDRLEN)
        return NULL;
    a = (const struct nlattr *)pos;
    if (a->nla_len < NLA_HDRLEN || a->nla_len > len - (size_t)(pos - base))
        return NULL;
    return a;
}

const struct nlattr *nsf_rtnl_find(const void *start, size_t len, int type)
{
    const struct nlattr *a = NULL;

    while ((a = nsf_rtnl_next(start, len, a)))
        if ((a->nla_type & NLA_TYPE_MASK) == type)
            return a;
    return NULL;
}

const struct nlattr *nsf_rtnl_attr(const struct nlmsghdr *h, size_t hdr_len,
                                   int type)
{
    size_t off = NLMSG_LENGTH(NLMSG_ALIGN(hdr_len));

    if (h->nlmsg_len < off)
        return NULL;
    return nsf_rtnl_find((const char *)h + off, h->nlmsg_len - off, type);
}

void nsf_rtnl_parse(const void *start, size_t len, const struct nlattr **tb,
                    int max)
{
    const struct nlattr *a = NULL;
    int type;

    memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
    while ((a = nsf_rtnl_next(start, len, a))) {
        type = a->nla_type & NLA_TYPE_MASK;
        if (type <= max && !tb[type])
            tb[type] = a;
    }
}

void nsf_rtnl_parse_msg(const struct nlmsghdr *h, size_t hdr_len,
                        const struct nlattr **tb, int max)
{
    size_t off = NLMSG_LENGTH(NLMSG_ALIGN(hdr_len));

    if (h->nlmsg_len < off) {
        memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
        return;
    }
    nsf_rtnl_parse((const char *)h + off, h->nlmsg_len - off, tb, max);
}

const void *nsf_rtnl_data(const struct nlattr *a)
{
    return (const char *)a + NLA_HDRLEN;
}

size_t nsf_rtnl_len(const struct nlattr *a)
{
    return a->nla_len - NLA_HDRLEN;
}

int nsf_rtnl_u32(const struct nlattr *a, uint32_t *value)
{
    if (!a || nsf_rtnl_len(a) < sizeof(*value))
        return -EBADMSG;
    memcpy(value, nsf_rtnl_data(a), sizeof(*value));
    return 0;
}
