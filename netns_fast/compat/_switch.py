"""The switch that makes pyroute2 itself use the drop-in.

:func:`install` puts :mod:`netns_fast.compat.pyroute2_netns` (and its
``manager``) in the place of ``pyroute2.netns`` (and
``pyroute2.netns.manager``): in ``sys.modules``, as the ``pyroute2``
package's ``netns`` attribute, and in every loaded ``pyroute2.*`` module
that holds the module (``from pyroute2 import netns``) or one of its
functions (``from pyroute2.netns import setns``). pyroute2 modules loaded
later import the drop-in. :func:`uninstall` puts every one of those
references back (also in modules loaded while installed), so pyroute2 is
then exactly as before; pyroute2's own module is never modified.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any, NamedTuple, Optional

_MISSING = object()
_MODULES = ("pyroute2.netns", "pyroute2.netns.manager")


class _Installed(NamedTuple):
    real: ModuleType
    ours: ModuleType
    ours_manager: ModuleType
    back: dict[int, tuple[Any, Any]]  # id(ours' object) -> (it, pyroute2's)
    saved_modules: dict[str, Any]
    saved_run_dir: str


_lock = threading.Lock()
_state: Optional[_Installed] = None


def _pyroute2_modules() -> list[ModuleType]:
    return [
        mod
        for name, mod in list(sys.modules.items())
        if (name == "pyroute2" or name.startswith("pyroute2."))
        and isinstance(mod, ModuleType)
    ]


def _functions(ours: ModuleType, real: ModuleType) -> list[str]:
    """Names of functions both modules have (classes and constants stay:
    pyroute2 modules import e.g. ChildProcessReturnValue from elsewhere)."""
    return [
        name
        for name, value in vars(ours).items()
        if inspect.isfunction(value)
        and value.__module__ == ours.__name__
        and inspect.isfunction(vars(real).get(name))
    ]


def _rebind(
    pairs: dict[int, tuple[Any, Any]], skip: tuple[ModuleType, ...]
) -> None:
    """In every pyroute2.* module, replace each global that is one of the
    ``pairs``' old objects (keyed by id) by its new one."""
    for mod in _pyroute2_modules():
        if any(mod is s for s in skip):
            continue
        namespace = vars(mod)
        for attr, value in list(namespace.items()):
            pair = pairs.get(id(value))
            if pair is not None and pair[0] is value:
                namespace[attr] = pair[1]


def install() -> None:
    """Make pyroute2 use netns_fast's ``pyroute2.netns`` (no fork).

    Imports pyroute2 if needed. Idempotent: a second call does nothing.
    """
    global _state  # noqa: PLW0603 - one switch per process
    with _lock:
        if _state is not None:
            return
        real = importlib.import_module("pyroute2.netns")
        real_manager = sys.modules.get("pyroute2.netns.manager")
        ours = importlib.import_module("netns_fast.compat.pyroute2_netns")
        ours_manager = importlib.import_module(
            "netns_fast.compat.pyroute2_netns.manager"
        )
        package = sys.modules["pyroute2"]
        saved_modules = {
            name: sys.modules.get(name, _MISSING) for name in _MODULES
        }
        saved_modules["pyroute2:netns"] = vars(package).get("netns", _MISSING)
        saved_run_dir = ours.NETNS_RUN_DIR
        pairs: dict[int, tuple[Any, Any]] = {id(real): (real, ours)}
        if real_manager is not None:
            pairs[id(real_manager)] = (real_manager, ours_manager)
            pairs[id(real_manager.NetNSManager)] = (
                real_manager.NetNSManager,
                ours_manager.NetNSManager,
            )
        for name in _functions(ours, real):
            pairs[id(getattr(real, name))] = (
                getattr(real, name),
                getattr(ours, name),
            )
        vars(ours)["NETNS_RUN_DIR"] = real.NETNS_RUN_DIR
        sys.modules["pyroute2.netns"] = ours
        sys.modules["pyroute2.netns.manager"] = ours_manager
        _rebind(pairs, (real, ours, ours_manager))
        vars(package)["netns"] = ours
        back = {id(new): (new, old) for old, new in pairs.values()}
        _state = _Installed(
            real, ours, ours_manager, back, saved_modules, saved_run_dir
        )


def uninstall() -> None:
    """Put pyroute2's own ``pyroute2.netns`` back everywhere.

    Idempotent: without a previous install() it does nothing.
    """
    global _state  # noqa: PLW0603 - one switch per process
    with _lock:
        state = _state
        if state is None:
            return
        # Also in the modules loaded while installed (they imported ours).
        _rebind(state.back, (state.real, state.ours, state.ours_manager))
        for name, saved in state.saved_modules.items():
            if name == "pyroute2:netns":
                package = sys.modules["pyroute2"]
                if saved is _MISSING:
                    vars(package).pop("netns", None)
                else:
                    vars(package)["netns"] = saved
            elif saved is _MISSING:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = saved
        vars(state.ours)["NETNS_RUN_DIR"] = state.saved_run_dir
        _state = None


def is_installed() -> bool:
    """Whether install() is in effect."""
    return _state is not None


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """install() for the ``with`` block, then uninstall() (if it was not
    installed before)."""
    was = is_installed()
    install()
    try:
        yield
    finally:
        if not was:
            uninstall()
