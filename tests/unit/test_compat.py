"""The pyroute2 drop-in without privilege: signatures and argument errors."""

from __future__ import annotations

import inspect
import os

import pytest

from netns_fast.compat import pyroute2_netns


def test_compat_signatures_match_pyroute2() -> None:
    """The compat functions have pyroute2 0.9.7's signatures."""
    expected = {
        "create": "(netns, libc=None)",
        "attach": "(netns, pid, libc=None)",
        "remove": "(netns, libc=None)",
        "getnsfd": "(netns, flags=0, libc=None, fork=True)",
        "setns": f"(netns, flags={os.O_CREAT}, libc=None, fork=True)",
        "pushns": "(newns=None, libc=None)",
        "popns": "(libc=None)",
        "dropns": "(libc=None)",
        "listnetns": "(nspath=None)",
        "ns_pids": "(nspath='/var/run/netns')",
        "pid_to_ns": "(pid=1, nspath='/var/run/netns')",
        "_create": "(netns, libc=None, pid=None)",
    }
    for name, sig in expected.items():
        fn = getattr(pyroute2_netns, name)
        params = inspect.signature(fn).parameters.values()
        got = (
            "("
            + ", ".join(
                p.replace(annotation=p.empty).__str__() for p in params
            )
            + ")"
        )
        assert got == sig, name


def test_compat_getnsfd_rejects_other_types() -> None:
    """getnsfd raises RuntimeError for a float, as pyroute2 does."""
    with pytest.raises(RuntimeError, match="string or an open fd"):
        pyroute2_netns.getnsfd(1.5)  # type: ignore[arg-type]


def test_compat_popns_on_empty_stack() -> None:
    """popns/dropns with nothing pushed raise IndexError, per thread."""
    with pytest.raises(IndexError):
        pyroute2_netns.popns()
    with pytest.raises(IndexError):
        pyroute2_netns.dropns()
