"""Processes and names: pids, identify, pids_by_netns, and monitor.

The scans run in C (csrc/procs.c): one pass over /proc, with the
per-process work shared by threads, comparing each process's network
namespace with the (device, inode) of the named ones, as ``ip netns pids``
does. monitor() wraps inotify on the run directory, as ``ip netns monitor``
does, as a blocking iterator (:class:`Monitor`) or an asyncio async
iterator (:class:`AsyncMonitor`); either can be closed from another thread
or task.
"""

from __future__ import annotations

import collections
import errno
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Literal, NamedTuple, Optional, Union

from . import _sys
from ._names import (
    check_pid,
    check_threads,
    encode_name,
    read_run_dir,
    run_dir_bytes,
)
from ._owner import proc_pid
from ._resource import Resource

if TYPE_CHECKING:
    import asyncio

    from ._names import Name

EventKind = Literal["add", "delete", "overflow"]

_KINDS: dict[bytes, EventKind] = {
    _sys.WATCH_ADD: "add",
    _sys.WATCH_DELETE: "delete",
    _sys.WATCH_OVERFLOW: "overflow",
}

# Between two readiness checks of a new name: 0.2 ms, doubling up to 10 ms.
_READY_FIRST_DELAY = 0.0002
_READY_MAX_DELAY = 0.01


class NetnsEvent(NamedTuple):
    """A change in the run directory, as ``ip netns monitor`` reports it.

    ``kind`` is ``"add"`` (an entry was created), ``"delete"`` (an entry
    was removed) or ``"overflow"`` (the kernel dropped events; ``name`` is
    empty, rescan with :func:`~netns_fast.list_names`).
    """

    kind: EventKind
    name: str


# -- pids and identify --------------------------------------------------------


def _run_dir_keys(rd: bytes) -> list[tuple[bytes, _sys.NsKey]]:
    """Every entry of rd in directory order with its (dev, ino).

    A missing rd gives []; an entry whose stat fails gets (0, 0).
    """
    names = read_run_dir(rd)
    if not names:
        return []
    try:
        keys = _sys.stat_names(rd, names)
    except FileNotFoundError:
        return []  # removed since the listing
    return list(zip(names, keys))


def pids(
    name: Name,
    *,
    run_dir: Optional[Name] = None,
    threads: Optional[int] = None,
) -> list[int]:
    """The processes in namespace NAME, in /proc order (ip netns pids).

    Threads are not listed (only thread-group leaders); processes that
    exit during the scan, or that the caller may not inspect, are skipped.
    ``threads`` sets how many C threads share the scan (default: chosen
    from the CPU and process counts).

    Raises:
        InvalidNameError: the name breaks iproute2's rules.
        NamespaceNotFoundError: RUN_DIR/NAME does not exist.
        NetnsOSError: any other failure; ``.step`` names the syscall.
    """
    nthreads = check_threads(threads)
    path = run_dir_bytes(run_dir) + b"/" + encode_name(name)
    return _sys.scan_pids([_sys.ns_key(path)], nthreads)[0]


# (pid as returned by os.getpid(), pid as /proc shows it), for the cache.
def _kill_proc(pid: int, key: _sys.NsKey) -> bool:
    """SIGKILL /proc/PID if its network namespace is still ``key``.

    The process is named through its /proc directory (a pidfd), not by
    kill(2): /proc's numbers are not this pid namespace's when they
    differ, and a pid reused since the scan is never hit. False when it
    is gone or is no longer in the namespace.
    """
    try:
        fd = os.open(
            f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
        )
    except FileNotFoundError:
        return False
    try:
        st = os.stat("ns/net", dir_fd=fd)
        if (st.st_dev, st.st_ino) != key:
            return False
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError as exc:
            # Linux < 5.1 has no pidfd_send_signal: kill(2) is right only
            # where /proc's numbers are this pid namespace's.
            if exc.errno != errno.ENOSYS or proc_pid() != os.getpid():
                raise
            os.kill(pid, signal.SIGKILL)
    except (FileNotFoundError, ProcessLookupError):
        return False
    finally:
        os.close(fd)
    return True


def kill_all(key: _sys.NsKey, timeout: float = 5.0) -> list[int]:
    """SIGKILL every process whose network namespace is ``key`` (its nsfs
    (dev, ino)), never this one, and wait until none is left.

    Returns the pids killed, as /proc shows them. Killed children of this
    process are left for their owner (e.g. subprocess.Popen) to reap: a
    zombie no longer holds the namespace. Raises TimeoutError if some
    still run after ``timeout`` seconds (e.g. processes of a parent pid
    namespace, which a pid namespace below cannot signal).
    """
    me = proc_pid()
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        found = [p for p in _sys.scan_pids([key], 0)[0] if p != me]
        if not found:
            return killed
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes still in the namespace: {found}")
        for pid in found:
            try:
                hit = _kill_proc(pid, key)
            except OSError:
                # Not ours to signal (EPERM; EINVAL from a pid namespace
                # below its own): the TimeoutError reports it.
                continue
            if hit and pid not in killed:
                killed.append(pid)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def identify(
    pid: Optional[int] = None, *, run_dir: Optional[Name] = None
) -> list[str]:
    """Every name of the network namespace of ``pid``, in directory order.

    ``pid=None`` means the calling thread (/proc/thread-self). Unlike
    ``ip netns identify``, which prints only the last match, all names
    bound to that namespace are returned; [] when it has none (or RUN_DIR
    is missing).

    Raises:
        NamespaceNotFoundError: no such process.
        NetnsPermissionError: the process may not be inspected.
    """
    if pid is None:
        path = _sys.THREAD_NS_NET.encode()
    else:
        path = b"/proc/%d/ns/net" % check_pid(pid)
    names = _sys.identify(path, run_dir_bytes(run_dir))
    return [os.fsdecode(n) for n in names]


def pids_by_netns(
    *, run_dir: Optional[Name] = None, threads: Optional[int] = None
) -> dict[str, list[int]]:
    """Every name of RUN_DIR with its processes, from one scan of /proc.

    Names that share a namespace each get the same pids. A stale name (no
    namespace behind it) maps to []; a name removed meanwhile is left out.
    """
    nthreads = check_threads(threads)
    entries = [
        (name, key)
        for name, key in _run_dir_keys(run_dir_bytes(run_dir))
        if key != (0, 0)
    ]
    index: dict[_sys.NsKey, int] = {}
    for _, key in entries:
        index.setdefault(key, len(index))
    groups = _sys.scan_pids(list(index), nthreads)
    return {
        os.fsdecode(name): list(groups[index[key]]) for name, key in entries
    }


# -- monitor ------------------------------------------------------------------


class _Record(NamedTuple):
    kind: bytes
    name: bytes
    seen: float  # time.monotonic() when it was read


class _Wait(NamedTuple):
    """How a reader waits: for the inotify fd (readable) or only for the
    timeout (an add that is not ready yet); None: no timeout."""

    readable: bool
    timeout: Optional[float]


def _ms(seconds: Optional[float]) -> int:
    """poll(2) milliseconds, rounded up; -1 for None (forever)."""
    if seconds is None:
        return -1
    return max(0, int(seconds * 1000 + 0.999))


class _MonitorBase:
    """What both monitors share: the inotify fd, the queue of records
    read, and the readiness rule for ``add``."""

    def __init__(
        self,
        *,
        run_dir: Optional[Name] = None,
        ready: bool = False,
        ready_timeout: float = 1.0,
    ) -> None:
        if ready_timeout < 0:
            raise ValueError("ready_timeout must be >= 0")
        self.run_dir = run_dir_bytes(run_dir)
        self.ready = ready
        self.ready_timeout = ready_timeout
        self._queue: collections.deque[_Record] = collections.deque()
        self._suppressed: set[bytes] = set()
        self._tries = 0  # readiness checks of the queue's head
        self._closed = False
        self._ended = False  # the watch is gone (run directory removed)
        self._busy = False  # a reader is in read()
        self._fd = _sys.watch_open(self.run_dir)
        try:
            self._setup()
        except BaseException:
            self._release()
            raise

    def _setup(self) -> None:
        """What a subclass needs besides the inotify fd."""

    @property
    def closed(self) -> bool:
        """True once close() was called (or the watch ended)."""
        return self._closed or self._ended

    def fileno(self) -> int:
        """The inotify fd (-1 once released), e.g. for select()."""
        return self._fd

    def _push(self, records: list[tuple[bytes, bytes]]) -> None:
        now = time.monotonic()
        self._queue.extend(_Record(k, n, now) for k, n in records)

    def _plan(self, left: Optional[float]) -> Union[NetnsEvent, _Wait, None]:
        """The next event to hand out; else None to stop (closed, ended,
        or no time ``left``); else how to wait for more."""
        if self.closed:
            return None
        step = self._step()
        if isinstance(step, NetnsEvent):
            return step
        if self._ended or (left is not None and left <= 0):
            return None
        if step is None:
            return _Wait(True, left)
        return _Wait(False, step if left is None else min(step, left))

    def _step(self) -> Union[NetnsEvent, float, None]:
        """The next event from the queue; else how long to wait before
        the queue's head (an add not yet ready) is checked again; else
        None (the queue is empty)."""
        while self._queue:
            rec = self._queue[0]
            if rec.kind == _sys.WATCH_GONE:
                self._queue.clear()
                self._ended = True
                return None
            if rec.kind == _sys.WATCH_ADD and self.ready:
                wait = self._readiness(rec)
                if wait is not None:
                    return wait
                if rec.name in self._suppressed:
                    self._queue.popleft()
                    continue
            elif (
                rec.kind == _sys.WATCH_DELETE and rec.name in self._suppressed
            ):
                # Its add was never reported: neither is its delete.
                self._suppressed.discard(rec.name)
                self._queue.popleft()
                continue
            self._queue.popleft()
            return NetnsEvent(_KINDS[rec.kind], os.fsdecode(rec.name))
        return None

    def _readiness(self, rec: _Record) -> Optional[float]:
        """None once the head add is settled (ready, or suppressed when it
        vanished or timed out); else the delay before the next check."""
        state = _sys.netns_ready(self.run_dir, rec.name)
        if state:
            self._tries = 0
            return None
        left = rec.seen + self.ready_timeout - time.monotonic()
        if state is None or left <= 0:
            self._suppressed.add(rec.name)
            self._tries = 0
            return None
        doubling = 1 << min(self._tries, 16)
        delay = min(_READY_FIRST_DELAY * doubling, _READY_MAX_DELAY)
        self._tries += 1
        return min(delay, left)

    def _release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Monitor(_MonitorBase, Resource):
    """A blocking iterator of :class:`NetnsEvent`: ``ip netns monitor``.

    RUN_DIR is created (mode 0755) if it is missing, as ip does. Every
    entry created or removed is reported, in order: ``add`` fires when the
    file appears, which is *before* ``ip netns add`` has bound the
    namespace to it. With ``ready=True`` an ``add`` is held back until the
    name can be entered (an nsfs network namespace), for at most
    ``ready_timeout`` seconds; a name that never gets there (a plain file,
    a failed add) is reported neither as ``add`` nor as ``delete``, and
    later events wait behind a held ``add``.

    :meth:`read` takes a timeout. One thread reads at a time; any thread
    may call :meth:`close`, which wakes a blocked reader. The iteration
    ends once the monitor is closed, or when RUN_DIR is removed or
    unmounted. Also a context manager.
    """

    def _setup(self) -> None:
        self._wake = _sys.wake_fd()
        self._lock = threading.Lock()

    def read(self, timeout: Optional[float] = None) -> Optional[NetnsEvent]:
        """The next event; None after ``timeout`` seconds (None: wait as
        long as it takes) or once the monitor is closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self.closed:
                return None
            if self._busy:
                raise RuntimeError("another thread is reading this monitor")
            self._busy = True
        try:
            return self._read(deadline)
        finally:
            with self._lock:
                self._busy = False
                if self._closed:
                    self._release()

    def _read(self, deadline: Optional[float]) -> Optional[NetnsEvent]:
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            plan = self._plan(left)
            if not isinstance(plan, _Wait):
                return plan
            timeout = _ms(plan.timeout)
            if plan.readable:
                records = _sys.watch_read(self._fd, self._wake, timeout)
                if records is None:
                    return None  # woken by close()
                self._push(records)
            elif _sys.wait_fd(self._wake, timeout):
                return None  # woken by close()

    def __iter__(self) -> Monitor:
        return self

    def __next__(self) -> NetnsEvent:
        event = self.read()
        if event is None:
            raise StopIteration
        return event

    def close(self) -> None:
        """Stop the monitor; safe from any thread, and more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._busy:
                # The reader wakes up and releases the fds itself.
                os.write(self._wake, (1).to_bytes(8, "little"))
                return
            self._release()

    def _release(self) -> None:
        super()._release()
        if getattr(self, "_wake", -1) >= 0:
            os.close(self._wake)
            self._wake = -1

    def _is_open(self) -> bool:
        # Before _setup() has run there is nothing to close (see Resource).
        return not self._closed and self._wake >= 0


class AsyncMonitor(_MonitorBase):
    """:class:`Monitor` as an asyncio async iterator.

    The inotify fd is watched with the event loop's add_reader, so no
    thread blocks. :meth:`read` takes a timeout. :meth:`close` may be
    called from another task or from another thread; the iteration then
    ends. Also an async context manager.
    """

    def _setup(self) -> None:
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._waiter: Optional[asyncio.Future[None]] = None

    async def read(
        self, timeout: Optional[float] = None
    ) -> Optional[NetnsEvent]:
        """The next event; None after ``timeout`` seconds or once closed."""
        import asyncio  # noqa: PLC0415 (lazy: keeps import netns_fast light)

        if self.closed:
            return None
        if self._busy:
            raise RuntimeError("another task is reading this monitor")
        loop = self._loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        self._busy = True
        try:
            while True:
                left = None if deadline is None else deadline - loop.time()
                plan = self._plan(left)
                if not isinstance(plan, _Wait):
                    return plan
                if plan.readable:
                    records = _sys.watch_read(self._fd, -1, 0)
                    if records:
                        self._push(records)
                        continue
                await self._wait(loop, plan)
        finally:
            self._busy = False
            if self._closed:
                self._release()

    async def _wait(
        self, loop: asyncio.AbstractEventLoop, plan: _Wait
    ) -> None:
        """As the plan says, or until close()."""
        import asyncio  # noqa: PLC0415 (lazy: keeps import netns_fast light)

        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        if plan.readable:
            loop.add_reader(self._fd, _wake_future, waiter)
        try:
            await asyncio.wait((waiter,), timeout=plan.timeout)
        finally:
            if plan.readable:
                loop.remove_reader(self._fd)
            self._waiter = None
            if not waiter.done():
                waiter.cancel()

    def __aiter__(self) -> AsyncMonitor:
        return self

    async def __anext__(self) -> NetnsEvent:
        event = await self.read()
        if event is None:
            raise StopAsyncIteration
        return event

    def close(self) -> None:
        """Stop the monitor: from a task of its loop, or from any thread."""
        import asyncio  # noqa: PLC0415 (lazy: keeps import netns_fast light)

        loop = self._loop
        if loop is not None and loop.is_running():
            try:
                running: Optional[asyncio.AbstractEventLoop]
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                loop.call_soon_threadsafe(self._close_here)
                return
        self._close_here()

    def _close_here(self) -> None:
        if self._closed:
            return
        self._closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if not self._busy:
            self._release()

    async def aclose(self) -> None:
        """close(), as a coroutine."""
        self.close()

    async def __aenter__(self) -> AsyncMonitor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            self._closed = True
            self._release()


def _wake_future(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


monitor = Monitor
"""``monitor(*, run_dir=None, ready=False, ready_timeout=1.0)``: a
:class:`Monitor` (``for event in monitor(): ...``)."""

monitor_async = AsyncMonitor
"""``monitor_async(*, run_dir=None, ready=False, ready_timeout=1.0)``: an
:class:`AsyncMonitor` (``async for event in monitor_async(): ...``)."""
