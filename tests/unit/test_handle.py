"""Handles without privilege: errors, the C declarations, laziness, and
enter()'s bookkeeping with a fake kernel."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Optional

import pytest

import netns_fast
from netns_fast.exceptions import (
    NamespaceRestoreError,
    NetnsOSError,
    NetnsPermissionError,
    NetnsTimeoutError,
    NotANamespaceError,
)
from support.private import _sys, handle
from support.tools import CHECKOUT, env

FARM_HEADERS = [CHECKOUT / "csrc" / "handle.h", CHECKOUT / "csrc" / "pool.h"]


def _step(name: str) -> int:
    return int(getattr(_sys.lib, "NSF_STEP_" + name.upper()))


# -- errors -------------------------------------------------------------------


def test_restore_and_verify_steps_are_restore_errors() -> None:
    """A failed or unverified move back is a NamespaceRestoreError."""
    for step in ("restore_net", "verify_net"):
        err = _sys._oserror(-errno.EIO, _step(step))
        assert isinstance(err, NamespaceRestoreError)
        assert err.step == step
        assert err.filename == "/proc/thread-self/ns/net"


def test_setns_einval_is_not_a_namespace() -> None:
    """EINVAL from setns means the file is not a namespace."""
    err = _sys._oserror(-errno.EINVAL, _step("setns_net"), path="/x")
    assert isinstance(err, NotANamespaceError)
    assert err.filename == "/x"


def test_open_ns_refuses_what_is_no_network_namespace(
    tmp_path: Path,
) -> None:
    """open_ns opens a network namespace file; a FIFO (without blocking),
    a plain file and another namespace type raise NotANamespaceError at
    step not_netns, naming the path; a missing file is not found."""
    fd = _sys.open_ns(b"/proc/thread-self/ns/net")
    os.close(fd)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "plain").touch()
    for path in (tmp_path / "fifo", tmp_path / "plain"):
        with pytest.raises(NotANamespaceError) as info:
            _sys.open_ns(os.fsencode(path))
        assert (info.value.errno, info.value.step) == (
            errno.EINVAL,
            "not_netns",
        )
        assert info.value.filename == str(path)
        assert info.value.strerror == "Not a network namespace file"
    with pytest.raises(NotANamespaceError):
        _sys.open_ns(b"/proc/thread-self/ns/uts")
    with pytest.raises(FileNotFoundError) as missing:
        _sys.open_ns(os.fsencode(tmp_path / "missing"))
    assert missing.value.step == "open_ns"


def test_other_errors_map_by_errno() -> None:
    """EPERM at unshare is a permission error; ETIMEDOUT a timeout."""
    err = _sys._oserror(-errno.EPERM, _step("unshare_net"))
    assert isinstance(err, NetnsPermissionError)
    assert isinstance(err, PermissionError)
    assert err.step == "unshare_net"
    timeout = _sys._oserror(-errno.ETIMEDOUT, _step("pool_timeout"))
    assert isinstance(timeout, NetnsTimeoutError)
    assert isinstance(timeout, TimeoutError)


def _pool_core(run_dir: Optional[bytes], **change: int) -> _sys.PoolCore:
    config = {
        "size": 1,
        "threads": 1,
        "max_pending": 8,
        "batch": 8,
        "batch_delay_us": 0,
        "stuck_ms": 1000,
        "fail_ms": 0,
    }
    config.update(change)
    return _sys.PoolCore(run_dir, prefix=b"p-", lo_up=False, **config)


@pytest.mark.parametrize(
    "change", [{"size": 0}, {"threads": 0}, {"batch": 0}, {"stuck_ms": 0}]
)
def test_pool_config_out_of_range_is_einval_at_its_step(
    change: dict[str, int],
) -> None:
    """The C pool refuses a config out of range with EINVAL at step
    pool_config (before any privilege is needed), not as a thread error."""
    with pytest.raises(NetnsOSError) as info:
        _pool_core(None, **change)
    assert (info.value.errno, info.value.step) == (
        errno.EINVAL,
        "pool_config",
    )


def test_pool_run_dir_too_long_is_enametoolong() -> None:
    """A named pool's run_dir past PATH_MAX is ENAMETOOLONG at step
    path_too_long, naming the run dir."""
    run_dir = b"/" + b"d" * 5000
    with pytest.raises(NetnsOSError) as info:
        _pool_core(run_dir)
    assert (info.value.errno, info.value.step) == (
        errno.ENAMETOOLONG,
        "path_too_long",
    )
    assert info.value.filename == os.fsdecode(run_dir)


def test_leave_failure_is_raised_and_fd_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """_sys.leave turns an unverified restore into NamespaceRestoreError
    and closes the saved fd."""

    verify = _step("verify_net")

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
    text = "".join(h.read_text() for h in FARM_HEADERS)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    consts = set(re.findall(r"\b(NSF_[A-Z_]+)\s*=", text))
    funcs = set(re.findall(r"\b(nsf_[a-z_]+)\s*\(", text))
    return consts, funcs


def test_farm_h_stub_and_lib_agree() -> None:
    """Every constant and function of handle.h and pool.h is in the stub
    and the lib."""
    consts, funcs = _farm_h_names()
    stub = Path(netns_fast.__file__).with_name("_netns.pyi").read_text()
    for name in consts | funcs:
        assert re.search(rf"\b{name}\b", stub), name
        assert hasattr(_sys.lib, name), name


# -- laziness and packaging ---------------------------------------------------


def test_package_imports_handle_and_pool_lazily() -> None:
    """import netns_fast loads neither handle nor pool until used."""
    code = (
        "import sys, netns_fast\n"
        "assert 'netns_fast._handle' not in sys.modules\n"
        "assert 'netns_fast._pool' not in sys.modules\n"
        "from netns_fast import Netns, Pool, enter, run_in, socket\n"
        "assert Netns.__module__ == 'netns_fast._handle'\n"
        "assert Pool.__module__ == 'netns_fast._pool'\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], env=env(keep_locale=True), check=True
    )
    with pytest.raises(AttributeError):
        _ = netns_fast.no_such_thing  # type: ignore[attr-defined]


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
            raise _sys._oserror(-errno.EPERM, _step("restore_net"))


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
