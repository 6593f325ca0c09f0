"""Signals and lost events in the CLI, against ip where ip has an answer.

- SIGINT (a terminal's ^C, to the whole process group) during ``-all
  exec`` or a batch's ``exec``: ip dies of the signal, and so does
  netns-fast, so that a shell or a parent can tell (not exit 130).
- ``monitor`` when the kernel drops events (inotify queue overflow):
  ``-j`` prints ``{"event":"overflow"}``; the text output stays ip's and
  a warning goes to stderr (ip, under the same overflow, says nothing).
  The overflow is forced without touching the host's sysctls: the monitor
  is stopped (SIGSTOP) while more events than
  fs.inotify.max_queued_events happen.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import netns_fast
from support.kernel import RUN_DIR, wipe
from support.names import unique_name
from support.oracle import assert_same
from support.tools import IP, cli_argv, requires_ip
from support.tools import env as child_env

pytestmark = pytest.mark.root

A, B = unique_name("sig-a"), unique_name("sig-b")
QUEUE_MAX = Path("/proc/sys/fs/inotify/max_queued_events")
needs_stdbuf = pytest.mark.skipif(
    shutil.which("stdbuf") is None, reason="stdbuf (coreutils) is missing"
)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except FileNotFoundError:
        return []


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def _interrupted(argv: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    """Run argv in a process group of its own; once it runs a ``sleep``
    child, SIGINT the group (as ^C does)."""
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not any(_comm(c) == "sleep" for c in _children(proc.pid)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no sleep child started"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _same_when_interrupted(
    ip_args: list[str], cli_args: list[str]
) -> subprocess.CompletedProcess[bytes]:
    """ip and netns-fast, each interrupted, with two names in the
    (otherwise empty) run directory, agree (assert_same); netns-fast's
    run."""
    netns_fast.add_many([A, B])
    try:
        ip_res = _interrupted([IP, *ip_args])
        cli_res = _interrupted([*cli_argv(), *cli_args])
    finally:
        netns_fast.delete_many([A, B])
    return assert_same(ip_res, cli_res)


@requires_ip
@pytest.mark.oracle
def test_sigint_during_all_exec_kills_like_ip() -> None:
    """^C during -all exec: netns-fast dies of SIGINT, as ip does."""
    cli_res = _same_when_interrupted(
        ["-all", "netns", "exec", "sleep", "30"],
        ["-all", "exec", "sleep", "30"],
    )
    assert cli_res.returncode == -signal.SIGINT


@requires_ip
@pytest.mark.oracle
def test_sigint_during_batch_exec_kills_like_ip(tmp_path: Path) -> None:
    """^C during a batch's exec line: netns-fast dies of SIGINT, as ip."""
    cmds = tmp_path / "cmds"
    cmds.write_text(f"netns list\nnetns exec {A} sleep 30\nnetns list\n")
    cli_res = _same_when_interrupted(["-b", str(cmds)], ["-b", str(cmds)])
    assert cli_res.returncode == -signal.SIGINT


# -- monitor when the kernel drops events -------------------------------------


def _overflowed_monitor(
    run_dir: str, argv: list[str]
) -> tuple[list[bytes], bytes, int]:
    """Run a monitor (argv) of run_dir, stop it, make more events than the
    inotify queue holds, let it go on, SIGTERM it; (its stdout lines, its
    stderr, its status)."""
    limit = int(QUEUE_MAX.read_text())
    if limit > 1_000_000:
        pytest.skip(f"fs.inotify.max_queued_events is {limit}: too many")
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(NETNS_RUN_DIR=run_dir),
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    stdout = proc.stdout
    lines: list[bytes] = []

    def read() -> None:
        for line in stdout:
            lines.append(line)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        # The watch is set up once an event comes through.
        _touch_until_seen(run_dir, "ready", lines)
        os.kill(proc.pid, signal.SIGSTOP)
        for i in range(limit // 2 + 100):  # two events each
            path = os.path.join(run_dir, f"e{i}")
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
            os.unlink(path)
        os.kill(proc.pid, signal.SIGCONT)
        _touch_until_seen(run_dir, "end", lines)
        proc.terminate()
        proc.wait(timeout=20)
    finally:
        proc.kill()
        proc.wait()
        reader.join()
        stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    return lines, err, proc.returncode


def _touch_until_seen(run_dir: str, tag: str, lines: list[bytes]) -> None:
    """Create TAG-0, TAG-1, ... until monitor reports one of them."""
    deadline = time.monotonic() + 30
    for i in itertools.count():
        name = f"{tag}-{i}"
        os.close(os.open(os.path.join(run_dir, name), os.O_CREAT, 0o644))
        stop = time.monotonic() + 0.2
        while time.monotonic() < stop:
            if any(name.encode() in line for line in lines):
                return
            time.sleep(0.01)
        assert time.monotonic() < deadline, f"monitor never reported {tag}"


def test_monitor_json_reports_an_overflow(scratch_env: str) -> None:
    """monitor -j prints {"event":"overflow"} when events were lost."""
    argv = [*cli_argv(), "-j", "monitor"]
    lines, err, status = _overflowed_monitor(scratch_env, argv)
    assert b'{"event":"overflow"}\n' in lines
    assert (err, status) == (b"", 0)


def test_monitor_text_warns_of_an_overflow_on_stderr(scratch_env: str) -> None:
    """Text monitor: stdout stays ip's (add/delete lines only), and one
    warning per overflow goes to stderr."""
    argv = [*cli_argv(), "monitor"]
    lines, err, status = _overflowed_monitor(scratch_env, argv)
    assert all(line.startswith((b"add ", b"delete ")) for line in lines)
    assert err.splitlines() == [
        b"Warning: the kernel's inotify queue overflowed: events were lost"
    ]
    assert status == 0


@requires_ip
@needs_stdbuf
@pytest.mark.oracle
def test_ip_monitor_says_nothing_of_an_overflow() -> None:
    """ip netns monitor (line-buffered by stdbuf) under the same overflow:
    the same kind of stdout, nothing on stderr (the deviation's ip side)."""
    try:
        lines, err, status = _overflowed_monitor(
            RUN_DIR, ["stdbuf", "-oL", IP, "netns", "monitor"]
        )
    finally:
        wipe(RUN_DIR)
    assert lines
    assert all(line.startswith((b"add ", b"delete ")) for line in lines)
    assert (err, status) == (b"", -signal.SIGTERM)
