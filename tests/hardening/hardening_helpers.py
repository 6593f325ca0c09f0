"""Helpers of the hardening tests (imported as ``hardening_helpers``)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import Any, Callable, Optional

import pytest
from nsft_helpers import IP, CapData, cli_argv, update_capabilities

RUN_DIR = "/run/netns"
MNT_DETACH = 2
MS_BIND = 4096
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))

_libc = ctypes.CDLL(None, use_errno=True)

Figure = Callable[[str, object], None]
"""The ``figure`` fixture: record(key, value), printed at the end."""


def needs(tool: str) -> pytest.MarkDecorator:
    """Skip unless ``tool`` (from util-linux) is on PATH."""
    return pytest.mark.skipif(
        shutil.which(tool) is None, reason=f"{tool} (util-linux) is missing"
    )


def unescape_mountinfo(field: str) -> str:
    """mountinfo's octal escapes (\\040 for a space, ...) decoded."""
    out = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts() -> list[tuple[str, str]]:
    """(mount point, fstype) of every mount this process sees."""
    result = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            result.append((unescape_mountinfo(fields[4]), fields[sep + 1]))
    return result


def mounts_at(path: str) -> list[str]:
    """fstypes of the mounts stacked on ``path`` (bottom first)."""
    return [fstype for point, fstype in mounts() if point == path]


def nsfs_mounts_under(run_dir: str) -> list[str]:
    """Mount points of nsfs mounts directly in ``run_dir``."""
    prefix = run_dir.rstrip("/") + "/"
    return [
        point
        for point, fstype in mounts()
        if fstype == "nsfs"
        and point.startswith(prefix)
        and "/" not in point[len(prefix) :]
    ]


def nsfs_dev() -> int:
    """The device number every namespace file shares."""
    return os.stat("/proc/self/ns/net").st_dev


def is_live(path: str) -> bool:
    """True if ``path`` is a mounted namespace file."""
    try:
        return os.lstat(path).st_dev == nsfs_dev()
    except FileNotFoundError:
        return False


def umount_all(path: str) -> None:
    """Lazily unmount everything stacked on ``path``."""
    raw = os.fsencode(path)
    while _libc.umount2(raw, MNT_DETACH) == 0:
        pass


def bind(source: str, target: str) -> None:
    """mount --bind SOURCE TARGET."""
    rc = _libc.mount(
        os.fsencode(source), os.fsencode(target), None, MS_BIND, None
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def wipe(run_dir: str) -> None:
    """Unmount and remove every entry of ``run_dir``."""
    for name in os.listdir(run_dir):
        path = os.path.join(run_dir, name)
        umount_all(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess that imports this checkout."""
    import netns_fast

    env = dict(os.environ)
    env["LC_ALL"] = "C"
    where = os.path.dirname(os.path.dirname(netns_fast.__file__))
    env["PYTHONPATH"] = where + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_argv(
    argv: Sequence[str],
    env: Optional[dict[str, str]] = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[bytes]:
    """Run argv, capturing bytes, with child_env() by default."""
    return subprocess.run(
        list(argv),
        capture_output=True,
        env=child_env() if env is None else env,
        check=False,
        timeout=timeout,
    )


def run_python(
    code: str, prefix: Sequence[str] = (), timeout: float = 120, **env: str
) -> Any:
    """Run ``code`` in a new Python (after ``prefix``, e.g. unshare ...).

    The code prints one JSON document as its last stdout line; that is
    returned. A non-zero exit fails with the child's stderr; a child that
    runs past ``timeout`` seconds is killed and fails the test as a hang.
    """
    try:
        proc = run_argv(
            [*prefix, sys.executable, "-c", code], child_env(**env), timeout
        )
    except subprocess.TimeoutExpired:
        proc = None
    if proc is None:
        pytest.fail(f"the child hung: killed after {timeout} s")
    if proc.returncode != 0:
        raise AssertionError(
            f"child failed ({proc.returncode}):\n"
            + proc.stderr.decode(errors="replace")
        )
    return json.loads(proc.stdout.decode().splitlines()[-1])


def tool_argv(tool: str) -> list[str]:
    """How to start ``ip netns`` ("ip") or netns-fast ("nf")."""
    return [IP, "netns"] if tool == "ip" else cli_argv()


# -- capabilities and forked children -----------------------------------------

CAP_SYS_ADMIN = 21
PR_CAPBSET_DROP = 24


def drop_capability(cap: int) -> None:
    """Drop ``cap`` from this process: bounding, effective, permitted."""
    if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_CAPBSET_DROP)")
    word, bit = divmod(cap, 32)

    def clear(data: ctypes.Array[CapData]) -> None:
        for field in ("effective", "permitted", "inheritable"):
            value = getattr(data[word], field) & ~(1 << bit)
            setattr(data[word], field, value)

    update_capabilities(clear)


def in_child(func: Callable[[], Any]) -> Any:
    """Run ``func`` in a forked child; return what it returned (JSON)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            data = json.dumps({"ok": func()})
        except BaseException as exc:
            data = json.dumps({"error": repr(exc)})
        try:
            with os.fdopen(w, "w") as f:
                f.write(data)
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        reply = json.loads(f.read() or '{"error": "no reply"}')
    os.waitpid(pid, 0)
    if "error" in reply:
        raise AssertionError(f"child failed: {reply['error']}")
    return reply["ok"]
