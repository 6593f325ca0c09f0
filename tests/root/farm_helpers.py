"""Helpers shared by the farm's root tests."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_threads(target: Callable[[int], None], count: int) -> None:
    """Start target(0..count-1) on count threads at once; join them all."""
    threads = [
        threading.Thread(target=target, args=(k,)) for k in range(count)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
