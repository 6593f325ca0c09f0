"""``set`` and ``list-id``: byte for byte as ``ip netns`` 6.1.0.

The netlink requests go through pyroute2 (netns_fast._rtnl_nsid), imported
only when one of these verbs runs. The name of each list-id entry comes
from the CLI's nsid cache (see netns_fast.cli.list), with ip's rules: a hit
removes the entry from the cache; a miss rescans RUN_DIR for the *nsid*
value (not the current-nsid) and puts what it finds back in the cache.
"""

from __future__ import annotations

import errno
import os

from ._ctx import CliExit, incomplete_command, invarg, strerror
from ._json import JsonWriter
from ._options import get_integer
from ._usage import usage
from .list import ensure_map, kernel_error, nsid_cache, report, scan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from .._rtnl_nsid import NsidReply, RtnlError
    from ._ctx import Ctx
    from ._json import Value

_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY


def do_set(ctx: Ctx, args: list[bytes]) -> int:
    """set NAME auto|N: RTM_NEWNSID {NETNSA_FD, NETNSA_NSID}."""
    if not args:
        ctx.error(b"No netns name specified")
        return 1
    if len(args) < 2:
        ctx.error(b"No nsid specified")
        return 1
    name, value = args[0], args[1]
    if value == b"auto":
        nsid = -1  # the kernel picks the lowest free id
    else:
        parsed = get_integer(value)
        if parsed is None:
            invarg(ctx, b'Invalid "netnsid" value', value)
        if parsed < 0:
            invarg(ctx, b'"netnsid" value should be >= 0', value)
        nsid = parsed
    # 6.1.0 opens the file first and words its failure itself (rc 1).
    # O_NONBLOCK: a FIFO in RUN_DIR must not hang netns-fast as it hangs ip.
    try:
        fd = os.open(ctx.path(name), _OPEN_FLAGS)
    except OSError as exc:
        ctx.error(
            b'Cannot open network namespace "'
            + name
            + b'": '
            + strerror(exc.errno)
        )
        return 1
    from .._rtnl_nsid import RtnlError, set_nsid_fd

    try:
        set_nsid_fd(fd, nsid)
    except RtnlError as exc:
        ctx.error(kernel_error(exc.message, exc.errno))
        return 2
    finally:
        os.close(fd)
    return 0


def _duparg(ctx: Ctx, key: bytes, arg: bytes) -> None:
    """iproute2's duparg() (it is given the keyword, not the value)."""
    ctx.error(
        b'Error: duplicate "' + key + b'": "' + arg + b'" is the second value.'
    )
    raise CliExit(255)


def _parse_list_id(
    ctx: Ctx, args: list[bytes]
) -> tuple[Optional[int], Optional[int]]:
    """list-id's [target-nsid N] [nsid N], in any order, as ip parses."""
    values: dict[bytes, int] = {}
    i = 0
    while i < len(args):
        key = args[i]
        if key not in (b"target-nsid", b"nsid"):
            usage(ctx)
        if key in values:
            _duparg(ctx, key, key)
        i += 1
        if i >= len(args):
            incomplete_command(ctx)
        value = get_integer(args[i])
        if value is None:
            invarg(ctx, b'"' + key + b'" value is invalid', args[i])
        if value < 0:
            # ip prints argv[1], the word after the value (NULL at the end).
            after = args[i + 1] if i + 1 < len(args) else None
            invarg(ctx, b'"' + key + b'" value should be >= 0', after)
        values[key] = value
        i += 1
    return values.get(b"target-nsid"), values.get(b"nsid")


def _rescan(ctx: Ctx, nsid: int) -> Optional[bytes]:
    """netns_get_name: the first entry whose nsid is nsid.

    ip stops at the match, so only the errors of the entries before it
    are printed."""
    if nsid < 0:
        return None
    for entry in scan(ctx) or []:
        report(ctx, entry)
        if entry.nsid == nsid:
            return entry.name
    return None


def _print_nsid(
    ctx: Ctx, reply: NsidReply, writer: Optional[JsonWriter]
) -> None:
    """print_nsid for one RTM_NEWNSID: one line, or one JSON object."""
    line = b""
    members: list[tuple[bytes, Value]] = []
    if reply.nsid < 0:
        line += b"nsid unassigned "
    else:
        line += b"nsid %d " % reply.nsid
        members.append((b"nsid", reply.nsid))
    if reply.current is not None:
        if reply.current < 0:
            line += b"current-nsid unassigned "
        else:
            line += b"current-nsid %d " % reply.current
            members.append((b"current-nsid", reply.current))
    cache = nsid_cache(ctx)
    key = reply.nsid if reply.current is None else reply.current
    name = cache.names.pop(key, None) if key >= 0 else None
    if name is None:
        name = _rescan(ctx, reply.nsid)
        if name is not None:
            cache.add(reply.nsid, name)
    if name is not None:
        line += b"(iproute2 netns name: " + name + b")"
        members.append((b"name", name))
    if writer is None:
        ctx.out.write(line + b"\n")
    else:
        writer.start_object()
        for member, value in members:
            writer.member(member, value)
        writer.end_object()
    ctx.out.flush()  # ip fflush()es after every entry


def do_list_id(ctx: Ctx, args: list[bytes]) -> int:
    """list-id [target-nsid N] [nsid N]: a single get or a dump."""
    ensure_map(ctx)  # ip builds its name cache before parsing
    target, nsid = _parse_list_id(ctx, args)
    from .._rtnl_nsid import RtnlError, dump, get_by_nsid

    writer = JsonWriter(ctx.pretty) if ctx.json else None
    if nsid is not None:
        try:
            replies = [get_by_nsid(nsid, target)]
        except RtnlError as exc:
            ctx.error(kernel_error(exc.message, exc.errno))
            return 2
        failure = None
    else:
        try:
            # ip -batch reopens its main socket without strict checking,
            # so there the kernel ignores target-nsid in a dump.
            replies = dump(target, strict=not ctx.batch_mode)
            failure = None
        except RtnlError as exc:
            replies, failure = exc.partial, exc
    if writer is not None:
        writer.start_array()
    for reply in replies:
        _print_nsid(ctx, reply, writer)
    if failure is not None:
        _dump_error(ctx, failure)
    elif any(reply.dump_intr for reply in replies):
        ctx.error(b"Dump was interrupted and may be inconsistent.")
    if writer is not None:
        writer.end_array()
        ctx.out.write(writer.finish())
    if failure is not None:
        ctx.error(b"Dump terminated")
        raise CliExit(1)
    return 0


def _dump_error(ctx: Ctx, exc: RtnlError) -> None:
    """How rtnl_dump_filter words the error that ended a dump."""
    if not exc.in_done:
        # An NLMSG_ERROR: perror("RTNETLINK answers"), no ext-ack.
        ctx.error(b"RTNETLINK answers: " + strerror(exc.errno))
    elif exc.message:
        ctx.error(kernel_error(exc.message, exc.errno))
    elif exc.errno == errno.EMSGSIZE:
        ctx.error(b"Error: Buffer too small for object.")
    elif exc.errno not in (errno.ENOENT, errno.EOPNOTSUPP):  # silent
        ctx.error(b"RTNETLINK answers: " + strerror(exc.errno))
