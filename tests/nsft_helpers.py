"""Helpers shared by the tests (imported as ``nsft_helpers``)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import Callable, Optional, Union

import pytest

RUN_DIR = "/run/netns"


def unique_name(prefix: str = "nsft") -> str:
    """A name no other test (or host workload) uses."""
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


IP = shutil.which("ip") or "/usr/sbin/ip"
HAVE_IP = os.path.exists(IP)


def cli_argv() -> list[str]:
    """How to start netns-fast: this interpreter, this checkout."""
    return [sys.executable, "-m", "netns_fast"]


def _env() -> dict[str, str]:
    import netns_fast

    env = dict(os.environ)
    env["LC_ALL"] = "C"
    # The subprocess imports the same netns_fast as this process.
    where = os.path.dirname(os.path.dirname(netns_fast.__file__))
    env["PYTHONPATH"] = where + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_ip(
    args: Sequence[Union[str, bytes]], stdin: Optional[bytes] = None
) -> subprocess.CompletedProcess[bytes]:
    """``ip ARGS`` (pass "netns" yourself), capturing bytes."""
    return subprocess.run(
        [IP, *args],
        input=stdin,
        capture_output=True,
        env=_env(),
        check=False,
        timeout=60,
    )


def run_cli(
    args: Sequence[Union[str, bytes]], stdin: Optional[bytes] = None
) -> subprocess.CompletedProcess[bytes]:
    """``netns-fast ARGS``, capturing bytes."""
    return subprocess.run(
        [*cli_argv(), *args],
        input=stdin,
        capture_output=True,
        env=_env(),
        check=False,
        timeout=60,
    )


@contextlib.contextmanager
def sleeper_in_own_netns() -> Iterator[int]:
    """The pid of a sleeping process in a network namespace of its own
    (killed and reaped at the end)."""
    proc = subprocess.Popen(
        ["unshare", "-n", "sh", "-c", "echo ready; exec sleep 600"],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    proc.stdout.close()
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def ip_to_cli(data: bytes) -> bytes:
    """ip's self-references as netns-fast words them."""
    return (
        data.replace(b"ip [-all] netns ", b"netns-fast [-all] ")
        .replace(b"ip netns help", b"netns-fast help")
        .replace(b"ip netns ", b"netns-fast ")
        .replace(b'try "ip -help"', b'try "netns-fast -help"')
    )


requires_ip = pytest.mark.skipif(
    not HAVE_IP,
    reason="iproute2's ip is not installed (apt-get install iproute2)",
)


# -- capabilities of the calling thread (capget/capset) -----------------------

_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_libc = ctypes.CDLL(None, use_errno=True)


class CapHeader(ctypes.Structure):
    """struct __user_cap_header_struct."""

    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class CapData(ctypes.Structure):
    """struct __user_cap_data_struct (two of them: capabilities 0-63)."""

    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def update_capabilities(
    change: Callable[[ctypes.Array[CapData]], None],
) -> None:
    """capget the calling thread's capabilities, let change() edit them,
    capset them back; OSError if either call fails."""
    header = CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    if _libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    change(data)
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
