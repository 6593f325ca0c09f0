"""The resource protocol of handles, pools and monitors: closed by
``with`` and, with a ResourceWarning, by the garbage collector."""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Optional, TypeVar

if TYPE_CHECKING:
    from types import TracebackType

R = TypeVar("R", bound="Resource")


class Resource:
    """Closed by ``with`` and, with a ResourceWarning, by the collector.

    A subclass defines :meth:`close` (idempotent) and ``_is_open``.
    """

    __slots__ = ()

    def close(self) -> None:
        """Release the resource; idempotent."""
        raise NotImplementedError

    def _is_open(self) -> bool:
        raise NotImplementedError

    def __enter__(self: R) -> R:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            still_open = self._is_open()
        except AttributeError:  # __init__ did not finish
            return
        if still_open:
            warnings.warn(
                f"unclosed {self!r}",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )
            with contextlib.suppress(OSError):
                self.close()
