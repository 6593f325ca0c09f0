"""The lifecycle family: add, attach, list, delete and their batches,
named after the ``ip netns`` verbs.

Every function takes an optional ``run_dir`` (default: $NETNS_RUN_DIR, else
/run/netns). Names follow iproute2's rules; a bad name raises
:class:`~netns_fast.exceptions.InvalidNameError` before anything is done.
Every function is safe to call from any thread: the calling thread always
ends in the network namespace it started in.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple, Optional

from . import _sys
from ._names import (
    check_pid,
    check_threads,
    encode_name,
    read_run_dir,
    run_dir_bytes,
)
from .exceptions import NetnsOSError, error_for

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._names import Name


class Outcome(NamedTuple):
    """What happened to one name of a batch."""

    name: str
    error: Optional[NetnsOSError]

    @property
    def ok(self) -> bool:
        """True when the name was added (or deleted)."""
        return self.error is None


def add(name: Name, *, run_dir: Optional[Name] = None) -> None:
    """Create a network namespace and bind it at RUN_DIR/NAME (ip netns add).

    Raises:
        InvalidNameError: the name breaks iproute2's rules.
        NamespaceExistsError: RUN_DIR/NAME exists (a live or stale name).
        NetnsPermissionError: no CAP_SYS_ADMIN.
        NetnsOSError: any other failure; ``.step`` names the syscall.
    """
    _sys.add(run_dir_bytes(run_dir), encode_name(name))


def attach(name: Name, pid: int, *, run_dir: Optional[Name] = None) -> None:
    """Name the network namespace of process ``pid`` (ip netns attach)."""
    _sys.attach(run_dir_bytes(run_dir), encode_name(name), check_pid(pid))


def delete(
    name: Name, *, run_dir: Optional[Name] = None, kill: bool = False
) -> None:
    """Remove a name (ip netns delete).

    Every mount stacked on RUN_DIR/NAME is lazily unmounted, then the file
    is unlinked; a stale file with no mount behind it is removed too. The
    namespace itself lives on while processes or open fds still use it.

    With ``kill=True``, every process inside the namespace is killed first
    (SIGKILL, and waited for), as the ip-netns man page advises: physical
    devices moved into the namespace return to the initial one only when
    the namespace is freed.
    """
    rd, raw = run_dir_bytes(run_dir), encode_name(name)
    if kill:
        from ._procs import kill_all  # noqa: PLC0415 (start-up)

        path = rd + b"/" + raw
        try:
            st = os.stat(path)
        except OSError as exc:
            raise error_for(
                exc.errno or 0, "stat_ns", os.fsdecode(path)
            ) from exc
        # A stale file's (dev, ino) is no process's namespace: no match.
        kill_all((st.st_dev, st.st_ino))
    _sys.delete(rd, raw)


def list_names(*, run_dir: Optional[Name] = None) -> list[str]:
    """Every entry of RUN_DIR in directory order: the names ``ip netns
    list`` prints.

    Stale entries are listed too. A missing RUN_DIR gives an empty list.
    :func:`~netns_fast.list_with_nsids` adds each name's nsid.
    """
    return [os.fsdecode(e) for e in read_run_dir(run_dir_bytes(run_dir))]


def add_many(
    names: Iterable[Name],
    *,
    run_dir: Optional[Name] = None,
    threads: Optional[int] = None,
) -> list[Outcome]:
    """Add every name on C threads (one per CPU by default).

    Returns one :class:`Outcome` per name, in order. A failing name never
    affects the others. All names are checked first: one bad name raises
    InvalidNameError and nothing is created.
    """
    raw = [encode_name(n) for n in names]
    errors = _sys.add_many(run_dir_bytes(run_dir), raw, check_threads(threads))
    return [Outcome(os.fsdecode(n), e) for n, e in zip(raw, errors)]


def delete_many(
    names: Iterable[Name],
    *,
    run_dir: Optional[Name] = None,
    threads: Optional[int] = None,
) -> list[Outcome]:
    """Delete every name on C threads; one :class:`Outcome` per name."""
    raw = [encode_name(n) for n in names]
    errors = _sys.delete_many(
        run_dir_bytes(run_dir), raw, check_threads(threads)
    )
    return [Outcome(os.fsdecode(n), e) for n, e in zip(raw, errors)]


def delete_all(*, run_dir: Optional[Name] = None) -> list[Outcome]:
    """Delete every entry of RUN_DIR (ip -all netns delete).

    Unlike ip, a failure does not stop the others: every entry is tried and
    reported. Only use this on a run directory that is yours.

    Raises:
        NetnsPermissionError: (step ``check_run_dir``) RUN_DIR is a
            symlink, not owned by root (or the caller), or writable by
            others: nothing is deleted (ip deletes what it points to).
    """
    from ._gc import check_run_dir  # noqa: PLC0415 (start-up)

    rd = run_dir_bytes(run_dir)
    if not check_run_dir(rd):
        return []
    names = [os.fsencode(n) for n in list_names(run_dir=rd)]
    errors = _sys.delete_many(rd, names, 0)
    return [Outcome(os.fsdecode(n), e) for n, e in zip(names, errors)]
