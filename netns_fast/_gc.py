"""gc: remove stale entries of the run directory (an extension to ip).

A stale entry is a regular file in the run directory with no mount on it:
what a process killed between creating the file and bind-mounting the
namespace onto it leaves behind (iproute2 leaves one in most such kills,
because its slow unshare sits between the two steps). ``ip netns list``
still shows such a name, ``add`` of it fails with EEXIST, and ``exec``
fails with EINVAL.

How a live name is told apart, and why it is never touched:

- A live name is a mount of an nsfs inode: ``lstat`` of it reports nsfs's
  device number (the one of ``/proc/self/ns/net``). Anything else that is a
  regular file is a candidate.
- A candidate is removed with a plain ``unlink``, never ``umount``: the
  kernel refuses to unlink a mount point of the caller's mount namespace
  (EBUSY). So a name that a concurrent ``add`` or ``attach`` mounts after
  the check survives, and gc skips it.
- A concurrent ``add`` creates its file a moment before it mounts onto it.
  Unlinking the file in that moment would make that add fail (its mount
  finds no file), so candidates whose ctime is younger than ``min_age``
  seconds (default 2 s, far above the few hundred microseconds the window
  lasts, even for ip) are left alone. gc takes no lock: neither ip nor
  netns_fast holds the run directory's flock between the file and the
  mount, so the lock would not protect that window.

Directories, symlinks and other non-regular entries are never removed.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterable, Iterator
from typing import Optional

from ._names import Name, run_dir_bytes
from .api import list_names
from .exceptions import NetnsOSError, error_for

DEFAULT_MIN_AGE = 2.0
"""Seconds a file without a mount must exist before gc removes it."""

_NSFS_PROBE = "/proc/self/ns/net"


def nsfs_dev() -> int:
    """The device number of nsfs, shared by every namespace file."""
    return os.stat(_NSFS_PROBE).st_dev


def is_stale(st: os.stat_result, nsfs: int) -> bool:
    """A regular file that is not a namespace mount (lstat result)."""
    return stat.S_ISREG(st.st_mode) and st.st_dev != nsfs


def sweep(
    run_dir: bytes, names: Iterable[bytes], min_age: float
) -> Iterator[tuple[bytes, Optional[NetnsOSError]]]:
    """Remove the stale ones among ``names``; yield each one handled.

    Yields ``(name, None)`` for a removed entry and ``(name, error)`` when
    its unlink failed. Live names, young files, entries that vanish or get
    mounted meanwhile, and non-regular entries are skipped silently.
    """
    nsfs = nsfs_dev()
    now = time.time()
    for name in names:
        path = run_dir + b"/" + name
        try:
            st = os.lstat(path)
        except OSError:
            continue  # gone meanwhile (or unreadable: not ours to judge)
        if not is_stale(st, nsfs) or now - st.st_ctime < min_age:
            continue
        try:
            os.unlink(path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EBUSY):
                continue  # removed by someone else, or mounted meanwhile
            yield name, error_for(exc.errno or 0, "unlink", os.fsdecode(path))
            continue
        yield name, None


def gc(
    *, run_dir: Optional[Name] = None, min_age: float = DEFAULT_MIN_AGE
) -> list[str]:
    """Remove stale entries of RUN_DIR; return their names (netns-fast gc).

    A stale entry is a file with no namespace mounted on it, e.g. left by a
    process killed in the middle of an add. Live names are never touched
    (see the module docstring for how that is guaranteed), and files
    younger than ``min_age`` seconds are left to a concurrent add that may
    be about to mount onto them. A missing RUN_DIR gives an empty list.

    Raises:
        NetnsPermissionError: an unlink was refused (the names removed
            before it are gone all the same).
        NetnsOSError: RUN_DIR cannot be read, or another unlink error.
    """
    rd = run_dir_bytes(run_dir)
    names = [os.fsencode(n) for n in list_names(run_dir=rd)]
    removed: list[str] = []
    for name, error in sweep(rd, names, min_age):
        if error is not None:
            raise error
        removed.append(os.fsdecode(name))
    return removed
