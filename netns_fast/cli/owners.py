"""``owners``: the names of pools and pytest sessions, with their owner
process (an extension to ip).

``netns-fast owners`` prints one line per entry of the run directory that
carries its owner (``nsf-KIND-PID.START.PIDNS-...``, netns_fast._owner),
in directory order::

    NAME KIND PID STATE

STATE is ``alive``, ``dead`` (``gc dead-owners`` would remove the name)
or ``unknown`` (an owner in another pid namespace, an unreadable /proc).
``-j`` prints ``[{"name":NAME,"kind":KIND,"pid":PID,"state":STATE},...]``.
Other names are not listed; a missing run directory lists nothing. Exit
0; an argument is ip's invarg() (exit 255); an unreadable run directory
is netns_foreach's message, exit 1.
"""

from __future__ import annotations

from .. import _owner
from ._ctx import invarg, listing_failed
from ._json import array_of_objects

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._ctx import Ctx
    from ._json import Value


def do_owners(ctx: Ctx, args: list[bytes]) -> int:
    """owners: one ``NAME KIND PID STATE`` line per owner-form name."""
    if args:
        invarg(ctx, b"unknown argument", args[0])
    try:
        found = _owner.owned(ctx.run_dir)
    except OSError as exc:
        listing_failed(ctx, exc)
        return 1
    if ctx.json:
        objects: list[list[tuple[bytes, Value]]] = [
            [
                (b"name", name),
                (b"kind", owner.kind.encode()),
                (b"pid", owner.pid),
                (b"state", state.encode()),
            ]
            for name, owner, state in found
        ]
        ctx.out.write(array_of_objects(objects, ctx.pretty))
        return 0
    for name, owner, state in found:
        ctx.out.write(
            b"%s %s %d %s\n"
            % (name, owner.kind.encode(), owner.pid, state.encode())
        )
    return 0
