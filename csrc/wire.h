/* Wiring: the links, addresses, routes and sysctls of network namespaces,
 * over an rtnetlink socket that lives in each namespace.
 *
 * This file is both a C header (included by wire.c) and part of the cffi
 * cdef, so it holds declarations only: no preprocessor lines, no
 * definitions.
 *
 * A plan is a table of namespaces and a list of requests. nsf_wire_run
 * applies the requests in order, as if they were sent one by one, but
 * sends them in as few datagrams as that order allows: the requests of one
 * namespace go out together (several per send, their acks read together
 * with recvmmsg) until one needs what an earlier one made (the index of a
 * link it created, a link that lands in another namespace). Each
 * namespace's requests go to a NETLINK_ROUTE socket made inside it; the
 * calling thread never changes namespace (a socket the plan lacks, and a
 * sysctl file, is opened by a short-lived helper thread that enters the
 * namespace; see NSF_WIRE_OWN_THREAD). Nothing is ever made in the
 * caller's namespace unless the plan names it: a veth pair is one
 * RTM_NEWLINK sent to the first end's socket, its peer placed by
 * IFLA_NET_NS_FD.
 *
 * On failure the plan stops at the first request that failed (in request
 * order), and, unless NSF_WIRE_KEEP, removes again everything the plan
 * made (links, addresses, routes); changes to what existed before (a link
 * set up or down, a new MTU, a rename, a move, a deleted link, a sysctl
 * written) are not undone.
 *
 * Every function returns >= 0 or -errno and reports the failing step
 * (steps.h) through *step; the kernel's extended-ack text of a refusal is
 * in the plan's msg. No function calls the Python API; all run with the
 * GIL released, from any thread, and leave the calling thread in its
 * namespace (except that NSF_WIRE_OWN_THREAD lets nsf_wire_run move it and
 * bring it back, checked). A socket (nsf_wire_ns.rtnl) is used by one
 * thread at a time.
 */

enum nsf_wire_sizes {
    NSF_WIRE_NAME_MAX = 16, /* IFNAMSIZ: 15 bytes and the NUL */
    NSF_WIRE_MAC_MAX = 32,  /* MAX_ADDR_LEN */
    NSF_WIRE_MSG_MAX = 256, /* room for the kernel's error text */
    NSF_WIRE_PAIR_REQS = 5  /* requests of a pair's plan, at most */
};

/* What a request does (nsf_wire_req.kind). Links are named by their name
 * in the request's namespace. */
enum nsf_wire_kind {
    NSF_WIRE_VETH = 1,    /* a veth pair: name in ns, peer_name in peer_ns
                             (-1: ns too); up, mtu (both ends), mac,
                             peer_mac, master (of name, in ns) */
    NSF_WIRE_DUMMY,       /* a dummy device: up, mtu, mac, master */
    NSF_WIRE_BRIDGE,      /* a bridge: up, mtu, mac, master */
    NSF_WIRE_LINK_SET,    /* name: up (1 up, 0 down, -1 as is), mtu (0: as
                             is), mac, master (NULL: as is, "": none) */
    NSF_WIRE_LINK_RENAME, /* name becomes peer_name */
    NSF_WIRE_LINK_MOVE,   /* name moves into peer_ns, as peer_name when
                             that is not NULL */
    NSF_WIRE_LINK_DEL,    /* name is deleted (a veth: both ends) */
    NSF_WIRE_LINK_GET,    /* name is read into *link */
    NSF_WIRE_ADDR_ADD,    /* family, addr/prefix on name; flags: IFA_F_*
                             (e.g. IFA_F_NODAD) */
    NSF_WIRE_ADDR_DEL,    /* family, addr/prefix off name */
    NSF_WIRE_ROUTE_ADD,   /* family, addr/prefix (prefix 0: default) via
                             gateway (has_gateway) and/or device name
                             (NULL: none), src (has_src), metric, table
                             (0: main) */
    NSF_WIRE_ROUTE_DEL,   /* the same fields: the route removed */
    NSF_WIRE_SYSCTL,      /* name is a path under /proc/sys (e.g.
                             "net/ipv4/ip_forward"), opened inside ns;
                             value, when not NULL, is written; then up to
                             out_cap - 1 bytes are read into out (NUL
                             ended; out_len bytes) when out is not NULL */
    NSF_WIRE_WAIT_UP      /* wait at most timeout_ms for name to be up:
                             IFF_UP, carrier and operstate up (or unknown,
                             for devices that do not report one), from
                             RTNLGRP_LINK events; then read into *link
                             when link is not NULL */
};

/* nsf_wire_plan.flags */
enum nsf_wire_flags {
    NSF_WIRE_KEEP = 1,      /* on failure keep what the plan made */
    NSF_WIRE_OWN_THREAD = 2 /* the calling thread is the caller's own C
                               thread: sockets and sysctl files are opened
                               by moving it (setns, then back, checked)
                               instead of on a helper thread */
};

/* A link as the kernel reports it (RTM_NEWLINK). */
struct nsf_wire_link {
    int index;
    int master;       /* index of its bridge; 0: none */
    int link;         /* IFLA_LINK: a veth's peer index; 0: none */
    int link_netnsid; /* the nsid of the peer's namespace; -1: the same
                         namespace, or none */
    unsigned int flags; /* IFF_* (IFF_UP, IFF_LOWER_UP, IFF_RUNNING ...) */
    unsigned int mtu;
    int operstate;    /* IF_OPER_* (6 up, 2 down, 0 unknown) */
    int carrier;      /* IFLA_CARRIER: 1, 0, -1 not reported */
    int mac_len;
    unsigned char mac[32];
    char name[16];
    char kind[16];    /* IFLA_INFO_KIND: "veth", "bridge", "dummy"; "" */
};

/* An address (RTM_NEWADDR). */
struct nsf_wire_addr {
    int family;          /* AF_INET, AF_INET6 */
    int prefixlen;
    int index;           /* its link */
    int scope;           /* RT_SCOPE_* */
    unsigned int flags;  /* IFA_F_* (IFA_FLAGS) */
    unsigned char address[16]; /* IFA_LOCAL, else IFA_ADDRESS */
    char label[16];      /* IFA_LABEL; "" */
};

/* A route (RTM_NEWROUTE). */
struct nsf_wire_route {
    int family;
    int dst_len;         /* 0: the default route */
    unsigned int table;  /* RT_TABLE_* (254 main, 255 local) */
    int protocol;        /* RTPROT_* */
    int scope;
    int type;            /* RTN_* (1 unicast, 2 local ...) */
    int oif;             /* index of its device; 0: none */
    unsigned int priority; /* the metric; 0: none */
    unsigned int flags;  /* RTM_F_* / RTNH_F_* of rtm_flags */
    int has_gateway;
    int has_prefsrc;
    unsigned char dst[16];
    unsigned char gateway[16];
    unsigned char prefsrc[16];
};

/* A namespace of a plan. */
struct nsf_wire_ns {
    int fd;           /* the namespace (for setns and IFLA_NET_NS_FD);
                         -1: the calling thread's own */
    int rtnl;         /* its NETLINK_ROUTE socket (made by nsf_wire_run
                         or nsf_wire_anon_new); -1: nsf_wire_run makes one
                         and leaves it here, the caller's to keep and to
                         close (also when the run failed) */
    unsigned int seq; /* the socket's last sequence number: kept with it */
};

/* One request. Unused fields are 0 (NULL), except ns fields (-1). */
struct nsf_wire_req {
    int kind;               /* enum nsf_wire_kind */
    int ns;                 /* index of its namespace in the plan */
    int peer_ns;            /* VETH, LINK_MOVE: the other namespace; -1 */
    const char *name;       /* the link (SYSCTL: the path) */
    const char *peer_name;  /* VETH: the peer; RENAME, MOVE: new name */
    const char *master;     /* the bridge to be a port of (see kinds) */
    int up;                 /* 1 up, 0 down (creations: 0 or 1) */
    unsigned int mtu;       /* 0: the default / as is */
    int mac_len;            /* 0: none (a random one); else bytes of mac */
    unsigned char mac[32];
    int peer_mac_len;
    unsigned char peer_mac[32];
    int family;             /* ADDR_*, ROUTE_*: AF_INET or AF_INET6 */
    int prefix;             /* prefix length of addr */
    unsigned char addr[16]; /* ADDR_*: the address; ROUTE_*: the dst */
    int has_gateway;
    unsigned char gateway[16];
    int has_src;
    unsigned char src[16];  /* ROUTE_*: the preferred source */
    unsigned int flags;     /* ADDR_ADD: IFA_F_* */
    unsigned int metric;    /* ROUTE_*: 0: the kernel's default */
    unsigned int table;     /* ROUTE_*: 0: main */
    const char *value;      /* SYSCTL: the value written; NULL: none */
    char *out;              /* SYSCTL: the value read; NULL: none */
    int out_cap;
    int timeout_ms;         /* WAIT_UP */
    struct nsf_wire_link *link; /* LINK_GET, WAIT_UP: the record read */
    /* Results. */
    int index;              /* the link's index after the request (made,
                               read, waited for); 0: not known */
    int peer_index;         /* VETH: the peer's index */
    int out_len;            /* SYSCTL: bytes read into out */
};

/* A plan: its namespaces, its requests, and the outcome. */
struct nsf_wire_plan {
    struct nsf_wire_ns *ns;
    int nns;
    struct nsf_wire_req *reqs;
    int nreqs;
    int flags;             /* enum nsf_wire_flags */
    /* Outcome. */
    int rc;                /* 0, or the -errno of the failure */
    int step;              /* its step */
    int failed;            /* index of the request that failed; -1 none
                              (a failure of the plan as a whole: making a
                              socket, a helper thread, memory) */
    int undone;            /* what the plan made was removed again */
    int sends;             /* datagrams of requests sent (undo's aside) */
    char msg[256];         /* the kernel's error text; "" none */
};

/* Run a plan (see the top of this file). Returns plan->rc; *step is
 * plan->step. Steps: WIRE_REQUEST, the RTM_* of each kind, OPEN_SYSCTL,
 * READ_SYSCTL, WRITE_SYSCTL, WAIT_LINK; for a socket: SOCKET_NETLINK,
 * SEND_NETLINK, RECV_NETLINK, PTHREAD_CREATE, SETNS_NET, OPEN_THREAD_NET,
 * RESTORE_NET, VERIFY_NET; MALLOC. */
int nsf_wire_run(struct nsf_wire_plan *plan, int *step);

/* Run n independent plans (no namespace in two of them) on up to
 * nthreads C threads (0: one per CPU), each plan as nsf_wire_run; each
 * plan's outcome is in it. Returns 0, or -errno when no thread could
 * start and the calling thread ran them (step PTHREAD_CREATE). */
int nsf_wire_run_many(struct nsf_wire_plan *plans, int n, int nthreads,
                      int *step);

/* One end of a veth pair for nsf_wire_pair. */
struct nsf_wire_end {
    char name[16];           /* the link's name (NUL ended) */
    int mac_len;             /* 0: a random MAC */
    unsigned char mac[32];
    int family;              /* its address: AF_INET, AF_INET6; 0: none */
    int prefix;
    unsigned int flags;      /* IFA_F_* of the address (IFA_F_NODAD) */
    unsigned char addr[16];
    struct nsf_wire_link link; /* out: the end's record, read last */
};
/* The plan of Netns.veth in one struct (one allocation, one call): a veth
 * pair, end[0] in ns[0] and end[1] in ns[plan.nns - 1] (plan.nns 1: both
 * ends in one namespace), up and mtu on both ends, an address on each end
 * that has one, both records read. The caller sets ns, end (all but link),
 * up, mtu, plan.nns and plan.flags. */
struct nsf_wire_pair {
    struct nsf_wire_ns ns[2];
    struct nsf_wire_end end[2];
    int up;
    unsigned int mtu;
    struct nsf_wire_plan plan; /* the outcome, as nsf_wire_run's; failed
                                  numbers the requests in their order: the
                                  veth, the peer's address (if any), the
                                  peer's read, this end's address (if
                                  any), this end's read */
};
/* Run the pair's plan (nsf_wire_run: the same sends, the same undo).
 * Returns plan.rc; steps as nsf_wire_run's. */
int nsf_wire_pair(struct nsf_wire_pair *pair, int *step);
/* The requests of the pair's plan, into reqs[0 .. NSF_WIRE_PAIR_REQS)
 * (they point into pair); how many, or -EINVAL for a bad pair. */
int nsf_wire_pair_reqs(struct nsf_wire_pair *pair, struct nsf_wire_req *reqs);
/* A topology's anonymous namespaces and their wiring, in one call
 * (Topology.build): nodes new namespaces (nsf_wire_anon_new; loopback up
 * with NSF_LO_UP in flags, handle.h), then the requests tmpl[0 .. nreqs)
 * over nodes 0 .. nodes - 1, copied into reqs[0 .. nreqs) and run there
 * (their results land in reqs; records and sysctl values are not read
 * back). ns[0 .. nodes) receives each namespace's fd and socket, inos
 * its inode. On failure nothing is left: the namespaces made are closed,
 * and all that was made in them goes with them; plan.failed tells a
 * failed request (-1: making a namespace). */
struct nsf_wire_build {
    int nodes;
    int flags;
    const struct nsf_wire_req *tmpl;
    struct nsf_wire_req *reqs;
    int nreqs;
    struct nsf_wire_ns *ns;
    unsigned long long *inos;
    struct nsf_wire_plan plan; /* out: as nsf_wire_run's */
};
/* Returns plan.rc; steps as nsf_wire_anon_new's and nsf_wire_run's. */
int nsf_wire_build(struct nsf_wire_build *b, int *step);
/* The links (RTM_GETLINK dump), addresses (RTM_GETADDR; family 0: all)
 * and routes (RTM_GETROUTE, every table; family 0: all) of ns, into
 * out[0 .. cap). Returns how many there are (more than cap: call again
 * with room for them), or -errno. A socket is made as by nsf_wire_run
 * when ns->rtnl is -1. Steps RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, and
 * a socket's. */
int nsf_wire_links(struct nsf_wire_ns *ns, struct nsf_wire_link *out,
                   int cap, int *step);
int nsf_wire_addrs(struct nsf_wire_ns *ns, int family,
                   struct nsf_wire_addr *out, int cap, int *step);
int nsf_wire_routes(struct nsf_wire_ns *ns, int family,
                    struct nsf_wire_route *out, int cap, int *step);

/* nsf_anon_new (handle.h) that also makes the namespace's NETLINK_ROUTE
 * socket while the calling thread is inside, into *rtnl: a namespace
 * ready to be wired without a helper thread. Steps: nsf_anon_new's and
 * SOCKET_NETLINK. */
int nsf_wire_anon_new(int flags, unsigned long long *ino, int *rtnl,
                      int *step);
