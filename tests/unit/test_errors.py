"""Exceptions: error_for's table, and the core's -errno/step mapped at the
boundary (netns_fast._sys.lib replaced by a fake; no privilege needed)."""

from __future__ import annotations

import errno
import io
import os
import pickle
from collections.abc import Sequence
from typing import Any, Optional

import pytest

import netns_fast
from netns_fast import _sys, cli, exceptions
from netns_fast._netns import ffi
from netns_fast._netns import lib as real_lib
from netns_fast.exceptions import (
    NamespaceBusyError,
    NamespaceExistsError,
    NamespaceLimitError,
    NamespaceNotFoundError,
    NamespaceRestoreError,
    NetnsError,
    NetnsOSError,
    NetnsPermissionError,
    NotANamespaceError,
    error_for,
)

# errno -> (builtin OSError subclass, netns_fast class or None for "any").
TABLE: list[tuple[int, type[OSError], Optional[type[NetnsOSError]]]] = [
    (errno.EEXIST, FileExistsError, NamespaceExistsError),
    (errno.ENOENT, FileNotFoundError, NamespaceNotFoundError),
    (errno.EPERM, PermissionError, NetnsPermissionError),
    (errno.EACCES, PermissionError, NetnsPermissionError),
    (errno.ESRCH, ProcessLookupError, None),
    (errno.ENOTDIR, NotADirectoryError, None),
    (errno.EISDIR, IsADirectoryError, None),
    (errno.EINTR, InterruptedError, None),
    (errno.EAGAIN, BlockingIOError, None),
    (errno.ECHILD, ChildProcessError, None),
    (errno.ETIMEDOUT, TimeoutError, None),
    (errno.EBUSY, OSError, NamespaceBusyError),
    (errno.ENOSPC, OSError, None),  # the class depends on the step
    (errno.EIO, OSError, None),
    (errno.EINVAL, OSError, None),
    (errno.ENAMETOOLONG, OSError, None),
]


@pytest.mark.parametrize(("err", "builtin", "own"), TABLE)
def test_error_for_class(
    err: int, builtin: type[OSError], own: Optional[type[NetnsOSError]]
) -> None:
    """The class is a NetnsError and the OSError subclass of its errno."""
    exc = error_for(err, "create_name", "/run/netns/x")
    assert isinstance(exc, NetnsError)
    assert isinstance(exc, NetnsOSError)
    assert isinstance(exc, builtin)
    # The same subclass CPython itself picks for OSError(err, ...).
    assert isinstance(exc, type(OSError(err, "x")))
    if own is not None:
        assert type(exc) is own


def test_unmapped_errno_gives_the_base_class() -> None:
    """An errno with no own class gives exactly NetnsOSError."""
    assert type(error_for(errno.EIO, "bind")) is NetnsOSError


@pytest.mark.parametrize(("err", "builtin", "own"), TABLE)
def test_fields_str_and_pickle(
    err: int, builtin: type[OSError], own: Optional[type[NetnsOSError]]
) -> None:
    """errno, strerror, filename, filename2 and step survive a pickle."""
    exc = error_for(err, "bind", "/run/netns/x", "/proc/1/ns/net")
    assert exc.errno == err
    assert exc.strerror == os.strerror(err)
    assert exc.filename == "/run/netns/x"
    assert exc.filename2 == "/proc/1/ns/net"
    assert exc.step == "bind"
    assert str(exc) == (
        f"[Errno {err}] {os.strerror(err)}: '/run/netns/x' -> "
        "'/proc/1/ns/net' (step: bind)"
    )
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    for field in ("errno", "strerror", "filename", "filename2", "step"):
        assert getattr(back, field) == getattr(exc, field)
    assert str(back) == str(exc)
    assert back.args == exc.args


def test_str_without_step_or_filename() -> None:
    """No step, no filename: str() is OSError's own."""
    exc = error_for(errno.ENOENT, "")
    assert str(exc) == f"[Errno 2] {os.strerror(errno.ENOENT)}"
    assert exc.filename is None
    assert exc.filename2 is None


def test_str_with_one_filename() -> None:
    """str() shows the errno, the message, the path and the step."""
    exc = error_for(errno.EEXIST, "create_name", "/run/netns/a")
    assert str(exc) == (
        "[Errno 17] File exists: '/run/netns/a' (step: create_name)"
    )


@pytest.mark.parametrize("step", ["restore_net", "verify_net"])
@pytest.mark.parametrize("err", [errno.EPERM, errno.EINVAL, errno.EIO])
def test_restore_step_gives_restore_error(step: str, err: int) -> None:
    """Any errno at a restore step is a NamespaceRestoreError."""
    exc = error_for(err, step)
    assert type(exc) is NamespaceRestoreError
    assert exc.errno == err
    assert exc.step == step


def test_einval_at_setns_is_not_a_namespace() -> None:
    """EINVAL at "setns_net" or "rtm_newnsid", and anything at
    "not_netns", is NotANamespaceError; elsewhere it is not."""
    for step in ("setns_net", "rtm_newnsid", "not_netns"):
        exc = error_for(errno.EINVAL, step, "/run/netns/stale")
        assert type(exc) is NotANamespaceError
        assert exc.filename == "/run/netns/stale"
    assert type(error_for(errno.EINVAL, "bind")) is NetnsOSError
    assert type(error_for(errno.EPERM, "setns_net")) is NetnsPermissionError


def test_enospc_is_the_namespace_limit_only_at_unshare() -> None:
    """ENOSPC from unshare is NamespaceLimitError; elsewhere (a full file
    system at "create_name") a plain NetnsOSError that names the path."""
    limit = error_for(errno.ENOSPC, "unshare_net")
    assert type(limit) is NamespaceLimitError
    full = error_for(errno.ENOSPC, "create_name", "/run/netns/x")
    assert type(full) is NetnsOSError
    assert (full.errno, full.filename) == (errno.ENOSPC, "/run/netns/x")


def test_public_names_are_exported() -> None:
    """The exception classes a caller branches on are in netns_fast."""
    for name in (
        "NetnsError",
        "NetnsOSError",
        "InvalidNameError",
        "NamespaceExistsError",
        "NamespaceNotFoundError",
        "NetnsPermissionError",
        "NamespaceBusyError",
        "NamespaceLimitError",
        "NotANamespaceError",
        "NamespaceRestoreError",
    ):
        assert getattr(netns_fast, name) is getattr(exceptions, name)


# -- the boundary: a fake cffi lib ------------------------------------------


class FakeLib:
    """Stands in for netns_fast._netns.lib: returns set -errno and steps."""

    def __init__(self) -> None:
        self.rc = 0
        self.step = 0
        self.calls: list[tuple[Any, ...]] = []
        # name -> (rc, step) for the batches; rc < 0 from the batch call.
        self.per_name: dict[bytes, tuple[int, int]] = {}
        self.batch_rc: Optional[int] = None
        self.flock_err = 0  # what nsf_flock_error reports

    def __getattr__(self, attr: str) -> Any:
        # Constants come from the real lib.
        return getattr(real_lib, attr)

    def _single(self, what: str, step: Any, *args: object) -> int:
        self.calls.append((what, *args))
        step[0] = self.step
        return self.rc

    def nsf_prepare_run_dir(self, run_dir: bytes, step: Any) -> int:
        return self._single("prepare", step, run_dir)

    def nsf_add(self, run_dir: bytes, name: bytes, step: Any) -> int:
        return self._single("add", step, run_dir, name)

    def nsf_attach(
        self, run_dir: bytes, name: bytes, pid: int, step: Any
    ) -> int:
        return self._single("attach", step, run_dir, name, pid)

    def nsf_delete(self, run_dir: bytes, name: bytes, step: Any) -> int:
        return self._single("delete", step, run_dir, name)

    def _batch(self, what: str, *args: Any) -> int:
        run_dir, names, n, nthreads, results, steps = args
        got = [ffi.string(names[i]) for i in range(n)]
        self.calls.append((what, run_dir, got, nthreads))
        if self.batch_rc is not None:
            return self.batch_rc
        failed = 0
        for i, name in enumerate(got):
            rc, step = self.per_name.get(name, (0, 0))
            results[i] = rc
            steps[i] = step
            failed += rc < 0
        return failed

    def nsf_add_many(self, *args: Any) -> int:
        return self._batch("add_many", *args)

    def nsf_flock_error(self) -> int:
        return self.flock_err

    def nsf_delete_many(self, *args: Any) -> int:
        return self._batch("delete_many", *args)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeLib:
    """netns_fast._sys.lib replaced by a FakeLib; $NETNS_RUN_DIR unset."""
    lib = FakeLib()
    monkeypatch.setattr(_sys, "lib", lib)
    monkeypatch.delenv("NETNS_RUN_DIR", raising=False)
    return lib


def _fail(fake: FakeLib, err: int, step: int) -> None:
    fake.rc = -err
    fake.step = step


def test_add_eexist(fake: FakeLib) -> None:
    """-EEXIST at create: NamespaceExistsError on RUN_DIR/NAME."""
    _fail(fake, errno.EEXIST, real_lib.NSF_STEP_CREATE_NAME)
    with pytest.raises(FileExistsError) as info:
        netns_fast.add("n1")
    exc = info.value
    assert type(exc) is NamespaceExistsError
    assert exc.errno == errno.EEXIST
    assert exc.filename == "/run/netns/n1"
    assert exc.filename2 is None
    assert exc.step == "create_name"
    assert fake.calls == [("add", b"/run/netns", b"n1")]


def test_add_eexist_in_given_run_dir(fake: FakeLib) -> None:
    """The filename names the run_dir that was given (slash dropped)."""
    _fail(fake, errno.EEXIST, real_lib.NSF_STEP_CREATE_NAME)
    with pytest.raises(NamespaceExistsError) as info:
        netns_fast.add(b"n\xff", run_dir="/tmp/rd/")
    assert info.value.filename == os.fsdecode(b"/tmp/rd/n\xff")
    assert fake.calls == [("add", b"/tmp/rd", b"n\xff")]


def test_add_uses_environment_run_dir(
    fake: FakeLib, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$NETNS_RUN_DIR shows up in the error's filename."""
    monkeypatch.setenv("NETNS_RUN_DIR", "/tmp/envrd")
    _fail(fake, errno.EACCES, real_lib.NSF_STEP_CREATE_NAME)
    with pytest.raises(PermissionError) as info:
        netns_fast.add("n1")
    assert info.value.filename == "/tmp/envrd/n1"


RUN_DIR_STEPS = [
    ("mkdir_run_dir", errno.EACCES, PermissionError),
    ("open_run_dir", errno.ENOTDIR, NotADirectoryError),
    ("make_shared", errno.EPERM, PermissionError),
    ("self_bind", errno.EPERM, PermissionError),
    ("make_private", errno.EINVAL, OSError),
]


@pytest.mark.parametrize(("step", "err", "builtin"), RUN_DIR_STEPS)
@pytest.mark.parametrize("verb", ["add", "attach", "prepare"])
def test_run_dir_steps_name_the_run_dir(
    fake: FakeLib, step: str, err: int, builtin: type[OSError], verb: str
) -> None:
    """A failure while preparing the run dir has filename = the run dir."""
    _fail(fake, err, getattr(real_lib, "NSF_STEP_" + step.upper()))
    calls = {
        "add": lambda: netns_fast.add("n1", run_dir="/tmp/rd"),
        "attach": lambda: netns_fast.attach("n1", 42, run_dir="/tmp/rd"),
        "prepare": lambda: _sys.prepare_run_dir(b"/tmp/rd"),
    }
    with pytest.raises(builtin) as info:
        calls[verb]()
    exc = info.value
    assert isinstance(exc, NetnsOSError)
    assert exc.filename == "/tmp/rd"
    assert exc.filename2 is None
    assert exc.step == step


def test_attach_bind_names_the_pid(fake: FakeLib) -> None:
    """A failed bind of attach: filename2 is /proc/PID/ns/net."""
    _fail(fake, errno.ENOENT, real_lib.NSF_STEP_BIND)
    with pytest.raises(NamespaceNotFoundError) as info:
        netns_fast.attach("n1", 4242)
    assert info.value.filename == "/run/netns/n1"
    assert info.value.filename2 == "/proc/4242/ns/net"
    assert info.value.step == "bind"
    assert fake.calls == [("attach", b"/run/netns", b"n1", 4242)]


THREAD_NS = "/proc/thread-self/ns/net"
ADD_STEPS = [
    # step, errno, class, filename, filename2
    ("create_name", errno.EEXIST, NamespaceExistsError, "/run/netns/n1", None),
    ("bind", errno.EPERM, NetnsPermissionError, "/run/netns/n1", THREAD_NS),
    ("unshare_net", errno.ENOSPC, NamespaceLimitError, None, None),
    ("open_thread_net", errno.EMFILE, NetnsOSError, THREAD_NS, None),
    # the thread's own namespace, as for a handle's failed leave
    ("restore_net", errno.EPERM, NamespaceRestoreError, THREAD_NS, None),
    ("verify_net", errno.EIO, NamespaceRestoreError, THREAD_NS, None),
]


@pytest.mark.parametrize("case", ADD_STEPS, ids=[c[0] for c in ADD_STEPS])
def test_add_steps(fake: FakeLib, case: tuple[Any, ...]) -> None:
    """Each failing step of add names the file it failed on."""
    step, err, cls, filename, filename2 = case
    _fail(fake, err, getattr(real_lib, "NSF_STEP_" + step.upper()))
    with pytest.raises(cls) as info:
        netns_fast.add("n1")
    exc = info.value
    assert type(exc) is cls
    assert (exc.errno, exc.step) == (err, step)
    assert (exc.filename, exc.filename2) == (filename, filename2)


FLOCK_WARNING = (
    b'Warning: could not flock netns runtime directory "/run/netns": '
    b"No locks available\n"
)


@pytest.mark.parametrize("verb", [["add", "n1"], ["attach", "n1", "42"]])
@pytest.mark.parametrize("rc", [0, -errno.EEXIST])
def test_cli_warns_of_a_failed_flock_first(
    fake: FakeLib, verb: list[str], rc: int
) -> None:
    """add/attach print ip's flock warning, before an error if any."""
    fake.flock_err = errno.ENOLCK
    fake.rc, fake.step = rc, real_lib.NSF_STEP_CREATE_NAME if rc else 0
    out, err = io.BytesIO(), io.BytesIO()
    code = cli.run(verb, out, err)
    assert code == (1 if rc else 0)
    exists = b'Cannot create namespace file "/run/netns/n1": File exists\n'
    assert err.getvalue() == FLOCK_WARNING + (exists if rc else b"")


def test_cli_no_flock_warning_when_it_locked(fake: FakeLib) -> None:
    """No warning when the flock was taken (or not needed)."""
    out, err = io.BytesIO(), io.BytesIO()
    assert cli.run(["add", "n1"], out, err) == 0
    assert err.getvalue() == b""


def test_path_too_long(fake: FakeLib) -> None:
    """ENAMETOOLONG at step path_too_long names the joined path."""
    _fail(fake, errno.ENAMETOOLONG, real_lib.NSF_STEP_PATH_TOO_LONG)
    with pytest.raises(NetnsOSError) as info:
        netns_fast.delete("n1", run_dir="/tmp/rd")
    assert info.value.errno == errno.ENAMETOOLONG
    assert info.value.filename == "/tmp/rd/n1"
    assert info.value.step == "path_too_long"


def test_delete_missing(fake: FakeLib) -> None:
    """-ENOENT at unlink: NamespaceNotFoundError, a FileNotFoundError."""
    _fail(fake, errno.ENOENT, real_lib.NSF_STEP_UNLINK_NAME)
    with pytest.raises(FileNotFoundError) as info:
        netns_fast.delete("gone")
    assert type(info.value) is NamespaceNotFoundError
    assert info.value.filename == "/run/netns/gone"
    assert info.value.step == "unlink_name"


def test_delete_busy(fake: FakeLib) -> None:
    """-EBUSY at unlink: NamespaceBusyError."""
    _fail(fake, errno.EBUSY, real_lib.NSF_STEP_UNLINK_NAME)
    with pytest.raises(NamespaceBusyError):
        netns_fast.delete("busy")


def test_success_raises_nothing(fake: FakeLib) -> None:
    """rc 0 means success whatever the step says."""
    fake.step = real_lib.NSF_STEP_CREATE_NAME
    netns_fast.add("a")
    netns_fast.attach("a", 1)
    netns_fast.delete("a")
    assert [c[0] for c in fake.calls] == ["add", "attach", "delete"]


def _outcomes(
    outcomes: Sequence[netns_fast.Outcome],
) -> list[tuple[str, Optional[type[BaseException]]]]:
    return [(o.name, type(o.error) if o.error else None) for o in outcomes]


def test_add_many_outcomes_in_order(fake: FakeLib) -> None:
    """add_many: one Outcome per name, in input order, errors mapped."""
    fake.per_name = {
        b"b": (-errno.EEXIST, real_lib.NSF_STEP_CREATE_NAME),
        b"d": (-errno.EPERM, real_lib.NSF_STEP_BIND),
    }
    out = netns_fast.add_many(["a", "b", "c", "d"], run_dir="/tmp/rd")
    assert _outcomes(out) == [
        ("a", None),
        ("b", NamespaceExistsError),
        ("c", None),
        ("d", NetnsPermissionError),
    ]
    assert [o.ok for o in out] == [True, False, True, False]
    b_err, d_err = out[1].error, out[3].error
    assert b_err is not None
    assert d_err is not None
    assert (b_err.filename, b_err.filename2, b_err.step) == (
        "/tmp/rd/b",
        None,
        "create_name",
    )
    assert (d_err.filename, d_err.filename2, d_err.step) == (
        "/tmp/rd/d",
        "/proc/thread-self/ns/net",
        "bind",
    )
    assert fake.calls == [
        ("add_many", b"/tmp/rd", [b"a", b"b", b"c", b"d"], 0)
    ]


def test_batch_run_dir_failure_names_the_run_dir(fake: FakeLib) -> None:
    """A batch whose run dir cannot be prepared: every name, run dir path."""
    step = real_lib.NSF_STEP_MAKE_SHARED
    fake.per_name = dict.fromkeys((b"a", b"b"), (-errno.EPERM, step))
    out = netns_fast.add_many(["a", "b"], threads=3)
    assert [o.ok for o in out] == [False, False]
    for o in out:
        assert isinstance(o.error, PermissionError)
        assert o.error.filename == "/run/netns"
        assert o.error.step == "make_shared"
    assert fake.calls[0][3] == 3


def test_delete_many_outcomes(fake: FakeLib) -> None:
    """delete_many: missing names fail alone with NamespaceNotFoundError."""
    fake.per_name = {b"x": (-errno.ENOENT, real_lib.NSF_STEP_UNLINK_NAME)}
    out = netns_fast.delete_many(["w", "x", "y"], threads=1)
    assert _outcomes(out) == [
        ("w", None),
        ("x", NamespaceNotFoundError),
        ("y", None),
    ]
    err = out[1].error
    assert err is not None
    assert (err.filename, err.filename2, err.step) == (
        "/run/netns/x",
        None,
        "unlink_name",
    )


def test_batch_that_cannot_start_raises(fake: FakeLib) -> None:
    """A negative batch return (the calling thread's namespace could not
    be saved) is raised at once, at step "open_thread_net"."""
    fake.batch_rc = -errno.EMFILE
    with pytest.raises(NetnsOSError) as info:
        netns_fast.add_many(["a"], run_dir="/tmp/rd")
    assert info.value.errno == errno.EMFILE
    assert info.value.step == "open_thread_net"
    assert info.value.filename == THREAD_NS


def test_empty_batch_calls_nothing(fake: FakeLib) -> None:
    """An empty batch returns [] without calling the core."""
    assert netns_fast.add_many([]) == []
    assert netns_fast.delete_many(iter(())) == []
    assert fake.calls == []


def test_delete_all_deletes_every_entry(fake: FakeLib, tmp_path: Any) -> None:
    """delete_all lists RUN_DIR and deletes every entry in one batch."""
    for name in ("p", "q", "r"):
        (tmp_path / name).touch()
    fake.per_name = {b"q": (-errno.EBUSY, real_lib.NSF_STEP_UNLINK_NAME)}
    out = netns_fast.delete_all(run_dir=str(tmp_path))
    assert sorted(_outcomes(out)) == [
        ("p", None),
        ("q", NamespaceBusyError),
        ("r", None),
    ]
    ((what, run_dir, names, threads),) = fake.calls
    assert (what, run_dir, sorted(names), threads) == (
        "delete_many",
        os.fsencode(tmp_path),
        [b"p", b"q", b"r"],
        0,
    )


def test_delete_all_on_missing_dir(fake: FakeLib, tmp_path: Any) -> None:
    """delete_all of a missing run dir does nothing and returns []."""
    assert netns_fast.delete_all(run_dir=str(tmp_path / "none")) == []
    assert fake.calls == []
