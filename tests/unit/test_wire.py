"""Wiring without privilege: the input checks (ValueError before any
syscall), the requests each Netns method sends to the C core, the error
path at the C boundary (a fake nsf_wire_run), the records, and the socket
a handle keeps."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from typing import Any, Callable, Optional

import pytest

import netns_fast
from netns_fast import Netns
from support.private import _sys, ffi, lib, wire

# -- a handle without a namespace, and a fake C core --------------------------


@pytest.fixture
def ns() -> Iterator[Netns]:
    """A Netns over /dev/null: enough for everything short of the C."""
    handle = Netns(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
    yield handle
    handle.close()


class FakeWire:
    """Stands in for _sys.lib: records each plan nsf_wire_run gets (as
    dicts of the requests' fields) and answers with a set outcome."""

    def __init__(self) -> None:
        self.plans: list[list[dict[str, Any]]] = []
        self.rc = 0
        self.step = 0
        self.failed = -1
        self.msg = b""
        self.undone = 0
        self.fill: Optional[Callable[[Any], None]] = None

    def __getattr__(self, attr: str) -> Any:
        return getattr(lib, attr)

    def nsf_wire_run(self, plan: Any, step: Any) -> int:
        reqs = []
        for i in range(plan.nreqs):
            c = plan.reqs[i]
            reqs.append(
                {
                    "kind": c.kind,
                    "ns": c.ns,
                    "peer_ns": c.peer_ns,
                    "name": ffi.string(c.name) if c.name else None,
                    "peer_name": ffi.string(c.peer_name)
                    if c.peer_name
                    else None,
                    # An empty name ("": no master) is a set pointer.
                    "master": ffi.string(c.master) if c.master else None,
                    "up": c.up,
                    "mtu": c.mtu,
                    "mac": bytes(c.mac[0 : c.mac_len]),
                    "family": c.family,
                    "prefix": c.prefix,
                    "addr": bytes(c.addr[0:16]),
                    "gateway": bytes(c.gateway[0:16])
                    if c.has_gateway
                    else None,
                    "flags": c.flags,
                    "metric": c.metric,
                    "table": c.table,
                    "value": ffi.string(c.value) if c.value else None,
                    "timeout_ms": c.timeout_ms,
                }
            )
        self.plans.append(reqs)
        if self.fill is not None:
            self.fill(plan)
        plan.rc = self.rc
        plan.step = self.step
        plan.failed = self.failed
        plan.undone = self.undone
        plan.msg = self.msg
        step[0] = self.step
        return self.rc

    def nsf_wire_pair(self, pair: Any, step: Any) -> int:
        # The requests C makes of the pair, then the fake run.
        reqs = ffi.new("struct nsf_wire_req[]", lib.NSF_WIRE_PAIR_REQS)
        n = lib.nsf_wire_pair_reqs(pair, reqs)
        assert n > 0
        plan = pair.plan
        plan.ns = pair.ns
        plan.reqs = reqs
        plan.nreqs = n
        return self.nsf_wire_run(plan, step)

    def nsf_wire_links(self, *args: Any) -> int:
        raise AssertionError("no dump expected")

    def fail(self, err: int, step: int, failed: int, msg: bytes = b"") -> None:
        """Make the next plans fail with -err at step, at request failed."""
        self.rc = -err
        self.step = step
        self.failed = failed
        self.msg = msg
        self.undone = 1


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeWire:
    """_sys.lib replaced by a FakeWire."""
    fw = FakeWire()
    monkeypatch.setattr(_sys, "lib", fw)
    return fw


def _link_reply(plan: Any) -> None:
    """Fill every record a plan reads, as a GET's reply would."""
    for i in range(plan.nreqs):
        c = plan.reqs[i]
        if c.link:
            c.index = 7 + i
            c.link.index = 7 + i
            c.link.name = ffi.string(c.name)
            c.link.flags = 0x11043
            c.link.operstate = 6
            c.link.carrier = 1
            c.link.mtu = 1500
            c.link.mac_len = 6
            c.link.mac[0:6] = b"\x02\x00\x00\x00\x00\x0a"
            c.link.link_netnsid = -1


# -- the record's layout ------------------------------------------------------


def test_link_struct_matches_the_cdef() -> None:
    """_sys.LINK unpacks struct nsf_wire_link field by field: every field
    written through cffi comes back in its place."""
    c = ffi.new("struct nsf_wire_link *")
    c.index, c.master, c.link, c.link_netnsid = 7, 3, 9, -1
    c.flags, c.mtu, c.operstate, c.carrier = 0x11043, 1400, 6, 1
    c.mac_len = 6
    c.mac[0:6] = b"\x02\x00\x00\x00\x00\x0b"
    c.name = b"eth0"
    c.kind = b"veth"
    assert _sys.LINK.size == ffi.sizeof("struct nsf_wire_link")
    raw = _sys._raw_link(c)
    assert raw[:9] == (7, 3, 9, -1, 0x11043, 1400, 6, 1, 6)
    assert raw[9][:6] == b"\x02\x00\x00\x00\x00\x0b"
    assert (raw[10].rstrip(b"\0"), raw[11].rstrip(b"\0")) == (b"eth0", b"veth")
    link = wire._link(raw)
    assert (link.ifindex, link.name, link.kind, link.mtu) == (
        7,
        "eth0",
        "veth",
        1400,
    )
    assert (link.mac, link.operstate, link.carrier) == (
        "02:00:00:00:00:0b",
        "UP",
        True,
    )
    assert (link.master, link.peer_ifindex, link.peer_netnsid) == (3, 9, None)


# -- input checks -------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["eth0", "a", "x" * 15, "veth-1_2.3", "\u00e9" * 7, "br@0"]
)
def test_valid_interface_names(name: str) -> None:
    """Names the kernel takes pass, as bytes (UTF-8 counts in bytes)."""
    assert wire.check_ifname(name) == name.encode()


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 16,
        "\u00e9" * 8,
        "a/b",
        "a:b",
        "a b",
        "a\tb",
        "a\nb",
        ".",
        "..",
        "a\0b",
    ],
)
def test_invalid_interface_names(name: str) -> None:
    """Empty, over 15 bytes, '/', ':', whitespace, NUL, '.', '..' are
    refused with ValueError."""
    with pytest.raises(ValueError, match="invalid interface name"):
        wire.check_ifname(name)


def test_interface_name_must_be_str() -> None:
    """A non-str name is a TypeError."""
    with pytest.raises(TypeError):
        wire.check_ifname(b"eth0")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "family", "prefix"),
    [
        ("10.0.0.1/24", socket.AF_INET, 24),
        ("10.0.0.1", socket.AF_INET, 32),
        ("10.0.0.1/0", socket.AF_INET, 0),
        ("fd00::1/64", socket.AF_INET6, 64),
        ("fd00::1", socket.AF_INET6, 128),
    ],
)
def test_addresses_parse(text: str, family: int, prefix: int) -> None:
    """ADDR/LEN, or a bare address (full length), in both families."""
    got = wire._interface(text)
    assert got[0] == family
    assert got[1] == socket.inet_pton(family, text.split("/", maxsplit=1)[0])
    assert got[2] == prefix


def test_ipaddress_objects_are_addresses() -> None:
    """ipaddress interfaces and networks are accepted."""
    import ipaddress

    assert wire._interface(ipaddress.ip_interface("10.1.2.3/16"))[2] == 16
    assert wire._network(ipaddress.ip_network("fd00::/8"), None)[2] == 8


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.256/24",
        "10.0.0.1/33",
        "10.0.0.1/-1",
        "10.0.0.1/x",
        "10.0.0",
        "fd00::1/129",
        "fd00::g",
        "",
        "/24",
        "10.0.0.1/24/1",
    ],
)
def test_bad_addresses(text: str) -> None:
    """Bad CIDRs are ValueError."""
    with pytest.raises(ValueError, match="invalid address"):
        wire._interface(text)


def test_route_destinations() -> None:
    """A network without host bits; "default" takes via's family; host
    bits, or "default" without via, are ValueError."""
    assert wire._network("10.1.0.0/16", None)[1:3] == (
        socket.inet_pton(socket.AF_INET, "10.1.0.0"),
        16,
    )
    assert wire._network("default", "fd00::1")[0] == socket.AF_INET6
    assert wire._network("default", "10.0.0.1")[2] == 0
    with pytest.raises(ValueError, match="host bits"):
        wire._network("10.1.0.1/16", None)
    with pytest.raises(ValueError, match="default route needs via"):
        wire._network("default", None)


@pytest.mark.parametrize(
    ("mtu", "kind"), [(67, "veth"), (65536, "veth"), (0, ""), (2**31, "")]
)
def test_bad_mtus(mtu: int, kind: str) -> None:
    """MTUs outside the kind's range (68..65535 for veth, bridge,
    dummy; 1..2**31-1 for any link) are ValueError."""
    with pytest.raises(ValueError, match="invalid MTU"):
        wire.check_mtu(mtu, kind)


def test_mtu_types() -> None:
    """None means unset (0); a bool or a str is a TypeError."""
    assert wire.check_mtu(None) == 0
    assert wire.check_mtu(9000, "bridge") == 9000
    for bad in (True, "1500"):
        with pytest.raises(TypeError):
            wire.check_mtu(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "mac",
    [
        "02:00:00:00:00",
        "02:00:00:00:00:00:01",
        "02-00-00-00-00-01",
        "0g:00:00:00:00:01",
        "2:0:0:0:0:1",
        "01:00:5e:00:00:01",
        "00:00:00:00:00:00",
    ],
)
def test_bad_macs(mac: str) -> None:
    """Malformed, multicast and all-zero MACs are ValueError."""
    with pytest.raises(ValueError, match="invalid MAC"):
        wire.check_mac(mac)


def test_good_mac() -> None:
    """A unicast MAC becomes its 6 bytes."""
    assert wire.check_mac("02:AB:cd:00:00:01") == b"\x02\xab\xcd\x00\x00\x01"


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("net.ipv4.ip_forward", "net/ipv4/ip_forward"),
        (
            "net/ipv4/conf/eth0.100/forwarding",
            "net/ipv4/conf/eth0.100/forwarding",
        ),
        ("net.ipv6.conf.all.disable_ipv6", "net/ipv6/conf/all/disable_ipv6"),
    ],
)
def test_sysctl_keys(key: str, path: str) -> None:
    """Dotted keys become paths; a path is kept (for names with dots)."""
    assert wire.sysctl_path(key) == path


@pytest.mark.parametrize(
    "key",
    [
        "kernel.hostname",
        "net",
        "net..ipv4",
        "net/../kernel/x",
        "net/./x",
        "vm/swappiness",
        "net/ipv4/x\0",
    ],
)
def test_bad_sysctl_keys(key: str) -> None:
    """Keys outside net (not per namespace: writing them would change the
    host's) and paths that climb are ValueError."""
    with pytest.raises(ValueError, match="invalid sysctl"):
        wire.sysctl_path(key)


# -- nothing reaches the C on bad input ---------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda n: n.veth(n, "eth0", "bad/name"),
        lambda n: n.veth(n, "eth0", "eth1", addrs=("10.0.0.1/24", "x")),
        lambda n: n.veth(n, "eth0", "eth1", addrs=("10.0.0.1/24",)),
        lambda n: n.veth(n, "eth0", "eth1", mtu=70000),
        lambda n: n.veth(n, "eth0", "eth1", mac="01:00:00:00:00:01"),
        lambda n: n.bridge("br0", ports=("ok", "not ok")),
        lambda n: n.bridge("br0", mtu=10),
        lambda n: n.dummy("d" * 16),
        lambda n: n.link_up("a:b"),
        lambda n: n.link_set_mtu("eth0", 0),
        lambda n: n.link_rename("eth0", ""),
        lambda n: n.addr_add("eth0", "10.0.0.1/40"),
        lambda n: n.addr_del("eth 0", "10.0.0.1/24"),
        lambda n: n.route_add("10.0.0.1/24", dev="eth0"),
        lambda n: n.route_add("10.0.0.0/24"),
        lambda n: n.route_add("default", dev="eth0"),
        lambda n: n.route_add("10.0.0.0/24", via="fd00::1"),
        lambda n: n.route_add("10.0.0.0/24", via="10.0.0.1", metric=-1),
        lambda n: n.route_del("fd00::/64", via="fd00::1", src="x"),
        lambda n: n.sysctl("kernel.panic", 1),
        lambda n: n.sysctl("net.ipv4.ip_forward", "1\0"),
        lambda n: n.wait_link("eth0", -1),
        lambda n: n.link_move("eth0", None, "x" * 16),
    ],
)
def test_bad_input_raises_before_any_syscall(
    ns: Netns, fake: FakeWire, call: Callable[[Netns], object]
) -> None:
    """Bad input raises ValueError (or TypeError) and sends nothing."""
    with pytest.raises((ValueError, TypeError)):
        call(ns)
    assert fake.plans == []


# -- the requests each method sends -------------------------------------------


def test_veth_with_addresses(ns: Netns, fake: FakeWire) -> None:
    """veth: one VETH request (both ends up, the MTU for both), the
    peer's address and read first, then this end's; IPv6 gets NODAD."""
    fake.fill = _link_reply
    peer = Netns(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
    try:
        a, b = ns.veth(
            peer,
            "eth0",
            "eth9",
            addrs=("fd00::1/64", "fd00::2/64"),
            mtu=1400,
            mac="02:00:00:00:00:01",
        )
    finally:
        peer.close()
    (plan,) = fake.plans
    kinds = [r["kind"] for r in plan]
    assert kinds == [
        lib.NSF_WIRE_VETH,
        lib.NSF_WIRE_ADDR_ADD,
        lib.NSF_WIRE_LINK_GET,
        lib.NSF_WIRE_ADDR_ADD,
        lib.NSF_WIRE_LINK_GET,
    ]
    veth = plan[0]
    assert (veth["ns"], veth["peer_ns"]) == (0, 1)
    assert (veth["name"], veth["peer_name"]) == (b"eth0", b"eth9")
    assert (veth["up"], veth["mtu"]) == (1, 1400)
    assert veth["mac"] == b"\x02\x00\x00\x00\x00\x01"
    assert [(r["ns"], r["name"]) for r in plan[1:]] == [
        (1, b"eth9"),
        (1, b"eth9"),
        (0, b"eth0"),
        (0, b"eth0"),
    ]
    assert plan[1]["family"] == socket.AF_INET6
    assert plan[1]["flags"] == 0x02  # IFA_F_NODAD
    assert plan[1]["addr"] == socket.inet_pton(socket.AF_INET6, "fd00::2")
    assert (a.name, b.name) == ("eth0", "eth9")
    assert a.up
    assert a.lower_up
    assert (a.operstate, a.carrier) == ("UP", True)
    assert a.mac == "02:00:00:00:00:0a"


def test_ipv4_address_and_dad(ns: Netns, fake: FakeWire) -> None:
    """addr_add: IPv4 never has NODAD; IPv6 loses it with nodad=False."""
    ns.addr_add("eth0", "10.0.0.1/24")
    ns.addr_add("eth0", "fd00::1/64", nodad=False)
    assert [p[0]["flags"] for p in fake.plans] == [0, 0]
    assert fake.plans[0][0]["prefix"] == 24


def test_bridge_with_ports(ns: Netns, fake: FakeWire) -> None:
    """bridge: BRIDGE, each port set to it as master, its addresses, its
    record."""
    fake.fill = _link_reply
    ns.bridge("br0", ports=("p1", "p2"), addrs=("10.0.0.1/24",), up=False)
    (plan,) = fake.plans
    assert [r["kind"] for r in plan] == [
        lib.NSF_WIRE_BRIDGE,
        lib.NSF_WIRE_LINK_SET,
        lib.NSF_WIRE_LINK_SET,
        lib.NSF_WIRE_ADDR_ADD,
        lib.NSF_WIRE_LINK_GET,
    ]
    assert plan[0]["up"] == 0
    assert [(r["name"], r["master"], r["up"]) for r in plan[1:3]] == [
        (b"p1", b"br0", -1),
        (b"p2", b"br0", -1),
    ]


@pytest.mark.parametrize(
    ("call", "want"),
    [
        (lambda n: n.link_up("e"), {"kind": "LINK_SET", "up": 1}),
        (lambda n: n.link_down("e"), {"kind": "LINK_SET", "up": 0}),
        (
            lambda n: n.link_set_mtu("e", 9000),
            {"kind": "LINK_SET", "up": -1, "mtu": 9000},
        ),
        (
            lambda n: n.link_set_mac("e", "02:00:00:00:00:02"),
            {"kind": "LINK_SET", "mac": b"\x02\x00\x00\x00\x00\x02"},
        ),
        (
            lambda n: n.bridge_attach("e", "br0"),
            {"kind": "LINK_SET", "master": b"br0", "up": -1},
        ),
        (lambda n: n.bridge_detach("e"), {"kind": "LINK_SET", "master": b""}),
        (
            lambda n: n.link_rename("e", "f"),
            {"kind": "LINK_RENAME", "peer_name": b"f"},
        ),
        (lambda n: n.link_delete("e"), {"kind": "LINK_DEL"}),
        (
            lambda n: n.route_add("default", via="10.0.0.2"),
            {
                "kind": "ROUTE_ADD",
                "name": None,
                "prefix": 0,
                "gateway": socket.inet_pton(socket.AF_INET, "10.0.0.2")
                + bytes(12),
            },
        ),
        (
            lambda n: n.route_add("fd01::/64", dev="e", metric=5, table=100),
            {
                "kind": "ROUTE_ADD",
                "name": b"e",
                "prefix": 64,
                "metric": 5,
                "table": 100,
                "family": socket.AF_INET6,
            },
        ),
        (
            lambda n: n.route_del("10.9.0.0/24", dev="e"),
            {"kind": "ROUTE_DEL", "name": b"e", "prefix": 24},
        ),
        (
            lambda n: n.addr_del("e", "10.0.0.1/24"),
            {"kind": "ADDR_DEL", "prefix": 24},
        ),
    ],
)
def test_method_requests(
    ns: Netns,
    fake: FakeWire,
    call: Callable[[Netns], object],
    want: dict[str, Any],
) -> None:
    """Each method sends one plan of one request, with these fields."""
    call(ns)
    ((req,),) = fake.plans
    kind = want.pop("kind")
    assert req["kind"] == getattr(lib, f"NSF_WIRE_{kind}")
    for field, value in want.items():
        assert req[field] == value, field


def test_sysctl_request(ns: Netns, fake: FakeWire) -> None:
    """sysctl: the path under /proc/sys, the value as text (a bool as
    0/1), read back."""

    def fill(plan: Any) -> None:
        c = plan.reqs[0]
        c.out[0:2] = b"1\n"
        c.out_len = 2

    fake.fill = fill
    assert ns.sysctl("net.ipv4.ip_forward", True) == "1"
    req = fake.plans[0][0]
    assert (req["name"], req["value"]) == (b"net/ipv4/ip_forward", b"1")


def test_link_move_to_the_callers_namespace(ns: Netns, fake: FakeWire) -> None:
    """link_move to None: the target is the calling thread's namespace
    (fd -1 in the plan)."""
    ns.link_move("eth0", None, "eth7")
    (req,) = fake.plans[0]
    assert (req["peer_ns"], req["peer_name"]) == (1, b"eth7")


def test_wait_link_timeout_in_ms(ns: Netns, fake: FakeWire) -> None:
    """wait_link sends its timeout in milliseconds."""
    fake.fill = _link_reply
    link = ns.wait_link("eth0", 0.25)
    assert fake.plans[0][0]["timeout_ms"] == 250
    assert link.name == "eth0"


# -- errors at the boundary ---------------------------------------------------


def test_taken_name_is_file_exists(ns: Netns, fake: FakeWire) -> None:
    """EEXIST at rtm_newlink: FileExistsError (NetnsOSError), the
    namespace as filename, the link as filename2, os.strerror text when
    the kernel sent none."""
    fake.fail(errno.EEXIST, lib.NSF_STEP_RTM_NEWLINK, 0)
    with pytest.raises(FileExistsError) as info:
        ns.dummy("d0")
    exc = info.value
    assert isinstance(exc, netns_fast.NetnsOSError)
    assert exc.errno == errno.EEXIST
    assert exc.strerror == "File exists"
    assert exc.step == "rtm_newlink"
    assert exc.filename == ns.path
    assert exc.filename2 == "d0"


def test_kernel_text_is_strerror(ns: Netns, fake: FakeWire) -> None:
    """The kernel's extended-ack text becomes strerror (also in args)."""
    fake.fail(
        errno.EINVAL,
        lib.NSF_STEP_RTM_NEWLINK,
        0,
        b"mtu greater than device maximum",
    )
    with pytest.raises(OSError, match="mtu greater") as info:
        ns.link_set_mtu("eth0", 70000)
    assert info.value.strerror == "mtu greater than device maximum"
    assert info.value.args == (errno.EINVAL, "mtu greater than device maximum")
    assert "rtm_newlink" in str(info.value)


def test_failed_request_names_its_own_object(
    ns: Netns, fake: FakeWire
) -> None:
    """The error names the request that failed: the peer's address of a
    veth (request 1) names that address."""
    fake.fail(errno.EEXIST, lib.NSF_STEP_RTM_NEWADDR, 1)
    with pytest.raises(FileExistsError) as info:
        ns.veth(None, "eth0", "eth1", addrs=("10.0.0.1/24", "10.0.0.2/24"))
    assert info.value.filename2 == "10.0.0.2/24"
    assert info.value.filename == _sys.THREAD_NS_NET
    assert info.value.step == "rtm_newaddr"


def test_sysctl_error_names_the_file(ns: Netns, fake: FakeWire) -> None:
    """ENOENT at open_sysctl: FileNotFoundError naming the sysctl file
    first, then the namespace."""
    fake.fail(errno.ENOENT, lib.NSF_STEP_OPEN_SYSCTL, 0)
    with pytest.raises(FileNotFoundError) as info:
        ns.sysctl("net.ipv4.nosuch")
    assert info.value.filename == "/proc/sys/net/ipv4/nosuch"
    assert info.value.filename2 == ns.path


def test_wait_timeout_is_timeout_error(ns: Netns, fake: FakeWire) -> None:
    """ETIMEDOUT at wait_link: NetnsTimeoutError, a TimeoutError."""
    fake.fail(errno.ETIMEDOUT, lib.NSF_STEP_WAIT_LINK, 0)
    with pytest.raises(TimeoutError) as info:
        ns.wait_link("eth0", 0.1)
    assert isinstance(info.value, netns_fast.NetnsTimeoutError)


def test_plan_reports_failed_and_undone(ns: Netns, fake: FakeWire) -> None:
    """A failed Plan.run sets failed and undone, and raises; a link that
    was not found is named (not the address); a failure of the plan as a
    whole (-1) names no request."""
    fake.fail(errno.ENODEV, lib.NSF_STEP_RTM_GETLINK, 1)
    plan = wire.Plan()
    ep = ns._endpoint()
    plan.link_set(ep, "a", up=True)
    plan.addr_add(ep, "b", "10.0.0.1/24")
    with pytest.raises(OSError, match="No such device") as info:
        plan.run()
    assert (plan.failed, plan.undone) == (1, True)
    assert info.value.errno == errno.ENODEV
    assert info.value.filename2 == "b"
    fake.fail(errno.EAGAIN, lib.NSF_STEP_PTHREAD_CREATE, -1)
    with pytest.raises(BlockingIOError) as again:
        plan.run()
    assert again.value.filename2 is None
    assert plan.failed == -1


# -- records ------------------------------------------------------------------


def test_link_record() -> None:
    """Raw link fields become a Link: names decoded, the MAC as text, the
    operstate by name, 0 and -1 as None."""
    link = wire._link(
        (
            3,
            0,
            4,
            -1,
            0x11043,
            1500,
            6,
            1,
            6,
            b"\x02\x00\x00\x00\x00\x01".ljust(32, b"\0"),
            b"eth0".ljust(16, b"\0"),
            b"veth".ljust(16, b"\0"),
        )
    )
    assert link == netns_fast.Link(
        3,
        "eth0",
        "veth",
        0x11043,
        1500,
        "02:00:00:00:00:01",
        "UP",
        True,
        None,
        4,
        None,
    )
    assert link.up
    assert link.lower_up
    down = wire._link(
        (1, 5, 0, 2, 0x8, 65536, 2, -1, 0, bytes(32), b"lo", b"")
    )
    assert (down.operstate, down.carrier, down.master) == ("DOWN", None, 5)
    assert (down.peer_ifindex, down.peer_netnsid) == (None, 2)
    assert not down.up


def test_address_and_route_records() -> None:
    """Addresses and routes in text, "default" for a /0."""
    v6 = socket.inet_pton(socket.AF_INET6, "fd00::1")
    addr = wire._address((socket.AF_INET6, v6, 64, 2, 0, 0x82, b""))
    assert (addr.address, addr.cidr, addr.ifindex) == (
        "fd00::1",
        "fd00::1/64",
        2,
    )
    v4 = socket.inet_pton(socket.AF_INET, "10.0.0.2")
    route = wire._route(
        (socket.AF_INET, bytes(4), 0, v4, 2, 254, 3, 0, 1, 0, None, 0)
    )
    assert (route.dst, route.gateway, route.oif) == ("default", "10.0.0.2", 2)
    net = wire._route(
        (socket.AF_INET, v4, 24, None, 0, 254, 2, 253, 1, 0, v4, 0)
    )
    assert (net.dst, net.gateway, net.oif, net.prefsrc) == (
        "10.0.0.2/24",
        None,
        None,
        "10.0.0.2",
    )


def test_records_are_exported() -> None:
    """Link, Address and Route are public names of netns_fast."""
    assert netns_fast.Link is wire.Link
    assert netns_fast.Address is wire.Address
    assert netns_fast.Route is wire.Route


# -- the kept socket ----------------------------------------------------------


def test_close_closes_the_kept_socket(ns: Netns) -> None:
    """A handle's rtnetlink socket is closed with the handle."""
    fd = os.open(os.devnull, os.O_RDONLY)
    ns._wire = wire.Socket(fd)
    ns.close()
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)
    with pytest.raises(ValueError, match="closed"):
        ns._endpoint()


def test_forked_child_drops_the_parents_socket() -> None:
    """In a forked child the kept socket is the parent's copy: fresh()
    closes the child's copy and starts over, the parent's stays."""
    sock = wire.Socket(os.open(os.devnull, os.O_RDONLY))
    sock.sock.seq = 41
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        sock.fresh()
        os._exit(0 if (sock.sock.fd, sock.sock.seq) == (-1, 0) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    sock.fresh()  # the parent's own: kept
    assert sock.sock.fd >= 0
    assert sock.sock.seq == 41
    sock.close()
