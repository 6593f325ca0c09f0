"""The only module that touches the compiled cffi core.

Each wrapper passes bytes to C, which runs with the GIL released, and turns
a negative return (-errno plus the failing step) into the matching
:mod:`netns_fast.exceptions` class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Optional

from ._netns import ffi, lib
from .exceptions import NetnsOSError, error_for

THREAD_NS_NET = "/proc/thread-self/ns/net"

# NSF_STEP_CREATE -> "create", for every C module's step enum.
STEP_NAMES: dict[int, str] = {
    getattr(lib, attr): attr[len("NSF_STEP_") :].lower()
    for attr in dir(lib)
    if attr.startswith("NSF_STEP_")
}

# Steps whose failing object is the run directory itself.
_RUN_DIR_STEPS = frozenset(
    ("mkdir", "open_dir", "make_shared", "self_bind", "make_private", "stat")
)


def step_name(step: int) -> str:
    """The name of a C step number ("" for none)."""
    return STEP_NAMES.get(step, "") if step else ""


def _error(
    rc: int, step: int, run_dir: bytes, name: bytes, source: Optional[str]
) -> NetnsOSError:
    which = step_name(step)
    if which in _RUN_DIR_STEPS:
        path: Optional[str] = os.fsdecode(run_dir)
    elif which == "save_ns":
        path = THREAD_NS_NET
    elif which == "unshare":
        path = None
    else:
        path = os.fsdecode(run_dir + b"/" + name)
    return error_for(-rc, which, path, source if which == "bind" else None)


def prepare_run_dir(run_dir: bytes) -> None:
    """Make run_dir exist and be a shared mount point (cached)."""
    step = ffi.new("int *")
    rc = lib.nsf_prepare_run_dir(run_dir, step)
    if rc < 0:
        raise _error(rc, step[0], run_dir, b"", None)


def forget_run_dir() -> None:
    """Drop the C core's cached run-directory state."""
    lib.nsf_forget_run_dir()


def add(run_dir: bytes, name: bytes) -> None:
    """A new network namespace bound at run_dir/name."""
    step = ffi.new("int *")
    rc = lib.nsf_add(run_dir, name, step)
    if rc < 0:
        raise _error(rc, step[0], run_dir, name, THREAD_NS_NET)


def attach(run_dir: bytes, name: bytes, pid: int) -> None:
    """Bind /proc/PID/ns/net at run_dir/name."""
    step = ffi.new("int *")
    rc = lib.nsf_attach(run_dir, name, pid, step)
    if rc < 0:
        raise _error(rc, step[0], run_dir, name, f"/proc/{pid}/ns/net")


def delete(run_dir: bytes, name: bytes) -> None:
    """Unmount every mount on run_dir/name, then unlink it."""
    step = ffi.new("int *")
    rc = lib.nsf_delete(run_dir, name, step)
    if rc < 0:
        raise _error(rc, step[0], run_dir, name, None)


def _many(
    adding: bool, run_dir: bytes, names: Sequence[bytes], threads: int
) -> list[Optional[NetnsOSError]]:
    n = len(names)
    if n == 0:
        return []
    keep = [ffi.new("char[]", name) for name in names]
    c_names = ffi.new("char *[]", keep)
    results = ffi.new("int[]", n)
    steps = ffi.new("int[]", n)
    func = lib.nsf_add_many if adding else lib.nsf_delete_many
    rc = func(run_dir, c_names, n, threads, results, steps)
    if rc < 0:
        raise error_for(-rc, "thread", os.fsdecode(run_dir))
    source = THREAD_NS_NET if adding else None
    return [
        None
        if results[i] == 0
        else _error(results[i], steps[i], run_dir, names[i], source)
        for i in range(n)
    ]


def add_many(
    run_dir: bytes, names: Sequence[bytes], threads: int
) -> list[Optional[NetnsOSError]]:
    """add for every name on C threads; one error (or None) per name."""
    return _many(True, run_dir, names, threads)


def delete_many(
    run_dir: bytes, names: Sequence[bytes], threads: int
) -> list[Optional[NetnsOSError]]:
    """delete for every name on C threads; one error (or None) per name."""
    return _many(False, run_dir, names, threads)


def cpu_count() -> int:
    """CPUs this thread may run on."""
    return int(lib.nsf_cpu_count())


# ---------------------------------------------------------------------------
# exec: running commands inside a namespace (csrc/exec.h)
# ---------------------------------------------------------------------------

SPAWN_FULL: int = lib.NSF_SPAWN_FULL
SPAWN_CLOSE_FDS: int = lib.NSF_SPAWN_CLOSE_FDS
SPAWN_RESTORE_SIGNALS: int = lib.NSF_SPAWN_RESTORE_SIGNALS
SPAWN_NEW_SESSION: int = lib.NSF_SPAWN_NEW_SESSION
SPAWN_FORK: int = lib.NSF_SPAWN_FORK


def _exec_error(
    rc: int,
    step: int,
    *,
    run_dir: bytes,
    name: bytes,
    program: bytes,
    cwd: Optional[bytes],
) -> NetnsOSError:
    which = step_name(step)
    path: Optional[bytes] = None
    if which in ("open_ns", "setns"):
        path = run_dir + b"/" + name
    elif which == "exec":
        path = program
    elif which == "chdir":
        path = cwd
    return error_for(-rc, which, None if path is None else os.fsdecode(path))


def _c_str(keep: list[object], value: Optional[bytes]) -> object:
    if value is None:
        return ffi.NULL
    buf = ffi.new("char[]", value)
    keep.append(buf)
    return buf


def _c_strv(keep: list[object], values: Sequence[bytes]) -> object:
    bufs = [ffi.new("char[]", v) for v in values]
    vec = ffi.new("char *[]", [*bufs, ffi.NULL])
    keep.extend(bufs)
    keep.append(vec)
    return vec


class SpawnRequest:
    """A struct nsf_spawn_req and the C buffers it points to."""

    def __init__(
        self,
        run_dir: bytes,
        name: bytes,
        argv: Sequence[bytes],
        flags: int,
        *,
        env: Optional[Sequence[bytes]] = None,
        path: Optional[bytes] = None,
        cwd: Optional[bytes] = None,
        cgroup_procs: Optional[bytes] = None,
        stdio: tuple[int, int, int] = (-1, -1, -1),
        keep_fds: Sequence[int] = (),
    ) -> None:
        if not argv:
            raise ValueError("argv must not be empty")
        self.run_dir, self.name, self.program, self.cwd = (
            run_dir,
            name,
            argv[0],
            cwd,
        )
        keep: list[object] = []
        req = ffi.new("struct nsf_spawn_req *")
        req.run_dir = _c_str(keep, run_dir)
        req.name = _c_str(keep, name)
        req.file = _c_str(keep, argv[0])
        req.argv = _c_strv(keep, argv)
        req.envp = ffi.NULL if env is None else _c_strv(keep, env)
        req.path = _c_str(keep, path)
        req.cwd = _c_str(keep, cwd)
        req.cgroup_procs = _c_str(keep, cgroup_procs)
        req.fd_in, req.fd_out, req.fd_err = stdio
        fds = sorted(set(keep_fds))
        if fds:
            c_fds = ffi.new("int[]", fds)
            keep.append(c_fds)
            req.keep_fds = c_fds
        req.n_keep = len(fds)
        req.flags = flags
        self.req = req
        self._keep = keep

    def error(self, rc: int, step: int) -> NetnsOSError:
        """The exception for a failed spawn or exec of this request."""
        return _exec_error(
            rc,
            step,
            run_dir=self.run_dir,
            name=self.name,
            program=self.program,
            cwd=self.cwd,
        )


def spawn(request: SpawnRequest) -> int:
    """Start the request's child; its pid once it has exec'd."""
    step = ffi.new("int *")
    rc = lib.nsf_spawn(request.req, step)
    if rc < 0:
        raise request.error(rc, step[0])
    return int(rc)


def exec_here(request: SpawnRequest) -> None:
    """Set this process up and exec; returns only by raising."""
    step = ffi.new("int *")
    rc = lib.nsf_exec(request.req, step)
    raise request.error(rc, step[0])


def spawn_loop(request: SpawnRequest, n: int) -> int:
    """Spawn and wait n times in C; how many children did not exit 0."""
    step = ffi.new("int *")
    rc = lib.nsf_spawn_loop(request.req, n, step)
    if rc < 0:
        raise request.error(rc, step[0])
    return int(rc)


def switch(run_dir: bytes, name: bytes) -> None:
    """ip's netns_switch for the calling thread (the CLI's -n NAME)."""
    step = ffi.new("int *")
    rc = lib.nsf_switch(run_dir, name, step)
    if rc < 0:
        raise _exec_error(
            rc, step[0], run_dir=run_dir, name=name, program=b"", cwd=None
        )


def enter_mnt(fd: int) -> None:
    """setns(fd, CLONE_NEWNS) for the calling thread."""
    step = ffi.new("int *")
    rc = lib.nsf_enter_mnt(fd, step)
    if rc < 0:
        raise error_for(-rc, step_name(step[0]))
