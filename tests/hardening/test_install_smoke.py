"""A root smoke test of whatever netns_fast is imported.

.ci/release-checks runs it against the sdist installed into a fresh venv,
from outside the checkout; in the normal run it checks the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import netns_fast
from support.kernel import RUN_DIR, is_live
from support.names import unique_name
from support.tools import Figure, run_cli

pytestmark = pytest.mark.root


def test_add_list_delete_through_api_and_cli(figure: Figure) -> None:
    """The imported package adds, lists and deletes, via API and CLI."""
    figure("netns_fast imported from", os.path.dirname(netns_fast.__file__))
    name, other = unique_name("smoke"), unique_name("smoke")
    netns_fast.add(name)
    try:
        assert is_live(os.path.join(RUN_DIR, name))
        assert name in netns_fast.list_names()
        listed = run_cli(["list"])
        assert listed.returncode == 0
        assert name.encode() in listed.stdout.splitlines()
        assert run_cli(["add", other]).returncode == 0
        assert is_live(os.path.join(RUN_DIR, other))
        assert run_cli(["delete", other]).returncode == 0
        assert not os.path.lexists(os.path.join(RUN_DIR, other))
    finally:
        netns_fast.delete(name)
        if os.path.lexists(os.path.join(RUN_DIR, other)):
            netns_fast.delete(other)
    assert not os.path.lexists(os.path.join(RUN_DIR, name))


def test_console_script_version() -> None:
    """The netns-fast console script (if installed) answers --version."""
    script = shutil.which("netns-fast")
    if script is None:
        pytest.skip("the netns-fast console script is not on PATH")
    proc = subprocess.run(
        [script, "--version"], capture_output=True, check=False, timeout=60
    )
    expected = f"netns-fast utility, netns_fast-{netns_fast.__version__}\n"
    assert (proc.returncode, proc.stdout.decode()) == (0, expected)
