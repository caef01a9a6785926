"""docs/mapping.md stays true: every TOML example in it is a valid mapping."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from migrate._internal.mapping import parse_mapping

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


class AnyEnv(dict[str, str]):
    """An environment in which every variable is set (examples name several)."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return "8" if key.endswith(("ROUNDS", "COST")) else "c2VjcmV0"


def as_mapping(block: str) -> str:
    doc = tomllib.loads(block)
    if not re.search(r"^\[", block, flags=re.MULTILINE):
        return "[fields]\n" + block  # a fragment of [fields] lines
    if "fields" not in doc:
        return block + '\n[fields]\nexternal_id = "id"\n'
    return block


def test_the_reference_has_examples() -> None:
    """The reference shows a good number of TOML examples (one per feature)."""
    assert len(BLOCKS) >= 20


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_every_example_is_a_valid_mapping(block: str) -> None:
    """Each ```toml block of docs/mapping.md loads without a single mapping problem."""
    parse_mapping(as_mapping(block), AnyEnv(), file="docs/mapping.md")
