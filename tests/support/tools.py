"""The tools the tests run: ``ip``, ``netns-fast``, ``nsenter``, a Python
child; their environment; ip's self-references worded as netns-fast's.

nsids belong to the namespace that assigns them, so the nsid tests run ip
and netns-fast from a private "caller" namespace made for the test
(``caller=NAME``: under ``nsenter --net=RUN_DIR/NAME``; the mount
namespace, with the session's private /run/netns, is unchanged).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Optional, Union

import pytest

import netns_fast
from support.kernel import RUN_DIR
from support.private import cli_usage

Arg = Union[str, bytes]
Completed = subprocess.CompletedProcess[bytes]
"""A finished process run, its output captured as bytes."""

CHECKOUT = Path(__file__).resolve().parents[2]
"""The checkout: tests/, csrc/, pyproject.toml (the package itself may be
installed elsewhere, see package_parent)."""

IP = shutil.which("ip") or "/usr/sbin/ip"
HAVE_IP = os.path.exists(IP)
NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"

requires_ip = pytest.mark.skipif(
    not HAVE_IP,
    reason="iproute2's ip is not installed (apt-get install iproute2)",
)

Figure = Callable[[str, object], None]
"""The hardening ``figure`` fixture: record(key, value), printed at the
end of the run."""


def needs(tool: str) -> pytest.MarkDecorator:
    """Skip unless ``tool`` (from util-linux) is on PATH."""
    return pytest.mark.skipif(
        shutil.which(tool) is None, reason=f"{tool} (util-linux) is missing"
    )


def package_parent() -> str:
    """The directory the imported netns_fast lives in (for PYTHONPATH)."""
    return os.path.dirname(os.path.dirname(netns_fast.__file__))


def env(*, keep_locale: bool = False, **extra: str) -> dict[str, str]:
    """The environment of a child: LC_ALL=C (ip's and netns-fast's messages
    in English; unless keep_locale) and the netns_fast this process
    imported first on PYTHONPATH (so a child imports the same one), then
    ``extra``."""
    out = dict(os.environ)
    if not keep_locale:
        out["LC_ALL"] = "C"
    out["PYTHONPATH"] = (
        package_parent() + os.pathsep + out.get("PYTHONPATH", "")
    )
    out.update(extra)
    return out


def cli_argv() -> list[str]:
    """How to start netns-fast: this interpreter, that netns_fast."""
    return [sys.executable, "-m", "netns_fast"]


def tool_argv(tool: str) -> list[str]:
    """How to start ``ip netns`` ("ip") or netns-fast ("nf")."""
    return [IP, "netns"] if tool == "ip" else cli_argv()


def _plugin_autoloaded() -> bool:
    eps = importlib.metadata.entry_points()
    # Python 3.9's entry_points() takes no group= and returns a dict.
    group = (
        eps.select(group="pytest11")
        if hasattr(eps, "select")
        else eps.get("pytest11", [])
    )
    return any(ep.value == "netns_fast.pytest_plugin" for ep in group)


# -p only when the entry point is not installed (it would load it twice).
PLUGIN_ARGS = [
    *([] if _plugin_autoloaded() else ["-p", "netns_fast.pytest_plugin"]),
    *("-p", "no:cacheprovider", "-p", "no:randomly", "-rs"),
]
"""The arguments of an inner pytest run (pytester) that uses the plugin."""


def run(
    argv: Sequence[Arg],
    stdin: Optional[bytes] = None,
    *,
    caller: Optional[str] = None,
    prefix: Sequence[Arg] = (),
    child_env: Optional[dict[str, str]] = None,
    timeout: float = 60,
) -> Completed:
    """PREFIX ARGV (from inside the caller netns if given, then from /),
    capturing bytes, with env() unless child_env is given."""
    enter: list[Arg] = []
    if caller is not None:
        enter = [NSENTER, f"--net={RUN_DIR}/{caller}", "--"]
    return subprocess.run(
        [*enter, *prefix, *argv],
        input=stdin,
        capture_output=True,
        env=env() if child_env is None else child_env,
        check=False,
        timeout=timeout,
        cwd=None if caller is None else "/",
    )


def run_ip(
    args: Sequence[Arg],
    stdin: Optional[bytes] = None,
    *,
    caller: Optional[str] = None,
) -> Completed:
    """``ip ARGS`` (pass "netns" yourself), capturing bytes."""
    return run([IP, *args], stdin, caller=caller)


def run_cli(
    args: Sequence[Arg],
    stdin: Optional[bytes] = None,
    *,
    caller: Optional[str] = None,
) -> Completed:
    """``netns-fast ARGS``, capturing bytes."""
    return run([*cli_argv(), *args], stdin, caller=caller)


def ok(res: Completed) -> Completed:
    """Assert a set-up command worked."""
    assert res.returncode == 0, (res.args, res.stdout, res.stderr)
    return res


def netns_args(args: Sequence[Arg]) -> tuple[list[Arg], list[Arg]]:
    """ip's argv and netns-fast's for the same ``[OPTIONS] netns ...``."""
    ip_args = list(args)
    cli_args = [a for a in args if a not in ("netns", b"netns")]
    return ip_args, cli_args


def unshare_mount(script: str) -> list[str]:
    """The argv prefix that runs sh ``script`` ("$@": the command) in a
    mount namespace of its own, with / made rslave."""
    return [
        "unshare",
        "-m",
        "--propagation",
        "slave",
        "sh",
        "-c",
        script,
        "sh",
    ]


PRIVATE_RUN_DIR = unshare_mount(
    f'mount -t tmpfs -o mode=755 tmpfs {RUN_DIR} && exec "$@"'
)
"""The argv prefix of a command that has a mount namespace and a run
directory (a fresh tmpfs) to itself."""


def ip_to_cli(data: bytes) -> bytes:
    """ip's self-references as netns-fast words them, and its netns usage
    followed by netns-fast's extensions (the only text netns-fast adds)."""
    return (
        data.replace(b"ip [-all] netns ", b"netns-fast [-all] ")
        .replace(b"ip netns help", b"netns-fast help")
        .replace(b"ip netns ", b"netns-fast ")
        .replace(b'try "ip -help"', b'try "netns-fast -help"')
        .replace(_USAGE_END, _USAGE_END + cli_usage.extensions())
    )


_USAGE_END = b"NETNSID := auto | POSITIVE-INT\n"
"""The last line of ip's netns usage."""


def run_python(
    code: str, prefix: Sequence[str] = (), timeout: float = 120, **extra: str
) -> Any:
    """Run ``code`` in a new Python (after ``prefix``, e.g. unshare ...).

    The code prints one JSON document as its last stdout line; that is
    returned. A non-zero exit fails with the child's stderr; a child that
    runs past ``timeout`` seconds is killed and fails the test as a hang.
    """
    try:
        proc: Optional[Completed] = run(
            [*prefix, sys.executable, "-c", code],
            child_env=env(**extra),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        proc = None
    if proc is None:
        pytest.fail(f"the child hung: killed after {timeout} s")
    if proc.returncode != 0:
        raise AssertionError(
            f"child failed ({proc.returncode}):\n"
            + proc.stderr.decode(errors="replace")
        )
    return json.loads(proc.stdout.decode().splitlines()[-1])
