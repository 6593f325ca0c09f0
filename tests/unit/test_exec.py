"""exec / -n / spawn pieces that need no privilege: messages, argument
checks, the VRF path rules, and the error mapping at the C boundary."""

from __future__ import annotations

import errno
import io
from pathlib import Path
from typing import Optional

import pytest

import netns_fast
from netns_fast import cli
from netns_fast.exceptions import (
    NamespaceNotFoundError,
    NotANamespaceError,
    error_for,
)
from support.private import _names, _sys, _vrf, cli_ctx, cli_exec


def _cli(argv: list[str]) -> tuple[bytes, bytes, int]:
    out, err = io.BytesIO(), io.BytesIO()
    code = cli.run(argv, out, err)
    return out.getvalue(), err.getvalue(), code


# -- CLI argument errors --------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message", "code"),
    [
        (["exec"], b"No netns name specified\n", 1),
        (["exec", "x"], b"No command specified\n", 1),
        (["-all", "exec"], b"No command specified\n", 1),
        (["exec", "a/b", "true"], b'Invalid netns name "a/b"\n', 255),
    ],
)
def test_exec_argument_errors(
    argv: list[str], message: bytes, code: int
) -> None:
    """exec's argument checks come before anything is touched."""
    assert _cli(argv) == (b"", message, code)


def test_bare_netns_option() -> None:
    """A bare -n is ip's NULL name: "(null)" and ENOENT, exit 255."""
    assert _cli(["-n"]) == (
        b"",
        b'Cannot open network namespace "(null)": No such file or directory\n',
        255,
    )


# -- messages ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "err", "message"),
    [
        ("open_ns", errno.ENOENT, b'Cannot open network namespace "N": '),
        (
            "path_too_long",
            errno.ENAMETOOLONG,
            b'Cannot open network namespace "N": ',
        ),
        (
            "setns_net",
            errno.EINVAL,
            b'setting the network namespace "N" failed: ',
        ),
        ("unshare_mnt", errno.EPERM, b"unshare failed: "),
        ("make_rslave", errno.EPERM, b'"mount --make-rslave /" failed: '),
        ("mount_sysfs", errno.EPERM, b"mount of /sys failed: "),
        ("exec", errno.ENOENT, b'exec of "cmd" failed: '),
        ("fork", errno.EAGAIN, b"fork: "),
    ],
)
def test_setup_messages(step: str, err: int, message: bytes) -> None:
    """Each failing step is worded as iproute2 words it."""
    exc = error_for(err, step)
    text = cli_exec.setup_message(exc, b"N", b"cmd")
    assert text == message + cli_ctx.strerror(err)


@pytest.mark.parametrize(
    ("step", "err", "cls", "filename"),
    [
        ("SETNS_NET", errno.EINVAL, NotANamespaceError, "/run/netns/N"),
        ("OPEN_NS", errno.ENOENT, FileNotFoundError, "/run/netns/N"),
        ("PATH_TOO_LONG", errno.ENAMETOOLONG, OSError, "/run/netns/N"),
        ("EXEC", errno.ENOENT, FileNotFoundError, "prog"),
        ("CHDIR", errno.ENOTDIR, NotADirectoryError, "/x"),
        ("FORK", errno.EAGAIN, BlockingIOError, None),
        ("MOUNT_SYSFS", errno.EPERM, PermissionError, None),
    ],
)
def test_exec_error_mapping(
    step: str, err: int, cls: type, filename: Optional[str]
) -> None:
    """A spawn request's C steps become the right classes and filenames."""
    request = _sys.SpawnRequest(b"/run/netns", b"N", [b"prog"], 0, cwd=b"/x")
    exc = request.error(-err, getattr(_sys.lib, "NSF_STEP_" + step))
    assert isinstance(exc, cls)
    assert (exc.step, exc.filename) == (step.lower(), filename)


# -- the CLI around a failing C call (faked at the _sys boundary) ---------


def test_exec_in_place_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed exec without fork exits 1, a failed set-up 255."""

    def fail(step: str, err: int) -> None:
        def fake(request: _sys.SpawnRequest) -> None:
            raise error_for(err, step, "x")

        monkeypatch.setattr(_sys, "exec_here", fake)

    fail("exec", errno.ENOENT)
    assert _cli(["exec", "N", "cmd"]) == (
        b"",
        b'exec of "cmd" failed: No such file or directory\n',
        1,
    )
    fail("open_ns", errno.ENOENT)
    assert _cli(["exec", "N", "cmd"]) == (
        b"",
        b'Cannot open network namespace "N": No such file or directory\n',
        255,
    )


def test_batch_exec_failure_exits_the_child(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In a batch a failed child set-up fails its line once, with 1."""
    calls: list[bytes] = []

    def fake(request: _sys.SpawnRequest) -> int:
        calls.append(request.name)
        raise NamespaceNotFoundError(errno.ENOENT, None, "x", "open_ns")

    monkeypatch.setattr(_sys, "spawn", fake)
    batch = tmp_path / "b"
    batch.write_text("exec A true\nexec B true\n")
    out, err, code = _cli(["-force", "-b", str(batch)])
    assert (out, code, calls) == (b"", 1, [b"A", b"B"])
    assert err.count(b"Command failed") == 2


def test_fork_failure_ends_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """clone failing is ip's perror("fork") and exit(1)."""

    def fake(request: _sys.SpawnRequest) -> int:
        raise error_for(errno.EAGAIN, "fork")

    monkeypatch.setattr(_sys, "spawn", fake)
    batch = tmp_path / "b"
    batch.write_text("exec A true\nexec B true\n")
    assert _cli(["-force", "-b", str(batch)]) == (
        b"",
        b"fork: Resource temporarily unavailable\n",
        1,
    )


# -- spawn's argument checks --------------------------------------------------


def test_spawn_rejects_bad_arguments() -> None:
    """Bad names (a "/" makes a path, not a bad name), empty argv and NUL
    bytes fail before any clone."""
    for bad in ("..", "", "x" * 256):
        with pytest.raises(netns_fast.InvalidNameError):
            netns_fast.spawn(bad, ["true"])
    with pytest.raises(ValueError, match="empty"):
        netns_fast.spawn("x", [])
    with pytest.raises(ValueError, match="null byte"):
        netns_fast.run("x", ["true", "a\0b"])
    with pytest.raises(ValueError, match="empty"):
        _sys.SpawnRequest(b"/run/netns", b"x", [], 0)
    with pytest.raises(ValueError, match="capture_output"):
        netns_fast.run("x", ["true"], capture_output=True, stdout=1)


def test_lazy_exports() -> None:
    """spawn, run and Process are exported from the package."""
    assert netns_fast.Process.__module__ == "netns_fast._spawn"
    assert {"Process", "run", "spawn"} <= set(netns_fast.__all__)
    with pytest.raises(AttributeError):
        _ = netns_fast.no_such_thing  # type: ignore[attr-defined]


# -- VRF reset rules --------------------------------------------------------

MOUNTS = (
    b"sysfs /sys sysfs rw 0 0\ncgroup2 /sys/fs/cgroup\\040x cgroup2 rw 0 0\n"
)


def test_vrf_name() -> None:
    """The VRF is read from the controller-less cgroup line only."""
    assert _vrf.vrf_name(b"0::/\n") == b""
    assert _vrf.vrf_name(b"1:cpu:/vrf/red\n0::/\n") == b""
    assert _vrf.vrf_name(b"1:cpu:/\n0::/user/vrf/red\n") == b"red"


def test_no_vrf_no_reset() -> None:
    """Outside a VRF, or without a cgroup2 mount, nothing is reset."""
    assert _vrf.default_vrf_dir(b"0::/user\n", MOUNTS, b"") is None
    assert _vrf.default_vrf_dir(b"0::/vrf/red\n", b"", b"") is None


def test_default_vrf_dir() -> None:
    """vrf_switch("default"): MNT + base path + [NETNS-ns/] + vrf/."""
    mnt = b"/sys/fs/cgroup x"
    assert _vrf.cgroup2_mount(MOUNTS) == mnt
    assert (
        _vrf.default_vrf_dir(b"0::/vrf/red\n", MOUNTS, b"") == mnt + b"/vrf/"
    )
    assert (
        _vrf.default_vrf_dir(b"0::/a/b/vrf/red\n", MOUNTS, b"")
        == mnt + b"/a/b/vrf/"
    )
    assert (
        _vrf.default_vrf_dir(b"0::/a/vrf/red\n", MOUNTS, b"ns1")
        == mnt + b"/a/ns1-ns/vrf/"
    )
    # a base path that already ends in the namespace is not doubled
    assert (
        _vrf.default_vrf_dir(b"0::/a/ns1-ns/vrf/red\n", MOUNTS, b"ns1")
        == mnt + b"/a//ns1-ns/vrf/"
    )


def test_str_argv_and_namespace_kinds() -> None:
    """A str, bytes or path argv is one program (never its characters);
    a "/" or a path object makes a path, a bare word a name."""
    from pathlib import Path

    from support.private import spawn

    assert spawn._argv("ip link") == ["ip link"]
    assert spawn._argv(b"ip") == [b"ip"]
    assert spawn._argv(Path("/bin/true")) == [Path("/bin/true")]
    assert spawn._argv(("a", "b")) == ["a", "b"]
    assert _names.is_path("/run/netns/x")
    assert _names.is_path(b"./x")
    assert _names.is_path(Path("x"))
    assert not _names.is_path("x")
    assert not _names.is_path(3)


def test_missing_program_or_cwd_class() -> None:
    """ENOENT at exec or chdir is NetnsFileNotFoundError (a
    FileNotFoundError), never NamespaceNotFoundError; at open_ns it is
    NamespaceNotFoundError."""
    for step in ("exec", "chdir"):
        exc = error_for(errno.ENOENT, step, "prog")
        assert type(exc) is netns_fast.NetnsFileNotFoundError
        assert isinstance(exc, FileNotFoundError)
        assert not isinstance(exc, NamespaceNotFoundError)
    assert type(error_for(errno.ENOENT, "open_ns")) is NamespaceNotFoundError
