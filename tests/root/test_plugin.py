"""The pytest plugin, through pytester (needs root)."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

import netns_fast
from support.tools import PLUGIN_ARGS

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

def test_module_scope_first(netns_topology_module, netns_topology_session):
    STATE["module"] = netns_topology_module(PAIR)
    STATE["session"] = netns_topology_session(PAIR)
    assert STATE["module"]["a"].name in os.listdir("/run/netns")

def test_module_scope_is_shared(netns_topology_module, netns_topology_session):
    assert netns_topology_module(PAIR) is STATE["module"]
    assert netns_topology_session(PAIR) is STATE["session"]
    assert STATE["module"] is not STATE["session"]
"""

TOPOLOGY_TWO = """
import os
from test_one import PAIR, STATE

def test_module_scope_was_removed(
    netns_topology_module, netns_topology_session
):
    assert STATE["module"].closed
    assert STATE["module"]["a"].name not in os.listdir("/run/netns")
    assert netns_topology_module(PAIR) is not STATE["module"]
    assert netns_topology_session(PAIR) is STATE["session"]
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
