"""Declarative topologies: namespaces wired together in one call.

A :class:`Topology` declares nodes (fresh network namespaces), links (a
veth pair between two nodes), bridges (in a node, with ports), addresses,
routes and sysctls, from a builder or a plain dict::

    t = Topology()  # auto addresses: a /24 per link from 10.255.0.0/16
    t.node("h1").node("h2").node("r", sysctls={"net.ipv4.ip_forward": 1})
    t.link("h1", "r")  # h1:eth0 <-> r:eth0, 10.255.0.1/24 and .2/24
    t.link("h2:eth0", "r:eth1", addrs=("10.0.2.1/24", "10.0.2.2/24"))
    t.route("h1", "default", via="r:eth0")  # r:eth0's address
    with t.build() as net:  # a Network
        net["h1"]  # the node's Netns handle
        net.links["h1-r"].b.addrs  # ('10.255.0.2/24',)
        net.address("r:eth0")  # '10.255.0.2'

An end is ``"NODE"`` (the node's next free ``ethN``) or
``"NODE:IFNAME"``; an end that names a bridge of that node
(``"sw:br0"``) is a new port of it (the next free ``ethN`` of the node,
attached to the bridge). Addresses omitted (``addrs=None``) are assigned
per segment (a link, or a bridge with the far ends of its ports' links)
from ``subnet`` in blocks of ``prefixlen`` (and from ``subnet6`` when
given), in declaration order: a link's ends get the block's first and
second host, a bridge the first, the ends attached to it the next ones.
``addrs=(None, None)`` (or ``()``) leaves a link without addresses.

Everything is checked before any syscall (ValueError: an unknown node or
interface, a duplicate link or interface name, a bad interface name, a
bad CIDR, a sysctl outside ``net``, a block too small for its hosts).
:meth:`Topology.build` makes the nodes (anonymous namespaces, loopback
up, each with its rtnetlink socket made while inside; ``named=True``
nodes get a name in the run directory), then sends the whole wiring as
one plan (netns_fast._wire: one C call, a few datagrams: the links are
made first, each by one RTM_NEWLINK with both ends placed directly, then
every namespace's addresses, ports, routes in one datagram each, then the
sysctls). When no node is named, the namespaces and the plan (compiled
once, kept in C) are one C call (nsf_wire_build). A failed build removes
every namespace it made, and so everything in them. :meth:`Network.close`
removes them all.

A :class:`~netns_fast.Pool` given ``topology=`` builds whole topologies
ahead on its C threads from the same plan (see netns_fast._pool).
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional, Union

from . import _sys, _wire
from ._handle import Netns
from ._names import own_pid
from ._resource import Resource

if TYPE_CHECKING:
    from ._wire import Endpoint, Plan

SysctlValue = Union[str, int, bool]
AddrsLike = Union[None, str, Sequence[str]]
"""The addresses of one end: None (none), one CIDR, or several."""

DEFAULT_SUBNET = "10.255.0.0/16"
DEFAULT_PREFIXLEN = 24
DEFAULT_PREFIXLEN6 = 64
_LABEL_BAD = frozenset("/: \t\n\v\f\r\0")
_LABEL_MAX = 64
_serials = itertools.count(1)

_IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
_IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]


# -- records of a built network ----------------------------------------------


class Interface(NamedTuple):
    """An interface a topology made: a veth end or a bridge."""

    node: str
    name: str
    ifindex: int
    kind: str
    """"veth" or "bridge"."""
    addrs: tuple[str, ...]
    """Its addresses as CIDRs ("10.255.0.1/24"), as the topology set
    them."""
    master: Optional[str]
    """The bridge it is a port of, or None."""

    @property
    def address(self) -> Optional[str]:
        """Its first address without the prefix, or None."""
        return self.addrs[0].partition("/")[0] if self.addrs else None


class WiredLink(NamedTuple):
    """A link of a built network: its name and its two ends."""

    name: str
    a: Interface
    b: Interface


# -- the declarations ---------------------------------------------------------


class _End(NamedTuple):
    node: str
    ifname: Optional[str]  # None: the node's next free ethN


class _NodeDecl(NamedTuple):
    label: str
    named: bool


class _LinkDecl(NamedTuple):
    order: int
    name: Optional[str]
    a: _End
    b: _End
    addrs: Optional[tuple[tuple[str, ...], tuple[str, ...]]]  # None: auto
    mtu: Optional[int]
    macs: tuple[Optional[str], Optional[str]]
    up: bool


class _BridgeDecl(NamedTuple):
    order: int
    node: str
    name: str
    ports: tuple[str, ...]
    addrs: Optional[tuple[str, ...]]  # None: auto
    mtu: Optional[int]
    up: bool


class _RouteDecl(NamedTuple):
    node: str
    dst: str
    via: Optional[str]
    dev: Optional[str]
    metric: Optional[int]
    src: Optional[str]
    table: Optional[int]


def _check_label(label: object) -> str:
    if not isinstance(label, str):
        raise TypeError(f"a node name is a str, not {label!r}")
    if (
        not label
        or len(label.encode()) > _LABEL_MAX
        or label in (".", "..")
        or not _LABEL_BAD.isdisjoint(label)
    ):
        raise ValueError(
            f"invalid node name {label!r}: 1 to {_LABEL_MAX} bytes, no '/', "
            "':' or whitespace"
        )
    return label


def _cidrs(value: AddrsLike, what: str) -> tuple[str, ...]:
    """One end's addresses as a tuple of CIDR strings (checked)."""
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        _interface(item, what)
    return tuple(str(i) for i in items)


def _interface(text: object, what: str) -> _IPInterface:
    if not isinstance(text, str):
        raise TypeError(f"an address of {what} is a str, not {text!r}")
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        raise ValueError(f"invalid address {text!r} of {what}") from None


def _int_or_none(value: object, what: str) -> Optional[int]:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int)
    ):
        raise TypeError(f"{what} is an int, not {value!r}")
    return value


class Topology:
    """Nodes, links, bridges, addresses, routes and sysctls, declared;
    made by :meth:`build` in one call (see the module doc).

    Args:
        subnet: the IPv4 range addresses omitted are taken from (None:
            no IPv4 address is assigned automatically).
        prefixlen: the size of each segment's block of ``subnet``.
        subnet6: an IPv6 range for automatic addresses too (None: none).
        prefixlen6: the size of each segment's block of ``subnet6``.
        lo_up: bring every node's loopback up.

    The builder methods return the topology, so calls chain. A topology
    can be built many times, from many threads at once; each build makes
    fresh namespaces.
    """

    def __init__(
        self,
        *,
        subnet: Optional[str] = DEFAULT_SUBNET,
        prefixlen: int = DEFAULT_PREFIXLEN,
        subnet6: Optional[str] = None,
        prefixlen6: int = DEFAULT_PREFIXLEN6,
        lo_up: bool = True,
    ) -> None:
        self._subnet = _range(subnet, prefixlen, 4)
        self._subnet6 = _range(subnet6, prefixlen6, 6)
        self._prefixlen = prefixlen
        self._prefixlen6 = prefixlen6
        self._lo_up = bool(lo_up)
        self._nodes: dict[str, _NodeDecl] = {}
        self._links: list[_LinkDecl] = []
        self._bridges: list[_BridgeDecl] = []
        self._routes: list[_RouteDecl] = []
        self._sysctls: list[tuple[str, str, SysctlValue]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._compiled: Optional[_Compiled] = None

    # -- the builder ----------------------------------------------------------

    def _changed(self) -> None:
        with self._lock:
            self._compiled = None

    def _known(self, label: str) -> str:
        if label not in self._nodes:
            raise ValueError(f"unknown node {label!r}")
        return label

    def _end(self, end: object) -> _End:
        if not isinstance(end, str):
            raise TypeError(
                f"a link end is 'NODE' or 'NODE:IFNAME', not {end!r}"
            )
        node, colon, ifname = end.partition(":")
        self._known(node)
        if not colon:
            return _End(node, None)
        _wire.check_ifname(ifname)
        return _End(node, ifname)

    def node(
        self,
        name: str,
        *,
        named: bool = False,
        sysctls: Optional[Mapping[str, SysctlValue]] = None,
    ) -> Topology:
        """A node: a fresh namespace. ``named``: with a name in the run
        directory (usable with ``ip netns exec``); ``sysctls`` set in it
        (e.g. ``{"net.ipv4.ip_forward": 1}``)."""
        label = _check_label(name)
        if label in self._nodes:
            raise ValueError(f"duplicate node {label!r}")
        self._nodes[label] = _NodeDecl(label, bool(named))
        for key, value in (sysctls or {}).items():
            self.sysctl(label, key, value)
        self._changed()
        return self

    def link(
        self,
        a: str,
        b: str,
        *,
        name: Optional[str] = None,
        addrs: Optional[Sequence[AddrsLike]] = None,
        mtu: Optional[int] = None,
        macs: tuple[Optional[str], Optional[str]] = (None, None),
        up: bool = True,
    ) -> Topology:
        """A veth pair between ends ``a`` and ``b`` ("NODE" or
        "NODE:IFNAME"; "NODE:BRIDGE" is a new port of that bridge).

        ``name`` (default "A-B", the nodes' names) is its key in
        :attr:`Network.links`. ``addrs``: None for automatic addresses,
        else a pair (a's, b's), each None, a CIDR or several. ``mtu`` on
        both ends, ``macs`` for each end, both ends up unless
        ``up=False``.
        """
        end_a, end_b = self._end(a), self._end(b)
        label = f"{end_a.node}-{end_b.node}" if name is None else name
        if not isinstance(label, str) or not label:
            raise ValueError(f"invalid link name {name!r}")
        if any(self._link_name(k) == label for k in self._links):
            raise ValueError(
                f"duplicate link {label!r}"
                + (": give it a name=" if name is None else "")
            )
        pair: Optional[tuple[tuple[str, ...], tuple[str, ...]]] = None
        if addrs is not None:
            got = tuple(addrs)
            if len(got) not in (0, 2):
                raise ValueError(
                    f"addrs of link {label!r} is a pair (a's, b's), not "
                    f"{addrs!r}"
                )
            what = f"link {label!r}"
            pair = (
                (_cidrs(got[0], what), _cidrs(got[1], what))
                if got
                else ((), ())
            )
        _wire.check_mtu(mtu, "veth")
        if len(macs) != 2:
            raise ValueError("macs is a pair (a's, b's)")
        for mac in macs:
            _wire.check_mac(mac)
        self._links.append(
            _LinkDecl(
                next(self._order),
                name,
                end_a,
                end_b,
                pair,
                mtu,
                (macs[0], macs[1]),
                bool(up),
            )
        )
        self._changed()
        return self

    @staticmethod
    def _link_name(decl: _LinkDecl) -> str:
        if decl.name is not None:
            return decl.name
        return f"{decl.a.node}-{decl.b.node}"

    def bridge(
        self,
        node: str,
        name: str,
        *,
        ports: Iterable[str] = (),
        addrs: Optional[AddrsLike] = None,
        mtu: Optional[int] = None,
        up: bool = True,
    ) -> Topology:
        """A bridge in ``node`` with the interfaces ``ports`` of that node
        (link ends) attached; links to "NODE:NAME" add ports too.
        ``addrs``: None for an automatic address, else None/() for none,
        a CIDR or several."""
        self._known(node)
        _wire.check_ifname(name)
        port_names = tuple(ports)
        for port in port_names:
            _wire.check_ifname(port)
        self._bridges.append(
            _BridgeDecl(
                next(self._order),
                node,
                name,
                port_names,
                None
                if addrs is None
                else _cidrs(addrs, f"bridge {node}:{name}"),
                mtu,
                bool(up),
            )
        )
        _wire.check_mtu(mtu, "bridge")
        self._changed()
        return self

    def route(
        self,
        node: str,
        dst: str,
        *,
        via: Optional[str] = None,
        dev: Optional[str] = None,
        metric: Optional[int] = None,
        src: Optional[str] = None,
        table: Optional[int] = None,
    ) -> Topology:
        """A route in ``node`` to ``dst`` ("default", a CIDR, or an
        interface "NODE:IFNAME" for its segment) via a gateway (an
        address, or "NODE:IFNAME" for that interface's address) and/or
        out of device ``dev`` of the node."""
        self._known(node)
        for value, what in ((dst, "dst"), (via, "via"), (src, "src")):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"a route's {what} is a str, not {value!r}")
        if dev is not None:
            _wire.check_ifname(dev)
        self._routes.append(
            _RouteDecl(
                node,
                dst,
                via,
                dev,
                _int_or_none(metric, "a route metric"),
                src,
                _int_or_none(table, "a route table"),
            )
        )
        self._changed()
        return self

    def sysctl(self, node: str, key: str, value: SysctlValue) -> Topology:
        """A network sysctl written in ``node`` after its links,
        addresses and routes ("net.ipv4.ip_forward", or a path
        "net/ipv4/conf/eth0/forwarding")."""
        self._known(node)
        _wire.sysctl_path(key)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, (str, int)):
            raise TypeError(f"a sysctl value is a str or an int: {value!r}")
        self._sysctls.append((node, key, value))
        self._changed()
        return self

    # -- dicts ----------------------------------------------------------------

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Topology:
        """A topology from a plain dict (the form :meth:`to_dict` gives)::

        {"subnet": "10.255.0.0/16", "prefixlen": 24,
         "nodes": ["h1", "r"]   # or {"r": {"named": True,
                                #        "sysctls": {...}}, ...}
         "links": [["h1", "r"],  # or {"a": ..., "b": ..., "name": ...,
                                 #     "addrs": ..., "mtu": ..., ...}
         "bridges": [{"node": "r", "name": "br0", "ports": [...]}],
         "routes": [{"node": "h1", "dst": "default", "via": "r:eth0"}],
         "sysctls": {"r": {"net.ipv4.ip_forward": 1}}}
        """
        if not isinstance(spec, Mapping):
            raise TypeError(f"a topology spec is a dict, not {spec!r}")
        known = {
            "subnet",
            "prefixlen",
            "subnet6",
            "prefixlen6",
            "lo_up",
            "nodes",
            "links",
            "bridges",
            "routes",
            "sysctls",
        }
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown topology keys: {', '.join(unknown)}")
        options = {k: spec[k] for k in known & set(spec) if k not in _LISTS}
        topo = cls(**options)
        nodes = spec.get("nodes", ())
        if isinstance(nodes, Mapping):
            for label, node in nodes.items():
                topo.node(label, **_fields(node or {}, "node", _NODE_KEYS))
        else:
            for label in nodes:
                topo.node(label)
        for link in spec.get("links", ()):
            if isinstance(link, Mapping):
                kw = _fields(link, "link", _LINK_KEYS | {"a", "b"})
                a, b = kw.pop("a", None), kw.pop("b", None)
                if a is None or b is None:
                    raise ValueError(f"a link needs a and b: {link!r}")
                if "macs" in kw:
                    kw["macs"] = tuple(kw["macs"])
                topo.link(a, b, **kw)
            else:
                a, b = link
                topo.link(a, b)
        for bridge in spec.get("bridges", ()):
            kw = _fields(bridge, "bridge", _BRIDGE_KEYS | {"node", "name"})
            topo.bridge(kw.pop("node"), kw.pop("name"), **kw)
        for route in spec.get("routes", ()):
            kw = _fields(route, "route", _ROUTE_KEYS | {"node", "dst"})
            topo.route(kw.pop("node"), kw.pop("dst"), **kw)
        sysctls = spec.get("sysctls", {})
        if isinstance(sysctls, Mapping):
            for label, values in sysctls.items():
                for key, value in values.items():
                    topo.sysctl(label, key, value)
        else:
            for label, key, value in sysctls:
                topo.sysctl(label, key, value)
        return topo

    def to_dict(self) -> dict[str, Any]:
        """The topology as a plain dict (from_dict makes it again)."""
        out: dict[str, Any] = {
            "subnet": None if self._subnet is None else str(self._subnet),
            "prefixlen": self._prefixlen,
            "subnet6": None if self._subnet6 is None else str(self._subnet6),
            "prefixlen6": self._prefixlen6,
            "lo_up": self._lo_up,
            "nodes": {
                n.label: {"named": n.named} for n in self._nodes.values()
            },
            "links": [],
            "bridges": [],
            "routes": [r._asdict() for r in self._routes],
            "sysctls": {},
        }
        decls: list[Union[_LinkDecl, _BridgeDecl]] = [
            *self._links,
            *self._bridges,
        ]
        for decl in sorted(decls, key=lambda d: d.order):
            if isinstance(decl, _LinkDecl):
                out["links"].append(
                    {
                        "a": _end_text(decl.a),
                        "b": _end_text(decl.b),
                        "name": decl.name,
                        "addrs": None
                        if decl.addrs is None
                        else [list(decl.addrs[0]), list(decl.addrs[1])],
                        "mtu": decl.mtu,
                        "macs": list(decl.macs),
                        "up": decl.up,
                    }
                )
            else:
                out["bridges"].append(
                    {
                        "node": decl.node,
                        "name": decl.name,
                        "ports": list(decl.ports),
                        "addrs": None
                        if decl.addrs is None
                        else list(decl.addrs),
                        "mtu": decl.mtu,
                        "up": decl.up,
                    }
                )
        for label, key, value in self._sysctls:
            out["sysctls"].setdefault(label, {})[key] = value
        return out

    def key(self) -> str:
        """A text that two topologies with the same declarations share
        (e.g. to keep one pool per topology)."""
        import json  # noqa: PLC0415 (only the plugin asks)

        return json.dumps(self.to_dict(), sort_keys=True)

    # -- what a build makes -------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        """The node names, in declaration order."""
        return tuple(self._nodes)

    def interfaces(self) -> dict[str, tuple[str, ...]]:
        """Every interface a build makes, "NODE:IFNAME", with its
        addresses (automatic ones included): known before any build, so
        that tests can name them."""
        c = self._compile()
        return {key: spec.addrs for key, spec in c.interfaces.items()}

    def address(self, end: str, family: Optional[int] = None) -> str:
        """The first address (no prefix) a build gives interface
        "NODE:IFNAME" (of ``family``, socket.AF_INET or AF_INET6, when
        given); ValueError when it has none."""
        return self._compile().address(end, family)

    def _compile(self) -> _Compiled:
        with self._lock:
            compiled = self._compiled
        if compiled is None:
            compiled = _Compiled(self)
            with self._lock:
                self._compiled = compiled
        return compiled

    # -- building -------------------------------------------------------------

    def build(self, *, prefix: Optional[str] = None) -> Network:
        """Make the nodes and wire them (see the module doc).

        ``prefix`` is the run-directory name prefix of ``named`` nodes
        (default ``nsf-pool-OWNER-topoN-``, reclaimed by ``netns-fast gc
        dead-owners`` if this process dies); a named node is called
        PREFIX + its node name. On failure everything made is removed
        and the error is raised (ValueError before any syscall for bad
        input; the kernel's refusal, e.g. FileExistsError, otherwise).
        """
        compiled = self._compile()
        if not compiled.any_named:
            return self._build_anonymous(compiled)
        if prefix is None:
            prefix = _default_prefix()
        made: dict[str, Netns] = {}
        try:
            for node in compiled.nodes:
                if node.named:
                    made[node.label] = Netns.create(
                        f"{prefix}{node.label}", lo_up=self._lo_up
                    )
                else:
                    made[node.label] = Netns.new(lo_up=self._lo_up)
            plan = _wire.Plan()
            compiled.fill(
                plan, [made[n.label]._endpoint() for n in compiled.nodes]
            )
            # On failure the namespaces go, and all in them: no undo.
            result = plan.run(keep=True) if len(plan) else None
        except BaseException:
            _close_all(made.values())
            raise
        if result is None:
            indexes: list[tuple[int, int]] = []
        else:
            indexes = [
                (result.index(i), result.peer_index(i))
                for i in range(len(plan))
            ]
        return Network(self, compiled, made, indexes)

    def _build_anonymous(self, compiled: _Compiled) -> Network:
        """Every node anonymous: namespaces and wiring in one C call."""
        nodes, indexes = compiled.c_build().build(compiled.made)
        made: dict[str, Netns] = {}
        try:
            for node, held in zip(compiled.nodes, nodes):
                made[node.label] = Netns._held(*held)
        except BaseException:
            # _held closed the node it failed on; close those after it.
            _close_all(made.values())
            for fd, _, rtnl in nodes[len(made) + 1 :]:
                os.close(rtnl)
                os.close(fd)
            raise
        return Network(self, compiled, made, indexes)

    def __repr__(self) -> str:
        return (
            f"<Topology nodes={len(self._nodes)} links={len(self._links)} "
            f"bridges={len(self._bridges)}>"
        )


_LISTS = frozenset(("nodes", "links", "bridges", "routes", "sysctls"))
_NODE_KEYS = frozenset(("named", "sysctls"))
_LINK_KEYS = frozenset(("name", "addrs", "mtu", "macs", "up"))
_BRIDGE_KEYS = frozenset(("ports", "addrs", "mtu", "up"))
_ROUTE_KEYS = frozenset(("via", "dev", "metric", "src", "table"))


def _fields(
    spec: Mapping[str, Any], what: str, keys: frozenset[str]
) -> dict[str, Any]:
    if not isinstance(spec, Mapping):
        raise TypeError(f"a {what} is a dict, not {spec!r}")
    unknown = sorted(set(spec) - keys)
    if unknown:
        raise ValueError(f"unknown {what} keys: {', '.join(unknown)}")
    return dict(spec)


def _end_text(end: _End) -> str:
    return end.node if end.ifname is None else f"{end.node}:{end.ifname}"


def _range(
    subnet: Optional[str], prefixlen: int, version: int
) -> Optional[_IPNetwork]:
    """A range for automatic addresses, checked against its block size."""
    if subnet is None:
        return None
    if not isinstance(subnet, str):
        raise TypeError(f"a subnet is a str like '10.255.0.0/16': {subnet!r}")
    try:
        net = ipaddress.ip_network(subnet)
    except ValueError:
        raise ValueError(f"invalid subnet {subnet!r}") from None
    if net.version != version:
        raise ValueError(
            f"subnet{'6' if version == 6 else ''} {subnet!r} "
            f"is not IPv{version}"
        )
    if (
        isinstance(prefixlen, bool)
        or not isinstance(prefixlen, int)
        or not net.prefixlen <= prefixlen <= net.max_prefixlen - 1
    ):
        raise ValueError(
            f"invalid prefixlen {prefixlen!r} for {subnet}: "
            f"{net.prefixlen} to {net.max_prefixlen - 1}"
        )
    return net


def _default_prefix() -> str:
    from ._owner import owner_name  # noqa: PLC0415 (named nodes only)

    return owner_name("pool", f"topo{next(_serials)}-")


def _close_all(handles: Iterable[Netns]) -> None:
    """Close every handle; the first error is raised after all."""
    error: Optional[BaseException] = None
    for ns in handles:
        try:
            ns.close()
        except Exception as exc:
            error = error or exc
    if error is not None:
        raise error


# -- compiling: names, addresses and the plan ---------------------------------


class _Iface(NamedTuple):
    node: str
    name: str
    kind: str
    addrs: tuple[str, ...]
    master: Optional[str]


class _Wired(NamedTuple):
    """A link, resolved: its ends (a first in the plan: the end that
    sends the RTM_NEWLINK)."""

    name: str
    a: str  # "NODE:IFNAME"
    b: str
    swapped: bool  # a and b of the declaration are the other way round
    decl: _LinkDecl


class _Blocks:
    """The blocks of a range for automatic addresses, handed out in order,
    skipping those that hold an address given explicitly."""

    def __init__(
        self,
        net: Optional[_IPNetwork],
        prefixlen: int,
        taken: Sequence[_IPInterface],
    ) -> None:
        self._net = net
        self._taken = [t for t in taken if net and t.version == net.version]
        self._blocks: Optional[Iterator[_IPNetwork]] = (
            None if net is None else net.subnets(new_prefix=prefixlen)
        )

    def take(self, hosts: int, what: str) -> list[str]:
        """CIDRs of the first ``hosts`` hosts of the next free block (none
        when the range is off)."""
        if self._blocks is None or hosts == 0:
            return []
        for block in self._blocks:
            if any(block.overlaps(t.network) for t in self._taken):
                continue
            got = list(itertools.islice(_hosts(block), hosts))
            if len(got) < hosts:
                raise ValueError(
                    f"a /{block.prefixlen} block holds {len(got)} hosts: "
                    f"too few for {what} ({hosts})"
                )
            return [f"{ip}/{block.prefixlen}" for ip in got]
        raise ValueError(f"the range {self._net} has no block left for {what}")


def _hosts(block: _IPNetwork) -> Iterator[Any]:
    """The host addresses of a block: IPv4 without the network and
    broadcast addresses (both of a /31, RFC 3021), IPv6 without the
    network's own (the subnet-router anycast)."""
    if block.version == 4 and block.prefixlen == 31:
        return iter(block)
    first = block.network_address + 1
    last = block.num_addresses - (2 if block.version == 4 else 1)
    return (first + i for i in range(last))


class _Compiled:
    """A topology resolved: node order, interface names, addresses, routes;
    and the plan's requests, checked by filling a plan over placeholders."""

    def __init__(self, topo: Topology) -> None:
        self.nodes = list(topo._nodes.values())
        self.any_named = any(n.named for n in self.nodes)
        self.lo_up = topo._lo_up
        self._where = {n.label: i for i, n in enumerate(self.nodes)}
        self.interfaces: dict[str, _Iface] = {}
        self._names(topo)
        self._addresses(topo)
        self.routes = [self._route(r) for r in topo._routes]
        self.sysctls = list(topo._sysctls)
        # Check every request now, before any syscall, and keep the
        # placeholder plan: a pool's template.
        self.placeholders = [
            _wire.Endpoint(-1, _wire.Socket(), n.label) for n in self.nodes
        ]
        self.template = _wire.Plan()
        self.made = self.fill(self.template, self.placeholders)
        """The numbers of the creation requests (bridges, then links) in
        every plan fill() makes."""
        self._shapes = self._record_shapes()
        self.wiring = self.template.template(self.placeholders)
        """The plan's requests over nodes 0 .. n - 1: what C runs again
        for every pooled or one-call build."""
        self._c_build: Optional[_sys.WireBuild] = None

    def c_build(self) -> _sys.WireBuild:
        """The template in C that builds anonymous nodes in one call
        (made on first use; two threads may both make one)."""
        b = self._c_build
        if b is None:
            b = self._c_build = _sys.WireBuild(
                [n.label for n in self.nodes], self.wiring, self.lo_up
            )
        return b

    # names: every interface of every node, unique

    def _claim(self, node: str, name: str, kind: str, what: str) -> str:
        key = f"{node}:{name}"
        if key in self.interfaces or name == "lo":
            raise ValueError(f"duplicate interface {key} ({what})")
        self.interfaces[key] = _Iface(node, name, kind, (), None)
        return key

    def _names(self, topo: Topology) -> None:
        bridges = {f"{b.node}:{b.name}": b for b in topo._bridges}
        for key, b in bridges.items():
            self._claim(b.node, b.name, "bridge", f"bridge {key}")
        # Explicit names first, then the automatic ethN in declaration
        # order: an automatic name never takes an explicit one.
        ends: list[tuple[_LinkDecl, int, Optional[str]]] = []
        self.masters: dict[str, str] = {}
        for decl in topo._links:
            what = f"link {Topology._link_name(decl)!r}"
            for side, end in enumerate((decl.a, decl.b)):
                key = _end_text(end)
                if key in bridges:
                    ends.append((decl, side, None))
                    continue
                if end.ifname is not None:
                    self._claim(end.node, end.ifname, "veth", what)
                ends.append((decl, side, end.ifname))
        counters: dict[str, int] = {}
        resolved: dict[tuple[int, int], str] = {}
        for decl, side, given in ends:
            end = (decl.a, decl.b)[side]
            ifname = given
            if ifname is None:
                n = counters.get(end.node, 0)
                while f"{end.node}:eth{n}" in self.interfaces:
                    n += 1
                counters[end.node] = n + 1
                ifname = f"eth{n}"
                self._claim(end.node, ifname, "veth", "automatic")
                if _end_text(end) in bridges:
                    self.masters[f"{end.node}:{ifname}"] = str(end.ifname)
            resolved[(decl.order, side)] = f"{end.node}:{ifname}"
        for key, b in bridges.items():
            for port in b.ports:
                pkey = f"{b.node}:{port}"
                iface = self.interfaces.get(pkey)
                if iface is None or iface.kind != "veth":
                    raise ValueError(
                        f"bridge {key}: port {port!r} is no link end of "
                        f"node {b.node!r}"
                    )
                if self.masters.get(pkey, b.name) != b.name:
                    raise ValueError(f"{pkey} is a port of two bridges")
                self.masters[pkey] = b.name
        for pkey, master in self.masters.items():
            iface = self.interfaces[pkey]
            self.interfaces[pkey] = iface._replace(master=master)
        self.links: list[_Wired] = []
        for decl in topo._links:
            one, two = resolved[(decl.order, 0)], resolved[(decl.order, 1)]
            # The end that is a bridge port sends the RTM_NEWLINK: it is
            # made a port in the same request.
            swap = two in self.masters and one not in self.masters
            self.links.append(
                _Wired(
                    Topology._link_name(decl),
                    two if swap else one,
                    one if swap else two,
                    swap,
                    decl,
                )
            )
        self.bridges = list(bridges.items())

    # addresses: explicit, or automatic per segment

    def _set_addrs(self, key: str, addrs: Sequence[str]) -> None:
        iface = self.interfaces[key]
        self.interfaces[key] = iface._replace(addrs=iface.addrs + tuple(addrs))

    def _addresses(self, topo: Topology) -> None:
        taken = [
            ipaddress.ip_interface(a)
            for decl in topo._links
            if decl.addrs is not None
            for side in decl.addrs
            for a in side
        ] + [
            ipaddress.ip_interface(a)
            for b in topo._bridges
            if b.addrs is not None
            for a in b.addrs
        ]
        ranges = (
            _Blocks(topo._subnet, topo._prefixlen, taken),
            _Blocks(topo._subnet6, topo._prefixlen6, taken),
        )
        # A bridge's segment: the bridge and the far ends of the links to
        # its ports.
        segment: dict[str, list[str]] = {}
        for wired in self.links:
            if wired.decl.addrs is not None:
                first, second = wired.decl.addrs
                if wired.swapped:
                    first, second = second, first
                self._set_addrs(wired.a, first)
                self._set_addrs(wired.b, second)
                continue
            port_a, port_b = wired.a in self.masters, wired.b in self.masters
            if port_a != port_b:
                port, far = (
                    (wired.a, wired.b) if port_a else (wired.b, wired.a)
                )
                node = port.partition(":")[0]
                bkey = f"{node}:{self.masters[port]}"
                segment.setdefault(bkey, []).append(far)
        segments: list[tuple[int, str, list[str]]] = []
        for wired in self.links:
            if wired.decl.addrs is None and not (
                wired.a in self.masters or wired.b in self.masters
            ):
                segments.append(
                    (
                        wired.decl.order,
                        f"link {wired.name!r}",
                        [wired.a, wired.b],
                    )
                )
        for bkey, b in self.bridges:
            if b.addrs is not None:
                self._set_addrs(bkey, b.addrs)
                members = segment.get(bkey, [])
            else:
                members = [bkey, *segment.get(bkey, [])]
            segments.append((b.order, f"bridge {bkey}", members))
        for _, what, members in sorted(segments, key=lambda s: s[0]):
            got = [blocks.take(len(members), what) for blocks in ranges]
            for i, key in enumerate(members):
                self._set_addrs(key, [g[i] for g in got if g])

    def _iface(self, end: str, what: str) -> _Iface:
        iface = self.interfaces.get(end)
        if iface is None:
            raise ValueError(f"{what}: unknown interface {end!r}")
        return iface

    def address(self, end: str, family: Optional[int] = None) -> str:
        """The first address of interface end (of family)."""
        iface = self._iface(end, "address")
        for cidr in iface.addrs:
            ip = ipaddress.ip_interface(cidr)
            if family is None or _family(ip.version) == family:
                return str(ip.ip)
        raise ValueError(f"interface {end} has no such address")

    def _route(self, r: _RouteDecl) -> _RouteDecl:
        """A route with its interface references resolved: a dst
        "NODE:IFNAME" becomes that interface's first network, a via its
        address of the route's family."""
        what = f"route {r.dst!r} of {r.node!r}"
        via, dst = r.via, r.dst
        family: Optional[int] = None
        if dst in self.interfaces or (":" in dst and _network(dst) is None):
            iface = self._iface(dst, what)
            if not iface.addrs:
                raise ValueError(f"{what}: {dst} has no address")
            first = ipaddress.ip_interface(iface.addrs[0]).network
            dst, family = str(first), _family(first.version)
        elif dst != "default":
            net = _network(dst)
            family = None if net is None else _family(net.version)
        if via is not None and _network(via) is None:
            self._iface(via, what)
            via = self.address(via, family)
        if r.dev is not None and r.dev != "lo":
            self._iface(f"{r.node}:{r.dev}", what)
        return r._replace(dst=dst, via=via)

    # the plan

    def fill(self, plan: Plan, eps: Sequence[Endpoint]) -> list[int]:
        """Add the topology's requests to plan over eps (one per node, in
        order); the numbers of its creation requests (bridges, then
        links)."""
        ep = {n.label: eps[i] for i, n in enumerate(self.nodes)}
        made: list[int] = []
        for _, b in self.bridges:
            made.append(
                plan.device(ep[b.node], "bridge", b.name, up=b.up, mtu=b.mtu)
            )
        later: list[tuple[str, str]] = []
        for wired in self.links:
            node_a, if_a = wired.a.split(":", 1)
            node_b, if_b = wired.b.split(":", 1)
            macs = wired.decl.macs[::-1] if wired.swapped else wired.decl.macs
            made.append(
                plan.veth(
                    ep[node_a],
                    if_a,
                    ep[node_b],
                    if_b,
                    up=wired.decl.up,
                    mtu=wired.decl.mtu,
                    mac=macs[0],
                    peer_mac=macs[1],
                    master=self.masters.get(wired.a),
                )
            )
            if wired.b in self.masters:
                later.append((node_b, if_b))
        for node, ifname in later:
            plan.link_set(
                ep[node], ifname, master=self.masters[f"{node}:{ifname}"]
            )
        for iface in self.interfaces.values():
            for cidr in iface.addrs:
                plan.addr_add(ep[iface.node], iface.name, cidr)
        for r in self.routes:
            plan.route(
                ep[r.node],
                r.dst,
                via=r.via,
                dev=r.dev,
                metric=r.metric,
                src=r.src,
                table=r.table,
            )
        for node, key, value in self.sysctls:
            plan.sysctl(ep[node], key, value)
        return made

    def records(
        self, indexes: Sequence[tuple[int, int]]
    ) -> tuple[dict[str, WiredLink], dict[str, Interface]]:
        """The links and bridges of a build, from the (index, peer index)
        of each of its plan's requests (none: indexes unknown, 0)."""
        bridge_shapes, link_shapes = self._shapes
        new = tuple.__new__
        none = (0, 0)

        def at(k: int) -> tuple[int, int]:
            return indexes[k] if indexes else none

        bridges = {
            bkey: new(Interface, (node, name, at(k)[0], *rest))
            for bkey, k, node, name, rest in bridge_shapes
        }
        links: dict[str, WiredLink] = {}
        for name, k, (na, ia, ra), (nb, ib, rb), swapped in link_shapes:
            index, peer = at(k)
            a = new(Interface, (na, ia, index, *ra))
            b = new(Interface, (nb, ib, peer, *rb))
            if swapped:
                a, b = b, a
            links[name] = new(WiredLink, (name, a, b))
        return links, bridges

    def _record_shapes(self) -> tuple[list[Any], list[Any]]:
        """What records() fills in, per bridge and link: everything but
        the interface indexes, and the plan request that gives them."""
        made = self.made

        def shape(key: str) -> tuple[str, str, tuple[Any, ...]]:
            i = self.interfaces[key]
            return i.node, i.name, (i.kind, i.addrs, i.master)

        bridges = [
            (bkey, made[k], *shape(bkey))
            for k, (bkey, _) in enumerate(self.bridges)
        ]
        links = [
            (w.name, made[k], shape(w.a), shape(w.b), w.swapped)
            for k, w in enumerate(self.links, start=len(self.bridges))
        ]
        return bridges, links


def _family(version: int) -> int:
    return _wire.AF_INET6 if version == 6 else _wire.AF_INET


def _network(text: str) -> Optional[_IPNetwork]:
    """The network of an address or a CIDR (host bits allowed), or None
    when text is neither (e.g. an interface "NODE:IFNAME")."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


# -- a built network ----------------------------------------------------------


class Network(Resource):
    """The namespaces of a built :class:`Topology` and what was made.

    ``net["h1"]`` (or ``net.nodes["h1"]``) is a node's
    :class:`~netns_fast.Netns`; ``net.links[NAME]`` a :class:`WiredLink`
    (both ends as :class:`Interface` records: node, name, ifindex,
    addresses, bridge); ``net.bridges["NODE:NAME"]`` a bridge's record;
    :meth:`interface` and :meth:`address` look up any interface made.
    :meth:`close` (or ``with``) removes every node, and so everything in
    them; closing one node's handle early is allowed.
    """

    __slots__ = (
        "__weakref__",
        "_closed",
        "_compiled",
        "_ifaces",
        "_indexes",
        "_lock",
        "_pid",
        "_records",
        "_release",
        "nodes",
        "topology",
    )

    def __init__(
        self,
        topology: Topology,
        compiled: _Compiled,
        nodes: dict[str, Netns],
        indexes: Sequence[tuple[int, int]],
    ) -> None:
        self.topology = topology
        self._compiled = compiled
        self.nodes: Mapping[str, Netns] = nodes
        # The records are made on first use (a test may never ask).
        self._indexes = indexes
        self._records: Optional[
            tuple[dict[str, WiredLink], dict[str, Interface]]
        ] = None
        self._ifaces: Optional[dict[str, Interface]] = None  # on first use
        self._release: Optional[Callable[[], None]] = None
        self._pid = own_pid()
        self._closed = False
        self._lock = threading.Lock()

    @property
    def links(self) -> dict[str, WiredLink]:
        """The links made, by name (see :class:`WiredLink`)."""
        return self._made()[0]

    @property
    def bridges(self) -> dict[str, Interface]:
        """The bridges made, by "NODE:NAME"."""
        return self._made()[1]

    def _made(self) -> tuple[dict[str, WiredLink], dict[str, Interface]]:
        records = self._records
        if records is None:
            records = self._records = self._compiled.records(self._indexes)
        return records

    def __getitem__(self, node: str) -> Netns:
        """The handle of node ``node``."""
        return self.nodes[node]

    def __iter__(self) -> Iterator[str]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def _released_by(self, release: Callable[[], None]) -> None:
        """Call release after the nodes are closed (a pool's network goes
        back whole); not in a forked child, whose copies are not its."""
        self._release = release

    def interface(self, end: str) -> Interface:
        """The record of interface "NODE:IFNAME" (a veth end or a
        bridge)."""
        ifaces = self._ifaces
        if ifaces is None:
            ifaces = dict(self.bridges)
            for link in self.links.values():
                for one in (link.a, link.b):
                    ifaces[f"{one.node}:{one.name}"] = one
            self._ifaces = ifaces
        return ifaces[end]

    def address(self, end: str, family: Optional[int] = None) -> str:
        """The first address (no prefix) of interface "NODE:IFNAME", of
        ``family`` (socket.AF_INET or AF_INET6) when given."""
        return self._compiled.address(end, family)

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._closed

    def close(self) -> None:
        """Remove every node (close its handle: an anonymous namespace is
        freed by the kernel once nothing else holds it; a named one loses
        its name). Idempotent; the first error is raised after all."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            _close_all(self.nodes.values())
        finally:
            if self._release is not None and own_pid() == self._pid:
                self._release()

    def _is_open(self) -> bool:
        return not self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<Network nodes={list(self.nodes)} links={list(self.links)} "
            f"{state}>"
        )
