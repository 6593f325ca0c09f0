"""The kernel as the tests see it: the run directory, libc, mounts,
namespace inodes, capabilities, fds and threads.

Everything here runs in the test session's private mount namespace
(tests/conftest.py), so mounts made here never reach the host.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, NamedTuple, Optional, TypeVar, Union

from support.private import unescape_mount_field

RUN_DIR = "/run/netns"

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 0x4000
MS_SLAVE = 1 << 19
MNT_DETACH = 2

libc = ctypes.CDLL(None, use_errno=True)
"""The C library, with errno (ctypes.get_errno after a failed call)."""

PathLike = Union[str, Path]
T = TypeVar("T")


def check(rc: int, what: str) -> None:
    """Raise OSError(errno, "what: strerror") if a libc call returned
    non-zero."""
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


# -- mounts -------------------------------------------------------------------


class Mount(NamedTuple):
    """One line of /proc/self/mountinfo (mount point unescaped)."""

    mount_id: int
    parent_id: int
    mount_point: str
    optional: tuple[str, ...]
    fstype: str


def mounts() -> list[Mount]:
    """Every mount this process sees, in mountinfo order."""
    result = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            fields = line.split()
            dash = fields.index(b"-")
            result.append(
                Mount(
                    int(fields[0]),
                    int(fields[1]),
                    os.fsdecode(unescape_mount_field(fields[4])),
                    tuple(os.fsdecode(o) for o in fields[6:dash]),
                    os.fsdecode(fields[dash + 1]),
                )
            )
    return result


def mounts_at(path: PathLike) -> list[Mount]:
    """The mounts stacked on path, bottom first."""
    where = os.path.realpath(path)
    return [m for m in mounts() if m.mount_point == where]


def fstypes_at(path: PathLike) -> list[str]:
    """The file system types of the mounts stacked on path, bottom first."""
    return [m.fstype for m in mounts_at(path)]


def nsfs_mounts_under(run_dir: str) -> list[str]:
    """Mount points of the nsfs mounts directly in run_dir."""
    prefix = run_dir.rstrip("/") + "/"
    return [
        m.mount_point
        for m in mounts()
        if m.fstype == "nsfs"
        and m.mount_point.startswith(prefix)
        and "/" not in m.mount_point[len(prefix) :]
    ]


def mount(*args: str) -> None:
    """Run mount(8); raise if it fails."""
    subprocess.run(["mount", *args], check=True, capture_output=True)


def bind(source: str, target: str) -> None:
    """mount --bind SOURCE TARGET (mount(2) itself)."""
    rc = libc.mount(
        os.fsencode(source), os.fsencode(target), None, MS_BIND, None
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def umount_all(path: str) -> None:
    """Lazily unmount everything stacked on path."""
    raw = os.fsencode(path)
    while libc.umount2(raw, MNT_DETACH) == 0:
        pass


def wipe(run_dir: str) -> None:
    """Unmount and remove every entry of run_dir."""
    for name in os.listdir(run_dir):
        path = os.path.join(run_dir, name)
        umount_all(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


@contextlib.contextmanager
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


# -- namespaces ---------------------------------------------------------------


def ns_inode(path: PathLike) -> int:
    """The inode of a namespace file (follows the nsfs mount)."""
    return os.stat(path).st_ino


def thread_netns() -> int:
    """Inode of the calling thread's network namespace."""
    return ns_inode("/proc/thread-self/ns/net")


def nsfs_dev() -> int:
    """The device number every namespace file shares."""
    return os.stat("/proc/self/ns/net").st_dev


def is_live(path: str) -> bool:
    """path is a mounted namespace file (what it names is on nsfs)."""
    try:
        return os.lstat(path).st_dev == nsfs_dev()
    except FileNotFoundError:
        return False


def has_one_nsfs_mount(path: PathLike) -> bool:
    """path has exactly one mount on it, and that one is nsfs."""
    found = mounts_at(path)
    return len(found) == 1 and found[0].fstype == "nsfs"


def setns_net(path: str) -> None:
    """Move the calling thread into the network namespace at path."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        check(libc.setns(fd, CLONE_NEWNET), f"setns {path}")
    finally:
        os.close(fd)


# -- fds and capabilities -----------------------------------------------------


def fd_count() -> int:
    """How many fds this process has open."""
    return len(os.listdir("/proc/self/fd"))


CAP_SYS_ADMIN = 21
PR_CAPBSET_DROP = 24
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class CapHeader(ctypes.Structure):
    """struct __user_cap_header_struct."""

    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class CapData(ctypes.Structure):
    """struct __user_cap_data_struct (two of them: capabilities 0-63)."""

    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def update_capabilities(
    change: Callable[[ctypes.Array[CapData]], None],
) -> None:
    """capget the calling thread's capabilities, let change() edit them,
    capset them back; OSError if either call fails."""
    header = CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    change(data)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def drop_capability(cap: int) -> None:
    """Drop ``cap`` from this process: bounding, effective, permitted."""
    if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_CAPBSET_DROP)")
    word, bit = divmod(cap, 32)

    def clear(data: ctypes.Array[CapData]) -> None:
        for field in ("effective", "permitted", "inheritable"):
            value = getattr(data[word], field) & ~(1 << bit)
            setattr(data[word], field, value)

    update_capabilities(clear)


def cap_eff() -> int:
    """This process's effective capability mask (CapEff), -1 if unknown."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return -1


# -- threads ------------------------------------------------------------------


def run_threads(
    target: Callable[[int], None],
    count: int,
    *,
    barrier: Optional[threading.Barrier] = None,
    meanwhile: Optional[Callable[[], None]] = None,
    timeout: float = 60.0,
) -> None:
    """Run target(0..count-1) on count threads at once, and meanwhile() in
    this one; join them all, then re-raise the first failure. A failure
    aborts ``barrier`` so that the other threads stop waiting at it; a
    thread still running after ``timeout`` seconds fails too."""
    errors: list[BaseException] = []

    def body(k: int) -> None:
        try:
            target(k)
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)
            if barrier is not None:
                barrier.abort()

    threads = [threading.Thread(target=body, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    try:
        if meanwhile is not None:
            meanwhile()
    except BaseException as exc:
        errors.insert(0, exc)
        if barrier is not None:
            barrier.abort()
    for t in threads:
        t.join(timeout)
    if errors:
        raise errors[0]
    hung = sum(t.is_alive() for t in threads)
    if hung:
        raise AssertionError(
            f"{hung} thread(s) still running after {timeout}s"
        )


def in_thread(func: Callable[[], T], netns: Optional[str] = None) -> T:
    """func() on a fresh thread (that first entered the network namespace
    at path ``netns``, if given); its result, or its exception re-raised.

    The thread ends afterwards, so no thread is left in another namespace.
    """
    box: dict[str, object] = {}

    def body() -> None:
        try:
            if netns is not None:
                setns_net(netns)
            box["value"] = func()
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def in_netns(name: str, func: Callable[[], T]) -> T:
    """func() on a fresh thread inside the namespace RUN_DIR/name (see
    in_thread)."""
    return in_thread(func, f"{RUN_DIR}/{name}")
