"""Rootless against the kernel: the private world as uid 65534 and as
root, everything netns_fast does inside it, a missing run directory, the
real refusals (a user-namespace limit of 0, a seccomp filter), a failure
part-way, the CLI verb and the pytest plugin without CAP_SYS_ADMIN."""

from __future__ import annotations

import encodings.idna  # noqa: F401 (a nobody child may not read the stdlib)
import errno
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

import netns_fast
from support import faults
from support.kernel import RUN_DIR, cap_eff, fstypes_at
from support.names import unique_name
from support.processes import in_child, run_as_nobody
from support.tools import (
    PLUGIN_ARGS,
    cli_argv,
    env,
    requires_ip,
    run,
    run_python,
)

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.root

CLONE_NEWUSER = 0x10000000
MS_SLAVE = 1 << 19
NO_SYS_ADMIN = [
    shutil.which("setpriv") or "setpriv",
    "--inh-caps=-sys_admin",
    "--bounding-set=-sys_admin",
]
# A user namespace of the test's own (root mapped), in which root may set
# user.max_user_namespaces for that namespace only.
USERNS_NO_USERNS = [
    "unshare",
    "--user",
    "--map-root-user",
    "sh",
    "-c",
    'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
    "sh",
]


def _ns(kind: str) -> int:
    return os.stat(f"/proc/thread-self/ns/{kind}").st_ino


def _outcome(result: tuple[int, object]) -> Any:
    """The value a run_as_nobody child returned; its exception raised."""
    _, outcome = result
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


# -- the world and what works inside it ---------------------------------------


def _everything_inside() -> dict[str, Any]:
    """Child: make the world, then use every family of the API in it."""
    before = {k: _ns(k) for k in ("user", "mnt", "net")}
    cgroups = sorted(os.listdir("/sys/fs/cgroup"))
    caps = cap_eff()
    world = netns_fast.unshare_rootless()
    out: dict[str, Any] = {
        "caps": [caps, cap_eff() != 0],
        "world": [world.uid, world.gid, world.run_dir, world.overlaid],
        "ids": [os.getuid(), os.getgid()],
        "moved": [_ns(k) != v for k, v in before.items()],
        "home": world.home == _ns("net"),
        "run_dir": fstypes_at(RUN_DIR),
        "empty": netns_fast.list_names(),
        "sysfs": [world.sysfs, sorted(os.listdir("/sys/class/net"))],
        "cgroups": sorted(os.listdir("/sys/fs/cgroup")) == cgroups,
    }
    with socket.socket() as srv:  # the home's loopback is up
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        socket.create_connection(srv.getsockname()).close()
    with netns_fast.monitor(ready=True, ready_timeout=5.0) as mon:
        netns_fast.add("a")
        event = mon.read(5.0)
        out["monitor"] = None if event is None else [event.kind, event.name]
    out["names"] = netns_fast.list_names()
    out["run"] = netns_fast.run("a", ["true"]).returncode
    with netns_fast.spawn("a", ["sleep", "30"]) as proc:
        deadline = time.monotonic() + 10
        while not netns_fast.pids("a") and time.monotonic() < deadline:
            time.sleep(0.01)
        out["pids"] = netns_fast.pids("a") == [proc.pid]
        out["identify"] = netns_fast.identify(proc.pid)
        proc.kill()
    with netns_fast.Netns.new() as anon:
        out["anon_run"] = netns_fast.run(anon, ["true"]).returncode
    with netns_fast.Pool(2) as pool, pool.acquire() as ns:
        out["pool"] = ns.anonymous
    with netns_fast.Pool(2, named=True) as pool, pool.acquire() as ns:
        out["named_pool"] = ns.name in netns_fast.list_names()
    netns_fast.delete("a")
    os.close(os.open(f"{RUN_DIR}/stale", os.O_CREAT | os.O_EXCL, 0))
    out["gc"] = netns_fast.gc(min_age=0)
    out["left"] = netns_fast.list_names()
    return out


def test_world_as_nobody_runs_everything() -> None:
    """As uid 65534 with no capability, unshare_rootless makes a world in
    which the caller is root, with a tmpfs run directory, a home with
    loopback up and a sysfs of its own; add, list, monitor, run, spawn,
    pids, identify, handles, both pools, delete and gc work inside, and
    nothing made there shows in the session's run directory."""
    before = sorted(os.listdir(RUN_DIR))
    out = _outcome(run_as_nobody(_everything_inside))
    assert out["caps"] == [0, True]
    assert out["world"] == [65534, 65534, RUN_DIR, None]
    assert out["ids"] == [0, 0]
    assert out["moved"] == [True, True, True]
    assert out["home"] is True
    assert out["run_dir"][-1] == "tmpfs"
    assert out["empty"] == []
    assert out["sysfs"] == [True, ["lo"]]
    assert out["cgroups"] is True
    assert out["monitor"] == ["add", "a"]
    assert out["names"] == ["a"]
    assert out["run"] == 0
    assert out["pids"] is True
    assert out["identify"] == ["a"]
    assert out["anon_run"] == 0
    assert out["pool"] is True
    assert out["named_pool"] is True
    assert out["gc"] == ["stale"]
    assert out["left"] == []
    assert sorted(os.listdir(RUN_DIR)) == before


def test_world_as_root() -> None:
    """As root it works too: root is root inside, the run directory is a
    private tmpfs."""

    def child() -> list[Any]:
        world = netns_fast.unshare_rootless()
        netns_fast.add("r")
        names = netns_fast.list_names()
        netns_fast.delete("r")
        return [world.uid, os.getuid(), names, fstypes_at(RUN_DIR)[-1]]

    before = sorted(os.listdir(RUN_DIR))
    assert in_child(child) == [0, 0, ["r"], "tmpfs"]
    assert sorted(os.listdir(RUN_DIR)) == before


@pytest.fixture
def parent_dir() -> Iterator[str]:
    """A root-owned directory (0755) that uid 65534 may not write, with a
    file, a directory, a symlink and a listening unix socket in it."""
    path = tempfile.mkdtemp(prefix="nsft-parent-", dir="/tmp")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.chmod(path, 0o755)
        with open(f"{path}/file", "w") as f:
            f.write("data")
        os.chmod(f"{path}/file", 0o644)
        os.mkdir(f"{path}/dir", 0o755)
        open(f"{path}/dir/inner", "w").close()
        os.symlink("file", f"{path}/link")
        srv.bind(f"{path}/sock")
        os.chmod(f"{path}/sock", 0o777)
        srv.listen()
        yield path
    finally:
        srv.close()
        shutil.rmtree(path)


def test_missing_run_dir_overlays_its_parent(parent_dir: str) -> None:
    """A run directory the caller may not make (its parent is root's) is
    made in a tmpfs over the parent, with every entry of the parent still
    there inside (file, directory, symlink, a socket that still
    connects); the host's parent is unchanged."""
    rd = f"{parent_dir}/netns"
    host_before = sorted(os.listdir(parent_dir))

    def child() -> dict[str, Any]:
        world = netns_fast.unshare_rootless(run_dir=rd)
        netns_fast.add("o", run_dir=rd)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.connect(f"{parent_dir}/sock")
        with open(f"{parent_dir}/file") as f:
            data = f.read()
        out = {
            "overlaid": world.overlaid,
            "entries": sorted(os.listdir(parent_dir)),
            "data": data,
            "dir": os.listdir(f"{parent_dir}/dir"),
            "link": os.readlink(f"{parent_dir}/link"),
            "mode": stat.S_IMODE(os.stat(parent_dir).st_mode),
            "names": netns_fast.list_names(run_dir=rd),
            "tmpfs": fstypes_at(parent_dir)[-1],
        }
        netns_fast.delete("o", run_dir=rd)
        return out

    out = _outcome(run_as_nobody(child))
    assert out == {
        "overlaid": parent_dir,
        "entries": sorted([*host_before, "netns"]),
        "data": "data",
        "dir": ["inner"],
        "link": "file",
        "mode": 0o755,
        "names": ["o"],
        "tmpfs": "tmpfs",
    }
    assert sorted(os.listdir(parent_dir)) == host_before


def test_etc_netns_gets_a_private_tmpfs(tmp_path: Any) -> None:
    """An existing /etc/netns (here a stand-in directory) gets a private
    tmpfs: the host's entries are not seen inside, and what the world
    writes there stays inside."""
    etc = tmp_path / "etc-netns"
    (etc / "hostname-of-host").mkdir(parents=True)

    def child() -> list[Any]:
        from support.private import rootless

        rootless.ETC_NETNS = os.fsencode(etc)
        world = netns_fast.unshare_rootless()
        inside = os.listdir(etc)
        os.mkdir(etc / "blue")
        return [world.etc_netns, inside, fstypes_at(str(etc))[-1]]

    assert in_child(child) == [True, [], "tmpfs"]
    assert os.listdir(etc) == ["hostname-of-host"]


# -- refusals: the error names the cause, and nothing changes -----------------

_REFUSED = """
import json, os, netns_fast
user = os.stat("/proc/thread-self/ns/user").st_ino
try:
    netns_fast.unshare_rootless()
    out = {"made": True}
except netns_fast.NetnsOSError as exc:
    out = {"class": type(exc).__name__, "errno": exc.errno, "step": exc.step,
           "text": str(exc), "limit": isinstance(exc, OSError)}
out["same_user_ns"] = os.stat("/proc/thread-self/ns/user").st_ino == user
print(json.dumps(out))
"""


def test_user_namespaces_disabled() -> None:
    """With user.max_user_namespaces 0 (in a user namespace of the test's
    own): NamespaceLimitError at unshare_user whose text names the sysctl
    and the command to change it; the caller is unchanged."""
    out = run_python(_REFUSED, prefix=USERNS_NO_USERNS)
    assert out["class"] == "NamespaceLimitError"
    assert (out["errno"], out["step"]) == (errno.ENOSPC, "unshare_user")
    assert "user.max_user_namespaces is 0" in out["text"]
    assert "sysctl -w user.max_user_namespaces=" in out["text"]
    assert out["same_user_ns"] is True


@pytest.mark.skipif(not faults.supported(), reason="no seccomp filters here")
def test_seccomp_refusal_is_named() -> None:
    """unshare(CLONE_NEWUSER) refused by a seccomp filter (as a container
    profile does): NetnsPermissionError whose text says a seccomp filter
    refused it."""
    fault = faults.Fault("unshare", errno.EPERM, 0, CLONE_NEWUSER)
    out = run_python(_REFUSED, prefix=faults.wrapper(fault))
    assert out["class"] == "NetnsPermissionError"
    assert out["step"] == "unshare_user"
    assert "seccomp filter refused unshare(CLONE_NEWUSER)" in out["text"]
    assert out["same_user_ns"] is True


_PART_WAY = """
import json, os, netns_fast
from netns_fast import _rootless
user = os.stat("/proc/thread-self/ns/user").st_ino
out = {}
for check in (True, False):
    try:
        netns_fast.unshare_rootless(check=check)
    except netns_fast.NetnsOSError as exc:
        out[str(check)] = [exc.step, exc.errno,
            os.stat("/proc/thread-self/ns/user").st_ino == user]
    if not check:
        break
print(json.dumps(out))
"""


@pytest.mark.skipif(not faults.supported(), reason="no seccomp filters here")
def test_failure_part_way_leaves_the_caller_as_it_was() -> None:
    """A step that fails after the user namespace exists (here the rslave
    mount, refused by a seccomp filter) is found by the trial in a forked
    child: the caller stays in its own namespaces. Without the trial
    (check=False) the same failure leaves it part-way, in the new user
    namespace: the trial is what protects the caller."""
    fault = faults.Fault("mount", errno.EPERM, 3, MS_SLAVE)
    out = run_python(_PART_WAY, prefix=faults.wrapper(fault))
    assert out == {
        "True": ["make_rslave", errno.EPERM, True],
        "False": ["make_rslave", errno.EPERM, False],
    }


# -- the CLI verb -------------------------------------------------------------

_SCRIPT = """
set -e
nf() { "$PY" -m netns_fast "$@"; }
test "$(id -u)" = 0
nf add blue
nf list
nf exec blue sh -c 'echo in-blue'
nf pids blue
nf delete blue
exit 7
"""

_IP_SCRIPT = """
set -e
ip netns add red
"$PY" -m netns_fast exec red ip -o link show lo | cut -d: -f2
ip netns exec red "$PY" -m netns_fast identify
ip netns del red
"""


def _rootless_cli(*command: str, prefix: tuple[str, ...] = ()) -> Any:
    return run(
        [*prefix, *NO_SYS_ADMIN, *cli_argv(), "rootless", "--", *command],
        child_env=env(PY=sys.executable),
    )


def test_cli_runs_a_script_without_sys_admin() -> None:
    """Without CAP_SYS_ADMIN, netns-fast rootless runs a script in which
    netns-fast works (add, list, exec, pids, delete) and whose exit code
    is passed through; nothing reaches the session's run directory."""
    before = sorted(os.listdir(RUN_DIR))
    res = _rootless_cli("sh", "-c", _SCRIPT)
    assert (res.returncode, res.stderr) == (7, b"")
    assert res.stdout == b"blue\nin-blue\n"
    assert sorted(os.listdir(RUN_DIR)) == before


@requires_ip
def test_cli_runs_an_ip_netns_script() -> None:
    """ip netns itself works inside (add, exec, del), next to
    netns-fast."""
    res = _rootless_cli("sh", "-c", _IP_SCRIPT)
    assert (res.returncode, res.stderr) == (0, b"")
    assert res.stdout == b" lo\nred\n"


def test_cli_passes_signals_and_exec_errors_through() -> None:
    """The command's death by a signal is netns-fast's (it execs); a
    missing command is exit 127 with exec's message."""
    res = _rootless_cli("sh", "-c", "kill -TERM $$")
    assert res.returncode == -signal.SIGTERM
    res = _rootless_cli("/nonexistent/cmd")
    assert res.returncode == 127
    assert res.stderr == (
        b'exec of "/nonexistent/cmd" failed: No such file or directory\n'
    )


def test_cli_says_why_no_world_can_be_made() -> None:
    """With user namespaces disabled: what was tried, the error and the
    sysctl to change; exit 1, the command not run."""
    res = run(
        [*USERNS_NO_USERNS, *cli_argv(), "rootless", "touch", "/nope"],
    )
    assert res.returncode == 1
    assert res.stderr.startswith(
        b"Cannot make a private world: unshare(CLONE_NEWUSER) failed: "
        b"No space left on device: user namespaces are disabled: "
        b"user.max_user_namespaces is 0"
    )
    assert not os.path.exists("/nope")


# -- the pytest plugin --------------------------------------------------------

_FARM = """
import os, socket, subprocess
from netns_fast import enter

def test_anonymous(netns):
    with enter(netns), socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        socket.create_connection(s.getsockname()).close()

def test_named(netns_factory):
    ns = netns_factory(named=True)
    assert ns.name in os.listdir("/run/netns")

def test_more(netns_factory):
    assert netns_factory().inode != netns_factory().inode
"""


def _plugin_run(
    pytester: pytest.Pytester, *args: str, prefix: tuple[str, ...] = ()
) -> pytest.RunResult:
    pytester.makepyfile(_FARM)
    return pytester.run(
        *prefix,
        *NO_SYS_ADMIN,
        sys.executable,
        "-m",
        "pytest",
        *PLUGIN_ARGS,
        *args,
    )


@pytest.mark.usefixtures("pytester_env")
@pytest.mark.parametrize(
    "args",
    [[], ["--netns-pool"], ["--netns-pool", "--netns-named"]],
    ids=["plain", "pool", "pool-named"],
)
def test_plugin_goes_rootless(
    pytester: pytest.Pytester, args: list[str]
) -> None:
    """Without CAP_SYS_ADMIN the plugin enters a private world at session
    start: named and anonymous fixtures and the pool work unchanged, and
    the header says so."""
    result = _plugin_run(pytester, *args)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["netns_fast: rootless: this session*"])


@pytest.mark.usefixtures("pytester_env")
def test_plugin_rootless_under_xdist(pytester: pytest.Pytester) -> None:
    """Under pytest-xdist the controller enters the world before it starts
    its workers, which run in it (they have threads and never try)."""
    pytest.importorskip("xdist")
    result = _plugin_run(pytester, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=3)


@pytest.mark.usefixtures("pytester_env")
def test_plugin_rootless_in_a_pytest_a_worker_starts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pytest that an xdist worker's test starts inherits the worker's
    PYTEST_XDIST_WORKER and its controller's note, but is a session of its
    own: it enters a world of its own, never takes the note."""
    # as in a worker: its controller (here this session's parent: the
    # inner pytest's grandparent, as a controller is to a worker's child)
    # wrote the note
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("NETNS_FAST_ROOTLESS", "rootless is off (inherited)")
    monkeypatch.setenv("NETNS_FAST_ROOTLESS_PID", str(os.getppid()))
    result = _plugin_run(pytester)
    result.assert_outcomes(passed=3)


@pytest.mark.usefixtures("pytester_env")
def test_plugin_rootless_off(pytester: pytest.Pytester) -> None:
    """--netns-no-rootless: the fixtures skip, and the reason says that
    rootless is off."""
    result = _plugin_run(pytester, "--netns-no-rootless")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(
        ["*needs CAP_SYS_ADMIN*; rootless is off (--netns-no-rootless*"]
    )


@pytest.mark.usefixtures("pytester_env")
@pytest.mark.skipif(not faults.supported(), reason="no seccomp filters here")
def test_plugin_skip_reason_says_what_was_tried(
    pytester: pytest.Pytester,
) -> None:
    """When neither works, the skip reason gives both failures: the
    unshare of a network namespace, and rootless with its cause."""
    fault = faults.Fault("unshare", errno.EPERM, 0, CLONE_NEWUSER)
    result = _plugin_run(pytester, prefix=tuple(faults.wrapper(fault)))
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(
        [
            "*needs CAP_SYS_ADMIN: unshare(CLONE_NEWNET) failed: "
            "[[]Errno 1[]] Operation not permitted; rootless (a private "
            "user namespace) failed: [[]Errno 1[]] Operation not "
            "permitted: a seccomp filter refused unshare(CLONE_NEWUSER)*"
        ]
    )


def test_names_from_the_world_are_not_here() -> None:
    """A name made in a world under the session's run directory's path is
    not in the session's run directory afterwards (the tmpfs is the
    world's)."""
    name = unique_name()

    def child() -> list[str]:
        netns_fast.unshare_rootless()
        netns_fast.add(name)
        return netns_fast.list_names()

    assert _outcome(run_as_nobody(child)) == [name]
    assert name not in os.listdir(RUN_DIR)
