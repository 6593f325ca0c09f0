"""netns_fast: Linux network namespaces at the kernel's speed.

An ``ip netns`` compatible CLI (``netns-fast``) and an in-process,
thread-safe, parallel API over a small C core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

__version__ = "0.1.0"

# -- farm: handles, enter, pool (imported on first use) ----------------------
if TYPE_CHECKING:
    from .handle import Netns, enter, run_in, socket
    from .pool import Pool, PoolStats

_LAZY = {
    "Netns": "handle",
    "enter": "handle",
    "run_in": "handle",
    "socket": "handle",
    "Pool": "pool",
    "PoolStats": "pool",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "InvalidNameError",
    "NamespaceBusyError",
    "NamespaceExistsError",
    "NamespaceLimitError",
    "NamespaceNotFoundError",
    "NamespaceRestoreError",
    "Netns",
    "NetnsError",
    "NetnsOSError",
    "NetnsPermissionError",
    "NotANamespaceError",
    "Outcome",
    "Pool",
    "PoolStats",
    "__version__",
    "add",
    "add_many",
    "attach",
    "delete",
    "delete_all",
    "delete_many",
    "enter",
    "list_names",
    "run_in",
    "socket",
]
