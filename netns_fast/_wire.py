"""Wiring namespaces: veth pairs, bridges, dummies, addresses, routes,
sysctls, waits and read-back, over an rtnetlink socket kept inside each
namespace (csrc/wire.c).

API summary (the methods are on :class:`~netns_fast.Netns`; ``peer`` and
``target`` are a Netns, a name in the run directory, an fd, or None for
the calling thread's own namespace; links are named by their name)::

    a.veth(peer, "eth0", "eth0", addrs=("10.0.0.1/24", "10.0.0.2/24"),
           mtu=None, mac=None, peer_mac=None, up=True) -> (Link, Link)
    ns.bridge("br0", ports=("p1", "p2"), addrs=(), mtu=None, mac=None,
              up=True) -> Link
    ns.dummy("d0", addrs=(), mtu=None, mac=None, up=True) -> Link
    ns.bridge_attach("p1", "br0"); ns.bridge_detach("p1")
    ns.link_up(name); ns.link_down(name); ns.link_set_mtu(name, mtu)
    ns.link_set_mac(name, mac); ns.link_rename(name, new_name)
    ns.link_move(name, target, new_name=None); ns.link_delete(name)
    ns.addr_add(link, cidr, nodad=True); ns.addr_del(link, cidr)
    ns.route_add(dst, via=None, dev=None, metric=None, src=None, table=None)
    ns.route_del(dst, via=None, dev=None, table=None, metric=None)
    ns.sysctl(key, value=None) -> str      # "net.ipv4.ip_forward" or a path
    ns.wait_link(name, timeout=5.0) -> Link
    ns.link(name) -> Link; ns.links() -> [Link]
    ns.addrs(link=None, family=None) -> [Address]
    ns.routes(family=None, table=254) -> [Route]

Records are :class:`Link`, :class:`Address` and :class:`Route`
(NamedTuples). Bad input (an interface name that the kernel would refuse,
a bad CIDR, an MTU out of range for the kind, a multicast MAC, a sysctl
outside ``net``) raises ValueError before any syscall; kernel refusals
raise the usual exception classes (``FileExistsError`` for a taken name
...) with the kernel's extended-ack text as ``strerror`` when it sent one,
``filename`` the namespace's path and ``filename2`` the link, address,
route or sysctl file.

For batches (a Topology, a pool's pre-wiring): :class:`Plan` collects
requests over :class:`Endpoint` s (``Netns._endpoint()``) and
:meth:`Plan.run` sends them in one C call, as few datagrams as their
order allows, undoing what it made when one fails; :func:`run_many` runs
independent plans on C threads. The C entry points are ``nsf_wire_run``
and ``nsf_wire_run_many`` (csrc/wire.h), callable from C threads.
"""

from __future__ import annotations

import contextlib
import copy
import os
import socket as _socket
import threading
from typing import TYPE_CHECKING, NamedTuple, Optional, Union

from . import _sys
from ._names import own_pid

if TYPE_CHECKING:
    import ipaddress
    from collections.abc import Callable, Iterable, Iterator, Sequence

AddressLike = Union[str, "ipaddress.IPv4Interface", "ipaddress.IPv6Interface"]
"""An address with its prefix: "10.0.0.1/24", "fd00::1/64" (a bare
address is a /32 or /128), or an ipaddress interface."""

NetworkLike = Union[str, "ipaddress.IPv4Network", "ipaddress.IPv6Network"]
"""A route's destination: "10.1.0.0/24", "default" (with via=), or an
ipaddress network; host bits must be zero."""

AF_INET = _sys.AF_INET
AF_INET6 = _sys.AF_INET6
TABLE_MAIN = 254
_IFF_UP = 0x1
_IFF_LOWER_UP = 0x10000
_IFA_F_NODAD = 0x02
IFNAMSIZ = 16
_OPERSTATES = (
    "UNKNOWN",
    "NOTPRESENT",
    "DOWN",
    "LOWERLAYERDOWN",
    "TESTING",
    "DORMANT",
    "UP",
)
# Links of these kinds accept an MTU of ETH_MIN_MTU .. ETH_MAX_MTU.
_ETH_MTU = (68, 65535)
_SYSCTL_ROOT = "net"
_DEVICES = {"bridge": _sys.WIRE_BRIDGE, "dummy": _sys.WIRE_DUMMY}


# -- records ------------------------------------------------------------------


class Link(NamedTuple):
    """A link as the kernel reports it."""

    ifindex: int
    name: str
    kind: str
    """IFLA_INFO_KIND: "veth", "bridge", "dummy"; "" (e.g. lo)."""
    flags: int
    """IFF_* flags."""
    mtu: int
    mac: str
    """aa:bb:cc:dd:ee:ff (lower case); "" when it has none."""
    operstate: str
    """RFC 2863 state as ip prints it: "UP", "DOWN", "LOWERLAYERDOWN",
    "UNKNOWN" ..."""
    carrier: Optional[bool]
    master: Optional[int]
    """Index of its bridge, or None."""
    peer_ifindex: Optional[int]
    """A veth's peer's index (IFLA_LINK), in the namespace of
    ``peer_netnsid`` when that is not None."""
    peer_netnsid: Optional[int]

    @property
    def up(self) -> bool:
        """IFF_UP: set up (administratively)."""
        return bool(self.flags & _IFF_UP)

    @property
    def lower_up(self) -> bool:
        """IFF_LOWER_UP: it has a carrier."""
        return bool(self.flags & _IFF_LOWER_UP)


class Address(NamedTuple):
    """An address of a link."""

    address: str
    """The address, without prefix ("10.0.0.1", "fd00::1")."""
    prefixlen: int
    ifindex: int
    """Index of its link."""
    family: int
    scope: int
    flags: int
    """IFA_F_* flags (0x02 nodad, 0x40 tentative, 0x80 permanent)."""
    label: str

    @property
    def cidr(self) -> str:
        """address/prefixlen, e.g. "10.0.0.1/24"."""
        return f"{self.address}/{self.prefixlen}"


class Route(NamedTuple):
    """A route."""

    dst: str
    """"default", or network/prefixlen ("10.1.0.0/24")."""
    family: int
    gateway: Optional[str]
    oif: Optional[int]
    """Index of its device, or None."""
    table: int
    protocol: int
    scope: int
    type: int
    metric: int
    prefsrc: Optional[str]


def _link(raw: _sys.RawLink) -> Link:
    (
        index,
        master,
        peer,
        nsid,
        flags,
        mtu,
        oper,
        carrier,
        n,
        mac,
        name,
        kind,
    ) = raw
    # tuple.__new__: no Python frame of NamedTuple's __new__.
    return _new_link(
        Link,
        (
            index,
            name.split(b"\0", 1)[0].decode("utf-8", "surrogateescape"),
            kind.split(b"\0", 1)[0].decode("utf-8", "surrogateescape"),
            flags,
            mtu,
            mac[: max(0, n)].hex(":"),
            _OPERSTATES[oper] if 0 <= oper < len(_OPERSTATES) else str(oper),
            None if carrier < 0 else bool(carrier),
            master or None,
            peer or None,
            None if nsid < 0 else nsid,
        ),
    )


_new_link = tuple.__new__


def _ip(family: int, raw: bytes) -> str:
    return _socket.inet_ntop(family, raw)


def _address(raw: _sys.RawAddr) -> Address:
    family, addr, prefixlen, index, scope, flags, label = raw
    return Address(
        _ip(family, addr),
        prefixlen,
        index,
        family,
        scope,
        flags,
        os.fsdecode(label),
    )


def _route(raw: _sys.RawRoute) -> Route:
    family, dst, dst_len, gw, oif, table, proto, scope, type_, prio, src, _ = (
        raw
    )
    return Route(
        f"{_ip(family, dst)}/{dst_len}" if dst_len else "default",
        family,
        None if gw is None else _ip(family, gw),
        oif or None,
        table,
        proto,
        scope,
        type_,
        prio,
        None if src is None else _ip(family, src),
    )


# -- input checks (ValueError before any syscall) -----------------------------


# Bytes dev_valid_name refuses in an interface name (and NUL).
_IFNAME_BAD = b"/: \t\n\v\f\r\0"


def check_ifname(name: str) -> bytes:
    """An interface name as the kernel takes it (dev_valid_name): 1 to 15
    bytes, not "." or "..", no "/", ":", whitespace or NUL."""
    if not isinstance(name, str):
        raise TypeError(f"an interface name is a str, not {name!r}")
    raw = name.encode()
    if not raw or len(raw) >= IFNAMSIZ:
        raise ValueError(
            f"invalid interface name {name!r}: 1 to {IFNAMSIZ - 1} bytes"
        )
    if raw in (b".", b"..") or len(raw.translate(None, _IFNAME_BAD)) != len(
        raw
    ):
        raise ValueError(
            f"invalid interface name {name!r}: no '/', ':', whitespace, "
            "'.' or '..'"
        )
    return raw


def _pton(text: str, what: str) -> tuple[int, bytes]:
    """(family, packed) of an IPv4 or IPv6 address in text."""
    family = AF_INET6 if ":" in text else AF_INET
    try:
        return family, _socket.inet_pton(family, text)
    except (OSError, ValueError):
        raise ValueError(f"invalid {what} {text!r}") from None


def _prefixed(value: object, what: str) -> tuple[int, bytes, int, str]:
    """(family, packed address, prefix length, text) of "ADDR/LEN" (or a
    bare address: the full length), an ipaddress object, for what."""
    if not isinstance(value, str):
        if type(value).__module__ != "ipaddress":
            raise TypeError(
                f"{what} is a str like '10.0.0.1/24', not {value!r}"
            )
        value = str(value)
    addr, slash, length = value.partition("/")
    family, packed = _pton(addr, what)
    bits = len(packed) * 8
    if not slash:
        return family, packed, bits, value
    if not length.isdigit() or not 0 <= int(length) <= bits:
        raise ValueError(
            f"invalid {what} {value!r}: the prefix is 0 to {bits}"
        )
    return family, packed, int(length), value


def _interface(value: AddressLike) -> tuple[int, bytes, int, str]:
    """An address of a link: (family, packed, prefix length, text)."""
    return _prefixed(value, "address")


def _network(
    value: NetworkLike, via: Optional[str]
) -> tuple[int, bytes, int, str]:
    """A route's destination: (family, packed network, prefix length,
    text); "default" takes the family of via."""
    if value == "default":
        if via is None:
            raise ValueError(
                "a default route needs via=, or say 0.0.0.0/0 or ::/0"
            )
        value = "::/0" if ":" in via else "0.0.0.0/0"
    family, packed, length, text = _prefixed(value, "route destination")
    bits = len(packed) * 8
    host = int.from_bytes(packed, "big") & ((1 << (bits - length)) - 1)
    if host:
        raise ValueError(
            f"invalid route destination {text!r}: host bits are set"
        )
    return family, packed, length, text


def _host(value: str, family: int, what: str) -> bytes:
    """A gateway or source address of a route of family."""
    if not isinstance(value, str):
        raise TypeError(f"a {what} is a str, not {value!r}")
    got, packed = _pton(value, what)
    if got != family:
        raise ValueError(f"{what} {value!r} is not of the route's family")
    return packed


def check_mtu(mtu: Optional[int], kind: str = "") -> int:
    """An MTU (0 for None). veth, bridge and dummy links are Ethernet-like
    and take 68 to 65535; any link takes at most 2**31 - 1."""
    if mtu is None:
        return 0
    if isinstance(mtu, bool) or not isinstance(mtu, int):
        raise TypeError(f"an MTU is an int, not {mtu!r}")
    low, high = _ETH_MTU if kind else (1, 2**31 - 1)
    if not low <= mtu <= high:
        raise ValueError(
            f"invalid MTU {mtu}"
            + (f" for a {kind}: {low} to {high}" if kind else "")
        )
    return mtu


def check_mac(mac: Optional[str]) -> bytes:
    """A unicast Ethernet address "aa:bb:cc:dd:ee:ff" (not all zero, not
    multicast: the kernel refuses both)."""
    if mac is None:
        return b""
    if not isinstance(mac, str):
        raise TypeError(f"a MAC address is a str, not {mac!r}")
    parts = mac.split(":")
    try:
        raw = bytes(int(p, 16) for p in parts)
    except ValueError:
        raw = b""
    if len(parts) != 6 or len(raw) != 6 or any(len(p) != 2 for p in parts):
        raise ValueError(f"invalid MAC address {mac!r}: aa:bb:cc:dd:ee:ff")
    if raw[0] & 1 or raw == bytes(6):
        raise ValueError(f"invalid MAC address {mac!r}: multicast or all zero")
    return raw


def sysctl_path(key: str) -> str:
    """The path under /proc/sys of a network sysctl: "net.ipv4.ip_forward"
    (dots, as sysctl(8)) or "net/ipv4/conf/eth0.100/forwarding" (a path,
    for names with dots). Only "net" keys: the others are not per
    namespace, and writing them would change the host's."""
    if not isinstance(key, str):
        raise TypeError(f"a sysctl key is a str, not {key!r}")
    parts = key.split("/") if "/" in key else key.split(".")
    if (
        len(parts) < 2
        or parts[0] != _SYSCTL_ROOT
        or any(p in ("", ".", "..") or "\0" in p for p in parts)
    ):
        raise ValueError(
            f"invalid sysctl {key!r}: a key under net (net.ipv4.ip_forward "
            "or net/ipv4/conf/NAME/forwarding)"
        )
    return "/".join(parts)


def _sysctl_value(value: Union[str, int, bool]) -> bytes:
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, (str, int)):
        raise TypeError(f"a sysctl value is a str or an int, not {value!r}")
    raw = str(value).encode()
    if b"\0" in raw:
        raise ValueError("a sysctl value cannot hold a NUL byte")
    return raw


def _timeout_ms(timeout: float) -> int:
    if timeout < 0:
        raise ValueError(f"invalid timeout {timeout}")
    return min(int(timeout * 1000), 2**31 - 1)


# -- endpoints and plans ------------------------------------------------------


class Socket:
    """The rtnetlink socket a handle keeps for its namespace, made on the
    first wiring call, and the lock that gives it to one thread at a
    time. After a fork the child makes its own (the parent's stays the
    parent's)."""

    __slots__ = ("_pid", "lock", "sock")

    def __init__(self, fd: int = -1) -> None:
        self.sock = _sys.WireSocket(fd)
        self.lock = threading.Lock()
        self._pid = own_pid()

    def close(self) -> None:
        """Close the socket (idempotent; waits for a call using it)."""
        with self.lock:
            self.sock.close()

    def fresh(self) -> None:
        """In a forked child: drop the copy of the parent's socket."""
        if self._pid != own_pid():
            self.lock = threading.Lock()
            self._pid = own_pid()
            self.sock.close()
            self.sock.seq = 0


class Endpoint:
    """A namespace to wire: its fd (-1: the calling thread's own), its
    kept socket, and the path its errors name (``where``: the path, or
    what makes it when an error needs it)."""

    __slots__ = ("fd", "socket", "where")

    def __init__(
        self, fd: int, socket: Socket, where: Union[str, Callable[[], str]]
    ) -> None:
        self.fd = fd
        self.socket = socket
        self.where = where

    @property
    def path(self) -> str:
        """The path errors name."""
        where = self.where
        return where if isinstance(where, str) else where()


def own_endpoint() -> Endpoint:
    """The calling thread's own namespace, with a socket of its own for
    one call (close it with :func:`close_endpoint`)."""
    return Endpoint(-1, Socket(), _sys.THREAD_NS_NET)


def close_endpoint(ep: Endpoint) -> None:
    """Close the socket of an endpoint made for one call."""
    ep.socket.close()


@contextlib.contextmanager
def _holding(eps: Iterable[Endpoint]) -> Iterator[None]:
    """Hold the endpoints' sockets (each once) for a call: their locks
    taken in one order for every thread (by socket identity), so calls
    that share namespaces never deadlock."""
    socks = sorted({id(ep.socket): ep.socket for ep in eps}.items())
    locks = [s.lock for _, s in socks]  # fresh() may replace a lock
    for lock in locks:
        lock.acquire()
    try:
        yield
    finally:
        for lock in reversed(locks):
            lock.release()


def _wire_ns(ep: Endpoint) -> _sys.WireNs:
    """An endpoint as a plan's namespace (its socket renewed after a
    fork); hold it (_holding) while the call runs."""
    ep.socket.fresh()
    return _sys.WireNs(ep.fd, ep.socket.sock, ep.where)


class PlanResult:
    """What :meth:`Plan.run` did: per request, the link index, the veth
    peer's index, the record read and the sysctl value read; and how many
    datagrams went out."""

    __slots__ = ("_raw",)

    def __init__(self, raw: _sys.WireResult) -> None:
        self._raw = raw

    def index(self, request: int) -> int:
        """The link index of a request (0: not known)."""
        return self._raw.indexes[request]

    def peer_index(self, request: int) -> int:
        """A veth request's peer index."""
        return self._raw.peer_indexes[request]

    def link(self, request: int) -> Link:
        """The record a link_get or wait_up request read."""
        raw = self._raw.links[request]
        if raw is None:
            raise LookupError(f"request {request} read no link")
        return _link(raw)

    def value(self, request: int) -> str:
        """The value a sysctl request read (without its newline)."""
        raw = self._raw.values[request]
        if raw is None:
            raise LookupError(f"request {request} read no value")
        return raw.decode("utf-8", "replace").rstrip("\n")

    @property
    def sends(self) -> int:
        """Datagrams of requests sent."""
        return self._raw.sends


class Plan:
    """Wiring requests over endpoints, sent by :meth:`run` in one C call.

    Requests take effect in order, as if sent one by one. Each method
    returns the request's number, for :class:`PlanResult`. Names, CIDRs,
    MTUs, MACs and sysctl keys are checked as they are added (ValueError).
    """

    __slots__ = ("_eps", "_index", "_reqs", "failed", "undone")

    def __init__(self) -> None:
        self._eps: list[Endpoint] = []
        self._index: dict[int, int] = {}
        self._reqs: list[_sys.WireReq] = []
        self.failed = -1
        """After a failed run: the number of the request that failed (-1
        when the plan as a whole did, e.g. making a socket)."""
        self.undone = False
        """After a failed run: what the plan had made was removed."""

    def __len__(self) -> int:
        return len(self._reqs)

    def _ns(self, ep: Endpoint) -> int:
        key = id(ep.socket)
        i = self._index.get(key)
        if i is None:
            i = self._index[key] = len(self._eps)
            self._eps.append(ep)
        return i

    def _add(self, req: _sys.WireReq) -> int:
        self._reqs.append(req)
        return len(self._reqs) - 1

    def template(self, eps: Sequence[Endpoint]) -> list[_sys.WireReq]:
        """Copies of the requests with their namespaces numbered by
        position in ``eps`` (which holds every endpoint the plan uses):
        what C runs again over other namespaces of the same shape (a
        pool's pre-wired topologies, netns_fast._topology)."""
        where = {id(ep.socket): i for i, ep in enumerate(eps)}
        order = [where[id(ep.socket)] for ep in self._eps]
        out = []
        for req in self._reqs:
            dup = copy.copy(req)
            dup.ns = order[req.ns]
            if req.peer_ns >= 0:
                dup.peer_ns = order[req.peer_ns]
            out.append(dup)
        return out

    def _link_req(self, kind: int, ep: Endpoint, name: str) -> _sys.WireReq:
        return _sys.WireReq(kind, self._ns(ep), check_ifname(name), name)

    # -- links --

    def veth(
        self,
        ep: Endpoint,
        name: str,
        peer: Endpoint,
        peer_name: str,
        *,
        up: bool = True,
        mtu: Optional[int] = None,
        mac: Optional[str] = None,
        peer_mac: Optional[str] = None,
        master: Optional[str] = None,
    ) -> int:
        """A veth pair: ``name`` in ep, ``peer_name`` in peer (one
        RTM_NEWLINK; both ends up unless up=False; mtu on both ends)."""
        q = self._link_req(_sys.WIRE_VETH, ep, name)
        q.peer_ns = self._ns(peer)
        q.peer_name = check_ifname(peer_name)
        q.up = int(bool(up))
        q.mtu = check_mtu(mtu, "veth")
        q.mac = check_mac(mac)
        q.peer_mac = check_mac(peer_mac)
        q.master = None if master is None else check_ifname(master)
        return self._add(q)

    def device(
        self,
        ep: Endpoint,
        kind: str,
        name: str,
        *,
        up: bool = True,
        mtu: Optional[int] = None,
        mac: Optional[str] = None,
        master: Optional[str] = None,
    ) -> int:
        """A "bridge" or a "dummy" device (a dummy needs the kernel's
        dummy driver)."""
        if kind not in _DEVICES:
            raise ValueError(f"a device is a bridge or a dummy, not {kind!r}")
        q = self._link_req(_DEVICES[kind], ep, name)
        q.up = int(bool(up))
        q.mtu = check_mtu(mtu, kind)
        q.mac = check_mac(mac)
        q.master = None if master is None else check_ifname(master)
        return self._add(q)

    def link_set(
        self,
        ep: Endpoint,
        name: str,
        *,
        up: Optional[bool] = None,
        mtu: Optional[int] = None,
        mac: Optional[str] = None,
        master: Optional[str] = None,
    ) -> int:
        """Change a link: up/down, MTU, MAC, master (a bridge's name, ""
        for none); None leaves a field as it is."""
        q = self._link_req(_sys.WIRE_LINK_SET, ep, name)
        q.up = -1 if up is None else int(bool(up))
        q.mtu = check_mtu(mtu)
        q.mac = check_mac(mac)
        if master is not None:
            q.master = check_ifname(master) if master else b""
        return self._add(q)

    def link_rename(self, ep: Endpoint, name: str, new_name: str) -> int:
        """Rename a link."""
        q = self._link_req(_sys.WIRE_LINK_RENAME, ep, name)
        q.peer_name = check_ifname(new_name)
        return self._add(q)

    def link_move(
        self,
        ep: Endpoint,
        name: str,
        target: Endpoint,
        new_name: Optional[str] = None,
    ) -> int:
        """Move a link into another namespace (as new_name if given)."""
        q = self._link_req(_sys.WIRE_LINK_MOVE, ep, name)
        q.peer_ns = self._ns(target)
        q.peer_name = None if new_name is None else check_ifname(new_name)
        return self._add(q)

    def link_delete(self, ep: Endpoint, name: str) -> int:
        """Delete a link (a veth: both ends)."""
        return self._add(self._link_req(_sys.WIRE_LINK_DEL, ep, name))

    def link_get(self, ep: Endpoint, name: str) -> int:
        """Read a link (PlanResult.link)."""
        q = self._link_req(_sys.WIRE_LINK_GET, ep, name)
        q.read = True
        return self._add(q)

    def wait_up(self, ep: Endpoint, name: str, timeout: float) -> int:
        """Wait until a link is up (IFF_UP, carrier, operstate up or
        unknown), at most timeout seconds; PlanResult.link reads it."""
        q = self._link_req(_sys.WIRE_WAIT_UP, ep, name)
        q.timeout_ms = _timeout_ms(timeout)
        q.read = True
        return self._add(q)

    # -- addresses and routes --

    def _addr(
        self, kind: int, ep: Endpoint, link: str, cidr: AddressLike
    ) -> _sys.WireReq:
        family, packed, prefix, text = _interface(cidr)
        q = _sys.WireReq(kind, self._ns(ep), check_ifname(link), text)
        q.family = family
        q.addr = packed
        q.prefix = prefix
        return q

    def addr_add(
        self, ep: Endpoint, link: str, cidr: AddressLike, *, nodad: bool = True
    ) -> int:
        """Add an address to a link; IPv6 without duplicate address
        detection unless nodad=False (no tentative wait)."""
        q = self._addr(_sys.WIRE_ADDR_ADD, ep, link, cidr)
        if nodad and q.family == AF_INET6:
            q.flags = _IFA_F_NODAD
        return self._add(q)

    def addr_del(self, ep: Endpoint, link: str, cidr: AddressLike) -> int:
        """Remove an address from a link."""
        return self._add(self._addr(_sys.WIRE_ADDR_DEL, ep, link, cidr))

    def route(
        self,
        ep: Endpoint,
        dst: NetworkLike,
        *,
        delete: bool = False,
        via: Optional[str] = None,
        dev: Optional[str] = None,
        metric: Optional[int] = None,
        src: Optional[str] = None,
        table: Optional[int] = None,
    ) -> int:
        """Add a route (or remove it: delete=True, the fields given must
        match): "default" or a prefix, via a gateway and/or out of a
        device, as ip route add (protocol boot; scope link for an IPv4
        route through a device only; the main table unless table)."""
        family, packed, prefix, text = _network(dst, via)
        if via is None and dev is None:
            raise ValueError("a route needs via= (a gateway) or dev=")
        what = (
            text
            + ("" if via is None else f" via {via}")
            + ("" if dev is None else f" dev {dev}")
        )
        q = _sys.WireReq(
            _sys.WIRE_ROUTE_DEL if delete else _sys.WIRE_ROUTE_ADD,
            self._ns(ep),
            None if dev is None else check_ifname(dev),
            what,
        )
        q.family = family
        q.addr = packed
        q.prefix = prefix
        if via is not None:
            q.gateway = _host(via, family, "gateway")
        if src is not None:
            q.src = _host(src, family, "source address")
        for field, value in (("metric", metric), ("table", table)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError(f"a route {field} is an int")
                if not 0 <= value < 2**32:
                    raise ValueError(f"invalid route {field} {value}")
                setattr(q, field, value)
        return self._add(q)

    # -- sysctls --

    def sysctl(
        self,
        ep: Endpoint,
        key: str,
        value: Optional[Union[str, int, bool]] = None,
    ) -> int:
        """Read a network sysctl inside ep, writing value first when
        given (PlanResult.value reads it back)."""
        path = sysctl_path(key)
        q = _sys.WireReq(
            _sys.WIRE_SYSCTL, self._ns(ep), path.encode(), "/proc/sys/" + path
        )
        q.value = None if value is None else _sysctl_value(value)
        q.read = True
        return self._add(q)

    # -- running --

    def _wire_ns(self) -> list[_sys.WireNs]:
        return [_wire_ns(ep) for ep in self._eps]

    def run(self, *, keep: bool = False) -> PlanResult:
        """Send every request (one C call, the GIL released).

        On failure, what the plan made is removed again (unless
        ``keep``), ``failed`` and ``undone`` are set, and the failing
        request's error is raised.
        """
        with _holding(self._eps):
            raw = _sys.wire_run(
                self._wire_ns(), self._reqs, _sys.WIRE_KEEP if keep else 0
            )
        return self._outcome(raw)

    def _outcome(self, raw: _sys.WireResult) -> PlanResult:
        self.failed = raw.failed
        self.undone = raw.undone
        if raw.error is not None:
            raise raw.error
        return PlanResult(raw)


def run_many(
    plans: Sequence[Plan], *, threads: int = 0, keep: bool = False
) -> list[Optional[Exception]]:
    """Run independent plans (no namespace in two of them) on C threads
    (0: one per CPU); one error (or None) per plan, in order."""
    # The same lock order as Plan.run (by socket), or the two could
    # deadlock on shared namespaces.
    with _holding(ep for p in plans for ep in p._eps):
        raws = _sys.wire_run_many(
            [
                (p._wire_ns(), p._reqs, _sys.WIRE_KEEP if keep else 0)
                for p in plans
            ],
            threads,
        )
    errors: list[Optional[Exception]] = []
    for plan, raw in zip(plans, raws):
        try:
            plan._outcome(raw)
        except OSError as exc:
            errors.append(exc)
        else:
            errors.append(None)
    return errors


# -- the handle methods' work -------------------------------------------------


def veth(
    ep: Endpoint,
    peer: Endpoint,
    name: str,
    peer_name: str,
    *,
    addrs: Optional[tuple[AddressLike, AddressLike]],
    mtu: Optional[int],
    mac: Optional[str],
    peer_mac: Optional[str],
    up: bool,
) -> tuple[Link, Link]:
    """A veth pair with an address on each end, both records read: the
    plan of Plan.veth, then addr_add and link_get per end (the peer's
    first), in one C call (nsf_wire_pair)."""
    raw, peer_raw = check_ifname(name), check_ifname(peer_name)
    mtu_ = check_mtu(mtu, "veth")
    end: _sys.WireEnd = (raw, check_mac(mac), None)
    other: _sys.WireEnd = (peer_raw, check_mac(peer_mac), None)
    if addrs is not None:
        if len(addrs) != 2:
            raise ValueError("addrs= is a pair: (this end's, the peer's)")
        end = (raw, end[1], _end_addr(addrs[0]))
        other = (peer_raw, other[1], _end_addr(addrs[1]))
    with _holding((ep, peer)):
        a = _wire_ns(ep)
        b = a if peer.socket is ep.socket else _wire_ns(peer)
        got, got_peer = _sys.wire_pair(
            a, b, end, other, up=1 if up else 0, mtu=mtu_
        )
    return _link(got), _link(got_peer)


def _end_addr(cidr: AddressLike) -> tuple[int, bytes, int, int, str]:
    """An address of a veth end (IPv6 without DAD, as addr_add)."""
    family, packed, prefix, text = _interface(cidr)
    flags = _IFA_F_NODAD if family == AF_INET6 else 0
    return family, packed, prefix, flags, text


def device(
    ep: Endpoint,
    kind: str,
    name: str,
    *,
    ports: Iterable[str] = (),
    addrs: Iterable[AddressLike] = (),
    mtu: Optional[int],
    mac: Optional[str],
    up: bool,
) -> Link:
    """A bridge (with its ports) or a dummy, its addresses, read back."""
    plan = Plan()
    plan.device(ep, kind, name, up=up, mtu=mtu, mac=mac)
    for port in ports:
        plan.link_set(ep, port, master=name)
    for cidr in addrs:
        plan.addr_add(ep, name, cidr)
    got = plan.link_get(ep, name)
    return plan.run().link(got)


def one(build: Callable[[Plan], object]) -> None:
    """Run a plan that build(plan) fills (a request or two)."""
    plan = Plan()
    build(plan)
    plan.run()


def read_link(ep: Endpoint, name: str) -> Link:
    """One link, by name (ENODEV when there is none)."""
    plan = Plan()
    got = plan.link_get(ep, name)
    return plan.run().link(got)


def wait_link(ep: Endpoint, name: str, timeout: float) -> Link:
    """Wait until a link is up; its record (NetnsTimeoutError, a
    TimeoutError, when it is not up in time)."""
    plan = Plan()
    got = plan.wait_up(ep, name, timeout)
    return plan.run().link(got)


def sysctl(
    ep: Endpoint, key: str, value: Optional[Union[str, int, bool]]
) -> str:
    """Read (and first write, when value is given) a network sysctl."""
    plan = Plan()
    got = plan.sysctl(ep, key, value)
    return plan.run().value(got)


def links(ep: Endpoint) -> list[Link]:
    """Every link of the namespace, by index."""
    with ep.socket.lock:
        raw = _sys.wire_links(_wire_ns(ep))
    return [_link(r) for r in raw]


def addrs(
    ep: Endpoint, link: Optional[str] = None, family: Optional[int] = None
) -> list[Address]:
    """The addresses of the namespace (of one link when given)."""
    index = read_link(ep, link).ifindex if link is not None else None
    with ep.socket.lock:
        raw = _sys.wire_addrs(_wire_ns(ep), family or 0)
    return [_address(r) for r in raw if index is None or r[3] == index]


def routes(
    ep: Endpoint,
    family: Optional[int] = None,
    table: Optional[int] = TABLE_MAIN,
) -> list[Route]:
    """The routes of the namespace: of the main table by default (as ip
    route show), of one table, or of all (table=None)."""
    with ep.socket.lock:
        raw = _sys.wire_routes(_wire_ns(ep), family or 0)
    return [_route(r) for r in raw if table is None or r[5] == table]
