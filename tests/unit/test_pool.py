"""The pool without privilege: its arguments."""

from __future__ import annotations

import pytest

import netns_fast


@pytest.mark.parametrize(
    "kwargs",
    [{"size": 0}, {"threads": 0}, {"max_pending": 0}, {"prefix": "x" * 41}],
)
def test_pool_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    """Bad sizes and over-long prefixes are refused before anything runs."""
    with pytest.raises(ValueError, match="must be"):
        netns_fast.Pool(**kwargs)  # type: ignore[arg-type]
