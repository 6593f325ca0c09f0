"""The namespace pool: freshness, threads, back-pressure, shutdown."""

from __future__ import annotations

import os
import threading
import time

import pytest
from farm_helpers import run_threads
from nsft_helpers import RUN_DIR

from netns_fast import Pool
from netns_fast import _lifecycle as api
from netns_fast._handle import Netns, enter, thread_inode
from netns_fast.exceptions import NetnsTimeoutError

pytestmark = pytest.mark.root

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def _mark(ns: Netns) -> str:
    """Read ip_forward inside ns, then set it: a fresh namespace says 0."""
    with enter(ns):
        with open(IP_FORWARD) as f:
            before = f.read().strip()
        with open(IP_FORWARD, "w") as f:
            f.write("1")
    return before


def _take_until_timeout(pool: Pool, timeout: float) -> list[Netns]:
    """Acquire until an acquire times out; return what was taken."""
    taken = []
    while True:
        try:
            taken.append(pool.acquire(timeout=timeout))
        except NetnsTimeoutError:
            return taken
        assert len(taken) < 100


def test_acquire_gives_fresh_namespaces_never_recycled() -> None:
    """Every acquired namespace is new: state set in one never shows up."""
    with Pool(4) as pool:
        inodes = set()
        for _ in range(20):
            with pool.acquire() as ns:
                assert _mark(ns) == "0"
                assert ns.anonymous
                assert ns.inode != thread_inode()
                inodes.add(ns.inode)
        st = pool.stats()
    assert st.acquired == 20
    assert st.released == 20
    assert st.created >= 20


def test_named_pool_hands_out_names_and_removes_them() -> None:
    """A named pool's namespaces live in the run directory until returned."""
    with Pool(2, named=True, prefix="nsft-pool-") as pool:
        ns = pool.acquire()
        assert ns.name is not None
        assert ns.name.startswith("nsft-pool-")
        assert ns.name in api.list_names()
        assert os.stat(f"{RUN_DIR}/{ns.name}").st_ino == ns.inode
        ns.close()
        assert pool.drain(5.0)
        assert ns.name not in api.list_names()
    assert api.list_names() == []


def test_pool_under_concurrent_threads() -> None:
    """8 threads acquire/release at once: no namespace is handed out twice
    at the same time, each is fresh, all are deleted at the end."""
    held: dict[int, int] = {}
    lock = threading.Lock()
    errors: list[str] = []

    def worker(k: int) -> None:
        for _ in range(25):
            with pool.acquire(timeout=30) as ns:
                with lock:
                    if ns.inode in held:
                        errors.append(
                            f"{ns.inode} given to {k} and {held[ns.inode]}"
                        )
                    held[ns.inode] = k
                if _mark(ns) != "0":
                    errors.append(f"{ns.inode} was not fresh")
                with lock:
                    del held[ns.inode]

    with Pool(4, threads=2) as pool:
        run_threads(worker, 8)
        st = pool.stats()
        assert pool.drain(10.0)
    assert errors == []
    assert st.acquired == st.released == 200
    assert st.outstanding == 0


def test_close_with_namespaces_still_out() -> None:
    """close() closes the handles still out, removes their names and fds."""
    fds_before = set(os.listdir("/proc/self/fd"))
    pool = Pool(3, named=True, prefix="nsft-out-")
    out = [pool.acquire() for _ in range(3)]
    names = [ns.name for ns in out]
    assert set(names) <= set(api.list_names())
    base = thread_inode()
    inside = threading.Event()
    leave = threading.Event()
    seen: list[int] = []

    def stay_inside() -> None:
        with enter(out[0]):
            inside.set()
            leave.wait()
            seen.append(thread_inode())
        seen.append(thread_inode())

    t = threading.Thread(target=stay_inside)
    t.start()
    inside.wait()
    pool.close()
    assert all(ns.closed for ns in out)
    assert api.list_names() == []
    with pytest.raises(RuntimeError, match="closed"):
        pool.acquire()
    leave.set()
    t.join()
    # The thread inside kept the namespace alive, then came home.
    assert seen == [out[0].inode, base]
    out[1].close()  # closing again is harmless
    assert set(os.listdir("/proc/self/fd")) <= fds_before | {
        str(fd) for fd in range(3)
    }


def test_backpressure_holds_creation_until_teardown_starts() -> None:
    """With max_pending deleted namespaces whose teardown cannot start
    (pinned by an extra fd), the pool creates no more; once they are
    unpinned, the kernel's RTM_DELNSID lets creation resume."""
    pins: list[int] = []
    with Pool(2, max_pending=3, batch=1, batch_delay=0) as pool:
        assert pool.stats().observing
        for _ in range(3):
            ns = pool.acquire()
            pins.append(os.dup(ns.fileno()))
            ns.close()
        deadline = time.monotonic() + 5
        while pool.stats().pending < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.stats().pending == 3
        # Only what was ready before can still be handed out.
        taken = _take_until_timeout(pool, 0.3)
        assert len(taken) <= 2
        assert pool.stats().throttled > 0
        for ns in taken:
            ns.close()
        for fd in pins:
            os.close(fd)
        pins.clear()
        with pool.acquire(timeout=10) as ns:
            assert _mark(ns) == "0"
        assert pool.drain(10.0)
        st = pool.stats()
        assert st.freed >= 4
        assert st.stuck == 0


def test_pinned_namespaces_age_out_as_stuck() -> None:
    """A deleted namespace held elsewhere counts as stuck after
    stuck_after, so a leaked holder cannot stall the pool."""
    with Pool(
        1, max_pending=1, batch=1, batch_delay=0, stuck_after=0.3
    ) as pool:
        first = pool.acquire()
        pin = os.dup(first.fileno())
        first.close()
        try:
            deadline = time.monotonic() + 5
            while pool.stats().pending < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert pool.stats().pending == 1
            with pool.acquire() as made_before:  # made while backlog was 0
                # The pinned one blocks creation until it ages out.
                with pool.acquire(timeout=10) as after:
                    assert after.inode != made_before.inode
                st = pool.stats()
            assert st.stuck == 1
            assert st.throttled > 0
        finally:
            os.close(pin)


def test_backlog_stays_bounded_over_many_cycles() -> None:
    """300 quick acquire/release cycles: the backlog never passes
    max_pending + size + outstanding."""
    with Pool(4, max_pending=16, batch=8) as pool:
        for _ in range(300):
            pool.acquire(timeout=30).close()
        st = pool.stats()
        assert pool.drain(10.0)
    assert st.observing
    assert st.pending_max <= 16 + 4 + 1


def test_held_fds_are_the_pools() -> None:
    """held_fds lists the fds of ready namespaces (nsfs) and the pool's own."""
    with Pool(2) as pool:
        deadline = time.monotonic() + 5
        while pool.stats().ready < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        targets = [
            os.readlink(f"/proc/self/fd/{fd}") for fd in pool.held_fds()
        ]
        assert sum(t.startswith("net:[") for t in targets) >= 3
    assert pool.held_fds() == frozenset()


def test_forked_child_leaves_the_parents_pool_alone() -> None:
    """In a forked child the pool is closed and closing an inherited
    handle does not delete the parent's namespace."""
    with Pool(2, named=True, prefix="nsft-fork-") as pool:
        ns = pool.acquire()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports by exit code
            code = 3
            try:
                ns.close()
                pool.acquire(timeout=0.1)
            except RuntimeError:
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert ns.name in api.list_names()
        ns.close()
