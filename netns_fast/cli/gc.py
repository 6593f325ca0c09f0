"""``gc [dead-owners] [min-age SECONDS]``: remove stale entries (an
extension to ip).

``netns-fast gc`` prints ``removed NAME`` on stdout for every stale entry it
removes and exits 0. Live names are never touched, also those mounted only
in another mount namespace, and files younger than ``min-age`` seconds
(default 2) are left to a concurrent add that may be about to mount onto
them (see netns_fast._gc). ``dead-owners`` also unmounts and removes the
names netns_fast made for pools and fixtures whose owner process is gone,
each printed the same way. A missing run directory is not an error; an
unsafe one (a symlink, not owned by root, writable by others) is refused
with a message and exit code 1, as ``-all delete`` does. An unlink that
fails prints ip's delete message for that name, the sweep goes on, and the
exit code is 1. A bad argument exits 255 with iproute2's invarg() or
incomplete_command() message.
"""

from __future__ import annotations

import math
import os

from .. import _gc
from ._ctx import (
    cannot_remove,
    filename,
    foreach_entry,
    incomplete_command,
    invarg,
    listing_failed,
    step_of,
    strerror,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from ._ctx import Ctx

# The steps whose failure gc words itself (any other: ip's delete message).
_UNSAFE_STEP = "check_run_dir"
_MOUNT_CHECK_STEP = "mount_check"


def _seconds(text: bytes) -> Optional[float]:
    try:
        value = float(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_args(
    ctx: Ctx, args: list[bytes], default: float
) -> tuple[float, bool]:
    """``[dead-owners] [min-age SECONDS]`` in any order: (min_age,
    dead_owners); ip's invarg() (exit 255) on anything else."""
    min_age, dead_owners = default, False
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if word == b"dead-owners":
            dead_owners = True
            continue
        if word != b"min-age":
            invarg(ctx, b"unknown argument", word)
        if not rest:
            incomplete_command(ctx)
        text = rest.pop(0)
        value = _seconds(text)
        if value is None:
            invarg(ctx, b'Invalid "min-age" value', text)
        else:
            min_age = value
    return min_age, dead_owners


def open_checked(ctx: Ctx) -> Optional[int]:
    """The run directory's fd for a sweep, -1 if it is missing, or None
    (after the message) if it is unsafe or cannot be opened."""
    try:
        fd = _gc.open_run_dir(ctx.run_dir)
    except OSError as exc:
        if step_of(exc) != _UNSAFE_STEP:
            listing_failed(ctx, exc)
            return None
        ctx.error(
            b'Refusing unsafe netns runtime directory "'
            + ctx.run_dir
            + b'": '
            + os.fsencode(exc.strerror or "")
        )
        return None
    return -1 if fd is None else fd


def _report(ctx: Ctx, name: bytes, error: OSError) -> None:
    ctx.out.flush()
    if step_of(error) == _MOUNT_CHECK_STEP:
        ctx.error(
            b'Cannot check whether namespace file "'
            + ctx.path(name)
            + b'" is mounted elsewhere: '
            + filename(error)
            + b": "
            + strerror(error.errno)
        )
        return
    cannot_remove(ctx, error)


def do_gc(ctx: Ctx, args: list[bytes]) -> int:
    """gc: one ``removed NAME`` line per entry removed."""
    min_age, dead_owners = parse_args(ctx, args, _gc.DEFAULT_MIN_AGE)
    fd = open_checked(ctx)
    if fd is None:
        return 1
    if fd < 0:
        return 0
    rc = 0
    try:
        names = foreach_entry(ctx)
        if names is None:
            return 1
        for name, error in _gc.run(
            ctx.run_dir, fd, names, min_age, dead_owners
        ):
            if error is None:
                ctx.out.write(b"removed " + name + b"\n")
                continue
            _report(ctx, name, error)
            rc = 1
    finally:
        os.close(fd)
    return rc
