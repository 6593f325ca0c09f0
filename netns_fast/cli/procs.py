"""The identify, pids and monitor verbs (ip netns, iproute2 6.1.0).

Without -j the output, messages and exit codes are ip's. -j is an extension
(ip ignores it for these verbs):

- identify: ``[{"name":"a"},...]``, every matching name in directory
  order (the text output shows only the last one, as ip does);
- pids: ``[{"pid":123},...]`` in /proc order;
- monitor: one object per line, ``{"event":"add","name":"a"}``, and
  ``{"event":"overflow"}`` when the kernel dropped events.

monitor flushes every line (ip block-buffers a pipe or a file and loses
what it buffered when killed) and exits 0 on SIGINT or SIGTERM. When the
kernel drops events (inotify queue overflow), ip says nothing; the text
output stays ip's, and a warning goes to stderr.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from types import FrameType
from typing import Optional

from . import _sys
from ._jsonw import JsonWriter, Value, array_of_objects
from .cli import CliExit, Ctx, strerror

THREAD_NS_NET = b"/proc/thread-self/ns/net"


def is_pid(text: bytes) -> bool:
    """iproute2's is_pid(): digits only (an empty string passes)."""
    return all(0x30 <= c <= 0x39 for c in text)


def _ns_error(ctx: Ctx, exc: OSError) -> int:
    if getattr(exc, "step", "") == "ns_stat":
        ctx.error(b"Stat of netns failed: " + strerror(exc.errno))
    else:
        ctx.error(b"Cannot open network namespace: " + strerror(exc.errno))
    return 1


def _json_array(ctx: Ctx, key: bytes, values: Sequence[Value]) -> None:
    """-j: [{"KEY":value},...] (the extension for identify and pids)."""
    objects = [[(key, value)] for value in values]
    ctx.out.write(array_of_objects(objects, ctx.pretty))


def do_identify(ctx: Ctx, args: list[bytes]) -> int:
    """identify [PID]: the last name of PID's netns, or an empty line."""
    if len(args) > 1:
        ctx.error(b"extra arguments specified")
        return 1
    if args:
        if not is_pid(args[0]):
            ctx.error(b"Specified string '" + args[0] + b"' is not a pid")
            return 1
        path = b"/proc/" + args[0] + b"/ns/net"
    else:
        # ip reads /proc/self; this thread's view is the same in the CLI
        # and stays right if the CLI runs in a thread.
        path = THREAD_NS_NET
    try:
        names = _sys.identify(path, ctx.run_dir)
    except OSError as exc:
        if getattr(exc, "step", "") == "ns_open":
            return _ns_error(ctx, exc)
        # ip prints no space after the colon here (unlike elsewhere).
        ctx.error(
            b"Failed to open directory "
            + ctx.run_dir
            + b":"
            + strerror(exc.errno)
        )
        return 1
    if ctx.json:
        _json_array(ctx, b"name", names)
    else:
        ctx.out.write((names[-1] if names else b"") + b"\n")
    return 0


def do_pids(ctx: Ctx, args: list[bytes]) -> int:
    """pids NAME: the processes in NAME's netns, in /proc order."""
    if not args:
        ctx.error(b"No netns name specified")
        return 1
    if len(args) > 1:
        ctx.error(b"extra arguments specified")
        return 1
    try:
        key = _sys.ns_key(ctx.path(args[0]))
    except OSError as exc:
        return _ns_error(ctx, exc)
    try:
        pids = _sys.scan_pids([key])[0]
    except OSError as exc:
        what = b"Open" if getattr(exc, "step", "") == "proc_open" else b"Read"
        ctx.error(what + b" of /proc failed: " + strerror(exc.errno))
        return 1
    if ctx.json:
        _json_array(ctx, b"pid", pids)
    else:
        ctx.out.write(b"".join(b"%d\n" % pid for pid in pids))
    return 0


class _StopOnSignal:
    """SIGINT and SIGTERM set a flag and wake the watcher's poll (through
    Python's signal wakeup fd), so monitor can end with exit status 0."""

    def __init__(self) -> None:
        self.stopped = False
        self.rfd, self.wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._handlers: list[tuple[int, object]] = []
        self._old_wakeup: Optional[int] = None
        try:
            self._old_wakeup = signal.set_wakeup_fd(
                self.wfd, warn_on_full_buffer=False
            )
        except ValueError:
            return  # not the main thread: signals keep their handlers
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._handlers.append((sig, signal.signal(sig, self._handler)))

    def _handler(self, signum: int, frame: Optional[FrameType]) -> None:
        self.stopped = True

    def drain(self) -> None:
        """Empty the wakeup pipe after a signal that does not stop us."""
        try:
            while os.read(self.rfd, 512):
                pass
        except BlockingIOError:
            pass

    def restore(self) -> None:
        """Put the previous handlers and wakeup fd back; close the pipe."""
        for sig, old in self._handlers:
            signal.signal(sig, old)  # type: ignore[arg-type]
        if self._old_wakeup is not None:
            signal.set_wakeup_fd(self._old_wakeup)
        os.close(self.rfd)
        os.close(self.wfd)


OVERFLOW_WARNING = (
    b"Warning: the kernel's inotify queue overflowed: events were lost"
)

_WATCH_STEPS = {
    "inotify_init": b"inotify_init failed: ",
    "inotify_add_watch": b"inotify_add_watch failed: ",
}


_WORDS = {
    _sys.WATCH_ADD: b"add",
    _sys.WATCH_DELETE: b"delete",
    _sys.WATCH_OVERFLOW: b"overflow",
}


def _event_line(ctx: Ctx, kind: bytes, name: bytes) -> Optional[bytes]:
    word = _WORDS.get(kind)
    if word is None:
        return None  # ip prints nothing for other events
    if not ctx.json:
        return word + b" " + name + b"\n"
    writer = JsonWriter(pretty=False)
    writer.start_object()
    writer.member(b"event", word)
    if kind != _sys.WATCH_OVERFLOW:
        writer.member(b"name", name)
    writer.end_object()
    return writer.finish()


def do_monitor(ctx: Ctx, args: list[bytes]) -> int:
    """monitor: `add NAME` / `delete NAME` for every entry created or
    removed in the run directory, until SIGINT or SIGTERM (exit 0)."""
    try:
        fd = _sys.watch_open(ctx.run_dir)
    except OSError as exc:
        step = getattr(exc, "step", "")
        prefix = _WATCH_STEPS.get(step, b"mkdir " + ctx.run_dir + b" failed: ")
        ctx.error(prefix + strerror(exc.errno))
        return 1
    stop = _StopOnSignal()
    try:
        while not stop.stopped:
            try:
                records = _sys.watch_read(fd, stop.rfd, -1)
            except OSError as exc:
                ctx.error(b"read failed: " + strerror(exc.errno))
                return 1
            if records is None:
                stop.drain()
                continue
            for kind, name in records:
                if kind == _sys.WATCH_OVERFLOW and not ctx.json:
                    ctx.error(OVERFLOW_WARNING)  # stdout stays ip's
                    continue
                line = _event_line(ctx, kind, name)
                if line is not None:
                    ctx.out.write(line)
                    ctx.out.flush()
    finally:
        stop.restore()
        os.close(fd)
    raise CliExit(0)
