"""Bad input: Hypothesis-generated argv never makes the CLI crash.

Every generated command line (ip's verbs and their abbreviations, junk
words, names of arbitrary bytes, numbers in every base, global options in
any order, batch files) runs through netns_fast.cli.run with BytesIO
streams, and a few through a real ``netns-fast`` process. Each run must end
with one of ip's exit codes (0, 1, 2, 255), no traceback, and a message on
stderr whenever the exit code is not 0.

What the CLI would exec or block on is never run: before each example the
real option parser and batch-line splitter tell which verbs it would
dispatch, and examples that reach a verb outside FUZZABLE (exec and
monitor are not in it), -netns or ``-batch -`` are discarded, as are verbs
whose module is not installed (the figures name every verb left out).
The run directory is a scratch directory, emptied after every example.
The seed is fixed (derandomize) so CI is repeatable.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import netns_fast
from netns_fast import cli
from support.kernel import wipe
from support.private import cli_batch, cli_options
from support.tools import Figure, cli_argv
from support.tools import env as child_env

pytestmark = pytest.mark.root

EXAMPLES = int(os.environ.get("NETNS_FAST_FUZZ_EXAMPLES", "2000"))
PROCESS_EXAMPLES = 12
IP_EXIT_CODES = {0, 1, 2, 255}


def _verb_of(word: bytes) -> Optional[tuple[bytes, object]]:
    """The VERBS entry ip's prefix matching picks for ``word``."""
    for full, handler in cli.VERBS:
        if cli.matches(word, full):
            return full, handler
    return None


def _available(handler: object) -> bool:
    if not isinstance(handler, str):
        return True
    module = handler.partition(":")[0]
    return importlib.util.find_spec(module) is not None


# Verbs known to neither exec nor block; a verb added later is left out
# (and named in the figures) until it is judged safe and listed here.
FUZZABLE = {
    b"list", b"show", b"lst", b"list-id", b"help", b"add", b"set",
    b"delete", b"identify", b"pids", b"attach", b"gc", b"owners",
}  # fmt: skip
RUNNABLE = sorted(
    full
    for full, handler in cli.VERBS
    if full in FUZZABLE and _available(handler)
)
MISSING = sorted(
    full.decode() for full, _ in cli.VERBS if full not in RUNNABLE
)


def _safe_words(words: list[bytes]) -> bool:
    """False if these words (after the options) would dispatch a verb
    that execs, blocks, or is not installed."""
    if not words:
        return True
    found = _verb_of(words[0])
    return found is None or found[0] in RUNNABLE


def _batch_commands(data: bytes) -> Optional[list[list[bytes]]]:
    """The commands a batch file holds, split as run_batch splits them
    (None if splitting itself fails: then nothing after it runs)."""
    ctx = cli.Ctx(io.BytesIO(), io.BytesIO())
    stream = io.BytesIO(data)
    lineno = [0]
    commands = []
    while True:
        line = cli_batch.read_cmdline(ctx, stream, lineno)
        if line is None:
            return commands
        try:
            words = cli_batch.makeargs(ctx, line)
        except cli.CliExit:
            return commands
        if words and words[0] in (b"net", b"netn", b"netns"):
            words = words[1:]
        if words:
            commands.append(words)


def _names_netns(word: str) -> bool:
    """Could ``word`` be read as -netns (e.g. -n, --net)?"""
    opt = word[1:] if word.startswith("--") else word
    return len(opt) >= 2 and cli.matches(os.fsencode(opt), b"-netns")


def _safe(argv: Sequence[str]) -> bool:
    """Parse argv with the real option parser, without running anything.

    Any word that could mean -netns is refused before parsing, so even a
    parser that no longer goes through _switch_netns cannot switch the
    test process into another namespace here.
    """
    if any(_names_netns(a) for a in argv):
        return False
    ctx = cli.Ctx(io.BytesIO(), io.BytesIO())
    used_netns = []

    def no_switch(ctx: cli.Ctx, target: Optional[bytes]) -> None:
        used_netns.append(target)

    real = cli_options._switch_netns
    cli_options._switch_netns = no_switch  # type: ignore[assignment]
    try:
        args, batch = cli_options.parse_options(
            ctx, [os.fsencode(a) for a in argv]
        )
    except cli.CliExit:
        return not used_netns
    finally:
        cli_options._switch_netns = real  # type: ignore[assignment]
    if used_netns or batch == b"-":
        return False
    if not batch:
        return _safe_words(args)
    try:
        data = Path(os.fsdecode(batch)).read_bytes()
    except OSError:
        return True  # "Cannot open file": nothing runs
    commands = _batch_commands(data)
    return commands is not None and all(_safe_words(c) for c in commands)


# -- strategies ---------------------------------------------------------------

_junk = st.binary(max_size=24).filter(lambda b: b"\0" not in b)
_numbers = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.integers(0, 2**33).map(hex),
    st.integers(0, 2**33).map(lambda n: "0" + oct(n)[2:]),
    st.sampled_from(
        ["auto", "self", "0", "-0", "0x", "08", " 1", "2147483648", "-1"]
    ),
).map(str.encode)
_names = st.one_of(
    st.sampled_from([b"fz-a", b"fz-s", b"fz-b", b"fz-c"]),
    st.sampled_from([b".", b"..", b"a/b", b""]),
    st.just(b"n" * 255),
    st.just(b"n" * 256),
    _junk,
)
_keywords = st.sampled_from([b"nsid", b"target-nsid", b"min-age", b"help"])
_args = st.lists(st.one_of(_names, _numbers, _keywords), max_size=4)


def _prefixes(word: bytes) -> list[bytes]:
    return [word[:i] for i in range(1, len(word) + 1)]


_verb_words = st.one_of(
    st.sampled_from(RUNNABLE),
    st.sampled_from([p for v in RUNNABLE for p in _prefixes(v)]),
    st.sampled_from([b"lists", b"netns", b"x", b"sett", b"gcx"]),
    _junk.filter(lambda b: not b.startswith(b"-")),
)
_flags = st.sampled_from(
    [
        "-4",
        "-6",
        "-0",
        "-M",
        "-B",
        "-human",
        "-iec",
        "-s",
        "-stats",
        "-d",
        "-details",
        "-r",
        "-resolve",
        "-o",
        "-oneline",
        "-t",
        "-timestamp",
        "-ts",
        "-tshort",
        "-force",
        "-br",
        "-brief",
        "-j",
        "-json",
        "--json",
        "-p",
        "-pretty",
        "-c",
        "-color",
        "-color=always",
        "-color=bogus",
        "-N",
        "-Numeric",
        "-a",
        "-all",
        "--all",
        "-h",
        "-help",
        "-V",
        "--version",
        "-Version",
        "-versio",
        "-x",
        "-zz",
        "-",
        "--",
    ]
).map(lambda s: [s])
_with_value = st.tuples(
    st.sampled_from(["-l", "-loops", "-f", "-family", "-rc", "-rcvbuf"]),
    st.one_of(
        _numbers,
        st.sampled_from([b"inet", b"inet6", b"link", b"help", b"bogus"]),
    ).map(os.fsdecode),
).map(list)


def _render(words: list[bytes], quote: str) -> bytes:
    if quote == "none":
        return b" ".join(words)
    q = b'"' if quote == "double" else b"'"
    return b" ".join(q + w.replace(q, b"") + q for w in words)


_batch_lines = st.lists(
    st.tuples(
        st.booleans(),
        _verb_words,
        _args,
        st.sampled_from(["none", "double", "single"]),
        st.sampled_from([b"", b" # comment", b" \\", b"\t"]),
    ).map(
        lambda t: (
            (b"netns " if t[0] else b"")
            + _render([t[1], *t[2]], t[3]).replace(b"\n", b" ")
            + t[4]
        )
    ),
    max_size=5,
).map(lambda lines: b"\n".join(lines) + b"\n")


@st.composite
def command_lines(draw: st.DrawFn, batch_dir: Path) -> list[str]:
    """One argv: options in any order, a verb word, its arguments."""
    options: list[list[str]] = draw(
        st.lists(st.one_of(_flags, _with_value), max_size=4)
    )
    if draw(st.integers(0, 9)) == 0:
        path = batch_dir / f"batch-{draw(st.integers(0, 3))}"
        path.write_bytes(draw(_batch_lines))
        where = draw(st.integers(0, len(options)))
        options.insert(where, ["-b", str(path)])
    words = [draw(_verb_words), *draw(_args)]
    if draw(st.integers(0, 4)) == 0:
        words = words[:0]
    return [o for opt in options for o in opt] + [
        os.fsdecode(w) for w in words
    ]


# -- the tests ----------------------------------------------------------------

_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


def _populate(run_dir: str) -> None:
    """A live name fz-a and a stale entry fz-s for the example to hit."""
    netns_fast.add("fz-a", run_dir=run_dir)
    os.close(
        os.open(os.path.join(run_dir, "fz-s"), os.O_CREAT | os.O_RDONLY, 0)
    )


def _check(rc: int, err: bytes, argv: Sequence[str]) -> None:
    assert rc in IP_EXIT_CODES, argv
    assert b"Traceback" not in err, argv
    if rc != 0:
        assert err.strip(), f"exit {rc} without a message: {argv!r}"


def test_fuzzed_argv_in_process(
    scratch_env: str, tmp_path: Path, figure: Figure
) -> None:
    """cli.run never raises: ip's exit codes, a message for every failure."""
    seen: dict[int, int] = {}

    @_SETTINGS
    @given(argv=command_lines(tmp_path))
    def run_one(argv: list[str]) -> None:
        assume(_safe(argv))
        _populate(scratch_env)
        out, err = io.BytesIO(), io.BytesIO()
        try:
            rc = cli.run(argv, out, err)
        finally:
            wipe(scratch_env)
        seen[rc] = seen.get(rc, 0) + 1
        _check(rc, err.getvalue(), argv)

    run_one()
    figure("examples run", sum(seen.values()))
    figure("exit codes seen", dict(sorted(seen.items())))
    figure("verbs fuzzed", b" ".join(RUNNABLE).decode())
    if MISSING:
        figure("verbs left out", " ".join(MISSING))
    assert set(seen) <= IP_EXIT_CODES


def test_fuzzed_argv_in_a_real_process(
    scratch_env: str, tmp_path: Path, figure: Figure
) -> None:
    """A real netns-fast process: ip's exit codes, never a traceback."""
    seen: dict[int, int] = {}

    @settings(_SETTINGS, max_examples=PROCESS_EXAMPLES)
    @given(argv=command_lines(tmp_path))
    def run_one(argv: list[str]) -> None:
        assume(_safe(argv))
        _populate(scratch_env)
        try:
            proc = subprocess.run(
                [*cli_argv(), *(os.fsencode(a) for a in argv)],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                env=child_env(),
                check=False,
                timeout=60,
            )
        finally:
            wipe(scratch_env)
        seen[proc.returncode] = seen.get(proc.returncode, 0) + 1
        _check(proc.returncode, proc.stderr, argv)

    run_one()
    figure("process examples run", sum(seen.values()))
    figure("exit codes seen", dict(sorted(seen.items())))
