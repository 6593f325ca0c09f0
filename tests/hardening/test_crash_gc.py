"""Crash safety: SIGKILL during adds, and the gc verb that cleans up."""

from __future__ import annotations

import io
import json
import mmap
import os
import random
import signal
import struct
import subprocess
import sys
import time

import pytest

import netns_fast
from netns_fast import cli
from support.kernel import RUN_DIR, is_live, nsfs_mounts_under
from support.names import unique_name
from support.private import _gc
from support.tools import IP, Figure, needs, requires_ip, run, tool_argv

pytestmark = pytest.mark.root

KILL_ATTEMPTS = 1000


def _stale_file(run_dir: str, name: str) -> str:
    """An entry as a killed ip leaves it: an empty mode-0 file."""
    path = os.path.join(run_dir, name)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    return path


def _run_cli(argv: list[str]) -> tuple[int, bytes, bytes]:
    out, err = io.BytesIO(), io.BytesIO()
    rc = cli.run(argv, out, err)
    return rc, out.getvalue(), err.getvalue()


def test_gc_removes_stale_entries_only(scratch_run_dir: str) -> None:
    """gc removes files without a mount and keeps live names, dirs, links."""
    rd = scratch_run_dir
    live = [unique_name("live") for _ in range(3)]
    for name in live:
        netns_fast.add(name, run_dir=rd)
    stale = [unique_name("stale") for _ in range(3)] + ["odd name\n"]
    for name in stale:
        _stale_file(rd, name)
    os.mkdir(os.path.join(rd, "a-dir"))
    os.symlink("/nonexistent", os.path.join(rd, "a-link"))

    removed = netns_fast.gc(run_dir=rd, min_age=0)

    assert sorted(removed) == sorted(stale)
    assert all(is_live(os.path.join(rd, n)) for n in live)
    assert sorted(os.listdir(rd)) == sorted([*live, "a-dir", "a-link"])
    assert netns_fast.gc(run_dir=rd, min_age=0) == []
    os.rmdir(os.path.join(rd, "a-dir"))
    os.unlink(os.path.join(rd, "a-link"))
    netns_fast.delete_many(live, run_dir=rd)


def test_gc_spares_files_younger_than_min_age(scratch_run_dir: str) -> None:
    """A file a concurrent add may still mount onto is left alone."""
    path = _stale_file(scratch_run_dir, "young")
    assert netns_fast.gc(run_dir=scratch_run_dir) == []
    assert os.path.exists(path)
    assert netns_fast.gc(run_dir=scratch_run_dir, min_age=0) == ["young"]


def test_gc_missing_run_dir_is_empty(scratch_run_dir: str) -> None:
    """gc of a run directory that does not exist removes nothing."""
    missing = os.path.join(scratch_run_dir, "missing")
    assert netns_fast.gc(run_dir=missing, min_age=0) == []


def test_cli_gc_prints_one_line_per_removed_name(
    scratch_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """netns-fast gc prints 'removed NAME' for each stale entry, rc 0."""
    monkeypatch.setattr(_gc, "DEFAULT_MIN_AGE", 0.0)
    netns_fast.add("keep", run_dir=scratch_env)
    for name in ("s1", "s 2"):
        _stale_file(scratch_env, name)

    rc, out, err = _run_cli(["gc"])

    assert (rc, err) == (0, b"")
    assert sorted(out.splitlines()) == [b"removed s 2", b"removed s1"]
    assert os.listdir(scratch_env) == ["keep"]
    assert _run_cli(["gc"]) == (0, b"", b"")
    netns_fast.delete("keep", run_dir=scratch_env)


def test_cli_gc_process_keeps_young_and_live(scratch_env: str) -> None:
    """A real netns-fast gc keeps a just-made file and every live name."""
    netns_fast.add("keep", run_dir=scratch_env)
    _stale_file(scratch_env, "young")
    proc = run([*tool_argv("nf"), "gc"], timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert sorted(os.listdir(scratch_env)) == ["keep", "young"]
    netns_fast.delete_many(["keep", "young"], run_dir=scratch_env)


def test_cli_gc_missing_run_dir(
    scratch_run_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gc of a missing run directory prints nothing and exits 0."""
    monkeypatch.setenv("NETNS_RUN_DIR", os.path.join(scratch_run_dir, "no"))
    assert _run_cli(["gc"]) == (0, b"", b"")


def test_cli_gc_min_age_argument(scratch_env: str) -> None:
    """gc min-age 0 removes a file that the default grace period spares."""
    _stale_file(scratch_env, "young")
    assert _run_cli(["gc"]) == (0, b"", b"")
    assert _run_cli(["gc", "min-age", "0"]) == (0, b"removed young\n", b"")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gc", "x"], b'Error: argument "x" is wrong: unknown argument\n'),
        (
            ["gc", "min-age", "-1"],
            b'Error: argument "-1" is wrong: Invalid "min-age" value\n',
        ),
        (
            ["gc", "min-age", "nan"],
            b'Error: argument "nan" is wrong: Invalid "min-age" value\n',
        ),
        (
            ["gc", "min-age"],
            b'Command line is not complete. Try option "help"\n',
        ),
    ],
)
def test_cli_gc_bad_arguments(
    scratch_env: str, argv: list[str], message: bytes
) -> None:
    """A bad gc argument exits 255 with a message and removes nothing."""
    _stale_file(scratch_env, "s")
    assert _run_cli(argv) == (255, b"", message)
    assert os.listdir(scratch_env) == ["s"]
    os.unlink(os.path.join(scratch_env, "s"))


@needs("setpriv")
def test_gc_unlink_refused_is_reported(scratch_env: str) -> None:
    """An unlink that fails is reported (CLI message, rc 1; API raises)."""
    _stale_file(scratch_env, "s1")
    path = os.path.join(scratch_env, "s1")
    # uid 0 without CAP_DAC_OVERRIDE cannot write a 0555 directory.
    drop = [
        "setpriv",
        "--inh-caps=-dac_override",
        "--bounding-set=-dac_override",
    ]
    api_code = (
        "import netns_fast\n"
        "try:\n"
        "    netns_fast.gc(min_age=0)\n"
        "except netns_fast.NetnsPermissionError as e:\n"
        "    print(e.errno, e.step, e.filename)\n"
    )
    os.chmod(scratch_env, 0o555)
    try:
        proc = run(
            [*drop, *tool_argv("nf"), "gc", "min-age", "0"], timeout=120
        )
        api = run([*drop, sys.executable, "-c", api_code], timeout=120)
    finally:
        os.chmod(scratch_env, 0o755)
    assert (proc.returncode, proc.stdout) == (1, b"")
    assert proc.stderr == (
        f'Cannot remove namespace file "{path}": Permission denied\n'.encode()
    )
    assert api.stdout.decode() == f"13 unlink_name {path}\n"
    assert os.listdir(scratch_env) == ["s1"]


# -- SIGKILL at random points during adds -------------------------------------


def _adds_until_killed(run_dir: str, prefix: str, counter: mmap.mmap) -> None:
    """Child: add names in a loop, counting each attempt before it starts."""
    code = 1
    try:
        i = 0
        while True:
            i += 1
            struct.pack_into("q", counter, 0, i)
            netns_fast.add(f"{prefix}-{i}", run_dir=run_dir)
    except BaseException:
        code = 2
    finally:
        os._exit(code)


def _kill_adds(
    run_dir: str, target: int, rng: random.Random
) -> tuple[int, int]:
    """Fork adders and SIGKILL each after a random short delay.

    Returns (kills, add attempts) once ``target`` adds were attempted.
    """
    counter = mmap.mmap(-1, 8)
    kills = attempts = 0
    try:
        while attempts < target:
            struct.pack_into("q", counter, 0, 0)
            pid = os.fork()
            if pid == 0:
                _adds_until_killed(run_dir, f"k{kills}", counter)
            time.sleep(rng.uniform(0, 0.004))
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status), f"adder exited: {status:#x}"
            attempts += struct.unpack_from("q", counter, 0)[0]
            kills += 1
    finally:
        counter.close()
    return kills, attempts


def test_sigkill_during_adds_leaves_nothing_that_looks_alive(
    scratch_env: str, figure: Figure
) -> None:
    """After SIGKILLs during 1000 adds: list works, gc takes only the stale."""
    rd = scratch_env
    control = [f"control-{i}" for i in range(3)]
    netns_fast.add_many(control, run_dir=rd)

    kills, attempts = _kill_adds(rd, KILL_ATTEMPTS, random.Random(4242))

    entries = sorted(os.listdir(rd))
    live = sorted(n for n in entries if is_live(os.path.join(rd, n)))
    stale = sorted(set(entries) - set(live))
    figure("kills", kills)
    figure("add attempts", attempts)
    figure("entries left", len(entries))
    figure("stale entries left by the kills", len(stale))
    # Live means mounted: the mount table agrees with lstat.
    assert sorted(nsfs_mounts_under(rd)) == [os.path.join(rd, n) for n in live]
    # Listing never crashes and shows every entry, stale or not; like ip,
    # each stale entry costs two "Peer netns reference is invalid" lines.
    stale_errors = b"Error: Peer netns reference is invalid.\n" * (
        2 * len(stale)
    )
    rc, out, err = _run_cli(["list"])
    assert (rc, err) == (0, stale_errors)
    assert sorted(out.decode().splitlines()) == entries
    proc = run([*tool_argv("nf"), "-j", "list"], timeout=120)
    assert (proc.returncode, proc.stderr) == (0, stale_errors)
    listed = json.loads(proc.stdout or b"[]")
    assert sorted(obj["name"] for obj in listed) == entries

    assert sorted(netns_fast.gc(run_dir=rd, min_age=0)) == stale

    assert sorted(os.listdir(rd)) == live
    assert all(name in live for name in control)
    assert all(is_live(os.path.join(rd, n)) for n in live)
    failed = [o for o in netns_fast.delete_many(live, run_dir=rd) if not o.ok]
    assert failed == []


@requires_ip
def test_sigkill_during_ip_batch_adds_for_comparison(figure: Figure) -> None:
    """Killed ip -batch adds leave stale files; gc removes exactly those."""
    rng = random.Random(4242)
    prefix = unique_name("ipk")
    kills = 20
    for k in range(kills):
        batch = "".join(f"netns add {prefix}-{k}-{i}\n" for i in range(200))
        proc = subprocess.Popen(
            [IP, "-batch", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdin is not None
        proc.stdin.write(batch.encode())
        proc.stdin.flush()
        time.sleep(rng.uniform(0.002, 0.012))
        proc.kill()
        proc.wait()
        proc.stdin.close()
    ours = sorted(n for n in os.listdir(RUN_DIR) if n.startswith(prefix))
    live = sorted(n for n in ours if is_live(os.path.join(RUN_DIR, n)))
    stale = sorted(set(ours) - set(live))
    figure("ip -batch kills", kills)
    figure("ip adds reached", len(ours))
    figure("stale entries left by ip", len(stale))
    try:
        removed = netns_fast.gc(min_age=0)
        assert sorted(removed) == stale
        assert (
            sorted(n for n in os.listdir(RUN_DIR) if n.startswith(prefix))
            == live
        )
    finally:
        netns_fast.delete_many(
            [n for n in os.listdir(RUN_DIR) if n.startswith(prefix)]
        )
