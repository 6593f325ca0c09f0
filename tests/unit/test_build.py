"""The build of the C core: warnings are errors only where the project's
own checks ask for it, and a missing compiler is said in one line."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from setuptools import Distribution, Extension

ROOT = Path(__file__).resolve().parents[2]


def _cflags(monkeypatch: pytest.MonkeyPatch, werror: str | None) -> Any:
    if werror is None:
        monkeypatch.delenv("NETNS_FAST_WERROR", raising=False)
    else:
        monkeypatch.setenv("NETNS_FAST_WERROR", werror)
    return runpy.run_path(str(ROOT / "csrc" / "build_ffi.py"))["CFLAGS"]


def test_werror_only_when_the_project_asks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """-Werror with NETNS_FAST_WERROR=1 (CI, release checks), never in a
    plain install; -Wall -Wextra always."""
    plain = _cflags(monkeypatch, None)
    assert "-Werror" not in plain
    assert {"-Wall", "-Wextra"} <= set(plain)
    assert "-Werror" not in _cflags(monkeypatch, "0")
    assert "-Werror" in _cflags(monkeypatch, "1")


def test_ci_scripts_ask_for_werror() -> None:
    """.ci/run and .ci/release-checks build with NETNS_FAST_WERROR=1."""
    for script in (".ci/run", ".ci/release-checks"):
        text = (ROOT / script).read_text()
        assert "export NETNS_FAST_WERROR=1" in text, script


def test_missing_compiler_gives_a_one_line_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the C core cannot be compiled (here: no such compiler), the
    build ends with one line that says what to install."""
    setup = runpy.run_path(str(ROOT / "setup.py"), run_name="nsft_setup")
    (tmp_path / "x.c").write_text("int x;\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    dist = Distribution(
        {"name": "x", "ext_modules": [Extension("x", ["x.c"])]}
    )
    cmd = setup["BuildExt"](dist)
    cmd.build_temp = str(tmp_path / "temp")
    cmd.build_lib = str(tmp_path / "lib")
    cmd.ensure_finalized()
    with pytest.raises(SystemExit) as info:
        cmd.run()
    message = str(info.value.code)
    assert message.startswith(setup["HINT"] + ": ")
    assert "gcc" in setup["HINT"]
    assert "python3-dev" in setup["HINT"]
    assert "\n" not in message
