"""Processes a test starts: inside a namespace (``Spawner``), in a
namespace of their own, or forked children that run a function (as uid
65534, or returning JSON). Every one is killed or reaped by pid."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pickle
import subprocess
import time
from collections.abc import Iterator, Sequence
from typing import Any, Callable, Optional

import pytest

from support.kernel import CLONE_NEWNS, RUN_DIR, cap_eff, libc
from support.tools import IP

NOBODY = 65534


def runs(pid: int, start: Optional[int] = None) -> bool:
    """True if process ``pid`` (started at ``start``, /proc/PID/stat field
    22, if given) runs: it exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    if start is not None and int(fields[19]) != start:
        return False
    return fields[0] not in (b"Z", b"X")


def wait_in_netns(pid: int, name: str, timeout: float = 10.0) -> None:
    """Wait until process pid is in the namespace bound at RUN_DIR/name."""
    want = os.stat(f"{RUN_DIR}/{name}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = os.stat(f"/proc/{pid}/ns/net")
        if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} never entered {name}")


class Spawner:
    """Starts processes (inside a namespace with ``ip netns exec``, which
    execs without forking, so the Popen pid is the command's) and kills
    every one of them by pid at the end (the ``spawner`` fixture)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, argv: Sequence[str], netns: Optional[str] = None
    ) -> subprocess.Popen[bytes]:
        """Start argv (in the namespace named netns if given); its stdout
        is a pipe."""
        full = [IP, "netns", "exec", netns, *argv] if netns else list(argv)
        proc = subprocess.Popen(full, stdout=subprocess.PIPE)
        self.procs.append(proc)
        if netns:
            wait_in_netns(proc.pid, netns)
        return proc

    def sleeper(self, netns: Optional[str] = None) -> int:
        """A process that sleeps until killed; its pid."""
        return self.start(["sleep", "600"], netns).pid

    def kill_all(self) -> None:
        """SIGKILL every started process by pid and reap it."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self.procs.clear()


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


def uid_mapped(uid: int) -> bool:
    """Whether ``uid`` is mapped in this process's user namespace."""
    with open("/proc/self/uid_map") as f:
        for line in f:
            inside, _, count = (int(x) for x in line.split())
            if inside <= uid < inside + count:
                return True
    return False


def run_as_nobody(func: Callable[[], object]) -> tuple[int, object]:
    """Run func in a forked child as uid/gid 65534 with no capabilities.

    Returns (the child's CapEff, func's result or the exception it raised).
    A fork rather than `setpriv ... python`, because the interpreter may sit
    where uid 65534 cannot reach it (e.g. under /root). Skips the test
    where uid 65534 is not mapped (a rootless world maps its caller only).
    """
    if not uid_mapped(NOBODY):
        pytest.skip(
            "uid 65534 is not mapped in this user namespace (a rootless "
            "world maps only its caller)"
        )
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(read_end)
            # A fresh process has no prepared run dir noted: in a mount
            # namespace of its own every mount has a new id, so the core's
            # note (the run dir's mount id) no longer matches.
            if libc.unshare(CLONE_NEWNS) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            try:
                outcome: object = func()
            except BaseException as exc:
                outcome = exc
            data = pickle.dumps((cap_eff(), outcome))
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    caps, outcome = pickle.loads(data)
    return caps, outcome


def in_child(func: Callable[[], Any]) -> Any:
    """Run ``func`` in a forked child; return what it returned (JSON)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            data = json.dumps({"ok": func()})
        except BaseException as exc:
            data = json.dumps({"error": repr(exc)})
        try:
            with os.fdopen(w, "w") as f:
                f.write(data)
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        reply = json.loads(f.read() or '{"error": "no reply"}')
    os.waitpid(pid, 0)
    if "error" in reply:
        raise AssertionError(f"child failed: {reply['error']}")
    return reply["ok"]
