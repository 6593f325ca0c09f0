"""A test farm's own suite (examples/farm) runs green through the plugin.

The suite is what issue #13 describes a test-farm engineer writing: veth
pairs per test with an echo server and a client, a bridge with hosts
talked to from threads, 200 pooled tests, asyncio children. It runs in a
child pytest (which shares this session's private mount namespace), once
alone and once under pytest-xdist with two workers; .ci/rootless runs it
again as uid 65534 without privilege (the plugin's rootless world).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.tools import PLUGIN_ARGS, env

pytestmark = pytest.mark.root

FARM = Path(__file__).resolve().parents[2] / "examples" / "farm"
TESTS = 223


@pytest.mark.parametrize(
    "args", [[], ["-p", "xdist", "-n", "2"]], ids=["alone", "xdist-2"]
)
def test_the_farm_suite_passes_without_a_leak_report(
    args: list[str], record_property: pytest.RecordProperty
) -> None:
    """Every farm test passes, none is blamed for a leak, nothing is left."""
    before = sorted(os.listdir("/run/netns"))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", *PLUGIN_ARGS, "-q", *args, "."],
        check=False,
        cwd=FARM,
        env=env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = out.stdout + out.stderr
    record_property("summary", text.strip().splitlines()[-1:])
    assert out.returncode == 0, text[-4000:]
    assert f"{TESTS} passed" in text, text[-2000:]
    assert "leaked" not in text, text[-4000:]
    assert sorted(os.listdir("/run/netns")) == before
