"""Helpers for the pids / identify / monitor tests (imported as
``procs_helpers``): processes started inside a namespace, killed by pid.

Test modules import the fixtures ``spawner`` and ``netns`` by their
function names (spawner_fixture, netns_fixture)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from typing import Optional

import pytest
from nsft_helpers import IP, RUN_DIR

import netns_fast


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
    every one of them by pid at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, argv: Sequence[str], netns: Optional[str] = None
    ) -> subprocess.Popen[bytes]:
        """Start argv (in netns if given); its stdout is a pipe."""
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


def readdir_order(names: Sequence[str]) -> list[str]:
    """names, in the order readdir gives them in RUN_DIR."""
    wanted = set(names)
    return [n for n in os.listdir(RUN_DIR) if n in wanted]


@pytest.fixture(name="spawner")
def spawner_fixture() -> Iterator[Spawner]:
    """Processes started by the test, all killed by pid afterwards."""
    spawn = Spawner()
    try:
        yield spawn
    finally:
        spawn.kill_all()


@pytest.fixture(name="netns")
def netns_fixture(fresh_name: str) -> str:
    """A namespace added for the test (removed by fresh_name's cleanup)."""
    netns_fast.add(fresh_name)
    return fresh_name
