"""``pyroute2.netns``, in-process and correct per thread.

Code written for pyroute2 switches by changing one import::

    from pyroute2 import netns                              # before
    from netns_fast.compat import pyroute2_netns as netns   # after

The functions keep pyroute2 0.9.7's names, signatures, defaults and
exceptions (the same builtin classes: FileExistsError, FileNotFoundError,
IndexError, RuntimeError, ...; netns_fast's subclasses of them, which also
carry ``.step``). Differences, all on purpose:

- nothing forks: ``create`` runs netns_fast's C ``add`` in the calling
  thread (which ends in the namespace it started in), so it is safe in
  multi-threaded programs and about 10x faster;
- ``setns``/``pushns``/``popns``/``dropns`` act on the *calling thread*
  (setns(2) only ever did), and the saved-namespace stack is per thread,
  saved from /proc/thread-self (pyroute2 keeps one process-wide stack saved
  from /proc/self, the main thread's namespace); ``popns`` checks that the
  thread really came back (NamespaceRestoreError otherwise);
- ``libc`` arguments are accepted and ignored (no ctypes is used);
- a failed ``create``/``attach`` removes the empty mount-point file that
  pyroute2 leaves behind (as iproute2 does);
- ``create_socket`` makes the socket in-process (no child, no timeout).

``NETNS_RUN_DIR`` is read at call time, so assigning it moves every
function to another run directory, as with pyroute2.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import socket
import threading
from typing import Any, Optional, Union

from .. import _sys
from ..exceptions import NamespaceRestoreError

CLONE_NEWNET = 0x40000000
MNT_DETACH = 0x00000002
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
NETNS_RUN_DIR = "/var/run/netns"

__all__ = [
    "CLONE_NEWNET",
    "MNT_DETACH",
    "MS_BIND",
    "MS_REC",
    "MS_SHARED",
    "NETNS_RUN_DIR",
    "attach",
    "create",
    "create_socket",
    "dropns",
    "getnsfd",
    "listnetns",
    "ns_pids",
    "pid_to_ns",
    "popns",
    "pushns",
    "remove",
    "setns",
]

NsArg = Union[str, bytes, int, io.IOBase]


class _Saved(threading.local):
    def __init__(self) -> None:
        self.stack: list[int] = []


_saved = _Saved()


def _netns_path(netns: Union[str, bytes]) -> bytes:
    """pyroute2's rule: a bare name lives in NETNS_RUN_DIR, else a path."""
    raw = os.fsencode(netns)
    if not os.path.dirname(raw):
        return os.fsencode(NETNS_RUN_DIR) + b"/" + raw
    return raw


def _split(netns: Union[str, bytes]) -> tuple[bytes, bytes]:
    path = _netns_path(netns)
    run_dir, name = os.path.split(path)
    return run_dir or b".", name


def listnetns(nspath: Optional[str] = None) -> list[str]:
    """List available network namespaces."""
    try:
        return os.listdir(nspath or NETNS_RUN_DIR)
    except FileNotFoundError:
        return []


def _by_inode(nspath: str) -> dict[tuple[int, int], str]:
    found: dict[tuple[int, int], str] = {}
    for name in listnetns(nspath=nspath):
        try:
            st = os.stat(os.path.join(nspath, name))
        except FileNotFoundError:
            continue
        found[(st.st_dev, st.st_ino)] = name
    return found


def ns_pids(nspath: str = NETNS_RUN_DIR) -> dict[str, list[int]]:
    """Every named namespace with the pids in it (unnamed ones left out)."""
    index = _by_inode(nspath)
    result: dict[str, list[int]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            st = os.stat(os.path.join("/proc", pid, "ns", "net"))
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.ENOENT):
                continue
            raise
        name = index.get((st.st_dev, st.st_ino))
        if name is not None:
            result.setdefault(name, []).append(int(pid))
    return result


def pid_to_ns(pid: int = 1, nspath: str = NETNS_RUN_DIR) -> Optional[str]:
    """The name of the namespace of ``pid``, or None."""
    try:
        st = os.stat(os.path.join("/proc", str(pid), "ns", "net"))
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.ENOENT):
            return None
        raise
    return _by_inode(nspath).get((st.st_dev, st.st_ino))


def _create(
    netns: Union[str, bytes], libc: Any = None, pid: Optional[int] = None
) -> None:
    """Create ``netns`` (pid None) or bind the namespace of ``pid``."""
    run_dir, name = _split(netns)
    if pid is None:
        _sys.add(run_dir, name)
    else:
        _sys.attach(run_dir, name, pid)


def create(netns: Union[str, bytes], libc: Any = None) -> None:
    """Create a network namespace (in-process: no fork)."""
    _create(netns, libc)


def attach(netns: Union[str, bytes], pid: int, libc: Any = None) -> None:
    """Name the network namespace of process ``pid`` ``netns``."""
    _create(netns, libc, pid)


def remove(netns: Union[str, bytes], libc: Any = None) -> None:
    """Remove a network namespace (lazy umount, then unlink)."""
    run_dir, name = _split(netns)
    _sys.delete(run_dir, name)


def getnsfd(
    netns: NsArg, flags: int = 0, libc: Any = None, fork: bool = True
) -> int:
    """An fd of ``netns`` (a name or path, a file object, or an fd).

    With ``flags`` O_CREAT a missing namespace is created; with
    O_CREAT | O_EXCL an existing one raises FileExistsError.
    """
    if isinstance(netns, (str, bytes)):
        path = _netns_path(netns)
        nsdir = os.fsdecode(os.path.dirname(os.fsencode(netns)))
        if os.fsdecode(os.path.basename(path)) in listnetns(nsdir):
            if flags & (os.O_CREAT | os.O_EXCL) == (os.O_CREAT | os.O_EXCL):
                raise OSError(errno.EEXIST, "netns exists", netns)
        elif flags & os.O_CREAT:
            create(netns, libc=libc)
        return _sys.open_ns(path)
    if isinstance(netns, io.IOBase):
        return netns.fileno()
    if isinstance(netns, int) and not isinstance(netns, bool):
        return netns
    raise RuntimeError("netns should be a string or an open fd")


def setns(
    netns: NsArg,
    flags: int = os.O_CREAT,
    libc: Any = None,
    fork: bool = True,
) -> None:
    """Move the calling thread into ``netns`` (created if missing, unless
    ``flags`` lacks O_CREAT)."""
    nsfd = getnsfd(netns, flags, libc, fork)
    where = os.fsdecode(netns) if isinstance(netns, (str, bytes)) else None
    try:
        os.close(_sys.enter(nsfd, where))
    finally:
        if where is not None:
            os.close(nsfd)


def pushns(newns: Optional[NsArg] = None, libc: Any = None) -> None:
    """Save the calling thread's namespace; then enter ``newns`` if given."""
    _saved.stack.append(_sys.open_ns(_sys.THREAD_NS_NET.encode()))
    if newns is not None:
        setns(newns, libc=libc)


def popns(libc: Any = None) -> None:
    """Return the calling thread to the namespace saved by pushns().

    The return is checked by inode; on failure the saved namespace stays on
    the stack and NamespaceRestoreError (an OSError) is raised.
    """
    fd = _saved.stack.pop()
    try:
        _sys.leave(fd, close_on_error=False)
    except NamespaceRestoreError:
        _saved.stack.append(fd)
        raise


def dropns(libc: Any = None) -> None:
    """Discard the namespace saved last by pushns() (no move)."""
    fd = _saved.stack.pop()
    with contextlib.suppress(OSError):
        os.close(fd)


def create_socket(  # noqa: PLR0917 - pyroute2's signature
    netns: Optional[str] = None,
    family: int = socket.AF_INET,
    socket_type: int = socket.SOCK_STREAM,
    proto: int = 0,
    fileno: Optional[int] = None,
    flags: int = os.O_CREAT,
    libc: Any = None,
    timeout: Any = None,
) -> socket.socket:
    """A socket made inside ``netns`` (in-process; ``timeout`` unused)."""
    if fileno is not None and netns is not None:
        raise TypeError("you can not specify both fileno and netns")
    if fileno is not None:
        return socket.socket(fileno=fileno)
    if netns is None:
        return socket.socket(family, socket_type, proto)
    nsfd = getnsfd(netns, flags, libc)
    try:
        sfd = _sys.socket_in(nsfd, family, socket_type, proto)
    finally:
        os.close(nsfd)
    return socket.socket(family, socket_type, proto, fileno=sfd)
