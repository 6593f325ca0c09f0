"""Churn: N adds then N deletes of named namespaces, every rival side by side.

Rivals, each timed over the same N in the same run, rounds interleaved:
- netns_fast.add / delete (serial, in-process API)
- netns_fast.add_many / delete_many (C threads, one per CPU)
- ``ip netns add`` / ``ip netns del`` run as processes
- ``ip -batch`` (one ip process for all N)
- pyroute2.netns.create / remove
- a bare-syscall C loop built here: the physical limit, serial (open
  O_EXCL, unshare, bind mount, setns back) and with one thread per CPU
- with --bind-methods, the serial C loop again with the bind made through
  the created file's fd, as add does it (open_tree + move_mount) and as
  its fallback does (mount(2) onto /proc/thread-self/fd/N), and the
  create + bind steps alone (no unshare) for each of the three binds: what
  binding by fd instead of by path costs

Each rival's adds and deletes are timed apart, with an untimed pause in
between for the kernel to finish the work the adds left behind (right after
a burst of adds, deletes are slowed by it, whoever makes them). Prints µs
per namespace for add and delete, the medians over the rounds, and
the ratios the issue sets as goals:
- API add <= 1.05x the serial C loop;
- add_many throughput >= 0.93x the parallel C loop's.

Run as root: ``python benchmarks/churn.py [--n 500] [--rounds 5] [--quick]``.
It isolates itself (private mount namespace, tmpfs on /run/netns).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from _bench import (
    RUN_DIR,
    compile_c,
    isolate,
    median,
    settle,
    settle_seconds,
    table,
)

C_LOOP = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

static int n, bind_mode; /* 0: by path, 1: open_tree, 2: /proc fd path */
static int with_unshare = 1; /* 0: the bind step alone, one namespace */
static const char *prefix;
static atomic_int next_i;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void path_of(char *buf, size_t len, int i)
{
    snprintf(buf, len, "/run/netns/%s%d", prefix, i);
}

static void make(int i)
{
    char p[256];
    int fd;

    path_of(p, sizeof(p), i);
    fd = open(p, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0 || (bind_mode == 0 && close(fd) < 0)) {
        perror("open");
        exit(1);
    }
    if (with_unshare && unshare(CLONE_NEWNET) < 0) {
        perror("unshare");
        exit(1);
    }
    if (bind_mode == 1) {
        int tree = (int)syscall(SYS_open_tree, AT_FDCWD,
                                "/proc/thread-self/ns/net", 1 | O_CLOEXEC);
        if (tree < 0 || syscall(SYS_move_mount, tree, "", fd, "",
                                MOVE_MOUNT_F_EMPTY_PATH |
                                MOVE_MOUNT_T_EMPTY_PATH) < 0) {
            perror("open_tree/move_mount");
            exit(1);
        }
        close(tree);
    } else {
        char target[64];
        if (bind_mode == 2)
            snprintf(target, sizeof(target), "/proc/thread-self/fd/%d", fd);
        if (mount("/proc/thread-self/ns/net", bind_mode ? target : p,
                  "none", MS_BIND, NULL) < 0) {
            perror("mount");
            exit(1);
        }
    }
    if (bind_mode)
        close(fd);
}

static void *worker(void *arg)
{
    int i;

    (void)arg;
    while ((i = atomic_fetch_add(&next_i, 1)) < n)
        make(i);
    return NULL;
}

static void *del_worker(void *arg)
{
    char p[256];
    int i;

    (void)arg;
    while ((i = atomic_fetch_add(&next_i, 1)) < n) {
        path_of(p, sizeof(p), i);
        umount2(p, MNT_DETACH);
        if (unlink(p) < 0) { perror("unlink"); exit(1); }
    }
    return NULL;
}

static void run_threads(int threads, void *(*fn)(void *))
{
    pthread_t tid[64];
    int t;

    atomic_store(&next_i, 0);
    for (t = 0; t < threads; t++)
        pthread_create(&tid[t], NULL, fn, NULL);
    for (t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
}

int main(int argc, char **argv)
{
    int threads, i, saved;
    double t0, t1, td, t2;

    if (argc != 6)
        return 2;
    n = atoi(argv[1]);
    threads = atoi(argv[2]);
    prefix = argv[3];
    bind_mode = atoi(argv[5]);
    saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    with_unshare = threads >= 0;
    t0 = now();
    if (threads < 0) {
        for (i = 0; i < n; i++)
            make(i);
    } else if (threads == 0) {
        for (i = 0; i < n; i++) {
            make(i);
            if (setns(saved, CLONE_NEWNET) < 0) { perror("setns"); exit(1); }
        }
    } else {
        run_threads(threads, worker);
    }
    t1 = now();
    usleep((useconds_t)atoi(argv[4]) * 1000); /* settle, untimed */
    td = now();
    run_threads(threads > 0 ? threads : 1, del_worker);
    t2 = now();
    printf("%.9f %.9f\n", t1 - t0, t2 - td);
    return 0;
}
"""

Timing = tuple[float, float]  # seconds for all adds, for all deletes


def names_for(prefix: str, n: int) -> list[str]:
    """The N names one rival uses in one round."""
    return [f"{prefix}{i}" for i in range(n)]


def two_phases(
    n: int, make: Callable[[], object], remove: Callable[[], object]
) -> Timing:
    """Time make(), settle untimed, then time remove().

    Cyclic GC is off while timing (as in timeit), so that garbage another
    rival left (pyroute2 makes plenty) is not collected on this one's clock.
    """
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        make()
        t_add = time.perf_counter() - t0
        settle(n)
        gc.collect()
        t1 = time.perf_counter()
        remove()
        return t_add, time.perf_counter() - t1
    finally:
        gc.enable()


def each(
    func: Callable[[str], object], names: list[str]
) -> Callable[[], None]:
    """A callable that applies func to every name."""

    def run() -> None:
        for name in names:
            func(name)

    return run


def time_api_serial(n: int) -> Timing:
    """netns_fast.add / delete, one call per namespace."""
    import netns_fast

    names = names_for("api", n)
    return two_phases(
        n, each(netns_fast.add, names), each(netns_fast.delete, names)
    )


def time_api_many(n: int) -> Timing:
    """netns_fast.add_many / delete_many on one C thread per CPU."""
    import netns_fast

    names = names_for("many", n)

    def check(outcomes: list[netns_fast.Outcome]) -> None:
        if not all(o.ok for o in outcomes):
            raise SystemExit("add_many/delete_many failed")

    return two_phases(
        n,
        lambda: check(netns_fast.add_many(names)),
        lambda: check(netns_fast.delete_many(names)),
    )


def time_ip_process(n: int) -> Timing:
    """``ip netns add`` and ``ip netns del`` as one process each."""

    def ip(verb: str) -> Callable[[str], object]:
        return lambda name: subprocess.run(
            ["ip", "netns", verb, name], check=True
        )

    names = names_for("ipp", n)
    return two_phases(n, each(ip("add"), names), each(ip("del"), names))


def time_ip_batch(n: int) -> Timing:
    """``ip -batch`` with N add lines, then one with N del lines."""
    names = names_for("ipb", n)
    tmp = tempfile.mkdtemp(prefix="nsft-churn-")
    files = {}
    for verb in ("add", "del"):
        files[verb] = os.path.join(tmp, f"{verb}.batch")
        with open(files[verb], "w") as f:
            f.write("".join(f"netns {verb} {x}\n" for x in names))

    def batch(verb: str) -> Callable[[], object]:
        return lambda: subprocess.run(
            ["ip", "-batch", files[verb]], check=True
        )

    return two_phases(n, batch("add"), batch("del"))


def time_pyroute2(n: int) -> Timing:
    """pyroute2.netns.create / remove (create forks a child per call)."""
    from pyroute2 import netns as pr2

    names = names_for("pr2", n)
    return two_phases(n, each(pr2.create, names), each(pr2.remove, names))


def c_loop(
    binary: str, threads: int, bind_mode: int = 0
) -> Callable[[int], Timing]:
    """The bare C loop: serial (threads=0), on `threads` threads, or the
    create + bind steps alone (threads=-1: no unshare, one namespace bound
    n times); binds by path (bind_mode 0), by open_tree + move_mount onto
    the file's fd (1), or by mount(2) onto /proc/thread-self/fd/N (2)."""

    def run(n: int) -> Timing:
        out = subprocess.run(
            [
                binary,
                str(n),
                str(threads),
                f"c{threads}_{bind_mode}_",
                str(int(settle_seconds(n) * 1000)),
                str(bind_mode),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        return float(out[0]), float(out[1])

    return run


def plot(path: str, medians: dict[str, tuple[float, float]], n: int) -> None:
    """A horizontal bar chart of µs per add and per delete (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(medians)
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(labels) + 1.6))
    ys = range(len(labels))
    ax.barh(
        [y - 0.2 for y in ys],
        [medians[k][0] for k in labels],
        height=0.4,
        label="add",
    )
    ax.barh(
        [y + 0.2 for y in ys],
        [medians[k][1] for k in labels],
        height=0.4,
        label="delete",
    )
    for y, k in zip(ys, labels):
        ax.text(
            medians[k][0] * 1.05,
            y - 0.2,
            f"{medians[k][0]:.0f}",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(list(ys), labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("µs per namespace (median, log scale)")
    ax.set_title(f"netns churn: {n} adds then {n} deletes")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


def main() -> None:
    """Run every rival, interleaved, and print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--quick", action="store_true", help="N=50, 1 round: a smoke run"
    )
    parser.add_argument(
        "--plot",
        metavar="PNG",
        help="also draw the medians as a bar chart (needs matplotlib)",
    )
    parser.add_argument(
        "--skip-slow",
        action="store_true",
        help="leave out the per-process rivals",
    )
    parser.add_argument(
        "--bind-methods",
        action="store_true",
        help="also the serial C loop binding through the file's fd",
    )
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds = 50, 1
    isolate()

    import netns_fast

    cpus = netns_fast._sys.cpu_count()
    binary = compile_c(C_LOOP, "churn_loop")
    rivals: dict[str, Callable[[int], Timing]] = {
        "C loop, serial (limit)": c_loop(binary, 0),
        f"C loop, {cpus} threads (limit)": c_loop(binary, cpus),
        "netns_fast.add/delete": time_api_serial,
        f"netns_fast.add_many ({cpus} threads)": time_api_many,
        "ip -batch": time_ip_batch,
    }
    binds = {
        "by path": 0,
        "open_tree+move_mount": 1,
        "mount onto fd path": 2,
    }
    if args.bind_methods:
        for label, mode in binds.items():
            if mode:
                rivals[f"C loop, serial, {label}"] = c_loop(binary, 0, mode)
            rivals[f"bind step alone, {label}"] = c_loop(binary, -1, mode)
    if not args.skip_slow:
        rivals["ip netns add/del (process each)"] = time_ip_process
        try:
            import pyroute2.netns  # noqa: F401

            rivals["pyroute2 create/remove"] = time_pyroute2
        except ImportError:
            print("pyroute2 not installed: left out", file=sys.stderr)

    results: dict[str, list[Timing]] = {k: [] for k in rivals}
    order = list(rivals)
    for rnd in range(args.rounds):
        random.Random(rnd).shuffle(order)
        for key in order:
            results[key].append(rivals[key](args.n))
            if os.listdir(RUN_DIR):
                raise SystemExit(f"{key} left names behind")
            settle(args.n)
        print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)

    def us(key: str, which: int) -> float:
        return median([t[which] for t in results[key]]) / args.n * 1e6

    serial_c = us("C loop, serial (limit)", 0)
    par_c = us(f"C loop, {cpus} threads (limit)", 0)
    rows = [["rival", "add µs/ns", "del µs/ns", "add vs C serial"]]
    for key in rivals:
        rows.append(
            [
                key,
                f"{us(key, 0):9.1f}",
                f"{us(key, 1):9.1f}",
                f"{us(key, 0) / serial_c:6.2f}x",
            ]
        )
    print(
        f"\nchurn: N={args.n}, rounds={args.rounds}, medians, "
        f"kernel {os.uname().release}, {cpus} CPUs"
    )
    print(table(rows))
    api = us("netns_fast.add/delete", 0)
    many = us(f"netns_fast.add_many ({cpus} threads)", 0)
    print(
        f"\nAPI add / serial C loop add: {api / serial_c:.3f}x (goal <= 1.05x)"
    )
    print(
        f"add_many throughput / parallel C loop throughput: "
        f"{par_c / many:.3f}x (goal >= 0.93x)"
    )
    print(
        f"parallel C loop / serial C loop throughput: {serial_c / par_c:.2f}x"
    )
    if args.bind_methods:
        bare = us("bind step alone, by path", 0)
        for label in list(binds)[1:]:
            whole = us(f"C loop, serial, {label}", 0)
            alone = us(f"bind step alone, {label}", 0)
            print(
                f"bind {label} / by path: {whole / serial_c:.3f}x in an add, "
                f"{alone - bare:+.2f} µs for the bind step alone"
            )
    if args.plot:
        plot(args.plot, {k: (us(k, 0), us(k, 1)) for k in rivals}, args.n)
    if "ip netns add/del (process each)" in rivals:
        ipp = us("ip netns add/del (process each)", 0)
        print(f"ip netns add (process) / API add: {ipp / api:.1f}x slower")


if __name__ == "__main__":
    main()
