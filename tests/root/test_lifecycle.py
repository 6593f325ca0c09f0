"""add, attach, delete (also with kill=True) and the batches against the
real kernel (root)."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

import netns_fast
from netns_fast import (
    NamespaceExistsError,
    NamespaceNotFoundError,
    NetnsPermissionError,
    cli,
)
from support.kernel import (
    RUN_DIR,
    has_one_nsfs_mount,
    mount,
    mounts,
    mounts_at,
    ns_inode,
    private_tmpfs,
    thread_netns,
)
from support.names import unique_name
from support.processes import run_as_nobody

pytestmark = pytest.mark.root


def _path(name: str, run_dir: str = RUN_DIR) -> str:
    return f"{run_dir}/{name}"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A private tmpfs under tmp_path, unmounted at the end."""
    with private_tmpfs(tmp_path / "mnt") as where:
        yield where


@pytest.fixture
def run_dir(tmpfs: Path) -> str:
    """A run dir that is a plain subdirectory (not a mount point yet)."""
    return str(tmpfs / "rd")


@pytest.fixture
def names(name_factory: list[str]) -> list[str]:
    """Six generated names in /run/netns, cleaned up afterwards."""
    made = [unique_name() for _ in range(6)]
    name_factory.extend(made)
    return made


def test_add_binds_a_new_netns(fresh_name: str, tmp_path: Path) -> None:
    """add: a mode-0000 file under an nsfs mount of a new netns."""
    before = thread_netns()
    netns_fast.add(fresh_name)
    path = _path(fresh_name)
    (mnt,) = mounts_at(path)
    assert mnt.fstype == "nsfs"
    assert ns_inode(path) != before
    assert thread_netns() == before
    # The file under the mount, seen through a non-recursive bind.
    peek = tmp_path / "peek"
    peek.mkdir()
    mount("--bind", RUN_DIR, str(peek))
    try:
        under = os.stat(peek / fresh_name)
    finally:
        subprocess.run(["umount", str(peek)], check=True)
    assert stat.S_ISREG(under.st_mode)
    assert stat.S_IMODE(under.st_mode) == 0
    assert under.st_size == 0
    netns_fast.delete(fresh_name)
    assert not os.path.lexists(path)
    assert mounts_at(path) == []


def test_two_adds_make_two_netns(name_factory: list[str]) -> None:
    """Every add makes its own network namespace."""
    first, second = unique_name(), unique_name()
    name_factory.extend([first, second])
    netns_fast.add(first)
    netns_fast.add(second)
    assert ns_inode(_path(first)) != ns_inode(_path(second))
    netns_fast.delete(first)
    netns_fast.delete(second)


def _snapshot(path: str) -> tuple[list[str], list[str], int]:
    nsfs = sorted(m.mount_point for m in mounts() if m.fstype == "nsfs")
    return sorted(os.listdir(RUN_DIR)), nsfs, os.lstat(path).st_ino


def test_add_existing_name(fresh_name: str) -> None:
    """add of a live name: EEXIST at create, nothing changes."""
    netns_fast.add(fresh_name)
    path = _path(fresh_name)
    inode = ns_inode(path)
    before = _snapshot(path)
    with pytest.raises(NamespaceExistsError) as info:
        netns_fast.add(fresh_name)
    assert isinstance(info.value, FileExistsError)
    assert info.value.errno == errno.EEXIST
    assert info.value.filename == path
    assert info.value.step == "create_name"
    assert _snapshot(path) == before
    assert ns_inode(path) == inode
    netns_fast.delete(fresh_name)


def test_add_over_stale_file(fresh_name: str) -> None:
    """add of a stale file (no mount): EEXIST; delete then removes it."""
    path = _path(fresh_name)
    with open(path, "w"):
        pass
    before = _snapshot(path)
    with pytest.raises(NamespaceExistsError) as info:
        netns_fast.add(fresh_name)
    assert info.value.filename == path
    assert info.value.step == "create_name"
    assert _snapshot(path) == before
    assert mounts_at(path) == []
    assert stat.S_ISREG(os.lstat(path).st_mode)
    netns_fast.delete(fresh_name)
    assert not os.path.lexists(path)


@pytest.mark.parametrize("extra", [1, 2])
@pytest.mark.parametrize("source", ["same", "other"])
def test_delete_stacked_mounts(
    fresh_name: str, extra: int, source: str
) -> None:
    """delete removes every mount stacked on the name, then the file."""
    netns_fast.add(fresh_name)
    path = _path(fresh_name)
    ns_file = path if source == "same" else "/proc/self/ns/net"
    for _ in range(extra):
        mount("--bind", ns_file, path)
    # Propagation inside the shared run dir may stack even more copies.
    assert len(mounts_at(path)) >= 1 + extra
    netns_fast.delete(fresh_name)
    assert mounts_at(path) == []
    assert not os.path.lexists(path)


def test_delete_missing_name() -> None:
    """delete of a missing name: NamespaceNotFoundError at unlink."""
    name = unique_name()
    with pytest.raises(NamespaceNotFoundError) as info:
        netns_fast.delete(name)
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == _path(name)
    assert info.value.step == "unlink_name"


def test_attach_self(fresh_name: str) -> None:
    """attach to our own pid names this process's netns."""
    netns_fast.attach(fresh_name, os.getpid())
    path = _path(fresh_name)
    assert has_one_nsfs_mount(path)
    assert ns_inode(path) == ns_inode("/proc/self/ns/net")
    netns_fast.delete(fresh_name)
    assert not os.path.lexists(path)


def _wait_for_netns_change(pid: int, ours: int) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        inode = ns_inode(f"/proc/{pid}/ns/net")
        if inode != ours:
            return inode
        time.sleep(0.005)
    raise AssertionError(f"pid {pid} never left our netns")


def test_attach_child(fresh_name: str) -> None:
    """attach to a child in another netns names the child's netns."""
    child = subprocess.Popen(["unshare", "-n", "sleep", "30"])
    try:
        theirs = _wait_for_netns_change(
            child.pid, ns_inode("/proc/self/ns/net")
        )
        netns_fast.attach(fresh_name, child.pid)
        assert ns_inode(_path(fresh_name)) == theirs
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    # The name keeps the netns alive after its last process is gone.
    assert ns_inode(_path(fresh_name)) == theirs
    netns_fast.delete(fresh_name)


def test_attach_dead_pid(fresh_name: str) -> None:
    """attach to a dead pid raises at bind and leaves no file."""
    child = subprocess.Popen(["true"])
    child.wait()
    with pytest.raises(NamespaceNotFoundError) as info:
        netns_fast.attach(fresh_name, child.pid)
    assert info.value.step == "bind"
    assert info.value.filename == _path(fresh_name)
    assert info.value.filename2 == f"/proc/{child.pid}/ns/net"
    assert not os.path.lexists(_path(fresh_name))


@pytest.mark.parametrize("threads", [1, 2, None])
def test_batches(names: list[str], threads: Optional[int]) -> None:
    """add_many/delete_many: outcomes in order, one failure stays alone."""
    before = thread_netns()
    netns_fast.add(names[2])
    existing = ns_inode(_path(names[2]))
    out = netns_fast.add_many(names, threads=threads)
    assert [o.name for o in out] == names
    assert [o.ok for o in out] == [True, True, False, True, True, True]
    err = out[2].error
    assert isinstance(err, NamespaceExistsError)
    assert err.filename == _path(names[2])
    assert err.step == "create_name"
    assert ns_inode(_path(names[2])) == existing
    inodes = {ns_inode(_path(n)) for n in names}
    assert len(inodes) == len(names)
    assert before not in inodes
    assert all(has_one_nsfs_mount(_path(n)) for n in names)
    assert thread_netns() == before

    missing = unique_name()
    out = netns_fast.delete_many([*names, missing], threads=threads)
    assert [o.name for o in out] == [*names, missing]
    assert all(o.ok for o in out[:-1])
    assert isinstance(out[-1].error, NamespaceNotFoundError)
    assert out[-1].error.step == "unlink_name"
    assert out[-1].error.filename == _path(missing)
    for name in names:
        assert not os.path.lexists(_path(name))
        assert mounts_at(_path(name)) == []
    assert thread_netns() == before


def test_delete_all_in_private_run_dir(run_dir: str) -> None:
    """delete_all removes every entry of its run dir, stale ones too."""
    made = [unique_name() for _ in range(4)]
    assert all(o.ok for o in netns_fast.add_many(made, run_dir=run_dir))
    netns_fast.attach("attached", os.getpid(), run_dir=run_dir)
    with open(_path("stale", run_dir), "w"):
        pass
    out = netns_fast.delete_all(run_dir=run_dir)
    assert sorted(o.name for o in out) == sorted([*made, "attached", "stale"])
    assert all(o.ok for o in out)
    assert os.listdir(run_dir) == []
    assert [
        m for m in mounts() if m.mount_point.startswith(run_dir + "/")
    ] == []


def test_run_dir_made_a_shared_mount(tmpfs: Path, run_dir: str) -> None:
    """A run dir that is no mount point is created, self-bound and shared,
    in a peer group of its own, once."""
    name = unique_name()
    netns_fast.add(name, run_dir=run_dir)
    assert stat.S_IMODE(os.stat(run_dir).st_mode) == 0o755
    (rd_mount,) = mounts_at(run_dir)
    shared = [f for f in rd_mount.optional if f.startswith("shared:")]
    assert shared, rd_mount
    (parent,) = mounts_at(tmpfs)
    assert shared[0] not in parent.optional
    # Adding again, with the run dir set up anew (the core notes it by its
    # path string: "RUN_DIR/." is not noted), stacks no second bind.
    second = unique_name()
    netns_fast.add(second, run_dir=run_dir + "/.")
    assert len(mounts_at(run_dir)) == 1
    assert sorted(netns_fast.list_names(run_dir=run_dir)) == sorted(
        [name, second]
    )
    for n in (name, second):
        netns_fast.delete(n, run_dir=run_dir)
    assert os.listdir(run_dir) == []


def test_netns_run_dir_environment(
    run_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$NETNS_RUN_DIR is where the API and the CLI put names."""
    monkeypatch.setenv("NETNS_RUN_DIR", run_dir)
    api_name, cli_name = unique_name(), unique_name()
    netns_fast.add(api_name)
    assert has_one_nsfs_mount(_path(api_name, run_dir))
    assert not os.path.lexists(_path(api_name))
    assert netns_fast.list_names() == [api_name]
    assert cli.main(["add", cli_name]) == 0
    assert has_one_nsfs_mount(_path(cli_name, run_dir))
    assert not os.path.lexists(_path(cli_name))
    assert cli.main(["delete", cli_name]) == 0
    netns_fast.delete(api_name)
    assert os.listdir(run_dir) == []


# -- without privilege --------------------------------------------------------


def test_unprivileged_add(fresh_name: str) -> None:
    """As uid 65534 with no capabilities, add fails at make_shared with
    EPERM and leaves nothing behind."""
    before = sorted(os.listdir(RUN_DIR))
    caps, outcome = run_as_nobody(lambda: netns_fast.add(fresh_name))
    assert caps == 0
    assert isinstance(outcome, NetnsPermissionError), outcome
    assert isinstance(outcome, PermissionError)
    assert outcome.errno == errno.EPERM
    assert outcome.step == "make_shared"
    assert outcome.filename == RUN_DIR
    assert sorted(os.listdir(RUN_DIR)) == before


def test_unprivileged_delete(fresh_name: str) -> None:
    """As uid 65534, delete of a live name fails (EACCES) and it stays."""
    netns_fast.add(fresh_name)
    path = _path(fresh_name)
    inode = ns_inode(path)
    caps, outcome = run_as_nobody(lambda: netns_fast.delete(fresh_name))
    assert caps == 0
    assert isinstance(outcome, NetnsPermissionError), outcome
    assert outcome.errno == errno.EACCES
    assert outcome.step == "unlink_name"
    assert outcome.filename == path
    assert has_one_nsfs_mount(path)
    assert ns_inode(path) == inode
    netns_fast.delete(fresh_name)


def test_unprivileged_add_without_run_dir(run_dir: str) -> None:
    """As uid 65534, add into a missing run dir fails at mkdir (EACCES)."""
    caps, outcome = run_as_nobody(lambda: netns_fast.add("x", run_dir=run_dir))
    assert caps == 0
    assert isinstance(outcome, NetnsPermissionError), outcome
    assert outcome.errno == errno.EACCES
    assert outcome.step == "mkdir_run_dir"
    assert outcome.filename == run_dir
    assert not os.path.exists(run_dir)


# -- delete(kill=True): the processes inside go first, then the name ----------


def test_delete_kill_ends_every_process_inside(fresh_name: str) -> None:
    """delete(kill=True) SIGKILLs the namespace's processes, then deletes."""
    netns_fast.add(fresh_name)
    procs = [
        netns_fast.spawn(fresh_name, ["sleep", "30"], full=False)
        for _ in range(3)
    ]
    outside = subprocess.Popen(["sleep", "30"])
    try:
        assert sorted(netns_fast.pids(fresh_name)) == sorted(
            p.pid for p in procs
        )
        netns_fast.delete(fresh_name, kill=True)
        for p in procs:
            assert p.wait(timeout=5) == -9
        assert fresh_name not in os.listdir(RUN_DIR)
        assert outside.poll() is None  # a process elsewhere is untouched
    finally:
        outside.kill()
        outside.wait()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_delete_without_kill_leaves_processes_running(
    fresh_name: str,
) -> None:
    """Plain delete (like ip) removes the name; the process lives on."""
    netns_fast.add(fresh_name)
    proc = netns_fast.spawn(fresh_name, ["sleep", "30"], full=False)
    try:
        netns_fast.delete(fresh_name)
        assert proc.poll() is None
        assert fresh_name not in os.listdir(RUN_DIR)
    finally:
        proc.kill()
        proc.wait()


def test_delete_kill_of_a_stale_entry_removes_it(fresh_name: str) -> None:
    """A stale file has no processes: delete(kill=True) just removes it."""
    fd = os.open(f"{RUN_DIR}/{fresh_name}", os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    netns_fast.delete(fresh_name, kill=True)
    assert fresh_name not in os.listdir(RUN_DIR)


def test_delete_kill_of_a_missing_name_raises(fresh_name: str) -> None:
    """A missing name raises FileNotFoundError before anything is killed."""
    with pytest.raises(FileNotFoundError) as info:
        netns_fast.delete(fresh_name, kill=True)
    assert info.value.filename == f"{RUN_DIR}/{fresh_name}"
