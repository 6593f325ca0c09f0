"""The namespace pool: freshness, threads, back-pressure, shutdown; and
the pool of pre-wired topologies."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time

import pytest

import netns_fast
from netns_fast import Netns, Network, Pool, Topology, enter
from netns_fast.exceptions import NetnsTimeoutError
from support.kernel import RUN_DIR, fd_count, run_threads
from support.net import ping
from support.private import handle

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
                assert ns.inode != handle.thread_inode()
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
        assert ns.name in netns_fast.list_names()
        assert os.stat(f"{RUN_DIR}/{ns.name}").st_ino == ns.inode
        ns.close()
        assert pool.drain(5.0)
        assert ns.name not in netns_fast.list_names()
    assert netns_fast.list_names() == []


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
    assert set(names) <= set(netns_fast.list_names())
    base = handle.thread_inode()
    inside = threading.Event()
    leave = threading.Event()
    seen: list[int] = []

    def stay_inside() -> None:
        with enter(out[0]):
            inside.set()
            leave.wait()
            seen.append(handle.thread_inode())
        seen.append(handle.thread_inode())

    t = threading.Thread(target=stay_inside)
    t.start()
    inside.wait()
    pool.close()
    assert all(ns.closed for ns in out)
    assert netns_fast.list_names() == []
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
        assert ns.name in netns_fast.list_names()
        ns.close()


# -- pre-wired topologies -----------------------------------------------------


def _pair(named: bool = False) -> Topology:
    """Two nodes (the first named if asked) and a link between them."""
    return Topology().node("a", named=named).node("b").link("a", "b")


def _wait_pending(pool: Pool[Network], count: int) -> None:
    deadline = time.monotonic() + 5
    while pool.stats().pending < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.stats().pending == count


def test_topology_pool_hands_out_fresh_networks_never_reused() -> None:
    """Every network a topology pool hands out is wired as declared (the
    records' indexes are the kernel's) and new: what a test changed in
    one (a sysctl, an address) never shows up in a later one."""
    with Pool(2, topology=_pair()) as pool:
        for _ in range(8):
            with pool.acquire() as net:
                a, b = net["a"], net["b"]
                assert a.sysctl("net.ipv4.ip_forward") == "0"
                a.sysctl("net.ipv4.ip_forward", 1)
                addrs = {x.cidr for x in b.addrs("eth0") if x.family == 2}
                assert addrs == {"10.255.0.2/24"}
                b.addr_add("eth0", "10.1.2.3/32")
                link = net.links["a-b"]
                assert a.link("eth0").ifindex == link.a.ifindex
                assert b.link("eth0").peer_ifindex == link.a.ifindex
                b.wait_link("eth0", 5)
                assert ping(a, net.address("b:eth0"))
        st = pool.stats()
    assert st.acquired == st.released == 8
    assert st.created >= 8


def test_topology_pool_named_nodes_and_close_with_networks_out() -> None:
    """A named node of a pooled network has a name while it is out;
    close() closes the networks still out and removes every name."""
    base = fd_count()
    pool = Pool(2, topology=_pair(named=True), prefix="nsft-topo-")
    out = [pool.acquire() for _ in range(2)]
    names = {net["a"].name for net in out}
    assert all(n and n.startswith("nsft-topo-") for n in names)
    assert names <= set(netns_fast.list_names())
    assert all(net["b"].anonymous for net in out)
    pool.close()
    assert all(net.closed and net["a"].closed for net in out)
    assert netns_fast.list_names() == []
    assert fd_count() == base


def test_topology_given_back_after_its_pool_is_gone() -> None:
    """A network that comes back after its pool's C core was freed (one
    that escaped close(), simulated by dropping it from the pool's list)
    is deleted there: its name goes, no fd is left (its C memory is freed:
    tests/c/farm_driver.c under LSan)."""
    base = fd_count()
    pool = Pool(1, topology=_pair(named=True), prefix="nsft-gone-")
    net = pool.acquire()
    name = net["a"].name
    pool._out.clear()  # the escape this test simulates
    pool.close()
    assert not net.closed
    assert name in netns_fast.list_names()
    net.close()
    assert netns_fast.list_names() == []
    assert fd_count() == base


def test_topology_pool_failure_raises_the_kernels_error() -> None:
    """A topology the kernel refuses half-way: acquire raises the refusal
    (errno, step, the node and the request, the kernel's text) once the
    creations keep failing, and nothing of the attempts is left."""
    base = fd_count()
    topo = _pair(named=True).route("a", "10.9.0.0/24", via="10.77.0.1")
    with Pool(1, topology=topo, prefix="nsft-bad-", fail_after=0.05) as pool:
        with pytest.raises(OSError, match="Nexthop has invalid gateway") as e:
            pool.acquire(timeout=10)
        assert e.value.errno == errno.ENETUNREACH
        assert e.value.step == "rtm_newroute"  # type: ignore[attr-defined]
        assert (e.value.filename, e.value.filename2) == (
            "a",
            "10.9.0.0/24 via 10.77.0.1",
        )
        assert pool.stats().last_error is not None
        assert netns_fast.list_names() == []
    assert fd_count() == base


def test_topology_pool_backlog_counts_namespaces() -> None:
    """The backlog of a topology pool counts namespaces: one network
    given back while pinned is two pending, which at max_pending=2 holds
    creation back until the kernel starts their teardown."""
    with Pool(1, topology=_pair(), max_pending=2, batch_delay=0) as pool:
        net = pool.acquire()
        pins = [os.dup(ns.fileno()) for ns in net.nodes.values()]
        net.close()
        try:
            _wait_pending(pool, 2)
            taken = []
            with contextlib.suppress(NetnsTimeoutError):
                while len(taken) < 5:
                    taken.append(pool.acquire(timeout=0.3))
            assert len(taken) <= 1  # only one made before the backlog
            assert pool.stats().throttled > 0
            for other in taken:
                other.close()
        finally:
            for fd in pins:
                os.close(fd)
        with pool.acquire(timeout=10) as net:
            assert net["a"].sysctl("net.ipv4.ip_forward") == "0"
        assert pool.drain(10.0)


def test_topology_pool_backlog_stays_bounded() -> None:
    """60 quick cycles of a pre-wired pair, torn down in batches: the
    backlog never passes max_pending + (size + outstanding) * nodes."""
    with Pool(2, topology=_pair(), max_pending=8, batch=4) as pool:
        for _ in range(60):
            pool.acquire(timeout=30).close()
        assert pool.drain(10.0)
        st = pool.stats()
    assert st.observing
    assert st.deleted == st.released == 60
    assert st.pending_max <= 8 + (2 + 1) * 2


def test_topology_pool_gives_back_what_a_failed_handout_took(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When making the Network of a taken item fails, acquire raises, the
    item goes back (its sockets closed) and close() does not wait for a
    call that ended."""
    base = fd_count()
    pool = Pool(1, topology=_pair())

    def broken(item: object) -> Network:
        raise MemoryError("no Network")

    monkeypatch.setattr(pool, "_network", broken)
    with pytest.raises(MemoryError):
        pool.acquire(timeout=10)
    st = pool.stats()
    assert (st.acquired, st.released, st.outstanding) == (1, 1, 0)
    closer = threading.Thread(target=pool.close)
    closer.start()
    closer.join(10)
    assert not closer.is_alive()
    assert fd_count() == base
