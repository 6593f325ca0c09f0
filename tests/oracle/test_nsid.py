"""ip netns (6.1.0) against netns-fast: list with ids, set, list-id, JSON,
the same under ``-n NAME``, and list of many entries.

Each test runs ip from one private caller netns and netns-fast from
another, after the same setup in both (nsids are per caller), and compares
stdout, stderr and the exit code byte for byte (support.oracle's
assert_same). Setup that changes shared state (``ip -n PEER netns set
...``: the peer's own table) runs once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import pytest

import netns_fast
from support.kernel import RUN_DIR
from support.names import made, named, remove, unique_name
from support.oracle import assert_same
from support.tools import (
    IP,
    SETPRIV,
    Arg,
    Completed,
    cli_argv,
    netns_args,
    ok,
    requires_ip,
    run,
    run_cli,
    run_ip,
)

pytestmark = [pytest.mark.root, pytest.mark.oracle, requires_ip]

Callers = tuple[str, str]


@pytest.fixture
def callers() -> Iterator[Callers]:
    """Two caller namespaces: ip runs in the first, netns-fast in the
    second."""
    with made("nsft-ipc", "nsft-nfc") as names:
        yield names[0], names[1]


@pytest.fixture
def peers() -> Iterator[list[str]]:
    """Three peer namespaces a, b, c."""
    with made("nsft-a", "nsft-b", "nsft-c") as names:
        yield names


def fill(args: Sequence[Arg], names: dict[str, str]) -> list[Arg]:
    """Put the peer names into {a}-style placeholders."""
    return [a.format(**names) if isinstance(a, str) else a for a in args]


def each(callers: Callers, *setup: Sequence[Arg]) -> None:
    """Run ip setup commands in both callers."""
    for caller in callers:
        for args in setup:
            ok(run_ip(args, caller=caller))


def check(
    callers: Callers,
    args: Sequence[Arg],
    stdin: bytes | None = None,
    prefix: Sequence[Arg] = (),
) -> None:
    """``ip ARGS`` in the first caller == ``netns-fast ARGS`` in the
    second."""
    ip_args, cli_args = netns_args(args)
    ip_res = run([IP, *ip_args], stdin, caller=callers[0], prefix=prefix)
    cli_res = run(
        [*cli_argv(), *cli_args], stdin, caller=callers[1], prefix=prefix
    )
    assert_same(ip_res, cli_res)


def names_of(peers: list[str]) -> dict[str, str]:
    """{a}, {b}, {c} for the peers."""
    return dict(zip("abc", peers))


# -- list -------------------------------------------------------------------

LIST_FORMATS = [[], ["-j"], ["-j", "-p"], ["-p"]]


@pytest.mark.parametrize("opts", LIST_FORMATS)
def test_list_with_ids(
    callers: Callers, peers: list[str], opts: list[str]
) -> None:
    """list prints ' (id: N)' (JSON "id") only for names with an nsid."""
    a, b, _ = peers
    each(callers, ["netns", "set", a, "5"], ["netns", "set", b, "auto"])
    check(callers, [*opts, "netns", "list"])


def test_list_without_any_id(callers: Callers, peers: list[str]) -> None:
    """Names without ids are listed bare, in directory order."""
    check(callers, ["netns", "list"])
    check(callers, ["-j", "netns", "list"])


def test_list_large_and_extreme_ids(
    callers: Callers, peers: list[str]
) -> None:
    """The largest id and id 0 are printed as ip prints them."""
    a, b, _ = peers
    each(callers, ["netns", "set", a, "2147483647"], ["netns", "set", b, "0"])
    for opts in LIST_FORMATS:
        check(callers, [*opts, "netns", "list"])


ODD_NAMES = [
    b"tab\there",
    b'quote"back\\slash',
    b"ctl\x01esc\x1bdel\x7f",
    "utf8-\u00e9\u4e2d".encode(),
    b"sp ace",
    b"new\nline",
    b"cr\rff\x0cbs\x08",
]


@pytest.fixture
def odd_peers() -> Iterator[list[bytes]]:
    """Namespaces whose names need JSON escaping (or not, in 6.1.0)."""
    tag = unique_name("o").encode()
    with named([tag + b"-" + n for n in ODD_NAMES]) as names:
        yield names


@pytest.mark.parametrize("opts", LIST_FORMATS)
def test_list_and_list_id_escaping(
    callers: Callers, odd_peers: list[bytes], opts: list[str]
) -> None:
    """Names are raw in text and escaped as 6.1.0's json_writer does."""
    each(
        callers,
        *[
            [b"netns", b"set", name, b"%d" % i]
            for i, name in enumerate(odd_peers[:4])
        ],
    )
    check(callers, [*opts, "netns", "list"])
    check(callers, [*opts, "netns", "list-id"])


def test_list_255_byte_name(callers: Callers) -> None:
    """A 255-byte name with an id lists and resolves in list-id."""
    name = (unique_name("long") + "x" * 255)[:255]
    try:
        netns_fast.add(name)
        each(callers, ["netns", "set", name, "9"])
        check(callers, ["netns", "list"])
        check(callers, ["-j", "netns", "list"])
        check(callers, ["netns", "list-id"])
        check(callers, ["netns", "list-id", "nsid", "9"])
    finally:
        remove(name)


@pytest.fixture
def odd_entries() -> Iterator[dict[str, str]]:
    """A stale file, a directory and a dangling symlink in RUN_DIR."""
    names = {k: unique_name(k) for k in ("stale", "dir", "link")}
    try:
        open(f"{RUN_DIR}/{names['stale']}", "w").close()
        os.mkdir(f"{RUN_DIR}/{names['dir']}")
        os.symlink("/nonexistent-nsft", f"{RUN_DIR}/{names['link']}")
        yield names
    finally:
        for name in names.values():
            remove(name)


@pytest.mark.parametrize("opts", LIST_FORMATS[:3])
def test_list_stale_entries_error_twice(
    callers: Callers,
    peers: list[str],
    odd_entries: dict[str, str],
    opts: list[str],
) -> None:
    """Stale entries and directories are listed without id and cost two
    'Error: Peer netns reference is invalid.' lines each; an entry that
    cannot be opened is listed silently."""
    each(callers, ["netns", "set", peers[0], "3"])
    check(callers, [*opts, "netns", "list"])


def test_list_missing_run_dir(callers: Callers) -> None:
    """No run directory: list prints nothing (not even '[]'), rc 0."""
    hide = ["unshare", "-m", "--propagation", "slave", "sh", "-c"]
    hide += ['mount -t tmpfs none /run && exec "$@"', "sh"]
    for opts in (["netns"], ["netns", "list"], ["-j", "netns", "list"]):
        check(callers, opts, prefix=hide)
    check(callers, ["netns", "list-id"], prefix=hide)


# -- set ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["7", "0x10", "010", "auto", "2147483647", "0", "+5", " 6"]
)
def test_set_values(callers: Callers, peers: list[str], value: str) -> None:
    """set accepts decimal, hex, octal and auto as ip does."""
    check(callers, ["netns", "set", peers[0], value])
    check(callers, ["netns", "list"])


SET_ERRORS = [
    ([["set", "{a}", "7"]], ["set", "{a}", "7"]),
    ([["set", "{a}", "7"]], ["set", "{a}", "8"]),
    ([["set", "{a}", "7"]], ["set", "{a}", "auto"]),
    ([["set", "{a}", "7"]], ["set", "{b}", "7"]),
    ([], ["set", "{a}", "x"]),
    ([], ["set", "{a}", ""]),
    ([], ["set", "{a}", "-1"]),
    ([], ["set", "{a}", "-0x1"]),
    ([], ["set", "{a}", "2147483648"]),
    ([], ["set", "{a}", "0x"]),
    ([], ["set", "{a}", "5 "]),
    ([], ["set", "{a}", "09"]),
    ([], ["set", "nsft-nonexistent", "5"]),
    ([], ["set", "nsft-nonexistent", "-5"]),
    ([], ["set"]),
    ([], ["set", "{a}"]),
    ([], ["set", "{a}", "5", "extra", "args"]),
    ([], ["se", "{a}", "5"]),
]


@pytest.mark.parametrize(("setup", "args"), SET_ERRORS)
def test_set_errors(
    callers: Callers,
    peers: list[str],
    setup: list[list[str]],
    args: list[str],
) -> None:
    """set's usage errors, kernel ext-ack errors and exit codes."""
    names = names_of(peers)
    each(callers, *[["netns", *fill(s, names)] for s in setup])
    check(callers, ["netns", *fill(args, names)])


def test_set_stale_entry(
    callers: Callers, odd_entries: dict[str, str]
) -> None:
    """set on a stale file: 'Error: Peer netns reference is invalid.' rc 2;
    on a directory the same; on a dangling link 'Cannot open ...' rc 1."""
    for key in ("stale", "dir", "link"):
        check(callers, ["netns", "set", odd_entries[key], "3"])


def test_set_without_cap_net_admin(callers: Callers, peers: list[str]) -> None:
    """Without CAP_NET_ADMIN: 'RTNETLINK answers: Operation not
    permitted', rc 2."""
    drop = [SETPRIV, "--bounding-set", "-net_admin"]
    check(callers, ["netns", "set", peers[0], "5"], prefix=drop)
    check(callers, ["netns", "set", peers[0], "auto"], prefix=drop)


# -- list-id ------------------------------------------------------------------

ID_SETUP = [["set", "{a}", "0"], ["set", "{b}", "7"], ["set", "{c}", "0x10"]]


@pytest.mark.parametrize("opts", LIST_FORMATS[:3])
@pytest.mark.parametrize(
    "args",
    [[], ["nsid", "16"], ["nsid", "0"], ["nsid", "0x7"]],
    ids=["dump", "nsid16", "nsid0", "hex"],
)
def test_list_id_formats(
    callers: Callers, peers: list[str], opts: list[str], args: list[str]
) -> None:
    """list-id's dump and single get, text, JSON and pretty JSON."""
    each(callers, *[["netns", *fill(s, names_of(peers))] for s in ID_SETUP])
    check(callers, [*opts, "netns", "list-id", *args])


def test_list_id_empty(callers: Callers) -> None:
    """A caller with no nsids: empty output, '[]' and '[ ]' in JSON."""
    for opts in LIST_FORMATS[:3]:
        check(callers, [*opts, "netns", "list-id"])


LIST_ID_ERRORS = [
    ["nsid", "99"],
    ["target-nsid", "99"],
    ["target-nsid", "99", "nsid", "7"],
    ["nsid", "7", "target-nsid", "99"],
    ["nsid", "-1"],
    ["nsid", "-1", "target-nsid", "5"],
    ["target-nsid", "-3"],
    ["target-nsid", "-3", "x"],
    ["nsid"],
    ["target-nsid"],
    ["nsid", "7", "target-nsid"],
    ["nsid", "x"],
    ["nsid", ""],
    ["target-nsid", "0x"],
    ["nsid", "2147483648"],
    ["nsid", "1", "nsid", "2"],
    ["target-nsid", "1", "target-nsid", "2"],
    ["nsid", "1", "nsid"],
    ["bogus"],
    ["nsid", "7", "bogus"],
    ["NSID", "7"],
    ["nsi", "7"],
]


@pytest.mark.parametrize("opts", [[], ["-j"]])
@pytest.mark.parametrize("args", LIST_ID_ERRORS, ids=" ".join)
def test_list_id_errors(
    callers: Callers, peers: list[str], opts: list[str], args: list[str]
) -> None:
    """list-id's parse errors (255), kernel errors (2 for a get; 1 and
    'Dump terminated' for a dump, with '[]' already printed in JSON)."""
    each(callers, *[["netns", *fill(s, names_of(peers))] for s in ID_SETUP])
    check(callers, [*opts, "netns", "list-id", *args])


def test_list_id_name_missing_trailing_space(
    callers: Callers, peers: list[str]
) -> None:
    """An nsid whose namespace has no name prints 'nsid N ' (trailing
    space) and no "name" in JSON."""
    each(callers, *[["netns", *fill(s, names_of(peers))] for s in ID_SETUP])
    # Keep c alive through an fd, then remove its name.
    fd = os.open(f"{RUN_DIR}/{peers[2]}", os.O_RDONLY)
    try:
        remove(peers[2])
        for opts in LIST_FORMATS[:3]:
            check(callers, [*opts, "netns", "list-id"])
            check(callers, [*opts, "netns", "list-id", "nsid", "16"])
    finally:
        os.close(fd)


def test_list_id_with_stale_entries(
    callers: Callers, peers: list[str], odd_entries: dict[str, str]
) -> None:
    """The name cache is built before the arguments are parsed: stale
    entries print their error once, even before a usage error."""
    each(callers, *[["netns", *fill(s, names_of(peers))] for s in ID_SETUP])
    check(callers, ["netns", "list-id"])
    check(callers, ["-j", "netns", "list-id", "nsid", "7"])
    check(callers, ["netns", "list-id", "bogus"])
    check(callers, ["netns", "list-id", "nsid", "99"])


@pytest.fixture
def man_page(callers: Callers) -> Iterator[dict[str, str]]:
    """ip-netns(8)'s foo/bar example, set up by ip: foo and bar get 12 and
    13 in each caller; foo's table has foo 22, bar 23; bar's has foo 32,
    bar 33."""
    with made("nsft-foo", "nsft-bar") as (foo, bar):
        each(callers, ["netns", "set", foo, "12"], ["netns", "set", bar, "13"])
        for where, name, nsid in (
            (foo, foo, "22"),
            (foo, bar, "23"),
            (bar, foo, "32"),
            (bar, bar, "33"),
        ):
            ok(run_ip(["-n", where, "netns", "set", name, nsid]))
        yield {"foo": foo, "bar": bar}


@pytest.mark.parametrize("opts", LIST_FORMATS[:3])
@pytest.mark.parametrize(
    "args",
    [
        ["target-nsid", "12"],
        ["target-nsid", "12", "nsid", "13"],
        ["nsid", "13", "target-nsid", "13"],
        ["target-nsid", "13"],
        ["target-nsid", "12", "nsid", "12"],
    ],
    ids=" ".join,
)
def test_list_id_target_man_page(
    callers: Callers,
    man_page: dict[str, str],
    opts: list[str],
    args: list[str],
) -> None:
    """The man page's target-nsid example: 'nsid 22 current-nsid 12 ...',
    and target-nsid 12 nsid 13 gives 23."""
    check(callers, [*opts, "netns", "list-id", *args])


def test_list_id_target_unassigned(
    callers: Callers, man_page: dict[str, str], peers: list[str]
) -> None:
    """A peer the target has no id for: 'nsid unassigned current-nsid N',
    no "nsid" in JSON."""
    each(callers, ["netns", "set", peers[0], "40"])
    for opts in LIST_FORMATS[:3]:
        check(callers, [*opts, "netns", "list-id", "target-nsid", "12"])
        check(
            callers,
            [*opts, "netns", "list-id", "target-nsid", "12", "nsid", "40"],
        )


# -- batch: the name cache lives across lines ---------------------------------


def batch(lines: list[str], names: dict[str, str]) -> bytes:
    """A batch file: "netns LINE" for each line."""
    return "".join(
        "netns " + line.format(**names) + "\n" for line in lines
    ).encode()


@pytest.mark.parametrize("opts", [["-b", "-"], ["-force", "-b", "-"]])
def test_batch_cache_hits_and_rescans(
    callers: Callers,
    peers: list[str],
    odd_entries: dict[str, str],
    opts: list[str],
) -> None:
    """A cache hit removes the name, so a second list-id rescans (and
    prints stale errors again); list after list-id queries once."""
    names = names_of(peers)
    each(callers, *[["netns", *fill(s, names)] for s in ID_SETUP[:2]])
    lines = [
        "list-id",
        "list-id",
        "list",
        "list-id nsid 7",
        "set {c} 9",
        "list-id",
        "list-id nsid 99",
        "list",
        "list-id",
    ]
    check(callers, opts, stdin=batch(lines, names))


def test_batch_list_first(
    callers: Callers, peers: list[str], odd_entries: dict[str, str]
) -> None:
    """When list builds the cache, a later list in the batch queries once."""
    names = names_of(peers)
    each(callers, *[["netns", *fill(s, names)] for s in ID_SETUP])
    lines = ["list", "list", "list-id", "list-id target-nsid 0", "list"]
    check(callers, ["-force", "-b", "-"], stdin=batch(lines, names))


def test_batch_ignores_target_nsid(
    callers: Callers, man_page: dict[str, str]
) -> None:
    """ip -batch reopens its socket without strict checking, so a dump
    ignores target-nsid (even an unknown one) and lists the caller's ids;
    the cache misses after the first list-id rescan by nsid."""
    lines = [
        "list-id",
        "list-id target-nsid 12",
        "list-id target-nsid 99",
        "list-id target-nsid 13 nsid 12",
        "list-id target-nsid 12",
    ]
    check(callers, ["-b", "-"], stdin=batch(lines, man_page))
    check(callers, ["-j", "-b", "-"], stdin=batch(lines, man_page))


def test_list_id_target_rescans_by_nsid(
    callers: Callers, man_page: dict[str, str], peers: list[str]
) -> None:
    """A current-nsid that is unassigned misses the cache, and ip rescans
    for the target's nsid value: a name whose id is that value is printed
    (ip's latent bug, kept)."""
    a, b, _ = peers
    ok(run_ip(["-n", man_page["foo"], "netns", "set", a, "40"]))
    each(callers, ["netns", "set", b, "40"])
    for opts in LIST_FORMATS[:3]:
        check(callers, [*opts, "netns", "list-id", "target-nsid", "12"])


# -- under -n NAME: twin worlds -----------------------------------------------
#
# Under -n, list, set and list-id run from inside NAME's netns. Changing
# commands run in two twin worlds (ip's namespaces and netns-fast's, names
# of the same length); netns-fast's output is compared after its names are
# replaced by ip's.

World = dict[str, str]


def fill_world(args: Sequence[str], world: World) -> list[Arg]:
    """Put the world's names into {foo}-style placeholders."""
    return [a.format(**world) for a in args]


def renamed(res: Completed, src: World, dst: World) -> Completed:
    """res with every name of src replaced by dst's."""
    out, err = res.stdout, res.stderr
    for key, name in src.items():
        old, new = name.encode(), dst[key].encode()
        out, err = out.replace(old, new), err.replace(old, new)
    return Completed(res.args, res.returncode, out, err)


@pytest.fixture
def twins() -> Iterator[tuple[World, World]]:
    """Names for ip's world and netns-fast's: two callers, foo and bar
    (not made yet), removed afterwards."""
    worlds: list[World] = []
    for _ in range(2):
        worlds.append(
            {key: unique_name("nsft-" + key) for key in ("ctl", "foo", "bar")}
        )
    with made("nsft-ctl", "nsft-ctl") as ctls:
        worlds[0]["ctl"], worlds[1]["ctl"] = ctls
        try:
            yield worlds[0], worlds[1]
        finally:
            for world in worlds:
                for key in ("foo", "bar"):
                    remove(world[key])


def step(ip_world: World, cli_world: World, args: Sequence[str]) -> None:
    """One command in each world, compared."""
    ip_args, _ = netns_args(fill_world(args, ip_world))
    _, cli_args = netns_args(fill_world(args, cli_world))
    ip_res = run_ip(ip_args, caller=ip_world["ctl"])
    cli_res = run_cli(cli_args, caller=cli_world["ctl"])
    assert_same(ip_res, renamed(cli_res, cli_world, ip_world))


MAN_PAGE = [
    ["netns", "add", "{foo}"],
    ["netns", "add", "{bar}"],
    ["netns", "set", "{foo}", "12"],
    ["netns", "set", "{bar}", "13"],
    ["-n", "{foo}", "netns", "set", "{foo}", "22"],
    ["-n", "{foo}", "netns", "set", "{bar}", "23"],
    ["-n", "{bar}", "netns", "set", "{foo}", "32"],
    ["-n", "{bar}", "netns", "set", "{bar}", "33"],
    ["netns", "list-id", "target-nsid", "12"],
    ["netns", "list-id", "target-nsid", "12", "nsid", "13"],
]


def test_man_page_example(twins: tuple[World, World]) -> None:
    """ip-netns(8)'s foo/bar example, every command by netns-fast."""
    for args in MAN_PAGE:
        step(*twins, args)


@pytest.mark.parametrize(
    "args",
    [
        ["-n", "{foo}", "netns", "set", "{bar}", "23"],
        ["-n", "{foo}", "netns", "set", "{bar}", "auto"],
        ["-n", "{foo}", "netns", "set", "{bar}", "-1"],
        ["-n", "{bar}", "netns", "set", "{foo}", "33"],
        ["-n", "{foo}", "netns", "list-id"],
        ["-n", "{bar}", "-j", "-p", "netns", "list-id"],
        ["-n", "{foo}", "netns", "list-id", "nsid", "23"],
        ["-n", "{foo}", "netns", "list-id", "target-nsid", "23"],
        ["-n", "{bar}", "netns", "list-id", "target-nsid", "32", "nsid", "33"],
        ["-n", "{foo}", "netns", "list-id", "nsid", "99"],
        ["-n", "{foo}", "netns", "list-id", "target-nsid", "99"],
        ["-n", "nsft-nonexistent", "netns", "set", "{bar}", "1"],
        ["-n", "nsft-nonexistent", "netns", "list-id"],
    ],
    ids=" ".join,
)
def test_after_man_page(twins: tuple[World, World], args: list[str]) -> None:
    """set, list and list-id under -n after the man page's set-up (done by
    ip in both worlds): ids, names, errors and exit codes."""
    for world in twins:
        for setup in MAN_PAGE[:8]:
            ok(
                run_ip(
                    netns_args(fill_world(setup, world))[0],
                    caller=world["ctl"],
                )
            )
    step(*twins, args)


@pytest.mark.parametrize(
    "args",
    [
        ["-n", "{foo}", "netns", "list"],
        ["-n", "{foo}", "-j", "netns", "list"],
        ["-n", "{bar}", "-j", "-p", "netns", "list"],
        ["-n", "{bar}", "netns"],
    ],
    ids=" ".join,
)
def test_list_ids_seen_from_inside(
    twins: tuple[World, World], args: list[str]
) -> None:
    """list under -n shows the ids NAME's netns gave (every name in the
    run directory is listed, so both run in ip's world)."""
    world = twins[0]
    for setup in MAN_PAGE[:8]:
        ok(
            run_ip(
                netns_args(fill_world(setup, world))[0], caller=world["ctl"]
            )
        )
    ip_args, cli_args = netns_args(fill_world(args, world))
    assert_same(
        run_ip(ip_args, caller=world["ctl"]),
        run_cli(cli_args, caller=world["ctl"]),
    )


# -- list with more entries than one netlink window ---------------------------
#
# The C listing then runs on several threads: byte-identical to ip, in
# directory order.


@pytest.fixture
def many() -> Iterator[list[str]]:
    """150 live names with 30 stale entries among them."""
    live = [unique_name("nsft-many") for _ in range(150)]
    stale = [unique_name("nsft-stale") for _ in range(30)]
    try:
        for i in range(0, 150, 5):
            assert all(o.ok for o in netns_fast.add_many(live[i : i + 5]))
            fd = os.open(f"{RUN_DIR}/{stale[i // 5]}", os.O_CREAT, 0)
            os.close(fd)
        yield live + stale
    finally:
        netns_fast.delete_many(live + stale)


@pytest.mark.parametrize("opts", [[], ["-j"], ["-j", "-p"]])
def test_list_of_many_entries_matches_ip(
    many: list[str], opts: list[str]
) -> None:
    """180 entries, 30 stale: stdout, stderr and exit code equal ip's."""
    ours = assert_same(
        run_ip([*opts, "netns", "list"]), run_cli([*opts, "list"])
    )
    assert ours.returncode == 0
    assert ours.stderr.count(b"Peer netns reference is invalid") == 60


def test_list_netns_of_many_entries_keeps_directory_order(
    many: list[str],
) -> None:
    """The listing API returns every entry in os.listdir's order."""
    listed = [e.name for e in netns_fast.list_netns()]
    assert listed == os.listdir(RUN_DIR)
    assert set(many) <= set(listed)
