"""pytest plugin: ``netns`` and ``netns_factory`` fixtures and a leak check.

Registered through the ``pytest11`` entry point ``netns_fast`` (or load it
with ``-p netns_fast.pytest_plugin``). Importing it has no side effects:
nothing of netns_fast is loaded, nothing forked, no thread started, until a
fixture or the leak check first runs.

Fixtures (function scope):

- ``netns``: a fresh network namespace (a :class:`~netns_fast.Netns`) with
  its loopback up; afterwards every process in it is killed, then it is
  removed.
- ``netns_factory``: ``netns_factory(named=None)`` makes more of them, all
  removed the same way.

Both take namespaces from a session-wide :class:`~netns_fast.Pool` when it
is enabled (``--netns-pool`` or ini ``netns_pool = true``). They are
anonymous unless ``--netns-named`` / ini ``netns_named = true`` (or
``named=True``), which gives them a name in the run directory, usable with
``ip netns exec``.

Without the privilege (probed once by a forked child that tries
``unshare(CLONE_NEWNET)``, not by looking at the uid) tests that use them
are skipped with the real reason.

Named namespaces (fixtures and the plugin's pools) are called
``nsf-pytest-<owner>-...`` (netns_fast._owner): at session start the plugin
unmounts and removes the names of that form whose owner process is gone
(a session killed by SIGKILL, SIGTERM or SIGHUP), as ``netns-fast gc
dead-owners`` does, and lists them in the summary. It never touches a name
of a live session or of another form.

Leak check (``--netns-leak-check=auto|all|off``, ini ``netns_leak_check``,
default ``auto``: only tests that use these fixtures): a test that leaves a
new name in the run directory, a new nsfs mount, a new open fd, or a new
child process in another network namespace fails at teardown, and the run
fails, with a summary of every leak at the end. After reporting them, the
check kills the leaked processes and deletes the leaked names (killing
the processes inside them), so no work of a failing test keeps running.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Optional

import pytest

if TYPE_CHECKING:
    from ._handle import Netns
    from ._pool import Pool

_MODES = ("auto", "all", "off")
_FIXTURES = frozenset(("netns", "netns_factory"))
_KIND = "pytest"
"""The owner kind of the plugin's names: nsf-pytest-<owner>-..."""
_serials = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The netns_fast options and ini keys."""
    group = parser.getgroup("netns_fast", "network namespaces (netns_fast)")
    group.addoption(
        "--netns-pool",
        action="store_true",
        default=None,
        help="take the netns fixtures' namespaces from a pool made ahead",
    )
    group.addoption(
        "--netns-pool-size",
        type=int,
        default=None,
        help="namespaces the pool keeps ready (default 8)",
    )
    group.addoption(
        "--netns-named",
        action="store_true",
        default=None,
        help="give the fixtures' namespaces a name in the run directory",
    )
    group.addoption(
        "--netns-leak-check",
        choices=_MODES,
        default=None,
        help="check tests for leaked namespaces, mounts and fds: auto "
        "(tests using the netns fixtures; default), all, off",
    )
    parser.addini("netns_pool", "use a namespace pool", type="bool")
    parser.addini("netns_pool_size", "pool size", default="8")
    parser.addini("netns_named", "named fixture namespaces", type="bool")
    parser.addini("netns_leak_check", "auto, all or off", default="auto")
    _addoption_pyroute2(group, parser)
    _addoption_rootless(group, parser)


class _Session:
    """Per-session state, kept in the config's stash."""

    def __init__(self, config: pytest.Config) -> None:
        opt = config.getoption
        self.use_pool = bool(opt("netns_pool") or config.getini("netns_pool"))
        size = opt("netns_pool_size") or config.getini("netns_pool_size")
        self.pool_size = int(size)
        self.named = bool(opt("netns_named") or config.getini("netns_named"))
        mode = opt("netns_leak_check") or config.getini("netns_leak_check")
        if mode not in _MODES:
            raise pytest.UsageError(
                f"netns_leak_check must be one of {_MODES}"
            )
        self.leak_mode = str(mode)
        self._config = config
        self._why: Optional[str] = None
        self._probed = False
        self.pools: dict[bool, Pool[Netns]] = {}
        self.holders: list[_Holds] = []  # the topology fixtures' (below)
        self.leaks: list[tuple[str, str]] = []
        self.reclaimed: list[str] = []

    def unavailable(self) -> Optional[str]:
        """Why namespaces cannot be made here (None: they can)."""
        if not self._probed:
            from . import _sys

            err = _sys.probe_netns()
            self._probed = True
            if err is not None:
                self._why = (
                    "needs CAP_SYS_ADMIN: unshare(CLONE_NEWNET) failed: "
                    f"[Errno {err.errno}] {err.strerror}"
                    + _rootless_why(self._config)
                )
        return self._why

    def make(self, named: bool) -> Netns:
        """A fresh namespace, loopback up, from the pool when enabled."""
        if self.use_pool:
            pool = self.pools.get(named)
            if pool is None:
                from ._owner import owner_name
                from ._pool import Pool

                prefix = owner_name(_KIND, f"p{next(_serials)}-")
                pool = Pool(self.pool_size, named=named, prefix=prefix)
                self.pools[named] = pool
            return pool.acquire()
        from ._handle import Netns

        if named:
            from ._names import run_dir_bytes
            from ._owner import owner_name

            name = owner_name(_KIND, os.urandom(4).hex())
            return Netns.create(name, run_dir=run_dir_bytes())
        return Netns.new()

    def reclaim(self) -> None:
        """Remove the names of the plugin's kind whose owner is gone.

        One listdir of the run directory; the dead-owner pass (which may
        load the C core) runs only when a name of that kind is there.
        """
        from ._names import run_dir_bytes

        rd = run_dir_bytes()
        try:
            entries = os.listdir(rd)
        except OSError:
            return
        mine = f"nsf-{_KIND}-".encode()
        if not any(n.startswith(mine) for n in entries):
            return
        from . import _gc

        failed: list[OSError] = []
        try:
            for name, error in _gc.reclaim_dead_owners(
                run_dir=rd, kinds=(_KIND,)
            ):
                if error is None:
                    self.reclaimed.append(os.fsdecode(name))
                else:
                    failed.append(error)
        except OSError as exc:
            failed.append(exc)
        for why in failed:
            warnings.warn(
                "netns_fast: cannot remove a name left by a dead session: "
                f"{why}",
                stacklevel=1,
            )

    def held_fds(self) -> frozenset[int]:
        """Fds held by this session's pools (not leaks)."""
        held: frozenset[int] = frozenset()
        for pool in [*self.pools.values(), *self.holders]:
            held |= pool.held_fds()
        return held

    def held_paths(self) -> frozenset[str]:
        """Names held by this session's pools (not leaks)."""
        held: frozenset[str] = frozenset()
        for pool in [*self.pools.values(), *self.holders]:
            held |= pool.held_paths()
        return held

    def close(self) -> None:
        """Close the session's pools."""
        for pool in [*self.pools.values(), *self.holders]:
            pool.close()
        self.pools.clear()
        self.holders.clear()


_STATE = pytest.StashKey[_Session]()


def _session_state(config: pytest.Config) -> _Session:
    state = config.stash.get(_STATE, None)
    if state is None:
        state = config.stash[_STATE] = _Session(config)
    return state


def pytest_sessionstart(session: pytest.Session) -> None:
    """Reclaim the names that dead sessions left (see the module doc)."""
    _session_state(session.config).reclaim()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close the pools at the end of the session."""
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


def _dispose(ns: Netns) -> None:
    """Kill the processes in ns, then close (remove) it."""
    from ._handle import kill_all_in

    if ns.closed:
        return
    try:
        kill_all_in(ns)
    finally:
        ns.close()


class NetnsFactory:
    """The ``netns_factory`` fixture's value: call it for a namespace."""

    def __init__(self, state: _Session) -> None:
        self._state = state
        self.made: list[Netns] = []

    def __call__(self, *, named: Optional[bool] = None) -> Netns:
        """A fresh namespace (loopback up); ``named`` overrides the ini."""
        ns = self._state.make(self._state.named if named is None else named)
        self.made.append(ns)
        return ns

    def cleanup(self) -> None:
        """Kill the processes of every namespace made, then remove them."""
        errors: list[BaseException] = []
        while self.made:
            try:
                _dispose(self.made.pop())
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture
def netns_factory(request: pytest.FixtureRequest) -> Iterator[NetnsFactory]:
    """Fresh network namespaces on demand.

    Name: netns_factory. Scope: function. Depends: the privilege probe.
    ``netns_factory(named=None) -> Netns``; everything made is removed at
    teardown, its processes killed first.
    """
    state = _session_state(request.config)
    why = state.unavailable()
    if why is not None:
        pytest.skip(why)
    factory = NetnsFactory(state)
    yield factory
    factory.cleanup()


@pytest.fixture
def netns(netns_factory: NetnsFactory) -> Netns:
    """A fresh network namespace with its loopback up.

    Name: netns. Scope: function. Depends: netns_factory. Removed after
    the test, its processes killed first.
    """
    return netns_factory()


# -- topology fixtures -------------------------------------------------------
#
# netns_topology(spec) -> Network (function scope), netns_topology_module
# and netns_topology_session: spec is a netns_fast.Topology or its dict
# form. Each call of the function-scoped factory builds a fresh network
# (from a pre-wired Pool(topology=...) per topology when --netns-pool is
# on); the module- and session-scoped ones build one network per spec
# and hand the same one to every test of their scope. Afterwards every
# process in the nodes is killed, then the network is removed. The leak
# check covers the tests that use them; the networks of the wider scopes
# and the pre-wired pools' own fds and names count as held, not leaked.

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Protocol, Union

    from ._topology import Network, Topology

    TopologySpec = Union[Topology, Mapping[str, Any]]

    class _Holds(Protocol):
        """What the session keeps: a pool, or the topology fixtures'."""

        def held_fds(self) -> frozenset[int]: ...
        def held_paths(self) -> frozenset[str]: ...
        def close(self) -> None: ...


_TOPOLOGY_FIXTURES = frozenset(
    ("netns_topology", "netns_topology_module", "netns_topology_session")
)
_FIXTURES = _FIXTURES | _TOPOLOGY_FIXTURES


class _Topologies:
    """The session's topology pools and its networks of wider scopes
    (kept in the session's pools, so the leak check counts what they
    hold as held)."""

    def __init__(self, state: _Session) -> None:
        self._state = state
        self.pools: dict[str, Pool[Network]] = {}
        self.kept: list[Network] = []

    def build(self, spec: TopologySpec) -> Network:
        """A fresh network of spec, from its pre-wired pool when enabled."""
        from ._owner import owner_name
        from ._topology import Topology

        topo = spec if isinstance(spec, Topology) else Topology.from_dict(spec)
        prefix = owner_name(_KIND, f"t{next(_serials)}-")
        if not self._state.use_pool:
            return topo.build(prefix=prefix)
        key = topo.key()
        pool = self.pools.get(key)
        if pool is None:
            from ._pool import Pool

            pool = Pool(self._state.pool_size, topology=topo, prefix=prefix)
            self.pools[key] = pool
        return pool.acquire()

    def held_fds(self) -> frozenset[int]:
        held: set[int] = set()
        for pool in self.pools.values():
            held |= pool.held_fds()
        for net in self.kept:
            if not net.closed:
                held.update(_fds_of(net))
        return frozenset(held)

    def held_paths(self) -> frozenset[str]:
        held: set[str] = set()
        for pool in self.pools.values():
            held |= pool.held_paths()
        for net in self.kept:
            if not net.closed:
                held.update(ns.path for ns in net.nodes.values() if ns.name)
        return frozenset(held)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()


def _fds_of(net: Network) -> Iterator[int]:
    """The fds a network holds: its nodes' and their sockets'."""
    for ns in net.nodes.values():
        yield ns.fileno()
        if ns._wire is not None and ns._wire.sock.fd >= 0:
            yield ns._wire.sock.fd


def _topologies(state: _Session) -> _Topologies:
    for held in state.holders:
        if isinstance(held, _Topologies):
            return held
    made = _Topologies(state)
    state.holders.append(made)
    return made


def _dispose_network(net: Network) -> None:
    """Kill the processes in every node of net, then remove it."""
    from ._handle import kill_all_in

    if net.closed:
        return
    try:
        for ns in net.nodes.values():
            if not ns.closed:
                kill_all_in(ns)
    finally:
        net.close()


class NetnsTopology:
    """The value of the topology fixtures: call it with a spec (a
    :class:`~netns_fast.Topology` or its dict) for a
    :class:`~netns_fast.Network`."""

    def __init__(self, state: _Session, *, shared: bool) -> None:
        self._state = state
        self._shared = shared
        self._by_key: dict[str, Network] = {}
        self.made: list[Network] = []

    def __call__(self, spec: TopologySpec) -> Network:
        """A network of spec: fresh for the function-scoped fixture, the
        scope's one network of spec for the others."""
        topologies = _topologies(self._state)
        if not self._shared:
            fresh = topologies.build(spec)
            self.made.append(fresh)
            return fresh
        from ._topology import Topology

        topo = spec if isinstance(spec, Topology) else Topology.from_dict(spec)
        key = topo.key()
        net = self._by_key.get(key)
        if net is None or net.closed:
            net = topologies.build(topo)
            self._by_key[key] = net
            self.made.append(net)
            topologies.kept.append(net)
        return net

    def cleanup(self) -> None:
        """Kill the processes of every network made, then remove them."""
        kept = _topologies(self._state).kept
        errors: list[BaseException] = []
        while self.made:
            net = self.made.pop()
            try:
                _dispose_network(net)
            except Exception as exc:
                errors.append(exc)
            if net in kept:
                kept.remove(net)
        self._by_key.clear()
        if errors:
            raise errors[0]


def _topology_fixture(
    request: pytest.FixtureRequest, *, shared: bool
) -> Iterator[NetnsTopology]:
    state = _session_state(request.config)
    why = state.unavailable()
    if why is not None:
        pytest.skip(why)
    factory = NetnsTopology(state, shared=shared)
    yield factory
    factory.cleanup()


@pytest.fixture
def netns_topology(request: pytest.FixtureRequest) -> Iterator[NetnsTopology]:
    """Wired networks on demand.

    Name: netns_topology. Scope: function. Depends: the privilege probe.
    ``netns_topology(spec) -> Network`` (spec: a Topology or its dict), a
    fresh one per call (from the pre-wired pool with ``--netns-pool``);
    removed at teardown, its processes killed first.
    """
    yield from _topology_fixture(request, shared=False)


@pytest.fixture(scope="module")
def netns_topology_module(
    request: pytest.FixtureRequest,
) -> Iterator[NetnsTopology]:
    """One wired network per spec for a module's tests.

    Name: netns_topology_module. Scope: module. ``(spec) -> Network``,
    the same network for the same spec in every test of the module;
    removed after the module, its processes killed first.
    """
    yield from _topology_fixture(request, shared=True)


@pytest.fixture(scope="session")
def netns_topology_session(
    request: pytest.FixtureRequest,
) -> Iterator[NetnsTopology]:
    """One wired network per spec for the whole session.

    Name: netns_topology_session. Scope: session. ``(spec) -> Network``,
    the same network for the same spec everywhere; removed at the end of
    the session, its processes killed first.
    """
    yield from _topology_fixture(request, shared=True)


# -- end of the topology fixtures --------------------------------------------


# -- leak check ------------------------------------------------------------


@pytest.fixture(autouse=True)
def _netns_leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaks a namespace, a mount, an fd or a process."""
    state = _session_state(request.config)
    mode = state.leak_mode
    check = mode == "all" or (
        mode == "auto" and not _FIXTURES.isdisjoint(request.fixturenames)
    )
    if not check:
        yield
        return
    from . import _leaks

    before = _leaks.snapshot(state.held_fds, state.held_paths)
    yield
    extra = _leaks.leaked(before, state.held_fds, state.held_paths)
    leaked = _leaks.describe(extra)
    if leaked:
        state.leaks.append((request.node.nodeid, leaked))
        left = _leaks.reclaim(extra)
        if left:
            state.leaks.append((request.node.nodeid, f"not reclaimed: {left}"))
        pytest.fail(f"leaked: {leaked}", pytrace=False)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter,
    exitstatus: int,
    config: pytest.Config,
) -> None:
    """List every leak found in the session, and the names reclaimed."""
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    if state.reclaimed:
        terminalreporter.line(
            "netns_fast: removed names left by dead sessions: "
            + " ".join(sorted(state.reclaimed))
        )
    if not state.leaks:
        return
    terminalreporter.section("netns_fast leak check", red=True)
    for nodeid, what in state.leaks:
        terminalreporter.line(f"{nodeid}: {what}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A session with leaks fails, whatever else happened."""
    state = session.config.stash.get(_STATE, None)
    if state is not None and state.leaks and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- pyroute2 switch ---------------------------------------------------------


def _addoption_pyroute2(
    group: pytest.OptionGroup, parser: pytest.Parser
) -> None:
    group.addoption(
        "--netns-pyroute2",
        action="store_true",
        default=None,
        help="make pyroute2 itself use netns_fast's pyroute2.netns "
        "(netns_fast.compat.install(): no fork per namespace socket)",
    )
    parser.addini(
        "netns_pyroute2", "make pyroute2 use netns_fast", type="bool"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Before any conftest is imported (and before pytest or xdist start a
    thread): the private world when unprivileged (the rootless block
    below), then the pyroute2 switch."""
    _enter_rootless(early_config)
    _install_pyroute2(early_config)


def _install_pyroute2(early_config: pytest.Config) -> None:
    """With --netns-pyroute2 / netns_pyroute2, install the switch before
    any conftest imports pyroute2; uninstall it at the end."""
    ns = early_config.known_args_namespace
    if getattr(ns, "netns_pyroute2", None) or early_config.getini(
        "netns_pyroute2"
    ):
        from .compat import install, uninstall

        install()
        early_config.add_cleanup(uninstall)


# -- rootless: a private world when unprivileged ----------------------------
#
# Most CI containers lack CAP_SYS_ADMIN but allow unprivileged user
# namespaces. There, at the very start of the session (before any conftest
# is imported and before pytest or xdist start a thread: the kernel refuses
# a user namespace to a multi-threaded process), the plugin moves the
# pytest process into a private world of its own
# (netns_fast.unshare_rootless: a user namespace in which the caller is
# root, a private mount namespace, a fresh network namespace as home, a
# tmpfs on the run directory). Fixtures, named and anonymous, and the pool
# then work unchanged. xdist's workers are children of the controller and
# start inside its world; a worker never tries on its own (it has threads),
# it reads what the controller did from the environment. Turned off by
# --netns-no-rootless / ini netns_rootless = false. A process that has
# CAP_SYS_ADMIN is left alone (no fork, nothing imported).

_ROOTLESS_ENV = "NETNS_FAST_ROOTLESS"
"""What the controller did, for its xdist workers: "world", or why not."""
_CAP_SYS_ADMIN = 21
_ROOTLESS = pytest.StashKey[str]()
"""This session's rootless note: "" (not needed), "world", or why not."""


def _addoption_rootless(
    group: pytest.OptionGroup, parser: pytest.Parser
) -> None:
    group.addoption(
        "--netns-no-rootless",
        action="store_true",
        default=None,
        help="without CAP_SYS_ADMIN, do not move the session into a "
        "private user, mount and network namespace (netns_fast."
        "unshare_rootless) so that the netns fixtures work",
    )
    parser.addini(
        "netns_rootless",
        "without CAP_SYS_ADMIN, run the session in a private user "
        "namespace (default true)",
        type="bool",
        default=True,
    )


def _has_sys_admin() -> bool:
    """Whether the calling thread has CAP_SYS_ADMIN (its CapEff)."""
    try:
        with open("/proc/thread-self/status", "rb") as f:
            for line in f:
                if line.startswith(b"CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_SYS_ADMIN & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def _rootless_note(early_config: pytest.Config) -> str:
    """Enter the private world if it is wanted and possible; the note."""
    ns = early_config.known_args_namespace
    if getattr(ns, "netns_no_rootless", None) or not early_config.getini(
        "netns_rootless"
    ):
        return "rootless is off (--netns-no-rootless / netns_rootless)"
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # A worker runs in its controller's world (or the controller could
        # not make one): it has threads, it must not try.
        return os.environ.get(_ROOTLESS_ENV, "")
    from ._rootless import unshare_rootless

    try:
        unshare_rootless()
    except OSError as exc:  # a NetnsOSError naming the step and the cause
        return f"rootless (a private user namespace) failed: {exc}"
    return "world"


def _enter_rootless(early_config: pytest.Config) -> None:
    """The private world for an unprivileged session (see above)."""
    note = "" if _has_sys_admin() else _rootless_note(early_config)
    early_config.stash[_ROOTLESS] = note
    if note and not os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ[_ROOTLESS_ENV] = note  # for xdist's workers


def _rootless_why(config: pytest.Config) -> str:
    """What the skip reason adds about rootless ("" if it was not tried
    or it worked)."""
    note = config.stash.get(_ROOTLESS, "")
    return "" if note in ("", "world") else f"; {note}"


def pytest_report_header(config: pytest.Config) -> Optional[str]:
    """Say that the session runs in a private world."""
    if config.stash.get(_ROOTLESS, "") != "world":
        return None
    return (
        "netns_fast: rootless: this session runs in a private user, mount "
        "and network namespace (root inside, loopback only; "
        "--netns-no-rootless turns it off)"
    )
