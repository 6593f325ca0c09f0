"""delete(kill=True): the processes inside go first, then the name."""

from __future__ import annotations

import os
import subprocess

import pytest
from nsft_helpers import RUN_DIR

import netns_fast

pytestmark = pytest.mark.root


def test_delete_kill_ends_every_process_inside(fresh_name: str) -> None:
    """delete(kill=True) SIGKILLs the namespace's processes, then deletes."""
    netns_fast.add(fresh_name)
    procs = [
        netns_fast.spawn(fresh_name, ["sleep", "30"], full=False)
        for _ in range(3)
    ]
    outside = subprocess.Popen(["sleep", "30"])
    try:
        assert sorted(netns_fast.pids(fresh_name)) == sorted(
            p.pid for p in procs
        )
        netns_fast.delete(fresh_name, kill=True)
        for p in procs:
            assert p.wait(timeout=5) == -9
        assert fresh_name not in os.listdir(RUN_DIR)
        assert outside.poll() is None  # a process elsewhere is untouched
    finally:
        outside.kill()
        outside.wait()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_delete_without_kill_leaves_processes_running(
    fresh_name: str,
) -> None:
    """Plain delete (like ip) removes the name; the process lives on."""
    netns_fast.add(fresh_name)
    proc = netns_fast.spawn(fresh_name, ["sleep", "30"], full=False)
    try:
        netns_fast.delete(fresh_name)
        assert proc.poll() is None
        assert fresh_name not in os.listdir(RUN_DIR)
    finally:
        proc.kill()
        proc.wait()


def test_delete_kill_of_a_stale_entry_removes_it(fresh_name: str) -> None:
    """A stale file has no processes: delete(kill=True) just removes it."""
    fd = os.open(f"{RUN_DIR}/{fresh_name}", os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    netns_fast.delete(fresh_name, kill=True)
    assert fresh_name not in os.listdir(RUN_DIR)


def test_delete_kill_of_a_missing_name_raises(fresh_name: str) -> None:
    """A missing name raises FileNotFoundError before anything is killed."""
    with pytest.raises(FileNotFoundError) as info:
        netns_fast.delete(fresh_name, kill=True)
    assert info.value.filename == f"{RUN_DIR}/{fresh_name}"
