"""Topologies without the kernel: every declaration is checked before any
syscall, automatic names and addresses per segment, the dict form, the
plan a build sends."""

from __future__ import annotations

import socket
from typing import Callable

import pytest

from netns_fast import Topology
from support.private import lib


def test_automatic_names_and_addresses_per_segment() -> None:
    """Ends without a name get the node's next free ethN (never an
    explicit one); each link is a /24 of 10.255.0.0/16 in declaration
    order; a bridge's segment is one block, the bridge first."""
    t = Topology().node("a").node("b").node("sw")
    t.link("a:eth1", "b").link("a", "b", name="second")
    t.bridge("sw", "br0").link("a", "sw:br0", name="port")
    got = t.interfaces()
    assert got["a:eth1"] == ("10.255.0.1/24",)
    assert got["b:eth0"] == ("10.255.0.2/24",)
    assert got["a:eth0"] == ("10.255.1.1/24",)
    assert got["b:eth1"] == ("10.255.1.2/24",)
    assert got["sw:br0"] == ("10.255.2.1/24",)
    assert got["a:eth2"] == ("10.255.2.2/24",)
    assert got["sw:eth0"] == ()
    assert t.address("a:eth2") == "10.255.2.2"


def test_explicit_addresses_are_skipped_by_automatic_ones() -> None:
    """A block holding an explicit address is not handed out; IPv6 blocks
    come from subnet6; addrs=() leaves a link without addresses."""
    t = Topology(subnet="10.1.0.0/16", subnet6="fd00::/48")
    t.node("a").node("b").link("a", "b", addrs=("10.1.0.5/24", None))
    t.link("a", "b", name="auto").link("a", "b", name="bare", addrs=())
    got = t.interfaces()
    assert got["a:eth0"] == ("10.1.0.5/24",)
    assert got["a:eth1"] == ("10.1.1.1/24", "fd00::1/64")
    assert got["a:eth2"] == ()
    assert t.address("b:eth1", socket.AF_INET6) == "fd00::2"


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda t: t.link("a", "zz"), "unknown node"),
        (lambda t: t.link("a", "b"), "duplicate link"),
        (lambda t: t.link("a:" + "x" * 16, "b", name="n"), "interface name"),
        (lambda t: t.link("a:e/0", "b", name="n"), "interface name"),
        (
            lambda t: t.link("a", "b", name="n", addrs=("10.0.0.1/33", None)),
            "invalid address",
        ),
        (lambda t: t.node("a"), "duplicate node"),
        (lambda t: t.node("x y"), "invalid node name"),
        (lambda t: t.sysctl("a", "kernel.pid_max", 1), "net"),
    ],
)
def test_bad_declarations_raise_value_error(
    build: Callable[[Topology], object], match: str
) -> None:
    """Bad declarations raise ValueError at once."""
    t = Topology().node("a").node("b").link("a", "b")
    with pytest.raises(ValueError, match=match):
        build(t)


def test_bad_references_raise_value_error_at_compile() -> None:
    """A duplicate interface, a route via an unknown interface and a
    port that is no link end raise ValueError before any build."""
    dup = Topology().node("a").node("b")
    dup.link("a:e0", "b", name="x").link("a:e0", "b", name="y")
    with pytest.raises(ValueError, match="duplicate interface a:e0"):
        dup.interfaces()
    via = Topology().node("a").node("b").link("a", "b")
    via.route("a", "default", via="b:eth7")
    with pytest.raises(ValueError, match="unknown interface"):
        via.build()
    port = Topology().node("a").bridge("a", "br0", ports=["eth3"])
    with pytest.raises(ValueError, match="no link end"):
        port.interfaces()


def test_dict_round_trip_and_key() -> None:
    """from_dict(to_dict()) declares the same topology (same key, same
    interfaces); unknown keys are refused."""
    t = Topology(prefixlen=30).node("h", named=True).node("r")
    t.link("h", "r", mtu=1400).bridge("r", "br0", ports=["eth0"])
    t.route("h", "default", via="r:br0").sysctl("r", "net.ipv4.ip_forward", 1)
    again = Topology.from_dict(t.to_dict())
    assert again.key() == t.key()
    assert again.interfaces() == t.interfaces()
    with pytest.raises(ValueError, match="unknown topology keys: node"):
        Topology.from_dict({"node": ["a"]})


def test_plan_makes_links_first_then_addresses_routes_sysctls() -> None:
    """The plan of a build: the bridge, each veth as one request with its
    port's master, then addresses, routes and sysctls."""
    t = Topology().node("a").node("sw").bridge("sw", "br0")
    t.link("a", "sw:br0").route("a", "default", via="sw:br0")
    t.sysctl("sw", "net.ipv4.ip_forward", 1)
    reqs = t._compile().template.template(t._compile().placeholders)
    assert [r.kind for r in reqs] == [
        lib.NSF_WIRE_BRIDGE,
        lib.NSF_WIRE_VETH,
        lib.NSF_WIRE_ADDR_ADD,
        lib.NSF_WIRE_ADDR_ADD,
        lib.NSF_WIRE_ROUTE_ADD,
        lib.NSF_WIRE_SYSCTL,
    ]
    assert reqs[1].master == b"br0"
