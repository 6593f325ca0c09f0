"""``gc [min-age SECONDS]``: remove stale entries (an extension to ip).

``netns-fast gc`` prints ``removed NAME`` on stdout for every stale entry it
removes and exits 0. Live names are never touched, and files younger than
``min-age`` seconds (default 2) are left to a concurrent add that may be
about to mount onto them (see netns_fast._gc). A missing run directory is
not an error. An unlink that fails prints ip's delete message for that
name, the sweep goes on, and the exit code is 1. A bad argument exits 255
with iproute2's invarg() or incomplete_command() message.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .cli import Ctx


def _seconds(text: bytes) -> Optional[float]:
    try:
        value = float(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_min_age(ctx: Ctx, args: list[bytes], default: float) -> float:
    """``[min-age SECONDS]``; ip's invarg() (exit 255) on anything else."""
    from .cli import CliExit, invarg

    min_age = default
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if word != b"min-age":
            invarg(ctx, b"unknown argument", word)
        if not rest:
            ctx.error(b'Command line is not complete. Try option "help"')
            raise CliExit(255)
        text = rest.pop(0)
        value = _seconds(text)
        if value is None:
            invarg(ctx, b'Invalid "min-age" value', text)
        else:
            min_age = value
    return min_age


def do_gc(ctx: Ctx, args: list[bytes]) -> int:
    """gc: one ``removed NAME`` line per stale entry removed."""
    from . import _gc
    from .cli import foreach_entry, strerror

    min_age = parse_min_age(ctx, args, _gc.DEFAULT_MIN_AGE)
    entries = foreach_entry(ctx)
    if entries is None:
        return 1
    rc = 0
    for name, error in _gc.sweep(ctx.run_dir, entries, min_age):
        if error is None:
            ctx.out.write(b"removed " + name + b"\n")
            continue
        ctx.out.flush()
        ctx.error(
            b'Cannot remove namespace file "'
            + ctx.path(name)
            + b'": '
            + strerror(error.errno)
        )
        rc = 1
    return rc
