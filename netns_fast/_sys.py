"""The only module that touches the compiled cffi core.

Each wrapper passes bytes to C, which runs with the GIL released, and turns
a negative return (-errno plus the failing step) into the matching
:mod:`netns_fast.exceptions` class.
"""

from __future__ import annotations

import errno
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


# == procs: the /proc scanner and the inotify watcher (csrc/procs.c) =========
# Used by netns_fast.procs (API) and netns_fast._cli_procs (CLI).

PROC_DIR = b"/proc"

NsKey = tuple[int, int]
"""(st_dev, st_ino) of a namespace file: what ip compares."""

# Record kinds of nsf_watch_read.
WATCH_ADD = b"a"
WATCH_DELETE = b"d"
WATCH_OVERFLOW = b"o"
WATCH_GONE = b"x"
_WATCH_BUF = 4096


def _procs_error(rc: int, step: int, path: bytes) -> NetnsOSError:
    return error_for(-rc, step_name(step), os.fsdecode(path))


def ns_key(path: bytes) -> NsKey:
    """open + fstat of a namespace file, as ip's pids and identify do."""
    dev = ffi.new("unsigned long long *")
    ino = ffi.new("unsigned long long *")
    step = ffi.new("int *")
    rc = lib.nsf_ns_key(path, dev, ino, step)
    if rc < 0:
        raise _procs_error(rc, step[0], path)
    return (int(dev[0]), int(ino[0]))


def scan_pids(
    keys: Sequence[NsKey], threads: int = 0, proc_dir: bytes = PROC_DIR
) -> list[list[int]]:
    """One scan of proc_dir: the pids (in /proc order) of every key."""
    n = len(keys)
    if n == 0:
        return []
    devs = ffi.new("unsigned long long[]", [k[0] for k in keys])
    inos = ffi.new("unsigned long long[]", [k[1] for k in keys])
    counts = ffi.new("int[]", n)
    step = ffi.new("int *")
    try:
        # procfs counts a link per process: no match list is longer.
        cap = os.stat(proc_dir).st_nlink + 64
    except OSError:
        cap = 1024
    while True:
        out = ffi.new("int[]", cap)
        rc = lib.nsf_scan_pids(
            proc_dir, devs, inos, n, threads, out, cap, counts, step
        )
        if rc < 0:
            raise _procs_error(rc, step[0], proc_dir)
        if rc <= cap:
            break
        cap = rc + 64  # processes appeared since the estimate: scan again
    flat: list[int] = ffi.unpack(out, rc)
    if n == 1:
        return [flat]
    groups: list[list[int]] = []
    pos = 0
    for count in ffi.unpack(counts, n):
        groups.append(flat[pos : pos + count])
        pos += count
    return groups


def stat_names(run_dir: bytes, names: Sequence[bytes]) -> list[NsKey]:
    """The key of run_dir/NAME for each name; (0, 0) if its stat fails."""
    n = len(names)
    if n == 0:
        return []
    devs = ffi.new("unsigned long long[]", n)
    inos = ffi.new("unsigned long long[]", n)
    step = ffi.new("int *")
    rc = lib.nsf_stat_names(
        run_dir, b"\0".join(names) + b"\0", n, devs, inos, step
    )
    if rc < 0:
        raise _procs_error(rc, step[0], run_dir)
    return list(zip(ffi.unpack(devs, n), ffi.unpack(inos, n)))


def identify(ns_path: bytes, run_dir: bytes) -> list[bytes]:
    """The names in run_dir bound to the namespace of ns_path, in
    directory order; [] when run_dir is missing."""
    cap = 1024
    step = ffi.new("int *")
    while True:
        buf = ffi.new("char[]", cap)
        rc = lib.nsf_identify(ns_path, run_dir, buf, cap, step)
        if rc < 0:
            which = step_name(step[0])
            where = ns_path if which == "ns_open" else run_dir
            raise error_for(-rc, which, os.fsdecode(where))
        if rc <= cap:
            break
        cap = rc  # more names than room: read them again
    data: bytes = ffi.unpack(buf, rc)
    return data.split(b"\0")[:-1]


def watch_open(run_dir: bytes) -> int:
    """ip netns monitor's setup: an inotify fd watching run_dir."""
    step = ffi.new("int *")
    rc = lib.nsf_watch_open(run_dir, step)
    if rc < 0:
        raise _procs_error(rc, step[0], run_dir)
    return int(rc)


def wake_fd() -> int:
    """An eventfd that wakes watch_read and wait_fd when written to."""
    step = ffi.new("int *")
    rc = lib.nsf_wake_fd(step)
    if rc < 0:
        raise error_for(-rc, step_name(step[0]))
    return int(rc)


def watch_read(
    fd: int, wake: int, timeout_ms: int
) -> Optional[list[tuple[bytes, bytes]]]:
    """Wait for inotify events: (kind, name) records, [] on timeout or a
    signal, None when woken through ``wake`` (-1: no wake fd)."""
    buf = ffi.new("char[]", _WATCH_BUF)
    step = ffi.new("int *")
    rc = lib.nsf_watch_read(fd, wake, timeout_ms, buf, _WATCH_BUF, step)
    if rc == -errno.ECANCELED:
        return None
    if rc == -errno.EINTR:
        return []
    if rc < 0:
        raise error_for(-rc, step_name(step[0]))
    data: bytes = ffi.unpack(buf, rc)
    return [(rec[:1], rec[1:]) for rec in data.split(b"\0")[:-1]]


def wait_fd(fd: int, timeout_ms: int) -> bool:
    """True when fd became readable within timeout_ms."""
    rc = lib.nsf_wait_fd(fd, timeout_ms)
    if rc < 0 and rc != -errno.EINTR:
        raise error_for(-rc, "watch_poll")
    return rc > 0


def netns_ready(run_dir: bytes, name: bytes) -> Optional[bool]:
    """Whether run_dir/name can be entered now; None when it is gone."""
    step = ffi.new("int *")
    rc = lib.nsf_netns_ready(run_dir, name, step)
    if rc == -errno.ENOENT:
        return None
    return rc > 0
