"""Per-test namespace acquire and release, as the netns fixture does it.

Rivals, side by side in one run (each cycle: get a fresh namespace with its
loopback up, run a simulated test body, give it back):

- pool, anonymous:     Pool.acquire() ... handle.close()
- pool, named:         Pool(named=True): the same, with a name in /run/netns
- new/close:           Netns.new() / close(): anonymous, no pool
- add/delete:          Netns.create(name) (ip netns add + lo up) / close()
- pyroute2:            pyroute2.netns.create(name) / remove(name) (lo stays
                       down: pyroute2 needs an IPRoute round trip for it)

Then the stress run: CYCLES acquire/release cycles with no test body (the
pool is outrun on purpose), printing the backlog signal over time: pending
(deleted namespaces whose kernel teardown has not started, seen through
RTM_DELNSID), its highest value, and how often creation was held back. The
bound is max_pending + size + outstanding.

Usage: python benchmarks/pool.py [--quick] [--cycles N] [--work MS]
It re-executes itself in a private mount namespace with a tmpfs on
/run/netns, so the host's namespaces are never touched.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from _bench import busy, isolate, quantile


def sunreclaim_kib() -> int:
    """SUnreclaim from /proc/meminfo (unreclaimable slab), in KiB."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("SUnreclaim:"):
                return int(line.split()[1])
    return 0


Rival = tuple[str, Callable[[], object], Callable[[object], None]]


def measure(
    rival: Rival, cycles: int, work: float
) -> tuple[list[float], list[float]]:
    """Acquire and release times (seconds) of each cycle."""
    _, get, put = rival
    acq, rel = [], []
    for _ in range(cycles):
        t0 = time.perf_counter()
        ns = get()
        t1 = time.perf_counter()
        busy(work)
        t2 = time.perf_counter()
        put(ns)
        t3 = time.perf_counter()
        acq.append(t1 - t0)
        rel.append(t3 - t2)
    return acq, rel


def us(values: list[float], q: float = 0.5) -> float:
    """The q-quantile of values, in µs."""
    return quantile(values, q) * 1e6


def side_by_side(cycles: int, work: float) -> None:
    """The per-test table."""
    from netns_fast import Netns, Pool

    counter = iter(range(10**9))
    rivals: list[Rival] = []
    anon = Pool(8)
    named = Pool(8, named=True, prefix="bench-pool-")
    rivals.append(("pool, anonymous", anon.acquire, lambda ns: ns.close()))
    rivals.append(("pool, named", named.acquire, lambda ns: ns.close()))
    rivals.append(("new/close", Netns.new, lambda ns: ns.close()))
    rivals.append(
        (
            "add/delete",
            lambda: Netns.create(f"bench-{next(counter)}"),
            lambda ns: ns.close(),
        )
    )
    try:
        from pyroute2 import netns as pr2

        def pr2_get() -> str:
            name = f"bench-pr2-{next(counter)}"
            pr2.create(name)
            return name

        rivals.append(("pyroute2 create/remove", pr2_get, pr2.remove))
    except ImportError:
        print("(pyroute2 not installed: its row is left out)")
    time.sleep(0.3)  # let the pools fill
    rows = []
    for rival in rivals:
        n = cycles if not rival[0].startswith("pyroute2") else cycles // 4
        measure(rival, max(2, n // 10), work)  # warm-up
        acq, rel = measure(rival, n, work)
        rows.append((rival[0], n, us(acq), us(acq, 0.9), us(rel)))
    anon.close()
    named.close()
    base = rows[0][2] + rows[0][4]
    print(f"\nper test (simulated test body: {work * 1e3:.1f} ms busy)")
    print(
        f"{'rival':<24}{'n':>6}{'acquire med':>13}{'p90':>10}"
        f"{'release med':>13}{'acq+rel':>10}{'vs pool':>9}"
    )
    for name, n, a50, a90, r50 in rows:
        total = a50 + r50
        print(
            f"{name:<24}{n:>6}{a50:>11.1f}µs{a90:>8.1f}µs{r50:>11.1f}µs"
            f"{total:>8.1f}µs{total / base:>8.1f}x"
        )
    goal = "met" if rows[0][2] <= 50 else "NOT met"
    print(f"pool acquire median {rows[0][2]:.1f} µs: goal <= 50 µs {goal}")


def stress(cycles: int) -> None:
    """Outrun the kernel's teardown and watch the backlog stay bounded."""
    from netns_fast import Pool

    size, max_pending = 16, 256
    bound = max_pending + size + 1
    print(
        f"\nstress: {cycles} acquire/release cycles, no test body "
        f"(size={size}, max_pending={max_pending}, bound={bound})"
    )
    print(
        f"{'cycles':>8}{'sec':>8}{'pending':>9}{'max':>6}{'freed':>8}"
        f"{'throttled':>11}{'ready':>7}{'SUnreclaim':>12}"
    )
    slab0 = sunreclaim_kib()
    start = time.perf_counter()
    step = max(1, cycles // 10)
    with Pool(size, max_pending=max_pending) as pool:
        for i in range(1, cycles + 1):
            pool.acquire(timeout=60).close()
            if i % step == 0:
                st = pool.stats()
                print(
                    f"{i:>8}{time.perf_counter() - start:>8.2f}"
                    f"{st.pending:>9}{st.pending_max:>6}{st.freed:>8}"
                    f"{st.throttled:>11}{st.ready:>7}"
                    f"{sunreclaim_kib() - slab0:>+10}KiB"
                )
        elapsed = time.perf_counter() - start
        drained = pool.drain(30.0)
        st = pool.stats()
    print(
        f"{cycles / elapsed:.0f} cycles/s; backlog max {st.pending_max} "
        f"(bound {bound}: {'kept' if st.pending_max <= bound else 'EXCEEDED'})"
        f"; drained: {drained}; signal working: {st.observing or drained}"
    )


def main() -> None:
    """Parse the options, isolate, run both parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--cycles", type=int, help="stress cycles")
    parser.add_argument(
        "--work", type=float, default=1.0, help="test body, ms (default 1)"
    )
    args = parser.parse_args()
    isolate()
    per_test = 100 if args.quick else 1000
    cycles = args.cycles or (1000 if args.quick else 10000)
    side_by_side(per_test, args.work / 1e3)
    stress(cycles)


if __name__ == "__main__":
    main()
