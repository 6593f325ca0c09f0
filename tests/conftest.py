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
  no new open fd;
- at the end: the host's /run/netns (seen through a directory fd opened
  before the unshare; /proc/1/root may be off limits in a sandbox) is as
  it was at the start.

Root tests are marked ``root``; without CAP_SYS_ADMIN (probed with
unshare, not uid 0) they are skipped with the real reason.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Optional

import pytest
from nsft_helpers import unique_name

RUN_DIR = "/run/netns"
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_SLAVE = 1 << 19

_libc = ctypes.CDLL(None, use_errno=True)
_state: dict[str, object] = {"isolated": False, "why": "not set up"}


def _probe_netns() -> Optional[str]:
    """None if this process may unshare(CLONE_NEWNET), else the reason."""
    pid = os.fork()
    if pid == 0:
        rc = _libc.unshare(CLONE_NEWNET)
        os._exit(0 if rc == 0 else min(ctypes.get_errno(), 255))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        return None
    return (
        "needs CAP_SYS_ADMIN: unshare(CLONE_NEWNET) failed: "
        f"[Errno {code}] {os.strerror(code)}"
    )


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


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
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(
        _libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None),
        "mount --make-rslave /",
    )
    _check(
        _libc.mount(b"tmpfs", RUN_DIR.encode(), b"tmpfs", 0, b"mode=755"),
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


def nsfs_mounts() -> list[str]:
    """Mount points of nsfs mounts visible to this process."""
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if " - nsfs " in line]


def open_fds() -> set[int]:
    """The fds this process has open now.

    The fd listdir() itself used is closed again by the time we look, so
    it is dropped; otherwise a test leaking an fd of that number would go
    unnoticed.
    """
    listed = {int(fd) for fd in os.listdir("/proc/self/fd")}
    return {fd for fd in listed if _fd_target(fd) is not None}


def run_dir_entries() -> list[str]:
    """Entries of the private run directory."""
    try:
        return sorted(os.listdir(RUN_DIR))
    except FileNotFoundError:
        return []


@pytest.fixture(autouse=True)
def _leak_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a name, an nsfs mount or an fd behind."""
    if not _state["isolated"] or "no_leak_guard" in request.keywords:
        yield
        return
    names, mounts, fds = run_dir_entries(), nsfs_mounts(), open_fds()
    yield
    leaked: list[str] = []
    new_names = sorted(set(run_dir_entries()) - set(names))
    if new_names:
        leaked.append(f"names {new_names}")
    new_mounts = sorted(set(nsfs_mounts()) - set(mounts))
    if new_mounts:
        leaked.append(f"nsfs mounts {new_mounts}")
    # Give a dying subprocess's pipes a moment to be collected.
    new_fds = open_fds() - fds
    if new_fds:
        import gc

        gc.collect()
        new_fds = {fd for fd in open_fds() - fds if _fd_target(fd) is not None}
    if new_fds:
        targets = {fd: _fd_target(fd) for fd in sorted(new_fds)}
        leaked.append(f"fds {targets}")
    if leaked:
        # Clean up what we can so later tests start clean, then fail.
        for name in new_names:
            subprocess.run(
                ["umount", "-l", f"{RUN_DIR}/{name}"],
                capture_output=True,
                check=False,
            )
            with contextlib.suppress(OSError):
                os.unlink(f"{RUN_DIR}/{name}")
        pytest.fail("leaked: " + "; ".join(leaked))


def _fd_target(fd: int) -> Optional[str]:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


@pytest.fixture
def name_factory() -> Iterator[list[str]]:
    """Generated names; whatever is left of them is removed afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        path = f"{RUN_DIR}/{name}"
        if os.path.lexists(path):
            subprocess.run(
                ["umount", "-l", path], capture_output=True, check=False
            )
            try:
                os.unlink(path)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise


@pytest.fixture
def fresh_name(name_factory: list[str]) -> str:
    """One generated name, cleaned up after the test."""
    name = unique_name()
    name_factory.append(name)
    return name


@pytest.fixture
def ns(name_factory: list[str]) -> Iterator[str]:
    """A live namespace with a generated name, deleted afterwards."""
    import netns_fast

    name = unique_name()
    name_factory.append(name)
    netns_fast.add(name)
    yield name
    netns_fast.delete(name)
