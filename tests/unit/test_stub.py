"""The typed stub netns_fast/_netns.pyi, the cdef headers and the built
extension declare the same NSF_* constants and nsf_* functions; the one
step enum of csrc/steps.h is distinct, fully used by the C and fully
mapped by netns_fast._sys."""

from __future__ import annotations

import ast
import re
import runpy
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import netns_fast
from netns_fast import _sys
from netns_fast._netns import ffi, lib

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
STUB = Path(netns_fast.__file__).with_name("_netns.pyi")


def _is_ours(name: str) -> bool:
    return name.startswith(("NSF_", "nsf_"))


@cache
def build_ffi() -> dict[str, Any]:
    """The globals of csrc/build_ffi.py (run, as setup.py runs it)."""
    return runpy.run_path(str(CSRC / "build_ffi.py"))


def cdef_headers() -> list[str]:
    """CDEF_HEADERS as csrc/build_ffi.py derives it."""
    headers = build_ffi()["CDEF_HEADERS"]
    assert isinstance(headers, list)
    return [str(h) for h in headers]


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
    for header in headers:
        assert (CSRC / header).is_file(), header


def test_build_lists_come_from_modules() -> None:
    """The cdef is steps.h then MODULES' headers; the sources are MODULES'
    C files and the internal ones, each in csrc/."""
    ns = build_ffi()
    modules = ns["MODULES"]
    assert cdef_headers() == ["steps.h", *(f"{m}.h" for m in modules)]
    assert ns["SOURCES"] == [
        *(f"{m}.c" for m in modules),
        *ns["INTERNAL_SOURCES"],
    ]
    for source in ns["SOURCES"]:
        assert (CSRC / source).is_file(), source


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


def _steps_h() -> list[str]:
    """The NSF_STEP_* names of csrc/steps.h, in order."""
    text = _strip_comments((CSRC / "steps.h").read_text())
    return re.findall(r"\b(NSF_STEP_\w+)\b", text)


def test_steps_live_in_steps_h_only() -> None:
    """One step enum: steps.h declares every NSF_STEP_*, NSF_STEP_NONE is
    0, and no other header declares one."""
    names = _steps_h()
    assert names[0] == "NSF_STEP_NONE"
    assert lib.NSF_STEP_NONE == 0
    assert set(names) == {n for n in dir(lib) if n.startswith("NSF_STEP_")}
    for header in CSRC.glob("*.h"):
        if header.name != "steps.h":
            text = _strip_comments(header.read_text())
            assert not re.search(r"\bNSF_STEP_\w+\s*=", text), header


def test_step_constants_are_distinct() -> None:
    """NSF_STEP_* values are unique, so a step number names one step."""
    steps = {n: getattr(lib, n) for n in dir(lib) if n.startswith("NSF_STEP_")}
    assert len(set(steps.values())) == len(steps), steps
    assert steps["NSF_STEP_NONE"] == 0


# Calls through which the C sets a step: nsf_fail(step, STEP),
# nsf_set_step(step, STEP, rc), and a step handed to nsf_open_ns_file.
_SETTERS = re.compile(
    r"\b(?:nsf_fail|nsf_set_step|nsf_open_ns_file)\s*\(([^;]*)", re.S
)


def test_every_step_is_set_by_the_c() -> None:
    """No dead step: every NSF_STEP_* but NONE is what some .c file (or
    nsf.h, which they share) sets on a failure."""
    sources = [*CSRC.glob("*.c"), CSRC / "nsf.h"]
    used: set[str] = set()
    for source in sources:
        for call in _SETTERS.findall(_strip_comments(source.read_text())):
            used |= set(re.findall(r"\bNSF_STEP_\w+\b", call))
    dead = set(_steps_h()) - used - {"NSF_STEP_NONE"}
    assert not dead, sorted(dead)


def test_every_step_has_its_paths_in_sys() -> None:
    """_sys's one step table names every step: its .step string is the
    enum name in lower case without NSF_STEP_, and its filename roles are
    ones _oserror knows."""
    roles = {"", "path", "path2", "run_dir", "cwd", "thread"}
    for name in _steps_h():
        value = getattr(lib, name)
        assert value in _sys._STEP_PATHS, name
        entry = _sys.STEPS[value]
        want = name[len("NSF_STEP_") :].lower() if value else ""
        assert entry.name == want == _sys.step_name(value)
        assert {entry.filename, entry.filename2} <= roles, name
    assert len(_sys._STEP_PATHS) == len(_steps_h())
