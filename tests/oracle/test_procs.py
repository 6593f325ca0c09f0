"""identify, pids and monitor: netns-fast against ip (iproute2 6.1.0),
stdout, stderr and exit code byte for byte."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence

import pytest

import netns_fast
from support.kernel import RUN_DIR
from support.names import unique_name
from support.oracle import assert_same, same_run
from support.processes import Spawner
from support.tools import (
    IP,
    cli_argv,
    env,
    requires_ip,
    run,
    run_cli,
    run_ip,
)

pytestmark = [pytest.mark.root, pytest.mark.oracle, requires_ip]

# A root shell with every capability dropped: ip's "non-root" errors.
NO_CAPS = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]

AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def same_in_mount_ns(
    setup: str, args: Sequence[str], prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[bytes]:
    """Both, each in a fresh mount namespace prepared by the shell
    commands ``setup`` (e.g. a tmpfs over /run), run as PREFIX CMD."""

    script = setup + ' && exec "$@"'
    wrap = ["unshare", "-m", "sh", "-c", script, "sh", *prefix]
    return assert_same(
        run([IP, "netns", *args], prefix=wrap),
        run([*cli_argv(), *args], prefix=wrap),
    )


# -- identify -----------------------------------------------------------------


def test_identify_self_outside_named_namespaces() -> None:
    """No argument, in an unnamed namespace: an empty line, rc 0."""
    assert same_run(["identify"]).stdout == b"\n"


def test_identify_pid_in_a_named_namespace(
    netns_name: str, spawner: Spawner
) -> None:
    """The name of the process's namespace, and "i" as a prefix."""
    pid = spawner.sleeper(netns_name)
    assert (
        same_run(["identify", str(pid)]).stdout == netns_name.encode() + b"\n"
    )
    same_run(["i", str(pid)])


def test_identify_prints_the_last_of_several_names(
    netns_name: str, spawner: Spawner, name_factory: list[str]
) -> None:
    """Two names on one namespace: only the last in directory order."""
    pid = spawner.sleeper(netns_name)
    for _ in range(3):
        alias = unique_name()
        name_factory.append(alias)
        netns_fast.attach(alias, pid)
    names = set(name_factory) | {netns_name}
    last = [n for n in os.listdir(RUN_DIR) if n in names][-1]
    assert same_run(["identify", str(pid)]).stdout == last.encode() + b"\n"


def test_identify_stale_file_never_matches(
    name_factory: list[str],
) -> None:
    """A stale file does not make identify fail or match."""
    name = unique_name()
    name_factory.append(name)
    with open(f"{RUN_DIR}/{name}", "w"):
        pass
    assert same_run(["identify"]).stdout == b"\n"


@pytest.mark.parametrize(
    "args",
    [
        ["identify", "abc"],
        ["identify", "-5"],
        ["identify", "0x10"],
        ["identify", "self"],
        ["identify", "12a"],
        ["identify", " 1"],
        ["identify", "1", "2"],
        ["identify", "1", "2", "3"],
        ["identify", "999999999"],
        ["identify", "0"],
        ["identify", "00001"],
        ["identify", "a/b"],
        ["identify", ""],
    ],
)
def test_identify_errors(args: list[str]) -> None:
    """ip's messages and exit codes for bad, extra or dead pids."""
    result = same_run(args)
    assert result.returncode != 0


def test_identify_all_skips_the_name_check() -> None:
    """-all skips dispatch's name check: "" then is a (bad) pid path."""
    ip = run_ip(["-all", "netns", "identify", ""])
    ours = run_cli(["-all", "identify", ""])
    assert ip.stderr == b"Cannot open network namespace: " + (
        b"No such file or directory\n"
    )
    assert_same(ip, ours)


def test_identify_missing_run_dir() -> None:
    """No run directory: an empty line, rc 0."""
    result = same_in_mount_ns("mount -t tmpfs tmpfs /run", ["identify"])
    assert (result.returncode, result.stdout) == (0, b"\n")


def test_identify_unreadable_run_dir() -> None:
    """opendir fails: "Failed to open directory /run/netns:<err>" (no
    space after the colon), rc 1."""
    result = same_in_mount_ns(
        f"mount -t tmpfs -o mode=700,uid=65534 tmpfs {RUN_DIR}",
        ["identify"],
        NO_CAPS,
    )
    assert result.stderr == (
        b"Failed to open directory /run/netns:Permission denied\n"
    )


def test_identify_process_of_another_user(spawner: Spawner) -> None:
    """Without privilege, another user's process cannot be inspected."""
    pid = spawner.start([*AS_NOBODY, "sleep", "600"]).pid
    deadline = time.monotonic() + 10
    while os.stat(f"/proc/{pid}").st_uid != 65534:  # setpriv switched
        assert time.monotonic() < deadline
        time.sleep(0.005)
    result = same_in_mount_ns("true", ["identify", str(pid)], NO_CAPS)
    assert result.stderr == (
        b"Cannot open network namespace: Permission denied\n"
    )


# -- pids ---------------------------------------------------------------------


def test_pids_of_a_namespace(netns_name: str, spawner: Spawner) -> None:
    """Every process inside, one per line, in /proc order; "p" works."""
    inside = sorted(spawner.sleeper(netns_name) for _ in range(4))
    result = same_run(["pids", netns_name])
    assert result.stdout == b"".join(b"%d\n" % p for p in inside)
    same_run(["p", netns_name])


def test_pids_of_an_empty_namespace(netns_name: str) -> None:
    """No process inside: no output, rc 0."""
    assert same_run(["pids", netns_name]).stdout == b""


def test_pids_of_a_stale_file(name_factory: list[str]) -> None:
    """A stale file matches nothing: no output, rc 0."""
    name = unique_name()
    name_factory.append(name)
    with open(f"{RUN_DIR}/{name}", "w"):
        pass
    assert same_run(["pids", name]).returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ["pids"],
        ["pids", "nsft-missing-name"],
        ["pids", "a", "b"],
        ["pids", "a/b"],
        ["pids", ".."],
    ],
)
def test_pids_errors(args: list[str]) -> None:
    """ip's messages and exit codes for missing, extra or bad names."""
    assert same_run(args).returncode != 0


def test_pids_unreadable_proc(netns_name: str) -> None:
    """opendir(/proc) fails: "Open of /proc failed: <err>", rc 1."""
    result = same_in_mount_ns(
        "mount -t tmpfs -o mode=700,uid=65534 tmpfs /proc",
        ["pids", netns_name],
        NO_CAPS,
    )
    assert result.stderr == b"Open of /proc failed: Permission denied\n"


def test_pids_empty_proc(netns_name: str) -> None:
    """A /proc without processes: no output, rc 0."""
    result = same_in_mount_ns(
        "mount -t tmpfs tmpfs /proc", ["pids", netns_name]
    )
    assert (result.returncode, result.stdout) == (0, b"")


# -- monitor ------------------------------------------------------------------


def _popen(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env()
    )


def _lines_after(out: bytes, marker: bytes) -> list[bytes]:
    lines = out.splitlines(keepends=True)
    return lines[lines.index(marker) :]


def test_monitor_event_sequence(name_factory: list[str]) -> None:
    """add, failed attach, touch, rename, rm, delete: the same lines as
    ip (run under stdbuf -oL, or it would lose them when killed); ip dies
    of SIGTERM, netns-fast exits 0."""
    names = [unique_name() for _ in range(5)]
    name_factory.extend(names)
    a, b, f, g, bad = names
    ip = _popen(["stdbuf", "-oL", IP, "netns", "monitor"])
    ours = _popen([*cli_argv(), "monitor"])
    procs = [ip, ours]
    try:
        start = f"{RUN_DIR}/{unique_name('start')}"
        # Until both watch: each prints a line for one of these probes.
        for proc in procs:
            assert proc.stdout is not None
            os.set_blocking(proc.stdout.fileno(), False)
        seen = [b"", b""]
        deadline = time.monotonic() + 30
        while not all(seen) and time.monotonic() < deadline:
            with open(start, "w"):
                pass
            os.unlink(start)
            time.sleep(0.05)
            for i, proc in enumerate(procs):
                assert proc.stdout is not None
                seen[i] += proc.stdout.read() or b""
        assert all(seen), "a monitor never started"
        marker = f"{RUN_DIR}/{unique_name('mark')}"
        os.mkdir(marker)
        subprocess.run([IP, "netns", "add", a], check=True)
        subprocess.run([IP, "netns", "add", b], check=True)
        subprocess.run([IP, "netns", "del", b], check=True)
        subprocess.run(
            [IP, "netns", "attach", bad, "999999999"],
            capture_output=True,
            check=False,
        )
        with open(f"{RUN_DIR}/{f}", "w"):
            pass
        os.rename(f"{RUN_DIR}/{f}", f"{RUN_DIR}/{g}")
        os.unlink(f"{RUN_DIR}/{g}")
        subprocess.run([IP, "netns", "del", a], check=True)
        os.rmdir(marker)
        time.sleep(0.3)
        for proc in procs:
            proc.terminate()
        outs = []
        for i, proc in enumerate(procs):
            assert proc.stdout is not None
            os.set_blocking(proc.stdout.fileno(), True)
            out, err = proc.communicate(timeout=10)
            outs.append((seen[i] + out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    mark = b"add " + os.path.basename(marker).encode() + b"\n"
    (ip_out, ip_err), (our_out, our_err) = outs
    assert _lines_after(our_out, mark) == _lines_after(ip_out, mark)
    assert len(_lines_after(ip_out, mark)) == 10
    assert (our_err, ip_err) == (b"", b"")
    assert (ours.returncode, ip.returncode) == (0, -15)


def test_monitor_cannot_create_run_dir() -> None:
    """Without privilege and without /run/netns: ip's mkdir error, rc 1."""
    result = same_in_mount_ns(
        "mount -t tmpfs -o mode=755,uid=65534 tmpfs /run",
        ["monitor"],
        NO_CAPS,
    )
    assert result.stderr == b"mkdir /run/netns failed: Permission denied\n"
    assert result.returncode == 1
