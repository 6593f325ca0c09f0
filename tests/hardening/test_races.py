"""Races: many processes and threads adding and deleting at once."""

from __future__ import annotations

import io
import os
from collections.abc import Callable

import pytest

import netns_fast
from netns_fast import cli
from support.kernel import fstypes_at, is_live, nsfs_mounts_under, run_threads
from support.tools import Figure

pytestmark = pytest.mark.root

RACERS = 64
EEXIST_CLEAN = 17  # a child's exit code for "clean EEXIST"


def _fork_at_once(n: int, child: Callable[[int], int]) -> list[int]:
    """Fork n children that all start ``child(i)`` at the same moment.

    Each child blocks on a pipe until the parent closes its end, then runs
    and exits with child's return value (98 for an exception). Returns the
    exit codes in order.
    """
    r, w = os.pipe()
    pids = []
    try:
        for i in range(n):
            pid = os.fork()
            if pid == 0:
                code = 98
                try:
                    os.close(w)
                    os.read(r, 1)
                    code = child(i)
                finally:
                    os._exit(code)
            pids.append(pid)
    finally:
        os.close(r)
        os.close(w)  # EOF for every child: they all start now
    return [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]


def _api_add(run_dir: str, name: str) -> int:
    try:
        netns_fast.add(name, run_dir=run_dir)
    except netns_fast.NamespaceExistsError as exc:
        return EEXIST_CLEAN if exc.step == "create_name" else 97
    return 0


def _cli_add(run_dir: str, name: str) -> int:
    out, err = io.BytesIO(), io.BytesIO()
    rc = cli.run(["add", name], out, err)
    expected = (
        f'Cannot create namespace file "{run_dir}/{name}": File exists\n'
    )
    if rc == 0 and err.getvalue() == b"":
        return 0
    if rc == 1 and err.getvalue() == expected.encode():
        return EEXIST_CLEAN
    return 96


@pytest.mark.parametrize("via", ["api", "cli"])
def test_64_processes_add_the_same_name(
    scratch_env: str, via: str, figure: Figure
) -> None:
    """Of 64 simultaneous adds one wins, 63 get EEXIST, one mount stands."""
    rd = scratch_env
    add = _api_add if via == "api" else _cli_add

    codes = _fork_at_once(RACERS, lambda _: add(rd, "contested"))

    figure("winners", codes.count(0))
    figure("clean EEXIST", codes.count(EEXIST_CLEAN))
    figure("run dir mounts", len(fstypes_at(rd)))
    assert codes.count(0) == 1
    assert codes.count(EEXIST_CLEAN) == RACERS - 1
    assert fstypes_at(os.path.join(rd, "contested")) == ["nsfs"]
    # The run directory itself got exactly one self-bind mount.
    assert fstypes_at(rd) == ["tmpfs"]
    netns_fast.delete("contested", run_dir=rd)


PROCS = 8
THREADS = 4
NAMES_PER_THREAD = 16


def _plan(p: int, t: int) -> list[tuple[str, str]]:
    """(name, kind) for one thread; kind picks the sequence of ops."""
    kinds = ("add", "add-del", "add-del-add", "add-add")
    return [
        (f"p{p}t{t}n{i}", kinds[i % len(kinds)])
        for i in range(NAMES_PER_THREAD)
    ]


def _present_at_end(kind: str) -> bool:
    return kind != "add-del"


def _thread_single(rd: str, plan: list[tuple[str, str]]) -> int:
    """One call per op; returns the number of unexpected outcomes."""
    bad = 0
    for name, kind in plan:
        ops = kind.split("-")
        for step, op in enumerate(ops):
            try:
                if op == "add":
                    netns_fast.add(name, run_dir=rd)
                else:
                    netns_fast.delete(name, run_dir=rd)
            except netns_fast.NamespaceExistsError:
                bad += not (kind == "add-add" and step == 1)
            except OSError:
                bad += 1
            else:
                bad += kind == "add-add" and step == 1
    return bad


def _thread_batch(rd: str, plan: list[tuple[str, str]]) -> int:
    """The same plan through add_many/delete_many."""
    names = [n for n, _ in plan]
    bad = sum(not o.ok for o in netns_fast.add_many(names, run_dir=rd))
    gone = [n for n, k in plan if k in ("add-del", "add-del-add")]
    bad += sum(not o.ok for o in netns_fast.delete_many(gone, run_dir=rd))
    again = [n for n, k in plan if k == "add-del-add"]
    bad += sum(not o.ok for o in netns_fast.add_many(again, run_dir=rd))
    twice = [n for n, k in plan if k == "add-add"]
    for o in netns_fast.add_many(twice, run_dir=rd):
        bad += not isinstance(o.error, netns_fast.NamespaceExistsError)
    return bad


def _process(rd: str, p: int) -> int:
    """Child: THREADS threads, half single calls and half batches."""
    results = [0] * THREADS
    ns_before = os.stat("/proc/thread-self/ns/net").st_ino

    def work(t: int) -> None:
        mine = os.stat("/proc/thread-self/ns/net").st_ino
        run = _thread_batch if t % 2 else _thread_single
        results[t] = run(rd, _plan(p, t))
        # Every thread ends in the namespace it started in.
        results[t] += os.stat("/proc/thread-self/ns/net").st_ino != mine

    run_threads(work, THREADS)
    bad = sum(results) + (
        os.stat("/proc/thread-self/ns/net").st_ino != ns_before
    )
    return min(bad, 90)


def test_processes_and_threads_add_and_delete_concurrently(
    scratch_env: str, figure: Figure
) -> None:
    """8 processes x 4 threads churning: every name as expected, no storm."""
    rd = scratch_env
    codes = _fork_at_once(PROCS, lambda p: _process(rd, p))

    plans = [_plan(p, t) for p in range(PROCS) for t in range(THREADS)]
    expected = sorted(
        name for plan in plans for name, kind in plan if _present_at_end(kind)
    )
    figure("names", sum(len(plan) for plan in plans))
    figure("run dir mounts", len(fstypes_at(rd)))
    assert codes == [0] * PROCS
    assert sorted(os.listdir(rd)) == expected
    assert all(is_live(os.path.join(rd, n)) for n in expected)
    assert sorted(nsfs_mounts_under(rd)) == sorted(
        os.path.join(rd, n) for n in expected
    )
    assert fstypes_at(rd) == ["tmpfs"]
    failed = [
        o for o in netns_fast.delete_many(expected, run_dir=rd) if not o.ok
    ]
    assert failed == []
