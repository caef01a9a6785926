"""Helpers that run the rules over tiny literal mapped frames."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from migrate._internal.validation import ValidationSettings, validate_frame

NOW = datetime(2026, 1, 1, tzinfo=UTC)

_LISTS = {
    "email_address",
    "phone_number",
    "web3_wallet",
    "backup_codes",
    "email_address_identification_status",
    "phone_number_identification_status",
}
_FLAGS = {"skip_password_checks", "skip_password_requirement"}


def mapped_frame(rows: Sequence[dict[str, Any]]) -> pl.LazyFrame:
    """A mapped frame (docs/internals.md) of ``rows``; ``_row`` counts from 2."""
    columns = sorted({name for row in rows for name in row})
    schema: dict[str, pl.DataType] = {"_row": pl.Int64(), "_key": pl.Utf8()}
    for name in columns:
        if name in _LISTS:
            schema[name] = pl.List(pl.Utf8)
        elif name in _FLAGS:
            schema[name] = pl.Boolean()
        elif name == "create_organizations_limit":
            schema[name] = pl.Int64()
        else:
            schema[name] = pl.Utf8()
    data = [
        {"_row": i + 2, "_key": row.get("_key", f"k{i + 2}"), **{c: row.get(c) for c in columns}}
        for i, row in enumerate(rows)
    ]
    return pl.LazyFrame(data, schema=schema)


Reasons = Callable[..., list[list[str]]]


@pytest.fixture
def reasons() -> Reasons:
    """Return a function giving each row's reason codes, in order, for literal rows."""

    def run(
        rows: Sequence[dict[str, Any]], settings: ValidationSettings | None = None
    ) -> list[list[str]]:
        out = validate_frame(mapped_frame(rows), now=NOW, settings=settings).collect()
        return [[e["reason"] for e in errors] for errors in out["_errors"].to_list()]

    return run


@pytest.fixture
def make_frame() -> Callable[[Sequence[dict[str, Any]]], pl.LazyFrame]:
    """Return ``mapped_frame``: literal rows as a mapped frame."""
    return mapped_frame
