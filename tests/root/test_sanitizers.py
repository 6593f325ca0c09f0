"""The C core under AddressSanitizer, UndefinedBehaviorSanitizer,
LeakSanitizer and ThreadSanitizer, driven by the programs of tests/c (root:
they make namespaces): lifecycle.c (core_driver.c), nsid.c, procs.c,
handle.c, pool.c, exec.c, wire.c and rootless.c, and the rtnetlink
codec rtnl.c."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

from support.kernel import private_tmpfs

pytestmark = pytest.mark.root

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
DRIVER = ROOT / "tests" / "c" / "core_driver.c"
NSID_DRIVER = ROOT / "tests" / "c" / "nsid_driver.c"
PROCS_DRIVER = ROOT / "tests" / "c" / "procs_driver.c"
FARM_DRIVER = ROOT / "tests" / "c" / "farm_driver.c"
RTNL_DRIVER = ROOT / "tests" / "c" / "rtnl_driver.c"
WIRE_DRIVER = ROOT / "tests" / "c" / "wire_driver.c"
ROOTLESS_DRIVER = ROOT / "tests" / "c" / "rootless_driver.c"
SANITIZE = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
CFLAGS = [
    "-std=gnu11",
    "-O1",
    "-g",
    *SANITIZE,
    "-fno-sanitize-recover=all",
    "-Wall",
    "-Wextra",
    "-Werror",
]
THREAD_SANITIZERS = [
    [*SANITIZE, "-fno-sanitize-recover=all"],
    ["-fsanitize=thread", "-fno-omit-frame-pointer"],
]
SANITIZER_WORDS = ("AddressSanitizer", "LeakSanitizer", "runtime error")


def _env(detect_leaks: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (
        f"detect_leaks={int(detect_leaks)}:halt_on_error=1:"
        "detect_stack_use_after_return=1"
    )
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """core_driver.c (which includes lifecycle.c) built with the
    sanitizers (skip if no gcc)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    why = _cannot_build(gcc, tuple(SANITIZE))
    if why is not None:
        pytest.skip(
            "gcc cannot build with -fsanitize=address,undefined "
            f"(libasan/libubsan missing?): {why}"
        )
    exe = tmp_path_factory.mktemp("sanitizers") / "core_driver"
    subprocess.run(
        [
            gcc,
            *CFLAGS,
            f"-I{CSRC}",
            str(DRIVER),
            "-pthread",
            "-o",
            str(exe),
        ],
        check=True,
    )
    return exe


def _run_leaky(driver: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(driver), "--leak"],
        capture_output=True,
        text=True,
        env=_env(True),
        check=False,
        timeout=60,
    )


def _lsan_failure(stderr: str) -> str:
    """LSan's own complaint when it cannot run (e.g. under ptrace)."""
    for line in stderr.splitlines():
        if "LeakSanitizer has encountered a fatal error" in line or (
            "LeakSanitizer does not work" in line
        ):
            return line.strip()
    return ""


@pytest.fixture(scope="module")
def lsan_works(driver: Path) -> bool:
    """Whether LeakSanitizer can run in this environment at all."""
    return not _lsan_failure(_run_leaky(driver).stderr)


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    """A run dir inside a private tmpfs (not a mount point itself)."""
    with private_tmpfs(tmp_path / "mnt") as where:
        yield where / "rd"


def test_leak_sanitizer_is_active(driver: Path) -> None:
    """LSan reports a deliberate leak, so its silence below means no leak."""
    run = _run_leaky(driver)
    why = _lsan_failure(run.stderr)
    if why:
        pytest.skip(f"LeakSanitizer cannot run here: {why}")
    assert run.returncode != 0
    assert "detected memory leaks" in run.stderr
    assert "123 byte(s)" in run.stderr


def test_core_is_clean_under_sanitizers(
    driver: Path, lsan_works: bool, run_dir: Path
) -> None:
    """Every entry point and error path of lifecycle.c runs as the driver
    expects, with no ASan, UBSan or LSan report."""
    run = subprocess.run(
        [str(driver), str(run_dir)],
        capture_output=True,
        text=True,
        env=_env(lsan_works),
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "core_driver: ok\n"
    for word in SANITIZER_WORDS:
        assert word not in run.stderr, run.stderr
    assert os.listdir(run_dir) == []


def _build(
    out: Path, name: str, sanitize: list[str], sources: list[Path]
) -> Path:
    """Build sources with the given sanitizer flags. Skip only if gcc is
    missing or cannot build even an empty program with them (no runtime
    library); any other build failure fails the test."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    why = _cannot_build(gcc, tuple(sanitize))
    if why is not None:
        pytest.skip(f"gcc cannot build with {sanitize}: {why}")
    exe = out / name
    built = subprocess.run(
        [
            gcc,
            "-std=gnu11",
            "-O1",
            "-g",
            *sanitize,
            "-Wall",
            "-Wextra",
            "-Werror",
            f"-I{CSRC}",
            *map(str, sources),
            "-pthread",
            "-o",
            str(exe),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"the driver {name} does not build: {built.stderr}")
    return exe


_PROBES: dict[tuple[str, ...], Optional[str]] = {}


def _cannot_build(gcc: str, sanitize: tuple[str, ...]) -> Optional[str]:
    """Why gcc cannot link an empty program with ``sanitize`` (None: it
    can); asked once per set of flags."""
    if sanitize not in _PROBES:
        with tempfile.TemporaryDirectory() as tmp:
            probe = Path(tmp) / "probe.c"
            probe.write_text("int main(void) { return 0; }\n")
            built = subprocess.run(
                [gcc, *sanitize, str(probe), "-o", str(Path(tmp) / "p")],
                capture_output=True,
                text=True,
                check=False,
            )
        _PROBES[sanitize] = (
            None if built.returncode == 0 else built.stderr.strip()
        )
    return _PROBES[sanitize]


def _run_clean(exe: Path, args: list[str], lsan_works: bool) -> None:
    """Run a driver: it must say "<name>: ok" and no sanitizer may speak."""
    env = _env(lsan_works)
    env["TSAN_OPTIONS"] = "halt_on_error=1:second_deadlock_stack=1"
    run = subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{exe.name}: ok\n"
    for word in (*SANITIZER_WORDS, "ThreadSanitizer"):
        assert word not in run.stderr


@pytest.mark.parametrize(
    "sanitize", THREAD_SANITIZERS, ids=["asan-ubsan", "tsan"]
)
def test_threaded_listing_is_clean_under_sanitizers(
    tmp_path: Path, lsan_works: bool, run_dir: Path, sanitize: list[str]
) -> None:
    """nsf_nsid_list on more than one window (several threads), with live
    and stale entries, in directory order: no ASan, UBSan, LSan or TSan
    report."""
    exe = _build(
        tmp_path,
        "nsid_driver",
        sanitize,
        [CSRC / "nsid.c", CSRC / "rtnl.c", CSRC / "lifecycle.c", NSID_DRIVER],
    )
    _run_clean(exe, [str(run_dir)], lsan_works)


@pytest.mark.parametrize(
    "sanitize", THREAD_SANITIZERS, ids=["asan-ubsan", "tsan"]
)
def test_threaded_proc_scan_is_clean_under_sanitizers(
    tmp_path: Path, lsan_works: bool, sanitize: list[str]
) -> None:
    """nsf_scan_pids on the real /proc and on a fake one that outgrows its
    link count (reader and workers overlap, then the overflow is scanned),
    on 1, 2 and 4 threads: no ASan, UBSan, LSan or TSan report."""
    exe = _build(
        tmp_path,
        "procs_driver",
        sanitize,
        [CSRC / "procs.c", CSRC / "lifecycle.c", PROCS_DRIVER],
    )
    shared = tmp_path / "shared"
    (shared / "ns").mkdir(parents=True)
    ino = os.stat("/proc/thread-self/ns/net").st_ino
    os.symlink(f"net:[{ino}]", shared / "ns" / "net")
    fake = tmp_path / "proc"
    fake.mkdir()
    count = 6000
    for i in range(1, count + 1):
        os.symlink(shared, fake / str(i))
    _run_clean(exe, [str(fake), str(count)], lsan_works)


@pytest.mark.parametrize(
    "sanitize", THREAD_SANITIZERS, ids=["asan-ubsan", "tsan"]
)
def test_namespace_open_and_pool_are_clean_under_sanitizers(
    tmp_path: Path, lsan_works: bool, run_dir: Path, sanitize: list[str]
) -> None:
    """nsf_open_ns and nsf_spawn refuse a FIFO, a plain file and another
    namespace type at once; a named pool binds its names right; a failing
    pool raises, keeps others' files and recovers; a pool of pre-wired
    pairs hands them out whole and one the kernel refuses fails with its
    request: no ASan, UBSan, LSan or TSan report."""
    exe = _build(
        tmp_path,
        "farm_driver",
        sanitize,
        [
            *(CSRC / f for f in ("handle.c", "pool.c", "rtnl.c", "exec.c")),
            CSRC / "wire.c",
            CSRC / "lifecycle.c",
            FARM_DRIVER,
        ],
    )
    _run_clean(exe, [str(run_dir)], lsan_works)


def test_rtnl_codec_is_clean_under_sanitizers(
    tmp_path: Path, lsan_works: bool
) -> None:
    """The rtnetlink codec encodes and walks messages byte for byte, parses
    extended acks, and against a real socket in a namespace of its own
    matches a datagram of requests to their acks, a full batch, dumps, a
    GET, events, a stopping callback and a too small buffer: no ASan,
    UBSan or LSan report."""
    exe = _build(
        tmp_path,
        "rtnl_driver",
        [*SANITIZE, "-fno-sanitize-recover=all"],
        [CSRC / "rtnl.c", RTNL_DRIVER],
    )
    _run_clean(exe, [], lsan_works)


@pytest.mark.parametrize(
    "sanitize", THREAD_SANITIZERS, ids=["asan-ubsan", "tsan"]
)
def test_wiring_is_clean_under_sanitizers(
    tmp_path: Path, lsan_works: bool, sanitize: list[str]
) -> None:
    """wire.c in a namespace the driver makes for itself: plans (a wired
    pair in three datagrams, a bridge with a port, routes, sysctls, a
    wait, rename, move, delete), dumps that outgrow their room, every
    refusal path with its undo, the caller's own namespace, plans on C
    threads; no fd left, the thread at home: no ASan, UBSan, LSan or TSan
    report."""
    exe = _build(
        tmp_path,
        "wire_driver",
        sanitize,
        [CSRC / "wire.c", CSRC / "rtnl.c", CSRC / "handle.c", WIRE_DRIVER],
    )
    _run_clean(exe, [], lsan_works)


def test_rootless_pieces_are_clean_under_sanitizers(
    tmp_path: Path, lsan_works: bool, run_dir: Path
) -> None:
    """nsf_thread_count follows a second thread and nsf_rootless_unshare
    refuses it, changing nothing; in a child the world is made (root
    inside), a tmpfs mounted, a tree cloned, hidden and an entry moved
    back, a sysfs mounted, and each error names its step: no ASan, UBSan
    or LSan report. (Not under TSan: its runtime runs a thread of its
    own, and a user namespace is only for a single-threaded process; the
    file keeps no state that threads share.)"""
    exe = _build(
        tmp_path,
        "rootless_driver",
        [*SANITIZE, "-fno-sanitize-recover=all"],
        [CSRC / "rootless.c", ROOTLESS_DRIVER],
    )
    run_dir.mkdir()
    _run_clean(exe, [str(run_dir)], lsan_works)
