"""gc: remove stale entries of the run directory (an extension to ip).

A stale entry is what a process killed between creating RUN_DIR/NAME and
bind-mounting the namespace onto it leaves behind: an empty regular file
with no mount on it (iproute2 leaves one in most such kills, because its
slow unshare sits between the two steps). ``ip netns list`` still shows
such a name, ``add`` of it fails with EEXIST, and ``exec`` fails with
EINVAL.

How a live name is told apart, and why it is never touched:

- Only an empty (size 0) regular file is a candidate: a mount of a
  namespace in this mount namespace is an nsfs inode (``lstat`` reports
  nsfs's device), and files with data are never removed.
- A name may be mounted only in *another* mount namespace (made by a
  process under ``unshare -m``, in a container that shares the run
  directory, or under ``ip netns exec``): from here it looks like an empty
  file, and the kernel lets ``unlink`` remove it, detaching those mounts.
  So gc reads the mount table of every mount namespace that has a process
  in /proc (one read per namespace and root), and skips a candidate that
  is a mount point in any of them. Mounts are matched by the identity of
  the directory they sit in (st_dev, st_ino, seen through that process's
  root) and the name, never by path text. gc cannot see a mount namespace
  with no process left in it (held only by an fd or a bind mount), nor
  processes hidden from its /proc (another pid namespace, hidepid).
- A candidate is removed with a plain ``unlink``, never ``umount``: the
  kernel refuses to unlink a mount point of the caller's mount namespace
  (EBUSY). So a name that a concurrent ``add`` or ``attach`` mounts here
  after the check survives.
- A concurrent ``add`` creates its file a moment before it mounts onto it.
  Unlinking the file in that moment would make that add fail (its mount
  finds no file), so candidates whose ctime is younger than ``min_age``
  seconds (default 2 s, far above the few hundred microseconds the window
  lasts, even for ip) are left alone. An add never mounts onto a file it
  did not just create (O_EXCL), so an older file cannot become live.
- The run directory must be a real directory (not a symlink), owned by
  root (or by the caller), and not writable by others: gc refuses any
  other (as ``-all delete`` does), and works through one fd of it.

``dead_owners``: names that netns_fast made for pools and fixtures carry
their owner process (netns_fast._owner); the names of a gone owner are
unmounted and removed, whatever their age and wherever else they are
mounted. Names of a live (or unjudgeable) owner, and names of any other
form, are never touched by that pass.

Directories, symlinks and other non-regular entries are never removed.
"""

from __future__ import annotations

import errno
import os
import stat
import time

from . import _owner
from ._names import run_dir_bytes
from ._vrf import unescape_mount_field
from .exceptions import NetnsOSError, NetnsPermissionError, error_for

# -all delete and gc import this module: typing only for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Optional

    from ._names import Name

    Handled = tuple[bytes, Optional[NetnsOSError]]
    """A name gc acted on: (name, None) if removed, else (name, the
    error)."""

DEFAULT_MIN_AGE = 2.0
"""Seconds a file without a mount must exist before gc removes it."""

_NSFS_PROBE = "/proc/self/ns/net"

# Rescans of /proc while they still find new mount namespaces (a namespace
# whose only process forks and exits could hide from one scan).
_ROUNDS = 4


def nsfs_dev() -> int:
    """The device number of nsfs, shared by every namespace file."""
    return os.stat(_NSFS_PROBE).st_dev


def is_stale(st: os.stat_result, nsfs: int) -> bool:
    """An empty regular file that is not a namespace mount (lstat)."""
    return stat.S_ISREG(st.st_mode) and st.st_dev != nsfs and not st.st_size


# -- the run directory ------------------------------------------------------


def unsafe_reason(st: os.stat_result) -> Optional[str]:
    """Why a run directory (its fstat) must not be swept, or None."""
    if st.st_uid not in (0, os.geteuid()):
        return f"it is owned by uid {st.st_uid}, not by root"
    if st.st_mode & stat.S_IWOTH or (
        st.st_mode & stat.S_IWGRP and st.st_gid != 0
    ):
        return "it is writable by others"
    return None


def open_run_dir(run_dir: bytes) -> Optional[int]:
    """An fd of RUN_DIR checked to be safe to sweep; None if it is missing.

    Raises:
        NetnsPermissionError: (step ``check_run_dir``, EPERM) RUN_DIR is a
            symlink, not owned by root (or the caller), or writable by
            others; ``strerror`` says which.
        NetnsOSError: (step ``open_run_dir``) it cannot be opened.
    """
    path = os.fsdecode(run_dir)
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(run_dir, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(run_dir):
            raise unsafe_error("it is a symbolic link", path) from exc
        raise error_for(exc.errno or 0, "open_run_dir", path) from exc
    reason = unsafe_reason(os.fstat(fd))
    if reason is not None:
        os.close(fd)
        raise unsafe_error(reason, path)
    return fd


def unsafe_error(reason: str, path: str) -> NetnsPermissionError:
    """The refusal of an unsafe run directory."""
    return NetnsPermissionError(errno.EPERM, reason, path, "check_run_dir")


def check_run_dir(run_dir: bytes) -> bool:
    """Raise as :func:`open_run_dir` does; False if RUN_DIR is missing."""
    fd = open_run_dir(run_dir)
    if fd is None:
        return False
    os.close(fd)
    return True


def _listing(run_dir: bytes, fd: int) -> list[bytes]:
    """The entries of the run directory open as ``fd``, as bytes."""
    try:
        return [os.fsencode(n) for n in os.listdir(fd)]
    except OSError as exc:
        path = os.fsdecode(run_dir)
        raise error_for(exc.errno or 0, "open_run_dir", path) from exc


# -- mount points in every mount namespace ----------------------------------


def _tasks() -> Iterator[str]:
    """/proc/PID/task/TID of every task /proc shows (a thread may have a
    mount namespace of its own)."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone meanwhile
        for tid in tids:
            yield f"/proc/{pid}/task/{tid}"


def _ns_key(task: str) -> Optional[tuple[str, object]]:
    """The task's mount namespace and root, or None if it is gone.

    A task that may not be inspected gets a key of its own: its mount
    table is read all the same (mountinfo needs no ptrace access).
    """
    try:
        ns = os.readlink(f"{task}/ns/mnt")
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return (task, None)
    try:
        st = os.stat(f"{task}/root")
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return (ns, None)
    return (ns, (st.st_dev, st.st_ino))


class _Mounted:
    """The candidates found mounted so far, and those that could not be
    checked (name -> the error)."""

    def __init__(self, names: set[bytes], run_dir: os.stat_result) -> None:
        self.names = names
        self.dir_id = (run_dir.st_dev, run_dir.st_ino)
        self.mounted: set[bytes] = set()
        self.unsure: dict[bytes, NetnsOSError] = {}

    def read(self, task: str) -> bool:
        """Check the task's mount table; False if the task is gone."""
        try:
            with open(f"{task}/mountinfo", "rb") as f:
                table = f.read()
        except (FileNotFoundError, ProcessLookupError):
            return False
        except OSError as exc:
            err = error_for(exc.errno or 0, "mount_check", f"{task}/mountinfo")
            self.unsure.update(dict.fromkeys(self.names, err))
            return True
        for line in table.splitlines():
            fields = line.split(b" ")
            if len(fields) < 5:
                continue
            point = fields[4]
            if b"\\" in point:
                point = unescape_mount_field(point)
            parent, _, base = point.rpartition(b"/")
            if base not in self.names or base in self.mounted:
                continue
            where = os.fsencode(task) + b"/root" + (parent or b"/")
            try:
                st = os.stat(where)
            except OSError as exc:
                if not os.path.exists(task):
                    return False
                self.unsure[base] = error_for(
                    exc.errno or 0, "mount_check", os.fsdecode(where)
                )
                continue
            if (st.st_dev, st.st_ino) == self.dir_id:
                self.mounted.add(base)
        return True


def mounted_anywhere(
    run_dir: os.stat_result, names: set[bytes]
) -> tuple[set[bytes], dict[bytes, NetnsOSError]]:
    """Which ``names`` of the run directory are a mount point in some mount
    namespace that has a process in /proc.

    Returns the names found mounted, and the names that could not be
    checked (with the error): neither may be removed.
    """
    found = _Mounted(names, run_dir)
    seen: set[tuple[str, object]] = set()
    for _ in range(_ROUNDS):
        fresh = False
        for task in _tasks():
            key = _ns_key(task)
            if key is None or key in seen:
                continue
            if found.read(task):
                seen.add(key)
                fresh = True
        if not fresh:
            break
    for name in found.mounted:
        found.unsure.pop(name, None)
    return found.mounted, found.unsure


# -- the two passes ---------------------------------------------------------


def sweep(
    run_dir: bytes, fd: int, names: Iterable[bytes], min_age: float
) -> Iterator[Handled]:
    """Remove the stale ones among ``names`` of RUN_DIR (open as ``fd``).

    Yields ``(name, None)`` for each entry removed (by this call's own
    unlink) and ``(name, error)`` when it could not be removed or checked.
    Live names (mounted here or in another mount namespace), young files,
    files with data, entries that vanish or change meanwhile, and
    non-regular entries are skipped silently.
    """
    nsfs = nsfs_dev()
    now = time.time()
    candidates: dict[bytes, os.stat_result] = {}
    for name in names:
        try:
            st = os.lstat(name, dir_fd=fd)
        except OSError:
            continue  # gone meanwhile (or unreadable: not ours to judge)
        if is_stale(st, nsfs) and now - st.st_ctime >= min_age:
            candidates[name] = st
    if not candidates:
        return
    mounted, unsure = mounted_anywhere(os.fstat(fd), set(candidates))
    for name, before in candidates.items():
        if name in mounted:
            continue
        if name in unsure:
            yield name, unsure[name]
            continue
        try:
            st = os.lstat(name, dir_fd=fd)
        except OSError:
            continue
        if st.st_ino != before.st_ino or not is_stale(st, nsfs):
            continue  # replaced or filled meanwhile
        try:
            os.unlink(name, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EBUSY):
                continue  # removed by someone else, or mounted meanwhile
            path = os.fsdecode(run_dir + b"/" + name)
            yield name, error_for(exc.errno or 0, "unlink_name", path)
            continue
        yield name, None


def reclaim(
    run_dir: bytes,
    fd: int,
    names: Iterable[bytes],
    kinds: Iterable[str] = _owner.KINDS,
) -> Iterator[Handled]:
    """Unmount and remove the names among ``names`` whose owner is gone.

    Only names of the owner form (netns_fast._owner) of one of ``kinds``
    count, and only entries that are a namespace mount here or an empty
    regular file. Yields ``(name, None)`` for each one removed and
    ``(name, error)`` for each one whose delete failed.
    """
    from . import _sys  # noqa: PLC0415 (start-up)

    wanted = frozenset(kinds)
    here = _owner.proc_pidns()
    nsfs = nsfs_dev()
    for name in names:
        owner = _owner.parse(name)
        if owner is None or owner.kind not in wanted:
            continue
        if not _owner.is_gone(owner, here):
            continue
        try:
            st = os.lstat(name, dir_fd=fd)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if st.st_dev != nsfs and not is_stale(st, nsfs):
            continue  # a file with data: not one netns_fast made
        try:
            _sys.delete(run_dir, name)
        except NetnsOSError as exc:
            if exc.errno != errno.ENOENT:
                yield name, exc
            continue
        yield name, None


def run(
    run_dir: bytes,
    fd: int,
    names: list[bytes],
    min_age: float,
    dead_owners: bool,
) -> Iterator[Handled]:
    """The dead-owner pass (if asked), then the sweep of what is left."""
    done: set[bytes] = set()
    if dead_owners:
        for name, error in reclaim(run_dir, fd, names):
            done.add(name)
            yield name, error
    rest = [n for n in names if n not in done]
    yield from sweep(run_dir, fd, rest, min_age)


def _collect(handled: Iterable[Handled]) -> list[str]:
    removed: list[str] = []
    for name, error in handled:
        if error is not None:
            raise error
        removed.append(os.fsdecode(name))
    return removed


def gc(
    *,
    run_dir: Optional[Name] = None,
    min_age: float = DEFAULT_MIN_AGE,
    dead_owners: bool = False,
) -> list[str]:
    """Remove stale entries of RUN_DIR; return their names (netns-fast gc).

    A stale entry is an empty file with no namespace mounted on it in any
    mount namespace, e.g. left by a process killed in the middle of an
    add. Live names are never touched (see the module docstring for how
    that is guaranteed), and files younger than ``min_age`` seconds are
    left to a concurrent add that may be about to mount onto them. A
    missing RUN_DIR gives an empty list.

    With ``dead_owners=True`` (``netns-fast gc dead-owners``), the names
    that netns_fast made for pools and fixtures whose owner process is
    gone are unmounted and removed too, first.

    Raises:
        NetnsPermissionError: RUN_DIR is unsafe (step ``check_run_dir``:
            a symlink, not owned by root, writable by others), or an
            unlink was refused (the names removed before it are gone all
            the same).
        NetnsOSError: RUN_DIR cannot be read, a candidate could not be
            checked (step ``mount_check``), or another unlink error.
    """
    rd = run_dir_bytes(run_dir)
    fd = open_run_dir(rd)
    if fd is None:
        return []
    try:
        names = _listing(rd, fd)
        return _collect(run(rd, fd, names, min_age, dead_owners))
    finally:
        os.close(fd)


def reclaim_dead_owners(
    *, run_dir: Optional[Name] = None, kinds: Iterable[str] = _owner.KINDS
) -> list[Handled]:
    """Only the dead-owner pass of :func:`gc`, for names of ``kinds``:
    every name handled, with None or the error of its delete.

    Raises as :func:`gc` does for the run directory itself.
    """
    rd = run_dir_bytes(run_dir)
    fd = open_run_dir(rd)
    if fd is None:
        return []
    try:
        return list(reclaim(rd, fd, _listing(rd, fd), kinds))
    finally:
        os.close(fd)
