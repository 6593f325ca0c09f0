"""The package's layout: imports go one way (no cycle anywhere, counting
every import, also those inside functions, under TYPE_CHECKING and the
CLI's "module:function" verb table), the public names are written once,
and the CLI's start-up imports stay light."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import _cffi_backend

import netns_fast

PKG = Path(netns_fast.__file__).resolve().parent
TOP = "netns_fast"
# "netns_fast.cli.list:do_list": a function named by its module (VERBS).
TARGET = re.compile(r"^(netns_fast(?:\.\w+)*):\w+$")


def package_modules(root: Path = PKG) -> dict[str, Path]:
    """Every module of the package: dotted name -> file (the typed stub
    for the compiled extension, which imports nothing of the package)."""
    found = {}
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.pyi")]):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.setdefault(".".join(parts), path)
    return found


def _imported_by_call(node: ast.Call) -> str:
    """The constant module name of __import__(...) or import_module(...)."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else None
    if isinstance(func, ast.Name):
        called = func.id
    if called not in ("__import__", "import_module") or not node.args:
        return ""
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return ""


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package modules that module ``name`` imports, anywhere in it."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    wanted: set[str] = set()

    def add(target: str) -> None:
        # The module itself, or the package a name is taken from.
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            wanted.add(target)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == TOP:
                    add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - node.level + 1]
                base = ".".join(base_parts)
                if node.module:
                    base = f"{base}.{node.module}"
            else:
                base = node.module or ""
            if base.split(".")[0] != TOP:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(sub if sub in modules else base)
        elif isinstance(node, ast.Call):
            target = _imported_by_call(node)
            if target.split(".")[0] == TOP:
                add(target)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # "netns_fast.x:func": the CLI's verb table.
            match = TARGET.match(node.value)
            if match:
                add(match.group(1))
    return wanted


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports."""
    modules = package_modules()
    names = set(modules)
    return {name: imports_of(name, p, names) for name, p in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of the graph as a path (a, b, ..., a); [] if none."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str]:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        on_path.discard(path.pop())
        done.add(node)
        return []

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle:
                return cycle
    return []


def test_no_import_cycle() -> None:
    """No module of netns_fast imports, directly or not, one that imports
    it back (every import counted, also lazy and TYPE_CHECKING ones)."""
    assert find_cycle(import_graph()) == []


def test_graph_sees_every_kind_of_import() -> None:
    """The graph counts function-level imports, TYPE_CHECKING imports,
    relative imports of names and the CLI's verb table."""
    graph = import_graph()
    # Function-level: -n NAME is switched from the option loop.
    assert "netns_fast.cli.exec" in graph["netns_fast.cli._options"]
    # A name from a package above: the version for -V.
    assert TOP in graph["netns_fast.cli._options"]
    # TYPE_CHECKING: the package's public names.
    assert "netns_fast._pool" in graph[TOP]
    # The verb table's "module:function" strings.
    assert "netns_fast.cli.procs" in graph["netns_fast.cli"]
    # The leaf of the CLI imports nothing of the CLI.
    assert not {m for m in graph["netns_fast.cli._ctx"] if ".cli" in m}


def test_cycle_finder_finds_a_cycle() -> None:
    """find_cycle reports a cycle that is there (the check can fail)."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_public_names_listed_once() -> None:
    """__all__ is the _EXPORTS table, and the TYPE_CHECKING imports that
    type checkers read name exactly the same names from the same modules."""
    tree = ast.parse((PKG / "__init__.py").read_text())
    seen: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                # `import x as x`: an explicit re-export for type checkers.
                assert alias.asname == alias.name, alias.name
                seen[alias.name] = node.module or ""
    lazy = {
        name: module
        for module, names in netns_fast._EXPORTS.items()
        for name in names
    }
    assert seen == lazy
    assert sorted(netns_fast.__all__) == sorted([*lazy, "__version__"])
    for name in lazy:
        assert getattr(netns_fast, name) is not None
    # The exception Pool.acquire documents, and list_with_nsids's old name.
    assert "NetnsTimeoutError" in netns_fast.__all__
    assert netns_fast.list_netns is netns_fast.list_with_nsids


def test_version_written_once() -> None:
    """No module of the package writes a version: __version__ is the
    installed metadata's, which pyproject.toml alone gives."""
    for name, path in package_modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            else:
                continue
            for target in targets:
                assert getattr(target, "id", "") != "__version__", name
    assert netns_fast.__version__ == importlib.metadata.version("netns_fast")


def _loaded_by(code: str) -> list[str]:
    """The netns_fast modules a new interpreter has loaded after ``code``."""
    report = (
        "\nimport sys\n"
        "print(' '.join(sorted(m for m in sys.modules "
        "if m.startswith('netns_fast'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code + report],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    ).stdout
    return out.split()


def test_import_netns_fast_loads_nothing() -> None:
    """`import netns_fast` loads none of its modules; a name loads only
    its own module's imports."""
    assert _loaded_by("import netns_fast") == ["netns_fast"]


def test_usage_text_loads_no_c_core() -> None:
    """The usage text imports the rootless verb's module for its help
    line, but not the C core (only the verb that runs pays for it)."""
    loaded = _loaded_by("from netns_fast import cli\ncli.USAGE")
    assert "netns_fast.cli.rootless" in loaded
    assert "netns_fast._netns" not in loaded


def _env() -> dict[str, str]:
    root = str(PKG.parent)
    old = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=root if not old else f"{root}:{old}")


HEAVY = ("typing", "re", "enum", "contextlib", "dataclasses", "collections")


def test_cli_start_up_imports_stay_light(tmp_path: Path) -> None:
    """netns-fast list, add, delete and exec import none of typing, re,
    enum, contextlib, dataclasses, collections (importing them would be
    most of a call's time)."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from netns_fast import cli\n"
        "from netns_fast.cli import lifecycle, exec, list\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    # -S: no site, so nothing a site-packages .pth imports hides an import
    # of ours; the package and the cffi backend come through PYTHONPATH.
    backend = os.path.dirname(_cffi_backend.__file__)
    env = dict(os.environ, PYTHONPATH=f"{PKG.parent}:{backend}")
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
    ).stdout
    loaded = set(out.split())
    assert "netns_fast.cli.list" in loaded
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}, loaded
