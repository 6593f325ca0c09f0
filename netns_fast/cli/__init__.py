"""``netns-fast``: a drop-in for ``ip netns`` (iproute2 6.1.0).

Arguments, stdout, stderr and exit codes are those of ``ip [OPTIONS] netns
...``; only the program's own name differs where ip names itself. Every
argument is handled as bytes, so names with any bytes round-trip exactly.

The CLI is thin: it parses like ip, calls the core, and words errors from the
exception fields. Verbs that need more than the core live in their own
modules and are imported only when used (pyroute2 never by this module).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO, Callable, NoReturn, Optional

from . import __version__
from ._names import name_is_valid, run_dir_bytes

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

PROG = b"netns-fast"

USAGE = (
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


class CliExit(Exception):
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


Handler = Callable[[Ctx, list[bytes]], int]


def strerror(err: Optional[int]) -> bytes:
    """glibc's message for an errno, as ip prints it."""
    return os.strerror(err or 0).encode()


def matches(word: bytes, full: bytes) -> bool:
    """iproute2's matches(): a non-empty prefix."""
    return bool(word) and full.startswith(word)


def usage(ctx: Ctx) -> int:
    """The usage text on stderr, exit 255."""
    ctx.err.write(USAGE)
    ctx.err.flush()
    raise CliExit(255)


def invarg(ctx: Ctx, msg: bytes, arg: Optional[bytes]) -> int:
    """iproute2's invarg(): exit 255 (a NULL argument prints "(null)")."""
    shown = b"(null)" if arg is None else arg
    ctx.error(b'Error: argument "' + shown + b'" is wrong: ' + msg)
    raise CliExit(255)


# -- C integer parsing (strtol with base 0) ---------------------------------

_SPACE = b" \t\n\v\f\r"


def c_strtol(text: bytes) -> Optional[int]:
    """strtol(text, &end, 0) with *end == 0 required; None if it fails."""
    s = text.lstrip(_SPACE)
    sign = 1
    if s[:1] in (b"+", b"-"):
        sign = -1 if s[:1] == b"-" else 1
        s = s[1:]
    digits = b"0123456789"
    base = 10
    if (
        s[:2] in (b"0x", b"0X")
        and s[2:3]
        and s[2:3] in b"0123456789abcdefABCDEF"
    ):
        base, s = 16, s[2:]
        digits = b"0123456789abcdefABCDEF"
    elif s[:1] == b"0":
        base, digits = 8, b"01234567"
    if not s or any(c not in digits for c in s):
        return None
    return sign * int(s, base)


def get_integer(text: bytes) -> Optional[int]:
    """iproute2's get_integer(base 0): an int that fits in 32 bits."""
    value = c_strtol(text) if text else None
    if value is None or not -(2**31) <= value < 2**31:
        return None
    return value


def get_unsigned(text: bytes) -> Optional[int]:
    """iproute2's get_unsigned(base 0) (strtoul: a '-' wraps around)."""
    value = c_strtol(text) if text else None
    # strtoul fails with ERANGE when the magnitude does not fit in 64 bits.
    if value is None or abs(value) >= 2**64:
        return None
    if value < 0:
        value += 2**64
    return value if 0 <= value < 2**32 else None


# -- verbs of the foundation --------------------------------------------------


def do_list(ctx: Ctx, args: list[bytes]) -> int:
    """list / show / lst: every entry in directory order."""
    from ._listing import print_list

    return print_list(ctx)


def do_help(ctx: Ctx, args: list[bytes]) -> int:
    """help: the usage, exit 255."""
    return usage(ctx)


def check_name_for_all(ctx: Ctx, name: bytes) -> None:
    """With -all, ip skips the name check; netns-fast still refuses bad
    names for add and attach (ip would create files outside RUN_DIR)."""
    if ctx.do_all and not name_is_valid(name):
        ctx.error(b'Invalid netns name "' + name + b'"')
        raise CliExit(255)


def _add_error(ctx: Ctx, exc: OSError, name: bytes, source: bytes) -> None:
    step = getattr(exc, "step", "")
    why = strerror(exc.errno)
    rd = ctx.run_dir
    messages = {
        "mkdir": b"mkdir " + rd + b" failed: ",
        "open_dir": b'Cannot open netns runtime directory "' + rd + b'": ',
        "make_shared": b"mount --make-shared " + rd + b" failed: ",
        "self_bind": b"mount --bind " + rd + b" " + rd + b" failed: ",
        "make_private": b"mount --make-private " + rd + b" failed: ",
        "save_ns": b"Cannot open init namespace: ",
        "unshare": b'Failed to create a new network namespace "'
        + name
        + b'": ',
        "bind": b"Bind " + source + b" -> " + ctx.path(name) + b" failed: ",
        "restore_ns": b"setns: ",
    }
    prefix = messages.get(
        step, b'Cannot create namespace file "' + ctx.path(name) + b'": '
    )
    ctx.error(prefix + why)


def _warn_flock(ctx: Ctx) -> None:
    """ip's warning when the last add or attach could not flock RUN_DIR."""
    from . import _sys

    err = _sys.flock_error()
    if err:
        ctx.error(
            b'Warning: could not flock netns runtime directory "'
            + ctx.run_dir
            + b'": '
            + strerror(err)
        )


def _home_mounts(ctx: Ctx) -> contextlib.AbstractContextManager[None]:
    """Under -n, add and attach bind the name in the mount namespace the
    CLI started in, not in the private one of the switch (see _cli_exec)."""
    if ctx.netns is None:
        return contextlib.nullcontext()
    from ._cli_exec import home_mounts

    return home_mounts(ctx)


def do_add(ctx: Ctx, args: list[bytes]) -> int:
    """add NAME."""
    from . import _sys

    if not args:
        ctx.error(b"No netns name specified")
        return 1
    name = args[0]
    check_name_for_all(ctx, name)
    try:
        with _home_mounts(ctx):
            _sys.add(ctx.run_dir, name)
    except OSError as exc:
        _warn_flock(ctx)
        _add_error(ctx, exc, name, b"/proc/self/ns/net")
        return 1
    _warn_flock(ctx)
    return 0


def do_attach(ctx: Ctx, args: list[bytes]) -> int:
    """attach NAME PID."""
    from . import _sys

    if len(args) < 2:
        ctx.error(b"No netns name and PID specified")
        return 1
    name = args[0]
    check_name_for_all(ctx, name)
    pid = get_integer(args[1])
    if not pid:
        ctx.error(b"Invalid PID: " + args[1])
        return 1
    try:
        with _home_mounts(ctx):
            _sys.attach(ctx.run_dir, name, pid)
    except OSError as exc:
        _warn_flock(ctx)
        _add_error(ctx, exc, name, b"/proc/%d/ns/net" % pid)
        return 1
    _warn_flock(ctx)
    return 0


def delete_one(ctx: Ctx, name: bytes) -> bool:
    """Delete one name; print ip's message and return False on failure."""
    from . import _sys

    try:
        _sys.delete(ctx.run_dir, name)
    except OSError as exc:
        ctx.error(
            b'Cannot remove namespace file "'
            + ctx.path(name)
            + b'": '
            + strerror(exc.errno)
        )
        return False
    return True


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
    from ._cli_gc import open_checked

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


# Verbs in iproute2's matching order: the first whose name starts with the
# word wins ("s" is list through "show", not set). A handler is a function
# here or "module:function" imported when the verb is used.
VERBS: list[tuple[bytes, object]] = [
    (b"list", do_list),
    (b"show", do_list),
    (b"lst", do_list),
    (b"list-id", "netns_fast._cli_nsid:do_list_id"),
    (b"help", do_help),
    (b"add", do_add),
    (b"set", "netns_fast._cli_nsid:do_set"),
    (b"delete", do_delete),
    (b"identify", "netns_fast._cli_procs:do_identify"),
    (b"pids", "netns_fast._cli_procs:do_pids"),
    (b"exec", "netns_fast._cli_exec:do_exec"),
    (b"monitor", "netns_fast._cli_procs:do_monitor"),
    (b"attach", do_attach),
    # netns-fast's own verbs, after all of ip's: they never change what an
    # abbreviation of an ip verb means.
    (b"gc", "netns_fast._cli_gc:do_gc"),
]


def _resolve(handler: object) -> Handler:
    if isinstance(handler, str):
        module, _, func = handler.partition(":")
        resolved: Handler = getattr(importlib.import_module(module), func)
        return resolved
    return handler  # type: ignore[return-value]


def do_netns(ctx: Ctx, args: list[bytes]) -> int:
    """iproute2's do_netns(): the name check, then prefix dispatch."""
    if not args:
        return do_list(ctx, [])
    if not ctx.do_all and len(args) > 1 and not _ip_valid(args[1]):
        ctx.error(b'Invalid netns name "' + args[1] + b'"')
        raise CliExit(255)
    word = args[0]
    for full, handler in VERBS:
        if matches(word, full):
            return _resolve(handler)(ctx, args[1:])
    ctx.error(b'Command "' + word + b'" is unknown, try "netns-fast help".')
    raise CliExit(255)


def _ip_valid(name: bytes) -> bool:
    # ip's invalid_name() has no NUL rule: argv cannot hold one anyway.
    return name_is_valid(name)


# -- global options -----------------------------------------------------------

_FAMILIES = (b"inet", b"inet6", b"link", b"mpls", b"bridge")
_FAMILY_FLAGS = (b"-4", b"-6", b"-0", b"-M", b"-B")
# Options that take no argument and change nothing in netns output.
_IGNORED = (
    b"-human",
    b"-human-readable",
    b"-iec",
    b"-stats",
    b"-statistics",
    b"-details",
    b"-resolve",
    b"-oneline",
    b"-timestamp",
    b"-tshort",
)


def _matches_color(opt: bytes) -> bool:
    word, eq, value = opt.partition(b"=")
    if not matches(word, b"-color"):
        return False
    return not eq or value in (b"", b"always", b"auto", b"never")


def parse_options(
    ctx: Ctx, argv: list[bytes]
) -> tuple[list[bytes], Optional[bytes]]:
    """ip's main() option loop; returns the rest and the batch file (None
    without -batch; an empty name is still a file name, as in ip)."""
    batch_file: Optional[bytes] = None
    i = 0
    while i < len(argv):
        opt = argv[i]
        if opt == b"--":
            i += 1
            break
        if not opt.startswith(b"-"):
            break
        if opt == b"--version":
            # Deviation: ip rejects --version ("-version" is no prefix of
            # "-Version"); netns-fast answers it like -V.
            _print_version(ctx)
        if opt[1:2] == b"-":
            opt = opt[1:]
        has_next = i + 1 < len(argv)
        if matches(opt, b"-loops"):
            if not has_next:
                usage(ctx)
            i += 1
        elif matches(opt, b"-family"):
            if not has_next or argv[i + 1] == b"help":
                usage(ctx)
            i += 1
            if argv[i] not in _FAMILIES:
                invarg(ctx, b"invalid protocol family", argv[i])
        elif opt in _FAMILY_FLAGS or any(matches(opt, o) for o in _IGNORED):
            pass
        elif matches(opt, b"-Version"):
            _print_version(ctx)
        elif matches(opt, b"-force"):
            ctx.force = True
        elif matches(opt, b"-batch"):
            if not has_next:
                usage(ctx)
            i += 1
            batch_file = argv[i]
        elif matches(opt, b"-brief"):
            pass
        elif matches(opt, b"-json"):
            ctx.json = True
        elif matches(opt, b"-pretty"):
            ctx.pretty = True
        elif matches(opt, b"-rcvbuf"):
            if not has_next:
                usage(ctx)
            i += 1
            if get_unsigned(argv[i]) is None:
                ctx.error(b"Invalid rcvbuf size '" + argv[i] + b"'")
                raise CliExit(255)
        elif _matches_color(opt):
            pass
        elif matches(opt, b"-help"):
            usage(ctx)
        elif matches(opt, b"-netns"):
            i += 1
            target = argv[i] if i < len(argv) else None
            _switch_netns(ctx, target)
        elif matches(opt, b"-Numeric"):
            pass
        elif matches(opt, b"-all"):
            ctx.do_all = True
        else:
            ctx.error(
                b'Option "' + opt + b'" is unknown, try "netns-fast -help".'
            )
            raise CliExit(255)
        i += 1
    return argv[i:], batch_file


def _print_version(ctx: Ctx) -> NoReturn:
    """-V / --version: the version line, exit 0."""
    ctx.out.write(
        b"netns-fast utility, netns_fast-%s\n" % __version__.encode()
    )
    raise CliExit(0)


def _switch_netns(ctx: Ctx, target: Optional[bytes]) -> None:
    """-n NAME: what ip's netns_switch() does, before the verb runs."""
    from ._cli_exec import switch_for_option

    ctx.netns = target
    if not switch_for_option(ctx, target):
        raise CliExit(255)


# -- batch mode ---------------------------------------------------------------


def _c_line(raw: bytes) -> bytes:
    """A line as ip's C string functions see it: up to a NUL, before '#'."""
    return raw.split(b"\0", 1)[0].split(b"#", 1)[0]


def _read_cmdline(
    ctx: Ctx, stream: BinaryIO, lineno: list[int]
) -> Optional[bytes]:
    """iproute2's getcmdline(): '#' comments, '\\' continuation lines."""
    line = stream.readline()
    if not line:
        return None
    lineno[0] += 1
    line = _c_line(line)
    while b"\\\n" in line:
        more = stream.readline()
        if not more:
            ctx.error(b"Missing continuation line")
            return None
        lineno[0] += 1
        line = line[: line.index(b"\\\n")] + _c_line(more)
    return line


# do_batch()'s largv[MAX_ARGS]: one slot is the NULL, so 511 words fit.
MAX_ARGS = 512


def makeargs(ctx: Ctx, line: bytes) -> list[bytes]:
    """iproute2's makeargs(): whitespace words, '...' or "..." quoting."""
    ws = b" \t\r\n"
    words: list[bytes] = []
    pos, end = 0, len(line)
    while pos < end:
        while pos < end and line[pos] in ws:
            pos += 1
        if pos >= end:
            break
        if len(words) >= MAX_ARGS - 1:
            ctx.error(b"Too many arguments to command")
            raise CliExit(1)
        quote = line[pos : pos + 1]
        if quote in (b"'", b'"'):
            close = line.find(quote, pos + 1)
            if close < 0:
                ctx.error(b"Unterminated quoted string")
                raise CliExit(1)
            words.append(line[pos + 1 : close])
            pos = close + 1
        else:
            stop = pos
            while stop < end and line[stop] not in ws:
                stop += 1
            words.append(line[pos:stop])
            pos = stop + 1
    return words


def run_batch(ctx: Ctx, name: bytes) -> int:
    """-batch FILE: one command per line; "-" is standard input."""
    ctx.batch_mode = True
    if name == b"-":
        # A closed stdin reads like an empty file, as with ip.
        stream: BinaryIO = sys.stdin.buffer if sys.stdin else io.BytesIO()
    else:
        try:
            stream = open(name, "rb")  # noqa: SIM115
        except IsADirectoryError:
            # ip's fopen() of a directory succeeds and its first read fails
            # (EISDIR), which getline() reports like the end of the file.
            return 0
        except OSError as exc:
            ctx.error(
                b'Cannot open file "'
                + name
                + b'" for reading: '
                + strerror(exc.errno)
            )
            return 1
    ret = 0
    lineno = [0]
    try:
        while True:
            line = _read_cmdline(ctx, stream, lineno)
            if line is None:
                break
            words = makeargs(ctx, line)
            if not words:
                continue
            # A line written for `ip -batch` starts with the object word.
            if words[0] in (b"net", b"netn", b"netns"):
                words = words[1:]
            if do_netns(ctx, words) != 0:
                ctx.out.flush()
                ctx.error(b"Command failed %s:%d" % (name, lineno[0]))
                ret = 1
                if not ctx.force:
                    break
    finally:
        if name != b"-":
            stream.close()
    return ret


# -- entry points -------------------------------------------------------------


def run(argv: Sequence[str], out: BinaryIO, err: BinaryIO) -> int:
    """Run the CLI on ``argv`` (without the program name); the exit code."""
    ctx = Ctx(out, err)
    try:
        args, batch_file = parse_options(ctx, [os.fsencode(a) for a in argv])
        if batch_file is not None:
            return run_batch(ctx, batch_file)
        return do_netns(ctx, args)
    except CliExit as exc:
        return exc.code
    finally:
        with contextlib.suppress(BrokenPipeError):
            out.flush()


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
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    out = io.BufferedWriter(_Unchecked(1))
    err = io.BufferedWriter(_Unchecked(2))
    try:
        code = run(sys.argv[1:], out, err)
    except KeyboardInterrupt:
        # ip has no SIGINT handler: it dies of the signal, and its shell or
        # parent can tell. run() has flushed what was written so far.
        err.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.raise_signal(signal.SIGINT)
        code = 130  # SIGINT is blocked: the shell's convention then
    sys.exit(code)
