"""ip's global options (its main() loop) and C integer parsing."""

from __future__ import annotations

from ._ctx import CliExit, invarg, matches
from ._usage import print_help, usage

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn, Optional

    from ._ctx import Ctx

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
        if opt == b"--help":
            # Deviation: ip prints its usage on stderr and exits 255.
            print_help(ctx)
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
    from .. import __version__

    ctx.out.write(
        b"netns-fast utility, netns_fast-%s\n" % __version__.encode()
    )
    raise CliExit(0)


def _switch_netns(ctx: Ctx, target: Optional[bytes]) -> None:
    """-n NAME: what ip's netns_switch() does, before the verb runs."""
    from .exec import switch_for_option

    ctx.netns = target
    if not switch_for_option(ctx, target):
        raise CliExit(255)
