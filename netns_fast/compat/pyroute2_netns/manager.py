"""``pyroute2.netns.manager``: NetNSManager on netns_fast's functions.

The same class as pyroute2 0.9.x's (an inotify watch on the run
directories with an IPRoute for the namespace info), whose ``create`` and
``remove`` go through :mod:`netns_fast.compat.pyroute2_netns` (no fork).
It needs pyroute2 (for Inotify, IPRoute and the netlink messages), which
is imported with this module, never with the drop-in itself.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from typing import Any, Optional

from pyroute2.inotify.inotify_fd import Inotify
from pyroute2.iproute.linux import IPRoute
from pyroute2.netlink.exceptions import NetlinkError, SkipInode
from pyroute2.netlink.rtnl import RTM_DELNETNS, RTM_NEWNETNS
from pyroute2.netlink.rtnl.nsinfmsg import nsinfmsg

from netns_fast.compat import pyroute2_netns as netns

IN_CREATE = 0x100
IN_DELETE = 0x200
DEFAULT_PATHS = ("/var/run/netns", "/var/run/docker/netns")


def _tag(info: Any, kind: int, target: str) -> Any:
    """Mark an nsinfmsg as an RTM_NEWNETNS/RTM_DELNETNS event."""
    info["header"]["type"] = kind
    info["header"]["target"] = target
    info["event"] = "RTM_NEWNETNS" if kind == RTM_NEWNETNS else "RTM_DELNETNS"
    return info


class NetNSManager(Inotify):  # type: ignore[misc]  # pyroute2: untyped
    """Namespace events and add/del requests in netlink message form."""

    def __init__(
        self,
        libc: Any = None,
        path: Optional[Any] = None,
        target: str = "netns_manager",
    ) -> None:
        super().__init__(libc, set(path or []))
        if not self.path:
            for directory in DEFAULT_PATHS:
                with contextlib.suppress(OSError):
                    self.register_path(directory)
        self.ipr = IPRoute(target=target)
        self.registry: dict[str, Any] = {}
        self.update()
        self.target = target

    def update(self) -> None:
        """Refresh the registry of namespace infos from the IPRoute."""
        self.ipr.netns_path = self.path
        for info in self.ipr.get_netns_info():
            self.registry[info.get_attr("NSINFO_PATH")] = info

    def get(self) -> Iterator[Any]:
        """Yield an nsinfmsg for each namespace created or removed."""
        for msg in super().get():
            info = nsinfmsg()
            if msg is None:
                info["header"]["error"] = NetlinkError(errno.ECONNRESET)
                yield _tag(info, RTM_DELNETNS, self.target)
                return
            path = "{path}/{name}".format(**msg)
            info["header"]["error"] = None
            info["header"]["target"] = self.target
            if path not in self.registry:
                self.update()
            if path in self.registry:
                info.load(self.registry[path])
            else:
                info["attrs"] = [("NSINFO_PATH", path)]
            del info["value"]
            if msg["mask"] & IN_DELETE:
                yield _tag(info, RTM_DELNETNS, self.target)
            elif msg["mask"] & IN_CREATE:
                yield _tag(info, RTM_NEWNETNS, self.target)

    def close(self, code: Any = None) -> None:
        """Close the IPRoute and the inotify watch."""
        self.ipr.close()
        super().close()

    def create(self, path: Any) -> tuple[Any, ...]:
        """Create a namespace; its info as a one-message tuple."""
        netnspath = netns._get_netnspath(path)
        try:
            netns.create(netnspath, self.libc)
        except OSError as exc:
            raise NetlinkError(exc.errno) from exc
        info = self.ipr._dump_one_ns(netnspath, set())
        del info["value"]
        return (_tag(info, RTM_NEWNETNS, self.target),)

    def remove(self, path: Any) -> tuple[Any, ...]:
        """Remove a namespace; its last info as a one-message tuple."""
        netnspath = netns._get_netnspath(path)
        try:
            info = self.ipr._dump_one_ns(netnspath, set())
        except SkipInode as exc:
            raise NetlinkError(exc.code) from exc
        _tag(info, RTM_DELNETNS, self.target)
        del info["value"]
        try:
            netns.remove(netnspath, self.libc)
        except OSError as exc:
            raise NetlinkError(exc.errno) from exc
        return (info,)

    def netns(self, cmd: str, *argv: Any, **kwarg: Any) -> tuple[Any, ...]:
        """The RTNL-style entry point: add, del, get, set."""
        path = kwarg.get("path", kwarg.get("NSINFO_PATH"))
        if path is None:
            raise ValueError("netns spec is required")
        netnspath = netns._get_netnspath(path)
        if cmd == "add":
            return self.create(netnspath)
        if cmd == "del":
            return self.remove(netnspath)
        if cmd not in ("get", "set"):
            raise ValueError("method not supported")
        for item in self.dump():
            if item.get_attr("NSINFO_PATH") == netnspath:
                return (item,)
        return ()

    def dump(self, groups: Any = None) -> Any:
        """Every namespace's info."""
        return self.ipr.get_netns_info()
