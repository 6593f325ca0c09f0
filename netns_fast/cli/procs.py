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

from .. import _sys
from ._ctx import CliExit, filename, step_of, strerror
from ._json import JsonWriter, array_of_objects

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType
    from typing import Optional

    from ._ctx import Ctx
    from ._json import Value

# iproute2's wording for the steps these verbs fail at, before the errno's
# text. A namespace file (pids NAME, identify PID) that cannot be opened or
# stat'ed:
_NS_MESSAGES = {
    "open_ns": b"Cannot open network namespace: ",
    "stat_ns": b"Stat of netns failed: ",
}
# The run directory of identify (%(path)s; ip puts no space after the
# colon here, unlike elsewhere):
_IDENTIFY_DIR = b"Failed to open directory %(path)s:"
# The scan of /proc for pids:
_PROC_MESSAGES = {"open_proc": b"Open of /proc failed: "}
_PROC_OTHER = b"Read of /proc failed: "
# monitor's set-up (any other step: making the run directory):
_WATCH_MESSAGES = {
    "inotify_init": b"inotify_init failed: ",
    "inotify_add_watch": b"inotify_add_watch failed: ",
}
_WATCH_OTHER = b"mkdir %(path)s failed: "


def is_pid(text: bytes) -> bool:
    """iproute2's is_pid(): digits only (an empty string passes)."""
    return all(0x30 <= c <= 0x39 for c in text)


def _say(
    ctx: Ctx, exc: OSError, messages: dict[str, bytes], other: bytes
) -> int:
    """Print the wording ``messages`` give exc's step (else ``other``),
    with the exception's filename as %(path)s; exit code 1."""
    template = messages.get(step_of(exc), other)
    ctx.error(template % {b"path": filename(exc)} + strerror(exc.errno))
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
        path = os.fsencode(_sys.THREAD_NS_NET)
    try:
        names = _sys.identify(path, ctx.run_dir)
    except OSError as exc:
        return _say(ctx, exc, _NS_MESSAGES, _IDENTIFY_DIR)
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
        return _say(ctx, exc, _NS_MESSAGES, _NS_MESSAGES["open_ns"])
    try:
        pids = _sys.scan_pids([key])[0]
    except OSError as exc:
        return _say(ctx, exc, _PROC_MESSAGES, _PROC_OTHER)
    if ctx.json:
        _json_array(ctx, b"pid", pids)
    else:
        ctx.out.write(b"".join(b"%d\n" % pid for pid in pids))
    return 0


class _StopOnSignal:
    """SIGINT and SIGTERM set a flag and wake the watcher's poll (through
    Python's signal wakeup fd), so monitor can end with exit status 0."""

    def __init__(self) -> None:
        import signal  # only monitor needs it (it imports enum: start-up)

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
        import signal

        for sig, old in self._handlers:
            signal.signal(sig, old)  # type: ignore[arg-type]
        if self._old_wakeup is not None:
            signal.set_wakeup_fd(self._old_wakeup)
        os.close(self.rfd)
        os.close(self.wfd)


OVERFLOW_WARNING = (
    b"Warning: the kernel's inotify queue overflowed: events were lost"
)

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
        return _say(ctx, exc, _WATCH_MESSAGES, _WATCH_OTHER)
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
