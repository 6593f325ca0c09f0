"""RTM_NEWNSID and RTM_GETNSID through pyroute2, as iproute2 sends them.

This is the only module that imports pyroute2, and only the nsid verbs of
the CLI (``set``, ``list-id``) and the nsid API import it, lazily: pyroute2
takes about 100 ms to import.

pyroute2 owns the socket (``IPRSocket``: plain, no event loop), encodes
the requests (``nsidmsg``, attributes in ip's order) and decodes the
RTM_NEWNSID replies. The replies are split and the errors (NLMSG_ERROR,
and NLMSG_DONE ending a dump) are read here, TLVs included, so that the
kernel's ext-ack text, the errno and which of the two carried the error
reach the caller exactly as ip sees them. (pyroute2 0.9 drops the error of
an NLMSG_DONE without TLVs, and misreads a short NLMSG_DONE with TLVs.)

Every call uses its own socket, made in the calling thread's network
namespace, so calls are thread-safe and relative to that namespace.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, NamedTuple, Optional

from pyroute2.netlink import (
    NLM_F_ACK,
    NLM_F_ACK_TLVS,
    NLM_F_CAPPED,
    NLM_F_DUMP,
    NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from pyroute2.netlink.rtnl import RTM_GETNSID, RTM_NEWNSID
from pyroute2.netlink.rtnl.iprsocket import IPRSocket
from pyroute2.netlink.rtnl.nsidmsg import nsidmsg

_U32 = 1 << 32
_HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_NLA = struct.Struct("=HH")  # nlattr: len, type
_NLMSGERR_ATTR_MSG = 1
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


class Message(NamedTuple):
    """One netlink message of a datagram."""

    kind: int
    flags: int
    seq: int
    data: bytes
    """The whole message, header included."""


def _s32(value: int) -> int:
    return value - _U32 if value >= 1 << 31 else value


def split(data: bytes) -> list[Message]:
    """The messages of one datagram (NLMSG_OK / NLMSG_NEXT)."""
    messages = []
    pos = 0
    while len(data) - pos >= _HDR.size:
        length, kind, flags, seq, _ = _HDR.unpack_from(data, pos)
        if length < _HDR.size or length > len(data) - pos:
            break
        messages.append(Message(kind, flags, seq, data[pos : pos + length]))
        pos += (length + 3) & ~3
    return messages


def _ext_ack_text(data: bytes, start: int) -> Optional[bytes]:
    """NLMSGERR_ATTR_MSG among the attributes from start on."""
    pos = (start + 3) & ~3
    while len(data) - pos >= _NLA.size:
        length, kind = _NLA.unpack_from(data, pos)
        if length < _NLA.size or length > len(data) - pos:
            break
        if kind & 0x3FFF == _NLMSGERR_ATTR_MSG:
            return data[pos + _NLA.size : pos + length].split(b"\0", 1)[0]
        pos += (length + 3) & ~3
    return None


def error_of(msg: Message) -> Optional[RtnlError]:
    """The error an NLMSG_ERROR or NLMSG_DONE carries (None: success)."""
    data = msg.data
    if len(data) < _HDR.size + 4:
        return None
    (code,) = struct.unpack_from("=i", data, _HDR.size)
    if code == 0:
        return None
    start = _HDR.size + 4
    if msg.kind == NLMSG_ERROR:
        # nlmsgerr: the request's header, or the whole request unless
        # the kernel capped it, comes before the TLVs.
        inner = _HDR.size
        if not msg.flags & NLM_F_CAPPED and len(data) >= start + 4:
            inner = max(inner, struct.unpack_from("=I", data, start)[0])
        start += inner
    text = _ext_ack_text(data, start) if msg.flags & NLM_F_ACK_TLVS else None
    return RtnlError(abs(code), text, in_done=msg.kind == NLMSG_DONE)


def reply_of(decoded: Any, flags: int) -> NsidReply:
    """NsidReply of an RTM_NEWNSID that pyroute2 decoded."""
    nsid = decoded.get_attr("NETNSA_NSID")
    current = decoded.get_attr("NETNSA_CURRENT_NSID")
    return NsidReply(
        -1 if nsid is None else _s32(nsid),
        None if current is None else _s32(current),
        bool(flags & NLM_F_DUMP_INTR),
    )


class _Channel:
    """One netlink socket; the answers to its requests."""

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
    ) -> Iterator[tuple[Message, Optional[RtnlError], Optional[NsidReply]]]:
        """Send one request; yield each message answering it, with the
        error it carries or the RTM_NEWNSID it is."""
        msg = nsidmsg()
        msg["attrs"] = attrs
        self.seq += 1
        self.sock.put(msg, msg_type, flags, msg_seq=self.seq)
        while True:
            try:
                data = self.sock.socket.recv(_RECV_SIZE)
            except InterruptedError:
                continue
            for answer in split(data):
                if answer.seq != self.seq:
                    continue
                if answer.kind in (NLMSG_ERROR, NLMSG_DONE):
                    yield answer, error_of(answer), None
                elif answer.kind == RTM_NEWNSID:
                    for decoded in self.sock.marshal.parse(answer.data):
                        yield answer, None, reply_of(decoded, answer.flags)


def set_nsid_fd(fd: int, nsid: int) -> None:
    """RTM_NEWNSID {NETNSA_FD, NETNSA_NSID} with an ACK (nsid -1: auto)."""
    attrs = [("NETNSA_FD", fd), ("NETNSA_NSID", nsid % _U32)]
    with _Channel(strict=True) as chan:
        flags = NLM_F_REQUEST | NLM_F_ACK
        for answer, err, _ in chan.request(RTM_NEWNSID, flags, attrs):
            if err is not None:
                raise err
            if answer.kind == NLMSG_ERROR:
                return  # the ACK


def get_by_nsid(nsid: int, target_nsid: Optional[int]) -> NsidReply:
    """RTM_GETNSID {NETNSA_NSID[, NETNSA_TARGET_NSID]}: one entry."""
    attrs = [("NETNSA_NSID", nsid % _U32)]
    if target_nsid is not None:
        attrs.append(("NETNSA_TARGET_NSID", target_nsid % _U32))
    with _Channel(strict=False) as chan:
        for _, err, reply in chan.request(RTM_GETNSID, NLM_F_REQUEST, attrs):
            if err is not None:
                raise err
            if reply is not None:
                return reply
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
        attrs.append(("NETNSA_TARGET_NSID", target_nsid % _U32))
    entries: list[NsidReply] = []
    with _Channel(strict=strict) as chan:
        flags = NLM_F_REQUEST | NLM_F_DUMP
        for answer, err, reply in chan.request(RTM_GETNSID, flags, attrs):
            if err is not None:
                err.partial = entries
                raise err
            if reply is not None:
                entries.append(reply)
            elif answer.kind == NLMSG_DONE:
                return entries
    raise AssertionError("unreachable")  # pragma: no cover
