"""Netns handles, per-thread enter/leave, run_in, socket (needs root)."""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator

import pytest

import netns_fast
from netns_fast import NamespaceRestoreError, Netns, enter, run_in
from netns_fast import socket as ns_socket
from netns_fast.exceptions import NotANamespaceError
from support.kernel import (
    CAP_SYS_ADMIN,
    RUN_DIR,
    CapData,
    in_thread,
    run_threads,
    update_capabilities,
)
from support.names import unique_name
from support.private import handle

pytestmark = pytest.mark.root

SIOCGIFFLAGS = 0x8913


def _set_sys_admin(on: bool) -> None:
    """Raise or drop CAP_SYS_ADMIN in the calling thread's effective set."""

    def change(data: ctypes.Array[CapData]) -> None:
        if on:
            data[0].effective |= 1 << CAP_SYS_ADMIN
        else:
            data[0].effective &= ~(1 << CAP_SYS_ADMIN)

    update_capabilities(change)


@pytest.fixture
def anon() -> Iterator[Netns]:
    """An anonymous namespace, closed afterwards."""
    with Netns.new() as ns:
        yield ns


def test_anonymous_handle_properties(anon: Netns) -> None:
    """An anonymous handle has no name, a /proc fd path, its own inode."""
    assert anon.name is None
    assert anon.anonymous
    assert anon.owned
    assert anon.path == f"/proc/{os.getpid()}/fd/{anon.fileno()}"
    assert os.stat(anon.path).st_ino == anon.inode != handle.thread_inode()
    assert anon.nsid is None
    assert RUN_DIR not in anon.path


def test_named_handle_close_deletes_name() -> None:
    """A created named handle is RUN_DIR/NAME and closing removes the name."""
    name = unique_name()
    with Netns.create(name) as ns:
        assert ns.name == name
        assert ns.path == f"{RUN_DIR}/{name}"
        assert os.stat(ns.path).st_ino == ns.inode
        assert name in netns_fast.list_names()
    assert ns.closed
    assert name not in netns_fast.list_names()
    with pytest.raises(ValueError, match="closed"):
        ns.fileno()


def test_open_does_not_own(fresh_name: str) -> None:
    """A handle opened on an existing name leaves the name when closed."""
    netns_fast.add(fresh_name)
    with Netns.open(fresh_name) as ns:
        assert not ns.owned
        assert ns.name == fresh_name
    assert fresh_name in netns_fast.list_names()
    netns_fast.delete(fresh_name)


def test_nsid_after_ip_netns_set(fresh_name: str) -> None:
    """nsid reflects an id assigned with ip netns set (else None)."""
    netns_fast.add(fresh_name)
    with Netns.open(fresh_name) as ns:
        assert ns.nsid is None
        subprocess.run(["ip", "netns", "set", fresh_name, "4242"], check=True)
        assert ns.nsid == 4242
    netns_fast.delete(fresh_name)


def _lo_is_up(ns: Netns) -> bool:
    """IFF_UP of "lo", read with SIOCGIFFLAGS on a socket made inside."""
    with ns_socket(ns, socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH14x", b"lo", 0))
    return bool(struct.unpack("16sH", ifr[:18])[1] & 1)


def test_new_brings_loopback_up(anon: Netns) -> None:
    """A new namespace's loopback is up unless lo_up=False; lo_up() fixes."""
    assert _lo_is_up(anon)
    with ns_socket(anon) as srv, ns_socket(anon) as cli:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        cli.connect(srv.getsockname())
    with Netns.new(lo_up=False) as down:
        assert not _lo_is_up(down)
        handle.lo_up(down)
        assert _lo_is_up(down)


def test_enter_moves_only_this_thread(anon: Netns) -> None:
    """Inside enter() this thread is in the namespace; others are not."""
    base = handle.thread_inode()
    go, seen = threading.Event(), []
    other = threading.Thread(
        target=lambda: (go.wait(), seen.append(handle.thread_inode()))
    )
    other.start()
    with enter(anon):
        assert handle.thread_inode() == anon.inode
        go.set()
        other.join()
    assert seen == [base]
    assert handle.thread_inode() == base


def test_threads_started_inside_inherit(anon: Netns) -> None:
    """A thread started inside enter() starts in that namespace."""
    seen: list[int] = []
    with enter(anon):
        t = threading.Thread(target=lambda: seen.append(handle.thread_inode()))
        t.start()
        t.join()
    assert seen == [anon.inode]


def test_enter_nests(anon: Netns) -> None:
    """Nested enters restore level by level."""
    base = handle.thread_inode()
    with Netns.new() as other:
        with enter(anon):
            assert handle.depth() == 1
            with enter(other):
                assert handle.depth() == 2
                assert handle.thread_inode() == other.inode
            assert handle.thread_inode() == anon.inode
        assert handle.depth() == 0
        assert handle.thread_inode() == base


def test_enter_restores_after_exception(anon: Netns) -> None:
    """An exception inside enter() still brings the thread back."""
    base = handle.thread_inode()
    with pytest.raises(KeyError), enter(anon):
        raise KeyError("x")
    assert handle.thread_inode() == base


def test_enter_by_name(fresh_name: str) -> None:
    """enter() takes a name in the run directory."""
    netns_fast.add(fresh_name)
    ino = os.stat(f"{RUN_DIR}/{fresh_name}").st_ino
    with enter(fresh_name):
        assert handle.thread_inode() == ino
    netns_fast.delete(fresh_name)


def test_enter_a_plain_file_is_not_a_namespace(tmp_path: object) -> None:
    """Entering a file that is no namespace raises NotANamespaceError."""
    path = os.path.join(str(tmp_path), "plain")
    open(path, "w").close()
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(NotANamespaceError), enter(fd):
            pass
    finally:
        os.close(fd)
    assert handle.depth() == 0


def test_16_threads_x_1000_never_left_in_a_foreign_namespace() -> None:
    """16 threads x 1000 enter/leave: after each leave the thread is home."""
    spaces = [Netns.new(lo_up=False) for _ in range(4)]
    home = handle.thread_inode()
    errors: list[str] = []

    def worker(k: int) -> None:
        ns = spaces[k % len(spaces)]
        for i in range(1000):
            with enter(ns):
                if handle.thread_inode() != ns.inode:
                    errors.append(f"thread {k} round {i}: not inside")
            if handle.thread_inode() != home:
                errors.append(f"thread {k} round {i}: left outside home")
                return

    try:
        run_threads(worker, 16)
    finally:
        for ns in spaces:
            ns.close()
    assert errors == []
    assert handle.thread_inode() == home


def test_failed_restore_raises_and_strands_until_repaired(anon: Netns) -> None:
    """A failed restore raises NamespaceRestoreError; the thread refuses to
    enter again until an outer level brings it home."""

    def scenario() -> list[str]:
        home = handle.thread_inode()
        log = []
        with Netns.new(lo_up=False) as outer, enter(outer):
            with pytest.raises(NamespaceRestoreError) as info, enter(anon):
                _set_sys_admin(False)
            log.append(info.value.step)
            _set_sys_admin(True)
            assert handle.thread_inode() == anon.inode  # still there: stranded
            with pytest.raises(NamespaceRestoreError), enter(anon):
                pass
            log.append("refused")
        # The outer level went back home: the thread works again.
        assert handle.thread_inode() == home
        with enter(anon):
            log.append("ok")
        assert handle.thread_inode() == home
        return log

    assert in_thread(scenario) == ["restore_net", "refused", "ok"]


def test_enter_exit_out_of_order_is_refused(anon: Netns) -> None:
    """Leaving an outer enter() before the inner one raises RuntimeError."""
    outer, inner = enter(anon), enter(anon)
    outer.__enter__()
    inner.__enter__()
    with pytest.raises(RuntimeError, match="out of order"):
        outer.__exit__(None, None, None)
    inner.__exit__(None, None, None)
    outer.__exit__(None, None, None)
    assert handle.depth() == 0


def test_run_in_returns_result_and_raises(anon: Netns) -> None:
    """run_in runs fn inside on another thread; results and errors pass."""
    base = handle.thread_inode()
    assert run_in(anon, handle.thread_inode) == anon.inode
    assert run_in(anon, lambda a, b=0: a + b, 1, b=2) == 3
    with pytest.raises(ZeroDivisionError):
        run_in(anon, lambda: 1 // 0)
    assert handle.thread_inode() == base


def test_socket_is_made_inside(anon: Netns) -> None:
    """socket() makes a socket in the namespace; the thread does not move."""
    base = handle.thread_inode()
    with ns_socket(anon, socket.AF_INET, socket.SOCK_STREAM) as srv:
        assert handle.thread_inode() == base
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        # The listener is not reachable from this namespace...
        with socket.socket() as c:
            c.settimeout(1)
            with pytest.raises(ConnectionRefusedError):
                c.connect(("127.0.0.1", port))
        # ...but from a socket made in the same namespace.
        with ns_socket(anon) as c:
            c.connect(("127.0.0.1", port))


def test_kill_all_in_kills_processes_inside(anon: Netns) -> None:
    """kill_all_in kills the processes in the namespace, not others."""
    inside = subprocess.Popen(["nsenter", f"--net={anon.path}", "sleep", "60"])
    outside = subprocess.Popen(["sleep", "60"])
    try:
        for _ in range(200):
            if inside.pid in handle.pids_in(anon):
                break
            threading.Event().wait(0.01)
        assert inside.pid in handle.pids_in(anon)
        assert handle.kill_all_in(anon) == [inside.pid]
        assert inside.wait(5) == -9
        assert outside.poll() is None
    finally:
        outside.kill()
        outside.wait()
        inside.kill()
        inside.wait()


def test_enter_socket_run_in_take_a_path(fresh_name: str) -> None:
    """enter, socket and run_in take the path of a namespace file (str,
    bytes, a path object) as well as a name, a handle or an fd."""
    from pathlib import Path

    netns_fast.add(fresh_name)
    path = f"{RUN_DIR}/{fresh_name}"
    ino = os.stat(path).st_ino
    try:
        for where in (path, os.fsencode(path), Path(path)):
            with enter(where):
                assert handle.thread_inode() == ino
            assert run_in(where, handle.thread_inode) == ino
            with ns_socket(where, socket.AF_INET, socket.SOCK_DGRAM) as s:
                assert s.family == socket.AF_INET
        with pytest.raises(netns_fast.NamespaceNotFoundError):
            enter(f"{RUN_DIR}/{fresh_name}-nope").__enter__()
    finally:
        netns_fast.delete(fresh_name)
    assert handle.depth() == 0
