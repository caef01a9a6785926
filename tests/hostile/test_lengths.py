"""Values Clerk would refuse for their length are caught offline, with the field and the bound."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hostile_cases import DIGEST, HEADER, TOTP, validate

from migrate._internal.validation import ValidationSettings

LIMITS = ValidationSettings()


def _export(tmp_path: Path, *rows: list[str]) -> Path:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER.split(","))
    writer.writerows(rows)
    path = tmp_path / "u.csv"
    path.write_text(text.getvalue(), encoding="utf-8")
    return path


def _reasons(tmp_path: Path) -> list[tuple[str, str, str]]:
    with (tmp_path / "u.validation" / "errors.csv").open(encoding="utf-8-sig") as handle:
        return [(r["row"], r["field"], r["code"]) for r in csv.DictReader(handle)]


def test_a_50_million_character_first_name_is_invalid_offline(
    tmp_path: Path, mapping: Path
) -> None:
    """The first_name that was sent to Clerk is now an invalid row naming first_name."""
    huge = "a" * 50_000_000
    path = _export(tmp_path, ["u1", "a@example.com", huge, DIGEST, TOTP],
                   ["u2", "b@example.com", "Bo", DIGEST, TOTP])  # fmt: skip
    result = validate(path, mapping)
    assert result.exit_code == 3, result.output[:500]
    assert _reasons(tmp_path) == [("2", "first_name", "value_too_long")]
    assert len(result.output) < 2_000


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (["u" * (LIMITS.max_name_length + 1), "a@example.com", "A", DIGEST, TOTP], "external_id"),
        (["u1", "a" * 310 + "@example.com", "A", DIGEST, TOTP], "row"),
        (["u1", "a@example.com", "A", DIGEST + "x" * LIMITS.max_value_length, TOTP], "row"),
        (["u1", "a@example.com", "A", DIGEST, "A" * (LIMITS.max_value_length + 8)], "row"),
    ],
    ids=["external_id", "email", "digest", "totp_secret"],
)
def test_each_bounded_field_over_its_bound_is_invalid(
    tmp_path: Path, mapping: Path, row: list[str], field: str
) -> None:
    """external_id, an email address, a digest and a TOTP secret over the bound: value_too_long."""
    _export(tmp_path, row)
    result = validate(tmp_path / "u.csv", mapping)
    assert result.exit_code == 3, result.output
    assert ("2", field, "value_too_long") in _reasons(tmp_path)


def test_values_at_the_bound_pass(tmp_path: Path, mapping: Path) -> None:
    """A first_name and an external_id of exactly the bound are not too long."""
    bound = LIMITS.max_name_length
    path = _export(tmp_path, ["i" * bound, "ada@example.com", "n" * bound, DIGEST, TOTP])
    result = validate(path, mapping)
    assert result.exit_code == 0, result.output
