"""Oracle: netns-fast's batch mode against ``ip -batch`` (iproute2 6.1.0).

Every file is written for ip (each command line starts with the word
``netns``). netns-fast reads the same file unchanged, and also the file with
that word removed; both are compared with ip on the ``netns`` file, so the
line numbers in ``Command failed FILE:LINE`` must match too. Each case runs
from the same starting state in a run directory of its own
(support.oracle).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netns_fast.cli import USAGE
from support.oracle import Arg, Case, StateStep, assert_same, both, name
from support.tools import requires_ip

pytestmark = [pytest.mark.root, pytest.mark.oracle, requires_ip]

A, B, C = name("a"), name("b"), name("c")
STALE = name("stale")
TWO: list[StateStep] = [("live", A), ("live", B)]


def without_netns(text: bytes) -> bytes:
    """The same file with the leading ``netns`` word of each line removed."""
    return re.sub(rb"(?m)^([ \t]*)netns[ \t]+", rb"\1", text)


# (id, file written for ip, global options, starting state)
BATCH: list[tuple[str, bytes, list[str], list[StateStep]]] = [
    ("empty-file", b"", [], []),
    ("only-comments", b"# nothing\n\n   # here\n", [], TWO),
    (
        "sequence",
        b"netns add %s\nnetns add %s\nnetns list\nnetns del %s\nnetns\n"
        % (A, B, A),
        [],
        [],
    ),
    (
        "comments-blank-lines",
        b"# a comment\n\n   \t\nnetns add %s # trailing comment\n"
        b"#netns add %s\nnetns list\n" % (A, B),
        [],
        [],
    ),
    (
        "quoting",
        b"netns add '%s with space'\nnetns add \"%s'q\"\n"
        b"netns add '%s\"dq'\nnetns add %s'mid\nnetns list\n" % (A, B, C, A),
        [],
        [],
    ),
    (
        "quote-then-word",
        b"netns add '%s'extra\nnetns list\n" % A,
        [],
        [],
    ),
    ("hash-inside-quotes", b'netns add "%s#x"\nnetns list\n' % A, [], []),
    (
        "unterminated-quote",
        b"netns add %s\nnetns add 'x\nnetns list\n" % A,
        [],
        [],
    ),
    (
        "continuation",
        b"netns add \\\n%s\nnetns \\\nlist\nnetns add \\\n%s\n" % (A, A),
        [],
        [],
    ),
    (
        "continuation-comment",
        b"netns add %s \\\n# comment \\\nnetns list\n" % A,
        [],
        [],
    ),
    (
        "continuation-comment-stops",
        b"netns add %s # no \\\nnetns list\n" % A,
        [],
        [],
    ),
    (
        "missing-continuation",
        b"netns add %s\nnetns add %s \\\n" % (A, B),
        [],
        [],
    ),
    ("backslash-at-eof", b"netns add %s \\" % A, [], []),
    ("crlf", b"netns add %s\r\nnetns list\r\n" % A, [], []),
    ("nul-in-line", b"netns add %s\0junk\nnetns list\n" % A, [], []),
    (
        "nul-before-continuation",
        b"netns add %s\0x \\\nnetns list\n" % A,
        [],
        [],
    ),
    (
        "failing-line-stops",
        b"netns add %s\nnetns add %s\nnetns add %s\nnetns list\n" % (A, A, B),
        [],
        [],
    ),
    (
        "failing-line-force",
        b"netns add %s\nnetns add %s\nnetns add %s\nnetns list\n" % (A, A, B),
        ["-force"],
        [],
    ),
    (
        "failures-force-line-numbers",
        b"netns del %s\n\n# c\nnetns del %s\nnetns attach %s 0\n"
        b"netns add\nnetns list\n" % (C, C, C),
        ["-force"],
        TWO,
    ),
    (
        "failure-after-continuation",
        b"netns add \\\n%s\nnetns add \\\n%s\nnetns list\n" % (A, A),
        [],
        [],
    ),
    (
        "invalid-name-ends",
        b"netns add %s\nnetns add a/b\nnetns add %s\n" % (A, B),
        [],
        [],
    ),
    (
        "invalid-name-ends-force",
        b"netns add %s\nnetns add a/b\nnetns add %s\n" % (A, B),
        ["-force"],
        [],
    ),
    (
        "unknown-verb-ends-force",
        b"netns list\nnetns bogus\nnetns add %s\n" % A,
        ["-force"],
        TWO,
    ),
    (
        "help-ends-force",
        b"netns list\nnetns help\nnetns add %s\n" % A,
        ["-force"],
        TWO,
    ),
    ("empty-verb-ends", b"netns ''\nnetns add %s\n" % A, ["-force"], []),
    (
        "stale-and-delete",
        b"netns del %s\nnetns add %s\nnetns list\n" % (STALE, STALE),
        [],
        [("stale", STALE)],
    ),
    ("json-lines", b"netns list\nnetns add %s\nnetns list\n" % C, ["-j"], TWO),
    (
        "json-pretty-lines",
        b"netns list\nnetns del %s\nnetns list\n" % A,
        ["-j", "-p"],
        TWO,
    ),
    ("all-persists", b"netns list\nnetns delete\nnetns list\n", ["-all"], TWO),
    ("leading-blanks", b"  \tnetns add %s\n\t netns list\n" % A, [], []),
    ("net-prefix", b"net add %s\nnetn list\n" % A, [], []),
    ("bare-netns-line", b"netns\n", [], TWO),
]


def _params() -> list[object]:
    out = []
    for label, text, opts, state in BATCH:
        for form in ("same-file", "no-netns-word"):
            if form == "no-netns-word" and without_netns(text) == text:
                continue
            out.append(
                pytest.param(text, opts, state, form, id=f"{label}-{form}")
            )
    return out


def _file_case(
    path: Path,
    text: bytes,
    opts: list[str],
    state: list[StateStep],
    form: str,
    *,
    flag: str = "-b",
) -> Case:
    cli_text = text if form == "same-file" else without_netns(text)

    def prepare(tool: str) -> None:
        path.write_bytes(text if tool == "ip" else cli_text)

    argv: list[Arg] = [*opts, flag, str(path)]
    return Case([], state=state, prepare=prepare, argv=argv)


@pytest.mark.parametrize(("text", "opts", "state", "form"), _params())
def test_batch_file(
    tmp_path: Path,
    text: bytes,
    opts: list[str],
    state: list[StateStep],
    form: str,
) -> None:
    """-b FILE: each line like ip's, with or without the netns word."""
    assert_same(*both(_file_case(tmp_path / "cmds", text, opts, state, form)))


@pytest.mark.parametrize("flag", ["-batch", "-b", "--batch", "-ba"])
def test_batch_spellings(tmp_path: Path, flag: str) -> None:
    """-batch and its prefixes read the file like -b."""
    text = b"netns add %s\nnetns add %s\nnetns list\n" % (A, A)
    assert_same(
        *both(
            _file_case(tmp_path / "cmds", text, [], [], "same-file", flag=flag)
        )
    )


@pytest.mark.parametrize(
    ("text", "opts"),
    [
        (b"netns add %s\nnetns list\nnetns add %s\nnetns list\n" % (A, A), []),
        (b"netns add %s\nnetns add %s\nnetns list\n" % (A, A), ["-force"]),
        (b"netns list\nnetns add a/b\nnetns list\n", ["-force"]),
        (b"netns add 'x\n", []),
    ],
    # fixed ids: the names carry the pid, and xdist's workers must collect
    # the same test ids
    ids=["add-list-add", "add-add-force", "bad-name-force", "open-quote"],
)
@pytest.mark.parametrize("form", ["same-file", "no-netns-word"])
def test_batch_stdin(text: bytes, opts: list[str], form: str) -> None:
    """-b -: the commands come from stdin; failures name the file "-"."""
    cli_text = text if form == "same-file" else without_netns(text)
    assert_same(
        *both(
            Case(
                [],
                state=TWO,
                stdin=text,
                cli_stdin=cli_text,
                argv=[*opts, "-b", "-"],
            )
        )
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["-b", "/nonexistent-nsft/cmds"],
        ["-force", "-batch", "/nonexistent-nsft/cmds"],
        ["-b", ""],
        ["-b", "/"],
    ],
)
def test_batch_cannot_open(argv: list[Arg]) -> None:
    """A batch file that cannot be read: ip's message, exit 1."""
    assert_same(*both(Case([], state=TWO, argv=argv)))


def test_batch_ignores_the_rest_of_argv(tmp_path: Path) -> None:
    """With -b FILE, the arguments after the options are ignored."""
    path = tmp_path / "cmds"
    path.write_bytes(b"netns list\n")
    cli_res = assert_same(
        *both(Case(["add", C], state=TWO, argv=None, opts=["-b", str(path)]))
    )
    assert cli_res.out == b"%s\n%s\n" % (B, A)


ADD_TWICE = b"netns add A\nnetns add A\nnetns add B\n"
FAILED_2 = b"Command failed {path}:2\n"
# (file, options, exit code, end of stderr, entries left)
OUTCOMES = [
    (ADD_TWICE, [], 1, FAILED_2, 1),
    (ADD_TWICE, ["-force"], 1, FAILED_2, 2),
    (
        b"netns add A\n\\\n#\nnetns add a/b\nnetns add B\n",
        ["-force"],
        255,
        b'Invalid netns name "a/b"\n',
        1,
    ),
    (
        b"netns add A\nnetns bogus\nnetns add B\n",
        ["-force"],
        255,
        b'Command "bogus" is unknown, try "netns-fast help".\n',
        1,
    ),
    (
        b"netns add A\nnetns help\nnetns add B\n",
        ["-force"],
        255,
        USAGE,
        1,
    ),
    (
        b"netns add A\nnetns add 'B\nnetns add C\n",
        ["-force"],
        1,
        b"Unterminated quoted string\n",
        1,
    ),
]


@pytest.mark.parametrize("row", OUTCOMES)
def test_batch_documented_outcomes(
    tmp_path: Path, row: tuple[bytes, list[str], int, bytes, int]
) -> None:
    """Batch stop/continue rules and exit codes are those of the spec."""
    text, opts, rc, err_tail, left = row
    path = tmp_path / "cmds"
    text = text.replace(b" A\n", b" %s\n" % A).replace(b" B\n", b" %s\n" % B)
    res = assert_same(*both(_file_case(path, text, opts, [], "no-netns-word")))
    assert res.rc == rc
    assert res.err.endswith(err_tail.replace(b"{path}", bytes(path)))
    assert len(res.state.entries or ()) == left
