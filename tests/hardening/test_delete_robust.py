"""Delete robustness: stacked mounts, and namespaces still in use."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

import netns_fast
from support.kernel import RUN_DIR, bind, fstypes_at, is_live
from support.names import unique_name
from support.tools import Figure, needs, requires_ip, run, tool_argv

pytestmark = pytest.mark.root


def _stack(path: str, extra: int) -> None:
    """Bind ``extra`` more namespace mounts onto ``path``.

    The source is this thread's namespace file, not ``path`` itself: a bind
    of the shared mount at ``path`` would join its peer group, and each
    later bind would propagate onto every peer (2**n mounts).
    """
    for _ in range(extra):
        bind("/proc/thread-self/ns/net", path)


def test_delete_removes_every_stacked_mount(scratch_env: str) -> None:
    """A name with 3 stacked mounts is gone after one delete (ip needs 3)."""
    path = os.path.join(scratch_env, "stacked")
    netns_fast.add("stacked", run_dir=scratch_env)
    _stack(path, 2)
    assert fstypes_at(path) == ["nsfs"] * 3

    netns_fast.delete("stacked", run_dir=scratch_env)

    assert fstypes_at(path) == []
    assert not os.path.lexists(path)


def test_cli_delete_removes_every_stacked_mount(scratch_env: str) -> None:
    """netns-fast delete of a stacked name exits 0 and leaves no mount."""
    path = os.path.join(scratch_env, "stacked")
    netns_fast.add("stacked", run_dir=scratch_env)
    _stack(path, 2)

    proc = run([*tool_argv("nf"), "delete", "stacked"], timeout=120)

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert fstypes_at(path) == []
    assert not os.path.lexists(path)


def test_very_deep_stack_is_a_clean_ebusy_then_finishes(
    scratch_run_dir: str,
) -> None:
    """Over 64 stacked mounts: a clean EBUSY; a second delete finishes."""
    rd = scratch_run_dir
    path = os.path.join(rd, "deep")
    netns_fast.add("deep", run_dir=rd)
    _stack(path, 99)

    with pytest.raises(netns_fast.NamespaceBusyError) as info:
        netns_fast.delete("deep", run_dir=rd)
    assert (info.value.errno, info.value.step) == (16, "unlink_name")
    netns_fast.delete("deep", run_dir=rd)

    assert fstypes_at(path) == []
    assert not os.path.lexists(path)


@requires_ip
def test_ip_needs_one_delete_per_stacked_mount(figure: Figure) -> None:
    """For the record: ip netns del removes one stacked mount per run."""
    name = unique_name("stk")
    path = os.path.join(RUN_DIR, name)
    netns_fast.add(name)
    _stack(path, 2)
    runs = 0
    try:
        while os.path.lexists(path) and runs < 5:
            runs += 1
            run([*tool_argv("ip"), "del", name], timeout=120)
    finally:
        if os.path.lexists(path):
            netns_fast.delete(name)
    figure("ip netns del runs for 3 stacked mounts", runs)
    assert runs == 3


@needs("nsenter")
@pytest.mark.parametrize("via", ["api", "cli", "ip"])
def test_delete_while_processes_run_inside(scratch_env: str, via: str) -> None:
    """Delete of a namespace in use succeeds like ip; the process keeps it."""
    rd = scratch_env
    if via == "ip":
        if not os.path.exists(tool_argv("ip")[0]):
            pytest.skip("ip is not installed")
        rd = RUN_DIR
    name = unique_name("busy")
    path = os.path.join(rd, name)
    netns_fast.add(name, run_dir=rd)
    inode = os.stat(path).st_ino
    sleeper = subprocess.Popen(["nsenter", f"--net={path}", "sleep", "60"])
    try:
        for _ in range(200):  # until nsenter has exec'd sleep inside
            if os.stat(f"/proc/{sleeper.pid}/ns/net").st_ino == inode:
                break
            time.sleep(0.01)
        assert os.stat(f"/proc/{sleeper.pid}/ns/net").st_ino == inode

        if via == "api":
            netns_fast.delete(name, run_dir=rd)
        else:
            proc = run(
                [*tool_argv("ip" if via == "ip" else "nf"), "del", name],
                timeout=120,
            )
            assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")

        assert not os.path.lexists(path)
        assert sleeper.poll() is None
        assert os.stat(f"/proc/{sleeper.pid}/ns/net").st_ino == inode
        # The unnamed namespace can be named again from its process.
        netns_fast.attach(name, sleeper.pid, run_dir=rd)
        assert is_live(path)
        assert os.stat(path).st_ino == inode
        netns_fast.delete(name, run_dir=rd)
    finally:
        sleeper.kill()
        sleeper.wait()
