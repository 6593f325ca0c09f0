"""pids / identify / monitor without privilege: the C scanner on fake /proc
trees and on the real /proc, identify on a run directory of symlinks,
inotify monitors on a temporary directory, and the CLI verbs in-process."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import netns_fast
from netns_fast import NetnsEvent, cli
from support.private import _owner, _sys, cli_procs, procs
from support.tools import cli_argv, env

NSFS_DEV = os.stat("/proc/thread-self/ns/net").st_dev
MY_KEY = (NSFS_DEV, os.stat("/proc/thread-self/ns/net").st_ino)


def _fake_proc(root: Path, entries: dict[str, str]) -> bytes:
    """A fake /proc: entries maps a name to the target of NAME/ns/net
    ("" for a process without ns/net, i.e. one that has exited)."""
    for name, target in entries.items():
        (root / name / "ns").mkdir(parents=True)
        if target:
            os.symlink(target, root / name / "ns" / "net")
    return os.fsencode(root)


def _digit_order(root: Path) -> list[int]:
    """The all-digit entries of root in readdir order."""
    return [int(e) for e in os.listdir(root) if e.isdigit()]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """An empty run directory of our own (inotify and stat need no root)."""
    rd = tmp_path / "run"
    rd.mkdir()
    return rd


# -- is_pid -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        (b"1", True),
        (b"0123", True),
        (b"", True),  # ip's is_pid() lets "" through (dispatch stops it)
        (b"abc", False),
        (b"-5", False),
        (b"0x10", False),
        (b"self", False),
        (b"1 ", False),
        ("٣".encode(), False),
    ],
)
def test_is_pid_is_digits_only(text: bytes, ok: bool) -> None:
    """is_pid accepts exactly the strings made of ASCII digits."""
    assert cli_procs.is_pid(text) is ok


# -- the scanner on fake /proc trees ------------------------------------------


def test_scan_reads_link_text_and_skips_exited(tmp_path: Path) -> None:
    """net:[INODE] links match by inode, entries without ns/net (exited
    mid-scan) and non-digit entries are skipped, /proc order is kept."""
    ino = MY_KEY[1]
    proc = _fake_proc(
        tmp_path,
        {
            "10": f"net:[{ino}]",
            "11": "",  # exited: no ns/net any more
            "12": "net:[1]",
            "13": f"net:[{ino}]",
            "self": f"net:[{ino}]",
            "14x": f"net:[{ino}]",
        },
    )
    got = _sys.scan_pids([MY_KEY], 1, proc)[0]
    assert got == [p for p in _digit_order(tmp_path) if p in (10, 13)]


def test_scan_falls_back_to_stat(tmp_path: Path) -> None:
    """A link that is not net:[N] is followed and compared by (dev, ino)."""
    target = tmp_path / "nsfile"
    target.write_text("")
    st = target.stat()
    proc = _fake_proc(
        tmp_path / "proc",
        {"5": str(target), "6": str(tmp_path / "missing"), "7": "net:[x]"},
    )
    assert _sys.scan_pids([(st.st_dev, st.st_ino)], 1, proc) == [[5]]


def test_scan_groups_by_key_in_proc_order(tmp_path: Path) -> None:
    """Several keys: one group per key, each in /proc order."""
    entries = {str(100 + i): f"net:[{1000 + i % 3}]" for i in range(60)}
    proc = _fake_proc(tmp_path, entries)
    keys = [(NSFS_DEV, 1002), (NSFS_DEV, 1000), (NSFS_DEV, 7)]
    groups = _sys.scan_pids(keys, 1, proc)
    order = _digit_order(tmp_path)
    assert groups == [
        [p for p in order if (p - 100) % 3 == 2],
        [p for p in order if (p - 100) % 3 == 0],
        [],
    ]


def test_scan_threads_give_the_same_answer(tmp_path: Path) -> None:
    """Splitting the work over threads keeps the output identical."""
    entries = {
        str(1000 + i): ("" if i % 7 == 0 else f"net:[{500 + i % 2}]")
        for i in range(3000)
    }
    proc = _fake_proc(tmp_path, entries)
    keys = [(NSFS_DEV, 500), (NSFS_DEV, 501)]
    one = _sys.scan_pids(keys, 1, proc)
    assert sum(map(len, one)) == len([i for i in range(3000) if i % 7])
    for threads in (2, 3, 8, 0):
        assert _sys.scan_pids(keys, threads, proc) == one


def _symlinked_proc(tmp_path: Path, count: int) -> Path:
    """A fake /proc of entries 1..count, each a symlink to one process
    directory in MY_KEY's namespace (symlinks do not raise the directory's
    link count, so /proc's estimate falls short)."""
    shared = tmp_path / "shared"
    (shared / "ns").mkdir(parents=True)
    os.symlink(f"net:[{MY_KEY[1]}]", shared / "ns" / "net")
    proc = tmp_path / "proc"
    proc.mkdir()
    for i in range(count):
        os.symlink(shared, proc / str(i + 1))
    return proc


def test_scan_retries_when_the_estimate_is_short(tmp_path: Path) -> None:
    """More matches than the first array holds: the scan is redone with a
    larger one and nothing is lost."""
    proc = _symlinked_proc(tmp_path, 300)
    assert os.stat(proc).st_nlink < 300
    got = _sys.scan_pids([MY_KEY], 0, os.fsencode(proc))[0]
    assert sorted(got) == list(range(1, 301))


@pytest.mark.parametrize("threads", [1, 2, 0])
def test_scan_reads_on_when_proc_outgrows_its_link_count(
    tmp_path: Path, threads: int
) -> None:
    """/proc holding far more entries than its link count announced: the
    entries past the first array are read after the workers are done, and
    every match is found, in /proc order."""
    proc = _symlinked_proc(tmp_path, 5000)
    assert os.stat(proc).st_nlink < 1000
    got = _sys.scan_pids([MY_KEY], threads, os.fsencode(proc))[0]
    assert got == [int(n) for n in os.listdir(proc)]
    assert sorted(got) == list(range(1, 5001))


def test_scan_missing_proc_dir(tmp_path: Path) -> None:
    """An unreadable /proc raises with step open_proc."""
    with pytest.raises(FileNotFoundError) as info:
        _sys.scan_pids([MY_KEY], 0, os.fsencode(tmp_path / "nope"))
    assert getattr(info.value, "step", "") == "open_proc"


def test_scan_without_keys_is_empty() -> None:
    """No keys, no scan, no groups."""
    assert _sys.scan_pids([]) == []


# -- the scanner on the real /proc --------------------------------------------


def test_real_scan_lists_processes_not_threads() -> None:
    """This (multi-threaded) process is listed once, its threads never."""
    started = threading.Barrier(5)
    stop = threading.Event()
    tids: list[int] = []

    def worker() -> None:
        tids.append(threading.get_native_id())
        started.wait()
        stop.wait()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    try:
        found = _sys.scan_pids([MY_KEY])[0]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert found.count(os.getpid()) == 1
    assert not set(tids) & set(found)
    assert found == sorted(found)  # /proc lists TGIDs in ascending order


def test_real_scan_survives_exiting_processes() -> None:
    """Processes that come and go during scans are skipped silently."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            while not stop.is_set():
                procs = [subprocess.Popen(["true"]) for _ in range(8)]
                for p in procs:
                    p.wait()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        for _ in range(30):
            found = _sys.scan_pids([MY_KEY], 2)[0]
            assert os.getpid() in found
    finally:
        stop.set()
        churner.join()
    assert not errors


def test_pids_api_through_a_symlinked_name(run_dir: Path) -> None:
    """pids() opens RUN_DIR/NAME like ip (following a symlink)."""
    os.symlink(f"/proc/{os.getpid()}/ns/net", run_dir / "mine")
    assert os.getpid() in netns_fast.pids("mine", run_dir=run_dir)
    assert os.getpid() in netns_fast.pids(b"mine", run_dir=run_dir, threads=2)


def test_pids_api_errors(run_dir: Path) -> None:
    """Missing name, bad name and bad thread counts raise typed errors."""
    with pytest.raises(netns_fast.NamespaceNotFoundError) as info:
        netns_fast.pids("missing", run_dir=run_dir)
    assert info.value.step == "open_ns"
    assert info.value.filename == str(run_dir / "missing")
    with pytest.raises(netns_fast.InvalidNameError):
        netns_fast.pids("a/b", run_dir=run_dir)
    (run_dir / "x").write_text("")
    with pytest.raises(ValueError, match="threads"):
        netns_fast.pids("x", run_dir=run_dir, threads=0)
    with pytest.raises(TypeError):
        netns_fast.pids("x", run_dir=run_dir, threads=True)


# -- identify and pids_by_netns on a run directory of symlinks ----------------


def test_identify_returns_every_match_in_directory_order(
    run_dir: Path,
) -> None:
    """identify() lists all names bound to the namespace, in readdir order,
    and not plain files or names of other namespaces."""
    me = os.getpid()
    for name in ("a", "b", "c"):
        os.symlink(f"/proc/{me}/ns/net", run_dir / name)
    os.symlink(f"/proc/{me}/ns/uts", run_dir / "other")
    (run_dir / "stale").write_text("")
    want = [n for n in os.listdir(run_dir) if n in ("a", "b", "c")]
    assert netns_fast.identify(me, run_dir=run_dir) == want
    assert netns_fast.identify(run_dir=run_dir) == want


def test_identify_many_long_names(run_dir: Path) -> None:
    """More matching names than the first buffer holds: all come back."""
    me = os.getpid()
    names = {f"{i:03d}" + "n" * 240 for i in range(40)}
    for name in names:
        os.symlink(f"/proc/{me}/ns/net", run_dir / name)
    got = netns_fast.identify(me, run_dir=run_dir)
    assert got == [n for n in os.listdir(run_dir) if n in names]
    assert len(got) == 40


def test_identify_missing_run_dir_is_empty(tmp_path: Path) -> None:
    """No run directory: no names (ip prints an empty line)."""
    assert netns_fast.identify(run_dir=tmp_path / "none") == []


def test_identify_errors(tmp_path: Path) -> None:
    """Dead pid, bad pid values and an unreadable run dir raise."""
    with pytest.raises(netns_fast.NamespaceNotFoundError) as info:
        netns_fast.identify(2**31 - 1)
    assert info.value.filename == f"/proc/{2**31 - 1}/ns/net"
    for bad in (0, -1, 2**31):
        with pytest.raises(ValueError, match="Invalid PID"):
            netns_fast.identify(bad)
    with pytest.raises(TypeError):
        netns_fast.identify("1")  # type: ignore[arg-type]
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(netns_fast.NetnsOSError) as err:
        netns_fast.identify(run_dir=afile)
    assert err.value.errno == errno.ENOTDIR
    assert err.value.step == "open_run_dir"


def test_pids_by_netns_one_scan(run_dir: Path) -> None:
    """Every live name maps to its pids; shared namespaces are repeated;
    a stale name maps to []."""
    me = os.getpid()
    os.symlink(f"/proc/{me}/ns/net", run_dir / "a")
    os.symlink(f"/proc/{me}/ns/net", run_dir / "b")
    os.symlink("/nonexistent", run_dir / "gone")
    (run_dir / "stale").write_text("")
    got = netns_fast.pids_by_netns(run_dir=run_dir)
    assert set(got) == {"a", "b", "stale"}
    assert me in got["a"]
    assert got["a"] == got["b"]
    assert got["a"] is not got["b"]
    assert got["stale"] == []
    assert netns_fast.pids_by_netns(run_dir=run_dir / "none") == {}


# -- monitor on a temporary directory -----------------------------------------


def _read(mon: netns_fast.Monitor, timeout: float = 5.0) -> NetnsEvent:
    event = mon.read(timeout)
    assert event is not None, "no event"
    return event


def test_monitor_is_a_resource(run_dir: Path) -> None:
    """Monitor follows the handles' resource protocol: `with` closes it,
    close() is idempotent, and one left open warns (ResourceWarning) and
    is closed when collected."""
    with netns_fast.Monitor(run_dir=run_dir) as mon:
        assert mon.fileno() >= 0
    assert mon.closed
    assert mon.fileno() == -1
    mon.close()
    leaked = netns_fast.Monitor(run_dir=run_dir)
    with pytest.warns(ResourceWarning, match="unclosed"):
        del leaked  # the last reference: collected here


def test_monitor_reports_create_and_delete(run_dir: Path) -> None:
    """Files and directories created or removed come as add / delete, in
    order; renames are not reported (as with ip)."""
    with netns_fast.monitor(run_dir=run_dir) as mon:
        (run_dir / "x").write_text("")
        os.mkdir(run_dir / "d")
        os.rename(run_dir / "x", run_dir / "y")
        os.unlink(run_dir / "y")
        os.rmdir(run_dir / "d")
        got = [_read(mon) for _ in range(4)]
        assert mon.read(0.05) is None
    assert got == [
        NetnsEvent("add", "x"),
        NetnsEvent("add", "d"),
        NetnsEvent("delete", "y"),
        NetnsEvent("delete", "d"),
    ]
    assert mon.closed


def test_monitor_creates_the_run_dir(tmp_path: Path) -> None:
    """A missing run directory is created (mode 0755 less the umask)."""
    rd = tmp_path / "new"
    old = os.umask(0o022)
    try:
        with netns_fast.monitor(run_dir=rd):
            assert (rd.stat().st_mode & 0o777) == 0o755
    finally:
        os.umask(old)


def test_monitor_setup_error(tmp_path: Path) -> None:
    """mkdir of the run directory fails: typed error, step mkdir_run_dir."""
    with pytest.raises(netns_fast.NamespaceNotFoundError) as info:
        netns_fast.monitor(run_dir=tmp_path / "a" / "b")
    assert info.value.step == "mkdir_run_dir"


def test_monitor_close_from_another_thread(run_dir: Path) -> None:
    """close() from another thread ends a blocked iteration and releases
    the fds (the leak guard checks them)."""
    mon = netns_fast.monitor(run_dir=run_dir)
    got: list[NetnsEvent] = []
    done = threading.Event()

    def consume() -> None:
        got.extend(mon)
        done.set()

    reader = threading.Thread(target=consume)
    reader.start()
    (run_dir / "n1").write_text("")
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.005)
    mon.close()
    assert done.wait(5)
    reader.join()
    assert got == [NetnsEvent("add", "n1")]
    assert mon.fileno() == -1
    mon.close()  # twice is fine
    assert mon.read() is None


def test_monitor_one_reader_at_a_time(run_dir: Path) -> None:
    """A second concurrent reader is refused."""
    with netns_fast.monitor(run_dir=run_dir) as mon:
        reader = threading.Thread(target=mon.read, args=(2.0,))
        reader.start()
        time.sleep(0.05)
        try:
            with pytest.raises(RuntimeError, match="another thread"):
                mon.read(0)
        finally:
            mon.close()
            reader.join()


def test_monitor_ready_drops_plain_files(run_dir: Path) -> None:
    """ready=True: a name that never becomes a namespace is reported
    neither as add nor as delete; later events still come."""
    with netns_fast.monitor(
        run_dir=run_dir, ready=True, ready_timeout=0.05
    ) as mon:
        (run_dir / "plain").write_text("")
        os.unlink(run_dir / "plain")
        (run_dir / "plain2").write_text("")
        time.sleep(0.02)
        os.symlink("/nowhere", run_dir / "link")
        assert mon.read(0.3) is None
        os.unlink(run_dir / "link")
        os.unlink(run_dir / "plain2")
        assert mon.read(0.3) is None
    with netns_fast.monitor(run_dir=run_dir, ready=False) as mon:
        (run_dir / "plain").write_text("")
        assert _read(mon) == NetnsEvent("add", "plain")
    os.unlink(run_dir / "plain")


def test_monitor_ready_accepts_a_netns_file(run_dir: Path) -> None:
    """ready=True reports a name once it is a network namespace file (a
    symlink to /proc/PID/ns/net is enough without root)."""
    with netns_fast.monitor(run_dir=run_dir, ready=True) as mon:
        os.symlink(f"/proc/{os.getpid()}/ns/net", run_dir / "ns")
        assert _read(mon) == NetnsEvent("add", "ns")
        os.unlink(run_dir / "ns")
        assert _read(mon) == NetnsEvent("delete", "ns")


def test_monitor_ends_when_the_run_dir_goes(run_dir: Path) -> None:
    """Removing the run directory ends the iteration."""
    mon = netns_fast.monitor(run_dir=run_dir)
    try:
        os.rmdir(run_dir)
        assert list(mon) == []
        assert mon.closed
    finally:
        mon.close()


def test_monitor_state_machine_overflow_and_suppression(run_dir: Path) -> None:
    """Overflow records become "overflow" events; a suppressed name's
    delete is dropped once, not forever."""
    base = procs._MonitorBase(run_dir=run_dir, ready_timeout=0)
    try:
        base._suppressed.add(b"s")
        base._push([(b"o", b""), (b"d", b"s"), (b"d", b"s"), (b"a", b"t")])
        got = []
        while (step := base._step()) is not None:
            assert isinstance(step, NetnsEvent)
            got.append(step)
        assert got == [
            NetnsEvent("overflow", ""),
            NetnsEvent("delete", "s"),
            NetnsEvent("add", "t"),
        ]
    finally:
        base._release()


# -- async monitor ------------------------------------------------------------


def test_async_monitor_events_and_close_from_a_task(run_dir: Path) -> None:
    """async for gets the events; close() from another task ends it."""

    async def main() -> list[NetnsEvent]:
        mon = netns_fast.monitor_async(run_dir=run_dir)
        got: list[NetnsEvent] = []

        async def consume() -> None:
            async for event in mon:
                got.append(event)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.01)
        (run_dir / "a1").write_text("")
        os.unlink(run_dir / "a1")
        for _ in range(500):
            if len(got) == 2:
                break
            await asyncio.sleep(0.01)
        mon.close()
        await asyncio.wait_for(task, 5)
        assert mon.closed
        return got

    got = asyncio.run(main())
    assert got == [NetnsEvent("add", "a1"), NetnsEvent("delete", "a1")]


def test_async_monitor_close_from_another_thread(run_dir: Path) -> None:
    """close() from a plain thread wakes the waiting task."""

    async def main() -> None:
        async with netns_fast.monitor_async(run_dir=run_dir) as mon:
            timer = threading.Timer(0.05, mon.close)
            timer.start()
            assert await asyncio.wait_for(mon.read(), 5) is None
            timer.join()
            assert mon.closed

    asyncio.run(main())


def test_async_monitor_timeout_and_ready(run_dir: Path) -> None:
    """read(timeout) returns None in time; ready mode works async too."""

    async def main() -> None:
        mon = netns_fast.monitor_async(
            run_dir=run_dir, ready=True, ready_timeout=0.05
        )
        try:
            assert await mon.read(0.02) is None
            (run_dir / "plain").write_text("")
            os.symlink(f"/proc/{os.getpid()}/ns/net", run_dir / "ns")
            assert await mon.read(2) == NetnsEvent("add", "ns")
        finally:
            await mon.aclose()
        assert await mon.read() is None

    asyncio.run(main())


# -- the CLI verbs in-process and as a process --------------------------------


def _cli(
    argv: list[str], run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, bytes, bytes]:
    monkeypatch.setenv("NETNS_RUN_DIR", str(run_dir))
    out, err = io.BytesIO(), io.BytesIO()
    code = cli.run(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_identify_prints_the_last_match(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text prints only the last match (ip); -j lists all of them."""
    me = os.getpid()
    for name in ("a", "b"):
        os.symlink(f"/proc/{me}/ns/net", run_dir / name)
    order = os.listdir(run_dir)
    code, out, err = _cli(["identify", str(me)], run_dir, monkeypatch)
    assert (code, out, err) == (0, order[-1].encode() + b"\n", b"")
    code, out, _ = _cli(["-j", "identify"], run_dir, monkeypatch)
    want = ",".join(f'{{"name":"{n}"}}' for n in order)
    assert (code, out) == (0, f"[{want}]\n".encode())


def test_cli_identify_run_dir_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Missing run dir: empty line, rc 0; other errors: ip's message with no
    space after the colon, rc 1."""
    assert _cli(["identify"], tmp_path / "none", monkeypatch) == (
        0,
        b"\n",
        b"",
    )
    afile = tmp_path / "file"
    afile.write_text("")
    code, out, err = _cli(["identify"], afile, monkeypatch)
    assert (code, out) == (1, b"")
    assert (
        err == f"Failed to open directory {afile}:Not a directory\n".encode()
    )


def test_cli_pids_json(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pids -j prints an array of {"pid":N} objects in /proc order."""
    os.symlink(f"/proc/{os.getpid()}/ns/net", run_dir / "mine")
    code, out, err = _cli(["-j", "pids", "mine"], run_dir, monkeypatch)
    assert (code, err) == (0, b"")
    assert re.fullmatch(rb'\[(\{"pid":\d+\},)*\{"pid":\d+\}\]\n', out)
    pids = [obj["pid"] for obj in json.loads(out)]
    assert os.getpid() in pids
    assert pids == sorted(pids)


def _start_monitor(run_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*cli_argv(), *args, "monitor"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(keep_locale=True, NETNS_RUN_DIR=str(run_dir)),
    )


def _first_line(proc: subprocess.Popen[bytes], run_dir: Path) -> bytes:
    """Create entries until the monitor, started meanwhile, reports one."""
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    deadline = time.monotonic() + 30
    i = 0
    while time.monotonic() < deadline:
        path = run_dir / f"probe{i}"
        path.write_text("")
        path.unlink()
        i += 1
        time.sleep(0.05)
        line = proc.stdout.readline()
        if line:
            os.set_blocking(proc.stdout.fileno(), True)
            return line
    raise AssertionError("monitor printed nothing")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_monitor_flushes_and_exits_0_on_signal(
    run_dir: Path, sig: signal.Signals
) -> None:
    """Each line reaches a pipe at once; SIGTERM/SIGINT exit 0 silently."""
    proc = _start_monitor(run_dir)
    try:
        first = _first_line(proc, run_dir)
        assert first.startswith(b"add probe")
        (run_dir / "late").write_text("")
        assert proc.stdout is not None
        line = b""
        while line != b"add late\n":
            line = proc.stdout.readline()
            assert line, "monitor output ended"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert err == b""


def test_cli_monitor_json_lines(run_dir: Path) -> None:
    """-j monitor prints one JSON object per event and line."""
    proc = _start_monitor(run_dir, "-j")
    try:
        first = _first_line(proc, run_dir)
        assert first.startswith(b'{"event":"add","name":"probe')
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(
            b'{"event":"delete","name":"probe'
        )
        proc.terminate()
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def test_cli_monitor_setup_error(tmp_path: Path) -> None:
    """The run directory cannot be made: ip's mkdir message, rc 1."""
    rd = tmp_path / "a" / "b"
    proc = _start_monitor(rd)
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (1, b"")
    assert err == f"mkdir {rd} failed: No such file or directory\n".encode()


def test_import_stays_light() -> None:
    """import netns_fast does not import asyncio or pyroute2."""
    code = (
        "import sys, netns_fast; "
        "print(sorted(m for m in ('asyncio', 'pyroute2') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        check=True,
        env=env(keep_locale=True),
    ).stdout
    assert out == b"[]\n"


# -- kill_all's signalling and /proc's own pid --------------------------------


def test_proc_pid_is_readlink_proc_self() -> None:
    """proc_pid() is the pid /proc/self names (os.getpid() here)."""
    assert _owner.proc_pid() == int(os.readlink("/proc/self"))


def test_kill_proc_checks_the_namespace_then_kills(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """_kill_proc spares a process whose namespace is not the key (a pid
    reused since the scan) and kills one whose namespace is, through its
    /proc directory, or with kill(2) where the kernel lacks
    pidfd_send_signal and the pid numbers agree."""
    for missing_pidfd in (False, True):
        child = subprocess.Popen(["sleep", "60"])
        try:
            assert not procs._kill_proc(child.pid, (NSFS_DEV, 1))
            assert child.poll() is None
            if missing_pidfd:

                def enosys(fd: int, sig: int) -> None:
                    raise OSError(errno.ENOSYS, "no pidfd_send_signal")

                monkeypatch.setattr(signal, "pidfd_send_signal", enosys)
            assert procs._kill_proc(child.pid, MY_KEY)
            assert child.wait(timeout=10) == -signal.SIGKILL
        finally:
            child.kill()
            child.wait()
