"""pids / identify: netns_fast against ip, pyroute2 and a bare C scan.

    python benchmarks/procs.py            # 4000 idle processes, 21 rounds
    python benchmarks/procs.py --quick    # 200 processes, 5 rounds (smoke)

The benchmark isolates itself: it re-executes under ``unshare -m -p -f
--mount-proc`` (a private mount namespace with a tmpfs on /run/netns, and a
private pid namespace, so /proc holds only its own processes and nothing
survives it). A small C forker started by the benchmark makes N children
blocked in pause(), half of them inside one namespace made by the benchmark;
every child is killed by pid at the end, also on error.

Rivals, side by side in every round (the order rotates each round):
- netns_fast API: pids(), pids(threads=1), pids_by_netns(), identify(pid);
- ``ip netns pids NAME`` and ``ip netns identify PID`` run as processes
  (posix_spawn + waitpid, stdout to /dev/null);
- pyroute2.netns.ns_pids() and pid_to_ns();
- a bare single-threaded C scan like ip's (readdir of an open /proc, then
  fstatat(PID/ns/net) relative to it), timed inside its own process: the
  single-thread limit.

Prints the median µs per operation and the ratio to ip's wall time.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Callable

from _bench import RUN_DIR, compile_c, isolate

NAME = "nsf-bench-procs"
IP = shutil.which("ip") or "/usr/sbin/ip"

FORKER_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* forker N NSPATH K: N children blocked in pause(), the first K inside the
 * network namespace NSPATH. Prints their pids, then reaps them. */
int main(int argc, char **argv)
{
    int n, k, i, nsfd;

    if (argc != 4)
        return 2;
    n = atoi(argv[1]);
    k = atoi(argv[3]);
    nsfd = open(argv[2], O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
        perror("open");
        return 1;
    }
    for (i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            break;
        }
        if (pid == 0) {
            /* Not holding the pipe: the reader sees EOF from the parent. */
            close(1);
            if (i < k && setns(nsfd, CLONE_NEWNET) < 0)
                _exit(1);
            close(nsfd);
            for (;;)
                pause();
        }
        printf("%d\n", (int)pid);
    }
    fclose(stdout);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    return 0;
}
"""

SCAN_C = r"""
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* scan NSPATH COUNT: COUNT single-threaded passes like ip's netns pids,
 * timed inside the process; prints the mean microseconds of one pass and
 * the match count. */
static int is_pid(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static int one_scan(const struct stat *target)
{
    struct dirent *e;
    struct stat st;
    char path[300];
    int dfd, found = 0;
    DIR *dir;

    dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    dir = fdopendir(dup(dfd));
    while ((e = readdir(dir))) {
        if (!is_pid(e->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/ns/net", e->d_name);
        if (fstatat(dfd, path, &st, 0) < 0)
            continue;
        found += st.st_dev == target->st_dev && st.st_ino == target->st_ino;
    }
    closedir(dir);
    close(dfd);
    return found;
}

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    struct stat target;
    int i, count, found = 0;

    if (argc < 3 || stat(argv[1], &target) < 0)
        return 1;
    count = atoi(argv[2]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < count; i++)
        found = one_scan(&target);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.1f %d\n", ((t1.tv_sec - t0.tv_sec) * 1e6 +
           (t1.tv_nsec - t0.tv_nsec) / 1e3) / count, found);
    return 0;
}
"""


@contextmanager
def idle_processes(
    forker: str, n: int, nspath: str
) -> Iterator[tuple[list[int], int]]:
    """n children in pause(), n // 2 inside nspath; killed by pid after."""
    proc = subprocess.Popen(
        [forker, str(n), nspath, str(n // 2)], stdout=subprocess.PIPE
    )
    pids: list[int] = []
    try:
        assert proc.stdout is not None
        pids = [int(line) for line in proc.stdout]
        proc.stdout.close()
        if len(pids) != n:
            raise RuntimeError(f"forker made {len(pids)} of {n} processes")
        yield pids, proc.pid
    finally:
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()  # the forker reaps its children, then exits


def spawn_wait(argv: list[str]) -> None:
    """Run argv as a process, stdout to /dev/null; wait for it."""
    actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed")


Rival = Callable[[int], float]


def run_rounds(
    rivals: dict[str, Rival], rounds: int, target_us: float
) -> dict[str, float]:
    """Median µs per op of each rival. A warm-up call sets how many ops
    one measurement takes (about target_us); the order is shuffled every
    round, so no rival always runs after the same one."""
    counts = {
        name: max(1, min(2000, int(target_us / max(rival(1), 1.0))))
        for name, rival in rivals.items()
    }
    names = list(rivals)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = list(names)
        random.Random(r).shuffle(order)
        for name in order:
            times[name].append(rivals[name](counts[name]))
    return {n: statistics.median(t) for n, t in times.items()}


def timed(func: Callable[[], object]) -> Rival:
    """A rival that runs func count times; µs per call."""

    def run(count: int) -> float:
        # Like timeit: no cyclic GC inside the timing, so that garbage one
        # rival left (pyroute2 makes plenty) is not collected on another's
        # clock.
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            for _ in range(count):
                func()
            return (time.perf_counter() - t0) * 1e6 / count
        finally:
            gc.enable()

    return run


def main() -> int:
    """Parse the options, set everything up, run, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument(
        "--target-us",
        type=float,
        default=20000.0,
        help="time one measurement spends on a rival (repeats fast ops)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="200 processes, 5 rounds"
    )
    args = parser.parse_args()
    if args.quick:
        args.procs, args.rounds, args.target_us = 200, 5, 3000.0
    isolate(pid_namespace=True)

    import pyroute2.netns as pr_netns

    import netns_fast

    workdir = Path(tempfile.mkdtemp(prefix="nsf-bench-procs-"))
    netns_fast.add(NAME)
    try:
        forker = compile_c(FORKER_C, "forker", workdir=workdir)
        scan = compile_c(SCAN_C, "scan", workdir=workdir)
        nspath = f"{RUN_DIR}/{NAME}"
        with idle_processes(forker, args.procs, nspath) as (pids, _):
            inside = pids[0]
            expect = args.procs // 2
            deadline = time.monotonic() + 60
            while len(netns_fast.pids(NAME)) != expect:  # children setns
                if time.monotonic() > deadline:
                    raise RuntimeError("the children did not enter the netns")
                time.sleep(0.01)
            if netns_fast.identify(inside) != [NAME]:
                raise RuntimeError("identify does not find the namespace")

            def bare_scan(count: int) -> float:
                out = subprocess.run(
                    [scan, nspath, str(count)], capture_output=True, check=True
                ).stdout.split()
                if int(out[1]) != expect:
                    raise RuntimeError("bare scan miscounted")
                return float(out[0])

            rivals = {
                "netns_fast.pids()": timed(lambda: netns_fast.pids(NAME)),
                "netns_fast.pids(threads=1)": timed(
                    lambda: netns_fast.pids(NAME, threads=1)
                ),
                "netns_fast.pids_by_netns()": timed(netns_fast.pids_by_netns),
                "ip netns pids (process)": timed(
                    lambda: spawn_wait([IP, "netns", "pids", NAME])
                ),
                "pyroute2 ns_pids()": timed(
                    lambda: pr_netns.ns_pids(nspath=RUN_DIR)
                ),
                "bare C scan, 1 thread (timed inside)": bare_scan,
                "netns_fast.identify(pid)": timed(
                    lambda: netns_fast.identify(inside)
                ),
                "ip netns identify PID (process)": timed(
                    lambda: spawn_wait([IP, "netns", "identify", str(inside)])
                ),
                "pyroute2 pid_to_ns()": timed(
                    lambda: pr_netns.pid_to_ns(inside, nspath=RUN_DIR)
                ),
            }
            medians = run_rounds(rivals, args.rounds, args.target_us)
            nproc = sum(1 for e in os.listdir("/proc") if e.isdigit())
    finally:
        netns_fast.delete(NAME)
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"{args.procs} idle processes ({expect} inside {NAME}), "
        f"{args.rounds} rounds, {os.cpu_count()} CPUs; median µs per op"
    )
    print(f"(/proc now lists {nproc} processes of this pid namespace)")
    ip_pids = medians["ip netns pids (process)"]
    ip_ident = medians["ip netns identify PID (process)"]
    print(f"{'rival':<44}{'µs/op':>12}{'x ip':>8}")
    for name, us in medians.items():
        base = (
            ip_ident if "identify" in name or "pid_to_ns" in name else ip_pids
        )
        print(f"{name:<44}{us:>12.1f}{us / base:>8.2f}")
    ratio = medians["netns_fast.pids()"] / ip_pids
    verdict = "met" if ratio <= 0.5 else "NOT met"
    print(f"goal pids() <= 0.5x ip netns pids: {ratio:.2f}x, {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
