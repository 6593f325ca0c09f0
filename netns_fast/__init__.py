"""netns_fast: Linux network namespaces at the kernel's speed.

An ``ip netns`` compatible CLI (``netns-fast``) and an in-process,
thread-safe, parallel API over a small C core.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from ._gc import gc
from .api import (
    Outcome,
    add,
    add_many,
    attach,
    delete,
    delete_all,
    delete_many,
    list_names,
)
from .exceptions import (
    InvalidNameError,
    NamespaceBusyError,
    NamespaceExistsError,
    NamespaceLimitError,
    NamespaceNotFoundError,
    NamespaceRestoreError,
    NetnsError,
    NetnsOSError,
    NetnsPermissionError,
    NotANamespaceError,
)

if TYPE_CHECKING:
    from .spawn import Process, run, spawn

__version__ = "0.1.0"

__all__ = [
    "InvalidNameError",
    "NamespaceBusyError",
    "NamespaceExistsError",
    "NamespaceLimitError",
    "NamespaceNotFoundError",
    "NamespaceRestoreError",
    "NetnsError",
    "NetnsOSError",
    "NetnsPermissionError",
    "NotANamespaceError",
    "Outcome",
    "Process",
    "__version__",
    "add",
    "add_many",
    "attach",
    "delete",
    "delete_all",
    "delete_many",
    "gc",
    "list_names",
    "run",
    "spawn",
]


def __getattr__(name: str) -> object:
    # spawn, run and Process import subprocess: load them on first use so
    # that `import netns_fast` (and the CLI) stay light.
    if name in ("Process", "run", "spawn"):
        module = import_module(".spawn", __name__)
        exports = {n: getattr(module, n) for n in ("Process", "run", "spawn")}
        # The submodule import bound netns_fast.spawn to the module: the
        # function wins, as the name is documented.
        globals().update(exports)
        return exports[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
