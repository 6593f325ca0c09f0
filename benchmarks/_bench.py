"""Shared benchmark plumbing: isolation, a C compiler helper, statistics.

Every benchmark runs in a private mount namespace with a tmpfs on
/run/netns, so nothing it creates is visible outside and everything goes
away when it exits. ``isolate()`` re-executes the script under
``unshare -m --propagation slave`` and mounts the tmpfs in the child.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

RUN_DIR = "/run/netns"
_MARK = "NETNS_FAST_BENCH_ISOLATED"


def isolate() -> None:
    """Re-exec in a private mount namespace with a tmpfs on RUN_DIR."""
    if os.environ.get(_MARK) == "1":
        return
    if shutil.which("unshare") is None:
        sys.exit("benchmarks need util-linux's unshare")
    os.makedirs(RUN_DIR, exist_ok=True)
    env = dict(os.environ, **{_MARK: "1"})
    cmd = [
        "unshare",
        "-m",
        "--propagation",
        "slave",
        "sh",
        "-c",
        f'mount -t tmpfs -o mode=755 tmpfs {RUN_DIR} && exec "$@"',
        "sh",
        sys.executable,
        *sys.argv,
    ]
    os.execvpe("unshare", cmd, env)


def compile_c(source: str, name: str, extra: Sequence[str] = ()) -> str:
    """Compile a C program into a temporary directory; its path."""
    out = Path(tempfile.mkdtemp(prefix="nsft-bench-")) / name
    src = out.with_suffix(".c")
    src.write_text(source)
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-o",
            str(out),
            str(src),
            "-pthread",
            *extra,
        ],
        check=True,
    )
    return str(out)


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return statistics.median(values)


def settle_seconds(count: int) -> float:
    """How long settle(count) waits."""
    return max(0.5, count / 1000.0)


def settle(count: int) -> None:
    """Give the kernel time to finish the work `count` namespaces left.

    Measured: about 3500-4000 namespaces per second of batched teardown on
    2 vCPUs, and deferred work after a burst of adds slows what follows, so
    wait about count/1000 s, at least half a second.
    """
    time.sleep(settle_seconds(count))


def libc() -> ctypes.CDLL:
    """The C library, with errno."""
    return ctypes.CDLL(None, use_errno=True)


def table(rows: Sequence[Sequence[str]]) -> str:
    """A plain text table with aligned columns."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
