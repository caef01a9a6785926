"""Shared helpers for the preset tests: the sample manifests and the cases they describe.

Each ``samples/<system>/expected.json`` (written by samples/generate.py) names the input files,
the preset, the environment the preset reads, every deliberately bad row with its reasons, and
the users that must be created with and without a password. A *case* is one (inputs, preset)
pair: a system's main export, or a variant (the same users in another layout, rows shifted).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from migrate._internal.prepare import Prepared, PrepareOptions, prepare

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
SYSTEMS = sorted(p.parent.name for p in SAMPLES.glob("*/expected.json"))
# After every sample's sign-up date and before its deliberately future ones (2031).
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def manifest(system: str) -> dict[str, Any]:
    """The expected.json of one sample."""
    data: dict[str, Any] = json.loads((SAMPLES / system / "expected.json").read_text("utf-8"))
    return data


def passwords(system: str) -> dict[str, str]:
    """key -> plaintext password of every sample user that has one."""
    with (SAMPLES / system / "passwords.csv").open(encoding="utf-8", newline="") as fh:
        return {row["key"]: row["password"] for row in csv.DictReader(fh)}


@dataclass(frozen=True)
class Case:
    """One sample input read with one preset; ``bad`` maps row number -> expected reasons."""

    system: str
    mapping: str
    inputs: tuple[Path, ...]
    env: dict[str, str]
    bad: dict[int, list[str]]
    total: int

    @property
    def id(self) -> str:
        return self.mapping if self.mapping == self.system else f"{self.system}:{self.mapping}"

    def joins(self, mapping_join_names: list[str]) -> dict[str, Path]:
        """The extra input files by join name, in the mapping's join order."""
        return dict(zip(mapping_join_names, self.inputs[1:], strict=True))

    def prepared(self) -> Prepared:
        """The case read, mapped and validated as the validate command would."""
        from migrate._internal.mapping.load import load_mapping  # noqa: PLC0415

        spec = load_mapping(self.mapping, self.env)
        options = PrepareOptions(
            joins=self.joins([j.name for j in spec.joins]), env=self.env, now=NOW
        )
        return prepare(self.inputs[0], spec, options)


def cases(*, variants: bool = True) -> list[Case]:
    """Every sample's main case, and its variants unless ``variants`` is False."""
    out = []
    for system in SYSTEMS:
        m = manifest(system)
        bad = {b["row"]: sorted(b["reasons"]) for b in m["bad_rows"]}
        entries = [{"inputs": m["inputs"], "mapping": m["mapping"], "row_offset": 0}]
        if variants:
            entries += m["variants"]
        for entry in entries:
            offset = entry["row_offset"]
            out.append(
                Case(
                    system,
                    entry["mapping"],
                    tuple(SAMPLES / system / name for name in entry["inputs"]),
                    m["env"],
                    {row + offset: reasons for row, reasons in bad.items()},
                    m["total_rows"],
                )
            )
    return out


def case_params(*, variants: bool = True) -> list[Any]:
    """``cases()`` as pytest params with readable ids."""
    return [pytest.param(c, id=c.id) for c in cases(variants=variants)]
