"""netns_fast.spawn / run: processes started inside a namespace (root)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import netns_fast
from netns_fast import (
    NamespaceNotFoundError,
    NetnsOSError,
    NotANamespaceError,
    Process,
)
from support.kernel import RUN_DIR, ns_inode, run_threads
from support.names import unique_name
from support.private import _sys

pytestmark = pytest.mark.root


def _namespaces_of(name: str, *, full: bool = True) -> tuple[str, str]:
    """(net, mnt) namespace links as seen by a child spawned into name."""
    out = netns_fast.run(
        name,
        ["readlink", "/proc/self/ns/net", "/proc/self/ns/mnt"],
        full=full,
        capture_output=True,
        check=True,
    )
    net, mnt = out.stdout.decode().split()
    return net, mnt


def test_run_enters_the_namespace(netns_name: str) -> None:
    """The child's network namespace is the name's, the caller's is not
    touched; the full set-up gives it a mount namespace of its own."""
    before = ns_inode("/proc/thread-self/ns/net")
    net, mnt = _namespaces_of(netns_name)
    assert net == f"net:[{ns_inode(os.path.join(RUN_DIR, netns_name))}]"
    assert mnt != os.readlink("/proc/self/ns/mnt")
    assert ns_inode("/proc/thread-self/ns/net") == before


def test_cheap_path_keeps_the_mounts(netns_name: str) -> None:
    """full=False only does setns: same mount namespace as the caller."""
    net, mnt = _namespaces_of(netns_name, full=False)
    assert net == f"net:[{ns_inode(os.path.join(RUN_DIR, netns_name))}]"
    assert mnt == os.readlink("/proc/self/ns/mnt")


def test_full_path_remounts_sys(netns_name: str) -> None:
    """/sys/class/net shows the namespace's devices with full=True only."""
    full = netns_fast.run(
        netns_name, ["ls", "/sys/class/net"], capture_output=True, check=True
    )
    assert full.stdout == b"lo\n"
    cheap = netns_fast.run(
        netns_name, ["ls", "/sys/class/net"], full=False, capture_output=True
    )
    # the caller's sysfs (in a rootless world the home has only lo too)
    here = sorted(os.listdir("/sys/class/net"))
    assert cheap.stdout.decode().split() == here


def test_etc_netns_binds(netns_name: str) -> None:
    """/etc/netns/NAME entries show through /etc in the child (full only),
    spawned by name or through a named handle, not through an anonymous
    one; the host's file is unchanged."""
    if not os.access("/etc", os.W_OK):
        pytest.skip("writes /etc, which is the host root's (a rootless world)")
    token = unique_name("nsft-etc") + ".conf"
    made = not os.path.isdir("/etc/netns")
    etc_dir = Path("/etc/netns", netns_name)
    etc_dir.mkdir(parents=True)
    try:
        Path("/etc", token).write_text("host\n")
        (etc_dir / token).write_text("namespace\n")
        cat = ["cat", "/etc/" + token]
        with netns_fast.Netns.open(netns_name) as named:
            for target in (netns_name, named):
                out = netns_fast.run(target, cat, capture_output=True)
                assert out.stdout == b"namespace\n"
        with netns_fast.Netns.new() as anon:
            out = netns_fast.run(anon, cat, capture_output=True)
            assert out.stdout == b"host\n"
        cheap = netns_fast.run(
            netns_name, cat, full=False, capture_output=True
        )
        assert cheap.stdout == b"host\n"
    finally:
        (etc_dir / token).unlink(missing_ok=True)
        Path("/etc", token).unlink(missing_ok=True)
        etc_dir.rmdir()
        if made and not os.listdir("/etc/netns"):
            os.rmdir("/etc/netns")


def test_exit_status_and_capture(netns_name: str) -> None:
    """returncode, stdout, stderr, input and text mode."""
    out = netns_fast.run(
        netns_name,
        ["sh", "-c", "cat; echo err >&2; exit 42"],
        input="in\n",
        capture_output=True,
        text=True,
    )
    assert (out.returncode, out.stdout, out.stderr) == (42, "in\n", "err\n")
    assert out.args == ["sh", "-c", "cat; echo err >&2; exit 42"]


def test_check_raises(netns_name: str) -> None:
    """check=True raises CalledProcessError on a non-zero status."""
    with pytest.raises(subprocess.CalledProcessError) as info:
        netns_fast.run(netns_name, ["false"], check=True)
    assert info.value.returncode == 1


def test_timeout_kills(netns_name: str) -> None:
    """timeout= kills the child and raises TimeoutExpired."""
    with pytest.raises(subprocess.TimeoutExpired):
        netns_fast.run(netns_name, ["sleep", "30"], timeout=0.2)


def test_signal_reaches_the_child(netns_name: str) -> None:
    """A signal sent to the handle's pid ends the command itself."""
    with netns_fast.spawn(netns_name, ["sleep", "30"]) as proc:
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM
    assert proc.returncode == -signal.SIGTERM


def test_spawn_handle(netns_name: str) -> None:
    """spawn returns a Popen with pipes; netns and full are recorded."""
    with netns_fast.spawn(
        netns_name,
        ["sh", "-c", "read x; echo got $x; echo oops >&2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as proc:
        assert isinstance(proc, Process)
        assert isinstance(proc, subprocess.Popen)
        assert (proc.netns, proc.full) == (netns_name, True)
        out, err = proc.communicate(b"1\n", timeout=30)
    assert (out, err, proc.returncode) == (b"got 1\noops\n", None, 0)


def test_cwd_and_env(netns_name: str, tmp_path: Path) -> None:
    """cwd and env are applied; PATH of env is used for the search."""
    out = netns_fast.run(
        netns_name,
        ["sh", "-c", 'pwd; echo "$ONLY"; env | wc -l'],
        cwd=tmp_path,
        env={"ONLY": "yes", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
    )
    lines = out.stdout.decode().split()
    assert lines[0] == str(tmp_path)
    assert lines[1] == "yes"
    assert int(lines[2]) <= 4  # ONLY, PATH, and what sh itself adds


def test_path_search_uses_env(netns_name: str) -> None:
    """A program found only through env's PATH runs; without it, not."""
    with pytest.raises(FileNotFoundError):
        netns_fast.run(netns_name, ["ls"], env={"PATH": "/nonexistent"})
    out = netns_fast.run(
        netns_name,
        ["ls", "/"],
        env={"PATH": "/nonexistent:/bin"},
        capture_output=True,
    )
    assert out.returncode == 0


def test_no_fd_leaks_into_the_child(netns_name: str) -> None:
    """Only 0, 1, 2 and pass_fds reach the child, even inheritable fds."""
    r, w = os.pipe()
    os.set_inheritable(r, True)
    try:
        out = netns_fast.run(
            netns_name,
            ["ls", "/proc/self/fd"],
            capture_output=True,
            check=True,
        )
        # ls itself holds one fd open on the directory it lists
        fds = sorted(int(x) for x in out.stdout.split())
        assert fds == [0, 1, 2, 3]
        out = netns_fast.run(
            netns_name,
            ["ls", "/proc/self/fd"],
            pass_fds=[w],
            capture_output=True,
        )
        assert w in {int(x) for x in out.stdout.split()}
    finally:
        os.close(r)
        os.close(w)


def test_signal_dispositions_restored(netns_name: str) -> None:
    """SIGPIPE and SIGXFSZ, ignored by Python, are default in the child."""
    out = netns_fast.run(
        netns_name,
        ["grep", "^SigIgn", "/proc/self/status"],
        capture_output=True,
    )
    assert out.stdout.split()[1] == b"0000000000000000"


def test_missing_namespace() -> None:
    """No such name: NamespaceNotFoundError (a FileNotFoundError) at
    step open_ns, naming the file."""
    name = unique_name()
    with pytest.raises(NamespaceNotFoundError) as info:
        netns_fast.spawn(name, ["true"])
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.step == "open_ns"
    assert info.value.filename == os.path.join(RUN_DIR, name)


def test_stale_entry(name_factory: list[str]) -> None:
    """A stale entry: NotANamespaceError at step setns."""
    name = unique_name("stale")
    name_factory.append(name)
    Path(RUN_DIR, name).touch()
    for full in (True, False):
        with pytest.raises(NotANamespaceError) as info:
            netns_fast.run(name, ["true"], full=full)
        assert info.value.step == "setns_net"


def test_missing_program(netns_name: str, tmp_path: Path) -> None:
    """No such program: FileNotFoundError at step exec, as subprocess."""
    with pytest.raises(FileNotFoundError) as info:
        netns_fast.run(netns_name, ["nsft-no-such-command"])
    assert isinstance(info.value, NetnsOSError)
    assert info.value.step == "exec"
    assert info.value.filename == "nsft-no-such-command"
    not_executable = tmp_path / "data"
    not_executable.write_text("x\n")
    with pytest.raises(PermissionError):
        netns_fast.run(netns_name, [not_executable])


def test_bad_cwd(netns_name: str) -> None:
    """A missing cwd fails at step chdir, naming it."""
    with pytest.raises(FileNotFoundError) as info:
        netns_fast.run(netns_name, ["true"], cwd="/nonexistent-nsft")
    assert isinstance(info.value, NetnsOSError)
    assert (info.value.step, info.value.filename) == (
        "chdir",
        "/nonexistent-nsft",
    )


def test_failed_spawn_closes_pipes(netns_name: str) -> None:
    """A spawn that fails leaves no fd behind (the leak guard checks)."""
    for _ in range(20):
        with pytest.raises(FileNotFoundError):
            netns_fast.run(netns_name, ["nsft-no-such"], capture_output=True)


def test_spawn_from_eight_threads(
    netns_name: str, name_factory: list[str]
) -> None:
    """8 threads spawning at once: every child lands in its namespace and
    no thread moves."""
    other = unique_name()
    name_factory.append(other)
    netns_fast.add(other)
    names = [netns_name, other]
    want = {n: f"net:[{ns_inode(os.path.join(RUN_DIR, n))}]\n" for n in names}
    errors: list[str] = []
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        before = ns_inode("/proc/thread-self/ns/net")
        barrier.wait()
        for j in range(10):
            name = names[(i + j) % 2]
            out = netns_fast.run(
                name,
                ["readlink", "/proc/self/ns/net"],
                full=bool(j % 2),
                capture_output=True,
            )
            if out.stdout.decode() != want[name]:
                errors.append(f"{name}: {out.stdout!r}")
        if ns_inode("/proc/thread-self/ns/net") != before:
            errors.append(f"thread {i} moved")

    run_threads(worker, 8, barrier=barrier)
    netns_fast.delete(other)
    assert errors == []


def test_new_session(netns_name: str) -> None:
    """start_new_session=True makes the child a session leader."""
    with netns_fast.spawn(
        netns_name, ["sleep", "30"], start_new_session=True
    ) as proc:
        assert os.getsid(proc.pid) == proc.pid
        proc.kill()


def test_fork_mode_matches(netns_name: str) -> None:
    """The plain-fork fallback of the C core gives the same child."""
    request = _sys.SpawnRequest(
        RUN_DIR.encode(),
        netns_name.encode(),
        [b"true"],
        _sys.SPAWN_FULL | _sys.SPAWN_CLOSE_FDS | _sys.SPAWN_FORK,
        path=b"/usr/bin:/bin",
    )
    for _ in range(3):
        _, status = os.waitpid(_sys.spawn(request), 0)
        assert os.waitstatus_to_exitcode(status) == 0
    failing = _sys.SpawnRequest(
        RUN_DIR.encode(),
        netns_name.encode(),
        [b"nsft-no-such"],
        _sys.SPAWN_FORK,
        path=b"/usr/bin:/bin",
    )
    with pytest.raises(FileNotFoundError):
        _sys.spawn(failing)


def test_spawn_is_the_function(netns_name: str) -> None:
    """netns_fast.spawn is the documented function, also once its module
    is loaded: the module is netns_fast._spawn, so nothing shadows it."""
    from netns_fast import _spawn

    assert netns_fast.spawn is _spawn.spawn
    assert "netns_fast.spawn" not in sys.modules
    with netns_fast.spawn(netns_name, ["true"]) as proc:
        assert proc.wait(timeout=30) == 0


def test_vrf_reset_plumbing(netns_name: str, tmp_path: Path) -> None:
    """With the full set-up the child joins the cgroup.procs it is given
    (writes 0, itself); the cheap path does not."""
    procs = tmp_path / "cgroup.procs"
    procs.write_bytes(b"")
    # the cheap run after the full one must not add a second "0"
    for flags, want in ((_sys.SPAWN_FULL, b"0"), (0, b"0")):
        request = _sys.SpawnRequest(
            RUN_DIR.encode(),
            netns_name.encode(),
            [b"true"],
            flags,
            path=b"/usr/bin:/bin",
            cgroup_procs=str(procs).encode(),
        )
        pid = _sys.spawn(request)
        assert os.waitpid(pid, 0)[1] == 0
        assert procs.read_bytes() == want


# -- any namespace: a handle, an fd, a path or a name -------------------------


def _net_of(ns: object, *, full: bool = True) -> int:
    """The network namespace inode a child spawned into ``ns`` sees."""
    out = netns_fast.run(
        ns,  # type: ignore[arg-type]
        ["readlink", "/proc/self/ns/net"],
        full=full,
        capture_output=True,
        check=True,
    )
    return int(out.stdout.decode().strip()[len("net:[") : -1])


def test_spawn_into_any_namespace(netns_name: str) -> None:
    """run/spawn take an anonymous or named Netns handle, its fd, a path
    (str, bytes, a path object) and a name: each child is in that
    namespace, with the full set-up and without; the caller's thread
    never moves."""
    home = ns_inode("/proc/thread-self/ns/net")
    path = f"{RUN_DIR}/{netns_name}"
    named = ns_inode(path)
    with (
        netns_fast.Netns.new() as anon,
        netns_fast.Netns.open(netns_name) as handle,
    ):
        for full in (True, False):
            assert _net_of(anon, full=full) == anon.inode
            assert _net_of(anon.fileno(), full=full) == anon.inode
            assert _net_of(handle, full=full) == named
            assert _net_of(path, full=full) == named
            assert _net_of(os.fsencode(path), full=full) == named
            assert _net_of(Path(path), full=full) == named
            assert _net_of(netns_name, full=full) == named
            assert _net_of(anon.path, full=full) == anon.inode
    assert ns_inode("/proc/thread-self/ns/net") == home


def test_anonymous_handle_gets_its_own_sysfs() -> None:
    """The full set-up into an anonymous handle mounts a sysfs that shows
    that namespace's devices (only lo), and binds no /etc/netns entry
    (it has no name)."""
    with netns_fast.Netns.new() as anon:
        out = netns_fast.run(
            anon, ["ls", "/sys/class/net"], capture_output=True, check=True
        )
    assert out.stdout == b"lo\n"


def test_str_argv_is_one_program(netns_name: str) -> None:
    """A str argv is one program name, as subprocess without a shell:
    "ip link" is looked for as a program of that name (and not found:
    a FileNotFoundError naming it, never NamespaceNotFoundError); a
    str naming a real program runs it without arguments."""
    with pytest.raises(FileNotFoundError) as info:
        netns_fast.run(netns_name, "ip link")
    assert not isinstance(info.value, NamespaceNotFoundError)
    assert isinstance(info.value, netns_fast.NetnsFileNotFoundError)
    assert (info.value.step, info.value.filename) == ("exec", "ip link")
    assert netns_fast.run(netns_name, "true").returncode == 0
    assert netns_fast.run(netns_name, b"true").returncode == 0
    out = netns_fast.run(netns_name, "pwd", capture_output=True, cwd="/")
    assert out.stdout == b"/\n"


def test_missing_program_and_cwd_are_not_a_missing_namespace(
    netns_name: str,
) -> None:
    """A missing program or cwd is a FileNotFoundError naming it and
    never a NamespaceNotFoundError; a missing namespace path is one."""
    for call, step, name in (
        (
            lambda: netns_fast.run(netns_name, ["nsft-nope"]),
            "exec",
            "nsft-nope",
        ),
        (
            lambda: netns_fast.run(netns_name, ["true"], cwd="/nsft-nope"),
            "chdir",
            "/nsft-nope",
        ),
    ):
        with pytest.raises(FileNotFoundError) as info:
            call()
        assert not isinstance(info.value, NamespaceNotFoundError)
        assert (info.value.step, info.value.filename) == (step, name)
    with pytest.raises(NamespaceNotFoundError) as missing:
        netns_fast.run("/nsft-no/such/ns", ["true"])
    assert (missing.value.step, missing.value.filename) == (
        "open_ns",
        "/nsft-no/such/ns",
    )


def test_bad_namespace_arguments(tmp_path: Path) -> None:
    """A wrong type is a TypeError, a negative fd a ValueError, and an fd
    of a file that is no namespace a NotANamespaceError at setns."""
    with pytest.raises(TypeError):
        netns_fast.run(1.5, ["true"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fd"):
        netns_fast.run(-1, ["true"])
    plain = tmp_path / "plain"
    plain.write_text("")
    fd = os.open(plain, os.O_RDONLY)
    try:
        with pytest.raises(NotANamespaceError) as info:
            netns_fast.run(fd, ["true"])
        assert info.value.step == "setns_net"
    finally:
        os.close(fd)


# -- asyncio ------------------------------------------------------------------


def test_async_spawn_in_a_namespace(netns_name: str) -> None:
    """create_subprocess_exec gives an asyncio.subprocess.Process in the
    namespace (a handle or a name): output, exit code and signals come
    through, and the event loop's thread stays home while the child runs
    (another task sees the home namespace meanwhile)."""
    import asyncio

    home = ns_inode("/proc/thread-self/ns/net")

    async def main() -> list[object]:
        seen: list[int] = []

        async def watch() -> None:
            for _ in range(20):
                seen.append(ns_inode("/proc/thread-self/ns/net"))
                await asyncio.sleep(0.005)

        with netns_fast.Netns.new() as anon:
            watcher = asyncio.ensure_future(watch())
            proc = await netns_fast.create_subprocess_exec(
                anon,
                "sh",
                "-c",
                "readlink /proc/self/ns/net; sleep 0.1; exit 3",
                stdout=asyncio.subprocess.PIPE,
            )
            assert isinstance(proc, asyncio.subprocess.Process)
            out, _ = await proc.communicate()
            await watcher
            sleeper = await netns_fast.create_subprocess_exec(
                netns_name, "sleep", "30"
            )
            sleeper.terminate()
            killed = await sleeper.wait()
            return [
                out.decode().strip(),
                proc.returncode,
                killed,
                seen,
                anon.inode,
            ]

    out, code, killed, seen, inode = asyncio.run(main())
    assert out == f"net:[{inode}]"
    assert code == 3
    assert killed == -signal.SIGTERM
    assert set(seen) == {home}


def test_async_spawn_errors() -> None:
    """A missing program raises FileNotFoundError from the await (not a
    NamespaceNotFoundError), a missing name NamespaceNotFoundError; no
    fd or process is left (the leak guard checks)."""
    import asyncio

    async def main() -> list[type]:
        out: list[type] = []
        with netns_fast.Netns.new() as anon:
            for ns, prog in ((anon, "nsft-nope"), (unique_name(), "true")):
                try:
                    await netns_fast.create_subprocess_exec(ns, prog)
                except OSError as exc:
                    out.append(type(exc))
        return out

    found = asyncio.run(main())
    assert found == [netns_fast.NetnsFileNotFoundError, NamespaceNotFoundError]
