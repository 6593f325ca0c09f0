"""CLI start-up: ``netns-fast list`` and ``netns-fast set`` as processes.

Rivals, side by side in one run, rounds interleaved:
- ``python3 -c pass``: the bare interpreter (the floor);
- ``netns-fast list``: must stay light (goal: at most 15 ms more than the
  bare interpreter); it never imports pyroute2, json or argparse;
- ``netns-fast set NAME auto``: the pyroute2 path (reported);
- ``ip netns list`` and ``ip netns set NAME auto``, for reference.

Also prints what ``python -X importtime -m netns_fast list`` shows for
netns_fast's own modules, and checks that no heavy module is imported.

Run as root: ``python benchmarks/startup.py [--rounds 20] [--quick]``. It
isolates itself (private mount namespace, tmpfs on /run/netns) and runs
from a private caller netns.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from _bench import isolate, median, table  # noqa: E402
from listing import enter_caller, python_env  # noqa: E402

HEAVY = ("pyroute2", "json", "argparse", "asyncio")


def main() -> None:
    """Set up, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    opts = parser.parse_args()
    if opts.quick:
        opts.rounds = 3
    isolate()

    import netns_fast

    netns_fast.add("startup-caller")
    enter_caller("startup-caller")
    listed = [f"startup-{i}" for i in range(10)]
    # A fresh name for every set, so each one really assigns an id.
    fresh = [f"startup-set-{i}" for i in range(2 * opts.rounds + 2)]
    netns_fast.add_many(listed + fresh)
    for name in listed[::3]:
        netns_fast.set_nsid(name, "auto")

    env = python_env()
    py = [sys.executable]
    nf = [*py, "-m", "netns_fast"]
    to_set = iter(fresh)

    def run(argv: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, check=True)
        return time.perf_counter() - start

    rivals = {
        "python3 -c pass": lambda: run([*py, "-c", "pass"]),
        "netns-fast list": lambda: run([*nf, "list"]),
        "netns-fast set NAME auto": lambda: run(
            [*nf, "set", next(to_set), "auto"]
        ),
        "ip netns list": lambda: run(["ip", "netns", "list"]),
        "ip netns set NAME auto": lambda: run(
            ["ip", "netns", "set", next(to_set), "auto"]
        ),
    }
    times: dict[str, list[float]] = {k: [] for k in rivals}
    for func in rivals.values():
        func()  # warm up: bytecode written, caches filled
    for _ in range(opts.rounds):
        for label, func in rivals.items():
            times[label].append(func())

    bare = median(times["python3 -c pass"])
    rows = [["command", "ms", "+ms over python3 -c pass"]]
    for label, values in times.items():
        t = median(values)
        rows.append([label, f"{t * 1e3:.1f}", f"{(t - bare) * 1e3:+.1f}"])
    print(f"median of {opts.rounds} rounds, {len(listed) + 1} names listed")
    print(table(rows))
    extra = (median(times["netns-fast list"]) - bare) * 1e3
    verdict = "met" if extra <= 15 else "NOT met"
    print(f"goal netns-fast list <= +15 ms: {extra:+.1f} ms ({verdict})")

    report = subprocess.run(
        [*nf[:1], "-X", "importtime", *nf[1:], "list"],
        capture_output=True,
        env=env,
        check=True,
    ).stderr.decode()
    ours, heavy = [], []
    for line in report.splitlines():
        if not line.startswith("import time:"):
            continue
        head, cumulative, module = (p.strip() for p in line.split("|", 2))
        self_us = head.split()[-1]
        if module.startswith("netns_fast") or module == "_cffi_backend":
            ours.append([module, self_us, cumulative])
        if module.split(".")[0] in HEAVY:
            heavy.append(module)
    print("\npython -X importtime -m netns_fast list (µs):")
    print(table([["module", "self", "cumulative"], *ours]))
    print("heavy modules imported:", ", ".join(heavy) or "none")

    netns_fast.delete_many(listed + fresh)
    netns_fast.delete("startup-caller")


if __name__ == "__main__":
    main()
