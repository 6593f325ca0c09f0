"""exec, -all exec, -n NAME and batch exec: netns-fast against ip 6.1.0.

Each comparison runs ``ip ... netns ARGS`` and ``netns-fast ... ARGS`` on
the same namespaces and checks stdout, stderr and the exit code byte for
byte. Where 6.1.0 is buggy (a failing set-up in a forked child runs the rest
of the batch or of -all a second time, fixed in 6.9) netns-fast's own output
is checked instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Optional, Union

import pytest
from nsft_helpers import (
    IP,
    _env,
    cli_argv,
    ip_to_cli,
    requires_ip,
    run_cli,
    run_ip,
    unique_name,
)

from netns_fast import _lifecycle as api

pytestmark = [pytest.mark.root, pytest.mark.oracle, requires_ip]

RUN_DIR = "/run/netns"
Args = Sequence[Union[str, bytes]]


def _agree(
    ip: subprocess.CompletedProcess[bytes],
    ours: subprocess.CompletedProcess[bytes],
) -> subprocess.CompletedProcess[bytes]:
    """The two runs printed the same bytes and exited the same."""
    assert ours.stderr == ip_to_cli(ip.stderr)
    assert ours.stdout == ip_to_cli(ip.stdout)
    assert ours.returncode == ip.returncode
    return ours


def _compare(
    opts: Args, args: Args, stdin: Optional[bytes] = None
) -> subprocess.CompletedProcess[bytes]:
    """ip OPTS netns ARGS and netns-fast OPTS ARGS must agree exactly."""
    return _agree(
        run_ip([*opts, "netns", *args], stdin=stdin),
        run_cli([*opts, *args], stdin=stdin),
    )


def _compare_same(args: Args) -> subprocess.CompletedProcess[bytes]:
    """ip ARGS and netns-fast ARGS (options only, e.g. -b) must agree."""
    return _agree(run_ip(args), run_cli(args))


@pytest.fixture
def ns2(ns: str, name_factory: list[str]) -> Iterator[tuple[str, str]]:
    """Two live namespaces."""
    other = unique_name()
    name_factory.append(other)
    api.add(other)
    yield ns, other
    api.delete(other)


@pytest.fixture
def stale(name_factory: list[str]) -> Iterator[str]:
    """A stale entry: a plain file in the run directory."""
    name = unique_name("stale")
    name_factory.append(name)
    Path(RUN_DIR, name).touch()
    yield name
    os.unlink(os.path.join(RUN_DIR, name))


# -- exec NAME cmd ------------------------------------------------------------


def test_exec_sees_only_the_namespace_devices(ns: str) -> None:
    """ls /sys/class/net lists the namespace's own devices only."""
    subprocess.run(
        [IP, "-n", ns, "link", "add", "nsft-v0", "type", "veth"], check=True
    )
    out = _compare([], ["exec", ns, "ls", "/sys/class/net"])
    assert out.stdout == b"lo\nnsft-v0\nveth0\n"


def test_exec_exit_status(ns: str) -> None:
    """The command's exit status is the exit status."""
    out = _compare([], ["exec", ns, "sh", "-c", "exit 42"])
    assert out.returncode == 42


def test_exec_output_and_environment(ns: str) -> None:
    """stdout, stderr and the environment pass through unchanged."""
    _compare([], ["exec", ns, "sh", "-c", "echo out; echo err >&2; env"])


def test_exec_signal_dispositions(ns: str) -> None:
    """The command starts with no signal ignored or blocked, as with ip."""
    out = _compare(
        [], ["exec", ns, "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]
    )
    assert out.stdout.count(b"0000000000000000") == 2


def test_exec_missing_command(ns: str) -> None:
    """A command that does not exist: ip's message, exit 1."""
    out = _compare([], ["exec", ns, "nsft-no-such-command"])
    assert out.returncode == 1


def test_exec_missing_namespace() -> None:
    """A name that does not exist: exit 255."""
    out = _compare([], ["exec", unique_name(), "true"])
    assert out.returncode == 255


def test_exec_stale_entry(stale: str) -> None:
    """A stale entry: setns fails with EINVAL, exit 255."""
    out = _compare([], ["exec", stale, "true"])
    assert b"Invalid argument" in out.stderr


@pytest.mark.parametrize(
    "args", [["exec"], ["exec", "x"], ["exec", "a/b", "true"], ["e", ""]]
)
def test_exec_argument_errors(args: list[str]) -> None:
    """Missing name or command and invalid names."""
    _compare([], args)


def test_exec_killed_by_signal(ns: str) -> None:
    """A command killed by SIGTERM is seen as such by the caller (143
    through a shell): there is no process in between."""
    shell = ["sh", "-c", '"$@"; echo $?', "sh"]
    kill = ["sh", "-c", "kill -TERM $$"]
    ip = subprocess.run(
        [*shell, IP, "netns", "exec", ns, *kill],
        capture_output=True,
        check=False,
    )
    ours = subprocess.run(
        [*shell, *cli_argv(), "exec", ns, *kill],
        capture_output=True,
        check=False,
        env=_env(),
    )
    assert ours.stdout == ip.stdout == b"%d\n" % (128 + signal.SIGTERM)
    assert ours.stderr == ip.stderr


def test_exec_does_not_fork(ns: str) -> None:
    """The command runs as netns-fast's own process: same pid, and a
    signal sent to that pid reaches the command."""
    proc = subprocess.Popen(
        [*cli_argv(), "exec", ns, "sh", "-c", "echo $$; exec sleep 30"],
        stdout=subprocess.PIPE,
        env=_env(),
    )
    assert proc.stdout is not None
    with proc:
        assert proc.stdout.readline() == b"%d\n" % proc.pid
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM


# -- /etc/netns binds ---------------------------------------------------------


@pytest.fixture
def etc_files(ns: str) -> Iterator[tuple[str, str, str]]:
    """(name, file shown through, file with no /etc counterpart) under
    /etc/netns/NAME; /etc/FILE exists with other content."""
    token = unique_name("nsft-etc")
    shown, orphan = token + ".conf", token + ".orphan"
    made_netns_dir = not os.path.isdir("/etc/netns")
    etc_dir = Path("/etc/netns", ns)
    etc_dir.mkdir(parents=True)
    Path("/etc", shown).write_text("host\n")
    (etc_dir / shown).write_text("namespace\n")
    (etc_dir / orphan).write_text("x\n")
    try:
        yield ns, shown, orphan
    finally:
        for path in (etc_dir / shown, etc_dir / orphan, Path("/etc", shown)):
            path.unlink()
        etc_dir.rmdir()
        if made_netns_dir:
            # unless someone else put something there meanwhile
            with contextlib.suppress(OSError):
                os.rmdir("/etc/netns")


def test_exec_etc_binds(etc_files: tuple[str, str, str]) -> None:
    """/etc/netns/NAME/FILE shows through at /etc/FILE; an entry with no
    /etc counterpart prints ip's Bind message and the command still runs."""
    name, shown, orphan = etc_files
    out = _compare([], ["exec", name, "cat", "/etc/" + shown])
    assert out.stdout == b"namespace\n"
    assert (
        b"Bind /etc/netns/%s/%s -> /etc/%s failed: No such file or directory"
        % (name.encode(), orphan.encode(), orphan.encode())
    ) in out.stderr
    assert Path("/etc", shown).read_text() == "host\n"


# -- -all exec ----------------------------------------------------------------


def test_all_exec(ns2: tuple[str, str]) -> None:
    """A header per namespace in directory order; statuses ignored."""
    out = _compare(["-all"], ["exec", "sh", "-c", "echo in; exit 3"])
    assert out.returncode == 0
    for name in ns2:
        assert b"\nnetns: %s\nin\n" % name.encode() in out.stdout


def test_all_exec_stops_on_signal(ns2: tuple[str, str]) -> None:
    """A child killed by a signal stops the loop with exit 1."""
    out = _compare(["-all"], ["exec", "sh", "-c", "kill -KILL $$"])
    assert out.returncode == 1
    assert out.stdout.count(b"netns: ") == 1


def test_all_exec_missing_command(ns2: tuple[str, str]) -> None:
    """A command that does not exist is reported once per namespace."""
    out = _compare(["-all"], ["exec", "nsft-no-such-command"])
    assert out.stderr.count(b"exec of") == 2


def test_all_exec_no_command() -> None:
    """-all exec without a command."""
    _compare(["-all"], ["exec"])


def test_all_exec_stale_entry_runs_each_once(
    ns2: tuple[str, str], stale: str
) -> None:
    """A namespace whose set-up fails is reported and skipped; nothing runs
    twice (iproute2 6.1.0's child went on with the loop)."""
    out = run_cli(["-all", "exec", "echo", "ran"])
    assert out.returncode == 0
    assert out.stdout.count(b"ran\n") == 2
    assert out.stdout.count(b"netns: ") == 3
    assert out.stderr == (
        b'setting the network namespace "%s" failed: Invalid argument\n'
        % stale.encode()
    )


# -- batch mode ---------------------------------------------------------------


def test_batch_exec(ns: str, tmp_path: Path) -> None:
    """In a batch exec forks and waits; a non-zero status fails the line."""
    batch = tmp_path / "batch"
    batch.write_text(
        f"netns exec {ns} sh -c 'exit 3'\n"
        f"netns exec {ns} echo hi\n"
        f"netns exec {ns} ls /sys/class/net\n"
    )
    for force in ([], ["-force"]):
        _compare_same([*force, "-b", str(batch)])


def test_batch_exec_killed_child(ns: str, tmp_path: Path) -> None:
    """A child killed by a signal ends the batch at once with 1."""
    batch = tmp_path / "batch"
    batch.write_text(
        f"netns exec {ns} echo one\n"
        f"netns exec {ns} sh -c 'kill -KILL $$'\n"
        f"netns exec {ns} echo never\n"
    )
    ours = _compare_same(["-force", "-b", str(batch)])
    assert ours.stdout == b"one\n"


def test_batch_failed_setup_runs_nothing_twice(
    ns: str, stale: str, tmp_path: Path
) -> None:
    """A failed set-up fails its line once (6.1.0 ran the rest twice)."""
    batch = tmp_path / "batch"
    batch.write_text(
        f"netns exec {stale} echo never\n"
        f"netns exec {ns} echo after\n"
        "netns exec nsft-none-here true\n"
        f"netns exec {ns} nsft-no-such-command\n"
    )
    ours = run_cli(["-force", "-b", str(batch)])
    assert ours.returncode == 1
    assert ours.stdout == b"after\n"
    assert ours.stderr == (
        b'setting the network namespace "%s" failed: Invalid argument\n'
        b"Command failed %s:1\n"
        b'Cannot open network namespace "nsft-none-here": '
        b"No such file or directory\n"
        b"Command failed %s:3\n"
        b'exec of "nsft-no-such-command" failed: No such file or directory\n'
        b"Command failed %s:4\n"
    ) % (stale.encode(), *[str(batch).encode()] * 3)


# -- -n NAME ------------------------------------------------------------------


def test_netns_option_errors() -> None:
    """-n with a missing name, an empty name, and no argument at all."""
    _compare(["-n", unique_name()], ["list"])
    _compare(["-n", ""], ["list"])
    ours = _compare_same(["-n"])
    assert b'"(null)"' in ours.stderr


def test_netns_option_stale(stale: str) -> None:
    """-n on a stale entry."""
    _compare(["-n", stale], ["list"])


def test_netns_option_then_exec(ns2: tuple[str, str]) -> None:
    """-n A exec B switches twice, as ip does."""
    a, b = ns2
    _compare(["-n", a], ["exec", b, "ls", "/sys/class/net"])
    _compare(["-n", a], ["list"])


def test_netns_option_identify(ns: str) -> None:
    """-n NAME identify names NAME: the verb runs inside it."""
    pytest.importorskip("netns_fast.cli.procs")
    out = _compare(["-n", ns], ["identify"])
    assert out.stdout == ns.encode() + b"\n"


def test_netns_option_set_and_list_id(ns2: tuple[str, str]) -> None:
    """-n A set B N assigns B's id as seen from A; list-id from A shows it."""
    pytest.importorskip("netns_fast.cli.nsid")
    a, b = ns2
    out = run_cli(["-n", a, "set", b, "23"])
    assert (out.returncode, out.stderr) == (0, b"")
    _compare(["-n", a], ["list-id"])
    _compare(["-n", a], ["set", b, "24"])  # already set: kernel error


def test_netns_option_add_makes_a_live_name(
    ns: str, name_factory: list[str]
) -> None:
    """-n A add B leaves a working name B (ip leaves a stale file)."""
    b = unique_name()
    name_factory.append(b)
    out = run_cli(["-n", ns, "add", b])
    assert (out.returncode, out.stdout, out.stderr) == (0, b"", b"")
    here = os.stat("/proc/thread-self/ns/net").st_ino
    inodes = {os.stat(os.path.join(RUN_DIR, n)).st_ino for n in (ns, b)}
    assert len(inodes | {here}) == 3
    assert run_ip(["netns", "exec", b, "true"]).returncode == 0
    out = run_cli(["-n", ns, "delete", b])
    assert (out.returncode, out.stderr) == (0, b"")
    assert not os.path.lexists(os.path.join(RUN_DIR, b))


def test_netns_option_attach(
    ns2: tuple[str, str], name_factory: list[str]
) -> None:
    """-n A attach C PID names PID's namespace where everybody sees it."""
    a, b = ns2
    c = unique_name()
    name_factory.append(c)
    with subprocess.Popen([IP, "netns", "exec", b, "sleep", "30"]) as sleeper:
        try:
            out = run_cli(["-n", a, "attach", c, str(sleeper.pid)])
        finally:
            sleeper.kill()
    assert (out.returncode, out.stderr) == (0, b"")
    assert (
        os.stat(os.path.join(RUN_DIR, c)).st_ino
        == os.stat(os.path.join(RUN_DIR, b)).st_ino
    )
    api.delete(c)


def test_netns_option_in_batch(ns: str, tmp_path: Path) -> None:
    """-n persists over the lines of a batch, as in ip."""
    batch = tmp_path / "batch"
    batch.write_text(f"netns exec {ns} true\nnetns list\n")
    _compare_same(["-n", ns, "-b", str(batch)])


def test_exec_stdin(ns: str) -> None:
    """stdin reaches the command (the CLI does not read it)."""
    out = _compare([], ["exec", ns, "cat"], stdin=b"data\n")
    assert out.stdout == b"data\n"


def test_exec_environment_is_the_callers(ns: str) -> None:
    """With no locale set, Python's start-up adds LC_CTYPE to its own
    environment; the command still gets exactly the caller's, as with ip."""
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    ip = subprocess.run(
        [IP, "netns", "exec", ns, "env"],
        capture_output=True,
        env=env,
        check=False,
    )
    env["PYTHONPATH"] = _env()["PYTHONPATH"]
    ours = subprocess.run(
        [*cli_argv(), "exec", ns, "env"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert ours.returncode == ip.returncode == 0
    assert b"LC_CTYPE" not in ours.stdout
    assert set(ours.stdout.splitlines()) - set(ip.stdout.splitlines()) == {
        b"PYTHONPATH=" + env["PYTHONPATH"].encode()
    }
