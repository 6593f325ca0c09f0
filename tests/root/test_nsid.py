"""The nsid API with real namespaces: set_nsid, get_nsid, list_netns,
list_ids; per-thread namespaces, errors, many entries, churn.

nsids are per caller namespace: the API is called from a thread that
entered a private caller namespace (support.kernel.in_netns), never with
the host's namespace as the caller.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator

import pytest

import netns_fast
from netns_fast import (
    InvalidNameError,
    NamespaceExistsError,
    NamespaceNotFoundError,
    NetnsEntry,
    NetnsOSError,
    NotANamespaceError,
    NsidEntry,
    get_nsid,
    list_ids,
    list_netns,
    set_nsid,
)
from support.kernel import RUN_DIR, in_netns, run_threads
from support.names import made, remove, unique_name
from support.tools import ok, requires_ip, run_cli, run_ip

pytestmark = pytest.mark.root

PEER_INVALID = "Peer netns reference is invalid"


@pytest.fixture
def caller() -> Iterator[str]:
    """A private caller namespace."""
    with made("nsft-ctl") as names:
        yield names[0]


@pytest.fixture
def peers() -> Iterator[list[str]]:
    """Three peer namespaces."""
    with made("nsft-a", "nsft-b", "nsft-c") as names:
        yield names


@pytest.fixture
def stale() -> Iterator[str]:
    """A stale entry: a plain file in RUN_DIR."""
    name = unique_name("nsft-stale")
    open(f"{RUN_DIR}/{name}", "w").close()
    try:
        yield name
    finally:
        remove(name)


def test_set_and_get_follow_the_calling_thread(
    caller: str, peers: list[str]
) -> None:
    """An id set from a thread inside the caller is seen there only."""
    a = peers[0]
    assert in_netns(caller, lambda: set_nsid(a, 7)) == 7
    assert in_netns(caller, lambda: get_nsid(a)) == 7
    assert get_nsid(a) is None  # the host's netns gave it no id
    assert in_netns(caller, lambda: get_nsid(peers[1])) is None


def test_set_auto_returns_the_lowest_free_ids(
    caller: str, peers: list[str]
) -> None:
    """'auto' lets the kernel pick 0, 1, 2 ... and returns the id."""

    def work() -> list[int]:
        set_nsid(peers[0], 1)
        return [set_nsid(p, "auto") for p in peers[1:]]

    assert in_netns(caller, work) == [0, 2]


def test_set_errors_carry_the_kernel_text(
    caller: str, peers: list[str], stale: str
) -> None:
    """Refusals raise the errno's class with the ext-ack text, the step and
    the path."""
    a, b, _ = peers

    def work() -> list[BaseException]:
        set_nsid(a, 7)
        errors: list[BaseException] = []
        for name, value in ((a, 7), (a, "auto"), (b, 7), (stale, 3)):
            try:
                set_nsid(name, value)  # type: ignore[arg-type]
            except NetnsOSError as exc:
                errors.append(exc)
        return errors

    assigned, assigned_auto, used, not_ns = in_netns(caller, work)
    for exc in (assigned, assigned_auto):
        assert isinstance(exc, NamespaceExistsError)
        assert exc.strerror == "Peer netns already has a nsid assigned"
        assert exc.step == "rtm_newnsid"
        assert exc.filename == f"{RUN_DIR}/{a}"
    assert isinstance(used, NamespaceExistsError)
    assert used.strerror == "The specified nsid is already used"
    assert isinstance(not_ns, NotANamespaceError)
    assert not_ns.errno == errno.EINVAL
    assert not_ns.strerror == PEER_INVALID


def test_set_missing_name_and_bad_arguments(peers: list[str]) -> None:
    """A missing name is NamespaceNotFoundError; bad values are refused
    before anything is done."""
    with pytest.raises(NamespaceNotFoundError) as info:
        set_nsid(unique_name("nsft-missing"), 3)
    assert info.value.step == "open_ns"
    for bad in (-1, 2**31):
        with pytest.raises(ValueError, match="nsid"):
            set_nsid(peers[0], bad)
    for wrong in (True, "AUTO", 1.0, None):
        with pytest.raises(TypeError):
            set_nsid(peers[0], wrong)  # type: ignore[arg-type]
    with pytest.raises(InvalidNameError):
        set_nsid("a/b", 3)
    assert get_nsid(peers[0]) is None


def test_get_errors(stale: str) -> None:
    """get_nsid: a missing name and a stale file raise, with the step."""
    with pytest.raises(NamespaceNotFoundError) as missing:
        get_nsid(unique_name("nsft-missing"))
    assert missing.value.step == "open_ns"
    with pytest.raises(NetnsOSError) as invalid:
        get_nsid(stale)
    assert invalid.value.errno == errno.EINVAL
    assert invalid.value.step == "rtm_getnsid"
    assert invalid.value.strerror == PEER_INVALID


@requires_ip
def test_list_netns_matches_ip_list(
    caller: str, peers: list[str], stale: str
) -> None:
    """list_netns gives ip netns list's names, order and ids (stale: None)."""
    ok(run_ip(["netns", "set", peers[0], "5"], caller=caller))
    ok(run_ip(["netns", "set", peers[2], "auto"], caller=caller))
    listed = in_netns(caller, list_netns)
    expected = []
    for line in (
        run_ip(["netns", "list"], caller=caller).stdout.decode().splitlines()
    ):
        name, _, rest = line.partition(" (id: ")
        expected.append(NetnsEntry(name, int(rest[:-1]) if rest else None))
    assert listed == expected
    assert NetnsEntry(stale, None) in listed


def test_list_netns_many_entries(caller: str) -> None:
    """Far more entries than one request window: order is readdir's and
    every id is the one get_nsid reports."""
    names = [unique_name("nsft-many") for _ in range(100)]
    try:
        assert all(o.ok for o in netns_fast.add_many(names))

        def work() -> tuple[list[NetnsEntry], list[str], dict[str, object]]:
            for i, name in enumerate(names[::3]):
                set_nsid(name, 1000 + i)
            listed = list_netns()
            return listed, os.listdir(RUN_DIR), {n: get_nsid(n) for n in names}

        listed, order, ids = in_netns(caller, work)
    finally:
        netns_fast.delete_many(names)
    assert [e.name for e in listed] == order
    mine = [e for e in listed if e.name in ids]
    assert len(mine) == 100
    assert all(e.nsid == ids[e.name] for e in mine)
    assert sum(e.nsid is not None for e in mine) == 34


def test_list_netns_order_is_readdir_order(peers: list[str]) -> None:
    """With nothing changing, the order equals os.listdir's."""
    assert [e.name for e in list_netns()] == os.listdir(RUN_DIR)


def test_list_ids(caller: str, peers: list[str]) -> None:
    """list_ids: the caller's ids in ascending order with their names; one
    id; an unassigned id gives []; an unknown target raises."""
    a, b, _ = peers

    def work() -> tuple[object, ...]:
        set_nsid(b, 0)
        set_nsid(a, 7)
        try:
            list_ids(target_nsid=99)
        except NetnsOSError as exc:
            bad_target: object = exc
        return list_ids(), list_ids(nsid=7), list_ids(nsid=99), bad_target

    everything, one, none, bad_target = in_netns(caller, work)
    assert everything == [NsidEntry(0, None, b), NsidEntry(7, None, a)]
    assert one == [NsidEntry(7, None, a)]
    assert none == []
    assert isinstance(bad_target, NetnsOSError)
    assert bad_target.errno == errno.EINVAL
    assert bad_target.strerror == "Invalid target network namespace id"


def test_list_ids_target_man_page(caller: str) -> None:
    """The man page's example through the API: list_ids(12) and
    list_ids(12, 13) (bar is 23 in foo)."""
    with made("nsft-foo", "nsft-bar") as (foo, bar):
        in_netns(foo, lambda: (set_nsid(foo, 22), set_nsid(bar, 23)))

        def work() -> tuple[list[NsidEntry], list[NsidEntry]]:
            set_nsid(foo, 12)
            set_nsid(bar, 13)
            return list_ids(12), list_ids(12, 13)

        table, one = in_netns(caller, work)
    assert table == [NsidEntry(22, 12, foo), NsidEntry(23, 13, bar)]
    assert one == [NsidEntry(23, 13, bar)]


def test_list_ids_unnamed_and_unassigned(
    caller: str, peers: list[str]
) -> None:
    """An id whose namespace has no name has name None; a peer the target
    has no id for has nsid None."""
    a, b, c = peers
    fd = os.open(f"{RUN_DIR}/{c}", os.O_RDONLY)
    try:
        in_netns(a, lambda: set_nsid(b, 5))

        def work() -> tuple[list[NsidEntry], list[NsidEntry]]:
            set_nsid(a, 1)
            set_nsid(c, 2)
            set_nsid(b, 3)
            remove(c)  # c lives on through fd, without a name
            return list_ids(), list_ids(1, 2)

        mine, theirs = in_netns(caller, work)
    finally:
        os.close(fd)
    assert mine == [
        NsidEntry(1, None, a),
        NsidEntry(2, None, None),
        NsidEntry(3, None, b),
    ]
    assert theirs == [NsidEntry(None, 2, None)]


def test_api_is_thread_safe(caller: str, peers: list[str]) -> None:
    """Many threads listing and getting at once see the same answers."""
    in_netns(caller, lambda: [set_nsid(p, i) for i, p in enumerate(peers)])
    expected = in_netns(caller, list_netns)
    results: list[object] = []

    def work() -> None:
        for _ in range(20):
            results.append(in_netns(caller, list_netns))
            results.append(in_netns(caller, lambda: get_nsid(peers[2])))

    run_threads(lambda _: work(), 4)
    assert results.count(expected) == 80
    assert results.count(2) == 80


def test_pyroute2_calls_from_many_threads(
    caller: str, peers: list[str]
) -> None:
    """set_nsid and list_ids from several threads at once: each id is set
    once, every listing is whole."""
    results: list[object] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        def body() -> tuple[int, list[NsidEntry]]:
            return set_nsid(peers[i], 10 + i), list_ids()

        got = in_netns(caller, body)
        with lock:
            results.append(got)

    run_threads(work, len(peers))
    assert sorted(r[0] for r in results) == [10, 11, 12]  # type: ignore[index]
    final = in_netns(caller, list_ids)
    assert [e.nsid for e in final] == [10, 11, 12]
    assert [e.name for e in final] == peers


def test_many_failing_calls_leak_nothing(stale: str) -> None:
    """Hundreds of failing and succeeding calls leave no fd behind (the
    leak guard checks)."""
    for _ in range(200):
        with pytest.raises(NetnsOSError):
            get_nsid(stale)
        with pytest.raises(NamespaceNotFoundError):
            get_nsid("nsft-not-there")
        list_netns()


def test_fifo_entry_does_not_hang() -> None:
    """A FIFO in RUN_DIR is listed like a stale entry (ip would block in
    open() forever)."""
    name = unique_name("nsft-fifo")
    os.mkfifo(f"{RUN_DIR}/{name}")
    try:
        assert NetnsEntry(name, None) in list_netns()
        res = run_cli(["list"])
        assert res.returncode == 0
        assert name.encode() + b"\n" in res.stdout
        assert res.stderr == b"Error: Peer netns reference is invalid.\n" * 2
    finally:
        remove(name)


def test_listing_under_churn() -> None:
    """Names added and deleted while listing: no crash, no traceback, only
    ip's per-entry errors."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def churn() -> None:
        try:
            while not stop.is_set():
                names = [unique_name("nsft-churn") for _ in range(16)]
                netns_fast.add_many(names)
                netns_fast.delete_many(names)
        except BaseException as exc:  # reported below
            failures.append(exc)

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        deadline = time.monotonic() + 1.5
        listings = 0
        while time.monotonic() < deadline:
            for entry in list_netns():
                assert entry.name
            listings += 1
        runs = [run_cli(opts) for opts in (["list"], ["-j", "list"])]
    finally:
        stop.set()
        thread.join()
    assert not failures
    assert listings > 0
    for res in runs:
        assert res.returncode == 0
        assert b"Traceback" not in res.stderr
        errors = set(res.stderr.splitlines())
        assert errors <= {b"Error: Peer netns reference is invalid."}
