"""pids, identify, pids_by_netns and monitor on real namespaces, inside the
session's private /run/netns."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time

import pytest
from nsft_helpers import IP, RUN_DIR, requires_ip, unique_name
from procs_helpers import (  # the fixtures are used by name
    Spawner,
    netns_fixture,  # noqa: F401
    readdir_order,
    spawner_fixture,  # noqa: F401
)

import netns_fast
from netns_fast import _sys
from netns_fast._procs import NetnsEvent

pytestmark = pytest.mark.root


@requires_ip
def test_pids_lists_the_processes_in_proc_order(
    netns: str, spawner: Spawner
) -> None:
    """pids() gives exactly the processes inside, ascending like /proc."""
    inside = [spawner.sleeper(netns) for _ in range(3)]
    spawner.sleeper()  # one outside, not listed
    assert netns_fast.pids(netns) == sorted(inside)
    assert netns_fast.pids(netns, threads=2) == sorted(inside)
    assert netns_fast.pids_by_netns()[netns] == sorted(inside)


@requires_ip
def test_multithreaded_process_is_listed_once(
    netns: str, spawner: Spawner
) -> None:
    """A process with several threads appears once; its threads never."""
    code = (
        "import threading, time\n"
        "for _ in range(4):\n"
        "    threading.Thread(target=time.sleep, args=(600,),"
        " daemon=True).start()\n"
        "print('up', flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = spawner.start(["python3", "-c", code], netns)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"up\n"
    tids = {int(t) for t in os.listdir(f"/proc/{proc.pid}/task")}
    assert len(tids) == 5
    assert netns_fast.pids(netns) == [proc.pid]


@requires_ip
def test_identify_returns_every_name(
    netns: str, spawner: Spawner, name_factory: list[str]
) -> None:
    """Two names on one namespace: identify() returns both, in directory
    order; a process outside every named namespace gives []."""
    pid = spawner.sleeper(netns)
    alias = unique_name()
    name_factory.append(alias)
    netns_fast.attach(alias, pid)
    assert netns_fast.identify(pid) == readdir_order([netns, alias])
    assert netns_fast.identify() == []
    assert netns_fast.identify(os.getpid()) == []
    by_name = netns_fast.pids_by_netns()
    assert by_name[netns] == by_name[alias] == [pid]


@requires_ip
def test_identify_after_the_name_is_deleted(
    netns: str, spawner: Spawner
) -> None:
    """A namespace whose name was deleted is unnamed: identify gives []."""
    pid = spawner.sleeper(netns)
    netns_fast.delete(netns)
    assert netns_fast.identify(pid) == []


def test_stale_name_matches_nothing(name_factory: list[str]) -> None:
    """A stale file (no namespace behind it) has no processes."""
    name = unique_name()
    name_factory.append(name)
    with open(f"{RUN_DIR}/{name}", "w"):
        pass
    assert netns_fast.pids(name) == []
    assert netns_fast.pids_by_netns()[name] == []


@requires_ip
def test_monitor_sees_another_process_within_100ms(
    name_factory: list[str],
) -> None:
    """add and delete done by ip (another process) are reported within
    100 ms of it returning."""
    name = unique_name()
    name_factory.append(name)
    with netns_fast.monitor() as mon:
        subprocess.run([IP, "netns", "add", name], check=True)
        assert mon.read(0.1) == NetnsEvent("add", name)
        subprocess.run([IP, "netns", "del", name], check=True)
        assert mon.read(0.1) == NetnsEvent("delete", name)


@requires_ip
def test_monitor_ready_reports_an_enterable_namespace(
    name_factory: list[str],
) -> None:
    """ready=True: the add of `ip netns add` comes once the name is a
    network namespace that can be entered."""
    name = unique_name()
    name_factory.append(name)
    with netns_fast.monitor(ready=True) as mon:
        subprocess.run([IP, "netns", "add", name], check=True)
        assert mon.read(2) == NetnsEvent("add", name)
        assert _sys.netns_ready(RUN_DIR.encode(), name.encode()) is True
        netns_fast.delete(name)
        assert mon.read(2) == NetnsEvent("delete", name)


def test_monitor_ready_waits_for_the_bind_mount(
    name_factory: list[str],
) -> None:
    """The file appears first and is bind-mounted later: with ready=True
    the add is reported only after the mount; without, at once."""
    name = unique_name()
    name_factory.append(name)
    path = f"{RUN_DIR}/{name}"
    mounted = threading.Event()

    def bind_later() -> None:
        time.sleep(0.15)
        subprocess.run(
            ["mount", "--bind", "/proc/self/ns/net", path], check=True
        )
        mounted.set()

    with (
        netns_fast.monitor(ready=True, ready_timeout=5) as ready_mon,
        netns_fast.monitor() as plain_mon,
    ):
        with open(path, "w"):
            pass
        binder = threading.Thread(target=bind_later)
        binder.start()
        try:
            assert plain_mon.read(2) == NetnsEvent("add", name)
            assert not mounted.is_set()
            assert ready_mon.read(5) == NetnsEvent("add", name)
            assert mounted.is_set()
        finally:
            binder.join()
    netns_fast.delete(name)


@requires_ip
def test_async_monitor_with_real_namespaces(name_factory: list[str]) -> None:
    """The async iterator reports adds and deletes made by ip."""
    name = unique_name()
    name_factory.append(name)

    async def main() -> list[NetnsEvent]:
        got: list[NetnsEvent] = []
        async with netns_fast.monitor_async(ready=True) as mon:
            proc = await asyncio.create_subprocess_exec(
                IP, "netns", "add", name
            )
            await proc.wait()
            got.append(await asyncio.wait_for(mon.__anext__(), 5))
            netns_fast.delete(name)
            got.append(await asyncio.wait_for(mon.__anext__(), 5))
        return got

    assert asyncio.run(main()) == [
        NetnsEvent("add", name),
        NetnsEvent("delete", name),
    ]
