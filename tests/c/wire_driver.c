/* Drives the wiring core (csrc/wire.c) under the sanitizers, in a network
 * namespace the driver makes for itself first (unshare), so that "the
 * caller's own namespace" is a private one: plans over namespaces with and
 * without a kept socket (a veth pair with MTU and MAC, addresses v4 and
 * v6, a bridge with a port, routes, sysctls written and read, a wait, link
 * reads), the datagram count of a wired pair, dumps that outgrow their
 * room, rename / move / delete, every refusal path (a taken name with the
 * undo of what the plan made before, a missing link, a malformed request,
 * a bad MTU with the kernel's text, a missing sysctl, a wait that times
 * out), the caller's own namespace (fd -1), NSF_WIRE_OWN_THREAD, and plans
 * on C threads (nsf_wire_run_many), Netns.veth's pair and Topology.build's
 * one-call build (nsf_wire_pair, nsf_wire_build). Every fd is closed at the end; the
 * calling thread is in its namespace throughout. Prints "wire_driver: ok".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "nsf.h"
#include "handle.h"
#include "wire.h"

#define MAX_REQS 16

static int fds_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the DIR's own */
}

static unsigned long long thread_ino(void)
{
    struct stat st;

    return stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

/* A plan being built. */
struct plan {
    struct nsf_wire_plan p;
    struct nsf_wire_req q[MAX_REQS];
};

static struct nsf_wire_req *req(struct plan *pl, int kind, int ns,
                                const char *name)
{
    struct nsf_wire_req *q = &pl->q[pl->p.nreqs++];

    memset(q, 0, sizeof(*q));
    q->kind = kind;
    q->ns = ns;
    q->peer_ns = -1;
    q->name = name;
    return q;
}

static void start(struct plan *pl, struct nsf_wire_ns *ns, int nns)
{
    memset(&pl->p, 0, sizeof(pl->p));
    pl->p.ns = ns;
    pl->p.nns = nns;
    pl->p.reqs = pl->q;
}

static void addr(struct nsf_wire_req *q, const char *text, int prefix)
{
    q->family = strchr(text, ':') ? AF_INET6 : AF_INET;
    q->prefix = prefix;
    CHECK(inet_pton(q->family, text, q->addr) == 1);
}

static int run(struct plan *pl)
{
    int step = -1, rc = nsf_wire_run(&pl->p, &step);

    CHECK(step == pl->p.step && rc == pl->p.rc);
    return rc;
}

/* Whether ns has a link of that name (a dump). */
static int has_link(struct nsf_wire_ns *ns, const char *name,
                    struct nsf_wire_link *found)
{
    struct nsf_wire_link links[32];
    int i, step, n = nsf_wire_links(ns, links, 32, &step);

    CHECK(n >= 1 && n <= 32);
    for (i = 0; i < n; i++)
        if (strcmp(links[i].name, name) == 0) {
            if (found)
                *found = links[i];
            return 1;
        }
    return 0;
}

static int has_addr(struct nsf_wire_ns *ns, const char *text)
{
    struct nsf_wire_addr a[32];
    unsigned char want[16];
    int i, step, family = strchr(text, ':') ? AF_INET6 : AF_INET;
    int n = nsf_wire_addrs(ns, family, a, 32, &step);

    CHECK(n >= 0 && n <= 32);
    CHECK(inet_pton(family, text, want) == 1);
    for (i = 0; i < n; i++)
        if (memcmp(a[i].address, want, family == AF_INET ? 4 : 16) == 0)
            return 1 + (int)a[i].flags;
    return 0;
}

static int has_route(struct nsf_wire_ns *ns, int family, const char *dst,
                     int len)
{
    struct nsf_wire_route r[64];
    unsigned char want[16] = {0};
    int i, step, n = nsf_wire_routes(ns, family, r, 64, &step);

    CHECK(n >= 0 && n <= 64);
    if (dst)
        CHECK(inet_pton(family, dst, want) == 1);
    for (i = 0; i < n; i++)
        if (r[i].table == RT_TABLE_MAIN && r[i].dst_len == len &&
            memcmp(r[i].dst, want, family == AF_INET ? 4 : 16) == 0)
            return 1;
    return 0;
}

/* A wired pair, a bridge with a port, routes, sysctls, a wait. */
static void wiring(struct nsf_wire_ns *ns)
{
    static const unsigned char mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    struct nsf_wire_link got_a, got_b, waited, port;
    struct plan pl;
    struct nsf_wire_req *q;
    char value[32];

    /* The wired pair of the API: three datagrams. */
    start(&pl, ns, 3);
    q = req(&pl, NSF_WIRE_VETH, 0, "eth0");
    q->peer_ns = 1;
    q->peer_name = "eth0";
    q->up = 1;
    q->mtu = 1400;
    q->mac_len = 6;
    memcpy(q->mac, mac, 6);
    addr(req(&pl, NSF_WIRE_ADDR_ADD, 1, "eth0"), "10.0.0.2", 24);
    req(&pl, NSF_WIRE_LINK_GET, 1, "eth0")->link = &got_b;
    addr(req(&pl, NSF_WIRE_ADDR_ADD, 0, "eth0"), "10.0.0.1", 24);
    req(&pl, NSF_WIRE_LINK_GET, 0, "eth0")->link = &got_a;
    CHECK(run(&pl) == 0);
    CHECK(pl.p.failed == -1 && pl.p.sends == 3 && !pl.p.undone);
    CHECK(pl.q[0].index > 0 && pl.q[0].peer_index > 0);
    CHECK(got_a.index == pl.q[0].index && got_b.index == pl.q[0].peer_index);
    CHECK(got_a.link == got_b.index && strcmp(got_a.kind, "veth") == 0);
    CHECK(got_a.mtu == 1400 && got_b.mtu == 1400);
    CHECK(got_a.mac_len == 6 && memcmp(got_a.mac, mac, 6) == 0);
    CHECK((got_a.flags & IFF_UP) && (got_b.flags & IFF_UP));
    CHECK((got_a.flags & 0x10000) && (got_b.flags & 0x10000)); /* carrier */
    CHECK(has_addr(&ns[0], "10.0.0.1") && has_addr(&ns[1], "10.0.0.2"));

    /* More in one plan: IPv6 without DAD, a bridge in the third
     * namespace with a veth port, routes, sysctls, a wait, a read. */
    start(&pl, ns, 3);
    q = req(&pl, NSF_WIRE_ADDR_ADD, 0, "eth0");
    addr(q, "fd00::1", 64);
    q->flags = IFA_F_NODAD;
    req(&pl, NSF_WIRE_BRIDGE, 2, "br0")->up = 1;
    q = req(&pl, NSF_WIRE_VETH, 2, "p1");
    q->peer_ns = 1;
    q->peer_name = "eth1";
    q->master = "br0";
    q->up = 1;
    q = req(&pl, NSF_WIRE_ROUTE_ADD, 0, NULL);
    addr(q, "0.0.0.0", 0);
    q->has_gateway = 1;
    CHECK(inet_pton(AF_INET, "10.0.0.2", q->gateway) == 1);
    addr(req(&pl, NSF_WIRE_ROUTE_ADD, 1, "eth0"), "10.9.0.0", 24);
    q = req(&pl, NSF_WIRE_SYSCTL, 1, "net/ipv4/ip_forward");
    q->value = "1";
    q->out = value;
    q->out_cap = sizeof(value);
    q = req(&pl, NSF_WIRE_WAIT_UP, 0, "eth0");
    q->timeout_ms = 5000;
    q->link = &waited;
    req(&pl, NSF_WIRE_LINK_GET, 2, "p1")->link = &port;
    CHECK(run(&pl) == 0);
    CHECK(strcmp(value, "1\n") == 0 && pl.q[5].out_len == 2);
    CHECK(waited.index == got_a.index && waited.operstate == 6);
    CHECK(port.master == pl.q[1].index && port.master > 0);
    CHECK(has_addr(&ns[0], "fd00::1") == 1 + (IFA_F_NODAD | IFA_F_PERMANENT));
    CHECK(has_route(&ns[0], AF_INET, NULL, 0));
    CHECK(has_route(&ns[1], AF_INET, "10.9.0.0", 24));
    CHECK(has_link(&ns[1], "eth1", NULL) && has_link(&ns[2], "br0", NULL));
    /* A sysctl is per namespace. */
    start(&pl, ns, 3);
    q = req(&pl, NSF_WIRE_SYSCTL, 0, "net/ipv4/ip_forward");
    q->out = value;
    q->out_cap = sizeof(value);
    CHECK(run(&pl) == 0 && strcmp(value, "0\n") == 0);
}

/* Dumps report how many there are when the room is too small. */
static void dumps(struct nsf_wire_ns *ns)
{
    struct nsf_wire_link one;
    struct nsf_wire_addr a;
    struct nsf_wire_route r;
    int step;

    CHECK(nsf_wire_links(&ns[1], &one, 1, &step) == 3); /* lo eth0 eth1 */
    CHECK(one.index == 1 && strcmp(one.name, "lo") == 0);
    CHECK(nsf_wire_addrs(&ns[1], AF_INET, &a, 1, &step) == 2);
    CHECK(nsf_wire_routes(&ns[1], 0, &r, 1, &step) > 2);
}

/* Rename (down first), move with a new name, delete. */
static void changes(struct nsf_wire_ns *ns)
{
    struct plan pl;
    struct nsf_wire_req *q;
    struct nsf_wire_link moved;

    start(&pl, ns, 3);
    req(&pl, NSF_WIRE_LINK_SET, 1, "eth1")->up = 0;
    req(&pl, NSF_WIRE_LINK_RENAME, 1, "eth1")->peer_name = "renamed";
    q = req(&pl, NSF_WIRE_LINK_MOVE, 1, "renamed");
    q->peer_ns = 0;
    q->peer_name = "moved";
    q = req(&pl, NSF_WIRE_LINK_SET, 0, "moved");
    q->up = 1;
    q->mtu = 1300;
    req(&pl, NSF_WIRE_LINK_GET, 0, "moved")->link = &moved;
    CHECK(run(&pl) == 0);
    CHECK(moved.mtu == 1300 && (moved.flags & IFF_UP));
    CHECK(!has_link(&ns[1], "eth1", NULL) &&
          !has_link(&ns[1], "renamed", NULL));
    start(&pl, ns, 3);
    req(&pl, NSF_WIRE_LINK_DEL, 0, "moved");
    CHECK(run(&pl) == 0);
    CHECK(!has_link(&ns[0], "moved", NULL) && !has_link(&ns[2], "p1", NULL));
}

/* Every refusal: the error, its step and text, and nothing left. */
static void refusals(struct nsf_wire_ns *ns)
{
    struct plan pl;
    struct nsf_wire_req *q;
    char value[8];

    /* A taken name: the bridge made before it, an address and a route
     * added to a link that was there, are removed again. */
    start(&pl, ns, 3);
    req(&pl, NSF_WIRE_BRIDGE, 0, "br9");
    addr(req(&pl, NSF_WIRE_ADDR_ADD, 0, "eth0"), "10.7.7.7", 24);
    addr(req(&pl, NSF_WIRE_ROUTE_ADD, 0, "eth0"), "10.8.0.0", 16);
    q = req(&pl, NSF_WIRE_VETH, 0, "eth0");
    q->peer_ns = 1;
    q->peer_name = "fresh0";
    CHECK(run(&pl) == -EEXIST && pl.p.step == NSF_STEP_RTM_NEWLINK);
    CHECK(pl.p.failed == 3 && pl.p.undone);
    CHECK(!has_link(&ns[0], "br9", NULL) && !has_link(&ns[1], "fresh0", NULL));
    CHECK(!has_addr(&ns[0], "10.7.7.7"));
    CHECK(!has_route(&ns[0], AF_INET, "10.8.0.0", 16));
    /* The same with NSF_WIRE_KEEP keeps the bridge. */
    pl.p.nreqs = 0;
    req(&pl, NSF_WIRE_BRIDGE, 0, "br9");
    req(&pl, NSF_WIRE_BRIDGE, 0, "br9");
    pl.p.flags = NSF_WIRE_KEEP;
    CHECK(run(&pl) == -EEXIST && pl.p.failed == 1 && !pl.p.undone);
    CHECK(has_link(&ns[0], "br9", NULL));
    pl.p.nreqs = 0;
    pl.p.flags = 0;
    req(&pl, NSF_WIRE_LINK_DEL, 0, "br9");
    CHECK(run(&pl) == 0);
    /* A missing link: looked up (an address), or by name (a change). */
    start(&pl, ns, 3);
    addr(req(&pl, NSF_WIRE_ADDR_ADD, 0, "nosuch"), "10.6.6.6", 24);
    CHECK(run(&pl) == -ENODEV && pl.p.step == NSF_STEP_RTM_GETLINK);
    pl.p.nreqs = 0;
    req(&pl, NSF_WIRE_LINK_SET, 0, "nosuch")->up = 1;
    CHECK(run(&pl) == -ENODEV && pl.p.step == NSF_STEP_RTM_NEWLINK);
    /* Malformed: nothing is sent. */
    pl.p.nreqs = 0;
    req(&pl, NSF_WIRE_LINK_SET, 7, "eth0");
    CHECK(run(&pl) == -EINVAL && pl.p.step == NSF_STEP_WIRE_REQUEST);
    CHECK(pl.p.failed == 0 && pl.p.sends == 0);
    pl.p.nreqs = 0;
    req(&pl, NSF_WIRE_LINK_SET, 0, "sixteen-bytes-xx");
    CHECK(run(&pl) == -EINVAL && pl.p.step == NSF_STEP_WIRE_REQUEST);
    pl.p.nreqs = 0;
    req(&pl, 99, 0, "eth0");
    CHECK(run(&pl) == -EINVAL && pl.p.step == NSF_STEP_WIRE_REQUEST);
    /* A bad MTU: the kernel's text. */
    pl.p.nreqs = 0;
    req(&pl, NSF_WIRE_LINK_SET, 0, "eth0")->mtu = 70000;
    CHECK(run(&pl) == -EINVAL && pl.p.step == NSF_STEP_RTM_NEWLINK);
    CHECK(strstr(pl.p.msg, "mtu") != NULL);
    /* A missing sysctl, a bad value. */
    pl.p.nreqs = 0;
    req(&pl, NSF_WIRE_SYSCTL, 1, "net/ipv4/nosuch");
    CHECK(run(&pl) == -ENOENT && pl.p.step == NSF_STEP_OPEN_SYSCTL);
    pl.p.nreqs = 0;
    q = req(&pl, NSF_WIRE_SYSCTL, 1, "net/ipv4/ip_forward");
    q->value = "x";
    q->out = value;
    q->out_cap = sizeof(value);
    CHECK(run(&pl) == -EINVAL && pl.p.step == NSF_STEP_WRITE_SYSCTL);
    /* A wait for a link whose peer is down times out; a gone one. */
    pl.p.nreqs = 0;
    q = req(&pl, NSF_WIRE_VETH, 0, "half0");
    q->peer_ns = 1;
    q->peer_name = "half1";
    q = req(&pl, NSF_WIRE_LINK_SET, 0, "half0");
    q->up = 1;
    q = req(&pl, NSF_WIRE_WAIT_UP, 0, "half0");
    q->timeout_ms = 50;
    CHECK(run(&pl) == -ETIMEDOUT && pl.p.step == NSF_STEP_WAIT_LINK);
    CHECK(pl.p.failed == 2 && !has_link(&ns[0], "half0", NULL));
    pl.p.nreqs = 0;
    req(&pl, NSF_WIRE_WAIT_UP, 0, "nosuch")->timeout_ms = 50;
    CHECK(run(&pl) == -ENODEV && pl.p.step == NSF_STEP_WAIT_LINK);
}

/* The calling thread's own namespace (fd -1), and OWN_THREAD. */
static void own(struct nsf_wire_ns *ns)
{
    struct nsf_wire_ns both[2] = {{-1, -1, 0}, ns[2]};
    struct nsf_wire_ns lent = {ns[2].fd, -1, 0};
    unsigned long long home = thread_ino();
    struct plan pl;
    struct nsf_wire_req *q;

    start(&pl, both, 2);
    q = req(&pl, NSF_WIRE_VETH, 0, "own0");
    q->peer_ns = 1;
    q->peer_name = "own1";
    q->up = 1;
    CHECK(run(&pl) == 0 && both[0].rtnl >= 0);
    CHECK(has_link(&both[0], "own0", NULL) && has_link(&ns[2], "own1", NULL));
    pl.p.nreqs = 0;
    req(&pl, NSF_WIRE_LINK_DEL, 0, "own0");
    CHECK(run(&pl) == 0 && !has_link(&ns[2], "own1", NULL));
    close(both[0].rtnl);
    /* OWN_THREAD: the socket is made by moving this thread, and back. */
    start(&pl, &lent, 1);
    pl.p.flags = NSF_WIRE_OWN_THREAD;
    req(&pl, NSF_WIRE_SYSCTL, 0, "net/ipv4/ip_forward")->value = "1";
    req(&pl, NSF_WIRE_LINK_GET, 0, "br0");
    CHECK(run(&pl) == 0 && lent.rtnl >= 0 && pl.q[1].index > 0);
    CHECK(thread_ino() == home);
    close(lent.rtnl);
}

/* Independent plans on C threads: a wired pair each. */
static void many(void)
{
    enum { N = 8 };
    static struct plan pls[N];
    static struct nsf_wire_ns ns[N][2];
    struct nsf_wire_plan plans[N];
    unsigned long long ino, home = thread_ino();
    int i, k, step;
    char text[32];

    for (i = 0; i < N; i++) {
        for (k = 0; k < 2; k++) {
            ns[i][k].rtnl = -1;
            ns[i][k].seq = 0;
            ns[i][k].fd = (i + k) % 2
                              ? nsf_anon_new(NSF_LO_UP, &ino, &step)
                              : nsf_wire_anon_new(NSF_LO_UP, &ino,
                                                  &ns[i][k].rtnl, &step);
            CHECK(ns[i][k].fd >= 0);
        }
        start(&pls[i], ns[i], 2);
        pls[i].q[0] = (struct nsf_wire_req){0};
        {
            struct nsf_wire_req *q = req(&pls[i], NSF_WIRE_VETH, 0, "eth0");

            q->peer_ns = 1;
            q->peer_name = "eth0";
            q->up = 1;
        }
        snprintf(text, sizeof(text), "10.1.%d.1", i);
        addr(req(&pls[i], NSF_WIRE_ADDR_ADD, 0, "eth0"), text, 24);
        req(&pls[i], NSF_WIRE_SYSCTL, 1, "net/ipv4/ip_forward")->value = "1";
        plans[i] = pls[i].p;
    }
    plans[N - 1].reqs[1].ns = 5; /* one bad plan fails alone */
    CHECK(nsf_wire_run_many(plans, N, 3, &step) == 0);
    for (i = 0; i < N - 1; i++)
        CHECK(plans[i].rc == 0 && plans[i].failed == -1);
    CHECK(plans[N - 1].rc == -EINVAL && plans[N - 1].failed == 1);
    for (i = 0; i < N - 1; i++)
        CHECK(has_link(&ns[i][1], "eth0", NULL));
    CHECK(thread_ino() == home);
    for (i = 0; i < N; i++)
        for (k = 0; k < 2; k++) {
            if (ns[i][k].rtnl >= 0)
                close(ns[i][k].rtnl);
            close(ns[i][k].fd);
        }
}

/* nsf_wire_pair (Netns.veth's plan in one call: a veth with an address
 * per end, both records read, in three sends; a taken name fails at the
 * veth and leaves nothing) and nsf_wire_build (Topology.build of
 * anonymous nodes: namespaces and wiring in one call; a failing request
 * closes every namespace it made). */
static void pair_and_build(void)
{
    static struct nsf_wire_pair pr;
    struct nsf_wire_req tmpl[3], reqs[3];
    struct nsf_wire_ns nodes[2], two[2];
    unsigned long long inos[2], ino;
    struct nsf_wire_build b;
    int k, step, before = fds_open();

    for (k = 0; k < 2; k++) {
        two[k].fd = nsf_wire_anon_new(NSF_LO_UP, &ino, &two[k].rtnl, &step);
        two[k].seq = 0;
        CHECK(two[k].fd >= 0);
    }
    memset(&pr, 0, sizeof(pr));
    memcpy(pr.ns, two, sizeof(two));
    strcpy(pr.end[0].name, "p0");
    strcpy(pr.end[1].name, "p1");
    pr.end[1].family = AF_INET6;
    pr.end[1].prefix = 64;
    pr.end[1].flags = IFA_F_NODAD;
    CHECK(inet_pton(AF_INET6, "fd09::2", pr.end[1].addr) == 1);
    pr.end[0].family = AF_INET;
    pr.end[0].prefix = 24;
    CHECK(inet_pton(AF_INET, "10.9.0.1", pr.end[0].addr) == 1);
    pr.up = 1;
    pr.plan.nns = 2;
    CHECK(nsf_wire_pair(&pr, &step) == 0 && pr.plan.sends == 3);
    CHECK(pr.end[0].link.index > 0 && pr.end[1].link.index > 0);
    CHECK(strcmp(pr.end[0].link.name, "p0") == 0);
    CHECK(strcmp(pr.end[1].link.kind, "veth") == 0);
    CHECK(pr.end[0].link.link == pr.end[1].link.index);
    CHECK(has_addr(&two[0], "10.9.0.1") && has_addr(&two[1], "fd09::2"));
    two[0].seq = pr.ns[0].seq;
    two[1].seq = pr.ns[1].seq;
    /* Again: p0 is taken; the failure is the veth's, nothing is made. */
    strcpy(pr.end[1].name, "p2");
    CHECK(nsf_wire_pair(&pr, &step) == -EEXIST && pr.plan.failed == 0);
    CHECK(!has_link(&two[1], "p2", NULL));
    pr.plan.nns = 3;
    CHECK(nsf_wire_pair(&pr, &step) == -EINVAL && step == NSF_STEP_WIRE_REQUEST);
    for (k = 0; k < 2; k++) {
        close(two[k].rtnl);
        close(two[k].fd);
    }

    /* A build: the veth, an address, then a route the kernel refuses. */
    memset(tmpl, 0, sizeof(tmpl));
    tmpl[0].kind = NSF_WIRE_VETH;
    tmpl[0].peer_ns = 1;
    tmpl[0].name = "eth0";
    tmpl[0].peer_name = "eth0";
    tmpl[0].up = 1;
    tmpl[1].kind = NSF_WIRE_ADDR_ADD;
    tmpl[1].ns = 1;
    tmpl[1].peer_ns = -1;
    tmpl[1].name = "eth0";
    addr(&tmpl[1], "10.8.0.2", 24);
    memset(&b, 0, sizeof(b));
    b.nodes = 2;
    b.flags = NSF_LO_UP;
    b.tmpl = tmpl;
    b.reqs = reqs;
    b.nreqs = 2;
    b.ns = nodes;
    b.inos = inos;
    CHECK(nsf_wire_build(&b, &step) == 0 && b.plan.sends >= 2);
    CHECK(reqs[0].index > 0 && reqs[0].peer_index > 0 && inos[0] != inos[1]);
    CHECK(has_addr(&nodes[1], "10.8.0.2"));
    for (k = 0; k < 2; k++) {
        close(nodes[k].rtnl);
        close(nodes[k].fd);
    }
    tmpl[2].kind = NSF_WIRE_ROUTE_ADD;
    tmpl[2].ns = 0;
    tmpl[2].peer_ns = -1;
    addr(&tmpl[2], "10.7.0.0", 24);
    tmpl[2].has_gateway = 1;
    CHECK(inet_pton(AF_INET, "10.77.0.1", tmpl[2].gateway) == 1);
    b.nreqs = 3;
    CHECK(nsf_wire_build(&b, &step) == -ENETUNREACH);
    CHECK(b.plan.failed == 2 && step == NSF_STEP_RTM_NEWROUTE);
    CHECK(nodes[0].fd == -1 && nodes[1].rtnl == -1);
    b.nodes = 0;
    CHECK(nsf_wire_build(&b, &step) == -EINVAL);
    CHECK(fds_open() == before);
}

int main(void)
{
    struct nsf_wire_ns ns[3];
    unsigned long long ino, home;
    int i, step, before;

    if (unshare(CLONE_NEWNET) < 0) {
        perror("unshare");
        return 2;
    }
    home = thread_ino();
    before = fds_open();
    ns[0].fd = nsf_wire_anon_new(NSF_LO_UP, &ino, &ns[0].rtnl, &step);
    for (i = 1; i < 3; i++) {
        ns[i].fd = nsf_anon_new(NSF_LO_UP, &ino, &step);
        ns[i].rtnl = -1; /* made by the first plan, on a helper thread */
    }
    for (i = 0; i < 3; i++) {
        CHECK(ns[i].fd >= 0);
        ns[i].seq = 0;
    }
    CHECK(ns[0].rtnl >= 0);
    wiring(ns);
    CHECK(ns[1].rtnl >= 0 && ns[2].rtnl >= 0);
    dumps(ns);
    changes(ns);
    refusals(ns);
    own(ns);
    many();
    pair_and_build();
    for (i = 0; i < 3; i++) {
        close(ns[i].rtnl);
        close(ns[i].fd);
    }
    CHECK(fds_open() == before);
    CHECK(thread_ino() == home);
    if (failures)
        return 1;
    printf("wire_driver: ok\n");
    return 0;
}
