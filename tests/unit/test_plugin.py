"""The pytest plugin without privilege: its import, its entry point, the
leak snapshots behind its leak check."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support.private import _leaks
from support.tools import CHECKOUT, PLUGIN_ARGS, env

pytest_plugins = ["pytester"]


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


def test_leak_check_reports_only_what_every_recheck_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An fd seen once (a pool producer's socket) is no leak; a kept one
    is."""
    before = _leaks.baseline()
    kept = frozenset(["90 -> socket:[1]"])
    calls = iter(range(100))

    def transient(exempt: object = None) -> object:
        fds = kept | {f"91 -> socket:[{next(calls) + 2}]"}
        return before.seen._replace(fds=before.seen.fds | fds)

    monkeypatch.setattr(_leaks, "snapshot", transient)
    assert _leaks.leaked(before).fds == kept
    monkeypatch.setattr(_leaks, "snapshot", lambda exempt=None: before.seen)
    assert not any(_leaks.leaked(before))


SETTINGS_SUITE = """
def test_one(netns):
    pass

def test_two(netns):
    pass
"""


@pytest.mark.usefixtures("pytester_env")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "netns_leak_check=sometimes"], "netns_leak_check must be"),
        (["-o", "netns_pool_size=abc"], "netns_pool_size must be an int"),
        (["-o", "netns_pool_size=0"], "netns_pool_size must be an int"),
        (["--netns-pool-size=0"], "netns_pool_size must be an int"),
        (["--netns-pool-size=-3"], "netns_pool_size must be an int"),
        (["--netns-prefix=a/b"], "netns_prefix must be at most 32"),
        (["-o", f"netns_prefix={'x' * 33}"], "netns_prefix must be"),
    ],
    ids=[
        "mode",
        "size-abc",
        "size-0-ini",
        "size-0",
        "size-neg",
        "prefix",
        "prefix-long",
    ],
)
def test_bad_setting_is_one_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    """A bad plugin setting stops the run at start-up with one
    pytest.UsageError (exit 4), before any test runs."""
    pytester.makepyfile(SETTINGS_SUITE)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if message in line]
    assert len(errors) == 1, result.stderr.str()
    assert errors[0].startswith("ERROR: ")
    assert "passed" not in result.stdout.str()
    assert "error" not in result.stdout.str().lower()
