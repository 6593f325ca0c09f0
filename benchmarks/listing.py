"""Listing with nsids: N named namespaces, M of them with an id.

Rivals, side by side in one run, rounds interleaved:
- ``netns_fast.list_netns()`` (in-process API; the C pass: readdir plus
  one RTM_GETNSID per entry, batched over one netlink socket);
- ``netns-fast list`` (the CLI, a Python process);
- ``ip netns list`` (iproute2 6.1.0: two passes, one round trip per entry
  and pass);
- pyroute2's ``IPRoute().get_netns_info()`` (in-process; also dumps the
  links to find veth peers).

Prints the median wall time per listing, µs per entry and the ratio to ip.
The goal the issue sets: API <= 0.5x ip's wall time.

Run as root: ``python benchmarks/listing.py [--n 1000] [--ids 200]
[--rounds 15] [--quick]``. It isolates itself (private mount namespace,
tmpfs on /run/netns) and runs everything from a private caller netns, so
no id is assigned in the host's namespace.
"""

from __future__ import annotations

import argparse
import gc
import random
import subprocess
import sys
import time
from collections.abc import Callable

from _bench import (
    enter_caller,
    isolate,
    median,
    python_env,
    settle,
    table,
)


def timed(func: Callable[[], object]) -> float:
    """Wall seconds of one call, without cyclic GC (like timeit), so that
    garbage one rival left is not collected on another's clock."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        func()
        return time.perf_counter() - start
    finally:
        gc.enable()


def main() -> None:
    """Set up, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--ids", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    opts = parser.parse_args()
    if opts.quick:
        opts.n, opts.ids, opts.rounds = 200, 40, 3
    isolate()

    import netns_fast

    netns_fast.add("bench-caller")
    enter_caller("bench-caller")
    names = [f"bench-{i:05d}" for i in range(opts.n)]
    failed = [o for o in netns_fast.add_many(names) if not o.ok]
    if failed:
        sys.exit(f"add_many failed: {failed[0].error}")
    for name in names[:: max(1, opts.n // opts.ids)][: opts.ids]:
        netns_fast.set_nsid(name, "auto")

    env = python_env()
    cli = [sys.executable, "-m", "netns_fast", "list"]
    ip = ["ip", "netns", "list"]

    def run(argv: list[str]) -> bytes:
        return subprocess.run(
            argv, capture_output=True, env=env, check=True, cwd="/"
        ).stdout

    # Same bytes, same ids: the rivals do the same work.
    assert run(cli) == run(ip)
    listed = netns_fast.list_netns()
    assert sum(e.nsid is not None for e in listed) == opts.ids
    assert len(listed) == opts.n + 1

    from pyroute2 import IPRoute

    ipr = IPRoute()
    pr2 = list(ipr.get_netns_info())
    assert len(pr2) == opts.n + 1

    rivals: dict[str, Callable[[], object]] = {
        "netns_fast.list_netns()": netns_fast.list_netns,
        "netns-fast list": lambda: run(cli),
        "ip netns list": lambda: run(ip),
        "pyroute2 get_netns_info()": lambda: list(ipr.get_netns_info()),
    }
    times: dict[str, list[float]] = {k: [] for k in rivals}
    order = list(rivals)
    for rnd in range(opts.rounds):
        random.Random(rnd).shuffle(order)
        for label in order:
            times[label].append(timed(rivals[label]))
    ipr.close()

    ip_time = median(times["ip netns list"])
    rows = [["rival", "ms per listing", "µs per entry", "x ip"]]
    for label, values in times.items():
        t = median(values)
        rows.append(
            [
                label,
                f"{t * 1e3:.2f}",
                f"{t * 1e6 / (opts.n + 1):.2f}",
                f"{t / ip_time:.2f}",
            ]
        )
    print(
        f"{opts.n} named namespaces (+1 caller), {opts.ids} with an nsid, "
        f"median of {opts.rounds} rounds"
    )
    print(table(rows))
    api = median(times["netns_fast.list_netns()"]) / ip_time
    verdict = "met" if api <= 0.5 else "NOT met"
    print(f"goal API <= 0.5x ip: {api:.2f}x ({verdict})")

    netns_fast.delete_many([*names, "bench-caller"])
    settle(opts.n)


if __name__ == "__main__":
    main()
