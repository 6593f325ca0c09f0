"""The typed stub netns_fast/_netns.pyi, the cdef headers and the built
extension declare the same NSF_* constants and nsf_* functions."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import netns_fast
from netns_fast._netns import ffi, lib

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
STUB = Path(netns_fast.__file__).with_name("_netns.pyi")


def _is_ours(name: str) -> bool:
    return name.startswith(("NSF_", "nsf_"))


def cdef_headers() -> list[str]:
    """CDEF_HEADERS as csrc/build_ffi.py assigns it (read, not imported)."""
    tree = ast.parse((CSRC / "build_ffi.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        named = any(
            isinstance(t, ast.Name) and t.id == "CDEF_HEADERS" for t in targets
        )
        if named and node.value is not None:
            headers = ast.literal_eval(node.value)
            assert isinstance(headers, list)
            return [str(h) for h in headers]
    raise AssertionError("CDEF_HEADERS not found in csrc/build_ffi.py")


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_names() -> tuple[set[str], set[str]]:
    """(constants, functions) declared by the cdef headers."""
    constants: set[str] = set()
    functions: set[str] = set()
    for header in cdef_headers():
        text = _strip_comments((CSRC / header).read_text())
        functions |= set(re.findall(r"\b(nsf_\w+)\s*\(", text))
        constants |= set(re.findall(r"\b(NSF_\w+)\b", text))
    return constants, functions


def stub_names() -> tuple[set[str], dict[str, int]]:
    """(constants, {function: parameter count}) of the stub's _Lib."""
    tree = ast.parse(STUB.read_text())
    (cls,) = [
        n
        for n in tree.body
        if isinstance(n, ast.ClassDef) and n.name == "_Lib"
    ]
    constants: set[str] = set()
    functions: dict[str, int] = {}
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(
            node.target, ast.Name
        ):
            constants.add(node.target.id)
        elif isinstance(node, ast.FunctionDef):
            args = node.args
            params = [*args.posonlyargs, *args.args][1:]  # drop self
            functions[node.name] = len(params)
    return constants, functions


def lib_names() -> tuple[set[str], set[str]]:
    """(constants, functions) of the compiled lib."""
    names = {n for n in dir(lib) if _is_ours(n)}
    functions = {n for n in names if callable(getattr(lib, n))}
    return names - functions, functions


def test_cdef_headers_exist() -> None:
    """Every header named in CDEF_HEADERS is in csrc/."""
    headers = cdef_headers()
    assert "core.h" in headers
    for header in headers:
        assert (CSRC / header).is_file(), header


def test_cdef_headers_have_no_preprocessor_lines() -> None:
    """The cdef headers are plain declarations: no '#' lines."""
    for header in cdef_headers():
        for line in (CSRC / header).read_text().splitlines():
            assert not line.lstrip().startswith("#"), (header, line)


def test_stub_matches_headers() -> None:
    """The stub declares exactly the headers' NSF_* and nsf_* names."""
    h_consts, h_funcs = header_names()
    s_consts, s_funcs = stub_names()
    assert s_consts == {c for c in h_consts if c.isupper()}
    assert set(s_funcs) == h_funcs


def test_stub_matches_the_built_lib() -> None:
    """The stub declares exactly what dir(lib) holds (rebuild if not)."""
    l_consts, l_funcs = lib_names()
    s_consts, s_funcs = stub_names()
    assert s_consts == l_consts
    assert set(s_funcs) == l_funcs


def test_headers_match_the_built_lib() -> None:
    """The built extension holds every name of the cdef headers."""
    h_consts, h_funcs = header_names()
    l_consts, l_funcs = lib_names()
    assert {c for c in h_consts if c.isupper()} == l_consts
    assert h_funcs == l_funcs


def test_stub_parameter_counts() -> None:
    """Each stub function takes as many arguments as its C prototype."""
    _, s_funcs = stub_names()
    for name, count in s_funcs.items():
        if not hasattr(lib, name):
            pytest.fail(f"{name} is in the stub but not in lib")
        assert len(ffi.typeof(getattr(lib, name)).args) == count, name


def test_step_constants_are_distinct() -> None:
    """NSF_STEP_* values are unique, so a step number names one step."""
    steps = {n: getattr(lib, n) for n in dir(lib) if n.startswith("NSF_STEP_")}
    assert len(set(steps.values())) == len(steps), steps
    assert steps["NSF_STEP_NONE"] == 0
