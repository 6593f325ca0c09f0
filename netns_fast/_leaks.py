"""Leak snapshots for the pytest plugin.

A snapshot is what a test could leak: entries of the run directory, nsfs
mounts, open fds (less those a pool holds), and descendant processes in a
network namespace other than this process's.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import NamedTuple

from ._names import run_dir_bytes
from .procs import proc_pid

HeldFds = Callable[[], frozenset[int]]
HeldPaths = Callable[[], frozenset[str]]

# A pool's threads or a dying child may need a moment to settle.
_TRIES = 3
_SETTLE = 0.05


class Snapshot(NamedTuple):
    """What a test could leak, at one moment."""

    names: frozenset[str]
    mounts: frozenset[str]
    fds: frozenset[str]
    procs: frozenset[str]


def run_dir_names() -> frozenset[str]:
    """RUN_DIR/NAME for every entry of the run directory."""
    rd = os.fsdecode(run_dir_bytes())
    try:
        return frozenset(f"{rd}/{n}" for n in os.listdir(rd))
    except OSError:
        return frozenset()


def nsfs_mounts() -> frozenset[str]:
    """Mount points of the nsfs mounts this process sees."""
    with open("/proc/self/mountinfo", "rb") as f:
        return frozenset(
            os.fsdecode(line.split()[4]) for line in f if b" - nsfs " in line
        )


def _fd_map() -> dict[int, str]:
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own fd, or closed meanwhile
    return out


def open_fds(held: HeldFds) -> frozenset[str]:
    """ "FD -> target" of every open fd that no pool holds.

    The fds are listed twice around the pool's answer, and only fds in
    both listings count, so a pool fd made or closed meanwhile is not
    taken for a leak.
    """
    first = _fd_map()
    pool = held()
    second = _fd_map()
    return frozenset(
        f"{fd} -> {target}"
        for fd, target in second.items()
        if first.get(fd) == target and fd not in pool
    )


def _stat_fields(pid: str) -> tuple[int, str]:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    # comm may hold spaces and parentheses: split after the last ")".
    fields = data[data.rindex(b")") + 2 :].split()
    return int(fields[1]), fields[0].decode()


def foreign_descendants() -> frozenset[str]:
    """ "PID net:[INODE]" of live descendants in another network namespace.

    PIDs are /proc's, and so is this process's own (proc_pid()).
    """
    me = proc_pid()
    parent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ppid, state = _stat_fields(entry.name)
        except (OSError, ValueError, IndexError):
            continue
        if state != "Z":
            parent[int(entry.name)] = ppid
    try:
        mine = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return frozenset()
    found = set()
    for pid in parent:
        up, hops = parent.get(pid), 0
        while up is not None and up != me and up > 1 and hops < 64:
            up, hops = parent.get(up), hops + 1
        if up != me:
            continue
        try:
            ino = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            continue
        if ino != mine:
            found.add(f"{pid} net:[{ino}]")
    return frozenset(found)


def snapshot(held: HeldFds, held_paths: HeldPaths) -> Snapshot:
    """Everything a test could leak, now, less what the pools hold."""
    names, mounts = run_dir_names(), nsfs_mounts()
    fds, procs = open_fds(held), foreign_descendants()
    pool = held_paths()
    return Snapshot(names - pool, mounts - pool, fds, procs)


def _diff(before: Snapshot, now: Snapshot) -> str:
    parts = []
    for label, old, new in zip(
        ("names", "nsfs mounts", "fds", "processes in another netns"),
        before,
        now,
    ):
        extra = sorted(set(new) - set(old))
        if extra:
            parts.append(f"{label} {extra}")
    return "; ".join(parts)


def compare(before: Snapshot, held: HeldFds, held_paths: HeldPaths) -> str:
    """What was leaked since ``before`` ("" for nothing).

    Rechecked a few times over about 0.1 s, after a garbage collection,
    so that handles waiting for the collector and exiting children are
    not reported.
    """
    found = ""
    for attempt in range(_TRIES):
        found = _diff(before, snapshot(held, held_paths))
        if not found:
            return ""
        if attempt == 0:
            gc.collect()
        else:
            time.sleep(_SETTLE)
    return found
