"""pytest plugin: namespace fixtures, the session pool and a leak check.

Registered through the ``pytest11`` entry point ``netns_fast`` (or load it
with ``-p netns_fast.pytest_plugin``). Importing it has no side effects:
nothing of netns_fast is loaded, nothing forked, no thread started, until a
fixture or the leak check first runs.

Fixtures (each namespace is fresh, its loopback up; at the end of its
scope every process in it is killed, then it is removed):

- ``netns``, ``module_netns``, ``session_netns``: one namespace (a
  :class:`~netns_fast.Netns`) per test, per module, per session;
- ``netns_factory``, ``module_netns_factory``, ``session_netns_factory``:
  ``factory(named=None, prefix=None)`` makes more, removed at the end of
  the factory's scope;
- ``netns_pool``: the session's :class:`~netns_fast.Pool` (the one the
  fixtures take from with ``--netns-pool``), e.g. for ``stats()``;
- ``netns_topology``, ``module_netns_topology``,
  ``session_netns_topology``: wired networks of a
  :class:`~netns_fast.Topology` (see the topology fixtures' block).

The fixtures take their namespaces from the session pool when it is
enabled (``--netns-pool`` or ini ``netns_pool = true``). They are
anonymous unless ``--netns-named`` / ini ``netns_named = true`` (or
``named=True``), which gives them a name in the run directory, usable with
``ip netns exec``.

Names carry their owner (netns_fast._owner), the xdist worker and a prefix
of the user's choice (``--netns-prefix`` / ini ``netns_prefix``, or the
factory's ``prefix=``; letters, digits, ``_``, ``.`` and ``-``, at most 32
bytes)::

    nsf-pytest-OWNER-[WORKER-]PREFIXxxxxxxxx   a fixture's (8 hex digits)
    nsf-pytest-OWNER-[WORKER-]PREFIX@N         the session pool's

(the pool's names drop the prefix, then the worker, where they would pass
the pool's 40-byte prefix limit). At session start the plugin unmounts
and removes the names of that form whose owner process is gone (a session
killed by SIGKILL, SIGTERM or SIGHUP), as ``netns-fast gc dead-owners``
does, and lists them in the summary; ``netns-fast owners`` lists the names
of running sessions with their owner.

Without the privilege (probed once by a forked child that tries
``unshare(CLONE_NEWNET)``, not by looking at the uid) tests that use them
are skipped with the real reason.

Leak check (``--netns-leak-check=auto|all|off``, ini ``netns_leak_check``,
default ``auto``: only tests that use these fixtures): a test that leaves
a name, an nsfs mount, an open fd, or a child process in another network
namespace behind fails at teardown, and the run fails, with a summary of
every leak at the end (under xdist, the controller's summary lists every
worker's). Only what this process made counts (netns_fast._leaks): other
workers' names, the session's pools and other tools on a shared run
directory are never blamed. After reporting them, the check kills the
leaked processes and deletes the leaked names (killing the processes
inside them), so no work of a failing test keeps running. An interrupted
run (Ctrl-C, ``pytest.exit``) reports nothing: it only reclaims.

A bad setting (an unknown leak-check mode, a pool size that is not an int
>= 1, a bad prefix) is a ``pytest.UsageError`` at start-up.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Optional

import pytest

if TYPE_CHECKING:
    from ._handle import Netns
    from ._leaks import Exempt
    from ._pool import Pool

_MODES = ("auto", "all", "off")
_FIXTURES = frozenset(
    (
        "netns",
        "netns_factory",
        "module_netns",
        "module_netns_factory",
        "session_netns",
        "session_netns_factory",
        "netns_pool",
    )
)
_KIND = "pytest"
"""The owner kind of the plugin's names: nsf-pytest-<owner>-..."""
_POOL_MARK = "@"
"""Ends the session pool's prefix: never in a fixture's name."""
_PREFIX_RE = re.compile(r"[A-Za-z0-9_.-]{0,32}")
_LEAK_KEY = "netns_fast_leak"
"""The user property that carries a leak from a worker to the summary."""


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
        default=None,
        metavar="N",
        help="namespaces the pool keeps ready (an int >= 1; default 8)",
    )
    group.addoption(
        "--netns-named",
        action="store_true",
        default=None,
        help="give the fixtures' namespaces a name in the run directory",
    )
    group.addoption(
        "--netns-prefix",
        default=None,
        metavar="PREFIX",
        help="put PREFIX in the names of named fixtures (after the owner)",
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
    parser.addini("netns_prefix", "a prefix for named fixtures", default="")
    parser.addini("netns_leak_check", "auto, all or off", default="auto")
    _addoption_pyroute2(group, parser)
    _addoption_rootless(group, parser)


def _setting(config: pytest.Config, name: str) -> object:
    """The command-line option, else the ini value."""
    value = config.getoption(name)
    return config.getini(name) if value is None else value


def _pool_size(value: object) -> int:
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise pytest.UsageError(
            f"netns_pool_size must be an int >= 1, not {value!r}"
        )
    return int(text)


def _prefix(value: object) -> str:
    try:
        return _check_prefix(str(value), "netns_prefix")
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _worker(config: object) -> str:
    """The xdist worker id of a config (this process's; "" outside xdist)
    or of a report's node (in the controller). Only the config says:
    PYTEST_XDIST_WORKER is inherited by any pytest a worker's test
    starts."""
    workerinput = getattr(config, "workerinput", None)
    if isinstance(workerinput, dict):
        return str(workerinput.get("workerid", ""))
    return ""


class _Session:
    """Per-session state, kept in the config's stash."""

    def __init__(self, config: pytest.Config) -> None:
        self.use_pool = bool(_setting(config, "netns_pool"))
        self.pool_size = _pool_size(_setting(config, "netns_pool_size"))
        self.named = bool(_setting(config, "netns_named"))
        self.prefix = _prefix(_setting(config, "netns_prefix"))
        mode = _setting(config, "netns_leak_check")
        if mode not in _MODES:
            raise pytest.UsageError(
                f"netns_leak_check must be one of {', '.join(_MODES)}, "
                f"not {mode!r}"
            )
        self.leak_mode = str(mode)
        worker = _worker(config)
        self.worker = f"{worker}-" if worker else ""
        self.interrupted = False
        self._config = config
        self._why: Optional[str] = None
        self._probed = False
        self.pools: dict[bool, Pool[Netns]] = {}
        self.holders: list[_Holds] = []  # the topology fixtures' (below)
        self.pool_prefixes: frozenset[bytes] = frozenset()
        self.keepers: list[NetnsFactory] = []
        """The module and session factories (what they make outlives a
        test)."""
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

    def name(self, prefix: Optional[str] = None) -> str:
        """A fresh name for a named fixture namespace."""
        from ._owner import owner_name

        tag = self.prefix if prefix is None else _check_prefix(prefix)
        return owner_name(_KIND, f"{self.worker}{tag}{os.urandom(4).hex()}")

    def pool_prefix(self, tag: str = _POOL_MARK) -> str:
        """A pool's prefix ending in tag (the session pool's by default):
        the longest form that netns_fast.Pool takes."""
        from ._owner import owner_name
        from ._pool import PREFIX_MAX

        for rest in (self.worker + self.prefix, self.worker, ""):
            prefix = owner_name(_KIND, rest + tag)
            if len(os.fsencode(prefix)) <= PREFIX_MAX:
                break
        return prefix

    def pool(self, named: bool) -> Pool[Netns]:
        """The session's pool of named or anonymous namespaces."""
        pool = self.pools.get(named)
        if pool is None:
            from ._names import run_dir_bytes
            from ._pool import Pool

            prefix = self.pool_prefix()
            pool = Pool(self.pool_size, named=named, prefix=prefix)
            self.pools[named] = pool
            if named:
                path = run_dir_bytes() + b"/" + os.fsencode(prefix)
                self.pool_prefixes |= {path}
        return pool

    def make(self, named: bool, prefix: Optional[str] = None) -> Netns:
        """A fresh namespace, loopback up, from the pool when enabled."""
        if self.use_pool and prefix is None:
            return self.pool(named).acquire()
        from ._handle import Netns

        if named:
            from ._names import run_dir_bytes

            return Netns.create(self.name(prefix), run_dir=run_dir_bytes())
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

    def _kept(self) -> list[Netns]:
        """The open namespaces of the module and session factories."""
        return [ns for f in self.keepers for ns in f.made if not ns.closed]

    def held_fds(self) -> frozenset[int]:
        """Fds held by this session's pools and by the namespaces of its
        module and session factories (not leaks)."""
        held: frozenset[int] = frozenset()
        for pool in self.pools.values():
            held |= pool.held_fds()
        for holder in self.holders:
            held |= holder.held_fds()
        fds: set[int] = set()
        for ns in self._kept():
            fds.update(_ns_fds(ns))
        return held | fds

    def held_prefixes(self) -> frozenset[bytes]:
        """RUN_DIR/PREFIX of this session's named pool (not leaks)."""
        held = self.pool_prefixes
        for holder in self.holders:
            held |= holder.held_prefixes()
        return held

    def held_paths(self) -> frozenset[bytes]:
        """RUN_DIR/NAME of the named namespaces of this session's module
        and session factories (not leaks)."""
        held = frozenset(
            os.fsencode(ns.path) for ns in self._kept() if ns.name is not None
        )
        for holder in self.holders:
            held |= holder.held_paths()
        return held

    def exempt(self) -> Exempt:
        """What the leak check never blames a test for."""
        from ._leaks import Exempt

        return Exempt(self.held_fds, self.held_prefixes, self.held_paths)

    def close(self) -> None:
        """Close the session's pools."""
        for pool in self.pools.values():
            pool.close()
        for holder in self.holders:
            holder.close()
        self.pools.clear()
        self.holders.clear()


def _check_prefix(prefix: str, what: str = "prefix") -> str:
    """A name prefix (ini netns_prefix, a factory's ``prefix=``): at most
    32 letters, digits, '_', '.' or '-' (ValueError)."""
    if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(
            f"{what} must be at most 32 letters, digits, '_', '.' or '-', "
            f"not {prefix!r}"
        )
    return prefix


_STATE = pytest.StashKey[_Session]()


def _session_state(config: pytest.Config) -> _Session:
    state = config.stash.get(_STATE, None)
    if state is None:
        state = config.stash[_STATE] = _Session(config)
    return state


class _Hooks:
    """The hooks that get no config: registered per session."""

    def __init__(self, state: _Session) -> None:
        self._state = state

    def pytest_keyboard_interrupt(self) -> None:
        """Ctrl-C or pytest.exit(): the leak check stops reporting."""
        self._state.interrupted = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect the leaks reported, also those of xdist workers (here
        in the controller)."""
        if report.when != "teardown":
            return
        found = [v for k, v in report.user_properties if k == _LEAK_KEY]
        worker = _worker(getattr(report, "node", None))
        where = f"[{worker}] " if worker else ""
        for what in found:
            self._state.leaks.append((report.nodeid, f"{where}{what}"))


def pytest_configure(config: pytest.Config) -> None:
    """Check the settings at start-up: one UsageError, not one per test."""
    state = _session_state(config)
    config.pluginmanager.register(_Hooks(state), "netns_fast-session")


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
    """The value of the ``*netns_factory`` fixtures: call it for a
    namespace."""

    def __init__(self, state: _Session) -> None:
        self._state = state
        self.made: list[Netns] = []

    def __call__(
        self, *, named: Optional[bool] = None, prefix: Optional[str] = None
    ) -> Netns:
        """A fresh namespace (loopback up).

        ``named`` overrides ini ``netns_named``; ``prefix`` (implies
        ``named=True`` unless given as False, and a namespace of its own
        rather than the pool's) overrides ini ``netns_prefix``.
        """
        if prefix is not None:
            _check_prefix(prefix)
            if named is None:
                named = True
        use_named = self._state.named if named is None else named
        ns = self._state.make(use_named, prefix if use_named else None)
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


def _factory(request: pytest.FixtureRequest) -> Iterator[NetnsFactory]:
    state = _session_state(request.config)
    why = state.unavailable()
    if why is not None:
        pytest.skip(why)
    factory = NetnsFactory(state)
    keeper = request.scope != "function"
    if keeper:
        state.keepers.append(factory)
    try:
        yield factory
    finally:
        if keeper:
            state.keepers.remove(factory)
    factory.cleanup()


@pytest.fixture
def netns_factory(request: pytest.FixtureRequest) -> Iterator[NetnsFactory]:
    """Fresh network namespaces on demand.

    Name: netns_factory. Scope: function. Depends: the privilege probe.
    ``netns_factory(named=None, prefix=None) -> Netns``; everything made
    is removed at teardown, its processes killed first.
    """
    yield from _factory(request)


@pytest.fixture(scope="module")
def module_netns_factory(
    request: pytest.FixtureRequest,
) -> Iterator[NetnsFactory]:
    """Fresh network namespaces on demand, kept for the module.

    Name: module_netns_factory. Scope: module. Depends: the privilege
    probe. As ``netns_factory``; removed after the module's last test.
    """
    yield from _factory(request)


@pytest.fixture(scope="session")
def session_netns_factory(
    request: pytest.FixtureRequest,
) -> Iterator[NetnsFactory]:
    """Fresh network namespaces on demand, kept for the session.

    Name: session_netns_factory. Scope: session. Depends: the privilege
    probe. As ``netns_factory``; removed at the end of the session.
    """
    yield from _factory(request)


@pytest.fixture
def netns(netns_factory: NetnsFactory) -> Netns:
    """A fresh network namespace with its loopback up.

    Name: netns. Scope: function. Depends: netns_factory. Removed after
    the test, its processes killed first.
    """
    return netns_factory()


@pytest.fixture(scope="module")
def module_netns(module_netns_factory: NetnsFactory) -> Netns:
    """A fresh network namespace shared by the tests of a module.

    Name: module_netns. Scope: module. Depends: module_netns_factory.
    Removed after the module's last test, its processes killed first.
    """
    return module_netns_factory()


@pytest.fixture(scope="session")
def session_netns(session_netns_factory: NetnsFactory) -> Netns:
    """A fresh network namespace shared by every test of the session.

    Name: session_netns. Scope: session. Depends: session_netns_factory.
    Removed at the end of the session, its processes killed first.
    """
    return session_netns_factory()


@pytest.fixture(scope="session")
def netns_pool(request: pytest.FixtureRequest) -> Pool[Netns]:
    """The session's pool (named per ini ``netns_named``).

    Name: netns_pool. Scope: session. Depends: the privilege probe. The
    pool the fixtures take from with ``--netns-pool`` (made now if they
    do not use one): ``netns_pool.stats()``, ``netns_pool.acquire()``
    (close what you acquire). Closed at the end of the session.
    """
    state = _session_state(request.config)
    why = state.unavailable()
    if why is not None:
        pytest.skip(why)
    return state.pool(state.named)


# -- topology fixtures -------------------------------------------------------
#
# netns_topology(spec) -> Network (function scope), module_netns_topology
# and session_netns_topology: spec is a netns_fast.Topology or its dict
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
        def held_prefixes(self) -> frozenset[bytes]: ...
        def held_paths(self) -> frozenset[bytes]: ...
        def close(self) -> None: ...


_TOPOLOGY_FIXTURES = frozenset(
    ("netns_topology", "module_netns_topology", "session_netns_topology")
)
_FIXTURES = _FIXTURES | _TOPOLOGY_FIXTURES


class _Topologies:
    """The session's topology pools and its networks of wider scopes
    (kept in the session's pools, so the leak check counts what they
    hold as held)."""

    def __init__(self, state: _Session) -> None:
        self._state = state
        self.pools: dict[str, Pool[Network]] = {}
        self.prefixes: frozenset[bytes] = frozenset()
        self.kept: list[Network] = []

    def build(self, topo: Topology, key: Optional[str] = None) -> Network:
        """A fresh network of topo (its key(), when known), from its
        pre-wired pool when enabled."""
        tag = f"t{os.urandom(3).hex()}-"
        if not self._state.use_pool:
            return topo.build(prefix=self._state.pool_prefix(tag))
        key = topo.key() if key is None else key
        pool = self.pools.get(key)
        if pool is None:
            from ._names import run_dir_bytes
            from ._pool import Pool

            prefix = self._state.pool_prefix(tag)
            pool = Pool(self._state.pool_size, topology=topo, prefix=prefix)
            self.pools[key] = pool
            path = run_dir_bytes() + b"/" + os.fsencode(prefix)
            self.prefixes |= {path}
        return pool.acquire()

    def held_fds(self) -> frozenset[int]:
        held: set[int] = set()
        for pool in self.pools.values():
            held |= pool.held_fds()
        for net in self.kept:
            if not net.closed:
                held.update(_fds_of(net))
        return frozenset(held)

    def held_prefixes(self) -> frozenset[bytes]:
        return self.prefixes

    def held_paths(self) -> frozenset[bytes]:
        held: set[bytes] = set()
        for net in self.kept:
            if not net.closed:
                held.update(
                    os.fsencode(ns.path)
                    for ns in net.nodes.values()
                    if ns.name
                )
        return frozenset(held)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()


def _ns_fds(ns: Netns) -> list[int]:
    """The fds a handle holds: the namespace's and its wiring socket's
    (none once closed)."""
    try:
        fds = [ns.fileno()]
    except ValueError:
        return []  # closed meanwhile
    wire = ns._wire
    if wire is not None and wire.sock.fd >= 0:
        fds.append(wire.sock.fd)
    return fds


def _fds_of(net: Network) -> Iterator[int]:
    """The fds a network holds: its nodes' and their sockets'."""
    for ns in net.nodes.values():
        yield from _ns_fds(ns)


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
        from ._topology import Topology

        topologies = _topologies(self._state)
        topo = spec if isinstance(spec, Topology) else Topology.from_dict(spec)
        if not self._shared:
            fresh = topologies.build(topo)
            self.made.append(fresh)
            return fresh
        key = topo.key()
        net = self._by_key.get(key)
        if net is None or net.closed:
            net = topologies.build(topo, key)
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
def module_netns_topology(
    request: pytest.FixtureRequest,
) -> Iterator[NetnsTopology]:
    """One wired network per spec for a module's tests.

    Name: module_netns_topology. Scope: module. ``(spec) -> Network``,
    the same network for the same spec in every test of the module;
    removed after the module, its processes killed first.
    """
    yield from _topology_fixture(request, shared=True)


@pytest.fixture(scope="session")
def session_netns_topology(
    request: pytest.FixtureRequest,
) -> Iterator[NetnsTopology]:
    """One wired network per spec for the whole session.

    Name: session_netns_topology. Scope: session. ``(spec) -> Network``,
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

    before = _leaks.baseline(state.exempt())
    yield
    extra = _leaks.leaked(before, state.exempt())
    if state.interrupted:
        # Ctrl-C: pytest's own short report; only stop the test's work.
        _leaks.reclaim(extra._replace(fds=frozenset(), mounts=frozenset()))
        return
    leaked = _leaks.report(extra)
    if leaked:
        request.node.user_properties.append((_LEAK_KEY, leaked))
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
# it reads what the controller did from the environment, which also names
# the controller: a pytest that a worker's test starts inherits the
# worker's environment but is not the controller's child, so it is a
# session of its own and tries for itself. Turned off by
# --netns-no-rootless / ini netns_rootless = false. A process that has
# CAP_SYS_ADMIN is left alone (no fork, nothing imported).

_ROOTLESS_ENV = "NETNS_FAST_ROOTLESS"
"""What the controller did, for its xdist workers: "world", or why not."""
_ROOTLESS_PID_ENV = "NETNS_FAST_ROOTLESS_PID"
"""The pid of the controller that wrote _ROOTLESS_ENV (its workers'
parent)."""
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
    if _controllers_worker():
        # A worker runs in its controller's world (or the controller could
        # not make one): it has threads, it must not try.
        return os.environ.get(_ROOTLESS_ENV, "")
    from ._rootless import unshare_rootless

    try:
        unshare_rootless()
    except OSError as exc:  # a NetnsOSError naming the step and the cause
        return f"rootless (a private user namespace) failed: {exc}"
    return "world"


def _controllers_worker() -> bool:
    """Whether this process is an xdist worker of a controller that wrote
    its note (config.workerinput does not exist yet this early, and
    PYTEST_XDIST_WORKER is also inherited by a pytest a worker starts)."""
    return bool(os.environ.get("PYTEST_XDIST_WORKER")) and os.environ.get(
        _ROOTLESS_PID_ENV
    ) == str(os.getppid())


def _enter_rootless(early_config: pytest.Config) -> None:
    """The private world for an unprivileged session (see above)."""
    note = "" if _has_sys_admin() else _rootless_note(early_config)
    early_config.stash[_ROOTLESS] = note
    if note and not _controllers_worker():
        os.environ[_ROOTLESS_ENV] = note  # for xdist's workers
        os.environ[_ROOTLESS_PID_ENV] = str(os.getpid())


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
