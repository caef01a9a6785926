"""Validation messages are computed from the failure and the mapping, not from the rule alone."""

from __future__ import annotations

from pathlib import Path

from migrate._internal.mapping.load import load_mapping
from migrate._internal.prepare import prepare

MAPPING = """
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = "email"
created_at = {created}
password_digest = "hash"
password_hasher = {hasher}
"""


def messages(tmp_path: Path, created: str, hasher: str, row: list[str]) -> dict[str, str]:
    """reason -> message for the one row of a CSV prepared with the mapping, from validate's
    errors and from the plan the run stores (the two must agree)."""
    (tmp_path / "users.csv").write_text("id,email,signup,hash\n" + ",".join(row) + "\n")
    (tmp_path / "map.toml").write_text(MAPPING.format(created=created, hasher=hasher))
    spec = load_mapping(str(tmp_path / "map.toml"), {})
    prepared = prepare(tmp_path / "users.csv", spec)
    found = {e["reason"]: e["message"] for e in prepared.errors().iter_rows(named=True)}
    planned = {e["reason"]: e["message"] for e in prepared.plan()["_errors"][0]}
    assert found == planned
    return found


def test_an_impossible_date_under_the_timestamp_transform(tmp_path: Path) -> None:
    """A date the mapping's timestamp transform could not read is not told to add that
    transform; without the transform, it is."""
    row = ["u1", "a@example.com", "2021-02-30 10:00:00", ""]
    parsed = messages(
        tmp_path, '{ column = "signup", parse = "timestamp" }', '{ value = "bcrypt" }', row
    )
    assert "parse = 'timestamp'" not in parsed["invalid_timestamp"]
    assert "the mapping's timestamp transform cannot read" in parsed["invalid_timestamp"]
    raw = messages(tmp_path, '"signup"', '{ value = "bcrypt" }', row)
    assert "Add parse = 'timestamp'" in raw["invalid_timestamp"]


def test_a_truncated_digest_under_an_inferred_hasher(tmp_path: Path) -> None:
    """A truncated bcrypt digest with an inferred hasher is told to fix the digest, not to set
    one password_hasher for every row (that would mislabel the other rows' digests)."""
    row = ["u1", "a@example.com", "", "$2b$10$abcdefghijklmnop"]
    inferred = messages(tmp_path, '"signup"', "{ infer = true }", row)
    assert "Set password_hasher" not in inferred["digest_without_hasher"]
    assert "truncated or damaged" in inferred["digest_without_hasher"]
