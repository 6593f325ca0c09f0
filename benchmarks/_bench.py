"""Shared benchmark plumbing: isolation, a C compiler helper, statistics,
a caller namespace, the CLI's environment.

Every benchmark runs in a private mount namespace with a tmpfs on
/run/netns, so nothing it creates is visible outside and everything goes
away when it exits. ``isolate()`` re-executes the script under
``unshare -m --propagation slave`` and mounts the tmpfs in the child
(``isolate(pid_namespace=True)``: in a private pid namespace too, with its
own /proc).

The scripts run as ``python benchmarks/NAME.py`` (so this directory is on
sys.path) with the interpreter of a venv that has netns_fast installed,
e.g. the checkout's ``.venv`` (``pip install -e .``).
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
from typing import Optional

RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
_MARK = "NETNS_FAST_BENCH_ISOLATED"


def isolate(*, pid_namespace: bool = False, network: bool = False) -> None:
    """Re-exec in a private mount namespace with a tmpfs on RUN_DIR; with
    ``pid_namespace``, also in a private pid namespace with its own /proc
    (it lists only the benchmark's processes, and none outlives it); with
    ``network``, also in a fresh network namespace (benchmarks that make
    interfaces: nothing can land in the host's)."""
    if os.environ.get(_MARK) == "1":
        return
    if shutil.which("unshare") is None:
        sys.exit("benchmarks need util-linux's unshare")
    os.makedirs(RUN_DIR, exist_ok=True)
    env = dict(os.environ, **{_MARK: "1"})
    pid_ns = ["--pid", "--fork", "--mount-proc"] if pid_namespace else []
    net_ns = ["-n"] if network else []
    cmd = [
        "unshare",
        "-m",
        *pid_ns,
        *net_ns,
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


def compile_c(
    source: str,
    name: str,
    extra: Sequence[str] = (),
    workdir: Optional[Path] = None,
) -> str:
    """Compile a C program into workdir (default: a new temporary
    directory); the path of the binary."""
    where = workdir or Path(tempfile.mkdtemp(prefix="nsft-bench-"))
    out = where / name
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


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile of a non-empty sequence (the value at rank q*n)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def busy(seconds: float) -> None:
    """A simulated test body that keeps the CPU busy."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


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


def enter_caller(name: str) -> None:
    """Move this (single-threaded) process into RUN_DIR/name's netns, so
    that no nsid is assigned in the host's namespace."""
    fd = os.open(f"{RUN_DIR}/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc().setns(fd, CLONE_NEWNET) != 0:
            sys.exit("setns into the caller netns failed")
    finally:
        os.close(fd)


def python_env() -> dict[str, str]:
    """The environment for netns-fast processes: the netns_fast this
    process imports, and bytecode cached (in a private directory) as for an
    installed package, even where PYTHONDONTWRITEBYTECODE is set."""
    import netns_fast

    where = os.path.dirname(os.path.dirname(netns_fast.__file__))
    env = dict(os.environ, LC_ALL="C", PYTHONPATH=where)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="nsft-pyc-")
    return env


def table(rows: Sequence[Sequence[str]]) -> str:
    """A plain text table with aligned columns."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
