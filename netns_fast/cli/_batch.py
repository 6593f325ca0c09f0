"""``-batch FILE``: ip's do_batch(), getcmdline() and makeargs()."""

from __future__ import annotations

import io
import sys

from ._ctx import CliExit, strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Optional

    from ._ctx import Ctx, Handler


def _c_line(raw: bytes) -> bytes:
    """A line as ip's C string functions see it: up to a NUL, before '#'."""
    return raw.split(b"\0", 1)[0].split(b"#", 1)[0]


def read_cmdline(
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


def run_batch(ctx: Ctx, name: bytes, dispatch: Handler) -> int:
    """-batch FILE: one command per line, each run by ``dispatch`` (the
    CLI's do_netns); "-" is standard input."""
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
            line = read_cmdline(ctx, stream, lineno)
            if line is None:
                break
            words = makeargs(ctx, line)
            if not words:
                continue
            # A line written for `ip -batch` starts with the object word.
            if words[0] in (b"net", b"netn", b"netns"):
                words = words[1:]
            if dispatch(ctx, words) != 0:
                ctx.out.flush()
                ctx.error(b"Command failed %s:%d" % (name, lineno[0]))
                ret = 1
                if not ctx.force:
                    break
    finally:
        if name != b"-":
            stream.close()
    return ret
