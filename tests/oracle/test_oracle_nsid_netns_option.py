"""ip netns (6.1.0) against netns-fast for the nsid verbs under ``-n NAME``.

Under -n, list, set and list-id run from inside NAME's netns. Changing
commands run in two twin worlds (ip's namespaces and netns-fast's, names of
the same length); netns-fast's output is compared after its names are
replaced by ip's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from nsft_helpers import requires_ip, unique_name
from nsid_helpers import (
    Arg,
    Result,
    cli,
    ip,
    made,
    netns_args,
    ok,
    remove,
    same,
)

pytestmark = [pytest.mark.root, pytest.mark.oracle, requires_ip]

World = dict[str, str]


def fill(args: Sequence[str], world: World) -> list[Arg]:
    """Put the world's names into {foo}-style placeholders."""
    return [a.format(**world) for a in args]


def renamed(res: Result, src: World, dst: World) -> Result:
    """res with every name of src replaced by dst's."""
    out, err = res.stdout, res.stderr
    for key, name in src.items():
        old, new = name.encode(), dst[key].encode()
        out, err = out.replace(old, new), err.replace(old, new)
    return Result(res.args, res.returncode, out, err)


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
    ip_args, _ = netns_args(fill(args, ip_world))
    _, cli_args = netns_args(fill(args, cli_world))
    ip_res = ip(ip_world["ctl"], ip_args)
    cli_res = cli(cli_world["ctl"], cli_args)
    same(ip_res, renamed(cli_res, cli_world, ip_world))


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
            ok(ip(world["ctl"], netns_args(fill(setup, world))[0]))
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
        ok(ip(world["ctl"], netns_args(fill(setup, world))[0]))
    ip_args, cli_args = netns_args(fill(args, world))
    same(ip(world["ctl"], ip_args), cli(world["ctl"], cli_args))
