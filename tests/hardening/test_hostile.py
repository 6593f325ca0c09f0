"""Hostile conditions: no CAP_SYS_ADMIN, a namespace limit, odd run dirs.

Each case checks for a clear error (ip's message where ip has one) and
that nothing is left half-made: no new entry, no mount, live names intact.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from hardening_helpers import (
    CAP_SYS_ADMIN,
    RUN_DIR,
    Figure,
    child_env,
    drop_capability,
    in_child,
    is_live,
    needs,
    run_argv,
    run_python,
    tool_argv,
)
from nsft_helpers import IP, cli_argv, ip_to_cli, requires_ip, unique_name

import netns_fast
from netns_fast import _sys

pytestmark = pytest.mark.root

NO_SYS_ADMIN = [
    "setpriv",
    "--inh-caps=-sys_admin",
    "--bounding-set=-sys_admin",
]


def _info(exc: netns_fast.NetnsOSError) -> list[Any]:
    return [type(exc).__name__, exc.errno, exc.step]


def _stale_file(run_dir: str, name: str) -> None:
    path = os.path.join(run_dir, name)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))


# -- without CAP_SYS_ADMIN ----------------------------------------------------


def _api_calls_without_sys_admin(rd: str) -> dict[str, Any]:
    """Child: drop CAP_SYS_ADMIN, then try every call that needs it."""
    drop_capability(CAP_SYS_ADMIN)
    out: dict[str, Any] = {}

    def attempt(key: str, call: Any) -> None:
        try:
            out[key] = ["ok", call()]
        except netns_fast.NetnsOSError as exc:
            out[key] = _info(exc)

    attempt("add, run dir prepared", lambda: netns_fast.add("n1", run_dir=rd))
    attempt(
        "add_many",
        lambda: [
            _info(o.error) if o.error else "ok"
            for o in netns_fast.add_many(["m1", "m2"], run_dir=rd)
        ],
    )
    attempt(
        "add_many, one thread",
        lambda: [
            _info(o.error) if o.error else "ok"
            for o in netns_fast.add_many(["m1", "m2"], run_dir=rd, threads=1)
        ],
    )
    _sys.forget_run_dir()
    attempt(
        "add, run dir not prepared", lambda: netns_fast.add("n2", run_dir=rd)
    )
    attempt("attach", lambda: netns_fast.attach("a1", os.getpid(), run_dir=rd))
    attempt("delete live", lambda: netns_fast.delete("live", run_dir=rd))
    attempt("gc", lambda: netns_fast.gc(run_dir=rd, min_age=0))
    return out


def test_api_without_cap_sys_admin_fails_cleanly(scratch_run_dir: str) -> None:
    """No CAP_SYS_ADMIN: EPERM at the right step, nothing made; gc works."""
    rd = scratch_run_dir
    netns_fast.add("live", run_dir=rd)
    _stale_file(rd, "stale")

    out = in_child(lambda: _api_calls_without_sys_admin(rd))

    eperm = "NetnsPermissionError", 1
    assert out["add, run dir prepared"] == [*eperm, "unshare"]
    assert out["add_many"] == ["ok", [[*eperm, "unshare"]] * 2]
    assert out["add_many, one thread"] == out["add_many"]
    assert out["add, run dir not prepared"] == [*eperm, "make_shared"]
    assert out["attach"] == [*eperm, "make_shared"]
    assert out["delete live"] == ["NamespaceBusyError", 16, "unlink"]
    assert out["gc"] == ["ok", ["stale"]]
    assert os.listdir(rd) == ["live"]
    assert is_live(os.path.join(rd, "live"))
    netns_fast.delete("live", run_dir=rd)


@requires_ip
@needs("setpriv")
def test_cli_without_cap_sys_admin_matches_ip() -> None:
    """No CAP_SYS_ADMIN: ip's errors and exit codes, run dir unchanged."""
    live, new, missing = (unique_name(p) for p in ("live", "new", "missing"))
    netns_fast.add(live)
    try:
        before = sorted(os.listdir(RUN_DIR))
        cases = [
            ["add", new],
            ["attach", new, str(os.getpid())],
            ["delete", live],
            ["delete", missing],
            ["list"],
        ]
        for args in cases:
            ip = run_argv([*NO_SYS_ADMIN, *tool_argv("ip"), *args])
            nf = run_argv([*NO_SYS_ADMIN, *tool_argv("nf"), *args])
            assert (nf.returncode, nf.stdout, nf.stderr) == (
                ip.returncode,
                ip_to_cli(ip.stdout),
                ip_to_cli(ip.stderr),
            ), args
            assert sorted(os.listdir(RUN_DIR)) == before, args
            assert is_live(os.path.join(RUN_DIR, live))
    finally:
        netns_fast.delete(live)


# -- a namespace limit (ENOSPC) in a user namespace of our own ----------------

# unshare -U -r -m -n: a user namespace that owns a new mount and network
# namespace. Inside it, root may lower user.max_net_namespaces for that user
# namespace only; its own network namespace already counts as one.
USERNS = [
    "unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "--net",
    "--propagation",
    "private",
]

_LIMIT_SETUP = """
import ctypes, io, json, os
import netns_fast
from netns_fast import cli
libc = ctypes.CDLL(None, use_errno=True)
assert libc.mount(b"tmpfs", b"/run/netns", b"tmpfs", 0, None) == 0
with open("/proc/sys/user/max_net_namespaces", "w") as f:
    f.write("3")
"""

_LIMIT_API = (
    _LIMIT_SETUP
    + """
out = {}
results = netns_fast.add_many(["a", "b", "c", "d"])
out["batch"] = sorted(
    (
        [o.error.__class__.__name__, o.error.errno, o.error.step]
        if o.error
        else ["ok"]
        for o in results
    ),
    key=json.dumps,
)
try:
    netns_fast.add("e")
except netns_fast.NamespaceLimitError as exc:
    out["single"] = [exc.errno, exc.step, str(exc)]
err = io.BytesIO()
rc = cli.run(["add", "f"], io.BytesIO(), err)
out["cli"] = [rc, err.getvalue().decode()]
out["entries"] = sorted(os.listdir("/run/netns"))
out["made"] = sorted(o.name for o in results if o.ok)
print(json.dumps(out))
"""
)


def _userns_works() -> bool:
    proc = subprocess.run(
        [*USERNS, "true"], capture_output=True, check=False, timeout=30
    )
    return proc.returncode == 0


def test_namespace_limit_gives_a_clear_error_and_nothing_half_made() -> None:
    """At the netns limit: NamespaceLimitError, no file for failed names."""
    if not _userns_works():
        pytest.skip("cannot create a user namespace here")
    out = run_python(_LIMIT_API, prefix=USERNS)

    limit = ["NamespaceLimitError", 28, "unshare"]
    assert out["batch"] == [limit, limit, ["ok"], ["ok"]]
    assert out["single"] == [
        28,
        "unshare",
        "[Errno 28] No space left on device (step: unshare)",
    ]
    assert out["cli"] == [
        1,
        'Failed to create a new network namespace "f": '
        "No space left on device\n",
    ]
    assert out["entries"] == out["made"]


@requires_ip
def test_namespace_limit_cli_matches_ip() -> None:
    """At the netns limit, netns-fast add prints ip's message; no file left."""
    if not _userns_works():
        pytest.skip("cannot create a user namespace here")
    script = (
        "echo 1 > /proc/sys/user/max_net_namespaces &&"
        ' mount -t tmpfs tmpfs /run/netns && { "$@"; rc=$?; } &&'
        " ls -A /run/netns; exit $rc"
    )
    results = [
        run_argv(
            [*USERNS, "sh", "-c", script, "sh", *tool_argv(t), "add", "x"]
        )
        for t in ("ip", "nf")
    ]
    ip, nf = ((p.returncode, p.stdout, p.stderr) for p in results)
    assert ip == (
        1,
        b"",
        b'Failed to create a new network namespace "x": '
        b"No space left on device\n",
    )
    assert nf == ip


# -- the run directory missing, not a mount point, or a file ------------------

# Each run gets a mount namespace of its own with a fresh tmpfs on /run,
# made shared as systemd makes it; SETUP then shapes /run/netns.
SCENARIOS = {
    "missing": "true",
    "not a mount point": "mkdir -m 755 /run/netns",
    "a file": "touch /run/netns",
}
_ISOLATED = (
    "mount -t tmpfs tmpfs /run && mount --make-shared /run && {setup} &&"
    ' {{ "$@"; rc=$?; }};'
    " echo ==state== ; ls -A /run/netns 2>&1;"
    " grep -c ' /run/netns/x ' /proc/self/mountinfo; exit $rc"
)


def _isolated(setup: str, argv: list[str]) -> tuple[int, bytes, bytes, bytes]:
    env = child_env()
    env.pop("NETNS_RUN_DIR", None)
    proc = run_argv(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            _ISOLATED.format(setup=setup),
            "sh",
            *argv,
        ],
        env,
    )
    out, _, state = proc.stdout.partition(b"==state==\n")
    return proc.returncode, out, proc.stderr, state


_FOUNDATION_CASES = [
    ([], ["list"]),
    (["-j"], ["list"]),
    ([], ["add", "x"]),
    ([], ["delete", "x"]),
    (["-all"], ["delete"]),
]


@requires_ip
@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize(
    ("opts", "args"),
    _FOUNDATION_CASES,
    ids=[" ".join(o + a) for o, a in _FOUNDATION_CASES],
)
def test_odd_run_dir_matches_ip(
    scenario: str, opts: list[str], args: list[str], figure: Figure
) -> None:
    """Odd /run/netns: ip's output and exit code; add leaves a single mount."""
    setup = SCENARIOS[scenario]
    ip = _isolated(setup, [IP, *opts, "netns", *args])
    nf = _isolated(setup, [*cli_argv(), *opts, *args])

    assert nf[:3] == (ip[0], ip_to_cli(ip[1]), ip_to_cli(ip[2]))
    ip_state, nf_state = ip[3].splitlines(), nf[3].splitlines()
    # Same entries (or the same ls error) in the run directory ...
    assert nf_state[:-1] == ip_state[:-1]
    if args == ["add", "x"] and nf[0] == 0:
        figure("nsfs mounts on /run/netns/x after ip add", int(ip_state[-1]))
        figure("... after netns-fast add", int(nf_state[-1]))
        # ... and exactly one mount on the new name.
        assert nf_state[-1] == b"1"


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("missing", (0, b"", b"")),
        ("not a mount point", (0, b"", b"")),
        (
            "a file",
            (
                1,
                b"",
                b"Failed to open directory /run/netns: Not a directory\n",
            ),
        ),
    ],
)
def test_odd_run_dir_gc(
    scenario: str, expected: tuple[int, bytes, bytes]
) -> None:
    """gc with an odd /run/netns: nothing to do, or ip's directory error."""
    result = _isolated(SCENARIOS[scenario], [*tool_argv("nf"), "gc"])
    assert result[:3] == expected


def _optional_verbs() -> list[list[str]]:
    """Cases for verbs of other modules, when they are installed."""
    from importlib.util import find_spec

    cases = []
    if find_spec("netns_fast.cli.procs") is not None:
        cases += [["pids", "x"], ["identify"]]
    if find_spec("netns_fast.cli.nsid") is not None:
        cases += [["set", "x", "1"], ["list-id"]]
    return cases


@requires_ip
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_odd_run_dir_other_verbs(scenario: str, figure: Figure) -> None:
    """Other verbs with an odd /run/netns: ip's output or a clear error."""
    cases = _optional_verbs()
    if not cases:
        pytest.skip("no verb module beyond the foundation is installed")
    deviations = []
    for args in cases:
        setup = SCENARIOS[scenario]
        ip = _isolated(setup, [IP, "netns", *args])
        nf = _isolated(setup, [*tool_argv("nf"), *args])
        if nf[:3] == (ip[0], ip_to_cli(ip[1]), ip_to_cli(ip[2])):
            continue
        deviations.append(" ".join(args))
        assert nf[0] in (1, 2, 255), args
        assert b"Traceback" not in nf[2], args
        assert len(nf[2].splitlines()) == 1, args
    figure("cases that differ from ip", deviations)
