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
from .nsid import (
    NetnsEntry,
    NsidEntry,
    get_nsid,
    list_ids,
    list_netns,
    set_nsid,
)

__version__ = "0.1.0"

__all__ = [
    "InvalidNameError",
    "NamespaceBusyError",
    "NamespaceExistsError",
    "NamespaceLimitError",
    "NamespaceNotFoundError",
    "NamespaceRestoreError",
    "NetnsEntry",
    "NetnsError",
    "NetnsOSError",
    "NetnsPermissionError",
    "NotANamespaceError",
    "NsidEntry",
    "Outcome",
    "__version__",
    "add",
    "add_many",
    "attach",
    "delete",
    "delete_all",
    "delete_many",
    "get_nsid",
    "list_ids",
    "list_names",
    "list_netns",
    "set_nsid",
]
