"""The code blocks of the documentation (README.md, docs/*.md), for the
tests that run them (tests/root/test_docs.py) and check their marks
(tests/unit/test_docs.py).

Every block is fenced and says what it is:

- ``python``: a program, run as written in a fresh interpreter;
- ``sh``: a shell script, run with ``sh -e``;
- ``text``: output, a listing or a synopsis: not code, never run;
- anything, after a ``<!-- docs: skip REASON -->`` line: not run, for
  the reason given (a workflow for GitHub's runners, an install);
- ``python`` after ``<!-- docs: pytest -->``: a test module, run by
  pytest with the plugin (every test must pass).

Indented code blocks are not allowed: they cannot say what they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from support.tools import CHECKOUT

DOCS = [CHECKOUT / "README.md", *sorted((CHECKOUT / "docs").glob("*.md"))]
"""The documentation files whose blocks are checked and run."""

RUNNABLE = ("python", "sh")
NOT_CODE = "text"

_MARK = re.compile(r"<!-- docs: (skip|pytest)\b ?(.*?) ?-->$")
_FENCE = re.compile(r"^```(\S*)\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s")


@dataclass
class Block:
    """One fenced code block of a documentation file."""

    path: Path
    line: int
    """The line of its opening fence (1-based)."""
    lang: str
    code: str
    mark: Optional[str]
    """None, ``"skip"`` or ``"pytest"``."""
    reason: str
    """A skip mark's reason."""

    @property
    def where(self) -> str:
        """FILE:LINE, relative to the checkout."""
        return f"{self.path.relative_to(CHECKOUT)}:{self.line}"

    @property
    def runs(self) -> bool:
        """True if the tests run it."""
        return self.mark != "skip" and self.lang in RUNNABLE


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in order."""
    lines = path.read_text().splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start = i
        i += 1
        body = []
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        prev = next(
            (lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()),
            "",
        )
        mark = _MARK.match(prev.strip())
        out.append(
            Block(
                path,
                start + 1,
                fence.group(1),
                "\n".join(body) + "\n",
                mark.group(1) if mark else None,
                mark.group(2) if mark else "",
            )
        )
        i += 1
    return out


def indented_blocks(path: Path) -> list[int]:
    """The first line (1-based) of every indented code block of ``path``:
    4 spaces after a blank line, outside fences and list items."""
    found = []
    in_fence = in_list = False
    blank = True
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if _FENCE.match(line) or line == "```":
            in_fence = not in_fence
            blank = False
            continue
        if in_fence:
            continue
        if not line.strip():
            blank = True
            continue
        if _LIST_ITEM.match(line):
            in_list = True
        elif not line.startswith(" "):
            in_list = False
        if blank and line.startswith("    ") and not in_list:
            found.append(n)
        blank = False
    return found


def all_blocks() -> list[Block]:
    """The blocks of every documentation file."""
    return [b for path in DOCS for b in blocks(path)]
