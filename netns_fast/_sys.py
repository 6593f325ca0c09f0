"""The only module that touches the compiled cffi core.

Each wrapper passes bytes to C, which runs with the GIL released, and turns
a negative return (-errno plus the failing step) into the matching
:mod:`netns_fast.exceptions` class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Optional

from ._netns import ffi, lib
from .exceptions import NetnsOSError, error_for

THREAD_NS_NET = "/proc/thread-self/ns/net"

# NSF_STEP_CREATE -> "create", for every C module's step enum.
STEP_NAMES: dict[int, str] = {
    getattr(lib, attr): attr[len("NSF_STEP_") :].lower()
    for attr in dir(lib)
    if attr.startswith("NSF_STEP_")
}

# Steps whose failing object is the run directory itself.
_RUN_DIR_STEPS = frozenset(
    ("mkdir", "open_dir", "make_shared", "self_bind", "make_private", "stat")
)


def step_name(step: int) -> str:
    """The name of a C step number ("" for none)."""
    return STEP_NAMES.get(step, "") if step else ""


def _error(
    rc: int, step: int, run_dir: bytes, name: bytes, source: Optional[str]
) -> NetnsOSError:
    which = step_name(step)
    if which in _RUN_DIR_STEPS:
        path: Optional[str] = os.fsdecode(run_dir)
    elif which == "save_ns":
        path = THREAD_NS_NET
    elif which == "unshare":
        path = None
    else:
        path = os.fsdecode(run_dir + b"/" + name)
    return error_for(-rc, which, path, source if which == "bind" else None)


def prepare_run_dir(run_dir: bytes) -> None:
    """Make run_dir exist and be a shared mount point (cached)."""
    step = ffi.new("int *")
    rc = lib.nsf_prepare_run_dir(run_dir, step)
    if rc < 0:
        raise _error(rc, step[0], run_dir, b"", None)


def forget_run_dir() -> None:
    """Drop the C core's cached run-directory state."""
    lib.nsf_forget_run_dir()


def add(run_dir: bytes, name: bytes) -> None:
    """A new network namespace bound at run_dir/name."""
    step = ffi.new("int *")
    rc = lib.nsf_add(run_dir, name, step)
    if rc < 0:
        raise _error(rc, step[0], run_dir, name, THREAD_NS_NET)


def attach(run_dir: bytes, name: bytes, pid: int) -> None:
    """Bind /proc/PID/ns/net at run_dir/name."""
    step = ffi.new("int *")
    rc = lib.nsf_attach(run_dir, name, pid, step)
    if rc < 0:
        raise _error(rc, step[0], run_dir, name, f"/proc/{pid}/ns/net")


def delete(run_dir: bytes, name: bytes) -> None:
    """Unmount every mount on run_dir/name, then unlink it."""
    step = ffi.new("int *")
    rc = lib.nsf_delete(run_dir, name, step)
    if rc < 0:
        raise _error(rc, step[0], run_dir, name, None)


def _many(
    adding: bool, run_dir: bytes, names: Sequence[bytes], threads: int
) -> list[Optional[NetnsOSError]]:
    n = len(names)
    if n == 0:
        return []
    keep = [ffi.new("char[]", name) for name in names]
    c_names = ffi.new("char *[]", keep)
    results = ffi.new("int[]", n)
    steps = ffi.new("int[]", n)
    func = lib.nsf_add_many if adding else lib.nsf_delete_many
    rc = func(run_dir, c_names, n, threads, results, steps)
    if rc < 0:
        raise error_for(-rc, "thread", os.fsdecode(run_dir))
    source = THREAD_NS_NET if adding else None
    return [
        None
        if results[i] == 0
        else _error(results[i], steps[i], run_dir, names[i], source)
        for i in range(n)
    ]


def add_many(
    run_dir: bytes, names: Sequence[bytes], threads: int
) -> list[Optional[NetnsOSError]]:
    """add for every name on C threads; one error (or None) per name."""
    return _many(True, run_dir, names, threads)


def delete_many(
    run_dir: bytes, names: Sequence[bytes], threads: int
) -> list[Optional[NetnsOSError]]:
    """delete for every name on C threads; one error (or None) per name."""
    return _many(False, run_dir, names, threads)


def cpu_count() -> int:
    """CPUs this thread may run on."""
    return int(lib.nsf_cpu_count())


# -- nsid: ids of the names in a run directory (csrc/nsid.h) -----------------

# (imports kept here so that this section merges on its own)
from typing import Any, NamedTuple  # noqa: E402


class RawNsidEntry(NamedTuple):
    """One entry of a run directory and what RTM_GETNSID said about it."""

    name: bytes
    nsid: int
    """Its nsid in the calling thread's netns; -1 when none is assigned."""
    open_errno: int
    """errno of open(RUN_DIR/NAME) (e.g. it vanished); 0 if it opened."""
    query_errno: int
    """errno of a refused RTM_GETNSID; 0 if the kernel answered."""
    message: bytes
    """The kernel's ext-ack message for a refused query (b"" if none)."""


_NSID_OPEN_FAILED = lib.NSF_NSID_OPEN_FAILED
_NSID_QUERY_FAILED = lib.NSF_NSID_QUERY_FAILED
_NSID_FIELDS = lib.NSF_NSID_FIELDS


def _nsid_entries(raw: Any) -> list[RawNsidEntry]:
    count = raw.count
    if count == 0:
        return []
    recs: list[int] = ffi.unpack(raw.recs, count * _NSID_FIELDS)
    text = bytes(ffi.buffer(raw.text, raw.text_len))
    entries = []
    pos = 0
    for i in range(0, count * _NSID_FIELDS, _NSID_FIELDS):
        kind, nsid, err, name_len, msg_len = recs[i : i + _NSID_FIELDS]
        end = pos + name_len
        name = text[pos:end]
        pos = end + msg_len
        entries.append(
            RawNsidEntry(
                name,
                nsid,
                err if kind == _NSID_OPEN_FAILED else 0,
                err if kind == _NSID_QUERY_FAILED else 0,
                text[end:pos],
            )
        )
    return entries


def nsid_list(run_dir: bytes) -> list[RawNsidEntry]:
    """Every entry of run_dir in directory order, with its nsid.

    Raises the error of opendir(run_dir) (step "nsid_open_dir") or of the
    netlink socket; a failure of one entry is reported in its RawNsidEntry.
    """
    out = ffi.new("struct nsf_nsid_list **")
    step = ffi.new("int *")
    rc = lib.nsf_nsid_list(run_dir, out, step)
    if rc < 0:
        raise error_for(-rc, step_name(step[0]), os.fsdecode(run_dir))
    try:
        return _nsid_entries(out[0])
    finally:
        lib.nsf_nsid_list_free(out[0])


def nsid_get(run_dir: bytes, name: bytes) -> int:
    """The nsid of run_dir/name (-1: none assigned).

    A refused query raises with step "nsid_query" and the kernel's ext-ack
    message (if any) as ``strerror``.
    """
    nsid = ffi.new("int *")
    size = lib.NSF_NSID_MSG_MAX
    msg = ffi.new("char[]", size)
    step = ffi.new("int *")
    rc = lib.nsf_nsid_get(run_dir, name, nsid, msg, size, step)
    if rc < 0:
        which = step_name(step[0])
        exc = error_for(-rc, which, os.fsdecode(run_dir + b"/" + name))
        text = ffi.string(msg)
        if which == "nsid_query" and text:
            exc.strerror = os.fsdecode(text)
        raise exc
    return int(nsid[0])
