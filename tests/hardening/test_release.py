"""Cheap release-quality checks that need no privilege (see also
.ci/release-checks, which builds and installs the real artifacts)."""

from __future__ import annotations

import io
import os
import sys

import pytest

import netns_fast
from netns_fast import cli
from support.tools import CHECKOUT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the CI interpreter is newer
    tomllib = pytest.importorskip("tomli")

IP_VERBS = [
    b"list",
    b"show",
    b"lst",
    b"list-id",
    b"help",
    b"add",
    b"set",
    b"delete",
    b"identify",
    b"pids",
    b"exec",
    b"monitor",
    b"attach",
]


def _pyproject() -> dict[str, object]:
    with open(os.path.join(CHECKOUT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def _read(relpath: str) -> str:
    with open(os.path.join(CHECKOUT, relpath)) as f:
        return f.read()


def test_cibuildwheel_builds_manylinux_abi3_for_x86_64_and_aarch64() -> None:
    """[tool.cibuildwheel]: cp39 manylinux only, x86_64 and aarch64."""
    conf = _pyproject()["tool"]["cibuildwheel"]  # type: ignore[index]
    assert conf["build"] == ["cp39-manylinux_*"]
    assert conf["linux"]["archs"] == ["x86_64", "aarch64"]
    assert "tests/unit" in conf["test-command"]


def test_limited_api_matches_the_oldest_python() -> None:
    """py_limited_api, the cibuildwheel build and requires-python are 3.9."""
    assert '"py_limited_api": "cp39"' in _read("setup.py")
    project = _pyproject()["project"]
    assert project["requires-python"] == ">=3.9"  # type: ignore[index]


def test_sdist_manifest_ships_the_c_sources_and_typing() -> None:
    """MANIFEST.in grafts csrc/ and includes py.typed and the stub."""
    manifest = _read("MANIFEST.in").split()
    assert "csrc" in manifest
    assert "netns_fast/py.typed" in manifest
    assert "netns_fast/*.pyi" in manifest
    assert os.path.exists(os.path.join(CHECKOUT, "netns_fast", "py.typed"))


def test_version_matches_pyproject() -> None:
    """netns_fast.__version__ is the version in pyproject.toml."""
    project = _pyproject()["project"]
    assert netns_fast.__version__ == project["version"]  # type: ignore[index]


def test_cli_double_dash_version() -> None:
    """--version prints what -V prints (a deviation: ip rejects it)."""
    out, err = io.BytesIO(), io.BytesIO()
    assert cli.run(["--version", "list"], out, err) == 0
    expected = f"netns-fast utility, netns_fast-{netns_fast.__version__}\n"
    assert (out.getvalue(), err.getvalue()) == (expected.encode(), b"")


@pytest.mark.parametrize(
    ("opt", "shown"), [("-version", "-version"), ("--versio", "-versio")]
)
def test_cli_version_lookalikes_stay_ip_errors(opt: str, shown: str) -> None:
    """-version and --versio are unknown options, as in ip."""
    out, err = io.BytesIO(), io.BytesIO()
    assert cli.run([opt], out, err) == 255
    expected = f'Option "{shown}" is unknown, try "netns-fast -help".\n'
    assert (out.getvalue(), err.getvalue()) == (b"", expected.encode())


def test_gc_verb_never_changes_what_an_ip_abbreviation_means() -> None:
    """gc comes after ip's verbs: every ip abbreviation keeps its meaning."""
    names = [full for full, _ in cli.VERBS]
    assert names[: len(IP_VERBS)] == IP_VERBS
    assert b"gc" in names[len(IP_VERBS) :]
    for verb in IP_VERBS:
        for i in range(1, len(verb) + 1):
            word = verb[:i]
            ip_pick = next(v for v in IP_VERBS if cli.matches(word, v))
            ours = next(v for v in names if cli.matches(word, v))
            assert ours == ip_pick, word


def test_gc_is_public_api() -> None:
    """netns_fast.gc is exported."""
    assert "gc" in netns_fast.__all__
    assert callable(netns_fast.gc)
