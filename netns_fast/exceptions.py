"""The exceptions netns_fast raises.

Every error is a :class:`NetnsError`. Errors that come from a syscall are
also the builtin :class:`OSError` subclass that matches their errno, so
``except FileExistsError`` works as it does for :func:`os.mkdir`, and they
carry ``errno``, ``strerror``, ``filename`` (the path involved), ``filename2``
(a second path, e.g. the source of a bind mount) and ``step`` (the name of
the syscall step that failed, e.g. ``"create_name"`` or ``"unshare_net"``:
the C core's step, ``NSF_STEP_CREATE_NAME``, in lower case).
"""

from __future__ import annotations

import errno as _errno
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


class NetnsError(Exception):
    """Base class of every exception netns_fast raises on purpose."""


class InvalidNameError(NetnsError, ValueError):
    """A name iproute2 rejects: empty, '.', '..', '/' inside, > 255 bytes."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Invalid netns name {name!r}")
        self.name = name


class NetnsOSError(NetnsError, OSError):
    """A syscall failed; errno, strerror, filename and step are set."""

    step: str

    def __init__(
        self,
        errno: int,
        strerror: Optional[str] = None,
        filename: Optional[str] = None,
        step: str = "",
        filename2: Optional[str] = None,
    ) -> None:
        if strerror is None:
            strerror = os.strerror(errno)
        super().__init__(errno, strerror, filename, None, filename2)
        self.step = step

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} (step: {self.step})" if self.step else base

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return (
            type(self),
            (
                self.errno,
                self.strerror,
                self.filename,
                self.step,
                self.filename2,
            ),
        )


class NamespaceExistsError(NetnsOSError, FileExistsError):
    """The name (or a stale file of that name) exists already (EEXIST)."""


class NamespaceNotFoundError(NetnsOSError, FileNotFoundError):
    """No such name, run directory or process (ENOENT)."""


class NetnsFileNotFoundError(NetnsOSError, FileNotFoundError):
    """A file that is no namespace is missing (ENOENT): the program or
    the working directory of a spawn (steps "exec", "chdir")."""


class NetnsPermissionError(NetnsOSError, PermissionError):
    """The caller lacks the privilege (EPERM, EACCES)."""


class NetnsProcessLookupError(NetnsOSError, ProcessLookupError):
    """No such process (ESRCH)."""


class NetnsNotADirectoryError(NetnsOSError, NotADirectoryError):
    """A path component is not a directory (ENOTDIR)."""


class NetnsIsADirectoryError(NetnsOSError, IsADirectoryError):
    """A directory where a file was expected (EISDIR)."""


class NetnsInterruptedError(NetnsOSError, InterruptedError):
    """A syscall was interrupted by a signal (EINTR)."""


class NetnsBlockingIOError(NetnsOSError, BlockingIOError):
    """The operation would block (EAGAIN)."""


class NetnsChildProcessError(NetnsOSError, ChildProcessError):
    """No such child process (ECHILD)."""


class NetnsTimeoutError(NetnsOSError, TimeoutError):
    """A wait timed out (ETIMEDOUT)."""


class NamespaceBusyError(NetnsOSError):
    """The name is in use, e.g. still mounted elsewhere (EBUSY)."""


class NamespaceLimitError(NetnsOSError):
    """The namespace limit was hit: ENOSPC from unshare (e.g.
    user.max_net_namespaces, or user.max_user_namespaces for
    unshare_rootless). ENOSPC at another step (a full run-directory
    file system at "create_name") is a plain NetnsOSError naming the
    path."""


class NotANamespaceError(NetnsOSError):
    """The file is not a network namespace: refused before setns (step
    "not_netns": a FIFO, a stale entry, another namespace type), or EINVAL
    from setns or from the kernel's nsid request for it."""


class NamespaceRestoreError(NetnsOSError):
    """The thread could not return to its namespace; it is not safe to use."""


_BY_ERRNO: dict[int, type[NetnsOSError]] = {
    _errno.EEXIST: NamespaceExistsError,
    _errno.ENOENT: NamespaceNotFoundError,
    _errno.EPERM: NetnsPermissionError,
    _errno.EACCES: NetnsPermissionError,
    _errno.ESRCH: NetnsProcessLookupError,
    _errno.ENOTDIR: NetnsNotADirectoryError,
    _errno.EISDIR: NetnsIsADirectoryError,
    _errno.EINTR: NetnsInterruptedError,
    _errno.EAGAIN: NetnsBlockingIOError,
    _errno.ECHILD: NetnsChildProcessError,
    _errno.ETIMEDOUT: NetnsTimeoutError,
    _errno.EBUSY: NamespaceBusyError,
    _errno.ENOSPC: NamespaceLimitError,
}


# Steps after which the thread may be in a foreign namespace.
_RESTORE_STEPS = frozenset(("restore_net", "verify_net"))
# Steps whose ENOENT is about another file than a namespace.
_OTHER_FILE_STEPS = frozenset(("exec", "chdir"))
# Steps at which ENOSPC is a namespace limit (user.max_*_namespaces).
_LIMIT_STEPS = frozenset(("unshare_net", "unshare_user"))
# Steps at which EINVAL means that the file is no network namespace.
_NOT_NS_STEPS = frozenset(("setns_net", "rtm_newnsid"))


def error_class(err: int, step: str) -> type[NetnsOSError]:
    """The exception class for errno ``err`` at ``step``: the restore
    steps give NamespaceRestoreError, a refused namespace file
    NotANamespaceError, ENOSPC the namespace limit only at unshare, a
    missing program or working directory NetnsFileNotFoundError (never
    NamespaceNotFoundError); otherwise the errno's class."""
    if step in _RESTORE_STEPS:
        return NamespaceRestoreError
    if step == "not_netns" or (err == _errno.EINVAL and step in _NOT_NS_STEPS):
        return NotANamespaceError
    if err == _errno.ENOSPC and step not in _LIMIT_STEPS:
        return NetnsOSError
    if err == _errno.ENOENT and step in _OTHER_FILE_STEPS:
        return NetnsFileNotFoundError
    return _BY_ERRNO.get(err, NetnsOSError)


def error_for(
    err: int,
    step: str,
    filename: Optional[str] = None,
    filename2: Optional[str] = None,
) -> NetnsOSError:
    """The exception for errno ``err`` at ``step`` on ``filename`` (of the
    class error_class picks)."""
    return error_class(err, step)(
        err, os.strerror(err), filename, step, filename2
    )
