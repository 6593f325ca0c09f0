"""nsid pieces without privileges: the C listing on plain files, record
decoding, ip's output and error wording, list-id parsing and the name
cache, pyroute2 message decoding, API argument checks, CLI start-up."""

from __future__ import annotations

import ast
import errno
import io
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

import netns_fast
from netns_fast import _sys, cli
from netns_fast._netns import ffi, lib
from netns_fast._sys import RawNsidEntry
from netns_fast.cli import list as _listing
from netns_fast.cli import nsid as _cli_nsid
from netns_fast.exceptions import error_for

PEER_INVALID = b"Peer netns reference is invalid"
STALE_LINE = b"Error: Peer netns reference is invalid.\n"


# -- the C listing, on plain files (no namespace needed) ----------------------


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory of plain (stale-like) files and odd entries."""
    for i in range(70):  # more than one request window
        (tmp_path / f"f{i:02d}").write_bytes(b"")
    (tmp_path / "d").mkdir()
    (tmp_path / "dangling").symlink_to("/nonexistent-nsft")
    (tmp_path / ("L" * 255)).write_bytes(b"")
    return tmp_path


def test_c_listing_reports_every_entry(run_dir: Path) -> None:
    """Every entry comes back in readdir order: plain files and dirs with
    the kernel's EINVAL text, a dangling link with its open errno."""
    entries = _sys.nsid_list(os.fsencode(run_dir))
    assert [e.name for e in entries] == [
        os.fsencode(n) for n in os.listdir(run_dir)
    ]
    by_name = {e.name: e for e in entries}
    dangling = by_name[b"dangling"]
    assert (dangling.open_errno, dangling.query_errno) == (errno.ENOENT, 0)
    for name in (b"d", b"f00", b"f69", b"L" * 255):
        entry = by_name[name]
        assert entry.nsid == -1
        assert entry.open_errno == 0
        assert entry.query_errno == errno.EINVAL
        assert entry.message == PEER_INVALID


def test_c_listing_missing_dir_and_not_a_dir(tmp_path: Path) -> None:
    """opendir failures raise with step nsid_open_dir."""
    with pytest.raises(FileNotFoundError) as missing:
        _sys.nsid_list(os.fsencode(tmp_path / "nope"))
    assert missing.value.step == "nsid_open_dir"  # type: ignore[attr-defined]
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        _sys.nsid_list(os.fsencode(tmp_path / "file"))


def test_c_single_get(run_dir: Path) -> None:
    """nsid_get: the kernel's text for a plain file, ENOENT for none."""
    rd = os.fsencode(run_dir)
    with pytest.raises(OSError, match="Peer netns") as invalid:
        _sys.nsid_get(rd, b"f01")
    assert invalid.value.errno == errno.EINVAL
    assert invalid.value.strerror == PEER_INVALID.decode()
    assert invalid.value.step == "nsid_query"  # type: ignore[attr-defined]
    with pytest.raises(FileNotFoundError):
        _sys.nsid_get(rd, b"missing")
    with pytest.raises(OSError, match="too long") as long_path:
        _sys.nsid_get(rd, b"x" * 5000)
    assert long_path.value.step == "nsid_path"  # type: ignore[attr-defined]


def test_list_netns_api_on_plain_files(run_dir: Path) -> None:
    """The API lists stale entries without id and leaves out vanished
    ones; a missing run dir is empty."""
    listed = netns_fast.list_netns(run_dir=run_dir)
    names = [e.name for e in listed]
    assert "dangling" not in names
    assert len(names) == 72
    assert all(e.nsid is None for e in listed)
    assert netns_fast.list_netns(run_dir=run_dir / "nope") == []


def test_record_decoding() -> None:
    """The packed records (kind, nsid, errno, lengths) and the text blob
    decode into RawNsidEntry tuples."""
    raw = ffi.new("struct nsf_nsid_list *")
    recs = ffi.new(
        "int[]",
        [
            *(lib.NSF_NSID_OK, 7, 0, 1, 0),
            *(lib.NSF_NSID_OPEN_FAILED, -1, errno.ENOENT, 2, 0),
            *(lib.NSF_NSID_QUERY_FAILED, -1, errno.EINVAL, 3, 4),
        ],
    )
    text = ffi.new("char[]", b"abbcccmsg!")
    raw.count, raw.recs, raw.text, raw.text_len = 3, recs, text, 10
    assert _sys._nsid_entries(raw) == [
        RawNsidEntry(b"a", 7, 0, 0, b""),
        RawNsidEntry(b"bb", -1, errno.ENOENT, 0, b""),
        RawNsidEntry(b"ccc", -1, 0, errno.EINVAL, b"msg!"),
    ]
    raw.count = 0
    assert _sys._nsid_entries(raw) == []


# -- list: output and the name cache -----------------------------------------


def new_ctx(json: bool = False, pretty: bool = False) -> cli.Ctx:
    """A CLI context writing to memory."""
    ctx = cli.Ctx(io.BytesIO(), io.BytesIO())
    ctx.json, ctx.pretty = json, pretty
    return ctx


def out(ctx: cli.Ctx) -> bytes:
    """What went to stdout."""
    assert isinstance(ctx.out, io.BytesIO)
    return ctx.out.getvalue()


def err(ctx: cli.Ctx) -> bytes:
    """What went to stderr."""
    assert isinstance(ctx.err, io.BytesIO)
    return ctx.err.getvalue()


ENTRIES = [
    RawNsidEntry(b"stale", -1, 0, errno.EINVAL, PEER_INVALID),
    RawNsidEntry(b"a", 7, 0, 0, b""),
    RawNsidEntry(b"gone", -1, errno.ENOENT, 0, b""),
    RawNsidEntry(b'q"\t', 0, 0, 0, b""),
]


@pytest.fixture
def fake_listing(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """_sys.nsid_list returns ENTRIES; the list counts the passes."""
    passes: list[int] = []

    def fake(run_dir: bytes) -> list[RawNsidEntry]:
        passes.append(1)
        return list(ENTRIES)

    monkeypatch.setattr(_sys, "nsid_list", fake)
    return passes


def test_list_text(fake_listing: list[int]) -> None:
    """Names raw, ' (id: N)' when assigned; stale errors twice; one pass."""
    ctx = new_ctx()
    assert _listing.print_list(ctx) == 0
    assert out(ctx) == b'stale\na (id: 7)\ngone\nq"\t (id: 0)\n'
    assert err(ctx) == STALE_LINE * 2
    assert fake_listing == [1]


def test_list_again_in_a_batch_queries_once(fake_listing: list[int]) -> None:
    """With the cache built, a second list prints each error once."""
    ctx = new_ctx()
    _listing.print_list(ctx)
    _listing.print_list(ctx)
    assert err(ctx) == STALE_LINE * 3


def test_list_json(fake_listing: list[int]) -> None:
    """-j: "id" only when assigned, 6.1.0 escaping."""
    ctx = new_ctx(json=True)
    _listing.print_list(ctx)
    assert out(ctx) == (
        b'[{"name":"stale"},{"name":"a","id":7},{"name":"gone"},'
        b'{"name":"q\\"\\t","id":0}]\n'
    )


def test_list_pretty_json(fake_listing: list[int]) -> None:
    """-j -p: json_writer's pretty layout."""
    ctx = new_ctx(json=True, pretty=True)
    _listing.print_list(ctx)
    assert out(ctx).startswith(b'[ {\n        "name": "stale"\n    },{\n')
    assert out(ctx).endswith(b'        "id": 0\n    } ]\n')


def failing(step: str, code: int) -> Any:
    """A fake nsid_list that raises like _sys does."""

    def fake(run_dir: bytes) -> list[RawNsidEntry]:
        raise error_for(code, step, "/run/netns")

    return fake


def test_list_without_run_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """No run dir: nothing at all, rc 0, and the cache stays unbuilt."""
    monkeypatch.setattr(
        _sys, "nsid_list", failing("nsid_open_dir", errno.ENOENT)
    )
    ctx = new_ctx(json=True)
    assert _listing.print_list(ctx) == 0
    assert (out(ctx), err(ctx)) == (b"", b"")
    assert not _listing.nsid_cache(ctx).ready


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("nsid_socket", b"Cannot open rtnetlink\n"),
        ("nsid_send", b"Cannot talk to rtnetlink: Operation not permitted\n"),
    ],
)
def test_list_netlink_failure(
    monkeypatch: pytest.MonkeyPatch, step: str, message: bytes
) -> None:
    """No netlink socket: ip's message and exit 1."""
    monkeypatch.setattr(_sys, "nsid_list", failing(step, errno.EPERM))
    ctx = new_ctx()
    with pytest.raises(cli.CliExit) as info:
        _listing.print_list(ctx)
    assert info.value.code == 1
    assert err(ctx) == message


@pytest.mark.parametrize(
    ("message", "code", "line"),
    [
        (b"Peer netns reference is invalid", 22, STALE_LINE[:-1]),
        (b"Ends with a dot.", 22, b"Error: Ends with a dot."),
        (None, errno.EPERM, b"RTNETLINK answers: Operation not permitted"),
        (b"", errno.EEXIST, b"RTNETLINK answers: File exists"),
    ],
)
def test_kernel_error_wording(
    message: Optional[bytes], code: int, line: bytes
) -> None:
    """Ext-ack text gets 'Error: ' and a final '.'; none gives errno's."""
    assert _listing.kernel_error(message, code) == line


# -- list-id: parsing ---------------------------------------------------------


def parse(args: list[bytes]) -> tuple[object, bytes]:
    """_parse_list_id's result, or the exit code, and its stderr."""
    ctx = new_ctx()
    try:
        result: object = _cli_nsid._parse_list_id(ctx, args)
    except cli.CliExit as exc:
        result = exc.code
    return result, err(ctx)


@pytest.mark.parametrize(
    ("args", "result", "stderr"),
    [
        ([], (None, None), b""),
        ([b"nsid", b"0x10"], (None, 16), b""),
        ([b"nsid", b"1", b"target-nsid", b"010"], (8, 1), b""),
        (
            [b"nsid", b"-1"],
            255,
            b'Error: argument "(null)" is wrong: "nsid" value should be >= 0',
        ),
        (
            [b"target-nsid", b"-1", b"nsid"],
            255,
            b'Error: argument "nsid" is wrong: "target-nsid" value should '
            b"be >= 0",
        ),
        (
            [b"nsid", b"1", b"nsid", b"2"],
            255,
            b'Error: duplicate "nsid": "nsid" is the second value.',
        ),
        (
            [b"target-nsid"],
            255,
            b'Command line is not complete. Try option "help"',
        ),
        (
            [b"nsid", b"z"],
            255,
            b'Error: argument "z" is wrong: "nsid" value is invalid',
        ),
    ],
)
def test_list_id_parsing(
    args: list[bytes], result: object, stderr: bytes
) -> None:
    """Keywords in any order, ip's exact messages, exit 255."""
    got, text = parse(args)
    assert got == result
    assert text.rstrip(b"\n") == stderr


def test_list_id_unknown_word_prints_usage() -> None:
    """Anything else: the usage text, exit 255."""
    got, text = parse([b"nsid", b"1", b"name"])
    assert got == 255
    assert text == cli.USAGE


# -- list-id: lines, JSON and the name cache ----------------------------------


class Replies:
    """Stands in for netns_fast._rtnl_nsid's dump and get_by_nsid."""

    def __init__(self, replies: list[Any], failure: Any = None) -> None:
        self.replies = replies
        self.failure = failure
        self.strict: list[bool] = []

    def dump(self, target: Optional[int], strict: bool = True) -> list[Any]:
        """The dump."""
        self.strict.append(strict)
        if self.failure is not None:
            self.failure.partial = self.replies
            raise self.failure
        return self.replies

    def get_by_nsid(self, nsid: int, target: Optional[int]) -> Any:
        """The single get."""
        if self.failure is not None:
            raise self.failure
        return self.replies[0]


@pytest.fixture
def rtnl() -> Any:
    """netns_fast._rtnl_nsid with its requests patched per test."""
    from netns_fast import _rtnl_nsid

    return _rtnl_nsid


def patch_replies(
    monkeypatch: pytest.MonkeyPatch, rtnl: Any, fake: Replies
) -> None:
    """Route the requests to fake."""
    monkeypatch.setattr(rtnl, "dump", fake.dump)
    monkeypatch.setattr(rtnl, "get_by_nsid", fake.get_by_nsid)


def test_list_id_lines_and_cache(
    monkeypatch: pytest.MonkeyPatch, fake_listing: list[int], rtnl: Any
) -> None:
    """A hit prints the name and empties its cache slot; a miss rescans by
    nsid (errors of the entries before the match) and refills it; no name
    leaves a trailing space."""
    reply = rtnl.NsidReply
    fake = Replies([reply(0, None), reply(7, None), reply(9, None)])
    patch_replies(monkeypatch, rtnl, fake)
    ctx = new_ctx()
    assert _cli_nsid.do_list_id(ctx, []) == 0
    assert out(ctx) == (
        b'nsid 0 (iproute2 netns name: q"\t)\n'
        b"nsid 7 (iproute2 netns name: a)\n"
        b"nsid 9 \n"
    )
    # map init (1) + the rescan for 9 (stale comes first: 1)
    assert err(ctx) == STALE_LINE * 2
    assert _listing.nsid_cache(ctx).names == {}
    assert _cli_nsid.do_list_id(ctx, []) == 0
    assert _listing.nsid_cache(ctx).names == {0: b'q"\t', 7: b"a"}
    assert fake.strict == [True, True]


def test_list_id_target_keys_on_current_nsid(
    monkeypatch: pytest.MonkeyPatch, fake_listing: list[int], rtnl: Any
) -> None:
    """With a target the cache is searched for current-nsid; unassigned
    values print as such and stay out of JSON."""
    reply = rtnl.NsidReply
    fake = Replies([reply(22, 7), reply(-1, 0), reply(5, -1)])
    patch_replies(monkeypatch, rtnl, fake)
    ctx = new_ctx()
    _cli_nsid.do_list_id(ctx, [b"target-nsid", b"3"])
    assert out(ctx) == (
        b"nsid 22 current-nsid 7 (iproute2 netns name: a)\n"
        b'nsid unassigned current-nsid 0 (iproute2 netns name: q"\t)\n'
        b"nsid 5 current-nsid unassigned \n"
    )
    ctx = new_ctx(json=True)
    _cli_nsid.do_list_id(ctx, [b"target-nsid", b"3"])
    assert out(ctx) == (
        b'[{"nsid":22,"current-nsid":7,"name":"a"},'
        b'{"current-nsid":0,"name":"q\\"\\t"},{"nsid":5}]\n'
    )


def test_list_id_batch_dump_is_not_strict(
    monkeypatch: pytest.MonkeyPatch, fake_listing: list[int], rtnl: Any
) -> None:
    """In batch mode the dump socket has no strict checking, as ip's."""
    fake = Replies([])
    patch_replies(monkeypatch, rtnl, fake)
    ctx = new_ctx()
    ctx.batch_mode = True
    _cli_nsid.do_list_id(ctx, [b"target-nsid", b"3"])
    assert fake.strict == [False]


@pytest.mark.parametrize(
    "case",
    [
        (
            True,
            b"Invalid target network namespace id",
            22,
            b"Error: Invalid target network namespace id.\n",
        ),
        (True, None, errno.EMSGSIZE, b"Error: Buffer too small for object.\n"),
        (True, None, errno.ENOENT, b""),
        (
            True,
            None,
            errno.EPERM,
            b"RTNETLINK answers: Operation not permitted\n",
        ),
        (
            False,
            b"ignored",
            errno.EBUSY,
            b"RTNETLINK answers: Device or resource busy\n",
        ),
    ],
)
def test_list_id_dump_failure(
    monkeypatch: pytest.MonkeyPatch,
    fake_listing: list[int],
    rtnl: Any,
    case: tuple[bool, Optional[bytes], int, bytes],
) -> None:
    """A failed dump: what came before, the error as rtnl_dump_filter words
    it, 'Dump terminated', exit 1; '[]' already out in JSON."""
    in_done, message, code, line = case
    failure = rtnl.RtnlError(code, message, in_done=in_done)
    patch_replies(monkeypatch, rtnl, Replies([], failure))
    ctx = new_ctx(json=True)
    with pytest.raises(cli.CliExit) as info:
        _cli_nsid.do_list_id(ctx, [])
    assert info.value.code == 1
    assert out(ctx) == b"[]\n"
    assert err(ctx) == STALE_LINE + line + b"Dump terminated\n"


def test_list_id_single_get_failure(
    monkeypatch: pytest.MonkeyPatch, fake_listing: list[int], rtnl: Any
) -> None:
    """A refused single get: the error only, rc 2, nothing on stdout."""
    failure = rtnl.RtnlError(errno.ENOENT, PEER_INVALID)
    patch_replies(monkeypatch, rtnl, Replies([], failure))
    ctx = new_ctx(json=True)
    assert _cli_nsid.do_list_id(ctx, [b"nsid", b"4"]) == 2
    assert out(ctx) == b""
    assert err(ctx) == STALE_LINE * 2


# -- set ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "line"),
    [
        (
            b"Peer netns already has a nsid assigned",
            b"Error: Peer netns already has a nsid assigned.\n",
        ),
        (None, b"RTNETLINK answers: File exists\n"),
    ],
)
def test_set_kernel_errors(
    monkeypatch: pytest.MonkeyPatch,
    rtnl: Any,
    tmp_path: Path,
    message: Optional[bytes],
    line: bytes,
) -> None:
    """A refused RTM_NEWNSID prints its error and returns 2; the fd is
    closed."""
    (tmp_path / "ns").write_bytes(b"")
    seen: list[tuple[int, int]] = []

    def refuse(fd: int, nsid: int) -> None:
        seen.append((fd, nsid))
        raise rtnl.RtnlError(errno.EEXIST, message)

    monkeypatch.setattr(rtnl, "set_nsid_fd", refuse)
    ctx = new_ctx()
    ctx.run_dir = os.fsencode(tmp_path)
    assert _cli_nsid.do_set(ctx, [b"ns", b"auto"]) == 2
    assert err(ctx) == line
    ((fd, nsid),) = seen
    assert nsid == -1
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)


def test_set_value_errors_before_open(tmp_path: Path) -> None:
    """Bad values exit 255 before the name is opened."""
    ctx = new_ctx()
    ctx.run_dir = os.fsencode(tmp_path / "nope")
    with pytest.raises(cli.CliExit) as info:
        _cli_nsid.do_set(ctx, [b"x", b"-0x5"])
    assert info.value.code == 255
    assert err(ctx) == (
        b'Error: argument "-0x5" is wrong: "netnsid" value should be >= 0\n'
    )


# -- pyroute2 messages --------------------------------------------------------


def nlmsg(kind: int, flags: int, payload: bytes) -> bytes:
    """One netlink message."""
    return (
        struct.pack("=IHHII", 16 + len(payload), kind, flags, 1, 0) + payload
    )


def nla(kind: int, data: bytes) -> bytes:
    """One attribute, padded."""
    raw = struct.pack("=HH", 4 + len(data), kind) + data
    return raw + b"\0" * (-len(raw) % 4)


def test_decode_nsid_reply(rtnl: Any) -> None:
    """NETNSA_NSID and NETNSA_CURRENT_NSID come back signed (pyroute2
    decodes them as u32)."""
    from pyroute2.netlink.rtnl.marshal import MarshalRtnl

    payload = b"\0" * 4 + nla(1, struct.pack("=i", 5))
    payload += nla(5, struct.pack("=i", -1))
    (decoded,) = MarshalRtnl().parse(nlmsg(88, 0, payload))
    assert rtnl.reply_of(decoded, 0) == (5, -1, False)
    (decoded,) = MarshalRtnl().parse(nlmsg(88, 0x10, b"\0" * 4))
    assert rtnl.reply_of(decoded, 0x10) == (-1, None, True)


def one(rtnl: Any, data: bytes) -> Any:
    """error_of the single message in data."""
    (msg,) = rtnl.split(data)
    return rtnl.error_of(msg)


def test_decode_errors(rtnl: Any) -> None:
    """NLMSG_ERROR with ext-ack text after the whole request or only its
    header (capped); NLMSG_DONE with and without text, however short; an
    ACK or a clean DONE is no error."""
    request = nlmsg(90, 1, b"\0" * 4 + nla(3, b"\0" * 4))
    text = nla(1, PEER_INVALID + b"\0") + nla(2, b"\0" * 4)
    for inner, flags in ((request, 0x200), (request[:16], 0x300)):
        exc = one(rtnl, nlmsg(2, flags, struct.pack("=i", -2) + inner + text))
        assert (exc.errno, exc.message, exc.in_done) == (
            2,
            PEER_INVALID,
            False,
        )
    no_tlvs = one(rtnl, nlmsg(2, 0, struct.pack("=i", -1) + request))
    assert (no_tlvs.errno, no_tlvs.message) == (1, None)
    done = one(rtnl, nlmsg(3, 0x202, struct.pack("=i", -22) + nla(1, b"ba\0")))
    assert (done.errno, done.message, done.in_done) == (22, b"ba", True)
    bare = one(rtnl, nlmsg(3, 2, struct.pack("=i", -95)))
    assert (bare.errno, bare.message, bare.in_done) == (95, None, True)
    assert one(rtnl, nlmsg(3, 2, struct.pack("=i", 0))) is None
    assert (
        one(rtnl, nlmsg(2, 0x100, struct.pack("=i", 0) + request[:16])) is None
    )


def test_split_stops_at_a_bad_length(rtnl: Any) -> None:
    """Messages are walked with 4-byte alignment; a bad length ends it."""
    first = nlmsg(3, 2, b"\0" * 5)
    data = first + b"\0" * 3 + nlmsg(88, 0, b"\0" * 4)
    assert [m.kind for m in rtnl.split(data)] == [3, 88]
    assert rtnl.split(struct.pack("=IHHII", 99, 3, 0, 1, 0)) == []


def test_unprivileged_get_by_nsid_and_dump(rtnl: Any) -> None:
    """RTM_GETNSID needs no privilege: an unknown nsid is refused with the
    kernel's text; a dump returns a list."""
    with pytest.raises(rtnl.RtnlError) as info:
        rtnl.get_by_nsid(2**31 - 1, None)
    assert info.value.errno == errno.ENOENT
    assert info.value.message == PEER_INVALID
    assert isinstance(rtnl.dump(None), list)


# -- API argument checks ------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, 2**31])
def test_api_rejects_out_of_range_ids(bad: int) -> None:
    """nsids and targets must be 0..2**31-1."""
    with pytest.raises(ValueError, match="nsid"):
        netns_fast.set_nsid("x", bad, run_dir="/nonexistent")
    with pytest.raises(ValueError, match="target_nsid"):
        netns_fast.list_ids(target_nsid=bad)
    with pytest.raises(ValueError, match="nsid"):
        netns_fast.list_ids(nsid=bad)


@pytest.mark.parametrize("bad", [True, "Auto", 3.0, None])
def test_api_rejects_non_int_ids(bad: object) -> None:
    """Only ints and "auto" are ids."""
    with pytest.raises(TypeError):
        netns_fast.set_nsid("x", bad, run_dir="/nonexistent")  # type: ignore[arg-type]


# -- start-up -----------------------------------------------------------------


def _top_modules(code: str, env: dict[str, str]) -> set[str]:
    """Top-level names in sys.modules after code ran."""
    show = "import sys; print(sorted({m.split('.')[0] for m in sys.modules}))"
    res = subprocess.run(
        [sys.executable, "-c", code + "; " + show],
        capture_output=True,
        env=env,
        check=True,
        cwd="/",
    )
    last = res.stdout.decode().splitlines()[-1]
    return set(ast.literal_eval(last))


def test_cli_list_imports_nothing_heavy(tmp_path: Path) -> None:
    """netns-fast list never imports pyroute2, json, argparse or asyncio
    (beyond what the bare interpreter already has)."""
    env = dict(os.environ, NETNS_RUN_DIR=str(tmp_path))
    root = os.path.dirname(os.path.dirname(netns_fast.__file__))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    bare = _top_modules("pass", env)
    loaded = _top_modules(
        "import netns_fast.cli as c; c.main(['list']); c.main(['-j', 'list'])",
        env,
    )
    assert "netns_fast" in loaded
    added = loaded - bare
    assert not added & {"pyroute2", "json", "argparse", "asyncio"}
