"""Mount and race safety of add, attach and add_many (issue 10).

A racer (tests/c/symlink_racer.c, running as uid 65534) in a run
directory that anyone may write swaps each file that add creates for a
symlink to a victim file outside the run directory, as fast as it can, in
one of two ways:

- "exchange": renameat2(RENAME_EXCHANGE) of its symlink and the new file,
  so the file lives on under the racer's name and the symlink takes the
  new name;
- "over": rename() of its symlink over the new file, which unlinks it.

Whatever the racer does, add must never mount a namespace outside the run
directory or under a name it was not asked for. An add whose file was
swapped fails (ENOENT at the bind step) and leaves the racer's symlink
alone; every add that succeeds made a live name. Each scenario runs until
the racer has won a few times (or skips if it never wins: then nothing was
tested).

The fallback for kernels without open_tree/move_mount (mount(2) onto
/proc/thread-self/fd/N) is checked the same way, with a seccomp filter
that makes open_tree fail as an old kernel or a container filter does.
ip, under the same racer, is measured for comparison. A failed
make-private step after the self-bind of a run directory is likewise made
real with a seccomp filter on mount(2) with MS_PRIVATE.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional

import pytest

import netns_fast
from support.faults import Fault, install, supported, wrapper
from support.kernel import (
    RUN_DIR,
    is_live,
    nsfs_mounts_under,
    umount_all,
    wipe,
)
from support.names import unique_name
from support.processes import in_child, sleeper_in_own_netns
from support.tools import IP, Figure, cli_argv, requires_ip
from support.tools import env as child_env

pytestmark = pytest.mark.root

RACER_C = Path(__file__).resolve().parents[1] / "c" / "symlink_racer.c"
MS_PRIVATE = 1 << 18
CHUNK = 100
ENOUGH_SWAPS = 5

needs_seccomp = pytest.mark.skipif(
    not supported(), reason="no seccomp syscall table for this architecture"
)

# One batch of adds: the names -> {name: None or [errno, step]}.
Adder = Callable[[list[str]], dict[str, Optional[list[object]]]]


@pytest.fixture(scope="module")
def racer(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/c/symlink_racer.c, built (skip without gcc)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    exe = tmp_path_factory.mktemp("racer") / "symlink_racer"
    subprocess.run(
        [gcc, "-O2", "-Wall", "-Wextra", "-Werror", str(RACER_C), "-o", exe],
        check=True,
    )
    return str(exe)


@contextlib.contextmanager
def _racing(argv: list[str]) -> Iterator[Callable[[], set[str]]]:
    """The racer (it runs as uid 65534) with these arguments; yields "the
    names it swapped so far"."""
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    r = proc.stdout.fileno()
    seen: set[str] = set()
    buf = bytearray()

    def swapped() -> set[str]:
        while select.select([r], [], [], 0)[0]:
            data = os.read(r, 65536)
            if not data:
                break
            buf.extend(data)
        *lines, rest = bytes(buf).split(b"\n")
        buf[:] = rest
        seen.update(line.decode() for line in lines)
        return seen

    try:
        yield swapped
    finally:
        proc.kill()
        proc.wait()
        swapped()
        proc.stdout.close()


def race(
    racer: str,
    run_dir: str,
    style: str,
    adder: Adder,
    *,
    victims: Optional[str] = None,
    max_adds: int = 3000,
    enough: int = ENOUGH_SWAPS,
) -> tuple[dict[str, Optional[list[object]]], list[str]]:
    """Adds in batches of CHUNK against a racer until it won ``enough``
    times (or max_adds names); (outcome per name, names it swapped). The
    racer's symlinks point at VICTIMS/target (default: RUN_DIR-victims)."""
    os.chmod(run_dir, 0o777)
    victims = victims or run_dir + "-victims"
    os.mkdir(victims)
    victim = os.path.join(victims, "target")
    os.close(os.open(victim, os.O_CREAT, 0o644))
    prefix = unique_name("race")
    names = [f"{prefix}-{i}" for i in range(max_adds)]
    results: dict[str, Optional[list[object]]] = {}
    argv = [racer, run_dir, victim, style, prefix, str(max_adds)]
    with _racing(argv) as swapped:
        for start in range(0, max_adds, CHUNK):
            results.update(adder(names[start : start + CHUNK]))
            if len(swapped()) >= enough:
                break
        won = sorted(swapped())
    return results, won


def _outcome(exc: Optional[OSError]) -> Optional[list[object]]:
    return None if exc is None else [exc.errno, getattr(exc, "step", None)]


def api_add(run_dir: str) -> Adder:
    """netns_fast.add, one name at a time."""

    def adder(names: list[str]) -> dict[str, Optional[list[object]]]:
        out: dict[str, Optional[list[object]]] = {}
        for nm in names:
            try:
                netns_fast.add(nm, run_dir=run_dir)
                out[nm] = None
            except OSError as exc:
                out[nm] = _outcome(exc)
        return out

    return adder


def api_attach(run_dir: str, pid: int) -> Adder:
    """netns_fast.attach of pid, one name at a time."""

    def adder(names: list[str]) -> dict[str, Optional[list[object]]]:
        out: dict[str, Optional[list[object]]] = {}
        for nm in names:
            try:
                netns_fast.attach(nm, pid, run_dir=run_dir)
                out[nm] = None
            except OSError as exc:
                out[nm] = _outcome(exc)
        return out

    return adder


def api_add_many(run_dir: str) -> Adder:
    """netns_fast.add_many on two C threads."""

    def adder(names: list[str]) -> dict[str, Optional[list[object]]]:
        outcomes = netns_fast.add_many(names, run_dir=run_dir, threads=2)
        return {o.name: _outcome(o.error) for o in outcomes}

    return adder


def check_race(
    run_dir: str,
    results: dict[str, Optional[list[object]]],
    won: list[str],
    figure: Figure,
    victims: Optional[str] = None,
) -> None:
    """The invariants after a race (see the module docstring)."""
    figure("adds", len(results))
    figure("swapped by the racer", len(won))
    victims = victims or run_dir + "-victims"
    assert nsfs_mounts_under(victims) == [], "mounted outside the run dir"
    ok = {nm for nm, res in results.items() if res is None}
    failed = {nm: res for nm, res in results.items() if res is not None}
    assert sorted(nsfs_mounts_under(run_dir)) == sorted(
        os.path.join(run_dir, nm) for nm in ok
    ), "a namespace is mounted under a name add was not asked for"
    for nm in ok:
        assert is_live(os.path.join(run_dir, nm)), f"{nm}: success, not live"
    assert set(won) <= set(failed), "a swapped add reported success"
    assert set(failed) <= set(won), f"adds failed with no swap: {failed}"
    assert len(ok) + len(failed) == len(results)
    for nm, res in failed.items():
        assert res == [errno.ENOENT, "bind"], (nm, res)
        target = os.readlink(os.path.join(run_dir, nm))
        assert target == os.path.join(victims, "target"), "symlink lost"
    if not won:
        pytest.skip("the racer never won a race: nothing was tested")


@pytest.fixture
def race_dir(scratch_run_dir: str) -> Iterator[str]:
    """scratch_run_dir, plus the victims directory a race makes beside it
    (unmounted and removed afterwards, whatever was mounted there)."""
    yield scratch_run_dir
    victims = scratch_run_dir + "-victims"
    if os.path.isdir(victims):
        umount_all(os.path.join(victims, "target"))
        shutil.rmtree(victims)


@pytest.fixture(scope="module")
def netns_pid() -> Iterator[int]:
    """A sleeping process in a network namespace of its own."""
    with sleeper_in_own_netns() as pid:
        yield pid


@pytest.mark.parametrize("style", ["exchange", "over"])
def test_add_never_mounts_through_a_swapped_file(
    racer: str, race_dir: str, style: str, figure: Figure
) -> None:
    """A racer swapping add's new files for symlinks makes those adds fail
    cleanly; no namespace is ever mounted outside the run directory."""
    results, won = race(racer, race_dir, style, api_add(race_dir))
    check_race(race_dir, results, won, figure)


def test_attach_never_mounts_through_a_swapped_file(
    racer: str, race_dir: str, netns_pid: int, figure: Figure
) -> None:
    """The same for attach, whose bind is a few µs after the create."""
    adder = api_attach(race_dir, netns_pid)
    results, won = race(racer, race_dir, "exchange", adder, max_adds=10000)
    check_race(race_dir, results, won, figure)


def test_add_many_never_mounts_through_a_swapped_file(
    racer: str, race_dir: str, figure: Figure
) -> None:
    """The same for add_many's C threads."""
    results, won = race(racer, race_dir, "exchange", api_add_many(race_dir))
    check_race(race_dir, results, won, figure)


@needs_seccomp
@pytest.mark.parametrize("err", [errno.ENOSYS, errno.EPERM])
def test_fallback_without_open_tree_is_as_safe(
    racer: str, race_dir: str, err: int, figure: Figure
) -> None:
    """With open_tree refused (an old kernel: ENOSYS; a container filter:
    EPERM), add binds with mount(2) onto /proc/thread-self/fd/N: the same
    guarantees hold."""
    rd = race_dir

    def child() -> object:
        install([Fault("open_tree", err)])
        return race(racer, rd, "exchange", api_add(rd))

    results, won = in_child(child)
    check_race(rd, results, won, figure)


@needs_seccomp
@pytest.mark.parametrize("err", [errno.ENOSYS, errno.EPERM])
def test_fallback_without_open_tree_makes_working_names(
    scratch_run_dir: str, netns_pid: int, err: int
) -> None:
    """Without open_tree, add, attach and add_many still make live names
    (and report the same errors)."""
    rd = scratch_run_dir
    prefix = unique_name("fb")

    def child() -> object:
        install([Fault("open_tree", err)])
        netns_fast.add(f"{prefix}-add", run_dir=rd)
        netns_fast.attach(f"{prefix}-attach", netns_pid, run_dir=rd)
        many = netns_fast.add_many(
            [f"{prefix}-m{i}" for i in range(8)], run_dir=rd, threads=2
        )
        try:
            netns_fast.add(f"{prefix}-add", run_dir=rd)
        except netns_fast.NamespaceExistsError as exc:
            exists = exc.step
        try:
            netns_fast.attach(f"{prefix}-dead", 2**31 - 1, run_dir=rd)
        except FileNotFoundError as exc:
            dead = exc.step
        return [all(o.ok for o in many), exists, dead]

    assert in_child(child) == [True, "create_name", "bind"]
    names = sorted(os.listdir(rd))
    assert len(names) == 10
    assert all(is_live(os.path.join(rd, nm)) for nm in names)
    attached = os.stat(os.path.join(rd, f"{prefix}-attach"))
    target = os.stat(f"/proc/{netns_pid}/ns/net")
    assert (attached.st_dev, attached.st_ino) == (target.st_dev, target.st_ino)


# -- a make-private step that fails after the self-bind -----------------------

_PRIVATE_FAILS = r"""
set -e
D="$1"; shift
mount -t tmpfs tmpfs "$D"
mount --make-shared "$D"
mkdir "$D/rd"
export NETNS_RUN_DIR="$D/rd"
set +e
"$@" add first 2>"$D/err"
echo "rc=$?"
set -e
cat "$D/err"
mounts() { grep -c " $1 " /proc/self/mountinfo; }
echo "run dir mounts after the failure: $(mounts "$D/rd")"
"${PY}" -m netns_fast add second
echo "mounts of the next name: $(mounts "$D/rd/second")"
"""


@needs_seccomp
def test_failed_make_private_undoes_the_self_bind(tmp_path: Path) -> None:
    """If making the self-bound run dir private fails, the self-bind is
    undone: the next add makes a run dir of its own and its name is
    mounted once, not also in the parent's peer group."""
    where = os.path.join(tmp_path, "mnt")
    os.mkdir(where)
    failing = wrapper(Fault("mount", errno.EPERM, 3, MS_PRIVATE))
    script = ["unshare", "-m", "sh", "-c", _PRIVATE_FAILS, "sh", where]
    env = child_env(PY=cli_argv()[0])
    proc = subprocess.run(
        [*script, *failing, *cli_argv()],
        capture_output=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rd = os.path.join(where, "rd")
    assert proc.stdout.decode().splitlines() == [
        "rc=1",
        f"mount --make-private {rd} failed: Operation not permitted",
        "run dir mounts after the failure: 0",
        "mounts of the next name: 1",
    ]


# -- the same racer against ip and the CLI ------------------------------------


def batch_adder(tool: list[str], run_dir: str) -> Adder:
    """``TOOL -force -b -`` with one ``netns add NAME`` line per name."""

    def adder(names: list[str]) -> dict[str, Optional[list[object]]]:
        text = "".join(f"netns add {nm}\n" for nm in names)
        proc = subprocess.run(
            [*tool, "-force", "-b", "-"],
            input=text.encode(),
            capture_output=True,
            env=child_env(),
            check=False,
            timeout=120,
        )
        out: dict[str, Optional[list[object]]] = dict.fromkeys(names)
        lines = proc.stderr.decode().splitlines()
        for why, where in zip(lines[::2], lines[1::2]):
            nm = names[int(where.rsplit(":", 1)[1]) - 1]
            swapped = (
                f"Bind /proc/self/ns/net -> {run_dir}/{nm} failed: "
                "No such file or directory"
            )
            out[nm] = [errno.ENOENT, "bind"] if why == swapped else [why]
        return out

    return adder


@requires_ip
@pytest.mark.oracle
def test_ip_batch_mounts_through_swapped_files_netns_fast_does_not(
    racer: str, tmp_path: Path, figure: Figure
) -> None:
    """The same racer against 200 adds of a batch in /run/netns: ip
    mounts namespaces where the racer's symlinks point (a figure), the
    netns-fast CLI never does (its swapped adds fail with ip's bind
    message)."""
    mode = os.stat(RUN_DIR).st_mode & 0o7777
    try:
        for tool, argv in (("ip", [IP]), ("cli", cli_argv())):
            victims = str(tmp_path / tool)
            results, won = race(
                racer,
                RUN_DIR,
                "exchange",
                batch_adder(argv, RUN_DIR),
                victims=victims,
                max_adds=200,
                enough=200,
            )
            if tool == "ip":
                outside = nsfs_mounts_under(victims)
                figure("ip: adds", len(results))
                figure("ip: swapped by the racer", len(won))
                figure("ip: mounted where a symlink points", len(outside))
            else:
                check_race(RUN_DIR, results, won, figure, victims)
            wipe(RUN_DIR)
            umount_all(os.path.join(victims, "target"))
    finally:
        wipe(RUN_DIR)
        os.chmod(RUN_DIR, mode)


@pytest.mark.parametrize("tool", ["api", "cli"])
def test_delete_of_a_symlink_never_unmounts_its_target(
    race_dir: str, tool: str
) -> None:
    """delete of a name that a racer made a symlink to a live name elsewhere
    removes the symlink and leaves the target mounted (ip unmounts it)."""
    victims = race_dir + "-victims"
    os.mkdir(victims)
    name = unique_name()
    netns_fast.add(name, run_dir=victims)
    target = os.path.join(victims, name)
    link = unique_name()
    os.symlink(target, os.path.join(race_dir, link))
    try:
        if tool == "api":
            netns_fast.delete(link, run_dir=race_dir)
        else:
            subprocess.run(
                [*cli_argv(), "delete", link],
                env={**child_env(), "NETNS_RUN_DIR": race_dir},
                check=True,
            )
        assert not os.path.lexists(os.path.join(race_dir, link))
        assert is_live(target), "delete unmounted the symlink's target"
    finally:
        umount_all(target)
        os.unlink(target)
        umount_all(victims)  # add's self-bind of the directory
        os.rmdir(victims)
