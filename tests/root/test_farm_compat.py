"""netns_fast.compat.pyroute2_netns on its own (needs root).

The comparisons with pyroute2.netns are in test_compat_pyroute2.py.
"""

from __future__ import annotations

import fcntl
import os

import pytest
from farm_helpers import run_threads
from nsft_helpers import RUN_DIR, unique_name

from netns_fast.compat import pyroute2_netns as compat

pytestmark = pytest.mark.root

SIOCGSKNS = 0x894C


def test_pushns_popns_are_per_thread() -> None:
    """8 threads x 100 pushns/popns each return to their own namespace
    (pyroute2's process-wide stack restores the main thread's)."""
    names = [unique_name() for _ in range(8)]
    errors: list[str] = []
    for name in names:
        compat.create(name)

    def worker(k: int) -> None:
        compat.setns(names[k])  # this thread lives in its own namespace
        mine = os.stat("/proc/thread-self/ns/net").st_ino
        other = names[(k + 1) % len(names)]
        for i in range(100):
            compat.pushns(other)
            compat.popns()
            if os.stat("/proc/thread-self/ns/net").st_ino != mine:
                errors.append(f"thread {k} round {i}")
                return

    try:
        run_threads(worker, 8)
    finally:
        for name in names:
            compat.remove(name)
    assert errors == []


def test_create_does_not_fork_and_keeps_the_thread(fresh_name: str) -> None:
    """create() runs in-process and leaves the calling thread where it was."""
    before = os.stat("/proc/thread-self/ns/net").st_ino
    children_before = set(os.listdir("/proc/self/task"))
    compat.create(fresh_name)
    assert os.stat("/proc/thread-self/ns/net").st_ino == before
    assert set(os.listdir("/proc/self/task")) == children_before
    assert fresh_name in compat.listnetns()
    compat.remove(fresh_name)
    assert not os.path.exists(f"{RUN_DIR}/{fresh_name}")


def test_create_socket_in_namespace(fresh_name: str) -> None:
    """create_socket makes the socket inside the named namespace."""
    compat.create(fresh_name)
    try:
        with compat.create_socket(fresh_name) as s:
            nsfd = fcntl.ioctl(s, SIOCGSKNS)  # the socket's namespace
            try:
                got = os.fstat(nsfd).st_ino
            finally:
                os.close(nsfd)
        assert got == os.stat(f"{RUN_DIR}/{fresh_name}").st_ino
        with pytest.raises(TypeError):
            compat.create_socket(fresh_name, fileno=3)
    finally:
        compat.remove(fresh_name)
