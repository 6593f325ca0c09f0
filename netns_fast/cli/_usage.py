"""The usage text: ip's, byte for byte, then a paragraph of the
extensions; ip's usage() and netns-fast's --help.

The rootless verb's line is that module's own ``HELP``, imported when the
text is made: only a run that prints the usage pays for it (start-up).
"""

from __future__ import annotations

from ._ctx import IP_USAGE, CliExit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

    from ._ctx import Ctx

_EXTENSIONS_HEAD = (
    b"\n"
    b"Extensions (not in ip):\n"
    b"\tnetns-fast gc [dead-owners] [min-age SECONDS]\n"
    b"\tnetns-fast owners\n"
)
_EXTENSIONS_TAIL = (
    b"\tnetns-fast -j { identify [PID] | pids NAME | monitor }\n"
    b"\tnetns-fast --version\n"
    b"\tnetns-fast --help\n"
)


def extensions() -> bytes:
    """What netns-fast adds to ip, printed after ip's usage."""
    from .rootless import HELP

    return _EXTENSIONS_HEAD + HELP + _EXTENSIONS_TAIL


def usage_text() -> bytes:
    """The usage text: ip's, then the extensions."""
    return IP_USAGE + extensions()


def usage(ctx: Ctx) -> NoReturn:
    """The usage text on stderr, exit 255 (as ip's usage())."""
    ctx.err.write(usage_text())
    ctx.err.flush()
    raise CliExit(255)


def print_help(ctx: Ctx) -> NoReturn:
    """--help: the usage text on stdout, exit 0."""
    ctx.out.write(usage_text())
    raise CliExit(0)
