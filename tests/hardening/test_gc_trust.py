"""gc never removes a live name: other mount namespaces, files with data,
unsafe run directories, and deletes that race a gc."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import netns_fast
from support.kernel import is_live, nsfs_dev, wipe
from support.names import unique_name
from support.tools import IP, Figure, needs, requires_ip, run, tool_argv
from support.tools import env as child_env

pytestmark = [pytest.mark.root, needs("unshare")]

READY = b"ready\n"


def _stale_file(run_dir: str, name: str, data: bytes = b"") -> str:
    """An entry as a killed add leaves it (an empty mode-0 file), or a
    file with ``data`` in it."""
    path = os.path.join(run_dir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return path


def _nf(*args: str) -> str:
    """A netns-fast command line for sh."""
    return shlex.join([*tool_argv("nf"), *args])


@contextlib.contextmanager
def _elsewhere(script: str) -> Iterator[int]:
    """Run the sh ``script`` in a private mount namespace of its own, then
    keep that namespace alive (its pid is yielded) until the block ends."""
    proc = subprocess.Popen(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            f"{script} && echo ready && exec sleep 600",
        ],
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == READY, "the other namespace failed"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def _live_in(pid: int, path: str) -> bool:
    """True if ``path`` is a mounted namespace in the mount namespace of
    process ``pid``."""
    return os.lstat(f"/proc/{pid}/root{path}").st_dev == nsfs_dev()


def _gc_cli(run_dir: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run(
        [*tool_argv("nf"), "gc", *args],
        child_env=child_env(NETNS_RUN_DIR=run_dir),
        timeout=120,
    )


# -- names mounted only in another mount namespace ----------------------------

ODD_NAMES = ["plain", "a b", "tab\there", "back\\slash"]


def test_gc_spares_names_mounted_only_in_another_mount_namespace(
    scratch_run_dir: str,
) -> None:
    """A name added under unshare -m looks empty here; gc (API and CLI)
    keeps it live there, octal escapes and all, and still removes stale."""
    rd = scratch_run_dir
    adds = " && ".join(_nf("add", n) for n in ODD_NAMES)
    with _elsewhere(
        f"export NETNS_RUN_DIR={shlex.quote(rd)} && {adds}"
    ) as pid:
        paths = [os.path.join(rd, n) for n in ODD_NAMES]
        # From here, each name is an empty file with no mount on it.
        assert not any(is_live(p) for p in paths)
        assert all(os.lstat(p).st_size == 0 for p in paths)
        _stale_file(rd, "stale")

        assert netns_fast.gc(run_dir=rd, min_age=0) == ["stale"]
        _stale_file(rd, "stale")
        proc = _gc_cli(rd, "min-age", "0")
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            0,
            b"removed stale\n",
            b"",
        )

        assert sorted(os.listdir(rd)) == sorted(ODD_NAMES)
        assert all(_live_in(pid, p) for p in paths)
    # With the other namespace gone, they are stale entries like any other.
    assert sorted(netns_fast.gc(run_dir=rd, min_age=0)) == sorted(ODD_NAMES)


def test_gc_matches_mounts_by_directory_identity_not_path(
    scratch_run_dir: str,
) -> None:
    """A name mounted through another path of the same directory is kept;
    a mount of the same basename in another directory does not save a
    stale file here."""
    rd = scratch_run_dir
    view = f"{rd}-view"
    other = f"{rd}-other"
    os.mkdir(view)
    os.mkdir(other)
    script = " && ".join(
        [
            f"mount --bind {shlex.quote(rd)} {shlex.quote(view)}",
            f"NETNS_RUN_DIR={shlex.quote(view)} {_nf('add', 'via-view')}",
            f"NETNS_RUN_DIR={shlex.quote(other)} {_nf('add', 'decoy')}",
        ]
    )
    try:
        with _elsewhere(script) as pid:
            _stale_file(rd, "decoy")

            assert netns_fast.gc(run_dir=rd, min_age=0) == ["decoy"]

            assert os.listdir(rd) == ["via-view"]
            assert _live_in(pid, f"{view}/via-view")
            assert _live_in(pid, f"{other}/decoy")
    finally:
        for path in (view, other):
            wipe(path)
            os.rmdir(path)


@needs("setpriv")
def test_gc_keeps_a_name_it_cannot_check(scratch_run_dir: str) -> None:
    """gc without CAP_SYS_PTRACE cannot look into a non-dumpable process's
    root: it says so, exits 1, and keeps the name live there."""
    rd = scratch_run_dir
    code = (
        "import ctypes, sys, time, netns_fast\n"
        "ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0\n"
        "netns_fast.add('hidden', run_dir=sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    drop = ["setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace"]
    path = os.path.join(rd, "hidden")
    with _elsewhere(
        shlex.join(["exec", sys.executable, "-c", code, rd])
    ) as pid:
        proc = run(
            [*drop, *tool_argv("nf"), "gc", "min-age", "0"],
            child_env=child_env(NETNS_RUN_DIR=rd),
            timeout=120,
        )

        assert (proc.returncode, proc.stdout) == (1, b"")
        assert proc.stderr.startswith(
            f'Cannot check whether namespace file "{path}" is mounted '
            "elsewhere: /proc/".encode()
        )
        assert proc.stderr.endswith(b": Permission denied\n")
        assert _live_in(pid, path)


# -- only empty files ---------------------------------------------------------


def test_gc_never_removes_a_file_with_data(scratch_run_dir: str) -> None:
    """A regular file with data in the run directory is not a stale entry:
    gc (API and CLI) leaves it, and removes the empty one next to it."""
    rd = scratch_run_dir
    _stale_file(rd, "notes", b"not a namespace\n")
    _stale_file(rd, "stale")
    assert netns_fast.gc(run_dir=rd, min_age=0) == ["stale"]
    proc = _gc_cli(rd, "min-age", "0")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert os.listdir(rd) == ["notes"]
    with open(os.path.join(rd, "notes"), "rb") as f:
        assert f.read() == b"not a namespace\n"


# -- unsafe run directories ---------------------------------------------------


def _make_unsafe(kind: str, victim: str, base: str) -> str:
    """A run directory that is unsafe in the way ``kind`` says; its
    entries are the victim's."""
    if kind == "symlink":
        link = f"{base}-link"
        os.symlink(victim, link)
        return link
    if kind == "not root's":
        os.chown(victim, 65534, 65534)
    elif kind == "world-writable":
        os.chmod(victim, 0o777)
    elif kind == "group-writable":
        os.chown(victim, 0, 65534)
        os.chmod(victim, 0o775)
    return victim


UNSAFE = {
    "symlink": "it is a symbolic link",
    "not root's": "it is owned by uid 65534, not by root",
    "world-writable": "it is writable by others",
    "group-writable": "it is writable by others",
}


@pytest.fixture(params=sorted(UNSAFE))
def unsafe_run_dir(
    request: pytest.FixtureRequest, scratch_run_dir: str
) -> Iterator[tuple[str, str, str]]:
    """(run dir, victim dir, reason): an unsafe run directory whose
    entries are a live name and a stale file of the victim directory."""
    victim = scratch_run_dir
    netns_fast.add("live", run_dir=victim)
    _stale_file(victim, "stale")
    run_dir = _make_unsafe(request.param, victim, victim)
    try:
        yield run_dir, victim, UNSAFE[request.param]
    finally:
        if run_dir != victim:
            os.unlink(run_dir)
        os.chown(victim, 0, 0)
        os.chmod(victim, 0o755)


def _victim_intact(victim: str) -> bool:
    return sorted(os.listdir(victim)) == ["live", "stale"] and is_live(
        os.path.join(victim, "live")
    )


def test_gc_and_delete_all_refuse_an_unsafe_run_dir_api(
    unsafe_run_dir: tuple[str, str, str],
) -> None:
    """gc and delete_all raise NetnsPermissionError (step check_run_dir)
    on an unsafe run directory and remove nothing."""
    run_dir, victim, reason = unsafe_run_dir
    for call in (
        lambda: netns_fast.gc(run_dir=run_dir, min_age=0),
        lambda: netns_fast.gc(run_dir=run_dir, min_age=0, dead_owners=True),
        lambda: netns_fast.delete_all(run_dir=run_dir),
    ):
        with pytest.raises(netns_fast.NetnsPermissionError) as info:
            call()
        assert (info.value.errno, info.value.step) == (1, "check_run_dir")
        assert (info.value.strerror, info.value.filename) == (reason, run_dir)
        assert _victim_intact(victim)


def test_gc_and_all_delete_refuse_an_unsafe_run_dir_cli(
    unsafe_run_dir: tuple[str, str, str],
) -> None:
    """netns-fast gc and -all delete refuse an unsafe run directory with a
    message and exit code 1, and remove nothing."""
    run_dir, victim, reason = unsafe_run_dir
    message = (
        f'Refusing unsafe netns runtime directory "{run_dir}": {reason}\n'
    ).encode()
    for args in (
        ["gc", "min-age", "0"],
        ["gc", "dead-owners"],
        ["-all", "delete"],
    ):
        proc = run(
            [*tool_argv("nf"), *args],
            child_env=child_env(NETNS_RUN_DIR=run_dir),
            timeout=120,
        )
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, b"", message)
        assert _victim_intact(victim)


ALL_DELETE = {
    "ip": [IP, "-all", "netns", "delete"],
    "nf": [*tool_argv("nf"), "-all", "delete"],
}


@requires_ip
def test_all_delete_through_a_symlinked_run_dir_for_comparison(
    tmp_path: Path, figure: Figure
) -> None:
    """ip -all netns delete with /run/netns a symlink empties the victim
    directory; netns-fast -all delete refuses (the deviation)."""
    victim = tmp_path / "victim"
    victim.mkdir()
    left = {}
    for tool in ("ip", "nf"):
        _stale_file(str(victim), "entry")
        # /run/netns -> victim, in a mount namespace of its own.
        script = (
            "mount -t tmpfs -o mode=755 none /run && "
            f"ln -s {shlex.quote(str(victim))} /run/netns && "
            f"{shlex.join(ALL_DELETE[tool])}"
        )
        proc = run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            timeout=120,
        )
        left[tool] = (proc.returncode, sorted(os.listdir(victim)))
        for name in os.listdir(victim):
            os.unlink(victim / name)
    figure("victim entries left by ip -all delete", len(left["ip"][1]))
    assert left == {"ip": (0, []), "nf": (1, ["entry"])}


# -- delete racing a gc -------------------------------------------------------

RACE_NAMES = 1500

# Processes that remove stale entries as fast as they can while deletes
# run: netns-fast's own gc, and a bare remover of empty regular files (what
# an older gc or `find -empty -delete` does), which wins the race far more.
HAMMERS = {
    "gc": (
        "import select, sys, netns_fast\n"
        "while not select.select([sys.stdin], [], [], 0)[0]:\n"
        "    for name in netns_fast.gc(run_dir=sys.argv[1], min_age=0):\n"
        "        print(name, flush=True)\n"
    ),
    "remover": (
        "import os, select, stat, sys\n"
        "rd = sys.argv[1]\n"
        "nsfs = os.stat('/proc/self/ns/net').st_dev\n"
        "while not select.select([sys.stdin], [], [], 0)[0]:\n"
        "    for e in os.scandir(rd):\n"
        "        try:\n"
        "            st = e.stat(follow_symlinks=False)\n"
        "            if stat.S_ISREG(st.st_mode) and st.st_dev != nsfs:\n"
        "                os.unlink(e.path)\n"
        "                print(e.name, flush=True)\n"
        "        except OSError:\n"
        "            pass\n"
    ),
}


@contextlib.contextmanager
def _hammering(kind: str, run_dir: str) -> Iterator[list[str]]:
    """Run a remover of stale entries on ``run_dir`` during the block; the
    names it reports removing are in the yielded list afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HAMMERS[kind], run_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    reported: list[str] = []
    try:
        yield reported
    finally:
        out, _ = proc.communicate(b"stop", timeout=60)
        reported.extend(out.decode().splitlines())
    assert proc.returncode == 0


def _race_names(run_dir: str) -> list[str]:
    names = [unique_name("race") for _ in range(RACE_NAMES)]
    assert all(o.ok for o in netns_fast.add_many(names, run_dir=run_dir))
    return names


@pytest.mark.parametrize("kind", sorted(HAMMERS))
def test_api_deletes_racing_a_gc_all_succeed(
    scratch_run_dir: str, kind: str, figure: Figure
) -> None:
    """delete and delete_many succeed for every name while another process
    unlinks the files they have just unmounted; gc reports only names it
    removed itself, each once."""
    rd = scratch_run_dir
    names = _race_names(rd)
    half = len(names) // 2
    failed: list[str] = []
    with _hammering(kind, rd) as reported:
        for name in names[:half]:
            try:
                netns_fast.delete(name, run_dir=rd)
            except OSError as exc:
                failed.append(f"{name}: {exc}")
        outcomes = netns_fast.delete_many(names[half:], run_dir=rd)
        failed += [f"{o.name}: {o.error}" for o in outcomes if not o.ok]
    figure(f"names the {kind} removed under the deletes", len(reported))
    assert failed == []
    assert os.listdir(rd) == []
    assert len(set(reported)) == len(reported)
    assert set(reported) <= set(names)


@pytest.mark.parametrize("kind", sorted(HAMMERS))
def test_cli_batch_deletes_racing_a_gc_all_succeed(
    scratch_run_dir: str, kind: str
) -> None:
    """netns-fast -b with a delete per name exits 0 without a message while
    another process unlinks the files it has just unmounted."""
    rd = scratch_run_dir
    names = _race_names(rd)
    batch = "".join(f"delete {n}\n" for n in names).encode()
    with _hammering(kind, rd):
        proc = subprocess.run(
            [*tool_argv("nf"), "-b", "-"],
            input=batch,
            capture_output=True,
            env=child_env(NETNS_RUN_DIR=rd),
            check=False,
            timeout=120,
        )
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert os.listdir(rd) == []
