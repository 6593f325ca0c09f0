"""``list``: the entries of the run directory, as ip prints them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._jsonw import Value, array_of_objects

if TYPE_CHECKING:
    from .cli import Ctx


def print_list(ctx: Ctx) -> int:
    """ip netns list: text or JSON, in directory order; always 0."""
    try:
        names = os.listdir(ctx.run_dir)
    except OSError:
        return 0  # ip prints nothing at all, not even "[]"
    if ctx.json:
        objects: list[list[tuple[bytes, Value]]] = [
            [(b"name", name)] for name in names
        ]
        ctx.out.write(array_of_objects(objects, ctx.pretty))
    else:
        ctx.out.write(b"".join(name + b"\n" for name in names))
    return 0
