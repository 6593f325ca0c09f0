"""Wiring against ip (iproute2 6.1.0): each operation done through the API
in one pair of namespaces and with ip in another pair, from the same
starting state (made with ip in both), gives the same ``ip -j link / addr
/ route show`` inside each namespace (normalised: no indexes, no random
MACs, no link-local addresses, no lifetimes), and the API's read-back
(links(), addrs(), routes()) reports what ip shows."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Callable, Optional

import pytest

from netns_fast import Netns
from support.names import unique_name
from support.tools import ok, requires_ip, run_ip

pytestmark = [pytest.mark.root, pytest.mark.oracle, requires_ip]

Pair = tuple[Netns, Netns]
Cmds = list[list[str]]


def _veth_up(*extra: str, peer: tuple[str, ...] = ()) -> Cmds:
    """ip's lines for a veth pair eth0 - eth0 between {x} and {y}, up
    (extra: options of the first end, peer: of the second)."""
    add = "link add eth0 {extra} type veth peer name eth0 {peer} netns {{y}}"
    line = add.format(extra=" ".join(extra), peer=" ".join(peer)).split()
    return [
        ["-n", "{x}", *line],
        ["-n", "{x}", "link", "set", "eth0", "up"],
        ["-n", "{y}", "link", "set", "eth0", "up"],
    ]


# ip's veth pair between {x} and {y}, up, with addresses.
BASE: Cmds = [
    *_veth_up(),
    ["-n", "{x}", "addr", "add", "10.0.0.1/24", "dev", "eth0"],
    ["-n", "{y}", "addr", "add", "10.0.0.2/24", "dev", "eth0"],
]
FIXED_MACS = {"02:00:00:00:30:01", "02:00:00:00:30:02"}
LINK_KEYS = (
    "ifname",
    "link",
    "flags",
    "mtu",
    "master",
    "operstate",
    "link_type",
    "broadcast",
)


@pytest.fixture
def pairs() -> Iterator[tuple[Pair, Pair]]:
    """Two pairs of named namespaces: the API's and ip's."""
    made = [Netns.create(unique_name("nsft-w")) for _ in range(4)]
    try:
        yield (made[0], made[1]), (made[2], made[3])
    finally:
        for ns in made:
            ns.close()


def _ip(pair: Pair, cmds: Cmds) -> None:
    x, y = (str(ns.name) for ns in pair)
    for cmd in cmds:
        ok(run_ip([a.format(x=x, y=y) for a in cmd]))


def _json(ns: Netns, *args: str) -> Any:
    return json.loads(ok(run_ip(["-j", "-n", str(ns.name), *args])).stdout)


def _links(ns: Netns) -> list[str]:
    out = []
    for link in _json(ns, "link", "show"):
        kept = {k: link[k] for k in LINK_KEYS if k in link}
        if link.get("address") in FIXED_MACS:
            kept["address"] = link["address"]
        out.append(json.dumps(kept, sort_keys=True))
    return sorted(out)


def _addrs(ns: Netns) -> list[str]:
    out = []
    for link in _json(ns, "addr", "show"):
        for info in link.get("addr_info", []):
            if info.get("local", "").startswith("fe80:"):
                continue
            kept = {
                k: v for k, v in info.items() if not k.endswith("life_time")
            }
            kept["ifname"] = link["ifname"]
            out.append(json.dumps(kept, sort_keys=True))
    return sorted(out)


def _ip_routes(ns: Netns) -> list[tuple[int, dict[str, Any]]]:
    """(table, route) of ip's main table and of table 100, v4 and v6."""
    out = []
    for family in ("-4", "-6"):
        out += [(254, r) for r in _json(ns, family, "route", "show")]
        out += [
            (100, r)
            for r in _json(ns, family, "route", "show", "table", "all")
            if r.get("table") == "100"
        ]
    return out


def _routes(ns: Netns) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for _, r in _ip_routes(ns))


def _shown(ns: Netns) -> tuple[list[str], list[str], list[str]]:
    return _links(ns), _addrs(ns), _routes(ns)


def _settled(get: Callable[[], Any], want: Callable[[], Any]) -> None:
    """get() == want(), allowing the kernel up to 3 s to settle carrier
    and operstate (linkwatch runs later)."""
    deadline = time.monotonic() + 3
    while True:
        got, wanted = get(), want()
        if got == wanted or time.monotonic() > deadline:
            assert got == wanted
            return
        time.sleep(0.05)


def _read_back(ns: Netns) -> tuple[set[Any], set[Any], set[Any]]:
    """What the API reports, in the fields ip's output also has."""
    links = ns.links()
    names = {link.ifindex: link.name for link in links}
    return (
        {
            (
                link.name,
                link.up,
                link.lower_up,
                link.mtu,
                link.operstate,
                names.get(link.master or 0),
            )
            for link in links
        },
        {
            (names[a.ifindex], a.address, a.prefixlen)
            for a in ns.addrs()
            if not a.address.startswith("fe80:")
        },
        {
            (
                r.dst,
                r.gateway,
                names.get(r.oif or 0),
                r.metric or None,
                r.table,
            )
            for r in ns.routes(table=None)
            if r.table in (100, 254)
        },
    )


def _ip_view(ns: Netns) -> tuple[set[Any], set[Any], set[Any]]:
    """ip's output of ns in _read_back's fields."""
    links = {
        (
            link["ifname"],
            "UP" in link["flags"],
            "LOWER_UP" in link["flags"],
            link["mtu"],
            link["operstate"],
            link.get("master"),
        )
        for link in _json(ns, "link", "show")
    }
    addrs = {
        (link["ifname"], info["local"], info["prefixlen"])
        for link in _json(ns, "addr", "show")
        for info in link.get("addr_info", [])
        if not info["local"].startswith("fe80:")
    }
    routes = {
        (r["dst"], r.get("gateway"), r.get("dev"), r.get("metric"), table)
        for table, r in _ip_routes(ns)
    }
    return links, addrs, routes


def _case(
    pairs: tuple[Pair, Pair],
    setup: Cmds,
    api: Callable[[Netns, Netns], object],
    ip: Cmds,
) -> None:
    ours, theirs = pairs
    _ip(ours, setup)
    _ip(theirs, setup)
    api(*ours)
    _ip(theirs, ip)
    for mine, other in zip(ours, theirs):
        _settled(lambda m=mine: _shown(m), lambda o=other: _shown(o))
        _settled(lambda m=mine: _read_back(m), lambda m=mine: _ip_view(m))


CASES: list[tuple[str, Cmds, Callable[[Netns, Netns], object], Cmds]] = [
    (
        "veth with addresses",
        [],
        lambda x, y: x.veth(
            y, "eth0", "eth0", addrs=("10.0.0.1/24", "10.0.0.2/24")
        ),
        BASE,
    ),
    (
        "veth with mtu and macs",
        [],
        lambda x, y: x.veth(
            y,
            "eth0",
            "eth0",
            mtu=1400,
            mac="02:00:00:00:30:01",
            peer_mac="02:00:00:00:30:02",
        ),
        _veth_up(
            "mtu",
            "1400",
            "address",
            "02:00:00:00:30:01",
            peer=("mtu", "1400", "address", "02:00:00:00:30:02"),
        ),
    ),
    (
        "veth down",
        [],
        lambda x, y: x.veth(y, "eth0", "eth0", up=False),
        BASE[:1],
    ),
    (
        "ipv6 addresses without dad",
        BASE,
        lambda x, y: (
            x.addr_add("eth0", "fd00::1/64"),
            y.addr_add("eth0", "fd00::2/64"),
        ),
        [
            ["-n", "{x}", "addr", "add", "fd00::1/64", "dev", "eth0", "nodad"],
            ["-n", "{y}", "addr", "add", "fd00::2/64", "dev", "eth0", "nodad"],
        ],
    ),
    (
        "address removed",
        BASE,
        lambda x, y: x.addr_del("eth0", "10.0.0.1/24"),
        [["-n", "{x}", "addr", "del", "10.0.0.1/24", "dev", "eth0"]],
    ),
    (
        "routes",
        [
            *BASE,
            ["-n", "{x}", "addr", "add", "fd00::1/64", "dev", "eth0", "nodad"],
        ],
        lambda x, y: (
            x.route_add("default", via="10.0.0.2"),
            x.route_add("10.9.0.0/24", dev="eth0"),
            x.route_add("10.8.0.0/16", via="10.0.0.2", metric=7),
            x.route_add("fd09::/64", via="fd00::2"),
            x.route_add("default", via="fd00::2", metric=5),
            x.route_add("10.7.0.0/24", via="10.0.0.2", table=100),
            x.route_add("10.6.0.0/24", dev="eth0", src="10.0.0.1"),
        ),
        [
            ["-n", "{x}", "route", "add", "default", "via", "10.0.0.2"],
            ["-n", "{x}", "route", "add", "10.9.0.0/24", "dev", "eth0"],
            [
                "-n",
                "{x}",
                "route",
                "add",
                "10.8.0.0/16",
                "via",
                "10.0.0.2",
                "metric",
                "7",
            ],
            ["-n", "{x}", "route", "add", "fd09::/64", "via", "fd00::2"],
            [
                "-n",
                "{x}",
                "-6",
                "route",
                "add",
                "default",
                "via",
                "fd00::2",
                "metric",
                "5",
            ],
            [
                "-n",
                "{x}",
                "route",
                "add",
                "10.7.0.0/24",
                "via",
                "10.0.0.2",
                "table",
                "100",
            ],
            [
                "-n",
                "{x}",
                "route",
                "add",
                "10.6.0.0/24",
                "dev",
                "eth0",
                "src",
                "10.0.0.1",
            ],
        ],
    ),
    (
        "route removed",
        [
            *BASE,
            ["-n", "{x}", "route", "add", "10.9.0.0/24", "via", "10.0.0.2"],
        ],
        lambda x, y: x.route_del("10.9.0.0/24", via="10.0.0.2"),
        [["-n", "{x}", "route", "del", "10.9.0.0/24", "via", "10.0.0.2"]],
    ),
    (
        "bridge with ports",
        BASE,
        lambda x, y: (
            x.veth(x, "p1", "q1"),
            x.bridge("br0", ports=("p1",), addrs=("10.3.0.1/24",)),
        ),
        [
            [
                "-n",
                "{x}",
                "link",
                "add",
                "p1",
                "type",
                "veth",
                "peer",
                "name",
                "q1",
            ],
            ["-n", "{x}", "link", "set", "p1", "up"],
            ["-n", "{x}", "link", "set", "q1", "up"],
            ["-n", "{x}", "link", "add", "br0", "type", "bridge"],
            ["-n", "{x}", "link", "set", "br0", "up"],
            ["-n", "{x}", "link", "set", "p1", "master", "br0"],
            ["-n", "{x}", "addr", "add", "10.3.0.1/24", "dev", "br0"],
        ],
    ),
    (
        "port detached",
        [
            *BASE,
            ["-n", "{x}", "link", "add", "br0", "type", "bridge"],
            ["-n", "{x}", "link", "set", "eth0", "master", "br0"],
        ],
        lambda x, y: x.bridge_detach("eth0"),
        [["-n", "{x}", "link", "set", "eth0", "nomaster"]],
    ),
    (
        "down, mtu, mac",
        BASE,
        lambda x, y: (
            x.link_down("eth0"),
            x.link_set_mtu("eth0", 1300),
            x.link_set_mac("eth0", "02:00:00:00:30:01"),
        ),
        [
            ["-n", "{x}", "link", "set", "eth0", "down"],
            ["-n", "{x}", "link", "set", "eth0", "mtu", "1300"],
            [
                "-n",
                "{x}",
                "link",
                "set",
                "eth0",
                "address",
                "02:00:00:00:30:01",
            ],
        ],
    ),
    (
        "rename",
        BASE,
        lambda x, y: x.link_rename("eth0", "uplink"),
        [["-n", "{x}", "link", "set", "eth0", "name", "uplink"]],
    ),
    (
        "move with a new name",
        BASE,
        lambda x, y: y.link_move("eth0", x, "back0"),
        [
            [
                "-n",
                "{y}",
                "link",
                "set",
                "eth0",
                "netns",
                "{x}",
                "name",
                "back0",
            ]
        ],
    ),
    (
        "delete",
        BASE,
        lambda x, y: y.link_delete("eth0"),
        [["-n", "{y}", "link", "del", "eth0"]],
    ),
]


@pytest.mark.parametrize(
    ("setup", "api", "ip"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_same_state_as_ip(
    pairs: tuple[Pair, Pair],
    setup: Cmds,
    api: Callable[[Netns, Netns], object],
    ip: Cmds,
) -> None:
    """The operation through the API and with ip leave the same ip -j
    link/addr/route output in both namespaces, and the API's read-back
    reports what ip shows."""
    _case(pairs, setup, api, ip)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv6.conf.eth0.disable_ipv6", "1"),
        ("net.ipv4.conf.all.rp_filter", "2"),
    ],
)
def test_sysctl_same_as_ip_netns_exec(
    pairs: tuple[Pair, Pair], key: str, value: Optional[str]
) -> None:
    """A sysctl written through the API reads the same inside the
    namespace (ip netns exec NAME cat) as one written with ip netns exec,
    and the API reads back what is there; the addresses that follow
    (disable_ipv6) are the same."""
    (x, _), (x2, _) = pairs
    _ip(pairs[0], BASE)
    _ip(pairs[1], BASE)
    path = "/proc/sys/" + key.replace(".", "/")
    assert x.sysctl(key, value) == value
    ok(
        run_ip(
            [
                "netns",
                "exec",
                str(x2.name),
                "sh",
                "-c",
                f"echo {value} > {path}",
            ]
        )
    )
    for ns in (x, x2):
        shown = ok(run_ip(["netns", "exec", str(ns.name), "cat", path]))
        assert shown.stdout.decode().strip() == value
        assert ns.sysctl(key) == value
    assert _shown(x) == _shown(x2)
