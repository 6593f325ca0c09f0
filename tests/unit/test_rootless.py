"""Rootless without privilege: why a private world cannot be made (a fake
/proc/sys), the single-threaded check, the CLI verb's parsing and
wording, the error classes of its steps."""

from __future__ import annotations

import errno
import io
import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional, TypeVar

import pytest

import netns_fast
from netns_fast import cli
from netns_fast.exceptions import NamespaceLimitError, error_for
from support.private import _sys, cli_rootless, rootless
from support.processes import in_child

T = TypeVar("T")

# -- explain: the cause and the setting to change -----------------------------


def _proc_sys(tmp_path: Path, **values: str) -> str:
    """A fake /proc/sys: each keyword (dots as "__") a sysctl file."""
    root = tmp_path / "sys"
    for key, value in values.items():
        path = root.joinpath(*key.split("__"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
    root.mkdir(exist_ok=True)
    return str(root)


def _status(tmp_path: Path, seccomp: int) -> str:
    path = tmp_path / "status"
    path.write_text(f"Name:\tpython\nSeccomp:\t{seccomp}\nCpus:\t3\n")
    return str(path)


def _explain(
    tmp_path: Path, err: int, step: str, seccomp: int = 0, **sysctls: str
) -> Optional[str]:
    return rootless.explain(
        err,
        step,
        sysctl_dir=_proc_sys(tmp_path, **sysctls),
        status=_status(tmp_path, seccomp),
    )


def test_max_user_namespaces_zero(tmp_path: Path) -> None:
    """ENOSPC from unshare(CLONE_NEWUSER) with user.max_user_namespaces 0
    says that they are disabled and how to allow them."""
    why = _explain(
        tmp_path, errno.ENOSPC, "unshare_user", user__max_user_namespaces="0"
    )
    assert why is not None
    assert "user.max_user_namespaces is 0" in why
    assert "sysctl -w user.max_user_namespaces=" in why


def test_max_user_namespaces_reached(tmp_path: Path) -> None:
    """ENOSPC below a non-zero limit names the limit (or the depth)."""
    why = _explain(
        tmp_path, errno.ENOSPC, "unshare_user", user__max_user_namespaces="7"
    )
    assert why is not None
    assert "user.max_user_namespaces (7)" in why
    assert "nesting depth" in why


def test_unprivileged_userns_clone_zero(tmp_path: Path) -> None:
    """EPERM with Debian's kernel.unprivileged_userns_clone at 0 names
    that sysctl, whatever else is set."""
    why = _explain(
        tmp_path,
        errno.EPERM,
        "unshare_user",
        seccomp=2,
        kernel__unprivileged_userns_clone="0",
        kernel__apparmor_restrict_unprivileged_userns="1",
    )
    assert why is not None
    assert "kernel.unprivileged_userns_clone is 0" in why
    assert "sysctl -w kernel.unprivileged_userns_clone=1" in why


@pytest.mark.parametrize(
    ("err", "step"),
    [
        (errno.EPERM, "unshare_user"),
        (errno.EPERM, "uid_map"),
        (errno.EPERM, "setgroups"),
        (errno.EACCES, "mount_tmpfs"),
        (errno.EPERM, "unshare_net"),
    ],
)
def test_apparmor_restriction(tmp_path: Path, err: int, step: str) -> None:
    """With Ubuntu's AppArmor restriction on, a refusal at the unshare or
    at any step inside the new user namespace names the sysctl and the
    profile way out."""
    why = _explain(
        tmp_path,
        err,
        step,
        kernel__unprivileged_userns_clone="1",
        kernel__apparmor_restrict_unprivileged_userns="1",
    )
    assert why is not None
    assert "kernel.apparmor_restrict_unprivileged_userns is 1" in why
    assert "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in why
    assert "userns," in why


def test_seccomp_filter(tmp_path: Path) -> None:
    """EPERM at the unshare under a seccomp filter, with no sysctl to
    blame, says a seccomp filter refused it (a container's profile)."""
    why = _explain(tmp_path, errno.EPERM, "unshare_user", seccomp=2)
    assert why is not None
    assert "seccomp filter" in why
    assert "unshare(CLONE_NEWUSER)" in why


def test_no_known_cause(tmp_path: Path) -> None:
    """EPERM with nothing to blame says an LSM or the runtime forbids it;
    a step with nothing more to say gives None."""
    why = _explain(tmp_path, errno.EPERM, "unshare_user")
    assert why is not None
    assert "forbids them here" in why
    assert _explain(tmp_path, errno.EPERM, "uid_map") is None
    assert _explain(tmp_path, errno.EBUSY, "mount_tmpfs") is None


def test_no_user_namespaces_in_the_kernel(tmp_path: Path) -> None:
    """EINVAL from the unshare means a kernel without user namespaces."""
    why = _explain(tmp_path, errno.EINVAL, "unshare_user")
    assert why is not None
    assert "CONFIG_USER_NS" in why


def test_net_namespace_limit(tmp_path: Path) -> None:
    """ENOSPC at the home's unshare names user.max_net_namespaces."""
    why = _explain(
        tmp_path, errno.ENOSPC, "unshare_net", user__max_net_namespaces="0"
    )
    assert why == "the limit user.max_net_namespaces (0) is reached"


def test_read_sysctl_missing(tmp_path: Path) -> None:
    """A sysctl this kernel lacks reads as None, not an error."""
    assert rootless.read_sysctl("kernel.nope", str(tmp_path)) is None


def test_enospc_at_unshare_user_is_a_limit_error() -> None:
    """ENOSPC at unshare_user is a NamespaceLimitError, as at
    unshare_net; elsewhere it stays a plain error."""
    assert isinstance(
        error_for(errno.ENOSPC, "unshare_user"), NamespaceLimitError
    )
    assert not isinstance(
        error_for(errno.ENOSPC, "mount_tmpfs"), NamespaceLimitError
    )


# -- the single-threaded check ------------------------------------------------


def _with_a_thread(func: Callable[[], T]) -> T:
    """func() while a second thread waits."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        return func()
    finally:
        stop.set()
        thread.join()


def test_refused_with_other_threads() -> None:
    """With a second thread running (in a forked child: exactly two),
    unshare_rootless raises EINVAL at step "threads" naming the count,
    and changes nothing."""

    def child() -> list[object]:
        user_ns = os.stat("/proc/thread-self/ns/user").st_ino
        try:
            _with_a_thread(netns_fast.unshare_rootless)
        except netns_fast.NetnsOSError as exc:
            same = os.stat("/proc/thread-self/ns/user").st_ino == user_ns
            return [exc.errno, exc.step, str(exc), same]
        return ["made"]

    err, step, text, same = in_child(child)
    assert (err, step, same) == (errno.EINVAL, "threads", True)
    assert "the process has 2 threads" in text
    assert "single-threaded" in text


def test_thread_count_counts_threads() -> None:
    """The C count of /proc/thread-self/.. follows threads coming and
    going (in a forked child, which starts with one; a joined thread's
    task may linger in /proc for a moment)."""

    def settled() -> int:
        deadline = time.monotonic() + 5
        while _sys.thread_count() != 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        return _sys.thread_count()

    def child() -> list[int]:
        return [
            _sys.thread_count(),
            _with_a_thread(_sys.thread_count),
            settled(),
        ]

    assert in_child(child) == [1, 2, 1]


# -- the CLI verb -------------------------------------------------------------


def _cli(*argv: str) -> tuple[bytes, bytes, int]:
    out, err = io.BytesIO(), io.BytesIO()
    code = cli.run(list(argv), out, err)
    return out.getvalue(), err.getvalue(), code


@pytest.mark.parametrize("argv", [["rootless"], ["rootless", "--"]])
def test_rootless_without_a_command(argv: list[str]) -> None:
    """No command: "No command specified", exit 1, no world made."""
    assert _cli(*argv) == (b"", b"No command specified\n", 1)


def test_rootless_arguments_are_a_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command with a "/" is not taken for a bad name (ip's check is for
    names); a world that cannot be made is worded with what was tried and
    why, exit 1."""

    def refused(**kwargs: object) -> None:
        exc = error_for(errno.ENOSPC, "unshare_user")
        exc.strerror = "No space left on device: user.max_user_namespaces is 0"
        raise exc

    monkeypatch.setattr(rootless, "unshare_rootless", refused)
    assert _cli("rootless", "./script.sh") == (
        b"",
        b"Cannot make a private world: unshare(CLONE_NEWUSER) failed: "
        b"No space left on device: user.max_user_namespaces is 0\n",
        1,
    )


def test_rootless_refused_in_batch_mode(tmp_path: Path) -> None:
    """rootless in a batch file would end the batch: refused, exit 1."""
    batch = tmp_path / "b"
    batch.write_text("rootless true\n")
    _, err, code = _cli("-b", str(batch))
    assert b"rootless is not available in batch mode" in err
    assert code == 1


@pytest.mark.parametrize(
    ("step", "path", "tried"),
    [
        ("uid_map", "/proc/thread-self/uid_map", b'the write of "/proc/'),
        ("mount_tmpfs", "/run/netns", b'mount of a tmpfs on "/run/netns"'),
        ("move_mount", "/run/dbus", b'the bind of "/run/dbus"'),
        ("threads", "/proc/thread-self/..", b"single-threaded check"),
    ],
)
def test_world_failed_wording(step: str, path: str, tried: bytes) -> None:
    """Each step's failure names what was tried and the path involved."""
    message = cli_rootless.world_failed(error_for(errno.EPERM, step, path))
    assert message.startswith(b"Cannot make a private world: ")
    assert tried in message
    assert message.endswith(b" failed: Operation not permitted")


def test_help_line() -> None:
    """The verb's line for netns-fast help, in ip's usage layout."""
    assert cli_rootless.HELP == b"\tnetns-fast rootless [--] cmd ...\n"
