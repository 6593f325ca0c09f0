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
    from .handle import Netns, enter, run_in, socket
    from .nsid import (
        NetnsEntry,
        NsidEntry,
        get_nsid,
        list_ids,
        list_netns,
        set_nsid,
    )
    from .pool import Pool, PoolStats
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
    from .spawn import Process, run, spawn

__version__ = "0.1.0"

# Names whose modules are imported on first use, so that `import netns_fast`
# and the CLI stay light (spawn imports subprocess, the pool starts
# threads, set_nsid and list_ids pull in pyroute2).
_LAZY = {
    "Process": "spawn",
    "run": "spawn",
    "spawn": "spawn",
    "Netns": "handle",
    "enter": "handle",
    "run_in": "handle",
    "socket": "handle",
    "NetnsEntry": "nsid",
    "NsidEntry": "nsid",
    "get_nsid": "nsid",
    "list_ids": "nsid",
    "list_netns": "nsid",
    "set_nsid": "nsid",
    "Pool": "pool",
    "PoolStats": "pool",
    "AsyncMonitor": "procs",
    "Monitor": "procs",
    "NetnsEvent": "procs",
    "identify": "procs",
    "monitor": "procs",
    "monitor_async": "procs",
    "pids": "procs",
    "pids_by_netns": "procs",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    # Importing the submodule bound e.g. netns_fast.spawn to the module:
    # the documented function wins.
    globals()[name] = value
    return value


__all__ = [
    "AsyncMonitor",
    "InvalidNameError",
    "Monitor",
    "NamespaceBusyError",
    "NamespaceExistsError",
    "NamespaceLimitError",
    "NamespaceNotFoundError",
    "NamespaceRestoreError",
    "Netns",
    "NetnsEntry",
    "NetnsError",
    "NetnsEvent",
    "NetnsOSError",
    "NetnsPermissionError",
    "NotANamespaceError",
    "NsidEntry",
    "Outcome",
    "Pool",
    "PoolStats",
    "Process",
    "__version__",
    "add",
    "add_many",
    "attach",
    "delete",
    "delete_all",
    "delete_many",
    "enter",
    "gc",
    "get_nsid",
    "identify",
    "list_ids",
    "list_names",
    "list_netns",
    "monitor",
    "monitor_async",
    "pids",
    "pids_by_netns",
    "run",
    "run_in",
    "set_nsid",
    "socket",
    "spawn",
]
