"""CLI building blocks (integer parsing, matches, makeargs, batch lines,
JSON writer) and option parsing that needs no privilege."""

from __future__ import annotations

import ctypes
import errno
import io
import random
from pathlib import Path
from typing import Callable, Optional

import pytest

import netns_fast
from netns_fast import cli
from support.docs import blocks
from support.kernel import libc
from support.private import (
    cli_batch,
    cli_ctx,
    cli_json,
    cli_options,
    cli_rootless,
    cli_usage,
)
from support.tools import CHECKOUT

# -- strtol / get_integer / get_unsigned --------------------------------------

_strtol = libc.strtol
_strtol.restype = ctypes.c_long
_strtol.argtypes = [
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_void_p),
    ctypes.c_int,
]
_strtoul = libc.strtoul
_strtoul.restype = ctypes.c_ulong
_strtoul.argtypes = _strtol.argtypes


def _libc_parse(
    func: Callable[..., int], text: bytes, lo: int, hi: int
) -> Optional[int]:
    """iproute2's get_integer/get_unsigned around the real libc strtoX."""
    if not text:
        return None
    buf = ctypes.create_string_buffer(text)
    end = ctypes.c_void_p()
    ctypes.set_errno(0)
    value = func(ctypes.addressof(buf), ctypes.byref(end), 0)
    failed = ctypes.get_errno() == errno.ERANGE
    used = (end.value or 0) - ctypes.addressof(buf)
    if used in (0, -1) or used != len(text) or failed:
        return None
    return value if lo <= value <= hi else None


def libc_get_integer(text: bytes) -> Optional[int]:
    """get_integer(base 0) done by libc."""
    return _libc_parse(_strtol, text, -(2**31), 2**31 - 1)


def libc_get_unsigned(text: bytes) -> Optional[int]:
    """get_unsigned(base 0) done by libc."""
    return _libc_parse(_strtoul, text, 0, 2**32 - 1)


INTEGER_CASES: list[tuple[bytes, Optional[int]]] = [
    (b"0", 0),
    (b"42", 42),
    (b"+42", 42),
    (b"-42", -42),
    (b"0x10", 16),
    (b"0X1f", 31),
    (b"-0x10", -16),
    (b"010", 8),
    (b"-010", -8),
    (b"00", 0),
    (b"08", None),
    (b"0x", None),
    (b"0xg", None),
    (b"0x-1", None),
    (b" 7", 7),
    (b"\t\n\v\f\r 7", 7),
    (b"7 ", None),
    (b"- 7", None),
    (b"+-7", None),
    (b"--7", None),
    (b"-", None),
    (b"+", None),
    (b"", None),
    (b" ", None),
    (b"abc", None),
    (b"12abc", None),
    (b"1.5", None),
    (b"2147483647", 2**31 - 1),
    (b"2147483648", None),
    (b"-2147483648", -(2**31)),
    (b"-2147483649", None),
    (b"0x7fffffff", 2**31 - 1),
    (b"0x80000000", None),
    (b"99999999999999999999999", None),
]

UNSIGNED_CASES: list[tuple[bytes, Optional[int]]] = [
    (b"0", 0),
    (b"4294967295", 2**32 - 1),
    (b"4294967296", None),
    (b"0xffffffff", 2**32 - 1),
    (b"037777777777", 2**32 - 1),
    (b"-1", None),
    (b"-0", 0),
    (b"-18446744073709551615", 1),  # strtoul negates in 64 bits
    (b"-18446744073709551616", None),  # ERANGE
    (b"18446744073709551616", None),
    (b" +12", 12),
    (b"12 ", None),
    (b"", None),
    (b"x", None),
]


@pytest.mark.parametrize(("text", "expected"), INTEGER_CASES)
def test_get_integer(text: bytes, expected: Optional[int]) -> None:
    """get_integer: base 0, whole string, fits in an int."""
    assert cli_options.get_integer(text) == expected
    assert libc_get_integer(text) == expected


@pytest.mark.parametrize(("text", "expected"), UNSIGNED_CASES)
def test_get_unsigned(text: bytes, expected: Optional[int]) -> None:
    """get_unsigned: strtoul semantics, fits in an unsigned int."""
    assert cli_options.get_unsigned(text) == expected
    assert libc_get_unsigned(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"0x7fffffffffffffff", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)),
        (b" -0x1F", -31),
        (b"0777", 511),
        (b"", None),
        (b"1 2", None),
    ],
)
def test_c_strtol(text: bytes, expected: Optional[int]) -> None:
    """c_strtol parses what strtol(base 0) parses, whole string only."""
    assert cli_options.c_strtol(text) == expected


def test_integer_parsing_agrees_with_libc() -> None:
    """get_integer/get_unsigned equal libc's strtol/strtoul on random input."""
    rng = random.Random(20240601)
    alphabet = b" \t\v+-0123456789abcdefxXg8"
    for _ in range(5000):
        if rng.random() < 0.2:
            text = (
                rng.choice([b"", b"-", b"+", b" "])
                + rng.choice([b"", b"0x", b"0"])
                + str(rng.randint(0, 2**70)).encode()
            )
        else:
            size = rng.randint(0, 8)
            text = bytes(rng.choice(alphabet) for _ in range(size))
        assert cli_options.get_integer(text) == libc_get_integer(text), text
        assert cli_options.get_unsigned(text) == libc_get_unsigned(text), text


# -- matches ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "full", "expected"),
    [
        (b"l", b"list", True),
        (b"list", b"list", True),
        (b"lists", b"list", False),
        (b"", b"list", False),
        (b"x", b"list", False),
        (b"-V", b"-Version", True),
        (b"-Vx", b"-Version", False),
    ],
)
def test_matches(word: bytes, full: bytes, expected: bool) -> None:
    """matches(): a non-empty prefix of the full word."""
    assert cli.matches(word, full) is expected


# -- makeargs -----------------------------------------------------------------


def _ctx() -> tuple[cli.Ctx, io.BytesIO, io.BytesIO]:
    out, err = io.BytesIO(), io.BytesIO()
    return cli.Ctx(out, err), out, err


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b"", []),
        (b" \t\r\n", []),
        (b"add a\n", [b"add", b"a"]),
        (b"  add \t a  \n", [b"add", b"a"]),
        (b"add 'x y'\n", [b"add", b"x y"]),
        (b'add "x y" z', [b"add", b"x y", b"z"]),
        (b"add ''", [b"add", b""]),
        (b"add 'ab'cd", [b"add", b"ab", b"cd"]),
        (b'add "it\'s"', [b"add", b"it's"]),
        (b"add 'say \"hi\"'", [b"add", b'say "hi"']),
        (b"add a'b c'", [b"add", b"a'b", b"c'"]),
        (b"add 'a\\' b", [b"add", b"a\\", b"b"]),
        (b"add\va", [b"add\va"]),
        (b"add x\xff\n", [b"add", b"x\xff"]),
    ],
)
def test_makeargs_splits_like_ip(line: bytes, words: list[bytes]) -> None:
    """Whitespace words; '...' and "..." quote, no escapes, no gluing."""
    ctx, _, err = _ctx()
    assert cli_batch.makeargs(ctx, line) == words
    assert err.getvalue() == b""


@pytest.mark.parametrize("line", [b"add 'abc\n", b'add "x', b"'"])
def test_makeargs_unterminated_quote(line: bytes) -> None:
    """An unterminated quote prints ip's message and exits 1."""
    ctx, _, err = _ctx()
    with pytest.raises(cli.CliExit) as info:
        cli_batch.makeargs(ctx, line)
    assert info.value.code == 1
    assert err.getvalue() == b"Unterminated quoted string\n"


def test_makeargs_word_limit() -> None:
    """511 words fit (ip's MAX_ARGS 512); the 512th exits 1."""
    ctx, _, err = _ctx()
    line = b" ".join(b"w%d" % i for i in range(511)) + b"\n"
    assert len(cli_batch.makeargs(ctx, line)) == 511
    with pytest.raises(cli.CliExit) as info:
        cli_batch.makeargs(ctx, line[:-1] + b" one-more\n")
    assert info.value.code == 1
    assert err.getvalue() == b"Too many arguments to command\n"


# -- batch lines --------------------------------------------------------------


def _lines(
    data: bytes, ctx: Optional[cli.Ctx] = None
) -> tuple[list[Optional[bytes]], int]:
    ctx = ctx or cli.Ctx(io.BytesIO(), io.BytesIO())
    stream = io.BytesIO(data)
    lineno = [0]
    got: list[Optional[bytes]] = []
    while True:
        line = cli_batch.read_cmdline(ctx, stream, lineno)
        got.append(line)
        if line is None:
            return got, lineno[0]


def test_read_cmdline_comments() -> None:
    """'#' ends the line, also inside quotes; blank lines stay blank."""
    got, count = _lines(b"add a # comment\n#whole\n\nadd 'x#y'\n")
    assert got == [b"add a ", b"", b"\n", b"add 'x", None]
    assert count == 4


def test_read_cmdline_continuation() -> None:
    """A trailing backslash joins the next line; lines are still counted."""
    got, count = _lines(b"add \\\na\nlist \\\n \\\n x # c\ny\n")
    assert got == [b"add a\n", b"list   x ", b"y\n", None]
    assert count == 6


def test_read_cmdline_comment_hides_backslash() -> None:
    """A backslash after '#' does not continue the line."""
    got, _ = _lines(b"add a # \\\nlist\n")
    assert got == [b"add a ", b"list\n", None]


def test_read_cmdline_missing_continuation() -> None:
    """A backslash on the last line: "Missing continuation line", EOF."""
    err = io.BytesIO()
    got, count = _lines(b"add a\nlist \\\n", cli.Ctx(io.BytesIO(), err))
    assert got == [b"add a\n", None]
    assert count == 2
    assert err.getvalue() == b"Missing continuation line\n"


def test_read_cmdline_nul_ends_the_line() -> None:
    """A NUL byte ends the line, as for ip's C string functions."""
    got, count = _lines(b"add a\0junk\nlist \\\0\nadd b\\\nx\0y #\n")
    assert got == [b"add a", b"list \\", b"add bx", None]
    assert count == 4


def test_read_cmdline_last_line_without_newline() -> None:
    """The last line may lack its newline."""
    got, _ = _lines(b"add a\nlist")
    assert got == [b"add a\n", b"list", None]


# -- JSON writer --------------------------------------------------------------


def test_json_empty_array() -> None:
    """An empty array: "[]" compact, "[ ]" pretty."""
    assert cli_json.array_of_objects([], pretty=False) == b"[]\n"
    assert cli_json.array_of_objects([], pretty=True) == b"[ ]\n"


OBJECTS: list[list[tuple[bytes, cli_json.Value]]] = [
    [(b"name", b"rsch-a"), (b"id", 7)],
    [(b"name", b"rsch-b")],
]


def test_json_compact() -> None:
    """Compact: no spaces at all, as ip -j prints."""
    assert cli_json.array_of_objects(OBJECTS, pretty=False) == (
        b'[{"name":"rsch-a","id":7},{"name":"rsch-b"}]\n'
    )


def test_json_pretty() -> None:
    """Pretty: json_writer's layout, 4-space indent, '} ]' at the end."""
    assert cli_json.array_of_objects(OBJECTS, pretty=True) == (
        b"[ {\n"
        b'        "name": "rsch-a",\n'
        b'        "id": 7\n'
        b"    },{\n"
        b'        "name": "rsch-b"\n'
        b"    } ]\n"
    )


def test_json_one_object_and_values() -> None:
    """Booleans, negative ints and an empty object are written like C's."""
    objs: list[list[tuple[bytes, cli_json.Value]]] = [
        [(b"t", True), (b"f", False), (b"n", -1)],
        [],
    ]
    assert cli_json.array_of_objects(objs, pretty=False) == (
        b'[{"t":true,"f":false,"n":-1},{}]\n'
    )
    assert cli_json.array_of_objects(objs, pretty=True) == (
        b"[ {\n"
        b'        "t": true,\n'
        b'        "f": false,\n'
        b'        "n": -1\n'
        b"    },{} ]\n"
    )


def test_json_escaping_6_1_0() -> None:
    """Only \\t \\n \\r \\f \\b \\\\ \\" are escaped; other bytes go raw."""
    raw = bytes(range(256))
    escaped = {
        0x08: b"\\b",
        0x09: b"\\t",
        0x0A: b"\\n",
        0x0C: b"\\f",
        0x0D: b"\\r",
        0x22: b'\\"',
        0x5C: b"\\\\",
    }
    expected = b'"' + b"".join(escaped.get(b, bytes((b,))) for b in raw) + b'"'
    assert cli_json.quote(raw) == expected
    assert cli_json.quote(b"\x01\x1b\x7f/") == b'"\x01\x1b\x7f/"'
    assert cli_json.quote("é".encode()) == b'"\xc3\xa9"'


def test_json_keys_are_escaped_too() -> None:
    """Member names go through the same escaping as values."""
    objs: list[list[tuple[bytes, cli_json.Value]]] = [[(b'a"b', b"c\td")]]
    assert cli_json.array_of_objects(objs, pretty=False) == (
        b'[{"a\\"b":"c\\td"}]\n'
    )


# -- option parsing through cli.run -------------------------------------------


def _run(*argv: str) -> tuple[int, bytes, bytes]:
    out, err = io.BytesIO(), io.BytesIO()
    code = cli.run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("opt", ["-V", "-Version", "--V", "-Vers"])
def test_version(opt: str) -> None:
    """-V prints the program and package version and exits 0."""
    version = netns_fast.__version__.encode()
    assert _run(opt) == (
        0,
        b"netns-fast utility, netns_fast-" + version + b"\n",
        b"",
    )


def test_version_after_other_options() -> None:
    """-V after other options still prints the version (ip -f inet6 -V)."""
    code, out, _ = _run("-f", "inet6", "-j", "-V", "list")
    assert code == 0
    assert out.startswith(b"netns-fast utility, ")


@pytest.mark.parametrize(
    ("opt", "shown"),
    [("-bogus", b"-bogus"), ("--bogus", b"-bogus"), ("-Vx", b"-Vx")],
)
def test_unknown_option(opt: str, shown: bytes) -> None:
    """An unknown option: ip's message (one leading dash) and 255."""
    assert _run(opt, "list") == (
        255,
        b"",
        b'Option "' + shown + b'" is unknown, try "netns-fast -help".\n',
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["-help"],
        ["-h", "-help"],
        ["-batch"],
        ["-b"],
        ["-loops"],
        ["-l"],
        ["-"],
        ["-rcvbuf"],
        ["-family"],
        ["-f"],
        ["-family", "help"],
    ],
)
def test_usage_exits_255(argv: list[str]) -> None:
    """-help, and an option missing its argument, print the usage: 255."""
    assert _run(*argv) == (255, b"", cli.USAGE)


def test_usage_text() -> None:
    """The usage names netns-fast where ip names "ip netns"."""
    assert cli.USAGE.startswith(b"Usage:\tnetns-fast list\n")
    assert b"ip netns" not in cli.USAGE


@pytest.mark.parametrize("family", ["bad", "inet4", ""])
def test_bad_family(family: str) -> None:
    """-family with an unknown family is invarg: 255."""
    assert _run("-family", family, "list") == (
        255,
        b"",
        b'Error: argument "'
        + family.encode()
        + b'" is wrong: invalid protocol family\n',
    )


def test_bad_rcvbuf() -> None:
    """-rcvbuf with a bad size: ip's message and 255."""
    assert _run("-rcvbuf", "xyz", "list") == (
        255,
        b"",
        b"Invalid rcvbuf size 'xyz'\n",
    )


def test_help_verb() -> None:
    """netns-fast help prints the usage to stderr and exits 255."""
    assert _run("help") == (255, b"", cli.USAGE)


def test_usage_is_ips_then_the_extensions() -> None:
    """The usage is ip's text unchanged, then a paragraph that lists every
    extension: gc, owners, rootless (its module's HELP line), -j for
    identify/pids/monitor, --version and --help."""
    extensions = cli_usage.extensions()
    assert cli_ctx.IP_USAGE + extensions == cli.USAGE
    assert cli_ctx.IP_USAGE.endswith(b"NETNSID := auto | POSITIVE-INT\n")
    assert extensions.startswith(b"\nExtensions (not in ip):\n")
    assert cli_rootless.HELP in extensions
    for text in ("gc [dead-owners]", "owners", "-j {", "--version", "--help"):
        assert f"\tnetns-fast {text}".encode() in extensions
    # Every verb of netns-fast's own (after ip's last, attach) is listed.
    words = [word for word, _ in cli.VERBS]
    spaced = extensions.replace(b"\n", b" \n")
    for word in words[words.index(b"attach") + 1 :]:
        assert b"\tnetns-fast " + word + b" " in spaced


def test_readme_shows_the_extensions_paragraph() -> None:
    """The README's copy of the extensions' paragraph is the one printed."""
    shown = [
        b.code
        for b in blocks(CHECKOUT / "README.md")
        if b.lang == "text" and b.code.startswith("Extensions (not in ip):")
    ]
    assert [b"\n" + code.encode() for code in shown] == [
        cli_usage.extensions()
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["-j", "--help", "list"],
        ["list", "--help"],
        ["add", "--help"],
        ["add", "x", "--help"],
        ["delete", "--help"],
        ["exec", "--help"],
        ["exec", "--help", "true"],
        ["gc", "--help"],
        ["owners", "--help"],
        ["rootless", "--help"],
        ["rootless", "--help", "sh"],
        ["help", "--help"],
        ["bogus", "--help"],
        ["--", "--help"],
    ],
)
def test_double_dash_help_anywhere(argv: list[str]) -> None:
    """--help as an option or among a verb's words prints the usage on
    stdout and exits 0, doing nothing else (ip takes it for a name)."""
    assert _run(*argv) == (0, cli.USAGE, b"")


def test_double_dash_help_of_execs_command_is_the_commands() -> None:
    """After exec's NAME, --help belongs to the command: exec runs as
    without it (here: no such name)."""
    assert _run("exec", "nsft-none", "--help") == (
        255,
        b"",
        b'Cannot open network namespace "nsft-none": '
        b"No such file or directory\n",
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["rootless", "sh", "--help"],
        ["rootless", "--", "--help"],
        ["rootless", "--", "sh", "--help"],
    ],
)
def test_double_dash_help_of_rootless_command_is_the_commands(
    argv: list[str], tmp_path: Path
) -> None:
    """rootless's command (after its first word, "--" or the program) owns
    its --help: the verb runs it (here, in batch mode, refused: so nothing
    is made)."""
    batch = tmp_path / "batch"
    batch.write_text(" ".join(argv) + "\n")
    code, out, err = _run("-b", str(batch))
    assert (code, out) == (1, b"")
    assert err.startswith(b"rootless is not available in batch mode\n")


def test_unknown_verb() -> None:
    """An unknown verb names itself and points at netns-fast help."""
    assert _run("frob") == (
        255,
        b"",
        b'Command "frob" is unknown, try "netns-fast help".\n',
    )


@pytest.mark.parametrize("name", ["a/b", ".", "..", "x" * 256])
def test_invalid_name_before_dispatch(name: str) -> None:
    """argv[1] is name-checked before the verb is even looked up."""
    assert _run("bogus-verb", name) == (
        255,
        b"",
        b'Invalid netns name "' + name.encode() + b'"\n',
    )
