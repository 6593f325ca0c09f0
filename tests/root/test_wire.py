"""Wiring against the kernel (needs root): veth pairs, bridges, addresses,
routes, sysctls, waits and read-back on anonymous, named and the caller's
own namespaces; every kernel refusal and a failure half-way leave nothing
behind; no fd, thread or link leaks; 16 threads at once; plans on C
threads; pyroute2 on a handle.

Interfaces are made only inside namespaces the tests make. A test of "the
caller's own namespace" runs in a thread that entered such a namespace, or
in a child under ``unshare -n``: never in the pytest process's own, which
is the host's (which every test checks is left as it was)."""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Iterator
from typing import Callable

import pytest

import netns_fast
from netns_fast import Netns, enter
from support.kernel import (
    RUN_DIR,
    fd_count,
    in_thread,
    run_threads,
    thread_netns,
)
from support.net import ping, state
from support.private import wire
from support.tools import run_python

pytestmark = pytest.mark.root

IFA_F_NODAD = 0x02
IFA_F_TENTATIVE = 0x40


@pytest.fixture
def pair(host_links: None) -> Iterator[tuple[Netns, Netns]]:
    """Two fresh anonymous namespaces, closed afterwards."""
    a, b = Netns.new(), Netns.new()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


@pytest.fixture
def wired(pair: tuple[Netns, Netns]) -> tuple[Netns, Netns]:
    """The pair with a veth eth0 - eth0, 10.0.0.1/24 and 10.0.0.2/24."""
    a, b = pair
    a.veth(b, "eth0", "eth0", addrs=("10.0.0.1/24", "10.0.0.2/24"))
    return a, b


def _names(ns: Netns) -> list[str]:
    return [link.name for link in ns.links()]


# -- veth pairs ---------------------------------------------------------------


def test_veth_pair_wires_two_namespaces(pair: tuple[Netns, Netns]) -> None:
    """a.veth(b, ...) makes both ends in place, up with a carrier, with
    their addresses and subnet routes; the records name each other; a
    ping goes both ways; the caller's namespace gets nothing."""
    a, b = pair
    la, lb = a.veth(b, "eth0", "eth1", addrs=("10.0.0.1/24", "10.0.0.2/24"))
    assert (la.name, lb.name, la.kind, lb.kind) == (
        "eth0",
        "eth1",
        "veth",
        "veth",
    )
    assert (la.up, lb.up, la.lower_up, lb.lower_up) == (True,) * 4
    assert (la.peer_ifindex, lb.peer_ifindex) == (lb.ifindex, la.ifindex)
    assert la.peer_netnsid is not None
    assert a.link("eth0") == a.links()[1]
    assert _names(a) == ["lo", "eth0"]
    assert _names(b) == ["lo", "eth1"]
    assert [x.cidr for x in a.addrs("eth0", family=socket.AF_INET)] == [
        "10.0.0.1/24"
    ]
    assert ("10.0.0.0/24", "", "eth1") in state(b).routes
    assert ping(a, "10.0.0.2")
    assert ping(b, "10.0.0.1")


def test_veth_options(pair: tuple[Netns, Netns]) -> None:
    """mtu applies to both ends, mac and peer_mac are kept, up=False
    leaves both ends down."""
    a, b = pair
    la, lb = a.veth(
        b,
        "v0",
        "v1",
        mtu=1280,
        mac="02:00:00:00:10:01",
        peer_mac="02:00:00:00:10:02",
        up=False,
    )
    assert (la.mtu, lb.mtu) == (1280, 1280)
    assert (la.mac, lb.mac) == ("02:00:00:00:10:01", "02:00:00:00:10:02")
    assert not la.up
    assert not lb.up
    assert not a.link("v0").lower_up


def test_veth_in_one_namespace(pair: tuple[Netns, Netns]) -> None:
    """Both ends in the same namespace (peer is the handle itself)."""
    a, _ = pair
    la, lb = a.veth(a, "x0", "x1", addrs=("10.5.0.1/30", "10.5.0.2/30"))
    assert sorted(_names(a)) == ["lo", "x0", "x1"]
    assert (la.up, lb.up, lb.lower_up) == (True,) * 3


def test_veth_to_a_named_namespace_by_handle_name_and_fd(
    pair: tuple[Netns, Netns], fresh_name: str
) -> None:
    """The peer may be a named handle, a name in the run directory, or
    an fd; the name is then usable by ip (ip -n NAME sees the link)."""
    a, _ = pair
    with Netns.create(fresh_name) as named:
        a.veth(named, "n0", "n0")
        a.veth(fresh_name, "n1", "n1")
        a.veth(named.fileno(), "n2", "n2")
        assert _names(named) == ["lo", "n0", "n1", "n2"]
        assert all(link.up for link in named.links())


def test_callers_own_namespace_from_a_thread(
    pair: tuple[Netns, Netns], host_links: None
) -> None:
    """peer=None is the calling thread's namespace: from a thread that
    entered a namespace the test made, the peer lands there; the thread
    is back in it afterwards, and Netns.current() wires it too."""
    a, own = pair

    def body() -> None:
        inside = thread_netns()
        with enter(own):
            _, lb = a.veth(
                None, "o0", "o1", addrs=("10.6.0.1/24", "10.6.0.2/24")
            )
            me = Netns.current()
            try:
                me.bridge("brc")
                assert me.link("o1").ifindex == lb.ifindex
                assert ping(me, "10.6.0.1")
            finally:
                me.close()
        assert thread_netns() == inside

    in_thread(body)
    assert _names(own) == ["lo", "o1", "brc"]


def test_callers_own_namespace_under_unshare() -> None:
    """A process under unshare -n wires its own namespace with
    Netns.current() and peer=None."""
    code = """
import netns_fast
from netns_fast import Netns
me = Netns.current()
other = Netns.new()
other.veth(None, "e0", "e1", addrs=("10.7.0.1/24", "10.7.0.2/24"))
me.bridge("br0", ports=("e1",))
import json
print(json.dumps([sorted(l.name for l in me.links()),
                  me.link("e1").master == me.link("br0").ifindex]))
"""
    assert run_python(code, prefix=["unshare", "-n"]) == [
        ["br0", "e1", "lo"],
        True,
    ]


# -- addresses, routes --------------------------------------------------------


def test_ipv6_without_and_with_dad(wired: tuple[Netns, Netns]) -> None:
    """IPv6 addresses skip DAD by default (NODAD, never tentative: a ping
    works at once); nodad=False leaves the kernel's DAD (tentative)."""
    a, b = wired
    a.addr_add("eth0", "fd00::1/64")
    b.addr_add("eth0", "fd00::2/64")
    (got,) = [x for x in a.addrs("eth0") if x.address == "fd00::1"]
    assert got.flags & IFA_F_NODAD
    assert not got.flags & IFA_F_TENTATIVE
    assert ping(a, "fd00::2")
    b.addr_add("eth0", "fd00::3/64", nodad=False)
    (slow,) = [x for x in b.addrs("eth0") if x.address == "fd00::3"]
    assert slow.flags & IFA_F_TENTATIVE
    b.addr_del("eth0", "fd00::3/64")
    assert "fd00::3/64" not in [x.cidr for x in b.addrs()]


def test_routes_v4_v6_and_a_forwarding_hop(
    pair: tuple[Netns, Netns],
) -> None:
    """Routes: default via a gateway, a prefix via a device and via a
    gateway, IPv4 and IPv6, with a metric; a ping crosses a forwarding
    namespace at once (its links' link-local addresses skip DAD:
    accept_dad=0 before they exist); route_del removes them."""
    a, c = pair
    with Netns.new() as b:
        b.sysctl("net.ipv6.conf.default.accept_dad", 0)
        a.veth(b, "eth0", "eth0", addrs=("10.0.0.1/24", "10.0.0.2/24"))
        b.veth(c, "eth1", "eth0", addrs=("10.1.0.1/24", "10.1.0.2/24"))
        for ns, link, addr in (
            (a, "eth0", "fd00::1/64"),
            (b, "eth0", "fd00::2/64"),
            (b, "eth1", "fd01::1/64"),
            (c, "eth0", "fd01::2/64"),
        ):
            ns.addr_add(link, addr)
        a.route_add("default", via="10.0.0.2")
        a.route_add("default", via="fd00::2")
        c.route_add("10.0.0.0/24", via="10.1.0.1", metric=7)
        c.route_add("fd00::/64", via="fd01::1")
        b.sysctl("net.ipv4.ip_forward", 1)
        b.sysctl("net.ipv6.conf.all.forwarding", 1)
        assert ping(a, "10.1.0.2")
        assert ping(a, "fd01::2")
        routes = {(r.dst, r.gateway, r.metric) for r in c.routes()}
        assert ("10.0.0.0/24", "10.1.0.1", 7) in routes
        a.route_add("10.9.0.0/24", dev="eth0")
        (dev_route,) = [r for r in a.routes() if r.dst == "10.9.0.0/24"]
        assert (dev_route.gateway, dev_route.scope) == (None, 253)  # link
        assert dev_route.oif == a.link("eth0").ifindex
        c.route_del("10.0.0.0/24", via="10.1.0.1")
        a.route_del("default", via="fd00::2")
        assert not ping(a, "10.1.0.2", timeout=0.3)
        assert "10.0.0.0/24" not in [r.dst for r in c.routes()]
        v6 = [r.dst for r in a.routes(family=socket.AF_INET6)]
        assert "default" not in v6
        assert "default" in [r.dst for r in a.routes(family=socket.AF_INET)]


def test_routes_of_every_table(wired: tuple[Netns, Netns]) -> None:
    """routes() is the main table (as ip route show); table=None gives
    every table (local routes too); a route in another table."""
    a, _ = wired
    a.route_add("10.3.0.0/16", via="10.0.0.2", table=100)
    assert "10.3.0.0/16" not in [r.dst for r in a.routes()]
    assert [r.dst for r in a.routes(table=100)] == ["10.3.0.0/16"]
    assert {r.table for r in a.routes(table=None)} >= {100, 254, 255}


# -- bridges, dummies, link changes -------------------------------------------


def test_bridge_with_ports(host_links: None) -> None:
    """A bridge with veth ports to two hosts: ports have it as master,
    the hosts ping each other across it; detach takes a port out."""
    with Netns.new() as sw, Netns.new() as h1, Netns.new() as h2:
        h1.veth(sw, "eth0", "p1")
        h2.veth(sw, "eth0", "p2")
        h1.addr_add("eth0", "10.2.0.1/24")
        h2.addr_add("eth0", "10.2.0.2/24")
        br = sw.bridge("br0", ports=("p1", "p2"))
        assert br.kind == "bridge"
        assert sw.link("p1").master == br.ifindex
        assert sw.link("p2").master == br.ifindex
        sw.wait_link("br0", 5)
        assert ping(h1, "10.2.0.2")
        sw.bridge_detach("p2")
        assert sw.link("p2").master is None
        assert not ping(h1, "10.2.0.2", timeout=0.3)
        sw.bridge_attach("p2", "br0")
        assert sw.link("p2").master == br.ifindex


def test_dummy(pair: tuple[Netns, Netns]) -> None:
    """A dummy device with an address (skipped, with the reason, on a
    kernel without the dummy driver)."""
    a, _ = pair
    try:
        d = a.dummy("d0", addrs=("10.4.0.1/24",), mtu=9000)
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            pytest.skip(
                f"this kernel has no dummy driver: {exc.strerror} "
                "(RTM_NEWLINK kind dummy)"
            )
        raise
    assert (d.kind, d.mtu, d.up) == ("dummy", 9000, True)
    assert "10.4.0.1/24" in [x.cidr for x in a.addrs("d0")]


def test_link_changes(wired: tuple[Netns, Netns]) -> None:
    """down/up, MTU, MAC, rename (down), move to another namespace with a
    new name (it arrives down), delete (both ends go)."""
    a, b = wired
    a.link_down("eth0")
    assert not a.link("eth0").up
    assert not b.link("eth0").lower_up
    a.link_set_mtu("eth0", 1400)
    a.link_set_mac("eth0", "02:00:00:00:20:01")
    a.link_rename("eth0", "uplink")
    a.link_up("uplink")
    got = a.link("uplink")
    assert (got.mtu, got.mac, got.up) == (1400, "02:00:00:00:20:01", True)
    with Netns.new() as c:
        b.link_move("eth0", c, "moved")
        assert _names(b) == ["lo"]
        assert not c.link("moved").up
        c.link_delete("moved")
        assert _names(c) == ["lo"]
    assert _names(a) == ["lo"]


def test_move_to_the_callers_namespace_from_a_thread(
    wired: tuple[Netns, Netns],
) -> None:
    """link_move(target=None) moves a link into the calling thread's
    namespace (a thread that entered one the test made)."""
    a, b = wired

    def body() -> None:
        with enter(b):
            a.link_move("eth0", None, "back")

    in_thread(body)
    assert _names(b) == ["lo", "eth0", "back"]


# -- sysctls and waits --------------------------------------------------------


def test_sysctls_are_per_namespace(wired: tuple[Netns, Netns]) -> None:
    """sysctl reads and writes inside the namespace only: the other one
    and the host keep theirs; per-link keys and the path form work."""
    a, b = wired
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        host = f.read()
    assert a.sysctl("net.ipv4.ip_forward") == "0"
    assert a.sysctl("net.ipv4.ip_forward", "1") == "1"
    assert b.sysctl("net.ipv4.ip_forward") == "0"
    assert a.sysctl("net/ipv4/conf/eth0/forwarding") == "1"
    assert b.sysctl("net.ipv6.conf.eth0.disable_ipv6", True) == "1"
    assert not [x for x in b.addrs("eth0") if x.family == socket.AF_INET6]
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == host


def test_wait_link(pair: tuple[Netns, Netns]) -> None:
    """wait_link returns the record once a link is up (carrier and
    operstate), times out while its peer is down, and fails for a link
    that is not there."""
    a, b = pair
    a.veth(b, "w0", "w1", up=False)
    a.link_up("w0")
    with pytest.raises(netns_fast.NetnsTimeoutError) as info:
        a.wait_link("w0", 0.2)
    assert (info.value.errno, info.value.step) == (
        errno.ETIMEDOUT,
        "wait_link",
    )
    threading.Timer(0.1, b.link_up, ("w1",)).start()
    up = a.wait_link("w0", 5)
    assert up.operstate == "UP"
    assert up.lower_up
    assert a.wait_link("lo", 1).operstate == "UNKNOWN"
    with pytest.raises(OSError, match="No such device") as gone:
        a.wait_link("nosuch", 1)
    assert gone.value.errno == errno.ENODEV


# -- refusals and failures half-way -------------------------------------------

REFUSALS: list[tuple[str, Callable[[Netns, Netns], object], type, int, str]]
REFUSALS = [
    (
        "taken name",
        lambda a, b: a.veth(b, "eth0", "new0"),
        FileExistsError,
        errno.EEXIST,
        "File exists",
    ),
    (
        "taken peer name",
        lambda a, b: a.veth(b, "new0", "eth0"),
        FileExistsError,
        errno.EEXIST,
        "File exists",
    ),
    (
        "address twice",
        lambda a, b: a.addr_add("eth0", "10.0.0.1/24"),
        FileExistsError,
        errno.EEXIST,
        "ipv4: Address already assigned",
    ),
    (
        "route twice",
        lambda a, b: a.route_add("10.0.0.0/24", dev="eth0"),
        FileExistsError,
        errno.EEXIST,
        "File exists",
    ),
    (
        "no such link",
        lambda a, b: a.link_up("nosuch"),
        OSError,
        errno.ENODEV,
        "No such device",
    ),
    (
        "no such link for an address",
        lambda a, b: a.addr_add("nosuch", "10.9.0.1/24"),
        OSError,
        errno.ENODEV,
        "No such device",
    ),
    (
        "MTU over the maximum",
        lambda a, b: a.link_set_mtu("eth0", 70000),
        OSError,
        errno.EINVAL,
        "mtu greater than device maximum",
    ),
    (
        "MTU under the minimum",
        lambda a, b: a.link_set_mtu("eth0", 60),
        OSError,
        errno.EINVAL,
        "mtu less than device minimum",
    ),
    (
        "no such address",
        lambda a, b: a.addr_del("eth0", "10.0.0.9/24"),
        OSError,
        errno.EADDRNOTAVAIL,
        "ipv4: Address not found",
    ),
    (
        "no such route",
        lambda a, b: a.route_del("10.8.0.0/16", dev="eth0"),
        ProcessLookupError,
        errno.ESRCH,
        "No such process",
    ),
    (
        "unreachable gateway",
        lambda a, b: a.route_add("10.8.0.0/16", via="192.0.2.1"),
        OSError,
        errno.ENETUNREACH,
        "Nexthop has invalid gateway",
    ),
    (
        "master that is no bridge",
        lambda a, b: a.bridge_attach("lo", "eth0"),
        OSError,
        errno.EOPNOTSUPP,
        "",
    ),
    (
        "no such sysctl",
        lambda a, b: a.sysctl("net.ipv4.nosuch"),
        FileNotFoundError,
        errno.ENOENT,
        "No such file or directory",
    ),
    (
        "bad sysctl value",
        lambda a, b: a.sysctl("net.ipv4.ip_forward", "x"),
        OSError,
        errno.EINVAL,
        "Invalid argument",
    ),
]


@pytest.mark.parametrize(
    ("call", "cls", "err", "text"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_kernel_refusals_leave_nothing(
    wired: tuple[Netns, Netns],
    call: Callable[[Netns, Netns], object],
    cls: type,
    err: int,
    text: str,
) -> None:
    """Each refusal raises its errno's class with the kernel's text (or
    strerror) and leaves both namespaces as they were."""
    a, b = wired
    before = (state(a), state(b))
    with pytest.raises(cls) as info:
        call(a, b)
    exc = info.value
    assert isinstance(exc, netns_fast.NetnsOSError)
    assert exc.errno == err
    if text:
        assert exc.strerror == text
    assert exc.filename in (a.path, b.path) or exc.filename.startswith(
        "/proc/sys/"
    )
    assert (state(a), state(b)) == before


def test_veth_failing_half_way_is_undone(wired: tuple[Netns, Netns]) -> None:
    """A veth whose peer address the kernel refuses (IPv6 disabled
    there) is removed again, from both namespaces."""
    a, b = wired
    b.sysctl("net.ipv6.conf.default.disable_ipv6", 1)
    before = (state(a), state(b))
    with pytest.raises(PermissionError) as info:
        a.veth(b, "v0", "v1", addrs=("fd02::1/64", "fd02::2/64"))
    assert info.value.step == "rtm_newaddr"
    assert (info.value.filename, info.value.filename2) == (
        b.path,
        "fd02::2/64",
    )
    assert (state(a), state(b)) == before


def test_bridge_failing_half_way_is_undone(wired: tuple[Netns, Netns]) -> None:
    """A bridge whose second port is missing: the bridge is removed and
    the first port is no one's port again."""
    a, _ = wired
    before = state(a)
    with pytest.raises(OSError, match="No such device"):
        a.bridge("br0", ports=("eth0", "nosuch"))
    assert state(a) == before
    assert a.link("eth0").master is None


def test_plan_failing_at_its_end_undoes_all(
    wired: tuple[Netns, Netns],
) -> None:
    """A plan of links, addresses and routes (on links made and on links
    that were there) that fails at its last request takes all of it
    back; with keep=True it stays."""
    a, b = wired
    before = (state(a), state(b))
    ea, eb = a._endpoint(), b._endpoint()

    def build() -> wire.Plan:
        plan = wire.Plan()
        plan.veth(ea, "v0", eb, "v1")
        plan.device(ea, "bridge", "br5")
        plan.addr_add(ea, "eth0", "10.11.0.1/24")
        plan.addr_add(eb, "v1", "10.12.0.1/24")
        plan.route(ea, "10.13.0.0/24", via="10.0.0.2")
        plan.route(eb, "10.14.0.0/24", dev="v1")
        plan.link_set(ea, "br5", mtu=1400)
        plan.addr_add(ea, "eth0", "10.0.0.1/24")  # there already: EEXIST
        return plan

    plan = build()
    with pytest.raises(FileExistsError):
        plan.run()
    assert (plan.failed, plan.undone) == (len(plan) - 1, True)
    assert (state(a), state(b)) == before
    kept = build()
    with pytest.raises(FileExistsError):
        kept.run(keep=True)
    assert not kept.undone
    assert "br5" in _names(a)


# -- leaks, threads -----------------------------------------------------------


def test_no_fd_or_thread_leaks() -> None:
    """Hundreds of wiring calls, failing and succeeding, on handles that
    make their socket inside and on ones that get it from a helper
    thread: fds and threads are as before; an anonymous handle holds
    two fds (the namespace and its socket), a named one gets its socket
    on first use."""
    tasks = len(os.listdir("/proc/self/task"))
    base = fd_count()
    a = Netns.new()
    assert fd_count() == base + 2
    opened = Netns.from_path(a.path)  # no socket until wired
    assert fd_count() == base + 3
    for i in range(60):
        a.veth(opened, f"v{i}", f"w{i}", up=False)
        a.link_up(f"v{i}")
        with pytest.raises(FileExistsError):
            opened.veth(a, f"w{i}", "x")
        opened.addr_add(f"w{i}", f"10.20.{i}.1/24")
        assert opened.sysctl(f"net.ipv4.conf.w{i}.forwarding") == "0"
        with pytest.raises(netns_fast.NetnsTimeoutError):
            a.wait_link(f"v{i}", 0)
        a.link_delete(f"v{i}")
    assert fd_count() == base + 4
    assert len(opened.links()) == 1
    opened.close()
    a.close()
    assert fd_count() == base
    assert len(os.listdir("/proc/self/task")) == tasks


def test_sixteen_threads_wire_at_once(host_links: None) -> None:
    """16 threads each wire and ping a pair of their own at once; each
    ends in its own namespace; nothing leaks."""
    base = fd_count()
    barrier = threading.Barrier(16)

    def body(k: int) -> None:
        home = thread_netns()
        with Netns.new() as a, Netns.new() as b:
            barrier.wait()
            a.veth(
                b, "eth0", "eth0", addrs=(f"10.30.{k}.1/24", f"10.30.{k}.2/24")
            )
            b.sysctl("net.ipv4.ip_forward", 1)
            b.route_add("10.99.0.0/16", via=f"10.30.{k}.1")
            b.wait_link("eth0", 5)
            assert ping(a, f"10.30.{k}.2")
        assert thread_netns() == home

    run_threads(body, 16, barrier=barrier)
    assert fd_count() == base


def test_threads_share_one_handle(wired: tuple[Netns, Netns]) -> None:
    """16 threads add addresses through one handle at once (its socket
    goes to one at a time): all 16 are there."""
    a, _ = wired
    run_threads(lambda k: a.addr_add("eth0", f"10.40.0.{k + 1}/32"), 16)
    got = {x.cidr for x in a.addrs("eth0")}
    assert {f"10.40.0.{k + 1}/32" for k in range(16)} <= got


def test_threads_wire_their_own_namespace(host_links: None) -> None:
    """16 threads, each inside a namespace it made, wire "the caller's
    own" (peer None) at once; each is back in its own afterwards."""
    base = fd_count()

    def body(k: int) -> None:
        home = thread_netns()
        with Netns.new() as own, Netns.new() as far:
            with enter(own):
                far.veth(
                    None,
                    "e0",
                    "e1",
                    addrs=(f"10.50.{k}.1/24", f"10.50.{k}.2/24"),
                )
                assert thread_netns() == own.inode
            assert _names(own) == ["lo", "e1"]
            assert ping(own, f"10.50.{k}.1")
        assert thread_netns() == home

    run_threads(body, 16)
    assert fd_count() == base


def test_plans_on_c_threads(host_links: None) -> None:
    """run_many wires independent pairs on C threads; a plan that fails
    does so alone (its own error, the others made)."""
    handles = [(Netns.new(), Netns.new()) for _ in range(12)]
    try:
        plans = []
        for k, (a, b) in enumerate(handles):
            plan = wire.Plan()
            ea, eb = a._endpoint(), b._endpoint()
            plan.veth(ea, "eth0", eb, "eth0")
            plan.addr_add(ea, "eth0", f"10.60.{k}.1/24")
            plan.addr_add(eb, "eth0", f"10.60.{k}.2/24")
            if k == 5:
                plan.link_set(eb, "nosuch", up=True)
            plans.append(plan)
        errors = wire.run_many(plans, threads=4)
        assert [e is None for e in errors] == [k != 5 for k in range(12)]
        assert isinstance(errors[5], OSError)
        assert errors[5].errno == errno.ENODEV
        assert _names(handles[5][0]) == ["lo"]
        for k, (a, _) in enumerate(handles):
            if k != 5:
                assert ping(a, f"10.60.{k}.2")
    finally:
        for a, b in handles:
            a.close()
            b.close()


def test_forked_child_wires_with_a_socket_of_its_own(
    wired: tuple[Netns, Netns],
) -> None:
    """A forked child wiring an inherited handle makes its own socket;
    the parent's keeps working."""
    a, _ = wired
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 1
        try:
            a.addr_add("eth0", "10.70.0.1/24")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "10.70.0.1/24" in [x.cidr for x in a.addrs("eth0")]
    a.addr_add("eth0", "10.70.0.2/24")


# -- pyroute2 on a handle -----------------------------------------------------


def test_pyroute2_iproute_on_a_handle(wired: tuple[Netns, Netns]) -> None:
    """The documented way: an IPRoute made inside enter(ns) acts in ns
    (its socket was made there) from anywhere, and leaves no thread."""
    pyroute2 = pytest.importorskip("pyroute2")
    a, _ = wired
    tasks = len(os.listdir("/proc/self/task"))
    with enter(a):
        ipr = pyroute2.IPRoute()
    try:
        assert [link.get("ifname") for link in ipr.get_links()] == [
            "lo",
            "eth0",
        ]
        (index,) = ipr.link_lookup(ifname="eth0")
        ipr.link("set", index=index, mtu=1300)
    finally:
        ipr.close()
    assert a.link("eth0").mtu == 1300
    assert len(os.listdir("/proc/self/task")) == tasks


def test_named_handle_is_seen_by_ip(fresh_name: str) -> None:
    """A named handle is wired through a socket made inside by a helper
    thread; ip -n NAME sees the result."""
    from support.tools import run_ip

    with Netns.create(fresh_name) as ns:
        ns.bridge("br0", addrs=("10.80.0.1/24",))
        res = run_ip(["-n", fresh_name, "-br", "addr", "show", "br0"])
        assert res.returncode == 0
        assert b"10.80.0.1/24" in res.stdout
    assert not os.path.exists(f"{RUN_DIR}/{fresh_name}")
