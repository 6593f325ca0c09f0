"""The CLI's leaf: the state of one run, ip's exit(), and the helpers every
verb module shares. It imports no other module of the CLI (the usage text
with the extensions, which names the rootless verb's line, is ``_usage``).

Start-up is a feature here (shell scripts run the CLI hundreds of times):
this module, like every module on the CLI's path, imports neither typing
nor anything else beyond os and the package's own leaves.
"""

from __future__ import annotations

import os

from .._names import run_dir_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, NoReturn, Optional

    Handler = Callable[["Ctx", list[bytes]], int]
    """A verb: do_<verb>(ctx, args) -> exit code."""

PROG = b"netns-fast"

IP_USAGE = (
    b"Usage:\tnetns-fast list\n"
    b"\tnetns-fast add NAME\n"
    b"\tnetns-fast attach NAME PID\n"
    b"\tnetns-fast set NAME NETNSID\n"
    b"\tnetns-fast [-all] delete [NAME]\n"
    b"\tnetns-fast identify [PID]\n"
    b"\tnetns-fast pids NAME\n"
    b"\tnetns-fast [-all] exec [NAME] cmd ...\n"
    b"\tnetns-fast monitor\n"
    b"\tnetns-fast list-id [target-nsid POSITIVE-INT] [nsid POSITIVE-INT]\n"
    b"NETNSID := auto | POSITIVE-INT\n"
)
"""ip netns's usage text, byte for byte, with its own name in it (``_usage``
adds the extensions)."""


class CliExit(Exception):  # noqa: N818 (ip's exit(), not an error)
    """ip's exit(): leaves at once, also out of a batch."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Ctx:
    """Global options and state that live across the lines of a batch."""

    def __init__(self, out: BinaryIO, err: BinaryIO) -> None:
        self.out = out
        self.err = err
        self.json = False
        self.pretty = False
        self.do_all = False
        self.batch_mode = False
        self.force = False
        self.netns: Optional[bytes] = None
        self.run_dir = run_dir_bytes()
        # Verb modules keep their state here (e.g. the nsid name cache).
        self.state: dict[str, object] = {}

    def error(self, msg: bytes) -> None:
        """One line on stderr (unbuffered, like ip's)."""
        self.err.write(msg + b"\n")
        self.err.flush()

    def path(self, name: bytes) -> bytes:
        """RUN_DIR/NAME as ip prints it."""
        return self.run_dir + b"/" + name


def strerror(err: Optional[int]) -> bytes:
    """glibc's message for an errno, as ip prints it."""
    return os.strerror(err or 0).encode()


def filename(exc: OSError, second: bool = False) -> bytes:
    """The exception's ``filename`` (or ``filename2``) as bytes; b"" if
    it names none. Messages take their paths from here."""
    name = exc.filename2 if second else exc.filename
    return b"" if name is None else os.fsencode(name)


def step_of(exc: BaseException) -> str:
    """The C step a netns_fast error names ("" for any other error)."""
    step = getattr(exc, "step", "")
    return step if isinstance(step, str) else ""


def matches(word: bytes, full: bytes) -> bool:
    """iproute2's matches(): a non-empty prefix."""
    return bool(word) and full.startswith(word)


def invarg(ctx: Ctx, msg: bytes, arg: Optional[bytes]) -> NoReturn:
    """iproute2's invarg(): exit 255 (a NULL argument prints "(null)")."""
    shown = b"(null)" if arg is None else arg
    ctx.error(b'Error: argument "' + shown + b'" is wrong: ' + msg)
    raise CliExit(255)


def incomplete_command(ctx: Ctx) -> NoReturn:
    """iproute2's incomplete_command(): exit 255."""
    ctx.error(b'Command line is not complete. Try option "help"')
    raise CliExit(255)


def listing_failed(ctx: Ctx, exc: OSError) -> None:
    """netns_foreach's message when the run directory cannot be read."""
    ctx.error(
        b"Failed to open directory "
        + ctx.run_dir
        + b": "
        + strerror(exc.errno)
    )


def foreach_entry(ctx: Ctx) -> Optional[list[bytes]]:
    """netns_foreach's listing: None (after the message) if it fails."""
    try:
        return os.listdir(ctx.run_dir)
    except FileNotFoundError:
        return []
    except OSError as exc:
        listing_failed(ctx, exc)
        return None


def cannot_remove(ctx: Ctx, exc: OSError) -> None:
    """ip's message for a name whose delete failed (the exception's
    filename is RUN_DIR/NAME)."""
    ctx.error(
        b'Cannot remove namespace file "'
        + filename(exc)
        + b'": '
        + strerror(exc.errno)
    )
