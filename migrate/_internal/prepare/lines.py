"""Verdicts in words: a plan batch's ``_errors`` and the lines of ``validate``'s reports.

A row's rule mask is decoded once per distinct mask value (a handful per batch), then gathered
per row; a duplicate's message ends with the row that holds the value first; messages that
depend on the mapping (``mapping_messages``) replace the rules' own. Pure: frames in, frames
out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl

from migrate._internal.mapping.accounts import SKIP_COLUMN, USERNAME_WARNING, WARNING_COLUMN
from migrate._internal.mapping.spec import InferSource, MappingSpec
from migrate._internal.sources import ROW_COLUMN
from migrate._internal.validation import ERROR_DTYPE, ValidationSettings, errors_from_mask

__all__ = [
    "PLAN_COLUMNS",
    "error_lines",
    "mapping_messages",
    "plan_batch",
    "plan_schema",
    "skipped_lines",
    "warning_lines",
    "with_messages",
]

PLAN_COLUMNS: Final = ("_row", "_key", "external_id", "email", "_errors", SKIP_COLUMN)
_WARNING_FIELDS: Final = {USERNAME_WARNING: "username"}
_WARNING_MESSAGES: Final = {
    USERNAME_WARNING: "Clerk refuses this username (4-64 characters of letters, digits, _ "
    "and -, not all digits): the user is created without one and the value is kept in "
    "private_metadata.legacy_username.",
}


def plan_schema() -> dict[str, pl.DataType]:
    """The columns of a plan batch (``PLAN_COLUMNS``) and their types."""
    return {
        ROW_COLUMN: pl.Int64(),
        "_key": pl.Utf8(),
        "external_id": pl.Utf8(),
        "email": pl.Utf8(),
        "_errors": ERROR_DTYPE,
        SKIP_COLUMN: pl.Utf8(),
    }


def plan_batch(
    batch: pl.DataFrame,
    firsts: pl.DataFrame,
    settings: ValidationSettings,
    messages: Mapping[tuple[str, str], str],
) -> pl.DataFrame:
    """``batch`` (verdicts of consecutive rows, duplicate bits included) as plan rows: its
    ``_mask`` decoded to ``_errors`` (``firsts``: ``_row, reason, _first`` of duplicates)."""
    table = _decode_table(batch["_mask"], settings, messages)
    # Each row's errors are gathered from the table of distinct masks (a handful), so no
    # per-row decoding and no copy of the other columns.
    index = batch["_mask"].replace_strict(
        table["_mask"], pl.Series(range(table.height), dtype=pl.UInt32)
    )
    errors = table["_errors"].gather(index)
    if firsts.height:
        mine = firsts.filter(pl.col(ROW_COLUMN).is_in(batch[ROW_COLUMN].implode()))
        if mine.height:
            errors = _with_firsts(batch[ROW_COLUMN], errors, mine)
    return batch.with_columns(errors).select(PLAN_COLUMNS)


def error_lines(
    invalid: pl.DataFrame,
    firsts: pl.DataFrame,
    settings: ValidationSettings,
    messages: Mapping[tuple[str, str], str],
) -> pl.DataFrame:
    """One line per (row, reason) of ``invalid`` (``_row, _key, email, _mask``): ``row, key,
    email, field, reason, message``, a duplicate's message ending with the row that holds the
    value first (``firsts``: ``_row, reason, _first``)."""
    table = _decode_table(invalid["_mask"], settings, messages)
    lines = (
        invalid.join(table, on="_mask", how="left", maintain_order="left")
        .select(pl.col(ROW_COLUMN).alias("row"), pl.col("_key").alias("key"), "email", "_errors")
        .explode("_errors")
        .unnest("_errors")
    )
    first = firsts.rename({ROW_COLUMN: "row"})
    return (
        lines.join(first, on=["row", "reason"], how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("_first").is_not_null())
            .then(pl.format("{} Row {} has it first.", "message", "_first"))
            .otherwise("message")
            .alias("message")
        )
        .drop("_first")
    )


def warning_lines(notable: pl.DataFrame) -> pl.DataFrame:
    """One line per warned row of ``notable`` (verdicts) that is created anyway (valid, not
    skipped): ``row, key, email, field, reason, message``."""
    found = notable.filter(
        pl.col(WARNING_COLUMN).is_not_null()
        & (pl.col("_mask") == 0)
        & pl.col(SKIP_COLUMN).is_null()
    )
    reason = pl.col(WARNING_COLUMN)
    return found.select(
        pl.col(ROW_COLUMN).alias("row"),
        pl.col("_key").alias("key"),
        "email",
        reason.replace_strict(_WARNING_FIELDS, return_dtype=pl.Utf8).alias("field"),
        reason.alias("reason"),
        reason.replace_strict(_WARNING_MESSAGES, return_dtype=pl.Utf8).alias("message"),
    )


def skipped_lines(notable: pl.DataFrame) -> pl.DataFrame:
    """One line per row of ``notable`` (verdicts) skipped by its status: ``row, key, reason``."""
    return notable.filter(pl.col(SKIP_COLUMN).is_not_null()).select(
        pl.col(ROW_COLUMN).alias("row"),
        pl.col("_key").alias("key"),
        pl.col(SKIP_COLUMN).alias("reason"),
    )


def _with_firsts(rows: pl.Series, errors: pl.Series, firsts: pl.DataFrame) -> pl.Series:
    """``errors`` (one list per row of ``rows``) with each duplicate's message ending in the
    row that holds the value first, as ``error_lines`` says it (``firsts``: ``_row, reason,
    _first`` of the few duplicates among ``rows``)."""
    first_of = {(r, reason): f for r, reason, f in firsts.iter_rows()}
    # plain Python over the batch: only batches holding a duplicate come here (few)
    values = errors.to_list()
    for i, row in enumerate(rows.to_list()):
        for e in values[i]:
            first = first_of.get((row, e["reason"]))
            if first is not None:
                e["message"] = f"{e['message']} Row {first} has it first."
    return pl.Series(errors.name, values, dtype=ERROR_DTYPE)


def _decode_table(
    masks: pl.Series, settings: ValidationSettings, messages: Mapping[tuple[str, str], str]
) -> pl.DataFrame:
    """``_mask, _errors`` for each distinct mask value (rows with the same mask share errors),
    with ``messages`` (by reason and field) replacing the rules' own."""
    distinct = masks.unique().to_frame("_mask")
    table = distinct.with_columns(errors_from_mask(pl.col("_mask"), settings))
    return with_messages(table, messages)


def with_messages(frame: pl.DataFrame, messages: Mapping[tuple[str, str], str]) -> pl.DataFrame:
    """``frame`` with the messages of its ``_errors`` replaced by ``messages`` (by reason and
    field, from ``mapping_messages``) where one applies."""
    if not messages or not frame.height:
        return frame
    # used on a handful of distinct masks: plain Python is cheaper than an expression here
    errors = [
        [e | {"message": messages.get((e["reason"], e["field"]), e["message"])} for e in row]
        for row in frame["_errors"].to_list()
    ]
    return frame.with_columns(pl.Series("_errors", errors, dtype=ERROR_DTYPE))


def mapping_messages(spec: MappingSpec) -> dict[tuple[str, str], str]:
    """Messages that depend on the mapping, by (reason, field): advice the rule gives in
    general but that this mapping already follows, or that would hurt here."""
    found: dict[tuple[str, str], str] = {}
    for column in ("created_at", "legal_accepted_at"):
        field = spec.field_spec(column)
        if field is not None and any(t.name == "timestamp" for t in field.transforms):
            found["invalid_timestamp", column] = (
                f"{column} is a value the mapping's timestamp transform cannot read (an "
                "impossible date such as 2021-02-30, or a shape it does not know). Correct the "
                "value in the input, or give the transform a format."
            )
    hasher = spec.field_spec("password_hasher")
    if hasher is not None and isinstance(hasher.source, InferSource):
        found["digest_without_hasher", "password_hasher"] = (
            "password_digest has the shape of no hasher, so its hasher cannot be inferred (a "
            "truncated or damaged digest?). Correct the digest in the input; one "
            "password_hasher for every row would mislabel the other rows' digests."
        )
    return found
