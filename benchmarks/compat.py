"""pyroute2 with and without netns_fast's switch (netns_fast.compat.install).

Rivals, side by side in one run, rounds interleaved (the switch is turned
on and off between them, in random order each round):

- ``IPRoute(netns=name)`` open + close, and open + link dump + close:
  pyroute2 forks a child per socket, the switch makes it in-process;
- ``pyroute2.netns.create(name)`` then ``remove(name)``: pyroute2 forks a
  child per create, the switch runs netns_fast's C ``add`` in the thread;
- ``pyroute2.netns.create_socket(name)`` + close: the socket alone.

Prints µs per operation (medians over the rounds) and the ratio of the
switch's time to pyroute2's.

Run as root: ``python benchmarks/compat.py [--n 200] [--rounds 7] [--quick]``.
It isolates itself (private mount namespace, tmpfs on /run/netns).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
from collections.abc import Callable

from _bench import isolate, median, settle, table

NAME = "nsft-bench-compat"


def _ipr_open_close(n: int, query: bool) -> float:
    from pyroute2 import IPRoute

    start = time.perf_counter()
    for _ in range(n):
        ipr = IPRoute(netns=NAME)
        if query:
            tuple(ipr.link("dump"))
        ipr.close()
    return time.perf_counter() - start


def _create_remove(n: int) -> float:
    import pyroute2

    netns = pyroute2.netns
    names = [f"nsft-bench-{os.getpid()}-{i}" for i in range(n)]
    start = time.perf_counter()
    for name in names:
        netns.create(name)
        netns.remove(name)
    return time.perf_counter() - start


def _create_socket(n: int) -> float:
    import pyroute2

    netns = pyroute2.netns
    start = time.perf_counter()
    for _ in range(n):
        netns.create_socket(NAME).close()
    return time.perf_counter() - start


def run(n: int, rounds: int) -> None:
    """Time every operation both ways, rounds interleaved; print."""
    import pyroute2.netns

    from netns_fast import compat

    ops: dict[str, Callable[[int], float]] = {
        "IPRoute(netns=) open+close": lambda k: _ipr_open_close(k, False),
        "IPRoute(netns=) open+dump+close": lambda k: _ipr_open_close(k, True),
        "netns.create + remove": _create_remove,
        "netns.create_socket + close": _create_socket,
    }
    pyroute2.netns.create(NAME)
    times: dict[tuple[str, bool], list[float]] = {
        (op, on): [] for op in ops for on in (False, True)
    }
    try:
        for _ in range(rounds):
            order = [(op, on) for op in ops for on in (False, True)]
            random.shuffle(order)
            for op, on in order:
                if on:
                    compat.install()
                else:
                    compat.uninstall()
                gc.collect()
                gc.disable()
                try:
                    elapsed = ops[op](n)
                finally:
                    gc.enable()
                times[(op, on)].append(elapsed / n * 1e6)
                if op == "netns.create + remove":
                    settle(n)
    finally:
        compat.uninstall()
        pyroute2.netns.remove(NAME)
    rows = [["operation", "pyroute2 µs", "with switch µs", "switch/pyroute2"]]
    for op in ops:
        theirs, ours = median(times[(op, False)]), median(times[(op, True)])
        rows.append(
            [op, f"{theirs:.1f}", f"{ours:.1f}", f"{ours / theirs:.3f}x"]
        )
    print(f"compat: n={n} per round, rounds={rounds}, medians, {_where()}")
    print(table(rows))


def _where() -> str:
    import pyroute2

    version = getattr(pyroute2, "__version__", "?")
    kernel = os.uname().release
    return f"pyroute2 {version}, kernel {kernel}, {os.cpu_count()} CPUs"


def main() -> None:
    """Parse the options, isolate, run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="ops per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args = parser.parse_args()
    isolate()
    n, rounds = (20, 2) if args.quick else (args.n, args.rounds)
    run(n, rounds)


if __name__ == "__main__":
    main()
