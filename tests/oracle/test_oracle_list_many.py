"""list with more entries than one netlink window (the C listing then runs
on several threads): byte-identical to ip, in directory order."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from nsft_helpers import (
    RUN_DIR,
    ip_to_cli,
    requires_ip,
    run_cli,
    run_ip,
    unique_name,
)

import netns_fast

pytestmark = [pytest.mark.root, pytest.mark.oracle, requires_ip]


@pytest.fixture
def many() -> Iterator[list[str]]:
    """150 live names with 30 stale entries among them."""
    live = [unique_name("nsft-many") for _ in range(150)]
    stale = [unique_name("nsft-stale") for _ in range(30)]
    try:
        for i in range(0, 150, 5):
            assert all(o.ok for o in netns_fast.add_many(live[i : i + 5]))
            fd = os.open(f"{RUN_DIR}/{stale[i // 5]}", os.O_CREAT, 0)
            os.close(fd)
        yield live + stale
    finally:
        netns_fast.delete_many(live + stale)


@pytest.mark.parametrize("opts", [[], ["-j"], ["-j", "-p"]])
def test_list_of_many_entries_matches_ip(
    many: list[str], opts: list[str]
) -> None:
    """180 entries, 30 stale: stdout, stderr and exit code equal ip's."""
    ip = run_ip([*opts, "netns", "list"])
    ours = run_cli([*opts, "list"])
    assert ours.returncode == ip.returncode == 0
    assert ours.stdout == ip.stdout
    assert ours.stderr == ip_to_cli(ip.stderr)
    assert ours.stderr.count(b"Peer netns reference is invalid") == 60


def test_list_netns_of_many_entries_keeps_directory_order(
    many: list[str],
) -> None:
    """The listing API returns every entry in os.listdir's order."""
    listed = [e.name for e in netns_fast.list_netns()]
    assert listed == os.listdir(RUN_DIR)
    assert set(many) <= set(listed)
