"""ip's vrf_reset(): leave a VRF cgroup before running in another namespace.

``ip vrf exec`` puts a process into a cgroup ``.../vrf/NAME`` whose BPF
program binds every new socket to a device of the current namespace. Before
``ip netns exec`` runs a command elsewhere, it moves the process back to the
default VRF cgroup (``.../vrf/``) so that the command's sockets are not
bound to a device that does not exist there.

The path is computed here, in the parent (it needs /proc, the mount table
and the run directory); the child only writes to the resulting
``cgroup.procs``. Deviation: when no cgroup2 file system is mounted, ip
mounts one at /var/run/cgroup2; netns_fast skips the reset instead.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


THREAD_CGROUP = "/proc/thread-self/cgroup"
MOUNTS = "/proc/self/mounts"


def vrf_name(cgroup: bytes) -> bytes:
    """ip's vrf_identify(): the VRF named in a /proc/PID/cgroup text."""
    for line in cgroup.splitlines():
        if b"::/" not in line:
            continue
        at = line.find(b"/vrf/")
        if at >= 0:
            return line[at + 5 :]
    return b""


def _base_path(cgroup: bytes) -> bytes:
    """ip's vrf_path(): the cgroup path without its /vrf part."""
    for line in cgroup.splitlines():
        at = line.find(b"::/")
        if at < 0:
            continue
        path = line[at + 2 :]
        cut = path.find(b"/vrf")
        if cut >= 0:
            path = path[:cut]
        return b"" if path == b"/" else path
    return b""


def unescape_mount_field(field: bytes) -> bytes:
    """A /proc/mounts field with its octal escapes (\\040) decoded."""
    out = bytearray()
    i = 0
    while i < len(field):
        if field[i : i + 1] == b"\\" and field[i + 1 : i + 4].isdigit():
            out.append(int(field[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return bytes(out)


def cgroup2_mount(mounts: bytes) -> Optional[bytes]:
    """The first cgroup2 mount point in a /proc/mounts text."""
    for line in mounts.splitlines():
        fields = line.split(b" ")
        if len(fields) > 2 and fields[2] == b"cgroup2":
            return unescape_mount_field(fields[1])
    return None


def default_vrf_dir(
    cgroup: bytes, mounts: bytes, netns_name: bytes
) -> Optional[bytes]:
    """The default VRF's cgroup directory, as vrf_switch("default") builds
    it, or None when there is nothing to reset.

    cgroup is /proc/PID/cgroup, mounts is /proc/mounts, netns_name is the
    name of the current namespace ("" if it has none).
    """
    if not vrf_name(cgroup):
        return None
    mnt = cgroup2_mount(mounts)
    if mnt is None:
        return None
    vpath = _base_path(cgroup)
    netns = b""
    if netns_name:
        netns = netns_name + b"-ns"
        # If the path already ends in the namespace, don't add it again.
        pdir = vpath.rsplit(b"/", 1)[-1]
        if pdir == netns:
            vpath = vpath[: len(vpath) - len(pdir)]
        netns += b"/"
    return mnt + vpath + b"/" + netns + b"vrf/"


def current_name(run_dir: bytes) -> bytes:
    """ip's netns_identify_pid("self"): the last name of this thread's
    network namespace in run_dir, or b"" if it has none (or the scan
    fails)."""
    from . import _sys  # noqa: PLC0415 (only inside a VRF: start-up)

    try:
        names = _sys.identify(os.fsencode(_sys.THREAD_NS_NET), run_dir)
    except OSError:
        return b""
    return names[-1] if names else b""


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def cgroup_procs_for_reset(run_dir: bytes) -> Optional[bytes]:
    """The cgroup.procs file the child must join, or None (no VRF, or the
    reset cannot be prepared; like ip, that does not stop the exec)."""
    try:
        cgroup = _read(THREAD_CGROUP)
    except OSError:
        return None
    if b"/vrf/" not in cgroup:
        return None  # the usual case: one small read
    try:
        mounts = _read(MOUNTS)
    except OSError:
        return None
    target = default_vrf_dir(cgroup, mounts, current_name(run_dir))
    if target is None:
        return None
    try:
        os.makedirs(target, 0o755, exist_ok=True)
    except OSError:
        return None
    return target + b"/cgroup.procs"
