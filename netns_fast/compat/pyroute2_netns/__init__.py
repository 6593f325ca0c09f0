"""``pyroute2.netns``, in-process and correct per thread.

Code written for pyroute2 switches by changing one import::

    from pyroute2 import netns                              # before
    from netns_fast.compat import pyroute2_netns as netns   # after

or, to make pyroute2 itself (``IPRoute(netns=...)``, ``NetNS``, NDB
sources, ``pyroute2.fixtures``) use it, with :func:`netns_fast.compat.install`.

Supported: pyroute2 0.9.x (checked against 0.9.7). The module has every
name of pyroute2.netns's public API and the private names pyroute2's own
modules use (``_get_netnspath``, ``_create``, ``_create_socket_child``,
``_get_libc``, ``_get_ns_by_inode``), with the same signatures, defaults,
return types and exceptions (the same builtin classes: FileExistsError,
FileNotFoundError, IndexError, RuntimeError, TimeoutError, ...;
netns_fast's subclasses of them, which also carry ``.step``); the
``manager`` submodule mirrors ``pyroute2.netns.manager``. pyroute2's
``config.mock_netns`` is honoured the same way. Differences, all on
purpose:

- nothing forks: ``create`` runs netns_fast's C ``add`` in the calling
  thread (which ends in the namespace it started in), so it is safe in
  multi-threaded programs and about 10x faster; ``create_socket`` makes the
  socket in-process (``nsf_socket_in``: the calling thread enters the
  namespace and comes back), no child, no fd passing;
- ``setns``/``pushns``/``popns``/``dropns`` act on the *calling thread*
  (setns(2) only ever did), and the saved-namespace stack is per thread,
  saved from /proc/thread-self (pyroute2 keeps one process-wide stack saved
  from /proc/self, the main thread's namespace); ``popns`` checks that the
  thread really came back (NamespaceRestoreError otherwise);
- ``_create``, ``getnsfd(fork=False)`` and ``_create_socket_child`` leave
  the calling thread where it was (pyroute2's unshare or setns it in place,
  which only its forked child wants);
- a ``libc`` argument is not called: one lacking the function pyroute2
  would call raises the same AttributeError, any other is unused;
- a failed ``create``/``attach`` removes the empty mount-point file that
  pyroute2 leaves behind (as iproute2 does);
- names are encoded with ``os.fsencode`` (pyroute2: ASCII only, and a bytes
  name without a directory becomes ``/var/run/netns/b'NAME'``).

``NETNS_RUN_DIR`` is read at call time, so assigning it moves every
function to another run directory, as with pyroute2.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Any, Callable, NamedTuple, Optional, TypeVar, Union, cast

from ... import _sys

CLONE_NEWNET = 0x40000000
MNT_DETACH = 0x00000002
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
NETNS_RUN_DIR = "/var/run/netns"
USE_DEFAULT_TIMEOUT = -1  # pyroute2.common's marker: config's default

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

NsArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]", int, Any]
"""A name, a path (str, bytes or a path object), an fd, or an object with
fileno() (a file object, a netns_fast.Netns handle)."""
F = TypeVar("F", bound=Callable[..., Any])

# pyroute2's fallbacks when pyroute2.config is not loaded.
_DEFAULT_CREATE_SOCKET_TIMEOUT = 10


class _Saved(threading.local):
    def __init__(self) -> None:
        self.stack: list[int] = []


_saved = _Saved()
_libc: Any = None
_mocks: dict[str, Any] = {}


def _pyroute2_config() -> Any:
    """pyroute2.config if pyroute2 is loaded (never imported from here)."""
    return sys.modules.get("pyroute2.config")


def _mock_if(func: F) -> F:
    """pyroute2's ``config.mock_if('mock_netns')``.

    While pyroute2.config.mock_netns is true, a call is only recorded on a
    ``config.LocalMock`` (one per function), which is returned.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        config = _pyroute2_config()
        if config is not None and getattr(config, "mock_netns", False):
            mock = _mocks.get(func.__name__)
            if mock is None:
                mock = _mocks[func.__name__] = config.LocalMock()
            mock(*args, **kwargs)
            return mock
        return func(*args, **kwargs)

    return cast(F, wrapper)


def _check_libc(libc: Any, *calls: str) -> None:
    """The AttributeError pyroute2 raises for a libc lacking ``calls``."""
    if libc is not None:
        for name in calls:
            getattr(libc, name)


def _open_ns(path: Union[str, bytes]) -> int:
    """Open a namespace file (the one place compat opens one): without
    blocking, and refusing what is not a network namespace file."""
    return _sys.open_ns(os.fsencode(path))


def _get_netnspath(name: Union[str, bytes]) -> bytes:
    """The path of ``name``: a bare name lives in NETNS_RUN_DIR."""
    raw = os.fsencode(name)
    if not os.path.dirname(raw):
        return os.fsencode(NETNS_RUN_DIR) + b"/" + raw
    return raw


def _split(netns: Union[str, bytes]) -> tuple[bytes, bytes]:
    run_dir, name = os.path.split(_get_netnspath(netns))
    return run_dir or b".", name


def _get_libc(libc: Any = None) -> Any:
    """``libc`` if given, else the C library (ctypes, loaded once).

    Kept for code that calls it; nothing in this module uses it.
    """
    global _libc  # noqa: PLW0603 - pyroute2's cache
    if libc is not None:
        return libc
    if _libc is None:
        import ctypes  # noqa: PLC0415 - only for callers of this name
        import ctypes.util  # noqa: PLC0415

        _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return _libc


def listnetns(nspath: Optional[str] = None) -> list[str]:
    """List available network namespaces."""
    try:
        return os.listdir(nspath or NETNS_RUN_DIR)
    except FileNotFoundError:
        return []


def _get_ns_by_inode(nspath: str = NETNS_RUN_DIR) -> dict[int, dict[int, str]]:
    """{st_dev: {st_ino: name}} of the names in ``nspath``."""
    found: dict[int, dict[int, str]] = {}
    for name in listnetns(nspath=nspath):
        try:
            st = os.stat(os.path.join(nspath, name))
        except FileNotFoundError:
            continue
        found.setdefault(st.st_dev, {})[st.st_ino] = name
    return found


def _name_of(st: os.stat_result, index: dict[int, dict[int, str]]) -> Any:
    return index.get(st.st_dev, {}).get(st.st_ino)


def ns_pids(nspath: str = NETNS_RUN_DIR) -> dict[str, list[int]]:
    """Every named namespace with the pids in it (unnamed ones left out)."""
    index = _get_ns_by_inode(nspath)
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
        name = _name_of(st, index)
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
    name: Optional[str] = _name_of(st, _get_ns_by_inode(nspath))
    return name


def _create(
    netns: Union[str, bytes], libc: Any = None, pid: Optional[int] = None
) -> None:
    """Create ``netns`` (pid None) or bind the namespace of ``pid``.

    The calling thread stays in its namespace.
    """
    _check_libc(libc, "mount", *(("unshare",) if pid is None else ()))
    run_dir, name = _split(netns)
    if pid is None:
        _sys.add(run_dir, name)
    else:
        _sys.attach(run_dir, name, pid)


@_mock_if
def create(netns: Union[str, bytes], libc: Any = None) -> None:
    """Create a network namespace (in-process: no fork)."""
    _create(netns, libc)


@_mock_if
def attach(netns: Union[str, bytes], pid: int, libc: Any = None) -> None:
    """Name the network namespace of process ``pid`` ``netns``."""
    _create(netns, libc, pid)


@_mock_if
def remove(netns: Union[str, bytes], libc: Any = None) -> None:
    """Remove a network namespace (lazy umount, then unlink)."""
    _check_libc(libc, "umount2")
    run_dir, name = _split(netns)
    _sys.delete(run_dir, name)


@_mock_if
def getnsfd(
    netns: NsArg, flags: int = 0, libc: Any = None, fork: bool = True
) -> int:
    """An fd of ``netns`` (a name or path, a file object, a
    netns_fast.Netns handle, or an fd).

    With ``flags`` O_CREAT a missing namespace is created; with
    O_CREAT | O_EXCL an existing one raises FileExistsError. A name or path
    gives a new fd (the caller closes it); a file object's or an int is
    returned as is.
    """
    if isinstance(netns, os.PathLike):
        netns = os.fsencode(netns)
    if isinstance(netns, (str, bytes)):
        path = _get_netnspath(netns)
        nsdir = os.fsdecode(os.path.dirname(os.fsencode(netns)))
        if os.fsdecode(os.path.basename(path)) in listnetns(nsdir):
            if flags & (os.O_CREAT | os.O_EXCL) == (os.O_CREAT | os.O_EXCL):
                raise OSError(errno.EEXIST, "netns exists", netns)
        elif flags & os.O_CREAT:
            _create(netns, libc)
        return _open_ns(path)
    if isinstance(netns, int):  # True too, as pyroute2
        return netns
    if callable(getattr(netns, "fileno", None)):  # a file, a Netns handle
        return int(netns.fileno())
    raise RuntimeError("netns should be a string or an open fd")


@_mock_if
def setns(
    netns: NsArg,
    flags: int = os.O_CREAT,
    libc: Any = None,
    fork: bool = True,
) -> None:
    """Move the calling thread into ``netns`` (created if missing, unless
    ``flags`` lacks O_CREAT)."""
    nsfd = getnsfd(netns, flags, libc, fork)
    named = isinstance(netns, (str, bytes, os.PathLike))
    where = os.fsdecode(cast(Any, netns)) if named else None
    try:
        _check_libc(libc, "syscall")
        os.close(_sys.enter(nsfd, where))
    finally:
        if where is not None:
            os.close(nsfd)


@_mock_if
def pushns(newns: Optional[NsArg] = None, libc: Any = None) -> None:
    """Save the calling thread's namespace; then enter ``newns`` if given."""
    _saved.stack.append(_open_ns(_sys.THREAD_NS_NET))
    if newns is not None:
        setns(newns, libc=libc)


@_mock_if
def popns(libc: Any = None) -> None:
    """Return the calling thread to the namespace saved by pushns().

    The return is checked by inode; on failure the saved namespace stays on
    the stack and NamespaceRestoreError (an OSError) is raised.
    """
    fd = _saved.stack.pop()
    try:
        _check_libc(libc, "syscall")
        _sys.leave(fd, close_on_error=False)
    except Exception:
        _saved.stack.append(fd)
        raise


@_mock_if
def dropns(libc: Any = None) -> None:
    """Discard the namespace saved last by pushns() (no move)."""
    fd = _saved.stack.pop()
    with contextlib.suppress(OSError):
        os.close(fd)


class ChildProcessReturnValue(NamedTuple):
    """pyroute2.process.ChildProcessReturnValue: what a child returns."""

    payload: bytes
    fds: list[Any]


def _create_socket_child(  # noqa: PLR0917 - pyroute2's signature
    nsname: NsArg,
    flags: int,
    family: int,
    socket_type: int,
    proto: int,
    libc: Any = None,
) -> Any:
    """(b'', [socket]): a socket made inside ``nsname`` (created if missing
    and ``flags`` has O_CREAT), as pyroute2's child returns it; the calling
    thread stays in its namespace."""
    nsfd = getnsfd(nsname, flags, libc, False)
    try:
        _check_libc(libc, "syscall")
        sfd = _sys.socket_in(nsfd, family, socket_type, proto)
    finally:
        if isinstance(nsname, (str, bytes)):
            os.close(nsfd)
    sock = socket.socket(family, socket_type, proto, fileno=sfd)
    return ChildProcessReturnValue(b"", [sock])


_OWN_CREATE_SOCKET_CHILD = _create_socket_child


def _as_socket(fds: Sequence[Any]) -> socket.socket:
    """The first of a child's returned sockets or fds, as a socket; any
    others are closed."""
    first, rest = fds[0], fds[1:]
    for extra in rest:
        with contextlib.suppress(OSError):
            if isinstance(extra, int):
                os.close(extra)
            else:
                extra.close()
    if type(first) is socket.socket:
        return first
    if isinstance(first, int):
        return socket.socket(fileno=first)
    return socket.socket(fileno=first.detach())


def _close_result(result: Any) -> None:
    with contextlib.suppress(Exception):
        _as_socket(result[1]).close()


def _watched(
    child: Callable[..., Any], args: list[Any], timeout: float
) -> Any:
    """Run a replaced ``_create_socket_child`` on a worker thread and wait
    at most ``timeout`` seconds for it (a thread cannot be killed: one
    that answers late has its socket closed)."""
    lock = threading.Lock()
    done = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            result = child(*args)
        except BaseException as exc:
            result, box["error"] = None, exc
        with lock:
            if box.get("abandoned"):
                if result is not None:
                    _close_result(result)
                return
            box["result"] = result
        done.set()

    threading.Thread(
        target=work, name="netns_fast create_socket", daemon=True
    ).start()
    if not done.wait(timeout):
        with lock:
            if "result" not in box and "error" not in box:
                box["abandoned"] = True
                raise TimeoutError(
                    "could not start netns socket within timeout"
                )
    if "error" in box:
        raise box["error"]
    return box["result"]


@_mock_if
def create_socket(  # noqa: PLR0917 - pyroute2's signature
    netns: Optional[Union[str, bytes]] = None,
    family: int = socket.AF_INET,
    socket_type: int = socket.SOCK_STREAM,
    proto: int = 0,
    fileno: Optional[int] = None,
    flags: int = os.O_CREAT,
    libc: Any = None,
    timeout: Any = USE_DEFAULT_TIMEOUT,
) -> socket.socket:
    """A socket made inside ``netns``, in-process.

    ``timeout`` (default: pyroute2's ``config.default_create_socket_timeout``,
    10 s) bounds the wait as in pyroute2, where 0 or less raises
    TimeoutError at once. netns_fast's own ``_create_socket_child`` runs in
    the calling thread (nothing there can hang); a replaced one runs on a
    worker thread that is waited for at most ``timeout``.
    """
    if fileno is not None and netns is not None:
        raise TypeError("you can not specify both fileno and netns")
    if fileno is not None:
        return socket.socket(fileno=fileno)
    if netns is None:
        return socket.socket(family, socket_type, proto)
    if timeout == USE_DEFAULT_TIMEOUT:
        timeout = getattr(
            _pyroute2_config(),
            "default_create_socket_timeout",
            _DEFAULT_CREATE_SOCKET_TIMEOUT,
        )
    if timeout <= 0:
        raise TimeoutError("could not start netns socket within timeout")
    args = [netns, flags, family, socket_type, proto, libc]
    child = _create_socket_child  # looked up per call: it may be replaced
    if child is _OWN_CREATE_SOCKET_CHILD:
        result = child(*args)
    else:
        result = _watched(child, args, timeout)
    return _as_socket(result[1])
