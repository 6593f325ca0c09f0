/* The rtnetlink codec of the C core: sockets, requests built in a caller's
 * buffer (header, family header, attributes, nested attributes), several
 * requests per datagram with their answers read together and matched by
 * sequence number, dumps, events, attribute walking and the kernel's
 * extended ack (its error text). Not part of the cdef.
 *
 * Nothing here allocates: every buffer is the caller's. Functions that
 * make syscalls return -errno and set *step (NSF_STEP_SOCKET_NETLINK,
 * _SEND_NETLINK, _RECV_NETLINK); a refusal by the kernel is no failure of
 * the codec: it reaches the caller's callback as an NLMSG_ERROR, with
 * nsf_rtnl_error and nsf_rtnl_ext_ack to read it. A socket lives in the
 * network namespace it was made in; make one in another namespace with
 * nsf_socket_in (handle.h) and adopt it.
 *
 * A typical exchange (a veth pair, its ends up, an address):
 *
 *     struct nsf_rtnl nl;
 *     struct nsf_rtnl_req r;
 *     char buf[4096] __attribute__((aligned(4)));
 *     struct ifinfomsg *ifi;
 *     struct nlattr *info, *data, *peer;
 *
 *     nsf_rtnl_adopt(&nl, fd, rx, sizeof(rx), 1);
 *     nsf_rtnl_req_init(&r, buf, sizeof(buf));
 *     ifi = nsf_rtnl_msg(&r, &nl, RTM_NEWLINK,
 *                        NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
 *                        sizeof(*ifi));
 *     nsf_rtnl_put_str(&r, IFLA_IFNAME, "eth0");
 *     nsf_rtnl_put_u32(&r, IFLA_NET_NS_FD, ns_a);
 *     info = nsf_rtnl_nest_start(&r, IFLA_LINKINFO);
 *     nsf_rtnl_put_str(&r, IFLA_INFO_KIND, "veth");
 *     data = nsf_rtnl_nest_start(&r, IFLA_INFO_DATA);
 *     peer = nsf_rtnl_nest_start(&r, VETH_INFO_PEER);
 *     nsf_rtnl_reserve(&r, sizeof(struct ifinfomsg));
 *     nsf_rtnl_put_str(&r, IFLA_IFNAME, "eth0");
 *     nsf_rtnl_put_u32(&r, IFLA_NET_NS_FD, ns_b);
 *     nsf_rtnl_nest_end(&r, peer);
 *     nsf_rtnl_nest_end(&r, data);
 *     nsf_rtnl_nest_end(&r, info);
 *     ... more messages: nsf_rtnl_msg(&r, &nl, RTM_NEWADDR, ...) ...
 *     left = nsf_rtnl_exchange(&nl, &r, on_answer, &state, &step);
 *
 * on_answer(state, i, h) sees every message that answers request i (its
 * index in r): replies, and the NLMSG_ERROR ack or refusal that ends it.
 */
#ifndef NSF_RTNL_H
#define NSF_RTNL_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <stdint.h>

/* Most requests one exchange carries. */
#define NSF_RTNL_BATCH_MAX 64
/* Most datagrams one recvmmsg reads. */
#define NSF_RTNL_RX_SLOTS 32

/* A NETLINK_ROUTE socket, its sequence numbers and where answers land. */
struct nsf_rtnl {
    int fd;
    uint32_t seq; /* the last sequence number used */
    char *rx;     /* nslots receive buffers of slot bytes, one after the
                     other, aligned to 4 (a datagram longer than slot is
                     an error: 32 KiB holds any dump part) */
    size_t slot;
    int nslots;   /* 1 .. NSF_RTNL_RX_SLOTS */
};

/* socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) in the
 * calling thread's namespace, adopted as below. 0 or -errno (step
 * SOCKET_NETLINK). */
int nsf_rtnl_open(struct nsf_rtnl *nl, void *rx, size_t slot, int nslots,
                  int *step);

/* Use fd, a NETLINK_ROUTE socket made elsewhere (e.g. by nsf_socket_in
 * inside another namespace): ask for the kernel's error texts (extended
 * acks) and for acks without the request echoed (a kernel without these
 * options still works; its errors come without text). */
void nsf_rtnl_adopt(struct nsf_rtnl *nl, int fd, void *rx, size_t slot,
                    int nslots);

/* Use fd, a socket adopted before (its options are set), with these
 * receive buffers and sequence numbers after seq: no syscall. */
void nsf_rtnl_attach(struct nsf_rtnl *nl, int fd, uint32_t seq, void *rx,
                     size_t slot, int nslots);

/* Close the socket (fd -1 is fine). */
void nsf_rtnl_close(struct nsf_rtnl *nl);

/* Listen to the multicast group (RTNLGRP_*): bind, then
 * NETLINK_ADD_MEMBERSHIP. 0 or -errno (step SOCKET_NETLINK). */
int nsf_rtnl_join(struct nsf_rtnl *nl, int group, int *step);

/* NETLINK_ADD_MEMBERSHIP (on) or NETLINK_DROP_MEMBERSHIP (off) of the
 * group, for a socket that is already bound (it has sent requests): a
 * request socket that listens for a while. 0 or -errno (step
 * SOCKET_NETLINK). */
int nsf_rtnl_listen(struct nsf_rtnl *nl, int group, int on, int *step);

/* -- building requests ---------------------------------------------------- */

/* The requests of one datagram, built one message after the other in a
 * caller's buffer. */
struct nsf_rtnl_req {
    char *buf;     /* aligned to 4 */
    size_t cap;
    size_t len;    /* bytes of the messages so far */
    struct nlmsghdr *cur; /* the message being built */
    int n;         /* messages begun */
    uint32_t first; /* sequence number of the first */
    int overflow;  /* something did not fit: the exchange refuses it */
};

void nsf_rtnl_req_init(struct nsf_rtnl_req *r, void *buf, size_t cap);

/* Begin the next message: type, NLM_F_REQUEST | flags, the next sequence
 * number of nl, and a zeroed family header of hdr_len bytes (struct
 * rtgenmsg, ifinfomsg, ifaddrmsg, rtmsg ...), which is returned for the
 * caller to fill. NULL when it does not fit or the batch is full
 * (NSF_RTNL_BATCH_MAX messages). */
void *nsf_rtnl_msg(struct nsf_rtnl_req *r, struct nsf_rtnl *nl, int type,
                   int flags, size_t hdr_len);

/* Append an attribute to the current message (type may carry
 * NLA_F_NESTED). 0, or -EMSGSIZE when it does not fit. */
int nsf_rtnl_put(struct nsf_rtnl_req *r, int type, const void *data,
                 size_t len);
int nsf_rtnl_put_u8(struct nsf_rtnl_req *r, int type, uint8_t value);
int nsf_rtnl_put_u32(struct nsf_rtnl_req *r, int type, uint32_t value);
/* A string attribute, with its NUL (IFLA_IFNAME, IFLA_INFO_KIND). */
int nsf_rtnl_put_str(struct nsf_rtnl_req *r, int type, const char *s);

/* Zeroed bytes appended to the current message, aligned: a family header
 * inside a nest (VETH_INFO_PEER starts with a struct ifinfomsg). NULL
 * when it does not fit. */
void *nsf_rtnl_reserve(struct nsf_rtnl_req *r, size_t len);

/* A nested attribute: everything put until nsf_rtnl_nest_end(r, nest)
 * is inside it. nest_start returns NULL when it does not fit (nest_end
 * then does nothing). */
struct nlattr *nsf_rtnl_nest_start(struct nsf_rtnl_req *r, int type);
void nsf_rtnl_nest_end(struct nsf_rtnl_req *r, struct nlattr *nest);

/* -- exchanges ------------------------------------------------------------ */

/* Called with each message that answers request i of an exchange, or
 * with i = -1 for each message nsf_rtnl_walk passes on. A value < 0 stops
 * the exchange (or walk), which then returns it. */
typedef int (*nsf_rtnl_fn)(void *arg, int i, const struct nlmsghdr *h);

/* Send the requests of r in one datagram and read their answers (the
 * kernel answers rtnetlink requests inside send, and continues a dump
 * inside each read, so everything is read without waiting), in batches
 * of datagrams (recvmmsg), each message matched to its request by
 * sequence number. fn sees every message of request i until the one that
 * ends it: an NLMSG_ERROR (an ack, or a refusal), the NLMSG_DONE of a
 * dump, or, for a GET that asked for no ack, its reply. A request that
 * changes something must ask for an ack (NLM_F_ACK): the kernel answers
 * its success with nothing else. Returns how many requests got no answer
 * (the socket overran: ENOBUFS dropped them; 0 when every one was
 * answered), fn's value when
 * it stopped, or -errno (steps SEND_NETLINK, RECV_NETLINK; -EMSGSIZE at
 * SEND_NETLINK when r overflowed, at RECV_NETLINK for a datagram longer
 * than nl's slots). */
int nsf_rtnl_exchange(struct nsf_rtnl *nl, struct nsf_rtnl_req *r,
                      nsf_rtnl_fn fn, void *arg, int *step);

/* Read one datagram into nl's first slot (flags: MSG_DONTWAIT ...): its
 * length, or -errno (step RECV_NETLINK; -ENOBUFS when the socket overran
 * and messages were lost, -EAGAIN when nothing is there). For events:
 * walk it with nsf_rtnl_walk(nl->rx, len, ...). */
int nsf_rtnl_recv(struct nsf_rtnl *nl, int flags, int *step);

/* fn(arg, -1, h) for every well-formed message of buf[0..len). Returns 0
 * or fn's value when it stopped. */
int nsf_rtnl_walk(const void *buf, size_t len, nsf_rtnl_fn fn, void *arg);

/* -- reading messages ----------------------------------------------------- */

/* The error an NLMSG_ERROR carries: 0 for an ack, else -errno; -EBADMSG
 * when the message is too short to carry one. */
int nsf_rtnl_error(const struct nlmsghdr *h);

/* The kernel's error text of an NLMSG_ERROR (NLMSGERR_ATTR_MSG, e.g.
 * "Unknown device type"), not NUL-terminated: its length in *len. NULL
 * (and *len 0) when it sent none. */
const char *nsf_rtnl_ext_ack(const struct nlmsghdr *h, size_t *len);

/* The attribute after prev (NULL: the first) in the attributes at
 * start[0..len), or NULL at their end or at a malformed one. */
const struct nlattr *nsf_rtnl_next(const void *start, size_t len,
                                   const struct nlattr *prev);

/* The first attribute of type (flags masked off) in start[0..len). */
const struct nlattr *nsf_rtnl_find(const void *start, size_t len, int type);

/* The first attribute of type in message h, whose family header is
 * hdr_len bytes (as given to nsf_rtnl_msg). */
const struct nlattr *nsf_rtnl_attr(const struct nlmsghdr *h, size_t hdr_len,
                                   int type);

/* tb[type] = the first attribute of each type 0..max (flags masked off)
 * in start[0..len), NULL for the types that are not there. */
void nsf_rtnl_parse(const void *start, size_t len, const struct nlattr **tb,
                    int max);

/* nsf_rtnl_parse of the attributes of message h after its family header
 * of hdr_len bytes (all NULL when h is too short for the header). */
void nsf_rtnl_parse_msg(const struct nlmsghdr *h, size_t hdr_len,
                        const struct nlattr **tb, int max);

/* The payload of an attribute, and its length; nested attributes are
 * found with nsf_rtnl_find(nsf_rtnl_data(a), nsf_rtnl_len(a), type). */
const void *nsf_rtnl_data(const struct nlattr *a);
size_t nsf_rtnl_len(const struct nlattr *a);

/* A u32 (or s32) payload into *value: 0, or -EBADMSG when a is NULL or
 * too short. */
int nsf_rtnl_u32(const struct nlattr *a, uint32_t *value);

#endif
