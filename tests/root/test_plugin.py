"""The pytest plugin, through pytester (needs root)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import netns_fast
from support.processes import runs
from support.tools import PLUGIN_ARGS, PRIVATE_RUN_DIR, requires_ip

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.root

FIXTURE_TESTS = """
import os, socket, subprocess, time
from netns_fast._handle import enter, thread_inode

STATE = {}

def test_netns_is_fresh_with_lo_up(netns):
    assert netns.inode != thread_inode()
    with enter(netns), socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        socket.create_connection(s.getsockname()).close()

def test_factory_makes_more(netns_factory):
    a, b = netns_factory(), netns_factory(named=True)
    assert a.inode != b.inode and b.name is not None
    assert b.name in os.listdir("/run/netns")
    STATE["named"] = b.name

def test_named_was_removed():
    assert STATE["named"] not in os.listdir("/run/netns")

def test_processes_started(netns):
    p = subprocess.Popen(["nsenter", "--net=" + netns.path, "sleep", "60"])
    for _ in range(500):
        if os.stat(f"/proc/{p.pid}/ns/net").st_ino == netns.inode:
            break
        time.sleep(0.01)
    STATE["proc"] = p

def test_processes_were_killed():
    assert STATE["proc"].wait(5) == -9
"""


@pytest.mark.usefixtures("pytester_env")
@pytest.mark.parametrize(
    "args",
    [[], ["--netns-pool"], ["--netns-pool", "--netns-named"]],
    ids=["plain", "pool", "pool-named"],
)
def test_fixtures_work(pytester: pytest.Pytester, args: list[str]) -> None:
    """netns and netns_factory give fresh namespaces, kill their processes
    and remove them, with and without the pool."""
    pytester.makepyfile(FIXTURE_TESTS)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, *args)
    result.assert_outcomes(passed=5)
    assert os.listdir("/run/netns") == []


LEAKY_TESTS = """
import os
import netns_fast
from netns_fast import Netns

KEEP = []

def test_clean(netns):
    pass

def test_leaks_an_fd(netns):
    KEEP.append(os.open("/dev/null", os.O_RDONLY))

def test_leaks_a_namespace(netns):
    KEEP.append(Netns.new())

def test_leaks_a_name(netns):
    netns_fast.add("nsft-leaked-{pid}")
"""


@pytest.mark.usefixtures("pytester_env")
def test_leak_check_fails_leaking_tests(pytester: pytest.Pytester) -> None:
    """A test that leaks an fd, a namespace or a name fails, and the run
    fails with a summary; a clean test passes."""
    name = f"nsft-leaked-{os.getpid()}"
    pytester.makepyfile(LEAKY_TESTS.replace("{pid}", str(os.getpid())))
    try:
        result = pytester.runpytest_subprocess(*PLUGIN_ARGS)
    finally:
        if os.path.exists(f"/run/netns/{name}"):
            netns_fast.delete(name)
    result.assert_outcomes(passed=4, errors=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "netns_fast leak check" in out
    assert "fds ['" in out
    assert "/dev/null" in out
    assert "net:[" in out
    assert f"names ['/run/netns/{name}']" in out
    assert f"nsfs mounts ['/run/netns/{name}']" in out


@pytest.mark.usefixtures("pytester_env")
def test_leak_check_off(pytester: pytest.Pytester) -> None:
    """--netns-leak-check=off lets the same leaks pass."""
    pytester.makepyfile(LEAKY_TESTS.replace("netns_fast.add", "str"))
    result = pytester.runpytest_subprocess(
        *PLUGIN_ARGS, "--netns-leak-check=off"
    )
    result.assert_outcomes(passed=4)


WIRED_SHARED_TESTS = """
SHARED = []


def test_wires_a_shared_namespace(session_netns_factory):
    ns = session_netns_factory(named=True)  # made without a socket
    SHARED.append(ns)
    ns.bridge("br0")  # the first wiring call makes it one


def test_uses_it_again():
    assert SHARED[0].link("br0").name == "br0"
"""


@pytest.mark.usefixtures("pytester_env")
def test_wiring_a_shared_namespace_is_no_leak(
    pytester: pytest.Pytester,
) -> None:
    """The rtnetlink socket a session namespace gets on its first wiring
    call is the namespace's (held), not a leak of that test."""
    pytester.makepyfile(WIRED_SHARED_TESTS)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS)
    result.assert_outcomes(passed=2)
    assert "leaked" not in result.stdout.str()


UNPRIVILEGED_TESTS = """
import os

def test_uid_is_still_0():
    assert os.getuid() == 0

def test_needs_netns(netns):
    raise AssertionError("must be skipped")
"""


@pytest.mark.usefixtures("pytester_env")
def test_skipped_without_privilege_with_the_real_reason(
    pytester: pytest.Pytester,
) -> None:
    """As uid 0 without CAP_SYS_ADMIN (and rootless off), netns tests are
    skipped with the unshare error as the reason (the probe tries, it does
    not look at the uid)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    pytester.makepyfile(UNPRIVILEGED_TESTS)
    result = pytester.run(
        setpriv,
        "--inh-caps=-sys_admin",
        "--bounding-set=-sys_admin",
        sys.executable,
        "-m",
        "pytest",
        *PLUGIN_ARGS,
        "--netns-no-rootless",
    )
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*needs CAP_SYS_ADMIN: unshare(CLONE_NEWNET) failed: "
            "[[]Errno 1[]] Operation not permitted*"
        ]
    )


# -- Ctrl-C -----------------------------------------------------------------

INTERRUPTED_TESTS = """
import pathlib, subprocess, time

def test_waits(netns):
    p = subprocess.Popen(["nsenter", "--net=" + netns.path, "sleep", "60"])
    pathlib.Path("started").write_text(str(p.pid))
    time.sleep(60)
"""


@pytest.mark.usefixtures("pytester_env")
def test_ctrl_c_is_pytests_short_keyboard_interrupt(
    pytester: pytest.Pytester,
) -> None:
    """SIGINT during a test gives pytest's short KeyboardInterrupt report
    and exit code 2, no leak report or traceback, and the test's process
    is killed all the same."""
    pytester.makepyfile(INTERRUPTED_TESTS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *PLUGIN_ARGS],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    started = pytester.path / "started"
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # the test is in its sleep
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    text = out.decode()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, text
    assert "KeyboardInterrupt" in text
    assert "leaked" not in text
    assert "Traceback" not in text
    assert len(text.splitlines()) < 20, text
    sleeper = int(started.read_text())
    assert not runs(sleeper)
    assert os.listdir("/run/netns") == []


# -- xdist: only what this process made -------------------------------------


def _section(out: str, title: str) -> list[str]:
    """The lines of the terminal summary's section ``title``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if f" {title} " in line)
    body = []
    for line in lines[start + 1 :]:
        if line.startswith("="):
            break
        body.append(line)
    return body


XDIST_TESTS = """
import os, time
import pytest
import netns_fast
from netns_fast import Netns

KEEP = []

def _note(ns):
    with open("names", "a") as f:
        f.write(ns.name + "\\n")

@pytest.mark.parametrize("i", range(8))
def test_named(i, netns_factory, netns):
    _note(netns)
    for _ in range(3):
        _note(netns_factory(named=True))
        time.sleep(0.05)

def test_pool_stats(netns_pool):
    with netns_pool.acquire():
        pass
    assert netns_pool.stats().acquired >= 1

def test_leaks(netns):
    netns_fast.add("nsft-xdist-leak-{pid}")
    KEEP.append(Netns.new())
"""

TOOL = """
import os, sys, time
import netns_fast
made, n = [], 0
while not os.path.exists(sys.argv[1]):
    n += 1
    made.append(f"cni-{os.getpid()}-{n}")
    netns_fast.add(made[-1])
    if len(made) > 2:
        netns_fast.delete(made.pop(0))
    time.sleep(0.01)
for name in made:
    netns_fast.delete(name)
"""


@pytest.mark.usefixtures("pytester_env")
def test_xdist_workers_blame_only_their_own_leaks(
    pytester: pytest.Pytester,
) -> None:
    """Under pytest -n 2 with the named pool, while another tool adds and
    deletes names in the same run directory: no test is blamed for another
    worker's names, the pools' refills or the tool's names; the one real
    leak (a name and an fd) is reported by its worker, once, in the
    controller's summary, and reclaimed; fixture names carry the worker
    id."""
    pytest.importorskip("xdist")
    leak = f"nsft-xdist-leak-{os.getpid()}"
    pytester.makepyfile(XDIST_TESTS.replace("{pid}", str(os.getpid())))
    stop = pytester.path / "stop"
    tool = subprocess.Popen([sys.executable, "-c", TOOL, str(stop)])
    try:
        result = pytester.runpytest_subprocess(
            *PLUGIN_ARGS,
            "-p",
            "xdist",
            "-n",
            "2",
            "--netns-pool",
            "--netns-named",
        )
    finally:
        stop.touch()
        assert tool.wait(30) == 0
    result.assert_outcomes(passed=10, errors=1)
    out = result.stdout.str()
    lines = _section(out, "netns_fast leak check")
    assert len(lines) == 1, out
    assert "::test_leaks: [gw" in lines[0]
    assert f"names ['/run/netns/{leak}']" in lines[0]
    assert "fds ['" in lines[0]
    names = (pytester.path / "names").read_text().split()
    assert {n.split("-")[3] for n in names} == {"gw0", "gw1"}
    assert all(n.startswith("nsf-pytest-") for n in names)
    assert os.listdir("/run/netns") == []


# -- names made by a child: blamed only in a world of the session's own ------

CHILD_TESTS = """
import os, subprocess

def test_child_adds_a_name(netns):
    subprocess.run(["ip", "netns", "add", "NAME"], check=True)

def test_after():
    assert "NAME" not in os.listdir("/run/netns")
"""


@pytest.mark.usefixtures("pytester_env")
@requires_ip
def test_a_childs_name_is_blamed_in_a_private_world(
    pytester: pytest.Pytester, fresh_name: str
) -> None:
    """A name that a test's child (ip netns add) leaves is blamed and
    removed when the session has its mount namespace and run directory to
    itself, and left alone when others share them (here: this session),
    since anyone could have made it."""
    pytester.makepyfile(CHILD_TESTS.replace("NAME", fresh_name))
    shared = pytester.runpytest_subprocess(
        *PLUGIN_ARGS, "-k", "test_child_adds_a_name"
    )
    shared.assert_outcomes(passed=1)
    assert fresh_name in os.listdir("/run/netns")
    netns_fast.delete(fresh_name)
    private = pytester.run(
        *PRIVATE_RUN_DIR,
        sys.executable,
        "-m",
        "pytest",
        *PLUGIN_ARGS,
    )
    private.assert_outcomes(passed=2, errors=1)
    assert (
        f"leaked: names ['/run/netns/{fresh_name}']; nsfs mounts"
        in private.stdout.str()
    )


# -- scopes, prefixes, the session pool, owners -------------------------------

SCOPE_CONFTEST = """
import subprocess, pytest

@pytest.fixture(scope="module")
def server(module_netns):
    net = "--net=" + module_netns.path
    p = subprocess.Popen(["nsenter", net, "sleep", "60"])
    with open("servers", "a") as f:
        f.write(f"{p.pid}\\n")
    yield p
"""

SCOPE_A = """
def _log(kind, ns):
    with open(kind, "a") as f:
        f.write(f"{ns.inode}\\n")

def test_one(module_netns, session_netns, server):
    _log("module", module_netns)
    _log("session", session_netns)

def test_two(module_netns, session_netns, server):
    _log("module", module_netns)
    _log("session", session_netns)

def test_prefixes(netns_factory):
    for ns in (netns_factory(named=True), netns_factory(prefix="web-")):
        with open("named", "a") as f:
            f.write(ns.name + "\\n")

def test_pool(netns_pool):
    before = netns_pool.stats().acquired
    with netns_pool.acquire():
        pass
    assert netns_pool.stats().acquired == before + 1
"""

SCOPE_B = """
import os, subprocess, sys

def test_three(module_netns, session_netns, server):
    with open("module", "a") as f:
        f.write(f"{module_netns.inode}\\n")
    with open("session", "a") as f:
        f.write(f"{session_netns.inode}\\n")

def test_owners_lists_this_session(session_netns_factory):
    ns = session_netns_factory(named=True)
    out = subprocess.run(
        [sys.executable, "-m", "netns_fast", "owners"],
        capture_output=True, check=True,
    ).stdout.decode()
    assert f"{ns.name} pytest {os.getpid()} alive" in out.splitlines()
"""


@pytest.mark.usefixtures("pytester_env")
def test_module_and_session_fixtures_prefixes_and_the_pool(
    pytester: pytest.Pytester,
) -> None:
    """module_netns is one namespace per module, session_netns one for the
    session; a module fixture's process in module_netns is no test's leak
    and is killed at the module's end; named fixtures carry the ini prefix
    (or the factory's) after the owner; netns_pool's stats count what a
    test acquires; netns-fast owners shows the session's names alive; the
    run directory is empty afterwards."""
    pytester.makeconftest(SCOPE_CONFTEST)
    pytester.makepyfile(test_a=SCOPE_A, test_b=SCOPE_B)
    result = pytester.runpytest_subprocess(
        *PLUGIN_ARGS, "-o", "netns_prefix=db-", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=6)
    module = (pytester.path / "module").read_text().split()
    session = (pytester.path / "session").read_text().split()
    assert module[0] == module[1] != module[2]
    assert len(set(session)) == 1
    assert session[0] not in module
    for pid in (pytester.path / "servers").read_text().split():
        assert not runs(int(pid))
    named = (pytester.path / "named").read_text().split()
    assert [n.split("-", 3)[3][:-8] for n in named] == ["db-", "web-"]
    assert all(n.startswith("nsf-pytest-") for n in named)
    assert os.listdir("/run/netns") == []


# -- topology fixtures -------------------------------------------------------

TOPOLOGY_ONE = """
import os, subprocess, time
from netns_fast import Topology

PAIR = {"nodes": {"a": {"named": True}, "b": {}}, "links": [["a", "b"]]}
STATE = {}

def test_function_scope_is_fresh_per_call(netns_topology):
    one, two = netns_topology(PAIR), netns_topology(Topology.from_dict(PAIR))
    assert one["a"].inode != two["a"].inode
    assert one["a"].name in os.listdir("/run/netns")
    assert one.address("b:eth0") == "10.255.0.2"
    assert one["a"].sysctl("net.ipv4.ip_forward") == "0"
    one["a"].sysctl("net.ipv4.ip_forward", 1)
    STATE["function"] = one["a"].name
    p = subprocess.Popen(["nsenter", "--net=" + one["b"].path, "sleep", "60"])
    for _ in range(500):
        if os.stat(f"/proc/{p.pid}/ns/net").st_ino == one["b"].inode:
            break
        time.sleep(0.01)
    STATE["proc"] = p

def test_function_scope_was_removed_and_killed(netns_topology):
    assert STATE["function"] not in os.listdir("/run/netns")
    assert STATE["proc"].wait(5) == -9
    net = netns_topology(PAIR)
    assert net["a"].sysctl("net.ipv4.ip_forward") == "0"

def test_module_scope_first(module_netns_topology, session_netns_topology):
    STATE["module"] = module_netns_topology(PAIR)
    STATE["session"] = session_netns_topology(PAIR)
    assert STATE["module"]["a"].name in os.listdir("/run/netns")

def test_module_scope_is_shared(module_netns_topology, session_netns_topology):
    assert module_netns_topology(PAIR) is STATE["module"]
    assert session_netns_topology(PAIR) is STATE["session"]
    assert STATE["module"] is not STATE["session"]
"""

TOPOLOGY_TWO = """
import os
from test_one import PAIR, STATE

def test_module_scope_was_removed(
    module_netns_topology, session_netns_topology
):
    assert STATE["module"].closed
    assert STATE["module"]["a"].name not in os.listdir("/run/netns")
    assert module_netns_topology(PAIR) is not STATE["module"]
    assert session_netns_topology(PAIR) is STATE["session"]
    assert not STATE["session"].closed

def test_a_leak_is_caught(netns_topology):
    from netns_fast import Topology
    STATE["leak"] = Topology.from_dict(PAIR).build(prefix="nsft-leak-")
"""


@pytest.mark.usefixtures("pytester_env")
@pytest.mark.parametrize("args", [[], ["--netns-pool"]], ids=["plain", "pool"])
def test_topology_fixtures_in_every_scope(
    pytester: pytest.Pytester, args: list[str]
) -> None:
    """netns_topology gives a fresh network per call, killed and removed
    after the test; the module and session ones share one network per
    spec within their scope and remove it after; the leak check passes
    them and catches a network a test leaves behind."""
    pytester.makepyfile(test_one=TOPOLOGY_ONE, test_two=TOPOLOGY_TWO)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, *args)
    result.assert_outcomes(passed=6, errors=1)
    out = result.stdout.str()
    assert "test_two.py::test_a_leak_is_caught: " in out
    assert "nsft-leak-a" in out
    assert os.listdir("/run/netns") == []
