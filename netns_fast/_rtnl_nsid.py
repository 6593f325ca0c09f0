"""RTM_NEWNSID and RTM_GETNSID through pyroute2, as iproute2 sends them.

This is the only module that imports pyroute2, and only the nsid verbs of
the CLI (``set``, ``list-id``) and the nsid API import it, lazily: pyroute2
takes about 100 ms to import.

pyroute2 builds and parses the messages (``nsidmsg``, ``nlmsgerr``) and
owns the socket (``IPRSocket``, no event loop). The replies are read here,
so that the kernel's ext-ack text, the errno and whether an error ended a
dump (NLMSG_DONE) or a request (NLMSG_ERROR) all reach the caller exactly.
Every call uses its own socket, made in the calling thread's network
namespace, so calls are thread-safe and relative to that namespace.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, NamedTuple, Optional

from pyroute2.netlink import (
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from pyroute2.netlink.rtnl import RTM_GETNSID, RTM_NEWNSID
from pyroute2.netlink.rtnl.iprsocket import IPRSocket
from pyroute2.netlink.rtnl.nsidmsg import nsidmsg

# NETNSA_NSID value that asks the kernel to pick an id (iproute2's "auto").
NSID_AUTO = -1
_U32 = 1 << 32
_HDR_LEN = 16
_DONE_LEN = _HDR_LEN + 4
# Big enough for any single reply datagram of a dump.
_RECV_SIZE = 65536


class RtnlError(Exception):
    """The kernel refused a request: errno and its ext-ack text."""

    def __init__(
        self, err: int, message: Optional[bytes], in_done: bool = False
    ) -> None:
        super().__init__(err, message)
        self.errno = err
        self.message = message
        """The ext-ack message (None when the kernel sent none)."""
        self.in_done = in_done
        """True when the error ended a dump (NLMSG_DONE, not NLMSG_ERROR)."""
        self.partial: list[NsidReply] = []
        """Entries a dump delivered before it failed."""


class NsidReply(NamedTuple):
    """One RTM_NEWNSID: nsid and current-nsid as signed ints."""

    nsid: int
    """The nsid (-1: unassigned)."""
    current: Optional[int]
    """NETNSA_CURRENT_NSID (-1: unassigned), None when the kernel sent
    none (only a query with a target netns has it)."""
    dump_intr: bool = False
    """The kernel flagged the dump as inconsistent (NLM_F_DUMP_INTR)."""


def _s32(value: int) -> int:
    return value - _U32 if value >= 1 << 31 else value


def _u32(value: int) -> int:
    return value % _U32


def _error_of(msg: Any) -> Optional[RtnlError]:
    """The error an NLMSG_ERROR or NLMSG_DONE carries, if any."""
    code = msg.get("error")
    header = msg["header"]
    if code is None and header["length"] >= _DONE_LEN:
        # pyroute2 decodes the error of an NLMSG_DONE only when ext-ack
        # attributes follow it (NLM_F_ACK_TLVS): read the int itself.
        (code,) = struct.unpack_from("i", msg.data, msg.offset + _HDR_LEN)
    if not code:
        return None
    text = msg.get_attr("NLMSGERR_ATTR_MSG")
    message = None if text is None else text.encode("utf-8", "replace")
    done = msg["header"]["type"] == NLMSG_DONE
    return RtnlError(abs(code), message, in_done=done)


def _reply_of(msg: Any) -> NsidReply:
    nsid = msg.get_attr("NETNSA_NSID")
    current = msg.get_attr("NETNSA_CURRENT_NSID")
    return NsidReply(
        -1 if nsid is None else _s32(nsid),
        None if current is None else _s32(current),
        bool(msg["header"]["flags"] & NLM_F_DUMP_INTR),
    )


class _Channel:
    """One netlink socket and its replies, by sequence number."""

    def __init__(self, strict: bool) -> None:
        # ip's main socket (set, dump) checks strictly; its nsid socket
        # (single get) does not. Both ask for ext-ack messages.
        self.sock = IPRSocket(ext_ack=True, strict_check=strict)
        self.seq = 0

    def __enter__(self) -> _Channel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def request(
        self, msg_type: int, flags: int, attrs: list[tuple[str, int]]
    ) -> Iterator[Any]:
        """Send one request; yield the messages that answer it."""
        msg = nsidmsg()
        msg["attrs"] = attrs
        self.seq += 1
        self.sock.put(msg, msg_type, flags, msg_seq=self.seq)
        while True:
            for reply in self._recv():
                if reply["header"]["sequence_number"] == self.seq:
                    yield reply

    def _recv(self) -> list[Any]:
        while True:
            try:
                data = self.sock.socket.recv(_RECV_SIZE)
            except InterruptedError:
                continue
            return list(self.sock.marshal.parse(data))


def set_nsid_fd(fd: int, nsid: int) -> None:
    """RTM_NEWNSID {NETNSA_FD, NETNSA_NSID} with an ACK (nsid -1: auto)."""
    attrs = [("NETNSA_FD", fd), ("NETNSA_NSID", _u32(nsid))]
    with _Channel(strict=True) as chan:
        for reply in chan.request(
            RTM_NEWNSID, NLM_F_REQUEST | NLM_F_ACK, attrs
        ):
            if reply["header"]["type"] == NLMSG_ERROR:
                err = _error_of(reply)
                if err is not None:
                    raise err
                return


def get_by_nsid(nsid: int, target_nsid: Optional[int]) -> NsidReply:
    """RTM_GETNSID {NETNSA_NSID[, NETNSA_TARGET_NSID]}: one entry."""
    attrs = [("NETNSA_NSID", _u32(nsid))]
    if target_nsid is not None:
        attrs.append(("NETNSA_TARGET_NSID", _u32(target_nsid)))
    with _Channel(strict=False) as chan:
        for reply in chan.request(RTM_GETNSID, NLM_F_REQUEST, attrs):
            kind = reply["header"]["type"]
            if kind == NLMSG_ERROR:
                err = _error_of(reply)
                if err is not None:
                    raise err
            elif kind == RTM_NEWNSID:
                return _reply_of(reply)
    raise AssertionError("unreachable")  # pragma: no cover


def dump(target_nsid: Optional[int], strict: bool = True) -> list[NsidReply]:
    """RTM_GETNSID dump [NETNSA_TARGET_NSID]: every nsid, ascending.

    The kernel reads NETNSA_TARGET_NSID only on a socket with strict
    checking; without it (ip's batch mode) the target is ignored and the
    caller's own ids are dumped. A failure raises RtnlError with what came
    before it in ``partial``.
    """
    attrs = []
    if target_nsid is not None:
        attrs.append(("NETNSA_TARGET_NSID", _u32(target_nsid)))
    entries: list[NsidReply] = []
    with _Channel(strict=strict) as chan:
        for reply in chan.request(
            RTM_GETNSID, NLM_F_REQUEST | NLM_F_DUMP, attrs
        ):
            kind = reply["header"]["type"]
            if kind in (NLMSG_DONE, NLMSG_ERROR):
                err = _error_of(reply)
                if err is not None:
                    err.partial = entries
                    raise err
                if kind == NLMSG_DONE:
                    return entries
            elif kind == RTM_NEWNSID:
                entries.append(_reply_of(reply))
    raise AssertionError("unreachable")  # pragma: no cover
