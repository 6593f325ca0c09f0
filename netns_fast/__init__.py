"""netns_fast: Linux network namespaces at the kernel's speed.

An ``ip netns`` compatible CLI (``netns-fast``) and an in-process,
thread-safe, parallel API over a small C core.
"""

from __future__ import annotations

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
from .procs import (
    AsyncMonitor,
    Monitor,
    NetnsEvent,
    identify,
    monitor,
    monitor_async,
    pids,
    pids_by_netns,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncMonitor",
    "InvalidNameError",
    "Monitor",
    "NamespaceBusyError",
    "NamespaceExistsError",
    "NamespaceLimitError",
    "NamespaceNotFoundError",
    "NamespaceRestoreError",
    "NetnsError",
    "NetnsEvent",
    "NetnsOSError",
    "NetnsPermissionError",
    "NotANamespaceError",
    "Outcome",
    "__version__",
    "add",
    "add_many",
    "attach",
    "delete",
    "delete_all",
    "delete_many",
    "identify",
    "list_names",
    "monitor",
    "monitor_async",
    "pids",
    "pids_by_netns",
]
