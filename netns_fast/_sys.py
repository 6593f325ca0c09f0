"""The only module that touches the compiled cffi core.

Each wrapper passes bytes to C, which runs with the GIL released, and turns
a negative return (-errno plus the failing step) into the matching
:mod:`netns_fast.exceptions` class through the one :func:`_oserror`: the
step table below says what each step is called and which of the paths
the wrapper knows the exception names.
"""

from __future__ import annotations

import errno
import os
import struct

from ._names import THREAD_NS_NET as THREAD_NS_NET  # noqa: PLC0414 (re-export)
from ._names import note_gone, note_made
from ._netns import ffi, lib
from .exceptions import NetnsOSError, error_class

# The CLI imports this module: no typing or collections at run time (their
# imports would be most of its start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any, Optional, Union

    _PathArg = Union[str, bytes, None]

# == steps and errors =========================================================

NOT_A_NAMESPACE = "Not a network namespace file"
"""strerror at step "not_netns": the file was refused before any setns."""


# step -> (the path its exception names as .filename, as .filename2), by
# the role the path plays in the call (the keywords of _oserror):
#   "path"     the file the call is about: run_dir/NAME, a namespace file,
#              /proc, or the run directory of a call about it as a whole
#   "path2"    the second file: the source of a bind, the program of exec
#   "run_dir"  the run directory
#   "cwd"      the working directory of a spawn
#   "thread"   THREAD_NS_NET (the calling thread's namespace)
#   ""         none
# Every NSF_STEP_* of csrc/steps.h is here (tests/unit/test_stub.py).
_STEP_PATHS: dict[int, tuple[str, str]] = {
    lib.NSF_STEP_NONE: ("", ""),
    # the run directory
    lib.NSF_STEP_MKDIR_RUN_DIR: ("run_dir", ""),
    lib.NSF_STEP_OPEN_RUN_DIR: ("run_dir", ""),
    lib.NSF_STEP_READ_RUN_DIR: ("run_dir", ""),
    lib.NSF_STEP_MAKE_SHARED: ("run_dir", ""),
    lib.NSF_STEP_SELF_BIND: ("run_dir", ""),
    lib.NSF_STEP_MAKE_PRIVATE: ("run_dir", ""),
    # a name
    lib.NSF_STEP_PATH_TOO_LONG: ("path", ""),
    lib.NSF_STEP_CREATE_NAME: ("path", ""),
    lib.NSF_STEP_BIND: ("path", "path2"),
    lib.NSF_STEP_UNLINK_NAME: ("path", ""),
    # network namespaces and the calling thread
    lib.NSF_STEP_OPEN_THREAD_NET: ("thread", ""),
    lib.NSF_STEP_UNSHARE_NET: ("", ""),
    lib.NSF_STEP_OPEN_NS: ("path", ""),
    lib.NSF_STEP_NOT_NETNS: ("path", ""),
    lib.NSF_STEP_STAT_NS: ("path", ""),
    lib.NSF_STEP_SETNS_NET: ("path", ""),
    lib.NSF_STEP_RESTORE_NET: ("thread", ""),
    lib.NSF_STEP_VERIFY_NET: ("thread", ""),
    # sockets and rtnetlink
    lib.NSF_STEP_SOCKET: ("", ""),
    lib.NSF_STEP_LO_UP: ("", ""),
    lib.NSF_STEP_SOCKET_NETLINK: ("path", ""),
    lib.NSF_STEP_SEND_NETLINK: ("path", ""),
    lib.NSF_STEP_RECV_NETLINK: ("path", ""),
    lib.NSF_STEP_RTM_GETNSID: ("path", ""),
    # /proc and inotify
    lib.NSF_STEP_OPEN_PROC: ("path", ""),
    lib.NSF_STEP_READ_PROC: ("path", ""),
    lib.NSF_STEP_INOTIFY_INIT: ("run_dir", ""),
    lib.NSF_STEP_INOTIFY_ADD_WATCH: ("run_dir", ""),
    lib.NSF_STEP_READ_INOTIFY: ("", ""),
    lib.NSF_STEP_POLL: ("", ""),
    lib.NSF_STEP_EVENTFD: ("", ""),
    # processes
    lib.NSF_STEP_UNSHARE_MNT: ("", ""),
    lib.NSF_STEP_MAKE_RSLAVE: ("", ""),
    lib.NSF_STEP_MOUNT_SYSFS: ("", ""),
    lib.NSF_STEP_SETNS_MNT: ("", ""),
    lib.NSF_STEP_PIPE: ("", ""),
    lib.NSF_STEP_MMAP_STACK: ("", ""),
    lib.NSF_STEP_FORK: ("", ""),
    lib.NSF_STEP_WAIT: ("", ""),
    lib.NSF_STEP_SETSID: ("", ""),
    lib.NSF_STEP_DUP_STDIO: ("", ""),
    lib.NSF_STEP_CHDIR: ("cwd", ""),
    lib.NSF_STEP_KEEP_FD: ("", ""),
    lib.NSF_STEP_EXEC: ("path2", ""),
    # the private world of rootless (the wrappers name the /proc files)
    lib.NSF_STEP_THREADS: ("path", ""),
    lib.NSF_STEP_UNSHARE_USER: ("", ""),
    lib.NSF_STEP_SETGROUPS: ("path", ""),
    lib.NSF_STEP_UID_MAP: ("path", ""),
    lib.NSF_STEP_GID_MAP: ("path", ""),
    lib.NSF_STEP_MOUNT_TMPFS: ("path", ""),
    lib.NSF_STEP_OPEN_TREE: ("path", ""),
    lib.NSF_STEP_MOVE_MOUNT: ("path", ""),
    # memory, threads, the pool
    lib.NSF_STEP_MALLOC: ("path", ""),
    lib.NSF_STEP_PTHREAD_CREATE: ("path", ""),
    lib.NSF_STEP_POOL_CONFIG: ("path", ""),
    lib.NSF_STEP_POOL_CLOSED: ("", ""),
    lib.NSF_STEP_POOL_TIMEOUT: ("", ""),
    # wiring: the namespace's path, and the link, address, route or
    # sysctl file the request was about
    lib.NSF_STEP_WIRE_REQUEST: ("path", "path2"),
    lib.NSF_STEP_RTM_NEWLINK: ("path", "path2"),
    lib.NSF_STEP_RTM_DELLINK: ("path", "path2"),
    lib.NSF_STEP_RTM_GETLINK: ("path", "path2"),
    lib.NSF_STEP_RTM_NEWADDR: ("path", "path2"),
    lib.NSF_STEP_RTM_DELADDR: ("path", "path2"),
    lib.NSF_STEP_RTM_GETADDR: ("path", ""),
    lib.NSF_STEP_RTM_NEWROUTE: ("path", "path2"),
    lib.NSF_STEP_RTM_DELROUTE: ("path", "path2"),
    lib.NSF_STEP_RTM_GETROUTE: ("path", ""),
    lib.NSF_STEP_OPEN_SYSCTL: ("path2", "path"),
    lib.NSF_STEP_READ_SYSCTL: ("path2", "path"),
    lib.NSF_STEP_WRITE_SYSCTL: ("path2", "path"),
    lib.NSF_STEP_WAIT_LINK: ("path", "path2"),
}


class Step:
    """A C step: its name (the exception's ``.step``) and the roles of the
    paths its exception names (see _STEP_PATHS). A plain class, not a
    typing.NamedTuple, whose import the CLI would pay."""

    __slots__ = ("filename", "filename2", "name")

    def __init__(self, name: str, filename: str, filename2: str) -> None:
        self.name = name
        self.filename = filename
        self.filename2 = filename2


def _step_table() -> dict[int, Step]:
    # NSF_STEP_CREATE_NAME -> "create_name"; NSF_STEP_NONE -> "".
    table: dict[int, Step] = {}
    for attr in dir(lib):
        if attr.startswith("NSF_STEP_"):
            value = getattr(lib, attr)
            name = attr[len("NSF_STEP_") :].lower() if value else ""
            table[value] = Step(name, *_STEP_PATHS.get(value, ("", "")))
    return table


STEPS: dict[int, Step] = _step_table()
"""The step table: every NSF_STEP_* value and its Step."""
_NOT_NETNS: int = lib.NSF_STEP_NOT_NETNS


def step_name(step: int) -> str:
    """The name of a C step number ("" for none)."""
    entry = STEPS.get(step)
    return entry.name if entry else ""


def _oserror(
    rc: int,
    step: int,
    *,
    path: _PathArg = None,
    path2: _PathArg = None,
    run_dir: _PathArg = None,
    cwd: _PathArg = None,
    text: Optional[str] = None,
) -> NetnsOSError:
    """The exception for a C call that returned ``rc`` (-errno) at C step
    ``step``: the class error_class picks, the step's name, as filenames
    those of the given paths the step table names, and as strerror
    ``text`` (the kernel's extended-ack message) when given."""
    err = -rc
    entry = STEPS.get(step) or Step("", "", "")
    given: dict[str, _PathArg] = {
        "path": path,
        "path2": path2,
        "run_dir": run_dir,
        "cwd": cwd,
        "thread": THREAD_NS_NET,
    }

    def pick(role: str) -> Optional[str]:
        value = given.get(role)
        return None if value is None else os.fsdecode(value)

    why = text or (NOT_A_NAMESPACE if step == _NOT_NETNS else None)
    return error_class(err, entry.name)(
        err,
        why or os.strerror(err),
        pick(entry.filename),
        entry.name,
        pick(entry.filename2),
    )


# == lifecycle: add, attach, delete, batches (csrc/lifecycle.h) ===============


def _join(run_dir: bytes, name: bytes) -> bytes:
    return run_dir + b"/" + name


def prepare_run_dir(run_dir: bytes) -> None:
    """Make run_dir exist and be a shared mount point (cached)."""
    step = ffi.new("int *")
    rc = lib.nsf_prepare_run_dir(run_dir, step)
    if rc < 0:
        raise _oserror(rc, step[0], path=run_dir, run_dir=run_dir)


def flock_error() -> int:
    """errno of the run-directory flock that this thread's last add,
    attach or add_many could not take (ip warns and goes on), or 0.

    Read it right after that call, whether it raised or not.
    """
    return int(lib.nsf_flock_error())


def add(run_dir: bytes, name: bytes) -> None:
    """A new network namespace bound at run_dir/name."""
    step = ffi.new("int *")
    rc = lib.nsf_add(run_dir, name, step)
    if rc < 0:
        raise _oserror(
            rc,
            step[0],
            path=_join(run_dir, name),
            path2=THREAD_NS_NET,
            run_dir=run_dir,
        )
    note_made(_join(run_dir, name))


def attach(run_dir: bytes, name: bytes, pid: int) -> None:
    """Bind /proc/PID/ns/net at run_dir/name."""
    step = ffi.new("int *")
    rc = lib.nsf_attach(run_dir, name, pid, step)
    if rc < 0:
        raise _oserror(
            rc,
            step[0],
            path=_join(run_dir, name),
            path2=f"/proc/{pid}/ns/net",
            run_dir=run_dir,
        )
    note_made(_join(run_dir, name))


def delete(run_dir: bytes, name: bytes) -> None:
    """Unmount every mount on run_dir/name, then unlink it."""
    step = ffi.new("int *")
    rc = lib.nsf_delete(run_dir, name, step)
    if rc in (0, -errno.ENOENT):
        note_gone(_join(run_dir, name))
    if rc < 0:
        raise _oserror(rc, step[0], path=_join(run_dir, name), run_dir=run_dir)


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
    if rc < 0:  # the calling thread's namespace could not be saved
        raise _oserror(rc, lib.NSF_STEP_OPEN_THREAD_NET)
    note = note_made if adding else note_gone
    for i in range(n):
        if results[i] == 0 or (not adding and results[i] == -errno.ENOENT):
            note(_join(run_dir, names[i]))
    source = THREAD_NS_NET if adding else None
    return [
        None
        if results[i] == 0
        else _oserror(
            results[i],
            steps[i],
            path=_join(run_dir, names[i]),
            path2=source,
            run_dir=run_dir,
        )
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


# == exec: exec, -n, spawn (csrc/exec.h) ======================================

SPAWN_FULL: int = lib.NSF_SPAWN_FULL
SPAWN_CLOSE_FDS: int = lib.NSF_SPAWN_CLOSE_FDS
SPAWN_RESTORE_SIGNALS: int = lib.NSF_SPAWN_RESTORE_SIGNALS
SPAWN_NEW_SESSION: int = lib.NSF_SPAWN_NEW_SESSION
SPAWN_FORK: int = lib.NSF_SPAWN_FORK
SPAWN_NS_FD: int = lib.NSF_SPAWN_NS_FD


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
        name: Optional[bytes],
        argv: Sequence[bytes],
        flags: int,
        *,
        ns_path: Optional[bytes] = None,
        ns_fd: int = -1,
        shown: Optional[bytes] = None,
        env: Optional[Sequence[bytes]] = None,
        path: Optional[bytes] = None,
        cwd: Optional[bytes] = None,
        cgroup_procs: Optional[bytes] = None,
        stdio: tuple[int, int, int] = (-1, -1, -1),
        keep_fds: Sequence[int] = (),
    ) -> None:
        if not argv:
            raise ValueError("argv must not be empty")
        # The namespace, as the errors name it: shown (e.g. a handle's
        # path), else ns_path, else run_dir/name.
        if shown is None:
            shown = ns_path or _join(run_dir, name or b"")
        self.run_dir, self.name, self.shown = run_dir, name, shown
        self.program, self.cwd = argv[0], cwd
        keep: list[object] = []
        req = ffi.new("struct nsf_spawn_req *")
        req.run_dir = _c_str(keep, run_dir)
        req.ns_path = _c_str(keep, ns_path)
        req.ns_fd = ns_fd
        if ns_fd >= 0:
            flags |= lib.NSF_SPAWN_NS_FD
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
        return _oserror(
            rc, step, path=self.shown, path2=self.program, cwd=self.cwd
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


def switch(run_dir: bytes, name: bytes) -> None:
    """ip's netns_switch for the calling thread (the CLI's -n NAME)."""
    step = ffi.new("int *")
    rc = lib.nsf_switch(run_dir, name, step)
    if rc < 0:
        raise _oserror(rc, step[0], path=_join(run_dir, name))


def enter_mnt(fd: int) -> None:
    """setns(fd, CLONE_NEWNS) for the calling thread."""
    step = ffi.new("int *")
    rc = lib.nsf_enter_mnt(fd, step)
    if rc < 0:
        raise _oserror(rc, step[0])


# == handle: anonymous namespaces, enter/leave, sockets (csrc/handle.h) =======


def open_ns(path: bytes) -> int:
    """Open the network namespace file at ``path``: an fd for setns.

    Every namespace file netns_fast opens by path goes through here: the
    open never blocks (a FIFO in the run directory, a device) and a file
    that is no network namespace raises NotANamespaceError (step
    "not_netns") instead of being handed on; a failed open raises the
    errno's class at step "open_ns" (e.g. NamespaceNotFoundError).
    """
    step = ffi.new("int *")
    fd = lib.nsf_open_ns(path, step)
    if fd < 0:
        raise _oserror(fd, step[0], path=path)
    return int(fd)


def enter(ns_fd: int, path: Optional[str] = None) -> int:
    """Move the calling thread into ns_fd; returns the saved fd."""
    step = ffi.new("int *")
    saved = lib.nsf_enter(ns_fd, step)
    if saved < 0:
        raise _oserror(saved, step[0], path=path)
    return int(saved)


def leave(saved_fd: int, *, close_on_error: bool = True) -> None:
    """Move the calling thread back to saved_fd (checked) and close it.

    On failure NamespaceRestoreError is raised, and saved_fd is closed
    unless ``close_on_error`` is False.
    """
    step = ffi.new("int *")
    rc = lib.nsf_leave(saved_fd, step)
    if rc < 0:
        if close_on_error:
            os.close(saved_fd)
        raise _oserror(rc, step[0])


def socket_in(ns_fd: int, family: int, type_: int, proto: int) -> int:
    """A socket made inside ns_fd's namespace; returns its fd."""
    step = ffi.new("int *")
    fd = lib.nsf_socket_in(ns_fd, family, type_, proto, step)
    if fd < 0:
        raise _oserror(fd, step[0])
    return int(fd)


def lo_up(ns_fd: int) -> None:
    """Bring the loopback of ns_fd's namespace up."""
    step = ffi.new("int *")
    rc = lib.nsf_lo_up(ns_fd, step)
    if rc < 0:
        raise _oserror(rc, step[0])


def probe_netns() -> Optional[NetnsOSError]:
    """None if a forked child may unshare(CLONE_NEWNET), else the error."""
    step = ffi.new("int *")
    rc = lib.nsf_probe_netns(step)
    return None if rc == 0 else _oserror(rc, step[0])


def thread_ns_ino() -> int:
    """Inode of the calling thread's network namespace."""
    step = ffi.new("int *")
    ino = ffi.new("unsigned long long *")
    rc = lib.nsf_thread_ns_ino(ino, step)
    if rc < 0:
        raise _oserror(rc, step[0], path=THREAD_NS_NET)
    return int(ino[0])


# == rootless: the private world (csrc/rootless.h) ============================

THREAD_TASKS = "/proc/thread-self/.."
"""The calling process's tasks (one entry per thread)."""

# The /proc file each step of nsf_rootless_unshare writes or reads.
_ROOTLESS_FILES = {
    lib.NSF_STEP_THREADS: THREAD_TASKS,
    lib.NSF_STEP_SETGROUPS: "/proc/thread-self/setgroups",
    lib.NSF_STEP_UID_MAP: "/proc/thread-self/uid_map",
    lib.NSF_STEP_GID_MAP: "/proc/thread-self/gid_map",
}


def rootless_unshare(lo_up: bool) -> None:
    """This (single-threaded) process into a new user namespace (its ids
    mapped to 0), mount namespace (/ rslave) and network namespace."""
    step = ffi.new("int *")
    rc = lib.nsf_rootless_unshare(lib.NSF_ROOTLESS_LO_UP if lo_up else 0, step)
    if rc < 0:
        raise _oserror(rc, step[0], path=_ROOTLESS_FILES.get(step[0]))


def thread_count() -> int:
    """How many threads this process has."""
    step = ffi.new("int *")
    rc = lib.nsf_thread_count(step)
    if rc < 0:
        raise _oserror(rc, step[0], path=THREAD_TASKS)
    return int(rc)


def mount_tmpfs(path: bytes) -> None:
    """A fresh tmpfs (0755) on the directory ``path``."""
    step = ffi.new("int *")
    rc = lib.nsf_mount_tmpfs(path, step)
    if rc < 0:
        raise _oserror(rc, step[0], path=path)


def clone_tree(dir_fd: int, path: bytes) -> int:
    """A detached recursive copy of the mount tree at ``path`` (relative
    to ``dir_fd``, -1: the working directory); its fd."""
    step = ffi.new("int *")
    fd = lib.nsf_clone_tree(dir_fd, path, step)
    if fd < 0:
        raise _oserror(fd, step[0], path=path)
    return int(fd)


def move_tree(tree_fd: int, dir_fd: int, path: bytes) -> None:
    """Attach the detached tree ``tree_fd`` on ``path`` (relative to
    ``dir_fd``, -1: the working directory)."""
    step = ffi.new("int *")
    rc = lib.nsf_move_tree(tree_fd, dir_fd, path, step)
    if rc < 0:
        raise _oserror(rc, step[0], path=path)


def mount_sysfs() -> None:
    """A fresh sysfs on /sys for the calling thread's network namespace."""
    step = ffi.new("int *")
    rc = lib.nsf_mount_sysfs(step)
    if rc < 0:
        raise _oserror(rc, step[0])


# == pool: the pool of fresh namespaces (csrc/pool.h) =========================


POOL_STAT_FIELDS = (
    "ready",
    "outstanding",
    "queued",
    "pending",
    "pending_max",
    "created",
    "acquired",
    "released",
    "deleted",
    "freed",
    "stuck",
    "throttled",
    "enospc",
    "resyncs",
    "failing",
    "observing",
)


def _cstr(chars: Any) -> bytes:
    """The text of a char[] (an empty one without ffi.string, which costs
    microseconds on the pool's hot path)."""
    return ffi.string(chars) if chars[0] != b"\0" else b""


class PoolNode:
    """One namespace of a pre-wired topology taken from a C pool: its fd,
    inode and name (b"": anonymous), and its rtnetlink socket (-1: none),
    the taker's."""

    __slots__ = ("fd", "ino", "name", "rtnl")

    def __init__(self, fd: int, ino: int, name: bytes, rtnl: int) -> None:
        self.fd = fd
        self.ino = ino
        self.name = name
        self.rtnl = rtnl


class PoolItem:
    """One namespace (or, from a topology pool, one topology: ``nodes``,
    and each wiring request's (index, peer index) in ``indexes``) taken
    from a C pool; ``cdata`` goes back on release."""

    __slots__ = (
        "cdata",
        "fd",
        "indexes",
        "ino",
        "key",
        "name",
        "nodes",
        "nsid",
    )

    def __init__(
        self, fd: int, ino: int, nsid: int, name: bytes, cdata: Any
    ) -> None:
        self.fd = fd
        self.ino = ino
        self.nsid = nsid
        self.name = name
        self.cdata = cdata
        self.key = fd
        """The fd that names the item among those taken (the first
        node's for a topology)."""
        self.nodes: list[PoolNode] = []
        self.indexes: list[tuple[int, int]] = []

    def take_net(self, net: Any, named: Sequence[bool]) -> None:
        """Read a topology item's nodes and indexes (struct nsf_pool_net,
        written by nsf_pool_acquire: a few array reads, no per-field
        cdata on this hot path); ``named``: which nodes have names."""
        n = len(named)
        flat = ffi.unpack(net.taken, 2 * (n + net.nreqs))
        inos = ffi.unpack(net.inos, n)
        self.nodes = [
            PoolNode(
                flat[2 * k],
                inos[k],
                _cstr(net.node[k].name) if named[k] else b"",
                flat[2 * k + 1],
            )
            for k in range(n)
        ]
        self.key = flat[0]
        rest = flat[2 * n :]
        self.indexes = list(zip(rest[0::2], rest[1::2]))


class PoolCore:
    """The C pool (csrc/pool.c); see netns_fast._pool.Pool for the API."""

    def __init__(
        self,
        run_dir: Optional[bytes],
        *,
        prefix: bytes,
        size: int,
        threads: int,
        lo_up: bool,
        max_pending: int,
        batch: int,
        batch_delay_us: int,
        stuck_ms: int,
        fail_ms: int,
        nodes: Sequence[tuple[str, bool]] = (),
        wiring: Sequence[WireReq] = (),
    ) -> None:
        """``nodes`` (a topology pool: each node's label and whether it
        is named) and ``wiring`` (requests over nodes 0 .. n - 1)."""
        cfg = ffi.new("struct nsf_pool_config *")
        keep: list[object] = [ffi.new("char[]", prefix)]
        cfg.prefix = keep[0]
        if run_dir is not None:
            keep.append(ffi.new("char[]", run_dir))
            cfg.run_dir = keep[1]
        cfg.size = size
        cfg.threads = threads
        cfg.flags = lib.NSF_LO_UP if lo_up else 0
        cfg.max_pending = max_pending
        cfg.batch = batch
        cfg.batch_delay_us = batch_delay_us
        cfg.stuck_ms = stuck_ms
        cfg.fail_ms = fail_ms
        self._named = [flag for _, flag in nodes]
        self._template = WireTemplate([label for label, _ in nodes], wiring)
        if nodes:
            flags = ffi.new(
                "int[]",
                [lib.NSF_POOL_NODE_NAMED if n else 0 for _, n in nodes],
            )
            keep.append(flags)
            cfg.nodes = len(nodes)
            cfg.node_flags = flags
            cfg.wiring = self._template.reqs
            cfg.nwiring = len(self._template)
        out = ffi.new("struct nsf_pool **")
        step = ffi.new("int *")
        rc = lib.nsf_pool_open(cfg, out, step)
        if rc < 0:
            raise _oserror(rc, step[0], path=run_dir, run_dir=run_dir)
        self._p = out[0]
        self.run_dir = run_dir

    def acquire(self, timeout_ms: int) -> PoolItem:
        """Take a ready namespace (the GIL is released while waiting)."""
        item = ffi.new("struct nsf_pool_item *")
        step = ffi.new("int *")
        rc = lib.nsf_pool_acquire(self._p, timeout_ms, item, step)
        if rc < 0:
            raise self.error(
                rc,
                step[0],
                ffi.string(item.name),
                int(item.request),
                ffi.string(item.msg),
            )
        got = PoolItem(item.fd, item.ino, item.nsid, _cstr(item.name), item)
        if self._named:
            got.take_net(item.net, self._named)
        return got

    def release(self, item: PoolItem) -> None:
        """Hand a taken namespace back for deletion."""
        lib.nsf_pool_release(self._p, item.cdata)

    def error(
        self,
        rc: int,
        step: int,
        name: bytes,
        request: int = -1,
        msg: bytes = b"",
    ) -> NetnsOSError:
        """The exception for a creation that failed making ``name``
        (b"" for an anonymous namespace), with add's paths (a named pool
        makes its names with it); for a topology's wiring request
        ``request``, its node's label and what it names, and the
        kernel's text ``msg``."""
        if 0 <= request < len(self._template):
            return self._template.error(rc, step, request, msg)
        rd = self.run_dir
        named = rd is not None and bool(name)
        return _oserror(
            rc,
            step,
            path=_join(rd, name) if rd is not None and named else None,
            path2=THREAD_NS_NET if named else None,
            run_dir=rd,
        )

    def stats(self) -> tuple[dict[str, int], Optional[NetnsOSError]]:
        """The C counters (see struct nsf_pool_stats) and the last
        creation error (None if there was none)."""
        st = ffi.new("struct nsf_pool_stats *")
        lib.nsf_pool_stats(self._p, st)
        out = {name: int(getattr(st, name)) for name in POOL_STAT_FIELDS}
        last = None
        if st.last_error:
            last = self.error(
                st.last_error,
                st.last_step,
                ffi.string(st.last_name),
                int(st.last_request),
                ffi.string(st.last_msg),
            )
        return out, last

    def held_fds(self) -> list[int]:
        """The fds the pool holds at this moment."""
        size = 256
        while True:
            fds = ffi.new("int[]", size)
            n = lib.nsf_pool_held_fds(self._p, fds, size)
            if n <= size:
                return [fds[i] for i in range(n)]
            size = n + 64

    def drain(self, timeout_ms: int) -> bool:
        """Wait until nothing is queued or pending; False on timeout."""
        return bool(lib.nsf_pool_drain(self._p, timeout_ms) == 0)

    def close(self) -> None:
        """Stop the C threads and delete every namespace the pool holds."""
        step = ffi.new("int *")
        lib.nsf_pool_close(self._p, step)

    def free(self) -> None:
        """Free the closed pool's memory; the object is unusable after."""
        lib.nsf_pool_free(self._p)
        self._p = ffi.NULL


def release_item(run_dir: Optional[bytes], item: PoolItem) -> None:
    """Delete a pool namespace (or topology) whose pool is gone: names,
    then fds (a topology's sockets are its handles' to close)."""
    try:
        for name in [item.name, *(n.name for n in item.nodes)]:
            if name and run_dir is not None:
                delete(run_dir, name)
    finally:
        for fd in [item.fd, *(n.fd for n in item.nodes)]:
            if fd >= 0:
                os.close(fd)
        lib.nsf_pool_item_forget(item.cdata)


# == nsid: ids of the names in a run directory (csrc/nsid.h) ==================


class RawNsidEntry(tuple[bytes, int, int, int, bytes]):
    """One entry of a run directory and what RTM_GETNSID said about it:
    (name, nsid, open_errno, query_errno, message), a named tuple made
    without typing.NamedTuple (whose import the CLI would pay)."""

    __slots__ = ()

    def __new__(
        cls,
        name: bytes,
        nsid: int,
        open_errno: int,
        query_errno: int,
        message: bytes,
    ) -> RawNsidEntry:
        return super().__new__(
            cls, (name, nsid, open_errno, query_errno, message)
        )

    @property
    def name(self) -> bytes:
        """The entry's name."""
        return self[0]

    @property
    def nsid(self) -> int:
        """Its nsid in the calling thread's netns; -1 when none is
        assigned."""
        return self[1]

    @property
    def open_errno(self) -> int:
        """errno of open(RUN_DIR/NAME) (e.g. it vanished); 0 if it
        opened."""
        return self[2]

    @property
    def query_errno(self) -> int:
        """errno of a refused RTM_GETNSID; 0 if the kernel answered."""
        return self[3]

    @property
    def message(self) -> bytes:
        """The kernel's ext-ack message for a refused query (b"" if
        none)."""
        return self[4]


_NSID_OPEN_FAILED = lib.NSF_NSID_OPEN_FAILED
_NSID_QUERY_FAILED = lib.NSF_NSID_QUERY_FAILED
_NSID_FIELDS = lib.NSF_NSID_FIELDS


def _nsid_fields(raw: Any) -> Iterator[tuple[int, int, int, bytes, bytes]]:
    """(kind, nsid, errno, name, message) of every entry of a listing."""
    count = raw.count
    if count == 0:
        return
    recs = iter(ffi.unpack(raw.recs, count * _NSID_FIELDS))
    text = ffi.buffer(raw.text, raw.text_len)[:]
    pos = 0
    # Five ints per entry, in the order of enum nsf_nsid_layout's comment.
    for kind, nsid, err, name_len, msg_len in zip(*[recs] * _NSID_FIELDS):
        end = pos + name_len
        yield kind, nsid, err, text[pos:end], text[end : end + msg_len]
        pos = end + msg_len


def _nsid_entries(raw: Any) -> list[RawNsidEntry]:
    """A listing's records as RawNsidEntry tuples."""
    return [
        RawNsidEntry(
            name,
            nsid,
            err if kind == _NSID_OPEN_FAILED else 0,
            err if kind == _NSID_QUERY_FAILED else 0,
            msg,
        )
        for kind, nsid, err, name, msg in _nsid_fields(raw)
    ]


def _nsid_listing(run_dir: bytes) -> Any:
    out = ffi.new("struct nsf_nsid_list **")
    step = ffi.new("int *")
    rc = lib.nsf_nsid_list(run_dir, out, step)
    if rc < 0:
        raise _oserror(rc, step[0], path=run_dir, run_dir=run_dir)
    return ffi.gc(out[0], lib.nsf_nsid_list_free)


def nsid_list(run_dir: bytes) -> list[RawNsidEntry]:
    """Every entry of run_dir in directory order, with its nsid.

    Raises the error of opening run_dir (step "open_run_dir") or of the
    netlink socket; a failure of one entry is reported in its RawNsidEntry.
    """
    return _nsid_entries(_nsid_listing(run_dir))


def nsid_names(run_dir: bytes) -> list[tuple[bytes, int]]:
    """(name, nsid or -1) of every entry of run_dir that still exists, in
    directory order: the fast path of the listing API."""
    raw = _nsid_listing(run_dir)
    return [
        (name, nsid)
        for kind, nsid, err, name, _ in _nsid_fields(raw)
        if kind != _NSID_OPEN_FAILED or err != errno.ENOENT
    ]


def nsid_get(run_dir: bytes, name: bytes) -> int:
    """The nsid of run_dir/name (-1: none assigned).

    A refused query raises with step "rtm_getnsid" and the kernel's ext-ack
    message (if any) as ``strerror``.
    """
    nsid = ffi.new("int *")
    size = lib.NSF_NSID_MSG_MAX
    msg = ffi.new("char[]", size)
    step = ffi.new("int *")
    rc = lib.nsf_nsid_get(run_dir, name, nsid, msg, size, step)
    if rc < 0:
        exc = _oserror(rc, step[0], path=_join(run_dir, name))
        text = ffi.string(msg)
        if step[0] == lib.NSF_STEP_RTM_GETNSID and text:
            exc.strerror = os.fsdecode(text)
        raise exc
    return int(nsid[0])


# == procs: pids, identify, monitor (csrc/procs.h) ============================
# Used by netns_fast._procs (API) and netns_fast.cli.procs (CLI).

PROC_DIR = b"/proc"

if TYPE_CHECKING:
    NsKey = tuple[int, int]
    """(st_dev, st_ino) of a namespace file: what ip compares."""

# Record kinds of nsf_watch_read.
WATCH_ADD = b"a"
WATCH_DELETE = b"d"
WATCH_OVERFLOW = b"o"
WATCH_GONE = b"x"
_WATCH_BUF = 4096


def ns_key(path: bytes) -> NsKey:
    """open + fstat of a namespace file, as ip's pids and identify do."""
    dev = ffi.new("unsigned long long *")
    ino = ffi.new("unsigned long long *")
    step = ffi.new("int *")
    rc = lib.nsf_ns_key(path, dev, ino, step)
    if rc < 0:
        raise _oserror(rc, step[0], path=path)
    return (int(dev[0]), int(ino[0]))


def scan_pids(
    keys: Sequence[NsKey], threads: int = 0, proc_dir: bytes = PROC_DIR
) -> list[list[int]]:
    """One scan of proc_dir: the pids (in /proc order) of every key."""
    n = len(keys)
    if n == 0:
        return []
    devs = ffi.new("unsigned long long[]", [k[0] for k in keys])
    inos = ffi.new("unsigned long long[]", [k[1] for k in keys])
    counts = ffi.new("int[]", n)
    step = ffi.new("int *")
    try:
        # procfs counts a link per process: no match list is longer.
        cap = os.stat(proc_dir).st_nlink + 64
    except OSError:
        cap = 1024
    while True:
        out = ffi.new("int[]", cap)
        rc = lib.nsf_scan_pids(
            proc_dir, devs, inos, n, threads, out, cap, counts, step
        )
        if rc < 0:
            raise _oserror(rc, step[0], path=proc_dir)
        if rc <= cap:
            break
        cap = rc + 64  # processes appeared since the estimate: scan again
    flat: list[int] = ffi.unpack(out, rc)
    if n == 1:
        return [flat]
    groups: list[list[int]] = []
    pos = 0
    for count in ffi.unpack(counts, n):
        groups.append(flat[pos : pos + count])
        pos += count
    return groups


def stat_names(run_dir: bytes, names: Sequence[bytes]) -> list[NsKey]:
    """The key of run_dir/NAME for each name; (0, 0) if its stat fails."""
    n = len(names)
    if n == 0:
        return []
    devs = ffi.new("unsigned long long[]", n)
    inos = ffi.new("unsigned long long[]", n)
    step = ffi.new("int *")
    rc = lib.nsf_stat_names(
        run_dir, b"\0".join(names) + b"\0", n, devs, inos, step
    )
    if rc < 0:
        raise _oserror(rc, step[0], run_dir=run_dir)
    return list(zip(ffi.unpack(devs, n), ffi.unpack(inos, n)))


def identify(ns_path: bytes, run_dir: bytes) -> list[bytes]:
    """The names in run_dir bound to the namespace of ns_path, in
    directory order; [] when run_dir is missing."""
    cap = 1024
    step = ffi.new("int *")
    while True:
        buf = ffi.new("char[]", cap)
        rc = lib.nsf_identify(ns_path, run_dir, buf, cap, step)
        if rc < 0:
            raise _oserror(rc, step[0], path=ns_path, run_dir=run_dir)
        if rc <= cap:
            break
        cap = rc  # more names than room: read them again
    data: bytes = ffi.unpack(buf, rc)
    return data.split(b"\0")[:-1]


def watch_open(run_dir: bytes) -> int:
    """ip netns monitor's setup: an inotify fd watching run_dir."""
    step = ffi.new("int *")
    rc = lib.nsf_watch_open(run_dir, step)
    if rc < 0:
        raise _oserror(rc, step[0], run_dir=run_dir)
    return int(rc)


def wake_fd() -> int:
    """An eventfd that wakes watch_read and wait_fd when written to."""
    step = ffi.new("int *")
    rc = lib.nsf_wake_fd(step)
    if rc < 0:
        raise _oserror(rc, step[0])
    return int(rc)


def watch_read(
    fd: int, wake: int, timeout_ms: int
) -> Optional[list[tuple[bytes, bytes]]]:
    """Wait for inotify events: (kind, name) records, [] on timeout or a
    signal, None when woken through ``wake`` (-1: no wake fd)."""
    buf = ffi.new("char[]", _WATCH_BUF)
    step = ffi.new("int *")
    rc = lib.nsf_watch_read(fd, wake, timeout_ms, buf, _WATCH_BUF, step)
    if rc == -errno.ECANCELED:
        return None
    if rc == -errno.EINTR:
        return []
    if rc < 0:
        raise _oserror(rc, step[0])
    data: bytes = ffi.unpack(buf, rc)
    return [(rec[:1], rec[1:]) for rec in data.split(b"\0")[:-1]]


def wait_fd(fd: int, timeout_ms: int) -> bool:
    """True when fd became readable within timeout_ms."""
    rc = lib.nsf_wait_fd(fd, timeout_ms)
    if rc < 0 and rc != -errno.EINTR:
        raise _oserror(rc, lib.NSF_STEP_POLL)
    return rc > 0


def netns_ready(run_dir: bytes, name: bytes) -> Optional[bool]:
    """Whether run_dir/name can be entered now; None when it is gone."""
    step = ffi.new("int *")
    rc = lib.nsf_netns_ready(run_dir, name, step)
    if rc == -errno.ENOENT:
        return None
    return rc > 0


# == wire: links, addresses, routes, sysctls (csrc/wire.h) ====================

WIRE_VETH: int = lib.NSF_WIRE_VETH
WIRE_DUMMY: int = lib.NSF_WIRE_DUMMY
WIRE_BRIDGE: int = lib.NSF_WIRE_BRIDGE
WIRE_LINK_SET: int = lib.NSF_WIRE_LINK_SET
WIRE_LINK_RENAME: int = lib.NSF_WIRE_LINK_RENAME
WIRE_LINK_MOVE: int = lib.NSF_WIRE_LINK_MOVE
WIRE_LINK_DEL: int = lib.NSF_WIRE_LINK_DEL
WIRE_LINK_GET: int = lib.NSF_WIRE_LINK_GET
WIRE_ADDR_ADD: int = lib.NSF_WIRE_ADDR_ADD
WIRE_ADDR_DEL: int = lib.NSF_WIRE_ADDR_DEL
WIRE_ROUTE_ADD: int = lib.NSF_WIRE_ROUTE_ADD
WIRE_ROUTE_DEL: int = lib.NSF_WIRE_ROUTE_DEL
WIRE_SYSCTL: int = lib.NSF_WIRE_SYSCTL
WIRE_WAIT_UP: int = lib.NSF_WIRE_WAIT_UP
WIRE_KEEP: int = lib.NSF_WIRE_KEEP
_SYSCTL_MAX = 4096

if TYPE_CHECKING:
    RawLink = tuple[
        int, int, int, int, int, int, int, int, int, bytes, bytes, bytes
    ]
    """struct nsf_wire_link as unpacked (LINK): index, master, link,
    link_netnsid, flags, mtu, operstate, carrier, mac_len, mac[32],
    name[16], kind[16] (the last three NUL padded)."""
    RawAddr = tuple[int, bytes, int, int, int, int, bytes]
    """(family, address, prefixlen, index, scope, flags, label)."""
    RawRoute = tuple[
        int,
        bytes,
        int,
        Optional[bytes],
        int,
        int,
        int,
        int,
        int,
        int,
        Optional[bytes],
        int,
    ]
    """(family, dst, dst_len, gateway, oif, table, protocol, scope, type,
    priority, prefsrc, flags)."""


class WireSocket:
    """A namespace's NETLINK_ROUTE socket as the C core keeps it: its fd
    (-1 until the first wiring call makes one inside the namespace) and
    its last sequence number. Used by one thread at a time."""

    __slots__ = ("fd", "seq")

    def __init__(self, fd: int = -1) -> None:
        self.fd = fd
        self.seq = 0

    def close(self) -> None:
        """Close the socket (idempotent)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


class WireNs:
    """A namespace of a plan: its fd (-1: the calling thread's own), its
    socket, and the path its errors name (``where``: the path, or what
    makes it when an error needs it)."""

    __slots__ = ("fd", "sock", "where")

    def __init__(
        self, fd: int, sock: WireSocket, where: Union[str, Callable[[], str]]
    ) -> None:
        self.fd = fd
        self.sock = sock
        self.where = where

    @property
    def path(self) -> str:
        """The path errors name."""
        where = self.where
        return where if isinstance(where, str) else where()


class WireReq:
    """One request of a plan (struct nsf_wire_req); ``what`` is what its
    error names as filename2 (the link, the address, the route, the
    sysctl file)."""

    __slots__ = (
        "addr",
        "family",
        "flags",
        "gateway",
        "kind",
        "mac",
        "master",
        "metric",
        "mtu",
        "name",
        "ns",
        "peer_mac",
        "peer_name",
        "peer_ns",
        "prefix",
        "read",
        "src",
        "table",
        "timeout_ms",
        "up",
        "value",
        "what",
    )

    def __init__(self, kind: int, ns: int, name: Optional[bytes], what: str):
        self.kind = kind
        self.ns = ns
        self.name = name
        self.what = what
        self.peer_ns = -1
        self.peer_name: Optional[bytes] = None
        self.master: Optional[bytes] = None
        self.up = 0
        self.mtu = 0
        self.mac = b""
        self.peer_mac = b""
        self.family = 0
        self.prefix = 0
        self.addr = b""
        self.gateway: Optional[bytes] = None
        self.src: Optional[bytes] = None
        self.flags = 0
        self.metric = 0
        self.table = 0
        self.value: Optional[bytes] = None
        self.read = False  # LINK_GET, WAIT_UP: a record; SYSCTL: the value
        self.timeout_ms = 0


class WireResult:
    """What a plan did: per request its link index, peer index, record
    (LINK_GET, WAIT_UP) and value read (SYSCTL); the error of the request
    that failed (``failed``, -1 when the plan as a whole did), whether the
    plan's work was undone, and how many datagrams went out."""

    __slots__ = (
        "error",
        "failed",
        "indexes",
        "links",
        "peer_indexes",
        "sends",
        "undone",
        "values",
    )

    def __init__(self, n: int) -> None:
        self.error: Optional[NetnsOSError] = None
        self.failed = -1
        self.undone = False
        self.sends = 0
        self.indexes = [0] * n
        self.peer_indexes = [0] * n
        self.links: list[Optional[RawLink]] = [None] * n
        self.values: list[Optional[bytes]] = [None] * n


# struct nsf_wire_link as bytes (RawLink; checked against the cdef in
# tests/unit/test_wire.py).
LINK = struct.Struct("=4i2I3i32s16s16s")


def _raw_link(c: Any) -> RawLink:
    """The record a struct nsf_wire_link * points to."""
    return LINK.unpack_from(ffi.buffer(c))


class _CPlan:
    """A struct nsf_wire_plan and the C memory it points to."""

    def __init__(
        self, nss: Sequence[WireNs], reqs: Sequence[WireReq], flags: int
    ) -> None:
        keep: list[object] = []
        n = len(reqs)
        c_ns = ffi.new("struct nsf_wire_ns[]", max(len(nss), 1))
        for i, w in enumerate(nss):
            c_ns[i].fd = w.fd
            c_ns[i].rtnl = w.sock.fd
            c_ns[i].seq = w.sock.seq
        c_reqs = ffi.new("struct nsf_wire_req[]", max(n, 1))
        links: list[Any] = [None] * n
        outs: list[Any] = [None] * n
        for i, r in enumerate(reqs):
            # c_reqs is zeroed: only what is set is written.
            c = c_reqs[i]
            c.kind = r.kind
            c.ns = r.ns
            c.peer_ns = r.peer_ns
            if r.name is not None:
                c.name = _c_str(keep, r.name)
            if r.peer_name is not None:
                c.peer_name = _c_str(keep, r.peer_name)
            if r.master is not None:
                c.master = _c_str(keep, r.master)
            if r.up:
                c.up = r.up
            if r.mtu:
                c.mtu = r.mtu
            if r.mac:
                c.mac_len = len(r.mac)
                c.mac[0 : len(r.mac)] = r.mac
            if r.peer_mac:
                c.peer_mac_len = len(r.peer_mac)
                c.peer_mac[0 : len(r.peer_mac)] = r.peer_mac
            if r.family:
                c.family = r.family
                c.prefix = r.prefix
                c.addr[0 : len(r.addr)] = r.addr
                if r.gateway is not None:
                    c.has_gateway = 1
                    c.gateway[0 : len(r.gateway)] = r.gateway
                if r.src is not None:
                    c.has_src = 1
                    c.src[0 : len(r.src)] = r.src
                c.flags = r.flags
                c.metric = r.metric
                c.table = r.table
            if r.value is not None:
                c.value = _c_str(keep, r.value)
            if r.timeout_ms:
                c.timeout_ms = r.timeout_ms
            if r.read and r.kind == WIRE_SYSCTL:
                outs[i] = ffi.new("char[]", _SYSCTL_MAX)
                c.out = outs[i]
                c.out_cap = _SYSCTL_MAX
            elif r.read:
                links[i] = ffi.new("struct nsf_wire_link *")
                c.link = links[i]
        plan = ffi.new("struct nsf_wire_plan *")
        plan.ns = c_ns
        plan.nns = len(nss)
        plan.reqs = c_reqs
        plan.nreqs = n
        plan.flags = flags
        self.plan = plan
        self.nss = nss
        self.reqs = reqs
        self._c = (keep, c_ns, c_reqs, links, outs)

    def result(self) -> WireResult:
        """Take the outcome back: sockets into their WireSockets, results
        into a WireResult."""
        keep, c_ns, c_reqs, links, outs = self._c
        del keep
        for i, w in enumerate(self.nss):
            w.sock.fd = int(c_ns[i].rtnl)
            w.sock.seq = int(c_ns[i].seq)
        p = self.plan
        res = WireResult(len(self.reqs))
        res.failed = int(p.failed)
        res.undone = bool(p.undone)
        res.sends = int(p.sends)
        for i in range(len(self.reqs)):
            c = c_reqs[i]
            res.indexes[i] = int(c.index)
            res.peer_indexes[i] = int(c.peer_index)
            if links[i] is not None and c.index:
                res.links[i] = _raw_link(links[i])
            if outs[i] is not None:
                res.values[i] = ffi.unpack(outs[i], c.out_len)
        if p.rc < 0:
            res.error = self._error(
                int(p.rc), int(p.step), res.failed, ffi.string(p.msg)
            )
        return res

    def _error(
        self, rc: int, step: int, failed: int, msg: bytes
    ) -> NetnsOSError:
        req = self.reqs[failed] if 0 <= failed < len(self.reqs) else None
        if req is None:
            return _wire_error(rc, step, msg, path=None, name=None, what=None)
        return _wire_error(
            rc,
            step,
            msg,
            path=self.nss[req.ns].path,
            name=req.name,
            what=req.what,
        )


def _wire_error(
    rc: int,
    step: int,
    msg: bytes,
    *,
    path: Optional[str],
    name: Optional[bytes],
    what: Optional[str],
) -> NetnsOSError:
    """The error of a failed wiring request: in the namespace at path, on
    the link name, about what (a link not found is named, not the address
    or route on it); the kernel's text when it sent one."""
    if step == lib.NSF_STEP_RTM_GETLINK and name:
        what = os.fsdecode(name)
    return _oserror(
        rc,
        step,
        path=path,
        path2=what,
        text=msg.decode("utf-8", "replace") or None,
    )


class WireTemplate:
    """A topology's wiring as C requests over nodes 0 .. n - 1 (made
    once: a pool's producers and every one-call build run copies), and
    the errors of its requests, which name the node's label (its
    namespace is gone by then)."""

    def __init__(self, labels: Sequence[str], wiring: Sequence[WireReq]):
        self._labels = list(labels)
        self._wiring = list(wiring)
        self._c = _CPlan((), self._wiring, 0)
        self.reqs = self._c.plan.reqs

    def __len__(self) -> int:
        return len(self._wiring)

    def error(
        self, rc: int, step: int, request: int, msg: bytes
    ) -> NetnsOSError:
        """The exception of a failed request (numbered in the template)."""
        req = self._wiring[request]
        return _wire_error(
            rc,
            step,
            msg,
            path=self._labels[req.ns],
            name=req.name,
            what=req.what,
        )


class WireBuild:
    """A :class:`WireTemplate` that :meth:`build` runs over new anonymous
    namespaces in one C call (nsf_wire_build); safe for threads."""

    def __init__(
        self, labels: Sequence[str], wiring: Sequence[WireReq], lo_up: bool
    ) -> None:
        self._nodes = len(labels)
        self._template = WireTemplate(labels, wiring)
        self._flags = lib.NSF_LO_UP if lo_up else 0

    def build(
        self, made: Sequence[int]
    ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
        """The nodes (fd, inode, socket fd: the caller's to close) and the
        (index, peer index) of each request (those numbered in made; the
        others 0); raises the failure, after which nothing is left."""
        n, m = self._nodes, len(self._template)
        b = ffi.new("struct nsf_wire_build *")
        ns = ffi.new("struct nsf_wire_ns[]", n)
        inos = ffi.new("unsigned long long[]", n)
        reqs = ffi.new("struct nsf_wire_req[]", max(m, 1))
        b.nodes = n
        b.flags = self._flags
        b.tmpl = self._template.reqs
        b.reqs = reqs
        b.nreqs = m
        b.ns = ns
        b.inos = inos
        step = ffi.new("int *")
        rc = lib.nsf_wire_build(b, step)
        if rc < 0:
            plan = b.plan
            failed = int(plan.failed)
            if 0 <= failed < m:
                raise self._template.error(
                    rc, int(plan.step), failed, ffi.string(plan.msg)
                )
            raise _oserror(rc, int(plan.step), path=THREAD_NS_NET)
        nodes = [(ns[k].fd, inos[k], ns[k].rtnl) for k in range(n)]
        indexes = [(0, 0)] * m
        for k in made:
            indexes[k] = (reqs[k].index, reqs[k].peer_index)
        return nodes, indexes


def wire_run(
    nss: Sequence[WireNs], reqs: Sequence[WireReq], flags: int = 0
) -> WireResult:
    """Run one plan (nsf_wire_run); its failure is in the result."""
    plan = _CPlan(nss, reqs, flags)
    step = ffi.new("int *")
    lib.nsf_wire_run(plan.plan, step)
    return plan.result()


if TYPE_CHECKING:
    WireEnd = tuple[bytes, bytes, Optional[tuple[int, bytes, int, int, str]]]
    """A veth end for :func:`wire_pair`: (name, MAC or b"", address or
    None: (family, packed, prefix length, IFA_F_* flags, text))."""


def wire_pair(
    a: WireNs, b: WireNs, end: WireEnd, peer: WireEnd, *, up: int, mtu: int
) -> tuple[RawLink, RawLink]:
    """A veth pair, end in a and peer in b (b may be a: one namespace),
    with their addresses, both records read (nsf_wire_pair: Netns.veth's
    plan in one call); raises the failing request's error."""
    one = b is a
    p = ffi.new(
        "struct nsf_wire_pair *",
        (
            (
                (a.fd, a.sock.fd, a.sock.seq),
                (b.fd, b.sock.fd, b.sock.seq),
            ),
            (_c_end(end), _c_end(peer)),
            up,
            mtu,
            (ffi.NULL, 1 if one else 2),
        ),
    )
    step = ffi.new("int *")
    rc = lib.nsf_wire_pair(p, step)
    ns = p.ns
    a.sock.fd, a.sock.seq = ns[0].rtnl, ns[0].seq
    if not one:
        b.sock.fd, b.sock.seq = ns[1].rtnl, ns[1].seq
    if rc >= 0:
        buf = ffi.buffer(p)
        return (
            LINK.unpack_from(buf, _PAIR_LINK),
            LINK.unpack_from(buf, _PAIR_LINK + _END),
        )
    # The requests in nsf_wire_pair's order: (namespace, link, what).
    reqs: list[tuple[Optional[str], Optional[bytes], Optional[str]]] = [
        (a.path, end[0], os.fsdecode(end[0]))
    ]
    if peer[2] is not None:
        reqs.append((b.path, peer[0], peer[2][4]))
    reqs.append((b.path, peer[0], os.fsdecode(peer[0])))
    if end[2] is not None:
        reqs.append((a.path, end[0], end[2][4]))
    reqs.append((a.path, end[0], os.fsdecode(end[0])))
    plan = p.plan
    failed = int(plan.failed)
    path, name, what = (
        reqs[failed] if 0 <= failed < len(reqs) else (None, None, None)
    )
    raise _wire_error(
        rc,
        int(plan.step),
        ffi.string(plan.msg),
        path=path,
        name=name,
        what=what,
    )


def _c_end(end: WireEnd) -> tuple[object, ...]:
    """The initializer of a struct nsf_wire_end."""
    name, mac, addr = end
    if addr is None:
        return (name, len(mac), mac)
    return (name, len(mac), mac, addr[0], addr[2], addr[3], addr[1])


# Where the records are in a struct nsf_wire_pair.
_PAIR_LINK = ffi.offsetof("struct nsf_wire_pair", "end") + ffi.offsetof(
    "struct nsf_wire_end", "link"
)
_END = ffi.sizeof("struct nsf_wire_end")


def wire_run_many(
    plans: Sequence[tuple[Sequence[WireNs], Sequence[WireReq], int]],
    threads: int = 0,
) -> list[WireResult]:
    """Run independent plans (nsf_wire_run_many) on C threads; one result
    each, in order."""
    if not plans:
        return []
    built = [_CPlan(nss, reqs, flags) for nss, reqs, flags in plans]
    c_plans = ffi.new("struct nsf_wire_plan[]", len(built))
    for i, b in enumerate(built):
        c_plans[i] = b.plan[0]
    step = ffi.new("int *")
    lib.nsf_wire_run_many(c_plans, len(built), threads, step)
    for i, b in enumerate(built):
        b.plan[0] = c_plans[i]
    return [b.result() for b in built]


def _dump(what: str, w: WireNs, family: int) -> tuple[Any, int]:
    c_ns = ffi.new("struct nsf_wire_ns *")
    c_ns.fd = w.fd
    c_ns.rtnl = w.sock.fd
    c_ns.seq = w.sock.seq
    step = ffi.new("int *")
    cap = 64
    func = getattr(lib, f"nsf_wire_{what}")
    while True:
        out = ffi.new(f"struct nsf_wire_{what[:-1]}[]", cap)
        n = (
            func(c_ns, out, cap, step)
            if what == "links"
            else func(c_ns, family, out, cap, step)
        )
        w.sock.fd = int(c_ns.rtnl)
        w.sock.seq = int(c_ns.seq)
        if n < 0:
            raise _oserror(n, step[0], path=w.path)
        if n <= cap:
            return out, n
        cap = n + 16  # more appeared: ask again with room


def wire_links(w: WireNs) -> list[RawLink]:
    """The links of a namespace (RTM_GETLINK dump)."""
    out, n = _dump("links", w, 0)
    buf = ffi.buffer(out)
    return [LINK.unpack_from(buf, i * LINK.size) for i in range(n)]


def _ip_bytes(c: Any, field: str, present: bool = True) -> Optional[bytes]:
    """An address field of a record, of its family's size."""
    if not present:
        return None
    data: bytes = ffi.buffer(
        getattr(c, field), 16 if c.family == AF_INET6 else 4
    )[:]
    return data


def wire_addrs(w: WireNs, family: int = 0) -> list[RawAddr]:
    """The addresses of a namespace (RTM_GETADDR dump; 0: every family)."""
    out, n = _dump("addrs", w, family)
    return [
        (
            int(c.family),
            _ip_bytes(c, "address") or b"",
            int(c.prefixlen),
            int(c.index),
            int(c.scope),
            int(c.flags),
            ffi.string(c.label),
        )
        for c in (out[i] for i in range(n))
    ]


def wire_routes(w: WireNs, family: int = 0) -> list[RawRoute]:
    """The routes of a namespace, every table (RTM_GETROUTE dump)."""
    out, n = _dump("routes", w, family)
    return [
        (
            int(c.family),
            _ip_bytes(c, "dst") or b"",
            int(c.dst_len),
            _ip_bytes(c, "gateway", bool(c.has_gateway)),
            int(c.oif),
            int(c.table),
            int(c.protocol),
            int(c.scope),
            int(c.type),
            int(c.priority),
            _ip_bytes(c, "prefsrc", bool(c.has_prefsrc)),
            int(c.flags),
        )
        for c in (out[i] for i in range(n))
    ]


def wire_anon_new(lo_up: bool) -> tuple[int, int, int]:
    """A new anonymous namespace and its NETLINK_ROUTE socket, made while
    inside: (fd, inode, socket fd)."""
    step = ffi.new("int *")
    ino = ffi.new("unsigned long long *")
    rtnl = ffi.new("int *")
    fd = lib.nsf_wire_anon_new(lib.NSF_LO_UP if lo_up else 0, ino, rtnl, step)
    if fd < 0:
        raise _oserror(fd, step[0], path=THREAD_NS_NET)
    return fd, int(ino[0]), int(rtnl[0])


AF_INET = 2
AF_INET6 = 10
