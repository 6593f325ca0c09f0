"""CLI start-up: every netns-fast verb as a process, installed in a fresh venv.

The venvs are made in a temporary directory from the machine's Python
(``/usr/bin/python3``) and from the default ``python3`` (when that is
another interpreter), and the checkout is installed into each with pip (a
wheel built once: not editable, not PYTHONPATH, so that what is measured
is what a user runs). Then, rounds interleaved, each venv's:

- ``python -c pass``: the floor;
- ``netns-fast list`` (12 names, 4 with an nsid), ``add NAME``, ``delete
  NAME``, ``exec NAME true``: the goal is at most 5 ms over the floor each;
- ``netns-fast set NAME auto`` and ``list-id``: the pyroute2 path, reported
  with pyroute2's own import time;
- ``netns-fast list`` through the wrapper pip writes for a
  ``[project.scripts]`` entry point (made by pip's own ScriptMaker), to show
  why netns-fast is installed as a plain script instead;
- ``ip netns list``, ``add``, ``delete``, ``exec NAME true``, for reference.

Then, for each verb, what it imports beyond the floor (``python -X
importtime``): netns_fast's modules and the others, with their cumulative
import times.

Run as root: ``python benchmarks/startup.py [--rounds 20] [--quick]``. It
isolates itself (_bench.isolate: a private mount namespace, tmpfs on
/run/netns) and runs everything from a private caller netns, so no id is
assigned in the host's namespace. pip needs its package index (cffi,
pyroute2 and the build requirements).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from _bench import isolate, median, table  # noqa: E402
from listing import enter_caller  # noqa: E402

GOAL_MS = 5.0
# Modules the CLI's hot path must not import (each costs milliseconds).
HEAVY = ("typing", "re", "enum", "contextlib", "dataclasses", "collections")
MACHINE_PYTHON = "/usr/bin/python3"


class Venv(NamedTuple):
    """A fresh venv with netns_fast installed from the checkout."""

    label: str
    python: str
    """The venv's interpreter."""
    netns_fast: str
    """The installed netns-fast command."""
    entry_point: str
    """pip's [project.scripts] wrapper for netns_fast.cli:main_entry."""


def interpreters() -> list[tuple[str, str]]:
    """(label, path) of /usr/bin/python3 and the default python3, each
    once (the default one resolved through pyenv shims and links)."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    default = subprocess.run(
        ["python3", "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    for label, path in (("machine", MACHINE_PYTHON), ("default", default)):
        if not path or not os.path.exists(path):
            continue
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        version = subprocess.run(
            [path, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        found.append((f"{label} python {version} ({path})", path))
    return found


def build_wheel(where: Path) -> Path:
    """The checkout as a wheel (pip wheel, built once for every venv: the
    abi3 wheel runs on every CPython from 3.9 on)."""
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps"]
    subprocess.run([*pip, "-w", str(where), ROOT], check=True)
    return next(where.glob("netns_fast-*.whl"))


ENTRY_POINT = """\
import os, sys
try:
    from pip._internal.operations.install.wheel import PipScriptMaker as M
except ImportError:
    from pip._vendor.distlib.scripts import ScriptMaker as M
maker = M(None, sys.argv[1])
maker.executable = sys.executable
maker.variants = {""}
maker.make("netns-fast-entry-point = netns_fast.cli:main_entry")
"""


def make_venv(label: str, base: str, wheel: Path, where: Path) -> Venv:
    """A venv from interpreter ``base`` with the wheel installed."""
    subprocess.run([base, "-m", "venv", str(where)], check=True)
    python = str(where / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", str(wheel)], check=True
    )
    bin_dir = str(where / "bin")
    subprocess.run([python, "-c", ENTRY_POINT, bin_dir], check=True)
    return Venv(
        label,
        python,
        os.path.join(bin_dir, "netns-fast"),
        os.path.join(bin_dir, "netns-fast-entry-point"),
    )


def fresh_venvs(where: Path) -> list[Venv]:
    """A venv per interpreter (see interpreters()) under ``where``."""
    wheel = build_wheel(where / "dist")
    return [
        make_venv(label, base, wheel, where / f"venv{i}")
        for i, (label, base) in enumerate(interpreters())
    ]


def clean_env() -> dict[str, str]:
    """The environment of the measured processes: nothing that points
    Python elsewhere (PYTHONPATH, a bytecode prefix) and the C locale."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTHON") and k != "NETNS_RUN_DIR"
    }
    env["LC_ALL"] = "C"
    return env


def timed_run(argv: Sequence[str], env: dict[str, str]) -> float:
    """Wall seconds of one process; it must exit 0."""
    start = time.perf_counter()
    subprocess.run(argv, env=env, capture_output=True, check=True)
    return time.perf_counter() - start


def rivals(venv: Venv, rounds: int) -> dict[str, Callable[[], float]]:
    """The commands measured for one venv, by label."""
    env = clean_env()
    py, nf = venv.python, venv.netns_fast
    adds = iter(range(10**6))
    sets = iter(f"startup-set-{i}" for i in range(2 * rounds + 4))

    def pair(tool: list[str], prefix: str) -> tuple[Callable[[], float], ...]:
        # add then delete the same fresh name: each timed on its own.
        names: list[str] = []

        def add() -> float:
            names.append(f"{prefix}-{next(adds)}")
            return timed_run([*tool, "add", names[-1]], env)

        def delete() -> float:
            return timed_run([*tool, "delete", names.pop()], env)

        return add, delete

    nf_add, nf_delete = pair([nf], "startup-nf")
    ip_add, ip_delete = pair(["ip", "netns"], "startup-ip")
    return {
        "python -c pass": lambda: timed_run([py, "-c", "pass"], env),
        "netns-fast list": lambda: timed_run([nf, "list"], env),
        "netns-fast add NAME": nf_add,
        "netns-fast delete NAME": nf_delete,
        "netns-fast exec NAME true": lambda: timed_run(
            [nf, "exec", "startup-0", "true"], env
        ),
        "netns-fast set NAME auto": lambda: timed_run(
            [nf, "set", next(sets), "auto"], env
        ),
        "netns-fast list-id": lambda: timed_run([nf, "list-id"], env),
        "list, pip entry-point wrapper": lambda: timed_run(
            [venv.entry_point, "list"], env
        ),
        "ip netns list": lambda: timed_run(["ip", "netns", "list"], env),
        "ip netns add NAME": ip_add,
        "ip netns delete NAME": ip_delete,
        "ip netns exec NAME true": lambda: timed_run(
            ["ip", "netns", "exec", "startup-0", "true"], env
        ),
    }


GOAL_VERBS = ("list", "add NAME", "delete NAME", "exec NAME true")
PYROUTE2_VERBS = ("set NAME auto", "list-id")


def measure(venv: Venv, rounds: int) -> dict[str, float]:
    """Median seconds per command, rounds interleaved, after a warm-up."""
    funcs = rivals(venv, rounds)
    times: dict[str, list[float]] = {k: [] for k in funcs}
    for func in funcs.values():
        func()  # warm up: caches filled
    for _ in range(rounds):
        for label, func in funcs.items():
            times[label].append(func())
    return {label: median(values) for label, values in times.items()}


class Import(NamedTuple):
    """One line of -X importtime: a module and its cumulative µs."""

    module: str
    cumulative_us: int
    depth: int
    """0: imported by the program itself; n: inside an import at n - 1."""


def importtime(argv: Sequence[str]) -> list[Import]:
    """What ``python -X importtime`` reports for argv (after the
    interpreter: a script or -c code and its arguments), in its order:
    each module after the modules it imported."""
    err = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    found = []
    for line in err.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name = line.split("|")
        if not cumulative.strip().isdigit():
            continue  # the header
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        found.append(Import(name.strip(), int(cumulative), depth))
    return found


def _package(imp: Import) -> str:
    return imp.module.split(".")[0]


def outermost_ms(imports: list[Import], package: str) -> float:
    """Milliseconds of the imports of ``package`` that no import of that
    package encloses (its whole cost, counted once)."""
    total = 0
    enclosing: list[str] = []  # package of the import at each depth
    # Reversed, every module comes before the ones it imported.
    for imp in reversed(imports):
        del enclosing[imp.depth :]
        if _package(imp) == package and package not in enclosing:
            total += imp.cumulative_us
        enclosing.append(_package(imp))
    return total / 1e3


def imports_of(venv: Venv) -> Iterator[tuple[str, list[Import]]]:
    """(verb, the imports beyond the floor's) for every measured verb."""
    floor = {i.module for i in importtime([venv.python, "-c", "pass"])}
    nf = [venv.python, venv.netns_fast]
    verbs = {
        "list": [*nf, "list"],
        "add NAME": [*nf, "add", "startup-imports"],
        "delete NAME": [*nf, "delete", "startup-imports"],
        "exec NAME true": [*nf, "exec", "startup-0", "true"],
        "set NAME auto": [*nf, "set", "startup-set-imports", "auto"],
        "list-id": [*nf, "list-id"],
        "list, pip entry-point wrapper": [
            venv.python,
            venv.entry_point,
            "list",
        ],
    }
    for verb, argv in verbs.items():
        yield verb, [i for i in importtime(argv) if i.module not in floor]


def report_imports(venv: Venv) -> None:
    """Print each verb's imports beyond the floor."""
    print(f"\nwhat each verb imports beyond `python -c pass` ({venv.label})")
    for verb, imports in imports_of(venv):
        ours = [i.module for i in imports if _package(i) == "netns_fast"]
        others = [i.module for i in imports if _package(i) != "netns_fast"]
        heavy = sorted({m for m in others if m.split(".")[0] in HEAVY})
        total = sum(i.cumulative_us for i in imports if i.depth == 0)
        print(f"- {verb}: {len(imports)} modules, {total / 1e3:.1f} ms")
        print(f"    netns_fast: {' '.join(ours) or '-'}")
        if len(others) > 12:
            shown = " ".join(others[:12]) + f" ... ({len(others)} in all)"
        else:
            shown = " ".join(others) or "-"
        print(f"    others: {shown}")
        print(f"    heavy ({', '.join(HEAVY)}): {' '.join(heavy) or 'none'}")
        pyroute2 = outermost_ms(imports, "pyroute2")
        if pyroute2:
            print(f"    of which pyroute2: {pyroute2:.1f} ms")


def report_times(venv: Venv, t: dict[str, float], rounds: int) -> bool:
    """Print one venv's table and goal; True if the goal is met."""
    floor = t["python -c pass"]
    rows = [["command", "ms", "+ms over python -c pass"]]
    for label, value in t.items():
        over = f"{(value - floor) * 1e3:+.1f}"
        rows.append([label, f"{value * 1e3:.1f}", over])
    print(f"\n{venv.label}: median of {rounds} rounds")
    print(table(rows))
    over = {v: (t[f"netns-fast {v}"] - floor) * 1e3 for v in GOAL_VERBS}
    worst = max(over, key=over.__getitem__)
    met = over[worst] <= GOAL_MS
    print(
        f"goal: list, add, delete, exec each <= +{GOAL_MS:.0f} ms over "
        f"python -c pass: {'met' if met else 'NOT met'} "
        f"(worst: {worst}, {over[worst]:+.1f} ms)"
    )
    for verb in PYROUTE2_VERBS:
        extra = (t[f"netns-fast {verb}"] - floor) * 1e3
        print(f"pyroute2 path: {verb} {extra:+.1f} ms over the floor")
    wrapper = t["list, pip entry-point wrapper"] - t["netns-fast list"]
    print(
        "pip's entry-point wrapper (it imports re) adds "
        f"{wrapper * 1e3:+.1f} ms to netns-fast list"
    )
    return met


def main() -> None:
    """Build the venvs, set up, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    opts = parser.parse_args()
    if opts.quick:
        opts.rounds = 3
    isolate()

    import netns_fast

    work = Path(tempfile.mkdtemp(prefix="nsft-startup-"))
    try:
        venvs = fresh_venvs(work)
        netns_fast.add("startup-caller")
        enter_caller("startup-caller")
        listed = [f"startup-{i}" for i in range(12)]
        netns_fast.add_many(listed)
        for name in listed[::3]:
            netns_fast.set_nsid(name, "auto")
        fresh = [f"startup-set-{i}" for i in range(2 * opts.rounds + 4)]
        met = True
        for venv in venvs:
            netns_fast.add_many([*fresh, "startup-set-imports"])
            times = measure(venv, opts.rounds)
            met = report_times(venv, times, opts.rounds) and met
            report_imports(venv)
            netns_fast.delete_many([*fresh, "startup-set-imports"])
        netns_fast.delete_many([*listed, "startup-caller"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nstart-up goal (every venv): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
