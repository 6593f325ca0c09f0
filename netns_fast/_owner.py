"""Names that carry their owner: which process made them, and is it alive.

The names netns_fast makes on its own (a :class:`~netns_fast.Pool`'s
default prefix, the pytest plugin's named namespaces) have this form::

    nsf-KIND-PID.START.PIDNS-REST

- KIND: ``pool`` or ``pytest``;
- PID: the owner's pid as /proc sees it (``readlink /proc/self``; in a pid
  namespace that still uses its parent's /proc, that is not
  ``os.getpid()``);
- START: the owner's start time (/proc/PID/stat field 22, clock ticks
  since boot) in base 36: a later process that reuses the pid has another
  start time, so it is never taken for the owner;
- PIDNS: the inode of the pid namespace whose pids /proc shows, in base
  36: an owner is only judged through a /proc of that same pid namespace
  (in another one, e.g. a container's own /proc, the pid means another
  process or none). 0 when it cannot be known (a pid namespace that uses
  its parent's /proc may not read the parent's namespace links): such
  names are never judged;
- REST: what the maker adds (a pool's serial and counter, a fixture's
  random tag).

``netns-fast gc dead-owners`` removes the names of this form whose owner
is gone (see netns_fast._gc). Only a sure answer counts as gone: an owner
that cannot be judged (another pid namespace, an unreadable /proc) lives.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple, Optional

from ._names import own_pid, read_run_dir, run_dir_bytes

if TYPE_CHECKING:
    from ._names import Name

KINDS = ("pool", "pytest")
"""The makers whose names carry their owner."""

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

# Field 22 of /proc/PID/stat, counted after the ")" that ends comm.
_STARTTIME = 22 - 3

_token: dict[int, str] = {}


class Owner(NamedTuple):
    """The owner recorded in a name."""

    kind: str
    pid: int
    start: int
    pidns: int


def _base36(value: int) -> str:
    out = ""
    while True:
        value, digit = divmod(value, 36)
        out = _DIGITS[digit] + out
        if not value:
            return out


def _from_base36(text: bytes) -> Optional[int]:
    """The value of canonical base-36 text (no leading zero), or None."""
    try:
        value = int(text.decode("ascii"), 36)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if _base36(value).encode() == text else None


_proc_self: list[tuple[int, int]] = []


def proc_pid() -> int:
    """This process's pid as /proc shows it (``readlink /proc/self``).

    In a pid namespace that still uses its parent's /proc (``unshare -p
    -f`` without ``--mount-proc``), os.getpid() is the number of the new
    namespace and /proc/<os.getpid()> is another process; every /proc
    path and every pid compared with a /proc scan uses this number.
    Computed once per process (a forked child computes its own); without
    a readable /proc it is os.getpid().
    """
    pid = own_pid()
    if _proc_self and _proc_self[0][0] == pid:
        return _proc_self[0][1]
    try:
        seen = int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        seen = pid
    _proc_self[:] = [(pid, seen)]
    return seen


def start_time(pid: int) -> Optional[int]:
    """The start time of process ``pid`` (/proc/PID/stat field 22), or
    None when /proc has no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may hold spaces and parentheses: split after the last ")".
    return int(data[data.rindex(b")") + 2 :].split()[_STARTTIME])


def proc_pidns() -> int:
    """The inode of the pid namespace whose pids /proc shows (0: unknown).

    NSpid in /proc/self/status lists this process's pid in every pid
    namespace from /proc's down to its own: one entry means /proc is of
    this process's own pid namespace. Otherwise /proc's pid 1 is the init
    of /proc's pid namespace, and is in it.
    """
    try:
        with open("/proc/self/status", "rb") as f:
            levels = next(
                (len(line.split()) - 1 for line in f if line[:6] == b"NSpid:"),
                1,
            )
        path = "/proc/self/ns/pid" if levels == 1 else "/proc/1/ns/pid"
        return os.stat(path).st_ino
    except OSError:
        return 0


def owner_token() -> str:
    """``PID.START.PIDNS`` of this process (computed once per process)."""
    token = _token.get(0)
    if token is None:
        pid = proc_pid()
        start = start_time(pid)
        if start is None:
            raise ProcessLookupError(f"/proc/{pid}/stat is missing")
        token = f"{pid}.{_base36(start)}.{_base36(proc_pidns())}"
        _token[0] = token
    return token


os.register_at_fork(after_in_child=_token.clear)


def owner_name(kind: str, rest: str) -> str:
    """``nsf-KIND-PID.START.PIDNS-REST``: a name owned by this process."""
    if kind not in KINDS:
        raise ValueError(f"unknown owner kind {kind!r}")
    return f"nsf-{kind}-{owner_token()}-{rest}"


def is_mine(name: bytes) -> Optional[bool]:
    """True if ``name`` carries this process as its owner, False if it
    carries another one, None if it is not of the owner form."""
    if parse(name) is None:
        return None
    try:
        token = owner_token()
    except OSError:
        return False  # no /proc: this process cannot have made it
    return name.split(b"-", 3)[2] == token.encode()


def parse(name: bytes) -> Optional[Owner]:
    """The owner recorded in ``name``, or None if it is not of the form."""
    parts = name.split(b"-", 3)
    if len(parts) != 4 or parts[0] != b"nsf" or not parts[3]:
        return None
    kind = parts[1].decode("ascii", "replace")
    fields = parts[2].split(b".")
    if kind not in KINDS or len(fields) != 3:
        return None
    pid_text, start_text, pidns_text = fields
    if not pid_text.isdigit() or pid_text.decode() != str(int(pid_text)):
        return None
    start, pidns = _from_base36(start_text), _from_base36(pidns_text)
    if start is None or pidns is None or int(pid_text) == 0:
        return None
    return Owner(kind, int(pid_text), start, pidns)


def state(owner: Owner, pidns: int) -> str:
    """``"alive"``, ``"dead"`` or ``"unknown"``: whether ``owner`` runs.

    ``pidns`` is :func:`proc_pidns` of the caller: an owner recorded in
    another pid namespace (or an unknown one) cannot be judged here. A
    process that /proc shows with another start time is a later one that
    reuses the pid: the owner is dead. A zombie still counts as the owner
    (its threads may still run).
    """
    if owner.pidns == 0 or owner.pidns != pidns:
        return "unknown"
    try:
        gone = start_time(owner.pid) != owner.start
    except (OSError, ValueError, IndexError):
        return "unknown"  # unreadable: not a sure answer
    return "dead" if gone else "alive"


def is_gone(owner: Owner, pidns: int) -> bool:
    """True only when ``owner`` surely lives no more (:func:`state` says
    ``"dead"``); an owner that cannot be judged counts as alive."""
    return state(owner, pidns) == "dead"


class OwnedName(NamedTuple):
    """A name of the owner form in the run directory, and its owner."""

    name: str
    kind: str
    """``pool`` or ``pytest``."""
    pid: int
    """The owner's pid, as /proc shows it."""
    state: str
    """``alive``, ``dead`` (``gc dead-owners`` removes the name) or
    ``unknown`` (another pid namespace, an unreadable /proc)."""


def owned(run_dir: bytes) -> list[tuple[bytes, Owner, str]]:
    """(name, owner, state) of every entry of the owner form in
    ``run_dir``, in directory order (netns-fast owners)."""
    here = proc_pidns()
    out = []
    for name in read_run_dir(run_dir):
        owner = parse(name)
        if owner is not None:
            out.append((name, owner, state(owner, here)))
    return out


def owners(*, run_dir: Optional[Name] = None) -> list[OwnedName]:
    """The names of pools and pytest sessions in RUN_DIR, with their
    owner process and whether it runs (``netns-fast owners``).

    Only names of the owner form (``nsf-KIND-PID.START.PIDNS-...``) are
    listed, in directory order; a missing RUN_DIR gives []. The names
    whose owner is ``dead`` are what ``gc(dead_owners=True)`` removes.
    """
    return [
        OwnedName(os.fsdecode(name), owner.kind, owner.pid, st)
        for name, owner, st in owned(run_dir_bytes(run_dir))
    ]
