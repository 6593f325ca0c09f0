"""Oracle: netns-fast against ip when a syscall fails for real.

A seccomp filter (tests/fault_helpers.py) makes the same syscall fail with
the same errno for both tools; everything else runs as usual, from the
same starting state (nsft_oracle).

- flock(2) of the run directory: ip prints ``Warning: could not flock
  netns runtime directory "RUN": ERR`` and goes on, for every add and
  attach (also in a batch); the other verbs take no lock.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_helpers import Fault, supported, wrapper
from nsft_helpers import requires_ip, sleeper_in_own_netns
from nsft_oracle import Case, StateStep, assert_same, name

pytestmark = [
    pytest.mark.root,
    pytest.mark.oracle,
    requires_ip,
    pytest.mark.skipif(
        not supported(), reason="no seccomp table for this architecture"
    ),
]

A, B = name("a"), name("b")
LIVE_A: list[StateStep] = [("live", A)]
NO_FLOCK = wrapper(Fault("flock", errno.ENOLCK))
WARNING = (
    b'Warning: could not flock netns runtime directory "/run/netns": '
    b"No locks available\n"
)


@pytest.fixture(scope="module")
def child_pid() -> Iterator[int]:
    """A sleeping process in a network namespace of its own."""
    with sleeper_in_own_netns() as pid:
        yield pid


@pytest.mark.parametrize(
    ("args", "state", "missing"),
    [
        pytest.param(["add", A], [], False, id="add"),
        pytest.param(["add", A], LIVE_A, False, id="add-exists"),
        pytest.param(["add", A], [], True, id="add-missing-run-dir"),
        pytest.param(["attach", A, "999999999"], [], False, id="attach-dead"),
        pytest.param(["delete", A], LIVE_A, False, id="delete"),
        pytest.param(["list"], LIVE_A, False, id="list"),
    ],
)
def test_flock_failure(
    args: list[str], state: list[StateStep], missing: bool
) -> None:
    """A failing flock: ip's warning (add, attach), then the verb as
    usual; other verbs print nothing about it."""
    res = assert_same(
        Case(args, state=state, missing_run_dir=missing), NO_FLOCK
    )
    assert res.err.startswith(WARNING) == (args[0] in ("add", "attach"))


def test_flock_failure_attach(child_pid: int) -> None:
    """attach warns too, and still binds the process's namespace."""
    res = assert_same(Case(["attach", A, str(child_pid)]), NO_FLOCK)
    assert (res.rc, res.err) == (0, WARNING)


def test_flock_failure_warns_for_every_add_of_a_batch(tmp_path: Path) -> None:
    """In a batch each add tries the flock again, and warns again."""
    cmds = tmp_path / "cmds"
    cmds.write_bytes(b"netns add %s\nnetns add %s\nnetns list\n" % (A, B))
    res = assert_same(Case([], argv=["-b", str(cmds)]), NO_FLOCK)
    assert res.err == WARNING * 2
