"""Generated names, and namespaces made under them in the run directory
(the session's private /run/netns)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from typing import TypeVar

import netns_fast
from support.kernel import RUN_DIR
from support.private import _owner

N = TypeVar("N", str, bytes)


def unique_name(prefix: str = "nsft") -> str:
    """A name no other test (or host workload) uses."""
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def owner_tagged(
    kind: str, pid: int, start: int, pidns: int, rest: str
) -> str:
    """A name of the owner form (netns_fast._owner) with these fields."""
    b36 = _owner._base36
    return f"nsf-{kind}-{pid}.{b36(start)}.{b36(pidns)}-{rest}"


def owner_fields() -> tuple[int, int, int]:
    """(pid, start time, pid namespace) of this process as /proc sees it:
    the owner fields of its names."""
    pid = _owner.proc_pid()
    start = _owner.start_time(pid)
    assert start is not None
    return pid, start, _owner.proc_pidns()


def remove(name: str) -> None:
    """Lazily unmount and remove RUN_DIR/name if it is there."""
    path = f"{RUN_DIR}/{name}"
    if os.path.lexists(path):
        subprocess.run(
            ["umount", "-l", path], capture_output=True, check=False
        )
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        else:
            os.unlink(path)


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


def readdir_order(names: Sequence[str]) -> list[str]:
    """names, in the order readdir gives them in RUN_DIR."""
    wanted = set(names)
    return [n for n in os.listdir(RUN_DIR) if n in wanted]
