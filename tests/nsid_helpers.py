"""Helpers for the nsid tests (imported as ``nsid_helpers``).

nsids belong to the namespace that assigns them, so the nsid tests never
use the host's network namespace as the caller: ip and netns-fast run under
``nsenter --net`` in a private "caller" namespace made for the test (the
mount namespace, with the session's private /run/netns, is unchanged). The
API is called from a thread that entered such a caller (see in_netns).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from typing import Callable, Optional, TypeVar, Union

from nsft_helpers import IP, RUN_DIR, cli_argv, ip_to_cli, unique_name

import netns_fast

NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
CLONE_NEWNET = 0x40000000

Arg = Union[str, bytes]
Result = subprocess.CompletedProcess[bytes]
T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)


def env() -> dict[str, str]:
    """LC_ALL=C and this checkout's netns_fast first on the path."""
    where = os.path.dirname(os.path.dirname(netns_fast.__file__))
    out = dict(os.environ)
    out["LC_ALL"] = "C"
    out["PYTHONPATH"] = where + os.pathsep + out.get("PYTHONPATH", "")
    out.pop("NETNS_RUN_DIR", None)
    return out


def run(
    caller: Optional[str],
    argv: Sequence[Arg],
    stdin: Optional[bytes] = None,
    prefix: Sequence[Arg] = (),
) -> Result:
    """argv from inside the caller netns (None: this process's netns)."""
    enter: list[Arg] = []
    if caller is not None:
        enter = [NSENTER, f"--net={RUN_DIR}/{caller}", "--"]
    return subprocess.run(
        [*enter, *prefix, *argv],
        input=stdin,
        capture_output=True,
        env=env(),
        check=False,
        timeout=60,
        cwd="/",
    )


def ip(
    caller: Optional[str], args: Sequence[Arg], stdin: Optional[bytes] = None
) -> Result:
    """``ip ARGS`` (pass "netns" yourself) from the caller netns."""
    return run(caller, [IP, *args], stdin)


def cli(
    caller: Optional[str], args: Sequence[Arg], stdin: Optional[bytes] = None
) -> Result:
    """``netns-fast ARGS`` from the caller netns."""
    return run(caller, [*cli_argv(), *args], stdin)


def ok(res: Result) -> Result:
    """Assert a setup command worked."""
    assert res.returncode == 0, (res.args, res.stdout, res.stderr)
    return res


def same(ip_res: Result, cli_res: Result) -> None:
    """stdout, stderr and exit code byte for byte (ip's self-references
    worded as netns-fast's)."""
    assert cli_res.stderr == ip_to_cli(ip_res.stderr)
    assert cli_res.stdout == ip_res.stdout
    assert cli_res.returncode == ip_res.returncode
    assert b"Traceback" not in cli_res.stderr


def netns_args(args: Sequence[Arg]) -> tuple[list[Arg], list[Arg]]:
    """ip's argv and netns-fast's for the same ``[OPTIONS] netns ...``."""
    ip_args = list(args)
    cli_args = [a for a in args if a not in ("netns", b"netns")]
    return ip_args, cli_args


def remove(name: str) -> None:
    """Lazily unmount and unlink RUN_DIR/name if it is there."""
    path = f"{RUN_DIR}/{name}"
    if os.path.lexists(path):
        subprocess.run(
            ["umount", "-l", path], capture_output=True, check=False
        )
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        else:
            os.unlink(path)


N = TypeVar("N", str, bytes)


@contextlib.contextmanager
def named(names: list[N]) -> Iterator[list[N]]:
    """New namespaces with these names, removed afterwards."""
    try:
        for name in names:
            netns_fast.add(name)
        yield names
    finally:
        for name in names:
            remove(os.fsdecode(name))


def made(*prefixes: str) -> contextlib.AbstractContextManager[list[str]]:
    """New namespaces (one per prefix, generated names)."""
    return named([unique_name(p) for p in prefixes])


def in_netns(caller: str, func: Callable[[], T]) -> T:
    """func() in a new thread that entered the caller netns first.

    The thread ends afterwards, so no thread is left elsewhere.
    """
    box: dict[str, object] = {}

    def body() -> None:
        try:
            fd = os.open(f"{RUN_DIR}/{caller}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            finally:
                os.close(fd)
            box["value"] = func()
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
