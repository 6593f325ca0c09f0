"""Start processes inside a named network namespace, without ``ip``.

:func:`spawn` returns a :class:`Process`, which is a
:class:`subprocess.Popen`: ``pid``, ``wait``, ``poll``, ``returncode``,
``communicate``, ``send_signal``, the ``stdin``/``stdout``/``stderr`` pipes
(``subprocess.PIPE``, ``DEVNULL`` and ``STDOUT`` work as usual) and the
context manager. :func:`run` is :func:`subprocess.run` for it.

The child is set up in C between clone and exec (csrc/exec.c): no ``ip``
process, no shell, no Python code in the child. It is cloned with
``CLONE_VM | CLONE_VFORK`` (like posix_spawn), switches itself, and only
async-signal-safe calls run before the exec, so spawning is safe from any
thread of a multi-threaded program and never moves the calling thread.

``full=True`` (the default) is ``ip netns exec``'s set-up: VRF reset,
setns, a new mount namespace with ``/`` rslave, a fresh ``/sys`` showing the
namespace's devices, and the ``/etc/netns/NAME`` entries bound over
``/etc`` (a bind that fails prints ip's message on the child's stderr).
``full=False`` is ``nsenter --net``: setns only, the mounts are the
caller's.

The child's fds are 0, 1, 2 and ``pass_fds``; every other fd is closed.
The program is searched in ``env``'s PATH (else the caller's), as
subprocess does. A failed set-up or exec raises in the parent: the
exception is a :class:`~netns_fast.exceptions.NetnsOSError` (and the
matching OSError subclass) whose ``step`` says what failed: ``"open_ns"``
(no such name: :class:`FileNotFoundError`), ``"setns"`` (a stale entry or
a FIFO, refused without blocking:
:class:`~netns_fast.exceptions.NotANamespaceError`), ``"exec"`` (the
program, e.g. :class:`FileNotFoundError` with ``filename`` set), ``"chdir"``
(``cwd``), ...
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Optional, Union, cast

from . import _sys
from ._names import encode_name, is_path, run_dir_bytes
from ._vrf import cgroup_procs_for_reset

if TYPE_CHECKING:
    import asyncio

    from ._handle import NsLike as Target  # where to run
    from ._names import Name

Arg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
"""One argument: str, bytes or a path."""

File = Union[None, int, IO[Any]]
"""Where a standard stream goes, as for subprocess.Popen."""

Env = Union[Mapping[str, Union[str, bytes]], Mapping[bytes, Union[str, bytes]]]
"""An environment, as for subprocess.Popen."""

Argv = Union[Arg, Sequence[Arg]]
"""The command: a sequence of arguments, or one program (a str, bytes or
path: run without arguments, as subprocess does without a shell)."""


class _Where:
    """A namespace argument resolved for the C request: a name in run_dir,
    a path, or an fd (kept open by its owner while the child starts)."""

    __slots__ = ("fd", "label", "name", "path", "run_dir")

    def __init__(self, ns: Target, run_dir: Optional[Name]) -> None:
        from ._handle import Netns  # noqa: PLC0415 (no cycle: _handle)

        self.run_dir = run_dir_bytes(run_dir)
        self.name: Optional[bytes] = None
        self.path: Optional[bytes] = None
        self.fd = -1
        if isinstance(ns, Netns):
            self.fd = ns.fileno()
            self.name = None if ns.name is None else os.fsencode(ns.name)
            self.label = os.fsdecode(ns.path)
        elif isinstance(ns, int) and not isinstance(ns, bool):
            if ns < 0:
                raise ValueError(f"invalid namespace fd {ns}")
            self.fd = ns
            self.label = f"fd {ns}"
        elif is_path(ns):
            self.path = os.fsencode(cast(Any, ns))
            self.label = os.fsdecode(self.path)
        elif isinstance(ns, (str, bytes)):
            self.name = encode_name(ns)
            self.label = os.fsdecode(self.name)
        else:
            raise TypeError(
                "expected a Netns, a name, a path or an fd, not "
                f"{type(ns).__name__}"
            )

    def shown(self) -> bytes:
        """The path the errors name."""
        if self.path is not None:
            return self.path
        if self.fd >= 0:
            return os.fsencode(self.label)
        return self.run_dir + b"/" + (self.name or b"")


def _argv(argv: Argv) -> list[Arg]:
    """The argument list: one program for a str, bytes or path (as
    subprocess without a shell), never a list of its characters."""
    if isinstance(argv, (str, bytes, os.PathLike)):
        return [argv]
    args = list(argv)
    if not args:
        raise ValueError("argv must not be empty")
    return args


def _env_list(env: Env) -> list[bytes]:
    entries = []
    items: Iterable[tuple[Union[str, bytes], Union[str, bytes]]] = env.items()
    for key, value in items:
        k = os.fsencode(key)
        if b"=" in k:
            raise ValueError("illegal environment variable name")
        entries.append(k + b"=" + os.fsencode(value))
    return entries


def _flags(full: bool, restore_signals: bool, new_session: bool) -> int:
    flags = _sys.SPAWN_CLOSE_FDS
    if full:
        flags |= _sys.SPAWN_FULL
    if restore_signals:
        flags |= _sys.SPAWN_RESTORE_SIGNALS
    if new_session:
        flags |= _sys.SPAWN_NEW_SESSION
    return flags


class Process(subprocess.Popen[Any]):
    """A :class:`subprocess.Popen` whose child runs in a network namespace.

    ``Process(ns, argv, *, full=True, run_dir=None, stdin=None,
    stdout=None, stderr=None, cwd=None, env=None, pass_fds=(),
    restore_signals=True, start_new_session=False, text=None,
    encoding=None, errors=None, bufsize=-1)``; the stream, cwd, env, text
    and signal arguments mean what they mean for Popen.

    ``ns`` is a :class:`~netns_fast.Netns` handle (named or anonymous:
    the child enters its fd), a name in the run directory, the path of a
    namespace file (a str or bytes with a "/", or a path object), or an
    open namespace fd. ``argv`` is a sequence of arguments, or a str,
    bytes or path naming one program to run without arguments (as
    subprocess does without a shell: ``"ip link"`` is a program of that
    name). ``/etc/netns/NAME`` is bound over ``/etc`` for a name or a
    named handle; a path or an fd has no name.

    Attributes (besides Popen's):
        netns: the namespace: its name, path, or "fd N".
        full: whether the child got ip's full set-up.

    Raises:
        InvalidNameError: the name breaks iproute2's rules.
        NamespaceNotFoundError: no such name or path (step "open_ns").
        NetnsFileNotFoundError: no such program (step "exec") or working
            directory (step "chdir"): a FileNotFoundError naming it, never
            a NamespaceNotFoundError.
        NotANamespaceError: a stale entry, a FIFO or anything else that
            is no network namespace (step "setns_net").
        NetnsOSError: any other failure; ``.step`` names it.
    """

    netns: str
    full: bool

    def __init__(
        self,
        ns: Target,
        argv: Argv,
        *,
        full: bool = True,
        run_dir: Optional[Name] = None,
        stdin: File = None,
        stdout: File = None,
        stderr: File = None,
        cwd: Optional[Arg] = None,
        env: Optional[Env] = None,
        pass_fds: Collection[int] = (),
        restore_signals: bool = True,
        start_new_session: bool = False,
        text: Optional[bool] = None,
        encoding: Optional[str] = None,
        errors: Optional[str] = None,
        bufsize: int = -1,
    ) -> None:
        self._nsf_where = _Where(ns, run_dir)
        self.netns = self._nsf_where.label
        self.full = bool(full)
        args = _argv(argv)
        # Through Any: Popen's overloads cannot type the optional text
        # arguments passed on as they are.
        cast(Any, super()).__init__(
            args,
            bufsize=bufsize,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=env,
            pass_fds=pass_fds,
            restore_signals=restore_signals,
            start_new_session=start_new_session,
            text=text,
            encoding=encoding,
            errors=errors,
        )

    # Popen.__init__ calls this with its POSIX signature; only the leading
    # parameters, the same from Python 3.9 on, are used.
    def _execute_child(  # noqa: PLR0917
        self,
        args: list[Arg],
        executable: object,
        preexec_fn: object,
        close_fds: bool,
        pass_fds: Collection[int],
        cwd: Optional[Arg],
        env: Optional[Env],
        startupinfo: object,
        creationflags: int,
        shell: bool,
        p2cread: int,
        p2cwrite: int,
        c2pread: int,
        c2pwrite: int,
        errread: int,
        errwrite: int,
        restore_signals: bool,
        *rest: object,
    ) -> None:
        """Clone the child in C (see the module doc)."""
        argv = [os.fsencode(a) for a in args]
        if any(b"\0" in a for a in argv):
            raise ValueError("embedded null byte")
        sys.audit("subprocess.Popen", argv[0], args, cwd, env)
        new_session = bool(rest[4]) if len(rest) > 4 else False
        where = self._nsf_where
        request = _sys.SpawnRequest(
            where.run_dir,
            where.name,
            argv,
            _flags(self.full, restore_signals, new_session),
            ns_path=where.path,
            ns_fd=where.fd,
            shown=where.shown(),
            env=None if env is None else _env_list(env),
            path=os.fsencode(
                os.pathsep.join(os.get_exec_path(cast(Any, env)))
            ),
            cwd=None if cwd is None else os.fsencode(cwd),
            cgroup_procs=(
                cgroup_procs_for_reset(where.run_dir) if self.full else None
            ),
            stdio=(p2cread, c2pwrite, errwrite),
            keep_fds=sorted(pass_fds),
        )
        try:
            self.pid = _sys.spawn(request)
            self._child_created = True
        finally:
            # Popen's own cleanup of the child's ends of the pipes.
            cast(Any, self)._close_pipe_fds(
                p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite
            )


spawn = Process
"""``spawn(ns, argv, ...)``: start ``argv`` in namespace ``ns`` (a handle,
a name, a path or an fd); the Popen-like :class:`Process` (spawn is the
class itself)."""


def run(
    ns: Target,
    argv: Argv,
    *,
    input: Union[bytes, str, None] = None,
    capture_output: bool = False,
    timeout: Optional[float] = None,
    check: bool = False,
    full: bool = True,
    run_dir: Optional[Name] = None,
    stdin: File = None,
    stdout: File = None,
    stderr: File = None,
    cwd: Optional[Arg] = None,
    env: Optional[Env] = None,
    pass_fds: Collection[int] = (),
    text: Optional[bool] = None,
    encoding: Optional[str] = None,
    errors: Optional[str] = None,
) -> subprocess.CompletedProcess[Any]:
    """Run ``argv`` inside namespace ``ns`` and wait, as subprocess.run.

    ``input``, ``capture_output``, ``timeout`` (the child is killed, then
    :class:`subprocess.TimeoutExpired` is raised) and ``check`` (raises
    :class:`subprocess.CalledProcessError` on a non-zero status) work as in
    :func:`subprocess.run`. The other arguments are :func:`spawn`'s.
    """
    if input is not None:
        if stdin is not None:
            raise ValueError("stdin and input arguments may not both be used.")
        stdin = subprocess.PIPE
    if capture_output:
        if stdout is not None or stderr is not None:
            raise ValueError(
                "stdout and stderr arguments may not be used "
                "with capture_output."
            )
        stdout = stderr = subprocess.PIPE
    with spawn(
        ns,
        argv,
        full=full,
        run_dir=run_dir,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        env=env,
        pass_fds=pass_fds,
        text=text,
        encoding=encoding,
        errors=errors,
    ) as process:
        try:
            out, err = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            exc.stdout, exc.stderr = process.communicate()
            raise
        except BaseException:
            process.kill()
            raise
        code = process.poll()
        assert code is not None  # communicate() waited for it
        if check and code:
            raise subprocess.CalledProcessError(
                code, process.args, output=out, stderr=err
            )
    return subprocess.CompletedProcess(process.args, code, out, err)


# -- asyncio -----------------------------------------------------------------


def _reap(pid: int) -> int:
    """Wait for the child; its returncode as subprocess gives it (-N for a
    signal), 255 if someone else reaped it (as asyncio does)."""
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except ChildProcessError:
        return 255


def _watch_exit(loop: asyncio.AbstractEventLoop, transport: Any) -> None:
    """Tell ``transport`` when its child exits: a pidfd read by the loop
    itself (no thread, and not the loop's child watcher, which knows
    nothing of this child); a thread that waits where the kernel has no
    pidfds (Linux < 5.3)."""
    pid = transport.get_pid()

    def reap() -> None:
        transport._process_exited(_reap(pid))

    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        import threading  # noqa: PLC0415 (old kernels only)

        def wait() -> None:
            code = _reap(pid)
            loop.call_soon_threadsafe(transport._process_exited, code)

        threading.Thread(target=wait, name="netns-wait", daemon=True).start()
        return

    def ready() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        reap()

    loop.add_reader(pidfd, ready)


async def create_subprocess_exec(
    ns: Target,
    program: Arg,
    *args: Arg,
    stdin: File = None,
    stdout: File = None,
    stderr: File = None,
    limit: int = 2**16,
    full: bool = True,
    run_dir: Optional[Name] = None,
    cwd: Optional[Arg] = None,
    env: Optional[Env] = None,
    pass_fds: Collection[int] = (),
    restore_signals: bool = True,
    start_new_session: bool = False,
) -> asyncio.subprocess.Process:
    """:func:`asyncio.create_subprocess_exec` inside namespace ``ns``.

    Returns an :class:`asyncio.subprocess.Process` (``wait``,
    ``communicate``, the stream pipes, ``send_signal``, ...). The child is
    started by the same C spawn as :func:`spawn` (``ns``, ``full`` and the
    other arguments mean what they mean there), so the event loop's
    thread never changes namespace and no other task ever runs inside
    ``ns``; the child's exit is read from a pidfd by the loop. Set-up
    errors raise at once, as for :func:`spawn`.
    """
    import asyncio  # noqa: PLC0415 (only for the async spawn)
    from asyncio import base_subprocess  # noqa: PLC0415
    from asyncio import subprocess as aio  # noqa: PLC0415

    class Transport(base_subprocess.BaseSubprocessTransport):
        def _start(  # noqa: PLR0917 (asyncio's signature)
            self,
            args: Any,
            shell: bool,
            stdin: File,
            stdout: File,
            stderr: File,
            bufsize: int,
            **kwargs: Any,
        ) -> None:
            self._proc = Process(
                ns,
                args,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                bufsize=bufsize,
                **kwargs,
            )

    loop = asyncio.get_running_loop()
    protocol = aio.SubprocessStreamProtocol(limit=limit, loop=loop)
    waiter = loop.create_future()
    transport = Transport(
        loop,
        protocol,
        [os.fsencode(a) for a in (program, *args)],
        False,
        stdin,
        stdout,
        stderr,
        0,
        waiter=waiter,
        full=full,
        run_dir=run_dir,
        cwd=cwd,
        env=env,
        pass_fds=pass_fds,
        restore_signals=restore_signals,
        start_new_session=start_new_session,
    )
    _watch_exit(loop, transport)
    try:
        await waiter
    except BaseException:
        transport.close()
        await transport._wait()
        raise
    return aio.Process(transport, protocol, loop)
