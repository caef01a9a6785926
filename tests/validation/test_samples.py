"""Every sample export validates to exactly the bad rows and reasons its expected.json lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from migrate._internal.mapping import load_mapping
from migrate._internal.prepare import PrepareOptions, prepare

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _cases() -> list[Any]:
    cases = []
    for expected in sorted(SAMPLES.glob("*/expected.json")):
        spec = json.loads(expected.read_text(encoding="utf-8"))
        main = {"inputs": spec["inputs"], "mapping": spec["mapping"], "row_offset": 0}
        for variant in [main, *spec.get("variants", [])]:
            case_id = f"{expected.parent.name}-{variant['mapping']}"
            cases.append(pytest.param(expected.parent, spec, variant, id=case_id))
    return cases


@pytest.mark.parametrize(("folder", "spec", "variant"), _cases())
def test_sample_bad_rows(folder: Path, spec: dict[str, Any], variant: dict[str, Any]) -> None:
    """The rows reported invalid, with their reasons, are exactly the deliberate bad rows."""
    inputs = [folder / name for name in variant["inputs"]]
    mapping = load_mapping(variant["mapping"], spec["env"])
    joins = {join.name: path for join, path in zip(mapping.joins, inputs[1:], strict=False)}
    options = PrepareOptions(env=spec["env"], joins=joins, now=NOW)
    plan = prepare(inputs[0], mapping, options).plan()
    got = {
        row: sorted(e["reason"] for e in errors)
        for row, errors in plan.select("_row", "_errors").iter_rows()
        if errors
    }
    offset = variant.get("row_offset", 0)
    want = {bad["row"] + offset: sorted(bad["reasons"]) for bad in spec["bad_rows"]}
    assert got == want
    assert plan.height == spec["total_rows"]
