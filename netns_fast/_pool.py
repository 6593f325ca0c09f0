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
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import threading
import weakref
from typing import TYPE_CHECKING, NamedTuple, Optional

from . import _sys
from ._handle import Netns
from ._names import encode_name, note_prefix, run_dir_bytes
from ._owner import owner_name
from ._resource import Resource

if TYPE_CHECKING:
    from ._names import Name
    from .exceptions import NetnsOSError

_live: weakref.WeakSet[Pool] = weakref.WeakSet()
_serials = itertools.count(1)


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


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, not {value!r}")
    return value


class Pool(Resource):
    """Fresh network namespaces made ahead by background C threads.

    Args:
        size: how many namespaces to keep ready (K).
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

    Use it as a context manager, or call :meth:`close`; an open pool is
    also closed at interpreter exit. A forked child cannot use its
    parent's pools (they are closed in the child, untouched in the parent).
    """

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
    ) -> None:
        self._closing = True  # until the C pool runs (see __del__)
        if prefix is None:
            # nsf-pool-OWNER-SERIAL-: gc dead-owners reclaims the names
            # of a pool whose process died (netns_fast._owner).
            prefix = owner_name("pool", f"{next(_serials)}-")
        raw_prefix = os.fsencode(prefix)
        if len(raw_prefix) > 40:
            raise ValueError("prefix must be at most 40 bytes long")
        encode_name(raw_prefix + b"0")
        if batch_delay < 0 or stuck_after <= 0 or fail_after < 0:
            raise ValueError(
                "batch_delay and fail_after must be >= 0, stuck_after > 0"
            )
        self._size = _positive("size", size)
        threads = _positive("threads", threads)
        max_pending = _positive("max_pending", max_pending)
        batch = _positive("batch", batch)
        self._run_dir = run_dir_bytes(run_dir) if named else None
        self._prefix = raw_prefix
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._out: weakref.WeakValueDictionary[int, Netns] = (
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
        )
        self._closing = False
        _live.add(self)
        if self._run_dir is not None:
            # The leak check's "made here" (netns_fast._names).
            note_prefix(self._run_dir + b"/" + raw_prefix, True)

    @property
    def size(self) -> int:
        """How many namespaces the pool keeps ready."""
        return self._size

    @property
    def named(self) -> bool:
        """True when the pool hands out named namespaces."""
        return self._run_dir is not None

    @property
    def closed(self) -> bool:
        """True once close() has started."""
        return self._closing

    def acquire(self, timeout: Optional[float] = 30.0) -> Netns:
        """A fresh namespace; close the handle (or release it) when done.

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
        except BaseException:
            self._done()
            raise
        with self._lock:
            if self._closing:
                core.release(item)
                self._done()
                raise RuntimeError("the pool is closed")
            handle = Netns(
                item.fd,
                name=item.name or None,
                run_dir=self._run_dir if item.name else None,
                owned=True,
                ino=item.ino,
                release=functools.partial(self._give_back, item),
            )
            self._out[item.fd] = handle
            self._done()
        return handle

    def _done(self) -> None:
        with self._lock:
            self._busy -= 1
            if self._busy == 0:
                self._idle.notify_all()

    def release(self, ns: Netns) -> None:
        """Give ``ns`` back (the same as ``ns.close()``)."""
        ns.close()

    def _give_back(self, item: _sys.PoolItem, ns: Netns) -> None:
        """The release of a handle acquire() made (its close() calls it):
        the namespace goes to the deleter, or is deleted here once the C
        pool is gone."""
        with self._lock:
            if self._out.get(item.fd) is ns:
                del self._out[item.fd]
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

    def held_paths(self) -> frozenset[str]:
        """RUN_DIR/NAME of the named namespaces the pool itself holds now
        (made ahead or being deleted; not those handed out)."""
        rd, prefix = self._run_dir, self._prefix
        if rd is None:
            return frozenset()
        with self._lock:
            out = {h._name for h in self._out.values()}
        try:
            entries = os.listdir(rd)
        except OSError:
            return frozenset()
        return frozenset(
            os.fsdecode(rd + b"/" + name)
            for name in entries
            if name.startswith(prefix) and name not in out
        )

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
        state = "closed" if self._closing else "open"
        return f"<Pool size={self._size} {kind} {state}>"
