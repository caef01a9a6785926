"""The mapping file of the hostile exports, written per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_cases import MAPPING


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    """The mapping file of the hostile exports."""
    path = tmp_path / "map.toml"
    path.write_text(MAPPING, encoding="utf-8")
    return path
