"""Crashes and signals leave nothing that cannot be reclaimed: owner-tagged
names, ``gc dead-owners``, the plugin's reclaim at session start and its
leak check that kills what it reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import netns_fast
from support.kernel import is_live, nsfs_mounts_under
from support.names import owner_fields, owner_tagged, unique_name
from support.private import _owner
from support.processes import runs
from support.tools import env as child_env
from support.tools import needs, run, tool_argv

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.root

SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]
# The inner pytest loads the plugin from this checkout, and only it.
PLUGIN = ["-p", "netns_fast.pytest_plugin", "-p", "no:cacheprovider"]
PLUGIN_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def _gc_dead_owners(run_dir: str) -> subprocess.CompletedProcess[bytes]:
    return run(
        [*tool_argv("nf"), "gc", "dead-owners"],
        child_env=child_env(NETNS_RUN_DIR=run_dir),
        timeout=120,
    )


def _removed(out: bytes) -> list[str]:
    lines = out.decode().splitlines()
    assert all(line.startswith("removed ") for line in lines), lines
    return sorted(line[len("removed ") :] for line in lines)


# -- the name form ------------------------------------------------------------


def test_owner_names_round_trip_and_strangers_do_not_parse() -> None:
    """owner_name() parses back to this process; names of other forms (the
    old pool prefix, non-canonical numbers, unknown kinds) do not parse."""
    pid, start, pidns = owner_fields()
    name = _owner.owner_name("pool", "1-0").encode()
    assert _owner.parse(name) == _owner.Owner("pool", pid, start, pidns)
    b36 = _owner._base36
    for stranger in [
        b"nsf-pool-1234-1-0",  # the old default prefix
        b"blue",
        f"nsf-other-{pid}.{b36(start)}.{b36(pidns)}-x".encode(),
        f"nsf-pool-0{pid}.{b36(start)}.{b36(pidns)}-x".encode(),
        f"nsf-pool-{pid}.0{b36(start)}.{b36(pidns)}-x".encode(),
        f"nsf-pool-{pid}.{b36(start).upper()}.{b36(pidns)}-x".encode(),
        f"nsf-pool-{pid}.{b36(start)}.{b36(pidns)}-".encode(),
        f"nsf-pool-{pid}.{b36(start)}-x".encode(),
    ]:
        assert _owner.parse(stranger) is None, stranger


def test_pool_default_prefix_carries_the_owner_within_40_bytes(
    scratch_run_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A named pool's names carry this process as owner; the default prefix
    stays within the pool's 40-byte limit for the largest owner fields."""
    pool = netns_fast.Pool(1, named=True, run_dir=scratch_run_dir)
    with pool, pool.acquire() as ns:
        assert ns.name is not None
        owner = _owner.parse(os.fsencode(ns.name))
    assert owner == _owner.Owner("pool", *owner_fields())
    # pid_max, ~70 years of clock ticks, the largest nsfs inode.
    b36 = _owner._base36
    monkeypatch.setitem(
        _owner._token, 0, f"4194304.{b36(2**37)}.{b36(2**32 - 1)}"
    )
    netns_fast.Pool(1, named=True, run_dir=scratch_run_dir).close()


# -- gc dead-owners -----------------------------------------------------------

POOL_CHILD = """
import json, os, sys, time
from netns_fast import Pool
pool = Pool(4, named=True, run_dir=sys.argv[1])
held = [pool.acquire(), pool.acquire()]
while pool.stats().ready < 4:
    time.sleep(0.01)
print(json.dumps(sorted(os.listdir(sys.argv[1]))), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_names_of_a_killed_pool_are_reclaimed(
    scratch_run_dir: str, sig: signal.Signals
) -> None:
    """A named pool whose process dies of SIGTERM, SIGHUP or SIGKILL
    leaves live names; gc dead-owners unmounts and removes exactly them."""
    rd = scratch_run_dir
    proc = subprocess.Popen(
        [sys.executable, "-c", POOL_CHILD, rd],
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    assert proc.stdout is not None
    with proc.stdout:
        line = proc.stdout.readline()
        proc.send_signal(sig)
        assert proc.wait(30) == -sig
    left = sorted(os.listdir(rd))
    assert len(left) == 6
    assert left == json.loads(line)
    assert all(is_live(os.path.join(rd, n)) for n in left)

    proc = _gc_dead_owners(rd)

    assert (proc.returncode, proc.stderr) == (0, b"")
    assert _removed(proc.stdout) == left
    assert os.listdir(rd) == []
    assert nsfs_mounts_under(rd) == []


PIDNS_CHILD = """
import os, sys, time, netns_fast
from netns_fast import _owner
name = _owner.owner_name("pool", "1-0")
netns_fast.add(name, run_dir=sys.argv[1])
print(os.getpid(), _owner.proc_pid(), name, flush=True)
time.sleep(600)
"""


@needs("unshare")
def test_owner_in_a_pid_namespace_without_its_own_proc(
    scratch_run_dir: str,
) -> None:
    """Under unshare -p -f without a new /proc, a name carries the pid /proc
    shows (not os.getpid()): gc dead-owners keeps it while the owner
    lives. After, it goes if the owner could tell /proc's pid namespace;
    if not (this kernel denies /proc/1/ns/pid there), it is never judged."""
    rd = scratch_run_dir
    argv = ["unshare", "-p", "-f", "--kill-child", sys.executable]
    proc = subprocess.Popen(
        [*argv, "-c", PIDNS_CHILD, rd], stdout=subprocess.PIPE, env=child_env()
    )
    assert proc.stdout is not None
    with proc.stdout:
        own_pid, proc_pid, name = proc.stdout.readline().decode().split()
        try:
            assert own_pid == "1"
            owner = _owner.parse(name.encode())
            assert owner is not None
            assert owner.pid == int(proc_pid) != 1
            assert owner.pidns in (0, _owner.proc_pidns())

            assert _gc_dead_owners(rd).stdout == b""
            assert os.listdir(rd) == [name]
        finally:
            proc.kill()
            assert proc.wait(30) == -signal.SIGKILL
    for _ in range(1000):  # --kill-child: the child dies with unshare
        if _owner.start_time(owner.pid) != owner.start:
            break
        time.sleep(0.005)
    if owner.pidns:
        assert _removed(_gc_dead_owners(rd).stdout) == [name]
    else:
        assert _gc_dead_owners(rd).stdout == b""
        assert os.listdir(rd) == [name]
        netns_fast.delete(name, run_dir=rd)


@pytest.fixture
def survivors(scratch_run_dir: str) -> Iterator[list[str]]:
    """Live names gc dead-owners must never touch: one of a live owner
    (this process), one of a pid namespace that is not /proc's, and some
    of other forms."""
    rd = scratch_run_dir
    pidns = _owner.proc_pidns()
    names = [
        _owner.owner_name("pool", "7-0"),
        _owner.owner_name("pytest", "cafe0001"),
        owner_tagged("pool", 2**22 - 1, 1, pidns + 1, "x"),
        "nsf-pool-1-1-0",
        unique_name("mine"),
    ]
    assert all(o.ok for o in netns_fast.add_many(names, run_dir=rd))
    yield names
    netns_fast.delete_many(names, run_dir=rd)


def test_gc_dead_owners_reclaims_a_reused_pid_and_spares_the_rest(
    scratch_run_dir: str, survivors: list[str]
) -> None:
    """A name whose pid now runs with another start time (a reused pid) is
    the name of a dead owner and goes, also when stale; live owners, other
    pid namespaces and other forms stay."""
    rd = scratch_run_dir
    pid, start, pidns = owner_fields()
    reused = [
        owner_tagged("pool", pid, start + 1, pidns, "3-0"),
        owner_tagged("pytest", pid, max(start - 1, 0), pidns, "beef0002"),
    ]
    netns_fast.add(reused[0], run_dir=rd)
    stale = os.path.join(rd, reused[1])
    os.close(os.open(stale, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))

    proc = _gc_dead_owners(rd)

    assert (proc.returncode, proc.stderr) == (0, b"")
    assert _removed(proc.stdout) == sorted(reused)
    assert sorted(os.listdir(rd)) == sorted(survivors)
    assert all(is_live(os.path.join(rd, n)) for n in survivors)
    # The API does the same, and plain gc leaves owners alone.
    netns_fast.add(reused[0], run_dir=rd)
    assert netns_fast.gc(run_dir=rd, min_age=0) == []
    assert netns_fast.gc(run_dir=rd, dead_owners=True) == [reused[0]]


# -- the pytest plugin --------------------------------------------------------

HOLDING_TEST = """

def test_hold(netns_factory):
    netns_factory(named=True)
    print("ready", flush=True)
    time.sleep(600)
"""


def _killed_session(tmp_path: Path, run_dir: str, sig: int) -> list[str]:
    """Run a pytest session that holds a named fixture, kill it with
    ``sig``; the names it left."""
    test = tmp_path / "test_hold.py"
    test.write_text(HOLDING_TEST)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", *PLUGIN, str(test)],
        stdout=subprocess.PIPE,
        cwd=tmp_path,
        env=child_env(NETNS_RUN_DIR=run_dir, **PLUGIN_ENV),
    )
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            if line.endswith(b"ready\n"):
                break
        proc.send_signal(sig)
        assert proc.wait(30) == -sig
    return sorted(os.listdir(run_dir))


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_names_of_a_killed_session_are_reclaimed(
    scratch_run_dir: str, tmp_path: Path, sig: signal.Signals
) -> None:
    """A pytest session killed by SIGTERM, SIGHUP or SIGKILL while a test
    holds a named fixture leaves a live nsf-pytest name; gc dead-owners
    removes it."""
    left = _killed_session(tmp_path, scratch_run_dir, sig)
    assert len(left) == 1
    assert left[0].startswith("nsf-pytest-")
    assert is_live(os.path.join(scratch_run_dir, left[0]))

    proc = _gc_dead_owners(scratch_run_dir)

    assert (proc.returncode, proc.stderr) == (0, b"")
    assert _removed(proc.stdout) == left
    assert os.listdir(scratch_run_dir) == []


def test_plugin_reclaims_its_dead_sessions_names_at_session_start(
    scratch_env: str,
    tmp_path: Path,
    pytester: pytest.Pytester,
    survivors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At session start the plugin removes nsf-pytest names of dead owners
    (and says so), and leaves dead pools' names, live owners' names and
    other names."""
    rd = scratch_env
    dead = _killed_session(tmp_path, rd, signal.SIGKILL)
    dead = [n for n in dead if n not in survivors]
    pid, start, pidns = owner_fields()
    dead_pool = owner_tagged("pool", pid, start + 1, pidns, "9-0")
    netns_fast.add(dead_pool, run_dir=rd)
    for key, value in {
        **PLUGIN_ENV,
        "PYTHONPATH": child_env()["PYTHONPATH"],
    }.items():
        monkeypatch.setenv(key, value)
    pytester.makepyfile("def test_nothing():\n    pass\n")

    result = pytester.runpytest_subprocess(*PLUGIN)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"netns_fast: removed names left by dead sessions: {dead[0]}"]
    )
    assert sorted(os.listdir(rd)) == sorted([*survivors, dead_pool])
    netns_fast.delete(dead_pool, run_dir=rd)


LEAKING_WORK = """
import os, subprocess, time
import netns_fast

def _started(p):
    mine = os.stat("/proc/self/ns/net").st_ino
    for _ in range(1000):
        if os.stat(f"/proc/{p.pid}/ns/net").st_ino != mine:
            break
        time.sleep(0.005)
    with open("/proc/%d/stat" % p.pid) as f:
        start = f.read().rsplit(")", 1)[1].split()[19]
    with open("pids", "a") as f:
        f.write(f"{p.pid} {start}\\n")

def test_leaks_work(netns):
    _started(subprocess.Popen(["unshare", "-n", "sleep", "600"]))
    netns_fast.add("NAME")
    net = "--net=RUN_DIR/NAME"
    _started(subprocess.Popen(["nsenter", net, "sleep", "600"]))
"""


def test_leak_check_kills_what_it_reports(
    scratch_env: str,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A test that leaks processes and a name with a process inside fails,
    and after the report nothing of it runs and the name is gone."""
    name = unique_name("leak")
    monkeypatch.setenv("PYTHONPATH", child_env()["PYTHONPATH"])
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        LEAKING_WORK.replace("RUN_DIR", scratch_env).replace("NAME", name)
    )
    try:
        result = pytester.runpytest_subprocess(*PLUGIN)
    finally:
        pids = [
            tuple(map(int, line.split()))
            for line in (pytester.path / "pids").read_text().splitlines()
        ]
        alive = [p for p, start in pids if runs(p, start)]
        for pid in alive:
            os.kill(pid, signal.SIGKILL)
        if os.path.lexists(os.path.join(scratch_env, name)):
            netns_fast.delete(name, run_dir=scratch_env)
    result.assert_outcomes(passed=1, errors=1)
    out = result.stdout.str()
    assert f"names ['{scratch_env}/{name}']" in out
    assert "processes in another netns ['" in out
    assert len(pids) == 2
    assert alive == []
