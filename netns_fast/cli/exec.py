"""``exec``, ``-all exec`` and ``-n NAME``: ip's netns_switch and cmd_exec.

The set-up itself is C (csrc/exec.c); this module picks the mode and words
the messages exactly as iproute2 6.1.0 does.

- ``exec NAME cmd...`` does not fork, as in ip: this process sets itself up
  and execs, so the caller sees the command's own exit status and signals.
- In batch mode and for ``-all exec`` a child is cloned per command and
  waited for. A child whose set-up fails exits 1 (iproute2 >= 6.9); 6.1.0's
  child returned into the batch loop and ran the rest of it a second time.
- ``-n NAME`` switches this process before the verb runs. The original mount
  namespace is kept open so that ``add`` and ``attach`` mount the new name
  where everybody sees it (ip mounts it in its private namespace, leaving a
  broken name behind).
"""

from __future__ import annotations

import os

from .. import _sys
from .._vrf import cgroup_procs_for_reset
from ..exceptions import NetnsOSError
from ._ctx import CliExit, foreach_entry, step_of, strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from ._ctx import Ctx

# ctx.state key: fd of the mount namespace the CLI started in (under -n).
HOME_MNT = "exec.home_mnt"
THREAD_NS_MNT = "/proc/thread-self/ns/mnt"
PROC_ENVIRON = "/proc/self/environ"

# iproute2's wording (netns_switch, cmd_exec) for the steps of the set-up
# and the exec, before the errno's text: %(name)s is NAME, %(cmd)s the
# command. Any other step is one at which ip itself failed to fork.
_SETUP_MESSAGES = {
    "open_ns": b'Cannot open network namespace "%(name)s": ',
    "path_too_long": b'Cannot open network namespace "%(name)s": ',
    "setns_net": b'setting the network namespace "%(name)s" failed: ',
    "unshare_mnt": b"unshare failed: ",
    "make_rslave": b'"mount --make-rslave /" failed: ',
    "mount_sysfs": b"mount of /sys failed: ",
    "exec": b'exec of "%(cmd)s" failed: ',
}
_SETUP_OTHER = b"fork: "

# Steps at which ip itself failed to fork (perror "fork", exit 1), and the
# step of the exec itself (exec NAME cmd then exits 1, not 255).
_FORK_STEPS = ("fork", "pipe", "mmap_stack")
_EXEC_STEP = "exec"


def setup_message(exc: OSError, name: bytes, cmd: bytes) -> bytes:
    """ip's message for a failed netns_switch or exec step."""
    template = _SETUP_MESSAGES.get(step_of(exc), _SETUP_OTHER)
    return template % {b"name": name, b"cmd": cmd} + strerror(exc.errno)


def exec_env() -> Optional[list[bytes]]:
    """exec_environ() as KEY=VALUE entries (the spawn request's form)."""
    env = exec_environ()
    return None if env is None else [k + b"=" + v for k, v in env.items()]


def exec_environ() -> Optional[dict[bytes, bytes]]:
    """The command's environment: the one netns-fast was started with.

    Python's start-up may have added LC_CTYPE (PEP 538 coerces the C
    locale); that change is undone. None when there is nothing to undo.
    """
    now = os.environb.get(b"LC_CTYPE")
    try:
        with open(PROC_ENVIRON, "rb") as f:
            original = f.read().split(b"\0")
    except OSError:
        return None
    was = next(
        (
            e[len(b"LC_CTYPE=") :]
            for e in original
            if e.startswith(b"LC_CTYPE=")
        ),
        None,
    )
    if was == now:
        return None
    env = dict(os.environb)
    if was is None:
        del env[b"LC_CTYPE"]
    else:
        env[b"LC_CTYPE"] = was
    return env


def _request(ctx: Ctx, name: bytes, argv: list[bytes]) -> _sys.SpawnRequest:
    # As ip: execvp with the environment and the fds unchanged; only the
    # signals Python ignores get their default back.
    return _sys.SpawnRequest(
        ctx.run_dir,
        name,
        argv,
        _sys.SPAWN_FULL | _sys.SPAWN_RESTORE_SIGNALS,
        env=exec_env(),
        cgroup_procs=cgroup_procs_for_reset(ctx.run_dir),
    )


def _exec_here(ctx: Ctx, name: bytes, argv: list[bytes]) -> int:
    """cmd_exec without fork: returns only if the set-up or exec failed."""
    request = _request(ctx, name, argv)
    ctx.out.flush()
    ctx.err.flush()
    try:
        _sys.exec_here(request)
    except NetnsOSError as exc:
        ctx.error(setup_message(exc, name, argv[0]))
        return 1 if exc.step == _EXEC_STEP else 255
    return 255  # not reached: exec_here only returns by raising


def _exec_child(ctx: Ctx, name: bytes, argv: list[bytes]) -> int:
    """cmd_exec with fork: the child's exit status. A child killed by a
    signal ends netns-fast with 1, as ip's exit(1)."""
    request = _request(ctx, name, argv)
    ctx.out.flush()
    try:
        pid = _sys.spawn(request)
    except NetnsOSError as exc:
        ctx.error(setup_message(exc, name, argv[0]))
        if exc.step in _FORK_STEPS:
            raise CliExit(1) from None
        return 1  # the child exited 1 after printing this
    try:
        _, status = os.waitpid(pid, 0)
    except OSError as exc:
        ctx.error(b"waitpid: " + strerror(exc.errno))
        raise CliExit(1) from None
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    raise CliExit(1)


def _exec_all(ctx: Ctx, argv: list[bytes]) -> int:
    """-all exec: every name in directory order; statuses are ignored."""
    entries = foreach_entry(ctx)
    if entries is None:
        return 1
    for name in entries:
        ctx.out.write(b"\nnetns: " + name + b"\n")
        _exec_child(ctx, name, argv)
    return 0


def do_exec(ctx: Ctx, args: list[bytes]) -> int:
    """exec NAME cmd ..., or -all exec cmd ..."""
    if not args and not ctx.do_all:
        ctx.error(b"No netns name specified")
        return 1
    if (len(args) < 2 and not ctx.do_all) or not args:
        ctx.error(b"No command specified")
        return 1
    if ctx.do_all:
        return _exec_all(ctx, args)
    if ctx.batch_mode:
        return _exec_child(ctx, args[0], args[1:])
    return _exec_here(ctx, args[0], args[1:])


def switch_for_option(ctx: Ctx, target: Optional[bytes]) -> bool:
    """-n NAME: ip's netns_switch for this process before the verb runs.

    Prints ip's message and returns False on failure. A missing argument
    is ip's NULL, which it prints as "(null)".
    """
    name = b"(null)" if target is None else target
    if HOME_MNT not in ctx.state:
        import weakref  # only under -n (start-up)

        try:
            home = os.open(THREAD_NS_MNT, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            ctx.state[HOME_MNT] = None  # add/attach will refuse
        else:
            ctx.state[HOME_MNT] = home
            weakref.finalize(ctx, os.close, home)  # when run() is done
    try:
        _sys.switch(ctx.run_dir, name)
    except NetnsOSError as exc:
        ctx.error(setup_message(exc, name, b""))
        return False
    return True


def _enter_or_exit(ctx: Ctx, fd: int, what: bytes) -> None:
    try:
        _sys.enter_mnt(fd)
    except OSError as exc:
        ctx.error(
            b"Cannot enter the "
            + what
            + b" mount namespace: "
            + strerror(exc.errno)
        )
        raise CliExit(1) from None


class HomeMounts:
    """A ``with`` block run in the mount namespace netns-fast started in.

    Under -n this process lives in a private mount namespace (ip's
    netns_switch), so a name bound there would be seen by nobody else.
    add and attach mount in the original one instead; the network
    namespace (NAME's) and the working directory are kept.
    """

    def __init__(self, ctx: Ctx) -> None:
        self._ctx = ctx
        self._here = -1
        self._cwd: Optional[int] = None

    def __enter__(self) -> None:
        ctx = self._ctx
        home = ctx.state.get(HOME_MNT)
        if not isinstance(home, int):
            ctx.error(
                b"Cannot add a name under -n: the original mount namespace "
                b"is not available"
            )
            raise CliExit(1)
        self._here = os.open(THREAD_NS_MNT, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._cwd = os.open(".", os.O_PATH | os.O_CLOEXEC)
        except OSError:
            self._cwd = None
        try:
            _enter_or_exit(ctx, home, b"original")
        except BaseException:
            self._close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            # setns to a mount namespace moves the cwd to its root.
            _enter_or_exit(self._ctx, self._here, b"private")
            if self._cwd is not None:
                os.fchdir(self._cwd)
        finally:
            self._close()

    def _close(self) -> None:
        os.close(self._here)
        if self._cwd is not None:
            os.close(self._cwd)
