/* Wiring: links, addresses, routes and sysctls of network namespaces (see
 * wire.h for the contract).
 *
 * How a plan runs. Each namespace of the plan has a buffer of pending
 * requests for its socket. Requests are appended in order; a buffer is
 * sent (one datagram, its answers read together) when a request needs
 * something only its answers tell: the index of a link (learnt from the
 * echo of the RTM_NEWLINK that made it, NLM_F_ECHO, whose IFLA_LINK also
 * gives a veth peer's index; else looked up by name), or when a request
 * involves a namespace that another pending buffer changes (a veth peer
 * placed there, a link moved there). So pending buffers never depend on
 * each other, and the requests of several namespaces wait side by side:
 * a wired pair (a veth, an address on each end, both read back) is three
 * sends. Sysctls and waits send what is pending first.
 *
 * Requests that name a link go by index when the plan knows it, else by
 * name (RTM_NEWLINK and RTM_DELLINK look a name up themselves); addresses,
 * routes, a master and a rename need the index.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nsf.h"
#include "rtnl.h"
#include "wire.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif
/* RFC 2863 operational states (linux/if.h, which clashes with net/if.h). */
#define OPER_UNKNOWN 0
#define OPER_UP 6
#ifndef RTEXT_FILTER_SKIP_STATS
#define RTEXT_FILTER_SKIP_STATS (1 << 3)
#endif

/* Receive slots of a run, and the bytes of one; a datagram of a dump is
 * at most the size of the buffer it is read into. */
#define RX_SLOTS 8
#define RX_SLOT (16 * 1024)
/* One namespace's datagram of requests. */
#define TX_SIZE (8 * 1024)
/* Requests of a plan per datagram (their echoes must fit the socket's
 * receive buffer, RCVBUF). */
#define OPS_PER_SEND 32
#define RCVBUF (1 << 20)

/* A message of a datagram that is no request of the plan. */
#define TAG_UNDO (-1)
#define TAG_LOOKUP (-2)
/* The "up" of the peer of veth request i (see send_peer_up). */
#define TAG_PEER_UP(i) (-3 - (i))
#define PEER_UP_OF(tag) (-3 - (tag))

/* -- sockets ---------------------------------------------------------------- */

/* A NETLINK_ROUTE socket for wiring, in the calling thread's namespace:
 * extended acks, and a receive buffer for a datagram's echoes. */
static int wire_socket(int *step)
{
    struct nsf_rtnl nl;
    int size = RCVBUF, rc = nsf_rtnl_open(&nl, NULL, 0, 1, step);

    if (rc < 0)
        return rc;
    /* Past rmem_max with CAP_NET_ADMIN; else as much as it allows. */
    if (setsockopt(nl.fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
        (void)setsockopt(nl.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    return nl.fd;
}

static int make_socket_inside(void *arg, int *step)
{
    int fd = wire_socket(step);

    if (fd < 0)
        return fd;
    *(int *)arg = fd;
    return 0;
}

int nsf_wire_anon_new(int flags, unsigned long long *ino, int *rtnl,
                      int *step)
{
    int fd;

    *rtnl = -1;
    fd = nsf_new_net(flags & 1, ino, make_socket_inside, rtnl, step);
    if (fd < 0 && *rtnl >= 0) {
        close(*rtnl);
        *rtnl = -1;
    }
    return fd;
}

/* -- work inside namespaces --------------------------------------------- */

/* Work done inside namespaces without moving the caller: for each item
 * k < n, the thread doing it is moved into fd_of(k) (-1: the caller's
 * own namespace, home), then work(k) runs. On a helper thread (made with
 * every signal blocked, joined before returning), or, for the caller's
 * own C thread (own), on the calling thread, which is brought back. */
struct inside {
    int (*fd_of)(void *arg, int k);
    int (*work)(void *arg, int k, int *step);
    void *arg;
    int n;
    int home;  /* the caller's namespace (for items of fd -1) */
    int rc, step;
};

static void inside_loop(struct inside *in)
{
    int k, fd, at = -2;

    for (k = 0; k < in->n; k++) {
        fd = in->fd_of(in->arg, k);
        if (fd < 0)
            fd = in->home;
        if (fd != at) {
            if (setns(fd, CLONE_NEWNET) < 0) {
                in->rc = nsf_fail(&in->step, NSF_STEP_SETNS_NET);
                return;
            }
            at = fd;
        }
        in->rc = in->work(in->arg, k, &in->step);
        if (in->rc < 0)
            return;
    }
}

static void *inside_thread(void *arg)
{
    inside_loop(arg);
    return NULL;
}

static int run_inside(struct inside *in, int own, int *step)
{
    sigset_t all, old;
    pthread_t t;
    int rc, k, back, back_step = NSF_STEP_NONE;

    in->rc = 0;
    in->step = NSF_STEP_NONE;
    for (k = 0; k < in->n && in->fd_of(in->arg, k) < 0; k++)
        ;
    if (k == in->n) { /* all in the caller's own namespace: no move */
        for (k = 0; k < in->n && in->rc == 0; k++)
            in->rc = in->work(in->arg, k, &in->step);
        return in->rc < 0 ? nsf_set_step(step, in->step, in->rc) : 0;
    }
    in->home = nsf_save_net(step);
    if (in->home < 0)
        return in->home;
    if (own) {
        inside_loop(in);
        back = nsf_restore_net(in->home, &back_step);
        close(in->home);
        if (back < 0)
            return nsf_set_step(step, back_step, back);
    } else {
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(&t, NULL, inside_thread, in);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            close(in->home);
            return nsf_set_step(step, NSF_STEP_PTHREAD_CREATE, -rc);
        }
        pthread_join(t, NULL);
        close(in->home);
    }
    if (in->rc < 0)
        return nsf_set_step(step, in->step, in->rc);
    return 0;
}

/* Sockets for the namespaces that lack one: made directly in the
 * calling thread's own (fd -1), inside the others (one helper for all). */
struct sockets {
    struct nsf_wire_ns *ns;
    int *which; /* namespace indices */
};

static int sockets_fd_of(void *arg, int k)
{
    struct sockets *s = arg;

    return s->ns[s->which[k]].fd;
}

static int sockets_work(void *arg, int k, int *step)
{
    struct sockets *s = arg;
    int fd = wire_socket(step);

    if (fd < 0)
        return fd;
    s->ns[s->which[k]].rtnl = fd;
    return 0;
}

static int open_sockets(struct nsf_wire_ns *ns, int nns, int own, int *step)
{
    struct sockets s = {ns, NULL};
    struct inside in = {sockets_fd_of, sockets_work, &s, 0, -1, 0, 0};
    int i, fd, rc;

    for (i = 0; i < nns; i++) {
        if (ns[i].rtnl >= 0)
            continue;
        if (ns[i].fd < 0) {
            fd = wire_socket(step);
            if (fd < 0)
                return fd;
            ns[i].rtnl = fd;
        } else {
            in.n++;
        }
    }
    if (in.n == 0)
        return 0;
    s.which = malloc(sizeof(int) * (size_t)in.n);
    if (!s.which)
        return nsf_set_step(step, NSF_STEP_MALLOC, -ENOMEM);
    for (i = 0, in.n = 0; i < nns; i++)
        if (ns[i].rtnl < 0 && ns[i].fd >= 0)
            s.which[in.n++] = i;
    rc = run_inside(&in, own, step);
    free(s.which);
    return rc;
}

/* -- the run of a plan ---------------------------------------------------- */

/* A link whose index the plan knows, and the veth end paired with it. */
struct known {
    int ns, index;
    char name[IFNAMSIZ];
    int pair_ns, pair_index;
};

/* A link name that must be looked up (RTM_GETLINK). */
struct lookup {
    int ns;
    int err;
};

/* What an undo must remove: a link made (by index, else name), an
 * address or a route added (the request itself). */
struct undo {
    int op;
    int ns, index;
    char name[IFNAMSIZ];
    int gone;
};

struct nsbuf {
    struct nsf_rtnl nl;
    struct nsf_rtnl_req r;
    char *tx;
    int tags[NSF_RTNL_BATCH_MAX];
    int ops;      /* requests of the plan in r */
    int *touch;   /* the other namespaces r's requests change (a link
                     made or moved there, a veth end's carrier) */
    int ntouch;
};

struct run {
    struct nsf_wire_plan *p;
    struct nsbuf *b;
    int *todo;     /* namespaces to flush (flush_involving) */
    char *rx;
    int self_fd;   /* the calling thread's namespace, for IFLA_NET_NS_FD */
    struct known *known;
    int nknown, capknown;
    struct lookup look;
    struct undo *undo;
    int nundo;
    int undoing;
};

static int kind_ok(int kind)
{
    return kind >= NSF_WIRE_VETH && kind <= NSF_WIRE_WAIT_UP;
}

/* Record that request i failed with rc (-errno), with its step and the
 * kernel's text. The first failure is kept: the answers of a datagram come
 * in request order, and no datagram is sent after a failure. */
static void fail_req(struct run *run, int i, int rc, const struct nlmsghdr *h)
{
    struct nsf_wire_plan *p = run->p;
    int *step = &p->step;
    const char *text;
    size_t len = 0;

    if (p->rc < 0)
        return;
    p->failed = i;
    p->msg[0] = 0;
    if (h && (text = nsf_rtnl_ext_ack(h, &len)) && len) {
        if (len >= sizeof(p->msg))
            len = sizeof(p->msg) - 1;
        memcpy(p->msg, text, len);
        p->msg[len] = 0;
    }
    switch (p->reqs[i].kind) {
    case NSF_WIRE_LINK_DEL:
        p->rc = nsf_set_step(step, NSF_STEP_RTM_DELLINK, rc);
        break;
    case NSF_WIRE_LINK_GET:
        p->rc = nsf_set_step(step, NSF_STEP_RTM_GETLINK, rc);
        break;
    case NSF_WIRE_ADDR_ADD:
        p->rc = nsf_set_step(step, NSF_STEP_RTM_NEWADDR, rc);
        break;
    case NSF_WIRE_ADDR_DEL:
        p->rc = nsf_set_step(step, NSF_STEP_RTM_DELADDR, rc);
        break;
    case NSF_WIRE_ROUTE_ADD:
        p->rc = nsf_set_step(step, NSF_STEP_RTM_NEWROUTE, rc);
        break;
    case NSF_WIRE_ROUTE_DEL:
        p->rc = nsf_set_step(step, NSF_STEP_RTM_DELROUTE, rc);
        break;
    default: /* the links made or changed */
        p->rc = nsf_set_step(step, NSF_STEP_RTM_NEWLINK, rc);
    }
}

/* A failure at a given step (not the request's own RTM_*); i -1: of the
 * plan as a whole. */
static void fail_at(struct run *run, int i, int rc, int step)
{
    struct nsf_wire_plan *p = run->p;

    if (p->rc < 0)
        return;
    p->failed = i;
    p->rc = rc;
    p->step = step;
    p->msg[0] = 0;
}

static int failed(const struct run *run)
{
    return run->p->rc < 0;
}

/* -- what the plan knows about links ---------------------------------- */

static struct known *find_known(struct run *run, int ns, const char *name)
{
    int k;

    for (k = 0; k < run->nknown; k++)
        if (run->known[k].ns == ns &&
            strncmp(run->known[k].name, name, IFNAMSIZ) == 0)
            return &run->known[k];
    return NULL;
}

static struct known *find_index(struct run *run, int ns, int index)
{
    int k;

    for (k = 0; k < run->nknown; k++)
        if (run->known[k].ns == ns && run->known[k].index == index)
            return &run->known[k];
    return NULL;
}

static void forget(struct run *run, struct known *k)
{
    *k = run->known[--run->nknown];
}

/* Learn that ns has a link name at index (a newer fact replaces an older
 * one of the same name or index). */
static void learn(struct run *run, int ns, const char *name, int index,
                  int pair_ns, int pair_index)
{
    struct known *k;

    if (index <= 0 || !name)
        return;
    while ((k = find_index(run, ns, index)))
        forget(run, k);
    k = find_known(run, ns, name);
    if (!k) {
        if (run->nknown == run->capknown) {
            int cap = run->capknown ? run->capknown * 2 : 16;
            struct known *more =
                realloc(run->known, sizeof(*more) * (size_t)cap);

            if (!more)
                return; /* only a lookup more later */
            run->known = more;
            run->capknown = cap;
        }
        k = &run->known[run->nknown++];
    }
    k->ns = ns;
    k->index = index;
    strncpy(k->name, name, IFNAMSIZ - 1);
    k->name[IFNAMSIZ - 1] = 0;
    k->pair_ns = pair_ns;
    k->pair_index = pair_index;
}

static int index_of(struct run *run, int ns, const char *name)
{
    struct known *k = find_known(run, ns, name);

    return k ? k->index : 0;
}

/* A link is gone from ns (deleted, moved away): forget it, and a veth
 * end paired with it when it was deleted. */
static void gone(struct run *run, int ns, int index, const char *name,
                 int deleted)
{
    struct known *k = index > 0 ? find_index(run, ns, index)
                                : find_known(run, ns, name);
    int pair_ns, pair_index;

    if (!k)
        return;
    pair_ns = k->pair_ns;
    pair_index = k->pair_index;
    forget(run, k);
    if (deleted && pair_index > 0 && (k = find_index(run, pair_ns,
                                                     pair_index)))
        forget(run, k);
}

/* -- records ---------------------------------------------------------------- */

static void copy_name(char *dst, const struct nlattr *a)
{
    size_t len;

    dst[0] = 0;
    if (!a)
        return;
    len = strnlen(nsf_rtnl_data(a), nsf_rtnl_len(a));
    if (len >= IFNAMSIZ)
        len = IFNAMSIZ - 1;
    memcpy(dst, nsf_rtnl_data(a), len);
    dst[len] = 0;
}

static uint32_t u32_or(const struct nlattr *a, uint32_t dflt)
{
    uint32_t v;

    return nsf_rtnl_u32(a, &v) == 0 ? v : dflt;
}

static int u8_or(const struct nlattr *a, int dflt)
{
    return a && nsf_rtnl_len(a) >= 1 ? *(const uint8_t *)nsf_rtnl_data(a)
                                     : dflt;
}

static void copy_bytes(unsigned char *dst, size_t cap, const struct nlattr *a)
{
    size_t len = a ? nsf_rtnl_len(a) : 0;

    memset(dst, 0, cap);
    if (len > cap)
        len = cap;
    if (len)
        memcpy(dst, nsf_rtnl_data(a), len);
}

static int parse_link(const struct nlmsghdr *h, struct nsf_wire_link *out)
{
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    const struct nlattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1];

    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
        return -EBADMSG;
    nsf_rtnl_parse_msg(h, sizeof(*ifi), tb, IFLA_MAX);
    memset(out, 0, sizeof(*out));
    out->index = ifi->ifi_index;
    out->flags = ifi->ifi_flags;
    copy_name(out->name, tb[IFLA_IFNAME]);
    out->mtu = u32_or(tb[IFLA_MTU], 0);
    out->master = (int)u32_or(tb[IFLA_MASTER], 0);
    out->link = (int)u32_or(tb[IFLA_LINK], 0);
    out->link_netnsid = (int)(int32_t)u32_or(tb[IFLA_LINK_NETNSID],
                                             (uint32_t)-1);
    out->operstate = u8_or(tb[IFLA_OPERSTATE], 0);
    out->carrier = u8_or(tb[IFLA_CARRIER], -1);
    if (tb[IFLA_ADDRESS]) {
        size_t len = nsf_rtnl_len(tb[IFLA_ADDRESS]);

        out->mac_len = (int)(len > sizeof(out->mac) ? sizeof(out->mac)
                                                    : len);
        copy_bytes(out->mac, sizeof(out->mac), tb[IFLA_ADDRESS]);
    }
    if (tb[IFLA_LINKINFO]) {
        nsf_rtnl_parse(nsf_rtnl_data(tb[IFLA_LINKINFO]),
                       nsf_rtnl_len(tb[IFLA_LINKINFO]), info, IFLA_INFO_MAX);
        copy_name(out->kind, info[IFLA_INFO_KIND]);
    }
    return 0;
}

static int parse_addr(const struct nlmsghdr *h, struct nsf_wire_addr *out)
{
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    const struct nlattr *tb[IFA_MAX + 1];

    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
        return -EBADMSG;
    nsf_rtnl_parse_msg(h, sizeof(*ifa), tb, IFA_MAX);
    memset(out, 0, sizeof(*out));
    out->family = ifa->ifa_family;
    out->prefixlen = ifa->ifa_prefixlen;
    out->index = (int)ifa->ifa_index;
    out->scope = ifa->ifa_scope;
    out->flags = u32_or(tb[IFA_FLAGS], ifa->ifa_flags);
    copy_bytes(out->address, sizeof(out->address),
               tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]);
    copy_name(out->label, tb[IFA_LABEL]);
    return 0;
}

static int parse_route(const struct nlmsghdr *h, struct nsf_wire_route *out)
{
    const struct rtmsg *rtm = NLMSG_DATA(h);
    const struct nlattr *tb[RTA_MAX + 1];

    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
        return -EBADMSG;
    nsf_rtnl_parse_msg(h, sizeof(*rtm), tb, RTA_MAX);
    memset(out, 0, sizeof(*out));
    out->family = rtm->rtm_family;
    out->dst_len = rtm->rtm_dst_len;
    out->table = u32_or(tb[RTA_TABLE], rtm->rtm_table);
    out->protocol = rtm->rtm_protocol;
    out->scope = rtm->rtm_scope;
    out->type = rtm->rtm_type;
    out->flags = rtm->rtm_flags;
    out->oif = (int)u32_or(tb[RTA_OIF], 0);
    out->priority = u32_or(tb[RTA_PRIORITY], 0);
    copy_bytes(out->dst, sizeof(out->dst), tb[RTA_DST]);
    out->has_gateway = tb[RTA_GATEWAY] != NULL;
    copy_bytes(out->gateway, sizeof(out->gateway), tb[RTA_GATEWAY]);
    out->has_prefsrc = tb[RTA_PREFSRC] != NULL;
    copy_bytes(out->prefsrc, sizeof(out->prefsrc), tb[RTA_PREFSRC]);
    return 0;
}

/* -- sending ---------------------------------------------------------------- */

static size_t addr_len(int family)
{
    return family == AF_INET6 ? 16 : 4;
}

/* The fd that names namespace i for IFLA_NET_NS_FD. */
static int ns_fd_for(struct run *run, int i, int *step)
{
    int fd = run->p->ns[i].fd;

    if (fd >= 0)
        return fd;
    if (run->self_fd < 0)
        run->self_fd = nsf_save_net(step);
    return run->self_fd;
}

/* Answers to one datagram of namespace ns. */
struct flush {
    struct run *run;
    int ns;
};

static void op_succeeded(struct run *run, int ns, int i)
{
    struct nsf_wire_req *q = &run->p->reqs[i];
    int u;

    switch (q->kind) {
    case NSF_WIRE_LINK_RENAME: {
        struct known *k = q->index > 0 ? find_index(run, ns, q->index)
                                       : find_known(run, ns, q->name);

        if (k) {
            strncpy(k->name, q->peer_name, IFNAMSIZ - 1);
            k->name[IFNAMSIZ - 1] = 0;
        }
        for (u = 0; u < run->nundo; u++)
            if (run->undo[u].ns == ns && !run->undo[u].gone &&
                strncmp(run->undo[u].name, q->name, IFNAMSIZ) == 0) {
                strncpy(run->undo[u].name, q->peer_name, IFNAMSIZ - 1);
                run->undo[u].name[IFNAMSIZ - 1] = 0;
            }
        break;
    }
    case NSF_WIRE_LINK_MOVE: {
        const char *now = q->peer_name ? q->peer_name : q->name;

        gone(run, ns, q->index, q->name, 0);
        for (u = 0; u < run->nundo; u++)
            if (run->undo[u].ns == ns && !run->undo[u].gone &&
                strncmp(run->undo[u].name, q->name, IFNAMSIZ) == 0) {
                run->undo[u].ns = q->peer_ns;
                run->undo[u].index = 0;
                strncpy(run->undo[u].name, now, IFNAMSIZ - 1);
                run->undo[u].name[IFNAMSIZ - 1] = 0;
            }
        break;
    }
    case NSF_WIRE_LINK_DEL:
        gone(run, ns, q->index, q->name, 1);
        for (u = 0; u < run->nundo; u++)
            if (run->undo[u].ns == ns &&
                strncmp(run->undo[u].name, q->name, IFNAMSIZ) == 0)
                run->undo[u].gone = 1;
        break;
    case NSF_WIRE_VETH:
    case NSF_WIRE_DUMMY:
    case NSF_WIRE_BRIDGE:
    case NSF_WIRE_ADDR_ADD:
    case NSF_WIRE_ROUTE_ADD: {
        struct undo *un = &run->undo[run->nundo++];

        memset(un, 0, sizeof(*un));
        un->op = i;
        un->ns = ns;
        un->index = q->index;
        if (q->name) {
            strncpy(un->name, q->name, IFNAMSIZ - 1);
            un->name[IFNAMSIZ - 1] = 0;
        }
        break;
    }
    default:
        break;
    }
}

static int on_answer(void *arg, int m, const struct nlmsghdr *h)
{
    struct flush *f = arg;
    struct run *run = f->run;
    int tag = run->b[f->ns].tags[m], err;
    struct nsf_wire_req *q;
    struct nsf_wire_link rec;

    if (tag == TAG_UNDO)
        return 0;
    if (tag <= TAG_PEER_UP(0)) {
        if (h->nlmsg_type == NLMSG_ERROR && (err = nsf_rtnl_error(h)) < 0)
            fail_req(run, PEER_UP_OF(tag), err, h);
        return 0;
    }
    if (tag == TAG_LOOKUP) {
        struct lookup *l = &run->look;

        if (h->nlmsg_type == NLMSG_ERROR)
            l->err = nsf_rtnl_error(h);
        else if (h->nlmsg_type == RTM_NEWLINK && parse_link(h, &rec) == 0)
            learn(run, l->ns, rec.name, rec.index, -1, 0);
        return 0;
    }
    q = &run->p->reqs[tag];
    if (h->nlmsg_type == NLMSG_ERROR) {
        err = nsf_rtnl_error(h);
        if (err < 0)
            fail_req(run, tag, err, h);
        else
            op_succeeded(run, f->ns, tag);
        return 0;
    }
    if (h->nlmsg_type != RTM_NEWLINK || parse_link(h, &rec) < 0)
        return 0;
    /* The echo of a link made, or the reply to a GET. */
    q->index = rec.index;
    if (q->kind == NSF_WIRE_VETH) {
        int peer = q->peer_ns < 0 ? f->ns : q->peer_ns;

        q->peer_index = rec.link;
        learn(run, f->ns, rec.name, rec.index, peer, rec.link);
        learn(run, peer, q->peer_name, rec.link, f->ns, rec.index);
    } else {
        learn(run, f->ns, rec.name, rec.index, -1, 0);
    }
    if (q->kind == NSF_WIRE_LINK_GET) {
        if (q->link)
            *q->link = rec;
        op_succeeded(run, f->ns, tag); /* a GET's reply ends it */
    }
    return 0;
}

static void send_peer_up(struct run *run, int i, int ns);

/* Send namespace ns's pending datagram and take its answers; then queue
 * the "up" of the peers its veths placed in other namespaces. */
static int flush_ns(struct run *run, int ns)
{
    struct nsbuf *b = &run->b[ns];
    struct nsf_wire_ns *w = &run->p->ns[ns];
    struct flush f = {run, ns};
    int rc, k, step = NSF_STEP_NONE, tags[NSF_RTNL_BATCH_MAX], n = b->r.n;

    if (n == 0)
        return 0;
    memcpy(tags, b->tags, sizeof(int) * (size_t)n);
    if (!run->undoing)
        run->p->sends++;
    rc = nsf_rtnl_exchange(&b->nl, &b->r, on_answer, &f, &step);
    w->seq = b->nl.seq;
    if (rc > 0) /* answers lost (the socket overran): outcome unknown */
        rc = nsf_set_step(&step, NSF_STEP_RECV_NETLINK, -ENOBUFS);
    if (rc < 0 && !run->undoing) {
        int k, first = -1;

        for (k = 0; k < b->r.n; k++)
            if (b->tags[k] >= 0 && (first < 0 || b->tags[k] < first))
                first = b->tags[k];
        fail_at(run, first, rc, step);
    }
    nsf_rtnl_req_init(&b->r, b->tx, TX_SIZE);
    b->ops = 0;
    b->ntouch = 0;
    for (k = 0; k < n && !failed(run) && !run->undoing; k++) {
        const struct nsf_wire_req *q = &run->p->reqs[tags[k] < 0 ? 0
                                                                 : tags[k]];

        if (tags[k] >= 0 && q->kind == NSF_WIRE_VETH && q->up &&
            q->peer_ns >= 0 && q->peer_ns != ns)
            send_peer_up(run, tags[k], q->peer_ns);
    }
    return rc < 0 ? rc : 0;
}

/* Send every pending datagram (a flush may queue more: peers' "up"). */
static int flush_all(struct run *run)
{
    int i, more = 1;

    while (more && !failed(run)) {
        more = 0;
        for (i = 0; i < run->p->nns; i++)
            if (run->b[i].r.n > 0) {
                flush_ns(run, i);
                more = 1;
            }
    }
    return failed(run) ? -1 : 0;
}

/* Whether namespace t's pending requests involve namespace x. */
static int involves(const struct run *run, int t, int x)
{
    const struct nsbuf *b = &run->b[t];
    int k;

    if (b->r.n == 0)
        return 0;
    if (t == x)
        return 1;
    for (k = 0; k < b->ntouch; k++)
        if (b->touch[k] == x)
            return 1;
    return 0;
}

/* Send every datagram pending now that involves namespace x, except that
 * of namespace but (-1: none). What their answers queue (a peer's "up")
 * waits for its own namespace's next datagram. */
static int flush_involving(struct run *run, int x, int but)
{
    int t, n = 0;

    for (t = 0; t < run->p->nns; t++)
        if (t != but && involves(run, t, x))
            run->todo[n++] = t;
    for (t = 0; t < n && !failed(run); t++)
        flush_ns(run, run->todo[t]);
    return failed(run) ? -1 : 0;
}

/* Namespace ns's datagram buffer, made on first use. */
static int ensure_buf(struct run *run, int ns)
{
    struct nsbuf *b = &run->b[ns];

    if (b->tx)
        return 0;
    b->tx = malloc(TX_SIZE);
    b->touch = malloc(sizeof(int) * NSF_RTNL_BATCH_MAX);
    if (!b->tx || !b->touch)
        return -ENOMEM;
    nsf_rtnl_req_init(&b->r, b->tx, TX_SIZE);
    return 0;
}

static void *begin(struct run *run, int ns, int tag, int type, int flags,
                   size_t hdr_len);

/* The index of link name in ns, for request i: known, else (after the
 * pending datagrams that may make it) looked up. 0 and the request
 * failed when there is no such link. */
static int need_index(struct run *run, int i, int ns, const char *name)
{
    struct nsbuf *b = &run->b[ns];
    struct ifinfomsg *ifi;
    int index = index_of(run, ns, name);

    if (index > 0)
        return index;
    if (flush_involving(run, ns, -1) < 0)
        return 0;
    index = index_of(run, ns, name);
    if (index > 0)
        return index;
    if (ensure_buf(run, ns) < 0) {
        fail_at(run, i, -ENOMEM, NSF_STEP_MALLOC);
        return 0;
    }
    run->look.ns = ns;
    run->look.err = -ENODEV;
    ifi = begin(run, ns, TAG_LOOKUP, RTM_GETLINK, 0, sizeof(*ifi));
    if (!ifi) {
        fail_at(run, i, -EMSGSIZE, NSF_STEP_WIRE_REQUEST);
        return 0;
    }
    nsf_rtnl_put_str(&b->r, IFLA_IFNAME, name);
    nsf_rtnl_put_u32(&b->r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    if (flush_ns(run, ns) < 0)
        return 0;
    index = index_of(run, ns, name);
    if (index <= 0) {
        struct nsf_wire_plan *p = run->p;

        if (p->rc == 0) {
            p->failed = i;
            p->msg[0] = 0;
            p->rc = nsf_set_step(&p->step, NSF_STEP_RTM_GETLINK,
                                 run->look.err < 0 ? run->look.err
                                                   : -ENODEV);
        }
        return 0;
    }
    return index;
}

/* Room in namespace ns's datagram for one more request of the plan that
 * touches namespace peer (-1: none). */
static int make_room(struct run *run, int ns, int peer)
{
    struct nsbuf *b = &run->b[ns];

    if (ensure_buf(run, ns) < 0)
        return -ENOMEM;
    if (flush_involving(run, ns, ns) < 0 ||
        (peer >= 0 && peer != ns && flush_involving(run, peer, ns) < 0))
        return -1;
    /* A request is at most a few hundred bytes. */
    if (b->ops >= OPS_PER_SEND || b->r.n >= NSF_RTNL_BATCH_MAX - 1 ||
        TX_SIZE - b->r.len < 1024)
        if (flush_ns(run, ns) < 0)
            return -1;
    if (peer >= 0 && peer != ns)
        b->touch[b->ntouch++] = peer;
    return 0;
}

/* The family header of the next message of ns's datagram, tagged. */
static void *begin(struct run *run, int ns, int tag, int type, int flags,
                   size_t hdr_len)
{
    struct nsbuf *b = &run->b[ns];
    void *hdr = nsf_rtnl_msg(&b->r, &b->nl, type, flags, hdr_len);

    if (hdr) {
        b->tags[b->r.n - 1] = tag;
        if (tag >= 0)
            b->ops++;
    }
    return hdr;
}

static void put_link_common(struct nsf_rtnl_req *r, struct ifinfomsg *ifi,
                            const struct nsf_wire_req *q, int up,
                            unsigned int mtu, int master)
{
    if (up >= 0) {
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = up ? IFF_UP : 0;
    }
    if (mtu)
        nsf_rtnl_put_u32(r, IFLA_MTU, mtu);
    if (q->mac_len > 0)
        nsf_rtnl_put(r, IFLA_ADDRESS, q->mac, (size_t)q->mac_len);
    if (master >= 0)
        nsf_rtnl_put_u32(r, IFLA_MASTER, (uint32_t)master);
}

/* The kernel cannot set a veth peer up while it makes the pair (the peer
 * is configured before the two are tied: ENOTCONN), so veth request i
 * with up is followed by an RTM_NEWLINK that sets its peer up, in the
 * peer's namespace ns: right after the veth in the same datagram, or, in
 * another namespace, as the first request of that namespace's next
 * datagram (queued when the veth's datagram is answered; nothing else can
 * be pending there, since the veth involved it). */
static void send_peer_up(struct run *run, int i, int ns)
{
    const struct nsf_wire_req *q = &run->p->reqs[i];
    struct nsbuf *b = &run->b[ns];
    struct ifinfomsg *ifi;

    if (ensure_buf(run, ns) < 0) {
        fail_at(run, i, -ENOMEM, NSF_STEP_MALLOC);
        return;
    }
    if (b->r.n >= NSF_RTNL_BATCH_MAX - 1 || TX_SIZE - b->r.len < 1024)
        if (flush_ns(run, ns) < 0)
            return;
    ifi = begin(run, ns, TAG_PEER_UP(i), RTM_NEWLINK, NLM_F_ACK,
                sizeof(*ifi));
    if (!ifi) {
        fail_at(run, i, -EMSGSIZE, NSF_STEP_WIRE_REQUEST);
        return;
    }
    ifi->ifi_index = q->peer_index;
    if (!q->peer_index)
        nsf_rtnl_put_str(&b->r, IFLA_IFNAME, q->peer_name);
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = IFF_UP;
    /* The veth's own end gets its carrier from it. */
    if (q->ns != ns)
        b->touch[b->ntouch++] = q->ns;
}

/* A veth, dummy or bridge (one RTM_NEWLINK, echoed). */
static int send_create(struct run *run, int i)
{
    struct nsf_wire_req *q = &run->p->reqs[i];
    int ns = q->ns, peer = q->peer_ns < 0 ? ns : q->peer_ns;
    int master = -1, step = NSF_STEP_NONE, peer_fd = -1;
    struct nsbuf *b;
    struct ifinfomsg *ifi, *pifi;
    struct nlattr *info, *data, *pe;
    const char *kind = q->kind == NSF_WIRE_VETH    ? "veth"
                       : q->kind == NSF_WIRE_DUMMY ? "dummy"
                                                   : "bridge";

    if (q->master && q->master[0]) {
        master = need_index(run, i, ns, q->master);
        if (master <= 0)
            return -1;
    }
    if (q->kind == NSF_WIRE_VETH && peer != ns) {
        peer_fd = ns_fd_for(run, peer, &step);
        if (peer_fd < 0) {
            fail_at(run, i, peer_fd, step);
            return -1;
        }
    }
    if (make_room(run, ns, q->kind == NSF_WIRE_VETH ? peer : -1) < 0)
        return -1;
    b = &run->b[ns];
    ifi = begin(run, ns, i, RTM_NEWLINK,
                NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK | NLM_F_ECHO,
                sizeof(*ifi));
    if (!ifi)
        goto overflow;
    nsf_rtnl_put_str(&b->r, IFLA_IFNAME, q->name);
    put_link_common(&b->r, ifi, q, q->up ? 1 : -1, q->mtu, master);
    info = nsf_rtnl_nest_start(&b->r, IFLA_LINKINFO);
    nsf_rtnl_put_str(&b->r, IFLA_INFO_KIND, kind);
    if (q->kind == NSF_WIRE_VETH) {
        data = nsf_rtnl_nest_start(&b->r, IFLA_INFO_DATA);
        pe = nsf_rtnl_nest_start(&b->r, VETH_INFO_PEER);
        pifi = nsf_rtnl_reserve(&b->r, sizeof(*pifi));
        (void)pifi; /* zero: the peer is set up afterwards */
        nsf_rtnl_put_str(&b->r, IFLA_IFNAME, q->peer_name);
        if (q->mtu)
            nsf_rtnl_put_u32(&b->r, IFLA_MTU, q->mtu);
        if (q->peer_mac_len > 0)
            nsf_rtnl_put(&b->r, IFLA_ADDRESS, q->peer_mac,
                         (size_t)q->peer_mac_len);
        if (peer_fd >= 0)
            nsf_rtnl_put_u32(&b->r, IFLA_NET_NS_FD, (uint32_t)peer_fd);
        nsf_rtnl_nest_end(&b->r, pe);
        nsf_rtnl_nest_end(&b->r, data);
    }
    nsf_rtnl_nest_end(&b->r, info);
    if (b->r.overflow)
        goto overflow;
    if (q->kind == NSF_WIRE_VETH && q->up && peer == ns)
        send_peer_up(run, i, ns);
    return 0;
overflow:
    fail_at(run, i, -EMSGSIZE, NSF_STEP_WIRE_REQUEST);
    return -1;
}

/* A link changed, renamed, moved, deleted or read: by index when known
 * (a rename and a move with a new name need it), else by name. */
static int send_link(struct run *run, int i)
{
    struct nsf_wire_req *q = &run->p->reqs[i];
    int ns = q->ns, index = index_of(run, ns, q->name), master = -1;
    int type = RTM_NEWLINK, flags = NLM_F_ACK, peer = -1, fd = -1;
    int step = NSF_STEP_NONE;
    struct nsbuf *b;
    struct ifinfomsg *ifi;

    if (q->kind == NSF_WIRE_LINK_RENAME ||
        (q->kind == NSF_WIRE_LINK_MOVE && q->peer_name)) {
        if (!index && !(index = need_index(run, i, ns, q->name)))
            return -1;
    }
    if (q->kind == NSF_WIRE_LINK_SET && q->master) {
        if (q->master[0]) {
            master = need_index(run, i, ns, q->master);
            if (master <= 0)
                return -1;
        } else {
            master = 0;
        }
    }
    if (q->kind == NSF_WIRE_LINK_MOVE) {
        peer = q->peer_ns;
        fd = ns_fd_for(run, peer, &step);
        if (fd < 0) {
            fail_at(run, i, fd, step);
            return -1;
        }
    }
    if (q->kind == NSF_WIRE_LINK_DEL)
        type = RTM_DELLINK;
    if (q->kind == NSF_WIRE_LINK_GET) {
        type = RTM_GETLINK;
        flags = 0;
    }
    if (make_room(run, ns, peer) < 0)
        return -1;
    /* The index may have been learnt by what make_room sent. */
    if (!index)
        index = index_of(run, ns, q->name);
    b = &run->b[ns];
    ifi = begin(run, ns, i, type, flags, sizeof(*ifi));
    if (!ifi) {
        fail_at(run, i, -EMSGSIZE, NSF_STEP_WIRE_REQUEST);
        return -1;
    }
    q->index = index;
    ifi->ifi_index = index;
    if (!index)
        nsf_rtnl_put_str(&b->r, IFLA_IFNAME, q->name);
    switch (q->kind) {
    case NSF_WIRE_LINK_SET:
        put_link_common(&b->r, ifi, q, q->up, q->mtu, master);
        break;
    case NSF_WIRE_LINK_RENAME:
        nsf_rtnl_put_str(&b->r, IFLA_IFNAME, q->peer_name);
        break;
    case NSF_WIRE_LINK_MOVE:
        nsf_rtnl_put_u32(&b->r, IFLA_NET_NS_FD, (uint32_t)fd);
        if (q->peer_name)
            nsf_rtnl_put_str(&b->r, IFLA_IFNAME, q->peer_name);
        break;
    case NSF_WIRE_LINK_GET:
        nsf_rtnl_put_u32(&b->r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        break;
    default:
        break;
    }
    if (b->r.overflow) {
        fail_at(run, i, -EMSGSIZE, NSF_STEP_WIRE_REQUEST);
        return -1;
    }
    return 0;
}

static void put_addr(struct nsf_rtnl_req *r, struct ifaddrmsg *ifa,
                     const struct nsf_wire_req *q, int index)
{
    size_t len = addr_len(q->family);

    ifa->ifa_family = (unsigned char)q->family;
    ifa->ifa_prefixlen = (unsigned char)q->prefix;
    ifa->ifa_index = (unsigned)index;
    ifa->ifa_flags = (unsigned char)(q->flags & 0xff);
    nsf_rtnl_put(r, IFA_LOCAL, q->addr, len);
    nsf_rtnl_put(r, IFA_ADDRESS, q->addr, len);
}

static void put_route(struct nsf_rtnl_req *r, struct rtmsg *rtm,
                      const struct nsf_wire_req *q, int oif, int add)
{
    size_t len = addr_len(q->family);
    unsigned int table = q->table ? q->table : RT_TABLE_MAIN;

    rtm->rtm_family = (unsigned char)q->family;
    rtm->rtm_dst_len = (unsigned char)q->prefix;
    rtm->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
    if (add) {
        /* As ip route add: boot protocol, a unicast route, on-link scope
         * for an IPv4 route through a device only. */
        rtm->rtm_protocol = RTPROT_BOOT;
        rtm->rtm_type = RTN_UNICAST;
        rtm->rtm_scope = q->family == AF_INET && !q->has_gateway
                             ? RT_SCOPE_LINK
                             : RT_SCOPE_UNIVERSE;
    } else {
        rtm->rtm_scope = RT_SCOPE_NOWHERE;
    }
    if (table >= 256)
        nsf_rtnl_put_u32(r, RTA_TABLE, table);
    if (q->prefix > 0)
        nsf_rtnl_put(r, RTA_DST, q->addr, len);
    if (q->has_gateway)
        nsf_rtnl_put(r, RTA_GATEWAY, q->gateway, len);
    if (oif > 0)
        nsf_rtnl_put_u32(r, RTA_OIF, (uint32_t)oif);
    if (q->metric)
        nsf_rtnl_put_u32(r, RTA_PRIORITY, q->metric);
    if (q->has_src)
        nsf_rtnl_put(r, RTA_PREFSRC, q->src, len);
}

/* An address or a route added or removed. */
static int send_addr_route(struct run *run, int i)
{
    struct nsf_wire_req *q = &run->p->reqs[i];
    int ns = q->ns, index = 0, add;
    struct nsbuf *b;
    int route = q->kind == NSF_WIRE_ROUTE_ADD || q->kind == NSF_WIRE_ROUTE_DEL;

    if (q->name && !(index = need_index(run, i, ns, q->name)))
        return -1;
    if (make_room(run, ns, -1) < 0)
        return -1;
    b = &run->b[ns];
    q->index = index;
    add = q->kind == NSF_WIRE_ADDR_ADD || q->kind == NSF_WIRE_ROUTE_ADD;
    if (route) {
        struct rtmsg *rtm = begin(run, ns, i,
                                  add ? RTM_NEWROUTE : RTM_DELROUTE,
                                  NLM_F_ACK | (add ? NLM_F_CREATE |
                                                         NLM_F_EXCL
                                                   : 0),
                                  sizeof(*rtm));

        if (rtm)
            put_route(&b->r, rtm, q, index, add);
    } else {
        struct ifaddrmsg *ifa = begin(run, ns, i,
                                      add ? RTM_NEWADDR : RTM_DELADDR,
                                      NLM_F_ACK | (add ? NLM_F_CREATE |
                                                             NLM_F_EXCL
                                                       : 0),
                                      sizeof(*ifa));

        if (ifa) {
            put_addr(&b->r, ifa, q, index);
            if (add && q->flags > 0xff)
                nsf_rtnl_put_u32(&b->r, IFA_FLAGS, q->flags);
        }
    }
    if (b->r.overflow || b->r.n == 0) {
        fail_at(run, i, -EMSGSIZE, NSF_STEP_WIRE_REQUEST);
        return -1;
    }
    return 0;
}

/* -- sysctls ---------------------------------------------------------------- */

struct sysctls {
    struct run *run;
    int first; /* the requests first .. first + n - 1 */
};

static int sysctl_fd_of(void *arg, int k)
{
    struct sysctls *s = arg;
    struct nsf_wire_plan *p = s->run->p;

    return p->ns[p->reqs[s->first + k].ns].fd;
}

/* Open /proc/sys/NAME (in the namespace the thread is in), write the
 * value, read it back. */
static int sysctl_work(void *arg, int k, int *step)
{
    struct sysctls *s = arg;
    int i = s->first + k;
    struct nsf_wire_req *q = &s->run->p->reqs[i];
    char path[PATH_MAX];
    ssize_t n;
    int fd, rc = 0;

    if (nsf_join(path, "/proc/sys", q->name) < 0) {
        fail_at(s->run, i, -ENAMETOOLONG, NSF_STEP_WIRE_REQUEST);
        return nsf_set_step(step, NSF_STEP_WIRE_REQUEST, -ENAMETOOLONG);
    }
    fd = open(path, (q->value ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = nsf_fail(step, NSF_STEP_OPEN_SYSCTL);
        goto out;
    }
    if (q->value) {
        size_t len = strlen(q->value);

        do
            n = write(fd, q->value, len);
        while (n < 0 && errno == EINTR);
        if (n < 0 || (size_t)n != len) {
            rc = n < 0 ? nsf_fail(step, NSF_STEP_WRITE_SYSCTL)
                       : nsf_set_step(step, NSF_STEP_WRITE_SYSCTL, -EIO);
            goto out;
        }
    }
    q->out_len = 0;
    if (q->out && q->out_cap > 0) {
        do
            n = pread(fd, q->out, (size_t)q->out_cap - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            rc = nsf_fail(step, NSF_STEP_READ_SYSCTL);
            goto out;
        }
        q->out[n] = 0;
        q->out_len = (int)n;
    }
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        fail_at(s->run, i, rc, *step);
    return rc;
}

/* Requests first .. first + n - 1 (sysctls), on one helper. */
static int run_sysctls(struct run *run, int first, int n)
{
    struct sysctls s = {run, first};
    struct inside in = {sysctl_fd_of, sysctl_work, &s, n, -1, 0, 0};
    int step = NSF_STEP_NONE, rc;

    rc = run_inside(&in, run->p->flags & NSF_WIRE_OWN_THREAD, &step);
    if (rc < 0 && !failed(run))
        fail_at(run, first, rc, step);
    return failed(run) ? -1 : 0;
}

/* -- waiting for a link ---------------------------------------------------- */

static int is_up(const struct nsf_wire_link *l)
{
    return (l->flags & IFF_UP) && (l->flags & IFF_LOWER_UP) &&
           (l->operstate == OPER_UP || l->operstate == OPER_UNKNOWN);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct waiting {
    int index;
    int state; /* 0 waiting, 1 up, -ENODEV gone */
    struct nsf_wire_link rec;
};

static int on_link_event(void *arg, int i, const struct nlmsghdr *h)
{
    struct waiting *w = arg;
    struct nsf_wire_link rec;

    (void)i;
    if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) ||
        parse_link(h, &rec) < 0 || rec.index != w->index)
        return 0;
    if (h->nlmsg_type == RTM_DELLINK) {
        w->state = -ENODEV;
        return 0;
    }
    w->rec = rec;
    if (is_up(&rec))
        w->state = 1;
    return 0;
}

static int on_link_reply(void *arg, int i, const struct nlmsghdr *h)
{
    struct waiting *w = arg;

    (void)i;
    if (h->nlmsg_type == NLMSG_ERROR) {
        int err = nsf_rtnl_error(h);

        if (err < 0)
            w->state = err;
    } else if (h->nlmsg_type == RTM_NEWLINK &&
               parse_link(h, &w->rec) == 0) {
        w->index = w->rec.index;
        w->state = is_up(&w->rec) ? 1 : 0;
    }
    return 0;
}

/* Read the link (by index, else name) into w. */
static int get_link(struct nsf_rtnl *nl, struct waiting *w, const char *name,
                    int *step)
{
    char buf[256] __attribute__((aligned(4)));
    struct nsf_rtnl_req r;
    struct ifinfomsg *ifi;
    int rc;

    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    ifi = nsf_rtnl_msg(&r, nl, RTM_GETLINK, 0, sizeof(*ifi));
    if (!ifi)
        return nsf_set_step(step, NSF_STEP_WIRE_REQUEST, -EMSGSIZE);
    ifi->ifi_index = w->index;
    if (!w->index)
        nsf_rtnl_put_str(&r, IFLA_IFNAME, name);
    nsf_rtnl_put_u32(&r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    rc = nsf_rtnl_exchange(nl, &r, on_link_reply, w, step);
    if (rc > 0)
        return nsf_set_step(step, NSF_STEP_RECV_NETLINK, -ENOBUFS);
    return rc;
}

/* Wait for request i's link in ns's socket: listen to RTNLGRP_LINK, read
 * the link, then take events until it is up, gone, or time is out; stop
 * listening and drop what is still queued. */
static int wait_up(struct run *run, int i)
{
    struct nsf_wire_req *q = &run->p->reqs[i];
    struct nsbuf *b = &run->b[q->ns];
    struct nsf_wire_ns *w = &run->p->ns[q->ns];
    struct waiting st = {index_of(run, q->ns, q->name), 0, {0}};
    long long deadline = now_ms() + (q->timeout_ms > 0 ? q->timeout_ms : 0);
    int rc, n, step = NSF_STEP_NONE, again = 1, s2 = NSF_STEP_NONE;
    struct pollfd pfd = {b->nl.fd, POLLIN, 0};

    rc = nsf_rtnl_listen(&b->nl, RTNLGRP_LINK, 1, &step);
    while (rc == 0 && st.state == 0) {
        long long left;

        if (again) {
            again = 0;
            rc = get_link(&b->nl, &st, q->name, &step);
            if (rc < 0 || st.state != 0)
                break;
        }
        left = deadline - now_ms();
        if (left <= 0) {
            rc = nsf_set_step(&step, NSF_STEP_WAIT_LINK, -ETIMEDOUT);
            break;
        }
        n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno != EINTR) {
            rc = nsf_fail(&step, NSF_STEP_POLL);
            break;
        }
        if (n <= 0)
            continue;
        n = nsf_rtnl_recv(&b->nl, MSG_DONTWAIT, &step);
        if (n == -ENOBUFS) {
            again = 1; /* events were lost: read the link again */
            continue;
        }
        if (n == -EAGAIN)
            continue;
        if (n < 0) {
            rc = n;
            break;
        }
        nsf_rtnl_walk(b->nl.rx, (size_t)n, on_link_event, &st);
    }
    nsf_rtnl_listen(&b->nl, RTNLGRP_LINK, 0, &s2);
    do /* drop the events still queued */
        n = nsf_rtnl_recv(&b->nl, MSG_DONTWAIT, &s2);
    while (n > 0 || n == -ENOBUFS);
    w->seq = b->nl.seq;
    if (rc == 0 && st.state < 0)
        rc = nsf_set_step(&step, NSF_STEP_WAIT_LINK, st.state);
    if (rc < 0) {
        fail_at(run, i, rc, step);
        return -1;
    }
    q->index = st.index;
    if (q->link)
        *q->link = st.rec;
    return 0;
}

/* -- undo -------------------------------------------------------------------- */

/* Remove what the plan made, newest first (errors are ignored: what is
 * already gone is gone). */
static void undo_all(struct run *run)
{
    struct nsf_wire_plan *p = run->p;
    int u;

    run->undoing = 1;
    for (u = run->nundo - 1; u >= 0; u--) {
        struct undo *un = &run->undo[u];
        struct nsf_wire_req *q = &p->reqs[un->op];
        struct nsbuf *b = &run->b[un->ns];

        if (un->gone || ensure_buf(run, un->ns) < 0)
            continue;
        if (b->r.n >= NSF_RTNL_BATCH_MAX - 1 || TX_SIZE - b->r.len < 1024)
            flush_ns(run, un->ns);
        switch (q->kind) {
        case NSF_WIRE_ADDR_ADD: {
            struct ifaddrmsg *ifa = begin(run, un->ns, TAG_UNDO, RTM_DELADDR,
                                          NLM_F_ACK, sizeof(*ifa));

            if (ifa)
                put_addr(&b->r, ifa, q, q->index);
            break;
        }
        case NSF_WIRE_ROUTE_ADD: {
            struct rtmsg *rtm = begin(run, un->ns, TAG_UNDO, RTM_DELROUTE,
                                      NLM_F_ACK, sizeof(*rtm));

            if (rtm)
                put_route(&b->r, rtm, q, q->index, 0);
            break;
        }
        default: { /* a link made */
            struct ifinfomsg *ifi = begin(run, un->ns, TAG_UNDO, RTM_DELLINK,
                                          NLM_F_ACK, sizeof(*ifi));

            if (!ifi)
                break;
            ifi->ifi_index = un->index;
            if (!un->index)
                nsf_rtnl_put_str(&b->r, IFLA_IFNAME, un->name);
        }
        }
    }
    for (u = 0; u < p->nns; u++)
        flush_ns(run, u);
    p->undone = 1;
}

/* -- the plan ---------------------------------------------------------------- */

/* Whether request q is well formed (names present and short enough,
 * namespaces in the table, an address family and prefix that fit). */
static int check_req(const struct nsf_wire_plan *p,
                     const struct nsf_wire_req *q)
{
    int route = q->kind == NSF_WIRE_ROUTE_ADD || q->kind == NSF_WIRE_ROUTE_DEL;
    int addr = q->kind == NSF_WIRE_ADDR_ADD || q->kind == NSF_WIRE_ADDR_DEL;

    if (!kind_ok(q->kind) || q->ns < 0 || q->ns >= p->nns ||
        q->peer_ns < -1 || q->peer_ns >= p->nns ||
        (q->kind == NSF_WIRE_LINK_MOVE && q->peer_ns < 0))
        return -EINVAL;
    if (!q->name ? !route : !q->name[0])
        return -EINVAL;
    if (q->kind == NSF_WIRE_SYSCTL)
        return 0;
    if ((q->name && strlen(q->name) >= IFNAMSIZ) ||
        (q->peer_name && strlen(q->peer_name) >= IFNAMSIZ) ||
        (q->master && strlen(q->master) >= IFNAMSIZ) ||
        q->mac_len < 0 || q->mac_len > NSF_WIRE_MAC_MAX ||
        q->peer_mac_len < 0 || q->peer_mac_len > NSF_WIRE_MAC_MAX)
        return -EINVAL;
    if ((q->kind == NSF_WIRE_VETH || q->kind == NSF_WIRE_LINK_RENAME) &&
        (!q->peer_name || !q->peer_name[0]))
        return -EINVAL;
    if ((route || addr) &&
        ((q->family != AF_INET && q->family != AF_INET6) || q->prefix < 0 ||
         q->prefix > (int)addr_len(q->family) * 8))
        return -EINVAL;
    return 0;
}

static int send_req(struct run *run, int i)
{
    switch (run->p->reqs[i].kind) {
    case NSF_WIRE_VETH:
    case NSF_WIRE_DUMMY:
    case NSF_WIRE_BRIDGE:
        return send_create(run, i);
    case NSF_WIRE_ADDR_ADD:
    case NSF_WIRE_ADDR_DEL:
    case NSF_WIRE_ROUTE_ADD:
    case NSF_WIRE_ROUTE_DEL:
        return send_addr_route(run, i);
    default:
        return send_link(run, i);
    }
}

static int run_reqs(struct run *run)
{
    struct nsf_wire_plan *p = run->p;
    int i, n;

    for (i = 0; i < p->nreqs && !failed(run); i++) {
        struct nsf_wire_req *q = &p->reqs[i];

        if (q->kind == NSF_WIRE_SYSCTL) {
            for (n = 1; i + n < p->nreqs &&
                        p->reqs[i + n].kind == NSF_WIRE_SYSCTL;
                 n++)
                ;
            for (int k = 0; k < n; k++)
                if (flush_involving(run, p->reqs[i + k].ns, -1) < 0)
                    return -1;
            if (run_sysctls(run, i, n) < 0)
                return -1;
            i += n - 1;
        } else if (q->kind == NSF_WIRE_WAIT_UP) {
            if (flush_involving(run, q->ns, -1) < 0 || wait_up(run, i) < 0)
                return -1;
        } else if (send_req(run, i) < 0) {
            if (!failed(run))
                fail_at(run, i, -ENOMEM, NSF_STEP_MALLOC);
            return -1;
        }
    }
    return flush_all(run);
}

static int alloc_run(struct run *run, struct nsf_wire_plan *p)
{
    int i;

    memset(run, 0, sizeof(*run));
    run->p = p;
    run->self_fd = -1;
    run->b = calloc((size_t)p->nns, sizeof(*run->b));
    run->todo = calloc((size_t)p->nns, sizeof(*run->todo));
    run->rx = malloc((size_t)RX_SLOTS * RX_SLOT);
    run->undo = calloc((size_t)p->nreqs + 1, sizeof(*run->undo));
    if (!run->b || !run->todo || !run->rx || !run->undo)
        return -ENOMEM;
    for (i = 0; i < p->nns; i++)
        nsf_rtnl_attach(&run->b[i].nl, p->ns[i].rtnl, p->ns[i].seq, run->rx,
                        RX_SLOT, RX_SLOTS);
    return 0;
}

static void free_run(struct run *run)
{
    int i;

    if (run->b)
        for (i = 0; i < run->p->nns; i++) {
            free(run->b[i].tx);
            free(run->b[i].touch);
        }
    if (run->self_fd >= 0)
        close(run->self_fd);
    free(run->b);
    free(run->todo);
    free(run->rx);
    free(run->known);
    free(run->undo);
}

int nsf_wire_run(struct nsf_wire_plan *p, int *step)
{
    struct run run;
    int i, rc;

    p->rc = 0;
    p->step = NSF_STEP_NONE;
    p->failed = -1;
    p->undone = 0;
    p->sends = 0;
    p->msg[0] = 0;
    *step = NSF_STEP_NONE;
    if (p->nns < 0 || p->nreqs < 0 || (p->nns && !p->ns) ||
        (p->nreqs && !p->reqs))
        return p->rc = nsf_set_step(step, NSF_STEP_WIRE_REQUEST, -EINVAL);
    for (i = 0; i < p->nreqs; i++) {
        struct nsf_wire_req *q = &p->reqs[i];

        q->index = q->peer_index = q->out_len = 0;
        if (check_req(p, q) < 0) {
            p->failed = i;
            p->step = NSF_STEP_WIRE_REQUEST;
            return p->rc = nsf_set_step(step, NSF_STEP_WIRE_REQUEST,
                                        -EINVAL);
        }
    }
    if (p->nreqs == 0)
        return 0;
    rc = open_sockets(p->ns, p->nns, p->flags & NSF_WIRE_OWN_THREAD, step);
    if (rc < 0) {
        p->step = *step;
        return p->rc = rc;
    }
    rc = alloc_run(&run, p);
    if (rc < 0) {
        free_run(&run);
        p->step = *step = NSF_STEP_MALLOC;
        return p->rc = rc;
    }
    if (run_reqs(&run) < 0 && !(p->flags & NSF_WIRE_KEEP))
        undo_all(&run);
    free_run(&run);
    *step = p->step;
    return p->rc;
}

/* -- the veth pair of Netns.veth -------------------------------------------- */

static void pair_addr(struct nsf_wire_req *q, int ns, struct nsf_wire_end *e)
{
    q->kind = NSF_WIRE_ADDR_ADD;
    q->ns = ns;
    q->peer_ns = -1;
    q->name = e->name;
    q->family = e->family;
    q->prefix = e->prefix;
    q->flags = e->flags;
    memcpy(q->addr, e->addr, sizeof(q->addr));
}

static void pair_read(struct nsf_wire_req *q, int ns, struct nsf_wire_end *e)
{
    q->kind = NSF_WIRE_LINK_GET;
    q->ns = ns;
    q->peer_ns = -1;
    q->name = e->name;
    q->link = &e->link;
}

int nsf_wire_pair_reqs(struct nsf_wire_pair *pair, struct nsf_wire_req *reqs)
{
    /* The peer's end first: its datagram then also carries its "up", and
     * this end's read sees the carrier (three sends in all). */
    struct nsf_wire_req *q = reqs;
    struct nsf_wire_end *a = &pair->end[0], *b = &pair->end[1];
    int peer = pair->plan.nns - 1;

    if (a->mac_len < 0 || a->mac_len > NSF_WIRE_MAC_MAX || b->mac_len < 0 ||
        b->mac_len > NSF_WIRE_MAC_MAX || peer < 0 || peer > 1)
        return -EINVAL;
    memset(reqs, 0, NSF_WIRE_PAIR_REQS * sizeof(*reqs));
    a->name[NSF_WIRE_NAME_MAX - 1] = b->name[NSF_WIRE_NAME_MAX - 1] = 0;
    q->kind = NSF_WIRE_VETH;
    q->peer_ns = peer;
    q->name = a->name;
    q->peer_name = b->name;
    q->up = pair->up;
    q->mtu = pair->mtu;
    q->mac_len = a->mac_len;
    memcpy(q->mac, a->mac, (size_t)a->mac_len);
    q->peer_mac_len = b->mac_len;
    memcpy(q->peer_mac, b->mac, (size_t)b->mac_len);
    q++;
    if (b->family)
        pair_addr(q++, peer, b);
    pair_read(q++, peer, b);
    if (a->family)
        pair_addr(q++, 0, a);
    pair_read(q++, 0, a);
    return (int)(q - reqs);
}

int nsf_wire_pair(struct nsf_wire_pair *pair, int *step)
{
    struct nsf_wire_req reqs[NSF_WIRE_PAIR_REQS];
    int n = nsf_wire_pair_reqs(pair, reqs), rc;

    if (n < 0) {
        pair->plan.failed = -1;
        pair->plan.step = NSF_STEP_WIRE_REQUEST;
        return pair->plan.rc = nsf_set_step(step, NSF_STEP_WIRE_REQUEST, n);
    }
    pair->plan.ns = pair->ns;
    pair->plan.reqs = reqs;
    pair->plan.nreqs = n;
    rc = nsf_wire_run(&pair->plan, step);
    pair->plan.reqs = NULL; /* they lived on this stack */
    pair->plan.ns = NULL;
    return rc;
}

/* -- a topology in one call (Topology.build) ------------------------------- */

static void close_nodes(struct nsf_wire_ns *ns, int n)
{
    int k;

    for (k = 0; k < n; k++) {
        if (ns[k].rtnl >= 0)
            close(ns[k].rtnl);
        if (ns[k].fd >= 0)
            close(ns[k].fd);
        ns[k].fd = ns[k].rtnl = -1;
    }
}

int nsf_wire_build(struct nsf_wire_build *b, int *step)
{
    struct nsf_wire_plan *p = &b->plan;
    int k, i, rc;

    memset(p, 0, sizeof(*p));
    p->failed = -1;
    *step = NSF_STEP_NONE;
    if (b->nodes <= 0 || b->nreqs < 0 || !b->ns || !b->inos ||
        (b->nreqs && (!b->tmpl || !b->reqs))) {
        p->step = NSF_STEP_WIRE_REQUEST;
        return p->rc = nsf_set_step(step, NSF_STEP_WIRE_REQUEST, -EINVAL);
    }
    for (k = 0; k < b->nodes; k++)
        b->ns[k].fd = b->ns[k].rtnl = -1;
    for (k = 0; k < b->nodes; k++) {
        b->ns[k].seq = 0;
        b->ns[k].fd = nsf_wire_anon_new(b->flags, &b->inos[k],
                                        &b->ns[k].rtnl, step);
        if (b->ns[k].fd < 0) {
            rc = b->ns[k].fd;
            b->ns[k].fd = -1;
            p->step = *step;
            close_nodes(b->ns, k);
            return p->rc = rc;
        }
    }
    if (b->nreqs == 0)
        return 0;
    memcpy(b->reqs, b->tmpl, (size_t)b->nreqs * sizeof(*b->reqs));
    for (i = 0; i < b->nreqs; i++) {
        b->reqs[i].link = NULL; /* no read-back: the template's buffers */
        b->reqs[i].out = NULL;  /* are shared by concurrent builds */
        b->reqs[i].out_cap = 0;
    }
    p->ns = b->ns;
    p->nns = b->nodes;
    p->reqs = b->reqs;
    p->nreqs = b->nreqs;
    /* On failure the namespaces go, and all in them: no undo. */
    p->flags = NSF_WIRE_KEEP;
    rc = nsf_wire_run(p, step);
    p->ns = NULL;
    p->reqs = NULL;
    if (rc < 0)
        close_nodes(b->ns, b->nodes);
    return rc;
}

/* -- plans on C threads ------------------------------------------------------ */

struct many {
    struct nsf_wire_plan *plans;
    int n;
    int next; /* the next plan to take (atomic) */
};

/* Take plans until none is left. The worker is a thread of ours: it may
 * move (NSF_WIRE_OWN_THREAD), and stops when it could not come back. */
static void run_plans(struct many *m, int own)
{
    int i, step;

    while ((i = __atomic_fetch_add(&m->next, 1, __ATOMIC_RELAXED)) < m->n) {
        struct nsf_wire_plan *p = &m->plans[i];
        int flags = p->flags;

        if (own)
            p->flags |= NSF_WIRE_OWN_THREAD;
        nsf_wire_run(p, &step);
        p->flags = flags;
        if (own && (step == NSF_STEP_RESTORE_NET ||
                    step == NSF_STEP_VERIFY_NET))
            return;
    }
}

static void *many_worker(void *arg)
{
    run_plans(arg, 1);
    return NULL;
}

static int cpus(void)
{
    cpu_set_t set;
    int n;

    if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
        (n = CPU_COUNT(&set)) > 0)
        return n;
    n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

int nsf_wire_run_many(struct nsf_wire_plan *plans, int n, int nthreads,
                      int *step)
{
    struct many m = {plans, n, 0};
    pthread_t *t;
    sigset_t all, old;
    int i, started = 0, rc = 0;

    *step = NSF_STEP_NONE;
    if (n <= 0)
        return 0;
    if (nthreads <= 0)
        nthreads = cpus();
    if (nthreads > n)
        nthreads = n;
    t = malloc(sizeof(*t) * (size_t)nthreads);
    if (t) {
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (i = 0; i < nthreads; i++) {
            rc = pthread_create(&t[started], NULL, many_worker, &m);
            if (rc != 0)
                break;
            started++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    for (i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    /* What no worker took (none started, or one could not come back). */
    run_plans(&m, 0);
    if (started == 0)
        return nsf_set_step(step, t ? NSF_STEP_PTHREAD_CREATE : NSF_STEP_MALLOC,
                            t ? -rc : -ENOMEM);
    return 0;
}

/* -- dumps ------------------------------------------------------------------ */

struct dump {
    int type;
    void *out;
    int cap, n, err;
};

static int on_dumped(void *arg, int i, const struct nlmsghdr *h)
{
    struct dump *d = arg;
    int rc;

    (void)i;
    if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) {
        /* A dump that failed part-way says so in its NLMSG_DONE. */
        if (h->nlmsg_type == NLMSG_ERROR)
            rc = nsf_rtnl_error(h);
        else if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
            memcpy(&rc, NLMSG_DATA(h), sizeof(rc));
        else
            rc = 0;
        if (rc < 0 && !d->err)
            d->err = rc;
        return 0;
    }
    if (h->nlmsg_type != d->type)
        return 0;
    if (d->n < d->cap) {
        if (d->type == RTM_NEWLINK)
            rc = parse_link(h, (struct nsf_wire_link *)d->out + d->n);
        else if (d->type == RTM_NEWADDR)
            rc = parse_addr(h, (struct nsf_wire_addr *)d->out + d->n);
        else
            rc = parse_route(h, (struct nsf_wire_route *)d->out + d->n);
        if (rc < 0)
            return 0;
    }
    d->n++;
    return 0;
}

/* The dump of type (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE) into out. */
static int dump(struct nsf_wire_ns *ns, int type, int family, void *out,
                int cap, int *step)
{
    struct dump d = {type + RTM_NEWLINK - RTM_GETLINK, out, cap, 0, 0};
    char buf[256] __attribute__((aligned(4)));
    struct nsf_rtnl nl;
    struct nsf_rtnl_req r;
    char *rx;
    void *hdr;
    size_t hdr_len = type == RTM_GETLINK  ? sizeof(struct ifinfomsg)
                     : type == RTM_GETADDR ? sizeof(struct ifaddrmsg)
                                           : sizeof(struct rtmsg);
    int rc;

    *step = NSF_STEP_NONE;
    if (ns->rtnl < 0 && (rc = open_sockets(ns, 1, 0, step)) < 0)
        return rc;
    rx = malloc((size_t)RX_SLOTS * RX_SLOT);
    if (!rx)
        return nsf_set_step(step, NSF_STEP_MALLOC, -ENOMEM);
    nsf_rtnl_attach(&nl, ns->rtnl, ns->seq, rx, RX_SLOT, RX_SLOTS);
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    hdr = nsf_rtnl_msg(&r, &nl, type, NLM_F_DUMP, hdr_len);
    /* The family is the first byte of each of these headers. */
    if (hdr)
        *(unsigned char *)hdr = (unsigned char)family;
    if (type == RTM_GETLINK)
        nsf_rtnl_put_u32(&r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    rc = nsf_rtnl_exchange(&nl, &r, on_dumped, &d, step);
    ns->seq = nl.seq;
    free(rx);
    if (rc > 0)
        rc = nsf_set_step(step, NSF_STEP_RECV_NETLINK, -ENOBUFS);
    if (rc == 0 && d.err < 0)
        rc = type == RTM_GETLINK   ? nsf_set_step(step, NSF_STEP_RTM_GETLINK,
                                                  d.err)
             : type == RTM_GETADDR ? nsf_set_step(step, NSF_STEP_RTM_GETADDR,
                                                  d.err)
                                   : nsf_set_step(step, NSF_STEP_RTM_GETROUTE,
                                                  d.err);
    return rc < 0 ? rc : d.n;
}

int nsf_wire_links(struct nsf_wire_ns *ns, struct nsf_wire_link *out,
                   int cap, int *step)
{
    return dump(ns, RTM_GETLINK, AF_UNSPEC, out, cap, step);
}

int nsf_wire_addrs(struct nsf_wire_ns *ns, int family,
                   struct nsf_wire_addr *out, int cap, int *step)
{
    return dump(ns, RTM_GETADDR, family, out, cap, step);
}

int nsf_wire_routes(struct nsf_wire_ns *ns, int family,
                    struct nsf_wire_route *out, int cap, int *step)
{
    return dump(ns, RTM_GETROUTE, family, out, cap, step);
}
