"""netns_fast: Linux network namespaces at the kernel's speed.

An ``ip netns`` compatible CLI (``netns-fast``) and an in-process,
thread-safe, parallel API over a small C core.

This module is the public API. The names below live in private modules,
one per verb family (``_lifecycle``, ``_nsid``, ``_procs``, ``_spawn``,
``_handle``, ``_pool``, ``_wire``, ``_topology``, ``_rootless``, ``_gc``
and ``_owner``), next to the public ``exceptions``, ``cli``,
``pytest_plugin`` and ``compat``. Each name's module is imported on first
use, so that ``import netns_fast`` loads nothing and the CLI starts at the
interpreter's floor (spawn imports subprocess, the pool starts threads,
set_nsid and list_ids pull in pyroute2).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    # What type checkers see: the same names as _EXPORTS below.
    from ._gc import gc as gc
    from ._handle import Netns as Netns
    from ._handle import enter as enter
    from ._handle import run_in as run_in
    from ._handle import socket as socket
    from ._lifecycle import Outcome as Outcome
    from ._lifecycle import add as add
    from ._lifecycle import add_many as add_many
    from ._lifecycle import attach as attach
    from ._lifecycle import delete as delete
    from ._lifecycle import delete_all as delete_all
    from ._lifecycle import delete_many as delete_many
    from ._lifecycle import list_names as list_names
    from ._nsid import NetnsEntry as NetnsEntry
    from ._nsid import NsidEntry as NsidEntry
    from ._nsid import get_nsid as get_nsid
    from ._nsid import list_ids as list_ids
    from ._nsid import list_netns as list_netns
    from ._nsid import list_with_nsids as list_with_nsids
    from ._nsid import set_nsid as set_nsid
    from ._owner import OwnedName as OwnedName
    from ._owner import owners as owners
    from ._pool import Pool as Pool
    from ._pool import PoolStats as PoolStats
    from ._procs import AsyncMonitor as AsyncMonitor
    from ._procs import Monitor as Monitor
    from ._procs import NetnsEvent as NetnsEvent
    from ._procs import identify as identify
    from ._procs import monitor as monitor
    from ._procs import monitor_async as monitor_async
    from ._procs import pids as pids
    from ._procs import pids_by_netns as pids_by_netns
    from ._rootless import World as World
    from ._rootless import unshare_rootless as unshare_rootless
    from ._spawn import Process as Process
    from ._spawn import create_subprocess_exec as create_subprocess_exec
    from ._spawn import run as run
    from ._spawn import spawn as spawn
    from ._topology import Interface as Interface
    from ._topology import Network as Network
    from ._topology import Topology as Topology
    from ._topology import WiredLink as WiredLink
    from ._wire import Address as Address
    from ._wire import Link as Link
    from ._wire import Route as Route
    from .exceptions import InvalidNameError as InvalidNameError
    from .exceptions import NamespaceBusyError as NamespaceBusyError
    from .exceptions import NamespaceExistsError as NamespaceExistsError
    from .exceptions import NamespaceLimitError as NamespaceLimitError
    from .exceptions import NamespaceNotFoundError as NamespaceNotFoundError
    from .exceptions import NamespaceRestoreError as NamespaceRestoreError
    from .exceptions import NetnsError as NetnsError
    from .exceptions import NetnsFileNotFoundError as NetnsFileNotFoundError
    from .exceptions import NetnsOSError as NetnsOSError
    from .exceptions import NetnsPermissionError as NetnsPermissionError
    from .exceptions import NetnsTimeoutError as NetnsTimeoutError
    from .exceptions import NotANamespaceError as NotANamespaceError

    __version__: str

# Every public name, by the module that defines it.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "exceptions": (
        "InvalidNameError",
        "NamespaceBusyError",
        "NamespaceExistsError",
        "NamespaceLimitError",
        "NamespaceNotFoundError",
        "NamespaceRestoreError",
        "NetnsError",
        "NetnsOSError",
        "NetnsFileNotFoundError",
        "NetnsPermissionError",
        "NetnsTimeoutError",
        "NotANamespaceError",
    ),
    "_lifecycle": (
        "Outcome",
        "add",
        "add_many",
        "attach",
        "delete",
        "delete_all",
        "delete_many",
        "list_names",
    ),
    "_gc": ("gc",),
    "_owner": ("OwnedName", "owners"),
    "_nsid": (
        "NetnsEntry",
        "NsidEntry",
        "get_nsid",
        "list_ids",
        "list_netns",
        "list_with_nsids",
        "set_nsid",
    ),
    "_procs": (
        "AsyncMonitor",
        "Monitor",
        "NetnsEvent",
        "identify",
        "monitor",
        "monitor_async",
        "pids",
        "pids_by_netns",
    ),
    "_rootless": ("World", "unshare_rootless"),
    "_spawn": ("Process", "create_subprocess_exec", "run", "spawn"),
    "_handle": ("Netns", "enter", "run_in", "socket"),
    "_pool": ("Pool", "PoolStats"),
    "_wire": ("Address", "Link", "Route"),
    "_topology": ("Interface", "Network", "Topology", "WiredLink"),
}

_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}

# The public submodules, also imported on first use.
_MODULES = ("cli", "compat", "exceptions", "pytest_plugin")

__all__ = [*_LAZY, "__version__"]  # noqa: PLE0604 (from _EXPORTS)


def _version() -> str:
    """The installed distribution's version (written once, in
    pyproject.toml); "0+unknown" for a checkout that was never installed."""
    from importlib.metadata import (  # noqa: PLC0415 (costly: -V only)
        PackageNotFoundError,
        version,
    )

    try:
        return version(__name__)
    except PackageNotFoundError:
        return "0+unknown"


def _submodule(name: str) -> object:
    """netns_fast.NAME, imported now."""
    # __import__ rather than importlib.import_module: one import fewer.
    __import__(f"{__name__}.{name}")
    return sys.modules[f"{__name__}.{name}"]


def __getattr__(name: str) -> object:
    if name == "__version__":
        value: object = _version()
    elif name in _MODULES:
        value = _submodule(name)
    else:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(
                f"module {__name__!r} has no attribute {name!r}"
            )
        value = getattr(_submodule(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
