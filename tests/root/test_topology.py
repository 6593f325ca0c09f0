"""Topologies against the kernel (needs root): a build wires what it
declares (records, read-back, pings), its close leaves nothing, a build
failing half-way leaves nothing, 16 threads build at once and each ends
in its own namespace.

Interfaces are made only inside the namespaces the builds make; every
test checks that the pytest process's own namespace keeps its links."""

from __future__ import annotations

import errno
import os
import threading
from typing import Any

import pytest

from netns_fast import Netns, Network, Topology
from support.kernel import RUN_DIR, fd_count, run_threads, thread_netns
from support.net import ping, state

pytestmark = pytest.mark.root


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[Netns]:
    """Every handle Netns._held (behind Netns.new and the one-call build
    of anonymous nodes) and Netns.create make during the test."""
    handles: list[Netns] = []
    held, create = Netns._held.__func__, Netns.create.__func__  # type: ignore[attr-defined]

    def spy_held(cls: type[Netns], *args: int) -> Netns:
        ns: Netns = held(cls, *args)
        handles.append(ns)
        return ns

    def spy_create(cls: type[Netns], *args: object, **kw: object) -> Netns:
        ns: Netns = create(cls, *args, **kw)
        handles.append(ns)
        return ns

    monkeypatch.setattr(Netns, "_held", classmethod(spy_held))
    monkeypatch.setattr(Netns, "create", classmethod(spy_create))
    return handles


def pair() -> Topology:
    """Two nodes and a link with automatic addresses."""
    return Topology().node("a").node("b").link("a", "b")


def _addrs(ns: Netns, link: str) -> set[str]:
    return {a.cidr for a in ns.addrs(link) if not a.address.startswith("fe80")}


def test_pair_is_wired_and_close_leaves_nothing(
    host_links: None, made: list[Netns]
) -> None:
    """A pair's build makes both ends in place with the automatic /24s, up,
    with the records' indexes; a ping crosses it; close() closes every
    handle and every fd it held."""
    base = fd_count()
    net = pair().build()
    a, b = net["a"], net["b"]
    link = net.links["a-b"]
    assert (link.a.addrs, link.b.addrs) == (
        ("10.255.0.1/24",),
        ("10.255.0.2/24",),
    )
    assert {x.name: x.ifindex for x in a.links()}["eth0"] == link.a.ifindex
    assert {x.name: x.ifindex for x in b.links()}["eth0"] == link.b.ifindex
    assert _addrs(a, "eth0") == {"10.255.0.1/24"}
    assert _addrs(b, "eth0") == {"10.255.0.2/24"}
    assert all(x.up for x in a.links())
    b.wait_link("eth0", 5)
    assert ping(a, net.address("b:eth0"))
    assert sorted(made, key=id) == sorted(net.nodes.values(), key=id)
    net.close()
    assert all(ns.closed for ns in made)
    assert fd_count() == base


def test_star_on_a_bridge_with_routes_and_sysctls(host_links: None) -> None:
    """A bridge node with three hosts on veths: one segment of automatic
    addresses (the bridge first), ports attached, a route and a sysctl
    written; hosts ping each other across the bridge."""
    t = Topology().node("sw", sysctls={"net.ipv4.ip_forward": 1})
    t.bridge("sw", "br0")
    for k in range(3):
        t.node(f"h{k}").link(f"h{k}", "sw:br0")
    t.route("h0", "10.99.0.0/16", via="sw:br0")
    with t.build() as net:
        sw = net["sw"]
        ports = {x.name for x in sw.links() if x.master is not None}
        assert ports == {"eth0", "eth1", "eth2"}
        assert net.bridges["sw:br0"].addrs == ("10.255.0.1/24",)
        assert net.address("h2:eth0") == "10.255.0.4"
        assert sw.sysctl("net.ipv4.ip_forward") == "1"
        routes = {(r.dst, r.gateway) for r in net["h0"].routes()}
        assert ("10.99.0.0/16", "10.255.0.1") in routes
        net["h1"].wait_link("eth0", 5)
        assert ping(net["h0"], net.address("h1:eth0"))


def test_dict_form_builds_the_same_state(host_links: None) -> None:
    """Topology.from_dict(t.to_dict()) builds the same links, addresses
    and routes in every node as t itself."""
    t = Topology(subnet="10.7.0.0/16", prefixlen=30).node("x").node("y")
    t.link("x:v0", "y:v1", mtu=1400).route("x", "default", via="y:v1")
    again = Topology.from_dict(t.to_dict())
    with t.build() as one, again.build() as two:
        for node in ("x", "y"):
            assert state(one[node]) == state(two[node])
        assert one.address("y:v1") == "10.7.0.2"


def test_named_nodes_live_in_the_run_directory_until_closed(
    host_links: None,
) -> None:
    """A named node is PREFIX + its name in the run directory while the
    network lives; close() removes the name."""
    t = Topology().node("a", named=True).node("b").link("a", "b")
    with t.build(prefix="topo-test-") as net:
        assert net["a"].name == "topo-test-a"
        assert os.listdir(RUN_DIR) == ["topo-test-a"]
        assert net["b"].anonymous
    assert os.listdir(RUN_DIR) == []


def test_failing_half_way_leaves_nothing(
    host_links: None, made: list[Netns]
) -> None:
    """A build the kernel refuses after its nodes, links and addresses
    exist (a route via an unreachable gateway) raises the kernel's error
    and closes every namespace it made, named ones unnamed: no fd, no
    name is left."""
    base = fd_count()
    t = Topology().node("a", named=True).node("b").link("a", "b")
    t.route("a", "10.9.0.0/24", via="10.77.0.1")
    with pytest.raises(OSError, match="Nexthop has invalid gateway") as info:
        t.build(prefix="topo-fail-")
    assert info.value.errno == errno.ENETUNREACH
    assert info.value.step == "rtm_newroute"  # type: ignore[attr-defined]
    assert len(made) == 2
    assert all(ns.closed for ns in made)
    assert os.listdir(RUN_DIR) == []
    assert fd_count() == base


def test_anonymous_build_failing_half_way_leaves_nothing(
    host_links: None, made: list[Netns]
) -> None:
    """A build of anonymous nodes (one C call) that the kernel refuses
    after its links and addresses exist raises the kernel's error naming
    the node, makes no handle and leaves no fd."""
    base = fd_count()
    t = Topology().node("a").node("b").link("a", "b")
    t.route("b", "10.9.0.0/24", via="10.77.0.1")
    with pytest.raises(OSError, match="Nexthop has invalid gateway") as info:
        t.build()
    assert info.value.errno == errno.ENETUNREACH
    assert info.value.step == "rtm_newroute"  # type: ignore[attr-defined]
    assert info.value.filename == "b"
    assert info.value.filename2 == "10.9.0.0/24 via 10.77.0.1"
    assert made == []
    assert fd_count() == base
    # The same topology builds again once its route is reachable.
    ok = Topology().node("a").node("b").link("a", "b")
    ok.route("b", "10.9.0.0/24", via="a:eth0")
    with ok.build() as net:
        assert [r.dst for r in net["b"].routes() if r.gateway] == [
            "10.9.0.0/24"
        ]


def test_anonymous_build_whose_handle_fails_closes_each_fd_once(
    host_links: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When making a node's handle fails after the one-call build, that
    error is raised and every fd the build made is closed exactly once
    (the failing node's by Netns._held, the others' by the build)."""
    base = fd_count()
    init = Netns.__init__
    calls: list[int] = []

    def failing_init(self: Netns, *args: Any, **kw: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("made to fail")
        init(self, *args, **kw)

    monkeypatch.setattr(Netns, "__init__", failing_init)
    t = Topology().node("a").node("b").node("c").link("a", "b")
    with pytest.raises(MemoryError, match="made to fail"):
        t.build()
    monkeypatch.undo()
    assert fd_count() == base


def test_bad_input_makes_no_namespace(made: list[Netns]) -> None:
    """Bad declarations raise ValueError before any namespace is made."""
    t = pair()
    with pytest.raises(ValueError, match="duplicate link"):
        t.link("a", "b")
    with pytest.raises(ValueError, match="unknown node"):
        t.link("a", "c")
    with pytest.raises(ValueError, match="invalid address"):
        Topology().node("a").node("b").link("a", "b", addrs=("1.2.3/40", None))
    bad = pair().route("a", "default", via="b:eth9")
    with pytest.raises(ValueError, match="unknown interface"):
        bad.build()
    assert made == []


def test_sixteen_threads_build_at_once(host_links: None) -> None:
    """16 threads each build, ping across and close a pair of their own at
    once; each thread ends in its own namespace; nothing leaks."""
    base = fd_count()
    barrier = threading.Barrier(16)
    t = pair()

    def body(k: int) -> None:
        home = thread_netns()
        barrier.wait()
        with t.build() as net:
            net["b"].wait_link("eth0", 5)
            assert ping(net["a"], net.address("b:eth0"))
            assert net["a"].inode != net["b"].inode != home
        assert thread_netns() == home

    run_threads(body, 16, barrier=barrier)
    assert fd_count() == base


def test_network_is_a_resource(host_links: None) -> None:
    """A Network closes by with, once; its nodes are closed with it."""
    with pair().build() as net:
        assert isinstance(net, Network)
        assert list(net) == ["a", "b"]
        assert len(net) == 2
    assert net.closed
    assert net["a"].closed
    net.close()
