"""``list``: the entries of the run directory with their nsids, as ip.

The per-entry RTM_GETNSID queries run in the C core (one netlink socket
for the whole pass), so this module never imports pyroute2.

ip's ``list`` and ``list-id`` first build an nsid -> name cache
(``netns_map_init``: one query per entry), once per process, so in a batch
only the first of them builds it. ``list`` then queries every entry again.
A failed query prints its error each time, so a stale entry costs two
``Error: Peer netns reference is invalid.`` lines. netns-fast does one pass
and replays it for both, with the same output.
"""

from __future__ import annotations

from .. import _sys
from ._ctx import CliExit, step_of, strerror
from ._json import array_of_objects

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from .._sys import RawNsidEntry
    from ._ctx import Ctx
    from ._json import Value

_CACHE_KEY = "nsid_cache"

# The steps of the listing that ip words itself: a run directory that
# cannot be opened lists nothing, silently; the socket and any other step
# exit 1 with these messages.
_SILENT_STEP = "open_run_dir"
_SOCKET_STEP = "socket_netlink"


class NsidCache:
    """ip's nsid -> name cache (netns_map_*); lives across batch lines."""

    def __init__(self) -> None:
        self.names: dict[int, bytes] = {}
        self.ready = False

    def add(self, nsid: int, name: bytes) -> None:
        """netns_map_add: the first name of an nsid stays."""
        self.names.setdefault(nsid, name)


def nsid_cache(ctx: Ctx) -> NsidCache:
    """The CLI's cache (made empty on first use)."""
    cache = ctx.state.get(_CACHE_KEY)
    if not isinstance(cache, NsidCache):
        cache = NsidCache()
        ctx.state[_CACHE_KEY] = cache
    return cache


def kernel_error(message: Optional[bytes], err: int) -> bytes:
    """How ip words a refused netlink request (ext-ack text or errno)."""
    if message:
        dot = b"" if message.endswith(b".") else b"."
        return b"Error: " + message + dot
    return b"RTNETLINK answers: " + strerror(err)


def report(ctx: Ctx, entry: RawNsidEntry) -> None:
    """Print the error of an entry's query, as get_netnsid_from_name."""
    if entry.query_errno:
        ctx.error(kernel_error(entry.message, entry.query_errno))


def scan(ctx: Ctx) -> Optional[list[RawNsidEntry]]:
    """One pass over RUN_DIR; None (silently) if it cannot be opened."""
    try:
        return _sys.nsid_list(ctx.run_dir)
    except OSError as exc:
        step = step_of(exc)
        if step == _SILENT_STEP:
            return None
        if step == _SOCKET_STEP:
            ctx.error(b"Cannot open rtnetlink")
        else:
            ctx.error(b"Cannot talk to rtnetlink: " + strerror(exc.errno))
        raise CliExit(1) from exc


def map_init(ctx: Ctx, entries: Optional[list[RawNsidEntry]]) -> None:
    """netns_map_init on the entries of a pass (once per process)."""
    cache = nsid_cache(ctx)
    if cache.ready or entries is None:
        return
    for entry in entries:
        report(ctx, entry)
        if entry.nsid >= 0:
            cache.add(entry.nsid, entry.name)
    cache.ready = True


def ensure_map(ctx: Ctx) -> None:
    """netns_map_init for list-id: a pass only if the cache is not built."""
    if not nsid_cache(ctx).ready:
        map_init(ctx, scan(ctx))


def do_list(ctx: Ctx, args: list[bytes]) -> int:
    """list / show / lst: text or JSON, in directory order; always 0."""
    return print_list(ctx)


def print_list(ctx: Ctx) -> int:
    """ip netns list: text or JSON, in directory order; always 0."""
    entries = scan(ctx)
    if entries is None:
        return 0  # ip prints nothing at all, not even "[]"
    map_init(ctx, entries)
    for entry in entries:
        report(ctx, entry)
    if ctx.json:
        objects: list[list[tuple[bytes, Value]]] = [
            [(b"name", e.name), (b"id", e.nsid)]
            if e.nsid >= 0
            else [(b"name", e.name)]
            for e in entries
        ]
        ctx.out.write(array_of_objects(objects, ctx.pretty))
    else:
        ctx.out.write(
            b"".join(
                e.name + b" (id: %d)\n" % e.nsid
                if e.nsid >= 0
                else e.name + b"\n"
                for e in entries
            )
        )
    return 0
