/* The bare C floor of one wired pair per test (benchmarks/wiring.py
 * compiles and runs it): unshare x2 (each namespace's fd and its
 * NETLINK_ROUTE socket made while inside, then back home), one
 * RTM_NEWLINK that makes the veth pair with its peer placed in B
 * (IFLA_NET_NS_FD), then RTM_NEWADDR + RTM_NEWLINK up per end and per
 * loopback, each namespace's requests in one datagram with their acks
 * read together; then every fd closed (the kernel tears the namespaces
 * down afterwards, as for every rival). It relies on a fresh namespace
 * numbering lo 1 and the first new link 2, which the API cannot assume.
 * Prints the microseconds of each cycle, one per line.
 *
 * Usage: wire_floor CYCLES [ns]; with "ns", only the namespaces: unshare
 * x2 with their sockets and both loopbacks up (the part of the cycle that
 * is no wiring). Built with -DFLOOR_LIB -shared it is a library instead:
 * floor_cycle(only_ns) runs one cycle (wiring.py interleaves the rivals
 * cycle by cycle in one process). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[4096] __attribute__((aligned(4)));
static size_t len;
static unsigned seq;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static struct nlmsghdr *msg(int type, int flags, size_t fam)
{
    struct nlmsghdr *h = (struct nlmsghdr *)(buf + len);

    memset(h, 0, NLMSG_ALIGN(NLMSG_HDRLEN + fam));
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    h->nlmsg_seq = ++seq;
    h->nlmsg_len = NLMSG_HDRLEN + fam;
    return h;
}

static void end(struct nlmsghdr *h)
{
    len += NLMSG_ALIGN(h->nlmsg_len);
}

static struct rtattr *put(struct nlmsghdr *h, int type, const void *data,
                          size_t n)
{
    struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

    a->rta_type = type;
    a->rta_len = RTA_LENGTH(n);
    if (n)
        memcpy(RTA_DATA(a), data, n);
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
}

static void close_nest(struct nlmsghdr *h, struct rtattr *a)
{
    a->rta_len = (char *)h + h->nlmsg_len - (char *)a;
}

static void up(int index, struct nlmsghdr **h)
{
    struct ifinfomsg *ifi;

    *h = msg(RTM_NEWLINK, 0, sizeof(*ifi));
    ifi = NLMSG_DATA(*h);
    ifi->ifi_index = index;
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    end(*h);
}

static void addr(int index, const char *ip)
{
    struct nlmsghdr *h = msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
                             sizeof(struct ifaddrmsg));
    struct ifaddrmsg *ifa = NLMSG_DATA(h);
    struct in_addr a;

    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = 24;
    ifa->ifa_index = index;
    inet_pton(AF_INET, ip, &a);
    put(h, IFA_LOCAL, &a, 4);
    put(h, IFA_ADDRESS, &a, 4);
    end(h);
}

/* Send what is in buf on s, read its n acks. */
static void flush(int s, int n)
{
    char rx[8192] __attribute__((aligned(4)));

    if (send(s, buf, len, 0) < 0)
        die("send");
    len = 0;
    while (n > 0) {
        ssize_t got = recv(s, rx, sizeof(rx), 0);
        struct nlmsghdr *h;

        if (got < 0)
            die("recv");
        for (h = (struct nlmsghdr *)rx; NLMSG_OK(h, (size_t)got);
             h = NLMSG_NEXT(h, got)) {
            struct nlmsgerr *e = NLMSG_DATA(h);

            if (h->nlmsg_type != NLMSG_ERROR)
                continue;
            if (e->error) {
                errno = -e->error;
                die("rtnetlink");
            }
            n--;
        }
    }
}

/* A new namespace: its fd and a socket made inside; back home. */
static int fresh(int home, int *sock)
{
    int fd;

    if (unshare(CLONE_NEWNET) < 0)
        die("unshare");
    fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    *sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0 || *sock < 0)
        die("open");
    if (setns(home, CLONE_NEWNET) < 0)
        die("setns");
    return fd;
}

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One cycle; its microseconds. */
static double cycle(int home, int only_ns)
{
    long long t0 = now_ns();
    int sa, sb, fa = fresh(home, &sa), fb = fresh(home, &sb);
    struct nlmsghdr *h;
    struct ifinfomsg *ifi;
    struct rtattr *info, *data, *peer;

    if (only_ns) {
        up(1, &h);
        flush(sa, 1);
        up(1, &h);
        flush(sb, 1);
        goto done;
    }
    /* In A: the pair (its peer placed in B), A's address, eth0 and lo
     * up; a fresh namespace numbers them lo 1, eth0 2. */
    h = msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
    put(h, IFLA_IFNAME, "eth0", 5);
    info = put(h, IFLA_LINKINFO, NULL, 0);
    put(h, IFLA_INFO_KIND, "veth", 5);
    data = put(h, IFLA_INFO_DATA, NULL, 0);
    peer = put(h, VETH_INFO_PEER, NULL, 0);
    h->nlmsg_len += sizeof(struct ifinfomsg); /* the peer's header */
    memset(RTA_DATA(peer), 0, sizeof(struct ifinfomsg));
    put(h, IFLA_IFNAME, "eth0", 5);
    put(h, IFLA_NET_NS_FD, &fb, 4);
    close_nest(h, peer);
    close_nest(h, data);
    close_nest(h, info);
    end(h);
    addr(2, "10.0.0.1");
    up(2, &h);
    up(1, &h);
    flush(sa, 4);
    addr(2, "10.0.0.2");
    up(2, &h);
    up(1, &h);
    flush(sb, 3);
done:
    close(sa);
    close(sb);
    close(fa);
    close(fb);
    return (now_ns() - t0) / 1e3;
}

#ifdef FLOOR_LIB
/* The shared object wiring.py loads: one cycle per call (only_ns as the
 * program's "ns"), run on the calling thread, which ends where it
 * started. */
double floor_cycle(int only_ns);

double floor_cycle(int only_ns)
{
    static int home = -1;

    if (home < 0 &&
        (home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
        die("open");
    return cycle(home, only_ns);
}
#else
int main(int argc, char **argv)
{
    int cycles = argc > 1 ? atoi(argv[1]) : 100, i;
    int only_ns = argc > 2 && strcmp(argv[2], "ns") == 0;
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

    if (home < 0)
        die("open");
    for (i = 0; i < cycles; i++)
        printf("%.1f\n", cycle(home, only_ns));
    return 0;
}
#endif
