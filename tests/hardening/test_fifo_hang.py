"""A FIFO in the run directory hangs nothing.

open(O_RDONLY) of a FIFO blocks until a writer comes, ignoring timeouts
and SIGINT, and a vfork child blocked there has every signal masked. Each
entry point that opens a namespace file runs in a child Python with a
deadline; it must return at once with NotANamespaceError. On a hang the
FIFO is opened read-write, which releases every opener, so nothing is
left blocked after the test either way.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.kernel import RUN_DIR
from support.names import unique_name
from support.tools import IP, cli_argv, requires_ip
from support.tools import env as child_env

pytestmark = pytest.mark.root

DEADLINE = 20.0  # seconds: far above "at once", far below "forever"

_SCENARIO = """
import json, os, sys, time
import netns_fast
from netns_fast import Netns, enter, run_in, socket
from netns_fast.compat import pyroute2_netns as compat
NAME = sys.argv[1]
PATH = "/run/netns/" + NAME
def call():
    {call}
start = time.monotonic()
try:
    call()
    out = {{"raised": None}}
except Exception as exc:
    out = {{
        "raised": type(exc).__name__,
        "not_ns": isinstance(exc, netns_fast.NotANamespaceError),
        "errno": getattr(exc, "errno", None),
        "step": getattr(exc, "step", None),
        "filename": getattr(exc, "filename", None),
    }}
out["seconds"] = time.monotonic() - start
print(json.dumps(out))
"""

# entry point -> (the call, the step it fails at)
ENTRY_POINTS = {
    "run": ('netns_fast.run(NAME, ["true"])', "setns_net"),
    "run full=False": (
        'netns_fast.run(NAME, ["true"], full=False)',
        "setns_net",
    ),
    "spawn().wait(timeout)": (
        'netns_fast.spawn(NAME, ["sleep", "5"]).wait(timeout=2)',
        "setns_net",
    ),
    "enter": ("with enter(NAME): pass", "not_netns"),
    "Netns.open": ("Netns.open(NAME).close()", "not_netns"),
    "Netns.from_path": ("Netns.from_path(PATH).close()", "not_netns"),
    "run_in": ("run_in(NAME, lambda: None)", "not_netns"),
    "socket": ("socket(NAME).close()", "not_netns"),
    "compat setns": ("compat.setns(PATH, flags=0)", "not_netns"),
    "compat pushns": ("compat.pushns(PATH)", "not_netns"),
    "compat create_socket": (
        "compat.create_socket(PATH).close()",
        "not_netns",
    ),
}


def release(fifo: str) -> None:
    """Open the FIFO read-write: every opener blocked on it goes on."""
    try:
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    except FileNotFoundError:
        return
    os.close(fd)


@pytest.fixture
def fifo() -> Iterator[str]:
    """A FIFO RUN_DIR/NAME; openers still blocked on it are released."""
    name = unique_name("nsft-fifo")
    path = os.path.join(RUN_DIR, name)
    os.mkfifo(path)
    try:
        yield name
    finally:
        release(path)
        os.unlink(path)


def run_bounded(
    argv: list[str], fifo: str, what: str
) -> subprocess.CompletedProcess[str]:
    """Run argv; past DEADLINE, release the FIFO and fail as a hang."""
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=child_env(),
            check=False,
            timeout=DEADLINE,
        )
    except subprocess.TimeoutExpired:
        pass
    release(os.path.join(RUN_DIR, fifo))
    pytest.fail(f"{what} hung for {DEADLINE} s on a FIFO")


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_entry_point_on_a_fifo_returns_at_once(fifo: str, entry: str) -> None:
    """Each entry point that opens a namespace file refuses a FIFO at
    once with NotANamespaceError (EINVAL) naming the file."""
    call, step = ENTRY_POINTS[entry]
    code = _SCENARIO.format(call=call)
    proc = run_bounded([sys.executable, "-c", code, fifo], fifo, entry)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out.pop("seconds") < 5
    assert out == {
        "raised": "NotANamespaceError",
        "not_ns": True,
        "errno": errno.EINVAL,
        "step": step,
        "filename": os.path.join(RUN_DIR, fifo),
    }


# SIGINT only sets a flag that the loop reads: a KeyboardInterrupt could
# land in a destructor, where Python drops it ("Exception ignored").
_KILLED_CALLER = """
import signal, sys, time
import netns_fast
interrupted = []
signal.signal(signal.SIGINT, lambda sig, frame: interrupted.append(sig))
print("started", flush=True)
end = time.monotonic() + 30
while time.monotonic() < end and not interrupted:
    try:
        netns_fast.spawn(sys.argv[1], ["true"])
    except netns_fast.NotANamespaceError:
        pass
print("interrupted" if interrupted else "not interrupted", flush=True)
"""


def _with_marker(marker: str) -> list[int]:
    """Pids whose command line holds ``marker`` (a CLONE_VM child shows
    its parent's until it execs)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline.split(b"\0"):
            found.append(int(entry))
    return found


def _start_spawner(fifo: str, marker: str) -> subprocess.Popen[bytes]:
    """A Python that spawns on the FIFO in a loop, once it has started.

    Only its stdout is a pipe. Read it to the end only once nothing can
    be blocked on the FIFO any more: a blocked spawn child holds a copy.
    """
    caller = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CALLER, fifo, marker],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=child_env(),
    )
    assert caller.stdout is not None
    if caller.stdout.readline() != b"started\n":
        caller.kill()
        caller.wait()
        caller.stdout.close()
        pytest.fail("the spawning caller did not start")
    return caller


def _end(caller: subprocess.Popen[bytes], fifo: str, marker: str) -> None:
    """Kill the caller, then release the FIFO until no process of its
    (a blocked spawn child shows the caller's command line) is left."""
    caller.kill()
    caller.wait()
    assert caller.stdout is not None
    caller.stdout.close()
    for _ in range(100):
        if not _with_marker(marker):
            return
        release(os.path.join(RUN_DIR, fifo))
        time.sleep(0.05)


def test_killed_caller_leaves_no_spawn_child_behind(fifo: str) -> None:
    """A caller killed while it spawns on a FIFO leaves no vfork child
    blocked in open() with every signal masked."""
    marker = f"nsft-marker-{uuid.uuid4().hex}"
    caller = _start_spawner(fifo, marker)
    time.sleep(0.5)
    caller.kill()
    caller.wait()
    deadline = time.monotonic() + 2
    while _with_marker(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _with_marker(marker)
    _end(caller, fifo, marker)
    assert left == [], "a spawn child outlived its killed caller"


def _exec_cli(name: str, fifo: str) -> tuple[int, str, str]:
    proc = run_bounded(
        [*cli_argv(), "exec", name, "true"], fifo, "netns-fast exec"
    )
    return proc.returncode, proc.stdout, proc.stderr


@requires_ip
def test_cli_exec_on_a_fifo_is_a_stale_entry(fifo: str) -> None:
    """netns-fast exec on a FIFO prints and exits as for a stale entry,
    which is what ip prints for one (ip itself hangs on a FIFO)."""
    stale = unique_name("nsft-stale")
    stale_path = os.path.join(RUN_DIR, stale)
    Path(stale_path).touch()
    try:
        on_fifo = _exec_cli(fifo, fifo)
        on_stale = _exec_cli(stale, fifo)
        ip = subprocess.run(
            [IP, "netns", "exec", stale, "true"],
            capture_output=True,
            text=True,
            check=False,
            timeout=DEADLINE,
        )
    finally:
        os.unlink(stale_path)
    assert on_stale == (ip.returncode, ip.stdout, ip.stderr)
    assert on_fifo == (
        on_stale[0],
        on_stale[1],
        on_stale[2].replace(stale, fifo),
    )
    assert on_fifo[2] == (
        f'setting the network namespace "{fifo}" failed: Invalid argument\n'
    )


def test_sigint_ends_a_caller_spawning_on_a_fifo(fifo: str) -> None:
    """SIGINT to a caller that spawns on a FIFO in a loop reaches its
    Python handler at once (nothing holds the caller in the kernel)."""
    marker = f"nsft-marker-{uuid.uuid4().hex}"
    caller = _start_spawner(fifo, marker)
    time.sleep(0.2)
    caller.send_signal(signal.SIGINT)
    try:
        caller.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        _end(caller, fifo, marker)
        pytest.fail("SIGINT did not reach a caller spawning on a FIFO")
    assert caller.stdout is not None
    out = caller.stdout.read()
    caller.stdout.close()
    assert (caller.returncode, out) == (0, b"interrupted\n")
