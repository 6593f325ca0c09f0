"""Oracle: netns-fast against ``ip netns`` (iproute2 6.1.0) on the foundation
verbs (list, add, attach, delete, -all delete, help, dispatch, global
options), byte for byte: stdout, stderr, exit code and the resulting state.

Each case runs both tools from the same starting state in a run directory
of its own (see support.oracle). Documented deviations have their own tests
that assert netns-fast's behaviour and, for contrast, ip's. The last section
makes a syscall fail for real, for both tools (support.faults).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from netns_fast import cli
from support.faults import Fault, supported, wrapper
from support.oracle import (
    RUN_DIR_BYTES,
    Arg,
    Case,
    StateStep,
    assert_same,
    both,
    name,
    nobody_or_skip,
    run_one,
)
from support.private import cli_usage
from support.processes import sleeper_in_own_netns
from support.tools import ip_to_cli, requires_ip, run_cli, run_ip

pytestmark = [pytest.mark.root, pytest.mark.oracle, requires_ip]

A, B, C = name("a"), name("b"), name("c")
STALE = name("stale")
LONG = name("long", 255)
TOO_LONG = name("toolong", 256)
# Names that are valid for ip: anything but "", ".", "..", "/", > 255 bytes.
ODD = {
    "space": name() + b" sp ace",
    "newline": name() + b"\nline2",
    "tab": name() + b"\ttab",
    "utf8": name() + "-ünï-名前".encode(),
    "quotes": name() + b"'single\"double",
    "backslash": name() + b"\\back",
    "dash": b"-" + name(),
    "ctrl": name() + b"\x01\x1b\x7f",
    "not-utf8": name() + b"\xff\xfe",
    "hash": name() + b"#not-a-comment",
    "long255": LONG,
}
TWO = [("live", A), ("live", B)]
ODD_LIVE = [("live", n) for n in ODD.values()]
# /run/netns as a plain directory (not a mount point), or as a file.
PLAIN_RUN_DIR = [("run_dir", b"dir")]
RUN_DIR_FILE = [("run_dir", b"file")]


def p(label: str, *args: object, **kw: object) -> object:
    """A pytest param holding a Case: p(id, *argv, state=..., opts=...)."""
    return pytest.param(Case(list(args), **kw), id=label)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def nobody(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """argv prefix running a tool as uid 65534 without capabilities."""
    return nobody_or_skip(tmp_path_factory)


# -- list ---------------------------------------------------------------------

# list and its spellings print the entries raw, in readdir order.
LIST_CASES = [
    p("bare", state=TWO),
    *(
        p(f"verb-{v}", v, state=TWO)
        for v in ("list", "show", "lst", "l", "li", "s", "sh", "ls")
    ),
    p("extra-args-ignored", "list", "foo", "bar", state=TWO),
    p("empty-dir", "list"),
    p("empty-dir-bare"),
    p("missing-run-dir", "list", missing_run_dir=True),
    p("missing-run-dir-bare", missing_run_dir=True),
    p("missing-run-dir-json", "list", opts=["-j"], missing_run_dir=True),
    p("missing-run-dir-pretty", opts=["-j", "-p"], missing_run_dir=True),
    p("plain-run-dir", "list", opts=["-j"], state=PLAIN_RUN_DIR),
    p("run-dir-is-file", "list", state=RUN_DIR_FILE),
    p("run-dir-is-file-json", "list", opts=["-j"], state=RUN_DIR_FILE),
    p("odd-names", "list", state=ODD_LIVE),
    p("three-order", "list", state=[("live", C), ("live", A), ("live", B)]),
]


# -j / -j -p list: 6.1.0's json_writer layout and escaping.
JSON_CASES = [
    *(
        p(
            f"{'pretty' if pretty else 'compact'}-{n}",
            "list",
            opts=["-j", "-p"] if pretty else ["-j"],
            state=[("live", x) for x in (A, B)[:n]],
        )
        for pretty in (False, True)
        for n in (0, 1, 2)
    ),
    p("long-option", "list", opts=["--json"], state=TWO),
    p("json-bare", opts=["-j"], state=TWO),
    p("json-pretty-order", "show", opts=["-p", "-j"], state=TWO),
    p("pretty-alone", "list", opts=["-p"], state=TWO),
    p("escape-odd-names", "list", opts=["-j"], state=ODD_LIVE),
    p("escape-odd-names-pretty", "list", opts=["-j", "-p"], state=ODD_LIVE),
]


@pytest.mark.parametrize(
    "case",
    [
        p("stale", "list", state=[("live", A), ("stale", STALE), ("live", B)]),
        p(
            "stale-json",
            "list",
            opts=["-j"],
            state=[("live", A), ("stale", STALE)],
        ),
        p("dir", "list", state=[("dir", STALE), ("live", B)]),
    ],
)
def test_list_not_a_namespace(case: Case) -> None:
    """Non-namespace entries are listed; their failed nsid lookups too."""
    # ip prints "Error: Peer netns reference is invalid." twice per entry.
    assert_same(*both(case))


# -- add ----------------------------------------------------------------------

# add: success, EEXIST (live or stale), name checks, missing name.
ADD_CASES = [
    p("ok", "add", A),
    p("ok-beside-others", "add", C, state=TWO),
    p("ok-missing-run-dir", "add", A, missing_run_dir=True),
    p("exists", "add", A, state=TWO),
    p("stale-exists", "add", STALE, state=[("stale", STALE)]),
    p("dir-exists", "add", STALE, state=[("dir", STALE)]),
    p("missing-name", "add"),
    p("extra-args-ignored", "add", A, "extra", "more"),
    p("prefix-a", "a", A),
    p("long-255", "add", LONG),
    *(
        p(f"invalid-{k}", "add", v)
        for k, v in (
            ("empty", ""),
            ("dot", "."),
            ("dotdot", ".."),
            ("slash", b"a/b"),
            ("256", TOO_LONG),
            ("slash-only", "/"),
        )
    ),
    *(p(f"odd-{k}", "add", n) for k, n in ODD.items()),
    p("all-valid-name", "add", A, opts=["-all"]),
    p("all-exists", "add", A, opts=["-all"], state=TWO),
    p("plain-run-dir", "add", A, state=PLAIN_RUN_DIR),
    p("run-dir-is-file", "add", A, state=RUN_DIR_FILE),
]


# -- attach -------------------------------------------------------------------


@pytest.fixture(scope="module")
def child_pid() -> Iterator[int]:
    """A sleeping process in a network namespace of its own."""
    with sleeper_in_own_netns() as pid:
        yield pid


def _bound_to(pid: int) -> object:
    """Whether RUN_DIR/A is the netns of pid (compared like the output)."""

    def probe() -> object:
        try:
            st = os.stat(RUN_DIR_BYTES + b"/" + A)
        except FileNotFoundError:
            return None
        ns = os.stat(f"/proc/{pid}/ns/net")
        return (st.st_dev, st.st_ino) == (ns.st_dev, ns.st_ino)

    return probe


# attach: argument, PID parsing (get_s32 base 0) and bind errors.
ATTACH_BAD = [
    p("no-args", "attach"),
    p("name-only", "attach", A),
    p("pid-abc", "attach", A, "abc"),
    p("pid-0", "attach", A, "0"),
    p("pid-empty", "attach", A, ""),
    p("pid-trailing-junk", "attach", A, "12abc"),
    p("pid-too-big", "attach", A, "2147483648"),
    p("pid-bad-hex", "attach", A, "0x"),
    p("pid-bad-octal", "attach", A, "09"),
    p("pid-negative", "attach", A, "-5"),
    p("pid-int-min", "attach", A, "-2147483648"),
    p("pid-dead", "attach", A, "999999999"),
    p("invalid-name", "attach", "a/b", "1"),
    p(
        "missing-run-dir-dead-pid",
        "attach",
        A,
        "999999999",
        missing_run_dir=True,
    ),
]


@pytest.mark.parametrize(
    "spelling", ["dec", "hex", "HEX", "octal", "plus", "space", "at"]
)
def test_attach_ok(child_pid: int, spelling: str) -> None:
    """attach binds the child's netns, whatever base the PID is written in."""
    pid = {
        "dec": str(child_pid),
        "hex": hex(child_pid),
        "HEX": f"0X{child_pid:X}",
        "octal": f"0{child_pid:o}",
        "plus": f"+{child_pid}",
        "space": f" {child_pid}",
        "at": str(child_pid),
    }[spelling]
    verb = "at" if spelling == "at" else "attach"
    res = assert_same(*both(Case([verb, A, pid], probe=_bound_to(child_pid))))
    assert res.rc == 0
    assert res.state.extra is True


def test_attach_exists(child_pid: int) -> None:
    """attach onto an existing name fails with EEXIST and changes nothing."""
    res = assert_same(
        *both(
            Case(
                ["attach", A, str(child_pid)],
                state=TWO,
                probe=_bound_to(child_pid),
            )
        )
    )
    assert res.rc == 1
    assert res.state.extra is False


# -- delete -------------------------------------------------------------------

# delete/del/d: success, ENOENT, stale files, missing name.
DELETE_CASES = [
    *(p(f"ok-{v}", v, A, state=TWO) for v in ("delete", "del", "d", "dele")),
    p("missing", "delete", C, state=TWO),
    p("no-name", "delete", state=TWO),
    p("stale", "delete", STALE, state=[("live", A), ("stale", STALE)]),
    p("extra-args-ignored", "del", A, "junk", B, state=TWO),
    p("invalid-name", "del", "a/b", state=TWO),
    p("invalid-empty", "del", "", state=TWO),
    p("directory", "del", STALE, state=[("dir", STALE), ("live", A)]),
    p("invalid-dotdot", "del", "..", state=TWO),
    p("missing-run-dir", "del", A, missing_run_dir=True),
    p("run-dir-is-file", "del", A, state=RUN_DIR_FILE),
    p("all-run-dir-is-file", "delete", opts=["-all"], state=RUN_DIR_FILE),
    p("long-255", "del", LONG, state=[("live", LONG)]),
    *(p(f"odd-{k}", "del", n, state=[("live", n)]) for k, n in ODD.items()),
]


ALL_DELETE_CASES = [
    p(
        "private-set",
        "delete",
        state=[("live", A), ("stale", STALE), ("live", B), ("live", C)],
    ),
    p("del-spelling", "del", state=TWO),
    p("empty-dir", "delete"),
    p("missing-run-dir", "delete", missing_run_dir=True),
    p("plain-run-dir", "delete", state=PLAIN_RUN_DIR),
    p(
        "stops-at-directory",
        "delete",
        state=[("live", A), ("dir", STALE), ("live", B)],
    ),
]


@pytest.mark.parametrize("case", ALL_DELETE_CASES)
def test_all_delete(case: Case) -> None:
    """-all delete removes every entry of the run directory, rc 0."""
    case.opts = ["-all"]
    res = assert_same(*both(case))
    assert res.rc == 0
    if not any(kind in ("dir", "run_dir") for kind, _ in case.state):
        assert res.state.entries in ((), None)


# -- dispatch and help --------------------------------------------------------

# Name check before dispatch, prefix matching, unknown verbs, help.
DISPATCH_CASES = [
    p("help", "help"),
    p("h", "h"),
    p("help-extra", "help", "x"),
    p("help-invalid-name", "help", "x/y"),
    p("unknown", "bogus"),
    p("unknown-with-arg", "bogus", "x"),
    p("empty-verb", ""),
    p("lists", "lists"),
    p("addx", "addx", A),
    p("bogus-invalid-name", "bogus", "a/b"),
    p("list-empty-name", "list", ""),
    p("identify-empty-name", "identify", ""),
    p("exec-invalid-name", "exec", "..", "true"),
    p("set-invalid-name", "set", TOO_LONG, "1"),
    p("all-skips-name-check-unknown", "bogus", "a/b", opts=["-all"]),
    p("all-skips-name-check-list", "list", "", opts=["-all"], state=TWO),
    p("all-list", "list", opts=["-all"], state=TWO),
    p("all-bare", opts=["-all"], state=TWO),
    p("list-invalid-name", "list", "a/b", state=TWO),
    p("he", "he"),
    p("help-list", "help", "list"),
    p("option-after-verb", "list", "-j", state=TWO),
    p("double-dash-after-verb", "list", "--", "x", state=TWO),
    p("option-as-verb", "-j", "list", opts=["--"]),
]


# -- global options -----------------------------------------------------------

ACCEPTED = [
    "-s",
    "-stats",
    "-d",
    "-r",
    "-o",
    "-t",
    "-ts",
    "-iec",
    "-N",
    "-M",
    "-B",
    "-0",
    "-4",
    "-6",
    "-h",
    "-human-readable",
    "-br",
    "-a",
    "-force",
    "-c",
    "-color",
    "-color=never",
    "-color=auto",
    "-color=always",
    "-c=never",
    "-color=",
    "-4 -6",
    "--stats",
]

# ip's global option loop: accepted, unknown and bad-value options.
OPTION_CASES = [
    *(p(f"accepted{o}", "list", opts=o.split(), state=TWO) for o in ACCEPTED),
    p("unknown-x", "list", opts=["-x"]),
    p("unknown-jp", "list", opts=["-jp"]),
    p("unknown-triple-dash", "list", opts=["---json"]),
    p("unknown-color-value", "list", opts=["-color=bad"]),
    p("unknown-word", "list", opts=["-foo", "-x"]),
    p("family-bad", "list", opts=["-family", "bad"]),
    p("f-bad", "list", opts=["-f", "ipx"]),
    p("family-inet", "list", opts=["-family", "inet"], state=TWO),
    p("f-link", "list", opts=["-f", "link"], state=TWO),
    p("rc-bad", "list", opts=["-rc", "bad"]),
    p("rc-negative", "list", opts=["-rc", "-1"]),
    p("rc-hex", "list", opts=["-rc", "0x10"], state=TWO),
    p("rc-max", "list", opts=["-rc", "4294967295"], state=TWO),
    p("rc-too-big", "list", opts=["-rc", "4294967296"]),
    p("rc-empty", "list", opts=["-rc", ""]),
    p("rc-space", "list", opts=["-rcvbuf", " 7"], state=TWO),
    p("rc-minus-zero", "list", opts=["-rc", "-0"], state=TWO),
    *(
        p(f"family-{f}", "list", opts=["-f", f], state=TWO)
        for f in ("inet6", "mpls", "bridge", "unix", "INET", "")
    ),
    p("json-equals", "list", opts=["-j=1"]),
    p("version-prefix-unknown", "list", opts=["-Vx"]),
    p("loops", "list", opts=["-l", "5"], state=TWO),
    p("loops-any", "list", opts=["-loops", "x"], state=TWO),
    p("double-dash", "list", opts=["-j", "--"], state=TWO),
    p("double-dash-only", opts=["--"], state=TWO),
    p("double-dash-then-dash-word", "-x", opts=["--"]),
]


@pytest.mark.parametrize(
    "argv",
    [
        ["-b"],
        ["-batch"],
        ["-family"],
        ["-f"],
        ["-l"],
        ["-loops"],
        ["-rc"],
        ["-family", "help"],
        ["-help"],
        ["-he"],
    ],
)
def test_usage_is_netns_fasts_own(argv: list[str]) -> None:
    """Deviation (4): a missing option argument prints netns-fast's usage."""
    # ip prints its global usage there; both exit 255 with "Usage:".
    ip_res, cli_res = both(Case([], argv=list(argv)))
    assert ip_res.rc == cli_res.rc == 255
    assert ip_res.out == cli_res.out == b""
    assert ip_res.err.startswith(b"Usage: ip [ OPTIONS ] OBJECT")
    # netns-fast's usage is ip's netns usage with its own name in it.
    netns_usage = ip_to_cli(run_ip(["netns", "help"]).stderr)
    assert netns_usage.startswith(b"Usage:\tnetns-fast list\n")
    assert cli_res.err == netns_usage
    assert ip_res.state == cli_res.state


def test_help_is_ips_usage_then_the_extensions() -> None:
    """Deviation: help prints ip's netns usage byte for byte (its own name
    in it), then the paragraph of netns-fast's extensions; both exit 255."""
    ip_res, cli_res = run_ip(["netns", "help"]), run_cli(["help"])
    assert ip_res.returncode == cli_res.returncode == 255
    assert ip_res.stdout == cli_res.stdout == b""
    ip_text = ip_res.stderr.replace(b"ip [-all] netns ", b"netns-fast [-all] ")
    ip_text = ip_text.replace(b"ip netns ", b"netns-fast ")
    assert cli_res.stderr == ip_text + cli_usage.extensions()


@pytest.mark.parametrize(
    ("argv", "ip_rc", "ip_made"),
    [
        (["--help"], 255, ()),
        (["netns", "--help"], 255, ()),
        (["netns", "add", "--help"], 0, (b"--help",)),
        (["netns", "delete", "--help"], 1, ()),
    ],
    ids=["option", "verb", "add", "delete"],
)
def test_double_dash_help_prints_the_help(
    argv: list[str], ip_rc: int, ip_made: tuple[bytes, ...]
) -> None:
    """Deviation: --help (an option, or a verb's word) prints the usage on
    stdout, exits 0 and does nothing else; ip prints its usage (255), calls
    it an unknown verb, or takes it for a name (add --help makes a
    namespace called "--help")."""
    case = Case([], argv=argv)
    ip_res = run_one(case, "ip")
    case.argv = [a for a in argv if a != "netns"]
    cli_res = run_one(case, "cli")
    assert (cli_res.rc, cli_res.out, cli_res.err) == (0, cli.USAGE, b"")
    assert not cli_res.state.entries
    assert ip_res.rc == ip_rc
    assert tuple(ip_res.state.entries or ()) == ip_made


def test_version_is_netns_fasts_own() -> None:
    """Deviation (5): -V prints netns-fast's own version line, rc 0."""
    from netns_fast import __version__

    for opt in ("-V", "-Version"):
        ip_res, cli_res = both(Case(["list"], opts=[opt]))
        assert ip_res.out.startswith(b"ip utility, iproute2-")
        assert cli_res.out == (
            b"netns-fast utility, netns_fast-%s\n" % __version__.encode()
        )
        assert ip_res.rc == cli_res.rc == 0
        assert ip_res.err == cli_res.err == b""


# -- documented deviations ----------------------------------------------------


def test_all_delete_with_name_refused() -> None:
    """Deviation (1): -all delete NAME is refused (255), nothing deleted."""
    # ip ignores NAME and deletes every entry, rc 0.
    case = Case(["delete", A], opts=["-all"], state=[("live", A), ("live", B)])
    ip_res, cli_res = both(case)
    assert (ip_res.rc, ip_res.out, ip_res.err) == (0, b"", b"")
    assert ip_res.state.entries == ()
    assert cli_res.rc == 255
    assert cli_res.out == b""
    assert cli_res.err == (
        b'Refusing "-all delete ' + A + b'": -all deletes every namespace,'
        b' not only "' + A + b'". Use "netns-fast delete NAME" or'
        b' "netns-fast -all delete".\n'
    )
    assert cli_res.state.entries == (B, A)
    assert cli_res.state.nsfs_mounts == ((A, 1), (B, 1))


@pytest.mark.parametrize(
    ("verb", "bad"),
    [("add", b"a/b"), ("add", b".."), ("add", b""), ("attach", b"a/b")],
)
def test_all_add_still_checks_name(verb: str, bad: bytes) -> None:
    """Deviation (2): -all add/attach still refuse an invalid name (255)."""
    # ip skips the name check under -all and fails later, rc 1.
    args: list[object] = [verb, bad] + (["1"] if verb == "attach" else [])
    ip_res, cli_res = both(Case(args, opts=["-all"]))  # type: ignore[arg-type]
    assert ip_res.rc == 1
    assert ip_res.err.startswith(b'Cannot create namespace file "/run/netns/')
    assert (cli_res.rc, cli_res.out) == (255, b"")
    assert cli_res.err == b'Invalid netns name "' + bad + b'"\n'
    assert cli_res.state == ip_res.state


def test_all_attach_missing_args_same() -> None:
    """-all attach with too few arguments fails the same way in both."""
    assert_same(*both(Case(["attach", A], opts=["-all"])))


def ebusy(nm: bytes) -> bytes:
    """ip's message for a name that is still a mount point after umount."""
    return (
        b'Cannot remove namespace file "/run/netns/%s": '
        b"Device or resource busy\n" % nm
    )


def test_delete_stacked_mounts() -> None:
    """Deviation (3): delete removes every stacked mount and the file."""
    # ip unmounts only the top mount and fails with EBUSY (rc 1).
    case = Case(["delete", A], state=[("live", B), ("stacked", A)])
    ip_res, cli_res = both(case)
    assert ip_res.rc == 1
    assert ip_res.err == ebusy(A)
    assert ip_res.state.entries == (A, B)
    assert (cli_res.rc, cli_res.out, cli_res.err) == (0, b"", b"")
    assert cli_res.state.entries == (B,)
    assert cli_res.state.nsfs_mounts == ((B, 1),)


def test_all_delete_stacked_mounts() -> None:
    """Deviation (3) under -all: every entry is deleted, stacked or not."""
    # ip stops at the stacked name (EBUSY, still rc 0); later entries stay.
    case = Case(
        ["delete"],
        opts=["-all"],
        state=[("live", A), ("stacked", B), ("live", C)],
    )
    ip_res, cli_res = both(case)
    assert ip_res.rc == 0
    assert ip_res.err == ebusy(B)
    assert ip_res.state.entries == (B, A)  # C went first (newest first)
    assert (cli_res.rc, cli_res.out, cli_res.err) == (0, b"", b"")
    assert cli_res.state.entries == ()
    assert cli_res.state.nsfs_mounts == ()


def group(prefix: str, params: list[object]) -> list[object]:
    """The params with ``prefix-`` before each id."""
    return [
        pytest.param(*x.values, id=f"{prefix}-{x.id}")  # type: ignore[attr-defined]
        for x in params
    ]


SAME_AS_IP = [
    *group("list", LIST_CASES),
    *group("json", JSON_CASES),
    *group("add", ADD_CASES),
    *group("attach", ATTACH_BAD),
    *group("delete", DELETE_CASES),
    *group("dispatch", DISPATCH_CASES),
    *group("option", OPTION_CASES),
]


@pytest.mark.parametrize("case", SAME_AS_IP)
def test_same_as_ip(case: Case) -> None:
    """stdout, stderr, exit code and resulting state are those of ip."""
    assert_same(*both(case))


@pytest.mark.parametrize(
    "redirect",
    ["stdout-closed", "stdout-full", "stdout-broken", "stderr-closed"],
)
@pytest.mark.parametrize(
    ("args", "opts"),
    [
        (["list"], []),
        (["list"], ["-j", "-p"]),
        (["help"], []),
        (["add", A], []),
        (["del", B], []),
    ],
    ids=["list", "json", "help", "add-exists", "del-missing"],
)
def test_unusable_stdio(
    redirect: str, args: list[Arg], opts: list[Arg]
) -> None:
    """A closed, full or broken stdout/stderr changes no exit code, as ip."""
    # ip never checks its stdio writes, and dies of SIGPIPE (rc -13).
    state = [("live", A)] * (args[0] != "del")
    assert_same(*both(Case(args, opts=opts, state=state, redirect=redirect)))


# -- without privileges -------------------------------------------------------

NOBODY_CASES = [
    p("add", "add", C, state=TWO),
    p("attach", "attach", C, "1", state=TWO),
    p("del-live", "del", A, state=TWO),
    p("del-missing", "del", C, state=TWO),
    p("all-delete", "delete", opts=["-all"], state=TWO),
    p("list", "list", state=TWO),
    p("list-json", "list", opts=["-j"], state=TWO),
    p("add-missing-run-dir", "add", A, missing_run_dir=True),
    p("list-missing-run-dir", "list", missing_run_dir=True),
    p("add-plain-run-dir", "add", A, state=PLAIN_RUN_DIR),
    *(
        p(
            f"closed-run-dir-{k}",
            *args,
            opts=opts,
            state=[*TWO, ("mode", b"700")],
        )
        for k, opts, args in (
            ("list", [], ["list"]),
            ("json", ["-j"], ["list"]),
            ("add", [], ["add", C]),
            ("del", [], ["del", A]),
            ("all-delete", ["-all"], ["delete"]),
        )
    ),
]


@pytest.mark.parametrize("case", NOBODY_CASES)
def test_without_privileges(case: Case, nobody: list[str]) -> None:
    """As uid 65534 without capabilities: EPERM/EACCES words and states."""
    assert_same(*both(case, nobody))


# -- a syscall that fails for real --------------------------------------------
#
# A seccomp filter (support.faults) makes the same syscall fail with the same
# errno for both tools; everything else runs as usual, from the same starting
# state. flock(2) of the run directory: ip prints ``Warning: could not flock
# netns runtime directory "RUN": ERR`` and goes on, for every add and attach
# (also in a batch); the other verbs take no lock.

needs_seccomp = pytest.mark.skipif(
    not supported(), reason="no seccomp table for this architecture"
)
LIVE_A: list[StateStep] = [("live", A)]
NO_FLOCK = wrapper(Fault("flock", errno.ENOLCK))
WARNING = (
    b'Warning: could not flock netns runtime directory "/run/netns": '
    b"No locks available\n"
)


@needs_seccomp
@pytest.mark.parametrize(
    ("args", "state", "missing"),
    [
        pytest.param(["add", A], [], False, id="add"),
        pytest.param(["add", A], LIVE_A, False, id="add-exists"),
        pytest.param(["add", A], [], True, id="add-missing-run-dir"),
        pytest.param(["attach", A, "999999999"], [], False, id="attach-dead"),
        pytest.param(["delete", A], LIVE_A, False, id="delete"),
        pytest.param(["list"], LIVE_A, False, id="list"),
    ],
)
def test_flock_failure(
    args: list[str], state: list[StateStep], missing: bool
) -> None:
    """A failing flock: ip's warning (add, attach), then the verb as
    usual; other verbs print nothing about it."""
    res = assert_same(
        *both(Case(args, state=state, missing_run_dir=missing), NO_FLOCK)
    )
    assert res.err.startswith(WARNING) == (args[0] in ("add", "attach"))


@needs_seccomp
def test_flock_failure_attach(child_pid: int) -> None:
    """attach warns too, and still binds the process's namespace."""
    res = assert_same(*both(Case(["attach", A, str(child_pid)]), NO_FLOCK))
    assert (res.rc, res.err) == (0, WARNING)


@needs_seccomp
def test_flock_failure_warns_for_every_add_of_a_batch(tmp_path: Path) -> None:
    """In a batch each add tries the flock again, and warns again."""
    cmds = tmp_path / "cmds"
    cmds.write_bytes(b"netns add %s\nnetns add %s\nnetns list\n" % (A, B))
    res = assert_same(*both(Case([], argv=["-b", str(cmds)]), NO_FLOCK))
    assert res.err == WARNING * 2
