"""Every python and sh block of the documentation runs as written
(tests/support/docs has the marks), each in a mount and network namespace
of its own inside the session's isolation: what it changes in its network
namespace or mounts dies with it, and a name it leaves in the session's
run directory fails the test (the leak guard)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.docs import Block, all_blocks
from support.tools import PLUGIN_ARGS, env

pytestmark = pytest.mark.root

RUNS = [b for b in all_blocks() if b.runs]


def _tools(bin_dir: Path) -> None:
    """``netns-fast`` and ``python`` on PATH: this interpreter, this
    checkout."""
    bin_dir.mkdir()
    for name, argv in (
        ("netns-fast", f'{sys.executable} -m netns_fast "$@"'),
        ("python", f'{sys.executable} "$@"'),
    ):
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\nexec {argv}\n")
        path.chmod(0o755)


@pytest.mark.parametrize("block", RUNS, ids=lambda b: b.where)
def test_block_runs(block: Block, tmp_path: Path) -> None:
    """The block runs to exit status 0 (a pytest block: every test
    passes), and leaves nothing in the run directory."""
    _tools(tmp_path / "bin")
    script = tmp_path / (
        "test_block.py" if block.lang == "python" else "block.sh"
    )
    script.write_text(block.code)
    if block.mark == "pytest":
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            *PLUGIN_ARGS,
            str(script),
        ]
    elif block.lang == "python":
        argv = [sys.executable, str(script)]
    else:
        argv = ["sh", "-e", str(script)]
    path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.run(
        ["unshare", "--mount", "--net", *argv],
        cwd=tmp_path,
        env=env(PATH=path),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{block.where} failed ({proc.returncode}):\n"
        + proc.stdout.decode(errors="replace")
        + proc.stderr.decode(errors="replace")
    )
