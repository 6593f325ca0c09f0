"""Leak snapshots for the pytest plugin (and the project's own test guard).

A test could leak names in the run directory, nsfs mounts, open fds and
descendant processes in another network namespace. The check compares two
moments, but blames the test only for what this process (or one of its
descendants) made, never for what others do meanwhile: another xdist
worker's pool, the session's own pool refilling, another tool (CNI,
docker) working on a shared run directory or mount table.

- fds and processes are this process's own (its fd table, its
  descendants), so every new one counts, less the fds the session's pools
  hold.
- A new name (RUN_DIR/NAME) or nsfs mount point is the test's when
  netns_fast made it in this process during the test (``add``,
  ``attach``, ``add_many``, ``Netns.create``, a named ``Pool`` opened
  during the test: netns_fast._names notes them), or when it carries this
  process as its owner (netns_fast._owner). A name that carries another
  owner (another worker, another session), a name of a pool that was
  already open when the test began, and what the session holds
  (``Exempt``: its pools, its module- and session-scoped namespaces)
  never count.
- Any other new name or mount (made by a child such as ``ip netns add``,
  or by anyone else) counts only where nothing outside this process's
  tree could have made it: no process outside that tree shares this mount
  namespace, and the mount it sits on receives no propagation from
  outside (no ``master:`` tag, no ``shared:`` peer in another process's
  mount namespace). That holds in a private mount namespace (the
  rootless world, this project's test session) and never on the host's
  /run/netns, where such a name is left alone. A propagated mount
  (``master:``) is never this process's.

After a leak is reported, :func:`reclaim` kills the leaked processes and
deletes the leaked names (killing the processes inside them), so a failing
test leaves no work running; leaked fds and other mounts are only
reported.
"""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple, Optional

from . import _names, _owner
from ._names import run_dir_bytes
from ._owner import proc_pid
from ._vrf import unescape_mount_field

# A pool's threads or a dying child may need a moment to settle.
_TRIES = 3
_SETTLE = 0.05


class Exempt(NamedTuple):
    """What a session holds across tests: never a test's leak."""

    fds: Callable[[], frozenset[int]] = frozenset
    """The fds the session holds now (its pools, its longer-lived
    namespaces)."""
    prefixes: Callable[[], frozenset[bytes]] = frozenset
    """RUN_DIR/PREFIX of the session's named pools."""
    paths: Callable[[], frozenset[bytes]] = frozenset
    """RUN_DIR/NAME of the session's longer-lived named namespaces."""

    def held(self) -> Callable[[bytes], bool]:
        """A test of a path (bytes): True if the session holds it."""
        prefixes, paths = tuple(self.prefixes()), self.paths()
        return lambda raw: raw in paths or raw.startswith(prefixes)


NOTHING = Exempt()


class Snapshot(NamedTuple):
    """What a test could leak, at one moment (or what it leaked)."""

    names: frozenset[str]
    mounts: frozenset[str]
    fds: frozenset[str]
    procs: frozenset[str]


class Baseline(NamedTuple):
    """The start of a check: what was there, and the last note of
    netns_fast._names then."""

    seen: Snapshot
    serial: int


class _Mount(NamedTuple):
    id: int
    parent: int
    point: bytes
    tags: tuple[bytes, ...]
    fstype: bytes


def mountinfo(path: str = "/proc/self/mountinfo") -> list[_Mount]:
    """The mount table at path (mount points unescaped); lines it cannot
    read are passed over."""
    out = []
    with open(path, "rb") as f:
        for line in f:
            parts = line.split()
            try:
                sep = parts.index(b"-", 6)
                out.append(
                    _Mount(
                        int(parts[0]),
                        int(parts[1]),
                        unescape_mount_field(parts[4]),
                        tuple(parts[6:sep]),
                        parts[sep + 1],
                    )
                )
            except (ValueError, IndexError):
                continue
    return out


def _propagated(m: _Mount) -> bool:
    return any(t.startswith(b"master:") for t in m.tags)


def run_dir_names() -> frozenset[str]:
    """RUN_DIR/NAME for every entry of the run directory."""
    rd = os.fsdecode(run_dir_bytes())
    try:
        return frozenset(f"{rd}/{n}" for n in os.listdir(rd))
    except OSError:
        return frozenset()


def nsfs_mounts() -> frozenset[str]:
    """Mount points of the nsfs mounts this process sees, less those
    propagated from another mount namespace (``master:``: never made
    here)."""
    return frozenset(
        os.fsdecode(m.point)
        for m in mountinfo()
        if m.fstype == b"nsfs" and not _propagated(m)
    )


def _fd_map() -> dict[int, str]:
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own fd, or closed meanwhile
    return out


def open_fds(held: Callable[[], frozenset[int]]) -> frozenset[str]:
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


def _parents() -> dict[int, int]:
    """pid -> ppid of every live (not zombie) process /proc shows."""
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
    return parent


def _descendants(parent: dict[int, int], me: int) -> set[int]:
    found = set()
    for pid in parent:
        up, hops = parent.get(pid), 0
        while up is not None and up != me and up > 1 and hops < 64:
            up, hops = parent.get(up), hops + 1
        if up == me:
            found.add(pid)
    return found


def foreign_descendants() -> frozenset[str]:
    """ "PID net:[INODE]" of live descendants in another network namespace.

    PIDs are /proc's, and so is this process's own (proc_pid()).
    """
    try:
        mine = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return frozenset()
    found = set()
    for pid in _descendants(_parents(), proc_pid()):
        try:
            ino = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            continue
        if ino != mine:
            found.add(f"{pid} net:[{ino}]")
    return frozenset(found)


def snapshot(exempt: Exempt = NOTHING) -> Snapshot:
    """Everything this process could be blamed for, now, less what the
    session's pools hold."""
    held = exempt.held()
    names = frozenset(n for n in run_dir_names() if not held(os.fsencode(n)))
    mounts = frozenset(m for m in nsfs_mounts() if not held(os.fsencode(m)))
    return Snapshot(names, mounts, open_fds(exempt.fds), foreign_descendants())


def baseline(exempt: Exempt = NOTHING) -> Baseline:
    """The starting point of a check (see :func:`leaked`)."""
    return Baseline(snapshot(exempt), _names.made_serial())


class _Privacy:
    """Whether nothing outside this process's tree can make names or
    mounts here (see the module doc); computed on first need only."""

    def __init__(self) -> None:
        self._outside: Optional[list[int]] = None
        self._mounts: Optional[list[_Mount]] = None
        self._peers: dict[bytes, bool] = {}

    def _outsiders(self) -> list[int]:
        """Processes outside this tree in other mount namespaces (one per
        namespace); [-1] if one shares this mount namespace."""
        if self._outside is None:
            parent = _parents()
            me = proc_pid()
            tree = _descendants(parent, me) | {me}
            try:
                mine = os.readlink("/proc/self/ns/mnt")
            except OSError:
                self._outside = [-1]
                return self._outside
            by_ns: dict[str, int] = {}
            for pid in parent:
                if pid in tree:
                    continue
                try:
                    ns = os.readlink(f"/proc/{pid}/ns/mnt")
                except OSError:
                    continue  # gone, or not ours to read: not sharing ours
                if ns == mine:
                    by_ns = {"": -1}
                    break
                by_ns.setdefault(ns, pid)
            self._outside = list(by_ns.values())
        return self._outside

    def _mount_table(self) -> list[_Mount]:
        if self._mounts is None:
            self._mounts = mountinfo()
        return self._mounts

    def _peer_outside(self, group: bytes) -> bool:
        """True if a mount of peer group ``group`` (b"shared:N") is in
        another process's mount namespace."""
        if group not in self._peers:
            found = False
            for pid in self._outsiders():
                try:
                    table = mountinfo(f"/proc/{pid}/mountinfo")
                except OSError:
                    continue
                if any(group in m.tags for m in table):
                    found = True
                    break
            self._peers[group] = found
        return self._peers[group]

    def _covering(self, path: bytes) -> Optional[_Mount]:
        """The mount the entry ``path`` sits on: the top mount of its
        directory (a mount on ``path`` itself does not count)."""
        parent = path.rpartition(b"/")[0] or b"/"
        best: Optional[_Mount] = None
        for m in self._mount_table():
            point = m.point.rstrip(b"/") + b"/"
            if (parent.rstrip(b"/") + b"/").startswith(point) and (
                best is None or len(m.point) >= len(best.point)
            ):
                best = m
        return best

    def private(self, path: bytes) -> bool:
        """True if only this process's tree could have made ``path``."""
        if -1 in self._outsiders():
            return False
        under = self._covering(path)
        if under is None or _propagated(under):
            return False
        return not any(
            self._peer_outside(t)
            for t in under.tags
            if t.startswith(b"shared:")
        )


def _blame(
    paths: Iterable[str],
    since: int,
    held: Callable[[bytes], bool],
    privacy: _Privacy,
) -> frozenset[str]:
    """The paths among ``paths`` that this test made (see the module doc)."""
    older = tuple(p for p, s in _names.made_prefixes.items() if s <= since)
    newer = tuple(p for p, s in _names.made_prefixes.items() if s > since)
    found = set()
    for path in paths:
        raw = os.fsencode(path)
        if held(raw) or raw.startswith(older):
            continue  # the session's pools, a pool older than the test
        if raw in _names.made or raw.startswith(newer):
            found.add(path)
            continue
        mine = _owner.is_mine(raw.rpartition(b"/")[2])
        if mine is not None:
            if mine:
                found.add(path)
            continue
        if privacy.private(raw):
            found.add(path)
    return frozenset(found)


def _made_since(since: int) -> frozenset[str]:
    """The names netns_fast made here since ``since`` that still exist
    (in any run directory)."""
    return frozenset(
        os.fsdecode(path)
        for path, serial in list(_names.made.items())
        if serial > since and os.path.lexists(path)
    )


def _attributed(
    before: Baseline, now: Snapshot, held: Callable[[bytes], bool]
) -> Snapshot:
    old = before.seen
    new_names = (now.names - old.names) | (
        _made_since(before.serial) - old.names
    )
    privacy = _Privacy()  # one /proc scan at most, for names and mounts
    return Snapshot(
        _blame(new_names, before.serial, held, privacy),
        _blame(now.mounts - old.mounts, before.serial, held, privacy),
        now.fds - old.fds,
        now.procs - old.procs,
    )


def describe(extra: Snapshot) -> str:
    """The leaks in ``extra`` as one line ("" for none)."""
    parts = []
    for label, found in zip(
        ("names", "nsfs mounts", "fds", "processes in another netns"), extra
    ):
        if found:
            parts.append(f"{label} {sorted(found)}")
    return "; ".join(parts)


def leaked(before: Baseline, exempt: Exempt = NOTHING) -> Snapshot:
    """What this test leaked since ``before`` (every field empty for
    nothing).

    Rechecked a few times over about 0.1 s, after a garbage collection,
    and only what every check found counts, so that handles waiting for
    the collector, exiting children and the short-lived fds of a pool's
    producer threads (a socket for a loopback, a namespace fd on its way
    to the pool) are not reported.
    """
    found: Optional[Snapshot] = None
    for attempt in range(_TRIES):
        now = _attributed(before, snapshot(exempt), exempt.held())
        found = (
            now
            if found is None
            else Snapshot(*(old & new for old, new in zip(found, now)))
        )
        if not any(found):
            break
        if attempt == 0:
            gc.collect()
        else:
            time.sleep(_SETTLE)
    assert found is not None
    return found


def compare(before: Baseline, exempt: Exempt = NOTHING) -> str:
    """What was leaked since ``before``, as one line ("" for nothing)."""
    return describe(leaked(before, exempt))


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


def report(extra: Snapshot) -> str:
    """The leaks in ``extra`` as one line, reclaimed (what could not be
    is said after "; not reclaimed:"); "" for none."""
    leaked = describe(extra)
    if leaked:
        left = reclaim(extra)
        if left:
            leaked += f"; not reclaimed: {left}"
    return leaked
