"""Test session isolation and leak guards.

At the start of the session (single-threaded, before any test), the pytest
process moves into a private mount namespace: ``/`` is made rslave and a
fresh tmpfs is mounted on the run directory (/run/netns). Everything the
tests create lives there and disappears with the process, and ``ip`` or
``netns-fast`` started by the tests see the same private directory. The
host's /run/netns is never touched (an empty directory is created on the
host only if it is missing, as ``ip netns add`` would).

Guards:
- after every test: no new entry in the run directory, no new nsfs mount,
  no new open fd, no new child process in another network namespace (the
  package's own leak snapshots, netns_fast._leaks, which the pytest plugin
  uses too; what leaked is then reclaimed);
- at the end: the host's /run/netns (seen through a directory fd opened
  before the unshare; /proc/1/root may be off limits in a sandbox) is as
  it was at the start.

Root tests are marked ``root``; without CAP_SYS_ADMIN (probed with
unshare(CLONE_NEWNET) in a forked child, the package's own probe, not uid
0), or when the isolation cannot be set up, they are skipped with the real
reason: root tests never run outside the private mount namespace.

Fixtures (the helpers are in tests/support):
- ``name_factory``: generated names, removed afterwards;
- ``fresh_name``: one generated name, not made;
- ``netns_name``: a live namespace (its name, a str), removed afterwards
  (the pytest plugin's ``netns`` is a Netns handle);
- ``spawner``: processes started for the test, killed by pid afterwards;
- ``pytester_env``: an inner pytest run imports the same netns_fast;
- ``host_links``: the pytest process's own namespace keeps its links.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from typing import Optional

import pytest

import netns_fast
from support.kernel import (
    CLONE_NEWNS,
    MS_REC,
    MS_SLAVE,
    RUN_DIR,
    check,
    libc,
)
from support.names import remove, unique_name
from support.private import _leaks, probe_netns
from support.processes import Spawner
from support.tools import package_parent

_state: dict[str, object] = {"isolated": False, "why": "not set up"}


def _probe_netns() -> Optional[str]:
    """None if this process may unshare(CLONE_NEWNET), else the reason."""
    err = probe_netns()
    if err is None:
        return None
    return (
        "needs CAP_SYS_ADMIN: unshare(CLONE_NEWNET) failed: "
        f"[Errno {err.errno}] {err.strerror}"
    )


def _isolate() -> None:
    """Private mount namespace with a tmpfs on RUN_DIR (see module doc)."""
    why = _probe_netns()
    if why is not None:
        _state["why"] = why
        return
    os.makedirs(RUN_DIR, exist_ok=True)
    host_fd = os.open(RUN_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    _state["host_fd"] = host_fd
    _state["host_before"] = sorted(os.listdir(host_fd))
    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(
        libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None),
        "mount --make-rslave /",
    )
    check(
        libc.mount(b"tmpfs", RUN_DIR.encode(), b"tmpfs", 0, b"mode=755"),
        "mount tmpfs on " + RUN_DIR,
    )
    os.environ.pop("NETNS_RUN_DIR", None)
    _state["isolated"] = True


def pytest_configure(config: pytest.Config) -> None:
    """Isolate once, while the process is still single-threaded."""
    if not _state["isolated"] and os.environ.get("NETNS_FAST_NO_ROOT") != "1":
        try:
            _isolate()
        except OSError as exc:
            _state["why"] = f"cannot isolate the test session: {exc}"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Skip root tests, with the real reason, when isolation failed."""
    if _state["isolated"]:
        return
    skip = pytest.mark.skip(reason=str(_state["why"]))
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the host's /run/netns changed during the session."""
    before = _state.get("host_before")
    if before is None:
        return
    host_fd = _state["host_fd"]
    assert isinstance(host_fd, int)
    after = sorted(os.listdir(host_fd))
    if after != before:
        sys.stderr.write(
            f"\nLEAK: host {RUN_DIR} changed: {before} -> {after}\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- per-test leak guard ----------------------------------------------------


@pytest.fixture(autouse=True)
def _leak_guard() -> Iterator[None]:
    """Fail a test that leaves a name, an nsfs mount, an fd or a process in
    another netns behind (then reclaim them, so later tests start clean)."""
    if not _state["isolated"]:
        yield
        return
    # No pool of the session holds anything: each test closes its own.
    before = _leaks.baseline()
    yield
    extra = _leaks.leaked(before)
    leaked = _leaks.report(extra)
    if leaked:
        pytest.fail("leaked: " + leaked)


# -- fixtures -----------------------------------------------------------------


@pytest.fixture
def name_factory() -> Iterator[list[str]]:
    """Generated names; whatever is left of them is removed afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        remove(name)


@pytest.fixture
def fresh_name(name_factory: list[str]) -> str:
    """One generated name, cleaned up after the test."""
    name = unique_name()
    name_factory.append(name)
    return name


@pytest.fixture
def netns_name(fresh_name: str) -> Iterator[str]:
    """A live namespace with a generated name (a str), deleted afterwards
    unless the test deleted it."""
    netns_fast.add(fresh_name)
    yield fresh_name
    if os.path.lexists(f"{RUN_DIR}/{fresh_name}"):
        netns_fast.delete(fresh_name)


@pytest.fixture
def pytester_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """An inner pytest run (pytester) imports the netns_fast this session
    imported."""
    monkeypatch.setenv("PYTHONPATH", package_parent())


@pytest.fixture
def host_links() -> Iterator[None]:
    """The pytest process's own namespace (the host's) keeps its links."""
    before = socket.if_nameindex()
    yield
    assert socket.if_nameindex() == before


@pytest.fixture
def spawner() -> Iterator[Spawner]:
    """Processes started by the test, all killed by pid afterwards."""
    spawn = Spawner()
    try:
        yield spawn
    finally:
        spawn.kill_all()
