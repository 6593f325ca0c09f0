"""The farm layer without privilege: errors, stubs, laziness, bookkeeping."""

from __future__ import annotations

import errno
import inspect
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import netns_fast
from netns_fast import _handle as handle
from netns_fast import _leaks, _sys
from netns_fast.compat import pyroute2_netns
from netns_fast.exceptions import (
    NamespaceRestoreError,
    NetnsPermissionError,
    NetnsTimeoutError,
    NotANamespaceError,
)

ROOT = Path(__file__).resolve().parents[2]
FARM_H = ROOT / "csrc" / "farm.h"


def _step(name: str) -> int:
    return int(getattr(_sys.lib, "NSF_STEP_" + name.upper()))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


# -- errors -------------------------------------------------------------------


def test_restore_and_verify_steps_are_restore_errors() -> None:
    """A failed or unverified move back is a NamespaceRestoreError."""
    for step in ("handle_restore", "handle_verify"):
        err = _sys.farm_error(-errno.EIO, _step(step))
        assert isinstance(err, NamespaceRestoreError)
        assert err.step == step
        assert err.filename == "/proc/thread-self/ns/net"


def test_setns_einval_is_not_a_namespace() -> None:
    """EINVAL from setns means the file is not a namespace."""
    err = _sys.farm_error(-errno.EINVAL, _step("handle_setns"), "/x")
    assert isinstance(err, NotANamespaceError)
    assert err.filename == "/x"


def test_open_ns_refuses_what_is_no_network_namespace(
    tmp_path: Path,
) -> None:
    """open_ns opens a network namespace file; a FIFO (without blocking),
    a plain file and another namespace type raise NotANamespaceError at
    step handle_not_ns, naming the path; a missing file is not found."""
    fd = _sys.open_ns(b"/proc/thread-self/ns/net")
    os.close(fd)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "plain").touch()
    for path in (tmp_path / "fifo", tmp_path / "plain"):
        with pytest.raises(NotANamespaceError) as info:
            _sys.open_ns(os.fsencode(path))
        assert (info.value.errno, info.value.step) == (
            errno.EINVAL,
            "handle_not_ns",
        )
        assert info.value.filename == str(path)
        assert info.value.strerror == "Not a network namespace file"
    with pytest.raises(NotANamespaceError):
        _sys.open_ns(b"/proc/thread-self/ns/uts")
    with pytest.raises(FileNotFoundError) as missing:
        _sys.open_ns(os.fsencode(tmp_path / "missing"))
    assert missing.value.step == "handle_open_ns"


def test_other_errors_map_by_errno() -> None:
    """EPERM at unshare is a permission error; ETIMEDOUT a timeout."""
    err = _sys.farm_error(-errno.EPERM, _step("handle_unshare"))
    assert isinstance(err, NetnsPermissionError)
    assert isinstance(err, PermissionError)
    assert err.step == "handle_unshare"
    timeout = _sys.farm_error(-errno.ETIMEDOUT, _step("pool_timeout"))
    assert isinstance(timeout, NetnsTimeoutError)
    assert isinstance(timeout, TimeoutError)


def test_leave_failure_is_raised_and_fd_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """_sys.leave turns an unverified restore into NamespaceRestoreError
    and closes the saved fd."""

    verify = _step("handle_verify")

    class FakeLib:
        def nsf_leave(self, fd: int, step: object) -> int:
            step[0] = verify  # type: ignore[index]
            return -errno.EIO

    monkeypatch.setattr(_sys, "lib", FakeLib())
    fd = os.open("/dev/null", os.O_RDONLY)
    with pytest.raises(NamespaceRestoreError):
        _sys.leave(fd)
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)


# -- C declarations, stub, ranges ---------------------------------------------


def _farm_h_names() -> tuple[set[str], set[str]]:
    text = re.sub(r"/\*.*?\*/", "", FARM_H.read_text(), flags=re.S)
    consts = set(re.findall(r"\b(NSF_[A-Z_]+)\s*=", text))
    funcs = set(re.findall(r"\b(nsf_[a-z_]+)\s*\(", text))
    return consts, funcs


def test_farm_h_stub_and_lib_agree() -> None:
    """Every constant and function of farm.h is in the stub and the lib."""
    consts, funcs = _farm_h_names()
    stub = Path(netns_fast.__file__).with_name("_netns.pyi").read_text()
    for name in consts | funcs:
        assert re.search(rf"\b{name}\b", stub), name
        assert hasattr(_sys.lib, name), name


def test_farm_steps_are_in_range() -> None:
    """The farm's steps use 400-439 and map to lower-case names."""
    consts, _ = _farm_h_names()
    steps = sorted(c for c in consts if c.startswith("NSF_STEP_"))
    assert steps
    for const in steps:
        value = getattr(_sys.lib, const)
        assert 400 <= value <= 439, const
        assert _sys.step_name(value) == const[len("NSF_STEP_") :].lower()


# -- laziness and packaging ---------------------------------------------------


def test_plugin_import_has_no_side_effects() -> None:
    """Importing the pytest plugin starts no thread, forks nothing and
    loads none of the farm modules (handle, pool, leak check)."""
    code = (
        "import os, sys, threading\n"
        "fds = os.listdir('/proc/self/fd')\n"
        "import netns_fast.pytest_plugin\n"
        "for mod in ('_handle', '_pool', '_leaks'):\n"
        "    assert 'netns_fast.' + mod not in sys.modules, mod\n"
        "assert threading.active_count() == 1\n"
        "assert len(os.listdir('/proc/self/task')) == 1\n"
        "assert os.listdir('/proc/self/fd') == fds\n"
    )
    subprocess.run([sys.executable, "-c", code], env=_env(), check=True)


def test_package_imports_farm_modules_lazily() -> None:
    """import netns_fast loads neither handle nor pool until used."""
    code = (
        "import sys, netns_fast\n"
        "assert 'netns_fast._handle' not in sys.modules\n"
        "assert 'netns_fast._pool' not in sys.modules\n"
        "from netns_fast import Netns, Pool, enter, run_in, socket\n"
        "assert Netns.__module__ == 'netns_fast._handle'\n"
        "assert Pool.__module__ == 'netns_fast._pool'\n"
    )
    subprocess.run([sys.executable, "-c", code], env=_env(), check=True)
    with pytest.raises(AttributeError):
        _ = netns_fast.no_such_thing  # type: ignore[attr-defined]


def test_pytest11_entry_point_declared() -> None:
    """pyproject.toml registers the plugin under pytest11."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[project.entry-points.pytest11]", 1)[1]
    assert 'netns_fast = "netns_fast.pytest_plugin"' in section.split("[")[0]


def test_compat_signatures_match_pyroute2() -> None:
    """The compat functions have pyroute2 0.9.7's signatures."""
    expected = {
        "create": "(netns, libc=None)",
        "attach": "(netns, pid, libc=None)",
        "remove": "(netns, libc=None)",
        "getnsfd": "(netns, flags=0, libc=None, fork=True)",
        "setns": f"(netns, flags={os.O_CREAT}, libc=None, fork=True)",
        "pushns": "(newns=None, libc=None)",
        "popns": "(libc=None)",
        "dropns": "(libc=None)",
        "listnetns": "(nspath=None)",
        "ns_pids": "(nspath='/var/run/netns')",
        "pid_to_ns": "(pid=1, nspath='/var/run/netns')",
        "_create": "(netns, libc=None, pid=None)",
    }
    for name, sig in expected.items():
        fn = getattr(pyroute2_netns, name)
        params = inspect.signature(fn).parameters.values()
        got = (
            "("
            + ", ".join(
                p.replace(annotation=p.empty).__str__() for p in params
            )
            + ")"
        )
        assert got == sig, name


def test_compat_getnsfd_rejects_other_types() -> None:
    """getnsfd raises RuntimeError for a float, as pyroute2 does."""
    with pytest.raises(RuntimeError, match="string or an open fd"):
        pyroute2_netns.getnsfd(1.5)  # type: ignore[arg-type]


def test_compat_popns_on_empty_stack() -> None:
    """popns/dropns with nothing pushed raise IndexError, per thread."""
    with pytest.raises(IndexError):
        pyroute2_netns.popns()
    with pytest.raises(IndexError):
        pyroute2_netns.dropns()


# -- enter() bookkeeping, with a fake kernel ----------------------------------


class FakeKernel:
    """Stands in for _sys.enter/_sys.leave; can fail the next leave."""

    def __init__(self) -> None:
        self.fail_next = False
        self.entered: list[int] = []

    def enter(self, fd: int, path: object = None) -> int:
        self.entered.append(fd)
        return os.open("/dev/null", os.O_RDONLY)

    def leave(self, saved: int) -> None:
        os.close(saved)
        if self.fail_next:
            self.fail_next = False
            raise _sys.farm_error(-errno.EPERM, _step("handle_restore"))


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> FakeKernel:
    """_sys.enter/leave replaced by a FakeKernel."""
    fake = FakeKernel()
    monkeypatch.setattr(_sys, "enter", fake.enter)
    monkeypatch.setattr(_sys, "leave", fake.leave)
    return fake


def test_failed_leave_strands_until_outer_level_returns(
    kernel: FakeKernel,
) -> None:
    """After a failed leave, enter() refuses until an outer leave works."""
    with handle.enter(10):
        kernel.fail_next = True
        with pytest.raises(NamespaceRestoreError), handle.enter(11):
            pass
        with pytest.raises(NamespaceRestoreError, match="foreign"):
            handle.enter(12).__enter__()
        assert kernel.entered == [10, 11]
    with handle.enter(13):
        assert handle.depth() == 1
    assert handle.depth() == 0


def test_enter_is_per_thread(kernel: FakeKernel) -> None:
    """Each thread has its own stack: depth in one is not seen in another."""
    seen: list[int] = []
    with handle.enter(1):
        t = threading.Thread(target=lambda: seen.append(handle.depth()))
        t.start()
        t.join()
        assert handle.depth() == 1
    assert seen == [0]


def test_enter_left_on_another_thread_is_refused(kernel: FakeKernel) -> None:
    """Exiting an enter() on a different thread raises RuntimeError."""
    ctx = handle.enter(1)
    ctx.__enter__()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            ctx.__exit__(None, None, None)
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(errors) == 1
    ctx.__exit__(None, None, None)
    assert handle.depth() == 0


def test_enter_twice_is_refused(kernel: FakeKernel) -> None:
    """One enter() object cannot be entered while it is active."""
    ctx = handle.enter(1)
    with ctx, pytest.raises(RuntimeError, match="already active"):
        ctx.__enter__()


def test_enter_rejects_bad_arguments() -> None:
    """enter() takes a Netns, a name or an fd."""
    with pytest.raises(TypeError), handle.enter(1.5):  # type: ignore[arg-type]
        pass


# -- pool arguments and leak snapshots ----------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"size": 0}, {"threads": 0}, {"max_pending": 0}, {"prefix": "x" * 41}],
)
def test_pool_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    """Bad sizes and over-long prefixes are refused before anything runs."""
    with pytest.raises(ValueError, match="must be"):
        netns_fast.Pool(**kwargs)  # type: ignore[arg-type]


def test_leak_snapshot_sees_new_fds_but_not_held_ones() -> None:
    """A new fd is reported; one the pool holds is not."""
    before = _leaks.snapshot(frozenset, frozenset)
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        found = _leaks.compare(before, frozenset, frozenset)
        assert f"{fd} -> /dev/null" in found
        assert _leaks.compare(before, lambda: frozenset([fd]), frozenset) == ""
    finally:
        os.close(fd)
    assert _leaks.compare(before, frozenset, frozenset) == ""


def test_release_callable_takes_over_close() -> None:
    """A handle made with release= (what a pool passes) hands itself to it
    once on close(), and neither deletes its name nor closes its fd."""
    fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    released: list[object] = []
    try:
        ns = netns_fast.Netns(
            fd,
            name=b"not-there",
            run_dir=b"/nonexistent-run-dir",
            owned=True,
            ino=1,
            release=released.append,
        )
        ns.close()
        ns.close()
        assert released == [ns]
        assert ns.closed
        os.fstat(fd)  # still open: the release took it over
    finally:
        os.close(fd)
