"""The network inside namespaces, as the wiring tests see it: a ping made
inside a namespace (raw ICMP/ICMPv6 sockets; no ping binary needed), and a
snapshot of a namespace's links, addresses and routes that compares
across namespaces (links by name, no indexes or random MACs).
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from typing import NamedTuple

from netns_fast import Netns
from netns_fast import socket as ns_socket

ICMP_ECHO = 8
ICMP_ECHOREPLY = 0
ICMP6_ECHO = 128
ICMP6_ECHOREPLY = 129


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ping(ns: Netns, addr: str, timeout: float = 2.0) -> bool:
    """Whether an ICMP (or ICMPv6) echo sent from inside ``ns`` to
    ``addr`` is answered within ``timeout`` seconds."""
    v6 = ":" in addr
    family = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    ident = os.getpid() & 0xFFFF
    payload = b"netns_fast"
    with ns_socket(ns, family, socket.SOCK_RAW, proto) as s:
        kind, want = (
            (ICMP6_ECHO, ICMP6_ECHOREPLY)
            if v6
            else (
                ICMP_ECHO,
                ICMP_ECHOREPLY,
            )
        )
        head = struct.pack("!BBHHH", kind, 0, 0, ident, 1)
        # The kernel fills in an ICMPv6 checksum itself.
        csum = 0 if v6 else _checksum(head + payload)
        s.sendto(
            struct.pack("!BBHHH", kind, 0, csum, ident, 1) + payload, (addr, 0)
        )
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                return False
            data, peer = s.recvfrom(2048)
            icmp = data if v6 else data[(data[0] & 0x0F) * 4 :]
            if (
                peer[0] == addr
                and len(icmp) >= 8
                and icmp[0] == want
                and struct.unpack("!H", icmp[4:6])[0] == ident
            ):
                return True


class State(NamedTuple):
    """A namespace's links, addresses and routes, comparable across
    namespaces: links by name with kind, up, carrier, MTU and master's
    name; addresses as (link, cidr) without the link-local ones (their
    address comes from the random MAC); main-table routes as (dst,
    gateway, device)."""

    links: frozenset[tuple[str, str, bool, bool, int, str]]
    addrs: frozenset[tuple[str, str]]
    routes: frozenset[tuple[str, str, str]]


def state(ns: Netns) -> State:
    """The State of ``ns``, read with its own read-back API."""
    links = ns.links()
    names = {link.ifindex: link.name for link in links}
    return State(
        frozenset(
            (
                link.name,
                link.kind,
                link.up,
                link.lower_up,
                link.mtu,
                names.get(link.master or 0, ""),
            )
            for link in links
        ),
        frozenset(
            (names.get(a.ifindex, "?"), a.cidr)
            for a in ns.addrs()
            if not a.address.startswith("fe80:")
        ),
        frozenset(
            (r.dst, r.gateway or "", names.get(r.oif or 0, ""))
            for r in ns.routes(family=None)
            if not r.dst.startswith("fe80:")
        ),
    )
