"""A shell script's view: 200 calls in a shell loop, ``ip netns`` against
``netns-fast``, side by side in one run.

Shell scripts call the CLI hundreds of times (the kernel's net selftests
make about 600 netns calls in one script, most of them ``exec``), so the
cost per call, start-up included, is the CLI's speed there. Each loop is
one ``sh -c`` running:

- ``exec NAME true`` 200 times;
- ``add NAME$i`` then ``delete NAME$i``, 200 names (400 calls);

through ``ip netns`` and through ``netns-fast`` installed in a fresh venv
of the machine's Python (see startup.py: pip install of the checkout, not
editable). Prints each loop's median time, ms per call and the ratio
netns-fast / ip.

Run as root: ``python benchmarks/shell_loop.py [--calls 200] [--rounds 5]
[--quick]``. It isolates itself (_bench.isolate: a private mount namespace,
tmpfs on /run/netns) and runs from a private caller netns.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from _bench import isolate, median, table  # noqa: E402
from listing import enter_caller  # noqa: E402
from startup import (  # noqa: E402
    MACHINE_PYTHON,
    build_wheel,
    clean_env,
    make_venv,
)

# $1: the tool (e.g. "ip netns", split into words on purpose), $2: how
# many times, $3: the name (exec) or the names' prefix (add/delete). Run
# under sh -e: any failing call ends the loop with its status.
EXEC_LOOP = (
    'i=0; while [ $i -lt "$2" ]; do $1 exec "$3" true; i=$((i+1)); done'
)
ADD_DELETE_LOOP = (
    'i=0; while [ $i -lt "$2" ]; do $1 add "$3$i"; $1 delete "$3$i"; '
    "i=$((i+1)); done"
)


def run_loop(script: str, tool: str, calls: int, arg: str) -> float:
    """Wall seconds of one shell loop; every call must succeed."""
    env = clean_env()
    start = time.perf_counter()
    subprocess.run(
        ["sh", "-e", "-c", script, "sh", tool, str(calls), arg],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    """Build the venv, set up, run the loops, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    opts = parser.parse_args()
    if opts.quick:
        opts.calls, opts.rounds = 20, 1
    isolate()

    import netns_fast

    work = Path(tempfile.mkdtemp(prefix="nsft-shell-loop-"))
    try:
        wheel = build_wheel(work / "dist")
        venv = make_venv("machine", MACHINE_PYTHON, wheel, work / "venv")
        netns_fast.add("loop-caller")
        enter_caller("loop-caller")
        netns_fast.add("loop-exec")
        tools = {"ip netns": "ip netns", "netns-fast": venv.netns_fast}
        loops = {
            "exec NAME true": (EXEC_LOOP, 1, "loop-exec"),
            "add + delete NAME": (ADD_DELETE_LOOP, 2, "loop-n"),
        }
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(opts.rounds):
            for loop, (script, _, arg) in loops.items():
                for label, tool in tools.items():
                    t = run_loop(script, tool, opts.calls, arg)
                    times.setdefault((loop, label), []).append(t)
        rows = [["loop", "tool", "total ms", "ms per call", "x ip"]]
        for loop, (_, per, _) in loops.items():
            ip = median(times[(loop, "ip netns")])
            for label in tools:
                t = median(times[(loop, label)])
                rows.append(
                    [
                        f"{opts.calls} x {loop}",
                        label,
                        f"{t * 1e3:.0f}",
                        f"{t * 1e3 / (opts.calls * per):.2f}",
                        f"{t / ip:.2f}",
                    ]
                )
        print(
            f"shell loops, median of {opts.rounds} rounds "
            f"(netns-fast from a fresh venv of {MACHINE_PYTHON})"
        )
        print(table(rows))
        netns_fast.delete_many(["loop-exec", "loop-caller"])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
