"""Asyncio: processes started in a namespace, the loop never moves."""

from __future__ import annotations

import asyncio
import os
import sys

import netns_fast


def test_async_children_run_in_the_namespace(netns: netns_fast.Netns) -> None:
    """Children started with the async spawn see the namespace's inode."""
    code = "import os; print(os.stat('/proc/thread-self/ns/net').st_ino)"

    async def main() -> list[bytes]:
        procs = [
            await netns_fast.create_subprocess_exec(
                netns,
                sys.executable,
                "-c",
                code,
                stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(4)
        ]
        outs = [(await p.communicate())[0] for p in procs]
        assert [p.returncode for p in procs] == [0] * 4
        return outs

    home = os.stat("/proc/thread-self/ns/net").st_ino
    outs = asyncio.run(main())
    assert {int(o) for o in outs} == {netns.inode}
    assert os.stat("/proc/thread-self/ns/net").st_ino == home
