"""The documentation's code blocks say what they are (tests/support/docs
has the rules): no unmarked or indented block, a reason for every skip,
and every block that runs at least parses."""

from __future__ import annotations

import subprocess

import pytest

from support.docs import DOCS, NOT_CODE, RUNNABLE, Block, all_blocks
from support.docs import indented_blocks as find_indented

BLOCKS = all_blocks()


def _id(block: Block) -> str:
    return block.where


def test_the_docs_have_blocks() -> None:
    """README.md and docs/cookbook.md are read, and have runnable blocks."""
    runs = {p.name: 0 for p in DOCS}
    for block in BLOCKS:
        runs[block.path.name] += block.runs
    assert runs["README.md"] >= 10
    assert runs["cookbook.md"] >= 4


@pytest.mark.parametrize("block", BLOCKS, ids=_id)
def test_every_block_says_what_it_is(block: Block) -> None:
    """A block is python, sh or text, or carries a skip mark with its
    reason; a pytest mark is on a python block."""
    if block.mark == "skip":
        assert block.reason, f"{block.where}: a skip needs its reason"
        return
    assert block.lang in (*RUNNABLE, NOT_CODE), (
        f"{block.where}: ```{block.lang} is neither python, sh nor text; "
        "mark it <!-- docs: skip REASON -->"
    )
    if block.mark == "pytest":
        assert block.lang == "python", block.where


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_no_indented_code_blocks(path: object) -> None:
    """No indented code block: it could not say what it is."""
    assert find_indented(path) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.runs and b.lang == "python"], ids=_id
)
def test_python_blocks_compile(block: Block) -> None:
    """Every python block that runs compiles as a module (no top-level
    await or async with)."""
    compile(block.code, block.where, "exec")


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.runs and b.lang == "sh"], ids=_id
)
def test_sh_blocks_parse(block: Block) -> None:
    """Every sh block that runs parses (sh -n)."""
    proc = subprocess.run(
        ["sh", "-n"],
        input=block.code.encode(),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
