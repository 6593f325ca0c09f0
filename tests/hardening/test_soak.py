"""Leaks: a long add/delete soak keeps fds, mounts, threads and RSS flat.

$NETNS_FAST_SOAK_CYCLES sets the number of add/delete cycles (default
100,000, about 55 s on 2 CPUs); the figures printed at the end say which N
ran and what was measured before and after.
"""

from __future__ import annotations

import os
import time

import pytest

import netns_fast
from support.tools import Figure

pytestmark = pytest.mark.root

CYCLES = int(os.environ.get("NETNS_FAST_SOAK_CYCLES", "100000"))
BATCH = 500
# RSS may move by allocator noise; a leak of even 32 bytes per cycle
# would add 3 MiB over 100,000 cycles.
RSS_SLACK_KIB = 2048


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _sample() -> dict[str, int]:
    with open("/proc/self/mountinfo") as f:
        mount_count = sum(1 for _ in f)
    return {
        "fds": len(os.listdir("/proc/self/fd")),
        "mounts": mount_count,
        "threads": _status("Threads"),
        "rss_kib": _status("VmRSS"),
    }


def _cycle(names: list[str], run_dir: str) -> None:
    added = netns_fast.add_many(names, run_dir=run_dir)
    assert [o for o in added if not o.ok] == []
    deleted = netns_fast.delete_many(names, run_dir=run_dir)
    assert [o for o in deleted if not o.ok] == []


def test_add_delete_soak_stays_flat(
    scratch_run_dir: str, figure: Figure
) -> None:
    """N add/delete cycles: fds, mounts, threads equal; RSS within 2 MiB."""
    rd = scratch_run_dir
    names = [f"soak-{i}" for i in range(BATCH)]
    _cycle(names, rd)  # warm-up: run dir prepared, allocator settled
    before = _sample()
    rounds = max(1, CYCLES // BATCH)
    start = time.monotonic()
    for _ in range(rounds):
        _cycle(names, rd)
    seconds = time.monotonic() - start
    after = _sample()

    figure("cycles", rounds * BATCH)
    figure("seconds", round(seconds, 1))
    for key in before:
        figure(f"{key} start -> end", f"{before[key]} -> {after[key]}")
    assert os.listdir(rd) == []
    assert after["fds"] == before["fds"]
    assert after["mounts"] == before["mounts"]
    assert after["threads"] == before["threads"]
    assert after["rss_kib"] - before["rss_kib"] < RSS_SLACK_KIB
