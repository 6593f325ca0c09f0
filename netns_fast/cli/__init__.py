"""``netns-fast``: a drop-in for ``ip netns`` (iproute2 6.1.0).

Arguments, stdout, stderr and exit codes are those of ``ip [OPTIONS] netns
...``; only the program's own name differs where ip names itself. Every
argument is handled as bytes, so names with any bytes round-trip exactly.

The CLI is thin: it parses like ip, calls the core, and words each error
from the exception's own fields (step, errno, filename, filename2). The
package is laid out so that imports go one way only:

- ``_ctx``: the leaf (Ctx, CliExit, usage, invarg, strerror, ...) that
  every other module imports;
- ``_options`` (ip's option loop), ``_batch`` (-batch), ``_json`` (ip's
  JSON writer), ``_usage`` (the usage text, the extensions' paragraph);
- one module per verb family, each holding iproute2's wording for the steps
  its verbs can fail at: ``lifecycle`` (add, attach, delete), ``list``,
  ``nsid`` (set, list-id), ``procs`` (identify, pids, monitor), ``exec``
  (exec, -all exec, -n NAME), and the extensions ``gc``, ``owners`` and
  ``rootless``;
- this module: the entry points and :data:`VERBS`, which names each verb's
  function as a ``"module:function"`` string, imported when the verb runs.

Start-up is a feature: a verb imports only its own module, and no module on
the way imports typing, re, enum or contextlib (see benchmarks/startup.py).
"""

from __future__ import annotations

import io
import os
import sys

from .._names import name_is_valid
from ._ctx import CliExit, Ctx, matches
from ._options import parse_options
from ._usage import print_help, usage, usage_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Sequence
    from typing import BinaryIO, Optional

    from _typeshed import ReadableBuffer

    from ._ctx import Handler
else:
    try:
        import _signal  # signal itself imports enum: start-up
    except ImportError:  # pragma: no cover (not CPython)
        import signal as _signal

__all__ = ["USAGE", "VERBS", "CliExit", "Ctx", "main", "main_entry", "run"]


def __getattr__(name: str) -> bytes:
    """``USAGE``: the usage text (ip's, then the extensions), made when
    asked for: it imports the rootless verb's module for its line, which
    no other verb's start-up should pay."""
    if name == "USAGE":
        return usage_text()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The verbs in iproute2's matching order: the first whose name starts with
# the word wins ("s" is list through "show", not set). Each is the
# "module:function" that runs it, imported when the verb is used, as pip's
# command table does. (Do not call the builtins list() or exec() in this
# module: importing netns_fast.cli.list and .exec binds those names here.)
_EXEC = "netns_fast.cli.exec:do_exec"
_ROOTLESS = "netns_fast.cli.rootless:do_rootless"

VERBS: tuple[tuple[bytes, str], ...] = (
    (b"list", "netns_fast.cli.list:do_list"),
    (b"show", "netns_fast.cli.list:do_list"),
    (b"lst", "netns_fast.cli.list:do_list"),
    (b"list-id", "netns_fast.cli.nsid:do_list_id"),
    (b"help", "netns_fast.cli:do_help"),
    (b"add", "netns_fast.cli.lifecycle:do_add"),
    (b"set", "netns_fast.cli.nsid:do_set"),
    (b"delete", "netns_fast.cli.lifecycle:do_delete"),
    (b"identify", "netns_fast.cli.procs:do_identify"),
    (b"pids", "netns_fast.cli.procs:do_pids"),
    (b"exec", _EXEC),
    (b"monitor", "netns_fast.cli.procs:do_monitor"),
    (b"attach", "netns_fast.cli.lifecycle:do_attach"),
    # netns-fast's own verbs, after all of ip's: they never change what an
    # abbreviation of an ip verb means.
    (b"gc", "netns_fast.cli.gc:do_gc"),
    (b"owners", "netns_fast.cli.owners:do_owners"),
    (b"rootless", _ROOTLESS),
)

# Extension verbs whose arguments are a command, not a name (their
# targets): ip's name check before dispatch does not apply to them.
_COMMAND_VERBS = frozenset((_ROOTLESS,))


def resolve(target: str) -> Handler:
    """The function a VERBS entry names, its module imported now."""
    module, _, func = target.partition(":")
    # __import__ rather than importlib.import_module: one import fewer.
    handler: Handler = getattr(__import__(module, fromlist=[func]), func)
    return handler


def do_help(ctx: Ctx, args: list[bytes]) -> int:
    """help: the usage (ip's, then the extensions) on stderr, exit 255."""
    usage(ctx)


def _verb(word: bytes) -> Optional[str]:
    """The VERBS target ``word`` selects (iproute2's matches()), or None."""
    for full, target in VERBS:
        if matches(word, full):
            return target
    return None


def _asks_help(ctx: Ctx, target: Optional[str], args: list[bytes]) -> bool:
    """``--help`` among the verb's own words (an extension: ip takes it
    for a name). A command belongs to the command: exec's after NAME (or
    after the verb with -all), rootless's after its first word (``--``
    or the program)."""
    own = args
    if target == _EXEC:
        own = args[:1] if ctx.do_all else args[:2]
    elif target in _COMMAND_VERBS:
        own = args[:2]
    return b"--help" in own


def do_netns(ctx: Ctx, args: list[bytes]) -> int:
    """iproute2's do_netns(): the name check, then prefix dispatch."""
    if not args:
        return resolve(VERBS[0][1])(ctx, [])
    target = _verb(args[0])
    if _asks_help(ctx, target, args):
        print_help(ctx)
    # ip's invalid_name() has no NUL rule: argv cannot hold one anyway.
    if (
        not ctx.do_all
        and len(args) > 1
        and not name_is_valid(args[1])
        and target not in _COMMAND_VERBS
    ):
        ctx.error(b'Invalid netns name "' + args[1] + b'"')
        raise CliExit(255)
    if target is not None:
        return resolve(target)(ctx, args[1:])
    ctx.error(b'Command "' + args[0] + b'" is unknown, try "netns-fast help".')
    raise CliExit(255)


# -- entry points -------------------------------------------------------------


def run(argv: Sequence[str], out: BinaryIO, err: BinaryIO) -> int:
    """Run the CLI on ``argv`` (without the program name); the exit code."""
    ctx = Ctx(out, err)
    try:
        args, batch_file = parse_options(ctx, [os.fsencode(a) for a in argv])
        if batch_file is not None:
            from ._batch import run_batch

            return run_batch(ctx, batch_file, do_netns)
        return do_netns(ctx, args)
    except CliExit as exc:
        return exc.code
    finally:
        try:  # noqa: SIM105 (contextlib would cost start-up)
            out.flush()
        except BrokenPipeError:
            pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The ``netns-fast`` command; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    return run(args, sys.stdout.buffer, sys.stderr.buffer)


class _Unchecked(io.RawIOBase):
    """fd 1 or 2 the way ip's stdio uses them: write errors go unreported
    (a closed fd, ENOSPC, ...), so they change neither output nor exit code."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        """Always: a failed write is dropped, not reported."""
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        """os.write, or drop the data if the fd cannot take it."""
        try:
            return os.write(self._fd, data)
        except OSError:
            return memoryview(data).nbytes


def main_entry() -> None:
    """Console-script entry point: stdout and stderr behave like ip's."""
    # ip dies of SIGPIPE when its reader has gone; Python ignores SIGPIPE.
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    out = io.BufferedWriter(_Unchecked(1))
    err = io.BufferedWriter(_Unchecked(2))
    try:
        code = run(sys.argv[1:], out, err)
    except KeyboardInterrupt:
        # ip has no SIGINT handler: it dies of the signal, and its shell or
        # parent can tell. run() has flushed what was written so far.
        err.flush()
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
        _signal.raise_signal(_signal.SIGINT)
        code = 130  # SIGINT is blocked: the shell's convention then
    sys.exit(code)
