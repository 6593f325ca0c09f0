"""Per-test veth pairs: a server in one namespace, a client in another."""

from __future__ import annotations

import pytest
from _farm import echo, echo_server

import netns_fast
from netns_fast.pytest_plugin import NetnsFactory


@pytest.mark.parametrize("i", range(20))
def test_echo_over_a_fresh_veth_pair(
    netns_factory: NetnsFactory, i: int
) -> None:
    """A client in B reaches an echo server in A over a veth made now."""
    a = netns_factory()
    b = netns_factory()
    a.veth(b, "eth0", "eth0", addrs=("10.0.0.1/24", "10.0.0.2/24"))
    srv, port = echo_server(a, "10.0.0.1")
    with srv:
        msg = f"hello {i}".encode() * 100
        assert echo(b, "10.0.0.1", port, msg) == msg


def test_a_named_namespace_shows_in_the_run_directory(
    netns_factory: NetnsFactory,
) -> None:
    """A named fixture namespace is listed, and reachable by its name."""
    ns = netns_factory(named=True)
    assert ns.name in netns_fast.list_names()
    out = netns_fast.run(ns.name, ["cat", "/proc/thread-self/net/dev"])
    assert out.returncode == 0
