"""A pool of fresh network namespaces, made ahead by C threads.

``Pool(size)`` keeps ``size`` new namespaces ready, made by background C
threads; :meth:`Pool.acquire` hands one out (a lock-protected queue: no
syscall on the hot path). Each namespace is new and never recycled: a
reused namespace carries state over (routes, iptables rules, sysctls).
Closing a handle returns it, and a C thread deletes returned namespaces in
batches, so that the kernel's cleanup_net tears them down in batches too.

Back-pressure: the kernel frees namespaces later, on one worker. The pool
gives each of its namespaces an nsid in a private observer namespace and
counts the ones it deleted whose teardown has not started yet (the kernel
sends RTM_DELNSID when it starts); while that backlog is at
``max_pending``, the pool makes no new namespaces, so creation slows to
the kernel's teardown rate instead of growing memory or hitting
user.max_net_namespaces (ENOSPC, which also makes it back off).
See csrc/pool.c for the details and bounds.

Costs: an anonymous namespace (the default) costs one unshare plus one
setns back on the pool's thread; a named one (``named=True``, usable with
``ip netns exec``) is made exactly as :func:`netns_fast.add` makes one
(bound from /proc/thread-self/ns/net, never from a pid), then opened by
its name, and its loopback is brought up from outside (a setns in and
back); on delete it costs a lazy umount. Either adds an nsid request (one
rtnetlink round trip).

Errors: a failing creation is retried with a backoff; its error is kept
in :meth:`Pool.stats` (``last_error``, ``failing``) and raised by
:meth:`Pool.acquire` once the creations keep failing (see there).

Pre-wired topologies: ``Pool(size, topology=t)`` keeps ``size`` whole
:class:`~netns_fast.Topology` builds ready, each made on a C thread (its
namespaces, then its wiring plan, the one :meth:`Topology.build` sends,
run by ``nsf_wire_run`` on that thread), and :meth:`Pool.acquire` hands
out a :class:`~netns_fast.Network` (never reused). Closing it gives every
namespace back together: their names go at once, their fds in one of the
deleter's batches, so the kernel tears their devices down in one batch
(unregistering devices waits for RCU grace periods once per batch). The
backlog then counts namespaces: ``max_pending`` and ``batch`` bound
namespaces, and the kernel's backlog stays within ``max_pending + (size
+ outstanding) * nodes``.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import threading
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    NamedTuple,
    Optional,
    TypeVar,
    Union,
    overload,
)

from . import _sys, _wire
from ._handle import Netns
from ._names import encode_name, note_prefix, run_dir_bytes
from ._owner import owner_name
from ._resource import Resource
from ._topology import Network, Topology

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._names import Name
    from ._topology import _Compiled
    from .exceptions import NetnsOSError

H = TypeVar("H", Netns, Network)
"""What a pool hands out: a Netns, or a Network (``topology=``)."""

_live: weakref.WeakSet[Pool[Any]] = weakref.WeakSet()
_serials = itertools.count(1)
PREFIX_MAX = 40
"""The longest name prefix a pool takes, in bytes."""


class PoolStats(NamedTuple):
    """A snapshot of a pool's counters."""

    ready: int
    """Namespaces ready to hand out."""
    outstanding: int
    """Handed out and not returned yet."""
    queued: int
    """Returned, waiting for (or in) a delete batch."""
    pending: int
    """Deleted, the kernel's teardown not started yet (the backlog)."""
    pending_max: int
    """The highest backlog seen."""
    created: int
    acquired: int
    released: int
    deleted: int
    freed: int
    """Deleted namespaces whose teardown the kernel has started."""
    stuck: int
    """Deleted namespaces still held elsewhere after ``stuck_after``."""
    throttled: int
    """Times a creator thread waited because of the backlog."""
    enospc: int
    """Creations refused with ENOSPC (user.max_net_namespaces)."""
    resyncs: int
    """Times lost notifications were recovered with an nsid dump."""
    failing: int
    """Creations failed in a row since the last success (0: it worked)."""
    observing: bool
    """True while the RTM_DELNSID backlog signal works."""
    last_error: Optional[NetnsOSError]
    """The creator threads' last error (kept after later successes: see
    ``failing``), or None if no creation ever failed."""


@atexit.register
def _close_all() -> None:
    """Close the pools still open at interpreter exit."""
    for pool in list(_live):
        pool.close()


def _forget_in_child() -> None:
    """After fork: the C threads did not follow; the parent owns it all."""
    for pool in list(_live):
        pool._forget()
    _live.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _keep_fd(ns: Netns) -> None:
    """The release of a node of a pre-wired network: its fd stays with
    the network's item, given back whole (the socket is closed)."""


def _close_sockets(item: _sys.PoolItem) -> None:
    """Close the sockets of a topology item that no handle took."""
    for node in item.nodes:
        if node.rtnl >= 0:
            os.close(node.rtnl)


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, not {value!r}")
    return value


class Pool(Resource, Generic[H]):
    """Fresh network namespaces (or pre-wired topologies) made ahead by
    background C threads.

    Args:
        size: how many namespaces (topologies) to keep ready (K).
        named: make named namespaces (RUN_DIR/PREFIX<n>) instead of
            anonymous ones.
        run_dir: the run directory of named ones.
        prefix: the name prefix (default ``nsf-pool-<owner>-<n>-``, see
            netns_fast._owner).
        threads: creator threads.
        lo_up: bring each namespace's loopback up.
        max_pending: the backlog bound (see the module doc).
        batch: most namespaces deleted in one batch.
        batch_delay: seconds the deleter waits for a batch to fill.
        stuck_after: seconds after which a deleted namespace that the
            kernel has not started to tear down is counted as held by
            someone else (a leaked process), not as backlog.
        fail_after: seconds of failing creations after which
            :meth:`acquire` raises their error instead of waiting (see
            there).
        topology: hand out whole builds of this
            :class:`~netns_fast.Topology` (a :class:`~netns_fast.Network`
            each; see the module doc); with ``named``, every node is
            named, else the nodes the topology names.

    Use it as a context manager, or call :meth:`close`; an open pool is
    also closed at interpreter exit. A forked child cannot use its
    parent's pools (they are closed in the child, untouched in the parent).
    """

    @overload
    def __init__(
        self: Pool[Netns],
        size: int = 8,
        *,
        named: bool = False,
        run_dir: Optional[Name] = None,
        prefix: Optional[str] = None,
        threads: int = 1,
        lo_up: bool = True,
        max_pending: int = 256,
        batch: int = 64,
        batch_delay: float = 0.002,
        stuck_after: float = 10.0,
        fail_after: float = 1.0,
        topology: None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Pool[Network],
        size: int = 8,
        *,
        named: bool = False,
        run_dir: Optional[Name] = None,
        prefix: Optional[str] = None,
        threads: int = 1,
        lo_up: bool = True,
        max_pending: int = 256,
        batch: int = 64,
        batch_delay: float = 0.002,
        stuck_after: float = 10.0,
        fail_after: float = 1.0,
        topology: Topology,
    ) -> None: ...

    def __init__(
        self,
        size: int = 8,
        *,
        named: bool = False,
        run_dir: Optional[Name] = None,
        prefix: Optional[str] = None,
        threads: int = 1,
        lo_up: bool = True,
        max_pending: int = 256,
        batch: int = 64,
        batch_delay: float = 0.002,
        stuck_after: float = 10.0,
        fail_after: float = 1.0,
        topology: Optional[Topology] = None,
    ) -> None:
        self._closing = True  # until the C pool runs (see __del__)
        if prefix is None:
            # nsf-pool-OWNER-SERIAL-: gc dead-owners reclaims the names
            # of a pool whose process died (netns_fast._owner).
            prefix = owner_name("pool", f"{next(_serials)}-")
        raw_prefix = os.fsencode(prefix)
        if len(raw_prefix) > PREFIX_MAX:
            raise ValueError(f"prefix must be at most {PREFIX_MAX} bytes long")
        encode_name(raw_prefix + b"0")
        if batch_delay < 0 or stuck_after <= 0 or fail_after < 0:
            raise ValueError(
                "batch_delay and fail_after must be >= 0, stuck_after > 0"
            )
        self._size = _positive("size", size)
        threads = _positive("threads", threads)
        max_pending = _positive("max_pending", max_pending)
        batch = _positive("batch", batch)
        nodes: list[tuple[str, bool]] = []
        wiring: list[_sys.WireReq] = []
        self._topology = topology
        # The compile the C template is made of (a later change to the
        # topology makes a new one, which would not match the items).
        self._compiled: Optional[_Compiled] = None
        if topology is not None:
            compiled = topology._compile()  # ValueError before any syscall
            self._compiled = compiled
            if not compiled.nodes:
                raise ValueError("a topology pool needs a node")
            lo_up = compiled.lo_up
            nodes = [(n.label, named or n.named) for n in compiled.nodes]
            wiring = compiled.wiring
            named = any(flag for _, flag in nodes)
        self._run_dir = run_dir_bytes(run_dir) if named else None
        self._prefix = raw_prefix
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._out: weakref.WeakValueDictionary[int, Union[Netns, Network]] = (
            weakref.WeakValueDictionary()
        )
        self._core: Optional[_sys.PoolCore] = _sys.PoolCore(
            self._run_dir,
            prefix=raw_prefix,
            size=self._size,
            threads=threads,
            lo_up=lo_up,
            max_pending=max_pending,
            batch=batch,
            batch_delay_us=int(batch_delay * 1e6),
            stuck_ms=max(1, int(stuck_after * 1000)),
            fail_ms=int(fail_after * 1000),
            nodes=nodes,
            wiring=wiring,
        )
        self._closing = False
        _live.add(self)
        if self._run_dir is not None:
            # The leak check's "made here" (netns_fast._names).
            note_prefix(self._run_dir + b"/" + raw_prefix, True)

    @property
    def size(self) -> int:
        """How many namespaces (topologies) the pool keeps ready."""
        return self._size

    @property
    def topology(self) -> Optional[Topology]:
        """The topology of a pre-wired pool, or None."""
        return self._topology

    @property
    def named(self) -> bool:
        """True when the pool hands out named namespaces."""
        return self._run_dir is not None

    @property
    def closed(self) -> bool:
        """True once close() has started."""
        return self._closing

    def acquire(self, timeout: Optional[float] = 30.0) -> H:
        """A fresh namespace (a fresh Network for a topology pool); close
        it (or release it) when done.

        Waits up to ``timeout`` seconds (None: forever) when none is ready,
        e.g. while the back-pressure holds creation back.

        When none is ready and the creator threads are failing, it raises
        their last error instead of waiting: failing means at least 5
        creations in a row failed, over at least ``fail_after`` seconds
        (the threads retry with a backoff of 1 to 100 ms). At the
        namespace limit those seconds count only while none of the
        pool's returned namespaces still waits for the kernel's teardown,
        which would free room. So a single failure, or ENOSPC that the
        pool's own teardowns are about to end, never raises; a pool that
        can make nothing does not leave ``timeout=None`` waiting forever.

        Raises:
            RuntimeError: the pool is closed.
            NetnsTimeoutError: none became ready in time.
            NamespaceLimitError: user.max_net_namespaces is reached
                (ENOSPC at step "unshare_net").
            NetnsOSError: any other failure of the creator threads, with
                its errno, step and path: e.g. ENOSPC at step "create_name"
                with the name's path for a full run-directory file system.
        """
        ms = -1 if timeout is None else max(0, int(timeout * 1000))
        with self._lock:
            core = self._core
            if core is None or self._closing:
                raise RuntimeError("the pool is closed")
            self._busy += 1
        try:
            item = core.acquire(ms)
            with self._lock:
                if self._closing:
                    _close_sockets(item)
                    core.release(item)
                    raise RuntimeError("the pool is closed")
                try:
                    handle = self._wrap(item)
                    self._out[item.key] = handle
                except BaseException:
                    _close_sockets(item)
                    core.release(item)
                    raise
        finally:
            self._done()
        return handle  # type: ignore[return-value]

    def _wrap(self, item: _sys.PoolItem) -> Union[Netns, Network]:
        """The handle (or Network) of a taken item."""
        if item.nodes:
            return self._network(item)
        return self._handle(
            item.fd,
            item.name,
            item.ino,
            functools.partial(self._give_back, item),
        )

    def _handle(
        self,
        fd: int,
        name: bytes,
        ino: int,
        release: Callable[[Netns], None],
    ) -> Netns:
        return Netns(
            fd,
            name=name or None,
            run_dir=self._run_dir if name else None,
            owned=True,
            ino=ino,
            release=release,
        )

    def _network(self, item: _sys.PoolItem) -> Network:
        """The Network of a pre-wired topology item: a handle per node
        (with the socket made inside; its fd stays the item's until the
        whole network goes back)."""
        topo, compiled = self._topology, self._compiled
        assert topo is not None
        assert compiled is not None
        nodes: dict[str, Netns] = {}
        for decl, node in zip(compiled.nodes, item.nodes):
            ns = self._handle(node.fd, node.name, node.ino, _keep_fd)
            if node.rtnl >= 0:
                ns._wire = _wire.Socket(node.rtnl)
            nodes[decl.label] = ns
        net = Network(topo, compiled, nodes, item.indexes)
        net._released_by(functools.partial(self._give_back, item, net))
        return net

    def _done(self) -> None:
        with self._lock:
            self._busy -= 1
            if self._busy == 0:
                self._idle.notify_all()

    def release(self, ns: Netns) -> None:
        """Give ``ns`` back (the same as ``ns.close()``)."""
        ns.close()

    def _give_back(
        self, item: _sys.PoolItem, ns: Union[Netns, Network]
    ) -> None:
        """The release of a handle or network acquire() made (its close()
        calls it): the namespaces go to the deleter, or are deleted here
        once the C pool is gone."""
        with self._lock:
            if self._out.get(item.key) is ns:
                del self._out[item.key]
            if self._core is not None:
                self._core.release(item)
                return
        _sys.release_item(self._run_dir, item)

    def stats(self) -> PoolStats:
        """The pool's counters now (all zero once closed)."""
        with self._lock:
            if self._core is None:
                raw, last = dict.fromkeys(_sys.POOL_STAT_FIELDS, 0), None
            else:
                raw, last = self._core.stats()
        return PoolStats(
            **{k: v for k, v in raw.items() if k != "observing"},
            observing=bool(raw["observing"]),
            last_error=last,
        )

    def held_fds(self) -> frozenset[int]:
        """The fds the pool itself holds now (for fd leak checks)."""
        with self._lock:
            if self._core is None:
                return frozenset()
            return frozenset(self._core.held_fds())

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every returned namespace is deleted and its kernel
        teardown started; False on timeout."""
        with self._lock:
            core = self._core
            if core is None:
                return True
            self._busy += 1
        try:
            return core.drain(max(0, int(timeout * 1000)))
        finally:
            self._done()

    def close(self) -> None:
        """Stop the threads and delete every namespace the pool made.

        Namespaces still handed out are closed too: their handles become
        closed (using them raises ValueError) and their names are removed.
        The kernel frees such a namespace once nothing else holds it: a
        thread still inside it through enter() keeps it until it leaves,
        and a process inside keeps it until it exits (the pool kills no
        process; the pytest fixtures do). Idempotent.
        """
        with self._lock:
            if self._closing:
                return
            self._closing = True
            out = list(self._out.values())
            core = self._core
        for handle in out:
            handle.close()
        if core is None:
            return
        core.close()
        with self._lock:
            while self._busy:
                self._idle.wait()
            core.free()
            self._core = None
        _live.discard(self)
        if self._run_dir is not None:
            note_prefix(self._run_dir + b"/" + self._prefix, False)

    def _forget(self) -> None:
        # In a forked child: never touch the C pool (its threads and locks
        # are the parent's); its memory is left as it is.
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._closing = True
        self._core = None
        self._busy = 0

    def _is_open(self) -> bool:
        return not self._closing

    def __repr__(self) -> str:
        kind = "named" if self.named else "anonymous"
        if self._topology is not None:
            kind += f" topology={self._topology!r}"
        state = "closed" if self._closing else "open"
        return f"<Pool size={self._size} {kind} {state}>"
