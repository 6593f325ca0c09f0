"""The pytest plugin without privilege: its import, its entry point, the
leak snapshots behind its leak check."""

from __future__ import annotations

import os
import subprocess
import sys

from support.private import _leaks
from support.tools import CHECKOUT, env


def test_plugin_import_has_no_side_effects() -> None:
    """Importing the pytest plugin starts no thread, forks nothing and
    loads none of the modules behind its fixtures (handle, pool, leak
    check)."""
    code = (
        "import os, sys, threading\n"
        "fds = os.listdir('/proc/self/fd')\n"
        "import netns_fast.pytest_plugin\n"
        "for mod in ('_handle', '_pool', '_leaks'):\n"
        "    assert 'netns_fast.' + mod not in sys.modules, mod\n"
        "assert threading.active_count() == 1\n"
        "assert len(os.listdir('/proc/self/task')) == 1\n"
        "assert os.listdir('/proc/self/fd') == fds\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], env=env(keep_locale=True), check=True
    )


def test_pytest11_entry_point_declared() -> None:
    """pyproject.toml registers the plugin under pytest11."""
    text = (CHECKOUT / "pyproject.toml").read_text()
    section = text.split("[project.entry-points.pytest11]", 1)[1]
    assert 'netns_fast = "netns_fast.pytest_plugin"' in section.split("[")[0]


def test_leak_snapshot_sees_new_fds_but_not_held_ones() -> None:
    """A new fd is reported; one the pool holds is not."""
    before = _leaks.baseline()
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        found = _leaks.compare(before)
        assert f"{fd} -> /dev/null" in found
        held = _leaks.Exempt(fds=lambda: frozenset([fd]))
        assert _leaks.compare(before, held) == ""
    finally:
        os.close(fd)
    assert _leaks.compare(before) == ""
