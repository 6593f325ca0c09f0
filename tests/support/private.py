"""The private modules of netns_fast that the tests reach into, imported
here and nowhere else in the tests (test_stub.py and test_errors.py, at the
C boundary, import _sys and _netns themselves).

Tests use the public names (``netns_fast.X``) wherever they can; what they
need beyond those comes from this module, so that renaming a private module
touches one line here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netns_fast import _gc, _leaks, _names, _owner, _sys, _vrf
from netns_fast import _handle as handle
from netns_fast import _procs as procs
from netns_fast import _rootless as rootless
from netns_fast import _spawn as spawn
from netns_fast import _wire as wire
from netns_fast._netns import ffi, lib
from netns_fast._sys import probe_netns
from netns_fast._vrf import unescape_mount_field
from netns_fast.cli import _batch as cli_batch
from netns_fast.cli import _ctx as cli_ctx
from netns_fast.cli import _json as cli_json
from netns_fast.cli import _options as cli_options
from netns_fast.cli import _usage as cli_usage
from netns_fast.cli import exec as cli_exec
from netns_fast.cli import list as cli_list
from netns_fast.cli import nsid as cli_nsid
from netns_fast.cli import procs as cli_procs
from netns_fast.cli import rootless as cli_rootless

if TYPE_CHECKING:
    from types import ModuleType


def rtnl_nsid() -> ModuleType:
    """netns_fast._rtnl_nsid, imported on the call (it imports pyroute2)."""
    from netns_fast import _rtnl_nsid

    return _rtnl_nsid


__all__ = [
    "_gc",
    "_leaks",
    "_names",
    "_owner",
    "_sys",
    "_vrf",
    "cli_batch",
    "cli_ctx",
    "cli_exec",
    "cli_json",
    "cli_list",
    "cli_nsid",
    "cli_options",
    "cli_procs",
    "cli_rootless",
    "cli_usage",
    "ffi",
    "handle",
    "lib",
    "probe_netns",
    "procs",
    "rootless",
    "rtnl_nsid",
    "spawn",
    "unescape_mount_field",
    "wire",
]
