"""Run ``ip netns`` and ``netns-fast`` from the same state and compare.

Every run gets a run directory of its own: a fresh tmpfs is stacked on
/run/netns (or, for the "no run dir" cases, on /run, so that /run/netns does
not exist) in the test session's private mount namespace. The state is built
there (live names with ``ip netns add``, stale files, stacked mounts), one
tool runs, its output and the resulting state are recorded, and the stacked
tmpfs is lazily unmounted, which drops every namespace made on it. Then the
same state is built again, with the same names in the same order (tmpfs
lists newest first), for the other tool.

Non-root runs go through a nested private mount namespace and ``setpriv``
to uid/gid 65534 without capabilities. If this interpreter lives under a
directory that uid 65534 cannot search (e.g. /root/.pyenv), the nested
namespace first puts a mode-755 tmpfs over that directory with the needed
trees bound back in place, so the netns-fast command itself can start.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional, TypeVar, Union

import pytest

from support import kernel
from support.kernel import MNT_DETACH, MS_BIND, check, libc
from support.names import unique_name
from support.processes import NOBODY
from support.tools import (
    IP,
    Completed,
    cli_argv,
    env,
    ip_to_cli,
    package_parent,
    run_cli,
    run_ip,
    unshare_mount,
)

RUN = b"/run"
RUN_DIR_BYTES = os.fsencode(kernel.RUN_DIR)

Arg = Union[str, bytes]
# A step of a starting state: (kind, name). Kinds:
#   "live"    a name made with `ip netns add NAME`
#   "stale"   an empty file with mode 0 (what a crash leaves)
#   "stacked" `ip netns add NAME`, then a second bind mount of it onto itself
#   "dir"     an empty directory
#   "mode"    chmod of the run directory itself (name = octal digits)
#   "run_dir" make /run/netns where it is missing (implies missing_run_dir):
#             name b"dir" for a plain directory (not a mount point), b"file"
#             for a regular file
StateStep = tuple[str, bytes]


def name(tag: str = "", length: int = 0) -> bytes:
    """A generated name (bytes); padded with 'x' to ``length`` if given."""
    raw = unique_name("nsft-or" + tag).encode()
    return raw + b"x" * (length - len(raw)) if length else raw


def _mount_tmpfs(where: bytes) -> None:
    check(
        libc.mount(b"tmpfs", where, b"tmpfs", 0, b"mode=755"),
        f"mount tmpfs on {where!r}",
    )


def _detach(where: bytes) -> None:
    check(libc.umount2(where, MNT_DETACH), f"umount -l {where!r}")


def mounts_under(run_dir: bytes) -> tuple[int, dict[bytes, int]]:
    """Mounts on run_dir itself, and nsfs mounts per name inside it."""
    on_dir = 0
    per_name: dict[bytes, int] = {}
    for mnt in kernel.mounts():
        point = os.fsencode(mnt.mount_point)
        if point == run_dir:
            on_dir += 1
        elif point.startswith(run_dir + b"/") and mnt.fstype == "nsfs":
            key = point[len(run_dir) + 1 :]
            per_name[key] = per_name.get(key, 0) + 1
    return on_dir, per_name


@dataclass(frozen=True)
class Snapshot:
    """What a run left behind: run dir entries (readdir order) and mounts."""

    entries: Optional[tuple[bytes, ...]]
    run_dir_mounts: int
    nsfs_mounts: tuple[tuple[bytes, int], ...]
    extra: object = None


def snapshot(extra: object = None) -> Snapshot:
    """The state of /run/netns now (entries None if it is no directory)."""
    try:
        entries: Optional[tuple[bytes, ...]] = tuple(os.listdir(RUN_DIR_BYTES))
    except (FileNotFoundError, NotADirectoryError):
        entries = None
    on_dir, per_name = mounts_under(RUN_DIR_BYTES)
    return Snapshot(entries, on_dir, tuple(sorted(per_name.items())), extra)


@dataclass(frozen=True)
class Result:
    """One tool's run: exit code, stdout, stderr and the state after it."""

    rc: int
    out: bytes
    err: bytes
    state: Snapshot


def _make_state(steps: Sequence[StateStep]) -> None:
    """Build the starting state in the current run directory, in order."""
    for kind, nm in steps:
        path = RUN_DIR_BYTES + b"/" + nm
        if kind == "stale":
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
            continue
        if kind == "dir":
            os.mkdir(path)
            continue
        if kind == "run_dir":
            if nm == b"dir":
                os.mkdir(RUN_DIR_BYTES, 0o755)
            else:
                os.close(
                    os.open(RUN_DIR_BYTES, os.O_WRONLY | os.O_CREAT, 0o644)
                )
            continue
        if kind == "mode":
            os.chmod(RUN_DIR_BYTES, int(nm, 8))
            continue
        if kind not in ("live", "stacked"):
            raise ValueError(f"unknown state step {kind!r}")
        proc = run_ip(["netns", "add", nm])
        assert proc.returncode == 0, proc.stderr
        if kind == "stacked":
            check(libc.mount(path, path, None, MS_BIND, None), "bind")


@contextlib.contextmanager
def private_run_dir(missing: bool = False) -> Iterator[None]:
    """A fresh tmpfs on /run/netns (or on /run when ``missing``)."""
    where = RUN if missing else RUN_DIR_BYTES
    _mount_tmpfs(where)
    try:
        yield
    finally:
        _detach(where)


# -- running a tool as uid 65534 ----------------------------------------------


def _first_closed_dir(path: str) -> Optional[str]:
    """The first ancestor of path that others may not search, if any."""
    parts = os.path.realpath(path).split("/")[1:]
    cur = ""
    for part in parts[:-1]:
        cur += "/" + part
        if not os.stat(cur).st_mode & stat.S_IXOTH:
            return cur
    return None


def _nobody_script(stage: str) -> str:
    """Shell (run as root in a nested mount ns) that drops to uid 65534."""
    needed = {
        os.path.realpath(p)
        for p in (sys.base_prefix, sys.prefix, package_parent())
    }
    lines = ["set -e"]
    hidden: dict[str, list[str]] = {}
    for p in sorted(needed):
        closed = _first_closed_dir(os.path.join(p, "x"))
        if closed is not None and closed != p:
            hidden.setdefault(closed, []).append(p)
    binds = [p for paths in hidden.values() for p in paths]
    for i, p in enumerate(binds):
        slot = shlex.quote(f"{stage}/{i}")
        lines.append(f"mkdir -p {slot}; mount --rbind {shlex.quote(p)} {slot}")
    for closed in hidden:
        lines.append(f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(closed)}")
    for i, p in enumerate(binds):
        slot = shlex.quote(f"{stage}/{i}")
        q = shlex.quote(p)
        lines.append(f"mkdir -p {q}; mount --rbind {slot} {q}")
    lines.append(
        f"exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups"
        ' --inh-caps=-all "$@"'
    )
    return "\n".join(lines)


def nobody_wrapper(stage: str) -> list[str]:
    """argv prefix that runs a command as uid 65534 without capabilities."""
    return unshare_mount(_nobody_script(stage))


def _run_wrapped(
    wrapper: list[str], tool: list[Arg], args: Sequence[Arg]
) -> Completed:
    return subprocess.run(
        [*wrapper, *tool, *args],
        capture_output=True,
        env=env(),
        cwd="/",
        check=False,
        timeout=60,
    )


def _run_redirected(redirect: str, argv: list[Arg]) -> Completed:
    """Run argv with stdout or stderr closed, full or a broken pipe."""
    closing = {"stdout-closed": ">&-", "stderr-closed": "2>&-"}
    if redirect in closing:
        script = f'exec "$@" {closing[redirect]}'
        return subprocess.run(
            ["sh", "-c", script, "sh", *argv],
            capture_output=True,
            env=env(),
            check=False,
            timeout=60,
        )
    if redirect == "stdout-full":
        sink = os.open("/dev/full", os.O_WRONLY | os.O_CLOEXEC)
    else:
        reader, sink = os.pipe()
        os.close(reader)
    try:
        return subprocess.run(
            argv,
            stdout=sink,
            stderr=subprocess.PIPE,
            env=env(),
            check=False,
            timeout=60,
        )
    finally:
        os.close(sink)


def nobody_or_skip(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The uid-65534 wrapper, or skip with the reason it cannot work."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    stage = str(tmp_path_factory.mktemp("nobody-stage"))
    wrapper = nobody_wrapper(stage)
    probe = _run_wrapped(
        wrapper, [*cli_argv()], []
    )  # a plain list in the session's directory
    if probe.returncode != 0:
        pytest.skip(
            "cannot run netns-fast as uid 65534: "
            + probe.stderr.decode(errors="replace").strip()
        )
    return wrapper


# -- the comparison -----------------------------------------------------------


@dataclass
class Case:
    """One oracle case: the same argv for ip (after "netns") and netns-fast."""

    args: list[Arg]
    state: list[StateStep] = field(default_factory=list)
    missing_run_dir: bool = False
    stdin: Optional[bytes] = None
    # Options that go before the "netns" word for ip (e.g. -j, -all).
    opts: list[Arg] = field(default_factory=list)
    # Recorded after the run, before cleanup (compared like the rest).
    probe: Optional[Callable[[], object]] = None
    # Called with "ip" or "cli" right before that tool runs (e.g. to write
    # the batch file it reads).
    prepare: Optional[Callable[[str], None]] = None
    # Standard input of netns-fast when it differs from ip's.
    cli_stdin: Optional[bytes] = None
    # The whole argv of both tools, without a "netns" word (e.g. -b FILE).
    argv: Optional[list[Arg]] = None
    # Where stdout or stderr goes instead of a pipe: "stdout-closed",
    # "stdout-full" (/dev/full), "stdout-broken" (a pipe nobody reads),
    # "stderr-closed". What is not redirected is captured as usual.
    redirect: Optional[str] = None


def ip_argv(case: Case) -> list[Arg]:
    """``ip OPTS netns ARGS`` (or case.argv)."""
    if case.argv is not None:
        return case.argv
    return [*case.opts, "netns", *case.args]


def cli_args(case: Case) -> list[Arg]:
    """``netns-fast OPTS ARGS`` (or case.argv)."""
    if case.argv is not None:
        return case.argv
    return [*case.opts, *case.args]


def run_one(
    case: Case, tool: str, wrapper: Optional[list[str]] = None
) -> Result:
    """Build the state, run one tool, record, clean up."""
    missing = case.missing_run_dir or any(
        k == "run_dir" for k, _ in case.state
    )
    with private_run_dir(missing):
        _make_state(case.state)
        if case.prepare is not None:
            case.prepare(tool)
        if tool == "ip":
            argv = ip_argv(case)
            if case.redirect is not None:
                proc = _run_redirected(case.redirect, [IP, *argv])
            elif wrapper is None:
                proc = run_ip(argv, stdin=case.stdin)
            else:
                proc = _run_wrapped(wrapper, [IP], argv)
            out = ip_to_cli(proc.stdout or b"")
            err = ip_to_cli(proc.stderr or b"")
        else:
            argv = cli_args(case)
            stdin = case.stdin if case.cli_stdin is None else case.cli_stdin
            if case.redirect is not None:
                proc = _run_redirected(case.redirect, [*cli_argv(), *argv])
            elif wrapper is None:
                proc = run_cli(argv, stdin=stdin)
            else:
                proc = _run_wrapped(wrapper, [*cli_argv()], argv)
            out, err = proc.stdout or b"", proc.stderr or b""
        extra = case.probe() if case.probe else None
        return Result(proc.returncode, out, err, snapshot(extra))


def both(
    case: Case, wrapper: Optional[list[str]] = None
) -> tuple[Result, Result]:
    """(ip's result, netns-fast's result) from the same starting state."""
    return run_one(case, "ip", wrapper), run_one(case, "cli", wrapper)


Run = Union[Result, Completed]
"""A run to compare: a Case's Result (already in netns-fast's words), or a
plain process run (ip's then reworded by the comparer)."""
R = TypeVar("R", Result, Completed)


def _as_result(run: Run, of_ip: bool) -> Result:
    if isinstance(run, Result):
        return run
    out, err = run.stdout or b"", run.stderr or b""
    if of_ip:
        out, err = ip_to_cli(out), ip_to_cli(err)
    return Result(run.returncode, out, err, None)  # type: ignore[arg-type]


def differences(ip_res: Result, cli_res: Result) -> list[str]:
    """What differs between the two results, one line per field."""
    return [
        f"{what}:\n  ip:         {getattr(ip_res, what)!r}\n"
        f"  netns-fast: {getattr(cli_res, what)!r}"
        for what in ("err", "out", "rc", "state")
        if getattr(ip_res, what) != getattr(cli_res, what)
    ]


def disagreements(ip: Run, ours: Run) -> list[str]:
    """What assert_same finds wrong, one entry per field ([]: they agree)."""
    ip_res, cli_res = _as_result(ip, True), _as_result(ours, False)
    diff = differences(ip_res, cli_res)
    if b"Traceback" in cli_res.err:
        diff.append("netns-fast printed a traceback")
    return diff


def assert_same(ip: Run, ours: R, context: object = None) -> R:
    """The comparer: ip's run and netns-fast's agree byte for byte, in
    stderr, stdout, exit code and (for a Case) the state left behind, with
    ip's self-references worded as netns-fast's; netns-fast printed no
    traceback. Returns netns-fast's run; ``context`` (e.g. the argv) is
    named in the failure."""
    diff = disagreements(ip, ours)
    if diff:
        where = "" if context is None else f" ({context!r})"
        pytest.fail(f"netns-fast differs from ip{where} in " + "\n".join(diff))
    return ours


def same_run(
    args: Sequence[Arg],
    opts: Sequence[Arg] = (),
    stdin: Optional[bytes] = None,
) -> Completed:
    """``ip OPTS netns ARGS`` and ``netns-fast OPTS ARGS``, run one after
    the other on the current state, must agree (assert_same); returns
    netns-fast's run."""
    return assert_same(
        run_ip([*opts, "netns", *args], stdin=stdin),
        run_cli([*opts, *args], stdin=stdin),
    )
