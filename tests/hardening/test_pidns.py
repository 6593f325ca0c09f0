"""Pool, handle and kill paths inside a pid namespace that keeps its
parent's /proc (``unshare -p -f`` without ``--mount-proc``).

There, getpid() and gettid() are numbers of the new pid namespace while
/proc still shows the parent's: /proc/<getpid()> is another process. Each
scenario runs in a child Python started that way and checks that every
name and path it is given opens the namespace it belongs to (by inode),
and that kill_all never kills the caller.
"""

from __future__ import annotations

import shutil

import pytest

from support.tools import needs, run_python

pytestmark = pytest.mark.root

# sh stays pid 1 of the new pid namespace ("exit" keeps it from exec'ing
# the command), so Python is an ordinary process there, not its init.
PIDNS = ["unshare", "--pid", "--fork", "sh", "-c", '"$@"; exit $?', "sh"]

_PRELUDE = """
import json, os, subprocess
import netns_fast
from netns_fast import Netns, Pool, enter
from netns_fast._handle import kill_all_in
out = {}
SELF_NET = "/proc/self/ns/net"
assert os.getpid() != int(os.readlink("/proc/self")), "not in a new pid ns"
def ino(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None  # the path names nothing: a failed check, not a crash
"""

_POOLS = (
    _PRELUDE
    + """
with Pool(2, named=True, prefix="nsft-pidns-") as pool:
    with pool.acquire() as ns:
        path = "/run/netns/" + ns.name
        out["named_name"] = ino(path) == ns.inode
        out["named_path"] = ns.path == path
        out["named_fd"] = os.fstat(ns.fileno()).st_ino == ns.inode
        if out["named_name"] and IP:
            # Only once the name is known to be ours: ip netns exec on a
            # wrong one would run in some other process's namespace.
            argv = [IP, "netns", "exec", ns.name, "readlink", SELF_NET]
            got = subprocess.run(
                argv, capture_output=True, text=True, check=True,
            ).stdout.strip()
            out["named_ip_exec"] = got == f"net:[{ns.inode}]"
with Pool(2) as pool:
    with pool.acquire() as ns:
        out["anon_pool_path"] = ino(ns.path) == ns.inode
print(json.dumps(out))
"""
)

_HANDLES = (
    _PRELUDE
    + """
me = int(os.readlink("/proc/self"))
with Netns.new() as ns:
    out["anon_path"] = ns.path == f"/proc/{me}/fd/{ns.fileno()}"
    out["anon_path_inode"] = ino(ns.path) == ns.inode
    if out["anon_path_inode"] and NSENTER:
        got = subprocess.run(
            [NSENTER, "--net=" + ns.path, "readlink", SELF_NET],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        out["anon_nsenter"] = got == f"net:[{ns.inode}]"
    try:
        with Netns.from_path(ns.path) as again:
            out["from_path"] = again.inode == ns.inode
    except OSError:
        out["from_path"] = False
pid = os.fork()
if pid == 0:
    # A forked child's paths name the child, not the parent.
    with Netns.new() as ns:
        os._exit(0 if ino(ns.path) == ns.inode else 1)
out["fork_child"] = os.waitpid(pid, 0)[1] == 0
print(json.dumps(out))
"""
)

_KILL = (
    _PRELUDE
    + """
from netns_fast._leaks import foreign_descendants
with Netns.create("nsft-pidns-kill") as ns:
    sleeper = netns_fast.spawn("nsft-pidns-kill", ["sleep", "60"])
    # The plugin's leak check finds this child by /proc's parent pids.
    seen = foreign_descendants()
    out["leak_check"] = any(p.endswith(f"[{ns.inode}]") for p in seen)
    with enter(ns):
        # This process is inside too now: kill_all must spare it.
        killed = kill_all_in(ns, timeout=10)
    out["killed_one"] = len(killed) == 1
    out["sleeper_killed"] = sleeper.wait(timeout=10) == -9
netns_fast.add("nsft-pidns-del")
sleeper = netns_fast.spawn("nsft-pidns-del", ["sleep", "60"])
with Netns.open("nsft-pidns-del") as ns, enter(ns):
    netns_fast.delete("nsft-pidns-del", kill=True)
out["delete_kill"] = sleeper.wait(timeout=10) == -9
out["survived"] = True
print(json.dumps(out))
"""
)


def _run(script: str) -> dict[str, bool]:
    ip = shutil.which("ip")
    nsenter = shutil.which("nsenter")
    head = f"IP = {ip!r}\nNSENTER = {nsenter!r}\n"
    out: dict[str, bool] = run_python(head + script, prefix=PIDNS)
    return out


@needs("unshare")
def test_pool_names_and_paths_in_a_pid_namespace() -> None:
    """A named pool's names and an anonymous pool's paths open the
    namespace handed out, inside ``unshare -p -f`` with the parent's
    /proc (today the name is bound to another process's namespace)."""
    out = _run(_POOLS)
    assert out.pop("named_ip_exec", True) is True
    assert out == dict.fromkeys(
        ["named_name", "named_path", "named_fd", "anon_pool_path"], True
    )


@needs("unshare")
def test_anonymous_handle_path_in_a_pid_namespace() -> None:
    """Netns.path of an anonymous handle is /proc/<pid as /proc sees
    it>/fd/N and opens the handle's namespace, in the parent and in a
    forked child."""
    out = _run(_HANDLES)
    assert out.pop("anon_nsenter", True) is True
    assert out == dict.fromkeys(
        [
            "anon_path",
            "anon_path_inode",
            "from_path",
            "fork_child",
        ],
        True,
    )


@needs("unshare")
def test_kill_all_spares_the_caller_in_a_pid_namespace() -> None:
    """kill_all and delete(kill=True), called from inside the namespace
    they empty, kill the other process there and never the caller, and
    the leak check sees that process, in a pid namespace."""
    out = _run(_KILL)
    checks = ["leak_check", "killed_one", "sleeper_killed", "delete_kill"]
    assert out == dict.fromkeys([*checks, "survived"], True)
