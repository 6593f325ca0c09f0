"""The API from many Python threads at once, and fd hygiene (root)."""

from __future__ import annotations

import os
import threading

import pytest

import netns_fast
from netns_fast import NamespaceExistsError, NamespaceNotFoundError
from support.kernel import (
    RUN_DIR,
    fd_count,
    has_one_nsfs_mount,
    ns_inode,
    run_threads,
    thread_netns,
)
from support.names import unique_name

pytestmark = pytest.mark.root

THREADS = 8
PER_THREAD = 5


@pytest.fixture
def grid(name_factory: list[str]) -> list[list[str]]:
    """THREADS x PER_THREAD generated names, cleaned up afterwards."""
    names = [
        [unique_name() for _ in range(PER_THREAD)] for _ in range(THREADS)
    ]
    name_factory.extend(n for row in names for n in row)
    return names


def test_add_delete_from_many_threads(grid: list[list[str]]) -> None:
    """8 threads add and delete at once; each ends in its own netns."""
    start = thread_netns()
    seen: dict[int, tuple[int, int, int]] = {}
    barrier = threading.Barrier(THREADS + 1, timeout=60)

    def work(i: int) -> None:
        before = thread_netns()
        barrier.wait()  # all start together
        for name in grid[i]:
            netns_fast.add(name)
        middle = thread_netns()
        barrier.wait()  # the main thread checks every name
        barrier.wait()
        for name in grid[i]:
            netns_fast.delete(name)
        seen[i] = (before, middle, thread_netns())

    def main_side() -> None:
        barrier.wait()
        barrier.wait()
        every = [n for row in grid for n in row]
        inodes = {ns_inode(f"{RUN_DIR}/{n}") for n in every}
        assert len(inodes) == len(every)
        assert start not in inodes
        assert all(has_one_nsfs_mount(f"{RUN_DIR}/{n}") for n in every)
        barrier.wait()

    run_threads(work, THREADS, barrier=barrier, meanwhile=main_side)
    assert seen == dict.fromkeys(range(THREADS), (start, start, start))
    assert thread_netns() == start
    for name in (n for row in grid for n in row):
        assert not os.path.lexists(f"{RUN_DIR}/{name}")


def test_add_many_from_many_threads(grid: list[list[str]]) -> None:
    """Concurrent add_many/delete_many calls from 4 threads all succeed."""
    start = thread_netns()
    rows = grid[:4]
    barrier = threading.Barrier(len(rows), timeout=60)
    seen: dict[int, tuple[int, int]] = {}

    def work(i: int) -> None:
        before = thread_netns()
        barrier.wait()
        added = netns_fast.add_many(rows[i], threads=2)
        assert [o.name for o in added] == rows[i]
        assert all(o.ok for o in added), added
        assert all(has_one_nsfs_mount(f"{RUN_DIR}/{n}") for n in rows[i])
        barrier.wait()
        deleted = netns_fast.delete_many(rows[i], threads=2)
        assert all(o.ok for o in deleted), deleted
        seen[i] = (before, thread_netns())

    run_threads(work, len(rows), barrier=barrier)
    assert seen == dict.fromkeys(range(len(rows)), (start, start))
    for name in (n for row in rows for n in row):
        assert not os.path.lexists(f"{RUN_DIR}/{name}")


def test_no_fd_leak(name_factory: list[str]) -> None:
    """1000 mixed good and failing operations leave the fd count as is."""
    taken = unique_name()
    name_factory.append(taken)
    netns_fast.add(taken)
    start = thread_netns()
    before = fd_count()
    ops = 0
    for _ in range(200):
        name, other = unique_name(), unique_name()
        name_factory.extend([name, other])
        netns_fast.add(name)
        with pytest.raises(NamespaceExistsError):
            netns_fast.add(name)
        with pytest.raises(NamespaceNotFoundError):
            netns_fast.delete(unique_name())
        out = netns_fast.add_many([other, taken], threads=2)
        assert [o.ok for o in out] == [True, False]
        out = netns_fast.delete_many([name, other], threads=1)
        assert all(o.ok for o in out)
        ops += 5
    assert ops == 1000
    assert fd_count() == before
    assert thread_netns() == start
    netns_fast.delete(taken)
