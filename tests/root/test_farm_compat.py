"""netns_fast.compat.pyroute2_netns against pyroute2.netns (needs root)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import uuid

import pytest
from farm_helpers import run_threads
from nsft_helpers import RUN_DIR, unique_name

from netns_fast.compat import pyroute2_netns as compat

pytestmark = pytest.mark.root

SIOCGSKNS = 0x894C

# The same script for both modules; only the import differs.
SCRIPT = r"""
import os, subprocess, sys

if sys.argv[1] == "pyroute2":
    from pyroute2 import netns
else:
    from netns_fast.compat import pyroute2_netns as netns

P = sys.argv[2]
A, B, C = P + "a", P + "b", P + "c"
KINDS = (FileExistsError, FileNotFoundError, IndexError, RuntimeError,
         OSError, Exception)


def ino(path):
    return os.stat(path).st_ino


def here():
    return ino("/proc/thread-self/ns/net")


def named(name):
    return ino(netns.NETNS_RUN_DIR + "/" + name)


def mine():
    return sorted(n for n in netns.listnetns() if n.startswith(P))


def run(label, fn, *args, **kw):
    try:
        print(label, "ok", fn(*args, **kw))
    except Exception as exc:
        kind = next(k.__name__ for k in KINDS if isinstance(exc, k))
        print(label, "error", kind, getattr(exc, "errno", None))


home = here()
run("create", netns.create, A)
run("create again", netns.create, A)
run("list", mine)
run("setns missing", netns.setns, B, flags=0)
run("getnsfd excl", netns.getnsfd, A, flags=os.O_CREAT | os.O_EXCL)
run("getnsfd bad", netns.getnsfd, 1.5)
fd = netns.getnsfd(A)
run("getnsfd is A", lambda: os.fstat(fd).st_ino == named(A))
os.close(fd)
netns.pushns(A)
run("pushed into A", lambda: here() == named(A))
child = subprocess.Popen(["sleep", "30"])
netns.popns()
run("popped home", lambda: here() == home)
run("ns_pids", lambda: netns.ns_pids().get(A) == [child.pid])
run("pid_to_ns", netns.pid_to_ns, child.pid)
run("attach", netns.attach, C, child.pid)
run("same ns", lambda: named(C) == named(A))
child.kill()
child.wait()
netns.pushns()
run("setns creates", netns.setns, B)
run("in B", lambda: here() == named(B))
netns.popns()
run("home again", lambda: here() == home)
netns.pushns()
netns.dropns()
run("popns empty", netns.popns)
run("dropns empty", netns.dropns)
run("pid_to_ns none", netns.pid_to_ns, os.getpid())
for name in (A, B, C):
    run("remove " + name[len(P):], netns.remove, name)
run("remove missing", netns.remove, A)
run("list empty", mine)
"""


def _run(module: str, prefix: str) -> str:
    import netns_fast

    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(netns_fast.__file__))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, module, prefix],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.replace(prefix, "P-")


def test_same_script_same_results_as_pyroute2() -> None:
    """A pyroute2.netns script gives the same results with the compat
    module: only the import changes."""
    pytest.importorskip("pyroute2")
    prefix = f"nsft-{uuid.uuid4().hex[:6]}-"
    theirs = _run("pyroute2", prefix)
    ours = _run("compat", prefix)
    assert ours == theirs
    assert "create again error FileExistsError 17" in ours
    assert "popns empty error IndexError None" in ours
    assert "ns_pids ok True" in ours


def test_pushns_popns_are_per_thread() -> None:
    """8 threads x 100 pushns/popns each return to their own namespace
    (pyroute2's process-wide stack restores the main thread's)."""
    names = [unique_name() for _ in range(8)]
    errors: list[str] = []
    for name in names:
        compat.create(name)

    def worker(k: int) -> None:
        compat.setns(names[k])  # this thread lives in its own namespace
        mine = os.stat("/proc/thread-self/ns/net").st_ino
        other = names[(k + 1) % len(names)]
        for i in range(100):
            compat.pushns(other)
            compat.popns()
            if os.stat("/proc/thread-self/ns/net").st_ino != mine:
                errors.append(f"thread {k} round {i}")
                return

    try:
        run_threads(worker, 8)
    finally:
        for name in names:
            compat.remove(name)
    assert errors == []


def test_create_does_not_fork_and_keeps_the_thread(fresh_name: str) -> None:
    """create() runs in-process and leaves the calling thread where it was."""
    before = os.stat("/proc/thread-self/ns/net").st_ino
    children_before = set(os.listdir("/proc/self/task"))
    compat.create(fresh_name)
    assert os.stat("/proc/thread-self/ns/net").st_ino == before
    assert set(os.listdir("/proc/self/task")) == children_before
    assert fresh_name in compat.listnetns()
    compat.remove(fresh_name)
    assert not os.path.exists(f"{RUN_DIR}/{fresh_name}")


def test_create_socket_in_namespace(fresh_name: str) -> None:
    """create_socket makes the socket inside the named namespace."""
    compat.create(fresh_name)
    try:
        with compat.create_socket(fresh_name) as s:
            nsfd = fcntl.ioctl(s, SIOCGSKNS)  # the socket's namespace
            try:
                got = os.fstat(nsfd).st_ino
            finally:
                os.close(nsfd)
        assert got == os.stat(f"{RUN_DIR}/{fresh_name}").st_ino
        with pytest.raises(TypeError):
            compat.create_socket(fresh_name, fileno=3)
    finally:
        compat.remove(fresh_name)
