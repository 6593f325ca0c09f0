"""Leak snapshots for the pytest plugin.

A snapshot is what a test could leak: entries of the run directory, nsfs
mounts, open fds (less those a pool holds), and descendant processes in a
network namespace other than this process's. After a leak is reported,
:func:`reclaim` kills the leaked processes and deletes the leaked names
(killing the processes inside them), so a failing test leaves no work
running; leaked fds and other mounts are only reported.
"""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import Callable
from typing import NamedTuple, Optional

from ._names import run_dir_bytes
from ._owner import proc_pid

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


def _diff(before: Snapshot, now: Snapshot) -> Snapshot:
    return Snapshot(*(frozenset(new - old) for old, new in zip(before, now)))


def describe(extra: Snapshot) -> str:
    """The leaks in ``extra`` as one line ("" for none)."""
    parts = []
    for label, found in zip(
        ("names", "nsfs mounts", "fds", "processes in another netns"), extra
    ):
        if found:
            parts.append(f"{label} {sorted(found)}")
    return "; ".join(parts)


def leaked(before: Snapshot, held: HeldFds, held_paths: HeldPaths) -> Snapshot:
    """What was leaked since ``before`` (every field empty for nothing).

    Rechecked a few times over about 0.1 s, after a garbage collection,
    so that handles waiting for the collector and exiting children are
    not reported.
    """
    found = _diff(before, before)
    for attempt in range(_TRIES):
        found = _diff(before, snapshot(held, held_paths))
        if not any(found):
            break
        if attempt == 0:
            gc.collect()
        else:
            time.sleep(_SETTLE)
    return found


def compare(before: Snapshot, held: HeldFds, held_paths: HeldPaths) -> str:
    """What was leaked since ``before``, as one line ("" for nothing)."""
    return describe(leaked(before, held, held_paths))


def _kill(proc: str) -> Optional[int]:
    """SIGKILL one "PID net:[INODE]" process if it is still that one;
    its /proc directory fd (a pidfd for pidfd_send_signal), or None."""
    pid, _, ns = proc.partition(" ")
    try:
        fd = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None  # gone already
    try:
        if os.readlink("ns/net", dir_fd=fd) == ns:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            return fd
    except OSError:
        pass  # gone meanwhile, or no longer in that namespace
    os.close(fd)
    return None


def _dead(fd: int) -> bool:
    """True once the process of a /proc directory fd is gone or a zombie
    (a zombie holds no namespace and runs nothing)."""
    try:
        sfd = os.open("stat", os.O_RDONLY, dir_fd=fd)
        try:
            data = os.read(sfd, 4096)
        finally:
            os.close(sfd)
    except OSError:
        return True
    return data[data.rindex(b")") + 2 :][:1] in (b"Z", b"X", b"")


def reclaim(extra: Snapshot, timeout: float = 5.0) -> list[str]:
    """Kill the leaked processes of ``extra`` and delete its leaked names
    (the processes inside them killed first); returns what could not be
    reclaimed."""
    from ._lifecycle import delete  # noqa: PLC0415 (start-up)

    killed: dict[str, int] = {}
    for proc in sorted(extra.procs):
        fd = _kill(proc)
        if fd is not None:
            killed[proc] = fd
    deadline = time.monotonic() + timeout
    while killed and time.monotonic() < deadline:
        for proc, fd in list(killed.items()):
            if _dead(fd):
                os.close(killed.pop(proc))
        if killed:
            time.sleep(_SETTLE / 10)
    left = [f"process {proc} still runs" for proc in killed]
    for fd in killed.values():
        os.close(fd)
    for path in sorted(extra.names):
        run_dir, _, name = path.rpartition("/")
        try:
            delete(name, run_dir=run_dir or "/", kill=True)
        except FileNotFoundError:
            continue  # gone meanwhile
        except (OSError, ValueError) as exc:
            left.append(f"name {path}: {exc}")
    return left
