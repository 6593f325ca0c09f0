"""``add``, ``attach`` and ``delete`` (and ``-all delete``), as ip's
netns_add() and netns_delete() word them."""

from __future__ import annotations

import os

from .. import _sys
from .._names import name_is_valid
from ._ctx import (
    CliExit,
    cannot_remove,
    filename,
    foreach_entry,
    step_of,
    strerror,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._ctx import Ctx

# iproute2's wording for the steps of add and attach, before the errno's
# text: %(path)s is the exception's filename, %(source)s the namespace file
# bound, %(name)s the NAME argument. Any other step: _ADD_OTHER.
_ADD_MESSAGES = {
    "mkdir_run_dir": b"mkdir %(path)s failed: ",
    "open_run_dir": b'Cannot open netns runtime directory "%(path)s": ',
    "make_shared": b"mount --make-shared %(path)s failed: ",
    "self_bind": b"mount --bind %(path)s %(path)s failed: ",
    "make_private": b"mount --make-private %(path)s failed: ",
    "open_thread_net": b"Cannot open init namespace: ",
    "unshare_net": b'Failed to create a new network namespace "%(name)s": ',
    "bind": b"Bind %(source)s -> %(path)s failed: ",
    "restore_net": b"setns: ",
}
_ADD_OTHER = b'Cannot create namespace file "%(path)s": '

# What ip names as the source of add's bind (the core binds the calling
# thread's namespace, /proc/thread-self/ns/net, the exception's filename2).
_ADD_SOURCE = b"/proc/self/ns/net"


def add_message(exc: OSError, name: bytes, source: bytes) -> bytes:
    """ip's message for a failed add or attach of NAME."""
    fields = {b"path": filename(exc), b"source": source, b"name": name}
    template = _ADD_MESSAGES.get(step_of(exc), _ADD_OTHER)
    return template % fields + strerror(exc.errno)


def check_name_for_all(ctx: Ctx, name: bytes) -> None:
    """With -all, ip skips the name check; netns-fast still refuses bad
    names for add and attach (ip would create files outside RUN_DIR)."""
    if ctx.do_all and not name_is_valid(name):
        ctx.error(b'Invalid netns name "' + name + b'"')
        raise CliExit(255)


def _warn_flock(ctx: Ctx) -> None:
    """ip's warning when the last add or attach could not flock RUN_DIR."""
    err = _sys.flock_error()
    if err:
        ctx.error(
            b'Warning: could not flock netns runtime directory "'
            + ctx.run_dir
            + b'": '
            + strerror(err)
        )


def _bind(ctx: Ctx, name: bytes, pid: int) -> int:
    """add (pid 0) or attach NAME PID: 0, or 1 after ip's message."""
    try:
        if ctx.netns is None:
            _call(ctx, name, pid)
        else:
            # Under -n the name is bound where the CLI started (see .exec).
            from .exec import HomeMounts

            with HomeMounts(ctx):
                _call(ctx, name, pid)
    except OSError as exc:
        _warn_flock(ctx)
        source = filename(exc, second=True) if pid else _ADD_SOURCE
        ctx.error(add_message(exc, name, source))
        return 1
    _warn_flock(ctx)
    return 0


def _call(ctx: Ctx, name: bytes, pid: int) -> None:
    if pid:
        _sys.attach(ctx.run_dir, name, pid)
    else:
        _sys.add(ctx.run_dir, name)


def do_add(ctx: Ctx, args: list[bytes]) -> int:
    """add NAME."""
    if not args:
        ctx.error(b"No netns name specified")
        return 1
    check_name_for_all(ctx, args[0])
    return _bind(ctx, args[0], 0)


def do_attach(ctx: Ctx, args: list[bytes]) -> int:
    """attach NAME PID."""
    from ._options import get_integer

    if len(args) < 2:
        ctx.error(b"No netns name and PID specified")
        return 1
    check_name_for_all(ctx, args[0])
    pid = get_integer(args[1])
    if not pid:
        ctx.error(b"Invalid PID: " + args[1])
        return 1
    return _bind(ctx, args[0], pid)


def delete_one(ctx: Ctx, name: bytes) -> bool:
    """Delete one name; print ip's message and return False on failure."""
    try:
        _sys.delete(ctx.run_dir, name)
    except OSError as exc:
        cannot_remove(ctx, exc)
        return False
    return True


def do_delete(ctx: Ctx, args: list[bytes]) -> int:
    """delete NAME, or -all delete."""
    if not args and not ctx.do_all:
        ctx.error(b"No netns name specified")
        return 1
    if not ctx.do_all:
        return 0 if delete_one(ctx, args[0]) else 1
    if args:
        # ip -all netns delete NAME ignores NAME and deletes everything.
        ctx.error(
            b'Refusing "-all delete '
            + args[0]
            + b'": -all deletes every namespace, not only "'
            + args[0]
            + b'". Use "netns-fast delete NAME" or "netns-fast -all delete".'
        )
        raise CliExit(255)
    from .gc import open_checked

    # Deviation: ip deletes in whatever the run directory points to.
    fd = open_checked(ctx)
    if fd is None:
        return 1
    if fd >= 0:
        os.close(fd)
    entries = foreach_entry(ctx)
    if entries is None:
        return 1
    for name in entries:
        if not delete_one(ctx, name):
            break  # like ip: stop at the first failure, still exit 0
    return 0
