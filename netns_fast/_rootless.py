"""Rootless: a private world for the calling process (``unshare -Urnm``).

:func:`unshare_rootless` moves the calling process, for the rest of its
life, into a world of its own in which everything netns_fast does works
without any privilege on the host:

- a new user namespace in which the caller's uid and gid are root (0), so
  the process has every capability *there* (and none more on the host);
  ``setgroups`` is denied inside, as the kernel requires of an
  unprivileged caller;
- a new mount namespace, ``/`` made rslave: no mount made inside is ever
  seen outside;
- a new network namespace, the new *home*, loopback up. It is needed: a
  thread can never ``setns`` back into a namespace that the host's user
  namespace owns, so ``add``, which returns the thread home, needs a home
  that the world owns. Only loopback traffic is possible from it;
- a fresh tmpfs on the run directory (``$NETNS_RUN_DIR`` or
  ``/run/netns``), so names made inside are private. A missing run
  directory is made; where the caller may not make it (``/run`` is
  root's), a tmpfs goes over its parent with every entry of the parent
  bound back into it (``/run/systemd/resolve``, sockets, ...), and the run
  directory is made there;
- a private tmpfs on ``/etc/netns`` when it exists (``ip netns exec
  NAME`` binds ``/etc/netns/NAME/*`` over ``/etc``; the host's entries are
  for the host's names);
- a fresh sysfs on ``/sys`` for the home, with the mounts below the old
  one (``/sys/fs/cgroup``, ...) carried over, so that ``/sys/class/net``
  shows the home's devices. Where the kernel refuses a sysfs (a container
  that masks parts of ``/sys``), the old one stays and
  :attr:`World.sysfs` says so.

The process must be single-threaded: the kernel refuses a user namespace
to a process with other threads. Everything is first tried in a forked
child, so a failure leaves the caller as it was; the error names the
cause and the setting to change (:func:`explain`). As root it works too
(a CI container without CAP_SYS_ADMIN, or to get a world of one's own).
"""

from __future__ import annotations

import errno
import os
import stat
import time

from . import _sys
from ._names import run_dir_bytes
from .exceptions import NetnsOSError, error_for

# The CLI's rootless verb imports this module: no typing at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from ._names import Name

SYSCTL_DIR = "/proc/sys"
"""Where the kernel shows its sysctls (a test may pass a fake one)."""

THREAD_STATUS = "/proc/thread-self/status"
ETC_NETNS = b"/etc/netns"
SYS_DIR = b"/sys"
MOUNTINFO = "/proc/thread-self/mountinfo"


class World:
    """What :func:`unshare_rootless` made (read-only attributes).

    Attributes:
        uid: the caller's uid outside, root (0) inside.
        gid: the caller's gid outside, 0 inside.
        run_dir: the run directory, a private tmpfs.
        overlaid: the run directory's parent when a tmpfs had to go over
            it (the caller could not make the run directory there), else
            None.
        etc_netns: whether /etc/netns got a private tmpfs (it exists).
        sysfs: whether /sys is a fresh sysfs that shows the home.
        home: the inode of the home network namespace.
    """

    __slots__ = (
        "etc_netns",
        "gid",
        "home",
        "overlaid",
        "run_dir",
        "sysfs",
        "uid",
    )

    def __init__(
        self,
        *,
        uid: int,
        gid: int,
        run_dir: str,
        overlaid: Optional[str],
        etc_netns: bool,
        sysfs: bool,
        home: int,
    ) -> None:
        self.uid = uid
        self.gid = gid
        self.run_dir = run_dir
        self.overlaid = overlaid
        self.etc_netns = etc_netns
        self.sysfs = sysfs
        self.home = home

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in _FIELDS)
        return f"World({fields})"


_FIELDS = ("uid", "gid", "run_dir", "overlaid", "etc_netns", "sysfs", "home")
_world: list[World] = []


def world() -> Optional[World]:
    """The world :func:`unshare_rootless` made in this process, or None."""
    return _world[-1] if _world else None


# -- why it failed ------------------------------------------------------------


def read_sysctl(name: str, sysctl_dir: str = SYSCTL_DIR) -> Optional[str]:
    """The value of sysctl ``name`` (e.g. "user.max_user_namespaces"), or
    None where the kernel has no such setting (or it cannot be read)."""
    try:
        with open(os.path.join(sysctl_dir, *name.split(".")), "rb") as f:
            return f.read().decode(errors="replace").strip()
    except OSError:
        return None


def seccomp_mode(status: str = THREAD_STATUS) -> int:
    """The calling thread's seccomp mode (0 none, 1 strict, 2 a filter)."""
    try:
        with open(status, "rb") as f:
            for line in f:
                if line.startswith(b"Seccomp:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


_APPARMOR = (
    "AppArmor restricts unprivileged user namespaces: "
    "kernel.apparmor_restrict_unprivileged_userns is 1 (to allow them: "
    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an "
    'AppArmor profile with "userns," for this program)'
)
# Steps after the user namespace exists: a capability refused there is an
# LSM's doing (AppArmor's restriction lets the unshare pass, then takes the
# capabilities away).
_INSIDE = frozenset(
    (
        "setgroups",
        "uid_map",
        "gid_map",
        "unshare_mnt",
        "make_rslave",
        "unshare_net",
        "mount_tmpfs",
        "open_tree",
        "move_mount",
        "mount_sysfs",
        "socket",
        "lo_up",
    )
)


def _unshare_user(
    err: int, sysctl_dir: str, status: str, apparmor: bool
) -> Optional[str]:
    """Why unshare(CLONE_NEWUSER) failed with ``err``."""
    if err == errno.ENOSPC:
        limit = read_sysctl("user.max_user_namespaces", sysctl_dir)
        if limit == "0":
            return (
                "user namespaces are disabled: user.max_user_namespaces "
                "is 0 (to allow them: sysctl -w "
                "user.max_user_namespaces=15000)"
            )
        return (
            "too many user namespaces: the limit user.max_user_namespaces "
            f"({limit or '?'}) or the nesting depth (32) is reached"
        )
    if err == errno.EPERM:
        if read_sysctl("kernel.unprivileged_userns_clone", sysctl_dir) == "0":
            return (
                "unprivileged user namespaces are disabled: "
                "kernel.unprivileged_userns_clone is 0 (to allow them: "
                "sysctl -w kernel.unprivileged_userns_clone=1)"
            )
        if apparmor:
            return _APPARMOR
        if seccomp_mode(status) == 2:
            return (
                "a seccomp filter refused unshare(CLONE_NEWUSER) (Seccomp: "
                "2 in /proc/self/status; a container's default profile "
                "does, e.g. Docker's: run it with a profile that allows "
                "unshare, or --security-opt seccomp=unconfined)"
            )
        return (
            "the kernel refused a user namespace: an LSM (SELinux, "
            "AppArmor) or the container runtime forbids them here"
        )
    if err == errno.EINVAL:
        return "the kernel has no user namespaces (CONFIG_USER_NS)"
    return None


def explain(
    err: int,
    step: str,
    *,
    sysctl_dir: str = SYSCTL_DIR,
    status: str = THREAD_STATUS,
) -> Optional[str]:
    """Why :func:`unshare_rootless` failed with errno ``err`` at ``step``,
    naming the sysctl or setting to change; None when nothing more than
    the errno can be said. ``sysctl_dir`` and ``status`` are where the
    sysctls and the thread's status are read (tests pass fakes)."""
    apparmor = (
        read_sysctl("kernel.apparmor_restrict_unprivileged_userns", sysctl_dir)
        == "1"
    )
    if step == "unshare_user":
        return _unshare_user(err, sysctl_dir, status, apparmor)
    if step == "unshare_net" and err == errno.ENOSPC:
        limit = read_sysctl("user.max_net_namespaces", sysctl_dir)
        return f"the limit user.max_net_namespaces ({limit or '?'}) is reached"
    if step in _INSIDE and err in (errno.EPERM, errno.EACCES) and apparmor:
        return _APPARMOR
    return None


def _threads_error(count: int) -> NetnsOSError:
    exc = error_for(errno.EINVAL, "threads", _sys.THREAD_TASKS)
    exc.strerror = (
        f"the process has {count} threads: unshare_rootless() must be "
        "called while it is single-threaded (before any thread starts; "
        "the kernel refuses a user namespace to a multi-threaded process)"
    )
    return exc


def _explained(exc: NetnsOSError) -> NetnsOSError:
    """The error with the cause :func:`explain` finds added to its text."""
    why = explain(exc.errno or 0, exc.step)
    if why is not None:
        exc.strerror = f"{os.strerror(exc.errno or 0)}: {why}"
    return exc


# -- putting the world together ----------------------------------------------


def _graft(src: int, dst: int, name: bytes, shown: bytes) -> None:
    """Bind entry ``name`` of the hidden tree ``src`` onto its stand-in of
    the same name in directory ``dst`` (recursively: mounts below it come
    along)."""
    try:
        tree = _sys.clone_tree(src, name)
    except NetnsOSError as exc:
        exc.filename = os.fsdecode(shown)
        raise
    try:
        _sys.move_tree(tree, dst, name)
    except NetnsOSError as exc:
        exc.filename = os.fsdecode(shown)
        raise
    finally:
        os.close(tree)


def _carry_over(src: int, dst: int, parent: bytes, skip: bytes) -> None:
    """Stand-ins in ``dst`` for every entry of ``src`` but ``skip``:
    symlinks copied, everything else bound back."""
    for name in os.listdir(src):
        entry = os.fsencode(name)
        if entry == skip:
            continue
        shown = parent + b"/" + entry
        try:
            _stand_in(src, dst, entry, shown)
        except NetnsOSError:
            raise
        except OSError as exc:
            raise error_for(
                exc.errno or 0, "move_mount", os.fsdecode(shown)
            ) from exc


def _stand_in(src: int, dst: int, entry: bytes, shown: bytes) -> None:
    """One entry of ``src`` in ``dst``: a symlink copied, anything else
    an empty stand-in with the entry bound onto it."""
    st = os.stat(entry, dir_fd=src, follow_symlinks=False)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(entry, dir_fd=src), entry, dir_fd=dst)
        return
    if stat.S_ISDIR(st.st_mode):
        os.mkdir(entry, 0o755, dir_fd=dst)
    else:
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY
        os.close(os.open(entry, flags, 0o600, dir_fd=dst))
    _graft(src, dst, entry, shown)


def _overlay(parent: bytes, skip: bytes) -> None:
    """A tmpfs over directory ``parent`` with every entry but ``skip`` of
    the directory it hides bound back into it, and its mode kept."""
    mode = stat.S_IMODE(os.stat(parent).st_mode)
    old = _sys.clone_tree(-1, parent)
    try:
        src = os.open(b".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=old)
        try:
            _sys.mount_tmpfs(parent)
            dst = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.chmod(dst, mode)
                _carry_over(src, dst, parent.rstrip(b"/"), skip)
            finally:
                os.close(dst)
        finally:
            os.close(src)
    finally:
        os.close(old)


def _private_run_dir(rd: bytes) -> Optional[bytes]:
    """A fresh tmpfs on the run directory (made if missing); the parent
    that had to be overlaid to make it, or None."""
    overlaid = None
    try:
        os.stat(rd)
    except FileNotFoundError:
        try:
            os.mkdir(rd, 0o755)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise error_for(
                    exc.errno or 0, "mkdir_run_dir", os.fsdecode(rd)
                ) from exc
            parent, _, base = rd.rpartition(b"/")
            overlaid = parent or b"/"
            _overlay(overlaid, base)
            os.mkdir(rd, 0o755)
    _sys.mount_tmpfs(rd)
    return overlaid


def _sys_submounts() -> list[bytes]:
    """Mount points of the mounts right below the top mount on /sys."""
    from ._leaks import mountinfo  # noqa: PLC0415 (only when making a world)

    table = mountinfo(MOUNTINFO)
    tops = [m.id for m in table if m.point == SYS_DIR]
    if not tops:
        return []
    return [m.point for m in table if m.parent == tops[-1]]


def _fresh_sysfs() -> bool:
    """A sysfs of the home on /sys, the mounts below the old one carried
    over; False (the old one kept) where the kernel refuses a sysfs."""
    below = _sys_submounts()
    trees: list[tuple[int, bytes]] = []
    try:
        for point in below:
            trees.append((_sys.clone_tree(-1, point), point))
        try:
            _sys.mount_sysfs()
        except NetnsOSError as exc:
            if exc.errno in (errno.EPERM, errno.EACCES):
                return False  # masked parts of /sys: none is "visible"
            raise
        for tree, point in trees:
            _sys.move_tree(tree, -1, point)
    finally:
        for tree, _ in trees:
            os.close(tree)
    return True


def _build(rd: bytes, lo_up: bool, sysfs: bool) -> World:
    """Make the world in this process (see the module doc)."""
    uid, gid = os.geteuid(), os.getegid()
    _sys.rootless_unshare(lo_up)
    fresh = _fresh_sysfs() if sysfs else False
    etc = os.path.isdir(ETC_NETNS)
    if etc:
        _sys.mount_tmpfs(ETC_NETNS)
    overlaid = _private_run_dir(rd)
    return World(
        uid=uid,
        gid=gid,
        run_dir=os.fsdecode(rd),
        overlaid=None if overlaid is None else os.fsdecode(overlaid),
        etc_netns=etc,
        sysfs=fresh,
        home=_sys.thread_ns_ino(),
    )


def _try_in_child(rd: bytes, lo_up: bool, sysfs: bool) -> None:
    """Build the world in a forked child; raise what failed there."""
    import pickle  # noqa: PLC0415 (the API's check only: start-up)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            os.close(read_end)
            try:
                _build(rd, lo_up, sysfs)
                outcome: Optional[BaseException] = None
            except Exception as exc:
                outcome = exc
            with os.fdopen(write_end, "wb") as out:
                out.write(pickle.dumps(outcome))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    if not data:  # the child died before it could report
        raise error_for(errno.ECHILD, "wait", None) from None
    outcome = pickle.loads(data)
    if isinstance(outcome, NetnsOSError):
        raise _explained(outcome)
    if isinstance(outcome, BaseException):
        raise outcome


def _single_threaded(settle: float = 0.1) -> int:
    """The thread count, given a thread that was just joined up to
    ``settle`` seconds to leave /proc (its task lingers a moment)."""
    count = _sys.thread_count()
    deadline = time.monotonic() + settle
    while count != 1 and time.monotonic() < deadline:
        time.sleep(0.002)
        count = _sys.thread_count()
    return count


def unshare_rootless(
    *,
    run_dir: Optional[Name] = None,
    lo_up: bool = True,
    sysfs: bool = True,
    check: bool = True,
) -> World:
    """Move this process into a private world of its own (see the module
    doc): user namespace (its uid and gid root there), mount namespace,
    network namespace as the new home, a tmpfs on the run directory.

    For the rest of the process's life, and for every process it starts
    (they inherit it): netns_fast's API, ``netns-fast`` and ``ip netns``
    work inside without privilege on the host; names live in the private
    run directory; only loopback traffic leaves the home. It cannot be
    undone.

    ``lo_up``: bring the home's loopback up (default). ``sysfs``: mount a
    fresh sysfs for the home (default). ``check``: try it all in a forked
    child first (default), so that a failure changes nothing here.

    Raises:
        NetnsOSError (and the errno's class): ``.step`` names what failed
            and ``strerror`` why, with the sysctl or setting to change:
            ``threads`` (EINVAL: the process has other threads),
            ``unshare_user`` (user namespaces disabled or restricted:
            ``user.max_user_namespaces`` is 0,
            ``kernel.unprivileged_userns_clone`` is 0, AppArmor's
            ``kernel.apparmor_restrict_unprivileged_userns``, a seccomp
            filter), ``uid_map``, ``mount_tmpfs``, ...
    """
    rd = run_dir_bytes(run_dir)
    count = _single_threaded()
    if count != 1:
        raise _threads_error(count)
    if check:
        _try_in_child(rd, lo_up, sysfs)
    try:
        made = _build(rd, lo_up, sysfs)
    except NetnsOSError as exc:
        raise _explained(exc) from None
    _world.append(made)
    return made
