"""Two hundred tests, each with a fresh namespace from the session pool."""

from __future__ import annotations

import pytest

import netns_fast


@pytest.mark.parametrize("i", range(200))
def test_each_pooled_namespace_is_fresh(
    netns: netns_fast.Netns, i: int
) -> None:
    """A pooled namespace holds only its loopback, up: never reused.

    Each test leaves a veth pair behind in its namespace, so a namespace
    handed out twice would show it.
    """
    links = netns.links()
    assert [link.name for link in links] == ["lo"]
    assert links[0].up
    netns.veth(netns, f"a{i}", f"b{i}")
    assert len(netns.links()) == 3
