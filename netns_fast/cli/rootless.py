"""``rootless [--] CMD ARGS...``: run a command in a private world (an
extension to ip).

The process enters a world of its own (netns_fast.unshare_rootless: a user
namespace in which the caller is root, a private mount namespace, a fresh
network namespace as home, a tmpfs on the run directory), then execs the
command, so the caller sees the command's own exit status and signals, as
with ``exec``. Inside it, ``netns-fast`` and ``ip netns`` work without any
privilege on the host, so a script written for ``ip netns`` runs as is::

    netns-fast rootless -- sh script.sh

The arguments are a command, never a name: ip's name check does not apply.
``rootless --help`` prints the help (netns-fast's ``--help`` anywhere);
after the first word (``--`` or the program) ``--help`` is the command's.
No command: ``No command specified``, exit 1. A world that cannot be made:
``Cannot make a private world: WHAT failed: ERROR: WHY``, exit 1, the
command not run (WHY names the sysctl or setting to change). A command
that cannot be run: ``exec of "CMD" failed: ERROR``, exit 127 when it is not
found, else 126 (as unshare(1) and nsenter(1)). Not in batch mode (the exec
would end the batch): exit 1.
"""

from __future__ import annotations

import errno
import os

from ..exceptions import NetnsOSError
from ._ctx import filename, step_of, strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal

    from ._ctx import Ctx
else:
    try:
        import _signal  # signal itself imports enum: start-up
    except ImportError:  # pragma: no cover (not CPython)
        import signal as _signal

HELP = b"\tnetns-fast rootless [--] cmd ...\n"
"""The verb's line for ``netns-fast help`` (an extension)."""

# What was tried at each step of the world's set-up, %(path)s the path
# the error names.
_TRIED = {
    "threads": b"the single-threaded check",
    "unshare_user": b"unshare(CLONE_NEWUSER)",
    "setgroups": b'the write of "%(path)s"',
    "uid_map": b'the write of "%(path)s"',
    "gid_map": b'the write of "%(path)s"',
    "unshare_mnt": b"unshare(CLONE_NEWNS)",
    "make_rslave": b'"mount --make-rslave /"',
    "unshare_net": b"unshare(CLONE_NEWNET)",
    "socket": b"the loopback's socket",
    "lo_up": b"the loopback's set-up",
    "mount_tmpfs": b'the mount of a tmpfs on "%(path)s"',
    "mkdir_run_dir": b'the mkdir of "%(path)s"',
    "open_tree": b'the copy of the mount tree "%(path)s"',
    "move_mount": b'the bind of "%(path)s"',
    "mount_sysfs": b"the mount of /sys",
}
_TRIED_OTHER = b"the set-up"

# exit codes of unshare(1) and nsenter(1) for a command that cannot run
_NOT_FOUND = 127
_CANNOT_RUN = 126


def world_failed(exc: OSError) -> bytes:
    """The message for a world that could not be made."""
    template = _TRIED.get(step_of(exc), _TRIED_OTHER)
    return (
        b"Cannot make a private world: "
        + template % {b"path": filename(exc)}
        + b" failed: "
        + os.fsencode(exc.strerror or strerror(exc.errno))
    )


def do_rootless(ctx: Ctx, args: list[bytes]) -> int:
    """rootless [--] CMD ARGS...: CMD in a private world, exec'd."""
    if args[:1] == [b"--"]:
        args = args[1:]
    if not args:
        ctx.error(b"No command specified")
        return 1
    if ctx.batch_mode:
        ctx.error(b"rootless is not available in batch mode")
        return 1
    from .. import _rootless
    from .exec import exec_environ  # here: help imports this module for HELP

    try:
        # The command replaces this process (or it exits): a failure
        # part-way harms nothing, so no trial run in a child first.
        _rootless.unshare_rootless(run_dir=ctx.run_dir, check=False)
    except NetnsOSError as exc:
        ctx.error(world_failed(exc))
        return 1
    env = exec_environ()
    ctx.out.flush()
    ctx.err.flush()
    # Python ignores these; the command starts with the default, as
    # under exec.
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)
    try:
        if env is None:
            os.execvp(args[0], args)
        else:
            os.execvpe(args[0], args, env)
    except OSError as exc:
        ctx.error(b'exec of "' + args[0] + b'" failed: ' + strerror(exc.errno))
        return _NOT_FOUND if exc.errno == errno.ENOENT else _CANNOT_RUN
    return _CANNOT_RUN  # not reached: exec returns only by raising
