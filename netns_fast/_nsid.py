"""Namespace ids (nsids): list, get, set, list-id, in-process.

An nsid is the number a network namespace gives to a peer namespace; it
only means something inside the namespace that assigned it. Every function
here works from the network namespace of the *calling thread* (its netlink
socket is made there), so a worker thread that entered a namespace sees
that namespace's ids. All functions are thread-safe.

:func:`list_with_nsids` and :func:`get_nsid` run in the C core;
:func:`set_nsid` and :func:`list_ids` go through pyroute2, which is
imported on their first call (it takes about 100 ms).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Literal, NamedTuple, Optional, Union

from . import _sys
from ._names import encode_name, run_dir_bytes
from .exceptions import NetnsOSError, error_for

if TYPE_CHECKING:
    from ._names import Name
    from ._rtnl_nsid import RtnlError

Auto = Literal["auto"]
NSID_MAX = 2**31 - 1

_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY


class NetnsEntry(NamedTuple):
    """A name in the run directory and its nsid (a line of ``ip netns
    list``)."""

    name: str
    nsid: Optional[int]
    """The id in the calling thread's namespace; None if none is assigned
    (or the entry is stale: a file with no namespace behind it)."""


class NsidEntry(NamedTuple):
    """One nsid of a namespace (``ip netns list-id``)."""

    nsid: Optional[int]
    """The id in the listed namespace (the caller's, or the target's);
    None when the target has no id for that peer."""
    current_nsid: Optional[int]
    """With a target: the same peer's id in the caller's namespace (None
    when unassigned). Without a target: always None."""
    name: Optional[str]
    """The first name in the run directory (directory order) whose
    namespace has that id in the caller's namespace, if any."""


def _kernel_error(
    exc: RtnlError, step: str, path: Optional[str]
) -> NetnsOSError:
    """The exception for a refused request, worded by the kernel."""
    # EINVAL for RTM_NEWNSID: the file is not a namespace (a stale name).
    err = error_for(exc.errno, step, path)
    if exc.message:
        err.strerror = exc.message.decode("utf-8", "replace")
    return err


def _check_nsid(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int")
    if not 0 <= value <= NSID_MAX:
        raise ValueError(f"{what} must be in 0..{NSID_MAX}, not {value}")
    return value


def list_with_nsids(*, run_dir: Optional[Name] = None) -> list[NetnsEntry]:
    """:func:`~netns_fast.list_names` with each name's nsid (what ``ip
    netns list`` prints after a name), in directory order.

    Stale entries are listed with ``nsid=None``. Unlike list_names, an
    entry that vanishes while the listing runs is left out. A missing
    RUN_DIR gives an empty list.
    """
    rd = run_dir_bytes(run_dir)
    try:
        entries = _sys.nsid_names(rd)
    except FileNotFoundError:
        return []
    return [
        NetnsEntry(os.fsdecode(name), nsid if nsid >= 0 else None)
        for name, nsid in entries
    ]


list_netns = list_with_nsids
"""list_with_nsids's former name, kept working (the README documents it)."""


def get_nsid(name: Name, *, run_dir: Optional[Name] = None) -> Optional[int]:
    """The nsid of NAME in the calling thread's namespace, or None.

    Raises:
        NamespaceNotFoundError: no such name.
        NetnsOSError: the kernel refused (e.g. a stale name: EINVAL,
            ``strerror`` "Peer netns reference is invalid").
    """
    nsid = _sys.nsid_get(run_dir_bytes(run_dir), encode_name(name))
    return nsid if nsid >= 0 else None


def set_nsid(
    name: Name,
    nsid: Union[int, Auto],
    *,
    run_dir: Optional[Name] = None,
) -> int:
    """Give NAME an nsid in the calling thread's namespace (ip netns set).

    ``nsid="auto"`` lets the kernel pick the lowest free id. An id cannot
    be changed once set. Returns the id NAME now has.

    Raises:
        NamespaceNotFoundError: no such name.
        NamespaceExistsError: NAME already has an id ("Peer netns already
            has a nsid assigned"), or the id is taken ("The specified nsid
            is already used"); ``strerror`` has the kernel's words.
        NotANamespaceError: NAME is a stale file.
        NetnsPermissionError: no CAP_NET_ADMIN.
    """
    value = -1 if nsid == "auto" else _check_nsid(nsid, "nsid")
    rd = run_dir_bytes(run_dir)
    raw = encode_name(name)
    path = os.fsdecode(rd + b"/" + raw)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise error_for(exc.errno or 0, "open_ns", path) from exc
    from ._rtnl_nsid import RtnlError, set_nsid_fd

    try:
        set_nsid_fd(fd, value)
    except RtnlError as exc:
        raise _kernel_error(exc, "rtm_newnsid", path) from exc
    finally:
        os.close(fd)
    if value >= 0:
        return value
    return _sys.nsid_get(rd, raw)


def list_ids(
    target_nsid: Optional[int] = None,
    nsid: Optional[int] = None,
    *,
    run_dir: Optional[Name] = None,
) -> list[NsidEntry]:
    """The nsids of the caller's namespace, or of ``target_nsid``'s.

    ``nsid`` picks one (an unassigned ``nsid`` gives an empty list).
    With ``target_nsid`` (an id in the caller's namespace), each entry
    shows the target's id and the caller's (``current_nsid``) for the
    same peer: ``list_ids(12, 13)`` is "what does the namespace I call 12
    call the one I call 13". Entries come in ascending id order.

    Raises:
        NetnsOSError: the kernel refused, e.g. an unknown ``target_nsid``
            (EINVAL, "Invalid target network namespace id").
    """
    target = (
        None
        if target_nsid is None
        else _check_nsid(target_nsid, "target_nsid")
    )
    single = None if nsid is None else _check_nsid(nsid, "nsid")
    from ._rtnl_nsid import RtnlError, dump, get_by_nsid

    try:
        if single is None:
            replies = dump(target)
        else:
            replies = [get_by_nsid(single, target)]
    except RtnlError as exc:
        if single is not None and exc.errno == errno.ENOENT:
            return []  # "Peer netns reference is invalid": no such nsid
        raise _kernel_error(exc, "rtm_getnsid", None) from exc
    names: dict[int, str] = {}
    for entry in list_with_nsids(run_dir=run_dir):
        if entry.nsid is not None:
            names.setdefault(entry.nsid, entry.name)
    result = []
    for reply in replies:
        mine = reply.nsid if target is None else reply.current
        result.append(
            NsidEntry(
                reply.nsid if reply.nsid >= 0 else None,
                None if target is None or mine is None or mine < 0 else mine,
                names.get(mine) if mine is not None else None,
            )
        )
    return result
