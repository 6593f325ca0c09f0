"""Helpers for the root tests of the core (lifecycle, threads, sanitizers).

Imported by those test files only; they run in the session's private mount
namespace (tests/conftest.py), so mounts made here never reach the host.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, NamedTuple, Union

RUN_DIR = "/run/netns"
NOBODY = 65534
CLONE_NEWNS = 0x00020000
_libc = ctypes.CDLL(None, use_errno=True)

PathLike = Union[str, Path]


class Mount(NamedTuple):
    """One line of /proc/self/mountinfo."""

    mount_id: int
    parent_id: int
    mount_point: str
    optional: tuple[str, ...]
    fstype: str


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts() -> list[Mount]:
    """Every mount this process sees, in mountinfo order."""
    result = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            dash = fields.index("-")
            result.append(
                Mount(
                    int(fields[0]),
                    int(fields[1]),
                    _unescape(fields[4]),
                    tuple(fields[6:dash]),
                    fields[dash + 1],
                )
            )
    return result


def mounts_at(path: PathLike) -> list[Mount]:
    """The mounts stacked on path, bottom first."""
    where = os.path.realpath(path)
    return [m for m in mounts() if m.mount_point == where]


def ns_inode(path: PathLike) -> int:
    """The inode of a namespace file (follows the nsfs mount)."""
    return os.stat(path).st_ino


def thread_netns() -> int:
    """Inode of the calling thread's network namespace."""
    return ns_inode("/proc/thread-self/ns/net")


def is_live_name(path: PathLike) -> bool:
    """path has exactly one nsfs mount on it."""
    found = mounts_at(path)
    return len(found) == 1 and found[0].fstype == "nsfs"


def mount(*args: str) -> None:
    """Run mount(8); raise if it fails."""
    subprocess.run(["mount", *args], check=True, capture_output=True)


@contextmanager
def private_tmpfs(where: Path) -> Iterator[Path]:
    """A tmpfs of our own on ``where``, lazily unmounted (with every mount
    under it) at the end. The core's run-dir note needs no reset: it holds
    a mount id, and every mount here is a new one."""
    where.mkdir(exist_ok=True)
    mount("-t", "tmpfs", "-o", "mode=755", "nsft-tmpfs", str(where))
    try:
        yield where
    finally:
        subprocess.run(
            ["umount", "-l", str(where)], check=True, capture_output=True
        )


def _cap_eff() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return -1


def run_as_nobody(func: Callable[[], object]) -> tuple[int, object]:
    """Run func in a forked child as uid/gid 65534 with no capabilities.

    Returns (the child's CapEff, func's result or the exception it raised).
    A fork rather than `setpriv ... python`, because the interpreter may sit
    where uid 65534 cannot reach it (e.g. under /root).
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(read_end)
            # A fresh process has no prepared run dir noted: in a mount
            # namespace of its own every mount has a new id, so the core's
            # note (the run dir's mount id) no longer matches.
            if _libc.unshare(CLONE_NEWNS) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            try:
                outcome: object = func()
            except BaseException as exc:
                outcome = exc
            data = pickle.dumps((_cap_eff(), outcome))
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    caps, outcome = pickle.loads(data)
    return caps, outcome
