"""Fixtures of the hardening tests, and the report of their figures.

Every hardening test that measures something records it with the
``figure`` fixture: the value goes into the JUnit properties
(``record_property``) and into a "hardening figures" section that pytest
prints at the end of the run, so CI logs show them without ``-s``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Callable

import pytest

from support.kernel import RUN_DIR, umount_all, wipe
from support.tools import Figure

_FIGURES: list[tuple[str, str, object]] = []


@pytest.fixture
def figure(
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
) -> Figure:
    """Record one measured figure of the test (printed at the end)."""

    def record(key: str, value: object) -> None:
        record_property(key, value)
        _FIGURES.append((request.node.name, key, value))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print every recorded figure, one line each."""
    if not _FIGURES:
        return
    terminalreporter.write_sep("=", "hardening figures")
    for test, key, value in _FIGURES:
        terminalreporter.write_line(f"{test}: {key} = {value}")


@pytest.fixture
def scratch_run_dir() -> Iterator[str]:
    """A fresh run directory (not a mount point) inside the private tmpfs.

    It lives at /run/netns/.hard-XXXX, in the session's private mount
    namespace; tests pass it as run_dir or $NETNS_RUN_DIR. Whatever is
    left in it, and the self-bind mount an add puts on it, is removed.
    """
    path = os.path.join(RUN_DIR, f".hard-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.mkdir(path, 0o755)
    try:
        yield path
    finally:
        wipe(path)
        umount_all(path)
        os.rmdir(path)


@pytest.fixture
def scratch_env(scratch_run_dir: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """scratch_run_dir, also set as $NETNS_RUN_DIR for CLI runs."""
    monkeypatch.setenv("NETNS_RUN_DIR", scratch_run_dir)
    return scratch_run_dir
