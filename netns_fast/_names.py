"""Names and paths: iproute2's name rules and the run directory."""

from __future__ import annotations

import os

from .exceptions import InvalidNameError, error_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union

    Name = Union[str, bytes]
    """A namespace name: str (encoded with os.fsencode) or raw bytes."""

DEFAULT_RUN_DIR = "/run/netns"
"""Debian's NETNS_RUN_DIR, the directory ``ip netns`` uses here."""

THREAD_NS_NET = "/proc/thread-self/ns/net"
"""The calling thread's network namespace (never /proc/self: that is the
main thread's)."""

NAME_MAX = 255

# -- what this process made ---------------------------------------------------
#
# The leak check (netns_fast._leaks) blames a test only for what this
# process made, never for names another process (an xdist worker, CNI,
# docker) put in a shared run directory. _sys notes every name that add,
# attach and add_many made here, and forgets it when this process deletes
# it; a named Pool notes its prefix while it is open. Each note carries a
# serial, so that a check can tell what was made since it started. Plain
# dict operations: atomic under the GIL, and nothing here costs start-up.

made: dict[bytes, int] = {}
"""RUN_DIR/NAME -> serial, for the names this process made and did not
delete itself."""

made_prefixes: dict[bytes, int] = {}
"""RUN_DIR/PREFIX -> serial, for the named pools of this process that are
open (their names are RUN_DIR/PREFIX<n>)."""

_serial = [0]


def made_serial() -> int:
    """The serial of the last note (a check's starting point)."""
    return _serial[0]


def _next_serial() -> int:
    # Under the GIL; two threads that race here at worst share a serial,
    # which only matters to a check that starts between them.
    _serial[0] += 1
    return _serial[0]


def note_made(path: bytes) -> None:
    """RUN_DIR/NAME was made by this process."""
    made[path] = _next_serial()


def note_gone(path: bytes) -> None:
    """RUN_DIR/NAME was deleted by this process."""
    made.pop(path, None)


def note_prefix(path: bytes, is_open: bool) -> None:
    """A named pool's RUN_DIR/PREFIX opened (True) or closed (False)."""
    if is_open:
        made_prefixes[path] = _next_serial()
    else:
        made_prefixes.pop(path, None)


_pid = [os.getpid()]


def own_pid() -> int:
    """os.getpid() without a syscall: kept here, renewed in a child that
    os.fork() (or any fork that runs Python's after-fork hooks) made."""
    return _pid[0]


def _forget_made() -> None:
    """In a forked child: what the parent made is the parent's."""
    _pid[0] = os.getpid()
    made.clear()
    made_prefixes.clear()


os.register_at_fork(after_in_child=_forget_made)


def name_is_valid(name: bytes) -> bool:
    """iproute2's invalid_name(), inverted; NUL is refused too (no C str)."""
    return (
        0 < len(name) <= NAME_MAX
        and b"/" not in name
        and b"\0" not in name
        and name not in (b".", b"..")
    )


def encode_name(name: Name) -> bytes:
    """Return ``name`` as bytes, or raise InvalidNameError."""
    raw = os.fsencode(name)
    if not name_is_valid(raw):
        raise InvalidNameError(os.fsdecode(raw))
    return raw


def is_path(ns: object) -> bool:
    """Whether a namespace argument is a path rather than a name: a path
    object, or a str or bytes with a "/" (which no name has)."""
    if isinstance(ns, str):
        return "/" in ns
    if isinstance(ns, bytes):
        return b"/" in ns
    return isinstance(ns, os.PathLike)


def run_dir_bytes(run_dir: Optional[Name] = None) -> bytes:
    """The run directory: the argument, else $NETNS_RUN_DIR, else /run/netns.

    A trailing slash is dropped so that paths in messages read like ip's.
    """
    if run_dir is None:
        run_dir = os.environ.get("NETNS_RUN_DIR") or DEFAULT_RUN_DIR
    raw = os.fsencode(run_dir)
    if b"\0" in raw or not raw:
        raise ValueError(f"invalid run directory {run_dir!r}")
    stripped = raw.rstrip(b"/")
    return stripped or b"/"


def check_pid(pid: int) -> int:
    """A pid argument: an int in 1..2**31-1.

    Raises:
        TypeError: not an int (a bool is not a pid either).
        ValueError: out of range.
    """
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise TypeError("pid must be an int")
    if not 0 < pid < 2**31:
        raise ValueError(f"Invalid PID: {pid}")
    return pid


def check_threads(threads: Optional[int]) -> int:
    """A ``threads`` argument: None (0 for C: its own choice) or an
    int >= 1.

    Raises:
        TypeError: not an int (a bool is not a count either).
        ValueError: less than 1.
    """
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError("threads must be an int")
    if threads < 1:
        raise ValueError("threads must be >= 1")
    return threads


def read_run_dir(rd: bytes) -> list[bytes]:
    """The entries of the run directory ``rd`` in directory order ([] when
    it is missing); any other failure raises the errno's class at step
    "open_run_dir", naming ``rd``."""
    try:
        return os.listdir(rd)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise error_for(
            exc.errno or 0, "open_run_dir", os.fsdecode(rd)
        ) from exc
