"""Apply ``RULES`` to a mapped frame: a bit mask per row, duplicate keys, then ``_errors``.

Each rule owns one bit of a ``pl.UInt64`` mask (rule i sets ``1 << i``), so a row's verdict costs
eight bytes until someone asks for the messages. Row rules are plain expressions and stream;
duplicate rules need every earlier row, so they run over a narrow frame of ``_row`` plus hashed
keys (``key_columns()``), which is all a file of millions of rows has to hold in memory. Hashes
are 64-bit: two different values collide with odds of about n²/2⁶⁵ (1e-6 for 5 M rows), which
would report a false duplicate, never hide a real one.

Two ways in: ``validate_frame`` does everything lazily in one plan (tests, small inputs, callers
that want ``_errors``); ``row_mask``/``key_columns``/``duplicates``/``duplicate_mask``/
``errors_from_mask`` are the pieces for a caller that streams the input once and keeps only keys
and masks (``migrate._internal.prepare``).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Final

import polars as pl

from migrate._internal.validation.rules import (
    LIST_FIELDS,
    METADATA_FIELDS,
    RULES,
    STATUS_FIELDS,
    STRING_FIELDS,
    DuplicateRule,
    RowRule,
    RuleContext,
    ValidationSettings,
)
from migrate._internal.validation.shapes import derived

__all__ = [
    "ERROR_DTYPE",
    "duplicate_mask",
    "duplicates",
    "errors_from_mask",
    "key_columns",
    "row_mask",
    "validate_frame",
    "with_all_fields",
]

ERROR_DTYPE: Final = pl.List(pl.Struct({"field": pl.Utf8, "reason": pl.Utf8, "message": pl.Utf8}))
_FLAG_FIELDS: Final = ("skip_password_checks",)
_INTERNAL: Final = {"_key": pl.Utf8, "_source_error": pl.Utf8, "_value_error": pl.Boolean}
_FIELD_TYPES: Final[dict[str, pl.DataType]] = {
    **{name: pl.Utf8() for name in (*STRING_FIELDS, *METADATA_FIELDS)},
    **{name: pl.List(pl.Utf8) for name in LIST_FIELDS},
    **{f"{name}_identification_status": pl.List(pl.Utf8) for name in STATUS_FIELDS},
    **{name: pl.Boolean() for name in _FLAG_FIELDS},
    "create_organizations_limit": pl.Int64(),
    **{name: dtype() for name, dtype in _INTERNAL.items()},
}
if len(RULES) > 64:  # pragma: no cover - a guard for whoever adds the 65th rule
    raise RuntimeError("validation rules no longer fit a 64-bit mask; widen the mask")

_DUPLICATES: Final = tuple((i, r) for i, r in enumerate(RULES) if isinstance(r, DuplicateRule))
_KEY_NAMES: Final = tuple(f"_dupkey_{i}" for i, _ in _DUPLICATES)


def with_all_fields(mapped: pl.LazyFrame, *, hasher_inferred: bool = False) -> pl.LazyFrame:
    """Add every field the rules read that the mapping did not produce, as typed nulls, and the
    shared values several rules read (``shapes.derived``, columns named ``_v_…``).

    ``hasher_inferred``: the mapping infers password_hasher from the digest (``infer = true``),
    which lets the digest grammar check be skipped (see ``shapes.derived``).
    """
    present = set(mapped.collect_schema().names())
    missing = [
        pl.lit(None, dtype).alias(name)
        for name, dtype in _FIELD_TYPES.items()
        if name not in present
    ]
    frame = mapped.with_columns(missing) if missing else mapped
    first, second = derived(hasher_inferred=hasher_inferred)
    return frame.with_columns(first).with_columns(second)


def row_mask(
    now: datetime, settings: ValidationSettings, fields: Collection[str] | None = None
) -> pl.Expr:
    """``_mask`` (``pl.UInt64``): the bits of every row rule the row breaks (0 when none).

    Needs a frame that has every field (see ``with_all_fields``); ``now`` must be timezone-aware.
    With ``fields`` (the columns the mapping produced), rules that cannot fire without the
    missing ones are left out, which saves their cost.
    """
    ctx = RuleContext(now=now, settings=settings)
    bits = [
        pl.when(rule.bad(ctx)).then(pl.lit(1 << i, pl.UInt64)).otherwise(pl.lit(0, pl.UInt64))
        for i, rule in enumerate(RULES)
        if isinstance(rule, RowRule) and (fields is None or rule.applies(fields))
    ]
    if not bits:
        return pl.lit(0, pl.UInt64).alias("_mask")
    return pl.sum_horizontal(bits).cast(pl.UInt64).alias("_mask")


def key_columns(fields: Collection[str] | None = None) -> list[pl.Expr]:
    """The hashed, normalised keys the duplicate rules compare (named ``_dupkey_<bit>``).

    With ``fields``, only the keys of rules whose field is among them (the others are all null).
    """
    return [
        rule.key().alias(name)
        for (_, rule), name in zip(_DUPLICATES, _KEY_NAMES, strict=True)
        if fields is None or rule.field in fields
    ]


def key_column_names() -> tuple[str, ...]:
    """Names of every column ``key_columns`` can add."""
    return _KEY_NAMES


def duplicates(keys: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """``_row, reason, _bit, _first``: each row holding a value an earlier row already holds.

    ``keys`` has ``_row`` and some of the ``key_columns()``, in file order: the first occurrence
    is kept, later ones are reported, with ``_first`` the row that holds the value first (the
    earliest one when a row repeats several values). Rows with no duplicate are absent. Given a
    DataFrame (millions of rows), the keys are checked one at a time, so only one key's hash
    table is alive at once.
    """
    eager = isinstance(keys, pl.DataFrame)
    frame = keys.lazy()
    present = frame.collect_schema()
    parts = []
    for (index, rule), name in zip(_DUPLICATES, _KEY_NAMES, strict=True):
        if name not in present:
            continue
        column = frame.select("_row", name)
        if isinstance(present[name], pl.List):
            column = column.explode(name)
        column = column.filter(pl.col(name).is_not_null())
        later = column.filter(~pl.col(name).is_first_distinct())
        if eager:
            later = later.collect().lazy()
        # The first holders are looked for among the holders of repeated values only (few).
        first = (
            column.join(later.select(name).unique(), on=name, how="semi", maintain_order="left")
            .filter(pl.col(name).is_first_distinct())
            .rename({"_row": "_first"})
        )
        part = later.join(first, on=name, how="left").select(
            "_row",
            pl.lit(rule.reason).alias("reason"),
            pl.lit(1 << index, pl.UInt64).alias("_bit"),
            "_first",
        )
        parts.append(part.collect().lazy() if eager else part)
    if not parts:
        schema = {"_row": pl.Int64, "reason": pl.Utf8, "_bit": pl.UInt64, "_first": pl.Int64}
        return pl.LazyFrame(schema=schema)
    return (
        pl.concat(parts)
        .group_by("_row", "reason", "_bit")
        .agg(pl.col("_first").min())
        .sort("_row", "_bit")
    )


def duplicate_mask(dups: pl.LazyFrame) -> pl.LazyFrame:
    """``_row, _dup_mask``: the duplicate bits of each row in ``duplicates(keys)``."""
    return dups.group_by("_row").agg(pl.col("_bit").sum().cast(pl.UInt64).alias("_dup_mask"))


def errors_from_mask(mask: pl.Expr, settings: ValidationSettings) -> pl.Expr:
    """Decode a rule mask into ``_errors``: ``List(Struct{field, reason, message})``."""
    hits = [
        pl.when((mask & pl.lit(1 << i, pl.UInt64)) != 0).then(pl.lit(i, pl.UInt8))
        for i in range(len(RULES))
    ]
    fields = {i: r.field for i, r in enumerate(RULES)}
    reasons = {i: r.reason for i, r in enumerate(RULES)}
    messages = {i: r.render(settings) for i, r in enumerate(RULES)}
    element = pl.element()
    return (
        pl.concat_list(hits)
        .list.drop_nulls()
        .list.eval(
            pl.struct(
                element.replace_strict(fields, return_dtype=pl.Utf8).alias("field"),
                element.replace_strict(reasons, return_dtype=pl.Utf8).alias("reason"),
                element.replace_strict(messages, return_dtype=pl.Utf8).alias("message"),
            )
        )
        .cast(ERROR_DTYPE)
        .alias("_errors")
    )


def validate_frame(
    mapped: pl.LazyFrame,
    *,
    now: datetime,
    settings: ValidationSettings | None = None,
) -> pl.LazyFrame:
    """Add ``_errors`` to a mapped frame: every rule each row breaks, empty when the row is valid.

    ``mapped`` follows the mapped-frame contract (docs/internals.md); fields the mapping did not
    produce count as absent. ``now`` (timezone-aware) is the cut-off for future dates. Duplicates
    keep the first occurrence in file order and report the later ones. Pure and lazy.
    """
    settings = settings or ValidationSettings()
    original = mapped.collect_schema().names()
    keys = key_columns(original)
    base = with_all_fields(mapped).with_columns(row_mask(now, settings, original), *keys)
    dups = duplicate_mask(duplicates(base.select("_row", *(k.meta.output_name() for k in keys))))
    joined = base.join(dups, on="_row", how="left", maintain_order="left")
    mask = pl.col("_mask") | pl.col("_dup_mask").fill_null(0)
    return joined.with_columns(errors_from_mask(mask, settings)).select(*original, "_errors")
