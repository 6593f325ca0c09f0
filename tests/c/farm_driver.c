/* Drives the namespace-file open (nsf_open_ns in csrc/handle.c, and
 * nsf_spawn's open in csrc/exec.c) and the pool (csrc/pool.c) under the
 * sanitizers: a FIFO, a
 * plain file, a missing file and a namespace of another type are refused
 * at once; a named pool's name is bound to the namespace it hands out; a
 * pool whose names are taken fails, raises the error with its name, keeps
 * the taken files and recovers; a pool of pre-wired topologies (a named
 * and an anonymous node, a veth with addresses between them) hands out
 * fresh wired pairs with their fds, sockets and indexes, and one whose
 * wiring the kernel refuses fails with the request and the kernel's text,
 * leaving no name. Usage: farm_driver RUN_DIR (an empty
 * directory of a private tmpfs). Prints "farm_driver: ok", exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "steps.h"
#include "lifecycle.h"
#include "exec.h"
#include "handle.h"
#include "pool.h"
#include "wire.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#define TAKEN 8

static const char *run_dir;
static int rd; /* an fd of run_dir: entries are made and looked at by it */

/* Inode of the entry name of run_dir (0 if there is none). */
static ino_t ino_in(const char *name)
{
    struct stat st;

    return fstatat(rd, name, &st, 0) == 0 ? st.st_ino : 0;
}

/* nsf_open_ns(path) fails with -err at want_step; path is relative to
 * run_dir unless it starts with "/". */
static void check_refused(const char *path, int err, int want_step)
{
    char buf[PATH_MAX];
    int step = -1, fd;

    snprintf(buf, sizeof(buf), "%s/%s", run_dir, path);
    fd = nsf_open_ns(path[0] == '/' ? path : buf, &step);
    CHECK(fd == -err);
    CHECK(step == want_step);
    if (fd >= 0)
        close(fd);
}

static void open_ns_cases(void)
{
    int step, fd;

    fd = nsf_open_ns("/proc/thread-self/ns/net", &step);
    CHECK(fd >= 0);
    CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC);
    if (fd >= 0)
        close(fd);
    CHECK(mkfifoat(rd, "fifo", 0600) == 0);
    check_refused("fifo", EINVAL, NSF_STEP_NOT_NETNS);
    close(openat(rd, "plain", O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    check_refused("plain", EINVAL, NSF_STEP_NOT_NETNS);
    check_refused("/proc/thread-self/ns/mnt", EINVAL, NSF_STEP_NOT_NETNS);
    check_refused("missing", ENOENT, NSF_STEP_OPEN_NS);
}

/* nsf_spawn on a FIFO entry: EINVAL at setns, as for a stale entry. */
static void spawn_on_fifo(void)
{
    char *argv[] = {"true", NULL};
    struct nsf_spawn_req req;
    int flags[] = {NSF_SPAWN_FULL, 0}, i, step;

    memset(&req, 0, sizeof(req));
    req.run_dir = run_dir;
    req.file = "true";
    req.argv = argv;
    req.fd_in = req.fd_out = req.fd_err = -1;
    for (i = 0; i < 2; i++) {
        req.flags = flags[i];
        req.name = "fifo";
        CHECK(nsf_spawn(&req, &step) == -EINVAL);
        CHECK(step == NSF_STEP_SETNS_NET);
        req.name = "missing";
        CHECK(nsf_spawn(&req, &step) == -ENOENT);
        CHECK(step == NSF_STEP_OPEN_NS);
    }
    unlinkat(rd, "fifo", 0);
    unlinkat(rd, "plain", 0);
}

static struct nsf_pool *open_pool(const char *dir, const char *prefix,
                                  int fail_ms)
{
    struct nsf_pool_config cfg = {
        .run_dir = dir, .prefix = prefix, .size = 1, .threads = 1,
        .flags = NSF_LO_UP, .max_pending = 64, .batch = 8,
        .batch_delay_us = 1000, .stuck_ms = 10000, .fail_ms = fail_ms};
    struct nsf_pool *p = NULL;
    int step;

    CHECK(nsf_pool_open(&cfg, &p, &step) == 0);
    return p;
}

static void close_pool(struct nsf_pool *p)
{
    int step;

    CHECK(nsf_pool_close(p, &step) == 0);
    nsf_pool_free(p);
}

/* A named pool binds each name to the namespace it hands out. */
static void named_pool(void)
{
    struct nsf_pool *p = open_pool(run_dir, "n-", 1000);
    struct nsf_pool_item it;
    struct stat st;
    int i, step;

    for (i = 0; p && i < 3; i++) {
        CHECK(nsf_pool_acquire(p, 10000, &it, &step) == 0);
        CHECK(fstat(it.fd, &st) == 0 && st.st_ino == it.ino);
        CHECK(ino_in(it.name) == it.ino);
        CHECK(stat("/proc/thread-self/ns/net", &st) == 0);
        CHECK(it.ino != st.st_ino);
        nsf_pool_release(p, &it);
        CHECK(ino_in(it.name) == 0);
    }
    if (p)
        close_pool(p);
}

/* Names taken by someone else's files: the pool fails, acquire raises the
 * error with the name once failing, never deletes those files, and the
 * first free name works. */
static void failing_pool(void)
{
    struct nsf_pool_stats st;
    struct nsf_pool_item it;
    struct nsf_pool *p;
    char name[32];
    int i, rc = -1, step, raised = 0;

    for (i = 1; i <= TAKEN; i++) {
        snprintf(name, sizeof(name), "f-%d", i);
        close(openat(rd, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    }
    p = open_pool(run_dir, "f-", 0);
    for (i = 0; p && i <= TAKEN && rc != 0; i++) {
        rc = nsf_pool_acquire(p, -1, &it, &step);
        if (rc == 0)
            break;
        CHECK(rc == -EEXIST && step == NSF_STEP_CREATE_NAME);
        CHECK(strncmp(it.name, "f-", 2) == 0 && atoi(it.name + 2) >= 5 &&
              atoi(it.name + 2) <= TAKEN);
        raised++;
    }
    CHECK(raised >= 1);
    CHECK(rc == 0 && strcmp(it.name, "f-9") == 0);
    if (p && rc == 0) {
        CHECK(nsf_pool_stats(p, &st) == 0);
        CHECK(st.failing == 0 && st.last_error == -EEXIST);
        CHECK(st.last_step == NSF_STEP_CREATE_NAME);
        CHECK(strcmp(st.last_name, "f-8") == 0);
        nsf_pool_release(p, &it);
    }
    if (p)
        close_pool(p);
    for (i = 1; i <= TAKEN; i++) {
        struct stat fst;

        snprintf(name, sizeof(name), "f-%d", i);
        CHECK(fstatat(rd, name, &fst, 0) == 0 && S_ISREG(fst.st_mode));
        unlinkat(rd, name, 0);
    }
}

/* A wired pair over nodes 0 (named) and 1: a veth eth0 - eth0, up, a
 * /24 on each end; with bad, a route via an unreachable gateway too. */
static int pair_plan(struct nsf_wire_req *q, int bad)
{
    const char *ips[] = {"10.0.0.1", "10.0.0.2"};
    int k, n = 0;

    memset(q, 0, 4 * sizeof(*q));
    q[n].kind = NSF_WIRE_VETH;
    q[n].ns = 0;
    q[n].peer_ns = 1;
    q[n].name = q[n].peer_name = "eth0";
    q[n++].up = 1;
    for (k = 0; k < 2; k++, n++) {
        q[n].kind = NSF_WIRE_ADDR_ADD;
        q[n].ns = k;
        q[n].peer_ns = -1;
        q[n].name = "eth0";
        q[n].family = AF_INET;
        q[n].prefix = 24;
        inet_pton(AF_INET, ips[k], q[n].addr);
    }
    if (bad) {
        q[n].kind = NSF_WIRE_ROUTE_ADD;
        q[n].ns = 0;
        q[n].peer_ns = -1;
        q[n].family = AF_INET;
        q[n].prefix = 24;
        inet_pton(AF_INET, "10.9.0.0", q[n].addr);
        q[n].has_gateway = 1;
        inet_pton(AF_INET, "10.77.0.1", q[n++].gateway);
    }
    return n;
}

static struct nsf_pool *open_topology_pool(const char *prefix, int bad)
{
    static const int flags[] = {NSF_POOL_NODE_NAMED, 0};
    struct nsf_wire_req q[4];
    struct nsf_pool_config cfg = {
        .run_dir = run_dir, .prefix = prefix, .size = 2, .threads = 1,
        .flags = NSF_LO_UP, .max_pending = 8, .batch = 4,
        .batch_delay_us = 1000, .stuck_ms = 10000, .fail_ms = 0,
        .nodes = 2, .node_flags = flags, .wiring = q};
    struct nsf_pool *p = NULL;
    int step;

    cfg.nwiring = pair_plan(q, bad); /* copied at open: q may go */
    CHECK(nsf_pool_open(&cfg, &p, &step) == 0);
    return p;
}

/* Pre-wired pairs: fresh namespaces, node 0 named, the fds, sockets and
 * indexes handed over at acquire; released whole. */
static void topology_pool(void)
{
    struct nsf_pool *p = open_topology_pool("t-", 0);
    struct nsf_pool_item it;
    struct nsf_pool_net *net;
    struct stat st;
    char name[64];
    int i, k, step, *t;

    for (i = 0; p && i < 4; i++) {
        CHECK(nsf_pool_acquire(p, 10000, &it, &step) == 0);
        net = it.net;
        CHECK(net && net->nodes == 2 && net->nreqs == 3);
        if (!net)
            break;
        t = net->taken;
        for (k = 0; k < 2; k++) {
            CHECK(t[2 * k] == net->node[k].fd && t[2 * k + 1] >= 0);
            CHECK(net->ns[k].rtnl == -1); /* the taker's now */
            CHECK(fstat(t[2 * k], &st) == 0 && st.st_ino == net->inos[k]);
            close(t[2 * k + 1]);
        }
        CHECK(ino_in(net->node[0].name) == net->inos[0]);
        CHECK(net->node[1].name[0] == '\0');
        CHECK(t[4] > 0 && t[5] > 0); /* the veth's index, its peer's */
        snprintf(name, sizeof(name), "%s", net->node[0].name);
        nsf_pool_release(p, &it); /* net is the deleter's from here */
        CHECK(name[0] && ino_in(name) == 0);
    }
    if (!p)
        return;
    /* An item still out when its pool is closed and freed stays valid:
     * the taker deletes its names, closes its fds and forgets it (LSan
     * reports the topology's arrays if that frees nothing). */
    CHECK(nsf_pool_acquire(p, 10000, &it, &step) == 0 && it.net);
    close_pool(p);
    if (!it.net)
        return;
    net = it.net;
    t = net->taken;
    CHECK(nsf_delete(run_dir, net->node[0].name, &step) == 0);
    for (k = 0; k < 2; k++) {
        close(t[2 * k]);
        close(t[2 * k + 1]);
    }
    nsf_pool_item_forget(&it);
    CHECK(it.net == NULL);
}

/* A topology the kernel refuses half-way: acquire fails with the route's
 * error, its request and the kernel's text; no name is left. */
static void failing_topology_pool(void)
{
    struct nsf_pool *p = open_topology_pool("b-", 1);
    struct nsf_pool_item it;
    int rc, step;

    if (!p)
        return;
    rc = nsf_pool_acquire(p, 10000, &it, &step);
    CHECK(rc == -ENETUNREACH && step == NSF_STEP_RTM_NEWROUTE);
    CHECK(it.request == 3 && strstr(it.msg, "gateway") != NULL);
    close_pool(p);
    CHECK(ino_in("b-1.0") == 0);
}

int main(int argc, char **argv)
{
    int step;

    if (argc != 2)
        return 2;
    run_dir = argv[1];
    /* Made a mount point first: an fd opened before would see the
     * directory under the self-bind, without the names mounted on it. */
    CHECK(nsf_prepare_run_dir(run_dir, &step) == 0);
    rd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(rd >= 0);
    open_ns_cases();
    spawn_on_fifo();
    named_pool();
    failing_pool();
    topology_pool();
    failing_topology_pool();
    close(rd);
    if (failures)
        return 1;
    printf("farm_driver: ok\n");
    return 0;
}
