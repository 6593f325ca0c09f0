"""The owners extension (netns-fast owners, netns_fast.owners): the names
of pools and pytest sessions with their owner, from a run directory of
plain files (no privilege: it only reads the entries)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

import netns_fast
from netns_fast import cli
from support.names import owner_fields, owner_tagged


@pytest.fixture
def owner_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A run directory (NETNS_RUN_DIR) with names of a live owner (this
    process), a dead one (this pid, another start time), one of another
    pid namespace, and names of other forms; the expected owners lines in
    directory order."""
    pid, start, pidns = owner_fields()
    lines = {
        owner_tagged("pytest", pid, start, pidns, "gw0-abc"): "pytest alive",
        owner_tagged("pool", pid, start + 1, pidns, "1-7"): "pool dead",
        owner_tagged("pool", pid, start, pidns + 1, "2-0"): "pool unknown",
    }
    for name in [*lines, "blue", "nsf-pool-x", "nsf-other-1.2.3-x"]:
        (tmp_path / name).touch()
    monkeypatch.setenv("NETNS_RUN_DIR", str(tmp_path))
    return [
        f"{name} {lines[name].split()[0]} {pid} {lines[name].split()[1]}"
        for name in os.listdir(tmp_path)
        if name in lines
    ]


def _run(*argv: str) -> tuple[int, bytes, bytes]:
    out, err = io.BytesIO(), io.BytesIO()
    rc = cli.run(list(argv), out, err)
    return rc, out.getvalue(), err.getvalue()


def test_owners_lists_owner_form_names_with_their_state(
    owner_dir: list[str],
) -> None:
    """One NAME KIND PID STATE line per owner-form name, directory order;
    other names are left out; exit 0."""
    rc, out, err = _run("owners")
    assert (rc, err) == (0, b"")
    assert out.decode().splitlines() == owner_dir


def test_owners_json(owner_dir: list[str]) -> None:
    """-j: one object per name with name, kind, pid and state."""
    rc, out, _ = _run("-j", "owners")
    assert rc == 0
    assert json.loads(out) == [
        dict(zip(("name", "kind", "pid", "state"), line.split()))
        | {"pid": int(line.split()[2])}
        for line in owner_dir
    ]


def test_owners_api_matches_the_cli(owner_dir: list[str]) -> None:
    """netns_fast.owners() returns what the verb prints."""
    got = netns_fast.owners()
    assert [f"{o.name} {o.kind} {o.pid} {o.state}" for o in got] == owner_dir


def test_owners_missing_run_dir_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing run directory lists nothing, exit 0."""
    monkeypatch.setenv("NETNS_RUN_DIR", str(tmp_path / "none"))
    assert _run("owners") == (0, b"", b"")
    assert netns_fast.owners() == []


def test_owners_takes_no_argument(owner_dir: list[str]) -> None:
    """An argument is ip's invarg(): exit 255."""
    assert _run("owners", "x") == (
        255,
        b"",
        b'Error: argument "x" is wrong: unknown argument\n',
    )
