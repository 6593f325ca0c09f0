"""iproute2's name rules and the run-directory resolution (no privilege)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import netns_fast
from netns_fast.exceptions import InvalidNameError, NetnsError
from support.private import _names, _sys

INVALID = [b"", b".", b"..", b"/", b"a/b", b"a/", b"/a", b"x" * 256]
VALID = [
    b"a",
    b"x" * 255,
    b"...",
    b".a",
    b"a.",
    b"sp ace",
    b"new\nline",
    b"tab\tx",
    b"-leading-dash",
    b"--",
    "ünïcødé".encode(),
    b"\xff\xfe not utf-8",
    b"quote\"'\\",
    b"\x01\x1b\x7f",
]


@pytest.mark.parametrize("name", INVALID)
def test_invalid_names_are_rejected(name: bytes) -> None:
    """Empty, '.', '..', a '/' anywhere and > 255 bytes are invalid."""
    assert not _names.name_is_valid(name)
    with pytest.raises(InvalidNameError):
        _names.encode_name(name)


@pytest.mark.parametrize("name", VALID)
def test_valid_names_are_accepted(name: bytes) -> None:
    """Everything else is a valid name and is passed on byte for byte."""
    assert _names.name_is_valid(name)
    assert _names.encode_name(name) == name


def test_nul_is_rejected() -> None:
    """A NUL byte cannot reach C, so it is refused (unlike ip's check)."""
    with pytest.raises(InvalidNameError):
        _names.encode_name(b"a\0b")
    with pytest.raises(InvalidNameError):
        _names.encode_name("a\0b")


def test_length_counts_bytes_not_characters() -> None:
    """NAME_MAX is 255 bytes of the encoded name, not 255 characters."""
    assert _names.encode_name("é" * 127 + "x") == ("é" * 127 + "x").encode()
    with pytest.raises(InvalidNameError):
        _names.encode_name("é" * 128)


def test_str_names_are_fsencoded() -> None:
    """A str name is os.fsencode()d, so surrogateescape round-trips."""
    assert _names.encode_name("a\udcffb") == b"a\xffb"
    assert _names.encode_name("ns1") == b"ns1"


def test_invalid_name_error_is_netns_error_and_value_error() -> None:
    """InvalidNameError is both a NetnsError and a ValueError."""
    with pytest.raises(InvalidNameError) as info:
        _names.encode_name("a/b")
    assert isinstance(info.value, NetnsError)
    assert isinstance(info.value, ValueError)
    assert info.value.name == "a/b"
    assert "a/b" in str(info.value)


# -- the API checks names before doing anything ----------------------------


@pytest.fixture
def no_core(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace every core wrapper with one that records it was called."""
    called: list[str] = []

    def make(what: str) -> object:
        def fake(*args: Any) -> object:
            called.append(what)
            return [None] * len(args[1]) if what.endswith("many") else None

        return fake

    for what in ("add", "attach", "delete", "add_many", "delete_many"):
        monkeypatch.setattr(_sys, what, make(what))
    return called


@pytest.mark.parametrize("name", [b"", ".", "..", "a/b", "x" * 256, "a\0"])
def test_api_rejects_bad_names_before_any_call(
    no_core: list[str], name: str
) -> None:
    """add/attach/delete raise InvalidNameError and never reach the core."""
    with pytest.raises(InvalidNameError):
        netns_fast.add(name)
    with pytest.raises(InvalidNameError):
        netns_fast.attach(name, 1)
    with pytest.raises(InvalidNameError):
        netns_fast.delete(name)
    assert no_core == []


def test_batches_check_every_name_first(no_core: list[str]) -> None:
    """One bad name in a batch raises and nothing of the batch is done."""
    with pytest.raises(InvalidNameError):
        netns_fast.add_many(["good1", "good2", "bad/name", "good3"])
    with pytest.raises(InvalidNameError):
        netns_fast.delete_many(["good1", ".."])
    assert no_core == []


def test_api_passes_good_names_on(no_core: list[str]) -> None:
    """The fake core is reached for valid names (the fixture works)."""
    netns_fast.add("ok")
    netns_fast.delete_many(["a", "b"])
    assert no_core == ["add", "delete_many"]


@pytest.mark.parametrize("pid", [0, -1, 2**31])
def test_attach_rejects_bad_pids(no_core: list[str], pid: int) -> None:
    """attach refuses a pid that is not a positive 32-bit int."""
    with pytest.raises(ValueError, match="Invalid PID"):
        netns_fast.attach("ok", pid)
    assert no_core == []


def test_attach_rejects_non_int_pids(no_core: list[str]) -> None:
    """attach refuses bool and str pids with TypeError."""
    with pytest.raises(TypeError):
        netns_fast.attach("ok", True)
    with pytest.raises(TypeError):
        netns_fast.attach("ok", "1")  # type: ignore[arg-type]
    assert no_core == []


@pytest.mark.parametrize("threads", [0, -1])
def test_batches_reject_bad_thread_counts(
    no_core: list[str], threads: int
) -> None:
    """threads must be >= 1 (None means one per CPU)."""
    with pytest.raises(ValueError, match="threads"):
        netns_fast.add_many(["a"], threads=threads)
    assert no_core == []


# One pid check and one threads check for every call that takes them.
PID_TAKERS: dict[str, Callable[[Any], object]] = {
    "attach": lambda pid: netns_fast.attach("ok", pid),
    "identify": netns_fast.identify,
    "Netns.from_pid": netns_fast.Netns.from_pid,
}
THREADS_TAKERS: dict[str, Callable[[Any], object]] = {
    "add_many": lambda n: netns_fast.add_many(["a"], threads=n),
    "delete_many": lambda n: netns_fast.delete_many(["a"], threads=n),
    "pids": lambda n: netns_fast.pids("a", threads=n),
    "pids_by_netns": lambda n: netns_fast.pids_by_netns(threads=n),
}


@pytest.mark.parametrize("taker", sorted(PID_TAKERS))
def test_one_pid_check(no_core: list[str], taker: str) -> None:
    """attach, identify and Netns.from_pid refuse the same pids alike:
    TypeError for a bool or a str, ValueError outside 1..2**31-1."""
    call = PID_TAKERS[taker]
    for bad in (True, False, "1", 1.0):
        with pytest.raises(TypeError, match="pid must be an int"):
            call(bad)
    for bad in (0, -1, 2**31):
        with pytest.raises(ValueError, match="Invalid PID"):
            call(bad)
    assert no_core == []


@pytest.mark.parametrize("taker", sorted(THREADS_TAKERS))
def test_one_threads_check(no_core: list[str], taker: str) -> None:
    """Every threads= refuses the same counts alike: TypeError for a bool
    or a str, ValueError below 1."""
    call = THREADS_TAKERS[taker]
    for bad in (True, "2", 2.0):
        with pytest.raises(TypeError, match="threads must be an int"):
            call(bad)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="threads must be >= 1"):
            call(bad)
    assert no_core == []


# -- run directory ----------------------------------------------------------


def test_run_dir_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without argument or environment the run dir is /run/netns."""
    monkeypatch.delenv("NETNS_RUN_DIR", raising=False)
    assert _names.run_dir_bytes() == b"/run/netns"


def test_run_dir_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """$NETNS_RUN_DIR is used when no argument is given."""
    monkeypatch.setenv("NETNS_RUN_DIR", "/tmp/elsewhere/")
    assert _names.run_dir_bytes() == b"/tmp/elsewhere"


def test_empty_environment_means_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An empty $NETNS_RUN_DIR counts as unset."""
    monkeypatch.setenv("NETNS_RUN_DIR", "")
    assert _names.run_dir_bytes() == b"/run/netns"


def test_run_dir_argument_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit run_dir beats $NETNS_RUN_DIR."""
    monkeypatch.setenv("NETNS_RUN_DIR", "/tmp/env")
    assert _names.run_dir_bytes("/tmp/arg") == b"/tmp/arg"
    assert _names.run_dir_bytes(b"/tmp/raw\xff") == b"/tmp/raw\xff"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/tmp/x/", b"/tmp/x"),
        ("/tmp/x///", b"/tmp/x"),
        ("/", b"/"),
        ("///", b"/"),
        ("rel/dir/", b"rel/dir"),
    ],
)
def test_trailing_slashes_are_dropped(given: str, expected: bytes) -> None:
    """Trailing slashes go, so paths in messages read like ip's."""
    assert _names.run_dir_bytes(given) == expected


@pytest.mark.parametrize("bad", ["", b"", "/tmp/a\0b"])
def test_bad_run_dirs_raise_value_error(bad: str) -> None:
    """An empty run dir or one with a NUL raises ValueError."""
    with pytest.raises(ValueError, match="run directory"):
        _names.run_dir_bytes(bad)


def test_api_resolves_run_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API hands the resolved run dir and the encoded name to the core."""
    seen: list[tuple[object, ...]] = []
    monkeypatch.setattr(_sys, "add", lambda *a: seen.append(a))
    monkeypatch.setattr(_sys, "delete", lambda *a: seen.append(a))
    monkeypatch.setenv("NETNS_RUN_DIR", "/tmp/from-env/")
    netns_fast.add("n1")
    netns_fast.add("n2", run_dir="/tmp/arg//")
    monkeypatch.delenv("NETNS_RUN_DIR")
    netns_fast.delete(b"n3")
    assert seen == [
        (b"/tmp/from-env", b"n1"),
        (b"/tmp/arg", b"n2"),
        (b"/run/netns", b"n3"),
    ]
