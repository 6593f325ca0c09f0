/* Drives the rtnetlink codec (csrc/rtnl.c) under the sanitizers: requests
 * encoded byte for byte (attributes, nests, a family header inside a nest,
 * overflow), attributes walked (and malformed ones refused), extended acks
 * parsed from hand-made errors, and then, against a real socket in a
 * network namespace the driver makes for itself (unshare), one datagram of
 * requests whose acks come back matched by sequence number (a veth pair
 * made with nested IFLA_LINKINFO / VETH_INFO_PEER, an unknown link kind
 * refused with the kernel's text, addresses, a duplicate one, loopback
 * up), a full batch, dumps, a plain GET, RTNLGRP_LINK events, a callback
 * that stops, and a receive buffer too small. Prints "rtnl_driver: ok".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "steps.h"
#include "rtnl.h"

#define SLOT 32768

static char rx[4][SLOT] __attribute__((aligned(4)));
static char evt_rx[SLOT] __attribute__((aligned(4)));

/* -- encoding ------------------------------------------------------------- */

static void encoding(void)
{
    char buf[256] __attribute__((aligned(4)));
    struct nsf_rtnl nl = {-1, 0, NULL, 0, 1};
    struct nsf_rtnl_req r;
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    struct ifinfomsg *ifi, *inner;
    struct nlattr *outer, *data, *peer, *a;
    int i, step = 0;

    memset(buf, 0xa5, sizeof(buf));
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    ifi = nsf_rtnl_msg(&r, &nl, RTM_NEWLINK, NLM_F_ACK, sizeof(*ifi));
    CHECK(ifi == NLMSG_DATA(h));
    CHECK(h->nlmsg_type == RTM_NEWLINK);
    CHECK(h->nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK));
    CHECK(h->nlmsg_seq == 1 && r.first == 1 && r.n == 1);
    CHECK(ifi->ifi_family == 0 && ifi->ifi_index == 0 && ifi->ifi_flags == 0);
    CHECK(h->nlmsg_len == NLMSG_LENGTH(sizeof(*ifi)));
    /* "ab" + NUL is 3 bytes: an attribute of 7, padded to 8. */
    CHECK(nsf_rtnl_put_str(&r, IFLA_IFNAME, "ab") == 0);
    a = (struct nlattr *)((char *)ifi + sizeof(*ifi));
    CHECK(a->nla_type == IFLA_IFNAME && a->nla_len == NLA_HDRLEN + 3);
    CHECK(memcmp(nsf_rtnl_data(a), "ab", 3) == 0);
    CHECK(((char *)nsf_rtnl_data(a))[3] == 0); /* padding zeroed */
    CHECK(h->nlmsg_len == NLMSG_LENGTH(sizeof(*ifi)) + 8);
    outer = nsf_rtnl_nest_start(&r, IFLA_LINKINFO);
    CHECK(nsf_rtnl_put_str(&r, IFLA_INFO_KIND, "veth") == 0);
    data = nsf_rtnl_nest_start(&r, IFLA_INFO_DATA | NLA_F_NESTED);
    peer = nsf_rtnl_nest_start(&r, VETH_INFO_PEER);
    inner = nsf_rtnl_reserve(&r, sizeof(*inner));
    CHECK(inner && inner->ifi_index == 0);
    CHECK(nsf_rtnl_put_u32(&r, IFLA_MTU, 1400) == 0);
    nsf_rtnl_nest_end(&r, peer);
    nsf_rtnl_nest_end(&r, data);
    nsf_rtnl_nest_end(&r, outer);
    CHECK(peer->nla_len == NLA_HDRLEN + sizeof(*inner) + 8);
    CHECK(data->nla_len == NLA_HDRLEN + peer->nla_len);
    CHECK(data->nla_type == (IFLA_INFO_DATA | NLA_F_NESTED));
    CHECK(outer->nla_len == NLA_HDRLEN + 12 + data->nla_len);
    CHECK(r.len == h->nlmsg_len && !r.overflow);

    /* Walk it back: the nests, the header inside one, the u32. */
    {
        const struct nlattr *info, *d, *p;
        const char *in;
        uint32_t mtu = 0;

        info = nsf_rtnl_attr(h, sizeof(*ifi), IFLA_LINKINFO);
        CHECK(info == outer);
        d = nsf_rtnl_find(nsf_rtnl_data(info), nsf_rtnl_len(info),
                          IFLA_INFO_DATA); /* NLA_F_NESTED masked off */
        CHECK(d == data);
        p = nsf_rtnl_find(nsf_rtnl_data(d), nsf_rtnl_len(d), VETH_INFO_PEER);
        CHECK(p == peer);
        in = (const char *)nsf_rtnl_data(p) + sizeof(*inner);
        CHECK(nsf_rtnl_u32(nsf_rtnl_find(in, nsf_rtnl_len(p) - sizeof(*inner),
                                         IFLA_MTU),
                           &mtu) == 0);
        CHECK(mtu == 1400);
    }
    CHECK(nsf_rtnl_attr(h, sizeof(*ifi), IFLA_MTU) == NULL); /* nested */

    /* A second message follows at an aligned offset, the next seq. */
    CHECK(nsf_rtnl_msg(&r, &nl, RTM_GETLINK, NLM_F_DUMP,
                       sizeof(struct rtgenmsg)) != NULL);
    h = (struct nlmsghdr *)(buf + NLMSG_ALIGN(h->nlmsg_len));
    CHECK(h->nlmsg_seq == 2 && r.n == 2);
    /* The family header is padded to 4: attributes would follow there. */
    CHECK(h->nlmsg_len == NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct rtgenmsg))));
    CHECK(r.len == (size_t)((char *)h - buf) + NLMSG_ALIGN(h->nlmsg_len));

    /* What does not fit: refused, flagged, and never sent. */
    CHECK(nsf_rtnl_put(&r, IFLA_IFALIAS, buf, 200) == -EMSGSIZE);
    CHECK(r.overflow);
    CHECK(nsf_rtnl_exchange(&nl, &r, NULL, NULL, &step) == -EMSGSIZE);
    CHECK(step == NSF_STEP_SEND_NETLINK);

    /* No more than NSF_RTNL_BATCH_MAX messages in one request. */
    {
        static char big[NSF_RTNL_BATCH_MAX * 64 + 64]
            __attribute__((aligned(4)));

        nsf_rtnl_req_init(&r, big, sizeof(big));
        for (i = 0; i < NSF_RTNL_BATCH_MAX; i++)
            CHECK(nsf_rtnl_msg(&r, &nl, RTM_GETLINK, 0, 16) != NULL);
        CHECK(!r.overflow);
        CHECK(nsf_rtnl_msg(&r, &nl, RTM_GETLINK, 0, 16) == NULL);
        CHECK(r.overflow);
    }
    /* A batch never wraps its numbers through 0 (that of events). */
    nl.seq = UINT32_MAX - 3;
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    CHECK(nsf_rtnl_msg(&r, &nl, RTM_GETLINK, 0, 16) != NULL);
    CHECK(r.first == 1 && nl.seq == 1);
}

/* -- decoding ------------------------------------------------------------- */

static void put_attr(char *at, int type, int len)
{
    struct nlattr *a = (struct nlattr *)at;

    a->nla_type = (uint16_t)type;
    a->nla_len = (uint16_t)len;
}

static void decoding(void)
{
    char attrs[64] __attribute__((aligned(4)));
    const struct nlattr *a;
    uint32_t v;
    int n = 0;

    memset(attrs, 0, sizeof(attrs));
    put_attr(attrs, 1, 8);
    put_attr(attrs + 8, 2 | NLA_F_NESTED, 6); /* padded to 8 */
    put_attr(attrs + 16, 3, 2);               /* shorter than a header */
    for (a = NULL; (a = nsf_rtnl_next(attrs, 24, a));)
        n++;
    CHECK(n == 2); /* the malformed one ends the walk */
    CHECK(nsf_rtnl_find(attrs, 24, 2) == (void *)(attrs + 8));
    CHECK(nsf_rtnl_find(attrs, 24, 3) == NULL);
    CHECK(nsf_rtnl_find(attrs, 7, 1) == NULL); /* cut: no whole header */
    put_attr(attrs + 16, 4, 40);               /* longer than what is left */
    CHECK(nsf_rtnl_find(attrs, 24, 4) == NULL);
    CHECK(nsf_rtnl_u32(NULL, &v) == -EBADMSG);
    CHECK(nsf_rtnl_u32((void *)(attrs + 8), &v) == -EBADMSG); /* 2 bytes */
    memcpy(attrs + 4, "\x2a\0\0\0", 4);
    CHECK(nsf_rtnl_u32((void *)attrs, &v) == 0 && v == 42);
}

/* An NLMSG_ERROR into buf: err, the echoed request (echo bytes of it
 * unless capped), then an NLMSGERR_ATTR_MSG with text (or none). */
static struct nlmsghdr *make_error(char *buf, int err, int capped,
                                   size_t echo, const char *text)
{
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    struct nlmsgerr *e = NLMSG_DATA(h);
    size_t len = NLMSG_LENGTH(sizeof(*e));

    memset(buf, 0, 1024);
    h->nlmsg_type = NLMSG_ERROR;
    e->error = err;
    e->msg.nlmsg_len = (uint32_t)(sizeof(struct nlmsghdr) + echo);
    if (!capped)
        len += NLMSG_ALIGN(echo);
    else
        h->nlmsg_flags |= NLM_F_CAPPED;
    if (text) {
        h->nlmsg_flags |= NLM_F_ACK_TLVS;
        put_attr(buf + len, 1, (int)(NLA_HDRLEN + strlen(text) + 1));
        strcpy(buf + len + NLA_HDRLEN, text);
        len += NLA_ALIGN(NLA_HDRLEN + strlen(text) + 1);
    }
    h->nlmsg_len = (uint32_t)len;
    return h;
}

static void ext_acks(void)
{
    char buf[1024] __attribute__((aligned(4)));
    struct nlmsghdr *h;
    const char *text;
    size_t len;

    h = make_error(buf, -EEXIST, 1, 40, "Peer netns already has a nsid");
    CHECK(nsf_rtnl_error(h) == -EEXIST);
    text = nsf_rtnl_ext_ack(h, &len);
    CHECK(text && len == strlen("Peer netns already has a nsid"));
    CHECK(memcmp(text, "Peer netns already has a nsid", len) == 0);
    /* Not capped: the echoed request (40 bytes) comes first. */
    h = make_error(buf, -EINVAL, 0, 40, "Invalid");
    text = nsf_rtnl_ext_ack(h, &len);
    CHECK(text && len == 7 && memcmp(text, "Invalid", 7) == 0);
    /* No TLVs: no text. An ack: error 0. */
    h = make_error(buf, 0, 1, 0, NULL);
    CHECK(nsf_rtnl_error(h) == 0);
    CHECK(nsf_rtnl_ext_ack(h, &len) == NULL && len == 0);
    /* Too short to hold an error. */
    h->nlmsg_len = NLMSG_HDRLEN;
    CHECK(nsf_rtnl_error(h) == -EBADMSG);
    CHECK(nsf_rtnl_ext_ack(h, &len) == NULL);
}

/* -- against the kernel --------------------------------------------------- */

#define MAX_ANSWERS NSF_RTNL_BATCH_MAX

/* What each request of an exchange was answered with. */
struct answers {
    int error[MAX_ANSWERS];
    int acked[MAX_ANSWERS];
    int replies[MAX_ANSWERS];
    char text[MAX_ANSWERS][128];
    char names[8][IFNAMSIZ]; /* link names of replies */
    int nnames;
    int calls;
    int stop_after; /* > 0: return -ECANCELED at that call */
};

static int on_answer(void *arg, int i, const struct nlmsghdr *h)
{
    struct answers *a = arg;

    a->calls++;
    if (a->stop_after && a->calls == a->stop_after)
        return -ECANCELED;
    CHECK(i >= 0 && i < MAX_ANSWERS);
    if (h->nlmsg_type == NLMSG_ERROR) {
        size_t len;
        const char *text = nsf_rtnl_ext_ack(h, &len);

        a->error[i] = nsf_rtnl_error(h);
        a->acked[i]++;
        if (text && len < sizeof(a->text[i])) {
            memcpy(a->text[i], text, len);
            a->text[i][len] = '\0';
        }
    } else if (h->nlmsg_type == RTM_NEWLINK) {
        const struct nlattr *name =
            nsf_rtnl_attr(h, sizeof(struct ifinfomsg), IFLA_IFNAME);

        a->replies[i]++;
        if (name && a->nnames < 8)
            snprintf(a->names[a->nnames++], IFNAMSIZ, "%s",
                     (const char *)nsf_rtnl_data(name));
    } else if (h->nlmsg_type != NLMSG_DONE) {
        a->replies[i]++;
    }
    return 0;
}

static void new_link(struct nsf_rtnl_req *r, struct nsf_rtnl *nl,
                     const char *name, const char *kind, const char *peer)
{
    struct nlattr *info, *data, *p;

    nsf_rtnl_msg(r, nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
                 sizeof(struct ifinfomsg));
    nsf_rtnl_put_str(r, IFLA_IFNAME, name);
    info = nsf_rtnl_nest_start(r, IFLA_LINKINFO);
    nsf_rtnl_put_str(r, IFLA_INFO_KIND, kind);
    if (peer) {
        data = nsf_rtnl_nest_start(r, IFLA_INFO_DATA);
        p = nsf_rtnl_nest_start(r, VETH_INFO_PEER);
        nsf_rtnl_reserve(r, sizeof(struct ifinfomsg));
        nsf_rtnl_put_str(r, IFLA_IFNAME, peer);
        nsf_rtnl_nest_end(r, p);
        nsf_rtnl_nest_end(r, data);
    }
    nsf_rtnl_nest_end(r, info);
}

static void new_addr(struct nsf_rtnl_req *r, struct nsf_rtnl *nl,
                     const char *ip, int flags)
{
    struct ifaddrmsg *ifa;
    struct in_addr in;

    ifa = nsf_rtnl_msg(r, nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_ACK | flags,
                       sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = 8;
    ifa->ifa_index = 1; /* lo */
    CHECK(inet_pton(AF_INET, ip, &in) == 1);
    nsf_rtnl_put(r, IFA_LOCAL, &in, sizeof(in));
    nsf_rtnl_put(r, IFA_ADDRESS, &in, sizeof(in));
}

static void set_up(struct nsf_rtnl_req *r, struct nsf_rtnl *nl, int index,
                   const char *name)
{
    struct ifinfomsg *ifi = nsf_rtnl_msg(r, nl, RTM_NEWLINK, NLM_F_ACK,
                                         sizeof(*ifi));

    ifi->ifi_index = index;
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    if (name)
        nsf_rtnl_put_str(r, IFLA_IFNAME, name);
}

static int has_name(const struct answers *a, const char *name)
{
    int i;

    for (i = 0; i < a->nnames; i++)
        if (strcmp(a->names[i], name) == 0)
            return 1;
    return 0;
}

/* One datagram of five requests, each answered in its own slot. */
static void batch(struct nsf_rtnl *nl)
{
    static char buf[4096] __attribute__((aligned(4)));
    static struct answers a;
    struct nsf_rtnl_req r;
    int step = 0;

    memset(&a, 0, sizeof(a));
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    new_link(&r, nl, "nsft-va", "veth", "nsft-vb");
    new_link(&r, nl, "nsft-x", "nsft-nosuch", NULL);
    new_addr(&r, nl, "127.0.0.2", NLM_F_EXCL);
    new_addr(&r, nl, "127.0.0.2", NLM_F_EXCL);
    set_up(&r, nl, 1, NULL);
    CHECK(nsf_rtnl_exchange(nl, &r, on_answer, &a, &step) == 0);
    CHECK(a.acked[0] == 1 && a.error[0] == 0);
    CHECK(a.acked[1] == 1 && a.error[1] == -EOPNOTSUPP);
    CHECK(strcmp(a.text[1], "Unknown device type") == 0);
    CHECK(a.acked[2] == 1 && a.error[2] == 0);
    CHECK(a.acked[3] == 1 && a.error[3] == -EEXIST);
    CHECK(a.acked[4] == 1 && a.error[4] == 0);
    CHECK(if_nametoindex("nsft-va") > 0 && if_nametoindex("nsft-vb") > 0);
}

/* A full batch: NSF_RTNL_BATCH_MAX acks, every one matched. */
static void full_batch(struct nsf_rtnl *nl)
{
    static char buf[NSF_RTNL_BATCH_MAX * 64] __attribute__((aligned(4)));
    static struct answers a;
    struct nsf_rtnl_req r;
    char ip[32];
    int i, step = 0;

    memset(&a, 0, sizeof(a));
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    for (i = 0; i < NSF_RTNL_BATCH_MAX; i++) {
        snprintf(ip, sizeof(ip), "127.0.1.%d", i + 1);
        new_addr(&r, nl, ip, i == 7 ? 0 : NLM_F_EXCL);
    }
    CHECK(!r.overflow);
    CHECK(nsf_rtnl_exchange(nl, &r, on_answer, &a, &step) == 0);
    for (i = 0; i < NSF_RTNL_BATCH_MAX; i++)
        CHECK(a.acked[i] == 1 && a.error[i] == 0);
}

/* A dump and a plain GET; a GET of nothing is refused. */
static void dumps(struct nsf_rtnl *nl)
{
    char buf[256] __attribute__((aligned(4)));
    static struct answers a;
    struct nsf_rtnl_req r;
    int step = 0;

    memset(&a, 0, sizeof(a));
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    nsf_rtnl_msg(&r, nl, RTM_GETLINK, NLM_F_DUMP, sizeof(struct ifinfomsg));
    CHECK(nsf_rtnl_exchange(nl, &r, on_answer, &a, &step) == 0);
    CHECK(a.replies[0] == 3 && a.acked[0] == 0);
    CHECK(has_name(&a, "lo") && has_name(&a, "nsft-va") &&
          has_name(&a, "nsft-vb"));

    memset(&a, 0, sizeof(a));
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    nsf_rtnl_msg(&r, nl, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
    nsf_rtnl_put_str(&r, IFLA_IFNAME, "nsft-vb");
    nsf_rtnl_msg(&r, nl, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
    nsf_rtnl_put_str(&r, IFLA_IFNAME, "nsft-none");
    CHECK(nsf_rtnl_exchange(nl, &r, on_answer, &a, &step) == 0);
    CHECK(a.replies[0] == 1 && a.acked[0] == 0);
    CHECK(a.nnames == 1 && strcmp(a.names[0], "nsft-vb") == 0);
    CHECK(a.replies[1] == 0 && a.error[1] == -ENODEV);

    /* The callback stops the exchange with its value. */
    memset(&a, 0, sizeof(a));
    a.stop_after = 2;
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    nsf_rtnl_msg(&r, nl, RTM_GETLINK, NLM_F_DUMP, sizeof(struct ifinfomsg));
    CHECK(nsf_rtnl_exchange(nl, &r, on_answer, &a, &step) == -ECANCELED);
}

/* Events: a link set up is reported to RTNLGRP_LINK listeners. */
struct seen {
    int up;
};

static int on_event(void *arg, int i, const struct nlmsghdr *h)
{
    struct seen *s = arg;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    const struct nlattr *name;

    CHECK(i == -1);
    if (h->nlmsg_type != RTM_NEWLINK)
        return 0;
    name = nsf_rtnl_attr(h, sizeof(*ifi), IFLA_IFNAME);
    if (name && strcmp(nsf_rtnl_data(name), "nsft-va") == 0 &&
        (ifi->ifi_flags & IFF_UP))
        s->up = 1;
    return 0;
}

static void events(struct nsf_rtnl *nl)
{
    char buf[256] __attribute__((aligned(4)));
    struct answers a;
    struct nsf_rtnl evt;
    struct nsf_rtnl_req r;
    struct seen seen = {0};
    int step = 0, n, tries;

    CHECK(nsf_rtnl_open(&evt, evt_rx, sizeof(evt_rx), 1, &step) == 0);
    CHECK(nsf_rtnl_join(&evt, RTNLGRP_LINK, &step) == 0);
    CHECK(nsf_rtnl_recv(&evt, MSG_DONTWAIT, &step) == -EAGAIN);
    CHECK(step == NSF_STEP_RECV_NETLINK);
    memset(&a, 0, sizeof(a));
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    set_up(&r, nl, 0, "nsft-va");
    CHECK(nsf_rtnl_exchange(nl, &r, on_answer, &a, &step) == 0);
    CHECK(a.error[0] == 0);
    for (tries = 0; tries < 20 && !seen.up; tries++) {
        struct pollfd p = {evt.fd, POLLIN, 0};

        if (poll(&p, 1, 1000) <= 0)
            break;
        n = nsf_rtnl_recv(&evt, MSG_DONTWAIT, &step);
        CHECK(n > 0);
        if (n > 0)
            CHECK(nsf_rtnl_walk(evt.rx, (size_t)n, on_event, &seen) == 0);
    }
    CHECK(seen.up);
    nsf_rtnl_close(&evt);
    CHECK(evt.fd == -1);
}

/* A datagram longer than the receive slot is an error, not half-read. */
static void small_slots(void)
{
    static char small[2][128] __attribute__((aligned(4)));
    char buf[128] __attribute__((aligned(4)));
    struct answers a;
    struct nsf_rtnl nl;
    struct nsf_rtnl_req r;
    int step = 0;

    memset(&a, 0, sizeof(a));
    CHECK(nsf_rtnl_open(&nl, small, sizeof(small[0]), 2, &step) == 0);
    nsf_rtnl_req_init(&r, buf, sizeof(buf));
    nsf_rtnl_msg(&r, &nl, RTM_GETLINK, NLM_F_DUMP, sizeof(struct ifinfomsg));
    step = 0;
    CHECK(nsf_rtnl_exchange(&nl, &r, on_answer, &a, &step) == -EMSGSIZE);
    CHECK(step == NSF_STEP_RECV_NETLINK);
    nsf_rtnl_close(&nl);
}

int main(void)
{
    struct nsf_rtnl nl;
    int step = 0;

    encoding();
    decoding();
    ext_acks();
    /* Everything below happens in a network namespace of our own. */
    CHECK(unshare(CLONE_NEWNET) == 0);
    CHECK(nsf_rtnl_open(&nl, rx, SLOT, 4, &step) == 0);
    batch(&nl);
    full_batch(&nl);
    dumps(&nl);
    events(&nl);
    small_slots();
    nsf_rtnl_close(&nl);
    if (failures)
        return 1;
    printf("rtnl_driver: ok\n");
    return 0;
}
